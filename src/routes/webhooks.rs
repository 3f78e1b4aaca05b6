//! Webhooks: endpoints that receive the workspace's events, signed as the
//! Standard Webhooks specification says, and their deliveries.

use axum::extract::{Path, State};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, created, deleted, ok, page, schema};
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::now_ms;
use crate::domain::webhook::new_secret;
use crate::error::ApiError;
use crate::extract::{Body, Query, Tenant, path_id};
use crate::state::AppState;
use crate::store::webhooks::{TEST_TYPE, WebhookChange};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(rotate_secret))
        .routes(routes!(test))
        .routes(routes!(deliveries))
        .routes(routes!(resend))
}

fn webhook_id(raw: &str) -> Result<ObjectId, ApiError> {
    path_id(raw, "Webhook")
}

#[utoipa::path(
    get, path = "/webhooks", tag = "Events", operation_id = "listWebhooks", summary = "List webhooks",
    params(schema::PageQuery),
    responses((status = 200, description = "A page of webhooks, newest first", body = schema::ListEnvelope<schema::Webhook>))
)]
async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Query(paging): Query<schema::PageQuery>,
) -> ApiResult {
    let req = paging.page();
    let result = state.store.list_webhooks(ws, req).await?;
    page(
        result,
        req.limit,
        |w| w.id(),
        |w| schema::Webhook::new(w, false),
    )
}

#[utoipa::path(
    post, path = "/webhooks", tag = "Events", operation_id = "createWebhook", summary = "Create a webhook",
    description = "The answer holds the signing secret (`whsec_…`), shown this once. The endpoint receives the events recorded from now on.",
    request_body = schema::WebhookInput,
    responses((status = 201, description = "The webhook, with its secret", body = schema::Envelope<schema::Webhook>))
)]
async fn create(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(input): Body<schema::WebhookInput>,
) -> ApiResult {
    let mut change = input
        .change(true, state.allow_private_webhooks)
        .map_err(ApiError::field)?;
    change.secret = Some(new_secret());
    let w = state.store.create_webhook(ws, change).await?;
    created(schema::Webhook::new(&w, true))
}

#[utoipa::path(
    get, path = "/webhooks/{id}", tag = "Events", operation_id = "getWebhook", summary = "Get a webhook",
    params(("id" = String, Path, description = "Webhook ID (24 hex characters)")),
    responses((status = 200, description = "The webhook", body = schema::Envelope<schema::Webhook>))
)]
async fn read(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let w = state.store.get_webhook(ws, webhook_id(&id)?).await?;
    ok(schema::Webhook::new(&w, false))
}

#[utoipa::path(
    patch, path = "/webhooks/{id}", tag = "Events", operation_id = "updateWebhook", summary = "Update a webhook",
    description = "Given fields replace the stored ones.",
    params(("id" = String, Path, description = "Webhook ID (24 hex characters)")),
    request_body = schema::WebhookInput,
    responses((status = 200, description = "The webhook", body = schema::Envelope<schema::Webhook>))
)]
async fn update(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Body(input): Body<schema::WebhookInput>,
) -> ApiResult {
    let change = input
        .change(false, state.allow_private_webhooks)
        .map_err(ApiError::field)?;
    let w = state
        .store
        .update_webhook(ws, webhook_id(&id)?, change)
        .await?;
    ok(schema::Webhook::new(&w, false))
}

#[utoipa::path(
    delete, path = "/webhooks/{id}", tag = "Events", operation_id = "deleteWebhook", summary = "Delete a webhook",
    description = "Its deliveries go too; nothing more is sent to it.",
    params(("id" = String, Path, description = "Webhook ID (24 hex characters)")),
    responses((status = 200, description = "Deleted", body = schema::Envelope<schema::Deleted>))
)]
async fn remove(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let id = webhook_id(&id)?;
    state.store.delete_webhook(ws, id).await?;
    deleted(id)
}

#[utoipa::path(
    post, path = "/webhooks/{id}/rotate-secret", tag = "Events", operation_id = "rotateWebhookSecret", summary = "Rotate a webhook's secret",
    description = "A new signing secret replaces the old one at once (deliveries from now on are signed with it); the answer shows it this once.",
    params(("id" = String, Path, description = "Webhook ID (24 hex characters)")),
    responses((status = 200, description = "The webhook, with its new secret", body = schema::Envelope<schema::Webhook>))
)]
async fn rotate_secret(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let change = WebhookChange {
        secret: Some(new_secret()),
        ..Default::default()
    };
    let w = state
        .store
        .update_webhook(ws, webhook_id(&id)?, change)
        .await?;
    ok(schema::Webhook::new(&w, true))
}

#[utoipa::path(
    post, path = "/webhooks/{id}/test", tag = "Events", operation_id = "testWebhook", summary = "Send a test message",
    description = "Sends a signed `webhook.test` message now, once, whether or not the webhook is enabled, and answers the delivery (kept with the others): `succeeded` when the endpoint answered 2xx.",
    params(("id" = String, Path, description = "Webhook ID (24 hex characters)")),
    responses((status = 200, description = "The delivery", body = schema::Envelope<schema::WebhookDelivery>))
)]
async fn test(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let id = webhook_id(&id)?;
    let w = state.store.get_webhook(ws, id).await?;
    let message_id = format!("msg_test_{}_{}", id, now_ms());
    let body = json!({
        "id": message_id,
        "type": TEST_TYPE,
        "timestamp": format_time(now_ms()),
        "data": {"webhookId": id.to_string()},
    });
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let attempt = state
        .webhooks
        .send(&w.url, &w.secret, &message_id, body)
        .await;
    let d = state.store.record_webhook_test(ws, id, attempt).await?;
    ok(schema::WebhookDelivery::new(ws, &d))
}

#[utoipa::path(
    get, path = "/webhooks/{id}/deliveries", tag = "Events", operation_id = "listWebhookDeliveries", summary = "List a webhook's deliveries",
    description = "Newest first: each event's delivery with its attempts so far, its last answer and its next try.",
    params(("id" = String, Path, description = "Webhook ID (24 hex characters)"), schema::PageQuery),
    responses((status = 200, description = "A page of deliveries", body = schema::ListEnvelope<schema::WebhookDelivery>))
)]
async fn deliveries(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
    Query(paging): Query<schema::PageQuery>,
) -> ApiResult {
    let req = paging.page();
    let result = state
        .store
        .list_webhook_deliveries(ws, webhook_id(&id)?, req)
        .await?;
    page(
        result,
        req.limit,
        |d| ObjectId::new(d.key, d.created_at),
        |d| schema::WebhookDelivery::new(ws, d),
    )
}

#[utoipa::path(
    post, path = "/webhooks/{id}/deliveries/{delivery_id}/resend", tag = "Events", operation_id = "resendWebhookDelivery", summary = "Send a delivery again",
    description = "Queues the delivery to be sent as soon as possible, with a fresh series of retries (a test message cannot be resent: 409).",
    params(
        ("id" = String, Path, description = "Webhook ID (24 hex characters)"),
        ("delivery_id" = String, Path, description = "Delivery ID (24 hex characters)")
    ),
    responses((status = 200, description = "The delivery, pending", body = schema::Envelope<schema::WebhookDelivery>))
)]
async fn resend(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult {
    let id = webhook_id(&id)?;
    let delivery = path_id(&delivery_id, "Delivery")?;
    let d = state
        .store
        .resend_webhook_delivery(ws, id, delivery)
        .await?;
    ok(schema::WebhookDelivery::new(ws, &d))
}
