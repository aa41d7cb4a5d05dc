//! The one HTTP client every script uses: it joins paths to the SCIM base URL, sends the
//! profile's headers, and records each request with its response as an [`Exchange`], so a
//! failure can be shown exactly as it went over the wire.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// The header that makes the TalkWriter server log a request as simulated. Other servers ignore it.
pub const SIMULATED_HEADER: &str = "X-TalkWriter-Simulated";

/// The `User-Agent` of the endpoint checker and the test connection.
pub const CHECKER_USER_AGENT: &str = "TalkWriter-Admin-Check/0.1";

/// Response bodies longer than this are cut in reports.
const MAX_REPORTED_BODY: usize = 8 * 1024;

/// One request and its response, as sent and as received.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    pub method: String,
    pub url: String,
    /// The `Content-Type` the request was sent with, when it had a body.
    pub content_type: Option<String>,
    pub request_body: Option<Value>,
    /// `None` when no response arrived (see `error`).
    pub status: Option<u16>,
    /// The response body: JSON when it parsed, else the text (cut at 8 KiB).
    pub response_body: Option<Value>,
    /// Why no response arrived: refused connection, TLS failure, timeout.
    pub error: Option<String>,
    pub latency_ms: f64,
}

impl Exchange {
    /// The status, or 0 when there was no response.
    pub fn status(&self) -> u16 {
        self.status.unwrap_or(0)
    }

    /// The response body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> &Value {
        match &self.response_body {
            Some(v @ (Value::Object(_) | Value::Array(_))) => v,
            _ => &Value::Null,
        }
    }

    /// `id` of the resource in the response body.
    pub fn id(&self) -> Option<String> {
        self.json().get("id").and_then(Value::as_str).map(str::to_string)
    }
}

impl std::fmt::Display for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} {}", self.method, self.url)?;
        if let Some(b) = &self.request_body {
            writeln!(f, "  {}", b)?;
        }
        match (self.status, &self.error) {
            (Some(s), _) => writeln!(f, "→ {s} ({:.0} ms)", self.latency_ms)?,
            (None, Some(e)) => writeln!(f, "→ no response: {e}")?,
            (None, None) => writeln!(f, "→ no response")?,
        }
        if let Some(b) = &self.response_body {
            match b {
                Value::String(s) => writeln!(f, "  {s}")?,
                other => writeln!(f, "  {other}")?,
            }
        }
        Ok(())
    }
}

/// How the space in a query value is encoded. Entra sends `+`, Okta `%20`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpaceAs {
    Percent,
    Plus,
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub(crate) fn encode(value: &str, space: SpaceAs) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' if space == SpaceAs::Plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Checks and normalises a SCIM base URL: absolute http(s), no trailing slash, query dropped
/// (Entra's `?aadOptscim062020` flag lives on the tenant URL but is not sent with requests).
pub fn base_url(url: &str) -> Result<Url, Error> {
    let invalid = |reason: &str| Error::InvalidUrl { url: url.to_string(), reason: reason.to_string() };
    let mut u = Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(invalid("the URL must start with http:// or https://"));
    }
    if u.host_str().is_none() {
        return Err(invalid("the URL has no host"));
    }
    u.set_query(None);
    u.set_fragment(None);
    let path = u.path().trim_end_matches('/').to_string();
    u.set_path(&path);
    Ok(u)
}

/// A SCIM client bound to one base URL, token and set of IdP headers.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    user_agent: &'static str,
    content_type: &'static str,
    simulated: bool,
    /// Set by the first request that got no response; later requests are not sent, so a dead
    /// endpoint costs one timeout, not one per request.
    gone: Arc<OnceLock<String>>,
}

impl Client {
    pub fn new(
        base: &Url,
        token: Option<&str>,
        user_agent: &'static str,
        content_type: &'static str,
    ) -> Result<Client, Error> {
        Ok(Client {
            http: http_client(false, false)?,
            base: base.as_str().trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
            user_agent,
            content_type,
            simulated: true,
            gone: Arc::default(),
        })
    }

