//! A campaign's leads: listing them and adding leads (docs/API.md,
//! "Adding leads to a campaign").

use axum::extract::{Path, State};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Target, TargetInput, ok, page, schema};
use crate::domain::filter::{LeadFilter, MAX_LEAD_IDS, parse_ids};
use crate::domain::id::ObjectId;
use crate::domain::json::{Flag, flag};
use crate::domain::lead::{FieldError, LeadError, LeadFields};
use crate::error::ApiError;
use crate::extract::{Body, Query, Tenant, path_id};
use crate::state::AppState;
use crate::store::{
    AddEntry, AddOptions, CampaignLeadRow, MemberChange, MemberSelection, Move, MoveLeads,
    Selection,
};

pub const MAX_EXPLICIT: usize = 5_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(action))
        .routes(routes!(move_leads))
        .routes(routes!(set_status))
}

fn render(cl: &CampaignLeadRow) -> Value {
    serde_json::to_value(schema::CampaignLead::new(cl)).unwrap_or_default()
}

#[utoipa::path(
    get, path = "/campaigns/{id}/leads", tag = "Campaign leads", operation_id = "listCampaignLeads", summary = "List a campaign's leads",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)"), schema::PageQuery, schema::CampaignLeadQuery),
    responses((status = 200, description = "A page of campaign leads", body = schema::ListEnvelope<schema::CampaignLead>))
)]
async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Query(paging): Query<schema::PageQuery>,
    Query(query): Query<schema::CampaignLeadQuery>,
) -> ApiResult {
    let campaign = path_id(&id, "Campaign")?;
    let req = paging.page();
    let status = query.status.and_then(|s| s.0);
    let ai_tag = query.ai_tag.and_then(|t| t.0);
    let _turn = state.turns.take(ws).await;
    let result = state
        .store
        .list_campaign_leads(ws, campaign, status, ai_tag, req)
        .await?;
    page(
        result,
        req.limit,
        |cl| ObjectId::new(cl.key, cl.added_at),
        render,
    )
}

/// What an add-leads request asks for, once validated.
pub(crate) enum Mode {
    Explicit {
        /// The entries as given, for the errors that echo them.
        given: Vec<Value>,
        entries: Vec<AddEntry>,
        /// The request index of each of `entries`.
        positions: Vec<usize>,
        errors: Vec<schema::AddEntryError>,
        /// How many entries the request had.
        total: usize,
    },
    Selection(Selection),
}

