//! Emulator authentication (secrets, certificate and federated assertions, 401/403),
//! throttling and injected faults.

use std::time::Duration;

use crate::common::*;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use graph_emulator::{EmulatorOptions, FaultSpec, ThrottleOptions, serve};
use serde_json::{Value, json};

const CERT_APP: &str = "c0000000-0000-4000-8000-0000000000c1";
const FED_APP: &str = "c0000000-0000-4000-8000-0000000000f1";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn pem(key: &KeyPair) -> String {
    let der = key.public_key().as_der().expect("der");
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der.as_ref())
    )
}

fn jwt(key: &KeyPair, alg: &str, claims: Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT"});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let scheme: &'static dyn RsaEncoding = if alg == "PS256" {
        &RSA_PSS_SHA256
    } else {
        &RSA_PKCS1_SHA256
    };
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        scheme,
        &aws_lc_rs::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn assertion_form(client: &str, assertion: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", client.to_owned()),
        ("scope", "https://graph.microsoft.com/.default".to_owned()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        ("client_assertion", assertion.to_owned()),
        ("grant_type", "client_credentials".to_owned()),
    ]
}

async fn post_form(base: &str, form: &[(&'static str, String)]) -> (u16, Value) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    token_response(base, &pairs).await
}

#[tokio::test]
async fn client_secret_tokens_and_token_errors() {
    let emu = start().await;
    let base = emu.running.url.clone();
    let parts: Vec<&str> = emu.token.split('.').collect();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["appid"], FULL_APP);
    assert!(
        claims["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .any(|r| r == "LicenseAssignment.ReadWrite.All")
    );
    assert!(claims["exp"].as_i64().expect("exp") > now());
    let form = |id: &'static str, secret: &'static str, scope: &'static str| {
        vec![
            ("client_id", id),
            ("client_secret", secret),
            ("scope", scope),
            ("grant_type", "client_credentials"),
        ]
    };
    let cases = [
        (
            form(FULL_APP, "wrong", "https://graph.microsoft.com/.default"),
            401,
            "invalid_client",
            7000215,
        ),
        (
            form(
                "c0000000-0000-4000-8000-0000000000ee",
                SECRET,
                "https://graph.microsoft.com/.default",
            ),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            form(FULL_APP, SECRET, "https://graph.microsoft.com/User.Read"),
            400,
            "invalid_scope",
            70011,
        ),
    ];
    for (form, status, error, code) in cases {
        let (s, body) = token_response(&base, &form).await;
        assert_eq!(
            (s, body["error"].as_str().expect("error")),
            (status, error),
            "{body}"
        );
        assert_eq!(body["error_codes"][0], code);
        for k in [
            "error_description",
            "timestamp",
            "trace_id",
            "correlation_id",
        ] {
            assert!(body[k].is_string(), "{k}");
        }
    }
    let (s, body) = token_response(
        &base,
        &[
            ("client_id", FULL_APP),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "authorization_code"),
        ],
    )
    .await;
    assert_eq!(
        (s, body["error"].clone()),
        (400, json!("unsupported_grant_type"))
    );
    // Basic authentication carries the secret too.
    let r = reqwest::Client::new()
        .post(format!("{base}/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .basic_auth(FULL_APP, Some(SECRET))
        .form(&[
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn bearer_checks_and_permissions() {
    let emu = start().await;
    for auth in [
        None,
        Some("Bearer "),
        Some("Bearer abc.def.ghi"),
        Some("Bearer nonsense"),
    ] {
        let mut req = emu.http.get(emu.url("/users"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let (s, headers, body) = split(req.send().await.expect("send")).await;
        assert_eq!(
            (s, error_code(&body)),
            (401, "InvalidAuthenticationToken"),
            "{auth:?}"
        );
        assert!(headers.get("request-id").is_some());
    }
    let reader = secret_token(&emu.running.url, READ_APP).await;
    let r = emu
        .http
        .get(emu.url("/users"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let r = emu
        .http
        .post(emu.url(&format!("/users/{DAVE}/assignLicense")))
        .bearer_auth(&reader)
        .json(&json!({"addLicenses": [], "removeLicenses": []}))
        .send()
        .await
        .expect("send");
    let (s, _, body) = split(r).await;
    assert_eq!((s, error_code(&body)), (403, "Authorization_RequestDenied"));
    assert_eq!(
        body["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    let r = emu
        .http
        .get(emu.url("/subscribedSkus"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn certificate_and_federated_assertions() {
    let key = KeyPair::generate(KeySize::Rsa2048).expect("key");
    let other = KeyPair::generate(KeySize::Rsa2048).expect("key");
    let mut tenant = tenant_json();
    tenant["apps"] = json!([
        {"appId": CERT_APP, "publicKeysPem": [pem(&key)], "roles": ["User.Read.All"]},
        {"appId": FED_APP, "federatedCredentials": [{"issuer": "https://token.actions.githubusercontent.com", "subject": "repo:contoso/licenses:ref:refs/heads/main"}], "roles": ["User.Read.All"]},
    ]);
    let running = serve(
        serde_json::from_value(tenant).expect("snapshot"),
        EmulatorOptions::default(),
        "127.0.0.1:0",
    )
    .await
    .expect("serve");
    let base = running.url.clone();
    let t = now();
    let cert_claims = json!({"aud": format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"), "iss": CERT_APP, "sub": CERT_APP, "jti": "1", "nbf": t, "exp": t + 300});
    for alg in ["RS256", "PS256"] {
        let (s, body) = post_form(
            &base,
            &assertion_form(CERT_APP, &jwt(&key, alg, cert_claims.clone())),
        )
        .await;
        assert_eq!(s, 200, "{alg}: {body}");
        let token = body["access_token"].as_str().expect("token");
        let r = reqwest::Client::new()
            .get(format!("{base}/v1.0/users"))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 200);
    }
    let (s, body) = post_form(
        &base,
        &assertion_form(CERT_APP, &jwt(&other, "RS256", cert_claims.clone())),
    )
    .await;
    assert_eq!(
        (s, body["error_codes"][0].clone()),
        (401, json!(700027)),
        "{body}"
    );
    let mut expired = cert_claims.clone();
    expired["exp"] = json!(t - 10);
    let (s, body) = post_form(
        &base,
        &assertion_form(CERT_APP, &jwt(&key, "RS256", expired)),
    )
    .await;
    assert_eq!(
        (s, body["error_codes"][0].clone()),
        (401, json!(700024)),
        "{body}"
    );
    let (s, _) = post_form(&base, &assertion_form(CERT_APP, "not-a-jwt")).await;
    assert_eq!(s, 400);

    let fed = json!({"aud": "api://AzureADTokenExchange", "iss": "https://token.actions.githubusercontent.com", "sub": "repo:contoso/licenses:ref:refs/heads/main", "nbf": t, "exp": t + 300});
    let (s, body) = post_form(
        &base,
        &assertion_form(FED_APP, &jwt(&other, "RS256", fed.clone())),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let mut wrong_sub = fed.clone();
    wrong_sub["sub"] = json!("repo:contoso/licenses:pull_request");
    let (s, body) = post_form(
        &base,
        &assertion_form(FED_APP, &jwt(&other, "RS256", wrong_sub)),
    )
    .await;
    assert_eq!(
        (s, body["error_codes"][0].clone()),
        (400, json!(70021)),
        "{body}"
    );
    let mut wrong_aud = fed;
    wrong_aud["aud"] = json!("https://example.com");
    let (s, _) = post_form(
        &base,
        &assertion_form(FED_APP, &jwt(&other, "RS256", wrong_aud)),
    )
    .await;
    assert_eq!(s, 400);
}

fn tight_throttle() -> ThrottleOptions {
    ThrottleOptions {
        ru_quota: Some(6),
        ru_window: Duration::from_secs(60),
        write_quota: 2,
        write_window: Duration::from_secs(60),
        ..ThrottleOptions::graph()
    }
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_and_scope() {
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            throttle: Some(tight_throttle()),
            ..EmulatorOptions::default()
        },
    )
    .await;
    // GET /users costs 2 RU, 1 with $select.
    let (s, headers, _) = emu.get("/users").await;
    assert_eq!(s, 200);
    assert_eq!(headers.get("x-ms-resource-unit").expect("ru"), "2");
    let (s, headers, _) = emu.get("/users?$select=id").await;
    assert_eq!(
        (
            s,
            headers
                .get("x-ms-resource-unit")
                .expect("ru")
                .to_str()
                .expect("ascii")
        ),
        (200, "1")
    );
    emu.get("/users").await; // 5 RU used
    let (s, headers, body) = emu.get("/users").await;
    assert_eq!(s, 429, "{body}");
    assert_eq!(error_code(&body), "TooManyRequests");
    assert_eq!(body["error"]["innerError"]["status"], "429");
    let retry: f64 = headers
        .get("retry-after")
        .expect("retry-after")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert!(retry >= 1.0);
    assert_eq!(
        headers.get("x-ms-throttle-information").expect("info"),
        "ResourceUnitLimitExceeded"
    );
    let scope = headers
        .get("x-ms-throttle-scope")
        .expect("scope")
        .to_str()
        .expect("ascii");
    assert_eq!(
        scope,
        format!("Tenant_Application/Read/{FULL_APP}/{TENANT}")
    );

    // Writes: two allowed, the third is refused — inside a batch it is the item that gets 429.
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            throttle: Some(ThrottleOptions {
                ru_quota: Some(100),
                ..tight_throttle()
            }),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let hdr = json!({"Content-Type": "application/json"});
    let items: Vec<Value> = [DAVE, BOB, ERIN]
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"id": i.to_string(), "method": "POST", "url": format!("/users/{u}/assignLicense"), "headers": hdr, "body": {"addLicenses": [], "removeLicenses": []}}))
        .collect();
    let (s, _, body) = emu.post("/$batch", json!({"requests": items})).await;
    assert_eq!(s, 200);
    let statuses: Vec<u64> = body["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1, "{body}");
    let throttled = body["responses"]
        .as_array()
        .expect("r")
        .iter()
        .find(|r| r["status"] == 429)
        .expect("429");
    assert!(throttled["headers"]["Retry-After"].is_string());
    assert_eq!(
        throttled["headers"]["x-ms-throttle-information"],
        "WriteLimitExceeded"
    );
    let stats = emu.running.emulator.stats();
    assert_eq!(stats.throttled, 1);
}

#[tokio::test]
async fn faults_are_seeded_and_typed() {
    let spec: FaultSpec = "503=0.5,504=0.2".parse().expect("spec");
    let run = |seed: u64| {
        let spec = spec.clone();
        async move {
            let emu = start_with(
                tenant(),
                EmulatorOptions {
                    faults: spec,
                    seed,
                    ..EmulatorOptions::default()
                },
            )
            .await;
            let mut out = Vec::new();
            for _ in 0..20 {
                let (s, headers, body) = emu.get("/users?$select=id").await;
                if s == 503 {
                    assert!(headers.get("retry-after").is_some());
                    assert!(body["error"]["code"].is_string());
                }
                out.push(s);
            }
            out
        }
    };
    let a = run(9).await;
    assert_eq!(a, run(9).await, "same seed, same faults");
    assert!(
        a.contains(&503) && a.contains(&504) && a.contains(&200),
        "{a:?}"
    );

    let emu = start_with(
        tenant(),
        EmulatorOptions {
            faults: "drop=1".parse().expect("spec"),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let result = async {
        let r = emu
            .http
            .get(emu.url("/users"))
            .bearer_auth(&emu.token)
            .send()
            .await?;
        r.text().await
    }
    .await;
    assert!(
        result.is_err(),
        "a dropped connection is an error for the client: {result:?}"
    );

    let emu = start_with(
        tenant(),
        EmulatorOptions {
            faults: "429=1".parse().expect("spec"),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let (s, headers, body) = emu.get("/users").await;
    assert_eq!((s, error_code(&body)), (429, "TooManyRequests"));
    assert_eq!(headers.get("retry-after").expect("retry-after"), "1");
}

fn write_body() -> Value {
    json!({"addLicenses": [], "removeLicenses": []})
}

#[tokio::test]
async fn the_tenant_write_quota_binds_across_apps_with_whole_second_retry_after() {
    let mut t = tenant_json();
    t["apps"].as_array_mut().expect("apps").push(json!({
        "appId": "c0000000-0000-4000-8000-0000000000b2", "clientSecrets": [SECRET],
        "roles": ["LicenseAssignment.ReadWrite.All"]
    }));
    let emu = start_with(
        serde_json::from_value(t).expect("snapshot"),
        EmulatorOptions {
            throttle: Some(ThrottleOptions {
                ru_quota: Some(100),
                write_quota: 2,
                tenant_write_quota: 3,
                tenant_write_window: Duration::from_secs(120),
                ..tight_throttle()
            }),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let other = secret_token(&emu.running.url, "c0000000-0000-4000-8000-0000000000b2").await;
    let post = |token: String| {
        let emu = &emu;
        async move {
            let r = emu
                .http
                .post(emu.url(&format!("/users/{DAVE}/assignLicense")))
                .bearer_auth(token)
                .json(&write_body())
                .send()
                .await
                .expect("send");
            split(r).await
        }
    };
    for token in [emu.token.clone(), emu.token.clone(), other.clone()] {
        let (s, _, b) = post(token).await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, headers, _) = post(other).await;
    assert_eq!(s, 429);
    let scope = headers["x-ms-throttle-scope"].to_str().expect("ascii");
    assert!(scope.starts_with("Tenant/Write/"), "{scope}");
    let retry = headers["retry-after"].to_str().expect("ascii");
    let secs: u64 = retry.parse().expect("an integer");
    assert!(
        (118..=120).contains(&secs),
        "until the window ends: {retry}"
    );
}

#[tokio::test]
async fn throttling_can_answer_503_throttled_temporarily() {
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            throttle: Some(ThrottleOptions {
                refusal: graph_emulator::throttle::Refusal::ThrottledTemporarily,
                ..tight_throttle()
            }),
            ..EmulatorOptions::default()
        },
    )
    .await;
    for _ in 0..2 {
        let (s, _, _) = emu
            .post(&format!("/users/{DAVE}/assignLicense"), write_body())
            .await;
        assert_eq!(s, 200);
    }
    let (s, headers, body) = emu
        .post(&format!("/users/{DAVE}/assignLicense"), write_body())
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (503, "Request_ThrottledTemporarily"),
        "{body}"
    );
    let retry = headers["retry-after"].to_str().expect("ascii").to_owned();
    assert_eq!(
        body["error"]["message"],
        format!("Your request is throttled temporarily. Please try after {retry} seconds.")
    );
}

#[tokio::test]
async fn load_429s_come_before_any_quota_and_say_so() {
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            faults: "load429=1".parse().expect("spec"),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let (s, headers, body) = emu.get("/users?$select=id").await;
    assert_eq!((s, error_code(&body)), (429, "TooManyRequests"));
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["x-ms-throttle-information"], "CPULimitExceeded");
}
