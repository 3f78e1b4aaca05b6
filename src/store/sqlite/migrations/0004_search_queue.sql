-- The search index is brought up to date once per commit instead of with
-- each row. FTS5 writes its pending entries out as a new index segment at
-- every savepoint, and every write request runs in one (the writer commits
-- requests in groups), so indexing a 10-lead add row by row cost more than
-- the rest of the request (src/store/sqlite/search.rs).
--
-- The triggers note which leads the index must catch up with; `indexed` is
-- 1 when the index holds an earlier version of the lead (it was updated or
-- deleted, and was not created in the same transaction).
create table leads_search_pending (
    lead_id integer primary key,
    indexed integer not null
);

drop trigger leads_search_insert;
drop trigger leads_search_update;
drop trigger leads_search_delete;

create trigger leads_search_insert after insert on leads begin
    insert or ignore into leads_search_pending (lead_id, indexed) values (new.id, 0); end;

create trigger leads_search_update after update of email_key, first_name, last_name, company_name on leads
when old.email_key is not new.email_key or old.first_name is not new.first_name
  or old.last_name is not new.last_name or old.company_name is not new.company_name begin
    insert or ignore into leads_search_pending (lead_id, indexed) values (old.id, 1); end;

create trigger leads_search_delete after delete on leads begin
    insert or ignore into leads_search_pending (lead_id, indexed) values (old.id, 1); end;
