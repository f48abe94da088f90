//! Planner tests: one per rule, built from small in-code tenants and desired states.

use std::collections::BTreeSet;
use std::path::Path;

use uuid::Uuid;

use crate::config::{
    DesiredGroup, DesiredLicense, DesiredState, DesiredUser, GroupKey, Located, PlanRef,
    PlanSelection, PrincipalRef, SkuRef,
};
use crate::diagnostic::{DiagnosticCode, Location, Stage};
use crate::ids::{GroupId, ServicePlanId, SkuId, TenantId, UserId};
use crate::snapshot::{
    AppliesTo, AssignedLicense, AssignmentError, AssignmentStateKind, CapabilityStatus, Group,
    LicenseAssignmentState, LicenseUnitsDetail, ServicePlanInfo, SubscribedSku, TenantSnapshot,
    User,
};

use super::model::{FindingKind, Plan, SafetyViolation};
use super::planner::plan_in;
use super::{PlanOptions, plan};

// ---- ids ------------------------------------------------------------------------------

fn guid(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128((kind << 96) | n)
}
fn sku_id(part: &str) -> SkuId {
    SkuId::new(guid(1, hash(part)))
}
fn plan_id(name: &str) -> ServicePlanId {
    ServicePlanId::new(guid(2, hash(name)))
}
fn user_id(upn: &str) -> UserId {
    UserId::new(guid(3, hash(upn)))
}
fn group_id(name: &str) -> GroupId {
    GroupId::new(guid(4, hash(name)))
}
fn hash(s: &str) -> u128 {
    s.bytes()
        .fold(7u128, |h, b| (h * 31 + u128::from(b)) % (1 << 90))
}
fn loc(line: usize) -> Location {
    Location {
        file: Path::new("licenses/test.yaml").into(),
        line,
        column: 3,
    }
}

// ---- live tenant ----------------------------------------------------------------------

const E3_PLANS: &[&str] = &[
    "EXCHANGE_S_ENTERPRISE",
    "TEAMS1",
    "YAMMER_ENTERPRISE",
    "SWAY",
];

fn sku(part: &str, plans: &[&str], enabled: i64, consumed: i64) -> SubscribedSku {
    SubscribedSku {
        id: None,
        account_id: None,
        account_name: None,
        applies_to: AppliesTo::User,
        capability_status: CapabilityStatus::Enabled,
        consumed_units: consumed,
        prepaid_units: LicenseUnitsDetail {
            enabled,
            ..LicenseUnitsDetail::default()
        },
        service_plans: plans
            .iter()
            .map(|p| ServicePlanInfo {
                service_plan_id: plan_id(p),
                service_plan_name: (*p).to_owned(),
                provisioning_status: None,
                applies_to: Some(AppliesTo::User),
            })
            .collect(),
        sku_id: sku_id(part),
        sku_part_number: part.to_owned(),
        subscription_ids: Vec::new(),
    }
}

fn tenant() -> TenantSnapshot {
    let mut company = sku("CRMSTORAGE", &["CRMSTORAGE"], 10, 0);
    company.applies_to = AppliesTo::Company;
    let mut suspended = sku("STREAM", &["MICROSOFTSTREAM"], 0, 0);
    suspended.capability_status = CapabilityStatus::Suspended;
    TenantSnapshot {
        version: 1,
        tenant_id: TenantId::new(guid(9, 1)),
        tenant_domain: Some("contoso.onmicrosoft.com".to_owned()),
        verified_domains: Vec::new(),
        subscribed_skus: vec![
            sku("SPE_E3", E3_PLANS, 100, 0),
            sku(
                "SPE_E5",
                &[
                    "EXCHANGE_S_ENTERPRISE",
                    "TEAMS1",
                    "YAMMER_ENTERPRISE",
                    "MCOEV",
                ],
                100,
                0,
            ),
            sku("EMS", &["AAD_PREMIUM", "INTUNE_A"], 100, 0),
            sku(
                "POWER_BI_PRO",
                &["BI_AZURE_P2", "EXCHANGE_S_FOUNDATION"],
                100,
                0,
            ),
            company,
            suspended,
        ],
        users: Vec::new(),
        groups: Vec::new(),
        subscriptions: Vec::new(),
        directory_audits: None,
        apps: Vec::new(),
        service_plan_rules: Default::default(),
    }
}

struct LiveUser(User);

impl LiveUser {
    fn new(upn: &str) -> Self {
        LiveUser(User {
            account_enabled: Some(true),
            usage_location: Some("US".to_owned()),
            ..User::new(user_id(upn), upn)
        })
    }
    fn location(mut self, location: Option<&str>) -> Self {
        self.0.usage_location = location.map(str::to_owned);
        self
    }
    fn state(mut self, part: &str, disabled: &[&str], group: Option<&str>) -> Self {
        let disabled: Vec<ServicePlanId> = disabled.iter().map(|p| plan_id(p)).collect();
        if !self
            .0
            .assigned_licenses
            .iter()
            .any(|l| l.sku_id == sku_id(part))
        {
            self.0.assigned_licenses.push(AssignedLicense {
                sku_id: sku_id(part),
                disabled_plans: disabled.clone(),
            });
        }
        self.0
            .license_assignment_states
            .push(LicenseAssignmentState {
                sku_id: sku_id(part),
                disabled_plans: disabled,
                assigned_by_group: group.map(group_id),
                state: AssignmentStateKind::Active,
                error: None,
                last_updated_date_time: None,
            });
        self
    }
    fn direct(self, part: &str, disabled: &[&str]) -> Self {
        self.state(part, disabled, None)
    }
    fn inherited(self, part: &str, group: &str) -> Self {
        self.state(part, &[], Some(group))
    }
}

fn live_group(name: &str, licenses: &[(&str, &[&str])], members: &[&str]) -> Group {
    Group {
        id: group_id(name),
        display_name: name.to_owned(),
        mail_nickname: Some(name.to_lowercase()),
        security_enabled: true,
        assigned_licenses: licenses
            .iter()
            .map(|(part, disabled)| AssignedLicense {
                sku_id: sku_id(part),
                disabled_plans: disabled.iter().map(|p| plan_id(p)).collect(),
            })
            .collect(),
        license_processing_state: None,
        members: members.iter().map(|m| user_id(m)).collect(),
    }
}

// ---- desired state --------------------------------------------------------------------

fn lic(part: &str) -> DesiredLicense {
    DesiredLicense {
        sku: Located {
            value: SkuRef::PartNumber(part.to_owned()),
            location: loc(20),
        },
        plans: PlanSelection::All,
        from_profile: None,
        location: loc(20),
    }
}
fn plans(names: &[&str]) -> Vec<Located<PlanRef>> {
    names
        .iter()
        .map(|n| Located {
            value: PlanRef::Name((*n).to_owned()),
            location: loc(21),
        })
        .collect()
}
fn lic_disabled(part: &str, disabled: &[&str]) -> DesiredLicense {
    DesiredLicense {
        plans: PlanSelection::Disabled(plans(disabled)),
        ..lic(part)
    }
}
fn lic_enabled(part: &str, enabled: &[&str]) -> DesiredLicense {
    DesiredLicense {
        plans: PlanSelection::Enabled(plans(enabled)),
        ..lic(part)
    }
}

fn desired() -> DesiredState {
    DesiredState::default()
}

fn want_user(state: &mut DesiredState, upn: &str, licenses: Option<Vec<DesiredLicense>>) {
    let line = state.users.len() + 1;
    state.users.push(DesiredUser {
        upn: upn.to_owned(),
        location: loc(line),
        usage_location: None,
        licenses,
    });
}
fn want_group(state: &mut DesiredState, key: GroupKey, licenses: Option<Vec<DesiredLicense>>) {
    let line = state.groups.len() + 100;
    state.groups.push(DesiredGroup {
        key,
        location: loc(line),
        licenses,
    });
}

