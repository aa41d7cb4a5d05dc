//! Reliability over real HTTP against the real binary: races that must resolve the same way
//! every time, a SIGKILL in the middle of a write storm, online backup and restore, and the
//! provisioning switch holding under a storm of writes.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Setup, client, dump_store, events_after, integrity, max_event_id, patch, scalar_i64, send, user};
use e2e::{ScimServer, cli};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How many times each race is run: a race that holds only sometimes must fail here.
const ROUNDS: usize = 3;

/// 64 parallel PATCHes, each adding a different user to one group, lose no member.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_member_adds_lose_no_member() {
    let s = Setup::start();
    for round in 0..ROUNDS {
        let mut ids = vec![];
        for i in 0..64 {
            let (st, u) = s.send(Method::POST, "/Users", Some(&user(&format!("m{round}-{i}")))).await;
            assert_eq!(st, StatusCode::CREATED, "{u}");
            ids.push(u["id"].as_str().unwrap().to_string());
        }
        let (_, g) = s.send(Method::POST, "/Groups", Some(&common::group(&format!("race-{round}")))).await;
        let gid = g["id"].as_str().unwrap().to_string();
        let tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (http, base, token, gid) = (s.http.clone(), s.server.base.clone(), s.token.clone(), gid.clone());
                let body = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
                tokio::spawn(async move {
                    send(&http, &base, &token, Method::PATCH, &format!("/Groups/{gid}"), Some(&body)).await
                })
            })
            .collect();
        for t in tasks {
            let (st, body) = t.await.unwrap();
            assert_eq!(st, StatusCode::NO_CONTENT, "every add is acknowledged: {body}");
        }
        let (_, g) = s.send(Method::GET, &format!("/Groups/{gid}"), None).await;
        let mut members: Vec<String> =
            g["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_string()).collect();
        members.sort();
        ids.sort();
        assert_eq!(members, ids, "round {round}: all 64 acknowledged adds are members");
        assert_eq!(g["meta"]["version"], json!("W/\"65\""), "one version per add, none lost: {}", g["meta"]);
    }
}

/// Parallel creates of one userName (in different letter cases): exactly one 201, the rest 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_creates_of_one_user_name_give_one_201() {
    let s = Setup::start();
    for round in 0..ROUNDS {
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let (http, base, token) = (s.http.clone(), s.server.base.clone(), s.token.clone());
                let name =
                    if i % 2 == 0 { format!("dup{round}@example.com") } else { format!("DUP{round}@Example.com") };
                tokio::spawn(
                    async move { send(&http, &base, &token, Method::POST, "/Users", Some(&user(&name))).await },
                )
            })
            .collect();
        let mut statuses = HashMap::new();
        for t in tasks {
            let (st, body) = t.await.unwrap();
            if st == StatusCode::CONFLICT {
                assert_eq!(body["scimType"], "uniqueness", "{body}");
            }
            *statuses.entry(st.as_u16()).or_insert(0) += 1;
        }
        assert_eq!(statuses, HashMap::from([(201, 1), (409, 31)]), "round {round}");
        let n =
            scalar_i64(&s.db, &format!("SELECT COUNT(*) FROM users WHERE user_name_key = 'dup{round}@example.com'"))
                .await;
        assert_eq!(n, 1, "one row");
    }
}

/// Parallel PUTs carrying the same If-Match: one wins, the rest get 412, and the stored
/// resource is the winner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_puts_with_one_if_match_have_one_winner() {
    let s = Setup::start();
    let (_, u) = s.send(Method::POST, "/Users", Some(&user("put-race"))).await;
    let id = u["id"].as_str().unwrap().to_string();
    for round in 0..ROUNDS {
        let etag =
            s.http.get(s.url(&format!("/Users/{id}"))).bearer_auth(&s.token).send().await.unwrap().headers()["etag"]
                .to_str()
                .unwrap()
                .to_string();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (http, url, token, etag) =
                    (s.http.clone(), s.url(&format!("/Users/{id}")), s.token.clone(), etag.clone());
                let mut body = user("put-race");
                body["title"] = json!(format!("r{round}-writer-{i}"));
                tokio::spawn(async move {
                    let res = http
                        .put(url)
                        .bearer_auth(token)
                        .header("content-type", "application/scim+json")
                        .header("if-match", etag)
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap();
                    (res.status().as_u16(), i)
                })
            })
            .collect();
        let mut winners = vec![];
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                (200, i) => winners.push(i),
                (412, _) => refused += 1,
                (other, _) => panic!("a PUT answered {other}"),
            }
        }
        assert_eq!((winners.len(), refused), (1, 15), "round {round}: one winner, fifteen 412s");
        let (_, now) = s.send(Method::GET, &format!("/Users/{id}"), None).await;
        assert_eq!(now["title"], json!(format!("r{round}-writer-{}", winners[0])), "the winner's write is stored");
    }
}

