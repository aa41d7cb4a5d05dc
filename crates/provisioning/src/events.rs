//! The sync log: one event per SCIM request, in the admin's words ("Create User",
//! "Deactivate User"), with the IdP recognised, secrets redacted, and the quirks normalised.
//!
//! A write's event is inserted in the same transaction as the change. Events of reads and of
//! refused requests go through a channel to one task that inserts them in batches, so logging
//! never halves read throughput. Every event is also broadcast live to subscribers.

use std::time::Instant;

use crate::filter_sql::{SqlBind, bind_all, binds};
use crate::read::SqlConn;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use scim_protocol::Quirks;

use crate::db::{Backend, SqlBuilder};
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
    #[sqlx(try_from = "crate::db::Flag")]
    pub simulated: bool,
    /// JSON array of the attributes a write changed: `{"attribute","before","after"}`, and for
    /// membership `{"attribute":"members","added":[..],"removed":[..]}`.
    pub diff: Option<String>,
    /// For a failure: what to fix on the IdP's side, in the admin's words.
    #[sqlx(skip)]
    pub hint: Option<String>,
    /// The identifiers the event names, lower-cased, for free-text search (not shown).
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub search: Option<String>,
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
    /// The response as sent, serialised already and holding no secret ([`holds_secret`]): the
    /// log keeps it as it is, instead of redacting and serialising `response` again (a read's
    /// resource, whose identifiers are in `found`).
    pub response_text: Option<String>,
    pub detail: Option<String>,
    pub quirks: Quirks,
    pub diff: Option<Value>,
    /// The one resource a lookup found. Its identifiers go into the event's search text (its
    /// body is not stored), so the lookup shows in that resource's history and shares the
    /// text its other events have.
    pub found: Option<Value>,
    /// The identifiers a lookup asked for ([`filter_identifiers`]), in the search text too: a
    /// lookup that found nothing is found by the name it asked for.
    pub asked: Vec<String>,
}

/// Filters for reading the sync log.
#[derive(Debug, Clone, Default, Deserialize)]
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
    /// Free text: a userName, email, id or externalId the event names (contains, ignoring case).
    pub text: Option<String>,
    pub target_id: Option<String>,
    /// Only simulated events (a test sync or endpoint check), or only real ones.
    pub simulated: Option<bool>,
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
    Request(Box<Pending>),
    /// A token's `last_used`, written with the next batch (see `Provisioning::accept_token`).
    TokenUsed {
        id: String,
        at: String,
    },
    Flush(oneshot::Sender<()>),
    /// SQLite: a write committed texts to index (see `index_pending_texts`).
    IndexTexts,
}

/// The channel to the batch writer and the live broadcast.
#[derive(Clone)]
pub(crate) struct EventBus {
    pub(crate) batch: mpsc::Sender<LogMsg>,
    pub(crate) live: broadcast::Sender<SyncEvent>,
    pub(crate) signals: WriterSignals,
}

/// What the batch writer shares with the service besides its queue. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct WriterSignals {
    /// Requests whose events found the queue full (see `Config::log_queue`), since the
    /// writer last recorded the loss.
    pub(crate) dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Told each time the writer takes events off the queue (see `wait_for_log_room`).
    pub(crate) room: std::sync::Arc<tokio::sync::Notify>,
    /// SQLite: set when a write has committed texts the writer has not been asked to index
    /// yet; the writer clears it as it takes the request.
    pub(crate) texts_pending: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
                    (k.clone(), if is_secret(o, k, v) { Value::String("[redacted]".into()) } else { redact(v) })
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Whether [`redact`] would change anything in `v`.
pub fn holds_secret(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.iter().any(|(k, v)| is_secret(o, k, v) || holds_secret(v)),
        Value::Array(items) => items.iter().any(holds_secret),
        _ => false,
    }
}

/// Whether member `k` (value `v`) of object `o` is a secret [`redact`] replaces.
fn is_secret(o: &serde_json::Map<String, Value>, k: &str, v: &Value) -> bool {
    let secret_name = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        name == "password" || name.ends_with(":password") || name.ends_with(".password")
    };
    // A PATCH operation on the password holds it in "value": `{"op":"replace","path":"password","value":"..."}`.
    let secret_value = || o.iter().any(|(k, p)| k.eq_ignore_ascii_case("path") && p.as_str().is_some_and(secret_name));
    // A SearchRequest's `password eq "..."` holds one too.
    let secret_filter = || k.eq_ignore_ascii_case("filter") && v.as_str().is_some_and(filter_names_password);
    secret_name(k) || (k.eq_ignore_ascii_case("value") && secret_value()) || secret_filter()
}

/// Whether a filter names `password` as an attribute anywhere (`password eq "x"`,
/// `urn:...:User:password pr`). A filter that does not parse counts when it mentions the word.
pub fn filter_names_password(filter: &str) -> bool {
    use scim_protocol::ast::{AttrPath, Filter};
    fn names(f: &Filter) -> bool {
        let is_pw = |p: &AttrPath| {
            p.name.eq_ignore_ascii_case("password")
                || p.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("password"))
        };
        match f {
            Filter::Compare { path, .. } | Filter::Present(path) => is_pw(path),
            Filter::And(l, r) | Filter::Or(l, r) => names(l) || names(r),
            Filter::Not(inner) => names(inner),
            Filter::ValuePath { path, filter } => is_pw(path) || names(filter),
        }
    }
    match scim_protocol::parse_filter(filter) {
        Ok(f) => names(&f),
        Err(_) => filter.to_ascii_lowercase().contains("password"),
    }
}

/// The identifiers a filter asks for with `eq`: a userName, externalId, id, displayName or email
/// (`emails eq`, `emails.value eq`, `emails[value eq …]`), as IdPs look a user or group up
/// before they create it.
pub fn filter_identifiers(filter: &scim_protocol::ast::Filter) -> Vec<String> {
    use scim_protocol::ast::{AttrPath, CompValue, CompareOp, Filter};
    fn identifier(path: &AttrPath, in_emails: bool) -> bool {
        let is = |s: &str, n: &str| s.eq_ignore_ascii_case(n);
        match (in_emails, path.sub.as_deref()) {
            (true, None) => is(&path.name, "value"),
            (false, None) => IDENTIFIERS.iter().chain([&EMAILS]).any(|n| is(&path.name, n)),
            (false, Some(sub)) => is(&path.name, EMAILS) && is(sub, "value"),
            (true, Some(_)) => false,
        }
    }
    fn walk(f: &Filter, in_emails: bool, out: &mut Vec<String>) {
        match f {
            Filter::Compare { path, op: CompareOp::Eq, value: CompValue::String(v) } if identifier(path, in_emails) => {
                out.push(v.clone());
            }
            Filter::Compare { .. } | Filter::Present(_) | Filter::Not(_) => {}
            Filter::And(l, r) | Filter::Or(l, r) => {
                walk(l, in_emails, out);
                walk(r, in_emails, out);
            }
            Filter::ValuePath { path, filter } => walk(filter, path.name.eq_ignore_ascii_case(EMAILS), out),
        }
    }
    let mut out = vec![];
    walk(filter, false, &mut out);
    out
}

fn body_text(v: &Value) -> String {
    clip(serde_json::to_string(&redact(v)).unwrap_or_default())
}

/// A body as the log keeps it: at most [`MAX_LOGGED_BODY`] bytes.
fn clip(mut s: String) -> String {
    if s.len() > MAX_LOGGED_BODY {
        s.truncate(s.floor_char_boundary(MAX_LOGGED_BODY));
        s.push_str("…[truncated]");
    }
    s
}

/// A read's or refusal's event, waiting for the batch writer to build it.
pub(crate) struct Pending {
    ctx: RequestContext,
    outcome: Outcome,
    time: String,
    latency_ms: f64,
}

/// Builds the sync-log event of a request: the admin's words, the IdP, redacted bodies.
fn event_from(ctx: &RequestContext, outcome: &Outcome, time: String, latency_ms: f64) -> SyncEvent {
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
        time,
        method: ctx.method.clone(),
        path: ctx.path.clone(),
        operation,
        resource_type: outcome.resource_type.clone(),
        target_id: outcome.target_id.clone(),
        target_name,
        status: outcome.status as i64,
        latency_ms,
        user_agent: ctx.user_agent.clone(),
        idp: recognise_idp(ctx.user_agent.as_deref(), &quirks).to_string(),
        token_id: ctx.token_id.clone(),
        quirks: serde_json::to_string(quirks.labels()).unwrap_or_else(|_| "[]".into()),
        request_body: ctx.body.as_ref().map(body_text),
        response_body: match &outcome.response_text {
            Some(text) => Some(clip(text.clone())),
            None => outcome.response.as_ref().map(body_text),
        },
        detail: outcome.detail.clone(),
        simulated: ctx.simulated,
        diff: outcome.diff.as_ref().map(Value::to_string),
        search: None,
        hint: None,
    }
    .with_search([ctx.body.as_ref(), outcome.response.as_ref(), outcome.found.as_ref()], &outcome.asked)
}

/// What an admin should check on the IdP's side when a request failed.
pub fn hint(e: &SyncEvent) -> Option<String> {
    if e.status < 400 {
        return None;
    }
    let scim_type = e
        .response_body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|b| b.get("scimType").and_then(Value::as_str).map(str::to_string));
    let h = match (e.status, scim_type.as_deref()) {
        (409, _) => {
            "userName already exists in TalkWriter: check the IdP's matching attribute (Okta: match by username; Entra: the matching attribute on userName) so it updates the existing user instead of creating a new one"
        }
        (401, _) => {
            "The bearer token is missing, wrong, revoked or expired: generate a token in Security → SCIM and paste it into the IdP's provisioning settings"
        }
        (403, _) => "SCIM provisioning is turned off: turn it on in Security → SCIM, then retry the sync in the IdP",
        (429, _) => {
            "Too many failed authentications from this address: check the token the IdP uses, then wait a minute"
        }
        (400, Some("invalidFilter")) => {
            "The IdP sent a filter TalkWriter cannot read: check custom filters or matching rules in the IdP"
        }
        (400, Some("invalidValue")) => {
            "An attribute has the wrong type, or a required one (userName) is missing: check the IdP's attribute mapping for the attribute named in the error"
        }
        (400, Some("invalidSyntax")) => {
            "The body is not valid SCIM JSON: check the IdP's payload template (OneLogin lets admins edit it) or the SCIM schema URNs it sends"
        }
        (400, Some("invalidPath")) => {
            "The IdP updated an attribute path TalkWriter does not know: check the IdP's attribute mapping"
        }
        (400, Some("noTarget")) => {
            "The IdP removed a value that is not there (for example a member already removed): usually harmless; the next sync repairs it"
        }
        (400, Some("mutability")) => {
            "The IdP tried to change a read-only attribute (id, meta or groups): remove it from the IdP's mapping"
        }
        (400, Some("invalidVers")) | (412, _) => {
            "The resource changed since the IdP read it: the IdP should read it again and retry"
        }
        (404, _) => {
            "The IdP refers to a user or group TalkWriter does not have (deleted here, or never provisioned): push it again from the IdP"
        }
        (413, _) => "The request is over the size limit: let the IdP send fewer members per request",
        (415, _) => "The IdP sent a body that is not JSON: set its content type to application/scim+json",
        (501, _) => {
            "The IdP used a SCIM feature TalkWriter does not offer (/Bulk or /Me): turn it off in the IdP's SCIM settings"
        }
        (s, _) if s >= 500 => {
            "A fault on TalkWriter's side; it has been logged. Retry the sync; if it persists, contact TalkWriter support"
        }
        _ => return None,
    };
    Some(h.to_string())
}

impl SyncEvent {
    /// Points the event at another resource (a user a group change, an access rule or an admin
    /// action affected): its target, and a search text naming that target, so the user's
    /// history and a search for them find it.
    pub(crate) fn retarget(mut self, kind: &str, id: String, name: String) -> Self {
        self.resource_type = Some(kind.into());
        self.target_id = Some(id);
        self.target_name = Some(name);
        self.with_search([None; 3], &[])
    }

    /// Fills `search` from the target, the words asked for and the identifiers in the bodies
    /// (see [`search_text`]).
    fn with_search(mut self, bodies: [Option<&Value>; 3], asked: &[String]) -> Self {
        let target = [self.target_name.as_deref(), self.target_id.as_deref()];
        let words = target.into_iter().flatten().chain(asked.iter().map(String::as_str));
        self.search = search_text(words, bodies.into_iter().flatten());
        self
    }
}

