-- The event log (issue 17): every change worth telling, written in the
-- transaction that makes it. A workspace's events are numbered 1, 2, 3 …
-- by its counter row, which each writing transaction increments last, just
-- before it commits: the numbers follow commit order, with no gaps.
create table event_counters (
    workspace_id integer primary key,
    last integer not null
);
create table events (
    workspace_id integer not null,
    seq integer not null,
    type text not null,
    data text not null,
    created_at integer not null,
    primary key (workspace_id, seq)
) without rowid;
-- Retention removes the oldest events of every workspace.
create index events_created on events (created_at);
