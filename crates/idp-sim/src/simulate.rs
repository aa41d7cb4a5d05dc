//! The IdP simulator: plays one IdP's provisioning of a made-up directory (joiners, movers,
//! leavers) against a SCIM endpoint with that IdP's request shapes, then reads everything back
//! and compares it with what the IdP believes. Each shape cites the IdP behaviour it copies
//! (see the IdP notes: Okta's rename-with-id, Entra's `"False"`, JumpCloud's test connection).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{Client, Exchange, SpaceAs, base_url, encode};
use crate::directory::{Directory, Person, Step, Team, plan};
use crate::{Error, Profile};

pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The schema URN Entra adds to every group it creates.
const ENTRA_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
/// OneLogin templates sometimes carry the SCIM 1.1 core URN on a 2.0 endpoint.
const SCIM1_CORE: &str = "urn:scim:schemas:core:1.0";

/// What to simulate besides the IdP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase", default)]
pub struct SimOptions {
    /// People in the directory (default 50).
    pub users: usize,
    /// Groups in the directory (default 5); everyone starts in one of them.
    pub groups: usize,
    /// Makes userNames and group names unique to the run; random when `None`. Reuse one only
    /// against a fresh endpoint: users found by the existence check are adopted and updated, as
    /// an IdP links accounts, but the read-back assumes the run made the groups' members.
    pub run_id: Option<String>,
    /// Read every user and group back at the end and compare (default true).
    pub verify: bool,
    /// Delete every user and group of the run at the end (default false: they stay, so the admin
    /// can see them arrive). Not counted in `deleted`.
    pub cleanup: bool,
    /// Cancels the run when stopped: checked before each step, so no further step of the plan
    /// is sent; with `cleanup`, what the run created is still deleted.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub stop: StopFlag,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions { users: 50, groups: 5, run_id: None, verify: true, cleanup: false, stop: StopFlag::default() }
    }
}

/// Cancels a run from outside it: keep a clone, pass one in [`SimOptions::stop`], and call
/// [`StopFlag::stop`] from any thread or task.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop before its next step.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Equal when both are stopped or both are not, so options compare by what they ask for.
impl PartialEq for StopFlag {
    fn eq(&self, other: &Self) -> bool {
        self.is_stopped() == other.is_stopped()
    }
}

impl Eq for StopFlag {}

/// One thing that went wrong, with the exchange that shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The step, in the admin's words: "Create User ann.adams.0000@…".
    pub step: String,
    /// Why it counts as a failure.
    pub reason: String,
    pub exchange: Option<Exchange>,
}

/// A group as the IdP left it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct GroupState {
    pub display_name: String,
    pub id: Option<String>,
    /// The members' userNames, sorted.
    pub members: Vec<String>,
}

/// What the IdP believes the endpoint holds at the end: users that were created, by state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct DirectoryState {
    /// Every simulated userName ends with `@` and this domain.
    pub user_domain: String,
    pub active_users: usize,
    pub inactive_users: usize,
    pub deleted_users: usize,
    /// Groups not deleted.
    pub groups: Vec<GroupState>,
    pub deleted_groups: usize,
}

/// The summary of a run. Counts cover the directory's users and groups; the IdP's own test
/// connection is not counted, though its failures are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct SimReport {
    pub profile: Profile,
    pub base_url: String,
    pub run_id: String,
    pub users: usize,
    pub groups: usize,
    /// Users and groups created.
    pub created: usize,
    /// Profile updates, membership changes and renames.
    pub updated: usize,
    pub deactivated: usize,
    /// Users and groups deleted.
    pub deleted: usize,
    pub failed: usize,
    /// Users and groups read back and found as the IdP left them.
    pub verified: usize,
    pub requests: usize,
    pub duration_ms: u64,
    /// Set when the run stopped early because the endpoint stopped answering.
    pub aborted: Option<String>,
    /// The run was stopped through [`SimOptions::stop`] before its plan ended.
    pub cancelled: bool,
    /// Steps in the run's plan, the clean-up included: the progress callback's total.
    pub steps: usize,
    /// Steps run before the run ended, was aborted or was cancelled; the clean-up after a
    /// cancel is not counted.
    pub steps_done: usize,
    /// Users and groups deleted by `SimOptions::cleanup`.
    pub cleaned_up: usize,
    pub failures: Vec<Failure>,
    pub directory: DirectoryState,
}

