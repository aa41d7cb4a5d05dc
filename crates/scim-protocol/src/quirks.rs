//! Labels for the IdP request shapes the server accepts and normalises to the RFC's meaning
//! (see the IdP notes in the repository's docs). Each normalisation pushes its label onto the
//! request's list, and the sync log records the list on the request's event.

/// Collected labels for one request, deduplicated, in the order first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quirks(Vec<&'static str>);

impl Quirks {
    pub fn push(&mut self, label: &'static str) {
        if !self.0.contains(&label) {
            self.0.push(label);
        }
    }
    pub fn labels(&self) -> &[&'static str] {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Entra: PATCH `op` capitalised, `"Replace"`.
pub const OP_CASE: &str = "entra-capitalised-op";
/// Entra: a boolean sent as a string, `"active": "False"`.
pub const STRING_BOOLEAN: &str = "entra-string-boolean";
/// Entra (aadOptscim062020): a no-path replace whose value has dotted or URN keys.
pub const DOTTED_KEYS: &str = "entra-dotted-key-value";
/// Entra: `{"op":"Remove","path":"members","value":[{"value":"id"}]}` removes only those.
pub const MEMBER_REMOVE_BY_VALUE: &str = "entra-member-remove-by-value";
/// A remove whose `value` lists the elements of a multi-valued attribute other than `members`
/// to remove (Entra's member-removal shape): only those are removed.
pub const REMOVE_BY_VALUE_LIST: &str = "remove-by-value-list";
/// Entra: enterprise `manager` sent as a plain string instead of `{"value": ...}`.
pub const MANAGER_STRING: &str = "entra-manager-string";
/// Entra: a value-path add/replace matched no element, so one was created with that `type`.
pub const VALUE_PATH_CREATE: &str = "entra-value-path-create";
/// Entra: the extra `ADSCIM/2.0/Group` schema URN on a group.
pub const EXTRA_SCHEMA_URN: &str = "entra-extra-schema-urn";
/// Okta: a no-path replace of `{id, displayName}` (a group rename); membership untouched.
pub const RENAME_WITH_ID: &str = "okta-rename-with-id";
/// Okta: group members added without `type`; defaulted to `User`.
pub const MEMBER_TYPE_DEFAULT: &str = "okta-member-type-defaulted";
/// Okta: a PATCH body with no `schemas`, as its deactivation
/// `{"Operations":[{"op":"replace","value":{"active":false}}]}`; read as a PatchOp.
pub const PATCH_WITHOUT_SCHEMAS: &str = "okta-patch-without-schemas";
/// Okta: `Content-Type: text/json` or another JSON type instead of `application/scim+json`.
pub const JSON_CONTENT_TYPE: &str = "okta-json-content-type";
/// OneLogin: a SCIM 1.1 schema URN on a 2.0 endpoint, in `schemas`, as a key or in a PATCH path;
/// the core 1.0 URN is read as the core schema, the enterprise 1.0 URN as the 2.0 extension.
pub const SCIM1_URN: &str = "onelogin-scim1-urn";
/// A readOnly attribute (`id`, `meta`, `groups`) in a POST or PUT body was ignored.
pub const READ_ONLY_IGNORED: &str = "read-only-ignored";
