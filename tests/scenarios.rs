//! IdP scenarios over real HTTP against the real `talkwriter-scim` binary: the documented
//! request sequences of Okta (OIN and custom apps), Entra (with and without
//! `aadOptscim062020`), OneLogin and JumpCloud. The stored state is checked after every step,
//! and the sync log must name the IdP and the shapes that were normalised.

use e2e::{ScimServer, cli};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const OKTA_UA: &str = "Okta SCIM Client 1.0.0";
const ENTRA_UA: &str = "Microsoft-Azure-AD-Provisioning/1.0";

struct Session {
    _dir: tempfile::TempDir,
    server: ScimServer,
    http: reqwest::Client,
    token: String,
    user_agent: &'static str,
    content_type: &'static str,
}

impl Session {
    fn start(user_agent: &'static str) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let db = e2e::test_database(dir.path());
        let (ok, token, err) = cli(&["token", "create", "--db", &db]);
        assert!(ok, "{err}");
        let server = ScimServer::start_logging_to(&db, dir.path());
        Session {
            _dir: dir,
            server,
            http: reqwest::Client::new(),
            token: token.trim().into(),
            user_agent,
            content_type: "application/scim+json",
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}/scim/v2{path}", self.server.base))
            .bearer_auth(&self.token)
            .header("user-agent", self.user_agent);
        if let Some(b) = &body {
            req = req.header("content-type", self.content_type).body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    async fn expect(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let (s, b) = self.send(method.clone(), path, body.clone()).await;
        assert_eq!(s.as_u16(), status, "{method} {path} {}: {b}", body.map(|b| b.to_string()).unwrap_or_default());
        b
    }

    async fn get(&self, path: &str) -> Value {
        self.expect(Method::GET, path, None, 200).await
    }

    async fn patch(&self, path: &str, ops: Value, status: u16) -> Value {
        self.expect(Method::PATCH, path, Some(json!({"schemas":[PATCH_OP],"Operations":ops})), status).await
    }

    async fn members(&self, gid: &str) -> Vec<String> {
        let mut m: Vec<String> = self.get(&format!("/Groups/{gid}")).await["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        m.sort();
        m
    }

    /// The sync log, oldest first, as the CLI prints it.
    fn events(&self) -> Vec<Value> {
        e2e::settled_events(self.server.db.to_str().unwrap(), 1000)
    }

    fn quirks_seen(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .events()
            .iter()
            .flat_map(|e| serde_json::from_str::<Vec<String>>(e["quirks"].as_str().unwrap()).unwrap())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Okta's OIN app: existence check, create, PUT profile updates, PATCH deactivate, group push
/// with rename and membership in one PATCH, import paging.
#[tokio::test]
async fn okta_oin_app() {
    let s = Session::start(OKTA_UA);
    let check = s.get("/Users?filter=userName%20eq%20%22ann%40example.com%22&startIndex=1&count=100").await;
    assert_eq!(check["totalResults"], 0);
    assert_eq!(check["Resources"], json!([]));
    let mut ids = vec![];
    for name in ["ann", "bob", "cat"] {
        let u = s
            .expect(
                Method::POST,
                "/Users",
                Some(json!({"schemas":[USER],"userName":format!("{name}@example.com"),"name":{"givenName":name,"familyName":"X"},
                    "emails":[{"primary":true,"value":format!("{name}@example.com"),"type":"work"}],"displayName":name,
                    "locale":"en-US","externalId":format!("00u{name}"),"groups":[],"password":"1mportant!","active":true})),
                201,
            )
            .await;
        assert_eq!(u["userName"], format!("{name}@example.com"));
        assert_eq!(u["locale"], "en-US");
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    // A second create of the same person, differently cased, is 409 with a SCIM body.
    let dup = s.expect(Method::POST, "/Users", Some(json!({"schemas":[USER],"userName":"ANN@example.com"})), 409).await;
    assert_eq!(dup["scimType"], "uniqueness");

    // PUT profile update.
    let ann = &ids[0];
    s.expect(
        Method::PUT,
        &format!("/Users/{ann}"),
        Some(
            json!({"schemas":[USER],"id":ann,"userName":"ann@example.com","name":{"givenName":"Ann","familyName":"Lee"},
            "emails":[{"primary":true,"value":"ann@example.com","type":"work"}],"active":true,"title":"CTO"}),
        ),
        200,
    )
    .await;
    let stored = s.get(&format!("/Users/{ann}")).await;
    assert_eq!(stored["name"]["givenName"], "Ann");
    assert_eq!(stored["title"], "CTO");
    assert!(stored.get("displayName").is_none(), "PUT cleared what it omitted");

    // PATCH deactivate, no path.
    let after = s.patch(&format!("/Users/{ann}"), json!([{"op":"replace","value":{"active":false}}]), 200).await;
    assert_eq!(after["active"], false);
    assert_eq!(s.get(&format!("/Users/{ann}")).await["active"], false);
    assert_eq!(s.get("/Users?filter=userName%20eq%20%22ann%40example.com%22").await["totalResults"], 1, "still found");

    // Group push, then rename + membership in one PATCH (members without type).
    let g = s
        .expect(Method::POST, "/Groups", Some(json!({"schemas":[GROUP],"displayName":"Sales","members":[]})), 201)
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/Groups/{gid}"),
        json!([{"op":"replace","value":{"id":gid,"displayName":"Sales"}},
               {"op":"add","path":"members","value":[{"value":ids[1],"display":"bob@example.com"},{"value":ids[2],"display":"cat@example.com"}]}]),
        204,
    )
    .await;
    assert_eq!(s.members(&gid).await, sorted(vec![ids[1].clone(), ids[2].clone()]));
    s.patch(
        &format!("/Groups/{gid}"),
        json!([{"op":"replace","value":{"id":gid,"displayName":"Sales EMEA"}},
               {"op":"remove","path":format!("members[value eq \"{}\"]", ids[1])},
               {"op":"add","path":"members","value":[{"value":ids[0],"display":"ann@example.com"}]}]),
        204,
    )
    .await;
    assert_eq!(s.members(&gid).await, sorted(vec![ids[0].clone(), ids[2].clone()]));
    assert_eq!(s.get(&format!("/Groups/{gid}")).await["displayName"], "Sales EMEA");
    // The rename alone, as Okta sends it, never touches membership.
    s.patch(&format!("/Groups/{gid}"), json!([{"op":"replace","value":{"id":gid,"displayName":"Sales"}}]), 204).await;
    assert_eq!(s.members(&gid).await.len(), 2, "a rename keeps every member");

    // Import: pages of count=2 until totalResults, stable and without repeats.
    let mut seen = vec![];
    let mut start = 1;
    loop {
        let page = s.get(&format!("/Users?startIndex={start}&count=2")).await;
        let total = page["totalResults"].as_i64().unwrap();
        for r in page["Resources"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_string());
        }
        start += 2;
        if start > total {
            break;
        }
    }
    assert_eq!(sorted(seen), sorted(ids.clone()), "every user once");

    let events = s.events();
    assert!(events.iter().filter(|e| e["method"] != "ADMIN").all(|e| e["idp"] == "Okta"));
    let ops: Vec<&str> = events.iter().map(|e| e["operation"].as_str().unwrap()).collect();
    for op in ["Create User", "Update User", "Deactivate User", "Push Group", "Lookup"] {
        assert!(ops.contains(&op), "{op}: {ops:?}");
    }
    assert!(s.quirks_seen().contains(&"okta-rename-with-id".to_string()), "{:?}", s.quirks_seen());
}

/// Okta's custom (wizard) app sends everything as PUT, deactivation included; `active` left
/// out of a PUT means true.
#[tokio::test]
async fn okta_custom_app_everything_put() {
    let s = Session::start(OKTA_UA);
    let u = s
        .expect(Method::POST, "/Users", Some(json!({"schemas":[USER],"userName":"dan@example.com","active":true})), 201)
        .await;
    let id = u["id"].as_str().unwrap();
    let off = s
        .expect(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas":[USER],"userName":"dan@example.com","active":false})),
            200,
        )
        .await;
    assert_eq!(off["active"], false);
    let on = s
        .expect(Method::PUT, &format!("/Users/{id}"), Some(json!({"schemas":[USER],"userName":"dan@example.com"})), 200)
        .await;
    assert_eq!(on["active"], true);
    let missing =
        s.expect(Method::PUT, "/Users/does-not-exist", Some(json!({"schemas":[USER],"userName":"x@y"})), 404).await;
    assert_eq!(missing["status"], "404");
    let ops: Vec<String> = s.events().iter().map(|e| e["operation"].as_str().unwrap().to_string()).collect();
    assert!(ops.contains(&"Deactivate User".to_string()) && ops.contains(&"Reactivate User".to_string()), "{ops:?}");
}

/// Entra without `aadOptscim062020`: test connection, create with extras, capitalised ops,
/// string booleans, value-path filters that create elements, extension URN paths, member
/// add with `$ref: null` and member removal by value list.
#[tokio::test]
async fn entra_default() {
    let s = Session::start(ENTRA_UA);
    let test = s.get("/Users?filter=userName+eq+%225f5b6d3a-3b6c-4b7e-9d7a-1a2b3c4d5e6f%22").await;
    assert_eq!(test["totalResults"], 0);
    let u = s
        .expect(
            Method::POST,
            "/Users",
            Some(json!({"schemas":[USER, ENTERPRISE],"externalId":"eve","userName":"eve@contoso.com","active":true,
                "displayName":"Eve","meta":{"resourceType":"User"},"roles":[],"name":{"formatted":"Eve Adams","familyName":"Adams","givenName":"Eve"},
                "emails":[{"primary":true,"type":"work","value":"eve@contoso.com"}],
                ENTERPRISE:{"department":"Finance"}})),
            201,
        )
        .await;
    let id = u["id"].as_str().unwrap().to_string();
    assert_eq!(s.get("/Users?filter=externalId+eq+%22eve%22").await["totalResults"], 1);
    s.patch(
        &format!("/Users/{id}"),
        json!([
            {"op":"Replace","path":"displayName","value":"Eve A."},
            {"op":"Replace","path":"emails[type eq \"work\"].value","value":"eve.adams@contoso.com"},
            {"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"},
            {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Treasury"},
            {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"boss-1"},
            {"op":"Replace","path":"active","value":"False"}
        ]),
        200,
    )
    .await;
    let stored = s.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["displayName"], "Eve A.");
    assert_eq!(stored["emails"][0]["value"], "eve.adams@contoso.com");
    assert_eq!(stored["emails"].as_array().unwrap().len(), 1, "the work email was replaced, not added");
    assert_eq!(stored["addresses"][0], json!({"type":"work","streetAddress":"1 Main St"}), "created from the filter");
    assert_eq!(stored[ENTERPRISE]["department"], "Treasury");
    assert_eq!(stored[ENTERPRISE]["manager"]["value"], "boss-1");
    assert_eq!(stored["active"], false, "\"False\" deactivates");

    let other =
        s.expect(Method::POST, "/Users", Some(json!({"schemas":[USER],"userName":"fay@contoso.com"})), 201).await;
    let fay = other["id"].as_str().unwrap().to_string();
    let g = s
        .expect(
            Method::POST,
            "/Groups",
            Some(json!({"schemas":[GROUP,"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId":"g1","displayName":"Finance","meta":{"resourceType":"Group"},"members":[]})),
            201,
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let lookup = s.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Finance%22").await;
    assert_eq!(lookup["totalResults"], 1);
    assert!(lookup["Resources"][0].get("members").is_none());
    assert_eq!(
        s.get("/Groups?filter=displayName+eq+%22Fin%22").await["totalResults"],
        0,
        "eq is exact: no partial matches"
    );
    s.patch(
        &format!("/Groups/{gid}"),
        json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":id},{"$ref":null,"value":fay}]}]),
        204,
    )
    .await;
    assert_eq!(s.members(&gid).await, sorted(vec![id.clone(), fay.clone()]));
    s.patch(&format!("/Groups/{gid}"), json!([{"op":"Remove","path":"members","value":[{"value":id}]}]), 204).await;
    assert_eq!(s.members(&gid).await, vec![fay.clone()], "only the listed member is removed");

    let quirks = s.quirks_seen();
    for q in [
        "entra-capitalised-op",
        "entra-string-boolean",
        "entra-value-path-create",
        "entra-manager-string",
        "entra-member-remove-by-value",
        "entra-extra-schema-urn",
    ] {
        assert!(quirks.contains(&q.to_string()), "{q} recorded: {quirks:?}");
    }
    let events = s.events();
    assert!(events.iter().any(|e| e["operation"] == "Test Connection"), "Entra's test connection is named");
    assert!(events.iter().filter(|e| e["method"] != "ADMIN").all(|e| e["idp"] == "Entra ID"));
}

/// Entra with `aadOptscim062020`: lowercase ops, a path-less replace with dotted and full-URN
/// keys, and member removal by a value filter in the path.
#[tokio::test]
async fn entra_with_flag() {
    let s = Session::start(ENTRA_UA);
    let u = s
        .expect(
            Method::POST,
            "/Users",
            Some(json!({"schemas":[USER],"userName":"gus@contoso.com","name":{"givenName":"G"}})),
            201,
        )
        .await;
    let id = u["id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/Users/{id}"),
        json!([{"op":"replace","value":{"name.givenName":"Gus","name.familyName":"Grey",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7","active":false}}]),
        200,
    )
    .await;
    let stored = s.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"], json!({"givenName":"Gus","familyName":"Grey"}));
    assert_eq!(stored[ENTERPRISE]["employeeNumber"], "7");
    assert!(stored.get("name.givenName").is_none(), "no literal dotted key");
    assert_eq!(stored["active"], false);
    let g = s
        .expect(
            Method::POST,
            "/Groups",
            Some(json!({"schemas":[GROUP],"displayName":"Ops","members":[{"value":id}]})),
            201,
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    s.patch(&format!("/Groups/{gid}"), json!([{"op":"remove","path":format!("members[value eq \"{id}\"]")}]), 204)
        .await;
    assert!(s.members(&gid).await.is_empty());
    // Okta's membership change, retried or naming a member already gone: the remove finds
    // nobody, which is what it asks for, and the add in the same request still applies.
    let other =
        s.expect(Method::POST, "/Users", Some(json!({"schemas":[USER],"userName":"other@example.com"})), 201).await;
    let other_id = other["id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/Groups/{gid}"),
        json!([
            {"op":"remove","path":format!("members[value eq \"{id}\"]")},
            {"op":"add","path":"members","value":[{"value":other_id}]}
        ]),
        204,
    )
    .await;
    assert_eq!(s.members(&gid).await, std::slice::from_ref(&other_id));
    assert!(s.quirks_seen().contains(&"member-remove-not-in-group".to_string()));
    // A filter written to break out of its SQL removes nobody (and is no error: nobody matched).
    s.patch(&format!("/Groups/{gid}"), json!([{"op":"remove","path":"members[value eq \"x' OR '1'='1\"]"}]), 204).await;
    assert_eq!(s.members(&gid).await, std::slice::from_ref(&other_id));
    // The operations apply in order: an add, then a remove by filter of the same member.
    s.patch(
        &format!("/Groups/{gid}"),
        json!([
            {"op":"add","path":"members","value":[{"value":id}]},
            {"op":"remove","path":format!("members[value eq \"{id}\"]")}
        ]),
        204,
    )
    .await;
    assert_eq!(s.members(&gid).await, [other_id]);
    assert!(s.quirks_seen().contains(&"entra-dotted-key-value".to_string()));
}

/// OneLogin's templated payloads: a SCIM 1.1 URN on a 2.0 endpoint, the enterprise department,
/// and manager as {value, displayName}.
#[tokio::test]
async fn onelogin_templates() {
    let mut s = Session::start("OneLogin SCIM");
    s.content_type = "application/json";
    let u = s
        .expect(
            Method::POST,
            "/Users",
            Some(json!({"schemas":["urn:scim:schemas:core:1.0", ENTERPRISE],"userName":"hal@acme.io",
                "name":{"givenName":"Hal","familyName":"M"},ENTERPRISE:{"department":"Ops","manager":{"value":"m-9","displayName":"Meg"}}})),
            201,
        )
        .await;
    assert_eq!(u["schemas"][0], USER, "stored with the 2.0 URN");
    assert_eq!(u[ENTERPRISE]["department"], "Ops");
    assert_eq!(u[ENTERPRISE]["manager"]["value"], "m-9");
    let events = s.events();
    assert!(events.iter().filter(|e| e["method"] != "ADMIN").all(|e| e["idp"] == "OneLogin"));
    assert!(s.quirks_seen().contains(&"onelogin-scim1-urn".to_string()));
}

/// JumpCloud's "Test Connection": creates a real user and group, adds and removes a member
/// (Entra-style value list), then deletes both.
#[tokio::test]
async fn jumpcloud_test_connection() {
    let mut s = Session::start("JumpCloud-SCIM/1.0");
    s.content_type = "application/json";
    let u = s
        .expect(
            Method::POST,
            "/Users",
            Some(json!({"schemas":[USER],"userName":"jc-test@example.com","active":true})),
            201,
        )
        .await;
    let id = u["id"].as_str().unwrap().to_string();
    let g =
        s.expect(Method::POST, "/Groups", Some(json!({"schemas":[GROUP],"displayName":"jc-test-group"})), 201).await;
    let gid = g["id"].as_str().unwrap().to_string();
    s.patch(&format!("/Groups/{gid}"), json!([{"op":"add","path":"members","value":[{"value":id}]}]), 204).await;
    assert_eq!(s.members(&gid).await, vec![id.clone()]);
    s.patch(&format!("/Groups/{gid}"), json!([{"op":"remove","path":"members","value":[{"value":id}]}]), 204).await;
    assert!(s.members(&gid).await.is_empty());
    s.expect(Method::DELETE, &format!("/Groups/{gid}"), None, 204).await;
    s.expect(Method::DELETE, &format!("/Users/{id}"), None, 204).await;
    s.expect(Method::GET, &format!("/Users/{id}"), None, 404).await;
    s.expect(Method::GET, &format!("/Groups/{gid}"), None, 404).await;
    let ops: Vec<String> = s.events().iter().map(|e| e["operation"].as_str().unwrap().to_string()).collect();
    for op in ["Create User", "Push Group", "Add to Group", "Remove from Group", "Delete Group", "Delete User"] {
        assert!(ops.contains(&op.to_string()), "{op}: {ops:?}");
    }
}
