//! The SCIM provisioning service: the SQLite store, users and groups, tokens, settings and the
//! sync log, with a live event stream. Shells (the HTTP router, the CLI, the desktop app) call
//! into [`Provisioning`]; nothing here knows about HTTP frameworks or windows.

mod access;
mod backup;
mod clock;
pub mod diff;
mod directory;
mod error;
pub mod events;
pub mod filter_sql;
mod member_filter;
pub mod query;
mod resources;
/// Bulk benchmark data (`talkwriter-scim seed`).
pub mod seed;
mod settings;
mod status;
mod tokens;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{broadcast, mpsc};

pub use access::{Access, AccessRule};
pub use backup::BackupSummary;
pub use clock::{Clock, stamp};
pub use directory::{DirectoryGroup, DirectoryPage, DirectoryQuery, DirectoryUser, GroupDetail, UserDetail};
pub use error::{Error, Result};
pub use events::{ActivityBucket, EventPage, EventQuery, ExportFormat, Outcome, RequestContext, Retention, SyncEvent};
pub use query::{ListQuery, MAX_PAGE_SIZE};
pub use resources::Written;
pub use scim_protocol::{ResourceKind, ScimError};
pub use status::{MappingRow, Status};
pub use tokens::{NewToken, RequestAuth, TOKEN_PREFIX, TokenInfo};

/// Settings fixed when the service is opened.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connections in the pool (SQLite in WAL mode serves reads in parallel, writes one at a time).
    pub max_connections: u32,
    /// Whether successful reads (lookups, lists, discovery) are logged. Writes and failures are
    /// always logged; turning this off exists to measure what logging costs.
    pub log_reads: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_connections: 8, log_reads: true }
    }
}

/// The provisioning service. Cheap to clone; clones share the pool and the event stream.
#[derive(Clone)]
pub struct Provisioning {
    pool: sqlx::SqlitePool,
    /// Writers take turns here before `BEGIN IMMEDIATE`, so concurrent requests queue in
    /// order instead of spinning in SQLite's busy handler.
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    clock: Clock,
    events: events::EventBus,
    config: Config,
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
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An acknowledged deprovisioning must survive a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Reads through a memory map instead of a pread and a copy per page: every commit
            // (the sync log commits several times a second) empties each connection's page
            // cache, so without it each lookup re-reads its pages. Reads only; writes and
            // fsync are unchanged.
            .pragma("mmap_size", "1073741824")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(config.max_connections).connect_with(opts).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;

        let (batch, rx) = mpsc::unbounded_channel();
        let (live, _) = broadcast::channel(1024);
        let write_lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        tokio::spawn(events::run_batch_writer(pool.clone(), write_lock.clone(), rx, live.clone()));
        Ok(Provisioning { pool, write_lock, clock, events: events::EventBus { batch, live }, config })
    }

    /// Starts a write transaction in this process's turn.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        begin_write(&self.pool, &self.write_lock).await
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

/// A write transaction (`BEGIN IMMEDIATE`) held with the process's write turn. It derefs to
/// the connection; dropping it without `commit` rolls back.
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

pub(crate) async fn begin_write(
    pool: &sqlx::SqlitePool,
    lock: &std::sync::Arc<tokio::sync::Mutex<()>>,
) -> Result<WriteTx> {
    let turn = lock.clone().lock_owned().await;
    let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    Ok(WriteTx { tx, _turn: turn })
}
