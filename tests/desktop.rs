//! End-to-end tests of the desktop app: the real `talkwriter-admin` window, driven through
//! tauri-driver and WebKitWebDriver under Xvfb, against its real embedded SCIM server.
//!
//! Needs: the app binary (`cargo build -p talkwriter-admin`, after `npm run build` in ui/),
//! `tauri-driver` (`cargo install tauri-driver --locked`), WebKitWebDriver (Debian's
//! `webkit2gtk-driver`) and `Xvfb` unless `DISPLAY` is set. `TALKWRITER_ADMIN_BIN` points at
//! another binary. The tests are skipped only when `TALKWRITER_SKIP_DESKTOP=1`.
//! Each test saves a screenshot under `target/screenshots/`. Sync-log export writes into the
//! test's own directory through `TALKWRITER_EXPORT_DIR`, since the native save dialog cannot be
//! driven through WebDriver.

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
    exports: PathBuf,
    _data: tempfile::TempDir,
    _display: Display,
    name: &'static str,
}

impl Desktop {
    async fn start(name: &'static str) -> Desktop {
        let app = app_binary();
        let display = Display::get();
        let data = tempfile::tempdir().unwrap();
        let exports = data.path().join("exports");
        std::fs::create_dir_all(&exports).unwrap();
        let (port, native_port) = (free_port(), free_port());
        let mut driver = Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", &display.name)
            .env("TALKWRITER_DATA_DIR", data.path())
            .env("TALKWRITER_SCIM_LISTEN", "127.0.0.1:0")
            .env("TALKWRITER_EXPORT_DIR", &exports)
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
        // On a loaded 2-core machine the first session now and then fails while WebKitWebDriver
        // starts ("Remote end closed connection"); a second attempt succeeds.
        let mut attempt = 0;
        let client = loop {
            attempt += 1;
            match ClientBuilder::native().capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await
            {
                Ok(c) => break c,
                Err(e) if attempt >= 3 => {
                    // Not yet owned by a `Desktop`, whose Drop would stop it: stop it here.
                    terminate(&mut driver);
                    panic!("could not open a WebDriver session on the app: {e}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        };
        let d = Desktop { client, driver, exports, _data: data, _display: display, name };
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

    /// Clicks `css`, again if the list re-rendered under the pointer (a live update replaces rows).
    async fn click(&self, css: &str) {
        let start = Instant::now();
        loop {
            match self.wait_for(css).await.click().await {
                Ok(()) => return,
                Err(e) if start.elapsed() > WAIT => panic!("could not click {css}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(150)).await,
            }
        }
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

    async fn select(&self, css: &str, value: &str) {
        self.wait_for(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("could not pick {value} in {css}: {e}"));
    }

    /// Switches the window's theme through the document, as the Settings screen does.
    async fn theme(&self, theme: &str) {
        self.client
            .execute("document.documentElement.dataset.theme = arguments[0];", vec![json!(theme)])
            .await
            .unwrap();
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

/// One SCIM request as an IdP sends it, with its User-Agent; answers the status and the body.
async fn scim(
    endpoint: &str,
    token: &str,
    ua: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{endpoint}{path}"))
        .bearer_auth(token)
        .header("user-agent", ua)
        .header("content-type", "application/scim+json");
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let res = req.send().await.expect("the embedded SCIM server must answer");
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

const OKTA: &str = "Okta SCIM Client 1.0.0";
const ENTRA: &str = "Azure Active Directory SCIM Client";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user_body(user_name: &str, given: &str) -> serde_json::Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": { "givenName": given, "familyName": "Test" },
        "emails": [{ "value": user_name, "primary": true, "type": "work" }],
        "active": true
    })
}

/// Proves the sync log shows what IdPs did: an Okta and an Entra sequence sent over HTTP appear
/// live with the right operations and IdPs, the IdP filter narrows them, the detail shows the
/// before/after diff, and the CSV export holds the same rows as the filtered list.
#[tokio::test]
async fn sync_log_shows_okta_and_entra_sequences() {
    use reqwest::Method;
    if skip() {
        return;
    }
    let d = Desktop::start("synclog").await;
    let endpoint = d.endpoint().await;
    d.enable_provisioning().await;
    let token = d.generate_token("Okta and Entra").await;
    d.click("[data-testid=hide-token]").await;
    d.click("[data-testid=tab-synclog]").await;
    d.wait_for("[data-testid=activity-chart]").await;

    // Okta: look the user up, create it, then change the title with a PATCH.
    let (s, _) =
        scim(&endpoint, &token, OKTA, Method::GET, "/Users?filter=userName%20eq%20%22ada%40example.com%22", None).await;
    assert_eq!(s, 200, "Okta's lookup must succeed");
    let (s, ada) =
        scim(&endpoint, &token, OKTA, Method::POST, "/Users", Some(user_body("ada@example.com", "Ada"))).await;
    assert_eq!(s, 201, "Okta creates the user");
    let ada_id = ada["id"].as_str().unwrap().to_string();
    let patch = json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"replace","value":{"title":"Engineer"}}]});
    let (s, _) = scim(&endpoint, &token, OKTA, Method::PATCH, &format!("/Users/{ada_id}"), Some(patch)).await;
    assert_eq!(s, 200, "Okta updates the user");
    // The first rows must show live, pushed from the engine, without reloading the screen.
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |ops| ops.iter().any(|o| o == "Update User"),
        "Okta's update must show live",
    )
    .await;

    // Entra: create, then deactivate with its capitalised op and string boolean.
    let (s, grace) =
        scim(&endpoint, &token, ENTRA, Method::POST, "/Users", Some(user_body("grace@example.com", "Grace"))).await;
    assert_eq!(s, 201, "Entra creates the user");
    let grace_id = grace["id"].as_str().unwrap().to_string();
    let deactivate = json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"Replace","path":"active","value":"False"}]});
    let (s, _) = scim(&endpoint, &token, ENTRA, Method::PATCH, &format!("/Users/{grace_id}"), Some(deactivate)).await;
    assert_eq!(s, 200, "Entra deactivates the user");

    let ops = d
        .wait_attrs(
            "[data-testid=synclog-row]",
            "data-operation",
            |ops| ops.iter().any(|o| o == "Deactivate User"),
            "Entra's deactivation must show live",
        )
        .await;
    for op in ["Lookup", "Create User", "Update User", "Deactivate User"] {
        assert!(ops.iter().any(|o| o == op), "the log must show {op}: {ops:?}");
    }
    let idps = d.attrs("[data-testid=synclog-row]", "data-idp").await;
    assert!(idps.iter().any(|i| i == "Okta") && idps.iter().any(|i| i == "Entra ID"), "both IdPs recognised: {idps:?}");
    d.screenshot("live").await;

    // The IdP filter narrows the rows to Entra's.
    d.select("[data-testid=filter-idp]", "Entra ID").await;
    let entra = d
        .wait_attrs(
            "[data-testid=synclog-row]",
            "data-idp",
            |v| !v.is_empty() && v.iter().all(|i| i == "Entra ID"),
            "the IdP filter must leave only Entra's rows",
        )
        .await;
    let entra_ops = d.attrs("[data-testid=synclog-row]", "data-operation").await;
    assert!(entra_ops.contains(&"Deactivate User".to_string()), "Entra's rows: {entra_ops:?}");
    d.screenshot("filtered").await;

    // The export writes the same rows as the filtered list.
    d.click("[data-testid=export-csv]").await;
    let start = Instant::now();
    let csv = loop {
        let file =
            std::fs::read_dir(&d.exports).unwrap().flatten().find(|f| f.path().extension().is_some_and(|e| e == "csv"));
        if let Some(f) = file {
            let text = std::fs::read_to_string(f.path()).unwrap();
            if !text.is_empty() {
                break text;
            }
        }
        assert!(start.elapsed() < WAIT, "the CSV export was never written to {}", d.exports.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lines: Vec<&str> = csv.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), entra.len(), "the CSV holds the filtered rows, no more, no fewer:\n{csv}");
    assert!(lines.iter().all(|l| l.contains(",Entra ID,")), "every exported row is Entra's:\n{csv}");
    let mut exported_ops: Vec<String> = entra_ops.clone();
    exported_ops.sort();
    let mut csv_ops: Vec<String> = lines.iter().map(|l| l.split(',').nth(3).unwrap_or_default().to_string()).collect();
    csv_ops.sort();
    assert_eq!(csv_ops, exported_ops, "the CSV has the same operations as the list");

    // Back to every IdP; Okta's update shows its diff in the detail panel.
    d.select("[data-testid=filter-idp]", "").await;
    d.click("[data-testid=synclog-row][data-operation='Update User']").await;
    let diff = d
        .wait_until(
            "[data-testid=event-diff]",
            None,
            |t| t.contains("title") && t.contains("Engineer"),
            "the diff shows the title change",
        )
        .await;
    assert!(diff.contains("title"), "{diff}");
    d.wait_for("[data-testid=event-request]").await;
    d.screenshot("detail").await;
    d.theme("dark").await;
    d.screenshot("detail-dark").await;

    // "Other events for this user" narrows the log to Ada.
    d.click("[data-testid=event-others]").await;
    d.wait_for("[data-testid=filter-target]").await;
    let targets = d
        .wait_attrs(
            "[data-testid=synclog-row]",
            "data-operation",
            |v| !v.is_empty() && !v.iter().any(|o| o == "Deactivate User" || o == "Lookup"),
            "only Ada's events remain",
        )
        .await;
    assert!(targets.iter().any(|o| o == "Create User"), "Ada's creation is among her events: {targets:?}");
    d.screenshot("target-dark").await;

    // Paused, a new event waits behind "1 new event"; resuming shows it.
    d.click("[data-testid=live-pause]").await;
    let title = json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"replace","value":{"title":"Lead"}}]});
    let (s, _) = scim(&endpoint, &token, OKTA, Method::PATCH, &format!("/Users/{ada_id}"), Some(title)).await;
    assert_eq!(s, 200, "Okta updates Ada again");
    d.wait_until("[data-testid=live-pending]", None, |t| t == "1 new event", "a paused log counts the new event").await;
    let before = d.attrs("[data-testid=synclog-row]", "data-operation").await.len();
    d.screenshot("paused").await;
    d.click("[data-testid=live-pending]").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |v| v.len() == before + 1,
        "resuming shows the event that waited",
    )
    .await;
    d.stop().await;
}

