//! The OAuth2 token endpoint (client credentials with a secret, a certificate assertion
//! or a federated assertion) and the bearer-token check of Graph calls.
//!
//! Access tokens are HS256 JWTs signed with a key made at start-up: they carry `tid`,
//! `appid`/`azp`, `roles` and `exp` like Azure AD's app tokens. Clients never need to
//! verify them. Delegated tokens (a signed-in user: the resource-owner password grant, or
//! `Emulator::user_token` in process, as a stand-in `az` hands to licensectl's Azure CLI
//! credential) carry `scp`, the user's `oid`/`upn` and directory roles (`wids`). Certificate assertions (RS256/PS256) are verified against the app's PEM
//! public keys; federated assertions are matched on issuer, subject and the audience
//! `api://AzureADTokenExchange` (the emulator has no access to the external issuer's
//! keys, so their signature is not checked).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use x509_cert::der::{Decode, Encode};

use licensectl_model::snapshot::AppRegistration;

use std::collections::BTreeMap;

use super::error::{EmulatorError, TokenError};
use super::permissions::{DIRECTORY_ROLES, role_template_id};
use super::state::Tenant;

/// The client id of the app used when the tenant file lists no apps.
pub const DEFAULT_CLIENT_ID: &str = "11111111-2222-4333-8444-555555555555";
/// The client secret of the default app.
pub const DEFAULT_CLIENT_SECRET: &str = "licensectl-emulator-secret";
/// The application permissions granted to the default app: what licensectl needs to
/// read, plan and apply, including `usageLocation` updates and reprocessing (which need
/// `User.ReadWrite.All`: `LicenseAssignment.ReadWrite.All` covers only `assignLicense`),
/// sign-in activity (`AuditLog.Read.All`) and the directory audit log (`AuditLog.Read.All`
/// and `Directory.Read.All`, both).
pub const DEFAULT_ROLES: &[&str] = &[
    "LicenseAssignment.ReadWrite.All",
    "User.ReadWrite.All",
    "GroupMember.Read.All",
    "Group.Read.All",
    "Organization.Read.All",
    "AuditLog.Read.All",
    "Directory.Read.All",
];
/// The client id of the Azure CLI, a first-party public client: the resource-owner
/// password grant accepts it without a secret.
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// The delegated permissions of an Azure CLI token for Graph (`scp`), as decoded tokens
/// show them (observed in public scripts; the Azure CLI is pre-authorized, no consent).
pub const AZURE_CLI_SCOPES: &str = "AuditLog.Read.All Directory.AccessAsUser.All email Group.ReadWrite.All openid profile User.ReadWrite.All";
/// The password every enabled user signs in with (resource-owner password grant).
pub const DEFAULT_USER_PASSWORD: &str = "licensectl-emulator-password";
/// The audience a federated assertion must carry.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Lifetime of issued tokens, as Azure AD reports it (the default of
/// `EmulatorOptions::token_lifetime`).
pub const TOKEN_LIFETIME_SECS: i64 = 3599;

/// The default app registration.
pub fn default_app() -> AppRegistration {
    AppRegistration {
        app_id: DEFAULT_CLIENT_ID.to_owned(),
        display_name: Some("licensectl emulator default app".to_owned()),
        client_secrets: vec![DEFAULT_CLIENT_SECRET.to_owned()],
        public_keys_pem: Vec::new(),
        federated_credentials: Vec::new(),
        roles: DEFAULT_ROLES.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// Claims of an issued access token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// Audience (Graph).
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Tenant id.
    pub tid: String,
    /// Client id.
    pub appid: String,
    /// Client id (v2 name).
    pub azp: String,
    /// Granted application permissions (app tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Granted delegated permissions, space-separated (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// The signed-in user's directory role template ids (user tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wids: Vec<String>,
    /// The signed-in user's object id (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    /// The signed-in user's UPN (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Identity type, `app` or `user`.
    pub idtyp: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
}

/// An app with its decoded public keys.
#[derive(Debug, Clone)]
pub(crate) struct App {
    /// The registration.
    pub reg: AppRegistration,
    /// DER public keys (PKCS#1 or SubjectPublicKeyInfo).
    pub keys: Vec<Vec<u8>>,
}

/// A user who may sign in (resource-owner password grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignInUser {
    /// Object id.
    pub(crate) id: String,
    /// UPN.
    pub(crate) upn: String,
    /// `accountEnabled` is not false.
    pub(crate) enabled: bool,
}

