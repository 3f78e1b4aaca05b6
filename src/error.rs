//! The API's error type and its envelope (SPEC §1).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::lead::FieldError;
use crate::request_id;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation {
        message: String,
        details: Vec<FieldError>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Database unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("Too many requests for this workspace; retry after {0} s")]
    RateLimited(u64),
    #[error("The request did not finish within {} s and was stopped; it may or may not have taken effect", .0.as_secs())]
    TimedOut(std::time::Duration),
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A validation error about one field; the message names it.
    pub fn field(f: FieldError) -> Self {
        let message = if f.field.is_empty() {
            format!("Body {}", f.message)
        } else {
            format!("{} {}", f.field, f.message)
        };
        Self::Validation {
            message,
            details: vec![f],
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Validation { .. } => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
            }
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            Self::Unavailable(_) | Self::TimedOut(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
            }
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m.to_owned()),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::Internal(e) | StoreError::Duplicate(e) => Self::Internal(e),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(f: FieldError) -> Self {
        Self::field(f)
    }
}

/// The failure envelope for a status and code, used where no `ApiError`
/// exists (panics).
pub fn envelope(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"success": false, "error": {"code": code, "message": message}})),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let id = request_id::current();
        match &self {
            Self::Internal(cause) => {
                tracing::error!(request_id = %id, error = ?cause, "internal error");
                return envelope(
                    status,
                    code,
                    &format!("Internal server error (request ID {id})"),
                );
            }
            Self::Unavailable(cause) => {
                tracing::warn!(request_id = %id, error = %cause, "database unavailable");
            }
            _ => {}
        }
        let mut error = json!({"code": code, "message": self.to_string()});
        if let Self::Validation { details, .. } = &self
            && !details.is_empty()
        {
            error["details"] = json!(details);
        }
        (status, Json(json!({"success": false, "error": error}))).into_response()
    }
}
