//! Background jobs, for both engines: a request too large for one
//! transaction (an add of millions of leads) is queued as a job, and a
//! runner does it in chunks, each its own transaction that also moves the
//! job's `cursor` (the last lead key done) and adds the chunk's counts to
//! its `result`. A runner that dies leaves the job with its last whole
//! chunk recorded; another runner takes it when the lease lapses and goes
//! on from the cursor, so the final counts count each lead once. A
//! cancelled job stops after its current chunk: whole chunks stay.
//!
//! On PostgreSQL a runner claims a job with `for update skip locked`, so
//! each job has one runner; at most `per_workspace` jobs of a workspace run
//! at once.

use serde_json::{Value, json};

use super::exec::{self, Exec, Row, Total};
use super::sql::Dialect;
use super::{
    AddOptions, Move, MoveLeads, MoveOutcome, Page, PageRequest, Result, Selection,
    SelectionOutcome, StoreError, WorkspaceRef, campaigns, events, leads,
};
use crate::domain::event::EventType;
use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;
use crate::domain::now_ms;

pub const NOT_FOUND: StoreError = StoreError::NotFound("Job not found");

/// The kind of job that adds a selection of leads to a campaign.
pub const ADD_LEADS: &str = "campaign.add_leads";
/// The kind of job that deletes a selection of leads.
pub const DELETE_LEADS: &str = "leads.delete";
/// The kind of job that moves (or copies) a campaign's members.
pub const MOVE_LEADS: &str = "campaign.move_leads";
/// The kind of job that imports a CSV file's rows (staged in
/// `import_rows` while the file is read).
pub const IMPORT_LEADS: &str = "leads.import";

/// Rows an import's chunk takes at most: the leads one `lead.created`
/// event lists in full, so the feed names every lead an import created.
pub const IMPORT_CHUNK: usize = events::MAX_EVENT_IDS;
/// How long an import's upload may stay unfinished (a server that died
/// while reading the file) before its staged rows are removed.
const ABANDONED_UPLOAD_MS: i64 = 24 * 3600 * 1000;

