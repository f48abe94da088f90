//! "Now" for the commands: the clock, or the date `--as-of` gives (so that a plan or a
//! seat report can be reproduced, and shown as it will look on a later day). The planner
//! and the renderers take it as data.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// `--as-of`, else the clock.
pub(crate) fn now(as_of: Option<OffsetDateTime>) -> OffsetDateTime {
    as_of.unwrap_or_else(OffsetDateTime::now_utc)
}

/// Parses `--as-of`: a date (`2026-12-01`, midnight UTC) or an RFC 3339 time
/// (`2026-12-01T09:30:00Z`).
pub(crate) fn parse_as_of(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    time::Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            format!("'{text}' is neither a date (2026-12-01) nor an RFC 3339 time (2026-12-01T09:30:00Z)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_a_date_or_an_rfc3339_time() {
        assert_eq!(
            parse_as_of("2026-12-01").map(|t| t.unix_timestamp()),
            Ok(1_796_083_200)
        );
        assert_eq!(
            parse_as_of("2026-12-01T01:00:00+01:00").map(|t| t.unix_timestamp()),
            Ok(1_796_083_200)
        );
        assert!(parse_as_of("yesterday").is_err());
        assert!(parse_as_of("2026-13-01").is_err());
    }
}
