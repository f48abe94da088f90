//! Graph's identity-and-access throttling
//! (<https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-service-limits>):
//! a resource-unit quota per app and tenant sized by the tenant (3,500 / 5,000 / 8,000 RU
//! per 10 s), a write quota per app and tenant (3,000 per 2 min 30 s) and a write quota
//! per tenant across all apps (18,000 per 5 min). "The first limit hit wins."
//!
//! How a quota refills is not settled: the page calls the mechanism "a token bucket
//! algorithm, which works by adding individual costs of requests", yet states every
//! quota as a number per period. [`Refill::FixedWindow`] (the default) counts a quota per
//! period: once used up, nothing passes until the period ends — the harder reading, under
//! which a burst at the start of a window waits for the whole rest of it.
//! [`Refill::TokenBucket`] refills continuously at quota/period. Retry-After is whole
//! seconds, at least 1, until the quota has room again (Graph's current samples send
//! integers). Windows can be shortened for benchmarks ([`ThrottleOptions::time_scaled`]);
//! Retry-After is then the integer of emulated time, scaled back. Pure state machine: the
//! caller passes the time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How a quota refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refill {
    /// A fixed number per period; the count resets when the period ends.
    #[default]
    FixedWindow,
    /// A bucket of `quota` tokens refilled continuously at quota/period.
    TokenBucket,
}

/// How a refused request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refusal {
    /// 429 `TooManyRequests` (Graph's documented answer).
    #[default]
    TooManyRequests,
    /// 503 `Request_ThrottledTemporarily` "Your request is throttled temporarily. Please
    /// try after {n} seconds." (directory code seen in the wild; Azure AD Graph's table).
    ThrottledTemporarily,
}

/// Throttling numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleOptions {
    /// RU per window; `None` picks Graph's number from the tenant size
    /// (3,500 below 50 users, 5,000 up to 500, 8,000 above).
    pub ru_quota: Option<u32>,
    /// The RU window (Graph: 10 s).
    pub ru_window: Duration,
    /// Writes per app and tenant per write window (Graph: 3,000).
    pub write_quota: u32,
    /// The app's write window (Graph: 2 min 30 s).
    pub write_window: Duration,
    /// Writes per tenant across apps per tenant window (Graph: 18,000).
    pub tenant_write_quota: u32,
    /// The tenant's write window (Graph: 5 min).
    pub tenant_write_window: Duration,
    /// How quotas refill.
    pub refill: Refill,
    /// How a refusal is answered.
    pub refusal: Refusal,
    /// Emulated seconds per real second's worth of window: 1 for Graph's windows; 0.01
    /// after `time_scaled(0.01)`. Retry-After is computed in emulated seconds.
    pub time_scale: f64,
}

impl ThrottleOptions {
    /// Graph's documented numbers, fixed windows, 429 answers.
    pub fn graph() -> Self {
        Self {
            ru_quota: None,
            ru_window: Duration::from_secs(10),
            write_quota: 3000,
            write_window: Duration::from_secs(150),
            tenant_write_quota: 18_000,
            tenant_write_window: Duration::from_secs(300),
            refill: Refill::FixedWindow,
            refusal: Refusal::TooManyRequests,
            time_scale: 1.0,
        }
    }

    /// The same quotas over windows multiplied by `factor` (e.g. 0.01: 100× faster).
    /// `factor` must be finite and positive (validate flags before, see
    /// [`check_time_scale`]); anything else leaves the windows as they are.
    pub fn time_scaled(mut self, factor: f64) -> Self {
        if check_time_scale(factor).is_err() {
            return self;
        }
        self.ru_window = self.ru_window.mul_f64(factor);
        self.write_window = self.write_window.mul_f64(factor);
        self.tenant_write_window = self.tenant_write_window.mul_f64(factor);
        self.time_scale *= factor;
        self
    }
}

