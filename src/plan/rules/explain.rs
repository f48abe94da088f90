//! `licensectl explain`: why one user holds (or will hold) what it does — whether the
//! config declares it or the rules govern it, which rules match and which conditions of
//! the others fail (with the user's values), which groups give it what, and what it holds
//! before and after the plan.
//!
//! Pure: it reads the desired state, the tenant and the plan already computed for them,
//! and returns an [`Explanation`] (plain data, serializable); `render::explain` words it.

use serde::Serialize;

use crate::config::{AttributeKind, Condition, ConditionValue, DesiredState};
use crate::diagnostic::Location;
use crate::snapshot::{AssignmentStateKind, TenantSnapshot};

use super::super::effect::{Effect, live_holdings};
use super::super::model::{Change, Plan, Principal, SkuName};
use super::super::planner::{group_principal, user_principal};
use super::super::resolve::{TenantIndex, suggest};
use super::matcher::{Check, Facts};
use super::{Rules, compile};

/// Everything `explain` says about one user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The user.
    pub user: Principal,
    /// Where the config declares the user under `users:`, if it does.
    pub declared_at: Option<Location>,
    /// True when that declaration has a license list (`profile` or `licenses`).
    pub declared_with_licenses: bool,
    /// True when the config has rules.
    pub has_rules: bool,
    /// True when the user is in `rules_scope`.
    pub in_scope: bool,
    /// Each condition of `rules_scope` (then its `exclude`), as it holds for the user.
    pub scope: Vec<ConditionResult>,
    /// True when the rules govern the user (in scope, not declared).
    pub governed: bool,
    /// Every rule, in config order, as it holds for the user.
    pub rules: Vec<RuleResult>,
    /// The licenses groups give the user (from its license assignment states).
    pub groups: Vec<GroupGrant>,
    /// What the user holds today.
    pub holds: Vec<Held>,
    /// What the user holds once the plan is applied.
    pub after: Vec<Held>,
    /// The plan's change of the user, if any.
    pub change: Option<Change>,
    /// In one sentence, who governs the user's licenses.
    pub verdict: String,
}

/// One condition and whether it holds for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionResult {
    /// The attribute key, e.g. `department`.
    pub attribute: String,
    /// The condition in words, e.g. `is Sales or Marketing`.
    pub condition: String,
    /// The user's value in words, e.g. `'Engineering'` or `not set`.
    pub value: String,
    /// True when it holds.
    pub holds: bool,
}

/// One rule as it holds for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleResult {
    /// The rule.
    pub name: String,
    /// True when every `match` condition holds and no `exclude` condition does.
    pub matches: bool,
    /// Its `match` conditions.
    pub conditions: Vec<ConditionResult>,
    /// Its `exclude` conditions.
    pub exclude: Vec<ConditionResult>,
    /// The SKUs it gives.
    pub gives: Vec<SkuName>,
    /// Its SKUs the user inherits from a group and does not hold directly: not assigned
    /// directly (`SPE_E3 through group SG-E3`).
    pub covered: Vec<String>,
}

/// The licenses one group gives the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupGrant {
    /// The group.
    pub group: Principal,
    /// Each SKU with its assignment state (`Active`, `Error`, …).
    pub licenses: Vec<(SkuName, String)>,
}

/// One license the user holds, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    /// The product.
    pub sku: SkuName,
    /// `direct` or the granting group's name.
    pub source: String,
    /// Why it is held directly after the plan: `rule a`, `declared`, `unmanaged`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
}

/// Why there is nothing to explain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// No user has that userPrincipalName.
    #[error("user {upn} does not exist in the tenant{}", .suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownUser {
        /// The UPN asked for.
        upn: String,
        /// The closest UPN, if any is close.
        suggestion: Option<String>,
    },
}

