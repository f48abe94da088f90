//! Planner tests for license operations (issue 16): the staged move to group licensing
//! (`migrate_to_groups`), seat prices and subscription lifecycle dates.

use super::*;

use crate::config::{MigrateToGroups, Price};
use crate::plan::Principal;
use crate::plan::migrate::MigrationReport;
use crate::snapshot::CompanySubscription;

/// 2026-12-01T00:00:00Z.
const NOW: i64 = 1_796_083_200;

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(NOW).expect("a time")
}

fn run_now(want: &DesiredState, live: &TenantSnapshot) -> Plan {
    plan(
        want,
        live,
        &PlanOptions {
            now: Some(now()),
            ..PlanOptions::default()
        },
    )
}

fn migrating(n: u32) -> DesiredState {
    let mut want = desired();
    want.settings.migrate_to_groups = Some(MigrateToGroups {
        max_users_per_run: n,
        location: loc(9),
    });
    want
}

/// `users` holding SPE_E3 directly (with `direct_off` off), all direct members of SG-E3.
fn direct_e3(users: &[&str], direct_off: &[&str]) -> TenantSnapshot {
    let mut live = tenant();
    for upn in users {
        live.users
            .push(LiveUser::new(upn).direct("SPE_E3", direct_off).0);
    }
    live.groups.push(live_group("SG-E3", &[], users));
    live
}

fn migration(plan: &Plan) -> &MigrationReport {
    plan.operations
        .migration
        .as_ref()
        .expect("a migration report")
}

fn names(list: &[Principal]) -> Vec<&str> {
    list.iter().map(Principal::name).collect()
}

#[test]
fn migration_removes_covered_direct_copies_in_waves_of_max_users_per_run() {
    let users = [
        "d@contoso.com",
        "a@contoso.com",
        "c@contoso.com",
        "b@contoso.com",
        "e@contoso.com",
    ];
    let live = direct_e3(&users, &[]);
    let mut want = migrating(2);
    want_group(
        &mut want,
        GroupKey::Name("SG-E3".into()),
        Some(vec![lic("SPE_E3")]),
    );
    let plan = run(&want, &live);
    assert_eq!(codes(&plan), Vec::<DiagnosticCode>::new());
    let m = migration(&plan);
    // The first two by userPrincipalName; the other three wait: two more plans.
    assert_eq!(names(&m.this_wave), ["a@contoso.com", "b@contoso.com"]);
    assert_eq!(
        names(&m.next_waves),
        ["c@contoso.com", "d@contoso.com", "e@contoso.com"]
    );
    assert_eq!((m.removals, m.runs_after_this, m.blocked), (2, 2, 0));
    // The group gains SPE_E3 and the wave loses its direct copies, naming the group.
    let users_changed: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.principal, Principal::User { .. }))
        .map(|c| c.principal.name())
        .collect();
    assert_eq!(users_changed, ["a@contoso.com", "b@contoso.com"]);
    for change in plan
        .changes
        .iter()
        .filter(|c| matches!(c.principal, Principal::User { .. }))
    {
        assert_eq!(change.remove.len(), 1);
        let removed = &change.remove[0];
        assert!(!removed.destructive && !removed.exchange_grace);
        assert_eq!(names(&removed.still_inherited_from), ["SG-E3"]);
    }
    // No seat is freed or needed: everyone keeps SPE_E3 through the group.
    let e3 = plan
        .seats
        .iter()
        .find(|s| s.sku.part_number == "SPE_E3")
        .expect("row");
    assert_eq!((e3.needed, e3.freed), (0, 0));
    // Covered users are no longer reported as duplicates; the migration handles them.
    assert!(
        !plan
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::DuplicateOfInherited)
    );
    // Migration removals count against neither threshold (max_users_per_run bounds them).
    assert_eq!(plan.safety.removals, 0);
    assert_eq!(plan.safety.changed_principals, 1);
}