/// The identifiers [`search_text`] reads in a resource, and nothing else of it.
pub fn identifiers(resource: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in IDENTIFIERS.iter().chain([&EMAILS]) {
        if let Some(v) = resource.get(*key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// The single-valued identifiers of a resource a search text holds, and the attribute of its
/// emails, every one of which it holds too.
const IDENTIFIERS: [&str; 4] = ["userName", "externalId", "id", "displayName"];
const EMAILS: &str = "emails";

/// The text free-text search and a target's history find an event by: the target's name and
/// id, and the identifiers in the bodies (userName, emails, externalId, id and displayName),
/// lower-cased, each once, sorted. A user's events share one text while the user keeps its
/// identifiers (its create, reads, updates), which the sync log stores once.
pub(crate) fn search_text<'a>(
    target: impl IntoIterator<Item = &'a str>,
    bodies: impl IntoIterator<Item = &'a Value>,
) -> Option<String> {
    let mut parts: Vec<&str> = target.into_iter().collect();
    for body in bodies {
        for key in IDENTIFIERS {
            parts.extend(body.get(key).and_then(Value::as_str));
        }
        for e in body.get(EMAILS).and_then(Value::as_array).into_iter().flatten() {
            parts.extend(e.get("value").and_then(Value::as_str));
        }
    }
    let mut parts: Vec<String> = parts.into_iter().map(str::to_lowercase).collect();
    parts.sort_unstable();
    parts.dedup();
    let text = parts.join(" ");
    (!text.is_empty()).then_some(text)
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
        event_from(ctx, outcome, self.clock.stamp(), ctx.started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Sets an event's time and latency to now.
    pub(crate) fn stamp_event(&self, e: &mut SyncEvent, ctx: &RequestContext) {
        e.time = self.clock.stamp();
        e.latency_ms = ctx.started.elapsed().as_secs_f64() * 1000.0;
    }

    /// Logs a request that changed nothing (a read, or a refusal). Batched; returns at once: the
    /// event is built (bodies redacted and serialised) by the batch writer, off the request's path.
    pub fn log_request(&self, ctx: &RequestContext, outcome: Outcome) {
        if !self.config.log_reads && outcome.status < 400 {
            return;
        }
        let pending = Pending {
            ctx: ctx.clone(),
            outcome,
            time: self.clock.stamp(),
            latency_ms: ctx.started.elapsed().as_secs_f64() * 1000.0,
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.events.batch.try_send(LogMsg::Request(Box::new(pending)))
        {
            self.events.signals.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Waits, at most a second, while the sync log's queue has less than [`LOG_HEADROOM`]
    /// places left: the SCIM server calls it before it serves a request. When IdPs send
    /// requests faster than their events can be written, they are slowed to the log's pace
    /// instead of their events being dropped; only a database stalled for longer than that
    /// (locked by another process, say) costs events, and those are counted in the log.
    pub async fn wait_for_log_room(&self) {
        let room = |b: &mpsc::Sender<LogMsg>| b.capacity() >= LOG_HEADROOM.min(b.max_capacity());
        if room(&self.events.batch) {
            return;
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            // Created before the check: a wake-up between the two is not missed.
            let drained = self.events.signals.room.notified();
            if room(&self.events.batch) || tokio::time::timeout_at(deadline, drained).await.is_err() {
                return;
            }
        }
    }

    /// Waits until every batched event so far is in the database.
    pub async fn flush_log(&self) {
        let (tx, rx) = oneshot::channel();
        if self.events.batch.send(LogMsg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Live events, as they are committed.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.live.subscribe()
    }

    /// Records an admin action (token created, provisioning turned off) in the sync log.
    pub(crate) async fn audit(&self, operation: &str, detail: &str) -> Result<()> {
        let tx = self.begin_write().await?;
        self.commit_events(tx, vec![self.admin_event(operation, detail)]).await
    }

    /// An event of an admin action in TalkWriter Admin (the audit trail).
    pub(crate) fn admin_event(&self, operation: &str, detail: &str) -> SyncEvent {
        admin_event_at(operation, detail, self.clock.stamp())
    }

    /// Records events with the write and commits it: the group inserts them just before its
    /// commit, then broadcasts them (see `WriteTx::log`). On PostgreSQL the commit notifies
    /// every instance, and each one's listener broadcasts them (this one's too).
    pub(crate) async fn commit_events(&self, mut tx: crate::WriteTx, events: Vec<SyncEvent>) -> Result<()> {
        tx.log(events);
        tx.commit().await
    }

    /// Reads the sync log, newest first.
    pub async fn query_events(&self, q: &EventQuery) -> Result<EventPage> {
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let mut events = self.select_events(q, limit + 1).await?;
        let has_more = events.len() as i64 > limit;
        events.truncate(limit as usize);
        Ok(EventPage { events, has_more })
    }

    pub(crate) async fn select_events(&self, q: &EventQuery, limit: i64) -> Result<Vec<SyncEvent>> {
        self.select_events_where(q, "", limit).await
    }

    /// [`Self::select_events`], with `condition` (` AND …`, fixed SQL) added to `q`'s filters.
    pub(crate) async fn select_events_where(
        &self,
        q: &EventQuery,
        condition: &str,
        limit: i64,
    ) -> Result<Vec<SyncEvent>> {
        let mut b = self.filtered_events(event_columns(self.backend), "1 = 1", q).await?;
        b.push(condition).push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let (sql, args) = b.build();
        // PostgreSQL plans a cached statement once for any values, and for these filters that
        // generic plan walks the whole log backwards by id (114 ms where the plan for the
        // values takes 3 ms): an unnamed statement is planned for the values it is given.
        let mut events = bind_all(sqlx::query_as::<_, SyncEvent>(&sql), &args)
            .persistent(self.backend == crate::Backend::Sqlite)
            .fetch_all(&self.pool)
            .await?;
        for e in &mut events {
            e.hint = hint(e);
        }
        Ok(events)
    }

    /// How many events `q`'s filters and `condition` (` AND …`, fixed SQL) select, and the
    /// newest of them, in one snapshot.
    pub(crate) async fn count_and_newest(&self, q: &EventQuery, condition: &str) -> Result<(i64, Option<SyncEvent>)> {
        let mut b = self.filtered_events("COUNT(*), MAX(id)", "1 = 1", q).await?;
        b.push(condition);
        let (sql, args) = b.build();
        // Planned for its values on PostgreSQL, as `select_events_where`'s.
        let (count, newest): (i64, Option<i64>) = bind_all(sqlx::query_as(&sql), &args)
            .persistent(self.backend == crate::Backend::Sqlite)
            .fetch_one(&self.pool)
            .await?;
        let newest = match newest {
            // By its id alone: pruned meanwhile, it is simply not there.
            Some(id) => {
                let q = EventQuery { before_id: Some(id + 1), after_id: Some(id - 1), ..Default::default() };
                self.select_events(&q, 1).await?.pop()
            }
            None => None,
        };
        Ok((count, newest))
    }

    /// `SELECT {columns} FROM events WHERE {condition}` and ` AND …` for each filter of `q` (not
    /// its limit). On SQLite a text filter's texts are looked up first: that decides how the
    /// statement reaches their events (see [`TextFilters`]).
    async fn filtered_events(&self, columns: &str, condition: &str, q: &EventQuery) -> Result<SqlBuilder> {
        let texts = self.text_filters(q).await?;
        let mut b = SqlBuilder::new(self.backend, format!("SELECT {columns} FROM {} WHERE {condition}", texts.from()));
        self.push_filters(&mut b, q, &texts);
        Ok(b)
    }

    /// Appends ` AND …` for each filter of `q` (not its limit) to a query over `events`, with
    /// `texts` (from [`Self::text_filters`]) for its text filters on SQLite.
    fn push_filters(&self, b: &mut SqlBuilder, q: &EventQuery, texts: &TextFilters) {
        if let Some(id) = q.before_id {
            b.push(" AND id < ").push_bind(id);
        }
        if let Some(id) = q.after_id {
            b.push(" AND id > ").push_bind(id);
        }
        let text = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        if let Some(v) = text(&q.since) {
            b.push(" AND time >= ").push_bind(v);
        }
        if let Some(v) = text(&q.until) {
            b.push(" AND time <= ").push_bind(v);
        }
        if let Some(v) = text(&q.operation) {
            b.push(" AND operation = ").push_bind(v);
        }
        if let Some(v) = text(&q.idp) {
            b.push(" AND idp = ").push_bind(v);
        }
        if let Some(v) = text(&q.target_id) {
            b.push(" AND target_id = ").push_bind(v);
        }
        if let Some(sim) = q.simulated {
            b.push(" AND simulated = ").push_bind(i64::from(sim));
        }
        match q.result.as_deref() {
            Some("success") => {
                b.push(" AND status < 400");
            }
            Some("failure") => {
                b.push(" AND status >= 400");
            }
            _ => {}
        }
        if let (Backend::Postgres, Some(t)) = (self.backend, text(&q.text)) {
            // A pg_trgm index on the column itself answers the LIKE directly.
            b.push(" AND search LIKE ").push_bind(like_pattern(&t)).push(" ESCAPE '\\'");
        }
        texts.push(b);
    }

    /// SQLite: the texts `q`'s text filters match, looked up before its statement is built.
    /// Free text matches the texts that contain it. A target: SQLite keeps no index on
    /// `target_id` (a random-order index costs every logged request), but an event's search
    /// text names its target, so the texts holding the target's id lead to its events.
    async fn text_filters(&self, q: &EventQuery) -> Result<TextFilters> {
        let mut filters = TextFilters::default();
        if self.backend != Backend::Sqlite {
            return Ok(filters);
        }
        let mut wanted = Vec::new();
        if let Some(id) = q.target_id.as_deref().filter(|v| v.chars().count() >= 3) {
            wanted.push(self.text_query(&id.to_lowercase()).await?);
        }
        if let Some(t) = q.text.as_deref().filter(|t| !t.is_empty()) {
            wanted.push(self.text_query(&t.to_lowercase()).await?);
        }
        if wanted.is_empty() {
            return Ok(filters);
        }
        // The buckets a seek per text would visit: those between the oldest event and the
        // newest the page can hold. Read before the texts are: every event up to `newest` had
        // its text in place when they are looked up.
        let mut pooled = self.pool.acquire().await?;
        let (oldest, newest) = event_ids(&mut SqlConn::Any(&mut pooled)).await?;
        drop(pooled);
        let newest = newest.unwrap_or(0).min(q.before_id.map_or(i64::MAX, |id| id.saturating_sub(1)));
        let oldest = oldest.unwrap_or(0).max(q.after_id.map_or(0, |id| id.saturating_add(1)));
        filters.newest = newest;
        filters.oldest = oldest;
        let few = (BUCKET_SEEKS / bucket_count(oldest, newest)).clamp(1, MAX_SOUGHT_TEXTS);
        for query in wanted {
            let mut b = SqlBuilder::new(Backend::Sqlite, "SELECT id FROM (");
            query.push(&mut b);
            b.push(") LIMIT ").push_bind(few + 1);
            let (sql, args) = b.build();
            let mut ids: Vec<i64> = bind_all(sqlx::query_scalar(&sql), &args).fetch_all(&self.pool).await?;
            filters.sets.push(if ids.len() as i64 > few {
                Texts::Many(query)
            } else {
                ids.sort_unstable();
                ids.dedup();
                Texts::Few(ids)
            });
        }
        // The fewest texts are sought through the index; any other set is checked on each row.
        filters.sets.sort_by_key(|set| match set {
            Texts::Few(ids) => ids.len(),
            Texts::Many(_) => usize::MAX,
        });
        Ok(filters)
    }

    /// SQLite: the texts that contain `needle` (lower case). Three characters or more use the
    /// trigram index over the distinct texts (`event_texts_search`); shorter ones scan the texts.
    async fn text_query(&self, needle: &str) -> Result<TextQuery> {
        Ok(if needle.chars().count() >= 3 {
            TextQuery::Trigram { fts: self.text_plan(needle).await?, like: like_pattern(needle) }
        } else {
            TextQuery::Like(like_pattern(needle))
        })
    }

    /// SQLite: how to find events whose search text contains `needle` (lower case, three
    /// characters or more). The trigram index answers `LIKE '%needle%'` by intersecting the
    /// lists of every trigram of the needle, and the common ones ("use", "com", ".ex") list
    /// nearly every text: a userName took 180 ms over a million events. So the trigrams are
    /// counted first, each only up to `RARE` texts (reading a few thousand entries of a list
    /// is cheap, reading a million is not), and the two rarest, if they are rare, narrow the
    /// search about as well as all of them; the LIKE on the text then checks the candidates.
    /// When none is rare (a million distinct userNames share every trigram of
    /// `user123456@seed.example.com` thousands of times), counting further costs more than it
    /// saves, and the three [`likely_rarest`] stand in: 2.5 ms where intersecting all of them
    /// took 26.
    async fn text_plan(&self, needle: &str) -> Result<String> {
        const RARE: i64 = 5000;
        let chars: Vec<char> = needle.chars().collect();
        let mut trigrams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
        trigrams.sort();
        trigrams.dedup();
        // Any of them narrows the search (the LIKE decides); a bound keeps the statement within
        // SQLite's limit on compound SELECTs.
        trigrams.truncate(200);
        let phrase = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
        let sql = vec![
            "SELECT ?, (SELECT COUNT(*) FROM (SELECT 1 FROM event_texts_search WHERE event_texts_search MATCH ? LIMIT ?))";
            trigrams.len()
        ]
        .join(" UNION ALL ");
        let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
        for t in &trigrams {
            query = query.bind(phrase(t)).bind(phrase(t)).bind(RARE);
        }
        let mut counts = query.fetch_all(&self.pool).await?;
        counts.sort_by_key(|(_, n)| *n);
        let rare: Vec<String> = counts.iter().filter(|(_, n)| *n < RARE).take(2).map(|(t, _)| t.clone()).collect();
        // A trigram in no text is the rarest: the lookup of it costs nothing.
        Ok(if rare.is_empty() {
            likely_rarest(&trigrams, 3).iter().map(|t| phrase(t)).collect::<Vec<_>>().join(" AND ")
        } else {
            rare.join(" AND ")
        })
    }

    /// Requests per minute, hour or day (`bucket`) among the events `q` selects (its time range
    /// and filters; not its paging), by result, for the activity chart. Admin actions and the
    /// access changes a request caused are not requests and are left out.
    pub async fn activity(&self, q: &EventQuery, bucket: &str) -> Result<Vec<ActivityBucket>> {
        // The width of the time's prefix a bucket groups by, and what completes it to an instant.
        let (width, rest) = match bucket {
            "minute" => (16, ":00Z"),
            "hour" => (13, ":00:00Z"),
            "day" => (10, "T00:00:00Z"),
            other => {
                return Err(crate::Error::InvalidInput(format!(
                    "\"{other}\" is not a bucket: use minute, hour or day"
                )));
            }
        };
        // The width is one of three constants, written into the SQL so both stores group by the
        // same expression. The sums are cast: PostgreSQL's SUM of integers is NUMERIC.
        let q = EventQuery { before_id: None, after_id: None, limit: None, ..q.clone() };
        let mut b = self
            .filtered_events(
                &format!(
                    "substr(time, 1, {width}) AS b,
                     CAST(SUM(CASE WHEN status < 400 THEN 1 ELSE 0 END) AS BIGINT),
                     CAST(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS BIGINT)"
                ),
                REQUESTS_ONLY,
                &q,
            )
            .await?;
        b.push(" GROUP BY b ORDER BY b");
        let (sql, args) = b.build();
        let rows: Vec<(String, i64, i64)> = bind_all(sqlx::query_as(&sql), &args)
            .persistent(self.backend == crate::Backend::Sqlite)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(b, success, failure)| ActivityBucket { start: format!("{b}{rest}"), success, failure })
            .collect())
    }

    /// When the oldest request among the events `q` selects was made (its filters and time
    /// range; not its paging), if there is one: where an "All time" chart starts. Read along
    /// the time index (unless few texts are sought), so the log's size does not matter when the
    /// oldest events match.
    pub async fn first_request_time(&self, q: &EventQuery) -> Result<Option<String>> {
        let q = EventQuery { before_id: None, after_id: None, limit: None, ..q.clone() };
        let mut b = self.filtered_events("time", REQUESTS_ONLY, &q).await?;
        b.push(" ORDER BY time LIMIT 1");
        let (sql, args) = b.build();
        Ok(bind_all(sqlx::query_scalar(&sql), &args).fetch_optional(&self.pool).await?)
    }

    /// The events a query selects, oldest first, as CSV or JSON (an array), for export. At most
    /// [`MAX_EXPORT`] events.
    pub async fn export_events(&self, q: &EventQuery, format: ExportFormat) -> Result<String> {
        let mut all = self.select_events(q, MAX_EXPORT).await?;
        all.reverse();
        Ok(match format {
            ExportFormat::Json => serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into()),
            ExportFormat::Csv => {
                let mut out = String::from(
                    "id,time,idp,operation,resource_type,target_id,target_name,method,path,status,latency_ms,quirks,detail,simulated\n",
                );
                for e in &all {
                    let cells = [
                        e.id.to_string(),
                        e.time.clone(),
                        e.idp.clone(),
                        e.operation.clone(),
                        e.resource_type.clone().unwrap_or_default(),
                        e.target_id.clone().unwrap_or_default(),
                        e.target_name.clone().unwrap_or_default(),
                        e.method.clone(),
                        e.path.clone(),
                        e.status.to_string(),
                        format!("{:.1}", e.latency_ms),
                        e.quirks.clone(),
                        e.detail.clone().unwrap_or_default(),
                        e.simulated.to_string(),
                    ];
                    out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
                    out.push('\n');
                }
                out
            }
        })
    }

    /// Deletes events older than `max_age_days` and beyond the newest `max_rows`. Returns how many.
    ///
    /// In writes of [`PRUNE_CHUNK`] events, each in the write turn like an IdP's request: a
    /// million events take seconds to delete, and in one statement an IdP's writes would wait
    /// all that time for the database (or fail once SQLite's busy timeout passed).
    pub async fn prune_events(&self, max_age_days: Option<i64>, max_rows: Option<i64>) -> Result<u64> {
        let mut deleted = 0;
        if let Some(days) = max_age_days.filter(|d| *d > 0) {
            let cutoff = crate::stamp(self.clock.now() - chrono::Duration::days(days));
            deleted += self
                .delete_events_where(|b| {
                    b.push("time < ").push_bind(cutoff.clone()).push(" ORDER BY time");
                })
                .await?;
        }
        if let Some(rows) = max_rows.filter(|r| *r > 0) {
            // The newest event to go, found once: events logged meanwhile do not move it.
            let last: Option<i64> =
                sqlx::query_scalar(&self.backend.sql("SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?"))
                    .bind(rows)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(last) = last {
                deleted += self
                    .delete_events_where(|b| {
                        b.push("id <= ").push_bind(last).push(" ORDER BY id");
                    })
                    .await?;
            }
        }
        Ok(deleted)
    }

    /// Deletes the events `condition` selects (it pushes a WHERE condition and an ORDER BY onto
    /// the builder), [`PRUNE_CHUNK`] at a time, each chunk in a write of its own.
    async fn delete_events_where(&self, condition: impl Fn(&mut SqlBuilder)) -> Result<u64> {
        let mut deleted = 0;
        // SQLite: the texts of the events deleted so far, which the last chunk's write drops
        // if no event names them any more.
        let mut texts = Vec::new();
        loop {
            let mut b = SqlBuilder::new(self.backend, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ");
            condition(&mut b);
            b.push(" LIMIT ").push_bind(PRUNE_CHUNK).push(")");
            let n = self.delete_events(b, &mut texts).await?;
            deleted += n;
            if n < PRUNE_CHUNK as u64 {
                return Ok(deleted);
            }
        }
    }

    /// Runs one `DELETE FROM events` in its own write. Returns how many events went. SQLite:
    /// adds their texts to `texts`, and when it was the last chunk (fewer than
    /// [`PRUNE_CHUNK`] went), drops those no event names any more. A pruning that fails part
    /// way leaves the texts of the chunks it committed: they cost a little space, and a text
    /// filter that matches one seeks it for nothing.
    async fn delete_events(&self, mut b: SqlBuilder, texts: &mut Vec<i64>) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let deleted = if self.backend == Backend::Sqlite {
            b.push(" RETURNING search_id");
            let (sql, args) = b.build();
            // One row per deleted event; an event without a search text has none to drop.
            let rows: Vec<Option<i64>> = tx.conn().fetch_all(&sql, &args).await?;
            let n = rows.len() as u64;
            texts.extend(rows.into_iter().flatten());
            if n < PRUNE_CHUNK as u64 && !texts.is_empty() {
                texts.sort_unstable();
                texts.dedup();
                drop_unnamed_texts(&mut tx.conn(), &std::mem::take(texts), BUCKET_SEEKS).await?;
            }
            // Kept bodies no event left can name (see migration 0008): below the oldest
            // event's id, or, with none left, the next one's.
            tx.conn()
                .execute(
                    "DELETE FROM event_bodies WHERE until <= COALESCE((SELECT MIN(id) FROM events),
                         (SELECT seq + 1 FROM sqlite_sequence WHERE name = 'events'), 0)",
                    &[],
                )
                .await?;
            n
        } else {
            let (sql, args) = b.build();
            tx.conn().execute(&sql, &args).await?
        };
        tx.commit().await?;
        Ok(deleted)
    }

    /// The retention setting: days and/or rows (`None` keeps everything).
    pub async fn log_retention(&self) -> Result<Retention> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM settings WHERE key IN ('log_retention_days', 'log_retention_rows')")
                .fetch_all(&self.pool)
                .await?;
        let get = |k: &str| rows.iter().find(|(key, _)| key == k).and_then(|(_, v)| v.parse().ok());
        Ok(Retention { days: get("log_retention_days"), rows: get("log_retention_rows") })
    }

    /// Sets the retention and prunes at once.
    pub async fn set_log_retention(&self, r: &Retention) -> Result<u64> {
        if r.days.is_some_and(|d| d < 1) || r.rows.is_some_and(|n| n < 1000) {
            return Err(crate::Error::InvalidInput("keep at least 1 day and at least 1,000 events".into()));
        }
        let detail = match (r.days, r.rows) {
            (None, None) => "Sync log retention: keep everything".to_string(),
            (d, n) => format!(
                "Sync log retention: {}{}",
                d.map(|d| format!("{d} days")).unwrap_or_default(),
                n.map(|n| format!("{}{n} events", if d.is_some() { ", at most " } else { "at most " }))
                    .unwrap_or_default()
            ),
        };
        let mut tx = self.begin_write().await?;
        for (k, v) in [("log_retention_days", r.days), ("log_retention_rows", r.rows)] {
            self.put_setting(&mut tx, k, v.map(|v| v.to_string()).as_deref()).await?;
        }
        self.commit_events(tx, vec![self.admin_event("Settings Changed", &detail)]).await?;
        self.prune_events(r.days, r.rows).await
    }

    /// Applies the retention setting every `every`, until the service is closed.
    pub fn spawn_retention_job(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let p = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if p.pool.is_closed() {
                    break;
                }
                match p.log_retention().await {
                    Ok(r) => {
                        if let Err(e) = p.prune_events(r.days, r.rows).await {
                            tracing::warn!(error = %e, "sync log retention failed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not read the retention setting"),
                }
            }
        })
    }
}

/// At most this many events in one export.
pub const MAX_EXPORT: i64 = 1_000_000;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Json,
}

