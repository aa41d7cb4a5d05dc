//! "Test connection" the way Entra does it: look up a random GUID as a userName and expect
//! 200 with `totalResults: 0`. Reports the latency, and for https the server certificate's
//! subject, issuer and expiry, read from the TLS session reqwest kept (`tls_info`).

use std::time::Instant;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::Error;
use crate::client::{
    CHECKER_USER_AGENT, Exchange, SIMULATED_HEADER, SpaceAs, base_url, encode, error_chain, http_client,
};

/// The server certificate of an https endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// The subject's distinguished name, e.g. `CN=scim.example.com`.
    pub subject: String,
    pub issuer: String,
    /// DNS names from the subjectAltName extension.
    pub dns_names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Days until `not_after` (negative once expired).
    pub days_left: i64,
    /// Whether the certificate chain verified against the trusted roots.
    pub trusted: bool,
}

/// The outcome of a test connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionReport {
    pub ok: bool,
    /// What an admin should read: "Connected: the endpoint answered an empty list in 12 ms".
    pub message: String,
    pub latency_ms: f64,
    pub certificate: Option<CertificateInfo>,
    pub exchange: Exchange,
}

/// Tests the SCIM endpoint at `base_url` with `token` as Entra's "Test connection" does.
pub async fn test_connection(base_url_str: &str, token: &str) -> Result<ConnectionReport, Error> {
    let base = base_url(base_url_str)?;
    let https = base.scheme() == "https";
    let guid = uuid::Uuid::new_v4();
    let filter = encode(&format!("userName eq \"{guid}\""), SpaceAs::Plus);
    let url = format!("{}/Users?filter={filter}", base.as_str().trim_end_matches('/'));
    let http = http_client(https, false)?;
    let start = Instant::now();
    let sent = http
        .request(Method::GET, &url)
        .bearer_auth(token)
        .header("user-agent", CHECKER_USER_AGENT)
        .header("accept", "application/scim+json, application/json")
        .header(SIMULATED_HEADER, "1")
        .send()
        .await;
    let mut exchange = Exchange {
        method: "GET".into(),
        url: url.clone(),
        content_type: None,
        request_body: None,
        status: None,
        response_body: None,
        error: None,
        latency_ms: 0.0,
    };
    let mut certificate = None;
    match sent {
        Ok(res) => {
            exchange.status = Some(res.status().as_u16());
            certificate = peer_certificate(&res).and_then(|der| certificate_info(&der, true));
            let text = res.text().await.unwrap_or_default();
            exchange.response_body =
                serde_json::from_str(&text).ok().or((!text.is_empty()).then(|| Value::String(text)));
        }
        Err(e) => {
            exchange.error = Some(error_chain(&e));
            if https {
                // The handshake may have failed on the certificate itself: fetch it again without
                // verification, only to show the admin what the server presents.
                certificate = untrusted_certificate(&url).await;
            }
        }
    }
    exchange.latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let latency = exchange.latency_ms;
    let total = &exchange.json()["totalResults"];
    let (ok, message) = match exchange.status {
        Some(200) if total.as_u64() == Some(0) => (
            true,
            format!(
                "Connected: the endpoint answered a lookup of a random userName with an empty list in {latency:.0} ms"
            ),
        ),
        Some(200) if total.is_string() => {
            (false, format!("totalResults is the string {total}; Entra and Okta need a JSON integer"))
        }
        Some(200) => (false, format!("a random userName must find nothing, but totalResults is {total}")),
        Some(401) => (false, "the token was refused (401): check it, or create a new one".into()),
        Some(403) => (false, "the endpoint refused the request (403): is provisioning turned on?".into()),
        Some(404) => (false, "nothing answers at this URL (404): the SCIM base URL usually ends in /scim/v2".into()),
        Some(s) => (false, format!("the endpoint answered {s}; Entra expects 200 with an empty list")),
        None => {
            let e = exchange.error.clone().unwrap_or_default();
            let why = match &certificate {
                Some(c) if !c.trusted => format!("the server's certificate ({}) is not trusted: {e}", c.subject),
                _ => e,
            };
            (false, format!("no answer: {why}"))
        }
    };
    Ok(ConnectionReport { ok, message, latency_ms: latency, certificate, exchange })
}

fn peer_certificate(res: &reqwest::Response) -> Option<Vec<u8>> {
    res.extensions().get::<reqwest::tls::TlsInfo>()?.peer_certificate().map(<[u8]>::to_vec)
}

async fn untrusted_certificate(url: &str) -> Option<CertificateInfo> {
    let http = http_client(true, true).ok()?;
    let res = http.get(url).header("user-agent", CHECKER_USER_AGENT).send().await.ok()?;
    certificate_info(&peer_certificate(&res)?, false)
}

/// Reads the fields an admin cares about from a DER certificate.
pub(crate) fn certificate_info(der: &[u8], trusted: bool) -> Option<CertificateInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let time = |t: x509_parser::time::ASN1Time| DateTime::<Utc>::from_timestamp(t.timestamp(), 0);
    let not_before = time(cert.validity().not_before)?;
    let not_after = time(cert.validity().not_after)?;
    let dns_names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        dns_names,
        not_before,
        not_after,
        days_left: (not_after - Utc::now()).num_days(),
        trusted,
    })
}