#[test]
fn migration_keeps_a_direct_copy_the_group_lacks_plans_for_and_names_them() {
    // Bob's direct copy has YAMMER and SWAY on; the group turns them off.
    let mut live = direct_e3(&["bob@contoso.com", "amy@contoso.com"], &[]);
    live.users[1] = LiveUser::new("amy@contoso.com")
        .direct("SPE_E3", &["YAMMER_ENTERPRISE", "SWAY"])
        .0;
    let mut want = migrating(10);
    want_group(
        &mut want,
        GroupKey::Name("SG-E3".into()),
        Some(vec![lic_disabled("SPE_E3", &["YAMMER_ENTERPRISE", "SWAY"])]),
    );
    let plan = run(&want, &live);
    let m = migration(&plan);
    // Amy's copy has the same plans off as the group: covered. Bob's is not.
    assert_eq!(names(&m.this_wave), ["amy@contoso.com"]);
    assert_eq!(m.blocked, 1);
    let blocked: Vec<_> = plan
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::MigrationBlocked)
        .collect();
    assert_eq!(blocked.len(), 1);
    let f = blocked[0];
    assert_eq!(f.principal.name(), "bob@contoso.com");
    assert_eq!(f.group.as_ref().map(Principal::name), Some("SG-E3"));
    let plans: Vec<&str> = f.plans.iter().map(|p| p.name.as_str()).collect();
    let mut expected = vec!["SWAY", "YAMMER_ENTERPRISE"];
    expected.sort_by_key(|n| plan_id(n));
    let mut got = plans.clone();
    got.sort_by_key(|n| plan_id(n));
    assert_eq!(got, expected);
    assert!(
        f.message.contains(
            "bob@contoso.com's direct copy of SPE_E3 is kept: group SG-E3 gives SPE_E3 without"
        ),
        "{}",
        f.message
    );
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| c.principal.name() == "bob@contoso.com")
    );
}

#[test]
fn migration_keeps_a_direct_copy_whose_group_copy_fails() {
    let mut live = tenant();
    let mut bob = LiveUser::new("bob@contoso.com")
        .direct("SPE_E3", &[])
        .inherited("SPE_E3", "SG-E3")
        .0;
    bob.license_assignment_states[1].state = AssignmentStateKind::Error;
    bob.license_assignment_states[1].error = Some(AssignmentError::CountViolation);
    live.users.push(bob);
    live.groups.push(live_group(
        "SG-E3",
        &[("SPE_E3", &[])],
        &["bob@contoso.com"],
    ));
    let mut want = migrating(10);
    want_group(
        &mut want,
        GroupKey::Name("SG-E3".into()),
        Some(vec![lic("SPE_E3")]),
    );
    let plan = run(&want, &live);
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    let f = plan
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::MigrationBlocked)
        .expect("blocked");
    assert_eq!(f.error.as_deref(), Some("CountViolation"));
    assert!(
        f.message.contains("fails for the user (CountViolation)"),
        "{}",
        f.message
    );
}

#[test]
fn migration_leaves_declared_and_protected_users_and_unmanaged_groups_alone() {
    let mut live = direct_e3(
        &["dee@contoso.com", "pat@contoso.com", "una@contoso.com"],
        &[],
    );
    // una is a member of an unmanaged group only.
    live.groups[0]
        .members
        .retain(|m| *m != user_id("una@contoso.com"));
    live.groups.push(live_group(
        "SG-Other",
        &[("SPE_E3", &[])],
        &["una@contoso.com"],
    ));
    let mut want = migrating(10);
    want_group(
        &mut want,
        GroupKey::Name("SG-E3".into()),
        Some(vec![lic("SPE_E3")]),
    );
    // dee is declared with a list that keeps SPE_E3 directly; pat is protected.
    want_user(&mut want, "dee@contoso.com", Some(vec![lic("SPE_E3")]));
    want.settings.protected.push(Located {
        value: PrincipalRef::User("pat@contoso.com".into()),
        location: loc(16),
    });
    let plan = run(&want, &live);
    let m = migration(&plan);
    assert!(m.this_wave.is_empty() && m.next_waves.is_empty(), "{m:?}");
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| matches!(c.principal, Principal::User { .. }))
    );
}

#[test]
fn without_migrate_to_groups_direct_copies_are_only_reported() {
    let mut live = tenant();
    live.users.push(
        LiveUser::new("bob@contoso.com")
            .direct("SPE_E3", &[])
            .inherited("SPE_E3", "SG-E3")
            .0,
    );
    live.groups.push(live_group(
        "SG-E3",
        &[("SPE_E3", &[])],
        &["bob@contoso.com"],
    ));
    let mut want = desired();
    want_group(
        &mut want,
        GroupKey::Name("SG-E3".into()),
        Some(vec![lic("SPE_E3")]),
    );
    let plan = run(&want, &live);
    assert!(plan.operations.migration.is_none());
    assert!(plan.changes.is_empty());
    assert!(
        plan.findings
            .iter()
            .any(|f| f.kind == FindingKind::DuplicateOfInherited)
    );
}

