//! The order of work: a pure function from the plan's changes to phases of Graph writes.
//!
//! Order, so that nobody loses service and seats suffice:
//! 0. **Seat-freeing removals**: removal-only changes of a SKU whose adds need more seats
//!    than are free before the plan (they can only fit once its removals are done) —
//!    never a removal of a direct copy that a group's copy replaces (it frees no seat,
//!    and it must wait for the group's copy to reach the member);
//! 1. **Usage locations** of users whose change sets nothing else (a group will license
//!    them, or they are only being prepared);
//! 2. **Group assignments** that add or update licenses (group swaps included);
//! 3. *(the caller waits for the affected groups' license processing to finish)*;
//! 4. **Direct assignments**: user adds, `disabledPlans` updates and swaps — each one
//!    `assignLicense` call, preceded in the same `$batch` by the user's usage location
//!    `PATCH` that it `dependsOn`;
//! 5. **Removals** last (users and groups whose change only removes).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::ids::SkuId;
use crate::plan::{AssignLicenseRequest, Change, Principal, SeatRow};

/// What one Graph write does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "camelCase")]
pub enum Operation {
    /// `PATCH /users/{id}` with `{"usageLocation": …}`.
    SetUsageLocation {
        /// The ISO country code to set.
        usage_location: String,
    },
    /// `POST /users/{id}/assignLicense` or `POST /groups/{id}/assignLicense`.
    AssignLicense {
        /// The request body.
        request: AssignLicenseRequest,
    },
    /// `POST /users/{id}/reprocessLicenseAssignment` (`licensectl reprocess`): Graph
    /// re-evaluates the user's group-based licenses; no assignment changes.
    ReprocessLicenseAssignment,
}

impl Operation {
    /// `setUsageLocation` or `assignLicense` (the journal's `operation`).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::SetUsageLocation { .. } => "setUsageLocation",
            Operation::AssignLicense { .. } => "assignLicense",
            Operation::ReprocessLicenseAssignment => "reprocessLicenseAssignment",
        }
    }
}

/// The writes for one principal within a phase: one or two operations, the second
/// depending on the first (`dependsOn` in the same `$batch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Index of the change in the plan's change list.
    pub change: usize,
    /// Who.
    pub principal: Principal,
    /// What, in order.
    pub operations: Vec<Operation>,
}

/// Which step of the order a phase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseKind {
    /// Removals that free seats other adds need.
    SeatFreeingRemovals,
    /// Usage locations set on their own.
    UsageLocations,
    /// Group `assignLicense` calls that add or update.
    GroupAssignments,
    /// User `assignLicense` calls that add, update or swap.
    DirectAssignments,
    /// Removal-only changes.
    Removals,
    /// `reprocessLicenseAssignment` calls (`licensectl reprocess`, never part of a plan).
    Reprocess,
}

impl PhaseKind {
    /// Progress line of the phase.
    pub fn progress(self) -> &'static str {
        match self {
            PhaseKind::SeatFreeingRemovals => "applying seat-freeing removals",
            PhaseKind::UsageLocations => "setting usage locations",
            PhaseKind::GroupAssignments => "applying group assignments",
            PhaseKind::DirectAssignments => "applying direct assignments",
            PhaseKind::Removals => "applying removals",
            PhaseKind::Reprocess => "reprocessing license assignments",
        }
    }

    /// Human name for progress and summaries.
    pub fn label(self) -> &'static str {
        match self {
            PhaseKind::SeatFreeingRemovals => "seat-freeing removals",
            PhaseKind::UsageLocations => "usage locations",
            PhaseKind::GroupAssignments => "group assignments",
            PhaseKind::DirectAssignments => "direct assignments",
            PhaseKind::Removals => "removals",
            PhaseKind::Reprocess => "reprocess",
        }
    }
}

/// One phase: independent units that may run concurrently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// Which step.
    pub kind: PhaseKind,
    /// The work.
    pub units: Vec<Unit>,
}

/// The phases, in order, empty ones left out. The caller waits for group processing
/// after [`PhaseKind::GroupAssignments`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// In execution order.
    pub phases: Vec<Phase>,
    /// SKUs whose removals were moved first for lack of free seats.
    pub seat_freeing_skus: Vec<SkuId>,
}

impl Schedule {
    /// Every unit, in order.
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.phases.iter().flat_map(|p| p.units.iter())
    }
}

