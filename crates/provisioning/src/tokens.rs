//! Bearer tokens: generated from the OS CSPRNG, shown once, stored only as a SHA-256 hash,
//! compared in constant time. Several may be live at once so an admin can rotate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::TryRngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::stamp;
use crate::events::{LogMsg, SyncEvent};
use crate::filter_sql::{SqlBind, binds};
use crate::read::FromRead;
use crate::settings::{PROVISIONING, PUBLIC_URL};
use crate::{Error, Provisioning, Result, WriteTx};

/// Every token starts with this, so secret scanners can recognise a leaked one.
pub const TOKEN_PREFIX: &str = "twscim_";
/// 32 bytes = 256 bits of entropy.
const TOKEN_BYTES: usize = 32;
/// How many characters of a token may be shown after it was created: the prefix and 4 more.
const SHOWN_CHARS: usize = TOKEN_PREFIX.len() + 4;
/// `last_used` is written at most this often per token, so reads stay reads.
const LAST_USED_RESOLUTION_SECS: i64 = 30;

/// When this process last asked for each token's `last_used` to be written: of the requests
/// that find it stale at the same moment, one asks.
#[derive(Clone, Default)]
pub(crate) struct UseMarks(Arc<Mutex<HashMap<String, DateTime<Utc>>>>);

impl UseMarks {
    /// Whether the caller is the one to record the token's use at `now`: once per
    /// [`LAST_USED_RESOLUTION_SECS`] per token.
    fn claim(&self, id: &str, now: DateTime<Utc>) -> bool {
        let mut marks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match marks.get(id) {
            Some(t) if now - *t < Duration::seconds(LAST_USED_RESOLUTION_SECS) => false,
            _ => {
                marks.insert(id.to_string(), now);
                true
            }
        }
    }
}

/// What may be shown about a token after its creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: String,
    pub label: String,
    /// The first characters, e.g. `twscim_9f3a`; the rest is never stored.
    pub prefix: String,
    pub created: String,
    pub last_used: Option<String>,
    pub expires: Option<String>,
    pub revoked: Option<String>,
    /// `active`, `expired` or `revoked`, as of the call.
    pub state: String,
}

/// A token just created: the only moment its secret exists outside the client.
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    pub token: String,
    pub info: TokenInfo,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("token", &"[redacted]").field("info", &self.info).finish()
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    label: String,
    prefix: String,
    hash: String,
    created: String,
    last_used: Option<String>,
    expires: Option<String>,
    revoked: Option<String>,
}

/// An [`AuthRow`] from either driver's row (`try_get` or `get`): `COLUMNS`, then the two
/// settings, in that order.
macro_rules! auth_row {
    ($r:expr, $get:ident) => {{
        let token = TokenRow {
            id: $r.$get(0)?,
            label: $r.$get(1)?,
            prefix: $r.$get(2)?,
            hash: $r.$get(3)?,
            created: $r.$get(4)?,
            last_used: $r.$get(5)?,
            expires: $r.$get(6)?,
            revoked: $r.$get(7)?,
        };
        Ok(AuthRow { token, provisioning: $r.$get(8)?, public_url: $r.$get(9)? })
    }};
}

impl FromRead for AuthRow {
    fn from_any(r: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        auth_row!(r, try_get)
    }
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        auth_row!(r, get)
    }
}

