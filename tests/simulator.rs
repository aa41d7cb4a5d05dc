//! The IdP simulator, the endpoint checker and the test connection against the real
//! `talkwriter-scim` binary, and the checker against deliberately broken variants of it.
//!
//! The broken variants are a small axum proxy in front of the real server that breaks exactly
//! one behaviour (a stringly `totalResults`, a case-sensitive `userName eq`, a rename that wipes
//! members). Everything else stays correct, so each variant must fail exactly its own checks:
//! that proves a check fails for the bug it names and for no other.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use e2e::{ScimServer, cli};
use idp_sim::{CheckReport, Profile, SimOptions, SimReport};
use serde_json::{Value, json};

/// A real server with a fresh database and one token.
struct Server {
    _dir: tempfile::TempDir,
    server: ScimServer,
    token: String,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = e2e::test_database(dir.path());
        let (ok, token, err) = cli(&["token", "create", "--db", &db]);
        assert!(ok, "{err}");
        let server = ScimServer::start_logging_to(&db, dir.path());
        Server { _dir: dir, server, token: token.trim().into() }
    }

    fn url(&self) -> String {
        format!("{}/scim/v2", self.server.base)
    }

    fn db(&self) -> &str {
        self.server.db.to_str().unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let res =
            reqwest::Client::new().get(format!("{}{path}", self.url())).bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Every user, by id.
    async fn users(&self) -> BTreeMap<String, Value> {
        let list = self.get("/Users?startIndex=1&count=1000").await;
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u["id"].as_str().unwrap().to_string(), u.clone()))
            .collect()
    }

    /// Every group: displayName → sorted member ids.
    async fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let list = self.get("/Groups?startIndex=1&count=1000").await;
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let mut m: Vec<String> = g["members"]
                    .as_array()
                    .map(|m| m.iter().map(|m| m["value"].as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                m.sort();
                (g["displayName"].as_str().unwrap().to_string(), m)
            })
            .collect()
    }

    /// The sync log as the CLI prints it.
    fn events(&self) -> Vec<Value> {
        e2e::settled_events(self.db(), 100000)
    }

    /// Each user's access state (`has_access`, ...) by userName, as the app shows it.
    fn access(&self) -> BTreeMap<String, String> {
        let (ok, out, err) = cli(&["users", "--db", self.db(), "--json"]);
        assert!(ok, "{err}");
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|u| (u["userName"].as_str().unwrap().to_string(), u["access"]["state"].as_str().unwrap().to_string()))
            .collect()
    }
}

/// The IdP each profile must be recognised as in the sync log.
fn idp_name(p: Profile) -> &'static str {
    match p {
        Profile::Okta | Profile::OktaPut => "Okta",
        Profile::Entra | Profile::EntraFlag => "Entra ID",
        Profile::OneLogin => "OneLogin",
        Profile::JumpCloud => "JumpCloud",
    }
}

/// The IdP shapes (the server's quirk labels) each profile must send, as the IdP notes list them.
fn idp_shapes(p: Profile) -> &'static [&'static str] {
    match p {
        Profile::Okta => &["okta-rename-with-id", "okta-member-type-defaulted"],
        Profile::OktaPut => &["okta-member-type-defaulted"],
        Profile::Entra => &[
            "entra-capitalised-op",
            "entra-string-boolean",
            "entra-member-remove-by-value",
            "entra-extra-schema-urn",
            "entra-manager-string",
        ],
        Profile::EntraFlag => &["entra-dotted-key-value", "entra-extra-schema-urn"],
        Profile::OneLogin => &["onelogin-scim1-urn"],
        Profile::JumpCloud => &["entra-member-remove-by-value"],
    }
}

fn failures(r: &SimReport) -> String {
    r.failures
        .iter()
        .map(|f| {
            format!("{}: {}\n{}", f.step, f.reason, f.exchange.as_ref().map(|e| e.to_string()).unwrap_or_default())
        })
        .collect()
}

