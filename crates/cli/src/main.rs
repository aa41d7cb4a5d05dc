//! `talkwriter-scim`: the headless SCIM server and its admin commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use provisioning::{Config, EventQuery, Provisioning};

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
    },
    /// Create, list and revoke bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the sync log, newest last.
    Events {
        #[command(flatten)]
        db: Db,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Keep printing new events as they arrive.
        #[arg(long)]
        follow: bool,
        /// How many of the latest events to print first.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Turn SCIM provisioning on or off. While off, every SCIM request is refused.
    Provisioning {
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[command(flatten)]
        db: Db,
    },
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
        Command::Serve { db, listen } => serve(db, listen).await,
        Command::Token { command } => token(command).await,
        Command::Events { db, json, follow, limit } => events(db, json, follow, limit).await,
        Command::Provisioning { state, db } => {
            let p = db.open().await?;
            p.set_provisioning_enabled(state == "on").await?;
            println!("SCIM provisioning is {state}");
            Ok(())
        }
    }
}

async fn serve(db: Db, listen: SocketAddr) -> Result<()> {
    let p = db.open().await?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}{}", scim_http::BASE_PATH);
    if !p.has_tokens().await? {
        let t = p.create_token("First token", None).await?;
        println!("SCIM endpoint URL: {url}");
        println!("Bearer token (shown once, keep it secret): {}", t.token);
    }
    tracing::info!(%url, db = %db.path()?.display(), "serving SCIM");
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
    };
    scim_http::serve(p.clone(), listener, shutdown).await?;
    p.close().await;
    Ok(())
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

fn print_event(e: &provisioning::SyncEvent, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(e)?);
    } else {
        println!(
            "{}  {:<10} {:<20} {:<32} {} {:>7.1} ms  {}",
            e.time,
            e.idp,
            e.operation,
            e.target_name.as_deref().or(e.target_id.as_deref()).unwrap_or("-"),
            e.status,
            e.latency_ms,
            e.detail.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

async fn events(db: Db, json: bool, follow: bool, limit: i64) -> Result<()> {
    let p = db.open().await?;
    let page = p.query_events(&EventQuery { limit: Some(limit), ..Default::default() }).await?;
    let mut last = 0;
    for e in page.events.iter().rev() {
        print_event(e, json)?;
        last = e.id;
    }
    if follow {
        // Another process writes the log, so follow the database, not this process's stream.
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let page =
                p.query_events(&EventQuery { after_id: Some(last), limit: Some(1000), ..Default::default() }).await?;
            for e in page.events.iter().rev() {
                print_event(e, json)?;
                last = last.max(e.id);
            }
        }
    }
    Ok(())
}
