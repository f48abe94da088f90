//! Subscription lifecycle dates against the plan's seats: a SKU the plan adds seats of,
//! whose seats in use after the plan exceed what remains once its next subscription
//! reaches `nextLifecycleDateTime`, gets a `seats-expire` warning with the date.
//!
//! `GET /directory/subscriptions` gives each subscription of a SKU its `status`,
//! `totalLicenses`, `isTrial` and `nextLifecycleDateTime` ("when the subscription will
//! move to the next state … if not renewed",
//! https://learn.microsoft.com/en-us/graph/api/resources/companysubscription). An active
//! subscription that is not renewed moves to its grace period (`Warning`) on that date;
//! units in their grace period are not counted as assignable (see `seats`), so the seats
//! that remain are the SKU's enabled units minus those of the subscriptions whose date
//! comes first. Pure: "now" is data (`PlanOptions::now`); without it nothing is checked.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::snapshot::{CapabilityStatus, CompanySubscription};

use super::model::SeatRow;
use super::resolve::TenantIndex;

/// An ISO 8601 time as Graph writes it, `None` when it does not parse.
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

/// `2026-12-15`.
pub(crate) fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The SKU's next lifecycle date among its active subscriptions (one in the past counts
/// as due now), with the units and subscriptions that reach it then.
pub(crate) struct Lapse<'s> {
    /// The date.
    pub(crate) at: OffsetDateTime,
    /// Units of the subscriptions that reach it.
    pub(crate) units: i64,
    /// Those subscriptions.
    pub(crate) subscriptions: Vec<&'s CompanySubscription>,
}

/// The next lapse of the active subscriptions in `subscriptions` (of one SKU).
pub(crate) fn next_lapse<'s>(
    subscriptions: impl Iterator<Item = &'s CompanySubscription>,
    now: OffsetDateTime,
) -> Option<Lapse<'s>> {
    let dated: Vec<(OffsetDateTime, &CompanySubscription)> = subscriptions
        .filter(|s| s.status == CapabilityStatus::Enabled)
        .filter_map(|s| {
            let at = parse_time(s.next_lifecycle_date_time.as_deref()?)?;
            Some((at.max(now), s))
        })
        .collect();
    let at = dated.iter().map(|(at, _)| *at).min()?;
    let lapsing: Vec<&CompanySubscription> = dated
        .iter()
        .filter(|(d, _)| day(*d) == day(at))
        .map(|(_, s)| *s)
        .collect();
    Some(Lapse {
        at,
        units: lapsing.iter().map(|s| s.total_licenses.max(0)).sum(),
        subscriptions: lapsing,
    })
}

/// A `seats-expire` warning for each SKU the plan adds seats of whose seats in use after
/// the plan exceed what remains after its next lifecycle date.
pub(crate) fn check(
    index: &TenantIndex<'_>,
    seats: &[SeatRow],
    now: Option<OffsetDateTime>,
) -> Vec<Diagnostic> {
    let Some(now) = now else {
        return Vec::new();
    };
    let subscriptions = &index.snapshot.subscriptions;
    let mut out = Vec::new();
    for row in seats.iter().filter(|r| r.needed > 0) {
        let Some(lapse) = next_lapse(subscriptions.iter().filter(|s| s.sku_id == row.sku.id), now)
        else {
            continue;
        };
        let remaining = (row.enabled - lapse.units).max(0);
        if row.consumed_after <= remaining {
            continue;
        }
        let trial = if lapse.subscriptions.iter().all(|s| s.is_trial) {
            " (a trial)"
        } else {
            ""
        };
        let date = day(lapse.at);
        out.push(
            Diagnostic::new(
                DiagnosticCode::SeatsExpire,
                format!(
                    "{}: {} of its {} seats are on subscriptions{trial} that reach their next lifecycle date on {date}; unless renewed, {remaining} remain for the {} in use after this plan",
                    row.sku.part_number, lapse.units, row.enabled, row.consumed_after
                ),
            )
            .help(format!(
                "renew the subscription before {date} or buy {} more seats of {}; users beyond the remaining seats lose the service once its grace period ends",
                row.consumed_after - remaining,
                row.sku.part_number
            )),
        );
    }
    out
}