    /// The same client with another token (`None`: no Authorization header at all).
    pub fn with_token(&self, token: Option<&str>) -> Client {
        Client { token: token.map(str::to_string), ..self.clone() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request to `base + path` and records it. Never fails: a transport error is
    /// recorded in the exchange.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Exchange {
        let url = self.url(path);
        let mut req = self.http.request(method.clone(), &url).header("user-agent", self.user_agent);
        req = req.header("accept", "application/scim+json, application/json");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if self.simulated {
            req = req.header(SIMULATED_HEADER, "1");
        }
        let content_type = body.as_ref().map(|_| self.content_type.to_string());
        if let Some(b) = &body {
            req = req.header("content-type", self.content_type).body(b.to_string());
        }
        if let Some(why) = self.gone.get() {
            return Exchange {
                method: method.to_string(),
                url,
                content_type,
                request_body: body,
                status: None,
                response_body: None,
                error: Some(format!("not sent: an earlier request got no response ({why})")),
                latency_ms: 0.0,
            };
        }
        let start = Instant::now();
        let mut retries = 0;
        let sent = loop {
            let Some(attempt) = req.try_clone() else { break req.send().await };
            match attempt.send().await {
                // Back off as Okta and Entra do when told to, if the wait is short.
                Ok(res) if res.status() == 429 && retries < MAX_RETRIES => match retry_after(&res) {
                    Some(wait) if wait <= MAX_RETRY_WAIT => {
                        retries += 1;
                        tokio::time::sleep(wait).await;
                    }
                    _ => break Ok(res),
                },
                other => break other,
            }
        };
        let mut ex = Exchange {
            method: method.to_string(),
            url,
            content_type,
            request_body: body,
            status: None,
            response_body: None,
            error: None,
            latency_ms: 0.0,
        };
        match sent {
            Ok(res) => {
                ex.status = Some(res.status().as_u16());
                match res.text().await {
                    Ok(text) => ex.response_body = parse_body(text),
                    Err(e) => ex.error = Some(error_chain(&e)),
                }
            }
            Err(e) => ex.error = Some(error_chain(&e)),
        }
        ex.latency_ms = start.elapsed().as_secs_f64() * 1000.0;
        if let (None, Some(e)) = (ex.status, &ex.error) {
            let _ = self.gone.set(e.clone());
        }
        ex
    }
}

/// How often one request is retried after a 429 with a short `Retry-After`.
const MAX_RETRIES: u32 = 3;
/// The longest `Retry-After` worth waiting for; a longer one is reported as the failure it is.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = res.headers().get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// The reqwest client: rustls with the Mozilla and the system roots, 30 s per request.
pub(crate) fn http_client(tls_info: bool, accept_invalid_certs: bool) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .tls_info(tls_info)
        .danger_accept_invalid_certs(accept_invalid_certs)
        .build()
        .map_err(|e| Error::Client(error_chain(&e)))
}

fn parse_body(text: String) -> Option<Value> {
    if text.trim().is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_str(&text) {
        return Some(v);
    }
    let mut text = text;
    if text.len() > MAX_REPORTED_BODY {
        let mut cut = MAX_REPORTED_BODY;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("…[truncated]");
    }
    Some(Value::String(text))
}

/// An error with its causes, `a: b: c`, since reqwest's own message hides the useful part.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_each_idp() {
        assert_eq!(encode("userName eq \"a@b\"", SpaceAs::Percent), "userName%20eq%20%22a%40b%22");
        assert_eq!(encode("userName eq \"a@b\"", SpaceAs::Plus), "userName+eq+%22a%40b%22");
    }

    #[test]
    fn base_url_is_normalised() {
        let u = base_url("https://x.example/scim/v2/?aadOptscim062020").unwrap();
        assert_eq!(u.as_str(), "https://x.example/scim/v2");
        assert!(base_url("x.example/scim").is_err(), "a URL without a scheme is refused");
        assert!(base_url("ftp://x.example/scim").is_err());
    }
}
