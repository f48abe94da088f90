//! Conformance of the emulator's Graph endpoints: reads, paging, filters, assignLicense
//! validation, group processing, `$batch`, snapshot and stats.

use std::time::Duration;

use crate::common::*;
use graph_emulator::EmulatorOptions;
use licensectl_model::snapshot::{AssignmentError, AssignmentStateKind};
use serde_json::{Value, json};

fn user_of<'a>(
    snap: &'a licensectl_model::snapshot::TenantSnapshot,
    id: &str,
) -> &'a licensectl_model::snapshot::User {
    snap.users
        .iter()
        .find(|u| u.id.to_string() == id)
        .expect("user")
}

fn consumed(snap: &licensectl_model::snapshot::TenantSnapshot, sku: &str) -> i64 {
    snap.subscribed_skus
        .iter()
        .find(|s| s.sku_id.to_string() == sku)
        .expect("sku")
        .consumed_units
}

#[tokio::test]
async fn every_response_has_a_request_id_and_errors_have_graph_bodies() {
    let emu = start().await;
    let (status, headers, body) = emu.get("/users/nobody@contoso.com").await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "Request_ResourceNotFound");
    let rid = headers
        .get("request-id")
        .expect("request-id")
        .to_str()
        .expect("ascii");
    assert_eq!(body["error"]["innerError"]["request-id"], rid);
    assert!(body["error"]["innerError"]["date"].is_string());
    assert!(body["error"]["innerError"]["client-request-id"].is_string());
    let (status, _, body) = emu.get("/nonsense").await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = emu.post("/subscribedSkus", json!({})).await;
    assert_eq!(status, 405, "{body}");
}

#[tokio::test]
async fn subscribed_skus_list_select_and_get() {
    let emu = start().await;
    let (status, _, body) = emu.get("/subscribedSkus").await;
    assert_eq!(status, 200);
    assert!(
        body["@odata.context"]
            .as_str()
            .expect("ctx")
            .ends_with("/v1.0/$metadata#subscribedSkus")
    );
    let e3 = &body["value"][0];
    assert_eq!(e3["skuPartNumber"], "ENTERPRISEPACK");
    assert_eq!(e3["consumedUnits"], 2);
    assert_eq!(e3["prepaidUnits"]["enabled"], 3);
    assert_eq!(e3["servicePlans"][1]["servicePlanName"], "TEAMS1");
    let (_, _, body) = emu.get("/subscribedSkus?$select=skuId,consumedUnits").await;
    let keys: Vec<&String> = body["value"][0].as_object().expect("obj").keys().collect();
    assert_eq!(keys, ["consumedUnits", "skuId"]);
    let (status, _, body) = emu.get(&format!("/subscribedSkus/{TENANT}_{E3}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["skuId"], E3);
    let (status, _, _) = emu.get("/subscribedSkus?$filter=skuId eq 'x'").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn users_default_properties_select_and_get() {
    let emu = start().await;
    let (_, _, body) = emu.get("/users").await;
    let first = body["value"][0].as_object().expect("user");
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "businessPhones",
            "displayName",
            "givenName",
            "id",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName"
        ]
    );
    assert!(body.get("@odata.nextLink").is_none());
    let (_, _, body) = emu
        .get(&format!("/users/{ALICE}?$select=assignedLicenses,licenseAssignmentStates,usageLocation,accountEnabled"))
        .await;
    assert_eq!(body["assignedLicenses"][0]["skuId"], E3);
    assert_eq!(body["licenseAssignmentStates"][0]["error"], "None");
    assert_eq!(
        body["licenseAssignmentStates"][0]["assignedByGroup"],
        Value::Null
    );
    assert_eq!(body["usageLocation"], "US");
    assert_eq!(body["accountEnabled"], true);
    let (status, _, body) = emu.get("/users/ALICE@contoso.com").await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], ALICE);
    let (status, _, body) = emu.get("/users('alice@contoso.com')").await;
    assert_eq!((status, body["id"].clone()), (200, json!(ALICE)));
    let (status, _, body) = emu.get("/users?$select=nope").await;
    assert_eq!((status, error_code(&body)), (400, "Request_BadRequest"));
}

