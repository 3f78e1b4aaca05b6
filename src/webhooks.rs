//! Webhook deliveries: the worker every server runs, and the sender it
//! (and `POST /v1/webhooks/{id}/test`) sends with.
//!
//! Each round the worker numbers the events committed since the last one
//! (see `store::events`), queues the deliveries of new events (the store
//! follows each endpoint's cursor through the gap-free event log), then
//! claims the due deliveries of each workspace (a few per workspace, so
//! one tenant's backlog does not hold up the others) for a lease, sends
//! them, and records each attempt: success, a retry after the next delay
//! of the schedule (with jitter), or failure once the schedule is spent.
//! A claim outlives its sender only by the lease: after a crash another
//! round sends it again (at least once; receivers dedupe on `webhook-id`).

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::domain::now_ms;
use crate::domain::webhook::{check_url, is_public, sign};
use crate::store::Storage;
use crate::store::webhooks::{Attempt, Claimed, EndpointNext, Next};

/// How deliveries are made.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Deliveries may go to loopback, private and link-local addresses.
    pub allow_private: bool,
    /// The delays between attempts: one attempt more than delays.
    pub retries: Vec<Duration>,
    /// How long a sender holds a claimed delivery.
    pub lease: Duration,
    /// How often the worker looks for work.
    pub poll: Duration,
    /// An endpoint failing this long (every attempt since) is disabled.
    pub disable_after: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        let m = 60;
        let h = 60 * m;
        WebhookConfig {
            allow_private: false,
            // About a day: 27 h 35 min from the first attempt to the last.
            retries: [5, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            disable_after: Duration::from_secs(5 * 24 * h),
        }
    }
}

/// A request may take this long, answer included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// At most this much of an answer's body is read.
pub const MAX_ANSWER: usize = 64 * 1024;
/// Events turned into deliveries per endpoint and round.
const DISPATCH_BATCH: usize = 500;
/// Deliveries claimed per workspace and round.
const CLAIM_BATCH: usize = 20;
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 32;

/// Sends signed messages: no redirects followed, a [`TIMEOUT`], at most
/// [`MAX_ANSWER`] of an answer read, and (unless allowed) no delivery to a
/// name that resolves to a non-public address.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

/// Resolves names, refusing one that has any non-public address.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(a) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, which is not a public address",
                    a.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl Sender {
    pub fn new(allow_private: bool) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("leadflow-webhooks/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT);
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Sender {
            client: builder.build().expect("the webhook client builds"),
            allow_private,
        }
    }

    /// Sends `body` as message `id`, signed with `secret`, to `url`.
    pub async fn send(&self, url: &str, secret: &str, id: &str, body: Vec<u8>) -> Attempt {
        let started = Instant::now();
        let elapsed = || started.elapsed().as_millis() as i64;
        if let Err(why) = check_url(url, self.allow_private) {
            return Attempt {
                response_code: None,
                duration_ms: 0,
                error: Some(format!("the URL {why}")),
            };
        }
        let timestamp = now_ms() / 1000;
        let signature = sign(secret, id, timestamp, &body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(mut answer) => {
                let code = i64::from(answer.status().as_u16());
                let mut read = 0;
                // Read (and drop) at most MAX_ANSWER of the body.
                while read < MAX_ANSWER {
                    match answer.chunk().await {
                        Ok(Some(chunk)) => read += chunk.len(),
                        _ => break,
                    }
                }
                Attempt {
                    response_code: Some(code),
                    duration_ms: elapsed(),
                    error: (!(200..300).contains(&code)).then(|| format!("answered {code}")),
                }
            }
            Err(e) => Attempt {
                response_code: None,
                duration_ms: elapsed(),
                error: Some(describe(&e)),
            },
        }
    }
}

/// An error and its causes, on one line.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// `d` give or take a fifth.
fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.8..1.2))
}

/// What an attempt means for its delivery and its endpoint.
pub fn judge(
    c: &Claimed,
    attempt: &Attempt,
    config: &WebhookConfig,
    now: i64,
) -> (Next, EndpointNext) {
    if attempt.succeeded() {
        return (Next::Succeeded, EndpointNext::Healthy);
    }
    if attempt.gone() {
        return (
            Next::Failed,
            EndpointNext::Disable("the endpoint answered 410 Gone".into()),
        );
    }
    let done = c.attempts as usize + 1;
    let next = match config.retries.get(done - 1) {
        Some(delay) => Next::Retry(now + jittered(*delay).as_millis() as i64),
        None => Next::Failed,
    };
    let failing_for = c.failing_since.map_or(0, |since| now - since);
    let endpoint = if failing_for >= config.disable_after.as_millis() as i64 {
        EndpointNext::Disable(format!(
            "every delivery failed for {} days",
            config.disable_after.as_secs() / 86_400
        ))
    } else {
        EndpointNext::Failing
    };
    (next, endpoint)
}