/// Signing key and registered apps.
#[derive(Debug)]
pub(crate) struct Authority {
    key: aws_lc_rs::hmac::Key,
    apps: Vec<App>,
    tenant_id: String,
    tenant_domain: Option<String>,
    lifetime_secs: i64,
    password: String,
    /// Lowercase UPN or object id → directory role template ids.
    roles: Vec<(String, Vec<String>)>,
}

/// Decodes the first PEM block of `pem`, public key `index` of the app `app_id`, into a
/// DER RSA public key: a `CERTIFICATE` (its SubjectPublicKeyInfo), a `PUBLIC KEY`
/// (SubjectPublicKeyInfo) or an `RSA PUBLIC KEY` (PKCS#1); aws-lc-rs verifies with either
/// encoding.
pub(crate) fn pem_public_key(
    pem: &str,
    app_id: &str,
    index: usize,
) -> Result<Vec<u8>, EmulatorError> {
    let app_id = || app_id.to_owned();
    // rustls-pki-types skips blocks with labels it does not know, `RSA PUBLIC KEY` among
    // them; its body is base64 DER like a `PUBLIC KEY` block's.
    let pem = pem.replace("RSA PUBLIC KEY-----", "PUBLIC KEY-----");
    let (kind, der) =
        <(SectionKind, Vec<u8>)>::from_pem_slice(pem.as_bytes()).map_err(|source| {
            EmulatorError::PublicKeyPem {
                app_id: app_id(),
                index,
                source,
            }
        })?;
    let key = match kind {
        SectionKind::Certificate => x509_cert::Certificate::from_der(&der)
            .and_then(|cert| cert.tbs_certificate().subject_public_key_info().to_der())
            .map_err(|source| EmulatorError::PublicKeyCertificate {
                app_id: app_id(),
                index,
                source,
            })?,
        SectionKind::PublicKey => der,
        kind => {
            return Err(EmulatorError::PublicKeyBlock {
                app_id: app_id(),
                index,
                kind,
            });
        }
    };
    aws_lc_rs::rsa::PublicKey::from_der(&key).map_err(|source| EmulatorError::PublicKeyRsa {
        app_id: app_id(),
        index,
        source,
    })?;
    Ok(key)
}

/// A compact JWS `header.payload.signature`, split; each part is decoded on demand.
struct CompactJwt<'a> {
    /// `header.payload`, the signed bytes.
    signing_input: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> CompactJwt<'a> {
    /// Splits `token`; `None` unless it has exactly three parts.
    fn split(token: &'a str) -> Option<Self> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        (!payload.contains('.')).then_some(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }

    fn header(&self) -> Option<Value> {
        b64_json(self.header)
    }

    fn payload(&self) -> Option<Value> {
        b64_json(self.payload)
    }

    fn signature(&self) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(self.signature).ok()
    }
}

fn b64_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn encode_jwt(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let mut token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(sig));
    token
}

/// Why a bearer token was refused (rendered as 401 `InvalidAuthenticationToken`).
pub(crate) type BearerError = &'static str;

/// AADSTS900144: a required form field is missing.
fn missing(parameter: &str) -> TokenError {
    TokenError::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{parameter}'."),
    )
}

fn invalid_client(status: u16, code: u32, msg: impl Into<String>) -> TokenError {
    TokenError::new(status, "invalid_client", code, msg)
}