#[tokio::test]
async fn paging_follows_opaque_next_links() {
    let emu = start().await;
    for (top, pages) in [(3usize, 4usize), (10, 1), (999, 1)] {
        let mut url = emu.url(&format!("/users?$top={top}&$select=id"));
        let mut seen = Vec::new();
        let mut n = 0;
        loop {
            let r = emu
                .http
                .get(&url)
                .bearer_auth(&emu.token)
                .send()
                .await
                .expect("send");
            let (status, _, body) = split(r).await;
            assert_eq!(status, 200, "{body}");
            n += 1;
            for u in body["value"].as_array().expect("value") {
                seen.push(u["id"].as_str().expect("id").to_owned());
            }
            match body.get("@odata.nextLink").and_then(Value::as_str) {
                Some(next) => {
                    assert!(
                        next.starts_with(&emu.running.url) && next.contains("$skiptoken="),
                        "{next}"
                    );
                    url = next.to_owned();
                }
                None => break,
            }
        }
        assert_eq!((seen.len(), n), (10, pages), "top {top}");
        seen.dedup();
        assert_eq!(seen.len(), 10);
    }
    let (status, _, body) = emu.get("/users?$top=1000").await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "Request_UnsupportedQuery")
    );
    assert_eq!(
        body["error"]["message"],
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    );
    let (status, _, _) = emu.get("/users?$top=0").await;
    assert_eq!(status, 400);
    let (status, _, _) = emu.get("/users?$skiptoken=forged").await;
    assert_eq!(status, 400);
    let (status, _, body) = emu.get(&format!("/groups/{G2}/members?$top=1")).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"][0]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(body["value"][0]["id"], DAVE);
    assert!(body["@odata.nextLink"].as_str().is_some());
}

#[tokio::test]
async fn user_filters() {
    let emu = start().await;
    let ids = |b: &Value| -> Vec<String> {
        b["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|u| u["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("assignedLicenses/any(x:x/skuId eq {E3})"),
            vec![ALICE, CAROL],
        ),
        ("userPrincipalName eq 'BOB@contoso.com'".into(), vec![BOB]),
        (
            "userPrincipalName in ('dave@contoso.com','alice@contoso.com')".into(),
            vec![ALICE, DAVE],
        ),
        (format!("id in ('{ERIN}', '{BOB}')"), vec![BOB, ERIN]),
        ("startswith(userPrincipalName,'car')".into(), vec![CAROL]),
        (
            format!("usageLocation eq 'US' and assignedLicenses/any(s:s/skuId eq {PBI})"),
            vec![ERIN],
        ),
    ];
    for (filter, expected) in cases {
        let (status, _, body) = emu.get(&format!("/users?$filter={filter}")).await;
        assert_eq!(status, 200, "{filter}: {body}");
        assert_eq!(ids(&body), expected, "{filter}");
    }
    let many: Vec<String> = (0..18).map(|i| format!("'u{i}@contoso.com'")).collect();
    let (status, _, body) = emu
        .get(&format!(
            "/users?$filter=userPrincipalName in ({})",
            many.join(",")
        ))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "Request_UnsupportedQuery"),
        "{body}"
    );
    assert_eq!(
        body["error"]["message"],
        "Too many child clauses specified in search filter expression containing 'OR' operators: 18. Max allowed: 15."
    );
    let (status, _, body) = emu.get("/users?$filter=assignedLicenses/$count ne 0").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "$count is not currently supported."
    );
    let (status, body) = emu
        .get_with(
            "/users?$filter=assignedLicenses/$count ne 0&$count=true",
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["@odata.count"], 3);
    assert_eq!(ids(&body), vec![ALICE, CAROL, ERIN]);
    let (status, _, body) = emu.get("/users?$filter=jobTitle eq 'x'").await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "Request_UnsupportedQuery")
    );
    let (status, _, body) = emu.get("/users?$search=\"displayName:al\"").await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "Request_UnsupportedQuery")
    );
    let (status, _, body) = emu
        .get("/users?$filter=assignedLicenses/any(x:x/skuId eq not-a-guid)")
        .await;
    assert_eq!((status, error_code(&body)), (400, "Request_BadRequest"));
}

