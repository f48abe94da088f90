//! Service plan dependencies: plans that Graph only keeps on while another plan is on
//! for the same user (an add-on and its base plan).
//!
//! Graph refuses an `assignLicense` that would leave a dependent plan without its
//! prerequisite — an add, a removal or a `disabledPlans` update alike ("License
//! assignment failed because service plan … depends on the service plan(s) …") — and
//! group licensing needs the prerequisite in the same group
//! (https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems).
//! Microsoft publishes no machine-readable list of these dependencies, so what the
//! planner knows is small: the sourced rows of [`BUNDLED`] plus the tenant snapshot's own
//! `servicePlanRules` (which the emulator enforces). What is not known here is left to
//! Graph, and apply reports its answer.
//!
//! The checks report only what the plan itself breaks: a user (or group) that already
//! holds a dependent plan without its prerequisite, and keeps it so, is Graph's existing
//! state, not this plan's doing. Pure: data in, diagnostics and notes out.

use hashbrown::{HashMap, HashSet};

use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};
use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::snapshot::TenantSnapshot;

use super::effect::{Effect, Holding, group_holdings, live_holdings};
use super::planner::group_principal;
use super::resolve::TenantIndex;

/// One bundled dependency: `plan` needs one of `requires` on for the same user.
struct BundledRule {
    /// The dependent plan's name and id.
    plan: (&'static str, &'static str),
    /// The prerequisites (any one suffices), by name and id.
    requires: &'static [(&'static str, &'static str)],
    /// Where the rule comes from.
    source: &'static str,
}

/// The dependencies the planner knows without the tenant's help. Plan ids are Microsoft's
/// (https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference).
/// Only rows with a public source are here; a row whose source names fewer prerequisites
/// than real SKUs satisfy it with is widened (a wider row can only refuse less).
const BUNDLED: &[BundledRule] = &[
    // "Microsoft Workplace Analytics … only assign this service plan … when one of the
    // following prerequisites is also assigned: Exchange Online (Plan 1), Exchange Online
    // (Plan 2)":
    // https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems#manage-licenses-for-products-with-prerequisites
    BundledRule {
        plan: (
            "WORKPLACE_ANALYTICS",
            "f477b0f0-3bb1-4890-940c-40fcee6ce05f",
        ),
        requires: &[
            (
                "EXCHANGE_S_STANDARD",
                "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
            ),
            (
                "EXCHANGE_S_ENTERPRISE",
                "efb87545-963c-4e0d-99df-69c6916d9eb0",
            ),
        ],
        source: "https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems#manage-licenses-for-products-with-prerequisites",
    },
    // "Audio Conferencing is dependent on Skype for Business" (MCOSTANDARD):
    // https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems#when-a-licensed-group-is-deleted
    // Widened by TEAMS1: Microsoft Teams Rooms Basic carries MCOMEETADV with TEAMS1 and no
    // MCOSTANDARD (Microsoft's product and service plan CSV,
    // https://download.microsoft.com/download/e/3/e/e3e9faf2-f28b-490a-9ada-c6089a1fc5b0/Product%20names%20and%20service%20plan%20identifiers%20for%20licensing.csv).
    BundledRule {
        plan: ("MCOMEETADV", "3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40"),
        requires: &[
            ("MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"),
            ("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
        ],
        source: "https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems#when-a-licensed-group-is-deleted",
    },
];

/// A dependency: the plan needs one of `requires` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    /// The prerequisites; any one suffices. Sorted.
    pub(crate) requires: Vec<ServicePlanId>,
    /// Where the rule comes from: a URL, or `the tenant's servicePlanRules`.
    pub(crate) source: &'static str,
}

/// Every dependency the planner knows, by dependent plan, with plan names for messages.
#[derive(Debug, Default)]
pub(crate) struct Dependencies {
    rules: HashMap<ServicePlanId, Vec<Rule>>,
    names: HashMap<ServicePlanId, String>,
    /// Per SKU of the tenant, its plans that some rule names (dependent or prerequisite):
    /// the only plans the checks need to look at.
    relevant: HashMap<SkuId, Vec<ServicePlanId>>,
}

fn parse_plan(id: &str) -> Option<ServicePlanId> {
    crate::ids::parse_guid(id).ok().map(ServicePlanId::new)
}

