//! talkwriter-admin: the desktop admin portal. It opens the provisioning database in the app
//! data directory, runs the SCIM server in-process, and serves the Security → SCIM screen.
//!
//! Environment: `TALKWRITER_DATA_DIR` replaces the app data directory (database and settings),
//! `TALKWRITER_SCIM_LISTEN` (e.g. `127.0.0.1:0`) replaces the listen address from the settings,
//! `TALKWRITER_EXPORT_DIR` makes sync-log export write there without the save dialog (tests).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod error;
mod live;
mod server;
mod settings;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use tauri::{Manager, RunEvent, WindowEvent};

use crate::commands::startup::Startup;
use crate::settings::SettingsFile;
use crate::state::AppState;

const DB_FILE: &str = "talkwriter.db";
const SETTINGS_FILE: &str = "settings.json";
const RETENTION_EVERY: Duration = Duration::from_secs(600);

fn main() {
    // First, so the start-up time covers everything the process does.
    let startup = Startup::now();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    if let Err(e) = run(startup) {
        eprintln!("talkwriter-admin: {e:#}");
        std::process::exit(1);
    }
}

fn run(startup: Startup) -> anyhow::Result<()> {
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_store::Builder::new().build())
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| Ok(setup(app, startup)?))
        .invoke_handler(tauri::generate_handler![
            commands::provisioning::get_status,
            commands::provisioning::set_provisioning_enabled,
            commands::provisioning::get_server_info,
            commands::provisioning::set_public_url,
            commands::tokens::list_tokens,
            commands::tokens::create_token,
            commands::tokens::rotate_token,
            commands::tokens::revoke_token,
            commands::mapping::get_mapping,
            commands::synclog::query_events,
            commands::synclog::event_activity,
            commands::synclog::event_first_request,
            commands::synclog::export_events,
            commands::synclog::get_log_filter,
            commands::synclog::save_log_filter,
            commands::directory::directory_users,
            commands::directory::directory_groups,
            commands::directory::user_detail,
            commands::directory::group_detail,
            commands::directory::get_access_rule,
            commands::directory::preview_access_rule,
            commands::directory::set_access_rule,
            commands::directory::set_admin_suspension,
            commands::settings::get_settings,
            commands::settings::save_settings,
            commands::clipboard::copy_text,
            commands::testsync::run_test_sync,
            commands::testsync::cancel_test_sync,
            commands::testsync::endpoint_checks,
            commands::testsync::check_endpoint,
            commands::testsync::test_endpoint_connection,
            commands::startup::app_painted,
            commands::startup::first_paint_ms,
        ])
        .build(tauri::generate_context!())
        .context("could not start the window system")?;

    app.run(|handle, event| match event {
        RunEvent::WindowEvent { label, event: WindowEvent::CloseRequested { .. }, .. } => {
            remember_window_size(handle, &label);
        }
        RunEvent::Exit => shutdown(handle),
        _ => {}
    });
    Ok(())
}