#[tokio::test]
async fn group_reads_and_filters() {
    let emu = start().await;
    let (_, _, body) = emu
        .get("/groups?$select=id,displayName,assignedLicenses,licenseProcessingState")
        .await;
    assert_eq!(body["value"].as_array().expect("groups").len(), 3);
    assert_eq!(
        body["value"][0]["licenseProcessingState"]["state"],
        "ProcessingComplete"
    );
    for (filter, expected) in [
        ("displayName eq 'sg-e3'".to_owned(), G1),
        ("mailNickname eq 'team'".to_owned(), G3),
        (format!("assignedLicenses/any(x:x/skuId eq {E3})"), G1),
    ] {
        let (status, _, body) = emu.get(&format!("/groups?$filter={filter}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["value"].as_array().expect("v").len(), 1, "{filter}");
        assert_eq!(body["value"][0]["id"], expected, "{filter}");
    }
    // `in` on displayName and mailNickname, case-insensitive like `eq`
    // (https://learn.microsoft.com/en-us/graph/aad-advanced-queries#group-properties).
    let ids = |b: &Value| -> Vec<String> {
        let mut ids: Vec<String> = b["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|g| g["id"].as_str().expect("id").to_owned())
            .collect();
        ids.sort();
        ids
    };
    for (filter, expected) in [
        (
            "displayName in ('SG-E3','m365-team','nobody')",
            vec![G1, G3],
        ),
        ("mailNickname in ('team','sg-EMPTY')", vec![G2, G3]),
        ("displayName in ('team')", vec![]),
    ] {
        let (status, _, body) = emu.get(&format!("/groups?$filter={filter}")).await;
        assert_eq!(status, 200, "{filter}: {body}");
        assert_eq!(ids(&body), expected, "{filter}");
    }
    // More than 15 values: refused as Graph refuses it, on any property.
    let many: Vec<String> = (0..16).map(|i| format!("'g{i}'")).collect();
    for prop in ["displayName", "mailNickname", "id"] {
        let (status, _, body) = emu
            .get(&format!("/groups?$filter={prop} in ({})", many.join(",")))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "Request_UnsupportedQuery"),
            "{prop}: {body}"
        );
        assert_eq!(
            body["error"]["message"],
            "Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15."
        );
    }
    let (status, _, body) = emu.get(&format!("/groups/{G1}")).await;
    assert_eq!((status, body["displayName"].clone()), (200, json!("sg-e3")));
    let (status, _, _) = emu
        .get("/groups/b0000000-0000-4000-8000-0000000000ff")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn assign_license_error_cases() {
    let emu = start().await;
    let before = emu.snapshot().await;
    let bad_guid = json!({"addLicenses": [{"skuId": "not-a-guid", "disabledPlans": []}], "removeLicenses": []});
    let no_seats = format!("Subscription with SKU {PBI} does not have any available licenses.");
    let company = format!("License {CREDITS} cannot be assigned to a user.");
    let exclusive = format!(
        "License assignment failed because service plans {PSTN1_PLAN}, {PSTN2_PLAN} are mutually exclusive."
    );
    let dependency = format!(
        "License assignment failed because service plan {WA_PLAN} depends on the service plan(s) {EX_STD},{EX_ENT}"
    );
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        (
            "no usage location",
            BOB,
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}),
            400,
            "License assignment cannot be done for user with invalid usage location.",
        ),
        (
            "no free seats",
            DAVE,
            json!({"addLicenses": [{"skuId": PBI, "disabledPlans": []}], "removeLicenses": []}),
            400,
            &no_seats,
        ),
        (
            "unknown sku",
            DAVE,
            json!({"addLicenses": [{"skuId": "11111111-1111-4111-8111-111111111111", "disabledPlans": []}], "removeLicenses": []}),
            400,
            "License 11111111-1111-4111-8111-111111111111 does not correspond to a valid company License.",
        ),
        (
            "company sku",
            DAVE,
            json!({"addLicenses": [{"skuId": CREDITS, "disabledPlans": []}], "removeLicenses": []}),
            400,
            &company,
        ),
        (
            "disabled plan not in sku",
            DAVE,
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": [TEAMS]}], "removeLicenses": []}),
            400,
            "does not belong to the subscription",
        ),
        (
            "remove not held",
            DAVE,
            json!({"addLicenses": [], "removeLicenses": [E3]}),
            400,
            "User does not have a corresponding license.",
        ),
        (
            "remove inherited",
            CAROL,
            json!({"addLicenses": [], "removeLicenses": [E3]}),
            400,
            "User license is inherited from a group membership and it cannot be removed directly from the user.",
        ),
        (
            "malformed guid",
            DAVE,
            bad_guid,
            400,
            "Cannot convert the literal 'not-a-guid' to the expected type 'Edm.Guid'.",
        ),
        (
            "malformed remove guid",
            DAVE,
            json!({"addLicenses": [], "removeLicenses": ["xyz"]}),
            400,
            "'xyz'",
        ),
        (
            "mutually exclusive",
            DAVE,
            json!({"addLicenses": [{"skuId": PSTN1, "disabledPlans": []}, {"skuId": PSTN2, "disabledPlans": []}], "removeLicenses": []}),
            400,
            &exclusive,
        ),
        (
            "dependency",
            DAVE,
            json!({"addLicenses": [{"skuId": WA, "disabledPlans": []}], "removeLicenses": []}),
            400,
            &dependency,
        ),
        (
            "missing removeLicenses",
            DAVE,
            json!({"addLicenses": []}),
            400,
            "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: removeLicenses.",
        ),
        (
            "atomic: valid add with invalid remove",
            DAVE,
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": [E3]}),
            400,
            "User does not have a corresponding license.",
        ),
        (
            "unknown user",
            "a0000000-0000-4000-8000-0000000009ff",
            json!({"addLicenses": [], "removeLicenses": []}),
            404,
            "does not exist",
        ),
    ];
    for (name, user, body, status, message) in cases {
        let (s, _, b) = emu
            .post(&format!("/users/{user}/assignLicense"), body)
            .await;
        assert_eq!(s, status, "{name}: {b}");
        let code = if status == 404 {
            "Request_ResourceNotFound"
        } else {
            "Request_BadRequest"
        };
        assert_eq!(error_code(&b), code, "{name}");
        assert!(
            b["error"]["message"]
                .as_str()
                .expect("message")
                .contains(message),
            "{name}: {b}"
        );
    }
    assert_eq!(emu.snapshot().await, before, "failed calls change nothing");
}

