//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`,
//! advertising exactly what this server implements and its limits.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use provisioning::{MAX_PAGE_SIZE, ResourceKind};
use scim_protocol::ScimError;
use scim_protocol::schema::{ALL_SCHEMAS, LIST_RESPONSE_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA};

use crate::AppState;
use crate::MAX_BODY_BYTES;
use crate::handlers::scim_json;
use crate::request::{ResourceId, ScimRequest, refuse};

const KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];
/// This server's own extension of `/ServiceProviderConfig`: the limits without an RFC field.
pub(crate) const LIMITS_URN: &str = "urn:talkwriter:params:scim:limits:1.0";

fn log(s: &AppState, req: &ScimRequest, status: u16) {
    s.p.log_request(
        &req.ctx,
        provisioning::Outcome { status, operation: Some("Discovery".into()), ..Default::default() },
    );
}

/// RFC 7644 §4: a `filter` on a discovery endpoint is answered 403, so a client cannot take
/// the unfiltered answer for a filtered one.
fn refuse_filter(s: &AppState, req: &ScimRequest) -> Option<Response> {
    req.param("filter")?;
    let e = ScimError::Forbidden(
        "discovery endpoints do not support \"filter\" (RFC 7644 §4): request them without it".into(),
    );
    Some(refuse(s, &req.ctx, e))
}

fn list(items: Vec<Value>) -> Value {
    json!({"schemas": [LIST_RESPONSE_SCHEMA], "totalResults": items.len(), "startIndex": 1, "itemsPerPage": items.len(), "Resources": items})
}

pub(crate) async fn service_provider_config(State(s): State<AppState>, req: ScimRequest) -> Response {
    if let Some(refused) = refuse_filter(&s, &req) {
        return refused;
    }
    log(&s, &req, 200);
    let body = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA, LIMITS_URN],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": MAX_BODY_BYTES},
        "filter": {"supported": true, "maxResults": MAX_PAGE_SIZE},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": provisioning::query::DEFAULT_PAGE_SIZE,
            "maxPageSize": MAX_PAGE_SIZE
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A TalkWriter SCIM token (twscim_...) sent as Authorization: Bearer.",
            "primary": true
        }],
        // The limits RFC 7643 §5 has no field for, so a client (or an admin) can still read them.
        LIMITS_URN: {
            "maxFilterLength": scim_protocol::filter::MAX_FILTER_LEN,
            "maxFilterDepth": scim_protocol::filter::MAX_FILTER_DEPTH,
            "maxPatchOperations": scim_protocol::MAX_OPERATIONS,
            "maxNameLength": scim_protocol::resource::MAX_NAME_CHARS,
            "requestTimeoutSeconds": s.limits.request_timeout.as_secs(),
            "maxAuthFailuresPerAddress": s.limits.max_auth_failures,
            "authFailureWindowSeconds": s.limits.auth_failure_window.as_secs()
        },
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", req.ctx.base_url)
        }
    });
    scim_json(StatusCode::OK, &body)
}

pub(crate) async fn resource_types(State(s): State<AppState>, req: ScimRequest) -> Response {
    if let Some(refused) = refuse_filter(&s, &req) {
        return refused;
    }
    log(&s, &req, 200);
    scim_json(StatusCode::OK, &list(KINDS.iter().map(|k| k.to_json(&req.ctx.base_url)).collect()))
}

pub(crate) async fn resource_type(State(s): State<AppState>, ResourceId(id): ResourceId, req: ScimRequest) -> Response {
    if let Some(refused) = refuse_filter(&s, &req) {
        return refused;
    }
    match KINDS.iter().find(|k| k.name().eq_ignore_ascii_case(&id)) {
        Some(k) => {
            log(&s, &req, 200);
            scim_json(StatusCode::OK, &k.to_json(&req.ctx.base_url))
        }
        None => refuse(&s, &req.ctx, ScimError::not_found(format!("there is no resource type \"{id}\""))),
    }
}

pub(crate) async fn schemas(State(s): State<AppState>, req: ScimRequest) -> Response {
    if let Some(refused) = refuse_filter(&s, &req) {
        return refused;
    }
    log(&s, &req, 200);
    scim_json(StatusCode::OK, &list(ALL_SCHEMAS.iter().map(|sc| sc.to_json(&req.ctx.base_url)).collect()))
}

pub(crate) async fn schema(State(s): State<AppState>, ResourceId(id): ResourceId, req: ScimRequest) -> Response {
    if let Some(refused) = refuse_filter(&s, &req) {
        return refused;
    }
    match ALL_SCHEMAS.iter().find(|sc| sc.id.eq_ignore_ascii_case(&id)) {
        Some(sc) => {
            log(&s, &req, 200);
            scim_json(StatusCode::OK, &sc.to_json(&req.ctx.base_url))
        }
        None => refuse(&s, &req.ctx, ScimError::not_found(format!("there is no schema \"{id}\""))),
    }
}