impl TokenRow {
    fn info(self, now: &str) -> TokenInfo {
        let state = if self.revoked.is_some() {
            "revoked"
        } else if self.expires.as_deref().is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        TokenInfo {
            id: self.id,
            label: self.label,
            prefix: self.prefix,
            created: self.created,
            last_used: self.last_used,
            expires: self.expires,
            revoked: self.revoked,
            state: state.into(),
        }
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn generate() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Io(std::io::Error::other(format!("the OS random source failed: {e}"))))?;
    Ok(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

const COLUMNS: &str = "id, label, prefix, hash, created, last_used, expires, revoked";

impl Provisioning {
    /// Creates a token. The returned secret is never stored and cannot be shown again.
    pub async fn create_token(&self, label: &str, expires: Option<DateTime<Utc>>) -> Result<NewToken> {
        let mut tx = self.begin_write().await?;
        let (new, created) = self.insert_token(&mut tx, label, expires).await?;
        self.commit_events(tx, vec![created]).await?;
        Ok(new)
    }

    /// Inserts a new token in the write `tx`; returns it and its audit event.
    async fn insert_token(
        &self,
        tx: &mut WriteTx,
        label: &str,
        expires: Option<DateTime<Utc>>,
    ) -> Result<(NewToken, SyncEvent)> {
        let label = label.trim();
        let label = if label.is_empty() { "SCIM token" } else { label };
        if label.chars().count() > 100 {
            return Err(Error::InvalidInput("a token label has at most 100 characters".into()));
        }
        let now = self.clock.now();
        if expires.is_some_and(|e| e <= now) {
            return Err(Error::InvalidInput("the expiry must be in the future".into()));
        }
        let token = generate()?;
        let row = TokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            label: label.to_string(),
            prefix: token[..SHOWN_CHARS].to_string(),
            hash: hash(&token),
            created: stamp(now),
            last_used: None,
            expires: expires.map(stamp),
            revoked: None,
        };
        tx.conn()
            .execute(
                "INSERT INTO tokens (id, label, prefix, hash, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
                &binds![&row.id, &row.label, &row.prefix, &row.hash, &row.created, &row.expires],
            )
            .await?;
        let created = self.admin_event("Token created", &format!("{} ({})", row.label, row.prefix));
        let info = row.info(&stamp(now));
        Ok((NewToken { token, info }, created))
    }

    /// All tokens, newest first.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let now = self.clock.stamp();
        let rows: Vec<TokenRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM tokens ORDER BY created DESC, id DESC"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|r| r.info(&now)).collect())
    }

    async fn token_row(&self, id: &str) -> Result<TokenRow> {
        sqlx::query_as(&self.backend.sql(&format!("SELECT {COLUMNS} FROM tokens WHERE id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no token has the id \"{id}\"")))
    }

    /// Revokes a token at once.
    pub async fn revoke_token(&self, id: &str) -> Result<TokenInfo> {
        let row = self.token_row(id).await?;
        let mut tx = self.begin_write().await?;
        let revoked = self.revoke_in(&mut tx, &row).await?;
        self.commit_events(tx, vec![revoked]).await?;
        self.token_row(id).await.map(|r| r.info(&self.clock.stamp()))
    }

    /// Revokes `row`'s token in the write `tx` (an earlier revocation stands); returns the audit event.
    async fn revoke_in(&self, tx: &mut WriteTx, row: &TokenRow) -> Result<SyncEvent> {
        tx.conn()
            .execute(
                "UPDATE tokens SET revoked = COALESCE(revoked, ?) WHERE id = ?",
                &binds![self.clock.stamp(), &row.id],
            )
            .await?;
        Ok(self.admin_event("Token revoked", &format!("{} ({})", row.label, row.prefix)))
    }

    /// Deletes a token the app minted for one test run, when the run is over. Nobody ever saw
    /// it, and a pile of dead run tokens would bury the admin's own in the list; the run's
    /// requests keep their place in the sync log, and the audit trail says it went.
    pub async fn remove_run_token(&self, id: &str) -> Result<()> {
        let row = self.token_row(id).await?;
        let mut tx = self.begin_write().await?;
        tx.conn().execute("DELETE FROM tokens WHERE id = ?", &binds![id]).await?;
        let removed = self.admin_event("Token removed", &format!("{} ({}), its run over", row.label, row.prefix));
        self.commit_events(tx, vec![removed]).await
    }

