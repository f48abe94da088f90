//! Attribute rules: which users in `rules_scope` match which rule, and what the matching
//! rules give them together.
//!
//! [`compile`] resolves the rules against the tenant (SKUs and service plans as for
//! declared principals, `member_of` names to groups) and compiles their conditions
//! ([`matcher`]); [`Rules::evaluate`] finds every governed user's rules without testing
//! every rule on every user: a rule is tested only on the candidates an index over an
//! attribute it compares for equality yields (built once per attribute that at least
//! three rules compare: below that, testing a rule on every governed user costs less than
//! building the index), or on the members of the groups it names; only the other rules
//! test every governed user (a compiled test of a few tens of nanoseconds each). [`Evaluation::given`]
//! merges the licenses of a set of rules once per distinct set, as Graph merges license
//! sources: a service plan is on if any matching rule turns it on.
//!
//! `inactive_days` and `disabled_days` count days up to the plan's "now"
//! ([`PlanOptions::now`](super::PlanOptions), data): [`compile`] computes every user's
//! counts once (see `super::activity` for what they are read from). When the tenant
//! state cannot give a count at all — no "now", sign-in activity not read (it needs
//! AuditLog.Read.All and Microsoft Entra ID P1/P2), the audit log not read — every
//! rule (or the scope) comparing it matches nobody, with an `activity-unavailable`
//! warning, and the SKUs such a rule gives are left as they are: nothing is guessed,
//! and no license is taken for want of data.
//!
//! Pure: data in, data out. It decides who matches and what the rules give; the planner
//! turns that into changes, and must not decide matches itself.

pub(crate) mod explain;
pub(crate) mod matcher;
pub(crate) mod report;

use std::collections::BTreeSet;

use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

use crate::config::{
    AttributeCondition, Condition, ConditionValue, DesiredState, RuleUsageLocation,
};
use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};
use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::snapshot::TenantSnapshot;

use super::resolve::{
    DeclaredUsers, LicenseCache, ResolvedLicense, TenantIndex, resolve_licenses, suggest,
};
use matcher::{Check, Facts, Key, Matcher};

/// One rule, resolved and compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    /// Its name.
    pub(crate) name: String,
    /// Where its name is written.
    pub(crate) location: Location,
    /// Its `match` and `exclude`.
    pub(crate) matcher: Matcher,
    /// What it gives.
    pub(crate) licenses: Vec<ResolvedLicense>,
    /// The usage location it sets on users who have none.
    pub(crate) usage_location: Option<RuleUsageLocation>,
}

/// Every rule of the config, compiled, with the scope they govern.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// The rules, in config order.
    pub(crate) rules: Vec<CompiledRule>,
    /// `rules_scope`.
    pub(crate) scope: Matcher,
    /// True for the default scope (enabled members).
    pub(crate) default_scope: bool,
    /// The SKUs some rule gives: the rule-governed SKUs.
    pub(crate) governed_skus: HashSet<SkuId>,
    /// Direct group memberships by user position, when a condition uses `member_of`.
    memberships: Option<Memberships>,
    /// Per user position: days since the last sign-in and since disabled, when a
    /// condition compares them.
    days: Option<Vec<(Option<i64>, Option<i64>)>>,
    /// Users in `rules_scope` … counted by the planner; here: users who never signed in
    /// (by position), when a condition compares `inactive_days`.
    pub(crate) never_signed_in: Vec<u32>,
}

/// True when `conditions` compare `attribute`.
fn uses(conditions: &[AttributeCondition], attribute: crate::config::Attribute) -> bool {
    conditions.iter().any(|c| c.attribute == attribute)
}

/// The positions of the groups each user is a direct member of (CSR by user position).
#[derive(Debug, Clone, Default)]
struct Memberships {
    offsets: Vec<u32>,
    groups: Vec<u32>,
    /// Members of each group, as user positions, sorted.
    members: Vec<Vec<u32>>,
}

