//! The writer thread: one connection that makes every write, in groups
//! committed together (see the engine's module comment), with a bound on
//! what may wait, dry runs taken one at a time between groups of writes,
//! and a time limit on each request's statements.

use std::collections::VecDeque;

use rusqlite::Connection;

use super::super::{Result, StoreError};

/// Virtual machine steps between two looks at the clock.
const PROGRESS_STEPS: std::ffi::c_int = 10_000;

/// Stops the statements `conn` runs from now on once `limit` has passed
/// (SQLite's progress handler: the statement fails with `SQLITE_INTERRUPT`).
pub(super) fn limit_statements(conn: &Connection, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    let _ = conn.progress_handler(
        PROGRESS_STEPS,
        Some(move || std::time::Instant::now() >= deadline),
    );
}

/// Lifts [`limit_statements`].
pub(super) fn unlimit_statements(conn: &Connection) {
    let _ = conn.progress_handler(0, None::<fn() -> bool>);
}

/// What the writer thread does for one request: run it inside the open
/// transaction, then, once the group's commit is known, answer it.
pub(super) type Job = Box<dyn FnOnce(&Connection) -> Answer + Send>;
pub(super) type Answer = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

/// Most requests committed together.
const GROUP: usize = 128;

/// Most writes waiting for the writer. Past it a write is refused at once
/// (503 with `Retry-After`) rather than queued behind minutes of work.
pub const WRITE_QUEUE: usize = 1024;

/// A job, whether it is a dry run (it writes nothing; an explicit add of
/// up to 5,000 entries, rolled back. A selection's dry run is a read, and
/// does not come here), and whether it is small (it changes a few pages:
/// one lead, a 10-lead add; not a selection, an import or a deletion of
/// many).
pub(super) struct Queued {
    pub(super) dry_run: bool,
    pub(super) small: bool,
    pub(super) job: Job,
}

/// Where a group's savepoint journals live. Each request's savepoint
/// journals every page it changes; SQLite keeps that journal in memory up to
/// 64 KiB and then moves it to a temporary file, where each page costs two
/// `pwrite` calls. A 10-lead add changes about that many pages, so most
/// spilled (P5: 3 journal pages written for each WAL page). Groups of small
/// jobs keep their journals in memory (`temp_store = memory`, under which
/// SQLite never spills); a group with a large job uses a file, as a
/// select-all's journal holds tens of MiB (kept in memory, it grew the
/// server by that much with each one).
fn journal_in_memory(conn: &Connection, group: &[Queued], now: &mut bool) {
    let small = group.iter().all(|q| q.small);
    if small != *now {
        let store = if small { "memory" } else { "default" };
        // Only refused inside a transaction, and none is open here.
        if conn
            .execute_batch(&format!("pragma temp_store = {store}"))
            .is_ok()
        {
            *now = small;
        }
    }
}

/// What the writer runs next, from the jobs waiting in order: a dry run on
/// its own, or the writes up to the next dry run, together. Right after a
/// dry run, the writes waiting go first (passing the dry runs queued before
/// them), so that one workspace's dry runs delay other requests' writes by
/// one dry run at most.
pub(super) fn next_group(
    waiting: &mut VecDeque<Queued>,
    after_dry_run: bool,
) -> (Vec<Queued>, bool) {
    let writes_waiting = waiting.iter().any(|q| !q.dry_run);
    if after_dry_run && writes_waiting {
        let mut group = Vec::new();
        let mut left = VecDeque::with_capacity(waiting.len());
        for q in waiting.drain(..) {
            if !q.dry_run && group.len() < GROUP {
                group.push(q);
            } else {
                left.push_back(q);
            }
        }
        *waiting = left;
        return (group, false);
    }
    match waiting.pop_front() {
        Some(q) if q.dry_run => (vec![q], true),
        Some(q) => {
            let mut group = vec![q];
            while group.len() < GROUP && waiting.front().is_some_and(|q| !q.dry_run) {
                group.extend(waiting.pop_front());
            }
            (group, false)
        }
        None => (Vec::new(), false),
    }
}

