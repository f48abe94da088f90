//! HTTP to the platforms' REST APIs: one client with the headers each platform documents,
//! a bearer token that never appears in a message, a log line or a dry run, a few retries
//! on throttling, and errors that say what to fix (403 → the permission the workflow lacks).
//!
//! Reads (GET) are always sent; writes are sent, or with `--dry-run` written to a
//! transcript (method, URL, headers with the token as `***`, JSON body) that the CLI
//! prints. Redirects are not followed, so the token goes to no other host.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde_json::Value;
use url::Url;

/// GitHub's REST API version this client speaks
/// (<https://docs.github.com/en/rest/about-the-rest-api/api-versions>).
pub const GITHUB_API_VERSION: &str = "2022-11-28";
/// GitHub's media type (<https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#media-types>).
pub const GITHUB_ACCEPT: &str = "application/vnd.github+json";
/// Azure DevOps REST API version (`api-version` query parameter).
pub const AZURE_API_VERSION: &str = "7.1";

/// A bearer token; its `Debug` shows `***`.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Which API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// GitHub's REST API.
    GitHub,
    /// Azure DevOps' REST API.
    AzureDevOps,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::GitHub => "GitHub",
            Platform::AzureDevOps => "Azure DevOps",
        }
    }
}

/// The permission a request needs, for the hint when it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading the pull request, its comments or labels, or the issues.
    Read,
    /// Commenting on or labelling a pull request.
    PullRequestsWrite,
    /// Opening, editing or closing an issue.
    IssuesWrite,
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    /// GET, POST, PATCH or DELETE.
    pub method: Method,
    /// The full URL.
    pub url: Url,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// What it does, for messages: "create the plan comment".
    pub what: String,
    /// The permission it needs.
    pub need: Need,
}

impl Request {
    /// A request without a body.
    pub fn new(method: Method, url: Url, what: impl Into<String>, need: Need) -> Self {
        Request {
            method,
            url,
            body: None,
            what: what.into(),
            need,
        }
    }

    /// The same request with a JSON body.
    #[must_use]
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Link` header (GitHub's pagination).
    pub link: Option<String>,
    /// The body.
    pub body: String,
}

impl Response {
    /// The body as JSON of type `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(
        &self,
        request: &Request,
        platform: Platform,
    ) -> Result<T, GitopsError> {
        serde_json::from_str(&self.body).map_err(|source| GitopsError::Shape {
            what: request.what.clone(),
            url: request.url.to_string(),
            platform: platform.name(),
            source,
        })
    }
}

/// Errors talking to a platform.
#[derive(Debug, thiserror::Error)]
pub enum GitopsError {
    /// No answer (connection, TLS, timeout).
    #[error("cannot {what}: no answer from {platform} ({method} {url})")]
    Transport {
        /// What the request does.
        what: String,
        /// The platform.
        platform: &'static str,
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// An error status.
    #[error("cannot {what}: {platform} answered {status}{detail}; {hint}")]
    Status {
        /// What the request does.
        what: String,
        /// The platform.
        platform: &'static str,
        /// The status code.
        status: u16,
        /// ` (message)` from the answer's JSON, cleaned, or empty.
        detail: String,
        /// What to do.
        hint: String,
    },
    /// An answer of another shape than documented.
    #[error("cannot {what}: the answer of {url} is not what {platform} documents")]
    Shape {
        /// What the request does.
        what: String,
        /// The URL.
        url: String,
        /// The platform.
        platform: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A pagination link to another host.
    #[error(
        "cannot {what}: the next page is on another host ({link}); not sending the token there"
    )]
    ForeignLink {
        /// What the request does.
        what: String,
        /// The link.
        link: String,
    },
    /// More pages than any pull request has.
    #[error("cannot {what}: more than {pages} pages; giving up")]
    TooManyPages {
        /// What the request does.
        what: String,
        /// The page limit.
        pages: usize,
    },
    /// No token.
    #[error("{variable} is not set; {hint}")]
    NoToken {
        /// The variable.
        variable: &'static str,
        /// How to set it.
        hint: &'static str,
    },
    /// Plain http to a host other than loopback: the token would cross the network in clear.
    #[error("{what} `{value}` uses plain http on a non-loopback host; use https")]
    PlainHttp {
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: String,
    },
    /// A base URL or id that does not make a URL.
    #[error("invalid {what} `{value}`")]
    BadUrl {
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: String,
        /// The cause.
        #[source]
        source: url::ParseError,
    },
    /// The HTTP client could not start.
    #[error("cannot start the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// Settings of a client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Write requests to the transcript instead of sending them.
    pub dry_run: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Most attempts of a throttled or failed (5xx) request.
    pub attempts: u32,
    /// Longest wait between attempts.
    pub max_wait: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            dry_run: false,
            timeout: Duration::from_secs(60),
            attempts: 3,
            max_wait: Duration::from_secs(30),
        }
    }
}

