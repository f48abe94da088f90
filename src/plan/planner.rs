//! The pure planner: `plan(desired, live, options) -> Plan`.
//!
//! No I/O, clock or environment: the same inputs always give the same, sorted plan.
//! Lookups go through hash maps keyed by ids ([`TenantIndex`]); per-principal work only
//! scans that principal's own handful of licenses, so planning is linear in tenant size.
//!
//! Rules (see `docs/plan.md`):
//! - one [`Change`] per principal = one `assignLicense` call (adds, in-place
//!   `disabledPlans` updates, removes), plus a usage-location step that runs first;
//! - users: only direct assignments (`assignedByGroup` null) are compared; a user with
//!   `assignedLicenses` but no `licenseAssignmentStates` at all (a snapshot that did not
//!   select them) is treated as holding every license directly; inherited licenses are
//!   never removed or modified, and removals name the groups that still grant the SKU;
//! - groups: their own `assignedLicenses` are compared the same way;
//! - principals and SKUs the config does not declare are never touched (and counted);
//! - once the changes are known, the tenant they leave (`effect`) is checked for broken
//!   service plan dependencies (`dependencies`), stacked mailbox plans and licenses kept
//!   through groups (`observe`), protected members (`safety`) and seats (`seats`).

use hashbrown::{HashMap, HashSet};
use std::borrow::Cow;

use crate::config::{DesiredState, RuleUsageLocation, countries};
use crate::diagnostic::{self, Diagnostic, DiagnosticCode};
use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::snapshot::{
    AssignedLicense, AssignmentError, AssignmentStateKind, CapabilityStatus, Group, TenantSnapshot,
    User, UserIndex,
};

use super::dependencies::{self, Declared, Dependencies, graph_adjusted};
use super::effect::Effect;
use super::model::{
    Change, ChangeRules, Finding, FindingKind, LicenseAdd, LicenseRemove, LicenseUpdate, Note,
    NoteKind, Operations, PLAN_FORMAT_VERSION, Plan, PlanName, Principal, RuleLicense, SkuName,
    Summary, UsageLocationSource, UsageLocationStep, apply_order, sorted_order,
};
use super::observe;
use super::resolve::{DeclaredUsers, ResolvedLicense, ResolvedUser, TenantIndex, resolve};
use super::rules::report::RuleTally;
use super::rules::{self, Given, Rules};
use super::safety::{self, SafetyInput};
use super::seats::{SeatLedger, Source, active_free};
use super::{expiry, migrate, prices};

/// Planner switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Let the plan exceed `max_removals` / `max_change_percent` (`--allow-unsafe`).
    pub allow_unsafe: bool,
    /// "Now", as data (the CLI reads the clock): for what compares dates — subscription
    /// lifecycle dates. `None` leaves those checks out.
    pub now: Option<time::OffsetDateTime>,
}

/// One license as the tenant holds it: SKU and sorted `disabledPlans`.
#[derive(Debug, Clone)]
struct Held {
    sku: SkuId,
    disabled: Vec<ServicePlanId>,
}

/// An inherited copy of a SKU on a user.
#[derive(Debug, Clone)]
struct Inherited {
    sku: SkuId,
    group: GroupId,
    disabled: Vec<ServicePlanId>,
}

fn sorted(plans: &[ServicePlanId]) -> Vec<ServicePlanId> {
    let mut plans = plans.to_vec();
    plans.sort();
    plans.dedup();
    plans
}

fn held(licenses: &[AssignedLicense]) -> Vec<Held> {
    licenses
        .iter()
        .map(|l| Held {
            sku: l.sku_id,
            disabled: sorted(&l.disabled_plans),
        })
        .collect()
}

/// Sorts findings or notes by kind, principal, SKU and group, each item's key computed
/// once and borrowed from it (see [`keyed`]).
fn sort_entries<T: Sync, K: Ord + Send>(
    items: &mut [T],
    parts: impl for<'x> Fn(&'x T) -> (K, &'x Principal, &'x SkuName, Option<&'x Principal>) + Sync,
) {
    sort_entries_from(items, parts, PARALLEL_SORT);
}

/// From this many entries, [`sort_entries`] keys and sorts each half of the list on its
/// own core and merges the two (a large plan's 90k notes: each key reads a name from
/// memory no cache holds).
const PARALLEL_SORT: usize = 20_000;

/// [`sort_entries`], side by side from `parallel_from` entries: the same order, since
/// every entry's key ends in its position (no two are equal), so merging the sorted
/// halves gives what sorting the whole list gives.
pub(super) fn sort_entries_from<T: Sync, K: Ord + Send>(
    items: &mut [T],
    parts: impl for<'x> Fn(&'x T) -> (K, &'x Principal, &'x SkuName, Option<&'x Principal>) + Sync,
    parallel_from: usize,
) {
    let order = if items.len() < parallel_from.max(2) {
        keyed(items, 0, &parts)
            .into_iter()
            .map(|(_, at)| at)
            .collect()
    } else {
        let (first, second) = items.split_at(items.len() / 2);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| keyed(second, first.len(), &parts));
            let first = keyed(first, 0, &parts);
            // A panic of the other half is the planner's own: raised again here.
            let second = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            merged_positions(first, second)
        })
    };
    apply_order(items, order);
}

/// An entry's sort key: kind, principal, SKU, group.
type EntryKey<'x, K> = (
    K,
    (u8, Cow<'x, str>, uuid::Uuid),
    &'x SkuName,
    Option<(u8, Cow<'x, str>, uuid::Uuid)>,
);

/// Each of `part`'s entries keyed (see [`sort_entries`]) with its position (counted from
/// `from`), sorted.
fn keyed<'x, T, K: Ord>(
    part: &'x [T],
    from: usize,
    parts: &impl Fn(&'x T) -> (K, &'x Principal, &'x SkuName, Option<&'x Principal>),
) -> Vec<(EntryKey<'x, K>, usize)> {
    let mut keys: Vec<_> = part
        .iter()
        .zip(from..)
        .map(|(item, at)| {
            let (kind, principal, sku, group) = parts(item);
            let key = (
                kind,
                principal.sort_key(),
                sku,
                group.map(Principal::sort_key),
            );
            (key, at)
        })
        .collect();
    // Runs already in order (a half sorted on its thread before) are merged, not sorted
    // again.
    keys.sort();
    keys
}

