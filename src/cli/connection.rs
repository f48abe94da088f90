//! Connection flags shared by every command that talks to Graph, and the connect step:
//! endpoints, credential, first token, tenant pinning.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use azure_core::credentials::Secret;

use licensectl::auth::{AuthMethod, AuthSettings, TokenSource, token_tenant_id};
use licensectl::graph::{ClientOptions, Cloud, Endpoints, GraphClient, RetryPolicy};
use licensectl::ids::TenantId;

/// Most Graph requests in flight when `--max-concurrency` is not given.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;

/// The same for `apply`: its writes are paced to Graph's write quota by the executor, and
/// the concurrency only bounds how fast a quota window's allowance goes out (20 writes per
/// `$batch`: 8 in flight move at most 160 writes per round trip).
pub(crate) const APPLY_CONCURRENCY: usize = 32;

/// The heading of the connection flags in `--help`.
const HEADING: &str = "Connection (live tenant; all flags with --help)";

/// How to reach Graph and authenticate (each flag also reads an environment variable).
/// The short help (`-h`) shows the four a person sets; `--help` shows every one.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConnectionArgs {
    /// Microsoft cloud, for the Graph and sign-in endpoints.
    #[arg(
        long,
        help_heading = HEADING,
        value_enum,
        env = "LICENSECTL_CLOUD",
        default_value_t = Cloud::Global,
        hide_short_help = true,
        long_help = "Microsoft cloud: picks the Graph URL and the sign-in (authority) host. Change it for a national cloud tenant."
    )]
    pub cloud: Cloud,
    /// Graph URL, e.g. the emulator's.
    #[arg(
        long,
        help_heading = HEADING,
        env = "LICENSECTL_GRAPH_URL",
        value_name = "URL",
        long_help = "Graph root URL (without /v1.0) instead of the cloud's, e.g. the local emulator's http://127.0.0.1:8450. Plain http is accepted for loopback addresses only."
    )]
    pub graph_url: Option<String>,
    /// Sign-in (authority) host instead of the cloud's.
    #[arg(
        long,
        help_heading = HEADING,
        env = "AZURE_AUTHORITY_HOST",
        value_name = "URL",
        hide_short_help = true,
        long_help = "Entra ID sign-in (authority) host instead of the cloud's, e.g. the emulator's URL."
    )]
    pub authority_host: Option<String>,
    /// Credential kind, instead of the automatic choice.
    #[arg(
        long,
        help_heading = HEADING,
        value_enum,
        env = "LICENSECTL_AUTH",
        value_name = "KIND",
        hide_possible_values = true,
        long_help = "Credential kind, instead of the automatic choice (the first that the environment provides, in this order):\n  secret             app registration with a client secret (AZURE_CLIENT_SECRET)\n  certificate        app registration with a certificate (--certificate)\n  workload-identity  federated token file (AZURE_FEDERATED_TOKEN_FILE)\n  github-oidc        GitHub Actions OIDC token (a job with id-token: write)\n  managed-identity   Azure managed identity (on a VM, pass it: it is not probed)\n  azure-cli          the account of `az login`, for a person at a terminal"
    )]
    pub auth: Option<AuthMethod>,
    /// Tenant to sign in to (default: the config's tenant).
    #[arg(
        long,
        help_heading = HEADING,
        env = "AZURE_TENANT_ID",
        value_name = "ID",
        long_help = "Tenant to sign in to: its id or a domain. Default: the tenant licensectl.yaml pins."
    )]
    pub tenant_id: Option<String>,
    /// App registration's application (client) id.
    #[arg(
        long,
        help_heading = HEADING,
        env = "AZURE_CLIENT_ID",
        value_name = "ID",
        long_help = "Application (client) id of the app registration to sign in as, or of a user-assigned managed identity."
    )]
    pub client_id: Option<String>,
    /// Certificate file for --auth certificate.
    #[arg(
        long,
        help_heading = HEADING,
        env = "AZURE_CLIENT_CERTIFICATE_PATH",
        value_name = "FILE",
        hide_short_help = true,
        long_help = "Certificate for --auth certificate: a PEM file with the certificate and its private key, or PKCS#12 (.pfx, password in AZURE_CLIENT_CERTIFICATE_PASSWORD)."
    )]
    pub certificate: Option<PathBuf>,
    /// Most Graph requests in flight at once (default 8; `apply`: 32).
    #[arg(
        long,
        help_heading = HEADING,
        env = "LICENSECTL_MAX_CONCURRENCY",
        value_name = "N",
        hide_short_help = true,
        long_help = "Most Graph requests in flight at once (default 8; apply: 32, for its paced $batch writes); halved automatically while Graph throttles. Lower it to share the tenant's Graph quota with other tools."
    )]
    pub max_concurrency: Option<usize>,
    /// Seconds after which one Graph request is given up.
    #[arg(
        long,
        help_heading = HEADING,
        env = "LICENSECTL_DEADLINE",
        default_value_t = 300.0,
        value_name = "SECONDS",
        hide_short_help = true,
        long_help = "Seconds after which one Graph request is given up, its retries included. Raise it when Graph throttles for long."
    )]
    pub deadline: f64,
    /// Most attempts per Graph request.
    #[arg(
        long,
        help_heading = HEADING,
        env = "LICENSECTL_MAX_ATTEMPTS",
        default_value_t = 8,
        value_name = "N",
        hide_short_help = true,
        long_help = "Most attempts per Graph request (failures to reach Graph, 429 and 5xx answers are retried with backoff, honouring Retry-After)."
    )]
    pub max_attempts: u32,
}

