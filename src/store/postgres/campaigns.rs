//! Campaigns, their states and their leads on PostgreSQL, including the
//! add-leads operation (SPEC §5).

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;

use super::leads::{insert_new, keys_by_email};
use super::page;
use super::sql::{ON_DNC, Sql, id_in, id_in_at, lead_filter, like_pattern};
use super::workspaces::has_dnc;
use crate::domain::campaign::{CampaignLeadStatus, CampaignStatus, Transition};
use crate::domain::id::ObjectId;
use crate::domain::now_ms;
use crate::store::{
    AddEntry, CampaignFields, CampaignLeadRow, CampaignRow, ExplicitOutcome, ExplicitPlan,
    LeadAction, LeadCounts, MemberSelection, Page, PageRequest, Result, Selection,
    SelectionOutcome, StoreError, WorkspaceRef,
};

const NOT_FOUND: StoreError = StoreError::NotFound("Campaign not found");

const CAMPAIGN_COLUMNS: &str = "c.id, c.name, c.status, c.sequence, c.schedule, c.settings, \
    c.started_at, c.completed_at, c.created_at, c.updated_at";

fn from_row(r: &Row) -> CampaignRow {
    let status: String = r.get(2);
    CampaignRow {
        key: r.get(0),
        name: r.get(1),
        status: CampaignStatus::parse(&status).unwrap_or(CampaignStatus::Draft),
        sequence: r.get(3),
        schedule: r.get(4),
        settings: r.get(5),
        started_at: r.get(6),
        completed_at: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
        lead_counts: LeadCounts::default(),
    }
}

async fn lead_counts(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    campaign_key: i64,
) -> Result<LeadCounts> {
    let rows = c
        .query(
            "select status, count(*) from campaign_leads where workspace_id = $1 and campaign_id = $2 group by status",
            &[&ws.key, &campaign_key],
        )
        .await?;
    let mut counts = LeadCounts::default();
    for r in rows {
        let status: String = r.get(0);
        if let Some(i) = CampaignLeadStatus::ALL
            .iter()
            .position(|s| s.as_str() == status)
        {
            counts.by_status[i] = r.get(1);
        }
    }
    Ok(counts)
}

/// The campaign `id` names in `ws`, or 404 (`lead_counts` left empty); `lock` takes its row lock.
async fn find(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    id: ObjectId,
    lock: bool,
) -> Result<CampaignRow> {
    let lock = if lock { " for update" } else { "" };
    c
        .query_opt(
            &format!("select {CAMPAIGN_COLUMNS} from campaigns c where c.workspace_id = $1 and c.id = $2{lock}"),
            &[&ws.key, &id.key],
        )
        .await?
        .map(|r| from_row(&r))
        .filter(|c| id.matches(c.key, c.created_at))
        .ok_or(NOT_FOUND)
}

/// [`find`] with the lead counts, for answers that show the campaign.
async fn find_with_counts(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    id: ObjectId,
) -> Result<CampaignRow> {
    let mut row = find(c, ws, id, false).await?;
    row.lead_counts = lead_counts(c, ws, row.key).await?;
    Ok(row)
}

pub async fn create(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    f: CampaignFields,
) -> Result<CampaignRow> {
    let now = now_ms();
    let key: i64 = c
        .query_one(
            "insert into campaigns (workspace_id, name, status, sequence, schedule, settings, created_at, updated_at) \
             values ($1, $2, 'draft', $3, $4, $5, $6, $6) returning id",
            &[
                &ws.key,
                &f.name.unwrap_or_default(),
                &f.sequence.unwrap_or_else(|| Value::Array(Vec::new())),
                &f.schedule.unwrap_or_else(|| Value::Object(Default::default())),
                &f.settings.unwrap_or_else(|| Value::Object(Default::default())),
                &now,
            ],
        )
        .await?
        .get(0);
    find_with_counts(c, ws, ObjectId::new(key, now)).await
}

