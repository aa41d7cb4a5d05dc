//! The fuzz targets' bodies, shared by the libFuzzer binaries (`cargo +nightly fuzz run NAME`)
//! and the bounded stable run in tests/fuzz_stable.rs. Each takes arbitrary bytes and must not
//! panic; each also checks a property that holds for every input it accepts.

use serde_json::{Value, json};

use provisioning::ListQuery;
use scim_protocol::resource::{MAX_NAME_CHARS, normalize};
use scim_protocol::{Quirks, ResourceKind, apply_patch, matches, parse_filter, parse_patch_path};

/// A user with every kind of attribute the filters and paths can reach.
pub fn sample_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "ann@example.com", "externalId": "00u1", "displayName": "Ann", "active": true,
        "name": {"givenName": "Ann", "familyName": "Lee", "formatted": "Ann Lee"},
        "emails": [{"value": "ann@example.com", "type": "work", "primary": true}, {"value": "a@home", "type": "home"}],
        "phoneNumbers": [{"value": "+1 555", "type": "mobile"}],
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "country": "US"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "manager": {"value": "m1"}},
        "x-unknown": {"nested": [1, 2, {"deep": null}]}
    })
}

/// A group with members.
pub fn sample_group() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Staff", "externalId": "g1"})
}

/// The filter parser (RFC 7644 §3.4.2.2). A filter that parses prints back to SCIM syntax that
/// parses to the same tree (when the print is within the length limit), evaluates against users and groups, and translates to SQL or is
/// refused, without a panic.
pub fn filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(f) = parse_filter(text) else { return };
    let printed = f.to_scim_string();
    // Escaping can lengthen a filter six-fold (a raw control character prints as `\u001c`), so
    // only a print within the length limit must parse again (found by libFuzzer).
    if printed.len() > scim_protocol::filter::MAX_FILTER_LEN {
        return;
    }
    match parse_filter(&printed) {
        Ok(again) => assert_eq!(again, f, "{text:?} printed as {printed:?} parses to another tree"),
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }
    matches(ResourceKind::User, &sample_user(), &f);
    matches(ResourceKind::Group, &sample_group(), &f);
    let _ = provisioning::filter_sql::to_sql(ResourceKind::User, &f);
    let _ = provisioning::filter_sql::to_sql(ResourceKind::Group, &f);
}

/// The PATCH path parser (RFC 7644 §3.5.2): no input panics it.
pub fn path(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_patch_path(text);
    }
}

/// PATCH apply. The bytes are a PatchOp body, or (when not JSON) one operation's path. On error
/// the document is unchanged (the engine is atomic); on success the result still validates or
/// is refused as a client error, never a panic.
pub fn patch(data: &[u8]) {
    let body = match serde_json::from_slice::<Value>(data) {
        Ok(v) => v,
        Err(_) => {
            let Ok(path) = std::str::from_utf8(data) else { return };
            let op = ["add", "remove", "replace", "Replace"][data.len() % 4];
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": op, "path": path, "value": "v"}]})
        }
    };
    for (kind, start) in [(ResourceKind::User, sample_user()), (ResourceKind::Group, sample_group())] {
        let mut doc = start.clone();
        match apply_patch(kind, &mut doc, "self-id", &body) {
            Ok(_) => {
                if let Ok(n) = normalize(kind, &doc, &mut Quirks::default()) {
                    check_stored(&n.doc);
                }
            }
            Err(e) => {
                assert_eq!(doc, start, "a refused PATCH left the document changed");
                assert!(e.status() < 500 || e.status() == 501, "a client's PATCH gave {}: {e}", e.status());
            }
        }
    }
}

/// The request-body decoders: a POST/PUT body for users and groups, and a SearchRequest. They
/// refuse with a client error or give a document that holds no password and no oversized name.
pub fn decode(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    for kind in [ResourceKind::User, ResourceKind::Group] {
        match normalize(kind, &body, &mut Quirks::default()) {
            Ok(n) => check_stored(&n.doc),
            Err(e) => assert!(e.status() < 500, "a client's body gave {}: {e}", e.status()),
        }
    }
    if let Err(e) = ListQuery::from_search(&body) {
        assert!(e.status() < 500, "a SearchRequest gave {}: {e}", e.status());
    }
}

fn check_stored(doc: &Value) {
    let obj = doc.as_object().expect("a stored document is an object");
    assert!(!obj.keys().any(|k| k.eq_ignore_ascii_case("password")), "a password would be stored: {doc}");
    for key in ["userName", "displayName", "externalId"] {
        if let Some(v) = obj.get(key).and_then(Value::as_str) {
            assert!(v.chars().count() <= MAX_NAME_CHARS, "{key} over the limit would be stored");
        }
    }
}
