//! Permissions as Graph's reference lists them: application roles per endpoint, delegated
//! tokens (`scp` plus the user's directory roles) for the Azure CLI path, the limited
//! member objects of a caller who cannot read users, and `signInActivity`.

use std::collections::BTreeMap;

use crate::common::*;
use graph_emulator::auth::{AZURE_CLI_CLIENT_ID, AZURE_CLI_SCOPES, DEFAULT_USER_PASSWORD};
use graph_emulator::{EmulatorOptions, serve};
use serde_json::{Value, json};

/// An app with exactly `roles`, registered in the fixture tenant.
fn tenant_with_apps(apps: &[(&str, &[&str])]) -> licensectl_model::snapshot::TenantSnapshot {
    let mut t = tenant_json();
    let list = t["apps"].as_array_mut().expect("apps");
    for (id, roles) in apps {
        list.push(json!({"appId": id, "clientSecrets": [SECRET], "roles": roles}));
    }
    serde_json::from_value(t).expect("snapshot")
}

async fn call(
    emu: &Emu,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = emu.url(path);
    let req = match method {
        "GET" => emu.http.get(url),
        "PATCH" => emu.http.patch(url),
        _ => emu.http.post(url),
    };
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let (s, _, b) = split(req.bearer_auth(token).send().await.expect("send")).await;
    (s, b)
}

const LEAST: &str = "c0000000-0000-4000-8000-00000000a001";
const LICENSES_ONLY: &str = "c0000000-0000-4000-8000-00000000a002";
const BASIC: &str = "c0000000-0000-4000-8000-00000000a003";
const ORG_ONLY: &str = "c0000000-0000-4000-8000-00000000a004";

