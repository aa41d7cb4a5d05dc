//! End-to-end tests of the desktop app: the real `talkwriter-admin` window, driven through
//! tauri-driver and WebKitWebDriver under Xvfb, against its real embedded SCIM server.
//!
//! Needs: the app binary (`cargo build -p talkwriter-admin`, after `npm run build` in ui/),
//! `tauri-driver` (`cargo install tauri-driver --locked`), WebKitWebDriver (Debian's
//! `webkit2gtk-driver`) and `Xvfb` unless `DISPLAY` is set. `TALKWRITER_ADMIN_BIN` points at
//! another binary. The tests are skipped only when `TALKWRITER_SKIP_DESKTOP=1`.
//! Each test saves a screenshot under `target/screenshots/`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn skip() -> bool {
    let skip = std::env::var("TALKWRITER_SKIP_DESKTOP").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("desktop test skipped: TALKWRITER_SKIP_DESKTOP=1");
    }
    skip
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
        let n = (120..400)
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
    _data: tempfile::TempDir,
    _display: Display,
    name: &'static str,
}

impl Desktop {
    async fn start(name: &'static str) -> Desktop {
        let app = app_binary();
        let display = Display::get();
        let data = tempfile::tempdir().unwrap();
        let (port, native_port) = (free_port(), free_port());
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

        let caps = json!({
            "browserName": "wry",
            "tauri:options": { "application": app },
        });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("could not open a WebDriver session on the app");
        let d = Desktop { client, driver, _data: data, _display: display, name };
        // The checklist renders once the first status arrives from the engine.
        d.wait_for("[data-testid=checklist]").await;
        d
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
        self.wait_for(css).await.click().await.unwrap_or_else(|e| panic!("could not click {css}: {e}"));
    }

    /// Waits until `css`'s property `attr` (or its text, for `None`) satisfies `ok`, and returns it.
    async fn wait_until(&self, css: &str, attr: Option<&str>, ok: impl Fn(&str) -> bool, why: &str) -> String {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < WAIT {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                let v = match attr {
                    Some(a) => e.prop(a).await.ok().flatten().or(e.attr(a).await.ok().flatten()),
                    // textContent, not WebDriver's rendered text, which drops some inline-block cells.
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

    async fn screenshot(&self, step: &str) {
        // The window paints a frame after the DOM changes; too early shows the previous frame.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dir = target_dir().join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(dir.join(format!("desktop-{}-{step}.png", self.name)), png).unwrap(),
            Err(e) => eprintln!("screenshot {step} failed: {e}"),
        }
    }

    async fn endpoint(&self) -> String {
        self.wait_until(
            "[data-testid=endpoint-url]",
            Some("value"),
            |v| v.starts_with("http://127.0.0.1:"),
            "the local endpoint URL must show",
        )
        .await
    }

    async fn enable_provisioning(&self) {
        let toggle = self.wait_for("#provisioning-toggle").await;
        assert_eq!(
            toggle.attr("aria-checked").await.unwrap().as_deref(),
            Some("false"),
            "a fresh install must start with provisioning off"
        );
        toggle.click().await.unwrap();
        self.wait_until("#provisioning-toggle", Some("aria-checked"), |v| v == "true", "provisioning must turn on")
            .await;
        self.wait_until(
            "[data-testid=status-provisioning]",
            None,
            |t| t == "Provisioning on",
            "the header must say provisioning is on",
        )
        .await;
    }

    async fn generate_token(&self, label: &str) -> String {
        self.wait_for("#token-label").await.send_keys(label).await.unwrap();
        self.click("[data-testid=generate-token]").await;
        let token = self
            .wait_until(
                "[data-testid=new-token]",
                Some("value"),
                |v| v.starts_with("twscim_"),
                "the new token must be shown once",
            )
            .await;
        let panel = self.wait_for("[data-testid=new-token-panel]").await.text().await.unwrap();
        assert!(panel.contains("You won't see this token again"), "the one-time panel must warn: {panel}");
        token
    }

    async fn stop(self) {
        let _ = self.client.clone().close().await;
        // Drop terminates the driver, which closes the app.
    }
}

impl Drop for Desktop {
    /// Runs on failure too, so a failed test leaves no driver, app or X server behind.
    fn drop(&mut self) {
        terminate(&mut self.driver);
    }
}

async fn create_user(endpoint: &str, token: &str, user_name: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{endpoint}/Users"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "name": { "givenName": "Ada", "familyName": "Lovelace" },
                "displayName": "Ada Lovelace",
                "active": true
            })
            .to_string(),
        )
        .send()
        .await
        .expect("the embedded SCIM server must answer")
        .status()
}