impl SimReport {
    /// No failure, not aborted and not cancelled.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.aborted.is_none() && !self.cancelled
    }
}

/// Plays `profile` against the SCIM endpoint at `base_url` (e.g. `http://127.0.0.1:8787/scim/v2`)
/// with `token`. `progress(done, total)` is called after every step. Stopping `options.stop`
/// cancels the run before its next step; with `options.cleanup` it still deletes what it
/// created, and the report says it was cancelled. Fails only for an invalid URL or when no HTTP
/// client can be built; everything the endpoint does wrong is in the report.
pub async fn simulate(
    profile: Profile,
    base_url_str: &str,
    token: &str,
    options: SimOptions,
    mut progress: impl FnMut(usize, usize) + Send,
) -> Result<SimReport, Error> {
    let base = base_url(base_url_str)?;
    let client = Client::new(&base, Some(token), profile.user_agent(), profile.content_type())?;
    let run_id = options.run_id.clone().unwrap_or_else(new_run_id);
    let steps = plan(options.users, options.groups, profile.deletes(), profile.is_okta());
    let mut steps: Vec<Step> = steps
        .into_iter()
        .filter(|s| options.verify || !matches!(s, Step::VerifyUser(_) | Step::VerifyGroup(_)))
        .collect();
    if options.cleanup {
        steps.push(Step::Cleanup);
    }
    let start = Instant::now();
    let mut run = Run {
        profile,
        client,
        dir: Directory::new(&run_id, options.users, options.groups),
        run_id: run_id.clone(),
        counted: true,
        report: SimReport {
            profile,
            base_url: base.to_string(),
            run_id,
            users: options.users,
            groups: options.groups,
            created: 0,
            updated: 0,
            deactivated: 0,
            deleted: 0,
            failed: 0,
            verified: 0,
            requests: 0,
            duration_ms: 0,
            aborted: None,
            cancelled: false,
            steps: 0,
            steps_done: 0,
            cleaned_up: 0,
            failures: vec![],
            directory: DirectoryState {
                user_domain: String::new(),
                active_users: 0,
                inactive_users: 0,
                deleted_users: 0,
                groups: vec![],
                deleted_groups: 0,
            },
        },
    };
    let total = steps.len();
    run.report.steps = total;
    progress(0, total);
    for step in steps {
        if options.stop.is_stopped() {
            run.report.cancelled = true;
            break;
        }
        run.step(step).await;
        run.report.steps_done += 1;
        progress(run.report.steps_done, total);
        if run.report.aborted.is_some() {
            break;
        }
    }
    if run.report.cancelled && options.cleanup {
        run.step(Step::Cleanup).await;
    }
    let mut report = run.finish();
    report.duration_ms = start.elapsed().as_millis() as u64;
    Ok(report)
}

/// 8 hex digits, enough to keep concurrent runs on one server apart.
pub(crate) fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

struct Run {
    profile: Profile,
    client: Client,
    dir: Directory,
    run_id: String,
    /// Whether changes count in the report (not during the IdP's own test connection).
    counted: bool,
    report: SimReport,
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn user_path(id: &str) -> String {
    format!("/Users/{id}")
}

fn group_path(id: &str) -> String {
    format!("/Groups/{id}")
}

impl Run {
    /// Sends one request; returns the exchange when its status is one of `ok`, else records
    /// the failure (and aborts the run when nothing answered).
    async fn call(
        &mut self,
        step: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        ok: &[u16],
    ) -> Option<Exchange> {
        let ex = self.client.send(method, path, body).await;
        self.report.requests += 1;
        if ok.contains(&ex.status()) {
            return Some(ex);
        }
        let reason = match (&ex.status, &ex.error) {
            (None, e) => {
                let e = e.clone().unwrap_or_else(|| "no response".into());
                self.report.aborted = Some(format!("the endpoint stopped answering: {e}"));
                format!("no response: {e}")
            }
            // An IdP stops a run whose credentials are refused rather than fail every user.
            (Some(s @ (401 | 403)), _) => {
                self.report.aborted = Some(format!("the endpoint refused the token or the request ({s})"));
                format!("refused with {s}")
            }
            (Some(s), _) => {
                format!("expected {}, got {s}", ok.iter().map(u16::to_string).collect::<Vec<_>>().join(" or "))
            }
        };
        self.fail(step, reason, Some(ex));
        None
    }

