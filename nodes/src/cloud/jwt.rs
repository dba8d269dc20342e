//! Kling's per-request HS256 JWT: header `{alg:HS256,typ:JWT}`, payload
//! `{iss: access_key, exp: now+1800, nbf: now-5}`, signed with the secret key.
//! Written over `hmac` and `sha2`: a JWT crate would pull RSA and elliptic-curve code (or a
//! C crypto build) into every build for this one HMAC.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a token stays valid.
const LIFETIME_S: u64 = 1800;

/// A token for `ACCESS_KEY:SECRET_KEY` at `now`, or `None` when the key is not such a pair.
pub fn kling_token(key: &str, now: SystemTime) -> Option<String> {
    let (access, secret) = key.split_once(':').filter(|(a, s)| !a.is_empty() && !s.is_empty())?;
    let now_s = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({ "iss": access, "exp": now_s + LIFETIME_S, "nbf": now_s.saturating_sub(5) });
    Some(sign_hs256(r#"{"alg":"HS256","typ":"JWT"}"#, &claims.to_string(), secret.as_bytes()))
}

/// `header.payload.signature`, each part base64url without padding.
pub fn sign_hs256(header_json: &str, payload_json: &str, secret: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing_input = format!("{}.{}", b64.encode(header_json), b64.encode(payload_json));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_7519_style_reference_token() {
        // The widely published HS256 example token.
        let token = sign_hs256(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#,
            b"your-256-bit-secret",
        );
        assert!(token.ends_with(".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"), "{token}");
    }

    #[test]
    fn kling_tokens_carry_issuer_and_window() {
        let at = UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let token = kling_token("ak:sk", at).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims, serde_json::json!({ "iss": "ak", "exp": 1_001_800, "nbf": 999_995 }));
        assert!(kling_token("no-colon", at).is_none());
    }
}
