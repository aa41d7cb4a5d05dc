//! The SCIM provisioning service: the store (SQLite, the embedded default, or PostgreSQL shared
//! by several instances), users and groups, tokens, settings and the sync log, with a live event
//! stream. Shells (the HTTP router, the CLI, the desktop app) call
//! into [`Provisioning`]; nothing here knows about HTTP frameworks or windows.

mod access;
mod backup;
mod clock;
mod db;
pub mod diff;
mod directory;
mod error;
pub mod events;
pub mod filter_sql;
mod group_commit;
mod listen;
mod member_filter;
pub mod query;
mod read;
mod resources;
/// Bulk benchmark data (`talkwriter-scim seed`).
pub mod seed;
mod settings;
mod status;
mod tokens;

use std::path::Path;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::{broadcast, mpsc};

pub use access::{Access, AccessRule};
pub use backup::BackupSummary;
pub use clock::{Clock, stamp};
pub use db::Backend;
pub use directory::{DirectoryGroup, DirectoryPage, DirectoryQuery, DirectoryUser, GroupDetail, Lookups, UserDetail};
pub use error::{Error, Result};
pub use events::{ActivityBucket, EventPage, EventQuery, ExportFormat, Outcome, RequestContext, Retention, SyncEvent};
pub(crate) use group_commit::WriteTx;
pub use query::{ListQuery, MAX_PAGE_SIZE};
pub use resources::Written;
pub use scim_protocol::{ResourceKind, ScimError};
pub use status::{MappingRow, Status};
pub use tokens::{NewToken, RequestAuth, TOKEN_PREFIX, TokenInfo};

/// Where a store lives, as a database URL names it (see [`Location::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
    /// A `postgres://` or `postgresql://` URL, as given (with any password).
    Postgres(String),
}

impl Location {
    /// `postgres://...` or `postgresql://...` for PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a
    /// plain path for a SQLite file. Any other `scheme://` is refused rather than taken for a
    /// file name, as is a `sqlite:` URL that names no file.
    pub fn parse(url: &str) -> Result<Location> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_string()));
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(Error::InvalidInput(format!("{url} names no database file")));
            }
            return Ok(Location::Sqlite(path.into()));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(Error::InvalidInput(format!(
                "{scheme}:// is not a database TalkWriter runs on: give a SQLite path, sqlite://PATH or postgres://..."
            )));
        }
        if url.is_empty() {
            return Err(Error::InvalidInput("no database given".into()));
        }
        Ok(Location::Sqlite(url.into()))
    }
}

/// Settings fixed when the service is opened.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connections in the pool (SQLite in WAL mode serves reads in parallel, writes one at a time).
    pub max_connections: u32,
    /// Whether successful reads (lookups, lists, discovery) are logged. Writes and failures are
    /// always logged; turning this off exists to measure what logging costs.
    pub log_reads: bool,
    /// SQLite: how much of the database file each connection reads through a memory map
    /// instead of `pread` (see `connect_sqlite`). The server maps as much as SQLite allows (just
    /// under 2 GiB; a page past the map is read with `pread` into each connection's small
    /// cache), which is fastest under load; the desktop app maps none, since every mapped page
    /// it reads counts in its resident memory for as long as the app runs.
    pub sqlite_mmap_bytes: u64,
    /// Requests waiting for the sync log's writer, at most. Past it (the database stalled
    /// while IdPs keep reading) a request's event is dropped and counted, and the log says
    /// how many were lost, rather than memory growing until the process dies. 32,768 is
    /// seconds of the heaviest read load measured, at a few KiB each.
    pub log_queue: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_connections: 8, log_reads: true, sqlite_mmap_bytes: 0x7fff_0000, log_queue: 32_768 }
    }
}