/// The events that are IdP requests: not admin actions, nor the access changes a request caused.
const REQUESTS_ONLY: &str = "method <> 'ADMIN' AND operation NOT LIKE 'Access %'";

/// One bar of the activity chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ActivityBucket {
    pub start: String,
    pub success: i64,
    pub failure: i64,
}

/// How long the sync log keeps events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Retention {
    pub days: Option<i64>,
    pub rows: Option<i64>,
}

/// `LIKE '%text%'` for a text taken literally, lower case, with `ESCAPE '\\'`.
fn like_pattern(text: &str) -> String {
    format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// A CSV cell (RFC 4180), with spreadsheet formula injection defused.
fn csv_cell(s: &str) -> String {
    let s =
        if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// The columns of a [`SyncEvent`], as a `SELECT` from `events` lists them: on SQLite a
/// response body kept once (`event_bodies`, see [`SharedBodies`]) is read where the event
/// names it.
pub(crate) fn event_columns(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "id, time, method, path, operation, resource_type, target_id, target_name, status, latency_ms, user_agent,
             idp, token_id, quirks, request_body, detail, simulated, diff, search,
             COALESCE(response_body, (SELECT body FROM event_bodies WHERE event_bodies.id = events.response_body_id))
                 AS response_body"
        }
        Backend::Postgres => "*",
    }
}

/// Events per INSERT statement: 19 binds each (20 on SQLite) stays far under SQLite's variable
/// limit (and PostgreSQL's 65,535).
const EVENTS_PER_STATEMENT: usize = 64;

/// The channel instances announce committed events on (PostgreSQL), see `listen.rs`.
pub(crate) const NOTIFY_CHANNEL: &str = "talkwriter_events";
/// PostgreSQL refuses a notification payload of 8,000 bytes or more; id lists are split below this.
const MAX_NOTIFY_PAYLOAD: usize = 7000;

/// Appends `VALUES (..), (..)` to `b`: one row per item, its values bound by `row`.
pub(crate) fn push_values<I: IntoIterator>(
    b: &mut SqlBuilder,
    items: I,
    mut row: impl FnMut(&mut ValuesRow<'_>, I::Item),
) {
    b.push("VALUES ");
    for (i, item) in items.into_iter().enumerate() {
        b.push(if i == 0 { "(" } else { ", (" });
        row(&mut ValuesRow { b: &mut *b, first: true }, item);
        b.push(")");
    }
}

/// One row of [`push_values`]: each bound value is separated from the previous by a comma.
pub(crate) struct ValuesRow<'a> {
    b: &'a mut SqlBuilder,
    first: bool,
}

impl ValuesRow<'_> {
    pub(crate) fn push_bind(&mut self, value: impl Into<SqlBind>) -> &mut Self {
        self.push_bind_in("", value, "")
    }

    /// A value computed from a bound one: `before ? after`.
    pub(crate) fn push_bind_in(&mut self, before: &str, value: impl Into<SqlBind>, after: &str) -> &mut Self {
        if !self.first {
            self.b.push(", ");
        }
        self.first = false;
        self.b.push(before).push_bind(value).push(after);
        self
    }
}

impl ValuesRow<'_> {
    /// An event's search text, in its [`search_column`]: on SQLite the id of the text, which
    /// [`push_texts_insert`] has added first.
    pub(crate) fn push_search(&mut self, backend: Backend, text: Option<String>) -> &mut Self {
        match backend {
            Backend::Sqlite => self.push_bind_in("(SELECT id FROM event_texts WHERE search = ", text, ")"),
            Backend::Postgres => self.push_bind(text),
        }
    }
}

/// SQLite: `events_search_bucket` (migration 0010) sorts its entries by bucket of
/// `1 << BUCKET_BITS` event ids, then by text, so that the events being written share the last
/// bucket's pages. Queries name a bucket as `(id >> 12)`, exactly the index's expression.
const BUCKET_BITS: i64 = 12;
/// SQLite: the most index seeks (buckets × texts) a text filter makes before the log is read
/// newest first instead. A seek costs about 0.6 µs on the benchmark machine, so 32,768 are
/// about 20 ms: at a million events (245 buckets) a filter may match 133 texts, at 10,000
/// events (3 buckets) a thousand.
const BUCKET_SEEKS: i64 = 32_768;
/// SQLite: the most texts a filter seeks through the index, whatever the log's size.
const MAX_SOUGHT_TEXTS: i64 = 1_000;

/// SQLite: deletes the texts among `candidates` (ids in `event_texts`) that no event names
/// any more, in the write of the pruning's last chunk. Only the deleted events' texts are
/// looked at, not every text in the log. A few (up to `seek_budget` seeks) are sought bucket
/// by bucket, as a text filter would; for more, the whole bucket index is read once (about
/// 300 ms for 100,000 candidates at a million events, where seeking each in 245 buckets would
/// cost several seconds).
async fn drop_unnamed_texts(conn: &mut SqlConn<'_>, candidates: &[i64], seek_budget: i64) -> Result<()> {
    let (oldest, newest) = event_ids(conn).await?;
    let mut b = SqlBuilder::new(Backend::Sqlite, "DELETE FROM event_texts WHERE id IN ");
    b.push_json_array(&candidates);
    match (oldest, newest) {
        // No event left: none names a text.
        (None, _) | (_, None) => {}
        (Some(oldest), Some(newest)) if candidates.len() as i64 * bucket_count(oldest, newest) <= seek_budget => {
            b.push(" AND NOT EXISTS (SELECT 1 FROM events INDEXED BY events_search_bucket WHERE search_id = event_texts.id");
            push_buckets(&mut b, oldest, newest);
            b.push(")");
        }
        _ => {
            b.push(" AND id NOT IN (SELECT search_id FROM events INDEXED BY events_search_bucket WHERE search_id IN ")
                .push_json_array(&candidates)
                .push(")");
        }
    }
    let (sql, args) = b.build();
    // Each text deleted moves `TEXTS_DROPPED` (a trigger, migration 0011), so that writers
    // that remember texts by id forget them (see `KnownTexts`).
    conn.execute(&sql, &args).await?;
    Ok(())
}

/// The oldest and the newest event's id, if there are events.
async fn event_ids(conn: &mut SqlConn<'_>) -> Result<(Option<i64>, Option<i64>)> {
    let ids = conn.fetch_optional("SELECT (SELECT MIN(id) FROM events), (SELECT MAX(id) FROM events)", &[]).await?;
    Ok(ids.unwrap_or((None, None)))
}

/// SQLite: how many buckets of `events_search_bucket` hold the ids `oldest..=newest` (one at
/// least).
fn bucket_count(oldest: i64, newest: i64) -> i64 {
    ((newest >> BUCKET_BITS) - (oldest >> BUCKET_BITS) + 1).max(1)
}

/// SQLite: ` AND (id >> 12) IN (…)`, the buckets that hold the ids `oldest..=newest`, so that
/// SQLite seeks each of them in `events_search_bucket` (with `search_id = …` or `IN (…)`).
fn push_buckets(b: &mut SqlBuilder, oldest: i64, newest: i64) {
    b.push(&format!(" AND (id >> {BUCKET_BITS}) IN (WITH RECURSIVE bucket(n) AS (SELECT "))
        .push_bind(newest >> BUCKET_BITS)
        .push(" UNION ALL SELECT n - 1 FROM bucket WHERE n > ")
        .push_bind(oldest >> BUCKET_BITS)
        .push(") SELECT n FROM bucket)");
}

/// SQLite: the texts (`event_texts` ids) one text filter matches, as a subquery.
enum TextQuery {
    /// Three characters or more: the trigram index chooses candidate texts and a LIKE on each
    /// decides; texts not indexed yet (`pending`, see [`index_pending_texts`]) are checked by
    /// the LIKE alone, through their partial index. A second query rather than an OR: with
    /// the OR, SQLite read every text (a second and more at a million).
    Trigram { fts: String, like: String },
    /// Shorter: the LIKE over every text.
    Like(String),
}

