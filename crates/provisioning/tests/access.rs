//! Access rules over sequences of SCIM operations, driven through the service the way the
//! router drives it: each step is a SCIM write, then every user's access and the access events
//! it caused are checked.

use provisioning::{AccessRule, Config, EventQuery, Provisioning, RequestContext, ResourceKind};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct World {
    p: Provisioning,
    _dir: tempfile::TempDir,
}

fn okta(method: &str) -> RequestContext {
    let mut ctx = RequestContext::new(method, "/scim/v2/test");
    ctx.user_agent = Some("Okta SCIM Client 1.0.0".into());
    ctx.base_url = "http://scim.test/scim/v2".into();
    ctx
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let p = provisioning::testing::open_store(dir.path(), Config::default(), provisioning::Clock::system())
            .await
            .unwrap();
        World { p, _dir: dir }
    }
    async fn user(&self, name: &str) -> String {
        let w =
            self.p.create(ResourceKind::User, &okta("POST"), &json!({"schemas":[USER],"userName":name})).await.unwrap();
        w.resource.unwrap()["id"].as_str().unwrap().to_string()
    }
    async fn group(&self, name: &str) -> String {
        let w = self
            .p
            .create(ResourceKind::Group, &okta("POST"), &json!({"schemas":[GROUP],"displayName":name}))
            .await
            .unwrap();
        w.resource.unwrap()["id"].as_str().unwrap().to_string()
    }
    async fn patch(&self, kind: ResourceKind, id: &str, ops: Value) {
        self.p.patch(kind, &okta("PATCH"), id, &json!({"schemas":[PATCH_OP],"Operations":ops}), None).await.unwrap();
    }
    async fn add(&self, gid: &str, uid: &str) {
        self.patch(ResourceKind::Group, gid, json!([{"op":"add","path":"members","value":[{"value":uid}]}])).await;
    }
    async fn remove(&self, gid: &str, uid: &str) {
        self.patch(ResourceKind::Group, gid, json!([{"op":"remove","path":format!("members[value eq \"{uid}\"]")}]))
            .await;
    }
    async fn access(&self, uid: &str) -> (bool, String) {
        let a = self.p.user_access(uid).await.unwrap().unwrap();
        (a.granted, a.reason)
    }
    /// The access events since `after`, as (operation, userName, detail).
    async fn access_events(&self, after: i64) -> Vec<(String, String, String)> {
        let page = self
            .p
            .query_events(&EventQuery { after_id: Some(after), limit: Some(1000), ..Default::default() })
            .await
            .unwrap();
        let mut v: Vec<_> = page
            .events
            .into_iter()
            .filter(|e| e.operation.starts_with("Access ") && e.operation != "Access Rule Changed")
            .map(|e| (e.operation, e.target_name.unwrap_or_default(), e.detail.unwrap_or_default()))
            .collect();
        v.reverse();
        v
    }
    async fn last_id(&self) -> i64 {
        self.p
            .query_events(&EventQuery { limit: Some(1), ..Default::default() })
            .await
            .unwrap()
            .events
            .first()
            .map_or(0, |e| e.id)
    }
}

fn ev(op: &str, user: &str, detail: &str) -> (String, String, String) {
    (op.into(), user.into(), detail.into())
}

/// The default rule: every active provisioned user has access; deactivation suspends it at
/// once, reactivation restores it, delete removes it, and each change is an event.
#[tokio::test]
async fn default_rule_follows_active() {
    let w = World::new().await;
    let start = w.last_id().await;
    let ann = w.user("ann@x").await;
    assert_eq!(w.access(&ann).await, (true, "Active; every active provisioned user has access".into()));
    w.patch(ResourceKind::User, &ann, json!([{"op":"replace","value":{"active":false}}])).await;
    assert_eq!(w.access(&ann).await, (false, "Suspended: deactivated in the identity provider".into()));
    w.patch(ResourceKind::User, &ann, json!([{"op":"replace","path":"active","value":true}])).await;
    assert!(w.access(&ann).await.0);
    w.p.delete(ResourceKind::User, &okta("DELETE"), &ann, None).await.unwrap();
    assert!(w.p.user_access(&ann).await.unwrap().is_none(), "a deleted user is gone");
    assert_eq!(
        w.access_events(start).await,
        vec![
            ev("Access Granted", "ann@x", "Access granted: provisioned by Okta"),
            ev("Access Suspended", "ann@x", "Access suspended: deactivated by Okta"),
            ev("Access Granted", "ann@x", "Access restored: reactivated by Okta"),
            ev("Access Removed", "ann@x", "Access removed: account deleted by Okta"),
        ]
    );
}