/// One entry error of mode 1.
fn entry_error(index: usize, entry: &Value, code: &str, message: &str) -> schema::AddEntryError {
    schema::AddEntryError {
        index: index as u64,
        entry: entry.clone(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

const IDENTIFIER_REQUIRED: &str = "Either leadId or email is required";

/// Classifies an explicit entry: a lead by ID, a lead by email, or an error.
fn parse_entry(index: usize, entry: &Value) -> Result<AddEntry, Box<schema::AddEntryError>> {
    let Some(obj) = entry.as_object() else {
        return Err(Box::new(entry_error(
            index,
            entry,
            "INVALID_ENTRY",
            "Entry must be an object",
        )));
    };
    match obj.get("leadId") {
        None | Some(Value::Null) => {}
        Some(v) => {
            return v
                .as_str()
                .and_then(ObjectId::parse)
                .map(AddEntry::Existing)
                .ok_or_else(|| {
                    Box::new(entry_error(
                        index,
                        entry,
                        "LEAD_NOT_FOUND",
                        "Lead not found",
                    ))
                });
        }
    }
    match LeadFields::parse_new(entry) {
        Ok((email, fields)) => Ok(AddEntry::ByEmail {
            email,
            fields: Box::new(fields),
        }),
        Err(LeadError::MissingEmail) => Err(Box::new(entry_error(
            index,
            entry,
            "MISSING_IDENTIFIER",
            IDENTIFIER_REQUIRED,
        ))),
        Err(LeadError::InvalidEmail) => Err(Box::new(entry_error(
            index,
            entry,
            "INVALID_EMAIL",
            IDENTIFIER_REQUIRED,
        ))),
        Err(LeadError::NotAnObject) => Err(Box::new(entry_error(
            index,
            entry,
            "INVALID_ENTRY",
            "Entry must be an object",
        ))),
        Err(LeadError::Field(f)) => Err(Box::new(entry_error(
            index,
            entry,
            "INVALID_FIELD",
            &format!("{} {}", f.field, f.message),
        ))),
    }
}

/// The mode of an add-leads request, each part checked: the mode first
/// (exactly one), then its parts.
pub(crate) fn parse_request(req: schema::AddLeadsRequest) -> Result<Mode, ApiError> {
    let leads = req.leads.map(|r| r.0);
    let filters = req.filters.map(|r| r.0);
    let select_all = flag(req.select_all, false);
    let exclude = req.exclude_ids.map(|r| r.0);

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
        let Value::Array(items) = leads else {
            return Err(ApiError::field(FieldError::new(
                "leads",
                "must be an array",
            )));
        };
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
                Err(err) => errors.push(*err),
            }
        }
        return Ok(Mode::Explicit {
            total: items.len(),
            given: items,
            entries,
            positions,
            errors,
        });
    }

    let filter = match filters {
        Some(v) => {
            let f = LeadFilter::from_json(&v, "filters")?;
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
        Some(v) => parse_ids(&v, "excludeIds", MAX_LEAD_IDS)?,
        None => Vec::new(),
    };
    Ok(Mode::Selection(Selection {
        filter,
        exclude,
        keys: None,
    }))
}

#[utoipa::path(
    post, path = "/campaigns/{id}/leads", tag = "Campaign leads", operation_id = "addLeadsToCampaign", summary = "Add leads to campaign",
    description = "Add leads to a campaign using one of three modes:\n\n\
**Mode 1 — Explicit leads (max 5,000 per request):** a `leads` array of objects with either `leadId` (an existing lead) or `email` (found case-insensitively, or created with the given fields).\n\n\
**Mode 2 — Filter-based:** a `filters` object matching workspace leads by tags, search text, email verification status, country, creation time or specific lead IDs.\n\n\
**Mode 3 — Select all:** `selectAll: true` adds every workspace lead (it cannot be combined with `filters`: use mode 2 for a filtered selection). `excludeIds` skips specific leads in modes 2 and 3.\n\n\
Leads already in the campaign are skipped (`alreadyInCampaign`); leads on the do-not-contact list are skipped (`blocked`); with `skipIfInOtherCampaign: true` (default: the campaign's `settings.skipIfInOtherCampaign`) leads pending, active or paused in another campaign are skipped (`inOtherCampaign`). Each skipped lead has one reason, in that order. If the campaign is active, new campaign leads start `active`, otherwise `pending`; an archived campaign is a 409. `dryRun: true` answers with exactly the counts of the real call and writes nothing; with `explain: true` it also names up to 100 example leads of each reason. Mode 1 answers with `added`, `skipped`, `created`, `alreadyInCampaign`, `blocked`, `inOtherCampaign` and per-entry `errors`, where `added + skipped` is the number of entries and `alreadyInCampaign + blocked + inOtherCampaign + errors.length = skipped`; modes 2 and 3 with `added`, `skipped`, `matched`, `alreadyInCampaign`, `blocked`, `inOtherCampaign`, where `added + skipped = matched` and `alreadyInCampaign + blocked + inOtherCampaign = skipped`. Everything happens in one transaction.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    request_body(content = schema::AddLeadsRequest, description = "One of the three modes",
        examples(
            ("explicit" = (summary = "Mode 1: explicit leads (SendKit's documented example)", value = json!({"leads": [
                {"email": "john@acme.com", "firstName": "John", "lastName": "Doe", "companyName": "Acme Corp"},
                {"email": "jane@example.com", "firstName": "Jane"},
                {"leadId": "665d4e5f6a7b8c9d0e1f2a3b"}
            ]}))),
            ("filters" = (summary = "Mode 2: by filters", value = json!({"filters": {"tags": ["vip"], "country": "US"}, "excludeIds": []}))),
            ("selectAll" = (summary = "Mode 3: select all, with exclusions, as a dry run", value = json!({"selectAll": true, "excludeIds": ["665d4e5f6a7b8c9d0e1f2a3b"], "dryRun": true})))
        )),
    responses(
        (status = 200, description = "Mode 1: `added`, `skipped`, `created`, `alreadyInCampaign`, `blocked`, `inOtherCampaign`, `errors`; modes 2 and 3: `added`, `skipped`, `matched`, `alreadyInCampaign`, `blocked`, `inOtherCampaign`; `explain` on an explained dry run", body = schema::Envelope<schema::AddLeadsResult>),
        (status = 202, description = "Modes 2 and 3 with `async: true`: the job that does it (`Location: /v1/jobs/{id}`)", body = schema::Envelope<schema::JobAccepted>,
            headers(("Location" = String, description = "The job: /v1/jobs/{id}")))
    )
)]
async fn add(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Body(request): Body<schema::AddLeadsRequest>,
) -> ApiResult {
    let dry_run = flag(request.dry_run, false);
    let rules = AddOptions {
        skip_if_in_other_campaign: request.skip_if_in_other_campaign.and_then(|f| f.0),
        explain: explain(request.explain, dry_run)?,
    };
    let run_async = flag(request.run_async, false) && !dry_run;
    let request = parse_request(request)?;
    let campaign = path_id(&id, "Campaign")?;
    if let (true, Mode::Selection(selection)) = (run_async, &request) {
        let params =
            crate::store::jobs::add_params(campaign, selection, rules.skip_if_in_other_campaign);
        let job = state
            .store
            .create_job(ws, crate::store::jobs::ADD_LEADS, params)
            .await?;
        return super::jobs::accepted(&job);
    }
    let data = match request {
        Mode::Explicit {
            given,
            entries,
            positions,
            mut errors,
            total,
        } => {
            let outcome = state
                .store
                .add_leads_explicit(ws, campaign, entries, rules, dry_run)
                .await?;
            if !dry_run {
                crate::metrics::leads_created(outcome.created);
                crate::metrics::leads_added(outcome.added);
            }
            for pos in outcome.not_found {
                let index = positions[pos];
                let entry = &given[index];
                errors.push(entry_error(
                    index,
                    entry,
                    "LEAD_NOT_FOUND",
                    "Lead not found",
                ));
            }
            errors.sort_by_key(|e| e.index);
            // Every entry not added is skipped: repeats, members already,
            // blocked, and the entries in `errors` (as the seed page's
            // example answers), so `added + skipped` is `leads.length`.
            let skipped = total as u64 - outcome.added;
            // Each skipped entry is an error, blocked, in another
            // campaign, or its lead is in the campaign (before the
            // request, or by an earlier entry of it).
            let already = skipped - outcome.blocked - outcome.in_other - errors.len() as u64;
            schema::AddLeadsResult::Explicit(schema::AddExplicitResult {
                added: outcome.added,
                skipped,
                created: outcome.created,
                blocked: outcome.blocked,
                in_other_campaign: outcome.in_other,
                already_in_campaign: already,
                errors,
                explain: outcome.examples.as_ref().map(|x| {
                    schema::Explain::new((already, outcome.blocked, Some(outcome.in_other)), x)
                }),
                dry_run: dry_run.then_some(true),
            })
        }
        Mode::Selection(selection) => {
            let _turn = state.turns.take(ws).await;
            let outcome = state
                .store
                .add_leads_selection(ws, campaign, selection, rules, dry_run)
                .await?;
            if !dry_run {
                crate::metrics::leads_added(outcome.added);
            }
            let mut result = schema::AddSelectionResult::of(&outcome);
            result.explain = outcome.examples.as_ref().map(|x| {
                schema::Explain::new(
                    (
                        result.already_in_campaign,
                        outcome.blocked,
                        Some(outcome.in_other),
                    ),
                    x,
                )
            });
            result.dry_run = dry_run.then_some(true);
            schema::AddLeadsResult::Selection(result)
        }
    };
    ok(data)
}

