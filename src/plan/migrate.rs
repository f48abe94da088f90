//! The staged move from direct to group licensing (`migrate_to_groups`).
//!
//! Microsoft's guidance for moving users from direct to group-based licensing is to
//! assign the group, then "remove direct licenses in waves"
//! (https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-migrate-users);
//! nothing in it proves that the group covers each user first. Here a user's direct copy
//! of a SKU is removed only when
//! - the user is a direct member of a group the config manages that gives the SKU (after
//!   the plan: the config's licenses of the group), and
//! - every service plan the direct copy has on is on through those groups' copies of the
//!   SKU (no feature is lost: a user gets the union of the plans of every source), and
//! - none of those groups' copies of the SKU fails for the user today (a failing copy
//!   would leave the user without the license once the direct copy goes).
//!
//! Otherwise the direct copy stays and a `migration-blocked` finding names exactly what
//! is missing: the plans the groups lack, or the group copy that fails. It applies to
//! every direct member of such a group the config does not declare with a license list
//! (declared users are governed by their list) and that is not protected. At most
//! `max_users_per_run` users are migrated per plan, by userPrincipalName; the others are
//! the next waves. Apply removes each direct copy only once the user's copy from one of
//! the groups shows `Active` (`crate::apply::evidence`).
//!
//! Pure: [`assess`] decides per (user, SKU); [`plan`] turns that into the wave's changes,
//! the findings and the report. The last gate of apply calls [`assess`] too, so that it
//! allows exactly these removals.

use std::collections::BTreeMap;

use hashbrown::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::config::MigrateToGroups;
use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::snapshot::{AssignmentStateKind, User};

use super::model::{Change, Finding, FindingKind, LicenseRemove, PlanName, Principal};
use super::planner::{group_principal, user_principal};
use super::resolve::{Resolved, TenantIndex};

/// What becomes of one direct copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The groups cover it: it may go.
    Covered,
    /// The groups give the SKU, but without these plans the direct copy has on.
    Lacking(Vec<ServicePlanId>),
    /// A group's copy of the SKU fails for the user (its state and error).
    Failing {
        /// The failing group.
        group: GroupId,
        /// Graph's error code, when it gave one.
        error: Option<String>,
    },
}

/// One direct copy of a SKU held by a user whom a managed group gives the same SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assessment {
    /// The user.
    pub(crate) user: UserId,
    /// The SKU.
    pub(crate) sku: SkuId,
    /// The managed groups (the user is a direct member) that give the SKU, sorted.
    pub(crate) groups: Vec<GroupId>,
    /// What becomes of the direct copy.
    pub(crate) verdict: Verdict,
}

/// The managed groups that give a SKU to a member, each with the plans it turns off.
type Sources<'r> = Vec<(GroupId, &'r [ServicePlanId])>;

/// Every direct copy a managed group gives too, of every user the migration governs:
/// direct members of the config's groups with licenses, not declared with a license
/// list and not protected. Sorted by user and SKU.
pub(crate) fn assess(index: &TenantIndex<'_>, resolved: &Resolved) -> Vec<Assessment> {
    let governed_by_list: HashSet<UserId> = resolved
        .users
        .iter()
        .filter(|u| u.licenses.is_some())
        .map(|u| u.id)
        .collect();
    // Per member: per SKU, the groups that give it and the plans each turns off.
    let mut given: BTreeMap<UserId, BTreeMap<SkuId, Sources<'_>>> = BTreeMap::new();
    for group in &resolved.groups {
        let (Some(licenses), Some(live)) = (&group.licenses, index.groups.get(&group.id)) else {
            continue;
        };
        for member in &live.members {
            if governed_by_list.contains(member) || resolved.protected_users.contains(member) {
                continue;
            }
            for license in licenses {
                given
                    .entry(*member)
                    .or_default()
                    .entry(license.sku)
                    .or_default()
                    .push((group.id, &license.disabled_plans));
            }
        }
    }
    let mut out = Vec::new();
    for (user_id, skus) in given {
        let Some(user) = index.users.get(&user_id) else {
            continue;
        };
        // Without assignment states the source of a license is unknown: never migrate.
        if user.license_assignment_states.is_empty() {
            continue;
        }
        for (sku, sources) in skus {
            let Some(direct) = user.direct_states().find(|s| s.sku_id == sku) else {
                continue;
            };
            let mut groups: Vec<GroupId> = sources.iter().map(|(g, _)| *g).collect();
            groups.sort();
            groups.dedup();
            let verdict = match failing_copy(user, sku, &groups) {
                Some((group, error)) => Verdict::Failing { group, error },
                None => {
                    let lacking = lacking_plans(index, sku, &direct.disabled_plans, &sources);
                    if lacking.is_empty() {
                        Verdict::Covered
                    } else {
                        Verdict::Lacking(lacking)
                    }
                }
            };
            out.push(Assessment {
                user: user_id,
                sku,
                groups,
                verdict,
            });
        }
    }
    out
}

