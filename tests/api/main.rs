//! Black-box tests over HTTP against the real server, a fresh database per
//! test.

mod add_leads;
mod auth;
mod campaign_lead_actions;
mod campaigns;
mod cli;
mod concurrency;
mod counts;
mod dnc;
mod enrollment_rules;
mod errors;
mod events;
mod fuzz_replay;
mod helpers;
mod idempotency;
mod import;
mod import_command;
mod isolation;
mod leads;
mod limits;
mod move_leads;
mod openapi;
mod property;
mod security;
mod seed;
mod workspaces;
