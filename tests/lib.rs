//! Helpers for the end-to-end tests: build and locate the real binaries, start them on free
//! ports with their own data directory, and stop them the way an operator would.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_path_buf()
}

/// Builds (if needed) and returns the path of a workspace binary. `env_override` names an
/// environment variable that, when set, points at a prebuilt binary instead.
pub fn binary(package: &str, name: &str, env_override: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env_override) {
        return PathBuf::from(p);
    }
    // Build once per test process: a no-op `cargo build` still costs a lock and a scan per call.
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(n, _)| n == name) {
        return p.clone();
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", package, "--bin", name])
        .current_dir(workspace())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {name} failed");
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace().join("target"));
    let path = target.join("debug").join(name);
    built.push((name.to_string(), path.clone()));
    path
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `addr` accepts connections.
pub fn wait_for_port(addr: &str, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A running `talkwriter-scim serve`.
pub struct ScimServer {
    pub child: Child,
    pub base: String,
    pub db: PathBuf,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

/// The database for one test's server: `scim.db` in `dir`, or a fresh PostgreSQL database
/// when `TALKWRITER_TEST_DATABASE_URL` names a PostgreSQL server (the test command runs the
/// engine's suites on both).
pub fn test_database(dir: &Path) -> String {
    match provisioning::testing::postgres_url() {
        Some(server) => std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(provisioning::testing::fresh_postgres_database(&server)).expect("a fresh PostgreSQL database")
        })
        .join()
        .unwrap(),
        None => dir.join("scim.db").to_str().unwrap().to_string(),
    }
}

impl ScimServer {
    /// Starts `talkwriter-scim serve --db DB --listen 127.0.0.1:PORT`, output captured to files
    /// beside the SQLite file.
    pub fn start(db: &Path) -> ScimServer {
        Self::start_logging_to(db.to_str().unwrap(), db.parent().unwrap())
    }

    /// Starts `talkwriter-scim serve --db DB` for a SQLite path or a database URL, its output
    /// captured to files in `dir`.
    pub fn start_logging_to(db: &str, dir: &Path) -> ScimServer {
        let bin = binary("talkwriter-scim", "talkwriter-scim", "TALKWRITER_SCIM_BIN");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let stdout_path = dir.join(format!("serve-{port}.out"));
        let stderr_path = dir.join(format!("serve-{port}.err"));
        let child = Command::new(bin)
            .args(["serve", "--db"])
            .arg(db)
            .args(["--listen", &addr])
            .stdout(Stdio::from(std::fs::File::create(&stdout_path).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
            .spawn()
            .expect("talkwriter-scim starts");
        assert!(wait_for_port(&addr, Duration::from_secs(20)), "talkwriter-scim listens on {addr}");
        ScimServer { child, base: format!("http://{addr}"), db: PathBuf::from(db), stdout_path, stderr_path }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        terminate(&mut self.child)
    }
}

/// Sends SIGTERM to a child and waits (up to 10 s, then kills it).
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI with arguments and returns (status, stdout, stderr).
pub fn cli(args: &[&str]) -> (bool, String, String) {
    let bin = binary("talkwriter-scim", "talkwriter-scim", "TALKWRITER_SCIM_BIN");
    let out = Command::new(bin).args(args).output().expect("talkwriter-scim runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// The sync log as `talkwriter-scim events --json` prints it, once the server's batched read
/// events have landed: read until two reads a moment apart agree (at most 10 s).
pub fn settled_events(db: &str, limit: usize) -> Vec<serde_json::Value> {
    let limit = limit.to_string();
    let read = || {
        let (ok, out, err) = cli(&["events", "--db", db, "--json", "--limit", &limit]);
        assert!(ok, "{err}");
        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<serde_json::Value>>()
    };
    let start = Instant::now();
    let mut last = read();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = read();
        if now.len() == last.len() || start.elapsed() > Duration::from_secs(10) {
            return now;
        }
        last = now;
    }
}
