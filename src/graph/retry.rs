//! When to retry a Graph call, how long to wait, and how many calls to have in flight.
//!
//! - 429 and 503 honour `Retry-After` (seconds, possibly fractional: `2.128`); without
//!   it they back off like other failures.
//! - Other 5xx answers and dropped connections retry with capped exponential backoff and
//!   jitter.
//! - Retries stop after `max_attempts` or when the next wait would pass the request's
//!   deadline, whichever comes first.
//! - [`AdaptiveLimiter`] bounds concurrency and adapts it (AIMD): it halves the number of
//!   requests in flight when Graph throttles, pauses every caller for the `Retry-After` it
//!   was given, and grows back by one slot per window of successes.
//!
//! The backoff is hand-written rather than taken from a crate such as `backon`: what it
//! needs beyond a delay sequence (Retry-After from responses, a deadline shared with the
//! limiter's pause, per-item retries inside `$batch`) is most of the code, and the delay
//! sequence itself is ten lines that are tested here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Notify;

/// Retry limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts per request (the first included).
    pub max_attempts: u32,
    /// First backoff delay.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Time from the first attempt after which a request is given up.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(300),
        }
    }
}

/// How a failed attempt is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP status, with its `Retry-After` if any.
    Status(u16, Option<Duration>),
    /// The connection failed or dropped before a full response arrived.
    Connection,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Not retryable: report the failure.
    GiveUp,
    /// Retryable, but the attempts or the deadline are used up.
    Exhausted,
}

/// True for statuses worth retrying: 429, and 5xx other than 501 and 505.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status) && status != 501 && status != 505
}

/// Parses `Retry-After` given in seconds, integral or decimal (`"2.128"`). HTTP dates and
/// garbage give `None` (the caller then backs off exponentially); negative values and
/// values above a day are refused.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

impl RetryPolicy {
    /// The exponential backoff for a (1-based) attempt that just failed, with "equal
    /// jitter": half the capped delay fixed, the other half random.
    pub fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let raw = self.base_delay.saturating_mul(1u32 << exp);
        let capped = raw.min(self.max_delay);
        let half = capped / 2;
        let jitter_ms = rng.random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// Decides after attempt number `attempt` (1-based) failed with `failure`, `elapsed`
    /// after the first attempt started.
    pub fn decide(
        &self,
        attempt: u32,
        failure: Failure,
        elapsed: Duration,
        rng: &mut impl Rng,
    ) -> Decision {
        let wait = match failure {
            Failure::Status(status, _) if !is_retryable_status(status) => {
                return Decision::GiveUp;
            }
            Failure::Status(429 | 503, Some(after)) => after,
            Failure::Status(..) | Failure::Connection => self.backoff(attempt, rng),
        };
        if attempt >= self.max_attempts || elapsed + wait > self.deadline {
            Decision::Exhausted
        } else {
            Decision::RetryAfter(wait)
        }
    }
}

/// Limits concurrent requests, adapting the limit to throttling (AIMD).
#[derive(Debug)]
pub struct AdaptiveLimiter {
    state: Mutex<LimiterState>,
    notify: Notify,
}

#[derive(Debug)]
struct LimiterState {
    limit: f64,
    min: f64,
    max: f64,
    in_flight: usize,
    paused_until: Option<Instant>,
    last_decrease: Option<Instant>,
    throttled: u64,
    lowest: f64,
}

/// A slot held while a request is in flight; released on drop.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<AdaptiveLimiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        {
            let mut s = self.limiter.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.limiter.notify.notify_waiters();
    }
}

