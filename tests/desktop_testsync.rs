//! End-to-end test of the Test sync tab in the real `talkwriter-admin` window, driven through
//! tauri-driver and WebKitWebDriver under Xvfb, against its real embedded SCIM server. Needs what
//! tests/desktop.rs needs (the app binary built after `npm run build`, tauri-driver,
//! WebKitWebDriver, Xvfb unless `DISPLAY` is set); skipped only when `TALKWRITER_SKIP_DESKTOP=1`.
//! Screenshots go to `target/screenshots/desktop-testsync-*.png`.
//!
//! The harness is the minimum of tests/desktop.rs's, copied: that one is private to its file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

const WAIT: Duration = Duration::from_secs(20);

fn skip() -> bool {
    let skip = std::env::var("TALKWRITER_SKIP_DESKTOP").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("desktop test skipped: TALKWRITER_SKIP_DESKTOP=1");
    }
    skip
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| e2e::workspace().join("target"))
}

fn app_binary() -> PathBuf {
    let bin = std::env::var_os("TALKWRITER_ADMIN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join("talkwriter-admin"));
    assert!(
        bin.is_file(),
        "the app binary {} is missing: run `npm ci && npm run build` in ui/, then `cargo build -p talkwriter-admin` \
         (or set TALKWRITER_ADMIN_BIN; TALKWRITER_SKIP_DESKTOP=1 skips these tests)",
        bin.display()
    );
    std::fs::canonicalize(bin).unwrap()
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let installed = home.join(".cargo/bin/tauri-driver");
    if installed.is_file() { installed } else { PathBuf::from("tauri-driver") }
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early with {status}");
        }
        assert!(start.elapsed() < WAIT, "{what} did not listen on port {port} within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM and waits: SIGKILL would leave WebKitWebDriver holding its port.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A private X display for one test, unless the environment already has one.
struct Display {
    name: String,
    xvfb: Option<Child>,
}

static DISPLAY_PICK: Mutex<()> = Mutex::new(());

impl Display {
    fn get() -> Display {
        if let Ok(d) = std::env::var("DISPLAY")
            && !d.is_empty()
        {
            return Display { name: d, xvfb: None };
        }
        let _one_at_a_time = DISPLAY_PICK.lock().unwrap_or_else(|e| e.into_inner());
        let n = (400..700)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .expect("no free X display number");
        let mut xvfb = Command::new("Xvfb")
            .args([format!(":{n}").as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is not installed (apt-get install xvfb), and DISPLAY is not set");
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        let start = Instant::now();
        while !socket.exists() {
            if let Ok(Some(status)) = xvfb.try_wait() {
                panic!("Xvfb :{n} exited with {status}");
            }
            assert!(start.elapsed() < WAIT, "Xvfb :{n} did not start");
            std::thread::sleep(Duration::from_millis(25));
        }
        Display { name: format!(":{n}"), xvfb: Some(xvfb) }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(x) = &mut self.xvfb {
            terminate(x);
        }
    }
}

/// One running app in its own data directory, with a WebDriver session on its window.
struct Desktop {
    client: Client,
    driver: Child,
    data: tempfile::TempDir,
    _display: Display,
}

impl Desktop {
    async fn start() -> Desktop {
        let app = app_binary();
        let display = Display::get();
        let data = tempfile::tempdir().unwrap();
        let (port, native_port) = (e2e::free_port(), e2e::free_port());
        let mut driver = Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", &display.name)
            .env("TALKWRITER_DATA_DIR", data.path())
            .env("TALKWRITER_SCIM_LISTEN", "127.0.0.1:0")
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .stdout(Stdio::null())
            // Not inherited: an orphaned driver would hold the test runner's output pipe open.
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver is not installed: cargo install tauri-driver --locked");
        wait_for_port(port, &mut driver, "tauri-driver");
        let caps = json!({ "browserName": "wry", "tauri:options": { "application": app } });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("could not open a WebDriver session on the app");
        let d = Desktop { client, driver, data, _display: display };
        d.wait_for("[data-testid=checklist]").await;
        d
    }

    /// The app's database, as `main.rs` names it in the data directory.
    fn db(&self) -> PathBuf {
        self.data.path().join("talkwriter.db")
    }

    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared in the window: {e}"))
    }

    async fn click(&self, css: &str) {
        let e = self.wait_for(css).await;
        // Below the fold in a small window: scroll it into view first, as a person would.
        let _ = self.client.execute("arguments[0].scrollIntoView({block: 'center'});", vec![json!(e)]).await;
        e.click().await.unwrap_or_else(|err| panic!("could not click {css}: {err}"));
    }

    /// Waits until `css`'s property `attr` (or its text, for `None`) satisfies `ok`, and returns it.
    async fn wait_until(&self, css: &str, attr: Option<&str>, ok: impl Fn(&str) -> bool, why: &str) -> String {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < WAIT {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                let v = match attr {
                    Some(a) => e.prop(a).await.ok().flatten().or(e.attr(a).await.ok().flatten()),
                    None => e.prop("textContent").await.ok().flatten().map(|t| t.trim().to_string()),
                };
                if let Some(v) = v {
                    if ok(&v) {
                        return v;
                    }
                    last = v;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("timeout").await;
        panic!("{why}: {css} stayed {last:?}");
    }

    /// The values of `attr` on every element matching `css`, in document order.
    async fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let mut out = vec![];
        for e in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
            if let Ok(Some(v)) = e.attr(attr).await {
                out.push(v);
            }
        }
        out
    }

    /// Waits until the values of `attr` over `css` satisfy `ok`, and returns them.
    async fn wait_attrs(&self, css: &str, attr: &str, ok: impl Fn(&[String]) -> bool, why: &str) -> Vec<String> {
        let start = Instant::now();
        let mut last = vec![];
        while start.elapsed() < WAIT {
            last = self.attrs(css, attr).await;
            if ok(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("timeout").await;
        panic!("{why}: {css} [{attr}] stayed {last:?}");
    }

    async fn count(&self, key: &str) -> i64 {
        let css = format!("[data-testid=testsync-count-{key}] .value");
        let text = self.wait_until(&css, None, |t| t.parse::<i64>().is_ok(), "a count shows").await;
        text.parse().unwrap()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
        self.wait_until(css, Some("value"), |v| v == text, "the input takes the value").await;
    }

    async fn screenshot(&self, step: &str) {
        // The window paints a frame after the DOM changes; too early shows the previous frame.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dir = target_dir().join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(dir.join(format!("desktop-testsync-{step}.png")), png).unwrap(),
            Err(e) => eprintln!("screenshot {step} failed: {e}"),
        }
    }

    /// Screenshots of the same screen in the light and the dark theme.
    async fn screenshots(&self, step: &str) {
        self.screenshot(&format!("{step}-light")).await;
        self.theme("dark").await;
        self.screenshot(&format!("{step}-dark")).await;
        self.theme("light").await;
    }

    async fn theme(&self, theme: &str) {
        self.client
            .execute("document.documentElement.dataset.theme = arguments[0];", vec![json!(theme)])
            .await
            .unwrap();
    }

    async fn scroll_to(&self, css: &str) {
        let e = self.wait_for(css).await;
        self.client.execute("arguments[0].scrollIntoView({block: 'start'});", vec![json!(e)]).await.unwrap();
    }
}

impl Drop for Desktop {
    /// Runs on failure too, so a failed test leaves no driver, app or X server behind.
    fn drop(&mut self) {
        terminate(&mut self.driver);
    }
}

async fn scalar(db: &Path, sql: &str) -> i64 {
    let opts = SqliteConnectOptions::from_str("sqlite://").unwrap().filename(db).read_only(true);
    let mut conn = SqliteConnection::connect_with(&opts).await.expect("the app's database opens");
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.unwrap();
    v
}

/// Proves the test sync an admin runs from the window: with provisioning off the tab says why
/// and leads to the switch; once on, the Okta profile runs against the embedded server with a
/// run token the app creates and revokes, the summary's counts are what the engine now holds,
/// the sync log has the run's events marked simulated, and the endpoint checker passes every
/// check against the embedded server, as does the test connection.
#[tokio::test]
async fn test_sync_and_endpoint_check_against_the_embedded_server() {
    if skip() {
        return;
    }
    let d = Desktop::start().await;
    let db = d.db();

    // Off: the tab explains, and its button leads to the switch in Setup.
    d.click("[data-testid=tab-testsync]").await;
    d.wait_for("[data-testid=testsync-needs-provisioning]").await;
    let run = d.wait_for("[data-testid=testsync-run]").await;
    assert_eq!(run.prop("disabled").await.unwrap().as_deref(), Some("true"), "no run while provisioning is off");
    d.wait_attrs("[data-testid=check-row]", "data-state", |v| v.len() == 29, "the 29 checks are listed before a run")
        .await;
    let pending = d.attrs("[data-testid=check-row]", "data-state").await;
    assert!(pending.iter().all(|s| s == "pending"), "before a run every check is pending: {pending:?}");
    d.screenshots("off").await;
    d.click("[data-testid=testsync-to-setup]").await;
    d.wait_until("[data-testid=tab-setup]", Some("aria-selected"), |v| v == "true", "the button opens Setup").await;
    let toggle = d.wait_for("#provisioning-toggle").await;
    toggle.click().await.unwrap();
    d.wait_until("#provisioning-toggle", Some("aria-checked"), |v| v == "true", "provisioning turns on").await;

    // A small Okta directory.
    d.click("[data-testid=tab-testsync]").await;
    d.wait_for("[data-testid=testsync-card]").await;
    assert!(
        d.client.find(Locator::Css("[data-testid=testsync-needs-provisioning]")).await.is_err(),
        "once on, the tab no longer asks for provisioning"
    );
    d.wait_for("[data-testid=testsync-profile]").await.select_by_value("okta").await.unwrap();
    d.type_into("[data-testid=testsync-users]", "10").await;
    d.type_into("[data-testid=testsync-groups]", "2").await;
    d.screenshots("ready").await;
    d.click("[data-testid=testsync-run]").await;
    d.wait_for("[data-testid=testsync-summary]").await;
    d.screenshots("summary").await;

    let failed = d.count("failed").await;
    assert_eq!(failed, 0, "the embedded server handles Okta's whole run");
    let created = d.count("created").await;
    let deactivated = d.count("deactivated").await;
    let deleted = d.count("deleted").await;
    let domain =
        d.wait_until("[data-testid=testsync-domain]", None, |t| t.starts_with("@sim-"), "the run's domain shows").await;
    let like = format!("'%{domain}'");
    let users = scalar(&db, &format!("SELECT COUNT(*) FROM users WHERE user_name_key LIKE {like}")).await;
    let inactive =
        scalar(&db, &format!("SELECT COUNT(*) FROM users WHERE user_name_key LIKE {like} AND active = 0")).await;
    let run_id = domain.trim_start_matches("@sim-").trim_end_matches(".example.com").to_string();
    let groups = scalar(&db, &format!("SELECT COUNT(*) FROM groups WHERE display_name LIKE '%(sim {run_id})'")).await;
    assert_eq!(users, 10, "every simulated user is in the engine (Okta never deletes users)");
    assert_eq!(groups, 2, "both pushed groups are in the engine");
    assert_eq!(created, users + groups + deleted, "created = what the engine holds + what was deleted");
    assert_eq!(deactivated, inactive, "every deactivation shows as an inactive user in the engine");
    assert!(inactive > 0, "the run has leavers");
    let shown =
        d.wait_until("[data-testid=testsync-holds]", None, |t| !t.is_empty(), "the summary says what is held").await;
    assert!(shown.contains(&format!("{} active", users - inactive)), "the summary matches the engine: {shown}");

    // The run token was created for the run and revoked after it.
    let tokens = scalar(&db, "SELECT COUNT(*) FROM tokens WHERE label = 'Test sync'").await;
    let live = scalar(&db, "SELECT COUNT(*) FROM tokens WHERE label = 'Test sync' AND revoked IS NULL").await;
    assert_eq!((tokens, live), (1, 0), "one run token, revoked when the run ended");

    // A bigger run shows its progress as it goes, fed by the shell's progress events.
    d.wait_for("[data-testid=testsync-profile]").await.select_by_value("entra").await.unwrap();
    d.type_into("[data-testid=testsync-users]", "150").await;
    d.type_into("[data-testid=testsync-groups]", "6").await;
    d.click("[data-testid=testsync-run]").await;
    d.wait_until(
        "[data-testid=testsync-progress]",
        Some("aria-valuenow"),
        |v| v.parse::<u32>().is_ok_and(|p| (15..100).contains(&p)),
        "the progress bar moves during the run",
    )
    .await;
    d.screenshots("progress").await;
    d.wait_until(
        "[data-testid=testsync-summary]",
        Some("data-failed"),
        |v| v == "0",
        "Entra's run ends without a failure",
    )
    .await;
    assert_eq!(d.count("created").await, 156, "150 users and 6 groups created");

    // The sync log holds the run's requests, marked simulated, and shows them.
    let simulated = scalar(
        &db,
        "SELECT COUNT(*) FROM events WHERE simulated = 1 AND operation = 'Create User' AND user_agent LIKE 'Okta%'",
    )
    .await;
    assert_eq!(simulated, 10, "each simulated creation is logged as simulated");
    let unmarked = scalar(
        &db,
        "SELECT COUNT(*) FROM events WHERE (user_agent LIKE 'Okta%' OR user_agent LIKE 'Microsoft%') AND simulated = 0",
    )
    .await;
    assert_eq!(unmarked, 0, "every request of the run is marked simulated");
    d.click("[data-testid=testsync-open-synclog]").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-idp",
        |idps| idps.iter().any(|i| i == "Entra ID"),
        "the run's events show in the sync log",
    )
    .await;
    // The summary's advice: searching the log for the run id leaves that run's events only.
    d.type_into("[data-testid=filter-text]", &run_id).await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-idp",
        |idps| !idps.is_empty() && idps.iter().all(|i| i == "Okta"),
        "searching for the Okta run's id leaves only its events",
    )
    .await;
    d.click("[data-testid=synclog-row][data-operation='Deactivate User']").await;
    d.wait_until("[data-testid=event-detail]", None, |t| t.contains("(test sync)"), "the detail marks it simulated")
        .await;
    d.screenshot("synclog").await;
    d.click("[data-testid=event-detail-close]").await;

    // The checker passes every check against the embedded server; the test connection too.
    d.click("[data-testid=tab-testsync]").await;
    d.wait_for("[data-testid=testsync-summary]").await; // the report outlives the tab switch
    d.click("[data-testid=check-run]").await;
    d.wait_until(
        "[data-testid=check-summary]",
        None,
        |t| t.starts_with("29 of 29"),
        "every check passes against our own server",
    )
    .await;
    let states = d.attrs("[data-testid=check-row]", "data-state").await;
    assert_eq!(states.len(), 29, "one row per check");
    assert!(states.iter().all(|s| s == "passed"), "every row shows passed: {states:?}");
    d.click("[data-testid=check-connection]").await;
    d.wait_until("[data-testid=connection-result]", Some("data-ok"), |v| v == "true", "the test connection succeeds")
        .await;
    d.scroll_to("[data-testid=check-card]").await;
    d.screenshots("checks").await;
    let live = scalar(&db, "SELECT COUNT(*) FROM tokens WHERE revoked IS NULL").await;
    assert_eq!(live, 0, "the checker's and the test connection's run tokens are revoked too");

    // Against a wrong URL the checks fail, each with its request and response one click away.
    let url = d.wait_for("[data-testid=check-url]").await;
    let wrong = url.prop("value").await.unwrap().unwrap().replace("/scim/v2", "/scim/v1");
    d.type_into("[data-testid=check-url]", &wrong).await;
    d.type_into("[data-testid=check-token]", "twscim_not-a-token").await;
    d.click("[data-testid=check-run]").await;
    d.wait_until("[data-testid=check-summary]", None, |t| !t.starts_with("29 of 29"), "a wrong URL fails checks").await;
    d.click("[data-testid=check-row][data-state=failed] [data-testid=check-exchange] summary").await;
    let request = d
        .wait_until("[data-testid=exchange-request]", None, |t| t.contains("/scim/v1"), "the failure shows its request")
        .await;
    assert!(request.contains(&wrong), "the request went to the URL entered: {request}");
    d.wait_for("[data-testid=exchange-response]").await;
    d.click("[data-testid=check-only-failures]").await;
    let states = d.attrs("[data-testid=check-row]", "data-state").await;
    assert!(!states.is_empty() && states.iter().all(|s| s == "failed"), "only failures remain: {states:?}");
    d.click("[data-testid=check-connection]").await;
    d.wait_until("[data-testid=connection-result]", Some("data-ok"), |v| v == "false", "the test connection fails")
        .await;
    d.scroll_to("[data-testid=check-card]").await;
    d.screenshots("check-failures").await;

    // A smaller window still lays the summary out.
    d.client.set_window_size(1024, 700).await.unwrap();
    d.scroll_to("[data-testid=testsync-card]").await;
    d.screenshots("small").await;
    d.scroll_to("[data-testid=check-card]").await;
    d.screenshots("small-checks").await;
    let _ = d.client.clone().close().await;
}