fn price(part: &str, cents: i64) -> Price {
    Price {
        sku: Located {
            value: SkuRef::PartNumber(part.to_owned()),
            location: loc(30),
        },
        monthly_cents: cents,
        currency: "EUR".to_owned(),
    }
}

#[test]
fn priced_seats_the_plan_frees_and_needs_are_valued_per_month() {
    let mut live = tenant();
    for upn in ["a@contoso.com", "b@contoso.com", "c@contoso.com"] {
        live.users.push(LiveUser::new(upn).direct("SPE_E5", &[]).0);
    }
    live.users.push(LiveUser::new("n@contoso.com").0);
    let mut want = desired();
    want.settings.prices = vec![price("spe_e5", 5700), price("SPE_E3", 3600)];
    for upn in ["a@contoso.com", "b@contoso.com", "c@contoso.com"] {
        want_user(&mut want, upn, Some(vec![]));
    }
    want_user(&mut want, "n@contoso.com", Some(vec![lic("SPE_E3")]));
    let plan = run(&want, &live);
    let values = &plan.operations.seat_values;
    let e5 = values
        .iter()
        .find(|v| v.sku.part_number == "SPE_E5")
        .expect("E5");
    assert_eq!(
        (e5.freed, e5.freed_monthly.cents, e5.needed_monthly.cents),
        (3, 17_100, 0)
    );
    let e3 = values
        .iter()
        .find(|v| v.sku.part_number == "SPE_E3")
        .expect("E3");
    assert_eq!((e3.needed, e3.needed_monthly.cents), (1, 3600));
    let lines = crate::render::operations::lines(&plan);
    assert!(
        lines.contains(
            &"SPE_E5: frees 3 seat(s) worth EUR 171.00 per month (EUR 57.00 per seat)".to_owned()
        ),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"this plan reclaims EUR 171.00 per month".to_owned()),
        "{lines:?}"
    );
}

fn subscription(part: &str, total: i64, next: &str, trial: bool) -> CompanySubscription {
    CompanySubscription {
        id: format!("sub-{part}-{next}"),
        commerce_subscription_id: None,
        sku_id: sku_id(part),
        sku_part_number: Some(part.to_owned()),
        status: CapabilityStatus::Enabled,
        total_licenses: total,
        is_trial: trial,
        created_date_time: None,
        next_lifecycle_date_time: Some(next.to_owned()),
    }
}

/// A plan that gives 5 more users SPE_E5 (10 in use after), whose 12 seats come from a
/// subscription of 8 renewing on 2027-06-01 and a trial of 4 ending on 2026-12-20.
fn expiring() -> (TenantSnapshot, DesiredState) {
    let mut live = tenant();
    let mut want = desired();
    for i in 0..5 {
        let upn = format!("u{i}@contoso.com");
        live.users.push(LiveUser::new(&upn).0);
        want_user(&mut want, &upn, Some(vec![lic("SPE_E5")]));
    }
    let e5 = live
        .subscribed_skus
        .iter_mut()
        .find(|s| s.sku_part_number == "SPE_E5")
        .expect("E5");
    e5.prepaid_units.enabled = 12;
    e5.consumed_units = 5;
    live.subscriptions = vec![
        subscription("SPE_E5", 8, "2027-06-01T00:00:00Z", false),
        subscription("SPE_E5", 4, "2026-12-20T00:00:00Z", true),
    ];
    (live, want)
}

#[test]
fn a_plan_needing_seats_that_lapse_at_the_next_lifecycle_date_is_warned_with_the_date() {
    let (live, want) = expiring();
    let plan = run_now(&want, &live);
    assert_eq!(codes(&plan), vec![DiagnosticCode::SeatsExpire]);
    assert_eq!(
        plan.diagnostics[0].message,
        "SPE_E5: 4 of its 12 seats are on subscriptions (a trial) that reach their next lifecycle date on 2026-12-20; unless renewed, 8 remain for the 10 in use after this plan"
    );
    // Without "now" (or when the remaining seats suffice) nothing is said.
    assert!(codes(&run(&want, &live)).is_empty());
    let (mut live, want) = expiring();
    live.subscriptions[1].total_licenses = 2;
    live.subscriptions[0].total_licenses = 10;
    assert!(codes(&run_now(&want, &live)).is_empty());
}

