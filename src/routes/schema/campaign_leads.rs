//! A campaign's leads: memberships, the add-leads request and its answers,
//! status changes and actions.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{AddLeadEntry, Filters};
use crate::domain::campaign::CampaignLeadStatus;
use crate::domain::filter::{LeadFilter, MAX_LEAD_IDS};
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::json::{Flag, FromJson, Ids, Raw, given, present};
use crate::domain::lead::FieldError;
use crate::store::{CampaignLeadRow, LeadAction};

/// A lead's membership of a campaign.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignLead {
    #[serde(rename = "_id")]
    pub id: String,
    pub campaign_id: String,
    pub lead_id: String,
    /// pending, active, paused, completed, bounced, unsubscribed or replied.
    pub status: String,
    #[schema(format = DateTime)]
    pub added_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// A label the caller keeps on the membership (at most 100
    /// characters), set with `PATCH`; null when unset.
    pub ai_tag: Option<String>,
    pub lead: LeadSummary,
}

/// One campaign a lead is in (`GET /v1/leads/{id}/campaigns`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadCampaign {
    pub campaign_id: String,
    /// The membership: the `_id` of the lead's campaign lead.
    pub campaign_lead_id: String,
    /// The membership's status: pending, active, paused, completed,
    /// bounced, unsubscribed or replied.
    pub status: String,
    #[schema(format = DateTime)]
    pub added_at: String,
    pub campaign: CampaignSummary,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignSummary {
    pub name: String,
    /// draft, active, paused, completed or archived.
    pub status: String,
}

