//! Compact JWTs (https://datatracker.ietf.org/doc/html/rfc7519#section-3): the one place
//! licensectl writes one (the certificate client assertion) and reads one (the tenant of an
//! access token). Signing and verification are the caller's; this module only encodes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// `base64url(header).base64url(claims).base64url(signature)`, where `sign` signs the
/// first two parts joined by a dot.
pub(crate) fn encode<E>(
    header: &Value,
    claims: &Value,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<String, E> {
    let mut token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

/// The claims (second part) of `token`, unverified; `None` when it is not base64url JSON.
pub(crate) fn claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_three_base64url_parts_and_reads_the_claims_back() {
        let header = serde_json::json!({"alg": "none"});
        let claims_in = serde_json::json!({"tid": "t", "n": 1});
        let mut signed = Vec::new();
        let token = encode(&header, &claims_in, |input| {
            signed = input.to_vec();
            Ok::<_, ()>(vec![0xfb, 0xff])
        })
        .expect("encodes");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(signed, format!("{}.{}", parts[0], parts[1]).into_bytes());
        assert_eq!(parts[2], "-_8", "base64url without padding");
        assert_eq!(claims(&token), Some(claims_in));
        assert_eq!(
            encode(&header, &header, |_| Err::<Vec<u8>, _>("no key")),
            Err("no key")
        );
    }
}
