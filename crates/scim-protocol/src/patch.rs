//! The PATCH engine (RFC 7644 §3.5.2): applies a `PatchOp` request body to a stored resource
//! document. Pure functions on `serde_json::Value`; the store wires them to its rows.
//!
//! The store keeps a resource as one JSON document, `doc`: every attribute except `id`, `meta`,
//! a user's computed `groups` and a group's `members`, with extension attributes under their
//! full URN key and `schemas` listing the URNs in use. Group members are rows, because a group
//! can hold 100,000 of them and adding one must never rewrite the group, so member changes come
//! back as [`MemberOp`]s for the store to apply in order, in the same transaction as the document.
//!
//! ```text
//! apply_patch(kind, &mut doc, self_id, &body) -> Result<PatchOutcome { member_ops, quirks, doc_changed, changed }>
//! ```
//!
//! The rules, by RFC section, with the IdP shapes of the house's IdP notes accepted and labelled:
//! - §3.5.2: `op` ignores case (Entra's `"Replace"`); a request holds at most [`MAX_OPERATIONS`]
//!   operations and is atomic: on any error `doc` is left as it was.
//! - A path-less add or replace is one operation per key of `value`. Keys may be attribute
//!   names, extension URNs holding an object, or (Entra aadOptscim062020) a dotted `name.givenName`
//!   or full-URN `urn:…:User:employeeNumber` key, which addresses the attribute it names.
//!   `{"id": self_id}` is ignored (Okta's group rename) and never touches membership.
//! - §3.5.2.1/3: add and replace on a complex attribute merge sub-attributes; add appends to a
//!   multi-valued attribute, merging into an element with the same `value` (and `type`); replace
//!   of a whole multi-valued attribute replaces it. A value filter selects elements; when it
//!   selects none, an add or replace whose filter is a conjunction of `eq` terms creates the
//!   element from those terms (Entra), anything else is `noTarget`.
//! - §3.5.2.2: remove needs a path; a value filter that selects nothing is `noTarget`; removing
//!   a readOnly or required attribute is `mutability`. A remove whose `value` lists elements
//!   removes only those (Entra's member removal).
//! - Values are checked against the schema and coerced as [`resource::coerce`] does (string
//!   booleans, a plain-string `manager`); unknown attributes are kept as sent; `password` is
//!   accepted and never stored; setting `primary: true` clears it on the other elements.

use serde_json::{Map, Value};

use crate::ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::error::{Result, ScimError};
use crate::eval::{self, matches_element};
use crate::path::parse_patch_path;
use crate::quirks::{self, Quirks};
use crate::resource::{self, Member, get_ci, is_unassigned, key_ci};
use crate::schema::{AttrDef, AttrType, Mutability, PATCH_OP_SCHEMA, ResourceKind, SchemaDef};

/// The most operations one PATCH request may carry. More is refused with 413, as RFC 7644
/// §3.7.4 answers a bulk request over `maxOperations`: the limit bounds the work a single
/// request can cause, and no `scimType` of §3.12 describes a request that is merely too large.
pub const MAX_OPERATIONS: usize = 1000;

/// A change to a group's member rows, for the store to apply in order.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    /// Add these members (deduplicated by `value`). One already in the group stays, and may
    /// take the new `display`.
    Add(Vec<Member>),
    /// Remove these member ids; ids not in the group are ignored. Entra's
    /// `{"op":"Remove","path":"members","value":[{"value":"id"}]}`.
    Remove(Vec<String>),
    /// Remove the members a value filter selects: the filter of `members[value eq "id"]`, its
    /// paths relative to one member (`value`, `type`, `display`). The store answers `noTarget`
    /// when it selects no member (§3.5.2.2), failing the whole request.
    RemoveWhere(Filter),
    /// Remove every member: `{"op":"remove","path":"members"}`, or the first half of a replace.
    RemoveAll,
}

/// What a PATCH did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatchOutcome {
    /// Membership changes, in request order (groups only).
    pub member_ops: Vec<MemberOp>,
    /// The IdP shapes that were normalised, for the sync log.
    pub quirks: Quirks,
    /// The document differs from before: the store must write it.
    pub doc_changed: bool,
    /// `doc_changed`, or there are member ops. A PATCH with neither is a no-op and must not
    /// bump the version; whether member ops change any row only the store can tell.
    pub changed: bool,
}

/// Parses a PatchOp request body and applies it to `doc`, atomically: on error `doc` is
/// unchanged. `self_id` is the resource's id, which Okta's rename repeats in its value.
///
/// Errors: `invalidSyntax` for a body that is not a PatchOp or has no operations, 413 for more
/// than [`MAX_OPERATIONS`], and per operation `invalidPath`, `noTarget`, `invalidValue` or
/// `mutability`, the detail prefixed with the operation's index.
pub fn apply_patch(kind: ResourceKind, doc: &mut Value, self_id: &str, body: &Value) -> Result<PatchOutcome> {
    let mut quirks = Quirks::default();
    let ops = parse_body(body, &mut quirks)?;
    let original =
        doc.as_object().ok_or_else(|| ScimError::Internal("the stored document is not a JSON object".into()))?;
    let mut p = Patcher { kind, self_id, doc: original.clone(), quirks, member_ops: Vec::new(), urns_touched: false };
    for (i, op) in ops.iter().enumerate() {
        p.apply(op).map_err(|e| at_op(e, i))?;
    }
    if p.urns_touched {
        p.sync_schemas();
    }
    let doc_changed = p.doc != *original;
    let changed = doc_changed || !p.member_ops.is_empty();
    if doc_changed {
        *doc = Value::Object(p.doc);
    }
    Ok(PatchOutcome { member_ops: p.member_ops, quirks: p.quirks, doc_changed, changed })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Remove,
    Replace,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
            Op::Replace => "replace",
        }
    }
}

/// One element of `Operations`.
struct Operation<'a> {
    op: Op,
    path: Option<&'a str>,
    value: Option<&'a Value>,
}

fn parse_body<'a>(body: &'a Value, quirks: &mut Quirks) -> Result<Vec<Operation<'a>>> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a PATCH body must be a JSON object"))?;
    match get_ci(obj, "schemas") {
        // Okta deactivates with `{"Operations":[…]}` and no `schemas`: read it as a PatchOp.
        None | Some(Value::Null) => quirks.push(quirks::PATCH_WITHOUT_SCHEMAS),
        // A `schemas` naming another message is a different request sent by mistake.
        Some(list) => {
            let is_patch_op = list.as_array().is_some_and(|list| {
                list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA)))
            });
            if !is_patch_op {
                return Err(ScimError::invalid_syntax(format!("\"schemas\" must include \"{PATCH_OP_SCHEMA}\"")));
            }
        }
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("\"Operations\" must be an array of operations"))?;
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("\"Operations\" must hold at least one operation"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::PayloadTooLarge(format!(
            "a PATCH request may hold at most {MAX_OPERATIONS} operations, this one holds {}; split it",
            ops.len()
        )));
    }
    ops.iter().enumerate().map(|(i, op)| parse_operation(op, quirks).map_err(|e| at_op(e, i))).collect()
}

fn parse_operation<'a>(v: &'a Value, quirks: &mut Quirks) -> Result<Operation<'a>> {
    let obj =
        v.as_object().ok_or_else(|| ScimError::invalid_syntax("each operation must be an object with an \"op\""))?;
    for key in ["op", "path"] {
        if let Some(v) = get_ci(obj, key) {
            resource::reject_nul(v, key)?;
        }
    }
    let name = get_ci(obj, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("an operation needs \"op\": \"add\", \"remove\" or \"replace\""))?;
    let op = match name.to_ascii_lowercase().as_str() {
        "add" => Op::Add,
        "remove" => Op::Remove,
        "replace" => Op::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown op \"{name}\": expected \"add\", \"remove\" or \"replace\""
            )));
        }
    };
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        quirks.push(quirks::OP_CASE);
    }
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim()),
        Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
    };
    let value = get_ci(obj, "value");
    if op != Op::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!("\"{name}\" needs a \"value\"")));
    }
    if let Some(v) = value {
        resource::reject_nul(v, path.unwrap_or_default())?;
    }
    Ok(Operation { op, path, value })
}

/// Prefixes an error's detail with the index of the operation that caused it.
fn at_op(e: ScimError, i: usize) -> ScimError {
    use ScimError::*;
    let at = |m: String| format!("Operations[{i}]: {m}");
    match e {
        Mutability(m) => Mutability(at(m)),
        InvalidSyntax(m) => InvalidSyntax(at(m)),
        InvalidPath(m) => InvalidPath(at(m)),
        NoTarget(m) => NoTarget(at(m)),
        InvalidValue(m) => InvalidValue(at(m)),
        other => other,
    }
}

/// What an operation addresses.
enum Target {
    /// A whole extension object: `"path": "urn:…:enterprise:2.0:User"`.
    Extension(&'static SchemaDef),
    Attr(Box<AttrTarget>),
}

/// One attribute, resolved against the schema.
struct AttrTarget {
    /// The URN key the attribute lives under, `None` for top-level attributes.
    urn: Option<String>,
    /// The schema's spelling when the attribute is known, else as sent.
    name: String,
    def: Option<&'static AttrDef>,
    filter: Option<Filter>,
    /// The sub-attribute, from `name.givenName` or `emails[…].value`.
    sub: Option<String>,
    sub_def: Option<&'static AttrDef>,
    /// The path as the client wrote it, for error details.
    text: String,
}

impl AttrTarget {
    fn sub_defs(&self) -> &'static [AttrDef] {
        self.def.map_or(&[], |d| d.sub_attributes)
    }
}

struct Patcher<'a> {
    kind: ResourceKind,
    self_id: &'a str,
    doc: Map<String, Value>,
    quirks: Quirks,
    member_ops: Vec<MemberOp>,
    /// An operation wrote under a URN key, so `schemas` may need updating.
    urns_touched: bool,
}

