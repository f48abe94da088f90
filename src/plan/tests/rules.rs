//! Planner tests for attribute rules, one test per rule of the semantics (issue 14), each
//! a table of cases: a tenant, some rules, and what the plan does to each user, written
//! as one line per changed user (`name: +SKU(rules) -SKU(no rule) usage=XX(...)`).

use super::*;

use crate::config::{
    Attribute, AttributeCondition, Condition, ConditionValue, DesiredRule, RuleScope,
    RuleUsageLocation,
};
use crate::plan::model::{RuleFinding, RuleFindingKind};

impl LiveUser {
    /// An enabled member (in the default `rules_scope`).
    fn member(upn: &str) -> Self {
        let mut user = LiveUser::new(upn);
        user.0.attributes.user_type = Some("Member".into());
        user
    }
    fn with(mut self, set: impl FnOnce(&mut User)) -> Self {
        set(&mut self.0);
        self
    }
    fn department(self, value: &str) -> Self {
        self.with(|u| u.attributes.department = Some(value.into()))
    }
    fn synced(self) -> Self {
        self.with(|u| u.attributes.on_premises_sync_enabled = Some(true))
    }
}

pub(super) fn text(value: &str) -> Condition {
    Condition::Is(ConditionValue::Text(value.into()))
}

pub(super) fn when(attribute: Attribute, condition: Condition) -> AttributeCondition {
    AttributeCondition {
        attribute,
        condition,
        location: Some(loc(300)),
    }
}

/// A rule matching `matches`, giving `licenses`.
pub(super) fn rule(
    name: &str,
    matches: Vec<AttributeCondition>,
    licenses: Vec<DesiredLicense>,
) -> DesiredRule {
    DesiredRule {
        name: name.into(),
        location: loc(200),
        matches,
        exclude: Vec::new(),
        licenses,
        usage_location: None,
    }
}

/// Rule `sales`: department Sales gets POWER_BI_PRO.
pub(super) fn sales_gets_pbi() -> DesiredRule {
    rule(
        "sales",
        vec![when(Attribute::Department, text("Sales"))],
        vec![lic("POWER_BI_PRO")],
    )
}

/// One line per changed user: `name: +SKU(rules) ~SKU(rules) -SKU(rules|no rule)
/// usage=XX(source)`, in plan order.
fn outcome(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| c.principal.kind() == "user")
        .map(|c| {
            let why = |sku: &crate::plan::model::SkuName| -> String {
                let Some(rules) = &c.rules else {
                    return "declared".into();
                };
                match rules.licenses.iter().find(|l| l.sku == *sku) {
                    Some(l) if l.rules.is_empty() => "no rule".into(),
                    Some(l) => l.rules.join(","),
                    None => "?".into(),
                }
            };
            let mut parts: Vec<String> = Vec::new();
            for a in &c.add {
                let off: Vec<&str> = a.disabled_plans.iter().map(|p| p.name.as_str()).collect();
                let off = if off.is_empty() {
                    String::new()
                } else {
                    format!("[-{}]", off.join(","))
                };
                parts.push(format!("+{}{off}({})", a.sku.part_number, why(&a.sku)));
            }
            for u in &c.update {
                let off: Vec<&str> = u.disabled_plans.iter().map(|p| p.name.as_str()).collect();
                parts.push(format!(
                    "~{}[-{}]({})",
                    u.sku.part_number,
                    off.join(","),
                    why(&u.sku)
                ));
            }
            for r in &c.remove {
                parts.push(format!("-{}({})", r.sku.part_number, why(&r.sku)));
            }
            if let Some(step) = &c.usage_location {
                let source = c
                    .rules
                    .as_ref()
                    .and_then(|r| r.usage_location.as_ref())
                    .map(|s| match (&s.rule, &s.country) {
                        (Some(rule), Some(country)) => format!("{rule} from {country}"),
                        (Some(rule), None) => rule.clone(),
                        (None, _) => "default".into(),
                    })
                    .unwrap_or_else(|| "declared".into());
                parts.push(format!("usage={}({source})", step.to));
            }
            let name = c.principal.name();
            let short = name.split('@').next().unwrap_or(name);
            format!("{short}: {}", parts.join(" "))
        })
        .collect()
}

fn rule_findings(plan: &Plan) -> Vec<&RuleFinding> {
    plan.rules.iter().flat_map(|r| &r.findings).collect()
}

type Setup = fn(&mut TenantSnapshot, &mut DesiredState);

