//! `loadgen`: the load benchmark. For each data-set size it seeds a database in bulk (cached
//! between runs), starts the release `talkwriter-scim serve` on 127.0.0.1, and drives each
//! scenario with closed-loop keep-alive connections; a bare axum hello-world (the ceiling) and
//! raw inserts at the server's durability (the create baseline) run in the same run.
//! It prints one `BENCH ...` line per scenario and a table with the target ratios.
//!
//! The store is a SQLite file by default. With `--db postgres://...` loadgen seeds its own
//! databases on that PostgreSQL server (`loadgen_<users>`, copied to `loadgen_<users>_run` for
//! each run) and starts `--instances` servers on the copy, spreading the connections across
//! them round-robin.
//!
//! `cargo run --release -p loadgen -- --sizes 10000,100000,1000000` runs it all;
//! `cargo run --release -p loadgen -- --quick` is the smoke run.

mod load;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Parser;
use hyper::Method;
use serde_json::{Value, json};

use load::{Bounds, Measured, Req};
use provisioning::seed::{seed_created, seed_group_id, seed_user_id, seed_user_name};

#[derive(Parser, Clone)]
#[command(about = "Load benchmark of talkwriter-scim (release build) against a bare axum ceiling")]
struct Args {
    /// Data-set sizes (users), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<u64>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    conns: usize,
    /// Seconds each scenario is measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unrecorded warm-up before each scenario.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// At most this many requests per scenario.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// Smoke run: 2,000 users, 1 s per scenario, 16 connections (overrides the above).
    #[arg(long)]
    quick: bool,
    /// Scenarios to run (default: all), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Threads of the load generator's own runtime (the server and the ceiling use their defaults).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Where seeded databases are cached and runs happen [default: loadgen-data beside this
    /// binary: <target>/release/loadgen-data for a release build].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The talkwriter-scim binary [default: the one beside this binary, built first in this binary's
    /// profile: `cargo build --release` for a release load generator].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Seed again even when a cached data set exists.
    #[arg(long)]
    reseed: bool,
    /// Start the server with successful reads left out of the sync log, to measure what the log
    /// costs under load (compare with a run without it).
    #[arg(long)]
    no_read_log: bool,
    /// Run against this PostgreSQL server instead of SQLite files (`postgres://user@host:port/db`;
    /// the database named there is only used to create and drop loadgen's own databases).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Server instances sharing the database (PostgreSQL only); connections are spread across
    /// them round-robin.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    instances: u16,
    /// Serves the bare axum hello-world ceiling (used by the benchmark itself).
    #[arg(long, hide = true)]
    hello: Option<SocketAddr>,
}

/// The peers' figures from issue 8 (requests/s, about 4,000 users): scim2-server, SCIMMY.
const PEERS: &[(&str, f64, f64)] = &[
    ("create", 420.0, 800.0),
    ("get_by_id", 450.0, 1400.0),
    ("username_eq", 350.0, 70.0),
    ("list_first", 11.0, 0.8),
    ("patch_deactivate", 300.0, 470.0),
    ("member_add_big", 9.0, 5.0),
];

const SCENARIOS: &[&str] = &[
    "hello",
    "raw_insert",
    "create",
    "get_by_id",
    "username_eq",
    "list_first",
    "list_deep",
    "list_cursor",
    "patch_deactivate",
    "member_add_big",
    "member_add_empty",
    "events_filter",
    "events_text",
];

fn main() -> Result<()> {
    let mut args = Args::parse();
    if let Some(addr) = args.hello {
        return hello(addr);
    }
    if let Some(o) = args.only.iter().find(|o| !SCENARIOS.contains(&o.as_str())) {
        bail!("unknown scenario {o:?}; the scenarios are {}", SCENARIOS.join(", "));
    }
    match &args.db {
        Some(url) if !matches!(provisioning::Location::parse(url), Ok(provisioning::Location::Postgres(_))) => {
            bail!("--db takes a PostgreSQL server URL (postgres://...); SQLite is the default without --db")
        }
        // Two processes on one SQLite file would fight over its single write lock in SQLite's
        // busy handler; several instances are what the PostgreSQL store is for.
        None if args.instances > 1 => bail!("--instances above 1 needs --db postgres://..."),
        _ => {}
    }
    if args.quick {
        args.sizes = vec![2000];
        args.duration = 1.0;
        args.warmup = 0.2;
        args.conns = 16;
        args.max_requests = 20_000;
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.client_threads.max(1)).enable_all().build()?;
    rt.block_on(run(args))
}

