# Sourced by the scripts that test a running server (contract and browser
# tests). start_server builds leadflow and starts it on a fresh database:
# PostgreSQL when LEADFLOW_TEST_POSTGRES_URL is set (scripts/with-postgres),
# a SQLite file in a temp directory otherwise. It sets
#   BASE            http://127.0.0.1:PORT
#   USER_KEY        the bootstrap platform key (sk_user_...)
#   WORKSPACE_KEY   the bootstrap workspace key (sk_...)
#   WORKSPACE_ID    the bootstrap workspace's ID
#   SERVER_LOG      the server's log file
#   DATABASE_URL    the database it serves
# and stops the server when the calling script exits.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_server() {
    if [ -n "${TS_PID:-}" ]; then
        kill "$TS_PID" 2>/dev/null || true
        wait "$TS_PID" 2>/dev/null || true
    fi
    [ -z "${TS_DIR:-}" ] || rm -rf "$TS_DIR"
}

start_server() {
    cargo build --locked --quiet --bin leadflow
    TS_DIR=$(mktemp -d)
    trap stop_server EXIT
    local port db
    port=$(free_port)
    if [ -n "${LEADFLOW_TEST_POSTGRES_URL:-}" ]; then
        local name="lf_script_$$_$RANDOM"
        if [ -n "${LEADFLOW_TEST_CREATEDB:-}" ]; then
            db=$("$LEADFLOW_TEST_CREATEDB" "$name")
        else
            psql "$LEADFLOW_TEST_POSTGRES_URL/postgres" -qc "create database $name"
            db="$LEADFLOW_TEST_POSTGRES_URL/$name"
        fi
    else
        db="sqlite://$TS_DIR/leadflow.db"
    fi
    DATABASE_URL="$db"
    SERVER_LOG="$TS_DIR/server.log"
    LEADFLOW_RATE_LIMIT=0 LEADFLOW_DATABASE_URL="$db" target/debug/leadflow serve --listen "127.0.0.1:$port" \
        >"$TS_DIR/stdout" 2>"$SERVER_LOG" &
    TS_PID=$!
    BASE="http://127.0.0.1:$port"
    local _
    for _ in $(seq 1 200); do
        curl -sf "$BASE/v1/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "$BASE/v1/health" >/dev/null || {
        echo "error: the server did not start" >&2
        cat "$SERVER_LOG" >&2
        return 1
    }
    USER_KEY=$(grep -o 'sk_user_[0-9a-f]*' "$TS_DIR/stdout" | head -1)
    WORKSPACE_KEY=$(grep 'workspace key' "$TS_DIR/stdout" | grep -o 'sk_[0-9a-f]*' | head -1)
    WORKSPACE_ID=$(grep 'workspace key' "$TS_DIR/stdout" | grep -o '[0-9a-f]\{24\}' | head -1)
    [ -n "$USER_KEY" ] && [ -n "$WORKSPACE_KEY" ] && [ -n "$WORKSPACE_ID" ] || {
        echo "error: no bootstrap keys in the server's output" >&2
        return 1
    }
}
