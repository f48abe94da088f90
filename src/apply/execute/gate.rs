//! The last gate: every write is checked, just before it is journalled and sent, against
//! what the config allows, whatever produced it (the planner, a saved plan, a bug). Pure:
//! the allowed set ([`Allowed`]) is plain data computed once from the desired state and
//! the live snapshot; [`review`] decides over a round's units and a running [`Tally`].
//!
//! The rules, each a refusal of the whole unit (its writes travel together):
//! - **unmanaged**: no write to a principal the config does not declare with a license
//!   list (or that attribute rules do not govern: then only rule-governed SKUs), and only
//!   the licenses it gives: an add or `disabledPlans` update only of a SKU
//!   the config gives that principal, with exactly the configured `disabledPlans`; a
//!   removal only of a SKU the config does not give it; a usage location only the one
//!   the config (or its default, for a user with a license list) sets;
//! - **protected**: a protected user or group never loses a license, and neither does a
//!   protected user through a group it is a member of (a group removal names them);
//! - **thresholds**: `safety.max_removals` and `safety.max_change_percent`, counted over
//!   every write the gate let through so far (retries count once), unless
//!   `--allow-unsafe`. A round whose new writes would pass a limit has all of those
//!   writes refused.
//!
//! It must not decide what should change (the planner does) nor do I/O.

use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::config::DesiredState;
use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::plan::Principal;
use crate::plan::resolve::{ResolvedLicense, TenantIndex, resolve};
use crate::snapshot::TenantSnapshot;

use super::super::schedule::{Operation, Unit};
use super::super::verify::sorted;

/// The journal's and the report's error code of a write the gate did not send.
pub(crate) const REFUSED_CODE: &str = "licensectl.refused";

/// Which rule refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalKind {
    /// A principal or license the config does not govern, or a change it does not give.
    Unmanaged,
    /// A protected principal would lose a license.
    Protected,
    /// A safety threshold would be passed (`--allow-unsafe` overrides it).
    Threshold,
}

/// Why the gate did not send a unit's writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Who the writes were for.
    pub principal: Principal,
    /// Which rule.
    pub kind: RefusalKind,
    /// In one sentence, with the fix.
    pub reason: String,
}

/// What the config allows one user to be written.
#[derive(Debug, Clone, Default)]
struct UserRule {
    /// The user's direct licenses (`None`: not managed), SKU → sorted `disabledPlans`.
    licenses: Option<HashMap<SkuId, Vec<ServicePlanId>>>,
    /// Usage locations the config may set on the user.
    usage_locations: Vec<String>,
    protected: bool,
    /// For a user attribute rules govern: the rule-governed SKUs, the only ones that may
    /// be written (its other licenses are not the rules' business).
    governs: Option<Arc<HashSet<SkuId>>>,
}

/// What the config allows one group to be written.
#[derive(Debug, Clone, Default)]
struct GroupRule {
    /// The group's licenses (`None`: not managed), SKU → sorted `disabledPlans`.
    licenses: Option<HashMap<SkuId, Vec<ServicePlanId>>>,
    protected: bool,
    /// Direct members (a license the group loses is lost by each).
    members: u64,
    /// UPNs of the protected users among the direct members, sorted.
    protected_members: Vec<String>,
}

/// Everything the gate needs, as plain data: per principal what the config allows, the
/// thresholds and the SKU names for messages.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    users: HashMap<UserId, UserRule>,
    groups: HashMap<GroupId, GroupRule>,
    sku_names: HashMap<SkuId, String>,
    max_removals: Option<u32>,
    max_change_percent: Option<f64>,
    /// Principals the config manages (declared with a license list), as the planner
    /// counts them for `max_change_percent`.
    managed: u64,
    allow_unsafe: bool,
    /// `migrate_to_groups`: the direct copies a managed group provably covers, by user
    /// (the planner's own assessment), and `max_users_per_run`.
    migration: HashMap<UserId, HashSet<SkuId>>,
    migration_cap: Option<u32>,
}

