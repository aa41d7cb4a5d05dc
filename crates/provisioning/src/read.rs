//! Reads on a SCIM request's path: the token check, GET by id, and list queries.
//!
//! Through sqlx, every SQLite query is a round trip to the connection's own thread: the
//! request's task sends the statement, that thread wakes, runs it, and wakes the task again.
//! A lookup by primary key takes a few microseconds in SQLite and several times that in those
//! two wake-ups (the load benchmark's profile: more of the server's time in thread switches than
//! in SQLite). So on SQLite these reads run on connections of their own, opened with rusqlite
//! and queried in place on the runtime's thread. On PostgreSQL, and inside write transactions,
//! the same SQL runs through sqlx. Callers write each query once, with `?` placeholders and
//! [`SqlBind`] parameters, against [`ReadConn`].
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

/// A connection to read through: a pooled or transaction's sqlx connection, or an in-place
/// SQLite one.
pub(crate) enum ReadConn<'a> {
    Any(&'a mut db::Conn),
    Sqlite(&'a mut rusqlite::Connection),
}

impl<'a> From<&'a mut db::Conn> for ReadConn<'a> {
    fn from(c: &'a mut db::Conn) -> Self {
        ReadConn::Any(c)
    }
}

/// A row type both drivers can read.
pub(crate) trait FromRead: Sized {
    fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self>;
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

impl FromRead for i64 {
    fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        row.try_get(0)
    }
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        row.get(0)
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

impl ReadConn<'_> {
    /// Every row of `sql` (`?` placeholders, written for both backends).
    pub(crate) async fn fetch_all<T: FromRead>(self, sql: &str, binds: &[SqlBind]) -> Result<Vec<T>> {
        match self {
            ReadConn::Any(c) => {
                let sql = Backend::of(c).sql(sql);
                let rows = bind_all(sqlx::query(&sql), binds).fetch_all(&mut *c).await?;
                Ok(rows.iter().map(T::from_any).collect::<sqlx::Result<_>>()?)
            }
            ReadConn::Sqlite(c) => {
                let mut statement = c.prepare_cached(sql)?;
                let rows = statement.query_map(rusqlite::params_from_iter(binds), T::from_sqlite)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }
        }
    }

    /// The first row of `sql`, if any.
    pub(crate) async fn fetch_optional<T: FromRead>(self, sql: &str, binds: &[SqlBind]) -> Result<Option<T>> {
        match self {
            ReadConn::Any(c) => {
                let sql = Backend::of(c).sql(sql);
                let row = bind_all(sqlx::query(&sql), binds).fetch_optional(&mut *c).await?;
                Ok(row.as_ref().map(T::from_any).transpose()?)
            }
            ReadConn::Sqlite(c) => {
                let mut statement = c.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(binds))?;
                Ok(rows.next()?.map(T::from_sqlite).transpose()?)
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
        use rusqlite::OpenFlags;
        // The store's pool has created the file and set WAL mode, which is the database's.
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Reads only: `query_only` refuses any write through these connections. The memory
        // map is the store's setting (see `Config::sqlite_mmap_bytes`); a number, never
        // request text.
        conn.execute_batch(&format!(
            "PRAGMA query_only = ON; PRAGMA busy_timeout = 10000; PRAGMA mmap_size = {};",
            self.mmap_bytes
        ))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }
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
    pub(crate) fn conn(&mut self) -> ReadConn<'_> {
        match self {
            Reader::Pool(r) => ReadConn::Any(r.conn.as_mut().expect("held until dropped")),
            Reader::Sqlite(r) => ReadConn::Sqlite(r.conn.as_mut().expect("held until dropped")),
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
