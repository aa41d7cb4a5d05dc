//! The switch, the status header and the endpoint.

use provisioning::Status;
use tauri::State;

use crate::error::CmdResult;
use crate::state::{AppState, ServerInfo};

#[tauri::command]
pub async fn get_status(s: State<'_, AppState>) -> CmdResult<Status> {
    Ok(s.p.status().await?)
}

/// Turns provisioning on or off, and answers with the new status.
#[tauri::command]
pub async fn set_provisioning_enabled(s: State<'_, AppState>, on: bool) -> CmdResult<Status> {
    s.p.set_provisioning_enabled(on).await?;
    Ok(s.p.status().await?)
}

#[tauri::command]
pub async fn get_server_info(s: State<'_, AppState>) -> CmdResult<ServerInfo> {
    Ok(s.server_info().await?)
}

#[tauri::command]
pub async fn set_public_url(s: State<'_, AppState>, url: Option<String>) -> CmdResult<ServerInfo> {
    s.p.set_public_url(url).await?;
    Ok(s.server_info().await?)
}
