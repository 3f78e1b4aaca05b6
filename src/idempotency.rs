//! `Idempotency-Key` on POST, PATCH and DELETE, as Stripe does it.
//!
//! The first answer to a (credential, key) is kept in the database for 24
//! hours and replayed byte for byte with `Idempotent-Replayed: true`. The
//! same key with another request (method, path, query or body) is a 409.
//! The key is claimed by an insert on its primary key, so of two concurrent
//! requests, in one process or several, one runs and the other waits for
//! its answer. A 5xx or 429 answer is not kept (nothing was written; a retry
//! should run again), and neither is anything `access` refused: this layer
//! runs after it, so a kept answer is replayed only to a caller who still
//! may act in the workspace (and, on a workspace's own routes, still holds
//! the role the request needs).
//!
//! A multipart body (the CSV import, up to 50 MiB) is not held in memory
//! for its fingerprint: it is hashed while it is spooled to a temporary
//! file, which then feeds the handler.

use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::access::Access;
use crate::domain::import::MAX_REQUEST_BYTES;
use crate::domain::key::ApiKey;
use crate::domain::now_ms;
use crate::error::ApiError;
use crate::extract::request_key;
use crate::state::AppState;
use crate::store::{IdempotencyKey, IdempotencyState, StoredResponse};

/// How long an answer is kept.
pub const KEEP: Duration = Duration::from_secs(24 * 60 * 60);
/// A claim older than this whose request never answered (its process died)
/// is taken over, or, if the request committed, answered as lost
/// (`--idempotency-claim-secs`).
pub const STALE: Duration = Duration::from_secs(5 * 60);
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
    // Keys are kept only for requests `access` let through: authenticated,
    // in a workspace the caller may act in, within the rate limit.
    let (Some(access), Ok(api_key)) = (
        req.extensions().get::<Access>().copied(),
        request_key(req.headers()),
    ) else {
        return Ok(next.run(req).await);
    };
    let (parts, body) = req.into_parts();
    let (fingerprint, body) = fingerprint_of(&state, &parts, body)
        .await
        .map_err(IntoResponse::into_response)?;
    let claim = IdempotencyKey {
        credential: scope(&api_key, parts.headers.get("x-workspace-id")),
        key,
        fingerprint,
    };
    if let Some(stored) = wait_for(&state, &claim).await? {
        // The answer is only for a caller who may still make the request.
        if let Access::User(user) = access {
            crate::routes::may_replay(&state, user, &parts.method, parts.uri.path())
                .await
                .map_err(IntoResponse::into_response)?;
        }
        return Ok(replay(stored));
    }
    let response = crate::store::idempotency::CURRENT
        .scope(claim.clone(), next.run(Request::from_parts(parts, body)))
        .await;
    let response = keep(&state, &claim, response).await;
    state.idempotency_done.notify_waiters();
    Ok(response)
}

/// Keys are scoped by credential and workspace: a platform key acting in
/// two workspaces has two sets of keys.
pub fn scope(api_key: &ApiKey, workspace: Option<&HeaderValue>) -> Vec<u8> {
    let mut scope = Sha256::new();
    scope.update(api_key.hash());
    scope.update(b"\n");
    scope.update(
        workspace
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default()
            .to_ascii_lowercase(),
    );
    scope.finalize().to_vec()
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn fingerprint_start(method: &Method, path_and_query: &str) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str());
    hasher.update(b"\n");
    hasher.update(path_and_query);
    hasher.update(b"\n");
    hasher
}

/// What makes two requests the same request: method, path, query and body.
pub fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut hasher = fingerprint_start(method, path_and_query);
    hasher.update(body);
    hex(&hasher.finalize())
}

/// The request's fingerprint, and its body to pass on. A multipart body's
/// boundary is random per request: it is left out, so that a retry of the
/// same form matches; such a body is spooled to a file, not held in memory.
async fn fingerprint_of(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Result<(String, Body), ApiError> {
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.trim().to_ascii_lowercase().starts_with("multipart/"))
        .and_then(|v| multer::parse_boundary(v).ok());
    if let Some(boundary) = boundary {
        let mut hasher = fingerprint_start(&parts.method, path);
        let mut free = BoundaryFree::new(&mut hasher, &boundary);
        let body = spool(body, MAX_REQUEST_BYTES, &mut free).await?;
        free.finish();
        return Ok((hex(&hasher.finalize()), body));
    }
    let bytes = to_bytes(body, state.body_limit)
        .await
        .map_err(|_| too_large())?;
    Ok((fingerprint(&parts.method, path, &bytes), Body::from(bytes)))
}

