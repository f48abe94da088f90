//! The [`Plan`]: plain, serializable data describing what must change and why.
//!
//! Everything here is sorted and free of closures, so that a plan renders and serializes
//! byte-identically across runs. One [`Change`] per principal corresponds to exactly one
//! `assignLicense` call (adds, in-place `disabledPlans` updates and removes together), plus
//! an optional usage-location step that must run first.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::ids::{GroupId, ServicePlanId, SkuId, TenantId, UserId};
use crate::snapshot::{AssignedLicense, CapabilityStatus};

/// The version of the plan JSON format (`format_version`); bumped on incompatible changes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// A product, by id and part number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SkuName {
    /// `skuPartNumber`, or the GUID when the tenant does not list the SKU.
    pub part_number: String,
    /// `skuId`.
    pub id: SkuId,
}

/// A service plan, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlanName {
    /// `servicePlanName`, or the GUID when the SKU does not list the plan.
    pub name: String,
    /// `servicePlanId`.
    pub id: ServicePlanId,
}

/// A user or a group, as it exists in the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Principal {
    /// A user: `name` is the userPrincipalName.
    User {
        /// Object id.
        id: UserId,
        /// userPrincipalName.
        name: String,
    },
    /// A group: `name` is the displayName.
    Group {
        /// Object id.
        id: GroupId,
        /// displayName.
        name: String,
    },
}

impl Principal {
    /// The user's UPN or the group's display name.
    pub fn name(&self) -> &str {
        match self {
            Principal::User { name, .. } | Principal::Group { name, .. } => name,
        }
    }

    /// `user` or `group`.
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::User { .. } => "user",
            Principal::Group { .. } => "group",
        }
    }

    /// The object id as text.
    pub fn id_string(&self) -> String {
        match self {
            Principal::User { id, .. } => id.to_string(),
            Principal::Group { id, .. } => id.to_string(),
        }
    }

    /// Sort key: groups first, then users, each by lowercase name, then id (a GUID's
    /// bytes sort as its lowercase hyphenated text does). Nothing is allocated for an
    /// ASCII name without capitals: plans sort hundreds of thousands of these.
    pub fn sort_key(&self) -> (u8, Cow<'_, str>, uuid::Uuid) {
        let (rank, id) = match self {
            Principal::Group { id, .. } => (0, *id.as_uuid()),
            Principal::User { id, .. } => (1, *id.as_uuid()),
        };
        (rank, lowercase(self.name()), id)
    }
}

/// Set the user's usage location before assigning (a separate `PATCH /users/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLocationStep {
    /// The current value (`None` when unset).
    pub from: Option<String>,
    /// The value to set.
    pub to: String,
}

/// A license to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseAdd {
    /// The product.
    pub sku: SkuName,
    /// The complete `disabledPlans` set to send.
    pub disabled_plans: Vec<PlanName>,
    /// True when the principal already holds the SKU from a group (no new seat).
    pub already_inherited: bool,
}

/// An in-place `disabledPlans` change of a license the principal keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseUpdate {
    /// The product.
    pub sku: SkuName,
    /// The complete `disabledPlans` set to send (replaces the current one).
    pub disabled_plans: Vec<PlanName>,
    /// Plans this update switches on.
    pub enable: Vec<PlanName>,
    /// Plans this update switches off.
    pub disable: Vec<PlanName>,
}

/// A license to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseRemove {
    /// The product.
    pub sku: SkuName,
    /// True when the principal loses the product entirely: no group still grants it and
    /// no license is added in the same call (a swap is not destructive, unless it takes
    /// away the last Exchange Online plan).
    pub destructive: bool,
    /// True when the removal takes away the principal's last Exchange Online plan
    /// (its mailbox enters Exchange's 30-day grace period).
    pub exchange_grace: bool,
    /// Groups that still grant the product to the user after the removal.
    pub still_inherited_from: Vec<Principal>,
    /// Licenses added in the same `assignLicense` call (a swap, e.g. E3 → E5): the
    /// principal is never without a license in between. Sorted by part number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swapped_for: Vec<SkuName>,
}

/// Everything that changes for one principal: one `assignLicense` call (plus the usage
/// location step, which runs first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Who.
    pub principal: Principal,
    /// Usage location to set before assigning, if any.
    pub usage_location: Option<UsageLocationStep>,
    /// Licenses to add, sorted by part number.
    pub add: Vec<LicenseAdd>,
    /// Licenses kept with new `disabledPlans`, sorted by part number.
    pub update: Vec<LicenseUpdate>,
    /// Licenses to remove, sorted by part number.
    pub remove: Vec<LicenseRemove>,
    /// For a user the rules govern: the rules behind the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<ChangeRules>,
}

