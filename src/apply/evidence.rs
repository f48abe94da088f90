//! What apply must see before it goes on, under eventual consistency, and what a write's
//! answer proves. Microsoft Entra "does not guarantee that an immediate read will reflect"
//! a successful write (https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/):
//! a group's `licenseProcessingState` may still show the `ProcessingComplete` of before
//! the write, or null, and a member's inherited state may lag. So:
//!
//! - a direct copy that the plan removes because a group grants the same SKU
//!   ([`Reliance`]) is only removed once the member's own `licenseAssignmentStates` show
//!   the group's copy `Active` ([`group_copy_active`]); the group's state is no evidence;
//! - a group has finished processing a write when a read shows its `assignedLicenses` as
//!   written *and* `ProcessingComplete` ([`GroupExpect::settled`]): a state read from the
//!   version before the write, or a null state, is not;
//! - Graph's answer to `assignLicense` (the object as written) verifies a change on its
//!   own where it is unambiguous ([`confirmed_by_answer`]); everything else is verified by
//!   reading back, retried while the reads lag.
//!
//! Pure: plain data in and out; the caller reads, waits and journals.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::plan::{Change, Principal};
use crate::snapshot::{AssignedLicense, AssignmentStateKind, Group, TenantSnapshot, User};

use super::verify::sorted;

/// A direct copy of `sku` that change `change` removes from `user` because groups grant
/// the same SKU: it may only go once one of those groups' copies is `Active` on the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reliance {
    /// The change (index in the plan).
    pub change: usize,
    /// The member.
    pub user: UserId,
    /// The SKU.
    pub sku: SkuId,
    /// Groups that already granted it to the user when planned.
    pub keeps_from: Vec<GroupId>,
    /// Groups that this plan gives the SKU to, of which the user is a direct member.
    pub gains_from: Vec<GroupId>,
}

impl Reliance {
    /// Every group whose copy counts.
    pub fn groups(&self) -> Vec<GroupId> {
        self.keeps_from
            .iter()
            .chain(&self.gains_from)
            .copied()
            .collect()
    }
}

fn group_id(p: &Principal) -> Option<GroupId> {
    match p {
        Principal::Group { id, .. } => Some(*id),
        Principal::User { .. } => None,
    }
}

/// SKUs each group change grants (adds or updates), by group.
fn granted_by_groups(changes: &[Change]) -> HashMap<GroupId, BTreeSet<SkuId>> {
    changes
        .iter()
        .filter_map(|c| {
            let id = group_id(&c.principal)?;
            let skus: BTreeSet<SkuId> = c
                .add
                .iter()
                .map(|a| a.sku.id)
                .chain(c.update.iter().map(|u| u.sku.id))
                .collect();
            (!skus.is_empty()).then_some((id, skus))
        })
        .collect()
}

/// Every removal of a direct copy that relies on a group's copy of the same SKU, in plan
/// order: the groups the plan says still grant it (`still_inherited_from`) and the
/// groups of which the user is a direct member (in `before`) that the plan gives it to.
pub fn reliances(changes: &[Change], before: &TenantSnapshot) -> Vec<Reliance> {
    let granted = granted_by_groups(changes);
    let mut member_of: HashMap<UserId, Vec<GroupId>> = HashMap::new();
    for g in &before.groups {
        if granted.contains_key(&g.id) {
            for m in &g.members {
                member_of.entry(*m).or_default().push(g.id);
            }
        }
    }
    let mut out = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let Principal::User { id: user, .. } = &change.principal else {
            continue;
        };
        for removal in &change.remove {
            let sku = removal.sku.id;
            let keeps_from: Vec<GroupId> = removal
                .still_inherited_from
                .iter()
                .filter_map(group_id)
                .collect();
            let gains_from: Vec<GroupId> = member_of
                .get(user)
                .into_iter()
                .flatten()
                .filter(|g| granted.get(g).is_some_and(|s| s.contains(&sku)))
                .filter(|g| !keeps_from.contains(g))
                .copied()
                .collect();
            if !keeps_from.is_empty() || !gains_from.is_empty() {
                out.push(Reliance {
                    change: i,
                    user: *user,
                    sku,
                    keeps_from,
                    gains_from,
                });
            }
        }
    }
    out
}

