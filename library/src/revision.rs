//! Content addresses. A revision's hash is blake3 over the canonical file: JSON with every
//! object's keys sorted and no whitespace, so key order and formatting never make two
//! revisions of one content. The content hash leaves out the layout (`ui`): a revision whose
//! content hash equals its parent's changed only the layout.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_engine::format::WorkflowFile;

/// A revision's content address: 64 hex digits of blake3.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RevisionHash(String);

impl RevisionHash {
    /// Checks a hash written by a client: 64 lowercase hex digits (a prefix of at least 8
    /// is accepted where a user names one, see [`RevisionHash::matches`]).
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        match ok {
            true => Ok(Self(text.to_string())),
            false => Err(format!("{text:?} is not a revision hash (64 lowercase hex digits)")),
        }
    }

    /// The hash as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 digits, as logs and the CLI show a revision.
    pub fn short(&self) -> &str {
        &self.0[..12.min(self.0.len())]
    }

    /// Whether `prefix` (at least 8 hex digits) names this hash.
    pub fn matches(&self, prefix: &str) -> bool {
        prefix.len() >= 8 && self.0.starts_with(prefix)
    }
}

impl fmt::Display for RevisionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The canonical JSON text of a value: keys sorted at every level, no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn hash_of(value: &Value) -> RevisionHash {
    RevisionHash(blake3::hash(canonical_json(value).as_bytes()).to_hex().to_string())
}

fn value_of(file: &WorkflowFile) -> Value {
    serde_json::to_value(file).unwrap_or(Value::Null)
}

/// The revision hash of `file`: its whole canonical form, layout included.
pub fn revision_hash(file: &WorkflowFile) -> RevisionHash {
    hash_of(&value_of(file))
}

/// The hash of `file` without its layout: equal for two files that differ only in `ui`.
pub fn content_hash(file: &WorkflowFile) -> RevisionHash {
    let mut v = value_of(file);
    if let Value::Object(map) = &mut v {
        map.remove("ui");
    }
    hash_of(&v)
}
