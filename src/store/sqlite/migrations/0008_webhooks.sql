-- Webhooks (issue 17): endpoints that receive the event log, and each
-- event's delivery to each. `cursor` is the last event of the workspace
-- the endpoint's deliveries were made for; the dispatcher follows the
-- log from there (the log is gap-free, so nothing is skipped).
create table webhooks (
    id integer primary key,
    workspace_id integer not null,
    url text not null,
    -- JSON array of event types; empty: every type.
    events text not null,
    enabled integer not null,
    -- whsec_…: needed to sign every delivery, so kept as it is.
    secret text not null,
    cursor integer not null,
    failing_since integer,
    disabled_reason text,
    created_at integer not null,
    updated_at integer not null
);
create index webhooks_workspace on webhooks (workspace_id, id);
create table webhook_deliveries (
    id integer primary key,
    workspace_id integer not null,
    webhook_id integer not null,
    -- 0: a test message.
    event_seq integer not null,
    event_type text not null,
    -- pending, succeeded or failed.
    status text not null,
    attempts integer not null,
    next_attempt_at integer,
    -- A sender has it until then (a sender that died lets it go).
    lease_until integer,
    response_code integer,
    duration_ms integer,
    error text,
    created_at integer not null,
    updated_at integer not null
);
create index webhook_deliveries_webhook on webhook_deliveries (webhook_id, id);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
