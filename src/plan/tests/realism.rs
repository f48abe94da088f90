//! Planner tests for Graph as it really behaves: seats in their grace period, service plan
//! dependencies, licenses kept through groups, stacked mailbox plans, disabled plans the
//! tenant adds itself, protected members of groups, and values this build does not know.

use super::*;

use crate::plan::model::{Finding, NoteKind};
use crate::snapshot::PlanDependency;

/// `n` unlicensed users who each gain SPE_E5 directly, against SPE_E5 units as given.
fn e5_for(n: usize, enabled: i64, warning: i64, consumed: i64) -> (TenantSnapshot, DesiredState) {
    let mut live = tenant();
    let mut want = desired();
    for i in 0..n {
        let upn = format!("u{i}@contoso.com");
        live.users.push(LiveUser::new(&upn).0);
        want_user(&mut want, &upn, Some(vec![lic("SPE_E5")]));
    }
    let e5 = e5_of(&mut live);
    e5.prepaid_units.enabled = enabled;
    e5.prepaid_units.warning = warning;
    e5.consumed_units = consumed;
    (live, want)
}

fn e5_of(live: &mut TenantSnapshot) -> &mut SubscribedSku {
    live.subscribed_skus
        .iter_mut()
        .find(|s| s.sku_part_number == "SPE_E5")
        .expect("the test tenant has SPE_E5")
}

fn message(plan: &Plan, code: DiagnosticCode) -> Option<&str> {
    plan.diagnostics
        .iter()
        .find(|d| d.code == code)
        .map(|d| d.message.as_str())
}

#[test]
fn seats_in_their_grace_period_are_disjoint_from_enabled_ones() {
    // (needed, enabled, warning, consumed, refused, grace units relied on, free shown)
    let cases: &[(usize, i64, i64, i64, bool, i64, i64)] = &[
        // The example tenant's ENTERPRISEPACK: 15 enabled, 15 warning, 5 consumed.
        (8, 15, 15, 5, false, 0, 10),
        (10, 15, 15, 5, false, 0, 10),
        (12, 15, 15, 5, false, 2, 10),
        (25, 15, 15, 5, false, 15, 10),
        (26, 15, 15, 5, true, 16, 10),
        (30, 15, 15, 5, true, 20, 10),
        // No grace units: refused beyond the active seats, as before.
        (3, 10, 0, 8, true, 1, 2),
        // Expired units keep their assignments: consumed above enabled, nothing free.
        (1, 5, 0, 6, true, 1, -1),
        (1, 5, 2, 6, false, 1, -1),
    ];
    for &(needed, enabled, warning, consumed, refused, grace, free) in cases {
        let what = format!("needs {needed} of {enabled}+{warning} (consumed {consumed})");
        let (live, want) = e5_for(needed, enabled, warning, consumed);
        let plan = run(&want, &live);
        let row = &plan.seats[0];
        assert_eq!(row.needed, needed as i64, "{what}");
        assert_eq!(row.free, free, "{what}: free is enabled − consumed");
        assert_eq!(row.free_with_grace, free + warning, "{what}");
        assert_eq!(row.grace_needed, grace, "{what}");
        assert_eq!(row.oversubscribed, refused, "{what}");
        assert_eq!(plan.has_errors(), refused, "{what}: {:?}", plan.diagnostics);
        let found = codes(&plan);
        assert_eq!(
            found.contains(&DiagnosticCode::SeatsInGrace),
            !refused && grace > 0,
            "{what}: {found:?}"
        );
        assert_eq!(
            found.contains(&DiagnosticCode::GraceUnitsLapse),
            warning > 0,
            "{what}"
        );
    }
}