/// Explains the user `upn` of `live`, for `desired` and the `plan` computed from them
/// at `now` (the day counts of `inactive_days` and `disabled_days`).
pub fn explain(
    desired: &DesiredState,
    live: &TenantSnapshot,
    plan: &Plan,
    upn: &str,
    now: Option<time::OffsetDateTime>,
) -> Result<Explanation, ExplainError> {
    let index = TenantIndex::new(live);
    let wanted = upn.to_lowercase();
    let Some(position) = live
        .users
        .iter()
        .position(|u| u.user_principal_name.to_lowercase() == wanted)
    else {
        return Err(ExplainError::UnknownUser {
            upn: upn.to_owned(),
            suggestion: suggest(
                upn,
                live.users.iter().map(|u| u.user_principal_name.as_str()),
            )
            .map(str::to_owned),
        });
    };
    let user = &live.users[position];
    let declared = desired
        .users
        .iter()
        .find(|d| d.upn.to_lowercase() == user.user_principal_name.to_lowercase());
    let (rules, _) = compile(desired, &index, now);
    let facts_groups;
    let (scope, in_scope, results) = match &rules {
        Some(rules) => {
            let facts = rules.facts(live, position as u32);
            facts_groups = group_names(live, &facts);
            let describe = |c: &Check| condition_result(c, &facts, &facts_groups);
            let scope: Vec<ConditionResult> = rules
                .scope
                .all
                .iter()
                .map(describe)
                .chain(rules.scope.none.iter().map(|c| {
                    let mut r = describe(c);
                    r.attribute = format!("exclude {}", r.attribute);
                    r
                }))
                .collect();
            let in_scope = rules.scope.matches(&facts);
            (
                scope,
                in_scope,
                rule_results(rules, &index, &facts, &facts_groups),
            )
        }
        None => (Vec::new(), false, Vec::new()),
    };
    let governed = rules.is_some() && in_scope && declared.is_none();
    let mut results = results;
    if governed {
        for result in results.iter_mut().filter(|r| r.matches) {
            for sku in &result.gives {
                let direct = user.direct_states().any(|s| s.sku_id == sku.id)
                    || (user.license_assignment_states.is_empty()
                        && user.assigned_licenses.iter().any(|l| l.sku_id == sku.id));
                let through: Vec<String> = user
                    .inherited_states()
                    .filter(|s| s.sku_id == sku.id && s.state != AssignmentStateKind::Error)
                    .filter_map(|s| s.assigned_by_group)
                    .map(|g| group_principal(&index, g).name().to_owned())
                    .collect();
                if !direct && !through.is_empty() {
                    result.covered.push(format!(
                        "{} through group {}",
                        sku.part_number,
                        through.join(", ")
                    ));
                }
            }
        }
    }
    let change = plan
        .changes
        .iter()
        .find(|c| matches!(&c.principal, Principal::User { id, .. } if *id == user.id))
        .cloned();

    let mut groups: Vec<GroupGrant> = Vec::new();
    for state in user.inherited_states() {
        let Some(id) = state.assigned_by_group else {
            continue;
        };
        let group = group_principal(&index, id);
        let entry = (index.sku_name(state.sku_id), state.state.to_string());
        match groups.iter_mut().find(|g| g.group == group) {
            Some(g) => g.licenses.push(entry),
            None => groups.push(GroupGrant {
                group,
                licenses: vec![entry],
            }),
        }
    }
    groups.sort_by(|a, b| a.group.sort_key().cmp(&b.group.sort_key()));

    let held = |holdings: Vec<super::super::effect::Holding>, after: bool| -> Vec<Held> {
        let mut out: Vec<Held> = holdings
            .into_iter()
            .map(|h| {
                let sku = index.sku_name(h.sku);
                let because = (after && h.group.is_none()).then(|| {
                    let by_rules = change
                        .as_ref()
                        .and_then(|c| c.rules.as_ref())
                        .and_then(|r| r.licenses.iter().find(|l| l.sku == sku))
                        .map(|l| l.rules.clone())
                        .or_else(|| {
                            governed.then(|| {
                                results
                                    .iter()
                                    .filter(|r| r.matches && r.gives.contains(&sku))
                                    .map(|r| r.name.clone())
                                    .collect::<Vec<_>>()
                            })
                        })
                        .filter(|r| !r.is_empty());
                    match by_rules {
                        Some(rules) if rules.len() == 1 => format!("rule {}", rules[0]),
                        Some(rules) => format!("rules {}", rules.join(", ")),
                        None if declared.is_some_and(|d| d.licenses.is_some()) => {
                            "declared".to_owned()
                        }
                        None => "unmanaged".to_owned(),
                    }
                });
                Held {
                    source: match h.group {
                        None => "direct".to_owned(),
                        Some(g) => format!("group {}", group_principal(&index, g).name()),
                    },
                    sku,
                    because,
                }
            })
            .collect();
        out.sort_by(|a, b| a.sku.cmp(&b.sku).then(a.source.cmp(&b.source)));
        out
    };
    let effect = Effect::new(&plan.changes, &index);
    let holds = held(live_holdings(user), false);
    let after = held(effect.after(user), true);

    let verdict = match (declared, rules.is_some(), in_scope) {
        (Some(d), _, _) if d.licenses.is_some() => format!(
            "declared under users: at {}: that entry alone governs its direct licenses; rules never touch it",
            d.location
        ),
        (Some(d), _, _) => format!(
            "declared under users: at {} without licenses or profile: its licenses are unmanaged, and rules never touch it",
            d.location
        ),
        (None, false, _) => {
            "not declared and the config has no rules: its licenses are unmanaged".to_owned()
        }
        (None, true, false) => {
            "outside rules_scope: rules never touch it, and its licenses are unmanaged".to_owned()
        }
        (None, true, true) => {
            let matching: Vec<&str> = results
                .iter()
                .filter(|r| r.matches)
                .map(|r| r.name.as_str())
                .collect();
            if matching.is_empty() {
                "governed by the rules, and matches none: it holds no rule-governed SKU directly"
                    .to_owned()
            } else {
                let (which, verb) = if matching.len() == 1 {
                    ("rule", "gives")
                } else {
                    ("rules", "give")
                };
                format!(
                    "governed by the rules: its direct licenses of rule-governed SKUs are what {which} {} {verb}",
                    matching.join(", ")
                )
            }
        }
    };
    Ok(Explanation {
        user: user_principal(user),
        declared_at: declared.map(|d| d.location.clone()),
        declared_with_licenses: declared.is_some_and(|d| d.licenses.is_some()),
        has_rules: rules.is_some(),
        in_scope,
        scope,
        governed,
        rules: results,
        groups,
        holds,
        after,
        change,
        verdict,
    })
}