impl AdaptiveLimiter {
    /// A limiter starting at `initial` slots, never below 1 nor above `max`.
    pub fn new(initial: usize, max: usize) -> Arc<Self> {
        let max = max.max(1) as f64;
        let limit = (initial.max(1) as f64).min(max);
        Arc::new(Self {
            state: Mutex::new(LimiterState {
                limit,
                lowest: limit,
                min: 1.0,
                max,
                in_flight: 0,
                paused_until: None,
                last_decrease: None,
                throttled: 0,
            }),
            notify: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The largest limit (the configured concurrency).
    pub fn max(&self) -> usize {
        self.lock().max as usize
    }

    /// The current limit (whole slots).
    pub fn limit(&self) -> usize {
        self.lock().limit.floor() as usize
    }

    /// The lowest limit reached so far (how far the limiter backed off).
    pub fn lowest_limit(&self) -> usize {
        self.lock().lowest.floor() as usize
    }

    /// How many throttling events were recorded.
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }

    /// Takes a slot if one is free and no pause is in force, at `now`.
    fn try_acquire_at(self: &Arc<Self>, now: Instant) -> Result<Permit, Option<Instant>> {
        let mut s = self.lock();
        if let Some(until) = s.paused_until {
            if until > now {
                return Err(Some(until));
            }
            s.paused_until = None;
        }
        if (s.in_flight as f64) < s.limit.floor() {
            s.in_flight += 1;
            Ok(Permit {
                limiter: Arc::clone(self),
            })
        } else {
            Err(None)
        }
    }

    /// Waits for a slot.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_acquire_at(Instant::now()) {
                Ok(permit) => return permit,
                Err(Some(until)) => {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
                }
                Err(None) => notified.await,
            }
        }
    }

    /// Records a success: the limit grows by one slot per `limit` successes.
    pub fn on_success(&self) {
        let grew = {
            let mut s = self.lock();
            let before = s.limit.floor();
            s.limit = (s.limit + 1.0 / s.limit).min(s.max);
            s.limit.floor() > before
        };
        if grew {
            self.notify.notify_waiters();
        }
    }

    /// Records a 429 received at `now` for a request sent at `sent`: halves the limit and
    /// pauses every caller for `retry_after`. A request sent before the last decrease
    /// belongs to the wave that caused it, so its 429 does not halve again; a request sent
    /// after it, at the lowered concurrency, that is still throttled does.
    pub fn on_throttled(&self, retry_after: Option<Duration>, sent: Instant, now: Instant) {
        let mut s = self.lock();
        s.throttled += 1;
        let same_wave = s.last_decrease.is_some_and(|t| sent <= t);
        if !same_wave {
            s.limit = (s.limit / 2.0).max(s.min);
            s.lowest = s.lowest.min(s.limit);
            s.last_decrease = Some(now);
        }
        if let Some(after) = retry_after {
            let until = now + after;
            s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn retry_after_parsing() {
        let cases = [
            ("2", Some(Duration::from_secs(2))),
            ("2.128", Some(Duration::from_millis(2128))),
            (" 0 ", Some(Duration::ZERO)),
            ("-1", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("NaN", None),
            ("1e9", None),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_retry_after(raw), want, "{raw}");
        }
    }

    #[test]
    fn decisions() {
        let p = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        };
        let mut rng = StdRng::seed_from_u64(7);
        let s = |c, ra| Failure::Status(c, ra);
        let t0 = Duration::ZERO;
        let ra = Some(Duration::from_millis(2128));
        assert_eq!(
            p.decide(1, s(429, ra), t0, &mut rng),
            Decision::RetryAfter(Duration::from_millis(2128))
        );
        assert_eq!(
            p.decide(1, s(503, ra), t0, &mut rng),
            Decision::RetryAfter(Duration::from_millis(2128))
        );
        for status in [400, 401, 403, 404, 409, 501] {
            assert_eq!(
                p.decide(1, s(status, None), t0, &mut rng),
                Decision::GiveUp,
                "{status}"
            );
        }
        for f in [
            s(500, None),
            s(502, None),
            s(504, None),
            s(429, None),
            Failure::Connection,
        ] {
            match p.decide(1, f, t0, &mut rng) {
                Decision::RetryAfter(d) => assert!(
                    d >= Duration::from_millis(50) && d <= Duration::from_millis(100),
                    "{f:?} {d:?}"
                ),
                other => panic!("{f:?}: {other:?}"),
            }
            assert_eq!(
                p.decide(4, f, t0, &mut rng),
                Decision::Exhausted,
                "attempts bound"
            );
        }
        // A Retry-After past the deadline is not slept through.
        assert_eq!(
            p.decide(
                1,
                s(429, Some(Duration::from_secs(3))),
                Duration::from_secs(8),
                &mut rng
            ),
            Decision::Exhausted
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 30,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            deadline: Duration::from_secs(600),
        };
        let mut rng = StdRng::seed_from_u64(1);
        for (attempt, lo, hi) in [
            (1, 50, 100),
            (2, 100, 200),
            (3, 200, 400),
            (5, 800, 1600),
            (6, 1000, 2000),
            (25, 1000, 2000),
        ] {
            for _ in 0..50 {
                let d = p.backoff(attempt, &mut rng).as_millis() as u64;
                assert!((lo..=hi).contains(&d), "attempt {attempt}: {d}");
            }
        }
    }

    #[test]
    fn aimd_halves_on_throttle_and_grows_back() {
        let l = AdaptiveLimiter::new(16, 16);
        let t = Instant::now();
        let ms = Duration::from_millis;
        l.on_throttled(None, t, t + ms(50));
        assert_eq!(l.limit(), 8);
        // More 429s of requests sent before that decrease: the same wave, counted once.
        l.on_throttled(None, t + ms(10), t + ms(60));
        l.on_throttled(None, t + ms(50), t + ms(90));
        assert_eq!(l.limit(), 8);
        // Sent after the decrease and still throttled: halve again, and so on.
        l.on_throttled(None, t + ms(51), t + ms(100));
        assert_eq!(l.limit(), 4);
        for i in 1..=3u64 {
            l.on_throttled(None, t + ms(100 * i + 1), t + ms(100 * i + 50));
        }
        assert_eq!(l.limit(), 1, "never below one");
        assert_eq!(l.throttled(), 7);
        for _ in 0..3 {
            l.on_success();
        }
        assert_eq!(l.limit(), 2);
        for _ in 0..1000 {
            l.on_success();
        }
        assert_eq!(l.limit(), 16, "capped at max");
        assert_eq!(l.lowest_limit(), 1, "the low-water mark stays");
    }

    #[test]
    fn limiter_bounds_in_flight_and_pauses() {
        let l = AdaptiveLimiter::new(2, 2);
        let now = Instant::now();
        let a = l.try_acquire_at(now).expect("slot 1");
        let _b = l.try_acquire_at(now).expect("slot 2");
        assert!(matches!(l.try_acquire_at(now), Err(None)), "full");
        drop(a);
        let _c = l.try_acquire_at(now).expect("freed slot");
        drop(_c);
        l.on_throttled(Some(Duration::from_secs(2)), now, now);
        assert_eq!(
            l.try_acquire_at(now + Duration::from_secs(1)).err(),
            Some(Some(now + Duration::from_secs(2)))
        );
        assert!(
            l.try_acquire_at(now + Duration::from_secs(3)).is_err(),
            "limit 1, one held"
        );
    }

    #[tokio::test]
    async fn waiters_wake_when_a_slot_frees() {
        let l = AdaptiveLimiter::new(1, 1);
        let first = l.acquire().await;
        let l2 = Arc::clone(&l);
        let waiter = tokio::spawn(async move {
            let _p = l2.acquire().await;
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
    }
}