fn run(desired: &DesiredState, live: &TenantSnapshot) -> Plan {
    plan(desired, live, &PlanOptions::default())
}

fn codes(plan: &Plan) -> Vec<DiagnosticCode> {
    plan.diagnostics.iter().map(|d| d.code).collect()
}

// ---- rules ----------------------------------------------------------------------------

#[test]
fn a_sku_swap_is_one_change_with_add_and_remove() {
    let mut live = tenant();
    live.users
        .push(LiveUser::new("bob@contoso.com").direct("SPE_E3", &[]).0);
    let mut want = desired();
    want_user(&mut want, "bob@contoso.com", Some(vec![lic("SPE_E5")]));
    let plan = run(&want, &live);
    assert_eq!(codes(&plan), Vec::<DiagnosticCode>::new());
    assert_eq!(plan.changes.len(), 1);
    let change = &plan.changes[0];
    assert_eq!(change.add.len(), 1);
    assert_eq!(change.add[0].sku.part_number, "SPE_E5");
    assert_eq!(change.remove.len(), 1);
    assert_eq!(change.remove[0].sku.part_number, "SPE_E3");
    // E5 brings Exchange too, so no mailbox grace period starts, and a swap in one call
    // leaves no gap: not destructive.
    assert!(!change.remove[0].exchange_grace);
    assert!(!change.remove[0].destructive);
    assert_eq!(
        change.remove[0]
            .swapped_for
            .iter()
            .map(|s| s.part_number.as_str())
            .collect::<Vec<_>>(),
        vec!["SPE_E5"]
    );
    let request = change.assign_license_request();
    assert_eq!(request.add_licenses.len(), 1);
    assert_eq!(request.remove_licenses, vec![sku_id("SPE_E3")]);
    assert_eq!(
        (plan.summary.add, plan.summary.change, plan.summary.remove),
        (1, 0, 1)
    );
}

#[test]
fn a_swap_that_drops_the_last_exchange_plan_stays_destructive() {
    let mut live = tenant();
    live.users
        .push(LiveUser::new("bob@contoso.com").direct("SPE_E3", &[]).0);
    let mut want = desired();
    want_user(
        &mut want,
        "bob@contoso.com",
        Some(vec![lic("POWER_BI_PRO")]),
    );
    let plan = run(&want, &live);
    let removed = &plan.changes[0].remove[0];
    assert!(removed.exchange_grace, "POWER_BI_PRO has no mailbox");
    assert!(removed.destructive);
    assert_eq!(removed.swapped_for.len(), 1);
}

#[test]
fn a_service_plan_change_is_an_in_place_update_never_remove_and_add() {
    let mut live = tenant();
    live.users
        .push(LiveUser::new("alice@contoso.com").direct("SPE_E3", &[]).0);
    let mut want = desired();
    want_user(
        &mut want,
        "alice@contoso.com",
        Some(vec![lic_disabled("SPE_E3", &["YAMMER_ENTERPRISE"])]),
    );
    let plan = run(&want, &live);
    let change = &plan.changes[0];
    assert!(change.add.is_empty() && change.remove.is_empty());
    assert_eq!(change.update.len(), 1);
    let update = &change.update[0];
    assert_eq!(update.disable.len(), 1);
    assert_eq!(update.disable[0].name, "YAMMER_ENTERPRISE");
    assert!(update.enable.is_empty());
    let request = change.assign_license_request();
    assert_eq!(
        request.add_licenses[0].disabled_plans,
        vec![plan_id("YAMMER_ENTERPRISE")]
    );
    assert!(request.remove_licenses.is_empty());
    assert_eq!(plan.seats[..], []);
}

#[test]
fn disabled_plans_compare_as_sets() {
    let mut live = tenant();
    live.users.push(
        LiveUser::new("a@contoso.com")
            .direct("SPE_E3", &["YAMMER_ENTERPRISE", "SWAY"])
            .0,
    );
    let mut want = desired();
    want_user(
        &mut want,
        "a@contoso.com",
        Some(vec![lic_disabled("SPE_E3", &["SWAY", "YAMMER_ENTERPRISE"])]),
    );
    assert!(!run(&want, &live).has_changes);
}

#[test]
fn inherited_licenses_are_never_removed_and_removals_name_the_group() {
    let mut live = tenant();
    live.groups.push(live_group(
        "SG-E3",
        &[("SPE_E3", &[])],
        &["grace@contoso.com", "ivan@contoso.com"],
    ));
    live.users.push(
        LiveUser::new("grace@contoso.com")
            .direct("SPE_E3", &[])
            .inherited("SPE_E3", "SG-E3")
            .0,
    );
    live.users.push(
        LiveUser::new("ivan@contoso.com")
            .inherited("SPE_E3", "SG-E3")
            .0,
    );
    let mut want = desired();
    want_user(&mut want, "grace@contoso.com", Some(vec![]));
    want_user(&mut want, "ivan@contoso.com", Some(vec![]));
    let plan = run(&want, &live);
    // ivan holds E3 only through the group: nothing to do.
    assert_eq!(plan.changes.len(), 1);
    let change = &plan.changes[0];
    assert_eq!(change.principal.name(), "grace@contoso.com");
    assert_eq!(change.remove.len(), 1);
    let removal = &change.remove[0];
    assert!(!removal.destructive, "grace keeps E3 through the group");
    assert!(!removal.exchange_grace);
    assert_eq!(removal.still_inherited_from.len(), 1);
    assert_eq!(removal.still_inherited_from[0].name(), "SG-E3");
    // Removing a duplicate frees no seat.
    assert_eq!(plan.seats[0].freed, 0);
    // The removed duplicate is not also reported as a duplicate.
    assert!(plan.findings.is_empty());
}

#[test]
fn a_removal_is_destructive_when_the_same_plan_takes_the_sku_from_the_granting_group() {
    let mut live = tenant();
    live.groups.push(live_group(
        "SG-E3",
        &[("SPE_E3", &[])],
        &["grace@contoso.com"],
    ));
    live.users.push(
        LiveUser::new("grace@contoso.com")
            .direct("SPE_E3", &[])
            .inherited("SPE_E3", "SG-E3")
            .0,
    );
    let mut want = desired();
    want_group(&mut want, GroupKey::Name("SG-E3".to_owned()), Some(vec![]));
    want_user(&mut want, "grace@contoso.com", Some(vec![]));
    let plan = run(&want, &live);
    let grace = plan
        .changes
        .iter()
        .find(|c| c.principal.name() == "grace@contoso.com")
        .expect("grace changes");
    let removal = &grace.remove[0];
    assert!(
        removal.still_inherited_from.is_empty(),
        "the group loses SPE_E3 in the same plan: {removal:?}"
    );
    assert!(
        removal.destructive,
        "grace holds SPE_E3 from nowhere after the plan"
    );
}

#[test]
fn a_direct_duplicate_of_an_inherited_license_is_reported_not_removed() {
    let mut live = tenant();
    live.groups.push(live_group(
        "SG-E3",
        &[("SPE_E3", &[])],
        &["m@contoso.com", "u@contoso.com"],
    ));
    for upn in ["m@contoso.com", "u@contoso.com"] {
        live.users.push(
            LiveUser::new(upn)
                .direct("SPE_E3", &[])
                .inherited("SPE_E3", "SG-E3")
                .0,
        );
    }
    let mut want = desired();
    want_user(&mut want, "m@contoso.com", Some(vec![lic("SPE_E3")]));
    let plan = run(&want, &live);
    assert!(!plan.has_changes);
    let found: Vec<(FindingKind, &str, bool)> = plan
        .findings
        .iter()
        .map(|f| (f.kind, f.principal.name(), f.managed))
        .collect();
    assert_eq!(
        found,
        vec![
            (FindingKind::DuplicateOfInherited, "m@contoso.com", true),
            (FindingKind::DuplicateOfInherited, "u@contoso.com", false),
        ]
    );
    assert_eq!(
        plan.findings[0].group.as_ref().map(|g| g.name()),
        Some("SG-E3")
    );
}

