//! Resource bodies: validating what a client sends on POST and PUT into the stored document,
//! type coercion shared with PATCH, rendering the stored document back into a SCIM resource,
//! and `attributes`/`excludedAttributes` projection (RFC 7644 §3.9).

use serde_json::{Map, Value, json};

use crate::error::{Result, ScimError};
use crate::quirks::{self, Quirks};
use crate::schema::{
    ALL_SCHEMAS, AttrDef, AttrType, Mutability, ResourceKind, Returned, SCIM1_CORE_SCHEMA, SCIM1_ENTERPRISE_SCHEMA,
    SchemaDef,
};

/// A validated POST or PUT body.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The document to store: every attribute except `id`, `meta`, `groups`, `members` and `password`.
    pub doc: Value,
    /// Group members, when the body carried `members` (groups only).
    pub members: Option<Vec<Member>>,
}

/// Whether a group member is a user or a nested group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }
}

/// One group member as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub value: String,
    pub display: Option<String>,
    pub kind: MemberKind,
}

/// Parses one `members` element. Okta leaves out `type` (defaulted to `User`); Entra sends `"$ref": null`.
pub fn parse_member(v: &Value, quirks: &mut Quirks) -> Result<Member> {
    let obj =
        v.as_object().ok_or_else(|| ScimError::invalid_value("each member must be an object with a \"value\""))?;
    let value = get_ci(obj, "value")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("a member needs a non-empty string \"value\" (the member's id)"))?;
    let display = get_ci(obj, "display").and_then(Value::as_str).map(str::to_string);
    let kind = match get_ci(obj, "type") {
        None | Some(Value::Null) => {
            quirks.push(quirks::MEMBER_TYPE_DEFAULT);
            MemberKind::User
        }
        Some(Value::String(t)) if t.eq_ignore_ascii_case("user") => MemberKind::User,
        Some(Value::String(t)) if t.eq_ignore_ascii_case("group") => MemberKind::Group,
        Some(other) => {
            return Err(ScimError::invalid_value(format!("member type must be \"User\" or \"Group\", not {other}")));
        }
    };
    Ok(Member { value: value.to_string(), display, kind })
}

/// Looks up an object key ignoring ASCII case (RFC 7643 §2.1: attribute names are case-insensitive).
pub fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// The key under which `obj` stores `name`, ignoring case.
pub fn key_ci(obj: &Map<String, Value>, name: &str) -> Option<String> {
    if obj.contains_key(name) {
        return Some(name.to_string());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The schema of `kind` that `urn` names, ignoring case: the core schema or an extension, by
/// its 2.0 URN or by the SCIM 1.1 URN OneLogin templates send for it (labelled).
pub fn schema_by_urn(kind: ResourceKind, urn: &str, quirks: &mut Quirks) -> Option<&'static SchemaDef> {
    if urn.eq_ignore_ascii_case(kind.core().id) {
        return Some(kind.core());
    }
    if let Some(ext) = kind.extension(urn) {
        return Some(ext);
    }
    let schema = kind.scim1_schema(urn)?;
    quirks.push(quirks::SCIM1_URN);
    Some(schema)
}

/// Refuses a string holding the NUL character (U+0000) anywhere in `value`, object keys
/// included: PostgreSQL's text and jsonb cannot store it, so it would fail the write with a 500
/// and every later jsonb filter. `path` names `value` in the detail (`""` for a whole resource).
/// POST, PUT and every PATCH value go through this one check.
pub fn reject_nul(value: &Value, path: &str) -> Result<()> {
    let Some(trail) = nul_trail(value) else {
        return Ok(());
    };
    let mut name = path.to_string();
    let (keys, in_key) = trail;
    for key in keys.iter().rev() {
        let key = key.replace('\0', "\\u0000");
        name = match name.as_str() {
            "" => key,
            // `urn:…:enterprise:2.0:User:department`, as a PATCH path would name it.
            urn if is_schema_urn(urn) => format!("{urn}:{key}"),
            parent => format!("{parent}.{key}"),
        };
    }
    let name = if name.is_empty() { "value".to_string() } else { name };
    let what = if in_key { "the attribute name " } else { "" };
    Err(ScimError::invalid_value(format!(
        "{what}\"{name}\" contains the NUL character (U+0000), which cannot be stored"
    )))
}

/// The object keys leading to the first NUL in `v`, innermost first, and whether the NUL is in
/// the last key rather than in a string value. Paths are only built once one is found.
fn nul_trail(v: &Value) -> Option<(Vec<&str>, bool)> {
    match v {
        Value::String(s) => s.contains('\0').then(|| (Vec::new(), false)),
        Value::Array(items) => items.iter().find_map(nul_trail),
        Value::Object(obj) => obj.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some((vec![k.as_str()], true));
            }
            let (mut keys, in_key) = nul_trail(v)?;
            keys.push(k);
            Some((keys, in_key))
        }),
        _ => None,
    }
}

