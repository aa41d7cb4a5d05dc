//! Copying through tauri-plugin-clipboard-manager. A secret (a bearer token) is wiped after
//! 60 s, but only if the clipboard still holds it: the admin may have copied something else.

use std::time::Duration;

use tauri::AppHandle;
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::error::CmdResult;

pub const SECRET_TTL: Duration = Duration::from_secs(60);

#[tauri::command]
pub fn copy_text(app: AppHandle, text: String, secret: bool) -> CmdResult<()> {
    app.clipboard().write_text(text.as_str())?;
    if secret {
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(SECRET_TTL).await;
            if app.clipboard().read_text().is_ok_and(|now| now == text) {
                let _ = app.clipboard().clear();
            }
        });
    }
    Ok(())
}
