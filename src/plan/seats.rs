//! Seat arithmetic: how many seats of each SKU the plan needs and frees.
//!
//! Every license source the plan adds or removes is recorded per (user, SKU); a user
//! holding a SKU from several sources (direct and groups) uses one seat, so a seat is
//! needed only when a user holds the SKU from no source before and from some source after,
//! and freed only in the opposite case. Group changes count every direct member of the
//! group (Graph's group licensing serves only first-level user members).
//!
//! `prepaidUnits` splits a SKU's units into disjoint buckets by subscription state:
//! `enabled` (active subscriptions), `warning` (expired, in their grace period),
//! `suspended` and `lockedOut` (https://learn.microsoft.com/en-us/graph/api/resources/licenseunitsdetail;
//! Partner Center sums active and warning units into its total and subtracts consumed
//! units for what is available:
//! https://learn.microsoft.com/en-us/dotnet/api/microsoft.store.partnercenter.models.licenses.subscribedsku).
//! Whether Graph assigns into units in their grace period is not documented, so the plan
//! fails safe both ways: it is refused only when it needs more than
//! `enabled + warning − consumed` (plus what it frees), the most Graph may accept; when it
//! needs more than `enabled − consumed` (plus what it frees) it is allowed with a warning
//! naming the grace units it relies on, and apply reports Graph's answer. Suspended and
//! locked-out units are never counted. All arithmetic is done in `i128`, so no count can
//! wrap, and negative counts are refused as impossible.

use std::collections::BTreeMap;

use hashbrown::HashMap;

use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::ids::{GroupId, SkuId, UserId};
use crate::snapshot::{AssignmentStateKind, CapabilityStatus, SubscribedSku, User};

use super::model::{SeatRow, SkuName};
use super::resolve::TenantIndex;

/// Where a user's copy of a SKU comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// A direct assignment.
    Direct,
    /// Inherited from this group.
    Group(GroupId),
}

#[derive(Debug, Default)]
struct Delta {
    added: Vec<Source>,
    removed: Vec<Source>,
}

/// The license sources a plan adds and removes, per (user, SKU).
#[derive(Debug, Default)]
pub(crate) struct SeatLedger {
    deltas: HashMap<(UserId, SkuId), Delta>,
    touched: Vec<SkuId>,
}

impl SeatLedger {
    /// Records that `user` gains `sku` from `source`.
    pub(crate) fn add(&mut self, user: UserId, sku: SkuId, source: Source) {
        self.deltas
            .entry((user, sku))
            .or_default()
            .added
            .push(source);
        self.touched.push(sku);
    }

    /// Records that `user` loses `sku` from `source`.
    pub(crate) fn remove(&mut self, user: UserId, sku: SkuId, source: Source) {
        self.deltas
            .entry((user, sku))
            .or_default()
            .removed
            .push(source);
        self.touched.push(sku);
    }

    /// Takes `other`'s records after this one's (a user's sources in the order recorded).
    pub(crate) fn absorb(&mut self, other: SeatLedger) {
        self.deltas.reserve(other.deltas.len());
        for (key, delta) in other.deltas {
            let mine = self.deltas.entry(key).or_default();
            mine.added.extend(delta.added);
            mine.removed.extend(delta.removed);
        }
        self.touched.extend(other.touched);
    }

    /// Marks a SKU as touched by the plan (it gets a seat row) without a seat effect,
    /// e.g. for a group whose members all hold the SKU already.
    pub(crate) fn touch(&mut self, sku: SkuId) {
        self.touched.push(sku);
    }