fn setup(app: &mut tauri::App, startup: Startup) -> anyhow::Result<()> {
    let data_dir = match std::env::var_os("TALKWRITER_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => app.path().app_data_dir().context("no app data directory")?,
    };
    std::fs::create_dir_all(&data_dir).with_context(|| format!("could not create {}", data_dir.display()))?;
    let settings_file = SettingsFile(data_dir.join(SETTINGS_FILE));
    let prefs = settings::load(app.handle(), &settings_file).unwrap_or_default();

    let (p, listener, listening) = tauri::async_runtime::block_on(async {
        let db = data_dir.join(DB_FILE);
        // No memory map: the app runs for days, and every mapped page it once read would stay
        // in its resident memory. The embedded server's load is one IdP's, not a benchmark's.
        let config = provisioning::Config { sqlite_mmap_bytes: 0, ..provisioning::Config::default() };
        let p = provisioning::Provisioning::open(&db, config)
            .await
            .with_context(|| format!("could not open the database {}", db.display()))?;
        // A fresh install starts with provisioning off: the admin turns it on deliberately.
        p.init_provisioning_enabled(false).await?;
        // The Settings screen owns the retention; the engine enforces it in the background.
        settings::apply_retention(&p, &prefs).await?;
        let _pruner = p.spawn_retention_job(RETENTION_EVERY);
        let (requested, may_fall_back) = listen_address(&prefs)?;
        let (listener, listening) = server::bind(requested, may_fall_back).await;
        anyhow::Ok((p, listener, listening))
    })?;
    match (&listening.listening, listening.fallback) {
        (Some(addr), false) => tracing::info!("SCIM server listening on {addr}"),
        (Some(addr), true) => tracing::warn!("{} was in use; SCIM server listening on {addr}", listening.requested),
        (None, _) => tracing::error!("SCIM server not running: {}", listening.error.as_deref().unwrap_or("")),
    }

    let running = listener.map(|l| server::spawn(p.clone(), l));
    live::forward(app.handle().clone(), &p);
    #[cfg(unix)]
    exit_on_signals(app.handle().clone());
    app.manage(AppState { p, listening, settings_file, server: Mutex::new(running), startup });

    let config = app.config().app.windows.first().cloned().context("no window in tauri.conf.json")?;
    let mut window = tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?;
    if prefs.remember_window_size {
        let (w, h) = (prefs.window_width.max(1024), prefs.window_height.max(700));
        window = window.inner_size(f64::from(w), f64::from(h));
    }
    let window = window.build()?;
    #[cfg(target_os = "linux")]
    paint_on_cpu(&window);
    Ok(())
}

/// WebKitGTK paints this window on the CPU instead of compositing it with OpenGL. Its default
/// (the DMA-BUF renderer with accelerated compositing) kept the idle web process at 224 MB PSS
/// instead of 124 MB on a machine without a GPU (Mesa's llvmpipe), and a UI of forms and tables
/// gains nothing visible from it; the sync log's scrolling and filtering figures in
/// BENCHMARKS.md were measured in this mode.
#[cfg(target_os = "linux")]
fn paint_on_cpu(window: &tauri::WebviewWindow) {
    use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
    let applied = window.with_webview(|w| {
        if let Some(settings) = WebViewExt::settings(&w.inner()) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    if let Err(e) = applied {
        tracing::warn!("could not turn off GPU compositing: {e}");
    }
}

/// `TALKWRITER_SCIM_LISTEN` wins and is used as given; otherwise the settings' address and
/// port, with another port if that one is taken.
fn listen_address(prefs: &settings::Settings) -> anyhow::Result<(SocketAddr, bool)> {
    if let Ok(v) = std::env::var("TALKWRITER_SCIM_LISTEN") {
        let addr =
            v.parse().with_context(|| format!("TALKWRITER_SCIM_LISTEN={v} is not an address like 127.0.0.1:8787"))?;
        return Ok((addr, false));
    }
    let ip = prefs.bind_address.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    Ok((SocketAddr::new(ip, prefs.port), true))
}

fn remember_window_size(handle: &tauri::AppHandle, label: &str) {
    let (Some(window), Some(state)) = (handle.get_webview_window(label), handle.try_state::<AppState>()) else {
        return;
    };
    let Ok(mut prefs) = settings::load(handle, &state.settings_file) else { return };
    if !prefs.remember_window_size {
        return;
    }
    let (Ok(size), Ok(scale)) = (window.inner_size(), window.scale_factor()) else { return };
    let size = size.to_logical::<f64>(scale);
    prefs.window_width = size.width.round() as u32;
    prefs.window_height = size.height.round() as u32;
    if let Err(e) = settings::save(handle, &state.settings_file, &prefs) {
        tracing::warn!("could not save the window size: {}", e.message);
    }
}

/// SIGTERM or Ctrl-C closes the app the same way as closing the window, so the server still
/// stops cleanly.
#[cfg(unix)]
fn exit_on_signals(handle: tauri::AppHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        remember_window_size(&handle, "main");
        handle.exit(0);
    });
}

/// Stops the SCIM server with the window: in-flight requests finish, the log is flushed, and
/// the database is closed.
fn shutdown(handle: &tauri::AppHandle) {
    let Some(state) = handle.try_state::<AppState>() else { return };
    let running = state.take_server();
    let p = state.p.clone();
    tauri::async_runtime::block_on(async move {
        if let Some(r) = running {
            r.stop(Duration::from_secs(5)).await;
        }
        p.close().await;
    });
}
