//! The Graph client and the credentials against a scripted test double on 127.0.0.1:0.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use azure_core::credentials::Secret;
use licensectl::auth::{AuthMethod, AuthSettings, TokenSource, token_tenant_id};
use licensectl::cli::connection::ConnectionArgs;
use licensectl::graph::client::ClientStats;
use licensectl::graph::read::{
    LicensedUsersStrategy, NoProgress, ReadScope, read_tenant, users_by_upn,
};
use licensectl::graph::{
    ClientOptions, Cloud, Endpoints, GraphClient, GraphError, GraphErrorCode, RetryPolicy,
};
use support::{CLIENT_ID, Double, FEDERATED, Fault, SECRET, TENANT};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/auth")
        .join(name)
}

fn settings(method: AuthMethod) -> AuthSettings {
    AuthSettings {
        method: Some(method),
        tenant_id: Some(TENANT.into()),
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(Secret::new(SECRET)),
        ..AuthSettings::default()
    }
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        deadline: Duration::from_secs(20),
    }
}

async fn client_for(
    url: &str,
    s: &AuthSettings,
    policy: RetryPolicy,
) -> Result<GraphClient, licensectl::auth::AuthError> {
    let endpoints = Endpoints::resolve(Cloud::Global, Some(url), Some(url)).expect("endpoints");
    let http = reqwest::Client::new();
    let tokens = TokenSource::new(s, &endpoints, http.clone())?;
    Ok(GraphClient::new(
        http,
        endpoints.graph_v1(),
        tokens,
        ClientOptions {
            retry: policy,
            max_concurrency: 4,
        },
    ))
}

#[tokio::test]
async fn each_credential_kind_gets_a_token_from_the_authority() {
    let double = Double::new(3);
    let url = double.clone().serve().await;
    let token_file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(token_file.path(), FEDERATED).expect("write");
    let cases: Vec<(&str, AuthSettings)> = vec![
        ("secret", settings(AuthMethod::Secret)),
        (
            "workload identity",
            AuthSettings {
                federated_token_file: Some(token_file.path().to_owned()),
                ..settings(AuthMethod::WorkloadIdentity)
            },
        ),
        (
            "certificate pem",
            AuthSettings {
                certificate_path: Some(fixture("app-cert.pem")),
                ..settings(AuthMethod::Certificate)
            },
        ),
        (
            "certificate pkcs1 pem",
            AuthSettings {
                certificate_path: Some(fixture("app-cert-pkcs1.pem")),
                ..settings(AuthMethod::Certificate)
            },
        ),
        (
            "certificate pfx",
            AuthSettings {
                certificate_path: Some(fixture("app-cert.pfx")),
                certificate_password: Some(Secret::new("test-password")),
                ..settings(AuthMethod::Certificate)
            },
        ),
    ];
    for (name, s) in cases {
        let client = client_for(&url, &s, fast_policy()).await.expect(name);
        let token = client.tokens().token().await.expect(name);
        assert_eq!(
            token_tenant_id(token.token.secret())
                .map(|t| t.to_string())
                .as_deref(),
            Some(TENANT),
            "{name}"
        );
        let skus = client.subscribed_skus().await.expect(name);
        assert_eq!(skus.len(), 2, "{name}");
    }
    // Tokens are cached: one per credential, not one per request.
    assert_eq!(double.0.lock().expect("lock").tokens_issued, 5);
}

#[tokio::test]
async fn wrong_secret_and_wrong_federated_token_fail_without_leaking() {
    let double = Double::new(1);
    let url = double.clone().serve().await;
    let wrong = AuthSettings {
        client_secret: Some(Secret::new("not-the-secret-123")),
        ..settings(AuthMethod::Secret)
    };
    let client = client_for(&url, &wrong, fast_policy())
        .await
        .expect("client");
    let err = client.subscribed_skus().await.expect_err("wrong secret");
    let text = err.to_string();
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("not-the-secret-123"), "{text}");
    assert!(matches!(err, GraphError::Auth(_)), "{err:?}");

    let token_file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(token_file.path(), "some.other.assertion").expect("write");
    let s = AuthSettings {
        federated_token_file: Some(token_file.path().to_owned()),
        ..settings(AuthMethod::WorkloadIdentity)
    };
    let err = client_for(&url, &s, fast_policy())
        .await
        .expect("client")
        .tokens()
        .token()
        .await
        .expect_err("bad assertion");
    assert!(
        err.to_string()
            .contains("workload-identity authentication failed"),
        "{err}"
    );
    assert!(!err.to_string().contains("some.other.assertion"), "{err}");
}

