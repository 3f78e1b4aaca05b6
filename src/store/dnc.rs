//! The do-not-contact list, for both engines.

use std::collections::BTreeMap;

use serde_json::json;

use super::counts::MemberDeltas;
use super::events::{self, Event, MAX_EVENT_IDS};
use super::exec::{self, Exec};
use super::{DncKind, DncRow, Page, PageRequest, Result, WorkspaceRef};
use crate::domain::campaign::CampaignLeadStatus;
use crate::domain::event::EventType;
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

/// Adds the entries not on the list yet, and stops the leads they match
/// in every campaign; returns (added, skipped, stopped).
pub async fn add(
    e: &impl Exec,
    ws: WorkspaceRef,
    entries: &[(DncKind, String)],
) -> Result<(u64, u64, u64)> {
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
    let stopped = stop_matching(e, ws, entries).await?;
    let skipped = entries.len() as u64 - added;
    let mut told = Vec::new();
    if added > 0 || stopped > 0 {
        let listed: Vec<_> = entries
            .iter()
            .take(MAX_EVENT_IDS)
            .map(|(k, v)| json!({"type": k.as_str(), "value": v}))
            .collect();
        told.push(Event::new(
            EventType::DncAdded,
            json!({"added": added, "skipped": skipped, "stopped": stopped, "entries": listed}),
        ));
    }
    if stopped > 0 {
        told.push(Event::new(
            EventType::CampaignLeadStatusChanged,
            json!({"count": stopped, "status": CampaignLeadStatus::Unsubscribed.as_str(), "reason": "dnc"}),
        ));
    }
    events::record(e, ws, told).await?;
    Ok((added, skipped, stopped))
}

/// Unsubscribes the workspace's leads that `entries` match (their email,
/// or their email's domain) from every campaign they are still to be
/// emailed by: `pending`, `active` and `paused` memberships. Every entry
/// of the request counts, new to the list or not, so memberships made
/// before an entry was listed are stopped by listing it again. One
/// statement per status left, so that each campaign's counts move exactly
/// (as `campaigns::lead_action`).
async fn stop_matching(
    e: &impl Exec,
    ws: WorkspaceRef,
    entries: &[(DncKind, String)],
) -> Result<u64> {
    let of = |kind: DncKind| -> Vec<String> {
        entries
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (emails, domains) = (of(DncKind::Email), of(DncKind::Domain));
    if emails.is_empty() && domains.is_empty() {
        return Ok(0);
    }
    let now = now_ms();
    let mut deltas = MemberDeltas::default();
    let mut stopped = 0;
    for from in [
        CampaignLeadStatus::Pending,
        CampaignLeadStatus::Active,
        CampaignLeadStatus::Paused,
    ] {
        let mut sql = e.sql(
            "",
            vec![
                ws.key.into(),
                now.into(),
                from.as_str().into(),
                CampaignLeadStatus::Unsubscribed.as_str().into(),
            ],
        );
        let mut matches = Vec::new();
        if !emails.is_empty() {
            matches.push(sql.in_list("l.email_key", emails.clone(), false));
        }
        if !domains.is_empty() {
            let domain = e.dialect().email_domain("l.email_key");
            matches.push(sql.in_list(&domain, domains.clone(), false));
        }
        // (SQLite's `returning` does not take the table's alias.)
        sql.push(&format!(
            r"update campaign_leads as cl set status = ?4, updated_at = ?2
             where cl.workspace_id = ?1 and cl.status = ?3 and cl.lead_id in
               (select l.id from leads l where l.workspace_id = ?1 and ({}))
             returning campaign_id",
            matches.join(" or ")
        ));
        let mut by_campaign: BTreeMap<i64, u64> = BTreeMap::new();
        for mut row in e.query(&sql).await? {
            *by_campaign.entry(row.i64(0)?).or_default() += 1;
        }
        for (campaign, n) in by_campaign {
            deltas.moved(campaign, from, CampaignLeadStatus::Unsubscribed, n);
            stopped += n;
        }
    }
    deltas.apply(e, ws).await?;
    Ok(stopped)
}

pub async fn delete(e: &impl Exec, ws: WorkspaceRef, ids: &[ObjectId]) -> Result<u64> {
    let mut sql = e.sql(
        "delete from dnc_entries where workspace_id = ?1",
        vec![ws.key.into()],
    );
    let c = sql.id_in(("dnc_entries", "dnc_entries"), "created_at", ids, false);
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