impl TextQuery {
    fn push(&self, b: &mut SqlBuilder) {
        match self {
            TextQuery::Trigram { fts, like } => {
                b.push(
                    "SELECT id FROM event_texts WHERE id IN \
                     (SELECT rowid FROM event_texts_search WHERE event_texts_search MATCH ",
                )
                .push_bind(fts.clone())
                .push(") AND search LIKE ")
                .push_bind(like.clone())
                .push(" ESCAPE '\\' UNION ALL SELECT id FROM event_texts WHERE pending IS NOT NULL AND search LIKE ")
                .push_bind(like.clone())
                .push(" ESCAPE '\\'");
            }
            TextQuery::Like(like) => {
                b.push("SELECT id FROM event_texts WHERE search LIKE ").push_bind(like.clone()).push(" ESCAPE '\\'");
            }
        }
    }
}

/// SQLite: what one text filter matched.
enum Texts {
    /// Few texts, by id: their events are found with one seek per bucket and text.
    Few(Vec<i64>),
    /// Too many to seek: each event's text is checked against the subquery, reading the log
    /// newest first. A text common enough to match this many texts usually fills a page soon.
    Many(TextQuery),
}

/// SQLite: a query's text filters (free text, a target), each resolved to the texts it
/// matches before the statement is built. When one matched few texts, the statement reads
/// `events_search_bucket`: one seek per text in every bucket the page can reach, then a sort
/// of what was found by id (a text's events are few). Else no index leads from texts to
/// events, and SQLite reads the log by id or by another filter's index.
#[derive(Default)]
pub(crate) struct TextFilters {
    /// Sets of [`Texts::Few`] first, fewest texts first.
    sets: Vec<Texts>,
    /// The oldest and the newest event id the query can select, as they were before the texts
    /// were looked up. Texts sought by id select no newer event: its text may have been
    /// written after the lookup.
    oldest: i64,
    newest: i64,
}

impl TextFilters {
    /// The FROM clause: the bucket index named when texts are sought through it, so that
    /// SQLite does not read another filter's index (an operation's, say) instead.
    fn from(&self) -> &'static str {
        match self.sets.first() {
            Some(Texts::Few(_)) => "events INDEXED BY events_search_bucket",
            _ => "events",
        }
    }

    fn push(&self, b: &mut SqlBuilder) {
        for (i, set) in self.sets.iter().enumerate() {
            match set {
                Texts::Few(ids) => {
                    if i == 0 {
                        b.push(" AND id <= ").push_bind(self.newest);
                        push_buckets(b, self.oldest, self.newest);
                    }
                    b.push(" AND search_id IN ").push_json_array(ids);
                }
                Texts::Many(query) => {
                    // `+` keeps SQLite from skipping through the bucket index text by text,
                    // which its statistics can make it choose.
                    b.push(" AND +search_id IN (");
                    query.push(b);
                    b.push(")");
                }
            }
        }
    }
}

/// The events column that holds an event's search text: SQLite keeps each text once, in
/// `event_texts`, and the event its id; PostgreSQL indexes the text on the event.
pub(crate) fn search_column(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "search_id",
        Backend::Postgres => "search",
    }
}

/// SQLite: the statement (into an empty `b`) that adds the texts not in `event_texts` yet.
/// `OR FAIL`, as for the events (see [`STATEMENT_NO_JOURNAL`]).
pub(crate) fn push_texts_insert(b: &mut SqlBuilder, texts: impl IntoIterator<Item = String>) {
    b.push(STATEMENT_NO_JOURNAL).push(" event_texts (search, pending) ");
    push_values(b, texts, |row, t| {
        row.push_bind(t).push_bind(1_i64);
    });
    b.push(" ON CONFLICT (search) DO NOTHING");
}

/// SQLite: adds the texts written since the last time (`pending`) to the free-text index, in
/// one go. Run by the sync log's batch writer, in the write turn, and by the bulk seed: inside
/// a group commit every write has a savepoint of its own, at each of which FTS5 writes out
/// what it holds as a segment, so indexing each text as its write made it cost a segment per
/// write and the merges after (creates 1.25x, PATCH 1.1-1.3x faster without).
pub(crate) async fn index_pending_texts(conn: &mut SqlConn<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO event_texts_search (rowid, search) SELECT id, search FROM event_texts WHERE pending IS NOT NULL",
        &[],
    )
    .await?;
    conn.execute("UPDATE event_texts SET pending = NULL WHERE pending IS NOT NULL", &[]).await?;
    Ok(())
}

/// SQLite: adds the texts that are not in `event_texts` yet.
async fn insert_texts(conn: &mut SqlConn<'_>, texts: Vec<String>) -> Result<()> {
    if texts.is_empty() {
        return Ok(());
    }
    let mut b = SqlBuilder::new(Backend::Sqlite, "");
    push_texts_insert(&mut b, texts);
    let (sql, args) = b.build();
    conn.execute(&sql, &args).await?;
    Ok(())
}

/// PostgreSQL's text columns refuse NUL, so one event quoting a stray NUL from an IdP's body
/// (its userName, say) would fail the whole batch it is written with, and SQLite's string
/// functions stop at it. It is kept visible as U+FFFD instead.
fn replace_nul(e: &mut SyncEvent) {
    fn fix(s: &mut String) {
        if s.contains('\0') {
            *s = s.replace('\0', "\u{FFFD}");
        }
    }
    for s in [&mut e.time, &mut e.method, &mut e.path, &mut e.operation, &mut e.idp, &mut e.quirks] {
        fix(s);
    }
    let optional = [
        &mut e.resource_type,
        &mut e.target_id,
        &mut e.target_name,
        &mut e.user_agent,
        &mut e.token_id,
        &mut e.request_body,
        &mut e.response_body,
        &mut e.detail,
        &mut e.diff,
        &mut e.search,
    ];
    for s in optional.into_iter().flatten() {
        fix(s);
    }
}

/// Events after which a body kept in `event_bodies` is no longer named: each kept body is
/// deleted once the log is pruned past it, so this also bounds what pruning leaves behind.
const BODY_WINDOW: i64 = 100_000;

/// Bodies shorter than this are copied into their event: naming them saves little.
const SHARED_BODY_MIN: usize = 128;

/// What the sync log's batch writer remembers of the database between its batches: the
/// bodies it kept, and the ids of the texts it wrote. Forgotten whole when a batch fails, since
/// what that batch wrote went with its transaction.
#[derive(Default)]
pub(crate) struct WriterMemory {
    bodies: SharedBodies,
    texts: KnownTexts,
}

impl WriterMemory {
    fn forget(&mut self) {
        self.bodies.seen.clear();
        self.texts.ids.clear();
    }
}

/// SQLite: search texts (`event_texts`) by id. The batch writer keeps them from batch to batch,
/// so that a read's event names its text by id, without looking the text up again
/// (most reads are of users read before). A text is deleted only by pruning
/// ([`drop_unnamed_texts`]), and a trigger counts every deletion in `settings`
/// ([`TEXTS_DROPPED`], migration 0011); a write reads that count first, in its transaction,
/// and forgets every id when it changed, whichever process (and build) deleted texts.
#[derive(Default)]
pub(crate) struct KnownTexts {
    ids: std::collections::HashMap<String, i64>,
    /// The count of texts deleted, as last read.
    dropped: Option<String>,
}

/// The `settings` key that counts the search texts deleted (migration 0011's trigger).
pub(crate) const TEXTS_DROPPED: &str = "event_texts_dropped";

/// The most texts [`KnownTexts`] keeps (a few MB); past that it starts again.
const MAX_KNOWN_TEXTS: usize = 32_768;

impl KnownTexts {
    /// Forgets every id if texts were deleted since the last write.
    async fn check(&mut self, conn: &mut SqlConn<'_>) -> Result<()> {
        let dropped = crate::settings::setting_in(conn, TEXTS_DROPPED).await?;
        if dropped != self.dropped {
            self.ids.clear();
            self.dropped = dropped;
        }
        Ok(())
    }

    /// Adds the texts that are not in `event_texts` yet, and learns the ids of those it did not
    /// know.
    async fn learn(&mut self, conn: &mut SqlConn<'_>, texts: impl Iterator<Item = &str>) -> Result<()> {
        let texts: Vec<&str> = texts.collect();
        let unknown = |ids: &std::collections::HashMap<String, i64>| -> Vec<String> {
            texts.iter().filter(|t| !ids.contains_key(**t)).map(|t| t.to_string()).collect()
        };
        let mut missing = unknown(&self.ids);
        if missing.is_empty() {
            return Ok(());
        }
        if self.ids.len() + missing.len() > MAX_KNOWN_TEXTS {
            self.ids.clear();
            missing = unknown(&self.ids);
        }
        missing.sort_unstable();
        missing.dedup();
        let mut select = SqlBuilder::new(Backend::Sqlite, "SELECT id, search FROM event_texts WHERE search IN ");
        select.push_json_array(&missing);
        let (sql, args) = select.build();
        insert_texts(conn, missing).await?;
        let found: Vec<(i64, String)> = conn.fetch_all(&sql, &args).await?;
        self.ids.extend(found.into_iter().map(|(id, text)| (text, id)));
        Ok(())
    }

    fn id(&self, text: &str) -> Option<i64> {
        self.ids.get(text).copied()
    }
}

/// SQLite: the response bodies the sync log's writer has seen lately, by digest, so that a
/// body that repeats (the same user read again, unchanged) is kept once in `event_bodies`
/// and named by the events that sent it (migration 0008). Only the batch writer (reads and
/// refusals) uses it; a change's body is its own.
#[derive(Default)]
pub(crate) struct SharedBodies {
    seen: std::collections::HashMap<[u8; 16], Seen>,
}

/// What [`SharedBodies`] knows of a body, each valid for events with ids below `until`.
#[derive(Clone, Copy)]
enum Seen {
    /// Sent once, by an event that holds its own copy.
    Once { until: i64 },
    /// Kept in `event_bodies` under `id`.
    Kept { id: i64, until: i64 },
}

impl Seen {
    fn until(self) -> i64 {
        match self {
            Seen::Once { until } | Seen::Kept { until, .. } => until,
        }
    }
}

impl SharedBodies {
    /// For each of `events`, the kept body it names instead of a copy, if any: bodies seen
    /// before (here or earlier in `events`) are kept now if they were not yet. Runs in the
    /// write's turn, which is what makes the ids the events will get known.
    async fn share(&mut self, conn: &mut SqlConn<'_>, events: &[SyncEvent]) -> Result<Vec<Option<i64>>> {
        use sha2::{Digest, Sha256};
        let mut shared = vec![None; events.len()];
        let digests: Vec<Option<[u8; 16]>> = events
            .iter()
            .map(|e| {
                let body = e.response_body.as_deref().filter(|b| b.len() >= SHARED_BODY_MIN)?;
                Some(Sha256::digest(body.as_bytes())[..16].try_into().expect("16 of 32 bytes"))
            })
            .collect();
        if digests.iter().all(Option::is_none) {
            return Ok(shared);
        }
        // AUTOINCREMENT: these events get the ids after the sequence's, in order.
        let before: i64 =
            conn.fetch_optional("SELECT seq FROM sqlite_sequence WHERE name = 'events'", &[]).await?.unwrap_or(0);
        let last = before + events.len() as i64;
        if self.seen.len() > 2 * BODY_WINDOW as usize {
            self.seen.retain(|_, s| s.until() > last);
        }
        let until = last + BODY_WINDOW;
        // Bodies to keep now: seen before, or twice in this batch.
        let mut keep: Vec<([u8; 16], usize)> = vec![];
        let mut keeping = std::collections::HashSet::new();
        for (i, digest) in digests.iter().enumerate() {
            let Some(digest) = digest else { continue };
            match self.seen.get(digest).filter(|s| s.until() > last) {
                Some(Seen::Kept { id, .. }) => shared[i] = Some(*id),
                Some(Seen::Once { .. }) => {
                    if keeping.insert(*digest) {
                        keep.push((*digest, i));
                    }
                }
                None => {
                    self.seen.insert(*digest, Seen::Once { until });
                }
            }
        }
        for part in keep.chunks(EVENTS_PER_STATEMENT) {
            let mut b = SqlBuilder::new(Backend::Sqlite, STATEMENT_NO_JOURNAL);
            b.push(" event_bodies (body, until) ");
            push_values(&mut b, part.iter(), |row, (_, i)| {
                row.push_bind(events[*i].response_body.clone()).push_bind(until);
            });
            b.push(" RETURNING id");
            let (sql, args) = b.build();
            // As for the events: one statement's ids ascend in VALUES order.
            let mut ids: Vec<i64> = conn.fetch_all(&sql, &args).await?;
            ids.sort_unstable();
            for ((digest, _), id) in part.iter().zip(ids) {
                self.seen.insert(*digest, Seen::Kept { id, until });
            }
        }
        if !keep.is_empty() {
            for (i, digest) in digests.iter().enumerate() {
                if let Some(Seen::Kept { id, .. }) = digest.and_then(|d| self.seen.get(&d).copied()) {
                    shared[i] = Some(id);
                }
            }
        }
        Ok(shared)
    }
}

/// SQLite: how the sync log inserts rows. A multi-row INSERT that a constraint could abort makes
/// SQLite open a statement journal, and releasing it walks the write's in-memory savepoint
/// journal from its start, 1 KiB at a time: under lookup load that walk was a fifth of the
/// batch writer's insert time. With `OR FAIL` there is no statement journal. A failed statement
/// fails what it was part of (a batch, which rolls back to its savepoint; a group's events,
/// inserted just before its commit, which fail the whole group), so the rows FAIL keeps before
/// the one that failed never commit.
const STATEMENT_NO_JOURNAL: &str = "INSERT OR FAIL INTO";

