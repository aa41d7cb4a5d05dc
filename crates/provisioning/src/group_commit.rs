//! Group commit: the writes that queue for the database at the same moment share one
//! transaction and one commit, so one flush to disk acknowledges all of them.
//!
//! Writers take turns (this process's [`Writer`], then the database's write lock). The first
//! writer of a group opens the transaction (`BEGIN IMMEDIATE` on SQLite, `BEGIN` plus the
//! advisory lock on PostgreSQL); each writer then works inside its own savepoint. When a writer
//! is done and another is already waiting for its turn, it releases its savepoint, hands the open
//! transaction on and waits; the last writer of the group, the one nobody is waiting behind (or
//! the [`MAX_GROUP`]th), commits, and every writer of the group returns only then, with the
//! commit's outcome. A writer that fails rolls back to its savepoint, so its changes go and the
//! others' stay. Nothing is acknowledged before the commit that makes it durable: durability is
//! the same as one transaction per write (`synchronous = FULL`, `synchronous_commit = on`); only
//! the number of flushes changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::db::{self, Backend};
use crate::events::{LogMsg, SyncEvent};
use crate::read::SqlConn;
use crate::{Error, Result};

/// The most writes one commit acknowledges: bounds how long a group holds the database's write
/// lock (readers are never blocked; other processes' writers wait) and how long its first writer
/// waits for its answer.
pub(crate) const MAX_GROUP: usize = 64;

/// This process's write turn, and the group transaction it passes on. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    turn: Arc<Mutex<Option<Group>>>,
    /// Writers waiting for the turn. Counted by a guard, so a writer whose request goes away
    /// while it waits is not counted.
    waiting: Arc<AtomicUsize>,
    /// Groups committed and writes acknowledged by them, since the service opened.
    stats: Arc<(AtomicU64, AtomicU64)>,
    pool: db::Pool,
    backend: Backend,
    /// SQLite: the write connection, driven in place (see [`SqliteWriteConn`]).
    sqlite: Option<Arc<SqliteWriteConn>>,
    /// Set by [`Writer::close`]: later writes fail, as they do on a closed pool.
    closed: Arc<std::sync::atomic::AtomicBool>,
    /// Set as [`Writer::close`] begins, before it commits a group still open.
    closing: Arc<std::sync::atomic::AtomicBool>,
    /// Where a group's events go once committed.
    announce: Arc<Announce>,
}

/// Where a group's committed events go (SQLite; on PostgreSQL every instance hears of them
/// through the database): the live stream, and the sync log's writer, which indexes their
/// texts. Its queue is held weakly: the writer ends when the service's last sender goes.
pub(crate) struct Announce {
    pub(crate) live: tokio::sync::broadcast::Sender<SyncEvent>,
    pub(crate) batch: tokio::sync::mpsc::WeakSender<LogMsg>,
    /// Set while a request to index texts is queued (see `WriterSignals::texts_pending`).
    pub(crate) texts_pending: Arc<std::sync::atomic::AtomicBool>,
}

/// SQLite's write connection, opened with rusqlite and driven in place on the writer's thread,
/// as the request path's reads are (see `read`): through sqlx every statement is a round trip
/// to the connection's own thread, 20 to 45 µs of thread wake-ups on this machine against
/// SQLite's few microseconds, and a write makes six or more of them while every other writer
/// waits for its turn. Only the group's `COMMIT` (the flush to disk) leaves the runtime's
/// thread to the runtime's other tasks while it runs.
pub(crate) struct SqliteWriteConn {
    path: std::path::PathBuf,
    mmap_bytes: u64,
    /// The connection between groups; `None` while a group has it, or after one failed.
    idle: std::sync::Mutex<Option<rusqlite::Connection>>,
    /// The thread that checkpoints the write-ahead log; started by the first commit.
    checkpoints: std::sync::Mutex<Checkpoints>,
}

/// The checkpoint thread: how to nudge it and wait for its end, and when it was last started.
#[derive(Default)]
struct Checkpoints {
    thread: Option<(std::sync::mpsc::SyncSender<()>, std::thread::JoinHandle<()>)>,
    started: Option<std::time::Instant>,
}

