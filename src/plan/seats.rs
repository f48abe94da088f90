//! Seat arithmetic: how many seats of each SKU the plan needs and frees.
//!
//! Every license source the plan adds or removes is recorded per (user, SKU); a user
//! holding a SKU from several sources (direct and groups) uses one seat, so a seat is
//! needed only when a user holds the SKU from no source before and from some source after,
//! and freed only in the opposite case. Group changes count every direct member of the
//! group (Graph's group licensing serves only first-level user members).
//!
//! Free seats are `prepaidUnits.enabled − prepaidUnits.warning − consumedUnits`, the
//! formula of Microsoft's PowerShell licensing guide (https://learn.microsoft.com/en-us/microsoft-365/enterprise/assign-licenses-to-user-accounts-with-microsoft-365-powershell): units in the
//! warning state are expiring and are not counted as available. A plan that needs more
//! seats than are free plus what the plan itself frees is an error.

use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::ids::{GroupId, SkuId, UserId};
use crate::snapshot::{AssignmentStateKind, CapabilityStatus, User};

use super::model::SeatRow;
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

    /// Marks a SKU as touched by the plan (it gets a seat row) without a seat effect,
    /// e.g. for a group whose members all hold the SKU already.
    pub(crate) fn touch(&mut self, sku: SkuId) {
        self.touched.push(sku);
    }

    /// Computes the seat table (sorted by part number) and a diagnostic per
    /// oversubscribed SKU.
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
            let units = sku.prepaid_units;
            let free = units.enabled - units.warning - sku.consumed_units;
            let available = free + freed;
            let oversubscribed = needed > 0 && needed > available;
            if oversubscribed {
                let shown_free = available.max(0);
                diagnostics.push(
                    Diagnostic::new(
                        DiagnosticCode::SeatsExhausted,
                        format!(
                            "{}: plan needs {needed} more seats, {shown_free} are free",
                            name.part_number
                        ),
                    )
                    .help(format!(
                        "buy at least {} more seats of {} ({}) or assign it to fewer users",
                        needed - shown_free,
                        name.part_number,
                        name.id
                    )),
                );
            }
            if needed > 0 && sku.capability_status == CapabilityStatus::Warning {
                diagnostics.push(
                    Diagnostic::new(DiagnosticCode::SkuExpiring,
                        format!(
                            "{}: the plan assigns {needed} more seats of a subscription in its grace period (capabilityStatus Warning)",
                            name.part_number
                        ),
                    )
                    .help("renew the subscription, or these users lose the service when it expires"),
                );
            }
            rows.insert(
                (name.part_number.clone(), sku_id),
                SeatRow {
                    sku: name,
                    capability_status: sku.capability_status.clone(),
                    enabled: units.enabled,
                    warning: units.warning,
                    consumed: sku.consumed_units,
                    free,
                    needed,
                    freed,
                    consumed_after: sku.consumed_units + needed - freed,
                    oversubscribed,
                },
            );
        }
        (rows.into_values().collect(), diagnostics)
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
