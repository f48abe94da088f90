//! Injected faults: with a seeded generator, a share of requests answers 429, 503 (with
//! Retry-After), 504, drops the connection, or is slowed down.

use std::str::FromStr;
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::error::EmulatorError;

/// Fault rates (each 0..=1; their sum at most 1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSpec {
    /// Share answered 429 `TooManyRequests`.
    pub throttle: f64,
    /// Share answered 429 as Graph does "under an important load", before any quota is
    /// reached (`x-ms-throttle-information: CPULimitExceeded`).
    pub load: f64,
    /// Share answered 503 with Retry-After.
    pub unavailable: f64,
    /// Share answered 504.
    pub timeout: f64,
    /// Share whose connection is dropped.
    pub drop: f64,
    /// Share slowed down by `slow_ms`.
    pub slow: f64,
    /// Delay of a slow response in milliseconds (default 2000).
    pub slow_ms: u64,
    /// Retry-After of injected 429/503 in seconds (default 1; sent as whole seconds, at
    /// least 1; at most a day).
    pub retry_after_secs: f64,
}

/// The longest `slow-ms` and `retry-after` a fault may ask for: one day.
const MAX_SECONDS: f64 = 86_400.0;

impl FaultSpec {
    /// True when no fault is configured.
    pub fn is_off(&self) -> bool {
        self.throttle + self.load + self.unavailable + self.timeout + self.drop + self.slow == 0.0
    }
}

impl FromStr for FaultSpec {
    type Err = EmulatorError;

    /// Parses `429=0.05,load429=0.01,503=0.02,504=0.01,drop=0.01,slow=0.05,slow-ms=2000,retry-after=1`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| EmulatorError::Faults {
            spec: spec.to_owned(),
            reason,
        };
        let mut out = FaultSpec {
            slow_ms: 2000,
            retry_after_secs: 1.0,
            ..FaultSpec::default()
        };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| err(format!("'{part}' has no '='")))?;
            let num: f64 = v
                .trim()
                .parse()
                .map_err(|_| err(format!("'{v}' is not a number")))?;
            if !num.is_finite() || num < 0.0 {
                return Err(err(format!("'{v}' must be a non-negative number")));
            }
            let rate = |n: f64| {
                if n > 1.0 {
                    Err(err(format!("rate {n} for '{k}' is above 1")))
                } else {
                    Ok(n)
                }
            };
            match k.trim() {
                "429" => out.throttle = rate(num)?,
                "load429" => out.load = rate(num)?,
                "503" => out.unavailable = rate(num)?,
                "504" => out.timeout = rate(num)?,
                "drop" => out.drop = rate(num)?,
                "slow" => out.slow = rate(num)?,
                "slow-ms" if num <= MAX_SECONDS * 1000.0 => out.slow_ms = num as u64,
                "retry-after" if num <= MAX_SECONDS => out.retry_after_secs = num,
                "slow-ms" | "retry-after" => {
                    return Err(err(format!(
                        "'{v}' for '{k}' is more than a day; use at most {}",
                        if k.trim() == "slow-ms" {
                            "86400000"
                        } else {
                            "86400"
                        }
                    )));
                }
                other => return Err(err(format!("unknown fault '{other}'"))),
            }
        }
        if out.throttle + out.load + out.unavailable + out.timeout + out.drop + out.slow > 1.0 {
            return Err(err("the rates add up to more than 1".to_owned()));
        }
        Ok(out)
    }
}

/// One draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// No fault.
    None,
    /// 429.
    Throttle,
    /// 429 under load, before any quota.
    Load,
    /// 503.
    Unavailable,
    /// 504.
    Timeout,
    /// Dropped connection.
    Drop,
    /// Slow response.
    Slow(Duration),
}

/// The seeded fault generator.
#[derive(Debug)]
pub(crate) struct Faults {
    spec: FaultSpec,
    rng: StdRng,
}

impl Faults {
    /// A generator for `spec` seeded with `seed`.
    pub(crate) fn new(spec: FaultSpec, seed: u64) -> Self {
        Self {
            spec,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Draws the fault for the next request.
    pub(crate) fn draw(&mut self) -> Fault {
        if self.spec.is_off() {
            return Fault::None;
        }
        let x: f64 = self.rng.random();
        let s = &self.spec;
        let mut acc = s.throttle;
        if x < acc {
            return Fault::Throttle;
        }
        acc += s.load;
        if x < acc {
            return Fault::Load;
        }
        acc += s.unavailable;
        if x < acc {
            return Fault::Unavailable;
        }
        acc += s.timeout;
        if x < acc {
            return Fault::Timeout;
        }
        acc += s.drop;
        if x < acc {
            return Fault::Drop;
        }
        acc += s.slow;
        if x < acc {
            return Fault::Slow(Duration::from_millis(s.slow_ms));
        }
        Fault::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_are_refused() {
        let s: FaultSpec = "429=0.1, 503=0.05,drop=0.01,slow=0.2,slow-ms=50"
            .parse()
            .expect("valid");
        assert_eq!(s.throttle, 0.1);
        assert_eq!(s.slow_ms, 50);
        for bad in [
            "429",
            "429=x",
            "418=0.1",
            "429=0.9,503=0.2",
            "slow=-1",
            "retry-after=1e308",
            "slow-ms=1e300",
            "retry-after=inf",
            "load429=2",
        ] {
            assert!(bad.parse::<FaultSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn draws_are_deterministic_for_a_seed() {
        let spec: FaultSpec = "429=0.3,503=0.3".parse().expect("valid");
        let a: Vec<Fault> = {
            let mut f = Faults::new(spec.clone(), 7);
            (0..50).map(|_| f.draw()).collect()
        };
        let mut f = Faults::new(spec, 7);
        let b: Vec<Fault> = (0..50).map(|_| f.draw()).collect();
        assert_eq!(a, b);
        assert!(a.contains(&Fault::Throttle) && a.contains(&Fault::None));
    }
}
