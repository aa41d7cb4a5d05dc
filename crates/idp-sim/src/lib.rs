//! Placeholder docs, replaced below.

mod check;
mod client;
mod connection;
mod directory;
mod profile;
mod simulate;

pub use check::{CheckReport, CheckResult, check};
pub use client::{CHECKER_USER_AGENT, Exchange, SIMULATED_HEADER};
pub use connection::{CertificateInfo, ConnectionReport, test_connection};
pub use profile::Profile;
pub use simulate::{DirectoryState, Failure, GroupState, SimOptions, SimReport, simulate};

/// Why a simulation, check or test connection could not start. Whatever the endpoint does
/// wrong once they run is in their report, not here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The base URL is not an absolute http(s) URL, e.g. `localhost:8787/scim/v2`.
    #[error("invalid SCIM base URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// No HTTP client could be built (the TLS backend failed to initialise).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// An IdP profile name the simulator does not know, e.g. `google`.
    #[error("unknown IdP profile {0:?}: expected okta, okta-put, entra, entra-flag, onelogin or jumpcloud")]
    UnknownProfile(String),
}