impl Authority {
    /// Builds the authority for a tenant, decoding the apps' public keys. Issued tokens
    /// live `lifetime_secs` seconds (at least one); users sign in with `password` and hold
    /// `directory_roles` (`user` → role names or template ids, from
    /// [`crate::permissions::DIRECTORY_ROLES`]).
    pub(crate) fn with_sign_in(
        t: &Tenant,
        lifetime_secs: i64,
        password: &str,
        directory_roles: &BTreeMap<String, Vec<String>>,
    ) -> Result<Self, EmulatorError> {
        let mut roles = Vec::new();
        for (user, names) in directory_roles {
            if t.user(user).is_none() {
                return Err(EmulatorError::Option(format!(
                    "directory role for '{user}': no such user in the tenant"
                )));
            }
            let mut ids = Vec::new();
            for name in names {
                let id = role_template_id(name).ok_or_else(|| {
                    EmulatorError::Option(format!(
                        "directory role '{name}' for '{user}' is not one the emulator knows ({})",
                        DIRECTORY_ROLES
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                ids.push(id.to_owned());
            }
            roles.push((user.to_lowercase(), ids));
        }
        let regs = if t.apps.is_empty() {
            vec![default_app()]
        } else {
            t.apps.clone()
        };
        let mut apps = Vec::new();
        for reg in regs {
            let mut keys = Vec::new();
            for (index, pem) in reg.public_keys_pem.iter().enumerate() {
                keys.push(pem_public_key(pem, &reg.app_id, index)?);
            }
            apps.push(App { reg, keys });
        }
        let secret: [u8; 32] = rand::random();
        Ok(Self {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
            apps,
            tenant_id: t.tenant_id.to_string(),
            tenant_domain: t.domain.clone(),
            lifetime_secs: lifetime_secs.max(1),
            password: password.to_owned(),
            roles,
        })
    }

    fn wids(&self, user: &SignInUser) -> Vec<String> {
        self.roles
            .iter()
            .filter(|(k, _)| *k == user.upn.to_lowercase() || k.eq_ignore_ascii_case(&user.id))
            .flat_map(|(_, ids)| ids.iter().cloned())
            .collect()
    }

    /// A delegated token of `client_id` for `user` with the delegated permissions `scp`.
    pub(crate) fn user_token(
        &self,
        user: &SignInUser,
        client_id: &str,
        scp: &str,
        now: i64,
    ) -> String {
        let claims = Claims {
            scp: Some(scp.to_owned()),
            wids: self.wids(user),
            oid: Some(user.id.clone()),
            upn: Some(user.upn.clone()),
            ..self.claims(client_id, "user", now)
        };
        self.sign(&claims)
    }

    /// The claims every token carries.
    fn claims(&self, client_id: &str, idtyp: &str, now: i64) -> Claims {
        Claims {
            aud: "https://graph.microsoft.com".to_owned(),
            iss: format!("https://sts.windows.net/{}/", self.tenant_id),
            tid: self.tenant_id.clone(),
            appid: client_id.to_owned(),
            azp: client_id.to_owned(),
            idtyp: idtyp.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.lifetime_secs,
            ..Claims::default()
        }
    }

    fn sign(&self, claims: &Claims) -> String {
        let header = serde_json::json!({"typ": "JWT", "alg": "HS256"});
        let body = serde_json::to_value(claims).unwrap_or(Value::Null);
        encode_jwt(&header, &body, |data| {
            aws_lc_rs::hmac::sign(&self.key, data).as_ref().to_vec()
        })
    }

    /// The resource-owner password grant: `client_id` (the Azure CLI or a registered app,
    /// no secret needed), `username`, `password`, `scope` (Graph's `/.default`, or named
    /// Graph scopes). Returns the token and its `scp`.
    fn password_grant(
        &self,
        get: &dyn Fn(&str) -> Option<String>,
        tenant: &str,
        users: &dyn Fn(&str) -> Option<SignInUser>,
        now: i64,
    ) -> Result<(String, String), TokenError> {
        let client_id = get("client_id").ok_or_else(|| missing("client_id"))?;
        let username = get("username").ok_or_else(|| missing("username"))?;
        let password = get("password").ok_or_else(|| missing("password"))?;
        let scope = get("scope").ok_or_else(|| missing("scope"))?;
        let app = self
            .apps
            .iter()
            .find(|a| a.reg.app_id.eq_ignore_ascii_case(&client_id));
        if app.is_none() && !client_id.eq_ignore_ascii_case(AZURE_CLI_CLIENT_ID) {
            return Err(TokenError::new(
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
                ),
            ));
        }
        let named: Vec<String> = scope
            .split_whitespace()
            .filter(|s| !["openid", "profile", "offline_access", "email"].contains(s))
            .map(|s| {
                s.strip_prefix("https://graph.microsoft.com/")
                    .unwrap_or(s)
                    .to_owned()
            })
            .collect();
        let scp = if named.iter().any(|s| s == ".default") {
            match app {
                Some(a) => a.reg.roles.join(" "),
                None => AZURE_CLI_SCOPES.to_owned(),
            }
        } else if named.is_empty() || named.iter().any(|s| s.contains('/')) {
            return Err(TokenError::new(
                400,
                "invalid_scope",
                70011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
                ),
            ));
        } else {
            named.join(" ")
        };
        let invalid_grant = |code: u32, msg: &str| TokenError::new(400, "invalid_grant", code, msg);
        let user = users(&username).ok_or_else(|| {
            invalid_grant(
                50034,
                &format!("The user account {username} does not exist in the {tenant} directory. To sign into this application, the account must be added to the directory."),
            )
        })?;
        if password != self.password {
            return Err(invalid_grant(
                50126,
                "Error validating credentials due to invalid username or password.",
            ));
        }
        if !user.enabled {
            return Err(invalid_grant(50057, "The user account is disabled."));
        }
        Ok((self.user_token(&user, &client_id, &scp, now), scp))
    }

    /// Lifetime of issued tokens in seconds (`expires_in`).
    pub(crate) fn lifetime_secs(&self) -> i64 {
        self.lifetime_secs
    }

    fn tenant_matches(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.tenant_id)
            || self
                .tenant_domain
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(tenant))
    }

