//! Certificate credentials: a client-assertion JWT signed with the app's certificate key.
//!
//! azure_identity's `ClientCertificateCredential` needs OpenSSL, so licensectl signs the
//! assertion itself (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials): header `alg` PS256, `typ` JWT,
//! `x5t#S256` (SHA-256 of the certificate's DER, base64url); claims `aud` (the token
//! endpoint), `iss` = `sub` = client id, `jti`, `nbf`, `iat`, `exp` (10 minutes). The
//! certificate is a PEM file holding the certificate and its private key (PKCS#8 or PKCS#1
//! RSA), or a PKCS#12 (`.pfx`/`.p12`) file with an optional password. Signing uses
//! aws-lc-rs (already rustls' crypto provider); parsing is pure Rust. The assertion is then
//! sent through azure_identity's `ClientAssertionCredential`, which caches the token.
//!
//! Key material is never printed: `Debug` shows the thumbprint only.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PSS_SHA256, RsaKeyPair};
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// How long a signed assertion is valid.
const ASSERTION_LIFETIME_SECS: u64 = 600;

/// Errors loading a certificate. A cause from below (the file system, the PEM, PKCS#12 or
/// key parser) is the `source`, printed once by an error chain after the message.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The file cannot be read.
    #[error("cannot read certificate file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid PEM.
    #[error("certificate file {path} is not a valid PEM file")]
    Pem {
        /// The file.
        path: PathBuf,
        /// The PEM error.
        source: rustls_pki_types::pem::Error,
    },
    /// The file holds no certificate.
    #[error(
        "certificate file {path} holds no certificate; give a PEM file with a CERTIFICATE and a PRIVATE KEY block, or a PKCS#12 (.pfx/.p12) file"
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The file holds no private key, or one that is not RSA.
    #[error(
        "certificate file {path} holds no usable RSA private key: {reason}; put the key (PKCS#8 'PRIVATE KEY' or PKCS#1 'RSA PRIVATE KEY') in the same PEM file"
    )]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What is missing.
        reason: &'static str,
    },
    /// The private key cannot be used as an RSA key (another algorithm, a bad encoding).
    #[error("certificate file {path} holds no usable RSA private key")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// aws-lc-rs's reason.
        source: aws_lc_rs::error::KeyRejected,
    },
    /// PKCS#12 parsing failed (often a wrong password).
    #[error("cannot open PKCS#12 file {path}; check AZURE_CLIENT_CERTIFICATE_PASSWORD")]
    Pkcs12 {
        /// The file.
        path: PathBuf,
        /// The PKCS#12 error.
        source: p12_keystore::error::Error,
    },
    /// The PKCS#12 file lacks its key or certificate.
    #[error("PKCS#12 file {path} has no {missing}")]
    Pkcs12Entry {
        /// The file.
        path: PathBuf,
        /// What is missing.
        missing: &'static str,
    },
}

