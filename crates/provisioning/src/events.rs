//! The sync log: one event per SCIM request, in the admin's words ("Create User",
//! "Deactivate User"), with the IdP recognised, secrets redacted, and the quirks normalised.
//!
//! A write's event is inserted in the same transaction as the change. Events of reads and of
//! refused requests go through a channel to one task that inserts them in batches, so logging
//! never halves read throughput. Every event is also broadcast live to subscribers.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use sqlx::{Sqlite, SqliteConnection};
use tokio::sync::{broadcast, mpsc, oneshot};

use scim_protocol::Quirks;

use crate::{Provisioning, Result};

/// Bodies larger than this are cut in the log (the request itself is unaffected).
const MAX_LOGGED_BODY: usize = 64 * 1024;

/// One sync-log event as the admin sees it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct SyncEvent {
    pub id: i64,
    pub time: String,
    pub method: String,
    pub path: String,
    /// "Create User", "Update User", "Deactivate User", "Reactivate User", "Delete User",
    /// "Push Group", "Update Group", "Add to Group", "Remove from Group", "Delete Group",
    /// "Lookup", "Test Connection", "Discovery", "Auth Failure", or an admin action.
    pub operation: String,
    pub resource_type: Option<String>,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    pub status: i64,
    pub latency_ms: f64,
    pub user_agent: Option<String>,
    /// "Okta", "Entra ID", "OneLogin", "JumpCloud", "TalkWriter Admin" or "Other".
    pub idp: String,
    pub token_id: Option<String>,
    /// JSON array of quirk labels.
    pub quirks: String,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub detail: Option<String>,
    pub simulated: bool,
}

/// What the HTTP layer knows about a request, passed down so its event can be written.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub method: String,
    /// Path and query, e.g. `/scim/v2/Users?filter=...`.
    pub path: String,
    pub user_agent: Option<String>,
    pub token_id: Option<String>,
    /// The parsed request body, if any (secrets are redacted before it is stored).
    pub body: Option<Value>,
    pub started: Instant,
    /// Quirks the HTTP layer normalised (e.g. a `text/json` content type).
    pub quirks: Quirks,
    pub simulated: bool,
    /// The SCIM base URL resources are located under, e.g. `http://127.0.0.1:8787/scim/v2`.
    pub base_url: String,
}

impl RequestContext {
    pub fn new(method: &str, path: &str) -> Self {
        RequestContext {
            method: method.to_string(),
            path: path.to_string(),
            user_agent: None,
            token_id: None,
            body: None,
            started: Instant::now(),
            quirks: Quirks::default(),
            simulated: false,
            base_url: String::new(),
        }
    }
}

/// The outcome of a request, for its event.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub operation: Option<String>,
    pub resource_type: Option<String>,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    pub status: u16,
    pub response: Option<Value>,
    pub detail: Option<String>,
    pub quirks: Quirks,
}

/// Filters for reading the sync log.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase", default)]
pub struct EventQuery {
    /// Only events with an id below this (for paging back), or above `after_id`.
    pub before_id: Option<i64>,
    pub after_id: Option<i64>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub operation: Option<String>,
    /// "success" (status < 400) or "failure".
    pub result: Option<String>,
    pub idp: Option<String>,
    /// Free text: matches the target's name or id, or the request body.
    pub text: Option<String>,
    pub target_id: Option<String>,
    pub limit: Option<i64>,
}

/// A page of events, newest first.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub events: Vec<SyncEvent>,
    pub has_more: bool,
}

pub(crate) enum LogMsg {
    Event(Box<SyncEvent>),
    Flush(oneshot::Sender<()>),
}

/// The channel to the batch writer and the live broadcast.
#[derive(Clone)]
pub(crate) struct EventBus {
    pub(crate) batch: mpsc::UnboundedSender<LogMsg>,
    pub(crate) live: broadcast::Sender<SyncEvent>,
}

/// Recognises the IdP from the User-Agent, then from request shapes.
pub fn recognise_idp(user_agent: Option<&str>, quirks: &Quirks) -> &'static str {
    let ua = user_agent.unwrap_or("").to_ascii_lowercase();
    if ua.contains("okta") {
        "Okta"
    } else if ua.contains("azure") || ua.contains("microsoft") || ua.contains("entra") || ua.contains("aad") {
        "Entra ID"
    } else if ua.contains("onelogin") {
        "OneLogin"
    } else if ua.contains("jumpcloud") {
        "JumpCloud"
    } else if quirks.labels().iter().any(|q| q.starts_with("entra-")) {
        "Entra ID"
    } else if quirks.labels().iter().any(|q| q.starts_with("okta-")) {
        "Okta"
    } else if quirks.labels().iter().any(|q| q.starts_with("onelogin-")) {
        "OneLogin"
    } else {
        "Other"
    }
}