pub async fn list(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    statuses: &[CampaignStatus],
    search: Option<&str>,
    page_req: PageRequest,
) -> Result<Page<CampaignRow>> {
    let mut sql = Sql::default();
    let p = sql.param(ws.key);
    sql.push(&format!("c.workspace_id = {p}"));
    if !statuses.is_empty() {
        let names: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
        let p = sql.param(names);
        sql.push(&format!(" and c.status = any({p}::text[])"));
    }
    if let Some(search) = search {
        let p = sql.param(like_pattern(&search.to_lowercase()));
        sql.push(&format!(" and c.name ilike {p}"));
    }
    let mut result = page(
        c,
        sql,
        &format!("select {CAMPAIGN_COLUMNS} from campaigns c"),
        "campaigns c",
        "c.id",
        page_req,
        from_row,
    )
    .await?;
    for campaign in &mut result.items {
        campaign.lead_counts = lead_counts(c, ws, campaign.key).await?;
    }
    Ok(result)
}

pub async fn get(c: &impl GenericClient, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
    find_with_counts(c, ws, id).await
}

pub async fn update(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    id: ObjectId,
    f: CampaignFields,
) -> Result<CampaignRow> {
    let current = find(c, ws, id, true).await?;
    c.execute(
        "update campaigns set name = $3, sequence = $4, schedule = $5, settings = $6, updated_at = $7 \
         where workspace_id = $1 and id = $2",
        &[
            &ws.key,
            &current.key,
            &f.name.unwrap_or(current.name),
            &f.sequence.unwrap_or(current.sequence),
            &f.schedule.unwrap_or(current.schedule),
            &f.settings.unwrap_or(current.settings),
            &now_ms(),
        ],
    )
    .await?;
    find_with_counts(c, ws, id).await
}

pub async fn delete(c: &impl GenericClient, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
    let campaign = find(c, ws, id, true).await?;
    c.execute(
        "delete from campaign_leads where workspace_id = $1 and campaign_id = $2",
        &[&ws.key, &campaign.key],
    )
    .await?;
    c.execute(
        "delete from campaigns where workspace_id = $1 and id = $2",
        &[&ws.key, &campaign.key],
    )
    .await?;
    Ok(())
}

pub async fn transition(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    id: ObjectId,
    t: Transition,
) -> Result<CampaignRow> {
    let campaign = find(c, ws, id, true).await?;
    let to = t.apply(campaign.status).ok_or_else(|| {
        StoreError::Conflict(format!(
            "Cannot {} a campaign that is {}",
            t.name(),
            campaign.status
        ))
    })?;
    let now = now_ms();
    c.execute(
        "update campaigns set status = $3, updated_at = $4, \
         started_at = case when $3 = 'active' then coalesce(started_at, $4) else started_at end, \
         completed_at = case when $3 = 'completed' then $4 else completed_at end \
         where workspace_id = $1 and id = $2",
        &[&ws.key, &campaign.key, &to.as_str(), &now],
    )
    .await?;
    if to == CampaignStatus::Active {
        c.execute(
            "update campaign_leads set status = 'active', updated_at = $3 \
             where workspace_id = $1 and campaign_id = $2 and status = 'pending'",
            &[&ws.key, &campaign.key, &now],
        )
        .await?;
    }
    find_with_counts(c, ws, id).await
}

const CAMPAIGN_LEAD_SELECT: &str = "select cl.id, cl.lead_id, l.created_at, cl.status, cl.added_at, cl.updated_at, \
     l.email, l.first_name, l.last_name, l.company_name \
     from campaign_leads cl join leads l on l.workspace_id = cl.workspace_id and l.id = cl.lead_id";

fn campaign_lead(campaign: ObjectId) -> impl Fn(&Row) -> CampaignLeadRow {
    move |r| {
        let status: String = r.get(3);
        CampaignLeadRow {
            key: r.get(0),
            campaign,
            lead: ObjectId::new(r.get(1), r.get(2)),
            status: CampaignLeadStatus::parse(&status).unwrap_or(CampaignLeadStatus::Pending),
            added_at: r.get(4),
            updated_at: r.get(5),
            email: r.get(6),
            first_name: r.get(7),
            last_name: r.get(8),
            company_name: r.get(9),
        }
    }
}

