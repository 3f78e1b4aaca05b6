//! Campaigns, their states and their leads, for both engines, including the
//! add-leads operation (docs/API.md, "Add leads to a campaign").

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::counts::{self, MemberDeltas};
use super::events::{self, Event};
use super::exec::{self, Enrollment, Exec, Row, Total, selection_sql};
use super::sql::{Dialect, Param, Sql};
use super::{
    AddEntry, AddOptions, CampaignFields, CampaignLeadRow, CampaignRow, Examples, ExplicitOutcome,
    ImportOutcome, LeadAction, LeadCounts, LeadRow, MAX_EXAMPLES, MemberChange, MemberSelection,
    Move, MoveLeads, MoveOutcome, Page, PageRequest, Result, Selection, SelectionOutcome,
    StoreError, WorkspaceRef, dnc, email_entries, leads,
};
use crate::domain::campaign::{CampaignLeadStatus, CampaignStatus, Transition};
use crate::domain::email::Email;
use crate::domain::event::EventType;
use crate::domain::id::ObjectId;
use crate::domain::lead::LeadFields;
use crate::domain::now_ms;

const NOT_FOUND: StoreError = StoreError::NotFound("Campaign not found");

const CAMPAIGN_COLUMNS: &str = r"c.id, c.name, c.status, c.sequence, c.schedule, c.settings,
    c.started_at, c.completed_at, c.created_at, c.updated_at";

fn from_row(mut r: Row) -> Result<CampaignRow> {
    Ok(CampaignRow {
        key: r.i64(0)?,
        name: r.text(1)?,
        status: CampaignStatus::parse(&r.text(2)?).unwrap_or(CampaignStatus::Draft),
        sequence: r.json(3)?,
        schedule: r.json(4)?,
        settings: r.json(5)?,
        started_at: r.opt_i64(6)?,
        completed_at: r.opt_i64(7)?,
        created_at: r.i64(8)?,
        updated_at: r.i64(9)?,
        lead_counts: LeadCounts::default(),
    })
}

/// A campaign's member counts, as kept (see `counts`).
async fn lead_counts(e: &impl Exec, ws: WorkspaceRef, campaign_key: i64) -> Result<LeadCounts> {
    Ok(counts::members(e, ws, &[campaign_key])
        .await?
        .remove(&campaign_key)
        .unwrap_or_default())
}

impl exec::Created for CampaignRow {
    fn created_at(&self) -> i64 {
        self.created_at
    }
}

/// The campaign `id` names in `ws`, or 404 (`lead_counts` left empty);
/// `lock` takes its row lock where the engine has row locks.
async fn find(e: &impl Exec, ws: WorkspaceRef, id: ObjectId, lock: bool) -> Result<CampaignRow> {
    let select = format!("select {CAMPAIGN_COLUMNS} from campaigns c");
    exec::find_by_id(e, &select, "c", ws, id, lock, from_row)
        .await?
        .ok_or(NOT_FOUND)
}

/// [`find`] with the lead counts, for answers that show the campaign.
async fn find_with_counts(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
    let mut row = find(e, ws, id, false).await?;
    row.lead_counts = lead_counts(e, ws, row.key).await?;
    Ok(row)
}

pub async fn create(e: &impl Exec, ws: WorkspaceRef, f: CampaignFields) -> Result<CampaignRow> {
    let now = now_ms();
    let key = e
        .query_i64(&e.sql(
            r"insert into campaigns (workspace_id, name, status, sequence, schedule, settings, created_at, updated_at)
             values (?1, ?2, 'draft', ?3, ?4, ?5, ?6, ?6) returning id",
            vec![
                ws.key.into(),
                f.name.unwrap_or_default().into(),
                f.sequence.unwrap_or_else(|| Value::Array(Vec::new())).into(),
                f.schedule.unwrap_or_else(|| Value::Object(Default::default())).into(),
                f.settings.unwrap_or_else(|| Value::Object(Default::default())).into(),
                now.into(),
            ],
        ))
        .await?;
    let id = ObjectId::new(key, now);
    let row = find_with_counts(e, ws, id).await?;
    let data =
        json!({"campaignId": id.to_string(), "name": row.name, "status": row.status.as_str()});
    events::record(e, ws, vec![Event::new(EventType::CampaignCreated, data)]).await?;
    Ok(row)
}

pub async fn list(
    e: &impl Exec,
    ws: WorkspaceRef,
    statuses: &[CampaignStatus],
    search: Option<&str>,
    page: PageRequest,
) -> Result<Page<CampaignRow>> {
    let mut sql = e.sql("c.workspace_id = ?1", vec![ws.key.into()]);
    if !statuses.is_empty() {
        let names: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
        let c = sql.in_list("c.status", names, false);
        sql.push(&format!(" and {c}"));
    }
    if let Some(search) = search {
        let c = sql.contains("c.name", &search.to_lowercase());
        sql.push(&format!(" and {c}"));
    }
    let mut result = exec::page(
        e,
        sql,
        &format!("select {CAMPAIGN_COLUMNS} from campaigns c"),
        Total::Count("campaigns c"),
        "c.id",
        page,
        from_row,
    )
    .await?;
    let keys: Vec<i64> = result.items.iter().map(|c| c.key).collect();
    let mut counts = counts::members(e, ws, &keys).await?;
    for campaign in &mut result.items {
        campaign.lead_counts = counts.remove(&campaign.key).unwrap_or_default();
    }
    Ok(result)
}

pub async fn get(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
    find_with_counts(e, ws, id).await
}

pub async fn update(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    f: CampaignFields,
) -> Result<CampaignRow> {
    let current = find(e, ws, id, true).await?;
    e.execute(&e.sql(
        r"update campaigns set name = ?3, sequence = ?4, schedule = ?5, settings = ?6, updated_at = ?7
         where workspace_id = ?1 and id = ?2",
        vec![
            ws.key.into(),
            current.key.into(),
            f.name.unwrap_or(current.name).into(),
            f.sequence.unwrap_or(current.sequence).into(),
            f.schedule.unwrap_or(current.schedule).into(),
            f.settings.unwrap_or(current.settings).into(),
            now_ms().into(),
        ],
    ))
    .await?;
    find_with_counts(e, ws, id).await
}

