//! Leads on SQLite. Batches travel as one JSON parameter read by
//! `json_each`, so a 5,000-lead batch is one statement.

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::sql::{Sql, id_in, lead_filter};
use super::{find_key, page};
use crate::domain::email::Email;
use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;
use crate::domain::lead::LeadFields;
use crate::domain::now_ms;
use crate::store::{
    BulkOutcome, LeadRow, Page, PageRequest, Result, Selection, StoreError, WorkspaceRef,
};

pub const LEAD_COLUMNS: &str = "l.id, l.email, l.first_name, l.last_name, l.company_name, l.job_title, \
    l.phone, l.linkedin_url, l.city, l.state, l.country, l.tags, l.custom_fields, \
    l.email_verification_result, l.created_at, l.updated_at";

pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LeadRow> {
    let mut text: [Option<String>; 9] = Default::default();
    for (i, slot) in text.iter_mut().enumerate() {
        *slot = r.get(2 + i)?;
    }
    let tags: String = r.get(11)?;
    let custom: String = r.get(12)?;
    Ok(LeadRow {
        key: r.get(0)?,
        email: r.get(1)?,
        text,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        custom_fields: serde_json::from_str(&custom).unwrap_or_default(),
        email_verification_result: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

const INSERT_COLUMNS: &str = "workspace_id, email, email_key, first_name, last_name, company_name, \
    job_title, phone, linkedin_url, city, state, country, tags, custom_fields, \
    email_verification_result, created_at, updated_at";

/// Rows per multi-row `VALUES` statement: 17 parameters each stays well
/// under SQLite's 32,766-parameter limit.
const ROWS_PER_INSERT: usize = 1_000;

/// Inserts the leads whose email is new to the workspace: one multi-row
/// `INSERT … ON CONFLICT DO NOTHING RETURNING` per 1,000 leads, with bound
/// parameters (parsing JSON inside SQLite cost more than the insert itself).
/// Returns the keys of the created leads by email key.
pub fn insert_new(
    conn: &Connection,
    ws: WorkspaceRef,
    rows: &[LeadRow],
    now: i64,
) -> Result<HashMap<String, i64>> {
    let mut created = HashMap::new();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let one = format!("({})", vec!["?"; 17].join(", "));
        let values = vec![one.as_str(); chunk.len()].join(", ");
        let mut stmt = conn.prepare_cached(&format!(
            "insert into leads ({INSERT_COLUMNS}) values {values} \
             on conflict (workspace_id, email_key) do nothing returning email_key, id"
        ))?;
        let mut params: Vec<SqlValue> = Vec::with_capacity(chunk.len() * 17);
        for row in chunk {
            params.push(ws.key.into());
            params.push(row.email.clone().into());
            params.push(row.email_key().into());
            params.extend(
                row.text
                    .iter()
                    .map(|t| t.clone().map_or(SqlValue::Null, SqlValue::Text)),
            );
            params.push(Value::from(row.tags.clone()).to_string().into());
            params.push(Value::Object(row.custom_fields.clone()).to_string().into());
            params.push(
                row.email_verification_result
                    .clone()
                    .map_or(SqlValue::Null, SqlValue::Text),
            );
            params.push(now.into());
            params.push(now.into());
        }
        let mut inserted = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(r) = inserted.next()? {
            created.insert(r.get(0)?, r.get(1)?);
        }
    }
    Ok(created)
}

/// Writes back the fields of stored leads, in one statement.
fn write_back(conn: &Connection, rows: &[LeadRow], now: i64) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let json = Value::Array(rows.iter().map(LeadRow::batch_json).collect()).to_string();
    conn.execute(
        "update leads set first_name = j.value ->> '$.f[0]', last_name = j.value ->> '$.f[1]', \
         company_name = j.value ->> '$.f[2]', job_title = j.value ->> '$.f[3]', \
         phone = j.value ->> '$.f[4]', linkedin_url = j.value ->> '$.f[5]', city = j.value ->> '$.f[6]', \
         state = j.value ->> '$.f[7]', country = j.value ->> '$.f[8]', tags = j.value ->> 'tags', \
         custom_fields = j.value ->> 'cf', email_verification_result = j.value ->> 'evr', updated_at = ?1 \
         from json_each(?2) j where leads.id = j.value ->> 'id'",
        params![now, json],
    )?;
    Ok(())
}

/// The stored leads with these email keys, by email key.
pub fn by_email_keys(
    conn: &Connection,
    ws: WorkspaceRef,
    keys: &[String],
) -> Result<HashMap<String, LeadRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {LEAD_COLUMNS} from leads l where l.workspace_id = ?1 \
         and l.email_key in (select value from json_each(?2))"
    ))?;
    let rows = stmt
        .query_map(
            params![ws.key, serde_json::to_string(keys).unwrap_or_default()],
            from_row,
        )?
        .map(|r| r.map(|row| (row.email_key(), row)))
        .collect::<rusqlite::Result<HashMap<_, _>>>()?;
    Ok(rows)
}