/// Why a rule-governed user's change is what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRules {
    /// Every rule the user matches, in config order.
    pub matched: Vec<String>,
    /// One entry per SKU the change adds, updates or removes, sorted by part number: the
    /// rules that give it (empty for a removal: the user matches no rule that gives it).
    pub licenses: Vec<RuleLicense>,
    /// What gives the usage location the change sets, if it sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_location: Option<UsageLocationSource>,
}

/// The rules that give one SKU of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleLicense {
    /// The product.
    pub sku: SkuName,
    /// The rules giving it, in config order; empty: it matches no rule.
    pub rules: Vec<String>,
}

/// Where a rule-governed user's usage location comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLocationSource {
    /// The rule whose `usage_location` gives it; `None`: `defaults.usage_location`.
    pub rule: Option<String>,
    /// The user's `country` attribute, when the rule maps it (`from_country`).
    pub country: Option<String>,
}

/// The body of the `assignLicense` call for a [`Change`], in Graph's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignLicenseRequest {
    /// New licenses and in-place updates (re-sending a skuId replaces its `disabledPlans`).
    pub add_licenses: Vec<AssignedLicense>,
    /// SKU ids to remove.
    pub remove_licenses: Vec<SkuId>,
}

impl Change {
    /// A change of `principal` that changes nothing yet: the planner fills it in.
    pub fn new(principal: Principal) -> Change {
        Change {
            principal,
            usage_location: None,
            add: Vec::new(),
            update: Vec::new(),
            remove: Vec::new(),
            rules: None,
        }
    }

    /// True when the change calls `assignLicense` (it may only set a usage location).
    pub fn has_license_call(&self) -> bool {
        !(self.add.is_empty() && self.update.is_empty() && self.remove.is_empty())
    }

    /// True when any removal takes a product away entirely.
    pub fn is_destructive(&self) -> bool {
        self.remove.iter().any(|r| r.destructive)
    }

    /// The `assignLicense` request body for this change.
    pub fn assign_license_request(&self) -> AssignLicenseRequest {
        let plan_ids = |plans: &[PlanName]| plans.iter().map(|p| p.id).collect::<Vec<_>>();
        let mut add_licenses: Vec<AssignedLicense> = self
            .add
            .iter()
            .map(|a| AssignedLicense {
                sku_id: a.sku.id,
                disabled_plans: plan_ids(&a.disabled_plans),
            })
            .collect();
        add_licenses.extend(self.update.iter().map(|u| AssignedLicense {
            sku_id: u.sku.id,
            disabled_plans: plan_ids(&u.disabled_plans),
        }));
        AssignLicenseRequest {
            add_licenses,
            remove_licenses: self.remove.iter().map(|r| r.sku.id).collect(),
        }
    }
}

/// Seat arithmetic for one SKU the plan touches (see `docs/plan.md`, *Seats*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatRow {
    /// The product.
    pub sku: SkuName,
    /// The subscription's `capabilityStatus`.
    pub capability_status: CapabilityStatus,
    /// `prepaidUnits.enabled`: units of active subscriptions.
    pub enabled: i64,
    /// `prepaidUnits.warning`: units of expired subscriptions in their grace period
    /// (a bucket of their own, not part of `enabled`).
    pub warning: i64,
    /// `consumedUnits`.
    pub consumed: i64,
    /// Free on active subscriptions before the plan: `enabled − consumed` (negative when
    /// expired units keep their assignments).
    pub free: i64,
    /// Free counting the grace period's units too: `enabled + warning − consumed`, the
    /// most Graph may accept.
    pub free_with_grace: i64,
    /// Users who newly hold the SKU after the plan (from any source, one seat each).
    pub needed: i64,
    /// Users who no longer hold the SKU after the plan.
    pub freed: i64,
    /// Seats in use after the plan: `consumed + needed − freed`.
    pub consumed_after: i64,
    /// Seats the plan takes from units in their grace period: what it needs beyond
    /// `free + freed` (0 when the active subscriptions suffice).
    pub grace_needed: i64,
    /// True when the plan needs more than `free_with_grace + freed` (and `needed > 0`),
    /// or the SKU's counts are impossible: the plan is refused.
    pub oversubscribed: bool,
}