/// A client for one platform and one token.
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    platform: Platform,
    token: Option<Token>,
    options: HttpOptions,
    transcript: Mutex<String>,
}

impl Http {
    /// A client for `platform` with `token` (`None`: only a dry run can proceed, and it
    /// sends no reads either).
    pub fn new(
        platform: Platform,
        token: Option<Token>,
        options: HttpOptions,
    ) -> Result<Self, GitopsError> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(GitopsError::Client)?;
        Ok(Http {
            client,
            platform,
            token,
            options,
            transcript: Mutex::new(String::new()),
        })
    }

    /// The platform.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// True for a dry run.
    pub fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    /// What a dry run would have sent (and the reads it made), emptied.
    pub fn take_transcript(&self) -> String {
        self.transcript
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
    }

    fn note(&self, text: &str) {
        if let Ok(mut t) = self.transcript.lock() {
            t.push_str(text);
        }
    }

    /// The headers every request carries, with the token marked sensitive (reqwest then
    /// shows it as `Sensitive` in any debug output).
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let accept = match self.platform {
            Platform::GitHub => GITHUB_ACCEPT,
            Platform::AzureDevOps => "application/json",
        };
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("licensectl/", env!("CARGO_PKG_VERSION"))),
        );
        if self.platform == Platform::GitHub {
            headers.insert(
                "x-github-api-version",
                HeaderValue::from_static(GITHUB_API_VERSION),
            );
        }
        if let Some(token) = &self.token
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        {
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }

    /// The request as a dry run shows it.
    fn describe(&self, request: &Request) -> String {
        let mut out = format!("{} {}\n", request.method, request.url);
        for (name, value) in &self.headers() {
            let shown = if name == AUTHORIZATION {
                "Bearer ***".to_owned()
            } else {
                value.to_str().unwrap_or("").to_owned()
            };
            out.push_str(&format!("{name}: {shown}\n"));
        }
        if let Some(body) = &request.body {
            out.push_str("content-type: application/json\n\n");
            out.push_str(&body.to_string());
            out.push('\n');
        }
        out.push('\n');
        out
    }

    /// Sends a read; `Ok(None)` in a dry run without a token (nothing is sent).
    pub async fn read(&self, request: &Request) -> Result<Option<Response>, GitopsError> {
        if self.token.is_none() && self.options.dry_run {
            self.note(&format!(
                "# not sent (no token): {} {}\n\n",
                request.method, request.url
            ));
            return Ok(None);
        }
        self.exchange(request).await.map(Some)
    }

    /// Sends a write, or in a dry run adds it to the transcript.
    pub async fn write(&self, request: &Request) -> Result<Option<Response>, GitopsError> {
        if self.options.dry_run {
            self.note(&format!("# would {}\n", request.what));
            self.note(&self.describe(request));
            return Ok(None);
        }
        self.exchange(request).await.map(Some)
    }

    async fn exchange(&self, request: &Request) -> Result<Response, GitopsError> {
        if self.token.is_none() {
            return Err(self.no_token());
        }
        let transport = |source| GitopsError::Transport {
            what: request.what.clone(),
            platform: self.platform.name(),
            method: request.method.clone(),
            url: request.url.to_string(),
            source,
        };
        let mut attempt = 1;
        loop {
            tracing::debug!(method = %request.method, url = %request.url, attempt, "request");
            let mut builder = self
                .client
                .request(request.method.clone(), request.url.clone())
                .headers(self.headers());
            if let Some(body) = &request.body {
                builder = builder.json(body);
            }
            let answer = builder.send().await.map_err(transport)?;
            let status = answer.status().as_u16();
            let headers = answer.headers().clone();
            let retry = matches!(status, 429 | 502 | 503 | 504)
                || (status == 403 && headers.contains_key(RETRY_AFTER));
            if retry && attempt < self.options.attempts {
                let wait = headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::from_secs(u64::from(attempt)))
                    .min(self.options.max_wait);
                tracing::debug!(status, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let body = answer.text().await.map_err(transport)?;
            tracing::debug!(status, bytes = body.len(), "answer");
            // Azure DevOps answers a request it does not authenticate with 203 and a
            // sign-in page.
            let refused = !(200..300).contains(&status)
                || (self.platform == Platform::AzureDevOps && status == 203);
            if refused {
                return Err(self.status_error(request, status, &headers, &body));
            }
            if self.options.dry_run {
                self.note(&format!(
                    "# read ({status}): {} {}\n\n",
                    request.method, request.url
                ));
            }
            return Ok(Response {
                status,
                link: headers
                    .get("link")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body,
            });
        }
    }

    fn no_token(&self) -> GitopsError {
        match self.platform {
            Platform::GitHub => GitopsError::NoToken {
                variable: "GITHUB_TOKEN",
                hint: "pass it to the step: `env: GITHUB_TOKEN: ${{ github.token }}`",
            },
            Platform::AzureDevOps => GitopsError::NoToken {
                variable: "SYSTEM_ACCESSTOKEN",
                hint: "map it into the step: `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`",
            },
        }
    }

    fn status_error(
        &self,
        request: &Request,
        status: u16,
        headers: &HeaderMap,
        body: &str,
    ) -> GitopsError {
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .map(|m| clean(&m, self.token.as_ref()))
            .filter(|m| !m.is_empty());
        let rate_limited = status == 429
            || headers
                .get("x-ratelimit-remaining")
                .is_some_and(|v| v.as_bytes() == b"0");
        GitopsError::Status {
            what: request.what.clone(),
            platform: self.platform.name(),
            status,
            detail: message.map(|m| format!(" ({m})")).unwrap_or_default(),
            hint: hint(self.platform, status, request.need, rate_limited).to_owned(),
        }
    }
}