/// Parallel PATCHes that add a user to groups, and a DELETE of that user, leave no membership
/// row pointing at a user that no longer exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_patch_and_delete_leave_no_orphan_membership() {
    let s = Setup::start();
    let mut groups = vec![];
    for i in 0..8 {
        let (_, g) = s.send(Method::POST, "/Groups", Some(&common::group(&format!("g{i}")))).await;
        groups.push(g["id"].as_str().unwrap().to_string());
    }
    for round in 0..ROUNDS * 3 {
        let (_, u) = s.send(Method::POST, "/Users", Some(&user(&format!("doomed-{round}")))).await;
        let uid = u["id"].as_str().unwrap().to_string();
        let mut tasks = vec![];
        for (i, gid) in groups.iter().enumerate() {
            let (http, base, token) = (s.http.clone(), s.server.base.clone(), s.token.clone());
            let (gid, uid) = (gid.clone(), uid.clone());
            tasks.push(tokio::spawn(async move {
                if i == 4 {
                    send(&http, &base, &token, Method::DELETE, &format!("/Users/{uid}"), None).await.0
                } else if i % 2 == 0 {
                    let b = patch(json!([{"op": "replace", "path": "title", "value": format!("t{i}")}]));
                    send(&http, &base, &token, Method::PATCH, &format!("/Users/{uid}"), Some(&b)).await.0
                } else {
                    let b = patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
                    send(&http, &base, &token, Method::PATCH, &format!("/Groups/{gid}"), Some(&b)).await.0
                }
            }));
        }
        for t in tasks {
            let st = t.await.unwrap().as_u16();
            // Before the delete: 200/204; after it: 404 (user PATCH) or 400 (the member no longer exists).
            assert!(matches!(st, 200 | 204 | 400 | 404), "round {round}: unexpected {st}");
        }
        let orphans = scalar_i64(
            &s.db,
            "SELECT COUNT(*) FROM group_members m LEFT JOIN users u ON u.id = m.member_id
             LEFT JOIN groups g ON g.id = m.member_id WHERE u.id IS NULL AND g.id IS NULL",
        )
        .await;
        assert_eq!(orphans, 0, "round {round}: no membership outlives its user");
        let (st, _) = s.send(Method::GET, &format!("/Users/{uid}"), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "the delete happened");
    }
}

/// What one storm worker saw acknowledged.
#[derive(Default, Debug)]
struct Acked {
    /// user id → the last title a 200 acknowledged (None: only the create).
    users: HashMap<String, Option<u32>>,
    /// group id → members acknowledged.
    groups: HashMap<String, Vec<String>>,
}

/// One worker: creates users one at a time, PATCHes each a few times, adds each to its group.
async fn storm_worker(http: reqwest::Client, base: String, token: String, w: usize, acked: Arc<Mutex<Acked>>) {
    let group = common::group(&format!("storm-{w}"));
    let Ok((StatusCode::CREATED, g)) =
        tokio::time::timeout(Duration::from_secs(5), send(&http, &base, &token, Method::POST, "/Groups", Some(&group)))
            .await
    else {
        return;
    };
    let gid = g["id"].as_str().unwrap().to_string();
    acked.lock().unwrap().groups.insert(gid.clone(), vec![]);
    for i in 0.. {
        let body = user(&format!("storm-{w}-{i}"));
        let (st, u) = match try_send(&http, &base, &token, Method::POST, "/Users", &body).await {
            Some(r) => r,
            None => return,
        };
        assert_eq!(st, StatusCode::CREATED, "{u}");
        let uid = u["id"].as_str().unwrap().to_string();
        acked.lock().unwrap().users.insert(uid.clone(), None);
        for t in 1..=3u32 {
            let b = patch(json!([{"op": "replace", "path": "title", "value": format!("title-{t}")}]));
            match try_send(&http, &base, &token, Method::PATCH, &format!("/Users/{uid}"), &b).await {
                Some((StatusCode::OK, _)) => *acked.lock().unwrap().users.get_mut(&uid).unwrap() = Some(t),
                Some((st, b)) => panic!("PATCH answered {st}: {b}"),
                None => return,
            }
        }
        let b = patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
        match try_send(&http, &base, &token, Method::PATCH, &format!("/Groups/{gid}"), &b).await {
            Some((StatusCode::NO_CONTENT, _)) => acked.lock().unwrap().groups.get_mut(&gid).unwrap().push(uid),
            Some((st, b)) => panic!("member add answered {st}: {b}"),
            None => return,
        }
    }
}

