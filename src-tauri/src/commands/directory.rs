//! The directory: users and groups with their access, read-only (the IdP is the source of
//! truth), plus the two things an admin may change here: the access rule and an emergency
//! suspension.

use provisioning::{
    Access, AccessRule, DirectoryGroup, DirectoryPage, DirectoryQuery, DirectoryUser, GroupDetail, UserDetail,
};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn directory_users(s: State<'_, AppState>, query: DirectoryQuery) -> CmdResult<DirectoryPage<DirectoryUser>> {
    Ok(s.p.directory_users(&query).await?)
}

#[tauri::command]
pub async fn directory_groups(
    s: State<'_, AppState>,
    query: DirectoryQuery,
) -> CmdResult<DirectoryPage<DirectoryGroup>> {
    Ok(s.p.directory_groups(&query).await?)
}

#[tauri::command]
pub async fn user_detail(s: State<'_, AppState>, id: String) -> CmdResult<Option<UserDetail>> {
    let base = s.server_info().await?;
    let base_url = base.public_url.or(base.local_url).unwrap_or_default();
    Ok(s.p.user_detail(&base_url, &id).await?)
}

#[tauri::command]
pub async fn group_detail(
    s: State<'_, AppState>,
    id: String,
    offset: i64,
    limit: i64,
) -> CmdResult<Option<GroupDetail>> {
    Ok(s.p.group_detail(&id, offset, limit).await?)
}

#[tauri::command]
pub async fn get_access_rule(s: State<'_, AppState>) -> CmdResult<AccessRule> {
    Ok(s.p.access_rule().await?)
}

/// How many users the rule would change, without applying it.
#[tauri::command]
pub async fn preview_access_rule(s: State<'_, AppState>, rule: AccessRule) -> CmdResult<usize> {
    Ok(s.p.preview_access_rule(&rule).await?)
}

/// Applies the rule; answers how many users' access changed.
#[tauri::command]
pub async fn set_access_rule(s: State<'_, AppState>, rule: AccessRule) -> CmdResult<usize> {
    Ok(s.p.set_access_rule(&rule).await?)
}

#[tauri::command]
pub async fn set_admin_suspension(
    s: State<'_, AppState>,
    user_id: String,
    suspend: bool,
    reason: String,
) -> CmdResult<Access> {
    Ok(s.p.set_admin_suspension(&user_id, suspend, &reason).await?)
}