fn rule_results(
    rules: &Rules,
    index: &TenantIndex<'_>,
    facts: &Facts<'_>,
    groups: &str,
) -> Vec<RuleResult> {
    rules
        .rules
        .iter()
        .map(|rule| {
            let mut gives: Vec<SkuName> = rule
                .licenses
                .iter()
                .map(|l| index.sku_name(l.sku))
                .collect();
            gives.sort();
            RuleResult {
                name: rule.name.clone(),
                matches: rule.matcher.matches(facts),
                conditions: rule
                    .matcher
                    .all
                    .iter()
                    .map(|c| condition_result(c, facts, groups))
                    .collect(),
                exclude: rule
                    .matcher
                    .none
                    .iter()
                    .map(|c| condition_result(c, facts, groups))
                    .collect(),
                gives,
                covered: Vec::new(),
            }
        })
        .collect()
}

/// The names of the user's groups, for `member_of` values.
fn group_names(live: &TenantSnapshot, facts: &Facts<'_>) -> String {
    let mut names: Vec<&str> = facts
        .groups
        .iter()
        .filter_map(|&g| live.groups.get(g as usize))
        .map(|g| g.display_name.as_str())
        .collect();
    names.sort_unstable();
    if names.is_empty() {
        return "member of no group".to_owned();
    }
    format!("member of {}", names.join(", "))
}

fn condition_result(check: &Check, facts: &Facts<'_>, groups: &str) -> ConditionResult {
    let value = match check.attribute.kind() {
        AttributeKind::Text => match facts.text(check.attribute) {
            Some(v) => format!("'{v}'"),
            None => "not set".to_owned(),
        },
        AttributeKind::Bool => match facts.boolean(check.attribute) {
            Some(b) => b.to_string(),
            None => "not set".to_owned(),
        },
        AttributeKind::Groups => groups.to_owned(),
        AttributeKind::Days => match facts.days(check.attribute) {
            Some(days) => format!("{days} days"),
            None => "not known".to_owned(),
        },
    };
    ConditionResult {
        attribute: check.attribute.key(),
        condition: words(&check.source.condition),
        value,
        holds: check.holds(facts),
    }
}

/// A condition in words: `is Sales or Marketing`, `starts with Sales and is not Sales
/// Ops`, `is set`.
fn words(condition: &Condition) -> String {
    fn value(v: &ConditionValue) -> String {
        v.to_string()
    }
    match condition {
        Condition::Is(v) => format!("is {}", value(v)),
        Condition::AnyOf(items) => {
            let values: Option<Vec<String>> = items
                .iter()
                .map(|i| match i {
                    Condition::Is(v) => Some(value(v)),
                    _ => None,
                })
                .collect();
            match values {
                Some(values) => format!("is {}", values.join(" or ")),
                None => items.iter().map(words).collect::<Vec<_>>().join(" or "),
            }
        }
        Condition::AllOf(items) => items.iter().map(words).collect::<Vec<_>>().join(" and "),
        Condition::StartsWith(t) => format!("starts with {t}"),
        Condition::EndsWith(t) => format!("ends with {t}"),
        Condition::Exists(true) => "is set".to_owned(),
        Condition::Exists(false) => "is not set".to_owned(),
        Condition::Not(inner) => match inner.as_ref() {
            Condition::Is(v) => format!("is not {}", value(v)),
            Condition::Exists(b) => words(&Condition::Exists(!b)),
            other => format!("not ({})", words(other)),
        },
    }
}