impl Memberships {
    fn new(index: &TenantIndex<'_>) -> Self {
        let snapshot = index.snapshot;
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut members = Vec::with_capacity(snapshot.groups.len());
        for (g, group) in snapshot.groups.iter().enumerate() {
            let mut list: Vec<u32> = group
                .members
                .iter()
                .filter_map(|m| {
                    let position = index.users.position(m)?;
                    u32::try_from(position).ok()
                })
                .collect();
            list.sort_unstable();
            list.dedup();
            pairs.extend(list.iter().map(|&u| (u, g as u32)));
            members.push(list);
        }
        pairs.sort_unstable();
        let mut offsets = vec![0u32; snapshot.users.len() + 1];
        for &(u, _) in &pairs {
            offsets[u as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        Memberships {
            offsets,
            groups: pairs.into_iter().map(|(_, g)| g).collect(),
            members,
        }
    }

    fn of(&self, user: u32) -> &[u32] {
        let (from, to) = (
            self.offsets[user as usize] as usize,
            self.offsets[user as usize + 1] as usize,
        );
        &self.groups[from..to]
    }
}

/// Compiles the config's rules against the tenant: `None` when there are none, or when
/// any of them does not resolve (the errors are returned; no rule then changes anything,
/// so that a typo in one rule never takes the other rules' licenses away).
pub(crate) fn compile(
    desired: &DesiredState,
    index: &TenantIndex<'_>,
    now: Option<time::OffsetDateTime>,
) -> (Option<Rules>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    if desired.rules.is_empty() {
        return (None, diagnostics);
    }
    let mut cache = LicenseCache::default();
    let mut resolver = GroupResolver::new(index);
    let mut compile_all = |conditions: &[AttributeCondition], owner: &str, d: &mut Vec<_>| {
        conditions
            .iter()
            .map(|c| {
                matcher::compile(c, &mut |leaf| {
                    resolver.resolve(leaf, owner, c.location.as_ref(), d)
                })
            })
            .collect::<Vec<Check>>()
    };
    let scope = &desired.settings.rules_scope;
    let days = DayFacts::new(index.snapshot, now);
    let mut unavailable: Vec<(String, &'static str, Option<Location>)> = Vec::new();
    let mut undecidable = |owner: &str,
                           matches: &[AttributeCondition],
                           exclude: &[AttributeCondition],
                           at: Option<&Location>| {
        let mut why = None;
        for attribute in [
            crate::config::Attribute::InactiveDays,
            crate::config::Attribute::DisabledDays,
        ] {
            if (uses(matches, attribute) || uses(exclude, attribute))
                && let Some(reason) = days.unavailable(attribute)
            {
                unavailable.push((owner.to_owned(), reason, at.cloned()));
                why = Some(reason);
            }
        }
        why.is_some()
    };
    let scope_location = scope
        .matches
        .iter()
        .chain(&scope.exclude)
        .find_map(|c| c.location.clone());
    let scope_matcher = Matcher {
        all: compile_all(&scope.matches, "rules_scope", &mut diagnostics),
        none: compile_all(&scope.exclude, "rules_scope", &mut diagnostics),
        nobody: undecidable(
            "rules_scope",
            &scope.matches,
            &scope.exclude,
            scope_location.as_ref(),
        ),
    };
    let mut rules = Vec::with_capacity(desired.rules.len());
    let mut governed_skus = HashSet::new();
    let mut withheld: HashSet<SkuId> = HashSet::new();
    for rule in &desired.rules {
        let owner = format!("rule '{}'", rule.name);
        let nobody = undecidable(&owner, &rule.matches, &rule.exclude, Some(&rule.location));
        let matcher = Matcher {
            all: compile_all(&rule.matches, &owner, &mut diagnostics),
            none: compile_all(&rule.exclude, &owner, &mut diagnostics),
            nobody,
        };
        let licenses =
            resolve_licenses(&rule.licenses, index, &mut cache, &mut diagnostics, &owner);
        if nobody {
            withheld.extend(licenses.iter().map(|l| l.sku));
        }
        governed_skus.extend(licenses.iter().map(|l| l.sku));
        rules.push(CompiledRule {
            name: rule.name.clone(),
            location: rule.location.clone(),
            matcher,
            licenses,
            usage_location: rule.usage_location.as_ref().map(|u| u.value.clone()),
        });
    }
    for (owner, reason, location) in unavailable {
        let skus = if owner == "rules_scope" {
            "no user is governed by the rules this time".to_owned()
        } else {
            "it matches nobody and the SKUs it gives are left as they are this time".to_owned()
        };
        let diagnostic = Diagnostic::new(
            DiagnosticCode::ActivityUnavailable,
            format!("{owner} compares {reason}: {skus}"),
        );
        let diagnostic = match location {
            Some(location) => diagnostic.at(location),
            None => diagnostic,
        };
        diagnostics.push(
            diagnostic
            .help("read the tenant with AuditLog.Read.All (sign-in activity also needs Microsoft Entra ID P1 or P2; the audit log also Directory.Read.All), or snapshot it with --activity; see docs/operations.md#reclaim"),
        );
    }
    governed_skus.retain(|s| !withheld.contains(s));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return (None, diagnostics);
    }
    let uses_days = |attribute| {
        uses(&scope.matches, attribute)
            || uses(&scope.exclude, attribute)
            || desired
                .rules
                .iter()
                .any(|r| uses(&r.matches, attribute) || uses(&r.exclude, attribute))
    };
    let inactive = uses_days(crate::config::Attribute::InactiveDays);
    let disabled = uses_days(crate::config::Attribute::DisabledDays);
    let never_signed_in = if inactive {
        days.never_signed_in(index.snapshot)
    } else {
        Vec::new()
    };
    let uses_groups = scope_matcher.uses_groups() || rules.iter().any(|r| r.matcher.uses_groups());
    let compiled = Rules {
        rules,
        scope: scope_matcher,
        default_scope: scope.is_default(),
        governed_skus,
        memberships: uses_groups.then(|| Memberships::new(index)),
        days: (inactive || disabled).then(|| days.per_user(index.snapshot, inactive, disabled)),
        never_signed_in,
    };
    (Some(compiled), diagnostics)
}

/// Resolves `member_of` leaves to group positions.
struct GroupResolver<'i, 'a> {
    index: &'i TenantIndex<'a>,
    positions: HashMap<GroupId, u32>,
    suggestions: usize,
}

impl<'i, 'a> GroupResolver<'i, 'a> {
    fn new(index: &'i TenantIndex<'a>) -> Self {
        GroupResolver {
            index,
            positions: index
                .snapshot
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.id, i as u32))
                .collect(),
            suggestions: 20,
        }
    }

