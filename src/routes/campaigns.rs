//! Campaigns: CRUD and the state machine (start, pause, resume, complete,
//! archive).

use axum::extract::{Path, State};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, created, deleted, ok, page, schema};
use crate::domain::campaign::Transition;
use crate::extract::{Body, Query, Tenant, path_id};
use crate::state::AppState;
use crate::store::{CampaignRow, WorkspaceRef};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(start))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(complete))
        .routes(routes!(archive))
}

pub fn render(ws: WorkspaceRef, c: &CampaignRow) -> Value {
    serde_json::to_value(schema::Campaign::new(ws, c)).unwrap_or_default()
}

#[utoipa::path(
    get, path = "/campaigns", tag = "Campaigns", operation_id = "listCampaigns", summary = "List campaigns",
    params(schema::PageQuery, schema::CampaignQuery),
    responses((status = 200, description = "A page of campaigns", body = schema::ListEnvelope<schema::Campaign>))
)]
async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Query(paging): Query<schema::PageQuery>,
    Query(query): Query<schema::CampaignQuery>,
) -> ApiResult {
    let req = paging.page();
    let statuses = query.statuses()?;
    let search = query.search()?;
    let _turn = state.turns.take(ws).await;
    let result = state
        .store
        .list_campaigns(ws, &statuses, search, req)
        .await?;
    page(result, req.limit, CampaignRow::id, |c| render(ws, c))
}

#[utoipa::path(
    post, path = "/campaigns", tag = "Campaigns", operation_id = "createCampaign", summary = "Create a campaign (draft)",
    request_body = schema::CampaignInput,
    responses((status = 201, description = "The campaign", body = schema::Envelope<schema::Campaign>))
)]
async fn create(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(input): Body<schema::CampaignInput>,
) -> ApiResult {
    let fields = input.into_fields(true)?;
    let campaign = state.store.create_campaign(ws, fields).await?;
    created(render(ws, &campaign))
}

#[utoipa::path(
    get, path = "/campaigns/{id}", tag = "Campaigns", operation_id = "getCampaign", summary = "Get a campaign",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    responses((status = 200, description = "The campaign", body = schema::Envelope<schema::Campaign>))
)]
async fn read(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, "Campaign")?;
    ok(render(ws, &state.store.get_campaign(ws, id).await?))
}

#[utoipa::path(
    patch, path = "/campaigns/{id}", tag = "Campaigns", operation_id = "updateCampaign", summary = "Update a campaign",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")), request_body = schema::CampaignInput,
    responses((status = 200, description = "The campaign", body = schema::Envelope<schema::Campaign>))
)]
async fn update(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Body(input): Body<schema::CampaignInput>,
) -> ApiResult {
    let id = path_id(&id, "Campaign")?;
    let fields = input.into_fields(false)?;
    ok(render(
        ws,
        &state.store.update_campaign(ws, id, fields).await?,
    ))
}

#[utoipa::path(
    delete, path = "/campaigns/{id}", tag = "Campaigns", operation_id = "deleteCampaign", summary = "Delete a campaign",
    description = "Removes its campaign leads, never the leads.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    responses((status = 200, description = "Deleted", body = schema::Envelope<schema::Deleted>))
)]
async fn remove(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, "Campaign")?;
    state.store.delete_campaign(ws, id).await?;
    deleted(id)
}

async fn transition(state: AppState, ws: WorkspaceRef, id: String, t: Transition) -> ApiResult {
    let id = path_id(&id, "Campaign")?;
    ok(render(
        ws,
        &state.store.transition_campaign(ws, id, t).await?,
    ))
}

#[utoipa::path(
    post, path = "/campaigns/{id}/start", tag = "Campaigns", operation_id = "startCampaign", summary = "Start a campaign",
    description = "draft → active; pending campaign leads become active; any other change is a 409.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    responses((status = 200, description = "The campaign", body = schema::Envelope<schema::Campaign>))
)]
async fn start(State(s): State<AppState>, Tenant(ws): Tenant, Path(id): Path<String>) -> ApiResult {
    transition(s, ws, id, Transition::Start).await
}

#[utoipa::path(
    post, path = "/campaigns/{id}/pause", tag = "Campaigns", operation_id = "pauseCampaign", summary = "Pause a campaign",
    description = "active → paused; any other change is a 409.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    responses((status = 200, description = "The campaign", body = schema::Envelope<schema::Campaign>))
)]
async fn pause(State(s): State<AppState>, Tenant(ws): Tenant, Path(id): Path<String>) -> ApiResult {
    transition(s, ws, id, Transition::Pause).await
}

#[utoipa::path(
    post, path = "/campaigns/{id}/resume", tag = "Campaigns", operation_id = "resumeCampaign", summary = "Resume a campaign",
    description = "paused → active; any other change is a 409.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    responses((status = 200, description = "The campaign", body = schema::Envelope<schema::Campaign>))
)]
async fn resume(
    State(s): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    transition(s, ws, id, Transition::Resume).await
}

#[utoipa::path(
    post, path = "/campaigns/{id}/complete", tag = "Campaigns", operation_id = "completeCampaign", summary = "Complete a campaign",
    description = "active or paused → completed; any other change is a 409.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    responses((status = 200, description = "The campaign", body = schema::Envelope<schema::Campaign>))
)]
async fn complete(
    State(s): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    transition(s, ws, id, Transition::Complete).await
}

#[utoipa::path(
    post, path = "/campaigns/{id}/archive", tag = "Campaigns", operation_id = "archiveCampaign", summary = "Archive a campaign",
    description = "any status → archived (archiving an archived campaign changes nothing); leads can no longer be added.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    responses((status = 200, description = "The campaign", body = schema::Envelope<schema::Campaign>))
)]
async fn archive(
    State(s): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    transition(s, ws, id, Transition::Archive).await
}