pub async fn list_leads(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    campaign: ObjectId,
    status: Option<CampaignLeadStatus>,
    page_req: PageRequest,
) -> Result<Page<CampaignLeadRow>> {
    let found = find(c, ws, campaign, false).await?;
    let mut sql = Sql::default();
    let w = sql.param(ws.key);
    let p = sql.param(found.key);
    sql.push(&format!("cl.workspace_id = {w} and cl.campaign_id = {p}"));
    if let Some(s) = status {
        let p = sql.param(s.as_str().to_owned());
        sql.push(&format!(" and cl.status = {p}"));
    }
    page(
        c,
        sql,
        CAMPAIGN_LEAD_SELECT,
        "campaign_leads cl",
        "cl.id",
        page_req,
        campaign_lead(ObjectId::new(found.key, found.created_at)),
    )
    .await
}

pub async fn set_lead_status(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    campaign: ObjectId,
    id: ObjectId,
    status: CampaignLeadStatus,
) -> Result<CampaignLeadRow> {
    let found = find(c, ws, campaign, false).await?;
    let current = c
        .query_opt(
            "select added_at, status from campaign_leads where workspace_id = $1 and campaign_id = $2 and id = $3 \
             for update",
            &[&ws.key, &found.key, &id.key],
        )
        .await?
        .filter(|r| id.matches(id.key, r.get(0)))
        .ok_or(StoreError::NotFound("Campaign lead not found"))?;
    let current: String = current.get(1);
    if !["pending", "active", "paused"].contains(&current.as_str()) {
        return Err(StoreError::Conflict(format!(
            "A campaign lead that is {current} cannot change status"
        )));
    }
    c.execute(
        "update campaign_leads set status = $3, updated_at = $4 where workspace_id = $1 and id = $2",
        &[&ws.key, &id.key, &status.as_str(), &now_ms()],
    )
    .await?;
    let row = c
        .query_one(
            &format!("{CAMPAIGN_LEAD_SELECT} where cl.workspace_id = $1 and cl.id = $2"),
            &[&ws.key, &id.key],
        )
        .await?;
    Ok(campaign_lead(ObjectId::new(found.key, found.created_at))(
        &row,
    ))
}

pub async fn lead_action(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    campaign: ObjectId,
    action: LeadAction,
    selection: &MemberSelection,
) -> Result<u64> {
    let found = find(c, ws, campaign, false).await?;
    let mut sql = Sql::default();
    let w = sql.param(ws.key);
    let p = sql.param(found.key);
    sql.push(&format!("cl.workspace_id = {w} and cl.campaign_id = {p}"));
    match selection {
        MemberSelection::Ids(ids) => id_in_at(&mut sql, "cl", "added_at", ids, false),
        MemberSelection::All { filter, exclude } => {
            if let Some(f) = filter {
                sql.push(&format!(
                    " and cl.lead_id in (select l.id from leads l where l.workspace_id = {w}"
                ));
                lead_filter(&mut sql, f);
                sql.push(")");
            }
            if !exclude.is_empty() {
                id_in_at(&mut sql, "cl", "added_at", exclude, true);
            }
        }
    }
    let now = sql.param(now_ms());
    let text = match action {
        LeadAction::Pause => format!(
            "update campaign_leads as cl set status = 'paused', updated_at = {now} \
             where {} and cl.status in ('active', 'pending')",
            sql.text
        ),
        LeadAction::Resume => {
            let to = sql.param(found.status.new_lead_status().as_str().to_owned());
            format!(
                "update campaign_leads as cl set status = {to}, updated_at = {now} where {} and cl.status = 'paused'",
                sql.text
            )
        }
        LeadAction::Remove => format!(
            "delete from campaign_leads as cl where {} and {now}::bigint is not null",
            sql.text
        ),
    };
    Ok(c.execute(&text, &sql.params()).await?)
}

/// The campaign leads may be added to: 404 when missing, 409 when archived.
/// Takes a share lock so the campaign's status cannot change under the
/// request.
pub async fn open_campaign(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    id: ObjectId,
) -> Result<(i64, CampaignLeadStatus)> {
    let row = c
        .query_opt(
            "select created_at, status from campaigns where workspace_id = $1 and id = $2 for share",
            &[&ws.key, &id.key],
        )
        .await?
        .filter(|r| id.matches(id.key, r.get(0)))
        .ok_or(NOT_FOUND)?;
    let status: String = row.get(1);
    let status = CampaignStatus::parse(&status).unwrap_or(CampaignStatus::Draft);
    if status == CampaignStatus::Archived {
        return Err(StoreError::Conflict(
            "Campaign is archived; leads cannot be added to it".into(),
        ));
    }
    Ok((id.key, status.new_lead_status()))
}

