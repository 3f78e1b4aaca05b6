//! The do-not-contact list, for both engines.

use super::exec::{self, Exec};
use super::{DncKind, DncRow, Page, PageRequest, Result, WorkspaceRef};
use crate::domain::id::ObjectId;
use crate::domain::now_ms;

pub async fn list(e: &impl Exec, ws: WorkspaceRef, page: PageRequest) -> Result<Page<DncRow>> {
    exec::page(
        e,
        e.sql("workspace_id = ?1", vec![ws.key.into()]),
        "select id, kind, value, created_at from dnc_entries",
        exec::Total::Count("dnc_entries"),
        "id",
        page,
        |mut r| {
            Ok(DncRow {
                key: r.i64(0)?,
                kind: r.text(1)?,
                value: r.text(2)?,
                created_at: r.i64(3)?,
            })
        },
    )
    .await
}

/// Adds the entries not on the list yet; returns (added, skipped).
pub async fn add(
    e: &impl Exec,
    ws: WorkspaceRef,
    entries: &[(DncKind, String)],
) -> Result<(u64, u64)> {
    let mut sql = e.sql(
        "insert into dnc_entries (workspace_id, kind, value, created_at) select ?1, x.kind, x.value, ?2 from ",
        vec![ws.key.into(), now_ms().into()],
    );
    let kinds = entries.iter().map(|(k, _)| k.as_str().to_owned()).collect();
    let values = entries.iter().map(|(_, v)| v.clone()).collect();
    let rows = sql.text_rows(vec![kinds, values], "x", &["kind", "value"]);
    sql.push(&rows);
    sql.push(" where true on conflict (workspace_id, kind, value) do nothing");
    let added = e.insert_count(&sql).await?;
    Ok((added, entries.len() as u64 - added))
}

pub async fn delete(e: &impl Exec, ws: WorkspaceRef, ids: &[ObjectId]) -> Result<u64> {
    let mut sql = e.sql(
        "delete from dnc_entries where workspace_id = ?1",
        vec![ws.key.into()],
    );
    let c = sql.id_in("dnc_entries", "created_at", ids, false);
    sql.push(&format!(" and {c}"));
    e.execute(&sql).await
}

/// Whether the workspace has any do-not-contact entry: when it has none,
/// the per-lead check is skipped altogether.
pub async fn any(e: &impl Exec, ws: WorkspaceRef) -> Result<bool> {
    e.query_one(&e.sql(
        "select exists (select 1 from dnc_entries where workspace_id = ?1)",
        vec![ws.key.into()],
    ))
    .await?
    .bool(0)
}
