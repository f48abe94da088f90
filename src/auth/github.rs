//! GitHub Actions OIDC as a client assertion.
//!
//! A workflow with `permissions: id-token: write` gets `ACTIONS_ID_TOKEN_REQUEST_URL` and
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN`. GitHub's token endpoint returns `{"value": "<JWT>"}`
//! for the audience `api://AzureADTokenExchange`; that JWT is the client assertion of a
//! federated credential configured on the app registration. A fresh one is fetched for
//! each token request (GitHub's tokens live minutes).

use std::fmt;

use azure_core::credentials::Secret;
use azure_core::error::{Error, ErrorKind};
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use serde::Deserialize;
use url::Url;

use super::AuthError;

/// The audience Entra ID expects on federated assertions.
pub(crate) const AZURE_AD_TOKEN_EXCHANGE: &str = "api://AzureADTokenExchange";

/// Fetches assertions from GitHub's OIDC endpoint.
pub(crate) struct GithubOidcAssertion {
    client: reqwest::Client,
    url: Url,
    request_token: Secret,
}

impl fmt::Debug for GithubOidcAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubOidcAssertion")
            .field("host", &self.url.host_str())
            .field("request_token", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct OidcResponse {
    value: String,
}

impl GithubOidcAssertion {
    /// `request_url` is `ACTIONS_ID_TOKEN_REQUEST_URL`; the audience is appended. It must
    /// be https (or http on loopback, for tests).
    pub(crate) fn new(
        client: reqwest::Client,
        request_url: &str,
        request_token: Secret,
    ) -> Result<Self, AuthError> {
        let mut url = Url::parse(request_url).map_err(|source| AuthError::GithubUrl { source })?;
        let secure = url.scheme() == "https"
            || url.scheme() == "http" && crate::graph::cloud::is_loopback_host(&url);
        if !secure {
            return Err(AuthError::GithubUrlInsecure);
        }
        url.query_pairs_mut()
            .append_pair("audience", AZURE_AD_TOKEN_EXCHANGE);
        Ok(Self {
            client,
            url,
            request_token,
        })
    }
}

#[async_trait::async_trait]
impl ClientAssertion for GithubOidcAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let fail = |what: String| {
            Error::with_message(
                ErrorKind::Credential,
                format!(
                    "GitHub Actions OIDC token request failed: {what}; does the workflow have `permissions: id-token: write`?"
                ),
            )
        };
        let rsp = self
            .client
            .get(self.url.clone())
            .bearer_auth(self.request_token.secret())
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        let status = rsp.status();
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}")));
        }
        let body: OidcResponse = rsp
            .json()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        Ok(body.value)
    }
}