    /// The positions of the groups a `member_of` leaf holds for; an exact name or id that
    /// names no group is an error (a typo would otherwise match nobody, and take the
    /// rule's licenses away from everyone).
    fn resolve(
        &mut self,
        leaf: &Condition,
        owner: &str,
        location: Option<&Location>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Vec<u32> {
        let groups = &self.index.snapshot.groups;
        let mut out: Vec<u32> = match leaf {
            Condition::Is(ConditionValue::Text(name)) => {
                let by_id = crate::ids::parse_guid(name)
                    .ok()
                    .and_then(|id| self.positions.get(&GroupId::new(id)).copied());
                let found: Vec<u32> = match by_id {
                    Some(p) => vec![p],
                    None => self
                        .index
                        .groups_named(name)
                        .iter()
                        .filter_map(|g| self.positions.get(&g.id).copied())
                        .collect(),
                };
                if found.is_empty() {
                    let help = if self.suggestions > 0 {
                        self.suggestions -= 1;
                        suggest(name, groups.iter().map(|g| g.display_name.as_str()))
                            .map(|best| format!("did you mean {best}?"))
                    } else {
                        None
                    }
                    .unwrap_or_else(|| {
                        "member_of names groups by displayName, mailNickname or object id"
                            .to_owned()
                    });
                    let mut d = Diagnostic::new(
                        DiagnosticCode::UnknownGroup,
                        format!("{owner}: member_of names group {name}, which does not exist in the tenant"),
                    )
                    .help(help);
                    if let Some(location) = location {
                        d = d.at(location.clone());
                    }
                    diagnostics.push(d);
                }
                found
            }
            Condition::StartsWith(prefix) => {
                let prefix = prefix.to_lowercase();
                (0..groups.len() as u32)
                    .filter(|&g| {
                        groups[g as usize]
                            .display_name
                            .to_lowercase()
                            .starts_with(&prefix)
                    })
                    .collect()
            }
            Condition::EndsWith(suffix) => {
                let suffix = suffix.to_lowercase();
                (0..groups.len() as u32)
                    .filter(|&g| {
                        groups[g as usize]
                            .display_name
                            .to_lowercase()
                            .ends_with(&suffix)
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Who the rules govern and which rules each of them matches.
#[derive(Debug, Clone, Default)]
pub(crate) struct Evaluation {
    /// Positions (in the snapshot's user list) of the users in `rules_scope`, sorted.
    pub(crate) in_scope: Vec<u32>,
    /// Of them, the users the rules govern (not declared under `users:`), sorted.
    pub(crate) governed: Vec<u32>,
    /// For each governed user (by index into `governed`), the rules it matches:
    /// `matched[offsets[i]..offsets[i + 1]]`, in config order.
    offsets: Vec<u32>,
    matched: Vec<u32>,
    /// How many governed users each rule matches.
    pub(crate) counts: Vec<u64>,
    /// For each governed user, the index of its set of rules in `sets`.
    set_of: Vec<u32>,
    /// Every distinct set of matching rules, with what it gives (merged once per set).
    sets: Vec<Arc<Given>>,
    /// The attributes an index was built for, sorted (tests check the index is used).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) indexed: Vec<crate::config::Attribute>,
}

/// What a set of rules gives together.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Given {
    /// One license per SKU: `disabledPlans` the intersection of the rules' (a plan is on
    /// if any rule turns it on), an allowlist if any rule's is; sorted by SKU.
    pub(crate) licenses: Vec<ResolvedLicense>,
    /// For each license, the rules that give it (config order).
    pub(crate) givers: Vec<Vec<u32>>,
}

impl Rules {
    fn groups_of(&self, user: u32) -> &[u32] {
        self.memberships.as_ref().map_or(&[], |m| m.of(user))
    }

    /// The facts of the user at `position`.
    pub(crate) fn facts<'s>(&'s self, snapshot: &'s TenantSnapshot, position: u32) -> Facts<'s> {
        let (inactive_days, disabled_days) = self
            .days
            .as_ref()
            .and_then(|d| d.get(position as usize).copied())
            .unwrap_or((None, None));
        Facts {
            user: &snapshot.users[position as usize],
            groups: self.groups_of(position),
            inactive_days,
            disabled_days,
        }
    }

    /// True when the user at `position` is in `rules_scope`.
    #[cfg(test)]
    pub(crate) fn in_scope(&self, snapshot: &TenantSnapshot, position: u32) -> bool {
        self.scope.matches(&self.facts(snapshot, position))
    }

    /// Finds the users in scope, the governed ones among them (not in `declared`), and
    /// the rules each governed user matches.
    ///
    /// Rules with a condition an index can answer are tested on the index's candidates;
    /// every other rule is tested in one pass over the users, together with the scope,
    /// so that each user's attributes are read from memory once however many rules scan.
    pub(crate) fn evaluate(
        &self,
        snapshot: &TenantSnapshot,
        declared: &DeclaredUsers,
    ) -> Evaluation {
        let n = snapshot.users.len();
        let indexed = self.indexed_attributes();
        let (by_index, by_scan): (Vec<u32>, Vec<u32>) =
            (0..self.rules.len() as u32).partition(|&r| {
                self.rules[r as usize].matcher.all.iter().any(|c| {
                    matches!(c.key(), Some(Key::Groups(_)))
                        || (c.key().is_some() && indexed.contains(&c.attribute))
                })
            });
        let mut in_scope = Vec::new();
        let mut governed = Vec::new();
        // Position → index into `governed`, or u32::MAX.
        let mut slot = vec![u32::MAX; n];
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut counts = vec![0u64; self.rules.len()];
        for position in 0..n as u32 {
            let facts = self.facts(snapshot, position);
            if !self.scope.matches(&facts) {
                continue;
            }
            in_scope.push(position);
            if declared.contains(position as usize) {
                continue;
            }
            let g = governed.len() as u32;
            slot[position as usize] = g;
            governed.push(position);
            for &r in &by_scan {
                if self.rules[r as usize].matcher.matches(&facts) {
                    pairs.push((g, r));
                    counts[r as usize] += 1;
                }
            }
        }
        let mut index = UserIndex {
            indexed,
            ..UserIndex::default()
        };
        for r in by_index {
            let rule = &self.rules[r as usize];
            let candidates = self
                .candidates(rule, snapshot, &governed, &slot, &mut index)
                .unwrap_or_else(|| governed.clone());
            for position in candidates {
                if rule.matcher.matches(&self.facts(snapshot, position)) {
                    pairs.push((slot[position as usize], r));
                    counts[r as usize] += 1;
                }
            }
        }
        pairs.sort_unstable();
        let mut offsets = vec![0u32; governed.len() + 1];
        for &(g, _) in &pairs {
            offsets[g as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let matched: Vec<u32> = pairs.into_iter().map(|(_, r)| r).collect();
        let mut indexed: Vec<crate::config::Attribute> = index
            .text
            .keys()
            .chain(index.boolean.keys())
            .copied()
            .collect();
        indexed.sort();
        // One merge per distinct set of matching rules (few, however many users).
        let mut index_of: HashMap<&[u32], u32> = HashMap::new();
        let mut sets: Vec<Arc<Given>> = Vec::new();
        let mut set_of = Vec::with_capacity(governed.len());
        for i in 0..governed.len() {
            let set = &matched[offsets[i] as usize..offsets[i + 1] as usize];
            let id = *index_of.entry(set).or_insert_with(|| {
                sets.push(Arc::new(merge(self, set)));
                (sets.len() - 1) as u32
            });
            set_of.push(id);
        }
        // The index borrows `matched` (and its map runs a destructor): done with it here.
        drop(index_of);
        Evaluation {
            in_scope,
            governed,
            offsets,
            matched,
            counts,
            set_of,
            sets,
            indexed,
        }
    }

    /// The attributes worth an index: compared for equality by at least
    /// [`INDEX_MIN_RULES`] rules (an index costs about one pass over the users to build).
    fn indexed_attributes(&self) -> HashSet<crate::config::Attribute> {
        let mut keyed: HashMap<crate::config::Attribute, usize> = HashMap::new();
        for rule in &self.rules {
            let mut attributes: Vec<crate::config::Attribute> = rule
                .matcher
                .all
                .iter()
                .filter(|c| matches!(c.key(), Some(Key::Text(_) | Key::Bool(_))))
                .map(|c| c.attribute)
                .collect();
            attributes.sort();
            attributes.dedup();
            for attribute in attributes {
                *keyed.entry(attribute).or_default() += 1;
            }
        }
        keyed
            .into_iter()
            .filter(|(_, rules)| *rules >= INDEX_MIN_RULES)
            .map(|(attribute, _)| attribute)
            .collect()
    }

    /// The governed users a rule may match (sorted positions), from the most selective
    /// of its equality conditions, or `None` to test every governed user: when it has no
    /// such condition, or when even the most selective one admits half of them (a scan
    /// is then cheaper than collecting and sorting the candidates).
    fn candidates<'s>(
        &'s self,
        rule: &'s CompiledRule,
        snapshot: &'s TenantSnapshot,
        governed: &[u32],
        slot: &[u32],
        index: &mut UserIndex<'s>,
    ) -> Option<Vec<u32>> {
        let keys: Vec<(&Check, Key<'_>)> = rule
            .matcher
            .all
            .iter()
            .filter_map(|c| c.key().map(|k| (c, k)))
            .filter(|(c, k)| matches!(k, Key::Groups(_)) || index.indexed.contains(&c.attribute))
            .collect();
        for (check, key) in &keys {
            match key {
                Key::Text(_) => index.build_text(check.attribute, self, snapshot, governed),
                Key::Bool(_) => index.build_boolean(check.attribute, self, snapshot, governed),
                Key::Groups(_) => {}
            }
        }
        // The buckets of each keyed condition, and how many users they hold.
        let mut best: Option<(usize, Vec<&[u32]>)> = None;
        for (check, key) in keys {
            let buckets: Vec<&[u32]> = match key {
                Key::Text(values) => match index.text.get(&check.attribute) {
                    Some(by_value) => values.iter().flat_map(|v| by_value.lookup(v)).collect(),
                    None => Vec::new(),
                },
                Key::Bool(b) => match index.boolean.get(&check.attribute) {
                    Some(by_value) => vec![by_value[usize::from(b)].as_slice()],
                    None => Vec::new(),
                },
                Key::Groups(groups) => match &self.memberships {
                    Some(m) => groups
                        .iter()
                        .map(|&g| m.members[g as usize].as_slice())
                        .collect(),
                    None => Vec::new(),
                },
            };
            let size: usize = buckets.iter().map(|b| b.len()).sum();
            if best.as_ref().is_none_or(|(n, _)| size < *n) {
                best = Some((size, buckets));
            }
        }
        let (size, buckets) = best?;
        if size * 2 > governed.len() {
            return None;
        }
        let mut found: Vec<u32> = buckets.concat();
        // Group members may be anyone; the other buckets hold governed users only.
        found.retain(|&p| slot[p as usize] != u32::MAX);
        if buckets.len() > 1 {
            found.sort_unstable();
            found.dedup();
        }
        Some(found)
    }
}

/// Governed users by the values of one text attribute: a bucket per distinct value as
/// written (one hash of the value per user, no lowercase copies), and the values by their
/// lowercase form, so that a condition finds every spelling ignoring case.
#[derive(Default)]
struct TextIndex<'s> {
    buckets: HashMap<&'s str, Vec<u32>>,
    by_lower: HashMap<String, Vec<&'s str>>,
}

impl<'s> TextIndex<'s> {
    fn new(values: impl Iterator<Item = (u32, &'s str)>) -> Self {
        let mut buckets: HashMap<&'s str, Vec<u32>> = HashMap::new();
        for (position, value) in values {
            buckets.entry(value).or_default().push(position);
        }
        let mut by_lower: HashMap<String, Vec<&'s str>> = HashMap::with_capacity(buckets.len());
        for value in buckets.keys() {
            by_lower
                .entry(value.to_lowercase())
                .or_default()
                .push(value);
        }
        TextIndex { buckets, by_lower }
    }

    /// The buckets of every value equal to `lower` (lowercase) ignoring case.
    fn lookup(&self, lower: &str) -> Vec<&[u32]> {
        self.by_lower
            .get(lower)
            .into_iter()
            .flatten()
            .filter_map(|v| self.buckets.get(v).map(Vec::as_slice))
            .collect()
    }
}

/// How many rules must compare an attribute for equality before it is indexed.
const INDEX_MIN_RULES: usize = 3;

/// Governed users by the value of one attribute, built when a rule first needs it.
#[derive(Default)]
struct UserIndex<'s> {
    /// The attributes worth an index ([`INDEX_MIN_RULES`]).
    indexed: HashSet<crate::config::Attribute>,
    text: HashMap<crate::config::Attribute, TextIndex<'s>>,
    /// `[false, true]` buckets.
    boolean: HashMap<crate::config::Attribute, [Vec<u32>; 2]>,
}

impl<'s> UserIndex<'s> {
    fn build_text(
        &mut self,
        attribute: crate::config::Attribute,
        rules: &'s Rules,
        snapshot: &'s TenantSnapshot,
        governed: &[u32],
    ) {
        self.text.entry(attribute).or_insert_with(|| {
            TextIndex::new(governed.iter().filter_map(|&p| {
                rules
                    .facts(snapshot, p)
                    .text(attribute)
                    .map(|value| (p, value))
            }))
        });
    }

    fn build_boolean(
        &mut self,
        attribute: crate::config::Attribute,
        rules: &'s Rules,
        snapshot: &'s TenantSnapshot,
        governed: &[u32],
    ) {
        self.boolean.entry(attribute).or_insert_with(|| {
            let mut buckets = [Vec::new(), Vec::new()];
            for &p in governed {
                if let Some(v) = rules.facts(snapshot, p).boolean(attribute) {
                    buckets[usize::from(v)].push(p);
                }
            }
            buckets
        });
    }
}

impl Evaluation {
    /// The rules the `i`-th governed user matches, in config order.
    pub(crate) fn matched(&self, i: usize) -> &[u32] {
        &self.matched[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// What the rules the `i`-th governed user matches give together.
    pub(crate) fn given(&self, i: usize) -> &Given {
        &self.sets[self.set_of[i] as usize]
    }
}

/// Merges the licenses of the rules `set`.
fn merge(rules: &Rules, set: &[u32]) -> Given {
    let mut by_sku: Vec<(SkuId, ResolvedLicense, Vec<u32>)> = Vec::new();
    for &r in set {
        for license in &rules.rules[r as usize].licenses {
            match by_sku.iter_mut().find(|(sku, _, _)| *sku == license.sku) {
                Some((_, merged, givers)) => {
                    let kept: BTreeSet<ServicePlanId> = merged
                        .disabled_plans
                        .iter()
                        .filter(|p| license.disabled_plans.contains(p))
                        .copied()
                        .collect();
                    let kept: Vec<ServicePlanId> = kept.into_iter().collect();
                    merged.disabled_plans = Arc::from(kept);
                    merged.allowlist |= license.allowlist;
                    givers.push(r);
                }
                None => by_sku.push((license.sku, license.clone(), vec![r])),
            }
        }
    }
    by_sku.sort_by_key(|(sku, _, _)| *sku);
    let (licenses, givers) = by_sku.into_iter().map(|(_, l, g)| (l, g)).unzip();
    Given { licenses, givers }
}

/// What a config's rules need read from a live tenant (`licensectl plan` without a
/// snapshot): every user in `rules_scope` with these attributes, and these groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleNeeds {
    /// Graph user properties the rules and the scope use, plus what the rule findings
    /// need (`createdDateTime`, `onPremisesSyncEnabled`; `country` for `from_country`).
    pub attributes: Vec<&'static str>,
    /// A `$filter` that admits every user in `rules_scope`: its `account_enabled` and
    /// `user_type` equalities, which Graph filters exactly (`eq` on `accountEnabled` and
    /// `userType`: https://learn.microsoft.com/en-us/graph/aad-advanced-queries). `None`
    /// when the scope has neither: every user is read.
    pub filter: Option<String>,
    /// Groups `member_of` names exactly (display name or mail nickname), read with their
    /// members.
    pub group_names: Vec<String>,
    /// Groups `member_of` names by object id.
    pub group_ids: Vec<GroupId>,
    /// True when `member_of` matches groups by a pattern (or any group at all): every
    /// group is read with its members.
    pub all_groups: bool,
    /// True when a condition compares `inactive_days`: every user's sign-in activity is
    /// read.
    pub sign_ins: bool,
    /// True when a condition compares `disabled_days`: the directory audit log is read.
    pub audits: bool,
}

/// What a plan of `desired` reads of each user of a snapshot: everything when it has
/// rules (their attributes, `createdDateTime`, sign-ins), else only the license fields —
/// the user properties a live read selects.
pub fn user_fields(desired: &DesiredState) -> crate::snapshot::UserFields {
    if desired.rules.is_empty() {
        crate::snapshot::UserFields::Licensing
    } else {
        crate::snapshot::UserFields::All
    }
}

/// What `desired`'s rules need read, or `None` when it has no rules.
pub fn rule_needs(desired: &DesiredState) -> Option<RuleNeeds> {
    if desired.rules.is_empty() {
        return None;
    }
    let scope = &desired.settings.rules_scope;
    let mut needs = RuleNeeds::default();
    let mut attributes: BTreeSet<&'static str> = ["createdDateTime", "onPremisesSyncEnabled"]
        .into_iter()
        .collect();
    let conditions = scope.matches.iter().chain(&scope.exclude).chain(
        desired
            .rules
            .iter()
            .flat_map(|r| r.matches.iter().chain(&r.exclude)),
    );
    for condition in conditions {
        if let Some(property) = condition.attribute.graph_property() {
            attributes.insert(property);
        }
        if condition.attribute == crate::config::Attribute::MemberOf {
            member_of_groups(&condition.condition, &mut needs);
        }
        needs.sign_ins |= condition.attribute == crate::config::Attribute::InactiveDays;
        needs.audits |= condition.attribute == crate::config::Attribute::DisabledDays;
    }
    if desired.rules.iter().any(|r| {
        matches!(
            r.usage_location.as_ref().map(|u| &u.value),
            Some(RuleUsageLocation::FromCountry)
        )
    }) {
        attributes.insert("country");
    }
    needs.attributes = attributes.into_iter().collect();
    let mut clauses = Vec::new();
    for condition in &scope.matches {
        match (&condition.attribute, &condition.condition) {
            (crate::config::Attribute::AccountEnabled, Condition::Is(ConditionValue::Bool(b))) => {
                clauses.push(format!("accountEnabled eq {b}"));
            }
            (crate::config::Attribute::UserType, Condition::Is(ConditionValue::Text(t))) => {
                // Graph's values are `Member` and `Guest`; rules compare ignoring case.
                let value = match t.to_ascii_lowercase().as_str() {
                    "member" => "Member".to_owned(),
                    "guest" => "Guest".to_owned(),
                    _ => t.clone(),
                };
                clauses.push(format!("userType eq '{}'", value.replace('\'', "''")));
            }
            _ => {}
        }
    }
    needs.filter = (!clauses.is_empty()).then(|| clauses.join(" and "));
    needs.group_names.sort();
    needs.group_names.dedup();
    needs.group_ids.sort();
    needs.group_ids.dedup();
    Some(needs)
}

fn member_of_groups(condition: &Condition, needs: &mut RuleNeeds) {
    match condition {
        Condition::Is(ConditionValue::Text(name)) => match crate::ids::parse_guid(name) {
            Ok(id) => needs.group_ids.push(GroupId::new(id)),
            Err(_) => needs.group_names.push(name.clone()),
        },
        Condition::Is(ConditionValue::Bool(_) | ConditionValue::Days(_)) => {}
        Condition::StartsWith(_) | Condition::EndsWith(_) | Condition::Exists(_) => {
            needs.all_groups = true;
        }
        Condition::Not(inner) => member_of_groups(inner, needs),
        Condition::AnyOf(items) | Condition::AllOf(items) => {
            items.iter().for_each(|i| member_of_groups(i, needs));
        }
    }
}

/// What the rules give one governed user, for apply's last gate (which checks every write
/// against the config, whatever produced it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GovernedUser {
    /// The user.
    pub(crate) id: UserId,
    /// What the rules it matches give, merged.
    pub(crate) licenses: Vec<ResolvedLicense>,
    /// The usage locations the rules may set on it (each matching rule's code, or its
    /// `country` mapped), before `defaults.usage_location`.
    pub(crate) usage_locations: Vec<String>,
}

/// The rule-governed SKUs and every governed user's due, or `None` when the config has no
/// rules or they do not resolve (then no rule may write anything).
pub(crate) fn governed(
    desired: &DesiredState,
    index: &TenantIndex<'_>,
    declared: &DeclaredUsers,
    now: Option<time::OffsetDateTime>,
) -> Option<(HashSet<SkuId>, Vec<GovernedUser>)> {
    let (rules, _) = compile(desired, index, now);
    let rules = rules?;
    let snapshot = index.snapshot;
    let evaluation = rules.evaluate(snapshot, declared);
    let users = evaluation
        .governed
        .iter()
        .enumerate()
        .map(|(i, &position)| {
            let user = &snapshot.users[position as usize];
            let usage_locations = evaluation
                .matched(i)
                .iter()
                .filter_map(|&r| match &rules.rules[r as usize].usage_location {
                    Some(RuleUsageLocation::Code(code)) => Some(code.clone()),
                    Some(RuleUsageLocation::FromCountry) => user
                        .attributes
                        .country
                        .as_deref()
                        .and_then(crate::config::countries::from_country)
                        .map(str::to_owned),
                    None => None,
                })
                .collect();
            GovernedUser {
                id: user.id,
                licenses: evaluation.given(i).licenses.clone(),
                usage_locations,
            }
        })
        .collect();
    Some((rules.governed_skus, users))
}

/// What the tenant state can say about day counts at "now".
struct DayFacts<'s> {
    now: Option<time::OffsetDateTime>,
    /// Some user carries sign-in activity (it was read).
    sign_ins: bool,
    /// The directory audit log was read.
    audits: Option<&'s [crate::snapshot::DirectoryAudit]>,
}

impl<'s> DayFacts<'s> {
    fn new(snapshot: &'s TenantSnapshot, now: Option<time::OffsetDateTime>) -> Self {
        DayFacts {
            now,
            sign_ins: snapshot.users.iter().any(|u| u.sign_in_activity.is_some()),
            audits: snapshot.directory_audits.as_deref(),
        }
    }

    /// Why `attribute` cannot be counted for anyone, if it cannot.
    fn unavailable(&self, attribute: crate::config::Attribute) -> Option<&'static str> {
        use crate::config::Attribute;
        match attribute {
            _ if self.now.is_none() => Some("a day count, but the plan has no date to count to"),
            Attribute::InactiveDays if !self.sign_ins => Some(
                "inactive_days, but the tenant state holds no sign-in activity (not read, or Graph refused it)",
            ),
            Attribute::DisabledDays if self.audits.is_none() => Some(
                "disabled_days, but the tenant state holds no directory audit log (not read, or Graph refused it)",
            ),
            _ => None,
        }
    }

    /// Per user position: (days since the last sign-in, days since disabled).
    fn per_user(
        &self,
        snapshot: &TenantSnapshot,
        inactive: bool,
        disabled: bool,
    ) -> Vec<(Option<i64>, Option<i64>)> {
        use super::activity::{
            DisabledSince, LastSignIn, days_between, disabled_since, last_sign_in,
        };
        let Some(now) = self.now else {
            return vec![(None, None); snapshot.users.len()];
        };
        snapshot
            .users
            .iter()
            .map(|user| {
                let inactive_days = match last_sign_in(user) {
                    LastSignIn::At(at) if inactive => Some(days_between(at, now)),
                    _ => None,
                };
                let disabled_days = match disabled_since(user, self.audits) {
                    DisabledSince::Since(at) if disabled => Some(days_between(at, now)),
                    _ => None,
                };
                (inactive_days, disabled_days)
            })
            .collect()
    }

    /// Positions of the users whose sign-in activity was read and shows no sign-in.
    fn never_signed_in(&self, snapshot: &TenantSnapshot) -> Vec<u32> {
        snapshot
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| super::activity::last_sign_in(u) == super::activity::LastSignIn::Never)
            .map(|(i, _)| i as u32)
            .collect()
    }
}