#[tokio::test]
async fn missing_permission_is_403_with_code_and_request_id_on_read_and_write() {
    let double = Double::new(1);
    double.0.lock().expect("lock").roles = vec!["LicenseAssignment.Read.All".into()];
    let url = double.clone().serve().await;
    let client = client_for(&url, &settings(AuthMethod::Secret), fast_policy())
        .await
        .expect("client");
    client.subscribed_skus().await.expect("sku read is allowed");
    let err = client
        .list_all::<serde_json::Value>(client.users_url(None).expect("url"), &[])
        .await
        .expect_err("403");
    assert_eq!(
        err.code(),
        Some(&GraphErrorCode::AuthorizationRequestDenied)
    );
    assert!(err.to_string().contains("request-id rid-scripted"), "{err}");
    assert!(err.to_string().contains("docs/live.md"), "{err}");
    let write = client
        .send(
            reqwest::Method::POST,
            client.url("users/x/assignLicense").expect("url"),
            &[],
            Some(&serde_json::json!({"addLicenses": [], "removeLicenses": []})),
        )
        .await
        .expect_err("write denied");
    assert_eq!(
        write.code(),
        Some(&GraphErrorCode::AuthorizationRequestDenied)
    );
}

#[tokio::test]
async fn pages_over_ten_thousand_users_both_strategies() {
    let double = Double::new(10_500);
    let url = double.clone().serve().await;
    for strategy in [
        LicensedUsersStrategy::Sequential,
        LicensedUsersStrategy::PerSku,
    ] {
        let client = client_for(&url, &settings(AuthMethod::Secret), fast_policy())
            .await
            .expect("client");
        let scope = ReadScope {
            strategy,
            ..ReadScope::default()
        };
        let snap = read_tenant(&client, TENANT.parse().expect("tid"), &scope, &NoProgress)
            .await
            .expect("read");
        assert_eq!(snap.users.len(), 10_500, "{strategy:?}");
        let pages = ClientStats::get(&client.stats().requests);
        // SKUs and organization + ceil(10500/999) = 11 pages sequentially; per SKU: 8 + 4.
        let want = if strategy == LicensedUsersStrategy::Sequential {
            2 + 11
        } else {
            2 + 8 + 4
        };
        assert_eq!(
            snap.tenant_domain.as_deref(),
            Some("contoso.onmicrosoft.com"),
            "the snapshot records the initial domain"
        );
        assert_eq!(pages, want, "{strategy:?}");
    }
}

#[tokio::test]
async fn throttling_and_faults_are_retried_and_the_read_succeeds() {
    let double = Double::new(2_500);
    double.fault(
        "/users",
        &[
            Fault::Status(429, Some("0.2")),
            Fault::Status(503, Some("0.05")),
            Fault::Status(504, None),
            Fault::Drop,
            Fault::Status(500, None),
        ],
    );
    double.fault(
        "/subscribedSkus",
        &[Fault::Status(429, Some("0.1")), Fault::Drop],
    );
    let url = double.clone().serve().await;
    let client = client_for(&url, &settings(AuthMethod::Secret), fast_policy())
        .await
        .expect("client");
    let scope = ReadScope {
        strategy: LicensedUsersStrategy::Sequential,
        ..ReadScope::default()
    };
    let snap = read_tenant(&client, TENANT.parse().expect("tid"), &scope, &NoProgress)
        .await
        .expect("read succeeds");
    assert_eq!(snap.users.len(), 2_500);
    let s = client.stats();
    assert_eq!(ClientStats::get(&s.retries), 7);
    assert_eq!(ClientStats::get(&s.throttled), 2);
    assert!(client.limiter().throttled() >= 1);
}

