//! Delivering one request to Slack: a retry loop over a [`Verdict`] that the transport reads
//! from each answer. Every wait has a deadline and every retry a reason:
//! - accepted: done;
//! - rate limited: wait as told (`Retry-After`, capped), if the deadline allows;
//! - a server error, or no connection at all: back off and try again, a bounded number of times;
//! - refused (a 4xx, a redirect, an API error code): final;
//! - sent but not answered (a timeout or a dropped connection after the body left): final, and
//!   said to be perhaps delivered. Slack has no idempotency key, so a retry could post the
//!   message twice; the next scheduled run reports the query again anyway (docs/reliability.md).

use std::future::Future;
use std::time::Duration;

use crate::deadline::Deadline;

/// How hard to try one request.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// One request never waits longer than this for an answer.
    pub request_timeout: Duration,
    /// A 429 without a usable `Retry-After` waits this long.
    pub default_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            request_timeout: Duration::from_secs(10),
            default_retry_after: Duration::from_secs(1),
        }
    }
}

/// What one attempt's answer means for delivery. `A` is what an accepted request returns (the
/// Web API's message timestamp, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<A> {
    Accepted(A),
    /// Rate limited: wait this long (or the policy's default), then try again.
    RateLimited(Option<Duration>),
    /// Not posted (a server error, or no connection): back off and try again.
    Retry(DeliveryError),
    /// Refused for good.
    Final(DeliveryError),
    /// Perhaps posted: never retried.
    Ambiguous(DeliveryError),
}

/// Why a request could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("Slack refused it with HTTP {status} `{body}` ({hint}); not retried")]
    Rejected {
        status: u16,
        body: String,
        hint: &'static str,
    },
    #[error(
        "Slack answered a redirect (HTTP {status}); it was not followed, so the credential stays \
         with Slack: check the URL in the secret"
    )]
    Redirected { status: u16 },
    #[error("Slack answered HTTP {status} `{body}` on all {attempts} attempts")]
    ServerError {
        status: u16,
        body: String,
        attempts: u32,
    },
    #[error("Slack's {method} answered `{code}` ({hint}); not retried")]
    Api {
        method: &'static str,
        code: String,
        hint: &'static str,
    },
    #[error("Slack kept answering 429 (rate limited) after {attempts} attempts")]
    RateLimited { attempts: u32 },
    #[error("could not reach Slack after {attempts} attempts: {detail}")]
    Unreachable { attempts: u32, detail: String },
    #[error(
        "Slack received it but did not answer ({detail}): it may or may not have been posted, \
         and it was not sent again, so that it cannot appear twice"
    )]
    MaybeDelivered { detail: String },
    #[error(
        "the deadline came before Slack accepted it (after {attempts} attempts; last: {last})"
    )]
    Deadline { attempts: u32, last: String },
}

impl DeliveryError {
    /// The error with the number of attempts made, where it says one: a transport reads one
    /// answer and cannot know how many came before it.
    fn after_attempts(self, attempts: u32) -> Self {
        match self {
            DeliveryError::ServerError { status, body, .. } => DeliveryError::ServerError {
                status,
                body,
                attempts,
            },
            DeliveryError::Unreachable { detail, .. } => {
                DeliveryError::Unreachable { attempts, detail }
            }
            other => other,
        }
    }

    pub fn is_deadline(&self) -> bool {
        matches!(self, DeliveryError::Deadline { .. })
    }

