//! The account, its workspaces, their members and their API keys. Platform
//! keys only: a workspace key gets 403 on every route here. Members may read
//! and rename a workspace; owners also manage members and keys, and delete.

use axum::extract::{Path, State};
use axum::http::Method;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, created, deleted, ok, page, schema};
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::error::ApiError;
use crate::extract::{Body, Platform, Query, path_id};
use crate::state::AppState;
use crate::store::{Access, Page, Role, UserRow, WorkspaceRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(account))
        .routes(routes!(list, create))
        .routes(routes!(read, rename, remove))
        .routes(routes!(add_member, remove_member))
        .routes(routes!(create_key, revoke_key))
        .routes(routes!(rotate_key))
        .routes(routes!(rotate_account_key))
}

fn view(w: &WorkspaceRow, role: Role) -> schema::Workspace {
    schema::Workspace {
        id: w.workspace.id().to_string(),
        name: w.name.clone(),
        role: role.as_str().to_owned(),
        created_at: format_time(w.workspace.created_at),
        updated_at: format_time(w.updated_at),
    }
}

fn render(w: &WorkspaceRow, role: Role) -> Value {
    serde_json::to_value(view(w, role)).unwrap_or_default()
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

/// Whether `user` may still make a write to `path` whose kept answer is
/// about to be replayed (`idempotency`): on a workspace's own routes, the
/// membership and role the handlers below ask of [`access`] (an owner for
/// everything but a rename).
pub(crate) async fn may_replay(
    state: &AppState,
    user: i64,
    method: &Method,
    path: &str,
) -> Result<(), ApiError> {
    let Some(rest) = path.strip_prefix("/v1/workspaces/") else {
        return Ok(());
    };
    let (id, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let owner = !(*method == Method::PATCH && rest.is_empty());
    access(state, user, id, owner).await.map(|_| ())
}

#[utoipa::path(
    get, path = "/account", tag = "Account and workspaces", operation_id = "getAccount", summary = "The caller (platform key)",
    responses((status = 200, description = "The user and its workspaces", body = schema::Envelope<schema::Account>))
)]
async fn account(State(state): State<AppState>, Platform(user): Platform) -> ApiResult {
    let u = state.store.get_user(user).await?;
    let workspaces = state
        .store
        .user_workspaces(user)
        .await?
        .iter()
        .map(|(w, role)| view(w, *role))
        .collect();
    ok(schema::Account {
        id: ObjectId::new(u.key, u.created_at).to_string(),
        email: u.email,
        created_at: format_time(u.created_at),
        workspaces,
    })
}

#[utoipa::path(
    get, path = "/workspaces", tag = "Account and workspaces", operation_id = "listWorkspaces", summary = "List your workspaces (platform key)",
    description = "Newest first, paginated like every list.",
    params(schema::PageQuery),
    responses((status = 200, description = "A page of your workspaces", body = schema::ListEnvelope<schema::Workspace>))
)]
async fn list(
    State(state): State<AppState>,
    Platform(user): Platform,
    Query(paging): Query<schema::PageQuery>,
) -> ApiResult {
    let req = paging.page();
    // A user has few workspaces: one read, paged here.
    let all = state.store.user_workspaces(user).await?;
    let total = all.len() as i64;
    let mut items: Vec<_> = all
        .into_iter()
        .filter(|(w, _)| req.cursor.is_none_or(|c| w.workspace.key < c.key))
        .take(req.limit + 1)
        .collect();
    let has_more = items.len() > req.limit;
    items.truncate(req.limit);
    page(
        Page {
            items,
            total,
            has_more,
        },
        req.limit,
        |(w, _)| w.workspace.id(),
        |(w, role)| view(w, *role),
    )
}

#[utoipa::path(
    post, path = "/workspaces", tag = "Account and workspaces", operation_id = "createWorkspace", summary = "Create a workspace (platform key); you become its owner",
    request_body = schema::WorkspaceInput,
    responses((status = 201, description = "The workspace", body = schema::Envelope<schema::Workspace>))
)]
async fn create(
    State(state): State<AppState>,
    Platform(user): Platform,
    Body(input): Body<schema::WorkspaceInput>,
) -> ApiResult {
    let name = input.name()?;
    let w = state.store.add_workspace(&name, user).await?;
    created(render(&w, Role::Owner))
}

#[utoipa::path(
    get, path = "/workspaces/{id}", tag = "Account and workspaces", operation_id = "getWorkspace", summary = "Get a workspace (platform key, member)",
    params(("id" = String, Path, description = "Workspace ID (24 hex characters)")),
    responses((status = 200, description = "The workspace", body = schema::Envelope<schema::Workspace>))
)]
async fn read(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, role) = access(&state, user, &id, false).await?;
    ok(render(&w, role))
}

#[utoipa::path(
    patch, path = "/workspaces/{id}", tag = "Account and workspaces", operation_id = "renameWorkspace", summary = "Rename a workspace (platform key, member)",
    params(("id" = String, Path, description = "Workspace ID (24 hex characters)")), request_body = schema::WorkspaceInput,
    responses((status = 200, description = "The workspace", body = schema::Envelope<schema::Workspace>))
)]
async fn rename(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
    Body(input): Body<schema::WorkspaceInput>,
) -> ApiResult {
    let (w, role) = access(&state, user, &id, false).await?;
    let name = input.name()?;
    ok(render(
        &state.store.rename_workspace(w.workspace, &name).await?,
        role,
    ))
}

