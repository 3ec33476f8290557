//! When a failed request is sent again, and after how long.
//!
//! A busy server is not a failure: Ollama answers 503 "server busy" past `OLLAMA_MAX_QUEUE`,
//! OpenAI-compatible servers and routers 429 or 503 with `Retry-After`, and a server under load
//! resets connections. Those are retried with exponential backoff and **full jitter** (each wait
//! drawn uniformly from zero to the exponential ceiling, as in AWS's "Exponential Backoff And
//! Jitter", 2015), so that clients which failed together do not retry together and collide
//! again, for a bounded total time ([`DEFAULT_RETRY_BUDGET`]); a `Retry-After` the server sends
//! is waited out first. Other server errors (HTTP 500) are retried a few times only
//! ([`DEFAULT_MAX_ATTEMPTS`]): they are rarely cured by waiting.

use std::time::{Duration, Instant};

/// Attempts in all for an error that waiting rarely cures (HTTP 500), see
/// [`super::Llm::with_retries`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The ceiling of the first wait; doubled for each further one up to [`MAX_RETRY_DELAY`].
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// The largest ceiling of one wait.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(16);

/// How long a call keeps retrying a busy server (429, 502, 503, 504, a reset connection) before
/// it reports the error: 2 minutes (`--retry-for`).
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(120);

/// How an error may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Never (a 4xx, a refused connection, an idle timeout, an answer that started).
    No,
    /// A few times ([`Policy::max_attempts`]): HTTP 500 and other server errors.
    Limited,
    /// Until the time budget is spent: the server is busy (429, 502, 503, 504) or reset the
    /// connection; with the server's `Retry-After`, when it sent one.
    Busy(Option<Duration>),
    /// Once, on another host when there is one: the server did not answer within the idle
    /// timeout. Only once, because it may still be generating the first answer.
    Timeout,
}

/// The retry policy of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts in all for [`Retry::Limited`] errors (at least 1); also a cap for busy ones.
    pub max_attempts: u32,
    /// Ceiling of the first wait.
    pub first_delay: Duration,
    /// Total time a call may spend retrying busy errors.
    pub budget: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            first_delay: DEFAULT_RETRY_DELAY,
            budget: DEFAULT_RETRY_BUDGET,
        }
    }
}

impl Policy {
    /// The wait before attempt `attempt + 1` after `attempt` attempts (1-based) that started at
    /// `started`, or `None` to give up. `random` is uniform in `[0, 1)`.
    pub fn next_delay(
        &self,
        retry: Retry,
        attempt: u32,
        started: Instant,
        random: f64,
    ) -> Option<Duration> {
        let ceiling = self
            .first_delay
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16))
            .min(MAX_RETRY_DELAY.max(self.first_delay));
        let jittered = ceiling.mul_f64(random.clamp(0.0, 1.0));
        match retry {
            Retry::No | Retry::Timeout => None,
            Retry::Limited => (attempt < self.max_attempts).then_some(jittered),
            Retry::Busy(after) => {
                // Busy answers are retried for the whole budget, but never more often than a
                // hundred times (a server answering 503 at once would otherwise be hammered).
                if attempt >= self.max_attempts.max(100) {
                    return None;
                }
                let delay = match after {
                    Some(after) => after + jittered.min(self.first_delay),
                    None => jittered,
                };
                (started.elapsed() + delay <= self.budget).then_some(delay)
            }
        }
    }
}

/// A `Retry-After` header value: delay-seconds, or an HTTP date (RFC 9110 §10.2.3). `None`
/// when absent or unreadable.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_errors_stop_after_max_attempts() {
        let p = Policy {
            max_attempts: 3,
            first_delay: Duration::from_secs(1),
            budget: Duration::from_secs(120),
        };
        let t = Instant::now();
        assert!(p.next_delay(Retry::Limited, 1, t, 0.5).is_some());
        assert!(p.next_delay(Retry::Limited, 2, t, 0.5).is_some());
        assert_eq!(p.next_delay(Retry::Limited, 3, t, 0.5), None);
        assert_eq!(p.next_delay(Retry::No, 1, t, 0.5), None);
    }

    #[test]
    fn busy_errors_retry_within_the_budget_with_full_jitter() {
        let p = Policy::default();
        let t = Instant::now();
        // Far past max_attempts, still retried: busy errors are bounded by time.
        let d = p.next_delay(Retry::Busy(None), 10, t, 0.5).unwrap();
        assert_eq!(d, MAX_RETRY_DELAY / 2);
        assert_eq!(
            p.next_delay(Retry::Busy(None), 1, t, 0.0),
            Some(Duration::ZERO)
        );
        // Retry-After is waited out first.
        let d = p
            .next_delay(Retry::Busy(Some(Duration::from_secs(5))), 1, t, 0.5)
            .unwrap();
        assert_eq!(d, Duration::from_millis(5500));
        // A wait that would overrun the budget is not taken.
        assert_eq!(
            p.next_delay(Retry::Busy(Some(Duration::from_secs(500))), 1, t, 0.5),
            None
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