/// What kind of drift or observation a [`Finding`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A service plan is on although the config's `enabled_plans` allowlist omits it
    /// (typically a plan Microsoft added to the SKU after the allowlist was written).
    PlanOutsideAllowlist,
    /// A direct assignment duplicates one inherited from a group.
    DuplicateOfInherited,
    /// The config asks for service plans on a user that a group's inherited copy of the
    /// same SKU overrides (enabled plans are the union of all sources).
    InheritedOverrides,
    /// A license assignment is in `Error` or `ActiveWithError`.
    AssignmentError,
    /// A user holds the same service (an Exchange Online mailbox plan) from two or more
    /// licenses: allowed, but each license uses a seat.
    StackedPlans,
    /// A license assignment has a `state` or `error` value this licensectl does not know
    /// (reported with Graph's raw text).
    UnknownState,
    /// `migrate_to_groups` keeps a direct copy: the managed groups give the SKU without a
    /// plan the direct copy has on, or their copy fails for the user.
    MigrationBlocked,
}

/// Drift beyond the assignments themselves, with a plain-language fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// Who.
    pub principal: Principal,
    /// Which product.
    pub sku: SkuName,
    /// The group involved (granting group, failing group), if any.
    pub group: Option<Principal>,
    /// Service plans involved, if any.
    pub plans: Vec<PlanName>,
    /// Graph's error code for [`FindingKind::AssignmentError`].
    pub error: Option<String>,
    /// What is the matter, in one sentence.
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// True when the principal is declared in the config.
    pub managed: bool,
}

/// What kind of observation a [`Note`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// A declared user keeps a license through a group although the user's `licenses`
    /// list does not mention it (`licenses` governs direct licenses only).
    KeptThroughGroup,
    /// The tenant switched off more plans of a license than the config asks for: plans
    /// whose prerequisite the config switches off in that license. Counted as in sync, so
    /// the plan does not re-send the same request forever.
    GraphDisabledDependents,
}

/// Something worth knowing that is neither a change nor drift: a note never makes a plan
/// fail or a drift report exit 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// What kind.
    pub kind: NoteKind,
    /// Who.
    pub principal: Principal,
    /// Which product.
    pub sku: SkuName,
    /// The group involved, if any.
    pub group: Option<Principal>,
    /// Service plans involved, if any.
    pub plans: Vec<PlanName>,
    /// The note, in one sentence.
    pub message: String,
}

/// A user named in a rule finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleUser {
    /// Who.
    pub principal: Principal,
    /// `createdDateTime`, as Graph sends it.
    pub created: Option<String>,
    /// True when the account is synchronized from Active Directory.
    pub synced: bool,
}

/// What a [`RuleFinding`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleFindingKind {
    /// Users in `rules_scope` who hold no license at all after the plan.
    NoLicense,
    /// Users a rule would license who have no usage location, and nothing gives one:
    /// left unlicensed.
    NoUsageLocation,
    /// A `country` value that `from_country` cannot map.
    UnmappedCountry,
}

/// Drift found by the rules, about many users at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFinding {
    /// What kind.
    pub kind: RuleFindingKind,
    /// How many users.
    pub count: u64,
    /// How many of them are synchronized from Active Directory.
    pub synced: u64,
    /// The `country` value, for [`RuleFindingKind::UnmappedCountry`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Some of the users: for `no-license` the newest first (by `createdDateTime`),
    /// else by name; at most [`RULE_FINDING_USERS`].
    pub users: Vec<RuleUser>,
    /// What is the matter, in one sentence.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// Most users a [`RuleFinding`] lists.
pub const RULE_FINDING_USERS: usize = 20;

/// One rule's numbers in this plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSummary {
    /// The rule.
    pub name: String,
    /// Governed users it matches.
    pub matched: u64,
    /// Of them, users this plan gives one of its licenses to.
    pub gains: u64,
    /// Of them, users who hold one of its SKUs through a group instead (not assigned
    /// directly).
    pub covered_by_groups: u64,
}

/// What the rules did in this plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesReport {
    /// Users in `rules_scope`.
    pub in_scope: u64,
    /// Of them, users the rules govern (not declared under `users:`).
    pub governed: u64,
    /// Per rule, in config order.
    pub rules: Vec<RuleSummary>,
    /// Findings, by kind then country.
    pub findings: Vec<RuleFinding>,
}