#[test]
fn a_plan_relying_on_grace_units_names_the_sku_and_the_units() {
    let (live, want) = e5_for(12, 15, 15, 5);
    let plan = run(&want, &live);
    assert_eq!(
        message(&plan, DiagnosticCode::SeatsInGrace),
        Some(
            "SPE_E5: the plan relies on 2 seats in their grace period (it needs 12, 10 are free on active subscriptions)"
        )
    );
    assert_eq!(
        message(&plan, DiagnosticCode::GraceUnitsLapse),
        Some("SPE_E5: 15 units are in their grace period and lapse unless renewed")
    );
    let (live, want) = e5_for(30, 15, 15, 5);
    assert_eq!(
        message(&run(&want, &live), DiagnosticCode::SeatsExhausted),
        Some(
            "SPE_E5: plan needs 30 more seats, 25 are free (10 on active subscriptions, 15 in their grace period)"
        )
    );
}

#[test]
fn suspended_and_locked_out_units_never_count() {
    let (mut live, want) = e5_for(1, 0, 0, 0);
    let e5 = e5_of(&mut live);
    e5.prepaid_units.suspended = 100;
    e5.prepaid_units.locked_out = 100;
    let plan = run(&want, &live);
    assert!(plan.seats[0].oversubscribed);
    assert_eq!(
        message(&plan, DiagnosticCode::SeatsExhausted),
        Some("SPE_E5: plan needs 1 more seats, 0 are free")
    );
}

#[test]
fn seat_arithmetic_never_wraps_and_refuses_impossible_counts() {
    // (enabled, warning, consumed, needed, refused, invalid)
    let cases: &[(i64, i64, i64, usize, bool, bool)] = &[
        (i64::MIN, 0, 0, 1, true, true),
        (i64::MIN, i64::MIN, i64::MAX, 1, true, true),
        (10, -5, 0, 1, true, true),
        (10, 0, -3, 0, true, true),
        (i64::MAX, i64::MAX, 0, 1, false, false),
        (0, i64::MAX, i64::MIN + 1, 1, true, true),
    ];
    for &(enabled, warning, consumed, needed, refused, invalid) in cases {
        let what = format!("{enabled}/{warning}/{consumed} needing {needed}");
        let (mut live, mut want) = e5_for(needed, enabled, warning, consumed);
        if needed == 0 {
            // Touch the SKU without needing a seat: someone loses it.
            live.users
                .push(LiveUser::new("x@contoso.com").direct("SPE_E5", &[]).0);
            want_user(&mut want, "x@contoso.com", Some(vec![]));
        }
        let plan = run(&want, &live);
        assert_eq!(plan.has_errors(), refused, "{what}: {:?}", plan.diagnostics);
        assert_eq!(
            codes(&plan).contains(&DiagnosticCode::InvalidSeatCounts),
            invalid,
            "{what}"
        );
        let row = &plan.seats[0];
        assert!(
            row.free <= row.free_with_grace || warning < 0,
            "{what}: {row:?}"
        );
    }
    let (live, want) = e5_for(1, i64::MIN, 0, 0);
    let text = message(&run(&want, &live), DiagnosticCode::InvalidSeatCounts)
        .expect("invalid counts")
        .to_owned();
    assert!(
        text.contains("prepaidUnits.enabled -9223372036854775808"),
        "{text}"
    );
}

// ---- dependencies ---------------------------------------------------------------------

/// The test tenant plus an add-on SKU whose WORKPLACE_ANALYTICS plan needs an Exchange
/// Online plan (the tenant's own rule, with the test tenant's plan ids).
fn addon_tenant() -> TenantSnapshot {
    let mut live = tenant();
    live.subscribed_skus
        .push(sku("WORKPLACE_ANALYTICS", &["WORKPLACE_ANALYTICS"], 100, 0));
    live.subscribed_skus
        .push(sku("EXCHANGESTANDARD", &["EXCHANGE_S_STANDARD"], 100, 0));
    live.service_plan_rules.dependencies.push(PlanDependency {
        plan: plan_id("WORKPLACE_ANALYTICS"),
        requires: vec![
            plan_id("EXCHANGE_S_STANDARD"),
            plan_id("EXCHANGE_S_ENTERPRISE"),
        ],
    });
    live
}

