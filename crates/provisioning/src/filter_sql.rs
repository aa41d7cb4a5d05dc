//! Filters (RFC 7644 §3.4.2.2) as WHERE clauses over the `users` and `groups` tables, for
//! SQLite and PostgreSQL, selecting exactly the rows [`scim_protocol::eval::matches`] selects
//! on the rendered resources (the tests below hold the two together, on both stores).
//!
//! Request text never reaches the SQL: values, LIKE/GLOB patterns and JSON paths are bound
//! parameters; the clause holds only column names and SQL written here. Placeholders are `?`
//! in bind order on both stores; the caller passes the whole statement through
//! [`Backend::sql`](crate::Backend), which numbers them for PostgreSQL. So the clause holds no
//! other `?` (no jsonb `?` operators).
//!
//! The mapping (SQLite):
//! - Lookup columns where the rendered resource takes its value from them: `id`, `externalId`,
//!   `userName` (`user_name_key`, folded), a group's `displayName` (`display_name_key`),
//!   `meta.created`/`meta.lastModified` (text in the store's format, so text order is time
//!   order). `userName eq`, `externalId eq` and group `displayName eq` use their indexes.
//! - Membership rows for a group's `members` and a user's `groups`, rendered from
//!   `group_members` the way `resources::related` renders them.
//! - Everything else from `data` with `json_extract(data, ?)`, the JSON path bound.
//!   Multi-valued and unknown attributes iterate with `json_each` when they hold an array.
//!   `active` is read from `data` too: the rendered resource shows `data`'s value, while the
//!   column defaults a missing one to 1.
//! - Every JSON comparison checks `json_type` first, since SQLite orders numbers before text
//!   and `json_extract` returns `true` as 1. Case-insensitive text compares with `lower()` and
//!   `LIKE`, which fold ASCII letters only; `eval` folds the same way. Case-exact `co`, `sw`
//!   and `ew` use `GLOB`.
//! - `NOT` wraps its operand in `COALESCE(..., 0)`: a comparison with a missing value is
//!   NULL in SQL, but false in `eval`, so `ne` and `not` must see it as false.
//!
//! PostgreSQL differs where the dialects do:
//! - `data` is text holding JSON: each read is `CAST(users.data AS jsonb) #> CAST(? AS
//!   text[])`, the path bound as a text array (`{"emails"}`). Arrays iterate with
//!   `jsonb_array_elements` (alias `e(value)`), whose argument is guarded to be an array, so
//!   no row's shape can raise an error; paths inside an element start from `e.value`.
//! - `jsonb_typeof` names the types `string`, `number`, `boolean`, `array`, `object`, `null`.
//!   Numbers compare as `eval` does: exactly (`numeric`) when both sides are integers, else as
//!   `double precision`; casts sit inside `CASE WHEN jsonb_typeof(..) = 'number'`, since
//!   `AND` does not order its operands. Booleans compare by type and text (`'true'`).
//! - Conditions are booleans (`TRUE`/`FALSE`, `COALESCE(..., FALSE)`), not 0/1.
//! - `lower()` folds by the collation's character rules, so it reads `lower(x COLLATE "C")`,
//!   which folds ASCII letters only, as SQLite and `eval` do. `LIKE` is case-sensitive: the
//!   text is lowered for case-insensitive attributes and left as is for case-exact ones (in
//!   place of `GLOB`), with the same `ESCAPE '\'` patterns. Ordering comparisons read
//!   `COLLATE "C"` (byte order, as `eval` compares); `eq` leaves the column as it is, so the
//!   `user_name_key`, `external_id` and `display_name_key` indexes serve it.
//! - Dates and keys are `COLLATE "C"` columns, and membership rows are plain columns: the
//!   same SQL as on SQLite.

use scim_protocol::ScimError;
use scim_protocol::ast::{AttrPath, CompValue, CompareOp, Filter};
use scim_protocol::eval::{self, Fold, Operand, Target};
use scim_protocol::schema::{AttrDef, ResourceKind};
use serde_json::{Value, json};
use sqlx::Any;
use sqlx::query::{Query, QueryAs, QueryScalar};

use crate::Backend;

/// A WHERE clause and its parameters, in the order of the clause's `?`s. The clause refers to
/// the table by its name (`users.data`), so select `FROM users` or `FROM groups` without an
/// alias; it is parenthesised, so it can be combined with `AND`. On PostgreSQL, pass the
/// whole statement through `Backend::sql` to number the placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlWhere {
    pub clause: String,
    pub binds: Vec<SqlBind>,
}

/// One bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlBind {
    Text(String),
    Int(i64),
    Real(f64),
    Null,
}

impl From<String> for SqlBind {
    fn from(v: String) -> Self {
        SqlBind::Text(v)
    }
}

impl From<&str> for SqlBind {
    fn from(v: &str) -> Self {
        SqlBind::Text(v.to_string())
    }
}

impl From<&String> for SqlBind {
    fn from(v: &String) -> Self {
        SqlBind::Text(v.clone())
    }
}

impl From<i64> for SqlBind {
    fn from(v: i64) -> Self {
        SqlBind::Int(v)
    }
}

impl From<f64> for SqlBind {
    fn from(v: f64) -> Self {
        SqlBind::Real(v)
    }
}

impl<T: Into<SqlBind>> From<Option<T>> for SqlBind {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlBind::Null, Into::into)
    }
}

impl From<&Option<String>> for SqlBind {
    fn from(v: &Option<String>) -> Self {
        v.as_ref().map_or(SqlBind::Null, Into::into)
    }
}

/// The bound parameters of a statement, in order: `binds![id, name, 1_i64]`.
macro_rules! binds {
    ($($v:expr),* $(,)?) => {
        [$($crate::filter_sql::SqlBind::from($v)),*]
    };
}
pub(crate) use binds;

/// Translates `filter` over resources of `kind` to a SQLite WHERE clause: [`to_sql_for`]
/// with [`Backend::Sqlite`].
pub fn to_sql(kind: ResourceKind, filter: &Filter) -> Result<SqlWhere, ScimError> {
    to_sql_for(Backend::Sqlite, kind, filter)
}

/// Translates `filter` over resources of `kind` to a WHERE clause for `backend`, with `?`
/// placeholders (see [`SqlWhere`]).
///
/// Errors: the type errors of [`eval::validate`] (`active gt true`), and `invalidFilter` for
/// attributes the store cannot filter on: `meta.location`, `meta.version` and `$ref`, which
/// are rendered from the request's base URL or the row version, and value filters on `meta`.
pub fn to_sql_for(backend: Backend, kind: ResourceKind, filter: &Filter) -> Result<SqlWhere, ScimError> {
    eval::validate(kind, filter)?;
    let mut w = Writer { backend, kind, sql: String::from("("), binds: Vec::new() };
    w.filter(&Scope::Root, filter)?;
    w.sql.push(')');
    Ok(SqlWhere { clause: w.sql, binds: w.binds })
}

/// A query that takes bound parameters: sqlx's `query`, `query_as` and `query_scalar`.
pub trait BindSql<'q>: Sized {
    fn bind_sql(self, bind: &'q SqlBind) -> Self;
}

/// Binds `binds` in order: `bind_all(sqlx::query_as(&sql), &w.binds).fetch_all(..)`.
pub fn bind_all<'q, Q: BindSql<'q>>(query: Q, binds: &'q [SqlBind]) -> Q {
    binds.iter().fold(query, |q, b| q.bind_sql(b))
}

macro_rules! bind_sql {
    ($q:expr, $b:expr) => {
        match $b {
            SqlBind::Text(s) => $q.bind(s.as_str()),
            SqlBind::Int(i) => $q.bind(*i),
            SqlBind::Real(f) => $q.bind(*f),
            SqlBind::Null => $q.bind(None::<&str>),
        }
    };
}