/// One safety threshold the plan exceeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SafetyViolation {
    /// More removals than `safety.max_removals`.
    MaxRemovals {
        /// Removals in the plan.
        removals: u64,
        /// The limit.
        limit: u32,
    },
    /// More principals changed than `safety.max_change_percent` allows.
    MaxChangePercent {
        /// Principals the plan changes.
        changed: u64,
        /// Managed principals.
        managed: u64,
        /// `changed / managed × 100`.
        percent: f64,
        /// The limit.
        limit: f64,
    },
    /// A protected principal would lose a license.
    Protected {
        /// Who.
        principal: Principal,
        /// What it would lose.
        skus: Vec<SkuName>,
    },
    /// Rules would take a SKU from more users than `safety.max_removals` allows (users
    /// who match none of the rules that give it).
    RuleRemovals {
        /// The rules that give the SKU.
        rules: Vec<String>,
        /// The product.
        sku: SkuName,
        /// Users who lose it.
        removals: u64,
        /// The limit.
        limit: u32,
    },
    /// A protected user would lose an inherited license because a group they are a
    /// direct member of loses it (and no other source keeps it).
    ProtectedMember {
        /// The protected user.
        principal: Principal,
        /// The group that loses the licenses.
        group: Principal,
        /// What the user would lose.
        skus: Vec<SkuName>,
    },
}

impl SafetyViolation {
    /// True when `--allow-unsafe` overrides this violation (protected principals need a
    /// config change instead).
    pub fn overridable(&self) -> bool {
        !matches!(
            self,
            SafetyViolation::Protected { .. } | SafetyViolation::ProtectedMember { .. }
        )
    }
}

/// The safety check's numbers and verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SafetyReport {
    /// Licenses the plan removes from users: direct removals plus, for each group that
    /// loses a SKU, its direct members.
    pub removals: u64,
    /// `safety.max_removals`.
    pub max_removals: Option<u32>,
    /// Principals the plan changes.
    pub changed_principals: u64,
    /// Principals the config manages (declared with a license list).
    pub managed_principals: u64,
    /// `changed / managed × 100`, rounded to one decimal.
    pub change_percent: f64,
    /// `safety.max_change_percent`.
    pub max_change_percent: Option<f64>,
    /// Thresholds exceeded.
    pub violations: Vec<SafetyViolation>,
    /// True when `--allow-unsafe` was given.
    pub allow_unsafe: bool,
    /// True when the plan must not be applied: a violation that is not overridden.
    pub refused: bool,
}

/// Counts for the summary line and table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Licenses added.
    pub add: u64,
    /// In-place `disabledPlans` updates plus usage locations set.
    pub change: u64,
    /// Licenses removed.
    pub remove: u64,
    /// Usage locations set (included in `change`).
    pub usage_locations: u64,
    /// Principals with a change.
    pub principals_changed: u64,
    /// Users declared in the config with a license list.
    pub managed_users: u64,
    /// Groups declared in the config with a license list.
    pub managed_groups: u64,
    /// Users holding at least one license that the config does not manage.
    pub unmanaged_licensed_users: u64,
    /// Groups assigning at least one license that the config does not manage.
    pub unmanaged_licensed_groups: u64,
    /// Drift findings.
    pub findings: u64,
    /// Notes.
    pub notes: u64,
    /// Error diagnostics.
    pub errors: u64,
    /// Warning diagnostics.
    pub warnings: u64,
    /// Users the rules govern (in `rules_scope`, not declared); left out of the JSON
    /// when the config has no rules.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rule_users: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The result of planning: plain data, sorted, versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// The tenant planned against.
    pub tenant_id: TenantId,
    /// Its primary domain, when the snapshot names it.
    pub tenant_domain: Option<String>,
    /// True when there is at least one change.
    pub has_changes: bool,
    /// Counts.
    pub summary: Summary,
    /// One change per principal: groups first, then users, by name.
    pub changes: Vec<Change>,
    /// Seat arithmetic for every SKU the plan adds or removes, by part number.
    pub seats: Vec<SeatRow>,
    /// Drift beyond assignments, by kind then principal.
    pub findings: Vec<Finding>,
    /// Observations that are neither changes nor drift, by kind then principal.
    pub notes: Vec<Note>,
    /// Safety verdict.
    pub safety: SafetyReport,
    /// Problems (errors make the plan unusable), sorted by location then code.
    pub diagnostics: Vec<Diagnostic>,
    /// What the rules did, when the config has rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesReport>,
    /// License operations: the migration to groups, what freed seats are worth.
    #[serde(default, skip_serializing_if = "Operations::is_empty")]
    pub operations: Operations,
}

