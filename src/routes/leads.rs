//! Leads: create, list with filters, read, update, delete, bulk create.

use std::collections::HashSet;

use axum::extract::{Path, State};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Target, TargetInput, created, deleted, ok, page, schema};
use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;
use crate::domain::json::flag;
use crate::domain::lead::{FieldError, LeadError, LeadFields};
use crate::error::ApiError;
use crate::extract::{Body, Query, Tenant, path_id};
use crate::state::AppState;
use crate::store::{LeadRow, Selection, WorkspaceRef};

pub const MAX_BULK: usize = 5_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create, delete_many))
        .routes(routes!(bulk))
        .routes(routes!(read, update, remove))
        .routes(routes!(campaigns))
}

/// A lead as the API shows it.
pub fn render(ws: WorkspaceRef, lead: &LeadRow) -> Value {
    serde_json::to_value(schema::Lead::new(ws, lead)).unwrap_or_default()
}

#[utoipa::path(
    get, path = "/leads", tag = "Leads", operation_id = "listLeads", summary = "List leads",
    description = "Newest first, with the lead filters as query parameters: `email`, `tags`, `search`, `emailStatus`, `emailVerified`, `hasCompany`, `hasPhone`, `country`, `leadIds`, `createdAfter`, `createdBefore`.",
    params(schema::PageQuery, schema::LeadQuery),
    responses((status = 200, description = "A page of leads", body = schema::ListEnvelope<schema::Lead>))
)]
async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Query(paging): Query<schema::PageQuery>,
    Query(query): Query<schema::LeadQuery>,
) -> ApiResult {
    let req = paging.page();
    let filter = query.filter()?;
    let _turn = state.turns.take(ws).await;
    let result = state.store.list_leads(ws, &filter, req).await?;
    page(result, req.limit, LeadRow::id, |l| render(ws, l))
}

#[utoipa::path(
    get, path = "/leads/{id}/campaigns", tag = "Leads", operation_id = "listLeadCampaigns", summary = "List the campaigns a lead is in",
    description = "Every membership of the lead, newest first: the campaign's ID, name and state, and the membership's ID (`campaignLeadId`), status and time added. Paginated like other lists.",
    params(("id" = String, Path, description = "Lead ID (24 hex characters)"), schema::PageQuery),
    responses((status = 200, description = "A page of the lead's campaigns", body = schema::ListEnvelope<schema::LeadCampaign>))
)]
async fn campaigns(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Query(paging): Query<schema::PageQuery>,
) -> ApiResult {
    let lead = path_id(&id, "Lead")?;
    let req = paging.page();
    let result = state.store.list_lead_campaigns(ws, lead, req).await?;
    page(
        result,
        req.limit,
        |m| ObjectId::new(m.key, m.added_at),
        |m| serde_json::to_value(schema::LeadCampaign::new(m)).unwrap_or_default(),
    )
}

#[utoipa::path(
    post, path = "/leads", tag = "Leads", operation_id = "createLead", summary = "Create a lead",
    request_body = schema::LeadInput,
    responses((status = 201, description = "The lead", body = schema::Envelope<schema::Lead>))
)]
async fn create(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(input): Body<schema::LeadInput>,
) -> ApiResult {
    let (email, fields) = LeadFields::check(input)
        .and_then(LeadFields::with_email)
        .map_err(|e| ApiError::field(e.into_field_error()))?;
    let lead = state.store.create_lead(ws, &email, &fields).await?;
    crate::metrics::leads_created(1);
    created(render(ws, &lead))
}

#[utoipa::path(
    get, path = "/leads/{id}", tag = "Leads", operation_id = "getLead", summary = "Get a lead",
    params(("id" = String, Path, description = "Lead ID (24 hex characters)")),
    responses((status = 200, description = "The lead", body = schema::Envelope<schema::Lead>))
)]
async fn read(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, "Lead")?;
    let lead = state.store.get_lead(ws, id).await?;
    ok(render(ws, &lead))
}

