//! End to end: the real `talkwriter-scim` binary on a free port, driven over HTTP with reqwest
//! through an IdP's lifecycle, checking the stored state after each step.

use e2e::{ScimServer, cli};
use reqwest::StatusCode;
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Idp {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Idp {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/scim/v2{path}", self.base))
            .bearer_auth(&self.token)
            .header("user-agent", "Okta SCIM Client 1.0.0");
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }
    async fn get(&self, path: &str) -> Value {
        let (s, b) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
        b
    }
}

/// The whole lifecycle against the real binary: create → read → list → PUT → deactivate →
/// group push → delete, then SIGTERM stops it cleanly and the sync log holds every step.
#[tokio::test]
async fn idp_lifecycle_against_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scim.db");
    let (ok, token, err) = cli(&["token", "create", "--db", db.to_str().unwrap(), "--label", "Okta prod"]);
    assert!(ok, "token create: {err}");
    let token = token.trim().to_string();
    assert!(token.starts_with("twscim_") && token.len() >= 7 + 43, "a recognisable 256-bit token: {token}");
    assert!(!token.contains('\n'), "only the token is printed");

    let server = ScimServer::start(&db);
    let idp = Idp { http: reqwest::Client::new(), base: server.base.clone(), token: token.clone() };

    let health = reqwest::get(format!("{}/health", server.base)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // Okta's existence check, then create.
    let found = idp.get("/Users?filter=userName%20eq%20%22ann%40example.com%22&startIndex=1&count=100").await;
    assert_eq!(found["totalResults"], 0);
    let (s, ann) = idp
        .send(
            reqwest::Method::POST,
            "/Users",
            Some(json!({"schemas":[USER],"userName":"ann@example.com","name":{"givenName":"Ann","familyName":"Lee"},
                "emails":[{"primary":true,"value":"ann@example.com","type":"work"}],"active":true,"password":"Pa55word!","groups":[],"locale":"en-US","externalId":"00u1"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ann}");
    let id = ann["id"].as_str().unwrap().to_string();

    // Read and list.
    assert_eq!(idp.get(&format!("/Users/{id}")).await["userName"], "ann@example.com");
    let list = idp.get("/Users?startIndex=1&count=100").await;
    assert_eq!(list["totalResults"], 1);
    assert!(list["totalResults"].is_i64() && list["startIndex"].is_i64(), "integers, not strings");

    // Okta OIN profile update is a PUT.
    let (s, put) = idp
        .send(
            reqwest::Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas":[USER],"id":id,"userName":"ann@example.com","name":{"givenName":"Ann","familyName":"Lee-Smith"},"title":"CTO","active":true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{put}");
    let stored = idp.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["familyName"], "Lee-Smith");
    assert!(stored.get("emails").is_none(), "PUT cleared what it left out");

    // Deactivate with Okta's path-less PATCH.
    let (s, _) = idp
        .send(
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"active":false}}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(idp.get(&format!("/Users/{id}")).await["active"], false);

    // Group push with a member.
    let (s, g) = idp
        .send(reqwest::Method::POST, "/Groups", Some(json!({"schemas":[GROUP],"displayName":"Engineering","members":[{"value":id,"display":"ann@example.com"}]})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    assert_eq!(idp.get(&format!("/Users/{id}")).await["groups"][0]["value"], gid);

    // Delete.
    let (s, _) = idp.send(reqwest::Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = idp.send(reqwest::Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(idp.get(&format!("/Groups/{gid}")).await["members"].as_array().unwrap().is_empty());

    // A wrong token is refused.
    let bad = Idp { http: reqwest::Client::new(), base: server.base.clone(), token: "twscim_nope".into() };
    assert_eq!(bad.send(reqwest::Method::GET, "/Users", None).await.0, StatusCode::UNAUTHORIZED);

    let stderr_path = server.stderr_path.clone();
    let status = server.stop();
    assert!(status.success(), "SIGTERM stops the server cleanly: {status:?}");

    let (ok, log, err) = cli(&["events", "--db", db.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let events: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    let ops: Vec<&str> = events.iter().map(|e| e["operation"].as_str().unwrap()).collect();
    for op in ["Lookup", "Create User", "Update User", "Deactivate User", "Push Group", "Delete User", "Auth Failure"] {
        assert!(ops.contains(&op), "{op} is in the sync log: {ops:?}");
    }
    assert!(
        events.iter().all(|e| e["idp"] == "Okta" || e["idp"] == "TalkWriter Admin"),
        "recognised from the User-Agent"
    );
    assert!(!log.contains("Pa55word!"), "the password sent is redacted in the log");
    assert!(!log.contains(&token), "the token never reaches the log");
    let server_log = std::fs::read_to_string(stderr_path).unwrap();
    assert!(!server_log.contains(&token), "nor the server's own output");
    let db_bytes = std::fs::read(&db).unwrap();
    assert!(!String::from_utf8_lossy(&db_bytes).contains(&token), "nor the database file");
}

/// The admin commands: first start prints one token; provisioning off refuses requests; token
/// list shows no secrets; revoke takes effect at once.
#[tokio::test]
async fn admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let db_arg = db.to_str().unwrap();
    let server = ScimServer::start(&db);
    // The first start printed the endpoint and a token.
    let mut printed = String::new();
    for _ in 0..100 {
        printed = std::fs::read_to_string(&server.stdout_path).unwrap();
        if printed.contains("twscim_") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(printed.contains(&format!("{}/scim/v2", server.base)), "prints the endpoint: {printed}");
    let token = printed.split_whitespace().find(|w| w.starts_with("twscim_")).expect("prints a token").to_string();
    let idp = Idp { http: reqwest::Client::new(), base: server.base.clone(), token: token.clone() };
    assert_eq!(idp.send(reqwest::Method::GET, "/Users", None).await.0, StatusCode::OK);

    let (ok, out, _) = cli(&["provisioning", "off", "--db", db_arg]);
    assert!(ok, "{out}");
    let (s, body) = idp.send(reqwest::Method::POST, "/Users", Some(json!({"schemas":[USER],"userName":"x@y"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(cli(&["provisioning", "on", "--db", db_arg]).0);
    assert_eq!(
        idp.send(reqwest::Method::POST, "/Users", Some(json!({"schemas":[USER],"userName":"x@y"}))).await.0,
        StatusCode::CREATED
    );

    // The time of use is written with the sync log's next batch, a moment after the request.
    let mut first = Value::Null;
    for _ in 0..50 {
        let (ok, list, _) = cli(&["token", "list", "--db", db_arg, "--json"]);
        assert!(ok);
        assert!(!list.contains(&token), "token list never shows a secret");
        first = serde_json::from_str(list.lines().next().unwrap()).unwrap();
        if first["lastUsed"].is_string() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(token.starts_with(first["prefix"].as_str().unwrap()));
    assert!(first["lastUsed"].is_string(), "last used is recorded: {first}");
    let (ok, _, err) = cli(&["token", "revoke", "--db", db_arg, first["id"].as_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(
        idp.send(reqwest::Method::GET, "/Users", None).await.0,
        StatusCode::UNAUTHORIZED,
        "revocation is immediate"
    );
    assert!(server.stop().success());
}

/// Headless parity for access: users and groups provisioned over HTTP, the access rule set from
/// the CLI, and `users`/`groups` print each with its access and reason.
#[tokio::test]
async fn cli_users_and_groups_show_access() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scim.db");
    let db_arg = db.to_str().unwrap();
    let (_, token, _) = cli(&["token", "create", "--db", db_arg]);
    let server = ScimServer::start(&db);
    let idp = Idp { http: reqwest::Client::new(), base: server.base.clone(), token: token.trim().into() };
    let mut ids = vec![];
    for name in ["ann@x.io", "bob@x.io"] {
        let (s, u) = idp.send(reqwest::Method::POST, "/Users", Some(json!({"schemas":[USER],"userName":name}))).await;
        assert_eq!(s, StatusCode::CREATED);
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let (s, _) = idp
        .send(
            reqwest::Method::POST,
            "/Groups",
            Some(json!({"schemas":[GROUP],"displayName":"Engineering","members":[{"value":ids[0]}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let (ok, out, err) = cli(&["access", "groups", "--grant", "Engineering", "--db", db_arg]);
    assert!(ok, "{err}");
    assert!(out.contains("1 user(s) changed access"), "bob loses access: {out}");

    let (ok, out, _) = cli(&["users", "--json", "--db", db_arg]);
    assert!(ok);
    let users: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(users.len(), 2);
    let ann = users.iter().find(|u| u["userName"] == "ann@x.io").unwrap();
    assert_eq!(ann["access"]["granted"], true);
    assert_eq!(ann["access"]["reason"], "Active; member of Engineering, which grants access");
    let bob = users.iter().find(|u| u["userName"] == "bob@x.io").unwrap();
    assert_eq!(bob["access"]["granted"], false);

    let (ok, out, _) = cli(&["users", "--json", "--filter", "userName sw \"bob\"", "--db", db_arg]);
    assert!(ok);
    assert_eq!(out.lines().count(), 1, "the SCIM filter selects bob only: {out}");

    // The IdP looks Ann up: `users show` counts that lookup and lists her changes.
    let (s, _) = idp.send(reqwest::Method::GET, "/Users?filter=userName%20eq%20%22ann@x.io%22", None).await;
    assert_eq!(s, StatusCode::OK);
    let show = || {
        let (ok, out, err) = cli(&["users", "show", "ANN@x.io", "--json", "--db", db_arg]);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let mut shown = show();
    // The server writes a read's event within a moment; the CLI reads the file.
    for _ in 0..50 {
        if shown["lookups"]["count"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        shown = show();
    }
    assert_eq!(shown["access"]["granted"], true, "userName matches without regard to case");
    assert_eq!(shown["groups"][0]["display"], "Engineering");
    assert_eq!(shown["lookups"]["count"], 1, "{}", shown["lookups"]);
    let listed: Vec<&str> =
        shown["history"].as_array().unwrap().iter().map(|e| e["operation"].as_str().unwrap()).collect();
    assert!(listed.contains(&"Create User") && !listed.contains(&"Lookup"), "{listed:?}");

    let (ok, out, _) = cli(&["groups", "--json", "--db", db_arg]);
    assert!(ok);
    let g: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        (g["displayName"].as_str(), g["members"].as_i64(), g["grantsAccess"].as_bool()),
        (Some("Engineering"), Some(1), Some(true))
    );

    let (ok, out, _) = cli(&["events", "--db", db_arg, "--operation", "Access Revoked", "--json"]);
    assert!(ok);
    let revoked: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["targetName"], "bob@x.io");
    let (ok, csv, _) = cli(&["events", "--db", db_arg, "--csv", "--result", "success"]);
    assert!(ok && csv.starts_with("id,time,idp,operation"));
    assert!(server.stop().success());
}

/// `events --follow` prints every event that arrives, in order, even when more than a page of
/// them (1,000) land between two of its reads.
#[tokio::test]
async fn events_follow_prints_every_event_of_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("follow.db");
    let db_arg = db.to_str().unwrap();
    let (ok, _, err) = cli(&["token", "create", "--db", db_arg, "--label", "Okta"]);
    assert!(ok, "{err}");
    let out_path = dir.path().join("follow.out");
    let bin = e2e::binary("talkwriter-scim", "talkwriter-scim", "TALKWRITER_SCIM_BIN");
    let mut follower = std::process::Command::new(bin)
        .args(["events", "--follow", "--json", "--db", db_arg])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .spawn()
        .unwrap();
    let printed = || std::fs::read_to_string(&out_path).unwrap().lines().count();
    let started = std::time::Instant::now();
    while printed() < 1 && started.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // 2,500 events (and the seed's own record) committed at once.
    let (ok, _, err) = cli(&["seed", "--db", db_arg, "--users", "10", "--groups", "0", "--events", "2500"]);
    assert!(ok, "{err}");
    while printed() < 2_502 && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(600));
    let _ = follower.kill();
    let _ = follower.wait();
    let ids: Vec<i64> = std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2_502, "every event printed once");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "in order, none skipped");
}
