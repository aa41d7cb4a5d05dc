//! Bulk test data for benchmarks: users, groups, one large group's membership and sync-log
//! events, written with multi-row SQL inserts in large transactions (not through SCIM, which
//! would take an fsync per row). Ids, names and creation times follow a fixed scheme
//! ([`seed_user_id`], [`seed_user_name`], [`seed_created`]) so a load generator can address
//! any seeded row without listing them first.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use scim_protocol::resource::normalize;
use scim_protocol::{Quirks, ResourceKind};

use crate::db::{Backend, SqlBuilder};
use crate::events::{index_pending_texts, push_texts_insert, push_values, search_column, search_text};
use crate::read::SqlConn;
use crate::{Provisioning, Result, stamp};

/// Rows per INSERT statement: at most 11 binds each, 5,500 in all, under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters per statement.
const ROWS_PER_STATEMENT: usize = 500;
const _: () = assert!(ROWS_PER_STATEMENT * 11 <= 32_766);
/// Rows per transaction: one fsync per this many rows.
const ROWS_PER_TX: usize = 50_000;

/// What to seed.
#[derive(Debug, Clone, Default)]
pub struct SeedSpec {
    pub users: u64,
    pub groups: u64,
    /// Members of the first group (`seed_group_id(0)`), taken from the first users.
    pub group_members: u64,
    /// Sync-log events, spread over the seeded users.
    pub events: u64,
}

/// The id of the i-th seeded user: a valid UUID whose last field is `i`.
pub fn seed_user_id(i: u64) -> String {
    format!("5eed0000-0000-4000-8000-{i:012x}")
}

/// The id of the i-th seeded group.
pub fn seed_group_id(i: u64) -> String {
    format!("5eed0000-0000-4000-9000-{i:012x}")
}

/// The userName of the i-th seeded user.
pub fn seed_user_name(i: u64) -> String {
    format!("user{i}@seed.example.com")
}

/// The `meta.created` of the i-th seeded row: one millisecond apart from 2020-01-01, so the
/// stable (created, id) order is the index order.
pub fn seed_created(i: u64) -> String {
    let base: DateTime<Utc> = DateTime::from_timestamp(1_577_836_800, 0).unwrap_or_default();
    stamp(base + Duration::milliseconds(i as i64))
}

/// The i-th seeded user as an IdP would have created it.
fn user_body(i: u64) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": seed_user_name(i),
        "externalId": format!("ext-{i}"),
        "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}")},
        "displayName": format!("Given{i} Family{i}"),
        "emails": [{"value": seed_user_name(i), "type": "work", "primary": true}],
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": format!("Dept{}", i % 50)}
    })
}

fn user_doc(i: u64) -> Result<String> {
    Ok(normalize(ResourceKind::User, &user_body(i), &mut Quirks::default())?.doc.to_string())
}

/// The search text of the i-th seeded user's events, as the sync log writes it for a request
/// about the user (its create, a read, a PATCH): a read of a seeded user finds its text there,
/// as a read of a user an IdP created does.
pub fn seed_search_text(i: u64) -> String {
    let mut body = user_body(i);
    body["id"] = seed_user_id(i).into();
    let (name, id) = (seed_user_name(i), seed_user_id(i));
    search_text([name.as_str(), id.as_str()], [&body]).unwrap_or_default()
}

