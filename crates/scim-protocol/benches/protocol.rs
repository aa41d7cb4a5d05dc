//! Micro-benchmarks of the pure SCIM engine: filter parsing and evaluation, PATCH apply, and
//! resource JSON (parse, normalize, render, serialise). These are the per-request CPU costs
//! that sit under every HTTP round trip; the load benchmark (`crates/loadgen`) measures the rest.
//!
//! `cargo bench -p scim-protocol` runs them; `cargo bench -p scim-protocol -- --quick` is the
//! smoke run CI uses. Nothing here is asserted: timing stays out of the tests.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use scim_protocol::resource::{Meta, Projection, normalize, render};
use scim_protocol::{Quirks, ResourceKind, apply_patch, matches, parse_filter};

/// What Okta and Entra send on a create: core, enterprise extension, emails, a password.
fn user_body() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "ada.lovelace@example.com",
        "externalId": "00u1a2b3c4d5e6f7g8h9",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [{"value": "ada.lovelace@example.com", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "mobile"}],
        "active": true,
        "title": "Analyst",
        "password": "correct horse battery staple",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "1815", "department": "Engineering", "costCenter": "R&D",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

fn stored_user() -> Value {
    normalize(ResourceKind::User, &user_body(), &mut Quirks::default()).expect("the sample user is valid").doc
}

const FILTERS: &[(&str, &str)] = &[
    ("eq", r#"userName eq "ada.lovelace@example.com""#),
    ("and_or", r#"(title sw "Ana" or title co "lyst") and active eq true and not (userName ew ".org")"#),
    ("value_path", r#"emails[type eq "work" and value co "@example.com"] and name.familyName pr"#),
    (
        "extension",
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Engineering" and meta.lastModified gt "2020-01-01T00:00:00Z""#,
    ),
];

fn filters(c: &mut Criterion) {
    let user = render(ResourceKind::User, "http://127.0.0.1/scim/v2", "u1", &stored_user(), &meta(), None);
    let mut g = c.benchmark_group("filter");
    for (name, src) in FILTERS {
        g.bench_function(format!("parse/{name}"), |b| b.iter(|| parse_filter(black_box(src)).unwrap()));
        let f = parse_filter(src).unwrap();
        g.bench_function(format!("eval/{name}"), |b| b.iter(|| matches(ResourceKind::User, black_box(&user), &f)));
    }
    // A long filter near the 4,096-character limit: parsing must stay linear.
    let long = (0..100).map(|i| format!(r#"userName eq "user{i}@example.com""#)).collect::<Vec<_>>().join(" or ");
    g.bench_function("parse/or_100", |b| b.iter(|| parse_filter(black_box(&long)).unwrap()));
    g.finish();
}

fn patches(c: &mut Criterion) {
    let user = stored_user();
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"});
    let cases: &[(&str, ResourceKind, &Value, Value)] = &[
        (
            "deactivate",
            ResourceKind::User,
            &user,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "value": {"active": false}}]}),
        ),
        (
            "entra_replace_strings",
            ResourceKind::User,
            &user,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "augusta@example.com"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Research"}
            ]}),
        ),
        (
            "member_add",
            ResourceKind::Group,
            &group,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": "26118915-6090-4610-87e4-49d8ca9f808d"}]}
            ]}),
        ),
        (
            "member_remove_filter",
            ResourceKind::Group,
            &group,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "remove", "path": "members[value eq \"26118915-6090-4610-87e4-49d8ca9f808d\"]"}
            ]}),
        ),
    ];
    let mut g = c.benchmark_group("patch");
    for (name, kind, doc, body) in cases {
        g.bench_function(*name, |b| {
            b.iter_batched_ref(
                || (*doc).clone(),
                |d| apply_patch(*kind, d, "u1", black_box(body)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn meta() -> Meta {
    Meta { created: "2026-01-01T00:00:00.000Z".into(), last_modified: "2026-01-02T00:00:00.000Z".into(), version: 3 }
}

fn resources(c: &mut Criterion) {
    let body_text = user_body().to_string();
    let stored = stored_user();
    let stored_text = stored.to_string();
    let groups = json!([{"value": "g1", "$ref": "http://127.0.0.1/scim/v2/Groups/g1", "display": "Engineering", "type": "direct"}]);
    let base = "http://127.0.0.1:8787/scim/v2";
    let mut g = c.benchmark_group("resource");
    g.bench_function("parse_body", |b| b.iter(|| serde_json::from_str::<Value>(black_box(&body_text)).unwrap()));
    g.bench_function("normalize_user", |b| {
        let body = user_body();
        b.iter(|| normalize(ResourceKind::User, black_box(&body), &mut Quirks::default()).unwrap())
    });
    g.bench_function("stored_to_string", |b| b.iter(|| black_box(&stored).to_string()));
    g.bench_function("stored_from_str", |b| b.iter(|| serde_json::from_str::<Value>(black_box(&stored_text)).unwrap()));
    g.bench_function("render_user", |b| {
        let m = meta();
        b.iter(|| render(ResourceKind::User, base, "u1", black_box(&stored), &m, Some(groups.clone())))
    });
    let rendered = render(ResourceKind::User, base, "u1", &stored, &meta(), Some(groups.clone()));
    g.bench_function("rendered_to_string", |b| b.iter(|| black_box(&rendered).to_string()));
    // GET by id end to end, minus I/O: stored text in, response text out.
    g.bench_function("get_path", |b| {
        let m = meta();
        let p = Projection::parse(None, None);
        b.iter(|| {
            let doc: Value = serde_json::from_str(black_box(&stored_text)).unwrap();
            let r = p.apply(ResourceKind::User, render(ResourceKind::User, base, "u1", &doc, &m, Some(groups.clone())));
            r.to_string()
        })
    });
    g.finish();
}

criterion_group!(benches, filters, patches, resources);
criterion_main!(benches);
