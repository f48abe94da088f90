//! Shared helpers of the emulator tests: a small hand-written tenant, start-up, tokens.

use graph_emulator::{EmulatorOptions, Running, serve};
use licensectl_model::snapshot::TenantSnapshot;
use serde_json::{Value, json};

pub(crate) const TENANT: &str = "0b7b2a77-1e9f-4c51-9d1c-3c7a5f0e2b11";
pub(crate) const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub(crate) const E1: &str = "18181a46-0d4e-45cd-891e-60aabd171b4e";
pub(crate) const PBI: &str = "f8a1db68-be16-40ed-86d5-cb42ce701560";
pub(crate) const VISIO: &str = "c5928f49-12ba-48f7-ada3-0d743a3601d5";
pub(crate) const CREDITS: &str = "47794cd0-f0e5-45c5-9033-2eb6b5fc84e0";
pub(crate) const EX_ENT: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";
pub(crate) const TEAMS: &str = "57ff2da0-773e-42df-b2af-ffb7a2317929";
pub(crate) const YAMMER: &str = "7547a3fe-08ee-4ccb-b430-5077c5041653";
pub(crate) const EX_STD: &str = "9aaf7827-d63c-4b61-89c3-182f06f82e5c";
pub(crate) const BI_PLAN: &str = "70d33638-9c74-4d01-bfd3-562de28bd4ba";
pub(crate) const VISIO_PLAN: &str = "663a804f-1c30-4ff0-9915-9db84f0d1cea";
/// Microsoft Workplace Analytics: its plan needs Exchange Online (Plan 1 or 2).
pub(crate) const WA: &str = "3d957427-ecdc-4df2-aacd-01cc9d519da8";
pub(crate) const WA_PLAN: &str = "f477b0f0-3bb1-4890-940c-40fcee6ce05f";
/// Domestic and Domestic + International calling plans: mutually exclusive.
pub(crate) const PSTN1: &str = "0dab259f-bf13-4952-b7f8-7db8f131b28d";
pub(crate) const PSTN1_PLAN: &str = "4ed3ff63-69d7-4fb7-b984-5aec7f605ca8";
pub(crate) const PSTN2: &str = "d3b4fe1f-9992-4930-8acb-ca6ec609365e";
pub(crate) const PSTN2_PLAN: &str = "5a10155d-f5c1-411a-a8ec-e99aae125390";
pub(crate) const ALICE: &str = "a0000000-0000-4000-8000-000000000001";
pub(crate) const BOB: &str = "a0000000-0000-4000-8000-000000000002";
pub(crate) const CAROL: &str = "a0000000-0000-4000-8000-000000000003";
pub(crate) const DAVE: &str = "a0000000-0000-4000-8000-000000000004";
pub(crate) const ERIN: &str = "a0000000-0000-4000-8000-000000000005";
pub(crate) const G1: &str = "b0000000-0000-4000-8000-000000000001";
pub(crate) const G2: &str = "b0000000-0000-4000-8000-000000000002";
pub(crate) const G3: &str = "b0000000-0000-4000-8000-000000000003";
pub(crate) const FULL_APP: &str = "c0000000-0000-4000-8000-000000000001";
pub(crate) const READ_APP: &str = "c0000000-0000-4000-8000-000000000002";
pub(crate) const SECRET: &str = "s3cret";

