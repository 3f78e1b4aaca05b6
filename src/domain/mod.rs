//! The domain: values that can only hold what the API allows.

pub mod campaign;
pub mod country;
pub mod email;
pub mod event;
pub mod filter;
pub mod id;
pub mod import;
pub mod json;
pub mod key;
pub mod lead;
pub mod webhook;
pub mod workspace;

/// Milliseconds since the epoch, the storage form of every timestamp.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339, UTC, millisecond precision.
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
