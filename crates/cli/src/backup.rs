//! `talkwriter-scim backup --db PATH OUT`: a consistent online copy of the database, safe while
//! a server is serving from it. Restoring is documented in the README ("Backup and restore").
//! A PostgreSQL database is backed up with pg_dump, which this points to.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::{Db, Location};

pub async fn run(db: Db, out: &Path) -> Result<()> {
    let path = match db.target()? {
        Location::Sqlite(path) => path,
        Location::Postgres(_) => bail!(
            "backup copies a SQLite file; {} is a PostgreSQL database: back it up with PostgreSQL's own \
             tools, e.g. `pg_dump --format=custom --file=scim.dump postgres://...` (restore with pg_restore)",
            db.display()?
        ),
    };
    if !path.is_file() {
        bail!("{} does not exist: nothing to back up", path.display());
    }
    let p = db.open().await?;
    let s = p.backup_to(out).await.with_context(|| format!("backing up {} to {}", path.display(), out.display()))?;
    p.close().await;
    println!(
        "backed up {} to {}: {} users, {} groups, {} sync-log events; integrity check ok",
        path.display(),
        out.display(),
        s.users,
        s.groups,
        s.events
    );
    Ok(())
}
