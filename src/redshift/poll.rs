//! How often `DescribeStatement` is asked.

use std::time::Duration;

/// A statement on the system views usually finishes within a few hundred milliseconds, so the
/// first `fast_for` is polled every `first` (the run notices the end within that interval);
/// after that the pause starts at three times `first` and doubles up to `max`, so a slow
/// statement costs few calls (11 in the first 2.4 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollPolicy {
    pub first: Duration,
    pub fast_for: Duration,
    pub max: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first: Duration::from_millis(50),
            fast_for: Duration::from_millis(350),
            max: Duration::from_secs(1),
        }
    }
}

impl PollPolicy {
    /// The pause before the next poll, given the previous pause and the time waited so far.
    pub fn next(&self, previous: Duration, waited: Duration) -> Duration {
        if waited < self.fast_for {
            self.first
        } else if previous <= self.first {
            self.first.saturating_mul(3).min(self.max)
        } else {
            previous.saturating_mul(2).min(self.max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The moments a statement that never finishes is polled, as offsets from the start.
    fn poll_times(policy: PollPolicy, count: usize) -> Vec<u64> {
        let (mut pause, mut waited, mut times) = (policy.first, Duration::ZERO, vec![]);
        for _ in 0..count {
            waited += pause;
            times.push(waited.as_millis() as u64);
            pause = policy.next(pause, waited);
        }
        times
    }

    #[test]
    fn polling_is_dense_first_then_backs_off_to_its_cap() {
        let times = poll_times(PollPolicy::default(), 14);
        assert_eq!(
            times,
            [50, 100, 150, 200, 250, 300, 350, 500, 800, 1400, 2400, 3400, 4400, 5400]
        );
        assert!(times.iter().any(|t| (300..=350).contains(t)));
        assert!(times.iter().position(|t| *t >= 3000).unwrap() < 12);
    }
}