pub async fn delete(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
    let campaign = find(e, ws, id, true).await?;
    counts::forget_campaign(e, ws, campaign.key).await?;
    for table in ["campaign_leads", "campaigns"] {
        let column = if table == "campaigns" {
            "id"
        } else {
            "campaign_id"
        };
        e.execute(&e.sql(
            &format!("delete from {table} where workspace_id = ?1 and {column} = ?2"),
            vec![ws.key.into(), campaign.key.into()],
        ))
        .await?;
    }
    Ok(())
}

pub async fn transition(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    t: Transition,
) -> Result<CampaignRow> {
    let campaign = find(e, ws, id, true).await?;
    let to = t.check(campaign.status).map_err(StoreError::Conflict)?;
    let now = now_ms();
    e.execute(&e.sql(
        r"update campaigns set status = ?3, updated_at = ?4,
         started_at = case when ?3 = 'active' then coalesce(started_at, ?4) else started_at end,
         completed_at = case when ?3 = 'completed' then ?4 else completed_at end
         where workspace_id = ?1 and id = ?2",
        vec![
            ws.key.into(),
            campaign.key.into(),
            to.as_str().into(),
            now.into(),
        ],
    ))
    .await?;
    let mut told = vec![Event::new(
        EventType::CampaignStatusChanged,
        json!({"campaignId": id.to_string(), "from": campaign.status.as_str(), "to": to.as_str()}),
    )];
    if to == CampaignStatus::Active {
        // A campaign that becomes active activates its pending leads in the
        // same transaction.
        let n = e
            .execute(&e.sql(
                r"update campaign_leads set status = 'active', updated_at = ?3
                 where workspace_id = ?1 and campaign_id = ?2 and status = 'pending'",
                vec![ws.key.into(), campaign.key.into(), now.into()],
            ))
            .await?;
        MemberDeltas::default()
            .moved(
                campaign.key,
                CampaignLeadStatus::Pending,
                CampaignLeadStatus::Active,
                n,
            )
            .apply(e, ws)
            .await?;
        if n > 0 {
            told.push(member_status_event(
                id,
                n,
                CampaignLeadStatus::Active,
                Some(CampaignLeadStatus::Pending),
                None,
            ));
        }
    }
    events::record(e, ws, told).await?;
    find_with_counts(e, ws, id).await
}

/// `campaign_lead.status_changed`: `count` members of `campaign` now in
/// `status` (from one status, when they all came from it; the one
/// membership, when there is one).
fn member_status_event(
    campaign: ObjectId,
    count: u64,
    status: CampaignLeadStatus,
    from: Option<CampaignLeadStatus>,
    member: Option<ObjectId>,
) -> Event {
    let mut data =
        json!({"campaignId": campaign.to_string(), "count": count, "status": status.as_str()});
    if let Some(from) = from {
        data["from"] = from.as_str().into();
    }
    if let Some(member) = member {
        data["campaignLeadIds"] = json!([member.to_string()]);
    }
    Event::new(EventType::CampaignLeadStatusChanged, data)
}

const CAMPAIGN_LEAD_SELECT: &str = r"select cl.id, cl.lead_id, l.created_at, cl.status, cl.added_at, cl.updated_at,
     l.email, l.first_name, l.last_name, l.company_name, cl.ai_tag
     from campaign_leads cl join leads l on l.workspace_id = cl.workspace_id and l.id = cl.lead_id";

fn campaign_lead(campaign: ObjectId) -> impl Fn(Row) -> Result<CampaignLeadRow> {
    move |mut r| {
        Ok(CampaignLeadRow {
            key: r.i64(0)?,
            campaign,
            lead: ObjectId::new(r.i64(1)?, r.i64(2)?),
            status: CampaignLeadStatus::parse(&r.text(3)?).unwrap_or(CampaignLeadStatus::Pending),
            added_at: r.i64(4)?,
            updated_at: r.i64(5)?,
            email: r.text(6)?,
            first_name: r.opt_text(7)?,
            last_name: r.opt_text(8)?,
            company_name: r.opt_text(9)?,
            ai_tag: r.opt_text(10)?,
        })
    }
}

pub async fn list_leads(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaign: ObjectId,
    status: Option<CampaignLeadStatus>,
    ai_tag: Option<&str>,
    page: PageRequest,
) -> Result<Page<CampaignLeadRow>> {
    let found = find(e, ws, campaign, false).await?;
    let mut sql = e.sql(
        "cl.workspace_id = ?1 and cl.campaign_id = ?2",
        vec![ws.key.into(), found.key.into()],
    );
    if let Some(s) = status {
        let p = sql.param(s.as_str());
        sql.push(&format!(" and cl.status = {p}"));
    }
    let total = if let Some(tag) = ai_tag {
        // Counted on the tag's index.
        let p = sql.param(tag);
        sql.push(&format!(" and cl.ai_tag = {p}"));
        Total::Count("campaign_leads cl")
    } else {
        // The total is kept by status.
        let counts = lead_counts(e, ws, found.key).await?;
        Total::Known(match status {
            Some(s) => counts.of(s),
            None => counts.by_status.iter().sum(),
        })
    };
    exec::page(
        e,
        sql,
        CAMPAIGN_LEAD_SELECT,
        total,
        "cl.id",
        page,
        campaign_lead(ObjectId::new(found.key, found.created_at)),
    )
    .await
}