/// The codes of the cases above that produce one, for the planner's producing-case test.
pub(super) fn produced_codes() -> Vec<DiagnosticCode> {
    let mut out = Vec::new();
    let (mut live, want) = reclaiming_inactive();
    for u in &mut live.users {
        u.sign_in_activity = None;
    }
    let found = codes(&run_now(&want, &live));
    assert_eq!(found, vec![DiagnosticCode::ActivityUnavailable]);
    out.extend(found);
    let (live, want) = reclaiming_inactive();
    let found = codes(&run_now(&want, &live));
    assert_eq!(found, vec![DiagnosticCode::NeverSignedIn]);
    out.extend(found);
    let (live, want) = expiring();
    let found = codes(&run_now(&want, &live));
    assert_eq!(found, vec![DiagnosticCode::SeatsExpire]);
    out.extend(found);
    let mut want = desired();
    want.settings.prices = vec![price("NOT_SUBSCRIBED", 100)];
    let found = codes(&run(&want, &tenant()));
    assert_eq!(found, vec![DiagnosticCode::PriceUnknownSku]);
    out.extend(found);
    out
}

// Reclaim: rules with `inactive_days` and `disabled_days`.

use crate::config::{Attribute, Condition, ConditionValue, RuleScope};
use crate::snapshot::{DirectoryAudit, SignInActivity, TargetResource};

fn days(n: u32) -> Condition {
    Condition::Is(ConditionValue::Days(n))
}

