//! Endpoints for license operations: `reprocessLicenseAssignment`,
//! `membersWithLicenseErrors`, `hasMembersWithLicenseErrors`, `/directory/subscriptions`,
//! each against Microsoft's documented response shape.

use crate::common::*;
use licensectl_model::snapshot::AssignmentStateKind;
use serde_json::{Value, json};

/// The documented example response of `GET /directory/subscriptions`
/// (https://learn.microsoft.com/en-us/graph/api/directory-list-subscriptions).
fn documented_subscriptions() -> Value {
    json!({
      "value": [{
          "createdDateTime": "2023-01-01T00:00:00Z",
          "commerceSubscriptionId": "f9c1ea2d-2c6e-4717-8c3b-7130812d70ba",
          "id": "860697e3-b0aa-4196-a6c6-7ec361ed58f7",
          "isTrial": false,
          "nextLifecycleDateTime": "2023-02-01T00:00:00Z",
          "serviceStatus": [{
              "appliesTo": "User",
              "provisioningStatus": "Success",
              "servicePlanId": "8b8269e5-f841-416c-ab3a-f5dfb9737986",
              "servicePlanName": "MyPlanName"
          }],
          "skuId": "0816ccb9-3785-4d19-bf78-6c53e2106509",
          "skuPartNumber": "MyPartNumber",
          "status": "Enabled",
          "totalLicenses": 25,
          "ownerId": "fe04f19f-d924-42b7-9dee-edf4e3fab7f6",
          "ownerTenantId": "331af819-4e0b-49f7-a6bf-14e1165ad3a0",
          "ownerType": "User"
      }]
    })
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[tokio::test]
async fn directory_subscriptions_have_the_documented_shape_and_agree_with_the_seat_counts() {
    let mut t = tenant_json();
    // E3 in its grace period: 2 active units, 3 in warning.
    t["subscribedSkus"][0]["prepaidUnits"]["enabled"] = json!(2);
    t["subscribedSkus"][0]["prepaidUnits"]["warning"] = json!(3);
    let emu = start_with(
        serde_json::from_value(t).expect("snapshot"),
        Default::default(),
    )
    .await;
    let (s, _, body) = emu.get("/directory/subscriptions").await;
    assert_eq!(s, 200, "{body}");
    let doc = documented_subscriptions();
    let ours = &body["value"][0];
    assert_eq!(
        keys(ours),
        keys(&doc["value"][0]),
        "the documented properties"
    );
    assert_eq!(
        keys(&ours["serviceStatus"][0]),
        keys(&doc["value"][0]["serviceStatus"][0])
    );
    for k in ["id", "skuId", "skuPartNumber", "status"] {
        assert!(ours[k].is_string(), "{k}: {ours}");
    }
    assert!(ours["totalLicenses"].is_number() && ours["isTrial"].is_boolean());
    let e3: Vec<&Value> = body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter(|s| s["skuId"] == E3)
        .collect();
    let by_status: Vec<(String, i64)> = e3
        .iter()
        .map(|s| {
            (
                s["status"].as_str().unwrap_or("").to_owned(),
                s["totalLicenses"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        by_status,
        [("Enabled".to_owned(), 2), ("Warning".to_owned(), 3)],
        "each prepaidUnits bucket is a subscription"
    );
    assert_eq!(e3[0]["id"], "5b0c1b4f-3a8e-4a4f-9c62-1f6ad7e0f001");
    let id = e3[1]["id"].as_str().expect("id");
    let (s, _, one) = emu.get(&format!("/directory/subscriptions/{id}")).await;
    assert_eq!((s, one["status"].clone()), (200, json!("Warning")));
    let (s, _, again) = emu.get("/directory/subscriptions").await;
    assert_eq!((s, &again["value"]), (200, &body["value"]), "stable ids");
    let (s, _, _) = emu
        .get("/directory/subscriptions/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn subscriptions_of_the_tenant_file_are_served_as_written() {
    let mut t = tenant_json();
    t["subscriptions"] = json!([{
        "id": "860697e3-b0aa-4196-a6c6-7ec361ed58f7", "skuId": E1, "status": "Warning",
        "totalLicenses": 10, "isTrial": true, "createdDateTime": "2025-01-01T00:00:00Z",
        "nextLifecycleDateTime": "2026-02-01T00:00:00Z"
    }]);
    let emu = start_with(
        serde_json::from_value(t).expect("snapshot"),
        Default::default(),
    )
    .await;
    let (_, _, body) = emu
        .get("/directory/subscriptions?$select=id,status,nextLifecycleDateTime,isTrial,skuPartNumber")
        .await;
    assert_eq!(
        body["value"],
        json!([{"id": "860697e3-b0aa-4196-a6c6-7ec361ed58f7", "status": "Warning",
                "nextLifecycleDateTime": "2026-02-01T00:00:00Z", "isTrial": true,
                "skuPartNumber": "STANDARDPACK"}])
    );
}

#[tokio::test]
async fn reprocess_fixes_a_count_violation_once_a_seat_is_free() {
    let emu = start().await;
    // Power BI has no free seat: Dave's copy from G2 fails; Erin holds it directly.
    let (s, _, _) = emu
        .post(
            &format!("/groups/{G2}/assignLicense"),
            json!({"addLicenses": [{"skuId": PBI, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(s, 202);
    let (_, _, errors) = emu
        .get(&format!("/groups/{G2}/membersWithLicenseErrors?$select=id"))
        .await;
    assert_eq!(
        errors["value"],
        json!([{"@odata.type": "#microsoft.graph.user", "id": DAVE}])
    );
    let (s, _, b) = emu
        .post(
            &format!("/users/{DAVE}/reprocessLicenseAssignment"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "still no seat: the error stays: {b}");
    let snap = emu.snapshot().await;
    assert_eq!(user_state(&snap, DAVE, PBI), AssignmentStateKind::Error);
    // A seat is bought (the emulator has no purchase API: the tenant is served again with
    // one more unit): reprocessing succeeds.
    let mut t = serde_json::to_value(&snap).expect("json");
    t["subscribedSkus"][2]["prepaidUnits"]["enabled"] = json!(2);
    let emu = start_with(
        serde_json::from_value(t).expect("snapshot"),
        Default::default(),
    )
    .await;
    let (s, _, b) = emu
        .post(
            &format!("/users/{DAVE}/reprocessLicenseAssignment"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["assignedLicenses"]
            .as_array()
            .expect("licenses")
            .iter()
            .any(|l| l["skuId"] == PBI),
        "the answer shows the fixed user: {b}"
    );
    assert_eq!(
        user_state(&emu.snapshot().await, DAVE, PBI),
        AssignmentStateKind::Active
    );
    let (_, _, errors) = emu
        .get(&format!("/groups/{G2}/membersWithLicenseErrors"))
        .await;
    assert_eq!(errors["value"], json!([]));
    let (_, _, groups) = emu
        .get("/groups?$filter=hasMembersWithLicenseErrors eq true")
        .await;
    assert_eq!(groups["value"], json!([]));
}

fn user_state(
    snap: &licensectl_model::snapshot::TenantSnapshot,
    user: &str,
    sku: &str,
) -> AssignmentStateKind {
    snap.users
        .iter()
        .find(|u| u.id.to_string() == user)
        .and_then(|u| {
            u.license_assignment_states
                .iter()
                .find(|s| s.sku_id.to_string() == sku && s.assigned_by_group.is_some())
        })
        .map(|s| s.state.clone())
        .expect("state")
}

#[tokio::test]
async fn reprocess_surfaces_a_dependency_failure_as_graph_does() {
    let emu = start().await;
    // Carol: E3 from G1 carries the Exchange her direct Workplace Analytics needs; she
    // then leaves G1 (the tenant file says so): reprocessing would take E3 away.
    let (s, _, _) = emu
        .post(
            &format!("/users/{CAROL}/assignLicense"),
            json!({"addLicenses": [{"skuId": WA, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(s, 200);
    let mut t = serde_json::to_value(emu.snapshot().await).expect("json");
    t["groups"][0]["members"] = json!([]);
    let emu = start_with(
        serde_json::from_value(t).expect("snapshot"),
        Default::default(),
    )
    .await;
    let (s, _, b) = emu
        .post(
            &format!("/users/{CAROL}/reprocessLicenseAssignment"),
            Value::Null,
        )
        .await;
    assert_eq!((s, error_code(&b)), (400, "Request_BadRequest"), "{b}");
    assert_eq!(
        b["error"]["message"],
        format!(
            "License assignment failed because service plan {WA_PLAN} depends on the service plan(s) {EX_STD},{EX_ENT}"
        )
    );
    assert_eq!(
        user_state(&emu.snapshot().await, CAROL, E3),
        AssignmentStateKind::ActiveWithError
    );
}

#[tokio::test]
async fn the_license_error_filter_is_refused_with_eventual_consistency() {
    let emu = start().await;
    let (s, b) = emu
        .get_with(
            "/groups?$filter=hasMembersWithLicenseErrors eq true",
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(
        (s, error_code(&b)),
        (400, "Request_UnsupportedQuery"),
        "{b}"
    );
    let (s, _, _) = emu
        .get("/groups?$filter=hasMembersWithLicenseErrors eq true")
        .await;
    assert_eq!(s, 200);
}
