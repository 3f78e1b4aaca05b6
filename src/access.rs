//! Who is asking, decided once per request and before anything else reads
//! it: the key is authenticated, the workspace resolved (membership
//! included) and the rate limit charged here, ahead of the idempotency
//! layer. So an over-limit or unauthorized request is refused without its
//! body being read, and a kept answer is replayed only to a caller who may
//! still make the request.
//!
//! Workspace routes (everything under `/v1` but health, the account and
//! workspaces) are charged to the workspace's bucket; platform routes
//! (`/v1/account…`, `/v1/workspaces…`) to the user's. The `Tenant` and
//! `Platform` extractors read what this layer found.

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::extract::request_key;
use crate::rate_limit::{Bucket, Slot};
use crate::state::AppState;
use crate::store::{Principal, WorkspaceRef};

/// What [`middleware`] found, for the extractors.
#[derive(Clone, Copy, Debug)]
pub enum Access {
    /// A workspace route: the workspace the request acts in.
    Workspace(WorkspaceRef),
    /// A platform route: the user of the platform key.
    User(i64),
}

/// Which kind of route a path is, by its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    Open,
    Platform,
    Workspace,
}

pub fn route_kind(path: &str) -> RouteKind {
    let Some(rest) = path.strip_prefix("/v1/") else {
        return RouteKind::Open;
    };
    let first = rest.split('/').next().unwrap_or_default();
    match first {
        "health" => RouteKind::Open,
        "account" | "workspaces" => RouteKind::Platform,
        _ => RouteKind::Workspace,
    }
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match decide(&state, &parts).await {
        Ok(Some(access)) => {
            parts.extensions.insert(access);
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(None) => next.run(Request::from_parts(parts, body)).await,
        Err(e) => e.into_response(),
    }
}

async fn decide(state: &AppState, req: &Parts) -> Result<Option<Access>, ApiError> {
    let kind = route_kind(req.uri.path());
    if kind == RouteKind::Open {
        return Ok(None);
    }
    let headers = &req.headers;
    let key = request_key(headers)?;
    let principal = state
        .store
        .authenticate(&key)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Invalid or revoked API key".into()))?;
    let (access, bucket) = match kind {
        RouteKind::Platform => match principal {
            Principal::User { user_key } => (Access::User(user_key), Bucket::User(user_key)),
            Principal::Workspace(_) => {
                return Err(ApiError::Forbidden(
                    "This endpoint needs a platform API key (sk_user_...), not a workspace key"
                        .into(),
                ));
            }
        },
        _ => {
            let ws = workspace(state, headers, principal).await?;
            (Access::Workspace(ws), Bucket::Workspace(ws.key))
        }
    };
    if let Some(limits) = &state.limits {
        let decision = limits.check(bucket);
        if let Some(slot) = req.extensions.get::<Slot>() {
            slot.set(decision);
        }
        if !decision.allowed {
            return Err(ApiError::RateLimited(decision.retry_after_secs));
        }
    }
    Ok(Some(access))
}

/// The workspace a workspace route acts in: the key's own, or with a
/// platform key the one `X-Workspace-Id` names, if the user is a member.
async fn workspace(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    principal: Principal,
) -> Result<WorkspaceRef, ApiError> {
    let asked = match headers.get("x-workspace-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| crate::domain::id::ObjectId::parse(s.trim()))
                .ok_or_else(|| {
                    ApiError::validation("X-Workspace-Id must be an ID of 24 hex characters")
                })?,
        ),
    };
    match principal {
        Principal::Workspace(ws) => match asked {
            Some(id) if id != ws.id() => Err(ApiError::Forbidden(
                "This API key belongs to another workspace".into(),
            )),
            _ => Ok(ws),
        },
        Principal::User { user_key } => {
            let id = asked.ok_or_else(|| {
                ApiError::validation("X-Workspace-Id header is required with a platform API key")
            })?;
            state
                .store
                .member_workspace(user_key, id)
                .await?
                .ok_or_else(|| ApiError::Forbidden("You are not a member of this workspace".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_told_apart_by_their_first_segment() {
        assert_eq!(route_kind("/v1/health"), RouteKind::Open);
        assert_eq!(route_kind("/openapi.json"), RouteKind::Open);
        assert_eq!(route_kind("/v1/account"), RouteKind::Platform);
        assert_eq!(
            route_kind("/v1/account/api-key/rotate"),
            RouteKind::Platform
        );
        assert_eq!(route_kind("/v1/workspaces/x/members"), RouteKind::Platform);
        assert_eq!(route_kind("/v1/leads"), RouteKind::Workspace);
        assert_eq!(route_kind("/v1/workspacesx"), RouteKind::Workspace);
    }
}
