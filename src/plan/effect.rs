//! What the tenant holds after a plan: every user's license sources (direct and each
//! group) before and after the plan's changes, computed from the live tenant and the
//! changes alone.
//!
//! The dependency check, the protected-member check, the stacked-plan finding and the
//! inherited-license notes all ask the same question — "which licenses, with which
//! service plans on, does this user hold once the plan is applied?" — and this module
//! answers it once. Pure: it reads the tenant index and the changes and returns data.
//! It must not decide anything (that is its callers' job) and never counts seats (see
//! `seats`).

use hashbrown::{HashMap, HashSet};

use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::snapshot::{AssignedLicense, AssignmentStateKind, Group, User};

use super::model::{Change, Principal};
use super::resolve::TenantIndex;

/// One copy of a SKU a principal holds, from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holding {
    /// The product.
    pub(crate) sku: SkuId,
    /// `None` for a direct assignment, else the granting group.
    pub(crate) group: Option<GroupId>,
    /// The copy's `disabledPlans`, sorted.
    pub(crate) disabled: Vec<ServicePlanId>,
}

fn sorted(plans: &[ServicePlanId]) -> Vec<ServicePlanId> {
    let mut plans = plans.to_vec();
    plans.sort();
    plans.dedup();
    plans
}

fn holdings(licenses: &[AssignedLicense], group: Option<GroupId>) -> Vec<Holding> {
    licenses
        .iter()
        .map(|l| Holding {
            sku: l.sku_id,
            group,
            disabled: sorted(&l.disabled_plans),
        })
        .collect()
}

/// The user's working license sources today: direct assignments and inherited copies
/// that are not in `Error` (a user with `assignedLicenses` but no
/// `licenseAssignmentStates` at all holds them directly).
pub(crate) fn live_holdings(user: &User) -> Vec<Holding> {
    if user.license_assignment_states.is_empty() {
        return holdings(&user.assigned_licenses, None);
    }
    let mut out: Vec<Holding> = Vec::new();
    for state in &user.license_assignment_states {
        if state.state == AssignmentStateKind::Error {
            continue;
        }
        let group = state.assigned_by_group;
        if out
            .iter()
            .any(|h| h.sku == state.sku_id && h.group == group)
        {
            continue;
        }
        out.push(Holding {
            sku: state.sku_id,
            group,
            disabled: sorted(&state.disabled_plans),
        });
    }
    out
}

/// Applies one change's license lists to `held` (the principal's copies from one source).
fn apply_change(held: &mut Vec<Holding>, change: &Change, group: Option<GroupId>) {
    held.retain(|h| {
        !change.remove.iter().any(|r| r.sku.id == h.sku)
            && !change.update.iter().any(|u| u.sku.id == h.sku)
            && !change.add.iter().any(|a| a.sku.id == h.sku)
    });
    let ids =
        |plans: &[super::model::PlanName]| sorted(&plans.iter().map(|p| p.id).collect::<Vec<_>>());
    for add in &change.add {
        held.push(Holding {
            sku: add.sku.id,
            group,
            disabled: ids(&add.disabled_plans),
        });
    }
    for update in &change.update {
        held.push(Holding {
            sku: update.sku.id,
            group,
            disabled: ids(&update.disabled_plans),
        });
    }
}

/// The tenant after a plan.
#[derive(Debug)]
pub(crate) struct Effect<'p> {
    /// Changes of users, by id.
    users: HashMap<UserId, &'p Change>,
    /// The licenses of every group the plan changes, after the plan.
    groups: HashMap<GroupId, Vec<Holding>>,
    /// For every direct member of a changed group, those groups.
    member_of_changed: HashMap<UserId, Vec<GroupId>>,
}

impl<'p> Effect<'p> {
    /// The effect of `changes` on the tenant of `index`.
    pub(crate) fn new(changes: &'p [Change], index: &TenantIndex<'_>) -> Self {
        let mut effect = Effect {
            users: HashMap::new(),
            groups: HashMap::new(),
            member_of_changed: HashMap::new(),
        };
        for change in changes {
            match &change.principal {
                Principal::User { id, .. } => {
                    effect.users.insert(*id, change);
                }
                Principal::Group { id, .. } => {
                    let Some(group) = index.groups.get(id) else {
                        continue;
                    };
                    let mut held = holdings(&group.assigned_licenses, Some(*id));
                    apply_change(&mut held, change, Some(*id));
                    effect.groups.insert(*id, held);
                    for member in &group.members {
                        effect
                            .member_of_changed
                            .entry(*member)
                            .or_default()
                            .push(*id);
                    }
                }
            }
        }
        effect
    }

    /// The changed groups' ids.
    pub(crate) fn changed_groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.groups.keys().copied()
    }

    /// A changed group's licenses after the plan (`None` when the plan does not change it).
    pub(crate) fn group_after(&self, group: GroupId) -> Option<&[Holding]> {
        self.groups.get(&group).map(Vec::as_slice)
    }

    /// True when the plan may change the user's license sources (a change of the user,
    /// or of a group the user is a direct member of).
    pub(crate) fn is_affected(&self, user: UserId) -> bool {
        self.users.contains_key(&user) || self.member_of_changed.contains_key(&user)
    }

    /// The users whose license sources the plan may change: users with a change and
    /// direct members of changed groups, each once, sorted.
    pub(crate) fn affected_users(&self) -> Vec<UserId> {
        let mut users: HashSet<UserId> = self.users.keys().copied().collect();
        users.extend(self.member_of_changed.keys().copied());
        let mut users: Vec<UserId> = users.into_iter().collect();
        users.sort();
        users
    }

    /// The user's license sources after the plan.
    pub(crate) fn after(&self, user: &User) -> Vec<Holding> {
        let live = live_holdings(user);
        if !self.is_affected(user.id) {
            return live;
        }
        let (mut direct, inherited): (Vec<Holding>, Vec<Holding>) =
            live.into_iter().partition(|h| h.group.is_none());
        if let Some(change) = self.users.get(&user.id) {
            apply_change(&mut direct, change, None);
        }
        let mut out = direct;
        for held in inherited {
            match held.group.and_then(|g| self.groups.get(&g)) {
                // A changed group: its copy follows the group's licenses after the plan.
                Some(after) => {
                    if let Some(copy) = after.iter().find(|a| a.sku == held.sku) {
                        out.push(copy.clone());
                    }
                }
                None => out.push(held),
            }
        }
        // Copies a changed group adds: every SKU of the group the member has no state for
        // from that group yet (a failed copy stays failed).
        for group in self.member_of_changed.get(&user.id).into_iter().flatten() {
            for copy in self.groups.get(group).into_iter().flatten() {
                let known = user
                    .license_assignment_states
                    .iter()
                    .any(|s| s.assigned_by_group == Some(*group) && s.sku_id == copy.sku);
                if !known {
                    out.push(copy.clone());
                }
            }
        }
        out
    }
}

/// The licenses a group assigns today.
pub(crate) fn group_holdings(group: &Group) -> Vec<Holding> {
    holdings(&group.assigned_licenses, Some(group.id))
}
