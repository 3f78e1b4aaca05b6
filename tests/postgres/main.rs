//! Tests that only PostgreSQL can answer: several servers on one database,
//! the schema distributed on Citus,
//! and a database that goes away and comes back. They need
//! `LEADFLOW_TEST_ENGINE=postgres` (scripts/test sets it) and fail without it.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod citus;
mod multi_server;
mod outage;
mod tls;
