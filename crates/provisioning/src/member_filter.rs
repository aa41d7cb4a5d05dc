//! PATCH `remove` of `members[...]` (RFC 7644 §3.5.2.2) as SQL over membership rows, so
//! removing one member from a 100,000-member group touches one row.
//!
//! Both stores answer alike. SQLite folds with `lower()` and `LIKE`, which fold ASCII letters
//! only (and `LIKE` ignores ASCII case even for `value`). On PostgreSQL `lower()` reads
//! `COLLATE "C"` so it folds ASCII letters only too, `LIKE` (case-sensitive there) compares
//! both sides lowered, and ordering compares byte by byte (`COLLATE "C"`), as SQLite does.
//! Placeholders are `?`; the caller numbers them with `Backend::sql`.

use scim_protocol::ScimError;
use scim_protocol::ast::{CompValue, CompareOp, Filter};

use crate::Backend;
use crate::filter_sql::{SqlBind, SqlWhere};

/// Translates a filter over member sub-attributes (`value`, `type`, `display`) to a WHERE
/// clause over `group_members` for `backend`. Values are always bound, never spliced.
pub fn member_filter_sql_for(backend: Backend, filter: &Filter) -> Result<SqlWhere, ScimError> {
    let mut binds = vec![];
    let clause = clause(backend, filter, &mut binds)?;
    Ok(SqlWhere { clause, binds })
}

fn clause(backend: Backend, f: &Filter, binds: &mut Vec<SqlBind>) -> Result<String, ScimError> {
    let pg = backend == Backend::Postgres;
    Ok(match f {
        Filter::And(a, b) => format!("({} AND {})", clause(backend, a, binds)?, clause(backend, b, binds)?),
        Filter::Or(a, b) => format!("({} OR {})", clause(backend, a, binds)?, clause(backend, b, binds)?),
        Filter::Not(a) => format!("(NOT {})", clause(backend, a, binds)?),
        Filter::Present(p) => {
            let col = column(&p.name, p.sub.as_deref())?.0;
            format!("({col} IS NOT NULL AND {col} <> '')")
        }
        Filter::Compare { path, op, value } => {
            let (col, case_exact) = column(&path.name, path.sub.as_deref())?;
            let CompValue::String(v) = value else {
                return Err(ScimError::invalid_path("member filters compare strings"));
            };
            let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
            // Case folding happens in the database on both sides (`lower`), so column and
            // value fold alike. SQLite's LIKE ignores ASCII case on its own; PostgreSQL's does
            // not, so there both sides of a LIKE are lowered, `value` included.
            let (lhs, rhs) = match (pg, case_exact && !(pg && substring)) {
                (false, true) => (col.to_string(), "?"),
                (false, false) => (format!("lower({col})"), "lower(?)"),
                (true, true) if matches!(op, CompareOp::Eq | CompareOp::Ne) => (col.to_string(), "?"),
                (true, true) => (format!("{col} COLLATE \"C\""), "?"),
                (true, false) => (format!("lower({col} COLLATE \"C\")"), "lower(CAST(? AS text) COLLATE \"C\")"),
            };
            let esc = v.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            let (sql_op, bound) = match op {
                CompareOp::Eq => ("=", v.clone()),
                CompareOp::Ne => ("<>", v.clone()),
                CompareOp::Co => ("LIKE", format!("%{esc}%")),
                CompareOp::Sw => ("LIKE", format!("{esc}%")),
                CompareOp::Ew => ("LIKE", format!("%{esc}")),
                CompareOp::Gt => (">", v.clone()),
                CompareOp::Ge => (">=", v.clone()),
                CompareOp::Lt => ("<", v.clone()),
                CompareOp::Le => ("<=", v.clone()),
            };
            binds.push(SqlBind::Text(bound));
            match op {
                CompareOp::Ne => format!("({lhs} IS NULL OR {lhs} <> {rhs})"),
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => format!("{lhs} LIKE {rhs} ESCAPE '\\'"),
                _ => format!("{lhs} {sql_op} {rhs}"),
            }
        }
        Filter::ValuePath { .. } => {
            return Err(ScimError::invalid_path("a member filter cannot nest another value filter"));
        }
    })
}

