//! The sync log's cost and speed (issue: sync log): request latency with read logging on versus
//! off (target: at most 10% slower), and filtered sync-log queries over 1,000,000 events.
//!
//! `cargo bench -p scim-http --bench sync_log`; `SYNC_LOG_EVENTS=100000` for a quicker run.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use criterion::{Criterion, criterion_group, criterion_main};
use provisioning::{Config, EventQuery, Provisioning, ResourceKind};
use serde_json::json;
use tower::ServiceExt;

// The shipped server's allocator: with glibc's, a logged request's event, allocated on a runtime
// thread and freed on the log's writer thread, contends for malloc's arena locks, which the
// server never does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn server(dir: &std::path::Path, log_reads: bool) -> (Provisioning, axum::Router, String, String) {
    let p = Provisioning::open(&dir.join(format!("bench-{log_reads}.db")), Config { log_reads, ..Config::default() })
        .await
        .unwrap();
    let token = p.create_token("bench", None).await.unwrap().token;
    let mut ctx = provisioning::RequestContext::new("POST", "/scim/v2/Users");
    ctx.base_url = "http://bench/scim/v2".into();
    let user = p
        .create(
            ResourceKind::User,
            &ctx,
            &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bench@example.com"}),
        )
        .await
        .unwrap();
    let id = user.resource.unwrap()["id"].as_str().unwrap().to_string();
    (p.clone(), scim_http::router(p), token, id)
}

fn logging_on_versus_off(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("get_user_by_id");
    group.measurement_time(Duration::from_secs(10));
    for log_reads in [true, false] {
        let (p, app, token, id) = rt.block_on(server(dir.path(), log_reads));
        let name = if log_reads { "logging_on" } else { "logging_off" };
        // Each sample ends by writing out the events its requests logged, so the log's work
        // counts in the figure instead of running on into the next benchmark.
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        let req = Request::get(format!("/scim/v2/Users/{id}"))
                            .header(header::AUTHORIZATION, format!("Bearer {token}"))
                            .header(header::HOST, "bench")
                            .body(Body::empty())
                            .unwrap();
                        let res = app.clone().oneshot(req).await.unwrap();
                        assert!(res.status().is_success());
                    }
                    p.flush_log().await;
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn filtered_queries(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let events: u64 = std::env::var("SYNC_LOG_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let p = rt.block_on(async {
        let p = Provisioning::open(&dir.path().join("events.db"), Config::default()).await.unwrap();
        let spec = provisioning::seed::SeedSpec { users: 10_000, groups: 10, group_members: 0, events };
        p.seed(&spec, |_, _| {}).await.unwrap();
        p
    });
    let newest =
        rt.block_on(p.query_events(&EventQuery { limit: Some(1), ..Default::default() })).unwrap().events[0].id;
    let queries: Vec<(&str, EventQuery)> = vec![
        ("first_page", EventQuery { limit: Some(200), ..Default::default() }),
        ("deep_page", EventQuery { before_id: Some(newest / 2), limit: Some(200), ..Default::default() }),
        ("operation", EventQuery { operation: Some("Deactivate User".into()), limit: Some(200), ..Default::default() }),
        ("failures", EventQuery { result: Some("failure".into()), limit: Some(200), ..Default::default() }),
        ("idp", EventQuery { idp: Some("Entra ID".into()), limit: Some(200), ..Default::default() }),
        ("free_text", EventQuery { text: Some("user4242@".into()), limit: Some(200), ..Default::default() }),
        // In every event: the index cannot narrow it, the newest events answer.
        ("free_text_common", EventQuery { text: Some("example.com".into()), limit: Some(200), ..Default::default() }),
    ];
    let mut group = c.benchmark_group(format!("sync_log_query_{events}_events"));
    for (name, q) in queries {
        group.bench_function(name, |b| b.iter(|| rt.block_on(p.query_events(&q)).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, logging_on_versus_off, filtered_queries);
criterion_main!(benches);
