//! Security over real HTTP against the real binary: failed authentication is rate-limited per
//! address, remote binding needs a flag, TLS works from PEM files, files are private, a slow
//! request is cut off with a SCIM error, and no secret reaches a log, the database or an export.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{PATCH_OP, Setup, USER, integrity, new_db, patch, user};
use e2e::{binary, cli, free_port, wait_for_port};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn scim_bin() -> std::path::PathBuf {
    binary("talkwriter-scim", "talkwriter-scim", "TALKWRITER_SCIM_BIN")
}

/// After 20 failed authentications from one address, its unauthenticated requests get 429 with
/// Retry-After until the window ends, a valid token still gets through, and the block is in
/// the sync log.
#[tokio::test]
async fn failed_authentication_is_rate_limited_per_address() {
    let s = Setup::start();
    for i in 1..=20 {
        let res = s.http.get(s.url("/Users")).bearer_auth(format!("twscim_wrong{i}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "failure {i} of 20 allowed is a plain 401");
    }
    let res = s.http.get(s.url("/Users")).bearer_auth("twscim_wrong21").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After in seconds within the window: {retry}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "429", "a SCIM error body: {body}");
    let res = s.http.get(s.url("/Users")).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a valid token from a blocked address still gets through");
    let res = s.http.get(s.url("/Users")).bearer_auth("twscim_wrong22").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "and the address stays blocked for everything else");

    let events = common::events_after(&s.db, 0, 21).await;
    let blocks: Vec<_> = events.iter().filter(|e| e.2 == "Auth Failure" && e.3 == 429).collect();
    assert_eq!(blocks.len(), 1, "the block is logged once, not once per refused request: {events:?}");
    let failures = events.iter().filter(|e| e.2 == "Auth Failure" && e.3 == 401).count();
    assert_eq!(failures, 20, "each failed authentication is logged");
}

