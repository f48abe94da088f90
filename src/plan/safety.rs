//! Blast-radius guard: refuses plans that remove or change more than the config allows.
//!
//! Three checks: `safety.max_removals` (licenses taken from users: direct removals, plus
//! every direct member of a group that loses a SKU; and, named on their own, the users a
//! rule-governed SKU is taken from because they match none of the rules giving it), `safety.max_change_percent` (share of
//! managed principals the plan changes) and `protected` principals (never lose a license).
//! A protected user also counts as losing a license when a group they are a direct member
//! of loses it and no other source (a direct copy, another group) keeps it for them.
//! `--allow-unsafe` overrides the two thresholds; a protected principal can only lose a
//! license after it is taken out of `protected` in the config (a reviewed change).
//! Pure: it reads the plan's changes and returns a report.

use hashbrown::{HashMap, HashSet};

use crate::config::Safety;
use crate::ids::{GroupId, SkuId, UserId};

use super::effect::Effect;
use super::model::{Change, Principal, SafetyReport, SafetyViolation, SkuName};
use super::resolve::TenantIndex;

/// Inputs of the safety check besides the changes.
#[derive(Debug)]
pub(crate) struct SafetyInput<'a> {
    /// Thresholds from the config.
    pub limits: &'a Safety,
    /// Principals the config manages.
    pub managed_principals: u64,
    /// Protected users.
    pub protected_users: &'a HashSet<UserId>,
    /// Protected groups.
    pub protected_groups: &'a HashSet<GroupId>,
    /// `--allow-unsafe`.
    pub allow_unsafe: bool,
    /// The direct copies `migrate_to_groups` removes, by user: covered by a group, so no
    /// license is lost; they count against neither threshold (`max_users_per_run` bounds
    /// them).
    pub migrated: &'a HashMap<UserId, HashSet<SkuId>>,
    /// Per rule-governed SKU the plan removes from users who match no rule giving it:
    /// the rules that give it, the SKU, and how many users lose it.
    pub rule_removals: &'a [(Vec<String>, SkuName, u64)],
}

/// Checks `changes` against the limits.
pub(crate) fn check(
    changes: &[Change],
    index: &TenantIndex<'_>,
    input: &SafetyInput<'_>,
) -> SafetyReport {
    let mut removals: u64 = 0;
    let mut changed: u64 = 0;
    let mut violations = Vec::new();
    let effect = Effect::new(changes, index);
    let none = HashSet::new();
    for change in changes {
        let migrated = match &change.principal {
            Principal::User { id, .. } => input.migrated.get(id).unwrap_or(&none),
            Principal::Group { .. } => &none,
        };
        let counted = change
            .remove
            .iter()
            .filter(|r| !migrated.contains(&r.sku.id))
            .count() as u64;
        let only_migration = counted == 0
            && !change.remove.is_empty()
            && change.add.is_empty()
            && change.update.is_empty()
            && change.usage_location.is_none();
        if !only_migration {
            changed += 1;
        }
        let weight = match &change.principal {
            Principal::User { .. } => 1,
            Principal::Group { id, .. } => {
                index.groups.get(id).map_or(1, |g| g.members.len() as u64)
            }
        };
        removals += weight * counted;
        let protected = match &change.principal {
            Principal::User { id, .. } => input.protected_users.contains(id),
            Principal::Group { id, .. } => input.protected_groups.contains(id),
        };
        if protected && !change.remove.is_empty() {
            violations.push(SafetyViolation::Protected {
                principal: change.principal.clone(),
                skus: change.remove.iter().map(|r| r.sku.clone()).collect(),
            });
        }
        if let Principal::Group { id, .. } = &change.principal
            && !change.remove.is_empty()
        {
            violations.extend(protected_members(change, *id, index, &effect, input));
        }
    }
    if let Some(limit) = input.limits.max_removals {
        // Behind the total: which rules take how many of a SKU away.
        let by_rules = input
            .rule_removals
            .iter()
            .filter(|(_, _, n)| *n > u64::from(limit))
            .map(|(rules, sku, n)| SafetyViolation::RuleRemovals {
                rules: rules.clone(),
                sku: sku.clone(),
                removals: *n,
                limit,
            });
        violations.extend(by_rules);
        if removals > u64::from(limit) {
            violations.insert(0, SafetyViolation::MaxRemovals { removals, limit });
        }
    }
    let percent = if input.managed_principals == 0 {
        0.0
    } else {
        (changed as f64 * 1000.0 / input.managed_principals as f64).round() / 10.0
    };
    if let Some(limit) = input.limits.max_change_percent
        && input.managed_principals > 0
        && changed as f64 * 100.0 > limit * input.managed_principals as f64
    {
        let at = usize::from(matches!(
            violations.first(),
            Some(SafetyViolation::MaxRemovals { .. })
        ));
        violations.insert(
            at,
            SafetyViolation::MaxChangePercent {
                changed,
                managed: input.managed_principals,
                percent,
                limit,
            },
        );
    }
    let refused = violations
        .iter()
        .any(|v| !v.overridable() || !input.allow_unsafe);
    SafetyReport {
        removals,
        max_removals: input.limits.max_removals,
        changed_principals: changed,
        managed_principals: input.managed_principals,
        change_percent: percent,
        max_change_percent: input.limits.max_change_percent,
        violations,
        allow_unsafe: input.allow_unsafe,
        refused,
    }
}