impl<'q> BindSql<'q> for Query<'q, Any, crate::db::Args<'q>> {
    fn bind_sql(self, bind: &'q SqlBind) -> Self {
        bind_sql!(self, bind)
    }
}

impl<'q, O> BindSql<'q> for QueryAs<'q, Any, O, crate::db::Args<'q>> {
    fn bind_sql(self, bind: &'q SqlBind) -> Self {
        bind_sql!(self, bind)
    }
}

impl<'q, O> BindSql<'q> for QueryScalar<'q, Any, O, crate::db::Args<'q>> {
    fn bind_sql(self, bind: &'q SqlBind) -> Self {
        bind_sql!(self, bind)
    }
}

/// Where a filter's paths are evaluated.
enum Scope {
    /// The resource row.
    Root,
    /// An element of a JSON attribute inside `[...]`: a path to it and its definition.
    Json { base: JsonPath, parent: Option<&'static AttrDef> },
    /// A `group_members` row (alias `m`) inside `members[...]` or `groups[...]`.
    Row(Rows),
}

#[derive(Clone, Copy)]
enum Rows {
    /// A group's `members`: rows with `m.group_id = groups.id`.
    Members,
    /// A user's `groups`: rows with `m.member_id = users.id`.
    Groups,
}

/// A JSON path: keys from the top of `data`, or from the array element `e` being iterated
/// (SQLite: `e.fullkey` from `json_each` plus a bound suffix; PostgreSQL: `e.value` from
/// `jsonb_array_elements`).
#[derive(Clone)]
struct JsonPath {
    in_element: bool,
    keys: Vec<String>,
}

impl JsonPath {
    const ROOT: JsonPath = JsonPath { in_element: false, keys: Vec::new() };
    const ELEMENT: JsonPath = JsonPath { in_element: true, keys: Vec::new() };

    /// The path one key further.
    fn key(&self, key: &str) -> Result<JsonPath, ScimError> {
        // Names come from the grammar, which has no quotes or backslashes; a hand-built tree
        // might, and would make a malformed path (a database error, not an injection).
        if key.contains(['"', '\\']) {
            return Err(not_filterable(key));
        }
        let mut p = self.clone();
        p.keys.push(key.to_string());
        Ok(p)
    }

    /// SQLite's form of the keys: `."urn:...:User"."manager"`.
    fn sqlite_keys(&self) -> String {
        self.keys.iter().map(|k| format!(".\"{k}\"")).collect()
    }

    /// PostgreSQL's form: a text array, `{"urn:...:User","manager"}`.
    fn postgres_keys(&self) -> String {
        let quoted: Vec<String> = self.keys.iter().map(|k| format!("\"{k}\"")).collect();
        format!("{{{}}}", quoted.join(","))
    }
}

/// What a comparison reads from a JSON element.
#[derive(Clone)]
enum JsonLeaf {
    At(JsonPath),
    /// An object element's `value`, or the element itself: complex attributes without a
    /// sub-attribute (`emails co "x"`).
    ValueOrSelf(JsonPath),
}

/// A column (or column expression) a comparison reads.
#[derive(Clone)]
enum Col {
    Text(String),
    /// A key folded with `to_lowercase`, and the column it folds (for `pr`).
    Key {
        key: &'static str,
        raw: &'static str,
    },
    Date(String),
}

/// What a path reads from the row.
enum Source {
    Col(Col),
    Json(Target),
    Rows(Rows),
    /// A value the same for every row of the kind: `meta.resourceType`.
    Const(Value),
    /// `meta` itself: always present, no `value`.
    Meta,
    /// A sub-attribute that never exists: `meta.nosuch`, `members.nosuch`.
    Absent,
}

fn not_filterable(path: impl std::fmt::Display) -> ScimError {
    ScimError::InvalidFilter {
        position: 0,
        expected: "an attribute the server can filter on".into(),
        found: Some(path.to_string()),
    }
}

fn table(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

fn symbol(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        _ => "=",
    }
}

/// A LIKE pattern for `co`/`sw`/`ew`, with `\`, `%` and `_` escaped (`ESCAPE '\'`).
fn like_pattern(op: CompareOp, value: &str) -> String {
    let v = value.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    match op {
        CompareOp::Sw => format!("{v}%"),
        CompareOp::Ew => format!("%{v}"),
        _ => format!("%{v}%"),
    }
}

/// A GLOB pattern (case-sensitive) for `co`/`sw`/`ew`, with `*`, `?` and `[` escaped.
fn glob_pattern(op: CompareOp, value: &str) -> String {
    let v: String = value
        .chars()
        .map(|c| match c {
            '*' => "[*]".to_string(),
            '?' => "[?]".to_string(),
            '[' => "[[]".to_string(),
            c => c.to_string(),
        })
        .collect();
    match op {
        CompareOp::Sw => format!("{v}*"),
        CompareOp::Ew => format!("*{v}"),
        _ => format!("*{v}*"),
    }
}

struct Writer {
    backend: Backend,
    kind: ResourceKind,
    sql: String,
    binds: Vec<SqlBind>,
}

impl Writer {
    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    fn bind(&mut self, b: SqlBind) {
        self.sql.push('?');
        self.binds.push(b);
    }

    fn pg(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// A constant condition: 1/0 on SQLite, a boolean on PostgreSQL.
    fn truth(&mut self, b: bool) {
        self.push(match (self.pg(), b) {
            (false, true) => "1",
            (false, false) => "0",
            (true, true) => "TRUE",
            (true, false) => "FALSE",
        });
    }

    fn data(&self) -> String {
        format!("{}.data", table(self.kind))
    }

    fn filter(&mut self, scope: &Scope, f: &Filter) -> Result<(), ScimError> {
        match f {
            // Chains are written flat: deep parentheses would hit SQLite's parser limits.
            Filter::And(..) | Filter::Or(..) => {
                let joiner = if matches!(f, Filter::And(..)) { " AND " } else { " OR " };
                self.push("(");
                for (i, operand) in f.chain().into_iter().enumerate() {
                    if i > 0 {
                        self.push(joiner);
                    }
                    self.filter(scope, operand)?;
                }
                self.push(")");
            }
            Filter::Not(inner) => self.negated(|w| w.filter(scope, inner))?,
            Filter::Present(path) => self.present(scope, path)?,
            Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Null } => {
                self.negated(|w| w.present(scope, path))?;
            }
            Filter::Compare { path, op: CompareOp::Ne, value: CompValue::Null } => self.present(scope, path)?,
            Filter::Compare { path, op: CompareOp::Ne, value } => {
                self.negated(|w| w.compare(scope, path, CompareOp::Eq, value))?;
            }
            Filter::Compare { path, op, value } => self.compare(scope, path, *op, value)?,
            Filter::ValuePath { path, filter } => match scope {
                Scope::Root => self.value_path(path, filter)?,
                _ => return Err(not_filterable(path)),
            },
        }
        Ok(())
    }

    /// `NOT COALESCE(x, 0)`: a NULL (missing value) counts as false before negation.
    fn negated(&mut self, inner: impl FnOnce(&mut Self) -> Result<(), ScimError>) -> Result<(), ScimError> {
        self.push("NOT COALESCE(");
        inner(self)?;
        self.push(if self.pg() { ", FALSE)" } else { ", 0)" });
        Ok(())
    }

    fn source(&self, scope: &Scope, path: &AttrPath) -> Result<(Source, Target), ScimError> {
        let t = match scope {
            Scope::Root => eval::target(self.kind, path),
            Scope::Json { parent, .. } => eval::element_target(*parent, path),
            Scope::Row(rows) => eval::element_target(self.rows_def(*rows), path),
        };
        let source = match scope {
            Scope::Root => self.root_source(&t)?,
            Scope::Json { .. } => Source::Json(t.clone()),
            Scope::Row(rows) => match &t.sub {
                Some(_) => Source::Absent,
                None => row_column(*rows, &t.name).ok_or_else(|| not_filterable(path))?,
            },
        };
        Ok((source, t))
    }

