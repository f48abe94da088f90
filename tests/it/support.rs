//! A scripted Graph test double for client-behaviour tests: a client-secret token
//! endpoint and a few Graph endpoints with paging, `$batch` and scripted faults. The
//! full-fidelity double is the emulator (the `live_graph` tests); this one exists to script
//! exact failure sequences (which request fails, how, in which order).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub(crate) const TENANT: &str = "48a80680-7326-48cd-9935-b556b81d3a4e";
pub(crate) const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
pub(crate) const SECRET: &str = "s3cr3t-Value~for.tests";
const SKU_A: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const SKU_B: &str = "c7df2760-2c81-4ef7-b578-5b5392b571df";

/// A scripted fault for the next matching request.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// Answer this status with this Retry-After (if any) and a Graph error body.
    Status(u16, Option<&'static str>),
    /// Drop the connection (the handler panics, hyper closes the socket).
    Drop,
}

#[derive(Default)]
struct Inner {
    users: Vec<Value>,
    roles: Vec<String>,
    tid: String,
    faults: HashMap<String, VecDeque<Fault>>,
    /// Faults applied to `$batch` items whose URL starts with the key.
    item_faults: HashMap<String, VecDeque<Fault>>,
    tokens_issued: u32,
    requests: Vec<String>,
}

#[derive(Clone, Default)]
pub(crate) struct Double(Arc<Mutex<Inner>>);

impl Double {
    pub(crate) fn new(users: usize) -> Self {
        let inner = Inner {
            users: (0..users).map(user).collect(),
            roles: vec!["Directory.Read.All".into()],
            tid: TENANT.into(),
            ..Inner::default()
        };
        Self(Arc::new(Mutex::new(inner)))
    }

    /// The application permissions (`roles`) of the tokens issued from now on.
    pub(crate) fn roles(&self, roles: &[&str]) {
        self.0.lock().expect("lock").roles = roles.iter().map(|r| (*r).to_owned()).collect();
    }

    pub(crate) fn fault(&self, path: &str, faults: &[Fault]) {
        self.0
            .lock()
            .expect("lock")
            .faults
            .entry(path.into())
            .or_default()
            .extend(faults.iter().cloned());
    }

    pub(crate) fn item_fault(&self, prefix: &str, faults: &[Fault]) {
        self.0
            .lock()
            .expect("lock")
            .item_faults
            .entry(prefix.into())
            .or_default()
            .extend(faults.iter().cloned());
    }

    pub(crate) fn requests(&self) -> Vec<String> {
        self.0.lock().expect("lock").requests.clone()
    }

    pub(crate) async fn serve(self) -> String {
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/subscribedSkus", get(skus))
            .route("/v1.0/organization", get(organization))
            .route("/v1.0/users", get(users))
            .route("/v1.0/$batch", post(batch))
            .with_state(self);
        crate::util::listen(app).await
    }
}

fn user(i: usize) -> Value {
    let sku = if i.is_multiple_of(3) { SKU_B } else { SKU_A };
    json!({
        "id": format!("00000000-0000-4000-8000-{i:012}"),
        "userPrincipalName": format!("user{i}@contoso.com"),
        "accountEnabled": true,
        "usageLocation": "US",
        "assignedLicenses": [{"skuId": sku, "disabledPlans": []}],
        "licenseAssignmentStates": [{"skuId": sku, "disabledPlans": [], "assignedByGroup": null, "state": "Active", "error": "None"}],
    })
}

fn error(status: u16, code: &str, retry_after: Option<&str>) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(json!({"error": {"code": code, "message": "scripted", "innerError": {"request-id": "rid-scripted"}}})),
    )
        .into_response();
    r.headers_mut()
        .insert("request-id", "rid-scripted".parse().expect("hv"));
    if let Some(ra) = retry_after {
        r.headers_mut()
            .insert("retry-after", ra.parse().expect("hv"));
    }
    r
}

fn code_for(status: u16) -> &'static str {
    match status {
        429 => "TooManyRequests",
        403 => "Authorization_RequestDenied",
        _ => "ServiceUnavailable",
    }
}

async fn take_fault(d: &Double, path: &str) -> Option<Fault> {
    let mut inner = d.0.lock().expect("lock");
    inner.requests.push(path.to_owned());
    inner.faults.get_mut(path).and_then(VecDeque::pop_front)
}

fn apply(fault: Option<Fault>) -> Option<Response> {
    match fault? {
        Fault::Status(s, ra) => Some(error(s, code_for(s), ra)),
        Fault::Drop => panic!("scripted dropped connection"),
    }
}

fn authorize(d: &Double, headers: &HeaderMap, role: &str) -> Option<Response> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(token) = auth.strip_prefix("Bearer ") else {
        return Some(error(401, "InvalidAuthenticationToken", None));
    };
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok());
    let claims: Value = payload
        .and_then(|p| serde_json::from_slice(&p).ok())
        .unwrap_or_default();
    let roles = claims["roles"].as_array().cloned().unwrap_or_default();
    let ok = roles.iter().any(|r| {
        r == role
            || r == "Directory.Read.All" && role.ends_with("Read.All")
            || r == "Directory.ReadWrite.All"
    });
    let _ = d;
    (!ok).then(|| error(403, "Authorization_RequestDenied", None))
}

async fn token(State(d): State<Double>, Path(_tenant): Path<String>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let bad = |desc: &str| {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client", "error_description": desc, "error_codes": [7000215]}))).into_response()
    };
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return bad("AADSTS700016: Application not found.");
    }
    let valid = form.get("client_secret").is_some_and(|s| s == SECRET);
    if !valid {
        return bad("AADSTS7000215: Invalid client secret provided.");
    }
    let mut inner = d.0.lock().expect("lock");
    inner.tokens_issued += 1;
    let claims = json!({"tid": inner.tid, "roles": inner.roles, "appid": CLIENT_ID, "n": inner.tokens_issued});
    let token = format!(
        "eyJhbGciOiJub25lIn0.{}.tokensig{}",
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        inner.tokens_issued
    );
    axum::Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": token}))
        .into_response()
}

