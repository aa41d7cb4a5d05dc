//! The service's error type: protocol errors pass through; storage errors are mapped once here.

use scim_protocol::ScimError;

/// Everything a provisioning call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client's mistake or a protocol refusal, answered as a SCIM error.
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// An admin's input that cannot be used, e.g. a public URL that is not http(s).
    #[error("{0}")]
    InvalidInput(String),
    /// A token or other admin object that does not exist.
    #[error("{0}")]
    NotFound(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A read through the store's in-place SQLite connections (see `read`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The commit of a group of writes failed (see `group_commit`); every write of the group
    /// gets this, none of them was made.
    #[error("database error: the commit failed: {0}")]
    Commit(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A stable machine-readable code; the desktop app branches on it, never on the message.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Scim(e) => e.scim_type().unwrap_or(match e.status() {
                401 => "unauthorized",
                403 => "forbidden",
                404 => "notFound",
                412 => "preconditionFailed",
                _ => "scimError",
            }),
            Error::InvalidInput(_) => "invalidInput",
            Error::NotFound(_) => "notFound",
            Error::Database(_) | Error::Sqlite(_) | Error::Commit(_) | Error::Migrate(_) => "database",
            Error::Io(_) => "io",
        }
    }

    /// The SCIM error a client sees. Storage faults become a generic 500; their details go to
    /// the log, never to the client.
    pub fn to_scim(&self) -> ScimError {
        match self {
            Error::Scim(e) => e.clone(),
            Error::NotFound(m) => ScimError::NotFound(m.clone()),
            Error::InvalidInput(m) => ScimError::InvalidValue(m.clone()),
            other => {
                tracing::error!(error = %other, "internal error while serving a SCIM request");
                ScimError::Internal("the server could not complete the request; it has been logged".into())
            }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps a constraint violation on insert or update to the SCIM error it means.
pub(crate) fn map_unique(e: Error, what: impl FnOnce() -> String) -> Error {
    let unique = match &e {
        Error::Database(sqlx::Error::Database(db)) => db.is_unique_violation(),
        // As sqlx reads SQLite's codes: a UNIQUE index or a primary key.
        Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        ),
        _ => false,
    };
    if unique { Error::Scim(ScimError::Uniqueness(what())) } else { e }
}
