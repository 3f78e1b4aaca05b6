//! Campaigns: CRUD and the state machine (start, pause, resume, complete,
//! archive).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::{ApiResult, created, deleted, object, ok, page};
use crate::domain::campaign::{CampaignLeadStatus, CampaignStatus, Transition};
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::lead::FieldError;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryPairs, Tenant, path_id};
use crate::startup::AppState;
use crate::store::{CampaignFields, CampaignRow, WorkspaceRef};

const MAX_NAME: usize = 200;
const MAX_CONTENT: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(list).post(create))
        .route("/campaigns/{id}", get(read).patch(update).delete(remove))
        .route("/campaigns/{id}/start", post(start))
        .route("/campaigns/{id}/pause", post(pause))
        .route("/campaigns/{id}/resume", post(resume))
        .route("/campaigns/{id}/complete", post(complete))
        .route("/campaigns/{id}/archive", post(archive))
}

pub fn render(ws: WorkspaceRef, c: &CampaignRow) -> Value {
    let mut counts = Map::new();
    counts.insert(
        "total".into(),
        json!(c.lead_counts.by_status.iter().sum::<i64>()),
    );
    for (status, n) in CampaignLeadStatus::ALL.iter().zip(c.lead_counts.by_status) {
        counts.insert(status.as_str().into(), json!(n));
    }
    json!({
        "_id": ObjectId::new(c.key, c.created_at),
        "workspaceId": ws.id(),
        "name": c.name,
        "status": c.status.as_str(),
        "sequence": c.sequence,
        "sendingSchedule": c.schedule,
        "settings": c.settings,
        "leadCounts": counts,
        "startedAt": c.started_at.map(format_time),
        "completedAt": c.completed_at.map(format_time),
        "createdAt": format_time(c.created_at),
        "updatedAt": format_time(c.updated_at),
    })
}

/// Parses the settable fields; `name` is required when `creating`.
fn parse_fields(body: &Value, creating: bool) -> Result<CampaignFields, ApiError> {
    let obj = object(body)?;
    let mut f = CampaignFields::default();
    match obj.get("name") {
        None if !creating => {}
        Some(Value::String(s)) if !s.trim().is_empty() && s.trim().chars().count() <= MAX_NAME => {
            f.name = Some(s.trim().to_owned());
        }
        _ => {
            return Err(ApiError::field(FieldError::new(
                "name",
                format!("is required: a string of 1 to {MAX_NAME} characters"),
            )));
        }
    }
    if !creating && obj.contains_key("status") {
        return Err(ApiError::field(FieldError::new(
            "status",
            "cannot be set directly: use the start, pause, resume, complete and archive actions",
        )));
    }
    match obj.get("sequence") {
        None => {}
        Some(v @ Value::Array(_)) => f.sequence = Some(v.clone()),
        Some(_) => {
            return Err(ApiError::field(FieldError::new(
                "sequence",
                "must be an array",
            )));
        }
    }
    match obj.get("schedule").or_else(|| obj.get("sendingSchedule")) {
        None => {}
        Some(v @ Value::Object(_)) => f.schedule = Some(v.clone()),
        Some(_) => {
            return Err(ApiError::field(FieldError::new(
                "schedule",
                "must be an object",
            )));
        }
    }
    match obj.get("settings") {
        None => {}
        Some(v @ Value::Object(_)) => f.settings = Some(v.clone()),
        Some(_) => {
            return Err(ApiError::field(FieldError::new(
                "settings",
                "must be an object",
            )));
        }
    }
    let size: usize = [&f.sequence, &f.schedule, &f.settings]
        .iter()
        .filter_map(|v| v.as_ref())
        .map(|v| v.to_string().len())
        .sum();
    if size > MAX_CONTENT {
        return Err(ApiError::validation(
            "sequence, schedule and settings must be at most 64 KiB together",
        ));
    }
    Ok(f)
}

async fn list(State(state): State<AppState>, Tenant(ws): Tenant, query: QueryPairs) -> ApiResult {
    let req = query.page()?;
    let statuses = match query.get("status") {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                CampaignStatus::parse(s.trim()).ok_or_else(|| {
                    ApiError::field(FieldError::new(
                        "status",
                        format!("'{s}' is not one of draft, active, paused, completed, archived"),
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let search = query.get("search").map(str::trim).filter(|s| !s.is_empty());
    let result = state
        .store
        .list_campaigns(ws, &statuses, search, req)
        .await?;
    page(
        result,
        req.limit,
        |c| ObjectId::new(c.key, c.created_at),
        |c| render(ws, c),
    )
}

async fn create(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let fields = parse_fields(&body, true)?;
    let campaign = state.store.create_campaign(ws, fields).await?;
    created(render(ws, &campaign))
}

async fn read(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, "Campaign")?;
    ok(render(ws, &state.store.get_campaign(ws, id).await?))
}

async fn update(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let id = path_id(&id, "Campaign")?;
    let fields = parse_fields(&body, false)?;
    ok(render(
        ws,
        &state.store.update_campaign(ws, id, fields).await?,
    ))
}

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

async fn start(State(s): State<AppState>, Tenant(ws): Tenant, Path(id): Path<String>) -> ApiResult {
    transition(s, ws, id, Transition::Start).await
}

async fn pause(State(s): State<AppState>, Tenant(ws): Tenant, Path(id): Path<String>) -> ApiResult {
    transition(s, ws, id, Transition::Pause).await
}

async fn resume(
    State(s): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    transition(s, ws, id, Transition::Resume).await
}

async fn complete(
    State(s): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    transition(s, ws, id, Transition::Complete).await
}

async fn archive(
    State(s): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    transition(s, ws, id, Transition::Archive).await
}