#[test]
fn plans_turned_off_on_a_user_but_on_in_the_group_are_reported() {
    let mut live = tenant();
    live.groups
        .push(live_group("SG-E3", &[("SPE_E3", &[])], &["a@contoso.com"]));
    live.users.push(
        LiveUser::new("a@contoso.com")
            .inherited("SPE_E3", "SG-E3")
            .0,
    );
    let mut want = desired();
    want_user(
        &mut want,
        "a@contoso.com",
        Some(vec![lic_disabled("SPE_E3", &["YAMMER_ENTERPRISE"])]),
    );
    let plan = run(&want, &live);
    assert!(plan.changes[0].add[0].already_inherited);
    assert_eq!(
        plan.seats[0].needed, 0,
        "the user already holds E3 from the group"
    );
    assert_eq!(plan.findings.len(), 1);
    assert_eq!(plan.findings[0].kind, FindingKind::InheritedOverrides);
    assert_eq!(plan.findings[0].plans[0].name, "YAMMER_ENTERPRISE");
}

#[test]
fn usage_location_is_set_first_from_the_user_then_the_default() {
    struct Case {
        user_location: Option<&'static str>,
        default: Option<&'static str>,
        live: Option<&'static str>,
        expect_step: Option<(Option<&'static str>, &'static str)>,
        expect_error: bool,
    }
    let cases = [
        Case {
            user_location: Some("DE"),
            default: Some("US"),
            live: None,
            expect_step: Some((None, "DE")),
            expect_error: false,
        },
        Case {
            user_location: None,
            default: Some("US"),
            live: None,
            expect_step: Some((None, "US")),
            expect_error: false,
        },
        Case {
            user_location: None,
            default: None,
            live: None,
            expect_step: None,
            expect_error: true,
        },
        Case {
            user_location: None,
            default: Some("US"),
            live: Some("FR"),
            expect_step: None,
            expect_error: false,
        },
        // An explicit usage location that differs is corrected even without new licenses.
        Case {
            user_location: Some("GB"),
            default: None,
            live: Some("FR"),
            expect_step: Some((Some("FR"), "GB")),
            expect_error: false,
        },
    ];
    for (n, case) in cases.iter().enumerate() {
        let mut live = tenant();
        live.users
            .push(LiveUser::new("erin@contoso.com").location(case.live).0);
        let mut want = desired();
        want.settings.default_usage_location = case.default.map(|d| Located {
            value: d.to_owned(),
            location: loc(7),
        });
        want_user(&mut want, "erin@contoso.com", Some(vec![lic("SPE_E3")]));
        want.users[0].usage_location = case.user_location.map(|d| Located {
            value: d.to_owned(),
            location: loc(8),
        });
        let plan = run(&want, &live);
        let step = plan.changes[0]
            .usage_location
            .as_ref()
            .map(|s| (s.from.as_deref(), s.to.as_str()));
        assert_eq!(step, case.expect_step, "case {n}");
        assert_eq!(
            codes(&plan).contains(&DiagnosticCode::UsageLocationMissing),
            case.expect_error,
            "case {n}"
        );
        if case.expect_error {
            assert!(plan.diagnostics[0].message.contains("erin@contoso.com"));
            assert_eq!(plan.diagnostics[0].location, Some(loc(1)));
        }
    }
}

#[test]
fn seats_count_group_members_once_per_user_whatever_the_sources() {
    let mut live = tenant();
    // 3 members: one already has E5 directly, one gains it directly in the same plan.
    live.groups.push(live_group(
        "SG-E5",
        &[],
        &["a@contoso.com", "b@contoso.com", "c@contoso.com"],
    ));
    live.users
        .push(LiveUser::new("a@contoso.com").direct("SPE_E5", &[]).0);
    live.users.push(LiveUser::new("b@contoso.com").0);
    live.users.push(LiveUser::new("c@contoso.com").0);
    live.users.push(LiveUser::new("d@contoso.com").0);
    let e5 = live
        .subscribed_skus
        .iter_mut()
        .find(|s| s.sku_part_number == "SPE_E5")
        .expect("E5");
    e5.prepaid_units.enabled = 2;
    e5.consumed_units = 1;
    let mut want = desired();
    want_group(
        &mut want,
        GroupKey::Name("SG-E5".into()),
        Some(vec![lic("SPE_E5")]),
    );
    want_user(&mut want, "b@contoso.com", Some(vec![lic("SPE_E5")]));
    want_user(&mut want, "d@contoso.com", Some(vec![lic("SPE_E5")]));
    let plan = run(&want, &live);
    let row = &plan.seats[0];
    assert_eq!(row.sku.part_number, "SPE_E5");
    // b (group + direct: one seat), c (group), d (direct) = 3; free = 2 - 1 = 1.
    assert_eq!(
        (row.free, row.needed, row.freed, row.consumed_after),
        (1, 3, 0, 4)
    );
    assert!(row.oversubscribed);
    let seat_error = plan
        .diagnostics
        .iter()
        .find(|d| d.code == DiagnosticCode::SeatsExhausted)
        .expect("seat error");
    assert_eq!(
        seat_error.message,
        "SPE_E5: plan needs 3 more seats, 1 are free"
    );
    assert!(plan.has_errors());
}

#[test]
fn seats_freed_by_the_plan_count_as_available() {
    let mut live = tenant();
    live.users
        .push(LiveUser::new("a@contoso.com").direct("SPE_E3", &[]).0);
    live.users.push(LiveUser::new("b@contoso.com").0);
    let e3 = &mut live.subscribed_skus[0];
    e3.prepaid_units.enabled = 1;
    e3.consumed_units = 1;
    let mut want = desired();
    want_user(&mut want, "a@contoso.com", Some(vec![]));
    want_user(&mut want, "b@contoso.com", Some(vec![lic("SPE_E3")]));
    let plan = run(&want, &live);
    let row = &plan.seats[0];
    assert_eq!((row.free, row.needed, row.freed), (0, 1, 1));
    assert!(!row.oversubscribed);
    assert!(!plan.has_errors());
}

#[test]
fn a_plan_missing_from_an_allowlist_is_drift_with_the_update_that_turns_it_off() {
    let mut live = tenant();
    // The group's disabledPlans predate SWAY, so SWAY is on.
    live.groups.push(live_group(
        "SG-E3",
        &[("SPE_E3", &["YAMMER_ENTERPRISE"])],
        &[],
    ));
    let mut want = desired();
    want_group(
        &mut want,
        GroupKey::Name("sg-e3".into()),
        Some(vec![lic_enabled(
            "SPE_E3",
            &["EXCHANGE_S_ENTERPRISE", "TEAMS1"],
        )]),
    );
    let plan = run(&want, &live);
    assert_eq!(plan.changes.len(), 1);
    let update = &plan.changes[0].update[0];
    assert_eq!(
        update
            .disable
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["SWAY"]
    );
    assert_eq!(update.disabled_plans.len(), 2);
    assert_eq!(plan.findings.len(), 1);
    assert_eq!(plan.findings[0].kind, FindingKind::PlanOutsideAllowlist);
    assert_eq!(plan.findings[0].plans[0].name, "SWAY");
    // Group in-place updates need no seats.
    assert_eq!(plan.seats.len(), 0);
}

