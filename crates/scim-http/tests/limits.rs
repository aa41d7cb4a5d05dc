//! In-process tests of the abuse limits: `router(p)` under `oneshot` has no client address
//! and limits nothing; with `ConnectInfo` (as `serve` provides) failed authentication is
//! limited per address, and a timeout answers a SCIM 503.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use provisioning::{Config, Provisioning};
use tower::ServiceExt;

async fn provisioning() -> (Provisioning, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let p =
        provisioning::testing::open_store(dir.path(), Config::default(), provisioning::Clock::system()).await.unwrap();
    let token = p.create_token("test", None).await.unwrap().token;
    (p, token, dir)
}

fn get(token: &str) -> Request<Body> {
    Request::get("/scim/v2/Users").header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()
}

/// Without ConnectInfo (oneshot in tests), 30 failures are 30 plain 401s.
#[tokio::test]
async fn without_a_client_address_nothing_is_limited() {
    let (p, token, _dir) = provisioning().await;
    let app = scim_http::router(p);
    for _ in 0..30 {
        assert_eq!(app.clone().oneshot(get("twscim_wrong")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.oneshot(get(&token)).await.unwrap().status(), StatusCode::OK);
}

/// With ConnectInfo, the limit blocks the address that reached it, and only that one.
#[tokio::test]
async fn the_limit_is_per_address() {
    let (p, token, _dir) = provisioning().await;
    let limits = scim_http::Limits { max_auth_failures: 3, ..Default::default() };
    let app = scim_http::router_with(p, limits);
    let from = |addr: &str| app.clone().layer(MockConnectInfo(addr.parse::<SocketAddr>().unwrap()));
    for _ in 0..3 {
        assert_eq!(from("10.0.0.1:1000").oneshot(get("twscim_x")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let res = from("10.0.0.1:1001").oneshot(get("twscim_y")).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "blocked without a valid token");
    assert!(res.headers().contains_key("retry-after"));
    let res = from("10.0.0.1:1002").oneshot(get(&token)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a valid token passes even from a blocked address");
    assert_eq!(from("10.0.0.2:1000").oneshot(get(&token)).await.unwrap().status(), StatusCode::OK, "others pass");
}

/// A request over the timeout gets 503 with a SCIM error body and Retry-After.
#[tokio::test]
async fn a_timeout_is_a_scim_503() {
    let (p, token, _dir) = provisioning().await;
    let app = scim_http::router_with(
        p,
        scim_http::Limits { request_timeout: Duration::from_millis(100), ..Default::default() },
    );
    // A body that never ends: the extractor waits for it until the timeout fires.
    let body = Body::new(Endless);
    let req = Request::post("/scim/v2/Users")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/scim+json")
        .body(body)
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: serde_json::Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["status"], "503", "{body}");
}

/// A request body whose next chunk never comes (a client that stalls mid-upload).
struct Endless;

impl axum::body::HttpBody for Endless {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Pending
    }
}
