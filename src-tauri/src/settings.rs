//! The app's own settings (not provisioning data, which stays in SQLite), kept with
//! tauri-plugin-store in `settings.json` beside the database.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Wry};
use tauri_plugin_store::StoreExt;
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};

const KEY: &str = "settings";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    System,
    Light,
    Dark,
}

/// What the Settings screen edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// The SCIM server's port; used from the next start.
    pub port: u16,
    /// The SCIM server's bind address; used from the next start.
    pub bind_address: String,
    pub theme: Theme,
    pub remember_window_size: bool,
    pub window_width: u32,
    pub window_height: u32,
    /// How long sync-log events are kept.
    pub log_retention_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: crate::server::DEFAULT_PORT,
            bind_address: "127.0.0.1".into(),
            theme: Theme::System,
            remember_window_size: true,
            window_width: 1280,
            window_height: 800,
            log_retention_days: 30,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> CmdResult<()> {
        if self.port == 0 {
            return Err(CommandError::new("invalidInput", "the port must be between 1 and 65535"));
        }
        if self.bind_address.parse::<std::net::IpAddr>().is_err() {
            return Err(CommandError::new("invalidInput", format!("\"{}\" is not an IP address", self.bind_address)));
        }
        if !(1..=3650).contains(&self.log_retention_days) {
            return Err(CommandError::new("invalidInput", "keep events for 1 to 3650 days"));
        }
        Ok(())
    }
}

/// Hands the retention to the engine, which prunes now and on its schedule. Only a change is
/// written, so an unchanged start adds no audit event.
pub async fn apply_retention(p: &provisioning::Provisioning, s: &Settings) -> provisioning::Result<()> {
    let current = p.log_retention().await?;
    let days = Some(i64::from(s.log_retention_days));
    if current.days != days {
        p.set_log_retention(&provisioning::Retention { days, rows: current.rows }).await?;
    }
    Ok(())
}

/// The settings file: an absolute path, so `TALKWRITER_DATA_DIR` isolates it too.
pub struct SettingsFile(pub std::path::PathBuf);

pub fn load(app: &AppHandle<Wry>, file: &SettingsFile) -> CmdResult<Settings> {
    let store = app.store(&file.0)?;
    // A file from an older or newer version keeps what it can: unknown or bad fields fall back.
    Ok(store.get(KEY).and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default())
}

pub fn save(app: &AppHandle<Wry>, file: &SettingsFile, s: &Settings) -> CmdResult<()> {
    let store = app.store(&file.0)?;
    store.set(KEY, serde_json::to_value(s).map_err(|e| CommandError::new("internal", e))?);
    Ok(store.save()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves a settings file from another version still loads: missing fields take defaults.
    #[test]
    fn partial_settings_fill_in_defaults() {
        let s: Settings = serde_json::from_value(serde_json::json!({ "theme": "dark", "port": 9000 })).unwrap();
        assert_eq!(s.theme, Theme::Dark);
        assert_eq!(s.port, 9000);
        assert_eq!(s.bind_address, "127.0.0.1", "unset fields keep their defaults");
        assert!(s.validate().is_ok());
    }

    /// Proves bad input is refused with the code the UI branches on.
    #[test]
    fn invalid_settings_are_refused() {
        let bad = Settings { bind_address: "localhost:80".into(), ..Settings::default() };
        assert_eq!(bad.validate().unwrap_err().code, "invalidInput");
        let bad = Settings { log_retention_days: 0, ..Settings::default() };
        assert_eq!(bad.validate().unwrap_err().code, "invalidInput");
    }
}
