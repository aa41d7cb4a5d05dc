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
use sqlx::Sqlite;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::sqlite::SqliteArguments;

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
    let mut w = Writer {
        kind,
        sql: String::from("("),
        binds: Vec::new(),
    };
    w.filter(&Scope::Root, filter)?;
    w.sql.push(')');
    Ok(SqlWhere {
        clause: w.sql,
        binds: w.binds,
    })
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

impl<'q> BindSql<'q> for Query<'q, Sqlite, SqliteArguments<'q>> {
    fn bind_sql(self, bind: &'q SqlBind) -> Self {
        bind_sql!(self, bind)
    }
}

impl<'q, O> BindSql<'q> for QueryAs<'q, Sqlite, O, SqliteArguments<'q>> {
    fn bind_sql(self, bind: &'q SqlBind) -> Self {
        bind_sql!(self, bind)
    }
}

impl<'q, O> BindSql<'q> for QueryScalar<'q, Sqlite, O, SqliteArguments<'q>> {
    fn bind_sql(self, bind: &'q SqlBind) -> Self {
        bind_sql!(self, bind)
    }
}

/// Where a filter's paths are evaluated.
enum Scope {
    /// The resource row.
    Root,
    /// An element of a JSON attribute inside `[...]`: a path to it and its definition.
    Json {
        base: JsonPath,
        parent: Option<&'static AttrDef>,
    },
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
    let v = value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
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
                let joiner = if matches!(f, Filter::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
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
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::Null,
            } => {
                self.negated(|w| w.present(scope, path))?;
            }
            Filter::Compare {
                path,
                op: CompareOp::Ne,
                value: CompValue::Null,
            } => self.present(scope, path)?,
            Filter::Compare {
                path,
                op: CompareOp::Ne,
                value,
            } => {
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
    fn negated(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<(), ScimError>,
    ) -> Result<(), ScimError> {
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
            (ResourceKind::User, "userName", None) => Source::Col(Col::Key {
                key: "users.user_name_key",
                raw: "users.user_name",
            }),
            (ResourceKind::Group, "displayName", None) => Source::Col(Col::Key {
                key: "groups.display_name_key",
                raw: "groups.display_name",
            }),
            (_, "meta", None) => Source::Meta,
            (_, "meta", Some("created")) => Source::Col(Col::Date(format!("{tb}.created"))),
            (_, "meta", Some("lastModified")) => {
                Source::Col(Col::Date(format!("{tb}.last_modified")))
            }
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
                        Some(sub) if !t.multi_valued() => {
                            self.json_present(&JsonLeaf::At(a.key(sub)?))
                        }
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
    fn compare(
        &mut self,
        scope: &Scope,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<(), ScimError> {
        let (source, t) = self.source(scope, path)?;
        let operand = eval::operand(&t, op, value)?;
        match source {
            Source::Col(c) => self.col_compare(&c, op, &operand),
            Source::Const(v) => self.push(if eval::leaf_matches(&v, op, &operand) {
                "1"
            } else {
                "0"
            }),
            Source::Meta | Source::Absent => self.push("0"),
            Source::Rows(rows) => {
                let sub = t.sub.clone().unwrap_or_else(|| "value".into());
                let leaf = row_column(rows, &sub).ok_or_else(|| not_filterable(path))?;
                self.rows_exists(rows, |w| {
                    match &leaf {
                        Source::Col(c) => w.col_compare(c, op, &operand),
                        Source::Const(v) => w.push(if eval::leaf_matches(v, op, &operand) {
                            "1"
                        } else {
                            "0"
                        }),
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
                    w.filter(
                        &Scope::Json {
                            base: base.clone(),
                            parent,
                        },
                        inner,
                    )?;
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
                    self.filter(
                        &Scope::Json {
                            base: JsonPath::Each(String::new()),
                            parent,
                        },
                        inner,
                    )?;
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
            Rows::Members => {
                "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.id AND "
            }
            Rows::Groups => {
                "EXISTS (SELECT 1 FROM group_members m WHERE m.member_id = users.id AND "
            }
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

    fn json_compare(
        &mut self,
        leaf: &JsonLeaf,
        op: CompareOp,
        operand: &Operand,
    ) -> Result<(), ScimError> {
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
        (Rows::Members, "display") => col(
            "COALESCE(m.display, (SELECT COALESCE(u2.display_name, u2.user_name) FROM users u2 \
             WHERE u2.id = m.member_id), (SELECT g2.display_name FROM groups g2 WHERE g2.id = m.member_id))",
        ),
        (Rows::Groups, "value") => col("m.group_id"),
        (Rows::Groups, "display") => {
            col("(SELECT g2.display_name FROM groups g2 WHERE g2.id = m.group_id)")
        }
        (Rows::Groups, "type") => Some(Source::Const(json!("direct"))),
        _ => Some(Source::Absent),
    }
}
