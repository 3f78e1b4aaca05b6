//! Citus, the distributed PostgreSQL: when the database has the `citus`
//! extension, migrating also distributes the schema, so that each
//! workspace's rows live together on one worker and its requests run there.
//!
//! The tables every request reads to find its caller (users, workspaces,
//! keys, idempotency keys) are small and become reference tables (a copy on
//! every node); the workspace-scoped ones are distributed by `workspace_id`
//! and co-located with `leads`, so that a statement filtered and joined on
//! the workspace is routed whole to one shard. Run after every migration
//! and idempotent: tables already distributed are left as they are, and a
//! later migration's new table is distributed the next time.

use std::collections::HashSet;

use deadpool_postgres::GenericClient;

/// Copied to every node.
const REFERENCE: &[&str] = &[
    "users",
    "workspaces",
    "api_keys",
    "idempotency_keys",
    "console_sessions",
];

/// Sharded by `workspace_id`, co-located with the first.
const DISTRIBUTED: &[&str] = &[
    "leads",
    "campaigns",
    "campaign_leads",
    "dnc_entries",
    "workspace_members",
    "campaign_counts",
    "lead_totals",
    "event_counters",
    "events",
    "webhooks",
    "webhook_deliveries",
    "jobs",
    "import_rows",
];

/// Whether the database runs Citus.
pub async fn present(client: &impl GenericClient) -> anyhow::Result<bool> {
    Ok(client
        .query_one(
            "select exists (select 1 from pg_extension where extname = 'citus')",
            &[],
        )
        .await?
        .get(0))
}

/// Distributes what is not yet distributed; answers how many tables it
/// distributed now.
pub async fn distribute(client: &impl GenericClient) -> anyhow::Result<usize> {
    let done: HashSet<String> = client
        .query(
            "select logicalrelid::regclass::text from pg_dist_partition",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut count = 0;
    for table in REFERENCE.iter().filter(|t| !done.contains(**t)) {
        client
            .execute(
                "select create_reference_table($1::text::regclass)",
                &[table],
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot make {table} a reference table: {e}"))?;
        count += 1;
    }
    for (i, table) in DISTRIBUTED.iter().enumerate() {
        if done.contains(*table) {
            continue;
        }
        let colocate = if i == 0 { "none" } else { DISTRIBUTED[0] };
        client
            .execute(
                "select create_distributed_table($1::text::regclass, 'workspace_id', colocate_with => $2)",
                &[table, &colocate],
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot distribute {table}: {e}"))?;
        count += 1;
    }
    Ok(count)
}
