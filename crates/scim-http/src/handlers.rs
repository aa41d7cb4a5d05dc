//! SCIM endpoint handlers: each reads its input, calls one provisioning function, and maps
//! the result to a response and a sync-log event.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use provisioning::{ListQuery, Outcome, ResourceKind, Written};
use scim_protocol::ScimError;
use scim_protocol::resource::Projection;
use scim_protocol::schema::LIST_RESPONSE_SCHEMA;

use crate::AppState;
use crate::error::{ApiError, SCIM_JSON};
use crate::request::{ResourceId, ScimRequest, refuse};

/// A SCIM JSON response.
pub(crate) fn scim_json(status: StatusCode, body: &Value) -> Response {
    scim_text(status, body.to_string())
}

/// A SCIM JSON response, serialised already.
fn scim_text(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    res
}

fn with_etag(mut res: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn fail(s: &AppState, req: &ScimRequest, e: impl Into<ApiError>) -> Response {
    refuse(s, &req.ctx, e.into().0)
}

/// A list response as it goes into the log: the matches' ids and names, not their bodies.
fn list_summary(list: &Value) -> Value {
    let items: Vec<Value> = list["Resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| json!({"id": r["id"], "name": r.get("userName").or(r.get("displayName")).cloned().unwrap_or(Value::Null)}))
                .collect()
        })
        .unwrap_or_default();
    json!({"totalResults": list["totalResults"], "startIndex": list["startIndex"], "itemsPerPage": list["itemsPerPage"], "Resources": items})
}

fn log_read(
    s: &AppState,
    req: &ScimRequest,
    kind: Option<ResourceKind>,
    status: u16,
    target: Option<&Value>,
    response: Value,
) {
    s.p.log_request(&req.ctx, read_outcome(kind, status, target, Some(response)));
}

/// A read's outcome for its event: the resource it is about, if any, and what it answered.
fn read_outcome(kind: Option<ResourceKind>, status: u16, target: Option<&Value>, response: Option<Value>) -> Outcome {
    Outcome {
        resource_type: kind.map(|k| k.name().to_string()),
        target_id: target.and_then(|t| t["id"].as_str()).map(str::to_string),
        target_name: target
            .and_then(|t| t.get("userName").or(t.get("displayName")))
            .and_then(Value::as_str)
            .map(str::to_string),
        status,
        response,
        ..Default::default()
    }
}

/// The request's `attributes` / `excludedAttributes` (RFC 7644 §3.9), read the same way for a
/// GET and for a write that returns the resource.
fn projection(req: &ScimRequest) -> Projection {
    Projection::parse(req.param("attributes"), req.param("excludedAttributes"))
}

/// The answer to a create, replace or patch: the resource projected as a GET would project it
/// (RFC 7644 §3.9 applies to "any operation that returns a resource"), with its ETag.
fn written(
    s: &AppState,
    req: &ScimRequest,
    kind: ResourceKind,
    projection: &Projection,
    r: provisioning::Result<Written>,
) -> Response {
    match r {
        Ok(w) => {
            let status = StatusCode::from_u16(w.status).unwrap_or(StatusCode::OK);
            let mut res = match w.resource {
                Some(body) => scim_json(status, &projection.apply(kind, body)),
                None => status.into_response(),
            };
            if status == StatusCode::CREATED
                && let Ok(v) = HeaderValue::from_str(&w.location)
            {
                res.headers_mut().insert(header::LOCATION, v);
            }
            with_etag(res, &w.etag)
        }
        Err(e) => fail(s, req, e),
    }
}