/// A copy of `sku` from one of `groups` that fails for `user` now.
fn failing_copy(user: &User, sku: SkuId, groups: &[GroupId]) -> Option<(GroupId, Option<String>)> {
    user.inherited_states()
        .filter(|s| s.sku_id == sku)
        .filter(|s| {
            matches!(
                s.state,
                AssignmentStateKind::Error | AssignmentStateKind::ActiveWithError
            )
        })
        .find_map(|s| {
            let group = s.assigned_by_group.filter(|g| groups.contains(g))?;
            Some((group, s.error.as_ref().map(ToString::to_string)))
        })
}

/// The plans of `sku` that the direct copy (with `direct_disabled` off) has on and that
/// no group source turns on, sorted. Plans are those the SKU lists.
fn lacking_plans(
    index: &TenantIndex<'_>,
    sku: SkuId,
    direct_disabled: &[ServicePlanId],
    sources: &[(GroupId, &[ServicePlanId])],
) -> Vec<ServicePlanId> {
    let Some(product) = index.skus.get(&sku) else {
        return Vec::new();
    };
    let mut lacking: Vec<ServicePlanId> = product
        .service_plans
        .iter()
        .map(|p| p.service_plan_id)
        .filter(|p| !direct_disabled.contains(p))
        .filter(|p| sources.iter().all(|(_, off)| off.contains(p)))
        .collect();
    lacking.sort();
    lacking.dedup();
    lacking
}

/// The direct copies the migration may remove, by user (for the last gate).
pub(crate) fn removable(
    index: &TenantIndex<'_>,
    resolved: &Resolved,
) -> HashMap<UserId, HashSet<SkuId>> {
    let mut out: HashMap<UserId, HashSet<SkuId>> = HashMap::new();
    for a in assess(index, resolved) {
        if a.verdict == Verdict::Covered {
            out.entry(a.user).or_default().insert(a.sku);
        }
    }
    out
}

/// The migration's part of a plan report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationReport {
    /// `migrate_to_groups.max_users_per_run`.
    pub max_users_per_run: u32,
    /// Users whose direct copies this plan removes (this wave), by userPrincipalName.
    pub this_wave: Vec<Principal>,
    /// Direct copies this plan removes.
    pub removals: u64,
    /// Users whose covered direct copies wait for a later plan, by userPrincipalName.
    pub next_waves: Vec<Principal>,
    /// Plans (runs) still needed after this one for the next waves:
    /// ⌈next waves / max_users_per_run⌉.
    pub runs_after_this: u64,
    /// Direct copies kept because the groups do not cover them (the `migration-blocked`
    /// findings).
    pub blocked: u64,
}

/// What the migration adds to a plan.
#[derive(Debug, Default)]
pub(crate) struct Migration {
    /// One change per user of this wave (removals only).
    pub(crate) changes: Vec<Change>,
    /// `migration-blocked` findings.
    pub(crate) findings: Vec<Finding>,
    /// Every (user, SKU) the migration decided about (its duplicate-of-inherited finding
    /// is replaced by the change, the next wave or the blocked finding).
    pub(crate) handled: HashSet<(UserId, SkuId)>,
    /// The report.
    pub(crate) report: Option<MigrationReport>,
}

fn names(index: &TenantIndex<'_>, sku: SkuId, plans: &[ServicePlanId]) -> Vec<PlanName> {
    let mut out: Vec<PlanName> = plans.iter().map(|p| index.plan_name(sku, *p)).collect();
    out.sort();
    out
}