/// Runs each case and compares the outcome lines.
fn check(cases: &[(&str, Setup, &[&str])]) {
    for (name, setup, expected) in cases {
        let mut live = tenant();
        let mut want = desired();
        setup(&mut live, &mut want);
        let plan = run(&want, &live);
        assert!(
            !plan.has_errors(),
            "{name}: {:?}",
            plan.diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        assert_eq!(outcome(&plan), *expected, "{name}");
    }
}

#[test]
fn a_user_who_starts_matching_gains_the_rules_licenses() {
    check(&[
        (
            "a new Sales user gains the rule's license",
            |live, want| {
                live.users
                    .push(LiveUser::member("ann@contoso.com").department("Sales").0);
                want.rules.push(sales_gets_pbi());
            },
            &["ann: +POWER_BI_PRO(sales)"],
        ),
        (
            "values compare ignoring case",
            |live, want| {
                live.users
                    .push(LiveUser::member("ann@contoso.com").department("SALES").0);
                want.rules.push(sales_gets_pbi());
            },
            &["ann: +POWER_BI_PRO(sales)"],
        ),
        (
            "a list is any of, and every key must hold",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Marketing")
                        .synced()
                        .0,
                );
                live.users.push(
                    LiveUser::member("bea@contoso.com")
                        .department("Marketing")
                        .0,
                );
                want.rules.push(rule(
                    "mkt",
                    vec![
                        when(
                            Attribute::Department,
                            Condition::AnyOf(vec![text("Sales"), text("Marketing")]),
                        ),
                        when(
                            Attribute::OnPremisesSyncEnabled,
                            Condition::Is(ConditionValue::Bool(true)),
                        ),
                    ],
                    vec![lic_disabled("SPE_E3", &["YAMMER_ENTERPRISE"])],
                ));
            },
            &["ann: +SPE_E3[-YAMMER_ENTERPRISE](mkt)"],
        ),
        (
            "operators: starts_with, not and exists",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .with(|u| u.attributes.job_title = Some("Sales Manager".into()))
                        .0,
                );
                live.users.push(
                    LiveUser::member("bea@contoso.com")
                        .with(|u| u.attributes.job_title = Some("Sales Intern".into()))
                        .0,
                );
                live.users.push(LiveUser::member("cid@contoso.com").0);
                want.rules.push(rule(
                    "managers",
                    vec![when(
                        Attribute::JobTitle,
                        Condition::AllOf(vec![
                            Condition::StartsWith("sales".into()),
                            Condition::Not(Box::new(Condition::EndsWith("intern".into()))),
                        ]),
                    )],
                    vec![lic("POWER_BI_PRO")],
                ));
                want.rules.push(rule(
                    "untitled",
                    vec![when(Attribute::JobTitle, Condition::Exists(false))],
                    vec![lic("EMS")],
                ));
            },
            &["ann: +POWER_BI_PRO(managers)", "cid: +EMS(untitled)"],
        ),
        (
            "upn_domain and extension attributes",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@fabrikam.com")
                        .with(|u| {
                            u.attributes.on_premises_extension_attributes = Some(
                                [(
                                    "extensionAttribute1".to_owned(),
                                    Some("frontline".to_owned()),
                                )]
                                .into_iter()
                                .collect(),
                            )
                        })
                        .0,
                );
                live.users.push(LiveUser::member("bea@fabrikam.com").0);
                want.rules.push(rule(
                    "fabrikam",
                    vec![
                        when(Attribute::UpnDomain, text("Fabrikam.com")),
                        when(Attribute::ExtensionAttribute(1), text("Frontline")),
                    ],
                    vec![lic("SPE_E3")],
                ));
            },
            &["ann: +SPE_E3(fabrikam)"],
        ),
        (
            "member_of a group, by name or id",
            |live, want| {
                live.groups
                    .push(live_group("Sales Team", &[], &["ann@contoso.com"]));
                live.groups
                    .push(live_group("Pilots", &[], &["bea@contoso.com"]));
                for upn in ["ann@contoso.com", "bea@contoso.com", "cid@contoso.com"] {
                    live.users.push(LiveUser::member(upn).0);
                }
                want.rules.push(rule(
                    "team",
                    vec![when(Attribute::MemberOf, text("sales team"))],
                    vec![lic("POWER_BI_PRO")],
                ));
                want.rules.push(rule(
                    "pilots",
                    vec![when(
                        Attribute::MemberOf,
                        text(&group_id("Pilots").to_string()),
                    )],
                    vec![lic("EMS")],
                ));
            },
            &["ann: +POWER_BI_PRO(team)", "bea: +EMS(pilots)"],
        ),
    ]);
}

