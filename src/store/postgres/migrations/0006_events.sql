-- The event log (issue 17): every change worth telling, written in the
-- transaction that makes it. A workspace's events are numbered 1, 2, 3 …
-- by its counter row, which each writing transaction increments last, just
-- before it commits. The row stays locked until the commit, so the next
-- transaction of the workspace takes the next number only after this one
-- is visible: the numbers follow commit order, with no gaps (a sequence's
-- would not: its numbers are taken in start order).
create table event_counters (
    workspace_id bigint primary key,
    last bigint not null
);
create table events (
    workspace_id bigint not null,
    seq bigint not null,
    type text not null,
    data jsonb not null,
    created_at bigint not null,
    primary key (workspace_id, seq)
);
-- Retention removes the oldest events of every workspace.
create index events_created on events (created_at);
