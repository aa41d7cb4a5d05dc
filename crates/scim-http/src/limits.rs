//! The server's limits and its defence against abuse: the request timeout, and the per-address
//! limit on failed authentication. The numbers are advertised in `/ServiceProviderConfig`
//! (docs/decisions/0011-auth-rate-limit.md and 0012-request-timeout.md say why these).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scim_protocol::ScimError;

use crate::error::ApiError;

/// How long one request may take, body upload included, before it is answered with 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Failed authentications one client address may make in [`AUTH_FAILURE_WINDOW`].
pub const MAX_AUTH_FAILURES: u32 = 20;
/// The window failed authentications are counted in; a blocked address waits out its rest.
pub const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once; past this, expired entries are dropped, then the oldest.
const MAX_TRACKED: usize = 10_000;

/// The limits one server runs with. `Limits::default()` is what `talkwriter-scim serve` uses.
#[derive(Debug, Clone)]
pub struct Limits {
    pub request_timeout: Duration,
    pub max_auth_failures: u32,
    pub auth_failure_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: REQUEST_TIMEOUT,
            max_auth_failures: MAX_AUTH_FAILURES,
            auth_failure_window: AUTH_FAILURE_WINDOW,
        }
    }
}

struct Window {
    started: Instant,
    failures: u32,
}

/// Failed authentications per client address, in fixed windows.
#[derive(Clone)]
pub(crate) struct AuthFailures {
    max: u32,
    window: Duration,
    seen: Arc<Mutex<HashMap<IpAddr, Window>>>,
}

/// What [`AuthFailures::record`] decided.
pub(crate) enum Recorded {
    /// Still under the limit.
    Counted,
    /// This failure reached the limit: the address is blocked from now on.
    Blocked { failures: u32 },
}

impl AuthFailures {
    pub fn new(limits: &Limits) -> Self {
        AuthFailures { max: limits.max_auth_failures, window: limits.auth_failure_window, seen: Default::default() }
    }

    /// If `addr` is blocked, how long until it may try again.
    pub fn blocked(&self, addr: IpAddr) -> Option<Duration> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let w = seen.get(&addr)?;
        let left = self.window.checked_sub(w.started.elapsed())?;
        (w.failures >= self.max && !left.is_zero()).then_some(left)
    }

    /// Counts one failed authentication from `addr`.
    pub fn record(&self, addr: IpAddr) -> Recorded {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_TRACKED && !seen.contains_key(&addr) {
            seen.retain(|_, w| w.started.elapsed() < self.window);
            if seen.len() >= MAX_TRACKED
                && let Some(oldest) = seen.iter().min_by_key(|(_, w)| w.started).map(|(a, _)| *a)
            {
                seen.remove(&oldest);
            }
        }
        let w = seen.entry(addr).or_insert(Window { started: Instant::now(), failures: 0 });
        if w.started.elapsed() >= self.window {
            *w = Window { started: Instant::now(), failures: 0 };
        }
        w.failures += 1;
        if w.failures == self.max { Recorded::Blocked { failures: w.failures } } else { Recorded::Counted }
    }
}

/// The client's address, when the server was started with connect info, or a test set one
/// with axum's `MockConnectInfo` (absent in plain `oneshot` tests: nothing is rate-limited).
pub(crate) fn client_ip(parts: &axum::http::request::Parts) -> Option<IpAddr> {
    use axum::extract::connect_info::{ConnectInfo, MockConnectInfo};
    let ext = &parts.extensions;
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| ext.get::<MockConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
}

/// The 429 a blocked address gets, with `Retry-After` in whole seconds.
pub(crate) fn too_many(retry_after: Duration) -> (ScimError, Response) {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let err = ScimError::TooManyRequests(format!(
        "too many failed authentications from this address: try again in {secs} s with a valid token"
    ));
    let mut res = ApiError(err.clone()).into_response();
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    (err, res)
}

/// Turns the bare status tower-http's `TimeoutLayer` answers with into a SCIM error body.
pub(crate) async fn timeout_body(res: Response) -> Response {
    if res.status() != StatusCode::SERVICE_UNAVAILABLE || res.headers().contains_key(header::CONTENT_TYPE) {
        return res;
    }
    tracing::warn!("a request timed out");
    let mut res = ApiError(ScimError::Unavailable(
        "the request did not finish in time; it was not applied unless a read shows it was: read, then retry".into(),
    ))
    .into_response();
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limit blocks on the failure that reaches it, and only that address.
    #[test]
    fn blocks_after_the_limit_per_address() {
        let f = AuthFailures::new(&Limits { max_auth_failures: 3, ..Limits::default() });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(matches!(f.record(a), Recorded::Counted));
        assert!(matches!(f.record(a), Recorded::Counted));
        assert!(f.blocked(a).is_none(), "two failures of three allowed are not a block");
        assert!(matches!(f.record(a), Recorded::Blocked { failures: 3 }));
        assert!(f.blocked(a).is_some_and(|d| d <= AUTH_FAILURE_WINDOW));
        assert!(f.blocked(b).is_none(), "another address is not affected");
    }

    /// A block ends with its window.
    #[test]
    fn a_block_expires() {
        let f = AuthFailures::new(&Limits {
            max_auth_failures: 1,
            auth_failure_window: Duration::from_millis(50),
            ..Limits::default()
        });
        let a: IpAddr = "::1".parse().unwrap();
        f.record(a);
        assert!(f.blocked(a).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(f.blocked(a).is_none(), "the window has passed");
    }

    /// Spraying addresses cannot grow the table without bound.
    #[test]
    fn tracked_addresses_are_bounded() {
        let f = AuthFailures::new(&Limits::default());
        for i in 0..(MAX_TRACKED as u32 + 50) {
            f.record(IpAddr::from(i.to_be_bytes()));
        }
        assert!(f.seen.lock().unwrap().len() <= MAX_TRACKED);
    }
}