/// Proves access follows the group rule end to end: users and a group provisioned over HTTP,
/// the rule switched to the group in the window (with the count shown before confirming), and a
/// removal from the group over HTTP revokes access in the Users view and in the sync log.
#[tokio::test]
async fn group_rule_revokes_access_when_removed_from_the_group() {
    use reqwest::Method;
    if skip() {
        return;
    }
    let d = Desktop::start("access").await;
    let endpoint = d.endpoint().await;
    d.enable_provisioning().await;
    let token = d.generate_token("Okta").await;
    d.click("[data-testid=hide-token]").await;

    let (_, ann) =
        scim(&endpoint, &token, OKTA, Method::POST, "/Users", Some(user_body("ann@example.com", "Ann"))).await;
    let (_, _bob) =
        scim(&endpoint, &token, OKTA, Method::POST, "/Users", Some(user_body("bob@example.com", "Bob"))).await;
    let ann_id = ann["id"].as_str().expect("Ann was created").to_string();
    let group = json!({"schemas":[GROUP_SCHEMA],"displayName":"Engineering","members":[{"value": ann_id}]});
    let (s, eng) = scim(&endpoint, &token, OKTA, Method::POST, "/Groups", Some(group)).await;
    assert_eq!(s, 201, "Okta pushes the group");
    let eng_id = eng["id"].as_str().unwrap().to_string();

    d.click("[data-testid=tab-directory]").await;
    d.wait_attrs(
        "[data-testid=user-row]",
        "data-access",
        |v| v.len() == 2 && v.iter().all(|a| a == "has_access"),
        "under the default rule both active users have access",
    )
    .await;
    d.screenshot("users-all").await;

    // Switch to group-based access: the dialog counts who changes before confirming.
    d.click("[data-testid=access-rule-edit]").await;
    d.wait_for("[data-testid=access-rule-dialog][open]").await;
    d.click("[data-testid=access-mode-groups]").await;
    d.click("[data-testid=access-group][data-name=Engineering]").await;
    d.wait_until(
        "[data-testid=access-preview]",
        Some("data-count"),
        |c| c == "1",
        "only Bob, outside Engineering, changes",
    )
    .await;
    d.screenshot("rule-dialog").await;
    d.click("[data-testid=access-rule-dialog-confirm]").await;
    d.wait_until("[data-testid=access-rule]", Some("data-mode"), |m| m == "groups", "the rule is now group-based")
        .await;
    d.wait_until(
        "[data-testid=user-row][data-username='bob@example.com']",
        Some("data-access"),
        |a| a == "no_access",
        "Bob is in no granting group",
    )
    .await;

    // The IdP removes Ann from Engineering: her access is revoked, live.
    let remove = json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"remove","path":format!("members[value eq \"{ann_id}\"]")}]});
    let (s, _) = scim(&endpoint, &token, OKTA, Method::PATCH, &format!("/Groups/{eng_id}"), Some(remove)).await;
    assert!(s == 200 || s == 204, "Okta removes Ann from the group: {s}");
    d.wait_until(
        "[data-testid=user-row][data-username='ann@example.com']",
        Some("data-access"),
        |a| a == "no_access",
        "removal from the only granting group revokes Ann's access",
    )
    .await;
    d.screenshot("users-revoked").await;
    d.click("[data-testid=user-row][data-username='ann@example.com'] td").await;
    d.wait_until(
        "[data-testid=user-access]",
        None,
        |t| t.contains("No access"),
        "the detail says why Ann has no access",
    )
    .await;
    d.screenshot("user-detail").await;
    d.click("[data-testid=user-detail-close]").await;

    // An emergency suspension, with a reason and a confirmation, shows in the list.
    d.click("[data-testid=user-row][data-username='bob@example.com'] td").await;
    d.click("[data-testid=suspend-user]").await;
    d.wait_for("[data-testid=suspend-dialog][open]").await;
    d.wait_for("[data-testid=suspend-reason]").await.send_keys("lost laptop").await.unwrap();
    d.screenshot("suspend-dialog").await;
    d.click("[data-testid=suspend-dialog-confirm]").await;
    d.wait_until(
        "[data-testid=user-access]",
        None,
        |t| t.contains("lost laptop"),
        "the detail gives the admin's reason",
    )
    .await;
    d.wait_until(
        "[data-testid=user-row][data-username='bob@example.com']",
        Some("data-access"),
        |a| a == "suspended",
        "the list shows Bob suspended",
    )
    .await;
    d.click("[data-testid=user-detail-close]").await;

    d.click("[data-testid=tab-synclog]").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |v| v.iter().any(|o| o == "Access Revoked") && v.iter().any(|o| o == "Remove from Group"),
        "the sync log shows the removal and the revocation it caused",
    )
    .await;
    d.click("[data-testid=view-audit]").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |v| v.iter().any(|o| o == "Access Rule Changed") && v.iter().any(|o| o == "User Suspended by Admin"),
        "the audit trail shows the rule change and the suspension",
    )
    .await;
    d.screenshot("audit").await;
    d.stop().await;
}