/// A certificate with its private key, ready to sign assertions.
pub(crate) struct CertificateAssertion {
    key: RsaKeyPair,
    x5t_s256: String,
    client_id: String,
    audience: String,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("x5t#S256", &self.x5t_s256)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl CertificateAssertion {
    /// Loads `path` (PEM, or PKCS#12 when it ends in `.pfx`/`.p12`) for `client_id`,
    /// signing for the token endpoint `audience`.
    pub(crate) fn load(
        path: &Path,
        password: Option<&str>,
        client_id: &str,
        audience: &str,
    ) -> Result<Self, CertificateError> {
        let bytes = std::fs::read(path).map_err(|source| CertificateError::Read {
            path: path.to_owned(),
            source,
        })?;
        let is_pkcs12 = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"));
        let (cert_der, key) = if is_pkcs12 {
            load_pkcs12(path, &bytes, password.unwrap_or(""))?
        } else {
            load_pem(path, &bytes)?
        };
        Ok(Self {
            key,
            x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&cert_der)),
            client_id: client_id.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// The `x5t#S256` thumbprint.
    #[cfg(test)]
    fn thumbprint(&self) -> &str {
        &self.x5t_s256
    }

    /// Signs a fresh assertion valid from `now` (seconds since the epoch).
    pub(crate) fn sign_at(&self, now: u64) -> Result<String, aws_lc_rs::error::Unspecified> {
        let header = serde_json::json!({
            "alg": "PS256",
            "typ": "JWT",
            "x5t#S256": self.x5t_s256,
        });
        let claims = serde_json::json!({
            "aud": self.audience,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        super::jwt::encode(&header, &claims, |signing_input| {
            let mut signature = vec![0u8; self.key.public_modulus_len()];
            self.key.sign(
                &RSA_PSS_SHA256,
                &SystemRandom::new(),
                signing_input,
                &mut signature,
            )?;
            Ok(signature)
        })
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.sign_at(now).map_err(|_| {
            azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "signing the certificate client assertion failed",
            )
        })
    }
}

fn load_pem(path: &Path, bytes: &[u8]) -> Result<(Vec<u8>, RsaKeyPair), CertificateError> {
    let pem_error = |source| match source {
        pem::Error::NoItemsFound => None,
        source => Some(CertificateError::Pem {
            path: path.to_owned(),
            source,
        }),
    };
    let cert = CertificateDer::from_pem_slice(bytes).map_err(|e| {
        pem_error(e).unwrap_or_else(|| CertificateError::NoCertificate {
            path: path.to_owned(),
        })
    })?;
    let key_der = PrivateKeyDer::from_pem_slice(bytes).map_err(|e| {
        pem_error(e).unwrap_or_else(|| CertificateError::NoKey {
            path: path.to_owned(),
            reason: "it has no PRIVATE KEY or RSA PRIVATE KEY block",
        })
    })?;
    let key = match &key_der {
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        _ => {
            return Err(CertificateError::NoKey {
                path: path.to_owned(),
                reason: "only RSA keys are supported",
            });
        }
    }
    .map_err(|source| CertificateError::BadKey {
        path: path.to_owned(),
        source,
    })?;
    Ok((cert.to_vec(), key))
}

fn load_pkcs12(
    path: &Path,
    bytes: &[u8],
    password: &str,
) -> Result<(Vec<u8>, RsaKeyPair), CertificateError> {
    let store = p12_keystore::KeyStore::from_pkcs12(
        bytes,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|source| CertificateError::Pkcs12 {
        path: path.to_owned(),
        source,
    })?;
    let missing = |missing| CertificateError::Pkcs12Entry {
        path: path.to_owned(),
        missing,
    };
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| missing("private key entry"))?;
    let cert = chain
        .certs()
        .first()
        .ok_or_else(|| missing("certificate in its private key entry"))?;
    let key = RsaKeyPair::from_pkcs8(chain.key().as_der()).map_err(|source| {
        CertificateError::BadKey {
            path: path.to_owned(),
            source,
        }
    })?;
    Ok((cert.as_der().to_vec(), key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{KeyPair, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/auth")
            .join(name)
    }

    fn decode_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
    }

    #[test]
    fn signs_verifiable_assertions_from_pem_and_pkcs12() {
        let cert_der = CertificateDer::from_pem_file(fixture("cert.pem")).expect("cert");
        let want_x5t = URL_SAFE_NO_PAD.encode(Sha256::digest(cert_der.as_ref()));
        let aud = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let cases = [
            ("app-cert.pem", None),
            ("app-cert-pkcs1.pem", None),
            ("app-cert.pfx", Some("test-password")),
        ];
        for (file, password) in cases {
            let a =
                CertificateAssertion::load(&fixture(file), password, "client-1", aud).expect(file);
            assert_eq!(a.thumbprint(), want_x5t, "{file}");
            let jwt = a.sign_at(1_700_000_000).expect("sign");
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = decode_part(parts[0]);
            assert_eq!(header["alg"], "PS256");
            assert_eq!(header["typ"], "JWT");
            assert_eq!(header["x5t#S256"], want_x5t.as_str());
            let claims = decode_part(parts[1]);
            assert_eq!(claims["aud"], aud);
            assert_eq!(claims["iss"], "client-1");
            assert_eq!(claims["sub"], "client-1");
            assert_eq!(claims["nbf"], 1_700_000_000u64);
            assert_eq!(claims["iat"], 1_700_000_000u64);
            assert_eq!(claims["exp"], 1_700_000_600u64);
            assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 36));
            let public = UnparsedPublicKey::new(
                &RSA_PSS_2048_8192_SHA256,
                a.key.public_key().as_ref().to_vec(),
            );
            let sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("sig");
            public
                .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
                .expect("signature verifies");
            let debug = format!("{a:?}");
            assert!(
                debug.contains("<redacted>") && !debug.contains("PRIVATE"),
                "{debug}"
            );
        }
    }

    #[test]
    fn load_errors_name_file_and_fix() {
        let aud = "a";
        let cases = [
            (fixture("missing.pem"), None, "cannot read certificate file"),
            (fixture("cert.pem"), None, "no usable RSA private key"),
            (fixture("public-key.pem"), None, "holds no certificate"),
            (
                fixture("app-cert.pfx"),
                Some("wrong"),
                "AZURE_CLIENT_CERTIFICATE_PASSWORD",
            ),
        ];
        for (path, pw, text) in cases {
            let err = CertificateAssertion::load(&path, pw, "c", aud).expect_err("fails");
            let msg = err.to_string();
            assert!(msg.contains(text), "{msg}");
            assert!(
                msg.contains(path.file_name().and_then(|f| f.to_str()).unwrap_or("")),
                "{msg}"
            );
        }
    }

    #[test]
    fn load_errors_keep_their_cause_as_the_source() {
        use std::error::Error as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = std::fs::read_to_string(fixture("cert.pem")).expect("cert");
        let block = |label: &str, der: &[u8]| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
        };
        let ec_pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &SystemRandom::new(),
        )
        .expect("ec key");
        let cases = [
            (
                "truncated.pem",
                "-----BEGIN CERTIFICATE-----\nAAAA\n".to_owned(),
                "is not a valid PEM file",
                Some("missing section end marker"),
            ),
            (
                "ec-pkcs8.pem",
                format!("{cert}{}", block("PRIVATE KEY", ec_pkcs8.as_ref())),
                "holds no usable RSA private key",
                Some("WrongAlgorithm"),
            ),
            (
                "ec-sec1.pem",
                format!("{cert}{}", block("EC PRIVATE KEY", b"\x30\x00")),
                "holds no usable RSA private key: only RSA keys are supported",
                None,
            ),
            (
                "garbage-pkcs1.pem",
                format!("{cert}{}", block("RSA PRIVATE KEY", b"\x30\x00")),
                "holds no usable RSA private key",
                Some("UnexpectedError"),
            ),
        ];
        for (name, text, message, source) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            let err = CertificateAssertion::load(&path, None, "c", "a").expect_err(name);
            let shown = err.to_string();
            assert!(
                shown.contains(message) && shown.contains(name),
                "{name}: {shown}"
            );
            let cause = err.source().map(ToString::to_string);
            match source {
                Some(want) => assert!(
                    cause.as_deref().is_some_and(|c| c.contains(want)),
                    "{name}: {cause:?}"
                ),
                None => assert_eq!(cause, None, "{name}"),
            }
            if let Some(cause) = &cause {
                assert!(
                    !shown.contains(cause.as_str()),
                    "{name}: cause printed twice"
                );
            }
        }
        let err = CertificateAssertion::load(&fixture("missing.pem"), None, "c", "a")
            .expect_err("missing");
        assert!(
            err.source()
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
    }
}