/// The ceiling: axum's hello-world on a default multi-threaded runtime, as the server runs.
fn hello(addr: SocketAddr) -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

struct Row {
    scenario: String,
    users: u64,
    conns: usize,
    m: Measured,
    note: String,
    backend: &'static str,
    instances: u16,
}

impl Row {
    fn bench_line(&self) -> String {
        format!(
            "BENCH scenario={} users={} conns={} requests={} errors={} secs={:.2} rps={:.1} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}{} backend={} instances={}",
            self.scenario,
            self.users,
            self.conns,
            self.m.requests,
            self.m.errors,
            self.m.secs,
            self.m.rps(),
            self.m.p50_ms,
            self.m.p90_ms,
            self.m.p99_ms,
            self.m.max_ms,
            if self.note.is_empty() { String::new() } else { format!(" {}", self.note) },
            self.backend,
            self.instances
        )
    }
}

/// Where the data lives.
#[derive(Clone)]
enum Store {
    /// SQLite files in the work directory.
    Sqlite,
    /// Databases that loadgen creates on this PostgreSQL server.
    Postgres { server: String },
}

impl Store {
    fn name(&self) -> &'static str {
        match self {
            Store::Sqlite => "sqlite",
            Store::Postgres { .. } => "postgres",
        }
    }
}

struct Ctx {
    args: Args,
    bounds: Bounds,
    store: Store,
    rows: Vec<Row>,
}

impl Ctx {
    fn push(&mut self, scenario: &str, users: u64, conns: usize, m: Measured, note: String) {
        let (backend, instances) = (self.store.name(), self.args.instances);
        let row = Row { scenario: scenario.into(), users, conns, m, note, backend, instances };
        println!("{}", row.bench_line());
        if let Some(e) = &row.m.first_error {
            println!("  first error of {scenario}: {e}");
        }
        self.rows.push(row);
    }
    fn wants(&self, s: &str) -> bool {
        self.args.only.is_empty() || self.args.only.iter().any(|o| o == s)
    }
}

async fn run(args: Args) -> Result<()> {
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("the loadgen binary has no directory")?.to_path_buf();
    let work = args.work_dir.clone().unwrap_or_else(|| bin_dir.join("loadgen-data"));
    std::fs::create_dir_all(&work)?;
    let server_bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => build_server(&bin_dir)?,
    };
    let bounds = Bounds {
        conns: args.conns,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        max_requests: args.max_requests,
    };
    let store = match &args.db {
        Some(url) => Store::Postgres { server: url.clone() },
        None => Store::Sqlite,
    };
    println!(
        "# loadgen: {} cpus, {} connections, {:.1} s per scenario (+{:.1} s warm-up), client threads {}, backend {}, {} server instance(s)",
        cpus(),
        args.conns,
        args.duration,
        args.warmup,
        args.client_threads,
        store.name(),
        args.instances
    );
    let mut ctx = Ctx { args: args.clone(), bounds, store, rows: vec![] };

    for &n in &args.sizes {
        // The ceiling and the raw baseline are measured right before each data set, so every
        // ratio compares numbers taken minutes apart at most, on a machine others may share.
        baselines(&mut ctx, &exe, &work, n).await?;
        size(&mut ctx, &server_bin, &work, n).await?;
    }
    report(&ctx);
    Ok(())
}