/// Inserts events with multi-row INSERTs and sets their ids. One statement per 64 events, not
/// one per event: the batch writer logs every read, and each statement is a round trip to the
/// connection's thread.
///
/// On PostgreSQL the transaction also announces the new ids on [`NOTIFY_CHANNEL`]: the
/// notification is delivered on commit only, to every instance's listener, which is how the
/// events reach the live stream there (the writing instance's included).
pub(crate) async fn insert_events(
    conn: &mut SqlConn<'_>,
    events: &mut [SyncEvent],
    memory: Option<&mut WriterMemory>,
) -> Result<()> {
    let backend = conn.backend();
    events.iter_mut().for_each(replace_nul);
    // SQLite: the batch writer names the texts it knows by id; other writes (a group's
    // creates and changes, whose texts are mostly new) look each one up in the insert.
    let (shared, mut texts) = match memory {
        Some(m) if backend == Backend::Sqlite => {
            m.texts.check(conn).await?;
            (m.bodies.share(conn, events).await?, Some(&mut m.texts))
        }
        _ => (vec![None; events.len()], None),
    };
    for (chunk, shared) in events.chunks_mut(EVENTS_PER_STATEMENT).zip(shared.chunks(EVENTS_PER_STATEMENT)) {
        if backend == Backend::Sqlite {
            let chunk_texts = chunk.iter().filter_map(|e| e.search.as_deref());
            match texts.as_deref_mut() {
                Some(known) => known.learn(conn, chunk_texts).await?,
                None => {
                    let mut all: Vec<String> = chunk_texts.map(str::to_string).collect();
                    all.sort_unstable();
                    all.dedup();
                    insert_texts(conn, all).await?;
                }
            }
        }
        let known = texts.as_deref();
        let search_column = search_column(backend);
        let (insert, body_id) = match backend {
            Backend::Sqlite => (STATEMENT_NO_JOURNAL, ", response_body_id"),
            Backend::Postgres => ("INSERT INTO", ""),
        };
        let mut b = SqlBuilder::new(
            backend,
            format!(
                "{insert} events (time, method, path, operation, resource_type, target_id, target_name, status, latency_ms,
                                     user_agent, idp, token_id, quirks, request_body, response_body, detail, simulated, diff, {search_column}{body_id}) "
            ),
        );
        push_values(&mut b, chunk.iter().zip(shared), |row, (e, shared)| {
            row.push_bind(e.time.clone())
                .push_bind(e.method.clone())
                .push_bind(e.path.clone())
                .push_bind(e.operation.clone())
                .push_bind(e.resource_type.clone())
                .push_bind(e.target_id.clone())
                .push_bind(e.target_name.clone())
                .push_bind(e.status)
                .push_bind(e.latency_ms)
                .push_bind(e.user_agent.clone())
                .push_bind(e.idp.clone())
                .push_bind(e.token_id.clone())
                .push_bind(e.quirks.clone())
                .push_bind(e.request_body.clone())
                // A body kept in `event_bodies` is named, not copied; the event in memory (the
                // live tail's) keeps it.
                .push_bind(if shared.is_some() { None } else { e.response_body.clone() })
                .push_bind(e.detail.clone())
                .push_bind(i64::from(e.simulated))
                .push_bind(e.diff.clone());
            match known {
                Some(known) => row.push_bind(e.search.as_deref().and_then(|t| known.id(t))),
                None => row.push_search(backend, e.search.clone()),
            };
            if backend == Backend::Sqlite {
                row.push_bind(*shared);
            }
        });
        b.push(" RETURNING id");
        let (sql, args) = b.build();
        // RETURNING's row order is unspecified, but one statement inside the write turn takes
        // ascending ids in VALUES order: sorted, they line up with `chunk`.
        let mut ids: Vec<i64> = conn.fetch_all(&sql, &args).await?;
        ids.sort_unstable();
        for (e, id) in chunk.iter_mut().zip(ids) {
            e.id = id;
        }
    }
    // The checklist's first authenticated request: kept, not looked for (migration 0009). An
    // earlier request can commit after a later one (reads are written by the log's batch
    // writer), so the earliest time wins.
    // Times compare as text (fixed-width UTC stamps), byte by byte: PostgreSQL is told so, as
    // its time columns are (`COLLATE "C"`).
    let authenticated = events.iter().filter(|e| e.token_id.is_some() && !e.simulated).map(|e| &e.time).min();
    if let Some(time) = authenticated {
        let earlier = match backend {
            Backend::Sqlite => "excluded.value < settings.value",
            Backend::Postgres => "excluded.value COLLATE \"C\" < settings.value COLLATE \"C\"",
        };
        conn.execute(
            &format!(
                "INSERT INTO settings (key, value) VALUES (?, ?)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE {earlier}"
            ),
            &binds![crate::settings::FIRST_AUTHENTICATED, time.clone()],
        )
        .await?;
    }
    if backend == Backend::Postgres {
        for payload in notify_payloads(events.iter().map(|e| e.id)) {
            // Selected as a boolean: `Any` reads no `void` column.
            conn.fetch_optional::<bool>("SELECT pg_notify(?, ?) IS NULL", &binds![NOTIFY_CHANNEL, payload]).await?;
        }
    }
    Ok(())
}

