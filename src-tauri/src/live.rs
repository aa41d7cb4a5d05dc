//! Pushes each new sync-log event to the window as the Tauri event `sync-event`, straight from
//! the engine's broadcast: the UI never polls the database for the live tail.

use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast::error::RecvError;

pub const SYNC_EVENT: &str = "sync-event";
/// Sent when the window fell behind and missed events: the UI reloads the page it shows.
pub const SYNC_LAGGED: &str = "sync-lagged";

pub fn forward(app: AppHandle, p: &provisioning::Provisioning) {
    let mut rx = p.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    let _ = app.emit(SYNC_EVENT, &event);
                }
                Err(RecvError::Lagged(missed)) => {
                    let _ = app.emit(SYNC_LAGGED, missed);
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}
