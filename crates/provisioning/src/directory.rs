//! The directory as the admin sees it: users and groups with their access, searched, filtered,
//! sorted and paged in SQL so 100,000 users stay smooth, and each one's detail and history.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::{self, Access};
use crate::events::SyncEvent;
use crate::read::SqlConn;
use crate::{Provisioning, Result};

/// Search, filter, sort and page for the directory views.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase", default)]
pub struct DirectoryQuery {
    /// Matches userName, display name, email or name (contains), or an id or externalId (exact).
    pub text: Option<String>,
    /// `has_access`, `suspended` or `no_access` (users only).
    pub access: Option<String>,
    /// `name` (userName or group displayName), `created` or `lastModified`.
    pub sort: Option<String>,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// A page of results and how many match in all.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DirectoryPage<T> {
    pub total: i64,
    pub items: Vec<T>,
}

/// A user as the directory lists them: the mapped fields and their access.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub active: bool,
    pub created: String,
    pub last_modified: String,
    pub admin_suspended: Option<String>,
    pub access: Access,
}

/// A group as the directory lists it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct DirectoryGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: i64,
    pub grants_access: bool,
    pub created: String,
    pub last_modified: String,
}

/// One user's detail.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct UserDetail {
    pub user: DirectoryUser,
    /// The SCIM resource as an IdP reads it.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub resource: Value,
    pub groups: Vec<DirectoryGroup>,
    /// The user's sync-log events, newest first, without the lookups that found it.
    pub history: Vec<SyncEvent>,
    pub lookups: Lookups,
}

/// The IdPs' lookups that found one user or group, which its history counts rather than lists:
/// an IdP looks every user up at each sync cycle (Entra every 40 minutes), and listed, those
/// would push the user's changes out of the history within a day.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Lookups {
    pub count: i64,
    /// The newest.
    pub last: Option<SyncEvent>,
}

/// One group's detail, with a page of members.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct GroupDetail {
    pub group: DirectoryGroup,
    pub members: DirectoryPage<DirectoryUser>,
    /// As a user's: newest first, without the lookups that found it.
    pub history: Vec<SyncEvent>,
    pub lookups: Lookups,
}

const MAX_LIMIT: i64 = 500;
const HISTORY: i64 = 200;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    user_name: String,
    external_id: Option<String>,
    display_name: Option<String>,
    #[sqlx(try_from = "crate::db::Flag")]
    active: bool,
    data: String,
    created: String,
    last_modified: String,
    admin_suspended: Option<String>,
    admin_suspended_reason: Option<String>,
    granting: Option<String>,
}

/// The columns of a directory user row; `GROUP_NAMES` stands for the backend's aggregate.
fn user_columns(backend: crate::Backend) -> String {
    USER_COLUMNS.replace("GROUP_NAMES", backend.group_names())
}

const USER_COLUMNS: &str =
    "u.id, u.user_name, u.external_id, u.display_name, u.active, u.data, u.created, u.last_modified,
    u.admin_suspended, u.admin_suspended_reason,
    (SELECT GROUP_NAMES FROM group_members m JOIN granting_groups gg ON gg.group_id = m.group_id
       JOIN groups g ON g.id = m.group_id WHERE m.member_id = u.id) AS granting";

impl UserRow {
    fn into_user(self, mode: &str) -> DirectoryUser {
        let access = access::access_from_parts(
            self.active,
            self.admin_suspended.is_some(),
            self.admin_suspended_reason.as_deref(),
            self.granting.as_deref(),
            mode,
        );
        let doc: Value = serde_json::from_str(&self.data).unwrap_or(Value::Null);
        let text =
            |path: &[&str]| path.iter().try_fold(&doc, |v, k| v.get(*k)).and_then(Value::as_str).map(str::to_string);
        DirectoryUser {
            given_name: text(&["name", "givenName"]),
            family_name: text(&["name", "familyName"]),
            title: text(&["title"]),
            department: text(&[scim_protocol::schema::ENTERPRISE_USER_SCHEMA, "department"]),
            id: self.id,
            user_name: self.user_name,
            external_id: self.external_id,
            display_name: self.display_name,
            active: self.active,
            created: self.created,
            last_modified: self.last_modified,
            admin_suspended: self.admin_suspended,
            access,
        }
    }
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    display_name: String,
    external_id: Option<String>,
    members: i64,
    #[sqlx(try_from = "crate::db::Flag")]
    grants_access: bool,
    created: String,
    last_modified: String,
}

