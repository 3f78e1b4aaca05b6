-- Background jobs (issue 17): work too large for one request, done in
-- chunks of one transaction each. `cursor` is the last lead key done, and
-- `result` the counts so far, both written in each chunk's transaction: a
-- job that resumes after a crash starts after its last whole chunk and
-- counts each lead once.
create table jobs (
    id integer primary key,
    workspace_id integer not null,
    kind text not null,
    -- queued, running, succeeded, failed or cancelled.
    status text not null,
    params text not null,
    cursor integer not null,
    done integer not null,
    total integer,
    result text not null,
    error text,
    -- A runner has it until then (a runner that died lets it go).
    lease_until integer,
    created_at integer not null,
    started_at integer,
    finished_at integer,
    updated_at integer not null
);
create index jobs_workspace on jobs (workspace_id, id);
create index jobs_open on jobs (workspace_id, status) where status in ('queued', 'running');