/// The positions of two lists of keyed positions, each sorted, in the order of their
/// merge.
fn merged_positions<K: Ord>(first: Vec<(K, usize)>, second: Vec<(K, usize)>) -> Vec<usize> {
    let mut out = Vec::with_capacity(first.len() + second.len());
    let mut first = first.into_iter().peekable();
    let mut second = second.into_iter().peekable();
    loop {
        let from_first = match (first.peek(), second.peek()) {
            (Some(a), Some(b)) => a <= b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        let next = if from_first {
            first.next()
        } else {
            second.next()
        };
        out.extend(next.map(|(_, at)| at));
    }
}

/// Direct licenses of a user (every license when the snapshot has no assignment states).
fn direct_licenses(user: &User) -> Vec<Held> {
    if user.license_assignment_states.is_empty() {
        return held(&user.assigned_licenses);
    }
    let mut out: Vec<Held> = Vec::new();
    for state in user.direct_states() {
        if !out.iter().any(|h| h.sku == state.sku_id) {
            out.push(Held {
                sku: state.sku_id,
                disabled: sorted(&state.disabled_plans),
            });
        }
    }
    out
}

/// Working inherited copies (failed group assignments are not held).
fn inherited_licenses(user: &User) -> Vec<Inherited> {
    user.inherited_states()
        .filter(|s| s.state != AssignmentStateKind::Error)
        .filter_map(|s| {
            s.assigned_by_group.map(|group| Inherited {
                sku: s.sku_id,
                group,
                disabled: sorted(&s.disabled_plans),
            })
        })
        .collect()
}

/// A group as a [`Principal`] (its id when the tenant does not list it).
pub(crate) fn group_principal(index: &TenantIndex<'_>, id: GroupId) -> Principal {
    Principal::Group {
        id,
        name: index
            .groups
            .get(&id)
            .map_or_else(|| id.to_string(), |g| g.display_name.clone()),
    }
}

/// A user as a [`Principal`].
pub(crate) fn user_principal(user: &User) -> Principal {
    Principal::User {
        id: user.id,
        name: user.user_principal_name.clone(),
    }
}

fn plan_names(index: &TenantIndex<'_>, sku: SkuId, plans: &[ServicePlanId]) -> Vec<PlanName> {
    let mut names: Vec<PlanName> = plans.iter().map(|p| index.plan_name(sku, *p)).collect();
    names.sort();
    names
}

/// True when the SKU, with these plans disabled, gives the holder an Exchange Online
/// mailbox plan (`EXCHANGE_S_*` other than `EXCHANGE_S_FOUNDATION`).
fn has_exchange(index: &TenantIndex<'_>, sku: SkuId, disabled: &[ServicePlanId]) -> bool {
    index.skus.get(&sku).is_some_and(|s| {
        s.service_plans.iter().any(|p| {
            p.service_plan_name.starts_with("EXCHANGE_S_")
                && p.service_plan_name != "EXCHANGE_S_FOUNDATION"
                && !disabled.contains(&p.service_plan_id)
        })
    })
}

/// Who governs a user's license, for the wording of findings.
#[derive(Debug, Clone, Copy)]
enum Governed<'r> {
    /// The user's entry under `users:`.
    Declared,
    /// These rules (their names).
    Rules(&'r [String]),
    /// Nothing: the license is unmanaged.
    No,
}

/// `rule a` or `rules a, b`.
fn rule_list(rules: &[String]) -> String {
    match rules {
        [one] => format!("rule {one}"),
        many => format!("rules {}", many.join(", ")),
    }
}

/// The difference between what a principal holds and what the config wants, as the
/// three lists of one `assignLicense` call. `held` and `wanted` are per-principal and tiny.
struct Diff<'w> {
    add: Vec<&'w ResolvedLicense>,
    update: Vec<(&'w ResolvedLicense, Vec<ServicePlanId>)>,
    remove: Vec<SkuId>,
    /// Licenses in sync although the tenant switched off more plans than wanted (see
    /// [`graph_adjusted`]), with those extra plans.
    adjusted: Vec<(SkuId, Vec<ServicePlanId>)>,
}

impl Diff<'_> {
    fn none() -> Self {
        Diff {
            add: Vec::new(),
            update: Vec::new(),
            remove: Vec::new(),
            adjusted: Vec::new(),
        }
    }
}

/// `adjusted(sku, live, wanted)` returns the extra disabled plans when the tenant's
/// `disabledPlans` count as in sync with the wanted ones although they differ.
fn diff<'w>(
    held: &[Held],
    wanted: &'w [ResolvedLicense],
    adjusted: impl Fn(SkuId, &[ServicePlanId], &[ServicePlanId]) -> Option<Vec<ServicePlanId>>,
) -> Diff<'w> {
    let mut out = Diff::none();
    for want in wanted {
        match held.iter().find(|h| h.sku == want.sku) {
            None => out.add.push(want),
            Some(h) if h.disabled.as_slice() != &*want.disabled_plans => {
                match adjusted(want.sku, &h.disabled, &want.disabled_plans) {
                    Some(extra) => out.adjusted.push((want.sku, extra)),
                    None => out.update.push((want, h.disabled.clone())),
                }
            }
            Some(_) => {}
        }
    }
    for h in held {
        if !wanted.iter().any(|w| w.sku == h.sku) {
            out.remove.push(h.sku);
        }
    }
    out
}

/// Builds the license lists of a change and the allowlist findings.
fn build_change(
    principal: Principal,
    diff: &Diff<'_>,
    index: &TenantIndex<'_>,
    findings: &mut Vec<Finding>,
) -> Change {
    let mut change = Change::new(principal);
    for want in &diff.add {
        change.add.push(LicenseAdd {
            sku: index.sku_name(want.sku),
            disabled_plans: plan_names(index, want.sku, &want.disabled_plans),
            already_inherited: false,
        });
    }
    for (want, live) in &diff.update {
        let enable: Vec<ServicePlanId> = live
            .iter()
            .filter(|p| !want.disabled_plans.contains(p))
            .copied()
            .collect();
        let disable: Vec<ServicePlanId> = want
            .disabled_plans
            .iter()
            .filter(|p| !live.contains(p))
            .copied()
            .collect();
        let sku = index.sku_name(want.sku);
        if want.allowlist && !disable.is_empty() {
            let plans = plan_names(index, want.sku, &disable);
            let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
            findings.push(Finding {
                kind: FindingKind::PlanOutsideAllowlist,
                principal: change.principal.clone(),
                sku: sku.clone(),
                group: None,
                message: format!(
                    "{} of {} is on for {} {} but not in its enabled_plans allowlist (most likely added to the SKU by Microsoft after the allowlist was written)",
                    names.join(", "),
                    sku.part_number,
                    change.principal.kind(),
                    change.principal.name()
                ),
                fix: "apply this plan to switch it off, or add it to enabled_plans to keep it on"
                    .to_owned(),
                plans,
                error: None,
                managed: true,
            });
        }
        change.update.push(LicenseUpdate {
            disabled_plans: plan_names(index, want.sku, &want.disabled_plans),
            enable: plan_names(index, want.sku, &enable),
            disable: plan_names(index, want.sku, &disable),
            sku,
        });
    }
    for sku in &diff.remove {
        change.remove.push(LicenseRemove {
            sku: index.sku_name(*sku),
            destructive: true,
            exchange_grace: false,
            still_inherited_from: Vec::new(),
            swapped_for: Vec::new(),
        });
    }
    change
}

