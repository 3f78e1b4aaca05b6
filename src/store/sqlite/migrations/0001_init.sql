-- Users, workspaces and keys.
create table users (
    id integer primary key,
    email text not null,
    email_key text not null unique,
    created_at integer not null
);

create table workspaces (
    id integer primary key,
    name text not null,
    created_at integer not null,
    updated_at integer not null
);

create table workspace_members (
    workspace_id integer not null,
    user_id integer not null,
    role text not null check (role in ('owner', 'member')),
    primary key (workspace_id, user_id)
) without rowid;
create index workspace_members_user on workspace_members (user_id);

-- Keys are stored only as SHA-256 hashes. A platform key names a user; a
-- workspace key names a workspace.
create table api_keys (
    id integer primary key,
    key_hash blob not null unique,
    user_id integer,
    workspace_id integer,
    created_at integer not null,
    revoked_at integer,
    check ((user_id is null) <> (workspace_id is null))
);

-- Leads: the integer key is the storage identity; `_id` is derived from it.
-- `email_key` is the lower-cased address, unique per workspace.
create table leads (
    id integer primary key,
    workspace_id integer not null,
    email text not null,
    email_key text not null,
    first_name text,
    last_name text,
    company_name text,
    job_title text,
    phone text,
    linkedin_url text,
    city text,
    state text,
    country text,
    tags text not null default '[]',
    custom_fields text not null default '{}',
    email_verification_result text,
    created_at integer not null,
    updated_at integer not null
);
create unique index leads_workspace_email on leads (workspace_id, email_key);
create index leads_workspace on leads (workspace_id);

create table campaigns (
    id integer primary key,
    workspace_id integer not null,
    name text not null,
    status text not null,
    sequence text not null,
    schedule text not null,
    settings text not null,
    started_at integer,
    completed_at integer,
    created_at integer not null,
    updated_at integer not null
);
create index campaigns_workspace on campaigns (workspace_id);

-- Membership of a lead in a campaign. A compact integer key keeps the
-- million-row select-all cheap; (campaign_id, lead_id) is the uniqueness rule.
create table campaign_leads (
    id integer primary key,
    workspace_id integer not null,
    campaign_id integer not null,
    lead_id integer not null,
    status text not null,
    added_at integer not null,
    updated_at integer not null
);
create unique index campaign_leads_member on campaign_leads (campaign_id, lead_id);
create index campaign_leads_status on campaign_leads (campaign_id, status);

create table dnc_entries (
    id integer primary key,
    workspace_id integer not null,
    kind text not null check (kind in ('email', 'domain')),
    value text not null,
    created_at integer not null
);
create unique index dnc_entries_value on dnc_entries (workspace_id, kind, value);