/// Plays `profile` with 20 users and 3 groups, then checks the server's own state of users,
/// groups, access and the sync log against the IdP's directory, independently of the
/// simulator's read-back.
async fn simulate_profile(profile: Profile) {
    let s = Server::start();
    let mut ticks = vec![];
    let options = SimOptions { users: 20, groups: 3, ..Default::default() };
    let r =
        idp_sim::simulate(profile, &s.url(), &s.token, options, |done, total| ticks.push((done, total))).await.unwrap();
    assert!(r.ok(), "{profile}: every request succeeds on our server:\n{}", failures(&r));

    // 20 joiners and 3 groups; 4 movers change profile and group, one group is renamed; the last
    // 2 leave, and where the IdP deletes, one of them is deleted and so is the last group.
    let deletes = profile.deletes();
    assert_eq!(r.created, 23, "{profile}: every user and group created");
    assert_eq!(r.updated, 4 + 4 + 1, "{profile}: 4 profile updates, 4 group moves, 1 rename");
    assert_eq!(r.deactivated, 2, "{profile}: both leavers deactivated");
    assert_eq!(
        r.deleted,
        if deletes { 2 } else { 0 },
        "{profile}: Okta never deletes; the others delete a user and a group"
    );
    assert_eq!(r.verified, 23, "{profile}: everything read back as sent");
    let (active, inactive, groups) = if deletes { (18, 1, 2) } else { (18, 2, 3) };
    assert_eq!((r.directory.active_users, r.directory.inactive_users), (active, inactive));
    assert_eq!(ticks.last().map(|t| t.0), ticks.last().map(|t| t.1), "the progress bar reaches its end");
    assert!(ticks.windows(2).all(|w| w[0].0 < w[1].0), "progress only moves forward");

    // The server's state, read directly.
    let users: Vec<Value> = s
        .users()
        .await
        .into_values()
        .filter(|u| u["userName"].as_str().unwrap().ends_with(&r.directory.user_domain))
        .collect();
    let count = |active: bool| users.iter().filter(|u| u["active"] == json!(active)).count();
    assert_eq!((count(true), count(false)), (active, inactive), "{profile}: active and inactive users on the server");
    let movers: Vec<&Value> = users.iter().filter(|u| u["title"].as_str().unwrap().starts_with("Senior ")).collect();
    assert_eq!(movers.len(), 4, "{profile}: the movers' new titles landed");
    let by_id: BTreeMap<String, String> =
        users.iter().map(|u| (u["id"].as_str().unwrap().into(), u["userName"].as_str().unwrap().into())).collect();
    let server_groups: BTreeMap<String, Vec<String>> = s
        .groups()
        .await
        .into_iter()
        .filter(|(name, _)| name.contains(&r.run_id))
        .map(|(name, ids)| {
            let mut names: Vec<String> = ids.iter().map(|id| by_id[id].clone()).collect();
            names.sort();
            (name, names)
        })
        .collect();
    let idp_groups: BTreeMap<String, Vec<String>> =
        r.directory.groups.iter().map(|g| (g.display_name.clone(), g.members.clone())).collect();
    assert_eq!(server_groups.len(), groups, "{profile}: groups on the server");
    assert_eq!(server_groups, idp_groups, "{profile}: every group holds exactly the IdP's members");
    assert!(server_groups.keys().any(|n| n.contains(" EMEA (sim ")), "{profile}: the rename landed");
    let members: usize = server_groups.values().map(Vec::len).sum();
    assert_eq!(members, if deletes { 19 - 6 } else { 20 }, "{profile}: memberships after moves and deletes");

    // Access as the app shows it: active users have it, leavers do not.
    let access = s.access();
    for u in &users {
        let state = &access[u["userName"].as_str().unwrap()];
        assert_eq!(state == "has_access", u["active"] == json!(true), "{profile}: {} has {state}", u["userName"]);
    }

    // The sync log: every request of the run is marked simulated and names the IdP.
    let events: Vec<Value> = s.events().into_iter().filter(|e| e["userAgent"] == json!(profile.user_agent())).collect();
    assert!(events.len() >= r.requests, "{profile}: one event per request at least");
    let mut quirks: Vec<String> = events
        .iter()
        .flat_map(|e| serde_json::from_str::<Vec<String>>(e["quirks"].as_str().unwrap_or("[]")).unwrap_or_default())
        .collect();
    quirks.sort();
    quirks.dedup();
    for q in idp_shapes(profile) {
        assert!(quirks.iter().any(|seen| seen == q), "{profile}: the server saw the IdP's shape {q}: {quirks:?}");
    }
    for e in &events {
        assert_eq!(e["simulated"], true, "{profile}: {} {} is marked simulated", e["method"], e["path"]);
        assert_eq!(e["idp"], idp_name(profile), "{profile}: {} {} names the IdP", e["method"], e["path"]);
    }
}