impl LeadCampaign {
    pub fn new(m: &crate::store::LeadCampaignRow) -> Self {
        LeadCampaign {
            campaign_id: m.campaign.to_string(),
            campaign_lead_id: ObjectId::new(m.key, m.added_at).to_string(),
            status: m.status.as_str().to_owned(),
            added_at: format_time(m.added_at),
            campaign: CampaignSummary {
                name: m.campaign_name.clone(),
                status: m.campaign_status.as_str().to_owned(),
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadSummary {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
}

impl CampaignLead {
    pub fn new(cl: &CampaignLeadRow) -> Self {
        CampaignLead {
            id: ObjectId::new(cl.key, cl.added_at).to_string(),
            campaign_id: cl.campaign.to_string(),
            lead_id: cl.lead.to_string(),
            status: cl.status.as_str().to_owned(),
            added_at: format_time(cl.added_at),
            updated_at: format_time(cl.updated_at),
            ai_tag: cl.ai_tag.clone(),
            lead: LeadSummary {
                email: cl.email.clone(),
                first_name: cl.first_name.clone(),
                last_name: cl.last_name.clone(),
                company_name: cl.company_name.clone(),
            },
        }
    }
}

/// Add leads, mode 1 (a `leads` array).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddExplicitResult {
    pub added: u64,
    /// Entries not added: already in the campaign, repeats, blocked, and
    /// the entries in `errors`. `added + skipped` is the number of entries.
    pub skipped: u64,
    /// Leads created because their email was new.
    pub created: u64,
    /// Leads on the do-not-contact list (counted in `skipped` too).
    pub blocked: u64,
    /// Entries skipped because their lead is in the campaign: a member
    /// already, or named again later in the same request (counted in
    /// `skipped` too).
    pub already_in_campaign: u64,
    /// Leads skipped by `skipIfInOtherCampaign`: pending, active or paused
    /// in another campaign (counted in `skipped` too). Each skipped entry
    /// has one reason, in this order: `alreadyInCampaign`, `blocked`,
    /// `inOtherCampaign`, or an entry of `errors`; `alreadyInCampaign +
    /// blocked + inOtherCampaign + errors.length == skipped`.
    pub in_other_campaign: u64,
    /// Entries that could not be used (counted in `skipped` too).
    pub errors: Vec<AddEntryError>,
    /// With `dryRun` and `explain`: example leads of each reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
    /// Present (true) on a dry run: nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// What an explained dry run (`dryRun` and `explain`) adds to its
/// answer: for each reason, how many leads and up to 100 of them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Explain {
    pub already_in_campaign: ReasonExamples,
    pub blocked: ReasonExamples,
    /// Add requests only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_other_campaign: Option<ReasonExamples>,
}

/// The leads skipped for one reason: the count (as at the top of the
/// answer) and up to 100 examples, in key order.
#[derive(Serialize, ToSchema)]
pub struct ReasonExamples {
    pub count: u64,
    pub examples: Vec<ExampleLead>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExampleLead {
    pub lead_id: String,
    /// `inOtherCampaign`: a campaign the lead is pending, active or paused
    /// in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
}

impl Explain {
    /// The explanation of counts (already in the campaign, blocked, in
    /// another campaign; the last `None` for moves) and their examples.
    pub fn new(counts: (u64, u64, Option<u64>), examples: &crate::store::Examples) -> Self {
        let leads = |ids: &[ObjectId]| {
            ids.iter()
                .map(|l| ExampleLead {
                    lead_id: l.to_string(),
                    campaign_id: None,
                })
                .collect()
        };
        Explain {
            already_in_campaign: ReasonExamples {
                count: counts.0,
                examples: leads(&examples.already_in_campaign),
            },
            blocked: ReasonExamples {
                count: counts.1,
                examples: leads(&examples.blocked),
            },
            in_other_campaign: counts.2.map(|count| ReasonExamples {
                count,
                examples: examples
                    .in_other_campaign
                    .iter()
                    .map(|(l, c)| ExampleLead {
                        lead_id: l.to_string(),
                        campaign_id: Some(c.to_string()),
                    })
                    .collect(),
            }),
        }
    }
}

/// `POST /v1/campaigns/{id}/leads/move`: which members, where to, how.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveLeadsRequest {
    /// The campaign the leads go to (not this one).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String, required = true)]
    pub to_campaign_id: Option<Raw>,
    /// Lead `_id`s (of leads, not of campaign leads) of this campaign's
    /// members; or
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub lead_ids: Option<Ids<MAX_LEAD_IDS>>,
    /// every member (narrowed by `filters` on the leads, less `excludeIds`,
    /// lead `_id`s).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub select_all: Option<Flag>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Filters>)]
    pub filters: Option<LeadFilter>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub exclude_ids: Option<Ids<MAX_LEAD_IDS>>,
    /// true: the memberships stay here too (default false: they leave).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub copy: Option<Flag>,
    /// reset (default): new memberships start `pending`, or `active` in an
    /// active target; keep: each keeps its status here.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub status: Option<MoveStatus>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub dry_run: Option<Flag>,
    /// With `dryRun`: also name example leads of each reason.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub explain: Option<Flag>,
    /// With `selectAll`: run as a background job, in chunks of their own
    /// transactions, and answer 202 with its `jobId` at once. A move by
    /// `leadIds`, and a dry run, answer at once whatever it says.
    #[serde(default, rename = "async", deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub run_async: Option<Flag>,
}

impl MoveLeadsResult {
    /// The answer to a move (or its job) that did this.
    pub fn of(outcome: &crate::store::MoveOutcome, copy: bool) -> Self {
        let skipped = outcome.matched - outcome.moved;
        MoveLeadsResult {
            moved: (!copy).then_some(outcome.moved),
            copied: copy.then_some(outcome.moved),
            skipped,
            already_in_campaign: skipped - outcome.blocked,
            blocked: outcome.blocked,
            matched: outcome.matched,
            explain: None,
            dry_run: None,
        }
    }
}

/// reset or keep.
pub struct MoveStatus(pub bool);

impl FromJson for MoveStatus {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v.as_str() {
            Some("reset") => Ok(MoveStatus(false)),
            Some("keep") => Ok(MoveStatus(true)),
            _ => Err(FieldError::new("", "must be reset or keep")),
        }
    }
}

/// The answer of a move: `moved`, or `copied` with `copy: true`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveLeadsResult {
    /// Memberships moved to the target (they left this campaign).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<u64>,
    /// Memberships copied to the target (`copy: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copied: Option<u64>,
    /// Selected members not moved: `alreadyInCampaign + blocked`. They
    /// stay where they are.
    pub skipped: u64,
    /// Leads that are members of the target already.
    pub already_in_campaign: u64,
    /// Leads the do-not-contact list keeps out of the target.
    pub blocked: u64,
    /// Members of this campaign selected: `moved (or copied) + skipped`.
    pub matched: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// An entry of `leads` that could not be used.
#[derive(Serialize, ToSchema)]
pub struct AddEntryError {
    pub index: u64,
    pub entry: Value,
    /// INVALID_ENTRY, MISSING_IDENTIFIER, INVALID_EMAIL, INVALID_FIELD or LEAD_NOT_FOUND.
    pub code: String,
    pub message: String,
}

/// Add leads, modes 2 and 3 (`filters`, `selectAll`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddSelectionResult {
    pub added: u64,
    pub skipped: u64,
    /// Leads the selection matched: added + skipped.
    pub matched: u64,
    /// Leads on the do-not-contact list (counted in `skipped` too).
    pub blocked: u64,
    /// Leads in the campaign already (counted in `skipped` too).
    pub already_in_campaign: u64,
    /// Leads skipped by `skipIfInOtherCampaign`: pending, active or paused
    /// in another campaign (counted in `skipped` too). Each skipped lead
    /// has one reason, in this order: `alreadyInCampaign`, `blocked`,
    /// `inOtherCampaign`; `alreadyInCampaign + blocked + inOtherCampaign ==
    /// skipped`.
    pub in_other_campaign: u64,
    /// With `dryRun` and `explain`: example leads of each reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// Either result of the add-leads endpoint.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum AddLeadsResult {
    Explicit(AddExplicitResult),
    Selection(AddSelectionResult),
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// pause, resume or remove.
    pub action: String,
    /// Memberships whose status changed, or that were removed.
    pub modified_count: u64,
}

/// Give exactly one mode: `leads` (1 to 5,000 entries), `filters`, or
/// `selectAll: true` (one of the three, never two); `excludeIds` goes with
/// modes 2 and 3. `dryRun` answers with the exact counts and writes nothing.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddLeadsRequest {
    /// Mode 1. Each entry is checked on its own (errors by index).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<AddLeadEntry>>, min_items = 1)]
    pub leads: Option<Raw>,
    /// Mode 2.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Filters>)]
    pub filters: Option<Raw>,
    /// Mode 3.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub select_all: Option<Flag>,
    /// Leads never added (modes 2 and 3).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub exclude_ids: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub dry_run: Option<Flag>,
    /// Leave out leads that are `pending`, `active` or `paused` in another
    /// campaign of the workspace (counted in `inOtherCampaign`). Default:
    /// the campaign's `settings.skipIfInOtherCampaign`, itself `false`
    /// when absent.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub skip_if_in_other_campaign: Option<Flag>,
    /// With `dryRun`: also name up to 100 example leads of each reason
    /// (`explain` in the answer).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub explain: Option<Flag>,
    /// Modes 2 and 3: run as a background job, in chunks of their own
    /// transactions, and answer 202 with its `jobId` at once (`GET
    /// /v1/jobs/{id}` follows it). Mode 1 and dry runs answer at once
    /// whatever it says.
    #[serde(default, rename = "async", deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub run_async: Option<Flag>,
}