#[test]
fn a_user_who_stops_matching_loses_the_rules_sku_and_matches_no_rule() {
    check(&[
        (
            "left Sales: the rule's SKU goes, other SKUs stay",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Engineering")
                        .direct("POWER_BI_PRO", &[])
                        .direct("EMS", &[])
                        .0,
                );
                want.rules.push(sales_gets_pbi());
            },
            &["ann: -POWER_BI_PRO(no rule)"],
        ),
        (
            "still matching: nothing changes",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .direct("POWER_BI_PRO", &[])
                        .0,
                );
                want.rules.push(sales_gets_pbi());
            },
            &[],
        ),
        (
            "a rule-governed SKU with other plans is updated in place",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .direct("SPE_E3", &[])
                        .0,
                );
                want.rules.push(rule(
                    "sales",
                    vec![when(Attribute::Department, text("Sales"))],
                    vec![lic_disabled("SPE_E3", &["YAMMER_ENTERPRISE"])],
                ));
            },
            &["ann: ~SPE_E3[-YAMMER_ENTERPRISE](sales)"],
        ),
        (
            "SKUs no rule names are never touched",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .direct("SPE_E5", &[])
                        .0,
                );
                want.rules.push(sales_gets_pbi());
            },
            &["ann: +POWER_BI_PRO(sales)"],
        ),
    ]);
}

#[test]
fn a_declared_user_is_governed_by_the_entry_alone() {
    check(&[
        (
            "a declared user who matches gets only the entry's licenses",
            |live, want| {
                live.users
                    .push(LiveUser::member("ann@contoso.com").department("Sales").0);
                want.rules.push(sales_gets_pbi());
                want_user(want, "ann@contoso.com", Some(vec![lic("EMS")]));
            },
            &["ann: +EMS(declared)"],
        ),
        (
            "a declared user who does not match keeps the rule's SKU",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Engineering")
                        .direct("POWER_BI_PRO", &[])
                        .0,
                );
                want.rules.push(sales_gets_pbi());
                want_user(want, "ann@contoso.com", Some(vec![lic("POWER_BI_PRO")]));
            },
            &[],
        ),
        (
            "a declared user without a license list is not governed by rules either",
            |live, want| {
                live.users
                    .push(LiveUser::member("ann@contoso.com").department("Sales").0);
                want.rules.push(sales_gets_pbi());
                want_user(want, "ann@contoso.com", None);
            },
            &[],
        ),
    ]);
}

#[test]
fn users_outside_rules_scope_are_never_touched() {
    check(&[
        (
            "disabled accounts and guests are outside the default scope",
            |live, want| {
                live.users.push(
                    LiveUser::member("off@contoso.com")
                        .department("Sales")
                        .with(|u| u.account_enabled = Some(false))
                        .0,
                );
                live.users.push(
                    LiveUser::member("guest@contoso.com")
                        .department("Engineering")
                        .direct("POWER_BI_PRO", &[])
                        .with(|u| u.attributes.user_type = Some("Guest".into()))
                        .0,
                );
                live.users.push(
                    LiveUser::new("unknown-type@contoso.com")
                        .department("Sales")
                        .0,
                );
                want.rules.push(sales_gets_pbi());
            },
            &[],
        ),
        (
            "a custom scope: only synced accounts",
            |live, want| {
                live.users
                    .push(LiveUser::new("cloud@contoso.com").department("Sales").0);
                live.users.push(
                    LiveUser::new("synced@contoso.com")
                        .department("Sales")
                        .synced()
                        .0,
                );
                want.settings.rules_scope = RuleScope {
                    matches: vec![when(
                        Attribute::OnPremisesSyncEnabled,
                        Condition::Is(ConditionValue::Bool(true)),
                    )],
                    exclude: Vec::new(),
                    location: Some(loc(1)),
                };
                want.rules.push(sales_gets_pbi());
            },
            &["synced: +POWER_BI_PRO(sales)"],
        ),
    ]);
}

#[test]
fn several_rules_giving_one_sku_merge_their_service_plans() {
    check(&[
        (
            "a plan is on if any matching rule turns it on",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .synced()
                        .0,
                );
                want.rules.push(rule(
                    "staff",
                    vec![when(
                        Attribute::OnPremisesSyncEnabled,
                        Condition::Is(ConditionValue::Bool(true)),
                    )],
                    vec![lic_disabled("SPE_E3", &["YAMMER_ENTERPRISE", "SWAY"])],
                ));
                want.rules.push(rule(
                    "sales",
                    vec![when(Attribute::Department, text("Sales"))],
                    vec![lic_disabled("SPE_E3", &["SWAY", "TEAMS1"])],
                ));
            },
            &["ann: +SPE_E3[-SWAY](staff,sales)"],
        ),
        (
            "an allowlist and every plan: every plan is on",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .synced()
                        .0,
                );
                want.rules.push(rule(
                    "staff",
                    vec![when(
                        Attribute::OnPremisesSyncEnabled,
                        Condition::Is(ConditionValue::Bool(true)),
                    )],
                    vec![lic_enabled("SPE_E3", &["EXCHANGE_S_ENTERPRISE"])],
                ));
                want.rules.push(rule(
                    "sales",
                    vec![when(Attribute::Department, text("Sales"))],
                    vec![lic("SPE_E3")],
                ));
            },
            &["ann: +SPE_E3(staff,sales)"],
        ),
    ]);
}