/// The migration of `settings` over the tenant: this wave's changes, the blocked findings
/// and the report. The rule-governed SKUs (`governed_skus`) of the users the attribute
/// rules govern (`governed`) are left to the rules, as declared users are to their
/// license lists.
pub(crate) fn plan(
    index: &TenantIndex<'_>,
    resolved: &Resolved,
    settings: &MigrateToGroups,
    governed: &HashSet<UserId>,
    governed_skus: &HashSet<SkuId>,
) -> Migration {
    let mut out = Migration::default();
    let mut covered: BTreeMap<(String, UserId), Vec<Assessment>> = BTreeMap::new();
    let mut blocked = 0u64;
    for a in assess(index, resolved) {
        if governed.contains(&a.user) && governed_skus.contains(&a.sku) {
            continue;
        }
        out.handled.insert((a.user, a.sku));
        let Some(user) = index.users.get(&a.user) else {
            continue;
        };
        let sku = index.sku_name(a.sku);
        let group_names: Vec<String> = a
            .groups
            .iter()
            .map(|g| group_principal(index, *g).name().to_owned())
            .collect();
        let (message, fix, plans, group, error) = match &a.verdict {
            Verdict::Covered => {
                covered
                    .entry((user.user_principal_name.to_lowercase(), a.user))
                    .or_default()
                    .push(a);
                continue;
            }
            Verdict::Lacking(lacking) => {
                let plans = names(index, a.sku, lacking);
                let list: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
                (
                    format!(
                        "{}'s direct copy of {} is kept: group {} gives {} without {}, which the direct copy has on",
                        user.user_principal_name,
                        sku.part_number,
                        group_names.join(", "),
                        sku.part_number,
                        list.join(", ")
                    ),
                    format!(
                        "turn {} on in the group's {} (or off in the user's direct copy, if the user does not need them), then plan again",
                        list.join(", "),
                        sku.part_number
                    ),
                    plans,
                    a.groups.first().copied(),
                    None,
                )
            }
            Verdict::Failing { group, error } => (
                format!(
                    "{}'s direct copy of {} is kept: the copy from group {} fails for the user ({})",
                    user.user_principal_name,
                    sku.part_number,
                    group_principal(index, *group).name(),
                    error.as_deref().unwrap_or("an error")
                ),
                "fix the group license error first (see its assignment-error finding), then plan again".to_owned(),
                Vec::new(),
                Some(*group),
                error.clone(),
            ),
        };
        blocked += 1;
        out.findings.push(Finding {
            kind: FindingKind::MigrationBlocked,
            principal: user_principal(user),
            sku,
            group: group.map(|g| group_principal(index, g)),
            plans,
            error,
            message,
            fix,
            managed: false,
        });
    }
    let cap = settings.max_users_per_run as usize;
    let mut report = MigrationReport {
        max_users_per_run: settings.max_users_per_run,
        this_wave: Vec::new(),
        removals: 0,
        next_waves: Vec::new(),
        runs_after_this: 0,
        blocked,
    };
    for (i, ((_, user_id), copies)) in covered.into_iter().enumerate() {
        let Some(user) = index.users.get(&user_id) else {
            continue;
        };
        if i >= cap {
            report.next_waves.push(user_principal(user));
            continue;
        }
        report.this_wave.push(user_principal(user));
        let mut change = Change::new(user_principal(user));
        for a in copies {
            let mut groups: Vec<Principal> = a
                .groups
                .iter()
                .map(|g| group_principal(index, *g))
                .collect();
            groups.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            change.remove.push(LicenseRemove {
                sku: index.sku_name(a.sku),
                destructive: false,
                exchange_grace: false,
                still_inherited_from: groups,
                swapped_for: Vec::new(),
            });
        }
        change.remove.sort_by(|a, b| a.sku.cmp(&b.sku));
        report.removals += change.remove.len() as u64;
        out.changes.push(change);
    }
    report.runs_after_this =
        (report.next_waves.len() as u64).div_ceil(u64::from(settings.max_users_per_run.max(1)));
    out.report = Some(report);
    out
}