/// What to do about an error status.
fn hint(platform: Platform, status: u16, need: Need, rate_limited: bool) -> &'static str {
    match (platform, status) {
        (Platform::GitHub, 401) => {
            "the token is invalid or has expired; pass `GITHUB_TOKEN: ${{ github.token }}` to the step"
        }
        (Platform::GitHub, 403 | 429) if rate_limited => {
            "GitHub's API rate limit is exhausted; run the job again later"
        }
        (Platform::GitHub, 403) => match need {
            Need::PullRequestsWrite => {
                "the token lacks `pull-requests: write`; add it to the workflow's permissions"
            }
            Need::IssuesWrite => {
                "the token lacks `issues: write`; add it to the workflow's permissions"
            }
            Need::Read => {
                "the token cannot read the pull request; add `pull-requests: read` to the workflow's permissions"
            }
        },
        (Platform::GitHub, 404) => {
            "check GITHUB_REPOSITORY and the pull request or issue number; a token without access to the repository also gets 404"
        }
        (Platform::GitHub, 410) => "issues are disabled in this repository",
        (Platform::GitHub, 422) => "GitHub refused the request as invalid",
        (Platform::AzureDevOps, 401 | 203) => {
            "Azure DevOps did not accept the token; map it into the step: `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`"
        }
        (Platform::AzureDevOps, 403) => {
            "the build service lacks the `Contribute to pull requests` permission on the repository; grant it in Project settings → Repositories → Security"
        }
        (Platform::AzureDevOps, 404) => {
            "check SYSTEM_COLLECTIONURI, SYSTEM_TEAMPROJECTID, BUILD_REPOSITORY_ID and the pull request id"
        }
        (_, 500..=599) => "the platform's API failed; run the job again later",
        _ => "unexpected answer",
    }
}

/// A platform's message as we print it: one line, no control characters, at most 300
/// characters, and never the token.
fn clean(message: &str, token: Option<&Token>) -> String {
    let mut text: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if let Some(token) = token.filter(|t| !t.expose().is_empty()) {
        text = text.replace(token.expose(), "***");
    }
    text.trim().to_owned()
}

/// The `rel="next"` URL of a `Link` header
/// (<https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api#using-link-headers>).
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let rel_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        rel_next.then(|| url.to_owned())
    })
}