/// Changes one membership: its status (`active` or `paused`) and its AI
/// tag, either or both.
pub async fn update_member(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaign: ObjectId,
    id: ObjectId,
    change: MemberChange,
) -> Result<CampaignLeadRow> {
    let found = find(e, ws, campaign, false).await?;
    let lock = e.dialect().for_update();
    let mut current = e
        .query_opt(&e.sql(
            &format!(
                r"select added_at, status from campaign_leads
                 where workspace_id = ?1 and campaign_id = ?2 and id = ?3{lock}"
            ),
            vec![ws.key.into(), found.key.into(), id.key.into()],
        ))
        .await?
        .ok_or(StoreError::NotFound("Campaign lead not found"))?;
    if !id.matches(id.key, current.i64(0)?) {
        return Err(StoreError::NotFound("Campaign lead not found"));
    }
    let current =
        CampaignLeadStatus::parse(&current.text(1)?).unwrap_or(CampaignLeadStatus::Pending);
    let mut told = Vec::new();
    if let Some(status) = change.status {
        current.check_change().map_err(StoreError::Conflict)?;
        e.execute(&e.sql(
            "update campaign_leads set status = ?3, updated_at = ?4 where workspace_id = ?1 and id = ?2",
            vec![
                ws.key.into(),
                id.key.into(),
                status.as_str().into(),
                now_ms().into(),
            ],
        ))
        .await?;
        MemberDeltas::default()
            .moved(found.key, current, status, 1)
            .apply(e, ws)
            .await?;
        if status != current {
            told.push(member_status_event(
                campaign,
                1,
                status,
                Some(current),
                Some(id),
            ));
        }
    }
    if let Some(tag) = change.ai_tag {
        e.execute(&e.sql(
            "update campaign_leads set ai_tag = ?3, updated_at = ?4 where workspace_id = ?1 and id = ?2",
            vec![
                ws.key.into(),
                id.key.into(),
                tag.map_or(Param::Null, Param::from),
                now_ms().into(),
            ],
        ))
        .await?;
    }
    events::record(e, ws, told).await?;
    let row = e
        .query_one(&e.sql(
            &format!("{CAMPAIGN_LEAD_SELECT} where cl.workspace_id = ?1 and cl.id = ?2"),
            vec![ws.key.into(), id.key.into()],
        ))
        .await?;
    campaign_lead(ObjectId::new(found.key, found.created_at))(row)
}

/// Pauses, resumes or removes the selected memberships in one statement;
/// returns how many changed.
pub async fn lead_action(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaign: ObjectId,
    action: LeadAction,
    selection: &MemberSelection,
) -> Result<u64> {
    let found = find(e, ws, campaign, false).await?;
    let mut sql = e.sql(
        "cl.workspace_id = ?1 and cl.campaign_id = ?2",
        vec![ws.key.into(), found.key.into()],
    );
    match selection {
        MemberSelection::Ids(ids) => {
            let c = sql.id_in(("campaign_leads", "cl"), "added_at", ids, false);
            sql.push(&format!(" and {c}"));
        }
        MemberSelection::All {
            filter,
            status,
            exclude,
        } => {
            if let Some(s) = status {
                let p = sql.param(s.as_str());
                sql.push(&format!(" and cl.status = {p}"));
            }
            if let Some(f) = filter {
                sql.push(
                    r" and exists (select 1 from leads l where l.workspace_id = cl.workspace_id
                     and l.id = cl.lead_id",
                );
                sql.lead_filter(f, "?1");
                sql.push(")");
            }
            if !exclude.is_empty() {
                let c = sql.id_in(("campaign_leads", "cl"), "added_at", exclude, true);
                sql.push(&format!(" and {c}"));
            }
        }
    }
    // One statement per status a member leaves, so each change is counted
    // exactly.
    let mut deltas = MemberDeltas::default();
    let moves: &[(CampaignLeadStatus, CampaignLeadStatus)] = match action {
        LeadAction::Pause => &[
            (CampaignLeadStatus::Active, CampaignLeadStatus::Paused),
            (CampaignLeadStatus::Pending, CampaignLeadStatus::Paused),
        ],
        LeadAction::Resume => &[(CampaignLeadStatus::Paused, found.status.new_lead_status())],
        LeadAction::Remove => {
            let mut remove = sql;
            remove.text = format!("delete from campaign_leads as cl where {}", remove.text);
            let members = e.delete_members(&remove).await?;
            let n = members.iter().map(|(_, _, n)| *n as u64).sum();
            deltas.removed(members).apply(e, ws).await?;
            return Ok(n);
        }
    };
    let mut changed = 0;
    let mut told = None;
    for (from, to) in moves {
        let mut update = sql.clone();
        let now = update.param(now_ms());
        let from_p = update.param(from.as_str());
        let to_p = update.param(to.as_str());
        update.text = format!(
            r"update campaign_leads as cl set status = {to_p}, updated_at = {now}
             where {} and cl.status = {from_p}",
            update.text
        );
        let n = e.execute(&update).await?;
        deltas.moved(found.key, *from, *to, n);
        changed += n;
        told = Some(*to);
    }
    deltas.apply(e, ws).await?;
    if let Some(to) = told.filter(|_| changed > 0) {
        let from = (moves.len() == 1).then(|| moves[0].0);
        events::record(
            e,
            ws,
            vec![member_status_event(campaign, changed, to, from, None)],
        )
        .await?;
    }
    Ok(changed)
}

/// The campaign leads may be added to, locked against status changes
/// where the engine has row locks: 404 when missing, 409 when archived.
/// `options` override the campaign's settings.
pub async fn open_campaign(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    options: AddOptions,
) -> Result<Enrollment> {
    let lock = e.dialect().for_share();
    // (SQLite finds the last membership on the campaign's index alone.)
    let members_of = match e.dialect() {
        Dialect::Sqlite => "campaign_id = ?2",
        Dialect::Postgres => "workspace_id = ?1 and campaign_id = ?2",
    };
    let mut row = e
        .query_opt(&e.sql(
            &format!(
                r"select created_at, status, settings,
                   (select coalesce(max(id), 0) from campaign_leads where {members_of})
                 from campaigns where workspace_id = ?1 and id = ?2{lock}"
            ),
            vec![ws.key.into(), id.key.into()],
        ))
        .await?
        .ok_or(NOT_FOUND)?;
    if !id.matches(id.key, row.i64(0)?) {
        return Err(NOT_FOUND);
    }
    let status = CampaignStatus::parse(&row.text(1)?).unwrap_or(CampaignStatus::Draft);
    let status = status.admit().map_err(|m| StoreError::Conflict(m.into()))?;
    let settings: Value = row.json(2)?;
    let last_member = row.i64(3)?;
    let skip_other = options.skip_if_in_other_campaign.unwrap_or_else(|| {
        settings
            .get(SKIP_IF_IN_OTHER_CAMPAIGN)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    });
    Ok(Enrollment {
        campaign_key: id.key,
        status,
        now: now_ms(),
        skip_other,
        last_member,
    })
}

/// The campaign setting that makes `skipIfInOtherCampaign` its adds'
/// default.
pub const SKIP_IF_IN_OTHER_CAMPAIGN: &str = "skipIfInOtherCampaign";

