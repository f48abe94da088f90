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

/// The generated tenant (premium, realistic attributes) with the default app's token.
async fn generated() -> (graph_emulator::Running, String) {
    serve_generated(graph_emulator::generate::GenerateOptions {
        users: 300,
        groups: 3,
        seed: 9,
        ..graph_emulator::generate::GenerateOptions::default()
    })
    .await
}

async fn get_as(
    running: &graph_emulator::Running,
    token: &str,
    path: &str,
    advanced: bool,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .get(format!("{}/v1.0{path}", running.url))
        .bearer_auth(token);
    if advanced {
        req = req.header("ConsistencyLevel", "eventual");
    }
    let (s, _, b) = split(req.send().await.expect("send")).await;
    (s, b)
}

#[tokio::test]
async fn directory_attributes_are_selected_and_filtered_as_graph_allows() {
    let (running, token) = generated().await;
    let select = "$select=id,department,jobTitle,companyName,country,state,city,officeLocation,employeeType,userType,accountEnabled,onPremisesSyncEnabled,onPremisesExtensionAttributes,createdDateTime&$top=999";
    let (s, all) = get_as(&running, &token, &format!("/users?{select}"), false).await;
    assert_eq!(s, 200, "{all}");
    let users = all["value"].as_array().expect("users");
    let synced = users
        .iter()
        .find(|u| u["onPremisesSyncEnabled"] == true)
        .expect("a synced user");
    assert!(synced["onPremisesExtensionAttributes"]["extensionAttribute1"].is_string());
    assert_eq!(
        synced["onPremisesExtensionAttributes"]
            .as_object()
            .map(|o| o.len()),
        Some(15),
        "all fifteen, null when unset"
    );
    assert!(synced["createdDateTime"].is_string() && synced["department"].is_string());
    let count = |pred: &dyn Fn(&Value) -> bool| users.iter().filter(|u| pred(u)).count();
    let cases: Vec<(&str, bool, usize)> = vec![
        (
            "accountEnabled eq false",
            false,
            count(&|u| u["accountEnabled"] == false),
        ),
        (
            "userType eq 'Guest'",
            false,
            count(&|u| u["userType"] == "Guest"),
        ),
        ("userType in ('Member','Guest')", false, users.len()),
        (
            "department eq 'sales'",
            true,
            count(&|u| u["department"] == "Sales"),
        ),
        (
            "onPremisesExtensionAttributes/extensionAttribute1 eq 'frontline'",
            true,
            count(&|u| u["onPremisesExtensionAttributes"]["extensionAttribute1"] == "frontline"),
        ),
        (
            "onPremisesSyncEnabled eq true",
            true,
            count(&|u| u["onPremisesSyncEnabled"] == true),
        ),
        (
            "userType ne 'Guest'",
            true,
            count(&|u| u["userType"] != "Guest"),
        ),
        (
            "startswith(country,'Deutsch')",
            true,
            count(&|u| u["country"] == "Deutschland"),
        ),
    ];
    for (filter, advanced, expected) in cases {
        let count_q = if advanced { "&$count=true" } else { "" };
        let (s, b) = get_as(
            &running,
            &token,
            &format!("/users?$filter={filter}&$select=id&$top=999{count_q}"),
            advanced,
        )
        .await;
        assert_eq!(s, 200, "{filter}: {b}");
        assert!(expected > 0, "{filter}: the tenant has such users");
        assert_eq!(
            b["value"].as_array().map(Vec::len),
            Some(expected),
            "{filter}"
        );
    }
    for (filter, advanced) in [
        ("department eq 'Sales'", false),
        ("userType ne 'Guest'", false),
        ("onPremisesSyncEnabled eq true", false),
        ("startswith(accountEnabled,'t')", true),
        (
            "signInActivity/lastSignInDateTime le 2024-01-01T00:00:00Z",
            true,
        ),
    ] {
        let count_q = if advanced { "&$count=true" } else { "" };
        let (s, b) = get_as(
            &running,
            &token,
            &format!("/users?$filter={filter}{count_q}"),
            advanced,
        )
        .await;
        assert_eq!(
            (s, error_code(&b)),
            (400, "Request_UnsupportedQuery"),
            "{filter}: {b}"
        );
    }
}

