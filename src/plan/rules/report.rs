//! What the rules did in a plan, as the plan reports it ([`RulesReport`]): per-rule
//! counts, and the findings about many users at once — users in scope left without any
//! license (newest first), users a rule would license but no usage location is known for,
//! `country` values `from_country` cannot map. The planner records as it goes
//! ([`RuleTally`]); [`RuleTally::finish`] words it. Pure.

use std::collections::BTreeMap;

use crate::snapshot::User;

use super::super::model::{
    RULE_FINDING_USERS, RuleFinding, RuleFindingKind, RuleSummary, RuleUser, RulesReport,
};
use super::super::planner::user_principal;
use super::Rules;

/// Counts and users recorded while planning the governed users.
#[derive(Debug, Default)]
pub(crate) struct RuleTally {
    /// Per rule: (gains, covered by groups).
    per_rule: Vec<(u64, u64)>,
    /// Users left without a usage location.
    no_usage_location: Vec<RuleUser>,
    /// Unmappable `country` values, with the users that carry them.
    unmapped: BTreeMap<String, Vec<RuleUser>>,
    /// Users who hold no license after the plan.
    unlicensed: Vec<RuleUser>,
}

/// A user as a rule finding names it.
pub(crate) fn rule_user(user: &User) -> RuleUser {
    RuleUser {
        principal: user_principal(user),
        created: user.attributes.created_date_time.clone(),
        synced: user.attributes.on_premises_sync_enabled == Some(true),
    }
}

impl RuleTally {
    /// A tally for `rules`.
    pub(crate) fn new(rules: &Rules) -> Self {
        RuleTally {
            per_rule: vec![(0, 0); rules.rules.len()],
            ..RuleTally::default()
        }
    }

    /// The plan gives `user` a license of rule `rule`.
    pub(crate) fn gain(&mut self, rule: u32) {
        if let Some(entry) = self.per_rule.get_mut(rule as usize) {
            entry.0 += 1;
        }
    }

    /// A SKU of rule `rule` is covered by a group for a user.
    pub(crate) fn covered(&mut self, rule: u32) {
        if let Some(entry) = self.per_rule.get_mut(rule as usize) {
            entry.1 += 1;
        }
    }

    /// `user` would gain a license but nothing gives it a usage location.
    pub(crate) fn no_usage_location(&mut self, user: &User) {
        self.no_usage_location.push(rule_user(user));
    }

    /// `from_country` cannot map `user`'s `country`.
    pub(crate) fn unmapped(&mut self, country: &str, user: &User) {
        self.unmapped
            .entry(country.to_owned())
            .or_default()
            .push(rule_user(user));
    }

    /// `user` holds no license after the plan.
    pub(crate) fn unlicensed(&mut self, user: &User) {
        self.unlicensed.push(rule_user(user));
    }

    /// The report, for `rules` evaluated on `in_scope` users of which `governed` are
    /// governed, each rule matching `matched[r]` of them.
    pub(crate) fn finish(
        self,
        rules: &Rules,
        in_scope: u64,
        governed: u64,
        matched: &[u64],
        has_default_usage_location: bool,
    ) -> RulesReport {
        let summaries = rules
            .rules
            .iter()
            .zip(&self.per_rule)
            .zip(matched)
            .map(|((rule, (gains, covered)), matched)| RuleSummary {
                name: rule.name.clone(),
                matched: *matched,
                gains: *gains,
                covered_by_groups: *covered,
            })
            .collect();
        let scope = if rules.default_scope {
            "enabled members"
        } else {
            "users in rules_scope"
        };
        let mut findings = Vec::new();
        if !self.unlicensed.is_empty() {
            let mut users = self.unlicensed;
            // Newest first; users without a creation time last, then by name.
            users.sort_by(|a, b| {
                b.created
                    .is_some()
                    .cmp(&a.created.is_some())
                    .then_with(|| b.created.cmp(&a.created))
                    .then_with(|| a.principal.sort_key().cmp(&b.principal.sort_key()))
            });
            let (count, synced) = counts(&users);
            let newest: Vec<String> = users.iter().take(3).map(shown).collect();
            let more = count.saturating_sub(newest.len() as u64);
            findings.push(RuleFinding {
                kind: RuleFindingKind::NoLicense,
                count,
                synced,
                country: None,
                message: format!(
                    "{count} {scope} will have no license after this plan ({synced} of them synced from AD); newest: {}{}",
                    newest.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
                fix: "license them with a rule whose match they meet (or a group), or leave them out of rules_scope if they need no license".to_owned(),
                users: capped(users),
            });
        }
        if !self.no_usage_location.is_empty() {
            let users = by_name(self.no_usage_location);
            let (count, synced) = counts(&users);
            let fix = if has_default_usage_location {
                "correct the users' country attribute, or give the rule an ISO code as usage_location".to_owned()
            } else {
                "give the rule a usage_location (an ISO code or from_country), or set defaults.usage_location in licensectl.yaml".to_owned()
            };
            findings.push(RuleFinding {
                kind: RuleFindingKind::NoUsageLocation,
                count,
                synced,
                country: None,
                message: format!(
                    "{count} users ({synced} synced from AD) match a rule but have no usage location, and no rule or default gives one, so they are not licensed: {}",
                    listed(&users)
                ),
                fix,
                users: capped(users),
            });
        }
        for (country, users) in self.unmapped {
            let users = by_name(users);
            let (count, synced) = counts(&users);
            findings.push(RuleFinding {
                kind: RuleFindingKind::UnmappedCountry,
                count,
                synced,
                message: format!(
                    "usage_location: from_country cannot map the country '{country}' of {count} users to an ISO code: {}",
                    listed(&users)
                ),
                fix: "correct the country attribute in the directory (or in Active Directory for synced users), or give the rule an ISO code as usage_location".to_owned(),
                country: Some(country),
                users: capped(users),
            });
        }
        RulesReport {
            in_scope,
            governed,
            rules: summaries,
            findings,
        }
    }
}

fn counts(users: &[RuleUser]) -> (u64, u64) {
    (
        users.len() as u64,
        users.iter().filter(|u| u.synced).count() as u64,
    )
}

fn by_name(mut users: Vec<RuleUser>) -> Vec<RuleUser> {
    // Keys computed once each: a rule's finding can name most of a tenant.
    let order = crate::plan::sorted_order(users.iter().map(|u| u.principal.sort_key()).collect());
    crate::plan::apply_order(&mut users, order);
    users
}

fn capped(mut users: Vec<RuleUser>) -> Vec<RuleUser> {
    users.truncate(RULE_FINDING_USERS);
    users
}

/// `upn (created 2026-11-30)`.
fn shown(user: &RuleUser) -> String {
    match user.created.as_deref().and_then(|c| c.get(..10)) {
        Some(day) => format!("{} (created {day})", user.principal.name()),
        None => user.principal.name().to_owned(),
    }
}

/// The first few names, and how many more.
fn listed(users: &[RuleUser]) -> String {
    let names: Vec<&str> = users.iter().take(5).map(|u| u.principal.name()).collect();
    let more = users.len().saturating_sub(names.len());
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}
