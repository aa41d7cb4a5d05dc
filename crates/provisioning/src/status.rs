//! What the Security → SCIM screen shows at a glance: the status header, the setup checklist's
//! facts, and the attribute mapping with live examples.

use serde::Serialize;
use serde_json::Value;

use scim_protocol::schema::ENTERPRISE_USER_SCHEMA;

use crate::{Provisioning, Result, SyncEvent};

/// The status header and checklist facts.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub provisioning_enabled: bool,
    pub users: i64,
    pub active_users: i64,
    pub groups: i64,
    pub active_tokens: i64,
    /// The newest IdP request (admin actions excluded).
    pub last_request: Option<SyncEvent>,
    pub requests_last_hour: i64,
    pub errors_last_hour: i64,
    /// When the first request with a valid token arrived.
    pub first_authenticated_request: Option<String>,
    pub first_user: Option<String>,
    pub first_group: Option<String>,
}

/// One row of the attribute mapping.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct MappingRow {
    pub scim_attribute: String,
    pub field: String,
    pub required: bool,
    /// The value on the most recently synced user.
    pub example: Option<String>,
    /// When an IdP request last carried this attribute (among recent requests).
    pub last_seen: Option<String>,
}

/// The mapping the help page promises: SCIM attribute, TalkWriter field, required, and where
/// the value sits in a stored user, and the key that shows it in a request body.
const MAPPING: &[(&str, &str, bool, &[&str], &str)] = &[
    ("userName", "Email address", true, &["userName"], "userName"),
    ("name.givenName", "First name", false, &["name", "givenName"], "givenName"),
    ("name.familyName", "Last name", false, &["name", "familyName"], "familyName"),
    ("active", "Account status", false, &["active"], "active"),
    ("displayName", "Display name", false, &["displayName"], "displayName"),
    ("title", "Job title", false, &["title"], "title"),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "Department",
        false,
        &[ENTERPRISE_USER_SCHEMA, "department"],
        "department",
    ),
];

/// How many recent user writes are searched for "seen".
const SEEN_WINDOW: i64 = 500;
/// How far back in the log they are looked for: a log of reads and group pushes alone is not
/// read to its beginning each time the mapping is shown.
const SEEN_SCAN: i64 = 100_000;

impl Provisioning {
    pub async fn status(&self) -> Result<Status> {
        let mut conn = self.pool.acquire().await?;
        let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
        let users = count("SELECT COUNT(*) FROM users").fetch_one(&mut *conn).await?;
        let active_users = count("SELECT COUNT(*) FROM users WHERE active = 1").fetch_one(&mut *conn).await?;
        let groups = count("SELECT COUNT(*) FROM groups").fetch_one(&mut *conn).await?;
        let now = self.clock.stamp();
        let active_tokens = sqlx::query_scalar::<_, i64>(
            &self.backend.sql("SELECT COUNT(*) FROM tokens WHERE revoked IS NULL AND (expires IS NULL OR expires > ?)"),
        )
        .bind(&now)
        .fetch_one(&mut *conn)
        .await?;
        let last_request: Option<SyncEvent> = sqlx::query_as(&format!(
            "SELECT {} FROM events WHERE method <> 'ADMIN' AND operation NOT LIKE 'Access %' AND simulated = 0 ORDER BY id DESC LIMIT 1",
            crate::events::event_columns(self.backend)
        ))
        .fetch_optional(&mut *conn)
        .await?;
        let hour_ago = crate::stamp(self.clock.now() - chrono::Duration::hours(1));
        // The sum is cast: PostgreSQL's SUM of integers is NUMERIC.
        let (requests_last_hour, errors_last_hour): (i64, i64) = sqlx::query_as(&self.backend.sql(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) FROM events
             WHERE time >= ? AND method <> 'ADMIN' AND operation NOT LIKE 'Access %' AND simulated = 0",
        ))
        .bind(&hour_ago)
        .fetch_one(&mut *conn)
        .await?;
        let first_authenticated_request = crate::settings::setting_in(
            &mut crate::read::SqlConn::Any(&mut conn),
            crate::settings::FIRST_AUTHENTICATED,
        )
        .await?;
        let first_user: Option<String> =
            sqlx::query_scalar("SELECT MIN(created) FROM users").fetch_one(&mut *conn).await?;
        let first_group: Option<String> =
            sqlx::query_scalar("SELECT MIN(created) FROM groups").fetch_one(&mut *conn).await?;
        drop(conn);
        Ok(Status {
            provisioning_enabled: self.provisioning_enabled().await?,
            users,
            active_users,
            groups,
            active_tokens,
            last_request,
            requests_last_hour,
            errors_last_hour,
            first_authenticated_request,
            first_user,
            first_group,
        })
    }

    /// The attribute mapping with an example from the most recently synced user, and when
    /// each attribute was last sent by the IdP.
    pub async fn mapping(&self) -> Result<Vec<MappingRow>> {
        let latest: Option<String> =
            sqlx::query_scalar("SELECT data FROM users ORDER BY last_modified DESC, id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        let latest: Value = latest.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or(Value::Null);
        let recent: Vec<(String, String)> = sqlx::query_as(&self.backend.sql(
            "SELECT time, request_body FROM events WHERE id > (SELECT COALESCE(MAX(id), 0) FROM events) - ?
             AND resource_type = 'User' AND method IN ('POST', 'PUT', 'PATCH')
             AND status < 400 AND request_body IS NOT NULL ORDER BY id DESC LIMIT ?",
        ))
        .bind(SEEN_SCAN)
        .bind(SEEN_WINDOW)
        .fetch_all(&self.pool)
        .await?;
        Ok(MAPPING
            .iter()
            .map(|(attr, field, required, path, key)| {
                let example = path.iter().try_fold(&latest, |v, k| v.get(*k)).and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                });
                let needle = format!("\"{key}\"");
                let path_needle = format!(".{key}\"");
                let last_seen = recent
                    .iter()
                    .find(|(_, body)| {
                        body.contains(&needle) || body.contains(&path_needle) || body.contains(&format!(":{key}\""))
                    })
                    .map(|(t, _)| t.clone());
                MappingRow {
                    scim_attribute: attr.to_string(),
                    field: field.to_string(),
                    required: *required,
                    example,
                    last_seen,
                }
            })
            .collect())
    }
}
