//! When a user last signed in, and since when an account is disabled — the facts
//! `inactive_days`, `disabled_days` and the idle seats of `licensectl seats` compare with
//! "now".
//!
//! - **Sign-ins**: `signInActivity.lastSuccessfulSignInDateTime` ("the most recent
//!   successful interactive or non-interactive sign-in … use this property if you need
//!   to determine when the account was truly accessed"; recorded since December 2023),
//!   falling back to `lastSignInDateTime` (the last interactive attempt) when it is
//!   null (https://learn.microsoft.com/en-us/graph/api/resources/signinactivity). Graph
//!   writes `0001-01-01T00:00:00Z` for a kind of sign-in that never happened. A user
//!   whose snapshot carries no `signInActivity` at all was not read (it needs
//!   AuditLog.Read.All and Microsoft Entra ID P1/P2).
//! - **Disabled since**: Graph v1.0 has no date on which `accountEnabled` became false.
//!   The one record of it is the directory audit log's `Disable account` entry for the
//!   user (`GET /auditLogs/directoryAudits`), kept 7 days on Entra ID Free and 30 with
//!   P1/P2 (https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-data-retention).
//!   The date is that of the latest successful `Disable account` entry, unless an
//!   `Enable account` entry follows it. A disabled account with no such entry — disabled
//!   before the log's retention, created disabled, or disabled by a change the log does
//!   not record as `Disable account` — has no known date: nothing is guessed.
//!
//! Pure.

use time::OffsetDateTime;

use crate::snapshot::{DirectoryAudit, User};

use super::expiry::parse_time;

/// What the tenant state says about a user's last sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastSignIn {
    /// The snapshot holds no sign-in activity for the user (not read).
    NotRead,
    /// The user never signed in (or not since sign-ins are recorded).
    Never,
    /// The last sign-in.
    At(OffsetDateTime),
}

/// A recorded time: `None` for null, unparsable text and Graph's "never"
/// (`0001-01-01T00:00:00Z`).
fn recorded(text: Option<&str>) -> Option<OffsetDateTime> {
    parse_time(text?).filter(|t| t.year() > 1)
}

/// The user's last sign-in (see the module docs).
pub(crate) fn last_sign_in(user: &User) -> LastSignIn {
    let Some(activity) = &user.sign_in_activity else {
        return LastSignIn::NotRead;
    };
    recorded(activity.last_successful_sign_in_date_time.as_deref())
        .or_else(|| recorded(activity.last_sign_in_date_time.as_deref()))
        .map_or(LastSignIn::Never, LastSignIn::At)
}

/// Whole days from `then` to `now` (0 when `then` is later).
pub(crate) fn days_between(then: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (now - then).whole_days().max(0)
}

/// Since when an account is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DisabledSince {
    /// The account is enabled (or the snapshot does not say).
    Enabled,
    /// Disabled; the snapshot holds no audit log to date it by.
    NoAuditLog,
    /// Disabled; the audit log holds no `Disable account` entry dating it.
    Unknown,
    /// Disabled since this time (the audit log's entry).
    Since(OffsetDateTime),
}

/// Since when `user`'s account is disabled, from `audits` (the snapshot's
/// `directoryAudits`; `None` when not read).
pub(crate) fn disabled_since(user: &User, audits: Option<&[DirectoryAudit]>) -> DisabledSince {
    if user.account_enabled != Some(false) {
        return DisabledSince::Enabled;
    }
    let Some(audits) = audits else {
        return DisabledSince::NoAuditLog;
    };
    let id = user.id.to_string();
    let latest = audits
        .iter()
        .filter(|e| e.succeeded())
        .filter(|e| {
            e.activity_display_name
                .eq_ignore_ascii_case("Disable account")
                || e.activity_display_name
                    .eq_ignore_ascii_case("Enable account")
        })
        .filter(|e| {
            e.target_resources
                .iter()
                .any(|t| t.id.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(&id)))
        })
        .filter_map(|e| Some((parse_time(&e.activity_date_time)?, e)))
        .max_by_key(|(at, _)| *at);
    match latest {
        Some((at, e))
            if e.activity_display_name
                .eq_ignore_ascii_case("Disable account") =>
        {
            DisabledSince::Since(at)
        }
        _ => DisabledSince::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::snapshot::{SignInActivity, TargetResource};

    fn user(enabled: bool) -> User {
        User {
            account_enabled: Some(enabled),
            ..User::new(UserId(uuid::Uuid::from_u128(7)), "u@contoso.com")
        }
    }

    fn entry(activity: &str, at: &str, result: &str) -> DirectoryAudit {
        DirectoryAudit {
            id: format!("{activity}-{at}"),
            category: Some("UserManagement".into()),
            correlation_id: None,
            result: Some(result.into()),
            result_reason: None,
            activity_display_name: activity.into(),
            activity_date_time: at.into(),
            logged_by_service: Some("Core Directory".into()),
            operation_type: None,
            initiated_by: None,
            target_resources: vec![TargetResource {
                id: Some(UserId(uuid::Uuid::from_u128(7)).to_string()),
                display_name: None,
                kind: Some("User".into()),
                user_principal_name: None,
            }],
        }
    }

    #[test]
    fn the_last_successful_sign_in_counts_then_the_last_attempt_and_never_is_never() {
        let mut u = user(true);
        assert_eq!(last_sign_in(&u), LastSignIn::NotRead);
        u.sign_in_activity = Some(Box::new(SignInActivity::default()));
        assert_eq!(last_sign_in(&u), LastSignIn::Never);
        u.sign_in_activity = Some(Box::new(SignInActivity {
            last_sign_in_date_time: Some("2026-10-01T00:00:00Z".into()),
            last_non_interactive_sign_in_date_time: Some("2026-11-30T00:00:00Z".into()),
            last_successful_sign_in_date_time: Some("0001-01-01T00:00:00Z".into()),
        }));
        assert_eq!(
            last_sign_in(&u),
            LastSignIn::At(parse_time("2026-10-01T00:00:00Z").expect("time"))
        );
        u.sign_in_activity = Some(Box::new(SignInActivity {
            last_successful_sign_in_date_time: Some("2026-09-01T00:00:00Z".into()),
            ..SignInActivity::default()
        }));
        let at = parse_time("2026-09-01T00:00:00Z").expect("time");
        assert_eq!(last_sign_in(&u), LastSignIn::At(at));
        let now = parse_time("2026-12-01T12:00:00Z").expect("time");
        assert_eq!(days_between(at, now), 91);
    }

    #[test]
    fn an_account_is_disabled_since_its_latest_disable_entry_unless_enabled_after() {
        assert_eq!(disabled_since(&user(true), None), DisabledSince::Enabled);
        let u = user(false);
        assert_eq!(disabled_since(&u, None), DisabledSince::NoAuditLog);
        assert_eq!(disabled_since(&u, Some(&[])), DisabledSince::Unknown);
        let log = [
            entry("Disable account", "2026-11-01T10:00:00.1234567Z", "success"),
            entry("Enable account", "2026-11-05T10:00:00Z", "success"),
            entry("Disable account", "2026-11-10T10:00:00Z", "success"),
            entry("Disable account", "2026-11-20T10:00:00Z", "failure"),
        ];
        assert_eq!(
            disabled_since(&u, Some(&log)),
            DisabledSince::Since(parse_time("2026-11-10T10:00:00Z").expect("time"))
        );
        // Enabled again after the last disable, yet disabled now: no date is known.
        assert_eq!(disabled_since(&u, Some(&log[..2])), DisabledSince::Unknown);
    }
}