/// The column for a member sub-attribute, and whether it compares case-exactly.
fn column(name: &str, sub: Option<&str>) -> Result<(&'static str, bool), ScimError> {
    // Inside `members[...]` paths are relative (`value`); `members.value` also appears.
    let attr = match (name.to_ascii_lowercase().as_str(), sub) {
        ("members", Some(s)) => s.to_ascii_lowercase(),
        (n, None) => n.to_string(),
        (n, Some(_)) => n.to_string() + ".",
    };
    match attr.as_str() {
        "value" => Ok(("member_id", true)),
        "type" => Ok(("member_type", false)),
        "display" => Ok(("display", false)),
        other => Err(ScimError::InvalidPath(format!(
            "members can be selected by \"value\", \"type\" or \"display\", not \"{other}\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use scim_protocol::filter::parse_filter;

    use super::*;
    use crate::db::Pool;
    use crate::filter_sql::bind_all;

    /// (member id, type, stored display) of one group's rows.
    const MEMBERS: [(&str, &str, Option<&str>); 6] = [
        ("u-abc", "User", Some("Babs Jensen")),
        ("U-ABD", "User", Some("Élodie")),
        ("u_1%", "User", None),
        ("g-1", "Group", Some("tour guides")),
        ("u-zed", "User", Some("")),
        ("u-kim", "User", Some("kim@example.org")),
    ];

    /// Each filter and the member ids it selects, the same on both stores.
    fn cases() -> Vec<(&'static str, Vec<&'static str>)> {
        vec![
            (r#"value eq "u-abc""#, vec!["u-abc"]),
            (r#"value eq "U-ABC""#, vec![]),
            (r#"members.value eq "g-1""#, vec!["g-1"]),
            (r#"value ne "u-abc""#, vec!["U-ABD", "u_1%", "g-1", "u-zed", "u-kim"]),
            (r#"value sw "u-ab""#, vec!["u-abc", "U-ABD"]),
            (r#"value co "_1%""#, vec!["u_1%"]),
            (r#"value gt "u""#, vec!["u-abc", "u_1%", "u-zed", "u-kim"]),
            (r#"type eq "group""#, vec!["g-1"]),
            (r#"type eq "USER" and display co "JENSEN""#, vec!["u-abc"]),
            (r#"display eq "élodie""#, vec![]),
            (r#"display eq "Élodie""#, vec!["U-ABD"]),
            (r#"display sw "É""#, vec!["U-ABD"]),
            (r#"display ew "DIE""#, vec!["U-ABD"]),
            (r#"display gt "k""#, vec!["g-1", "u-kim", "U-ABD"]),
            (r#"display le "babs jensen""#, vec!["u-abc", "u-zed"]),
            ("display pr", vec!["u-abc", "U-ABD", "g-1", "u-kim"]),
            (r#"not (display pr) or value ew "KIM""#, vec!["u_1%", "u-zed", "u-kim"]),
            (r#"display ne "tour guides""#, vec!["u-abc", "U-ABD", "u_1%", "u-zed", "u-kim"]),
        ]
    }

    async fn fill(backend: Backend, pool: &Pool) {
        let now = "2026-03-01T00:00:00.000Z";
        for group in ["g-0", "g-1"] {
            sqlx::query(&backend.sql(
                "INSERT INTO groups (id, display_name, display_name_key, data, created, last_modified) \
                 VALUES (?, ?, ?, '{}', ?, ?)",
            ))
            .bind(group)
            .bind(group)
            .bind(group)
            .bind(now)
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
        }
        for (id, ty, display) in MEMBERS {
            sqlx::query(&backend.sql(
                "INSERT INTO group_members (group_id, member_id, member_type, display, added) VALUES (?, ?, ?, ?, ?)",
            ))
            .bind("g-0")
            .bind(id)
            .bind(ty)
            .bind(display)
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
        }
    }

    async fn check(backend: Backend, pool: &Pool) {
        fill(backend, pool).await;
        for (input, want) in cases() {
            let w = member_filter_sql_for(backend, &parse_filter(input).unwrap()).unwrap();
            assert_eq!(w.clause.matches('?').count(), w.binds.len(), "{input}: {}", w.clause);
            let sql = format!("SELECT member_id FROM group_members WHERE group_id = 'g-0' AND ({})", w.clause);
            let sql = backend.sql(&sql);
            let got: BTreeSet<String> = bind_all(sqlx::query_scalar(&sql), &w.binds)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{input}: {e}\n{sql}"))
                .into_iter()
                .collect();
            let want: BTreeSet<String> = want.into_iter().map(str::to_string).collect();
            assert_eq!(got, want, "{backend:?} {input}");
        }
    }

    #[tokio::test]
    async fn member_filter_sql_selects_rows() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::connect_sqlite(&dir.path().join("scim.db"), 1, 0).await.unwrap();
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.unwrap();
        check(Backend::Sqlite, &pool).await;
    }

    #[tokio::test]
    async fn member_filter_sql_selects_rows_postgres() {
        let Some(server) = crate::testing::postgres_url() else {
            println!("member_filter_sql_selects_rows_postgres: skipped, no TALKWRITER_TEST_DATABASE_URL");
            return;
        };
        let url = crate::testing::fresh_postgres_database(&server).await.unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        sqlx::migrate!("./migrations/postgres").run(&pool).await.unwrap();
        check(Backend::Postgres, &pool).await;
    }
}