#[test]
fn a_change_that_takes_a_prerequisite_away_is_an_error_naming_user_plan_and_license() {
    struct Case {
        what: &'static str,
        wanted: fn() -> Vec<DesiredLicense>,
        error: Option<&'static str>,
    }
    let cases = [
        Case {
            what: "removing the license that provides the prerequisite",
            wanted: || vec![lic("WORKPLACE_ANALYTICS")],
            error: Some(
                "user u@contoso.com would keep WORKPLACE_ANALYTICS of WORKPLACE_ANALYTICS (direct) without EXCHANGE_S_ENTERPRISE or EXCHANGE_S_STANDARD, which it depends on: the change removes SPE_E3, the license that provides EXCHANGE_S_ENTERPRISE",
            ),
        },
        Case {
            what: "turning the prerequisite off",
            wanted: || {
                vec![
                    lic_disabled("SPE_E3", &["EXCHANGE_S_ENTERPRISE"]),
                    lic("WORKPLACE_ANALYTICS"),
                ]
            },
            error: Some(
                "user u@contoso.com would keep WORKPLACE_ANALYTICS of WORKPLACE_ANALYTICS (direct) without EXCHANGE_S_ENTERPRISE or EXCHANGE_S_STANDARD, which it depends on: the change turns off EXCHANGE_S_ENTERPRISE in SPE_E3, the license that provides EXCHANGE_S_ENTERPRISE",
            ),
        },
        Case {
            what: "a swap that keeps the prerequisite in the same call",
            wanted: || vec![lic("SPE_E5"), lic("WORKPLACE_ANALYTICS")],
            error: None,
        },
        Case {
            what: "another license provides another prerequisite",
            wanted: || vec![lic("EXCHANGESTANDARD"), lic("WORKPLACE_ANALYTICS")],
            error: None,
        },
        Case {
            what: "the dependent plan goes too",
            wanted: || vec![lic("POWER_BI_PRO")],
            error: None,
        },
    ];
    for case in cases {
        let mut live = addon_tenant();
        live.users.push(
            LiveUser::new("u@contoso.com")
                .direct("SPE_E3", &[])
                .direct("WORKPLACE_ANALYTICS", &[])
                .0,
        );
        let mut want = desired();
        want_user(&mut want, "u@contoso.com", Some((case.wanted)()));
        let plan = run(&want, &live);
        let found = plan
            .diagnostics
            .iter()
            .find(|d| d.code == DiagnosticCode::DependencyUnmet);
        assert_eq!(
            found.map(|d| d.message.as_str()),
            case.error,
            "{}",
            case.what
        );
        if let Some(d) = found {
            assert_eq!(d.location, Some(loc(1)), "{}: at the user", case.what);
            assert!(
                d.help
                    .as_deref()
                    .is_some_and(|h| h.contains("servicePlanRules")),
                "{}: {:?}",
                case.what,
                d.help
            );
            assert!(plan.has_errors());
        }
    }
}

#[test]
fn a_group_losing_a_prerequisite_is_an_error_for_members_who_keep_the_dependent_plan() {
    let mut live = addon_tenant();
    live.groups.push(live_group(
        "SG-E3",
        &[("SPE_E3", &[])],
        &["m@contoso.com", "n@contoso.com"],
    ));
    live.users.push(
        LiveUser::new("m@contoso.com")
            .inherited("SPE_E3", "SG-E3")
            .direct("WORKPLACE_ANALYTICS", &[])
            .0,
    );
    // n has Exchange from a license of its own.
    live.users.push(
        LiveUser::new("n@contoso.com")
            .inherited("SPE_E3", "SG-E3")
            .direct("WORKPLACE_ANALYTICS", &[])
            .direct("EXCHANGESTANDARD", &[])
            .0,
    );
    let mut want = desired();
    want_group(&mut want, GroupKey::Name("SG-E3".into()), Some(vec![]));
    let plan = run(&want, &live);
    let errors: Vec<(&str, Option<&Location>)> = plan
        .diagnostics
        .iter()
        .filter(|d| d.code == DiagnosticCode::DependencyUnmet)
        .map(|d| (d.message.as_str(), d.location.as_ref()))
        .collect();
    assert_eq!(
        errors,
        [(
            "user m@contoso.com would keep WORKPLACE_ANALYTICS of WORKPLACE_ANALYTICS (direct) without EXCHANGE_S_ENTERPRISE or EXCHANGE_S_STANDARD, which it depends on: the change takes SPE_E3 away from group SG-E3, the license that provides EXCHANGE_S_ENTERPRISE",
            Some(&loc(100))
        )]
    );
}

