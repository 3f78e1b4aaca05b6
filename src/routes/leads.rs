//! Leads: create, list with filters, read, update, delete, bulk create.

use std::collections::HashSet;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{ApiResult, Target, bool_field, created, deleted, object, ok, page, parse_target};
use crate::domain::filter::LeadFilter;
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::lead::{FieldError, LeadError, LeadFields, TEXT_FIELDS, parse_tag};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryPairs, Tenant, path_id};
use crate::startup::AppState;
use crate::store::{LeadRow, Selection, WorkspaceRef};

pub const MAX_BULK: usize = 5_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/leads", get(list).post(create).delete(delete_many))
        .route("/leads/bulk", post(bulk))
        .route("/leads/{id}", get(read).patch(update).delete(remove))
}

/// A lead as the API shows it.
pub fn render(ws: WorkspaceRef, lead: &LeadRow) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("_id".into(), json!(lead.id()));
    obj.insert("workspaceId".into(), json!(ws.id()));
    obj.insert("email".into(), json!(lead.email));
    for ((name, _), value) in TEXT_FIELDS.iter().zip(&lead.text) {
        obj.insert((*name).into(), json!(value));
    }
    obj.insert("tags".into(), json!(lead.tags));
    obj.insert(
        "customFields".into(),
        Value::Object(lead.custom_fields.clone()),
    );
    obj.insert(
        "emailVerified".into(),
        json!(lead.email_verification_result.is_some()),
    );
    obj.insert(
        "emailVerificationResult".into(),
        json!(lead.email_verification_result),
    );
    obj.insert("createdAt".into(), json!(format_time(lead.created_at)));
    obj.insert("updatedAt".into(), json!(format_time(lead.updated_at)));
    Value::Object(obj)
}

async fn list(State(state): State<AppState>, Tenant(ws): Tenant, query: QueryPairs) -> ApiResult {
    let req = query.page()?;
    let filter = LeadFilter::from_query(&query.0)?;
    let result = state.store.list_leads(ws, &filter, req).await?;
    page(result, req.limit, LeadRow::id, |l| render(ws, l))
}

async fn create(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let (email, fields) =
        LeadFields::parse_new(&body).map_err(|e| ApiError::field(e.into_field_error()))?;
    let lead = state.store.create_lead(ws, &email, &fields).await?;
    created(render(ws, &lead))
}

async fn read(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, "Lead")?;
    let lead = state.store.get_lead(ws, id).await?;
    ok(render(ws, &lead))
}

async fn update(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let id = path_id(&id, "Lead")?;
    let fields = LeadFields::parse(&body).map_err(|e| ApiError::field(e.into_field_error()))?;
    if let Some(email) = &fields.email {
        let current = state.store.get_lead(ws, id).await?;
        if email.key() != current.email_key() {
            return Err(ApiError::field(FieldError::new(
                "email",
                "cannot be changed",
            )));
        }
    }
    let lead = state.store.update_lead(ws, id, &fields).await?;
    ok(render(ws, &lead))
}

async fn remove(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, "Lead")?;
    state.store.delete_lead(ws, id).await?;
    deleted(id)
}

/// `POST /v1/leads/bulk`: up to 5,000 leads by email. Invalid entries are
/// reported and the rest proceed; a repeated email counts as skipped.
async fn bulk(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let obj = object(&body)?;
    let leads = match obj.get("leads") {
        Some(Value::Array(items)) => items,
        _ => {
            return Err(ApiError::field(FieldError::new(
                "leads",
                "must be an array of lead objects",
            )));
        }
    };
    if leads.is_empty() || leads.len() > MAX_BULK {
        return Err(ApiError::field(FieldError::new(
            "leads",
            format!("must hold 1 to {MAX_BULK} leads (got {})", leads.len()),
        )));
    }
    let skip_duplicates = bool_field(obj, "skipDuplicates", true)?;
    let tag = match obj.get("tag") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_tag(v).map_err(|m| ApiError::field(FieldError::new("tag", m)))?),
    };

    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut repeats = 0u64;
    let mut valid = Vec::with_capacity(leads.len());
    for (index, entry) in leads.iter().enumerate() {
        match LeadFields::parse_new(entry) {
            Ok((email, fields)) => {
                if seen.insert(email.key()) {
                    valid.push((email, fields));
                } else {
                    repeats += 1;
                }
            }
            Err(e) => {
                let email = entry.get("email").cloned().unwrap_or(Value::Null);
                errors.push(json!({"index": index, "email": email, "error": entry_message(e)}));
            }
        }
    }
    let outcome = state
        .store
        .bulk_upsert(ws, valid, skip_duplicates, tag)
        .await?;
    ok(json!({
        "imported": outcome.imported.len(),
        "updated": outcome.updated,
        "skipped": outcome.skipped + repeats,
        "failed": errors.len(),
        "importedLeadIds": outcome.imported.iter().map(ObjectId::to_string).collect::<Vec<_>>(),
        "errors": errors,
    }))
}

/// What is wrong with one entry of a batch, as a sentence.
pub fn entry_message(e: LeadError) -> String {
    match e {
        LeadError::NotAnObject => "Entry must be an object".to_owned(),
        e => {
            let f = e.into_field_error();
            format!("{} {}", f.field, f.message)
        }
    }
}

/// `DELETE /v1/leads`: `leadIds`, or `deleteAll: true` with optional
/// `filters` and `excludeIds`. Their campaign memberships go too.
async fn delete_many(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let selection = match parse_target(object(&body)?, "leadIds", "deleteAll")? {
        Target::Ids(ids) => Selection {
            filter: Some(LeadFilter {
                lead_ids: Some(ids),
                ..Default::default()
            }),
            exclude: Vec::new(),
        },
        Target::All { filter, exclude } => Selection { filter, exclude },
    };
    let deleted = state.store.delete_leads(ws, selection).await?;
    ok(json!({"deletedCount": deleted}))
}
