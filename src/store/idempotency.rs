//! Idempotency keys, for both engines: the primary key on (credential, key)
//! lets exactly one request of all processes win the claim.

use super::exec::Exec;
use super::{IdempotencyKey, IdempotencyState, Result, StoredResponse};

pub async fn begin(
    e: &impl Exec,
    k: &IdempotencyKey,
    now: i64,
    expired_before: i64,
    stale_before: i64,
) -> Result<IdempotencyState> {
    e.execute(&e.sql(
        "delete from idempotency_keys where created_at < ?1",
        vec![expired_before.into()],
    ))
    .await?;
    e.execute(&e.sql(
        r"delete from idempotency_keys where credential = ?1 and key = ?2
         and status is null and created_at < ?3",
        vec![
            k.credential.clone().into(),
            k.key.as_str().into(),
            stale_before.into(),
        ],
    ))
    .await?;
    let inserted = e
        .execute(&e.sql(
            r"insert into idempotency_keys (credential, key, fingerprint, created_at)
             values (?1, ?2, ?3, ?4) on conflict do nothing",
            vec![
                k.credential.clone().into(),
                k.key.as_str().into(),
                k.fingerprint.as_str().into(),
                now.into(),
            ],
        ))
        .await?;
    if inserted == 1 {
        return Ok(IdempotencyState::Started);
    }
    let row = e
        .query_opt(&e.sql(
            r"select fingerprint, status, content_type, body from idempotency_keys
             where credential = ?1 and key = ?2",
            vec![k.credential.clone().into(), k.key.as_str().into()],
        ))
        .await?;
    let row = match row {
        Some(mut r) => Some((
            r.text(0)?,
            r.opt_i64(1)?.map(|s| s as u16),
            r.opt_text(2)?,
            r.opt_bytes(3)?,
        )),
        None => None,
    };
    Ok(IdempotencyState::from_row(row, &k.fingerprint))
}

pub async fn finish(e: &impl Exec, k: &IdempotencyKey, r: &StoredResponse) -> Result<()> {
    e.execute(&e.sql(
        r"update idempotency_keys set status = ?3, content_type = ?4, body = ?5
         where credential = ?1 and key = ?2",
        vec![
            k.credential.clone().into(),
            k.key.as_str().into(),
            i64::from(r.status).into(),
            r.content_type.as_str().into(),
            r.body.clone().into(),
        ],
    ))
    .await?;
    Ok(())
}

pub async fn release(e: &impl Exec, k: &IdempotencyKey) -> Result<()> {
    e.execute(&e.sql(
        "delete from idempotency_keys where credential = ?1 and key = ?2 and status is null",
        vec![k.credential.clone().into(), k.key.as_str().into()],
    ))
    .await?;
    Ok(())
}
