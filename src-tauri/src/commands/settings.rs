//! The app's settings in tauri-plugin-store.

use tauri::{AppHandle, State};

use crate::error::CmdResult;
use crate::settings::{self, Settings};
use crate::state::AppState;

#[tauri::command]
pub fn get_settings(app: AppHandle, s: State<'_, AppState>) -> CmdResult<Settings> {
    settings::load(&app, &s.settings_file)
}

#[tauri::command]
pub async fn save_settings(app: AppHandle, s: State<'_, AppState>, settings: Settings) -> CmdResult<Settings> {
    settings.validate()?;
    settings::save(&app, &s.settings_file, &settings)?;
    settings::apply_retention(&s.p, &settings).await?;
    Ok(settings)
}
