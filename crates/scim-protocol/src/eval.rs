//! Filter evaluation against resource JSON (RFC 7644 §3.4.2.2), typed by the schemas in
//! [`crate::schema`]. The store's SQL translation applies the same typing through [`target`]
//! and [`operand`], and its tests check that both select the same resources.
//!
//! The rules:
//! - Attribute names ignore case (RFC 7643 §2.1). A URN that is not the core schema's names the
//!   extension object the attribute lives in.
//! - A multi-valued attribute (or an unknown one holding an array) matches if any element does.
//!   A complex attribute compared without a sub-attribute compares its elements' `value`
//!   (`emails co "x"`); an element that is not an object is compared itself.
//! - Comparisons follow the attribute's type: strings by `caseExact`, booleans and numbers as
//!   such, dateTimes as instants at millisecond precision (what the store keeps). Unknown
//!   attributes compare by the literal's JSON type, strings ignoring case.
//! - Ignoring case folds ASCII letters, as SQLite's `lower()` and `LIKE` do; `userName` and a
//!   group's `displayName`, which the store keeps folded with `str::to_lowercase`, fold fully.
//! - `pr` is true for a value that is not null, `""`, `[]` or `{}`. `eq null` is "not present"
//!   and `ne null` "present"; `ne` is `not eq`, so a resource without the attribute matches.
//! - An ill-typed comparison (`active gt true`, `meta.created eq "yesterday"`) is an
//!   `invalidFilter` error from [`validate`]; [`matches`] then matches nothing.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Utc};
use serde_json::{Number, Value};

use crate::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::{Result, ScimError};
use crate::schema::{AttrDef, AttrType, ResourceKind};

/// Whether `filter` selects `resource`, a full resource as returned on GET (`id`, `meta`,
/// the extension under its URN key, `groups` or `members`). An invalid filter selects nothing.
pub fn matches(kind: ResourceKind, resource: &Value, filter: &Filter) -> bool {
    validate(kind, filter).is_ok() && eval_root(kind, resource, filter)
}

/// Whether one element of a multi-valued attribute matches a value filter whose paths are
/// relative to the element: the `type eq "work"` of `emails[type eq "work"]`. `attr` is the
/// multi-valued attribute's definition (it types the sub-attributes); `None` compares as
/// unknown attributes do. An invalid filter matches no element.
pub fn matches_element(attr: Option<&'static AttrDef>, element: &Value, filter: &Filter) -> bool {
    check(Scope::Element(attr), filter).is_ok() && eval_element(attr, element, filter)
}

/// Checks that every comparison in `filter` is well typed for `kind`: booleans only with `eq`
/// and `ne`, no `co`/`sw`/`ew` on numbers or dates, dates that parse, `null` only with `eq`/`ne`,
/// no URNs or nested value paths inside `[...]`. Errors are `invalidFilter` at position 0, since
/// the tree keeps no positions.
pub fn validate(kind: ResourceKind, filter: &Filter) -> Result<()> {
    check(Scope::Root(kind), filter)
}

/// How a case-insensitive comparison folds case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// `caseExact` attributes.
    Exact,
    /// ASCII letters only, like SQLite's `lower()` and `LIKE`.
    Ascii,
    /// `str::to_lowercase`: attributes the store keeps a folded key for.
    Unicode,
}

impl Fold {
    pub fn apply(self, s: &str) -> String {
        match self {
            Fold::Exact => s.to_string(),
            Fold::Ascii => s.to_ascii_lowercase(),
            Fold::Unicode => s.to_lowercase(),
        }
    }
}

/// What an attribute path names, resolved against the schemas.
#[derive(Debug, Clone)]
pub struct Target {
    /// The JSON key of the object holding the attribute: an extension URN (canonical spelling
    /// when known), or `None` for top-level attributes (including core-URN-qualified ones).
    pub container: Option<String>,
    /// The attribute's name, in the schema's spelling when known.
    pub name: String,
    /// The sub-attribute, in the schema's spelling when known.
    pub sub: Option<String>,
    /// The attribute's definition, `None` when unknown.
    pub attr: Option<&'static AttrDef>,
    /// The definition that types comparisons: the sub-attribute's, the `value` sub-attribute's
    /// for a complex attribute compared without one, or the attribute's own.
    pub leaf: Option<&'static AttrDef>,
    /// How case-insensitive comparisons fold.
    pub fold: Fold,
}