/// The longest a waiting duplicate goes without looking at the claim.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// A waiting duplicate's pauses between looks: 25 ms, doubling to a second.
fn pauses() -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(Duration::from_millis(25)), |p| {
        Some((*p * 2).min(MAX_PAUSE))
    })
}

/// Claims the key, or waits for the request that holds it: `None` when
/// this request is to run, the kept answer when one is there. A waiting
/// duplicate looks again when a request of this process lets go of a key,
/// and otherwise after a pause that doubles from 25 ms to a second (the
/// claim may be held by another server).
async fn wait_for(
    state: &AppState,
    claim: &IdempotencyKey,
) -> Result<Option<StoredResponse>, Response> {
    let started = Instant::now();
    let mut pauses = pauses();
    loop {
        // Listen before looking, so that a release in between is not missed.
        let released = state.idempotency_done.notified();
        let now = now_ms();
        let state_now = state
            .store
            .idempotency_begin(
                claim,
                now,
                now - KEEP.as_millis() as i64,
                now - state.idempotency_stale.as_millis() as i64,
            )
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        match state_now {
            IdempotencyState::Started => return Ok(None),
            IdempotencyState::Lost => {
                return Err(ApiError::Conflict(
                    "This request was carried out, but its answer was lost (the server \
                     stopped before sending it); it will not run again"
                        .into(),
                )
                .into_response());
            }
            IdempotencyState::Done(stored) => return Ok(Some(stored)),
            IdempotencyState::Mismatch => {
                return Err(ApiError::Conflict(
                    "This Idempotency-Key was used with a different request".into(),
                )
                .into_response());
            }
            IdempotencyState::InProgress if started.elapsed() < WAIT => {
                let pause = pauses.next().unwrap_or(MAX_PAUSE);
                let _ = tokio::time::timeout(pause, released).await;
            }
            IdempotencyState::InProgress => {
                return Err(ApiError::Conflict(
                    "A request with this Idempotency-Key is still running; retry later".into(),
                )
                .into_response());
            }
        }
    }
}