    /// Handles a token request for `tenant` (path segment) with form `fields` and an
    /// optional `Authorization: Basic` header; `users` finds a user who signs in with a
    /// password. Returns the access token and, for a delegated one, its `scope`.
    pub(crate) fn token(
        &self,
        tenant: &str,
        fields: &[(String, String)],
        basic: Option<(String, String)>,
        now: i64,
        users: &dyn Fn(&str) -> Option<SignInUser>,
    ) -> Result<(String, Option<String>), TokenError> {
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if !self.tenant_matches(tenant) {
            return Err(TokenError::new(
                400,
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
            ));
        }
        let grant = get("grant_type").ok_or_else(|| missing("grant_type"))?;
        if grant == "password" {
            let owned = |k: &str| get(k).map(str::to_owned);
            let (token, scp) = self.password_grant(&owned, tenant, users, now)?;
            return Ok((token, Some(scp)));
        }
        if grant != "client_credentials" {
            return Err(TokenError::new(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant}'."),
            ));
        }
        let (basic_id, basic_secret) = basic.unzip();
        let client_id = get("client_id")
            .map(str::to_owned)
            .or(basic_id)
            .ok_or_else(|| missing("client_id"))?;
        let scope = get("scope").ok_or_else(|| missing("scope"))?;
        let scopes: Vec<&str> = scope.split_whitespace().collect();
        if scopes.len() != 1 || !scopes[0].ends_with("/.default") {
            return Err(TokenError::new(
                400,
                "invalid_scope",
                70011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. Use a single '<resource>/.default' scope, e.g. https://graph.microsoft.com/.default."
                ),
            ));
        }
        let app = self
            .apps
            .iter()
            .find(|a| a.reg.app_id.eq_ignore_ascii_case(&client_id))
            .ok_or_else(|| {
                TokenError::new(
                    400,
                    "unauthorized_client",
                    700016,
                    format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."),
                )
            })?;
        let secret = get("client_secret").map(str::to_owned).or(basic_secret);
        if let Some(secret) = secret {
            if !app.reg.client_secrets.contains(&secret) {
                return Err(invalid_client(
                    401,
                    7000215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                    ),
                ));
            }
        } else if let Some(assertion) = get("client_assertion") {
            if get("client_assertion_type")
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(TokenError::new(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'client_assertion_type' with the value 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
                ));
            }
            self.check_assertion(app, &client_id, assertion, now)?;
        } else {
            return Err(invalid_client(
                401,
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
        Ok((self.issue(app, now), None))
    }

    fn check_assertion(
        &self,
        app: &App,
        client_id: &str,
        assertion: &str,
        now: i64,
    ) -> Result<(), TokenError> {
        let malformed = || invalid_client(400, 50027, "JWT token is invalid or malformed.");
        let jwt = CompactJwt::split(assertion).ok_or_else(malformed)?;
        let header = jwt.header().ok_or_else(malformed)?;
        let claims = jwt.payload().ok_or_else(malformed)?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let iss = text(&claims, "iss").unwrap_or_default();
        let sub = text(&claims, "sub").unwrap_or_default();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(malformed)?;
        let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
        if exp <= now || nbf > now + 300 {
            return Err(invalid_client(
                401,
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."
                ),
            ));
        }
        let audiences: Vec<String> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if iss.eq_ignore_ascii_case(client_id) && sub.eq_ignore_ascii_case(client_id) {
            let aud_ok = audiences.iter().any(|a| {
                let a = a.to_ascii_lowercase();
                (a.ends_with("/oauth2/v2.0/token") || a.ends_with("/oauth2/token"))
                    && (a.contains(&self.tenant_id)
                        || self
                            .tenant_domain
                            .as_deref()
                            .is_some_and(|d| a.contains(&d.to_ascii_lowercase())))
            });
            if !aud_ok {
                return Err(invalid_client(
                    401,
                    700016,
                    format!(
                        "The audience of the client assertion ({}) is not this tenant's token endpoint.",
                        audiences.join(", ")
                    ),
                ));
            }
            let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
            let scheme: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
                "RS256" => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                "PS256" => &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
                _ => {
                    return Err(invalid_client(
                        401,
                        5002738,
                        format!(
                            "Invalid JWT token. '{alg}' is not a supported signature algorithm; use RS256 or PS256."
                        ),
                    ));
                }
            };
            let sig = jwt.signature().ok_or_else(malformed)?;
            let valid = app.keys.iter().any(|k| {
                aws_lc_rs::signature::UnparsedPublicKey::new(scheme, k)
                    .verify(jwt.signing_input.as_bytes(), &sig)
                    .is_ok()
            });
            if !valid {
                return Err(invalid_client(
                    401,
                    700027,
                    "Client assertion contains an invalid signature. [Reason - The key was not found.]",
                ));
            }
            return Ok(());
        }
        let matched = app
            .reg
            .federated_credentials
            .iter()
            .any(|f| f.issuer == iss && f.subject == sub);
        if !matched || !audiences.iter().any(|a| a == FEDERATED_AUDIENCE) {
            return Err(TokenError::new(
                400,
                "invalid_request",
                70021,
                format!(
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                    audiences.join(", ")
                ),
            ));
        }
        Ok(())
    }

    fn issue(&self, app: &App, now: i64) -> String {
        let claims = Claims {
            roles: app.reg.roles.clone(),
            ..self.claims(&app.reg.app_id, "app", now)
        };
        self.sign(&claims)
    }

    /// Checks an `Authorization` header value; returns the token's claims.
    pub(crate) fn check_bearer(
        &self,
        header: Option<&str>,
        now: i64,
    ) -> Result<Claims, BearerError> {
        let raw = header.unwrap_or("").trim();
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(if raw.is_empty() { "" } else { raw })
            .trim();
        if token.is_empty() {
            return Err("Access token is empty.");
        }
        const UNPARSABLE: BearerError = "CompactToken parsing failed with error code: 80049217";
        let jwt = CompactJwt::split(token).ok_or(UNPARSABLE)?;
        let sig = jwt.signature().ok_or(UNPARSABLE)?;
        if aws_lc_rs::hmac::verify(&self.key, jwt.signing_input.as_bytes(), &sig).is_err() {
            return Err("Access token validation failure. Invalid signature.");
        }
        let claims: Claims = jwt
            .payload()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or(UNPARSABLE)?;
        if claims.exp <= now || claims.nbf > now + 300 {
            return Err("Access token has expired or is not yet valid.");
        }
        if !claims.tid.eq_ignore_ascii_case(&self.tenant_id) {
            return Err("Access token validation failure. Invalid audience.");
        }
        Ok(claims)
    }
}

