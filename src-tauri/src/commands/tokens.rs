//! Bearer tokens: created (shown once), listed, rotated with a grace period, revoked.

use chrono::{DateTime, Utc};
use provisioning::{NewToken, TokenInfo};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn list_tokens(s: State<'_, AppState>) -> CmdResult<Vec<TokenInfo>> {
    Ok(s.p.list_tokens().await?)
}

#[tauri::command]
pub async fn create_token(
    s: State<'_, AppState>,
    label: String,
    expires: Option<DateTime<Utc>>,
) -> CmdResult<NewToken> {
    Ok(s.p.create_token(&label, expires).await?)
}

#[tauri::command]
pub async fn rotate_token(
    s: State<'_, AppState>,
    id: String,
    grace_secs: i64,
    label: Option<String>,
) -> CmdResult<NewToken> {
    Ok(s.p.rotate_token(&id, grace_secs, label).await?)
}

#[tauri::command]
pub async fn revoke_token(s: State<'_, AppState>, id: String) -> CmdResult<TokenInfo> {
    Ok(s.p.revoke_token(&id).await?)
}
