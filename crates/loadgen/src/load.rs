//! The load engine: closed-loop HTTP/1.1 keep-alive connections (each sends its next request
//! when the previous answer is read, as wrk does), bounded by a deadline and a request count,
//! with latencies in an HDR histogram. Also runs in-process closed loops (for the sync-log
//! query and the raw insert baseline) with the same accounting.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;

/// One request to send.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
}

impl Req {
    pub fn get(path: String) -> Req {
        Req { method: Method::GET, path, body: None }
    }
}

/// How long and how much.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub conns: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub max_requests: u64,
}

/// What a scenario measured.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub secs: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Measured {
    pub fn rps(&self) -> f64 {
        if self.secs > 0.0 { self.requests as f64 / self.secs } else { 0.0 }
    }
}

/// Makes request `k` of connection `w`.
pub type MakeReq = Arc<dyn Fn(usize, u64) -> Req + Send + Sync>;
/// Sees each successful response body (e.g. to collect created ids).
pub type OnBody = Arc<dyn Fn(&[u8]) + Send + Sync>;

struct Tally {
    hist: Histogram<u64>,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        // Microseconds, up to 60 s, 3 significant digits.
        Tally {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            requests: 0,
            errors: 0,
            first_error: None,
        }
    }
    fn record(&mut self, took: Duration, ok: Result<(), String>) {
        self.requests += 1;
        let _ = self.hist.record(took.as_micros().clamp(1, 60_000_000) as u64);
        if let Err(e) = ok {
            self.errors += 1;
            self.first_error.get_or_insert(e);
        }
    }
    fn merge(&mut self, o: Tally) {
        let _ = self.hist.add(&o.hist);
        self.requests += o.requests;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
    fn finish(self, secs: f64) -> Measured {
        let q = |p: f64| self.hist.value_at_quantile(p) as f64 / 1000.0;
        Measured {
            requests: self.requests,
            errors: self.errors,
            first_error: self.first_error,
            secs,
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            max_ms: self.hist.max() as f64 / 1000.0,
        }
    }
}

/// Sends requests over `bounds.conns` connections until the deadline or the count. Connection
/// `c` goes to `addrs[c % addrs.len()]`, so several server instances share the connections
/// round-robin. A warm-up phase (not recorded) runs first when `bounds.warmup` is not zero.
pub async fn http(
    addrs: &[SocketAddr],
    token: Option<String>,
    bounds: Bounds,
    make: MakeReq,
    on_body: Option<OnBody>,
) -> Result<Measured> {
    if !bounds.warmup.is_zero() {
        let w =
            Bounds { duration: bounds.warmup, warmup: Duration::ZERO, max_requests: bounds.max_requests / 4, ..bounds };
        // Warm-up requests use indices far from the measured ones, so writes do not collide.
        let make_w = make.clone();
        let shifted: MakeReq = Arc::new(move |c, k| make_w(c, k + (1 << 40)));
        http_phase(addrs, token.clone(), w, shifted, None).await?;
    }
    http_phase(addrs, token, bounds, make, on_body).await
}

async fn http_phase(
    addrs: &[SocketAddr],
    token: Option<String>,
    bounds: Bounds,
    make: MakeReq,
    on_body: Option<OnBody>,
) -> Result<Measured> {
    let started = Instant::now();
    let deadline = started + bounds.duration;
    let issued = Arc::new(AtomicU64::new(0));
    anyhow::ensure!(!addrs.is_empty(), "no server address to send requests to");
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut tasks = Vec::with_capacity(bounds.conns);
    for c in 0..bounds.conns {
        let addr = addrs[c % addrs.len()];
        let host = addr.to_string();
        let (make, on_body, issued, auth) = (make.clone(), on_body.clone(), issued.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::new();
            let mut sender = None;
            let mut k = 0u64;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < bounds.max_requests {
                if sender.is_none() {
                    sender = Some(connect(addr).await?);
                }
                let Some(s) = sender.as_mut() else { continue };
                let r = make(c, k);
                k += 1;
                let mut b = Request::builder().method(r.method).uri(r.path).header(header::HOST, &host);
                if let Some(a) = &auth {
                    b = b.header(header::AUTHORIZATION, a);
                }
                let body = match r.body {
                    Some(text) => {
                        b = b.header(header::CONTENT_TYPE, "application/scim+json");
                        Full::new(Bytes::from(text))
                    }
                    None => Full::new(Bytes::new()),
                };
                let req = b.body(body).context("building a request")?;
                let t0 = Instant::now();
                let outcome = async {
                    s.ready().await.map_err(|e| e.to_string())?;
                    let res = s.send_request(req).await.map_err(|e| e.to_string())?;
                    let status = res.status();
                    let bytes = res.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
                    if !status.is_success() {
                        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)])));
                    }
                    Ok(bytes)
                }
                .await;
                let took = t0.elapsed();
                match outcome {
                    Ok(bytes) => {
                        if let Some(f) = &on_body {
                            f(&bytes);
                        }
                        tally.record(took, Ok(()));
                    }
                    Err(e) => {
                        // A broken connection is replaced; the failed request counts as an error.
                        if s.is_closed() {
                            sender = None;
                        }
                        tally.record(took, Err(e));
                    }
                }
            }
            anyhow::Ok(tally)
        }));
    }
    let mut total = Tally::new();
    for t in tasks {
        total.merge(t.await??);
    }
    Ok(total.finish(started.elapsed().as_secs_f64()))
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Runs `op(worker, k)` in `bounds.conns` closed loops in this process, with the same bounds
/// and accounting as [`http`] (no warm-up).
pub async fn in_process<F, Fut>(bounds: Bounds, op: F) -> Result<Measured>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + bounds.duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = vec![];
    for c in 0..bounds.conns {
        let (op, issued) = (op.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::new();
            let mut k = 0;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < bounds.max_requests {
                let t0 = Instant::now();
                let r = op(c, k).await;
                k += 1;
                tally.record(t0.elapsed(), r);
            }
            tally
        }));
    }
    let mut total = Tally::new();
    for t in tasks {
        total.merge(t.await?);
    }
    Ok(total.finish(started.elapsed().as_secs_f64()))
}
