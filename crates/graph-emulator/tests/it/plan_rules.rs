//! Service-plan rules on every `assignLicense`: dependencies on add, on removal, on a
//! `disabledPlans` update and on groups; mutual exclusion; stacked Exchange plans; the
//! opt-in widening of `disabledPlans`.

use std::time::Duration;

use crate::common::*;
use graph_emulator::EmulatorOptions;
use licensectl_model::snapshot::{AssignmentError, AssignmentStateKind, TenantSnapshot, User};
use serde_json::{Value, json};

fn user_of<'a>(snap: &'a TenantSnapshot, id: &str) -> &'a User {
    snap.users
        .iter()
        .find(|u| u.id.to_string() == id)
        .expect("user")
}

fn consumed(snap: &TenantSnapshot, sku: &str) -> i64 {
    snap.subscribed_skus
        .iter()
        .find(|s| s.sku_id.to_string() == sku)
        .map_or(0, |s| s.consumed_units)
}

fn add(sku: &str, disabled: &[&str]) -> Value {
    json!({"addLicenses": [{"skuId": sku, "disabledPlans": disabled}], "removeLicenses": []})
}

fn dependency_message() -> String {
    format!(
        "License assignment failed because service plan {WA_PLAN} depends on the service plan(s) {EX_STD},{EX_ENT}"
    )
}

async fn assign(emu: &Emu, user: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = emu
        .post(&format!("/users/{user}/assignLicense"), body)
        .await;
    (s, b)
}

async fn assign_group(emu: &Emu, group: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = emu
        .post(&format!("/groups/{group}/assignLicense"), body)
        .await;
    (s, b)
}

#[tokio::test]
async fn exchange_online_plans_stack_and_take_two_seats() {
    let emu = start().await;
    // Alice holds E3 (Exchange Online Plan 2); E1 brings Plan 1.
    let (s, b) = assign(&emu, ALICE, add(E1, &[])).await;
    assert_eq!(s, 200, "{b}");
    let snap = emu.snapshot().await;
    let alice = user_of(&snap, ALICE);
    assert_eq!(alice.assigned_licenses.len(), 2);
    assert!(
        alice
            .license_assignment_states
            .iter()
            .all(|s| s.state == AssignmentStateKind::Active)
    );
    assert_eq!((consumed(&snap, E3), consumed(&snap, E1)), (2, 1));
}

#[tokio::test]
async fn a_removal_or_disabled_plan_that_takes_a_prerequisite_away_is_refused() {
    let emu = start().await;
    let (s, b) = assign(&emu, ALICE, add(WA, &[])).await;
    assert_eq!(
        s, 200,
        "E3's Exchange Online Plan 2 is the prerequisite: {b}"
    );
    let before = emu.snapshot().await;
    let cases = [
        (
            "removing E3",
            json!({"addLicenses": [], "removeLicenses": [E3]}),
        ),
        ("disabling Exchange in E3", add(E3, &[EX_ENT])),
    ];
    for (name, body) in cases {
        let (s, b) = assign(&emu, ALICE, body).await;
        assert_eq!(
            (s, error_code(&b)),
            (400, "Request_BadRequest"),
            "{name}: {b}"
        );
        assert_eq!(b["error"]["message"], dependency_message(), "{name}");
    }
    assert_eq!(emu.snapshot().await, before, "refused calls change nothing");
    // A swap that keeps a prerequisite in the same call is fine: E1 has Plan 1.
    let (s, b) = assign(
        &emu,
        ALICE,
        json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": [E3]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Removing the dependent itself is always allowed.
    let (s, b) = assign(
        &emu,
        ALICE,
        json!({"addLicenses": [], "removeLicenses": [WA]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_group_needs_the_prerequisite_in_the_same_group() {
    let emu = start().await;
    let (s, b) = assign_group(&emu, G2, add(WA, &[])).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["message"], dependency_message());
    let both = json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}, {"skuId": WA, "disabledPlans": []}], "removeLicenses": []});
    let (s, b) = assign_group(&emu, G2, both).await;
    assert_eq!(s, 202, "{b}");
    let snap = emu.snapshot().await;
    assert_eq!(user_of(&snap, DAVE).assigned_licenses.len(), 2);
    for (name, body) in [
        (
            "removing the prerequisite",
            json!({"addLicenses": [], "removeLicenses": [E1]}),
        ),
        ("disabling it", add(E1, &[EX_STD])),
    ] {
        let (s, b) = assign_group(&emu, G2, body).await;
        assert_eq!(s, 400, "{name}: {b}");
        assert_eq!(b["error"]["message"], dependency_message(), "{name}");
    }
}

