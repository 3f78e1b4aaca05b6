//! The account, its workspaces, their members and their API keys. Platform
//! keys only: a workspace key gets 403 on every route here. Members may read
//! and rename a workspace; owners also manage members and keys, and delete.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{ApiResult, created, deleted, object, ok};
use crate::domain::email::Email;
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::lead::FieldError;
use crate::error::ApiError;
use crate::extract::{JsonBody, Platform, path_id};
use crate::startup::AppState;
use crate::store::{Access, Role, WorkspaceRow};

const MAX_NAME: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/workspaces", get(list).post(create))
        .route("/workspaces/{id}", get(read).patch(rename).delete(remove))
        .route(
            "/workspaces/{id}/members",
            post(add_member).delete(remove_member),
        )
        .route(
            "/workspaces/{id}/api-key",
            post(create_key).delete(revoke_key),
        )
        .route("/workspaces/{id}/api-key/rotate", post(rotate_key))
}

fn render(w: &WorkspaceRow, role: Role) -> Value {
    json!({
        "_id": w.workspace.id(),
        "name": w.name,
        "role": role.as_str(),
        "createdAt": format_time(w.workspace.created_at),
        "updatedAt": format_time(w.updated_at),
    })
}

fn parse_name(body: &Value) -> Result<String, ApiError> {
    match object(body)?.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.trim().chars().count() <= MAX_NAME => {
            Ok(s.trim().to_owned())
        }
        _ => Err(ApiError::field(FieldError::new(
            "name",
            format!("is required: a string of 1 to {MAX_NAME} characters"),
        ))),
    }
}

/// The workspace `id` as the user sees it: 404 when it does not exist, 403
/// when the user is not a member, 403 when `owner` is needed and the user is
/// only a member.
async fn access(
    state: &AppState,
    user: i64,
    id: &str,
    owner: bool,
) -> Result<(WorkspaceRow, Role), ApiError> {
    let id = path_id(id, "Workspace")?;
    match state.store.workspace_access(user, id).await? {
        Access::NotFound => Err(ApiError::NotFound("Workspace not found".into())),
        Access::NotMember => Err(ApiError::Forbidden(
            "You are not a member of this workspace".into(),
        )),
        Access::Member(_, Role::Member) if owner => Err(ApiError::Forbidden(
            "Only an owner of the workspace can do this".into(),
        )),
        Access::Member(w, role) => Ok((w, role)),
    }
}

async fn account(State(state): State<AppState>, Platform(user): Platform) -> ApiResult {
    let u = state.store.get_user(user).await?;
    let workspaces: Vec<Value> = state
        .store
        .user_workspaces(user)
        .await?
        .iter()
        .map(|(w, role)| render(w, *role))
        .collect();
    ok(json!({
        "_id": ObjectId::new(u.key, u.created_at),
        "email": u.email,
        "createdAt": format_time(u.created_at),
        "workspaces": workspaces,
    }))
}

async fn list(State(state): State<AppState>, Platform(user): Platform) -> ApiResult {
    let items: Vec<Value> = state
        .store
        .user_workspaces(user)
        .await?
        .iter()
        .map(|(w, role)| render(w, *role))
        .collect();
    let total = items.len();
    Ok(axum::Json(json!({
        "success": true,
        "data": items,
        "pagination": {"limit": total, "total": total, "hasMore": false, "nextCursor": null},
    }))
    .into_response())
}

async fn create(
    State(state): State<AppState>,
    Platform(user): Platform,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let name = parse_name(&body)?;
    let w = state.store.add_workspace(&name, user).await?;
    created(render(&w, Role::Owner))
}

async fn read(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, role) = access(&state, user, &id, false).await?;
    ok(render(&w, role))
}

async fn rename(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let (w, role) = access(&state, user, &id, false).await?;
    let name = parse_name(&body)?;
    ok(render(
        &state.store.rename_workspace(w.workspace, &name).await?,
        role,
    ))
}

async fn remove(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    state.store.delete_workspace(w.workspace).await?;
    deleted(w.workspace.id())
}

/// The member a body names by `email`.
async fn member_of(state: &AppState, body: &Value) -> Result<crate::store::UserRow, ApiError> {
    let email = object(body)?
        .get("email")
        .and_then(Value::as_str)
        .and_then(Email::parse)
        .ok_or_else(|| {
            ApiError::field(FieldError::new(
                "email",
                "is required: the email of an existing user",
            ))
        })?;
    state
        .store
        .find_user(&email)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No user with email {email}")))
}

async fn add_member(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    let role = match object(&body)?.get("role") {
        None | Some(Value::Null) => Role::Member,
        Some(v) => v
            .as_str()
            .and_then(Role::parse)
            .ok_or_else(|| ApiError::field(FieldError::new("role", "must be owner or member")))?,
    };
    let member = member_of(&state, &body).await?;
    state
        .store
        .set_member(w.workspace, member.key, role)
        .await?;
    ok(json!({
        "workspaceId": w.workspace.id(),
        "userId": ObjectId::new(member.key, member.created_at),
        "email": member.email,
        "role": role.as_str(),
    }))
}

async fn remove_member(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    let member = member_of(&state, &body).await?;
    state.store.remove_member(w.workspace, member.key).await?;
    ok(
        json!({"workspaceId": w.workspace.id(), "userId": ObjectId::new(member.key, member.created_at), "removed": true}),
    )
}

async fn create_key(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    let key = state.store.create_workspace_key(w.workspace).await?;
    created(json!({"workspaceId": w.workspace.id(), "apiKey": key.expose()}))
}

async fn revoke_key(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    state.store.revoke_workspace_key(w.workspace).await?;
    ok(json!({"workspaceId": w.workspace.id(), "revoked": true}))
}

async fn rotate_key(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    let key = state.store.rotate_workspace_key(w.workspace).await?;
    ok(json!({"workspaceId": w.workspace.id(), "apiKey": key.expose()}))
}