#[tokio::test]
async fn deadline_and_attempt_limits_give_clear_errors() {
    let double = Double::new(1);
    double.fault("/subscribedSkus", &[Fault::Status(429, Some("5"))]);
    double.fault(
        "/users",
        &[
            Fault::Status(503, None),
            Fault::Status(503, None),
            Fault::Status(503, None),
        ],
    );
    let url = double.clone().serve().await;
    let policy = RetryPolicy {
        deadline: Duration::from_secs(1),
        max_attempts: 3,
        ..fast_policy()
    };
    let client = client_for(&url, &settings(AuthMethod::Secret), policy)
        .await
        .expect("client");
    let started = std::time::Instant::now();
    let err = client.subscribed_skus().await.expect_err("deadline");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "did not sleep through a Retry-After past the deadline"
    );
    let text = err.to_string();
    assert!(matches!(err, GraphError::Deadline { .. }), "{err:?}");
    assert!(
        text.contains("gave up") && text.contains("TooManyRequests") && text.contains("--deadline"),
        "{text}"
    );
    // A fresh client: the first one holds every caller back for the 5 s Retry-After.
    let policy = RetryPolicy {
        max_attempts: 3,
        ..fast_policy()
    };
    let client = client_for(&url, &settings(AuthMethod::Secret), policy)
        .await
        .expect("client");
    let err = client
        .list_all::<serde_json::Value>(client.users_url(None).expect("url"), &[])
        .await
        .expect_err("attempts");
    assert!(
        matches!(&err, GraphError::Api { error, .. } if error.status == 503),
        "{err:?}"
    );
}

#[tokio::test]
async fn batch_items_are_retried_individually() {
    let double = Double::new(100);
    double.item_fault(
        "/users",
        &[Fault::Status(429, Some("0.1")), Fault::Status(503, None)],
    );
    let url = double.clone().serve().await;
    let client = client_for(&url, &settings(AuthMethod::Secret), fast_policy())
        .await
        .expect("client");
    let upns: Vec<String> = (0..40)
        .map(|i| format!("user{i}@contoso.com"))
        .chain(["ghost@contoso.com".to_string()])
        .collect();
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let found = users_by_upn(&client, &refs).await.expect("lookup");
    assert_eq!(
        found.len(),
        40,
        "every existing user found, the ghost absent"
    );
    let batches = double.requests().iter().filter(|r| *r == "/$batch").count();
    assert_eq!(
        batches, 2,
        "one batch of 3 in-filters, then one batch retrying the 2 failed items"
    );
    assert_eq!(ClientStats::get(&client.stats().retries), 2);
}

#[tokio::test]
async fn tenant_pinning_refuses_another_tenant() {
    let double = Double::new(1);
    let url = double.clone().serve().await;
    // SAFETY of env: this test sets no environment; the args carry everything but the
    // secret, which connect() reads from AZURE_CLIENT_SECRET. Use the tenant id path.
    let args = ConnectionArgs {
        cloud: Cloud::Global,
        graph_url: Some(url.clone()),
        authority_host: Some(url.clone()),
        auth: Some(AuthMethod::Certificate),
        tenant_id: Some(TENANT.into()),
        client_id: Some(CLIENT_ID.into()),
        certificate: Some(fixture("app-cert.pem")),
        max_concurrency: 2,
        deadline: 10.0,
        max_attempts: 3,
    };
    let ok = args.connect(Some(TENANT)).await.expect("same tenant");
    assert_eq!(ok.tenant_id.to_string(), TENANT);
    let err = args
        .connect(Some(support::OTHER_TENANT))
        .await
        .err()
        .expect("pinned elsewhere");
    let text = format!("{err:#}");
    assert!(
        text.contains("refusing") && text.contains(support::OTHER_TENANT) && text.contains(TENANT),
        "{text}"
    );
}
