//! Issue 5 against the real emulator on 127.0.0.1:0: every credential kind that can run
//! here, credential and permission failures, plain-http refusal, paging over 10k users,
//! throttling, injected 503/504/dropped connections, the deadline, token refresh in a
//! long read, and no secret, token or assertion in any output. End to end through the
//! `licensectl` binary where the behaviour is user-visible, through the library where
//! the client's internals (limiter, write errors) are what is checked.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graph_emulator::generate::{GenerateOptions, generate};
use graph_emulator::stats::Stats;
use graph_emulator::{EmulatorOptions, FaultSpec, ThrottleOptions};
use licensectl::snapshot::{AppRegistration, FederatedCredential, Group, TenantSnapshot};

use crate::util::{self, Emulated, contoso, example, graph_client, licensectl, text, with_secret};

const SECRET_APP: &str = "d0000000-0000-4000-8000-000000000001";
const CERT_APP: &str = "d0000000-0000-4000-8000-000000000002";
const FEDERATED_APP: &str = "d0000000-0000-4000-8000-000000000003";
const NO_USERS_APP: &str = "d0000000-0000-4000-8000-000000000004";
const SECRET: &str = "Zq8~live-graph-secret.value-1f2e";
const WRONG_SECRET: &str = "Wr0ng~secret.value-for-the-test-9c7d";
const K8S_ISSUER: &str = "https://oidc.cluster.example.test/4f1c";
const K8S_SUBJECT: &str = "system:serviceaccount:licensing:licensectl";
const GH_ISSUER: &str = "https://token.actions.githubusercontent.com";
const GH_SUBJECT: &str = "repo:contoso/licenses:ref:refs/heads/main";
const GH_REQUEST_TOKEN: &str = "ghs_request-token-for-the-oidc-endpoint-77a1";
const PFX_PASSWORD: &str = "test-password";
const READ_ROLES: &[&str] = &[
    "LicenseAssignment.Read.All",
    "User.Read.All",
    "GroupMember.Read.All",
    "Group.Read.All",
    "Organization.Read.All",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/auth")
        .join(name)
}

fn app(id: &str, roles: &[&str]) -> AppRegistration {
    AppRegistration {
        app_id: id.to_owned(),
        display_name: None,
        client_secrets: Vec::new(),
        public_keys_pem: Vec::new(),
        federated_credentials: Vec::new(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// A generated tenant whose app registrations cover every credential kind.
fn tenant(users: usize, groups: usize) -> TenantSnapshot {
    tenant_with(users, groups, &[])
}

/// The same, subscribed to `skus` only (empty: the generator's whole catalog).
fn tenant_with(users: usize, groups: usize, skus: &[&str]) -> TenantSnapshot {
    let mut t = generate(&GenerateOptions {
        users,
        groups,
        seed: 5,
        skus: skus.iter().map(|s| (*s).to_owned()).collect(),
        // A licensing read returns license fields only: compare like with like.
        directory_attributes: false,
        ..GenerateOptions::default()
    })
    .expect("generates");
    let cert = std::fs::read_to_string(fixture("cert.pem")).expect("certificate");
    let fed = |issuer: &str, subject: &str| FederatedCredential {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
    };
    let no_users: Vec<&str> = READ_ROLES
        .iter()
        .copied()
        .filter(|r| *r != "User.Read.All")
        .collect();
    t.apps = vec![
        AppRegistration {
            client_secrets: vec![SECRET.to_owned()],
            ..app(SECRET_APP, READ_ROLES)
        },
        AppRegistration {
            public_keys_pem: vec![cert],
            ..app(CERT_APP, READ_ROLES)
        },
        AppRegistration {
            federated_credentials: vec![fed(K8S_ISSUER, K8S_SUBJECT), fed(GH_ISSUER, GH_SUBJECT)],
            ..app(FEDERATED_APP, READ_ROLES)
        },
        AppRegistration {
            client_secrets: vec![SECRET.to_owned()],
            ..app(NO_USERS_APP, &no_users)
        },
    ];
    t
}

/// An external identity provider's token (the emulator checks issuer, subject, audience
/// and expiry of federated assertions, not the external signature).
fn federated_jwt(issuer: &str, subject: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})),
        part(serde_json::json!({
            "iss": issuer, "sub": subject, "aud": ["api://AzureADTokenExchange"],
            "iat": now, "nbf": now, "exp": now + 3600, "jti": "5a1d"
        })),
        URL_SAFE_NO_PAD.encode(b"external-idp-signature")
    )
}

