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
use provisioning::{Config, Provisioning};

#[derive(Parser)]
#[command(name = "talkwriter-scim", version, about = "TalkWriter's SCIM 2.0 provisioning server, headless")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Db {
    /// The SQLite database file [default: the user's data directory, talkwriter/scim.db]
    #[arg(long, env = "TALKWRITER_SCIM_DB")]
    db: Option<PathBuf>,
}

impl Db {
    fn path(&self) -> Result<PathBuf> {
        match &self.db {
            Some(p) => Ok(p.clone()),
            None => {
                Ok(dirs::data_dir().context("no user data directory; pass --db")?.join("talkwriter").join("scim.db"))
            }
        }
    }

    async fn open(&self) -> Result<Provisioning> {
        let path = self.path()?;
        Provisioning::open(&path, Config::default()).await.with_context(|| format!("opening {}", path.display()))
    }
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
    /// Copy the database to OUT while it may be serving (SQLite online backup), and check the copy.
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
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { db, listen, opts } => serve::run(db, listen, opts).await,
        Command::Backup { db, out } => backup::run(db, &out).await,
        Command::Token { command } => token(command).await,
        Command::Events(a) => events::run(a).await,
        Command::Users(a) => directory::users(a).await,
        Command::Groups(a) => directory::groups(a).await,
        Command::Access(a) => directory::access(a).await,
        Command::Provisioning { state, db } => {
            let p = db.open().await?;
            p.set_provisioning_enabled(state == "on").await?;
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
            let p = db.open().await?;
            let expires = expires_in_days.map(|d| p.clock().now() + chrono::Duration::days(d));
            let t = p.create_token(&label, expires).await?;
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
            let p = db.open().await?;
            let t = p.revoke_token(&id).await?;
            println!("revoked {} ({})", t.id, t.label);
        }
    }
    Ok(())
}
