//! Idempotency keys, for both engines: the primary key on (credential, key)
//! lets exactly one request of all processes win the claim.
//!
//! A claim's `status` is null while its request runs and no write of it has
//! committed; [`COMMITTED`] once one has (set by [`mark_committed`] in the
//! request's own transaction, so the two commit together); the answer's
//! HTTP status once that is kept. A claim whose request committed is never
//! taken over: if the answer was lost (the process died between the commit
//! and keeping it), a retry is told so rather than run again.

use super::exec::Exec;
use super::{IdempotencyKey, IdempotencyState, Result, StoredResponse};

/// `status` of a claim whose request has committed a write but whose
/// answer is not kept (yet).
pub const COMMITTED: i64 = 0;

tokio::task_local! {
    /// The claim of the request being served, for [`mark_committed`].
    pub static CURRENT: IdempotencyKey;
}

/// The claim of the request being served, if it has one.
pub fn current_claim() -> Option<IdempotencyKey> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Records, in the transaction of the write, that the request holding `k`
/// committed something.
pub async fn mark_committed(e: &impl Exec, k: &IdempotencyKey) -> Result<()> {
    e.execute(&e.sql(
        r"update idempotency_keys set status = ?3
         where credential = ?1 and key = ?2 and status is null",
        vec![
            k.credential.clone().into(),
            k.key.as_str().into(),
            COMMITTED.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// After a request timed out and its write can no longer be running: a
/// claim whose write committed keeps `lost` as its answer; one whose write
/// did not is released, for a retry to run.
pub async fn settle(e: &impl Exec, k: &IdempotencyKey, lost: &StoredResponse) -> Result<()> {
    finish_where(e, k, lost, "status = 0").await?;
    release(e, k).await
}

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
            r"select fingerprint, status, content_type, body, created_at from idempotency_keys
             where credential = ?1 and key = ?2",
            vec![k.credential.clone().into(), k.key.as_str().into()],
        ))
        .await?;
    let row = match row {
        Some(mut r) => {
            let status = r.opt_i64(1)?;
            // Committed, its answer never kept, and its request long gone.
            if status == Some(COMMITTED) && r.i64(4)? < stale_before {
                return Ok(if r.text(0)? == k.fingerprint {
                    IdempotencyState::Lost
                } else {
                    IdempotencyState::Mismatch
                });
            }
            Some((
                r.text(0)?,
                status.filter(|s| *s != COMMITTED).map(|s| s as u16),
                r.opt_text(2)?,
                r.opt_bytes(3)?,
            ))
        }
        None => None,
    };
    Ok(IdempotencyState::from_row(row, &k.fingerprint))
}

pub async fn finish(e: &impl Exec, k: &IdempotencyKey, r: &StoredResponse) -> Result<()> {
    finish_where(e, k, r, "1 = 1").await
}

async fn finish_where(
    e: &impl Exec,
    k: &IdempotencyKey,
    r: &StoredResponse,
    condition: &str,
) -> Result<()> {
    e.execute(&e.sql(
        &format!(
            r"update idempotency_keys set status = ?3, content_type = ?4, body = ?5
             where credential = ?1 and key = ?2 and {condition}"
        ),
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
