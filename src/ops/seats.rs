//! The seat report of `licensectl seats`: per SKU what is purchased, assigned (directly
//! and through groups), free, in its grace period, expiring within 30, 60 and 90 days,
//! on trials, idle (held by users who have not signed in for a while) and, where
//! `prices:` are configured, what it costs per month.
//!
//! Counts come from `subscribedSkus` (`prepaidUnits`, `consumedUnits`), the users'
//! `licenseAssignmentStates`, `/directory/subscriptions` (`status`, `totalLicenses`,
//! `isTrial`, `nextLifecycleDateTime`) and `signInActivity`. Pure: "now" and the prices
//! are data.

use std::collections::HashMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::config::DesiredState;
use crate::ids::SkuId;
use crate::plan::activity::{LastSignIn, days_between, last_sign_in};
use crate::plan::expiry::{day, next_lapse, parse_time};
use crate::plan::resolve::TenantIndex;
use crate::plan::{Money, SkuName, totals};
use crate::snapshot::{AppliesTo, AssignmentStateKind, CapabilityStatus, TenantSnapshot, User};

/// Seats of subscriptions whose next lifecycle date falls within these days of now.
pub const EXPIRY_WINDOWS: [i64; 3] = [30, 60, 90];

/// One SKU's seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuSeats {
    /// The product.
    pub sku: SkuName,
    /// `capabilityStatus`.
    pub capability_status: CapabilityStatus,
    /// Units of active subscriptions (`prepaidUnits.enabled`).
    pub purchased: i64,
    /// Units in their grace period (`prepaidUnits.warning`): they lapse unless renewed.
    pub in_grace: i64,
    /// Units of suspended subscriptions (`prepaidUnits.suspended`).
    pub suspended: i64,
    /// Seats in use (`consumedUnits`).
    pub assigned: i64,
    /// Users holding a direct copy (some also through a group).
    pub direct: i64,
    /// Users holding it only through groups.
    pub group_only: i64,
    /// `purchased − assigned` (negative when expired units keep their assignments).
    pub free: i64,
    /// Units of active subscriptions reaching their next lifecycle date within 30, 60 and
    /// 90 days (each window includes the shorter ones).
    pub expiring: [i64; 3],
    /// The earliest next lifecycle date of an active subscription, and its units.
    pub next_lifecycle: Option<(String, i64)>,
    /// Units of trial subscriptions.
    pub trial: i64,
    /// Holders whose last sign-in is `idle_days` or more ago (`None`: sign-ins not read).
    pub idle: Option<i64>,
    /// Holders who never signed in (`None`: sign-ins not read).
    pub never_signed_in: Option<i64>,
    /// One seat per month, where priced.
    pub price: Option<Money>,
    /// `assigned × price`.
    pub monthly_cost: Option<Money>,
    /// `(idle + never signed in) × price`: what idle seats cost per month.
    pub idle_cost: Option<Money>,
}

/// The seat report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatReport {
    /// The tenant.
    pub tenant: String,
    /// The day counted from (`2026-12-01`).
    pub as_of: String,
    /// A holder is idle after this many days without a sign-in.
    pub idle_days: i64,
    /// True when the snapshot holds sign-in activity (idle counts are known).
    pub sign_ins_read: bool,
    /// True when the snapshot holds the tenant's subscriptions (lifecycle dates known).
    pub subscriptions_read: bool,
    /// Per SKU that users can be assigned, by part number.
    pub skus: Vec<SkuSeats>,
    /// What the assigned seats cost per month, per currency.
    pub monthly_cost: Vec<Money>,
    /// What idle seats cost per month, per currency.
    pub idle_cost: Vec<Money>,
}

/// Who holds `sku` and how.
fn holding(user: &User, sku: SkuId) -> (bool, bool) {
    if user.license_assignment_states.is_empty() {
        return (
            user.assigned_licenses.iter().any(|l| l.sku_id == sku),
            false,
        );
    }
    let mut direct = false;
    let mut group = false;
    for s in user
        .license_assignment_states
        .iter()
        .filter(|s| s.sku_id == sku && s.state != AssignmentStateKind::Error)
    {
        if s.assigned_by_group.is_some() {
            group = true;
        } else {
            direct = true;
        }
    }
    (direct, group)
}

