//! Idempotency keys on PostgreSQL: the primary key makes one request of
//! all processes win the claim.

use deadpool_postgres::GenericClient;

use super::super::{IdempotencyKey, IdempotencyState, Result, StoredResponse};

pub async fn begin(
    c: &impl GenericClient,
    k: &IdempotencyKey,
    now: i64,
    expired_before: i64,
    stale_before: i64,
) -> Result<IdempotencyState> {
    c.execute(
        "delete from idempotency_keys where created_at < $1",
        &[&expired_before],
    )
    .await?;
    c.execute(
        "delete from idempotency_keys where credential = $1 and key = $2 \
         and status is null and created_at < $3",
        &[&k.credential, &k.key, &stale_before],
    )
    .await?;
    let inserted = c
        .execute(
            "insert into idempotency_keys (credential, key, fingerprint, created_at) \
             values ($1, $2, $3, $4) on conflict do nothing",
            &[&k.credential, &k.key, &k.fingerprint, &now],
        )
        .await?;
    if inserted == 1 {
        return Ok(IdempotencyState::Started);
    }
    let row = c
        .query_opt(
            "select fingerprint, status, content_type, body from idempotency_keys \
             where credential = $1 and key = $2",
            &[&k.credential, &k.key],
        )
        .await?
        .map(|r| {
            (
                r.get::<_, String>(0),
                r.get::<_, Option<i32>>(1).map(|s| s as u16),
                r.get::<_, Option<String>>(2),
                r.get::<_, Option<Vec<u8>>>(3),
            )
        });
    Ok(IdempotencyState::from_row(row, &k.fingerprint))
}

pub async fn finish(c: &impl GenericClient, k: &IdempotencyKey, r: &StoredResponse) -> Result<()> {
    c.execute(
        "update idempotency_keys set status = $3, content_type = $4, body = $5 \
         where credential = $1 and key = $2",
        &[
            &k.credential,
            &k.key,
            &(r.status as i32),
            &r.content_type,
            &r.body,
        ],
    )
    .await?;
    Ok(())
}

pub async fn release(c: &impl GenericClient, k: &IdempotencyKey) -> Result<()> {
    c.execute(
        "delete from idempotency_keys where credential = $1 and key = $2 and status is null",
        &[&k.credential, &k.key],
    )
    .await?;
    Ok(())
}
