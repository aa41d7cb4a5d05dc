//! The syntax tree shared by filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2).

use std::fmt;

use serde_json::Number;

/// `[URN ":"] attrName ["." subAttr]`, e.g. `name.givenName` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, when the path names one.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// The comparison operators of §3.4.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison's literal: `compValue = false / null / true / number / string`.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath compareOp compValue`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@example.com"]`: `path` names the multi-valued
    /// attribute (no `sub`); paths inside `filter` are relative to its elements.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH `path` (§3.5.2): `attrPath` or `valuePath ["." subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute; `sub` is set for a plain `name.givenName` path.
    pub attr: AttrPath,
    /// The value filter of `emails[type eq "work"]`.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter: `emails[type eq "work"].value`.
    pub sub_after_filter: Option<String>,
}

impl AttrPath {
    /// A plain attribute path without URN or sub-attribute: `AttrPath::new("userName")`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { urn: None, name: name.into(), sub: None }
    }

    /// `name.sub`.
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        Self { urn: None, name: name.into(), sub: Some(sub.into()) }
    }

    /// The whole path read as a schema URN. The grammar splits
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` into the URN
    /// `...:enterprise:2.0` and the attribute `User`; a PATCH path naming a whole extension
    /// (`"path": "urn:...:enterprise:2.0:User"`) is recognised by checking this against the schemas.
    pub fn as_schema_urn(&self) -> Option<String> {
        match (&self.urn, &self.sub) {
            (Some(urn), None) => Some(format!("{urn}:{}", self.name)),
            _ => None,
        }
    }
}

impl CompareOp {
    /// The operator's keyword, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Reads an operator keyword, ignoring case (`EQ`, `Eq`, `eq`).
    pub fn from_keyword(word: &str) -> Option<Self> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for AttrPath {
    /// The path as written in a filter: `urn:...:User:manager.value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    /// The literal as JSON: `"bjensen"`, `42`, `true`, `null`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => f.write_str(&serde_json::Value::from(s.as_str()).to_string()),
        }
    }
}

/// The canonical S-expression the parser tests compare against:
///
/// | filter                                   | S-expression                                  |
/// |------------------------------------------|-----------------------------------------------|
/// | `userName eq "bjensen"`                  | `(eq userName "bjensen")`                     |
/// | `title pr`                               | `(pr title)`                                  |
/// | `a pr and b pr and c pr`                 | `(and (pr a) (pr b) (pr c))`                  |
/// | `a pr or not (b co "x")`                 | `(or (pr a) (not (co b "x")))`                |
/// | `emails[type eq "work" and value pr]`    | `(emails [and (eq type "work") (pr value)])`  |
///
/// Chains of one operator print flat (`and` and `or` are associative), so the form shows
/// precedence and grouping, not the left-nesting of the tree. Paths print as written, keywords
/// lower case, literals as JSON. For the filter syntax itself use [`Filter::to_scim_string`].
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "({op} {path} {value})"),
            Filter::Present(path) => write!(f, "(pr {path})"),
            Filter::And(..) | Filter::Or(..) => {
                let keyword = if matches!(self, Filter::And(..)) { "and" } else { "or" };
                write!(f, "({keyword}")?;
                for operand in self.chain() {
                    write!(f, " {operand}")?;
                }
                f.write_str(")")
            }
            Filter::Not(inner) => write!(f, "(not {inner})"),
            Filter::ValuePath { path, filter } => {
                // The brackets stand in for the inner expression's parentheses.
                let inner = filter.to_string();
                let inner = inner.strip_prefix('(').and_then(|s| s.strip_suffix(')')).unwrap_or(&inner);
                write!(f, "({path} [{inner}])")
            }
        }
    }
}

impl Filter {
    /// The operands of a chain of the same operator (`a and b and c` gives `[a, b, c]`), in
    /// order; any other node is a chain of one. Printers and translators use it to write long
    /// chains flat instead of recursing once per operand.
    pub fn chain(&self) -> Vec<&Filter> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            match (self, node) {
                (Filter::And(..), Filter::And(l, r)) | (Filter::Or(..), Filter::Or(l, r)) => {
                    stack.push(r);
                    stack.push(l);
                }
                _ => out.push(node),
            }
        }
        out
    }

    /// The filter in SCIM syntax, parenthesised only where needed, so that parsing the result
    /// gives back this exact tree: `title pr and (a eq 1 or b eq 2)`.
    pub fn to_scim_string(&self) -> String {
        let mut out = String::new();
        write_scim(self, &mut out);
        out
    }
}

fn write_scim(filter: &Filter, out: &mut String) {
    use std::fmt::Write;
    let grouped = |f: &Filter, out: &mut String| {
        out.push('(');
        write_scim(f, out);
        out.push(')');
    };
    match filter {
        Filter::Compare { path, op, value } => {
            let _ = write!(out, "{path} {op} {value}");
        }
        Filter::Present(path) => {
            let _ = write!(out, "{path} pr");
        }
        // The parser builds left-nested chains with `and` binding tighter than `or`; group
        // whatever would otherwise re-associate.
        Filter::And(l, r) => {
            if matches!(**l, Filter::Or(..)) {
                grouped(l, out)
            } else {
                write_scim(l, out)
            }
            out.push_str(" and ");
            if matches!(**r, Filter::Or(..) | Filter::And(..)) { grouped(r, out) } else { write_scim(r, out) }
        }
        Filter::Or(l, r) => {
            write_scim(l, out);
            out.push_str(" or ");
            if matches!(**r, Filter::Or(..)) { grouped(r, out) } else { write_scim(r, out) }
        }
        Filter::Not(inner) => {
            out.push_str("not ");
            grouped(inner, out);
        }
        Filter::ValuePath { path, filter } => {
            let _ = write!(out, "{path}[");
            write_scim(filter, out);
            out.push(']');
        }
    }
}

impl fmt::Display for PatchPath {
    /// The path in SCIM syntax: `emails[type eq "work"].value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{}]", filter.to_scim_string())?;
        }
        if let Some(sub) = &self.sub_after_filter {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
