//! The HTTP face of the provisioning service: the axum [`Router`] for `/scim/v2` and `/health`,
//! bearer-token authentication, the provisioning switch, request limits, and the one mapping
//! from errors to SCIM error responses (RFC 7644 §3.12).

mod discovery;
mod error;
mod handlers;
mod idle;
mod json;
pub mod limits;
mod request;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};
use provisioning::Provisioning;

pub use error::ApiError;
pub use limits::Limits;

/// The SCIM base path.
pub const BASE_PATH: &str = "/scim/v2";
/// The largest request body accepted (advertised as `bulk.maxPayloadSize`).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    pub p: Provisioning,
    pub limits: Limits,
    pub auth_failures: limits::AuthFailures,
}

/// The router: `/scim/v2/...` and `GET /health`, with the default [`Limits`].
pub fn router(p: Provisioning) -> Router {
    router_with(p, Limits::default())
}

/// The router with the given limits. Failed authentication is limited per client address only
/// when the server provides `ConnectInfo<SocketAddr>` (as [`serve`] does).
pub fn router_with(p: Provisioning, limits: Limits) -> Router {
    // A `Router::layer` runs after routing, so the path is fixed in a service in front of the
    // routes: an outer router whose only route is its fallback.
    let routes = tower::ServiceExt::<axum::extract::Request>::map_request(routes(p, limits), collapse_slashes);
    Router::new().fallback_service(routes)
}

/// Collapses repeated slashes in the path, before routing: a base URL pasted with a trailing
/// slash (`https://host/scim/v2/`) makes an IdP send `/scim/v2//Users`. The query is untouched,
/// and an encoded slash (`%2F`) is not a slash here. The sync log keeps the path as sent.
fn collapse_slashes(mut req: axum::extract::Request) -> axum::extract::Request {
    if !req.uri().path().contains("//") {
        return req;
    }
    let mut path = String::with_capacity(req.uri().path().len());
    for c in req.uri().path().chars() {
        if !(c == '/' && path.ends_with('/')) {
            path.push(c);
        }
    }
    if let Some(query) = req.uri().query() {
        path = format!("{path}?{query}");
    }
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

fn routes(p: Provisioning, limits: Limits) -> Router {
    let scim = Router::new()
        .route("/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route("/Users", get(handlers::list_users).post(handlers::create_user))
        .route("/Users/.search", post(handlers::search_users))
        .route(
            "/Users/{id}",
            get(handlers::get_user)
                .put(handlers::replace_user)
                .patch(handlers::patch_user)
                .delete(handlers::delete_user),
        )
        .route("/Groups", get(handlers::list_groups).post(handlers::create_group))
        .route("/Groups/.search", post(handlers::search_groups))
        .route(
            "/Groups/{id}",
            get(handlers::get_group)
                .put(handlers::replace_group)
                .patch(handlers::patch_group)
                .delete(handlers::delete_group),
        )
        .route("/.search", post(handlers::search_root))
        .route("/Me", axum::routing::any(handlers::not_implemented))
        .route("/Bulk", axum::routing::any(handlers::not_implemented))
        .fallback(handlers::unknown_endpoint)
        .method_not_allowed_fallback(handlers::method_not_allowed);
    Router::new()
        .nest(BASE_PATH, scim)
        .route("/health", get(handlers::health))
        .fallback(handlers::unknown_endpoint)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panic_response))
        // The timeout covers the body upload too, so a client that trickles a body is cut off.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .layer(axum::middleware::map_response(limits::timeout_body))
        // Before a request is served, room for its sync-log event (see `wait_for_log_room`).
        .layer(axum::middleware::from_fn_with_state(p.clone(), log_room))
        .with_state(AppState { p, auth_failures: limits::AuthFailures::new(&limits), limits })
}

async fn log_room(
    axum::extract::State(p): axum::extract::State<Provisioning>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    p.wait_for_log_room().await;
    next.run(req).await
}

/// Serves `router(p)` on `listener` until `shutdown` resolves, then finishes in-flight
/// requests and writes out pending sync-log events.
pub async fn serve(
    p: Provisioning,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(p, listener, Limits::default(), shutdown).await
}

/// Serves `router_with(p, limits)` on any listener whose peers have a socket address (plain TCP,
/// or [`tls::TlsListener`]), with the client's address available for rate limiting, and closes
/// connections that stay quiet for twice the request timeout.
pub async fn serve_with<L>(
    p: Provisioning,
    listener: L,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    use axum::serve::ListenerExt;
    // A connection quiet for twice the request timeout is closed (see `idle`).
    let idle = idle::IdleListener { inner: listener, idle: limits.request_timeout * 2 };
    // `tap_io` is what gives any listener axum's `ConnectInfo<SocketAddr>`, which the rate limit reads.
    let listener = idle.tap_io(|_: &mut idle::IdleIo<L::Io>| {});
    let app = router_with(p.clone(), limits).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    p.flush_log().await;
    result
}