/// The answer to a request run as a background job (202, with its
/// `Location`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAccepted {
    pub job_id: String,
    /// `queued`.
    pub status: String,
}

impl AddSelectionResult {
    /// The answer to a filter or select-all add (or its job) that did this.
    pub fn of(outcome: &crate::store::SelectionOutcome) -> Self {
        let already = outcome.matched - outcome.added - outcome.blocked - outcome.in_other;
        AddSelectionResult {
            added: outcome.added,
            skipped: outcome.matched - outcome.added,
            matched: outcome.matched,
            blocked: outcome.blocked,
            in_other_campaign: outcome.in_other,
            already_in_campaign: already,
            explain: None,
            dry_run: None,
        }
    }
}

/// What to change on one campaign lead: `status`, `aiTag`, or both (at
/// least one).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignLeadUpdate {
    /// active or paused.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String)]
    pub status: Option<SettableStatus>,
    /// A label of at most 100 characters (trimmed); null or an empty
    /// string clears it.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub ai_tag: Option<AiTag>,
}

/// Most characters in a campaign lead's AI tag.
pub const MAX_AI_TAG: usize = 100;

/// A campaign lead's AI tag: `None` clears it.
pub struct AiTag(pub Option<String>);

impl AiTag {
    /// The tag as given, trimmed: `None` when empty; a refusal when over
    /// [`MAX_AI_TAG`] characters.
    pub fn parse(text: &str) -> Result<Option<String>, FieldError> {
        let t = text.trim();
        if t.chars().count() > MAX_AI_TAG {
            return Err(FieldError::new(
                "",
                format!("must be at most {MAX_AI_TAG} characters"),
            ));
        }
        Ok((!t.is_empty()).then(|| t.to_owned()))
    }
}