impl Patcher<'_> {
    fn apply(&mut self, op: &Operation) -> Result<()> {
        match (op.path, op.value) {
            (None, _) if op.op == Op::Remove => {
                Err(ScimError::NoTarget("remove needs a \"path\" (RFC 7644 §3.5.2.2)".into()))
            }
            (None, Some(value)) => self.apply_pathless(op.op, value),
            (None, None) => Err(ScimError::invalid_value(format!("{} needs a \"value\"", op.op.as_str()))),
            (Some(path), value) => {
                let target = self.resolve_str(path)?;
                self.apply_target(op.op, target, value)
            }
        }
    }

    fn apply_target(&mut self, op: Op, target: Target, value: Option<&Value>) -> Result<()> {
        match target {
            Target::Extension(ext) => self.apply_extension(op, ext, value),
            Target::Attr(t) => self.apply_attr(op, &t, value),
        }
    }

    /// A path-less add or replace: each key of `value` is an operation on the attribute it names.
    fn apply_pathless(&mut self, op: Op, value: &Value) -> Result<()> {
        let obj = value.as_object().ok_or_else(|| {
            ScimError::invalid_value(format!(
                "{} without a \"path\" needs an object of attributes as its \"value\"",
                op.as_str()
            ))
        })?;
        for (key, v) in obj {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if key.eq_ignore_ascii_case("id") {
                // Okta renames a group with {"id": gid, "displayName": "New"}.
                if v.as_str() == Some(self.self_id) {
                    self.quirks.push(quirks::RENAME_WITH_ID);
                    continue;
                }
                return Err(ScimError::Mutability(format!("\"id\" is readOnly and cannot be changed to {v}")));
            }
            match resource::schema_by_urn(self.kind, key, &mut self.quirks) {
                Some(s) if s.id != self.kind.core().id => {
                    self.apply_extension(op, s, Some(v))?;
                    continue;
                }
                // The core schema's attributes wrapped under its URN, like an extension's.
                Some(_) if v.is_object() => {
                    self.apply_pathless(op, v)?;
                    continue;
                }
                _ => {}
            }
            let target = self.key_target(key)?;
            self.apply_attr(op, &target, Some(v))?;
        }
        Ok(())
    }

    /// Resolves a key of a path-less value. Dotted and full-URN keys (Entra aadOptscim062020)
    /// address the attribute they name instead of creating a literal `"name.givenName"`.
    fn key_target(&mut self, key: &str) -> Result<AttrTarget> {
        if key.contains('[') {
            self.quirks.push(quirks::DOTTED_KEYS);
            let PatchPath { attr, filter, sub_after_filter } = parse_patch_path(key)?;
            return self.resolve(attr, filter, sub_after_filter, key);
        }
        // Attribute names hold no ':', so the URN is everything before the last one.
        if let Some((urn, rest)) = key.rsplit_once(':')
            && let Some(schema) = resource::schema_by_urn(self.kind, urn, &mut self.quirks)
        {
            self.quirks.push(quirks::DOTTED_KEYS);
            let (name, sub) = split_sub(rest);
            return self.resolve(AttrPath { urn: Some(schema.id.into()), name, sub }, None, None, key);
        }
        if strip_prefix_ci(key, "urn:").is_some() {
            // An unknown extension's object, kept as sent like any unknown attribute.
            return self.resolve(AttrPath::new(key), None, None, key);
        }
        let (name, sub) = split_sub(key);
        if sub.is_some() {
            self.quirks.push(quirks::DOTTED_KEYS);
        }
        self.resolve(AttrPath { urn: None, name, sub }, None, None, key)
    }

    fn resolve_str(&mut self, path: &str) -> Result<Target> {
        if let Some(ext) = resource::schema_by_urn(self.kind, path, &mut self.quirks)
            && ext.id != self.kind.core().id
        {
            return Ok(Target::Extension(ext));
        }
        let PatchPath { attr, filter, sub_after_filter } = parse_patch_path(path)?;
        self.resolve(attr, filter, sub_after_filter, path).map(|t| Target::Attr(Box::new(t)))
    }

    fn resolve(
        &mut self,
        attr: AttrPath,
        filter: Option<Filter>,
        sub_after_filter: Option<String>,
        text: &str,
    ) -> Result<AttrTarget> {
        let (urn, def) = match &attr.urn {
            None => (None, self.kind.find_attr(None, &attr.name).map(|(_, d)| d)),
            Some(u) => match resource::schema_by_urn(self.kind, u, &mut self.quirks) {
                Some(core) if core.id == self.kind.core().id => {
                    (None, self.kind.find_attr(Some(core.id), &attr.name).map(|(_, d)| d))
                }
                Some(ext) => (Some(ext.id.to_string()), ext.attr(&attr.name)),
                // The IETF namespace holds only the schemas this server knows; anything else
                // there (the Group URN on a user) is a mistake, not a custom extension.
                None if strip_prefix_ci(u, "urn:ietf:params:scim:").is_some() => {
                    return Err(ScimError::invalid_path(format!(
                        "\"{text}\": \"{u}\" is not a schema of a {}",
                        self.kind.name()
                    )));
                }
                None => (Some(u.clone()), None),
            },
        };
        let sub = match (attr.sub, sub_after_filter) {
            (Some(_), Some(_)) => {
                return Err(ScimError::invalid_path(format!("\"{text}\" names two sub-attributes")));
            }
            (a, b) => a.or(b),
        };
        if let Some(f) = &filter {
            // An ill-typed filter (`emails[primary gt true]`) would select nothing and read as
            // noTarget; say what is wrong with the path instead.
            let whole = Filter::ValuePath {
                path: AttrPath { urn: attr.urn.clone(), name: attr.name.clone(), sub: None },
                filter: Box::new(f.clone()),
            };
            eval::validate(self.kind, &whole).map_err(|e| ScimError::invalid_path(format!("\"{text}\": {e}")))?;
        }
        if let Some(d) = def {
            if filter.is_some() && !d.multi_valued {
                return Err(ScimError::invalid_path(format!(
                    "\"{text}\": a value filter needs a multi-valued attribute, and \"{}\" is single-valued",
                    d.name
                )));
            }
            if sub.is_some() && d.ty != AttrType::Complex {
                return Err(ScimError::invalid_path(format!("\"{text}\": \"{}\" has no sub-attributes", d.name)));
            }
            if sub.is_some() && filter.is_none() && d.multi_valued {
                return Err(ScimError::invalid_path(format!(
                    "\"{text}\": select the elements of \"{}\" with a value filter, as in {}[type eq \"work\"].value",
                    d.name, d.name
                )));
            }
        }
        let sub_def = match (def, &sub) {
            (Some(d), Some(s)) => d.sub(s),
            _ => None,
        };
        Ok(AttrTarget {
            urn,
            name: def.map_or(attr.name, |d| d.name.to_string()),
            def,
            filter,
            sub: sub_def.map(|s| s.name.to_string()).or(sub),
            sub_def,
            text: text.to_string(),
        })
    }

    fn apply_extension(&mut self, op: Op, ext: &'static SchemaDef, value: Option<&Value>) -> Result<()> {
        self.urns_touched = true;
        match (op, value) {
            (Op::Remove, _) => {
                take(&mut self.doc, ext.id);
                Ok(())
            }
            (_, None) => Ok(()),
            (Op::Replace, Some(Value::Null)) => {
                take(&mut self.doc, ext.id);
                Ok(())
            }
            (Op::Add, Some(Value::Null)) => Ok(()),
            // Replace of a complex value leaves unnamed sub-attributes alone (§3.5.2.3), so
            // both add and replace are one operation per attribute.
            (_, Some(Value::Object(obj))) => {
                for (key, v) in obj {
                    let (name, sub) = split_sub(key);
                    let path = AttrPath { urn: Some(ext.id.to_string()), name, sub };
                    let t = self.resolve(path, None, None, &format!("{}:{key}", ext.id))?;
                    self.apply_attr(op, &t, Some(v))?;
                }
                Ok(())
            }
            (_, Some(other)) => {
                Err(ScimError::invalid_value(format!("\"{}\" must be an object, not {}", ext.id, describe(other))))
            }
        }
    }

    fn apply_attr(&mut self, op: Op, t: &AttrTarget, value: Option<&Value>) -> Result<()> {
        if let Some(def) = t.def {
            match def.mutability {
                Mutability::ReadOnly => return self.read_only(op, t, value),
                // `password`: accepted so the IdP's sync goes on, never stored.
                Mutability::WriteOnly => return Ok(()),
                _ => {}
            }
            if self.kind == ResourceKind::Group && t.urn.is_none() && def.name == "members" {
                return self.members(op, t, value);
            }
        }
        if t.sub_def.is_some_and(|s| s.mutability == Mutability::ReadOnly) {
            return Err(ScimError::Mutability(format!("\"{}\" is readOnly", t.text)));
        }
        if t.urn.is_some() {
            self.urns_touched = true;
        }
        match (op, value, t.filter.is_some(), t.sub.is_some()) {
            (Op::Remove, _, false, false) => self.remove_whole(t, value),
            (Op::Remove, _, false, true) => self.remove_sub(t),
            (Op::Remove, _, true, _) => self.remove_filtered(t),
            (_, None, _, _) => Ok(()),
            (_, Some(v), false, false) => self.write_whole(op, t, v),
            (_, Some(v), false, true) => self.write_sub(t, v),
            (_, Some(v), true, _) => self.write_filtered(t, v),
        }
    }

    /// `id`, `meta` and `groups`: the server's to set (RFC 7643 §2.2). What restates the
    /// current state is let through, anything else is `mutability`.
    fn read_only(&mut self, op: Op, t: &AttrTarget, value: Option<&Value>) -> Result<()> {
        let whole = t.filter.is_none() && t.sub.is_none() && op != Op::Remove;
        let name = t.def.map_or("", |d| d.name);
        if whole && name == "id" && value.and_then(Value::as_str) == Some(self.self_id) {
            self.quirks.push(quirks::READ_ONLY_IGNORED);
            return Ok(());
        }
        // Okta sends `groups: []` with users; membership is managed on groups.
        if whole && name == "groups" && value.is_some_and(is_unassigned) {
            return Ok(());
        }
        Err(ScimError::Mutability(format!("\"{}\" is readOnly", t.text)))
    }

    /// Group membership becomes [`MemberOp`]s; the group document is never rewritten for it.
    fn members(&mut self, op: Op, t: &AttrTarget, value: Option<&Value>) -> Result<()> {
        if let Some(sub) = &t.sub {
            if t.sub_def.is_some_and(|s| s.mutability == Mutability::Immutable) {
                return Err(ScimError::Mutability(format!(
                    "\"{}\": a member's \"{sub}\" is immutable; remove the member and add it again",
                    t.text
                )));
            }
            return Err(ScimError::invalid_path(format!(
                "\"{}\": members are added and removed whole, not edited",
                t.text
            )));
        }
        match (op, &t.filter) {
            (Op::Remove, Some(filter)) => self.member_ops.push(MemberOp::RemoveWhere(filter.clone())),
            (_, Some(_)) => {
                return Err(ScimError::invalid_path(format!(
                    "\"{}\": {} members with \"path\": \"members\"; a value filter only selects members to remove",
                    t.text,
                    op.as_str()
                )));
            }
            (Op::Remove, None) => {
                match value {
                    None | Some(Value::Null) => self.member_ops.push(MemberOp::RemoveAll),
                    // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]} removes
                    // only those; reading it as "remove all" emptied real groups elsewhere.
                    Some(v) => {
                        self.quirks.push(quirks::MEMBER_REMOVE_BY_VALUE);
                        let ids = member_items(v)?
                            .iter()
                            .map(|m| {
                                m.as_object()
                                    .and_then(|o| get_ci(o, "value"))
                                    .and_then(Value::as_str)
                                    .filter(|s| !s.trim().is_empty())
                                    .map(str::to_string)
                                    .ok_or_else(|| {
                                        ScimError::invalid_value(
                                            "each member to remove needs a non-empty string \"value\"",
                                        )
                                    })
                            })
                            .collect::<Result<Vec<_>>>()?;
                        if !ids.is_empty() {
                            self.member_ops.push(MemberOp::Remove(ids));
                        }
                    }
                }
            }
            (Op::Add | Op::Replace, None) => {
                let mut list: Vec<Member> = Vec::new();
                for item in member_items(value.unwrap_or(&Value::Null))? {
                    let m = resource::parse_member(item, &mut self.quirks)?;
                    if !list.iter().any(|x| x.value == m.value) {
                        list.push(m);
                    }
                }
                if op == Op::Replace {
                    self.member_ops.push(MemberOp::RemoveAll);
                }
                if !list.is_empty() {
                    self.member_ops.push(MemberOp::Add(list));
                }
            }
        }
        Ok(())
    }

    /// Add or replace a whole attribute.
    fn write_whole(&mut self, op: Op, t: &AttrTarget, value: &Value) -> Result<()> {
        let existing = self.get(t).cloned();
        let Some(def) = t.def else {
            let new = merge_unknown(op, existing, value);
            self.set(t, new);
            return Ok(());
        };
        let path = t.text.as_str();
        if def.multi_valued {
            let items = match value {
                Value::Null => vec![],
                Value::Array(items) => items.clone(),
                // §3.5.2.1: an add to a multi-valued attribute adds "a new value".
                one => vec![one.clone()],
            };
            let mut new: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                let v = self.coerce_element(def, item, path)?;
                if !is_unassigned(&v) && !new.contains(&v) {
                    new.push(v);
                }
            }
            let mut arr = match (op, existing) {
                (Op::Add, Some(Value::Array(arr))) => arr,
                _ => Vec::new(),
            };
            let mut written = Vec::with_capacity(new.len());
            for v in new {
                match arr.iter().position(|e| same_element(def, e, &v)) {
                    Some(i) => {
                        overlay(&mut arr[i], v);
                        written.push(i);
                    }
                    None => {
                        arr.push(v);
                        written.push(arr.len() - 1);
                    }
                }
            }
            fix_primary(&mut arr, &written, path)?;
            if arr.is_empty() {
                if op == Op::Add {
                    return Ok(());
                }
                return self.unassign(t);
            }
            self.set(t, Some(Value::Array(arr)));
            return Ok(());
        }
        let new = match (def.ty, value) {
            (_, Value::Null) => None,
            // Add and replace of a complex attribute merge sub-attributes (§3.5.2.1, §3.5.2.3).
            (AttrType::Complex, Value::Object(obj)) => {
                let mut cur = existing.and_then(into_object).unwrap_or_default();
                merge_object(def.sub_attributes, &mut cur, obj, path, &mut self.quirks)?;
                Some(Value::Object(cur))
            }
            (AttrType::Complex, other) => {
                // Entra's plain-string manager becomes {"value": …}; other shapes are refused.
                let coerced = resource::coerce_single(def, other.clone(), path, &mut self.quirks)?;
                let mut cur = existing.and_then(into_object).unwrap_or_default();
                if let Value::Object(obj) = coerced {
                    merge_object(def.sub_attributes, &mut cur, &obj, path, &mut self.quirks)?;
                }
                Some(Value::Object(cur))
            }
            (_, v) => {
                let v = resource::coerce(def, v.clone(), path, &mut self.quirks)?;
                if def.required && v.as_str().is_some_and(|s| s.trim().is_empty()) {
                    return Err(ScimError::invalid_value(format!("\"{path}\" is required and must not be empty")));
                }
                Some(v)
            }
        };
        match new.filter(|v| !is_unassigned(v)) {
            None => self.unassign(t),
            Some(v) => {
                if def.mutability == Mutability::Immutable && existing_differs(self.get(t), &v) {
                    return Err(ScimError::Mutability(format!("\"{path}\" is immutable")));
                }
                self.set(t, Some(v));
                Ok(())
            }
        }
    }

    /// Add or replace one sub-attribute of a singular complex attribute: `name.givenName`.
    fn write_sub(&mut self, t: &AttrTarget, value: &Value) -> Result<()> {
        let sub = t.sub.as_deref().unwrap_or_default();
        let mut patch = Map::new();
        patch.insert(sub.to_string(), value.clone());
        let mut cur = self.get(t).cloned().and_then(into_object).unwrap_or_default();
        merge_object(t.sub_defs(), &mut cur, &patch, &parent_path(t), &mut self.quirks)?;
        self.set(t, Some(Value::Object(cur)).filter(|v| !is_unassigned(v)));
        Ok(())
    }

    /// Add or replace the elements a value filter selects, or create one (Entra).
    fn write_filtered(&mut self, t: &AttrTarget, value: &Value) -> Result<()> {
        let filter = t.filter.as_ref().expect("write_filtered needs a filter");
        let patch = match (&t.sub, value) {
            (Some(sub), v) => {
                let mut m = Map::new();
                m.insert(sub.clone(), v.clone());
                m
            }
            (None, Value::Object(obj)) => obj.clone(),
            (None, other) => {
                return Err(ScimError::invalid_value(format!(
                    "\"{}\" selects whole elements, so its value must be an object, not {}",
                    t.text,
                    describe(other)
                )));
            }
        };
        let mut arr = self.existing_array(t)?;
        let selected = select(t.def, &arr, filter);
        let path = parent_path(t);
        let mut written = selected.clone();
        for &i in &selected {
            let mut el = std::mem::take(&mut arr[i]).as_object().cloned().unwrap_or_default();
            merge_object(t.sub_defs(), &mut el, &patch, &path, &mut self.quirks)?;
            arr[i] = Value::Object(el);
        }
        if selected.is_empty() {
            // RFC 7644 §3.5.2.3 says noTarget; Entra expects `emails[type eq "work"].value` to
            // create the work email, so a filter of plain `eq` terms seeds a new element.
            let seed = eq_terms(filter).ok_or_else(|| {
                ScimError::NoTarget(format!(
                    "\"{}\" matches no value, and its filter cannot describe a new one",
                    t.text
                ))
            })?;
            // A filter string may spell NUL as `\u0000`; the element it seeds is written too.
            resource::reject_nul(&Value::Object(seed.clone()), &path)?;
            let mut el = Map::new();
            merge_object(t.sub_defs(), &mut el, &seed, &path, &mut self.quirks)?;
            merge_object(t.sub_defs(), &mut el, &patch, &path, &mut self.quirks)?;
            self.quirks.push(quirks::VALUE_PATH_CREATE);
            arr.push(Value::Object(el));
            written.push(arr.len() - 1);
        }
        arr.retain(|e| !is_unassigned(e));
        fix_primary(&mut arr, &written, &path)?;
        if arr.is_empty() {
            return self.unassign(t);
        }
        self.set(t, Some(Value::Array(arr)));
        Ok(())
    }

    /// Remove a whole attribute, or (with a value list) only the listed elements.
    fn remove_whole(&mut self, t: &AttrTarget, value: Option<&Value>) -> Result<()> {
        let existing = self.get(t).cloned();
        let listed = value.filter(|v| !v.is_null());
        match (existing, listed) {
            (None, _) => Ok(()),
            (Some(Value::Array(mut arr)), Some(listed)) => {
                // Entra's member-removal shape on another multi-valued attribute: remove only
                // the elements the value lists.
                self.quirks.push(quirks::REMOVE_BY_VALUE_LIST);
                let listed: Vec<Value> = match listed {
                    Value::Array(items) => items.iter().map(as_element).collect(),
                    one => vec![as_element(one)],
                };
                let def = t.def;
                arr.retain(|e| !listed.iter().any(|l| def.map_or(e == l, |d| same_element(d, e, l))));
                if arr.is_empty() {
                    return self.unassign(t);
                }
                self.set(t, Some(Value::Array(arr)));
                Ok(())
            }
            (Some(_), _) => {
                if t.def.is_some_and(|d| d.mutability == Mutability::Immutable) {
                    return Err(ScimError::Mutability(format!("\"{}\" is immutable", t.text)));
                }
                self.unassign(t)
            }
        }
    }

    /// Remove one sub-attribute of a singular complex attribute.
    fn remove_sub(&mut self, t: &AttrTarget) -> Result<()> {
        let sub = t.sub.as_deref().unwrap_or_default();
        let Some(mut cur) = self.get(t).cloned().and_then(into_object) else {
            return Ok(());
        };
        if get_ci(&cur, sub).is_some() && t.sub_def.is_some_and(|s| s.mutability == Mutability::Immutable) {
            return Err(ScimError::Mutability(format!("\"{}\" is immutable", t.text)));
        }
        take(&mut cur, sub);
        self.set(t, Some(Value::Object(cur)).filter(|v| !is_unassigned(v)));
        Ok(())
    }

    /// Remove the elements a value filter selects, or one sub-attribute of each.
    fn remove_filtered(&mut self, t: &AttrTarget) -> Result<()> {
        let filter = t.filter.as_ref().expect("remove_filtered needs a filter");
        let mut arr = self.existing_array(t)?;
        let selected = select(t.def, &arr, filter);
        if selected.is_empty() {
            return Err(ScimError::NoTarget(format!("\"{}\" matches no value", t.text)));
        }
        match &t.sub {
            None => {
                let mut i = 0;
                arr.retain(|_| {
                    i += 1;
                    !selected.contains(&(i - 1))
                });
            }
            Some(sub) => {
                if t.sub_def.is_some_and(|s| s.mutability == Mutability::Immutable) {
                    return Err(ScimError::Mutability(format!("\"{}\" is immutable", t.text)));
                }
                for &i in &selected {
                    if let Some(el) = arr[i].as_object_mut() {
                        take(el, sub);
                    }
                }
                arr.retain(|e| !is_unassigned(e));
            }
        }
        if arr.is_empty() {
            return self.unassign(t);
        }
        self.set(t, Some(Value::Array(arr)));
        Ok(())
    }

    /// Removes an attribute, unless the schema requires it (§3.5.2.2: `mutability`).
    fn unassign(&mut self, t: &AttrTarget) -> Result<()> {
        if t.urn.is_none() && t.def.is_some_and(|d| d.required) {
            return Err(ScimError::Mutability(format!(
                "\"{}\" is required and cannot be removed",
                t.def.map_or("", |d| d.name)
            )));
        }
        self.set(t, None);
        Ok(())
    }

    fn coerce_element(&mut self, def: &AttrDef, item: Value, path: &str) -> Result<Value> {
        match (def.ty, item) {
            (AttrType::Complex, Value::Object(obj)) => {
                let mut el = Map::new();
                merge_object(def.sub_attributes, &mut el, &obj, path, &mut self.quirks)?;
                Ok(Value::Object(el))
            }
            (_, item) => resource::coerce_single(def, item, path, &mut self.quirks),
        }
    }

    /// The current array a value filter applies to; an unassigned attribute has no elements.
    fn existing_array(&self, t: &AttrTarget) -> Result<Vec<Value>> {
        match self.get(t) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => {
                Err(ScimError::invalid_path(format!("\"{}\": a value filter needs a multi-valued attribute", t.text)))
            }
        }
    }

    fn get(&self, t: &AttrTarget) -> Option<&Value> {
        let container = match &t.urn {
            None => &self.doc,
            Some(urn) => get_ci(&self.doc, urn)?.as_object()?,
        };
        get_ci(container, &t.name).filter(|v| !v.is_null())
    }

    /// Writes (`Some`) or removes (`None`) the attribute, under the schema's spelling; an
    /// extension object left empty is removed.
    fn set(&mut self, t: &AttrTarget, value: Option<Value>) {
        let Some(urn) = &t.urn else {
            match value {
                Some(v) => put(&mut self.doc, &t.name, v),
                None => {
                    take(&mut self.doc, &t.name);
                }
            }
            return;
        };
        let mut container = take(&mut self.doc, urn).and_then(into_object).unwrap_or_default();
        match value {
            Some(v) => put(&mut container, &t.name, v),
            None => {
                take(&mut container, &t.name);
            }
        }
        if !container.is_empty() {
            self.doc.insert(urn.clone(), Value::Object(container));
        }
    }

    /// Keeps `schemas` listing the core URN and each URN-keyed object present (RFC 7643 §3).
    fn sync_schemas(&mut self) {
        let core = self.kind.core().id;
        let urn_keys: Vec<String> = self.doc.keys().filter(|k| strip_prefix_ci(k, "urn:").is_some()).cloned().collect();
        let mut list = match self.doc.get("schemas") {
            Some(Value::Array(a)) => a.clone(),
            _ if urn_keys.is_empty() => return,
            _ => vec![Value::String(core.to_string())],
        };
        list.retain(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(core) || urn_keys.iter().any(|k| k.eq_ignore_ascii_case(s)))
        });
        for k in urn_keys {
            if !list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&k))) {
                list.push(Value::String(k));
            }
        }
        put(&mut self.doc, "schemas", Value::Array(list));
    }
}

