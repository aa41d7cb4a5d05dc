//! Filters (RFC 7644 §3.4.2.2) as SQLite WHERE clauses over the `users` and `groups` tables,
//! selecting exactly the rows [`scim_protocol::eval::matches`] selects on the rendered
//! resources (the tests below hold the two together).
//!
//! Request text never reaches the SQL: values, LIKE/GLOB patterns and JSON paths are bound
//! parameters; the clause holds only column names and SQL written here.
//!
//! The mapping:
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
//!   `LIKE`, which fold ASCII letters only; `eval` folds the same way.
//! - `NOT` wraps its operand in `COALESCE(..., 0)`: a comparison with a missing value is
//!   NULL in SQL, but false in `eval`, so `ne` and `not` must see it as false.

use scim_protocol::ScimError;
use scim_protocol::ast::{AttrPath, CompValue, CompareOp, Filter};
use scim_protocol::eval::{self, Fold, Operand, Target};
use scim_protocol::schema::{AttrDef, ResourceKind};
use serde_json::{Value, json};
use sqlx::Any;
use sqlx::query::{Query, QueryAs, QueryScalar};

/// A WHERE clause and its parameters, in the order of the clause's `?`s. The clause refers to
/// the table by its name (`users.data`), so select `FROM users` or `FROM groups` without an
/// alias; it is parenthesised, so it can be combined with `AND`.
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

