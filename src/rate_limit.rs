//! Rate limits: a token bucket (governor's GCRA) per workspace for the
//! workspace routes and per user for the platform routes, default 100
//! requests/s with bursts of 200.
//!
//! The bucket is charged once the caller is known (by `access`, after
//! authentication and membership, before the body is read), so nobody can
//! spend another workspace's budget. Every answer of such a request carries
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a request
//! over the limit gets 429 `RATE_LIMITED` with `Retry-After`. Buckets live
//! in each process's memory (N processes behind one address allow up to N
//! times the limit); a bucket that has filled up again is dropped every
//! minute, so memory follows the callers of the last minute, not every
//! workspace ever seen.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter, state::keyed::DefaultKeyedStateStore};

/// Whose budget a request spends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    Workspace(i64),
    User(i64),
}

type Limiter =
    RateLimiter<Bucket, DefaultKeyedStateStore<Bucket>, DefaultClock, StateInformationMiddleware>;

/// How often idle buckets are dropped.
pub const EVICT_EVERY: Duration = Duration::from_secs(60);

/// The limiter of one process.
pub struct Limits {
    limiter: Limiter,
    clock: DefaultClock,
    per_sec: u32,
    burst: u32,
}

/// What the bucket said about one request.
#[derive(Clone, Copy, Debug)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until a request would be allowed (when it was not).
    pub retry_after_secs: u64,
}

impl Limits {
    pub fn new(per_sec: NonZeroU32, burst: NonZeroU32) -> Self {
        let clock = DefaultClock::default();
        let limiter = RateLimiter::dashmap_with_clock(
            Quota::per_second(per_sec).allow_burst(burst),
            clock.clone(),
        )
        .with_middleware::<StateInformationMiddleware>();
        Self {
            limiter,
            clock,
            per_sec: per_sec.get(),
            burst: burst.get(),
        }
    }

    /// Drops the buckets that are full again (nobody spent from them for
    /// as long as a refill takes): they hold nothing a new bucket would not.
    pub fn evict_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many buckets are held.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }

    /// Takes one request from a bucket, if it can.
    pub fn check(&self, bucket: Bucket) -> Decision {
        let refill = |missing: u32| (missing as f64 / self.per_sec as f64).ceil() as u64;
        match self.limiter.check_key(&bucket) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit: self.per_sec,
                    remaining,
                    reset_secs: refill(self.burst - remaining.min(self.burst)),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait: Duration = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit: self.per_sec,
                    remaining: 0,
                    reset_secs: refill(self.burst),
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                }
            }
        }
    }
}

/// Where the `Tenant` extractor leaves its decision for [`middleware`].
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Decision>>>);

impl Slot {
    pub fn set(&self, d: Decision) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(d);
        }
    }

    fn get(&self) -> Option<Decision> {
        self.0.lock().ok().and_then(|s| *s)
    }
}

/// Adds the `RateLimit-*` headers (and `Retry-After` on a 429) to the
/// answer of every request whose workspace was checked.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    if let Some(d) = slot.get() {
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(d.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(d.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(d.reset_secs));
        if !d.allowed {
            headers.insert("retry-after", HeaderValue::from(d.retry_after_secs));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_kept_apart_and_dropped_once_idle() {
        let limits = Limits::new(NonZeroU32::new(1000).unwrap(), NonZeroU32::new(2).unwrap());
        assert!(limits.check(Bucket::Workspace(1)).allowed);
        assert!(limits.check(Bucket::Workspace(1)).allowed);
        assert!(!limits.check(Bucket::Workspace(1)).allowed);
        // A user and a workspace with the same number spend apart.
        assert!(limits.check(Bucket::User(1)).allowed);
        for n in 0..100 {
            limits.check(Bucket::Workspace(1000 + n));
        }
        assert_eq!(limits.len(), 102);
        // Two requests refill in 2 ms at 1,000 a second.
        std::thread::sleep(Duration::from_millis(20));
        limits.evict_idle();
        assert_eq!(limits.len(), 0);
    }
}