/// The members a value lists: an array, one member object, or Entra's `{"members": [...]}`.
fn member_items(v: &Value) -> Result<&[Value]> {
    match v {
        Value::Null => Ok(&[]),
        Value::Array(items) => Ok(items),
        Value::Object(o) => match get_ci(o, "members") {
            Some(inner) if !o.contains_key("value") => member_items(inner),
            _ => Ok(std::slice::from_ref(v)),
        },
        other => Err(ScimError::invalid_value(format!(
            "\"members\" must be an array of {{\"value\": id}} objects, not {}",
            describe(other)
        ))),
    }
}

/// Merges `patch` into `cur`, checking each sub-attribute it knows against `defs`. A null
/// removes the sub-attribute; readOnly ones (`manager.displayName`, which OneLogin sends) are
/// dropped; an immutable one may be set but not changed; unknown ones are kept as sent.
fn merge_object(
    defs: &[AttrDef],
    cur: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &str,
    quirks: &mut Quirks,
) -> Result<()> {
    for (k, v) in patch {
        let def = defs.iter().find(|d| d.name.eq_ignore_ascii_case(k));
        let name = def.map_or(k.as_str(), |d| d.name);
        let sub_path = format!("{path}.{name}");
        let new = match def {
            Some(d) if d.mutability == Mutability::ReadOnly => {
                if !v.is_null() {
                    quirks.push(quirks::READ_ONLY_IGNORED);
                }
                continue;
            }
            Some(d) => resource::coerce(d, v.clone(), &sub_path, quirks)?,
            None => v.clone(),
        };
        if def.is_some_and(|d| d.mutability == Mutability::Immutable) && existing_differs(get_ci(cur, name), &new) {
            return Err(ScimError::Mutability(format!("\"{sub_path}\" is immutable")));
        }
        if is_unassigned(&new) {
            take(cur, name);
        } else {
            put(cur, name, new);
        }
    }
    Ok(())
}