/// The provisioning service. Cheap to clone; clones share the pool and the event stream.
#[derive(Clone)]
pub struct Provisioning {
    pool: db::Pool,
    backend: Backend,
    /// This process's writers take turns here before the database's write lock (`BEGIN
    /// IMMEDIATE` on SQLite, the advisory lock on PostgreSQL), so concurrent requests queue in
    /// order instead of spinning in SQLite's busy handler or holding several pooled
    /// connections waiting on PostgreSQL's lock; and those queued together commit together.
    writer: group_commit::Writer,
    /// SQLite: connections for reads on the request path, queried in place (see `read`).
    readers: Option<std::sync::Arc<read::SqliteReaders>>,
    clock: Clock,
    events: events::EventBus,
    config: Config,
    token_use: tokens::UseMarks,
}

impl Provisioning {
    /// Opens (creating if needed) the SQLite database at `path`, with WAL and full fsync, and
    /// runs the migrations. A new file is created readable by its owner only.
    pub async fn open(path: &Path, config: Config) -> Result<Self> {
        Self::open_with_clock(path, config, Clock::system()).await
    }

    pub async fn open_with_clock(path: &Path, config: Config, clock: Clock) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        create_private(path)?;
        let pool = connect_sqlite(path, config.max_connections, config.sqlite_mmap_bytes).await?;
        let readers = read::SqliteReaders::new(path, config.sqlite_mmap_bytes);
        Self::start(pool, Backend::Sqlite, None, Some(readers), config, clock).await
    }

    /// Opens the store a database URL names: `postgres://...` (or `postgresql://`) for a
    /// PostgreSQL database that several instances can share, `sqlite://PATH` or a plain path
    /// for a SQLite file. Runs the migrations.
    pub async fn connect(url: &str, config: Config) -> Result<Self> {
        Self::connect_with_clock(url, config, Clock::system()).await
    }

    pub async fn connect_with_clock(url: &str, config: Config, clock: Clock) -> Result<Self> {
        match Location::parse(url)? {
            Location::Postgres(url) => {
                sqlx::any::install_default_drivers();
                let pool = sqlx::any::AnyPoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(&url)
                    .await?;
                Self::start(pool, Backend::Postgres, Some(&url), None, config, clock).await
            }
            Location::Sqlite(path) => Self::open_with_clock(&path, config, clock).await,
        }
    }

    /// `url`: PostgreSQL's, for the live log's listener; `readers`: SQLite's in-place read
    /// connections.
    async fn start(
        pool: db::Pool,
        backend: Backend,
        url: Option<&str>,
        readers: Option<std::sync::Arc<read::SqliteReaders>>,
        config: Config,
        clock: Clock,
    ) -> Result<Self> {
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        let (batch, rx) = mpsc::channel(config.log_queue.max(1));
        let (live, _) = broadcast::channel(1024);
        // SQLite's writes run in place on a connection of their own, next to the readers'.
        let in_place_writes = readers.as_ref().map(|r| group_commit::SqliteWriteConn::new(r.path(), r.mmap_bytes()));
        let signals = events::WriterSignals::default();
        let announce = group_commit::Announce {
            live: live.clone(),
            batch: batch.downgrade(),
            texts_pending: signals.texts_pending.clone(),
        };
        let writer = group_commit::Writer::new(pool.clone(), backend, in_place_writes, announce);
        // Not the queue's sender: the writer ends when the last of the service's clones goes.
        tokio::spawn(events::run_batch_writer(writer.clone(), rx, live.clone(), signals.clone(), clock.clone()));
        if let Some(url) = url.filter(|_| backend == Backend::Postgres) {
            // Every instance's events, this one's included, reach its live stream through the
            // database, so followers on any instance see them all.
            listen::spawn_listener(url.to_string(), pool.clone(), live.clone()).await?;
        }
        Ok(Provisioning {
            pool,
            backend,
            writer,
            readers,
            clock,
            events: events::EventBus { batch, live, signals },
            config,
            token_use: Default::default(),
        })
    }

    /// Starts a write transaction in this process's turn.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        self.writer.begin().await
    }

    /// A connection for a request's reads: in place on SQLite, pooled on PostgreSQL.
    pub(crate) async fn reader(&self) -> Result<read::Reader> {
        Ok(match &self.readers {
            Some(r) => read::Reader::Sqlite(r.take()?),
            None => read::Reader::Pool(read::PoolReader::new(self.pool.acquire().await?)),
        })
    }

    /// Writes committed since the service opened, as (commits, writes acknowledged): concurrent
    /// writes share commits (see `group_commit`), so the second is the larger under load.
    pub fn write_stats(&self) -> (u64, u64) {
        self.writer.stats()
    }

    /// The database this service runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Writes out pending log events and closes the database.
    pub async fn close(&self) {
        self.flush_log().await;
        self.writer.close().await;
        if self.backend == Backend::Sqlite {
            // SQLite copies the WAL into the database file when its last connection closes, if
            // that connection can lock the file alone. The pool closes its connections at once,
            // each on its own thread, and two closing together can each find the other still
            // open and both leave the WAL as it is (2 of 12 `seed` runs did): the database is
            // then the file *and* its WAL, and a copy of the file alone is corrupt. Copied in
            // and emptied here, the file is the whole database. Another process's checkpoint
            // (a desktop app and a headless server share a file; each checkpoints on a thread
            // of its own while it writes) holds the log for a moment, and a checkpoint that
            // finds it held says so at once (busy, no pages: -1): tried again for up to a
            // second. Writers and readers are waited for as every statement waits for them.
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
            let done = loop {
                let done =
                    sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.pool).await;
                if !matches!(done, Ok((1, -1, -1))) || tokio::time::Instant::now() >= deadline {
                    break done;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            };
            match done {
                Ok((0, _, _)) => {}
                Ok(_) => tracing::warn!("the write-ahead log was still in use at close; it stays beside the database"),
                Err(e) => tracing::warn!(error = %e, "could not checkpoint the write-ahead log at close"),
            }
        }
        self.pool.close().await;
    }
}

