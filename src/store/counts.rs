//! Counts kept as rows change: a campaign's members by status
//! (`campaign_counts`) and a workspace's leads (`lead_totals`). Every write
//! that adds, removes or moves members or leads adds its difference here in
//! its own transaction, so `leadCounts` and an unfiltered list's `total`
//! are read from a few rows instead of counted over millions.
//!
//! Each count is the sum of its rows. On PostgreSQL a write adds to the row
//! of its connection's slot (one of 16), so concurrent writers to one
//! campaign rarely wait on each other's row; SQLite has one writer and one
//! slot. Within a transaction the lead total is changed before any campaign
//! count, and campaign counts in key order, so two transactions never wait
//! on each other's rows in opposite orders.

use std::collections::BTreeMap;

use super::exec::Exec;
use super::sql::Dialect;
use super::{LeadCounts, Result, WorkspaceRef};
use crate::domain::campaign::CampaignLeadStatus;

/// The slot a write adds to: its connection's, on PostgreSQL.
fn slot(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "0",
        Dialect::Postgres => "pg_backend_pid() % 16",
    }
}

/// Changes a workspace's lead total by `n`.
pub async fn add_leads(e: &impl Exec, ws: WorkspaceRef, n: i64) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let slot = slot(e.dialect());
    e.execute(&e.sql(
        &format!(
            r"insert into lead_totals (workspace_id, slot, n) values (?1, {slot}, ?2)
             on conflict (workspace_id, slot) do update set n = lead_totals.n + excluded.n"
        ),
        vec![ws.key.into(), n.into()],
    ))
    .await?;
    Ok(())
}

/// Differences to campaigns' member counts: (campaign key, status) → change.
#[derive(Debug, Default)]
pub struct MemberDeltas(BTreeMap<(i64, String), i64>);

impl MemberDeltas {
    pub fn add(&mut self, campaign: i64, status: &str, n: i64) -> &mut Self {
        *self.0.entry((campaign, status.to_owned())).or_default() += n;
        self
    }

    /// `n` members of `campaign` went from one status to another.
    pub fn moved(
        &mut self,
        campaign: i64,
        from: CampaignLeadStatus,
        to: CampaignLeadStatus,
        n: u64,
    ) -> &mut Self {
        self.add(campaign, from.as_str(), -(n as i64))
            .add(campaign, to.as_str(), n as i64)
    }

    /// Rows of (campaign key, status, count) removed: each a negative
    /// difference.
    pub fn removed(&mut self, rows: Vec<(i64, String, i64)>) -> &mut Self {
        for (campaign, status, n) in rows {
            self.add(campaign, &status, -n);
        }
        self
    }

    /// Writes the differences, in key order.
    pub async fn apply(&self, e: &impl Exec, ws: WorkspaceRef) -> Result<()> {
        let slot = slot(e.dialect());
        for ((campaign, status), n) in self.0.iter().filter(|(_, n)| **n != 0) {
            e.execute(&e.sql(
                &format!(
                    r"insert into campaign_counts (workspace_id, campaign_id, status, slot, n)
                     values (?1, ?2, ?3, {slot}, ?4)
                     on conflict (workspace_id, campaign_id, status, slot)
                     do update set n = campaign_counts.n + excluded.n"
                ),
                vec![
                    ws.key.into(),
                    (*campaign).into(),
                    status.as_str().into(),
                    (*n).into(),
                ],
            ))
            .await?;
        }
        Ok(())
    }
}

/// The workspace's lead total.
pub async fn leads(e: &impl Exec, ws: WorkspaceRef) -> Result<i64> {
    e.query_i64(&e.sql(
        "select cast(coalesce(sum(n), 0) as bigint) from lead_totals where workspace_id = ?1",
        vec![ws.key.into()],
    ))
    .await
}

/// The member counts of each of these campaigns, by campaign key.
pub async fn members(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaigns: &[i64],
) -> Result<BTreeMap<i64, LeadCounts>> {
    let mut out: BTreeMap<i64, LeadCounts> = campaigns
        .iter()
        .map(|k| (*k, LeadCounts::default()))
        .collect();
    if campaigns.is_empty() {
        return Ok(out);
    }
    let mut sql = e.sql(
        "select campaign_id, status, cast(sum(n) as bigint) from campaign_counts where workspace_id = ?1",
        vec![ws.key.into()],
    );
    let c = sql.in_list("campaign_id", campaigns.to_vec(), false);
    sql.push(&format!(" and {c} group by campaign_id, status"));
    for mut r in e.query(&sql).await? {
        let (campaign, status, n) = (r.i64(0)?, r.text(1)?, r.i64(2)?);
        if let (Some(counts), Some(status)) =
            (out.get_mut(&campaign), CampaignLeadStatus::parse(&status))
        {
            counts.set(status, n);
        }
    }
    Ok(out)
}

/// Forgets a campaign's counts (the campaign is being deleted).
pub async fn forget_campaign(e: &impl Exec, ws: WorkspaceRef, campaign: i64) -> Result<()> {
    e.execute(&e.sql(
        "delete from campaign_counts where workspace_id = ?1 and campaign_id = ?2",
        vec![ws.key.into(), campaign.into()],
    ))
    .await?;
    Ok(())
}
