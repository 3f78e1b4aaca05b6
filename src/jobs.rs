//! The job runner every server runs: it claims waiting jobs (at most
//! `per_workspace` running per workspace, `runners` in this process) and
//! does each in chunks, one transaction each (see `store::jobs`). A job
//! whose runner died is claimed again once its lease lapses and goes on
//! from its last whole chunk.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::domain::now_ms;
use crate::store::jobs::{JobRow, Step};
use crate::store::{Storage, StoreError};

/// How jobs run.
#[derive(Clone, Debug)]
pub struct JobConfig {
    /// Jobs of one workspace running at once, over every server.
    pub per_workspace: usize,
    /// Jobs this process runs at once.
    pub runners: usize,
    /// Leads per chunk (one transaction each).
    pub chunk: usize,
    /// How long a runner holds a job between two chunks.
    pub lease: Duration,
    /// How often waiting jobs are looked for.
    pub poll: Duration,
    /// Tests only: a pause after each chunk.
    pub pause: Duration,
}

impl Default for JobConfig {
    fn default() -> Self {
        JobConfig {
            per_workspace: 2,
            runners: 4,
            chunk: 10_000,
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(500),
            pause: Duration::ZERO,
        }
    }
}

/// Starts the runner: it stops when the store is dropped.
pub fn start(store: Weak<dyn Storage>, config: JobConfig) {
    let slots = Arc::new(Semaphore::new(config.runners.max(1)));
    tokio::spawn(async move {
        let mut every = tokio::time::interval(config.poll);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(store) = store.upgrade() else {
                break;
            };
            if let Err(e) = claim_round(&store, &slots, &config).await {
                tracing::warn!(error = %e, "job round failed");
            }
        }
    });
}

/// Claims what this process has room for, each job on a task of its own.
async fn claim_round(
    store: &Arc<dyn Storage>,
    slots: &Arc<Semaphore>,
    config: &JobConfig,
) -> crate::store::Result<()> {
    let now = now_ms();
    for ws in store.jobs_waiting(now).await? {
        loop {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                return Ok(());
            };
            let lease_until = now_ms() + config.lease.as_millis() as i64;
            let Some(job) = store
                .claim_job(ws, now, lease_until, config.per_workspace)
                .await?
            else {
                break;
            };
            let (store, config) = (store.clone(), config.clone());
            tokio::spawn(async move {
                run(&*store, &job, &config).await;
                drop(slot);
            });
        }
    }
    Ok(())
}

/// Does the job's chunks until it finishes; an error that a retry cannot
/// mend (the campaign was deleted or archived) fails it.
async fn run(store: &dyn Storage, job: &JobRow, config: &JobConfig) {
    let (ws, id) = (job.workspace, job.id());
    loop {
        let lease_until = now_ms() + config.lease.as_millis() as i64;
        match store.job_step(ws, id, config.chunk, lease_until).await {
            Ok(Step::Done) => {
                if !config.pause.is_zero() {
                    tokio::time::sleep(config.pause).await;
                }
            }
            Ok(Step::Finished) => return,
            Err(StoreError::Busy | StoreError::Unavailable(_) | StoreError::StatementTimeout) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "job failed");
                if let Err(e) = store.fail_job(ws, id, &e.to_string()).await {
                    tracing::warn!(job = %id, error = %e, "could not record the job's failure");
                }
                return;
            }
        }
    }
}