/// An attribute the schema does not know, kept as sent: add appends to an array and merges
/// into an object, replace merges into an object and otherwise overwrites.
fn merge_unknown(op: Op, existing: Option<Value>, value: &Value) -> Option<Value> {
    let merged = match (op, existing, value) {
        (_, _, Value::Null) => return None,
        (Op::Add, Some(Value::Array(mut arr)), Value::Array(items)) => {
            for item in items {
                if !arr.contains(item) {
                    arr.push(item.clone());
                }
            }
            Value::Array(arr)
        }
        (_, Some(Value::Object(mut cur)), Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    take(&mut cur, k);
                } else {
                    put(&mut cur, k, v.clone());
                }
            }
            Value::Object(cur)
        }
        (_, _, v) => v.clone(),
    };
    Some(merged).filter(|v| !is_unassigned(v))
}

/// Whether a new element describes an existing one: equal, or the same `value` (compared as the
/// schema's `caseExact` says) and a `type` that is equal or left out. Add merges into it.
fn same_element(def: &AttrDef, existing: &Value, new: &Value) -> bool {
    if existing == new {
        return true;
    }
    let (Some(e), Some(n)) = (existing.as_object(), new.as_object()) else {
        return !def.case_exact
            && matches!((existing, new), (Value::String(a), Value::String(b)) if a.eq_ignore_ascii_case(b));
    };
    let (Some(ev), Some(nv)) = (get_ci(e, "value"), get_ci(n, "value")) else {
        return false;
    };
    let same = |a: &Value, b: &Value, sub: Option<&AttrDef>| match (a, b) {
        (Value::String(a), Value::String(b)) if !sub.is_some_and(|s| s.case_exact) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    };
    same(ev, nv, def.sub("value"))
        && match get_ci(n, "type") {
            None => true,
            Some(nt) => get_ci(e, "type").is_some_and(|et| same(et, nt, def.sub("type"))),
        }
}

/// A listed element to remove: `"a@x"` stands for `{"value": "a@x"}`.
fn as_element(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::json!({ "value": s }),
        other => other.clone(),
    }
}

/// Copies the keys of `new` over its twin `target`, keeping the twin's spelling of the `value`
/// and `type` that made them twins.
fn overlay(target: &mut Value, new: Value) {
    match (target.as_object_mut(), new) {
        (Some(t), Value::Object(n)) => {
            for (k, v) in n {
                let identity = k.eq_ignore_ascii_case("value") || k.eq_ignore_ascii_case("type");
                if !(identity && get_ci(t, &k).is_some()) {
                    put(t, &k, v);
                }
            }
        }
        (_, n) => *target = n,
    }
}

/// RFC 7644 §3.5.2: setting `primary: true` on one element sets it to false on the others.
/// Two written elements both primary is `invalidValue` (RFC 7643 §2.4: at most one).
fn fix_primary(arr: &mut [Value], written: &[usize], path: &str) -> Result<()> {
    let is_primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
    let mut chosen: Vec<usize> = written.iter().copied().filter(|&i| is_primary(&arr[i])).collect();
    chosen.dedup();
    match chosen[..] {
        [] => Ok(()),
        [keep] => {
            for (i, el) in arr.iter_mut().enumerate() {
                if i != keep && is_primary(el) {
                    el["primary"] = Value::Bool(false);
                }
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!("\"{path}\" may have at most one element with \"primary\": true"))),
    }
}

/// The element a filter of `eq` terms describes: `type eq "work"` → `{"type": "work"}`.
fn eq_terms(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare { path: AttrPath { urn: None, name, sub: None }, op: CompareOp::Eq, value } => {
            let v = match value {
                CompValue::Null => return None,
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::String(s) => Value::String(s.clone()),
            };
            let mut m = Map::new();
            m.insert(name.clone(), v);
            Some(m)
        }
        Filter::And(a, b) => {
            let mut m = eq_terms(a)?;
            for (k, v) in eq_terms(b)? {
                match get_ci(&m, &k) {
                    Some(old) if *old != v => return None,
                    _ => put(&mut m, &k, v),
                }
            }
            Some(m)
        }
        _ => None,
    }
}

