//! The one error shape every command returns: a stable `code` the UI branches on, and a
//! `message` for people.

use serde::Serialize;
use ts_rs::TS;

/// A failed command, as the UI receives it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl std::fmt::Display) -> Self {
        CommandError { code: code.to_string(), message: message.to_string() }
    }
}

impl From<provisioning::Error> for CommandError {
    fn from(e: provisioning::Error) -> Self {
        CommandError::new(e.code(), e)
    }
}

impl From<tauri_plugin_clipboard_manager::Error> for CommandError {
    fn from(e: tauri_plugin_clipboard_manager::Error) -> Self {
        CommandError::new("clipboard", e)
    }
}

impl From<tauri_plugin_store::Error> for CommandError {
    fn from(e: tauri_plugin_store::Error) -> Self {
        CommandError::new("settingsStore", e)
    }
}

pub type CmdResult<T> = Result<T, CommandError>;