/// Replaces secrets in a body: `password` anywhere, at any depth.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let secret = k.eq_ignore_ascii_case("password") || k.to_ascii_lowercase().ends_with(":password");
                    (k.clone(), if secret { Value::String("[redacted]".into()) } else { redact(v) })
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

fn body_text(v: &Value) -> String {
    let mut s = serde_json::to_string(&redact(v)).unwrap_or_default();
    if s.len() > MAX_LOGGED_BODY {
        s.truncate(s.floor_char_boundary(MAX_LOGGED_BODY));
        s.push_str("…[truncated]");
    }
    s
}

/// Names a request in the admin's words when the service did not (reads and refusals).
pub fn classify(method: &str, path: &str, status: u16) -> &'static str {
    if status == 401 {
        return "Auth Failure";
    }
    let (p, query) = path.split_once('?').unwrap_or((path, ""));
    let segs: Vec<&str> = p.trim_matches('/').split('/').collect();
    let resource = segs.iter().position(|s| *s == "Users" || *s == "Groups").map(|i| (segs[i], segs.len() > i + 1));
    match (method, resource) {
        ("POST", Some(("Users", false))) => "Create User",
        ("POST", Some(("Groups", false))) => "Push Group",
        ("PUT" | "PATCH", Some(("Users", true))) => "Update User",
        ("PUT" | "PATCH", Some(("Groups", true))) => "Update Group",
        ("DELETE", Some(("Users", true))) => "Delete User",
        ("DELETE", Some(("Groups", true))) => "Delete Group",
        ("GET", Some(("Users", false))) if is_test_connection(query) => "Test Connection",
        ("GET", Some(_)) => "Lookup",
        ("POST", _) if p.ends_with(".search") => "Lookup",
        ("GET", None) => "Discovery",
        _ => "Other",
    }
}