#[test]
fn a_license_a_group_grants_is_covered_not_assigned_directly() {
    let cases: &[(&str, Setup, &[&str])] = &[
        (
            "inherited: nothing is assigned",
            |live, want| {
                live.groups.push(live_group(
                    "SG-Sales",
                    &[("POWER_BI_PRO", &[])],
                    &["ann@contoso.com"],
                ));
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .inherited("POWER_BI_PRO", "SG-Sales")
                        .0,
                );
                want.rules.push(sales_gets_pbi());
            },
            &[],
        ),
        (
            "a failed group copy does not cover",
            |live, want| {
                live.groups.push(live_group(
                    "SG-Sales",
                    &[("POWER_BI_PRO", &[])],
                    &["ann@contoso.com"],
                ));
                let mut ann = LiveUser::member("ann@contoso.com")
                    .department("Sales")
                    .inherited("POWER_BI_PRO", "SG-Sales");
                ann.0.license_assignment_states[0].state = AssignmentStateKind::Error;
                ann.0.license_assignment_states[0].error = Some(AssignmentError::CountViolation);
                live.users.push(ann.0);
                want.rules.push(sales_gets_pbi());
            },
            &["ann: +POWER_BI_PRO(sales)"],
        ),
        (
            "a group this plan gives the SKU to covers it",
            |live, want| {
                live.groups
                    .push(live_group("SG-Sales", &[], &["ann@contoso.com"]));
                live.users
                    .push(LiveUser::member("ann@contoso.com").department("Sales").0);
                want.rules.push(sales_gets_pbi());
                want_group(
                    want,
                    GroupKey::Name("SG-Sales".into()),
                    Some(vec![lic("POWER_BI_PRO")]),
                );
            },
            &[],
        ),
        (
            "a group this plan takes the SKU from does not cover it",
            |live, want| {
                live.groups.push(live_group(
                    "SG-Sales",
                    &[("POWER_BI_PRO", &[])],
                    &["ann@contoso.com"],
                ));
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .inherited("POWER_BI_PRO", "SG-Sales")
                        .0,
                );
                want.rules.push(sales_gets_pbi());
                want_group(want, GroupKey::Name("SG-Sales".into()), Some(vec![]));
            },
            &["ann: +POWER_BI_PRO(sales)"],
        ),
        (
            "a direct copy the user also inherits stays",
            |live, want| {
                live.groups.push(live_group(
                    "SG-Sales",
                    &[("POWER_BI_PRO", &[])],
                    &["ann@contoso.com"],
                ));
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .direct("POWER_BI_PRO", &[])
                        .inherited("POWER_BI_PRO", "SG-Sales")
                        .0,
                );
                want.rules.push(sales_gets_pbi());
            },
            &[],
        ),
    ];
    check(cases);
    // The covered user is counted, and the kept direct copy is a finding naming the rule.
    let mut live = tenant();
    let mut want = desired();
    (cases[4].1)(&mut live, &mut want);
    live.users.push(
        LiveUser::member("bea@contoso.com")
            .department("Sales")
            .inherited("POWER_BI_PRO", "SG-Sales")
            .0,
    );
    let plan = run(&want, &live);
    let report = plan.rules.as_ref().expect("a rules report");
    assert_eq!(
        (report.rules[0].matched, report.rules[0].covered_by_groups),
        (2, 1)
    );
    let duplicate = plan
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::DuplicateOfInherited)
        .expect("duplicate finding");
    assert!(
        duplicate.fix.contains("rule sales gives POWER_BI_PRO"),
        "{}",
        duplicate.fix
    );
}

#[test]
fn an_excluded_user_is_treated_as_not_matching() {
    check(&[
        (
            "an intern is excluded, and loses the license",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .with(|u| u.attributes.job_title = Some("Intern".into()))
                        .direct("POWER_BI_PRO", &[])
                        .0,
                );
                live.users.push(
                    LiveUser::member("bea@contoso.com")
                        .department("Sales")
                        .with(|u| u.attributes.job_title = Some("Account Executive".into()))
                        .0,
                );
                let mut sales = sales_gets_pbi();
                sales.exclude.push(when(
                    Attribute::JobTitle,
                    Condition::AnyOf(vec![text("Intern"), text("Contractor")]),
                ));
                want.rules.push(sales);
            },
            &["ann: -POWER_BI_PRO(no rule)", "bea: +POWER_BI_PRO(sales)"],
        ),
        (
            "an excluded user still gets another rule's licenses",
            |live, want| {
                live.users.push(
                    LiveUser::member("ann@contoso.com")
                        .department("Sales")
                        .with(|u| u.attributes.job_title = Some("Intern".into()))
                        .0,
                );
                let mut sales = sales_gets_pbi();
                sales
                    .exclude
                    .push(when(Attribute::JobTitle, text("Intern")));
                want.rules.push(sales);
                want.rules
                    .push(rule("everyone", Vec::new(), vec![lic("EMS")]));
            },
            &["ann: +EMS(everyone)"],
        ),
    ]);
}