fn is_schema_urn(s: &str) -> bool {
    ALL_SCHEMAS
        .iter()
        .map(|d| d.id)
        .chain([SCIM1_CORE_SCHEMA, SCIM1_ENTERPRISE_SCHEMA])
        .any(|u| u.eq_ignore_ascii_case(s))
}

/// Validates a POST or PUT body for `kind` into the document to store.
///
/// readOnly attributes (`id`, `meta`, `groups`) are ignored as RFC 7644 §3.3 says; `password` is
/// accepted and never stored; unknown attributes are kept as sent. Attributes under the SCIM 1.1
/// enterprise URN (OneLogin) are stored under the 2.0 one.
pub fn normalize(kind: ResourceKind, body: &Value, quirks: &mut Quirks) -> Result<Incoming> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    reject_nul(body, "")?;
    let schemas = check_schemas(kind, obj, quirks)?;

    let mut doc = Map::new();
    let mut members = None;
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = schema_by_urn(kind, key, quirks).filter(|s| s.id != kind.core().id) {
            let v = match value {
                Value::Null => continue,
                Value::Object(inner) => coerce_object(ext.attributes, inner, ext.id, quirks)?,
                _ => return Err(ScimError::invalid_value(format!("\"{}\" must be an object", ext.id))),
            };
            match (doc.get_mut(ext.id), v) {
                // The 1.1 and the 2.0 key in one body: their attributes merge.
                (Some(Value::Object(cur)), Value::Object(attrs)) => cur.extend(attrs),
                (_, v) if v.as_object().is_some_and(|m| !m.is_empty()) => {
                    doc.insert(ext.id.to_string(), v);
                }
                _ => {}
            }
            continue;
        }
        match kind.find_attr(None, key) {
            Some((_, def)) => {
                if kind == ResourceKind::Group && def.name == "members" {
                    let list = match value {
                        Value::Null => vec![],
                        Value::Array(items) => {
                            items.iter().map(|m| parse_member(m, quirks)).collect::<Result<Vec<_>>>()?
                        }
                        _ => return Err(ScimError::invalid_value("\"members\" must be an array")),
                    };
                    members = Some(list);
                    continue;
                }
                if def.mutability == Mutability::ReadOnly {
                    if !(def.name == "groups" && value.as_array().is_some_and(Vec::is_empty)) {
                        quirks.push(quirks::READ_ONLY_IGNORED);
                    }
                    continue;
                }
                if def.mutability == Mutability::WriteOnly {
                    continue;
                }
                let v = coerce(def, value.clone(), def.name, quirks)?;
                if !is_unassigned(&v) {
                    doc.insert(def.name.to_string(), v);
                }
            }
            None => {
                // A password is never stored, on any resource, however it is spelled.
                let lower = key.to_ascii_lowercase();
                if !value.is_null() && lower != "password" && !lower.ends_with(":password") {
                    doc.insert(key.clone(), value.clone());
                }
            }
        }
    }
    let mut schema_list = vec![Value::String(kind.core().id.to_string())];
    let present_extensions = kind.extensions().iter().map(|e| e.id.to_string()).filter(|id| doc.contains_key(id));
    for urn in schemas.into_iter().chain(present_extensions) {
        if doc.contains_key(&urn) && !schema_list.iter().any(|s| s == &Value::String(urn.clone())) {
            schema_list.push(Value::String(urn));
        }
    }
    // Unknown URN-keyed objects stay listed so the stored resource stays self-describing.
    doc.insert("schemas".to_string(), Value::Array(schema_list));
    let doc = Value::Object(doc);
    check_required(kind, &doc)?;
    check_lengths(&doc)?;
    Ok(Incoming { doc, members })
}

