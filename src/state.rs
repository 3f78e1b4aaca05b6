//! What every handler and middleware shares: the store and the limits
//! requests run under. Built once by `startup`, read by everything else.

use std::sync::Arc;
use std::time::Duration;

use crate::rate_limit::Limits;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub limits: Option<Arc<Limits>>,
    /// `Config::test_routes`: mounts the routes the tests of the layers use.
    pub test_routes: bool,
    /// Woken whenever this process finishes or gives up an idempotency
    /// claim, so that a duplicate waiting on it looks again at once.
    pub idempotency_done: Arc<tokio::sync::Notify>,
    /// The longest a statement runs (`Config::statement_timeout`).
    pub statement_timeout: Duration,
    /// How long a claim whose request died blocks its key.
    pub idempotency_stale: Duration,
    /// Heavy work runs a few requests at a time per workspace.
    pub turns: Arc<crate::turns::Turns>,
    /// Sends `POST /v1/webhooks/{id}/test` messages.
    pub webhooks: crate::webhooks::Sender,
    /// Webhook URLs may point at private addresses.
    pub allow_private_webhooks: bool,
    /// The server speaks TLS (the console's cookies are `Secure`).
    pub tls: bool,
}
