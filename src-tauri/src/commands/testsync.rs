//! Test sync, endpoint check and test connection: the idp-sim crate run from the window. Against
//! the embedded server the app mints a short-lived token for the run and removes it when the run
//! ends, so the admin never pastes one; another endpoint needs the admin's token.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use idp_sim::{CheckReport, ConnectionReport, Profile, SimOptions, SimReport, StopFlag};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

/// The Tauri event that carries a running test sync's progress.
pub const TEST_SYNC_PROGRESS: &str = "test-sync-progress";
/// The run token expires by itself even if the app quits before removing it.
const RUN_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(30);
/// At most one progress event per this, besides the first and the last.
const PROGRESS_EVERY: Duration = Duration::from_millis(40);
const MAX_USERS: usize = 1000;
const MAX_GROUPS: usize = 100;

/// Steps done out of the run's total.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TestSyncProgress {
    pub done: usize,
    pub total: usize,
}

/// One endpoint check, listed before a run so the window can show it as pending.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CheckInfo {
    /// `area.what`, e.g. `filter.username-case-insensitive`.
    pub name: String,
    pub description: String,
}

/// Held while a test sync runs, so a second one is refused rather than interleaved; holds the
/// running one's stop flag, for [`cancel_test_sync`].
#[derive(Default)]
struct TestSyncLock {
    running: tokio::sync::Mutex<()>,
    stop: std::sync::Mutex<Option<StopFlag>>,
}

impl TestSyncLock {
    fn set_stop(&self, stop: Option<StopFlag>) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = stop;
    }
}

/// Plays `profile` against the embedded server with a directory of `users` and `groups`,
/// emitting [`TEST_SYNC_PROGRESS`]; `cleanup` deletes the run's users and groups at the end,
/// or when [`cancel_test_sync`] stops the run.
#[tauri::command]
pub async fn run_test_sync(
    app: AppHandle,
    s: State<'_, AppState>,
    profile: Profile,
    users: usize,
    groups: usize,
    cleanup: bool,
) -> CmdResult<SimReport> {
    if !(1..=MAX_USERS).contains(&users) || groups > MAX_GROUPS {
        let msg = format!("a test directory has 1 to {MAX_USERS} users and at most {MAX_GROUPS} groups");
        return Err(CommandError::new("invalid_input", msg));
    }
    app.manage(TestSyncLock::default());
    let lock = app.state::<TestSyncLock>();
    let Ok(_running) = lock.running.try_lock() else {
        return Err(CommandError::new("busy", "a test sync is already running"));
    };
    let stop = StopFlag::new();
    lock.set_stop(Some(stop.clone()));
    let options = SimOptions { users, groups, cleanup, stop, ..SimOptions::default() };
    let mut last: Option<Instant> = None;
    let emitter = app.clone();
    let progress = move |done: usize, total: usize| {
        if done == 0 || done == total || last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            last = Some(Instant::now());
            let _ = emitter.emit(TEST_SYNC_PROGRESS, TestSyncProgress { done, total });
        }
    };
    let report = with_run_token(&s, "Test sync", |url, token| async move {
        idp_sim::simulate(profile, &url, &token, options, progress).await
    })
    .await;
    lock.set_stop(None);
    report
}

/// Stops the running test sync before its next step; it then cleans up if asked to and
/// answers a report marked cancelled. Answers false when no test sync is running.
#[tauri::command]
pub fn cancel_test_sync(app: AppHandle) -> bool {
    let Some(lock) = app.try_state::<TestSyncLock>() else { return false };
    let stop = lock.stop.lock().unwrap_or_else(|e| e.into_inner());
    stop.as_ref().inspect(|stop| stop.stop()).is_some()
}

/// Every endpoint check, in the order they run.
#[tauri::command]
pub fn endpoint_checks() -> Vec<CheckInfo> {
    idp_sim::CHECKS
        .iter()
        .map(|(name, description)| CheckInfo { name: name.to_string(), description: description.to_string() })
        .collect()
}

/// Runs every endpoint check against `url` (the embedded server when empty) with `token` (a
/// run token when empty and the URL is the embedded server's).
#[tauri::command]
pub async fn check_endpoint(
    s: State<'_, AppState>,
    url: Option<String>,
    token: Option<String>,
) -> CmdResult<CheckReport> {
    match target(&s, url, token)? {
        Target::Embedded => {
            with_run_token(&s, "Endpoint check", |url, token| async move { idp_sim::check(&url, &token).await }).await
        }
        Target::Given { url, token } => idp_sim::check(&url, &token).await.map_err(sim_error),
    }
}

/// Entra's "Test connection" against `url` with `token`, defaulting as [`check_endpoint`] does.
#[tauri::command]
pub async fn test_endpoint_connection(
    s: State<'_, AppState>,
    url: Option<String>,
    token: Option<String>,
) -> CmdResult<ConnectionReport> {
    match target(&s, url, token)? {
        Target::Embedded => {
            with_run_token(
                &s,
                "Test connection",
                |url, token| async move { idp_sim::test_connection(&url, &token).await },
            )
            .await
        }
        Target::Given { url, token } => idp_sim::test_connection(&url, &token).await.map_err(sim_error),
    }
}