/// A job.
#[derive(Clone, Debug)]
pub struct JobRow {
    pub workspace: WorkspaceRef,
    pub key: i64,
    pub kind: String,
    pub status: String,
    pub params: Value,
    pub cursor: i64,
    pub done: i64,
    pub total: Option<i64>,
    pub result: Value,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl JobRow {
    pub fn id(&self) -> ObjectId {
        ObjectId::new(self.key, self.created_at)
    }

    /// A delete job's count so far.
    pub fn deleted(&self) -> u64 {
        self.result["deletedCount"].as_u64().unwrap_or(0)
    }

    /// An add job's counts so far.
    pub fn outcome(&self) -> SelectionOutcome {
        let n = |k: &str| self.result[k].as_u64().unwrap_or(0);
        SelectionOutcome {
            matched: n("matched"),
            added: n("added"),
            blocked: n("blocked"),
            in_other: n("inOtherCampaign"),
            examples: None,
        }
    }
}

const JOB_COLUMNS: &str = "id, kind, status, params, cursor, done, total, result, error, created_at, started_at, finished_at";

fn job(ws: WorkspaceRef) -> impl Fn(Row) -> Result<JobRow> {
    move |mut r| {
        Ok(JobRow {
            workspace: ws,
            key: r.i64(0)?,
            kind: r.text(1)?,
            status: r.text(2)?,
            params: r.json(3)?,
            cursor: r.i64(4)?,
            done: r.i64(5)?,
            total: r.opt_i64(6)?,
            result: r.json(7)?,
            error: r.opt_text(8)?,
            created_at: r.i64(9)?,
            started_at: r.opt_i64(10)?,
            finished_at: r.opt_i64(11)?,
        })
    }
}

/// What a delete job does: its selection of leads.
pub fn selection_params(selection: &Selection) -> Value {
    json!({
        "filters": selection.filter.as_ref().map(LeadFilter::to_json),
        "excludeIds": selection.exclude.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// What an add job does: the selection, the campaign and the rule.
pub fn add_params(
    campaign: ObjectId,
    selection: &Selection,
    skip_if_in_other_campaign: Option<bool>,
) -> Value {
    let mut params = selection_params(selection);
    params["campaignId"] = campaign.to_string().into();
    params["skipIfInOtherCampaign"] = skip_if_in_other_campaign.into();
    params
}

/// What a move job does: the source, the target, the selection of the
/// source's members (by their leads) and how.
pub fn move_params(
    from: ObjectId,
    to: ObjectId,
    selection: &Selection,
    copy: bool,
    keep_status: bool,
) -> Value {
    let mut params = selection_params(selection);
    params["campaignId"] = from.to_string().into();
    params["toCampaignId"] = to.to_string().into();
    params["copy"] = copy.into();
    params["keepStatus"] = keep_status.into();
    params
}

/// A move job's source and move (for the selection `selection`).
fn move_of(params: &Value, selection: Selection) -> Result<(ObjectId, Move)> {
    let id = |k: &str| {
        params[k]
            .as_str()
            .and_then(ObjectId::parse)
            .ok_or_else(|| unreadable(params))
    };
    let m = Move {
        to: id("toCampaignId")?,
        leads: MoveLeads::All(Box::new(selection)),
        copy: params["copy"].as_bool().unwrap_or(false),
        keep_status: params["keepStatus"].as_bool().unwrap_or(false),
        explain: false,
    };
    Ok((id("campaignId")?, m))
}

impl JobRow {
    /// A move job's counts so far, and whether it copies.
    pub fn moved(&self) -> (MoveOutcome, bool) {
        let n = |k: &str| self.result[k].as_u64().unwrap_or(0);
        let outcome = MoveOutcome {
            matched: n("matched"),
            moved: n("moved"),
            blocked: n("blocked"),
            examples: None,
        };
        (outcome, self.params["copy"].as_bool().unwrap_or(false))
    }
}

/// The leads a job goes through, in key order (conditions on `l`, and
/// its `from`): a selection of the workspace's leads, or of a source
/// campaign's members.
fn scope(
    e: &impl Exec,
    ws: WorkspaceRef,
    j: &JobRow,
    selection: &Selection,
) -> Result<super::sql::Sql> {
    let mut sql = exec::selection_sql(e.dialect(), ws, selection);
    if j.kind == MOVE_LEADS {
        let (from, _) = move_of(&j.params, Selection::default())?;
        let src = sql.param(from.key);
        sql.text = format!(
            r"campaign_leads s join leads l on l.workspace_id = s.workspace_id and l.id = s.lead_id
             where s.workspace_id = l.workspace_id and s.campaign_id = {src} and {}",
            sql.text
        );
    } else {
        sql.text = format!("leads l where {}", sql.text);
    }
    Ok(sql)
}

fn unreadable(params: &Value) -> StoreError {
    StoreError::Internal(anyhow::anyhow!("a job's params do not read back: {params}"))
}

/// A job's selection, read back from its params.
fn selection_of(params: &Value) -> Result<Selection> {
    let filter = match &params["filters"] {
        Value::Null => None,
        f => Some(LeadFilter::from_json(f, "filters").map_err(|_| unreadable(params))?),
    };
    let exclude = params["excludeIds"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().and_then(ObjectId::parse))
                .collect()
        })
        .unwrap_or_default();
    Ok(Selection {
        filter,
        exclude,
        keys: None,
    })
}

/// An add job's campaign and rules, read back from its params.
fn add_target(params: &Value) -> Result<(ObjectId, AddOptions)> {
    let campaign = params["campaignId"]
        .as_str()
        .and_then(ObjectId::parse)
        .ok_or_else(|| unreadable(params))?;
    let options = AddOptions {
        skip_if_in_other_campaign: params["skipIfInOtherCampaign"].as_bool(),
        explain: false,
    };
    Ok((campaign, options))
}

/// Queues a job. The campaign of an add is checked now (404, 409), as the
/// synchronous call would.
pub async fn create(e: &impl Exec, ws: WorkspaceRef, kind: &str, params: Value) -> Result<JobRow> {
    if kind == ADD_LEADS || (kind == IMPORT_LEADS && !params["campaignId"].is_null()) {
        let (campaign, options) = add_target(&params)?;
        campaigns::open_campaign(e, ws, campaign, options).await?;
    }
    // An import waits for its rows: no runner sees it until they are in.
    let status = if kind == IMPORT_LEADS {
        "uploading"
    } else {
        "queued"
    };
    if kind == MOVE_LEADS {
        // The move's own checks, as a dry run of an empty selection.
        let none = Selection {
            keys: Some((0, 0)),
            ..Default::default()
        };
        let (from, m) = move_of(&params, none)?;
        campaigns::move_leads(e, ws, from, &m, true).await?;
    }
    let now = now_ms();
    let key = e
        .query_i64(&e.sql(
            r"insert into jobs (workspace_id, kind, status, params, cursor, done, result, created_at, updated_at)
             values (?1, ?2, ?6, ?3, 0, 0, ?4, ?5, ?5) returning id",
            vec![
                ws.key.into(),
                kind.into(),
                params.into(),
                json!({}).into(),
                now.into(),
                status.into(),
            ],
        ))
        .await?;
    get(e, ws, ObjectId::new(key, now)).await
}

pub async fn get(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<JobRow> {
    find(e, ws, id, false).await
}

/// The job, its row locked (where the engine has row locks) when `lock`.
async fn find(e: &impl Exec, ws: WorkspaceRef, id: ObjectId, lock: bool) -> Result<JobRow> {
    let lock = if lock { e.dialect().for_update() } else { "" };
    e.query_opt(&e.sql(
        &format!("select {JOB_COLUMNS} from jobs where workspace_id = ?1 and id = ?2{lock}"),
        vec![ws.key.into(), id.key.into()],
    ))
    .await?
    .map(job(ws))
    .transpose()?
    .filter(|j| id.matches(j.key, j.created_at))
    .ok_or(NOT_FOUND)
}

pub async fn list(e: &impl Exec, ws: WorkspaceRef, page: PageRequest) -> Result<Page<JobRow>> {
    exec::page(
        e,
        e.sql(
            "workspace_id = ?1 and status <> 'uploading'",
            vec![ws.key.into()],
        ),
        &format!("select {JOB_COLUMNS} from jobs"),
        Total::Count("jobs"),
        "id",
        page,
        job(ws),
    )
    .await
}

/// `job.finished`: the job, its status and, on success, its counts.
fn finished_event(j: &JobRow, status: &str, error: Option<&str>) -> events::Event {
    events::Event::new(
        EventType::JobFinished,
        json!({
            "jobId": j.id().to_string(),
            "type": j.kind,
            "status": status,
            "progress": {"done": j.done, "total": j.total},
            "result": if status == "succeeded" { j.result.clone() } else { Value::Null },
            "error": error,
        }),
    )
}

/// Cancels a queued or running job (a running one stops after the chunk
/// it is doing: whole chunks stay); 409 when it has finished.
pub async fn cancel(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<JobRow> {
    let current = find(e, ws, id, true).await?;
    if !matches!(current.status.as_str(), "queued" | "running") {
        return Err(StoreError::Conflict(format!(
            "The job has finished ({}); it cannot be cancelled",
            current.status
        )));
    }
    let now = now_ms();
    e.execute(&e.sql(
        r"update jobs set status = 'cancelled', finished_at = ?3, lease_until = null, updated_at = ?3
         where workspace_id = ?1 and id = ?2",
        vec![ws.key.into(), current.key.into(), now.into()],
    ))
    .await?;
    drop_rows(e, ws, current.key).await?;
    events::record(e, ws, vec![finished_event(&current, "cancelled", None)]).await?;
    get(e, ws, id).await
}

// ---- The runners ------------------------------------------------------------

/// Workspaces with queued jobs, or running ones whose runner's lease has
/// lapsed.
pub async fn waiting(e: &impl Exec, now: i64) -> Result<Vec<WorkspaceRef>> {
    exec::workspaces_in(
        e,
        r"select j.workspace_id from jobs j
         where j.status in ('queued', 'running') and (j.lease_until is null or j.lease_until <= ?1)",
        vec![now.into()],
    )
    .await
}

/// Claims the workspace's oldest waiting job until `lease_until`, unless
/// `per_workspace` of its jobs already run (under a live lease). Marks it
/// running, and counts its selection the first time.
pub async fn claim(
    e: &impl Exec,
    ws: WorkspaceRef,
    now: i64,
    lease_until: i64,
    per_workspace: usize,
) -> Result<Option<JobRow>> {
    let running = e
        .query_i64(&e.sql(
            r"select count(*) from jobs where workspace_id = ?1 and status = 'running' and lease_until > ?2",
            vec![ws.key.into(), now.into()],
        ))
        .await?;
    if running as usize >= per_workspace {
        return Ok(None);
    }
    let skip = match e.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " for update skip locked",
    };
    let Some(j) = e
        .query_opt(&e.sql(
            &format!(
                r"select {JOB_COLUMNS} from jobs where workspace_id = ?1 and status in ('queued', 'running')
                 and (lease_until is null or lease_until <= ?2) order by id limit 1{skip}"
            ),
            vec![ws.key.into(), now.into()],
        ))
        .await?
        .map(job(ws))
        .transpose()?
    else {
        return Ok(None);
    };
    let total = match j.total {
        Some(t) => t,
        None => count(e, ws, &j).await?,
    };
    e.execute(&e.sql(
        r"update jobs set status = 'running', lease_until = ?3, total = ?4,
           started_at = coalesce(started_at, ?5), updated_at = ?5
         where workspace_id = ?1 and id = ?2",
        vec![
            ws.key.into(),
            j.key.into(),
            lease_until.into(),
            total.into(),
            now.into(),
        ],
    ))
    .await?;
    get(e, ws, j.id()).await.map(Some)
}

/// How many leads the job's selection holds now (its progress's total).
async fn count(e: &impl Exec, ws: WorkspaceRef, j: &JobRow) -> Result<i64> {
    if j.kind == IMPORT_LEADS {
        return e
            .query_i64(&e.sql(
                "select count(*) from import_rows where workspace_id = ?1 and job_id = ?2",
                vec![ws.key.into(), j.key.into()],
            ))
            .await;
    }
    let selection = selection_of(&j.params)?;
    let sql = scope(e, ws, j, &selection)?;
    e.query_i64(&super::sql::Sql {
        text: format!("select count(*) from {}", sql.text),
        ..sql
    })
    .await
}

/// What a chunk did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A chunk was done; more may follow.
    Done,
    /// The job has finished: succeeded, or stopped (cancelled, or no longer
    /// this runner's).
    Finished,
}

/// Does the job's next chunk of at most `chunk` leads, in the caller's
/// transaction, and extends the lease; when none is left, the job has
/// succeeded. A job that is no longer running (cancelled) is left alone.
pub async fn step(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    chunk: usize,
    lease_until: i64,
) -> Result<Step> {
    let j = find(e, ws, id, true).await?;
    if j.status != "running" {
        return Ok(Step::Finished);
    }
    let next = if j.kind == IMPORT_LEADS {
        import_chunk(e, ws, &j, chunk).await?
    } else {
        selection_chunk(e, ws, &j, chunk).await?
    };
    let now = now_ms();
    let Some((end, done, counts)) = next else {
        e.execute(&e.sql(
            r"update jobs set status = 'succeeded', finished_at = ?3, lease_until = null, updated_at = ?3
             where workspace_id = ?1 and id = ?2",
            vec![ws.key.into(), j.key.into(), now.into()],
        ))
        .await?;
        let mut told = Vec::new();
        if j.kind == IMPORT_LEADS {
            told.push(import_completed(&j));
        }
        told.push(finished_event(&j, "succeeded", None));
        events::record(e, ws, told).await?;
        return Ok(Step::Finished);
    };
    // The counts so far, plus this chunk's (lists are appended).
    let mut result = j.result.clone();
    for (k, v) in counts.as_object().into_iter().flatten() {
        if let Some(more) = v.as_array() {
            let mut list = result[k].as_array().cloned().unwrap_or_default();
            list.extend(more.iter().cloned());
            result[k] = list.into();
        } else {
            let sum = result[k].as_u64().unwrap_or(0) + v.as_u64().unwrap_or(0);
            result[k] = sum.into();
        }
    }
    e.execute(&e.sql(
        r"update jobs set cursor = ?3, done = ?4, result = ?5, lease_until = ?6, updated_at = ?7
         where workspace_id = ?1 and id = ?2",
        vec![
            ws.key.into(),
            j.key.into(),
            end.into(),
            (j.done + done as i64).into(),
            result.into(),
            lease_until.into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(Step::Done)
}

/// A selection job's next chunk: at most `chunk` leads of its selection
/// after the cursor (a lead key), done as the synchronous call does them.
/// Returns the chunk's last key, its leads and its counts; `None` when no
/// lead is left.
async fn selection_chunk(
    e: &impl Exec,
    ws: WorkspaceRef,
    j: &JobRow,
    chunk: usize,
) -> Result<Option<(i64, u64, Value)>> {
    let mut selection = selection_of(&j.params)?;
    // The chunk: the next `chunk` leads of the selection after the cursor.
    selection.keys = Some((j.cursor, i64::MAX));
    let sql = scope(e, ws, j, &selection)?;
    let limit = chunk as i64;
    let end = e
        .query_opt(&super::sql::Sql {
            text: format!(
                "select max(id) from (select l.id from {} order by l.id limit {limit}) c",
                sql.text
            ),
            ..sql
        })
        .await?
        .map(|mut r| r.opt_i64(0))
        .transpose()?
        .flatten();
    let Some(end) = end else {
        return Ok(None);
    };
    selection.keys = Some((j.cursor, end));
    let (done, counts) = match j.kind.as_str() {
        ADD_LEADS => {
            let (campaign, options) = add_target(&j.params)?;
            let o = campaigns::add_selection(e, ws, campaign, &selection, options).await?;
            let counts = json!({
                "matched": o.matched,
                "added": o.added,
                "blocked": o.blocked,
                "inOtherCampaign": o.in_other,
            });
            (o.matched, counts)
        }
        DELETE_LEADS => {
            let gone = leads::delete_many(e, ws, &selection).await?;
            (gone, json!({"deletedCount": gone}))
        }
        MOVE_LEADS => {
            let (from, m) = move_of(&j.params, selection)?;
            let o = campaigns::move_leads(e, ws, from, &m, false).await?;
            let counts = json!({"matched": o.matched, "moved": o.moved, "blocked": o.blocked});
            (o.matched, counts)
        }
        other => {
            return Err(StoreError::Internal(anyhow::anyhow!(
                "unknown job kind {other}"
            )));
        }
    };
    Ok(Some((end, done, counts)))
}

/// Records that the job failed (its last chunk's error), with its event.
pub async fn fail(e: &impl Exec, ws: WorkspaceRef, id: ObjectId, error: &str) -> Result<()> {
    let j = get(e, ws, id).await?;
    if j.status != "running" {
        return Ok(());
    }
    let now = now_ms();
    e.execute(&e.sql(
        r"update jobs set status = 'failed', error = ?3, finished_at = ?4, lease_until = null, updated_at = ?4
         where workspace_id = ?1 and id = ?2",
        vec![ws.key.into(), j.key.into(), error.into(), now.into()],
    ))
    .await?;
    drop_rows(e, ws, j.key).await?;
    events::record(e, ws, vec![finished_event(&j, "failed", Some(error))]).await
}

/// Removes an import's staged rows (none for other jobs).
async fn drop_rows(e: &impl Exec, ws: WorkspaceRef, job: i64) -> Result<u64> {
    e.execute(&e.sql(
        "delete from import_rows where workspace_id = ?1 and job_id = ?2",
        vec![ws.key.into(), job.into()],
    ))
    .await
}

// ---- Asynchronous imports ---------------------------------------------------

/// A valid row of an import's file: its number (from 1, in file order),
/// its email's key and the lead object it became.
#[derive(Clone, Debug)]
pub struct StagedRow {
    pub row: i64,
    pub email_key: String,
    pub lead: Value,
}

/// Stores rows of an import being uploaded; a row whose email an earlier
/// row has is left out. Returns how many were stored.
pub async fn stage(e: &impl Exec, ws: WorkspaceRef, job: i64, rows: &[StagedRow]) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sql = e.sql(
        "insert into import_rows (workspace_id, job_id, row_no, email_key, lead) values ",
        vec![ws.key.into(), job.into()],
    );
    for (i, r) in rows.iter().enumerate() {
        let row = sql.param(r.row);
        let key = sql.param(r.email_key.clone());
        let lead = sql.param(r.lead.clone());
        let sep = if i == 0 { "" } else { ", " };
        sql.push(&format!("{sep}(?1, ?2, {row}, {key}, {lead})"));
    }
    sql.push(" on conflict (workspace_id, job_id, email_key) do nothing");
    e.execute(&sql).await
}

/// The upload is complete: `parsed` (what reading the file found: rows,
/// repeats, failed rows and their errors, the separator) joins the job's
/// params, and the job is queued with its staged rows as its total.
pub async fn queue_import(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    parsed: Value,
) -> Result<JobRow> {
    let j = find(e, ws, id, true).await?;
    let mut params = j.params.clone();
    for (k, v) in parsed.as_object().into_iter().flatten() {
        params[k] = v.clone();
    }
    let total = count(e, ws, &j).await?;
    e.execute(&e.sql(
        r"update jobs set status = 'queued', params = ?3, total = ?4, updated_at = ?5
         where workspace_id = ?1 and id = ?2 and status = 'uploading'",
        vec![
            ws.key.into(),
            j.key.into(),
            params.into(),
            total.into(),
            now_ms().into(),
        ],
    ))
    .await?;
    get(e, ws, id).await
}

/// Removes an upload that failed (the file was refused): its job and
/// rows, as if it had never been sent.
pub async fn drop_upload(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
    let j = find(e, ws, id, true).await?;
    if j.status != "uploading" {
        return Ok(());
    }
    drop_rows(e, ws, j.key).await?;
    e.execute(&e.sql(
        "delete from jobs where workspace_id = ?1 and id = ?2",
        vec![ws.key.into(), j.key.into()],
    ))
    .await?;
    Ok(())
}

/// Removes uploads abandoned for a day (their server died while reading
/// the file).
pub async fn prune_uploads(e: &impl Exec, now: i64) -> Result<u64> {
    let gone = e
        .execute(&e.sql(
            r"delete from import_rows where exists (
               select 1 from jobs j where j.workspace_id = import_rows.workspace_id
                 and j.id = import_rows.job_id and j.status = 'uploading' and j.created_at < ?1)",
            vec![(now - ABANDONED_UPLOAD_MS).into()],
        ))
        .await?;
    e.execute(&e.sql(
        "delete from jobs where status = 'uploading' and created_at < ?1",
        vec![(now - ABANDONED_UPLOAD_MS).into()],
    ))
    .await?;
    Ok(gone)
}

impl JobRow {
    /// An import's answer so far: what reading the file found (params) and
    /// what its chunks did (result).
    pub fn imported(&self) -> ImportCounts {
        let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
        let (p, r) = (&self.params, &self.result);
        ImportCounts {
            rows: n(p, "rows"),
            repeats: n(p, "repeats"),
            failed: n(p, "failed"),
            errors: p["errors"].clone(),
            delimiter: p["delimiter"].as_str().unwrap_or(",").to_owned(),
            imported: n(r, "imported"),
            updated: n(r, "updated"),
            skipped: n(r, "skipped"),
            imported_ids: r["importedLeadIds"]
                .as_array()
                .map(|ids| {
                    ids.iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            campaign: p["campaignId"].as_str().map(|id| {
                (
                    id.to_owned(),
                    n(r, "added"),
                    n(r, "blocked"),
                    n(r, "inOtherCampaign"),
                )
            }),
        }
    }
}

/// An import job's counts (see [`JobRow::imported`]).
#[derive(Clone, Debug)]
pub struct ImportCounts {
    pub rows: u64,
    pub repeats: u64,
    pub failed: u64,
    /// The first refused rows, as `{line, email, error}` objects.
    pub errors: Value,
    pub delimiter: String,
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    /// The first [`events::MAX_EVENT_IDS`] leads created.
    pub imported_ids: Vec<String>,
    /// With a campaign: its ID, and the leads added, blocked and left out
    /// as in another campaign.
    pub campaign: Option<(String, u64, u64, u64)>,
}

/// An import's next chunk: at most [`IMPORT_CHUNK`] staged rows after the
/// cursor (a row number), imported as the synchronous call imports a file,
/// then removed. `None` when none is left.
async fn import_chunk(
    e: &impl Exec,
    ws: WorkspaceRef,
    j: &JobRow,
    chunk: usize,
) -> Result<Option<(i64, u64, Value)>> {
    let limit = chunk.min(IMPORT_CHUNK) as i64;
    let rows = e
        .query(&e.sql(
            &format!(
                r"select row_no, lead from import_rows where workspace_id = ?1 and job_id = ?2
                 and row_no > ?3 order by row_no limit {limit}"
            ),
            vec![ws.key.into(), j.key.into(), j.cursor.into()],
        ))
        .await?;
    let mut end = j.cursor;
    let mut input = Vec::with_capacity(rows.len());
    for mut r in rows {
        end = r.i64(0)?;
        let lead = r.json(1)?;
        let parsed =
            crate::domain::lead::LeadFields::parse_new(&lead).map_err(|_| unreadable(&lead))?;
        input.push(parsed);
    }
    if input.is_empty() {
        return Ok(None);
    }
    let n = input.len() as u64;
    let p = &j.params;
    let campaign = p["campaignId"].as_str().and_then(ObjectId::parse);
    let options = AddOptions {
        skip_if_in_other_campaign: p["skipIfInOtherCampaign"].as_bool(),
        explain: false,
    };
    let skip_duplicates = p["skipDuplicates"].as_bool().unwrap_or(true);
    let (o, _) = campaigns::import_rows(
        e,
        ws,
        input,
        skip_duplicates,
        p["tag"].as_str(),
        campaign,
        options,
    )
    .await?;
    e.execute(&e.sql(
        "delete from import_rows where workspace_id = ?1 and job_id = ?2 and row_no <= ?3",
        vec![ws.key.into(), j.key.into(), end.into()],
    ))
    .await?;
    let mut counts = json!({
        "imported": o.bulk.imported.len(),
        "updated": o.bulk.updated,
        "skipped": o.bulk.skipped,
    });
    if let Some(c) = &o.campaign {
        counts["added"] = c.added.into();
        counts["blocked"] = c.blocked.into();
        counts["inOtherCampaign"] = c.in_other.into();
    }
    // The leads created, as far as the answer lists them.
    let listed = j.result["importedLeadIds"].as_array().map_or(0, Vec::len);
    let more: Vec<String> = o
        .bulk
        .imported
        .iter()
        .take(events::MAX_EVENT_IDS.saturating_sub(listed))
        .map(ToString::to_string)
        .collect();
    counts["importedLeadIds"] = more.into();
    Ok(Some((end, n, counts)))
}

/// `import.completed` for a finished import job: the counts the
/// synchronous import records.
fn import_completed(j: &JobRow) -> events::Event {
    let c = j.imported();
    let leads = c.imported + c.updated + c.skipped;
    let mut done = json!({
        "jobId": j.id().to_string(),
        "leads": leads,
        "imported": c.imported,
        "updated": c.updated,
        "skipped": c.skipped,
    });
    if let Some((id, added, blocked, in_other)) = c.campaign {
        done["campaignId"] = id.into();
        done["campaign"] = json!({
            "added": added,
            "created": 0,
            "blocked": blocked,
            "inOtherCampaign": in_other,
            "notFound": 0,
        });
    }
    events::Event::new(EventType::ImportCompleted, done)
}