pub(super) fn writer_loop(conn: Connection, jobs: std::sync::mpsc::Receiver<Queued>) {
    let mut waiting = VecDeque::new();
    let mut after_dry_run = false;
    let mut in_memory = false;
    loop {
        if waiting.is_empty() {
            match jobs.recv() {
                Ok(q) => waiting.push_back(q),
                Err(_) => return,
            }
        }
        // Take what else waits, a group's worth at a time: the channel stays
        // the bound on waiting writes.
        while waiting.len() < 2 * GROUP {
            match jobs.try_recv() {
                Ok(q) => waiting.push_back(q),
                Err(_) => break,
            }
        }
        let (group, dry) = next_group(&mut waiting, after_dry_run);
        after_dry_run = dry;
        journal_in_memory(&conn, &group, &mut in_memory);
        // Without an outer transaction (BEGIN failed: another process holds
        // the lock past the busy timeout) each savepoint is its own
        // transaction, which is still correct, only slower.
        let begin = || conn.execute_batch("begin immediate").is_ok();
        let mut grouped = begin();
        let mut answers: Vec<Answer> = Vec::with_capacity(group.len());
        for Queued { job, .. } in group {
            let answer = job(&conn);
            if grouped && conn.is_autocommit() {
                // A write stopped by the statement time limit rolls back the
                // whole transaction, the group's earlier requests with it:
                // they are told their write did not happen (503, retry), and
                // the rest of the group gets a new transaction.
                for earlier in answers.drain(..) {
                    earlier(Err(
                        "rolled back with another request's stopped statement".into()
                    ));
                }
                answer(Ok(()));
                grouped = begin();
                continue;
            }
            answers.push(answer);
            if !grouped {
                // Committed on its own: its search entries go with it.
                let _ = super::search::catch_up(&conn);
            }
        }
        let committed = if grouped {
            super::search::catch_up(&conn)
                .and_then(|()| conn.execute_batch("commit"))
                .map_err(|e| {
                    let _ = conn.execute_batch("rollback");
                    e.to_string()
                })
        } else {
            Ok(())
        };
        for answer in answers {
            answer(committed.clone());
        }
    }
}

/// Runs `f` in a savepoint; keeps its writes when `keep` and it succeeded.
pub(super) fn in_savepoint<T>(
    conn: &Connection,
    keep: bool,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    conn.execute_batch("savepoint request")?;
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(StoreError::Internal(anyhow::anyhow!("a write panicked"))));
    match out {
        Ok(v) if keep => {
            conn.execute_batch("release request")?;
            Ok(v)
        }
        out => {
            // A statement stopped by the time limit may have rolled back
            // the whole transaction already, savepoint included.
            if !conn.is_autocommit() {
                conn.execute_batch("rollback to request; release request")?;
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn groups_of_small_jobs_keep_their_journals_in_memory_and_a_large_one_does_not() {
        let conn = Connection::open_in_memory().unwrap();
        let temp_store = || -> i64 {
            conn.query_row("pragma temp_store", [], |r| r.get(0))
                .unwrap()
        };
        let job = |small: bool| Queued {
            dry_run: false,
            small,
            job: Box::new(|_: &Connection| Box::new(|_| {})),
        };
        let mut in_memory = false;
        journal_in_memory(&conn, &[job(true), job(true)], &mut in_memory);
        assert_eq!((temp_store(), in_memory), (2, true), "memory");
        journal_in_memory(&conn, &[job(true), job(false)], &mut in_memory);
        assert_eq!((temp_store(), in_memory), (0, false), "SQLite's default");
        journal_in_memory(&conn, &[job(true)], &mut in_memory);
        assert_eq!((temp_store(), in_memory), (2, true));
    }

    #[test]
    fn a_dry_run_goes_alone_and_the_writes_waiting_pass_the_dry_runs_after_it() {
        let conn = Connection::open_in_memory().unwrap();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let queued = |name: &'static str, dry_run: bool| {
            let ran = ran.clone();
            let job: Job = Box::new(move |_: &Connection| {
                ran.lock().unwrap().push(name);
                Box::new(|_| {})
            });
            Queued {
                dry_run,
                small: true,
                job,
            }
        };
        let mut waiting: VecDeque<Queued> = [
            queued("w1", false),
            queued("w2", false),
            queued("d1", true),
            queued("d2", true),
            queued("w3", false),
            queued("d3", true),
            queued("w4", false),
        ]
        .into();
        let mut groups = Vec::new();
        let mut after_dry_run = false;
        while !waiting.is_empty() {
            let (group, dry) = next_group(&mut waiting, after_dry_run);
            after_dry_run = dry;
            ran.lock().unwrap().clear();
            for q in group {
                (q.job)(&conn)(Ok(()));
            }
            groups.push(ran.lock().unwrap().clone());
        }
        assert_eq!(
            groups,
            [
                vec!["w1", "w2"],
                vec!["d1"],
                vec!["w3", "w4"],
                vec!["d2"],
                vec!["d3"]
            ]
        );
    }
}