fn license_map(list: &[ResolvedLicense]) -> HashMap<SkuId, Vec<ServicePlanId>> {
    list.iter()
        .map(|l| (l.sku, sorted(l.disabled_plans.iter().copied())))
        .collect()
}

impl Allowed {
    /// What `desired` allows against `live` (`allow_unsafe`: `--allow-unsafe`), with no
    /// date: rules comparing `inactive_days` or `disabled_days` then allow nothing.
    pub fn new(desired: &DesiredState, live: &TenantSnapshot, allow_unsafe: bool) -> Self {
        Self::at(desired, live, allow_unsafe, None)
    }

    /// [`Allowed::new`] with the day counts of the rules taken at `now` (the plan's).
    pub fn at(
        desired: &DesiredState,
        live: &TenantSnapshot,
        allow_unsafe: bool,
        now: Option<time::OffsetDateTime>,
    ) -> Self {
        let index = TenantIndex::new(live);
        let resolved = resolve(desired, &index);
        let default_location = desired
            .settings
            .default_usage_location
            .as_ref()
            .map(|l| l.value.clone());
        let mut allowed = Allowed {
            sku_names: live
                .subscribed_skus
                .iter()
                .map(|s| (s.sku_id, s.sku_part_number.clone()))
                .collect(),
            max_removals: desired.settings.safety.max_removals,
            max_change_percent: desired.settings.safety.max_change_percent,
            allow_unsafe,
            ..Allowed::default()
        };
        for user in &resolved.users {
            let mut usage_locations: Vec<String> = user.usage_location.iter().cloned().collect();
            if user.licenses.is_some() {
                allowed.managed += 1;
                usage_locations.extend(default_location.iter().cloned());
            }
            allowed.users.insert(
                user.id,
                UserRule {
                    licenses: user.licenses.as_deref().map(license_map),
                    usage_locations,
                    protected: false,
                    governs: None,
                },
            );
        }
        if let Some((skus, governed)) =
            crate::plan::rules::governed(desired, &index, &resolved.declared_users, now)
        {
            let skus = Arc::new(skus);
            allowed.managed += governed.len() as u64;
            for user in governed {
                let mut usage_locations = user.usage_locations;
                usage_locations.extend(default_location.iter().cloned());
                allowed.users.insert(
                    user.id,
                    UserRule {
                        licenses: Some(license_map(&user.licenses)),
                        usage_locations,
                        protected: false,
                        governs: Some(Arc::clone(&skus)),
                    },
                );
            }
        }
        for id in &resolved.protected_users {
            allowed.users.entry(*id).or_default().protected = true;
        }
        for group in &resolved.groups {
            if group.licenses.is_some() {
                allowed.managed += 1;
            }
            allowed.groups.insert(
                group.id,
                GroupRule {
                    licenses: group.licenses.as_deref().map(license_map),
                    ..GroupRule::default()
                },
            );
        }
        for id in &resolved.protected_groups {
            allowed.groups.entry(*id).or_default().protected = true;
        }
        if let Some(migrate) = &desired.settings.migrate_to_groups {
            allowed.migration = crate::plan::migrate::removable(&index, &resolved);
            allowed.migration_cap = Some(migrate.max_users_per_run);
        }
        for (id, rule) in &mut allowed.groups {
            let Some(group) = index.groups.get(id) else {
                continue;
            };
            rule.members = group.members.len() as u64;
            let mut names: Vec<String> = group
                .members
                .iter()
                .filter(|m| resolved.protected_users.contains(*m))
                .map(|m| {
                    index
                        .users
                        .get(m)
                        .map_or_else(|| m.to_string(), |u| u.user_principal_name.clone())
                })
                .collect();
            names.sort();
            rule.protected_members = names;
        }
        allowed
    }