#[derive(Debug, PartialEq)]
enum Target {
    /// The embedded server with a run token.
    Embedded,
    Given {
        url: String,
        token: String,
    },
}

fn target(s: &AppState, url: Option<String>, token: Option<String>) -> CmdResult<Target> {
    choose(s.listening.listening.as_deref(), url, token)
}

/// No URL, or the embedded server's without a token, is the embedded server with a run token;
/// any other URL needs a token. `listening` is the embedded server's bound address.
fn choose(listening: Option<&str>, url: Option<String>, token: Option<String>) -> CmdResult<Target> {
    let url = url.map(|u| u.trim().trim_end_matches('/').to_string()).filter(|u| !u.is_empty());
    let token = token.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let ours = |u: &String| {
        listening
            .is_some_and(|l| client_url(l).as_ref() == Some(u) || &format!("http://{l}{}", scim_http::BASE_PATH) == u)
    };
    if token.is_none() && url.as_ref().is_none_or(ours) {
        return Ok(Target::Embedded);
    }
    let token =
        token.ok_or_else(|| CommandError::new("token_required", "enter the bearer token the endpoint expects"))?;
    let url = match url {
        Some(url) => url,
        None => listening.and_then(client_url).ok_or_else(server_down)?,
    };
    Ok(Target::Given { url, token })
}

/// Mints a token for one run against the embedded server, runs `run(url, token)`, and revokes
/// the token whatever happened.
async fn with_run_token<T, F, Fut>(s: &AppState, label: &str, run: F) -> CmdResult<T>
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = Result<T, idp_sim::Error>>,
{
    if !s.p.provisioning_enabled().await? {
        return Err(CommandError::new("provisioning_off", "provisioning is off: the server refuses every request"));
    }
    let url = embedded_url(s).ok_or_else(server_down)?;
    let token = s.p.create_token(label, Some(s.p.clock().now() + RUN_TOKEN_LIFETIME)).await?;
    let out = run(url, token.token.clone()).await;
    if let Err(e) = s.p.remove_run_token(&token.info.id).await {
        tracing::warn!("could not remove the {label} token {}: {e}", token.info.prefix);
    }
    out.map_err(sim_error)
}

fn embedded_url(s: &AppState) -> Option<String> {
    s.listening.listening.as_deref().and_then(client_url)
}

/// The SCIM base URL a client reaches a server bound to `listening` at: a wildcard address is
/// reached on the loopback of its family.
fn client_url(listening: &str) -> Option<String> {
    let addr: SocketAddr = listening.parse().ok()?;
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Some(format!("http://{}{}", SocketAddr::new(ip, addr.port()), scim_http::BASE_PATH))
}

fn server_down() -> CommandError {
    CommandError::new("server_not_running", "the embedded SCIM server is not running")
}

fn sim_error(e: idp_sim::Error) -> CommandError {
    let code = match e {
        idp_sim::Error::InvalidUrl { .. } => "invalid_url",
        idp_sim::Error::UnknownProfile(_) => "invalid_input",
        idp_sim::Error::Client(_) => "internal",
    };
    CommandError::new(code, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(url: &str, token: &str) -> Target {
        Target::Given { url: url.into(), token: token.into() }
    }

    /// A wildcard bind is reached on the loopback: connecting to 0.0.0.0 works on Linux only.
    #[test]
    fn client_urls() {
        for (bound, url) in [
            ("127.0.0.1:8787", Some("http://127.0.0.1:8787/scim/v2")),
            ("0.0.0.0:8787", Some("http://127.0.0.1:8787/scim/v2")),
            ("[::]:9000", Some("http://[::1]:9000/scim/v2")),
            ("192.168.1.5:8787", Some("http://192.168.1.5:8787/scim/v2")),
            ("not an address", None),
        ] {
            assert_eq!(client_url(bound).as_deref(), url, "{bound}");
        }
    }

    /// The embedded server needs no token; any other endpoint does, and a token given for the
    /// embedded server is used as given.
    #[test]
    fn targets() {
        let on = Some("0.0.0.0:8787");
        let s = |v: &str| Some(v.to_string());
        let cases = [
            (on, None, None, Ok(Target::Embedded)),
            (on, s(" "), s(""), Ok(Target::Embedded)),
            (on, s("http://127.0.0.1:8787/scim/v2/"), None, Ok(Target::Embedded)),
            (on, s("http://0.0.0.0:8787/scim/v2"), None, Ok(Target::Embedded)),
            (on, s("http://127.0.0.1:8787/scim/v2"), s("t"), Ok(given("http://127.0.0.1:8787/scim/v2", "t"))),
            (on, None, s(" t "), Ok(given("http://127.0.0.1:8787/scim/v2", "t"))),
            (on, s("https://scim.example.com/scim/v2"), s("t"), Ok(given("https://scim.example.com/scim/v2", "t"))),
            (on, s("https://scim.example.com/scim/v2"), None, Err("token_required")),
            (None, None, s("t"), Err("server_not_running")),
        ];
        for (listening, url, token, want) in cases {
            let got = choose(listening, url.clone(), token.clone()).map_err(|e| e.code);
            assert_eq!(got, want.map_err(str::to_string), "{url:?} with {token:?}");
        }
    }
}