/// Event ids as comma-separated lists, each under PostgreSQL's payload limit.
pub(crate) fn notify_payloads(ids: impl Iterator<Item = i64>) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    for id in ids {
        let id = id.to_string();
        if !cur.is_empty() && cur.len() + 1 + id.len() > MAX_NOTIFY_PAYLOAD {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(',');
        }
        cur.push_str(&id);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The batch writer: drains the channel, inserts what it got in one transaction, broadcasts.
/// How long the batch writer gathers events before writing them: one transaction per window
/// instead of one per request, well inside the live tail's one second.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);
/// The most events written in one transaction. Chosen when, at a million events, an event's
/// cost was mostly the page its entry in the text index of the time (`events_search_id`, in
/// text order) landed on, which the commit wrote out: measured in one transaction each, 27–37
/// µs an event in batches of 1,024, 17–19 µs in batches of 4,096, 12 µs in batches of 16,384
/// (5.5 µs without that index). Under read load at 1M users, 4,096 took the logged GETs from
/// 8.8–9.5k/s to 10.8–11.0k/s, with no change at 10k. The index now sorts by bucket of ids
/// first (migration 0010), which removed most of that cost. A batch holds the write turn
/// while it is written (75 ms at most at 1M), so writes queued behind it wait that long;
/// larger batches would make them wait longer for less.
const MAX_BATCH: usize = 4096;

/// Places the sync log's queue keeps free for the requests in flight: a request logs one event,
/// or two (an authentication failure that starts a block).
pub const LOG_HEADROOM: usize = 1_024;

/// The pauses before each new attempt at a batch of events that could not be written.
const BATCH_RETRIES: [std::time::Duration; 3] =
    [std::time::Duration::from_millis(200), std::time::Duration::from_secs(1), std::time::Duration::from_secs(5)];

/// Events deleted per write when the log is pruned. On the benchmark machine, pruning 300,000
/// events to 1,000 took 150 such writes of about 30 ms each (commit included), 3.8 s in all;
/// as one statement it held the database's write lock for 1.7 s. 1,000 per write halved the
/// pause and took 5.7 s in all.
const PRUNE_CHUNK: i64 = 2_000;

pub(crate) async fn run_batch_writer(
    writer: crate::group_commit::Writer,
    mut rx: mpsc::Receiver<LogMsg>,
    live: broadcast::Sender<SyncEvent>,
    signals: WriterSignals,
    clock: crate::Clock,
) {
    let WriterSignals { dropped, room, texts_pending } = signals;
    let backend = writer.backend();
    let mut buf = Vec::with_capacity(MAX_BATCH);
    let mut memory = WriterMemory::default();
    while rx.recv_many(&mut buf, MAX_BATCH).await > 0 {
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        while buf.len() < MAX_BATCH && !buf.iter().any(|m| matches!(m, LogMsg::Flush(_))) {
            let room = MAX_BATCH - buf.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut buf, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        // Places freed on the queue: requests waiting for room go on.
        room.notify_waiters();
        let mut waiters = vec![];
        let mut events = vec![];
        let mut used = vec![];
        let mut index = false;
        for msg in buf.drain(..) {
            match msg {
                LogMsg::Request(p) => events.push(event_from(&p.ctx, &p.outcome, p.time, p.latency_ms)),
                LogMsg::TokenUsed { id, at } => used.push((id, at)),
                LogMsg::Flush(w) => waiters.push(w),
                LogMsg::IndexTexts => index = true,
            }
        }
        // Every batch indexes what is pending (SQLite); a write committing texts after this
        // point asks again.
        texts_pending.store(false, std::sync::atomic::Ordering::SeqCst);
        let lost = dropped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if lost > 0 {
            events.push(overflow_event(lost, clock.stamp()));
        }
        if !events.is_empty() || !used.is_empty() || index {
            // A batch that fails (the database locked by another process past the busy
            // timeout, a PostgreSQL failover) is tried again before its events are given up.
            let mut written = write_batch(&writer, &mut events, &used, &mut memory).await;
            for pause in BATCH_RETRIES {
                let Err(e) = &written else { break };
                tracing::warn!(error = %e, events = events.len(), "could not write sync-log events; trying again");
                tokio::time::sleep(pause).await;
                written = write_batch(&writer, &mut events, &used, &mut memory).await;
            }
            match written {
                // On PostgreSQL the listener publishes them, as it does every instance's.
                Ok(()) if backend == Backend::Sqlite => {
                    for e in events {
                        let _ = live.send(e);
                    }
                }
                Ok(()) => {}
                Err(e) => {
                    tracing::error!(error = %e, events = events.len(), "sync-log events lost: they could not be written")
                }
            }
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

/// Writes a batch of read and refusal events, as a write of its own in the group commit: it
/// commits with the writes queued beside it, at the same durability.
/// An event of the audit trail: an admin action in TalkWriter Admin, or the service's own
/// record of something an admin should know.
fn admin_event_at(operation: &str, detail: &str, time: String) -> SyncEvent {
    let outcome =
        Outcome { operation: Some(operation.into()), status: 200, detail: Some(detail.into()), ..Default::default() };
    let mut event = event_from(&RequestContext::new("ADMIN", ""), &outcome, time, 0.0);
    event.idp = "TalkWriter Admin".into();
    event
}

/// The record of requests whose events were dropped because the queue to the writer was full:
/// in the audit trail, so the gap in the log is explained where an admin looks.
fn overflow_event(lost: u64, time: String) -> SyncEvent {
    let detail = format!(
        "{lost} request(s) were answered but not recorded: the sync log could not keep up (the database was busy)"
    );
    admin_event_at("Sync Log Overflow", &detail, time)
}

/// One transaction in the write turn: the events, and the tokens' `last_used` (token id, time).
async fn write_batch(
    writer: &crate::group_commit::Writer,
    events: &mut [SyncEvent],
    used: &[(String, String)],
    memory: &mut WriterMemory,
) -> Result<()> {
    let written = write_batch_once(writer, events, used, memory).await;
    if written.is_err() {
        // The bodies and texts it wrote went with its transaction: they are not named again.
        memory.forget();
    }
    written
}

async fn write_batch_once(
    writer: &crate::group_commit::Writer,
    events: &mut [SyncEvent],
    used: &[(String, String)],
    memory: &mut WriterMemory,
) -> Result<()> {
    let sqlite = writer.backend() == Backend::Sqlite;
    let mut tx = writer.begin().await?;
    let write = async {
        insert_events(&mut tx.conn(), events, Some(memory)).await?;
        for (id, at) in used {
            tx.conn().execute("UPDATE tokens SET last_used = ? WHERE id = ?", &binds![at, id]).await?;
        }
        if sqlite {
            index_pending_texts(&mut tx.conn()).await?;
        }
        Ok::<_, crate::Error>(())
    };
    // A batch is up to 4,096 events: tens of milliseconds of SQLite's work, in place on SQLite.
    // The runtime is told first, so that its other tasks (the requests being logged) move to
    // another thread meanwhile instead of waiting behind the batch.
    if sqlite {
        crate::group_commit::long_in_place(write).await?;
    } else {
        write.await?;
    }
    tx.commit().await
}

/// The `n` trigrams likely to be in the fewest texts, when counting has shown only that each is
/// in many: digits before letters, uncommon letters before common ones, punctuation last, and
/// each distinct character counted once (`000` is hardly rarer than `0`). Any choice gives the
/// same results, since the LIKE decides; a better guess only reads shorter lists.
fn likely_rarest(trigrams: &[String], n: usize) -> Vec<String> {
    const BY_FREQUENCY: &str = "etaoinsrhldcumfpgwybvkxjqz";
    let rarity = |t: &String| -> usize {
        let mut distinct: Vec<char> = t.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct
            .into_iter()
            .map(|c| match c {
                '0'..='9' => 30,
                '.' | '@' | '-' | '_' | ' ' => 0,
                c => BY_FREQUENCY.find(c).unwrap_or(20),
            })
            .sum()
    };
    let mut sorted = trigrams.to_vec();
    sorted.sort_by_key(|t| std::cmp::Reverse(rarity(t)));
    sorted.truncate(n);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Requests are named in the admin's words from their method, path and status.
    #[test]
    fn classification() {
        let cases = [
            ("POST", "/scim/v2/Users", 201, "Create User"),
            ("POST", "/scim/v2/Groups", 201, "Push Group"),
            ("PUT", "/scim/v2/Users/1", 200, "Update User"),
            ("PATCH", "/scim/v2/Groups/1", 204, "Update Group"),
            ("DELETE", "/scim/v2/Users/1", 204, "Delete User"),
            ("DELETE", "/scim/v2/Groups/1", 204, "Delete Group"),
            ("GET", "/scim/v2/Users?filter=userName%20eq%20%22a%40b.c%22", 200, "Lookup"),
            (
                "GET",
                "/scim/v2/Users?filter=userName+eq+%225f5b6d3a-3b6c-4b7e-9d7a-1a2b3c4d5e6f%22",
                200,
                "Test Connection",
            ),
            ("GET", "/scim/v2/Groups/1", 200, "Lookup"),
            ("POST", "/scim/v2/.search", 200, "Lookup"),
            ("GET", "/scim/v2/ServiceProviderConfig", 200, "Discovery"),
            ("GET", "/scim/v2/Users", 401, "Auth Failure"),
        ];
        for (method, path, status, op) in cases {
            assert_eq!(classify(method, path, status), op, "{method} {path} {status}");
        }
    }

    /// The IdP is recognised from the User-Agent, and from the request's shapes without one.
    #[test]
    fn idp_recognition() {
        let none = Quirks::default();
        assert_eq!(recognise_idp(Some("Okta SCIM Client 1.0.0"), &none), "Okta");
        assert_eq!(recognise_idp(Some("Microsoft-Azure-AD-Provisioning/1.0"), &none), "Entra ID");
        assert_eq!(recognise_idp(Some("OneLogin SCIM"), &none), "OneLogin");
        assert_eq!(recognise_idp(Some("JumpCloud-SCIM/1.0"), &none), "JumpCloud");
        assert_eq!(recognise_idp(Some("curl/8.0"), &none), "Other");
        let mut entra = Quirks::default();
        entra.push(scim_protocol::quirks::STRING_BOOLEAN);
        assert_eq!(recognise_idp(None, &entra), "Entra ID", "an Entra shape without a User-Agent");
        let mut okta = Quirks::default();
        okta.push(scim_protocol::quirks::RENAME_WITH_ID);
        assert_eq!(recognise_idp(Some("python-requests"), &okta), "Okta");
    }

    /// The sync log's store functions on the test backend (SQLite, or PostgreSQL when the
    /// tests run there): free-text search, filters, the activity chart, the status header,
    /// export and retention.
    #[tokio::test]
    async fn the_log_reads_back_on_either_store() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::testing::open_store(dir.path(), crate::Config::default(), crate::Clock::system()).await.unwrap();
        let mut ctx = RequestContext::new("POST", "/scim/v2/Users");
        ctx.body = Some(json!({"userName": "Ada_Lovelace@Example.com", "password": "secret"}));
        ctx.token_id = Some("t1".into());
        p.log_request(
            &ctx,
            Outcome { status: 409, target_name: Some("Ada_Lovelace@Example.com".into()), ..Default::default() },
        );
        let mut sim = RequestContext::new("GET", "/scim/v2/Users/abc");
        sim.simulated = true;
        p.log_request(&sim, Outcome { status: 200, target_id: Some("abc".into()), ..Default::default() });
        p.log_request(
            &RequestContext::new("GET", "/scim/v2/ServiceProviderConfig"),
            Outcome { status: 200, ..Default::default() },
        );
        p.flush_log().await;
        p.set_provisioning_enabled(false).await.unwrap();

        let q = |f: fn(&mut EventQuery)| {
            let mut q = EventQuery::default();
            f(&mut q);
            q
        };
        let ops = |page: EventPage| page.events.into_iter().map(|e| e.operation).collect::<Vec<_>>();
        let all = p.query_events(&q(|_| {})).await.unwrap();
        assert_eq!(ops(all), ["Provisioning Turned Off", "Discovery", "Lookup", "Create User"]);
        let found = p.query_events(&q(|q| q.text = Some("LOVELACE@".into()))).await.unwrap();
        assert_eq!(ops(found.clone()), ["Create User"], "three characters or more, any case");
        assert!(found.events[0].hint.is_some(), "a failure carries a hint");
        assert!(!found.events[0].request_body.as_deref().unwrap().contains("secret"));
        assert_eq!(ops(p.query_events(&q(|q| q.text = Some("a_".into()))).await.unwrap()), ["Create User"]);
        assert!(p.query_events(&q(|q| q.text = Some("a%l".into()))).await.unwrap().events.is_empty(), "% is literal");
        assert_eq!(ops(p.query_events(&q(|q| q.simulated = Some(true))).await.unwrap()), ["Lookup"]);
        assert_eq!(ops(p.query_events(&q(|q| q.result = Some("failure".into()))).await.unwrap()), ["Create User"]);
        let page = p.query_events(&q(|q| q.limit = Some(2))).await.unwrap();
        assert!(page.has_more);
        let before = page.events[1].id;
        assert_eq!(ops(p.query_events(&q(|q| q.limit = Some(1))).await.unwrap()).len(), 1);
        let older = p.query_events(&EventQuery { before_id: Some(before), ..Default::default() }).await.unwrap();
        assert_eq!(ops(older), ["Lookup", "Create User"]);

        let since = crate::stamp(chrono::Utc::now() - chrono::Duration::hours(1));
        let until = crate::stamp(chrono::Utc::now() + chrono::Duration::hours(1));
        let range = |f: fn(&mut EventQuery)| {
            let mut q = EventQuery { since: Some(since.clone()), until: Some(until.clone()), ..Default::default() };
            f(&mut q);
            q
        };
        let buckets = p.activity(&range(|_| {}), "minute").await.unwrap();
        assert_eq!(buckets.iter().map(|b| (b.success, b.failure)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)), (2, 1));
        assert!(buckets[0].start.ends_with(":00Z"), "{buckets:?}");
        assert!(p.activity(&range(|_| {}), "hour").await.unwrap()[0].start.ends_with(":00:00Z"));
        // The chart follows the list's filters.
        let failures = p.activity(&range(|q| q.result = Some("failure".into())), "minute").await.unwrap();
        assert_eq!(failures.iter().map(|b| (b.success, b.failure)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)), (0, 1));
        let lovelace = p.activity(&range(|q| q.text = Some("lovelace".into())), "minute").await.unwrap();
        assert_eq!(lovelace.iter().map(|b| b.success + b.failure).sum::<i64>(), 1);
        let discovery = p.activity(&range(|q| q.operation = Some("Discovery".into())), "hour").await.unwrap();
        assert_eq!(
            discovery.iter().map(|b| (b.success, b.failure)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
            (1, 0)
        );

        let status = p.status().await.unwrap();
        assert!(!status.provisioning_enabled);
        assert_eq!((status.requests_last_hour, status.errors_last_hour), (2, 1));
        assert_eq!(status.last_request.map(|e| e.operation).as_deref(), Some("Discovery"));
        assert!(status.first_authenticated_request.is_some());
        assert_eq!(p.mapping().await.unwrap().len(), 7);

        let csv = p.export_events(&EventQuery::default(), ExportFormat::Csv).await.unwrap();
        assert_eq!(csv.lines().count(), 5);

        assert!(p.set_log_retention(&Retention { days: None, rows: Some(10) }).await.is_err());
        p.set_log_retention(&Retention { days: Some(30), rows: Some(1000) }).await.unwrap();
        assert_eq!(p.log_retention().await.unwrap(), Retention { days: Some(30), rows: Some(1000) });
        assert_eq!(p.prune_events(None, Some(2)).await.unwrap(), 3);
        assert_eq!(p.query_events(&EventQuery::default()).await.unwrap().events.len(), 2);
        p.close().await;
    }

    /// The setup checklist's first authenticated request, kept as requests are written: a test
    /// sync's requests and unauthenticated ones do not count; the earliest real one stays, even
    /// when an earlier request is written after a later one; pruning the log leaves it.
    #[tokio::test]
    async fn the_first_authenticated_request_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::testing::open_store(dir.path(), crate::Config::default(), crate::Clock::system()).await.unwrap();
        let first = || async { p.status().await.unwrap().first_authenticated_request };
        let with_token = |simulated: bool| {
            let mut ctx = RequestContext::new("GET", "/scim/v2/Users/abc");
            ctx.token_id = Some("t1".into());
            ctx.simulated = simulated;
            ctx
        };
        let ok = || Outcome { status: 200, ..Default::default() };
        assert_eq!(first().await, None);
        p.log_request(&with_token(true), ok());
        p.log_request(&RequestContext::new("GET", "/scim/v2/Users"), Outcome { status: 401, ..Default::default() });
        p.flush_log().await;
        assert_eq!(first().await, None, "a test sync's request and a refused one are not an IdP's");

        p.log_request(&with_token(false), ok());
        p.flush_log().await;
        let kept = first().await.expect("an IdP's request with a token is");
        let logged = p.query_events(&EventQuery { simulated: Some(false), ..Default::default() }).await.unwrap();
        let authenticated: Vec<_> = logged.events.iter().filter(|e| e.token_id.is_some()).collect();
        assert_eq!(authenticated.len(), 1);
        assert_eq!(kept, authenticated[0].time, "its time is the request's");
        p.log_request(&with_token(false), ok());
        p.flush_log().await;
        assert_eq!(first().await.as_deref(), Some(kept.as_str()), "a later request leaves it");

        // A request made earlier but written later (reads reach the log after the writes beside
        // them) takes its place.
        let mut tx = p.begin_write().await.unwrap();
        let mut earlier = event_from(&with_token(false), &ok(), "2020-01-01T00:00:00.000Z".into(), 1.0);
        earlier.target_id = Some("abc".into());
        tx.log(vec![earlier]);
        tx.commit().await.unwrap();
        assert_eq!(first().await.as_deref(), Some("2020-01-01T00:00:00.000Z"));

        assert!(p.prune_events(None, Some(1)).await.unwrap() > 0);
        assert_eq!(first().await.as_deref(), Some("2020-01-01T00:00:00.000Z"), "pruning leaves it");
        p.close().await;
    }

    /// A request waits for room on the log's queue while it is nearly full, and goes on as soon
    /// as the writer takes events off it; with the writer stalled, it waits at most a second.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_wait_for_room_on_the_log_queue() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config { log_queue: LOG_HEADROOM + 50, ..crate::Config::default() };
        let p = crate::testing::open_store(dir.path(), config, crate::Clock::system()).await.unwrap();
        let read = |i: usize| {
            p.log_request(
                &RequestContext::new("GET", &format!("/scim/v2/Users/u{i}")),
                Outcome { status: 200, ..Default::default() },
            )
        };
        let started = std::time::Instant::now();
        p.wait_for_log_room().await;
        assert!(started.elapsed() < std::time::Duration::from_millis(500), "room at once on an empty queue");
        let stall = p.begin_write().await.unwrap();
        // The writer takes the first and then waits for the turn; the next 100 stay queued.
        read(0);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        (1..=100).for_each(read);
        let waiter = {
            let p = p.clone();
            tokio::spawn(async move { p.wait_for_log_room().await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiter.is_finished(), "the request waits while the queue is nearly full");
        stall.commit().await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.expect("released").unwrap();
        p.flush_log().await;
        let logged = p.query_events(&EventQuery { limit: Some(1000), ..Default::default() }).await.unwrap().events;
        assert_eq!(logged.iter().filter(|e| e.method == "GET").count(), 101, "nothing dropped");

        // Stalled for good: the wait ends after a second anyway.
        let stall = p.begin_write().await.unwrap();
        read(200);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        (201..=300).for_each(read);
        let started = std::time::Instant::now();
        p.wait_for_log_room().await;
        let waited = started.elapsed();
        assert!(
            waited >= std::time::Duration::from_millis(900) && waited < std::time::Duration::from_secs(5),
            "{waited:?}"
        );
        stall.commit().await.unwrap();
        p.close().await;
    }

    /// With the database stalled, requests beyond the log's queue are dropped rather than held
    /// in memory, and the log records how many: every request is either an event or counted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_log_queue_drops_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config { log_queue: 50, ..crate::Config::default() };
        let p = crate::testing::open_store(dir.path(), config, crate::Clock::system()).await.unwrap();
        let stall = p.begin_write().await.unwrap();
        // More than the writer takes into one batch (`MAX_BATCH`) and the queue holds together.
        let total = MAX_BATCH + 1_000;
        for i in 0..total {
            let ctx = RequestContext::new("GET", &format!("/scim/v2/Users/u{i}"));
            p.log_request(&ctx, Outcome { status: 200, ..Default::default() });
        }
        stall.commit().await.unwrap();
        p.flush_log().await;
        let recorded = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events WHERE method = 'GET'")
            .fetch_one(&p.pool)
            .await
            .unwrap() as usize;
        let overflow = EventQuery { operation: Some("Sync Log Overflow".into()), ..Default::default() };
        let overflow = p.query_events(&overflow).await.unwrap().events;
        assert_eq!(overflow.len(), 1, "one record of the loss");
        let detail = overflow[0].detail.as_deref().unwrap();
        let lost: usize = detail.split(' ').next().unwrap().parse().unwrap();
        assert!(lost >= 1_000 - 50, "{detail}");
        assert_eq!(recorded + lost, total, "every request an event or counted: {detail}");
        assert_eq!(overflow[0].idp, "TalkWriter Admin");
        p.close().await;
    }

    /// An event quoting a NUL from an IdP's body is written (with U+FFFD in its place), and so
    /// is the rest of its batch: on PostgreSQL the NUL failed the whole batch. On either store.
    #[tokio::test]
    async fn a_nul_in_a_request_loses_no_events() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::testing::open_store(dir.path(), crate::Config::default(), crate::Clock::system()).await.unwrap();
        let mut bad = RequestContext::new("POST", "/scim/v2/Users");
        bad.body = Some(json!({"userName": "ada\u{0}@example.com"}));
        p.log_request(&bad, Outcome { status: 400, detail: Some("bad\u{0}value".into()), ..Default::default() });
        p.log_request(&RequestContext::new("GET", "/scim/v2/Users/x"), Outcome { status: 404, ..Default::default() });
        p.flush_log().await;
        let events = p.query_events(&EventQuery::default()).await.unwrap().events;
        assert_eq!(events.len(), 2, "{events:?}");
        let quoted = events.iter().find(|e| e.method == "POST").unwrap();
        assert_eq!(quoted.target_name.as_deref(), Some("ada\u{FFFD}@example.com"));
        assert_eq!(quoted.detail.as_deref(), Some("bad\u{FFFD}value"));
        p.close().await;
    }

    /// An "All time" chart starts at the oldest request the filters select and can count by
    /// day; admin actions are not requests. On either store.
    #[tokio::test]
    async fn the_chart_can_span_the_whole_log_by_day() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::testing::open_store(dir.path(), crate::Config::default(), crate::Clock::system()).await.unwrap();
        let spec = crate::seed::SeedSpec { users: 10, groups: 0, group_members: 0, events: 100 };
        p.seed(&spec, |_, _| {}).await.unwrap();
        p.log_request(
            &RequestContext::new("GET", "/scim/v2/ServiceProviderConfig"),
            Outcome { status: 200, ..Default::default() },
        );
        p.flush_log().await;
        p.audit("Settings Changed", "an admin action, not a request").await.unwrap();
        let oldest: String = sqlx::query_scalar("SELECT MIN(time) FROM events WHERE method <> 'ADMIN'")
            .fetch_one(&p.pool)
            .await
            .unwrap();
        let all = EventQuery::default();
        assert_eq!(p.first_request_time(&all).await.unwrap(), Some(oldest.clone()));
        let discovery = EventQuery { operation: Some("Discovery".into()), ..Default::default() };
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        assert!(p.first_request_time(&discovery).await.unwrap().unwrap().starts_with(&today));
        let nothing = EventQuery { operation: Some("Delete Group".into()), ..Default::default() };
        assert_eq!(p.first_request_time(&nothing).await.unwrap(), None);

        let days = p.activity(&all, "day").await.unwrap();
        assert_eq!(days.first().unwrap().start, format!("{}T00:00:00Z", &oldest[..10]));
        assert_eq!(days.last().unwrap().start, format!("{today}T00:00:00Z"));
        assert_eq!(
            days.iter().map(|d| d.success + d.failure).sum::<i64>(),
            101,
            "100 seeded, 1 logged; no admin action"
        );
        let e = p.activity(&all, "week").await.unwrap_err();
        assert!(matches!(e, crate::Error::InvalidInput(_)), "{e}");
        p.close().await;
    }

    /// Pruning deletes in writes of `PRUNE_CHUNK` events, each taking the write turn as an
    /// IdP's request does; by count (the newest stay) and by age. On either store.
    #[tokio::test]
    async fn pruning_deletes_in_small_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::testing::open_store(dir.path(), crate::Config::default(), crate::Clock::system()).await.unwrap();
        let spec = crate::seed::SeedSpec { users: 100, groups: 0, group_members: 0, events: 5_000 };
        p.seed(&spec, |_, _| {}).await.unwrap();
        let ids = || async {
            sqlx::query_scalar::<_, i64>("SELECT id FROM events ORDER BY id").fetch_all(&p.pool).await.unwrap()
        };
        let mut newest = ids().await;
        let gone = newest.len() - 500;
        assert!(gone > 4_000, "{gone}");
        let newest = newest.split_off(gone);
        // Nothing of the log's writer left to commit beside the pruning's own writes.
        p.flush_log().await;
        let (commits, _) = p.write_stats();
        assert_eq!(p.prune_events(None, Some(500)).await.unwrap(), gone as u64);
        assert_eq!(p.write_stats().0 - commits, 3, "2,000 + 2,000 + the rest");
        assert_eq!(ids().await, newest, "the newest 500 stay");
        if p.backend == Backend::Sqlite {
            let orphans: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM event_texts WHERE id NOT IN (SELECT search_id FROM events WHERE search_id IS NOT NULL)",
            )
            .fetch_one(&p.pool)
            .await
            .unwrap();
            assert_eq!(orphans, 0, "the deleted events' texts went with them");
        }
        // The seeded events are years old; the seed's own record of its run is not.
        assert_eq!(p.prune_events(Some(30), None).await.unwrap(), 499);
        let left = p.query_events(&EventQuery::default()).await.unwrap().events;
        let month_ago = crate::stamp(chrono::Utc::now() - chrono::Duration::days(30));
        assert!(left.len() == 1 && left[0].time > month_ago, "{left:?}");
        p.close().await;
    }

    /// SQLite indexes each distinct search text once: reads of the same user add events but
    /// no text, every event is still found by it, and pruning drops the texts of the events it
    /// removed.
    #[tokio::test]
    async fn each_search_text_is_indexed_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provisioning::open(&dir.path().join("texts.db"), crate::Config::default()).await.unwrap();
        let read = |id: &str, name: &str| {
            p.log_request(
                &RequestContext::new("GET", &format!("/scim/v2/Users/{id}")),
                Outcome {
                    status: 200,
                    target_id: Some(id.into()),
                    target_name: Some(name.into()),
                    ..Default::default()
                },
            )
        };
        for _ in 0..5 {
            read("id-ada", "ada@example.com");
        }
        p.flush_log().await;
        read("id-bob", "bob@example.com");
        p.flush_log().await;
        let texts = || async {
            sqlx::query_scalar::<_, String>("SELECT search FROM event_texts ORDER BY search")
                .fetch_all(&p.pool)
                .await
                .unwrap()
        };
        assert_eq!(texts().await, ["ada@example.com id-ada", "bob@example.com id-bob"]);
        let ada = p.query_events(&EventQuery { text: Some("ADA@EX".into()), ..Default::default() }).await.unwrap();
        assert_eq!(ada.events.len(), 5, "every event of the text is found");
        let common =
            p.query_events(&EventQuery { text: Some("example.com".into()), ..Default::default() }).await.unwrap();
        assert_eq!(common.events.len(), 6);
        assert_eq!(p.prune_events(None, Some(1)).await.unwrap(), 5);
        assert_eq!(texts().await, ["bob@example.com id-bob"], "the pruned events' text is gone");
        let gone = p.query_events(&EventQuery { text: Some("ada@".into()), ..Default::default() }).await.unwrap();
        assert!(gone.events.is_empty());
        p.close().await;
    }

    /// SQLite: pruning deletes the kept response bodies that no event left can name (their
    /// `until` at or below the oldest event's id) and keeps the others, which the log's writer
    /// may still name; emptied, the log keeps only bodies its next events could name.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pruning_deletes_the_kept_bodies_no_event_can_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provisioning::open(&dir.path().join("bodies.db"), crate::Config::default()).await.unwrap();
        let mut tx = p.begin_write().await.unwrap();
        let mut events: Vec<SyncEvent> =
            (0..3).map(|i| admin_event_at("Lookup", &format!("read {i}"), crate::stamp(chrono::Utc::now()))).collect();
        insert_events(&mut tx.conn(), &mut events, None).await.unwrap();
        tx.commit().await.unwrap();
        let newest = events.iter().map(|e| e.id).max().unwrap();
        let mut tx = p.begin_write().await.unwrap();
        for (body, until) in [("named by none left", newest), ("named until later", newest + 1), ("far", newest + 500)]
        {
            tx.conn()
                .execute("INSERT INTO event_bodies (body, until) VALUES (?, ?)", &binds![body, until])
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let bodies = || async {
            sqlx::query_scalar::<_, String>("SELECT body FROM event_bodies ORDER BY id")
                .fetch_all(&p.pool)
                .await
                .unwrap()
        };
        // The newest event is left: a body whose events all came before it goes.
        p.prune_events(None, Some(1)).await.unwrap();
        assert_eq!(bodies().await, ["named until later", "far"]);
        // Emptied (an admin's retention of a day, the log all older): the next event's id is the bound.
        sqlx::query("UPDATE events SET time = '2000-01-01T00:00:00Z'").execute(&p.pool).await.unwrap();
        p.prune_events(Some(1), None).await.unwrap();
        assert_eq!(bodies().await, ["far"]);
        p.close().await;
    }

    /// SQLite: the batch writer names the texts it wrote before by id, and forgets them once
    /// texts were deleted, by its own pruning or by another process's plain `DELETE` (an older
    /// build pruning the same file): the id it knew may by then be another text's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn known_texts_are_forgotten_when_texts_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provisioning::open(&dir.path().join("texts.db"), crate::Config::default()).await.unwrap();
        let mut memory = WriterMemory::default();
        let event = |text: &str| {
            let mut e = admin_event_at("Lookup", "read", crate::stamp(chrono::Utc::now()));
            e.search = Some(text.into());
            e
        };
        let newest_text = || async {
            sqlx::query_scalar::<_, String>(
                "SELECT t.search FROM events e JOIN event_texts t ON t.id = e.search_id ORDER BY e.id DESC LIMIT 1",
            )
            .fetch_one(&p.pool)
            .await
            .unwrap()
        };
        let pool = &p.pool;
        let text_id = |text: &'static str| async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM event_texts WHERE search = ?")
                .bind(text)
                .fetch_optional(pool)
                .await
                .unwrap()
        };
        for (other, by_pruning) in [("bob@x id-bob", true), ("carol@x id-carol", false)] {
            for _ in 0..2 {
                let mut tx = p.begin_write().await.unwrap();
                insert_events(&mut tx.conn(), &mut [event("ann@x id-ann")], Some(&mut memory)).await.unwrap();
                tx.commit().await.unwrap();
                assert_eq!(newest_text().await, "ann@x id-ann");
            }
            let ann = memory.texts.id("ann@x id-ann").unwrap();
            assert_eq!(text_id("ann@x id-ann").await, Some(ann));
            if by_pruning {
                // Pruned whole: her text goes with her events.
                sqlx::query("UPDATE events SET time = '2000-01-01T00:00:00Z'").execute(pool).await.unwrap();
                p.prune_events(Some(1), None).await.unwrap();
            } else {
                sqlx::query("DELETE FROM events").execute(pool).await.unwrap();
                sqlx::query("DELETE FROM event_texts WHERE search = 'ann@x id-ann'").execute(pool).await.unwrap();
            }
            assert_eq!(text_id("ann@x id-ann").await, None);
            // Another writer's text takes the id that is free again.
            let mut tx = p.begin_write().await.unwrap();
            insert_events(&mut tx.conn(), &mut [event(other)], None).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(text_id(other).await, Some(ann), "SQLite reuses the freed id");
            // Ann again: her own text, not the other one, and free text finds her.
            let mut tx = p.begin_write().await.unwrap();
            insert_events(&mut tx.conn(), &mut [event("ann@x id-ann")], Some(&mut memory)).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(newest_text().await, "ann@x id-ann");
            let q = EventQuery { text: Some("ann@x".into()), ..Default::default() };
            assert_eq!(p.query_events(&q).await.unwrap().events.len(), 1);
        }
        p.close().await;
    }

    /// SQLite: a text is found by free-text search from the moment it is written, before the
    /// batch writer has indexed it (checked with LIKE) and after (through the trigram index);
    /// pruning an indexed and a pending text leaves the index whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn texts_are_found_before_and_after_they_are_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pending.db");
        let p = Provisioning::open(&path, crate::Config::default()).await.unwrap();
        let search = |text: &str| {
            let q = EventQuery { text: Some(text.into()), ..Default::default() };
            let p = &p;
            async move { p.query_events(&q).await.unwrap().events.into_iter().map(|e| e.target_name).collect::<Vec<_>>() }
        };
        let pending = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM event_texts WHERE pending IS NOT NULL")
                .fetch_one(&p.pool)
                .await
                .unwrap()
        };
        let fts_is_whole = || async {
            sqlx::query("INSERT INTO event_texts_search (event_texts_search) VALUES ('integrity-check')")
                .execute(&p.pool)
                .await
                .is_ok()
        };
        // Written as a write does, and not indexed: no request to index it reaches the writer.
        let write = |name: &str| {
            let mut e = admin_event_at("Create User", "", crate::stamp(chrono::Utc::now())).retarget(
                "User",
                format!("id-{name}"),
                name.to_string(),
            );
            e.idp = "Okta".into();
            let p = &p;
            async move {
                let mut tx = p.begin_write().await.unwrap();
                insert_events(&mut tx.conn(), &mut [e], None).await.unwrap();
                tx.commit().await.unwrap();
            }
        };
        write("qzxw@example.com").await;
        assert_eq!(pending().await, 1);
        // "qzx" is in no indexed text: the trigram index alone would find nothing.
        assert_eq!(search("qzxw@").await, [Some("qzxw@example.com".to_string())], "found while pending");
        let mut tx = p.begin_write().await.unwrap();
        index_pending_texts(&mut tx.conn()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(pending().await, 0);
        assert_eq!(search("qzxw@").await, [Some("qzxw@example.com".to_string())], "found through the index");
        write("vvyy@example.com").await;
        write("keep@example.com").await;
        assert!(fts_is_whole().await);
        // The first two texts' events pruned: one text indexed, one pending.
        p.prune_events(None, Some(1)).await.unwrap();
        let texts: Vec<String> = sqlx::query_scalar("SELECT search FROM event_texts").fetch_all(&p.pool).await.unwrap();
        assert!(texts.len() == 1 && texts[0].contains("keep@"), "{texts:?}");
        assert!(fts_is_whole().await, "the index has no entry left for a text that is gone");
        assert!(search("qzxw@").await.is_empty() && search("vvyy@").await.is_empty());
        p.close().await;
    }

    /// SQLite: a process of an earlier version on the same file, which inserts texts without
    /// marking them pending, still has them indexed at once, and pruning them leaves the index
    /// whole.
    #[tokio::test]
    async fn texts_from_an_earlier_version_are_indexed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provisioning::open(&dir.path().join("older-writer.db"), crate::Config::default()).await.unwrap();
        // As that version's `insert_events` wrote a text and its event.
        sqlx::query("INSERT INTO event_texts (search) VALUES ('older@example.com id-older')")
            .execute(&p.pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO events (time, method, path, operation, status, latency_ms, idp, target_id, search_id)
             VALUES ('2026-01-01T00:00:00Z', 'GET', '/scim/v2/Users/id-older', 'Lookup', 200, 1.0, 'Okta', 'id-older',
                     (SELECT id FROM event_texts WHERE search = 'older@example.com id-older'))",
        )
        .execute(&p.pool)
        .await
        .unwrap();
        let matched: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM event_texts_search WHERE event_texts_search MATCH '\"lde\" AND \"r@e\"'",
        )
        .fetch_one(&p.pool)
        .await
        .unwrap();
        assert_eq!(matched, 1, "indexed as it was written");
        let found = p.query_events(&EventQuery { text: Some("older@".into()), ..Default::default() }).await.unwrap();
        assert_eq!(found.events.len(), 1);
        assert_eq!(p.prune_events(Some(30), None).await.unwrap(), 1);
        let whole = sqlx::query("INSERT INTO event_texts_search (event_texts_search) VALUES ('integrity-check')")
            .execute(&p.pool)
            .await;
        assert!(whole.is_ok(), "{whole:?}");
        p.close().await;
    }

    /// SQLite: a SCIM write's texts are indexed by the batch writer soon after, with no read
    /// traffic to start a batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_ask_the_batch_writer_to_index_their_texts() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provisioning::open(&dir.path().join("nudge.db"), crate::Config::default()).await.unwrap();
        let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "nudge@example.com"});
        p.create(scim_protocol::ResourceKind::User, &RequestContext::new("POST", "/scim/v2/Users"), &body)
            .await
            .unwrap();
        let mut left = i64::MAX;
        for _ in 0..100 {
            left = sqlx::query_scalar("SELECT COUNT(*) FROM event_texts WHERE pending IS NOT NULL")
                .fetch_one(&p.pool)
                .await
                .unwrap();
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(left, 0, "the write's texts were never indexed");
        let indexed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM event_texts_search WHERE event_texts_search MATCH '\"nud\" AND \"ge@\"'",
        )
        .fetch_one(&p.pool)
        .await
        .unwrap();
        assert_eq!(indexed, 1);
        p.close().await;
    }

    /// A SQLite store at `path` as a version before the migration named `first_missing` made
    /// it, for a test to fill before the current version opens it.
    async fn older_store(path: &std::path::Path, first_missing: &str) -> crate::db::Pool {
        let pool = crate::connect_sqlite(path, 1, 0).await.unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        let index = before.migrations.iter().position(|m| m.description == first_missing).unwrap();
        before.migrations = std::borrow::Cow::Owned(before.migrations[..index].to_vec());
        before.run(&pool).await.unwrap();
        pool
    }

    /// A log written before search texts had a table of their own keeps working: its texts
    /// move to `event_texts`, and an event that was pointed at another user after it was built
    /// (its text named the request's target) is found by its own target.
    #[tokio::test]
    async fn an_older_log_moves_its_texts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("older.db");
        let pool = older_store(&path, "event texts").await;
        for (target, search) in [("id-ann", Some("ann@x id-ann")), ("id-bob", Some("engineering id-grp")), ("", None)] {
            sqlx::query(
                "INSERT INTO events (time, method, path, operation, status, latency_ms, idp, target_id, target_name, search) \
                 VALUES ('2026-01-01T00:00:00Z', 'PATCH', '/scim/v2/Groups/id-grp', 'Remove from Group', 200, 1, 'Okta', \
                 NULLIF(?, ''), NULLIF(?, ''), ?)",
            )
            .bind(target)
            .bind(target.replace("id-", "") + "@x")
            .bind(search)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let p = Provisioning::open(&path, crate::Config::default()).await.unwrap();
        let p = &p;
        let found = |q: EventQuery| async move { p.query_events(&q).await.unwrap().events };
        let bob = found(EventQuery { target_id: Some("id-bob".into()), ..Default::default() }).await;
        assert_eq!(bob.len(), 1, "bob's event is in his history");
        assert_eq!(found(EventQuery { text: Some("BOB@".into()), ..Default::default() }).await.len(), 1);
        assert_eq!(found(EventQuery { text: Some("ann@x".into()), ..Default::default() }).await.len(), 1);
        assert_eq!(found(EventQuery { text: Some("engineering".into()), ..Default::default() }).await.len(), 1);
        assert_eq!(found(EventQuery::default()).await.len(), 3);
        let texts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_texts").fetch_one(&p.pool).await.unwrap();
        assert_eq!(texts, 2);
        p.close().await;
    }

    /// A log from before migration 0009 keeps its first authenticated request (taken from the
    /// log as the index that found it goes), and the "Failed" filter finds its failures
    /// through the failures' own index, as SQLite's plan shows.
    #[tokio::test]
    async fn an_older_log_keeps_its_first_authenticated_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("older.db");
        let pool = older_store(&path, "fewer event indexes").await;
        for (time, token, simulated, status) in [
            ("2026-01-01T00:00:00.000Z", None, 0, 401),
            ("2026-01-02T00:00:00.000Z", Some("t1"), 1, 200),
            ("2026-01-03T00:00:00.000Z", Some("t1"), 0, 409),
            ("2026-01-04T00:00:00.000Z", Some("t1"), 0, 200),
        ] {
            sqlx::query(
                "INSERT INTO events (time, method, path, operation, status, latency_ms, idp, token_id, simulated) \
                 VALUES (?, 'GET', '/scim/v2/Users', 'Lookup', ?, 1, 'Okta', ?, ?)",
            )
            .bind(time)
            .bind(status)
            .bind(token)
            .bind(simulated)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let p = Provisioning::open(&path, crate::Config::default()).await.unwrap();
        let status = p.status().await.unwrap();
        assert_eq!(status.first_authenticated_request.as_deref(), Some("2026-01-03T00:00:00.000Z"));
        let failed =
            p.query_events(&EventQuery { result: Some("failure".into()), ..Default::default() }).await.unwrap();
        let times: Vec<&str> = failed.events.iter().map(|e| e.time.as_str()).collect();
        assert_eq!(times, ["2026-01-03T00:00:00.000Z", "2026-01-01T00:00:00.000Z"]);
        let plan = list_plan(&p, &EventQuery { result: Some("failure".into()), ..Default::default() }).await;
        assert!(plan.iter().any(|d| d.contains("events_failed")), "{plan:?}");
        p.close().await;
    }

    /// SQLite's plan for the sync log's list statement, as `select_events` builds it for `q`.
    async fn list_plan(p: &Provisioning, q: &EventQuery) -> Vec<String> {
        let mut b = p.filtered_events("id", "1 = 1", q).await.unwrap();
        b.push(" ORDER BY id DESC LIMIT ").push_bind(200i64);
        let (sql, args) = b.build();
        let plan: Vec<(i64, i64, i64, String)> =
            bind_all(sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}")), &args).fetch_all(&p.pool).await.unwrap();
        plan.into_iter().map(|(.., d)| d).collect()
    }

    /// Free text when every trigram of the text is in thousands of texts: the likeliest rare
    /// ones narrow the search, and the results are still exactly the events that contain it.
    #[tokio::test]
    async fn free_text_when_no_trigram_is_rare() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::testing::open_store(dir.path(), crate::Config::default(), crate::Clock::system()).await.unwrap();
        let spec = crate::seed::SeedSpec { users: 6_000, groups: 0, group_members: 0, events: 6_000 };
        p.seed(&spec, |_, _| {}).await.unwrap();
        let found = |text: &str| {
            let q = EventQuery { text: Some(text.into()), limit: Some(1000), ..Default::default() };
            let p = &p;
            async move { p.query_events(&q).await.unwrap() }
        };
        // Every trigram of `@seed.example.com` is in all 6,000 texts: the likeliest rare ones
        // stand in, and the LIKE keeps exactly the events that hold it, page after page.
        let (mut seen, mut before_id) = (0, None);
        loop {
            let q = EventQuery {
                text: Some("@seed.example.com".into()),
                before_id,
                limit: Some(1000),
                ..Default::default()
            };
            let page = p.query_events(&q).await.unwrap();
            seen += page.events.len();
            before_id = page.events.last().map(|e| e.id);
            if !page.has_more {
                break;
            }
        }
        assert_eq!(seen, 6_000, "every seeded event, once");
        let one = found("user1234@seed.example.com").await;
        assert_eq!(one.events.len(), 1);
        assert_eq!(one.events[0].target_name.as_deref(), Some("user1234@seed.example.com"));
        assert!(found("user1234@seed.example.comx").await.events.is_empty());
        p.close().await;
    }

    /// SQLite: a text filter that matches few texts seeks their events bucket by bucket, even
    /// with another filter that has an index of its own; one that matches thousands reads the
    /// log newest first. Either way each page holds exactly the events that match, across the
    /// buckets' edges.
    #[tokio::test]
    async fn text_filters_seek_few_texts_and_read_the_log_for_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("talkwriter.db");
        let p = Provisioning::open(&path, crate::Config::default()).await.unwrap();
        // 10,000 events over three buckets; each user's events are 3,000 ids apart.
        let spec = crate::seed::SeedSpec { users: 3_000, groups: 0, group_members: 0, events: 10_000 };
        p.seed(&spec, |_, _| {}).await.unwrap();
        let text = |t: &str| EventQuery { text: Some(t.into()), limit: Some(1000), ..Default::default() };
        let seeks =
            |plan: &[String]| plan.iter().any(|d| d.starts_with("SEARCH events") && d.contains("events_search_bucket"));
        // What a page must hold: read without any index of the texts, newest first.
        let truth = |needle: &str, before: i64, after: i64, limit: i64| {
            let pool = p.pool.clone();
            let like = like_pattern(needle);
            async move {
                sqlx::query_scalar::<_, i64>(
                    "SELECT e.id FROM events e NOT INDEXED JOIN event_texts t ON t.id = e.search_id \
                     WHERE t.search LIKE ? ESCAPE '\\' AND e.id < ? AND e.id > ? ORDER BY e.id DESC LIMIT ?",
                )
                .bind(like)
                .bind(before)
                .bind(after)
                .bind(limit)
                .fetch_all(&pool)
                .await
                .unwrap()
            }
        };
        let ids = |page: EventPage| page.events.iter().map(|e| e.id).collect::<Vec<_>>();

        let user = "user1234@seed.example.com";
        let one = text(user);
        assert!(seeks(&list_plan(&p, &one).await), "{:?}", list_plan(&p, &one).await);
        let all_of_them = truth(user, i64::MAX, 0, 1000).await;
        assert!(all_of_them.len() >= 3, "{all_of_them:?}");
        assert!(all_of_them.first().unwrap() >> BUCKET_BITS > all_of_them.last().unwrap() >> BUCKET_BITS);
        assert_eq!(ids(p.query_events(&one).await.unwrap()), all_of_them);
        // Pages that start or stop at each of its events, and at the buckets' edges.
        let mut edges: Vec<i64> = all_of_them.iter().flat_map(|id| [*id, id + 1, id - 1]).collect();
        edges.extend([4095, 4096, 4097, 8191, 8192, 8193]);
        for edge in edges {
            let older = EventQuery { before_id: Some(edge), ..one.clone() };
            assert_eq!(ids(p.query_events(&older).await.unwrap()), truth(user, edge, 0, 1000).await, "before {edge}");
            let newer = EventQuery { after_id: Some(edge), ..one.clone() };
            assert_eq!(
                ids(p.query_events(&newer).await.unwrap()),
                truth(user, i64::MAX, edge, 1000).await,
                "after {edge}"
            );
        }
        let found = p.query_events(&one).await.unwrap().events;
        let target = found[0].target_id.clone().unwrap();
        // The user's history: their id names a few texts.
        let history = EventQuery { target_id: Some(target.clone()), ..Default::default() };
        assert!(seeks(&list_plan(&p, &history).await));
        assert_eq!(ids(p.query_events(&history).await.unwrap()), all_of_them);
        // With an operation, whose index SQLite would otherwise read from the newest.
        let operation = found[0].operation.clone();
        let both = EventQuery { operation: Some(operation.clone()), ..one.clone() };
        assert!(seeks(&list_plan(&p, &both).await), "{:?}", list_plan(&p, &both).await);
        let same: Vec<i64> = found.iter().filter(|e| e.operation == operation).map(|e| e.id).collect();
        assert_eq!(ids(p.query_events(&both).await.unwrap()), same);
        let other = EventQuery { operation: Some("Delete User".into()), ..one.clone() };
        assert!(operation != "Delete User" && p.query_events(&other).await.unwrap().events.is_empty());
        // Texts that match nothing, and pages beyond either end of the log.
        assert!(p.query_events(&text("nobody@nowhere.example")).await.unwrap().events.is_empty());
        let beyond = EventQuery { after_id: Some(i64::MAX), ..one.clone() };
        assert!(p.query_events(&beyond).await.unwrap().events.is_empty());
        let before_all = EventQuery { before_id: Some(i64::MIN), ..one.clone() };
        assert!(p.query_events(&before_all).await.unwrap().events.is_empty());

        // Every seeded text holds the domain: 3,000 texts are too many to seek.
        let domain = "@seed.example.com";
        let all = text(domain);
        assert!(!seeks(&list_plan(&p, &all).await), "{:?}", list_plan(&p, &all).await);
        let page = p.query_events(&all).await.unwrap();
        assert!(page.has_more);
        assert_eq!(ids(page), truth(domain, i64::MAX, 0, 1000).await);
        let deep = EventQuery { before_id: Some(4096), ..all.clone() };
        assert_eq!(ids(p.query_events(&deep).await.unwrap()), truth(domain, 4096, 0, 1000).await);
        // Both filters at once: the few texts are sought, the many checked on each event.
        let both = EventQuery { target_id: Some(target), ..all };
        assert!(seeks(&list_plan(&p, &both).await));
        assert_eq!(ids(p.query_events(&both).await.unwrap()), all_of_them);
        p.close().await;
    }

    /// SQLite: pruning drops the texts no event names any more, whether it seeks each one
    /// bucket by bucket (a few) or reads the whole bucket index (many), and keeps the others.
    #[tokio::test]
    async fn unnamed_texts_go_whichever_way_they_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provisioning::open(&dir.path().join("talkwriter.db"), crate::Config::default()).await.unwrap();
        let spec = crate::seed::SeedSpec { users: 300, groups: 0, group_members: 0, events: 10_000 };
        p.seed(&spec, |_, _| {}).await.unwrap();
        let texts: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM event_texts ORDER BY id").fetch_all(&p.pool).await.unwrap();
        assert!(texts.len() >= 300, "{}", texts.len());
        let left = || async {
            sqlx::query_scalar::<_, i64>("SELECT id FROM event_texts ORDER BY id").fetch_all(&p.pool).await.unwrap()
        };
        for (unnamed, candidates, budget) in [(0..100, 0..150, 0), (150..200, 150..300, BUCKET_SEEKS)] {
            let gone = serde_json::to_string(&texts[unnamed.clone()]).unwrap();
            sqlx::query("DELETE FROM events WHERE search_id IN (SELECT value FROM json_each(?))")
                .bind(gone)
                .execute(&p.pool)
                .await
                .unwrap();
            let mut tx = p.begin_write().await.unwrap();
            drop_unnamed_texts(&mut tx.conn(), &texts[candidates], budget).await.unwrap();
            tx.commit().await.unwrap();
            let now = left().await;
            assert!(texts[unnamed.clone()].iter().all(|t| !now.contains(t)), "the unnamed texts went");
            let named = texts.iter().filter(|t| !texts[..unnamed.end].contains(t) || texts[100..150].contains(t));
            assert!(named.clone().all(|t| now.contains(t)), "the named texts stay");
        }
        p.close().await;
    }

    #[test]
    fn likely_rare_trigrams_come_first() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(likely_rarest(&t(&["com", "000", "240", ".ex", "xam"]), 3), t(&["240", "xam", "000"]));
    }

    #[test]
    fn identifiers_a_lookup_asks_for() {
        let asked = |f: &str| filter_identifiers(&scim_protocol::parse_filter(f).unwrap());
        assert_eq!(asked(r#"userName eq "Ann@x.com""#), ["Ann@x.com"]);
        assert_eq!(asked(r#"externalId eq "E-1" or id eq "u-1""#), ["E-1", "u-1"]);
        assert_eq!(asked(r#"displayName eq "Sales""#), ["Sales"]);
        assert_eq!(asked(r#"emails[type eq "work" and value eq "a@x.com"]"#), ["a@x.com"]);
        assert_eq!(asked(r#"emails.value eq "b@x.com" and EMAILS eq "c@x.com""#), ["b@x.com", "c@x.com"]);
        assert_eq!(asked(r#"urn:scim:schemas:core:1.0:userName eq "d@x.com""#), ["d@x.com"]);
        for none in
            [r#"userName sw "a""#, r#"title eq "Lead""#, "active eq true", r#"not (userName eq "e@x")"#, "id pr"]
        {
            assert!(asked(none).is_empty(), "{none}");
        }
    }

    /// Passwords are redacted at any depth, including inside PATCH operations and extension keys.
    #[test]
    fn redaction() {
        let body = json!({"userName":"a","password":"p1","Operations":[{"op":"replace","value":{"password":"p2"}}],
                          "urn:x:password":"p3","nested":{"PASSWORD":"p4","keep":"k"}});
        let text = redact(&body).to_string();
        for secret in ["p1", "p2", "p3", "p4"] {
            assert!(!text.contains(&format!("\"{secret}\"")), "{secret} is redacted: {text}");
        }
        assert!(text.contains("\"keep\":\"k\"") && text.contains("\"userName\":\"a\""), "the rest is kept: {text}");
    }

    /// `holds_secret` says exactly when `redact` changes a body: a read's response that holds
    /// none is logged as sent, without redacting it again.
    #[test]
    fn holds_secret_is_what_redact_changes() {
        let bodies = [
            json!({"userName": "a", "emails": [{"value": "a@x.com"}], "name": {"givenName": "A"}}),
            json!({"userName": "a", "password": "p"}),
            json!({"nested": [{"deep": {"Password": "p"}}]}),
            json!({"urn:x:User": {"x.password": "p"}}),
            json!({"Operations": [{"op": "replace", "path": "password", "value": "p"}]}),
            json!({"Operations": [{"op": "replace", "path": "title", "value": "p"}]}),
            json!({"filter": "password eq \"p\""}),
            json!({"filter": "userName eq \"p\""}),
            json!([1, "password", {"k": null}]),
        ];
        for b in bodies {
            assert_eq!(holds_secret(&b), redact(&b) != b, "{b}");
        }
    }
}