/// The longest `userName`, `displayName` or `externalId` accepted, in characters. IdPs send far
/// less (Entra's UPN is at most 113, Okta's login 100); the cap keeps a hostile 1 MiB name
/// out of the unique index and out of every list response.
pub const MAX_NAME_CHARS: usize = 1024;

fn check_lengths(doc: &Value) -> Result<()> {
    for key in ["userName", "displayName", "externalId"] {
        if let Some(v) = doc.get(key).and_then(Value::as_str)
            && v.chars().count() > MAX_NAME_CHARS
        {
            return Err(ScimError::invalid_value(format!("\"{key}\" has at most {MAX_NAME_CHARS} characters")));
        }
    }
    Ok(())
}

fn check_schemas(kind: ResourceKind, obj: &Map<String, Value>, quirks: &mut Quirks) -> Result<Vec<String>> {
    let schemas = get_ci(obj, "schemas").ok_or_else(|| {
        ScimError::invalid_syntax(format!("\"schemas\" is required and must include \"{}\"", kind.core().id))
    })?;
    let list = schemas.as_array().ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must be an array of URNs"))?;
    let mut core = false;
    let mut others = vec![];
    for s in list {
        let s = s.as_str().ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must hold strings"))?;
        match schema_by_urn(kind, s, quirks) {
            Some(schema) if schema.id == kind.core().id => core = true,
            Some(ext) => others.push(ext.id.to_string()),
            None => {
                quirks.push(quirks::EXTRA_SCHEMA_URN);
                others.push(s.to_string());
            }
        }
    }
    if !core {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must include \"{}\" for a {}",
            kind.core().id,
            kind.name()
        )));
    }
    Ok(others)
}

fn check_required(kind: ResourceKind, doc: &Value) -> Result<()> {
    let name = match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    };
    match doc.get(name).and_then(Value::as_str) {
        Some(v) if !v.trim().is_empty() => Ok(()),
        _ => Err(ScimError::invalid_value(format!("\"{name}\" is required and must be a non-empty string"))),
    }
}

/// Null, empty strings? No: only null, empty arrays and empty objects are "unassigned" (RFC 7643 §2.5).
pub fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Checks `value` against `def` and coerces the shapes IdPs send: string booleans (Entra) and
/// a plain-string `manager` (Entra). `path` names the attribute in error details.
pub fn coerce(def: &AttrDef, value: Value, path: &str, quirks: &mut Quirks) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if def.multi_valued {
        let items = match value {
            Value::Array(items) => items,
            _ => return Err(ScimError::invalid_value(format!("\"{path}\" is multi-valued and must be an array"))),
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let v = coerce_single(def, item, path, quirks)?;
            if !is_unassigned(&v) {
                out.push(v);
            }
        }
        let primaries = out.iter().filter(|v| v.get("primary") == Some(&Value::Bool(true))).count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "\"{path}\" may have at most one element with \"primary\": true"
            )));
        }
        return Ok(Value::Array(out));
    }
    coerce_single(def, value, path, quirks)
}