impl Target {
    /// Multi-valued attributes, and unknown ones (which may hold arrays), match per element.
    pub fn multi_valued(&self) -> bool {
        self.attr.is_none_or(|a| a.multi_valued)
    }

    /// Complex and unknown attributes compare an object element's `value` when the path has no
    /// sub-attribute.
    pub fn compares_value(&self) -> bool {
        self.sub.is_none() && self.attr.is_none_or(|a| a.ty == AttrType::Complex)
    }
}

/// Resolves a top-level path (`userName`, `name.givenName`, `urn:...:User:manager.value`). A
/// SCIM 1.1 URN (`urn:scim:schemas:core:1.0:userName`, as OneLogin's templates write) names the
/// 2.0 schema it stands for, as it does in a body or a PATCH path.
pub fn target(kind: ResourceKind, path: &AttrPath) -> Target {
    let urn = path.urn.as_deref().map(|u| kind.scim1_schema(u).map_or(u, |s| s.id));
    let found = kind.find_attr(urn, &path.name);
    let container = match (urn, found) {
        (None, _) => None,
        (Some(_), Some((schema, _))) if schema.id == kind.core().id => None,
        (Some(_), Some((schema, _))) => Some(schema.id.to_string()),
        (Some(urn), None) if urn.eq_ignore_ascii_case(kind.core().id) => None,
        (Some(urn), None) => Some(kind.extension(urn).map_or_else(|| urn.to_string(), |s| s.id.to_string())),
    };
    let attr = found.map(|(_, a)| a);
    let sub_def = path.sub.as_deref().and_then(|s| attr?.sub(s));
    let leaf = match (&path.sub, attr) {
        (Some(_), _) => sub_def,
        (None, Some(a)) if a.ty == AttrType::Complex => a.sub("value"),
        (None, a) => a,
    };
    // The store keeps `userName` and a group's `displayName` folded with `to_lowercase`.
    let keyed = container.is_none()
        && path.sub.is_none()
        && attr.is_some_and(|a| match kind {
            ResourceKind::User => a.name == "userName",
            ResourceKind::Group => a.name == "displayName",
        });
    Target {
        container,
        name: attr.map_or_else(|| path.name.clone(), |a| a.name.to_string()),
        sub: path.sub.as_ref().map(|s| sub_def.map_or_else(|| s.clone(), |d| d.name.to_string())),
        attr,
        leaf,
        fold: fold_for(leaf, keyed),
    }
}

/// Resolves a path relative to an element of `parent` (inside `[...]`): `type`, `value`.
pub fn element_target(parent: Option<&'static AttrDef>, path: &AttrPath) -> Target {
    let attr = parent.and_then(|p| p.sub(&path.name));
    let sub_def = path.sub.as_deref().and_then(|s| attr?.sub(s));
    let leaf = if path.sub.is_some() { sub_def } else { attr };
    Target {
        container: None,
        name: attr.map_or_else(|| path.name.clone(), |a| a.name.to_string()),
        sub: path.sub.as_ref().map(|s| sub_def.map_or_else(|| s.clone(), |d| d.name.to_string())),
        attr,
        leaf,
        fold: fold_for(leaf, false),
    }
}

fn fold_for(leaf: Option<&AttrDef>, keyed: bool) -> Fold {
    match leaf {
        Some(d) if d.case_exact => Fold::Exact,
        _ if keyed => Fold::Unicode,
        _ => Fold::Ascii,
    }
}

/// A comparison literal typed for its attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A string, already folded with `fold`.
    Text {
        value: String,
        fold: Fold,
    },
    Number(Number),
    Bool(bool),
    /// An instant, truncated to milliseconds.
    Date(DateTime<Utc>),
}

