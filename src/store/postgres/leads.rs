//! Leads on PostgreSQL. A batch travels as one `jsonb` parameter unpacked
//! by `jsonb_to_recordset`, so 5,000 leads are one statement.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;

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

pub fn from_row(r: &Row) -> LeadRow {
    let mut text: [Option<String>; 9] = Default::default();
    for (i, slot) in text.iter_mut().enumerate() {
        *slot = r.get(2 + i);
    }
    let custom: Value = r.get(12);
    LeadRow {
        key: r.get(0),
        email: r.get(1),
        text,
        tags: r.get(11),
        custom_fields: match custom {
            Value::Object(m) => m,
            _ => Default::default(),
        },
        email_verification_result: r.get(13),
        created_at: r.get(14),
        updated_at: r.get(15),
    }
}

/// The record type of `LeadRow::batch_json` rows.
const RECORD: &str =
    "j(id bigint, email text, key text, f text[], tags text[], cf jsonb, evr text)";

fn batch(rows: &[LeadRow]) -> Value {
    Value::Array(rows.iter().map(LeadRow::batch_json).collect())
}

/// A text array in PostgreSQL's literal syntax, so that a whole column of
/// tag lists travels as one `text[]` parameter and each row is a cheap cast.
fn array_literal(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|t| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// Inserts the leads whose email is new to the workspace, in one statement:
/// one array parameter per column, zipped by `unnest`. Returns the keys of
/// the created leads by email key.
pub async fn insert_new(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    rows: &[LeadRow],
    now: i64,
) -> Result<HashMap<String, i64>> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let column = |f: &dyn Fn(&LeadRow) -> Option<String>| {
        rows.iter().map(f).collect::<Vec<Option<String>>>()
    };
    let emails = column(&|r| Some(r.email.clone()));
    let keys = column(&|r| Some(r.email_key()));
    let text: Vec<Vec<Option<String>>> = (0..9).map(|i| column(&|r| r.text[i].clone())).collect();
    let tags = column(&|r| Some(array_literal(&r.tags)));
    let custom = column(&|r| Some(Value::Object(r.custom_fields.clone()).to_string()));
    let evr = column(&|r| r.email_verification_result.clone());
    let created = c
        .query(
            "insert into leads (workspace_id, email, email_key, first_name, last_name, company_name, \
             job_title, phone, linkedin_url, city, state, country, tags, custom_fields, \
             email_verification_result, created_at, updated_at) \
             select $1, x.email, x.key, x.f1, x.f2, x.f3, x.f4, x.f5, x.f6, x.f7, x.f8, x.f9, \
             x.tags::text[], x.cf::jsonb, x.evr, $2, $2 \
             from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
             $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[]) \
             as x(email, key, f1, f2, f3, f4, f5, f6, f7, f8, f9, tags, cf, evr) \
             order by x.key on conflict (workspace_id, email_key) do nothing returning email_key, id",
            &[
                &ws.key, &now, &emails, &keys, &text[0], &text[1], &text[2], &text[3], &text[4], &text[5],
                &text[6], &text[7], &text[8], &tags, &custom, &evr,
            ],
        )
        .await?;
    Ok(created.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Writes back the fields of stored leads, in one statement.
async fn write_back(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    rows: &[LeadRow],
    now: i64,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    c.execute(
        &format!(
            "update leads l set first_name = j.f[1], last_name = j.f[2], company_name = j.f[3], \
             job_title = j.f[4], phone = j.f[5], linkedin_url = j.f[6], city = j.f[7], state = j.f[8], \
             country = j.f[9], tags = j.tags, custom_fields = j.cf, email_verification_result = j.evr, \
             updated_at = $2 from jsonb_to_recordset($3::jsonb) as {RECORD} \
             where l.workspace_id = $1 and l.id = j.id"
        ),
        &[&ws.key, &now, &batch(rows)],
    )
    .await?;
    Ok(())
}

/// The stored leads with these email keys, by email key.
pub async fn by_email_keys(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    keys: &[String],
) -> Result<HashMap<String, LeadRow>> {
    let rows = c
        .query(
            &format!("select {LEAD_COLUMNS} from leads l where l.workspace_id = $1 and l.email_key = any($2::text[])"),
            &[&ws.key, &keys],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let row = from_row(r);
            (row.email_key(), row)
        })
        .collect())
}

