//! Who has TalkWriter access, and why. The engine decides, never the UI:
//! - the default rule: every active provisioned user has access;
//! - the optional rule "groups": only members of the granting groups have access;
//! - deactivation (`active=false`) or an admin's emergency suspension suspends at once;
//! - removal from a granting group revokes access unless another granting group still grants it.
//!
//! Every change of a user's access is itself a sync-log event, written in the same
//! transaction as the change that caused it ("Access revoked: removed from Engineering").

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::filter_sql::binds;
use crate::read::{FromRead, SqlConn};
use crate::{Error, Provisioning, Result};

/// A user's access and its reason, in the admin's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Access {
    pub granted: bool,
    /// `has_access`, `suspended` or `no_access`.
    pub state: String,
    pub reason: String,
}

/// The access rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct AccessRule {
    /// `all`: every active user; `groups`: only members of `granting_groups`.
    pub mode: String,
    pub granting_groups: Vec<String>,
}

const RULE_KEY: &str = "access_rule";

/// The SQL condition for "has access", over `users u`; bind the rule mode once.
pub(crate) const HAS_ACCESS_SQL: &str = "(u.active = 1 AND u.admin_suspended IS NULL AND (? = 'all' OR EXISTS (
    SELECT 1 FROM group_members m JOIN granting_groups gg ON gg.group_id = m.group_id WHERE m.member_id = u.id)))";

/// The access state as SQL text (`has_access`, `suspended`, `no_access`) over `users u`; bind the rule mode once.
pub(crate) const ACCESS_STATE_SQL: &str = "CASE WHEN u.active = 0 OR u.admin_suspended IS NOT NULL THEN 'suspended'
    WHEN ? = 'all' OR EXISTS (SELECT 1 FROM group_members m JOIN granting_groups gg ON gg.group_id = m.group_id
        WHERE m.member_id = u.id) THEN 'has_access' ELSE 'no_access' END";

pub(crate) async fn rule_mode(conn: &mut SqlConn<'_>) -> Result<String> {
    let v: Option<String> = conn.fetch_optional("SELECT value FROM settings WHERE key = ?", &binds![RULE_KEY]).await?;
    Ok(v.filter(|m| m == "groups").unwrap_or_else(|| "all".into()))
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    user_name: String,
    #[sqlx(try_from = "crate::db::Flag")]
    active: bool,
    admin_suspended: Option<String>,
    admin_suspended_reason: Option<String>,
    granting: Option<String>,
}

/// Names joined for a sentence: "A", "A and B", "A, B and C".
fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn access_from(row: &AccessRow, mode: &str) -> Access {
    access_from_parts(
        row.active,
        row.admin_suspended.is_some(),
        row.admin_suspended_reason.as_deref(),
        row.granting.as_deref(),
        mode,
    )
}

/// Access from a user's state: `granting` is the names of the granting groups they belong to,
/// joined by U+001F.
pub(crate) fn access_from_parts(
    active: bool,
    admin_suspended: bool,
    admin_suspended_reason: Option<&str>,
    granting: Option<&str>,
    mode: &str,
) -> Access {
    if admin_suspended {
        let why = admin_suspended_reason.filter(|r| !r.is_empty()).unwrap_or("no reason given");
        return Access { granted: false, state: "suspended".into(), reason: format!("Suspended by an admin: {why}") };
    }
    if !active {
        return Access {
            granted: false,
            state: "suspended".into(),
            reason: "Suspended: deactivated in the identity provider".into(),
        };
    }
    if mode == "all" {
        return Access {
            granted: true,
            state: "has_access".into(),
            reason: "Active; every active provisioned user has access".into(),
        };
    }
    let mut groups: Vec<&str> = granting.map(|g| g.split('\u{1f}').collect()).unwrap_or_default();
    groups.sort_unstable();
    match groups.len() {
        0 => Access {
            granted: false,
            state: "no_access".into(),
            reason: "No access: not a member of a group that grants access".into(),
        },
        1 => Access {
            granted: true,
            state: "has_access".into(),
            reason: format!("Active; member of {}, which grants access", groups[0]),
        },
        _ => Access {
            granted: true,
            state: "has_access".into(),
            reason: format!("Active; member of {}, which grant access", join_names(&groups)),
        },
    }
}

