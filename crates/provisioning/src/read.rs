//! Reads on a SCIM request's path: the token check, GET by id, and list queries.
//!
//! Through sqlx, every SQLite query is a round trip to the connection's own thread: the
//! request's task sends the statement, that thread wakes, runs it, and wakes the task again.
//! A lookup by primary key takes a few microseconds in SQLite and several times that in those
//! two wake-ups (the load benchmark's profile: more of the server's time in thread switches than
//! in SQLite). So on SQLite these reads run on connections of their own, opened with rusqlite
//! and queried in place on the runtime's thread. On PostgreSQL the same SQL runs through sqlx.
//! Callers write each query once, with `?` placeholders and [`SqlBind`] parameters, against
//! [`SqlConn`]; the statements of writes do too, on the group commit's connection, which on
//! SQLite is driven in place the same way (see `group_commit`).
//!
//! Every such read runs in place, list pages included. A read that scans (a `co` filter over a
//! million users) holds its runtime thread while SQLite works; the runtime's other threads take
//! over the tasks queued on it meanwhile. Moving scans off the thread first
//! (`block_in_place`) cost list pages a third of their throughput in the load benchmark, for a
//! case the filter limits already bound.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sqlx::Row as _;

use crate::Result;
use crate::db::{self, Backend};
use crate::filter_sql::{SqlBind, bind_all};

/// Idle read connections kept open per store.
const MAX_IDLE: usize = 16;

/// A connection to run SQL on: a pooled or transaction's sqlx connection, or an in-place
/// SQLite one (a read connection, or the write connection of a group commit on SQLite; see
/// `group_commit`).
pub(crate) enum SqlConn<'a> {
    Any(&'a mut db::Conn),
    Sqlite(&'a mut rusqlite::Connection),
}

impl<'a> From<&'a mut db::Conn> for SqlConn<'a> {
    fn from(c: &'a mut db::Conn) -> Self {
        SqlConn::Any(c)
    }
}

/// A row type both drivers can read.
pub(crate) trait FromRead: Sized {
    fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self>;
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Single-column rows.
macro_rules! scalar_from_read {
    ($($t:ty),*) => {$(
        impl FromRead for $t {
            fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
                row.try_get(0)
            }
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                row.get(0)
            }
        }
    )*};
}
scalar_from_read!(i64, bool, String, Option<String>, Option<i64>);

impl FromRead for (String, String) {
    fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        Ok((row.try_get(0)?, row.try_get(1)?))
    }
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

impl FromRead for (Option<i64>, Option<i64>) {
    fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        Ok((row.try_get(0)?, row.try_get(1)?))
    }
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

impl FromRead for (i64, String) {
    fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        Ok((row.try_get(0)?, row.try_get(1)?))
    }
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

impl FromRead for (String, String, Option<String>) {
    fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
    }
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    }
}

impl rusqlite::ToSql for SqlBind {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            SqlBind::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlBind::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            SqlBind::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            SqlBind::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

/// In place, a statement never waits, so a task making many of them in a row (a membership
/// change of thousands of members, a batch of the sync log) would keep its runtime thread from
/// every other task queued on it. Each statement takes a unit of the task's cooperative budget,
/// and once it is spent (every 128 units) the task lets the others run first.
async fn take_budget() {
    tokio::task::consume_budget().await;
}

impl SqlConn<'_> {
    /// The database this connection talks to.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            SqlConn::Any(c) => Backend::of(c),
            SqlConn::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Every row of `sql` (`?` placeholders, written for both backends).
    pub(crate) async fn fetch_all<T: FromRead>(&mut self, sql: &str, binds: &[SqlBind]) -> Result<Vec<T>> {
        match self {
            SqlConn::Any(c) => {
                let sql = Backend::of(c).sql(sql);
                let rows = bind_all(sqlx::query(&sql), binds).fetch_all(&mut **c).await?;
                Ok(rows.iter().map(T::from_any).collect::<sqlx::Result<_>>()?)
            }
            SqlConn::Sqlite(c) => {
                take_budget().await;
                let mut statement = c.prepare_cached(sql)?;
                let rows = statement.query_map(rusqlite::params_from_iter(binds), T::from_sqlite)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }
        }
    }

