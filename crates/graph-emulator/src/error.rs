//! Graph and AAD error bodies, and the emulator's own error type.

use serde_json::{Value, json};

/// An error answered by the emulated Graph API: an HTTP status, Graph's `code` and message.
/// Rendered as `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphError {
    /// HTTP status.
    pub status: u16,
    /// Graph's error code, e.g. `Request_BadRequest`.
    pub code: &'static str,
    /// Human-readable message (clients must branch on `code`, not on this).
    pub message: String,
}

impl GraphError {
    /// A new error.
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    /// 400 `Request_BadRequest`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "Request_BadRequest", message)
    }
    /// 400 `Request_UnsupportedQuery`.
    pub(crate) fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(400, "Request_UnsupportedQuery", message)
    }
    /// 404 `Request_ResourceNotFound` for the object `id`.
    pub(crate) fn not_found(id: &str) -> Self {
        Self::new(
            404,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }
    /// 403 `Authorization_RequestDenied`.
    pub(crate) fn forbidden() -> Self {
        Self::new(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }
    /// 403 for `signInActivity` in a tenant without Microsoft Entra ID P1/P2, as Graph
    /// answers it (<https://github.com/microsoftgraph/microsoft-graph-docs/issues/14118>).
    pub(crate) fn non_premium() -> Self {
        Self::new(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        )
    }
    /// 503 `Request_ThrottledTemporarily` (the directory's throttling answer in Azure AD
    /// Graph's error table,
    /// <https://learn.microsoft.com/en-us/previous-versions/azure/ad/graph/howto/azure-ad-graph-api-error-codes-and-error-handling>).
    pub(crate) fn throttled_temporarily(seconds: u64) -> Self {
        Self::new(
            503,
            "Request_ThrottledTemporarily",
            format!("Your request is throttled temporarily. Please try after {seconds} seconds."),
        )
    }
    /// 401 `InvalidAuthenticationToken`.
    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(401, "InvalidAuthenticationToken", message)
    }
    /// 400 for an unparsable GUID literal.
    pub(crate) fn bad_guid(literal: &str) -> Self {
        Self::bad_request(format!(
            "Cannot convert the literal '{literal}' to the expected type 'Edm.Guid'."
        ))
    }
    /// 405 for a method the path does not allow.
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    }

    /// The JSON body Graph sends for this error.
    pub(crate) fn body(
        &self,
        date: &str,
        request_id: &str,
        client_request_id: Option<&str>,
    ) -> Value {
        error_body(
            self.code,
            &self.message,
            date,
            request_id,
            client_request_id,
        )
    }
}

/// Graph's error body with a directory-style `innerError`.
pub(crate) fn error_body(
    code: &str,
    message: &str,
    date: &str,
    request_id: &str,
    client_request_id: Option<&str>,
) -> Value {
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": date,
                "request-id": request_id,
                "client-request-id": client_request_id.unwrap_or(request_id),
            }
        }
    })
}

/// The body of a throttled (429) response, as in Graph's throttling sample.
pub(crate) fn throttled_body(
    date: &str,
    request_id: &str,
    client_request_id: Option<&str>,
) -> Value {
    json!({
        "error": {
            "code": "TooManyRequests",
            "message": "Please retry again later.",
            "innerError": {
                "code": "429",
                "date": date,
                "message": "Please retry after",
                "request-id": request_id,
                "client-request-id": client_request_id.unwrap_or(request_id),
                "status": "429",
            }
        }
    })
}

/// An Azure AD token endpoint error (`invalid_client`, `invalid_scope`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenError {
    /// HTTP status (400 or 401).
    pub status: u16,
    /// OAuth2 error, e.g. `invalid_client`.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The description (without the trailer of ids that AAD appends).
    pub description: String,
}

impl TokenError {
    /// A new token error.
    pub(crate) fn new(
        status: u16,
        error: &'static str,
        code: u32,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    /// The AAD error body.
    pub(crate) fn body(&self, timestamp: &str, trace_id: &str, correlation_id: &str) -> Value {
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        })
    }
}

/// Errors of the emulator itself (start-up, tenant file, options). Each cause is a
/// `source`, printed once by an error chain after the message.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The tenant snapshot is inconsistent.
    #[error("invalid emulator tenant: {0}")]
    Tenant(String),
    /// An option is out of range or names something that does not exist.
    #[error("invalid emulator option: {0}")]
    Option(String),
    /// A `--faults` specification could not be parsed.
    #[error(
        "invalid fault specification '{spec}': {reason} (expected e.g. 429=0.05,load429=0.01,503=0.02,504=0.01,drop=0.01,slow=0.05,slow-ms=2000,retry-after=1)"
    )]
    Faults {
        /// The specification.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// An app's public key holds no readable PEM block.
    #[error("app {app_id}: public key {index} is not a PEM RSA public key or certificate")]
    PublicKeyPem {
        /// The app.
        app_id: String,
        /// Position in `publicKeysPem`.
        index: usize,
        /// The PEM error.
        source: rustls_pki_types::pem::Error,
    },
    /// An app's public key is a PEM block of another kind (a private key, a CRL, ...).
    #[error(
        "app {app_id}: public key {index} is not a PEM RSA public key or certificate: unsupported PEM block {kind:?}"
    )]
    PublicKeyBlock {
        /// The app.
        app_id: String,
        /// Position in `publicKeysPem`.
        index: usize,
        /// The block's kind.
        kind: rustls_pki_types::pem::SectionKind,
    },
    /// An app's certificate is not DER X.509.
    #[error("app {app_id}: public key {index} is not a readable X.509 certificate")]
    PublicKeyCertificate {
        /// The app.
        app_id: String,
        /// Position in `publicKeysPem`.
        index: usize,
        /// The DER error.
        source: x509_cert::der::Error,
    },
    /// An app's public key is not an RSA key.
    #[error("app {app_id}: public key {index} is not an RSA key")]
    PublicKeyRsa {
        /// The app.
        app_id: String,
        /// Position in `publicKeysPem`.
        index: usize,
        /// aws-lc-rs's reason.
        source: aws_lc_rs::error::KeyRejected,
    },
    /// A non-loopback address without `allow_remote`.
    #[error(
        "refusing to listen on {addr}: not a loopback address, and the emulator serves its tenant and statistics without a token; pass --allow-remote (EmulatorOptions::allow_remote) to listen there anyway"
    )]
    Remote {
        /// The bound address.
        addr: String,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}