    fn sku(&self, id: SkuId) -> &str {
        self.sku_names
            .get(&id)
            .map_or("an unknown SKU", String::as_str)
    }

    fn skus(&self, ids: &[SkuId]) -> String {
        ids.iter()
            .map(|id| self.sku(*id))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A principal as the gate counts it: kind and object id.
type Key = (bool, uuid::Uuid);

fn key(principal: &Principal) -> Key {
    match principal {
        Principal::User { id, .. } => (false, id.0),
        Principal::Group { id, .. } => (true, id.0),
    }
}

/// What the gate let through so far, for the thresholds: each (principal, SKU) removed
/// and each principal changed, once however often its writes are retried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    removed: HashSet<(Key, SkuId)>,
    /// Licenses taken from users so far: a user's removal counts one, a group's counts
    /// one per direct member (as the planner counts them).
    removals: u64,
    changed: HashSet<Key>,
    /// Users whose covered direct copies the migration removed so far.
    migrated: HashSet<UserId>,
}

/// One unit of a round: who, and the writes still to send.
#[derive(Debug, Clone, Copy)]
pub struct UnitWrites<'a> {
    /// Who.
    pub principal: &'a Principal,
    /// The writes, in order.
    pub operations: &'a [Operation],
}

impl<'a> UnitWrites<'a> {
    /// All the writes of a scheduled unit.
    pub fn of(unit: &'a Unit) -> Self {
        Self {
            principal: &unit.principal,
            operations: &unit.operations,
        }
    }
}

/// True when the unit only removes direct copies that `migrate_to_groups` may remove from
/// a user the config does not govern by a license list.
fn migration_unit(allowed: &Allowed, unit: UnitWrites<'_>) -> bool {
    let Principal::User { id, .. } = unit.principal else {
        return false;
    };
    let Some(covered) = allowed.migration.get(id) else {
        return false;
    };
    if allowed.users.get(id).is_some_and(|r| r.licenses.is_some()) {
        return false;
    }
    !unit.operations.is_empty()
        && unit.operations.iter().all(|op| match op {
            Operation::AssignLicense { request } => {
                request.add_licenses.is_empty()
                    && !request.remove_licenses.is_empty()
                    && request.remove_licenses.iter().all(|s| covered.contains(s))
            }
            _ => false,
        })
}