#[test]
fn a_group_add_on_needs_its_prerequisite_in_the_same_group() {
    // The members hold Exchange directly: group licensing still wants it in the group.
    let cases: [(&str, Vec<DesiredLicense>, bool); 3] = [
        ("the add-on alone", vec![lic("WORKPLACE_ANALYTICS")], true),
        (
            "with its prerequisite",
            vec![lic("SPE_E3"), lic("WORKPLACE_ANALYTICS")],
            false,
        ),
        (
            "with its prerequisite turned off",
            vec![
                lic_disabled("SPE_E3", &["EXCHANGE_S_ENTERPRISE"]),
                lic("WORKPLACE_ANALYTICS"),
            ],
            true,
        ),
    ];
    for (what, wanted, error) in cases {
        let mut live = addon_tenant();
        live.groups
            .push(live_group("SG-WPA", &[], &["m@contoso.com"]));
        live.users
            .push(LiveUser::new("m@contoso.com").direct("SPE_E3", &[]).0);
        let mut want = desired();
        want_group(&mut want, GroupKey::Name("SG-WPA".into()), Some(wanted));
        let plan = run(&want, &live);
        let found: Vec<DiagnosticCode> = codes(&plan)
            .into_iter()
            .filter(|c| {
                matches!(
                    c,
                    DiagnosticCode::GroupDependencyUnmet | DiagnosticCode::DependencyUnmet
                )
            })
            .collect();
        let expected: &[DiagnosticCode] = if error {
            &[DiagnosticCode::GroupDependencyUnmet]
        } else {
            &[]
        };
        assert_eq!(found, expected, "{what}");
        if error {
            let text = message(&plan, DiagnosticCode::GroupDependencyUnmet).expect("error");
            assert!(
                text.starts_with(
                    "group SG-WPA would assign WORKPLACE_ANALYTICS of WORKPLACE_ANALYTICS without EXCHANGE_S_ENTERPRISE or EXCHANGE_S_STANDARD in the same group"
                ),
                "{what}: {text}"
            );
        }
    }
}

#[test]
fn a_dependency_already_unmet_before_the_plan_is_not_blamed_on_it() {
    let mut live = addon_tenant();
    live.users.push(
        LiveUser::new("u@contoso.com")
            .direct("WORKPLACE_ANALYTICS", &[])
            .0,
    );
    let mut want = desired();
    want_user(
        &mut want,
        "u@contoso.com",
        Some(vec![lic("WORKPLACE_ANALYTICS"), lic("EMS")]),
    );
    let plan = run(&want, &live);
    assert!(plan.has_changes);
    assert_eq!(codes(&plan), Vec::<DiagnosticCode>::new());
}