impl Provisioning {
    /// Fills the database with `spec`'s rows, in addition to what is there. Seeding the same
    /// ranges twice fails on the primary keys.
    pub async fn seed(&self, spec: &SeedSpec, mut progress: impl FnMut(&str, u64)) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        chunked(&mut conn, spec.users, |b, range| {
            b.push("INSERT INTO users (id, user_name, user_name_key, external_id, display_name, active, data, version, created, last_modified) ");
            let rows: Vec<_> = range.map(|i| (i, user_doc(i))).collect();
            if let Some((_, Err(_))) = rows.iter().find(|(_, d)| d.is_err()) {
                return Err(crate::Error::InvalidInput("a seeded user did not normalise".into()));
            }
            push_values(b, rows, |row, (i, doc)| {
                let name = seed_user_name(i);
                row.push_bind(seed_user_id(i))
                    .push_bind(name.clone())
                    .push_bind(name)
                    .push_bind(format!("ext-{i}"))
                    .push_bind(format!("Given{i} Family{i}"))
                    .push_bind(1_i64)
                    .push_bind(doc.unwrap_or_default())
                    .push_bind(1_i64)
                    .push_bind(seed_created(i))
                    .push_bind(seed_created(i));
            });
            Ok(())
        }, |n| progress("users", n))
        .await?;
        chunked(&mut conn, spec.groups, |b, range| {
            b.push("INSERT INTO groups (id, display_name, display_name_key, external_id, data, version, created, last_modified) ");
            push_values(b, range, |row, i| {
                let name = format!("Seed Group {i}");
                let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
                row.push_bind(seed_group_id(i))
                    .push_bind(name.clone())
                    .push_bind(name.to_lowercase())
                    .push_bind(Option::<String>::None)
                    .push_bind(doc.to_string())
                    .push_bind(1_i64)
                    .push_bind(seed_created(i))
                    .push_bind(seed_created(i));
            });
            Ok(())
        }, |n| progress("groups", n))
        .await?;
        if spec.groups > 0 {
            let group = seed_group_id(0);
            chunked(
                &mut conn,
                spec.group_members.min(spec.users),
                |b, range| {
                    b.push("INSERT INTO group_members (group_id, member_id, member_type, display, added) ");
                    push_values(b, range, |row, i| {
                        row.push_bind(group.clone())
                            .push_bind(seed_user_id(i))
                            .push_bind("User")
                            .push_bind(Option::<String>::None)
                            .push_bind(seed_created(i));
                    });
                    Ok(())
                },
                |n| progress("group members", n),
            )
            .await?;
        }
        let users = spec.users.max(1);
        let search = seed_search_text;
        let backend = self.backend;
        if backend == Backend::Sqlite {
            // SQLite keeps each text once, and each event its text's id (see `insert_events`).
            chunked(
                &mut conn,
                spec.events.min(users),
                |b, range| {
                    push_texts_insert(b, range.map(search));
                    Ok(())
                },
                |_| {},
            )
            .await?;
            // Indexed for free-text search at once, in one transaction with their marks.
            begin(&mut conn).await?;
            let indexed = index_pending_texts(&mut SqlConn::Any(&mut conn)).await;
            end(&mut conn, indexed).await?;
        }
        chunked(&mut conn, spec.events, |b, range| {
            b.push(&format!(
                "INSERT INTO events (time, method, path, operation, resource_type, target_id, target_name, status, latency_ms, idp, {}) ",
                search_column(backend)
            ));
            push_values(b, range, |row, i| {
                let u = i % users;
                let (method, op, status) = match i % 10 {
                    0 => ("PATCH", "Deactivate User", 200_i32),
                    1..=3 => ("POST", "Create User", 201),
                    4 => ("GET", "Lookup", 404),
                    _ => ("GET", "Lookup", 200),
                };
                row.push_bind(seed_created(i))
                    .push_bind(method)
                    .push_bind(format!("/scim/v2/Users/{}", seed_user_id(u)))
                    .push_bind(op)
                    .push_bind("User")
                    .push_bind(seed_user_id(u))
                    .push_bind(seed_user_name(u))
                    .push_bind(i64::from(status))
                    .push_bind(1.0)
                    .push_bind(if i % 2 == 0 { "Okta" } else { "Entra ID" })
                    .push_search(backend, Some(search(u)));
            });
            Ok(())
        }, |n| progress("events", n))
        .await?;
        drop(conn);
        // Fresh statistics, so the planner sees the seeded sizes.
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        let detail = format!(
            "Seeded {} users, {} groups ({} members in the first), {} events for benchmarking",
            spec.users, spec.groups, spec.group_members, spec.events
        );
        self.audit("Seeded", &detail).await
    }
}

/// Inserts `total` rows, `ROWS_PER_STATEMENT` per statement and `ROWS_PER_TX` per transaction.
async fn chunked(
    conn: &mut crate::db::Conn,
    total: u64,
    mut build: impl FnMut(&mut SqlBuilder, std::ops::Range<u64>) -> Result<()>,
    mut progress: impl FnMut(u64),
) -> Result<()> {
    let backend = Backend::of(conn);
    let mut start = 0;
    while start < total {
        let tx_end = (start + ROWS_PER_TX as u64).min(total);
        begin(conn).await?;
        let inserted = async {
            while start < tx_end {
                let stop = (start + ROWS_PER_STATEMENT as u64).min(tx_end);
                let mut b = SqlBuilder::new(backend, "");
                build(&mut b, start..stop)?;
                let (sql, args) = b.build();
                SqlConn::Any(&mut *conn).execute(&sql, &args).await?;
                start = stop;
            }
            Ok(())
        }
        .await;
        end(conn, inserted).await?;
        progress(start);
    }
    Ok(())
}

