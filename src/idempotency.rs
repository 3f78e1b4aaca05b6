//! `Idempotency-Key` on POST, PATCH and DELETE, as Stripe does it.
//!
//! The first answer to a (credential, key) is kept in the database for 24
//! hours and replayed byte for byte with `Idempotent-Replayed: true`. The
//! same key with another request (method, path, query or body) is a 409.
//! The key is claimed by an insert on its primary key, so of two concurrent
//! requests, in one process or several, one runs and the other waits for
//! its answer. A 5xx or 429 answer is not kept (nothing was written; a retry
//! should run again), and neither is anything before authentication.
//!
//! The CSV import (multipart, up to 50 MiB, streamed) is not buffered for a
//! fingerprint: a key sent with it is ignored.

use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::domain::now_ms;
use crate::error::ApiError;
use crate::extract::request_key;
use crate::startup::AppState;
use crate::store::{IdempotencyKey, IdempotencyState, StoredResponse};

/// How long an answer is kept.
pub const KEEP: Duration = Duration::from_secs(24 * 60 * 60);
/// A claim older than this whose request never answered (its process died)
/// is taken over.
const STALE: Duration = Duration::from_secs(5 * 60);
/// How long a request waits for a concurrent one with the same key.
const WAIT: Duration = Duration::from_secs(60);
const MAX_KEY_LEN: usize = 255;

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match run(state, req, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn run(state: AppState, req: Request, next: Next) -> Result<Response, Response> {
    let writes = matches!(*req.method(), Method::POST | Method::PATCH | Method::DELETE);
    let Some(raw) = req.headers().get("idempotency-key").filter(|_| writes) else {
        return Ok(next.run(req).await);
    };
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("multipart/"));
    if multipart {
        return Ok(next.run(req).await);
    }
    let key = raw
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .ok_or_else(|| {
            ApiError::validation(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            ))
            .into_response()
        })?
        .to_owned();
    // Keys are kept per credential, and only for requests that authenticate.
    let Ok(api_key) = request_key(req.headers()) else {
        return Ok(next.run(req).await);
    };
    match state.store.authenticate(&api_key).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(next.run(req).await),
        Err(e) => return Err(ApiError::from(e).into_response()),
    }

    let (parts, body) = req.into_parts();
    let body = to_bytes(body, state.body_limit).await.map_err(|_| {
        ApiError::PayloadTooLarge("Request body is larger than the limit".into()).into_response()
    })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b"\n");
    hasher.update(parts.uri.path_and_query().map_or("", |p| p.as_str()));
    hasher.update(b"\n");
    hasher.update(&body);
    let claim = IdempotencyKey {
        credential: api_key.hash(),
        key,
        fingerprint: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    };

    let started = Instant::now();
    loop {
        let now = now_ms();
        let state_now = state
            .store
            .idempotency_begin(
                &claim,
                now,
                now - KEEP.as_millis() as i64,
                now - STALE.as_millis() as i64,
            )
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        match state_now {
            IdempotencyState::Started => break,
            IdempotencyState::Done(stored) => return Ok(replay(stored)),
            IdempotencyState::Mismatch => {
                return Err(ApiError::Conflict(
                    "This Idempotency-Key was used with a different request".into(),
                )
                .into_response());
            }
            IdempotencyState::InProgress if started.elapsed() < WAIT => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            IdempotencyState::InProgress => {
                return Err(ApiError::Conflict(
                    "A request with this Idempotency-Key is still running; retry later".into(),
                )
                .into_response());
            }
        }
    }

    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        if let Err(e) = state.store.idempotency_release(&claim).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let stored = StoredResponse {
        status: status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned(),
        body: bytes.to_vec(),
    };
    if let Err(e) = state.store.idempotency_finish(&claim, stored).await {
        // The request ran; a retry would run it again. Say so in the log.
        tracing::warn!(error = %e, "could not keep an idempotent answer");
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&stored.content_type) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