/// The group rule: only members of granting groups have access; removal from a granting group
/// revokes it unless another granting group still grants it; non-granting groups never matter.
#[tokio::test]
async fn group_rule_over_membership_changes() {
    let w = World::new().await;
    let (ann, bob) = (w.user("ann@x").await, w.user("bob@x").await);
    let (eng, ops, social) = (w.group("Engineering").await, w.group("Ops").await, w.group("Social").await);
    w.add(&social, &ann).await;
    let changed =
        w.p.set_access_rule(&AccessRule { mode: "groups".into(), granting_groups: vec![eng.clone(), ops.clone()] })
            .await
            .unwrap();
    assert_eq!(changed, 2, "both users lose access under the new rule");
    assert_eq!(w.access(&ann).await, (false, "No access: not a member of a group that grants access".into()));
    let start = w.last_id().await;
    w.add(&eng, &ann).await;
    assert_eq!(w.access(&ann).await, (true, "Active; member of Engineering, which grants access".into()));
    w.add(&ops, &ann).await;
    assert_eq!(w.access(&ann).await, (true, "Active; member of Engineering and Ops, which grant access".into()));
    w.remove(&eng, &ann).await;
    assert_eq!(w.access(&ann).await, (true, "Active; member of Ops, which grants access".into()), "Ops still grants");
    w.remove(&ops, &ann).await;
    assert!(!w.access(&ann).await.0);
    w.add(&social, &bob).await;
    assert!(!w.access(&bob).await.0, "a group that does not grant access gives none");
    w.add(&ops, &bob).await;
    w.p.delete(ResourceKind::Group, &okta("DELETE"), &ops, None).await.unwrap();
    assert!(!w.access(&bob).await.0, "deleting the granting group revokes");
    assert_eq!(
        w.access_events(start).await,
        vec![
            ev("Access Granted", "ann@x", "Access granted: added to Engineering"),
            ev("Access Revoked", "ann@x", "Access revoked: removed from Ops"),
            ev("Access Granted", "bob@x", "Access granted: added to Ops"),
            ev("Access Revoked", "bob@x", "Access revoked: group Ops was deleted"),
        ],
        "only real changes are events: joining a second granting group or leaving one of two is not"
    );
    // A group change's access events belong to the users they name: each is in that user's
    // history and found by their userName, not the group's.
    let detail = w.p.user_detail("http://scim.test/scim/v2", &bob).await.unwrap().unwrap();
    let history: Vec<&str> = detail.history.iter().map(|e| e.operation.as_str()).collect();
    assert!(history.contains(&"Access Revoked") && history.contains(&"Access Granted"), "{history:?}");
    assert!(detail.history.iter().all(|e| e.target_id.as_deref() == Some(bob.as_str())), "only bob's events");
    let found = w.p.query_events(&EventQuery { text: Some("bob@x".into()), ..Default::default() }).await.unwrap();
    assert!(found.events.iter().any(|e| e.operation == "Access Revoked"), "{:?}", found.events);
}

/// An admin's emergency suspension overrides the IdP until lifted, and is in the audit trail.
#[tokio::test]
async fn admin_suspension() {
    let w = World::new().await;
    let ann = w.user("ann@x").await;
    let start = w.last_id().await;
    let a = w.p.set_admin_suspension(&ann, true, "lost laptop").await.unwrap();
    assert_eq!((a.granted, a.reason.as_str()), (false, "Suspended by an admin: lost laptop"));
    w.patch(ResourceKind::User, &ann, json!([{"op":"replace","path":"title","value":"CTO"}])).await;
    assert!(!w.access(&ann).await.0, "an IdP update does not lift an admin's suspension");
    w.p.set_admin_suspension(&ann, false, "").await.unwrap();
    assert!(w.access(&ann).await.0);
    let ops: Vec<String> =
        w.p.query_events(&EventQuery { after_id: Some(start), ..Default::default() })
            .await
            .unwrap()
            .events
            .into_iter()
            .rev()
            .map(|e| e.operation)
            .collect();
    assert_eq!(
        ops,
        ["User Suspended by Admin", "Access Suspended", "Update User", "Admin Suspension Lifted", "Access Granted"]
    );
}