impl Operand {
    /// A date in the store's format, `2026-11-28T17:45:19.123Z`, whose text order is time order.
    pub fn date_text(date: &DateTime<Utc>) -> String {
        date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// Types `value` for `target` under `op` (`ne` types as `eq`). A `null` literal is not an
/// operand: `eq null` and `ne null` test presence.
pub fn operand(target: &Target, op: CompareOp, value: &CompValue) -> Result<Operand> {
    use CompareOp::*;
    let name = || match &target.sub {
        Some(sub) => format!("{}.{sub}", target.name),
        None => target.name.clone(),
    };
    let bad = |expected: String| ScimError::InvalidFilter {
        position: 0,
        expected,
        found: Some(format!("{} {op} {value}", name())),
    };
    let substring = matches!(op, Co | Sw | Ew);
    let ordering = matches!(op, Gt | Ge | Lt | Le);
    if *value == CompValue::Null {
        return Err(bad("null only with eq or ne".into()));
    }
    let text = |s: &str| Operand::Text { value: target.fold.apply(s), fold: target.fold };
    let operand = match (target.leaf.map(|d| d.ty), value) {
        (Some(AttrType::Boolean), _) if substring || ordering => {
            return Err(bad(format!("eq or ne for the boolean {}", name())));
        }
        (Some(AttrType::Boolean), CompValue::Bool(b)) => Operand::Bool(*b),
        // Entra sends booleans as strings elsewhere; accept "True"/"false" here too.
        (Some(AttrType::Boolean), CompValue::String(s)) if s.eq_ignore_ascii_case("true") => Operand::Bool(true),
        (Some(AttrType::Boolean), CompValue::String(s)) if s.eq_ignore_ascii_case("false") => Operand::Bool(false),
        (Some(AttrType::Boolean), _) => {
            return Err(bad(format!("true or false for the boolean {}", name())));
        }
        (Some(AttrType::DateTime | AttrType::Integer | AttrType::Decimal), _) if substring => {
            return Err(bad(format!("eq, ne, gt, ge, lt or le for {}", name())));
        }
        (Some(AttrType::DateTime), CompValue::String(s)) => match parse_date(s) {
            Some(d) => Operand::Date(d),
            None => {
                return Err(bad(format!("a dateTime like \"2011-05-13T04:42:34Z\" for {}", name())));
            }
        },
        (Some(AttrType::DateTime), _) => {
            return Err(bad(format!("a dateTime string for {}", name())));
        }
        (Some(AttrType::Integer | AttrType::Decimal), CompValue::Number(n)) => Operand::Number(n.clone()),
        (Some(AttrType::Integer | AttrType::Decimal), _) => {
            return Err(bad(format!("a number for {}", name())));
        }
        // String-like attributes: a number or boolean literal compares as its JSON text.
        (Some(_), CompValue::String(s)) => text(s),
        (Some(_), CompValue::Number(n)) => text(&n.to_string()),
        (Some(_), CompValue::Bool(b)) => text(&b.to_string()),
        // Unknown attributes: the literal's own type decides.
        (None, CompValue::String(s)) => text(s),
        (None, CompValue::Number(_)) if substring => {
            return Err(bad("eq, ne, gt, ge, lt or le for a number".into()));
        }
        (None, CompValue::Number(n)) => Operand::Number(n.clone()),
        (None, CompValue::Bool(_)) if substring || ordering => {
            return Err(bad("eq or ne for a boolean".into()));
        }
        (None, CompValue::Bool(b)) => Operand::Bool(*b),
        (_, CompValue::Null) => unreachable!("handled above"),
    };
    Ok(operand)
}

/// Whether one leaf value satisfies `op` (never `ne`, which is `not eq`) against `operand`.
/// Values of another JSON type never match.
pub fn leaf_matches(leaf: &Value, op: CompareOp, operand: &Operand) -> bool {
    use std::cmp::Ordering;
    let ordered = |o: Ordering| match op {
        CompareOp::Eq => o.is_eq(),
        CompareOp::Gt => o.is_gt(),
        CompareOp::Ge => o.is_ge(),
        CompareOp::Lt => o.is_lt(),
        CompareOp::Le => o.is_le(),
        CompareOp::Ne | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    };
    match (operand, leaf) {
        (Operand::Text { value, fold }, Value::String(s)) => {
            let s = fold.apply(s);
            match op {
                CompareOp::Co => s.contains(value.as_str()),
                CompareOp::Sw => s.starts_with(value.as_str()),
                CompareOp::Ew => s.ends_with(value.as_str()),
                _ => ordered(s.as_str().cmp(value.as_str())),
            }
        }
        (Operand::Number(n), Value::Number(m)) => {
            let o = match (m.as_i64(), n.as_i64()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => m.as_f64().zip(n.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
            };
            o.is_some_and(ordered)
        }
        (Operand::Bool(b), Value::Bool(v)) => op == CompareOp::Eq && b == v,
        (Operand::Date(d), Value::String(s)) => parse_date(s).is_some_and(|v| ordered(v.cmp(d))),
        _ => false,
    }
}

/// Reads an RFC 3339 dateTime (or one without offset, taken as UTC, or a bare date), at
/// millisecond precision.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let utc = DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|d| d.and_utc()))
        .or_else(|_| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .ok()?;
    Some(utc.trunc_subsecs(3))
}

/// Whether a value counts as present for `pr`: not null, `""`, `[]` or `{}`.
pub fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Looks a key up in an object, exact spelling first, then ignoring ASCII case.
pub fn get_ci<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

#[derive(Clone, Copy)]
enum Scope {
    Root(ResourceKind),
    Element(Option<&'static AttrDef>),
}

fn check(scope: Scope, filter: &Filter) -> Result<()> {
    let invalid = |expected: &str, found: String| ScimError::InvalidFilter {
        position: 0,
        expected: expected.into(),
        found: Some(found),
    };
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => {
            check(scope, l)?;
            check(scope, r)
        }
        Filter::Not(inner) => check(scope, inner),
        Filter::Present(path) | Filter::Compare { path, .. } => {
            let target = match scope {
                Scope::Root(kind) => target(kind, path),
                Scope::Element(_) if path.urn.is_some() => {
                    return Err(invalid("a sub-attribute name (no schema URN inside '[...]')", path.to_string()));
                }
                Scope::Element(parent) => element_target(parent, path),
            };
            match filter {
                Filter::Compare { op: CompareOp::Eq | CompareOp::Ne, value: CompValue::Null, .. } => Ok(()),
                Filter::Compare { op, value, .. } => operand(&target, *op, value).map(drop),
                _ => Ok(()),
            }
        }
        Filter::ValuePath { path, filter } => match scope {
            Scope::Root(kind) if path.sub.is_none() => check(Scope::Element(target(kind, path).attr), filter),
            Scope::Root(_) => Err(invalid("a value filter on an attribute without a sub-attribute", path.to_string())),
            Scope::Element(_) => Err(invalid("no value filter inside '[...]'", path.to_string())),
        },
    }
}

/// The elements a top-level path reaches: an array's items for a multi-valued (or unknown)
/// attribute, otherwise the value itself.
pub fn elements<'v>(resource: &'v Value, target: &Target) -> Vec<&'v Value> {
    let container = match &target.container {
        Some(urn) => get_ci(resource, urn),
        None => Some(resource),
    };
    match container.and_then(|c| get_ci(c, &target.name)) {
        None => Vec::new(),
        Some(Value::Array(items)) if target.multi_valued() => items.iter().collect(),
        Some(v) => vec![v],
    }
}

/// The values a top-level path compares: each element's sub-attribute, or its `value` when the
/// attribute is complex and the element an object.
fn leaves<'v>(resource: &'v Value, target: &Target) -> Vec<&'v Value> {
    elements(resource, target)
        .into_iter()
        .filter_map(|e| match &target.sub {
            Some(sub) => get_ci(e, sub),
            None if target.compares_value() && e.is_object() => get_ci(e, "value"),
            None => Some(e),
        })
        .collect()
}

