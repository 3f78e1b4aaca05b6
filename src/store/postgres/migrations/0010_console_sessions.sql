-- The web console's sessions (issue 18): a signed-in browser holds a random
-- token in a cookie; here are its hash, the hash of the API key it signed
-- in with (so a revoked or rotated key ends its sessions), the workspace it
-- acts in (a platform key chooses one), the token its forms must carry
-- (CSRF), and when it ends.
create table console_sessions (
    token_hash bytea primary key,
    key_hash bytea not null,
    workspace_id bigint,
    csrf text not null,
    created_at bigint not null,
    expires_at bigint not null
);
create index console_sessions_expiry on console_sessions (expires_at);