/// True when `user`'s `licenseAssignmentStates` show a copy of `sku` from one of
/// `groups` in state `Active` (not `ActiveWithError`, not processing, not an error).
pub fn group_copy_active(user: &User, sku: SkuId, groups: &[GroupId]) -> bool {
    user.inherited_states().any(|s| {
        s.sku_id == sku
            && s.state == AssignmentStateKind::Active
            && s.assigned_by_group.is_some_and(|g| groups.contains(&g))
    })
}

/// What a principal's own `assignedLicenses` hold once a change took effect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupExpect {
    /// SKUs added or updated, with their sorted `disabledPlans`.
    pub present: BTreeMap<SkuId, Vec<ServicePlanId>>,
    /// SKUs removed.
    pub absent: BTreeSet<SkuId>,
}

impl GroupExpect {
    /// What `change` leaves in the principal's own licenses.
    pub fn of(change: &Change) -> Self {
        let request = change.assign_license_request();
        Self {
            present: request
                .add_licenses
                .into_iter()
                .map(|l| (l.sku_id, sorted(l.disabled_plans)))
                .collect(),
            absent: request.remove_licenses.into_iter().collect(),
        }
    }

    /// True when `licenses` hold what the change asked for.
    pub fn holds(&self, licenses: &[AssignedLicense]) -> bool {
        let held: HashMap<SkuId, Vec<ServicePlanId>> = licenses
            .iter()
            .map(|l| (l.sku_id, sorted(l.disabled_plans.iter().copied())))
            .collect();
        self.present
            .iter()
            .all(|(sku, plans)| held.get(sku) == Some(plans))
            && self.absent.iter().all(|sku| !held.contains_key(sku))
    }

    /// True when a read of `group` shows the write (its `assignedLicenses` as written)
    /// and its processing finished (`ProcessingComplete`, or `ProcessingFailed`, which
    /// verification reports). A null state, or the state of a read from before the
    /// write, is not evidence.
    pub fn settled(&self, group: &Group) -> bool {
        self.holds(&group.assigned_licenses)
            && group
                .license_processing_state
                .as_ref()
                .is_some_and(|s| s.state == "ProcessingComplete" || s.state == "ProcessingFailed")
    }
}

/// True when Graph's answer to the change's `assignLicense` (`licenses`, the principal's
/// `assignedLicenses` as written) shows the change done, where that is unambiguous: a
/// group's own licenses always are; a user's `assignedLicenses` merge every source, so a
/// SKU the user may also hold from a group (`from_groups`) is left to a read of its
/// `licenseAssignmentStates`. The usage location of a unit whose writes all succeeded is
/// taken as set (Graph answered the `PATCH` 204).
pub fn confirmed_by_answer(
    change: &Change,
    licenses: &[AssignedLicense],
    from_groups: &BTreeSet<SkuId>,
) -> bool {
    let expect = GroupExpect::of(change);
    if matches!(change.principal, Principal::User { .. })
        && expect
            .present
            .keys()
            .chain(&expect.absent)
            .any(|sku| from_groups.contains(sku))
    {
        return false;
    }
    expect.holds(licenses)
}