/// Okta's OIN app: PUT updates, path-less PATCH deactivation, rename-with-id group pushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_okta() {
    simulate_profile(Profile::Okta).await;
}

/// Okta's custom app: everything as PUT, deactivation included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_okta_put() {
    simulate_profile(Profile::OktaPut).await;
}

/// Entra without the flag: capitalised ops, "False", members removed by value list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_entra() {
    simulate_profile(Profile::Entra).await;
}

/// Entra with aadOptscim062020: path-less replaces with dotted keys, removal by value filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_entra_flag() {
    simulate_profile(Profile::EntraFlag).await;
}

/// OneLogin: templated payloads with the SCIM 1.1 URN on some, manager objects, PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_onelogin() {
    simulate_profile(Profile::OneLogin).await;
}

/// JumpCloud: its create-add-remove-delete test connection first, then the directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_jumpcloud() {
    simulate_profile(Profile::JumpCloud).await;
    // Its test connection's user and group are gone again (checked by the counts above too).
}

/// The CLI's interface: `simulate --idp ... --cleanup --json` prints the report, exits 0 and
/// leaves nothing behind,
/// `check URL` exits 0 on our server, `test-connection` too; and a wrong token makes all three
/// exit non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_simulate_check_and_test_connection() {
    let s = Server::start();
    let url = s.url();
    let (ok, out, err) = cli(&[
        "simulate",
        "--idp",
        "entra-flag",
        "--url",
        &url,
        "--token",
        &s.token,
        "--users",
        "10",
        "--groups",
        "2",
        "--cleanup",
        "--json",
    ]);
    assert!(ok, "simulate succeeds: {out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["profile"].as_str(), report["created"].as_u64(), report["failed"].as_u64()),
        (Some("entra-flag"), Some(12), Some(0))
    );
    // --cleanup deletes what the run left: 9 users and 1 group (the IdP deleted 1 and 1 itself).
    assert_eq!(report["cleanedUp"], 10);
    assert_eq!((s.users().await.len(), s.groups().await.len()), (0, 0), "nothing simulated is left");

    let (ok, out, err) = cli(&["check", &url, "--token", &s.token]);
    assert!(ok, "check passes on our server: {out}{err}");
    assert!(out.contains("29 of 29 checks passed"), "{out}");
    let (ok, out, err) = cli(&["test-connection", &url, "--token", &s.token, "--json"]);
    assert!(ok, "{out}{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["ok"], true);

    // A wrong token: the server blocks an address after 20 refusals, so the longest run goes last.
    let (ok, out, _) = cli(&["test-connection", &url, "--token", "twscim_wrong"]);
    assert!(!ok && out.contains("401"), "{out}");
    let (ok, out, err) = cli(&["simulate", "--idp", "okta", "--url", &url, "--token", "twscim_wrong", "--users", "2"]);
    assert!(!ok && err.contains("failures"), "a refused simulation exits non-zero: {err}");
    assert!(out.contains("Stopped early"), "a refused token stops the run at once: {out}");
    let (ok, out, _) = cli(&["check", &url, "--token", "twscim_wrong", "--json"]);
    assert!(!ok, "a failed check exits non-zero");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert!(report["failed"].as_u64().unwrap() > 0);
    let (ok, _, err) = cli(&["simulate", "--idp", "google", "--url", &url, "--token", "t"]);
    assert!(!ok && err.contains("okta-put"), "an unknown IdP lists the known ones: {err}");
}

fn assert_all_pass(r: &CheckReport) {
    let failed: Vec<String> = r
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "{}: {}\n{}",
                c.name,
                c.detail.clone().unwrap_or_default(),
                c.exchange.as_ref().map(|e| e.to_string()).unwrap_or_default()
            )
        })
        .collect();
    assert!(failed.is_empty(), "every check passes on our server:\n{}", failed.join("\n"));
}

/// The checker passes 100% on our server, names every area of the issue, and leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checker_passes_on_our_server() {
    let s = Server::start();
    let before = (s.users().await.len(), s.groups().await.len());
    let r = idp_sim::check(&s.url(), &s.token).await.unwrap();
    assert_all_pass(&r);
    let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
    let listed: Vec<&str> = idp_sim::CHECKS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, listed, "CHECKS lists every check in the order they run");
    for area in ["discovery.", "crud.", "filter.", "paging.", "patch.", "errors.", "auth.", "cleanup"] {
        assert!(r.checks.iter().any(|c| c.name.starts_with(area)), "{area} is checked");
    }
    assert_eq!((s.users().await.len(), s.groups().await.len()), before, "the checker cleans up what it created");
    let events = s.events();
    let ours: Vec<&Value> = events.iter().filter(|e| e["userAgent"] == idp_sim::CHECKER_USER_AGENT).collect();
    assert!(ours.len() > 40, "the checker's requests are in the log");
    assert!(ours.iter().all(|e| e["simulated"] == true), "its requests are marked simulated");
}