/// GitHub's OIDC token endpoint, as a job with `id-token: write` sees it.
async fn github_oidc(jwt: String) -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    async fn token(
        State(jwt): State<String>,
        headers: HeaderMap,
        Query(q): Query<HashMap<String, String>>,
    ) -> (StatusCode, String) {
        let bearer = format!("Bearer {GH_REQUEST_TOKEN}");
        let authorized = headers
            .get("authorization")
            .is_some_and(|v| v.as_bytes() == bearer.as_bytes());
        if !authorized
            || q.get("audience").map(String::as_str) != Some("api://AzureADTokenExchange")
        {
            return (StatusCode::UNAUTHORIZED, String::new());
        }
        (
            StatusCode::OK,
            serde_json::json!({ "value": jwt }).to_string(),
        )
    }
    let router = axum::Router::new()
        .route("/token", axum::routing::get(token))
        .with_state(jwt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}/token?api-version=2.0"), task)
}

/// `licensectl snapshot -o OUT` against the emulator at `url`.
fn snapshot_cmd(url: &str, tid: &str, out: &Path) -> Command {
    let mut cmd = licensectl();
    cmd.args([
        "snapshot",
        "--graph-url",
        url,
        "--authority-host",
        url,
        "-o",
    ])
    .arg(out)
    .env("AZURE_TENANT_ID", tid);
    cmd
}

fn status_count(stats: &Stats, endpoint: &str, status: u16) -> u64 {
    stats
        .by_endpoint
        .get(endpoint)
        .and_then(|s| s.get(&status))
        .copied()
        .unwrap_or(0)
}

fn any_status(stats: &Stats, status: u16) -> u64 {
    stats
        .by_endpoint
        .values()
        .filter_map(|s| s.get(&status))
        .sum()
}

fn sorted_members(g: &Group) -> Group {
    let mut g = g.clone();
    g.members.sort();
    g
}

/// The snapshot `read` (no `--full`) holds exactly the licensed users of `original`, its
/// SKUs, and its licensing groups with their members.
fn assert_licensed_read(read: &TenantSnapshot, original: &TenantSnapshot, what: &str) {
    assert_eq!(read.tenant_id, original.tenant_id, "{what}");
    assert_eq!(read.subscribed_skus, original.subscribed_skus, "{what}");
    let licensed: Vec<_> = original
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .collect();
    assert_eq!(read.users.len(), licensed.len(), "{what}: licensed users");
    let by_id: HashMap<_, _> = read.users.iter().map(|u| (u.id, u)).collect();
    for u in licensed {
        assert_eq!(
            by_id.get(&u.id),
            Some(&u),
            "{what}: {}",
            u.user_principal_name
        );
    }
    let groups: BTreeMap<_, _> = original
        .groups
        .iter()
        .map(|g| (g.id, sorted_members(g)))
        .collect();
    let read_groups: BTreeMap<_, _> = read
        .groups
        .iter()
        .map(|g| (g.id, sorted_members(g)))
        .collect();
    assert_eq!(read_groups, groups, "{what}: groups");
}

/// What must never appear in any output: the given secrets, and any JWT (every JWT's
/// base64url JSON header starts with `eyJ`), bearer header, token field or private key.
fn assert_no_leaks(what: &str, outputs: &[(String, String)], secrets: &[&str]) {
    let always = [
        "eyJ",
        "Bearer ",
        "access_token",
        "client_assertion=",
        "client_secret=",
        "PRIVATE KEY",
    ];
    for (name, content) in outputs {
        for leak in secrets.iter().chain(always.iter()) {
            assert!(
                !content.contains(leak),
                "{what}: {name} contains {leak:?}:\n{content}"
            );
        }
    }
}