#[test]
fn license_errors_are_reported_with_a_fix() {
    let table = [
        (AssignmentError::CountViolation, "not enough seats"),
        (AssignmentError::MutuallyExclusiveViolation, "conflicts"),
        (AssignmentError::DependencyViolation, "needs another plan"),
        (
            AssignmentError::ProhibitedInUsageLocationViolation,
            "usage location (US)",
        ),
        (AssignmentError::UniquenessViolation, "proxy address"),
        (AssignmentError::Other, "unspecified"),
    ];
    for (error, words) in table {
        let mut live = tenant();
        live.groups.push(live_group(
            "Frontline",
            &[("SPE_E3", &[])],
            &["sam@contoso.com"],
        ));
        let mut user = LiveUser::new("sam@contoso.com").0;
        user.license_assignment_states.push(LicenseAssignmentState {
            sku_id: sku_id("SPE_E3"),
            disabled_plans: Vec::new(),
            assigned_by_group: Some(group_id("Frontline")),
            state: AssignmentStateKind::Error,
            error: Some(error.clone()),
            last_updated_date_time: None,
        });
        live.users.push(user);
        let plan = run(&desired(), &live);
        assert_eq!(plan.findings.len(), 1, "{error:?}");
        let finding = &plan.findings[0];
        assert_eq!(finding.kind, FindingKind::AssignmentError);
        assert_eq!(
            finding.error.as_deref(),
            Some(format!("{error:?}").as_str())
        );
        assert!(
            finding.message.contains(words),
            "{error:?}: {}",
            finding.message
        );
        assert!(finding.message.contains("from group Frontline"));
        assert!(!finding.fix.is_empty());
        assert!(plan.has_drift() && !plan.has_changes);
    }
}

fn removal_tenant(users: usize) -> (TenantSnapshot, DesiredState) {
    let mut live = tenant();
    let mut want = desired();
    for n in 0..users {
        let upn = format!("u{n}@contoso.com");
        live.users.push(LiveUser::new(&upn).direct("SPE_E3", &[]).0);
        want_user(&mut want, &upn, Some(vec![]));
    }
    (live, want)
}

#[test]
fn safety_refusals_state_the_numbers_and_the_override() {
    // max_removals
    let (live, mut want) = removal_tenant(4);
    want.settings.safety.max_removals = Some(3);
    let plan = run(&want, &live);
    assert!(plan.safety.refused);
    assert_eq!(
        plan.safety.violations,
        vec![SafetyViolation::MaxRemovals {
            removals: 4,
            limit: 3
        }]
    );
    let text = super::safety::describe(&plan.safety.violations[0]);
    assert!(
        text.contains("removes 4 licenses")
            && text.contains("(3)")
            && text.contains("--allow-unsafe"),
        "{text}"
    );
    let allowed = plan_with(&want, &live, true);
    assert!(!allowed.safety.refused);
    assert_eq!(
        allowed.safety.violations.len(),
        1,
        "still reported when overridden"
    );

    // max_change_percent: 2 of 4 managed principals changed = 50% > 40%.
    let (mut live, mut want) = removal_tenant(2);
    for upn in ["k1@contoso.com", "k2@contoso.com"] {
        live.users.push(LiveUser::new(upn).0);
        want_user(&mut want, upn, Some(vec![]));
    }
    want.settings.safety.max_change_percent = Some(40.0);
    let plan = run(&want, &live);
    assert_eq!(
        plan.safety.violations,
        vec![SafetyViolation::MaxChangePercent {
            changed: 2,
            managed: 4,
            percent: 50.0,
            limit: 40.0
        }]
    );
    assert!(plan.safety.refused);
    want.settings.safety.max_change_percent = Some(50.0);
    assert!(
        !run(&want, &live).safety.refused,
        "the limit itself is allowed"
    );

    // Group removals count every member.
    let mut live = tenant();
    live.groups.push(live_group(
        "SG",
        &[("EMS", &[])],
        &["a@x.com", "b@x.com", "c@x.com"],
    ));
    let mut want = desired();
    want.settings.safety.max_removals = Some(2);
    want_group(&mut want, GroupKey::Id(group_id("SG")), Some(vec![]));
    let plan = run(&want, &live);
    assert_eq!(plan.safety.removals, 3);
    assert!(plan.safety.refused);
}

fn plan_with(want: &DesiredState, live: &TenantSnapshot, allow_unsafe: bool) -> Plan {
    plan(
        want,
        live,
        &PlanOptions {
            allow_unsafe,
            ..PlanOptions::default()
        },
    )
}

