//! The HTTP transport that azure_identity's credentials send through: our reqwest client
//! (rustls), plus an explicit, loopback-only redirect for the local emulator.
//!
//! azure_identity insists on an `https://` authority host. For `--authority-host
//! http://127.0.0.1:PORT` the credential is given `https://127.0.0.1:PORT` and this
//! transport sends those requests to `http://127.0.0.1:PORT` instead. The redirect is only
//! ever built for a loopback host (see [`crate::graph::cloud`]), so nothing leaves the
//! machine in clear text.
//!
//! It also makes Entra ID's error bodies readable to azure_identity 1.0, which decodes
//! `error_description` as a borrowed string and so fails on every real Entra error (their
//! descriptions hold `\r\n` escapes before "Trace ID:"), reporting "invalid type: string
//! …, expected a borrowed string" instead of the AADSTS error. [`readable_entra_error`]
//! puts the description on one line without escapes; nothing else changes.

use std::sync::Arc;

use azure_core::Bytes;
use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::{HeaderName, HeaderValue, Headers};
use azure_core::http::{AsyncRawResponse, Body, HttpClient, Method, Request, Transport};
use url::Url;

/// Rewrites `https://host:port` to `http://host:port` for one loopback origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoopbackRedirect {
    /// The https origin the credential believes it talks to.
    pub from: Url,
    /// The http loopback origin that really answers.
    pub to: Url,
}

impl LoopbackRedirect {
    /// For an `http://` loopback authority host, the redirect and the https URL to give
    /// the credential. `None` when the host is https (no redirect needed).
    pub(crate) fn for_authority(authority: &Url) -> Option<(Self, Url)> {
        if authority.scheme() != "http" || !crate::graph::cloud::is_loopback_host(authority) {
            return None;
        }
        let host = authority.host_str()?;
        let port = authority.port_or_known_default()?;
        let from = Url::parse(&format!("https://{host}:{port}/")).ok()?;
        let to = Url::parse(&format!("http://{host}:{port}/")).ok()?;
        Some((
            Self {
                from: from.clone(),
                to,
            },
            from,
        ))
    }

    fn apply(&self, url: &Url) -> Option<Url> {
        if url.scheme() == self.from.scheme()
            && url.host_str() == self.from.host_str()
            && url.port_or_known_default() == self.from.port_or_known_default()
        {
            let mut out = url.clone();
            out.set_scheme(self.to.scheme()).ok()?;
            out.set_port(self.to.port()).ok()?;
            Some(out)
        } else {
            None
        }
    }
}

/// azure_core's `HttpClient` over our reqwest client.
#[derive(Debug, Clone)]
pub(crate) struct ReqwestHttpClient {
    client: reqwest::Client,
    redirect: Option<LoopbackRedirect>,
}

impl ReqwestHttpClient {
    /// Wraps `client`, optionally redirecting one loopback origin.
    pub(crate) fn new(client: reqwest::Client, redirect: Option<LoopbackRedirect>) -> Self {
        Self { client, redirect }
    }

    /// As an azure_core `Transport`.
    pub(crate) fn into_transport(self) -> Transport {
        Transport::new(Arc::new(self))
    }
}

fn method(m: Method) -> reqwest::Method {
    match m {
        Method::Delete => reqwest::Method::DELETE,
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Patch => reqwest::Method::PATCH,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        _ => reqwest::Method::GET,
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestHttpClient {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let url = self
            .redirect
            .as_ref()
            .and_then(|r| r.apply(request.url()))
            .unwrap_or_else(|| request.url().clone());
        let mut req = self.client.request(method(request.method()), url);
        for (name, value) in request.headers().iter() {
            req = req.header(name.as_str(), value.as_str());
        }
        let req = match request.body() {
            Body::Bytes(bytes) => req.body(bytes.clone()),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::with_message(
                    ErrorKind::Other,
                    "streamed request bodies are not supported",
                ));
            }
        };
        let rsp = req.send().await.map_err(|e| {
            let kind = if e.is_connect() {
                ErrorKind::Connection
            } else {
                ErrorKind::Io
            };
            // reqwest's error names neither the URL (no query secrets here anyway) nor,
            // on its own, the cause: the chain below it says what failed (refused,
            // timed out, DNS).
            Error::with_message(
                kind,
                format!("token request failed: {}", with_causes(&e.without_url())),
            )
        })?;
        let status = rsp.status().as_u16();
        let mut headers = Headers::new();
        for (name, value) in rsp.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(
                    HeaderName::from(name.as_str().to_owned()),
                    HeaderValue::from(v.to_owned()),
                );
            }
        }
        let body: Bytes = read_token_body(rsp).await?;
        let body = if status >= 400 {
            readable_entra_error(body)
        } else {
            body
        };
        Ok(AsyncRawResponse::from_bytes(status.into(), headers, body))
    }
}