    /// The first row of `sql`, if any.
    pub(crate) async fn fetch_optional<T: FromRead>(&mut self, sql: &str, binds: &[SqlBind]) -> Result<Option<T>> {
        match self {
            SqlConn::Any(c) => {
                let sql = Backend::of(c).sql(sql);
                let row = bind_all(sqlx::query(&sql), binds).fetch_optional(&mut **c).await?;
                Ok(row.as_ref().map(T::from_any).transpose()?)
            }
            SqlConn::Sqlite(c) => {
                take_budget().await;
                let mut statement = c.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(binds))?;
                Ok(rows.next()?.map(T::from_sqlite).transpose()?)
            }
        }
    }

    /// Runs `sql`, a statement that returns no rows; returns the number of rows it changed.
    pub(crate) async fn execute(&mut self, sql: &str, binds: &[SqlBind]) -> Result<u64> {
        match self {
            SqlConn::Any(c) => {
                let sql = Backend::of(c).sql(sql);
                Ok(bind_all(sqlx::query(&sql), binds).execute(&mut **c).await?.rows_affected())
            }
            SqlConn::Sqlite(c) => {
                take_budget().await;
                let mut statement = c.prepare_cached(sql)?;
                Ok(statement.execute(rusqlite::params_from_iter(binds))? as u64)
            }
        }
    }
}

/// The SQLite store's read connections.
pub(crate) struct SqliteReaders {
    path: PathBuf,
    mmap_bytes: u64,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl SqliteReaders {
    pub(crate) fn new(path: &Path, mmap_bytes: u64) -> Arc<Self> {
        Arc::new(SqliteReaders { path: path.to_path_buf(), mmap_bytes, idle: Mutex::new(Vec::new()) })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The memory map's size (`Config::sqlite_mmap_bytes`).
    pub(crate) fn mmap_bytes(&self) -> u64 {
        self.mmap_bytes
    }

    /// An idle connection, or a new one.
    pub(crate) fn take(self: &Arc<Self>) -> Result<PooledReader> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open()?,
        };
        Ok(PooledReader { conn: Some(conn), home: self.clone() })
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        // Reads only: `query_only` refuses any write through these connections.
        open_in_place(&self.path, "PRAGMA query_only = ON; PRAGMA busy_timeout = 10000;", self.mmap_bytes, 64)
    }
}

/// Opens a connection to drive in place, with `pragmas`, the store's memory map (see
/// `Config::sqlite_mmap_bytes`; a number, never request text) and room for `statements`
/// prepared statements. The store's pool has created the file and set WAL mode, which is the
/// database's.
pub(crate) fn open_in_place(
    path: &Path,
    pragmas: &str,
    mmap_bytes: u64,
    statements: usize,
) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(&format!("{pragmas} PRAGMA mmap_size = {mmap_bytes};"))?;
    conn.set_prepared_statement_cache_capacity(statements);
    Ok(conn)
}

/// A read connection, back to its store's idle list when dropped.
pub(crate) struct PooledReader {
    conn: Option<rusqlite::Connection>,
    home: Arc<SqliteReaders>,
}

impl Drop for PooledReader {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A snapshot left open (its request gone mid-list) must not follow the connection
            // back to the idle list, where the next request would read old data through it.
            if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
                return;
            }
            let mut idle = self.home.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }
}

/// A pooled sqlx connection for reads. One dropped inside a snapshot is closed, not pooled.
pub(crate) struct PoolReader {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    in_snapshot: bool,
}

impl PoolReader {
    pub(crate) fn new(conn: sqlx::pool::PoolConnection<sqlx::Any>) -> Self {
        PoolReader { conn: Some(conn), in_snapshot: false }
    }
}

impl Drop for PoolReader {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.in_snapshot
        {
            drop(conn.detach());
        }
    }
}

/// A connection for a request's reads, from the store.
pub(crate) enum Reader {
    Pool(PoolReader),
    Sqlite(PooledReader),
}

