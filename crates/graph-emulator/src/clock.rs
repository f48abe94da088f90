//! Wall-clock time (UTC) and the three ways Graph and the token endpoint write it.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The moment of one write: its monotonic instant (replication and throttling compare
/// these) and its wall-clock time (what Graph writes into `lastUpdatedDateTime`).
#[derive(Debug, Clone)]
pub(crate) struct Stamp {
    /// Monotonic time.
    pub(crate) at: Instant,
    /// Milliseconds since the Unix epoch.
    pub(crate) unix_ms: i64,
}

impl Stamp {
    /// Now.
    pub(crate) fn now() -> Self {
        Self {
            at: Instant::now(),
            unix_ms: unix_now_ms(),
        }
    }

    /// `2025-02-13T10:17:06Z`.
    pub(crate) fn iso(&self) -> String {
        iso_utc(self.unix_ms.div_euclid(1000))
    }

    /// `2025-02-13T10:17:06.123Z`.
    pub(crate) fn iso_millis(&self) -> String {
        iso_utc_millis(self.unix_ms)
    }
}

/// `secs` in `format`; an instant outside years 0000–9999 is written as the epoch.
fn format(secs: i64, format: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(format)
        .unwrap_or_default()
}

/// `2025-02-13T10:17:06` (Graph's `innerError.date`).
pub(crate) fn graph_date(secs: i64) -> String {
    format(
        secs,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    )
}

/// `2025-02-13T10:17:06Z` (an `Edm.DateTimeOffset`).
pub(crate) fn iso_utc(secs: i64) -> String {
    format(
        secs,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"),
    )
}

/// `2025-02-13T10:17:06.123Z` from milliseconds since the epoch.
pub(crate) fn iso_utc_millis(ms: i64) -> String {
    let secs = iso_utc(ms.div_euclid(1000));
    let millis = ms.rem_euclid(1000);
    match secs.strip_suffix('Z') {
        Some(stem) => format!("{stem}.{millis:03}Z"),
        None => secs,
    }
}

/// `2025-02-13 10:17:06Z` (the token endpoint's `timestamp`).
pub(crate) fn aad_timestamp(secs: i64) -> String {
    format(
        secs,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(graph_date(0), "1970-01-01T00:00:00");
        assert_eq!(iso_utc(1_739_441_826), "2025-02-13T10:17:06Z");
        assert_eq!(aad_timestamp(951_782_400), "2000-02-29 00:00:00Z");
        assert_eq!(
            iso_utc_millis(1_739_441_826_042),
            "2025-02-13T10:17:06.042Z"
        );
    }

    #[test]
    fn pads_small_years_and_falls_back_to_the_epoch_outside_four_digits() {
        // 0099-12-31T23:59:59: zero-padded like the hand-written formatter did.
        assert_eq!(iso_utc(-59_011_459_201), "0099-12-31T23:59:59Z");
        assert_eq!(graph_date(i64::MAX), "1970-01-01T00:00:00");
        assert_eq!(aad_timestamp(i64::MIN), "1970-01-01 00:00:00Z");
    }
}
