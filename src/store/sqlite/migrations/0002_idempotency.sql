-- Idempotency-Key: the first answer to (credential, key), replayed for 24 hours.
create table idempotency_keys (
    credential blob not null,      -- SHA-256 of the API key
    key text not null,             -- the client's Idempotency-Key
    fingerprint text not null,     -- SHA-256 of method, path, query and body
    status integer,                -- null while the first request runs
    content_type text,
    body blob,
    created_at integer not null,
    primary key (credential, key)
) without rowid;
create index idempotency_keys_created on idempotency_keys (created_at);