fn sort_change(change: &mut Change) {
    change.add.sort_by(|a, b| a.sku.cmp(&b.sku));
    change.update.sort_by(|a, b| a.sku.cmp(&b.sku));
    change.remove.sort_by(|a, b| a.sku.cmp(&b.sku));
}

/// What planning the governed users needs besides the planner: the compiled rules, and
/// what is counted along the way.
struct RuleContext<'r> {
    rules: &'r Rules,
    tally: RuleTally,
    /// Per rule-governed SKU, how many governed users lose it.
    removals: HashMap<SkuId, u64>,
}

struct Planner<'a, 'i> {
    index: &'i TenantIndex<'a>,
    deps: &'i Dependencies,
    default_usage_location: Option<&'a str>,
    changes: Vec<Change>,
    findings: Vec<Finding>,
    notes: Vec<Note>,
    diagnostics: Vec<Diagnostic>,
    ledger: SeatLedger,
    /// (group, SKU) pairs this plan removes from a group: that group no longer grants the
    /// SKU to its members once the plan is applied.
    groups_losing: HashSet<(GroupId, SkuId)>,
    /// Per direct member of a group this plan gives a SKU to, those SKUs: the group
    /// grants them once the plan is applied (a rule's SKU is then covered).
    members_gaining: HashMap<UserId, Vec<SkuId>>,
}