#[utoipa::path(
    patch, path = "/leads/{id}", tag = "Leads", operation_id = "updateLead", summary = "Update a lead",
    description = "Given fields replace the stored ones; `customFields` merge by key; the email cannot change.",
    params(("id" = String, Path, description = "Lead ID (24 hex characters)")), request_body = schema::LeadInput,
    responses((status = 200, description = "The lead", body = schema::Envelope<schema::Lead>))
)]
async fn update(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Body(input): Body<schema::LeadInput>,
) -> ApiResult {
    let fields = LeadFields::check(input).map_err(|e| ApiError::field(e.into_field_error()))?;
    let id = path_id(&id, "Lead")?;
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

#[utoipa::path(
    delete, path = "/leads/{id}", tag = "Leads", operation_id = "deleteLead", summary = "Delete a lead",
    description = "Also removes its campaign memberships.",
    params(("id" = String, Path, description = "Lead ID (24 hex characters)")),
    responses((status = 200, description = "Deleted", body = schema::Envelope<schema::Deleted>))
)]
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
#[utoipa::path(
    post, path = "/leads/bulk", tag = "Leads", operation_id = "bulkCreateLeads", summary = "Create up to 5,000 leads",
    description = "Invalid entries are reported by index and the rest proceed; a repeated email counts as skipped.",
    request_body = schema::BulkRequest,
    responses((status = 200, description = "Counts", body = schema::Envelope<schema::BulkResult>))
)]
async fn bulk(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(mut input): Body<schema::BulkRequest>,
) -> ApiResult {
    let leads = input.leads()?;
    let skip_duplicates = flag(input.skip_duplicates, true);
    let tag = input.tag.map(|t| t.0);

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
                errors.push(schema::BulkError {
                    index: index as u64,
                    email,
                    error: entry_message(e),
                });
            }
        }
    }
    let outcome = state
        .store
        .bulk_upsert(ws, valid, skip_duplicates, tag)
        .await?;
    crate::metrics::leads_created(outcome.imported.len() as u64);
    ok(schema::BulkResult {
        imported: outcome.imported.len() as u64,
        updated: outcome.updated,
        skipped: outcome.skipped + repeats,
        failed: errors.len() as u64,
        imported_lead_ids: outcome.imported.iter().map(ObjectId::to_string).collect(),
        errors,
    })
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
#[utoipa::path(
    delete, path = "/leads", tag = "Leads", operation_id = "deleteLeads", summary = "Delete leads",
    description = "By `leadIds`, or `deleteAll: true` with optional `filters` and `excludeIds`; their campaign memberships go too.",
    request_body = schema::DeleteLeadsRequest,
    responses(
        (status = 200, description = "How many were deleted", body = schema::Envelope<schema::DeletedCount>),
        (status = 202, description = "With `deleteAll` and `async: true`: the job that does it (`Location: /v1/jobs/{id}`)", body = schema::Envelope<schema::JobAccepted>,
            headers(("Location" = String, description = "The job: /v1/jobs/{id}")))
    )
)]
async fn delete_many(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(input): Body<schema::DeleteLeadsRequest>,
) -> ApiResult {
    let run_async = crate::domain::json::flag(input.run_async, false);
    let target = TargetInput {
        ids_field: "leadIds",
        ids: input.lead_ids,
        all_field: "deleteAll",
        all: input.delete_all,
        filters: input.filters,
        exclude: input.exclude_ids,
    };
    let (selection, _turn) = match target.target()? {
        Target::Ids(ids) => (
            Selection {
                filter: Some(LeadFilter {
                    lead_ids: Some(ids),
                    ..Default::default()
                }),
                exclude: Vec::new(),
                keys: None,
            },
            None,
        ),
        Target::All { filter, exclude } => {
            let selection = Selection {
                filter,
                exclude,
                keys: None,
            };
            if run_async {
                let params = crate::store::jobs::selection_params(&selection);
                let job = state
                    .store
                    .create_job(ws, crate::store::jobs::DELETE_LEADS, params)
                    .await?;
                return super::jobs::accepted(&job);
            }
            (selection, Some(state.turns.take(ws).await))
        }
    };
    let deleted = state.store.delete_leads(ws, selection).await?;
    ok(schema::DeletedCount {
        deleted_count: deleted,
    })
}
