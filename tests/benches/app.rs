//! The desktop app's performance figures, on a seeded data set (100,000 users and 1,000,000
//! sync-log events; `--quick` or `APP_BENCH_QUICK=1`: 2,000 and 20,000, one run):
//!
//! - **first_paint**: cold start to the first painted screen. The app is started directly (no
//!   WebDriver) several times; the window reports when its first screen shows the engine's data
//!   and is painted, and the app logs `first screen painted in N ms` (since `main` began). The
//!   benchmark also times from spawning the process to that line (`spawn_ms`, which adds the
//!   loading of the binary and its libraries before `main`).
//! - **idle_memory**: after the last start, the app idles with the first screen open; then the
//!   resident memory of the app process and of its WebKit processes (RSS and PSS).
//! - **sync log**: through tauri-driver, the Sync log tab: each filter (operation, result, free
//!   text, one matching nothing) and scrolling (within the loaded rows, to the end so the next
//!   page loads, and a jump deep into the loaded rows), timed in the page from the change to
//!   the frame after the rows are in the list.
//! - **synclog_idle_cpu**: then, the sync log open with nothing arriving, the CPU the app's
//!   processes use over the idle seconds, as a share of one core.
//!
//! Prints one `BENCH app scenario=...` line per figure, a Markdown table and one
//! `TARGET ... MET|NOT MET` line per target. Timing never goes into `cargo test`.
//!
//! Needs the release app (`npm ci && npm run build` in ui/, then `cargo build --release -p
//! talkwriter-admin`; `--quick` also takes the debug build), `talkwriter-scim` for the seed,
//! tauri-driver, WebKitWebDriver and Xvfb (as the desktop tests). `TALKWRITER_ADMIN_BIN` and
//! `TALKWRITER_SCIM_BIN` point at other binaries. Seeded databases are kept between runs under
//! `target/app-bench/`.
//!
//! ```sh
//! cargo bench -p e2e --bench app                 # full: 100k users, 1M events, 5 starts
//! cargo bench -p e2e --bench app -- --quick      # CI: 2k users, 20k events, 1 start
//! cargo bench -p e2e --bench app -- --runs 9 --idle-secs 30 --repeats 7 --pages 100
//! cargo bench -p e2e --bench app -- --quick --dmabuf-renderer
//! ```
//!
//! Like the desktop tests, the app runs with `WEBKIT_DISABLE_DMABUF_RENDERER=1`;
//! `--dmabuf-renderer` leaves WebKitGTK's default renderer on, as on a desktop where that
//! variable is not set.

#[path = "../desktop_harness.rs"]
mod desktop_harness;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use desktop_harness::{Display, Driver, open_session, save_screenshot, target_dir, terminate};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

const FIRST_PAINT_TARGET_MS: f64 = 1000.0;
const MEMORY_TARGET_MB: f64 = 150.0;
const SYNCLOG_TARGET_MS: f64 = 200.0;
/// The free-text box waits this long after the last keystroke before it asks the engine
/// (`SyncLogTab.svelte`); it is inside the `filter_text` figure.
const TEXT_DEBOUNCE_MS: f64 = 80.0;

struct Opts {
    quick: bool,
    users: u64,
    events: u64,
    runs: usize,
    idle: Duration,
    repeats: usize,
    pages: usize,
    /// WebKitGTK's DMA-BUF renderer stays on (`WEBKIT_DISABLE_DMABUF_RENDERER` is not set).
    dmabuf: bool,
}

