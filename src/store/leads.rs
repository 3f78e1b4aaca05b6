//! Leads, for both engines. Batches go through the engine's set-based
//! strategies ([`Exec::insert_leads`], [`Exec::update_leads`]), so a
//! 5,000-lead batch is a statement or a few, never one per lead.

use std::collections::HashMap;

use super::counts::{self, MemberDeltas};
use super::events::{self, Event};
use super::exec::{self, Exec, Row, Total};
use super::sql::{Dialect, Param, Sql};
use super::{
    BulkOutcome, LeadCampaignRow, LeadRow, Page, PageRequest, Result, Selection, StoreError,
    WorkspaceRef,
};
use crate::domain::campaign::{CampaignLeadStatus, CampaignStatus};
use crate::domain::email::Email;
use crate::domain::event::EventType;
use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;
use crate::domain::lead::{Contact, LeadFields};
use crate::domain::now_ms;

pub const NOT_FOUND: StoreError = StoreError::NotFound("Lead not found");

pub const LEAD_COLUMNS: &str = r"l.id, l.email, l.first_name, l.last_name, l.company_name, l.job_title,
    l.phone, l.linkedin_url, l.city, l.state, l.country, l.tags, l.custom_fields,
    l.email_verification_result, l.created_at, l.updated_at";

/// A row of [`LEAD_COLUMNS`].
pub fn from_row(mut r: Row) -> Result<LeadRow> {
    let custom = match r.json(12)? {
        serde_json::Value::Object(m) => m,
        _ => Default::default(),
    };
    Ok(LeadRow {
        key: r.i64(0)?,
        email: r.text(1)?,
        contact: Contact {
            first_name: r.opt_text(2)?,
            last_name: r.opt_text(3)?,
            company_name: r.opt_text(4)?,
            job_title: r.opt_text(5)?,
            phone: r.opt_text(6)?,
            linkedin_url: r.opt_text(7)?,
            city: r.opt_text(8)?,
            state: r.opt_text(9)?,
            country: r.opt_text(10)?,
        },
        tags: r.text_list(11)?,
        custom_fields: custom,
        email_verification_result: r.opt_text(13)?,
        created_at: r.i64(14)?,
        updated_at: r.i64(15)?,
    })
}

impl LeadRow {
    /// The lead as one JSON object, a row of an engine's batch update: each
    /// text field under its column's name, then `id`, `tags`, `cf` (custom
    /// fields) and `evr` (verification result).
    pub fn batch_json(&self) -> serde_json::Value {
        let mut row = serde_json::Map::new();
        row.insert("id".into(), self.key.into());
        for (column, value) in self.contact.columns() {
            row.insert(column.into(), value.clone().into());
        }
        row.insert("tags".into(), self.tags.clone().into());
        row.insert("cf".into(), self.custom_fields.clone().into());
        row.insert("evr".into(), self.email_verification_result.clone().into());
        serde_json::Value::Object(row)
    }
}

/// The rows `select` (on leads aliased `l`) finds among the workspace's
/// leads whose `column` is one of `values`; none for no values.
async fn among(
    e: &impl Exec,
    select: &str,
    ws: WorkspaceRef,
    column: &str,
    values: impl Into<Param>,
) -> Result<Vec<Row>> {
    let values = values.into();
    if matches!(&values, Param::IntList(v) if v.is_empty())
        || matches!(&values, Param::TextList(v) if v.is_empty())
    {
        return Ok(Vec::new());
    }
    // SQLite has no statistics and takes `workspace_id = ?` for a few rows:
    // asked for `id, created_at` by key, it scanned the workspace's
    // `(workspace_id, created_at)` index whole (85 ms at 1M leads for 5,000
    // keys, 5 ms by key). The unary plus keeps it to the primary key.
    let ws_column = match (e.dialect(), column) {
        (Dialect::Sqlite, "id") => "+l.workspace_id",
        _ => "l.workspace_id",
    };
    let mut sql = e.sql(
        &format!("select {select} from leads l where {ws_column} = ?1"),
        vec![ws.key.into()],
    );
    let c = sql.in_list(&format!("l.{column}"), values, false);
    sql.push(&format!(" and {c}"));
    e.query(&sql).await
}

/// The stored leads with these email keys, by email key.
pub async fn by_email_keys(
    e: &impl Exec,
    ws: WorkspaceRef,
    keys: &[String],
) -> Result<HashMap<String, LeadRow>> {
    among(e, LEAD_COLUMNS, ws, "email_key", keys.to_vec())
        .await?
        .into_iter()
        .map(|r| from_row(r).map(|row| (row.email_key(), row)))
        .collect()
}