    /// The Web API's error code, when the refusal came with one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            DeliveryError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Runs `attempt` (given the time it may take) until a verdict ends it. Never waits past
/// `deadline`. Returns what the accepted attempt returned and how many attempts it took.
pub async fn deliver<A, F, Fut>(
    mut attempt: F,
    deadline: Deadline,
    policy: &RetryPolicy,
) -> Result<(A, u32), DeliveryError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Verdict<A>>,
{
    let mut backoff = policy.first_backoff;
    let mut attempts = 0;
    loop {
        let left = deadline.remaining();
        if left.is_zero() {
            return Err(DeliveryError::Deadline {
                attempts,
                last: "no time left to try".into(),
            });
        }
        attempts += 1;
        let limited_by_deadline = left <= policy.request_timeout;
        let (wait, failure) = match attempt(left.min(policy.request_timeout)).await {
            Verdict::Accepted(accepted) => return Ok((accepted, attempts)),
            Verdict::Final(err) => return Err(err),
            Verdict::Ambiguous(err) if limited_by_deadline && deadline.is_past() => {
                return Err(DeliveryError::Deadline {
                    attempts,
                    last: err.to_string(),
                })
            }
            Verdict::Ambiguous(err) => return Err(err),
            Verdict::RateLimited(after) => (
                after.unwrap_or(policy.default_retry_after),
                DeliveryError::RateLimited { attempts },
            ),
            Verdict::Retry(err) => {
                let wait = backoff;
                backoff = backoff.saturating_mul(2).min(policy.max_backoff);
                (wait, err.after_attempts(attempts))
            }
        };
        if attempts >= policy.max_attempts {
            return Err(failure);
        }
        if !deadline.allows(wait) {
            return Err(DeliveryError::Deadline {
                attempts,
                last: failure.to_string(),
            });
        }
        tracing::warn!(attempt = attempts, wait_ms = wait.as_millis() as u64, error = %failure, "Slack delivery will be retried");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::time::Instant;

    /// Verdicts handed out in order; after the script, accepted.
    fn scripted(verdicts: Vec<Verdict<()>>) -> (Mutex<Vec<Verdict<()>>>, Mutex<u32>) {
        let mut v = verdicts;
        v.reverse();
        (Mutex::new(v), Mutex::new(0))
    }

    async fn run(
        verdicts: Vec<Verdict<()>>,
        deadline_secs: u64,
    ) -> (Result<((), u32), DeliveryError>, u32, Duration) {
        let (script, calls) = scripted(verdicts);
        let started = Instant::now();
        let result = deliver(
            |_| {
                *calls.lock().unwrap() += 1;
                let next = script
                    .lock()
                    .unwrap()
                    .pop()
                    .unwrap_or(Verdict::Accepted(()));
                async move { next }
            },
            Deadline::after(Duration::from_secs(deadline_secs)),
            &RetryPolicy::default(),
        )
        .await;
        let n = *calls.lock().unwrap();
        (result, n, started.elapsed())
    }

    fn server_error() -> Verdict<()> {
        Verdict::Retry(DeliveryError::ServerError {
            status: 500,
            body: "internal_error".into(),
            attempts: 1,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_waits_as_told_then_delivers_once() {
        let (result, calls, took) =
            run(vec![Verdict::RateLimited(Some(Duration::from_secs(3)))], 60).await;
        assert_eq!(result.unwrap().1, 2);
        assert_eq!(calls, 2);
        assert!(took >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_longer_than_the_deadline_fails_at_once() {
        let (result, calls, _) = run(
            vec![Verdict::RateLimited(Some(Duration::from_secs(3600)))],
            10,
        )
        .await;
        assert!(matches!(
            result,
            Err(DeliveryError::Deadline { attempts: 1, .. })
        ));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_are_retried_with_backoff_then_given_up() {
        let (result, calls, took) = run(vec![server_error(); 5], 60).await;
        assert_eq!(calls, 4);
        assert!(matches!(
            result,
            Err(DeliveryError::ServerError { attempts: 4, .. })
        ));
        // 0.5 + 1 + 2 s of backoff between four attempts.
        assert_eq!(took, Duration::from_millis(3_500));
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_and_perhaps_delivered_requests_are_never_retried() {
        for verdict in [
            Verdict::Final(DeliveryError::Redirected { status: 302 }),
            Verdict::Ambiguous(DeliveryError::MaybeDelivered {
                detail: "timed out".into(),
            }),
        ] {
            let (result, calls, _) = run(vec![verdict.clone()], 60).await;
            assert_eq!(calls, 1, "{verdict:?}");
            assert!(result.is_err());
        }
    }
}