/// Coerces one value (an element, for a multi-valued attribute).
pub fn coerce_single(def: &AttrDef, value: Value, path: &str, quirks: &mut Quirks) -> Result<Value> {
    let wrong = |expected: &str, got: &Value| {
        ScimError::invalid_value(format!("\"{path}\" must be {expected}, not {}", describe(got)))
    };
    match def.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(_) | Value::Null => Ok(value),
            other => Err(wrong("a string", &other)),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(value),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                quirks.push(quirks::STRING_BOOLEAN);
                Ok(Value::Bool(s.eq_ignore_ascii_case("true")))
            }
            other => Err(wrong("a boolean", &other)),
        },
        AttrType::Integer => match value {
            Value::Number(ref n) if n.is_i64() || n.is_u64() => Ok(value),
            other => Err(wrong("an integer", &other)),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(value),
            other => Err(wrong("a number", &other)),
        },
        AttrType::DateTime => match value {
            Value::String(ref s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(value),
            other => Err(wrong("an RFC 3339 date-time string", &other)),
        },
        AttrType::Complex => match value {
            Value::Object(obj) => coerce_object(def.sub_attributes, &obj, path, quirks),
            Value::String(s) if def.name == "manager" => {
                quirks.push(quirks::MANAGER_STRING);
                Ok(json!({ "value": s }))
            }
            other => Err(wrong("an object", &other)),
        },
    }
}

/// Coerces the members of an object against `defs`; unknown keys are kept as sent, readOnly
/// sub-attributes are dropped, nulls are removed.
pub fn coerce_object(defs: &[AttrDef], obj: &Map<String, Value>, path: &str, quirks: &mut Quirks) -> Result<Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        match defs.iter().find(|d| d.name.eq_ignore_ascii_case(k)) {
            Some(def) => {
                if def.mutability == Mutability::ReadOnly && path.contains("manager") {
                    continue;
                }
                let sub_path = format!("{path}.{}", def.name);
                let v = coerce(def, v.clone(), &sub_path, quirks)?;
                if !is_unassigned(&v) {
                    out.insert(def.name.to_string(), v);
                }
            }
            None => {
                if !v.is_null() {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Ok(Value::Object(out))
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.len() > 40 => format!("the string \"{}…\"", &s[..s.floor_char_boundary(40)]),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The stored metadata of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub created: String,
    pub last_modified: String,
    pub version: i64,
}

impl Meta {
    /// The entity tag, weak as the RFC's examples show: `W/"3"`.
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Renders a stored document as the SCIM resource a client sees. `extra` is the computed
/// `groups` of a user or the `members` of a group, already rendered.
pub fn render(kind: ResourceKind, base_url: &str, id: &str, doc: &Value, meta: &Meta, extra: Option<Value>) -> Value {
    let mut out = Map::new();
    let empty = Map::new();
    let doc = doc.as_object().unwrap_or(&empty);
    out.insert("schemas".into(), doc.get("schemas").cloned().unwrap_or_else(|| json!([kind.core().id])));
    out.insert("id".into(), Value::String(id.to_string()));
    if let Some(e) = doc.get("externalId") {
        out.insert("externalId".into(), e.clone());
    }
    for (k, v) in doc {
        if k != "schemas" && k != "externalId" {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(extra) = extra {
        let key = match kind {
            ResourceKind::User => "groups",
            ResourceKind::Group => "members",
        };
        if !is_unassigned(&extra) || kind == ResourceKind::Group {
            out.insert(key.into(), extra);
        }
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": meta.created,
            "lastModified": meta.last_modified,
            "location": format!("{base_url}/{}/{id}", kind.endpoint()),
            "version": meta.etag(),
        }),
    );
    Value::Object(out)
}

/// The `attributes` / `excludedAttributes` of a request (RFC 7644 §3.4.2.5), parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// Lower-cased full paths (`name.givenname`, `urn:...:user:department`); empty = default set.
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl Projection {
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let split = |s: Option<&str>| -> Vec<String> {
            s.map(|s| s.split(',').map(|p| p.trim().to_ascii_lowercase()).filter(|p| !p.is_empty()).collect())
                .unwrap_or_default()
        };
        Projection { attributes: split(attributes), excluded: split(excluded) }
    }

    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Whether the attribute `name` (top-level) should be fetched at all; the store uses this
    /// to skip loading members when `members` is excluded.
    pub fn wants(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        if self.excluded.iter().any(|e| strip_core(e) == name) {
            return false;
        }
        self.attributes.is_empty()
            || self.attributes.iter().any(|a| {
                let a = strip_core(a);
                a == name || a.starts_with(&format!("{name}."))
            })
    }

    /// Applies the projection to a rendered resource. `id`, `schemas` and `meta.resourceType`
    /// are always returned.
    pub fn apply(&self, kind: ResourceKind, resource: Value) -> Value {
        if self.is_default() {
            return resource;
        }
        let Value::Object(obj) = resource else { return resource };
        let mut out = Map::new();
        for (k, v) in obj {
            let always = matches!(k.as_str(), "id" | "schemas")
                || kind.find_attr(None, &k).is_some_and(|(_, d)| d.returned == Returned::Always);
            if always {
                out.insert(k, v);
                continue;
            }
            let key = k.to_ascii_lowercase();
            if let Some(v) = self.project_attr(&key, v) {
                out.insert(k, v);
            }
        }
        Value::Object(out)
    }

    fn project_attr(&self, key: &str, v: Value) -> Option<Value> {
        if !self.attributes.is_empty() {
            let wanted = sub_paths(&self.attributes, key);
            if wanted.is_empty() {
                return None;
            }
            if wanted.contains(&"") {
                return Some(v);
            }
            return Some(keep_subs(v, &wanted));
        }
        let dropped = sub_paths(&self.excluded, key);
        if dropped.contains(&"") {
            return None;
        }
        if dropped.is_empty() { Some(v) } else { Some(drop_subs(v, &dropped)) }
    }
}

/// What `paths` name under the top-level attribute `key`: `""` for the attribute itself, or
/// its sub-attributes (after `.`, or after `:` for an extension URN).
fn sub_paths<'a>(paths: &'a [String], key: &str) -> Vec<&'a str> {
    let sep = if key.starts_with("urn:") { ':' } else { '.' };
    paths
        .iter()
        .map(|a| strip_core(a))
        .filter_map(|a| if a == key { Some("") } else { a.strip_prefix(key).and_then(|r| r.strip_prefix(sep)) })
        .collect()
}

