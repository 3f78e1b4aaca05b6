//! Webhooks and their deliveries.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::EventTypeName;
use crate::domain::event::EventType;
use crate::domain::format_time;
use crate::domain::json::{Flag, FromJson, Text, given};
use crate::domain::lead::FieldError;
use crate::domain::webhook::check_url;
use crate::store::WorkspaceRef;
use crate::store::webhooks::{DeliveryRow, TEST_SEQ, WebhookChange, WebhookRow};

/// An endpoint that receives the workspace's events.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    #[serde(rename = "_id")]
    pub id: String,
    pub url: String,
    /// The event types it receives; null: every type.
    #[schema(value_type = Option<Vec<EventTypeName>>)]
    pub events: Option<Vec<String>>,
    pub enabled: bool,
    /// Why the server disabled it (a 410 answer, or failing for 5 days);
    /// null when enabled or disabled by request.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; null while deliveries succeed.
    #[schema(format = DateTime)]
    pub failing_since: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The signing secret (`whsec_…`): only in the answers of create and
    /// rotate-secret. Keep it; it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub secret: Option<String>,
}

impl Webhook {
    pub fn new(w: &WebhookRow, show_secret: bool) -> Self {
        Webhook {
            id: w.id().to_string(),
            url: w.url.clone(),
            events: (!w.events.is_empty()).then(|| w.events.clone()),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason.clone(),
            failing_since: w.failing_since.map(format_time),
            created_at: format_time(w.created_at),
            updated_at: format_time(w.updated_at),
            secret: show_secret.then(|| w.secret.clone()),
        }
    }
}

/// Create (`url` required) or update an endpoint.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookInput {
    /// Where deliveries are POSTed: an http or https URL, at most 2,000
    /// characters. Loopback, private and link-local addresses are refused
    /// unless the server runs with `--allow-private-webhooks`.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String, max_length = 2000, pattern = "^https?://[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~%/-]*)?(\\?[A-Za-z0-9._~%&=-]*)?$")]
    pub url: Option<Text>,
    /// Event types to receive (at least one); null or absent: every type.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<Vec<EventTypeName>>, min_items = 1)]
    pub events: Option<EventTypes>,
    /// Default true. Enabling a disabled endpoint clears why it was
    /// disabled; it receives the events recorded from then on.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub enabled: Option<Flag>,
}

/// A list of event types; `None`: every type.
pub struct EventTypes(pub Option<Vec<EventType>>);

impl FromJson for EventTypes {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        let refusal = || {
            FieldError::new(
                "",
                format!(
                    "must be null (every type) or a non-empty array of event types: {}",
                    EventType::names().join(", ")
                ),
            )
        };
        match v {
            Value::Null => Ok(EventTypes(None)),
            Value::Array(items) if !items.is_empty() => {
                let mut types = Vec::new();
                for item in items {
                    let t = item
                        .as_str()
                        .and_then(EventType::parse)
                        .ok_or_else(refusal)?;
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
                Ok(EventTypes(Some(types)))
            }
            _ => Err(refusal()),
        }
    }
}

impl WebhookInput {
    /// The change it asks for; `creating` requires `url`.
    pub fn change(self, creating: bool, allow_private: bool) -> Result<WebhookChange, FieldError> {
        let url = match self.url {
            Some(Text(url)) => Some(
                check_url(url.trim(), allow_private)
                    .map_err(|m| FieldError::new("url", m))?
                    .to_string(),
            ),
            None if creating => return Err(FieldError::new("url", "is required")),
            None => None,
        };
        Ok(WebhookChange {
            url,
            events: self.events.map(|t| t.0.unwrap_or_default()),
            enabled: self.enabled.and_then(|f| f.0),
            secret: None,
        })
    }
}

/// One event's (or test message's) delivery to one endpoint, with its
/// last attempt.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    #[serde(rename = "_id")]
    pub id: String,
    pub webhook_id: String,
    /// The event's ID (the `webhook-id` header); null for a test message.
    pub event_id: Option<String>,
    /// The event's `sequence`; null for a test message.
    pub sequence: Option<i64>,
    /// The event's type, or `webhook.test`.
    pub event_type: String,
    /// pending (waiting for its next attempt), succeeded or failed (no
    /// attempt left, or the endpoint answered 410).
    #[schema(value_type = DeliveryStatus)]
    pub status: String,
    pub attempts: i64,
    /// The last attempt's HTTP status; null when it got no answer.
    pub response_code: Option<i64>,
    /// The last attempt's duration, in milliseconds.
    pub duration_ms: Option<i64>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// When a pending delivery is tried next.
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A delivery's status.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl WebhookDelivery {
    pub fn new(ws: WorkspaceRef, d: &DeliveryRow) -> Self {
        let event = d.event_seq != TEST_SEQ;
        WebhookDelivery {
            id: crate::domain::id::ObjectId::new(d.key, d.created_at).to_string(),
            webhook_id: d.webhook.to_string(),
            event_id: event.then(|| super::event_id_of(ws, d.event_seq)),
            sequence: event.then_some(d.event_seq),
            event_type: d.event_type.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            response_code: d.response_code,
            duration_ms: d.duration_ms,
            error: d.error.clone(),
            next_attempt_at: d.next_attempt_at.map(format_time),
            created_at: format_time(d.created_at),
            updated_at: format_time(d.updated_at),
        }
    }
}