/// Proves the setup path an admin follows: turn provisioning on, generate a token in the
/// window, and an IdP using that token creates a user (201) — and the checklist ticks itself
/// from what the engine saw.
#[tokio::test]
async fn token_from_the_window_provisions_a_user_and_ticks_the_checklist() {
    if skip() {
        return;
    }
    let d = Desktop::start("provision").await;
    let endpoint = d.endpoint().await;
    assert!(endpoint.ends_with("/scim/v2"), "the endpoint is the SCIM base URL: {endpoint}");
    d.wait_until("[data-testid=step-paste]", Some("data-state"), |s| s != "done", "nothing was pasted yet").await;

    d.enable_provisioning().await;
    let token = d.generate_token("Okta production").await;
    d.screenshot("token-shown").await;

    assert_eq!(create_user(&endpoint, &token, "ada@example.com").await, 201, "a valid token must create the user");

    d.wait_until(
        "[data-testid=step-paste]",
        Some("data-state"),
        |s| s == "done",
        "the first authenticated request must tick step 4",
    )
    .await;
    d.wait_until(
        "[data-testid=step-test]",
        Some("data-state"),
        |s| s == "done",
        "the first user must tick the test-sync step",
    )
    .await;
    d.wait_until(
        "[data-testid=status-last]",
        None,
        |t| t.contains("201 Created"),
        "the header must show the last request",
    )
    .await;
    d.click("[data-testid=hide-token]").await;
    d.wait_until(
        "[data-testid=token-row] code",
        None,
        |t| t.starts_with("twscim_") && t.ends_with('•'),
        "only the masked prefix remains",
    )
    .await;
    d.screenshot("checklist-ticked").await;

    d.click("[data-testid=tab-mapping]").await;
    d.wait_until(
        "[data-testid=mapping-table]",
        None,
        |t| t.contains("ada@example.com"),
        "the mapping shows the synced user's example",
    )
    .await;
    d.screenshot("mapping").await;
    d.stop().await;
}

/// Proves revocation takes effect at once: a token revoked in the window is refused (401).
#[tokio::test]
async fn revoked_token_is_refused() {
    if skip() {
        return;
    }
    let d = Desktop::start("revoke").await;
    let endpoint = d.endpoint().await;
    d.enable_provisioning().await;
    let token = d.generate_token("Entra").await;
    assert_eq!(create_user(&endpoint, &token, "grace@example.com").await, 201, "the token works before revocation");

    d.click("[data-testid=revoke-token]").await;
    d.wait_for("[data-testid=revoke-dialog][open]").await;
    d.screenshot("confirm").await;
    d.click("[data-testid=revoke-dialog-confirm]").await;
    d.wait_until("[data-testid=token-row]", Some("data-state"), |s| s == "revoked", "the token must show as revoked")
        .await;

    assert_eq!(create_user(&endpoint, &token, "linus@example.com").await, 401, "a revoked token must be refused");
    d.screenshot("revoked").await;
    d.stop().await;
}

/// Proves the off switch: after confirming, the server refuses even a valid token (403).
#[tokio::test]
async fn disabled_provisioning_refuses_requests() {
    if skip() {
        return;
    }
    let d = Desktop::start("disable").await;
    let endpoint = d.endpoint().await;
    d.enable_provisioning().await;
    let token = d.generate_token("OneLogin").await;
    assert_eq!(create_user(&endpoint, &token, "ken@example.com").await, 201, "requests work while on");

    d.click("#provisioning-toggle").await;
    let dialog = d.wait_for("[data-testid=disable-dialog][open]").await.text().await.unwrap();
    assert!(dialog.contains("keep their TalkWriter access"), "the confirmation must say what stops: {dialog}");
    d.screenshot("confirm").await;
    d.click("[data-testid=disable-dialog-confirm]").await;
    d.wait_until("#provisioning-toggle", Some("aria-checked"), |v| v == "false", "provisioning must turn off").await;
    d.wait_until(
        "[data-testid=status-provisioning]",
        None,
        |t| t == "Provisioning off",
        "the header must say it is off",
    )
    .await;

    assert_eq!(create_user(&endpoint, &token, "dennis@example.com").await, 403, "while off, requests are refused");
    d.screenshot("disabled").await;
    d.stop().await;
}