/// How long after a checkpoint thread ended (its connection would not open) another is started.
const CHECKPOINT_THREAD_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own at each nudge, resting
/// after each (see [`CHECKPOINT_PAGES`]); ends when the write connection closes (its sender
/// goes), at once if resting.
fn checkpoint_thread(path: &std::path::Path, rx: std::sync::mpsc::Receiver<()>) {
    // Stated, not left to the build's default: a checkpoint flushes the database file before
    // it marks the log's pages as copied only when its connection syncs, and the log may start
    // again over them after that mark. No busy wait: a passive checkpoint never waits, and a
    // schema read that finds the file busy is tried again at the next nudge.
    let conn = match crate::read::open_in_place(path, "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 0;", 0, 1) {
        Ok(conn) => conn,
        Err(e) => return tracing::warn!(error = %e, "could not open a connection for checkpoints"),
    };
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    let mut warned: Option<std::time::Instant> = None;
    let mut nudged = false;
    let mut pace = Pace::default();
    loop {
        if !nudged && rx.recv().is_err() {
            return;
        }
        let checkpoint = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        let rest = match checkpoint {
            // Another connection's checkpoint held the log (this process's writer's own, or
            // another process's): nothing seen, nothing to learn from.
            Ok((busy, pages, _)) if busy != 0 || pages < 0 => pace.rest,
            Ok((_, pages, copied)) => pace.after(LogState { generation: log_generation(&wal), pages, copied }),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
            {
                pace.rest
            }
            // Until checkpoints work again, the write connection's own keep the log bounded.
            Err(e) => {
                if warned.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
                    warned = Some(std::time::Instant::now());
                    tracing::warn!(error = %e, "could not checkpoint the write-ahead log");
                }
                pace.failed()
            }
        };
        nudged = false;
        let rested = std::time::Instant::now() + rest;
        loop {
            match rx.recv_timeout(rested.saturating_duration_since(std::time::Instant::now())) {
                Ok(()) => nudged = true,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// The log's generation: the count of times it started again, which SQLite writes into the
/// log's header (bytes 12 to 15, big-endian) with the first page after each start. `None` if
/// the file cannot be read.
fn log_generation(wal: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 4];
    std::fs::File::open(wal).ok()?.read_exact_at(&mut b, 12).ok()?;
    Some(u32::from_be_bytes(b))
}

/// What a checkpoint saw of the log: its generation, its pages and how many of them are copied.
#[derive(Clone, Copy, Debug)]
struct LogState {
    generation: Option<u32>,
    pages: i64,
    copied: i64,
}

/// The checkpoint thread's rest between checkpoints, kept so that each copies about
/// [`CHECKPOINT_PAGES`].
#[derive(Debug)]
struct Pace {
    rest: std::time::Duration,
    last: Option<LogState>,
}

impl Default for Pace {
    fn default() -> Self {
        Pace { rest: CHECKPOINT_RESTS.0, last: None }
    }
}

impl Pace {
    /// The rest after a checkpoint that left the log as `now`.
    fn after(&mut self, now: LogState) -> std::time::Duration {
        let copied = self.last.map(|last| {
            let restarts = match (last.generation, now.generation) {
                (Some(a), Some(b)) => b.wrapping_sub(a),
                // The header unread: a shorter log, or fewer pages copied, means it started again.
                _ => u32::from(now.pages < last.pages || now.copied < last.copied),
            };
            match restarts {
                0 => (now.copied - last.copied).max(0),
                // Started again once: the log of the last generation was all copied before it
                // did (its pages written after the last checkpoint are not counted).
                1 => (last.pages - last.copied).max(0) + now.copied,
                // More than once: the log went round faster than the rest.
                _ => i64::MAX,
            }
        });
        self.last = Some(now);
        let (shortest, longest) = CHECKPOINT_RESTS;
        match copied {
            // Far more than wanted: shorter in proportion, in one step.
            Some(n) if n > CHECKPOINT_PAGES * 2 => {
                let factor = CHECKPOINT_PAGES as f64 / n as f64;
                self.rest = self.rest.mul_f64(factor).max(shortest);
            }
            Some(n) if n < CHECKPOINT_PAGES / 2 => self.rest = (self.rest * 2).min(longest),
            _ => {}
        }
        self.rest
    }

    /// The rest after a checkpoint that failed: longer, so that a lasting error is not tried
    /// again and again.
    fn failed(&mut self) -> std::time::Duration {
        self.rest = (self.rest * 2).min(CHECKPOINT_RESTS.1);
        self.rest
    }
}

/// Past this many pages in the write-ahead log, the write connection checkpoints it itself, in
/// the write turn (SQLite's automatic checkpoint, 1,000 pages by default). The checkpoint thread
/// normally has most of them copied by then, so that checkpoint is short. Its use: the log
/// starts again from its beginning only when a commit writes to a log that is all copied (and
/// no reader still reads from the log), which under steady writes only a checkpoint in the turn
/// brings about; and it keeps the log near 40 MB (at 4 KB pages) should the thread fail, as
/// SQLite's own checkpoints did at 4 MB (a reader that stays open, a `VACUUM INTO` say, holds
/// either back).
const WAL_PAGES_BEFORE_WRITER_CHECKPOINTS: u32 = 10_000;

/// About how many pages the checkpoint thread copies at a time, as SQLite's own checkpoint
/// (its default threshold): it rests between checkpoints, the pages of every commit meanwhile
/// copied by the next one, a flush of the database file for all of them. A page written again
/// and again (the sync log's newest) is copied once per checkpoint, so checkpoints much more
/// frequent than SQLite's would copy and flush more.
const CHECKPOINT_PAGES: i64 = 1_000;

/// The shortest and longest rest between two checkpoints: after a checkpoint that copied fewer
/// than half of [`CHECKPOINT_PAGES`], the next rest is twice as long; after one that copied more
/// than twice as many, shorter in proportion. At most half a second: a burst of writes after a
/// quiet spell (the rest at its longest) writes about 8,000 pages in that time at the fastest
/// rate measured (creates, 16,000 pages a second), short of the writer's own threshold.
const CHECKPOINT_RESTS: (std::time::Duration, std::time::Duration) =
    (std::time::Duration::from_millis(20), std::time::Duration::from_millis(500));

impl SqliteWriteConn {
    pub(crate) fn new(path: &std::path::Path, mmap_bytes: u64) -> Arc<Self> {
        Arc::new(SqliteWriteConn {
            path: path.to_path_buf(),
            mmap_bytes,
            idle: std::sync::Mutex::new(None),
            checkpoints: Default::default(),
        })
    }

    /// Tells the checkpoint thread that a commit added pages to the write-ahead log, starting
    /// it first if need be. Never waits: a nudge already pending covers this commit too.
    ///
    /// Checkpoints copy the log's pages into the database file and flush it. Left to the write
    /// connection (SQLite's automatic checkpoint), each one ran inside the `COMMIT` that crossed
    /// 1,000 pages, holding this process's write turn: a few milliseconds, every few commits,
    /// during which no write could go ahead. On a connection of its own, a checkpoint
    /// (`PASSIVE`) takes no write lock: it copies what is committed while the next groups write
    /// and commit (decision 0036). Durability is the commits' own flush of the log, unchanged.
    fn nudge_checkpoints(&self) {
        let mut checkpoints = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((tx, _)) = &checkpoints.thread {
            match tx.try_send(()) {
                Ok(()) | Err(std::sync::mpsc::TrySendError::Full(())) => return,
                // The thread ended (its connection would not open): started again below.
                Err(std::sync::mpsc::TrySendError::Disconnected(())) => checkpoints.thread = None,
            }
        }
        // Until it runs, the write connection checkpoints past
        // `WAL_PAGES_BEFORE_WRITER_CHECKPOINTS`.
        if checkpoints.started.is_some_and(|t| t.elapsed() < CHECKPOINT_THREAD_RETRY) {
            return;
        }
        checkpoints.started = Some(std::time::Instant::now());
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let path = self.path.clone();
        match std::thread::Builder::new().name("sqlite-checkpoints".into()).spawn(move || checkpoint_thread(&path, rx))
        {
            Ok(thread) => {
                let _ = tx.try_send(());
                checkpoints.thread = Some((tx, thread));
            }
            Err(e) => tracing::warn!(error = %e, "could not start the checkpoint thread"),
        }
    }

    /// Closes the write connection and ends the checkpoint thread, waiting for the checkpoint
    /// it may be running: the store's last checkpoint at close (`Provisioning::close`) would
    /// find the log busy.
    async fn close(&self) {
        drop(self.idle.lock().unwrap_or_else(|e| e.into_inner()).take());
        let thread = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner()).thread.take();
        if let Some((tx, thread)) = thread {
            drop(tx);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    fn take(&self) -> Result<rusqlite::Connection> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).take();
        match idle {
            Some(c) => Ok(c),
            None => self.open(),
        }
    }

    fn put_back(&self, conn: rusqlite::Connection) {
        *self.idle.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn);
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        // As the pool's connections (`connect_sqlite`): durable commits, cascading deletes,
        // savepoint undo in memory. No busy timeout: `BEGIN IMMEDIATE` is retried without
        // holding the thread (see `begin_immediate`), and inside the transaction nothing else
        // waits for a lock. Room for every statement a write makes, multi-row inserts of each
        // size included (events, texts and kept bodies: up to 64 sizes each). Checkpoints are
        // the checkpoint thread's (`nudge_checkpoints`).
        crate::read::open_in_place(
            &self.path,
            &format!(
                "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA busy_timeout = 0;
                 PRAGMA wal_autocheckpoint = {WAL_PAGES_BEFORE_WRITER_CHECKPOINTS};"
            ),
            self.mmap_bytes,
            384,
        )
    }
}

