//! Service-plan rules: plans that need another plan (dependencies) and plans that cannot
//! be enabled together (mutual exclusion), checked on every `assignLicense`.
//!
//! Graph refuses a call that leaves a user (or a licensed group) with a dependent plan
//! enabled and none of its prerequisites, whether the call adds the dependent, removes a
//! license or disables plans: the dependency error "occurs when Microsoft Entra ID attempts
//! to remove the underlying service plan", and "with group-based licensing, the system
//! requires that both the prerequisite and add-on service plans be present in the same
//! group" (<https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems>).
//! The rules come from the tenant file's `servicePlanRules` and, unless turned off, from
//! the small table of sourced rules below (Microsoft publishes no machine-readable list:
//! <https://github.com/MicrosoftDocs/azure-docs/issues/23999>). A rule is checked against the
//! union of the plans enabled by every source of the user; a call is refused when it
//! introduces a violation that was not there before. Pure functions.

use std::collections::HashSet;

use licensectl_model::ids::{ServicePlanId, parse_guid};
use licensectl_model::snapshot::{AssignedLicense, AssignmentError, PlanDependency};

/// A dependency of the built-in table: `(plan name, plan id, prerequisites (any one),
/// source)`.
type KnownDependency = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// Dependencies Graph is known to enforce, with their sources.
pub const KNOWN_DEPENDENCIES: &[KnownDependency] = &[
    (
        "WORKPLACE_ANALYTICS",
        "f477b0f0-3bb1-4890-940c-40fcee6ce05f",
        &[
            (
                "EXCHANGE_S_STANDARD",
                "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
            ),
            (
                "EXCHANGE_S_ENTERPRISE",
                "efb87545-963c-4e0d-99df-69c6916d9eb0",
            ),
        ],
        // Documented: "only assign this service plan ... when one of the following
        // prerequisites is also assigned: Exchange Online (Plan 1), Exchange Online (Plan 2)".
        "https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems#manage-licenses-for-products-with-prerequisites",
    ),
    (
        "MCOMEETADV",
        "3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40",
        &[
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
        ],
        // Documented: "Audio Conferencing is dependent on Skype for Business". Teams is
        // accepted too (a modelling choice): Microsoft's own Teams Rooms Basic product
        // bundles Audio Conferencing with Teams and no Skype plan.
        "https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems#when-a-licensed-group-is-deleted",
    ),
    (
        "SHAREPOINT_PROJECT",
        "fe71d6c3-a2ea-4499-9778-da042bf08063",
        &[(
            "SHAREPOINTENTERPRISE",
            "5dbe027f-2339-4123-9542-606e4d348a72",
        )],
        // Observed: Graph's own answer to reprocessLicenseAssignment, "License assignment
        // failed because service plan fe71d6c3-… depends on the service plan(s) 5dbe027f-…",
        // quoted in a public write-up (the README of a `Debug-GroupLicenseAssignment.ps1`
        // script on GitHub); the mechanism is documented on the page below.
        "https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems#other-products-depend-on-this-license",
    ),
];

/// A mutually exclusive pair of the built-in table: `(name, id, name, id, source)`.
type KnownExclusion = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Pairs Microsoft still lists as "cannot be assigned at the same time" and that no later
/// announcement lifted (Exchange Online plans may be stacked since 2023:
/// <https://techcommunity.microsoft.com/t5/exchange-team-blog/introducing-support-for-concurrent-exchange-online-license/ba-p/3721098>).
pub const KNOWN_EXCLUSIONS: &[KnownExclusion] = &[
    (
        "MCOPSTN1",
        "4ed3ff63-69d7-4fb7-b984-5aec7f605ca8",
        "MCOPSTN2",
        "5a10155d-f5c1-411a-a8ec-e99aae125390",
        "https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference#service-plans-that-cannot-be-assigned-at-the-same-time",
    ),
    (
        "RMS_S_ENTERPRISE",
        "bea4c11e-220a-4e6d-8eb8-8ea15d019f90",
        "RMS_S_ENTERPRISE_GOV",
        "6a76346d-5d6e-4051-9fe3-ed3f312b5597",
        "https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference#service-plans-that-cannot-be-assigned-at-the-same-time",
    ),
];

fn plan(id: &str) -> ServicePlanId {
    ServicePlanId(parse_guid(id).unwrap_or_default())
}