impl Opts {
    fn parse() -> Opts {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick") || std::env::var("APP_BENCH_QUICK").is_ok_and(|v| v == "1");
        let value = |name: &str| -> Option<u64> {
            let i = args.iter().position(|a| a == name)?;
            let v = args.get(i + 1)?;
            Some(v.parse().unwrap_or_else(|_| panic!("{name} takes a number, not {v}")))
        };
        let (users, events, runs, idle, repeats, pages) =
            if quick { (2_000, 20_000, 1, 5, 1, 5) } else { (100_000, 1_000_000, 5, 20, 5, 50) };
        Opts {
            quick,
            users: value("--users").unwrap_or(users),
            events: value("--events").unwrap_or(events),
            runs: value("--runs").unwrap_or(runs).max(1) as usize,
            idle: Duration::from_secs(value("--idle-secs").unwrap_or(idle)),
            repeats: value("--repeats").unwrap_or(repeats).max(1) as usize,
            pages: value("--pages").unwrap_or(pages).max(1) as usize,
            dmabuf: args.iter().any(|a| a == "--dmabuf-renderer"),
        }
    }
}

/// One measured figure: a line of output and a row of the table.
struct Figure {
    scenario: &'static str,
    value: f64,
    unit: &'static str,
    extra: Vec<(String, String)>,
    target: Option<f64>,
}

fn main() {
    if desktop_harness::skip() {
        return;
    }
    let opts = Opts::parse();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(opts));
}

async fn run(opts: Opts) {
    let (app, profile) = app_binary(opts.quick);
    let seeded = seed(&opts);
    let data = tempfile::tempdir().unwrap();
    let copy = Instant::now();
    std::fs::copy(&seeded, data.path().join("talkwriter.db")).unwrap();
    write_settings(data.path());
    eprintln!("app: {} ({profile}); data copied in {:.1} s", app.display(), copy.elapsed().as_secs_f64());
    let display = Display::get();
    let mut common = format!("users={} events={} profile={profile}", opts.users, opts.events);
    if opts.dmabuf {
        common.push_str(" renderer=dmabuf");
    }
    let mut figures = vec![];

    // Cold starts. The binary, its libraries and the database were just read (the copy above),
    // so the page cache is warm: these are warm-cache process starts, the common case on a
    // desktop. The first start also applies the retention setting once.
    let mut internal = vec![];
    let mut spawn = vec![];
    let mut page = vec![];
    let mut memory = None;
    for i in 0..opts.runs {
        let last = i + 1 == opts.runs;
        let mut started = start_app(&app, data.path(), display.name(), opts.dmabuf);
        let start = started.painted;
        eprintln!(
            "start {}: first screen painted {:.0} ms after main ({:.0} ms after spawn; page {:.0} ms)",
            i + 1,
            start.internal_ms,
            start.spawn_ms,
            start.page_ms
        );
        internal.push(start.internal_ms);
        spawn.push(start.spawn_ms);
        page.push(start.page_ms);
        if last {
            std::thread::sleep(opts.idle);
            memory = Some(Memory::of(started.child.id(), data.path()));
        }
        terminate(&mut started.child);
        wait_gone(data.path());
    }
    figures.push(Figure {
        scenario: "first_paint",
        value: median(&internal),
        unit: "ms",
        extra: vec![
            kv("runs", opts.runs),
            kv("min_ms", fmt(min(&internal))),
            kv("max_ms", fmt(max(&internal))),
            kv("first_run_ms", fmt(internal[0])),
            kv("spawn_ms", fmt(median(&spawn))),
            kv("page_ms", fmt(median(&page))),
            kv("page_cache", "warm"),
        ],
        target: Some(FIRST_PAINT_TARGET_MS),
    });
    let memory = memory.unwrap();
    for p in &memory.processes {
        eprintln!(
            "  pid {} {}: rss {:.1} MB, pss {:.1} MB (anonymous {:.1} MB, database mapped {:.1} MB)",
            p.pid, p.name, p.rss_mb, p.pss_mb, p.anon_mb, p.db_mb
        );
    }
    figures.push(memory.figure("idle_memory", opts.idle));

    // The sync log, through WebDriver.
    let session = Session::start(&app, data.path(), display.name(), opts.dmabuf).await;
    let sync = synclog(&session, &opts).await;
    figures.extend(sync);
    let after = Memory::of_app(data.path());
    figures.push(after.figure("memory_after_synclog", Duration::ZERO));
    figures.push(idle_cpu(data.path(), opts.idle).await);
    session.screenshot("synclog").await;
    session.stop().await;

    report(&figures, &common);
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn app_binary(quick: bool) -> (PathBuf, &'static str) {
    if let Some(p) = std::env::var_os("TALKWRITER_ADMIN_BIN") {
        return (std::fs::canonicalize(p).unwrap(), "given");
    }
    let release = target_dir().join("release/talkwriter-admin");
    if release.is_file() {
        return (release, "release");
    }
    let debug = target_dir().join("debug/talkwriter-admin");
    assert!(
        quick && debug.is_file(),
        "the release app is missing: run `npm ci && npm run build` in ui/, then \
         `cargo build --release -p talkwriter-admin` (or set TALKWRITER_ADMIN_BIN)"
    );
    eprintln!("no release build: the quick run uses the debug build, whose figures mean nothing");
    (debug, "debug")
}

fn scim_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TALKWRITER_SCIM_BIN") {
        return PathBuf::from(p);
    }
    ["release", "debug"]
        .iter()
        .map(|p| target_dir().join(p).join("talkwriter-scim"))
        .find(|p| p.is_file())
        .expect("talkwriter-scim is missing: cargo build --release -p talkwriter-scim (or set TALKWRITER_SCIM_BIN)")
}