/// One behaviour the broken proxy gets wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Breakage {
    /// `"totalResults": "3"` instead of `3`.
    TotalResultsAsString,
    /// `userName eq` matches only the exact case.
    CaseSensitiveUserName,
    /// A path-less replace of `{id, displayName}` also empties the group.
    RenameWipesMembers,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    breakage: Breakage,
    http: reqwest::Client,
}

/// Starts a proxy to `upstream` (the server's origin) that breaks one behaviour; returns its
/// SCIM base URL.
async fn broken(upstream: &str, breakage: Breakage) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Proxy { upstream: upstream.into(), breakage, http: reqwest::Client::new() };
    let app = axum::Router::new().fallback(forward).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/scim/v2")
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let pq = parts.uri.path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_default();
    let mut headers = parts.headers.clone();
    headers.remove("host");
    headers.remove("content-length");
    let send = |method: reqwest::Method, body: Vec<u8>| {
        p.http.request(method, format!("{}{pq}", p.upstream)).headers(headers.clone()).body(body).send()
    };
    let res = send(parts.method.clone(), body.to_vec()).await.unwrap();
    let status = res.status();
    let content_type = res.headers().get("content-type").cloned();
    let text = res.text().await.unwrap();
    let mut json: Option<Value> = serde_json::from_str(&text).ok();
    let path = parts.uri.path();
    match (p.breakage, &mut json) {
        (Breakage::TotalResultsAsString, Some(v)) if v["totalResults"].is_u64() => {
            v["totalResults"] = json!(v["totalResults"].to_string());
        }
        (Breakage::CaseSensitiveUserName, Some(v)) if path.ends_with("/Users") => {
            let url = reqwest::Url::parse(&format!("http://x{pq}")).unwrap();
            let filter = url.query_pairs().find(|(k, _)| k == "filter").map(|(_, f)| f.to_string());
            if let Some(name) =
                filter.as_deref().and_then(|f| f.strip_prefix("userName eq \"")).map(|n| n.trim_end_matches('"'))
            {
                let kept: Vec<Value> = v["Resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|u| u["userName"] == json!(name))
                    .cloned()
                    .collect();
                v["totalResults"] = json!(kept.len());
                v["itemsPerPage"] = json!(kept.len());
                v["Resources"] = json!(kept);
            }
        }
        (Breakage::RenameWipesMembers, _)
            if parts.method == "PATCH" && path.contains("/Groups/") && status.is_success() =>
        {
            let ops: Value = serde_json::from_slice(&body).unwrap();
            let rename = ops["Operations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o.get("path").is_none() && o["value"].get("displayName").is_some());
            if rename {
                let wipe = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[]}]});
                let res = send(reqwest::Method::PATCH, wipe.to_string().into_bytes()).await.unwrap();
                assert!(res.status().is_success(), "the wipe itself works");
            }
        }
        _ => {}
    }
    let mut out = Response::builder().status(status);
    if let Some(ct) = content_type {
        out = out.header("content-type", ct);
    }
    out.body(Body::from(json.map(|v| v.to_string()).unwrap_or(text))).unwrap()
}

