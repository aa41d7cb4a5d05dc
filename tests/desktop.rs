//! End-to-end tests of the desktop app: the real `talkwriter-admin` window, driven through
//! tauri-driver and WebKitWebDriver under Xvfb, against its real embedded SCIM server.
//!
//! Needs: the app binary (`cargo build -p talkwriter-admin`, after `npm run build` in ui/),
//! `tauri-driver` (`cargo install tauri-driver --locked`), WebKitWebDriver (Debian's
//! `webkit2gtk-driver`) and `Xvfb` unless `DISPLAY` is set. `TALKWRITER_ADMIN_BIN` points at
//! another binary. The tests are skipped only when `TALKWRITER_SKIP_DESKTOP=1`.
//! Each test saves a screenshot under `target/screenshots/`. Sync-log export writes into the
//! test's own directory through `TALKWRITER_EXPORT_DIR`, since the native save dialog cannot be
//! driven through WebDriver.

mod desktop_harness;

use desktop_harness::*;
use serde_json::json;
use std::time::{Duration, Instant};

async fn create_user(endpoint: &str, token: &str, user_name: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{endpoint}/Users"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "name": { "givenName": "Ada", "familyName": "Lovelace" },
                "displayName": "Ada Lovelace",
                "active": true
            })
            .to_string(),
        )
        .send()
        .await
        .expect("the embedded SCIM server must answer")
        .status()
}

/// Proves the setup path an admin follows: turn provisioning on, generate a token in the
/// window, and an IdP using that token creates a user (201) — and the checklist ticks itself
/// from what the engine saw.
#[tokio::test]
async fn token_from_the_window_provisions_a_user_and_ticks_the_checklist() {
    if skip() {
        return;
    }
    let d = Desktop::start("provision").await;
    let endpoint = d.endpoint().await;
    assert!(endpoint.ends_with("/scim/v2"), "the endpoint is the SCIM base URL: {endpoint}");
    d.wait_until("[data-testid=step-paste]", Some("data-state"), |s| s != "done", "nothing was pasted yet").await;

    d.enable_provisioning().await;
    let token = d.generate_token("Okta production").await;
    d.screenshot("token-shown").await;

    assert_eq!(create_user(&endpoint, &token, "ada@example.com").await, 201, "a valid token must create the user");

    d.wait_until(
        "[data-testid=step-paste]",
        Some("data-state"),
        |s| s == "done",
        "the first authenticated request must tick step 4",
    )
    .await;
    d.wait_until(
        "[data-testid=step-test]",
        Some("data-state"),
        |s| s == "done",
        "the first user must tick the test-sync step",
    )
    .await;
    d.wait_until(
        "[data-testid=status-last]",
        None,
        |t| t.contains("201 Created"),
        "the header must show the last request",
    )
    .await;
    d.click("[data-testid=hide-token]").await;
    d.wait_until(
        "[data-testid=token-row] code",
        None,
        |t| t.starts_with("twscim_") && t.ends_with('•'),
        "only the masked prefix remains",
    )
    .await;
    d.screenshot("checklist-ticked").await;

    d.click("[data-testid=tab-mapping]").await;
    d.wait_until(
        "[data-testid=mapping-table]",
        None,
        |t| t.contains("ada@example.com"),
        "the mapping shows the synced user's example",
    )
    .await;
    d.screenshot("mapping").await;
    d.stop().await;
}

/// Proves revocation takes effect at once: a token revoked in the window is refused (401).
#[tokio::test]
async fn revoked_token_is_refused() {
    if skip() {
        return;
    }
    let d = Desktop::start("revoke").await;
    let endpoint = d.endpoint().await;
    d.enable_provisioning().await;
    let token = d.generate_token("Entra").await;
    assert_eq!(create_user(&endpoint, &token, "grace@example.com").await, 201, "the token works before revocation");

    d.click_until("[data-testid=revoke-token]", "[data-testid=revoke-dialog][open]").await;
    d.screenshot("confirm").await;
    d.click("[data-testid=revoke-dialog-confirm]").await;
    d.wait_until("[data-testid=token-row]", Some("data-state"), |s| s == "revoked", "the token must show as revoked")
        .await;

    assert_eq!(create_user(&endpoint, &token, "linus@example.com").await, 401, "a revoked token must be refused");
    d.screenshot("revoked").await;
    d.stop().await;
}

