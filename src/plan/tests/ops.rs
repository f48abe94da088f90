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
