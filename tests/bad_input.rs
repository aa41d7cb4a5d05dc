//! The bad-input corpus (tests/data/bad_input.json): malformed and hostile requests sent over
//! real HTTP to the real binary. Each must get its expected status and `scimType` in a SCIM
//! error body, and together they must leave the store byte-for-byte as it was, with every
//! refusal in the sync log and no write logged as a success.

mod common;

use common::{GROUP, Setup, dump_store, events_after, max_event_id, user};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

/// Expands `{{repeat:N:TEXT}}` (TEXT runs to the first `}}`), `{{rbraces:N}}` (N `}`) and
/// `{{bytes:HEX}}` in a corpus string into bytes.
fn expand(s: &str) -> Vec<u8> {
    let mut out = vec![];
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let after = &rest[i + 2..];
        let end = after.find("}}").expect("a closed {{...}}");
        let spec = &after[..end];
        if let Some(n) = spec.strip_prefix("rbraces:") {
            out.extend("}".repeat(n.parse().expect("a count")).as_bytes());
        } else if let Some(r) = spec.strip_prefix("repeat:") {
            let (n, text) = r.split_once(':').expect("repeat:N:TEXT");
            out.extend(text.as_bytes().repeat(n.parse().expect("a count")));
        } else if let Some(hex) = spec.strip_prefix("bytes:") {
            out.extend((0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")));
        } else {
            panic!("unknown expansion {spec}");
        }
        rest = &after[end + 2..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

struct Ids {
    user: String,
    user2: String,
    group: String,
    token: String,
}

fn fill(s: &str, ids: &Ids) -> String {
    s.replace("{user}", &ids.user)
        .replace("{user2}", &ids.user2)
        .replace("{group}", &ids.group)
        .replace("{token}", &ids.token)
}

/// Runs one case; returns a description of what went wrong, if anything.
async fn run_case(s: &Setup, ids: &Ids, case: &Value) -> Option<String> {
    let name = case["name"].as_str().unwrap();
    let method = Method::from_bytes(case["method"].as_str().unwrap().as_bytes()).unwrap();
    let path = String::from_utf8(expand(&fill(case["path"].as_str().unwrap(), ids))).unwrap();
    let mut url = reqwest::Url::parse(&s.url(&path)).unwrap();
    if let Some(q) = case["query"].as_object() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in q {
            pairs.append_pair(k, &String::from_utf8_lossy(&expand(&fill(v.as_str().unwrap(), ids))));
        }
    }
    let body: Option<Vec<u8>> = match (&case["body"], &case["json"]) {
        (Value::String(b), _) => Some(expand(&fill(b, ids))),
        (_, Value::Null) => None,
        (_, j) => Some(expand(&fill(&j.to_string(), ids))),
    };
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {}", s.token)).unwrap());
    if body.is_some() {
        headers.insert("content-type", HeaderValue::from_static("application/scim+json"));
    }
    if let Some(h) = case["headers"].as_object() {
        for (k, v) in h {
            let k = HeaderName::from_bytes(k.as_bytes()).unwrap();
            match v.as_str() {
                None => {
                    headers.remove(&k);
                }
                Some(v) => {
                    headers.insert(k, HeaderValue::from_bytes(&expand(&fill(v, ids))).unwrap());
                }
            }
        }
    }
    let mut req = s.http.request(method, url).headers(headers);
    if let Some(b) = body {
        req = req.body(b);
    }
    let res = match req.send().await {
        Ok(r) => r,
        Err(e) => return Some(format!("{name}: no answer: {e}")),
    };
    let status = res.status().as_u16();
    let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let retry_after = res.headers().contains_key("retry-after");
    let text = res.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let want = case["expect"].as_u64().unwrap() as u16;
    if status != want {
        return Some(format!(
            "{name}: status {status}, expected {want}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    if status == 429 && !retry_after {
        return Some(format!("{name}: 429 without Retry-After"));
    }
    if status >= 400 && case["bare"] != json!(true) {
        let is_scim = ctype.starts_with("application/scim+json")
            && body["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
            && body["status"] == json!(status.to_string());
        if !is_scim {
            return Some(format!("{name}: {status} without a SCIM error body ({ctype}): {text}"));
        }
        let want_type = case["scimType"].as_str();
        if body["scimType"].as_str() != want_type {
            return Some(format!(
                "{name}: scimType {:?}, expected {want_type:?}: {}",
                body["scimType"], body["detail"]
            ));
        }
    }
    if let Some(total) = case["total"].as_i64()
        && body["totalResults"] != json!(total)
    {
        return Some(format!("{name}: totalResults {}, expected {total}", body["totalResults"]));
    }
    None
}

/// At least 150 bad requests, each refused as the corpus says; the store is unchanged after
/// all of them, the server still serves, and the sync log holds one refusal per logged case.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bad_input_corpus_is_refused_and_changes_nothing() {
    let corpus: Vec<Value> =
        serde_json::from_str(include_str!("data/bad_input.json")).expect("the corpus is valid JSON");
    assert!(corpus.len() >= 150, "the issue asks for at least 150 cases, the corpus has {}", corpus.len());

    let s = Setup::start();
    let (st, ann) = s.send(Method::POST, "/Users", Some(&user("seed-ann"))).await;
    assert_eq!(st, 201, "{ann}");
    let (_, bob) = s.send(Method::POST, "/Users", Some(&user("seed-bob"))).await;
    let g = json!({"schemas": [GROUP], "displayName": "seed-group", "members": [{"value": ann["id"]}]});
    let (st, group) = s.send(Method::POST, "/Groups", Some(&g)).await;
    assert_eq!(st, 201, "{group}");
    let ids = Ids {
        user: ann["id"].as_str().unwrap().into(),
        user2: bob["id"].as_str().unwrap().into(),
        group: group["id"].as_str().unwrap().into(),
        token: s.token.clone(),
    };

    // Wait for the seeding's batched read events, then take the "before" picture.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = dump_store(&s.db).await;
    let first_event = max_event_id(&s.db).await;

    let mut failures = vec![];
    for case in &corpus {
        if let Some(f) = run_case(&s, &ids, case).await {
            failures.push(f);
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), corpus.len(), failures.join("\n"));

    let health = s.http.get(format!("{}/health", s.server.base)).send().await.unwrap();
    assert_eq!(health.status(), 200, "the server still serves after the corpus");
    let after = dump_store(&s.db).await;
    let changed: Vec<_> =
        after.iter().filter(|r| !before.contains(r)).chain(before.iter().filter(|r| !after.contains(r))).collect();
    assert!(changed.is_empty(), "the store must be byte-for-byte unchanged; these rows differ: {changed:#?}");

    let logged = corpus.iter().filter(|c| c["logged"] != json!(false)).count();
    let events = events_after(&s.db, first_event, logged).await;
    assert_eq!(events.len(), logged, "one sync-log event per logged case");
    for (method, path, op, status) in &events {
        let write = matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && !path.contains(".search");
        assert!(!(write && *status < 400), "no write may be logged as a success: {method} {path} {op} {status}");
        assert!(!path.contains(&s.token), "a token sent in a URL must not reach the sync log: {path}");
    }
    let stderr = std::fs::read_to_string(&s.server.stderr_path).unwrap();
    assert!(!stderr.contains("panicked"), "no handler panicked: {stderr}");
}