#[tokio::test]
async fn sign_in_activity_has_the_documented_shape() {
    let (running, token) = generated().await;
    let (s, b) = get_as(
        &running,
        &token,
        "/users?$select=displayName,userPrincipalName,signInActivity&$top=50",
        false,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // The documented sample (https://learn.microsoft.com/en-us/graph/api/user-list,
    // "Get users including their last sign-in time").
    let sample = json!({
        "displayName": "Adele Vance",
        "userPrincipalName": "AdeleV@contoso.com",
        "id": "1aecaf40-dc3a-461f-88a8-d06994e12898",
        "signInActivity": {
            "lastSignInDateTime": "2021-06-17T16:41:33Z",
            "lastSignInRequestId": "d4d31c40-4c36-4775-ad59-7d1e6a171f00",
            "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z",
            "lastNonInteractiveSignInRequestId": ""
        }
    });
    let ours = b["value"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u.get("signInActivity").is_some())
        .expect("a user who signed in");
    for k in keys(&sample) {
        assert!(ours.get(&k).is_some(), "{k}: {ours}");
    }
    for (k, v) in sample["signInActivity"].as_object().expect("object") {
        assert!(
            ours["signInActivity"][k].is_string() && v.is_string(),
            "{k}: {ours}"
        );
    }
}

#[tokio::test]
async fn reprocess_answers_the_documented_user_object() {
    let emu = start().await;
    let (s, _, b) = emu
        .post(
            &format!("/users/{CAROL}/reprocessLicenseAssignment"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // The documented response
    // (https://learn.microsoft.com/en-us/graph/api/user-reprocesslicenseassignment).
    let sample = json!({
      "accountEnabled": true,
      "assignedLicenses": [{"disabledPlans": ["11b0131d-43c8-4bbb-b2c8-e80f9a50834a"], "skuId": "skuId-value"}],
      "assignedPlans": [],
      "businessPhones": ["businessPhones-value"],
      "city": "city-value",
      "companyName": "companyName-value"
    });
    for k in keys(&sample) {
        assert!(b.get(&k).is_some(), "{k}: {b}");
    }
    assert_eq!(b["assignedLicenses"][0]["skuId"], E3);
    assert!(b["assignedLicenses"][0]["disabledPlans"].is_array());
}

/// The UPNs of a page, lowercased.
fn page_upns(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|u| u["userPrincipalName"].as_str().expect("upn").to_lowercase())
        .collect()
}

/// Every page of `path`, following `@odata.nextLink`; the first page's `@odata.count`.
async fn all_pages(
    running: &graph_emulator::Running,
    token: &str,
    path: &str,
) -> (Vec<String>, Option<u64>) {
    let (s, first) = get_as(running, token, path, true).await;
    assert_eq!(s, 200, "{path}: {first}");
    let count = first["@odata.count"].as_u64();
    let mut upns = page_upns(&first);
    let mut next = first["@odata.nextLink"].as_str().map(str::to_owned);
    while let Some(link) = next {
        let rel = link.split_once("/v1.0").expect("v1.0 link").1.to_owned();
        let (s, page) = get_as(running, token, &rel, true).await;
        assert_eq!(s, 200, "{rel}: {page}");
        upns.extend(page_upns(&page));
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    (upns, count)
}

#[tokio::test]
async fn users_sort_by_upn_and_filter_upn_ranges_as_graph_does() {
    let (running, token) = generated().await;
    let licensed = "assignedLicenses/$count ne 0";
    // Ascending and descending, paged: the same users, in order.
    let (asc, count) = all_pages(
        &running,
        &token,
        &format!("/users?$filter={licensed}&$count=true&$orderby=userPrincipalName&$top=7"),
    )
    .await;
    assert!(asc.len() > 50, "{} licensed users", asc.len());
    assert_eq!(count, Some(asc.len() as u64));
    assert!(asc.windows(2).all(|w| w[0] < w[1]), "ascending: {asc:?}");
    let (mut desc, _) = all_pages(
        &running,
        &token,
        &format!("/users?$filter={licensed}&$count=true&$orderby=userPrincipalName desc&$top=9"),
    )
    .await;
    desc.reverse();
    assert_eq!(desc, asc, "descending is the reverse");

    // `ge`/`le` ranges: inclusive, case-insensitive, and two ranges meeting at a bound
    // that is no UPN cover the whole without overlap.
    let mid = &asc[asc.len() / 2];
    let cut: String = mid
        .chars()
        .take(mid.find('@').unwrap_or(3).min(6))
        .collect();
    let upper = cut.to_uppercase();
    let (low, low_count) = all_pages(
        &running,
        &token,
        &format!(
            "/users?$filter={licensed} and userPrincipalName le '{upper}'&$count=true&$orderby=userPrincipalName&$top=5"
        ),
    )
    .await;
    let (high, high_count) = all_pages(
        &running,
        &token,
        &format!(
            "/users?$filter={licensed} and userPrincipalName ge '{cut}'&$count=true&$orderby=userPrincipalName&$top=5"
        ),
    )
    .await;
    assert_eq!(low_count, Some(low.len() as u64));
    assert_eq!(high_count, Some(high.len() as u64));
    assert!(low.iter().all(|u| *u <= cut) && high.iter().all(|u| *u >= cut));
    assert_eq!(
        [low, high].concat(),
        asc,
        "the two ranges are the whole, in order"
    );
    let (exact, _) = all_pages(
        &running,
        &token,
        &format!(
            "/users?$filter=userPrincipalName ge '{mid}' and userPrincipalName le '{}'&$count=true&$orderby=userPrincipalName",
            mid.to_uppercase()
        ),
    )
    .await;
    assert_eq!(exact, std::slice::from_ref(mid), "both bounds included");

    // What Graph refuses.
    for (path, advanced, status, code) in [
        // Sorting a filtered list needs an advanced query.
        (
            "/users?$filter=userPrincipalName ge 'a'&$orderby=userPrincipalName",
            false,
            400,
            "Request_UnsupportedQuery",
        ),
        // `ge`/`le` are not documented on id or userType.
        (
            "/users?$filter=id ge '0'",
            false,
            400,
            "Request_UnsupportedQuery",
        ),
        (
            "/users?$filter=userType le 'Member'&$count=true",
            true,
            400,
            "Request_UnsupportedQuery",
        ),
        // No other sort key in the emulator.
        (
            "/users?$orderby=displayName",
            false,
            400,
            "Request_UnsupportedQuery",
        ),
        (
            "/users?$orderby=userPrincipalName sideways",
            false,
            400,
            "Request_BadRequest",
        ),
        // Groups do not sort.
        (
            "/groups?$orderby=displayName",
            false,
            400,
            "Request_UnsupportedQuery",
        ),
    ] {
        let (s, b) = get_as(&running, &token, path, advanced).await;
        assert_eq!((s, error_code(&b)), (status, code), "{path}: {b}");
    }
    let (s, b) = get_as(&running, &token, "/users?$orderby=userPrincipalName", false).await;
    assert_eq!(s, 200, "an unfiltered sort works by default: {b}");
    let sorted = page_upns(&b);
    assert!(sorted.windows(2).all(|w| w[0] < w[1]), "{sorted:?}");
}