/// `PATCH /v1/campaigns/{id}/leads/{campaignLeadId}`: `status` active or
/// paused, `aiTag`, or both.
#[utoipa::path(
    patch, path = "/campaigns/{id}/leads/{campaign_lead_id}", tag = "Campaign leads", operation_id = "updateCampaignLead", summary = "Pause or resume one campaign lead, or set its AI tag",
    description = "`status` (`active` or `paused`) and `aiTag` (at most 100 characters; null or empty clears it): either or both, in one transaction. A finished membership (completed, bounced, unsubscribed, replied) cannot change status (409); its tag can change.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)"), ("campaign_lead_id" = String, Path, description = "Campaign lead ID")),
    request_body = schema::CampaignLeadUpdate,
    responses((status = 200, description = "The campaign lead", body = schema::Envelope<schema::CampaignLead>))
)]
async fn set_status(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path((id, member)): Path<(String, String)>,
    Body(input): Body<schema::CampaignLeadUpdate>,
) -> ApiResult {
    let campaign = path_id(&id, "Campaign")?;
    let member = path_id(&member, "Campaign lead")?;
    if input.status.is_none() && input.ai_tag.is_none() {
        return Err(ApiError::validation("Provide status, aiTag, or both"));
    }
    let change = MemberChange {
        status: input.status.map(|s| s.0),
        ai_tag: input.ai_tag.map(|t| t.0),
    };
    let row = state
        .store
        .update_campaign_lead(ws, campaign, member, change)
        .await?;
    ok(render(&row))
}