fn sku(
    part: &str,
    id: &str,
    applies: &str,
    enabled: i64,
    consumed: i64,
    plans: &[(&str, &str)],
) -> Value {
    json!({
        "id": format!("{TENANT}_{id}"),
        "accountId": TENANT,
        "accountName": "contoso",
        "appliesTo": applies,
        "capabilityStatus": "Enabled",
        "consumedUnits": consumed,
        "prepaidUnits": {"enabled": enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
        "servicePlans": plans.iter().map(|(n, i)| json!({
            "servicePlanId": i, "servicePlanName": n, "provisioningStatus": "Success", "appliesTo": applies
        })).collect::<Vec<_>>(),
        "skuId": id,
        "skuPartNumber": part,
        "subscriptionIds": ["5b0c1b4f-3a8e-4a4f-9c62-1f6ad7e0f001"],
    })
}

fn state(sku: &str, group: Option<&str>) -> Value {
    json!({"skuId": sku, "disabledPlans": [], "assignedByGroup": group, "state": "Active",
           "error": null, "lastUpdatedDateTime": "2025-01-15T08:00:00Z"})
}

fn user(id: &str, upn: &str, loc: Option<&str>, licenses: &[&str], states: Vec<Value>) -> Value {
    json!({
        "id": id, "userPrincipalName": upn, "displayName": upn.split('@').next(),
        "accountEnabled": true, "usageLocation": loc,
        "assignedLicenses": licenses.iter().map(|s| json!({"skuId": s, "disabledPlans": []})).collect::<Vec<_>>(),
        "licenseAssignmentStates": states,
    })
}

/// Alice: US, direct E3. Bob: no usage location. Carol: E3 from G1. Dave, Erin: members
/// of G2 (no licenses). Five fillers for paging. E3 has 1 free seat (3 − 2), Power BI
/// none (1 − 1, Erin), E1 plenty. Rules (real ones, also in the emulator's built-in
/// table): the calling plans exclude each other; Workplace Analytics needs Exchange.
pub(crate) fn tenant_json() -> Value {
    let mut users = vec![
        user(
            ALICE,
            "alice@contoso.com",
            Some("US"),
            &[E3],
            vec![state(E3, None)],
        ),
        user(BOB, "bob@contoso.com", None, &[], vec![]),
        user(
            CAROL,
            "carol@contoso.com",
            Some("DE"),
            &[E3],
            vec![state(E3, Some(G1))],
        ),
        user(DAVE, "dave@contoso.com", Some("US"), &[], vec![]),
        user(
            ERIN,
            "erin@contoso.com",
            Some("US"),
            &[PBI],
            vec![state(PBI, None)],
        ),
    ];
    for i in 0..5 {
        users.push(user(
            &format!("a0000000-0000-4000-8000-0000000001{i:02}"),
            &format!("filler{i}@contoso.com"),
            Some("GB"),
            &[],
            vec![],
        ));
    }
    json!({
        "version": 1,
        "tenantId": TENANT,
        "tenantDomain": "contoso.onmicrosoft.com",
        "subscribedSkus": [
            sku("ENTERPRISEPACK", E3, "User", 3, 2, &[("EXCHANGE_S_ENTERPRISE", EX_ENT), ("TEAMS1", TEAMS), ("YAMMER_ENTERPRISE", YAMMER)]),
            sku("STANDARDPACK", E1, "User", 10, 0, &[("EXCHANGE_S_STANDARD", EX_STD)]),
            sku("POWER_BI_PRO", PBI, "User", 1, 1, &[("BI_AZURE_P2", BI_PLAN)]),
            sku("VISIOCLIENT", VISIO, "User", 5, 0, &[("VISIO_CLIENT_SUBSCRIPTION", VISIO_PLAN)]),
            sku("MCOPSTNC", CREDITS, "Company", 1, 0, &[("MCOPSTNC", "505e180f-f7e0-4b65-91d4-00d670bbd18c")]),
            sku("WORKPLACE_ANALYTICS", WA, "User", 5, 0, &[("WORKPLACE_ANALYTICS", WA_PLAN)]),
            sku("MCOPSTN1", PSTN1, "User", 5, 0, &[("MCOPSTN1", PSTN1_PLAN)]),
            sku("MCOPSTN2", PSTN2, "User", 5, 0, &[("MCOPSTN2", PSTN2_PLAN)]),
        ],
        "users": users,
        "groups": [
            {"id": G1, "displayName": "sg-e3", "mailNickname": "sg-e3", "securityEnabled": true,
             "assignedLicenses": [{"skuId": E3, "disabledPlans": []}],
             "licenseProcessingState": {"state": "ProcessingComplete"}, "members": [CAROL]},
            {"id": G2, "displayName": "sg-empty", "mailNickname": "sg-empty", "securityEnabled": true,
             "assignedLicenses": [], "members": [DAVE, ERIN]},
            {"id": G3, "displayName": "m365-team", "mailNickname": "team", "securityEnabled": false,
             "assignedLicenses": [], "members": [ALICE]},
        ],
        "apps": [
            {"appId": FULL_APP, "clientSecrets": [SECRET],
             "roles": ["LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Group.Read.All", "GroupMember.Read.All", "Organization.Read.All"]},
            {"appId": READ_APP, "clientSecrets": [SECRET], "roles": ["User.Read.All"]},
        ],
        "servicePlanRules": {
            "mutuallyExclusive": [[PSTN1_PLAN, PSTN2_PLAN]],
            "dependencies": [{"plan": WA_PLAN, "requires": [EX_STD, EX_ENT]}],
        },
    })
}

pub(crate) fn tenant() -> TenantSnapshot {
    serde_json::from_value(tenant_json()).expect("fixture is a valid snapshot")
}

pub(crate) struct Emu {
    pub(crate) running: Running,
    pub(crate) http: reqwest::Client,
    pub(crate) token: String,
}

impl Emu {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v1.0{path}", self.running.url)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("send");
        split(r).await
    }

    pub(crate) async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.http.get(self.url(path)).bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let (s, _, b) = split(req.send().await.expect("send")).await;
        (s, b)
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        body: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("send");
        split(r).await
    }

    /// `PATCH` with a JSON body; the status.
    pub(crate) async fn patch(&self, path: &str, body: Value) -> u16 {
        self.http
            .patch(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    }

    pub(crate) async fn snapshot(&self) -> TenantSnapshot {
        let text = self
            .http
            .get(format!("{}/_emulator/snapshot", self.running.url))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("body");
        serde_json::from_str(&text).expect("snapshot")
    }
}

pub(crate) async fn split(r: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("json body")
    };
    (status, headers, body)
}

pub(crate) async fn token_response(base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .expect("send");
    let (s, _, b) = split(r).await;
    (s, b)
}

pub(crate) async fn secret_token(base: &str, app: &str) -> String {
    let (status, body) = token_response(
        base,
        &[
            ("client_id", app),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

pub(crate) async fn start_with(snapshot: TenantSnapshot, options: EmulatorOptions) -> Emu {
    let running = serve(snapshot, options, "127.0.0.1:0")
        .await
        .expect("serve");
    let token = secret_token(&running.url, FULL_APP).await;
    Emu {
        running,
        http: reqwest::Client::new(),
        token,
    }
}

pub(crate) async fn start() -> Emu {
    start_with(tenant(), EmulatorOptions::default()).await
}

pub(crate) fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// A generated tenant served with default options, and a token of the default app.
pub(crate) async fn serve_generated(
    opts: graph_emulator::generate::GenerateOptions,
) -> (Running, String) {
    let t = graph_emulator::generate::generate(&opts).expect("tenant");
    let tid = t.tenant_id.to_string();
    let running = serve(t, EmulatorOptions::default(), "127.0.0.1:0")
        .await
        .expect("serve");
    let r = reqwest::Client::new()
        .post(format!("{}/{tid}/oauth2/v2.0/token", running.url))
        .form(&[
            ("client_id", graph_emulator::DEFAULT_CLIENT_ID),
            ("client_secret", graph_emulator::DEFAULT_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("send");
    let token = split(r).await.2["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    (running, token)
}