fn present_root(resource: &Value, target: &Target) -> bool {
    match &target.sub {
        None => {
            let container = match &target.container {
                Some(urn) => get_ci(resource, urn),
                None => Some(resource),
            };
            container.and_then(|c| get_ci(c, &target.name)).is_some_and(is_present)
        }
        Some(_) => leaves(resource, target).into_iter().any(is_present),
    }
}

fn eval_root(kind: ResourceKind, resource: &Value, filter: &Filter) -> bool {
    match filter {
        Filter::And(l, r) => eval_root(kind, resource, l) && eval_root(kind, resource, r),
        Filter::Or(l, r) => eval_root(kind, resource, l) || eval_root(kind, resource, r),
        Filter::Not(inner) => !eval_root(kind, resource, inner),
        Filter::Present(path) => present_root(resource, &target(kind, path)),
        Filter::Compare { path, op, value } => {
            let t = target(kind, path);
            compare(
                op,
                value,
                || present_root(resource, &t),
                |op, o| leaves(resource, &t).into_iter().any(|leaf| leaf_matches(leaf, op, o)),
                &t,
            )
        }
        Filter::ValuePath { path, filter } => {
            let t = target(kind, path);
            elements(resource, &t).into_iter().any(|e| eval_element(t.attr, e, filter))
        }
    }
}

