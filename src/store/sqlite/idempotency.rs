//! Idempotency keys on SQLite (on the writer, like every write).

use rusqlite::{Connection, OptionalExtension, params};

use super::super::{IdempotencyKey, IdempotencyRow, IdempotencyState, Result, StoredResponse};

pub fn begin(
    conn: &Connection,
    k: &IdempotencyKey,
    now: i64,
    expired_before: i64,
    stale_before: i64,
) -> Result<IdempotencyState> {
    conn.prepare_cached("delete from idempotency_keys where created_at < ?1")?
        .execute([expired_before])?;
    conn.prepare_cached(
        "delete from idempotency_keys where credential = ?1 and key = ?2 \
         and status is null and created_at < ?3",
    )?
    .execute(params![k.credential, k.key, stale_before])?;
    let inserted = conn
        .prepare_cached(
            "insert into idempotency_keys (credential, key, fingerprint, created_at) \
             values (?1, ?2, ?3, ?4) on conflict do nothing",
        )?
        .execute(params![k.credential, k.key, k.fingerprint, now])?;
    if inserted == 1 {
        return Ok(IdempotencyState::Started);
    }
    let row: Option<IdempotencyRow> = conn
        .prepare_cached(
            "select fingerprint, status, content_type, body from idempotency_keys \
             where credential = ?1 and key = ?2",
        )?
        .query_row(params![k.credential, k.key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    Ok(IdempotencyState::from_row(row, &k.fingerprint))
}

pub fn finish(conn: &Connection, k: &IdempotencyKey, r: &StoredResponse) -> Result<()> {
    conn.prepare_cached(
        "update idempotency_keys set status = ?3, content_type = ?4, body = ?5 \
         where credential = ?1 and key = ?2",
    )?
    .execute(params![
        k.credential,
        k.key,
        r.status,
        r.content_type,
        r.body
    ])?;
    Ok(())
}

pub fn release(conn: &Connection, k: &IdempotencyKey) -> Result<()> {
    conn.prepare_cached(
        "delete from idempotency_keys where credential = ?1 and key = ?2 and status is null",
    )?
    .execute(params![k.credential, k.key])?;
    Ok(())
}