#[cfg(unix)]
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
pub(crate) fn create_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// A pool of SQLite connections through the `Any` driver, each set up for the service: WAL,
/// full fsync, foreign keys, a memory map of `mmap_bytes` for reads and a busy timeout.
pub(crate) async fn connect_sqlite(path: &Path, max_connections: u32, mmap_bytes: u64) -> Result<db::Pool> {
    sqlx::any::install_default_drivers();
    let url = SqliteConnectOptions::new().filename(path).create_if_missing(true).to_url_lossy();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(max_connections)
        // A connection to a local file cannot have gone away while idle in the pool, so
        // checking it out needs no ping: that ping was a round trip to the connection's
        // thread on every query, a third of a lookup's.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                use sqlx::Executor;
                conn.execute(
                    // An acknowledged deprovisioning must survive a power cut, not only a
                    // crash (synchronous = FULL). The memory map serves reads without a pread
                    // and a copy per page: every commit (the sync log commits several times a
                    // second) empties each connection's page cache, so without it each lookup
                    // re-reads its pages. Reads only; writes and fsync are unchanged. The
                    // size is a number written here, never request text.
                    //
                    // Temporary data stays in files here: the group commit's own connection
                    // keeps its savepoints' undo in memory (`group_commit`), but these serve
                    // the sync log's queries, and the activity chart's GROUP BY over a million
                    // events sorts about 80 MB. In memory, each connection that ran it kept
                    // that much (the app held 494 MB after the app benchmark's sync-log runs,
                    // 125 MB since); in a file, SQLite sorts within its cache and spills the
                    // rest (decision 0020).
                    format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                         PRAGMA mmap_size = {mmap_bytes}; PRAGMA busy_timeout = 10000;"
                    )
                    .as_str(),
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(sqlx::any::AnyConnectOptions::from_url(&url)?)
        .await?;
    Ok(pool)
}

