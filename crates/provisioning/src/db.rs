//! The two stores behind one code path: SQLite, the embedded default, and PostgreSQL, which
//! several server instances share. The code that decides what to store is written once, against
//! `read::SqlConn`: sqlx's `Any` driver on PostgreSQL, rusqlite in place on SQLite's request
//! path and write connection (sqlx's pool for the rest); where the two dialects differ,
//! [`Backend`] writes each one's SQL. Columns hold only types both drivers map the same way (text,
//! 64-bit integers, doubles), and flags are integers 0/1 on both, read through [`Flag`].

use std::borrow::Cow;

use sqlx::any::{AnyTypeInfo, AnyTypeInfoKind, AnyValueRef};
use sqlx::{Any, Decode, Type, ValueRef};

use crate::filter_sql::SqlBind;

pub(crate) type Pool = sqlx::AnyPool;
pub(crate) type Conn = sqlx::AnyConnection;
pub(crate) type Args<'q> = sqlx::any::AnyArguments<'q>;

/// Which database the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a connection talks to.
    pub(crate) fn of(conn: &Conn) -> Backend {
        if conn.backend_name() == "PostgreSQL" { Backend::Postgres } else { Backend::Sqlite }
    }

    /// SQL written with `?` placeholders, in this backend's form: unchanged for SQLite,
    /// numbered `$1, $2, ...` for PostgreSQL. A `?` inside a quoted literal or identifier is
    /// left alone.
    pub(crate) fn sql(self, sql: &str) -> Cow<'_, str> {
        if self == Backend::Sqlite || !sql.contains('?') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        let mut quote: Option<char> = None;
        for c in sql.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '?') => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                    continue;
                }
                (None, _) => {}
            }
            out.push(c);
        }
        Cow::Owned(out)
    }

    /// The display names of groups `g` (one row each) joined by U+001F: the granting groups
    /// a user's access comes from.
    pub(crate) fn group_names(self) -> &'static str {
        match self {
            Backend::Sqlite => "group_concat(g.display_name, char(31))",
            Backend::Postgres => "string_agg(g.display_name, chr(31) ORDER BY g.display_name_key)",
        }
    }

    /// A table expression with one column, `value`: the elements of a bound JSON array of
    /// strings (`["a","b"]`; on SQLite, of integers too). [`SqlBuilder::push_json_array`]
    /// binds one.
    pub(crate) fn json_strings(self) -> &'static str {
        match self {
            Backend::Sqlite => "(SELECT value FROM json_each(?))",
            Backend::Postgres => "(SELECT value FROM jsonb_array_elements_text(CAST(? AS jsonb)) AS j(value))",
        }
    }

    /// `lower()` of the text at a bound JSON path (`$."name"."familyName"` for SQLite, a text
    /// array `{name,familyName}` for PostgreSQL; see [`Backend::json_path`]) inside `data`.
    pub(crate) fn lower_json_text(self, data: &str) -> String {
        match self {
            Backend::Sqlite => format!("lower(json_extract({data}, ?))"),
            Backend::Postgres => format!("lower(CAST({data} AS jsonb) #>> CAST(? AS text[]))"),
        }
    }

    /// The bound form of a path of keys for [`Backend::lower_json_text`], every key quoted.
    pub(crate) fn json_path(self, keys: &[String]) -> String {
        let quoted = keys.iter().map(|k| format!("\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\"")));
        match self {
            Backend::Sqlite => quoted.fold(String::from("$"), |p, k| p + "." + &k),
            Backend::Postgres => format!("{{{}}}", quoted.collect::<Vec<_>>().join(",")),
        }
    }

    /// Opens a write transaction. SQLite: `BEGIN IMMEDIATE` takes the database's one write
    /// lock. PostgreSQL: a transaction that first takes one transaction-scoped advisory lock,
    /// so writes from every instance take turns exactly as on SQLite (see
    /// docs/decisions/0018-postgresql.md).
    pub(crate) fn begin_statement(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED",
        }
    }
}

