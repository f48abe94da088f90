//! Graph's error body, typed, and the errors of the Graph client.
//!
//! Graph answers errors as `{"error":{"code","message","innerError":{"request-id",...}}}`.
//! Code branches on [`GraphErrorCode`], never on the message text. Every error that came
//! from a response keeps the `request-id` so that Microsoft support can find the call.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// The `code` of a Graph error, for the codes licensectl reacts to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GraphErrorCode {
    /// `Request_BadRequest` (400).
    BadRequest,
    /// `Request_UnsupportedQuery` (400).
    UnsupportedQuery,
    /// `Request_ResourceNotFound` (404).
    ResourceNotFound,
    /// `Authorization_RequestDenied` (403): the app lacks a permission.
    AuthorizationRequestDenied,
    /// `InvalidAuthenticationToken` (401).
    InvalidAuthenticationToken,
    /// `TooManyRequests` (429).
    TooManyRequests,
    /// Any other code, kept verbatim.
    Other(String),
}

impl GraphErrorCode {
    /// Maps Graph's `code` string.
    pub fn parse(code: &str) -> Self {
        match code {
            "Request_BadRequest" => Self::BadRequest,
            "Request_UnsupportedQuery" => Self::UnsupportedQuery,
            "Request_ResourceNotFound" => Self::ResourceNotFound,
            "Authorization_RequestDenied" => Self::AuthorizationRequestDenied,
            "InvalidAuthenticationToken" => Self::InvalidAuthenticationToken,
            "TooManyRequests" => Self::TooManyRequests,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Graph's spelling of the code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::BadRequest => "Request_BadRequest",
            Self::UnsupportedQuery => "Request_UnsupportedQuery",
            Self::ResourceNotFound => "Request_ResourceNotFound",
            Self::AuthorizationRequestDenied => "Authorization_RequestDenied",
            Self::InvalidAuthenticationToken => "InvalidAuthenticationToken",
            Self::TooManyRequests => "TooManyRequests",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for GraphErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `{"error": ...}` envelope.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// Graph's error object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    /// Machine-readable code, e.g. `Authorization_RequestDenied`.
    pub code: String,
    /// Human-readable text (never branched on).
    #[serde(default)]
    pub message: String,
    /// Diagnostics: `request-id`, `client-request-id`, `date`.
    #[serde(default, rename = "innerError", alias = "innererror")]
    pub inner_error: Option<InnerError>,
}

/// `innerError`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct InnerError {
    /// The request id Microsoft support asks for.
    #[serde(default, rename = "request-id")]
    pub request_id: Option<String>,
}

/// A Graph error response, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Graph's code.
    pub code: GraphErrorCode,
    /// Graph's message.
    pub message: String,
    /// `request-id` from the header or the body, when present.
    pub request_id: Option<String>,
}

