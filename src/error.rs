//! The API's error type and its envelope (docs/API.md, "Errors").

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

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
    #[error("The path and query string are {0} bytes; at most {max} are read", max = crate::startup::MAX_URI)]
    UriTooLong(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Database unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("Too many requests for this workspace; retry after {0} s")]
    RateLimited(u64),
    #[error(
        "A database statement of this request ran past the server's time limit and was stopped; nothing was written"
    )]
    StatementTimeout,
    #[error("The server has too many writes waiting; retry in a second")]
    Busy,
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

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation { .. } => ErrorCode::ValidationError,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::UriTooLong(_) => ErrorCode::UriTooLong,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::Unavailable(_) | Self::TimedOut(_) | Self::StatementTimeout | Self::Busy => {
                ErrorCode::Unavailable
            }
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m.to_owned()),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid(f) => Self::field(f),
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::StatementTimeout => Self::StatementTimeout,
            StoreError::Busy => Self::Busy,
            StoreError::Internal(e) | StoreError::Duplicate(e) => Self::Internal(e),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(f: FieldError) -> Self {
        Self::field(f)
    }
}

/// Every error code an answer may carry; each goes with one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    RateLimited,
    InternalError,
    Unavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 12] = [
        Self::ValidationError,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UriTooLong,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::InternalError,
        Self::Unavailable,
    ];

    pub fn status(self) -> StatusCode {
        match self {
            Self::ValidationError => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code as answers spell it.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// When an answer carries this code, for the OpenAPI document.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::ValidationError => "bad body, query or header; the message says where",
            Self::Unauthorized => "no key, an unknown or revoked key, or two different keys",
            Self::Forbidden => {
                "a workspace not yours, or a platform-only endpoint with a workspace key"
            }
            Self::NotFound => "no such resource in this workspace",
            Self::MethodNotAllowed => "the path exists, the method does not",
            Self::Conflict => "a taken email, an illegal status change, a key that exists",
            Self::PayloadTooLarge => "body over the limit",
            Self::UriTooLong => "a path and query string over 8 KiB",
            Self::UnsupportedMediaType => "a body that is not JSON (multipart for the CSV import)",
            Self::RateLimited => "over the rate limit; see Retry-After",
            Self::InternalError => "a bug; nothing was written; the message carries the request ID",
            Self::Unavailable => {
                "the database cannot be reached, or the request ran past its time limit"
            }
        }
    }
}

/// The failure envelope every error uses.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// A sentence for people; never carries internals.
    pub message: String,
    /// For validation errors: which fields and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldDetail>>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldDetail {
    pub field: String,
    pub message: String,
}

/// The failure envelope with a code's status, used where no `ApiError`
/// exists (panics) too.
pub fn envelope(code: ErrorCode, message: &str, details: Option<Vec<FieldDetail>>) -> Response {
    let body = ErrorEnvelope {
        success: false,
        error: ErrorBody {
            code,
            message: message.to_owned(),
            details,
        },
    };
    (code.status(), Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let id = request_id::current();
        match &self {
            Self::Internal(cause) => {
                tracing::error!(request_id = %id, error = ?cause, "internal error");
                let message = format!("Internal server error (request ID {id})");
                return envelope(code, &message, None);
            }
            Self::Unavailable(cause) => {
                tracing::warn!(request_id = %id, error = %cause, "database unavailable");
            }
            _ => {}
        }
        let details = match &self {
            Self::Validation { details, .. } if !details.is_empty() => Some(
                details
                    .iter()
                    .map(|d| FieldDetail {
                        field: d.field.clone(),
                        message: d.message.clone(),
                    })
                    .collect(),
            ),
            _ => None,
        };
        let mut response = envelope(code, &self.to_string(), details);
        if matches!(self, Self::Busy) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_has_its_own_status_and_a_screaming_snake_name() {
        let statuses: HashSet<u16> = ErrorCode::ALL.iter().map(|c| c.status().as_u16()).collect();
        assert_eq!(statuses.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            let name = code.name();
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        }
        assert_eq!(ErrorCode::RateLimited.name(), "RATE_LIMITED");
    }

    #[test]
    fn timeouts_and_outages_share_unavailable() {
        let timed_out = ApiError::TimedOut(std::time::Duration::from_secs(1));
        assert_eq!(timed_out.code(), ErrorCode::Unavailable);
        assert_eq!(
            timed_out.into_response().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
