//! Shared by the reliability and security tests: a token and a server on a fresh database, raw
//! requests, and a dump of the store to prove a request changed nothing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use e2e::{ScimServer, cli};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A fresh database with one token, and the real binary serving it.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub token: String,
    pub server: ScimServer,
    pub http: reqwest::Client,
}

/// Creates a token with the CLI in a new temp dir (no server yet).
pub fn new_db() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scim.db");
    let (ok, token, err) = cli(&["token", "create", "--db", db.to_str().unwrap()]);
    assert!(ok, "token create: {err}");
    // It closes the store before it exits: nothing of its write is cut off mid-commit.
    assert!(!err.contains("WARN") && !err.contains("ERROR"), "token create warned: {err}");
    (dir, db, token.trim().to_string())
}

impl Setup {
    pub fn start() -> Setup {
        let (dir, db, token) = new_db();
        let server = ScimServer::start(&db);
        Setup { dir, db, token, server, http: client() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/scim/v2{path}", self.server.base)
    }

    /// An authenticated JSON request; returns the status and the body (Null when empty).
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        send(&self.http, &self.server.base, &self.token, method, path, body).await
    }
}

/// A client with a generous pool, so parallel tests really run in parallel.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(128).timeout(Duration::from_secs(60)).build().unwrap()
}

pub async fn send(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = http.request(method, format!("{base}/scim/v2{path}")).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let res = req.send().await.expect("the server answers");
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

pub fn user(name: &str) -> Value {
    json!({"schemas": [USER], "userName": name, "name": {"givenName": "G", "familyName": "F"}, "active": true})
}

pub fn group(name: &str) -> Value {
    json!({"schemas": [GROUP], "displayName": name, "members": []})
}

pub fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// A read-only connection to the database file (WAL lets it read while the server writes).
pub async fn open_ro(db: &Path) -> SqliteConnection {
    let opts = SqliteConnectOptions::from_str("sqlite://").unwrap().filename(db).read_only(true);
    SqliteConnection::connect_with(&opts).await.expect("the database opens")
}

/// Every row of every table except the sync log, its search texts and their index (which legitimately grow),
/// `tokens.last_used` (written on use) and the checklist's first authenticated request (written as requests
/// are logged, earliest first: a read logged after a write can move it earlier), as text, plus the schema itself.
pub async fn dump_store(db: &Path) -> Vec<String> {
    let mut conn = open_ro(db).await;
    let mut out = vec![];
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index', 'trigger') AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (name, sql) in &tables {
        out.push(format!("schema {name}: {sql}"));
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'event%'
         AND name NOT IN ('_sqlx_migrations') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for t in names {
        let cols: Vec<String> = sqlx::query(&format!("PRAGMA table_info(\"{t}\")"))
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("name"))
            .filter(|c| !(t == "tokens" && c == "last_used"))
            .collect();
        let expr = cols.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
        let skip = if t == "settings" { " WHERE key <> 'first_authenticated_request'" } else { "" };
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT {expr} FROM \"{t}\"{skip} ORDER BY 1"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        out.extend(rows.into_iter().map(|r| format!("{t}: {r}")));
    }
    conn.close().await.unwrap();
    out
}

/// The highest sync-log id so far (0 when empty).
pub async fn max_event_id(db: &Path) -> i64 {
    let mut conn = open_ro(db).await;
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events").fetch_one(&mut conn).await.unwrap();
    id.unwrap_or(0)
}

/// Sync-log rows after `after_id`, as (method, path, operation, status), waiting until at least
/// `at_least` are there (reads and refusals are written in batches) or 10 s pass.
pub async fn events_after(db: &Path, after_id: i64, at_least: usize) -> Vec<(String, String, String, i64)> {
    let start = Instant::now();
    loop {
        let mut conn = open_ro(db).await;
        let rows: Vec<(String, String, String, i64)> =
            sqlx::query_as("SELECT method, path, operation, status FROM events WHERE id > ? ORDER BY id")
                .bind(after_id)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        conn.close().await.unwrap();
        if rows.len() >= at_least || start.elapsed() > Duration::from_secs(10) {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `PRAGMA integrity_check` on the file.
pub async fn integrity(db: &Path) -> String {
    let mut conn = open_ro(db).await;
    let r: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    r
}

/// A single value from a query on the file.
pub async fn scalar_i64(db: &Path, sql: &str) -> i64 {
    let mut conn = open_ro(db).await;
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    v
}