impl From<GroupRow> for DirectoryGroup {
    fn from(r: GroupRow) -> Self {
        DirectoryGroup {
            id: r.id,
            display_name: r.display_name,
            external_id: r.external_id,
            members: r.members,
            grants_access: r.grants_access,
            created: r.created,
            last_modified: r.last_modified,
        }
    }
}

const GROUP_COLUMNS: &str = "g.id, g.display_name, g.external_id,
    (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS members,
    EXISTS (SELECT 1 FROM granting_groups gg WHERE gg.group_id = g.id) AS grants_access,
    g.created, g.last_modified";

fn like(text: &str) -> String {
    format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

fn order(q: &DirectoryQuery, name_col: &str, alias: &str) -> String {
    let dir = if q.descending { "DESC" } else { "ASC" };
    let col = match q.sort.as_deref() {
        Some("created") => format!("{alias}.created"),
        Some("lastModified") => format!("{alias}.last_modified"),
        _ => name_col.to_string(),
    };
    format!("{col} {dir}, {alias}.id {dir}")
}

impl Provisioning {
    /// Users with their access, searched, filtered, sorted and paged in SQL.
    pub async fn directory_users(&self, q: &DirectoryQuery) -> Result<DirectoryPage<DirectoryUser>> {
        let mut conn = self.pool.acquire().await?;
        let mode = access::rule_mode(&mut SqlConn::Any(&mut conn)).await?;
        let mut where_sql = String::from("1 = 1");
        let mut binds: Vec<String> = vec![];
        if let Some(t) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            // SQLite's LIKE ignores ASCII case already and its lower() folds nothing else, so
            // there the columns are matched as they are: lower() only copied each user's JSON
            // (at 100k users a scan took 100 ms with it, 57 without). PostgreSQL's LIKE is
            // case-sensitive.
            let fold = |col: &str| match self.backend {
                crate::db::Backend::Sqlite => col.to_string(),
                crate::db::Backend::Postgres => format!("lower({col})"),
            };
            where_sql.push_str(&format!(
                " AND (u.user_name_key LIKE ? ESCAPE '\\' OR {} LIKE ? ESCAPE '\\'
                  OR {} LIKE ? ESCAPE '\\' OR u.id = ? OR u.external_id = ?)",
                fold("u.display_name"),
                fold("u.data")
            ));
            let l = like(t);
            binds.extend([l.clone(), l.clone(), l, t.to_string(), t.to_string()]);
        }
        if let Some(state) = q.access.as_deref().filter(|s| !s.is_empty()) {
            where_sql.push_str(&format!(" AND ({}) = ?", access::ACCESS_STATE_SQL.replace('?', "'MODE'")));
            binds.push(state.to_string());
        }
        // The rule mode is SQL text written here ('all' or 'groups'), never request text.
        let where_sql = where_sql.replace("'MODE'", if mode == "groups" { "'groups'" } else { "'all'" });
        let limit = if q.limit <= 0 { 50 } else { q.limit.min(MAX_LIMIT) };
        let count_sql = format!("SELECT COUNT(*) FROM users u WHERE {where_sql}");
        let count_sql = self.backend.sql(&count_sql);
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(b);
        }
        let total = count.fetch_one(&mut *conn).await?;
        let sql = format!(
            "SELECT {} FROM users u WHERE {where_sql} ORDER BY {} LIMIT ? OFFSET ?",
            user_columns(self.backend),
            order(q, "u.user_name_key", "u")
        );
        let sql = self.backend.sql(&sql);
        let mut query = sqlx::query_as::<_, UserRow>(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.bind(limit).bind(q.offset.max(0)).fetch_all(&mut *conn).await?;
        Ok(DirectoryPage { total, items: rows.into_iter().map(|r| r.into_user(&mode)).collect() })
    }

    /// Groups with their member counts and whether they grant access.
    pub async fn directory_groups(&self, q: &DirectoryQuery) -> Result<DirectoryPage<DirectoryGroup>> {
        let mut conn = self.pool.acquire().await?;
        let mut where_sql = String::from("1 = 1");
        let mut binds: Vec<String> = vec![];
        if let Some(t) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            where_sql.push_str(" AND (g.display_name_key LIKE ? ESCAPE '\\' OR g.id = ? OR g.external_id = ?)");
            binds.extend([like(t), t.to_string(), t.to_string()]);
        }
        let limit = if q.limit <= 0 { 50 } else { q.limit.min(MAX_LIMIT) };
        let count_sql = format!("SELECT COUNT(*) FROM groups g WHERE {where_sql}");
        let count_sql = self.backend.sql(&count_sql);
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(b);
        }
        let total = count.fetch_one(&mut *conn).await?;
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE {where_sql} ORDER BY {} LIMIT ? OFFSET ?",
            order(q, "g.display_name_key", "g")
        );
        let sql = self.backend.sql(&sql);
        let mut query = sqlx::query_as::<_, GroupRow>(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.bind(limit).bind(q.offset.max(0)).fetch_all(&mut *conn).await?;
        Ok(DirectoryPage { total, items: rows.into_iter().map(Into::into).collect() })
    }

    /// The events about `id`, newest first, but for the successful lookups, which are counted.
    async fn history(&self, id: &str) -> Result<(Vec<SyncEvent>, Lookups)> {
        const FOUND_BY_LOOKUP: &str = "(operation = 'Lookup' AND status < 400)";
        let q = crate::EventQuery { target_id: Some(id.into()), ..Default::default() };
        let history = self.select_events_where(&q, &format!(" AND NOT {FOUND_BY_LOOKUP}"), HISTORY).await?;
        let (count, last) = self.count_and_newest(&q, &format!(" AND {FOUND_BY_LOOKUP}")).await?;
        Ok((history, Lookups { count, last }))
    }

    /// One user by id or userName (ignoring case): fields, raw SCIM JSON, groups, access, history.
    pub async fn user_detail(&self, base_url: &str, id_or_user_name: &str) -> Result<Option<UserDetail>> {
        let mut conn = self.pool.acquire().await?;
        let mode = access::rule_mode(&mut SqlConn::Any(&mut conn)).await?;
        let row: Option<UserRow> =
            sqlx::query_as(&self.backend.sql(&format!(
                "SELECT {} FROM users u WHERE u.id = ? OR u.user_name_key = ?",
                user_columns(self.backend)
            )))
            .bind(id_or_user_name)
            .bind(id_or_user_name.to_lowercase())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let id = row.id.clone();
        let groups: Vec<GroupRow> = sqlx::query_as(&self.backend.sql(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g JOIN group_members gm ON gm.group_id = g.id
             WHERE gm.member_id = ? ORDER BY g.display_name_key"
        )))
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
        let (history, lookups) = self.history(&id).await?;
        drop(conn);
        let (resource, _) = self
            .get(scim_protocol::ResourceKind::User, base_url, &id, &scim_protocol::resource::Projection::default())
            .await?;
        Ok(Some(UserDetail {
            user: row.into_user(&mode),
            resource,
            groups: groups.into_iter().map(Into::into).collect(),
            history,
            lookups,
        }))
    }

    /// One group by id or display name (ignoring case), with a page of its members. Display
    /// names need not be unique (RFC 7643 gives them no uniqueness, and an IdP's retried POST
    /// can make a second): a name several groups share is refused with their ids, rather than
    /// one of them picked.
    pub async fn group_detail(&self, id_or_name: &str, offset: i64, limit: i64) -> Result<Option<GroupDetail>> {
        let mut conn = self.pool.acquire().await?;
        let mode = access::rule_mode(&mut SqlConn::Any(&mut conn)).await?;
        let by_id: Option<GroupRow> =
            sqlx::query_as(&self.backend.sql(&format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?")))
                .bind(id_or_name)
                .fetch_optional(&mut *conn)
                .await?;
        let row = match by_id {
            Some(row) => row,
            None => {
                let mut named: Vec<GroupRow> = sqlx::query_as(&self.backend.sql(&format!(
                    "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.display_name_key = ? ORDER BY g.created LIMIT 10"
                )))
                .bind(id_or_name.to_lowercase())
                .fetch_all(&mut *conn)
                .await?;
                if named.len() > 1 {
                    let ids: Vec<&str> = named.iter().map(|g| g.id.as_str()).collect();
                    return Err(crate::Error::InvalidInput(format!(
                        "{}{} groups are named \"{id_or_name}\"; name one by its id: {}",
                        named.len(),
                        if named.len() == 10 { " or more" } else { "" },
                        ids.join(", ")
                    )));
                }
                let Some(row) = named.pop() else { return Ok(None) };
                row
            }
        };
        let limit = if limit <= 0 { 50 } else { limit.min(MAX_LIMIT) };
        let members: Vec<UserRow> = sqlx::query_as(&self.backend.sql(&format!(
            "SELECT {} FROM group_members gm JOIN users u ON u.id = gm.member_id
             WHERE gm.group_id = ? ORDER BY u.user_name_key LIMIT ? OFFSET ?",
            user_columns(self.backend)
        )))
        .bind(&row.id)
        .bind(limit)
        .bind(offset.max(0))
        .fetch_all(&mut *conn)
        .await?;
        let (history, lookups) = self.history(&row.id).await?;
        let total = row.members;
        Ok(Some(GroupDetail {
            group: row.into(),
            members: DirectoryPage { total, items: members.into_iter().map(|r| r.into_user(&mode)).collect() },
            history,
            lookups,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RequestContext;
    use crate::testing::open_store;
    use crate::{Clock, Config, ResourceKind};
    use serde_json::json;

    /// The directory's search, on either store: part of a userName, display name or email in any
    /// case, or an id or externalId whole; a text in no user finds nobody.
    #[tokio::test]
    async fn the_directory_search_finds_users_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let p = open_store(dir.path(), Config::default(), Clock::system()).await.unwrap();
        let ctx = RequestContext::new("POST", "/Users");
        let mut ids = vec![];
        for (user, name, email, external) in [
            ("ada@example.com", "Ada Lovelace", "ada.l@Work.Example.org", "EXT-ada"),
            ("grace@example.com", "Grace Hopper", "grace@navy.example.org", "EXT-grace"),
        ] {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user, "displayName": name, "externalId": external,
                "emails": [{"value": email, "type": "work", "primary": true}],
            });
            let created = p.create(ResourceKind::User, &ctx, &body).await.unwrap();
            ids.push(created.resource.unwrap()["id"].as_str().unwrap().to_string());
        }
        let found = |text: &str| {
            let p = p.clone();
            let q = DirectoryQuery { text: Some(text.into()), ..Default::default() };
            async move {
                let page = p.directory_users(&q).await.unwrap();
                let mut names: Vec<String> = page.items.into_iter().map(|u| u.user_name).collect();
                names.sort();
                assert_eq!(page.total, names.len() as i64, "the count agrees with the page");
                names
            }
        };
        assert_eq!(found("ADA@").await, ["ada@example.com"], "userName, any case");
        assert_eq!(found("hopper").await, ["grace@example.com"], "display name, any case");
        assert_eq!(found("work.EXAMPLE").await, ["ada@example.com"], "email, any case");
        assert_eq!(found("example.com").await, ["ada@example.com", "grace@example.com"]);
        assert_eq!(found(&ids[1]).await, ["grace@example.com"], "an id, whole");
        assert_eq!(found("EXT-ada").await, ["ada@example.com"], "an externalId");
        assert!(found("nobody-here").await.is_empty());
        p.close().await;
    }
}