/// Accepts a window scale that keeps every window between a microsecond and a day.
pub fn check_time_scale(factor: f64) -> Result<f64, String> {
    if !factor.is_finite() || factor <= 0.0 {
        return Err(format!("{factor:e} is not a positive number"));
    }
    // Graph's longest window is 300 s, its shortest 10 s.
    if factor * 300.0 > 86_400.0 || factor * 10.0 < 1e-6 {
        return Err(format!(
            "{factor:e} would make the throttling windows shorter than a microsecond or longer than a day; use a value between 1e-7 and 288"
        ));
    }
    Ok(factor)
}

/// Graph's RU quota per 10 s for a tenant of `users` users.
pub fn ru_quota_for(users: usize) -> u32 {
    match users {
        0..50 => 3500,
        50..=500 => 5000,
        _ => 8000,
    }
}

/// One quota's state.
#[derive(Debug, Clone, Copy)]
struct Meter {
    /// Fixed window: units used in the window that started at `since`. Token bucket:
    /// tokens left at `since`.
    level: f64,
    since: Instant,
}

impl Meter {
    fn new(refill: Refill, quota: f64, now: Instant) -> Self {
        let level = match refill {
            Refill::FixedWindow => 0.0,
            Refill::TokenBucket => quota,
        };
        Self { level, since: now }
    }

    /// Brings the meter to `now`.
    fn advance(&mut self, refill: Refill, quota: f64, window: Duration, now: Instant) {
        let elapsed = now.saturating_duration_since(self.since);
        match refill {
            Refill::FixedWindow => {
                if elapsed >= window {
                    let w = window.as_secs_f64().max(1e-9);
                    let whole = (elapsed.as_secs_f64() / w).floor();
                    self.since += window.mul_f64(whole);
                    self.level = 0.0;
                }
            }
            Refill::TokenBucket => {
                let rate = quota / window.as_secs_f64().max(1e-9);
                self.level = (self.level + elapsed.as_secs_f64() * rate).min(quota);
                self.since = now;
            }
        }
    }

    /// How long until `cost` fits, or `None` when it fits now.
    fn wait(
        &self,
        refill: Refill,
        quota: f64,
        window: Duration,
        cost: f64,
        now: Instant,
    ) -> Option<Duration> {
        match refill {
            Refill::FixedWindow => (self.level + cost > quota)
                .then(|| (self.since + window).saturating_duration_since(now)),
            Refill::TokenBucket => (self.level < cost).then(|| {
                let rate = quota / window.as_secs_f64().max(1e-9);
                Duration::from_secs_f64(((cost - self.level) / rate).max(0.0))
            }),
        }
    }

    fn charge(&mut self, refill: Refill, cost: f64) {
        match refill {
            Refill::FixedWindow => self.level += cost,
            Refill::TokenBucket => self.level -= cost,
        }
    }

    /// Share of the quota in use.
    fn usage(&self, refill: Refill, quota: f64) -> f64 {
        match refill {
            Refill::FixedWindow => self.level / quota.max(1.0),
            Refill::TokenBucket => 1.0 - self.level / quota.max(1.0),
        }
    }
}

/// The outcome of a throttle check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Allowed; `usage` is the share of the tightest quota in use (for
    /// `x-ms-throttle-limit-percentage`).
    Allow {
        /// Used share, 0..=1.
        usage: f64,
    },
    /// Refused.
    Deny {
        /// The Retry-After header value.
        retry_after: String,
        /// Whole emulated seconds until the request would fit (for the 503 message).
        seconds: u64,
        /// `ResourceUnitLimitExceeded` or `WriteLimitExceeded`.
        information: &'static str,
        /// `Read`, `Write` or `ReadWrite`.
        kind: &'static str,
        /// `Tenant_Application` or `Tenant`.
        scope: &'static str,
    },
}

/// The quotas: per app (resource units, writes) and per tenant (writes).
#[derive(Debug)]
pub(crate) struct Throttle {
    options: ThrottleOptions,
    ru_quota: f64,
    ru: HashMap<String, Meter>,
    writes: HashMap<String, Meter>,
    tenant_writes: Option<Meter>,
}