    fn fail(&mut self, step: &str, reason: String, exchange: Option<Exchange>) {
        self.report.failed += 1;
        self.report.failures.push(Failure { step: step.to_string(), reason, exchange });
    }

    fn count(&mut self, field: fn(&mut SimReport) -> &mut usize) {
        if self.counted {
            *field(&mut self.report) += 1;
        }
    }

    fn space(&self) -> SpaceAs {
        if self.profile.is_entra() { SpaceAs::Plus } else { SpaceAs::Percent }
    }

    /// The existence check's query, as each IdP writes it.
    fn user_lookup(&self, user_name: &str) -> String {
        let filter = encode(&format!("userName eq \"{user_name}\""), self.space());
        if self.profile.is_okta() {
            // Okta pages even a lookup of one.
            format!("/Users?filter={filter}&startIndex=1&count=100")
        } else {
            format!("/Users?filter={filter}")
        }
    }

    async fn step(&mut self, step: Step) {
        match step {
            Step::TestConnection => self.test_connection().await,
            Step::Join(i) => self.join(i).await,
            Step::PushGroup(g) => self.push_group(g).await,
            Step::UpdateProfile(i) => self.update_profile(i).await,
            Step::MoveGroup { user, from, to } => self.move_group(user, from, to).await,
            Step::RenameGroup(g) => self.rename_group(g).await,
            Step::Deactivate(i) => self.deactivate(i).await,
            Step::DeleteUser(i) => self.delete_user(i).await,
            Step::DeleteGroup(g) => self.delete_group(g).await,
            Step::Import => self.import().await,
            Step::VerifyUser(i) => self.verify_user(i).await,
            Step::VerifyGroup(g) => self.verify_group(g).await,
            Step::Cleanup => self.cleanup().await,
        }
    }

    /// Each IdP's own connection test, before it provisions anything.
    async fn test_connection(&mut self) {
        match self.profile {
            Profile::Entra | Profile::EntraFlag => {
                // Entra looks up a random GUID and expects an empty list.
                let guid = uuid::Uuid::new_v4().to_string();
                let step = "Test Connection";
                if let Some(ex) = self.call(step, Method::GET, &self.user_lookup(&guid), None, &[200]).await
                    && ex.json()["totalResults"] != json!(0)
                {
                    self.fail(step, "a lookup of a random userName must answer totalResults: 0".into(), Some(ex));
                }
            }
            Profile::Okta | Profile::OktaPut => {
                self.call("Test Connection", Method::GET, "/Users?startIndex=1&count=2", None, &[200]).await;
            }
            Profile::OneLogin => {}
            Profile::JumpCloud => self.jumpcloud_test_connection().await,
        }
    }

    /// JumpCloud creates a real user and group, adds and removes the member (Entra-style value
    /// list), then deletes both; if a DELETE fails it deactivates instead.
    async fn jumpcloud_test_connection(&mut self) {
        self.counted = false;
        let name = format!("jc-test-{}@sim-{}.example.com", self.run_id, self.run_id);
        let step = "Test Connection";
        let user = json!({"schemas":[USER],"userName":name,"active":true});
        let Some(u) = self.call(step, Method::POST, "/Users", Some(user), &[201]).await.and_then(|e| e.id()) else {
            self.counted = true;
            return;
        };
        let group = json!({"schemas":[GROUP],"displayName":format!("jc-test-group-{}", self.run_id)});
        if let Some(g) = self.call(step, Method::POST, "/Groups", Some(group), &[201]).await.and_then(|e| e.id()) {
            let add = patch(json!([{"op":"add","path":"members","value":[{"value":u}]}]));
            self.call(step, Method::PATCH, &group_path(&g), Some(add), &[200, 204]).await;
            let remove = patch(json!([{"op":"remove","path":"members","value":[{"value":u}]}]));
            self.call(step, Method::PATCH, &group_path(&g), Some(remove), &[200, 204]).await;
            self.call(step, Method::DELETE, &group_path(&g), None, &[200, 204]).await;
        }
        if self.call(step, Method::DELETE, &user_path(&u), None, &[200, 204]).await.is_none() {
            let off = patch(json!([{"op":"replace","path":"active","value":false}]));
            self.call(step, Method::PATCH, &user_path(&u), Some(off), &[200, 204]).await;
        }
        self.counted = true;
    }