impl Reader {
    pub(crate) fn conn(&mut self) -> SqlConn<'_> {
        match self {
            Reader::Pool(r) => SqlConn::Any(r.conn.as_mut().expect("held until dropped")),
            Reader::Sqlite(r) => SqlConn::Sqlite(r.conn.as_mut().expect("held until dropped")),
        }
    }

    /// Makes the reads that follow, until [`Reader::end_snapshot`], see one state of the
    /// database: a list's count and its page, for one, so that writes committed between the
    /// two cannot make them disagree.
    pub(crate) async fn begin_snapshot(&mut self) -> Result<()> {
        match self {
            Reader::Pool(r) => {
                let conn = r.conn.as_mut().expect("held until dropped");
                r.in_snapshot = true;
                sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut **conn).await?;
            }
            // SQLite's read transaction takes its snapshot at its first read.
            Reader::Sqlite(r) => r.conn.as_mut().expect("held until dropped").execute_batch("BEGIN")?,
        }
        Ok(())
    }

    pub(crate) async fn end_snapshot(&mut self) -> Result<()> {
        match self {
            Reader::Pool(r) => {
                sqlx::query("COMMIT").execute(&mut **r.conn.as_mut().expect("held until dropped")).await?;
                r.in_snapshot = false;
            }
            Reader::Sqlite(r) => r.conn.as_mut().expect("held until dropped").execute_batch("COMMIT")?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, Config, Provisioning};

    #[tokio::test]
    async fn in_place_readers_see_committed_writes_and_refuse_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provisioning::open_with_clock(&dir.path().join("scim.db"), Config::default(), Clock::system())
            .await
            .unwrap();
        let mut reader = p.reader().await.unwrap();
        assert!(matches!(reader, Reader::Sqlite(_)));
        let count = "SELECT COUNT(*) FROM tokens";
        assert_eq!(reader.conn().fetch_optional::<i64>(count, &[]).await.unwrap(), Some(0));
        p.create_token("t", None).await.unwrap();
        // The same idle connection, a new statement: it sees the commit at once.
        assert_eq!(reader.conn().fetch_optional::<i64>(count, &[]).await.unwrap(), Some(1));
        let write =
            reader.conn().fetch_optional::<i64>("DELETE FROM tokens RETURNING 1", &[]).await.expect_err("query_only");
        assert!(write.to_string().contains("readonly") || write.to_string().contains("read-only"), "{write}");
        drop(reader);
        assert_eq!(p.list_tokens().await.unwrap().len(), 1);
    }

    /// Inside a snapshot a reader sees the database as it was at its first read, whatever is
    /// committed meanwhile; after it (or when a reader is dropped inside one) reads are current
    /// again. On either store.
    #[tokio::test]
    async fn a_snapshot_reads_one_state_of_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::testing::open_store(dir.path(), Config::default(), Clock::system()).await.unwrap();
        let count = "SELECT COUNT(*) FROM tokens";
        let mut reader = p.reader().await.unwrap();
        reader.begin_snapshot().await.unwrap();
        assert_eq!(reader.conn().fetch_optional::<i64>(count, &[]).await.unwrap(), Some(0));
        p.create_token("t", None).await.unwrap();
        assert_eq!(reader.conn().fetch_optional::<i64>(count, &[]).await.unwrap(), Some(0), "the snapshot holds");
        reader.end_snapshot().await.unwrap();
        assert_eq!(reader.conn().fetch_optional::<i64>(count, &[]).await.unwrap(), Some(1));
        // Dropped inside a snapshot: the next reader (the same idle connection, on SQLite) is current.
        reader.begin_snapshot().await.unwrap();
        assert_eq!(reader.conn().fetch_optional::<i64>(count, &[]).await.unwrap(), Some(1));
        drop(reader);
        p.create_token("u", None).await.unwrap();
        let mut next = p.reader().await.unwrap();
        assert_eq!(next.conn().fetch_optional::<i64>(count, &[]).await.unwrap(), Some(2));
    }
}