/// Retry-After for a wait: whole emulated seconds, at least 1, scaled back to real time
/// when the windows are scaled (then a decimal, e.g. `0.030` for 3 s at scale 0.01).
pub(crate) fn retry_after_header(wait: Duration, time_scale: f64) -> (String, u64) {
    let scale = if time_scale.is_finite() && time_scale > 0.0 {
        time_scale
    } else {
        1.0
    };
    let emulated = wait.as_secs_f64() / scale;
    let seconds = if emulated.is_finite() {
        (emulated.ceil() as u64).max(1)
    } else {
        u64::MAX
    };
    if (scale - 1.0).abs() < f64::EPSILON {
        (seconds.to_string(), seconds)
    } else {
        (
            format!("{:.3}", (seconds as f64 * scale).max(0.001)),
            seconds,
        )
    }
}

impl Throttle {
    /// A throttle for a tenant of `users` users.
    pub(crate) fn new(options: ThrottleOptions, users: usize) -> Self {
        let ru_quota = f64::from(options.ru_quota.unwrap_or_else(|| ru_quota_for(users)));
        Self {
            options,
            ru_quota,
            ru: HashMap::new(),
            writes: HashMap::new(),
            tenant_writes: None,
        }
    }

    /// Charges `ru` resource units (and one write when `write`) to `app` at `now`.
    pub(crate) fn check(&mut self, app: &str, ru: u32, write: bool, now: Instant) -> Verdict {
        let o = &self.options;
        let refill = o.refill;
        let quotas = [
            (self.ru_quota, o.ru_window),
            (f64::from(o.write_quota), o.write_window),
            (f64::from(o.tenant_write_quota), o.tenant_write_window),
        ];
        let ru_meter = self
            .ru
            .entry(app.to_owned())
            .or_insert_with(|| Meter::new(refill, quotas[0].0, now));
        ru_meter.advance(refill, quotas[0].0, quotas[0].1, now);
        let write_meter = self
            .writes
            .entry(app.to_owned())
            .or_insert_with(|| Meter::new(refill, quotas[1].0, now));
        write_meter.advance(refill, quotas[1].0, quotas[1].1, now);
        let tenant_meter = self
            .tenant_writes
            .get_or_insert_with(|| Meter::new(refill, quotas[2].0, now));
        tenant_meter.advance(refill, quotas[2].0, quotas[2].1, now);
        let deny = |wait: Duration, information, kind, scope| {
            let (retry_after, seconds) = retry_after_header(wait, o.time_scale);
            Verdict::Deny {
                retry_after,
                seconds,
                information,
                kind,
                scope,
            }
        };
        let cost = f64::from(ru);
        if let Some(wait) = ru_meter.wait(refill, quotas[0].0, quotas[0].1, cost, now) {
            let kind = if write { "ReadWrite" } else { "Read" };
            return deny(
                wait,
                "ResourceUnitLimitExceeded",
                kind,
                "Tenant_Application",
            );
        }
        if write {
            if let Some(wait) = write_meter.wait(refill, quotas[1].0, quotas[1].1, 1.0, now) {
                return deny(wait, "WriteLimitExceeded", "Write", "Tenant_Application");
            }
            if let Some(wait) = tenant_meter.wait(refill, quotas[2].0, quotas[2].1, 1.0, now) {
                return deny(wait, "WriteLimitExceeded", "Write", "Tenant");
            }
        }
        ru_meter.charge(refill, cost);
        let mut usage = ru_meter.usage(refill, quotas[0].0);
        if write {
            write_meter.charge(refill, 1.0);
            tenant_meter.charge(refill, 1.0);
            usage = usage
                .max(write_meter.usage(refill, quotas[1].0))
                .max(tenant_meter.usage(refill, quotas[2].0));
        }
        Verdict::Allow { usage }
    }
}