#[test]
fn protected_principals_never_lose_a_license_even_with_allow_unsafe() {
    let mut live = tenant();
    live.users
        .push(LiveUser::new("ceo@contoso.com").direct("SPE_E5", &[]).0);
    let mut want = desired();
    want.settings.protected.push(Located {
        value: PrincipalRef::User("CEO@contoso.com".into()),
        location: loc(15),
    });
    want_user(&mut want, "ceo@contoso.com", Some(vec![lic("SPE_E3")]));
    let plan = plan_with(&want, &live, true);
    assert!(plan.safety.refused);
    match &plan.safety.violations[..] {
        [SafetyViolation::Protected { principal, skus }] => {
            assert_eq!(principal.name(), "ceo@contoso.com");
            assert_eq!(skus[0].part_number, "SPE_E5");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Gaining a license or an in-place update is fine.
    want.users[0].licenses = Some(vec![lic("SPE_E5"), lic("EMS")]);
    assert!(!run(&want, &live).safety.refused);
}

#[test]
fn omitted_is_unmanaged_and_empty_means_no_direct_licenses() {
    let mut live = tenant();
    for upn in [
        "omitted@contoso.com",
        "nolist@contoso.com",
        "empty@contoso.com",
    ] {
        live.users.push(LiveUser::new(upn).direct("SPE_E3", &[]).0);
    }
    live.groups
        .push(live_group("G-omitted", &[("EMS", &[])], &[]));
    live.groups
        .push(live_group("G-nolist", &[("EMS", &[])], &[]));
    let mut want = desired();
    want_user(&mut want, "nolist@contoso.com", None);
    want_user(&mut want, "empty@contoso.com", Some(vec![]));
    want_group(&mut want, GroupKey::Name("G-nolist".into()), None);
    let plan = run(&want, &live);
    let changed: Vec<&str> = plan.changes.iter().map(|c| c.principal.name()).collect();
    assert_eq!(changed, ["empty@contoso.com"]);
    assert_eq!(plan.summary.managed_users, 1);
    assert_eq!(
        plan.summary.unmanaged_licensed_users, 1,
        "declared users are never unmanaged"
    );
    assert_eq!(plan.summary.unmanaged_licensed_groups, 1);
}

#[test]
fn users_without_assignment_states_hold_their_licenses_directly() {
    let mut live = tenant();
    let mut user = LiveUser::new("old@contoso.com").0;
    user.assigned_licenses.push(AssignedLicense {
        sku_id: sku_id("SPE_E3"),
        disabled_plans: vec![plan_id("SWAY")],
    });
    live.users.push(user);
    let mut want = desired();
    want_user(
        &mut want,
        "old@contoso.com",
        Some(vec![lic_disabled("SPE_E3", &["SWAY"])]),
    );
    assert!(!run(&want, &live).has_changes);
    want.users[0].licenses = Some(vec![]);
    let plan = run(&want, &live);
    assert_eq!(plan.changes[0].remove.len(), 1);
    assert_eq!(plan.seats[0].freed, 1);
}

#[test]
fn removing_the_last_exchange_plan_is_flagged() {
    let mut live = tenant();
    live.users
        .push(LiveUser::new("carol@contoso.com").direct("SPE_E3", &[]).0);
    let mut want = desired();
    want_user(
        &mut want,
        "carol@contoso.com",
        Some(vec![lic("POWER_BI_PRO")]),
    );
    let plan = run(&want, &live);
    let removal = &plan.changes[0].remove[0];
    assert!(removal.destructive && removal.exchange_grace);
    // With Exchange disabled in the removed copy, no mailbox is affected.
    live.users[0] = LiveUser::new("carol@contoso.com")
        .direct("SPE_E3", &["EXCHANGE_S_ENTERPRISE"])
        .0;
    assert!(!run(&want, &live).changes[0].remove[0].exchange_grace);
}

/// A desired-state edit that provokes one resolution problem.
type Setup = fn(&mut DesiredState);

/// One resolution problem: name, the edit of [`desired`] that provokes it against
/// [`resolution_tenant`], the one code it produces and the help it gives (when checked).
type ResolutionCase = (&'static str, Setup, DiagnosticCode, Option<&'static str>);

/// The tenant the resolution cases run against: alice, two groups named Copilot and a
/// group that is not security-enabled.
fn resolution_tenant() -> TenantSnapshot {
    let mut live = tenant();
    live.users
        .push(LiveUser::new("alice@contoso.com").direct("SPE_E3", &[]).0);
    live.groups.push(live_group("Copilot", &[], &[]));
    let mut twin = live_group("Copilot", &[], &[]);
    twin.id = group_id("Copilot-2");
    twin.mail_nickname = Some("copilot-emea".into());
    live.groups.push(twin);
    let mut insecure = live_group("Marketing", &[], &[]);
    insecure.security_enabled = false;
    live.groups.push(insecure);
    live
}

fn resolution_cases() -> &'static [ResolutionCase] {
    &[
        (
            "unknown sku",
            |w| want_user(w, "alice@contoso.com", Some(vec![lic("SPE_E7")])),
            DiagnosticCode::UnknownSku,
            Some("did you mean SPE_E3?"),
        ),
        (
            "sku by unknown id",
            |w| {
                let mut l = lic("x");
                l.sku.value = SkuRef::Id(sku_id("NOPE"));
                want_user(w, "alice@contoso.com", Some(vec![l]));
            },
            DiagnosticCode::UnknownSku,
            None,
        ),
        (
            "plan not in sku",
            |w| {
                want_user(
                    w,
                    "alice@contoso.com",
                    Some(vec![lic_disabled("SPE_E3", &["YAMMER_ENTERPRIS"])]),
                )
            },
            DiagnosticCode::UnknownServicePlan,
            Some("did you mean YAMMER_ENTERPRISE?"),
        ),
        (
            "company sku",
            |w| want_user(w, "alice@contoso.com", Some(vec![lic("CRMSTORAGE")])),
            DiagnosticCode::CompanySku,
            None,
        ),
        (
            "suspended sku",
            |w| want_user(w, "alice@contoso.com", Some(vec![lic("STREAM")])),
            DiagnosticCode::SkuUnavailable,
            None,
        ),
        (
            "duplicate sku",
            |w| {
                want_user(
                    w,
                    "alice@contoso.com",
                    Some(vec![lic("SPE_E3"), lic("spe_e3")]),
                )
            },
            DiagnosticCode::DuplicateSku,
            None,
        ),
        (
            "unknown upn",
            |w| want_user(w, "alcie@contoso.com", Some(vec![])),
            DiagnosticCode::UnknownUser,
            Some("did you mean alice@contoso.com?"),
        ),
        (
            "no such group",
            |w| want_group(w, GroupKey::Name("Copilt".into()), Some(vec![])),
            DiagnosticCode::UnknownGroup,
            Some("did you mean Copilot?"),
        ),
        (
            "ambiguous group",
            |w| want_group(w, GroupKey::Name("copilot".into()), Some(vec![])),
            DiagnosticCode::AmbiguousGroup,
            Some("name the group by its object id instead"),
        ),
        (
            "group not security-enabled",
            |w| {
                want_group(
                    w,
                    GroupKey::Name("marketing".into()),
                    Some(vec![lic("EMS")]),
                )
            },
            DiagnosticCode::GroupNotSecurityEnabled,
            None,
        ),
        (
            "tenant mismatch",
            |w| {
                w.settings.tenant = Some(Located {
                    value: "fabrikam.onmicrosoft.com".into(),
                    location: loc(5),
                })
            },
            DiagnosticCode::TenantMismatch,
            None,
        ),
        (
            "tenant id mismatch",
            |w| {
                w.settings.tenant = Some(Located {
                    value: guid(9, 2).to_string(),
                    location: loc(5),
                })
            },
            DiagnosticCode::TenantMismatch,
            None,
        ),
        (
            "protected user missing",
            |w| {
                w.settings.protected.push(Located {
                    value: PrincipalRef::User("nobody@contoso.com".into()),
                    location: loc(15),
                })
            },
            DiagnosticCode::UnknownUser,
            None,
        ),
        (
            "group declared twice",
            |w| {
                want_group(w, GroupKey::Name("copilot-emea".into()), Some(vec![]));
                want_group(w, GroupKey::Id(group_id("Copilot-2")), Some(vec![]));
            },
            DiagnosticCode::DuplicatePrincipal,
            None,
        ),
    ]
}

#[test]
fn resolution_problems_are_located_diagnostics_with_suggestions() {
    let live = resolution_tenant();
    for (name, setup, code, help) in resolution_cases() {
        let mut want = desired();
        setup(&mut want);
        let plan = run(&want, &live);
        assert_eq!(codes(&plan), vec![*code], "{name}: {:?}", plan.diagnostics);
        let diagnostic = &plan.diagnostics[0];
        assert!(diagnostic.location.is_some(), "{name}");
        if *code == DiagnosticCode::DuplicatePrincipal {
            assert_eq!(diagnostic.related[0].1, "first declared here", "{name}");
            assert_ne!(
                Some(&diagnostic.related[0].0),
                diagnostic.location.as_ref(),
                "{name}"
            );
        }
        if let Some(help) = help {
            assert_eq!(diagnostic.help.as_deref(), Some(*help), "{name}");
        }
        // A principal with a resolution error is never changed (no accidental removals).
        assert!(!plan.has_changes, "{name}");
    }
    // A matching pin (by domain, any case, or by id) is fine.
    for pin in ["Contoso.onmicrosoft.com".to_owned(), guid(9, 1).to_string()] {
        let mut want = desired();
        want.settings.tenant = Some(Located {
            value: pin,
            location: loc(5),
        });
        assert!(run(&want, &live).diagnostics.is_empty());
    }
}

/// A tenant and desired-state edit that provokes one planning problem beyond resolution.
type PlanningSetup = fn(&mut TenantSnapshot, &mut DesiredState);

/// Declares that erin@contoso.com (in the tenant, with a usage location) gets SPE_E5;
/// returns the tenant's SPE_E5 to adjust.
fn erin_gains_e5<'a>(
    live: &'a mut TenantSnapshot,
    want: &mut DesiredState,
) -> &'a mut SubscribedSku {
    live.users.push(LiveUser::new("erin@contoso.com").0);
    want_user(want, "erin@contoso.com", Some(vec![lic("SPE_E5")]));
    live.subscribed_skus
        .iter_mut()
        .find(|s| s.sku_part_number == "SPE_E5")
        .expect("the test tenant has SPE_E5")
}

/// The tenant's own rule: SPE_E5's MCOEV needs TEAMS1 on.
fn mcoev_needs_teams(live: &mut TenantSnapshot) {
    live.service_plan_rules
        .dependencies
        .push(crate::snapshot::PlanDependency {
            plan: plan_id("MCOEV"),
            requires: vec![plan_id("TEAMS1")],
        });
}