impl Dependencies {
    /// The bundled rules plus the snapshot's `servicePlanRules.dependencies`; plan names
    /// from the snapshot's SKUs, else from the bundled table.
    pub(crate) fn new(snapshot: &TenantSnapshot) -> Self {
        let mut deps = Dependencies::default();
        for row in BUNDLED {
            let Some(plan) = parse_plan(row.plan.1) else {
                continue;
            };
            deps.names.insert(plan, row.plan.0.to_owned());
            let mut requires = Vec::new();
            for (name, id) in row.requires {
                if let Some(id) = parse_plan(id) {
                    deps.names.insert(id, (*name).to_owned());
                    requires.push(id);
                }
            }
            deps.add(plan, requires, row.source);
        }
        for rule in &snapshot.service_plan_rules.dependencies {
            deps.add(
                rule.plan,
                rule.requires.clone(),
                "the tenant's servicePlanRules",
            );
        }
        let named: HashSet<ServicePlanId> = deps
            .rules
            .iter()
            .flat_map(|(plan, rules)| {
                std::iter::once(*plan).chain(rules.iter().flat_map(|r| r.requires.clone()))
            })
            .collect();
        for sku in &snapshot.subscribed_skus {
            for plan in &sku.service_plans {
                deps.names
                    .insert(plan.service_plan_id, plan.service_plan_name.clone());
            }
            let relevant: Vec<ServicePlanId> = sku
                .service_plans
                .iter()
                .map(|p| p.service_plan_id)
                .filter(|p| named.contains(p))
                .collect();
            if !relevant.is_empty() {
                deps.relevant.insert(sku.sku_id, relevant);
            }
        }
        deps
    }

    /// The plans some rule names that `held` switches on.
    fn relevant_on<'h>(&'h self, held: &'h Holding) -> impl Iterator<Item = ServicePlanId> + 'h {
        self.relevant
            .get(&held.sku)
            .into_iter()
            .flatten()
            .copied()
            .filter(|p| !held.disabled.contains(p))
    }

    fn add(&mut self, plan: ServicePlanId, mut requires: Vec<ServicePlanId>, source: &'static str) {
        requires.sort();
        requires.dedup();
        if requires.is_empty() {
            return;
        }
        let rules = self.rules.entry(plan).or_default();
        if !rules.iter().any(|r| r.requires == requires) {
            rules.push(Rule { requires, source });
        }
    }

    /// True when no dependency is known.
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules of `plan` (none when it depends on nothing known).
    pub(crate) fn rules_of(&self, plan: ServicePlanId) -> &[Rule] {
        self.rules.get(&plan).map_or(&[], Vec::as_slice)
    }

    /// A plan's name (its GUID when no SKU of the tenant and no bundled row names it).
    pub(crate) fn name(&self, plan: ServicePlanId) -> String {
        self.names
            .get(&plan)
            .cloned()
            .unwrap_or_else(|| plan.to_string())
    }

    /// `A`, `A or B`, `A, B or C`.
    pub(crate) fn names_or(&self, plans: &[ServicePlanId]) -> String {
        let mut names: Vec<String> = plans.iter().map(|p| self.name(*p)).collect();
        names.sort();
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        }
    }

    /// Every rule broken by going from `before` to `after`: a dependent plan on after the
    /// plan with none of a rule's prerequisites on, unless it was so before the plan too.
    pub(crate) fn broken(&self, before: &[Holding], after: &[Holding]) -> Vec<Broken> {
        if self.is_empty() {
            return Vec::new();
        }
        let on = |held: &[Holding]| -> HashSet<ServicePlanId> {
            held.iter().flat_map(|h| self.relevant_on(h)).collect()
        };
        let (on_before, on_after) = (on(before), on(after));
        let mut out = Vec::new();
        let mut dependents: Vec<ServicePlanId> = on_after
            .iter()
            .copied()
            .filter(|p| self.rules.contains_key(p))
            .collect();
        dependents.sort();
        for plan in dependents {
            for rule in self.rules_of(plan) {
                let met =
                    |on: &HashSet<ServicePlanId>| rule.requires.iter().any(|r| on.contains(r));
                if met(&on_after) || (on_before.contains(&plan) && !met(&on_before)) {
                    continue;
                }
                let provides = |held: &[Holding], p: ServicePlanId| -> Vec<Holding> {
                    held.iter()
                        .filter(|h| self.relevant_on(h).any(|e| e == p))
                        .cloned()
                        .collect()
                };
                let mut lost: Vec<(Holding, ServicePlanId)> = Vec::new();
                for prerequisite in &rule.requires {
                    for held in provides(before, *prerequisite) {
                        lost.push((held, *prerequisite));
                    }
                }
                out.push(Broken {
                    plan,
                    rule: rule.clone(),
                    dependent_from: provides(after, plan),
                    lost,
                });
            }
        }
        out
    }
}