#[tokio::test]
async fn a_member_who_still_needs_a_removed_group_license_keeps_it_with_a_dependency_error() {
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            group_processing: Duration::from_millis(50),
            ..EmulatorOptions::default()
        },
    )
    .await;
    // Carol's Exchange comes from G1's E3; she gets Workplace Analytics directly.
    let (s, b) = assign(&emu, CAROL, add(WA, &[])).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = assign_group(&emu, G1, json!({"addLicenses": [], "removeLicenses": [E3]})).await;
    assert_eq!(s, 202, "the group itself has no dependent plan: {b}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, _, g) = emu
        .get(&format!("/groups/{G1}?$select=licenseProcessingState"))
        .await;
    assert_eq!(g["licenseProcessingState"]["state"], "ProcessingComplete");
    let snap = emu.snapshot().await;
    let carol = user_of(&snap, CAROL);
    let e3 = carol
        .license_assignment_states
        .iter()
        .find(|s| s.sku_id.to_string() == E3)
        .expect("the group's copy stays");
    assert_eq!(e3.state, AssignmentStateKind::ActiveWithError);
    assert_eq!(e3.error, Some(AssignmentError::DependencyViolation));
    assert_eq!(e3.assigned_by_group.map(|g| g.to_string()), Some(G1.into()));
    assert_eq!(consumed(&snap, E3), 2, "it still takes its seat");
    assert!(
        emu.running
            .emulator
            .license_history()
            .interruptions
            .is_empty()
    );
}

#[tokio::test]
async fn group_members_with_a_conflicting_plan_get_mutually_exclusive_errors() {
    let emu = start().await;
    let (s, b) = assign(&emu, DAVE, add(PSTN1, &[])).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = assign_group(&emu, G2, add(PSTN2, &[])).await;
    assert_eq!(s, 202, "{b}");
    let snap = emu.snapshot().await;
    let dave = user_of(&snap, DAVE);
    let pstn2 = dave
        .license_assignment_states
        .iter()
        .find(|s| s.sku_id.to_string() == PSTN2)
        .expect("state");
    assert_eq!(pstn2.state, AssignmentStateKind::Error);
    assert_eq!(
        pstn2.error,
        Some(AssignmentError::MutuallyExclusiveViolation)
    );
    let erin = user_of(&snap, ERIN);
    assert!(
        erin.assigned_licenses
            .iter()
            .any(|l| l.sku_id.to_string() == PSTN2)
    );
    let (_, _, groups) = emu
        .get("/groups?$filter=hasMembersWithLicenseErrors eq true")
        .await;
    assert_eq!(groups["value"][0]["id"], G2);
}

const PROJECT: &str = "53818b1b-4a27-454b-8896-0dba576410e6";
const SP_PROJECT: &str = "fe71d6c3-a2ea-4499-9778-da042bf08063";
const SP_ENT: &str = "5dbe027f-2339-4123-9542-606e4d348a72";

/// The fixture plus Planner and Project Plan 3, whose Project Online plan needs the
/// SharePoint (Plan 2) it carries: a rule of the emulator's built-in table only.
fn with_project() -> TenantSnapshot {
    let mut t = tenant_json();
    t["subscribedSkus"].as_array_mut().expect("skus").push(json!({
        "appliesTo": "User", "capabilityStatus": "Enabled", "consumedUnits": 0,
        "prepaidUnits": {"enabled": 5, "suspended": 0, "warning": 0, "lockedOut": 0},
        "servicePlans": [
            {"servicePlanId": SP_PROJECT, "servicePlanName": "SHAREPOINT_PROJECT"},
            {"servicePlanId": SP_ENT, "servicePlanName": "SHAREPOINTENTERPRISE"},
            {"servicePlanId": "fafd7243-e5c1-4a3a-9e40-495efcb1d3c3", "servicePlanName": "PROJECT_CLIENT_SUBSCRIPTION"},
        ],
        "skuId": PROJECT, "skuPartNumber": "PROJECTPROFESSIONAL",
    }));
    serde_json::from_value(t).expect("snapshot")
}

#[tokio::test]
async fn built_in_rules_apply_by_default_and_can_be_turned_off() {
    let emu = start_with(with_project(), EmulatorOptions::default()).await;
    let (s, b) = assign(&emu, DAVE, add(PROJECT, &[SP_ENT])).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        b["error"]["message"],
        format!(
            "License assignment failed because service plan {SP_PROJECT} depends on the service plan(s) {SP_ENT}"
        )
    );
    let emu = start_with(
        with_project(),
        EmulatorOptions {
            known_plan_rules: false,
            ..EmulatorOptions::default()
        },
    )
    .await;
    let (s, b) = assign(&emu, DAVE, add(PROJECT, &[SP_ENT])).await;
    assert_eq!(s, 200, "only the file's rules: {b}");
}

#[tokio::test]
async fn opt_in_dependents_are_disabled_with_their_prerequisite() {
    let emu = start_with(
        with_project(),
        EmulatorOptions {
            disable_dependent_plans: true,
            ..EmulatorOptions::default()
        },
    )
    .await;
    let (s, b) = assign(&emu, DAVE, add(PROJECT, &[SP_ENT])).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["assignedLicenses"][0]["disabledPlans"],
        json!([SP_ENT, SP_PROJECT]),
        "the write's answer shows the widened list"
    );
    let (_, _, read) = emu
        .get(&format!(
            "/users/{DAVE}?$select=assignedLicenses,licenseAssignmentStates"
        ))
        .await;
    assert_eq!(
        read["licenseAssignmentStates"][0]["disabledPlans"],
        json!([SP_ENT, SP_PROJECT])
    );
    // A prerequisite in another license is still refused: Workplace Analytics stays.
    let (s, _) = assign(&emu, ALICE, add(WA, &[])).await;
    assert_eq!(s, 200);
    let (s, b) = assign(&emu, ALICE, add(E3, &[EX_ENT])).await;
    assert_eq!(s, 400, "{b}");
}