/// The first rule the unit's writes break, if any (thresholds aside).
fn rule_refusal(allowed: &Allowed, unit: UnitWrites<'_>) -> Option<Refusal> {
    let refuse = |kind: RefusalKind, reason: String| {
        Some(Refusal {
            principal: unit.principal.clone(),
            kind,
            reason,
        })
    };
    let who = format!("{} {}", unit.principal.kind(), unit.principal.name());
    if migration_unit(allowed, unit) {
        return None;
    }
    for op in unit.operations {
        match (unit.principal, op) {
            (Principal::User { id, .. }, Operation::SetUsageLocation { usage_location }) => {
                let rule = allowed.users.get(id);
                if !rule.is_some_and(|r| {
                    r.usage_locations
                        .iter()
                        .any(|l| l.eq_ignore_ascii_case(usage_location))
                }) {
                    return refuse(
                        RefusalKind::Unmanaged,
                        format!("the config does not set usage location {usage_location} on {who}"),
                    );
                }
            }
            (Principal::Group { .. }, Operation::SetUsageLocation { .. }) => {
                return refuse(
                    RefusalKind::Unmanaged,
                    format!("{who} is a group: groups have no usage location"),
                );
            }
            // Reprocessing assigns and removes nothing: Graph re-evaluates the licenses
            // the user already has from groups. Any user may be reprocessed.
            (Principal::User { .. }, Operation::ReprocessLicenseAssignment) => {}
            (Principal::Group { .. }, Operation::ReprocessLicenseAssignment) => {
                return refuse(
                    RefusalKind::Unmanaged,
                    format!("{who} is a group: Graph reprocesses users only"),
                );
            }
            (principal, Operation::AssignLicense { request }) => {
                let (licenses, protected, members, governs) = match principal {
                    Principal::User { id, .. } => {
                        let rule = allowed.users.get(id);
                        (
                            rule.and_then(|r| r.licenses.as_ref()),
                            rule.is_some_and(|r| r.protected),
                            &[][..],
                            rule.and_then(|r| r.governs.as_deref()),
                        )
                    }
                    Principal::Group { id, .. } => {
                        let rule = allowed.groups.get(id);
                        (
                            rule.and_then(|r| r.licenses.as_ref()),
                            rule.is_some_and(|r| r.protected),
                            rule.map_or(&[][..], |r| r.protected_members.as_slice()),
                            None,
                        )
                    }
                };
                let removed = &request.remove_licenses;
                if protected && !removed.is_empty() {
                    return refuse(
                        RefusalKind::Protected,
                        format!(
                            "protected {who} would lose {}; take it out of `protected` in licensectl.yaml first (--allow-unsafe does not override this)",
                            allowed.skus(removed)
                        ),
                    );
                }
                if !members.is_empty() && !removed.is_empty() {
                    return refuse(
                        RefusalKind::Protected,
                        format!(
                            "{who} would take {} from its protected member(s) {}; take them out of `protected` in licensectl.yaml first (--allow-unsafe does not override this)",
                            allowed.skus(removed),
                            members.join(", ")
                        ),
                    );
                }
                let Some(licenses) = licenses else {
                    return refuse(
                        RefusalKind::Unmanaged,
                        format!(
                            "{who} is not managed by the config (not declared with `licenses` or a `profile`); licensectl never writes unmanaged principals"
                        ),
                    );
                };
                for add in &request.add_licenses {
                    let given = licenses.get(&add.sku_id);
                    if given != Some(&sorted(add.disabled_plans.iter().copied())) {
                        let what = if given.is_some() {
                            "with these disabled plans"
                        } else {
                            "at all"
                        };
                        return refuse(
                            RefusalKind::Unmanaged,
                            format!(
                                "the config does not give {who} {} {what}",
                                allowed.sku(add.sku_id)
                            ),
                        );
                    }
                }
                if let Some(kept) = removed.iter().find(|s| licenses.contains_key(*s)) {
                    return refuse(
                        RefusalKind::Unmanaged,
                        format!("the config keeps {} on {who}", allowed.sku(*kept)),
                    );
                }
                if let Some(other) =
                    governs.and_then(|skus| removed.iter().find(|s| !skus.contains(*s)))
                {
                    return refuse(
                        RefusalKind::Unmanaged,
                        format!(
                            "no rule names {}, so the rules do not govern it on {who}",
                            allowed.sku(*other)
                        ),
                    );
                }
            }
        }
    }
    None
}

/// The (principal, SKU) removals of a unit and their weight (licenses taken from users).
fn removals(allowed: &Allowed, unit: UnitWrites<'_>) -> Vec<((Key, SkuId), u64)> {
    let k = key(unit.principal);
    let weight = match unit.principal {
        Principal::User { .. } => 1,
        Principal::Group { id, .. } => allowed.groups.get(id).map_or(1, |g| g.members),
    };
    unit.operations
        .iter()
        .filter_map(|op| match op {
            Operation::AssignLicense { request } => Some(&request.remove_licenses),
            Operation::SetUsageLocation { .. } | Operation::ReprocessLicenseAssignment => None,
        })
        .flatten()
        .map(|sku| ((k, *sku), weight))
        .collect()
}