/// The keys of the workspace's leads with these email keys, by email key.
pub async fn keys_by_email(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    keys: &[String],
) -> Result<HashMap<String, i64>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = c
        .query(
            "select email_key, id from leads where workspace_id = $1 and email_key = any($2::text[])",
            &[&ws.key, &keys],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub async fn create(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    email: &Email,
    fields: &LeadFields,
) -> Result<LeadRow> {
    let now = now_ms();
    let mut row = LeadRow::new(email, fields, now);
    let created = insert_new(c, ws, std::slice::from_ref(&row), now).await?;
    row.key = *created
        .get(&row.email_key())
        .ok_or_else(|| StoreError::Conflict(format!("A lead with email {email} already exists")))?;
    Ok(row)
}

pub async fn list(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    filter: &LeadFilter,
    page_req: PageRequest,
) -> Result<Page<LeadRow>> {
    let mut sql = Sql::default();
    let p = sql.param(ws.key);
    sql.push(&format!("l.workspace_id = {p}"));
    lead_filter(&mut sql, filter);
    page(
        c,
        sql,
        &format!("select {LEAD_COLUMNS} from leads l"),
        "leads l",
        "l.id",
        page_req,
        from_row,
    )
    .await
}

pub async fn get(c: &impl GenericClient, ws: WorkspaceRef, id: ObjectId) -> Result<LeadRow> {
    c.query_opt(
        &format!("select {LEAD_COLUMNS} from leads l where l.workspace_id = $1 and l.id = $2"),
        &[&ws.key, &id.key],
    )
    .await?
    .map(|r| from_row(&r))
    .filter(|row| row.id() == id)
    .ok_or(StoreError::NotFound("Lead not found"))
}

pub async fn update(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    id: ObjectId,
    fields: &LeadFields,
) -> Result<LeadRow> {
    // Lock the row so concurrent updates merge rather than overwrite.
    c.execute(
        "select 1 from leads where workspace_id = $1 and id = $2 for update",
        &[&ws.key, &id.key],
    )
    .await?;
    let mut row = get(c, ws, id).await?;
    let now = now_ms();
    row.apply(fields);
    row.updated_at = now;
    write_back(c, ws, std::slice::from_ref(&row), now).await?;
    Ok(row)
}

pub async fn delete(c: &impl GenericClient, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
    let key = find_key(c, "leads", ws, id)
        .await?
        .ok_or(StoreError::NotFound("Lead not found"))?;
    c.execute(
        "delete from campaign_leads where workspace_id = $1 and lead_id = $2",
        &[&ws.key, &key],
    )
    .await?;
    c.execute(
        "delete from leads where workspace_id = $1 and id = $2",
        &[&ws.key, &key],
    )
    .await?;
    Ok(())
}

pub async fn delete_many(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    selection: &Selection,
) -> Result<u64> {
    let mut sql = Sql::default();
    let w = sql.param(ws.key);
    sql.push(&format!("l.workspace_id = {w}"));
    if let Some(f) = &selection.filter {
        lead_filter(&mut sql, f);
    }
    if !selection.exclude.is_empty() {
        id_in(&mut sql, "l", &selection.exclude, true);
    }
    // One statement: the selection, its memberships and the leads.
    let text = format!(
        "with sel as materialized (select l.id from leads l where {where_}), \
         members as (delete from campaign_leads cl using sel where cl.workspace_id = {w} and cl.lead_id = sel.id), \
         gone as (delete from leads d using sel where d.workspace_id = {w} and d.id = sel.id returning 1) \
         select count(*) from gone",
        where_ = sql.text
    );
    Ok(c.query_one(&text, &sql.params()).await?.get::<_, i64>(0) as u64)
}

pub async fn bulk_upsert(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    input: Vec<(Email, LeadFields)>,
    skip_duplicates: bool,
    tag: Option<&str>,
) -> Result<BulkOutcome> {
    let now = now_ms();
    let keys: Vec<String> = input.iter().map(|(e, _)| e.key()).collect();
    let mut new_rows = Vec::new();
    for (email, fields) in &input {
        let mut row = LeadRow::new(email, fields, now);
        row.add_tag(tag);
        new_rows.push(row);
    }
    // Create first: a lead another request creates at the same time is
    // then simply an existing one.
    let created = insert_new(c, ws, &new_rows, now).await?;
    let imported: Vec<ObjectId> = new_rows
        .iter()
        .filter_map(|row| {
            created
                .get(&row.email_key())
                .map(|k| ObjectId::new(*k, now))
        })
        .collect();
    let existing: Vec<String> = keys
        .iter()
        .filter(|k| !created.contains_key(*k))
        .cloned()
        .collect();
    if skip_duplicates || existing.is_empty() {
        return Ok(BulkOutcome {
            skipped: existing.len() as u64,
            imported,
            updated: 0,
        });
    }
    c.execute(
        "select 1 from leads where workspace_id = $1 and email_key = any($2::text[]) order by id for update",
        &[&ws.key, &existing],
    )
    .await?;
    let mut stored = by_email_keys(c, ws, &existing).await?;
    let mut updates = Vec::new();
    for ((_, fields), key) in input.iter().zip(&keys) {
        if let Some(mut row) = stored.remove(key) {
            row.apply(fields);
            row.add_tag(tag);
            updates.push(row);
        }
    }
    write_back(c, ws, &updates, now).await?;
    Ok(BulkOutcome {
        imported,
        updated: updates.len() as u64,
        skipped: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::array_literal;

    #[test]
    fn array_literals_quote_and_escape_every_element() {
        assert_eq!(array_literal(&[]), "{}");
        let tags = [
            "a b".to_string(),
            "q\"uote".to_string(),
            "back\\slash".to_string(),
            "{x,y}".to_string(),
        ];
        assert_eq!(
            array_literal(&tags),
            r#"{"a b","q\"uote","back\\slash","{x,y}"}"#
        );
    }
}