/// The built-in dependencies as snapshot rules.
pub fn known_dependencies() -> Vec<PlanDependency> {
    KNOWN_DEPENDENCIES
        .iter()
        .map(|(_, id, requires, _)| PlanDependency {
            plan: plan(id),
            requires: requires.iter().map(|(_, r)| plan(r)).collect(),
        })
        .collect()
}

/// The built-in exclusions as snapshot rules.
pub fn known_exclusions() -> Vec<[ServicePlanId; 2]> {
    KNOWN_EXCLUSIONS
        .iter()
        .map(|(_, a, _, b, _)| [plan(a), plan(b)])
        .collect()
}

/// The rules `assignLicense` enforces.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PlanRules {
    exclusive: Vec<[ServicePlanId; 2]>,
    dependencies: Vec<PlanDependency>,
    /// Opt-in: a license whose `disabledPlans` take away a prerequisite also gets the
    /// plans of the same license that depend on it disabled, instead of being refused.
    pub(crate) disable_dependents: bool,
}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// `plan` is enabled and none of `requires` is.
    Dependency {
        plan: ServicePlanId,
        requires: Vec<ServicePlanId>,
    },
    /// Both are enabled.
    Exclusive(ServicePlanId, ServicePlanId),
}

impl Violation {
    /// The `licenseAssignmentState.error` group licensing records for it.
    pub(crate) fn error(&self) -> AssignmentError {
        match self {
            Violation::Dependency { .. } => AssignmentError::DependencyViolation,
            Violation::Exclusive(..) => AssignmentError::MutuallyExclusiveViolation,
        }
    }

    /// Graph's message: plan GUIDs, the prerequisites comma-separated, as in the error
    /// bodies quoted in public scripts (fact: the wording of the audit log in
    /// <https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems>).
    pub(crate) fn message(&self) -> String {
        match self {
            Violation::Dependency { plan, requires } => format!(
                "License assignment failed because service plan {plan} depends on the service plan(s) {}",
                requires
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Violation::Exclusive(a, b) => format!(
                "License assignment failed because service plans {a}, {b} are mutually exclusive."
            ),
        }
    }
}

impl PlanRules {
    /// The tenant file's rules, plus the built-in table when `known` is set.
    pub(crate) fn new(
        exclusive: &[[ServicePlanId; 2]],
        dependencies: &[PlanDependency],
        known: bool,
        disable_dependents: bool,
    ) -> Self {
        let mut rules = Self {
            exclusive: exclusive.to_vec(),
            dependencies: dependencies.to_vec(),
            disable_dependents,
        };
        if known {
            for pair in known_exclusions() {
                if !rules.exclusive.contains(&pair) {
                    rules.exclusive.push(pair);
                }
            }
            for dep in known_dependencies() {
                if !rules.dependencies.contains(&dep) {
                    rules.dependencies.push(dep);
                }
            }
        }
        rules
    }

    /// Every rule `enabled` breaks.
    pub(crate) fn violations(&self, enabled: &HashSet<ServicePlanId>) -> Vec<Violation> {
        let mut out = Vec::new();
        for [a, b] in &self.exclusive {
            if enabled.contains(a) && enabled.contains(b) {
                out.push(Violation::Exclusive(*a, *b));
            }
        }
        for dep in &self.dependencies {
            if enabled.contains(&dep.plan) && !dep.requires.iter().any(|r| enabled.contains(r)) {
                out.push(Violation::Dependency {
                    plan: dep.plan,
                    requires: dep.requires.clone(),
                });
            }
        }
        out
    }

    /// The first rule `after` breaks that `before` did not: a call that introduces it is
    /// refused, while a violation already present does not block unrelated calls.
    pub(crate) fn introduced(
        &self,
        before: &HashSet<ServicePlanId>,
        after: &HashSet<ServicePlanId>,
    ) -> Option<Violation> {
        let old = self.violations(before);
        self.violations(after)
            .into_iter()
            .find(|v| !old.contains(v))
    }

