//! `talkwriter-scim serve`: binds loopback unless told otherwise, serves plain HTTP or TLS
//! (rustls, from PEM files), and stops cleanly on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::Db;

/// How `serve` listens, beyond the address.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeOptions {
    /// Allow listening on an address other machines can reach (not 127.0.0.1 or ::1).
    /// Use it with --tls-cert/--tls-key or behind a TLS proxy: the bearer token travels in
    /// every request.
    #[arg(long)]
    pub allow_remote: bool,
    /// A PEM certificate chain (leaf first): serve HTTPS instead of HTTP.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a request may take, body upload included, before it is answered 503.
    #[arg(long, default_value_t = scim_http::limits::REQUEST_TIMEOUT.as_secs(), value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,
    /// For measuring what the sync log costs: successful reads are not logged (writes and
    /// failures still are). Hidden: the product logs every request an IdP makes.
    #[arg(long, hide = true)]
    pub no_read_log: bool,
}

/// Refuses a non-loopback address unless `--allow-remote` was given; warns when it was.
fn check_listen(listen: SocketAddr, opts: &ServeOptions) -> Result<()> {
    if listen.ip().is_loopback() {
        return Ok(());
    }
    if !opts.allow_remote {
        bail!(
            "refusing to listen on {listen}, which other machines can reach: SCIM bearer tokens would cross \
             the network. Listen on 127.0.0.1 behind a TLS proxy, or pass --allow-remote (with --tls-cert \
             and --tls-key)"
        );
    }
    if opts.tls_cert.is_some() {
        tracing::warn!(%listen, "listening on a non-loopback address (--allow-remote), with TLS");
    } else {
        tracing::warn!(
            %listen,
            "listening on a non-loopback address (--allow-remote) WITHOUT TLS: bearer tokens cross the network \
             in clear text unless a TLS proxy is in front"
        );
    }
    Ok(())
}

pub async fn run(db: Db, listen: SocketAddr, opts: ServeOptions) -> Result<()> {
    check_listen(listen, &opts)?;
    let tls = match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => Some(scim_http::tls::acceptor(cert, key).context("loading the TLS certificate")?),
        _ => None,
    };
    // The handlers are installed before the port opens: a SIGTERM that arrives as soon as the
    // port accepts (from a supervisor, or a test) stops the server cleanly instead of killing it.
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?)
    };
    let p = db.open_with(provisioning::Config { log_reads: !opts.no_read_log, ..Default::default() }).await?;
    // Sync-log retention (days and/or rows, set in the app) is enforced every ten minutes.
    let _retention = p.spawn_retention_job(std::time::Duration::from_secs(600));
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}{}", scim_http::BASE_PATH);
    if !p.has_tokens().await? {
        let t = p.create_token("First token", None).await?;
        println!("SCIM endpoint URL: {url}");
        println!("Bearer token (shown once, keep it secret): {}", t.token);
    }
    tracing::info!(%url, db = %db.display()?, "serving SCIM");
    let shutdown = async move {
        #[cfg(unix)]
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    let limits =
        scim_http::Limits { request_timeout: Duration::from_secs(opts.request_timeout_secs), ..Default::default() };
    match tls {
        Some(acceptor) => {
            scim_http::serve_with(p.clone(), scim_http::tls::listen(listener, acceptor)?, limits, shutdown).await?
        }
        None => scim_http::serve_with(p.clone(), listener, limits, shutdown).await?,
    }
    p.close().await;
    let (commits, writes) = p.write_stats();
    tracing::info!(commits, writes, "writes acknowledged since start, and the commits that made them durable");
    Ok(())
}