/// Before a write that skips leads in other campaigns: waits for the
/// workspace's other such writes to commit, so that each one's test sees
/// the memberships the others made (two requests adding the same leads to
/// two campaigns leave each lead in one). PostgreSQL only: SQLite's writes
/// are one at a time already.
async fn serialize_skip_other(e: &impl Exec, ws: WorkspaceRef, to: Enrollment) -> Result<()> {
    if to.skip_other && e.dialect() == Dialect::Postgres {
        let key = ENROLL_LOCK << 32 | (ws.key & 0xffff_ffff);
        e.execute(&e.sql("select pg_advisory_xact_lock(?1)", vec![key.into()]))
            .await?;
    }
    Ok(())
}

/// The high half of the advisory lock keys [`serialize_skip_other`] takes
/// (the low half is the workspace's key).
const ENROLL_LOCK: i64 = 0x6c66_6f74; // "lfot"

/// The engine-neutral half of an explicit add-leads request: what to look
/// up, what to create, and the order of the result.
pub struct ExplicitPlan {
    /// Storage keys of the leads named by ID.
    pub named: Vec<i64>,
    /// One new lead per distinct email (the first occurrence supplies its
    /// fields); those whose email is new are created.
    pub by_email: Vec<LeadRow>,
}

impl ExplicitPlan {
    pub fn new(entries: &[AddEntry], now: i64) -> Self {
        let mut named = Vec::new();
        let mut seen = HashSet::new();
        let mut by_email = Vec::new();
        for e in entries {
            match e {
                AddEntry::Existing(id) => named.push(id.key),
                AddEntry::ByEmail { email, fields } => {
                    if seen.insert(email.key()) {
                        by_email.push(LeadRow::new(email, fields, now));
                    }
                }
            }
        }
        Self { named, by_email }
    }

    pub fn email_keys(&self) -> Vec<String> {
        self.by_email.iter().map(LeadRow::email_key).collect()
    }

    /// The lead keys in request order, the first occurrence of a lead
    /// winning, the positions of `Existing` entries that name no lead, and
    /// the keys named again by later entries (`found`: key → creation time
    /// of the named leads that exist; `emails`: email key → key of every
    /// lead named by email).
    pub fn order(
        entries: &[AddEntry],
        found: &HashMap<i64, i64>,
        emails: &HashMap<String, i64>,
    ) -> Result<(Vec<i64>, Vec<usize>, Vec<i64>)> {
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(entries.len());
        let mut not_found = Vec::new();
        let mut repeats = Vec::new();
        for (pos, e) in entries.iter().enumerate() {
            let key = match e {
                AddEntry::Existing(id) => match found.get(&id.key) {
                    Some(created_at) if id.matches(id.key, *created_at) => id.key,
                    _ => {
                        not_found.push(pos);
                        continue;
                    }
                },
                AddEntry::ByEmail { email, .. } => *emails.get(&email.key()).ok_or_else(|| {
                    StoreError::Internal(anyhow::anyhow!("a lead vanished mid-request"))
                })?,
            };
            if seen.insert(key) {
                keys.push(key);
            } else {
                repeats.push(key);
            }
        }
        Ok((keys, not_found, repeats))
    }
}

/// Adds explicit entries to a campaign: leads named by ID are looked up,
/// leads named by email found or created, then one insert adds them all.
pub async fn add_explicit(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaign: ObjectId,
    entries: Vec<AddEntry>,
    options: AddOptions,
    dry_run: bool,
) -> Result<ExplicitOutcome> {
    let (outcome, added, created) = explicit(e, ws, campaign, entries, options).await?;
    if !dry_run {
        let mut told = Vec::new();
        if !created.is_empty() {
            let n = created.len() as u64;
            told.push(Event::leads(EventType::LeadCreated, n, created));
        }
        told.extend(
            added
                .event(e, ws, "leads", explicit_counts(&outcome))
                .await?,
        );
        events::record(e, ws, told).await?;
    }
    Ok(outcome)
}

/// An explicit add's counts, for its event.
fn explicit_counts(o: &ExplicitOutcome) -> Value {
    json!({
        "added": o.added,
        "created": o.created,
        "blocked": o.blocked,
        "inOtherCampaign": o.in_other,
        "notFound": o.not_found.len(),
    })
}

/// Where an add put its memberships, for its `campaign.leads_added` event:
/// after `before`, the campaign's last membership key before the add
/// (keys only grow), at `at`, the add's time.
#[derive(Clone, Copy, Debug)]
struct Added {
    campaign: ObjectId,
    before: i64,
    at: i64,
}

impl Added {
    /// An add to the campaign `to` opened.
    fn to(campaign: ObjectId, to: Enrollment) -> Self {
        Added {
            campaign,
            before: to.last_member,
            at: to.now,
        }
    }

    /// `campaign.leads_added` with `counts` (whose `added` says how many),
    /// the mode and the first [`events::MAX_EVENT_IDS`] leads added, in
    /// membership order; none when the add added nothing.
    async fn event(
        self,
        e: &impl Exec,
        ws: WorkspaceRef,
        mode: &str,
        mut counts: Value,
    ) -> Result<Vec<Event>> {
        if counts["added"].as_u64().unwrap_or(0) == 0 {
            return Ok(Vec::new());
        }
        let rows = e
            .query(&e.sql(
                r"select l.id, l.created_at from campaign_leads cl
                 join leads l on l.workspace_id = cl.workspace_id and l.id = cl.lead_id
                 where cl.workspace_id = ?1 and cl.campaign_id = ?2 and cl.id > ?3 and cl.added_at = ?4
                 order by cl.id limit ?5",
                vec![
                    ws.key.into(),
                    self.campaign.key.into(),
                    self.before.into(),
                    self.at.into(),
                    (events::MAX_EVENT_IDS as i64).into(),
                ],
            ))
            .await?;
        let ids = rows
            .into_iter()
            .map(|mut r| Ok(ObjectId::new(r.i64(0)?, r.i64(1)?)))
            .collect::<Result<Vec<_>>>()?;
        counts["campaignId"] = self.campaign.to_string().into();
        counts["mode"] = mode.into();
        counts["leadIds"] = events::id_list(ids).into();
        Ok(vec![Event::new(EventType::CampaignLeadsAdded, counts)])
    }
}