/// The seeded database for these sizes, kept under `target/app-bench/` between runs. It is
/// written under another name and renamed when complete, so an interrupted seed is never used.
fn seed(opts: &Opts) -> PathBuf {
    let dir = target_dir().join("app-bench").join(format!("seed-{}-{}", opts.users, opts.events));
    let db = dir.join("talkwriter.db");
    if db.is_file() {
        return db;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let partial = dir.join("seeding.db");
    for f in ["seeding.db", "seeding.db-wal", "seeding.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let start = Instant::now();
    let status = Command::new(scim_binary())
        .arg("seed")
        .arg("--db")
        .arg(&partial)
        .args(["--users", &opts.users.to_string(), "--events", &opts.events.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("could not run talkwriter-scim seed");
    assert!(status.success(), "talkwriter-scim seed failed: {status}");
    std::fs::rename(&partial, &db).unwrap();
    eprintln!("seeded {} users and {} events in {:.1} s", opts.users, opts.events, start.elapsed().as_secs_f64());
    db
}

/// The seeded events date from 2020: the app's default retention (30 days) would delete them
/// at the first start, so the benchmark keeps the log for ten years.
fn write_settings(data: &Path) {
    let settings = json!({ "settings": { "logRetentionDays": 3650 } });
    std::fs::write(data.join("settings.json"), settings.to_string()).unwrap();
}

fn app_env(cmd: &mut Command, data: &Path, display: &str, dmabuf: bool) {
    cmd.env("DISPLAY", display)
        .env("TALKWRITER_DATA_DIR", data)
        .env("TALKWRITER_SCIM_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    if dmabuf {
        cmd.env_remove("WEBKIT_DISABLE_DMABUF_RENDERER");
    } else {
        cmd.env("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
}

struct Started {
    child: Child,
    painted: Paint,
}

struct Paint {
    internal_ms: f64,
    spawn_ms: f64,
    page_ms: f64,
}

const PAINTED: &str = "first screen painted in ";

/// Starts the app and waits for its `first screen painted in N ms (page M ms)` line.
fn start_app(app: &Path, data: &Path, display: &str, dmabuf: bool) -> Started {
    let mut cmd = Command::new(app);
    app_env(&mut cmd, data, display, dmabuf);
    let spawned = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("could not start the app");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(at) = line.find(PAINTED) {
                let _ = tx.send((spawned.elapsed(), line[at + PAINTED.len()..].to_string()));
            }
        }
    });
    let (seen, rest) = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(v) => v,
        Err(_) => {
            terminate(&mut child);
            panic!("the app did not report its first paint within 120 s");
        }
    };
    let number =
        |s: &str| -> f64 { s.split(|c: char| !c.is_ascii_digit() && c != '.').next().unwrap().parse().unwrap() };
    let internal_ms = number(&rest);
    let page_ms = rest.split("(page ").nth(1).map(number).unwrap_or(f64::NAN);
    Started { child, painted: Paint { internal_ms, spawn_ms: seen.as_secs_f64() * 1000.0, page_ms } }
}

/// Waits until no process of this data directory is left (the WebKit processes exit after the
/// app), so the next start is a cold one.
fn wait_gone(data: &Path) {
    let start = Instant::now();
    while !processes_of(data).is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The processes started with this data directory in their environment: the app and the WebKit
/// processes it starts, which inherit its environment.
fn processes_of(data: &Path) -> Vec<u32> {
    let needle = format!("TALKWRITER_DATA_DIR={}", data.display());
    let mut out = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else { continue };
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

struct Proc {
    pid: u32,
    name: String,
    rss_mb: f64,
    pss_mb: f64,
    /// The process's own memory (heap, stacks): `Pss_Anon`.
    anon_mb: f64,
    /// Pages of the database file mapped by SQLite (`PRAGMA mmap_size`): the page cache, counted
    /// as resident while mapped.
    db_mb: f64,
}

struct Memory {
    processes: Vec<Proc>,
    app_pid: u32,
}

impl Memory {
    /// The app process and every process under it or sharing its data directory.
    fn of(app_pid: u32, data: &Path) -> Memory {
        let mut pids: Vec<u32> = descendants(app_pid);
        for p in processes_of(data) {
            // The WebDriver processes carry the data directory too; they are not the app.
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if !pids.contains(&p) && !matches!(comm.trim(), "tauri-driver" | "WebKitWebDriver") {
                pids.push(p);
            }
        }
        let processes = pids.into_iter().filter_map(read_proc).collect();
        Memory { processes, app_pid }
    }

    /// The same for an app started by WebKitWebDriver: the app is the process of this data
    /// directory whose binary is the app's.
    fn of_app(data: &Path) -> Memory {
        let pids = processes_of(data);
        let app_pid = pids
            .iter()
            .copied()
            .find(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "talkwriter-admi"))
            .unwrap_or(0);
        Memory::of(app_pid, data)
    }

    fn figure(&self, scenario: &'static str, idle: Duration) -> Figure {
        let app = self.processes.iter().find(|p| p.pid == self.app_pid);
        let total_pss: f64 = self.processes.iter().map(|p| p.pss_mb).sum();
        let total_rss: f64 = self.processes.iter().map(|p| p.rss_mb).sum();
        let mut extra = vec![
            kv("app_rss_mb", fmt(app.map_or(0.0, |a| a.rss_mb))),
            kv("app_pss_mb", fmt(app.map_or(0.0, |a| a.pss_mb))),
            kv("total_rss_mb", fmt(total_rss)),
            kv("total_pss_mb", fmt(total_pss)),
            kv("total_anon_mb", fmt(self.processes.iter().map(|p| p.anon_mb).sum::<f64>())),
            kv("db_mapped_mb", fmt(self.processes.iter().map(|p| p.db_mb).sum::<f64>())),
            kv("processes", self.processes.len()),
        ];
        let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
        for p in &self.processes {
            *by_name.entry(p.name.clone()).or_default() += p.pss_mb;
        }
        for (name, pss) in by_name {
            extra.push(kv(&format!("pss_mb[{name}]"), fmt(pss)));
        }
        if idle > Duration::ZERO {
            extra.push(kv("idle_s", idle.as_secs()));
        }
        Figure {
            scenario,
            value: total_pss,
            unit: "MB",
            extra,
            target: (scenario == "idle_memory").then_some(MEMORY_TARGET_MB),
        }
    }
}

/// The CPU the app's processes use while the sync log sits open with nothing arriving, as a
/// share of one core: what an open window costs a laptop's battery. Starts after a pause, so
/// the last measurement's work (the chart's counting) is over.
async fn idle_cpu(data: &Path, idle: Duration) -> Figure {
    // USER_HZ: the unit of `utime` and `stime` in /proc/PID/stat, 100 on Linux's ABI.
    const TICKS_PER_S: f64 = 100.0;
    // Each process's name and CPU ticks so far (utime and stime, fields 14 and 15), by pid.
    let ticks = |pids: &[u32]| -> BTreeMap<u32, (String, u64)> {
        let mut by_pid = BTreeMap::new();
        for &pid in pids {
            let Some((name, f)) = proc_stat(pid) else { continue };
            let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            by_pid.insert(pid, (name, field(14) + field(15)));
        }
        by_pid
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pids: Vec<u32> = Memory::of_app(data).processes.iter().map(|p| p.pid).collect();
    let before = ticks(&pids);
    let start = Instant::now();
    tokio::time::sleep(idle).await;
    let after = ticks(&pids);
    let secs = start.elapsed().as_secs_f64();
    // Only processes read at both ends count, each for what it used in between.
    let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
    for (pid, (name, t)) in &after {
        if let Some((_, t0)) = before.get(pid) {
            *by_name.entry(name.clone()).or_default() += 100.0 * t.saturating_sub(*t0) as f64 / TICKS_PER_S / secs;
        }
    }
    let mut extra = vec![kv("idle_s", fmt(secs))];
    extra.extend(by_name.iter().map(|(name, pct)| kv(&format!("cpu_pct[{name}]"), fmt(*pct))));
    let total = by_name.values().sum();
    Figure { scenario: "synclog_idle_cpu", value: total, unit: "pct", extra, target: None }
}

/// A process's name and the fields of `/proc/PID/stat` after it, from field 3 on (the name is in
/// parentheses and may hold spaces).
fn proc_stat(pid: u32) -> Option<(String, Vec<String>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(').map_or("", |(_, n)| n).to_string();
    Some((name, rest.split_whitespace().map(str::to_string).collect()))
}

fn descendants(root: u32) -> Vec<u32> {
    let mut parent = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        // Field 4: the parent's pid.
        if let Some(ppid) = proc_stat(pid).and_then(|(_, f)| f.get(1)?.parse::<u32>().ok()) {
            parent.insert(pid, ppid);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

fn read_proc(pid: u32) -> Option<Proc> {
    let kb = |file: &str, key: &str| -> Option<f64> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse::<f64>().ok()
    };
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_string();
    let rss = kb("status", "VmRSS:")?;
    let pss = kb("smaps_rollup", "Pss:").unwrap_or(f64::NAN);
    let anon = kb("smaps_rollup", "Pss_Anon:").unwrap_or(f64::NAN);
    // Each mapping's header line names its file; its `Pss:` line follows.
    let mut db = 0.0;
    let mut in_db = false;
    for line in std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default().lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            in_db = line.ends_with("/talkwriter.db");
        } else if in_db && let Some(v) = line.strip_prefix("Pss:") {
            db += v.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        }
    }
    Some(Proc { pid, name, rss_mb: rss / 1024.0, pss_mb: pss / 1024.0, anon_mb: anon / 1024.0, db_mb: db / 1024.0 })
}

/// The app under tauri-driver, with a WebDriver session on its window.
struct Session {
    client: Client,
    _driver: Driver,
    display: String,
}

impl Session {
    async fn start(app: &Path, data: &Path, display: &str, dmabuf: bool) -> Session {
        // The measurements over a million events take a few minutes at most.
        let limit = Duration::from_secs(900);
        let (client, driver) = open_session(app, limit, "app bench", |cmd| app_env(cmd, data, display, dmabuf)).await;
        let s = Session { client, _driver: driver, display: display.to_string() };
        s.wait_for("[data-testid=checklist]").await;
        s
    }

    async fn wait_for(&self, css: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared in the window: {e}"));
    }

    /// Runs `action` in the page and answers how long until `done` held.
    async fn measure(&self, action: &str, arg: Value) -> Timing {
        let v = self
            .client
            .execute_async(
                "window.__bench.measure(arguments[0], arguments[1]).then(arguments[2]);",
                vec![json!(action), arg],
            )
            .await
            .unwrap_or_else(|e| panic!("measuring {action} failed: {e}"));
        if let Some(e) = v.get("error") {
            self.screenshot("timeout").await;
            panic!("{action}: {e}");
        }
        Timing { dom: v["dom"].as_f64().unwrap(), frame: v["frame"].as_f64().unwrap() }
    }

    async fn screenshot(&self, step: &str) {
        save_screenshot(&self.client, &self.display, &format!("app-bench-{step}.png")).await;
    }

    async fn stop(self) {
        let _ = self.client.clone().close().await;
        // Drop terminates the driver, which closes the app.
    }
}

struct Timing {
    /// Until the rows were in the list.
    dom: f64,
    /// Until the frame after that: the rows are on screen.
    frame: f64,
}

/// Installed in the page: each measurement applies a change as the admin would (a select's
/// `change`, the search box's `input`, the list's `scrollTop`) and waits, watching the DOM, for
/// the rows that change must show; then for two animation frames, so the rows were painted.
const PAGE_SCRIPT: &str = r#"
window.__bench = (() => {
  const q = (css) => document.querySelector(css);
  const rows = () => Array.from(document.querySelectorAll("[data-testid=synclog-row]"));
  const cell = (r, i) => (r.children[i]?.textContent ?? "").trim();
  const viewport = () => q("[data-testid=synclog-table] .viewport");
  const select = (id, v) => {
    const s = q(`[data-testid=${id}]`);
    s.value = v;
    s.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const type = (v) => {
    const i = q("[data-testid=filter-text]");
    i.value = v;
    i.dispatchEvent(new Event("input", { bubbles: true }));
  };
  const seeded = new Set(["Create User", "Lookup", "Deactivate User"]);
  // The whole log: rows of more than one seeded operation.
  const mixed = () => {
    const ops = new Set(rows().map((r) => r.dataset.operation).filter((o) => seeded.has(o)));
    return ops.size > 1 && !q("[data-testid=filter-clear]");
  };
  const all = (pred) => () => { const r = rows(); return r.length > 0 && r.every(pred); };
  const empty = () => !q("[data-testid=synclog-table]") && (q(".log")?.textContent ?? "").includes("No events match");
  const scrollTo = (i) => { const v = viewport(); v.scrollTop = i * 34; };
  const index = (i) => () => !!q(`[data-testid=synclog-row][data-index="${i}"]`);
  const loaded = () => rows().reduce((m, r) => Math.max(m, Number(r.dataset.index)), -1) + 1;
  const count = () => parseInt((q("[data-testid=synclog-count]")?.textContent ?? "0").replace(/[^0-9]/g, ""), 10);
  const actions = {
    range_recent: () => [() => select("filter-range", "24h"), () => !rows().some((r) => seeded.has(r.dataset.operation))],
    range_all: () => [() => select("filter-range", "all"), mixed],
    operation: (op) => [() => select("filter-operation", op), all((r) => r.dataset.operation === op)],
    operation_none: (op) => [() => select("filter-operation", op), empty],
    operation_clear: () => [() => select("filter-operation", ""), mixed],
    result: (v) => [() => select("filter-result", v), all((r) => /· [45]\d\d/.test(cell(r, 4)))],
    result_clear: () => [() => select("filter-result", ""), mixed],
    text: (t) => [() => type(t), all((r) => cell(r, 3) === t)],
    text_clear: () => [() => type(""), mixed],
    scroll_to: (i) => [() => scrollTo(i), index(i)],
    scroll_end: () => {
      const n = count();
      return [() => { const v = viewport(); v.scrollTop = v.scrollHeight; }, index(n)];
    },
  };
  function measure(name, arg) {
    return new Promise((resolve) => {
      const [act, done] = actions[name](arg);
      let finished = false;
      let t0 = 0;
      const stop = () => { finished = true; obs.disconnect(); clearInterval(poll); };
      const check = () => {
        if (finished) return;
        if (done()) {
          const dom = performance.now() - t0;
          stop();
          requestAnimationFrame(() => requestAnimationFrame(() => resolve({ dom, frame: performance.now() - t0, rows: count() })));
        } else if (performance.now() - t0 > 30000) {
          stop();
          resolve({ error: `not done after 30 s (rows: ${rows().length}, count: ${count()})` });
        }
      };
      const obs = new MutationObserver(check);
      obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
      const poll = setInterval(check, 4);
      t0 = performance.now();
      act();
    });
  }
  // One command's answer alone, without the list: IPC and the engine.
  async function engine(cmd, args) {
    const t0 = performance.now();
    await window.__TAURI_INTERNALS__.invoke(cmd, args);
    return performance.now() - t0;
  }
  return { measure, engine, loaded, count };
})();
"#;

async fn synclog(s: &Session, opts: &Opts) -> Vec<Figure> {
    s.client.execute(PAGE_SCRIPT, vec![]).await.unwrap();
    s.client.find(Locator::Css("[data-testid=tab-synclog]")).await.unwrap().click().await.unwrap();
    s.wait_for("[data-testid=filter-range]").await;
    // The list's first answer, so the first measurement starts from a settled screen.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settle = || tokio::time::sleep(Duration::from_millis(400));
    let text = format!("user{}@seed.example.com", opts.users / 2);
    let mut samples: BTreeMap<&'static str, Vec<Timing>> = BTreeMap::new();

    // Each step is an admin's change, then a pause; the named ones are measured, the others
    // put the screen back (clear a filter, scroll back up) for the next.
    let steps: [(&str, Value, Option<&'static str>); 12] = [
        ("range_all", Value::Null, Some("filter_range_all")),
        ("operation", json!("Deactivate User"), Some("filter_operation")),
        ("operation_clear", Value::Null, None),
        ("result", json!("failure"), Some("filter_result")),
        ("result_clear", Value::Null, None),
        ("text", json!(text), Some("filter_text")),
        ("text_clear", Value::Null, None),
        ("operation_none", json!("Delete User"), Some("filter_operation_none")),
        ("operation_clear", Value::Null, None),
        ("scroll_to", json!(150), Some("scroll_loaded")),
        ("scroll_to", json!(0), None),
        ("range_recent", Value::Null, None),
    ];
    for repeat in 1..=opts.repeats {
        for (action, value, figure) in &steps {
            // The last repeat leaves the range on "all" for the scrolls below.
            if *action == "range_recent" && repeat == opts.repeats {
                continue;
            }
            let t = s.measure(action, value.clone()).await;
            if let Some(figure) = figure {
                samples.entry(figure).or_default().push(t);
            }
            settle().await;
        }
    }
    s.screenshot("filtered").await;

    // Deeper and deeper: each scroll to the end loads the next page of 200 older events.
    for _ in 0..opts.pages {
        let t = s.measure("scroll_end", Value::Null).await;
        samples.entry("scroll_next_page").or_default().push(t);
        settle().await;
    }
    let loaded = s.client.execute("return window.__bench.count();", vec![]).await.unwrap().as_u64().unwrap_or(0);
    // Jumps far into the loaded rows, as dragging the scrollbar does.
    for k in 0..opts.repeats {
        let at = loaded * (if k % 2 == 0 { 9 } else { 5 }) / 10;
        let t = s.measure("scroll_to", json!(at)).await;
        samples.entry("scroll_jump_deep").or_default().push(t);
        settle().await;
    }
    s.screenshot("deep").await;

    // The same queries to the engine alone (IPC included), and the commands the first screen
    // and the other tabs load at start: what the figures above spend outside the page.
    let query = |q: Value| {
        let mut full = json!({
            "beforeId": null, "afterId": null, "since": null, "until": null, "operation": null,
            "result": null, "idp": null, "text": null, "targetId": null, "limit": 200,
        });
        full.as_object_mut().unwrap().extend(q.as_object().unwrap().clone());
        json!({ "query": full })
    };
    let deep_id = (opts.events / 10).max(2);
    let calls: Vec<(&'static str, &str, Value)> = vec![
        ("filter_range_all", "query_events", query(json!({}))),
        ("filter_operation", "query_events", query(json!({ "operation": "Deactivate User" }))),
        ("filter_result", "query_events", query(json!({ "result": "failure" }))),
        ("filter_text", "query_events", query(json!({ "text": text }))),
        ("filter_operation_none", "query_events", query(json!({ "operation": "Delete User" }))),
        ("engine_page_deep", "query_events", query(json!({ "beforeId": deep_id }))),
        ("engine_get_status", "get_status", json!({})),
        ("engine_get_server_info", "get_server_info", json!({})),
        ("engine_list_tokens", "list_tokens", json!({})),
        ("engine_get_settings", "get_settings", json!({})),
        ("engine_get_mapping", "get_mapping", json!({})),
    ];
    let mut engine: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for _ in 0..opts.repeats {
        for (name, cmd, args) in &calls {
            let v = s
                .client
                .execute_async(
                    "window.__bench.engine(arguments[0], arguments[1]).then(arguments[2]);",
                    vec![json!(cmd), args.clone()],
                )
                .await
                .unwrap_or_else(|e| panic!("{cmd} failed: {e}"));
            engine.entry(name).or_default().push(v.as_f64().unwrap());
        }
    }

    let mut out = vec![];
    for (scenario, t) in samples {
        let frame: Vec<f64> = t.iter().map(|t| t.frame).collect();
        let dom: Vec<f64> = t.iter().map(|t| t.dom).collect();
        let mut extra =
            vec![kv("dom_ms", fmt(median(&dom))), kv("max_ms", fmt(max(&frame))), kv("samples", frame.len())];
        if scenario == "filter_text" {
            extra.push(kv("debounce_ms", TEXT_DEBOUNCE_MS));
            extra.push(kv("after_debounce_ms", fmt(median(&frame) - TEXT_DEBOUNCE_MS)));
        }
        if scenario == "scroll_next_page" {
            extra.push(kv("loaded_rows", loaded));
        }
        if scenario == "scroll_jump_deep" {
            extra.push(kv("loaded_rows", loaded));
        }
        if let Some(e) = engine.get(scenario) {
            extra.insert(1, kv("engine_ms", fmt(median(e))));
        }
        out.push(Figure { scenario, value: median(&frame), unit: "ms", extra, target: Some(SYNCLOG_TARGET_MS) });
    }
    for (scenario, e) in engine.into_iter().filter(|(n, _)| n.starts_with("engine_")) {
        let mut extra = vec![kv("max_ms", fmt(max(&e))), kv("samples", e.len())];
        if scenario == "engine_page_deep" {
            extra.push(kv("before_id", deep_id));
        }
        out.push(Figure { scenario, value: median(&e), unit: "ms", extra, target: None });
    }
    out
}

fn report(figures: &[Figure], common: &str) {
    println!();
    for f in figures {
        let unit = f.unit.to_lowercase();
        let extra: String = f.extra.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        println!("BENCH app scenario={} value_{unit}={:.1}{extra} {common}", f.scenario, f.value);
    }
    println!();
    println!("| scenario | value | target | |");
    println!("|---|---:|---:|---|");
    for f in figures {
        let (target, verdict) = match f.target {
            Some(t) => (format!("< {t:.0} {}", f.unit), if f.value < t { "MET" } else { "NOT MET" }),
            None => (String::new(), ""),
        };
        println!("| {} | {:.1} {} | {target} | {verdict} |", f.scenario, f.value, f.unit);
    }
    println!();
    for f in figures {
        if let Some(t) = f.target {
            let verdict = if f.value < t { "MET" } else { "NOT MET" };
            println!("TARGET {}: {:.1} {} (< {t:.0} {}) {verdict}", f.scenario, f.value, f.unit, f.unit);
        }
    }
}