    fn rows_def(&self, rows: Rows) -> Option<&'static AttrDef> {
        let (kind, name) = match rows {
            Rows::Members => (ResourceKind::Group, "members"),
            Rows::Groups => (ResourceKind::User, "groups"),
        };
        kind.find_attr(None, name).map(|(_, a)| a)
    }

    fn root_source(&self, t: &Target) -> Result<Source, ScimError> {
        if t.container.is_some() || t.attr.is_none() {
            return Ok(Source::Json(t.clone()));
        }
        let tb = table(self.kind);
        let col = |c: &str| Source::Col(Col::Text(format!("{tb}.{c}")));
        Ok(match (self.kind, t.name.as_str(), t.sub.as_deref()) {
            (_, "id", None) => col("id"),
            (_, "externalId", None) => col("external_id"),
            (ResourceKind::User, "userName", None) => {
                Source::Col(Col::Key { key: "users.user_name_key", raw: "users.user_name" })
            }
            (ResourceKind::Group, "displayName", None) => {
                Source::Col(Col::Key { key: "groups.display_name_key", raw: "groups.display_name" })
            }
            (_, "meta", None) => Source::Meta,
            (_, "meta", Some("created")) => Source::Col(Col::Date(format!("{tb}.created"))),
            (_, "meta", Some("lastModified")) => Source::Col(Col::Date(format!("{tb}.last_modified"))),
            (_, "meta", Some("resourceType")) => Source::Const(json!(self.kind.name())),
            (_, "meta", Some(sub @ ("location" | "version"))) => {
                return Err(not_filterable(format!("meta.{sub}")));
            }
            (_, "meta", Some(_)) => Source::Absent,
            (ResourceKind::User, "groups", _) => Source::Rows(Rows::Groups),
            (ResourceKind::Group, "members", _) => Source::Rows(Rows::Members),
            _ => Source::Json(t.clone()),
        })
    }

    fn present(&mut self, scope: &Scope, path: &AttrPath) -> Result<(), ScimError> {
        let (source, t) = self.source(scope, path)?;
        match source {
            Source::Col(c) => self.col_present(&c),
            Source::Const(v) => self.truth(eval::is_present(&v)),
            Source::Meta => self.truth(true),
            Source::Absent => self.truth(false),
            Source::Rows(rows) => self.rows_exists(rows, |w| {
                match &t.sub {
                    None => w.truth(true),
                    Some(sub) => match row_column(rows, sub).ok_or_else(|| not_filterable(path))? {
                        Source::Col(c) => w.col_present(&c),
                        Source::Const(v) => w.truth(eval::is_present(&v)),
                        _ => w.truth(false),
                    },
                }
                Ok(())
            })?,
            Source::Json(t) => match scope {
                Scope::Json { base, .. } => {
                    let p = relative(base, &t)?;
                    self.json_present(&JsonLeaf::At(p));
                }
                _ => {
                    let a = self.root_path(&t)?;
                    match &t.sub {
                        None => self.json_present(&JsonLeaf::At(a)),
                        Some(sub) if !t.multi_valued() => self.json_present(&JsonLeaf::At(a.key(sub)?)),
                        Some(sub) => {
                            let sub = sub.clone();
                            self.each(&a, |w, e| {
                                w.json_present(&JsonLeaf::At(e.key(&sub)?));
                                Ok(())
                            })?
                        }
                    }
                }
            },
        }
        Ok(())
    }

    /// A comparison other than `ne` and `null`.
    fn compare(&mut self, scope: &Scope, path: &AttrPath, op: CompareOp, value: &CompValue) -> Result<(), ScimError> {
        let (source, t) = self.source(scope, path)?;
        let operand = eval::operand(&t, op, value)?;
        match source {
            Source::Col(c) => self.col_compare(&c, op, &operand),
            Source::Const(v) => self.truth(eval::leaf_matches(&v, op, &operand)),
            Source::Meta | Source::Absent => self.truth(false),
            Source::Rows(rows) => {
                let sub = t.sub.clone().unwrap_or_else(|| "value".into());
                let leaf = row_column(rows, &sub).ok_or_else(|| not_filterable(path))?;
                self.rows_exists(rows, |w| {
                    match &leaf {
                        Source::Col(c) => w.col_compare(c, op, &operand),
                        Source::Const(v) => w.truth(eval::leaf_matches(v, op, &operand)),
                        _ => w.truth(false),
                    }
                    Ok(())
                })?;
            }
            Source::Json(t) => match scope {
                Scope::Json { base, .. } => {
                    let p = relative(base, &t)?;
                    self.json_compare(&JsonLeaf::At(p), op, &operand)?;
                }
                _ => {
                    let a = self.root_path(&t)?;
                    let leaf = |e: &JsonPath| -> Result<JsonLeaf, ScimError> {
                        Ok(match &t.sub {
                            Some(sub) => JsonLeaf::At(e.key(sub)?),
                            None if t.compares_value() => JsonLeaf::ValueOrSelf(e.clone()),
                            None => JsonLeaf::At(e.clone()),
                        })
                    };
                    if t.multi_valued() {
                        self.each(&a, |w, e| w.json_compare(&leaf(e)?, op, &operand))?;
                    } else {
                        self.json_compare(&leaf(&a)?, op, &operand)?;
                    }
                }
            },
        }
        Ok(())
    }

    fn value_path(&mut self, path: &AttrPath, inner: &Filter) -> Result<(), ScimError> {
        let (source, t) = self.source(&Scope::Root, path)?;
        match source {
            Source::Rows(rows) => self.rows_exists(rows, |w| w.filter(&Scope::Row(rows), inner)),
            Source::Json(t) => {
                let a = self.root_path(&t)?;
                let parent = t.attr;
                // An element exists (even `null`), then the inner filter holds for it.
                let one = |w: &mut Self, base: &JsonPath| -> Result<(), ScimError> {
                    w.push("(");
                    w.json_type(&JsonLeaf::At(base.clone()));
                    w.push(" IS NOT NULL AND ");
                    w.filter(&Scope::Json { base: base.clone(), parent }, inner)?;
                    w.push(")");
                    Ok(())
                };
                if t.multi_valued() {
                    // An array's elements exist; a single value must be checked.
                    self.each(&a, |w, e| match e.in_element {
                        true => w.filter(&Scope::Json { base: e.clone(), parent }, inner),
                        false => one(w, e),
                    })?;
                } else {
                    one(self, &a)?;
                }
                Ok(())
            }
            _ => Err(not_filterable(&t.name)),
        }
    }

    /// The path of a top-level target: the extension URN, then the name.
    fn root_path(&self, t: &Target) -> Result<JsonPath, ScimError> {
        let mut p = JsonPath::ROOT;
        if let Some(urn) = &t.container {
            p = p.key(urn)?;
        }
        p.key(&t.name)
    }

    /// `pred` on each element when the attribute holds an array, else on the value itself.
    fn each(
        &mut self,
        a: &JsonPath,
        pred: impl Fn(&mut Self, &JsonPath) -> Result<(), ScimError>,
    ) -> Result<(), ScimError> {
        self.push("CASE WHEN ");
        self.json_type(&JsonLeaf::At(a.clone()));
        self.push(" = 'array' THEN EXISTS (SELECT 1 FROM ");
        if self.pg() {
            // Guarded again inside: the function raises an error on anything but an array.
            self.push("jsonb_array_elements(CASE WHEN ");
            self.json_type(&JsonLeaf::At(a.clone()));
            self.push(" = 'array' THEN ");
            self.jsonb(&JsonLeaf::At(a.clone()));
            self.push(" END) AS e(value)");
        } else {
            self.push("json_each(");
            self.push(&self.data());
            self.push(", ");
            self.path(a);
            self.push(") e");
        }
        self.push(" WHERE ");
        pred(self, &JsonPath::ELEMENT)?;
        self.push(") ELSE ");
        pred(self, a)?;
        self.push(" END");
        Ok(())
    }