#[tokio::test]
async fn assign_license_success_updates_seats_and_states() {
    let emu = start().await;
    // Add with disabled plans, then re-send: the new disabledPlans replace the old ones.
    let (s, _, b) = emu
        .post(&format!("/users/{DAVE}/assignLicense"), json!({"addLicenses": [{"skuId": E3, "disabledPlans": [YAMMER]}], "removeLicenses": []}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["assignedLicenses"][0]["disabledPlans"], json!([YAMMER]));
    assert_eq!(b["id"], DAVE);
    let snap = emu.snapshot().await;
    assert_eq!(consumed(&snap, E3), 3);
    let (s, _, b) = emu
        .post(
            &format!("/users/{DAVE}/assignLicense"),
            json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["assignedLicenses"][0]["disabledPlans"], json!([]));
    assert_eq!(
        consumed(&emu.snapshot().await, E3),
        3,
        "an update takes no seat"
    );
    // Swap E3 → E1 in one call: atomic, seats move.
    let (s, _, b) = emu
        .post(
            &format!("/users/{DAVE}/assignLicense"),
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": [E3]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let snap = emu.snapshot().await;
    assert_eq!((consumed(&snap, E3), consumed(&snap, E1)), (2, 1));
    let dave = user_of(&snap, DAVE);
    assert_eq!(dave.assigned_licenses.len(), 1);
    assert_eq!(dave.license_assignment_states.len(), 1);
    assert_eq!(dave.license_assignment_states[0].sku_id.to_string(), E1);
    // Direct on top of inherited: one seat only; removing the direct one keeps the inherited one.
    let (s, _, b) = emu
        .post(&format!("/users/{CAROL}/assignLicense"), json!({"addLicenses": [{"skuId": E3, "disabledPlans": [YAMMER]}], "removeLicenses": []}))
        .await;
    assert_eq!(s, 200, "{b}");
    let snap = emu.snapshot().await;
    assert_eq!(consumed(&snap, E3), 2);
    let carol = user_of(&snap, CAROL);
    assert_eq!(carol.license_assignment_states.len(), 2);
    assert!(
        carol.assigned_licenses[0].disabled_plans.is_empty(),
        "enabled plans are the union of sources"
    );
    let (s, _, _) = emu
        .post(
            &format!("/users/{CAROL}/assignLicense"),
            json!({"addLicenses": [], "removeLicenses": [E3]}),
        )
        .await;
    assert_eq!(s, 200);
    let snap = emu.snapshot().await;
    assert_eq!(consumed(&snap, E3), 2);
    assert_eq!(user_of(&snap, CAROL).assigned_licenses.len(), 1);
    // PATCH usageLocation unblocks Bob.
    assert_eq!(
        emu.patch(&format!("/users/{BOB}"), json!({"usageLocation": "FR"}))
            .await,
        204
    );
    let (s, _, b) = emu
        .post(
            &format!("/users/{BOB}/assignLicense"),
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        emu.patch(&format!("/users/{BOB}"), json!({"usageLocation": "France"}))
            .await,
        400
    );
}

#[tokio::test]
async fn group_assign_license_is_processed_asynchronously() {
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            group_processing: Duration::from_millis(300),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let (s, headers, b) = emu
        .post(
            &format!("/groups/{G2}/assignLicense"),
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    assert!(headers.get("location").is_some());
    assert_eq!(b["id"], G2);
    let state = |b: &Value| {
        b["licenseProcessingState"]["state"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let (_, _, g) = emu
        .get(&format!(
            "/groups/{G2}?$select=licenseProcessingState,assignedLicenses"
        ))
        .await;
    assert_eq!(state(&g), "QueuedForProcessing");
    assert_eq!(g["assignedLicenses"][0]["skuId"], E1);
    let snap = emu.snapshot().await;
    assert!(
        user_of(&snap, DAVE).license_assignment_states.is_empty(),
        "members change only after processing"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, _, g) = emu
        .get(&format!("/groups/{G2}?$select=licenseProcessingState"))
        .await;
    assert_eq!(state(&g), "ProcessingInProgress");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_, _, g) = emu
        .get(&format!("/groups/{G2}?$select=licenseProcessingState"))
        .await;
    assert_eq!(state(&g), "ProcessingComplete");
    let snap = emu.snapshot().await;
    for id in [DAVE, ERIN] {
        let s = &user_of(&snap, id).license_assignment_states;
        assert!(
            s.iter().any(|s| s.sku_id.to_string() == E1
                && s.assigned_by_group.map(|g| g.to_string()) == Some(G2.to_owned())),
            "{id}"
        );
    }
    assert_eq!(consumed(&snap, E1), 2);
}

#[tokio::test]
async fn group_licensing_errors_are_all_or_none_per_member() {
    let emu = start().await; // group processing is immediate
    // Power BI has no free seat: Dave fails with CountViolation, and so does E1 for him;
    // Erin already holds Power BI directly, so she needs no new seat and gets both.
    let (s, _, b) = emu
        .post(&format!("/groups/{G2}/assignLicense"), json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}, {"skuId": PBI, "disabledPlans": []}], "removeLicenses": []}))
        .await;
    assert_eq!(s, 202, "{b}");
    let snap = emu.snapshot().await;
    let dave = user_of(&snap, DAVE);
    assert_eq!(dave.license_assignment_states.len(), 2);
    assert!(
        dave.license_assignment_states
            .iter()
            .all(|s| s.state == AssignmentStateKind::Error
                && s.error == Some(AssignmentError::CountViolation))
    );
    assert!(dave.assigned_licenses.is_empty());
    let erin = user_of(&snap, ERIN);
    assert_eq!(erin.assigned_licenses.len(), 2);
    assert_eq!((consumed(&snap, E1), consumed(&snap, PBI)), (1, 1));
    let (_, _, b) = emu
        .get("/groups?$filter=hasMembersWithLicenseErrors eq true")
        .await;
    assert_eq!(b["value"][0]["id"], G2);
    // Removing the group's licenses releases its members' seats.
    let (s, _, _) = emu
        .post(
            &format!("/groups/{G2}/assignLicense"),
            json!({"addLicenses": [], "removeLicenses": [E1, PBI]}),
        )
        .await;
    assert_eq!(s, 202);
    let snap = emu.snapshot().await;
    assert_eq!((consumed(&snap, E1), consumed(&snap, PBI)), (0, 1));
    assert!(user_of(&snap, DAVE).license_assignment_states.is_empty());
    let (s, _, b) = emu
        .post(
            &format!("/groups/{G3}/assignLicense"),
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn batch_rules() {
    let emu = start().await;
    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
        .collect();
    let (s, _, b) = emu.post("/$batch", json!({"requests": too_many})).await;
    assert_eq!(s, 400, "{b}");
    let (s, _, _) = emu.post("/$batch", json!({"requests": [{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/users"}]})).await;
    assert_eq!(s, 400);
    let hdr = json!({"Content-Type": "application/json"});
    let (s, _, b) = emu
        .post("/$batch", json!({"requests": [
            {"id": "a", "method": "POST", "url": format!("/users/{BOB}/assignLicense"), "headers": hdr,
             "body": {"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}},
            {"id": "b", "dependsOn": ["a"], "method": "POST", "url": format!("/users/{DAVE}/assignLicense"), "headers": hdr,
             "body": {"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}},
            {"id": "c", "method": "POST", "url": format!("/users/{DAVE}/assignLicense"), "headers": hdr,
             "body": {"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}},
            {"id": "d", "method": "GET", "url": "subscribedSkus?$select=skuId,consumedUnits"},
            {"id": "e", "method": "POST", "url": "/$batch", "headers": hdr, "body": {}},
            {"id": "f", "method": "POST", "url": format!("/users/{DAVE}/assignLicense"), "body": {}},
        ]}))
        .await;
    assert_eq!(s, 200, "{b}");
    let by_id = |id: &str| {
        b["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .expect("item")
    };
    assert_eq!(by_id("a")["status"], 400);
    assert_eq!(by_id("a")["body"]["error"]["code"], "Request_BadRequest");
    assert_eq!(by_id("b")["status"], 424);
    assert_eq!(by_id("c")["status"], 200);
    assert_eq!(by_id("d")["status"], 200);
    assert!(by_id("d")["body"]["value"].is_array());
    assert_eq!(by_id("e")["status"], 400);
    assert_eq!(by_id("f")["status"], 400, "a body needs Content-Type");
    assert!(by_id("c")["headers"]["Content-Type"].is_string());
    let snap = emu.snapshot().await;
    assert_eq!(consumed(&snap, E3), 3);
    assert_eq!(consumed(&snap, E1), 0);
}

#[tokio::test]
async fn snapshot_round_trips_and_reads_back_through_the_api() {
    let emu = start().await;
    assert_eq!(emu.snapshot().await, tenant());
    // Read it back the way a client does: Graph endpoints only.
    let (_, _, skus) = emu.get("/subscribedSkus").await;
    let (_, _, users) = emu.get("/users?$select=id,userPrincipalName,displayName,accountEnabled,usageLocation,assignedLicenses,licenseAssignmentStates&$top=999").await;
    let (_, _, groups) = emu.get("/groups?$select=id,displayName,mailNickname,securityEnabled,assignedLicenses,licenseProcessingState").await;
    let mut group_values = Vec::new();
    for g in groups["value"].as_array().expect("groups") {
        let mut g = g.clone();
        let (_, _, members) = emu
            .get(&format!(
                "/groups/{}/members?$select=id",
                g["id"].as_str().expect("id")
            ))
            .await;
        let ids: Vec<Value> = members["value"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| m["id"].clone())
            .collect();
        g["members"] = Value::Array(ids);
        group_values.push(g);
    }
    let strip = |mut v: Value| {
        v.as_object_mut().expect("obj").remove("@odata.context");
        v
    };
    let fixture = tenant_json();
    let rebuilt = json!({
        "version": 1,
        "tenantId": TENANT,
        "tenantDomain": fixture["tenantDomain"],
        "subscribedSkus": skus["value"],
        "users": users["value"].as_array().expect("users").iter().cloned().map(strip).collect::<Vec<_>>(),
        "groups": group_values,
        "apps": fixture["apps"],
        "servicePlanRules": fixture["servicePlanRules"],
    });
    let rebuilt: licensectl_model::snapshot::TenantSnapshot =
        serde_json::from_value(rebuilt).expect("parses");
    assert_eq!(rebuilt, tenant());
}

#[tokio::test]
async fn stats_count_requests_and_reset() {
    let emu = start().await;
    emu.get("/users").await;
    emu.get("/users").await;
    emu.post(
        &format!("/users/{DAVE}/assignLicense"),
        json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}),
    )
    .await;
    emu.post("/$batch", json!({"requests": [{"id": "1", "method": "GET", "url": "/users"}, {"id": "2", "method": "GET", "url": "/groups"}]})).await;
    let stats: Value = emu
        .http
        .get(format!("{}/_emulator/stats", emu.running.url))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["byEndpoint"]["GET /users"]["200"], 3);
    assert_eq!(
        stats["byEndpoint"]["POST /users/{id}/assignLicense"]["200"],
        1
    );
    assert_eq!(stats["writes"], 1);
    assert_eq!(stats["batches"], 1);
    assert_eq!(stats["batchItems"], 2);
    assert_eq!(stats["tokenRequests"], 1);
    let r = emu
        .http
        .post(format!("{}/_emulator/stats/reset", emu.running.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 204);
    let stats: Value = emu
        .http
        .get(format!("{}/_emulator/stats", emu.running.url))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["requests"], 0);
}

#[tokio::test]
async fn every_answer_takes_at_least_the_latency_reads_counting_their_own_work() {
    let latency = Duration::from_millis(150);
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            latency,
            ..EmulatorOptions::default()
        },
    )
    .await;
    for (path, want) in [
        ("/users?$select=id,assignedLicenses", 200),
        ("/users?$filter=id ge '0'", 400),
    ] {
        let started = std::time::Instant::now();
        let (s, _, b) = emu.get(path).await;
        assert_eq!(s, want, "{path}: {b}");
        let took = started.elapsed();
        assert!(took >= latency, "{path}: {took:?}");
    }
    let started = std::time::Instant::now();
    let s = emu
        .patch(&format!("/users/{BOB}"), json!({"usageLocation": "FR"}))
        .await;
    assert_eq!(s, 204);
    let took = started.elapsed();
    assert!(took >= latency, "a write: {took:?}");
}