/// The protected direct members of `group` who lose a license the group's `change`
/// removes, because no other source keeps it for them; sorted by name.
fn protected_members(
    change: &Change,
    group: GroupId,
    index: &TenantIndex<'_>,
    effect: &Effect<'_>,
    input: &SafetyInput<'_>,
) -> Vec<SafetyViolation> {
    let Some(live) = index.groups.get(&group) else {
        return Vec::new();
    };
    let mut out: Vec<SafetyViolation> = Vec::new();
    for member in &live.members {
        if !input.protected_users.contains(member) {
            continue;
        }
        let Some(user) = index.users.get(member) else {
            continue;
        };
        let after = effect.after(user);
        let lost: Vec<SkuName> = change
            .remove
            .iter()
            .filter(|r| !after.iter().any(|h| h.sku == r.sku.id))
            .map(|r| r.sku.clone())
            .collect();
        if !lost.is_empty() {
            out.push(SafetyViolation::ProtectedMember {
                principal: Principal::User {
                    id: user.id,
                    name: user.user_principal_name.clone(),
                },
                group: change.principal.clone(),
                skus: lost,
            });
        }
    }
    fn key(v: &SafetyViolation) -> Option<(u8, std::borrow::Cow<'_, str>, uuid::Uuid)> {
        match v {
            SafetyViolation::ProtectedMember { principal, .. } => Some(principal.sort_key()),
            _ => None,
        }
    }
    out.sort_by(|a, b| key(a).cmp(&key(b)));
    out
}

/// One line per violation, stating the numbers and how to override.
pub(crate) fn describe(violation: &SafetyViolation) -> String {
    match violation {
        SafetyViolation::MaxRemovals { removals, limit } => format!(
            "the plan removes {removals} licenses, more than safety.max_removals ({limit}); review it and re-run with --allow-unsafe to proceed"
        ),
        SafetyViolation::MaxChangePercent {
            changed,
            managed,
            percent,
            limit,
        } => format!(
            "the plan changes {changed} of {managed} managed principals ({percent}%), more than safety.max_change_percent ({limit}%); review it and re-run with --allow-unsafe to proceed"
        ),
        SafetyViolation::Protected { principal, skus } => {
            let names: Vec<&str> = skus.iter().map(|s| s.part_number.as_str()).collect();
            format!(
                "protected {} {} would lose {}; take it out of `protected` in licensectl.yaml first (--allow-unsafe does not override this)",
                principal.kind(),
                principal.name(),
                names.join(", ")
            )
        }
        SafetyViolation::RuleRemovals {
            rules,
            sku,
            removals,
            limit,
        } => {
            let which = match rules.as_slice() {
                [one] => format!("rule {one}"),
                many => format!("rules {}", many.join(", ")),
            };
            format!(
                "{which} would take {} from {removals} users who match none of them, more than safety.max_removals ({limit}); review the rule's match and re-run with --allow-unsafe to proceed",
                sku.part_number
            )
        }
        SafetyViolation::ProtectedMember {
            principal,
            group,
            skus,
        } => {
            let names: Vec<&str> = skus.iter().map(|s| s.part_number.as_str()).collect();
            format!(
                "protected user {} would lose {} through group {}, which loses it (no other source keeps it for the user); take the user out of `protected` in licensectl.yaml first, or give the user another source (--allow-unsafe does not override this)",
                principal.name(),
                names.join(", "),
                group.name()
            )
        }
    }
}