#[test]
fn the_bundled_table_knows_workplace_analytics_needs_exchange() {
    use crate::snapshot::ServicePlanInfo;
    let real = |name: &str, id: &str| ServicePlanInfo {
        service_plan_id: ServicePlanId::new(crate::ids::parse_guid(id).expect("guid")),
        service_plan_name: name.to_owned(),
        provisioning_status: None,
        applies_to: Some(AppliesTo::User),
    };
    let mut live = tenant();
    let mut wpa = sku("WORKPLACE_ANALYTICS", &[], 10, 0);
    wpa.service_plans = vec![real(
        "WORKPLACE_ANALYTICS",
        "f477b0f0-3bb1-4890-940c-40fcee6ce05f",
    )];
    let mut mail = sku("EXCHANGEENTERPRISE", &[], 10, 0);
    mail.service_plans = vec![real(
        "EXCHANGE_S_ENTERPRISE",
        "efb87545-963c-4e0d-99df-69c6916d9eb0",
    )];
    live.subscribed_skus.extend([wpa, mail]);
    live.users.push(
        LiveUser::new("u@contoso.com")
            .direct("WORKPLACE_ANALYTICS", &[])
            .direct("EXCHANGEENTERPRISE", &[])
            .0,
    );
    let mut want = desired();
    want_user(
        &mut want,
        "u@contoso.com",
        Some(vec![lic("WORKPLACE_ANALYTICS")]),
    );
    let plan = run(&want, &live);
    let d = plan
        .diagnostics
        .iter()
        .find(|d| d.code == DiagnosticCode::DependencyUnmet)
        .expect("the bundled rule applies");
    assert!(
        d.message.contains("removes EXCHANGEENTERPRISE"),
        "{}",
        d.message
    );
    assert!(
        d.help.as_deref().is_some_and(|h| h.contains(
            "https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems"
        )),
        "{:?}",
        d.help
    );
}

// ---- disabled plans the tenant adds itself ------------------------------------------------

/// A suite whose ADDON plan needs PREREQ, and a mail SKU that also provides PREREQ.
fn suite_tenant(with_rule: bool) -> TenantSnapshot {
    let mut live = tenant();
    live.subscribed_skus
        .push(sku("SUITE", &["PREREQ", "ADDON", "OTHER"], 10, 0));
    live.subscribed_skus.push(sku("MAIL", &["PREREQ"], 10, 0));
    if with_rule {
        live.service_plan_rules.dependencies.push(PlanDependency {
            plan: plan_id("ADDON"),
            requires: vec![plan_id("PREREQ")],
        });
    }
    live
}

#[test]
fn disabled_plans_graph_added_for_dependents_do_not_replan_forever() {
    // The config turns PREREQ off in SUITE (MAIL provides it, so ADDON may stay on): a
    // consistent config. The tenant, after apply, reads back ADDON off too.
    let after_apply = |with_rule| {
        let mut live = suite_tenant(with_rule);
        live.users.push(
            LiveUser::new("u@contoso.com")
                .direct("SUITE", &["PREREQ", "ADDON"])
                .direct("MAIL", &[])
                .0,
        );
        live
    };
    let mut want = desired();
    want_user(
        &mut want,
        "u@contoso.com",
        Some(vec![lic_disabled("SUITE", &["PREREQ"]), lic("MAIL")]),
    );
    let plan = run(&want, &after_apply(true));
    assert!(
        !plan.has_changes,
        "the re-plan is empty: {:?}",
        plan.changes
    );
    assert_eq!(codes(&plan), Vec::<DiagnosticCode>::new());
    let notes: Vec<(NoteKind, &str)> = plan
        .notes
        .iter()
        .map(|n| (n.kind, n.message.as_str()))
        .collect();
    assert_eq!(
        notes,
        [(
            NoteKind::GraphDisabledDependents,
            "the tenant keeps ADDON of SUITE off for user u@contoso.com: the plan it depends on is off in that license, so licensectl counts the license as in sync instead of sending the same request again"
        )]
    );
    assert!(!plan.has_drift(), "a note is not drift");

    // Without a known dependency the extra disabled plan is ordinary drift.
    let plan = run(&want, &after_apply(false));
    assert_eq!(plan.changes[0].update[0].enable[0].name, "ADDON");

    // A plan the tenant turned off that is not a dependent is drift too.
    let mut live = suite_tenant(true);
    live.users.push(
        LiveUser::new("u@contoso.com")
            .direct("SUITE", &["PREREQ", "OTHER"])
            .direct("MAIL", &[])
            .0,
    );
    assert!(run(&want, &live).has_changes);
}