/// Each broken variant fails exactly the checks that name its bug, and every other check passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checker_fails_exactly_the_broken_behaviour() {
    let s = Server::start();
    let cases = [
        (Breakage::TotalResultsAsString, vec!["paging.integers"]),
        (Breakage::CaseSensitiveUserName, vec!["filter.username-case-insensitive"]),
        (Breakage::RenameWipesMembers, vec!["patch.okta-rename-keeps-members", "patch.okta-membership-change"]),
    ];
    for (breakage, expected) in cases {
        let url = broken(&s.server.base, breakage).await;
        let r = idp_sim::check(&url, &s.token).await.unwrap();
        assert_eq!(r.failed_names(), expected, "{breakage:?} fails exactly its checks");
        for c in r.checks.iter().filter(|c| !c.passed) {
            assert!(c.detail.is_some() && c.exchange.is_some(), "{}: a failure shows why and the exchange", c.name);
        }
    }
    // The rename that wipes members, shown with the request that did it.
    let url = broken(&s.server.base, Breakage::RenameWipesMembers).await;
    let r = idp_sim::check(&url, &s.token).await.unwrap();
    let c = r.checks.iter().find(|c| c.name == "patch.okta-rename-keeps-members").unwrap();
    assert!(c.detail.as_deref().unwrap().contains("members were lost"), "{:?}", c.detail);

    // The CLI exits non-zero and names the failed check.
    let url = broken(&s.server.base, Breakage::CaseSensitiveUserName).await;
    let (ok, out, err) = tokio::task::spawn_blocking(move || cli(&["check", &url, "--token", &s.token])).await.unwrap();
    assert!(!ok, "a failed check exits non-zero");
    assert!(out.contains("FAIL  filter.username-case-insensitive"), "{out}");
    assert!(err.contains("1 of 29 checks failed"), "{err}");
}

/// The simulator's read-back catches a server that wipes members on Okta's rename, and Entra's
/// test connection catches a stringly totalResults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_and_test_connection_catch_broken_servers() {
    let s = Server::start();
    let url = broken(&s.server.base, Breakage::RenameWipesMembers).await;
    let options = SimOptions { users: 10, groups: 2, ..Default::default() };
    let r = idp_sim::simulate(Profile::Okta, &url, &s.token, options, |_, _| {}).await.unwrap();
    assert!(!r.ok(), "emptied groups are found");
    // Once a rename has emptied a group, Okta's remove by filter finds nothing (400) and the
    // read-back shows the emptied groups; no user is affected.
    let steps: Vec<&str> = r.failures.iter().map(|f| f.step.as_str()).collect();
    assert!(steps.iter().any(|s| s.starts_with("Verify Group")), "{}", failures(&r));
    assert!(steps.iter().all(|s| s.starts_with("Verify Group") || s.starts_with("Move ")), "{}", failures(&r));

    let ok = idp_sim::test_connection(&s.url(), &s.token).await.unwrap();
    assert!(ok.ok && ok.certificate.is_none(), "{ok:?}");
    let url = broken(&s.server.base, Breakage::TotalResultsAsString).await;
    let r = idp_sim::test_connection(&url, &s.token).await.unwrap();
    assert!(!r.ok && r.message.contains("JSON integer"), "{}", r.message);
    let started = std::time::Instant::now();
    let r = idp_sim::check("http://127.0.0.1:1/scim/v2", &s.token).await.unwrap();
    let passed: Vec<&str> = r.checks.iter().filter(|c| c.passed).map(|c| c.name.as_str()).collect();
    assert_eq!(passed, vec!["cleanup"], "nothing but the (empty) cleanup passes where nothing listens");
    assert!(started.elapsed().as_secs() < 5, "a dead endpoint costs one failed connection, not one per check");
    let r = idp_sim::test_connection("http://127.0.0.1:1/scim/v2", &s.token).await.unwrap();
    assert!(!r.ok && r.exchange.status.is_none(), "nothing listens on port 1: {}", r.message);
}

/// Test connection over https to the real server with a self-signed certificate: the handshake
/// is refused, and the report still shows the certificate's subject, names and expiry, marked
/// untrusted, so the admin sees what the server presents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_shows_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scim.db");
    let (ok, token, err) = cli(&["token", "create", "--db", db.to_str().unwrap()]);
    assert!(ok, "{err}");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let port = e2e::free_port();
    let mut child =
        std::process::Command::new(e2e::binary("talkwriter-scim", "talkwriter-scim", "TALKWRITER_SCIM_BIN"))
            .args(["serve", "--db", db.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
            .args(["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    assert!(e2e::wait_for_port(&format!("127.0.0.1:{port}"), std::time::Duration::from_secs(20)));
    let r = idp_sim::test_connection(&format!("https://localhost:{port}/scim/v2"), token.trim()).await.unwrap();
    e2e::terminate(&mut child);
    assert!(!r.ok && r.message.contains("not trusted"), "a self-signed certificate is refused: {}", r.message);
    let c = r.certificate.expect("the certificate is read even though it is not trusted");
    assert!(!c.trusted);
    assert!(c.subject.contains("rcgen"), "rcgen's subject: {}", c.subject);
    assert_eq!(c.dns_names, vec!["localhost".to_string()]);
    assert!(c.not_before < c.not_after && c.days_left > 0, "{c:?}");
}