/// How long `BEGIN IMMEDIATE` waits for another process's write lock on SQLite, as the
/// pool's `busy_timeout`.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `BEGIN IMMEDIATE` on the in-place connection. While another process (the desktop app and a
/// headless server, or a CLI command, on one file) holds the write lock, it is retried every
/// few milliseconds, asleep in between rather than in SQLite's busy handler: the runtime's
/// thread stays free, and a writer whose request goes away stops waiting there and then.
async fn begin_immediate(conn: &mut rusqlite::Connection) -> Result<()> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

fn multi_threaded() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Runs `work`, a long stretch of in-place SQLite statements (a sync-log batch), telling a
/// multi-threaded runtime first, so that its other tasks move to another thread meanwhile.
pub(crate) async fn long_in_place<T>(work: impl std::future::Future<Output = T>) -> T {
    if multi_threaded() {
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(work))
    } else {
        work.await
    }
}

/// `COMMIT` on SQLite's write connection, on a thread of the runtime's blocking pool: the flush
/// to disk (0.2–4 ms) leaves the runtime's threads to its other tasks, and the commit's task is
/// woken when it is done. Run in place under `block_in_place` instead, the runtime's core moved
/// to another thread and back around every commit, and the writes queued behind it waited
/// longer for their turn: 10–20% fewer creates and PATCHes a second (BENCHMARKS.md, eleventh
/// session). Returns the connection, or `None` if the thread never ran (the runtime shutting
/// down): the connection then closed as it dropped, rolling its transaction back.
async fn commit_sqlite(c: rusqlite::Connection) -> (Option<rusqlite::Connection>, Result<()>) {
    match tokio::task::spawn_blocking(move || {
        let committed = c.execute_batch("COMMIT");
        (c, committed)
    })
    .await
    {
        Ok((c, committed)) => (Some(c), committed.map_err(Into::into)),
        Err(e) => (None, Err(Error::Commit(format!("the commit did not finish: {e}")))),
    }
}

/// A group's connection: the pool's (PostgreSQL), or SQLite's in-place write connection.
enum GroupConn {
    Pool(sqlx::pool::PoolConnection<sqlx::Any>),
    Sqlite(rusqlite::Connection),
}

impl GroupConn {
    /// Runs a statement of the group's own (`SAVEPOINT`, `COMMIT`, ...).
    async fn run(&mut self, sql: &str) -> Result<()> {
        self.sql().execute(sql, &[]).await.map(drop)
    }

    fn sql(&mut self) -> SqlConn<'_> {
        match self {
            GroupConn::Pool(c) => SqlConn::Any(c),
            GroupConn::Sqlite(c) => SqlConn::Sqlite(c),
        }
    }
}

/// An open group transaction.
struct Group {
    /// `None` only after the connection is handed back or closed.
    conn: Option<GroupConn>,
    writers: usize,
    /// Whether its transaction is open: set once `BEGIN` (and, on PostgreSQL, the advisory
    /// lock) has gone through. A group whose first writer went away before that has no
    /// transaction to hand on or commit.
    begun: bool,
    /// Writers whose changes stay (released savepoints).
    kept: usize,
    /// The commit's outcome, for the writers waiting on it.
    done: watch::Sender<Option<std::result::Result<(), String>>>,
    /// The sync-log events of the writers whose changes stay, inserted just before the commit:
    /// one statement for the group, outside every writer's savepoint.
    events: Vec<SyncEvent>,
}

impl Drop for Group {
    fn drop(&mut self) {
        // A group dropped while its transaction is open (the runtime shutting down) must not
        // return a connection to the pool mid-transaction: it is closed instead.
        if let Some(GroupConn::Pool(conn)) = self.conn.take() {
            drop(conn.detach());
        }
        // SQLite's connection closes as it drops, which rolls its transaction back.
    }
}

/// Decrements the waiting count however the wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How a writer leaves its savepoint.
#[derive(Clone, Copy, PartialEq)]
enum Leave {
    Release,
    RollBack,
    /// The writer never opened one (it failed, or went away, right after taking its turn).
    Nothing,
}

impl Writer {
    /// `sqlite`: the SQLite store's in-place write connection; `None` on PostgreSQL.
    pub(crate) fn new(
        pool: db::Pool,
        backend: Backend,
        sqlite: Option<Arc<SqliteWriteConn>>,
        announce: Announce,
    ) -> Self {
        Writer {
            turn: Arc::new(Mutex::new(None)),
            waiting: Arc::new(AtomicUsize::new(0)),
            stats: Default::default(),
            pool,
            backend,
            sqlite,
            closed: Default::default(),
            closing: Default::default(),
            announce: Arc::new(announce),
        }
    }