/// `POST /v1/campaigns/{id}/leads/action`: pause, resume or remove
/// memberships chosen by campaign-lead IDs, or all of them (optionally by
/// lead filters, less exclusions), in one statement.
#[utoipa::path(
    post, path = "/campaigns/{id}/leads/action", tag = "Campaign leads", operation_id = "campaignLeadAction", summary = "Pause, resume or remove campaign leads",
    description = "By campaign-lead `leadIds`, or `selectAll: true` with optional `filters` (on the leads) and `excludeIds` (campaign-lead IDs); one statement.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")), request_body = schema::LeadActionRequest,
    responses((status = 200, description = "How many changed", body = schema::Envelope<schema::ActionResult>))
)]
async fn action(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Body(input): Body<schema::LeadActionRequest>,
) -> ApiResult {
    let campaign = path_id(&id, "Campaign")?;
    let action = input.action.ok_or_else(schema::ActionName::refusal)?.0;
    let target = TargetInput {
        ids_field: "leadIds",
        ids: input.lead_ids,
        all_field: "selectAll",
        all: input.select_all,
        filters: input.filters,
        exclude: input.exclude_ids,
    };
    let (selection, _turn) = match target.target()? {
        Target::Ids(ids) => (MemberSelection::Ids(ids), None),
        Target::All { filter, exclude } => (
            MemberSelection::All {
                filter,
                status: None,
                exclude,
            },
            Some(state.turns.take(ws).await),
        ),
    };
    let modified = state
        .store
        .campaign_lead_action(ws, campaign, action, selection)
        .await?;
    ok(schema::ActionResult {
        action: action.as_str().to_owned(),
        modified_count: modified,
    })
}

/// `explain`, which goes with `dryRun: true` only.
fn explain(given: Option<Flag>, dry_run: bool) -> Result<bool, ApiError> {
    let explain = flag(given, false);
    if explain && !dry_run {
        return Err(ApiError::field(FieldError::new(
            "explain",
            "goes with dryRun: true",
        )));
    }
    Ok(explain)
}