#[test]
fn a_config_that_turns_a_prerequisite_off_but_keeps_its_dependent_is_caught_at_plan_time() {
    let mut live = suite_tenant(true);
    live.users
        .push(LiveUser::new("u@contoso.com").direct("SUITE", &[]).0);
    let mut want = desired();
    want_user(
        &mut want,
        "u@contoso.com",
        Some(vec![lic_disabled("SUITE", &["PREREQ"])]),
    );
    assert_eq!(codes(&run(&want, &live)), [DiagnosticCode::DependencyUnmet]);
    // Turning both off is consistent, and once applied the re-plan is empty.
    want.users[0].licenses = Some(vec![lic_disabled("SUITE", &["PREREQ", "ADDON"])]);
    let plan = run(&want, &live);
    assert_eq!(codes(&plan), Vec::<DiagnosticCode>::new());
    live.users[0] = LiveUser::new("u@contoso.com")
        .direct("SUITE", &["ADDON", "PREREQ"])
        .0;
    let replan = run(&want, &live);
    assert!(!replan.has_changes && replan.notes.is_empty());
}

// ---- licenses kept through groups ------------------------------------------------------

#[test]
fn a_declared_user_keeping_a_license_through_a_group_gets_a_note() {
    let mut live = tenant();
    live.groups.push(live_group(
        "sg-license-e3",
        &[("SPE_E3", &[])],
        &[
            "a@contoso.com",
            "b@contoso.com",
            "c@contoso.com",
            "d@contoso.com",
        ],
    ));
    for upn in [
        "a@contoso.com",
        "b@contoso.com",
        "c@contoso.com",
        "d@contoso.com",
    ] {
        live.users
            .push(LiveUser::new(upn).inherited("SPE_E3", "sg-license-e3").0);
    }
    live.users[2] = LiveUser::new("c@contoso.com")
        .direct("SPE_E3", &[])
        .inherited("SPE_E3", "sg-license-e3")
        .0;
    let mut want = desired();
    want_user(&mut want, "a@contoso.com", Some(vec![lic("EMS")]));
    // b: declared without a license list (unmanaged licenses): no note.
    want_user(&mut want, "b@contoso.com", None);
    // c: the direct copy goes; its removal already names the group.
    want_user(&mut want, "c@contoso.com", Some(vec![]));
    // d: lists the SKU.
    want_user(&mut want, "d@contoso.com", Some(vec![lic("SPE_E3")]));
    let plan = run(&want, &live);
    let notes: Vec<(&str, &str)> = plan
        .notes
        .iter()
        .map(|n| (n.principal.name(), n.message.as_str()))
        .collect();
    assert_eq!(
        notes,
        [(
            "a@contoso.com",
            "a@contoso.com keeps SPE_E3 through group sg-license-e3 (`licenses` governs direct licenses only)"
        )]
    );
    assert_eq!(plan.summary.notes, 1);
    // A group that loses the license in the same plan keeps nothing.
    want_group(
        &mut want,
        GroupKey::Name("sg-license-e3".into()),
        Some(vec![]),
    );
    assert!(run(&want, &live).notes.is_empty());
}

// ---- stacked mailbox plans ----------------------------------------------------------------

