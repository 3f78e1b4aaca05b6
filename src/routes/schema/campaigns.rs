//! Campaigns: the Campaign object, its input and list query.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::domain::campaign::CampaignStatus;
use crate::domain::campaign::check_content_size;
use crate::domain::filter::MAX_SEARCH;
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::json::{JsonArray, JsonObject, Name, Raw, Text, given};
use crate::domain::lead::FieldError;
use crate::error::ApiError;
use crate::store::{CampaignFields, CampaignRow, WorkspaceRef};

/// A campaign.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    #[serde(rename = "_id")]
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// draft, active, paused, completed or archived.
    #[schema(example = "draft")]
    pub status: String,
    /// The steps of the sequence, stored and returned as given.
    #[schema(value_type = Vec<Value>)]
    pub sequence: Value,
    #[schema(value_type = Object)]
    pub sending_schedule: Value,
    #[schema(value_type = Object)]
    pub settings: Value,
    pub lead_counts: LeadCounts,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Campaign {
    pub fn new(ws: WorkspaceRef, c: &CampaignRow) -> Self {
        let [
            pending,
            active,
            paused,
            completed,
            bounced,
            unsubscribed,
            replied,
        ] = c.lead_counts.by_status;
        let lead_counts = LeadCounts {
            total: c.lead_counts.by_status.iter().sum(),
            pending,
            active,
            paused,
            completed,
            bounced,
            unsubscribed,
            replied,
        };
        Campaign {
            id: ObjectId::new(c.key, c.created_at).to_string(),
            workspace_id: ws.id().to_string(),
            name: c.name.clone(),
            status: c.status.as_str().to_owned(),
            sequence: c.sequence.clone(),
            sending_schedule: c.schedule.clone(),
            settings: c.settings.clone(),
            lead_counts,
            started_at: c.started_at.map(format_time),
            completed_at: c.completed_at.map(format_time),
            created_at: format_time(c.created_at),
            updated_at: format_time(c.updated_at),
        }
    }
}

/// A campaign's memberships by status (`CampaignLeadStatus::ALL`'s order).
#[derive(Serialize, ToSchema)]
pub struct LeadCounts {
    pub total: i64,
    pub pending: i64,
    pub active: i64,
    pub paused: i64,
    pub completed: i64,
    pub bounced: i64,
    pub unsubscribed: i64,
    pub replied: i64,
}

/// A campaign's settable fields; on update, what is absent stays.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignInput {
    /// Required on create.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String, min_length = 1)]
    pub name: Option<Name>,
    /// Any array; stored and returned as given (with `schedule` and
    /// `settings`, at most 64 KiB).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Vec<Value>)]
    pub sequence: Option<JsonArray>,
    /// Any object, returned as `sendingSchedule`.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Object)]
    pub schedule: Option<JsonObject>,
    /// The same as `schedule`, by the name answers use; `schedule` wins
    /// when both are given.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Object)]
    pub sending_schedule: Option<JsonObject>,
    /// Any object, stored and returned as given; leadflow reads
    /// `skipIfInOtherCampaign` (true or false): the default of the
    /// campaign's add requests' `skipIfInOtherCampaign`.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Object)]
    pub settings: Option<JsonObject>,
    /// Refused on update: a campaign's status changes through its actions.
    #[serde(default, deserialize_with = "given")]
    #[schema(ignore)]
    pub status: Option<Raw>,
}

impl CampaignInput {
    /// The fields to store; `name` is required when `creating`.
    pub fn into_fields(self, creating: bool) -> Result<CampaignFields, ApiError> {
        if creating && self.name.is_none() {
            return Err(ApiError::field(Name::required()));
        }
        if !creating && self.status.is_some() {
            return Err(ApiError::field(FieldError::new(
                "status",
                "cannot be set directly: use the start, pause, resume, complete and archive actions",
            )));
        }
        if let Some(settings) = &self.settings {
            let rule = crate::store::SKIP_IF_IN_OTHER_CAMPAIGN;
            if !matches!(
                settings.0.get(rule),
                None | Some(Value::Null | Value::Bool(_))
            ) {
                return Err(ApiError::field(FieldError::new(
                    format!("settings.{rule}"),
                    "must be true or false",
                )));
            }
        }
        let fields = CampaignFields {
            name: self.name.map(|n| n.0),
            sequence: self.sequence.map(|a| a.0),
            schedule: self
                .schedule
                .or(self.sending_schedule)
                .map(|o| Value::Object(o.0)),
            settings: self.settings.map(|o| Value::Object(o.0)),
        };
        check_content_size([&fields.sequence, &fields.schedule, &fields.settings])
            .map_err(ApiError::validation)?;
        Ok(fields)
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    /// Statuses, comma-separated: draft, active, paused, completed, archived.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub status: Option<Text>,
    /// Case-insensitive substring of the name.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub search: Option<Text>,
}

impl CampaignQuery {
    /// The statuses asked for (none: all).
    pub fn statuses(&self) -> Result<Vec<CampaignStatus>, FieldError> {
        let Some(list) = self
            .status
            .as_ref()
            .map(|t| t.0.as_str())
            .filter(|s| !s.is_empty())
        else {
            return Ok(Vec::new());
        };
        list.split(',')
            .map(|s| {
                CampaignStatus::parse(s.trim()).ok_or_else(|| {
                    FieldError::new(
                        "status",
                        format!("'{s}' is not one of draft, active, paused, completed, archived"),
                    )
                })
            })
            .collect()
    }

    /// The search text, trimmed; none when empty.
    pub fn search(&self) -> Result<Option<&str>, FieldError> {
        let search = self
            .search
            .as_ref()
            .map(|t| t.0.trim())
            .filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > MAX_SEARCH) {
            return Err(FieldError::new(
                "search",
                format!("must be at most {MAX_SEARCH} characters"),
            ));
        }
        Ok(search)
    }
}