impl Planner<'_, '_> {
    fn diff<'w>(&self, held: &[Held], wanted: &'w [ResolvedLicense]) -> Diff<'w> {
        diff(held, wanted, |sku, live, want| {
            graph_adjusted(self.deps, self.index, sku, live, want)
        })
    }

    /// A note per license whose extra disabled plans count as in sync.
    fn adjusted_notes(&mut self, principal: &Principal, diff: &Diff<'_>) {
        for (sku, extra) in &diff.adjusted {
            let plans = plan_names(self.index, *sku, extra);
            let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
            let sku = self.index.sku_name(*sku);
            self.notes.push(Note {
                kind: NoteKind::GraphDisabledDependents,
                message: format!(
                    "the tenant keeps {} of {} off for {} {}: the plan it depends on is off in that license, so licensectl counts the license as in sync instead of sending the same request again",
                    names.join(", "),
                    sku.part_number,
                    principal.kind(),
                    principal.name()
                ),
                principal: principal.clone(),
                sku,
                group: None,
                plans,
            });
        }
    }

    fn plan_group(&mut self, group: &Group, wanted: &[ResolvedLicense]) {
        let diff = self.diff(&held(&group.assigned_licenses), wanted);
        let principal = Principal::Group {
            id: group.id,
            name: group.display_name.clone(),
        };
        self.adjusted_notes(&principal, &diff);
        if diff.add.is_empty() && diff.update.is_empty() && diff.remove.is_empty() {
            return;
        }
        let mut change = build_change(principal, &diff, self.index, &mut self.findings);
        for add in &diff.add {
            self.ledger.touch(add.sku);
            for member in &group.members {
                self.ledger.add(*member, add.sku, Source::Group(group.id));
                self.members_gaining
                    .entry(*member)
                    .or_default()
                    .push(add.sku);
            }
        }
        for removed in &mut change.remove {
            let sku = removed.sku.id;
            self.groups_losing.insert((group.id, sku));
            removed.exchange_grace = has_exchange(self.index, sku, &[]);
            self.ledger.touch(sku);
            for member in &group.members {
                self.ledger.remove(*member, sku, Source::Group(group.id));
            }
        }
        sort_change(&mut change);
        self.changes.push(change);
    }

    /// Findings where the wanted licenses turn plans off that a group's copy of the same
    /// SKU turns on (a user gets the union of all sources).
    fn overrides_findings(
        &mut self,
        principal: &Principal,
        wanted: &[ResolvedLicense],
        inherited: &[Inherited],
    ) {
        for want in wanted {
            for inh in inherited.iter().filter(|i| i.sku == want.sku) {
                let overridden: Vec<ServicePlanId> = want
                    .disabled_plans
                    .iter()
                    .filter(|p| !inh.disabled.contains(p))
                    .copied()
                    .collect();
                if overridden.is_empty() {
                    continue;
                }
                let sku = self.index.sku_name(want.sku);
                let group = group_principal(self.index, inh.group);
                findings_push_overrides(&mut self.findings, principal, sku, group, {
                    plan_names(self.index, want.sku, &overridden)
                });
            }
        }
    }

    /// Marks adds the user already inherits, and records their seats.
    fn record_adds(&mut self, change: &mut Change, user: &User, inherited: &[Inherited]) {
        for add in &mut change.add {
            add.already_inherited = inherited.iter().any(|i| i.sku == add.sku.id);
            self.ledger.add(user.id, add.sku.id, Source::Direct);
        }
    }

    /// Fills in what each removal of a user's change means (swap, destructive, mailbox
    /// grace, groups that keep the SKU) and records the seats it frees. `keeps_exchange`:
    /// the user keeps an Exchange Online plan from a license the change does not remove.
    fn finish_removals(
        &mut self,
        change: &mut Change,
        user: &User,
        direct: &[Held],
        inherited: &[Inherited],
        keeps_exchange: bool,
    ) {
        let mut swapped_for: Vec<SkuName> = change.add.iter().map(|a| a.sku.clone()).collect();
        swapped_for.sort();
        for removed in &mut change.remove {
            let sku = removed.sku.id;
            let groups = self.granting_groups(inherited, sku);
            let live_disabled = direct
                .iter()
                .find(|h| h.sku == sku)
                .map_or(&[][..], |h| h.disabled.as_slice());
            removed.swapped_for = swapped_for.clone();
            removed.exchange_grace = groups.is_empty()
                && !keeps_exchange
                && has_exchange(self.index, sku, live_disabled);
            removed.destructive =
                groups.is_empty() && (swapped_for.is_empty() || removed.exchange_grace);
            removed.still_inherited_from = groups;
            self.ledger.remove(user.id, sku, Source::Direct);
        }
    }

    fn plan_user(&mut self, desired: &ResolvedUser, user: &User) {
        let direct = direct_licenses(user);
        let inherited = inherited_licenses(user);
        let principal = user_principal(user);
        let wanted: &[ResolvedLicense] = desired.licenses.as_deref().unwrap_or(&[]);
        let diff = if desired.licenses.is_some() {
            self.diff(&direct, wanted)
        } else {
            Diff::none()
        };
        self.adjusted_notes(&principal, &diff);

        self.overrides_findings(&principal, wanted, &inherited);

        let mut change = build_change(principal.clone(), &diff, self.index, &mut self.findings);
        self.record_adds(&mut change, user, &inherited);
        if !change.remove.is_empty() {
            let keeps_exchange = wanted
                .iter()
                .any(|w| has_exchange(self.index, w.sku, &w.disabled_plans))
                || inherited
                    .iter()
                    .any(|i| has_exchange(self.index, i.sku, &i.disabled));
            self.finish_removals(&mut change, user, &direct, &inherited, keeps_exchange);
        }

        // Direct copies of inherited licenses that stay: the migration-to-groups case.
        for held in &direct {
            if diff.remove.contains(&held.sku) {
                continue;
            }
            self.duplicate_findings(user, &principal, held.sku, &inherited, Governed::Declared);
        }

        // Usage location: required before any direct license is added.
        let live_location = user.usage_location.as_deref().filter(|l| !l.is_empty());
        if !change.add.is_empty() && live_location.is_none() {
            match desired
                .usage_location
                .as_deref()
                .or(self.default_usage_location)
            {
                Some(to) => {
                    change.usage_location = Some(UsageLocationStep {
                        from: None,
                        to: to.to_owned(),
                    });
                }
                None => {
                    let skus: Vec<&str> = change
                        .add
                        .iter()
                        .map(|a| a.sku.part_number.as_str())
                        .collect();
                    self.diagnostics.push(
                        Diagnostic::new(DiagnosticCode::UsageLocationMissing,
                            format!(
                                "user {} gains {} but has no usage location, and neither the user nor defaults.usage_location sets one",
                                user.user_principal_name,
                                skus.join(", ")
                            ),
                        )
                        .at(desired.location.clone())
                        .help("add `usage_location: XX` (ISO 3166 country code) to the user, or `defaults: { usage_location: XX }` to licensectl.yaml"),
                    );
                }
            }
        } else if let Some(to) = desired.usage_location.as_deref()
            && live_location.is_none_or(|live| !live.eq_ignore_ascii_case(to))
        {
            change.usage_location = Some(UsageLocationStep {
                from: live_location.map(str::to_owned),
                to: to.to_owned(),
            });
        }

        if change.has_license_call() || change.usage_location.is_some() {
            sort_change(&mut change);
            self.changes.push(change);
        }
    }

    /// Plans a user the rules govern: its direct licenses of rule-governed SKUs become
    /// what the rules it matches give (`given`, merged), except SKUs it inherits from a
    /// group and does not hold directly (covered by the group); its other licenses are
    /// untouched.
    fn plan_rule_user(
        &mut self,
        user: &User,
        matched: &[u32],
        given: &Given,
        ctx: &mut RuleContext<'_>,
    ) {
        let rules = ctx.rules;
        let direct = direct_licenses(user);
        let inherited = inherited_licenses(user);
        // The direct licenses of rule-governed SKUs (all of them, mostly: then no copy).
        let governed: Cow<'_, [Held]> =
            if direct.iter().all(|h| rules.governed_skus.contains(&h.sku)) {
                Cow::Borrowed(&direct)
            } else {
                Cow::Owned(
                    direct
                        .iter()
                        .filter(|h| rules.governed_skus.contains(&h.sku))
                        .cloned()
                        .collect(),
                )
            };
        let givers = |sku: SkuId| -> &[u32] {
            given
                .licenses
                .iter()
                .position(|l| l.sku == sku)
                .map_or(&[], |i| given.givers[i].as_slice())
        };
        // Covered: a SKU a group grants the user after the plan (one it inherits and the
        // plan does not take from the group, or one the plan gives the group), when the
        // user does not hold it directly.
        let gaining = self.members_gaining.get(&user.id);
        let covered = |sku: SkuId| {
            !governed.iter().any(|h| h.sku == sku)
                && (inherited
                    .iter()
                    .any(|i| i.sku == sku && !self.groups_losing.contains(&(i.group, sku)))
                    || gaining.is_some_and(|g| g.contains(&sku)))
        };
        let wanted: Cow<'_, [ResolvedLicense]> = if given.licenses.iter().any(|l| covered(l.sku)) {
            let mut covered_rules: Vec<u32> = Vec::new();
            let mut kept = Vec::with_capacity(given.licenses.len());
            for (license, by) in given.licenses.iter().zip(&given.givers) {
                if covered(license.sku) {
                    covered_rules.extend(by.iter().copied());
                } else {
                    kept.push(license.clone());
                }
            }
            covered_rules.sort_unstable();
            covered_rules.dedup();
            for r in covered_rules {
                ctx.tally.covered(r);
            }
            Cow::Owned(kept)
        } else {
            Cow::Borrowed(&given.licenses)
        };
        let diff = self.diff(&governed, &wanted);
        let has_duplicates = direct
            .iter()
            .any(|h| inherited.iter().any(|i| i.sku == h.sku));
        let in_sync = diff.add.is_empty()
            && diff.update.is_empty()
            && diff.remove.is_empty()
            && diff.adjusted.is_empty();
        if in_sync && !has_duplicates {
            return;
        }
        let principal = user_principal(user);
        self.adjusted_notes(&principal, &diff);
        if !inherited.is_empty() {
            self.overrides_findings(&principal, &wanted, &inherited);
        }
        let mut change = build_change(principal.clone(), &diff, self.index, &mut self.findings);

        // Usage location: required before a direct license is added; without one the
        // adds are left out (Graph would refuse them) and the user is reported.
        let live_location = user.usage_location.as_deref().filter(|l| !l.is_empty());
        let mut location_source = None;
        if !change.add.is_empty() && live_location.is_none() {
            match self.rule_usage_location(user, matched, ctx) {
                Some((to, source)) => {
                    change.usage_location = Some(UsageLocationStep { from: None, to });
                    location_source = Some(source);
                }
                None => {
                    ctx.tally.no_usage_location(user);
                    change.add.clear();
                }
            }
        }
        self.record_adds(&mut change, user, &inherited);
        let mut gained: Vec<u32> = change
            .add
            .iter()
            .flat_map(|a| givers(a.sku.id).iter().copied())
            .collect();
        gained.sort_unstable();
        gained.dedup();
        for r in gained {
            ctx.tally.gain(r);
        }
        if !change.remove.is_empty() {
            // Licenses the user keeps: what the rules give, inherited copies, and direct
            // licenses of SKUs no rule governs.
            let keeps_exchange = wanted
                .iter()
                .any(|w| has_exchange(self.index, w.sku, &w.disabled_plans))
                || inherited
                    .iter()
                    .any(|i| has_exchange(self.index, i.sku, &i.disabled))
                || direct
                    .iter()
                    .filter(|h| !rules.governed_skus.contains(&h.sku))
                    .any(|h| has_exchange(self.index, h.sku, &h.disabled));
            self.finish_removals(&mut change, user, &direct, &inherited, keeps_exchange);
            for removed in &change.remove {
                *ctx.removals.entry(removed.sku.id).or_default() += 1;
            }
        }

        let names = |set: &[u32]| -> Vec<String> {
            set.iter()
                .map(|&r| rules.rules[r as usize].name.clone())
                .collect()
        };
        if has_duplicates {
            // Direct copies of inherited licenses that stay.
            for held in &direct {
                if diff.remove.contains(&held.sku) || !inherited.iter().any(|i| i.sku == held.sku) {
                    continue;
                }
                let by = names(givers(held.sku));
                let governed = if by.is_empty() {
                    Governed::No
                } else {
                    Governed::Rules(&by)
                };
                self.duplicate_findings(user, &principal, held.sku, &inherited, governed);
            }
        }

        if change.has_license_call() || change.usage_location.is_some() {
            sort_change(&mut change);
            let mut licenses: Vec<RuleLicense> = change
                .add
                .iter()
                .map(|a| &a.sku)
                .chain(change.update.iter().map(|u| &u.sku))
                .chain(change.remove.iter().map(|r| &r.sku))
                .map(|sku| RuleLicense {
                    sku: sku.clone(),
                    rules: names(givers(sku.id)),
                })
                .collect();
            licenses.sort_by(|a, b| a.sku.cmp(&b.sku));
            change.rules = Some(ChangeRules {
                matched: names(matched),
                licenses,
                usage_location: location_source,
            });
            self.changes.push(change);
        }
    }

    /// The usage location for a governed user who needs one: the first matching rule's
    /// (an ISO code, or the user's `country` mapped), else `defaults.usage_location`.
    /// A `country` the mapping does not know is reported, and the next source tried.
    fn rule_usage_location(
        &mut self,
        user: &User,
        matched: &[u32],
        ctx: &mut RuleContext<'_>,
    ) -> Option<(String, UsageLocationSource)> {
        for &r in matched {
            let rule = &ctx.rules.rules[r as usize];
            match &rule.usage_location {
                Some(RuleUsageLocation::Code(code)) => {
                    return Some((
                        code.clone(),
                        UsageLocationSource {
                            rule: Some(rule.name.clone()),
                            country: None,
                        },
                    ));
                }
                Some(RuleUsageLocation::FromCountry) => {
                    let Some(country) = user
                        .attributes
                        .country
                        .as_deref()
                        .filter(|c| !c.trim().is_empty())
                    else {
                        continue;
                    };
                    match countries::from_country(country) {
                        Some(code) => {
                            return Some((
                                code.to_owned(),
                                UsageLocationSource {
                                    rule: Some(rule.name.clone()),
                                    country: Some(country.to_owned()),
                                },
                            ));
                        }
                        None => ctx.tally.unmapped(country, user),
                    }
                }
                None => {}
            }
        }
        self.default_usage_location.map(|code| {
            (
                code.to_owned(),
                UsageLocationSource {
                    rule: None,
                    country: None,
                },
            )
        })
    }

    /// A planner with nothing planned, sharing this one's tenant and what its groups lose,
    /// for declared users or [`Planner::every_user`] on another thread once the groups
    /// are planned (not for rule-governed users: it does not hold what group members
    /// gain). [`Planner::absorb`] takes its results back.
    fn beside(&self) -> Self {
        Planner {
            index: self.index,
            deps: self.deps,
            default_usage_location: self.default_usage_location,
            changes: Vec::new(),
            findings: Vec::new(),
            notes: Vec::new(),
            diagnostics: Vec::new(),
            ledger: SeatLedger::default(),
            groups_losing: self.groups_losing.clone(),
            members_gaining: HashMap::new(),
        }
    }

    /// Takes what `other` (made by [`Planner::beside`]) planned, after what this one has.
    fn absorb(&mut self, mut other: Self) {
        self.changes.append(&mut other.changes);
        self.findings.append(&mut other.findings);
        self.notes.append(&mut other.notes);
        self.diagnostics.append(&mut other.diagnostics);
        self.ledger.absorb(other.ledger);
    }

    /// The pass over every user: failed or unknown assignment states of each, and the
    /// direct copies of inherited licenses of those neither declared nor `governed` (by
    /// position). Returns how many of those hold a license.
    fn every_user(&mut self, users: &[User], governed: &[bool], declared: &DeclaredUsers) -> u64 {
        let mut unmanaged_licensed: u64 = 0;
        for (position, user) in users.iter().enumerate() {
            let managed = governed[position] || declared.contains(position);
            if !managed {
                if !user.assigned_licenses.is_empty() {
                    unmanaged_licensed += 1;
                }
                let inherited = inherited_licenses(user);
                if !inherited.is_empty() {
                    let principal = user_principal(user);
                    for held in direct_licenses(user) {
                        self.duplicate_findings(
                            user,
                            &principal,
                            held.sku,
                            &inherited,
                            Governed::No,
                        );
                    }
                }
            }
            self.error_findings(user, managed);
        }
        unmanaged_licensed
    }

    /// The groups a user inherits `sku` from, sorted.
    /// The groups that still grant `sku` to the user after the plan (groups are planned
    /// before users, so a group this plan takes the SKU from is already known).
    fn granting_groups(&self, inherited: &[Inherited], sku: SkuId) -> Vec<Principal> {
        let mut groups: Vec<Principal> = inherited
            .iter()
            .filter(|i| i.sku == sku && !self.groups_losing.contains(&(i.group, sku)))
            .map(|i| group_principal(self.index, i.group))
            .collect();
        groups.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        groups.dedup();
        groups
    }

    fn duplicate_findings(
        &mut self,
        user: &User,
        principal: &Principal,
        sku: SkuId,
        inherited: &[Inherited],
        governed: Governed<'_>,
    ) {
        let groups = self.granting_groups(inherited, sku);
        let Some(first) = groups.first() else {
            return;
        };
        let sku_name = self.index.sku_name(sku);
        let (fix, managed) = match governed {
            Governed::Declared => (
                format!(
                    "drop {} from {}'s licenses in the config to remove the direct copy (the group keeps the user licensed)",
                    sku_name.part_number, user.user_principal_name
                ),
                true,
            ),
            Governed::Rules(rules) => (
                format!(
                    "{} gives {} and keeps the direct copy (a rule never adds a license a group grants, but keeps one the user holds): exclude {} from it to remove the copy (the group keeps the user licensed)",
                    rule_list(rules),
                    sku_name.part_number,
                    user.user_principal_name
                ),
                true,
            ),
            Governed::No => (
                format!(
                    "declare {} in the config without {} (e.g. `licenses: []`) to remove the direct copy",
                    user.user_principal_name, sku_name.part_number
                ),
                false,
            ),
        };
        self.findings.push(Finding {
            kind: FindingKind::DuplicateOfInherited,
            principal: principal.clone(),
            message: format!(
                "{} holds {} directly and also inherits it from group {}; the direct copy is redundant",
                user.user_principal_name,
                sku_name.part_number,
                first.name()
            ),
            sku: sku_name,
            group: Some(first.clone()),
            plans: Vec::new(),
            error: None,
            fix,
            managed,
        });
    }

    /// Findings for failed assignments, and for `state`/`error` values this build does
    /// not know (with Graph's raw text).
    fn error_findings(&mut self, user: &User, managed: bool) {
        for state in &user.license_assignment_states {
            let failed = matches!(
                state.state,
                AssignmentStateKind::Error | AssignmentStateKind::ActiveWithError
            );
            let unknown_state = !state.state.is_known();
            let unknown_error = state.error.as_ref().is_some_and(|e| !e.is_known());
            if !(failed || unknown_state || unknown_error) {
                continue;
            }
            let sku = self.index.sku_name(state.sku_id);
            let group = state
                .assigned_by_group
                .map(|g| group_principal(self.index, g));
            let source = match &group {
                Some(g) => format!("from group {}", g.name()),
                None => "assigned directly".to_owned(),
            };
            let (kind, message, fix) = if failed {
                let error = state.error.clone().unwrap_or(AssignmentError::Other);
                let (what, fix) = explain_error(&error, &sku, user, self.index);
                (
                    FindingKind::AssignmentError,
                    format!(
                        "{} ({source}) failed for {}: {what}",
                        sku.part_number, user.user_principal_name
                    ),
                    fix,
                )
            } else {
                let what = if unknown_state {
                    format!(
                        "is in state '{}', which this licensectl does not know",
                        state.state
                    )
                } else {
                    format!("is {}", state.state)
                };
                let error = match &state.error {
                    Some(e) if !e.is_known() => {
                        format!(" and reports the error '{e}', which this licensectl does not know")
                    }
                    Some(e) => format!(" and reports the error '{e}'"),
                    None => String::new(),
                };
                (
                    FindingKind::UnknownState,
                    format!(
                        "{} ({source}) of {} {what}{error}",
                        sku.part_number, user.user_principal_name
                    ),
                    "check the user's licenses in the Microsoft 365 admin center; until then licensectl counts the license as held".to_owned(),
                )
            };
            self.findings.push(Finding {
                kind,
                principal: user_principal(user),
                message,
                sku,
                group,
                plans: Vec::new(),
                error: state.error.as_ref().map(ToString::to_string),
                fix,
                managed,
            });
        }
    }
}

