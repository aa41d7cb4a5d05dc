//! In-process tests of the router: every endpoint and error path, driven with
//! `tower::ServiceExt::oneshot` over a temp-file SQLite database.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use provisioning::{Config, Provisioning};
use serde_json::{Value, json};
use tower::ServiceExt;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Env {
    p: Provisioning,
    token: String,
    _dir: tempfile::TempDir,
}

struct Res {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let p =
        provisioning::testing::open_store(dir.path(), Config::default(), provisioning::Clock::system()).await.unwrap();
    let token = p.create_token("test", None).await.unwrap().token;
    Env { p, token, _dir: dir }
}

impl Env {
    async fn raw(&self, method: &str, uri: &str, body: Option<Body>, headers: &[(&str, &str)]) -> Res {
        let mut req = Request::builder().method(method).uri(uri).header(header::HOST, "scim.test");
        let mut has_auth = false;
        for (k, v) in headers {
            has_auth |= k.eq_ignore_ascii_case("authorization");
            req = req.header(*k, *v);
        }
        if !has_auth {
            req = req.header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        }
        let res = scim_http::router(self.p.clone())
            .oneshot(req.body(body.unwrap_or_else(Body::empty)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        if status.as_u16() >= 400 && status != StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(
                headers.get(header::CONTENT_TYPE).unwrap(),
                "application/scim+json",
                "every error is a SCIM error: {method} {uri} {body}"
            );
            assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "error body: {body}");
            assert_eq!(body["status"], status.as_u16().to_string(), "status in body is a string of the status");
        }
        Res { status, headers, body }
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> Res {
        let b = body.map(|b| Body::from(b.to_string()));
        self.raw(method, uri, b, &[("content-type", "application/scim+json")]).await
    }

    async fn create_user(&self, user_name: &str) -> Value {
        let r = self.call("POST", "/scim/v2/Users", Some(json!({"schemas":[USER],"userName":user_name}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    async fn user_count(&self) -> i64 {
        self.p.status().await.unwrap().users
    }
}

/// Create answers 201 with Location, ETag and the full resource, including meta.
#[tokio::test]
async fn create_user_returns_201_with_location_and_meta() {
    let e = env().await;
    let r = e
        .call(
            "POST",
            "/scim/v2/Users",
            Some(json!({"schemas":[USER, ENTERPRISE],"userName":"Ann@Example.com","externalId":"okta-1",
                "name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann@example.com","type":"work","primary":true}],
                "phoneNumbers":[{"value":"+1 555","type":"mobile"}],"addresses":[{"locality":"Oslo","type":"work"}],
                "title":"Engineer", ENTERPRISE: {"department":"R&D","employeeNumber":"7","manager":{"value":"m-1"}},
                "password":"Secret-1","x-custom":{"kept":true}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(r.headers[header::LOCATION], format!("http://scim.test/scim/v2/Users/{id}"));
    assert_eq!(r.headers[header::ETAG], "W/\"1\"");
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/scim+json");
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert_eq!(r.body["meta"]["location"], r.headers[header::LOCATION].to_str().unwrap());
    assert!(r.body["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.body["active"], true, "active defaults to true");
    assert_eq!(r.body[ENTERPRISE]["department"], "R&D");
    assert_eq!(r.body["x-custom"], json!({"kept": true}), "unmodelled attributes are kept");
    assert!(r.body.get("password").is_none(), "passwords are never returned");
    let got = e.call("GET", &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, r.body, "GET returns what create returned");
}

/// userName is unique without regard to case: a duplicate is 409 uniqueness and changes nothing.
#[tokio::test]
async fn duplicate_user_name_is_409_uniqueness() {
    let e = env().await;
    e.create_user("bob@example.com").await;
    let r = e.call("POST", "/scim/v2/Users", Some(json!({"schemas":[USER],"userName":"BOB@example.COM"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["scimType"], "uniqueness");
    assert_eq!(e.user_count().await, 1, "nothing was created");
    e.p.flush_log().await;
    let failed =
        e.p.query_events(&provisioning::EventQuery { result: Some("failure".into()), ..Default::default() })
            .await
            .unwrap();
    let hint = failed.events[0].hint.as_deref().expect("a failure carries a hint");
    assert!(hint.contains("matching attribute"), "the hint points at the IdP's matching rule: {hint}");
}

/// Bad input gets the right status and scimType, and changes nothing.
#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let e = env().await;
    // (method, uri, body, content type, status, scimType)
    type Case = (&'static str, &'static str, Body, &'static str, u16, Option<&'static str>);
    let cases: Vec<Case> = vec![
        ("POST", "/scim/v2/Users", Body::from("{not json"), "application/scim+json", 400, Some("invalidSyntax")),
        ("POST", "/scim/v2/Users", Body::from("[1,2]"), "application/scim+json", 400, Some("invalidSyntax")),
        (
            "POST",
            "/scim/v2/Users",
            Body::from(r#"{"userName":"x"}"#),
            "application/scim+json",
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/scim/v2/Users",
            Body::from(format!(r#"{{"schemas":["{USER}"]}}"#)),
            "application/json",
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/scim/v2/Users",
            Body::from(format!(r#"{{"schemas":["{USER}"],"userName":5}}"#)),
            "application/json",
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/scim/v2/Users",
            Body::from(format!(r#"{{"schemas":["{USER}"],"userName":"a","active":"maybe"}}"#)),
            "application/json",
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/scim/v2/Users",
            Body::from(format!(r#"{{"schemas":["{USER}"],"userName":"a"}}"#)),
            "text/plain",
            415,
            None,
        ),
        ("POST", "/scim/v2/Users", Body::from(vec![b'{'; 2 * 1024 * 1024]), "application/json", 413, None),
        ("POST", "/scim/v2/Users", Body::from(vec![0xff, 0xfe, b'{']), "application/json", 400, Some("invalidSyntax")),
        ("POST", "/scim/v2/Users", Body::from("[".repeat(10_000)), "application/json", 400, Some("invalidSyntax")),
        ("GET", "/scim/v2/Users?filter=userName%20eq", Body::empty(), "application/json", 400, Some("invalidFilter")),
        ("GET", "/scim/v2/Users?startIndex=abc", Body::empty(), "application/json", 400, Some("invalidValue")),
        ("GET", "/scim/v2/Users?sortOrder=sideways", Body::empty(), "application/json", 400, Some("invalidValue")),
        ("GET", "/scim/v2/Users/nope", Body::empty(), "application/json", 404, None),
        (
            "PUT",
            "/scim/v2/Users/nope",
            Body::from(format!(r#"{{"schemas":["{USER}"],"userName":"a"}}"#)),
            "application/json",
            404,
            None,
        ),
        ("DELETE", "/scim/v2/Users/nope", Body::empty(), "application/json", 404, None),
        ("GET", "/scim/v2/Nothing", Body::empty(), "application/json", 404, None),
        ("DELETE", "/scim/v2/ServiceProviderConfig", Body::empty(), "application/json", 405, None),
        ("GET", "/scim/v2/Me", Body::empty(), "application/json", 501, None),
        ("POST", "/scim/v2/Bulk", Body::from("{}"), "application/json", 501, None),
        (
            "POST",
            "/scim/v2/Users/.search",
            Body::from(r#"{"filter":"userName eq"}"#),
            "application/json",
            400,
            Some("invalidFilter"),
        ),
    ];
    e.create_user("keep@example.com").await;
    let before = e.call("GET", "/scim/v2/Users", None).await.body;
    for (method, uri, body, ct, status, scim_type) in cases {
        let r = e.raw(method, uri, Some(body), &[("content-type", ct)]).await;
        assert_eq!(r.status.as_u16(), status, "{method} {uri}: {}", r.body);
        assert_eq!(r.body["scimType"].as_str(), scim_type, "{method} {uri}: {}", r.body);
        assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "a useful detail");
    }
    assert_eq!(e.call("GET", "/scim/v2/Users", None).await.body, before, "the store is unchanged");
}

/// A missing, wrong, revoked or expired token gets 401 with WWW-Authenticate: Bearer.
#[tokio::test]
async fn bad_tokens_get_401() {
    let e = env().await;
    let revoked = e.p.create_token("old", None).await.unwrap();
    e.p.revoke_token(&revoked.info.id).await.unwrap();
    for auth in
        [None, Some("Bearer twscim_wrong"), Some("Basic dXNlcjpwYXNz"), Some(&*format!("Bearer {}", revoked.token))]
    {
        let mut headers = vec![];
        let a;
        if let Some(v) = auth {
            a = v.to_string();
            headers.push(("authorization", a.as_str()));
        } else {
            headers.push(("authorization", ""));
        }
        let r = e.raw("GET", "/scim/v2/Users", None, &headers).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(r.headers[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer"));
    }
    e.p.flush_log().await;
    let log = e.p.query_events(&Default::default()).await.unwrap();
    assert!(log.events.iter().filter(|ev| ev.operation == "Auth Failure").count() >= 4, "auth failures are logged");
    assert!(
        log.events.iter().all(|ev| ev.request_body.as_deref().is_none_or(|b| !b.contains(&revoked.token))),
        "no token in the log"
    );
}

/// RFC 6750 §3.1: a presented but wrong, revoked or expired token is challenged with
/// `error="invalid_token"`; no token at all (or another scheme) gets the bare challenge.
#[tokio::test]
async fn bearer_challenge_names_invalid_tokens_only() {
    let e = env().await;
    let revoked = e.p.create_token("old", None).await.unwrap();
    e.p.revoke_token(&revoked.info.id).await.unwrap();
    let expires = chrono::Utc::now() + chrono::Duration::milliseconds(300);
    let expiring = e.p.create_token("short", Some(expires)).await.unwrap();
    let auth = format!("Bearer {}", expiring.token);
    let r = e.raw("GET", "/scim/v2/Users", None, &[("authorization", &auth)]).await;
    assert_eq!(r.status, StatusCode::OK, "the short-lived token works before it expires");
    tokio::time::sleep((expires - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let bare = "Bearer realm=\"TalkWriter SCIM\"";
    for auth in ["", "Bearer", "Basic dXNlcjpwYXNz"] {
        let r = e.raw("GET", "/scim/v2/Users", None, &[("authorization", auth)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.headers[header::WWW_AUTHENTICATE], bare, "no bearer token presented, so no error code: {auth:?}");
    }
    let invalid = [
        "Bearer twscim_wrong".to_string(),
        "Bearer not-even-ours".to_string(),
        format!("Bearer {}", revoked.token),
        format!("bearer {}", expiring.token),
    ];
    for auth in &invalid {
        let r = e.raw("GET", "/scim/v2/Users", None, &[("authorization", auth)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth}");
        let challenge = r.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with(bare), "the realm stays: {challenge}");
        assert!(challenge.contains(", error=\"invalid_token\""), "a presented token was invalid: {challenge}");
        assert!(!challenge.contains(&expiring.token[7..]), "the challenge never echoes the token: {challenge}");
    }
}

/// RFC 7644 §4: a `filter` on a discovery endpoint is 403, so a client cannot mistake the
/// unfiltered answer for a filtered one. Without a filter they still answer 200.
#[tokio::test]
async fn discovery_refuses_filter() {
    let e = env().await;
    for path in [
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/ResourceTypes",
        "/scim/v2/ResourceTypes/User",
        "/scim/v2/Schemas",
        &format!("/scim/v2/Schemas/{USER}"),
    ] {
        assert_eq!(e.call("GET", path, None).await.status, StatusCode::OK, "{path} without a filter");
        for query in ["filter=id%20eq%20%22User%22", "Filter=name%20pr", "filter="] {
            let r = e.call("GET", &format!("{path}?{query}"), None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}?{query}: {}", r.body);
            assert_eq!(r.body["status"], "403", "{}", r.body);
            let detail = r.body["detail"].as_str().unwrap();
            assert!(detail.contains("filter") && detail.contains("RFC 7644"), "the detail says why: {detail}");
        }
    }
    assert_eq!(
        e.call("GET", "/scim/v2/Schemas/urn:nope?filter=x", None).await.status,
        StatusCode::FORBIDDEN,
        "the filter is refused before the lookup"
    );
}

/// RFC 7644 §3.9: POST, PUT and PATCH answers honour `attributes` / `excludedAttributes`
/// exactly as GET does (the same projection), and keep their status, Location and ETag.
#[tokio::test]
async fn projection_on_write_responses() {
    let e = env().await;
    let created = e
        .call(
            "POST",
            "/scim/v2/Users?attributes=userName",
            Some(json!({"schemas":[USER],"userName":"w@x","title":"T","name":{"givenName":"W"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.body,
        json!({"schemas":[USER],"id":id,"userName":"w@x"}),
        "only userName and the always-returned"
    );
    assert_eq!(created.headers[header::LOCATION], format!("http://scim.test/scim/v2/Users/{id}"));
    assert_eq!(created.headers[header::ETAG], "W/\"1\"");
    let uri = format!("/scim/v2/Users/{id}");
    let get = |q: &'static str| {
        let uri = format!("{uri}?{q}");
        let e = &e;
        async move { e.call("GET", &uri, None).await.body }
    };
    assert_eq!(created.body, get("attributes=userName").await, "POST projects as GET does");

    let put = e
        .call(
            "PUT",
            &format!("{uri}?excludedAttributes=name,meta"),
            Some(json!({"schemas":[USER],"userName":"w@x","title":"U","name":{"givenName":"V"}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.headers[header::ETAG], "W/\"2\"");
    assert!(put.body.get("name").is_none() && put.body.get("meta").is_none(), "excluded: {}", put.body);
    assert_eq!(put.body["title"], "U", "the rest is returned");
    assert_eq!(put.body, get("excludedAttributes=name,meta").await, "PUT projects as GET does");

    let patch = e
        .call(
            "PATCH",
            &format!("{uri}?attributes=active,name.givenName"),
            Some(json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","path":"active","value":false}]})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.body);
    assert_eq!(patch.body, json!({"schemas":[USER],"id":id,"active":false,"name":{"givenName":"V"}}));
    assert_eq!(patch.body, get("attributes=active,name.givenName").await, "PATCH projects as GET does");

    let unknown = e
        .call(
            "PATCH",
            &format!("{uri}?attributes=noSuchAttribute"),
            Some(json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","path":"title","value":"X"}]})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::OK, "an unknown name is no error on GET either");
    assert_eq!(unknown.body, get("attributes=noSuchAttribute").await);

    let group = e
        .call(
            "POST",
            "/scim/v2/Groups?excludedAttributes=members",
            Some(json!({"schemas":[GROUP],"displayName":"W","members":[{"value":id}]})),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    assert!(group.body.get("members").is_none(), "members excluded: {}", group.body);
    assert_eq!(group.body["displayName"], "W");
    let gid = group.body["id"].as_str().unwrap();
    let members = e.call("GET", &format!("/scim/v2/Groups/{gid}"), None).await.body["members"].clone();
    assert_eq!(members[0]["value"], id, "the projection shapes the answer, not what is stored");
}

/// A base URL pasted with a trailing slash (`.../scim/v2/`) makes an IdP send `//Users`: the
/// repeated slash is collapsed before routing, the query kept, and the log keeps the path as sent.
#[tokio::test]
async fn repeated_slashes_reach_the_endpoint() {
    let e = env().await;
    let created = e.call("POST", "/scim/v2//Users", Some(json!({"schemas":[USER],"userName":"s@x"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(created.headers[header::LOCATION], format!("http://scim.test/scim/v2/Users/{id}"), "canonical Location");
    let list = e.call("GET", "/scim/v2//Users?filter=userName%20eq%20%22s@x%22", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["totalResults"], 1, "the query survives: {}", list.body);
    let one = e.call("GET", &format!("/scim/v2//Users//{id}?attributes=userName"), None).await;
    assert_eq!(one.body, json!({"schemas":[USER],"id":id,"userName":"s@x"}));
    assert_eq!(e.call("GET", "//scim/v2///ServiceProviderConfig", None).await.status, StatusCode::OK);
    let none = e.call("GET", "/scim/v2//Nothing", None).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "collapsing finds only what exists");
    let unauthenticated = e.raw("GET", "/scim/v2//Users", None, &[("authorization", "")]).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED, "the collapsed path is still authenticated");
    e.p.flush_log().await;
    let log = e.p.query_events(&Default::default()).await.unwrap();
    assert!(log.events.iter().any(|ev| ev.path.starts_with("/scim/v2//Users")), "the log keeps the path as sent");
}

/// Provisioning off refuses every SCIM request and changes nothing; on again, it works.
#[tokio::test]
async fn provisioning_switch() {
    let e = env().await;
    e.p.set_provisioning_enabled(false).await.unwrap();
    let r = e.call("POST", "/scim/v2/Users", Some(json!({"schemas":[USER],"userName":"a@x"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body["detail"].as_str().unwrap().contains("turned off"));
    assert_eq!(e.call("GET", "/scim/v2/ServiceProviderConfig", None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(e.user_count().await, 0);
    e.p.set_provisioning_enabled(true).await.unwrap();
    e.create_user("a@x").await;
}

/// PUT replaces: omitted attributes are cleared, active omitted means true, a body's id is ignored.
#[tokio::test]
async fn put_replaces() {
    let e = env().await;
    let u = e
        .call(
            "POST",
            "/scim/v2/Users",
            Some(json!({"schemas":[USER],"userName":"c@x","title":"Boss","active":false,"name":{"givenName":"C"}})),
        )
        .await
        .body;
    let id = u["id"].as_str().unwrap();
    let r = e
        .call(
            "PUT",
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"schemas":[USER],"userName":"c@x","displayName":"C X"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("title").is_none() && r.body.get("name").is_none(), "omitted attributes are cleared");
    assert_eq!(r.body["active"], true, "active left out means true");
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    assert_eq!(r.body["meta"]["created"], u["meta"]["created"], "created never changes");
    // `id` is readOnly: a different one in the body is ignored (RFC 7644 §3.5.1), as on POST.
    let other = e
        .call("PUT", &format!("/scim/v2/Users/{id}"), Some(json!({"schemas":[USER],"id":"other","userName":"c@x"})))
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    assert_eq!(other.body["id"], id);
    assert_eq!(e.call("GET", "/scim/v2/Users/other", None).await.status, StatusCode::NOT_FOUND);
}

/// ETags: If-Match with a stale version is 412; If-None-Match with the current one is 304.
#[tokio::test]
async fn etags() {
    let e = env().await;
    let id = e.create_user("d@x").await["id"].as_str().unwrap().to_string();
    let uri = format!("/scim/v2/Users/{id}");
    let body = Body::from(json!({"schemas":[USER],"userName":"d@x","title":"T"}).to_string());
    let r = e.raw("PUT", &uri, Some(body), &[("if-match", "W/\"1\""), ("content-type", "application/json")]).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = Body::from(json!({"schemas":[USER],"userName":"d@x","title":"U"}).to_string());
    let r = e.raw("PUT", &uri, Some(body), &[("if-match", "W/\"1\""), ("content-type", "application/json")]).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "stale If-Match");
    let r = e.raw("GET", &uri, None, &[("if-none-match", "W/\"2\"")]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // Added to a group, the user shows it in `groups`: the ETag it had no longer matches.
    let g = e
        .call(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"schemas":[GROUP],"displayName":"Sales","members":[{"value": id}]})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED);
    let r = e.raw("GET", &uri, None, &[("if-none-match", "W/\"2\"")]).await;
    assert_eq!(r.status, StatusCode::OK, "a new version once its groups changed");
    assert_eq!(r.body["groups"][0]["display"], "Sales");
    assert_eq!(r.headers[header::ETAG], "W/\"3\"");
    let body = Body::from(json!({"schemas":[USER],"userName":"d@x","title":"V"}).to_string());
    let r = e.raw("PUT", &uri, Some(body), &[("if-match", "W/\"2\""), ("content-type", "application/json")]).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "If-Match from before the group change");
    let r = e.raw("DELETE", &uri, None, &[("if-match", "garbage")]).await;
    assert_eq!(r.body["scimType"], "invalidVers");
}

/// A user's requests share one search text in the sync log, stored once (SQLite): a read or a
/// PATCH of a user names what its create named, and a read of a seeded user names what its
/// seeded events do, so the load benchmark's reads at a million users write what reads of an
/// IdP's users write.
#[tokio::test]
async fn a_users_events_share_one_stored_text() {
    if provisioning::testing::postgres_url().is_some() {
        return; // PostgreSQL keeps each event's text in the event's row.
    }
    let e = env().await;
    let spec = provisioning::seed::SeedSpec { users: 5, groups: 0, group_members: 0, events: 10 };
    e.p.seed(&spec, |_, _| {}).await.unwrap();
    let created = e.create_user("share@x").await["id"].as_str().unwrap().to_string();
    let seeded = provisioning::seed::seed_user_id(3);
    for id in [&created, &seeded] {
        assert_eq!(e.call("GET", &format!("/scim/v2/Users/{id}"), None).await.status, StatusCode::OK);
    }
    let patch = json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","path":"title","value":"Lead"}]});
    assert_eq!(e.call("PATCH", &format!("/scim/v2/Users/{created}"), Some(patch)).await.status, StatusCode::OK);
    e.p.flush_log().await;
    let db = rusqlite::Connection::open(e._dir.path().join("scim.db")).unwrap();
    // The created user: its create, the access it was granted, the PATCH and the read.
    for (id, events) in [(&created, 4), (&seeded, 3)] {
        let (n, texts, missing): (i64, i64, i64) = db
            .query_row(
                "SELECT count(*), count(DISTINCT search_id), count(*) - count(search_id) FROM events WHERE target_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let ops: Vec<String> = db
            .prepare("SELECT operation FROM events WHERE target_id = ?1 ORDER BY id")
            .unwrap()
            .query_map([id], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!((n, texts, missing), (events, 1, 0), "{id}: events, distinct texts, events without one: {ops:?}");
    }
    let text: String = db
        .query_row(
            "SELECT search FROM event_texts WHERE id = (SELECT search_id FROM events WHERE target_id = ?1 LIMIT 1)",
            [&seeded],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(text, provisioning::seed::seed_search_text(3));
    assert!(text.contains("user3@seed.example.com") && text.contains("ext-3"), "{text}");
}

/// Reads of an unchanged user send the same body, and the sync log keeps it once (SQLite): the
/// first read keeps its own copy, the reads after it name one kept copy, a change's read keeps
/// the new body; and each event still shows exactly the body its read sent.
#[tokio::test]
async fn repeated_read_bodies_are_kept_once_and_shown_as_sent() {
    if provisioning::testing::postgres_url().is_some() {
        return; // PostgreSQL keeps each event's body in its row.
    }
    let e = env().await;
    let id = e.create_user("bodies@x").await["id"].as_str().unwrap().to_string();
    let url = format!("/scim/v2/Users/{id}");
    let mut sent = vec![];
    // Each read in a batch of its own, then three in one batch after a change.
    for _ in 0..4 {
        sent.push(e.call("GET", &url, None).await.body);
        e.p.flush_log().await;
    }
    let patch = json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","path":"title","value":"Lead"}]});
    assert_eq!(e.call("PATCH", &url, Some(patch)).await.status, StatusCode::OK);
    for _ in 0..3 {
        sent.push(e.call("GET", &url, None).await.body);
    }
    e.p.flush_log().await;
    assert_ne!(sent[0], sent[6], "the change shows in the read");
    let db = rusqlite::Connection::open(e._dir.path().join("scim.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [&id], |r| r.get(0)).unwrap() };
    let reads = "FROM events WHERE method = 'GET' AND target_id = ?1";
    assert_eq!(count(&format!("SELECT count(*) {reads}")), 7);
    // The first read of the first body keeps its copy; the three of the second body, read in one
    // batch, all name the kept one.
    assert_eq!(count(&format!("SELECT count(*) {reads} AND response_body IS NOT NULL")), 1);
    assert_eq!(count(&format!("SELECT count(DISTINCT response_body_id) {reads}")), 2);
    assert_eq!(count("SELECT count(*) FROM event_bodies WHERE ?1 IS NOT NULL"), 2);
    let logged =
        e.p.query_events(&provisioning::EventQuery { target_id: Some(id.clone()), ..Default::default() })
            .await
            .unwrap();
    let shown: Vec<Value> = logged
        .events
        .iter()
        .rev()
        .filter(|ev| ev.method == "GET")
        .map(|ev| serde_json::from_str(ev.response_body.as_deref().expect("a read's body")).unwrap())
        .collect();
    assert_eq!(shown, sent, "each read's event shows the body it sent");
}

/// An IdP's lookup is in the history of the user it found, under the text the user's other
/// events have; a lookup that found nothing is found by the name it asked for; a page of many
/// users is about none of them.
#[tokio::test]
async fn lookups_are_in_the_history_of_what_they_found() {
    let e = env().await;
    let alice = e
        .call(
            "POST",
            "/scim/v2/Users",
            Some(json!({"schemas":[USER],"userName":"alice@x.com","externalId":"A-1",
                        "emails":[{"value":"alice@mail.x.com","primary":true}]})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    e.create_user("bob@x.com").await;
    let lookups = [
        r#"/scim/v2/Users?filter=userName%20eq%20%22Alice@X.com%22"#,
        r#"/scim/v2/Users?filter=externalId%20eq%20%22A-1%22"#,
        r#"/scim/v2/Users?filter=emails%5Bvalue%20eq%20%22alice@mail.x.com%22%5D"#,
        r#"/scim/v2/Users?filter=userName%20eq%20%22carol@x.com%22"#,
        "/scim/v2/Users?count=10",
        "/scim/v2/Users?startIndex=1&count=1",
    ];
    for uri in lookups {
        assert_eq!(e.call("GET", uri, None).await.status, StatusCode::OK, "{uri}");
    }
    e.p.flush_log().await;
    let p = &e.p;
    let found = |q: provisioning::EventQuery| async move {
        let page = p.query_events(&q).await.unwrap();
        page.events.iter().filter(|ev| ev.operation == "Lookup").map(|ev| ev.path.clone()).collect::<Vec<_>>()
    };
    let history = found(provisioning::EventQuery { target_id: Some(alice.clone()), ..Default::default() }).await;
    assert_eq!(history.len(), 3, "alice's three lookups are in her history: {history:?}");
    assert!(history.iter().all(|p| !p.contains("carol") && !p.contains("count=")), "{history:?}");
    let carol = found(provisioning::EventQuery { text: Some("carol@x".into()), ..Default::default() }).await;
    assert_eq!(carol.len(), 1, "the lookup that found nobody is found by the name it asked for: {carol:?}");
    let all = e.p.query_events(&Default::default()).await.unwrap().events;
    for page in ["count=10", "count=1"] {
        let page = all.iter().find(|ev| ev.path.ends_with(page)).unwrap();
        assert_eq!(page.target_id, None, "a page of users is about none of them, a page of one either");
    }
    let one = all.iter().find(|ev| ev.path.contains("externalId")).unwrap();
    assert_eq!((one.target_id.as_deref(), one.target_name.as_deref()), (Some(alice.as_str()), Some("alice@x.com")));
    // Her panel in the app counts the lookups that found her and lists the rest (her create).
    let detail = e.p.user_detail("http://scim.test/scim/v2", &alice).await.unwrap().unwrap();
    let listed: Vec<(&str, i64)> = detail.history.iter().map(|ev| (ev.operation.as_str(), ev.status)).collect();
    assert!(!listed.iter().any(|(op, status)| *op == "Lookup" && *status < 400), "{listed:?}");
    assert!(listed.iter().any(|(op, _)| *op == "Create User"), "{listed:?}");
    assert_eq!(detail.lookups.count, 3);
    let last = detail.lookups.last.as_ref().expect("the newest lookup");
    assert!(last.path.contains("emails"), "the newest of the three: {}", last.path);
    if provisioning::testing::postgres_url().is_none() {
        let db = rusqlite::Connection::open(e._dir.path().join("scim.db")).unwrap();
        let texts: i64 = db
            .query_row("SELECT count(DISTINCT search_id) FROM events WHERE target_id = ?1", [&alice], |r| r.get(0))
            .unwrap();
        let all: Vec<String> = db
            .prepare("SELECT operation || ': ' || coalesce(t.search, '') FROM events e LEFT JOIN event_texts t ON t.id = e.search_id WHERE target_id = ?1")
            .unwrap()
            .query_map([&alice], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(texts, 1, "her lookups share the text of her create: {all:#?}");
    }
}

/// A GET's event keeps the response exactly as it was sent (serialised once for both).
#[tokio::test]
async fn a_reads_event_keeps_the_response_as_sent() {
    let e = env().await;
    let id = e.create_user("sent@x").await["id"].as_str().unwrap().to_string();
    for uri in [format!("/scim/v2/Users/{id}"), format!("/scim/v2/Users/{id}?attributes=userName")] {
        let r = e.call("GET", &uri, None).await;
        assert_eq!(r.status, StatusCode::OK);
        e.p.flush_log().await;
        let log = e.p.query_events(&provisioning::EventQuery { limit: Some(1), ..Default::default() }).await.unwrap();
        let logged: Value = serde_json::from_str(log.events[0].response_body.as_deref().unwrap()).unwrap();
        assert_eq!((log.events[0].path.as_str(), &logged), (uri.as_str(), &r.body));
        assert_eq!(log.events[0].target_id.as_deref(), Some(id.as_str()));
    }
}

/// Deactivate keeps the user visible; DELETE answers 204 then 404; the log names each step.
#[tokio::test]
async fn deactivate_then_delete() {
    let e = env().await;
    let id = e.create_user("e@x").await["id"].as_str().unwrap().to_string();
    let uri = format!("/scim/v2/Users/{id}");
    let r = e
        .call(
            "PATCH",
            &uri,
            Some(json!({"schemas":[PATCH_OP],"Operations":[{"op":"Replace","path":"active","value":"False"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(e.call("GET", &uri, None).await.body["active"], false, "a deactivated user is still returned");
    let list = e.call("GET", "/scim/v2/Users?filter=userName%20eq%20%22E@X%22", None).await.body;
    assert_eq!(list["totalResults"], 1, "and found by filter, ignoring case: {list}");
    assert_eq!(e.call("DELETE", &uri, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(e.call("GET", &uri, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(e.call("DELETE", &uri, None).await.status, StatusCode::NOT_FOUND);
    e.p.flush_log().await;
    let ops: Vec<String> =
        e.p.query_events(&Default::default()).await.unwrap().events.into_iter().map(|ev| ev.operation).collect();
    for op in ["Create User", "Deactivate User", "Delete User", "Lookup"] {
        assert!(ops.iter().any(|o| o == op), "{op} is in the log: {ops:?}");
    }
    let deactivate =
        e.p.query_events(&provisioning::EventQuery { operation: Some("Deactivate User".into()), ..Default::default() })
            .await
            .unwrap();
    assert!(deactivate.events[0].quirks.contains("entra-string-boolean"), "the quirk is recorded");
}

/// Groups: push with members, Okta rename keeps members, member add/remove by PATCH, user.groups.
#[tokio::test]
async fn groups_and_membership() {
    let e = env().await;
    let a = e.create_user("a@x").await["id"].as_str().unwrap().to_string();
    let b = e.create_user("b@x").await["id"].as_str().unwrap().to_string();
    let g = e
        .call(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"schemas":[GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName":"Engineering","members":[{"value":a}]})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    assert_eq!(g.body["members"][0]["value"], a);
    assert_eq!(g.body["members"][0]["type"], "User");
    assert_eq!(g.body["members"][0]["$ref"], format!("http://scim.test/scim/v2/Users/{a}"));
    let guri = format!("/scim/v2/Groups/{gid}");
    let r = e
        .call(
            "PATCH",
            &guri,
            Some(json!({"schemas":[PATCH_OP],"Operations":[
            {"op":"replace","value":{"id":gid,"displayName":"Eng"}},
            {"op":"remove","path":format!("members[value eq \"{a}\"]")},
            {"op":"add","path":"members","value":[{"value":b,"display":"b@x"}]}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let got = e.call("GET", &guri, None).await.body;
    assert_eq!(got["displayName"], "Eng");
    assert_eq!(got["members"].as_array().unwrap().len(), 1);
    assert_eq!(got["members"][0]["value"], b);
    let user_b = e.call("GET", &format!("/scim/v2/Users/{b}"), None).await.body;
    assert_eq!(user_b["groups"][0]["value"], gid, "user.groups is computed");
    assert_eq!(user_b["groups"][0]["display"], "Eng");
    let rename_only = e.call("PATCH", &guri, Some(json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"id":gid,"displayName":"Engineering"}}]}))).await;
    assert_eq!(rename_only.status, StatusCode::NO_CONTENT);
    assert_eq!(
        e.call("GET", &guri, None).await.body["members"].as_array().unwrap().len(),
        1,
        "a rename never touches membership"
    );
    let lookup = e
        .call("GET", "/scim/v2/Groups?filter=displayName%20eq%20%22engineering%22&excludedAttributes=members", None)
        .await
        .body;
    assert_eq!(lookup["totalResults"], 1, "{lookup}");
    assert!(lookup["Resources"][0].get("members").is_none(), "excludedAttributes=members");
    let bad = e
        .call(
            "PATCH",
            &guri,
            Some(
                json!({"schemas":[PATCH_OP],"Operations":[{"op":"add","path":"members","value":[{"value":"ghost"}]}]}),
            ),
        )
        .await;
    assert_eq!(bad.body["scimType"], "invalidValue", "members must exist");
    assert_eq!(e.call("DELETE", &format!("/scim/v2/Users/{b}"), None).await.status, StatusCode::NO_CONTENT);
    assert!(e.call("GET", &guri, None).await.body["members"].as_array().unwrap().is_empty(), "no orphan membership");
}

/// Discovery advertises what the server does.
#[tokio::test]
async fn discovery() {
    let e = env().await;
    let spc = e.call("GET", "/scim/v2/ServiceProviderConfig", None).await.body;
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["etag"]["supported"], true);
    let rts = e.call("GET", "/scim/v2/ResourceTypes", None).await.body;
    assert_eq!(rts["totalResults"], 2);
    assert_eq!(
        e.call("GET", "/scim/v2/ResourceTypes/User", None).await.body["schemaExtensions"][0]["schema"],
        ENTERPRISE
    );
    let schemas = e.call("GET", "/scim/v2/Schemas", None).await.body;
    assert_eq!(schemas["totalResults"], 3);
    let user = e.call("GET", &format!("/scim/v2/Schemas/{USER}"), None).await.body;
    let user_name = user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(e.call("GET", "/scim/v2/Schemas/urn:nope", None).await.status, StatusCode::NOT_FOUND);
}

/// Lists page with integers and a stable order; count is capped at the advertised maximum.
#[tokio::test]
async fn paging() {
    let e = env().await;
    for i in 0..5 {
        e.create_user(&format!("u{i}@x")).await;
    }
    let p1 = e.call("GET", "/scim/v2/Users?startIndex=1&count=2", None).await.body;
    let p2 = e.call("GET", "/scim/v2/Users?startIndex=3&count=2", None).await.body;
    assert_eq!(p1["totalResults"], 5);
    assert_eq!(p1["itemsPerPage"], 2);
    assert_eq!(p2["startIndex"], 3);
    assert_ne!(p1["Resources"][0]["id"], p2["Resources"][0]["id"]);
    let all = e.call("GET", "/scim/v2/Users?count=5000&sortBy=userName&sortOrder=descending", None).await.body;
    assert_eq!(all["Resources"][0]["userName"], "u4@x");
    let none = e.call("GET", "/scim/v2/Users?count=-3&startIndex=-9", None).await.body;
    assert_eq!(none["itemsPerPage"], 0);
    assert_eq!(none["startIndex"], 1);
    let entra = e
        .call("GET", "/scim/v2/Users?filter=userName%20eq%20%22c0ffee00-1234-4abc-8def-0123456789ab%22", None)
        .await
        .body;
    assert_eq!(entra["totalResults"], 0, "Entra's test connection gets an empty list");
}

/// /health answers without a token.
#[tokio::test]
async fn health() {
    let e = env().await;
    let r = e.raw("GET", "/health", None, &[("authorization", "")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
}

/// RFC 9865 cursors walk every user once, forwards and back, and a forged cursor is refused.
#[tokio::test]
async fn cursor_paging() {
    let e = env().await;
    let mut ids = vec![];
    for i in 0..7 {
        ids.push(e.create_user(&format!("c{i}@x")).await["id"].as_str().unwrap().to_string());
    }
    let mut seen = vec![];
    let mut pages = vec![];
    let mut uri = "/scim/v2/Users?cursor=&count=3".to_string();
    loop {
        let page = e.call("GET", &uri, None).await.body;
        assert_eq!(page["totalResults"], 7);
        assert!(page.get("startIndex").is_none(), "cursor pages carry no startIndex");
        seen.extend(page["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
        pages.push(page.clone());
        match page["nextCursor"].as_str() {
            Some(c) => uri = format!("/scim/v2/Users?cursor={c}&count=3"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every user once, in creation order");
    assert_eq!(pages.len(), 3);
    assert!(pages[0].get("previousCursor").is_none(), "the first page has no previous page");
    let back = pages[2]["previousCursor"].as_str().expect("the last page links back");
    let prev = e.call("GET", &format!("/scim/v2/Users?cursor={back}&count=3"), None).await.body;
    assert_eq!(prev["Resources"], pages[1]["Resources"], "previousCursor returns the page before");
    let bad = e.call("GET", "/scim/v2/Users?cursor=Zm9yZ2Vk&count=3", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["scimType"], "invalidCursor");
    let spc = e.call("GET", "/scim/v2/ServiceProviderConfig", None).await.body;
    assert_eq!(spc["pagination"]["cursor"], true, "cursors are advertised");
}

/// Projection on GET, lists and POST /.search (per type and at the root).
#[tokio::test]
async fn projection_everywhere() {
    let e = env().await;
    let u = e
        .call(
            "POST",
            "/scim/v2/Users",
            Some(json!({"schemas":[USER],"userName":"p@x","title":"T","name":{"givenName":"P","familyName":"Q"}})),
        )
        .await
        .body;
    e.call("POST", "/scim/v2/Groups", Some(json!({"schemas":[GROUP],"displayName":"P Group"}))).await;
    let id = u["id"].as_str().unwrap();
    let one = e.call("GET", &format!("/scim/v2/Users/{id}?attributes=name.givenName"), None).await.body;
    assert_eq!(one, json!({"schemas":[USER],"id":id,"name":{"givenName":"P"}}));
    let list = e.call("GET", "/scim/v2/Users?excludedAttributes=title,meta", None).await.body;
    assert!(list["Resources"][0].get("title").is_none() && list["Resources"][0].get("meta").is_none());
    assert_eq!(list["Resources"][0]["userName"], "p@x");
    let search = e
        .call(
            "POST",
            "/scim/v2/Users/.search",
            Some(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter":"title eq \"T\"","attributes":["userName"],"count":10})),
        )
        .await
        .body;
    assert_eq!(search["totalResults"], 1);
    assert_eq!(search["Resources"][0], json!({"schemas":[USER],"id":id,"userName":"p@x"}));
    let root = e
        .call(
            "POST",
            "/scim/v2/.search",
            Some(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter":"userName sw \"p\" or displayName sw \"P\"","attributes":["meta.resourceType"]})),
        )
        .await
        .body;
    assert_eq!(root["totalResults"], 2, "{root}");
    let kinds: Vec<&str> =
        root["Resources"].as_array().unwrap().iter().map(|r| r["meta"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["User", "Group"]);
}

mod membership_model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone)]
    enum Step {
        Add(Vec<usize>),
        RemoveByFilter(usize),
        RemoveByValueList(Vec<usize>),
        ReplaceAll(Vec<usize>),
    }

    fn step() -> impl Strategy<Value = Step> {
        let some = proptest::collection::vec(0..6usize, 1..4);
        prop_oneof![
            some.clone().prop_map(Step::Add),
            (0..6usize).prop_map(Step::RemoveByFilter),
            some.clone().prop_map(Step::RemoveByValueList),
            proptest::collection::vec(0..6usize, 0..4).prop_map(Step::ReplaceAll),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// A random sequence of member add/remove PATCHes through the router leaves the same
        /// membership as a model set. A remove-by-filter of a non-member succeeds and changes nothing.
        #[test]
        fn membership_matches_a_model_set(steps in proptest::collection::vec(step(), 1..12)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let e = env().await;
                let mut users = vec![];
                for i in 0..6 {
                    users.push(e.create_user(&format!("m{i}@x")).await["id"].as_str().unwrap().to_string());
                }
                let gid = e.call("POST", "/scim/v2/Groups", Some(json!({"schemas":[GROUP],"displayName":"G"}))).await.body["id"]
                    .as_str().unwrap().to_string();
                let uri = format!("/scim/v2/Groups/{gid}");
                let mut model: BTreeSet<String> = BTreeSet::new();
                for s in steps {
                    let (ops, expect_ok) = match &s {
                        Step::Add(ix) => {
                            for i in ix { model.insert(users[*i].clone()); }
                            (json!([{"op":"add","path":"members","value":ix.iter().map(|i| json!({"value": users[*i]})).collect::<Vec<_>>()}]), true)
                        }
                        Step::RemoveByFilter(i) => {
                            model.remove(&users[*i]);
                            (json!([{"op":"remove","path":format!("members[value eq \"{}\"]", users[*i])}]), true)
                        }
                        Step::RemoveByValueList(ix) => {
                            for i in ix { model.remove(&users[*i]); }
                            (json!([{"op":"Remove","path":"members","value":ix.iter().map(|i| json!({"value": users[*i]})).collect::<Vec<_>>()}]), true)
                        }
                        Step::ReplaceAll(ix) => {
                            model = ix.iter().map(|i| users[*i].clone()).collect();
                            (json!([{"op":"replace","path":"members","value":ix.iter().map(|i| json!({"value": users[*i]})).collect::<Vec<_>>()}]), true)
                        }
                    };
                    let r = e.call("PATCH", &uri, Some(json!({"schemas":[PATCH_OP],"Operations":ops}))).await;
                    if expect_ok {
                        assert_eq!(r.status, StatusCode::NO_CONTENT, "{s:?}: {}", r.body);
                    } else {
                        assert_eq!(r.body["scimType"], "noTarget", "{s:?}");
                    }
                    let stored: BTreeSet<String> = e.call("GET", &uri, None).await.body["members"].as_array().unwrap()
                        .iter().map(|m| m["value"].as_str().unwrap().to_string()).collect();
                    assert_eq!(stored, model, "after {s:?}");
                }
            });
        }
    }
}
