//! Turns for heavy work: requests whose cost grows with the workspace (list
//! and search pages with their exact totals, filter and select-all adds and
//! their dry runs, bulk deletes and actions over a selection) run at most
//! `per_workspace` at a time per workspace; the others wait, in order, for
//! a turn (until the request's timeout).
//!
//! So one workspace firing select-all dry runs over a million leads from
//! many connections holds at most that many database connections and cores,
//! and another workspace's small requests find the rest free. The rate limit
//! bounds how many requests arrive; this bounds how many of the expensive
//! ones run at once. Small requests (one lead, an explicit add, a campaign)
//! never wait here.
//!
//! A workspace's entry lives while a request holds or waits for a turn, so
//! memory follows the workspaces at work now, not every workspace seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::store::WorkspaceRef;

/// The default: half the cores (at least one), so that one workspace's heavy
/// work leaves the other half to everyone else.
pub fn default_per_workspace() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .max(1)
}

pub struct Turns {
    per_workspace: usize,
    workspaces: Mutex<HashMap<i64, Arc<Semaphore>>>,
}

/// A turn held: heavy work of its workspace may run until it is dropped.
pub struct Turn {
    permit: Option<OwnedSemaphorePermit>,
    turns: Arc<Turns>,
    workspace: i64,
}

impl Turns {
    pub fn new(per_workspace: usize) -> Arc<Self> {
        Arc::new(Self {
            per_workspace: per_workspace.max(1),
            workspaces: Mutex::new(HashMap::new()),
        })
    }

    /// Waits for one of `ws`'s turns (in the order asked).
    pub async fn take(self: &Arc<Self>, ws: WorkspaceRef) -> Turn {
        let semaphore = self
            .lock()
            .entry(ws.key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_workspace)))
            .clone();
        // The semaphore is never closed, so acquiring only waits.
        let permit = semaphore.acquire_owned().await.ok();
        Turn {
            permit,
            turns: self.clone(),
            workspace: ws.key,
        }
    }

    /// How many workspaces have work holding or waiting for a turn.
    pub fn workspaces(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Semaphore>>> {
        self.workspaces.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut workspaces = self.turns.lock();
        // Nobody else holds or waits for this workspace's turns (each holds
        // a clone, taken under this lock): its entry goes.
        if workspaces
            .get(&self.workspace)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            workspaces.remove(&self.workspace);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ws(key: i64) -> WorkspaceRef {
        WorkspaceRef { key, created_at: 0 }
    }

    async fn waits(turn: impl Future<Output = Turn>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), turn)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn a_workspace_waits_for_its_own_turns_and_never_for_another_workspaces() {
        let turns = Turns::new(2);
        let a1 = turns.take(ws(1)).await;
        let _a2 = turns.take(ws(1)).await;
        assert!(waits(turns.take(ws(1))).await, "a third turn of A waits");
        assert!(!waits(turns.take(ws(2))).await, "B does not wait for A");
        let next = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take(ws(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !next.is_finished(),
            "A's next turn waits while two are held"
        );
        drop(a1);
        let a3 = tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("a released turn goes to the one waiting")
            .unwrap();
        drop(a3);
    }

    #[tokio::test]
    async fn a_workspace_with_no_work_keeps_no_entry() {
        let turns = Turns::new(1);
        let a = turns.take(ws(1)).await;
        let b = turns.take(ws(2)).await;
        assert_eq!(turns.workspaces(), 2);
        let waiting = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take(ws(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(a);
        let a_again = waiting.await.unwrap();
        assert_eq!(turns.workspaces(), 2, "A's waiting request keeps its entry");
        drop(b);
        drop(a_again);
        assert_eq!(turns.workspaces(), 0);
    }
}