/// Proves the off switch: after confirming, the server refuses even a valid token (403).
#[tokio::test]
async fn disabled_provisioning_refuses_requests() {
    if skip() {
        return;
    }
    let d = Desktop::start("disable").await;
    let endpoint = d.endpoint().await;
    d.enable_provisioning().await;
    let token = d.generate_token("OneLogin").await;
    assert_eq!(create_user(&endpoint, &token, "ken@example.com").await, 201, "requests work while on");

    let dialog =
        d.click_until("#provisioning-toggle", "[data-testid=disable-dialog][open]").await.text().await.unwrap();
    assert!(dialog.contains("keep their TalkWriter access"), "the confirmation must say what stops: {dialog}");
    d.screenshot("confirm").await;
    d.click("[data-testid=disable-dialog-confirm]").await;
    d.wait_until("#provisioning-toggle", Some("aria-checked"), |v| v == "false", "provisioning must turn off").await;
    d.wait_until(
        "[data-testid=status-provisioning]",
        None,
        |t| t == "Provisioning off",
        "the header must say it is off",
    )
    .await;

    assert_eq!(create_user(&endpoint, &token, "dennis@example.com").await, 403, "while off, requests are refused");
    d.screenshot("disabled").await;

    // Settings: its sections are titled cards, each labelled by its heading.
    d.click("[data-testid=nav-settings]").await;
    let labels = d
        .wait_attrs("section.card[aria-labelledby]", "aria-labelledby", |v| v.len() == 3, "the three settings cards")
        .await;
    assert_eq!(labels, ["settings-server", "settings-appearance", "settings-synclog"]);
    let title = d.wait_until("#settings-server", None, |t| !t.is_empty(), "the first card's title").await;
    assert_eq!(title, "Embedded SCIM server");
    d.screenshots("settings").await;
    d.stop().await;
}

/// One SCIM request as an IdP sends it, with its User-Agent; answers the status and the body.
async fn scim(
    endpoint: &str,
    token: &str,
    ua: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{endpoint}{path}"))
        .bearer_auth(token)
        .header("user-agent", ua)
        .header("content-type", "application/scim+json");
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let res = req.send().await.expect("the embedded SCIM server must answer");
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

const OKTA: &str = "Okta SCIM Client 1.0.0";
const ENTRA: &str = "Azure Active Directory SCIM Client";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user_body(user_name: &str, given: &str) -> serde_json::Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": { "givenName": given, "familyName": "Test" },
        "emails": [{ "value": user_name, "primary": true, "type": "work" }],
        "active": true
    })
}

/// "All time" charts the whole log: with a retention of ten years, a log that goes back years
/// (events seeded on 1 January 2020) is counted by day from its first request, not cut to the
/// last 30 days.
#[tokio::test]
async fn all_time_charts_the_whole_log_by_day() {
    if skip() {
        return;
    }
    let d = Desktop::start_with("alltime", |dir| {
        let db = dir.join("talkwriter.db");
        let (ok, out, err) = e2e::cli(&["seed", "--db", db.to_str().unwrap(), "--users", "100", "--events", "1000"]);
        assert!(ok, "seeding failed: {out}{err}");
        // As the Settings screen saves it: keep events for 3,650 days (the default 30 would
        // prune the seeded year at start).
        let settings = json!({ "settings": { "logRetentionDays": 3650 } });
        std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
    })
    .await;
    d.click("[data-testid=tab-synclog]").await;
    d.select("[data-testid=filter-range]", "all").await;
    // The seed's requests: one in ten a lookup that found nobody (404).
    d.wait_attrs(
        "[data-testid=activity-chart] svg",
        "aria-label",
        |v| v.first().is_some_and(|l| l == "900 succeeded, 100 failed"),
        "the chart must count the 2020 requests",
    )
    .await;
    d.wait_until("[data-testid=activity-chart] .title", None, |t| t == "Requests per day", "bars of a day").await;
    let ticks = d
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=activity-chart] text.axis')].map(t => t.textContent);",
            vec![],
        )
        .await
        .unwrap();
    assert!(ticks.to_string().contains("2020"), "the axis starts in 2020: {ticks}");
    d.screenshot("all-time").await;
}