/// Stores for the test suites: the same tests run on SQLite and, when
/// `TALKWRITER_TEST_DATABASE_URL` names a PostgreSQL server (`tests/postgres.sh` starts one),
/// on a fresh PostgreSQL database each.
pub mod testing {
    use std::path::Path;

    use crate::{Clock, Config, Provisioning, Result};

    /// The PostgreSQL server the tests run against, if any.
    pub fn postgres_url() -> Option<String> {
        std::env::var("TALKWRITER_TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))
    }

    /// A new, empty PostgreSQL database on the test server, by URL.
    pub async fn fresh_postgres_database(server_url: &str) -> Result<String> {
        use sqlx::Connection;
        let name = format!("tw_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(server_url).await?;
        sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await?;
        admin.close().await?;
        let (base, _) = server_url.rsplit_once('/').unwrap_or((server_url, ""));
        Ok(format!("{base}/{name}"))
    }

    /// A store for one test: a fresh PostgreSQL database when the tests run on PostgreSQL,
    /// otherwise `scim.db` in `dir`.
    pub async fn open_store(dir: &Path, config: Config, clock: Clock) -> Result<Provisioning> {
        match postgres_url() {
            Some(server) => {
                let url = fresh_postgres_database(&server).await?;
                Provisioning::connect_with_clock(&url, config, clock).await
            }
            None => Provisioning::open_with_clock(&dir.join("scim.db"), config, clock).await,
        }
    }
}

#[cfg(test)]
mod location_tests {
    use super::{Config, Error, Location, Provisioning};

    #[test]
    fn a_database_url_names_a_file_or_a_server() {
        let sqlite = |p: &str| Ok::<_, ()>(Location::Sqlite(p.into()));
        let parse = |u: &str| Location::parse(u).map_err(|_| ());
        assert_eq!(parse("/var/lib/tw/scim.db"), sqlite("/var/lib/tw/scim.db"));
        assert_eq!(parse("scim.db"), sqlite("scim.db"));
        assert_eq!(parse("sqlite:///tmp/a.db"), sqlite("/tmp/a.db"));
        assert_eq!(parse("sqlite:a.db"), sqlite("a.db"));
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5432/db?sslmode=require"] {
            assert_eq!(parse(url), Ok(Location::Postgres(url.into())));
        }
        for bad in ["mysql://u:secret@h/db", "sqlite://", "sqlite:", ""] {
            let e = Location::parse(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{bad:?}: {e:?}");
            assert!(!e.to_string().contains("secret"), "the message does not quote the URL: {e}");
        }
    }

    #[tokio::test]
    async fn connect_refuses_an_unknown_scheme_instead_of_creating_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("mysql://{}/scim", dir.path().display());
        let e = Provisioning::connect(&url, Config::default()).await.err().expect("refused");
        assert!(e.to_string().contains("mysql:// is not a database"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing was created");
        assert!(!std::path::Path::new("mysql:").exists());
    }
}

#[cfg(test)]
mod close_tests {
    use super::{Config, Provisioning};

    /// After `close`, the database file alone is the whole database: the write-ahead log is
    /// copied in and emptied, even while another connection (a reader in another process, here)
    /// keeps SQLite from doing so as the service's last connection closes.
    #[tokio::test]
    async fn close_leaves_the_database_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scim.db");
        let p = Provisioning::open(&path, Config::default()).await.unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        let count = |c: &rusqlite::Connection| c.query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get::<_, i64>(0));
        assert_eq!(count(&other).unwrap(), 0);
        p.create_token("Okta", None).await.unwrap();
        p.close().await;
        drop(p);
        let wal = std::fs::metadata(dir.path().join("scim.db-wal")).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal, 0, "nothing is left only in the write-ahead log");
        let copy = dir.path().join("copy.db");
        std::fs::copy(&path, &copy).unwrap();
        assert_eq!(count(&rusqlite::Connection::open(&copy).unwrap()).unwrap(), 1, "the file alone has the token");
        drop(other);
    }
}
