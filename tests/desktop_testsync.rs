//! End-to-end test of the Test sync tab in the real `talkwriter-admin` window, driven through
//! tauri-driver and WebKitWebDriver under Xvfb, against its real embedded SCIM server. Needs what
//! tests/desktop.rs needs (the app binary built after `npm run build`, tauri-driver,
//! WebKitWebDriver, Xvfb unless `DISPLAY` is set); skipped only when `TALKWRITER_SKIP_DESKTOP=1`.
//! Screenshots go to `target/screenshots/desktop-testsync-*.png`.

mod desktop_harness;

use std::path::Path;
use std::str::FromStr;

use desktop_harness::*;
use fantoccini::Locator;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

/// A count on the test-sync summary.
async fn count(d: &Desktop, key: &str) -> i64 {
    let css = format!("[data-testid=testsync-count-{key}] .value");
    let text = d.wait_until(&css, None, |t| t.parse::<i64>().is_ok(), "a count shows").await;
    text.parse().unwrap()
}

async fn scalar(db: &Path, sql: &str) -> i64 {
    let opts = SqliteConnectOptions::from_str("sqlite://").unwrap().filename(db).read_only(true);
    let mut conn = SqliteConnection::connect_with(&opts).await.expect("the app's database opens");
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.unwrap();
    v
}