/// Opens one of the seed's transactions: `BEGIN IMMEDIATE` on SQLite; on PostgreSQL `BEGIN`
/// and the write lock, so it takes its turn with every instance's writers.
async fn begin(conn: &mut crate::db::Conn) -> Result<()> {
    sqlx::query(Backend::of(conn).begin_statement()).execute(&mut *conn).await?;
    if Backend::of(conn) == Backend::Postgres {
        // Selected as a boolean: `Any` reads no `void` column.
        let locked = sqlx::query("SELECT pg_advisory_xact_lock($1) IS NULL")
            .bind(crate::db::WRITE_LOCK_KEY)
            .execute(&mut *conn)
            .await;
        if let Err(e) = locked {
            // Rolled back, and the lock's error returned.
            return end(conn, Err(e.into())).await;
        }
    }
    Ok(())
}

/// Ends a transaction [`begin`] opened: commits it if `work` went through, else rolls it back
/// and returns `work`'s error.
async fn end(conn: &mut crate::db::Conn, work: Result<()>) -> Result<()> {
    match work {
        Ok(()) => {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(())
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeding fills every table on the test backend (SQLite, or PostgreSQL when the tests run
    /// there), over several statements, and the log keeps numbering its events after it.
    #[tokio::test]
    async fn seeds_either_store() {
        let dir = tempfile::tempdir().unwrap();
        let p = crate::testing::open_store(dir.path(), crate::Config::default(), crate::Clock::system()).await.unwrap();
        let spec = SeedSpec { users: 1_200, groups: 3, group_members: 700, events: 1_100 };
        let mut seen = vec![];
        p.seed(&spec, |what, n| seen.push((what.to_string(), n))).await.unwrap();
        assert!(seen.contains(&("users".to_string(), 1_200)) && seen.contains(&("events".to_string(), 1_100)));
        let status = p.status().await.unwrap();
        assert_eq!((status.users, status.active_users, status.groups), (1_200, 1_200, 3));
        assert_eq!(status.first_user.as_deref(), Some(seed_created(0).as_str()));
        let q = crate::EventQuery { text: Some(seed_user_name(7)), ..Default::default() };
        let found = p.query_events(&q).await.unwrap().events;
        assert!(!found.is_empty() && found.iter().all(|e| e.target_id.as_deref() == Some(seed_user_id(7).as_str())));
        let newest = p.query_events(&crate::EventQuery { limit: Some(1), ..Default::default() }).await.unwrap();
        assert_eq!(newest.events[0].operation, "Seeded");
        assert_eq!(newest.events[0].id, 1_101, "the log numbers on after the seeded events");
        assert!(p.seed(&spec, |_, _| {}).await.is_err(), "the same ranges again fail on the keys");
        p.close().await;
    }

    /// After `ANALYZE` (the seed's last step), a cached statement runs as prepared whatever
    /// value is bound: SQLite built with STAT4 would plan such a statement again for each new
    /// value (decision 0028), here once per GET of a user, for its groups.
    #[tokio::test]
    async fn a_cached_statement_is_not_prepared_again_for_each_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scim.db");
        let p = crate::Provisioning::open(&path, crate::Config::default()).await.unwrap();
        let spec = SeedSpec { users: 2_000, groups: 3, group_members: 300, events: 2_000 };
        p.seed(&spec, |_, _| {}).await.unwrap();
        let conn = crate::read::open_in_place(&path, "PRAGMA query_only = ON;", 0, 16).unwrap();
        let analysed: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_stat1", [], |r| r.get(0)).unwrap();
        assert!(analysed > 0, "the seed analysed the database");
        let sql = "SELECT g.id FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.member_id = ?
                   ORDER BY g.display_name_key, g.id";
        let groups_of = |i: u64| -> usize {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            let found = stmt.query_map([seed_user_id(i)], |r| r.get::<_, String>(0)).unwrap().count();
            assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "prepared again for user {i}");
            found
        };
        // Members of the first group, then users in no group.
        assert_eq!((groups_of(1), groups_of(2), groups_of(1_500), groups_of(1_900)), (1, 1, 0, 0));
        drop(conn);
        p.close().await;
    }
}