/// The bare axum ceiling and the raw SQLite insert baseline, recorded under data-set size `n`.
async fn baselines(ctx: &mut Ctx, exe: &Path, work: &Path, n: u64) -> Result<()> {
    let bounds = ctx.bounds;
    // The ceiling, in its own process as the server is.
    if ctx.wants("hello") {
        let addr = free_addr()?;
        let mut child = Command::new(exe).arg("--hello").arg(addr.to_string()).stdout(Stdio::null()).spawn()?;
        let ready = wait_ready(addr, "/", &mut child, None).await;
        if ready.is_err() {
            stop(&mut child);
        }
        ready?;
        let m = load::http(&[addr], None, bounds, Arc::new(|_, _| Req::get("/".into())), None).await;
        stop(&mut child);
        ctx.push("hello_ceiling", n, bounds.conns, m?, String::new());
    }
    if ctx.wants("raw_insert") {
        let (m, note) = match &ctx.store {
            Store::Sqlite => (raw_insert(work, bounds).await?, "durability=WAL+FULL one_row_per_tx".to_string()),
            Store::Postgres { server } => raw_insert_pg(server, bounds).await?,
        };
        ctx.push("raw_insert", n, 1, m, note);
    }
    Ok(())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Builds `talkwriter-scim` in the profile this binary was built in, and returns the one beside
/// it: the release server for a release load generator; the debug one for `cargo run -p loadgen
/// -- --quick` (what the test command runs, after building every debug binary: its figures mean
/// nothing, and it needs no second, optimised build of the whole server).
fn build_server(bin_dir: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = vec!["build", "-p", "talkwriter-scim"];
    if cfg!(debug_assertions) {
        eprintln!("loadgen: a debug build, against the debug server: its figures mean nothing");
    } else {
        build.push("--release");
    }
    eprintln!("loadgen: cargo {}", build.join(" "));
    let ok = Command::new(cargo).args(&build).status()?.success();
    if !ok {
        bail!("building talkwriter-scim failed");
    }
    let bin = bin_dir.join("talkwriter-scim");
    if !bin.exists() {
        bail!("{} is missing; pass --server-bin", bin.display());
    }
    Ok(bin)
}

fn free_addr() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Waits until `child`, listening on `addr`, answers `path`: fails at once if it exits first
/// (with the last lines of its `log`, which say why), or after 120 s.
async fn wait_ready(addr: SocketAddr, path: &str, child: &mut Child, log: Option<&Path>) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(120);
    let once = Bounds { conns: 1, duration: Duration::from_secs(5), warmup: Duration::ZERO, max_requests: 1 };
    while Instant::now() < until {
        if let Some(status) = child.try_wait()? {
            let text = log.and_then(|l| std::fs::read_to_string(l).ok()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            bail!("the process for {addr} exited ({status}) before it answered\n{tail}");
        }
        let p = path.to_string();
        if let Ok(m) = load::http(&[addr], None, once, Arc::new(move |_, _| Req::get(p.clone())), None).await
            && m.errors == 0
            && m.requests == 1
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{addr} did not answer within 120 s")
}

fn stop(child: &mut Child) {
    // SIGTERM first, so the server writes out its batched log and closes the database.
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn run_cli(bin: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin).args(args).env("RUST_LOG", "warn").stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("talkwriter-scim {} failed", args.join(" "));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The data set for `n` users, seeded once and copied for each run (runs change it).
fn prepare_db(bin: &Path, work: &Path, n: u64, reseed: bool) -> Result<PathBuf> {
    let seeded = work.join(format!("seed-{n}.db"));
    if reseed || !seeded.exists() {
        remove_db(&seeded);
        let t = Instant::now();
        let db = seeded.display().to_string();
        let spec = seed_spec(n);
        let (users, members, events) = (n.to_string(), spec.group_members.to_string(), spec.events.to_string());
        run_cli(
            bin,
            &[
                "seed",
                "--db",
                &db,
                "--users",
                &users,
                "--groups",
                "10",
                "--group-members",
                &members,
                "--events",
                &events,
            ],
        )?;
        println!(
            "# seeded {n} users, a {members}-member group and {events} events in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let run = work.join(format!("run-{n}.db"));
    remove_db(&run);
    std::fs::copy(&seeded, &run)?;
    // A seed cached by an older server may have left part of itself in its write-ahead log
    // (`Provisioning::close` now empties it): the file and its log are the database.
    let wal = format!("{}-wal", seeded.display());
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        std::fs::copy(&wal, format!("{}-wal", run.display()))?;
    }
    Ok(run)
}

/// The data set for `n` users: 10 groups, the first with min(n, 100,000) members, and one
/// sync-log event per user up to 1,000,000.
fn seed_spec(n: u64) -> provisioning::seed::SeedSpec {
    provisioning::seed::SeedSpec { users: n, groups: 10, group_members: n.min(100_000), events: n.min(1_000_000) }
}

/// `server` (a PostgreSQL URL) with its database replaced by `db`, query parameters kept.
fn pg_url(server: &str, db: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (server, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    format!("{}/{db}{query}", &base[..path])
}

/// A connection to the database `--db` names, used to create and drop loadgen's databases.
async fn pg_admin(server: &str) -> Result<sqlx::PgConnection> {
    use sqlx::Connection;
    // The URL may hold a password: errors name the option, not the URL.
    sqlx::PgConnection::connect(server).await.context("connecting to the PostgreSQL server of --db")
}

async fn drop_pg_db(admin: &mut sqlx::PgConnection, name: &str) -> Result<()> {
    use sqlx::Executor;
    // FORCE ends sessions a crashed earlier run may have left (PostgreSQL 13 and later).
    admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    Ok(())
}

/// Renames a database of loadgen's own. A closed pool's sessions end asynchronously on the
/// server (and the store may hold a listening session), so sessions still attached to it are
/// ended first: nothing but loadgen uses these databases.
async fn rename_pg_db(admin: &mut sqlx::PgConnection, from: &str, to: &str) -> Result<()> {
    use sqlx::Executor;
    let mut tries = 0;
    loop {
        sqlx::query("SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
            .bind(from)
            .execute(&mut *admin)
            .await?;
        match admin.execute(format!("ALTER DATABASE {from} RENAME TO {to}").as_str()).await {
            Ok(_) => return Ok(()),
            Err(e) if tries < 50 => {
                tries += 1;
                if tries == 1 {
                    eprintln!("loadgen: renaming {from} waits for its sessions to end ({e})");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// PostgreSQL: the data set for `n` users, seeded once into `loadgen_<n>` and copied for each
/// run into `loadgen_<n>_run` (runs change it), as the SQLite files are. Returns the run
/// database's URL.
async fn prepare_pg(server: &str, n: u64, reseed: bool) -> Result<String> {
    use sqlx::{Connection, Executor};
    let (seeded, seeding, run) = (format!("loadgen_{n}"), format!("loadgen_{n}_seeding"), format!("loadgen_{n}_run"));
    let mut admin = pg_admin(server).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&seeded)
        .fetch_one(&mut admin)
        .await?;
    if reseed || !exists {
        drop_pg_db(&mut admin, &seeded).await?;
        drop_pg_db(&mut admin, &seeding).await?;
        admin.execute(format!("CREATE DATABASE {seeding}").as_str()).await?;
        let url = pg_url(server, &seeding);
        let t = Instant::now();
        let spec = seed_spec(n);
        let p = provisioning::Provisioning::connect(&url, provisioning::Config::default()).await?;
        p.seed(&spec, |what, k| eprintln!("seed: {k} {what} ({:.1} s)", t.elapsed().as_secs_f64())).await?;
        p.close().await;
        // Planner statistics and the visibility map, as a settled database has them (autovacuum
        // may not have run yet), so the first scenario does not measure a cold, unanalysed table.
        let mut c = sqlx::PgConnection::connect(&url).await?;
        c.execute("VACUUM ANALYZE").await?;
        c.close().await?;
        // Named `loadgen_<n>` only once complete, so an interrupted seed is never taken for a cache.
        rename_pg_db(&mut admin, &seeding, &seeded).await?;
        println!(
            "# seeded {n} users, a {}-member group and {} events in {:.1} s (PostgreSQL database {seeded})",
            spec.group_members,
            spec.events,
            t.elapsed().as_secs_f64()
        );
    }
    drop_pg_db(&mut admin, &run).await?;
    let version: i32 = sqlx::query_scalar("SELECT CAST(current_setting('server_version_num') AS INTEGER)")
        .fetch_one(&mut admin)
        .await?;
    // FILE_COPY copies the files instead of writing the whole database into the WAL (the
    // default WAL_LOG strategy of PostgreSQL 15): far less I/O for the 1M data set.
    let strategy = if version >= 150_000 { " STRATEGY FILE_COPY" } else { "" };
    admin.execute(format!("CREATE DATABASE {run} TEMPLATE {seeded}{strategy}").as_str()).await?;
    admin.close().await?;
    Ok(pg_url(server, &run))
}

fn scim_path(s: &str) -> String {
    format!("/scim/v2{s}")
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A small deterministic generator, so runs are comparable and no RNG crate is needed.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// The server's RFC 9865 cursor for "after row i" of the seeded order (base64url of
/// `n|created|id`, see `provisioning::resources::Cursor`). A real client gets it from the
/// previous page; building it lets every connection start at a random depth.
fn cursor_after(i: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("n|{}|{}", seed_created(i), seed_user_id(i)))
}

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn size(ctx: &mut Ctx, bin: &Path, work: &Path, n: u64) -> Result<()> {
    // `db` is what the servers and the in-process scenarios open: a file path or a URL.
    let (db, token) = match ctx.store.clone() {
        Store::Sqlite => {
            let db = prepare_db(bin, work, n, ctx.args.reseed)?.display().to_string();
            let token = run_cli(bin, &["token", "create", "--db", &db, "--label", "loadgen"])?;
            (db, token)
        }
        Store::Postgres { server } => {
            let url = prepare_pg(&server, n, ctx.args.reseed).await?;
            let p = provisioning::Provisioning::connect(&url, provisioning::Config::default()).await?;
            let token = p.create_token("loadgen", None).await?.token;
            p.close().await;
            (url, token)
        }
    };
    let instances = ctx.args.instances;
    let mut children = vec![];
    let mut addrs: Vec<SocketAddr> = vec![];
    let mut logs = vec![];
    let mut started = Ok(());
    for i in 0..instances {
        let addr = loop {
            let a = free_addr()?;
            if !addrs.contains(&a) {
                break a;
            }
        };
        let log_name = if instances == 1 { format!("server-{n}.log") } else { format!("server-{n}-{i}.log") };
        logs.push(work.join(log_name));
        let spawned = std::fs::File::create(&logs[usize::from(i)]).map_err(anyhow::Error::from).and_then(|log| {
            Command::new(bin)
                .args(["serve", "--db", &db, "--listen", &addr.to_string()])
                .args(ctx.args.no_read_log.then_some("--no-read-log"))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(anyhow::Error::from)
        });
        match spawned {
            Ok(child) => {
                children.push(child);
                addrs.push(addr);
            }
            Err(e) => {
                started = Err(e);
                break;
            }
        }
    }
    if started.is_ok() {
        for ((addr, child), log) in addrs.iter().zip(&mut children).zip(&logs) {
            started = wait_ready(*addr, "/health", child, Some(log)).await;
            if started.is_err() {
                break;
            }
        }
    }
    let result = match started {
        Ok(()) => scenarios(ctx, &addrs, &token, &db, n).await,
        Err(e) => Err(e),
    };
    for child in &mut children {
        stop(child);
    }
    result
}

async fn scenarios(ctx: &mut Ctx, addrs: &[SocketAddr], token: &str, db: &str, n: u64) -> Result<()> {
    let b = ctx.bounds;
    let conns = b.conns as u64;
    let tok = Some(token.to_string());
    let big_members = n.min(100_000);
    let run_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let created: Arc<Mutex<Vec<String>>> = Arc::default();

    if ctx.wants("create") {
        let make: load::MakeReq = Arc::new(move |c, k| {
            let name = format!("bench-{run_id}-{c}-{k}@example.com");
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name, "externalId": format!("00u{run_id}{c}x{k}"),
                "name": {"givenName": "Bench", "familyName": format!("User{c}x{k}")},
                "emails": [{"value": name, "type": "work", "primary": true}],
                "displayName": format!("Bench User{c}x{k}"), "active": true
            });
            Req { method: Method::POST, path: scim_path("/Users"), body: Some(body.to_string()) }
        });
        let sink = created.clone();
        let on_body: load::OnBody = Arc::new(move |bytes| {
            if let Ok(v) = serde_json::from_slice::<Value>(bytes)
                && let Some(id) = v["id"].as_str()
            {
                sink.lock().expect("created ids").push(id.to_string());
            }
        });
        let m = load::http(addrs, tok.clone(), b, make, Some(on_body)).await?;
        ctx.push("create", n, b.conns, m, String::new());
    }
    if ctx.wants("get_by_id") {
        let make: load::MakeReq = Arc::new(move |c, k| {
            Req::get(scim_path(&format!("/Users/{}", seed_user_id(mix(k * conns + c as u64) % n))))
        });
        let m = load::http(addrs, tok.clone(), b, make, None).await?;
        ctx.push("get_by_id", n, b.conns, m, String::new());
    }
    if ctx.wants("username_eq") {
        let make: load::MakeReq = Arc::new(move |c, k| {
            let f = format!("userName eq \"{}\"", seed_user_name(mix(k * conns + c as u64 + 7) % n));
            Req::get(scim_path(&format!("/Users?filter={}", enc(&f))))
        });
        let m = load::http(addrs, tok.clone(), b, make, None).await?;
        ctx.push("username_eq", n, b.conns, m, String::new());
    }
    if ctx.wants("list_first") {
        let make: load::MakeReq = Arc::new(|_, _| Req::get(scim_path("/Users?startIndex=1&count=100")));
        let m = load::http(addrs, tok.clone(), b, make, None).await?;
        ctx.push("list_first", n, b.conns, m, "count=100".into());
    }
    if ctx.wants("list_deep") {
        let start = n / 10 * 9 + 1;
        let make: load::MakeReq =
            Arc::new(move |_, _| Req::get(scim_path(&format!("/Users?startIndex={start}&count=100"))));
        let m = load::http(addrs, tok.clone(), b, make, None).await?;
        ctx.push("list_deep", n, b.conns, m, format!("count=100 startIndex={start}"));
    }
    if ctx.wants("list_cursor") {
        let make: load::MakeReq = Arc::new(move |c, k| {
            let at = mix(k * conns + c as u64 + 11) % n.saturating_sub(100).max(1);
            Req::get(scim_path(&format!("/Users?count=100&cursor={}", cursor_after(at))))
        });
        let m = load::http(addrs, tok.clone(), b, make, None).await?;
        ctx.push("list_cursor", n, b.conns, m, "count=100 random_depth".into());
    }
    if ctx.wants("patch_deactivate") {
        // Each request changes a user: the j-th request overall goes to user j mod n, and
        // passes alternate false/true, so no PATCH is a no-op.
        let make: load::MakeReq = Arc::new(move |c, k| {
            let j = k * conns + c as u64;
            let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": (j / n) % 2 == 1}]});
            Req {
                method: Method::PATCH,
                path: scim_path(&format!("/Users/{}", seed_user_id(j % n))),
                body: Some(body.to_string()),
            }
        });
        let m = load::http(addrs, tok.clone(), b, make, None).await?;
        ctx.push("patch_deactivate", n, b.conns, m, String::new());
    }
    // Members to add: seeded users outside the big group, else the users `create` made.
    let extra: Arc<Vec<String>> = Arc::new(if n > big_members {
        (big_members..n).map(seed_user_id).collect()
    } else {
        created.lock().expect("created ids").clone()
    });
    for (scenario, group, size) in [("member_add_big", 0, big_members), ("member_add_empty", 1, 0)] {
        if !ctx.wants(scenario) || extra.is_empty() {
            continue;
        }
        let candidates = extra.len();
        let extra = extra.clone();
        let make: load::MakeReq = Arc::new(move |c, k| {
            let j = (k * conns + c as u64) as usize;
            let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": extra[j % extra.len()]}]}]});
            Req {
                method: Method::PATCH,
                path: scim_path(&format!("/Groups/{}", seed_group_id(group))),
                body: Some(body.to_string()),
            }
        });
        let m = load::http(addrs, tok.clone(), b, make, None).await?;
        ctx.push(scenario, n, b.conns, m, format!("group_members_before={size} candidates={candidates}"));
    }
    if ctx.wants("events_filter") || ctx.wants("events_text") {
        // The same store the servers use: a SQLite path or the PostgreSQL run database.
        let p = provisioning::Provisioning::connect(db, provisioning::Config::default()).await?;
        for scenario in ["events_filter", "events_text"] {
            if !ctx.wants(scenario) {
                continue;
            }
            let p = p.clone();
            let text = scenario == "events_text";
            let m = load::in_process(b, move |c, k| {
                let p = p.clone();
                async move {
                    let mut q = provisioning::EventQuery { limit: Some(100), ..Default::default() };
                    if text {
                        q.text = Some(seed_user_name(mix(k * conns + c as u64) % n));
                    } else {
                        q.operation = Some("Deactivate User".into());
                        q.idp = Some("Okta".into());
                        q.result = Some("success".into());
                    }
                    p.query_events(&q).await.map(|_| ()).map_err(|e| e.to_string())
                }
            })
            .await?;
            let note =
                if text { "in_process text=userName limit=100" } else { "in_process operation+idp+result limit=100" };
            ctx.push(scenario, n, b.conns, m, note.into());
        }
        p.close().await;
    }
    Ok(())
}

/// The stored document of every raw-insert row: an Okta-shaped user, as `create` sends.
fn raw_doc() -> String {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "name": {"givenName": "Bench", "familyName": "User"}, "emails": [{"value": "x@example.com", "type": "work", "primary": true}], "active": true}).to_string()
}

/// Raw SQLite inserts at the server's durability (WAL, synchronous=FULL), one row per
/// transaction as a SCIM create commits one, into a copy of the `users` table with its indexes.
async fn raw_insert(work: &Path, bounds: Bounds) -> Result<Measured> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
    let path = work.join("raw.db");
    remove_db(&path);
    let opts = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
    for sql in [
        "CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, user_name TEXT NOT NULL, user_name_key TEXT NOT NULL UNIQUE,
            external_id TEXT, display_name TEXT, active INTEGER NOT NULL DEFAULT 1, data TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL, last_modified TEXT NOT NULL)",
        "CREATE INDEX users_external_id ON users (external_id)",
        "CREATE INDEX users_created ON users (created, id)",
        "CREATE INDEX users_last_modified ON users (last_modified, id)",
    ] {
        sqlx::query(sql).execute(&pool).await?;
    }
    let doc = raw_doc();
    let b = Bounds { conns: 1, ..bounds };
    let m = load::in_process(b, move |_, k| {
        let (pool, doc) = (pool.clone(), doc.clone());
        async move {
            let go = async {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let name = format!("raw{k}@example.com");
                let now = seed_created(k);
                sqlx::query("INSERT INTO users (id, user_name, user_name_key, external_id, display_name, active, data, version, created, last_modified) VALUES (?, ?, ?, ?, ?, 1, ?, 1, ?, ?)")
                    .bind(format!("raw-{k}")).bind(&name).bind(&name).bind(format!("ext{k}")).bind("Bench User").bind(&doc).bind(&now).bind(&now)
                    .execute(&mut *tx).await?;
                tx.commit().await
            };
            go.await.map_err(|e| e.to_string())
        }
    })
    .await?;
    Ok(m)
}

/// Raw PostgreSQL inserts at the server's durability (the server's defaults, normally
/// `synchronous_commit=on`: each COMMIT waits for its WAL flush), one row per transaction, into
/// a copy of the `users` table with its indexes in a scratch database `loadgen_raw`.
async fn raw_insert_pg(server: &str, bounds: Bounds) -> Result<(Measured, String)> {
    use sqlx::Connection;
    let name = "loadgen_raw";
    let mut admin = pg_admin(server).await?;
    drop_pg_db(&mut admin, name).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&pg_url(server, name)).await?;
    for sql in [
        r#"CREATE TABLE users (id TEXT COLLATE "C" PRIMARY KEY, user_name TEXT NOT NULL,
            user_name_key TEXT COLLATE "C" NOT NULL UNIQUE, external_id TEXT COLLATE "C", display_name TEXT,
            active BIGINT NOT NULL DEFAULT 1, data TEXT NOT NULL, version BIGINT NOT NULL DEFAULT 1,
            created TEXT COLLATE "C" NOT NULL, last_modified TEXT COLLATE "C" NOT NULL)"#,
        "CREATE INDEX users_external_id ON users (external_id)",
        "CREATE INDEX users_created ON users (created, id)",
        "CREATE INDEX users_last_modified ON users (last_modified, id)",
    ] {
        sqlx::query(sql).execute(&pool).await?;
    }
    let sync: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')").fetch_one(&pool).await?;
    let fsync: String = sqlx::query_scalar("SELECT current_setting('fsync')").fetch_one(&pool).await?;
    let doc = raw_doc();
    let b = Bounds { conns: 1, ..bounds };
    let insert_pool = pool.clone();
    let m = load::in_process(b, move |_, k| {
        let (pool, doc) = (insert_pool.clone(), doc.clone());
        async move {
            let go = async {
                let mut tx = pool.begin().await?;
                let name = format!("raw{k}@example.com");
                let now = seed_created(k);
                sqlx::query("INSERT INTO users (id, user_name, user_name_key, external_id, display_name, active, data, version, created, last_modified) VALUES ($1, $2, $3, $4, $5, 1, $6, 1, $7, $8)")
                    .bind(format!("raw-{k}")).bind(&name).bind(&name).bind(format!("ext{k}")).bind("Bench User").bind(&doc).bind(&now).bind(&now)
                    .execute(&mut *tx).await?;
                tx.commit().await
            };
            go.await.map_err(|e| e.to_string())
        }
    })
    .await?;
    pool.close().await;
    drop_pg_db(&mut admin, name).await?;
    admin.close().await?;
    Ok((m, format!("durability=synchronous_commit={sync},fsync={fsync} one_row_per_tx")))
}

fn report(ctx: &Ctx) {
    let rows = &ctx.rows;
    println!();
    println!("| scenario | users | conns | req/s | p50 ms | p99 ms | errors | note | backend | instances |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|---|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} |",
            r.scenario,
            r.users,
            r.conns,
            r.m.rps(),
            r.m.p50_ms,
            r.m.p99_ms,
            r.m.errors,
            r.note,
            r.backend,
            r.instances
        );
    }
    let find = |s: &str, n: Option<u64>| rows.iter().find(|r| r.scenario == s && n.is_none_or(|n| r.users == n));
    let sizes: Vec<u64> = ctx.args.sizes.clone();
    let (small, large) = (sizes.iter().min().copied(), sizes.iter().max().copied());
    let mut t: BTreeMap<String, String> = BTreeMap::new();
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    for &n in &sizes {
        if let (Some(h), Some(g)) = (find("hello_ceiling", Some(n)), find("get_by_id", Some(n))) {
            let r = g.m.rps() / h.m.rps();
            t.insert(
                format!("get_by_id/ceiling @{n}"),
                format!("{:.1}% (target >= 50%) {}", r * 100.0, verdict(r >= 0.5)),
            );
        }
        if let (Some(raw), Some(c)) = (find("raw_insert", Some(n)), find("create", Some(n))) {
            let r = c.m.rps() / raw.m.rps();
            t.insert(
                format!("create/raw_insert @{n}"),
                format!("{:.1}% (target >= 50%) {}", r * 100.0, verdict(r >= 0.5)),
            );
        }
    }
    if let (Some(s), Some(l)) = (small, large)
        && s != l
    {
        for sc in ["get_by_id", "username_eq"] {
            if let (Some(a), Some(b)) = (find(sc, Some(s)), find(sc, Some(l))) {
                let r = b.m.p99_ms / a.m.p99_ms;
                t.insert(format!("{sc} p99 @{l} / @{s}"), format!("{r:.2}x (target <= 1.5x) {}", verdict(r <= 1.5)));
            }
        }
    }
    for &n in &sizes {
        if let (Some(a), Some(b)) = (find("list_first", Some(n)), find("list_deep", Some(n))) {
            let r = b.m.p50_ms / a.m.p50_ms;
            t.insert(format!("list_deep/list_first p50 @{n}"), format!("{r:.2}x (target <= 3x) {}", verdict(r <= 3.0)));
        }
        if let (Some(a), Some(b)) = (find("list_first", Some(n)), find("list_cursor", Some(n))) {
            let r = b.m.p50_ms / a.m.p50_ms;
            t.insert(
                format!("list_cursor/list_first p50 @{n}"),
                format!("{r:.2}x (flat: <= 1.5x) {}", verdict(r <= 1.5)),
            );
        }
        if let (Some(a), Some(b)) = (find("member_add_empty", Some(n)), find("member_add_big", Some(n))) {
            let r = b.m.p50_ms / a.m.p50_ms;
            t.insert(format!("member_add_big/empty p50 @{n}"), format!("{r:.2}x (target <= 2x) {}", verdict(r <= 2.0)));
        }
    }
    if let Some(s) = small {
        for (sc, scim2, scimmy) in PEERS {
            if let Some(r) = find(sc, Some(s)) {
                let (a, b) = (r.m.rps() / scim2, r.m.rps() / scimmy);
                t.insert(
                    format!("{sc} vs peers @{s}"),
                    format!(
                        "{a:.0}x scim2-server, {b:.0}x SCIMMY (target 30x / 10x) {}",
                        verdict(a >= 30.0 && b >= 10.0)
                    ),
                );
            }
        }
    }
    println!();
    for (k, v) in &t {
        println!("TARGET {k}: {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that exits before it answers fails the wait at once, with what it logged.
    #[tokio::test]
    async fn a_server_that_exits_fails_the_wait_with_its_log() {
        let dir = std::env::temp_dir().join(format!("loadgen-wait-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("server.log");
        let mut child = Command::new("sh")
            .args(["-c", "echo 'Error: opening the store: no such index' >&2; exit 3"])
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let err = wait_ready(free_addr().unwrap(), "/health", &mut child, Some(&log)).await.unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("exited") && err.contains("no such index"), "{err}");
    }
}