/// The keys of the workspace's leads with these email keys, by email key.
pub async fn keys_by_email(
    e: &impl Exec,
    ws: WorkspaceRef,
    keys: &[String],
) -> Result<HashMap<String, i64>> {
    among(e, "l.email_key, l.id", ws, "email_key", keys.to_vec())
        .await?
        .into_iter()
        .map(|mut r| Ok((r.text(0)?, r.i64(1)?)))
        .collect()
}

/// The creation times of the workspace's leads with these keys, by key.
pub async fn created_at_by_key(
    e: &impl Exec,
    ws: WorkspaceRef,
    keys: &[i64],
) -> Result<HashMap<i64, i64>> {
    among(e, "l.id, l.created_at", ws, "id", keys.to_vec())
        .await?
        .into_iter()
        .map(|mut r| Ok((r.i64(0)?, r.i64(1)?)))
        .collect()
}

/// Inserts the leads whose email is new to the workspace (see
/// [`Exec::insert_leads`]) and counts them into its total.
pub async fn insert(
    e: &impl Exec,
    ws: WorkspaceRef,
    rows: &[LeadRow],
    now: i64,
) -> Result<HashMap<String, i64>> {
    let created = e.insert_leads(ws, rows, now).await?;
    counts::add_leads(e, ws, created.len() as i64).await?;
    Ok(created)
}

pub async fn create(
    e: &impl Exec,
    ws: WorkspaceRef,
    email: &Email,
    fields: &LeadFields,
) -> Result<LeadRow> {
    let now = now_ms();
    let mut row = LeadRow::new(email, fields, now);
    let created = insert(e, ws, std::slice::from_ref(&row), now).await?;
    row.key = *created
        .get(&row.email_key())
        .ok_or_else(|| StoreError::Conflict(format!("A lead with email {email} already exists")))?;
    let id = ObjectId::new(row.key, row.created_at);
    events::record(e, ws, vec![Event::leads(EventType::LeadCreated, 1, [id])]).await?;
    Ok(row)
}

/// For the tests of the statement time limit: creates a lead, then runs a
/// statement that takes far longer than any limit. Nothing may remain.
pub async fn create_then_overrun(e: &impl Exec, ws: WorkspaceRef, email: &Email) -> Result<()> {
    create(e, ws, email, &LeadFields::default()).await?;
    let endless = match e.dialect() {
        Dialect::Sqlite => {
            r"with recursive n(x) as (select 1 union all select x + 1 from n where x < 1000000000000)
             select count(*) from n"
        }
        Dialect::Postgres => "select count(*) from pg_sleep(3600)",
    };
    e.query_i64(&e.sql(endless, vec![])).await?;
    Ok(())
}

pub async fn list(
    e: &impl Exec,
    ws: WorkspaceRef,
    filter: &LeadFilter,
    page: PageRequest,
) -> Result<Page<LeadRow>> {
    let mut sql = e.sql("l.workspace_id = ?1", vec![ws.key.into()]);
    sql.lead_filter(filter, "?1");
    // The workspace's total is kept; a filtered list's is counted, on the
    // filter's index.
    if filter.is_empty() {
        let all = Total::Known(counts::leads(e, ws).await?);
        let select = format!("select {LEAD_COLUMNS} from leads l");
        return exec::page(e, sql, &select, all, "l.id", page, from_row).await;
    }
    // PostgreSQL's planner chooses how to read the page with its
    // statistics, and the page comes first: when it holds every match,
    // nothing is counted.
    if e.dialect() == Dialect::Postgres {
        let select = format!("select {LEAD_COLUMNS} from leads l");
        return exec::page(
            e,
            sql,
            &select,
            Total::Count("leads l"),
            "l.id",
            page,
            from_row,
        )
        .await;
    }
    let count = match filter.tags.as_deref() {
        // One tag and nothing else: its rows in `lead_tags` (one per lead
        // and tag, kept by triggers) are counted on their key alone, not
        // lead by lead (200,000 tagged leads of 1M: 7 ms, not 130 ms).
        Some([tag])
            if *filter
                == (LeadFilter {
                    tags: filter.tags.clone(),
                    ..LeadFilter::default()
                }) =>
        {
            e.sql(
                "select count(*) from lead_tags t where t.workspace_id = ?1 and t.tag = ?2",
                vec![ws.key.into(), tag.clone().into()],
            )
        }
        _ => Sql {
            text: format!("select count(*) from leads l where {}", sql.text),
            ..sql.clone()
        },
    };
    let total = e.query_i64(&count).await?;
    // How SQLite reads the page. Matches spread over the workspace are
    // found soonest by walking it newest first until the page is full
    // (about limit × all / total leads read); few matches, by the filter's
    // index and a sort of them (about total). The count just made says
    // which is less. Leads created before a time sit at the far end of the
    // walk: always by index.
    let walk = filter.lead_ids.is_none()
        && filter.created_before.is_none()
        && (total as f64).powi(2) > page.limit as f64 * counts::leads(e, ws).await? as f64;
    let (sql, from, order) = if walk {
        let mut walking = e.sql("l.workspace_id = ?1", vec![ws.key.into()]);
        walking.lead_filter_walking(filter, "?1");
        (walking, "leads l indexed by leads_workspace", "l.id")
    } else {
        (sql, "leads l", "+l.id")
    };
    let select = format!("select {LEAD_COLUMNS} from {from}");
    exec::page(e, sql, &select, Total::Known(total), order, page, from_row).await
}

