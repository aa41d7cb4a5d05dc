//! What every command can reach: the provisioning service, where the server listens, and the
//! settings file. Passed explicitly through Tauri's managed state, never a global.

use std::sync::Mutex;

use provisioning::Provisioning;
use serde::Serialize;
use ts_rs::TS;

use crate::commands::startup::Startup;
use crate::server::{Listening, Running};
use crate::settings::SettingsFile;

pub struct AppState {
    pub p: Provisioning,
    pub listening: Listening,
    pub settings_file: SettingsFile,
    pub server: Mutex<Option<Running>>,
    /// When the process started, and when the first screen was painted.
    pub startup: Startup,
}

/// The endpoint facts the header and the setup screen show.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    #[serde(flatten)]
    #[ts(flatten)]
    pub listening: Listening,
    /// `http://127.0.0.1:8787/scim/v2`, when listening.
    pub local_url: Option<String>,
    /// The SCIM base URL the admin set for the IdP (a tunnel or deployed server).
    pub public_url: Option<String>,
    pub base_path: String,
}

impl AppState {
    pub async fn server_info(&self) -> provisioning::Result<ServerInfo> {
        let local_url = self.listening.listening.as_ref().map(|a| format!("http://{a}{}", scim_http::BASE_PATH));
        Ok(ServerInfo {
            listening: self.listening.clone(),
            local_url,
            public_url: self.p.public_url().await?,
            base_path: scim_http::BASE_PATH.to_string(),
        })
    }

    /// Stops the server once; later calls do nothing.
    pub fn take_server(&self) -> Option<Running> {
        self.server.lock().ok().and_then(|mut s| s.take())
    }
}