/// For each user, the SKUs they may hold from a group around this apply: inherited in
/// `before`, or given by a group change of the plan of which they are a direct member.
pub fn skus_from_groups(
    changes: &[Change],
    before: &TenantSnapshot,
) -> HashMap<UserId, BTreeSet<SkuId>> {
    let granted = granted_by_groups(changes);
    let mut out: HashMap<UserId, BTreeSet<SkuId>> = HashMap::new();
    for u in &before.users {
        let skus: BTreeSet<SkuId> = u.inherited_states().map(|s| s.sku_id).collect();
        if !skus.is_empty() {
            out.insert(u.id, skus);
        }
    }
    for g in &before.groups {
        if let Some(skus) = granted.get(&g.id) {
            for m in &g.members {
                out.entry(*m).or_default().extend(skus.iter().copied());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LicenseAdd, LicenseRemove, SkuName};
    use crate::snapshot::{LicenseAssignmentState, LicenseProcessingState};

    fn sku(n: u128) -> SkuId {
        SkuId(uuid::Uuid::from_u128(n))
    }

    fn name(n: u128) -> SkuName {
        SkuName {
            part_number: format!("SKU{n}"),
            id: sku(n),
        }
    }

    fn uid(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(0x100 + n))
    }

    fn gid(n: u128) -> GroupId {
        GroupId(uuid::Uuid::from_u128(0x200 + n))
    }

    fn group_principal(n: u128) -> Principal {
        Principal::Group {
            id: gid(n),
            name: format!("g{n}"),
        }
    }

    fn change(principal: Principal) -> Change {
        Change {
            principal,
            usage_location: None,
            add: Vec::new(),
            update: Vec::new(),
            remove: Vec::new(),
            rules: None,
        }
    }

    fn removal(n: u128, still_from: &[u128]) -> LicenseRemove {
        LicenseRemove {
            sku: name(n),
            destructive: still_from.is_empty(),
            exchange_grace: false,
            still_inherited_from: still_from.iter().map(|g| group_principal(*g)).collect(),
            swapped_for: Vec::new(),
        }
    }

    fn state(n: u128, group: Option<u128>, kind: AssignmentStateKind) -> LicenseAssignmentState {
        LicenseAssignmentState {
            sku_id: sku(n),
            disabled_plans: Vec::new(),
            assigned_by_group: group.map(gid),
            state: kind,
            error: None,
            last_updated_date_time: None,
        }
    }

    fn group(n: u128, licenses: &[u128], members: &[u128], state: Option<&str>) -> Group {
        Group {
            id: gid(n),
            display_name: format!("g{n}"),
            mail_nickname: None,
            security_enabled: true,
            assigned_licenses: licenses
                .iter()
                .map(|s| AssignedLicense {
                    sku_id: sku(*s),
                    disabled_plans: Vec::new(),
                })
                .collect(),
            license_processing_state: state.map(|s| LicenseProcessingState { state: s.into() }),
            members: members.iter().map(|m| uid(*m)).collect(),
        }
    }

    fn tenant(groups: Vec<Group>) -> TenantSnapshot {
        let mut t: TenantSnapshot = serde_json::from_value(
            serde_json::json!({"version": 1, "tenantId": uuid::Uuid::nil()}),
        )
        .expect("an empty snapshot");
        t.groups = groups;
        t
    }

    #[test]
    fn a_removal_relies_on_the_groups_that_keep_or_gain_the_sku_for_the_member() {
        // Group 1 newly gets SKU 5 (user 1 is a member); user 2 keeps SKU 5 from group 2;
        // user 3's removal of SKU 6 is plain; a swap on user 1 of SKU 7 relies on nothing.
        let mut grant = change(group_principal(1));
        grant.add.push(LicenseAdd {
            sku: name(5),
            disabled_plans: Vec::new(),
            already_inherited: false,
        });
        let user = |n: u128| Principal::User {
            id: uid(n),
            name: format!("u{n}"),
        };
        let mut one = change(user(1));
        one.remove = vec![removal(5, &[]), removal(7, &[])];
        let mut two = change(user(2));
        two.remove = vec![removal(5, &[2])];
        let mut three = change(user(3));
        three.remove = vec![removal(6, &[])];
        let before = tenant(vec![
            group(1, &[], &[1, 3], None),
            group(2, &[5], &[2], None),
        ]);
        let found = reliances(&[grant, one, two, three], &before);
        assert_eq!(
            found,
            vec![
                Reliance {
                    change: 1,
                    user: uid(1),
                    sku: sku(5),
                    keeps_from: Vec::new(),
                    gains_from: vec![gid(1)],
                },
                Reliance {
                    change: 2,
                    user: uid(2),
                    sku: sku(5),
                    keeps_from: vec![gid(2)],
                    gains_from: Vec::new(),
                },
            ]
        );
    }

    #[test]
    fn only_an_active_copy_from_one_of_the_groups_is_evidence() {
        let mut user = User::new(uid(1), "u1");
        let groups = [gid(1)];
        assert!(!group_copy_active(&user, sku(5), &groups), "no copy yet");
        for (kind, from, evidence) in [
            (AssignmentStateKind::Error, Some(1), false),
            (AssignmentStateKind::ActiveWithError, Some(1), false),
            (AssignmentStateKind::Active, None, false),
            (AssignmentStateKind::Active, Some(2), false),
            (AssignmentStateKind::Active, Some(1), true),
        ] {
            user.license_assignment_states = vec![state(5, from, kind.clone())];
            assert_eq!(
                group_copy_active(&user, sku(5), &groups),
                evidence,
                "{kind:?} from {from:?}"
            );
        }
    }

    #[test]
    fn a_stale_or_null_processing_state_is_not_evidence_that_a_group_processed_a_write() {
        let mut grant = change(group_principal(1));
        grant.add.push(LicenseAdd {
            sku: name(5),
            disabled_plans: Vec::new(),
            already_inherited: false,
        });
        let expect = GroupExpect::of(&grant);
        // (the group as read, settled?)
        let cases = [
            ("never processed: null", group(1, &[], &[], None), false),
            (
                "the ProcessingComplete of before the write",
                group(1, &[], &[], Some("ProcessingComplete")),
                false,
            ),
            (
                "the write seen, not processed yet",
                group(1, &[5], &[], Some("ProcessingInProgress")),
                false,
            ),
            (
                "the write seen, null state",
                group(1, &[5], &[], None),
                false,
            ),
            (
                "the write seen and processed",
                group(1, &[5], &[], Some("ProcessingComplete")),
                true,
            ),
        ];
        for (what, g, settled) in cases {
            assert_eq!(expect.settled(&g), settled, "{what}");
        }
        let mut remove = change(group_principal(1));
        remove.remove.push(removal(5, &[]));
        let expect = GroupExpect::of(&remove);
        assert!(!expect.settled(&group(1, &[5], &[], Some("ProcessingComplete"))));
        assert!(expect.settled(&group(1, &[], &[], Some("ProcessingComplete"))));
    }

    #[test]
    fn an_assign_license_answer_confirms_a_change_unless_a_group_may_hold_the_sku_too() {
        let user = Principal::User {
            id: uid(1),
            name: "u1".into(),
        };
        let mut swap = change(user);
        swap.add.push(LicenseAdd {
            sku: name(5),
            disabled_plans: Vec::new(),
            already_inherited: false,
        });
        swap.remove.push(removal(6, &[]));
        let answered = |skus: &[u128]| -> Vec<AssignedLicense> {
            skus.iter()
                .map(|s| AssignedLicense {
                    sku_id: sku(*s),
                    disabled_plans: Vec::new(),
                })
                .collect()
        };
        let none = BTreeSet::new();
        assert!(confirmed_by_answer(&swap, &answered(&[5, 9]), &none));
        assert!(
            !confirmed_by_answer(&swap, &answered(&[5, 6]), &none),
            "6 still held"
        );
        assert!(
            !confirmed_by_answer(&swap, &answered(&[9]), &none),
            "5 missing"
        );
        // The user may hold SKU 6 from a group: the merged list cannot tell.
        assert!(!confirmed_by_answer(
            &swap,
            &answered(&[5]),
            &BTreeSet::from([sku(6)])
        ));
        // A group's own licenses are never ambiguous.
        let mut grant = change(group_principal(1));
        grant.add.push(LicenseAdd {
            sku: name(6),
            disabled_plans: Vec::new(),
            already_inherited: false,
        });
        assert!(confirmed_by_answer(
            &grant,
            &answered(&[6]),
            &BTreeSet::from([sku(6)])
        ));
    }
}