#[utoipa::path(
    delete, path = "/workspaces/{id}", tag = "Account and workspaces", operation_id = "deleteWorkspace", summary = "Delete a workspace and all its data (platform key, owner)",
    params(("id" = String, Path, description = "Workspace ID (24 hex characters)")),
    responses((status = 200, description = "Deleted", body = schema::Envelope<schema::Deleted>))
)]
async fn remove(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    state.store.delete_workspace(w.workspace).await?;
    deleted(w.workspace.id())
}

/// The user a membership request names by `email`.
async fn member_of(state: &AppState, input: &schema::MemberInput) -> Result<UserRow, ApiError> {
    let email = input.email()?;
    state
        .store
        .find_user(email)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No user with email {email}")))
}

#[utoipa::path(
    post, path = "/workspaces/{id}/members", tag = "Account and workspaces", operation_id = "addWorkspaceMember", summary = "Add a member or change a role (platform key, owner)",
    params(("id" = String, Path, description = "Workspace ID (24 hex characters)")), request_body = schema::MemberInput,
    responses((status = 200, description = "The membership", body = schema::Envelope<schema::Member>))
)]
async fn add_member(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
    Body(input): Body<schema::MemberInput>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    let role = input.role.unwrap_or(Role::Member);
    let member = member_of(&state, &input).await?;
    state
        .store
        .set_member(w.workspace, member.key, role)
        .await?;
    ok(schema::Member {
        workspace_id: w.workspace.id().to_string(),
        user_id: ObjectId::new(member.key, member.created_at).to_string(),
        email: member.email,
        role: role.as_str().to_owned(),
    })
}

#[utoipa::path(
    delete, path = "/workspaces/{id}/members", tag = "Account and workspaces", operation_id = "removeWorkspaceMember", summary = "Remove a member (platform key, owner)",
    params(("id" = String, Path, description = "Workspace ID (24 hex characters)")), request_body = schema::MemberInput,
    responses((status = 200, description = "Removed", body = schema::Envelope<schema::MemberRemoved>))
)]
async fn remove_member(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
    Body(input): Body<schema::MemberInput>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    let member = member_of(&state, &input).await?;
    state.store.remove_member(w.workspace, member.key).await?;
    ok(schema::MemberRemoved {
        workspace_id: w.workspace.id().to_string(),
        user_id: ObjectId::new(member.key, member.created_at).to_string(),
        removed: true,
    })
}

#[utoipa::path(
    post, path = "/workspaces/{id}/api-key", tag = "Account and workspaces", operation_id = "createWorkspaceKey", summary = "Create the workspace key, shown once (platform key, owner)",
    description = "409 while the workspace has one.",
    params(("id" = String, Path, description = "Workspace ID (24 hex characters)")),
    responses((status = 201, description = "The key", body = schema::Envelope<schema::WorkspaceKey>))
)]
async fn create_key(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    let key = state.store.create_workspace_key(w.workspace).await?;
    secret(created(schema::WorkspaceKey {
        workspace_id: w.workspace.id().to_string(),
        api_key: key.expose().to_owned(),
    }))
}

/// Marks an answer that carries a key: never cached, never kept for an
/// Idempotency-Key replay (see `idempotency::is_secret`).
fn secret(answer: ApiResult) -> ApiResult {
    answer.map(|mut response| {
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        response
    })
}

#[utoipa::path(
    delete, path = "/workspaces/{id}/api-key", tag = "Account and workspaces", operation_id = "revokeWorkspaceKey", summary = "Revoke the workspace key (platform key, owner)",
    params(("id" = String, Path, description = "Workspace ID (24 hex characters)")),
    responses((status = 200, description = "Revoked", body = schema::Envelope<schema::KeyRevoked>))
)]
async fn revoke_key(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    state.store.revoke_workspace_key(w.workspace).await?;
    ok(schema::KeyRevoked {
        workspace_id: w.workspace.id().to_string(),
        revoked: true,
    })
}

#[utoipa::path(
    post, path = "/account/api-key/rotate", tag = "Account and workspaces", operation_id = "rotateAccountKey", summary = "Replace your platform key; the old one stops working at once",
    responses((status = 200, description = "The new platform key, shown once", body = schema::Envelope<schema::PlatformKey>))
)]
async fn rotate_account_key(State(state): State<AppState>, Platform(user): Platform) -> ApiResult {
    let key = state.store.rotate_user_key(user).await?;
    let u = state.store.get_user(user).await?;
    secret(ok(schema::PlatformKey {
        user_id: ObjectId::new(u.key, u.created_at).to_string(),
        api_key: key.expose().to_owned(),
    }))
}

#[utoipa::path(
    post, path = "/workspaces/{id}/api-key/rotate", tag = "Account and workspaces", operation_id = "rotateWorkspaceKey", summary = "Replace the workspace key; the old one stops working at once",
    params(("id" = String, Path, description = "Workspace ID (24 hex characters)")),
    responses((status = 200, description = "The new key, shown once", body = schema::Envelope<schema::WorkspaceKey>))
)]
async fn rotate_key(
    State(state): State<AppState>,
    Platform(user): Platform,
    Path(id): Path<String>,
) -> ApiResult {
    let (w, _) = access(&state, user, &id, true).await?;
    let key = state.store.rotate_workspace_key(w.workspace).await?;
    secret(ok(schema::WorkspaceKey {
        workspace_id: w.workspace.id().to_string(),
        api_key: key.expose().to_owned(),
    }))
}