fn env_secret(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new)
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A connected client and the tenant its token is for.
pub(crate) struct Connection {
    /// The client.
    pub client: GraphClient,
    /// The token's `tid`.
    pub tenant_id: TenantId,
    /// A pinned domain that Entra ID itself confirmed, by issuing the token for it, when
    /// `/organization` could not be read: the snapshot records it as verified.
    pub confirmed_domain: Option<String>,
}

impl ConnectionArgs {
    fn settings(&self, pinned: Option<&str>) -> AuthSettings {
        AuthSettings {
            method: self.auth,
            // A pinned tenant doubles as the authority tenant when none is given.
            tenant_id: self.tenant_id.clone().or_else(|| pinned.map(str::to_owned)),
            client_id: self.client_id.clone(),
            client_secret: env_secret("AZURE_CLIENT_SECRET"),
            certificate_path: self.certificate.clone(),
            certificate_password: env_secret("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
            federated_token_file: env_path("AZURE_FEDERATED_TOKEN_FILE"),
            github_request_url: std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL")
                .ok()
                .filter(|v| !v.is_empty()),
            github_request_token: env_secret("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
            managed_identity_endpoint: env_path("IDENTITY_ENDPOINT").is_some()
                || env_path("MSI_ENDPOINT").is_some(),
        }
    }

    /// Connects: resolves endpoints, gets a first token, reads its tenant and refuses a
    /// tenant other than `pinned` (a tenant id GUID or a domain).
    pub(crate) async fn connect(&self, pinned: Option<&str>) -> anyhow::Result<Connection> {
        let endpoints = Endpoints::resolve(
            self.cloud,
            self.graph_url.as_deref(),
            self.authority_host.as_deref(),
        )?;
        if !(self.deadline.is_finite() && self.deadline > 0.0) {
            bail!("--deadline must be a positive number of seconds");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("licensectl/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot create the HTTP client")?;
        let retry = RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            deadline: Duration::from_secs_f64(self.deadline),
            ..RetryPolicy::default()
        };
        let settings = self.settings(pinned);
        // The tenant the token was asked for, when the method asks for one.
        let authority_tenant = match licensectl::auth::select_method(&settings) {
            AuthMethod::ManagedIdentity => None,
            _ => settings.tenant_id.clone(),
        };
        let tokens = TokenSource::new(&settings, &endpoints, http.clone())?.with_retry(retry);
        let method = tokens.method();
        let token = tokens.token().await?;
        let tenant_id = token_tenant_id(token.token.secret()).with_context(|| {
            format!("the {method} access token carries no readable tenant id (tid)")
        })?;
        let client = GraphClient::new(
            http,
            endpoints.graph_v1(),
            tokens,
            ClientOptions {
                retry,
                max_concurrency: self.max_concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1),
                max_response_bytes: super::limits::env_bytes(
                    "LICENSECTL_MAX_RESPONSE_BYTES",
                    licensectl::graph::MAX_RESPONSE_BYTES,
                )?,
            },
        );
        let confirmed_domain = match pinned {
            Some(pin) => check_pin(&client, pin, tenant_id, authority_tenant.as_deref()).await?,
            None => None,
        };
        Ok(Connection {
            client,
            tenant_id,
            confirmed_domain,
        })
    }
}

/// Refuses a token for another tenant than the pinned one. A GUID pin must be the token's
/// `tid`. A domain pin must be one of the tenant's verified domains (`GET
/// /organization`); when the app may not read `/organization` (it needs
/// Organization.Read.All), the pin still holds if the token was asked for that very
/// domain (`authority`): Entra ID then resolved the domain to the token's tenant itself,
/// and the domain is returned, confirmed. Otherwise the error names the permission that
/// would confirm it.
async fn check_pin(
    client: &GraphClient,
    pin: &str,
    tid: TenantId,
    authority: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if let Ok(pinned) = pin.parse::<TenantId>() {
        if pinned != tid {
            bail!(
                "refusing to continue: licensectl.yaml pins tenant {pinned}, but the credential is for tenant {tid}; use credentials for the pinned tenant or fix `tenant:`"
            );
        }
        return Ok(None);
    }
    let domains = licensectl::graph::tenant_domains_if_allowed(client)
        .await
        .with_context(|| {
            format!("cannot verify the pinned tenant domain '{pin}'; pin the tenant id GUID instead (`tenant: {tid}` if that is the right tenant)")
        })?;
    let Some(domains) = domains else {
        if authority.is_some_and(|a| a.eq_ignore_ascii_case(pin)) {
            tracing::debug!(
                "pinned domain {pin} confirmed by the authority (token issued for it, tenant {tid})"
            );
            return Ok(Some(pin.to_owned()));
        }
        bail!(
            "refusing to continue: cannot confirm that tenant {tid} owns the pinned domain '{pin}': reading its domains (GET /organization) needs the application permission Organization.Read.All, which the app lacks; grant it, or pin the tenant id (`tenant: {tid}` if that is the right tenant), or authenticate against the domain itself (AZURE_TENANT_ID={pin}, or leave it unset)"
        );
    };
    if !domains.iter().any(|d| d.name.eq_ignore_ascii_case(pin)) {
        let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
        bail!(
            "refusing to continue: licensectl.yaml pins tenant '{pin}', but the credential is for tenant {tid}, whose domains are {}; use credentials for the pinned tenant or fix `tenant:`",
            names.join(", ")
        );
    }
    Ok(None)
}

/// True when stderr is a terminal (progress bars only then).
pub(crate) fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}