impl ApiError {
    /// Decodes an error from the status, the `request-id` header and the body. A body that
    /// is not Graph's error JSON still gives an error, with the code `HttpStatus<N>`.
    pub fn from_response(status: u16, header_request_id: Option<&str>, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorEnvelope>(body) {
            Ok(env) => {
                let body_id = env.error.inner_error.and_then(|i| i.request_id);
                Self {
                    status,
                    code: GraphErrorCode::parse(&env.error.code),
                    message: env.error.message,
                    request_id: header_request_id.map(str::to_owned).or(body_id),
                }
            }
            Err(_) => Self {
                status,
                code: GraphErrorCode::Other(format!("HttpStatus{status}")),
                message: String::from_utf8_lossy(body).chars().take(200).collect(),
                request_id: header_request_id.map(str::to_owned),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)?;
        match &self.request_id {
            Some(id) => write!(f, " (request-id {id})"),
            None => write!(f, " (no request-id)"),
        }
    }
}

/// Errors of the Graph client. Graph's answer ([`ApiError`]) is part of the message; a
/// cause from below (the connection, the JSON decoder, the credential) is the `source`,
/// printed once by an error chain after the message.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error that is not retried (or ran out of retries).
    #[error("graph {method} {path} failed: {error}{}", hint(method, path, &error.code))]
    Api {
        /// HTTP method.
        method: String,
        /// Path and query (no host, no token).
        path: String,
        /// The decoded error.
        error: Box<ApiError>,
    },
    /// The request could not be sent or its response not read, after every retry.
    #[error("graph {method} {path}: connection failed after {attempts} attempt(s)")]
    Transport {
        /// HTTP method.
        method: String,
        /// Path and query.
        path: String,
        /// Attempts made.
        attempts: u32,
        /// reqwest's error, without the URL (never headers).
        source: reqwest::Error,
    },
    /// The overall deadline passed before the request succeeded.
    #[error(
        "graph {method} {path}: gave up after {:.1} s (deadline {} s, {attempts} attempt(s)); last problem: {}. Graph is throttling or failing: retry later or raise --deadline",
        elapsed.as_secs_f64(),
        deadline.as_secs_f64(),
        last_problem(last_answer.as_deref(), source.is_some())
    )]
    Deadline {
        /// HTTP method.
        method: String,
        /// Path and query.
        path: String,
        /// Time spent.
        elapsed: Duration,
        /// The deadline.
        deadline: Duration,
        /// Attempts made.
        attempts: u32,
        /// Graph's last answer, when the last attempt got one.
        last_answer: Option<Box<ApiError>>,
        /// The last attempt's connection error, when its connection failed (neither: the
        /// last attempt did not complete in time).
        source: Option<reqwest::Error>,
    },
    /// A response body did not have the expected shape.
    #[error("graph {method} {path}: unexpected response body (request-id {request_id})")]
    Decode {
        /// HTTP method.
        method: String,
        /// Path and query.
        path: String,
        /// The response's request-id.
        request_id: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// No access token could be obtained.
    #[error("cannot get an access token")]
    Auth(#[source] crate::auth::AuthError),
    /// A path relative to the Graph root is not a valid URL path.
    #[error("'{path}' is not a valid Graph path")]
    InvalidPath {
        /// The relative path.
        path: String,
        /// The URL parser's error.
        source: url::ParseError,
    },
    /// A `@odata.nextLink` pointed away from the Graph root.
    #[error(
        "graph returned a nextLink outside the Graph root ({link}); refusing to send the token there"
    )]
    ForeignLink {
        /// The link (query removed).
        link: String,
    },
    /// A `@odata.nextLink` led back to a page already read: following it would never end.
    #[error(
        "graph {path}: @odata.nextLink led back to a page already read (after {pages} page(s)); refusing to loop"
    )]
    RepeatedLink {
        /// The first page's path and query.
        path: String,
        /// Pages read before the repeat.
        pages: u64,
    },
    /// A collection went on past what its `@odata.count` (or the page limit) allows.
    #[error("graph {path}: more than {limit} {what} (the collection's {why}); refusing to read on")]
    TooManyPages {
        /// The first page's path and query.
        path: String,
        /// What ran over: "items" or "pages".
        what: &'static str,
        /// The bound.
        limit: u64,
        /// Where the bound comes from.
        why: &'static str,
    },
    /// Decoding a page on a blocking thread did not finish: the program is stopping.
    #[error("graph {path}: decoding a page was cancelled (the program is stopping)")]
    Cancelled {
        /// Path and query.
        path: String,
    },
    /// A response body was larger than the limit; reading stopped there.
    #[error(
        "graph {method} {path}: the response is larger than the {limit} bytes a response may hold; raise LICENSECTL_MAX_RESPONSE_BYTES if the tenant really needs it"
    )]
    BodyTooLarge {
        /// HTTP method.
        method: String,
        /// Path and query.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// Graph refused a fresh access token after refusing the previous one (401 twice).
    #[error(
        "graph {method} {path}: the access token was refused, and so was a fresh one: {error}; check that the app still has access (its secret or certificate, admin consent) and that --graph-url matches the authority that issued the token"
    )]
    TokenRejected {
        /// HTTP method.
        method: String,
        /// Path and query.
        path: String,
        /// Graph's last answer.
        error: Box<ApiError>,
    },
    /// A `$batch` response lacked an item or had an unknown id.
    #[error("graph $batch response is missing the answer for request {id}")]
    BatchMissing {
        /// The request id inside the batch.
        id: String,
    },
}