/// The keys of the workspace's leads with these email keys, by email key.
pub fn keys_by_email(
    conn: &Connection,
    ws: WorkspaceRef,
    keys: &[String],
) -> Result<HashMap<String, i64>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut stmt = conn.prepare_cached(
        "select email_key, id from leads where workspace_id = ?1 and email_key in (select value from json_each(?2))",
    )?;
    let rows = stmt
        .query_map(
            params![ws.key, serde_json::to_string(keys).unwrap_or_default()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<HashMap<String, i64>>>()?;
    Ok(rows)
}

pub fn create(
    conn: &Connection,
    ws: WorkspaceRef,
    email: &Email,
    fields: &LeadFields,
) -> Result<LeadRow> {
    let now = now_ms();
    let mut row = LeadRow::new(email, fields, now);
    let created = insert_new(conn, ws, std::slice::from_ref(&row), now)?;
    row.key = *created
        .get(&row.email_key())
        .ok_or_else(|| StoreError::Conflict(format!("A lead with email {email} already exists")))?;
    Ok(row)
}

pub fn list(
    conn: &Connection,
    ws: WorkspaceRef,
    filter: &LeadFilter,
    page_req: PageRequest,
) -> Result<Page<LeadRow>> {
    let mut sql = Sql::default();
    let p = sql.param(ws.key);
    sql.push(&format!("l.workspace_id = {p}"));
    lead_filter(&mut sql, filter);
    page(
        conn,
        sql,
        &format!("select {LEAD_COLUMNS} from leads l"),
        "leads l",
        "l.id",
        page_req,
        from_row,
    )
}

pub fn get(conn: &Connection, ws: WorkspaceRef, id: ObjectId) -> Result<LeadRow> {
    conn.query_row(
        &format!("select {LEAD_COLUMNS} from leads l where l.id = ?1 and l.workspace_id = ?2"),
        [id.key, ws.key],
        from_row,
    )
    .optional()?
    .filter(|row| row.id() == id)
    .ok_or(StoreError::NotFound("Lead not found"))
}

pub fn update(
    conn: &Connection,
    ws: WorkspaceRef,
    id: ObjectId,
    fields: &LeadFields,
) -> Result<LeadRow> {
    let mut row = get(conn, ws, id)?;
    let now = now_ms();
    row.apply(fields);
    row.updated_at = now;
    write_back(conn, std::slice::from_ref(&row), now)?;
    Ok(row)
}

pub fn delete(conn: &Connection, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
    let key = find_key(conn, "leads", ws, id)?.ok_or(StoreError::NotFound("Lead not found"))?;
    conn.execute(
        "delete from campaign_leads where lead_id = ?1 \
         and campaign_id in (select id from campaigns where workspace_id = ?2)",
        [key, ws.key],
    )?;
    conn.execute("delete from leads where id = ?1", [key])?;
    Ok(())
}

pub fn delete_many(conn: &Connection, ws: WorkspaceRef, selection: &Selection) -> Result<u64> {
    let mut sql = Sql::default();
    let w = sql.param(ws.key);
    sql.push(&format!("l.workspace_id = {w}"));
    if let Some(f) = &selection.filter {
        lead_filter(&mut sql, f);
    }
    if !selection.exclude.is_empty() {
        id_in(&mut sql, "l", &selection.exclude, true);
    }
    conn.execute_batch(
        "create temp table if not exists lf_selected (id integer primary key); delete from temp.lf_selected;",
    )?;
    conn.execute(
        &format!(
            "insert into temp.lf_selected (id) select l.id from leads l where {}",
            sql.text
        ),
        sql.params(),
    )?;
    conn.execute(
        "delete from campaign_leads where campaign_id in (select id from campaigns where workspace_id = ?1) \
         and lead_id in (select id from temp.lf_selected)",
        [ws.key],
    )?;
    Ok(conn.execute(
        "delete from leads where id in (select id from temp.lf_selected)",
        [],
    )? as u64)
}

pub fn bulk_upsert(
    conn: &Connection,
    ws: WorkspaceRef,
    input: Vec<(Email, LeadFields)>,
    skip_duplicates: bool,
    tag: Option<&str>,
) -> Result<BulkOutcome> {
    let now = now_ms();
    let keys: Vec<String> = input.iter().map(|(e, _)| e.key()).collect();
    let mut existing = by_email_keys(conn, ws, &keys)?;
    let mut new_rows = Vec::new();
    let mut updates = Vec::new();
    let mut skipped = 0;
    for ((email, fields), key) in input.iter().zip(&keys) {
        match existing.remove(key) {
            None => {
                let mut row = LeadRow::new(email, fields, now);
                row.add_tag(tag);
                new_rows.push(row);
            }
            Some(_) if skip_duplicates => skipped += 1,
            Some(mut row) => {
                row.apply(fields);
                row.add_tag(tag);
                updates.push(row);
            }
        }
    }
    let created = insert_new(conn, ws, &new_rows, now)?;
    write_back(conn, &updates, now)?;
    let imported = new_rows
        .iter()
        .filter_map(|row| {
            created
                .get(&row.email_key())
                .map(|k| ObjectId::new(*k, now))
        })
        .collect::<Vec<_>>();
    if imported.len() != new_rows.len() {
        // Only one writer exists, so a lead cannot appear between the read
        // and the insert; if it did, fail rather than miscount.
        return Err(StoreError::Internal(anyhow::anyhow!(
            "bulk insert lost a race"
        )));
    }
    Ok(BulkOutcome {
        imported,
        updated: updates.len() as u64,
        skipped,
    })
}