    /// The full user as the IdP sends it on create and PUT.
    fn user_body(&self, i: usize, create: bool) -> Value {
        let p = &self.dir.people[i];
        let mut body = match self.profile {
            Profile::Okta | Profile::OktaPut => json!({
                "schemas": [USER],
                "userName": p.user_name,
                "name": {"givenName": p.given, "familyName": p.family},
                "emails": [{"primary": true, "value": p.user_name, "type": "work"}],
                "displayName": p.display_name(),
                "locale": "en-US",
                "externalId": p.external_id,
                "title": p.title,
                "active": p.active,
            }),
            Profile::Entra | Profile::EntraFlag => json!({
                "schemas": [USER, ENTERPRISE],
                "externalId": p.external_id,
                "userName": p.user_name,
                "active": p.active,
                "displayName": p.display_name(),
                "title": p.title,
                "meta": {"resourceType": "User"},
                "roles": [],
                "name": {"formatted": p.display_name(), "familyName": p.family, "givenName": p.given},
                "emails": [{"primary": true, "type": "work", "value": p.user_name}],
                ENTERPRISE: {"department": p.department, "employeeNumber": p.employee_number},
            }),
            Profile::OneLogin => {
                let core = if i % 2 == 1 { SCIM1_CORE } else { USER };
                let mut enterprise = json!({"department": p.department});
                let boss = &self.dir.people[0];
                if let (true, Some(id)) = (i > 0, &boss.id) {
                    enterprise["manager"] = json!({"value": id, "displayName": boss.display_name()});
                }
                json!({
                    "schemas": [core, ENTERPRISE],
                    "userName": p.user_name,
                    "externalId": p.external_id,
                    "name": {"givenName": p.given, "familyName": p.family},
                    "emails": [{"value": p.user_name, "primary": true}],
                    "displayName": p.display_name(),
                    "title": p.title,
                    "active": p.active,
                    ENTERPRISE: enterprise,
                })
            }
            Profile::JumpCloud => json!({
                "schemas": [USER],
                "userName": p.user_name,
                "externalId": p.external_id,
                "name": {"givenName": p.given, "familyName": p.family},
                "emails": [{"value": p.user_name, "type": "work", "primary": true}],
                "displayName": p.display_name(),
                "title": p.title,
                "active": p.active,
            }),
        };
        if create && self.profile.is_okta() {
            // Okta sends a password and an empty groups list on create.
            body["password"] = json!(format!("Sim-{}-{i}!", self.run_id));
            body["groups"] = json!([]);
        }
        if let (false, Some(id)) = (create, &p.id) {
            body["id"] = json!(id);
        }
        body
    }

    fn group_members(&self, team: &Team) -> Vec<Value> {
        team.members
            .iter()
            .filter_map(|&m| {
                let p = &self.dir.people[m];
                p.id.as_ref().filter(|_| !p.deleted).map(|id| match self.profile {
                    Profile::Entra => json!({"$ref": null, "value": id}),
                    Profile::Okta | Profile::OktaPut | Profile::OneLogin => {
                        json!({"value": id, "display": p.user_name})
                    }
                    Profile::EntraFlag | Profile::JumpCloud => json!({"value": id}),
                })
            })
            .collect()
    }

    /// A joiner: the existence check, then create; a user that already exists is adopted and
    /// updated, as an IdP links to an existing account.
    async fn join(&mut self, i: usize) {
        let name = self.dir.people[i].user_name.clone();
        let step = format!("Create User {name}");
        let Some(found) = self.call(&step, Method::GET, &self.user_lookup(&name), None, &[200, 404]).await else {
            return;
        };
        if let Some(id) = found.json()["Resources"].get(0).and_then(|r| r["id"].as_str()) {
            self.dir.people[i].id = Some(id.to_string());
            self.update_profile(i).await;
            return;
        }
        let body = self.user_body(i, true);
        if let Some(ex) = self.call(&step, Method::POST, "/Users", Some(body), &[201]).await {
            match ex.id() {
                Some(id) => {
                    self.dir.people[i].id = Some(id);
                    self.count(|r| &mut r.created);
                }
                None => self.fail(&step, "the created user has no id".into(), Some(ex)),
            }
        }
    }