/// The seat report of `snapshot` at `now`, with `desired`'s prices (and nothing priced
/// without a config).
pub fn report(
    snapshot: &TenantSnapshot,
    desired: Option<&DesiredState>,
    now: OffsetDateTime,
    idle_days: i64,
) -> SeatReport {
    let index = TenantIndex::new(snapshot);
    let prices: HashMap<SkuId, Money> = desired
        .map(|d| crate::plan::prices::resolve(&index, &d.settings.prices).0)
        .unwrap_or_default();
    let sign_ins_read = snapshot.users.iter().any(|u| u.sign_in_activity.is_some());
    let mut skus: Vec<SkuSeats> = snapshot
        .subscribed_skus
        .iter()
        .filter(|s| s.applies_to == AppliesTo::User)
        .map(|s| {
            let mut direct = 0;
            let mut group_only = 0;
            let mut idle = 0;
            let mut never = 0;
            for user in &snapshot.users {
                let (d, g) = holding(user, s.sku_id);
                if !(d || g) {
                    continue;
                }
                if d {
                    direct += 1;
                } else {
                    group_only += 1;
                }
                match last_sign_in(user) {
                    LastSignIn::Never => never += 1,
                    LastSignIn::At(at) if days_between(at, now) >= idle_days => idle += 1,
                    LastSignIn::At(_) | LastSignIn::NotRead => {}
                }
            }
            let subs: Vec<_> = snapshot
                .subscriptions
                .iter()
                .filter(|c| c.sku_id == s.sku_id)
                .collect();
            let active_dates: Vec<(OffsetDateTime, i64)> = subs
                .iter()
                .filter(|c| c.status == CapabilityStatus::Enabled)
                .filter_map(|c| {
                    let at = parse_time(c.next_lifecycle_date_time.as_deref()?)?;
                    Some((at, c.total_licenses.max(0)))
                })
                .collect();
            let expiring = EXPIRY_WINDOWS.map(|days| {
                let until = now + time::Duration::days(days);
                active_dates
                    .iter()
                    .filter(|(at, _)| *at <= until)
                    .map(|(_, n)| n)
                    .sum()
            });
            let next_lifecycle =
                next_lapse(subs.iter().copied(), now).map(|l| (day(l.at), l.units));
            let trial = subs
                .iter()
                .filter(|c| c.is_trial)
                .map(|c| c.total_licenses.max(0))
                .sum();
            let price = prices.get(&s.sku_id).cloned();
            let times = |n: i64| {
                price.as_ref().map(|p| Money {
                    currency: p.currency.clone(),
                    cents: p.cents.saturating_mul(n),
                })
            };
            SkuSeats {
                sku: index.sku_name(s.sku_id),
                capability_status: s.capability_status.clone(),
                purchased: s.prepaid_units.enabled,
                in_grace: s.prepaid_units.warning,
                suspended: s.prepaid_units.suspended,
                assigned: s.consumed_units,
                direct,
                group_only,
                free: s.prepaid_units.enabled.saturating_sub(s.consumed_units),
                expiring,
                next_lifecycle,
                trial,
                idle: sign_ins_read.then_some(idle),
                never_signed_in: sign_ins_read.then_some(never),
                monthly_cost: times(s.consumed_units.max(0)),
                idle_cost: if sign_ins_read {
                    times(idle + never)
                } else {
                    None
                },
                price,
            }
        })
        .collect();
    skus.sort_by(|a, b| a.sku.cmp(&b.sku));
    let monthly_cost = totals(skus.iter().filter_map(|s| s.monthly_cost.as_ref()));
    let idle_cost = totals(skus.iter().filter_map(|s| s.idle_cost.as_ref()));
    SeatReport {
        tenant: match &snapshot.tenant_domain {
            Some(domain) => format!("{domain} ({})", snapshot.tenant_id),
            None => snapshot.tenant_id.to_string(),
        },
        as_of: day(now),
        idle_days,
        sign_ins_read,
        subscriptions_read: !snapshot.subscriptions.is_empty(),
        skus,
        monthly_cost,
        idle_cost,
    }
}