/// The message a claimed delivery sends: its `webhook-id` and body.
fn message(c: &Claimed) -> Option<(String, Vec<u8>)> {
    let event = c.event.as_ref()?;
    let id = crate::routes::schema::event_id(event);
    let body = crate::store::webhooks::payload(
        event,
        id.clone(),
        crate::domain::format_time(event.created_at),
    );
    Some((id, serde_json::to_vec(&body).unwrap_or_default()))
}

/// Starts the worker: it runs until the store is dropped.
pub fn start(store: Weak<dyn Storage>, config: WebhookConfig) {
    let sender = Sender::new(config.allow_private);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(config.poll);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(store) = store.upgrade() else {
                break;
            };
            if let Err(e) = round(&*store, &sender, &config).await {
                tracing::warn!(error = %e, "webhook round failed");
            }
        }
    });
}

/// One round: queue new events, then send what is due.
pub async fn round(
    store: &dyn Storage,
    sender: &Sender,
    config: &WebhookConfig,
) -> crate::store::Result<()> {
    // The events committed since the last round get their numbers (for
    // the feed's readers too), then go to the endpoints.
    for ws in store.unnumbered_events().await? {
        store.number_events(ws).await?;
    }
    for (ws, webhook) in store.webhooks_behind().await? {
        store.dispatch_webhook(ws, webhook, DISPATCH_BATCH).await?;
    }
    let now = now_ms();
    let lease_until = now + config.lease.as_millis() as i64;
    let mut claimed = Vec::new();
    for ws in store.deliveries_due(now).await? {
        claimed.extend(
            store
                .claim_deliveries(ws, now, lease_until, CLAIM_BATCH)
                .await?,
        );
    }
    let results: Vec<_> = futures_util::stream::iter(claimed)
        .map(|c| async move {
            let attempt = match message(&c) {
                Some((id, body)) => sender.send(&c.url, &c.secret, &id, body).await,
                None => Attempt {
                    error: Some("the event is no longer kept (past the retention)".into()),
                    ..Default::default()
                },
            };
            (c, attempt)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for (c, attempt) in results {
        let (next, endpoint) = if c.event.is_none() {
            (Next::Failed, EndpointNext::Unchanged)
        } else {
            judge(&c, &attempt, config, now_ms())
        };
        if let EndpointNext::Disable(why) = &endpoint {
            tracing::warn!(webhook = c.webhook_key, reason = %why, "webhook disabled");
        }
        store.finish_delivery(c, attempt, next, endpoint).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WorkspaceRef;

    fn claimed(attempts: i64, failing_since: Option<i64>) -> Claimed {
        Claimed {
            workspace: WorkspaceRef {
                key: 1,
                created_at: 0,
            },
            key: 1,
            webhook_key: 1,
            attempts,
            url: "https://example.com/".into(),
            secret: "whsec_AAAA".into(),
            failing_since,
            event: None,
        }
    }

    fn answered(code: i64) -> Attempt {
        Attempt {
            response_code: Some(code),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_schedule_takes_about_a_day() {
        let total: Duration = WebhookConfig::default().retries.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600) && total < Duration::from_secs(30 * 3600));
        assert_eq!(WebhookConfig::default().retries[0], Duration::from_secs(5));
    }

    #[test]
    fn attempts_are_judged() {
        let config = WebhookConfig::default();
        let now = 1_000_000_000_000;
        let (next, endpoint) = judge(&claimed(0, Some(now - 1000)), &answered(204), &config, now);
        assert!(matches!(next, Next::Succeeded));
        assert_eq!(endpoint, EndpointNext::Healthy);

        // The first retry comes 5 s later, give or take a fifth.
        let (next, endpoint) = judge(&claimed(0, None), &answered(500), &config, now);
        match next {
            Next::Retry(at) => assert!((now + 4000..=now + 6000).contains(&at), "{at}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(endpoint, EndpointNext::Failing);

        // Once every delay is spent, the delivery has failed.
        let last = config.retries.len() as i64;
        let (next, _) = judge(&claimed(last, None), &Attempt::default(), &config, now);
        assert!(matches!(next, Next::Failed));
        let (next, _) = judge(&claimed(last - 1, None), &Attempt::default(), &config, now);
        assert!(matches!(next, Next::Retry(_)));

        // A 410 disables the endpoint at once.
        let (next, endpoint) = judge(&claimed(0, None), &answered(410), &config, now);
        assert!(matches!(next, Next::Failed));
        assert!(matches!(endpoint, EndpointNext::Disable(_)));

        // Failing for 5 days disables it; for less, it is only failing.
        let five_days = 5 * 24 * 3600 * 1000;
        let (_, endpoint) = judge(
            &claimed(2, Some(now - five_days)),
            &answered(500),
            &config,
            now,
        );
        assert_eq!(
            endpoint,
            EndpointNext::Disable("every delivery failed for 5 days".into())
        );
        let (_, endpoint) = judge(
            &claimed(2, Some(now - five_days + 60_000)),
            &answered(500),
            &config,
            now,
        );
        assert_eq!(endpoint, EndpointNext::Failing);
    }
}
