//! Settings kept in the database: the provisioning switch and the public endpoint URL.

use crate::filter_sql::binds;
use crate::read::SqlConn;
use crate::{Error, Provisioning, Result, WriteTx};

pub(crate) const PROVISIONING: &str = "provisioning_enabled";
pub(crate) const PUBLIC_URL: &str = "public_url";
/// When the first request that carried a token was made (not a test sync's): the setup
/// checklist's "first authenticated request". Kept by the write that logs such a request
/// (`events::insert_events`), the earliest one written; pruning the log does not undo it.
pub(crate) const FIRST_AUTHENTICATED: &str = "first_authenticated_request";

impl Provisioning {
    async fn setting(&self, key: &str) -> Result<Option<String>> {
        setting_in(&mut SqlConn::Any(&mut *self.pool.acquire().await?), key).await
    }

    /// Sets (or, with `None`, removes) a setting in the write `tx`.
    pub(crate) async fn put_setting(&self, tx: &mut WriteTx, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => {
                tx.conn()
                    .execute(
                        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        &binds![key, v],
                    )
                    .await?;
            }
            None => {
                tx.conn().execute("DELETE FROM settings WHERE key = ?", &binds![key]).await?;
            }
        }
        Ok(())
    }

    /// Sets a setting and, if `changes` says the value it had means something else, records the
    /// admin action: in one write, so the change and its audit event stand or fall together.
    async fn change_setting(
        &self,
        key: &str,
        value: Option<&str>,
        changes: impl FnOnce(Option<&str>) -> bool,
        audit: (&str, &str),
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let was = setting_in(&mut tx.conn(), key).await?;
        if was.as_deref() != value {
            self.put_setting(&mut tx, key, value).await?;
        }
        if changes(was.as_deref()) {
            self.commit_events(tx, vec![self.admin_event(audit.0, audit.1)]).await
        } else {
            tx.commit().await
        }
    }

    /// Whether SCIM provisioning is on. A database where it was never set is on: running a
    /// headless server is itself the decision to provision. The desktop app sets it off on
    /// its first start (`init_provisioning_enabled(false)`), so the admin turns it on.
    ///
    /// Read from the database on every request, so a switch made by another process (the CLI,
    /// another instance) takes effect at once.
    pub async fn provisioning_enabled(&self) -> Result<bool> {
        Ok(self.setting(PROVISIONING).await?.is_none_or(|v| v == "true"))
    }

    /// Turns provisioning on or off. While off, every SCIM request is refused.
    pub async fn set_provisioning_enabled(&self, on: bool) -> Result<()> {
        let audit = if on {
            ("Provisioning Turned On", "SCIM provisioning was turned on: IdP requests are accepted")
        } else {
            ("Provisioning Turned Off", "SCIM provisioning was turned off: every SCIM request is refused")
        };
        // Stored even when it changes nothing (never set reads as on), so that
        // `init_provisioning_enabled` finds it set.
        let was_on = |was: Option<&str>| was.is_none_or(|v| v == "true");
        self.change_setting(PROVISIONING, Some(if on { "true" } else { "false" }), |was| was_on(was) != on, audit).await
    }

    /// Sets the switch only if it was never set.
    pub async fn init_provisioning_enabled(&self, default: bool) -> Result<()> {
        sqlx::query(&self.backend.sql("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"))
            .bind(PROVISIONING)
            .bind(if default { "true" } else { "false" })
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The public SCIM base URL the IdP uses (a tunnel or a deployed server), if the admin set one.
    pub async fn public_url(&self) -> Result<Option<String>> {
        self.setting(PUBLIC_URL).await
    }

    /// Sets or clears the public URL. It must be an absolute http(s) URL; a trailing `/` is dropped.
    pub async fn set_public_url(&self, url: Option<String>) -> Result<()> {
        let url = url.map(|u| u.trim().trim_end_matches('/').to_string()).filter(|u| !u.is_empty());
        if let Some(u) = &url {
            let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
            let host = rest.map(|r| r.split('/').next().unwrap_or(""));
            if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
                return Err(Error::InvalidInput(format!(
                    "\"{u}\" is not a public URL: use an absolute http:// or https:// address, e.g. https://scim.example.com/scim/v2"
                )));
            }
        }
        let detail = match &url {
            Some(u) => format!("Public SCIM URL set to {u}"),
            None => "Public SCIM URL cleared; the local URL is shown".to_string(),
        };
        let value = url.as_deref();
        self.change_setting(PUBLIC_URL, value, |was| was != value, ("Settings Changed", &detail)).await?;
        Ok(())
    }
}

/// A setting's value, on the pool or inside a write.
pub(crate) async fn setting_in(conn: &mut SqlConn<'_>, key: &str) -> Result<Option<String>> {
    conn.fetch_optional("SELECT value FROM settings WHERE key = ?", &binds![key]).await
}

impl Provisioning {
    /// The two settings every SCIM request needs, read in one query: the switch and the public URL.
    pub async fn request_settings(&self) -> Result<(bool, Option<String>)> {
        let rows: Vec<(String, String)> =
            sqlx::query_as(&self.backend.sql("SELECT key, value FROM settings WHERE key IN (?, ?)"))
                .bind(PROVISIONING)
                .bind(PUBLIC_URL)
                .fetch_all(&self.pool)
                .await?;
        let get = |k: &str| rows.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        Ok((get(PROVISIONING).is_none_or(|v| v == "true"), get(PUBLIC_URL)))
    }

    /// Checks the database answers (for `/health`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