/// `value` as the base URL of an API: `https`, or `http` on a loopback host (a local
/// stand-in); refuses anything else, as the token is sent to it.
pub fn api_base(what: &'static str, value: &str) -> Result<Url, GitopsError> {
    let url = Url::parse(value).map_err(|source| GitopsError::BadUrl {
        what,
        value: value.to_owned(),
        source,
    })?;
    match url.scheme() {
        _ if url.cannot_be_a_base() => Err(GitopsError::BadUrl {
            what,
            value: value.to_owned(),
            source: url::ParseError::RelativeUrlWithCannotBeABaseBase,
        }),
        "https" => Ok(url),
        "http" if crate::graph::cloud::is_loopback_host(&url) => Ok(url),
        _ => Err(GitopsError::PlainHttp {
            what,
            value: value.to_owned(),
        }),
    }
}

/// True when `link` has the scheme, host and port of `base`.
pub fn same_origin(link: &Url, base: &Url) -> bool {
    link.scheme() == base.scheme()
        && link.host_str() == base.host_str()
        && link.port_or_known_default() == base.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let link = r#"<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", <https://api.github.com/repositories/1300192/issues?page=4>; rel="next", <https://api.github.com/repositories/1300192/issues?page=515>; rel="last", <https://api.github.com/repositories/1300192/issues?page=1>; rel="first""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1300192/issues?page=4")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="first""#), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn the_token_goes_only_to_https_or_a_loopback_stand_in() {
        assert!(api_base("X", "https://api.github.com").is_ok());
        assert!(api_base("X", "http://127.0.0.1:8080").is_ok());
        assert!(api_base("X", "http://localhost:8080/").is_ok());
        for bad in ["http://api.example", "ftp://x", "mailto:a@b", "nope"] {
            assert!(api_base("X", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_are_followed_only_on_the_api_host() {
        let base = Url::parse("https://api.github.com/").expect("url");
        let same = Url::parse("https://api.github.com/repositories/1/issues?page=2").expect("u");
        let other = Url::parse("https://evil.example/?page=2").expect("url");
        let port = Url::parse("https://api.github.com:8443/x").expect("url");
        assert!(same_origin(&same, &base));
        assert!(!same_origin(&other, &base));
        assert!(!same_origin(&port, &base));
    }

    #[test]
    fn a_forbidden_write_names_the_missing_permission() {
        assert_eq!(
            hint(Platform::GitHub, 403, Need::PullRequestsWrite, false),
            "the token lacks `pull-requests: write`; add it to the workflow's permissions"
        );
        assert!(hint(Platform::GitHub, 403, Need::IssuesWrite, false).contains("`issues: write`"));
        assert!(hint(Platform::GitHub, 403, Need::IssuesWrite, true).contains("rate limit"));
        assert!(hint(Platform::AzureDevOps, 203, Need::Read, false).contains("SYSTEM_ACCESSTOKEN"));
    }

    #[test]
    fn messages_from_the_platform_are_cleaned_and_never_hold_the_token() {
        let token = Token::new("ghs_abc");
        assert_eq!(
            clean("bad\ntoken ghs_abc\u{1b}[0m", Some(&token)),
            "bad token *** [0m"
        );
        assert_eq!(clean(&"x".repeat(1_000), None).len(), 300);
        assert_eq!(format!("{token:?}"), "Token(***)");
    }

    #[test]
    fn a_dry_run_shows_the_request_with_the_token_hidden() {
        let http = Http::new(
            Platform::GitHub,
            Some(Token::new("ghs_secret")),
            HttpOptions::default(),
        )
        .expect("client");
        let request = Request::new(
            Method::POST,
            Url::parse("https://api.github.com/repos/o/r/issues/1/comments").expect("url"),
            "create the plan comment",
            Need::PullRequestsWrite,
        )
        .json(serde_json::json!({"body": "hi"}));
        let text = http.describe(&request);
        assert!(text.starts_with("POST https://api.github.com/repos/o/r/issues/1/comments\n"));
        assert!(text.contains("authorization: Bearer ***\n"));
        assert!(text.contains("accept: application/vnd.github+json\n"));
        assert!(text.contains("x-github-api-version: 2022-11-28\n"));
        assert!(text.contains("{\"body\":\"hi\"}"));
        assert!(!text.contains("ghs_secret"));
    }
}