/// Entra's "Test connection" looks up a random GUID as a userName.
fn is_test_connection(query: &str) -> bool {
    let q = query.replace("%20", " ").replace('+', " ").replace("%22", "\"");
    let Some(rest) = q.split("userName eq \"").nth(1) else { return false };
    let value = rest.split('"').next().unwrap_or("");
    value.len() == 36
        && value.chars().filter(|c| *c == '-').count() == 4
        && value.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

impl Provisioning {
    pub(crate) fn build_event(&self, ctx: &RequestContext, outcome: &Outcome) -> SyncEvent {
        let mut quirks = ctx.quirks.clone();
        for q in outcome.quirks.labels() {
            quirks.push(q);
        }
        let operation =
            outcome.operation.clone().unwrap_or_else(|| classify(&ctx.method, &ctx.path, outcome.status).to_string());
        let target_name = outcome.target_name.clone().or_else(|| {
            ctx.body.as_ref().and_then(|b| {
                b.get("userName").or_else(|| b.get("displayName")).and_then(Value::as_str).map(str::to_string)
            })
        });
        SyncEvent {
            id: 0,
            time: self.clock.stamp(),
            method: ctx.method.clone(),
            path: ctx.path.clone(),
            operation,
            resource_type: outcome.resource_type.clone(),
            target_id: outcome.target_id.clone(),
            target_name,
            status: outcome.status as i64,
            latency_ms: ctx.started.elapsed().as_secs_f64() * 1000.0,
            user_agent: ctx.user_agent.clone(),
            idp: recognise_idp(ctx.user_agent.as_deref(), &quirks).to_string(),
            token_id: ctx.token_id.clone(),
            quirks: serde_json::to_string(quirks.labels()).unwrap_or_else(|_| "[]".into()),
            request_body: ctx.body.as_ref().map(body_text),
            response_body: outcome.response.as_ref().map(body_text),
            detail: outcome.detail.clone(),
            simulated: ctx.simulated,
        }
    }

    /// Logs a request that changed nothing (a read, or a refusal). Batched; returns at once.
    pub fn log_request(&self, ctx: &RequestContext, outcome: &Outcome) {
        let event = self.build_event(ctx, outcome);
        let _ = self.events.batch.send(LogMsg::Event(Box::new(event)));
    }

    /// Waits until every batched event so far is in the database.
    pub async fn flush_log(&self) {
        let (tx, rx) = oneshot::channel();
        if self.events.batch.send(LogMsg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Live events, as they are committed.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.live.subscribe()
    }

    /// Records an admin action (token created, provisioning turned off) in the sync log.
    pub(crate) async fn audit(&self, operation: &str, detail: &str) -> Result<()> {
        let ctx = RequestContext::new("ADMIN", "");
        let mut event = self.build_event(
            &ctx,
            &Outcome {
                operation: Some(operation.into()),
                status: 200,
                detail: Some(detail.into()),
                ..Default::default()
            },
        );
        event.idp = "TalkWriter Admin".into();
        let mut conn = self.pool.acquire().await?;
        event.id = insert_event(&mut conn, &event).await?;
        let _ = self.events.live.send(event);
        Ok(())
    }

    /// Reads the sync log, newest first.
    pub async fn query_events(&self, q: &EventQuery) -> Result<EventPage> {
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let mut sql = String::from("SELECT * FROM events WHERE 1 = 1");
        let mut binds: Vec<String> = vec![];
        let mut ints: Vec<(usize, i64)> = vec![];
        if let Some(b) = q.before_id {
            sql.push_str(" AND id < ?");
            ints.push((binds.len(), b));
            binds.push(String::new());
        }
        if let Some(a) = q.after_id {
            sql.push_str(" AND id > ?");
            ints.push((binds.len(), a));
            binds.push(String::new());
        }
        for (cond, val) in [
            (" AND time >= ?", &q.since),
            (" AND time <= ?", &q.until),
            (" AND operation = ?", &q.operation),
            (" AND idp = ?", &q.idp),
            (" AND target_id = ?", &q.target_id),
        ] {
            if let Some(v) = val.as_ref().filter(|v| !v.is_empty()) {
                sql.push_str(cond);
                binds.push(v.clone());
            }
        }
        match q.result.as_deref() {
            Some("success") => sql.push_str(" AND status < 400"),
            Some("failure") => sql.push_str(" AND status >= 400"),
            _ => {}
        }
        if let Some(t) = q.text.as_ref().filter(|t| !t.is_empty()) {
            sql.push_str(" AND (target_name LIKE ? ESCAPE '\\' OR target_id = ? OR request_body LIKE ? ESCAPE '\\')");
            let like = format!("%{}%", t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            binds.push(like.clone());
            binds.push(t.clone());
            binds.push(like);
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        let mut query = sqlx::query_as::<Sqlite, SyncEvent>(&sql);
        for (i, b) in binds.iter().enumerate() {
            match ints.iter().find(|(j, _)| *j == i) {
                Some((_, n)) => query = query.bind(*n),
                None => query = query.bind(b),
            }
        }
        let mut events = query.bind(limit + 1).fetch_all(&self.pool).await?;
        let has_more = events.len() as i64 > limit;
        events.truncate(limit as usize);
        Ok(EventPage { events, has_more })
    }
}

pub(crate) async fn insert_event(conn: &mut SqliteConnection, e: &SyncEvent) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO events (time, method, path, operation, resource_type, target_id, target_name, status, latency_ms,
                             user_agent, idp, token_id, quirks, request_body, response_body, detail, simulated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&e.time)
    .bind(&e.method)
    .bind(&e.path)
    .bind(&e.operation)
    .bind(&e.resource_type)
    .bind(&e.target_id)
    .bind(&e.target_name)
    .bind(e.status)
    .bind(e.latency_ms)
    .bind(&e.user_agent)
    .bind(&e.idp)
    .bind(&e.token_id)
    .bind(&e.quirks)
    .bind(&e.request_body)
    .bind(&e.response_body)
    .bind(&e.detail)
    .bind(e.simulated)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// The batch writer: drains the channel, inserts what it got in one transaction, broadcasts.
pub(crate) async fn run_batch_writer(
    pool: sqlx::SqlitePool,
    mut rx: mpsc::UnboundedReceiver<LogMsg>,
    live: broadcast::Sender<SyncEvent>,
) {
    let mut buf = Vec::with_capacity(256);
    while rx.recv_many(&mut buf, 256).await > 0 {
        let mut waiters = vec![];
        let mut events = vec![];
        for msg in buf.drain(..) {
            match msg {
                LogMsg::Event(e) => events.push(*e),
                LogMsg::Flush(w) => waiters.push(w),
            }
        }
        if !events.is_empty() {
            match write_batch(&pool, &mut events).await {
                Ok(()) => {
                    for e in events {
                        let _ = live.send(e);
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not write sync-log events"),
            }
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

async fn write_batch(pool: &sqlx::SqlitePool, events: &mut [SyncEvent]) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for e in events.iter_mut() {
        e.id = insert_event(&mut tx, e).await?;
    }
    tx.commit().await?;
    Ok(())
}