/// Orders `changes` (see the module documentation). `seats` are the plan's seat rows:
/// a SKU whose `needed` exceeds its `free` seats gets its removal-only changes first,
/// except the changes in `group_reliant` (indexes of changes that remove a direct copy a
/// group's copy replaces), which stay with the other removals.
pub fn schedule(
    changes: &[Change],
    seats: &[SeatRow],
    group_reliant: &BTreeSet<usize>,
) -> Schedule {
    let short: BTreeSet<SkuId> = seats
        .iter()
        .filter(|row| row.needed > 0 && row.needed > row.free)
        .map(|row| row.sku.id)
        .collect();
    let mut by_kind: HashMap<PhaseKind, Vec<Unit>> = HashMap::new();
    let mut moved: BTreeSet<SkuId> = BTreeSet::new();
    for (i, change) in changes.iter().enumerate() {
        let removal_only = change.add.is_empty() && change.update.is_empty();
        let mut operations = Vec::new();
        if let Some(step) = &change.usage_location {
            operations.push(Operation::SetUsageLocation {
                usage_location: step.to.clone(),
            });
        }
        if change.has_license_call() {
            operations.push(Operation::AssignLicense {
                request: change.assign_license_request(),
            });
        }
        if operations.is_empty() {
            continue;
        }
        let kind = if !change.has_license_call() {
            PhaseKind::UsageLocations
        } else if removal_only {
            let freeing: Vec<SkuId> = change
                .remove
                .iter()
                .map(|r| r.sku.id)
                .filter(|id| short.contains(id))
                .collect();
            if freeing.is_empty() || group_reliant.contains(&i) {
                PhaseKind::Removals
            } else {
                moved.extend(freeing);
                PhaseKind::SeatFreeingRemovals
            }
        } else if matches!(change.principal, Principal::Group { .. }) {
            PhaseKind::GroupAssignments
        } else {
            PhaseKind::DirectAssignments
        };
        by_kind.entry(kind).or_default().push(Unit {
            change: i,
            principal: change.principal.clone(),
            operations,
        });
    }
    let order = [
        PhaseKind::SeatFreeingRemovals,
        PhaseKind::UsageLocations,
        PhaseKind::GroupAssignments,
        PhaseKind::DirectAssignments,
        PhaseKind::Removals,
    ];
    Schedule {
        phases: order
            .into_iter()
            .filter_map(|kind| by_kind.remove(&kind).map(|units| Phase { kind, units }))
            .collect(),
        seat_freeing_skus: moved.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LicenseAdd, LicenseRemove, LicenseUpdate, SkuName, UsageLocationStep};
    use crate::snapshot::CapabilityStatus;

    use crate::plan::fixture::{group, sku, user};

    fn change(principal: Principal) -> Change {
        Change::new(principal)
    }

    fn add(s: SkuName) -> LicenseAdd {
        LicenseAdd {
            sku: s,
            disabled_plans: Vec::new(),
            already_inherited: false,
        }
    }

    fn remove(s: SkuName) -> LicenseRemove {
        LicenseRemove {
            sku: s,
            destructive: true,
            exchange_grace: false,
            still_inherited_from: Vec::new(),
            swapped_for: Vec::new(),
        }
    }

    fn seats(s: SkuName, free: i64, needed: i64, freed: i64) -> SeatRow {
        SeatRow {
            sku: s,
            capability_status: CapabilityStatus::Enabled,
            enabled: 10,
            warning: 0,
            consumed: 10 - free,
            free,
            free_with_grace: free,
            needed,
            freed,
            consumed_after: 10 - free + needed - freed,
            grace_needed: 0,
            oversubscribed: needed > free + freed,
        }
    }

    fn kinds(s: &Schedule) -> Vec<(PhaseKind, Vec<&str>)> {
        s.phases
            .iter()
            .map(|p| (p.kind, p.units.iter().map(|u| u.principal.name()).collect()))
            .collect()
    }

    #[test]
    fn phases_follow_the_documented_order() {
        let e3 = sku(1, "SPE_E3");
        let e5 = sku(2, "SPE_E5");
        let mut located = change(user(10, "erin@contoso.com"));
        located.usage_location = Some(UsageLocationStep {
            from: None,
            to: "US".into(),
        });
        located.add.push(add(e3.clone()));
        let mut only_location = change(user(11, "gil@contoso.com"));
        only_location.usage_location = Some(UsageLocationStep {
            from: None,
            to: "DE".into(),
        });
        let mut swap = change(user(12, "bob@contoso.com"));
        swap.add.push(add(e5.clone()));
        swap.remove.push(remove(e3.clone()));
        let mut removal = change(user(13, "carol@contoso.com"));
        removal.remove.push(remove(e3.clone()));
        let mut group_update = change(group(20, "SG-E3"));
        group_update.update.push(LicenseUpdate {
            sku: e3.clone(),
            disabled_plans: Vec::new(),
            enable: Vec::new(),
            disable: Vec::new(),
        });
        let mut group_removal = change(group(21, "SG-Old"));
        group_removal.remove.push(remove(e5.clone()));
        let changes = vec![
            group_update,
            group_removal,
            swap,
            removal,
            located,
            only_location,
        ];
        let s = schedule(
            &changes,
            &[seats(e3, 5, 1, 1), seats(e5, 5, 1, 0)],
            &BTreeSet::new(),
        );
        assert_eq!(
            kinds(&s),
            vec![
                (PhaseKind::UsageLocations, vec!["gil@contoso.com"]),
                (PhaseKind::GroupAssignments, vec!["SG-E3"]),
                (
                    PhaseKind::DirectAssignments,
                    vec!["bob@contoso.com", "erin@contoso.com"]
                ),
                (PhaseKind::Removals, vec!["SG-Old", "carol@contoso.com"]),
            ]
        );
        // The usage location precedes the assignment of the same user, in one unit.
        let erin = s
            .units()
            .find(|u| u.principal.name() == "erin@contoso.com")
            .expect("erin scheduled");
        assert_eq!(erin.operations.len(), 2);
        assert_eq!(erin.operations[0].name(), "setUsageLocation");
        assert_eq!(erin.operations[1].name(), "assignLicense");
        // A swap is one assignLicense call with both add and remove.
        let bob = s
            .units()
            .find(|u| u.principal.name() == "bob@contoso.com")
            .expect("bob scheduled");
        match &bob.operations[..] {
            [Operation::AssignLicense { request }] => {
                assert_eq!(request.add_licenses.len(), 1);
                assert_eq!(request.remove_licenses.len(), 1);
            }
            other => panic!("a swap is one call, got {other:?}"),
        }
        assert!(s.seat_freeing_skus.is_empty());
    }

    #[test]
    fn removals_of_a_sku_short_of_seats_go_first() {
        let e3 = sku(1, "SPE_E3");
        let visio = sku(3, "VISIOCLIENT");
        let mut grant = change(user(10, "new@contoso.com"));
        grant.add.push(add(e3.clone()));
        let mut free_e3 = change(user(11, "leaver@contoso.com"));
        free_e3.remove.push(remove(e3.clone()));
        let mut other = change(user(12, "other@contoso.com"));
        other.remove.push(remove(visio.clone()));
        let changes = [grant, free_e3, other];
        let rows = [seats(e3.clone(), 0, 1, 1), seats(visio, 3, 0, 1)];
        let s = schedule(&changes, &rows, &BTreeSet::new());
        assert_eq!(
            kinds(&s),
            vec![
                (PhaseKind::SeatFreeingRemovals, vec!["leaver@contoso.com"]),
                (PhaseKind::DirectAssignments, vec!["new@contoso.com"]),
                (PhaseKind::Removals, vec!["other@contoso.com"]),
            ]
        );
        assert_eq!(s.seat_freeing_skus, vec![e3.id]);
        // A removal that a group's copy replaces frees no seat: it stays last.
        let s = schedule(&changes, &rows, &BTreeSet::from([1]));
        assert_eq!(
            kinds(&s),
            vec![
                (PhaseKind::DirectAssignments, vec!["new@contoso.com"]),
                (
                    PhaseKind::Removals,
                    vec!["leaver@contoso.com", "other@contoso.com"]
                ),
            ]
        );
        assert!(s.seat_freeing_skus.is_empty());
    }

    #[test]
    fn an_empty_plan_schedules_nothing() {
        let s = schedule(&[], &[], &BTreeSet::new());
        assert!(s.phases.is_empty());
        assert_eq!(s.units().count(), 0);
    }
}