#[test]
fn every_plan_code_has_a_producing_case() {
    // Each case gives exactly these codes (a SKU with grace units always warns that they
    // lapse, so the grace cases name two).
    let planning: &[(&str, PlanningSetup, &[DiagnosticCode])] = &[
        (
            "pinned domain, snapshot without domains",
            |live, want| {
                live.tenant_domain = None;
                want.settings.tenant = Some(Located {
                    value: "contoso.onmicrosoft.com".into(),
                    location: loc(5),
                });
            },
            &[DiagnosticCode::TenantUnverified],
        ),
        (
            "user gains a license without a usage location",
            |live, want| {
                live.users
                    .push(LiveUser::new("erin@contoso.com").location(None).0);
                want_user(want, "erin@contoso.com", Some(vec![lic("SPE_E3")]));
            },
            &[DiagnosticCode::UsageLocationMissing],
        ),
        (
            "no free seats",
            |live, want| erin_gains_e5(live, want).prepaid_units.enabled = 0,
            &[DiagnosticCode::SeatsExhausted],
        ),
        (
            "seats added to a subscription in its grace period",
            |live, want| erin_gains_e5(live, want).capability_status = CapabilityStatus::Warning,
            &[DiagnosticCode::SkuExpiring],
        ),
        (
            "seats taken from units in their grace period",
            |live, want| {
                let e5 = erin_gains_e5(live, want);
                e5.prepaid_units.enabled = 0;
                e5.prepaid_units.warning = 5;
            },
            &[
                DiagnosticCode::GraceUnitsLapse,
                DiagnosticCode::SeatsInGrace,
            ],
        ),
        (
            "a touched SKU with units in their grace period",
            |live, want| erin_gains_e5(live, want).prepaid_units.warning = 3,
            &[DiagnosticCode::GraceUnitsLapse],
        ),
        (
            "impossible seat counts",
            |live, want| erin_gains_e5(live, want).prepaid_units.enabled = i64::MIN,
            &[DiagnosticCode::InvalidSeatCounts],
        ),
        (
            "a capabilityStatus this build does not know",
            |live, want| {
                erin_gains_e5(live, want).capability_status =
                    CapabilityStatus::Unknown("Expiring".into())
            },
            &[DiagnosticCode::UnknownSkuStatus],
        ),
        (
            "a user gains a plan without the plan it depends on",
            |live, want| {
                mcoev_needs_teams(live);
                live.users.push(LiveUser::new("erin@contoso.com").0);
                want_user(
                    want,
                    "erin@contoso.com",
                    Some(vec![lic_disabled("SPE_E5", &["TEAMS1"])]),
                );
            },
            &[DiagnosticCode::DependencyUnmet],
        ),
        (
            "a rule matches no user",
            |live, want| {
                live.users.push(LiveUser::new("erin@contoso.com").0);
                want.rules.push(rules::rule(
                    "sales",
                    vec![rules::when(
                        crate::config::Attribute::Department,
                        rules::text("Slaes"),
                    )],
                    vec![lic("POWER_BI_PRO")],
                ));
            },
            &[DiagnosticCode::RuleMatchesNobody],
        ),
        (
            "a group gains an add-on without its prerequisite in the group",
            |live, want| {
                mcoev_needs_teams(live);
                live.groups.push(live_group("SG-E5", &[], &[]));
                want_group(
                    want,
                    GroupKey::Name("SG-E5".into()),
                    Some(vec![lic_disabled("SPE_E5", &["TEAMS1"])]),
                );
            },
            &[DiagnosticCode::GroupDependencyUnmet],
        ),
    ];
    let mut produced = BTreeSet::new();
    let live = resolution_tenant();
    for (name, setup, code, _) in resolution_cases() {
        let mut want = desired();
        setup(&mut want);
        let found = codes(&run(&want, &live));
        assert!(found.contains(code), "{name}: {found:?}");
        produced.extend(found);
    }
    for (name, setup, expected) in planning {
        let mut live = tenant();
        let mut want = desired();
        setup(&mut live, &mut want);
        let mut found = codes(&run(&want, &live));
        found.sort();
        assert_eq!(found, *expected, "{name}");
        produced.extend(found);
    }
    produced.extend(ops::produced_codes());
    let plan_codes: BTreeSet<DiagnosticCode> = DiagnosticCode::of_stage(Stage::Plan).collect();
    assert_eq!(
        produced, plan_codes,
        "every code the planner emits needs a producing case here, and only those"
    );
}

#[test]
fn planning_is_deterministic_whatever_the_input_order() {
    let mut live = tenant();
    live.groups
        .push(live_group("SG-E3", &[("SPE_E3", &[])], &["c@contoso.com"]));
    for (upn, part) in [
        ("a@contoso.com", "SPE_E3"),
        ("b@contoso.com", "EMS"),
        ("c@contoso.com", "SPE_E5"),
    ] {
        live.users.push(LiveUser::new(upn).direct(part, &[]).0);
    }
    let mut want = desired();
    for upn in ["a@contoso.com", "b@contoso.com", "c@contoso.com"] {
        want_user(
            &mut want,
            upn,
            Some(vec![lic("POWER_BI_PRO"), lic("SPE_E5")]),
        );
    }
    want_group(
        &mut want,
        GroupKey::Name("SG-E3".into()),
        Some(vec![lic("EMS")]),
    );
    let first = run(&want, &live);
    live.users.reverse();
    live.subscribed_skus.reverse();
    want.users.reverse();
    for user in &mut want.users {
        if let Some(l) = user.licenses.as_mut() {
            l.reverse();
        }
    }
    let second = run(&want, &live);
    assert_eq!(first, second);
    let names: Vec<&str> = first.changes.iter().map(|c| c.principal.name()).collect();
    assert_eq!(
        names,
        ["SG-E3", "a@contoso.com", "b@contoso.com", "c@contoso.com"]
    );
}

/// Entries sorted in two halves side by side and merged come out in the order of one
/// sort of the whole list: for lists of 0 to 300 notes of users and groups with repeated
/// names in other cases, kinds, SKUs and groups, halves pre-sorted or not.
#[test]
fn entries_sorted_in_halves_side_by_side_come_out_as_one_sort_orders_them() {
    use super::model::{Note, NoteKind, Principal, SkuName};
    let note = |i: u32| {
        let principal = if i.is_multiple_of(7) {
            Principal::Group {
                id: GroupId::new(Uuid::from_u128(u128::from(i % 5))),
                name: format!("Group {}", i % 3),
            }
        } else {
            Principal::User {
                id: UserId::new(Uuid::from_u128(u128::from(i % 11))),
                name: if i.is_multiple_of(2) {
                    format!("U{}@x", i % 13)
                } else {
                    format!("u{}@x", i % 13)
                },
            }
        };
        Note {
            kind: if i.is_multiple_of(4) {
                NoteKind::GraphDisabledDependents
            } else {
                NoteKind::KeptThroughGroup
            },
            principal,
            sku: SkuName {
                part_number: format!("SKU{}", i % 3),
                id: SkuId::new(Uuid::from_u128(u128::from(i % 3))),
            },
            group: (i.is_multiple_of(3)).then(|| Principal::Group {
                id: GroupId::new(Uuid::from_u128(u128::from(i % 2))),
                name: "g".into(),
            }),
            plans: Vec::new(),
            // Tells apart entries whose keys are equal (kept in list order).
            message: i.to_string(),
        }
    };
    fn parts(n: &Note) -> (NoteKind, &Principal, &SkuName, Option<&Principal>) {
        (n.kind, &n.principal, &n.sku, n.group.as_ref())
    }
    type Key<'x> = (
        NoteKind,
        (u8, std::borrow::Cow<'x, str>, Uuid),
        &'x SkuName,
        Option<(u8, std::borrow::Cow<'x, str>, Uuid)>,
    );
    fn key(n: &Note) -> Key<'_> {
        (
            n.kind,
            n.principal.sort_key(),
            &n.sku,
            n.group.as_ref().map(Principal::sort_key),
        )
    }
    for len in (0..300).step_by(7).chain([1, 2, 3, 299]) {
        for presorted in [false, true] {
            let mut list: Vec<Note> = (0..len)
                .map(|i: u32| note(i.wrapping_mul(2_654_435_761) % 1_000))
                .collect();
            if presorted {
                let mid = list.len() / 2;
                super::planner::sort_entries_from(&mut list[..mid], parts, usize::MAX);
                super::planner::sort_entries_from(&mut list[mid..], parts, usize::MAX);
            }
            let mut whole = list.clone();
            super::planner::sort_entries_from(&mut whole, parts, usize::MAX);
            let mut halves = list.clone();
            super::planner::sort_entries_from(&mut halves, parts, 2);
            assert_eq!(halves, whole, "{len} notes, presorted {presorted}");
            // And the one sort is a stable sort by the keys.
            let mut reference = list;
            reference.sort_by(|a, b| key(a).cmp(&key(b)));
            assert_eq!(whole, reference, "{len} notes");
        }
    }
}