/// A write's event carries the before/after diff; membership changes list who was added and removed, by name.
#[tokio::test]
async fn write_events_carry_a_diff() {
    let w = World::new().await;
    let ann = w.user("ann@x").await;
    let eng = w.group("Engineering").await;
    w.patch(ResourceKind::User, &ann, json!([{"op":"Replace","path":"name.givenName","value":"Ann"},{"op":"replace","path":"active","value":"False"}])).await;
    w.add(&eng, &ann).await;
    let page = w.p.query_events(&EventQuery { limit: Some(10), ..Default::default() }).await.unwrap();
    let deactivate = page.events.iter().find(|e| e.operation == "Deactivate User").unwrap();
    let diff: Value = serde_json::from_str(deactivate.diff.as_deref().unwrap()).unwrap();
    assert_eq!(
        diff,
        json!([{"attribute":"active","before":true,"after":false},{"attribute":"name.givenName","before":null,"after":"Ann"}])
    );
    let add = page.events.iter().find(|e| e.operation == "Add to Group").unwrap();
    let diff: Value = serde_json::from_str(add.diff.as_deref().unwrap()).unwrap();
    assert_eq!(diff, json!([{"attribute":"members","added":["ann@x"],"removed":[]}]), "members by userName");
    w.remove(&eng, &ann).await;
    w.p.delete(ResourceKind::User, &okta("DELETE"), &ann, None).await.unwrap();
    let page = w.p.query_events(&EventQuery { limit: Some(10), ..Default::default() }).await.unwrap();
    let remove = page.events.iter().find(|e| e.operation == "Remove from Group").unwrap();
    let diff: Value = serde_json::from_str(remove.diff.as_deref().unwrap()).unwrap();
    assert_eq!(diff, json!([{"attribute":"members","added":[],"removed":["ann@x"]}]), "named while the user existed");
}

/// A membership change of tens of thousands of members at once (more than one statement can
/// bind) names every member in the event's diff.
#[tokio::test]
async fn a_large_membership_change_names_every_member() {
    let w = World::new().await;
    let spec = provisioning::seed::SeedSpec { users: 20_000, groups: 0, group_members: 0, events: 0 };
    w.p.seed(&spec, |_, _| {}).await.unwrap();
    let everyone = w.group("Everyone").await;
    let members: Vec<Value> = (0..20_000).map(|i| json!({"value": provisioning::seed::seed_user_id(i)})).collect();
    w.patch(ResourceKind::Group, &everyone, json!([{"op":"add","path":"members","value":members}])).await;
    let page = w.p.query_events(&EventQuery { limit: Some(5), ..Default::default() }).await.unwrap();
    let add = page.events.iter().find(|e| e.operation == "Add to Group").unwrap();
    let diff: Value = serde_json::from_str(add.diff.as_deref().unwrap()).unwrap();
    let added = diff[0]["added"].as_array().unwrap();
    assert_eq!(added.len(), 20_000);
    assert!(added.contains(&json!(provisioning::seed::seed_user_name(19_999))), "members by userName");
}

/// Export, the activity chart and retention work over the same log.
#[tokio::test]
async fn export_activity_and_retention() {
    let w = World::new().await;
    for i in 0..5 {
        w.user(&format!("u{i}@x")).await;
    }
    let q = EventQuery { operation: Some("Create User".into()), ..Default::default() };
    let csv = w.p.export_events(&q, provisioning::ExportFormat::Csv).await.unwrap();
    assert_eq!(csv.lines().count(), 6, "a header and five rows:\n{csv}");
    assert!(csv.lines().nth(1).unwrap().contains("u0@x"), "oldest first");
    let json: Value =
        serde_json::from_str(&w.p.export_events(&q, provisioning::ExportFormat::Json).await.unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5);
    let now = w.p.clock().now();
    let range = EventQuery {
        since: Some(provisioning::stamp(now - chrono::Duration::hours(1))),
        until: Some(provisioning::stamp(now + chrono::Duration::minutes(1))),
        ..Default::default()
    };
    let buckets = w.p.activity(&range, "minute").await.unwrap();
    assert_eq!(buckets.iter().map(|b| b.success).sum::<i64>(), 5, "{buckets:?}");
    let before = w.p.query_events(&EventQuery { limit: Some(1000), ..Default::default() }).await.unwrap().events.len();
    assert!(before > 5);
    let deleted = w.p.prune_events(None, Some(3)).await.unwrap();
    assert_eq!(deleted as usize, before - 3);
    assert!(
        w.p.set_log_retention(&provisioning::Retention { days: Some(0), rows: None }).await.is_err(),
        "at least a day"
    );
}