/// A request that may die with the server: None when there was no answer.
async fn try_send(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: &Value,
) -> Option<(StatusCode, Value)> {
    let res = http
        .request(method, format!("{base}/scim/v2{path}"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .ok()?;
    let st = res.status();
    let text = res.text().await.ok()?;
    Some((st, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// SIGKILL in the middle of a create/PATCH storm: after a restart every acknowledged change is
/// there, the database passes `PRAGMA integrity_check`, and the sync log agrees with the data
/// (one event per committed write, since each write and its event share a transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_storm_loses_no_acknowledged_change() {
    let s = Setup::start();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (http, base, token, acked) = (client(), s.server.base.clone(), s.token.clone(), acked.clone());
            tokio::spawn(storm_worker(http, base, token, w, acked))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let Setup { dir: _dir, db, token, mut server, http } = s;
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.users.len() >= 8, "the storm got going before the kill: {} users", acked.users.len());
    let patches = acked.users.values().flatten().count();
    println!("killed after {} acknowledged creates and {patches} users with acknowledged PATCHes", acked.users.len());

    assert_eq!(integrity(&db).await, "ok", "PRAGMA integrity_check after SIGKILL");
    let server = ScimServer::start(&db);
    let base = server.base.clone();
    for (id, title) in &acked.users {
        let (st, u) = send(&http, &base, &token, Method::GET, &format!("/Users/{id}"), None).await;
        assert_eq!(st, StatusCode::OK, "an acknowledged create survives: {id}");
        if let Some(t) = title {
            // The write after the last acknowledged one may have committed without its answer arriving.
            let stored: u32 = u["title"].as_str().unwrap().trim_start_matches("title-").parse().unwrap();
            assert!(stored == *t || stored == t + 1, "acknowledged title-{t} is there (found title-{stored})");
        }
    }
    for (gid, members) in &acked.groups {
        let (_, g) = send(&http, &base, &token, Method::GET, &format!("/Groups/{gid}"), None).await;
        let stored: Vec<&str> = g["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
        for m in members {
            assert!(stored.contains(&m.as_str()), "acknowledged member {m} of {gid} survives");
        }
    }
    // The sync log agrees with the data: every stored write has exactly its event, and no
    // event claims a write that is not stored.
    let users = scalar_i64(&db, "SELECT COUNT(*) FROM users").await;
    let creates = scalar_i64(&db, "SELECT COUNT(*) FROM events WHERE operation = 'Create User' AND status = 201").await;
    assert_eq!(users, creates, "one Create User event per stored user");
    // A user's version also moves when it joins a group (its `groups` change), in the group's
    // write; the storm never removes a member.
    let unlogged = scalar_i64(
        &db,
        "SELECT COUNT(*) FROM users u WHERE u.version - 1 != (SELECT COUNT(*) FROM events e
         WHERE e.target_id = u.id AND e.method = 'PATCH' AND e.status = 200)
         + (SELECT COUNT(*) FROM group_members m WHERE m.member_id = u.id)",
    )
    .await;
    assert_eq!(unlogged, 0, "each user's version counts its logged PATCHes and the groups it joined");
    let group_mismatch = scalar_i64(
        &db,
        "SELECT COUNT(*) FROM groups g WHERE g.version - 1 != (SELECT COUNT(*) FROM events e
         WHERE e.target_id = g.id AND e.method = 'PATCH' AND e.status = 204)
         OR (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) != g.version - 1",
    )
    .await;
    assert_eq!(group_mismatch, 0, "each group's members match its logged member adds");
    let phantom = scalar_i64(
        &db,
        "SELECT COUNT(*) FROM events e WHERE e.operation = 'Create User' AND e.status = 201
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.target_id)",
    )
    .await;
    assert_eq!(phantom, 0, "no logged create without its user");
    drop(server);
}

/// `talkwriter-scim backup` while the server takes writes gives a consistent, checked, private
/// copy; restoring it (copy over the database file, as the README says) serves what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn online_backup_while_serving_and_restore() {
    let s = Setup::start();
    for i in 0..20 {
        s.send(Method::POST, "/Users", Some(&user(&format!("before-{i}")))).await;
    }
    let (http, base, token) = (s.http.clone(), s.server.base.clone(), s.token.clone());
    let writer = tokio::spawn(async move {
        for i in 0..200 {
            send(&http, &base, &token, Method::POST, "/Users", Some(&user(&format!("during-{i}")))).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = s.dir.path().join("backup.db");
    let (ok, stdout, stderr) = cli(&["backup", "--db", s.db.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(ok, "backup while serving: {stderr}");
    assert!(stdout.contains("integrity check ok"), "{stdout}");
    writer.await.unwrap();

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup holds what the database holds: owner-only");
    let (again, _, err) = cli(&["backup", "--db", s.db.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(!again && err.contains("already exists"), "a backup never overwrites a file: {err}");
    assert_eq!(integrity(&out).await, "ok");
    let in_backup = scalar_i64(&out, "SELECT COUNT(*) FROM users").await;
    assert!((20..=220).contains(&in_backup), "a consistent snapshot: {in_backup} users");
    let creates =
        scalar_i64(&out, "SELECT COUNT(*) FROM events WHERE operation = 'Create User' AND status = 201").await;
    assert_eq!(creates, in_backup, "the snapshot's sync log agrees with its data");

    // Restore: stop, put the backup in place of the database (and drop the old WAL), start.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = restored_dir.path().join("scim.db");
    std::fs::copy(&out, &restored).unwrap();
    let server = ScimServer::start(&restored);
    let (st, list) = send(&client(), &server.base, &s.token, Method::GET, "/Users?count=1000", None).await;
    assert_eq!(st, StatusCode::OK, "the restored database accepts the same token");
    assert_eq!(list["totalResults"], json!(in_backup));
    let names: Vec<&str> =
        list["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
    assert!(
        (0..20).all(|i| names.contains(&format!("before-{i}").as_str())),
        "everything acknowledged before the backup"
    );
}

/// With provisioning off, a storm of every kind of write changes zero rows: each is refused
/// with 403 and logged as refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provisioning_off_refuses_a_write_storm() {
    let s = Setup::start();
    let (_, ann) = s.send(Method::POST, "/Users", Some(&user("ann"))).await;
    let (_, g) = s.send(Method::POST, "/Groups", Some(&common::group("staff"))).await;
    let (uid, gid) = (ann["id"].as_str().unwrap().to_string(), g["id"].as_str().unwrap().to_string());
    let (ok, _, err) = cli(&["provisioning", "off", "--db", s.db.to_str().unwrap()]);
    assert!(ok, "{err}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = dump_store(&s.db).await;
    let first = max_event_id(&s.db).await;

    let writes: Vec<(Method, String, Option<Value>)> = (0..40)
        .flat_map(|i| {
            vec![
                (Method::POST, "/Users".to_string(), Some(user(&format!("new-{i}")))),
                (Method::PUT, format!("/Users/{uid}"), Some(user(&format!("renamed-{i}")))),
                (
                    Method::PATCH,
                    format!("/Users/{uid}"),
                    Some(patch(json!([{"op": "replace", "path": "active", "value": false}]))),
                ),
                (Method::POST, "/Groups".to_string(), Some(common::group(&format!("g-{i}")))),
                (
                    Method::PATCH,
                    format!("/Groups/{gid}"),
                    Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]))),
                ),
                (Method::DELETE, if i % 2 == 0 { format!("/Users/{uid}") } else { format!("/Groups/{gid}") }, None),
            ]
        })
        .collect();
    let n = writes.len();
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|(m, p, b)| {
            let (http, base, token) = (s.http.clone(), s.server.base.clone(), s.token.clone());
            tokio::spawn(async move { send(&http, &base, &token, m, &p, b.as_ref()).await })
        })
        .collect();
    for t in tasks {
        let (st, body) = t.await.unwrap();
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    }
    assert_eq!(dump_store(&s.db).await, before, "provisioning off: zero rows changed");
    let events = events_after(&s.db, first, n).await;
    assert_eq!(events.len(), n, "every refused write is in the sync log");
    assert!(events.iter().all(|e| e.3 == 403), "all logged as 403");
}