/// Translates `filter` over resources of `kind` to a WHERE clause.
///
/// Errors: the type errors of [`eval::validate`] (`active gt true`), and `invalidFilter` for
/// attributes the store cannot filter on: `meta.location`, `meta.version` and `$ref`, which
/// are rendered from the request's base URL or the row version, and value filters on `meta`.
pub fn to_sql(kind: ResourceKind, filter: &Filter) -> Result<SqlWhere, ScimError> {
    eval::validate(kind, filter)?;
    let mut w = Writer { kind, sql: String::from("("), binds: Vec::new() };
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

/// A JSON path into `data`: bound whole, or an element's `e.fullkey` from `json_each` plus a
/// bound suffix.
#[derive(Clone)]
enum JsonPath {
    Bound(String),
    Each(String),
}

impl JsonPath {
    /// The path one key further, quoted (`."urn:...:User"`).
    fn key(&self, key: &str) -> Result<JsonPath, ScimError> {
        // Names come from the grammar, which has no quotes or backslashes; a hand-built tree
        // might, and would make a malformed path (a database error, not an injection).
        if key.contains(['"', '\\']) {
            return Err(not_filterable(key));
        }
        let k = format!(".\"{key}\"");
        Ok(match self {
            JsonPath::Bound(p) => JsonPath::Bound(format!("{p}{k}")),
            JsonPath::Each(s) => JsonPath::Each(format!("{s}{k}")),
        })
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
        self.push(", 0)");
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
            Source::Const(v) => self.push(if eval::is_present(&v) { "1" } else { "0" }),
            Source::Meta => self.push("1"),
            Source::Absent => self.push("0"),
            Source::Rows(rows) => self.rows_exists(rows, |w| match &t.sub {
                None => {
                    w.push("1");
                    Ok(())
                }
                Some(sub) => match row_column(rows, sub).ok_or_else(|| not_filterable(path))? {
                    Source::Col(c) => {
                        w.col_present(&c);
                        Ok(())
                    }
                    Source::Const(v) => {
                        w.push(if eval::is_present(&v) { "1" } else { "0" });
                        Ok(())
                    }
                    _ => {
                        w.push("0");
                        Ok(())
                    }
                },
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
            Source::Const(v) => self.push(if eval::leaf_matches(&v, op, &operand) { "1" } else { "0" }),
            Source::Meta | Source::Absent => self.push("0"),
            Source::Rows(rows) => {
                let sub = t.sub.clone().unwrap_or_else(|| "value".into());
                let leaf = row_column(rows, &sub).ok_or_else(|| not_filterable(path))?;
                self.rows_exists(rows, |w| {
                    match &leaf {
                        Source::Col(c) => w.col_compare(c, op, &operand),
                        Source::Const(v) => w.push(if eval::leaf_matches(v, op, &operand) { "1" } else { "0" }),
                        _ => w.push("0"),
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
                    self.push("CASE WHEN ");
                    self.json_type(&JsonLeaf::At(a.clone()));
                    self.push(" = 'array' THEN EXISTS (SELECT 1 FROM json_each(");
                    self.push(&self.data());
                    self.push(", ");
                    self.path(&a);
                    self.push(") e WHERE ");
                    self.filter(&Scope::Json { base: JsonPath::Each(String::new()), parent }, inner)?;
                    self.push(") ELSE ");
                    one(self, &a)?;
                    self.push(" END");
                } else {
                    one(self, &a)?;
                }
                Ok(())
            }
            _ => Err(not_filterable(&t.name)),
        }
    }

    /// `$."urn"."name"` for a top-level target.
    fn root_path(&self, t: &Target) -> Result<JsonPath, ScimError> {
        let mut p = JsonPath::Bound("$".into());
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
        self.push(" = 'array' THEN EXISTS (SELECT 1 FROM json_each(");
        self.push(&self.data());
        self.push(", ");
        self.path(a);
        self.push(") e WHERE ");
        pred(self, &JsonPath::Each(String::new()))?;
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

    fn path(&mut self, p: &JsonPath) {
        match p {
            JsonPath::Bound(s) => self.bind(SqlBind::Text(s.clone())),
            JsonPath::Each(s) if s.is_empty() => self.push("e.fullkey"),
            JsonPath::Each(s) => {
                self.push("(e.fullkey || ");
                self.bind(SqlBind::Text(s.clone()));
                self.push(")");
            }
        }
    }

    fn leaf_path(&mut self, leaf: &JsonLeaf) {
        match leaf {
            JsonLeaf::At(p) => self.path(p),
            JsonLeaf::ValueOrSelf(p) => {
                self.push("CASE WHEN json_type(");
                self.push(&self.data());
                self.push(", ");
                self.path(p);
                self.push(") = 'object' THEN ");
                match p {
                    JsonPath::Bound(s) => self.bind(SqlBind::Text(format!("{s}.\"value\""))),
                    JsonPath::Each(_) => {
                        self.push("(");
                        self.path(p);
                        self.push(" || '.\"value\"')");
                    }
                }
                self.push(" ELSE ");
                self.path(p);
                self.push(" END");
            }
        }
    }

    fn json_type(&mut self, leaf: &JsonLeaf) {
        self.push("json_type(");
        self.push(&self.data());
        self.push(", ");
        self.leaf_path(leaf);
        self.push(")");
    }

    fn json_value(&mut self, leaf: &JsonLeaf) {
        self.push("json_extract(");
        self.push(&self.data());
        self.push(", ");
        self.leaf_path(leaf);
        self.push(")");
    }

    /// `pr` on a JSON value: not null, `""`, `[]` or `{}`.
    fn json_present(&mut self, leaf: &JsonLeaf) {
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
                self.push(" = 'text' AND ");
                self.text_compare(|w| w.json_value(leaf), op, value, *fold);
                self.push(")");
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
        match op {
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
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
            }
            _ => {
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
            (Col::Date(e), Operand::Date(d)) => {
                self.push(&format!("{e} {} ", symbol(op)));
                self.bind(SqlBind::Text(Operand::date_text(d)));
            }
            // Columns hold text; `eval` never matches text against another type.
            _ => self.push("0"),
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

    /// A store in a temp file with the real migrations, and the resources GET would render
    /// for its rows (the way `resource::render` and `resources::related` do).
    struct Fixture {
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
        let pool = crate::connect_sqlite(&dir.path().join("scim.db"), 1).await.unwrap();
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.unwrap();

        let docs = user_docs();
        let groups = group_rows();
        let mut users = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let id = uid(i + 1);
            let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
            let user_name = text("userName").unwrap();
            let (created, modified) =
                (format!("2026-01-0{}T10:00:00.000Z", i + 1), format!("2026-02-0{}T10:00:00.123Z", 8 - i));
            sqlx::query(
                "INSERT INTO users (id, user_name, user_name_key, external_id, display_name, active, data, created, last_modified)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(&user_name)
            .bind(user_name.to_lowercase())
            .bind(text("externalId"))
            .bind(text("displayName"))
            .bind(doc.get("active").and_then(Value::as_bool).unwrap_or(true))
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
            sqlx::query(
                "INSERT INTO groups (id, display_name, display_name_key, external_id, data, created, last_modified)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
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
                sqlx::query("INSERT INTO group_members (group_id, member_id, member_type, display, added) VALUES (?, ?, ?, ?, ?)")
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
        Fixture { pool, users, groups: out, _dir: dir }
    }

    async fn sql_ids(pool: &Pool, kind: ResourceKind, filter: &Filter) -> BTreeSet<String> {
        let w = to_sql(kind, filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        let sql = format!("SELECT id FROM {} WHERE {}", table(kind), w.clause);
        let ids: Vec<String> = bind_all(sqlx::query_scalar(&sql), &w.binds)
            .fetch_all(pool)
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
            r#"tags eq "red""#,
            r#"tags co "LU""#,
            "flag eq true",
            r#"urn:example:ext:1.0:User:costCode eq "x-1""#,
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
        let fx = fixture().await;
        let mut distinct = BTreeSet::new();
        for (kind, resources, filters) in
            [(ResourceKind::User, &fx.users, user_filters()), (ResourceKind::Group, &fx.groups, group_filters())]
        {
            for input in filters {
                let filter = parse_filter(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
                let want = eval_ids(kind, resources, &filter);
                let got = sql_ids(&fx.pool, kind, &filter).await;
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
        let fx = fixture().await;
        for (kind, input, want) in [
            (ResourceKind::User, r#"userName eq "BJensen@example.com""#, vec![uid(1)]),
            (ResourceKind::User, r#"userName eq "élodie@example.fr""#, vec![uid(2)]),
            (ResourceKind::User, r#"userName co "_100%""#, vec![uid(4)]),
            (ResourceKind::User, r#"externalId eq "abc""#, vec![uid(4)]),
            (ResourceKind::User, "active eq true", vec![uid(1), uid(4), uid(5), uid(6)]),
            (ResourceKind::User, r#"title co "*b?[""#, vec![uid(4)]),
            (ResourceKind::User, r#"emails[type eq "work" and value co "@example.com"]"#, vec![uid(1), uid(8)]),
            (ResourceKind::User, &format!(r#"{ENTERPRISE}:manager eq "{}""#, uid(1)), vec![uid(3)]),
            (ResourceKind::User, r#"meta.created eq "2026-01-02T11:00:00+01:00""#, vec![uid(2)]),
            (ResourceKind::User, "groups pr", vec![uid(1), uid(2), uid(3), uid(8)]),
            (ResourceKind::Group, r#"displayName eq "équipe""#, vec![gid(4)]),
            (ResourceKind::Group, r#"members.display co "jsmith""#, vec![gid(2)]),
            (ResourceKind::Group, "not (members pr)", vec![gid(3)]),
        ] {
            let got = sql_ids(&fx.pool, kind, &parse_filter(input).unwrap()).await;
            assert_eq!(got, want.into_iter().collect::<BTreeSet<_>>(), "{input}");
        }
    }

    /// The lookups IdPs send use an index rather than scanning the table.
    #[tokio::test]
    async fn idp_lookups_use_indexes() {
        let fx = fixture().await;
        for (kind, input, index) in [
            (ResourceKind::User, r#"userName eq "ann@example.com""#, "user_name_key"),
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

    /// Request text is bound, never spliced: hostile values and paths leave the clause as
    /// written here, and the query still runs.
    #[tokio::test]
    async fn request_text_is_bound() {
        let fx = fixture().await;
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
            let w = to_sql(ResourceKind::User, &f).unwrap();
            assert!(!w.clause.contains("DROP") && !w.clause.contains("x'"), "{input}: {}", w.clause);
            assert!(sql_ids(&fx.pool, ResourceKind::User, &f).await.is_empty(), "{input}");
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&fx.pool).await.unwrap();
        assert_eq!(n, 8, "the table is intact");
    }

    /// The largest filters the parser accepts run in SQLite: the deepest nesting, a value
    /// filter at the bottom of it, and a long `or` chain of ids.
    #[tokio::test]
    async fn limits_run_in_sqlite() {
        let fx = fixture().await;
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
            assert_eq!(sql_ids(&fx.pool, ResourceKind::User, &f).await, want, "{}", &input[..60]);
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