async fn list(s: AppState, req: ScimRequest, kind: ResourceKind, q: Result<ListQuery, ScimError>) -> Response {
    let q = match q {
        Ok(q) => q,
        Err(e) => return fail(&s, &req, e),
    };
    match s.p.list(kind, &req.ctx.base_url, &q).await {
        Ok(body) => {
            let res = scim_json(StatusCode::OK, &body);
            // A lookup (a filter) that found one resource is an event about it (in its history,
            // under its search text); one that found none is found by what it asked for. Only
            // the resource's identifiers go with the event: a group's members need not wait
            // on the log's queue.
            let summary = list_summary(&body);
            let lookup = q.filter.is_some() && body["totalResults"] == 1;
            let found = body["Resources"].as_array().filter(|rs| lookup && rs.len() == 1).map(|rs| &rs[0]);
            let found = found.map(provisioning::events::identifiers);
            let mut outcome = read_outcome(Some(kind), 200, found.as_ref(), Some(summary));
            outcome.found = found;
            outcome.asked = q.filter.as_ref().map(provisioning::events::filter_identifiers).unwrap_or_default();
            s.p.log_request(&req.ctx, outcome);
            res
        }
        Err(e) => fail(&s, &req, e),
    }
}

async fn get_one(s: AppState, req: ScimRequest, kind: ResourceKind, id: String) -> Response {
    let projection = projection(&req);
    match s.p.get(kind, &req.ctx.base_url, &id, &projection).await {
        Ok((body, etag)) => {
            if req
                .if_none_match
                .as_deref()
                .is_some_and(|inm| inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
            {
                log_read(&s, &req, Some(kind), 304, Some(&body), json!({"id": id}));
                return with_etag(StatusCode::NOT_MODIFIED.into_response(), &etag);
            }
            // Serialised once, for the response and for its event, which keeps the resource's
            // identifiers beside the text; only a resource holding a secret goes to the event
            // whole, to be serialised again, redacted.
            let text = body.to_string();
            let mut outcome = read_outcome(Some(kind), 200, Some(&body), None);
            if provisioning::events::holds_secret(&body) {
                outcome.response = Some(body);
            } else {
                outcome.response_text = Some(text.clone());
                outcome.found = Some(provisioning::events::identifiers(&body));
            }
            s.p.log_request(&req.ctx, outcome);
            with_etag(scim_text(StatusCode::OK, text), &etag)
        }
        Err(e) => fail(&s, &req, e),
    }
}

macro_rules! resource_handlers {
    ($kind:expr, $list:ident, $search:ident, $create:ident, $get:ident, $replace:ident, $patch:ident, $delete:ident) => {
        pub(crate) async fn $list(State(s): State<AppState>, mut req: ScimRequest) -> Response {
            let q = ListQuery::from_pairs(req.query_pairs());
            if req.param("filter").is_some_and(provisioning::events::filter_names_password) {
                // The URL may hold a password: keep it out of the sync log too.
                req.ctx.path = format!(
                    "{}?[query removed: it filters on a password]",
                    req.ctx.path.split('?').next().unwrap_or("")
                );
                let e =
                    ScimError::Sensitive("filter on \"password\" only in a POST .search body, never in a URL".into());
                return fail(&s, &req, e);
            }
            list(s, req, $kind, q).await
        }

        pub(crate) async fn $search(State(s): State<AppState>, req: ScimRequest) -> Response {
            let q = req.body().map_err(|e| e.0).and_then(ListQuery::from_search);
            list(s, req, $kind, q).await
        }

        pub(crate) async fn $create(State(s): State<AppState>, req: ScimRequest) -> Response {
            let projection = projection(&req);
            let r = match req.body() {
                Ok(body) => s.p.create($kind, &req.ctx, body).await,
                Err(e) => return fail(&s, &req, e),
            };
            written(&s, &req, $kind, &projection, r)
        }

        pub(crate) async fn $get(State(s): State<AppState>, ResourceId(id): ResourceId, req: ScimRequest) -> Response {
            get_one(s, req, $kind, id).await
        }

        pub(crate) async fn $replace(
            State(s): State<AppState>,
            ResourceId(id): ResourceId,
            req: ScimRequest,
        ) -> Response {
            let projection = projection(&req);
            let r = match req.body() {
                Ok(body) => s.p.replace($kind, &req.ctx, &id, body, req.if_match.as_deref()).await,
                Err(e) => return fail(&s, &req, e),
            };
            written(&s, &req, $kind, &projection, r)
        }

        pub(crate) async fn $patch(
            State(s): State<AppState>,
            ResourceId(id): ResourceId,
            req: ScimRequest,
        ) -> Response {
            let projection = projection(&req);
            let r = match req.body() {
                Ok(body) => s.p.patch($kind, &req.ctx, &id, body, req.if_match.as_deref()).await,
                Err(e) => return fail(&s, &req, e),
            };
            written(&s, &req, $kind, &projection, r)
        }

        pub(crate) async fn $delete(
            State(s): State<AppState>,
            ResourceId(id): ResourceId,
            req: ScimRequest,
        ) -> Response {
            match s.p.delete($kind, &req.ctx, &id, req.if_match.as_deref()).await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => fail(&s, &req, e),
            }
        }
    };
}