/// [`add_explicit`]'s work, with where it put the memberships and the
/// leads it created (in key order).
async fn explicit(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaign: ObjectId,
    entries: Vec<AddEntry>,
    options: AddOptions,
) -> Result<(ExplicitOutcome, Added, Vec<ObjectId>)> {
    let to = open_campaign(e, ws, campaign, options).await?;
    serialize_skip_other(e, ws, to).await?;
    let added = Added::to(campaign, to);
    let plan = ExplicitPlan::new(&entries, to.now);
    let found = leads::created_at_by_key(e, ws, &plan.named).await?;
    // Create first, then look up the emails that were not created: a lead
    // that exists, or that a concurrent request created, is found rather
    // than duplicated.
    let created = leads::insert(e, ws, &plan.by_email, to.now).await?;
    let created_count = created.len() as u64;
    let mut created_ids: Vec<ObjectId> = created
        .values()
        .map(|k| ObjectId::new(*k, to.now))
        .collect();
    created_ids.sort_by_key(|id| id.key);
    let by_email = if created.len() == plan.by_email.len() {
        created
    } else {
        leads::keys_by_email(e, ws, &plan.email_keys()).await?
    };
    let (lead_keys, not_found, repeats) = ExplicitPlan::order(&entries, &found, &by_email)?;
    let mut outcome = ExplicitOutcome {
        created: created_count,
        not_found,
        ..Default::default()
    };
    if options.explain {
        outcome.examples = Some(Examples::default());
    }
    if lead_keys.is_empty() {
        return Ok((outcome, added, created_ids));
    }
    let dnc = dnc::any(e, ws).await?;
    if options.explain {
        outcome.examples = Some(explain_keys(e, ws, to, &lead_keys, &repeats, dnc).await?);
    }
    let done = if (dnc || to.skip_other) && e.dialect() == Dialect::Postgres {
        enroll_keys_tested_pg(e, ws, to, lead_keys, dnc).await?
    } else {
        enroll_keys(e, ws, to, lead_keys, dnc).await?
    };
    (outcome.added, outcome.blocked, outcome.in_other) = (done.added, done.blocked, done.in_other);
    MemberDeltas::default()
        .add(to.campaign_key, to.status.as_str(), outcome.added as i64)
        .apply(e, ws)
        .await?;
    Ok((outcome, added, created_ids))
}

/// A new membership's values, parameters 1 to 4 of the statements that
/// insert them: workspace, campaign, status and time.
fn membership_params(ws: WorkspaceRef, to: Enrollment) -> Vec<Param> {
    vec![
        ws.key.into(),
        to.campaign_key.into(),
        to.status.as_str().into(),
        to.now.into(),
    ]
}

/// What an enrollment did: how many it added, and of the leads new to the
/// campaign how many it skipped, by reason (blocked first).
#[derive(Clone, Copy, Debug, Default)]
struct Enrolled {
    added: u64,
    blocked: u64,
    in_other: u64,
}

/// The explicit add's memberships, `keys` in request order (SQLite) or key
/// order (PostgreSQL), less the leads the do-not-contact list blocks when
/// `dnc` and those in other campaigns when `to.skip_other` (SQLite only:
/// PostgreSQL tests other campaigns in [`enroll_keys_tested_pg`]). The
/// blocked leads new to the campaign are counted in a statement of their
/// own before the insert; the other-campaign test runs once per lead, in
/// the insert, and the leads it kept out are the ones left over (one
/// writer: nothing else changes the campaign meanwhile).
async fn enroll_keys(
    e: &impl Exec,
    ws: WorkspaceRef,
    to: Enrollment,
    keys: Vec<i64>,
    dnc: bool,
) -> Result<Enrolled> {
    let d = e.dialect();
    let named = keys.len() as u64;
    let mut done = Enrolled::default();
    let mut leave_out = String::new();
    // The rules' tests on a lead `l` of `keys` (parameters: workspace,
    // campaign, keys).
    let of_keys = |test: &str| {
        let mut sql = e.sql(
            "select count(*) from ",
            vec![ws.key.into(), to.campaign_key.into()],
        );
        let rows = sql.int_rows(keys.clone(), "j");
        sql.push(&format!(
            "{rows} cross join leads l where l.workspace_id = ?1 and l.id = j.id and {test}"
        ));
        sql
    };
    if dnc {
        let blocked = format!("{} and {}", d.on_dnc("?1"), Dialect::not_member("?2"));
        done.blocked = e.query_i64(&of_keys(&blocked)).await? as u64;
        leave_out.push_str(&format!(" and {}", d.not_on_dnc("?1")));
    }
    let mut already = 0;
    if to.skip_other {
        leave_out.push_str(&format!(" and not {}", d.in_other_campaign("?1", "?2")));
        // The members among the leads: none when the campaign has none
        // (its kept count), as a new campaign.
        let members: i64 = lead_counts(e, ws, to.campaign_key)
            .await?
            .by_status
            .iter()
            .sum();
        if members > 0 {
            already = e.query_i64(&of_keys(&Dialect::member("?2"))).await? as u64;
        }
    }
    let mut sql = e.sql(
        r"insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at)
         select ?1, ?2, l.id, ?3, ?4, ?4 from ",
        membership_params(ws, to),
    );
    let rows = sql.int_rows(keys, "j");
    // `cross join` keeps the list the outer loop on SQLite (given the
    // workspace condition it would scan the workspace's leads instead).
    // With one writer (SQLite) memberships take the request's order; with
    // many (PostgreSQL) every request inserts in key order, so concurrent
    // ones wait on each other's index entries instead of deadlocking.
    let order = match d {
        Dialect::Sqlite => "j.pos",
        Dialect::Postgres => "l.id",
    };
    sql.push(&format!(
        r"{rows} cross join leads l where l.workspace_id = ?1 and l.id = j.id{leave_out}
         order by {order} on conflict do nothing"
    ));
    done.added = e.insert_count(&sql).await?;
    if to.skip_other {
        done.in_other = named.saturating_sub(already + done.blocked + done.added);
    }
    Ok(done)
}

