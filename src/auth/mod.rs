//! Authentication: which credential to use, and access tokens for Graph.
//!
//! Credentials come from `azure_identity` (client secret, workload identity, managed
//! identity, Azure CLI, and `ClientAssertionCredential` for GitHub Actions OIDC and for
//! certificates, whose assertion licensectl signs itself). Every credential sends through
//! our reqwest/rustls client ([`transport`]).
//!
//! [`TokenSource`] caches the access token and asks the credential for a new one when the
//! token is within [`refresh_margin`] of its expiry: five minutes, or half the token's
//! lifetime for tokens that live less than ten minutes. A long run therefore never sends
//! an expired token, and a short-lived token is not fetched again for every request
//! (azure_identity's own cache refreshes five minutes before expiry, which for a token of
//! five minutes or less means on every call). Concurrent callers wait for one refresh.
//!
//! Selection order, when `--auth` does not force a method (first match wins):
//! 1. `secret` — `AZURE_CLIENT_SECRET` is set;
//! 2. `certificate` — `AZURE_CLIENT_CERTIFICATE_PATH` is set;
//! 3. `workload-identity` — `AZURE_FEDERATED_TOKEN_FILE` is set;
//! 4. `github-oidc` — `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`
//!    are set (a GitHub Actions job with `id-token: write`);
//! 5. `managed-identity` — `IDENTITY_ENDPOINT` or `MSI_ENDPOINT` is set (App Service,
//!    Functions, Container Apps; on a VM, force it with `--auth managed-identity`, since
//!    probing the instance metadata service costs seconds everywhere else);
//! 6. `azure-cli` — a person at a terminal who ran `az login`.
//!
//! This module never prints: secrets, tokens and assertions live in `Secret`s whose
//! `Debug` is redacted, and no error message includes them.

pub(crate) mod certificate;
pub(crate) mod github;
pub(crate) mod jwt;
pub(crate) mod transport;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{AccessToken, Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_core::time::{Duration as TimeDuration, OffsetDateTime};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use crate::graph::cloud::Endpoints;
use crate::ids::TenantId;

use self::certificate::CertificateAssertion;
use self::github::GithubOidcAssertion;
use self::transport::{LoopbackRedirect, ReqwestHttpClient};

/// The credential kinds, for `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMethod {
    /// App registration with a client secret.
    Secret,
    /// App registration with a certificate (PEM or PKCS#12).
    Certificate,
    /// Federated token file (Kubernetes workload identity and friends).
    WorkloadIdentity,
    /// GitHub Actions OIDC token exchanged as a federated credential.
    GithubOidc,
    /// Azure managed identity.
    ManagedIdentity,
    /// The Azure CLI's signed-in account.
    AzureCli,
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMethod::Secret => "secret",
            AuthMethod::Certificate => "certificate",
            AuthMethod::WorkloadIdentity => "workload-identity",
            AuthMethod::GithubOidc => "github-oidc",
            AuthMethod::ManagedIdentity => "managed-identity",
            AuthMethod::AzureCli => "azure-cli",
        })
    }
}

