//! Seats as Graph counts them: `enabled − consumed` assignable by default, units in their
//! grace period (`warning`) only on request, suspended and locked-out units never, and no
//! seat at all in a SKU whose subscription is not Enabled or Warning.

use crate::common::*;
use graph_emulator::EmulatorOptions;
use licensectl_model::snapshot::{AssignmentError, AssignmentStateKind, TenantSnapshot};
use serde_json::{Value, json};

const GROUP: &str = "b0000000-0000-4000-8000-0000000000a1";

fn user_id(i: usize) -> String {
    format!("a0000000-0000-4000-8000-00000000{i:04}")
}

/// `users` unlicensed US users (all members of one licensed-nothing group) and E3 with
/// `capabilityStatus` and `prepaidUnits` as given, `consumed` of them taken by other users.
fn tenant_with(status: &str, units: Value, consumed: i64, users: usize) -> TenantSnapshot {
    let ids: Vec<String> = (0..users).map(user_id).collect();
    let t = json!({
        "version": 1,
        "tenantId": TENANT,
        "subscribedSkus": [{
            "appliesTo": "User", "capabilityStatus": status, "consumedUnits": consumed,
            "prepaidUnits": units, "skuId": E3, "skuPartNumber": "ENTERPRISEPACK",
            "servicePlans": [{"servicePlanId": TEAMS, "servicePlanName": "TEAMS1"}],
        }],
        "users": ids.iter().enumerate().map(|(i, id)| json!({
            "id": id, "userPrincipalName": format!("u{i}@contoso.com"), "usageLocation": "US",
        })).collect::<Vec<_>>(),
        "groups": [{"id": GROUP, "displayName": "sg", "securityEnabled": true, "members": ids}],
        "apps": tenant_json()["apps"],
    });
    serde_json::from_value(t).expect("snapshot")
}

fn grace() -> TenantSnapshot {
    // The Contoso example's ENTERPRISEPACK: 15 enabled, 15 in grace, 5 consumed.
    tenant_with(
        "Warning",
        json!({"enabled": 15, "warning": 15, "suspended": 0, "lockedOut": 0}),
        5,
        30,
    )
}

async fn assign_each(emu: &Emu, users: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..users {
        let (s, _, _) = emu
            .post(
                &format!("/users/{}/assignLicense", user_id(i)),
                json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        out.push(s);
    }
    out
}

#[tokio::test]
async fn only_enabled_units_are_assignable_by_default() {
    let emu = start_with(grace(), EmulatorOptions::default()).await;
    let statuses = assign_each(&emu, 12).await;
    assert_eq!(statuses[..10], [200; 10], "15 enabled − 5 consumed");
    assert_eq!(
        statuses[10..],
        [400, 400],
        "warning units are not assignable"
    );
    let (_, _, b) = emu
        .post(
            &format!("/users/{}/assignLicense", user_id(11)),
            json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(
        b["error"]["message"],
        format!("Subscription with SKU {E3} does not have any available licenses.")
    );
}

#[tokio::test]
async fn warning_units_are_assignable_only_when_asked() {
    let emu = start_with(
        grace(),
        EmulatorOptions {
            grace_units_assignable: true,
            ..EmulatorOptions::default()
        },
    )
    .await;
    let statuses = assign_each(&emu, 26).await;
    assert_eq!(statuses[..25], [200; 25], "15 + 15 − 5");
    assert_eq!(statuses[25], 400);
}

#[tokio::test]
async fn suspended_locked_out_and_deleted_subscriptions_give_no_seat() {
    let cases = [
        (
            "Suspended",
            json!({"enabled": 0, "warning": 0, "suspended": 10, "lockedOut": 0}),
        ),
        (
            "LockedOut",
            json!({"enabled": 0, "warning": 0, "suspended": 0, "lockedOut": 10}),
        ),
        // Counts that say otherwise do not help a SKU whose status refuses.
        (
            "Suspended",
            json!({"enabled": 5, "warning": 0, "suspended": 10, "lockedOut": 0}),
        ),
        (
            "Deleted",
            json!({"enabled": 5, "warning": 0, "suspended": 0, "lockedOut": 0}),
        ),
        (
            "PendingRenewal",
            json!({"enabled": 5, "warning": 0, "suspended": 0, "lockedOut": 0}),
        ),
    ];
    for (status, units) in cases {
        let emu = start_with(
            tenant_with(status, units.clone(), 0, 2),
            EmulatorOptions {
                grace_units_assignable: true,
                ..EmulatorOptions::default()
            },
        )
        .await;
        assert_eq!(assign_each(&emu, 1).await, [400], "{status} {units}");
    }
}

#[tokio::test]
async fn group_licensing_takes_no_grace_units_either() {
    let emu = start_with(
        tenant_with(
            "Warning",
            json!({"enabled": 7, "warning": 10, "suspended": 0, "lockedOut": 0}),
            5,
            4,
        ),
        EmulatorOptions::default(),
    )
    .await;
    let (s, _, _) = emu
        .post(
            &format!("/groups/{GROUP}/assignLicense"),
            json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(s, 202);
    let snap = emu.snapshot().await;
    let states: Vec<(AssignmentStateKind, Option<AssignmentError>)> = snap
        .users
        .iter()
        .map(|u| {
            let s = &u.license_assignment_states[0];
            (s.state.clone(), s.error.clone())
        })
        .collect();
    let active = states
        .iter()
        .filter(|(s, _)| *s == AssignmentStateKind::Active)
        .count();
    assert_eq!(active, 2, "7 enabled − 5 consumed: {states:?}");
    assert!(
        states
            .iter()
            .filter(|(s, _)| *s == AssignmentStateKind::Error)
            .all(|(_, e)| *e == Some(AssignmentError::CountViolation))
    );
    assert_eq!(snap.subscribed_skus[0].consumed_units, 7);
}
