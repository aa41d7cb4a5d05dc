//! The endpoint checker: named pass/fail checks of any SCIM endpoint against RFC 7643/7644 and
//! the shapes Okta and Entra really send. Each failure carries the exchange that shows it.
//!
//! The checks create three users and a few groups whose names carry a run id, and delete them
//! all at the end whatever failed. Each group check works on a group of its own, so one broken
//! behaviour fails its own check and not the ones after it.

use std::time::Instant;

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Error;
use crate::client::{CHECKER_USER_AGENT, Client, Exchange, SpaceAs, base_url, encode};
use crate::simulate::{ENTERPRISE, GROUP, PATCH_OP, USER, new_run_id};

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// Every check, by name, with what it proves, in the order they run (for a UI to list upfront).
pub const CHECKS: [(&str, &str); 29] = [
    ("auth.missing-token-401", "a request without a token is refused with 401"),
    ("auth.wrong-token-401", "a request with a wrong token is refused with 401"),
    ("discovery.service-provider-config", "GET /ServiceProviderConfig says PATCH and filters are supported"),
    ("discovery.resource-types", "GET /ResourceTypes lists User and Group"),
    ("discovery.schemas", "GET /Schemas holds the core User and Group schemas"),
    ("crud.create-user", "POST /Users answers 201 with an id and the userName sent"),
    ("crud.get-user", "GET /Users/{id} returns the user"),
    ("crud.replace-user", "PUT /Users/{id} replaces: omitted attributes are cleared"),
    ("crud.patch-user", "PATCH /Users/{id} with a path replaces that attribute"),
    ("errors.uniqueness-409", "a duplicate userName, differently cased, is 409 uniqueness"),
    ("errors.not-found-404", "GET and PUT of an unknown id are 404 with a SCIM error body"),
    ("errors.invalid-filter-400", "an unparseable filter is 400 invalidFilter"),
    ("filter.username-case-insensitive", "userName eq matches without regard to case (RFC 7643 §4.1.1)"),
    ("filter.external-id", "externalId eq finds exactly one user"),
    ("filter.no-match-empty-list", "a filter matching nothing is 200 with totalResults 0"),
    ("paging.integers", "totalResults, itemsPerPage and startIndex are JSON integers"),
    ("paging.total-results", "totalResults counts every match, not the page"),
    ("paging.stable-order", "startIndex/count pages are stable and together hold every user once"),
    ("patch.entra-string-booleans", "Entra's {\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}"),
    ("patch.entra-value-path", "Entra's emails[type eq \"work\"].value paths replace and create"),
    ("patch.entra-dotted-keys", "Entra (aadOptscim062020): a path-less replace with dotted and URN keys"),
    ("patch.okta-deactivate", "Okta's {\"op\":\"replace\",\"value\":{\"active\":false}}; still found after"),
    ("crud.create-group", "POST /Groups with members; GET returns them"),
    ("filter.group-display-name-exact", "displayName eq finds exactly one group, and no partial match"),
    (
        "patch.okta-rename-keeps-members",
        "Okta's rename {\"op\":\"replace\",\"value\":{id,displayName}} keeps every member",
    ),
    ("patch.okta-membership-change", "Okta's membership PATCH: rename-with-id, remove members[value eq], add"),
    (
        "patch.entra-member-remove-by-value",
        "Entra's {\"op\":\"Remove\",\"path\":\"members\",\"value\":[..]} removes only those",
    ),
    ("crud.delete-user", "DELETE /Users/{id} answers 204 and the user is gone (404)"),
    ("cleanup", "everything the checks created is deleted again"),
];

/// The outcome of one named check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// A stable id, `area.what`: `filter.username-case-insensitive`.
    pub name: String,
    /// What the check proves, in one line.
    pub description: String,
    pub passed: bool,
    /// Why it failed.
    pub detail: Option<String>,
    /// The request and response that failed it.
    pub exchange: Option<Exchange>,
    pub latency_ms: f64,
}

