//! Two `talkwriter-scim serve` instances on one PostgreSQL database, as behind a load balancer.
//! Concurrent IdP traffic split across both keeps every invariant (no lost write, no duplicate
//! userName whatever the case, every member added, one winner per ETag), and what an admin
//! does through the CLI (revoking a token, turning provisioning off) reaches both instances at
//! once; the sync log written by one is read live from the shared database.
//!
//! Runs only when `TALKWRITER_TEST_DATABASE_URL` names a PostgreSQL server (`tests/all.sh`
//! starts one with `tests/postgres.sh`); otherwise it says it was skipped and passes.
//!
//! Every check runs even when an earlier one fails, and the test ends with a PASS/FAIL line per
//! check, so a partial failure shows what still holds.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use e2e::{binary, cli, free_port, terminate, wait_for_port};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tokio::task::JoinSet;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A password put in the database URL: the test cluster trusts local connections, so it is
/// never checked, but it must never be printed either.
const SECRET: &str = "pw-never-printed-7f3a9c";

/// One `talkwriter-scim serve --db URL` on a free port, output captured to files.
struct Instance {
    child: Child,
    base: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Instance {
    fn start(db_url: &str, dir: &Path, name: &str) -> Instance {
        let bin = binary("talkwriter-scim", "talkwriter-scim", "TALKWRITER_SCIM_BIN");
        let addr = format!("127.0.0.1:{}", free_port());
        let stdout = dir.join(format!("serve-{name}.out"));
        let stderr = dir.join(format!("serve-{name}.err"));
        let child = Command::new(bin)
            .args(["serve", "--db", db_url, "--listen", &addr])
            .env_remove("TALKWRITER_SCIM_DB")
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .expect("talkwriter-scim starts");
        assert!(
            wait_for_port(&addr, Duration::from_secs(30)),
            "instance {name} listens on {addr}; its log:\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        Instance { child, base: format!("http://{addr}"), stdout, stderr }
    }

    /// Everything the instance printed so far.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
            + &std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The answer to one request: status (0 when the request got no answer), body, ETag header.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    body: Value,
    etag: Option<String>,
}

#[derive(Clone)]
struct Idp {
    http: reqwest::Client,
    token: String,
}

impl Idp {
    async fn send(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{base}/scim/v2{path}"))
            .bearer_auth(&self.token)
            .header("user-agent", "Okta SCIM Client 1.0.0");
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        if let Some(v) = if_match {
            req = req.header("if-match", v);
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let etag = res.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
                let text = res.text().await.unwrap_or_default();
                let body = if text.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                };
                Reply { status, body, etag }
            }
            Err(e) => Reply { status: 0, body: Value::String(e.to_string()), etag: None },
        }
    }
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER], "userName": name, "name": {"givenName": "G", "familyName": "F"},
           "emails": [{"primary": true, "value": name, "type": "work"}], "active": true})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// The check results, printed together at the end.
struct Checks(Vec<(String, Result<(), String>)>, Instant);

impl Checks {
    fn new() -> Checks {
        Checks(vec![], Instant::now())
    }

    fn record(&mut self, name: &str, r: Result<(), String>) {
        let at = self.1.elapsed().as_secs_f64();
        match &r {
            Ok(()) => eprintln!("{at:6.1} s  PASS  {name}"),
            Err(e) => eprintln!("{at:6.1} s  FAIL  {name}: {e}"),
        }
        self.0.push((name.to_string(), r));
    }

    fn finish(self) {
        eprintln!("\ntwo instances on PostgreSQL:");
        for (name, r) in &self.0 {
            match r {
                Ok(()) => eprintln!("  PASS  {name}"),
                Err(e) => eprintln!("  FAIL  {name}: {}", e.chars().take(400).collect::<String>()),
            }
        }
        let failed: Vec<&str> = self.0.iter().filter(|(_, r)| r.is_err()).map(|(n, _)| n.as_str()).collect();
        assert!(failed.is_empty(), "{} of {} checks failed: {}", failed.len(), self.0.len(), failed.join(", "));
    }
}