/// Proves the sync log shows what IdPs did: an Okta and an Entra sequence sent over HTTP appear
/// live with the right operations and IdPs, the IdP filter narrows them, the detail shows the
/// before/after diff, and the CSV export holds the same rows as the filtered list.
#[tokio::test]
async fn sync_log_shows_okta_and_entra_sequences() {
    use reqwest::Method;
    if skip() {
        return;
    }
    let d = Desktop::start("synclog").await;
    let endpoint = d.endpoint().await;
    d.enable_provisioning().await;
    let token = d.generate_token("Okta and Entra").await;
    d.click("[data-testid=hide-token]").await;
    d.click("[data-testid=tab-synclog]").await;
    d.wait_for("[data-testid=activity-chart]").await;
    // The "Live" dot rests while nothing arrives, and beats when requests come in (below).
    let beats = |v: &[String]| v.iter().any(|c| c.split_whitespace().any(|c| c == "beat"));
    let dot = d.attrs("[data-testid=live-state] .pulse", "class").await;
    assert!(dot.len() == 1 && !beats(&dot), "the Live dot rests before any request: {dot:?}");

    // Okta: look the user up, create it, then change the title with a PATCH.
    let (s, _) =
        scim(&endpoint, &token, OKTA, Method::GET, "/Users?filter=userName%20eq%20%22ada%40example.com%22", None).await;
    assert_eq!(s, 200, "Okta's lookup must succeed");
    let (s, ada) =
        scim(&endpoint, &token, OKTA, Method::POST, "/Users", Some(user_body("ada@example.com", "Ada"))).await;
    assert_eq!(s, 201, "Okta creates the user");
    let ada_id = ada["id"].as_str().unwrap().to_string();
    let patch = json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"replace","value":{"title":"Engineer"}}]});
    let (s, _) = scim(&endpoint, &token, OKTA, Method::PATCH, &format!("/Users/{ada_id}"), Some(patch)).await;
    assert_eq!(s, 200, "Okta updates the user");
    // The first rows must show live, pushed from the engine, without reloading the screen.
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |ops| ops.iter().any(|o| o == "Update User"),
        "Okta's update must show live",
    )
    .await;
    d.wait_attrs("[data-testid=live-state] .pulse", "class", beats, "the Live dot beats when requests arrive").await;
    d.wait_attrs("[data-testid=live-state] .pulse", "class", |v| v.len() == 1 && !beats(v), "then rests again").await;
    // Its lookup found nobody yet: the row shows whom Okta looked for.
    d.wait_until(
        "[data-testid=synclog-row][data-operation=Lookup] .target",
        None,
        |t| t.contains("ada@example.com") && t.contains("no match"),
        "Okta's lookup before the create names the userName it looked for",
    )
    .await;

    // Entra: create, then deactivate with its capitalised op and string boolean.
    let (s, grace) =
        scim(&endpoint, &token, ENTRA, Method::POST, "/Users", Some(user_body("grace@example.com", "Grace"))).await;
    assert_eq!(s, 201, "Entra creates the user");
    let grace_id = grace["id"].as_str().unwrap().to_string();
    let deactivate = json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"Replace","path":"active","value":"False"}]});
    let (s, _) = scim(&endpoint, &token, ENTRA, Method::PATCH, &format!("/Users/{grace_id}"), Some(deactivate)).await;
    assert_eq!(s, 200, "Entra deactivates the user");

    let ops = d
        .wait_attrs(
            "[data-testid=synclog-row]",
            "data-operation",
            |ops| ops.iter().any(|o| o == "Deactivate User"),
            "Entra's deactivation must show live",
        )
        .await;
    for op in ["Lookup", "Create User", "Update User", "Deactivate User"] {
        assert!(ops.iter().any(|o| o == op), "the log must show {op}: {ops:?}");
    }
    // Newest first by when each request was made: Okta's lookup (written by the log's writer
    // a moment later, with a later id) shows below the create that followed it.
    let pos = |op: &str| ops.iter().rposition(|o| o == op).unwrap();
    assert!(pos("Lookup") > pos("Create User"), "the lookup below the create it preceded: {ops:?}");
    let idps = d.attrs("[data-testid=synclog-row]", "data-idp").await;
    assert!(idps.iter().any(|i| i == "Okta") && idps.iter().any(|i| i == "Entra ID"), "both IdPs recognised: {idps:?}");
    d.screenshot("live").await;

    // The IdP filter narrows the rows to Entra's.
    d.select("[data-testid=filter-idp]", "Entra ID").await;
    let entra = d
        .wait_attrs(
            "[data-testid=synclog-row]",
            "data-idp",
            |v| !v.is_empty() && v.iter().all(|i| i == "Entra ID"),
            "the IdP filter must leave only Entra's rows",
        )
        .await;
    let entra_ops = d.attrs("[data-testid=synclog-row]", "data-operation").await;
    assert!(entra_ops.contains(&"Deactivate User".to_string()), "Entra's rows: {entra_ops:?}");
    // The chart counts the same requests: Entra's, without the access changes they caused.
    let requests = entra_ops.iter().filter(|o| !o.starts_with("Access ")).count();
    d.wait_attrs(
        "[data-testid=activity-chart] svg",
        "aria-label",
        |v| v.first().is_some_and(|l| l == &format!("{requests} succeeded, 0 failed")),
        "the chart must count the filtered requests",
    )
    .await;
    d.screenshot("filtered").await;

    // The export writes the same rows as the filtered list.
    d.click("[data-testid=export-csv]").await;
    let start = Instant::now();
    let csv = loop {
        let file =
            std::fs::read_dir(&d.exports).unwrap().flatten().find(|f| f.path().extension().is_some_and(|e| e == "csv"));
        if let Some(f) = file {
            let text = std::fs::read_to_string(f.path()).unwrap();
            if !text.is_empty() {
                break text;
            }
        }
        assert!(start.elapsed() < WAIT, "the CSV export was never written to {}", d.exports.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lines: Vec<&str> = csv.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), entra.len(), "the CSV holds the filtered rows, no more, no fewer:\n{csv}");
    assert!(lines.iter().all(|l| l.contains(",Entra ID,")), "every exported row is Entra's:\n{csv}");
    let mut exported_ops: Vec<String> = entra_ops.clone();
    exported_ops.sort();
    let mut csv_ops: Vec<String> = lines.iter().map(|l| l.split(',').nth(3).unwrap_or_default().to_string()).collect();
    csv_ops.sort();
    assert_eq!(csv_ops, exported_ops, "the CSV has the same operations as the list");

    // Back to every IdP; Okta's update shows its diff in the detail panel.
    d.select("[data-testid=filter-idp]", "").await;
    d.click("[data-testid=synclog-row][data-operation='Update User']").await;
    let diff = d
        .wait_until(
            "[data-testid=event-diff]",
            None,
            |t| t.contains("title") && t.contains("Engineer"),
            "the diff shows the title change",
        )
        .await;
    assert!(diff.contains("title"), "{diff}");
    d.wait_for("[data-testid=event-request]").await;
    d.screenshot("detail").await;
    d.theme("dark").await;
    d.screenshot("detail-dark").await;

    // "Other events for this user" narrows the log to Ada.
    d.click("[data-testid=event-others]").await;
    d.wait_for("[data-testid=filter-target]").await;
    let targets = d
        .wait_attrs(
            "[data-testid=synclog-row]",
            "data-operation",
            |v| !v.is_empty() && !v.iter().any(|o| o == "Deactivate User" || o == "Lookup"),
            "only Ada's events remain",
        )
        .await;
    assert!(targets.iter().any(|o| o == "Create User"), "Ada's creation is among her events: {targets:?}");
    d.screenshot("target-dark").await;

    // Paused, a new event waits behind "1 new event"; resuming shows it.
    d.click("[data-testid=live-pause]").await;
    let title = json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"replace","value":{"title":"Lead"}}]});
    let (s, _) = scim(&endpoint, &token, OKTA, Method::PATCH, &format!("/Users/{ada_id}"), Some(title)).await;
    assert_eq!(s, 200, "Okta updates Ada again");
    d.wait_until("[data-testid=live-pending]", None, |t| t == "1 new event", "a paused log counts the new event").await;
    let before = d.attrs("[data-testid=synclog-row]", "data-operation").await.len();
    d.screenshot("paused").await;
    d.click("[data-testid=live-pending]").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |v| v.len() == before + 1,
        "resuming shows the event that waited",
    )
    .await;
    d.stop().await;
}

