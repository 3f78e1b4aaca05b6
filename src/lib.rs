//! leadflow: a self-hosted server for leads and campaigns that speaks the
//! SendKit v1 REST API.

pub mod access;
pub mod cli;
pub mod client;
pub mod config;
pub mod console;
pub mod domain;
pub mod error;
pub mod events;
pub mod extract;
#[doc(hidden)]
pub mod fuzzing;
pub mod idempotency;
pub mod jobs;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod turns;
pub mod webhooks;