    /// Group push: create the group, then give it its members the IdP's way.
    async fn push_group(&mut self, g: usize) {
        let team = self.dir.teams[g].clone();
        let step = format!("Push Group {}", team.display_name);
        if self.profile.is_entra() {
            // Entra looks the group up first, without its members.
            let filter = encode(&format!("displayName eq \"{}\"", team.display_name), SpaceAs::Plus);
            let path = format!("/Groups?excludedAttributes=members&filter={filter}");
            let Some(found) = self.call(&step, Method::GET, &path, None, &[200]).await else { return };
            if let Some(id) = found.json()["Resources"].get(0).and_then(|r| r["id"].as_str()) {
                self.dir.teams[g].id = Some(id.to_string());
                self.add_members(g, &step).await;
                return;
            }
        }
        let members = self.group_members(&team);
        let body = match self.profile {
            Profile::Okta | Profile::OktaPut => json!({"schemas":[GROUP],"displayName":team.display_name,"members":[]}),
            Profile::Entra | Profile::EntraFlag => json!({
                "schemas": [GROUP, ENTRA_GROUP],
                "externalId": team.external_id,
                "displayName": team.display_name,
                "meta": {"resourceType": "Group"},
                "members": [],
            }),
            Profile::OneLogin => json!({"schemas":[GROUP],"displayName":team.display_name,"members":members}),
            Profile::JumpCloud => json!({"schemas":[GROUP],"displayName":team.display_name}),
        };
        let Some(ex) = self.call(&step, Method::POST, "/Groups", Some(body), &[201]).await else { return };
        let Some(id) = ex.id() else {
            self.fail(&step, "the created group has no id".into(), Some(ex));
            return;
        };
        self.dir.teams[g].id = Some(id);
        self.count(|r| &mut r.created);
        if self.profile != Profile::OneLogin {
            self.add_members(g, &step).await;
        }
    }

    /// Adds every member of a freshly pushed group in one request.
    async fn add_members(&mut self, g: usize, step: &str) {
        let team = self.dir.teams[g].clone();
        let (Some(id), members) = (team.id.clone(), self.group_members(&team)) else { return };
        if members.is_empty() {
            return;
        }
        let (method, body) = match self.profile {
            // Okta sends the rename-with-id along with every membership change; its members have no type.
            Profile::Okta => (
                Method::PATCH,
                patch(json!([{"op":"replace","value":{"id":id,"displayName":team.display_name}},
                             {"op":"add","path":"members","value":members}])),
            ),
            Profile::OktaPut => {
                (Method::PUT, json!({"schemas":[GROUP],"id":id,"displayName":team.display_name,"members":members}))
            }
            Profile::Entra => (Method::PATCH, patch(json!([{"op":"Add","path":"members","value":members}]))),
            _ => (Method::PATCH, patch(json!([{"op":"add","path":"members","value":members}]))),
        };
        self.call(step, method, &group_path(&id), Some(body), &[200, 204]).await;
    }

    /// A mover's new title and department, sent the IdP's way.
    async fn update_profile(&mut self, i: usize) {
        let Some(id) = self.dir.people[i].id.clone() else { return };
        {
            let p = &mut self.dir.people[i];
            if !p.title.starts_with("Senior ") {
                p.title = format!("Senior {}", p.title);
            }
            p.department = format!("{} EMEA", p.department.trim_end_matches(" EMEA"));
        }
        let p = self.dir.people[i].clone();
        let step = format!("Update User {}", p.user_name);
        let (method, body) = match self.profile {
            Profile::Entra => {
                let mut ops = vec![
                    json!({"op":"Replace","path":"title","value":p.title}),
                    json!({"op":"Replace","path":format!("{ENTERPRISE}:department"),"value":p.department}),
                    json!({"op":"Replace","path":"emails[type eq \"work\"].value","value":p.user_name}),
                ];
                // Entra sends the manager as a plain string, the manager's id.
                if let (true, Some(boss)) = (i > 0, &self.dir.people[0].id) {
                    ops.push(json!({"op":"Add","path":format!("{ENTERPRISE}:manager"),"value":boss}));
                }
                (Method::PATCH, patch(Value::Array(ops)))
            }
            // With the flag, Entra folds the changes into one path-less replace with dotted and URN keys.
            Profile::EntraFlag => (
                Method::PATCH,
                patch(json!([{"op":"replace","value":{
                    "title": p.title,
                    "name.familyName": p.family,
                    format!("{ENTERPRISE}:department"): p.department,
                }}])),
            ),
            _ => (Method::PUT, self.user_body(i, false)),
        };
        if self.call(&step, method, &user_path(&id), Some(body), &[200, 204]).await.is_some() {
            self.count(|r| &mut r.updated);
        }
    }

