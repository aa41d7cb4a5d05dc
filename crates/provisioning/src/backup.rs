//! Online backup: a consistent copy of the live database while it keeps serving
//! (`VACUUM INTO` reads one snapshot; in WAL mode writers are not blocked meanwhile).
//! SQLite only: a PostgreSQL store is backed up with PostgreSQL's own tools.

use std::path::Path;
use std::str::FromStr;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::{Backend, Error, Provisioning, Result};

/// What a backup holds, counted in the copy itself after its integrity check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub users: i64,
    pub groups: i64,
    pub events: i64,
}

impl Provisioning {
    /// Writes a consistent copy of the database to `out`, which must not exist yet (or be
    /// empty). The copy is created readable by its owner only, like the database, and is
    /// checked with `PRAGMA integrity_check` before this returns.
    ///
    /// A PostgreSQL store is refused: `pg_dump` (or the server's base backups) copies it
    /// consistently while every instance keeps serving, and restores into any server.
    pub async fn backup_to(&self, out: &Path) -> Result<BackupSummary> {
        if self.backend == Backend::Postgres {
            return Err(Error::InvalidInput(
                "backups of a PostgreSQL store are pg_dump's job: run `pg_dump --format=custom --file=scim.dump DATABASE_URL` \
                 (and `pg_restore --dbname=DATABASE_URL scim.dump` to restore), or use the server's own backups"
                    .into(),
            ));
        }
        if std::fs::metadata(out).is_ok_and(|m| m.len() > 0) {
            return Err(Error::InvalidInput(format!("{} already exists; choose a new file", out.display())));
        }
        crate::create_private(out)?;
        let target = out.to_str().ok_or_else(|| Error::InvalidInput("the backup path is not UTF-8".into()))?;
        if let Err(e) = sqlx::query("VACUUM INTO ?").bind(target).execute(&self.pool).await {
            let _ = std::fs::remove_file(out);
            return Err(e.into());
        }
        let opts = SqliteConnectOptions::from_str("sqlite://")?.filename(out).read_only(true);
        let mut conn = SqliteConnection::connect_with(&opts).await?;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await?;
        if check != "ok" {
            return Err(Error::Io(std::io::Error::other(format!("the backup failed its integrity check: {check}"))));
        }
        let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
        let summary = BackupSummary {
            users: sqlx::query_scalar(&count("users")).fetch_one(&mut conn).await?,
            groups: sqlx::query_scalar(&count("groups")).fetch_one(&mut conn).await?,
            events: sqlx::query_scalar(&count("events")).fetch_one(&mut conn).await?,
        };
        conn.close().await?;
        Ok(summary)
    }
}
