//! The syntax tree shared by filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2).

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
    Compare { path: AttrPath, op: CompareOp, value: CompValue },
    /// `attrPath pr`
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@example.com"]`: `path` names the multi-valued
    /// attribute (no `sub`); paths inside `filter` are relative to its elements.
    ValuePath { path: AttrPath, filter: Box<Filter> },
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