    fn rows_exists(
        &mut self,
        rows: Rows,
        pred: impl FnOnce(&mut Self) -> Result<(), ScimError>,
    ) -> Result<(), ScimError> {
        self.push(match rows {
            Rows::Members => "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.id AND ",
            Rows::Groups => "EXISTS (SELECT 1 FROM group_members m WHERE m.member_id = users.id AND ",
        });
        pred(self)?;
        self.push(")");
        Ok(())
    }

    /// SQLite: a JSON path argument for `json_extract(data, ..)`/`json_type(data, ..)`.
    fn path(&mut self, p: &JsonPath) {
        match (p.in_element, p.keys.is_empty()) {
            (false, _) => self.bind(SqlBind::Text(format!("${}", p.sqlite_keys()))),
            (true, true) => self.push("e.fullkey"),
            (true, false) => {
                self.push("(e.fullkey || ");
                self.bind(SqlBind::Text(p.sqlite_keys()));
                self.push(")");
            }
        }
    }

    /// SQLite: the path argument a leaf reads.
    fn leaf_path(&mut self, leaf: &JsonLeaf) {
        match leaf {
            JsonLeaf::At(p) => self.path(p),
            JsonLeaf::ValueOrSelf(p) => {
                self.push("CASE WHEN json_type(");
                self.push(&self.data());
                self.push(", ");
                self.path(p);
                self.push(") = 'object' THEN ");
                self.path(&JsonPath { in_element: p.in_element, keys: [&p.keys[..], &["value".into()]].concat() });
                self.push(" ELSE ");
                self.path(p);
                self.push(" END");
            }
        }
    }

    /// PostgreSQL: the jsonb value at a path (NULL when missing).
    fn jsonb_at(&mut self, p: &JsonPath) {
        let base = if p.in_element { "e.value".to_string() } else { format!("CAST({} AS jsonb)", self.data()) };
        if p.keys.is_empty() {
            self.push(&base);
        } else {
            self.push(&format!("({base} #> CAST("));
            self.bind(SqlBind::Text(p.postgres_keys()));
            self.push(" AS text[]))");
        }
    }

    /// PostgreSQL: the jsonb value a leaf reads.
    fn jsonb(&mut self, leaf: &JsonLeaf) {
        match leaf {
            JsonLeaf::At(p) => self.jsonb_at(p),
            JsonLeaf::ValueOrSelf(p) => {
                self.push("(CASE WHEN jsonb_typeof(");
                self.jsonb_at(p);
                self.push(") = 'object' THEN ");
                self.jsonb_at(p);
                self.push(" -> 'value' ELSE ");
                self.jsonb_at(p);
                self.push(" END)");
            }
        }
    }

    /// The JSON type of a leaf, NULL when missing.
    fn json_type(&mut self, leaf: &JsonLeaf) {
        if self.pg() {
            self.push("jsonb_typeof(");
            self.jsonb(leaf);
        } else {
            self.push("json_type(");
            self.push(&self.data());
            self.push(", ");
            self.leaf_path(leaf);
        }
        self.push(")");
    }

    /// A leaf as SQL text (for strings; SQLite gives numbers as numbers).
    fn json_value(&mut self, leaf: &JsonLeaf) {
        if self.pg() {
            self.push("(");
            self.jsonb(leaf);
            self.push(" #>> '{}')");
        } else {
            self.push("json_extract(");
            self.push(&self.data());
            self.push(", ");
            self.leaf_path(leaf);
            self.push(")");
        }
    }

    /// `pr` on a JSON value: not null, `""`, `[]` or `{}`.
    fn json_present(&mut self, leaf: &JsonLeaf) {
        if self.pg() {
            self.push("COALESCE(");
            self.jsonb(leaf);
            self.push(
                " NOT IN (CAST('null' AS jsonb), CAST('\"\"' AS jsonb), CAST('[]' AS jsonb), CAST('{}' AS jsonb)), FALSE)",
            );
            return;
        }
        self.push("CASE ");
        self.json_type(leaf);
        for (ty, empty) in [("text", "''"), ("array", "'[]'"), ("object", "'{}'")] {
            self.push(&format!(" WHEN '{ty}' THEN "));
            self.json_value(leaf);
            self.push(&format!(" <> {empty}"));
        }
        self.push(" WHEN 'null' THEN 0 ELSE ");
        self.json_type(leaf);
        self.push(" IS NOT NULL END");
    }

    fn json_compare(&mut self, leaf: &JsonLeaf, op: CompareOp, operand: &Operand) -> Result<(), ScimError> {
        match operand {
            Operand::Text { value, fold } => {
                self.push("(");
                self.json_type(leaf);
                self.push(if self.pg() { " = 'string' AND " } else { " = 'text' AND " });
                self.text_compare(|w| w.json_value(leaf), op, value, *fold);
                self.push(")");
            }
            Operand::Number(n) if self.pg() => {
                // Inside CASE, so no cast meets a value of another type. Integers compare
                // exactly, as `eval` compares two i64s; anything else as doubles.
                let (int, real) = (n.as_i64(), n.as_f64());
                if int.is_none() && real.is_none() {
                    return Err(not_filterable(n));
                }
                self.push("CASE WHEN ");
                self.json_type(leaf);
                self.push(" = 'number' THEN ");
                if let Some(i) = int {
                    self.push("CASE WHEN scale(CAST(");
                    self.jsonb(leaf);
                    self.push(" AS numeric)) = 0 THEN CAST(");
                    self.jsonb(leaf);
                    self.push(&format!(" AS numeric) {} CAST(", symbol(op)));
                    self.bind(SqlBind::Int(i));
                    self.push(" AS numeric) ELSE ");
                }
                self.push("CAST(");
                self.jsonb(leaf);
                self.push(&format!(" AS double precision) {} CAST(", symbol(op)));
                self.bind(match int {
                    Some(i) => SqlBind::Real(i as f64),
                    None => SqlBind::Real(real.unwrap_or_default()),
                });
                self.push(" AS double precision)");
                if int.is_some() {
                    self.push(" END");
                }
                self.push(" ELSE FALSE END");
            }
            Operand::Number(n) => {
                self.push("(");
                self.json_type(leaf);
                self.push(" IN ('integer', 'real') AND ");
                self.json_value(leaf);
                self.push(&format!(" {} ", symbol(op)));
                match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => self.bind(SqlBind::Int(i)),
                    (None, Some(f)) => self.bind(SqlBind::Real(f)),
                    (None, None) => return Err(not_filterable(n)),
                }
                self.push(")");
            }
            Operand::Bool(b) if self.pg() => {
                self.push("(");
                self.json_type(leaf);
                self.push(" = 'boolean' AND ");
                self.json_value(leaf);
                self.push(if *b { " = 'true')" } else { " = 'false')" });
            }
            Operand::Bool(b) => {
                self.json_type(leaf);
                self.push(if *b { " = 'true'" } else { " = 'false'" });
            }
            // Only `meta.created`/`meta.lastModified` are dateTimes, and they are columns.
            Operand::Date(_) => return Err(not_filterable("a dateTime inside data")),
        }
        Ok(())
    }

    /// Compares the text `lhs` writes with an already folded `value`.
    fn text_compare(&mut self, lhs: impl Fn(&mut Self), op: CompareOp, value: &str, fold: Fold) {
        let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        if self.pg() {
            // `lower` under "C" folds ASCII letters only, like `eval`; PostgreSQL's LIKE is
            // case-sensitive, so case-exact attributes take it as it is. `eq` needs no
            // collation (and keeps the column's index); ordering is byte order, as in `eval`.
            if fold == Fold::Ascii {
                self.push("lower(");
                lhs(self);
                self.push(" COLLATE \"C\")");
            } else {
                lhs(self);
                if !substring && op != CompareOp::Eq {
                    self.push(" COLLATE \"C\"");
                }
            }
            if substring {
                self.push(" LIKE ");
                self.bind(SqlBind::Text(like_pattern(op, value)));
                self.push(" ESCAPE '\\'");
            } else {
                self.push(&format!(" {} ", symbol(op)));
                self.bind(SqlBind::Text(value.to_string()));
            }
            return;
        }
        if substring {
            lhs(self);
            if fold == Fold::Exact {
                self.push(" GLOB ");
                self.bind(SqlBind::Text(glob_pattern(op, value)));
            } else {
                // LIKE ignores ASCII case, the folding `eval` applies.
                self.push(" LIKE ");
                self.bind(SqlBind::Text(like_pattern(op, value)));
                self.push(" ESCAPE '\\'");
            }
        } else {
            if fold == Fold::Ascii {
                self.push("lower(");
                lhs(self);
                self.push(")");
            } else {
                lhs(self);
            }
            self.push(&format!(" {} ", symbol(op)));
            self.bind(SqlBind::Text(value.to_string()));
        }
    }

    fn col_present(&mut self, c: &Col) {
        let expr = match c {
            Col::Text(e) | Col::Date(e) => e.clone(),
            Col::Key { raw, .. } => raw.to_string(),
        };
        self.push(&format!("({expr} IS NOT NULL AND {expr} <> '')"));
    }

    fn col_compare(&mut self, c: &Col, op: CompareOp, operand: &Operand) {
        match (c, operand) {
            (Col::Text(e), Operand::Text { value, fold }) => {
                let e = e.clone();
                self.text_compare(|w| w.push(&e), op, value, *fold);
            }
            // The key is folded with `to_lowercase` and so is the operand (`Fold::Unicode`).
            (Col::Key { key, .. }, Operand::Text { value, .. }) => {
                self.text_compare(|w| w.push(key), op, value, Fold::Unicode);
            }
            // Both stores keep dates as `COLLATE "C"`/binary text in one format.
            (Col::Date(e), Operand::Date(d)) => {
                self.push(&format!("{e} {} ", symbol(op)));
                self.bind(SqlBind::Text(Operand::date_text(d)));
            }
            // Columns hold text; `eval` never matches text against another type.
            _ => self.truth(false),
        }
    }
}

