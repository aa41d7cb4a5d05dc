//! SCIM errors (RFC 7644 §3.12): one variant per `scimType`, plus the status-only errors.

use serde_json::{Value, json};

/// The URN of a SCIM error response body.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Everything the protocol layer can refuse. Each variant's doc names an input that triggers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// `filter=userName eq` (no value): the filter does not parse. 400 `invalidFilter`.
    #[error("invalid filter at position {position}: expected {expected}{}", found_suffix(.found))]
    InvalidFilter { position: usize, expected: String, found: Option<String> },
    /// A filter or page that would return more than the server allows. 400 `tooMany`.
    #[error("{0}")]
    TooMany(String),
    /// POST /Users with a `userName` that already exists (ignoring case). 409 `uniqueness`.
    #[error("{0}")]
    Uniqueness(String),
    /// PUT that changes `id`, or PATCH of `meta.created`. 400 `mutability`.
    #[error("{0}")]
    Mutability(String),
    /// A body that is not JSON, or whose `schemas` is missing. 400 `invalidSyntax`.
    #[error("{0}")]
    InvalidSyntax(String),
    /// PATCH path `emails[type eq` or `nosuchattr`. 400 `invalidPath`.
    #[error("{0}")]
    InvalidPath(String),
    /// PATCH remove with `members[value eq "missing"]` matching nothing. 400 `noTarget`.
    #[error("{0}")]
    NoTarget(String),
    /// `"active": "maybe"`, or a missing `userName`. 400 `invalidValue`.
    #[error("{0}")]
    InvalidValue(String),
    /// An `If-Match` header that is not an entity tag. 400 `invalidVers`.
    #[error("{0}")]
    InvalidVers(String),
    /// `cursor=garbage`: a cursor this server did not issue (RFC 9865). 400 `invalidCursor`.
    #[error("{0}")]
    InvalidCursor(String),
    /// A filter on `password` in a query string. 400 `sensitive`.
    #[error("{0}")]
    Sensitive(String),
    /// GET /Users/unknown-id. 404.
    #[error("{0}")]
    NotFound(String),
    /// A missing, wrong, revoked or expired bearer token. 401.
    #[error("{0}")]
    Unauthorized(String),
    /// Any SCIM request while provisioning is turned off. 403.
    #[error("{0}")]
    Forbidden(String),
    /// `If-Match` with a stale version. 412.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A body over the advertised `maxPayloadSize`. 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// `Content-Type: text/plain` on a write. 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// DELETE /ServiceProviderConfig. 405.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// `/Me`, or a feature the server does not advertise. 501.
    #[error("{0}")]
    NotImplemented(String),
    /// A request from an address with too many failed authentications in the last minute. 429.
    #[error("{0}")]
    TooManyRequests(String),
    /// A request that did not finish within the server's request timeout. 503.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on the server's side. 500; the detail stays generic.
    #[error("{0}")]
    Internal(String),
}

fn found_suffix(found: &Option<String>) -> String {
    match found {
        Some(f) => format!(", found {f}"),
        None => ", found end of input".to_string(),
    }
}

impl ScimError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        use ScimError::*;
        match self {
            InvalidFilter { .. }
            | TooMany(_)
            | Mutability(_)
            | InvalidSyntax(_)
            | InvalidPath(_)
            | NoTarget(_)
            | InvalidValue(_)
            | InvalidVers(_)
            | Sensitive(_)
            | InvalidCursor(_) => 400,
            Uniqueness(_) => 409,
            NotFound(_) => 404,
            Unauthorized(_) => 401,
            Forbidden(_) => 403,
            PreconditionFailed(_) => 412,
            PayloadTooLarge(_) => 413,
            UnsupportedMediaType(_) => 415,
            MethodNotAllowed(_) => 405,
            NotImplemented(_) => 501,
            TooManyRequests(_) => 429,
            Unavailable(_) => 503,
            Internal(_) => 500,
        }
    }

    /// The RFC 7644 §3.12 `scimType`, where one applies.
    pub fn scim_type(&self) -> Option<&'static str> {
        use ScimError::*;
        Some(match self {
            InvalidFilter { .. } => "invalidFilter",
            TooMany(_) => "tooMany",
            Uniqueness(_) => "uniqueness",
            Mutability(_) => "mutability",
            InvalidSyntax(_) => "invalidSyntax",
            InvalidPath(_) => "invalidPath",
            NoTarget(_) => "noTarget",
            InvalidValue(_) => "invalidValue",
            InvalidVers(_) => "invalidVers",
            Sensitive(_) => "sensitive",
            InvalidCursor(_) => "invalidCursor",
            _ => return None,
        })
    }

    /// The SCIM error response body.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().to_string(),
            "detail": self.to_string(),
        });
        if let Some(t) = self.scim_type() {
            body["scimType"] = json!(t);
        }
        body
    }

    pub fn invalid_value(msg: impl Into<String>) -> Self {
        Self::InvalidValue(msg.into())
    }
    pub fn invalid_syntax(msg: impl Into<String>) -> Self {
        Self::InvalidSyntax(msg.into())
    }
    pub fn invalid_path(msg: impl Into<String>) -> Self {
        Self::InvalidPath(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
}

/// Shorthand for protocol results.
pub type Result<T, E = ScimError> = std::result::Result<T, E>;
