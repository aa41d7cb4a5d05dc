//! The extractor every SCIM handler starts with: it authenticates the bearer token, checks the
//! provisioning switch, reads and parses the body within the limit, and builds the request's
//! sync-log context. A refusal here is itself logged (an "Auth Failure", a refused write).

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::net::IpAddr;

use provisioning::{Outcome, RequestContext};
use scim_protocol::{ScimError, quirks};

use crate::error::ApiError;
use crate::{AppState, BASE_PATH, MAX_BODY_BYTES, limits};

/// An authenticated SCIM request.
pub(crate) struct ScimRequest {
    pub ctx: RequestContext,
    pub query: Vec<(String, String)>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl ScimRequest {
    pub fn body(&self) -> Result<&Value, ApiError> {
        self.ctx.body.as_ref().ok_or_else(|| ApiError(ScimError::invalid_syntax("this request needs a JSON body")))
    }

    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Logs a refused request and turns the error into its response.
pub(crate) fn refuse(state: &AppState, ctx: &RequestContext, err: ScimError) -> Response {
    state.p.log_request(
        ctx,
        Outcome {
            status: err.status(),
            response: Some(err.to_json()),
            detail: Some(err.to_string()),
            ..Default::default()
        },
    );
    ApiError(err).into_response()
}

/// Refuses a request that failed authentication, and counts it against its address. The
/// failure that reaches the limit is logged a second time, as the start of a block.
fn refuse_auth(state: &AppState, ctx: &RequestContext, ip: Option<IpAddr>, err: ScimError) -> Response {
    let res = refuse(state, ctx, err);
    if let Some(ip) = ip
        && let limits::Recorded::Blocked { failures } = state.auth_failures.record(ip)
    {
        let window = state.limits.auth_failure_window.as_secs();
        let (blocked, _) = limits::too_many(state.limits.auth_failure_window);
        state.p.log_request(
            ctx,
            Outcome {
                operation: Some("Auth Failure".into()),
                status: blocked.status(),
                response: Some(blocked.to_json()),
                detail: Some(format!(
                    "rate-limited: {failures} failed authentications from {ip} within {window} s; \
                     its requests are refused with 429 until the window ends"
                )),
                ..Default::default()
            },
        );
    }
    res
}

fn bearer(req: &axum::http::request::Parts) -> Option<&str> {
    let v = req.headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Any JSON media type is accepted: `application/scim+json`, `application/json`, and Okta's `text/json`.
fn check_content_type(parts: &axum::http::request::Parts, ctx: &mut RequestContext) -> Result<(), ScimError> {
    let Some(ct) = parts.headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let ct = ct.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match ct.as_str() {
        "application/scim+json" | "application/json" => Ok(()),
        t if t == "text/json" || t.ends_with("+json") => {
            ctx.quirks.push(quirks::JSON_CONTENT_TYPE);
            Ok(())
        }
        other => Err(ScimError::UnsupportedMediaType(format!(
            "Content-Type \"{other}\" is not JSON: send application/scim+json"
        ))),
    }
}

impl FromRequest<AppState> for ScimRequest {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut ctx = RequestContext::new(parts.method.as_str(), &format!("{BASE_PATH}{path}"));
        if !path.starts_with(BASE_PATH) {
            ctx.path = path.to_string();
        }
        if let Some(pq) = parts.extensions.get::<axum::extract::OriginalUri>() {
            ctx.path = pq.0.path_and_query().map(|p| p.as_str().to_string()).unwrap_or(ctx.path);
        }
        ctx.path = loggable_path(&ctx.path);
        ctx.user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
        ctx.simulated = parts.headers.contains_key("x-talkwriter-simulated");

        let ip = limits::client_ip(&parts);
        let blocked = ip.and_then(|ip| state.auth_failures.blocked(ip));
        let token = bearer(&parts);
        // The token, the provisioning switch and the public URL in one database round trip.
        let auth = match token {
            Some(t) => Some(state.p.authorize_request(t).await),
            None => None,
        };
        let (enabled, public_url) = match (auth, blocked) {
            (Some(Ok(auth)), _) => {
                ctx.token_id = Some(auth.token.id);
                (auth.provisioning_enabled, auth.public_url)
            }
            // A blocked address still gets through with a valid token: behind a tunnel or a
            // NAT the IdP shares its address with whoever probes the endpoint. The rest gets
            // 429, not logged one by one, so a flood of refusals cannot flood the sync log.
            (_, Some(left)) => return Err(limits::too_many(left).1),
            (None, None) => {
                return Err(refuse_auth(
                    state,
                    &ctx,
                    ip,
                    ScimError::Unauthorized("an Authorization: Bearer token is required".into()),
                ));
            }
            (Some(Err(e)), None) => {
                return Err(crate::error::invalid_token(refuse_auth(state, &ctx, ip, e.to_scim())));
            }
        };
        if !enabled {
            return Err(refuse(
                state,
                &ctx,
                ScimError::Forbidden(
                    "SCIM provisioning is turned off in TalkWriter Admin; no changes are accepted".into(),
                ),
            ));
        }
        ctx.base_url = public_url.unwrap_or_else(|| {
            let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
            format!("http://{host}{BASE_PATH}")
        });

        let query =
            parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
        let if_match = header_text(&parts, header::IF_MATCH);
        let if_none_match = header_text(&parts, header::IF_NONE_MATCH);

        if matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
            if let Err(e) = check_content_type(&parts, &mut ctx) {
                return Err(refuse(state, &ctx, e));
            }
            let bytes = match read_body(Body::new(body)).await {
                Ok(b) => b,
                Err(e) => return Err(refuse(state, &ctx, e)),
            };
            if !bytes.iter().all(u8::is_ascii_whitespace) {
                match crate::json::decode(&bytes) {
                    Ok(v) => ctx.body = Some(v),
                    Err(e) => return Err(refuse(state, &ctx, e)),
                }
            }
        }
        Ok(ScimRequest { ctx, query, if_match, if_none_match })
    }
}

/// Past the body limit the rest is read and dropped, up to this much, so the client finishes
/// sending and reads the 413 instead of a connection reset.
const MAX_DRAINED_BYTES: usize = 16 * MAX_BODY_BYTES;

/// Reads a body of at most [`MAX_BODY_BYTES`]; a larger one is 413.
async fn read_body(mut body: Body) -> Result<Vec<u8>, ScimError> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ScimError::invalid_syntax("the request body could not be read to its end"))?;
        let Ok(data) = frame.into_data() else { continue };
        total += data.len();
        if total <= MAX_BODY_BYTES {
            buf.extend_from_slice(&data);
        } else if total > MAX_DRAINED_BYTES {
            break;
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(ScimError::PayloadTooLarge(format!(
            "the request body is over the limit of {MAX_BODY_BYTES} bytes"
        )));
    }
    Ok(buf)
}

fn header_text(parts: &axum::http::request::Parts, name: header::HeaderName) -> Option<String> {
    parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The `{id}` of a resource URL. A malformed id (not UTF-8 once percent-decoded), which axum's
/// `Path` answers with a plain-text 400, names no resource: it is a SCIM 404 like any other.
pub(crate) struct ResourceId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ResourceId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(ResourceId(id)),
            Err(_) => Err(ApiError(ScimError::not_found(format!(
                "there is no resource at {}: its id is not valid UTF-8",
                parts.uri.path()
            )))
            .into_response()),
        }
    }
}

/// The request path as the sync log may keep it: a bearer token pasted into a URL
/// (`?access_token=twscim_...`) is cut out.
pub(crate) fn loggable_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find(provisioning::TOKEN_PREFIX) {
        out.push_str(&rest[..i]);
        out.push_str(provisioning::TOKEN_PREFIX);
        out.push_str("[redacted]");
        rest = rest[i + provisioning::TOKEN_PREFIX.len()..]
            .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '%');
    }
    out.push_str(rest);
    out
}
