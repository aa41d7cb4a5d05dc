//! The harness the desktop tests share: the real `talkwriter-admin` window through tauri-driver
//! and WebKitWebDriver, on its own Xvfb display unless `DISPLAY` is set, with its own data
//! directory and a free SCIM port. Included as a module by each desktop test file; each uses
//! part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub const WAIT: Duration = Duration::from_secs(20);
/// The longest one desktop test's session may run (they take under a minute) before the
/// [`Driver`]'s watchdog stops it.
pub const SESSION_LIMIT: Duration = Duration::from_secs(300);

pub fn skip() -> bool {
    let skip = std::env::var("TALKWRITER_SKIP_DESKTOP").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("desktop test skipped: TALKWRITER_SKIP_DESKTOP=1");
    }
    skip
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

pub fn app_binary() -> PathBuf {
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

pub fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let installed = home.join(".cargo/bin/tauri-driver");
    if installed.is_file() { installed } else { PathBuf::from("tauri-driver") }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for_port(port: u16, child: &mut Child, what: &str) {
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
pub fn terminate(child: &mut Child) {
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

/// tauri-driver's process, watched: if its session outlives its limit, a watchdog thread stops
/// it (SIGTERM, then SIGKILL), so a WebDriver command that never answers fails the test instead
/// of holding the whole run. Dropping it stops the driver, which closes the app; that runs on
/// failure too, so a failed test leaves no driver or app behind.
pub struct Driver {
    child: Child,
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl Driver {
    fn watch(child: Child, what: &'static str, limit: Duration) -> Driver {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = done.clone();
        // The number stays this process's while the watchdog can fire: the child is reaped only
        // in `drop`, after the watchdog is disarmed.
        let pid = child.id();
        std::thread::spawn(move || {
            let (lock, cv) = &*flag;
            let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (guard, _) = cv.wait_timeout_while(guard, limit, |done| !*done).unwrap_or_else(|e| e.into_inner());
            if *guard {
                return;
            }
            drop(guard);
            eprintln!("{what}: the session is still running after {limit:?}; stopping its driver and app");
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
            std::thread::sleep(Duration::from_secs(5));
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
        });
        Driver { child, done }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let (lock, cv) = &*self.done;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        terminate(&mut self.child);
    }
}

/// Saves the app window as `target/screenshots/{file}`, a moment after the last DOM change (the
/// window paints a frame after it; too early shows the previous frame). A failed capture is
/// reported, not fatal: screenshots are for people to look at, not assertions.
pub async fn save_screenshot(client: &Client, display: &str, file: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dir = target_dir().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    match window_png(client, display).await {
        Ok(png) => std::fs::write(dir.join(file), png).unwrap(),
        Err(e) => eprintln!("screenshot {file} failed: {e}"),
    }
}

/// The app window as a PNG, read from the X display `display` within the window's rectangle.
/// Not WebDriver's screenshot: WebKitGTK's waits for the page's next presentation update, which
/// under Xvfb now and then never comes, and every later command of the session then waits
/// behind it (docs/decisions/0024). The X server answers with what is on screen.
async fn window_png(client: &Client, display: &str) -> Result<Vec<u8>, String> {
    let rect = client.get_window_rect().await.map_err(|e| format!("window rectangle: {e}"))?;
    let display = display.to_string();
    tokio::task::spawn_blocking(move || capture(&display, rect)).await.map_err(|e| e.to_string())?
}

/// The pixels of `display`'s root window within `(x, y, width, height)`, clipped to the screen,
/// as an RGB PNG. Handles the 32-bit TrueColor layout Xvfb uses at depth 24.
fn capture(display: &str, (x, y, w, h): (u64, u64, u64, u64)) -> Result<Vec<u8>, String> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ConnectionExt, ImageFormat, ImageOrder};

    let (conn, screen) = x11rb::connect(Some(display)).map_err(|e| format!("X display {display}: {e}"))?;
    let setup = conn.setup();
    let root = &setup.roots[screen];
    let (sw, sh) = (u64::from(root.width_in_pixels), u64::from(root.height_in_pixels));
    let (x, y) = (x.min(sw.saturating_sub(1)), y.min(sh.saturating_sub(1)));
    let (w, h) = (w.clamp(1, sw - x), h.clamp(1, sh - y));
    let (x, y, w, h) = (x as i16, y as i16, w as u16, h as u16);
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, root.root, x, y, w, h, !0)
        .map_err(|e| e.to_string())?
        .reply()
        .map_err(|e| format!("GetImage: {e}"))?;
    let bpp = setup.pixmap_formats.iter().find(|f| f.depth == image.depth).map(|f| f.bits_per_pixel);
    let visual = root
        .allowed_depths
        .iter()
        .flat_map(|d| &d.visuals)
        .find(|v| v.visual_id == image.visual)
        .ok_or("the image's visual is not the screen's")?;
    let masks = (visual.red_mask, visual.green_mask, visual.blue_mask);
    if bpp != Some(32) || masks != (0xff0000, 0xff00, 0xff) {
        return Err(format!("unhandled pixel layout: {bpp:?} bits per pixel, masks {masks:x?}"));
    }
    let pixels = (usize::from(w)) * usize::from(h);
    if image.data.len() < pixels * 4 {
        return Err(format!("GetImage answered {} bytes for {pixels} pixels", image.data.len()));
    }
    let big = setup.image_byte_order == ImageOrder::MSB_FIRST;
    let mut rgb = Vec::with_capacity(pixels * 3);
    for px in image.data.chunks_exact(4).take(pixels) {
        let v =
            if big { u32::from_be_bytes(px.try_into().unwrap()) } else { u32::from_le_bytes(px.try_into().unwrap()) };
        rgb.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, u32::from(w), u32::from(h));
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(png)
}

/// A private X display for one test, unless the environment already has one.
pub struct Display {
    name: String,
    xvfb: Option<Child>,
}

pub static DISPLAY_PICK: Mutex<()> = Mutex::new(());

impl Display {
    pub fn get() -> Display {
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

impl Display {
    /// The display's name, for `DISPLAY` (e.g. `:120`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(x) = &mut self.xvfb {
            terminate(x);
        }
    }
}

/// Starts tauri-driver (its environment, which the app inherits, set by `env`) and opens a
/// WebDriver session on `app`'s window. Returns the session and the driver, watched from before
/// the session is asked for (that request can hang too) until `limit` has passed.
pub async fn open_session(
    app: &Path,
    limit: Duration,
    what: &'static str,
    env: impl FnOnce(&mut Command),
) -> (Client, Driver) {
    let (port, native_port) = (free_port(), free_port());
    let mut cmd = Command::new(tauri_driver());
    cmd.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()]);
    env(&mut cmd);
    let child = cmd
        .stdout(Stdio::null())
        // Not inherited: an orphaned driver would hold the test runner's output pipe open.
        .stderr(Stdio::null())
        .spawn()
        .expect("tauri-driver is not installed: cargo install tauri-driver --locked");
    let mut driver = Driver::watch(child, what, limit);
    wait_for_port(port, &mut driver.child, "tauri-driver");

    let caps = json!({
        "browserName": "wry",
        "tauri:options": { "application": app },
    });
    let serde_json::Value::Object(caps) = caps else { unreachable!() };
    // On a loaded 2-core machine the first session now and then fails while WebKitWebDriver
    // starts ("Remote end closed connection"); a second attempt succeeds.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ClientBuilder::native().capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => return (c, driver),
            // Unwinding drops the driver, which stops it.
            Err(e) if attempt >= 3 => panic!("could not open a WebDriver session on the app: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// One running app in its own data directory, with a WebDriver session on its window.
pub struct Desktop {
    pub client: Client,
    /// Dropped before the data directory and the display: the app stops first.
    _driver: Driver,
    pub exports: PathBuf,
    pub data: tempfile::TempDir,
    display: Display,
    name: &'static str,
}

impl Desktop {
    pub async fn start(name: &'static str) -> Desktop {
        Self::start_with(name, |_| {}).await
    }

    /// Starts the app after `prepare` has filled its data directory (a seeded database).
    pub async fn start_with(name: &'static str, prepare: impl FnOnce(&Path)) -> Desktop {
        let app = app_binary();
        let display = Display::get();
        let data = tempfile::tempdir().unwrap();
        prepare(data.path());
        let exports = data.path().join("exports");
        std::fs::create_dir_all(&exports).unwrap();
        let (client, driver) = open_session(&app, SESSION_LIMIT, name, |cmd| {
            cmd.env("DISPLAY", &display.name)
                .env("TALKWRITER_DATA_DIR", data.path())
                .env("TALKWRITER_SCIM_LISTEN", "127.0.0.1:0")
                .env("TALKWRITER_EXPORT_DIR", &exports)
                .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
        })
        .await;
        let d = Desktop { client, _driver: driver, exports, data, display, name };
        // The checklist renders once the first status arrives from the engine.
        d.wait_for("[data-testid=checklist]").await;
        d
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared in the window: {e}"))
    }

    /// Clicks `css` until `expect` appears: a live update can replace the row between finding
    /// the button and clicking it, and a click on the replaced button does nothing.
    pub async fn click_until(&self, css: &str, expect: &str) -> fantoccini::elements::Element {
        let start = Instant::now();
        loop {
            self.click(css).await;
            let shown = self.client.wait().at_most(Duration::from_secs(2)).for_element(Locator::Css(expect)).await;
            match shown {
                Ok(e) => return e,
                Err(e) if start.elapsed() > WAIT => panic!("{expect} never appeared after clicking {css}: {e}"),
                Err(_) => {}
            }
        }
    }

    /// Clicks `css`, again if the list re-rendered under the pointer (a live update replaces rows).
    pub async fn click(&self, css: &str) {
        let start = Instant::now();
        loop {
            let e = self.wait_for(css).await;
            // Below the fold in a small window: scroll it into view first, as a person would.
            let _ = self.client.execute("arguments[0].scrollIntoView({block: 'center'});", vec![json!(e)]).await;
            match e.click().await {
                Ok(()) => return,
                Err(e) if start.elapsed() > WAIT => panic!("could not click {css}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(150)).await,
            }
        }
    }

    /// Waits until `css`'s property `attr` (or its text, for `None`) satisfies `ok`, and returns it.
    pub async fn wait_until(&self, css: &str, attr: Option<&str>, ok: impl Fn(&str) -> bool, why: &str) -> String {
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

    pub async fn screenshot(&self, step: &str) {
        save_screenshot(&self.client, self.display.name(), &format!("desktop-{}-{step}.png", self.name)).await;
    }

    pub async fn endpoint(&self) -> String {
        self.wait_until(
            "[data-testid=endpoint-url]",
            Some("value"),
            |v| v.starts_with("http://127.0.0.1:"),
            "the local endpoint URL must show",
        )
        .await
    }

    pub async fn enable_provisioning(&self) {
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

    pub async fn generate_token(&self, label: &str) -> String {
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
    pub async fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let mut out = vec![];
        for e in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
            if let Ok(Some(v)) = e.attr(attr).await {
                out.push(v);
            }
        }
        out
    }

    /// Waits until the values of `attr` over `css` satisfy `ok`, and returns them.
    pub async fn wait_attrs(&self, css: &str, attr: &str, ok: impl Fn(&[String]) -> bool, why: &str) -> Vec<String> {
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

    pub async fn select(&self, css: &str, value: &str) {
        self.wait_for(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("could not pick {value} in {css}: {e}"));
    }

    /// Switches the window's theme through the document, as the Settings screen does.
    pub async fn theme(&self, theme: &str) {
        self.client
            .execute("document.documentElement.dataset.theme = arguments[0];", vec![json!(theme)])
            .await
            .unwrap();
    }

    /// The app's database, as `main.rs` names it in the data directory.
    pub fn db(&self) -> PathBuf {
        self.data.path().join("talkwriter.db")
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
        self.wait_until(css, Some("value"), |v| v == text, "the input takes the value").await;
    }

    /// Screenshots of the same screen in the light and the dark theme.
    pub async fn screenshots(&self, step: &str) {
        self.screenshot(&format!("{step}-light")).await;
        self.theme("dark").await;
        self.screenshot(&format!("{step}-dark")).await;
        self.theme("light").await;
    }

    pub async fn scroll_to(&self, css: &str) {
        let e = self.wait_for(css).await;
        self.client.execute("arguments[0].scrollIntoView({block: 'start'});", vec![json!(e)]).await.unwrap();
    }

    pub async fn stop(self) {
        let _ = self.client.clone().close().await;
        // Drop terminates the driver, which closes the app.
    }
}
