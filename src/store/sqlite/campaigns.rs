//! Campaigns, their states and their leads on SQLite, including the
//! add-leads operation (SPEC §5).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::leads::{insert_new, keys_by_email};
use super::page;
use super::sql::{ON_DNC, Sql, id_in, id_in_at, lead_filter};
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

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CampaignRow> {
    let json = |i: usize| -> rusqlite::Result<Value> {
        let text: String = r.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let status: String = r.get(2)?;
    Ok(CampaignRow {
        key: r.get(0)?,
        name: r.get(1)?,
        status: CampaignStatus::parse(&status).unwrap_or(CampaignStatus::Draft),
        sequence: json(3)?,
        schedule: json(4)?,
        settings: json(5)?,
        started_at: r.get(6)?,
        completed_at: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        lead_counts: LeadCounts::default(),
    })
}

fn lead_counts(conn: &Connection, campaign_key: i64) -> Result<LeadCounts> {
    let mut stmt = conn.prepare_cached(
        "select status, count(*) from campaign_leads where campaign_id = ?1 group by status",
    )?;
    let mut counts = LeadCounts::default();
    let rows = stmt.query_map([campaign_key], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (status, n) = row?;
        if let Some(i) = CampaignLeadStatus::ALL
            .iter()
            .position(|s| s.as_str() == status)
        {
            counts.by_status[i] = n;
        }
    }
    Ok(counts)
}

/// The campaign `id` names in `ws`, or 404; `lead_counts` left empty.
fn find(conn: &Connection, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
    conn.query_row(
        &format!(
            "select {CAMPAIGN_COLUMNS} from campaigns c where c.id = ?1 and c.workspace_id = ?2"
        ),
        [id.key, ws.key],
        from_row,
    )
    .optional()?
    .filter(|c| id.matches(c.key, c.created_at))
    .ok_or(NOT_FOUND)
}

/// [`find`] with the lead counts, for answers that show the campaign.
fn find_with_counts(conn: &Connection, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
    let mut row = find(conn, ws, id)?;
    row.lead_counts = lead_counts(conn, row.key)?;
    Ok(row)
}

fn json_text(v: &Option<Value>, default: &str) -> String {
    v.as_ref()
        .map(Value::to_string)
        .unwrap_or_else(|| default.to_owned())
}

pub fn create(conn: &Connection, ws: WorkspaceRef, f: CampaignFields) -> Result<CampaignRow> {
    let now = now_ms();
    conn.execute(
        "insert into campaigns (workspace_id, name, status, sequence, schedule, settings, created_at, updated_at) \
         values (?1, ?2, 'draft', ?3, ?4, ?5, ?6, ?6)",
        params![
            ws.key,
            f.name.unwrap_or_default(),
            json_text(&f.sequence, "[]"),
            json_text(&f.schedule, "{}"),
            json_text(&f.settings, "{}"),
            now
        ],
    )?;
    let key = conn.last_insert_rowid();
    find_with_counts(conn, ws, ObjectId::new(key, now))
}

pub fn list(
    conn: &Connection,
    ws: WorkspaceRef,
    statuses: &[CampaignStatus],
    search: Option<&str>,
    page_req: PageRequest,
) -> Result<Page<CampaignRow>> {
    let mut sql = Sql::default();
    let p = sql.param(ws.key);
    sql.push(&format!("c.workspace_id = {p}"));
    if !statuses.is_empty() {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let p = sql.param(serde_json::to_string(&names).unwrap_or_default());
        sql.push(&format!(
            " and c.status in (select value from json_each({p}))"
        ));
    }
    if let Some(search) = search {
        let p = sql.param(super::sql::like_pattern(search));
        sql.push(&format!(" and c.name like {p} escape '\\'"));
    }
    let mut result = page(
        conn,
        sql,
        &format!("select {CAMPAIGN_COLUMNS} from campaigns c"),
        "campaigns c",
        "c.id",
        page_req,
        from_row,
    )?;
    for c in &mut result.items {
        c.lead_counts = lead_counts(conn, c.key)?;
    }
    Ok(result)
}

pub fn get(conn: &Connection, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
    find_with_counts(conn, ws, id)
}

pub fn update(
    conn: &Connection,
    ws: WorkspaceRef,
    id: ObjectId,
    f: CampaignFields,
) -> Result<CampaignRow> {
    let current = find(conn, ws, id)?;
    conn.execute(
        "update campaigns set name = ?2, sequence = ?3, schedule = ?4, settings = ?5, updated_at = ?6 where id = ?1",
        params![
            current.key,
            f.name.unwrap_or(current.name),
            f.sequence.unwrap_or(current.sequence).to_string(),
            f.schedule.unwrap_or(current.schedule).to_string(),
            f.settings.unwrap_or(current.settings).to_string(),
            now_ms()
        ],
    )?;
    find_with_counts(conn, ws, id)
}

pub fn delete(conn: &Connection, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
    let c = find(conn, ws, id)?;
    conn.execute("delete from campaign_leads where campaign_id = ?1", [c.key])?;
    conn.execute("delete from campaigns where id = ?1", [c.key])?;
    Ok(())
}

pub fn transition(
    conn: &Connection,
    ws: WorkspaceRef,
    id: ObjectId,
    t: Transition,
) -> Result<CampaignRow> {
    let c = find(conn, ws, id)?;
    let to = t.apply(c.status).ok_or_else(|| {
        StoreError::Conflict(format!(
            "Cannot {} a campaign that is {}",
            t.name(),
            c.status
        ))
    })?;
    let now = now_ms();
    conn.execute(
        "update campaigns set status = ?2, updated_at = ?3, \
         started_at = case when ?2 = 'active' then coalesce(started_at, ?3) else started_at end, \
         completed_at = case when ?2 = 'completed' then ?3 else completed_at end \
         where id = ?1",
        params![c.key, to.as_str(), now],
    )?;
    if to == CampaignStatus::Active {
        // A campaign that becomes active activates its pending leads in the
        // same transaction.
        conn.execute(
            "update campaign_leads set status = 'active', updated_at = ?2 \
             where campaign_id = ?1 and status = 'pending'",
            params![c.key, now],
        )?;
    }
    find_with_counts(conn, ws, id)
}

const CAMPAIGN_LEAD_SELECT: &str = "select cl.id, cl.lead_id, l.created_at, cl.status, cl.added_at, cl.updated_at, \
     l.email, l.first_name, l.last_name, l.company_name \
     from campaign_leads cl join leads l on l.id = cl.lead_id";

fn campaign_lead(
    campaign: ObjectId,
) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<CampaignLeadRow> {
    move |r| {
        let status: String = r.get(3)?;
        Ok(CampaignLeadRow {
            key: r.get(0)?,
            campaign,
            lead: ObjectId::new(r.get(1)?, r.get(2)?),
            status: CampaignLeadStatus::parse(&status).unwrap_or(CampaignLeadStatus::Pending),
            added_at: r.get(4)?,
            updated_at: r.get(5)?,
            email: r.get(6)?,
            first_name: r.get(7)?,
            last_name: r.get(8)?,
            company_name: r.get(9)?,
        })
    }
}

pub fn list_leads(
    conn: &Connection,
    ws: WorkspaceRef,
    campaign: ObjectId,
    status: Option<CampaignLeadStatus>,
    page_req: PageRequest,
) -> Result<Page<CampaignLeadRow>> {
    let c = find(conn, ws, campaign)?;
    let mut sql = Sql::default();
    let p = sql.param(c.key);
    sql.push(&format!("cl.campaign_id = {p}"));
    if let Some(s) = status {
        let p = sql.param(s.as_str().to_owned());
        sql.push(&format!(" and cl.status = {p}"));
    }
    page(
        conn,
        sql,
        CAMPAIGN_LEAD_SELECT,
        "campaign_leads cl",
        "cl.id",
        page_req,
        campaign_lead(ObjectId::new(c.key, c.created_at)),
    )
}

pub fn set_lead_status(
    conn: &Connection,
    ws: WorkspaceRef,
    campaign: ObjectId,
    id: ObjectId,
    status: CampaignLeadStatus,
) -> Result<CampaignLeadRow> {
    let c = find(conn, ws, campaign)?;
    let current: Option<(i64, String)> = conn
        .query_row(
            "select added_at, status from campaign_leads where id = ?1 and campaign_id = ?2",
            [id.key, c.key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (_, current) = current
        .filter(|(added, _)| id.matches(id.key, *added))
        .ok_or(StoreError::NotFound("Campaign lead not found"))?;
    if !["pending", "active", "paused"].contains(&current.as_str()) {
        return Err(StoreError::Conflict(format!(
            "A campaign lead that is {current} cannot change status"
        )));
    }
    conn.execute(
        "update campaign_leads set status = ?2, updated_at = ?3 where id = ?1",
        params![id.key, status.as_str(), now_ms()],
    )?;
    Ok(conn.query_row(
        &format!("{CAMPAIGN_LEAD_SELECT} where cl.id = ?1"),
        [id.key],
        campaign_lead(ObjectId::new(c.key, c.created_at)),
    )?)
}

pub fn lead_action(
    conn: &Connection,
    ws: WorkspaceRef,
    campaign: ObjectId,
    action: LeadAction,
    selection: &MemberSelection,
) -> Result<u64> {
    let c = find(conn, ws, campaign)?;
    let mut sql = Sql::default();
    let p = sql.param(c.key);
    sql.push(&format!("cl.campaign_id = {p}"));
    match selection {
        MemberSelection::Ids(ids) => id_in_at(&mut sql, "cl", "added_at", ids, false),
        MemberSelection::All { filter, exclude } => {
            if let Some(f) = filter {
                let w = sql.param(ws.key);
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
            let to = sql.param(c.status.new_lead_status().as_str().to_owned());
            format!(
                "update campaign_leads as cl set status = {to}, updated_at = {now} where {} and cl.status = 'paused'",
                sql.text
            )
        }
        LeadAction::Remove => format!(
            "delete from campaign_leads as cl where {} and {now} is not null",
            sql.text
        ),
    };
    Ok(conn.execute(&text, sql.params())? as u64)
}

/// The campaign leads may be added to: 404 when missing, 409 when archived.
pub fn open_campaign(
    conn: &Connection,
    ws: WorkspaceRef,
    id: ObjectId,
) -> Result<(i64, CampaignLeadStatus)> {
    let row: Option<(i64, String)> = conn
        .prepare_cached(
            "select created_at, status from campaigns where id = ?1 and workspace_id = ?2",
        )?
        .query_row([id.key, ws.key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (_, status) = row
        .filter(|(created, _)| id.matches(id.key, *created))
        .ok_or(NOT_FOUND)?;
    let status = CampaignStatus::parse(&status).unwrap_or(CampaignStatus::Draft);
    if status == CampaignStatus::Archived {
        return Err(StoreError::Conflict(
            "Campaign is archived; leads cannot be added to it".into(),
        ));
    }
    Ok((id.key, status.new_lead_status()))
}

pub fn add_explicit(
    conn: &Connection,
    ws: WorkspaceRef,
    campaign: ObjectId,
    entries: Vec<AddEntry>,
) -> Result<ExplicitOutcome> {
    let (campaign_key, status) = open_campaign(conn, ws, campaign)?;
    let now = now_ms();

    let plan = ExplicitPlan::new(&entries, now);
    // Leads named by ID: one lookup for all of them.
    let found: HashMap<i64, i64> = if plan.named.is_empty() {
        HashMap::new()
    } else {
        let mut stmt = conn.prepare_cached(
            "select id, created_at from leads where workspace_id = ?1 and id in (select value from json_each(?2))",
        )?;
        stmt.query_map(
            params![
                ws.key,
                serde_json::to_string(&plan.named).unwrap_or_default()
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?
    };
    // Leads named by email: create the new ones, then look up the rest.
    let created = insert_new(conn, ws, &plan.by_email, now)?;
    let created_count = created.len() as u64;
    let by_email = if created.len() == plan.by_email.len() {
        created
    } else {
        keys_by_email(conn, ws, &plan.email_keys())?
    };
    let mut outcome = ExplicitOutcome {
        created: created_count,
        ..Default::default()
    };
    let (lead_keys, not_found) = ExplicitPlan::order(&entries, &found, &by_email)?;
    outcome.not_found = not_found;

    let ids_json = serde_json::to_string(&lead_keys).unwrap_or_default();
    let mut insert = String::from(
        "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
         select ?1, ?2, l.id, ?3, ?4, ?4 from json_each(?5) j join leads l on l.id = j.value where true",
    );
    if has_dnc(conn, ws)? {
        outcome.blocked = conn.query_row(
            &format!(
                "select count(*) from json_each(?2) j join leads l on l.id = j.value where {ON_DNC} \
                 and not exists (select 1 from campaign_leads cl where cl.campaign_id = ?1 and cl.lead_id = l.id)"
            ),
            params![campaign_key, ids_json],
            |r| r.get::<_, i64>(0),
        )? as u64;
        insert.push_str(&format!(" and not {ON_DNC}"));
    }
    insert.push_str(" order by j.key on conflict (campaign_id, lead_id) do nothing");
    outcome.added = conn.prepare_cached(&insert)?.execute(params![
        ws.key,
        campaign_key,
        status.as_str(),
        now,
        ids_json
    ])? as u64;
    Ok(outcome)
}

pub fn add_selection(
    conn: &Connection,
    ws: WorkspaceRef,
    campaign: ObjectId,
    selection: &Selection,
) -> Result<SelectionOutcome> {
    let (campaign_key, status) = open_campaign(conn, ws, campaign)?;
    let now = now_ms();

    // Parameters 1 to 4 are the insert's; the selection's follow.
    let mut sql = Sql::default();
    sql.param(campaign_key);
    sql.param(status.as_str().to_owned());
    sql.param(now);
    let p = sql.param(ws.key);
    sql.push(&format!("l.workspace_id = {p}"));
    if let Some(f) = &selection.filter {
        lead_filter(&mut sql, f);
    }
    if !selection.exclude.is_empty() {
        id_in(&mut sql, "l", &selection.exclude, true);
    }
    let dnc = has_dnc(conn, ws)?;
    // `from` supplies the selected leads; `id` is their key in it.
    let (from, id, matched) = if selection.filter.is_some() {
        // Evaluate the filter once: the matching keys go to a temporary
        // table, which the blocked count and the insert read.
        conn.execute_batch(
            "create temp table if not exists lf_selected (id integer primary key); delete from temp.lf_selected;",
        )?;
        let matched = conn.execute(
            &format!(
                "insert into temp.lf_selected (id) select l.id from leads l where {}",
                sql.text
            ),
            sql.params(),
        )?;
        sql.params.truncate(4);
        if dnc {
            sql.text = "l.workspace_id = ?4".into();
            (
                "temp.lf_selected s join leads l on l.id = s.id",
                "l.id",
                matched as u64,
            )
        } else {
            sql.text = "?4 is not null".into();
            ("temp.lf_selected s", "s.id", matched as u64)
        }
    } else {
        // Select-all: counting on the workspace index is cheaper than a copy.
        let matched: i64 = conn.query_row(
            &format!("select count(*) from leads l where {}", sql.text),
            sql.params(),
            |r| r.get(0),
        )?;
        ("leads l", "l.id", matched as u64)
    };
    let mut outcome = SelectionOutcome {
        matched,
        ..Default::default()
    };
    if dnc {
        outcome.blocked = conn.query_row(
            &format!(
                "select count(*) from {from} where {} and {ON_DNC} \
                 and not exists (select 1 from campaign_leads cl where cl.campaign_id = ?1 and cl.lead_id = l.id)",
                sql.text
            ),
            sql.params(),
            |r| r.get::<_, i64>(0),
        )? as u64;
        sql.push(&format!(" and not {ON_DNC}"));
    }
    outcome.added = conn.execute(
        &format!(
            "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
             select ?4, ?1, {id}, ?2, ?3, ?3 from {from} where {} order by {id} \
             on conflict (campaign_id, lead_id) do nothing",
            sql.text
        ),
        sql.params(),
    )? as u64;
    Ok(outcome)
}
