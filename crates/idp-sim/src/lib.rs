//! Rehearse a sync without a cloud IdP, and judge any SCIM endpoint before Okta or Entra is
//! pointed at it. Three entry points, each async, each taking the SCIM base URL (e.g.
//! `http://127.0.0.1:8787/scim/v2`) and a bearer token, each returning a serialisable report:
//!
//! - [`simulate`]`(profile, url, token, SimOptions { users, groups, .. }, |done, total| ..)` →
//!   [`SimReport`]: plays one IdP ([`Profile`]: Okta OIN, Okta custom app, Entra with and without
//!   `aadOptscim062020`, OneLogin, JumpCloud) through joiners, movers and leavers of a made-up
//!   directory with that IdP's request shapes and User-Agent, then reads everything back. Counts
//!   of created, updated, deactivated, deleted and failed, each failure with its [`Exchange`].
//!   The callback drives a progress bar; a [`StopFlag`] in the options cancels the run between
//!   steps (with `cleanup`, what it created is still deleted).
//! - [`check`]`(url, token)` → [`CheckReport`]: named pass/fail checks (discovery, CRUD, filters,
//!   paging, the IdP PATCH shapes, errors, auth), each failure with its request and response.
//!   It deletes what it created, whatever failed.
//! - [`test_connection`]`(url, token)` → [`ConnectionReport`]: Entra's test (a random-GUID
//!   userName must find nothing), its latency, and for https the certificate's subject and expiry.
//!
//! Every request carries [`SIMULATED_HEADER`], so TalkWriter's sync log marks its events as
//! simulated; other servers ignore it. A simulation leaves its users (`@sim-<run id>.example.com`)
//! for the admin to see unless `SimOptions::cleanup` is set; dropping a `check` future before it
//! ends skips its cleanup. The functions fail ([`Error`]) only when they cannot start
//! (a malformed URL); whatever the endpoint gets wrong is in the report. No function panics on
//! what a server sends, and none keeps state between calls, so the app can run them from a Tauri
//! command and emit the progress callback as events:
//!
//! ```no_run
//! # async fn run() -> Result<(), idp_sim::Error> {
//! use idp_sim::{Profile, SimOptions};
//! let url = "http://127.0.0.1:8787/scim/v2";
//! let report = idp_sim::simulate(Profile::Okta, url, "twscim_...", SimOptions::default(), |done, total| {
//!     println!("{done}/{total}");
//! })
//! .await?;
//! println!("{} created, {} failed", report.created, report.failed);
//! let checks = idp_sim::check(url, "twscim_...").await?;
//! assert!(checks.ok(), "failed: {:?}", checks.failed_names());
//! # Ok(()) }
//! ```
//!
//! With the `ts` feature the reports derive `ts_rs::TS`, for the app's generated types.

mod check;
mod client;
mod connection;
mod directory;
mod profile;
mod simulate;

pub use check::{CHECKS, CheckReport, CheckResult, check};
pub use client::{CHECKER_USER_AGENT, Exchange, SIMULATED_HEADER};
pub use connection::{CertificateInfo, ConnectionReport, test_connection};
pub use profile::Profile;
pub use simulate::{DirectoryState, Failure, GroupState, SimOptions, SimReport, StopFlag, simulate};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}

    /// A Tauri command's future must be Send, so these can run from one as they are.
    #[test]
    fn futures_are_send() {
        assert_send(simulate(Profile::Okta, "http://x", "t", SimOptions::default(), |_, _| {}));
        assert_send(check("http://x", "t"));
        assert_send(test_connection("http://x", "t"));
    }
}