/// `days` before [`now`], as Graph writes times.
fn ago(days: i64) -> String {
    let at = now() - time::Duration::days(days);
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// A member holding SPE_E5 directly, last signed in `signed_in` days ago (`None`: never).
fn e5_holder(upn: &str, signed_in: Option<i64>) -> User {
    let mut user = LiveUser::new(upn).direct("SPE_E5", &[]).0;
    user.attributes.user_type = Some("Member".into());
    user.sign_in_activity = Some(Box::new(SignInActivity {
        last_successful_sign_in_date_time: signed_in.map(ago),
        ..SignInActivity::default()
    }));
    user
}

/// ann signed in 10 days ago, bob 200, cy never; one rule gives SPE_E5 to everyone in
/// scope except those inactive for 90 days.
fn reclaiming_inactive() -> (TenantSnapshot, DesiredState) {
    let mut live = tenant();
    live.users.extend([
        e5_holder("ann@contoso.com", Some(10)),
        e5_holder("bob@contoso.com", Some(200)),
        e5_holder("cy@contoso.com", None),
    ]);
    let mut want = desired();
    let mut rule = super::rules::rule("e5-for-active", Vec::new(), vec![lic("SPE_E5")]);
    rule.exclude = vec![super::rules::when(Attribute::InactiveDays, days(90))];
    want.rules.push(rule);
    (live, want)
}

fn removals(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .flat_map(|c| {
            c.remove.iter().map(move |r| {
                format!(
                    "{} -{}{}",
                    c.principal.name(),
                    r.sku.part_number,
                    if r.destructive { " (destructive)" } else { "" }
                )
            })
        })
        .collect()
}

#[test]
fn inactive_days_reclaims_from_users_inactive_that_long_but_not_from_those_who_never_signed_in() {
    let (live, want) = reclaiming_inactive();
    let plan = run_now(&want, &live);
    assert_eq!(
        removals(&plan),
        vec!["bob@contoso.com -SPE_E5 (destructive)"]
    );
    let never = plan
        .diagnostics
        .iter()
        .find(|d| d.code == DiagnosticCode::NeverSignedIn)
        .expect("never-signed-in");
    assert!(never.message.contains("1 user(s)") && never.message.contains("cy@contoso.com"));
    // One day fewer than the rule asks for keeps the license.
    let (mut live, want) = reclaiming_inactive();
    let bob = live.users.len() - 2;
    live.users[bob].sign_in_activity = Some(Box::new(SignInActivity {
        last_successful_sign_in_date_time: Some(ago(89)),
        ..SignInActivity::default()
    }));
    assert!(removals(&run_now(&want, &live)).is_empty());
}

#[test]
fn inactive_days_falls_back_to_the_last_sign_in_attempt() {
    let (mut live, want) = reclaiming_inactive();
    let bob = live.users.len() - 2;
    live.users[bob].sign_in_activity = Some(Box::new(SignInActivity {
        last_successful_sign_in_date_time: None,
        last_sign_in_date_time: Some(ago(5)),
        ..SignInActivity::default()
    }));
    assert!(removals(&run_now(&want, &live)).is_empty());
}

#[test]
fn without_sign_in_data_or_a_date_an_inactive_days_rule_matches_nobody_and_takes_nothing() {
    let (mut live, want) = reclaiming_inactive();
    for u in &mut live.users {
        u.sign_in_activity = None;
    }
    let plan = run_now(&want, &live);
    assert!(removals(&plan).is_empty(), "{:?}", removals(&plan));
    assert!(plan.changes.is_empty());
    assert_eq!(codes(&plan), vec![DiagnosticCode::ActivityUnavailable]);
    // No "now" (a library caller that gives none): the same.
    let (live, want) = reclaiming_inactive();
    let plan = run(&want, &live);
    assert!(plan.changes.is_empty());
    assert!(codes(&plan).contains(&DiagnosticCode::ActivityUnavailable));
}

fn disable_entry(user: &User, days_ago: i64) -> DirectoryAudit {
    DirectoryAudit {
        id: format!("disable-{}", user.user_principal_name),
        category: Some("UserManagement".into()),
        correlation_id: None,
        result: Some("success".into()),
        result_reason: None,
        activity_display_name: "Disable account".into(),
        activity_date_time: ago(days_ago),
        logged_by_service: Some("Core Directory".into()),
        operation_type: Some("Update".into()),
        initiated_by: None,
        target_resources: vec![TargetResource {
            id: Some(user.id.to_string()),
            display_name: None,
            kind: Some("User".into()),
            user_principal_name: Some(user.user_principal_name.clone()),
        }],
    }
}

/// dora disabled 40 days ago, eve 10 days ago, fay disabled with no audit entry, gil
/// enabled; the scope admits disabled members; SPE_E5 goes to all but those disabled
/// for 30 days.
fn reclaiming_disabled() -> (TenantSnapshot, DesiredState) {
    let mut live = tenant();
    let mut users: Vec<User> = ["dora", "eve", "fay", "gil"]
        .iter()
        .map(|n| e5_holder(&format!("{n}@contoso.com"), Some(100)))
        .collect();
    for u in &mut users[..3] {
        u.account_enabled = Some(false);
    }
    live.directory_audits = Some(vec![
        disable_entry(&users[0], 40),
        disable_entry(&users[1], 10),
    ]);
    live.users.extend(users);
    let mut want = desired();
    want.settings.rules_scope = RuleScope {
        matches: vec![super::rules::when(
            Attribute::UserType,
            super::rules::text("Member"),
        )],
        exclude: Vec::new(),
        location: Some(loc(7)),
    };
    let mut rule = super::rules::rule("e5-unless-disabled", Vec::new(), vec![lic("SPE_E5")]);
    rule.exclude = vec![super::rules::when(Attribute::DisabledDays, days(30))];
    want.rules.push(rule);
    (live, want)
}

#[test]
fn disabled_days_reclaims_by_the_audit_logs_disable_entry_and_never_guesses_a_date() {
    let (live, want) = reclaiming_disabled();
    let plan = run_now(&want, &live);
    assert_eq!(
        removals(&plan),
        vec!["dora@contoso.com -SPE_E5 (destructive)"]
    );
    // Without the audit log nobody is reclaimed.
    let (mut live, want) = reclaiming_disabled();
    live.directory_audits = None;
    let plan = run_now(&want, &live);
    assert!(plan.changes.is_empty(), "{:?}", removals(&plan));
    assert_eq!(codes(&plan), vec![DiagnosticCode::ActivityUnavailable]);
}

#[test]
fn reclaims_honour_protected_users_and_the_removal_threshold_and_price_the_seats_freed() {
    let (live, mut want) = reclaiming_disabled();
    want.settings.protected = vec![Located {
        value: PrincipalRef::User("dora@contoso.com".into()),
        location: loc(8),
    }];
    let plan = run_now(&want, &live);
    assert!(plan.safety.refused, "protected dora: {:?}", plan.safety);
    let (live, mut want) = reclaiming_inactive();
    want.settings.safety.max_removals = Some(0);
    let plan = run_now(&want, &live);
    assert!(plan.safety.refused, "{:?}", plan.safety);
    let (live, mut want) = reclaiming_inactive();
    want.settings.prices = vec![price("SPE_E5", 5700)];
    let plan = run_now(&want, &live);
    let value = plan
        .operations
        .seat_values
        .iter()
        .find(|v| v.sku.part_number == "SPE_E5")
        .expect("a seat value");
    assert_eq!(value.freed, 1);
    assert_eq!(value.freed_monthly.cents, 5700);
}
