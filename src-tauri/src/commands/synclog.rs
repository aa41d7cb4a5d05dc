//! Reading the sync log. New events reach the window as `sync-event` (see `live.rs`).

use provisioning::{EventPage, EventQuery};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn query_events(s: State<'_, AppState>, query: EventQuery) -> CmdResult<EventPage> {
    Ok(s.p.query_events(&query).await?)
}