    async fn move_group(&mut self, user: usize, from: usize, to: usize) {
        let p: Person = self.dir.people[user].clone();
        let (Some(uid), Some(from_id), Some(to_id)) =
            (p.id.clone(), self.dir.teams[from].id.clone(), self.dir.teams[to].id.clone())
        else {
            return;
        };
        self.dir.teams[from].members.remove(&user);
        self.dir.teams[to].members.insert(user);
        let step = format!(
            "Move {} from {} to {}",
            p.user_name, self.dir.teams[from].display_name, self.dir.teams[to].display_name
        );
        let filter_remove = json!({"op":"remove","path":format!("members[value eq \"{uid}\"]")});
        let bodies: [(Method, String, Value); 2] = match self.profile {
            Profile::Okta => {
                let rename =
                    |g: &Team, id: &str| json!({"op":"replace","value":{"id":id,"displayName":g.display_name}});
                [
                    (
                        Method::PATCH,
                        from_id.clone(),
                        patch(json!([rename(&self.dir.teams[from], &from_id), filter_remove])),
                    ),
                    (
                        Method::PATCH,
                        to_id.clone(),
                        patch(json!([rename(&self.dir.teams[to], &to_id),
                            {"op":"add","path":"members","value":[{"value":uid,"display":p.user_name}]}])),
                    ),
                ]
            }
            Profile::OktaPut => {
                let full = |g: usize, id: &str| {
                    let t = &self.dir.teams[g];
                    json!({"schemas":[GROUP],"id":id,"displayName":t.display_name,"members":self.group_members(t)})
                };
                [(Method::PUT, from_id.clone(), full(from, &from_id)), (Method::PUT, to_id.clone(), full(to, &to_id))]
            }
            Profile::Entra => [
                // Entra puts the members to remove in the value, not in the path.
                (
                    Method::PATCH,
                    from_id.clone(),
                    patch(json!([{"op":"Remove","path":"members","value":[{"value":uid}]}])),
                ),
                (
                    Method::PATCH,
                    to_id.clone(),
                    patch(json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":uid}]}])),
                ),
            ],
            Profile::JumpCloud => [
                (
                    Method::PATCH,
                    from_id.clone(),
                    patch(json!([{"op":"remove","path":"members","value":[{"value":uid}]}])),
                ),
                (Method::PATCH, to_id.clone(), patch(json!([{"op":"add","path":"members","value":[{"value":uid}]}]))),
            ],
            Profile::EntraFlag | Profile::OneLogin => [
                (Method::PATCH, from_id.clone(), patch(json!([filter_remove]))),
                (Method::PATCH, to_id.clone(), patch(json!([{"op":"add","path":"members","value":[{"value":uid}]}]))),
            ],
        };
        let mut ok = true;
        for (method, id, body) in bodies {
            ok &= self.call(&step, method, &group_path(&id), Some(body), &[200, 204]).await.is_some();
        }
        if ok {
            self.count(|r| &mut r.updated);
        }
    }

    async fn rename_group(&mut self, g: usize) {
        let Some(id) = self.dir.teams[g].id.clone() else { return };
        let old = self.dir.teams[g].display_name.clone();
        let new = old.replacen(" (sim ", " EMEA (sim ", 1);
        self.dir.teams[g].display_name = new.clone();
        let step = format!("Rename Group {old} to {new}");
        let (method, body) = match self.profile {
            // Okta's rename: a path-less replace of {id, displayName}, which must not touch members.
            Profile::Okta => (Method::PATCH, patch(json!([{"op":"replace","value":{"id":id,"displayName":new}}]))),
            Profile::OktaPut | Profile::OneLogin => {
                let t = &self.dir.teams[g];
                (Method::PUT, json!({"schemas":[GROUP],"id":id,"displayName":new,"members":self.group_members(t)}))
            }
            Profile::Entra => (Method::PATCH, patch(json!([{"op":"Replace","path":"displayName","value":new}]))),
            Profile::EntraFlag | Profile::JumpCloud => {
                (Method::PATCH, patch(json!([{"op":"replace","path":"displayName","value":new}])))
            }
        };
        if self.call(&step, method, &group_path(&id), Some(body), &[200, 204]).await.is_some() {
            self.count(|r| &mut r.updated);
        }
    }

    async fn deactivate(&mut self, i: usize) {
        let Some(id) = self.dir.people[i].id.clone() else { return };
        self.dir.people[i].active = false;
        let step = format!("Deactivate User {}", self.dir.people[i].user_name);
        let (method, body) = match self.profile {
            // Okta OIN: a path-less replace.
            Profile::Okta => (Method::PATCH, patch(json!([{"op":"replace","value":{"active":false}}]))),
            // Okta custom apps and OneLogin: the full user with active false.
            Profile::OktaPut | Profile::OneLogin => (Method::PUT, self.user_body(i, false)),
            // Entra sends the boolean as a capitalised string.
            Profile::Entra => (Method::PATCH, patch(json!([{"op":"Replace","path":"active","value":"False"}]))),
            Profile::EntraFlag | Profile::JumpCloud => {
                (Method::PATCH, patch(json!([{"op":"replace","path":"active","value":false}])))
            }
        };
        if self.call(&step, method, &user_path(&id), Some(body), &[200, 204]).await.is_some() {
            self.count(|r| &mut r.deactivated);
        }
    }

    async fn delete_user(&mut self, i: usize) {
        let Some(id) = self.dir.people[i].id.clone() else { return };
        self.dir.people[i].deleted = true;
        let step = format!("Delete User {}", self.dir.people[i].user_name);
        if self.call(&step, Method::DELETE, &user_path(&id), None, &[200, 204]).await.is_some() {
            self.count(|r| &mut r.deleted);
        }
    }

    async fn delete_group(&mut self, g: usize) {
        let Some(id) = self.dir.teams[g].id.clone() else { return };
        self.dir.teams[g].deleted = true;
        let step = format!("Delete Group {}", self.dir.teams[g].display_name);
        if self.call(&step, Method::DELETE, &group_path(&id), None, &[200, 204]).await.is_some() {
            self.count(|r| &mut r.deleted);
        }
    }

    /// Okta's import: `startIndex` and `count=100` until `totalResults`; every simulated user
    /// that was not deleted must come back exactly once.
    async fn import(&mut self) {
        let step = "Import Users";
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut start = 1u64;
        // At most 100,000 users; past that the import is not compared.
        let mut complete = false;
        for _ in 0..1000 {
            let path = format!("/Users?startIndex={start}&count=100");
            let Some(ex) = self.call(step, Method::GET, &path, None, &[200]).await else { return };
            let Some(total) = ex.json()["totalResults"].as_u64() else {
                self.fail(step, "totalResults must be a JSON integer".into(), Some(ex));
                return;
            };
            let page = ex.json()["Resources"].as_array().cloned().unwrap_or_default();
            for name in page.iter().filter_map(|r| r["userName"].as_str()) {
                *seen.entry(name.to_lowercase()).or_default() += 1;
            }
            start += 100;
            if page.is_empty() || start > total {
                complete = true;
                break;
            }
        }
        if !complete {
            return;
        }
        let missing: Vec<&str> = self
            .dir
            .people
            .iter()
            .filter(|p| p.id.is_some() && !p.deleted)
            .map(|p| p.user_name.as_str())
            .filter(|n| seen.get(&n.to_lowercase()) != Some(&1))
            .collect();
        if let Some(first) = missing.first() {
            let reason = format!("{} users were missing or repeated in the import, e.g. {first}", missing.len());
            self.fail(step, reason, None);
        }
    }

    async fn verify_user(&mut self, i: usize) {
        let p = self.dir.people[i].clone();
        let Some(id) = p.id.clone() else { return };
        let step = format!("Verify User {}", p.user_name);
        if p.deleted {
            if self.call(&step, Method::GET, &user_path(&id), None, &[404]).await.is_some() {
                self.report.verified += 1;
            }
            return;
        }
        let Some(ex) = self.call(&step, Method::GET, &user_path(&id), None, &[200]).await else { return };
        let u = ex.json();
        let mut wrong = vec![];
        if u["active"].as_bool() != Some(p.active) {
            wrong.push(format!("active is {}, the IdP sent {}", u["active"], p.active));
        }
        if !u["userName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&p.user_name)) {
            wrong.push(format!("userName is {}, the IdP sent {}", u["userName"], p.user_name));
        }
        if u["title"].as_str() != Some(p.title.as_str()) {
            wrong.push(format!("title is {}, the IdP sent {:?}", u["title"], p.title));
        }
        if wrong.is_empty() {
            self.report.verified += 1;
        } else {
            self.fail(&step, wrong.join("; "), Some(ex));
        }
    }

    async fn verify_group(&mut self, g: usize) {
        let t = self.dir.teams[g].clone();
        let Some(id) = t.id.clone() else { return };
        let step = format!("Verify Group {}", t.display_name);
        if t.deleted {
            if self.call(&step, Method::GET, &group_path(&id), None, &[404]).await.is_some() {
                self.report.verified += 1;
            }
            return;
        }
        let Some(ex) = self.call(&step, Method::GET, &group_path(&id), None, &[200]).await else { return };
        let mut want: Vec<String> = t
            .members
            .iter()
            .filter_map(|&m| self.dir.people[m].id.clone().filter(|_| !self.dir.people[m].deleted))
            .collect();
        want.sort();
        let mut got: Vec<String> = ex.json()["members"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["value"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        got.sort();
        let mut wrong = vec![];
        if ex.json()["displayName"].as_str() != Some(t.display_name.as_str()) {
            wrong.push(format!("displayName is {}, the IdP sent {:?}", ex.json()["displayName"], t.display_name));
        }
        if got != want {
            wrong.push(format!("{} members, the IdP expects {}", got.len(), want.len()));
        }
        if wrong.is_empty() {
            self.report.verified += 1;
        } else {
            self.fail(&step, wrong.join("; "), Some(ex));
        }
    }

    /// Deletes what the run left, groups first.
    async fn cleanup(&mut self) {
        let groups =
            self.dir.teams.iter().filter(|t| !t.deleted).filter_map(|t| t.id.clone()).map(|id| group_path(&id));
        let users = self.dir.people.iter().filter(|p| !p.deleted).filter_map(|p| p.id.clone()).map(|id| user_path(&id));
        let paths: Vec<String> = groups.chain(users).collect();
        for path in paths {
            if self.call("Clean Up", Method::DELETE, &path, None, &[200, 204, 404]).await.is_some() {
                self.report.cleaned_up += 1;
            }
            if self.report.aborted.is_some() {
                return;
            }
        }
    }

    fn finish(mut self) -> SimReport {
        let created = || self.dir.people.iter().filter(|p| p.id.is_some());
        let state = DirectoryState {
            user_domain: format!("sim-{}.example.com", self.run_id),
            active_users: created().filter(|p| !p.deleted && p.active).count(),
            inactive_users: created().filter(|p| !p.deleted && !p.active).count(),
            deleted_users: created().filter(|p| p.deleted).count(),
            groups: self
                .dir
                .teams
                .iter()
                .filter(|t| !t.deleted && t.id.is_some())
                .map(|t| {
                    let mut members: Vec<String> = t
                        .members
                        .iter()
                        .map(|&m| &self.dir.people[m])
                        .filter(|p| p.id.is_some() && !p.deleted)
                        .map(|p| p.user_name.clone())
                        .collect();
                    members.sort();
                    GroupState { display_name: t.display_name.clone(), id: t.id.clone(), members }
                })
                .collect(),
            deleted_groups: self.dir.teams.iter().filter(|t| t.deleted && t.id.is_some()).count(),
        };
        self.report.directory = state;
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run stopped before it starts sends nothing, not even its clean-up of nothing, and says
    /// it was cancelled after none of its steps.
    #[tokio::test]
    async fn a_stopped_run_sends_nothing() {
        let stop = StopFlag::new();
        let options = SimOptions { users: 10, groups: 2, cleanup: true, stop: stop.clone(), ..SimOptions::default() };
        stop.stop();
        let mut ticks = vec![];
        let r = simulate(Profile::Okta, "http://127.0.0.1:9/scim/v2", "t", options, |done, total| {
            ticks.push((done, total));
        })
        .await
        .unwrap();
        assert!(r.cancelled && !r.ok(), "the report says it was cancelled");
        assert_eq!(r.aborted, None, "a cancel is not the endpoint failing");
        assert_eq!((r.steps_done, r.requests, r.created, r.cleaned_up), (0, 0, 0, 0));
        assert!(r.steps > 10, "the plan's size is reported: {}", r.steps);
        assert_eq!(ticks, [(0, r.steps)], "only the start is reported");
    }

    #[test]
    fn stop_flags_are_shared_by_their_clones() {
        let stop = StopFlag::new();
        let options = SimOptions { stop: stop.clone(), ..SimOptions::default() };
        assert_eq!(options, SimOptions::default(), "a flag not stopped leaves the defaults");
        stop.stop();
        assert!(options.stop.is_stopped());
        assert_ne!(options, SimOptions::default());
    }
}