/// `url` with [`SECRET`] as its password (the user stays as it was).
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    match rest.split_once('@') {
        Some((user, host)) if !user.contains(':') => format!("{scheme}://{user}:{SECRET}@{host}"),
        Some(_) => url.to_string(),
        None => format!("{scheme}://postgres:{SECRET}@{rest}"),
    }
}

/// Sends `probe` once to each instance and expects `want` from both. Nothing shared is cached
/// in an instance, so a change another process committed applies at the very next request:
/// no waiting, and no timing in the test.
async fn both_answer(
    idp: &Idp,
    bases: [&str; 2],
    want: u16,
    probe: impl Fn(usize) -> (Method, String, Option<Value>),
) -> Result<(), String> {
    let mut got = [0u16; 2];
    for (i, base) in bases.iter().enumerate() {
        let (method, path, body) = probe(i);
        got[i] = idp.send(base, method, &path, body.as_ref(), None).await.status;
    }
    if got == [want, want] {
        Ok(())
    } else {
        Err(format!(
            "wanted {want} from both at the next request: instance A answered {}, B answered {}",
            got[0], got[1]
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_instances_share_one_postgresql_database() {
    let Some(server) = provisioning::testing::postgres_url() else {
        eprintln!("skipped: TALKWRITER_TEST_DATABASE_URL names no PostgreSQL server (tests/all.sh starts one)");
        return;
    };
    let plain_url = provisioning::testing::fresh_postgres_database(&server).await.expect("a fresh database");
    let db_name = plain_url.rsplit('/').next().unwrap().to_string();
    let url = with_password(&plain_url);
    let dir = tempfile::tempdir().unwrap();
    let mut checks = Checks::new();

    // The migration command, then the IdP's token, both through the CLI.
    let (ok, out, err) = cli(&["migrate", "--db", &url]);
    assert!(ok, "migrate: {err}");
    checks.record(
        "migrate says the schema is up to date, password masked",
        if out.contains("up to date") && !(out.clone() + &err).contains(SECRET) && out.contains(":***@") {
            Ok(())
        } else {
            Err(format!("stdout {out:?}, stderr {err:?}"))
        },
    );
    let (ok, token, err) = cli(&["token", "create", "--db", &url, "--label", "IdP through the load balancer"]);
    assert!(ok, "token create: {err}");
    let token = token.trim().to_string();
    let (ok, spare, err) = cli(&["token", "create", "--db", &url, "--label", "spare"]);
    assert!(ok, "token create: {err}");
    let spare = spare.trim().to_string();

    let a = Instance::start(&url, dir.path(), "a");
    let b = Instance::start(&url, dir.path(), "b");
    let bases = [a.base.clone(), b.base.clone()];
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).timeout(Duration::from_secs(60)).build().unwrap();
    let idp = Idp { http: http.clone(), token: token.clone() };

    // The load balancer's health check.
    let mut health = vec![];
    for base in &bases {
        health.push(http.get(format!("{base}/health")).send().await.map(|r| r.status()).ok());
    }
    checks.record(
        "GET /health is 200 on both",
        if health.iter().all(|s| *s == Some(StatusCode::OK)) { Ok(()) } else { Err(format!("{health:?}")) },
    );

    // 8 IdP workers x 25 users, each request to the other instance than the one before.
    let mut set = JoinSet::new();
    for t in 0..8 {
        let (idp, bases) = (idp.clone(), bases.clone());
        set.spawn(async move {
            let mut out = vec![];
            for i in 0..25 {
                let name = format!("worker{t}.user{i}@example.com");
                let r = idp.send(&bases[(t + i) % 2], Method::POST, "/Users", Some(&user(&name)), None).await;
                out.push((name, r));
            }
            out
        });
    }
    let created: Vec<(String, Reply)> = set.join_all().await.into_iter().flatten().collect();
    let mut acknowledged: Vec<(String, String)> = created
        .iter()
        .filter(|(_, r)| r.status == 201)
        .filter_map(|(n, r)| r.body["id"].as_str().map(|id| (n.clone(), id.to_string())))
        .collect();
    let refused: Vec<String> =
        created.iter().filter(|(_, r)| r.status != 201).map(|(n, r)| format!("{n}: {} {}", r.status, r.body)).collect();
    checks.record(
        "200 concurrent creates across both instances are all 201",
        if refused.is_empty() {
            Ok(())
        } else {
            Err(format!("{} not created, e.g. {}", refused.len(), refused.first().unwrap()))
        },
    );

    // The same userName (in different cases) sent to both instances at once: one wins.
    let mut race_problems = vec![];
    for round in 0..15 {
        let mut set = JoinSet::new();
        for k in 0..6 {
            let name = if k % 2 == 0 { format!("race{round}@example.com") } else { format!("Race{round}@EXAMPLE.com") };
            let (idp, base) = (idp.clone(), bases[k % 2].clone());
            set.spawn(async move {
                let r = idp.send(&base, Method::POST, "/Users", Some(&user(&name)), None).await;
                (name, r)
            });
        }
        let replies = set.join_all().await;
        let wins: Vec<&(String, Reply)> = replies.iter().filter(|(_, r)| r.status == 201).collect();
        let conflicts = replies.iter().filter(|(_, r)| r.status == 409 && r.body["scimType"] == "uniqueness").count();
        if wins.len() != 1 || conflicts != 5 {
            let statuses: Vec<u16> = replies.iter().map(|(_, r)| r.status).collect();
            race_problems.push(format!("round {round}: {statuses:?}"));
        }
        for (name, r) in wins {
            if let Some(id) = r.body["id"].as_str() {
                acknowledged.push((name.clone(), id.to_string()));
            }
        }
    }
    checks.record(
        "one userName sent 6 times to both instances at once: one 201, five 409 uniqueness (15 rounds)",
        if race_problems.is_empty() { Ok(()) } else { Err(race_problems.join("; ")) },
    );

    // Member adds to one group from both instances at once: every one lands.
    let group = idp
        .send(&bases[0], Method::POST, "/Groups", Some(&json!({"schemas": [GROUP], "displayName": "Everyone"})), None)
        .await;
    let group_id = group.body["id"].as_str().map(str::to_string);
    let members: Vec<String> = acknowledged.iter().take(40).map(|(_, id)| id.clone()).collect();
    match &group_id {
        None => checks
            .record("concurrent member adds from both instances all land", Err(format!("POST /Groups: {group:?}"))),
        Some(gid) => {
            let mut set = JoinSet::new();
            for (i, m) in members.iter().enumerate() {
                let body = patch(json!([{"op": "add", "path": "members", "value": [{"value": m}]}]));
                let (idp, base, path) = (idp.clone(), bases[i % 2].clone(), format!("/Groups/{gid}"));
                set.spawn(async move { idp.send(&base, Method::PATCH, &path, Some(&body), None).await });
            }
            let bad: Vec<String> = set
                .join_all()
                .await
                .into_iter()
                .filter(|r| r.status != 200 && r.status != 204)
                .map(|r| format!("{} {}", r.status, r.body))
                .collect();
            let mut seen = vec![];
            for base in &bases {
                let r = idp.send(base, Method::GET, &format!("/Groups/{gid}"), None, None).await;
                let ids: HashSet<String> = r.body["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["value"].as_str().map(str::to_string))
                    .collect();
                seen.push(ids);
            }
            let want: HashSet<String> = members.iter().cloned().collect();
            checks.record(
                "40 concurrent member adds to one group from both instances all land",
                if !bad.is_empty() {
                    Err(format!("{} PATCHes failed, e.g. {}", bad.len(), bad[0]))
                } else if seen.iter().any(|s| *s != want) {
                    Err(format!(
                        "members seen by A: {}, by B: {}, expected {}",
                        seen[0].len(),
                        seen[1].len(),
                        want.len()
                    ))
                } else {
                    Ok(())
                },
            );
        }
    }

    // If-Match races: the same version sent to both instances at once; one PATCH wins.
    let mut etag_problems = vec![];
    for (round, (_, id)) in acknowledged.iter().skip(50).take(10).enumerate() {
        let path = format!("/Users/{id}");
        let current = idp.send(&bases[round % 2], Method::GET, &path, None, None).await;
        let Some(version) =
            current.etag.clone().or_else(|| current.body["meta"]["version"].as_str().map(str::to_string))
        else {
            etag_problems.push(format!("round {round}: no version on GET: {} {}", current.status, current.body));
            continue;
        };
        let mut set = JoinSet::new();
        for (i, base) in bases.iter().enumerate() {
            let body = patch(json!([{"op": "replace", "path": "title", "value": format!("title from {i}")}]));
            let (idp, base, path, version) = (idp.clone(), base.clone(), path.clone(), version.clone());
            set.spawn(async move { idp.send(&base, Method::PATCH, &path, Some(&body), Some(&version)).await.status });
        }
        let mut statuses = set.join_all().await;
        statuses.sort();
        if statuses != [200, 412] {
            etag_problems.push(format!("round {round}: {statuses:?}"));
        }
    }
    checks.record(
        "two PATCHes with the same If-Match on the two instances: one 200, one 412 (10 rounds)",
        if etag_problems.is_empty() { Ok(()) } else { Err(etag_problems.join("; ")) },
    );

    // The end state, through both instances and in the database itself.
    let expected = acknowledged.len() as i64;
    let mut totals = vec![];
    for base in &bases {
        let r = idp.send(base, Method::GET, "/Users?count=1", None, None).await;
        totals.push(r.body["totalResults"].as_i64());
    }
    checks.record(
        "both instances list every acknowledged user",
        if totals.iter().all(|t| *t == Some(expected)) {
            Ok(())
        } else {
            Err(format!("totalResults {totals:?}, acknowledged {expected}"))
        },
    );
    let db_state = async {
        let mut conn = PgConnection::connect(&plain_url).await.map_err(|e| e.to_string())?;
        let rows: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut conn).await.map_err(|e| e.to_string())?;
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT lower(user_name)) FROM users")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM users").fetch_all(&mut conn).await.map_err(|e| e.to_string())?;
        let member_rows: i64 = match &group_id {
            Some(g) => sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE group_id = $1")
                .bind(g)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| e.to_string())?,
            None => -1,
        };
        conn.close().await.map_err(|e| e.to_string())?;
        let ids: HashSet<String> = ids.into_iter().collect();
        let lost: Vec<&String> = acknowledged.iter().filter(|(_, id)| !ids.contains(id)).map(|(n, _)| n).collect();
        if !lost.is_empty() {
            return Err(format!("{} acknowledged creates are missing, e.g. {}", lost.len(), lost[0]));
        }
        if rows != expected {
            return Err(format!("{rows} user rows, {expected} acknowledged creates"));
        }
        if keys != rows {
            return Err(format!("{rows} user rows but {keys} distinct userNames (ignoring case)"));
        }
        if group_id.is_some() && member_rows != members.len() as i64 {
            return Err(format!("{member_rows} member rows, {} added", members.len()));
        }
        Ok(())
    };
    checks.record("in the database: no lost write, no duplicate userName, every member row", db_state.await);

    // The live log: `events --follow` reads the shared database, so it shows what instance A
    // wrote (the server has no stream endpoint of its own; the app's live view is in-process).
    let live = async {
        let bin = binary("talkwriter-scim", "talkwriter-scim", "TALKWRITER_SCIM_BIN");
        let mut child = Command::new(bin)
            .args(["events", "--follow", "--json", "--limit", "1", "--operation", "Create User"])
            // Through the environment this time, as a service unit would give it.
            .env("TALKWRITER_SCIM_DB", &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().unwrap();
        let _follower = KillOnDrop(child);
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The newest existing event comes first: the follower is reading.
        rx.recv_timeout(Duration::from_secs(20)).map_err(|_| "events --follow printed nothing".to_string())?;
        let name = "live.follow@example.com";
        let r = idp.send(&bases[0], Method::POST, "/Users", Some(&user(name)), None).await;
        if r.status != 201 {
            return Err(format!("POST on A: {} {}", r.status, r.body));
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                let e: Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
                if e["targetName"] == name {
                    return Ok(());
                }
            }
        }
        Err("the create on A did not show in `events --follow` within 20 s".to_string())
    };
    checks.record(
        "events --follow (another process, woken by LISTEN/NOTIFY) shows a create made on instance A",
        live.await,
    );

    // The endpoint checker (discovery, CRUD, filters, paging, IdP PATCH shapes, errors, auth)
    // against one instance, while the other serves the same data.
    let (ok, out, err) = cli(&["check", &format!("{}/scim/v2", bases[1]), "--token", &token]);
    checks.record(
        "talkwriter-scim check passes against instance B",
        if ok {
            Ok(())
        } else {
            Err(format!("{err}\n{}", out.lines().filter(|l| l.starts_with("FAIL")).collect::<Vec<_>>().join("\n")))
        },
    );

    // Revocation through the CLI reaches both instances at once.
    let (ok, list, err) = cli(&["token", "list", "--db", &url, "--json"]);
    let token_id = list
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|t| t["label"] == "IdP through the load balancer")
        .and_then(|t| t["id"].as_str().map(str::to_string));
    let revocation = match (ok, token_id) {
        (true, Some(id)) => {
            let (ok, _, err) = cli(&["token", "revoke", "--db", &url, &id]);
            if ok {
                let probe = |_| (Method::GET, "/Users?count=1".to_string(), None);
                both_answer(&idp, [&bases[0], &bases[1]], 401, probe).await
            } else {
                Err(format!("token revoke: {err}"))
            }
        }
        _ => Err(format!("token list: {err} {list}")),
    };
    checks
        .record("a token revoked through the CLI is refused (401) by both instances at their next request", revocation);

    // Provisioning turned off through the CLI: both refuse writes at once, and on again.
    let admin = Idp { http: http.clone(), token: spare };
    let switch = async {
        let (ok, _, err) = cli(&["provisioning", "off", "--db", &url]);
        if !ok {
            return Err(format!("provisioning off: {err}"));
        }
        let probe = |n| (Method::POST, "/Users".to_string(), Some(user(&format!("while.off.{n}@example.com"))));
        both_answer(&admin, [&bases[0], &bases[1]], 403, probe).await?;
        let (ok, _, err) = cli(&["provisioning", "on", "--db", &url]);
        if !ok {
            return Err(format!("provisioning on: {err}"));
        }
        let probe = |n| (Method::POST, "/Users".to_string(), Some(user(&format!("back.on.{n}@example.com"))));
        both_answer(&admin, [&bases[0], &bases[1]], 201, probe).await?;
        Ok(())
    };
    checks.record(
        "provisioning off through the CLI: both instances refuse writes at their next request (and on again)",
        switch.await,
    );

    // Both stop cleanly on SIGTERM, and nothing either printed holds the password.
    let (mut a, mut b) = (a, b);
    let stopped = [terminate(&mut a.child), terminate(&mut b.child)];
    let output = a.output() + &b.output();
    checks.record(
        "both stop cleanly on SIGTERM",
        if stopped.iter().all(|s| s.success()) { Ok(()) } else { Err(format!("{stopped:?}\n{output}")) },
    );
    checks.record(
        "the database password is never printed (serve banner and logs show it masked)",
        if output.contains(SECRET) {
            Err("the password appears in the instances' output".to_string())
        } else if !output.contains(":***@") {
            Err(format!("the serve log does not name the database (masked): {output}"))
        } else {
            Ok(())
        },
    );

    // The database goes with the test when everything held; a failure leaves it to look at.
    if checks.0.iter().all(|(_, r)| r.is_ok()) {
        if let Ok(mut admin) = PgConnection::connect(&server).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")).execute(&mut admin).await;
            let _ = admin.close().await;
        }
    } else {
        eprintln!("the database is left for inspection: {plain_url}");
    }
    checks.finish();
}