/// The access of one user with their userName, or `None` if there is no such user.
pub(crate) async fn access_of(conn: &mut SqlConn<'_>, user_id: &str) -> Result<Option<(String, Access)>> {
    // The rule is read in the same statement: this runs twice per user write, inside the
    // write turn.
    let backend = conn.backend();
    let row: Option<ModeAndAccess> = conn
        .fetch_optional(
            &"SELECT u.user_name, u.active, u.admin_suspended, u.admin_suspended_reason,
                (SELECT GROUP_NAMES FROM group_members m
                   JOIN granting_groups gg ON gg.group_id = m.group_id JOIN groups g ON g.id = m.group_id
                  WHERE m.member_id = u.id) AS granting,
                (SELECT value FROM settings WHERE key = ?) AS mode
           FROM users u WHERE u.id = ?"
                .replace("GROUP_NAMES", backend.group_names()),
            &binds![RULE_KEY, user_id],
        )
        .await?;
    Ok(row.map(|r| {
        // As `rule_mode` reads it: anything but "groups" is "all".
        let mode = if r.mode.as_deref() == Some("groups") { "groups" } else { "all" };
        (r.row.user_name.clone(), access_from(&r.row, mode))
    }))
}

struct ModeAndAccess {
    row: AccessRow,
    mode: Option<String>,
}

impl FromRead for ModeAndAccess {
    fn from_any(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::{FromRow, Row};
        Ok(ModeAndAccess { row: AccessRow::from_row(row)?, mode: row.try_get("mode")? })
    }
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(ModeAndAccess {
            row: AccessRow {
                user_name: row.get("user_name")?,
                active: row.get::<_, i64>("active")? != 0,
                admin_suspended: row.get("admin_suspended")?,
                admin_suspended_reason: row.get("admin_suspended_reason")?,
                granting: row.get("granting")?,
            },
            mode: row.get("mode")?,
        })
    }
}

/// Access of a set of users before a change, to compare with after.
pub(crate) struct Snapshot(pub(crate) HashMap<String, Option<(String, Access)>>);