/// Every check's result, in the order they ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub base_url: String,
    /// In the userNames and group names the checks created (and deleted).
    pub run_id: String,
    pub passed: usize,
    pub failed: usize,
    pub duration_ms: u64,
    pub checks: Vec<CheckResult>,
}

impl CheckReport {
    /// Every check passed.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// The names of the failed checks.
    pub fn failed_names(&self) -> Vec<&str> {
        self.checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect()
    }
}

/// Why a check failed.
struct Fail {
    detail: String,
    exchange: Option<Box<Exchange>>,
}

type Outcome = Result<(), Fail>;

fn fail(detail: impl Into<String>, ex: &Exchange) -> Fail {
    Fail { detail: detail.into(), exchange: Some(Box::new(ex.clone())) }
}

fn not_run(needs: &str) -> Fail {
    Fail { detail: format!("not run: it needs {needs}, which failed"), exchange: None }
}

/// Fails unless `cond`.
fn ensure(cond: bool, detail: impl Into<String>, ex: &Exchange) -> Outcome {
    if cond { Ok(()) } else { Err(fail(detail, ex)) }
}

fn status(ex: Exchange, ok: &[u16]) -> Result<Exchange, Fail> {
    if ok.contains(&ex.status()) {
        return Ok(ex);
    }
    let want = ok.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ");
    let detail = match (&ex.status, &ex.error) {
        (None, e) => format!("expected {want}, got no response: {}", e.as_deref().unwrap_or("?")),
        (Some(s), _) => format!("expected {want}, got {s}"),
    };
    Err(fail(detail, &ex))
}

/// A count as a number, or a numeric string: checks other than `paging.integers` look past a
/// stringly `totalResults`, so that one bug fails one check.
fn loose_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut m: Vec<String> = group["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["value"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    m.sort();
    m
}

