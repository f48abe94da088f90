//! Graph's identity-and-access throttling model (https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-service-limits): a resource-unit token
//! bucket per app and tenant sized by tenant size, plus a write quota per app and tenant.
//! Windows are configurable so tests and benchmarks can shrink time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Throttling numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleOptions {
    /// RU per window; `None` picks Graph's number from the tenant size
    /// (3,500 below 50 users, 5,000 up to 500, 8,000 above).
    pub ru_quota: Option<u32>,
    /// The RU window (Graph: 10 s).
    pub ru_window: Duration,
    /// Writes per write window (Graph: 3,000).
    pub write_quota: u32,
    /// The write window (Graph: 2 min 30 s).
    pub write_window: Duration,
}

impl ThrottleOptions {
    /// Graph's documented numbers.
    pub fn graph() -> Self {
        Self {
            ru_quota: None,
            ru_window: Duration::from_secs(10),
            write_quota: 3000,
            write_window: Duration::from_secs(150),
        }
    }

    /// The same quotas over windows multiplied by `factor` (e.g. 0.01: 100× faster).
    pub fn time_scaled(mut self, factor: f64) -> Self {
        let f = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        self.ru_window = self.ru_window.mul_f64(f);
        self.write_window = self.write_window.mul_f64(f);
        self
    }
}

/// Graph's RU quota per 10 s for a tenant of `users` users.
pub fn ru_quota_for(users: usize) -> u32 {
    match users {
        0..50 => 3500,
        50..=500 => 5000,
        _ => 8000,
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    ru: f64,
    writes: f64,
    last: Instant,
}

/// The outcome of a throttle check.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Allowed; `usage` is the share of the quota in use (for `x-ms-throttle-limit-percentage`).
    Allow {
        /// Used share of the tightest quota, 0..=1.
        usage: f64,
    },
    /// Refused.
    Deny {
        /// When the request would fit.
        retry_after: Duration,
        /// `ResourceUnitLimitExceeded` or `WriteLimitExceeded`.
        information: &'static str,
        /// `Read`, `Write` or `ReadWrite`.
        kind: &'static str,
    },
}

/// Per-app buckets.
#[derive(Debug)]
pub struct Throttle {
    options: ThrottleOptions,
    ru_quota: f64,
    buckets: HashMap<String, Bucket>,
}

impl Throttle {
    /// A throttle for a tenant of `users` users.
    pub fn new(options: ThrottleOptions, users: usize) -> Self {
        let ru_quota = f64::from(options.ru_quota.unwrap_or_else(|| ru_quota_for(users)));
        Self {
            options,
            ru_quota,
            buckets: HashMap::new(),
        }
    }

    /// Charges `ru` resource units (and one write when `write`) to `app` at `now`.
    pub fn check(&mut self, app: &str, ru: u32, write: bool, now: Instant) -> Verdict {
        let ru_quota = self.ru_quota;
        let w_quota = f64::from(self.options.write_quota);
        let ru_rate = ru_quota / self.options.ru_window.as_secs_f64().max(1e-9);
        let w_rate = w_quota / self.options.write_window.as_secs_f64().max(1e-9);
        let b = self.buckets.entry(app.to_owned()).or_insert(Bucket {
            ru: ru_quota,
            writes: w_quota,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.ru = (b.ru + elapsed * ru_rate).min(ru_quota);
        b.writes = (b.writes + elapsed * w_rate).min(w_quota);
        b.last = now;
        let cost = f64::from(ru);
        if b.ru < cost {
            return Verdict::Deny {
                retry_after: Duration::from_secs_f64((cost - b.ru) / ru_rate),
                information: "ResourceUnitLimitExceeded",
                kind: if write { "ReadWrite" } else { "Read" },
            };
        }
        if write && b.writes < 1.0 {
            return Verdict::Deny {
                retry_after: Duration::from_secs_f64((1.0 - b.writes) / w_rate),
                information: "WriteLimitExceeded",
                kind: "Write",
            };
        }
        b.ru -= cost;
        if write {
            b.writes -= 1.0;
        }
        let usage = (1.0 - b.ru / ru_quota).max(1.0 - b.writes / w_quota);
        Verdict::Allow { usage }
    }
}

/// Formats a Retry-After value: whole seconds (at least 1) when the wait is a second
/// or more, else a decimal with millisecond precision (Graph has sent `2.128`).
pub fn retry_after_value(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{}", secs.ceil() as u64)
    } else {
        format!("{:.3}", secs.max(0.001))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_follow_tenant_size() {
        assert_eq!(ru_quota_for(10), 3500);
        assert_eq!(ru_quota_for(50), 5000);
        assert_eq!(ru_quota_for(500), 5000);
        assert_eq!(ru_quota_for(501), 8000);
    }

    #[test]
    fn write_quota_refuses_then_refills() {
        let opts = ThrottleOptions {
            ru_quota: Some(1000),
            ru_window: Duration::from_secs(10),
            write_quota: 3,
            write_window: Duration::from_secs(3),
        };
        let mut t = Throttle::new(opts, 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(matches!(
                t.check("a", 1, true, start),
                Verdict::Allow { .. }
            ));
        }
        let Verdict::Deny {
            retry_after,
            information,
            ..
        } = t.check("a", 1, true, start)
        else {
            panic!("fourth write must be refused");
        };
        assert_eq!(information, "WriteLimitExceeded");
        assert!(retry_after <= Duration::from_secs(1));
        assert!(
            matches!(t.check("b", 1, true, start), Verdict::Allow { .. }),
            "other app has its own bucket"
        );
        assert!(matches!(
            t.check("a", 1, true, start + Duration::from_secs(1)),
            Verdict::Allow { .. }
        ));
        assert_eq!(retry_after_value(Duration::from_millis(2128)), "3");
        assert_eq!(retry_after_value(Duration::from_millis(20)), "0.020");
    }
}
