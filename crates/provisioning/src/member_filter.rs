//! PATCH `remove` of `members[...]` (RFC 7644 §3.5.2.2) as SQL over membership rows, so
//! removing one member from a 100,000-member group touches one row.

use scim_protocol::ScimError;
use scim_protocol::ast::{CompValue, CompareOp, Filter};

use crate::filter_sql::{SqlBind, SqlWhere};

/// Translates a filter over member sub-attributes (`value`, `type`, `display`) to a WHERE
/// clause over `group_members`. Values are always bound, never spliced.
pub fn member_filter_sql(filter: &Filter) -> Result<SqlWhere, ScimError> {
    let mut binds = vec![];
    let clause = clause(filter, &mut binds)?;
    Ok(SqlWhere { clause, binds })
}

fn clause(f: &Filter, binds: &mut Vec<SqlBind>) -> Result<String, ScimError> {
    Ok(match f {
        Filter::And(a, b) => format!("({} AND {})", clause(a, binds)?, clause(b, binds)?),
        Filter::Or(a, b) => format!("({} OR {})", clause(a, binds)?, clause(b, binds)?),
        Filter::Not(a) => format!("(NOT {})", clause(a, binds)?),
        Filter::Present(p) => {
            let col = column(&p.name, p.sub.as_deref())?.0;
            format!("({col} IS NOT NULL AND {col} <> '')")
        }
        Filter::Compare { path, op, value } => {
            let (col, case_exact) = column(&path.name, path.sub.as_deref())?;
            let CompValue::String(v) = value else {
                return Err(ScimError::invalid_path("member filters compare strings"));
            };
            // Case folding happens in SQLite on both sides (`lower`), so column and value fold alike.
            let (lhs, rhs) = if case_exact { (col.to_string(), "?") } else { (format!("lower({col})"), "lower(?)") };
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
