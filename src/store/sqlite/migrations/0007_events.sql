-- The event log (issue 17): every change worth telling, written in the
-- transaction that makes it, unnumbered (`seq` null). Numbering comes
-- after the commit, a workspace at a time under its counter row: each
-- round numbers the committed events not numbered yet, in the order they
-- were written, after the last number given. A number is given only once
-- every lower one is visible, so a reader that asks for the events after
-- the last number it saw misses none; and writers never wait for each
-- other to number theirs.
create table event_counters (
    workspace_id integer primary key,
    last integer not null
);
create table events (
    id integer primary key,
    workspace_id integer not null,
    seq integer,
    type text not null,
    data text not null,
    created_at integer not null
);
create unique index events_seq on events (workspace_id, seq);
create index events_unnumbered on events (workspace_id, id) where seq is null;
-- Retention removes the oldest events of every workspace.
create index events_created on events (created_at);
