//! The `Stripe-Signature` header: `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, where each `v1`
//! is the HMAC-SHA256 of `"{t}.{raw body}"` under the endpoint's secret. Any one `v1` under
//! any one of the endpoint's secrets (several during a rotation) verifies the body, within
//! a tolerance of the timestamp.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The default tolerance between the signature's timestamp and now, as Stripe's libraries.
pub const TOLERANCE_S: i64 = 300;

/// The longest header read; a real one is about 150 bytes per secret.
const HEADER_MAX: usize = 4096;

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("no Stripe-Signature header; the endpoint takes only signed Stripe events")]
    Missing,
    /// The header could not be read.
    #[error("the Stripe-Signature header is malformed: {0}; expected t=<unix seconds>,v1=<hex>")]
    Malformed(String),
    /// The timestamp is outside the tolerance.
    #[error(
        "the signature's timestamp is {age_s} s from now, beyond the {tolerance_s} s tolerance (a replay, or a clock off)"
    )]
    Stale {
        /// Seconds between the timestamp and now (negative: in the future).
        age_s: i64,
        /// The tolerance.
        tolerance_s: i64,
    },
    /// No signature matched under any secret.
    #[error("no v1 signature matches the body under the endpoint's secret; check the endpoint secret (whsec_…)")]
    Mismatch,
    /// The endpoint has no secret to check with.
    #[error("no webhook secret is configured; set --stripe-webhook-secret")]
    NoSecret,
}

/// Checks `header` against `body` under any of `secrets`, at `now_s` with `tolerance_s`.
/// Returns the signature's timestamp.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now_s: i64,
    tolerance_s: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let (t, signatures) = parse(header)?;
    let age_s = now_s.saturating_sub(t);
    if age_s.abs() > tolerance_s {
        return Err(SignatureError::Stale { age_s, tolerance_s });
    }
    for secret in secrets {
        for signature in &signatures {
            // verify_slice compares in constant time.
            if mac(secret, t, body).verify_slice(signature).is_ok() {
                return Ok(t);
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// The header a sender with `secret` writes for `body` at `t`: for tests and load tools.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let tag = mac(secret, t, body).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The timestamp and the `v1` signatures (other schemes, such as `v0`, are ignored).
fn parse(header: &str) -> Result<(i64, Vec<Vec<u8>>), SignatureError> {
    if header.len() > HEADER_MAX {
        return Err(SignatureError::Malformed(format!("longer than {HEADER_MAX} bytes")));
    }
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(SignatureError::Malformed(format!("{part:?} is not key=value")));
        };
        match key {
            "t" => {
                let seconds = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed(format!("t={value:?} is not a unix time in seconds")))?;
                t = Some(seconds);
            }
            "v1" => signatures
                .push(decode_hex(value).ok_or_else(|| SignatureError::Malformed(format!("v1={value:?} is not hex")))?),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| SignatureError::Malformed("no t= timestamp".into()))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1= signature".into()));
    }
    Ok((t, signatures))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.is_empty() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    const NOW: i64 = 1_796_000_000;

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_signature_verifies_only_its_body_under_its_secret_in_time() {
        let good = sign(SECRET, NOW, BODY);
        type Case<'a> = (&'a str, Option<String>, &'a [u8], Vec<String>, i64, Result<i64, SignatureError>);
        let cases: Vec<Case> = vec![
            ("signed now", Some(good.clone()), BODY, secrets(&[SECRET]), NOW, Ok(NOW)),
            ("within tolerance", Some(good.clone()), BODY, secrets(&[SECRET]), NOW + 300, Ok(NOW)),
            (
                "too old",
                Some(good.clone()),
                BODY,
                secrets(&[SECRET]),
                NOW + 301,
                Err(SignatureError::Stale { age_s: 301, tolerance_s: 300 }),
            ),
            (
                "from the future",
                Some(good.clone()),
                BODY,
                secrets(&[SECRET]),
                NOW - 301,
                Err(SignatureError::Stale { age_s: -301, tolerance_s: 300 }),
            ),
            ("another body", Some(good.clone()), b"{}", secrets(&[SECRET]), NOW, Err(SignatureError::Mismatch)),
            ("another secret", Some(good.clone()), BODY, secrets(&["whsec_other"]), NOW, Err(SignatureError::Mismatch)),
            ("rotation: either secret", Some(good.clone()), BODY, secrets(&["whsec_new", SECRET]), NOW, Ok(NOW)),
            ("no header", None, BODY, secrets(&[SECRET]), NOW, Err(SignatureError::Missing)),
            ("no secret", Some(good.clone()), BODY, vec![], NOW, Err(SignatureError::NoSecret)),
        ];
        for (name, header, body, secrets, now, expected) in cases {
            assert_eq!(verify(header.as_deref(), body, &secrets, now, TOLERANCE_S), expected, "{name}");
        }
    }

    #[test]
    fn any_v1_of_several_matches_and_other_schemes_are_ignored() {
        let good = sign(SECRET, NOW, BODY);
        let v1 = good.split_once(",v1=").map(|(_, v)| v.to_string()).unwrap_or_default();
        let header = format!("t={NOW},v0=abcd,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(Some(&header), BODY, &secrets(&[SECRET]), NOW, TOLERANCE_S), Ok(NOW));
    }

    #[test]
    fn malformed_headers_say_what_is_wrong() {
        let cases = [
            ("", "not key=value"),
            ("t=abc,v1=00", "not a unix time"),
            ("v1=00", "no t="),
            ("t=1", "no v1="),
            ("t=1,v1=zz", "not hex"),
            ("t=1,v1=0", "not hex"),
        ];
        for (header, says) in cases {
            let e = verify(Some(header), BODY, &secrets(&[SECRET]), 1, TOLERANCE_S).unwrap_err();
            assert!(matches!(&e, SignatureError::Malformed(m) if m.contains(says)), "{header:?}: {e}");
        }
        let long = format!("t=1,v1={}", "0".repeat(HEADER_MAX));
        assert!(matches!(verify(Some(&long), BODY, &secrets(&[SECRET]), 1, 300), Err(SignatureError::Malformed(_))));
    }
}