/// SQL built piece by piece with bound values, its placeholders in the backend's form
/// (`?` for SQLite, `$1, $2, …` for PostgreSQL).
pub(crate) struct SqlBuilder {
    backend: Backend,
    sql: String,
    binds: Vec<SqlBind>,
}

impl SqlBuilder {
    pub(crate) fn new(backend: Backend, sql: impl Into<String>) -> Self {
        SqlBuilder { backend, sql: sql.into(), binds: Vec::new() }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder and binds `value` to it.
    pub(crate) fn push_bind(&mut self, value: impl Into<SqlBind>) -> &mut Self {
        self.binds.push(value.into());
        match self.backend {
            Backend::Sqlite => self.sql.push('?'),
            Backend::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.binds.len().to_string());
            }
        }
        self
    }

    /// Appends `?, ?, …`, one bound placeholder per value: the inside of an `IN (…)`.
    pub(crate) fn push_list<T: Into<SqlBind>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
        self
    }

    /// Appends [`Backend::json_strings`], `values` bound as one JSON array: the inside of an
    /// `IN` over any number of values, with one placeholder and so one statement.
    pub(crate) fn push_json_array(&mut self, values: &impl serde::Serialize) -> &mut Self {
        let (before, after) = self.backend.json_strings().split_once('?').unwrap_or(("", ""));
        let array = serde_json::to_string(values).unwrap_or_else(|_| "[]".into());
        self.push(before).push_bind(array).push(after)
    }

    /// The SQL, its placeholders already in the backend's form, and its parameters.
    pub(crate) fn build(self) -> (String, Vec<SqlBind>) {
        (self.sql, self.binds)
    }
}

/// The advisory lock key writers take on PostgreSQL ("TWSCIM" in ASCII).
pub(crate) const WRITE_LOCK_KEY: i64 = 0x5457_5343_494D;

/// A 0/1 integer column read as a `bool` (`#[sqlx(try_from = "Flag")]`). `Any` decodes
/// `bool` only from boolean values, and both stores keep flags as integers; a boolean
/// expression on PostgreSQL (`EXISTS (...)`) reads as well.
pub(crate) struct Flag(bool);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(
            ty.kind(),
            AnyTypeInfoKind::Bool | AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt
        )
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if value.type_info().kind() == AnyTypeInfoKind::Bool {
            Ok(Flag(<bool as Decode<Any>>::decode(value)?))
        } else {
            Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backend;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_literals() {
        let sql = "SELECT '?' FROM t WHERE a = ? AND \"b?\" = ? AND c LIKE ? ESCAPE '\\'";
        assert_eq!(Backend::Sqlite.sql(sql), sql);
        assert_eq!(
            Backend::Postgres.sql(sql),
            "SELECT '?' FROM t WHERE a = $1 AND \"b?\" = $2 AND c LIKE $3 ESCAPE '\\'"
        );
    }

    #[test]
    fn json_paths_quote_every_key() {
        let keys = ["urn:x:2.0:User".to_string(), "department".to_string()];
        assert_eq!(Backend::Sqlite.json_path(&keys), "$.\"urn:x:2.0:User\".\"department\"");
        assert_eq!(Backend::Postgres.json_path(&keys), "{\"urn:x:2.0:User\",\"department\"}");
    }

    /// A JSON array is one placeholder, numbered among the others on PostgreSQL.
    #[test]
    fn json_arrays_are_bound_whole() {
        for (backend, sql) in [
            (Backend::Sqlite, "x = ? AND y IN (SELECT value FROM json_each(?))"),
            (
                Backend::Postgres,
                "x = $1 AND y IN (SELECT value FROM jsonb_array_elements_text(CAST($2 AS jsonb)) AS j(value))",
            ),
        ] {
            let mut b = super::SqlBuilder::new(backend, "x = ");
            b.push_bind(1_i64).push(" AND y IN ").push_json_array(&["a", "b"]);
            let (built, args) = b.build();
            assert_eq!(built, sql);
            assert!(matches!(&args[1], super::SqlBind::Text(t) if t == r#"["a","b"]"#), "{args:?}");
        }
    }
}
