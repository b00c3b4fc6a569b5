//! The HTTP error: every failure becomes `application/problem+json` (RFC 9457) with a status that
//! fits and, for bad input, the name of the field. Internal causes are logged, never shown.

use poem::http::{HeaderValue, StatusCode};
use poem::{IntoResponse, Response};
use serde_json::json;

use crate::domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{message}")]
    BadRequest { field: Option<String>, message: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
}

impl AppError {
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        AppError::BadRequest { field: Some(field.to_owned()), message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Domain(d) => match d {
                DomainError::NotFound(_) => StatusCode::NOT_FOUND,
                DomainError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                DomainError::Conflict(_) => StatusCode::CONFLICT,
                DomainError::Unauthorized => StatusCode::UNAUTHORIZED,
                DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
                DomainError::VotingClosed => StatusCode::CONFLICT,
                DomainError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                DomainError::Unavailable { .. } | DomainError::Storage { .. } => StatusCode::SERVICE_UNAVAILABLE,
                DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Short machine-readable code, stable for clients.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Domain(d) => match d {
                DomainError::NotFound(_) => "not_found",
                DomainError::Invalid { .. } => "invalid",
                DomainError::Conflict(_) => "conflict",
                DomainError::Unauthorized => "unauthorized",
                DomainError::Forbidden(_) => "forbidden",
                DomainError::VotingClosed => "voting_closed",
                DomainError::RateLimited { .. } => "rate_limited",
                DomainError::Unavailable { .. } => "unavailable",
                DomainError::Storage { .. } => "storage",
                DomainError::Internal(_) => "internal",
            },
            AppError::BadRequest { .. } => "bad_request",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound => "not_found",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::RateLimited { .. } => "rate_limited",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Domain(DomainError::Invalid { field, .. }) => Some(field),
            AppError::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// What the user may see. Internal errors say only that something went wrong.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Domain(DomainError::Internal(_)) => "something went wrong on our side".into(),
            other => other.to_string(),
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Domain(DomainError::RateLimited { retry_after_secs })
            | AppError::Domain(DomainError::Unavailable { retry_after_secs, .. })
            | AppError::Domain(DomainError::Storage { retry_after_secs })
            | AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    pub fn to_problem(&self) -> Response {
        if let AppError::Domain(DomainError::Internal(cause)) = self {
            tracing::error!(error = ?cause, "internal error");
        }
        let status = self.status();
        let mut body = json!({
            "type": format!("https://mysetlist.invalid/problems/{}", self.code()),
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "code": self.code(),
            "detail": self.public_message(),
        });
        if let Some(field) = self.field() {
            body["field"] = json!(field);
        }
        let mut resp =
            Response::builder().status(status).content_type("application/problem+json").body(body.to_string());
        if let Some(secs) = self.retry_after() {
            resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
        }
        if let AppError::Domain(DomainError::Unavailable { refusal: Some(refusal), .. }) = self {
            resp.headers_mut().insert("x-mysetlist-role", HeaderValue::from_static(refusal.role()));
        }
        resp
    }
}

/// What handlers return: `?` turns a [`DomainError`] into an [`AppError`] on the way out.
pub type ApiResult<T> = Result<T, AppError>;

/// Lets OpenAPI operations return [`ApiResult`]. Declares no responses of its own, as `poem::Error`
/// does: `http::api::spec_json` adds the problem+json responses to every operation.
impl poem_openapi::ApiResponse for AppError {
    fn meta() -> poem_openapi::registry::MetaResponses {
        poem_openapi::registry::MetaResponses { responses: Vec::new() }
    }

    fn register(_registry: &mut poem_openapi::registry::Registry) {}
}

impl poem::error::ResponseError for AppError {
    fn status(&self) -> StatusCode {
        AppError::status(self)
    }
    fn as_response(&self) -> Response {
        self.to_problem()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.to_problem()
    }
}

/// Turns any poem error that escaped (bad path parameter, unparsable JSON, 404, 405) into problem+json.
pub fn problem_from_poem(err: poem::Error) -> Response {
    if let Some(app) = err.downcast_ref::<AppError>() {
        return app.to_problem();
    }
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(error = %err, "unhandled server error");
    }
    let detail = if status.is_server_error() { "something went wrong on our side".to_owned() } else { err.to_string() };
    // Query and path parameters that do not parse or validate: name the parameter.
    let field = err
        .downcast_ref::<poem_openapi::error::ParseParamError>()
        .map(|e| e.name)
        .or_else(|| err.downcast_ref::<poem_openapi::error::ParsePathError>().map(|e| e.name));
    let mut body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "code": match status.as_u16() { 400 => "bad_request", 404 => "not_found", 405 => "method_not_allowed",
                                         413 => "payload_too_large", 415 => "unsupported_media_type", _ => "error" },
        "detail": detail,
    });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    Response::builder().status(status).content_type("application/problem+json").body(body.to_string())
}