    /// Computes the seat table (sorted by part number) and the seat diagnostics of every
    /// SKU the plan touches.
    pub(crate) fn finish(self, index: &TenantIndex<'_>) -> (Vec<SeatRow>, Vec<Diagnostic>) {
        let mut counts: HashMap<SkuId, (i64, i64)> = HashMap::new();
        for sku in &self.touched {
            counts.entry(*sku).or_default();
        }
        for ((user, sku), delta) in &self.deltas {
            let before = index
                .users
                .get(user)
                .map(|u| live_sources(u, *sku))
                .unwrap_or_default();
            let held_before = !before.is_empty();
            let held_after =
                !delta.added.is_empty() || before.iter().any(|s| !delta.removed.contains(s));
            let entry = counts.entry(*sku).or_default();
            match (held_before, held_after) {
                (false, true) => entry.0 += 1,
                (true, false) => entry.1 += 1,
                _ => {}
            }
        }
        let mut rows = BTreeMap::new();
        let mut diagnostics = Vec::new();
        for (sku_id, (needed, freed)) in counts {
            let name = index.sku_name(sku_id);
            let Some(sku) = index.skus.get(&sku_id) else {
                continue;
            };
            let seats = Seats::of(sku, needed, freed);
            diagnostics.extend(seats.diagnostics(&name, &sku.capability_status));
            rows.insert(
                (name.part_number.clone(), sku_id),
                SeatRow {
                    sku: name,
                    capability_status: sku.capability_status.clone(),
                    enabled: sku.prepaid_units.enabled,
                    warning: sku.prepaid_units.warning,
                    consumed: sku.consumed_units,
                    free: saturate(seats.free),
                    free_with_grace: saturate(seats.free_with_grace),
                    needed,
                    freed,
                    consumed_after: saturate(seats.consumed_after),
                    grace_needed: saturate(seats.grace_needed),
                    oversubscribed: seats.oversubscribed(),
                },
            );
        }
        (rows.into_values().collect(), diagnostics)
    }
}

/// An `i128` count shown as `i64`, clamped (only impossible inputs reach the bounds).
fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Seats that active subscriptions have free: `enabled − consumed`, computed without
/// wrapping (negative when expired units keep their assignments). For `CountViolation`
/// explanations.
pub(crate) fn active_free(sku: &SubscribedSku) -> i128 {
    i128::from(sku.prepaid_units.enabled) - i128::from(sku.consumed_units)
}

/// The seat arithmetic of one SKU, in `i128`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seats {
    /// `prepaidUnits.enabled`.
    enabled: i128,
    /// `prepaidUnits.warning`.
    warning: i128,
    /// Free on active subscriptions: `enabled − consumed`.
    free: i128,
    /// Free counting units in their grace period: `enabled + warning − consumed`.
    free_with_grace: i128,
    /// Users who newly hold the SKU.
    needed: i128,
    /// Users who no longer hold it.
    freed: i128,
    /// `consumed + needed − freed`.
    consumed_after: i128,
    /// Seats needed beyond the active free seats (and what the plan frees).
    grace_needed: i128,
    /// Which counts are negative, by Graph's name (impossible: the snapshot is damaged).
    invalid: Vec<(&'static str, i64)>,
}

impl Seats {
    pub(crate) fn of(sku: &SubscribedSku, needed: i64, freed: i64) -> Self {
        let units = sku.prepaid_units;
        let enabled = i128::from(units.enabled);
        let warning = i128::from(units.warning);
        let consumed = i128::from(sku.consumed_units);
        let (needed, freed) = (i128::from(needed), i128::from(freed));
        let free = enabled - consumed;
        // Seats the active subscriptions have for this plan: their free seats plus what
        // the plan frees, never fewer than none.
        let active = (free + freed).max(0);
        let invalid = [
            ("prepaidUnits.enabled", units.enabled),
            ("prepaidUnits.warning", units.warning),
            ("prepaidUnits.suspended", units.suspended),
            ("prepaidUnits.lockedOut", units.locked_out),
            ("consumedUnits", sku.consumed_units),
        ]
        .into_iter()
        .filter(|(_, value)| *value < 0)
        .collect();
        Seats {
            enabled,
            warning,
            free,
            free_with_grace: free + warning,
            needed,
            freed,
            consumed_after: consumed + needed - freed,
            grace_needed: (needed - active).max(0),
            invalid,
        }
    }

    /// True when the counts are possible (none is negative).
    pub(crate) fn valid(&self) -> bool {
        self.invalid.is_empty()
    }