async fn organization(State(d): State<Double>, headers: HeaderMap) -> Response {
    // https://learn.microsoft.com/en-us/graph/api/organization-get#permissions
    if let Some(r) = authorize(&d, &headers, "Organization.Read.All") {
        return r;
    }
    axum::Json(json!({"value": [{"id": TENANT, "verifiedDomains": [
        {"name": "contoso.com", "isDefault": true, "isInitial": false},
        {"name": "contoso.onmicrosoft.com", "isDefault": false, "isInitial": true},
    ]}]}))
    .into_response()
}

async fn skus(State(d): State<Double>, headers: HeaderMap) -> Response {
    if let Some(r) = apply(take_fault(&d, "/subscribedSkus").await) {
        return r;
    }
    if let Some(r) = authorize(&d, &headers, "LicenseAssignment.Read.All") {
        return r;
    }
    let n = d.0.lock().expect("lock").users.len() as i64;
    let sku = |id: &str, part: &str, used: i64| {
        json!({
            "id": format!("{TENANT}_{id}"), "appliesTo": "User", "capabilityStatus": "Enabled",
            "consumedUnits": used, "prepaidUnits": {"enabled": n, "suspended": 0, "warning": 0, "lockedOut": 0},
            "servicePlans": [], "skuId": id, "skuPartNumber": part,
        })
    };
    axum::Json(
        json!({"value": [sku(SKU_A, "ENTERPRISEPACK", n - n / 3), sku(SKU_B, "SPE_E5", n / 3)]}),
    )
    .into_response()
}

fn list_users(
    d: &Double,
    q: &HashMap<String, String>,
    headers: Option<&HeaderMap>,
) -> (u16, Value) {
    let inner = d.0.lock().expect("lock");
    let filter = q.get("$filter").cloned().unwrap_or_default();
    if filter.contains("$count") && headers.is_some_and(|h| h.get("consistencylevel").is_none()) {
        return (
            400,
            json!({"error": {"code": "Request_BadRequest", "message": "$count is not currently supported."}}),
        );
    }
    let top: usize = q.get("$top").and_then(|t| t.parse().ok()).unwrap_or(100);
    let skip: usize = q
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let matching: Vec<&Value> = inner
        .users
        .iter()
        .filter(|u| {
            if let Some(rest) = filter.strip_prefix("assignedLicenses/any(x:x/skuId eq ") {
                u["assignedLicenses"][0]["skuId"] == rest.trim_end_matches(')')
            } else if let Some(list) = filter.strip_prefix("userPrincipalName in (") {
                list.trim_end_matches(')')
                    .split(',')
                    .any(|v| v.trim_matches('\'') == u["userPrincipalName"])
            } else {
                true
            }
        })
        .collect();
    let page: Vec<&Value> = matching.iter().skip(skip).take(top).copied().collect();
    let mut body = json!({"value": page});
    if skip + top < matching.len() {
        let mut next = q.clone();
        next.insert("$skiptoken".into(), (skip + top).to_string());
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(next.iter())
            .finish();
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/users?{qs}",
            inner.requests.first().map(|_| "BASE").unwrap_or("BASE")
        ));
    }
    (200, body)
}

async fn users(
    State(d): State<Double>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = apply(take_fault(&d, "/users").await) {
        return r;
    }
    if let Some(r) = authorize(&d, &headers, "User.Read.All") {
        return r;
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (status, mut body) = list_users(&d, &q, Some(&headers));
    if let Some(link) = body.get("@odata.nextLink").and_then(Value::as_str) {
        body["@odata.nextLink"] = json!(link.replace("BASE", &format!("http://{host}")));
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        axum::Json(body),
    )
        .into_response()
}

async fn batch(State(d): State<Double>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = apply(take_fault(&d, "/$batch").await) {
        return r;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let items = req["requests"].as_array().cloned().unwrap_or_default();
    if items.len() > 20 {
        return error(400, "Request_BadRequest", None);
    }
    let mut responses = Vec::new();
    for item in items {
        let url = item["url"].as_str().unwrap_or("").to_owned();
        let fault = {
            let mut inner = d.0.lock().expect("lock");
            let key = inner
                .item_faults
                .keys()
                .find(|k| url.starts_with(k.as_str()))
                .cloned();
            key.and_then(|k| inner.item_faults.get_mut(&k).and_then(VecDeque::pop_front))
        };
        if let Some(Fault::Status(s, ra)) = fault {
            let mut h = json!({});
            if let Some(ra) = ra {
                h["Retry-After"] = json!(ra);
            }
            responses.push(json!({"id": item["id"], "status": s, "headers": h, "body": {"error": {"code": code_for(s), "message": "scripted", "innerError": {"request-id": "item-rid"}}}}));
            continue;
        }
        if let Some(r) = authorize(&d, &headers, "User.Read.All") {
            let _ = r;
            responses.push(json!({"id": item["id"], "status": 403, "body": {"error": {"code": "Authorization_RequestDenied", "message": "denied"}}}));
            continue;
        }
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let (status, body) = if path == "/users" {
            list_users(&d, &q, None)
        } else {
            (
                404,
                json!({"error": {"code": "Request_ResourceNotFound", "message": "x"}}),
            )
        };
        responses.push(json!({"id": item["id"], "status": status, "headers": {}, "body": body}));
    }
    responses.reverse();
    axum::Json(json!({"responses": responses})).into_response()
}