/// What a plan's license operations amount to (see `docs/operations.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operations {
    /// The staged move to group licensing, when `migrate_to_groups` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<super::migrate::MigrationReport>,
    /// What the seats the plan frees and needs are worth per month, for every priced SKU
    /// it touches (`prices:`), by part number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seat_values: Vec<super::prices::SeatValue>,
}

impl Operations {
    /// True when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.migration.is_none() && self.seat_values.is_empty()
    }
}

impl Summary {
    /// These counts with the ones a plan's changes, findings, notes and diagnostics give
    /// (`add`, `change`, `remove`, `usage_locations`, `principals_changed`, `findings`,
    /// `notes`, `errors`, `warnings`); the others are kept as they are.
    pub fn counting(mut self, plan: &Plan) -> Summary {
        self.principals_changed = plan.changes.len() as u64;
        self.findings = plan.finding_count();
        self.notes = plan.notes.len() as u64;
        (self.add, self.change, self.remove, self.usage_locations) = (0, 0, 0, 0);
        for change in &plan.changes {
            self.add += change.add.len() as u64;
            self.remove += change.remove.len() as u64;
            self.change += change.update.len() as u64;
            if change.usage_location.is_some() {
                self.usage_locations += 1;
                self.change += 1;
            }
        }
        self.errors = plan.diagnostics.iter().filter(|d| d.is_error()).count() as u64;
        self.warnings = plan.diagnostics.len() as u64 - self.errors;
        self
    }
}

impl Plan {
    /// A plan of `changes` alone, counted: no seats, findings, notes, diagnostics or rules,
    /// and safety numbers that only count the changes (no thresholds).
    pub fn of_changes(
        tenant_id: TenantId,
        tenant_domain: Option<String>,
        changes: Vec<Change>,
    ) -> Plan {
        let mut plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            tenant_id,
            tenant_domain,
            has_changes: !changes.is_empty(),
            summary: Summary::default(),
            changes,
            seats: Vec::new(),
            findings: Vec::new(),
            notes: Vec::new(),
            safety: SafetyReport::default(),
            diagnostics: Vec::new(),
            rules: None,
            operations: Operations::default(),
        };
        plan.summary = Summary::default().counting(&plan);
        plan.safety.removals = plan.summary.remove;
        plan.safety.changed_principals = plan.summary.principals_changed;
        plan
    }

    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Drift findings: the per-principal ones and the rules' findings (what
    /// `summary.findings` counts).
    pub fn finding_count(&self) -> u64 {
        self.findings.len() as u64 + self.rules.as_ref().map_or(0, |r| r.findings.len() as u64)
    }

    /// True when the tenant differs from the config: changes or findings.
    pub fn has_drift(&self) -> bool {
        self.has_changes
            || !self.findings.is_empty()
            || self
                .operations
                .migration
                .as_ref()
                .is_some_and(|m| !m.next_waves.is_empty())
            || self.rules.as_ref().is_some_and(|r| !r.findings.is_empty())
    }
}

/// `text.to_lowercase()`, borrowed when that is `text` itself (ASCII without capitals:
/// most UPNs). Sort keys and the index's UPN table both use it.
pub(crate) fn lowercase(text: &str) -> Cow<'_, str> {
    if !text.is_ascii() {
        Cow::Owned(text.to_lowercase())
    } else if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// The order that sorts `keys` (stably): `order[i]` is the position of the item that goes
/// `i`th. With [`apply_order`], a sort whose keys borrow from the items, computed once
/// each — `sort_by_cached_key` needs owned keys, so two allocated strings an item.
pub(crate) fn sorted_order<K: Ord>(keys: Vec<K>) -> Vec<usize> {
    let mut keyed: Vec<(K, usize)> = keys.into_iter().zip(0..).collect();
    // Positions are unique, so any sort of (key, position) is a stable one.
    keyed.sort();
    keyed.into_iter().map(|(_, at)| at).collect()
}

/// Puts `items` in `order` (a permutation of their positions, from [`sorted_order`]) in
/// place: at most one swap an item, each putting one item where it goes (the walk
/// `slice::sort_by_cached_key` uses).
pub(crate) fn apply_order<T>(items: &mut [T], mut order: Vec<usize>) {
    debug_assert_eq!(items.len(), order.len());
    for i in 0..items.len().min(order.len()) {
        // Where the item that goes at `i` is now: it moved when an earlier swap took it.
        let mut at = order[i];
        while at < i {
            at = order[at];
        }
        // Not needed for the result, only for speed: a later walk that passes `i` jumps
        // straight to where this item was found.
        order[i] = at;
        items.swap(i, at);
    }
}