    /// Ends writing: commits a group still open, closes SQLite's write connection, and makes
    /// every later write fail.
    pub(crate) async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let guard = loop {
            let guard = self.turn.clone().lock_owned().await;
            if guard.is_none() {
                break guard;
            }
            // A writer queued behind it may open another group meanwhile: until none is open.
            let _ = self.finish_group(guard).await;
        };
        self.closed.store(true, Ordering::SeqCst);
        if let Some(w) = &self.sqlite {
            w.close().await;
        }
        drop(guard);
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Commits made and writes they acknowledged (a write rolled back counts in neither).
    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.stats.0.load(Ordering::Relaxed), self.stats.1.load(Ordering::Relaxed))
    }

    /// Takes this process's write turn and opens a savepoint in the group transaction, opening
    /// that transaction if this writer is the group's first.
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        let guard = {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let _counted = Waiting(&self.waiting);
            self.turn.clone().lock_owned().await
        };
        // From here on, however this writer ends, its turn ends through `WriteTx`'s drop.
        let mut tx = WriteTx { guard: Some(guard), in_savepoint: false, writer: self.clone(), events: vec![] };
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Database(sqlx::Error::PoolClosed));
        }
        let guard = tx.guard.as_mut().expect("held");
        if guard.is_none() {
            let conn = match &self.sqlite {
                Some(w) => GroupConn::Sqlite(w.take()?),
                None => GroupConn::Pool(self.pool.acquire().await?),
            };
            let (done, _) = watch::channel(None);
            let guardian = self.clone();
            let outcome = done.subscribe();
            tokio::spawn(async move { guardian.guard_group(outcome).await });
            // Stored before `BEGIN` runs, not yet `begun`: if this writer goes away while it
            // waits for the database's lock, `WriteTx`'s drop ends the group. On PostgreSQL the
            // statement may still run on the connection, which is then closed, instead of going
            // back to the pool holding the lock with nobody to end it; on SQLite the retries
            // stop and the connection, in autocommit, is kept.
            **guard = Some(Group { conn: Some(conn), writers: 0, begun: false, kept: 0, done, events: vec![] });
            let begun = match group_conn(guard) {
                GroupConn::Sqlite(c) => begin_immediate(c).await,
                pooled => match pooled.run(self.backend.begin_statement()).await {
                    // Selected as a boolean: `Any` reads no `void` column.
                    Ok(()) => pooled
                        .sql()
                        .fetch_optional::<bool>(
                            "SELECT pg_advisory_xact_lock(?) IS NULL",
                            &crate::filter_sql::binds![db::WRITE_LOCK_KEY],
                        )
                        .await
                        .map(drop),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = begun {
                return Err(fail_group(self, tx.guard.take().expect("held"), e).await);
            }
            group_mut(tx.guard.as_mut().expect("held")).begun = true;
        }
        let guard = tx.guard.as_mut().expect("held");
        if let Err(e) = group_conn(guard).run("SAVEPOINT write_turn").await {
            return Err(fail_group(self, tx.guard.take().expect("held"), e).await);
        }
        group_mut(guard).writers += 1;
        tx.in_savepoint = true;
        Ok(tx)
    }

    /// Ends a writer's turn: leaves its savepoint, then hands the group on to a waiting writer
    /// or commits it. A writer whose changes stay returns once they are committed.
    async fn end_turn(&self, mut guard: OwnedMutexGuard<Option<Group>>, leave: Leave) -> Result<()> {
        if guard.is_none() {
            return Ok(());
        }
        if !guard.as_ref().is_some_and(|g| g.begun) {
            // The group's first writer went away while `BEGIN` waited for another process's
            // lock (or failed before it): nothing to hand on. Handed on, the next writer would
            // work outside any transaction, each statement committing on its own.
            self.abandon_group(guard);
            return Ok(());
        }
        let left = match leave {
            Leave::Release => group_conn(&mut guard).run("RELEASE SAVEPOINT write_turn").await,
            Leave::RollBack => match group_conn(&mut guard).run("ROLLBACK TO SAVEPOINT write_turn").await {
                Ok(()) => group_conn(&mut guard).run("RELEASE SAVEPOINT write_turn").await,
                Err(e) => Err(e),
            },
            Leave::Nothing => Ok(()),
        };
        if let Err(e) = left {
            return Err(fail_group(self, guard, e).await);
        }
        if leave == Leave::Release {
            group_mut(&mut guard).kept += 1;
        }
        let group = guard.as_ref().expect("open");
        let others_waiting = self.waiting.load(Ordering::SeqCst) > 0;
        if others_waiting && group.writers < MAX_GROUP {
            let outcome = group.done.subscribe();
            drop(guard);
            if leave != Leave::Release {
                // Nothing of this writer's to wait for; the group's guardian commits it if the
                // writer it goes to never takes its turn.
                return Ok(());
            }
            return self.await_commit(outcome).await;
        }
        self.commit_group(guard).await
    }

    /// Ends the group in the turn: commits it, or drops it if it never began.
    async fn finish_group(&self, guard: OwnedMutexGuard<Option<Group>>) -> Result<()> {
        if guard.as_ref().is_some_and(|g| g.begun) {
            self.commit_group(guard).await
        } else {
            self.abandon_group(guard);
            Ok(())
        }
    }

    /// Drops a group whose transaction never began (see [`Group::begun`]). Its SQLite
    /// connection, in autocommit, is kept for the next group; a pooled one may still be
    /// running the abandoned `BEGIN`, so it is closed.
    fn abandon_group(&self, mut guard: OwnedMutexGuard<Option<Group>>) {
        let Some(mut group) = guard.take() else { return };
        match group.conn.take() {
            Some(GroupConn::Pool(conn)) => drop(conn.detach()),
            sqlite => self.put_back(sqlite),
        }
        group.done.send_replace(Some(Err("the write went away before its transaction began".into())));
    }

    /// Commits the group and tells its waiting writers.
    async fn commit_group(&self, guard: OwnedMutexGuard<Option<Group>>) -> Result<()> {
        let writer = self.clone();
        // On a task of its own, so that it finishes even if the request goes away (a client
        // disconnecting, a timeout) meanwhile: cut short, the turn would pass on with the group
        // still marked open after its COMMIT ran, and the next group's COMMIT would fail
        // ("no transaction is active") with every write in it. One task per group, not per
        // write, next to a flush to disk.
        match tokio::spawn(async move { writer.commit_now(guard).await }).await {
            Ok(result) => result,
            Err(e) => Err(Error::Commit(format!("the commit did not finish: {e}"))),
        }
    }

    async fn commit_now(&self, mut guard: OwnedMutexGuard<Option<Group>>) -> Result<()> {
        let mut events = std::mem::take(&mut group_mut(&mut guard).events);
        if !events.is_empty()
            && let Err(e) = crate::events::insert_events(&mut group_conn(&mut guard).sql(), &mut events, None).await
        {
            return Err(fail_group(self, guard, e).await);
        }
        let committed = match group_mut(&mut guard).conn.take() {
            Some(GroupConn::Sqlite(c)) => {
                let (c, committed) = commit_sqlite(c).await;
                if let Some(w) = &self.sqlite {
                    w.nudge_checkpoints();
                }
                group_mut(&mut guard).conn = c.map(GroupConn::Sqlite);
                committed
            }
            pooled => {
                group_mut(&mut guard).conn = pooled;
                group_conn(&mut guard).run("COMMIT").await
            }
        };
        match committed {
            Ok(()) => {
                let mut group = guard.take().expect("open");
                // Back to the pool: its transaction is closed.
                self.put_back(group.conn.take());
                self.stats.0.fetch_add(1, Ordering::Relaxed);
                self.stats.1.fetch_add(group.kept as u64, Ordering::Relaxed);
                // The turn first, then the group's writers: the next group's first writer is
                // woken before the group's answers queue up on the runtime's threads ahead of it.
                drop(guard);
                // Shown before the writers answer: a write's events are on the live stream,
                // and their texts queued for indexing, by the time its request returns.
                self.announce(events);
                group.done.send_replace(Some(Ok(())));
                Ok(())
            }
            Err(e) => Err(fail_group(self, guard, e).await),
        }
    }

    /// Tells of a group's committed events (SQLite): the sync log's writer indexes their
    /// texts, one request at a time (it clears the flag when it takes it, and a full queue
    /// means it is about to write a batch, which indexes them too); the live stream shows them.
    fn announce(&self, events: Vec<SyncEvent>) {
        if self.backend != Backend::Sqlite || events.is_empty() {
            return;
        }
        let a = &self.announce;
        // Closing, the log's writer has written its last batch: the texts stay pending, and
        // the next start indexes them.
        if !self.closing.load(Ordering::SeqCst)
            && !a.texts_pending.swap(true, Ordering::SeqCst)
            && let Some(batch) = a.batch.upgrade()
        {
            let _ = batch.try_send(LogMsg::IndexTexts);
        }
        for e in events {
            let _ = a.live.send(e);
        }
    }

    /// Returns a group's connection, its transaction closed, for the next group.
    fn put_back(&self, conn: Option<GroupConn>) {
        if let (Some(GroupConn::Sqlite(c)), Some(w)) = (conn, &self.sqlite) {
            w.put_back(c);
        }
        // A pooled connection goes back to the pool as it drops.
    }

    /// Waits for the commit of the group this writer handed on. If the writers it goes to all
    /// go away, the group's guardian commits it.
    async fn await_commit(&self, mut outcome: watch::Receiver<Option<std::result::Result<(), String>>>) -> Result<()> {
        match outcome.wait_for(Option::is_some).await.map(|v| v.clone()) {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(e))) => Err(Error::Commit(e)),
            Ok(None) => unreachable!("waited for Some"),
            // The group was dropped uncommitted (the runtime is shutting down).
            Err(_) => Err(Error::Commit("the write was not committed".into())),
        }
    }

    /// A group's guardian, started with it: if every writer of the group goes away (requests
    /// cancelled while they wait for its commit, or a failed writer handing it to a writer that
    /// never arrives), nobody would commit it, and the transaction and the database's write lock
    /// would stay open until the next write. So every [`RESCUE_AFTER`] until the group settles,
    /// the guardian takes its place in the turn and commits the group if it is still open.
    async fn guard_group(&self, mut outcome: watch::Receiver<Option<std::result::Result<(), String>>>) {
        loop {
            if tokio::time::timeout(RESCUE_AFTER, outcome.wait_for(Option::is_some)).await.is_ok() {
                // Settled, or dropped uncommitted.
                return;
            }
            let guard = self.turn.clone().lock_owned().await;
            if guard.as_ref().is_some_and(|g| g.done.subscribe().same_channel(&outcome)) {
                let _ = self.finish_group(guard).await;
                return;
            }
        }
    }
}

