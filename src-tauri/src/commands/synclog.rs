//! Reading the sync log: pages, the activity chart, export, and the remembered filter. New
//! events reach the window as `sync-event` (see `live.rs`).
//!
//! `TALKWRITER_EXPORT_DIR` makes export write into that directory without the save dialog, for
//! the WebDriver tests: a native GTK dialog cannot be driven through WebDriver.

use std::path::PathBuf;

use provisioning::{ActivityBucket, EventPage, EventQuery, ExportFormat};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_store::StoreExt;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

/// The key of the last sync-log filter in the settings store; the UI owns its shape.
const FILTER_KEY: &str = "syncLogFilter";

#[tauri::command]
pub async fn query_events(s: State<'_, AppState>, query: EventQuery) -> CmdResult<EventPage> {
    Ok(s.p.query_events(&query).await?)
}

/// Requests per `bucket` ("minute", "hour" or "day") among the events `query` selects: the
/// chart follows the list's time range and filters.
#[tauri::command]
pub async fn event_activity(
    s: State<'_, AppState>,
    query: EventQuery,
    bucket: String,
) -> CmdResult<Vec<ActivityBucket>> {
    Ok(s.p.activity(&query, &bucket).await?)
}

/// When the oldest request among the events `query` selects was made: where an "All time"
/// chart starts.
#[tauri::command]
pub async fn event_first_request(s: State<'_, AppState>, query: EventQuery) -> CmdResult<Option<String>> {
    Ok(s.p.first_request_time(&query).await?)
}

/// Exports the events `query` selects after the admin picks a file; answers the path written,
/// or `None` if the dialog was cancelled.
#[tauri::command]
pub async fn export_events(
    app: AppHandle,
    s: State<'_, AppState>,
    query: EventQuery,
    format: ExportFormat,
) -> CmdResult<Option<String>> {
    let ext = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Json => "json",
    };
    let name = format!("talkwriter-sync-log-{}.{ext}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    let Some(path) = pick_file(&app, &name, ext).await? else { return Ok(None) };
    let body = s.p.export_events(&query, format).await?;
    std::fs::write(&path, body)
        .map_err(|e| CommandError::new("io", format!("could not write {}: {e}", path.display())))?;
    Ok(Some(path.display().to_string()))
}

async fn pick_file(app: &AppHandle, name: &str, ext: &str) -> CmdResult<Option<PathBuf>> {
    if let Some(dir) = std::env::var_os("TALKWRITER_EXPORT_DIR") {
        return Ok(Some(PathBuf::from(dir).join(name)));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_file_name(name).add_filter(ext.to_uppercase(), &[ext]).save_file(move |p| {
        let _ = tx.send(p);
    });
    let picked = rx.await.ok().flatten();
    picked.map(|p| p.into_path().map_err(|e| CommandError::new("io", e))).transpose()
}

/// The sync-log filter the admin used last, as the UI saved it (`null` the first time).
#[tauri::command]
pub fn get_log_filter(app: AppHandle, s: State<'_, AppState>) -> CmdResult<serde_json::Value> {
    Ok(app.store(&s.settings_file.0)?.get(FILTER_KEY).unwrap_or_default())
}

/// Saves the filter the admin just set. Synchronous: the main thread runs the saves in the
/// order they were sent, so the last filter set is the one kept.
#[tauri::command]
pub fn save_log_filter(app: AppHandle, s: State<'_, AppState>, filter: serde_json::Value) -> CmdResult<()> {
    let store = app.store(&s.settings_file.0)?;
    store.set(FILTER_KEY, filter);
    Ok(store.save()?)
}