/// What went wrong last before a deadline passed.
fn last_problem(answer: Option<&ApiError>, connection_failed: bool) -> String {
    match answer {
        Some(answer) => answer.to_string(),
        None if connection_failed => "the connection failed".to_owned(),
        None => "the request did not complete in time".to_owned(),
    }
}

fn hint(method: &str, path: &str, code: &GraphErrorCode) -> String {
    match code {
        GraphErrorCode::AuthorizationRequestDenied => match required_permission(method, path) {
            Some(permission) => format!(
                "; the app lacks the application permission {permission}: grant it to the app registration with admin consent (see docs/live.md, \"Permissions\")"
            ),
            None => "; the app lacks an application permission: grant it (see docs/live.md, \"Permissions\") with admin consent".to_owned(),
        },
        GraphErrorCode::InvalidAuthenticationToken => {
            "; the token was rejected: check --cloud/--graph-url match the authority that issued it".to_owned()
        }
        _ => String::new(),
    }
}

/// The least-privileged application permission a licensectl call needs (each API's
/// permissions table, e.g. https://learn.microsoft.com/en-us/graph/api/user-assignlicense#permissions), from its method and path (`/v1.0/users?…`, or a `$batch` item's `/users?…`).
pub(crate) fn required_permission(method: &str, path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.iter().position(|s| *s == "v1.0") {
        Some(i) => &segments[i + 1..],
        None => &segments[..],
    };
    let first = rest.first()?;
    let write = !method.eq_ignore_ascii_case("GET");
    let assign = rest
        .last()
        .is_some_and(|s| s.eq_ignore_ascii_case("assignLicense"));
    if assign {
        return Some("LicenseAssignment.ReadWrite.All");
    }
    let collection = first.split('(').next().unwrap_or(first);
    match collection {
        "subscribedSkus" => Some("LicenseAssignment.Read.All"),
        "organization" => Some("Organization.Read.All"),
        "users" if write => Some("User.ReadWrite.All"),
        "users" => Some("User.Read.All"),
        "groups" if rest.get(2).is_some_and(|s| *s == "members") => Some("GroupMember.Read.All"),
        "groups" if write => Some("Group.ReadWrite.All"),
        // licenseProcessingState and assignedLicenses are not basic properties:
        // GroupMember.Read.All covers them and the members (docs/live.md).
        "groups" => Some("GroupMember.Read.All"),
        _ => None,
    }
}