#[test]
fn from_country_maps_the_country_attribute_and_reports_what_it_cannot_map() {
    let with_country = |country: Option<&str>, location: Option<&str>| {
        LiveUser::member("ann@contoso.com")
            .department("Sales")
            .location(location)
            .with(|u| u.attributes.country = country.map(str::to_owned))
            .0
    };
    let from_country = || {
        let mut r = sales_gets_pbi();
        r.usage_location = Some(Located {
            value: RuleUsageLocation::FromCountry,
            location: loc(201),
        });
        r
    };
    /// (case, the user, `defaults.usage_location`, outcome, findings by kind and value).
    type Case<'a> = (
        &'a str,
        User,
        Option<&'a str>,
        &'a [&'a str],
        Vec<(RuleFindingKind, &'a str)>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "a local name maps",
            with_country(Some("Deutschland"), None),
            None,
            &["ann: +POWER_BI_PRO(sales) usage=DE(sales from Deutschland)"],
            vec![],
        ),
        (
            "an abbreviation maps",
            with_country(Some("U.S."), None),
            None,
            &["ann: +POWER_BI_PRO(sales) usage=US(sales from U.S.)"],
            vec![],
        ),
        (
            "a user with a usage location keeps it",
            with_country(Some("Deutschland"), Some("FR")),
            None,
            &["ann: +POWER_BI_PRO(sales)"],
            vec![],
        ),
        (
            "an unknown country falls back to the default and is reported",
            with_country(Some("Atlantis"), None),
            Some("GB"),
            &["ann: +POWER_BI_PRO(sales) usage=GB(default)"],
            vec![(RuleFindingKind::UnmappedCountry, "Atlantis")],
        ),
        (
            "with nothing to give one, the user is reported and not licensed",
            with_country(Some("Atlantis"), None),
            None,
            &[],
            vec![
                (RuleFindingKind::NoLicense, ""),
                (RuleFindingKind::NoUsageLocation, ""),
                (RuleFindingKind::UnmappedCountry, "Atlantis"),
            ],
        ),
        (
            "no country at all, no default",
            with_country(None, None),
            None,
            &[],
            vec![
                (RuleFindingKind::NoLicense, ""),
                (RuleFindingKind::NoUsageLocation, ""),
            ],
        ),
    ];
    for (name, user, default, expected, findings) in cases {
        let mut live = tenant();
        live.users.push(user);
        let mut want = desired();
        want.rules.push(from_country());
        want.settings.default_usage_location = default.map(|d| Located {
            value: d.to_owned(),
            location: loc(2),
        });
        let plan = run(&want, &live);
        assert!(!plan.has_errors(), "{name}: {:?}", plan.diagnostics);
        assert_eq!(outcome(&plan), expected, "{name}");
        let found: Vec<(RuleFindingKind, &str)> = rule_findings(&plan)
            .iter()
            .map(|f| (f.kind, f.country.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(found, findings, "{name}");
        if let Some(unmapped) = rule_findings(&plan)
            .iter()
            .find(|f| f.kind == RuleFindingKind::UnmappedCountry)
        {
            assert!(
                unmapped.message.contains("'Atlantis'")
                    && unmapped.message.contains("ann@contoso.com"),
                "{name}: names the value and the users: {}",
                unmapped.message
            );
        }
    }
}

#[test]
fn a_rule_usage_location_code_is_set_only_on_users_without_one() {
    check(&[(
        "an ISO code from the rule",
        |live, want| {
            live.users.push(
                LiveUser::member("ann@contoso.com")
                    .department("Sales")
                    .location(None)
                    .0,
            );
            live.users.push(
                LiveUser::member("bea@contoso.com")
                    .department("Sales")
                    .location(Some("FR"))
                    .0,
            );
            let mut r = sales_gets_pbi();
            r.usage_location = Some(Located {
                value: RuleUsageLocation::Code("NO".into()),
                location: loc(201),
            });
            want.rules.push(r);
        },
        &[
            "ann: +POWER_BI_PRO(sales) usage=NO(sales)",
            "bea: +POWER_BI_PRO(sales)",
        ],
    )]);
}

#[test]
fn users_in_scope_left_without_any_license_are_reported_newest_first() {
    let mut live = tenant();
    let created = |day: &str| Some(format!("2026-11-{day}T08:00:00Z"));
    for (upn, day, synced) in [
        ("old@contoso.com", Some("01"), true),
        ("new@contoso.com", Some("28"), true),
        ("mid@contoso.com", Some("15"), false),
        ("undated@contoso.com", None, false),
    ] {
        live.users.push(
            LiveUser::member(upn)
                .department("Engineering")
                .with(|u| {
                    u.attributes.created_date_time = day.and_then(created);
                    u.attributes.on_premises_sync_enabled = synced.then_some(true);
                })
                .0,
        );
    }
    // Licensed in some way: by a rule, by a group, directly, or declared.
    live.users
        .push(LiveUser::member("ruled@contoso.com").department("Sales").0);
    live.groups
        .push(live_group("SG", &[("EMS", &[])], &["grouped@contoso.com"]));
    live.users.push(
        LiveUser::member("grouped@contoso.com")
            .inherited("EMS", "SG")
            .0,
    );
    live.users.push(
        LiveUser::member("direct@contoso.com")
            .direct("SPE_E5", &[])
            .0,
    );
    live.users.push(LiveUser::member("declared@contoso.com").0);
    live.users.push(
        LiveUser::member("guest@contoso.com")
            .with(|u| u.attributes.user_type = Some("Guest".into()))
            .0,
    );
    let mut want = desired();
    want.rules.push(sales_gets_pbi());
    want_user(&mut want, "declared@contoso.com", Some(vec![]));
    // A governed user whose only license the plan removes is unlicensed after it.
    live.users.push(
        LiveUser::member("leaver@contoso.com")
            .department("Engineering")
            .direct("POWER_BI_PRO", &[])
            .with(|u| u.attributes.created_date_time = created("20"))
            .0,
    );
    let plan = run(&want, &live);
    let found = rule_findings(&plan);
    assert_eq!(found.len(), 1, "{found:?}");
    let finding = found[0];
    assert_eq!(finding.kind, RuleFindingKind::NoLicense);
    assert_eq!((finding.count, finding.synced), (5, 2));
    let names: Vec<&str> = finding.users.iter().map(|u| u.principal.name()).collect();
    assert_eq!(
        names,
        [
            "new@contoso.com",
            "leaver@contoso.com",
            "mid@contoso.com",
            "old@contoso.com",
            "undated@contoso.com"
        ]
    );
    assert_eq!(
        finding.message,
        "5 enabled members will have no license after this plan (2 of them synced from AD); newest: new@contoso.com (created 2026-11-28), leaver@contoso.com (created 2026-11-20), mid@contoso.com (created 2026-11-15) and 2 more"
    );
    assert!(plan.has_drift(), "a drift report shows it");
    assert_eq!(plan.summary.findings, 1);
}

#[test]
fn a_rule_taking_a_sku_from_more_users_than_max_removals_refuses_the_plan() {
    let mut live = tenant();
    for n in 0..5 {
        live.users.push(
            LiveUser::member(&format!("u{n}@contoso.com"))
                .department("Engineering")
                .direct("POWER_BI_PRO", &[])
                .0,
        );
    }
    let mut want = desired();
    want.rules.push(sales_gets_pbi());
    want.settings.safety.max_removals = Some(3);
    let plan = run(&want, &live);
    assert!(plan.safety.refused);
    assert_eq!(
        plan.safety.violations,
        vec![
            SafetyViolation::MaxRemovals {
                removals: 5,
                limit: 3
            },
            SafetyViolation::RuleRemovals {
                rules: vec!["sales".into()],
                sku: plan.changes[0].remove[0].sku.clone(),
                removals: 5,
                limit: 3
            }
        ]
    );
    assert_eq!(
        super::super::safety::describe(&plan.safety.violations[1]),
        "rule sales would take POWER_BI_PRO from 5 users who match none of them, more than safety.max_removals (3); review the rule's match and re-run with --allow-unsafe to proceed"
    );
    assert!(!plan_with(&want, &live, true).safety.refused);
}

#[test]
fn protected_and_max_change_percent_count_governed_users() {
    let mut live = tenant();
    live.users.push(
        LiveUser::member("ceo@contoso.com")
            .direct("POWER_BI_PRO", &[])
            .0,
    );
    for n in 0..3 {
        live.users.push(
            LiveUser::member(&format!("u{n}@contoso.com"))
                .department("Sales")
                .0,
        );
    }
    let mut want = desired();
    want.rules.push(sales_gets_pbi());
    want.settings.protected.push(Located {
        value: PrincipalRef::User("ceo@contoso.com".into()),
        location: loc(15),
    });
    want.settings.safety.max_change_percent = Some(90.0);
    let plan = plan_with(&want, &live, true);
    assert!(
        plan.safety.refused,
        "--allow-unsafe does not override protected"
    );
    // 4 changed of 4 governed users is 100%: over the limit, overridden; the protected
    // user's removal is not.
    assert!(
        matches!(
            &plan.safety.violations[..],
            [
                SafetyViolation::MaxChangePercent { changed: 4, managed: 4, .. },
                SafetyViolation::Protected { principal, .. },
            ] if principal.name() == "ceo@contoso.com"
        ),
        "{:?}",
        plan.safety.violations
    );
    assert_eq!(plan.summary.rule_users, 4);
}

#[test]
fn a_rule_that_does_not_resolve_changes_nothing() {
    let mut live = tenant();
    live.users.push(
        LiveUser::member("ann@contoso.com")
            .department("Engineering")
            .direct("POWER_BI_PRO", &[])
            .0,
    );
    live.users
        .push(LiveUser::member("bea@contoso.com").department("Sales").0);
    for broken in [
        rule(
            "typo",
            vec![when(Attribute::Department, text("Sales"))],
            vec![lic("POWER_BI_PRP")],
        ),
        rule(
            "unknown group",
            vec![when(Attribute::MemberOf, text("Sales Tema"))],
            vec![lic("EMS")],
        ),
    ] {
        let mut want = desired();
        want.rules.push(sales_gets_pbi());
        want.rules.push(broken);
        let plan = run(&want, &live);
        assert!(plan.has_errors());
        assert!(plan.changes.is_empty(), "{:?}", outcome(&plan));
        assert!(plan.rules.is_none());
    }
}

/// The index (candidates by equality conditions on attributes several rules compare, and
/// by group members) finds exactly the users that testing every rule on every governed
/// user finds.
#[test]
fn indexed_evaluation_matches_testing_every_rule_on_every_user() {
    let mut live = tenant();
    let departments = ["Sales", "sales", "Marketing", "Engineering", "Ventes"];
    let mut members = Vec::new();
    for n in 0..200usize {
        let upn = format!("u{n:03}@contoso.com");
        if n % 7 == 0 {
            members.push(upn.clone());
        }
        live.users.push(
            LiveUser::member(&upn)
                .with(|u| {
                    u.attributes.department = (n % 6 != 5).then(|| departments[n % 5].to_owned());
                    u.attributes.on_premises_sync_enabled = (n % 3 == 0).then_some(true);
                    u.attributes.job_title = (n % 4 == 0).then(|| "Intern".to_owned());
                    u.account_enabled = Some(n % 11 != 0);
                })
                .0,
        );
    }
    let member_refs: Vec<&str> = members.iter().map(String::as_str).collect();
    live.groups.push(live_group("Pilots", &[], &member_refs));
    let mut want = desired();
    want.rules.push(sales_gets_pbi());
    want.rules.push(rule(
        "synced marketing",
        vec![
            when(
                Attribute::OnPremisesSyncEnabled,
                Condition::Is(ConditionValue::Bool(true)),
            ),
            when(
                Attribute::Department,
                Condition::AnyOf(vec![text("Marketing"), text("Ventes")]),
            ),
        ],
        vec![lic("EMS")],
    ));
    want.rules.push(rule(
        "pilots",
        vec![when(Attribute::MemberOf, text("Pilots"))],
        vec![lic("SPE_E5")],
    ));
    // Enough rules on department and on synced-from-AD for both to be indexed.
    want.rules.push(rule(
        "marketing",
        vec![when(Attribute::Department, text("MARKETING"))],
        vec![lic("SPE_E3")],
    ));
    want.rules.push(rule(
        "ventes synced",
        vec![
            when(Attribute::Department, text("ventes")),
            when(
                Attribute::OnPremisesSyncEnabled,
                Condition::Is(ConditionValue::Bool(true)),
            ),
        ],
        vec![lic("POWER_BI_PRO")],
    ));
    want.rules.push(rule(
        "synced",
        vec![when(
            Attribute::OnPremisesSyncEnabled,
            Condition::Is(ConditionValue::Bool(true)),
        )],
        vec![lic("SPE_E5")],
    ));
    let mut not_interns = rule(
        "not interns",
        vec![when(Attribute::JobTitle, Condition::Exists(false))],
        vec![lic("SPE_E3")],
    );
    not_interns
        .exclude
        .push(when(Attribute::Department, text("Engineering")));
    want.rules.push(not_interns);

    let index = TenantIndex::new(&live);
    let (rules, diagnostics) = super::super::rules::compile(&want, &index, None);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let rules = rules.expect("compiled");
    let evaluation = rules.evaluate(&live, &super::super::resolve::DeclaredUsers::default());
    assert_eq!(
        evaluation.indexed,
        [Attribute::Department, Attribute::OnPremisesSyncEnabled],
        "the case exercises both kinds of index"
    );
    let mut brute_matched = 0;
    for (i, &position) in evaluation.governed.iter().enumerate() {
        let facts = rules.facts(&live, position);
        let expected: Vec<u32> = (0..rules.rules.len() as u32)
            .filter(|&r| rules.rules[r as usize].matcher.matches(&facts))
            .collect();
        brute_matched += expected.len();
        assert_eq!(
            evaluation.matched(i),
            expected.as_slice(),
            "user {position}"
        );
    }
    assert!(brute_matched > 50, "the case exercises the rules");
    let in_scope = (0..live.users.len() as u32)
        .filter(|&p| rules.in_scope(&live, p))
        .count();
    assert_eq!(evaluation.governed.len(), in_scope);
}

use super::super::resolve::TenantIndex;

/// A live read with rules selects only the attributes the rules, the scope and the
/// findings need, filters exactly on the scope's `account_enabled`/`user_type`
/// equalities, and reads the groups `member_of` names (every group for a pattern).
#[test]
fn the_live_read_selects_what_the_rules_use_and_filters_on_the_scope() {
    let mut want = desired();
    assert_eq!(
        super::super::rules::rule_needs(&want),
        None,
        "no rules, no read"
    );
    let mut sales = sales_gets_pbi();
    sales
        .exclude
        .push(when(Attribute::ExtensionAttribute(3), text("x")));
    sales.usage_location = Some(Located {
        value: RuleUsageLocation::FromCountry,
        location: loc(201),
    });
    want.rules.push(sales);
    want.rules.push(rule(
        "pilots",
        vec![when(
            Attribute::MemberOf,
            Condition::AnyOf(vec![text("Pilots"), text(&group_id("G").to_string())]),
        )],
        vec![lic("EMS")],
    ));
    let needs = super::super::rules::rule_needs(&want).expect("needs");
    assert_eq!(
        needs.attributes,
        [
            "accountEnabled",
            "country",
            "createdDateTime",
            "department",
            "onPremisesExtensionAttributes",
            "onPremisesSyncEnabled",
            "userType"
        ]
    );
    assert_eq!(
        needs.filter.as_deref(),
        Some("accountEnabled eq true and userType eq 'Member'")
    );
    assert_eq!(needs.group_names, ["Pilots"]);
    assert_eq!(needs.group_ids, [group_id("G")]);
    assert!(!needs.all_groups);

    // A scope with no equality on those two reads every user; a pattern, every group.
    want.settings.rules_scope = RuleScope {
        matches: vec![when(
            Attribute::UserType,
            Condition::Not(Box::new(text("guest"))),
        )],
        exclude: Vec::new(),
        location: Some(loc(1)),
    };
    want.rules.push(rule(
        "teams",
        vec![when(
            Attribute::MemberOf,
            Condition::StartsWith("SG-".into()),
        )],
        vec![lic("EMS")],
    ));
    let needs = super::super::rules::rule_needs(&want).expect("needs");
    assert_eq!(needs.filter, None);
    assert!(needs.all_groups);
    want.settings.rules_scope.matches = vec![when(Attribute::UserType, text("guest"))];
    assert_eq!(
        super::super::rules::rule_needs(&want)
            .expect("needs")
            .filter
            .as_deref(),
        Some("userType eq 'Guest'"),
        "Graph's spelling of the value"
    );
}

/// A snapshot written before rules (version 1) carries no directory attributes, so no
/// user is in the default scope: the warning says to take a new snapshot.
#[test]
fn a_version_1_snapshot_gets_a_hint_to_take_a_new_one() {
    let mut live = tenant();
    live.version = 1;
    live.users.push(LiveUser::new("ann@contoso.com").0);
    let mut want = desired();
    want.rules.push(sales_gets_pbi());
    let plan = run(&want, &live);
    let warning = plan
        .diagnostics
        .iter()
        .find(|d| d.code == DiagnosticCode::RuleMatchesNobody)
        .expect("warned");
    assert!(
        warning
            .help
            .as_deref()
            .is_some_and(|h| h.contains("licensectl snapshot --config DIR")),
        "{warning:?}"
    );
    live.version = 2;
    live.users[0].attributes.user_type = Some("Member".into());
    let plan = run(&want, &live);
    let help = plan.diagnostics[0].help.as_deref().unwrap_or_default();
    assert!(help.contains("licensectl explain"), "{help}");
}
