//! A campaign's leads: listing them and adding leads (SPEC §5).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, patch, post};
use serde_json::{Map, Value, json};

use super::{ApiResult, Target, bool_field, object, ok, page, parse_target};
use crate::domain::campaign::CampaignLeadStatus;
use crate::domain::filter::{LeadFilter, MAX_LEAD_IDS, parse_ids};
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::lead::{FieldError, LeadError, LeadFields};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryPairs, Tenant, path_id};
use crate::startup::AppState;
use crate::store::{AddEntry, CampaignLeadRow, LeadAction, MemberSelection, Selection};

pub const MAX_EXPLICIT: usize = 5_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns/{id}/leads", get(list).post(add))
        .route("/campaigns/{id}/leads/action", post(action))
        .route(
            "/campaigns/{id}/leads/{campaign_lead_id}",
            patch(set_status),
        )
}

fn render(cl: &CampaignLeadRow) -> Value {
    json!({
        "_id": ObjectId::new(cl.key, cl.added_at),
        "campaignId": cl.campaign,
        "leadId": cl.lead,
        "status": cl.status.as_str(),
        "addedAt": format_time(cl.added_at),
        "updatedAt": format_time(cl.updated_at),
        "lead": {
            "email": cl.email,
            "firstName": cl.first_name,
            "lastName": cl.last_name,
            "companyName": cl.company_name,
        },
    })
}

async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    query: QueryPairs,
) -> ApiResult {
    let campaign = path_id(&id, "Campaign")?;
    let req = query.page()?;
    let status = match query.get("status") {
        None | Some("") => None,
        Some(s) => Some(CampaignLeadStatus::parse(s).ok_or_else(|| {
            ApiError::field(FieldError::new(
                "status",
                "must be one of pending, active, paused, completed, bounced, unsubscribed, replied",
            ))
        })?),
    };
    let result = state
        .store
        .list_campaign_leads(ws, campaign, status, req)
        .await?;
    page(
        result,
        req.limit,
        |cl| ObjectId::new(cl.key, cl.added_at),
        render,
    )
}

/// What an add-leads request asks for, once validated.
enum Mode {
    Explicit {
        entries: Vec<AddEntry>,
        positions: Vec<usize>,
        errors: Vec<Value>,
        total: usize,
    },
    Selection(Selection),
}

/// One entry error of mode 1.
fn entry_error(index: usize, entry: &Value, code: &str, message: &str) -> Value {
    json!({"index": index, "entry": entry, "code": code, "message": message})
}

const IDENTIFIER_REQUIRED: &str = "Either leadId or email is required";

/// Classifies an explicit entry: a lead by ID, a lead by email, or an error.
fn parse_entry(index: usize, entry: &Value) -> Result<AddEntry, Value> {
    let Some(obj) = entry.as_object() else {
        return Err(entry_error(
            index,
            entry,
            "INVALID_ENTRY",
            "Entry must be an object",
        ));
    };
    match obj.get("leadId") {
        None | Some(Value::Null) => {}
        Some(v) => {
            return v
                .as_str()
                .and_then(ObjectId::parse)
                .map(AddEntry::Existing)
                .ok_or_else(|| entry_error(index, entry, "LEAD_NOT_FOUND", "Lead not found"));
        }
    }
    match LeadFields::parse_new(entry) {
        Ok((email, fields)) => Ok(AddEntry::ByEmail {
            email,
            fields: Box::new(fields),
        }),
        Err(LeadError::MissingEmail) => Err(entry_error(
            index,
            entry,
            "MISSING_IDENTIFIER",
            IDENTIFIER_REQUIRED,
        )),
        Err(LeadError::InvalidEmail) => Err(entry_error(
            index,
            entry,
            "INVALID_EMAIL",
            IDENTIFIER_REQUIRED,
        )),
        Err(LeadError::NotAnObject) => Err(entry_error(
            index,
            entry,
            "INVALID_ENTRY",
            "Entry must be an object",
        )),
        Err(LeadError::Field(f)) => Err(entry_error(
            index,
            entry,
            "INVALID_FIELD",
            &format!("{} {}", f.field, f.message),
        )),
    }
}