impl GraphError {
    /// The message and every cause below it, joined by ": " (each cause once): for a
    /// journal or report line that must stand on its own.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(inner) = cause {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            cause = inner.source();
        }
        text
    }

    /// The Graph error code, when Graph answered with one.
    pub fn code(&self) -> Option<&GraphErrorCode> {
        match self {
            GraphError::Api { error, .. } => Some(&error.code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_graph_error_bodies_and_keeps_request_id() {
        let body = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2024-01-01T00:00:00","request-id":"body-id","client-request-id":"c"}}}"#;
        type Case<'a> = (Option<&'a str>, &'a [u8], GraphErrorCode, Option<&'a str>);
        let cases: [Case; 4] = [
            (
                None,
                body,
                GraphErrorCode::AuthorizationRequestDenied,
                Some("body-id"),
            ),
            (
                Some("hdr-id"),
                body,
                GraphErrorCode::AuthorizationRequestDenied,
                Some("hdr-id"),
            ),
            (
                Some("x"),
                br#"{"error":{"code":"SomethingNew","message":"m"}}"#,
                GraphErrorCode::Other("SomethingNew".into()),
                Some("x"),
            ),
            (
                Some("y"),
                b"<html>bad gateway</html>",
                GraphErrorCode::Other("HttpStatus502".into()),
                Some("y"),
            ),
        ];
        for (hdr, body, code, id) in cases {
            let status = if code == GraphErrorCode::Other("HttpStatus502".into()) {
                502
            } else {
                403
            };
            let e = ApiError::from_response(status, hdr, body);
            assert_eq!(e.code, code);
            assert_eq!(e.request_id.as_deref(), id);
            assert!(e.to_string().contains(id.unwrap_or("no request-id")));
        }
    }

    #[test]
    fn codes_round_trip() {
        for code in [
            "Request_BadRequest",
            "Request_UnsupportedQuery",
            "Request_ResourceNotFound",
            "Authorization_RequestDenied",
            "InvalidAuthenticationToken",
            "TooManyRequests",
            "Whatever",
        ] {
            assert_eq!(GraphErrorCode::parse(code).as_str(), code);
        }
    }

    #[test]
    fn permission_error_names_the_fix() {
        let err = GraphError::Api {
            method: "GET".into(),
            path: "/users".into(),
            error: Box::new(ApiError::from_response(
                403,
                Some("rid"),
                br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#,
            )),
        };
        let text = err.to_string();
        assert!(text.contains("request-id rid"), "{text}");
        assert!(text.contains("docs/live.md"), "{text}");
        assert!(text.contains("permission User.Read.All"), "{text}");
    }

    #[test]
    fn causes_are_sources_and_printed_once() {
        use std::error::Error as _;
        let json = serde_json::from_str::<Vec<u8>>("{").expect_err("not json");
        let err = GraphError::Decode {
            method: "GET".into(),
            path: "/v1.0/users".into(),
            request_id: "rid".into(),
            source: json,
        };
        assert_eq!(
            err.to_string(),
            "graph GET /v1.0/users: unexpected response body (request-id rid)"
        );
        assert!(
            err.source()
                .is_some_and(|s| s.downcast_ref::<serde_json::Error>().is_some())
        );
        let deadline = |last_answer| GraphError::Deadline {
            method: "GET".into(),
            path: "/v1.0/users".into(),
            elapsed: Duration::from_millis(1500),
            deadline: Duration::from_secs(1),
            attempts: 2,
            last_answer,
            source: None,
        };
        let timed_out = deadline(None);
        assert_eq!(
            timed_out.to_string(),
            "graph GET /v1.0/users: gave up after 1.5 s (deadline 1 s, 2 attempt(s)); last problem: the request did not complete in time. Graph is throttling or failing: retry later or raise --deadline"
        );
        assert!(timed_out.source().is_none());
        let answer = ApiError::from_response(
            429,
            Some("r"),
            br#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        );
        assert!(
            deadline(Some(Box::new(answer)))
                .to_string()
                .contains("; last problem: 429 TooManyRequests: slow down (request-id r). Graph")
        );
    }

    #[test]
    fn permissions_by_call() {
        let cases = [
            (
                "GET",
                "/v1.0/subscribedSkus?$select=skuId",
                Some("LicenseAssignment.Read.All"),
            ),
            ("GET", "/v1.0/organization", Some("Organization.Read.All")),
            ("GET", "/v1.0/users?$filter=x", Some("User.Read.All")),
            (
                "GET",
                "/users?$filter=userPrincipalName in ('a')",
                Some("User.Read.All"),
            ),
            ("GET", "/v1.0/users('$a@b.c')", Some("User.Read.All")),
            ("PATCH", "/v1.0/users/1", Some("User.ReadWrite.All")),
            (
                "POST",
                "/v1.0/users/1/assignLicense",
                Some("LicenseAssignment.ReadWrite.All"),
            ),
            (
                "POST",
                "/v1.0/groups/1/assignLicense",
                Some("LicenseAssignment.ReadWrite.All"),
            ),
            (
                "GET",
                "/v1.0/groups/1/members?$top=999",
                Some("GroupMember.Read.All"),
            ),
            (
                "GET",
                "/v1.0/groups?$filter=displayName eq 'x'",
                Some("GroupMember.Read.All"),
            ),
            ("GET", "/v1.0/groups/1", Some("GroupMember.Read.All")),
            (
                "POST",
                "/v1.0/users/1/reprocessLicenseAssignment",
                Some("User.ReadWrite.All"),
            ),
            ("POST", "/v1.0/$batch", None),
            ("GET", "/v1.0/", None),
            ("GET", "/beta/other", None),
        ];
        for (method, path, want) in cases {
            assert_eq!(required_permission(method, path), want, "{method} {path}");
        }
    }
}
