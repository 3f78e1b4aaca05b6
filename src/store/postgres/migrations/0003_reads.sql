-- Reads at scale: counts kept as rows change, and an index for each list
-- filter, so that a list page or a count reads what it answers with, not
-- every lead of the workspace. pg_trgm and btree_gin ship with PostgreSQL
-- (contrib) and are trusted: a database owner may create them.
create extension if not exists pg_trgm;
create extension if not exists btree_gin;

-- A campaign's members by status, and a workspace's leads: every write that
-- changes them adds its difference here, in its own transaction
-- (src/store/counts.rs), to one of 16 rows per count chosen by its
-- connection, so that concurrent writers rarely wait on the same row.
create table campaign_counts (
    workspace_id bigint not null,
    campaign_id bigint not null,
    status text not null,
    slot int not null,
    n bigint not null,
    primary key (workspace_id, campaign_id, status, slot)
);

create table lead_totals (
    workspace_id bigint not null,
    slot int not null,
    n bigint not null,
    primary key (workspace_id, slot)
);

insert into campaign_counts (workspace_id, campaign_id, status, slot, n)
select workspace_id, campaign_id, status, 0, count(*) from campaign_leads
group by workspace_id, campaign_id, status;

insert into lead_totals (workspace_id, slot, n)
select workspace_id, 0, count(*) from leads group by workspace_id;

-- A campaign's members newest first, all or of one status; a lead's
-- memberships.
create index campaign_leads_campaign on campaign_leads (workspace_id, campaign_id, id);
drop index campaign_leads_status;
create index campaign_leads_status on campaign_leads (workspace_id, campaign_id, status, id);
create index campaign_leads_lead on campaign_leads (workspace_id, lead_id);

-- The list filters, each ending with the key so a page of one value reads
-- in key order.
create index leads_country on leads (workspace_id, country, id);
create index leads_verification on leads (workspace_id, email_verification_result, id);
create index leads_created on leads (workspace_id, created_at);
create index leads_tags on leads using gin (workspace_id, tags);

-- Substring search: trigrams of the searched fields together (the query
-- still tests each field, so the answer is exact).
create index leads_search on leads using gin (workspace_id,
    (email_key || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(company_name, '')) gin_trgm_ops);