#[test]
fn stacked_exchange_plans_are_a_finding_with_their_cost() {
    struct Case {
        what: &'static str,
        user: fn() -> User,
        stacked: bool,
    }
    let cases = [
        Case {
            what: "Plan 1 direct and Plan 2 through a group",
            user: || {
                LiveUser::new("s@contoso.com")
                    .direct("EXCHANGESTANDARD", &[])
                    .inherited("SPE_E3", "SG-E3")
                    .0
            },
            stacked: true,
        },
        Case {
            what: "one SKU twice (one seat)",
            user: || {
                LiveUser::new("s@contoso.com")
                    .direct("SPE_E3", &[])
                    .inherited("SPE_E3", "SG-E3")
                    .0
            },
            stacked: false,
        },
        Case {
            what: "Plan 2 turned off in the suite",
            user: || {
                LiveUser::new("s@contoso.com")
                    .direct("EXCHANGESTANDARD", &[])
                    .direct("SPE_E3", &["EXCHANGE_S_ENTERPRISE"])
                    .0
            },
            stacked: false,
        },
        Case {
            what: "a license without a mailbox",
            user: || {
                LiveUser::new("s@contoso.com")
                    .direct("EXCHANGESTANDARD", &[])
                    .direct("POWER_BI_PRO", &[])
                    .0
            },
            stacked: false,
        },
    ];
    for case in cases {
        let mut live = addon_tenant();
        live.groups
            .push(live_group("SG-E3", &[("SPE_E3", &[])], &["s@contoso.com"]));
        live.users.push((case.user)());
        let plan = run(&desired(), &live);
        let stacked: Vec<&Finding> = plan
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::StackedPlans)
            .collect();
        assert_eq!(!stacked.is_empty(), case.stacked, "{}", case.what);
        if let [finding] = stacked[..] {
            assert_eq!(
                finding.message,
                "s@contoso.com holds an Exchange Online mailbox from 2 licenses: EXCHANGESTANDARD (direct) with EXCHANGE_S_STANDARD; SPE_E3 (group SG-E3) with EXCHANGE_S_ENTERPRISE; stacking them is allowed, but each license uses a seat: 2 seats for one service"
            );
            assert_eq!(finding.group.as_ref().map(|g| g.name()), Some("SG-E3"));
            assert!(!finding.managed);
            assert!(codes(&plan).is_empty(), "a finding, not an error");
        }
    }
}

#[test]
fn a_plan_that_stacks_a_second_mailbox_is_reported_before_it_applies() {
    let mut live = addon_tenant();
    live.users
        .push(LiveUser::new("s@contoso.com").direct("SPE_E3", &[]).0);
    let mut want = desired();
    want_user(
        &mut want,
        "s@contoso.com",
        Some(vec![lic("SPE_E3"), lic("EXCHANGESTANDARD")]),
    );
    let plan = run(&want, &live);
    assert!(
        plan.findings
            .iter()
            .any(|f| f.kind == FindingKind::StackedPlans)
    );
    // And one that removes the second mailbox leaves none.
    let mut live = addon_tenant();
    live.users.push(
        LiveUser::new("s@contoso.com")
            .direct("SPE_E3", &[])
            .direct("EXCHANGESTANDARD", &[])
            .0,
    );
    want.users[0].licenses = Some(vec![lic("SPE_E3")]);
    assert!(run(&want, &live).findings.is_empty());
}

// ---- protected members of groups ---------------------------------------------------------