fn sorted(v: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn is_scim_error(body: &Value, status: &str) -> bool {
    body["schemas"].as_array().is_some_and(|s| s.iter().any(|s| s == ERROR_URN))
        && (body["status"] == json!(status)
            || body["status"].as_u64().map(|s| s.to_string()).as_deref() == Some(status))
}

/// Checks the SCIM endpoint at `base_url` with `token`. Fails only for an invalid URL or when no
/// HTTP client can be built; a server that does not answer fails its checks instead.
pub async fn check(base_url_str: &str, token: &str) -> Result<CheckReport, Error> {
    let base = base_url(base_url_str)?;
    let client = Client::new(&base, Some(token), CHECKER_USER_AGENT, "application/scim+json")?;
    let run_id = new_run_id();
    let start = Instant::now();
    let mut c = Checker { client, run_id: run_id.clone(), results: vec![], users: vec![], groups: vec![] };
    c.run().await;
    c.cleanup().await;
    let passed = c.results.iter().filter(|r| r.passed).count();
    Ok(CheckReport {
        base_url: base.to_string(),
        run_id,
        passed,
        failed: c.results.len() - passed,
        duration_ms: start.elapsed().as_millis() as u64,
        checks: c.results,
    })
}

struct Checker {
    client: Client,
    run_id: String,
    results: Vec<CheckResult>,
    /// Everything created, for the cleanup.
    users: Vec<String>,
    groups: Vec<String>,
}

impl Checker {
    fn record(&mut self, name: &str, started: Instant, outcome: Outcome) {
        let description = CHECKS.iter().find(|(n, _)| *n == name).map_or("", |(_, d)| d);
        debug_assert!(!description.is_empty(), "{name} is listed in CHECKS");
        let (passed, detail, exchange) = match outcome {
            Ok(()) => (true, None, None),
            Err(f) => (false, Some(f.detail), f.exchange.map(|e| *e)),
        };
        self.results.push(CheckResult {
            name: name.into(),
            description: description.into(),
            passed,
            detail,
            exchange,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
    }

    async fn get(&self, path: &str) -> Exchange {
        self.client.send(Method::GET, path, None).await
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> Exchange {
        self.client.send(method, path, Some(body)).await
    }

    fn user_name(&self, tag: &str) -> String {
        // Mixed case on purpose: the case-insensitive lookup and the uniqueness check rely on it.
        format!("TwCheck-{}-{tag}@Check.Example.com", self.run_id)
    }

    fn user_body(&self, tag: &str) -> Value {
        json!({
            "schemas": [USER, ENTERPRISE],
            "userName": self.user_name(tag),
            "externalId": format!("twcheck-{}-{tag}", self.run_id),
            "name": {"givenName": "Check", "familyName": tag},
            "displayName": format!("Check {tag}"),
            "emails": [{"primary": true, "type": "work", "value": format!("{tag}@check.example.com")}],
            "title": "Tester",
            "active": true,
        })
    }

    async fn create_user(&mut self, tag: &str) -> Result<String, Fail> {
        let ex = status(self.send(Method::POST, "/Users", self.user_body(tag)).await, &[201])?;
        let id = ex.id().ok_or_else(|| fail("the response has no id", &ex))?;
        self.users.push(id.clone());
        ensure(
            ex.json()["userName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&self.user_name(tag))),
            "the response's userName differs from the one sent",
            &ex,
        )?;
        Ok(id)
    }

    async fn create_group(&mut self, tag: &str, members: &[&String]) -> Result<(String, String), Fail> {
        let name = format!("TwCheck {} {tag}", self.run_id);
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let body = json!({"schemas": [GROUP], "displayName": name, "members": members});
        let ex = status(self.send(Method::POST, "/Groups", body).await, &[201])?;
        let id = ex.id().ok_or_else(|| fail("the response has no id", &ex))?;
        self.groups.push(id.clone());
        Ok((id, name))
    }

    async fn members_are(&self, gid: &str, want: &[&String], why: &str) -> Outcome {
        let ex = status(self.get(&format!("/Groups/{gid}")).await, &[200])?;
        let got = member_ids(ex.json());
        ensure(got == sorted(want), format!("{why}: {} members, expected {}", got.len(), want.len()), &ex)
    }

    async fn run(&mut self) {
        self.auth().await;
        self.discovery().await;

        let t = Instant::now();
        let a = self.create_user("A").await;
        self.record("crud.create-user", t, a.as_ref().map(|_| ()).map_err(clone_fail));
        let b = self.create_user("B").await.ok();
        let c = self.create_user("C").await.ok();
        let a = a.ok();

        self.crud(a.as_deref()).await;
        self.errors(a.as_deref()).await;
        self.filters(a.as_deref()).await;
        self.paging(a.as_deref()).await;
        self.user_patches(a.as_deref()).await;
        self.group_patches(a.as_ref(), b.as_ref(), c.as_ref()).await;

        let t = Instant::now();
        let outcome = match &c {
            None => Err(not_run("a created user")),
            Some(id) => self.delete_user(id).await,
        };
        self.record("crud.delete-user", t, outcome);
    }

    async fn auth(&mut self) {
        let t = Instant::now();
        let ex = self.client.with_token(None).send(Method::GET, "/Users?count=1", None).await;
        self.record("auth.missing-token-401", t, status(ex, &[401]).map(|_| ()));
        let t = Instant::now();
        let wrong = format!("twscim_wrong{}", uuid::Uuid::new_v4().simple());
        let ex = self.client.with_token(Some(&wrong)).send(Method::GET, "/Users?count=1", None).await;
        self.record("auth.wrong-token-401", t, status(ex, &[401]).map(|_| ()));
    }

    async fn discovery(&mut self) {
        let t = Instant::now();
        let outcome = async {
            let ex = status(self.get("/ServiceProviderConfig").await, &[200])?;
            let spc = ex.json();
            ensure(
                spc["schemas"].as_array().is_some_and(|s| s.iter().any(|s| s == SPC_URN)),
                "no ServiceProviderConfig schema URN",
                &ex,
            )?;
            ensure(spc["patch"]["supported"] == json!(true), "patch.supported must be true: every IdP PATCHes", &ex)?;
            ensure(spc["filter"]["supported"] == json!(true), "filter.supported must be true: every IdP filters", &ex)
        }
        .await;
        self.record("discovery.service-provider-config", t, outcome);

        let t = Instant::now();
        let outcome = async {
            let ex = status(self.get("/ResourceTypes").await, &[200])?;
            let list = ex.json().get("Resources").cloned().unwrap_or_else(|| ex.json().clone());
            let names: Vec<&str> =
                list.as_array().map(|l| l.iter().filter_map(|r| r["name"].as_str()).collect()).unwrap_or_default();
            ensure(
                names.contains(&"User") && names.contains(&"Group"),
                format!("User and Group expected, got {names:?}"),
                &ex,
            )
        }
        .await;
        self.record("discovery.resource-types", t, outcome);

        let t = Instant::now();
        let outcome = async {
            let ex = status(self.get("/Schemas").await, &[200])?;
            let list = ex.json().get("Resources").cloned().unwrap_or_else(|| ex.json().clone());
            let ids: Vec<&str> =
                list.as_array().map(|l| l.iter().filter_map(|r| r["id"].as_str()).collect()).unwrap_or_default();
            ensure(
                ids.contains(&USER) && ids.contains(&GROUP),
                format!("the User and Group schemas expected, got {ids:?}"),
                &ex,
            )
        }
        .await;
        self.record("discovery.schemas", t, outcome);
    }

    async fn crud(&mut self, a: Option<&str>) {
        let t = Instant::now();
        let outcome = match a {
            None => Err(not_run("crud.create-user")),
            Some(id) => {
                async {
                    let ex = status(self.get(&format!("/Users/{id}")).await, &[200])?;
                    ensure(ex.id().as_deref() == Some(id), "the id differs", &ex)?;
                    ensure(
                        ex.json()["userName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&self.user_name("A"))),
                        "the userName differs",
                        &ex,
                    )
                }
                .await
            }
        };
        self.record("crud.get-user", t, outcome);

        let t = Instant::now();
        let outcome = match a {
            None => Err(not_run("crud.create-user")),
            Some(id) => {
                async {
                    // PUT replaces: displayName left out is cleared, active left out means true.
                    let mut body = self.user_body("A");
                    body["id"] = json!(id);
                    body["title"] = json!("Replaced");
                    body.as_object_mut().unwrap().remove("displayName");
                    body.as_object_mut().unwrap().remove("active");
                    status(self.send(Method::PUT, &format!("/Users/{id}"), body).await, &[200])?;
                    let ex = status(self.get(&format!("/Users/{id}")).await, &[200])?;
                    ensure(ex.json()["title"] == "Replaced", "the title sent with PUT was not stored", &ex)?;
                    ensure(
                        ex.json().get("displayName").is_none_or(Value::is_null),
                        "PUT must clear what it leaves out (displayName)",
                        &ex,
                    )?;
                    ensure(ex.json()["active"] != json!(false), "active left out of a PUT means true", &ex)
                }
                .await
            }
        };
        self.record("crud.replace-user", t, outcome);

        let t = Instant::now();
        let outcome = match a {
            None => Err(not_run("crud.create-user")),
            Some(id) => {
                async {
                    let body = patch(json!([{"op":"replace","path":"displayName","value":"Check Patched"}]));
                    status(self.send(Method::PATCH, &format!("/Users/{id}"), body).await, &[200, 204])?;
                    let ex = status(self.get(&format!("/Users/{id}")).await, &[200])?;
                    ensure(ex.json()["displayName"] == "Check Patched", "the PATCHed displayName was not stored", &ex)
                }
                .await
            }
        };
        self.record("crud.patch-user", t, outcome);
    }

    async fn errors(&mut self, a: Option<&str>) {
        let t = Instant::now();
        let outcome = match a {
            None => Err(not_run("crud.create-user")),
            Some(_) => {
                async {
                    // Okta's second create of the same person, differently cased.
                    let mut body = self.user_body("A");
                    body["userName"] = json!(self.user_name("A").to_lowercase());
                    body["externalId"] = json!(format!("twcheck-{}-dup", self.run_id));
                    let ex = self.send(Method::POST, "/Users", body).await;
                    if let (Some(201), Some(id)) = (ex.status, ex.id()) {
                        self.users.push(id);
                    }
                    let ex = status(ex, &[409])?;
                    ensure(
                        is_scim_error(ex.json(), "409"),
                        "the 409 needs a SCIM error body with status \"409\"",
                        &ex,
                    )?;
                    ensure(ex.json()["scimType"] == "uniqueness", "the 409 needs scimType \"uniqueness\"", &ex)
                }
                .await
            }
        };
        self.record("errors.uniqueness-409", t, outcome);

        let t = Instant::now();
        let outcome = async {
            let path = format!("/Users/{}", uuid::Uuid::new_v4());
            let ex = status(self.get(&path).await, &[404])?;
            ensure(is_scim_error(ex.json(), "404"), "the 404 needs a SCIM error body", &ex)?;
            // Okta's custom app PUTs to ids it knows; an unknown one must not create a user.
            let body = json!({"schemas": [USER], "userName": self.user_name("ghost")});
            let ex = self.send(Method::PUT, &path, body).await;
            if let (Some(200 | 201), Some(id)) = (ex.status, ex.id()) {
                self.users.push(id);
            }
            status(ex, &[404]).map(|_| ())
        }
        .await;
        self.record("errors.not-found-404", t, outcome);

        let t = Instant::now();
        let ex = self.get(&format!("/Users?filter={}", encode("userName eq", SpaceAs::Percent))).await;
        let outcome = status(ex, &[400]).and_then(|ex| {
            ensure(ex.json()["scimType"] == "invalidFilter", "the 400 needs scimType \"invalidFilter\"", &ex)
        });
        self.record("errors.invalid-filter-400", t, outcome);
    }

    async fn filters(&mut self, a: Option<&str>) {
        let t = Instant::now();
        let outcome = match a {
            None => Err(not_run("crud.create-user")),
            Some(id) => {
                async {
                    for name in [self.user_name("A"), self.user_name("A").to_uppercase()] {
                        let filter = encode(&format!("userName eq \"{name}\""), SpaceAs::Percent);
                        let ex = status(self.get(&format!("/Users?filter={filter}")).await, &[200])?;
                        ensure(
                            ids(ex.json()) == vec![id.to_string()],
                            "userName eq must find the user whatever the case",
                            &ex,
                        )?;
                    }
                    Ok(())
                }
                .await
            }
        };
        self.record("filter.username-case-insensitive", t, outcome);

        let t = Instant::now();
        let outcome = match a {
            None => Err(not_run("crud.create-user")),
            Some(id) => {
                async {
                    let filter = encode(&format!("externalId eq \"twcheck-{}-A\"", self.run_id), SpaceAs::Plus);
                    let ex = status(self.get(&format!("/Users?filter={filter}")).await, &[200])?;
                    ensure(ids(ex.json()) == vec![id.to_string()], "externalId eq must find exactly the user", &ex)
                }
                .await
            }
        };
        self.record("filter.external-id", t, outcome);

        let t = Instant::now();
        let outcome = async {
            // Entra's test connection: a lookup that matches nothing is 200 with an empty list, not 404.
            let guid = uuid::Uuid::new_v4();
            let filter = encode(&format!("userName eq \"{guid}\""), SpaceAs::Plus);
            let ex = status(self.get(&format!("/Users?filter={filter}")).await, &[200])?;
            ensure(loose_u64(&ex.json()["totalResults"]) == Some(0), "totalResults must be 0", &ex)?;
            ensure(ids(ex.json()).is_empty(), "no resource may match a random userName", &ex)
        }
        .await;
        self.record("filter.no-match-empty-list", t, outcome);
    }

    async fn paging(&mut self, a: Option<&str>) {
        let t = Instant::now();
        let outcome = async {
            let ex = status(self.get("/Users?startIndex=1&count=2").await, &[200])?;
            let l = ex.json();
            for k in ["totalResults", "itemsPerPage", "startIndex"] {
                ensure(l[k].is_u64(), format!("{k} must be a JSON integer, got {}", l[k]), &ex)?;
            }
            let n = l["Resources"].as_array().map_or(0, Vec::len);
            ensure(n <= 2, "count=2 returned more than 2 resources", &ex)?;
            ensure(l["itemsPerPage"].as_u64() == Some(n as u64), "itemsPerPage must be the page's size", &ex)
        }
        .await;
        self.record("paging.integers", t, outcome);

        let t = Instant::now();
        let outcome = match a {
            None => Err(not_run("crud.create-user")),
            Some(_) => {
                async {
                    let ex = status(self.get("/Users?count=1").await, &[200])?;
                    let total = loose_u64(&ex.json()["totalResults"]).unwrap_or(0);
                    let n = ex.json()["Resources"].as_array().map_or(0, Vec::len);
                    ensure(n <= 1, "count=1 returned more than one resource", &ex)?;
                    ensure(total >= self.users.len() as u64, "totalResults must count every match, not the page", &ex)
                }
                .await
            }
        };
        self.record("paging.total-results", t, outcome);

        let t = Instant::now();
        let outcome = self.stable_order().await;
        self.record("paging.stable-order", t, outcome);
    }

    async fn stable_order(&self) -> Outcome {
        let first = status(self.get("/Users?startIndex=1&count=2").await, &[200])?;
        let again = status(self.get("/Users?startIndex=1&count=2").await, &[200])?;
        ensure(ids(first.json()) == ids(again.json()), "the same page asked twice came back in another order", &again)?;
        let total = loose_u64(&first.json()["totalResults"]).unwrap_or(0);
        // Walk the pages as Okta's import does, where the server is small enough.
        let count = match total {
            0..=40 => 2,
            41..=2000 => 100,
            _ => return Ok(()),
        };
        let mut seen: Vec<String> = vec![];
        let mut start = 1;
        let mut last = first;
        while start <= total {
            last = status(self.get(&format!("/Users?startIndex={start}&count={count}")).await, &[200])?;
            let page = ids(last.json());
            if page.is_empty() {
                break;
            }
            seen.extend(page);
            start += count;
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        ensure(unique.len() == seen.len(), "a user appeared on two pages", &last)?;
        ensure(
            seen.len() as u64 == total,
            format!("the pages held {} users, totalResults says {total}", seen.len()),
            &last,
        )?;
        ensure(self.users.iter().all(|u| seen.contains(u)), "a user created by the check is on no page", &last)
    }

    async fn user_patches(&mut self, a: Option<&str>) {
        let Some(id) = a else {
            for name in [
                "patch.entra-string-booleans",
                "patch.entra-value-path",
                "patch.entra-dotted-keys",
                "patch.okta-deactivate",
            ] {
                self.record(name, Instant::now(), Err(not_run("crud.create-user")));
            }
            return;
        };
        let path = format!("/Users/{id}");

        let t = Instant::now();
        let outcome = async {
            // Entra: capitalised op, boolean as a string.
            for (value, want) in [("False", false), ("True", true)] {
                let body = patch(json!([{"op":"Replace","path":"active","value":value}]));
                status(self.send(Method::PATCH, &path, body).await, &[200, 204])?;
                let ex = status(self.get(&path).await, &[200])?;
                ensure(
                    ex.json()["active"] == json!(want),
                    format!("\"{value}\" must set active to the boolean {want}"),
                    &ex,
                )?;
            }
            Ok(())
        }
        .await;
        self.record("patch.entra-string-booleans", t, outcome);

        let t = Instant::now();
        let outcome = async {
            let new = format!("a2-{}@check.example.com", self.run_id);
            let body = patch(json!([
                {"op":"Replace","path":"emails[type eq \"work\"].value","value":new},
                {"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Check St"},
            ]));
            status(self.send(Method::PATCH, &path, body).await, &[200, 204])?;
            let ex = status(self.get(&path).await, &[200])?;
            let emails = ex.json()["emails"].as_array().cloned().unwrap_or_default();
            ensure(
                emails.len() == 1 && emails[0]["value"] == json!(new),
                "the work email must be replaced, not added",
                &ex,
            )?;
            ensure(
                ex.json()["addresses"][0]["streetAddress"] == "1 Check St",
                "a value path matching nothing creates the element",
                &ex,
            )
        }
        .await;
        self.record("patch.entra-value-path", t, outcome);

        let t = Instant::now();
        let outcome = async {
            let body = patch(json!([{"op":"replace","value":{"name.givenName":"Dotted", format!("{ENTERPRISE}:employeeNumber"):"42"}}]));
            status(self.send(Method::PATCH, &path, body).await, &[200, 204])?;
            let ex = status(self.get(&path).await, &[200])?;
            let u = ex.json();
            ensure(u["name"]["givenName"] == "Dotted", "\"name.givenName\" must update name.givenName", &ex)?;
            ensure(u.get("name.givenName").is_none(), "no literal \"name.givenName\" attribute", &ex)?;
            ensure(u[ENTERPRISE]["employeeNumber"] == "42", "a full-URN key must update the extension attribute", &ex)
        }
        .await;
        self.record("patch.entra-dotted-keys", t, outcome);

        let t = Instant::now();
        let outcome = async {
            let body = patch(json!([{"op":"replace","value":{"active":false}}]));
            status(self.send(Method::PATCH, &path, body).await, &[200, 204])?;
            let ex = status(self.get(&path).await, &[200])?;
            ensure(ex.json()["active"] == json!(false), "the path-less replace must deactivate", &ex)?;
            let filter = encode(&format!("userName eq \"{}\"", self.user_name("A")), SpaceAs::Percent);
            let ex = status(self.get(&format!("/Users?filter={filter}")).await, &[200])?;
            ensure(ids(ex.json()).len() == 1, "a deactivated user must still be found by filters", &ex)
        }
        .await;
        self.record("patch.okta-deactivate", t, outcome);
    }

    async fn group_patches(&mut self, a: Option<&String>, b: Option<&String>, c: Option<&String>) {
        let names = [
            "crud.create-group",
            "filter.group-display-name-exact",
            "patch.okta-rename-keeps-members",
            "patch.okta-membership-change",
            "patch.entra-member-remove-by-value",
        ];
        let (Some(a), Some(b), Some(c)) = (a, b, c) else {
            for name in names {
                self.record(name, Instant::now(), Err(not_run("three created users")));
            }
            return;
        };

        let t = Instant::now();
        let created = self.create_group("Alpha", &[b, c]).await;
        let outcome = match &created {
            Err(f) => Err(clone_fail(f)),
            Ok((gid, _)) => self.members_are(gid, &[b, c], "the group must hold the members it was created with").await,
        };
        self.record("crud.create-group", t, outcome);

        let t = Instant::now();
        let outcome = match &created {
            Err(_) => Err(not_run("crud.create-group")),
            Ok((gid, name)) => {
                async {
                    let filter = encode(&format!("displayName eq \"{name}\""), SpaceAs::Plus);
                    let ex =
                        status(self.get(&format!("/Groups?excludedAttributes=members&filter={filter}")).await, &[200])?;
                    ensure(ids(ex.json()) == vec![gid.clone()], "displayName eq must find exactly the group", &ex)?;
                    ensure(
                        ex.json()["Resources"][0].get("members").is_none(),
                        "excludedAttributes=members must leave members out",
                        &ex,
                    )?;
                    // Entra stops with "multiple entries" when a partial name matches too.
                    let partial = encode(&format!("displayName eq \"{}\"", &name[..name.len() - 2]), SpaceAs::Plus);
                    let ex = status(self.get(&format!("/Groups?filter={partial}")).await, &[200])?;
                    ensure(ids(ex.json()).is_empty(), "displayName eq must be exact: a prefix matched", &ex)
                }
                .await
            }
        };
        self.record("filter.group-display-name-exact", t, outcome);

        let t = Instant::now();
        let outcome = match &created {
            Err(_) => Err(not_run("crud.create-group")),
            Ok((gid, name)) => {
                async {
                    let renamed = format!("{name} Renamed");
                    let body = patch(json!([{"op":"replace","value":{"id":gid,"displayName":renamed}}]));
                    status(self.send(Method::PATCH, &format!("/Groups/{gid}"), body).await, &[200, 204])?;
                    let ex = status(self.get(&format!("/Groups/{gid}")).await, &[200])?;
                    ensure(ex.json()["displayName"] == json!(renamed), "the rename was not stored", &ex)?;
                    ensure(
                        member_ids(ex.json()) == sorted(&[b, c]),
                        "Okta's rename must not touch membership: members were lost",
                        &ex,
                    )
                }
                .await
            }
        };
        self.record("patch.okta-rename-keeps-members", t, outcome);

        let t = Instant::now();
        let outcome = async {
            let (gid, name) = self.create_group("Beta", &[b, c]).await?;
            let body = patch(json!([
                {"op":"replace","value":{"id":gid,"displayName":name}},
                {"op":"remove","path":format!("members[value eq \"{b}\"]")},
                {"op":"add","path":"members","value":[{"value":a,"display":self.user_name("A")}]},
            ]));
            status(self.send(Method::PATCH, &format!("/Groups/{gid}"), body).await, &[200, 204])?;
            self.members_are(&gid, &[a, c], "rename + remove by filter + add (no type) in one PATCH").await
        }
        .await;
        self.record("patch.okta-membership-change", t, outcome);

        let t = Instant::now();
        let outcome = async {
            let (gid, _) = self.create_group("Gamma", &[b, c]).await?;
            let add = patch(json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":a}]}]));
            status(self.send(Method::PATCH, &format!("/Groups/{gid}"), add).await, &[200, 204])?;
            self.members_are(&gid, &[a, b, c], "Entra's Add with $ref null").await?;
            let remove = patch(json!([{"op":"Remove","path":"members","value":[{"value":b}]}]));
            status(self.send(Method::PATCH, &format!("/Groups/{gid}"), remove).await, &[200, 204])?;
            self.members_are(&gid, &[a, c], "Entra's Remove with a value list must remove only those members").await
        }
        .await;
        self.record("patch.entra-member-remove-by-value", t, outcome);
    }

    async fn delete_user(&mut self, id: &str) -> Outcome {
        let path = format!("/Users/{id}");
        status(self.client.send(Method::DELETE, &path, None).await, &[204, 200])?;
        let ex = self.get(&path).await;
        let gone = status(ex, &[404]);
        if gone.is_ok() {
            self.users.retain(|u| u != id);
        }
        gone.map(|_| ())
    }

    /// Deletes every group and user the checks created, even after failures.
    async fn cleanup(&mut self) {
        let t = Instant::now();
        let mut outcome = Ok(());
        let paths: Vec<String> = self
            .groups
            .iter()
            .map(|g| format!("/Groups/{g}"))
            .chain(self.users.iter().map(|u| format!("/Users/{u}")))
            .collect();
        for path in paths {
            let ex = self.client.send(Method::DELETE, &path, None).await;
            if let (Err(f), Ok(())) = (status(ex, &[200, 204, 404]), &outcome) {
                outcome = Err(f);
            }
        }
        self.groups.clear();
        self.users.clear();
        self.record("cleanup", t, outcome);
    }
}

fn clone_fail(f: &Fail) -> Fail {
    Fail { detail: f.detail.clone(), exchange: f.exchange.clone() }
}