/// Free-text search finds events by userName, email, id and externalId (contains, ignoring
/// case), through the trigram index for three characters or more and a scan below that.
#[tokio::test]
async fn free_text_search() {
    let w = World::new().await;
    let created = w
        .p
        .create(
            ResourceKind::User,
            &okta("POST"),
            &json!({"schemas":[USER],"userName":"Zed.Quinn@Example.com","externalId":"00uQQ9","emails":[{"value":"zq@personal.example"}]}),
        )
        .await
        .unwrap();
    let id = created.resource.unwrap()["id"].as_str().unwrap().to_string();
    w.user("other@x").await;
    for text in ["zed.quinn", "QUINN@example", "zq@personal", "00uqq9", id.as_str(), "ze"] {
        let page = w.p.query_events(&EventQuery { text: Some(text.into()), ..Default::default() }).await.unwrap();
        assert!(!page.events.is_empty(), "{text} finds the create");
        assert!(
            page.events.iter().all(|e| e.target_id.as_deref() == Some(id.as_str())),
            "{text} finds only Zed's events"
        );
    }
    let none = w.p.query_events(&EventQuery { text: Some("nobody-here".into()), ..Default::default() }).await.unwrap();
    assert!(none.events.is_empty());
    // Every trigram of this text occurs in some event ("zed.q…" and "…er@x"), but no event
    // holds the whole text: the index narrows, the text decides.
    let spliced =
        w.p.query_events(&EventQuery { text: Some("zed.quinn@x".into()), ..Default::default() }).await.unwrap();
    assert!(spliced.events.is_empty(), "no event contains zed.quinn@x: {:?}", spliced.events);
    // Characters that mean something to LIKE or to the index's query syntax are plain text.
    for text in ["zed\"quinn", "100%", "a_b", "zed AND quinn", "*ed"] {
        let page = w.p.query_events(&EventQuery { text: Some(text.into()), ..Default::default() }).await.unwrap();
        assert!(page.events.is_empty(), "{text} matches nothing");
    }
}

/// The preview counts exactly the users `set_access_rule` then changes, and changes nothing itself.
#[tokio::test]
async fn preview_matches_the_rule_change() {
    let w = World::new().await;
    let (ann, bob) = (w.user("ann@x").await, w.user("bob@x").await);
    let eng = w.group("Engineering").await;
    w.add(&eng, &ann).await;
    let rule = AccessRule { mode: "groups".into(), granting_groups: vec![eng.clone()] };
    assert_eq!(w.p.preview_access_rule(&rule).await.unwrap(), 1, "only bob, outside Engineering, would lose access");
    assert!(w.access(&bob).await.0, "a preview changes nothing");
    assert_eq!(w.p.set_access_rule(&rule).await.unwrap(), 1, "the change matches the preview");
    let all = AccessRule { mode: "all".into(), granting_groups: vec![] };
    assert_eq!(w.p.preview_access_rule(&all).await.unwrap(), 1, "back to everyone: bob regains access");
}

/// Simulated traffic (a test sync) can be filtered in or out, and never counts as the IdP's
/// last request in the status header.
#[tokio::test]
async fn simulated_events_are_kept_apart() {
    let w = World::new().await;
    w.user("real@x").await;
    let mut ctx = okta("POST");
    ctx.simulated = true;
    w.p.create(ResourceKind::User, &ctx, &json!({"schemas":[USER],"userName":"sim@x"})).await.unwrap();
    let sim = w.p.query_events(&EventQuery { simulated: Some(true), ..Default::default() }).await.unwrap();
    assert!(!sim.events.is_empty() && sim.events.iter().all(|e| e.simulated));
    let real = w.p.query_events(&EventQuery { simulated: Some(false), ..Default::default() }).await.unwrap();
    assert!(
        real.events.iter().all(|e| !e.simulated)
            && real.events.iter().any(|e| e.target_name.as_deref() == Some("real@x"))
    );
    let status = w.p.status().await.unwrap();
    assert_eq!(
        status.last_request.unwrap().target_name.as_deref(),
        Some("real@x"),
        "the header ignores simulated requests"
    );
}

/// A group named by display name is found ignoring case; a name two groups share (an IdP's
/// retried POST makes a second) is refused with both ids instead of one picked, and either
/// is still found by its id.
#[tokio::test]
async fn a_shared_group_name_is_refused_not_guessed() {
    let w = World::new().await;
    let first = w.group("Staff").await;
    assert_eq!(w.p.group_detail("staff", 0, 10).await.unwrap().unwrap().group.id, first);
    let second = w.group("STAFF").await;
    let e = w.p.group_detail("Staff", 0, 10).await.expect_err("ambiguous");
    assert!(matches!(e, provisioning::Error::InvalidInput(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("2 groups are named") && msg.contains(&first) && msg.contains(&second), "{msg}");
    assert_eq!(w.p.group_detail(&second, 0, 10).await.unwrap().unwrap().group.id, second);
    assert!(w.p.group_detail("nobody", 0, 10).await.unwrap().is_none());
}