#[tokio::test]
async fn application_permissions_are_checked_per_endpoint_as_the_reference_lists_them() {
    let tenant = tenant_with_apps(&[
        // The least-privilege app: no Organization.*, no Directory.*.
        (
            LEAST,
            &[
                "LicenseAssignment.ReadWrite.All",
                "User.Read.All",
                "GroupMember.Read.All",
            ],
        ),
        (LICENSES_ONLY, &["LicenseAssignment.Read.All"]),
        (BASIC, &["Group.ReadBasic.All", "GroupMember.ReadBasic.All"]),
        (ORG_ONLY, &["Organization.Read.All"]),
    ]);
    let emu = start_with(tenant, EmulatorOptions::default()).await;
    let base = emu.running.url.clone();
    let assign = json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []});
    let cases: Vec<(&str, &str, String, Option<Value>, u16)> = vec![
        (LEAST, "GET", "/organization".into(), None, 403),
        (LEAST, "GET", "/subscribedSkus".into(), None, 403),
        (LEAST, "GET", "/directory/subscriptions".into(), None, 403),
        (
            LEAST,
            "GET",
            "/users?$select=id,assignedLicenses".into(),
            None,
            200,
        ),
        (
            LEAST,
            "GET",
            format!("/groups/{G1}/members?$select=id"),
            None,
            200,
        ),
        (
            LEAST,
            "GET",
            "/groups?$select=id,assignedLicenses".into(),
            None,
            200,
        ),
        (
            LEAST,
            "POST",
            format!("/users/{DAVE}/assignLicense"),
            Some(assign.clone()),
            200,
        ),
        (
            LEAST,
            "POST",
            format!("/groups/{G2}/assignLicense"),
            Some(assign.clone()),
            202,
        ),
        (
            LEAST,
            "PATCH",
            format!("/users/{BOB}"),
            Some(json!({"usageLocation": "FR"})),
            403,
        ),
        (
            LEAST,
            "POST",
            format!("/users/{DAVE}/reprocessLicenseAssignment"),
            None,
            403,
        ),
        (LICENSES_ONLY, "GET", "/subscribedSkus".into(), None, 200),
        (LICENSES_ONLY, "GET", "/users".into(), None, 403),
        (LICENSES_ONLY, "GET", "/organization".into(), None, 403),
        (
            BASIC,
            "GET",
            "/groups?$select=id,displayName".into(),
            None,
            200,
        ),
        (
            BASIC,
            "GET",
            "/groups?$select=id,assignedLicenses".into(),
            None,
            403,
        ),
        (
            BASIC,
            "GET",
            format!("/groups/{G1}?$select=licenseProcessingState"),
            None,
            403,
        ),
        (BASIC, "GET", format!("/groups/{G1}/members"), None, 403),
        (ORG_ONLY, "GET", "/organization".into(), None, 200),
        (ORG_ONLY, "GET", "/subscribedSkus".into(), None, 200),
        (
            ORG_ONLY,
            "GET",
            "/directory/subscriptions".into(),
            None,
            200,
        ),
        (ORG_ONLY, "GET", "/users".into(), None, 403),
        (
            FULL_APP,
            "PATCH",
            format!("/users/{BOB}"),
            Some(json!({"usageLocation": "FR"})),
            204,
        ),
        (
            FULL_APP,
            "POST",
            format!("/users/{CAROL}/reprocessLicenseAssignment"),
            None,
            200,
        ),
    ];
    for (app, method, path, body, expected) in cases {
        let token = secret_token(&base, app).await;
        let (s, b) = call(&emu, &token, method, &path, body).await;
        assert_eq!(s, expected, "{app} {method} {path}: {b}");
        if s == 403 {
            assert_eq!(
                b["error"],
                json!({"code": "Authorization_RequestDenied",
                       "message": "Insufficient privileges to complete the operation.",
                       "innerError": b["error"]["innerError"]}),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn read_write_permissions_imply_read_only_when_asked() {
    let tenant = tenant_with_apps(&[(LEAST, &["LicenseAssignment.ReadWrite.All"])]);
    for (lenient, expected) in [(false, 403), (true, 200)] {
        let emu = start_with(
            tenant.clone(),
            EmulatorOptions {
                read_write_implies_read: lenient,
                ..EmulatorOptions::default()
            },
        )
        .await;
        let token = secret_token(&emu.running.url, LEAST).await;
        let (s, _) = call(&emu, &token, "GET", "/subscribedSkus", None).await;
        assert_eq!(s, expected, "lenient {lenient}");
    }
}

#[tokio::test]
async fn members_of_a_caller_who_cannot_read_users_carry_only_their_id() {
    let tenant = tenant_with_apps(&[(LEAST, &["GroupMember.Read.All"])]);
    let emu = start_with(tenant, EmulatorOptions::default()).await;
    let token = secret_token(&emu.running.url, LEAST).await;
    let (s, b) = call(
        &emu,
        &token,
        "GET",
        &format!("/groups/{G2}/members?$select=id,userPrincipalName"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["value"][0],
        json!({"@odata.type": "#microsoft.graph.user", "id": DAVE, "userPrincipalName": null})
    );
    let (_, b) = call(
        &emu,
        &emu.token,
        "GET",
        &format!("/groups/{G2}/members?$select=id,userPrincipalName"),
        None,
    )
    .await;
    assert_eq!(b["value"][0]["userPrincipalName"], "dave@contoso.com");
}

async fn password_token(base: &str, user: &str, password: &str) -> (u16, Value) {
    token_response(
        base,
        &[
            ("client_id", AZURE_CLI_CLIENT_ID),
            ("username", user),
            ("password", password),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access openid",
            ),
            ("grant_type", "password"),
        ],
    )
    .await
}

fn admin_options() -> EmulatorOptions {
    let mut roles = BTreeMap::new();
    roles.insert(
        "alice@contoso.com".to_owned(),
        vec!["License Administrator".to_owned()],
    );
    EmulatorOptions {
        directory_roles: roles,
        ..EmulatorOptions::default()
    }
}

#[tokio::test]
async fn delegated_tokens_need_the_scope_and_the_users_role() {
    let mut t = tenant_json();
    t["users"][3]["userType"] = json!("Guest"); // Dave
    t["users"][4]["accountEnabled"] = json!(false); // Erin
    let emu = start_with(
        serde_json::from_value(t).expect("snapshot"),
        admin_options(),
    )
    .await;
    let base = emu.running.url.clone();
    let (s, alice) = password_token(&base, "alice@contoso.com", DEFAULT_USER_PASSWORD).await;
    assert_eq!(s, 200, "{alice}");
    assert_eq!(alice["scope"], AZURE_CLI_SCOPES);
    let (s, bob) = password_token(&base, "bob@contoso.com", DEFAULT_USER_PASSWORD).await;
    assert_eq!(s, 200);
    let token = |b: &Value| b["access_token"].as_str().unwrap_or_default().to_owned();
    let (alice, bob) = (token(&alice), token(&bob));
    let assign = json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []});
    // Any member reads; only a role holder writes.
    for tok in [&alice, &bob] {
        let (s, b) = call(&emu, tok, "GET", "/subscribedSkus", None).await;
        assert_eq!(s, 200, "{b}");
        let (s, _) = call(&emu, tok, "GET", "/users?$select=id,assignedLicenses", None).await;
        assert_eq!(s, 200);
    }
    let (s, b) = call(
        &emu,
        &bob,
        "POST",
        &format!("/users/{CAROL}/assignLicense"),
        Some(assign.clone()),
    )
    .await;
    assert_eq!((s, error_code(&b)), (403, "Authorization_RequestDenied"));
    let (s, b) = call(
        &emu,
        &alice,
        "POST",
        &format!("/users/{CAROL}/assignLicense"),
        Some(assign),
    )
    .await;
    assert_eq!(s, 200, "License Administrator: {b}");
    let (s, _) = call(
        &emu,
        &alice,
        "PATCH",
        &format!("/users/{BOB}"),
        Some(json!({"usageLocation": "FR"})),
    )
    .await;
    assert_eq!(s, 204, "License Administrators may set the usage location");
    // Scopes still count: a token without a users scope is refused whatever the role.
    let narrow = emu
        .running
        .emulator
        .user_token("alice@contoso.com", Some("User.Read"))
        .expect("token");
    let (s, _) = call(&emu, &narrow, "GET", "/users", None).await;
    assert_eq!(s, 403);
    let (s, _) = call(&emu, &narrow, "GET", "/organization", None).await;
    assert_eq!(s, 200, "User.Read reads the organization");
    // Guests cannot list users; disabled accounts and wrong passwords get no token.
    let guest = emu.running.emulator.user_token(DAVE, None).expect("token");
    let (s, _) = call(&emu, &guest, "GET", "/users", None).await;
    assert_eq!(s, 403);
    for (user, password, code) in [
        ("erin@contoso.com", DEFAULT_USER_PASSWORD, 50057),
        ("alice@contoso.com", "wrong", 50126),
        ("nobody@contoso.com", DEFAULT_USER_PASSWORD, 50034),
    ] {
        let (s, b) = password_token(&base, user, password).await;
        assert_eq!(
            (s, b["error"].clone()),
            (400, json!("invalid_grant")),
            "{user}"
        );
        assert_eq!(b["error_codes"][0], code, "{user}");
    }
}

#[tokio::test]
async fn unknown_directory_roles_and_users_are_refused_at_start() {
    for (user, role) in [
        ("alice@contoso.com", "Chief Licensing Officer"),
        ("nobody@contoso.com", "License Administrator"),
    ] {
        let mut roles = BTreeMap::new();
        roles.insert(user.to_owned(), vec![role.to_owned()]);
        let err = serve(
            tenant(),
            EmulatorOptions {
                directory_roles: roles,
                ..EmulatorOptions::default()
            },
            "127.0.0.1:0",
        )
        .await
        .err()
        .expect("refused");
        assert!(
            err.to_string()
                .starts_with("invalid emulator option: directory role"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn the_azure_cli_output_carries_a_token_the_emulator_accepts() {
    let emu = start_with(tenant(), admin_options()).await;
    let text = emu
        .running
        .emulator
        .azure_cli_token_json("alice@contoso.com")
        .expect("json");
    let out: Value = serde_json::from_str(&text).expect("json");
    for key in [
        "accessToken",
        "expiresOn",
        "expires_on",
        "tenant",
        "tokenType",
    ] {
        assert!(!out[key].is_null(), "{key}: {out}");
    }
    assert_eq!(out["tenant"], TENANT);
    let token = out["accessToken"].as_str().expect("token");
    let (s, b) = call(
        &emu,
        token,
        "POST",
        &format!("/users/{DAVE}/assignLicense"),
        Some(json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn sign_in_activity_needs_audit_log_permission_and_a_premium_tenant() {
    let mut t = tenant_json();
    t["users"][0]["signInActivity"] = json!({
        "lastSignInDateTime": "2026-01-10T08:00:00Z",
        "lastSuccessfulSignInDateTime": "2026-01-10T08:00:00Z"
    });
    let t: licensectl_model::snapshot::TenantSnapshot =
        serde_json::from_value(t).expect("snapshot");
    let audit = "c0000000-0000-4000-8000-00000000a0a1";
    let with_audit = {
        let mut v = serde_json::to_value(&t).expect("json");
        v["apps"].as_array_mut().expect("apps").push(
            json!({"appId": audit, "clientSecrets": [SECRET], "roles": ["User.Read.All", "AuditLog.Read.All"]}),
        );
        serde_json::from_value::<licensectl_model::snapshot::TenantSnapshot>(v).expect("snapshot")
    };
    let path = "/users?$select=id,signInActivity";
    // The fixture has no Entra ID P1/P2 plan: not premium.
    let emu = start_with(with_audit.clone(), EmulatorOptions::default()).await;
    let (s, b) = call(&emu, &emu.token, "GET", path, None).await;
    assert_eq!(
        (s, error_code(&b)),
        (403, "Authorization_RequestDenied"),
        "no AuditLog.Read.All"
    );
    let token = secret_token(&emu.running.url, audit).await;
    let (s, b) = call(&emu, &token, "GET", path, None).await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(
        b["error"],
        json!({"code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
               "message": "Neither tenant is B2C or tenant doesn't have premium license",
               "innerError": b["error"]["innerError"]})
    );
    let emu = start_with(
        with_audit,
        EmulatorOptions {
            premium: Some(true),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let token = secret_token(&emu.running.url, audit).await;
    let (s, b) = call(&emu, &token, "GET", path, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["value"][0]["signInActivity"]["lastSuccessfulSignInDateTime"],
        "2026-01-10T08:00:00Z"
    );
    assert!(
        b["value"][1].get("signInActivity").is_none(),
        "absent for a user who never signed in: {}",
        b["value"][1]
    );
    let (s, b) = call(
        &emu,
        &token,
        "GET",
        "/users/alice@contoso.com?$select=signInActivity",
        None,
    )
    .await;
    assert_eq!(s, 400, "by UPN: {b}");
    let (s, b) = call(
        &emu,
        &token,
        "GET",
        &format!("/users/{ALICE}?$select=signInActivity"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_page_with_sign_in_activity_holds_at_most_500_users() {
    let (running, token) = serve_generated(graph_emulator::generate::GenerateOptions {
        users: 620,
        groups: 1,
        ..graph_emulator::generate::GenerateOptions::default()
    })
    .await;
    let r = reqwest::Client::new()
        .get(format!(
            "{}/v1.0/users?$select=id,signInActivity&$top=999",
            running.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    let (s, _, b) = split(r).await;
    assert_eq!(
        s, 200,
        "the generated tenant is premium and the default app reads audit logs: {b}"
    );
    assert_eq!(b["value"].as_array().map(Vec::len), Some(500));
    assert!(b["@odata.nextLink"].is_string());
}