/// Decodes `Authorization: Basic base64(id:secret)` (both parts form-url-encoded).
pub(crate) fn basic_credentials(header: Option<&str>) -> Option<(String, String)> {
    let raw = header?.trim().strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(raw.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let dec = |s: &str| form_urlencoded_decode(s);
    Some((dec(id), dec(secret)))
}

fn form_urlencoded_decode(s: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()
        .and_then(|mut v| v.pop())
        .map_or_else(|| s.to_owned(), |(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair};

    /// A fixture of the root package's auth tests: one RSA key as a certificate, a
    /// SubjectPublicKeyInfo, and PEM files holding the certificate and its private key.
    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/auth")
            .join(name);
        std::fs::read_to_string(&path).expect("fixture")
    }

    fn pem_block(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    }

    /// Signs with the private key of `app-cert.pem`.
    fn sign(data: &[u8]) -> Vec<u8> {
        let pem = fixture("app-cert.pem");
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("key");
        let key = RsaKeyPair::from_pkcs8(key.secret_der()).expect("rsa");
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            data,
            &mut sig,
        )
        .expect("sign");
        sig
    }

    #[test]
    fn certificates_and_both_public_key_encodings_decode_to_the_same_key() {
        let spki = pem_public_key(&fixture("public-key.pem"), "app", 0).expect("PUBLIC KEY");
        let pkcs1 = aws_lc_rs::rsa::PublicKey::from_der(&spki)
            .expect("spki")
            .as_ref()
            .to_vec();
        let inputs = [
            ("CERTIFICATE", fixture("cert.pem")),
            ("CERTIFICATE then PRIVATE KEY", fixture("app-cert.pem")),
            (
                "CERTIFICATE then RSA PRIVATE KEY",
                fixture("app-cert-pkcs1.pem"),
            ),
            ("PUBLIC KEY", fixture("public-key.pem")),
            ("RSA PUBLIC KEY", pem_block("RSA PUBLIC KEY", &pkcs1)),
        ];
        let sig = sign(b"signed");
        for (what, pem) in inputs {
            let key = pem_public_key(&pem, "app", 0).expect(what);
            aws_lc_rs::signature::UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key)
                .verify(b"signed", &sig)
                .unwrap_or_else(|_| panic!("{what}: the key verifies the fixture's signature"));
        }
    }

    #[test]
    fn unusable_keys_name_the_app_the_key_and_the_cause() {
        let cases = [
            ("no pem at all", "not a PEM RSA public key or certificate"),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n",
                "not a PEM RSA public key or certificate",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "unsupported PEM block PrivateKey",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "not a readable X.509 certificate",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "not an RSA key",
            ),
        ];
        for (pem, text) in cases {
            let error = pem_public_key(pem, "app-1", 2).expect_err(pem);
            let message = error.to_string();
            assert!(
                message.starts_with("app app-1: public key 2 ") && message.contains(text),
                "{pem}: {message}"
            );
        }
        let error = pem_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n", "a", 0).expect_err("pem");
        assert!(
            std::error::Error::source(&error).is_some_and(|s| s.to_string().contains("end marker")),
            "the PEM error is the source: {error:?}"
        );
    }
}