/// Proves the test sync an admin runs from the window: with provisioning off the tab says why
/// and leads to the switch; once on, the Okta profile runs against the embedded server with a
/// run token the app creates and revokes, the summary's counts are what the engine now holds,
/// the sync log has the run's events marked simulated, and the endpoint checker passes every
/// check against the embedded server, as does the test connection.
#[tokio::test]
async fn test_sync_and_endpoint_check_against_the_embedded_server() {
    if skip() {
        return;
    }
    let d = Desktop::start("testsync").await;
    let db = d.db();

    // Off: the tab explains, and its button leads to the switch in Setup.
    d.click("[data-testid=tab-testsync]").await;
    d.wait_for("[data-testid=testsync-needs-provisioning]").await;
    let run = d.wait_for("[data-testid=testsync-run]").await;
    assert_eq!(run.prop("disabled").await.unwrap().as_deref(), Some("true"), "no run while provisioning is off");
    d.wait_attrs("[data-testid=check-row]", "data-state", |v| v.len() == 29, "the 29 checks are listed before a run")
        .await;
    let pending = d.attrs("[data-testid=check-row]", "data-state").await;
    assert!(pending.iter().all(|s| s == "pending"), "before a run every check is pending: {pending:?}");
    d.screenshots("off").await;
    d.click("[data-testid=testsync-to-setup]").await;
    d.wait_until("[data-testid=tab-setup]", Some("aria-selected"), |v| v == "true", "the button opens Setup").await;
    let toggle = d.wait_for("#provisioning-toggle").await;
    toggle.click().await.unwrap();
    d.wait_until("#provisioning-toggle", Some("aria-checked"), |v| v == "true", "provisioning turns on").await;

    // A small Okta directory.
    d.click("[data-testid=tab-testsync]").await;
    d.wait_for("[data-testid=testsync-card]").await;
    assert!(
        d.client.find(Locator::Css("[data-testid=testsync-needs-provisioning]")).await.is_err(),
        "once on, the tab no longer asks for provisioning"
    );
    d.wait_for("[data-testid=testsync-profile]").await.select_by_value("okta").await.unwrap();
    d.type_into("[data-testid=testsync-users]", "10").await;
    d.type_into("[data-testid=testsync-groups]", "2").await;
    d.screenshots("ready").await;
    d.click("[data-testid=testsync-run]").await;
    d.wait_for("[data-testid=testsync-summary]").await;
    d.screenshots("summary").await;

    let failed = count(&d, "failed").await;
    assert_eq!(failed, 0, "the embedded server handles Okta's whole run");
    let created = count(&d, "created").await;
    let deactivated = count(&d, "deactivated").await;
    let deleted = count(&d, "deleted").await;
    let domain =
        d.wait_until("[data-testid=testsync-domain]", None, |t| t.starts_with("@sim-"), "the run's domain shows").await;
    let like = format!("'%{domain}'");
    let users = scalar(&db, &format!("SELECT COUNT(*) FROM users WHERE user_name_key LIKE {like}")).await;
    let inactive =
        scalar(&db, &format!("SELECT COUNT(*) FROM users WHERE user_name_key LIKE {like} AND active = 0")).await;
    let run_id = domain.trim_start_matches("@sim-").trim_end_matches(".example.com").to_string();
    let groups = scalar(&db, &format!("SELECT COUNT(*) FROM groups WHERE display_name LIKE '%(sim {run_id})'")).await;
    assert_eq!(users, 10, "every simulated user is in the engine (Okta never deletes users)");
    assert_eq!(groups, 2, "both pushed groups are in the engine");
    assert_eq!(created, users + groups + deleted, "created = what the engine holds + what was deleted");
    assert_eq!(deactivated, inactive, "every deactivation shows as an inactive user in the engine");
    assert!(inactive > 0, "the run has leavers");
    let shown =
        d.wait_until("[data-testid=testsync-holds]", None, |t| !t.is_empty(), "the summary says what is held").await;
    assert!(shown.contains(&format!("{} active", users - inactive)), "the summary matches the engine: {shown}");

    // The run's requests carried a token minted for the run, removed when the run ended (the
    // token list keeps only the admin's), and the audit trail says so.
    let run_tokens =
        scalar(&db, "SELECT COUNT(DISTINCT token_id) FROM events WHERE simulated = 1 AND token_id IS NOT NULL").await;
    let tokens = scalar(&db, "SELECT COUNT(*) FROM tokens WHERE label = 'Test sync'").await;
    let removed =
        scalar(&db, "SELECT COUNT(*) FROM events WHERE operation = 'Token removed' AND detail LIKE 'Test sync (%'")
            .await;
    assert_eq!((run_tokens, tokens, removed), (1, 0, 1), "one run token, removed when the run ended");

    // A bigger run shows its progress as it goes, fed by the shell's progress events.
    d.wait_for("[data-testid=testsync-profile]").await.select_by_value("entra").await.unwrap();
    d.type_into("[data-testid=testsync-users]", "150").await;
    d.type_into("[data-testid=testsync-groups]", "6").await;
    d.click("[data-testid=testsync-run]").await;
    d.wait_until(
        "[data-testid=testsync-progress]",
        Some("aria-valuenow"),
        |v| v.parse::<u32>().is_ok_and(|p| (15..100).contains(&p)),
        "the progress bar moves during the run",
    )
    .await;
    d.screenshots("progress").await;
    d.wait_until(
        "[data-testid=testsync-summary]",
        Some("data-failed"),
        |v| v == "0",
        "Entra's run ends without a failure",
    )
    .await;
    assert_eq!(count(&d, "created").await, 156, "150 users and 6 groups created");

    // The sync log holds the run's requests, marked simulated, and shows them.
    let simulated = scalar(
        &db,
        "SELECT COUNT(*) FROM events WHERE simulated = 1 AND operation = 'Create User' AND user_agent LIKE 'Okta%'",
    )
    .await;
    assert_eq!(simulated, 10, "each simulated creation is logged as simulated");
    let unmarked = scalar(
        &db,
        "SELECT COUNT(*) FROM events WHERE (user_agent LIKE 'Okta%' OR user_agent LIKE 'Microsoft%') AND simulated = 0",
    )
    .await;
    assert_eq!(unmarked, 0, "every request of the run is marked simulated");
    // "Show this run in the sync log" opens the log on the run just shown (Entra's) only: test
    // syncs, searched for the run's id; the earlier Okta run is left out.
    d.click("[data-testid=testsync-open-synclog]").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-idp",
        |idps| !idps.is_empty() && idps.iter().all(|i| i == "Entra ID"),
        "the sync log opens on the Entra run's events only",
    )
    .await;
    assert_eq!(d.attrs("[data-testid=filter-source]", "value").await, ["test"]);
    let searched = d.attrs("[data-testid=filter-text]", "value").await;
    assert!(searched.len() == 1 && searched[0].len() == 8 && searched[0] != run_id, "Entra's run id: {searched:?}");
    // The Source filter tells test syncs from the IdP's traffic: none of that carries the id.
    d.select("[data-testid=filter-source]", "idp").await;
    d.wait_until("[data-testid=synclog-count]", None, |t| t.trim() == "0 events", "no IdP traffic carries the run id")
        .await;
    d.select("[data-testid=filter-source]", "test").await;
    // Searching for the Okta run's id leaves that run's events only.
    d.type_into("[data-testid=filter-text]", &run_id).await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-idp",
        |idps| !idps.is_empty() && idps.iter().all(|i| i == "Okta"),
        "searching for the Okta run's id leaves only its events",
    )
    .await;
    // The run's deactivation, among its lookups, reads and clean-up: the operation filter
    // brings it into view (the list draws only the rows on screen).
    d.select("[data-testid=filter-operation]", "Deactivate User").await;
    d.wait_attrs(
        "[data-testid=synclog-row]",
        "data-operation",
        |ops| !ops.is_empty() && ops.iter().all(|o| o == "Deactivate User"),
        "the operation filter leaves the run's deactivations",
    )
    .await;
    d.click("[data-testid=synclog-row][data-operation='Deactivate User']").await;
    d.wait_until("[data-testid=event-detail]", None, |t| t.contains("(test sync)"), "the detail marks it simulated")
        .await;
    d.screenshot("synclog").await;
    d.click("[data-testid=event-detail-close]").await;

    // The checker passes every check against the embedded server; the test connection too.
    d.click("[data-testid=tab-testsync]").await;
    d.wait_for("[data-testid=testsync-summary]").await; // the report outlives the tab switch
    d.click("[data-testid=check-run]").await;
    d.wait_until(
        "[data-testid=check-summary]",
        None,
        |t| t.starts_with("29 of 29"),
        "every check passes against our own server",
    )
    .await;
    let states = d.attrs("[data-testid=check-row]", "data-state").await;
    assert_eq!(states.len(), 29, "one row per check");
    assert!(states.iter().all(|s| s == "passed"), "every row shows passed: {states:?}");
    d.click("[data-testid=check-connection]").await;
    d.wait_until("[data-testid=connection-result]", Some("data-ok"), |v| v == "true", "the test connection succeeds")
        .await;
    d.scroll_to("[data-testid=check-card]").await;
    d.screenshots("checks").await;
    let left = scalar(&db, "SELECT COUNT(*) FROM tokens").await;
    assert_eq!(left, 0, "the checker's and the test connection's run tokens are removed too");

    // Against a wrong URL the checks fail, each with its request and response one click away.
    let url = d.wait_for("[data-testid=check-url]").await;
    let wrong = url.prop("value").await.unwrap().unwrap().replace("/scim/v2", "/scim/v1");
    d.type_into("[data-testid=check-url]", &wrong).await;
    d.type_into("[data-testid=check-token]", "twscim_not-a-token").await;
    d.click("[data-testid=check-run]").await;
    d.wait_until("[data-testid=check-summary]", None, |t| !t.starts_with("29 of 29"), "a wrong URL fails checks").await;
    d.click("[data-testid=check-row][data-state=failed] [data-testid=check-exchange] summary").await;
    let request = d
        .wait_until("[data-testid=exchange-request]", None, |t| t.contains("/scim/v1"), "the failure shows its request")
        .await;
    assert!(request.contains(&wrong), "the request went to the URL entered: {request}");
    d.wait_for("[data-testid=exchange-response]").await;
    d.click("[data-testid=check-only-failures]").await;
    let states = d.attrs("[data-testid=check-row]", "data-state").await;
    assert!(!states.is_empty() && states.iter().all(|s| s == "failed"), "only failures remain: {states:?}");
    d.click("[data-testid=check-connection]").await;
    d.wait_until("[data-testid=connection-result]", Some("data-ok"), |v| v == "false", "the test connection fails")
        .await;
    d.scroll_to("[data-testid=check-card]").await;
    d.screenshots("check-failures").await;

    // A smaller window still lays the summary out.
    d.client.set_window_size(1024, 700).await.unwrap();
    d.scroll_to("[data-testid=testsync-card]").await;
    d.screenshots("small").await;
    d.scroll_to("[data-testid=check-card]").await;
    d.screenshots("small-checks").await;
    let _ = d.client.clone().close().await;
}