fn strip_core(path: &str) -> &str {
    for core in ["urn:ietf:params:scim:schemas:core:2.0:user:", "urn:ietf:params:scim:schemas:core:2.0:group:"] {
        if let Some(rest) = path.strip_prefix(core) {
            return rest;
        }
    }
    path
}

fn map_elements(v: Value, f: &dyn Fn(Map<String, Value>) -> Map<String, Value>) -> Value {
    match v {
        Value::Object(o) => Value::Object(f(o)),
        Value::Array(items) => Value::Array(items.into_iter().map(|i| map_elements(i, f)).collect()),
        other => other,
    }
}

fn keep_subs(v: Value, subs: &[&str]) -> Value {
    map_elements(v, &|o| o.into_iter().filter(|(k, _)| subs.contains(&k.to_ascii_lowercase().as_str())).collect())
}

fn drop_subs(v: Value, subs: &[&str]) -> Value {
    map_elements(v, &|o| o.into_iter().filter(|(k, _)| !subs.contains(&k.to_ascii_lowercase().as_str())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(body: Value) -> Result<(Value, Quirks)> {
        let mut q = Quirks::default();
        normalize(ResourceKind::User, &body, &mut q).map(|i| (i.doc, q))
    }

    /// Entra's string booleans become booleans and are labelled; readOnly input is ignored.
    #[test]
    fn coerces_string_booleans_and_ignores_read_only() {
        let (doc, q) = user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "client-chosen", "userName": "a@x.com", "active": "False",
            "meta": {"resourceType": "User"}, "roles": [], "password": "hunter2",
            "name": {"formatted": "Ann X", "givenName": "Ann"}, "customThing": {"x": 1}
        }))
        .unwrap();
        assert_eq!(doc["active"], json!(false), "\"False\" means false");
        assert!(doc.get("id").is_none() && doc.get("meta").is_none(), "readOnly input is ignored");
        assert!(doc.get("password").is_none(), "passwords are never stored");
        assert!(doc.get("roles").is_none(), "an empty array is unassigned");
        assert_eq!(doc["customThing"], json!({"x": 1}), "unknown attributes are kept");
        assert!(q.labels().contains(&quirks::STRING_BOOLEAN));
    }

    /// Wrong types are refused with the attribute named in the detail.
    #[test]
    fn refuses_wrong_types() {
        for (body, needle) in [
            (json!({"schemas":[crate::schema::USER_SCHEMA],"userName":"a","active":"maybe"}), "active"),
            (json!({"schemas":[crate::schema::USER_SCHEMA],"userName":"a","emails":"a@x"}), "emails"),
            (json!({"schemas":[crate::schema::USER_SCHEMA],"userName":"a","name":{"givenName":3}}), "name.givenName"),
            (json!({"schemas":[crate::schema::USER_SCHEMA],"userName":""}), "userName"),
            (json!({"schemas":[crate::schema::USER_SCHEMA]}), "userName"),
            (
                json!({"schemas":[crate::schema::USER_SCHEMA],"userName":"a",
                    "emails":[{"value":"a","primary":true},{"value":"b","primary":true}]}),
                "primary",
            ),
        ] {
            let err = user(body.clone()).unwrap_err();
            assert_eq!(err.scim_type(), Some("invalidValue"), "{body}");
            assert!(err.to_string().contains(needle), "detail names {needle}: {err}");
        }
        let err = user(json!({"userName": "a"})).unwrap_err();
        assert_eq!(err.scim_type(), Some("invalidSyntax"), "schemas is required");
    }

    /// The enterprise extension is validated; a plain-string manager becomes `{value}`.
    #[test]
    fn enterprise_extension() {
        let urn = crate::schema::ENTERPRISE_USER_SCHEMA;
        let (doc, q) = user(json!({
            "schemas": [crate::schema::USER_SCHEMA, urn], "userName": "a",
            urn: {"department": "Eng", "manager": "boss-id"}
        }))
        .unwrap();
        assert_eq!(doc[urn]["manager"], json!({"value": "boss-id"}));
        assert_eq!(doc["schemas"], json!([crate::schema::USER_SCHEMA, urn]));
        assert!(q.labels().contains(&quirks::MANAGER_STRING));
    }

    /// OneLogin's SCIM 1.1 URNs: the enterprise 1.0 object is stored under the 2.0 URN, both in
    /// `schemas` and as the key, so a 2.0 filter on `department` finds the user.
    #[test]
    fn scim1_enterprise_urn() {
        let ent = crate::schema::ENTERPRISE_USER_SCHEMA;
        let ent1 = "urn:scim:schemas:extension:enterprise:1.0";
        let (doc, q) = user(json!({
            "schemas": ["urn:scim:schemas:core:1.0", ent1], "userName": "a",
            ent1: {"department": "Ops", "manager": {"value": "boss-id", "displayName": "Boss"}}
        }))
        .unwrap();
        assert_eq!(
            doc,
            json!({"schemas": [crate::schema::USER_SCHEMA, ent], "userName": "a",
                   ent: {"department": "Ops", "manager": {"value": "boss-id"}}}),
            "the 1.1 object is validated as the 2.0 extension and stored under its URN"
        );
        assert_eq!(q.labels(), [quirks::SCIM1_URN], "the sync log names the 1.1 URN");
        let filter = crate::parse_filter(&format!("{ent}:department eq \"Ops\"")).unwrap();
        assert!(crate::matches(ResourceKind::User, &doc, &filter), "a 2.0 filter finds the 1.1 department");

        // Both keys in one body merge; the 2.0 schema is listed once.
        let (doc, _) = user(json!({
            "schemas": [crate::schema::USER_SCHEMA, ent, ent1], "userName": "a",
            ent: {"division": "X"}, ent1: {"department": "Ops"}
        }))
        .unwrap();
        assert_eq!(doc["schemas"], json!([crate::schema::USER_SCHEMA, ent]));
        assert_eq!(doc[ent], json!({"division": "X", "department": "Ops"}));
        assert!(doc.get(ent1).is_none(), "nothing is stored under the 1.1 key");
    }

    /// A NUL character anywhere in a POST or PUT body is refused with invalidValue naming the
    /// attribute: PostgreSQL cannot store it, and the detail itself must stay storable.
    #[test]
    fn refuses_nul() {
        let ent = crate::schema::ENTERPRISE_USER_SCHEMA;
        let base = || json!({"schemas": [crate::schema::USER_SCHEMA], "userName": "a"});
        let with = |key: &str, v: Value| {
            let mut b = base();
            b[key] = v;
            b
        };
        for (body, needle) in [
            (with("userName", json!("a\u{0}b")), "\"userName\" contains"),
            (with("displayName", json!("\u{0}")), "\"displayName\" contains"),
            (with("name", json!({"givenName": "A\u{0}"})), "\"name.givenName\""),
            (with("emails", json!([{"value": "a@x", "type": "work\u{0}"}])), "\"emails.type\""),
            (with(ent, json!({"manager": {"value": "b\u{0}"}})), &format!("\"{ent}:manager.value\"")),
            (with("custom", json!({"x": [["\u{0}"]]})), "\"custom.x\""),
            (with("password", json!("p\u{0}")), "\"password\""),
            (with("schemas", json!([crate::schema::USER_SCHEMA, "urn:x\u{0}"])), "\"schemas\""),
            (with("k\u{0}", json!(1)), "the attribute name \"k\\u0000\""),
        ] {
            let err = user(body.clone()).unwrap_err();
            assert_eq!((err.status(), err.scim_type()), (400, Some("invalidValue")), "{body}");
            let detail = err.to_string();
            assert!(detail.contains(needle), "the detail names {needle}: {detail}");
            assert!(detail.contains("NUL character (U+0000)"), "the detail says what is wrong: {detail}");
            assert!(!detail.contains('\0'), "the detail itself must be storable: {detail:?}");
        }
        let err = normalize(
            ResourceKind::Group,
            &json!({"schemas": [crate::schema::GROUP_SCHEMA], "displayName": "G",
                    "members": [{"value": "u1", "display": "A\u{0}"}]}),
            &mut Quirks::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"members.display\""), "group members are checked too: {err}");
    }

    /// Projection keeps `id` and `schemas`, and handles sub-attributes and exclusions.
    #[test]
    fn projection() {
        let r = json!({"schemas":["s"],"id":"1","userName":"a","name":{"givenName":"A","familyName":"B"},
                       "emails":[{"value":"a@x","type":"work"}],"meta":{"resourceType":"User"}});
        let p = Projection::parse(Some("userName,name.givenName"), None);
        assert_eq!(
            p.apply(ResourceKind::User, r.clone()),
            json!({"schemas":["s"],"id":"1","userName":"a","name":{"givenName":"A"}})
        );
        let p = Projection::parse(None, Some("emails.type,meta"));
        assert_eq!(
            p.apply(ResourceKind::User, r),
            json!({"schemas":["s"],"id":"1","userName":"a","name":{"givenName":"A","familyName":"B"},
                   "emails":[{"value":"a@x"}]})
        );
    }
}
