//! `talkwriter-scim`: the headless SCIM server and its admin commands.

mod backup;
mod directory;
mod events;
mod seed;
mod serve;
mod sim;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use provisioning::{Config, Location, Provisioning};

// Every request allocates its JSON, SQL text and rows across the runtime's threads; glibc's
// allocator spent more time in its locks and free-list consolidation than the server spent
// parsing JSON (see BENCHMARKS.md, "Where the time goes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "talkwriter-scim", version, about = "TalkWriter's SCIM 2.0 provisioning server, headless")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Db {
    /// The database: a SQLite file path (or sqlite://PATH), or postgres://USER@HOST:PORT/NAME for a
    /// PostgreSQL database that several instances share (the password is best given in PGPASSWORD
    /// or ~/.pgpass, out of the process list) [default: the user's data directory,
    /// talkwriter/scim.db]
    // The value may hold a password: clap must not echo it in --help.
    #[arg(long, env = "TALKWRITER_SCIM_DB", hide_env_values = true, value_name = "PATH|URL")]
    db: Option<String>,
}

impl Db {
    /// Where `--db` points.
    fn target(&self) -> Result<Location> {
        let Some(db) = &self.db else {
            let dir = dirs::data_dir().context("no user data directory; pass --db")?;
            return Ok(Location::Sqlite(dir.join("talkwriter").join("scim.db")));
        };
        // The message never quotes the value itself, which may hold a password.
        Location::parse(db).map_err(|e| anyhow::anyhow!("--db: {e}"))
    }

    /// The database for messages and logs: the path, or the URL with its password masked.
    fn display(&self) -> Result<String> {
        Ok(match self.target()? {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => mask_password(&url),
        })
    }

    async fn open(&self) -> Result<Provisioning> {
        self.open_with(Config::default()).await
    }

    /// Opens the store, runs `work` on it, and closes it however `work` ends, for a command
    /// that writes: what a write leaves to the store's background work (its sync-log texts,
    /// indexed after the write) is done before the process exits, instead of being cut off
    /// mid-commit by the runtime's shutdown.
    async fn with<T>(&self, work: impl AsyncFnOnce(&Provisioning) -> Result<T>) -> Result<T> {
        let p = self.open().await?;
        let out = work(&p).await;
        p.close().await;
        out
    }

    async fn open_with(&self, config: Config) -> Result<Provisioning> {
        let shown = self.display()?;
        let opened = match self.target()? {
            Location::Sqlite(path) => Provisioning::open(&path, config).await,
            Location::Postgres(url) => Provisioning::connect(&url, config).await,
        };
        // The error chain comes from the driver, which never sees the masked form: it is
        // masked again in case it quotes the URL.
        opened.map_err(|e| {
            let why = self.mask_in(&e.to_string());
            // The pool retries a refused or failed connection until it gives up, then says only this.
            let hint = if why.contains("pool timed out") {
                " (no connection could be opened: is the server running and reachable, and are the user, \
                 password and database name right?)"
            } else {
                ""
            };
            anyhow::anyhow!("opening {shown}: {why}{hint}")
        })
    }

    /// `text` with this database's password (if any) replaced by `***`.
    fn mask_in(&self, text: &str) -> String {
        match self.target() {
            Ok(Location::Postgres(url)) => match password_of(&url) {
                Some(pw) if !pw.is_empty() => text.replace(&url, &mask_password(&url)).replace(pw, "***"),
                _ => text.to_string(),
            },
            _ => text.to_string(),
        }
    }
}

/// The password part of a database URL: after `user:` in the authority, or a `password=`
/// query parameter.
fn password_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let query_start = rest.find('?').unwrap_or(rest.len());
    // The userinfo ends at the last '@' before the query: a password may hold an unencoded '@'.
    if let Some(at) = rest[..query_start].rfind('@')
        && let Some((_, pw)) = rest[..at].split_once(':')
    {
        return Some(pw);
    }
    rest[query_start..].trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("password="))
}

/// A database URL safe to print: its password, if any, replaced by `***`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let query_start = rest.find('?').unwrap_or(rest.len());
    let (main, query) = rest.split_at(query_start);
    let main = match main.rfind('@') {
        Some(at) => match main[..at].split_once(':') {
            Some((user, _)) => format!("{user}:***{}", &main[at..]),
            None => main.to_string(),
        },
        None => main.to_string(),
    };
    let query = if query.is_empty() {
        String::new()
    } else {
        let params: Vec<String> = query[1..]
            .split('&')
            .map(|kv| if kv.starts_with("password=") { "password=***".to_string() } else { kv.to_string() })
            .collect();
        format!("?{}", params.join("&"))
    };
    format!("{scheme}://{main}{query}")
}