/// A dependency the plan breaks for one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broken {
    /// The dependent plan, still on after the plan.
    pub(crate) plan: ServicePlanId,
    /// The rule it breaks.
    pub(crate) rule: Rule,
    /// The copies that keep the dependent plan on after the plan.
    pub(crate) dependent_from: Vec<Holding>,
    /// The copies that provided a prerequisite before the plan (empty when the plan adds
    /// the dependent plan without one), with the prerequisite each provided.
    pub(crate) lost: Vec<(Holding, ServicePlanId)>,
}

/// What the plan does to a copy that provided a prerequisite, in words: `removes
/// ENTERPRISEPACK`, `turns off EXCHANGE_S_ENTERPRISE in ENTERPRISEPACK`, `group X loses
/// ENTERPRISEPACK`.
pub(crate) fn describe_loss(
    index: &TenantIndex<'_>,
    deps: &Dependencies,
    lost: &Holding,
    prerequisite: ServicePlanId,
    after: &[Holding],
) -> String {
    let sku = index.sku_name(lost.sku).part_number;
    let kept = after
        .iter()
        .any(|h| h.sku == lost.sku && h.group == lost.group);
    let group_name = |g: GroupId| group_principal(index, g).name().to_owned();
    match (lost.group, kept) {
        (None, false) => format!("removes {sku}"),
        (None, true) => format!("turns off {} in {sku}", deps.name(prerequisite)),
        (Some(g), false) => format!("takes {sku} away from group {}", group_name(g)),
        (Some(g), true) => format!(
            "turns off {} in {sku} of group {}",
            deps.name(prerequisite),
            group_name(g)
        ),
    }
}

/// Where a copy comes from, in words: `ENTERPRISEPACK (direct)` or `SPE_E3 (group X)`.
pub(crate) fn describe_source(index: &TenantIndex<'_>, held: &Holding) -> String {
    let sku = index.sku_name(held.sku).part_number;
    match held.group {
        None => format!("{sku} (direct)"),
        Some(g) => format!("{sku} (group {})", group_principal(index, g).name()),
    }
}

/// Plans the tenant switched off in one license beyond what was asked: dependents whose
/// every prerequisite in a rule is off in that same license. Graph may disable dependent
/// plans together with their prerequisite (a user sent one disabled plan and read back
/// three: https://github.com/deploymenttheory/terraform-provider-microsoft365/issues/2619;
/// the cause is not documented), and sending the request again would not turn them on, so
/// such extra plans count as in sync instead of being re-planned forever.
pub(crate) fn graph_adjusted(
    deps: &Dependencies,
    index: &TenantIndex<'_>,
    sku: SkuId,
    live: &[ServicePlanId],
    wanted: &[ServicePlanId],
) -> Option<Vec<ServicePlanId>> {
    if deps.is_empty() || live.len() <= wanted.len() {
        return None;
    }
    if !wanted.iter().all(|w| live.contains(w)) {
        return None;
    }
    let in_sku: HashSet<ServicePlanId> = index
        .skus
        .get(&sku)
        .into_iter()
        .flat_map(|s| s.service_plans.iter().map(|p| p.service_plan_id))
        .collect();
    let extra: Vec<ServicePlanId> = live
        .iter()
        .copied()
        .filter(|p| !wanted.contains(p))
        .collect();
    let dragged = |plan: &ServicePlanId| {
        deps.rules_of(*plan).iter().any(|rule| {
            rule.requires.iter().any(|r| in_sku.contains(r))
                && rule
                    .requires
                    .iter()
                    .all(|r| !in_sku.contains(r) || wanted.contains(r))
        })
    };
    extra.iter().all(dragged).then_some(extra)
}

/// Where the config declares each principal, for diagnostics (borrowed: a large
/// config declares hundreds of thousands of users).
#[derive(Debug, Default)]
pub(crate) struct Declared<'a> {
    /// Declared users.
    pub(crate) users: HashMap<UserId, &'a Location>,
    /// Declared groups.
    pub(crate) groups: HashMap<GroupId, &'a Location>,
}