#[test]
fn a_group_change_names_and_refuses_the_protected_members_who_lose_a_license() {
    // (ceo's other source of EMS, refused)
    let cases: [(&str, Option<&str>, bool); 3] = [
        ("only through the group", None, true),
        ("also directly", Some("direct"), false),
        ("also through another group", Some("SG-EMS-2"), false),
    ];
    for (what, other, refused) in cases {
        let mut live = tenant();
        live.groups.push(live_group(
            "SG-EMS",
            &[("EMS", &[])],
            &["ceo@contoso.com", "staff@contoso.com"],
        ));
        live.groups.push(live_group(
            "SG-EMS-2",
            &[("EMS", &[])],
            &["ceo@contoso.com"],
        ));
        let mut ceo = LiveUser::new("ceo@contoso.com").inherited("EMS", "SG-EMS");
        ceo = match other {
            None => ceo,
            Some("direct") => ceo.direct("EMS", &[]),
            Some(group) => ceo.inherited("EMS", group),
        };
        live.users.push(ceo.0);
        live.users.push(
            LiveUser::new("staff@contoso.com")
                .inherited("EMS", "SG-EMS")
                .0,
        );
        let mut want = desired();
        want.settings.protected.push(Located {
            value: PrincipalRef::User("ceo@contoso.com".into()),
            location: loc(15),
        });
        want_group(&mut want, GroupKey::Name("SG-EMS".into()), Some(vec![]));
        let plan = plan_with(&want, &live, true);
        assert_eq!(plan.safety.refused, refused, "{what}");
        let named: Vec<(&str, &str, Vec<&str>)> = plan
            .safety
            .violations
            .iter()
            .filter_map(|v| match v {
                SafetyViolation::ProtectedMember {
                    principal,
                    group,
                    skus,
                } => Some((
                    principal.name(),
                    group.name(),
                    skus.iter().map(|s| s.part_number.as_str()).collect(),
                )),
                _ => None,
            })
            .collect();
        let expected = if refused {
            vec![("ceo@contoso.com", "SG-EMS", vec!["EMS"])]
        } else {
            vec![]
        };
        assert_eq!(named, expected, "{what}");
        if refused {
            let text = super::super::safety::describe(&plan.safety.violations[0]);
            assert!(
                text.contains("protected user ceo@contoso.com would lose EMS through group SG-EMS")
                    && text.contains("--allow-unsafe does not override this"),
                "{text}"
            );
            assert!(!plan.safety.violations[0].overridable());
        }
    }
}

// ---- values this build does not know ----------------------------------------------------------

#[test]
fn unknown_values_are_reported_with_their_raw_text_and_never_refuse() {
    use crate::snapshot::LicenseAssignmentState;
    // (state, error, finding kind, words)
    let cases: [(&str, Option<&str>, FindingKind, &str); 4] = [
        (
            "PendingActivation",
            None,
            FindingKind::UnknownState,
            "SPE_E3 (assigned directly) of u@contoso.com is in state 'PendingActivation', which this licensectl does not know",
        ),
        (
            "Active",
            Some("QuotaViolation"),
            FindingKind::UnknownState,
            "SPE_E3 (assigned directly) of u@contoso.com is Active and reports the error 'QuotaViolation', which this licensectl does not know",
        ),
        (
            "Error",
            Some("QuotaViolation"),
            FindingKind::AssignmentError,
            "SPE_E3 (assigned directly) failed for u@contoso.com: Microsoft Graph reports the error 'QuotaViolation', which this licensectl does not know",
        ),
        (
            "Suspended\u{1b}[2J",
            None,
            FindingKind::UnknownState,
            "is in state 'Suspended\u{1b}[2J'",
        ),
    ];
    for (state, error, kind, words) in cases {
        let mut live = tenant();
        let mut user = LiveUser::new("u@contoso.com").0;
        user.license_assignment_states.push(LicenseAssignmentState {
            sku_id: sku_id("SPE_E3"),
            disabled_plans: Vec::new(),
            assigned_by_group: None,
            state: AssignmentStateKind::from(state),
            error: error.map(AssignmentError::from),
            last_updated_date_time: None,
        });
        live.users.push(user);
        let plan = run(&desired(), &live);
        assert_eq!(plan.findings.len(), 1, "{state}");
        let finding = &plan.findings[0];
        assert_eq!(finding.kind, kind, "{state}");
        assert!(
            finding.message.contains(words),
            "{state}: {}",
            finding.message
        );
        assert_eq!(finding.error.as_deref(), error, "{state}");
        assert!(!plan.has_errors());
    }

    // An unknown capabilityStatus on a SKU the plan touches warns; Graph decides.
    let (mut live, want) = e5_for(1, 10, 0, 0);
    e5_of(&mut live).capability_status = CapabilityStatus::Unknown("Expiring".into());
    let plan = run(&want, &live);
    assert!(plan.has_changes && !plan.has_errors());
    assert_eq!(
        message(&plan, DiagnosticCode::UnknownSkuStatus),
        Some(
            "SPE_E5: the subscription's capabilityStatus is 'Expiring', which this licensectl does not know; Microsoft Graph decides whether the plan's changes to it succeed"
        )
    );
}
