//! The directory audit log (`GET /auditLogs/directoryAudits`): Microsoft's documented
//! response shape, its permissions (AuditLog.Read.All and Directory.Read.All, both), the
//! entries a change of `accountEnabled` writes, retention (7 days, 30 with P1/P2) and the
//! documented filters.

use crate::common::*;
use graph_emulator::EmulatorOptions;
use serde_json::{Value, json};

const AUDIT_APP: &str = "c0000000-0000-4000-8000-0000000000a1";
const AUDIT_ONLY: &str = "c0000000-0000-4000-8000-0000000000a2";
const DIRECTORY_ONLY: &str = "c0000000-0000-4000-8000-0000000000a3";

/// Example 2 of the documented response (the current one, with `operationType`),
/// https://learn.microsoft.com/en-us/graph/api/directoryaudit-list.
fn documented_entry() -> Value {
    json!({
        "id": "SSGM_b662f17a-4e4d-4e1c-9248-cdec180024b2_MCDC4_88453290",
        "category": "GroupManagement",
        "correlationId": "b662f17a-4e4d-4e1c-9248-cdec180024b2",
        "result": "success",
        "resultReason": "OK",
        "activityDisplayName": "GroupLifecyclePolicies_Get",
        "activityDateTime": "2024-12-27T10:01:19.5796748Z",
        "loggedByService": "Self-service Group Management",
        "operationType": "Update",
        "initiatedBy": {
            "app": null,
            "user": {
                "id": "00000000-0000-0000-0000-000000000000",
                "displayName": null,
                "userPrincipalName": null,
                "ipAddress": "10.0.0.0",
                "userType": null,
                "homeTenantId": null,
                "homeTenantName": null
            }
        },
        "targetResources": [{
            "id": "00000000-0000-0000-0000-000000000000",
            "displayName": null,
            "type": "N/A",
            "userPrincipalName": null,
            "groupType": null,
            "modifiedProperties": []
        }],
        "additionalDetails": []
    })
}