/// Largest token endpoint answer read (a token response is a few KiB).
const MAX_TOKEN_RESPONSE_BYTES: usize = 1 << 20;

/// A token endpoint's body, read chunk by chunk up to [`MAX_TOKEN_RESPONSE_BYTES`].
async fn read_token_body(mut rsp: reqwest::Response) -> azure_core::Result<Bytes> {
    let failed = |e: reqwest::Error| {
        Error::with_message(
            ErrorKind::Io,
            format!("token response failed: {}", with_causes(&e.without_url())),
        )
    };
    let mut body = Vec::new();
    while let Some(chunk) = rsp.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_TOKEN_RESPONSE_BYTES {
            return Err(Error::with_message(
                ErrorKind::Io,
                format!("token response larger than {MAX_TOKEN_RESPONSE_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// An error and its causes, joined by ": ".
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = inner.source();
    }
    text
}

/// An Entra ID error body whose `error_description` needs no JSON escape (control
/// characters become spaces, `"` becomes `'`, `\` becomes `/`); other bodies unchanged.
pub(crate) fn readable_entra_error(body: Bytes) -> Bytes {
    let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_slice(&body) else {
        return body;
    };
    let Some(serde_json::Value::String(description)) = fields.get("error_description") else {
        return body;
    };
    let mut plain = String::with_capacity(description.len());
    for c in description.chars() {
        match c {
            '"' => plain.push('\''),
            '\\' => plain.push('/'),
            c if c.is_control() => {
                if !plain.ends_with(' ') {
                    plain.push(' ');
                }
            }
            c => plain.push(c),
        }
    }
    fields.insert(
        "error_description".to_owned(),
        serde_json::Value::String(plain.trim_end().to_owned()),
    );
    serde_json::to_vec(&fields).map_or(body, Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_errors_become_readable_by_azure_identity() {
        #[derive(serde::Deserialize)]
        struct Borrowed<'a> {
            #[allow(dead_code)]
            error_description: &'a str,
        }
        let real = br#"{"error":"invalid_scope","error_description":"AADSTS70011: The scope \"x\" is not valid.\r\nTrace ID: 255d\r\nCorrelation ID: fb3d\r\nTimestamp: 2016-01-09 02:02:12Z","error_codes":[70011]}"#;
        assert!(serde_json::from_slice::<Borrowed>(real).is_err(), "the bug");
        let fixed = readable_entra_error(Bytes::from_static(real));
        assert!(serde_json::from_slice::<Borrowed>(&fixed).is_ok());
        let v: serde_json::Value = serde_json::from_slice(&fixed).expect("json");
        assert_eq!(
            v["error_description"],
            "AADSTS70011: The scope 'x' is not valid. Trace ID: 255d Correlation ID: fb3d Timestamp: 2016-01-09 02:02:12Z"
        );
        assert_eq!(v["error_codes"][0], 70011);
        for other in [&b"not json"[..], br#"{"error":"x"}"#, br#"[1]"#] {
            assert_eq!(&readable_entra_error(Bytes::from_static(other))[..], other);
        }
    }

    #[test]
    fn redirect_only_for_http_loopback() {
        let cases = [
            ("http://127.0.0.1:4000", Some("https://127.0.0.1:4000/")),
            ("http://localhost:80", Some("https://localhost:80/")),
            ("https://127.0.0.1:4000", None),
            ("https://login.microsoftonline.com", None),
            ("http://login.example.com", None),
        ];
        for (raw, want) in cases {
            let url = Url::parse(raw).expect("url");
            let got = LoopbackRedirect::for_authority(&url).map(|(_, u)| u.to_string());
            assert_eq!(got.as_deref(), want, "{raw}");
        }
        let (r, _) =
            LoopbackRedirect::for_authority(&Url::parse("http://127.0.0.1:4000").expect("url"))
                .expect("redirect");
        let token = Url::parse("https://127.0.0.1:4000/t/oauth2/v2.0/token").expect("url");
        assert_eq!(
            r.apply(&token).map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:4000/t/oauth2/v2.0/token")
        );
        let other = Url::parse("https://127.0.0.1:4001/t").expect("url");
        assert_eq!(r.apply(&other), None, "other port untouched");
    }
}