/// Every dependency the plan breaks, as errors: for each changed group on the group's own
/// licenses (group licensing needs the prerequisite in the same group), and for every
/// user whose licenses the plan changes (directly, or through a changed group they are
/// a member of) on the union of the user's licenses.
pub(crate) fn check(
    index: &TenantIndex<'_>,
    deps: &Dependencies,
    effect: &Effect<'_>,
    declared: &Declared,
) -> Vec<Diagnostic> {
    if deps.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut failing_groups: HashSet<GroupId> = HashSet::new();
    let mut groups: Vec<GroupId> = effect.changed_groups().collect();
    groups.sort();
    for id in groups {
        let (Some(group), Some(after)) = (index.groups.get(&id), effect.group_after(id)) else {
            continue;
        };
        let before = group_holdings(group);
        for broken in deps.broken(&before, after) {
            failing_groups.insert(id);
            let sku = broken
                .dependent_from
                .first()
                .map(|h| index.sku_name(h.sku).part_number)
                .unwrap_or_default();
            let reqs = deps.names_or(&broken.rule.requires);
            let plan = deps.name(broken.plan);
            let mut diagnostic = Diagnostic::new(
                DiagnosticCode::GroupDependencyUnmet,
                format!(
                    "group {} would assign {plan} of {sku} without {reqs} in the same group, which it depends on{}",
                    group.display_name,
                    losses(index, deps, &broken, after)
                ),
            )
            .help(format!(
                "group licensing needs the prerequisite in the same group: keep {reqs} on in one of the group's licenses (or add a license that includes it), or turn {plan} off in {sku} too (dependency known from {})",
                broken.rule.source
            ));
            if let Some(location) = declared.groups.get(&id) {
                diagnostic = diagnostic.at((*location).clone());
            }
            out.push(diagnostic);
        }
    }
    for id in effect.affected_users() {
        let Some(user) = index.users.get(&id) else {
            continue;
        };
        let before = live_holdings(user);
        let after = effect.after(user);
        for broken in deps.broken(&before, &after) {
            // A group that breaks the rule on its own is reported once, for the group.
            if broken
                .dependent_from
                .iter()
                .all(|h| h.group.is_some_and(|g| failing_groups.contains(&g)))
            {
                continue;
            }
            let from: Vec<String> = broken
                .dependent_from
                .iter()
                .map(|h| describe_source(index, h))
                .collect();
            let reqs = deps.names_or(&broken.rule.requires);
            let plan = deps.name(broken.plan);
            let message = if broken.lost.is_empty() {
                format!(
                    "user {} would get {plan} of {} without {reqs}, which it depends on and no license of the user provides",
                    user.user_principal_name,
                    from.join(", ")
                )
            } else {
                format!(
                    "user {} would keep {plan} of {} without {reqs}, which it depends on{}",
                    user.user_principal_name,
                    from.join(", "),
                    losses(index, deps, &broken, &after)
                )
            };
            let mut skus: Vec<String> = broken
                .dependent_from
                .iter()
                .map(|h| index.sku_name(h.sku).part_number)
                .collect();
            skus.sort();
            skus.dedup();
            let mut diagnostic = Diagnostic::new(DiagnosticCode::DependencyUnmet, message).help(
                format!(
                    "keep {reqs} on (or add a license that includes it), or turn {plan} off in {} too; Graph refuses the change otherwise (dependency known from {})",
                    skus.join(", "),
                    broken.rule.source
                ),
            );
            let location = declared.users.get(&id).or_else(|| {
                // A member affected by a group change: point at the group.
                let mut groups: Vec<&GroupId> = declared
                    .groups
                    .keys()
                    .filter(|g| effect.group_after(**g).is_some())
                    .filter(|g| {
                        index
                            .groups
                            .get(*g)
                            .is_some_and(|g| g.members.contains(&id))
                    })
                    .collect();
                groups.sort();
                groups.first().and_then(|g| declared.groups.get(*g))
            });
            if let Some(location) = location {
                diagnostic = diagnostic.at((*location).clone());
            }
            out.push(diagnostic);
        }
    }
    out
}

/// `: the change removes ENTERPRISEPACK (direct), the license that provides
/// EXCHANGE_S_ENTERPRISE; …`, or nothing when no prerequisite was held.
fn losses(
    index: &TenantIndex<'_>,
    deps: &Dependencies,
    broken: &Broken,
    after: &[Holding],
) -> String {
    let parts: Vec<String> = broken
        .lost
        .iter()
        .map(|(held, prerequisite)| {
            format!(
                "{}, the license that provides {}",
                describe_loss(index, deps, held, *prerequisite, after),
                deps.name(*prerequisite)
            )
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(": the change {}", parts.join("; "))
    }
}