/// Why access may have changed, for the event's words.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cause<'a> {
    /// A SCIM write to the user itself (create, update, deactivate, reactivate, delete).
    UserWrite,
    /// Membership of this group changed.
    Membership(&'a str),
    /// This group was deleted.
    GroupDeleted(&'a str),
    /// An admin in TalkWriter Admin.
    Admin,
}

impl Snapshot {
    pub async fn take(conn: &mut SqlConn<'_>, ids: impl IntoIterator<Item = String>) -> Result<Snapshot> {
        let mut map = HashMap::new();
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(slot) = map.entry(id) {
                let a = access_of(conn, slot.key()).await?;
                slot.insert(a);
            }
        }
        Ok(Snapshot(map))
    }

    /// The access changes since the snapshot: (user id, userName, operation, detail).
    pub async fn changes(
        self,
        conn: &mut SqlConn<'_>,
        cause: Cause<'_>,
        idp: &str,
    ) -> Result<Vec<(String, String, &'static str, String)>> {
        let mut out = vec![];
        let mut ids: Vec<_> = self.0.into_iter().collect();
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, before) in ids {
            let after = access_of(conn, &id).await?;
            let had = before.as_ref().is_some_and(|(_, a)| a.granted);
            let has = after.as_ref().is_some_and(|(_, a)| a.granted);
            let name = after.as_ref().or(before.as_ref()).map(|(n, _)| n.clone()).unwrap_or_default();
            let by = if idp == "Other" { "the identity provider".to_string() } else { idp.to_string() };
            let change = match (had, has, &after, cause) {
                (true, false, None, _) => Some(("Access Removed", format!("Access removed: account deleted by {by}"))),
                (true, false, Some((_, a)), Cause::Admin) if a.state == "suspended" => {
                    Some(("Access Suspended", format!("Access suspended: {}", lower_first(&a.reason))))
                }
                (true, false, Some((_, a)), _) if a.state == "suspended" => {
                    Some(("Access Suspended", format!("Access suspended: deactivated by {by}")))
                }
                (true, false, Some(_), Cause::Membership(g)) => {
                    Some(("Access Revoked", format!("Access revoked: removed from {g}")))
                }
                (true, false, Some(_), Cause::GroupDeleted(g)) => {
                    Some(("Access Revoked", format!("Access revoked: group {g} was deleted")))
                }
                (true, false, Some((_, a)), _) => {
                    Some(("Access Revoked", format!("Access revoked: {}", lower_first(&a.reason))))
                }
                (false, true, Some(_), Cause::Membership(g)) => {
                    Some(("Access Granted", format!("Access granted: added to {g}")))
                }
                (false, true, Some(_), Cause::UserWrite) if before.is_none() => {
                    Some(("Access Granted", format!("Access granted: provisioned by {by}")))
                }
                (false, true, Some(_), Cause::UserWrite) => {
                    Some(("Access Granted", format!("Access restored: reactivated by {by}")))
                }
                (false, true, Some((_, a)), _) => {
                    Some(("Access Granted", format!("Access granted: {}", lower_first(&a.reason))))
                }
                _ => None,
            };
            if let Some((op, detail)) = change {
                out.push((id, name, op, detail));
            }
        }
        Ok(out)
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The users who have access now.
async fn granted_ids(conn: &mut SqlConn<'_>) -> Result<std::collections::BTreeSet<String>> {
    let mode = rule_mode(conn).await?;
    let sql = format!("SELECT u.id FROM users u WHERE {HAS_ACCESS_SQL}");
    let ids: Vec<String> = conn.fetch_all(&sql, &binds![mode]).await?;
    Ok(ids.into_iter().collect())
}

impl Provisioning {
    /// The current access rule.
    pub async fn access_rule(&self) -> Result<AccessRule> {
        let mut pooled = self.pool.acquire().await?;
        let mut conn = SqlConn::Any(&mut pooled);
        let mode = rule_mode(&mut conn).await?;
        let granting_groups = conn.fetch_all("SELECT group_id FROM granting_groups ORDER BY group_id", &[]).await?;
        Ok(AccessRule { mode, granting_groups })
    }

    /// The access of one user (`None` if there is no such user).
    pub async fn user_access(&self, user_id: &str) -> Result<Option<Access>> {
        let mut pooled = self.pool.acquire().await?;
        Ok(access_of(&mut SqlConn::Any(&mut pooled), user_id).await?.map(|(_, a)| a))
    }

    /// Sets the access rule. Every user whose access changes gets an event, in one transaction.
    pub async fn set_access_rule(&self, rule: &AccessRule) -> Result<usize> {
        if rule.mode != "all" && rule.mode != "groups" {
            return Err(Error::InvalidInput(format!(
                "the access rule is \"all\" or \"groups\", not \"{}\"",
                rule.mode
            )));
        }
        let mut tx = self.begin_write().await?;
        for g in &rule.granting_groups {
            let exists: Option<i64> = tx.conn().fetch_optional("SELECT 1 FROM groups WHERE id = ?", &binds![g]).await?;
            if exists.is_none() {
                return Err(Error::NotFound(format!("no group has the id \"{g}\"")));
            }
        }
        let before = granted_ids(&mut tx.conn()).await?;
        self.put_setting(&mut tx, RULE_KEY, Some(&rule.mode)).await?;
        tx.conn().execute("DELETE FROM granting_groups", &[]).await?;
        for g in &rule.granting_groups {
            tx.conn()
                .execute("INSERT INTO granting_groups (group_id) VALUES (?) ON CONFLICT DO NOTHING", &binds![g])
                .await?;
        }
        let after = granted_ids(&mut tx.conn()).await?;
        let changed: Vec<String> = before.symmetric_difference(&after).cloned().collect();
        let names: Vec<String> = if rule.granting_groups.is_empty() {
            vec![]
        } else {
            let sql = format!(
                "SELECT display_name FROM groups WHERE id IN {} ORDER BY display_name_key",
                self.backend.json_strings()
            );
            tx.conn().fetch_all(&sql, &binds![serde_json::to_string(&rule.granting_groups).unwrap_or_default()]).await?
        };
        let summary = match rule.mode.as_str() {
            "all" => "Access rule: every active provisioned user has access".to_string(),
            _ if names.is_empty() => "Access rule: only members of selected groups (none selected yet)".to_string(),
            _ => format!(
                "Access rule: only members of {} have access",
                join_names(&names.iter().map(String::as_str).collect::<Vec<_>>())
            ),
        };
        let mut events =
            vec![self.admin_event("Access Rule Changed", &format!("{summary}; {} user(s) affected", changed.len()))];
        for id in &changed {
            let Some((name, access)) = access_of(&mut tx.conn(), id).await? else { continue };
            let (op, detail) = if after.contains(id) {
                ("Access Granted", format!("Access granted: {}", lower_first(&access.reason)))
            } else {
                ("Access Revoked", format!("Access revoked: {}", lower_first(&access.reason)))
            };
            events.push(self.admin_event(op, &detail).retarget("User", id.clone(), name));
        }
        self.commit_events(tx, events).await?;
        Ok(changed.len())
    }

    /// How many users' access `set_access_rule(rule)` would change, without changing anything:
    /// the admin sees the number before confirming.
    pub async fn preview_access_rule(&self, rule: &AccessRule) -> Result<usize> {
        let mut pooled = self.pool.acquire().await?;
        let mut conn = SqlConn::Any(&mut pooled);
        let before = granted_ids(&mut conn).await?;
        let groups = serde_json::to_string(&rule.granting_groups).unwrap_or_default();
        let after: Vec<String> = conn
            .fetch_all(
                &"SELECT u.id FROM users u WHERE u.active = 1 AND u.admin_suspended IS NULL AND (? = 'all' OR EXISTS (
                SELECT 1 FROM group_members m WHERE m.member_id = u.id
                AND m.group_id IN JSON_STRINGS))"
                    .replace("JSON_STRINGS", self.backend.json_strings()),
                &binds![&rule.mode, groups],
            )
            .await?;
        let after: std::collections::BTreeSet<String> = after.into_iter().collect();
        Ok(before.symmetric_difference(&after).count())
    }

    /// An admin's emergency suspension (or its lifting, with `suspend = false`). The IdP's data is
    /// untouched; the suspension is recorded in the audit trail and shown as such.
    pub async fn set_admin_suspension(&self, user_id: &str, suspend: bool, reason: &str) -> Result<Access> {
        let mut tx = self.begin_write().await?;
        let snapshot = Snapshot::take(&mut tx.conn(), [user_id.to_string()]).await?;
        let Some((name, _)) = access_of(&mut tx.conn(), user_id).await? else {
            return Err(Error::NotFound(format!("no user has the id \"{user_id}\"")));
        };
        let now = self.clock.stamp();
        tx.conn()
            .execute(
                "UPDATE users SET admin_suspended = ?, admin_suspended_reason = ? WHERE id = ?",
                &binds![suspend.then_some(&now), suspend.then(|| reason.trim().to_string()), user_id],
            )
            .await?;
        let op = if suspend { "User Suspended by Admin" } else { "Admin Suspension Lifted" };
        let main = self
            .admin_event(op, &format!("{name}: {}", if reason.is_empty() { "no reason given" } else { reason }))
            .retarget("User", user_id.into(), name.clone());
        let mut events = vec![main];
        for (id, uname, op, detail) in snapshot.changes(&mut tx.conn(), Cause::Admin, "TalkWriter Admin").await? {
            events.push(self.admin_event(op, &detail).retarget("User", id, uname));
        }
        let access = access_of(&mut tx.conn(), user_id).await?.map(|(_, a)| a);
        self.commit_events(tx, events).await?;
        access.ok_or_else(|| Error::NotFound(format!("no user has the id \"{user_id}\"")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(active: bool, suspended: bool, granting: Option<&str>) -> AccessRow {
        AccessRow {
            user_name: "a@x".into(),
            active,
            admin_suspended: suspended.then(|| "2026-01-01T00:00:00.000Z".into()),
            admin_suspended_reason: suspended.then(|| "lost laptop".into()),
            granting: granting.map(str::to_string),
        }
    }

    /// The access table: state and reason for each combination the engine distinguishes.
    #[test]
    fn access_rules() {
        let cases = [
            (row(true, false, None), "all", true, "Active; every active provisioned user has access"),
            (row(false, false, None), "all", false, "Suspended: deactivated in the identity provider"),
            (row(true, true, None), "all", false, "Suspended by an admin: lost laptop"),
            (row(true, false, None), "groups", false, "No access: not a member of a group that grants access"),
            (
                row(true, false, Some("Engineering")),
                "groups",
                true,
                "Active; member of Engineering, which grants access",
            ),
            (
                row(true, false, Some("Sales\u{1f}Engineering\u{1f}Ops")),
                "groups",
                true,
                "Active; member of Engineering, Ops and Sales, which grant access",
            ),
            (
                row(false, false, Some("Engineering")),
                "groups",
                false,
                "Suspended: deactivated in the identity provider",
            ),
        ];
        for (r, mode, granted, reason) in cases {
            let a = access_from(&r, mode);
            assert_eq!((a.granted, a.reason.as_str()), (granted, reason));
        }
    }
}