mod ops;
mod realism;
mod rules;

/// A config and tenant large enough for the two-halves paths (the UPN lookups and
/// license resolution in `resolve`, the snapshot's duplicate checks): each declared user
/// is matched to its own live user, unknown users and SKUs are diagnosed at their own
/// line in either half, a repeated declaration only as a duplicate (its licenses never
/// reported), and a duplicate UPN in the tenant is still found.
#[test]
fn a_large_config_resolves_in_order_on_the_parallel_paths() {
    let mut live = tenant();
    let n = 60_000;
    for i in 0..n {
        let upn = format!("user{i}@contoso.com");
        live.users.push(LiveUser::new(&upn).direct("SPE_E3", &[]).0);
    }
    let misspelled = [7, 12_345, 40_001, 59_998];
    // Users who list a SKU the tenant does not have.
    let bad_sku = [5, 29_999, 30_001, 59_000];
    // Users whose declaration drops their license: every third one.
    let drops = |i: usize| i.is_multiple_of(3);
    let mut state = desired();
    for i in (0..n).rev() {
        let upn = if misspelled.contains(&i) {
            format!("usr{i}@contoso.com")
        } else {
            format!("USER{i}@contoso.com")
        };
        let licenses = if bad_sku.contains(&i) {
            vec![lic("NO_SUCH_SKU")]
        } else if drops(i) {
            vec![]
        } else {
            vec![lic("SPE_E3")]
        };
        want_user(&mut state, &upn, Some(licenses));
    }
    // User 20,000 again, last: a duplicate, whose unknown SKU is never looked at.
    want_user(
        &mut state,
        "user20000@contoso.com",
        Some(vec![lic("NO_SUCH_SKU")]),
    );
    let plan = run(&state, &live);
    let lines_of = |code: DiagnosticCode| -> Vec<usize> {
        let mut lines: Vec<usize> = plan
            .diagnostics
            .iter()
            .filter(|d| d.code == code)
            .filter_map(|d| d.location.as_ref().map(|l| l.line))
            .collect();
        lines.sort_unstable();
        lines
    };
    let unknown_skus: Vec<&str> = plan
        .diagnostics
        .iter()
        .filter(|d| d.code == DiagnosticCode::UnknownSku)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(unknown_skus.len(), bad_sku.len(), "{unknown_skus:?}");
    for i in bad_sku {
        let upn = format!("USER{i}@contoso.com");
        assert!(
            unknown_skus.iter().any(|m| m.contains(&upn)),
            "{upn}: {unknown_skus:?}"
        );
    }
    assert_eq!(lines_of(DiagnosticCode::DuplicatePrincipal), vec![n + 1]);
    assert!(
        plan.changes.iter().all(|c| !bad_sku
            .iter()
            .any(|i| c.principal.name() == format!("user{i}@contoso.com"))),
        "a user with an unknown SKU is left out of the plan"
    );
    let mut unknown: Vec<usize> = plan
        .diagnostics
        .iter()
        .filter(|d| d.code == DiagnosticCode::UnknownUser)
        .filter_map(|d| d.location.as_ref().map(|l| l.line))
        .collect();
    unknown.sort_unstable();
    // Declared in reverse: user i is on line n - i.
    let mut expected: Vec<usize> = misspelled.iter().map(|i| n - i).collect();
    expected.sort_unstable();
    assert_eq!(unknown, expected);
    let mut removed: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| !c.remove.is_empty())
        .map(|c| c.principal.name().to_owned())
        .collect();
    removed.sort_unstable();
    let mut expected: Vec<String> = (0..n)
        .filter(|&i| drops(i) && !misspelled.contains(&i) && !bad_sku.contains(&i))
        .map(|i| format!("user{i}@contoso.com"))
        .collect();
    expected.sort_unstable();
    assert_eq!(removed, expected);

    live.users.push(LiveUser::new("User1@Contoso.com").0);
    let problems = live.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("user1@contoso.com (2 times)"),
        "{problems:?}"
    );
}

proptest::proptest! {
    /// Sorting by borrowed keys (`sorted_order`, then `apply_order`) gives what a stable
    /// sort by the same keys gives, whatever the keys and their repeats.
    #[test]
    fn sorting_by_borrowed_keys_is_a_stable_sort(
        keys in proptest::collection::vec(0u8..6, 0..200),
    ) {
        let items: Vec<(u8, usize)> = keys.iter().copied().zip(0..).collect();
        let mut expected = items.clone();
        expected.sort_by_key(|(key, _)| *key);
        let mut sorted = items;
        let order = super::model::sorted_order(sorted.iter().map(|(key, _)| key).collect());
        super::model::apply_order(&mut sorted, order);
        proptest::prop_assert_eq!(sorted, expected);
    }
}

/// A principal's sort key orders groups before users, then by lowercase name, then by
/// id exactly as the id's text sorts (the key keeps the GUID, not its text).
#[test]
fn principals_sort_by_kind_then_lowercase_name_then_id_text() {
    use super::model::Principal;
    let ids = [
        "0a000000-0000-4000-8000-000000000000",
        "a0000000-0000-4000-8000-000000000000",
        "09ffffff-ffff-4fff-bfff-ffffffffffff",
        "00000000-0000-4000-8000-00000000000b",
        "00000000-0000-4000-8000-0000000000a0",
    ];
    let mut principals = Vec::new();
    for id in ids {
        let uuid = Uuid::parse_str(id).expect("a GUID");
        for name in ["Émile@contoso.com", "bob@contoso.com", "Bob@contoso.com"] {
            principals.push(Principal::User {
                id: UserId::new(uuid),
                name: name.into(),
            });
        }
        principals.push(Principal::Group {
            id: GroupId::new(uuid),
            name: "Zeta".into(),
        });
    }
    let mut expected = principals.clone();
    expected.sort_by_cached_key(|p| {
        let rank = u8::from(matches!(p, Principal::User { .. }));
        (rank, p.name().to_lowercase(), p.id_string())
    });
    principals.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    assert_eq!(principals, expected);
}