fn findings_push_overrides(
    findings: &mut Vec<Finding>,
    principal: &Principal,
    sku: SkuName,
    group: Principal,
    plans: Vec<PlanName>,
) {
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    findings.push(Finding {
        kind: FindingKind::InheritedOverrides,
        message: format!(
            "the config turns off {} of {} for {}, but group {} grants the same SKU with them on (a user gets the union of all sources)",
            names.join(", "),
            sku.part_number,
            principal.name(),
            group.name()
        ),
        fix: format!(
            "licensectl never modifies inherited licenses: disable the plans on group {} or take the user out of it",
            group.name()
        ),
        principal: principal.clone(),
        sku,
        group: Some(group),
        plans,
        error: None,
        managed: true,
    });
}

/// Plain-language meaning and fix of a `licenseAssignmentState.error`.
fn explain_error(
    error: &AssignmentError,
    sku_name: &SkuName,
    user: &User,
    index: &TenantIndex<'_>,
) -> (String, String) {
    let sku = sku_name.part_number.as_str();
    match error {
        AssignmentError::CountViolation => {
            let free = index.skus.get(&sku_name.id).map(|s| active_free(s));
            (
                match free {
                    Some(free) => format!("not enough seats ({} free)", free.max(0)),
                    None => "not enough seats".to_owned(),
                },
                format!(
                    "buy more {sku} seats or free some, then reprocess the user's licenses (POST /users/{}/reprocessLicenseAssignment)",
                    user.id
                ),
            )
        }
        AssignmentError::MutuallyExclusiveViolation => (
            "one of its service plans conflicts with a plan of another license the user holds".to_owned(),
            "disable the conflicting service plan in one of the two licenses, or remove one license".to_owned(),
        ),
        AssignmentError::DependencyViolation => (
            "a service plan needs another plan that is disabled or missing".to_owned(),
            "enable the required service plan (or assign the license that contains it)".to_owned(),
        ),
        AssignmentError::ProhibitedInUsageLocationViolation => (
            format!(
                "a service plan is not available in the user's usage location ({})",
                user.usage_location.as_deref().unwrap_or("unset")
            ),
            "set the user's correct usage location, or disable the plan that is not offered there".to_owned(),
        ),
        AssignmentError::UniquenessViolation => (
            "a unique attribute (such as a proxy address) clashes with another object".to_owned(),
            "fix the duplicate proxy address or UPN, then reprocess the user's licenses".to_owned(),
        ),
        AssignmentError::Other => (
            "Microsoft Graph reports an unspecified error".to_owned(),
            "check the user's licenses in the Microsoft 365 admin center, fix the cause, then reprocess".to_owned(),
        ),
        AssignmentError::Unknown(code) => (
            format!("Microsoft Graph reports the error '{code}', which this licensectl does not know"),
            "check the user's licenses in the Microsoft 365 admin center, fix the cause, then reprocess".to_owned(),
        ),
    }
}

