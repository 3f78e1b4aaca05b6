//! Background jobs.

use serde::Serialize;
use utoipa::ToSchema;

use super::{AddSelectionResult, DeletedCount, ImportResult, MoveLeadsResult};
use crate::domain::format_time;
use crate::store::jobs::{DELETE_LEADS, IMPORT_LEADS, JobRow, MOVE_LEADS};

/// A finished job's answer: the synchronous call's.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum JobResult {
    /// `campaign.add_leads`.
    Added(AddSelectionResult),
    /// `leads.delete`.
    Deleted(DeletedCount),
    /// `campaign.move_leads`.
    Moved(MoveLeadsResult),
    /// `leads.import`.
    Imported(ImportResult),
}

/// Work run in the background, in chunks.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    #[serde(rename = "_id")]
    pub id: String,
    /// What it does: `campaign.add_leads`, `campaign.move_leads`,
    /// `leads.delete` or `leads.import`.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = JobStatus)]
    pub status: String,
    pub progress: JobProgress,
    /// On success: the answer the synchronous call gives. Null before.
    pub data: Option<JobResult>,
    /// Why it failed.
    pub error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
}

/// A job's status.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Serialize, ToSchema)]
pub struct JobProgress {
    /// Leads (an import's rows) done so far, in whole chunks.
    pub done: i64,
    /// Leads the selection held when the job started (an import's distinct
    /// valid rows); null before.
    pub total: Option<i64>,
}

impl Job {
    pub fn new(j: &JobRow) -> Self {
        Job {
            id: j.id().to_string(),
            kind: j.kind.clone(),
            status: j.status.clone(),
            progress: JobProgress {
                done: j.done,
                total: j.total,
            },
            data: (j.status == "succeeded").then(|| match j.kind.as_str() {
                DELETE_LEADS => JobResult::Deleted(DeletedCount {
                    deleted_count: j.deleted(),
                }),
                MOVE_LEADS => {
                    let (outcome, copy) = j.moved();
                    JobResult::Moved(MoveLeadsResult::of(&outcome, copy))
                }
                IMPORT_LEADS => JobResult::Imported(ImportResult::of_job(j.imported())),
                _ => JobResult::Added(AddSelectionResult::of(&j.outcome())),
            }),
            error: j.error.clone(),
            created_at: format_time(j.created_at),
            started_at: j.started_at.map(format_time),
            finished_at: j.finished_at.map(format_time),
        }
    }
}