fn parse_request(obj: &Map<String, Value>) -> Result<Mode, ApiError> {
    let leads = obj.get("leads").filter(|v| !v.is_null());
    let filters = obj.get("filters").filter(|v| !v.is_null());
    let select_all = bool_field(obj, "selectAll", false)?;
    let exclude = obj.get("excludeIds").filter(|v| !v.is_null());

    let modes = [leads.is_some(), filters.is_some(), select_all];
    match modes.iter().filter(|m| **m).count() {
        0 => {
            return Err(ApiError::validation(
                "Provide leads array, filters, or selectAll: true",
            ));
        }
        1 => {}
        _ => {
            return Err(ApiError::validation(
                "Provide only one of leads array, filters, or selectAll: true",
            ));
        }
    }

    if let Some(leads) = leads {
        if exclude.is_some() {
            return Err(ApiError::validation(
                "excludeIds goes with filters or selectAll: true, not with a leads array",
            ));
        }
        let items = leads
            .as_array()
            .ok_or_else(|| ApiError::field(FieldError::new("leads", "must be an array")))?;
        if items.is_empty() {
            return Err(ApiError::field(FieldError::new(
                "leads",
                "must not be empty",
            )));
        }
        if items.len() > MAX_EXPLICIT {
            return Err(ApiError::field(FieldError::new(
                "leads",
                format!(
                    "must hold at most 5,000 entries per request (got {})",
                    items.len()
                ),
            )));
        }
        let mut entries = Vec::with_capacity(items.len());
        let mut positions = Vec::with_capacity(items.len());
        let mut errors = Vec::new();
        for (index, entry) in items.iter().enumerate() {
            match parse_entry(index, entry) {
                Ok(e) => {
                    entries.push(e);
                    positions.push(index);
                }
                Err(err) => errors.push(err),
            }
        }
        return Ok(Mode::Explicit {
            entries,
            positions,
            errors,
            total: items.len(),
        });
    }

    let filter = match filters {
        Some(v) => {
            let f = LeadFilter::from_json(v, "filters")?;
            if f.is_empty() {
                return Err(ApiError::field(FieldError::new(
                    "filters",
                    "must hold at least one criterion",
                )));
            }
            Some(f)
        }
        None => None,
    };
    let exclude = match exclude {
        Some(v) => parse_ids(v, "excludeIds", MAX_LEAD_IDS)?,
        None => Vec::new(),
    };
    Ok(Mode::Selection(Selection { filter, exclude }))
}

async fn add(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let campaign = path_id(&id, "Campaign")?;
    let obj = object(&body)?;
    let dry_run = bool_field(obj, "dryRun", false)?;
    let mut data = match parse_request(obj)? {
        Mode::Explicit {
            entries,
            positions,
            mut errors,
            total,
        } => {
            let outcome = state
                .store
                .add_leads_explicit(ws, campaign, entries, dry_run)
                .await?;
            for pos in outcome.not_found {
                let index = positions[pos];
                let entry = &body["leads"][index];
                errors.push(entry_error(
                    index,
                    entry,
                    "LEAD_NOT_FOUND",
                    "Lead not found",
                ));
            }
            errors.sort_by_key(|e| e["index"].as_u64());
            let skipped = total as u64 - outcome.added - errors.len() as u64;
            json!({
                "added": outcome.added,
                "skipped": skipped,
                "created": outcome.created,
                "blocked": outcome.blocked,
                "errors": errors,
            })
        }
        Mode::Selection(selection) => {
            let outcome = state
                .store
                .add_leads_selection(ws, campaign, selection, dry_run)
                .await?;
            json!({
                "added": outcome.added,
                "skipped": outcome.matched - outcome.added,
                "matched": outcome.matched,
                "blocked": outcome.blocked,
            })
        }
    };
    if dry_run {
        data["dryRun"] = json!(true);
    }
    ok(data)
}

/// `PATCH /v1/campaigns/{id}/leads/{campaignLeadId}`: `status` active or paused.
async fn set_status(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path((id, member)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let campaign = path_id(&id, "Campaign")?;
    let member = path_id(&member, "Campaign lead")?;
    let status = match object(&body)?.get("status").and_then(Value::as_str) {
        Some("active") => CampaignLeadStatus::Active,
        Some("paused") => CampaignLeadStatus::Paused,
        _ => {
            return Err(ApiError::field(FieldError::new(
                "status",
                "must be active or paused",
            )));
        }
    };
    let row = state
        .store
        .set_campaign_lead_status(ws, campaign, member, status)
        .await?;
    ok(render(&row))
}

/// `POST /v1/campaigns/{id}/leads/action`: pause, resume or remove
/// memberships chosen by campaign-lead IDs, or all of them (optionally by
/// lead filters, less exclusions), in one statement.
async fn action(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let campaign = path_id(&id, "Campaign")?;
    let obj = object(&body)?;
    let action = obj
        .get("action")
        .and_then(Value::as_str)
        .and_then(LeadAction::parse)
        .ok_or_else(|| {
            ApiError::field(FieldError::new(
                "action",
                "is required: pause, resume or remove",
            ))
        })?;
    let selection = match parse_target(obj, "leadIds", "selectAll")? {
        Target::Ids(ids) => MemberSelection::Ids(ids),
        Target::All { filter, exclude } => MemberSelection::All { filter, exclude },
    };
    let modified = state
        .store
        .campaign_lead_action(ws, campaign, action, selection)
        .await?;
    ok(json!({"action": action.as_str(), "modifiedCount": modified}))
}