/// `n` users of every kind for the planner's parallel paths, user `i` of kind `i % 8`:
/// removals, adds without a usage location, direct copies of what a group grants and of
/// what a group loses (declared and not), failed assignments (declared and not), users in
/// sync and plan changes; one group loses its license.
fn mixed_tenant(n: usize) -> (TenantSnapshot, DesiredState) {
    let mut live = tenant();
    let mut state = desired();
    // A group the config takes SPE_E5 from (so it no longer grants it), and one that
    // keeps granting EMS.
    live.groups
        .push(live_group("Losing", &[("SPE_E5", &[])], &[]));
    live.groups
        .push(live_group("Keeping", &[("EMS", &[])], &[]));
    want_group(
        &mut state,
        GroupKey::Name("Losing".to_owned()),
        Some(vec![]),
    );
    for i in 0..n {
        let upn = format!("user{i}@contoso.com");
        let (user, declared) = match i % 8 {
            // Declared, loses SPE_E3.
            0 => (LiveUser::new(&upn).direct("SPE_E3", &[]), Some(vec![])),
            // Declared, gains EMS without a usage location.
            1 => (LiveUser::new(&upn).location(None), Some(vec![lic("EMS")])),
            // Declared, a direct copy of what a group grants (and of what the losing one
            // no longer will).
            2 => (
                LiveUser::new(&upn)
                    .direct("EMS", &[])
                    .inherited("EMS", "Keeping")
                    .direct("SPE_E5", &[])
                    .inherited("SPE_E5", "Losing"),
                Some(vec![lic("EMS"), lic("SPE_E5")]),
            ),
            // Not declared, the same copies.
            3 => (
                LiveUser::new(&upn)
                    .direct("EMS", &[])
                    .inherited("EMS", "Keeping"),
                None,
            ),
            // A failed group assignment, declared and not.
            4 | 5 => {
                let mut user = LiveUser::new(&upn).direct("SPE_E3", &[]);
                user.0
                    .license_assignment_states
                    .push(LicenseAssignmentState {
                        sku_id: sku_id("EMS"),
                        disabled_plans: Vec::new(),
                        assigned_by_group: Some(group_id("Keeping")),
                        state: AssignmentStateKind::Error,
                        error: Some(AssignmentError::CountViolation),
                        last_updated_date_time: None,
                    });
                (user, (i % 8 == 4).then(|| vec![lic("SPE_E3")]))
            }
            // Declared and in sync; a plan change of a declared user.
            6 => (
                LiveUser::new(&upn).direct("SPE_E3", &[]),
                Some(vec![lic("SPE_E3")]),
            ),
            _ => (
                LiveUser::new(&upn).direct("SPE_E5", &["TEAMS1"]),
                Some(vec![lic("SPE_E5")]),
            ),
        };
        live.users.push(user.0);
        if let Some(licenses) = declared {
            want_user(&mut state, &upn, Some(licenses));
        }
    }
    (live, state)
}

#[test]
fn a_large_tenant_plans_the_same_on_the_parallel_paths_as_in_one_pass() {
    let n = 60_000;
    let (live, state) = mixed_tenant(n);
    let options = PlanOptions::default();
    // 45,000 declared users of 60,000: both parallel paths.
    let parallel = plan_in(&state, &live, None, &options, 40_000);
    let one_pass = plan_in(&state, &live, None, &options, usize::MAX);
    // Everything the mix is meant to produce is there, in quantity.
    let findings = |kind: FindingKind| parallel.findings.iter().filter(|f| f.kind == kind).count();
    assert_eq!(findings(FindingKind::AssignmentError), 2 * n / 8);
    assert!(findings(FindingKind::DuplicateOfInherited) >= 2 * n / 8);
    assert_eq!(
        parallel.changes.len(),
        3 * n / 8 + 1,
        "removals, adds, updates, a group"
    );
    assert!(
        codes(&parallel).contains(&DiagnosticCode::UsageLocationMissing),
        "{:?}",
        codes(&parallel)
    );
    assert_eq!(parallel.summary.managed_users, (6 * n / 8) as u64);
    assert_eq!(
        parallel.summary.unmanaged_licensed_users,
        (2 * n / 8) as u64
    );
    assert!(!parallel.seats.is_empty());
    assert_eq!(parallel, one_pass);
}

#[test]
fn rule_users_plan_the_same_beside_a_large_config_on_the_parallel_paths() {
    let n = 60_000;
    let (mut live, mut state) = mixed_tenant(n);
    // The undeclared users with direct copies of a group's license are Sales members,
    // whom a rule gives POWER_BI_PRO: governed, no longer unmanaged.
    for user in live.users.iter_mut().skip(3).step_by(8) {
        user.attributes.user_type = Some("Member".into());
        user.attributes.department = Some("Sales".into());
    }
    state.rules.push(rules::sales_gets_pbi());
    let options = PlanOptions::default();
    let parallel = plan_in(&state, &live, None, &options, 40_000);
    let one_pass = plan_in(&state, &live, None, &options, usize::MAX);
    assert_eq!(parallel.summary.rule_users, (n / 8) as u64);
    assert_eq!(parallel.changes.len(), 4 * n / 8 + 1, "the rule's adds too");
    assert_eq!(parallel.summary.unmanaged_licensed_users, (n / 8) as u64);
    assert_eq!(parallel, one_pass);
}

/// The JSON document of a large plan is rendered in blocks on two threads; it is the very
/// document serde writes, with every top-level field (`rules` and `operations` set and
/// not, lists empty and not), and blocks of every size against the lists' lengths.
#[test]
fn a_large_plan_renders_as_json_on_two_threads_byte_for_byte_as_serde_does() {
    use crate::plan::prices::{Money, SeatValue};
    use crate::render::{Mode, json};
    let n = 4_000;
    let (mut live, mut state) = mixed_tenant(n);
    for user in live.users.iter_mut().skip(3).step_by(8) {
        user.attributes.user_type = Some("Member".into());
        user.attributes.department = Some("Sales".into());
    }
    let without_rules = plan(&state, &live, &PlanOptions::default());
    state.rules.push(rules::sales_gets_pbi());
    let mut with_everything = plan(&state, &live, &PlanOptions::default());
    assert!(with_everything.rules.is_some());
    let money = |cents| Money {
        currency: "EUR".into(),
        cents,
    };
    with_everything.operations.seat_values.push(SeatValue {
        sku: crate::plan::fixture::sku(1, "SPE_E3"),
        price: money(3_600),
        freed: 2,
        needed: 1,
        freed_monthly: money(7_200),
        needed_monthly: money(3_600),
    });
    let mut empty = without_rules.clone();
    empty.changes.clear();
    empty.findings.clear();
    empty.notes.clear();
    for plan in [&without_rules, &with_everything, &empty] {
        assert!(plan.changes.len() + plan.notes.len() > 1_000 || plan.notes.is_empty());
        for block in [1, 2, 7, 512, 100_000] {
            for mode in [Mode::Plan, Mode::Drift] {
                let (serde, split) = json::both_ways(plan, mode, block);
                assert!(serde == split, "block {block}: the split rendering differs");
            }
        }
    }
}

/// A plan that looks users up in the index the snapshot's reader built is the plan that
/// builds its own; an index of another list (of another length) is not used.
#[test]
fn a_plan_with_the_readers_index_of_users_is_the_plan_without_it() {
    use crate::snapshot::UserIndex;
    let (live, state) = mixed_tenant(8_000);
    let options = PlanOptions::default();
    let own = plan(&state, &live, &options);
    let (problems, index) = live.problems_and_index();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(super::plan_indexed(&state, &live, &index, &options), own);
    let other = UserIndex::new(&live.users[1..]);
    assert_eq!(super::plan_indexed(&state, &live, &other, &options), own);
    assert!(own.summary.managed_users > 0 && !own.changes.is_empty());
}