/// [`enroll_keys`] with a do-not-contact list or the other-campaign rule on
/// PostgreSQL, in one statement (one snapshot, and one read of the named
/// leads): each lead carries whether the list blocks it, whether it is new
/// to the campaign and whether it is in another
/// ([`Dialect::pg_enroll_tests`], as the selection add).
async fn enroll_keys_tested_pg(
    e: &impl Exec,
    ws: WorkspaceRef,
    to: Enrollment,
    keys: Vec<i64>,
    dnc: bool,
) -> Result<Enrolled> {
    let mut sql = e.sql("", membership_params(ws, to));
    let rows = sql.int_rows(keys, "j");
    let (columns, joins) = Dialect::pg_enroll_tests("$1", "$2", dnc, to.skip_other);
    let in_other = Dialect::pg_in_other_count(to.skip_other);
    sql.text = format!(
        r"with sel as materialized (
           select l.id, {columns} from {rows} cross join leads l {joins}
           where l.workspace_id = $1 and l.id = j.id),
         ins as (insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at)
           select $1, $2, id, $3, $4, $4 from sel where not blocked and not other
           order by id on conflict do nothing returning 1)
         select (select count(*) from ins), (select count(*) from sel where blocked and fresh),
           {in_other}"
    );
    let mut row = e.query_one(&sql).await?;
    Ok(Enrolled {
        added: row.i64(0)? as u64,
        blocked: row.i64(1)? as u64,
        in_other: row.i64(2)? as u64,
    })
}

/// Adds every lead a filter or select-all names, less the exclusions.
pub async fn add_selection(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaign: ObjectId,
    selection: &Selection,
    options: AddOptions,
) -> Result<SelectionOutcome> {
    let to = open_campaign(e, ws, campaign, options).await?;
    serialize_skip_other(e, ws, to).await?;
    let added = Added::to(campaign, to);
    let dnc = dnc::any(e, ws).await?;
    let outcome = e.enroll_selection(ws, to, selection, dnc).await?;
    MemberDeltas::default()
        .add(to.campaign_key, to.status.as_str(), outcome.added as i64)
        .apply(e, ws)
        .await?;
    let mode = if selection.filter.is_some() {
        "filters"
    } else {
        "all"
    };
    let counts = json!({
        "matched": outcome.matched,
        "added": outcome.added,
        "blocked": outcome.blocked,
        "inOtherCampaign": outcome.in_other,
    });
    let told = added.event(e, ws, mode, counts).await?;
    events::record(e, ws, told).await?;
    Ok(outcome)
}

/// Moves (or copies) members of one campaign to another: the target's
/// rules apply (its members and do-not-contact list are skipped), the
/// moved memberships leave the source unless `m.copy`. The caller's one
/// transaction; a dry run rolls it back.
pub async fn move_leads(
    e: &impl Exec,
    ws: WorkspaceRef,
    from: ObjectId,
    m: &Move,
    dry_run: bool,
) -> Result<MoveOutcome> {
    // The two campaigns are locked in key order (the source for update:
    // moves out of one campaign take turns; the target for share, as an
    // add takes it), so two moves in opposite directions never deadlock.
    let open_source = async || {
        let source = find(e, ws, from, true).await?;
        if source.status == CampaignStatus::Archived {
            return Err(StoreError::Conflict(
                "Campaign is archived; its leads cannot be moved".into(),
            ));
        }
        Ok(source)
    };
    let rules = AddOptions {
        skip_if_in_other_campaign: Some(false),
        explain: false,
    };
    let open_target = async || {
        open_campaign(e, ws, m.to, rules)
            .await
            .map_err(|err| match err {
                StoreError::NotFound(_) => StoreError::NotFound("Target campaign not found"),
                StoreError::Conflict(_) => StoreError::Conflict(
                    "The target campaign is archived; leads cannot be moved to it".into(),
                ),
                err => err,
            })
    };
    let (source, to) = if from.key < m.to.key {
        let source = open_source().await?;
        (source, open_target().await?)
    } else {
        let to = open_target().await?;
        (open_source().await?, to)
    };
    let d = e.dialect();
    let made = Added::to(m.to, to);
    let dnc = dnc::any(e, ws).await?;
    // The selected members of the source (aliased `s`) and their leads
    // (`l`); `head` writes what comes before `from` (a `select` list, or
    // an insert), given the statement and the placeholders of the
    // workspace and the target. (The target's key is always used, as
    // SQLite wants of every parameter: the source is not the target.)
    let selected = |head: &dyn Fn(&mut Sql, &str, &str) -> String| {
        let mut sql = Sql::new(d);
        let w = sql.param(ws.key);
        let src = sql.param(source.key);
        let ck = sql.param(to.campaign_key);
        let head = head(&mut sql, &w, &ck);
        sql.push(&format!(
            "{head} from campaign_leads s join leads l on l.workspace_id = s.workspace_id and l.id = s.lead_id
             where s.workspace_id = {w} and s.campaign_id = {src} and s.campaign_id <> {ck}
               and l.workspace_id = {w}"
        ));
        match &m.leads {
            MoveLeads::Ids(ids) => {
                let c = sql.id_in(("leads", "l"), "created_at", ids, false);
                sql.push(&format!(" and {c}"));
            }
            MoveLeads::All(selection) => {
                if let Some(f) = &selection.filter {
                    sql.lead_filter(f, &w);
                }
                if !selection.exclude.is_empty() {
                    let c = sql.id_in(("leads", "l"), "created_at", &selection.exclude, true);
                    sql.push(&format!(" and {c}"));
                }
                if let Some((lo, hi)) = selection.keys {
                    let (lo, hi) = (sql.param(lo), sql.param(hi));
                    sql.push(&format!(" and l.id > {lo} and l.id <= {hi}"));
                }
            }
        }
        (sql, w, ck)
    };
    let select =
        |columns: &'static str| move |_: &mut Sql, _: &str, _: &str| format!("select {columns}");
    let reasoned = |reason: Reason, columns: &'static str, tail: &str| {
        let (mut sql, w, ck) = selected(&select(columns));
        sql.push(&format!(" and {}{tail}", reason.test(d, &w, &ck, dnc)));
        sql
    };
    let mut outcome = MoveOutcome {
        matched: e.query_i64(&selected(&select("count(*)")).0).await? as u64,
        ..Default::default()
    };
    if dnc {
        outcome.blocked = e
            .query_i64(&reasoned(Reason::Blocked, "count(*)", ""))
            .await? as u64;
    }
    if m.explain {
        // (`to.skip_other` is off: a move does not test other campaigns.)
        let of = |reason: Reason| reasoned(reason, EXAMPLE_COLUMNS, EXAMPLE_ORDER);
        outcome.examples = Some(examples_of(e, ws, to, dnc, of).await?);
    }
    // The insert answers each new membership's lead and status.
    let insert_head = |sql: &mut Sql, w: &str, ck: &str| {
        let status = if m.keep_status {
            "s.status".to_owned()
        } else {
            sql.param(to.status.as_str())
        };
        let at = sql.param(to.now);
        format!(
            r"insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at)
             select {w}, {ck}, l.id, {status}, {at}, {at}"
        )
    };
    let (mut insert, w, ck) = selected(&insert_head);
    let passes = if dnc {
        format!(" and {}", d.not_on_dnc(&w))
    } else {
        String::new()
    };
    let conflict = match d {
        Dialect::Sqlite => "(campaign_id, lead_id)",
        Dialect::Postgres => "(workspace_id, campaign_id, lead_id)",
    };
    insert.push(&format!(
        r" and {}{passes} order by l.id on conflict {conflict} do nothing returning lead_id, status",
        Dialect::not_member(&ck)
    ));
    let rows = e.query(&insert).await?;
    let mut added = Vec::with_capacity(rows.len());
    let mut statuses = Vec::with_capacity(rows.len());
    for mut r in rows {
        added.push(r.i64(0)?);
        statuses.push((to.campaign_key, r.text(1)?));
    }
    outcome.moved = added.len() as u64;
    let mut deltas = MemberDeltas::default();
    for (campaign, status, n) in exec::tally(statuses) {
        deltas.add(campaign, &status, n);
    }
    if !m.copy && !added.is_empty() {
        let mut remove = e.sql(
            "delete from campaign_leads as cl where cl.workspace_id = ?1 and cl.campaign_id = ?2 and ",
            vec![ws.key.into(), source.key.into()],
        );
        let c = remove.in_list("cl.lead_id", added, false);
        remove.push(&c);
        deltas.removed(e.delete_members(&remove).await?);
    }
    deltas.apply(e, ws).await?;
    if !dry_run {
        let counts = json!({
            "fromCampaignId": from.to_string(),
            "matched": outcome.matched,
            "added": outcome.moved,
            "blocked": outcome.blocked,
        });
        let mode = if m.copy { "copy" } else { "move" };
        events::record(e, ws, made.event(e, ws, mode, counts).await?).await?;
    }
    Ok(outcome)
}

