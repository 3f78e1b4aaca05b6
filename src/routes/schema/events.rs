//! The event log.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::domain::event::EventType;
use crate::domain::format_time;
use crate::domain::json::{Text, given};
use crate::domain::lead::FieldError;
use crate::store::events::EventRow;

/// Something that happened in the workspace, recorded in the transaction
/// that made the change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unique over every workspace: `evt_`, the workspace ID, `_`, the
    /// sequence number. Also the `webhook-id` of its deliveries.
    pub id: String,
    /// The event's number in its workspace: 1, 2, 3 … in commit order.
    pub sequence: i64,
    #[serde(rename = "type")]
    #[schema(value_type = EventTypeName)]
    pub kind: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// What changed; its fields depend on `type` (see the API reference).
    #[schema(value_type = Object)]
    pub data: Value,
}

impl Event {
    pub fn new(e: &EventRow) -> Self {
        Event {
            id: event_id(e),
            sequence: e.seq,
            kind: e.kind.clone(),
            created_at: format_time(e.created_at),
            data: e.data.clone(),
        }
    }
}

/// An event's ID: unique over every workspace.
pub fn event_id(e: &EventRow) -> String {
    event_id_of(e.workspace, e.seq)
}

/// The ID of event `seq` of a workspace.
pub fn event_id_of(ws: crate::store::WorkspaceRef, seq: i64) -> String {
    format!("evt_{}_{}", ws.id(), seq)
}

/// An event type.
#[derive(ToSchema)]
#[schema(as = EventTypeName)]
#[allow(dead_code)]
pub enum EventTypeName {
    #[schema(rename = "lead.created")]
    LeadCreated,
    #[schema(rename = "lead.updated")]
    LeadUpdated,
    #[schema(rename = "lead.deleted")]
    LeadDeleted,
    #[schema(rename = "campaign.created")]
    CampaignCreated,
    #[schema(rename = "campaign.status_changed")]
    CampaignStatusChanged,
    #[schema(rename = "campaign.leads_added")]
    CampaignLeadsAdded,
    #[schema(rename = "campaign_lead.status_changed")]
    CampaignLeadStatusChanged,
    #[schema(rename = "dnc.added")]
    DncAdded,
    #[schema(rename = "import.completed")]
    ImportCompleted,
    #[schema(rename = "job.finished")]
    JobFinished,
}

/// A page of the event log.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// Always `true`.
    pub success: bool,
    pub data: Vec<Event>,
    pub pagination: EventPagination,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPagination {
    pub limit: u64,
    pub has_more: bool,
    /// Pass as `after` for the next page: the last event's `sequence`, or
    /// the `after` given when the page is empty. Never null, so a poller
    /// always has a cursor to keep.
    pub next_cursor: String,
}

/// The most events one page holds.
pub const MAX_EVENT_PAGE: usize = 1000;
/// Events per page when `limit` is not given.
pub const DEFAULT_EVENT_PAGE: usize = 100;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The `sequence` of the last event seen (`nextCursor`); 0 or absent
    /// starts at the oldest event kept.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<i64>, minimum = 0, maximum = 1_000_000_000_000_000_000_i64)]
    pub after: Option<Text>,
    /// Comma-separated event types; absent or empty is every type.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>, pattern = "^((lead\\.created|lead\\.updated|lead\\.deleted|campaign\\.created|campaign\\.status_changed|campaign\\.leads_added|campaign_lead\\.status_changed|dnc\\.added|import\\.completed|job\\.finished)(,(lead\\.created|lead\\.updated|lead\\.deleted|campaign\\.created|campaign\\.status_changed|campaign\\.leads_added|campaign_lead\\.status_changed|dnc\\.added|import\\.completed|job\\.finished))*)?$")]
    pub types: Option<Text>,
    /// Events per page, 1 to 1000 (default 100).
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<Text>,
}

impl EventQuery {
    /// (after, types, limit), each checked.
    pub fn parse(&self) -> Result<(i64, Vec<EventType>, usize), FieldError> {
        let after = match &self.after {
            None => 0,
            Some(Text(s)) if s.is_empty() => 0,
            Some(Text(s)) => s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                FieldError::new(
                    "after",
                    "must be a sequence number (a whole number, 0 or more)",
                )
            })?,
        };
        let mut types = Vec::new();
        if let Some(Text(list)) = &self.types {
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let t = EventType::parse(name).ok_or_else(|| {
                    FieldError::new(
                        "types",
                        format!(
                            "unknown event type {name:?}: use {}",
                            EventType::names().join(", ")
                        ),
                    )
                })?;
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
        let limit = match &self.limit {
            None => DEFAULT_EVENT_PAGE,
            Some(Text(s)) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_EVENT_PAGE).contains(n))
                .ok_or_else(|| FieldError::new("limit", "must be a whole number from 1 to 1000"))?,
        };
        Ok((after, types, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::IntoParams;

    /// The document's pattern for `types` is every type's name, so a
    /// client (or the contract test) that follows it is never refused.
    #[test]
    fn the_types_pattern_lists_every_event_type() {
        let params = EventQuery::into_params(|| None);
        let types = params.iter().find(|p| p.name == "types").unwrap();
        let schema = serde_json::to_value(&types.schema).unwrap();
        let pattern = schema["pattern"].as_str().unwrap();
        let names: Vec<String> = EventType::names()
            .iter()
            .map(|n| n.replace('.', r"\."))
            .collect();
        let alt = names.join("|");
        assert_eq!(pattern, format!("^(({alt})(,({alt}))*)?$"));
    }
}
