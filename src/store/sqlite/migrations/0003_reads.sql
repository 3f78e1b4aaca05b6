-- Reads at scale: counts kept as rows change, and an index for each list
-- filter, so that a list page or a count reads what it answers with, not
-- every lead of the workspace.

-- A campaign's members by status, and a workspace's leads: every write that
-- changes them adds its difference here, in its own transaction
-- (src/store/counts.rs). `slot` spreads concurrent writers over rows on
-- engines with many writers; SQLite has one and always uses slot 0.
create table campaign_counts (
    workspace_id integer not null,
    campaign_id integer not null,
    status text not null,
    slot integer not null,
    n integer not null,
    primary key (workspace_id, campaign_id, status, slot)
) without rowid;

create table lead_totals (
    workspace_id integer not null,
    slot integer not null,
    n integer not null,
    primary key (workspace_id, slot)
) without rowid;

insert into campaign_counts (workspace_id, campaign_id, status, slot, n)
select workspace_id, campaign_id, status, 0, count(*) from campaign_leads
group by workspace_id, campaign_id, status;

insert into lead_totals (workspace_id, slot, n)
select workspace_id, 0, count(*) from leads group by workspace_id;

-- A campaign's members newest first (every index ends with the rowid, so
-- this one is in key order); a lead's memberships.
create index campaign_leads_campaign on campaign_leads (campaign_id);
create index campaign_leads_lead on campaign_leads (lead_id);

-- The list filters. (`leads_workspace` stays: it is the workspace's leads
-- in key order, which keyset pages read.)
create index leads_country on leads (workspace_id, country);
create index leads_verification on leads (workspace_id, email_verification_result);
create index leads_created on leads (workspace_id, created_at);

-- Tags as rows, kept by triggers from the JSON array on the lead.
create table lead_tags (
    workspace_id integer not null,
    tag text not null,
    lead_id integer not null,
    primary key (workspace_id, tag, lead_id)
) without rowid;

insert or ignore into lead_tags (workspace_id, tag, lead_id)
select l.workspace_id, t.value, l.id from leads l, json_each(l.tags) t;

create trigger leads_tags_insert after insert on leads when new.tags <> '[]' begin
    insert or ignore into lead_tags (workspace_id, tag, lead_id) select new.workspace_id, value, new.id from json_each(new.tags); end;

create trigger leads_tags_update after update of tags on leads when old.tags is not new.tags begin
    delete from lead_tags where workspace_id = old.workspace_id and lead_id = old.id and tag in (select value from json_each(old.tags)); insert or ignore into lead_tags (workspace_id, tag, lead_id) select new.workspace_id, value, new.id from json_each(new.tags); end;

create trigger leads_tags_delete after delete on leads when old.tags <> '[]' begin
    delete from lead_tags where workspace_id = old.workspace_id and lead_id = old.id and tag in (select value from json_each(old.tags)); end;

-- Substring search: a trigram index of the searched fields, by lead key.
-- Contentless and without positions (`detail = none`, 40% cheaper to write):
-- it answers "has every trigram of the needle", a superset that the query
-- then tests field by field (src/store/sql.rs, `search`).
create virtual table leads_search using fts5(
    email_key, first_name, last_name, company_name,
    content = '', contentless_delete = 1, tokenize = 'trigram', detail = none
);

insert into leads_search (rowid, email_key, first_name, last_name, company_name)
select id, email_key, first_name, last_name, company_name from leads;

create trigger leads_search_insert after insert on leads begin
    insert into leads_search (rowid, email_key, first_name, last_name, company_name) values (new.id, new.email_key, new.first_name, new.last_name, new.company_name); end;

create trigger leads_search_update after update of email_key, first_name, last_name, company_name on leads
when old.email_key is not new.email_key or old.first_name is not new.first_name
  or old.last_name is not new.last_name or old.company_name is not new.company_name begin
    delete from leads_search where rowid = old.id; insert into leads_search (rowid, email_key, first_name, last_name, company_name) values (new.id, new.email_key, new.first_name, new.last_name, new.company_name); end;

create trigger leads_search_delete after delete on leads begin
    delete from leads_search where rowid = old.id; end;