/// The indices of the elements a value filter selects.
fn select(def: Option<&'static AttrDef>, arr: &[Value], filter: &Filter) -> Vec<usize> {
    arr.iter().enumerate().filter(|(_, el)| matches_element(def, el, filter)).map(|(i, _)| i).collect()
}

fn existing_differs(existing: Option<&Value>, new: &Value) -> bool {
    existing.is_some_and(|old| !is_unassigned(old) && old != new)
}

/// `emails[type eq "work"]` for error details about the elements' sub-attributes.
fn parent_path(t: &AttrTarget) -> String {
    match t.text.rfind(['.', ']']) {
        Some(i) if t.text[i..].starts_with('.') && t.sub.is_some() => t.text[..i].to_string(),
        _ => t.text.clone(),
    }
}

fn into_object(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// Writes `name`, replacing a key that differs only in case (names ignore case, RFC 7643 §2.1).
fn put(map: &mut Map<String, Value>, name: &str, value: Value) {
    if let Some(k) = key_ci(map, name)
        && k != name
    {
        map.shift_remove(&k);
    }
    map.insert(name.to_string(), value);
}

/// Removes `name`, ignoring case, keeping the other keys in order.
fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    key_ci(map, name).and_then(|k| map.shift_remove(&k))
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// `name.givenName` → (`name`, `givenName`).
fn split_sub(key: &str) -> (String, Option<String>) {
    match key.split_once('.') {
        Some((name, sub)) => (name.to_string(), Some(sub.to_string())),
        None => (key.to_string(), None),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::MemberKind;
    use crate::schema::{ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, USER_SCHEMA};
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    const SELF_ID: &str = "self-id";

    fn body(ops: Value) -> Value {
        json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": ops })
    }

    /// Applies `ops` to `before`; returns the outcome and the document afterwards.
    fn run(kind: ResourceKind, before: &Value, ops: Value) -> (Result<PatchOutcome>, Value) {
        let mut doc = before.clone();
        let out = apply_patch(kind, &mut doc, SELF_ID, &body(ops));
        (out, doc)
    }

    /// `patch(before, ops, after)` for a user.
    fn patch(before: Value, ops: Value, after: Value) -> PatchOutcome {
        let (out, doc) = run(ResourceKind::User, &before, ops.clone());
        let out = out.unwrap_or_else(|e| panic!("{ops} should apply, got {e:?}"));
        assert_eq!(doc, after, "document after {ops}");
        assert_eq!(out.doc_changed, before != after, "doc_changed must say whether {ops} changed the document");
        out
    }

    /// `patch(before, ops, after)` for a group, with the member ops it must produce.
    fn group(before: Value, ops: Value, after: Value, member_ops: Vec<MemberOp>) -> PatchOutcome {
        let (out, doc) = run(ResourceKind::Group, &before, ops.clone());
        let out = out.unwrap_or_else(|e| panic!("{ops} should apply, got {e:?}"));
        assert_eq!(doc, after, "document after {ops}");
        assert_eq!(out.member_ops, member_ops, "member ops of {ops}");
        assert_eq!(out.changed, before != after || !member_ops.is_empty());
        out
    }

    /// `patch_err(before, ops, scimType)`: the request fails and the document is untouched.
    fn patch_err_kind(kind: ResourceKind, before: Value, ops: Value, scim_type: &str) -> ScimError {
        let (out, doc) = run(kind, &before, ops.clone());
        let err = out.expect_err(&format!("{ops} must fail with {scim_type}"));
        assert_eq!(err.scim_type(), Some(scim_type), "{ops}: {err}");
        assert_eq!(doc, before, "a failed PATCH must leave the document as it was: {ops}");
        err
    }

    fn patch_err(before: Value, ops: Value, scim_type: &str) -> ScimError {
        patch_err_kind(ResourceKind::User, before, ops, scim_type)
    }

    fn has(out: &PatchOutcome, label: &str) -> bool {
        out.quirks.labels().contains(&label)
    }

    fn member(value: &str, display: Option<&str>, kind: MemberKind) -> Member {
        Member { value: value.into(), display: display.map(Into::into), kind }
    }

    fn user_member(value: &str) -> Member {
        member(value, None, MemberKind::User)
    }

    fn value_eq(id: &str) -> Filter {
        Filter::Compare {
            path: AttrPath { urn: None, name: "value".into(), sub: None },
            op: CompareOp::Eq,
            value: CompValue::String(id.into()),
        }
    }

    fn bjensen() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "bjensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"}],
            "active": true
        })
    }

    fn with(mut doc: Value, key: &str, v: Value) -> Value {
        doc[key] = v;
        doc
    }

    const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
    const JAMES: &str = "08e1d05d-121c-4561-8b96-473d93df9210";

    fn babs_and_james() -> Value {
        json!([
            {"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS},
            {"display": "James Smith", "$ref": format!("https://example.com/v2/Users/{JAMES}"), "value": JAMES}
        ])
    }

    fn babs_and_james_members() -> Vec<Member> {
        vec![member(BABS, Some("Babs Jensen"), MemberKind::User), member(JAMES, Some("James Smith"), MemberKind::User)]
    }

    /// RFC 7644 §3.5.2.1's two examples: adding a member becomes a member op and leaves the
    /// group document alone; a path-less add appends an email and sets `nickname` under the
    /// schema's spelling, `nickName`.
    #[test]
    fn rfc_add_examples() {
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"});
        group(
            g.clone(),
            json!([{"op": "add", "path": "members", "value": [
                {"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS}
            ]}]),
            g,
            vec![MemberOp::Add(vec![member(BABS, Some("Babs Jensen"), MemberKind::User)])],
        );

        let out = patch(
            bjensen(),
            json!([{"op": "add", "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs"
            }}]),
            with(
                with(
                    bjensen(),
                    "emails",
                    json!([{"value": "bjensen@example.com", "type": "work", "primary": true},
                           {"value": "babs@jensen.org", "type": "home"}]),
                ),
                "nickName",
                json!("Babs"),
            ),
        );
        assert!(out.quirks.is_empty(), "the RFC's own shapes are no quirk: {:?}", out.quirks);
    }

    /// RFC 7644 §3.5.2.2's examples: remove one member by filter, all members, emails by a
    /// complex filter, and replace all members as remove-then-add.
    #[test]
    fn rfc_remove_examples() {
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"});
        for (case, ops, member_ops) in [
            (
                "one member",
                json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}]),
                vec![MemberOp::RemoveWhere(value_eq(BABS))],
            ),
            ("all members", json!([{"op": "remove", "path": "members"}]), vec![MemberOp::RemoveAll]),
            (
                "replace all members",
                json!([{"op": "remove", "path": "members"},
                       {"op": "add", "path": "members", "value": babs_and_james()}]),
                vec![MemberOp::RemoveAll, MemberOp::Add(babs_and_james_members())],
            ),
        ] {
            let out = group(g.clone(), ops, g.clone(), member_ops);
            assert!(out.changed && !out.doc_changed, "{case}: membership only");
        }

        let before = with(
            bjensen(),
            "emails",
            json!([{"value": "bjensen@example.com", "type": "work"}, {"value": "babs@jensen.org", "type": "home"}]),
        );
        patch(
            before,
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
            with(bjensen(), "emails", json!([{"value": "babs@jensen.org", "type": "home"}])),
        );
    }

    /// RFC 7644 §3.5.2.3's examples: replace all members, a whole work address, one
    /// sub-attribute of it, and several attributes without a path.
    #[test]
    fn rfc_replace_examples() {
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"});
        group(
            g.clone(),
            json!([{"op": "replace", "path": "members", "value": babs_and_james()}]),
            g,
            vec![MemberOp::RemoveAll, MemberOp::Add(babs_and_james_members())],
        );

        let address = json!({
            "type": "work",
            "streetAddress": "911 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
            "primary": true
        });
        patch(
            bjensen(),
            json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": address}]),
            with(bjensen(), "addresses", json!([address])),
        );
        patch(
            bjensen(),
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
            with(
                bjensen(),
                "addresses",
                json!([{"type": "work", "streetAddress": "1010 Broadway Ave", "locality": "Hollywood"}]),
            ),
        );
        let emails = json!([{"value": "bjensen@example.com", "type": "work", "primary": true},
                            {"value": "babs@jensen.org", "type": "home"}]);
        patch(
            with(bjensen(), "emails", json!([{"value": "old@example.com", "type": "other"}])),
            json!([{"op": "replace", "value": {"emails": emails, "nickname": "Babs"}}]),
            with(with(bjensen(), "emails", emails.clone()), "nickName", json!("Babs")),
        );
    }

    /// Entra without aadOptscim062020: capitalised ops, string booleans, value-path filters that
    /// create the element they name, enterprise URN paths and a plain-string manager.
    #[test]
    fn entra_user_shapes() {
        let u = || json!({"schemas": [USER_SCHEMA], "userName": "ann@x.com", "active": true});
        for (case, ops, after, labels) in [
            (
                "string boolean",
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
                json!({"schemas": [USER_SCHEMA], "userName": "ann@x.com", "active": false}),
                vec![quirks::OP_CASE, quirks::STRING_BOOLEAN],
            ),
            (
                "value path creates the work email",
                json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ann@x.com"}]),
                json!({"schemas": [USER_SCHEMA], "userName": "ann@x.com", "active": true,
                       "emails": [{"type": "work", "value": "ann@x.com"}]}),
                vec![quirks::OP_CASE, quirks::VALUE_PATH_CREATE],
            ),
            (
                "value path creates the work address",
                json!([{"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
                       {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Oslo"}]),
                json!({"schemas": [USER_SCHEMA], "userName": "ann@x.com", "active": true,
                       "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Oslo"}]}),
                vec![quirks::OP_CASE, quirks::VALUE_PATH_CREATE],
            ),
            (
                "enterprise paths with colons and dots",
                json!([{"op": "Add", "path": format!("{ENT}:department"), "value": "Eng"},
                       {"op": "Replace", "path": format!("{ENT}:manager"), "value": "boss-id"}]),
                json!({"schemas": [USER_SCHEMA, ENT], "userName": "ann@x.com", "active": true,
                       ENT: {"department": "Eng", "manager": {"value": "boss-id"}}}),
                vec![quirks::OP_CASE, quirks::MANAGER_STRING],
            ),
            (
                "manager sub-attribute path",
                json!([{"op": "Add", "path": format!("{ENT}:manager.value"), "value": "boss-id"}]),
                json!({"schemas": [USER_SCHEMA, ENT], "userName": "ann@x.com", "active": true,
                       ENT: {"manager": {"value": "boss-id"}}}),
                vec![quirks::OP_CASE],
            ),
            (
                "core-URN-prefixed and dotted paths",
                json!([{"op": "Replace", "path": format!("{USER_SCHEMA}:displayName"), "value": "Ann"},
                       {"op": "Add", "path": "name.givenName", "value": "Ann"},
                       {"op": "Add", "path": format!("{USER_SCHEMA}:name.familyName"), "value": "X"}]),
                json!({"schemas": [USER_SCHEMA], "userName": "ann@x.com", "active": true,
                       "displayName": "Ann", "name": {"givenName": "Ann", "familyName": "X"}}),
                vec![quirks::OP_CASE],
            ),
        ] {
            let out = patch(u(), ops, after);
            assert_eq!(out.quirks.labels(), labels.as_slice(), "{case}: the sync log names each shape");
        }

        // Removing the last enterprise attribute removes the object and its schema URN.
        let before = json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"manager": {"value": "b"}}});
        patch(
            before,
            json!([{"op": "Remove", "path": format!("{ENT}:manager")}]),
            json!({"schemas": [USER_SCHEMA], "userName": "a"}),
        );
    }

    /// A path naming a whole extension object adds or replaces its attributes one by one
    /// and removes it whole, keeping `schemas` in step.
    #[test]
    fn extension_object_paths() {
        let u = json!({"schemas": [USER_SCHEMA], "userName": "a"});
        let with_ext = json!({"schemas": [USER_SCHEMA, ENT], "userName": "a",
                              ENT: {"department": "Eng", "costCenter": "42"}});
        patch(
            u.clone(),
            json!([{"op": "add", "path": ENT, "value": {"department": "Eng", "COSTCENTER": "42"}}]),
            with_ext.clone(),
        );
        patch(
            with_ext.clone(),
            json!([{"op": "replace", "path": ENT.to_lowercase(), "value": {"department": "Ops"}}]),
            json!({"schemas": [USER_SCHEMA, ENT], "userName": "a",
                   ENT: {"department": "Ops", "costCenter": "42"}}),
        );
        patch(with_ext, json!([{"op": "remove", "path": ENT}]), u);
    }

    /// Entra with aadOptscim062020: a path-less replace with dotted and full-URN keys updates
    /// the attributes they name and never creates a literal `"name.givenName"` key.
    #[test]
    fn entra_dotted_and_urn_keys() {
        let before = json!({"schemas": [USER_SCHEMA], "userName": "ann@x.com", "name": {"familyName": "X"}});
        let out = patch(
            before,
            json!([{"op": "replace", "value": {
                "name.givenName": "Ann",
                format!("{ENT}:employeeNumber"): "7",
                format!("{USER_SCHEMA}:title"): "CTO",
                "active": "True"
            }}]),
            json!({"schemas": [USER_SCHEMA, ENT], "userName": "ann@x.com",
                   "name": {"familyName": "X", "givenName": "Ann"},
                   ENT: {"employeeNumber": "7"}, "title": "CTO", "active": true}),
        );
        assert!(has(&out, quirks::DOTTED_KEYS) && has(&out, quirks::STRING_BOOLEAN));
        assert!(!has(&out, quirks::OP_CASE), "aadOptscim062020 ops are lowercase");

        // The URN-keyed object form is plain RFC and needs no label.
        let out = patch(
            json!({"schemas": [USER_SCHEMA], "userName": "a"}),
            json!([{"op": "add", "value": {ENT: {"department": "Eng", "manager": {"value": "b", "displayName": "B"}}}}]),
            json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"department": "Eng", "manager": {"value": "b"}}}),
        );
        assert_eq!(
            out.quirks.labels(),
            &[quirks::READ_ONLY_IGNORED],
            "manager.displayName inside a value (OneLogin) is dropped, not refused"
        );
    }

    /// Entra's group shapes, with and without the flag, and JumpCloud's test-connection
    /// value-list add and remove: each becomes exactly the member ops it means.
    #[test]
    fn entra_and_jumpcloud_member_shapes() {
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"});
        for (case, ops, member_ops, labels) in [
            (
                "Entra add with $ref null",
                json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]),
                vec![MemberOp::Add(vec![user_member("u1")])],
                vec![quirks::OP_CASE, quirks::MEMBER_TYPE_DEFAULT],
            ),
            (
                "Entra remove by value, without the flag",
                json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
                vec![MemberOp::Remove(vec!["u1".into(), "u2".into()])],
                vec![quirks::OP_CASE, quirks::MEMBER_REMOVE_BY_VALUE],
            ),
            (
                "Entra remove by filter, with the flag",
                json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
                vec![MemberOp::RemoveWhere(value_eq("u1"))],
                vec![],
            ),
            (
                "JumpCloud add then remove",
                json!([{"op": "add", "path": "members", "value": [{"value": "u1", "type": "User"}]},
                       {"op": "remove", "path": "members", "value": [{"value": "u1"}]}]),
                vec![MemberOp::Add(vec![user_member("u1")]), MemberOp::Remove(vec!["u1".into()])],
                vec![quirks::MEMBER_REMOVE_BY_VALUE],
            ),
            (
                "nested group, duplicate listed twice",
                json!([{"op": "add", "path": "members", "value": [{"value": "g2", "type": "Group"}, {"value": "g2", "type": "Group"}]}]),
                vec![MemberOp::Add(vec![member("g2", None, MemberKind::Group)])],
                vec![],
            ),
            (
                "path-less add with members",
                json!([{"op": "add", "value": {"members": [{"value": "u3", "type": "user"}]}}]),
                vec![MemberOp::Add(vec![user_member("u3")])],
                vec![],
            ),
        ] {
            let out = group(g.clone(), ops, g.clone(), member_ops);
            assert_eq!(out.quirks.labels(), labels.as_slice(), "{case}");
        }
        group(
            g,
            json!([{"op": "Replace", "path": "displayName", "value": "Engineering"}]),
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering"}),
            vec![],
        );
    }

    /// Okta deactivation (OIN): a path-less replace of `active`.
    #[test]
    fn okta_deactivate() {
        let out = patch(
            bjensen(),
            json!([{"op": "replace", "value": {"active": false}}]),
            with(bjensen(), "active", json!(false)),
        );
        assert!(out.quirks.is_empty());
    }

    /// Okta's deactivation exactly as documented, with no `schemas`, is read as a PatchOp and
    /// labelled; a `schemas` that names another message is still refused, since no IdP sends it.
    #[test]
    fn okta_patch_without_schemas() {
        let deactivate = json!([{"op": "replace", "value": {"active": false}}]);
        for b in [json!({ "Operations": deactivate }), json!({ "schemas": null, "Operations": deactivate })] {
            let mut doc = bjensen();
            let out = apply_patch(ResourceKind::User, &mut doc, SELF_ID, &b)
                .unwrap_or_else(|e| panic!("{b} is Okta's deactivation and must apply: {e}"));
            assert_eq!(doc, with(bjensen(), "active", json!(false)), "{b} deactivates");
            assert_eq!(out.quirks.labels(), [quirks::PATCH_WITHOUT_SCHEMAS], "the sync log names the shape: {b}");
        }
        for schemas in [json!([USER_SCHEMA]), json!([]), json!(PATCH_OP_SCHEMA)] {
            let b = json!({ "schemas": schemas, "Operations": deactivate });
            let mut doc = bjensen();
            let err = apply_patch(ResourceKind::User, &mut doc, SELF_ID, &b).unwrap_err();
            assert_eq!((err.status(), err.scim_type()), (400, Some("invalidSyntax")), "{b}");
            assert_eq!(err.to_string(), format!("\"schemas\" must include \"{PATCH_OP_SCHEMA}\""), "{b}");
            assert_eq!(doc, bjensen(), "a refused PATCH changes nothing: {b}");
        }
    }

    /// OneLogin's SCIM 1.1 URNs in paths, whole-extension paths and path-less keys address
    /// the 2.0 schemas: the enterprise 1.0 URN writes under the 2.0 enterprise key.
    #[test]
    fn scim1_urns_in_paths() {
        const ENT1: &str = "urn:scim:schemas:extension:enterprise:1.0";
        let u = || json!({"schemas": [USER_SCHEMA], "userName": "a"});
        let ops = [
            json!([{"op": "add", "path": format!("{ENT1}:department"), "value": "Ops"}]),
            json!([{"op": "replace", "path": ENT1, "value": {"department": "Ops"}}]),
            json!([{"op": "replace", "value": {ENT1: {"department": "Ops"}}}]),
            json!([{"op": "replace", "value": {format!("{ENT1}:department"): "Ops"}}]),
            json!([{"op": "replace", "value": {"URN:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:1.0:department": "Ops"}}]),
        ];
        for ops in ops {
            let out = patch(
                u(),
                ops.clone(),
                json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"department": "Ops"}}),
            );
            assert!(has(&out, quirks::SCIM1_URN), "the sync log names the 1.1 URN: {ops}");
        }
        let out = patch(
            json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"department": "Ops", "division": "X"}}),
            json!([{"op": "remove", "path": format!("{ENT1}:department")},
                   {"op": "replace", "path": "urn:scim:schemas:core:1.0:displayName", "value": "Ann"}]),
            json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"division": "X"}, "displayName": "Ann"}),
        );
        assert!(has(&out, quirks::SCIM1_URN));
    }

    /// A NUL character in anything a PATCH writes is refused with invalidValue naming the
    /// attribute, before anything is applied: PostgreSQL cannot store it.
    #[test]
    fn refuses_nul_in_written_values() {
        let u = bjensen();
        for (ops, name) in [
            (json!([{"op": "replace", "path": "displayName", "value": "A\u{0}"}]), "\"displayName\" contains"),
            (json!([{"op": "replace", "value": {"active": false, "userName": "b\u{0}"}}]), "\"userName\""),
            (json!([{"op": "add", "value": {"name": {"givenName": "\u{0}"}}}]), "\"name.givenName\""),
            (json!([{"op": "add", "path": "emails", "value": [{"value": "a\u{0}@x"}]}]), "\"emails.value\""),
            (json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "\u{0}"}]), "].value\""),
            (json!([{"op": "add", "value": {ENT: {"department": "O\u{0}ps"}}}]), &format!("\"{ENT}:department\"")),
            (json!([{"op": "add", "value": {"custom": {"deep": ["x", {"y": "\u{0}"}]}}}]), "\"custom.deep.y\""),
            (json!([{"op": "add", "value": {"bad\u{0}key": 1}}]), "the attribute name \"bad\\u0000key\""),
            (json!([{"op": "add", "path": "title\u{0}", "value": "x"}]), "\"path\""),
            (json!([{"op": "add", "path": r#"emails[type eq "w\u0000"].value"#, "value": "a@x"}]), ".type\""),
        ] {
            let err = patch_err(u.clone(), ops.clone(), "invalidValue");
            let detail = err.to_string();
            assert_eq!(err.status(), 400);
            assert!(detail.starts_with("Operations[0]: "), "the detail names the operation: {detail}");
            assert!(detail.contains(name), "the detail names {name}: {detail}");
            assert!(detail.contains("NUL character (U+0000)"), "the detail says what is wrong: {detail}");
            assert!(!detail.contains('\0'), "the detail itself must be storable: {detail:?}");
        }
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"});
        let ops = json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "A\u{0}"}]}]);
        let err = patch_err_kind(ResourceKind::Group, g, ops, "invalidValue");
        assert!(err.to_string().contains("\"members.display\""), "{err}");
    }

    /// Okta renames with `{id, displayName}` and sends every membership change with it: the id is
    /// ignored, and membership changes only by the ops that name `members`.
    #[test]
    fn okta_rename_with_membership() {
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "Old"});
        let renamed = json!({"schemas": [GROUP_SCHEMA], "displayName": "X"});
        let out = group(
            g.clone(),
            json!([{"op": "replace", "value": {"id": SELF_ID, "displayName": "X"}},
                   {"op": "remove", "path": "members[value eq \"u1\"]"},
                   {"op": "add", "path": "members", "value": [{"value": "u2", "display": "b@x"}]}]),
            renamed.clone(),
            vec![
                MemberOp::RemoveWhere(value_eq("u1")),
                MemberOp::Add(vec![member("u2", Some("b@x"), MemberKind::User)]),
            ],
        );
        assert_eq!(out.quirks.labels(), &[quirks::RENAME_WITH_ID, quirks::MEMBER_TYPE_DEFAULT]);

        let out =
            group(g.clone(), json!([{"op": "replace", "value": {"id": SELF_ID, "displayName": "X"}}]), renamed, vec![]);
        assert!(out.member_ops.is_empty(), "a rename must never touch membership");
        // Renaming to the current name changes nothing and must not bump the version.
        let out =
            group(g.clone(), json!([{"op": "replace", "value": {"id": SELF_ID, "displayName": "Old"}}]), g, vec![]);
        assert!(!out.changed);
    }

    /// Add merges into an element with the same value and type instead of duplicating it, and
    /// a PATCH that restates the current state reports no change.
    #[test]
    fn no_op_and_dedupe() {
        for (case, ops) in [
            (
                "same email again",
                json!([{"op": "add", "path": "emails", "value": [{"value": "BJensen@example.com", "type": "work"}]}]),
            ),
            ("same active", json!([{"op": "replace", "path": "active", "value": true}])),
            ("same name", json!([{"op": "replace", "value": {"name": {"givenName": "Barbara"}}}])),
            ("remove something absent", json!([{"op": "remove", "path": "nickName"}])),
            ("password is never stored", json!([{"op": "replace", "path": "password", "value": "hunter2"}])),
            ("add nothing", json!([{"op": "add", "path": "emails", "value": []}])),
            ("id restated", json!([{"op": "replace", "path": "id", "value": SELF_ID}])),
        ] {
            let out = patch(bjensen(), ops, bjensen());
            assert!(!out.changed, "{case}: a no-op PATCH must not bump the version");
        }
        let out = patch(
            bjensen(),
            json!([{"op": "add", "path": "emails", "value": {"value": "bjensen@example.com", "display": "Work"}}]),
            with(
                bjensen(),
                "emails",
                json!([{"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work"}]),
            ),
        );
        assert!(out.changed, "a single object is one new value (§3.5.2.1) merged into its twin");
    }

    /// At most one element is primary: setting it on one clears it on the others, and writing
    /// two at once is refused.
    #[test]
    fn single_primary() {
        let two = json!([{"value": "bjensen@example.com", "type": "work", "primary": true},
                         {"value": "babs@jensen.org", "type": "home"}]);
        patch(
            bjensen(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home", "primary": true}]}]),
            with(
                bjensen(),
                "emails",
                json!([{"value": "bjensen@example.com", "type": "work", "primary": false},
                       {"value": "babs@jensen.org", "type": "home", "primary": true}]),
            ),
        );
        patch(
            with(bjensen(), "emails", two.clone()),
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
            with(
                bjensen(),
                "emails",
                json!([{"value": "bjensen@example.com", "type": "work", "primary": false},
                       {"value": "babs@jensen.org", "type": "home", "primary": true}]),
            ),
        );
        for ops in [
            json!([{"op": "add", "path": "emails", "value": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]}]),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]}]),
            json!([{"op": "replace", "path": "emails[value co \"jensen\"].primary", "value": true}]),
        ] {
            let err = patch_err(with(bjensen(), "emails", two.clone()), ops, "invalidValue");
            assert!(err.to_string().contains("primary"), "{err}");
        }
    }

    /// Values are type-checked against the schema; the detail names the attribute.
    #[test]
    fn type_errors() {
        for (ops, needle) in [
            (json!([{"op": "replace", "path": "active", "value": "maybe"}]), "active"),
            (json!([{"op": "replace", "value": {"active": 0}}]), "active"),
            (json!([{"op": "add", "path": "emails", "value": "a@x"}]), "emails"),
            (json!([{"op": "add", "path": "name.givenName", "value": 3}]), "givenName"),
            (json!([{"op": "replace", "path": "name", "value": "Ann"}]), "name"),
            (json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": 5}]), "manager"),
            (json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "yes"}]), "primary"),
            (json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": "a@x"}]), "emails"),
            (json!([{"op": "replace", "path": "userName", "value": " "}]), "userName"),
            (json!([{"op": "replace", "value": {ENT: "Eng"}}]), ENT),
            (json!([{"op": "replace", "value": "Ann"}]), "object"),
            (json!([{"op": "add", "path": "title"}]), "value"),
        ] {
            let err = patch_err(bjensen(), ops.clone(), "invalidValue");
            assert!(err.to_string().contains(needle), "{ops}: the detail must name {needle}: {err}");
        }
    }

    /// readOnly attributes cannot be changed, required ones cannot be removed, and a member's
    /// immutable `value` cannot be replaced.
    #[test]
    fn mutability_errors() {
        for ops in [
            json!([{"op": "replace", "path": "id", "value": "other"}]),
            json!([{"op": "replace", "value": {"id": "other", "displayName": "X"}}]),
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            json!([{"op": "add", "value": {"meta": {"version": "W/\"9\""}}}]),
            json!([{"op": "add", "path": "groups", "value": [{"value": "g1"}]}]),
            json!([{"op": "remove", "path": "groups"}]),
            json!([{"op": "replace", "path": format!("{ENT}:manager.displayName"), "value": "Boss"}]),
            json!([{"op": "remove", "path": "userName"}]),
            json!([{"op": "replace", "path": "userName", "value": null}]),
            json!([{"op": "replace", "value": {"userName": null}}]),
        ] {
            patch_err(bjensen(), ops, "mutability");
        }
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"});
        for ops in [
            json!([{"op": "remove", "path": "displayName"}]),
            json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u2"}]),
            json!([{"op": "replace", "path": "members[value eq \"u1\"].type", "value": "Group"}]),
        ] {
            patch_err_kind(ResourceKind::Group, g.clone(), ops, "mutability");
        }
    }

    /// Malformed requests and paths get the RFC's scimType; a remove without a path, or whose
    /// filter selects nothing, is noTarget; so is a replace the filter cannot create.
    #[test]
    fn syntax_path_and_target_errors() {
        let u = bjensen();
        for (b, scim_type) in [
            (
                json!({"schemas": [USER_SCHEMA], "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
                "invalidSyntax",
            ),
            (json!({"schemas": [PATCH_OP_SCHEMA], "Operations": []}), "invalidSyntax"),
            (json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "move", "path": "title"}]}), "invalidSyntax"),
            (json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"path": "title"}]}), "invalidSyntax"),
            (json!([1]), "invalidSyntax"),
        ] {
            let mut doc = u.clone();
            let err = apply_patch(ResourceKind::User, &mut doc, SELF_ID, &b).unwrap_err();
            assert_eq!(err.scim_type(), Some(scim_type), "{b}: {err}");
        }
        for (ops, scim_type) in [
            (json!([{"op": "remove"}]), "noTarget"),
            (json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]), "noTarget"),
            (json!([{"op": "remove", "path": "phoneNumbers[type eq \"home\"].value"}]), "noTarget"),
            (
                json!([{"op": "replace", "path": "emails[type eq \"home\" or type eq \"other\"].value", "value": "a@x"}]),
                "noTarget",
            ),
            (json!([{"op": "replace", "path": "emails[value co \"home\"]", "value": {"value": "a@x"}}]), "noTarget"),
            (json!([{"op": "replace", "path": "name[givenName eq \"Ann\"]", "value": {}}]), "invalidPath"),
            (json!([{"op": "replace", "path": "active.value", "value": true}]), "invalidPath"),
            (json!([{"op": "replace", "path": "emails.value", "value": "a@x"}]), "invalidPath"),
            (json!([{"op": "replace", "path": format!("{GROUP_SCHEMA}:displayName"), "value": "x"}]), "invalidPath"),
            (json!([{"op": "replace", "path": 7, "value": "x"}]), "invalidPath"),
            (json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]), "invalidPath"),
            (json!([{"op": "remove", "path": "emails[primary gt true]"}]), "invalidPath"),
            (json!([{"op": "remove", "path": "emails[type eq \"work\"].value.x"}]), "invalidPath"),
        ] {
            patch_err(u.clone(), ops, scim_type);
        }
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"});
        for (ops, scim_type) in [
            (json!([{"op": "add", "path": "members[value eq \"u1\"]", "value": {"value": "u1"}}]), "invalidPath"),
            (json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "A"}]), "invalidPath"),
            (json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]), "invalidValue"),
            (json!([{"op": "add", "path": "members", "value": [{"value": "u1", "type": "Robot"}]}]), "invalidValue"),
            (json!([{"op": "remove", "path": "members", "value": [{"display": "no id"}]}]), "invalidValue"),
            (json!([{"op": "add", "path": format!("{ENT}:department"), "value": "Eng"}]), "invalidPath"),
        ] {
            patch_err_kind(ResourceKind::Group, g.clone(), ops, scim_type);
        }
    }

    /// Any failing operation fails the request, and nothing of the earlier ones sticks: the
    /// document is untouched and no member op escapes.
    #[test]
    fn atomic() {
        let err = patch_err(
            bjensen(),
            json!([{"op": "replace", "path": "displayName", "value": "Babs"},
                   {"op": "add", "path": "emails", "value": [{"value": "b@x", "type": "home"}]},
                   {"op": "replace", "path": "active", "value": "perhaps"}]),
            "invalidValue",
        );
        assert!(err.to_string().starts_with("Operations[2]:"), "the detail names the failing op: {err}");
        patch_err_kind(
            ResourceKind::Group,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"}),
            json!([{"op": "replace", "path": "displayName", "value": "New"},
                   {"op": "add", "path": "members", "value": [{"value": "u1"}]},
                   {"op": "remove", "path": "displayName"}]),
            "mutability",
        );
    }

    /// More than MAX_OPERATIONS operations is refused with 413 before any is applied.
    #[test]
    fn operation_limit() {
        let op = json!({"op": "replace", "path": "title", "value": "x"});
        let mut doc = bjensen();
        let ok =
            apply_patch(ResourceKind::User, &mut doc, SELF_ID, &body(Value::Array(vec![op.clone(); MAX_OPERATIONS])));
        assert!(ok.is_ok(), "exactly the limit is allowed");
        let mut doc = bjensen();
        let err = apply_patch(ResourceKind::User, &mut doc, SELF_ID, &body(Value::Array(vec![op; MAX_OPERATIONS + 1])))
            .unwrap_err();
        assert_eq!(err.status(), 413, "{err}");
        assert_eq!(doc, bjensen());
    }

    /// Remove takes away single attributes, sub-attributes (an emptied parent goes too),
    /// filtered elements or their sub-attributes, and with a value list only the listed ones.
    #[test]
    fn removes() {
        let u = bjensen();
        for (ops, after) in [
            (
                json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "NAME.familyName"}]),
                json!({"schemas": [USER_SCHEMA], "userName": "bjensen",
                       "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
                       "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"}],
                       "active": true}),
            ),
            (
                json!([{"op": "remove", "path": "addresses[type eq \"work\"].locality"}, {"op": "remove", "path": "emails"}]),
                json!({"schemas": [USER_SCHEMA], "userName": "bjensen",
                       "name": {"familyName": "Jensen", "givenName": "Barbara"},
                       "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza"}],
                       "active": true}),
            ),
            (
                json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}, {"op": "remove", "path": "active"}]),
                json!({"schemas": [USER_SCHEMA], "userName": "bjensen",
                       "name": {"familyName": "Jensen", "givenName": "Barbara"},
                       "emails": [{"value": "bjensen@example.com", "type": "work"}],
                       "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"}]}),
            ),
        ] {
            patch(u.clone(), ops, after);
        }
        let out = patch(
            with(
                u.clone(),
                "roles",
                json!([{"value": "admin"}, {"value": "editor"}, {"value": "viewer", "type": "x"}]),
            ),
            json!([{"op": "Remove", "path": "roles", "value": [{"value": "ADMIN"}, "viewer"]}]),
            with(u, "roles", json!([{"value": "editor"}])),
        );
        assert!(has(&out, quirks::REMOVE_BY_VALUE_LIST));
    }

    /// Attribute names ignore case and are stored in the schema's spelling; unknown attributes
    /// and unknown extensions are kept as sent, listed in `schemas` when URN-keyed.
    #[test]
    fn names_and_unknown_attributes() {
        patch(
            json!({"userName": "a", "nickname": "old"}),
            json!([{"op": "Replace", "path": "NickName", "value": "new"}, {"op": "add", "path": "NAME.GIVENNAME", "value": "A"}]),
            json!({"userName": "a", "nickName": "new", "name": {"givenName": "A"}}),
        );
        patch(
            json!({"schemas": [USER_SCHEMA], "userName": "a"}),
            json!([{"op": "add", "value": {"customThing": {"x": 1}, "urn:example:custom:1.0:User": {"badge": "7"}}},
                   {"op": "add", "path": "customThing", "value": {"y": 2}},
                   {"op": "replace", "path": "urn:example:custom:1.0:User:level", "value": 3}]),
            json!({"schemas": [USER_SCHEMA, "urn:example:custom:1.0:User"], "userName": "a",
                   "customThing": {"x": 1, "y": 2}, "urn:example:custom:1.0:User": {"badge": "7", "level": 3}}),
        );
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// Okta's (no `type`) or JumpCloud's add.
        Add(Vec<u8>),
        /// `members[value eq "u"]`, Okta and Entra with the flag.
        RemoveWhere(u8),
        /// Entra's value-list removal.
        RemoveListed(Vec<u8>),
        RemoveAll,
        Replace(Vec<u8>),
        /// Okta's rename, which must never touch membership.
        Rename,
    }

    fn id(n: u8) -> String {
        format!("u{n}")
    }

    fn step_op(step: &Step) -> Value {
        let list = |ids: &[u8]| Value::Array(ids.iter().map(|&n| json!({"value": id(n)})).collect());
        match step {
            Step::Add(ids) => json!({"op": "add", "path": "members", "value": list(ids)}),
            Step::RemoveWhere(n) => {
                json!({"op": "remove", "path": format!("members[value eq \"{}\"]", id(*n))})
            }
            Step::RemoveListed(ids) => {
                json!({"op": "Remove", "path": "members", "value": list(ids)})
            }
            Step::RemoveAll => json!({"op": "remove", "path": "members"}),
            Step::Replace(ids) => json!({"op": "replace", "path": "members", "value": list(ids)}),
            Step::Rename => {
                json!({"op": "replace", "value": {"id": SELF_ID, "displayName": "Renamed"}})
            }
        }
    }

    /// The model: what a request means for membership, or None when it must fail (a
    /// remove-by-filter that selects no member is noTarget and fails the whole request).
    fn model(set: &BTreeSet<String>, steps: &[Step]) -> Option<BTreeSet<String>> {
        let mut s = set.clone();
        for step in steps {
            match step {
                Step::Add(ids) => s.extend(ids.iter().map(|&n| id(n))),
                Step::RemoveWhere(n) => {
                    if !s.remove(&id(*n)) {
                        return None;
                    }
                }
                Step::RemoveListed(ids) => ids.iter().for_each(|&n| {
                    s.remove(&id(n));
                }),
                Step::RemoveAll => s.clear(),
                Step::Replace(ids) => s = ids.iter().map(|&n| id(n)).collect(),
                Step::Rename => {}
            }
        }
        Some(s)
    }

    /// A store's application of member ops to its rows, for filters of the form `value eq`.
    fn store(set: &BTreeSet<String>, ops: &[MemberOp]) -> Option<BTreeSet<String>> {
        let mut s = set.clone();
        for op in ops {
            match op {
                MemberOp::Add(ms) => s.extend(ms.iter().map(|m| m.value.clone())),
                MemberOp::Remove(ids) => ids.iter().for_each(|i| {
                    s.remove(i);
                }),
                MemberOp::RemoveAll => s.clear(),
                MemberOp::RemoveWhere(f) => {
                    let before = s.len();
                    s.retain(|m| !matches_element(None, &json!({"value": m, "type": "User"}), f));
                    if s.len() == before {
                        return None;
                    }
                }
            }
        }
        Some(s)
    }

    fn step() -> impl Strategy<Value = Step> {
        let ids = || prop::collection::vec(0u8..6, 0..4);
        prop_oneof![
            ids().prop_map(Step::Add),
            (0u8..6).prop_map(Step::RemoveWhere),
            ids().prop_map(Step::RemoveListed),
            Just(Step::RemoveAll),
            ids().prop_map(Step::Replace),
            Just(Step::Rename),
        ]
    }

    proptest! {
        /// Random sequences of member add/remove requests, applied through `apply_patch` and a
        /// store applying the returned member ops, give the membership the ops mean; the group
        /// document only ever changes by the rename.
        #[test]
        fn membership_matches_model(requests in prop::collection::vec(prop::collection::vec(step(), 1..5), 1..12)) {
            let mut doc = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"});
            let mut rows = BTreeSet::new();
            let mut expected = BTreeSet::new();
            for steps in &requests {
                let ops = Value::Array(steps.iter().map(step_op).collect());
                let mut next_doc = doc.clone();
                let out = apply_patch(ResourceKind::Group, &mut next_doc, SELF_ID, &body(ops)).unwrap();
                prop_assert_eq!(out.changed, out.doc_changed || !out.member_ops.is_empty());
                let renamed = steps.iter().any(|s| matches!(s, Step::Rename));
                prop_assert_eq!(out.doc_changed, renamed && doc["displayName"] != "Renamed");
                // The store commits the document and the member rows together, or neither.
                if let Some(new_rows) = store(&rows, &out.member_ops) {
                    rows = new_rows;
                    doc = next_doc;
                }
                if let Some(m) = model(&expected, steps) {
                    expected = m;
                }
                prop_assert_eq!(&rows, &expected);
            }
        }
    }
}