fn eval_element(parent: Option<&'static AttrDef>, element: &Value, filter: &Filter) -> bool {
    let leaf = |path: &AttrPath| {
        let v = get_ci(element, &path.name)?;
        match &path.sub {
            Some(sub) => get_ci(v, sub),
            None => Some(v),
        }
    };
    match filter {
        Filter::And(l, r) => eval_element(parent, element, l) && eval_element(parent, element, r),
        Filter::Or(l, r) => eval_element(parent, element, l) || eval_element(parent, element, r),
        Filter::Not(inner) => !eval_element(parent, element, inner),
        Filter::Present(path) => leaf(path).is_some_and(is_present),
        Filter::Compare { path, op, value } => {
            let t = element_target(parent, path);
            compare(
                op,
                value,
                || leaf(path).is_some_and(is_present),
                |op, o| leaf(path).is_some_and(|l| leaf_matches(l, op, o)),
                &t,
            )
        }
        Filter::ValuePath { .. } => false,
    }
}

/// The shared shape of a comparison: `eq null` is absence, `ne null` presence, `ne` is
/// `not eq`, anything else compares leaves.
fn compare(
    op: &CompareOp,
    value: &CompValue,
    present: impl Fn() -> bool,
    any_leaf: impl Fn(CompareOp, &Operand) -> bool,
    target: &Target,
) -> bool {
    match (op, value) {
        (CompareOp::Eq, CompValue::Null) => !present(),
        (CompareOp::Ne, CompValue::Null) => present(),
        (op, value) => {
            let Ok(o) = operand(target, *op, value) else {
                return false;
            };
            match op {
                CompareOp::Ne => !any_leaf(CompareOp::Eq, &o),
                op => any_leaf(*op, &o),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::filter::parse_filter;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// A user as GET returns it, after RFC 7643 §8.2's Barbara Jensen.
    fn bjensen() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "701984",
            "userName": "bjensen@example.com",
            "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "O'Malley", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
            "roles": [],
            "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides", "type": "direct"}],
            ENTERPRISE: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
            },
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22.000Z",
                "lastModified": "2011-05-13T04:42:34.000Z",
                "version": "W/\"3694e05e9dff591\"",
                "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
            }
        })
    }

    fn group() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a", "type": "User"}
            ],
            "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22.000Z", "lastModified": "2011-05-13T04:42:34.000Z"}
        })
    }

    /// Asserts that `filter` selects `resource` exactly when `expected`.
    #[track_caller]
    fn check(kind: ResourceKind, resource: &Value, filter: &str, expected: bool) {
        let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?} must parse: {e}"));
        assert_eq!(matches(kind, resource, &f), expected, "{filter}");
    }

    /// A SCIM 1.1 URN in a filter (OneLogin's templates) names the 2.0 schema it stands for,
    /// in any case; an unknown URN still matches nothing.
    #[test]
    fn scim1_urns() {
        let (u, g) = (bjensen(), group());
        for (filter, expected) in [
            (r#"urn:scim:schemas:core:1.0:userName eq "BJENSEN@example.com""#, true),
            (r#"Urn:Scim:Schemas:Core:1.0:name.familyName co "malley""#, true),
            (r#"urn:scim:schemas:extension:enterprise:1.0:department eq "Tour Operations""#, true),
            (r#"urn:scim:schemas:extension:enterprise:1.0:manager.displayName sw "John""#, true),
            (r#"urn:scim:schemas:core:1.0:userName eq "other@example.com""#, false),
            (r#"urn:scim:schemas:core:0.9:userName eq "bjensen@example.com""#, false),
        ] {
            check(ResourceKind::User, &u, filter, expected);
        }
        check(ResourceKind::Group, &g, r#"urn:scim:schemas:core:1.0:displayName eq "tour guides""#, true);
    }

    /// Every RFC 7644 §3.4.2.2 example filter evaluates as the RFC describes, against bjensen.
    #[test]
    fn rfc_examples() {
        let u = bjensen();
        for (filter, expected) in [
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"name.familyName co "O'Malley""#, true),
            (r#"userName sw "J""#, false),
            (r#"userName sw "B""#, true),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#, true),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (&format!(r#"schemas eq "{ENTERPRISE}""#), true),
            (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, true),
            (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, false),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
            (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, true),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ] {
            check(ResourceKind::User, &u, filter, expected);
        }
    }

    /// The lookups IdPs send select exactly one resource, ignoring case only where the schema
    /// says so: userName and displayName ignore case, externalId and id do not.
    #[test]
    fn idp_lookups_and_case() {
        let u = bjensen();
        for (filter, expected) in [
            (r#"userName eq "BJensen@Example.com""#, true),
            (r#"USERNAME eq "bjensen@example.com""#, true),
            (r#"userName eq "bjensen""#, false),
            (r#"externalId eq "701984""#, true),
            (r#"externalId eq "701984 ""#, false),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
            (r#"userName eq "bjensen@example.com" and externalId eq "701984""#, true),
            (r#"userName eq "bjensen@example.com" and externalId eq "701985""#, false),
            (r#"displayName eq "BABS JENSEN""#, true),
            (r#"meta.resourceType eq "user""#, false),
            (r#"meta.resourceType eq "User""#, true),
            (r#"emails[type eq "WORK"]"#, true),
            (r#"Emails[TYPE eq "work"].value"#.split('.').next().unwrap(), true),
        ] {
            check(ResourceKind::User, &u, filter, expected);
        }
        let g = group();
        for (filter, expected) in [
            (r#"displayName eq "Tour Guides""#, true),
            (r#"displayName eq "tour guides""#, true),
            (r#"displayName eq "Tour""#, false),
            (r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#, true),
            (r#"members[value eq "2819C223-7F76-453A-919D-413861904646"]"#, false),
            (r#"members.value eq "902c246b-6245-4190-8e05-00816be7344a""#, true),
            (r#"members eq "902c246b-6245-4190-8e05-00816be7344a""#, true),
            (r#"members[type eq "user" and display pr]"#, true),
            (r#"members[value eq "902c246b-6245-4190-8e05-00816be7344a" and display pr]"#, false),
        ] {
            check(ResourceKind::Group, &g, filter, expected);
        }
    }

    /// `userName` folds case fully (the store keys it with `to_lowercase`); other strings fold
    /// ASCII only, like SQLite's `lower()`.
    #[test]
    fn case_folding() {
        let u = json!({"userName": "ÉLODIE@x.fr", "displayName": "Élodie", "title": "straße"});
        for (filter, expected) in [
            (r#"userName eq "élodie@x.fr""#, true),
            (r#"displayName eq "élodie""#, false),
            (r#"displayName eq "Élodie""#, true),
            (r#"displayName eq "ÉLODIE""#, true),
            (r#"title co "SSE""#, false),
            (r#"title sw "STRA""#, true),
        ] {
            check(ResourceKind::User, &u, filter, expected);
        }
    }

    /// Each comparison operator follows the attribute's type: strings by byte order, dateTimes
    /// as instants (any offset, millisecond precision), booleans only by equality.
    #[test]
    fn operators_and_types() {
        let u = bjensen();
        for (filter, expected) in [
            (r#"title co "Guide""#, true),
            (r#"title co "guide""#, true),
            (r#"title sw "tour""#, true),
            (r#"title ew "GUIDE""#, true),
            (r#"title ew "Tour""#, false),
            (r#"title gt "Tour""#, true),
            (r#"title lt "Tour""#, false),
            (r#"title ge "tour guide""#, true),
            (r#"title le "TOUR GUIDE""#, true),
            (r#"meta.created eq "2010-01-23T04:56:22Z""#, true),
            (r#"meta.created eq "2010-01-23T06:56:22+02:00""#, true),
            (r#"meta.created lt "2010-01-23T04:56:22.001Z""#, true),
            (r#"meta.created gt "2010-01-23T04:56:21.9999Z""#, true),
            (r#"meta.created gt "2010-01-23""#, true),
            (r#"meta.lastModified gt "2011-05-13T04:42:33.999Z""#, true),
            ("active eq true", true),
            ("active eq false", false),
            (r#"active eq "True""#, true),
            ("active ne false", true),
            (&format!(r#"{ENTERPRISE}:department eq "tour operations""#), true),
            (&format!(r#"{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#), true),
            (&format!(r#"{ENTERPRISE}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#), true),
            (&format!("{ENTERPRISE}:employeeNumber eq 701984"), true),
            (r#"department eq "Tour Operations""#, false),
            ("emails.primary eq true", true),
            ("emails[primary eq true and type eq \"home\"]", false),
            ("name pr", true),
            ("roles pr", false),
            ("nickName pr", false),
            ("groups pr", true),
            (r#"groups.display eq "tour guides""#, true),
        ] {
            check(ResourceKind::User, &u, filter, expected);
        }
    }

    /// `ne`, `not` and `null` treat an absent attribute as "not equal", so `ne` and `not eq`
    /// always agree; `eq null` means absent.
    #[test]
    fn absence() {
        let u = bjensen();
        for (filter, expected) in [
            (r#"nickName ne "x""#, true),
            (r#"not (nickName eq "x")"#, true),
            ("nickName eq null", true),
            ("nickName ne null", false),
            ("title eq null", false),
            ("title ne null", true),
            ("roles eq null", true),
            (r#"emails.type ne "work""#, false),
            (r#"emails.type ne "other""#, true),
            (r#"emails[not (type eq "work")]"#, true),
            (r#"ims[not (type eq "xmpp")]"#, false),
            (r#"phoneNumbers[not (type eq "x")]"#, false),
        ] {
            check(ResourceKind::User, &u, filter, expected);
        }
    }

    /// Unknown attributes compare by the literal's JSON type, strings ignoring case; arrays and
    /// objects are searched like multi-valued complex attributes.
    #[test]
    fn unknown_attributes() {
        let u = json!({
            "userName": "a",
            "nickname2": "Ace",
            "level": 7,
            "flag": true,
            "tags": ["Red", "blue"],
            "thing": {"value": "V", "other": 1},
            "urn:example:ext:1.0:User": {"costCode": "X-1"}
        });
        for (filter, expected) in [
            (r#"nickname2 eq "ace""#, true),
            ("level gt 6", true),
            ("level eq 7.0", true),
            (r#"level eq "7""#, false),
            ("flag eq true", true),
            (r#"flag eq "true""#, false),
            (r#"tags eq "red""#, true),
            (r#"tags co "LU""#, true),
            (r#"thing eq "v""#, true),
            ("thing.other eq 1", true),
            (r#"thing[other eq 1 and value sw "v"]"#, true),
            (r#"urn:example:ext:1.0:User:costCode eq "x-1""#, true),
            (r#"URN:EXAMPLE:EXT:1.0:USER:COSTCODE eq "x-1""#, true),
        ] {
            check(ResourceKind::User, &u, filter, expected);
        }
    }

    /// Ill-typed filters are invalidFilter errors and match nothing, however the rest reads.
    #[test]
    fn invalid_filters() {
        let u = bjensen();
        for filter in [
            "active gt true",
            r#"active eq "maybe""#,
            r#"active co "t""#,
            r#"meta.created eq "yesterday""#,
            r#"meta.created sw "2010""#,
            "title gt null",
            "flag lt true",
            r#"title pr or active gt false"#,
            r#"not (active gt false)"#,
            r#"emails[primary gt true]"#,
        ] {
            let f = parse_filter(filter).unwrap();
            assert!(
                matches!(validate(ResourceKind::User, &f), Err(ScimError::InvalidFilter { .. })),
                "{filter} must be invalid"
            );
            assert!(!matches(ResourceKind::User, &u, &f), "{filter}: an invalid filter selects nothing");
        }
    }

    /// `matches_element` evaluates a value filter against one element, typed by the attribute:
    /// the PATCH engine's `emails[type eq "work"]` and `members[value eq "..."]`.
    #[test]
    fn element_matching() {
        let emails = ResourceKind::User.find_attr(None, "emails").map(|(_, a)| a);
        let members = ResourceKind::Group.find_attr(None, "members").map(|(_, a)| a);
        let work = json!({"value": "a@x.com", "type": "work", "primary": true});
        for (attr, element, filter, expected) in [
            (emails, &work, r#"type eq "WORK""#, true),
            (emails, &work, r#"type eq "work" and primary eq true"#, true),
            (emails, &work, r#"primary eq "true""#, true),
            (emails, &work, r#"not (value ew ".com")"#, false),
            (emails, &work, "display pr", false),
            (members, &json!({"value": "ABC"}), r#"value eq "abc""#, false),
            (members, &json!({"value": "ABC"}), r#"value eq "ABC""#, true),
            (None, &json!({"value": "ABC"}), r#"value eq "abc""#, true),
            (emails, &work, "primary gt true", false),
        ] {
            let f = parse_filter(filter).unwrap();
            assert_eq!(matches_element(attr, element, &f), expected, "{filter} on {element}");
        }
    }
}