/// What adding a selection would do, counted without writing: the dry run
/// of [`add_selection`]. It reads what the insert would (the selection, its
/// memberships, the do-not-contact list), so an engine may run it on a read
/// connection: on SQLite it then never waits for, or holds up, the writer.
pub async fn preview_selection(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaign: ObjectId,
    selection: &Selection,
    options: AddOptions,
) -> Result<SelectionOutcome> {
    let to = open_campaign(e, ws, campaign, options).await?;
    // The selection and how many of it are not members yet...
    let mut sql = selection_sql(e.dialect(), ws, selection);
    let ck = sql.param(to.campaign_key);
    sql.text = format!(
        r"select count(*), count(*) filter (where cl.id is null) from leads l
         left join campaign_leads cl on cl.workspace_id = l.workspace_id and cl.campaign_id = {ck}
           and cl.lead_id = l.id
         where {where_}",
        where_ = sql.text
    );
    let mut row = e.query_one(&sql).await?;
    let matched = row.i64(0)? as u64;
    let new = row.i64(1)? as u64;
    // ...and of those, how many the do-not-contact list blocks, and how
    // many of the rest are in other campaigns. (A statement each, every
    // test in a `where`: Citus routes each whole to the workspace's shard,
    // which it does not for a subquery counted in the select list.)
    let dnc = dnc::any(e, ws).await?;
    let d = e.dialect();
    let reasoned = |reason: Reason, select: &str, tail: &str| {
        let mut sql = selection_sql(d, ws, selection);
        let ck = sql.param(to.campaign_key);
        let w = sql.placeholder(1);
        sql.text = format!(
            "select {select} from leads l where {} and {}{tail}",
            sql.text,
            reason.test(d, &w, &ck, dnc)
        );
        sql
    };
    let blocked = if dnc {
        e.query_i64(&reasoned(Reason::Blocked, "count(*)", ""))
            .await? as u64
    } else {
        0
    };
    let in_other = if to.skip_other {
        e.query_i64(&reasoned(Reason::InOther, "count(*)", ""))
            .await? as u64
    } else {
        0
    };
    let examples = if options.explain {
        let of = |reason: Reason| reasoned(reason, EXAMPLE_COLUMNS, EXAMPLE_ORDER);
        Some(examples_of(e, ws, to, dnc, of).await?)
    } else {
        None
    };
    Ok(SelectionOutcome {
        matched,
        // Statements may see different states on PostgreSQL (read
        // committed): a dry run is a forecast, never a negative one.
        added: new.saturating_sub(blocked + in_other),
        blocked,
        in_other,
        examples,
    })
}

/// Why a lead is not added, in order of precedence: each test (on a lead
/// aliased `l`) leaves out the leads of the reasons before it.
#[derive(Clone, Copy, Debug)]
enum Reason {
    /// A member of the campaign already.
    Already,
    /// On the do-not-contact list.
    Blocked,
    /// Pending, active or paused in another campaign.
    InOther,
}

impl Reason {
    /// The test, with the placeholders of the workspace `w` and the
    /// campaign `ck`; `dnc`: the workspace has a do-not-contact list.
    fn test(self, d: Dialect, w: &str, ck: &str, dnc: bool) -> String {
        let fresh = Dialect::not_member(ck);
        match self {
            Reason::Already => Dialect::member(ck),
            Reason::Blocked => format!("{fresh} and {}", d.on_dnc(w)),
            Reason::InOther if dnc => format!(
                "{fresh} and {} and {}",
                d.not_on_dnc(w),
                d.in_other_campaign(w, ck)
            ),
            Reason::InOther => format!("{fresh} and {}", d.in_other_campaign(w, ck)),
        }
    }
}

/// The columns and the tail of a statement that names example leads.
const EXAMPLE_COLUMNS: &str = "l.id, l.created_at";
const EXAMPLE_ORDER: &str = " order by l.id limit 100";
const _: () = assert!(MAX_EXAMPLES == 100, "EXAMPLE_ORDER says 100");

