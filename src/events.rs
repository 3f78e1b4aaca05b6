//! The event log's upkeep: events older than the retention are removed,
//! once at start and then every hour, by every server (the delete is the
//! same whoever runs it).

use std::sync::Weak;
use std::time::Duration;

use crate::domain::now_ms;
use crate::store::Storage;

/// How often old events are removed.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Removes events older than `retention` now and every [`PRUNE_EVERY`],
/// for as long as the store is open.
pub fn prune_every_hour(store: Weak<dyn Storage>, retention: Duration) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            let Some(store) = store.upgrade() else {
                break;
            };
            let before = now_ms() - retention.as_millis() as i64;
            match store.prune_events(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "old events removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove old events"),
            }
        }
    });
}