/// Decides over the units of a round: one verdict per unit (`None`: send it), in order,
/// counting what it lets through in `tally`.
pub(crate) fn review(
    allowed: &Allowed,
    tally: &mut Tally,
    units: &[UnitWrites<'_>],
) -> Vec<Option<Refusal>> {
    let mut verdicts: Vec<Option<Refusal>> =
        units.iter().map(|u| rule_refusal(allowed, *u)).collect();
    // Migration units: bounded by max_users_per_run, not by the thresholds (no license
    // is lost).
    let migrating: Vec<bool> = units.iter().map(|u| migration_unit(allowed, *u)).collect();
    let mut new_migrated: HashSet<UserId> = HashSet::new();
    for (i, unit) in units.iter().enumerate() {
        let (true, None, Principal::User { id, .. }) = (migrating[i], &verdicts[i], unit.principal)
        else {
            continue;
        };
        if tally.migrated.contains(id) {
            continue;
        }
        let cap = allowed.migration_cap.unwrap_or(0) as usize;
        if tally.migrated.len() + new_migrated.len() >= cap {
            verdicts[i] = Some(Refusal {
                principal: unit.principal.clone(),
                kind: RefusalKind::Threshold,
                reason: format!(
                    "the writes would migrate more than migrate_to_groups.max_users_per_run ({cap}) users; the next wave is for the next plan"
                ),
            });
        } else {
            new_migrated.insert(*id);
        }
    }
    // What the units the rules let through would add to the tally.
    let mut new_removed: HashSet<(Key, SkuId)> = HashSet::new();
    let mut new_removals: u64 = 0;
    let mut new_changed: HashSet<Key> = HashSet::new();
    let mut removes_new = vec![false; units.len()];
    let mut changes_new = vec![false; units.len()];
    for (i, unit) in units.iter().enumerate() {
        if verdicts[i].is_some() || migrating[i] {
            continue;
        }
        for (pair, weight) in removals(allowed, *unit) {
            if !tally.removed.contains(&pair) && new_removed.insert(pair) {
                new_removals += weight;
                removes_new[i] = true;
            }
        }
        let k = key(unit.principal);
        if changes_licenses(*unit) && !tally.changed.contains(&k) {
            new_changed.insert(k);
            changes_new[i] = true;
        }
    }
    if !allowed.allow_unsafe {
        let removals = tally.removals + new_removals;
        if let Some(limit) = allowed.max_removals
            && removals > u64::from(limit)
        {
            for (i, unit) in units.iter().enumerate() {
                if removes_new[i] && verdicts[i].is_none() {
                    verdicts[i] = Some(Refusal {
                        principal: unit.principal.clone(),
                        kind: RefusalKind::Threshold,
                        reason: format!(
                            "the writes would remove {removals} licenses, more than safety.max_removals ({limit}); review the plan and re-run with --allow-unsafe to proceed"
                        ),
                    });
                }
            }
        }
        let changed = (tally.changed.len() + new_changed.len()) as u64;
        if let Some(limit) = allowed.max_change_percent
            && allowed.managed > 0
            && changed as f64 * 100.0 > limit * allowed.managed as f64
        {
            for (i, unit) in units.iter().enumerate() {
                if changes_new[i] && verdicts[i].is_none() {
                    verdicts[i] = Some(Refusal {
                        principal: unit.principal.clone(),
                        kind: RefusalKind::Threshold,
                        reason: format!(
                            "the writes would change {changed} of {} managed principals, more than safety.max_change_percent ({limit}%); review the plan and re-run with --allow-unsafe to proceed",
                            allowed.managed
                        ),
                    });
                }
            }
        }
    }
    for (i, unit) in units.iter().enumerate() {
        if verdicts[i].is_some() {
            continue;
        }
        if migrating[i] {
            if let Principal::User { id, .. } = unit.principal {
                tally.migrated.insert(*id);
            }
            continue;
        }
        for (pair, weight) in removals(allowed, *unit) {
            if tally.removed.insert(pair) {
                tally.removals += weight;
            }
        }
        if changes_licenses(*unit) {
            tally.changed.insert(key(unit.principal));
        }
    }
    verdicts
}

/// True when the unit writes licenses or a usage location (a reprocess alone changes no
/// assignment, so it does not count against `max_change_percent`).
fn changes_licenses(unit: UnitWrites<'_>) -> bool {
    unit.operations
        .iter()
        .any(|op| !matches!(op, Operation::ReprocessLicenseAssignment))
}

/// The gate as the executor holds it: the allowed set and the tally of what it let
/// through, across the rounds and phases of one apply.
#[derive(Debug)]
pub struct Gate {
    allowed: Allowed,
    tally: std::sync::Mutex<Tally>,
}

impl Gate {
    /// A gate with nothing let through yet.
    pub fn new(allowed: Allowed) -> Self {
        Self {
            allowed,
            tally: std::sync::Mutex::new(Tally::default()),
        }
    }

    /// Decides over a round's units and counts what it lets through.
    pub fn review(&self, units: &[UnitWrites<'_>]) -> Vec<Option<Refusal>> {
        let mut tally = self
            .tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        review(&self.allowed, &mut tally, units)
    }

    /// What the gate would refuse of `units` if they were sent now, all in one round,
    /// without counting them: for a check of a whole apply before its first write.
    pub fn preview(&self, units: &[UnitWrites<'_>]) -> Vec<Refusal> {
        let mut tally = self
            .tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        review(&self.allowed, &mut tally, units)
            .into_iter()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Located, PrincipalRef};
    use crate::diagnostic::Location;
    use crate::plan::{AssignLicenseRequest, PlanOptions, plan};
    use crate::snapshot::AssignedLicense;

    use super::super::super::schedule::schedule;

    fn example() -> (DesiredState, TenantSnapshot) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso");
        let desired = crate::config::load(&dir).desired.expect("example config");
        let live = TenantSnapshot::read(&dir.join("tenant.json")).expect("example tenant");
        (desired, live)
    }

    fn user(live: &TenantSnapshot, upn: &str) -> Principal {
        let u = live
            .users
            .iter()
            .find(|u| u.user_principal_name == upn)
            .expect("user");
        Principal::User {
            id: u.id,
            name: upn.to_owned(),
        }
    }

    fn group(live: &TenantSnapshot, name: &str) -> Principal {
        let g = live
            .groups
            .iter()
            .find(|g| g.display_name == name)
            .expect("group");
        Principal::Group {
            id: g.id,
            name: name.to_owned(),
        }
    }

    fn sku(live: &TenantSnapshot, part: &str) -> SkuId {
        live.subscribed_skus
            .iter()
            .find(|s| s.sku_part_number == part)
            .expect("sku")
            .sku_id
    }

    fn assign(add: &[(SkuId, Vec<ServicePlanId>)], remove: &[SkuId]) -> Vec<Operation> {
        vec![Operation::AssignLicense {
            request: AssignLicenseRequest {
                add_licenses: add
                    .iter()
                    .map(|(sku_id, plans)| AssignedLicense {
                        sku_id: *sku_id,
                        disabled_plans: plans.clone(),
                    })
                    .collect(),
                remove_licenses: remove.to_vec(),
            },
        }]
    }

    /// The verdicts for `units` from a fresh tally, as `(kind, reason)`.
    fn verdicts(
        allowed: &Allowed,
        units: &[(Principal, Vec<Operation>)],
    ) -> Vec<Option<(RefusalKind, String)>> {
        let writes: Vec<UnitWrites<'_>> = units
            .iter()
            .map(|(principal, operations)| UnitWrites {
                principal,
                operations,
            })
            .collect();
        review(allowed, &mut Tally::default(), &writes)
            .into_iter()
            .map(|v| v.map(|r| (r.kind, r.reason)))
            .collect()
    }

    #[test]
    fn the_gate_lets_every_write_of_the_planners_plan_through() {
        let (desired, live) = example();
        let plan = plan(&desired, &live, &PlanOptions::default());
        let schedule = schedule(&plan.changes, &plan.seats, &Default::default());
        let units: Vec<UnitWrites<'_>> = schedule.units().map(UnitWrites::of).collect();
        assert!(!units.is_empty());
        let allowed = Allowed::new(&desired, &live, false);
        let verdicts = review(&allowed, &mut Tally::default(), &units);
        assert!(verdicts.iter().all(Option::is_none), "{verdicts:?}");
    }

    #[test]
    fn the_gate_refuses_writes_the_config_does_not_give() {
        let (desired, live) = example();
        let allowed = Allowed::new(&desired, &live, true);
        let e3 = sku(&live, "SPE_E3");
        let units = vec![
            // Not declared at all, and outside rules_scope (a disabled account).
            (
                user(&live, "victor@contoso.com"),
                assign(&[], &[sku(&live, "ENTERPRISEPACK")]),
            ),
            // Governed by the rules, but no rule names the SKU.
            (
                user(&live, "trent@contoso.com"),
                assign(&[], &[sku(&live, "ENTERPRISEPACK")]),
            ),
            // A license the config does not give.
            (
                user(&live, "bob@contoso.com"),
                assign(&[(sku(&live, "POWER_BI_PRO"), Vec::new())], &[]),
            ),
            // A license it gives, with other disabled plans (the profile disables Yammer).
            (
                user(&live, "alice@contoso.com"),
                assign(&[(e3, Vec::new())], &[]),
            ),
            // A removal of a license the config keeps.
            (
                user(&live, "dave@contoso.com"),
                assign(&[], &[sku(&live, "VISIOCLIENT")]),
            ),
            // A usage location the config does not set (erin gets the default, US).
            (
                user(&live, "erin@contoso.com"),
                vec![Operation::SetUsageLocation {
                    usage_location: "FR".into(),
                }],
            ),
            // A group the config does not declare.
            (group(&live, "Marketing"), assign(&[(e3, Vec::new())], &[])),
            // What the config gives is let through: erin's default location, carol's removal.
            (
                user(&live, "erin@contoso.com"),
                vec![Operation::SetUsageLocation {
                    usage_location: "us".into(),
                }],
            ),
            (
                user(&live, "carol@contoso.com"),
                assign(&[], &[sku(&live, "ENTERPRISEPACK")]),
            ),
        ];
        let unmanaged = |reason: &str| Some((RefusalKind::Unmanaged, reason.to_owned()));
        assert_eq!(
            verdicts(&allowed, &units),
            vec![
                unmanaged(
                    "user victor@contoso.com is not managed by the config (not declared with `licenses` or a `profile`); licensectl never writes unmanaged principals"
                ),
                unmanaged(
                    "no rule names ENTERPRISEPACK, so the rules do not govern it on user trent@contoso.com"
                ),
                unmanaged("the config does not give user bob@contoso.com POWER_BI_PRO at all"),
                unmanaged(
                    "the config does not give user alice@contoso.com SPE_E3 with these disabled plans"
                ),
                unmanaged("the config keeps VISIOCLIENT on user dave@contoso.com"),
                unmanaged("the config does not set usage location FR on user erin@contoso.com"),
                unmanaged(
                    "group Marketing is not managed by the config (not declared with `licenses` or a `profile`); licensectl never writes unmanaged principals"
                ),
                None,
                None,
            ]
        );
    }

    #[test]
    fn the_gate_never_lets_a_protected_principal_lose_a_license_even_with_allow_unsafe() {
        let (mut desired, live) = example();
        // olga is a member of Frontline Workers, which the config licenses.
        desired.settings.protected.push(Located {
            value: PrincipalRef::User("olga@contoso.com".into()),
            location: Location {
                file: Path::new("licensectl.yaml").into(),
                line: 1,
                column: 1,
            },
        });
        let allowed = Allowed::new(&desired, &live, true);
        let units = vec![
            (
                user(&live, "ceo@contoso.com"),
                assign(&[], &[sku(&live, "SPE_E5")]),
            ),
            (
                group(&live, "SG-License-EMS"),
                assign(&[], &[sku(&live, "EMS")]),
            ),
            (
                group(&live, "Frontline Workers"),
                assign(&[], &[sku(&live, "DESKLESSPACK")]),
            ),
        ];
        let protected = |reason: &str| Some((RefusalKind::Protected, reason.to_owned()));
        assert_eq!(
            verdicts(&allowed, &units),
            vec![
                protected(
                    "protected user ceo@contoso.com would lose SPE_E5; take it out of `protected` in licensectl.yaml first (--allow-unsafe does not override this)"
                ),
                protected(
                    "protected group SG-License-EMS would lose EMS; take it out of `protected` in licensectl.yaml first (--allow-unsafe does not override this)"
                ),
                protected(
                    "group Frontline Workers would take DESKLESSPACK from its protected member(s) olga@contoso.com; take them out of `protected` in licensectl.yaml first (--allow-unsafe does not override this)"
                ),
            ]
        );
    }

    #[test]
    fn the_gate_counts_the_thresholds_over_every_write_it_let_through() {
        let (mut desired, live) = example();
        desired.settings.safety.max_removals = Some(2);
        desired.settings.safety.max_change_percent = None;
        let allowed = Allowed::new(&desired, &live, false);
        let carol = (
            user(&live, "carol@contoso.com"),
            assign(&[], &[sku(&live, "ENTERPRISEPACK")]),
        );
        let grace = (
            user(&live, "grace@contoso.com"),
            assign(&[], &[sku(&live, "SPE_E3")]),
        );
        let bob = (
            user(&live, "bob@contoso.com"),
            assign(&[], &[sku(&live, "SPE_E3")]),
        );
        let writes = |units: &[&(Principal, Vec<Operation>)]| -> Vec<(Principal, Vec<Operation>)> {
            units.iter().map(|u| (*u).clone()).collect()
        };
        let mut tally = Tally::default();
        let mut round = |units: Vec<(Principal, Vec<Operation>)>| {
            let w: Vec<UnitWrites<'_>> = units
                .iter()
                .map(|(principal, operations)| UnitWrites {
                    principal,
                    operations,
                })
                .collect();
            review(&allowed, &mut tally, &w)
                .into_iter()
                .map(|v| v.map(|r| r.reason))
                .collect::<Vec<_>>()
        };
        // Two removals: within the limit.
        assert_eq!(round(writes(&[&carol, &grace])), vec![None, None]);
        // A retry of one of them counts once.
        assert_eq!(round(writes(&[&carol])), vec![None]);
        // A third passes the limit.
        assert_eq!(
            round(writes(&[&bob])),
            vec![Some("the writes would remove 3 licenses, more than safety.max_removals (2); review the plan and re-run with --allow-unsafe to proceed".to_owned())]
        );
        // With --allow-unsafe all three go, all at once.
        let unsafe_ok = Allowed::new(&desired, &live, true);
        let all = writes(&[&carol, &grace, &bob]);
        assert_eq!(verdicts(&unsafe_ok, &all), vec![None, None, None]);
        // max_change_percent counts principals: 10% of 28 managed (11 declared, 17 governed
        // by the rules) allows two, so three
        // new ones at once are all refused.
        desired.settings.safety.max_removals = None;
        desired.settings.safety.max_change_percent = Some(10.0);
        let percent = Allowed::new(&desired, &live, false);
        let found = verdicts(&percent, &all);
        assert!(found.iter().all(|v| matches!(v, Some((RefusalKind::Threshold, reason)) if reason.starts_with("the writes would change 3 of 28 managed principals, more than safety.max_change_percent (10%)"))), "{found:?}");
    }
}