/// Formats an injected fault's Retry-After of `secs` seconds as given: whole seconds as
/// an integer, anything else as a decimal (fractional values were seen in the wild on
/// directory batch items, <https://github.com/microsoftgraph/microsoft-graph-docs/issues/3877>).
/// `secs` is validated when the fault spec is parsed (0 to a day).
pub(crate) fn fault_retry_after(secs: f64) -> String {
    let secs = secs.clamp(0.0, 86_400.0);
    if secs.fract() == 0.0 {
        format!("{}", secs as u64)
    } else {
        format!("{secs:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(refill: Refill) -> ThrottleOptions {
        ThrottleOptions {
            ru_quota: Some(1000),
            ru_window: Duration::from_secs(10),
            write_quota: 3,
            write_window: Duration::from_secs(3),
            tenant_write_quota: 5,
            tenant_write_window: Duration::from_secs(60),
            refill,
            ..ThrottleOptions::graph()
        }
    }

    fn allowed(v: &Verdict) -> bool {
        matches!(v, Verdict::Allow { .. })
    }

    #[test]
    fn quotas_follow_tenant_size() {
        assert_eq!(ru_quota_for(10), 3500);
        assert_eq!(ru_quota_for(50), 5000);
        assert_eq!(ru_quota_for(500), 5000);
        assert_eq!(ru_quota_for(501), 8000);
    }

    #[test]
    fn a_fixed_window_stays_closed_until_it_ends() {
        let mut t = Throttle::new(small(Refill::FixedWindow), 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(allowed(&t.check("a", 1, true, start)));
        }
        let later = start + Duration::from_millis(2100);
        let Verdict::Deny {
            retry_after,
            information,
            scope,
            ..
        } = t.check("a", 1, true, later)
        else {
            panic!("the fourth write in the window is refused");
        };
        assert_eq!(
            (retry_after.as_str(), information, scope),
            ("1", "WriteLimitExceeded", "Tenant_Application"),
            "0.9 s left, rounded up to whole seconds"
        );
        assert!(
            !allowed(&t.check("a", 1, true, start + Duration::from_millis(2999))),
            "a bucket would have refilled by now; a window has not"
        );
        assert!(allowed(&t.check(
            "a",
            1,
            true,
            start + Duration::from_secs(3)
        )));
    }

    #[test]
    fn the_tenant_quota_binds_across_apps() {
        let mut t = Throttle::new(small(Refill::FixedWindow), 10);
        let now = Instant::now();
        for app in ["a", "a", "a", "b", "b"] {
            assert!(allowed(&t.check(app, 1, true, now)), "{app}");
        }
        let Verdict::Deny {
            scope, retry_after, ..
        } = t.check("c", 1, true, now)
        else {
            panic!("the tenant's sixth write is refused for any app");
        };
        assert_eq!((scope, retry_after.as_str()), ("Tenant", "60"));
        assert!(allowed(&t.check("c", 1, false, now)), "reads pass");
    }

    #[test]
    fn a_token_bucket_refills_continuously() {
        let mut t = Throttle::new(small(Refill::TokenBucket), 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(allowed(&t.check("a", 1, true, start)));
        }
        assert!(!allowed(&t.check("a", 1, true, start)));
        assert!(allowed(&t.check(
            "a",
            1,
            true,
            start + Duration::from_secs(1)
        )));
    }

    #[test]
    fn retry_after_is_whole_emulated_seconds_scaled_back() {
        assert_eq!(retry_after_header(Duration::from_millis(2128), 1.0).0, "3");
        assert_eq!(retry_after_header(Duration::from_millis(20), 1.0).0, "1");
        assert_eq!(retry_after_header(Duration::ZERO, 1.0).0, "1");
        assert_eq!(
            retry_after_header(Duration::from_millis(25), 0.01).0,
            "0.030"
        );
        assert_eq!(fault_retry_after(0.05), "0.050");
        assert_eq!(fault_retry_after(2.0), "2");
    }

    #[test]
    fn out_of_range_time_scales_are_refused() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300, 1e-300] {
            assert!(check_time_scale(bad).is_err(), "{bad}");
        }
        assert_eq!(check_time_scale(0.01), Ok(0.01));
        let o = ThrottleOptions::graph().time_scaled(1e300);
        assert_eq!(o, ThrottleOptions::graph(), "never a panic");
    }
}
