//! The one mapping from errors to SCIM error responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scim_protocol::ScimError;

/// The SCIM media type every response carries.
pub const SCIM_JSON: &str = "application/scim+json";

/// The challenge of a 401 when no bearer token was presented (RFC 6750 §3.1: no error code).
const CHALLENGE: &str = "Bearer realm=\"TalkWriter SCIM\"";
/// The challenge of a 401 when a bearer token was presented but is wrong, revoked or expired
/// (RFC 6750 §3.1). The description is fixed: it must not say which of the three it was.
const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"TalkWriter SCIM\", error=\"invalid_token\", \
     error_description=\"The access token is wrong, revoked or expired\"";

/// Marks a 401 as the answer to a presented but invalid token; any other response is unchanged.
pub(crate) fn invalid_token(mut res: Response) -> Response {
    if res.status() == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(INVALID_TOKEN_CHALLENGE));
    }
    res
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub ScimError);

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        ApiError(e)
    }
}

impl From<provisioning::Error> for ApiError {
    fn from(e: provisioning::Error) -> Self {
        ApiError(e.to_scim())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, self.0.to_json().to_string()).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
        }
        res
    }
}

/// A panic in a handler becomes a SCIM 500 with no internals in it.
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError(ScimError::Internal("the server could not complete the request; it has been logged".into()))
        .into_response()
}