pub async fn add_explicit(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    campaign: ObjectId,
    entries: Vec<AddEntry>,
) -> Result<ExplicitOutcome> {
    let (campaign_key, status) = open_campaign(c, ws, campaign).await?;
    let now = now_ms();

    let plan = ExplicitPlan::new(&entries, now);
    let found: HashMap<i64, i64> = if plan.named.is_empty() {
        HashMap::new()
    } else {
        c.query(
            "select id, created_at from leads where workspace_id = $1 and id = any($2::bigint[])",
            &[&ws.key, &plan.named],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    // Create first, then look up the emails that were not created: a lead
    // that exists, or that a concurrent request created, is found rather
    // than duplicated.
    let created = insert_new(c, ws, &plan.by_email, now).await?;
    let created_count = created.len() as u64;
    let by_email = if created.len() == plan.by_email.len() {
        created
    } else {
        keys_by_email(c, ws, &plan.email_keys()).await?
    };
    let (lead_keys, not_found) = ExplicitPlan::order(&entries, &found, &by_email)?;
    let mut outcome = ExplicitOutcome {
        created: created_count,
        not_found,
        ..Default::default()
    };

    let mut dnc = "";
    if has_dnc(c, ws).await? {
        outcome.blocked = c
            .query_one(
                &format!(
                    "select count(*) from leads l where l.workspace_id = $1 and l.id = any($3::bigint[]) and {ON_DNC} \
                     and not exists (select 1 from campaign_leads cl where cl.workspace_id = $1 \
                     and cl.campaign_id = $2 and cl.lead_id = l.id)"
                ),
                &[&ws.key, &campaign_key, &lead_keys],
            )
            .await?
            .get::<_, i64>(0) as u64;
        dnc = ON_DNC;
    }
    let not_dnc = if dnc.is_empty() {
        String::new()
    } else {
        format!(" and not {dnc}")
    };
    outcome.added = c
        .execute(
            &format!(
                "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
                 select $1, $2, l.id, $3, $4, $4 from unnest($5::bigint[]) as j(id) \
                 join leads l on l.workspace_id = $1 and l.id = j.id where true{not_dnc} order by l.id \
                 on conflict (workspace_id, campaign_id, lead_id) do nothing"
            ),
            &[&ws.key, &campaign_key, &status.as_str(), &now, &lead_keys],
        )
        .await?;
    Ok(outcome)
}

pub async fn add_selection(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    campaign: ObjectId,
    selection: &Selection,
) -> Result<SelectionOutcome> {
    let (campaign_key, status) = open_campaign(c, ws, campaign).await?;
    let now = now_ms();
    let mut sql = Sql::default();
    let w = sql.param(ws.key);
    let ck = sql.param(campaign_key);
    let st = sql.param(status.as_str().to_owned());
    let at = sql.param(now);
    sql.push(&format!("l.workspace_id = {w}"));
    if let Some(f) = &selection.filter {
        lead_filter(&mut sql, f);
    }
    if !selection.exclude.is_empty() {
        id_in(&mut sql, "l", &selection.exclude, true);
    }
    let blocked = if has_dnc(c, ws).await? {
        ON_DNC
    } else {
        "false"
    };
    // One statement, one snapshot: the counts describe exactly what this
    // insert saw, however many requests run at once.
    let text = format!(
        "with sel as materialized (select l.id, {blocked} as blocked from leads l where {where_}), \
         ins as (insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
           select {w}, {ck}, id, {st}, {at}, {at} from sel where not blocked order by id \
           on conflict (workspace_id, campaign_id, lead_id) do nothing returning 1) \
         select (select count(*) from sel), (select count(*) from ins), \
           (select count(*) from sel s where s.blocked and not exists (select 1 from campaign_leads cl \
             where cl.workspace_id = {w} and cl.campaign_id = {ck} and cl.lead_id = s.id))",
        where_ = sql.text
    );
    let row = c.query_one(&text, &sql.params()).await?;
    Ok(SelectionOutcome {
        matched: row.get::<_, i64>(0) as u64,
        added: row.get::<_, i64>(1) as u64,
        blocked: row.get::<_, i64>(2) as u64,
    })
}
