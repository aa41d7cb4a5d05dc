//! SCIM 2.0 (RFC 7643 and RFC 7644) in pure Rust: the schemas this server implements, resource
//! validation, the filter and attribute-path grammar, filter evaluation, the PATCH engine, and
//! SCIM errors. No I/O: the store and the HTTP layer build on it.

pub mod ast;
pub mod error;
pub mod schema;

pub use error::{Result, ScimError};
pub use schema::{AttrDef, AttrType, ResourceKind, SchemaDef};