    /// Makes a new token with the same label (unless given), and lets the old one work for
    /// `grace_secs` more seconds (0 revokes it now), so the IdP can be updated without a gap.
    /// One transaction: the new token, the old one's end and their audit events, or nothing.
    pub async fn rotate_token(&self, id: &str, grace_secs: i64, label: Option<String>) -> Result<NewToken> {
        let old = self.token_row(id).await?;
        if old.revoked.is_some() {
            return Err(Error::InvalidInput("a revoked token cannot be rotated; generate a new one".into()));
        }
        if !(0..=30 * 24 * 3600).contains(&grace_secs) {
            return Err(Error::InvalidInput("the grace period is between 0 seconds and 30 days".into()));
        }
        let label = label.unwrap_or_else(|| old.label.clone());
        let expires = old.expires.as_deref().and_then(parse_time).filter(|e| *e > self.clock.now());
        let mut tx = self.begin_write().await?;
        let (new, created) = self.insert_token(&mut tx, &label, expires).await?;
        let mut audit = vec![created];
        if grace_secs == 0 {
            audit.push(self.revoke_in(&mut tx, &old).await?);
        } else {
            let until = stamp(self.clock.now() + Duration::seconds(grace_secs));
            tx.conn()
                .execute(
                    "UPDATE tokens SET expires = CASE WHEN expires IS NULL OR expires > ? THEN ? ELSE expires END WHERE id = ?",
                    &binds![&until, &until, id],
                )
                .await?;
        }
        audit.push(
            self.admin_event(
                "Token rotated",
                &format!("{} ({}) replaced by {}", old.label, old.prefix, new.info.prefix),
            ),
        );
        self.commit_events(tx, audit).await?;
        Ok(new)
    }

    /// Checks a presented bearer token. Unknown, revoked and expired tokens are refused alike.
    pub async fn verify_token(&self, presented: &str) -> Result<TokenInfo> {
        let Some(digest) = presentable(presented) else { return Err(refused()) };
        let row: Option<TokenRow> =
            sqlx::query_as(&self.backend.sql(&format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?")))
                .bind(&digest)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Err(refused()) };
        self.accept_token(row, &digest).await
    }

    /// What every SCIM request needs before it runs, in one query: the presented token (checked
    /// as [`Provisioning::verify_token`] does) and the two settings of
    /// [`Provisioning::request_settings`]. One round trip to the database instead of two, and
    /// nothing cached: a revocation or the switch turned off, by this process or another,
    /// applies to the very next request.
    pub async fn authorize_request(&self, presented: &str) -> Result<RequestAuth> {
        let Some(digest) = presentable(presented) else { return Err(refused()) };
        let mut reader = self.reader().await?;
        let row: Option<AuthRow> = reader
            .conn()
            .fetch_optional(
                &format!(
                    "SELECT {COLUMNS},
                            (SELECT value FROM settings WHERE key = '{PROVISIONING}') AS provisioning,
                            (SELECT value FROM settings WHERE key = '{PUBLIC_URL}') AS public_url
                       FROM tokens WHERE hash = ?"
                ),
                &[SqlBind::Text(digest.clone())],
            )
            .await?;
        drop(reader);
        let Some(row) = row else { return Err(refused()) };
        let token = self.accept_token(row.token, &digest).await?;
        Ok(RequestAuth {
            token,
            provisioning_enabled: row.provisioning.is_none_or(|v| v == "true"),
            public_url: row.public_url,
        })
    }

    /// The checks after the lookup by hash: constant-time comparison, state, and `last_used`.
    async fn accept_token(&self, row: TokenRow, digest: &str) -> Result<TokenInfo> {
        // The lookup is by hash, so its timing says nothing about the token; compare anyway.
        if !bool::from(row.hash.as_bytes().ct_eq(digest.as_bytes())) {
            return Err(refused());
        }
        let now = self.clock.now();
        let info = row.info(&stamp(now));
        if info.state != "active" {
            return Err(refused());
        }
        let stale = info
            .last_used
            .as_deref()
            .and_then(parse_time)
            .is_none_or(|t| now - t >= Duration::seconds(LAST_USED_RESOLUTION_SECS));
        if stale && self.token_use.claim(&info.id, now) {
            // Written with the next batch of sync-log events, in the log's write turn: the
            // request does not wait for a write, and the requests that find the time stale at
            // the same moment (every one in flight, under an IdP's load) do not each write it,
            // nor wait on the database's write lock behind the writers that hold it.
            // Dropped if the queue is full (see `Config::log_queue`): the next claim asks again.
            let _ = self.events.batch.try_send(LogMsg::TokenUsed { id: info.id.clone(), at: stamp(now) });
        }
        Ok(info)
    }

    /// Whether any token exists at all (the headless server prints one on its first start).
    pub async fn has_tokens(&self) -> Result<bool> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tokens").fetch_one(&self.pool).await? > 0)
    }
}

