//! The search index (FTS5, migration 0003) is written once per commit.
//!
//! FTS5 writes what it has gathered as a new index segment at every
//! savepoint, and the writer runs each request in one, so triggers that
//! indexed each lead as it was written made a segment (and soon a merge)
//! per request: a 10-lead add spent more on its search entries than on
//! everything else (P5, BENCHMARKS.md). The triggers (migration 0004) now
//! only note the leads the index must catch up with, and [`catch_up`]
//! indexes them all at once, in the same transaction, before the writer
//! commits. Committed states therefore always have an index that is up to
//! date, so readers never look at the notes; a statement on the writer
//! that searches catches up first ([`reads_index`]), so it sees the writes
//! made before it in the same transaction.

use rusqlite::Connection;

/// Whether a statement reads the search index (as `Sql::search` writes it).
pub(super) fn reads_index(sql: &str) -> bool {
    sql.contains(crate::store::sql::SQLITE_SEARCH_INDEX_READ)
}

/// Indexes the leads noted since the last catch-up: drops the entries of
/// those updated or deleted, adds the current version of each that exists,
/// and forgets the notes. A read connection has nothing to catch up with
/// (committed states have no notes), and cannot write: it does nothing.
pub fn catch_up(conn: &Connection) -> rusqlite::Result<()> {
    let noted: bool = conn
        .prepare_cached("select exists (select 1 from leads_search_pending)")?
        .query_row([], |r| r.get(0))?;
    if !noted || conn.pragma_query_value(None, "query_only", |r| r.get::<_, bool>(0))? {
        return Ok(());
    }
    // All or nothing, also where no transaction is open.
    conn.execute_batch("savepoint search_catch_up")?;
    let caught_up = index_noted(conn);
    if caught_up.is_err() {
        conn.execute_batch("rollback to search_catch_up")?;
    }
    conn.execute_batch("release search_catch_up")?;
    caught_up
}

fn index_noted(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "delete from leads_search where rowid in (select lead_id from leads_search_pending where indexed)",
    )?
    .execute([])?;
    conn.prepare_cached(
        r"insert into leads_search (rowid, email_key, first_name, last_name, company_name)
         select l.id, l.email_key, l.first_name, l.last_name, l.company_name
         from leads_search_pending p join leads l on l.id = p.lead_id",
    )?
    .execute([])?;
    conn.prepare_cached("delete from leads_search_pending")?
        .execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Conn, MIGRATIONS, exec, ready};
    use super::*;
    use crate::domain::filter::LeadFilter;
    use crate::store::sql::{Dialect, Sql};

    fn migrated() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        ready(exec::migrate(&Conn(&conn), MIGRATIONS)).unwrap();
        conn
    }

    fn add(conn: &Connection, id: i64, email: &str, company: &str) {
        conn.execute(
            "insert into leads (id, workspace_id, email, email_key, company_name, created_at, updated_at)
             values (?1, 1, ?2, ?2, ?3, 0, 0)",
            rusqlite::params![id, email, company],
        )
        .unwrap();
    }

    /// The leads the index finds for a word, and how many notes wait.
    fn found(conn: &Connection, word: &str) -> (Vec<i64>, i64) {
        let ids = conn
            .prepare("select rowid from leads_search where leads_search match ?1 order by rowid")
            .unwrap()
            .query_map([crate::store::sql::trigrams_query(word)], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<i64>>>()
            .unwrap();
        (ids, notes(conn))
    }

    fn notes(conn: &Connection) -> i64 {
        conn.query_row("select count(*) from leads_search_pending", [], |r| {
            r.get(0)
        })
        .unwrap()
    }

    #[test]
    fn the_index_catches_up_with_creates_updates_and_deletes_at_once() {
        let conn = migrated();
        conn.execute_batch("begin").unwrap();
        add(&conn, 1, "ann@mail.example", "Acme");
        add(&conn, 2, "bob@mail.example", "Acme");
        add(&conn, 3, "cy@mail.example", "Zeta");
        assert_eq!(found(&conn, "acme"), (vec![], 3), "noted, not indexed yet");
        catch_up(&conn).unwrap();
        conn.execute_batch("commit").unwrap();
        assert_eq!(found(&conn, "acme"), (vec![1, 2], 0));

        conn.execute_batch("begin").unwrap();
        conn.execute("update leads set company_name = 'Zeta' where id = 2", [])
            .unwrap();
        conn.execute("update leads set city = 'Paris' where id = 1", [])
            .unwrap();
        conn.execute("delete from leads where id = 3", []).unwrap();
        // Created, renamed and deleted within one transaction.
        add(&conn, 4, "dee@mail.example", "Acme");
        conn.execute("update leads set company_name = 'Zeta' where id = 4", [])
            .unwrap();
        add(&conn, 5, "eve@mail.example", "Acme");
        conn.execute("delete from leads where id = 5", []).unwrap();
        assert_eq!(notes(&conn), 4, "a note per searched change (2, 3, 4, 5)");
        catch_up(&conn).unwrap();
        conn.execute_batch("commit").unwrap();
        assert_eq!(found(&conn, "acme"), (vec![1], 0));
        assert_eq!(found(&conn, "zeta"), (vec![2, 4], 0));
        let entries: i64 = conn
            .query_row("select count(*) from leads_search", [], |r| r.get(0))
            .unwrap();
        assert_eq!(entries, 3, "one entry per lead, none for the deleted");
    }

    #[test]
    fn a_search_on_the_writer_sees_the_leads_written_before_it_in_its_transaction() {
        let conn = migrated();
        conn.execute_batch("begin immediate; savepoint request")
            .unwrap();
        add(&conn, 1, "ann@mail.example", "Acme");
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("select l.id from leads l where l.workspace_id = 1");
        sql.lead_filter(
            &LeadFilter {
                search: Some("acme".into()),
                ..Default::default()
            },
            "1",
        );
        assert!(reads_index(&sql.text), "{}", sql.text);
        let rows = ready(exec::Exec::query(&Conn(&conn), &sql)).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(found(&conn, "acme"), (vec![1], 0));
        // Rolled back with the request: the lead and its entry both go.
        conn.execute_batch("rollback to request; release request; commit")
            .unwrap();
        assert_eq!(found(&conn, "acme"), (vec![], 0));
    }

    #[test]
    fn a_read_connection_leaves_the_notes_of_another_program_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).unwrap();
        ready(exec::migrate(&Conn(&conn), MIGRATIONS)).unwrap();
        add(&conn, 1, "ann@mail.example", "Acme");
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("pragma query_only = 1").unwrap();
        catch_up(&reader).unwrap();
        assert_eq!(found(&conn, "acme"), (vec![], 1));
        catch_up(&conn).unwrap();
        assert_eq!(found(&conn, "acme"), (vec![1], 0));
    }
}