/// The leads a statement selects with [`EXAMPLE_COLUMNS`], as IDs.
async fn example_leads(e: &impl Exec, sql: &Sql) -> Result<Vec<ObjectId>> {
    e.query(sql)
        .await?
        .into_iter()
        .map(|mut r| Ok(ObjectId::new(r.i64(0)?, r.i64(1)?)))
        .collect()
}

/// Each of `leads` with one campaign other than `campaign_key` it is
/// pending, active or paused in (the oldest such campaign).
async fn with_other_campaign(
    e: &impl Exec,
    ws: WorkspaceRef,
    campaign_key: i64,
    leads: Vec<ObjectId>,
) -> Result<Vec<(ObjectId, ObjectId)>> {
    if leads.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = e.sql(
        r"select o.lead_id, c.id, c.created_at from campaign_leads o
         join campaigns c on c.workspace_id = o.workspace_id and c.id = o.campaign_id
         where o.workspace_id = ?1 and o.campaign_id <> ?2
           and o.status in ('pending', 'active', 'paused') and ",
        vec![ws.key.into(), campaign_key.into()],
    );
    let c = sql.in_list(
        "o.lead_id",
        leads.iter().map(|l| l.key).collect::<Vec<_>>(),
        false,
    );
    sql.push(&format!("{c} order by o.lead_id, c.id"));
    let mut other = HashMap::new();
    for mut r in e.query(&sql).await? {
        let lead = r.i64(0)?;
        let campaign = ObjectId::new(r.i64(1)?, r.i64(2)?);
        other.entry(lead).or_insert(campaign);
    }
    Ok(leads
        .into_iter()
        .filter_map(|l| other.get(&l.key).map(|c| (l, *c)))
        .collect())
}

/// The explained dry run of an explicit add, before its insert: example
/// leads of each reason among `keys` (the named leads, each once), and
/// the leads named again by later entries (`repeats`) among those already
/// in the campaign.
async fn explain_keys(
    e: &impl Exec,
    ws: WorkspaceRef,
    to: Enrollment,
    keys: &[i64],
    repeats: &[i64],
    dnc: bool,
) -> Result<Examples> {
    let d = e.dialect();
    let of = |reason: Reason| {
        let mut sql = e.sql(
            &format!("select {EXAMPLE_COLUMNS} from "),
            vec![ws.key.into(), to.campaign_key.into()],
        );
        let rows = sql.int_rows(keys.to_vec(), "j");
        sql.push(&format!(
            "{rows} cross join leads l where l.workspace_id = ?1 and l.id = j.id and {}{EXAMPLE_ORDER}",
            reason.test(d, "?1", "?2", dnc)
        ));
        sql
    };
    let mut examples = examples_of(e, ws, to, dnc, of).await?;
    if !repeats.is_empty() {
        let created = leads::created_at_by_key(e, ws, repeats).await?;
        let already = &mut examples.already_in_campaign;
        already.extend(
            repeats
                .iter()
                .filter_map(|k| created.get(k).map(|c| ObjectId::new(*k, *c))),
        );
        already.sort_by_key(|l| l.key);
        already.dedup();
        already.truncate(MAX_EXAMPLES);
    }
    Ok(examples)
}

/// Example leads of each reason that applies (the do-not-contact list when
/// `dnc`, other campaigns when `to.skip_other`), `of` writing the statement
/// that selects a reason's leads with [`EXAMPLE_COLUMNS`].
async fn examples_of(
    e: &impl Exec,
    ws: WorkspaceRef,
    to: Enrollment,
    dnc: bool,
    of: impl Fn(Reason) -> Sql,
) -> Result<Examples> {
    Ok(Examples {
        already_in_campaign: example_leads(e, &of(Reason::Already)).await?,
        blocked: if dnc {
            example_leads(e, &of(Reason::Blocked)).await?
        } else {
            Vec::new()
        },
        in_other_campaign: if to.skip_other {
            let leads = example_leads(e, &of(Reason::InOther)).await?;
            with_other_campaign(e, ws, to.campaign_key, leads).await?
        } else {
            Vec::new()
        },
    })
}

/// A CSV import: creates or updates the file's leads and, with a campaign,
/// adds every one of them to it, in the caller's one transaction. A missing
/// or archived campaign fails before any work.
pub async fn import(
    e: &impl Exec,
    ws: WorkspaceRef,
    input: Vec<(Email, LeadFields)>,
    skip_duplicates: bool,
    tag: Option<&str>,
    campaign: Option<ObjectId>,
    options: AddOptions,
) -> Result<ImportOutcome> {
    let (outcome, done) =
        import_rows(e, ws, input, skip_duplicates, tag, campaign, options).await?;
    events::record(e, ws, vec![Event::new(EventType::ImportCompleted, done)]).await?;
    Ok(outcome)
}

/// Imports rows of a file (all of them, or an asynchronous import's
/// chunk) and records their events, but for `import.completed`: returns
/// the outcome and that event's data.
pub async fn import_rows(
    e: &impl Exec,
    ws: WorkspaceRef,
    input: Vec<(Email, LeadFields)>,
    skip_duplicates: bool,
    tag: Option<&str>,
    campaign: Option<ObjectId>,
    options: AddOptions,
) -> Result<(ImportOutcome, Value)> {
    if let Some(id) = campaign {
        open_campaign(e, ws, id, options).await?;
    }
    let entries = campaign.map(|_| email_entries(&input));
    let rows = input.len();
    let (bulk, mut told) = leads::upsert(e, ws, input, skip_duplicates, tag).await?;
    let mut done = json!({
        "leads": rows,
        "imported": bulk.imported.len(),
        "updated": bulk.updated,
        "skipped": bulk.skipped,
    });
    let campaign = match (campaign, entries) {
        (Some(id), Some(entries)) => {
            let (outcome, added, _) = explicit(e, ws, id, entries, options).await?;
            let counts = explicit_counts(&outcome);
            done["campaignId"] = id.to_string().into();
            done["campaign"] = counts.clone();
            told.extend(added.event(e, ws, "import", counts).await?);
            Some(outcome)
        }
        _ => None,
    };
    events::record(e, ws, told).await?;
    Ok((ImportOutcome { bulk, campaign }, done))
}