impl FromJson for AiTag {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::Null => Ok(AiTag(None)),
            Value::String(s) => Self::parse(&s).map(AiTag),
            _ => Err(FieldError::new(
                "",
                format!("must be a string of at most {MAX_AI_TAG} characters, or null"),
            )),
        }
    }
}

/// The statuses a caller may set on one membership.
pub struct SettableStatus(pub CampaignLeadStatus);

impl SettableStatus {
    pub fn refusal() -> FieldError {
        FieldError::new("status", "must be active or paused")
    }
}

impl FromJson for SettableStatus {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v.as_str() {
            Some("active") => Ok(SettableStatus(CampaignLeadStatus::Active)),
            Some("paused") => Ok(SettableStatus(CampaignLeadStatus::Paused)),
            _ => Err(FieldError {
                field: String::new(),
                ..Self::refusal()
            }),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadActionRequest {
    /// pause, resume or remove.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String, required = true)]
    pub action: Option<ActionName>,
    /// Campaign-lead `_id`s; or
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub lead_ids: Option<Ids<MAX_LEAD_IDS>>,
    /// every membership (narrowed by `filters` on the leads, less `excludeIds`).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub select_all: Option<Flag>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Filters>)]
    pub filters: Option<LeadFilter>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub exclude_ids: Option<Ids<MAX_LEAD_IDS>>,
}

/// pause, resume or remove.
pub struct ActionName(pub LeadAction);

impl ActionName {
    pub fn refusal() -> FieldError {
        FieldError::new("action", "is required: pause, resume or remove")
    }
}

impl FromJson for ActionName {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        v.as_str()
            .and_then(LeadAction::parse)
            .map(ActionName)
            .ok_or_else(|| FieldError {
                field: String::new(),
                ..Self::refusal()
            })
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignLeadQuery {
    /// pending, active, paused, completed, bounced, unsubscribed or replied.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub status: Option<StatusFilter>,
    /// Only campaign leads with this AI tag (exact; at most 100
    /// characters).
    #[serde(default, deserialize_with = "given", rename = "aiTag")]
    #[param(value_type = Option<String>, max_length = 100)]
    pub ai_tag: Option<AiTagFilter>,
}

/// An AI tag to list by; empty is all.
pub struct AiTagFilter(pub Option<String>);

impl FromJson for AiTagFilter {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::String(s) => AiTag::parse(&s).map(AiTagFilter),
            _ => Err(FieldError::new("", "must be text")),
        }
    }
}

/// A membership status to list; empty is all.
pub struct StatusFilter(pub Option<CampaignLeadStatus>);

impl FromJson for StatusFilter {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v.as_str() {
            Some("") => Ok(StatusFilter(None)),
            Some(s) => CampaignLeadStatus::parse(s)
                .map(|s| StatusFilter(Some(s)))
                .ok_or_else(|| {
                    FieldError::new(
                        "",
                        "must be one of pending, active, paused, completed, bounced, unsubscribed, replied",
                    )
                }),
            None => Err(FieldError::new("", "must be text")),
        }
    }
}
