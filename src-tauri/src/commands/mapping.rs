//! The attribute mapping with live examples.

use provisioning::MappingRow;
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn get_mapping(s: State<'_, AppState>) -> CmdResult<Vec<MappingRow>> {
    Ok(s.p.mapping().await?)
}
