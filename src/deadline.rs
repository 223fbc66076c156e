//! The moment a run must be done by, and the only arithmetic on it: every wait and every
//! external call is bounded by it, and none of it can overflow or panic whatever a clock, a
//! header or an event says.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// No run lasts longer than Lambda's own maximum; a longer "time left" is a bogus clock.
pub const LONGEST_RUN: Duration = Duration::from_secs(15 * 60);
/// How long after the deadline the whole-run backstop fires: long enough that a call's own
/// deadline error (which names the call) comes first, short enough to stay inside Lambda's
/// margin.
pub const BACKSTOP_GRACE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

/// A call that did not answer before the deadline. `call` names it (`GetSecretValue`,
/// `ExecuteStatement`, `Slack chat.postMessage`, …) so the error says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{call} did not answer before the deadline")]
pub struct TimedOut {
    pub call: &'static str,
}

impl Deadline {
    /// `left` from now, at most [`LONGEST_RUN`].
    pub fn after(left: Duration) -> Deadline {
        let now = Instant::now();
        Deadline(now.checked_add(left.min(LONGEST_RUN)).unwrap_or(now))
    }

    pub fn instant(self) -> Instant {
        self.0
    }

    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn is_past(self) -> bool {
        self.remaining().is_zero()
    }

    /// A deadline `by` earlier, but never before now: work kept back for a later step.
    pub fn earlier_by(self, by: Duration) -> Deadline {
        let now = Instant::now();
        Deadline(self.0.checked_sub(by).map_or(now, |t| t.max(now)))
    }

    /// A deadline `by` later (at most [`LONGEST_RUN`] from now): a backstop that lets the
    /// specific deadline errors of the calls inside it win.
    pub fn later_by(self, by: Duration) -> Deadline {
        Deadline::after(self.remaining().saturating_add(by))
    }

    /// Whether something that takes `wait` would still end before the deadline.
    pub fn allows(self, wait: Duration) -> bool {
        wait < self.remaining()
    }

    /// Runs `call` until the deadline; past it, the call is dropped and `TimedOut` names it.
    pub async fn bound<F: Future>(
        self,
        name: &'static str,
        call: F,
    ) -> Result<F::Output, TimedOut> {
        tokio::time::timeout_at(self.0, call)
            .await
            .map_err(|_| TimedOut { call: name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn arithmetic_never_overflows_or_goes_back_in_time() {
        let huge = Deadline::after(Duration::MAX);
        assert!(huge.remaining() <= LONGEST_RUN);
        let d = Deadline::after(Duration::from_secs(5));
        assert!(d.earlier_by(Duration::MAX) >= Deadline::after(Duration::ZERO));
        assert_eq!(
            d.earlier_by(Duration::from_secs(2)).remaining(),
            Duration::from_secs(3)
        );
        assert!(d.allows(Duration::from_secs(4)) && !d.allows(Duration::from_secs(5)));
        assert!(Deadline::after(Duration::ZERO).is_past());
        assert_eq!(
            d.later_by(Duration::from_secs(1)).remaining(),
            Duration::from_secs(6)
        );
        assert!(huge.later_by(Duration::MAX).remaining() <= LONGEST_RUN);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_the_deadline_is_named() {
        let d = Deadline::after(Duration::from_secs(1));
        let err = d
            .bound("GetSecretValue", std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "GetSecretValue did not answer before the deadline"
        );
        assert_eq!(d.bound("x", async { 7 }).await, Ok(7));
    }
}