/// Everything the credentials may need, gathered by the CLI from flags and environment.
#[derive(Default, Clone)]
pub struct AuthSettings {
    /// `--auth`: force one method.
    pub method: Option<AuthMethod>,
    /// `AZURE_TENANT_ID` / `--tenant-id`.
    pub tenant_id: Option<String>,
    /// `AZURE_CLIENT_ID` / `--client-id`.
    pub client_id: Option<String>,
    /// `AZURE_CLIENT_SECRET` (environment only).
    pub client_secret: Option<Secret>,
    /// `AZURE_CLIENT_CERTIFICATE_PATH` / `--certificate`.
    pub certificate_path: Option<PathBuf>,
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD` (environment only).
    pub certificate_password: Option<Secret>,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub federated_token_file: Option<PathBuf>,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
    pub github_request_url: Option<String>,
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (environment only).
    pub github_request_token: Option<Secret>,
    /// `IDENTITY_ENDPOINT` or `MSI_ENDPOINT` is set.
    pub managed_identity_endpoint: bool,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |b: bool| if b { "<set>" } else { "<unset>" };
        f.debug_struct("AuthSettings")
            .field("method", &self.method)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &set(self.client_secret.is_some()))
            .field("certificate_path", &self.certificate_path)
            .field(
                "certificate_password",
                &set(self.certificate_password.is_some()),
            )
            .field("federated_token_file", &self.federated_token_file)
            .field(
                "github_request_url",
                &set(self.github_request_url.is_some()),
            )
            .field(
                "github_request_token",
                &set(self.github_request_token.is_some()),
            )
            .field("managed_identity_endpoint", &self.managed_identity_endpoint)
            .finish()
    }
}

/// Errors setting up or using a credential. A cause from below is the `source`, printed
/// once by an error chain after the message; azure_core's errors are the exception (see
/// [`AuthError::Token`]).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A setting the chosen method needs is missing.
    #[error("--auth {method} needs {what}: {fix}")]
    Missing {
        /// The method.
        method: AuthMethod,
        /// What is missing.
        what: &'static str,
        /// How to provide it.
        fix: &'static str,
    },
    /// The certificate could not be loaded.
    #[error(transparent)]
    Certificate(#[from] certificate::CertificateError),
    /// The credential could not be built (azure_identity's error: see [`AuthError::Token`]).
    #[error("cannot set up the {method} credential: {}", one_line(error))]
    Setup {
        /// The method.
        method: AuthMethod,
        /// azure_identity's error.
        error: azure_core::Error,
    },
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` is not a URL.
    #[error("cannot set up the github-oidc credential: ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")]
    GithubUrl {
        /// The URL parser's error.
        source: url::ParseError,
    },
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` is plain http off loopback.
    #[error("cannot set up the github-oidc credential: ACTIONS_ID_TOKEN_REQUEST_URL must be https")]
    GithubUrlInsecure,
    /// The authority refused or could not be reached.
    ///
    /// An azure_core error prints its cause as its own text and also returns it as its
    /// `source`, and azure_identity's repeat their cause in their message and end in a
    /// troubleshooting link: as a `source` here, an error chain would print the cause two
    /// or three times. So it is kept typed but not as a source, and the message shows its
    /// text once, on one line, followed by the fix.
    #[error("{method} authentication failed: {}; {fix}", one_line(error))]
    Token {
        /// The method.
        method: AuthMethod,
        /// azure_identity's error (never holds the secret).
        error: azure_core::Error,
        /// What to check or change, from Entra ID's error code.
        fix: &'static str,
    },
    /// The token's issuer did not answer, or could not be connected to, within
    /// `--deadline` and `--max-attempts`: a network problem, not the credentials.
    #[error(
        "{method} authentication failed: cannot reach {issuer} ({attempts} attempt(s) in {:.1} s; last problem: {last}); check the network, --authority-host and --cloud, or raise --deadline",
        elapsed.as_secs_f64()
    )]
    Unreachable {
        /// The method.
        method: AuthMethod,
        /// Who was not reached, e.g. "the authority host login.microsoftonline.com".
        issuer: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: std::time::Duration,
        /// The last attempt's problem, on one line.
        last: String,
    },
}

impl AuthError {
    /// True when the token could not be had because its issuer could not be reached (no
    /// answer, refused connection, DNS), as opposed to the issuer refusing.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, AuthError::Unreachable { .. })
    }
}

/// Picks the method: `--auth` if given, else the first match of the documented order.
pub fn select_method(s: &AuthSettings) -> AuthMethod {
    if let Some(m) = s.method {
        return m;
    }
    if s.client_secret.is_some() {
        AuthMethod::Secret
    } else if s.certificate_path.is_some() {
        AuthMethod::Certificate
    } else if s.federated_token_file.is_some() {
        AuthMethod::WorkloadIdentity
    } else if s.github_request_url.is_some() && s.github_request_token.is_some() {
        AuthMethod::GithubOidc
    } else if s.managed_identity_endpoint {
        AuthMethod::ManagedIdentity
    } else {
        AuthMethod::AzureCli
    }
}

fn assertion_credential<C: azure_identity::ClientAssertion + 'static>(
    tenant: &str,
    client: &str,
    assertion: C,
    client_options: ClientOptions,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let credential = ClientAssertionCredential::new(
        tenant.to_owned(),
        client.to_owned(),
        assertion,
        Some(ClientAssertionCredentialOptions { client_options }),
    )?;
    Ok(credential)
}

fn need<'a, T>(
    value: &'a Option<T>,
    method: AuthMethod,
    what: &'static str,
    fix: &'static str,
) -> Result<&'a T, AuthError> {
    value
        .as_ref()
        .ok_or(AuthError::Missing { method, what, fix })
}

const TENANT_FIX: &str = "set AZURE_TENANT_ID or pass --tenant-id";
const CLIENT_FIX: &str = "set AZURE_CLIENT_ID or pass --client-id";

/// How long before its expiry a token of `lifetime` is replaced: five minutes, or half
/// the lifetime when that is shorter (never negative).
pub fn refresh_margin(lifetime: TimeDuration) -> TimeDuration {
    let half: TimeDuration = lifetime / 2_i32;
    half.clamp(TimeDuration::ZERO, TimeDuration::minutes(5))
}

/// True when a token fetched at `fetched_at` and expiring at `expires_on` must be
/// replaced at `now`.
pub fn needs_refresh(
    fetched_at: OffsetDateTime,
    expires_on: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    now >= expires_on - refresh_margin(expires_on - fetched_at)
}

struct CachedToken {
    token: AccessToken,
    fetched_at: OffsetDateTime,
}

/// Makes a fresh credential (with an empty token cache of its own).
type Build = dyn Fn() -> Result<Arc<dyn TokenCredential>, AuthError> + Send + Sync;

struct TokenState {
    credential: Arc<dyn TokenCredential>,
    cached: Option<CachedToken>,
}

/// A credential plus the scope it is asked for: hands out Graph access tokens.
///
/// Getting a token is bounded like a Graph request ([`TokenSource::with_retry`]): each
/// attempt and all of them together end at the policy's deadline, and only failures to
/// reach the issuer (no answer, refused connection, 5xx or 429 from it) are retried, at
/// most `max_attempts` times; a refusal by the authority is reported at once.
pub struct TokenSource {
    build: Option<Arc<Build>>,
    scope: String,
    method: AuthMethod,
    issuer: String,
    retry: crate::graph::RetryPolicy,
    state: tokio::sync::Mutex<TokenState>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("method", &self.method)
            .field("scope", &self.scope)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Builds the credential for `settings` against `endpoints`, sending through `http`.
    pub fn new(
        settings: &AuthSettings,
        endpoints: &Endpoints,
        http: reqwest::Client,
    ) -> Result<Self, AuthError> {
        let method = select_method(settings);
        let credential = build_credential(settings, endpoints, &http)?;
        let mut source = Self::from_credential(credential, endpoints.scope(), method);
        source.issuer = issuer(method, &endpoints.authority_host);
        let (settings, endpoints) = (settings.clone(), endpoints.clone());
        source.build = Some(Arc::new(move || {
            build_credential(&settings, &endpoints, &http)
        }));
        Ok(source)
    }

    /// Bounds getting a token by `retry`'s deadline and attempts (the CLI passes
    /// `--deadline` and `--max-attempts`).
    #[must_use]
    pub fn with_retry(mut self, retry: crate::graph::RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// The credential for `settings` against `endpoints`, sending through `http`: what
/// [`TokenSource::new`] uses, and again for a fresh token after Graph refused one.
fn build_credential(
    settings: &AuthSettings,
    endpoints: &Endpoints,
    http: &reqwest::Client,
) -> Result<Arc<dyn TokenCredential>, AuthError> {
    let method = select_method(settings);
    let setup = |error| AuthError::Setup { method, error };
    // azure_identity only accepts https authorities: a loopback http authority (the
    // emulator) is given to it as https and redirected back by the transport.
    let (redirect, authority) = match LoopbackRedirect::for_authority(&endpoints.authority_host) {
        Some((redirect, https)) => (Some(redirect), https),
        None => (None, endpoints.authority_host.clone()),
    };
    let client_options = || {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = authority.as_str().trim_end_matches('/').to_owned();
        ClientOptions {
            transport: Some(
                ReqwestHttpClient::new(http.clone(), redirect.clone()).into_transport(),
            ),
            cloud: Some(Arc::new(CloudConfiguration::Custom(custom))),
            // licensectl retries itself, within --deadline and --max-attempts
            // (`TokenSource::token`): azure_core's own retries (a minute and more
            // against a closed port) would not be bounded by them.
            retry: azure_core::http::RetryOptions::none(),
            ..Default::default()
        }
    };
    let credential: Arc<dyn TokenCredential> = match method {
        AuthMethod::Secret => {
            let tenant = need(&settings.tenant_id, method, "a tenant id", TENANT_FIX)?;
            let client = need(&settings.client_id, method, "a client id", CLIENT_FIX)?;
            let secret = need(
                &settings.client_secret,
                method,
                "a client secret",
                "set AZURE_CLIENT_SECRET",
            )?;
            ClientSecretCredential::new(
                tenant,
                client.clone(),
                secret.clone(),
                Some(ClientSecretCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(setup)?
        }
        AuthMethod::Certificate => {
            let tenant = need(&settings.tenant_id, method, "a tenant id", TENANT_FIX)?;
            let client = need(&settings.client_id, method, "a client id", CLIENT_FIX)?;
            let path = need(
                &settings.certificate_path,
                method,
                "a certificate file",
                "set AZURE_CLIENT_CERTIFICATE_PATH or pass --certificate",
            )?;
            // The audience is the token endpoint as the authority really serves it.
            let audience = format!(
                "{}/{tenant}/oauth2/v2.0/token",
                endpoints.authority_host.as_str().trim_end_matches('/')
            );
            let assertion = CertificateAssertion::load(
                path,
                settings.certificate_password.as_ref().map(Secret::secret),
                client,
                &audience,
            )?;
            assertion_credential(tenant, client, assertion, client_options()).map_err(setup)?
        }
        AuthMethod::WorkloadIdentity => {
            let mut options = WorkloadIdentityCredentialOptions::default();
            options.credential_options.client_options = client_options();
            options.tenant_id =
                Some(need(&settings.tenant_id, method, "a tenant id", TENANT_FIX)?.clone());
            options.client_id =
                Some(need(&settings.client_id, method, "a client id", CLIENT_FIX)?.clone());
            options.token_file_path = Some(
                need(
                    &settings.federated_token_file,
                    method,
                    "a federated token file",
                    "set AZURE_FEDERATED_TOKEN_FILE",
                )?
                .clone(),
            );
            WorkloadIdentityCredential::new(Some(options)).map_err(setup)?
        }
        AuthMethod::GithubOidc => {
            let tenant = need(&settings.tenant_id, method, "a tenant id", TENANT_FIX)?;
            let client = need(&settings.client_id, method, "a client id", CLIENT_FIX)?;
            let fix = "run inside GitHub Actions with `permissions: id-token: write`";
            let url = need(
                &settings.github_request_url,
                method,
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                fix,
            )?;
            let token = need(
                &settings.github_request_token,
                method,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                fix,
            )?;
            let assertion = GithubOidcAssertion::new(http.clone(), url, token.clone())?;
            assertion_credential(tenant, client, assertion, client_options()).map_err(setup)?
        }
        AuthMethod::ManagedIdentity => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
                client_options: client_options(),
            };
            ManagedIdentityCredential::new(Some(options)).map_err(setup)?
        }
        AuthMethod::AzureCli => {
            let options = AzureCliCredentialOptions {
                tenant_id: settings.tenant_id.clone(),
                subscription: None,
                executor: None,
            };
            AzureCliCredential::new(Some(options)).map_err(setup)?
        }
    };
    Ok(credential)
}

impl TokenSource {
    /// Wraps an existing credential (tests, embedding); a refused token is not replaced by
    /// a fresh credential, only asked again.
    pub fn from_credential(
        credential: Arc<dyn TokenCredential>,
        scope: String,
        method: AuthMethod,
    ) -> Self {
        Self {
            build: None,
            scope,
            method,
            issuer: "the token issuer".to_owned(),
            retry: crate::graph::RetryPolicy::default(),
            state: tokio::sync::Mutex::new(TokenState {
                credential,
                cached: None,
            }),
        }
    }

    /// The method in use.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// A valid access token for Graph: the cached one, or a new one when the cached
    /// token is within [`refresh_margin`] of its expiry (or was refused:
    /// [`TokenSource::refused`]).
    pub async fn token(&self) -> Result<AccessToken, AuthError> {
        let mut state = self.state.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some(c) = state.cached.as_ref()
            && !needs_refresh(c.fetched_at, c.token.expires_on, now)
        {
            return Ok(c.token.clone());
        }
        let token = self.fetch(&state.credential).await?;
        tracing::debug!(method = %self.method, expires_on = %token.expires_on, "got an access token");
        state.cached = Some(CachedToken {
            token: token.clone(),
            fetched_at: now,
        });
        Ok(token)
    }

    /// Graph refused `token` (401): forget it, and the credential's own cache with it
    /// (a new credential is built), so that the next [`TokenSource::token`] fetches a
    /// fresh one. A token already replaced by another caller is left alone.
    pub async fn refused(&self, token: &AccessToken) -> Result<(), AuthError> {
        let mut state = self.state.lock().await;
        let current = state
            .cached
            .as_ref()
            .is_some_and(|c| c.token.token.secret() == token.token.secret());
        if !current {
            return Ok(());
        }
        state.cached = None;
        if let Some(build) = &self.build {
            state.credential = build()?;
        }
        Ok(())
    }

    /// Asks `credential` for a token, retrying what did not reach the issuer, within the
    /// retry policy's deadline and attempts.
    async fn fetch(&self, credential: &Arc<dyn TokenCredential>) -> Result<AccessToken, AuthError> {
        use rand::SeedableRng;
        let start = std::time::Instant::now();
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let remaining = self.retry.deadline.saturating_sub(start.elapsed());
            let answer = tokio::time::timeout(
                remaining,
                credential.get_token(&[self.scope.as_str()], None),
            )
            .await;
            let last = match answer {
                Ok(Ok(token)) => return Ok(token),
                Ok(Err(error)) if !is_unreachable(&error) => {
                    return Err(AuthError::Token {
                        method: self.method,
                        fix: token_fix(self.method, entra_error_code(&error).as_deref()),
                        error,
                    });
                }
                Ok(Err(error)) => one_line(&error),
                Err(_) => "no answer in time".to_owned(),
            };
            let wait = self.retry.backoff(attempt, &mut rng);
            if attempt >= self.retry.max_attempts || start.elapsed() + wait >= self.retry.deadline {
                return Err(AuthError::Unreachable {
                    method: self.method,
                    issuer: self.issuer.clone(),
                    attempts: attempt,
                    elapsed: start.elapsed(),
                    last,
                });
            }
            tracing::debug!(method = %self.method, attempt, wait_ms = wait.as_millis() as u64, problem = %last, "retrying the token request");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Who issues tokens for `method`, for "cannot reach …".
fn issuer(method: AuthMethod, authority: &url::Url) -> String {
    let host = match (authority.host_str(), authority.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => authority.to_string(),
    };
    match method {
        AuthMethod::Secret | AuthMethod::Certificate | AuthMethod::WorkloadIdentity => {
            format!("the authority host {host}")
        }
        AuthMethod::GithubOidc => {
            format!("the authority host {host} (or GitHub's OIDC token endpoint)")
        }
        AuthMethod::ManagedIdentity => "the managed identity endpoint".to_owned(),
        AuthMethod::AzureCli => "the Azure CLI".to_owned(),
    }
}

/// True when a credential error means the issuer was not reached or failed on its side:
/// a connection or I/O error from the transport, or a 5xx or 429 answer.
fn is_unreachable(error: &azure_core::Error) -> bool {
    use azure_core::error::ErrorKind;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = current {
        if let Some(azure) = err.downcast_ref::<azure_core::Error>() {
            match azure.kind() {
                ErrorKind::Connection | ErrorKind::Io => return true,
                ErrorKind::HttpResponse { status, .. } => {
                    let status = u16::from(*status);
                    return status == 429 || (500..600).contains(&status);
                }
                _ => {}
            }
        }
        current = err.source();
    }
    false
}

/// Entra ID's error code (`error_codes`, e.g. `7000215`) behind a credential error.
fn entra_error_code(e: &azure_core::Error) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(azure) = err.downcast_ref::<azure_core::Error>()
            && let azure_core::error::ErrorKind::HttpResponse {
                error_code: Some(code),
                ..
            } = azure.kind()
        {
            return Some(code.clone());
        }
        current = err.source();
    }
    None
}

/// What to fix after the authority refused a token, by Entra ID's documented AADSTS code
/// (never by message text), else by method.
pub fn token_fix(method: AuthMethod, code: Option<&str>) -> &'static str {
    let first = code.and_then(|c| c.split(',').next()).unwrap_or("");
    match first {
        "7000215" => {
            "check AZURE_CLIENT_SECRET: it must be the value (not the id) of a current client secret of the app AZURE_CLIENT_ID"
        }
        "7000222" => {
            "the client secret has expired: create a new one in the app registration and update AZURE_CLIENT_SECRET"
        }
        "700016" => {
            "check AZURE_CLIENT_ID (the app registration's application id) and that the app exists in the tenant AZURE_TENANT_ID"
        }
        "90002" => {
            "check AZURE_TENANT_ID (or --tenant-id, or the pinned `tenant:`) and --cloud: the tenant was not found"
        }
        "700027" => {
            "upload this certificate to the app registration (Certificates & secrets), or point AZURE_CLIENT_CERTIFICATE_PATH at the certificate registered there"
        }
        "700024" => {
            "the client assertion is expired or not yet valid: check the machine's clock, or refresh the federated token"
        }
        "70021" => {
            "add a federated credential to the app registration whose issuer, subject and audience (api://AzureADTokenExchange) match the token"
        }
        "70011" => "check --cloud and --graph-url: the token scope is built from the Graph root",
        _ => match method {
            AuthMethod::Secret => {
                "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (and --authority-host)"
            }
            AuthMethod::Certificate => {
                "check AZURE_TENANT_ID, AZURE_CLIENT_ID and that the certificate is registered on the app"
            }
            AuthMethod::WorkloadIdentity => {
                "check AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE and the app's federated credential"
            }
            AuthMethod::GithubOidc => {
                "check AZURE_TENANT_ID, AZURE_CLIENT_ID, the job's `permissions: id-token: write` and the app's federated credential"
            }
            AuthMethod::ManagedIdentity => {
                "check that this machine has a managed identity (and AZURE_CLIENT_ID for a user-assigned one)"
            }
            AuthMethod::AzureCli => {
                "run `az login` (with --tenant), or set credentials in the environment (see docs/live.md)"
            }
        },
    }
}

/// An azure_identity error's text on one line, without its troubleshooting link.
fn one_line(error: &azure_core::Error) -> String {
    error
        .to_string()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("aka.ms/azsdk"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tenant (`tid` claim) of an access token. The token is not verified (it came from
/// the authority over TLS, and Graph verifies it); `None` when it is not a readable JWT.
pub fn token_tenant_id(token: &str) -> Option<TenantId> {
    jwt::claims(token)?.get("tid")?.as_str()?.parse().ok()
}

/// The permissions an access token grants, unverified like [`token_tenant_id`]: the
/// application permissions of an app token (`roles`) and the delegated permissions of a
/// user's token (`scp`, space-separated). `None` when it is not a readable JWT. See
/// https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference#payload-claims
pub fn token_permissions(token: &str) -> Option<(Vec<String>, Vec<String>)> {
    let claims = jwt::claims(token)?;
    let roles = claims
        .get("roles")
        .and_then(serde_json::Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let scopes = claims
        .get("scp")
        .and_then(serde_json::Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Some((roles, scopes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn secret(s: &str) -> Option<Secret> {
        Some(Secret::new(s.to_owned()))
    }

    #[test]
    fn selection_order() {
        let all = || AuthSettings {
            client_secret: secret("s"),
            certificate_path: Some("c.pem".into()),
            federated_token_file: Some("f".into()),
            github_request_url: Some("https://gh".into()),
            github_request_token: secret("t"),
            managed_identity_endpoint: true,
            ..Default::default()
        };
        let mut s = all();
        assert_eq!(select_method(&s), AuthMethod::Secret);
        s.client_secret = None;
        assert_eq!(select_method(&s), AuthMethod::Certificate);
        s.certificate_path = None;
        assert_eq!(select_method(&s), AuthMethod::WorkloadIdentity);
        s.federated_token_file = None;
        assert_eq!(select_method(&s), AuthMethod::GithubOidc);
        s.github_request_token = None;
        assert_eq!(
            select_method(&s),
            AuthMethod::ManagedIdentity,
            "needs both github vars"
        );
        s.managed_identity_endpoint = false;
        assert_eq!(select_method(&s), AuthMethod::AzureCli);
        let mut forced = all();
        forced.method = Some(AuthMethod::AzureCli);
        assert_eq!(select_method(&forced), AuthMethod::AzureCli);
    }

    #[test]
    fn missing_settings_name_the_variable() {
        let endpoints =
            Endpoints::resolve(crate::graph::cloud::Cloud::Global, None, None).expect("ok");
        let cases = [
            (AuthMethod::Secret, "AZURE_TENANT_ID"),
            (AuthMethod::Certificate, "AZURE_TENANT_ID"),
            (AuthMethod::WorkloadIdentity, "AZURE_TENANT_ID"),
            (AuthMethod::GithubOidc, "AZURE_TENANT_ID"),
        ];
        for (method, var) in cases {
            let s = AuthSettings {
                method: Some(method),
                ..Default::default()
            };
            let err =
                TokenSource::new(&s, &endpoints, reqwest::Client::new()).expect_err("missing");
            assert!(err.to_string().contains(var), "{method}: {err}");
        }
        let s = AuthSettings {
            method: Some(AuthMethod::Secret),
            tenant_id: Some("t".into()),
            client_id: Some("c".into()),
            ..Default::default()
        };
        let err = TokenSource::new(&s, &endpoints, reqwest::Client::new()).expect_err("missing");
        assert!(err.to_string().contains("AZURE_CLIENT_SECRET"), "{err}");
    }

    #[test]
    fn credential_setup_errors_show_azure_identity_s_reason_once() {
        let endpoints =
            Endpoints::resolve(crate::graph::cloud::Cloud::Global, None, None).expect("ok");
        let s = AuthSettings {
            method: Some(AuthMethod::Secret),
            tenant_id: Some("not a tenant!".into()),
            client_id: Some("c".into()),
            client_secret: secret("s"),
            ..Default::default()
        };
        let err = TokenSource::new(&s, &endpoints, reqwest::Client::new()).expect_err("invalid");
        assert!(matches!(err, AuthError::Setup { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("cannot set up the secret credential: ") && !text.contains('\n'),
            "{text}"
        );
        assert!(std::error::Error::source(&err).is_none(), "{err:?}");
        let s = AuthSettings {
            method: Some(AuthMethod::GithubOidc),
            tenant_id: Some("t".into()),
            client_id: Some("c".into()),
            github_request_url: Some("not a url".into()),
            github_request_token: secret("t"),
            ..Default::default()
        };
        let err = TokenSource::new(&s, &endpoints, reqwest::Client::new()).expect_err("invalid");
        assert!(
            matches!(
                err,
                AuthError::GithubUrl {
                    source: url::ParseError::RelativeUrlWithoutBase
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = AuthSettings {
            client_secret: secret("hunter2-secret"),
            github_request_token: secret("gh-token-value"),
            certificate_password: secret("pfx-pass"),
            ..Default::default()
        };
        let text = format!("{s:?}");
        for leak in ["hunter2-secret", "gh-token-value", "pfx-pass"] {
            assert!(!text.contains(leak), "{text}");
        }
    }

    #[test]
    fn tokens_are_refreshed_before_they_expire() {
        let t0 = OffsetDateTime::UNIX_EPOCH + TimeDuration::days(20_000);
        let s = TimeDuration::seconds;
        // (lifetime, age at the check, refresh?)
        let cases = [
            (s(3599), s(0), false),
            (s(3599), s(3298), false),
            (s(3599), s(3299), true),
            (s(3599), s(4000), true),
            (s(600), s(299), false),
            (s(600), s(300), true),
            (s(4), s(1), false),
            (s(4), s(2), true),
            (s(1), s(0), false),
            (s(0), s(0), true),
            (s(-5), s(0), true),
        ];
        for (lifetime, age, want) in cases {
            assert_eq!(
                needs_refresh(t0, t0 + lifetime, t0 + age),
                want,
                "lifetime {lifetime}, age {age}"
            );
        }
        assert_eq!(refresh_margin(s(7200)), s(300));
        assert_eq!(refresh_margin(s(4)), s(2));
    }

    #[test]
    fn tid_from_token() {
        let payload =
            URL_SAFE_NO_PAD.encode(r#"{"tid":"72F988BF-86F1-41AF-91AB-2D7CD011DB47","roles":[]}"#);
        let token = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        assert_eq!(
            token_tenant_id(&token).map(|t| t.to_string()).as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        for bad in [
            "",
            "abc",
            "a.!!!.c",
            &format!("a.{}.c", URL_SAFE_NO_PAD.encode("{}")),
        ] {
            assert_eq!(token_tenant_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn permissions_from_an_app_token_and_a_user_token() {
        let token =
            |claims: &str| format!("eyJhbGciOiJub25lIn0.{}.sig", URL_SAFE_NO_PAD.encode(claims));
        let app = token(r#"{"roles":["User.Read.All","LicenseAssignment.ReadWrite.All"]}"#);
        assert_eq!(
            token_permissions(&app),
            Some((
                vec![
                    "User.Read.All".to_owned(),
                    "LicenseAssignment.ReadWrite.All".to_owned()
                ],
                Vec::new()
            ))
        );
        let user = token(r#"{"scp":"User.Read  User.ReadWrite.All"}"#);
        assert_eq!(
            token_permissions(&user),
            Some((
                Vec::new(),
                vec!["User.Read".to_owned(), "User.ReadWrite.All".to_owned()]
            ))
        );
        assert_eq!(token_permissions("not a token"), None);
    }
}