resource_handlers!(
    ResourceKind::User,
    list_users,
    search_users,
    create_user,
    get_user,
    replace_user,
    patch_user,
    delete_user
);
resource_handlers!(
    ResourceKind::Group,
    list_groups,
    search_groups,
    create_group,
    get_group,
    replace_group,
    patch_group,
    delete_group
);

/// `POST /.search` at the root (RFC 7644 §3.4.3): users, then groups, paged as one list.
pub(crate) async fn search_root(State(s): State<AppState>, req: ScimRequest) -> Response {
    let q = match req.body().map_err(|e| e.0).and_then(ListQuery::from_search) {
        Ok(q) => q,
        Err(e) => return fail(&s, &req, e),
    };
    let result = async {
        let mut all_users = q.clone();
        let users_total = {
            all_users.count = 0;
            s.p.list(ResourceKind::User, &req.ctx.base_url, &all_users).await?["totalResults"].as_i64().unwrap_or(0)
        };
        let users = s.p.list(ResourceKind::User, &req.ctx.base_url, &q).await?;
        let taken = users["Resources"].as_array().map(Vec::len).unwrap_or(0) as i64;
        let mut gq = q.clone();
        gq.start_index = (q.start_index - users_total).max(1);
        gq.count = q.count - taken;
        let groups = s.p.list(ResourceKind::Group, &req.ctx.base_url, &gq).await?;
        let mut resources = users["Resources"].as_array().cloned().unwrap_or_default();
        if gq.count > 0 {
            resources.extend(groups["Resources"].as_array().cloned().unwrap_or_default());
        }
        Ok::<Value, provisioning::Error>(json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": users_total + groups["totalResults"].as_i64().unwrap_or(0),
            "startIndex": q.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }))
    }
    .await;
    match result {
        Ok(body) => {
            log_read(&s, &req, None, 200, None, list_summary(&body));
            scim_json(StatusCode::OK, &body)
        }
        Err(e) => fail(&s, &req, e),
    }
}

pub(crate) async fn not_implemented(State(s): State<AppState>, req: ScimRequest) -> Response {
    let what = if req.ctx.path.contains("/Bulk") {
        "/Bulk is not supported (bulk.supported is false)"
    } else {
        "/Me is not supported: SCIM clients here authenticate as an IdP, not as a user"
    };
    fail(&s, &req, ScimError::NotImplemented(what.into()))
}

pub(crate) async fn unknown_endpoint(uri: axum::http::Uri) -> Response {
    ApiError(ScimError::NotFound(format!("there is no SCIM endpoint at {}", uri.path()))).into_response()
}

pub(crate) async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError(ScimError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))).into_response()
}

/// `GET /health`: 200 when the database answers, 503 when it does not. No authentication,
/// so a load balancer can call it.
pub(crate) async fn health(State(s): State<AppState>) -> Response {
    // A load balancer's probe must get an answer in time even when the database hangs, so
    // it can take this instance out of rotation.
    let unavailable =
        || (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "unavailable"}))).into_response();
    match tokio::time::timeout(std::time::Duration::from_secs(2), s.p.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check failed");
            unavailable()
        }
        Err(_) => {
            tracing::error!("health check failed: the database did not answer within 2 s");
            unavailable()
        }
    }
}