#[derive(Subcommand)]
enum Command {
    /// Serve SCIM at /scim/v2 (and GET /health) until SIGTERM or Ctrl-C.
    Serve {
        #[command(flatten)]
        db: Db,
        /// The address to listen on. Keep it on 127.0.0.1 unless a proxy in front needs otherwise.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        #[command(flatten)]
        opts: serve::ServeOptions,
    },
    /// Create or upgrade the database's schema (run the migrations), then exit. `serve` and every
    /// other command do it too; run it once when deploying a new version to several instances.
    Migrate {
        #[command(flatten)]
        db: Db,
    },
    /// Copy the database to OUT while it may be serving (SQLite online backup), and check the copy.
    /// On PostgreSQL, use pg_dump instead.
    Backup {
        #[command(flatten)]
        db: Db,
        /// The backup file to create; it must not exist yet.
        out: PathBuf,
    },
    /// Create, list and revoke bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the sync log, newest last, with filters.
    Events(events::EventsArgs),
    /// List users with their access, or show one (`users show USERNAME`).
    Users(directory::UsersArgs),
    /// List groups with their members and whether they grant access, or show one.
    Groups(directory::GroupsArgs),
    /// Show or set the access rule: every active user, or only members of granting groups.
    Access(directory::AccessArgs),
    /// Turn SCIM provisioning on or off. While off, every SCIM request is refused.
    Provisioning {
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[command(flatten)]
        db: Db,
    },
    /// Play an IdP's provisioning of a made-up directory against a SCIM endpoint (a test sync).
    Simulate(sim::SimulateArgs),
    /// Check a SCIM endpoint: discovery, CRUD, filters, paging, IdP PATCH shapes, errors, auth.
    /// Exits non-zero when a check fails.
    Check(sim::CheckArgs),
    /// Entra's "Test connection": look up a random userName, expect an empty list.
    TestConnection(sim::CheckArgs),
    /// Fill a database with benchmark data in bulk: users, groups, a large group, events.
    Seed(seed::SeedArgs),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (only it) on stdout. It cannot be shown again.
    Create {
        #[command(flatten)]
        db: Db,
        #[arg(long, default_value = "SCIM token")]
        label: String,
        /// Make the token expire after this many days.
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id, at once.
    Revoke {
        #[command(flatten)]
        db: Db,
        id: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        // PostgreSQL's notices ("relation ... already exists, skipping" at every migration run)
        // are not the operator's business.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx::postgres::notice=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { db, listen, opts } => serve::run(db, listen, opts).await,
        Command::Migrate { db } => {
            let p = db.open().await?;
            p.close().await;
            println!("the database schema is up to date: {}", db.display()?);
            Ok(())
        }
        Command::Backup { db, out } => backup::run(db, &out).await,
        Command::Token { command } => token(command).await,
        Command::Events(a) => events::run(a).await,
        Command::Users(a) => directory::users(a).await,
        Command::Groups(a) => directory::groups(a).await,
        Command::Access(a) => directory::access(a).await,
        Command::Provisioning { state, db } => {
            db.with(async |p| Ok(p.set_provisioning_enabled(state == "on").await?)).await?;
            println!("SCIM provisioning is {state}");
            Ok(())
        }
        Command::Simulate(args) => sim::simulate(args).await,
        Command::Check(args) => sim::check(args).await,
        Command::TestConnection(args) => sim::test_connection(args).await,
        Command::Seed(args) => seed::run(args).await,
    }
}

async fn token(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create { db, label, expires_in_days } => {
            let t = db
                .with(async |p| {
                    let expires = expires_in_days.map(|d| p.clock().now() + chrono::Duration::days(d));
                    Ok(p.create_token(&label, expires).await?)
                })
                .await?;
            println!("{}", t.token);
        }
        TokenCommand::List { db, json } => {
            let p = db.open().await?;
            for t in p.list_tokens().await? {
                if json {
                    println!("{}", serde_json::to_string(&t)?);
                } else {
                    println!(
                        "{}  {:<8} {}…  {:<24} created {}  last used {}",
                        t.id,
                        t.state,
                        t.prefix,
                        t.label,
                        t.created,
                        t.last_used.as_deref().unwrap_or("never")
                    );
                }
            }
        }
        TokenCommand::Revoke { db, id } => {
            let t = db.with(async |p| Ok(p.revoke_token(&id).await?)).await?;
            println!("revoked {} ({})", t.id, t.label);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(s: &str) -> Db {
        Db { db: Some(s.to_string()) }
    }

    #[test]
    fn db_takes_a_path_or_a_url() {
        assert_eq!(db("/var/lib/tw/scim.db").target().unwrap(), Location::Sqlite("/var/lib/tw/scim.db".into()));
        assert_eq!(db("scim.db").target().unwrap(), Location::Sqlite("scim.db".into()));
        assert_eq!(db("sqlite:///tmp/a.db").target().unwrap(), Location::Sqlite("/tmp/a.db".into()));
        assert_eq!(db("sqlite:a.db").target().unwrap(), Location::Sqlite("a.db".into()));
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5432/db?sslmode=require"] {
            assert_eq!(db(url).target().unwrap(), Location::Postgres(url.into()));
        }
        assert!(db("mysql://u@h/db").target().is_err(), "an unknown scheme is not taken for a file name");
        assert!(db("sqlite://").target().is_err());
    }

    #[test]
    fn passwords_never_show() {
        let cases = [
            ("postgres://scim:s3cret@db.internal:5432/scim", "postgres://scim:***@db.internal:5432/scim"),
            ("postgresql://scim:p@ss:w@rd@db/scim?sslmode=require", "postgresql://scim:***@db/scim?sslmode=require"),
            (
                "postgres://scim@db/scim?password=s3cret&sslmode=require",
                "postgres://scim@db/scim?password=***&sslmode=require",
            ),
            ("postgres://db/scim", "postgres://db/scim"),
            ("postgres://scim@db/scim", "postgres://scim@db/scim"),
        ];
        for (url, shown) in cases {
            assert_eq!(mask_password(url), shown);
            assert_eq!(db(url).display().unwrap(), shown);
        }
        assert_eq!(password_of("postgresql://scim:p@ss:w@rd@db/scim"), Some("p@ss:w@rd"));
        let d = db("postgres://scim:s3cret@db/scim");
        let masked = d.mask_in("error connecting to postgres://scim:s3cret@db/scim: password s3cret rejected");
        assert!(!masked.contains("s3cret"), "{masked}");
    }
}
