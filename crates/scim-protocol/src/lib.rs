//! SCIM 2.0 (RFC 7643 and RFC 7644) in pure Rust: the schemas this server implements, resource
//! validation, the filter and attribute-path grammar, filter evaluation, the PATCH engine, and
//! SCIM errors. No I/O: the store and the HTTP layer build on it.

pub mod ast;
pub mod error;
pub mod eval;
pub mod filter;
pub mod patch;
pub mod path;
pub mod quirks;
pub mod resource;
pub mod schema;

pub use error::{Result, ScimError};
pub use eval::matches;
pub use filter::parse_filter;
pub use patch::{MAX_OPERATIONS, MemberOp, PatchOutcome, apply_patch};
pub use path::parse_patch_path;
pub use quirks::Quirks;
pub use schema::{AttrDef, AttrType, ResourceKind, SchemaDef};
