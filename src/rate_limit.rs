//! Rate limits per workspace: a token bucket (governor's GCRA) per
//! workspace, default 100 requests/s with bursts of 200.
//!
//! The bucket is checked once the workspace of a request is known (by the
//! `Tenant` extractor, after authentication and membership), so nobody can
//! spend another workspace's budget. Every answer of a workspace request
//! carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`;
//! a request over the limit gets 429 `RATE_LIMITED` with `Retry-After`.
//! Buckets live in each process's memory: N processes behind one address
//! allow up to N times the limit.

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

type Limiter =
    RateLimiter<i64, DefaultKeyedStateStore<i64>, DefaultClock, StateInformationMiddleware>;

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

    /// Takes one request from the workspace's bucket, if it can.
    pub fn check(&self, workspace: i64) -> Decision {
        let refill = |missing: u32| (missing as f64 / self.per_sec as f64).ceil() as u64;
        match self.limiter.check_key(&workspace) {
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