fn iso_days_ago(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

fn stored(id: &str, activity: &str, days_ago: i64, target: &str) -> Value {
    json!({
        "id": id, "category": "UserManagement", "result": "success",
        "activityDisplayName": activity, "activityDateTime": iso_days_ago(days_ago),
        "loggedByService": "Core Directory",
        "targetResources": [{"id": target, "type": "User"}],
    })
}

/// The shared tenant, with apps for the audit log and three stored entries: 3, 10 and
/// 40 days old.
fn audited() -> Value {
    let mut t = tenant_json();
    let apps = t["apps"].as_array_mut().expect("apps");
    for (app, roles) in [
        (
            AUDIT_APP,
            json!([
                "AuditLog.Read.All",
                "Directory.Read.All",
                "User.ReadWrite.All"
            ]),
        ),
        (AUDIT_ONLY, json!(["AuditLog.Read.All", "User.Read.All"])),
        (DIRECTORY_ONLY, json!(["Directory.Read.All"])),
    ] {
        apps.push(json!({"appId": app, "clientSecrets": [SECRET], "roles": roles}));
    }
    t["directoryAudits"] = json!([
        stored("Directory_recent", "Disable account", 3, BOB),
        stored("Directory_ten", "Disable account", 10, CAROL),
        stored("Directory_old", "Disable account", 40, DAVE),
    ]);
    t
}

async fn serve(premium: bool) -> graph_emulator::Running {
    graph_emulator::serve(
        serde_json::from_value(audited()).expect("snapshot"),
        EmulatorOptions {
            premium: Some(premium),
            ..EmulatorOptions::default()
        },
        "127.0.0.1:0",
    )
    .await
    .expect("serve")
}

async fn get(running: &graph_emulator::Running, app: &str, path: &str) -> (u16, Value) {
    let token = secret_token(&running.url, app).await;
    let r = reqwest::Client::new()
        .get(format!("{}/v1.0{path}", running.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let (s, _, b) = split(r).await;
    (s, b)
}

fn ids(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn disabling_an_account_is_logged_in_the_documented_shape() {
    let running = serve(false).await;
    let token = secret_token(&running.url, AUDIT_APP).await;
    let status = reqwest::Client::new()
        .patch(format!("{}/v1.0/users/{ALICE}", running.url))
        .bearer_auth(&token)
        .json(&json!({"accountEnabled": false}))
        .send()
        .await
        .expect("send")
        .status();
    assert_eq!(status, 204);
    let (s, body) = get(
        &running,
        AUDIT_APP,
        "/auditLogs/directoryAudits?$filter=activityDisplayName eq 'Disable account'",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body["@odata.context"]
            .as_str()
            .is_some_and(|c| c.ends_with("/v1.0/$metadata#auditLogs/directoryAudits")),
        "{body}"
    );
    let newest = &body["value"][0];
    let documented = documented_entry();
    for key in documented.as_object().expect("object").keys() {
        assert!(
            newest.get(key).is_some(),
            "documented property {key} missing: {newest}"
        );
    }
    for key in [
        "id",
        "displayName",
        "type",
        "userPrincipalName",
        "modifiedProperties",
    ] {
        assert!(
            newest["targetResources"][0].get(key).is_some(),
            "targetResources[0].{key} missing: {newest}"
        );
    }
    assert_eq!(newest["activityDisplayName"], "Disable account");
    assert_eq!(newest["category"], "UserManagement");
    assert_eq!(newest["loggedByService"], "Core Directory");
    assert_eq!(newest["result"], "success");
    assert_eq!(newest["targetResources"][0]["id"], ALICE);
    assert_eq!(newest["targetResources"][0]["type"], "User");
    assert_eq!(
        newest["targetResources"][0]["modifiedProperties"][0],
        json!({"displayName": "AccountEnabled", "oldValue": "[true]", "newValue": "[false]"})
    );
    assert_eq!(newest["initiatedBy"]["app"]["appId"], AUDIT_APP);
    // Seven fractional digits, as Graph writes audit times.
    let at = newest["activityDateTime"].as_str().expect("time");
    assert_eq!(at.len(), "2024-12-27T10:01:19.5796748Z".len(), "{at}");
    // Enabling again is logged too, and lists first.
    reqwest::Client::new()
        .patch(format!("{}/v1.0/users/{ALICE}", running.url))
        .bearer_auth(&token)
        .json(&json!({"accountEnabled": true}))
        .send()
        .await
        .expect("send");
    let (_, all) = get(&running, AUDIT_APP, "/auditLogs/directoryAudits").await;
    assert_eq!(all["value"][0]["activityDisplayName"], "Enable account");
    // A PATCH that leaves accountEnabled as it is logs nothing.
    reqwest::Client::new()
        .patch(format!("{}/v1.0/users/{ALICE}", running.url))
        .bearer_auth(&token)
        .json(&json!({"accountEnabled": true, "usageLocation": "DE"}))
        .send()
        .await
        .expect("send");
    let (_, again) = get(&running, AUDIT_APP, "/auditLogs/directoryAudits").await;
    assert_eq!(ids(&again).len(), ids(&all).len());
    // The snapshot keeps the log.
    let snap = reqwest::Client::new()
        .get(format!("{}/_emulator/snapshot", running.url))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    let snap: licensectl_model::snapshot::TenantSnapshot =
        serde_json::from_str(&snap).expect("snapshot");
    assert_eq!(snap.directory_audits.map(|a| a.len()), Some(5));
}

#[tokio::test]
async fn the_audit_log_needs_audit_log_read_all_and_directory_read_all() {
    let running = serve(false).await;
    for (app, want) in [
        (AUDIT_APP, 200),
        (AUDIT_ONLY, 403),
        (DIRECTORY_ONLY, 403),
        (READ_APP, 403),
    ] {
        let (s, body) = get(&running, app, "/auditLogs/directoryAudits").await;
        assert_eq!(s, want, "{app}: {body}");
        if want == 403 {
            assert_eq!(error_code(&body), "Authorization_RequestDenied");
        }
        let (s, _) = get(&running, app, "/auditLogs/directoryAudits/Directory_recent").await;
        assert_eq!(s, want, "{app} by id");
    }
}

#[tokio::test]
async fn entries_are_kept_seven_days_and_thirty_with_premium() {
    let free = serve(false).await;
    let (_, body) = get(&free, AUDIT_APP, "/auditLogs/directoryAudits").await;
    assert_eq!(ids(&body), ["Directory_recent"]);
    let (s, _) = get(&free, AUDIT_APP, "/auditLogs/directoryAudits/Directory_ten").await;
    assert_eq!(s, 404);
    let premium = serve(true).await;
    let (_, body) = get(&premium, AUDIT_APP, "/auditLogs/directoryAudits").await;
    assert_eq!(ids(&body), ["Directory_recent", "Directory_ten"]);
}

#[tokio::test]
async fn the_documented_filters_order_and_paging_work_and_others_are_refused() {
    let running = serve(true).await;
    let since = iso_days_ago(5);
    let (s, body) = get(
        &running,
        AUDIT_APP,
        &format!(
            "/auditLogs/directoryAudits?$filter=activityDisplayName eq 'disable account' and activityDateTime le {since}"
        ),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(ids(&body), ["Directory_ten"]);
    let (_, body) = get(
        &running,
        AUDIT_APP,
        "/auditLogs/directoryAudits?$filter=startswith(activityDisplayName,'Disable')&$orderby=activityDateTime asc",
    )
    .await;
    assert_eq!(ids(&body), ["Directory_ten", "Directory_recent"]);
    let (_, first) = get(&running, AUDIT_APP, "/auditLogs/directoryAudits?$top=1").await;
    assert_eq!(ids(&first), ["Directory_recent"]);
    let next = first["@odata.nextLink"].as_str().expect("nextLink");
    let path = next.split("/v1.0").nth(1).expect("path");
    let (_, second) = get(&running, AUDIT_APP, path).await;
    assert_eq!(ids(&second), ["Directory_ten"]);
    assert!(second.get("@odata.nextLink").is_none());
    let (s, body) = get(
        &running,
        AUDIT_APP,
        "/auditLogs/directoryAudits?$filter=initiatedBy/user/id eq 'x'",
    )
    .await;
    assert_eq!(s, 400, "{body}");
    let (s, _) = get(&running, AUDIT_APP, "/auditLogs/directoryAudits?$expand=x").await;
    assert_eq!(s, 400);
}