/// How often a group's guardian checks that the group is still being carried to its commit.
const RESCUE_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

/// The open group.
fn group_mut(guard: &mut OwnedMutexGuard<Option<Group>>) -> &mut Group {
    guard.as_mut().expect("an open group")
}

/// The open group's connection.
fn group_conn(guard: &mut OwnedMutexGuard<Option<Group>>) -> &mut GroupConn {
    group_mut(guard).conn.as_mut().expect("an open group has its connection")
}

/// Rolls the whole group back after a failure of the transaction itself (not of one writer's
/// changes), tells its waiting writers, and returns the error.
async fn fail_group(writer: &Writer, mut guard: OwnedMutexGuard<Option<Group>>, error: Error) -> Error {
    let Some(mut group) = guard.take() else { return error };
    if let Some(mut conn) = group.conn.take() {
        if conn.run("ROLLBACK").await.is_ok() {
            writer.put_back(Some(conn));
        } else if let GroupConn::Pool(conn) = conn {
            // Whatever state it is in, it does not go back to the pool.
            drop(conn.detach());
        }
        // SQLite's: closed as it drops; the next group opens another.
    }
    tracing::error!(error = %error, writers = group.writers, "a group of writes was rolled back");
    group.done.send_replace(Some(Err(error.to_string())));
    error
}

/// A write in progress: a savepoint in the group transaction, holding this process's write
/// turn. Its statements run on [`WriteTx::conn`]. `commit` returns once the group's commit made it durable;
/// dropping it without `commit` rolls its changes back.
pub(crate) struct WriteTx {
    guard: Option<OwnedMutexGuard<Option<Group>>>,
    in_savepoint: bool,
    writer: Writer,
    /// This write's sync-log events, handed to the group if its changes stay.
    events: Vec<SyncEvent>,
}

