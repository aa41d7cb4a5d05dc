//! `talkwriter-scim events`: the sync log, with the same filters as the app's.

use anyhow::Result;
use provisioning::{EventQuery, ExportFormat, SyncEvent};

use crate::Db;

#[derive(clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    db: Db,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Print the whole selection as CSV (for a spreadsheet) instead.
    #[arg(long, conflicts_with_all = ["json", "follow"])]
    csv: bool,
    /// Keep printing new events as they arrive.
    #[arg(long)]
    follow: bool,
    /// How many of the latest matching events to print first.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-28T00:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// Only events at or before this time.
    #[arg(long)]
    until: Option<String>,
    /// Only this operation, e.g. "Create User", "Deactivate User", "Auth Failure".
    #[arg(long)]
    operation: Option<String>,
    /// Only successes or failures.
    #[arg(long, value_parser = ["success", "failure"])]
    result: Option<String>,
    /// Only this IdP: Okta, "Entra ID", OneLogin, JumpCloud, Other, "TalkWriter Admin".
    #[arg(long)]
    idp: Option<String>,
    /// Free text: a userName or group name (contains), an id, or text in the request body.
    #[arg(long)]
    text: Option<String>,
}

fn print_event(e: &SyncEvent, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(e)?);
    } else {
        println!(
            "{}  {:<16} {:<20} {:<32} {} {:>7.1} ms  {}",
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

pub async fn run(a: EventsArgs) -> Result<()> {
    let p = a.db.open().await?;
    let mut q = EventQuery {
        since: a.since,
        until: a.until,
        operation: a.operation,
        result: a.result,
        idp: a.idp,
        text: a.text,
        limit: Some(a.limit),
        ..Default::default()
    };
    if a.csv {
        print!("{}", p.export_events(&q, ExportFormat::Csv).await?);
        return Ok(());
    }
    let page = p.query_events(&q).await?;
    let mut last = 0;
    for e in page.events.iter().rev() {
        print_event(e, a.json)?;
        last = e.id;
    }
    if a.follow {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        q.limit = Some(1000);
        // On PostgreSQL every instance announces the events it commits through LISTEN/NOTIFY,
        // and this process listens: it reads again when an announcement arrives. On SQLite
        // another process (the server) writes the file, which is read four times a second.
        let mut live = (p.backend() == provisioning::Backend::Postgres).then(|| p.subscribe());
        loop {
            // What matches the filters, from the last event printed on: every page of it, newest
            // first, so that more than a page arriving between two reads are all printed.
            q.after_id = Some(last);
            let mut arrived = vec![];
            loop {
                let page = p.query_events(&q).await?;
                let oldest = page.events.last().map(|e| e.id);
                arrived.extend(page.events);
                match oldest {
                    Some(id) if page.has_more => q.before_id = Some(id),
                    _ => break,
                }
            }
            q.before_id = None;
            for e in arrived.iter().rev() {
                print_event(e, a.json)?;
                last = last.max(e.id);
            }
            match &mut live {
                Some(live) => {
                    match live.recv().await {
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                    // One read covers every announcement already waiting.
                    while matches!(live.try_recv(), Ok(_) | Err(TryRecvError::Lagged(_))) {}
                }
                None => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            }
        }
    }
    Ok(())
}