/// The path of a relative target inside `[...]`: the element, then `name`, then `sub`.
fn relative(base: &JsonPath, t: &Target) -> Result<JsonPath, ScimError> {
    let p = base.key(&t.name)?;
    match &t.sub {
        Some(sub) => p.key(sub),
        None => Ok(p),
    }
}

/// The column of a `group_members` row (alias `m`) holding a sub-attribute of `members` or
/// `groups`, as `resources::related` renders them; `None` for those rendered from the request
/// (`$ref`).
fn row_column(rows: Rows, name: &str) -> Option<Source> {
    let col = |e: &str| Some(Source::Col(Col::Text(e.to_string())));
    match (rows, name) {
        (_, "$ref") => None,
        (Rows::Members, "value") => col("m.member_id"),
        (Rows::Members, "type") => col("m.member_type"),
        (Rows::Members, "display") => {
            col("COALESCE(m.display, (SELECT COALESCE(u2.display_name, u2.user_name) FROM users u2 \
             WHERE u2.id = m.member_id), (SELECT g2.display_name FROM groups g2 WHERE g2.id = m.member_id))")
        }
        (Rows::Groups, "value") => col("m.group_id"),
        (Rows::Groups, "display") => col("(SELECT g2.display_name FROM groups g2 WHERE g2.id = m.group_id)"),
        (Rows::Groups, "type") => Some(Source::Const(json!("direct"))),
        _ => Some(Source::Absent),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::db::Pool;
    use scim_protocol::eval::matches;
    use scim_protocol::filter::{MAX_FILTER_DEPTH, parse_filter};
    use serde_json::Map;

    use super::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    /// A store with the real migrations (SQLite in a temp file, or a fresh PostgreSQL
    /// database), and the resources GET would render for its rows (the way
    /// `resource::render` and `resources::related` do).
    struct Fixture {
        backend: Backend,
        pool: Pool,
        users: Vec<(String, Value)>,
        groups: Vec<(String, Value)>,
        _dir: tempfile::TempDir,
    }

    fn uid(n: usize) -> String {
        format!("00000000-0000-4000-8000-00000000000{n}")
    }

    fn gid(n: usize) -> String {
        format!("99999999-0000-4000-8000-00000000000{n}")
    }

    fn user_docs() -> Vec<Value> {
        vec![
            json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "bjensen@example.com",
                "externalId": "701984",
                "name": {"familyName": "O'Malley", "givenName": "Barbara"},
                "displayName": "Babs Jensen",
                "title": "Tour Guide",
                "userType": "Employee",
                "active": true,
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
                ENTERPRISE: {
                    "department": "Tour Operations",
                    "employeeNumber": "701984",
                    "manager": {"value": uid(3), "displayName": "John Smith"}
                }
            }),
            json!({
                "schemas": [USER],
                "userName": "ÉLODIE@Example.fr",
                "externalId": "E-1",
                "displayName": "Élodie",
                "title": "",
                "nickName": null,
                "active": false,
                "emails": [{"value": "elodie@example.fr", "type": "work", "primary": true}],
                "roles": []
            }),
            json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "jsmith@example.com",
                "userType": "Intern",
                "emails": [{"value": "JSmith@Example.COM", "type": "home"}],
                // Entra's plain-string manager, as sent.
                ENTERPRISE: {"department": "Engineering", "manager": uid(1)}
            }),
            json!({
                "schemas": [USER],
                "userName": "ann_100%@x.com",
                "externalId": "abc",
                "title": "a*b?[c]",
                "score": 3,
                "active": true,
                "phoneNumbers": [{"value": "+1 555", "type": "work"}],
                "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}]
            }),
            json!({
                "schemas": [USER, "urn:example:ext:1.0:User"],
                "userName": "annie@x.com",
                "externalId": "ABC",
                "title": "10",
                "active": true,
                "level": 7,
                "score": 2.5,
                "tags": ["Red", "blue"],
                "flag": true,
                "urn:example:ext:1.0:User": {"costCode": "X-1"}
            }),
            json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "zed",
                "active": true,
                ENTERPRISE: {"employeeNumber": "7"},
                "emails": []
            }),
            json!({
                "schemas": [USER],
                "userName": "kim@example.org",
                "displayName": "Kim",
                "userType": "Employee",
                "emails": [{"value": "kim@example.org", "type": "work"}, {"value": "k@example.com", "type": "other"}],
                "x509Certificates": [{"value": "MIIC"}]
            }),
            json!({
                "schemas": [USER],
                "userName": "lee@example.com",
                "externalId": "701984-b",
                "displayName": "lee",
                "title": "Tour guide",
                "userType": "Employee",
                "active": false,
                "emails": [{"value": "lee@example.com", "type": "work", "primary": false}]
            }),
        ]
    }

    /// (id, displayName, externalId, members as (member id, type, stored display)).
    #[allow(clippy::type_complexity)]
    fn group_rows()
    -> Vec<(String, &'static str, Option<&'static str>, Vec<(String, &'static str, Option<&'static str>)>)> {
        vec![
            (gid(1), "Tour Guides", Some("G-1"), vec![(uid(1), "User", Some("Babs Jensen")), (uid(2), "User", None)]),
            (
                gid(2),
                "Engineering",
                None,
                vec![(uid(3), "User", None), (gid(1), "Group", None), (uid(8), "User", None)],
            ),
            (gid(3), "Empty", Some("g-1"), vec![]),
            (gid(4), "ÉQUIPE", None, vec![("ghost".to_string(), "User", None)]),
        ]
    }

    fn meta(kind: ResourceKind, id: &str, created: &str, modified: &str) -> Value {
        json!({
            "resourceType": kind.name(),
            "created": created,
            "lastModified": modified,
            "location": format!("https://example.com/scim/v2/{}/{id}", kind.endpoint()),
            "version": "W/\"1\"",
        })
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::connect_sqlite(&dir.path().join("scim.db"), 1, 0).await.unwrap();
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.unwrap();
        fill(Backend::Sqlite, pool, dir).await
    }

    /// The fixture on a fresh database of the PostgreSQL test server, or `None` (with a note)
    /// when the tests run on SQLite only.
    async fn postgres_fixture(test: &str) -> Option<Fixture> {
        let Some(server) = crate::testing::postgres_url() else {
            println!("{test}: skipped, TALKWRITER_TEST_DATABASE_URL names no PostgreSQL server");
            return None;
        };
        let url = crate::testing::fresh_postgres_database(&server).await.unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
        sqlx::migrate!("./migrations/postgres").run(&pool).await.unwrap();
        Some(fill(Backend::Postgres, pool, tempfile::tempdir().unwrap()).await)
    }

    async fn fill(backend: Backend, pool: Pool, dir: tempfile::TempDir) -> Fixture {
        let docs = user_docs();
        let groups = group_rows();
        let mut users = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let id = uid(i + 1);
            let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
            let user_name = text("userName").unwrap();
            let (created, modified) =
                (format!("2026-01-0{}T10:00:00.000Z", i + 1), format!("2026-02-0{}T10:00:00.123Z", 8 - i));
            sqlx::query(&backend.sql(
                "INSERT INTO users (id, user_name, user_name_key, external_id, display_name, active, data, created, last_modified)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ))
            .bind(&id)
            .bind(&user_name)
            .bind(user_name.to_lowercase())
            .bind(text("externalId"))
            .bind(text("displayName"))
            .bind(i64::from(doc.get("active").and_then(Value::as_bool).unwrap_or(true)))
            .bind(doc.to_string())
            .bind(&created)
            .bind(&modified)
            .execute(&pool)
            .await
            .unwrap();
            let mut r: Map<String, Value> = doc.as_object().unwrap().clone();
            r.insert("id".into(), json!(id));
            let mine: Vec<Value> = groups
                .iter()
                .filter(|g| g.3.iter().any(|m| m.0 == id))
                .map(|g| json!({"value": g.0, "$ref": format!("https://example.com/scim/v2/Groups/{}", g.0), "display": g.1, "type": "direct"}))
                .collect();
            if !mine.is_empty() {
                r.insert("groups".into(), Value::Array(mine));
            }
            r.insert("meta".into(), meta(ResourceKind::User, &id, &created, &modified));
            users.push((id, Value::Object(r)));
        }

        let mut rendered = Vec::new();
        for (i, (id, name, external_id, _)) in groups.iter().enumerate() {
            let (created, modified) =
                (format!("2026-02-0{}T00:00:00.000Z", i + 1), format!("2026-02-0{}T12:00:00.000Z", i + 1));
            let mut doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
            if let Some(e) = external_id {
                doc["externalId"] = json!(e);
            }
            sqlx::query(&backend.sql(
                "INSERT INTO groups (id, display_name, display_name_key, external_id, data, created, last_modified)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            ))
            .bind(id)
            .bind(name)
            .bind(name.to_lowercase())
            .bind(external_id)
            .bind(doc.to_string())
            .bind(&created)
            .bind(&modified)
            .execute(&pool)
            .await
            .unwrap();
            rendered.push((id.clone(), doc, created, modified));
        }
        // Members after all groups exist (a group can be a member of another).
        let mut out = Vec::new();
        for ((id, doc, created, modified), (_, _, _, members)) in rendered.into_iter().zip(&groups) {
            let mut list = Vec::new();
            for (member, ty, display) in members {
                sqlx::query(&backend.sql(
                    "INSERT INTO group_members (group_id, member_id, member_type, display, added) VALUES (?, ?, ?, ?, ?)",
                ))
                    .bind(&id)
                    .bind(member)
                    .bind(ty)
                    .bind(display)
                    .bind("2026-03-01T00:00:00.000Z")
                    .execute(&pool)
                    .await
                    .unwrap();
                // COALESCE(m.display, u.display_name, u.user_name, g.display_name)
                let user = users.iter().find(|(u, _)| u == member).map(|(_, r)| r);
                let shown = display.map(str::to_string).or_else(|| {
                    user.and_then(|u| {
                        u.get("displayName").or(u.get("userName")).and_then(Value::as_str).map(str::to_string)
                    })
                    .or_else(|| groups.iter().find(|g| &g.0 == member).map(|g| g.1.to_string()))
                });
                let mut m =
                    json!({"value": member, "$ref": format!("https://example.com/scim/v2/Users/{member}"), "type": ty});
                if let Some(d) = shown {
                    m["display"] = json!(d);
                }
                list.push(m);
            }
            let mut r = doc.as_object().unwrap().clone();
            r.insert("id".into(), json!(id));
            r.insert("members".into(), Value::Array(list));
            r.insert("meta".into(), meta(ResourceKind::Group, &id, &created, &modified));
            out.push((id, Value::Object(r)));
        }
        Fixture { backend, pool, users, groups: out, _dir: dir }
    }

    async fn sql_ids(fx: &Fixture, kind: ResourceKind, filter: &Filter) -> BTreeSet<String> {
        let w = to_sql_for(fx.backend, kind, filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        let sql = fx.backend.sql(&format!("SELECT id FROM {} WHERE {}", table(kind), w.clause)).into_owned();
        let ids: Vec<String> = bind_all(sqlx::query_scalar(&sql), &w.binds)
            .fetch_all(&fx.pool)
            .await
            .unwrap_or_else(|e| panic!("{filter}: {e}\n{sql}\n{:?}", w.binds));
        ids.into_iter().collect()
    }

    fn eval_ids(kind: ResourceKind, resources: &[(String, Value)], filter: &Filter) -> BTreeSet<String> {
        resources.iter().filter(|(_, r)| matches(kind, r, filter)).map(|(id, _)| id.clone()).collect()
    }

    fn user_filters() -> Vec<String> {
        let e = ENTERPRISE;
        let (u1, u3, g1) = (uid(1), uid(3), gid(1));
        [
            r#"userName eq "bjensen@example.com""#,
            r#"userName eq "BJENSEN@EXAMPLE.COM""#,
            r#"userName eq "élodie@example.fr""#,
            r#"userName sw "J""#,
            r#"userName co "_100%""#,
            r#"userName co "%""#,
            r#"userName ew ".COM""#,
            r#"userName gt "j""#,
            r#"externalId eq "701984""#,
            r#"externalId eq "abc""#,
            r#"externalId ne "abc""#,
            r#"externalId co "B""#,
            r#"externalId sw "70""#,
            "externalId pr",
            "externalId eq null",
            &format!(r#"id eq "{u1}""#),
            &format!(r#"not (id eq "{u1}")"#),
            "active eq true",
            "active eq false",
            "active ne true",
            r#"active eq "False""#,
            r#"displayName eq "élodie""#,
            r#"displayName co "BABS""#,
            "title pr",
            "title eq null",
            r#"title eq "10""#,
            "title eq 10",
            r#"title co "*b?[""#,
            r#"title sw "tour g""#,
            r#"title gt "T""#,
            r#"name.familyName co "o'malley""#,
            "name pr",
            r#"emails co "example.com""#,
            r#"emails.value ew "@example.COM""#,
            r#"emails.type eq "work""#,
            r#"emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and primary eq true]"#,
            r#"emails[not (type eq "work")]"#,
            "emails.primary eq true",
            "emails.primary ne true",
            "emails ne null",
            "phoneNumbers pr",
            r#"addresses[type eq "work" and locality sw "spring"]"#,
            &format!(r#"{e}:department eq "tour operations""#),
            &format!(r#"{e}:manager.value eq "{u3}""#),
            &format!(r#"{e}:manager eq "{u1}""#),
            &format!(r#"{e}:manager[value pr]"#),
            &format!("{e}:employeeNumber eq 7"),
            &format!("{e}:department pr"),
            r#"meta.created gt "2026-01-03T10:00:00Z""#,
            r#"meta.lastModified le "2026-02-05T10:00:00.123Z""#,
            r#"meta.created eq "2026-01-02T11:00:00+01:00""#,
            r#"meta.created ge "2026-01-04""#,
            r#"meta.resourceType eq "User""#,
            r#"meta.resourceType eq "Group""#,
            "meta pr",
            "groups pr",
            &format!(r#"groups.value eq "{g1}""#),
            r#"groups[display eq "tour guides"]"#,
            r#"groups.type eq "direct""#,
            "not (groups pr)",
            "level gt 6",
            "level eq 7",
            r#"level eq "7""#,
            "level ge 7.0",
            "level lt 7.5",
            "score gt 2.5",
            "score ge 2.5",
            "score eq 3",
            "score lt 3.0",
            "score le 2",
            "score pr",
            "flag eq false",
            "not (flag eq true)",
            "tags pr",
            r#"displayName gt "b""#,
            r#"displayName lt "Kim""#,
            r#"title ge "tour guide""#,
            r#"emails[value lt "c"]"#,
            r#"emails.type gt "h""#,
            r#"externalId lt "E""#,
            r#"userName ge "k""#,
            r#"userName co "IE@""#,
            r#"userName sw "É""#,
            r#"tags eq "red""#,
            r#"tags co "LU""#,
            "flag eq true",
            r#"urn:example:ext:1.0:User:costCode eq "x-1""#,
            // OneLogin's SCIM 1.1 URNs stand for the 2.0 schemas.
            r#"urn:scim:schemas:core:1.0:userName eq "BJENSEN@example.com""#,
            r#"URN:SCIM:SCHEMAS:CORE:1.0:name.givenName sw "bar""#,
            r#"urn:scim:schemas:extension:enterprise:1.0:department eq "engineering""#,
            &format!(r#"schemas eq "{e}""#),
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"title pr or userType eq "Intern""#,
            "nickName pr",
            "nickName eq null",
            "x509Certificates pr",
            "roles eq null",
            r#"userName eq "a" and externalId eq "b""#,
            r#"userName eq "bjensen@example.com" and externalId eq "701984""#,
        ]
        .into_iter()
        .map(str::to_string)
        .collect()
    }

    fn group_filters() -> Vec<String> {
        let (u1, g1) = (uid(1), gid(1));
        [
            r#"displayName eq "tour guides""#,
            r#"displayName eq "équipe""#,
            r#"displayName co "ÉQ""#,
            r#"displayName sw "t""#,
            r#"displayName ne "Empty""#,
            r#"externalId eq "G-1""#,
            r#"externalId eq "g-1""#,
            "members pr",
            &format!(r#"members eq "{u1}""#),
            &format!(r#"members.value eq "{g1}""#),
            r#"members[type eq "group"]"#,
            r#"members[display eq "élodie"]"#,
            r#"members[display eq "Élodie"]"#,
            r#"members.display co "jsmith""#,
            r#"members[value eq "ghost" and not (display pr)]"#,
            "not (members pr)",
            "members.display pr",
            r#"meta.lastModified gt "2026-02-02T00:00:00Z""#,
            r#"meta.created lt "2026-02-03""#,
            r#"members.display lt "f""#,
            r#"members[display ge "Babs" and type eq "user"]"#,
            r#"members.type co "RO""#,
            r#"members.value sw "0000""#,
            r#"displayName gt "f""#,
            r#"externalId co "-""#,
            r#"displayName eq "Tour Guides" or members.type eq "Group""#,
        ]
        .into_iter()
        .map(str::to_string)
        .collect()
    }

    /// For every filter in the tables, the rows the SQL selects are exactly the resources
    /// `eval::matches` selects on their rendered JSON: the store and the evaluator agree.
    #[tokio::test]
    async fn sql_agrees_with_eval() {
        sql_agrees_with_eval_on(&fixture().await).await;
    }

    #[tokio::test]
    async fn sql_agrees_with_eval_postgres() {
        if let Some(fx) = postgres_fixture("sql_agrees_with_eval_postgres").await {
            sql_agrees_with_eval_on(&fx).await;
        }
    }

    async fn sql_agrees_with_eval_on(fx: &Fixture) {
        let mut distinct = BTreeSet::new();
        for (kind, resources, filters) in
            [(ResourceKind::User, &fx.users, user_filters()), (ResourceKind::Group, &fx.groups, group_filters())]
        {
            for input in filters {
                let filter = parse_filter(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
                let want = eval_ids(kind, resources, &filter);
                let got = sql_ids(fx, kind, &filter).await;
                assert_eq!(got, want, "{kind:?} {input}: SQL and eval must select the same resources");
                distinct.insert(want.len());
            }
        }
        assert!(distinct.len() > 4, "the tables must select varied subsets, not all or nothing: {distinct:?}");
    }

    /// Spot checks that the agreed answers are the intended ones, so agreement is not two
    /// identical mistakes.
    #[tokio::test]
    async fn sql_answers() {
        sql_answers_on(&fixture().await).await;
    }

    #[tokio::test]
    async fn sql_answers_postgres() {
        if let Some(fx) = postgres_fixture("sql_answers_postgres").await {
            sql_answers_on(&fx).await;
        }
    }

    async fn sql_answers_on(fx: &Fixture) {
        for (kind, input, want) in [
            (ResourceKind::User, r#"userName eq "BJensen@example.com""#, vec![uid(1)]),
            (ResourceKind::User, r#"userName eq "élodie@example.fr""#, vec![uid(2)]),
            (ResourceKind::User, r#"userName co "_100%""#, vec![uid(4)]),
            (ResourceKind::User, r#"externalId eq "abc""#, vec![uid(4)]),
            (ResourceKind::User, "active eq true", vec![uid(1), uid(4), uid(5), uid(6)]),
            (ResourceKind::User, r#"title co "*b?[""#, vec![uid(4)]),
            (ResourceKind::User, r#"emails[type eq "work" and value co "@example.com"]"#, vec![uid(1), uid(8)]),
            (ResourceKind::User, &format!(r#"{ENTERPRISE}:manager eq "{}""#, uid(1)), vec![uid(3)]),
            (ResourceKind::User, r#"urn:scim:schemas:core:1.0:userName eq "bjensen@example.com""#, vec![uid(1)]),
            (ResourceKind::User, r#"urn:scim:schemas:extension:enterprise:1.0:department pr"#, vec![uid(1), uid(3)]),
            (ResourceKind::User, r#"meta.created eq "2026-01-02T11:00:00+01:00""#, vec![uid(2)]),
            (ResourceKind::User, "groups pr", vec![uid(1), uid(2), uid(3), uid(8)]),
            (ResourceKind::Group, r#"displayName eq "équipe""#, vec![gid(4)]),
            (ResourceKind::Group, r#"members.display co "jsmith""#, vec![gid(2)]),
            (ResourceKind::Group, "not (members pr)", vec![gid(3)]),
        ] {
            let got = sql_ids(fx, kind, &parse_filter(input).unwrap()).await;
            assert_eq!(got, want.into_iter().collect::<BTreeSet<_>>(), "{input}");
        }
    }

    /// The lookups IdPs send use an index rather than scanning the table.
    #[tokio::test]
    async fn idp_lookups_use_indexes() {
        let fx = fixture().await;
        for (kind, input, index) in [
            (ResourceKind::User, r#"userName eq "ann@example.com""#, "user_name_key"),
            (ResourceKind::User, r#"urn:scim:schemas:core:1.0:userName eq "ann@example.com""#, "user_name_key"),
            (ResourceKind::User, r#"externalId eq "701984""#, "users_external_id"),
            (ResourceKind::User, r#"userName eq "a" and externalId eq "b""#, "INDEX"),
            (ResourceKind::Group, r#"displayName eq "Tour Guides""#, "groups_display_name_key"),
            (ResourceKind::Group, r#"externalId eq "G-1""#, "groups_external_id"),
            (ResourceKind::User, r#"id eq "x""#, "INDEX"),
        ] {
            let w = to_sql(kind, &parse_filter(input).unwrap()).unwrap();
            let sql = format!("EXPLAIN QUERY PLAN SELECT id, data FROM {} WHERE {}", table(kind), w.clause);
            let plan: Vec<(i64, i64, i64, String)> =
                bind_all(sqlx::query_as(&sql), &w.binds).fetch_all(&fx.pool).await.unwrap();
            let details: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
            assert!(
                !details.iter().any(|d| d.starts_with(&format!("SCAN {}", table(kind)))),
                "{input} must not scan: {details:?}"
            );
            assert!(details.iter().any(|d| d.contains(index)), "{input} must use {index}: {details:?}");
        }
    }

    /// The PostgreSQL lookups IdPs send use an index too. The fixture is small enough that
    /// a scan would win, so scans are priced out for the check.
    #[tokio::test]
    async fn idp_lookups_use_indexes_postgres() {
        let Some(fx) = postgres_fixture("idp_lookups_use_indexes_postgres").await else { return };
        let mut conn = fx.pool.acquire().await.unwrap();
        sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
        for (kind, input, index) in [
            (ResourceKind::User, r#"userName eq "ann@example.com""#, "user_name_key"),
            (ResourceKind::User, r#"userName eq "ÉLODIE@example.fr""#, "users_user_name_key_key"),
            (ResourceKind::User, r#"externalId eq "701984""#, "users_external_id"),
            (ResourceKind::User, r#"userName eq "a" and externalId eq "b""#, "Index"),
            (ResourceKind::Group, r#"displayName eq "Tour Guides""#, "groups_display_name_key"),
            (ResourceKind::Group, r#"externalId eq "G-1""#, "groups_external_id"),
            (ResourceKind::User, r#"id eq "x""#, "users_pkey"),
        ] {
            let w = to_sql_for(Backend::Postgres, kind, &parse_filter(input).unwrap()).unwrap();
            let sql = Backend::Postgres
                .sql(&format!("EXPLAIN SELECT id, data FROM {} WHERE {}", table(kind), w.clause))
                .into_owned();
            let plan: Vec<String> = bind_all(sqlx::query_scalar(&sql), &w.binds).fetch_all(&mut *conn).await.unwrap();
            let plan = plan.join("\n");
            assert!(plan.contains("Index") && plan.contains(index), "{input} must use {index}:\n{plan}");
            assert!(!plan.contains("Seq Scan"), "{input} must not scan:\n{plan}");
        }
    }

    /// Every `?` in a clause is a placeholder with a bind, on both stores, so `Backend::sql`
    /// numbers them in bind order; SQLite's clause is the one `to_sql` always wrote.
    #[test]
    fn placeholders_match_binds() {
        for (kind, filters) in [(ResourceKind::User, user_filters()), (ResourceKind::Group, group_filters())] {
            for input in filters {
                let f = parse_filter(&input).unwrap();
                let lite = to_sql_for(Backend::Sqlite, kind, &f).unwrap();
                assert_eq!(lite, to_sql(kind, &f).unwrap());
                let pg = to_sql_for(Backend::Postgres, kind, &f).unwrap();
                for w in [&lite, &pg] {
                    assert_eq!(w.clause.matches('?').count(), w.binds.len(), "{input}: {}", w.clause);
                }
                let numbered = Backend::Postgres.sql(&pg.clause);
                assert!(!numbered.contains('?'), "{input}: {numbered}");
                assert!(numbered.contains(&format!("${}", pg.binds.len())) || pg.binds.is_empty(), "{input}");
                assert!(!pg.clause.contains("json_each") && !pg.clause.contains("GLOB"), "{input}: {}", pg.clause);
            }
        }
    }

    /// Request text is bound, never spliced: hostile values and paths leave the clause as
    /// written here, and the query still runs.
    #[tokio::test]
    async fn request_text_is_bound() {
        request_text_is_bound_on(&fixture().await).await;
    }

    #[tokio::test]
    async fn request_text_is_bound_postgres() {
        if let Some(fx) = postgres_fixture("request_text_is_bound_postgres").await {
            request_text_is_bound_on(&fx).await;
        }
    }

    async fn request_text_is_bound_on(fx: &Fixture) {
        let hostile = r#"x'); DROP TABLE users; --"#;
        for input in [
            format!(r#"userName eq "{hostile}""#),
            format!(r#"title co "{hostile}""#),
            format!(r#"externalId sw "{hostile}""#),
            format!(r#"emails[value ew "{hostile}"]"#),
            r#"urn:x:DROP:TABLE eq "users""#.to_string(),
            r#"DROP_TABLE pr"#.to_string(),
        ] {
            let f = parse_filter(&input).unwrap();
            let w = to_sql_for(fx.backend, ResourceKind::User, &f).unwrap();
            assert!(!w.clause.contains("DROP") && !w.clause.contains("x'"), "{input}: {}", w.clause);
            assert!(sql_ids(fx, ResourceKind::User, &f).await.is_empty(), "{input}");
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&fx.pool).await.unwrap();
        assert_eq!(n, 8, "the table is intact");
    }

    /// The largest filters the parser accepts run in the store: the deepest nesting, a value
    /// filter at the bottom of it, and a long `or` chain of ids.
    #[tokio::test]
    async fn limits_run() {
        limits_run_on(&fixture().await).await;
    }

    #[tokio::test]
    async fn limits_run_postgres() {
        if let Some(fx) = postgres_fixture("limits_run_postgres").await {
            limits_run_on(&fx).await;
        }
    }

    async fn limits_run_on(fx: &Fixture) {
        // 30 `not (`, then `[` and `(`: 32 levels, the most the parser accepts.
        let deep = format!(
            r#"{}emails[(type eq "work")]{}"#,
            "not (".repeat(MAX_FILTER_DEPTH - 2),
            ")".repeat(MAX_FILTER_DEPTH - 2)
        );
        let chain = (0..80).map(|i| format!(r#"id eq "{}""#, uid(i % 10))).collect::<Vec<_>>().join(" or ");
        let mixed = (0..45)
            .map(|i| format!(r#"title co "{i}" and not (emails.type eq "x{i}")"#))
            .collect::<Vec<_>>()
            .join(" or ");
        for input in [deep, chain, mixed] {
            assert!(input.len() <= scim_protocol::filter::MAX_FILTER_LEN, "{} bytes", input.len());
            let f = parse_filter(&input).unwrap();
            let want = eval_ids(ResourceKind::User, &fx.users, &f);
            assert_eq!(sql_ids(fx, ResourceKind::User, &f).await, want, "{}", &input[..60]);
        }
    }

    /// Attributes rendered from outside the row, and ill-typed comparisons, are invalidFilter.
    #[test]
    fn refusals() {
        for (kind, input) in [
            (ResourceKind::User, r#"meta.location eq "x""#),
            (ResourceKind::User, r#"meta.version eq "W/\"1\"""#),
            (ResourceKind::Group, r#"members[$ref eq "x"]"#),
            (ResourceKind::User, r#"groups.$ref pr"#),
            (ResourceKind::User, "active gt true"),
            (ResourceKind::User, r#"meta.created eq "soon""#),
            (ResourceKind::User, r#"meta[resourceType eq "User"]"#),
        ] {
            let r = to_sql(kind, &parse_filter(input).unwrap());
            assert!(matches!(r, Err(ScimError::InvalidFilter { .. })), "{input}: {r:?}");
        }
    }
}