/// A token and the request settings, as [`Provisioning::authorize_request`] reads them.
#[derive(Debug, Clone)]
pub struct RequestAuth {
    pub token: TokenInfo,
    /// The provisioning switch: while off, every SCIM request is refused.
    pub provisioning_enabled: bool,
    /// The public SCIM base URL, if the admin set one.
    pub public_url: Option<String>,
}

struct AuthRow {
    token: TokenRow,
    provisioning: Option<String>,
    public_url: Option<String>,
}

fn refused() -> Error {
    Error::Scim(scim_protocol::ScimError::Unauthorized("the bearer token is missing, wrong, revoked or expired".into()))
}

/// The hash to look a presented token up by, or `None` when it cannot be one of ours.
fn presentable(presented: &str) -> Option<String> {
    (presented.starts_with(TOKEN_PREFIX) && presented.len() <= 256).then(|| hash(presented))
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::UseMarks;
    use crate::{Clock, Config, testing};

    /// A token is stored as the lower-case hex of its SHA-256, as earlier versions stored it:
    /// their tokens keep working.
    #[test]
    fn a_token_is_kept_as_its_sha256_in_lower_case_hex() {
        assert_eq!(super::hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    /// Of the requests that find a token's `last_used` stale, one per resolution records it.
    #[test]
    fn one_use_is_recorded_per_resolution() {
        let marks = UseMarks::default();
        let t0 = chrono::Utc::now();
        let later = |secs| t0 + chrono::Duration::seconds(secs);
        assert!(marks.claim("a", t0));
        assert!(!marks.claim("a", t0), "the same moment");
        assert!(!marks.claim("a", later(29)));
        assert!(marks.claim("b", later(29)), "each token on its own");
        assert!(marks.claim("a", later(30)));
        assert!(!marks.claim("a", later(31)));
    }

    /// A request whose token's `last_used` is stale neither waits for the database's write lock
    /// (held here by a write in progress, as under an IdP's load) nor fails; the time is
    /// written afterwards by the sync log's writer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stale_last_used_is_written_without_holding_up_requests() {
        let dir = tempfile::tempdir().unwrap();
        let p = testing::open_store(dir.path(), Config::default(), Clock::system()).await.unwrap();
        let new = p.create_token("Okta", None).await.unwrap();
        let held = p.begin_write().await.unwrap();
        let requests: Vec<_> = (0..16)
            .map(|_| {
                let (p, token) = (p.clone(), new.token.clone());
                tokio::spawn(async move { p.authorize_request(&token).await })
            })
            .collect();
        let answered = tokio::time::timeout(Duration::from_secs(5), async {
            for r in requests {
                r.await.unwrap().expect("authorised");
            }
        })
        .await;
        assert!(answered.is_ok(), "requests waited for the write in progress");
        assert_eq!(p.list_tokens().await.unwrap()[0].last_used, None, "not written during the held write");
        held.commit().await.unwrap();
        p.flush_log().await;
        let used = p.list_tokens().await.unwrap()[0].last_used.clone().expect("written after it");
        assert!(super::parse_time(&used).is_some(), "{used}");
        p.close().await;
    }

    /// A run token works during its run, and once removed it neither authorises nor lists;
    /// the admin's own token is untouched. On either store.
    #[tokio::test]
    async fn a_removed_run_token_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let p = testing::open_store(dir.path(), Config::default(), Clock::system()).await.unwrap();
        let admin = p.create_token("Okta", None).await.unwrap();
        let run = p.create_token("Test sync", Some(p.clock().now() + chrono::Duration::minutes(30))).await.unwrap();
        p.authorize_request(&run.token).await.unwrap();
        p.remove_run_token(&run.info.id).await.unwrap();
        assert!(p.authorize_request(&run.token).await.is_err(), "a removed token authorises nothing");
        let listed: Vec<String> = p.list_tokens().await.unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(listed, vec![admin.info.id.clone()], "only the admin's token is listed");
        p.authorize_request(&admin.token).await.unwrap();
        assert!(p.remove_run_token(&run.info.id).await.is_err(), "removing twice finds nothing");
    }
}