impl exec::Created for LeadRow {
    fn created_at(&self) -> i64 {
        self.created_at
    }
}

async fn find(e: &impl Exec, ws: WorkspaceRef, id: ObjectId, lock: bool) -> Result<LeadRow> {
    let select = format!("select {LEAD_COLUMNS} from leads l");
    exec::find_by_id(e, &select, "l", ws, id, lock, from_row)
        .await?
        .ok_or(NOT_FOUND)
}

pub async fn get(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<LeadRow> {
    find(e, ws, id, false).await
}

/// The campaigns the lead is in, newest membership first: found on the
/// memberships' lead index, so as fast for a lead of a million-lead
/// workspace as for any.
pub async fn campaigns(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    page: PageRequest,
) -> Result<Page<LeadCampaignRow>> {
    let lead = find(e, ws, id, false).await?;
    let sql = e.sql(
        "cl.workspace_id = ?1 and cl.lead_id = ?2",
        vec![ws.key.into(), lead.key.into()],
    );
    exec::page(
        e,
        sql,
        r"select cl.id, cl.campaign_id, c.created_at, c.name, c.status, cl.status, cl.added_at
         from campaign_leads cl join campaigns c on c.workspace_id = cl.workspace_id and c.id = cl.campaign_id",
        Total::Count("campaign_leads cl"),
        "cl.id",
        page,
        |mut r| {
            Ok(LeadCampaignRow {
                key: r.i64(0)?,
                campaign: ObjectId::new(r.i64(1)?, r.i64(2)?),
                campaign_name: r.text(3)?,
                campaign_status: CampaignStatus::parse(&r.text(4)?)
                    .unwrap_or(CampaignStatus::Draft),
                status: CampaignLeadStatus::parse(&r.text(5)?)
                    .unwrap_or(CampaignLeadStatus::Pending),
                added_at: r.i64(6)?,
            })
        },
    )
    .await
}

/// Merges `fields` into the lead; its row is locked first, so concurrent
/// updates merge rather than overwrite each other.
pub async fn update(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    fields: &LeadFields,
) -> Result<LeadRow> {
    let mut row = find(e, ws, id, true).await?;
    let now = now_ms();
    row.apply(fields);
    row.check_limits()?;
    row.updated_at = now;
    e.update_leads(ws, std::slice::from_ref(&row), now).await?;
    events::record(e, ws, vec![Event::leads(EventType::LeadUpdated, 1, [id])]).await?;
    Ok(row)
}

/// Deletes the lead and its campaign memberships.
pub async fn delete(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
    let key = exec::find_key(e, "leads", ws, id).await?.ok_or(NOT_FOUND)?;
    let members = e
        .delete_members(&e.sql(
            "delete from campaign_leads where workspace_id = ?1 and lead_id = ?2",
            vec![ws.key.into(), key.into()],
        ))
        .await?;
    let gone = e
        .execute(&e.sql(
            "delete from leads where workspace_id = ?1 and id = ?2",
            vec![ws.key.into(), key.into()],
        ))
        .await?;
    counts::add_leads(e, ws, -(gone as i64)).await?;
    MemberDeltas::default()
        .removed(members)
        .apply(e, ws)
        .await?;
    events::record(
        e,
        ws,
        vec![Event::leads(EventType::LeadDeleted, gone, [id])],
    )
    .await
}

/// Deletes the selected leads with their memberships; returns how many.
pub async fn delete_many(e: &impl Exec, ws: WorkspaceRef, selection: &Selection) -> Result<u64> {
    let ids = first_ids(e, ws, selection).await?;
    let (gone, members) = e.delete_selection(ws, selection).await?;
    counts::add_leads(e, ws, -(gone as i64)).await?;
    MemberDeltas::default()
        .removed(members)
        .apply(e, ws)
        .await?;
    if gone > 0 {
        events::record(e, ws, vec![Event::leads(EventType::LeadDeleted, gone, ids)]).await?;
    }
    Ok(gone)
}

/// The first [`events::MAX_EVENT_IDS`] leads of a selection, in key order
/// (the IDs its event lists).
async fn first_ids(
    e: &impl Exec,
    ws: WorkspaceRef,
    selection: &Selection,
) -> Result<Vec<ObjectId>> {
    let mut sql = exec::selection_sql(e.dialect(), ws, selection);
    let limit = sql.param(events::MAX_EVENT_IDS as i64);
    sql.text = format!(
        "select l.id, l.created_at from leads l where {} order by l.id limit {limit}",
        sql.text
    );
    e.query(&sql)
        .await?
        .into_iter()
        .map(|mut r| Ok(ObjectId::new(r.i64(0)?, r.i64(1)?)))
        .collect()
}

/// [`upsert`], and its events.
pub async fn bulk_upsert(
    e: &impl Exec,
    ws: WorkspaceRef,
    input: Vec<(Email, LeadFields)>,
    skip_duplicates: bool,
    tag: Option<&str>,
) -> Result<BulkOutcome> {
    let (outcome, changed) = upsert(e, ws, input, skip_duplicates, tag).await?;
    events::record(e, ws, changed).await?;
    Ok(outcome)
}

/// Creates leads by email; existing ones are skipped or, when
/// `skip_duplicates` is false, updated. Creating first means a lead that
/// another request creates at the same moment is simply an existing one.
/// Returns the events to record: `lead.created`, `lead.updated`, each when
/// any lead was.
pub async fn upsert(
    e: &impl Exec,
    ws: WorkspaceRef,
    input: Vec<(Email, LeadFields)>,
    skip_duplicates: bool,
    tag: Option<&str>,
) -> Result<(BulkOutcome, Vec<Event>)> {
    let now = now_ms();
    let new_rows: Vec<LeadRow> = input
        .iter()
        .map(|(email, fields)| {
            let mut row = LeadRow::new(email, fields, now);
            row.add_tag(tag);
            row.check_limits().map(|()| row)
        })
        .collect::<Result<_>>()?;
    let created = insert(e, ws, &new_rows, now).await?;
    let imported: Vec<ObjectId> = new_rows
        .iter()
        .filter_map(|row| {
            created
                .get(&row.email_key())
                .map(|k| ObjectId::new(*k, now))
        })
        .collect();
    let existing: Vec<String> = new_rows
        .iter()
        .map(LeadRow::email_key)
        .filter(|k| !created.contains_key(k))
        .collect();
    let mut changed = Vec::new();
    if !imported.is_empty() {
        let n = imported.len() as u64;
        changed.push(Event::leads(
            EventType::LeadCreated,
            n,
            imported.iter().copied(),
        ));
    }
    if skip_duplicates || existing.is_empty() {
        let outcome = BulkOutcome {
            skipped: existing.len() as u64,
            imported,
            updated: 0,
        };
        return Ok((outcome, changed));
    }
    let lock = e.dialect().for_update();
    if !lock.is_empty() {
        let mut sql = e.sql(
            "select 1 from leads where workspace_id = ?1",
            vec![ws.key.into()],
        );
        let c = sql.in_list("email_key", existing.clone(), false);
        sql.push(&format!(" and {c} order by id{lock}"));
        e.execute(&sql).await?;
    }
    let mut stored = by_email_keys(e, ws, &existing).await?;
    let mut updates = Vec::new();
    for (email, fields) in &input {
        if let Some(mut row) = stored.remove(&email.key()) {
            row.apply(fields);
            row.add_tag(tag);
            row.check_limits()?;
            updates.push(row);
        }
    }
    e.update_leads(ws, &updates, now).await?;
    if !updates.is_empty() {
        let ids = updates.iter().map(|r| ObjectId::new(r.key, r.created_at));
        changed.push(Event::leads(
            EventType::LeadUpdated,
            updates.len() as u64,
            ids,
        ));
    }
    let outcome = BulkOutcome {
        imported,
        updated: updates.len() as u64,
        skipped: 0,
    };
    Ok((outcome, changed))
}