/// Keeps the answer for the key (or lets the key go), and returns the
/// answer to send.
async fn keep(state: &AppState, claim: &IdempotencyKey, response: Response) -> Response {
    let status = response.status();
    if response.extensions().get::<TimedOut>().is_some() {
        // The request's write may still commit after its 503: the key is
        // settled once it no longer can (a running write stops at the
        // statement limit; a queued one is skipped).
        let (state, claim) = (state.clone(), claim.clone());
        tokio::spawn(async move {
            tokio::time::sleep(state.statement_timeout + Duration::from_secs(1)).await;
            let lost = conflict_answer(
                "This request was carried out after it had been answered 503 (it ran past \
                 the request time limit); it will not run again",
            )
            .await;
            if let Err(e) = state.store.idempotency_settle(&claim, lost).await {
                tracing::warn!(error = %e, "could not settle a timed-out idempotency key");
            }
            state.idempotency_done.notify_waiters();
        });
        return response;
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        // Nothing was written: a retry should run again.
        if let Err(e) = state.store.idempotency_release(claim).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return response;
    }
    if is_secret(&response) {
        // An answer with a key is never stored: a retry learns the request
        // succeeded, and the key stays shown once.
        let stored =
            conflict_answer("This request already succeeded; the key it made is shown only once")
                .await;
        if let Err(e) = state.store.idempotency_finish(claim, stored).await {
            tracing::warn!(error = %e, "could not keep an idempotent answer");
        }
        return response;
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
    if let Err(e) = state.store.idempotency_finish(claim, stored).await {
        // The request ran; a retry would run it again. Say so in the log.
        tracing::warn!(error = %e, "could not keep an idempotent answer");
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// A 409 to keep in place of an answer that cannot be replayed.
async fn conflict_answer(message: &str) -> StoredResponse {
    let (parts, body) = ApiError::Conflict(message.into())
        .into_response()
        .into_parts();
    StoredResponse {
        status: parts.status.as_u16(),
        content_type: "application/json".into(),
        body: to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default()
            .to_vec(),
    }
}

/// Put on the 503 of a request stopped by the request time limit: its
/// write may still be running.
#[derive(Clone, Copy, Debug)]
pub struct TimedOut;

/// Whether an answer carries a secret (a key shown once): its handler
/// marks it `Cache-Control: no-store`.
fn is_secret(response: &Response) -> bool {
    response
        .headers()
        .get(header::CACHE_CONTROL)
        .is_some_and(|v| v.as_bytes() == b"no-store")
}

/// Hashes a stream of bytes with every occurrence of `boundary` replaced
/// by a fixed token, across chunk edges.
struct BoundaryFree<'a> {
    hasher: &'a mut Sha256,
    boundary: Vec<u8>,
    carry: Vec<u8>,
}

impl<'a> BoundaryFree<'a> {
    fn new(hasher: &'a mut Sha256, boundary: &str) -> Self {
        Self {
            hasher,
            boundary: boundary.as_bytes().to_vec(),
            carry: Vec::new(),
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        self.carry.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(at) = memchr::memmem::find(&self.carry[start..], &self.boundary) {
            self.hasher.update(&self.carry[start..start + at]);
            self.hasher.update(b"\0boundary\0");
            start += at + self.boundary.len();
        }
        // The tail may be the start of a boundary that the next chunk ends.
        let keep = self.boundary.len().saturating_sub(1);
        let end = start.max(self.carry.len().saturating_sub(keep));
        self.hasher.update(&self.carry[start..end]);
        self.carry.drain(..end);
    }

    fn finish(self) {
        self.hasher.update(&self.carry);
    }
}

fn too_large() -> ApiError {
    ApiError::PayloadTooLarge("Request body is larger than the limit".into())
}

/// Hashes a body while writing it to an anonymous temporary file, and
/// returns the file as the body to pass on.
async fn spool(body: Body, limit: usize, hasher: &mut BoundaryFree<'_>) -> Result<Body, ApiError> {
    use futures_util::StreamExt;
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    let internal = |e: std::io::Error| ApiError::Internal(anyhow::Error::new(e));
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(internal)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::validation(format!("Could not read the request body: {e}")))?;
        total += chunk.len();
        if total > limit {
            return Err(too_large());
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    file.seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(internal)?;
    Ok(Body::from_stream(tokio_util::io::ReaderStream::new(file)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// How often a duplicate waiting the whole minute looks at the claim
    /// (when no release of this process wakes it sooner).
    #[test]
    fn a_waiting_duplicate_looks_a_few_times_a_second_at_most() {
        let first: Vec<u64> = pauses().take(7).map(|p| p.as_millis() as u64).collect();
        assert_eq!(first, [25, 50, 100, 200, 400, 800, 1000]);
        let mut waited = Duration::ZERO;
        let mut looks = 1;
        for pause in pauses() {
            if waited >= WAIT {
                break;
            }
            waited += pause;
            looks += 1;
        }
        // Polling every 25 ms would be 2,400 looks.
        assert!(looks <= 70, "{looks} looks in {WAIT:?}");
    }

    fn digest(body: &[u8], boundary: &str, chunk: usize) -> Vec<u8> {
        let mut hasher = Sha256::new();
        let mut free = BoundaryFree::new(&mut hasher, boundary);
        for part in body.chunks(chunk) {
            free.update(part);
        }
        free.finish();
        hasher.finalize().to_vec()
    }

    #[test]
    fn multipart_fingerprints_ignore_the_boundary_whatever_the_chunks() {
        let form = |b: &str| {
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nemail\na@b.co\r\n--{b}--\r\n"
            )
        };
        let a = form("AaB03x");
        let b = form("f00d9e8a7b6c5d4e");
        let reference = digest(a.as_bytes(), "AaB03x", 1024);
        for chunk in [1, 2, 3, 5, 7, 64] {
            assert_eq!(digest(a.as_bytes(), "AaB03x", chunk), reference);
            assert_eq!(digest(b.as_bytes(), "f00d9e8a7b6c5d4e", chunk), reference);
        }
        let other = form("AaB03x").replace("a@b.co", "c@d.co");
        assert_ne!(digest(other.as_bytes(), "AaB03x", 7), reference);
    }
}