/// From this many users (declared ones for the halves, the tenant's for the pass over
/// every user), the planner works on more than one thread.
const PARALLEL_PASS: usize = 50_000;

/// Plans `desired` against `live`. Pure and deterministic.
pub fn plan(desired: &DesiredState, live: &TenantSnapshot, options: &PlanOptions) -> Plan {
    plan_in(desired, live, None, options, PARALLEL_PASS)
}

/// [`plan`], looking users up in `users`, the index of `live`'s users that its reader
/// built ([`crate::snapshot::TenantSnapshot::read_indexed`]), instead of building one (an
/// index of another number of users is not used). The same plan as [`plan`].
pub fn plan_indexed(
    desired: &DesiredState,
    live: &TenantSnapshot,
    users: &UserIndex,
    options: &PlanOptions,
) -> Plan {
    plan_in(desired, live, Some(users), options, PARALLEL_PASS)
}

/// [`plan`], with the declared users in two halves and the pass over every user on a
/// thread of its own from `parallel_from` users (the same plan either way: a test
/// compares the two).
pub(super) fn plan_in(
    desired: &DesiredState,
    live: &TenantSnapshot,
    users: Option<&UserIndex>,
    options: &PlanOptions,
    parallel_from: usize,
) -> Plan {
    let index = TenantIndex::with_users(live, users);
    let deps = Dependencies::new(live);
    let resolved = resolve(desired, &index);
    let mut planner = Planner {
        index: &index,
        deps: &deps,
        default_usage_location: desired
            .settings
            .default_usage_location
            .as_ref()
            .map(|l| l.value.as_str()),
        changes: Vec::new(),
        findings: Vec::new(),
        notes: Vec::new(),
        diagnostics: resolved.diagnostics.clone(),
        ledger: SeatLedger::default(),
        groups_losing: HashSet::new(),
        members_gaining: HashMap::new(),
    };

    let mut managed_groups: HashSet<GroupId> = HashSet::new();
    for group in &resolved.groups {
        let (Some(wanted), Some(live_group)) = (&group.licenses, index.groups.get(&group.id))
        else {
            continue;
        };
        managed_groups.insert(group.id);
        planner.plan_group(live_group, wanted);
    }
    // Users the rules govern (which ones first: the pass over every user needs them).
    let (rules, rule_diagnostics) = rules::compile(desired, &index, options.now);
    let evaluation = rules
        .as_ref()
        .map(|r| r.evaluate(live, &resolved.declared_users));
    // By position in the snapshot's user list.
    let mut governed_users = vec![false; live.users.len()];
    if let Some(eval) = &evaluation {
        for &position in &eval.governed {
            governed_users[position as usize] = true;
        }
    }
    let mut rule_context = rules.as_ref().map(|r| RuleContext {
        rules: r,
        tally: RuleTally::new(r),
        removals: HashMap::new(),
    });
    let mut managed_users: u64 = 0;
    let plan_declared = |planner: &mut Planner<'_, '_>, users: &[ResolvedUser]| {
        let mut managed: u64 = 0;
        for user in users {
            if user.licenses.is_some() {
                managed += 1;
            }
            planner.plan_user(user, index.user_at(user.position));
        }
        managed
    };
    let plan_principals = |planner: &mut Planner<'_, '_>| {
        // A large config's declared users in two halves side by side, the second half's
        // results put after the first's: everything comes in the order of one pass.
        if resolved.users.len() < parallel_from {
            managed_users = plan_declared(planner, &resolved.users);
        } else {
            let (first, second) = resolved.users.split_at(resolved.users.len() / 2);
            let mut half = planner.beside();
            managed_users = std::thread::scope(|scope| {
                let side = scope.spawn(|| plan_declared(&mut half, second));
                let first = plan_declared(planner, first);
                // A panic of the other half is the planner's own: raised again here.
                first
                    + side
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            planner.absorb(half);
        }
        planner.diagnostics.extend(rule_diagnostics);
        if let (Some(eval), Some(ctx)) = (evaluation.as_ref(), rule_context.as_mut()) {
            for (i, &position) in eval.governed.iter().enumerate() {
                let user = &live.users[position as usize];
                planner.plan_rule_user(user, eval.matched(i), eval.given(i), ctx);
            }
            let never: Vec<&str> = ctx
                .rules
                .never_signed_in
                .iter()
                .filter(|p| eval.in_scope.binary_search(p).is_ok())
                .map(|&p| live.users[p as usize].user_principal_name.as_str())
                .collect();
            if !never.is_empty() {
                let shown: Vec<&str> = never.iter().take(20).copied().collect();
                planner.diagnostics.push(
                    Diagnostic::new(
                        DiagnosticCode::NeverSignedIn,
                        format!(
                            "{} user(s) in rules_scope never signed in, so inactive_days holds for none of them: {}{}",
                            never.len(),
                            shown.join(", "),
                            if never.len() > shown.len() { ", …" } else { "" }
                        ),
                    )
                    .help("they are counted apart from inactive users, not reclaimed: a new account has not signed in yet either; `licensectl seats` counts them per SKU"),
                );
            }
            for (r, rule) in ctx.rules.rules.iter().enumerate() {
                if eval.counts[r] == 0 && !rule.matcher.nobody {
                    planner.diagnostics.push(
                        Diagnostic::new(
                            DiagnosticCode::RuleMatchesNobody,
                            format!(
                                "rule {} matches no user the rules govern ({} in rules_scope, {} of them not declared under users:)",
                                rule.name,
                                eval.in_scope.len(),
                                eval.governed.len()
                            ),
                        )
                        .at(rule.location.clone())
                        .help(if eval.in_scope.is_empty() && live.version < 2 {
                            "the tenant state has no directory attributes (a version 1 snapshot, written before rules): take a new one with `licensectl snapshot --config DIR`"
                        } else {
                            "check the values in its match (they are compared ignoring case, but must be spelled as in the directory) and what rules_scope admits; `licensectl explain --user UPN` shows why a user does not match"
                        }),
                    );
                }
            }
        }
    };
    // The pass over every user (findings of failed states and of unmanaged direct copies)
    // reads only the tenant and what the groups lose: on a large tenant it runs beside
    // the declared and governed users, its findings put after theirs as if it ran after.
    let mut pass = planner.beside();
    let every_user = |pass: &mut Planner<'_, '_>| {
        pass.every_user(&live.users, &governed_users, &resolved.declared_users)
    };
    let unmanaged_licensed_users = if live.users.len() < parallel_from {
        plan_principals(&mut planner);
        every_user(&mut pass)
    } else {
        std::thread::scope(|scope| {
            let side = scope.spawn(|| every_user(&mut pass));
            plan_principals(&mut planner);
            // A panic of the pass is the planner's own: raised again here.
            side.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    };
    planner.absorb(pass);
    // The staged move to group licensing: this wave's removals of covered direct copies
    // replace their duplicate-of-inherited findings.
    let mut operations = Operations::default();
    let mut migrated: HashMap<UserId, HashSet<SkuId>> = HashMap::new();
    if let Some(settings) = &desired.settings.migrate_to_groups {
        let governed: HashSet<UserId> = live
            .users
            .iter()
            .zip(&governed_users)
            .filter(|(_, g)| **g)
            .map(|(u, _)| u.id)
            .collect();
        let no_skus = HashSet::new();
        let governed_skus = rules.as_ref().map_or(&no_skus, |r| &r.governed_skus);
        let migration = migrate::plan(&index, &resolved, settings, &governed, governed_skus);
        planner.findings.retain(|f| {
            !(f.kind == FindingKind::DuplicateOfInherited
                && matches!(f.principal, Principal::User { id, .. } if migration.handled.contains(&(id, f.sku.id))))
        });
        for change in migration.changes {
            let Principal::User { id, .. } = change.principal else {
                continue;
            };
            for removed in &change.remove {
                planner.ledger.remove(id, removed.sku.id, Source::Direct);
                migrated.entry(id).or_default().insert(removed.sku.id);
            }
            match planner
                .changes
                .iter_mut()
                .find(|c| c.principal == change.principal)
            {
                Some(existing) => {
                    existing.remove.extend(change.remove);
                    sort_change(existing);
                }
                None => planner.changes.push(change),
            }
        }
        planner.findings.extend(migration.findings);
        operations.migration = migration.report;
    }
    let unmanaged_licensed_groups = live
        .groups
        .iter()
        .filter(|g| !g.assigned_licenses.is_empty() && !resolved.declared_groups.contains(&g.id))
        .count() as u64;

    let Planner {
        mut changes,
        mut findings,
        mut notes,
        mut diagnostics,
        ledger,
        ..
    } = planner;
    let (seats, seat_diagnostics) = ledger.finish(&index);
    diagnostics.extend(seat_diagnostics);
    diagnostics.extend(expiry::check(&index, &seats, options.now));
    let (prices, price_diagnostics) = prices::resolve(&index, &desired.settings.prices);
    diagnostics.extend(price_diagnostics);
    operations.seat_values = prices::values(&prices, &seats);
    let order = sorted_order(changes.iter().map(|c| c.principal.sort_key()).collect());
    apply_order(&mut changes, order);

    // The tenant as the changes leave it.
    let effect = Effect::new(&changes, &index);
    let dependency_problems = || {
        let declared = Declared {
            users: resolved.users.iter().map(|u| (u.id, &u.location)).collect(),
            groups: resolved
                .groups
                .iter()
                .map(|g| (g.id, &g.location))
                .collect(),
        };
        dependencies::check(&index, &deps, &effect, &declared)
    };
    let stacked = || observe::stacked_plans(&index, &effect, &resolved.declared_users);
    // Two passes that read the plan's effect, each on one core: on a large tenant side
    // by side (the stacked plans visit every user).
    let (dependency_problems, stacked) = if live.users.len() < parallel_from {
        (dependency_problems(), stacked())
    } else {
        std::thread::scope(|scope| {
            let side = scope.spawn(stacked);
            let problems = dependency_problems();
            // A panic of the other pass is the planner's own: raised again here.
            let stacked = side
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (problems, stacked)
        })
    };
    diagnostics.extend(dependency_problems);
    diagnostics.extend(unknown_statuses(&changes, &index));
    findings.extend(stacked);
    let changes_by_user: HashMap<UserId, &Change> = changes
        .iter()
        .filter_map(|c| match c.principal {
            Principal::User { id, .. } => Some((id, c)),
            Principal::Group { .. } => None,
        })
        .collect();
    // Each declared user on its own: the two halves of the list side by side (a large
    // config's users are most of a plan's notes), put together in the list's order.
    let kept = |users: &[ResolvedUser]| {
        let mut out = Vec::new();
        for user in users {
            let Some(listed) = &user.licenses else {
                continue;
            };
            let live_user = index.user_at(user.position);
            let skus: Vec<SkuId> = listed.iter().map(|l| l.sku).collect();
            let change = changes_by_user.get(&user.id).copied();
            out.extend(observe::kept_through_groups(
                &index, &effect, live_user, &skus, change,
            ));
        }
        // Sorted here, on this half's thread (itself one of two: on this core alone),
        // the sort of every note below only merges the halves.
        sort_entries_from(
            &mut out,
            |n| (n.kind, &n.principal, &n.sku, n.group.as_ref()),
            usize::MAX,
        );
        out
    };
    let (first, second) = resolved.users.split_at(resolved.users.len() / 2);
    let (first, second) = std::thread::scope(|scope| {
        let other = scope.spawn(|| kept(second));
        let first = kept(first);
        // A panic of the other half is the planner's own: raised again here.
        let second = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    });
    // Moved in and freed half by half, so that the halves' lists are never held twice.
    notes.reserve(first.len() + second.len());
    notes.extend(first);
    notes.extend(second);

    // Governed users who hold nothing once the plan is applied.
    let rules_report = match (rule_context, evaluation.as_ref()) {
        (Some(mut ctx), Some(eval)) => {
            for &position in &eval.governed {
                let user = &live.users[position as usize];
                let holds_nothing = if effect.is_affected(user.id) {
                    effect.after(user).is_empty()
                } else if user.license_assignment_states.is_empty() {
                    user.assigned_licenses.is_empty()
                } else {
                    user.license_assignment_states
                        .iter()
                        .all(|s| s.state == AssignmentStateKind::Error)
                };
                if holds_nothing {
                    ctx.tally.unlicensed(user);
                }
            }
            let mut removals: Vec<(Vec<String>, SkuName, u64)> = ctx
                .removals
                .iter()
                .map(|(sku, n)| {
                    let givers: Vec<String> = ctx
                        .rules
                        .rules
                        .iter()
                        .filter(|r| r.licenses.iter().any(|l| l.sku == *sku))
                        .map(|r| r.name.clone())
                        .collect();
                    (givers, index.sku_name(*sku), *n)
                })
                .collect();
            removals.sort_by(|a, b| a.1.cmp(&b.1));
            let report = ctx.tally.finish(
                ctx.rules,
                eval.in_scope.len() as u64,
                eval.governed.len() as u64,
                &eval.counts,
                desired.settings.default_usage_location.is_some(),
            );
            Some((report, removals))
        }
        _ => None,
    };
    let rule_removals: &[(Vec<String>, SkuName, u64)] =
        rules_report.as_ref().map_or(&[], |(_, r)| r.as_slice());

    sort_entries(&mut findings, |f| {
        (f.kind, &f.principal, &f.sku, f.group.as_ref())
    });
    sort_entries(&mut notes, |n| {
        (n.kind, &n.principal, &n.sku, n.group.as_ref())
    });
    diagnostic::sort(&mut diagnostics);

    let rule_users = evaluation.as_ref().map_or(0, |e| e.governed.len() as u64);
    let managed_principals = managed_users + managed_groups.len() as u64 + rule_users;
    let safety = safety::check(
        &changes,
        &index,
        &SafetyInput {
            limits: &desired.settings.safety,
            managed_principals,
            protected_users: &resolved.protected_users,
            protected_groups: &resolved.protected_groups,
            allow_unsafe: options.allow_unsafe,
            migrated: &migrated,
            rule_removals,
        },
    );
    let rules_report = rules_report.map(|(report, _)| report);

    let summary = Summary {
        managed_users,
        managed_groups: managed_groups.len() as u64,
        unmanaged_licensed_users,
        unmanaged_licensed_groups,
        rule_users,
        ..Summary::default()
    };
    // These borrow the changes (and their maps run a destructor): done with them here.
    drop(effect);
    drop(changes_by_user);
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        tenant_id: live.tenant_id,
        tenant_domain: live.tenant_domain.clone(),
        has_changes: !changes.is_empty(),
        summary,
        changes,
        seats,
        findings,
        notes,
        safety,
        diagnostics,
        operations,
        rules: rules_report,
    };
    plan.summary = summary.counting(&plan);
    plan
}

/// A warning for every SKU a change adds, updates or removes whose `capabilityStatus` this
/// build does not know: Graph decides whether it can be assigned (and apply reports it).
fn unknown_statuses(changes: &[Change], index: &TenantIndex<'_>) -> Vec<Diagnostic> {
    let mut skus: Vec<SkuName> = changes
        .iter()
        .flat_map(|c| {
            c.add
                .iter()
                .map(|a| &a.sku)
                .chain(c.update.iter().map(|u| &u.sku))
                .chain(c.remove.iter().map(|r| &r.sku))
        })
        .cloned()
        .collect();
    skus.sort();
    skus.dedup();
    skus.into_iter()
        .filter_map(|name| {
            let sku = index.skus.get(&name.id)?;
            let CapabilityStatus::Unknown(status) = &sku.capability_status else {
                return None;
            };
            Some(
                Diagnostic::new(
                    DiagnosticCode::UnknownSkuStatus,
                    format!(
                        "{}: the subscription's capabilityStatus is '{status}', which this licensectl does not know; Microsoft Graph decides whether the plan's changes to it succeed",
                        name.part_number
                    ),
                )
                .help("apply reports Graph's answer; check the subscription in the Microsoft 365 admin center"),
            )
        })
        .collect()
}