/// `serve` refuses a non-loopback address without `--allow-remote`, and warns when given it.
#[test]
fn remote_binding_needs_a_flag_and_warns() {
    let (dir, db, _) = new_db();
    let addr = format!("0.0.0.0:{}", free_port());
    let out =
        Command::new(scim_bin()).args(["serve", "--db", db.to_str().unwrap(), "--listen", &addr]).output().unwrap();
    assert!(!out.status.success(), "a non-loopback address is refused by default");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote"), "the refusal names the flag: {err}");

    let port = free_port();
    let log = dir.path().join("remote.err");
    let mut child = Command::new(scim_bin())
        .args(["serve", "--db", db.to_str().unwrap(), "--listen", &format!("0.0.0.0:{port}"), "--allow-remote"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    assert!(wait_for_port(&format!("127.0.0.1:{port}"), Duration::from_secs(20)), "it serves with the flag");
    let status = e2e::terminate(&mut child);
    assert!(status.success());
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(err.contains("WARN") && err.contains("non-loopback") && err.contains("WITHOUT TLS"), "{err}");
}

/// HTTPS from a certificate and key in PEM files (self-signed here, made with rcgen): a client
/// that trusts the certificate gets SCIM answers; plain HTTP to that port gets none.
#[tokio::test]
async fn serves_tls_from_pem_files() {
    let (dir, db, token) = new_db();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let port = free_port();
    let mut child = Command::new(scim_bin())
        .args(["serve", "--db", db.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .args(["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_port(&format!("127.0.0.1:{port}"), Duration::from_secs(20)));

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("handshake");
    let req = format!(
        "GET /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "SCIM over TLS: {answer}");
    assert!(answer.contains("\"totalResults\":0"), "{answer}");

    let plain = reqwest::get(format!("http://127.0.0.1:{port}/health")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "no plain HTTP on the TLS port");
    e2e::terminate(&mut child);
}

/// The database and its WAL and shared-memory files, and a backup, are readable by their
/// owner only: they hold token hashes and the directory.
#[tokio::test]
async fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::start();
    s.send(Method::POST, "/Users", Some(&user("private"))).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.db), 0o600, "scim.db");
    for suffix in ["-wal", "-shm"] {
        let p = s.db.with_file_name(format!("scim.db{suffix}"));
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "scim.db{suffix} follows the database's mode");
        }
    }
}

/// A request that does not finish in time (here: a body that never arrives, with the timeout
/// set to 1 s) is answered 503 with a SCIM error body and Retry-After, and changes nothing.
/// Starts `serve` with a one-second request timeout on a free port; stderr goes to `dir/err`.
fn serve_with_one_second_timeout(dir: &std::path::Path, db: &std::path::Path) -> (std::process::Child, u16) {
    let port = free_port();
    let child = Command::new(scim_bin())
        .args(["serve", "--db", db.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .args(["--request-timeout-secs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(dir.join("err")).unwrap()))
        .spawn()
        .unwrap();
    assert!(wait_for_port(&format!("127.0.0.1:{port}"), Duration::from_secs(20)));
    (child, port)
}

#[test]
fn a_request_that_times_out_gets_a_scim_503() {
    let (dir, db, token) = new_db();
    let (mut child, port) = serve_with_one_second_timeout(dir.path(), &db);
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 500\r\n\r\n{{\"schemas\":[\"{USER}\"],"
    );
    let started = Instant::now();
    tcp.write_all(head.as_bytes()).unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tcp.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(started.elapsed() < Duration::from_secs(5), "cut off at about 1 s, not left hanging");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 5"), "{answer}");
    assert!(answer.contains("application/scim+json") && answer.contains("\"status\":\"503\""), "{answer}");
    e2e::terminate(&mut child);
}

/// A full IdP sequence sends a token and passwords every way an IdP (or a careless admin) can;
/// none of them is found afterwards in the server's output, the database file or its WAL, the
/// sync log, or `talkwriter-scim events --json`.
#[tokio::test]
async fn no_secret_reaches_logs_database_or_exports() {
    let s = Setup::start();
    let passwords = [
        "Create-Pa55word!",
        "Put-Pa55word!",
        "Patch-Pa55word!",
        "NoPath-Pa55word!",
        "Urn-Pa55word!",
        "Search-Pa55word!",
    ];
    let mut ann = user("secret-ann");
    ann["password"] = json!(passwords[0]);
    let (st, created) = s.send(Method::POST, "/Users", Some(&ann)).await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    assert!(created.get("password").is_none(), "never returned");
    let id = created["id"].as_str().unwrap().to_string();
    let mut put = user("secret-ann");
    put["password"] = json!(passwords[1]);
    assert_eq!(s.send(Method::PUT, &format!("/Users/{id}"), Some(&put)).await.0, StatusCode::OK);
    // Okta's password change: PATCH with the path; Entra's: no path, a value object.
    let ops = [
        json!({"op": "replace", "path": "password", "value": passwords[2]}),
        json!({"op": "replace", "value": {"password": passwords[3]}}),
        json!({"op": "Replace", "path": format!("{USER}:password"), "value": passwords[4]}),
    ];
    for op in ops {
        let (st, b) = s.send(Method::PATCH, &format!("/Users/{id}"), Some(&patch(json!([op])))).await;
        assert!(st.is_success(), "{b}");
    }
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": format!("password eq \"{}\"", passwords[5])});
    s.send(Method::POST, "/Users/.search", Some(&search)).await;
    // A password and the token in URLs, where they do not belong.
    let res = s
        .http
        .get(s.url(&format!("/Users?filter=password%20eq%20%22{}%22", passwords[0])))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a password in a URL is refused as sensitive");
    s.http.get(s.url(&format!("/Users?access_token={}", s.token))).send().await.unwrap();
    let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "secret-staff", "members": [{"value": id}]});
    s.send(Method::POST, "/Groups", Some(&g)).await;
    let p = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": "False"}]});
    s.send(Method::PATCH, &format!("/Users/{id}"), Some(&p)).await;
    s.send(Method::DELETE, &format!("/Users/{id}"), None).await;

    let Setup { dir: _dir, db, token, server, .. } = s;
    let (stdout_path, stderr_path) = (server.stdout_path.clone(), server.stderr_path.clone());
    assert!(server.stop().success(), "a clean stop");
    let (ok, export, err) = cli(&["events", "--db", db.to_str().unwrap(), "--json", "--limit", "1000"]);
    assert!(ok, "{err}");
    assert!(export.lines().count() >= 10, "the export holds the sequence");
    assert_eq!(integrity(&db).await, "ok");

    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("server stdout".into(), std::fs::read(&stdout_path).unwrap()),
        ("server stderr".into(), std::fs::read(&stderr_path).unwrap()),
        ("events --json".into(), export.into_bytes()),
    ];
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = db.with_file_name(format!("scim.db{suffix}"));
        if p.exists() {
            places.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    let mut conn = common::open_ro(&db).await;
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT path || '|' || COALESCE(request_body, '') || '|' || COALESCE(response_body, '') || '|' || COALESCE(detail, '')
         FROM events UNION ALL SELECT body FROM event_bodies",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    places.push(("sync log rows".into(), format!("{rows:?}").into_bytes()));
    assert!(!places[3].1.is_empty(), "the database file was read");
    for secret in passwords.iter().map(|p| p.to_string()).chain([token.clone(), token[7..].to_string()]) {
        for (place, bytes) in &places {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{place} holds a secret ({}…)", &secret[..6]);
        }
    }
}

/// Every advertised limit is the one enforced: `/ServiceProviderConfig` says it, and one past
/// it gets the documented refusal (413 for size and operation count, 400 `invalidFilter` for a
/// filter's length and depth, 400 `invalidValue` for a name's length), changing nothing.
#[tokio::test]
async fn advertised_limits_are_the_enforced_ones() {
    let s = Setup::start();
    let (st, spc) = s.send(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(st, StatusCode::OK);
    let limits = &spc["urn:talkwriter:params:scim:limits:1.0"];
    let max_body = spc["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    assert_eq!(max_body, 1024 * 1024);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["bulk"]["maxOperations"], 0);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["pagination"]["maxPageSize"], 1000);
    assert_eq!(limits["requestTimeoutSeconds"], 30);
    assert_eq!(limits["maxAuthFailuresPerAddress"], 20);

    let pad = max_body - format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"\"}}").len();
    let body = |n: usize| format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"{}\"}}", "x".repeat(n));
    let res = s
        .http
        .post(s.url("/Users"))
        .bearer_auth(&s.token)
        .header("content-type", "application/scim+json")
        .body(body(pad + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "one byte over maxPayloadSize");
    let res = s
        .http
        .post(s.url("/Users"))
        .bearer_auth(&s.token)
        .header("content-type", "application/scim+json")
        .body(body(pad))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "exactly maxPayloadSize is read (then the name is too long)");
    let max_name = limits["maxNameLength"].as_u64().unwrap() as usize;
    let (st, b) = s.send(Method::POST, "/Users", Some(&user(&"n".repeat(max_name + 1)))).await;
    assert_eq!((st, b["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidValue")), "{b}");

    let max_len = limits["maxFilterLength"].as_u64().unwrap() as usize;
    let filter = |v: usize| format!("userName eq \"{}\"", "f".repeat(v));
    let over = filter(max_len + 1 - filter(0).len());
    let res = s.http.get(s.url("/Users")).query(&[("filter", over)]).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a filter one byte over maxFilterLength");
    let at = filter(max_len - filter(0).len());
    let res = s.http.get(s.url("/Users")).query(&[("filter", at)]).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a filter of exactly maxFilterLength");
    let depth = limits["maxFilterDepth"].as_u64().unwrap() as usize;
    let nested = |d: usize| format!("{}userName pr{}", "(".repeat(d), ")".repeat(d));
    let res =
        s.http.get(s.url("/Users")).query(&[("filter", nested(depth))]).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "maxFilterDepth levels of nesting");
    let res =
        s.http.get(s.url("/Users")).query(&[("filter", nested(depth + 1))]).bearer_auth(&s.token).send().await.unwrap();
    let b: serde_json::Value = res.json().await.unwrap();
    assert_eq!(b["scimType"], "invalidFilter", "one level deeper: {b}");

    let (_, u) = s.send(Method::POST, "/Users", Some(&user("limits"))).await;
    let snapshot = common::dump_store(&s.db).await;
    let max_ops = limits["maxPatchOperations"].as_u64().unwrap() as usize;
    let ops: Vec<_> =
        (0..=max_ops).map(|i| json!({"op": "replace", "path": "title", "value": format!("t{i}")})).collect();
    let (st, _) =
        s.send(Method::PATCH, &format!("/Users/{}", u["id"].as_str().unwrap()), Some(&patch(json!(ops)))).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "one operation over maxPatchOperations");
    let res = s
        .http
        .post(s.url("/Bulk"))
        .bearer_auth(&s.token)
        .header("content-type", "application/scim+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_IMPLEMENTED, "bulk.supported is false");
    assert_eq!(common::dump_store(&s.db).await, snapshot, "refusals at the limits change nothing");
}

/// A client that opens a connection and sends half a request line (no headers ever complete,
/// so no request timeout starts) is disconnected once the connection has been quiet for twice
/// the request timeout, so such clients cannot pile up connections.
#[test]
fn a_quiet_half_open_request_is_disconnected() {
    let (dir, db, _) = new_db();
    let (mut child, port) = serve_with_one_second_timeout(dir.path(), &db);
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    tcp.write_all(b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).unwrap_or(0);
    let waited = started.elapsed();
    assert_eq!(n, 0, "closed without an answer: {}", String::from_utf8_lossy(&buf[..n]));
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10), "closed after ~2 s: {waited:?}");
    // A normal request on a fresh connection is unaffected.
    let mut ok = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    ok.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    ok.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    e2e::terminate(&mut child);
}