/// Proves a test sync of 1,000 users can be cancelled from the window while it runs: the
/// Cancel button next to the progress stops it, the summary says it was cancelled and after
/// which step, and with the clean-up on the run leaves none of its users or groups in the
/// engine, nor its run token.
#[tokio::test]
async fn a_running_test_sync_can_be_cancelled() {
    if skip() {
        return;
    }
    let d = Desktop::start("testsync-cancel").await;
    let db = d.db();
    d.enable_provisioning().await;

    d.click("[data-testid=tab-testsync]").await;
    d.select("[data-testid=testsync-profile]", "okta").await;
    d.type_into("[data-testid=testsync-users]", "1000").await;
    d.type_into("[data-testid=testsync-groups]", "10").await;
    let cleanup = d.wait_for("[data-testid=testsync-cleanup]").await;
    cleanup.click().await.unwrap();
    d.wait_until("[data-testid=testsync-cleanup]", Some("checked"), |v| v == "true", "the clean-up is asked for").await;
    d.click("[data-testid=testsync-run]").await;
    d.wait_until(
        "[data-testid=testsync-progress]",
        Some("aria-valuenow"),
        |v| v.parse::<u32>().is_ok_and(|p| p >= 1),
        "the run is under way",
    )
    .await;
    d.screenshot("running").await;
    d.click("[data-testid=testsync-cancel]").await;
    d.wait_until("[data-testid=testsync-summary]", Some("data-cancelled"), |v| v == "true", "the run ends cancelled")
        .await;
    d.scroll_to("[data-testid=testsync-card]").await;
    d.screenshots("cancelled").await;

    let verdict = d
        .wait_until("[data-testid=testsync-verdict]", None, |t| t.starts_with("Cancelled after"), "the verdict says so")
        .await;
    let created = count(&d, "created").await;
    assert!(created > 0 && created < 1010, "the run created some of its directory before the cancel: {created}");
    assert_eq!(count(&d, "failed").await, 0, "a cancel is not a failure");
    let holds = d
        .wait_until("[data-testid=testsync-holds]", None, |t| t.contains("removed again"), "the clean-up is reported")
        .await;
    assert!(holds.starts_with(&format!("{created} test users and groups")), "{holds} (verdict: {verdict})");

    // Nothing of the run is left in the engine, and no further step of the plan was sent.
    let run_id =
        d.wait_until("[data-testid=testsync-log-note] .runid", None, |t| t.len() == 8, "the run id shows").await;
    let users =
        scalar(&db, &format!("SELECT COUNT(*) FROM users WHERE user_name_key LIKE '%@sim-{run_id}.example.com'")).await;
    let groups = scalar(&db, &format!("SELECT COUNT(*) FROM groups WHERE display_name LIKE '%(sim {run_id})'")).await;
    assert_eq!((users, groups), (0, 0), "the cancelled run's users and groups are deleted");
    let sent = scalar(&db, "SELECT COUNT(*) FROM events WHERE simulated = 1 AND operation = 'Create User'").await;
    assert!(sent < 1000, "the run stopped creating users when cancelled: {sent}");
    let tokens = scalar(&db, "SELECT COUNT(*) FROM tokens").await;
    assert_eq!(tokens, 0, "the run token is removed after a cancel too");

    // The form is ready for the next run.
    let run = d.wait_for("[data-testid=testsync-run]").await;
    assert_eq!(run.prop("disabled").await.unwrap().as_deref(), Some("false"), "another run can start");
    d.stop().await;
}