/// `POST /v1/campaigns/{id}/leads/move`: members of this campaign to
/// another, by lead ID or all of them (by filters, less exclusions).
#[utoipa::path(
    post, path = "/campaigns/{id}/leads/move", tag = "Campaign leads", operation_id = "moveCampaignLeads", summary = "Move or copy leads to another campaign",
    description = "Members of this campaign go to `toCampaignId`: by `leadIds` (lead `_id`s), or `selectAll: true` with optional `filters` (on the leads) and `excludeIds` (lead `_id`s). The target's rules apply: leads already in it, or on the do-not-contact list, are skipped (`alreadyInCampaign`, `blocked`) and stay where they are. `copy: true` leaves the memberships here too (`copied` instead of `moved`). `status`: `reset` (default: `pending`, or `active` in an active target) or `keep`. An archived campaign on either side is a 409. One transaction; `dryRun: true` answers exactly and keeps nothing, with `explain: true` also naming up to 100 example leads of each reason.",
    params(("id" = String, Path, description = "Campaign ID (24 hex characters)")),
    request_body(content = schema::MoveLeadsRequest, description = "Which members, and where to",
        examples(
            ("byIds" = (summary = "Move two leads", value = json!({"toCampaignId": "665d4e5f6a7b8c9d0e1f2a3c", "leadIds": ["665d4e5f6a7b8c9d0e1f2a3b"]}))),
            ("copyAll" = (summary = "Copy every member tagged vip, keeping statuses, as an explained dry run", value = json!({"toCampaignId": "665d4e5f6a7b8c9d0e1f2a3c", "selectAll": true, "filters": {"tags": ["vip"]}, "copy": true, "status": "keep", "dryRun": true, "explain": true})))
        )),
    responses(
        (status = 200, description = "`moved` (or `copied`), `skipped`, `alreadyInCampaign`, `blocked`, `matched`", body = schema::Envelope<schema::MoveLeadsResult>),
        (status = 202, description = "With `selectAll` and `async: true`: the job that does it (`Location: /v1/jobs/{id}`)", body = schema::Envelope<schema::JobAccepted>,
            headers(("Location" = String, description = "The job: /v1/jobs/{id}")))
    )
)]
async fn move_leads(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Body(input): Body<schema::MoveLeadsRequest>,
) -> ApiResult {
    let campaign = path_id(&id, "Campaign")?;
    let to = match input.to_campaign_id.map(|r| r.0) {
        None | Some(Value::Null) => {
            return Err(ApiError::field(FieldError::new(
                "toCampaignId",
                "is required: the campaign the leads go to",
            )));
        }
        Some(v) => v.as_str().and_then(ObjectId::parse).ok_or_else(|| {
            ApiError::field(FieldError::new(
                "toCampaignId",
                "must be an ID of 24 hex characters",
            ))
        })?,
    };
    if to == campaign {
        return Err(ApiError::field(FieldError::new(
            "toCampaignId",
            "must be another campaign than the one the leads are in",
        )));
    }
    let dry_run = flag(input.dry_run, false);
    let explain = explain(input.explain, dry_run)?;
    let copy = flag(input.copy, false);
    let target = TargetInput {
        ids_field: "leadIds",
        ids: input.lead_ids,
        all_field: "selectAll",
        all: input.select_all,
        filters: input.filters,
        exclude: input.exclude_ids,
    };
    let keep_status = input.status.is_some_and(|s| s.0);
    let run_async = flag(input.run_async, false) && !dry_run;
    let (leads, _turn) = match target.target()? {
        Target::Ids(ids) => (MoveLeads::Ids(ids), None),
        Target::All { filter, exclude } => {
            let selection = Selection {
                filter,
                exclude,
                keys: None,
            };
            if run_async {
                let params =
                    crate::store::jobs::move_params(campaign, to, &selection, copy, keep_status);
                let job = state
                    .store
                    .create_job(ws, crate::store::jobs::MOVE_LEADS, params)
                    .await?;
                return super::jobs::accepted(&job);
            }
            (
                MoveLeads::All(Box::new(selection)),
                Some(state.turns.take(ws).await),
            )
        }
    };
    let m = Move {
        to,
        leads,
        copy,
        keep_status,
        explain,
    };
    let outcome = state
        .store
        .move_campaign_leads(ws, campaign, m, dry_run)
        .await?;
    let mut result = schema::MoveLeadsResult::of(&outcome, copy);
    result.explain = outcome
        .examples
        .as_ref()
        .map(|x| schema::Explain::new((result.already_in_campaign, outcome.blocked, None), x));
    result.dry_run = dry_run.then_some(true);
    ok(result)
}
