//! API keys: held apart from every value that is logged, printed or saved.

use std::sync::Arc;

/// A provider API key. Its `Debug` and `Display` never show it; [`ApiKey::redact`] scrubs it
/// from text (such as an error body that echoes it) before the text goes anywhere.
#[derive(Clone)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the one place it goes: the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced: in any letter case, percent-encoded
    /// (either hex case) or form-encoded, and each half of an `ACCESS:SECRET` pair.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for form in self.forms() {
            out = replace_ignoring_case(&out, &form, "[redacted]");
        }
        out
    }

    /// The spellings of the key to scrub, longest first (so a longer form is never left
    /// half-replaced by a shorter one).
    fn forms(&self) -> Vec<String> {
        let mut pieces: Vec<&str> = vec![&self.0];
        if let Some((access, secret)) = self.0.split_once(':') {
            pieces.extend([access, secret]);
        }
        let mut forms: Vec<String> = Vec::new();
        for piece in pieces.into_iter().filter(|p| p.len() >= REDACT_MIN_CHARS) {
            let encoded = percent_encode(piece);
            let form = encoded.replace("%20", "+");
            forms.extend([piece.to_string(), encoded, form]);
        }
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        forms
    }
}

/// Shorter keys (test stubs) are not scrubbed: they would blank out ordinary words.
const REDACT_MIN_CHARS: usize = 4;

/// Every byte outside the URL-unreserved set as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` with every ASCII-case-insensitive occurrence of `needle` replaced. Lowercasing
/// ASCII keeps byte offsets, so matches found in the lowercase copy index the original.
fn replace_ignoring_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_string();
    }
    let (hay, pin) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in hay.match_indices(&pin) {
        if at < last {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + pin.len();
    }
    out.push_str(&text[last..]);
    out
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 13): a key echoed in another letter case or URL-encoded got past
    /// redaction.
    #[test]
    fn redaction_catches_case_variants_and_encoded_forms() {
        let key = ApiKey::new("sk-Live/Ab+C d=9");
        let cases = [
            "sk-Live/Ab+C d=9",
            "SK-LIVE/AB+C D=9",
            "sk-live/ab+c d=9",
            "sk-Live%2FAb%2BC%20d%3D9",
            "sk-Live%2fAb%2bC%20d%3d9",
            "SK-LIVE%2FAB%2BC+D%3D9",
        ];
        for leaked in cases {
            let text = format!("bad key {leaked} given");
            assert_eq!(key.redact(&text), "bad key [redacted] given", "{leaked}");
        }
        let pair = ApiKey::new("ACCESSKEY123:SECRETKEY456");
        assert_eq!(pair.redact("iss=accesskey123 sig=SecretKey456"), "iss=[redacted] sig=[redacted]");
        assert_eq!(ApiKey::new("ab").redact("ab cab"), "ab cab", "a stub key is not scrubbed");
    }
}