impl WriteTx {
    /// The group transaction's connection, for this write's statements.
    pub(crate) fn conn(&mut self) -> SqlConn<'_> {
        group_conn(self.guard.as_mut().expect("held until commit or drop")).sql()
    }

    /// Records `events` with this write: they are inserted with the group's, just before the
    /// commit that keeps the write's changes, and are gone if they are rolled back. Their ids
    /// are set then; the live stream shows them once committed.
    pub(crate) fn log(&mut self, events: Vec<SyncEvent>) {
        self.events.extend(events);
    }

    pub(crate) async fn commit(mut self) -> Result<()> {
        let mut guard = self.guard.take().expect("held until commit or drop");
        // Into the group before anything is awaited: a request gone while its savepoint is
        // released leaves its finished changes to the group's commit, and its events with them.
        if let Some(group) = guard.as_mut() {
            group.events.append(&mut self.events);
        }
        self.writer.end_turn(guard, Leave::Release).await
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            let leave = if self.in_savepoint { Leave::RollBack } else { Leave::Nothing };
            let writer = self.writer.clone();
            // Rolling back takes a round trip; the turn (and the group) stay with this task
            // until it is done.
            tokio::spawn(async move {
                let _ = writer.end_turn(guard, leave).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing::open_store;
    use crate::{Clock, Config, Provisioning};

    /// A fresh store, and its first writer holding the turn with `key` written.
    async fn first_writer(key: &str) -> (tempfile::TempDir, Provisioning, Writer, WriteTx) {
        let dir = tempfile::tempdir().unwrap();
        let p = open_store(dir.path(), Config::default(), Clock::system()).await.expect("store");
        let w = p.writer.clone();
        let mut first = w.begin().await.unwrap();
        put(&mut first, p.backend, key).await.unwrap();
        (dir, p, w, first)
    }

    async fn put(tx: &mut WriteTx, backend: Backend, key: &str) -> Result<()> {
        assert_eq!(tx.conn().backend(), backend);
        tx.conn().execute("INSERT INTO settings (key, value) VALUES (?, 'v')", &crate::filter_sql::binds![key]).await?;
        Ok(())
    }

    async fn keys(p: &Provisioning) -> Vec<String> {
        sqlx::query_scalar("SELECT key FROM settings WHERE key LIKE 'gc-%' ORDER BY key")
            .fetch_all(&p.pool)
            .await
            .expect("read")
    }

    /// A writer of its own: takes its turn, inserts `keys` in order, commits.
    fn spawn_write(w: &Writer, backend: Backend, keys: &[&str]) -> tokio::task::JoinHandle<Result<()>> {
        let (w, keys): (Writer, Vec<String>) = (w.clone(), keys.iter().map(|k| k.to_string()).collect());
        tokio::spawn(async move {
            let mut tx = w.begin().await?;
            for k in &keys {
                put(&mut tx, backend, k).await?;
            }
            tx.commit().await
        })
    }

    /// Whether the turn is free with no group open, waiting up to two seconds for it.
    async fn until_no_group(w: &Writer) -> bool {
        for _ in 0..200 {
            if w.turn.lock().await.is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// A SQLite store, and another process's connection holding the database's write lock.
    async fn store_locked_by_another_process(name: &str) -> (tempfile::TempDir, Provisioning, rusqlite::Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let p = Provisioning::open(&path, Config::default()).await.unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        (dir, p, other)
    }

    /// Waits until `n` writers queue for the turn.
    async fn until_waiting(w: &Writer, n: usize) {
        for _ in 0..500 {
            if w.waiting.load(Ordering::SeqCst) == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("{n} writers never queued");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_queued_together_share_one_commit() {
        let (_dir, p, w, first) = first_writer("gc-00").await;
        // Nothing is counted before a commit.
        let (commits_before, writes_before) = w.stats();
        let queued: Vec<_> = (1..=10).map(|i| spawn_write(&w, p.backend, &[&format!("gc-{i:02}")])).collect();
        until_waiting(&w, 10).await;
        // Nothing is visible to other connections, nor acknowledged, until the group commits.
        assert!(keys(&p).await.is_empty());
        assert!(queued.iter().all(|q| !q.is_finished()));
        first.commit().await.unwrap();
        for q in queued {
            q.await.unwrap().unwrap();
        }
        assert_eq!(keys(&p).await.len(), 11);
        let (commits, writes) = w.stats();
        assert_eq!((commits - commits_before, writes - writes_before), (1, 11), "eleven writes, one commit");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_writer_takes_only_its_own_changes_with_it() {
        let (_dir, p, w, first) = first_writer("gc-a").await;
        // "gc-a" again: a constraint violation, after a change ("gc-b") that must go too.
        let failing = spawn_write(&w, p.backend, &["gc-b", "gc-a"]);
        until_waiting(&w, 1).await;
        let last = spawn_write(&w, p.backend, &["gc-c"]);
        until_waiting(&w, 2).await;
        first.commit().await.unwrap();
        let err = failing.await.unwrap().expect_err("duplicate key");
        assert!(matches!(err, Error::Database(_) | Error::Sqlite(_)), "{err}");
        last.await.unwrap().unwrap();
        assert_eq!(keys(&p).await, ["gc-a", "gc-c"]);
    }

    /// A write's events go in with the group's, just before its commit: each writer's whose
    /// changes stay, none of a writer rolled back, none visible before the commit; on SQLite
    /// the live stream then shows them with the ids they were stored under.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writes_events_stand_or_fall_with_its_changes() {
        let (_dir, p, w, mut first) = first_writer("gc-a").await;
        let mut live = p.subscribe();
        let logged = |tx: &mut WriteTx, key: &str| tx.log(vec![p.admin_event("Group commit test", key)]);
        logged(&mut first, "gc-a");
        let spawn_logged = |keys: &'static [&'static str]| {
            let (w, p) = (w.clone(), p.clone());
            tokio::spawn(async move {
                let mut tx = w.begin().await?;
                for k in keys {
                    put(&mut tx, p.backend, k).await?;
                    tx.log(vec![p.admin_event("Group commit test", k)]);
                }
                tx.commit().await
            })
        };
        let failing = spawn_logged(&["gc-b", "gc-a"]);
        until_waiting(&w, 1).await;
        let last = spawn_logged(&["gc-c"]);
        until_waiting(&w, 2).await;
        let stored = || async {
            let rows: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, detail FROM events WHERE operation = 'Group commit test' ORDER BY id")
                    .fetch_all(&p.pool)
                    .await
                    .unwrap();
            rows
        };
        assert!(stored().await.is_empty(), "an event showed before its write committed");
        first.commit().await.unwrap();
        failing.await.unwrap().expect_err("duplicate key");
        last.await.unwrap().unwrap();
        let rows = stored().await;
        let details: Vec<&str> = rows.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(details, ["gc-a", "gc-c"], "the rolled-back writer's events went with its changes");
        if p.backend == Backend::Sqlite {
            for (id, detail) in &rows {
                let e = tokio::time::timeout(Duration::from_secs(5), live.recv()).await.unwrap().unwrap();
                assert_eq!((e.id, e.detail.as_deref()), (*id, Some(detail.as_str())), "shown as stored");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_handed_to_a_writer_that_went_away_is_still_committed() {
        let (_dir, p, w, first) = first_writer("gc-x").await;
        // A writer that was waiting when `first` looked, and whose request was gone before
        // it took the turn: counted, never arriving.
        w.waiting.fetch_add(1, Ordering::SeqCst);
        let committed = tokio::time::timeout(Duration::from_secs(5), first.commit()).await;
        w.waiting.fetch_sub(1, Ordering::SeqCst);
        committed.expect("the waiter commits the group itself").unwrap();
        assert_eq!(keys(&p).await, ["gc-x"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_dropped_mid_write_rolls_back_and_the_group_goes_on() {
        let (_dir, p, w, first) = first_writer("gc-1").await;
        let backend = p.backend;
        let abandoned = {
            let w = w.clone();
            tokio::spawn(async move {
                let mut tx = w.begin().await.unwrap();
                put(&mut tx, backend, "gc-2").await.unwrap();
                // The request goes away here: dropped without commit.
            })
        };
        until_waiting(&w, 1).await;
        first.commit().await.unwrap();
        abandoned.await.unwrap();
        // The next writer finds the turn free and the group committed.
        let mut next = w.begin().await.unwrap();
        put(&mut next, p.backend, "gc-3").await.unwrap();
        next.commit().await.unwrap();
        assert_eq!(keys(&p).await, ["gc-1", "gc-3"]);
    }

    /// Requests that go away while their write commits (a client gone, a timeout) break
    /// nothing: the next writer's commit succeeds, every write whose commit returned is
    /// stored, and no group is left open. The write that goes away is large, so that its
    /// COMMIT takes milliseconds, and it goes away after 0.5 to 16 ms: at the release, in the
    /// commit, or after it. On either store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_gone_while_committing_break_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = open_store(dir.path(), Config::default(), Clock::system()).await.expect("store");
        let (w, backend) = (p.writer.clone(), p.backend);
        let mut acknowledged = vec![];
        for (round, micros) in [500, 1_000, 2_000, 4_000, 8_000, 16_000].into_iter().enumerate() {
            let mut big = w.begin().await.unwrap();
            // A number of this test's own, written into the SQL.
            let rows = format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                 INSERT INTO settings (key, value) SELECT 'gc-big-{round}-' || i, 'v' FROM n"
            );
            big.conn().execute(&rows, &[]).await.unwrap();
            let _gone = tokio::time::timeout(Duration::from_micros(micros), big.commit()).await;
            let key = format!("gc-next-{round}");
            let mut next = w.begin().await.unwrap();
            put(&mut next, backend, &key).await.unwrap();
            next.commit().await.expect("the next write commits");
            acknowledged.push(key);
        }
        // The commits of the requests that went away finish on their own tasks.
        assert!(until_no_group(&w).await, "a group was left open");
        let stored = keys(&p).await;
        for k in &acknowledged {
            assert!(stored.contains(k), "{k} was acknowledged but is not stored");
        }
    }

    /// A writer that fails after handing the group to a writer that then never arrives
    /// (its request gone) still has the group ended: the transaction does not stay open,
    /// holding the database's write lock, until the next write comes along.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_writer_handing_on_to_nobody_still_ends_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let p = open_store(dir.path(), Config::default(), Clock::system()).await.expect("store");
        let w = p.writer.clone();
        let failing = w.begin().await.unwrap();
        w.waiting.fetch_add(1, Ordering::SeqCst);
        drop(failing);
        tokio::time::sleep(Duration::from_millis(20)).await;
        w.waiting.fetch_sub(1, Ordering::SeqCst);
        assert!(until_no_group(&w).await, "the group stayed open");
    }

    /// The checkpoint thread's rest: so that each checkpoint copies about `CHECKPOINT_PAGES`,
    /// shorter in one step after a burst, longer step by step when writes are few, and right
    /// across the log starting again (read from its header's generation).
    #[test]
    fn the_checkpoint_rest_follows_the_pages_written() {
        let ms = |n| Duration::from_millis(n);
        let at = |generation, pages, copied| LogState { generation: Some(generation), pages, copied };
        let mut pace = Pace::default();
        assert_eq!(pace.rest, CHECKPOINT_RESTS.0);
        // The first checkpoint has nothing to compare with; few pages then lengthen the rest
        // up to its longest.
        assert_eq!(pace.after(at(1, 100, 100)), ms(20));
        assert_eq!(pace.after(at(1, 150, 150)), ms(40));
        for _ in 0..10 {
            pace.after(at(1, 150, 150));
        }
        assert_eq!(pace.rest, CHECKPOINT_RESTS.1);
        // About the pages wanted: the rest stays.
        assert_eq!(pace.after(at(1, 1_150, 1_150)), ms(500));
        // A burst: 8,000 pages copied in one rest shortens it in proportion, at once.
        assert_eq!(pace.after(at(1, 9_150, 9_150)), ms(62) + Duration::from_micros(500));
        // The log started again once: what was left of the last generation counts too.
        let mut pace = Pace { rest: ms(100), last: Some(at(7, 3_000, 2_500)) };
        assert_eq!(pace.after(at(8, 600, 600)), ms(100), "500 + 600 pages: about right");
        // Twice within one rest: far too slow, the shortest rest.
        assert_eq!(pace.after(at(10, 50, 50)), CHECKPOINT_RESTS.0);
        // With the header unread, a shorter log means it started again.
        let unread = |pages, copied| LogState { generation: None, pages, copied };
        let mut pace = Pace { rest: ms(100), last: Some(unread(5_000, 4_000)) };
        assert_eq!(pace.after(unread(300, 300)), ms(100), "1,000 + 300 pages");
        assert_eq!(pace.after(unread(450, 450)), ms(200), "150 pages");
        // A failed checkpoint lengthens the rest, up to its longest.
        assert_eq!(pace.failed(), ms(400));
        assert_eq!(pace.failed(), CHECKPOINT_RESTS.1);
    }

    /// SQLite: committed writes reach the database file itself without the write connection
    /// checkpointing (its own checkpoint waits for 10,000 pages): the checkpoint thread copies
    /// them, so the file alone, copied without its write-ahead log, holds every write. At close
    /// the thread is stopped before the store's last checkpoint, which empties the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpoint_thread_copies_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.db");
        let p = Provisioning::open(&path, Config::default()).await.unwrap();
        let ctx = crate::RequestContext::new("POST", "/Users");
        for i in 0..60 {
            let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("ck{i}@example.com")});
            p.create(crate::ResourceKind::User, &ctx, &body).await.unwrap();
        }
        let copy = dir.path().join("copy.db");
        let users_in_file_alone = || {
            std::fs::copy(&path, &copy).unwrap();
            let c = rusqlite::Connection::open(&copy).unwrap();
            c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0)).unwrap_or(-1)
        };
        let mut seen = users_in_file_alone();
        for _ in 0..100 {
            if seen == 60 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen = users_in_file_alone();
        }
        assert_eq!(seen, 60, "the database file alone holds every committed user");
        let wal = dir.path().join("ckpt.db-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 0, "the store is open: its log is in use");
        assert!(log_generation(&wal).is_some(), "the log's header is read");
        // Closing right after a write, while the thread may be copying it.
        let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "last@example.com"});
        p.create(crate::ResourceKind::User, &ctx, &body).await.unwrap();
        p.close().await;
        assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0, "the log is emptied at close");
        assert_eq!(users_in_file_alone(), 61);
    }

    /// SQLite: a request that goes away while its write waits for the database's lock (held by
    /// another process) leaves no connection holding that lock once it is free: the next write
    /// goes through at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_gone_while_waiting_for_the_lock_leaves_it_free() {
        let (_dir, p, other) = store_locked_by_another_process("lock.db").await;
        let gone = tokio::time::timeout(Duration::from_millis(200), p.writer.begin()).await;
        assert!(gone.is_err(), "the write waited for the other process");
        other.execute_batch("COMMIT").unwrap();
        // Time for the abandoned BEGIN, still running on its connection, to take the lock.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let next = async {
            let mut tx = p.writer.begin().await?;
            put(&mut tx, p.backend, "gc-after").await?;
            tx.commit().await
        };
        let done = tokio::time::timeout(Duration::from_secs(5), next).await;
        assert!(matches!(done, Ok(Ok(()))), "the next write was held up: {done:?}");
        assert_eq!(keys(&p).await, ["gc-after"]);
        p.close().await;
    }

    /// SQLite: when the group's first writer goes away while it waits for another process's
    /// lock, the writer queued behind it does not inherit a group with no transaction (each of
    /// its statements would then commit on its own, or fail at once on the lock): it begins a
    /// group of its own, waits for the lock, and its writes commit together.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_gone_while_waiting_for_the_lock_hands_on_no_group() {
        let (_dir, p, other) = store_locked_by_another_process("handoff.db").await;
        let w = p.writer.clone();
        let first = {
            let w = w.clone();
            tokio::spawn(async move { tokio::time::timeout(Duration::from_millis(300), w.begin()).await.is_err() })
        };
        // Queued before the group's guardian first looks (after `RESCUE_AFTER`), so that the
        // turn passes from the writer that went away to this one.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let next = spawn_write(&w, p.backend, &["gc-next-1", "gc-next-2"]);
        until_waiting(&w, 1).await;
        assert!(first.await.unwrap(), "the first writer waited for the lock and went away");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (commits, writes) = w.stats();
        other.execute_batch("COMMIT").unwrap();
        let done = tokio::time::timeout(Duration::from_secs(5), next).await;
        assert!(matches!(done, Ok(Ok(Ok(())))), "the queued write failed: {done:?}");
        assert_eq!(keys(&p).await, ["gc-next-1", "gc-next-2"]);
        assert_eq!((w.stats().0 - commits, w.stats().1 - writes), (1, 1), "one write, in one group's commit");
        p.close().await;
    }

    /// SQLite: a write that finds another process holding the database's write lock waits for
    /// it (asleep, retrying) and goes through once it is released, without holding up the
    /// runtime meanwhile.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_write_waits_for_another_process_lock_then_goes_through() {
        let (_dir, p, other) = store_locked_by_another_process("wait.db").await;
        let write = {
            let (w, backend) = (p.writer.clone(), p.backend);
            tokio::spawn(async move {
                let mut tx = w.begin().await?;
                put(&mut tx, backend, "gc-waited").await?;
                tx.commit().await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The runtime's one worker thread keeps serving other tasks while the write waits.
        let other_task = tokio::time::timeout(Duration::from_secs(1), tokio::spawn(async { 42 })).await;
        assert!(matches!(other_task, Ok(Ok(42))), "the runtime was held up: {other_task:?}");
        assert!(!write.is_finished(), "the write did not wait for the lock");
        other.execute_batch("COMMIT").unwrap();
        let done = tokio::time::timeout(Duration::from_secs(5), write).await;
        assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
        assert_eq!(keys(&p).await, ["gc-waited"]);
        p.close().await;
    }

    /// Once the store is closed, a write fails, on SQLite's own write connection as on a pool,
    /// and what was written before is all in the database file (its WAL emptied).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_after_close_fail() {
        let (dir, p, _w, first) = first_writer("gc-before").await;
        first.commit().await.unwrap();
        p.close().await;
        let after = p.writer.begin().await;
        assert!(after.is_err(), "a write went through after close");
        if p.backend == Backend::Sqlite {
            let wal = dir.path().join("scim.db-wal");
            assert!(std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0, "the WAL still holds data");
            let copy = dir.path().join("copy.db");
            std::fs::copy(dir.path().join("scim.db"), &copy).unwrap();
            let c = rusqlite::Connection::open(&copy).unwrap();
            let key: String =
                c.query_row("SELECT key FROM settings WHERE key = 'gc-before'", [], |r| r.get(0)).unwrap();
            assert_eq!(key, "gc-before");
        }
    }

    /// SQLite: a write's connection commits through the WAL with a full fsync (an acknowledged
    /// write survives a power cut) and keeps its savepoints' undo in memory, not in a
    /// temporary file per commit; the pool's connections do not (decision 0020).
    #[tokio::test]
    async fn sqlite_writes_are_durable_and_undo_stays_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provisioning::open(&dir.path().join("pragmas.db"), Config::default()).await.unwrap();
        let mut tx = p.writer.begin().await.unwrap();
        let journal: Option<String> = tx.conn().fetch_optional("PRAGMA journal_mode", &[]).await.unwrap();
        assert_eq!(journal.as_deref(), Some("wal"));
        let mut number = async |name: &str| -> Option<i64> {
            tx.conn().fetch_optional(&format!("PRAGMA {name}"), &[]).await.unwrap()
        };
        assert_eq!(number("synchronous").await, Some(2), "FULL");
        assert_eq!(number("temp_store").await, Some(2), "MEMORY");
        assert_eq!(number("foreign_keys").await, Some(1), "cascading deletes");
        tx.commit().await.unwrap();
        // The pool's connections serve the sync log's queries, whose sorts (the activity
        // chart's, over a million events) would stay in memory: they keep SQLite's default.
        let pooled: i64 = sqlx::query_scalar("PRAGMA temp_store").fetch_one(&p.pool).await.unwrap();
        assert_eq!(pooled, 0, "the pool's temporary data in files");
        p.close().await;
    }
}