    /// True when the plan needs more seats than Graph may accept: more than
    /// `enabled + warning − consumed` plus what the plan frees (or the counts are
    /// impossible).
    pub(crate) fn oversubscribed(&self) -> bool {
        self.needed > 0 && (!self.valid() || self.needed > self.free_with_grace + self.freed)
    }

    /// What the plan may assign at most: every free unit, grace units included, plus
    /// what it frees; never below 0.
    fn available(&self) -> i128 {
        (self.free_with_grace + self.freed).max(0)
    }

    fn diagnostics(&self, name: &SkuName, status: &CapabilityStatus) -> Vec<Diagnostic> {
        let part = &name.part_number;
        let mut out = Vec::new();
        if !self.valid() {
            let counts: Vec<String> = self
                .invalid
                .iter()
                .map(|(field, value)| format!("{field} {value}"))
                .collect();
            out.push(
                Diagnostic::new(
                    DiagnosticCode::InvalidSeatCounts,
                    format!(
                        "{part}: the tenant reports impossible seat counts ({}), so the plan's seats cannot be checked",
                        counts.join(", ")
                    ),
                )
                .help("counts of units are never negative: take a new snapshot (`licensectl snapshot`) or check the subscription in the Microsoft 365 admin center"),
            );
            return out;
        }
        if self.oversubscribed() {
            let available = self.available();
            let split = if self.warning > 0 {
                format!(
                    " ({} on active subscriptions, {} in their grace period)",
                    (self.free + self.freed).max(0),
                    self.warning
                )
            } else {
                String::new()
            };
            out.push(
                Diagnostic::new(
                    DiagnosticCode::SeatsExhausted,
                    format!(
                        "{part}: plan needs {} more seats, {available} are free{split}",
                        self.needed
                    ),
                )
                .help(format!(
                    "buy at least {} more seats of {part} ({}) or assign it to fewer users",
                    self.needed - available,
                    name.id
                )),
            );
        } else if self.grace_needed > 0 {
            out.push(
                Diagnostic::new(
                    DiagnosticCode::SeatsInGrace,
                    format!(
                        "{part}: the plan relies on {} seats in their grace period (it needs {}, {} are free on active subscriptions)",
                        self.grace_needed,
                        self.needed,
                        (self.free + self.freed).max(0)
                    ),
                )
                .help("Graph may refuse assignments beyond the active seats; renew or buy seats first, or apply and let Graph decide (apply reports its answer)"),
            );
        }
        if self.warning > 0 {
            out.push(
                Diagnostic::new(
                    DiagnosticCode::GraceUnitsLapse,
                    format!(
                        "{part}: {} units are in their grace period and lapse unless renewed",
                        self.warning
                    ),
                )
                .help(format!(
                    "renew the subscription before its grace period ends; after that {part} has {} seats, for {} in use after this plan",
                    self.enabled.max(0),
                    self.consumed_after.max(0)
                )),
            );
        }
        if self.needed > 0 && *status == CapabilityStatus::Warning {
            out.push(
                Diagnostic::new(
                    DiagnosticCode::SkuExpiring,
                    format!(
                        "{part}: the plan assigns {} more seats of a subscription in its grace period (capabilityStatus Warning)",
                        self.needed
                    ),
                )
                .help("renew the subscription, or these users lose the service when it expires"),
            );
        }
        out
    }
}

/// The sources from which `user` effectively holds `sku` now. Failed group assignments
/// (`state: Error`) do not count. A user with `assignedLicenses` but no
/// `licenseAssignmentStates` at all holds them directly.
pub(crate) fn live_sources(user: &User, sku: SkuId) -> Vec<Source> {
    if user.license_assignment_states.is_empty() {
        return if user.assigned_licenses.iter().any(|l| l.sku_id == sku) {
            vec![Source::Direct]
        } else {
            Vec::new()
        };
    }
    user.license_assignment_states
        .iter()
        .filter(|s| s.sku_id == sku && s.state != AssignmentStateKind::Error)
        .map(|s| s.assigned_by_group.map_or(Source::Direct, Source::Group))
        .collect()
}
