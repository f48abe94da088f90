//! Pacing a phase's writes to the rate Graph accepts (see [`Pacer`]). Pure: the caller
//! measures each round and sleeps for the pause it is given.

use std::time::Duration;

use crate::graph::client::BATCH_MAX;

/// The time one paced round of writes is meant to take: short, so that a round is a small
/// burst (a burst of a second's writes overruns a token bucket that refills steadily).
const PACE_INTERVAL: Duration = Duration::from_millis(100);
/// The longest round the pacer plans for (Graph answering a `$batch` slowly).
const MAX_ROUND: Duration = Duration::from_secs(10);
/// The slowest pace (writes per second).
const MIN_RATE: f64 = 1.0;
/// The largest round before Graph first throttles (bounds the 429s of the round that
/// finds the budget's edge).
const SLOW_START_MAX: usize = 2000;

/// Paces a phase's writes so that a long apply settles at the tenant's write budget
/// instead of re-sending everything into a wall of 429s. Until Graph first throttles, the
/// round size doubles after each clean round, up to 2,000 writes (slow start). A throttled
/// round sets the rate to a quarter above the rate Graph accepted in it (the share of the
/// round's writes not answered 429, at the rate they were sent; the first throttled round
/// measures over its duration, at least 100 ms): at a write budget that converges on
/// the budget with about one 429 per four writes, while 429s that come at random (Graph
/// under load, up to one in five) leave the rate where it was instead of ratcheting it
/// down. 503s, dropped connections and failed items say nothing about the rate and do not
/// move it. A full clean round grows the rate by a quarter (an underestimate recovers
/// within a few rounds). A round carries the writes the rate allows over the time a round
/// takes (at least 100 ms, longer when Graph answers slowly), so that latency does not
/// pass for throttling; it is spread to take `sent / rate` seconds. Pure: the caller
/// measures and sleeps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pacer {
    wave: usize,
    rate: Option<f64>,
    /// How long the last round's writes took (at least [`PACE_INTERVAL`]).
    round: Duration,
}

impl Pacer {
    /// A pacer whose first round sends `initial` writes.
    pub(crate) fn new(initial: usize) -> Self {
        Self {
            wave: initial.max(1),
            rate: None,
            round: PACE_INTERVAL,
        }
    }

    /// The learned rate (writes per second), once Graph has throttled.
    #[cfg(test)]
    pub(crate) fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// How many writes the next round may send.
    pub(crate) fn wave(&self) -> usize {
        match self.rate {
            None => self.wave,
            Some(r) => ((r * self.round.as_secs_f64()).round() as usize).max(BATCH_MAX),
        }
    }

    /// Records a round that sent `sent` writes, of which `throttled` were answered 429, in
    /// `elapsed`; returns the pause before the next round.
    pub(crate) fn record(&mut self, sent: usize, throttled: usize, elapsed: Duration) -> Duration {
        let full = sent >= self.wave();
        let accepted = sent.saturating_sub(throttled) as f64;
        self.rate = match (self.rate, throttled > 0) {
            (None, false) => {
                if full {
                    self.wave = self
                        .wave
                        .saturating_mul(2)
                        .min(SLOW_START_MAX.max(self.wave));
                }
                None
            }
            (None, true) => {
                // A round that found the edge fast says little about the refill rate:
                // measure it over at least one pacing interval.
                let secs = elapsed.max(PACE_INTERVAL).as_secs_f64();
                Some((accepted / secs * 1.25).max(MIN_RATE))
            }
            // The share Graph accepted of writes sent at rate `r`, not writes over elapsed
            // time: a round that took long because Graph answered slowly was not throttled.
            (Some(r), true) => Some((r * accepted / sent.max(1) as f64 * 1.25).max(MIN_RATE)),
            (Some(r), false) if full => Some(r * 1.25),
            (Some(r), false) => Some(r),
        };
        self.round = elapsed.clamp(PACE_INTERVAL, MAX_ROUND);
        match self.rate {
            Some(r) => Duration::from_secs_f64((sent as f64 / r).min(60.0)).saturating_sub(elapsed),
            None => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_slow_starts_then_settles_on_a_rate() {
        let ms = Duration::from_millis;
        let mut p = Pacer::new(160);
        assert_eq!(p.record(160, 0, ms(10)), Duration::ZERO);
        assert_eq!(p.wave(), 320, "slow start doubles");
        // A short round (the last items) does not grow the wave.
        p.record(100, 0, ms(10));
        assert_eq!(p.wave(), 320);
        // First throttle: a quarter above what got through.
        let pause = p.record(320, 160, ms(100));
        assert_eq!(p.rate(), Some(2000.0));
        assert_eq!(p.wave(), 200, "a pacing interval of writes at 2,000/s");
        assert_eq!(pause, ms(60), "the round is spread to 160 ms");
        // At a budget of 1,200/s the round of 200 (over 100 ms) gets 120 through.
        p.record(200, 80, ms(100));
        assert_eq!(p.rate(), Some(1500.0));
        // Random 429s on a fifth of the writes leave the rate alone (503s and dropped
        // connections are not counted at all).
        assert_eq!(p.wave(), 150);
        p.record(150, 30, ms(100));
        assert_eq!(p.rate(), Some(1500.0));
        // A full clean round grows it by a quarter.
        p.record(150, 0, ms(100));
        assert_eq!(p.rate(), Some(1875.0));
    }

    #[test]
    fn the_pacer_does_not_take_latency_for_throttling() {
        let mut p = Pacer::new(160);
        p.record(160, 40, Duration::from_millis(100));
        assert_eq!(p.rate(), Some(1500.0));
        // Graph takes 2 s to answer: the rate holds under random 429s instead of falling
        // by the ratio of latency to interval, and a round carries 2 s of writes.
        p.record(150, 30, Duration::from_secs(2));
        assert_eq!(p.rate(), Some(1500.0));
        assert_eq!(p.wave(), 3000, "two seconds of writes");
        for _ in 0..10 {
            let wave = p.wave();
            p.record(wave, wave / 5, Duration::from_secs(2));
        }
        assert_eq!(p.rate(), Some(1500.0));
        // A budget below the rate still brings it down: half the writes refused.
        p.record(3000, 1500, Duration::from_secs(2));
        assert_eq!(p.rate(), Some(937.5));
    }

    #[test]
    fn the_pacer_never_stops() {
        let mut p = Pacer::new(160);
        for _ in 0..40 {
            p.record(20, 20, Duration::from_millis(10));
        }
        assert_eq!(p.rate(), Some(MIN_RATE));
        assert_eq!(p.wave(), BATCH_MAX, "never a round under one batch");
    }
}
