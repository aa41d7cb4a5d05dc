//! The HTTP face of the provisioning service: the axum [`Router`] for `/scim/v2` and `/health`,
//! bearer-token authentication, the provisioning switch, request limits, and the one mapping
//! from errors to SCIM error responses (RFC 7644 §3.12).

mod discovery;
mod error;
mod handlers;
mod request;

use std::future::Future;

use axum::Router;
use axum::routing::{get, post};
use provisioning::Provisioning;

pub use error::ApiError;

/// The SCIM base path.
pub const BASE_PATH: &str = "/scim/v2";
/// The largest request body accepted (advertised as `bulk.maxPayloadSize`).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    pub p: Provisioning,
}

/// The router: `/scim/v2/...` and `GET /health`.
pub fn router(p: Provisioning) -> Router {
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
        .with_state(AppState { p })
}

/// Serves `router(p)` on `listener` until `shutdown` resolves, then finishes in-flight
/// requests and writes out pending sync-log events.
pub async fn serve(
    p: Provisioning,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(p.clone());
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    p.flush_log().await;
    result
}