/// Proves access follows the group rule end to end: users and a group provisioned over HTTP,
/// the rule switched to the group in the window (with the count shown before confirming), and a
/// removal from the group over HTTP revokes access in the Users view and in the sync log.
#[tokio::test]
async fn group_rule_revokes_access_when_removed_from_the_group() {
    use reqwest::Method;
    if skip() {
        return;
    }
    let d = Desktop::start("access").await;
    let endpoint = d.endpoint().await;
    d.enable_provisioning().await;
    let token = d.generate_token("Okta").await;
    d.click("[data-testid=hide-token]").await;

    let (_, ann) =
        scim(&endpoint, &token, OKTA, Method::POST, "/Users", Some(user_body("ann@example.com", "Ann"))).await;
    let (_, _bob) =
        scim(&endpoint, &token, OKTA, Method::POST, "/Users", Some(user_body("bob@example.com", "Bob"))).await;
    let ann_id = ann["id"].as_str().expect("Ann was created").to_string();
    // Okta reads Ann back twice, as it does before each update: her history counts these.
    for path in [format!("/Users/{ann_id}"), "/Users?filter=userName%20eq%20%22ann@example.com%22".to_string()] {
        assert_eq!(scim(&endpoint, &token, OKTA, Method::GET, &path, None).await.0, 200, "{path}");
    }
    let group = json!({"schemas":[GROUP_SCHEMA],"displayName":"Engineering","members":[{"value": ann_id}]});
    let (s, eng) = scim(&endpoint, &token, OKTA, Method::POST, "/Groups", Some(group)).await;
    assert_eq!(s, 201, "Okta pushes the group");
    let eng_id = eng["id"].as_str().unwrap().to_string();

    d.click("[data-testid=tab-directory]").await;
    d.wait_attrs(
        "[data-testid=user-row]",
        "data-access",
        |v| v.len() == 2 && v.iter().all(|a| a == "has_access"),
        "under the default rule both active users have access",
    )
    .await;
    d.screenshot("users-all").await;

    // Switch to group-based access: the dialog counts who changes before confirming.
    d.click_until("[data-testid=access-rule-edit]", "[data-testid=access-rule-dialog][open]").await;
    d.click("[data-testid=access-mode-groups]").await;
    d.click("[data-testid=access-group][data-name=Engineering]").await;
    d.wait_until(
        "[data-testid=access-preview]",
        Some("data-count"),
        |c| c == "1",
        "only Bob, outside Engineering, changes",
    )
    .await;
    d.screenshot("rule-dialog").await;
    d.click("[data-testid=access-rule-dialog-confirm]").await;
    d.wait_until("[data-testid=access-rule]", Some("data-mode"), |m| m == "groups", "the rule is now group-based")
        .await;
    d.wait_until(
        "[data-testid=user-row][data-username='bob@example.com']",
        Some("data-access"),
        |a| a == "no_access",
        "Bob is in no granting group",
    )
    .await;

    // The IdP removes Ann from Engineering: her access is revoked, live.
    let remove = json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"remove","path":format!("members[value eq \"{ann_id}\"]")}]});
    let (s, _) = scim(&endpoint, &token, OKTA, Method::PATCH, &format!("/Groups/{eng_id}"), Some(remove)).await;
    assert!(s == 200 || s == 204, "Okta removes Ann from the group: {s}");
    d.wait_until(
        "[data-testid=user-row][data-username='ann@example.com']",
        Some("data-access"),
        |a| a == "no_access",
        "removal from the only granting group revokes Ann's access",
    )
    .await;
    d.screenshot("users-revoked").await;
    d.click("[data-testid=user-row][data-username='ann@example.com'] td").await;
    d.wait_until(
        "[data-testid=user-access]",
        None,
        |t| t.contains("No access"),
        "the detail says why Ann has no access",
    )
    .await;
    d.screenshot("user-detail").await;
    d.click("[data-testid=user-detail-close]").await;

    // An emergency suspension, with a reason and a confirmation, shows in the list.
    d.click("[data-testid=user-row][data-username='bob@example.com'] td").await;
    d.click_until("[data-testid=suspend-user]", "[data-testid=suspend-dialog][open]").await;
    d.wait_for("[data-testid=suspend-reason]").await.send_keys("lost laptop").await.unwrap();
    d.screenshot("suspend-dialog").await;
    d.click("[data-testid=suspend-dialog-confirm]").await;
    d.wait_until(
        "[data-testid=user-access]",
        None,
        |t| t.contains("lost laptop"),
        "the detail gives the admin's reason",
    )
    .await;
    d.wait_until(
        "[data-testid=user-row][data-username='bob@example.com']",
        Some("data-access"),
        |a| a == "suspended",
        "the list shows Bob suspended",
    )
    .await;
    d.click("[data-testid=user-detail-close]").await;

    d.click("[data-testid=tab-synclog]").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |v| v.iter().any(|o| o == "Access Revoked") && v.iter().any(|o| o == "Remove from Group"),
        "the sync log shows the removal and the revocation it caused",
    )
    .await;
    d.click("[data-testid=view-audit]").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |v| v.iter().any(|o| o == "Access Rule Changed") && v.iter().any(|o| o == "User Suspended by Admin"),
        "the audit trail shows the rule change and the suspension",
    )
    .await;
    d.screenshot("audit").await;

    // From Ann's history in the directory, "Open in sync log" shows her events only, out of
    // the audit trail the log was left on.
    d.click("[data-testid=tab-directory]").await;
    d.click("[data-testid=user-row][data-username='ann@example.com'] td").await;
    // Her history lists her changes, and counts Okta's lookups on a line of their own.
    d.wait_until(
        "[data-testid=history-lookups]",
        None,
        |t| t.contains("Looked up 2 times, last") && t.contains("by Okta"),
        "Ann's history counts the two lookups",
    )
    .await;
    d.wait_until(
        "[data-testid=user-history]",
        None,
        |t| t.contains("Create User") && t.contains("Access Revoked") && !t.contains("Lookup"),
        "Ann's history lists her changes, not the lookups",
    )
    .await;
    d.screenshot("user-history").await;
    d.click("[data-testid=history-open-log]").await;
    d.wait_until("[data-testid=filter-target]", None, |t| t.contains("ann@example.com"), "the log names Ann").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |v| v.iter().any(|o| o == "Access Revoked") && !v.iter().any(|o| o == "User Suspended by Admin"),
        "Ann's events, not the audit trail",
    )
    .await;
    d.stop().await;
}