fn outputs_of(output: &Output, files: &[&Path]) -> Vec<(String, String)> {
    let mut all = vec![
        ("stdout".to_owned(), text(&output.stdout)),
        ("stderr".to_owned(), text(&output.stderr)),
    ];
    for f in files {
        if let Ok(content) = std::fs::read_to_string(f) {
            all.push((f.display().to_string(), content));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_each_credential_kind_reads_the_tenant_through_the_cli() {
    let original = tenant(1200, 4);
    let Emulated { running, tid } =
        Emulated::serve(original.clone(), EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let k8s_jwt = federated_jwt(K8S_ISSUER, K8S_SUBJECT);
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, &k8s_jwt).expect("token file");
    let gh_jwt = federated_jwt(GH_ISSUER, GH_SUBJECT);
    let (gh_url, _gh) = github_oidc(gh_jwt.clone()).await;

    type Setup = Box<dyn Fn(&mut Command)>;
    let cases: Vec<(&str, Setup)> = vec![
        (
            "secret",
            Box::new(|c| {
                c.env("AZURE_CLIENT_ID", SECRET_APP)
                    .env("AZURE_CLIENT_SECRET", SECRET);
            }),
        ),
        (
            "certificate",
            Box::new(|c| {
                c.env("AZURE_CLIENT_ID", CERT_APP)
                    .env("AZURE_CLIENT_CERTIFICATE_PATH", fixture("app-cert.pem"));
            }),
        ),
        (
            "certificate",
            Box::new(|c| {
                c.args(["--client-id", CERT_APP, "--certificate"])
                    .arg(fixture("app-cert-pkcs1.pem"));
            }),
        ),
        (
            "certificate",
            Box::new(|c| {
                c.env("AZURE_CLIENT_ID", CERT_APP)
                    .env("AZURE_CLIENT_CERTIFICATE_PATH", fixture("app-cert.pfx"))
                    .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PFX_PASSWORD);
            }),
        ),
        (
            "workload-identity",
            Box::new({
                let token_file = token_file.clone();
                move |c| {
                    c.env("AZURE_CLIENT_ID", FEDERATED_APP)
                        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file);
                }
            }),
        ),
        (
            "github-oidc",
            Box::new({
                let gh_url = gh_url.clone();
                move |c| {
                    c.env("AZURE_CLIENT_ID", FEDERATED_APP)
                        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &gh_url)
                        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", GH_REQUEST_TOKEN);
                }
            }),
        ),
    ];
    for (i, (method, setup)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("read-{i}.json"));
        let mut cmd = snapshot_cmd(&running.url, &tid, &out);
        cmd.env("LICENSECTL_LOG", "licensectl=debug");
        setup(&mut cmd);
        let tokens_before = running.emulator.stats().token_requests;
        let output = util::output(cmd).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{method} #{i}: {stderr}");
        assert!(
            stderr.contains(&format!("method={method}")),
            "the {method} credential was chosen (#{i}): {stderr}"
        );
        assert_eq!(
            running.emulator.stats().token_requests - tokens_before,
            1,
            "{method} #{i}: one token for the whole run (cached)"
        );
        let read = TenantSnapshot::read(&out).expect("snapshot written");
        assert_licensed_read(&read, &original, method);
        assert_no_leaks(
            method,
            &outputs_of(&output, &[&out]),
            &[SECRET, PFX_PASSWORD, &k8s_jwt, &gh_jwt, GH_REQUEST_TOKEN],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_wrong_credentials_fail_with_the_fix_and_leak_nothing() {
    let original = tenant(50, 1);
    let Emulated { running, tid } =
        Emulated::serve(original.clone(), EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let unknown_subject = federated_jwt(K8S_ISSUER, "system:serviceaccount:other:app");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &unknown_subject).expect("token file");
    let out = dir.path().join("never.json");

    let wrong_secret = with_secret(
        snapshot_cmd(&running.url, &tid, &out),
        SECRET_APP,
        WRONG_SECRET,
    );
    // The certificate is not registered on the secret app: the signature is refused.
    let mut unregistered_cert = snapshot_cmd(&running.url, &tid, &out);
    unregistered_cert
        .env("AZURE_CLIENT_ID", SECRET_APP)
        .env("AZURE_CLIENT_CERTIFICATE_PATH", fixture("app-cert.pem"));
    let mut unknown_federation = snapshot_cmd(&running.url, &tid, &out);
    unknown_federation
        .env("AZURE_CLIENT_ID", FEDERATED_APP)
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file);
    let mut unknown_app = with_secret(
        snapshot_cmd(&running.url, &tid, &out),
        "d0000000-0000-4000-8000-0000000000ff",
        SECRET,
    );
    unknown_app.env("LICENSECTL_LOG", "trace");
    let cases = [
        (
            wrong_secret,
            vec![
                "secret authentication failed",
                "AADSTS7000215",
                "AZURE_CLIENT_SECRET",
            ],
        ),
        (
            unregistered_cert,
            vec![
                "certificate authentication failed",
                "AADSTS700027",
                "upload",
            ],
        ),
        (
            unknown_federation,
            vec![
                "workload-identity authentication failed",
                "AADSTS70021",
                "federated credential",
            ],
        ),
        (
            unknown_app,
            vec![
                "secret authentication failed",
                "AADSTS700016",
                "AZURE_CLIENT_ID",
            ],
        ),
    ];
    for (cmd, wants) in cases {
        let output = util::output(cmd).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(text(&output.stdout), "");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors.len(), 1, "one clear error line: {stderr}");
        for want in wants {
            assert!(stderr.contains(want), "names {want:?}: {stderr}");
        }
        assert!(!out.exists(), "no snapshot written");
        assert_no_leaks(
            "wrong credentials",
            &outputs_of(&output, &[]),
            &[SECRET, WRONG_SECRET, &unknown_subject],
        );
    }
    assert_eq!(
        running.emulator.stats().requests,
        0,
        "no Graph call without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_missing_permission_names_the_permission_on_read_and_write() {
    let original = tenant(50, 1);
    let Emulated { running, tid } =
        Emulated::serve(original.clone(), EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("never.json");
    let output = util::output(with_secret(
        snapshot_cmd(&running.url, &tid, &out),
        NO_USERS_APP,
        SECRET,
    ))
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(text(&output.stdout), "");
    for want in [
        "GET /v1.0/users?",
        "403 Authorization_RequestDenied",
        "request-id ",
        "the app lacks the application permission User.Read.All",
        "admin consent",
    ] {
        assert!(stderr.contains(want), "names {want:?}: {stderr}");
    }
    assert_eq!(
        status_count(&running.emulator.stats(), "GET /users", 403),
        1,
        "a 403 is not retried"
    );

    // A write with a read-only app (the library; `apply` builds on the same client).
    let client = graph_client(&running.url, &tid, SECRET_APP, SECRET, fast_policy(), 4);
    let user = &original.users[0];
    let err = client
        .send(
            reqwest::Method::POST,
            client
                .url(&format!("users/{}/assignLicense", user.id))
                .expect("url"),
            &[],
            Some(&serde_json::json!({"addLicenses": [], "removeLicenses": []})),
        )
        .await
        .expect_err("write refused");
    let message = err.to_string();
    assert_eq!(
        err.code(),
        Some(&licensectl::graph::GraphErrorCode::AuthorizationRequestDenied)
    );
    assert!(
        message.contains("permission LicenseAssignment.ReadWrite.All")
            && message.contains("request-id "),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_plain_http_off_loopback_is_refused_before_any_request() {
    let original = tenant(20, 1);
    let Emulated { running, tid } =
        Emulated::serve(original.clone(), EmulatorOptions::default()).await;
    let url = running.url.as_str();
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--graph-url",
                "http://graph.example.test",
                "--authority-host",
                url,
            ],
            "--graph-url 'http://graph.example.test' uses plain http on a non-loopback host; use https",
        ),
        (
            &[
                "--graph-url",
                url,
                "--authority-host",
                "http://login.example.test",
            ],
            "--authority-host 'http://login.example.test' uses plain http on a non-loopback host; use https",
        ),
        (
            &[
                "--graph-url",
                url,
                "--authority-host",
                url,
                "--auth",
                "certificate",
            ],
            "--auth certificate needs a certificate file: set AZURE_CLIENT_CERTIFICATE_PATH or pass --certificate",
        ),
    ];
    for (args, want) in cases {
        let mut cmd = with_secret(licensectl(), SECRET_APP, SECRET);
        cmd.args(["snapshot", "-o", "/dev/null"])
            .args(args)
            .env("AZURE_TENANT_ID", &tid);
        let output = util::output(cmd).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(text(&output.stdout), "");
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
    let stats = running.emulator.stats();
    assert_eq!(
        (stats.token_requests, stats.requests),
        (0, 0),
        "nothing was sent, not even to the allowed loopback endpoint"
    );
    let mut usage = licensectl();
    usage.arg("snapshot");
    assert_eq!(
        util::output(usage).await.status.code(),
        Some(64),
        "-o is required"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_pages_over_ten_thousand_licensed_users_with_every_strategy() {
    // Three suites, no add-ons: every user holds one SKU, so pages per SKU barely overlap.
    let original = tenant_with(11_500, 6, &["ENTERPRISEPACK", "SPE_E5", "STANDARDPACK"]);
    let licensed = original
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .count();
    assert!(licensed > 10_000, "{licensed} licensed users");
    let Emulated { running, tid } =
        Emulated::serve(original.clone(), EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let per_sku_pages: u64 = original
        .subscribed_skus
        .iter()
        .filter(|s| s.consumed_units > 0)
        .map(|s| (s.consumed_units as u64).div_ceil(999))
        .sum();
    let sequential_pages = (licensed as u64).div_ceil(999);
    // In UPN ranges (and `auto`, which reads in ranges with this many pages left): the
    // two ends' first pages, then eight ranges between them, each ending with a partial
    // page, cut again while requests are free.
    let range_pages = sequential_pages..=sequential_pages + 10;
    for (strategy, pages) in [
        ("sequential", sequential_pages..=sequential_pages),
        ("per-sku", per_sku_pages..=per_sku_pages),
        ("ranges", range_pages.clone()),
        ("auto", range_pages),
    ] {
        running.emulator.reset_stats();
        let out = dir.path().join(format!("{strategy}.json"));
        let mut cmd = with_secret(snapshot_cmd(&running.url, &tid, &out), SECRET_APP, SECRET);
        cmd.args(["--strategy", strategy]);
        let output = util::output(cmd).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{strategy}: {stderr}");
        let read = TenantSnapshot::read(&out).expect("snapshot");
        assert_licensed_read(&read, &original, strategy);
        let stats = running.emulator.stats();
        let read_pages = status_count(&stats, "GET /users", 200);
        assert!(
            pages.contains(&read_pages),
            "{strategy}: {read_pages} pages of 999, expected {pages:?}"
        );
        assert!(
            stderr.contains(&format!("{} users", licensed))
                && stderr.contains(&format!(
                    "({} requests, 0 throttled, 0 retries)",
                    stats.requests
                )),
            "{strategy}: the summary matches the emulator's count: {stderr}"
        );
    }
}

fn fast_policy() -> licensectl::graph::RetryPolicy {
    licensectl::graph::RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(400),
        deadline: Duration::from_secs(30),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_a_throttled_read_succeeds_and_the_limiter_backs_off() {
    use licensectl::graph::ClientStats;
    use licensectl::graph::{LicensedUsersStrategy, NoProgress, ReadScope, read_tenant};
    let original = tenant(3000, 8);
    let Emulated { running, tid } = Emulated::serve(
        original.clone(),
        EmulatorOptions {
            throttle: Some(ThrottleOptions {
                ru_quota: Some(6),
                ru_window: Duration::from_millis(600),
                ..ThrottleOptions::graph()
            }),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let client = graph_client(&running.url, &tid, SECRET_APP, SECRET, fast_policy(), 8);
    let read = read_tenant(
        &client,
        original.tenant_id,
        &ReadScope {
            strategy: LicensedUsersStrategy::PerSku,
            ..ReadScope::default()
        },
        &NoProgress,
    )
    .await
    .expect("the throttled read succeeds");
    assert_licensed_read(&read, &original, "throttled");
    let emulated = running.emulator.stats();
    let seen = client.stats();
    let throttled = ClientStats::get(&seen.throttled);
    assert!(
        emulated.throttled > 0,
        "the emulator throttled: {emulated:?}"
    );
    assert_eq!(throttled, emulated.throttled, "every 429 was seen");
    assert_eq!(
        ClientStats::get(&seen.retries),
        throttled,
        "each 429 retried once more, nothing else failed"
    );
    assert!(client.limiter().throttled() >= 1);
    assert!(
        client.limiter().lowest_limit() < 8,
        "the limiter halved its concurrency (lowest {})",
        client.limiter().lowest_limit()
    );
    // Every caller pauses for the Retry-After and the concurrency halves, so after the
    // first wave a 429 costs at most about one more request per success. Eight pagers
    // that ignored the pause would meet about seven 429s per success here (the emulator's
    // Retry-After is the time until one more request fits).
    let ok = emulated.requests - emulated.throttled;
    assert!(
        throttled < 2 * ok,
        "{throttled} throttled for {ok} successful requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_injected_503_504_and_dropped_connections_are_retried_and_the_read_equals_the_tenant()
 {
    let original = tenant(2000, 5);
    let Emulated { running, tid } = Emulated::serve(
        original.clone(),
        EmulatorOptions {
            faults: "503=0.12,504=0.12,drop=0.12,retry-after=0.05"
                .parse::<FaultSpec>()
                .expect("spec"),
            seed: 3,
            ..EmulatorOptions::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("full.json");
    let mut cmd = with_secret(snapshot_cmd(&running.url, &tid, &out), SECRET_APP, SECRET);
    cmd.arg("--full").env("LICENSECTL_LOG", "licensectl=debug");
    let output = util::output(cmd).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let stats = running.emulator.stats();
    assert!(
        any_status(&stats, 503) > 0 && any_status(&stats, 504) > 0 && stats.dropped > 0,
        "every fault kind happened: {stats:?}"
    );
    let retries = any_status(&stats, 503) + any_status(&stats, 504) + stats.dropped;
    assert!(
        stderr.contains(&format!("0 throttled, {retries} retries")),
        "each fault retried once: {stderr}"
    );
    assert_eq!(
        stderr.matches("retrying graph request").count() as u64,
        retries,
        "every retry is logged at debug level"
    );
    let read = TenantSnapshot::read(&out).expect("snapshot");
    assert_eq!(read.tenant_id, original.tenant_id);
    assert_eq!(read.subscribed_skus, original.subscribed_skus);
    let mut users = original.users.clone();
    users.sort_by_key(|u| u.id);
    let mut read_users = read.users.clone();
    read_users.sort_by_key(|u| u.id);
    assert_eq!(read_users, users, "every user, unchanged");
    let groups: Vec<Group> = original.groups.iter().map(sorted_members).collect();
    let mut read_groups: Vec<Group> = read.groups.iter().map(sorted_members).collect();
    read_groups.sort_by_key(|g| groups.iter().position(|o| o.id == g.id));
    assert_eq!(read_groups, groups, "every group with its members");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_deadline_exceeded_is_a_clear_error_naming_the_flag() {
    let original = tenant(20, 1);
    let slow = Emulated::serve(
        original.clone(),
        EmulatorOptions {
            latency: Duration::from_secs(3),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let unavailable = Emulated::serve(
        original.clone(),
        EmulatorOptions {
            faults: "503=1,retry-after=30".parse::<FaultSpec>().expect("spec"),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let cases = [
        (&slow, "the request did not complete in time"),
        (&unavailable, "503 serviceNotAvailable"),
    ];
    for (emulated, last) in cases {
        let mut cmd = with_secret(
            snapshot_cmd(&emulated.running.url, &emulated.tid, Path::new("/dev/null")),
            SECRET_APP,
            SECRET,
        );
        cmd.args(["--deadline", "1"]);
        let started = Instant::now();
        let output = util::output(cmd).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(text(&output.stdout), "");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "gave up at the deadline, not after it ({:?})",
            started.elapsed()
        );
        for want in ["gave up after", "(deadline 1 s", last, "raise --deadline"] {
            assert!(stderr.contains(want), "names {want:?}: {stderr}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_a_long_read_refreshes_short_lived_tokens_before_they_expire() {
    let original = tenant(2500, 4);
    let Emulated { running, tid } = Emulated::serve(
        original.clone(),
        EmulatorOptions {
            token_lifetime: Duration::from_secs(4),
            latency: Duration::from_millis(600),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("long.json");
    let mut cmd = with_secret(snapshot_cmd(&running.url, &tid, &out), SECRET_APP, SECRET);
    cmd.args(["--strategy", "sequential", "--max-concurrency", "1"]);
    let started = Instant::now();
    let output = util::output(cmd).await;
    let elapsed = started.elapsed();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // Eleven requests one after another at 500 ms each: beyond one token's lifetime.
    assert!(
        elapsed > Duration::from_millis(5500),
        "a long read: {elapsed:?}"
    );
    let read = TenantSnapshot::read(&out).expect("snapshot");
    assert_licensed_read(&read, &original, "long read");
    let stats = running.emulator.stats();
    assert_eq!(
        any_status(&stats, 401),
        0,
        "no expired token was sent: {stats:?}"
    );
    // Refreshed at half its 4 s lifetime: about one token per 2 s, not one per request.
    let most = elapsed.as_secs() / 2 + 2;
    assert!(
        (3..=most).contains(&stats.token_requests),
        "{} token requests in {elapsed:?} for {} Graph requests",
        stats.token_requests,
        stats.requests
    );
    assert!(stats.token_requests < stats.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_live_plan_drift_and_the_saved_plan_leak_nothing_at_trace_level() {
    use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
    let example = example();
    let Emulated { running, tid } = Emulated::serve(contoso(), EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = dir.path().join("plan.json");
    let snapshot = dir.path().join("tenant.json");
    let url = running.url.as_str();
    let commands: [Vec<&str>; 3] = [
        vec![
            "plan",
            "--format",
            "markdown",
            "--out",
            saved.to_str().expect("utf-8"),
        ],
        vec!["drift", "--format", "json"],
        vec!["snapshot", "-o", snapshot.to_str().expect("utf-8")],
    ];
    for args in commands {
        let mut cmd = with_secret(licensectl(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET);
        cmd.args(&args)
            .arg("--config")
            .arg(&example)
            .args(["--graph-url", url, "--authority-host", url])
            .env("AZURE_TENANT_ID", &tid)
            .env("LICENSECTL_LOG", "trace");
        let output = util::output(cmd).await;
        assert!(
            matches!(output.status.code(), Some(0 | 2)),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains("TRACE"),
            "{args:?} logged at trace level"
        );
        assert_no_leaks(
            args[0],
            &outputs_of(&output, &[&saved, &snapshot]),
            &[DEFAULT_CLIENT_SECRET],
        );
    }
    assert!(
        saved.exists() && snapshot.exists(),
        "the files were written"
    );
}