    /// With `disable_dependents`: disables in `lic` (whose SKU has the plans `sku_plans`)
    /// every plan that depends on a prerequisite neither `lic` nor `others` enables, until
    /// nothing changes. Returns true when it disabled something.
    pub(crate) fn disable_orphans(
        &self,
        lic: &mut AssignedLicense,
        sku_plans: &[ServicePlanId],
        others: &HashSet<ServicePlanId>,
    ) -> bool {
        if !self.disable_dependents {
            return false;
        }
        let mut changed = false;
        loop {
            let enabled: HashSet<ServicePlanId> = sku_plans
                .iter()
                .filter(|p| !lic.disabled_plans.contains(p))
                .copied()
                .chain(others.iter().copied())
                .collect();
            let orphan = self.dependencies.iter().find(|d| {
                sku_plans.contains(&d.plan)
                    && !lic.disabled_plans.contains(&d.plan)
                    && !d.requires.iter().any(|r| enabled.contains(r))
                    // Only a prerequisite this license itself carries and disables.
                    && d.requires.iter().any(|r| sku_plans.contains(r))
            });
            match orphan {
                Some(d) => {
                    lic.disabled_plans.push(d.plan);
                    changed = true;
                }
                None => return changed,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licensectl_model::ids::SkuId;

    fn set(ids: &[&str]) -> HashSet<ServicePlanId> {
        ids.iter().map(|i| plan(i)).collect()
    }

    const WA: &str = "f477b0f0-3bb1-4890-940c-40fcee6ce05f";
    const EX1: &str = "9aaf7827-d63c-4b61-89c3-182f06f82e5c";
    const EX2: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";

    #[test]
    fn the_built_in_table_parses_and_names_sources() {
        for (name, id, requires, source) in KNOWN_DEPENDENCIES {
            assert!(parse_guid(id).is_ok(), "{name}");
            assert!(
                requires.iter().all(|(_, r)| parse_guid(r).is_ok()),
                "{name}"
            );
            assert!(source.starts_with("https://"), "{name}");
        }
        for (a, ida, b, idb, source) in KNOWN_EXCLUSIONS {
            assert!(
                parse_guid(ida).is_ok() && parse_guid(idb).is_ok(),
                "{a} {b}"
            );
            assert!(source.starts_with("https://"));
        }
    }

    #[test]
    fn only_introduced_violations_count() {
        let rules = PlanRules::new(&[], &[], true, false);
        assert_eq!(
            rules.introduced(&set(&[EX1]), &set(&[EX1, WA])),
            None,
            "a prerequisite is present"
        );
        let v = rules
            .introduced(&set(&[EX2, WA]), &set(&[WA]))
            .expect("removing the prerequisite");
        assert_eq!(v.error(), AssignmentError::DependencyViolation);
        assert_eq!(
            v.message(),
            format!(
                "License assignment failed because service plan {WA} depends on the service plan(s) {EX1},{EX2}"
            )
        );
        assert_eq!(
            rules.introduced(&set(&[WA]), &set(&[WA])),
            None,
            "pre-existing"
        );
        assert_eq!(
            rules.introduced(&set(&[EX1]), &set(&[EX1, EX2])),
            None,
            "Exchange plans stack"
        );
        let pstn = rules
            .introduced(
                &set(&["4ed3ff63-69d7-4fb7-b984-5aec7f605ca8"]),
                &set(&[
                    "4ed3ff63-69d7-4fb7-b984-5aec7f605ca8",
                    "5a10155d-f5c1-411a-a8ec-e99aae125390",
                ]),
            )
            .expect("calling plans exclude each other");
        assert_eq!(pstn.error(), AssignmentError::MutuallyExclusiveViolation);
        assert!(
            PlanRules::new(&[], &[], false, false)
                .violations(&set(&[WA]))
                .is_empty()
        );
    }

    #[test]
    fn dependents_are_disabled_with_their_prerequisite_only_when_asked() {
        let sku_plans = [plan(EX2), plan(WA)];
        let mut lic = AssignedLicense {
            sku_id: SkuId(uuid::Uuid::nil()),
            disabled_plans: vec![plan(EX2)],
        };
        let refuse = PlanRules::new(&[], &[], true, false);
        assert!(!refuse.disable_orphans(&mut lic, &sku_plans, &HashSet::new()));
        let rewrite = PlanRules::new(&[], &[], true, true);
        assert!(
            !rewrite.disable_orphans(&mut lic.clone(), &sku_plans, &set(&[EX1])),
            "another source still enables a prerequisite"
        );
        assert!(rewrite.disable_orphans(&mut lic, &sku_plans, &HashSet::new()));
        assert_eq!(lic.disabled_plans, vec![plan(EX2), plan(WA)]);
    }
}
