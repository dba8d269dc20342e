//! Node parameters: their declared kinds, typed values, and checks.

use std::sync::Arc;

use serde::Serialize;

use crate::types::PortType;

/// Whether a path param names a file to read or a file to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathRole {
    /// Read; resolved against the workflow file's folder.
    Input,
    /// Written; resolved against `--out` and never allowed to escape it.
    Output,
}

/// What a param holds, with its limits.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// An integer within `min..=max`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A random seed: an integer the editor can randomise.
    Seed,
    /// A finite float within `min..=max`.
    Float {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A boolean.
    Bool,
    /// Text of at most `max_len` bytes.
    Text {
        /// Whether the editor shows a multi-line box (prompts).
        multiline: bool,
        /// Longest allowed text in bytes.
        max_len: usize,
    },
    /// One of a fixed set of names.
    Choice {
        /// The allowed names.
        options: &'static [&'static str],
    },
    /// A file path.
    Path {
        /// Read or written.
        role: PathRole,
    },
}

impl ParamKind {
    /// The largest seed accepted: 2^53, so seeds survive a round trip through JSON doubles.
    pub const SEED_MAX: i64 = 1 << 53;

    /// The port type a wire must carry to drive this param from an upstream node.
    pub fn port_type(&self) -> PortType {
        match self {
            ParamKind::Int { .. } | ParamKind::Seed => PortType::Int,
            ParamKind::Float { .. } => PortType::Float,
            ParamKind::Bool => PortType::Bool,
            ParamKind::Text { .. } | ParamKind::Choice { .. } | ParamKind::Path { .. } => PortType::Text,
        }
    }

    /// A short description of what is accepted, for error messages.
    pub fn describe(&self) -> String {
        match self {
            ParamKind::Int { min, max } => format!("an integer from {min} to {max}"),
            ParamKind::Seed => format!("an integer seed from 0 to {}", Self::SEED_MAX),
            ParamKind::Float { min, max } => format!("a number from {min} to {max}"),
            ParamKind::Bool => "true or false".to_string(),
            ParamKind::Text { max_len, .. } => format!("text of at most {max_len} bytes"),
            ParamKind::Choice { options } => format!("one of {}", quote_list(options)),
            ParamKind::Path { .. } => "a file path".to_string(),
        }
    }

    /// Converts a JSON value into a checked param value.
    pub fn from_json(&self, json: &serde_json::Value) -> Result<ParamValue, String> {
        let wrong = || format!("expected {}, got {}", self.describe(), json_kind(json));
        match self {
            ParamKind::Int { .. } | ParamKind::Seed => {
                let v = json.as_i64().ok_or_else(wrong)?;
                self.check(ParamValue::Int(v))
            }
            ParamKind::Float { .. } => {
                let v = json.as_f64().ok_or_else(wrong)?;
                self.check(ParamValue::Float(v))
            }
            ParamKind::Bool => json.as_bool().map(ParamValue::Bool).ok_or_else(wrong),
            ParamKind::Text { .. } | ParamKind::Choice { .. } | ParamKind::Path { .. } => {
                let s = json.as_str().ok_or_else(wrong)?;
                self.check(ParamValue::Text(Arc::from(s)))
            }
        }
    }

    /// Checks a value's type and range against this kind.
    pub fn check(&self, value: ParamValue) -> Result<ParamValue, String> {
        let out_of_range = |shown: String| format!("{shown} is out of range: expected {}", self.describe());
        match (self, &value) {
            (ParamKind::Int { min, max }, ParamValue::Int(v)) if v < min || v > max => Err(out_of_range(v.to_string())),
            (ParamKind::Seed, ParamValue::Int(v)) if *v < 0 || *v > Self::SEED_MAX => Err(out_of_range(v.to_string())),
            (ParamKind::Int { .. } | ParamKind::Seed, ParamValue::Int(_)) => Ok(value),
            (ParamKind::Float { min, max }, ParamValue::Float(v)) => {
                if !v.is_finite() || v < min || v > max {
                    Err(out_of_range(v.to_string()))
                } else {
                    Ok(value)
                }
            }
            (ParamKind::Float { .. }, ParamValue::Int(v)) => self.check(ParamValue::Float(*v as f64)),
            (ParamKind::Bool, ParamValue::Bool(_)) => Ok(value),
            (ParamKind::Text { max_len, .. }, ParamValue::Text(s)) if s.len() > *max_len => {
                Err(format!("text is {} bytes long: expected {}", s.len(), self.describe()))
            }
            (ParamKind::Choice { options }, ParamValue::Text(s)) => {
                if options.contains(&&**s) {
                    Ok(value)
                } else {
                    Err(format!("{s:?} is not {}", self.describe()))
                }
            }
            (ParamKind::Path { .. }, ParamValue::Text(s)) if s.is_empty() => Err("the path is empty".to_string()),
            (ParamKind::Text { .. } | ParamKind::Path { .. }, ParamValue::Text(_)) => Ok(value),
            _ => Err(format!("expected {}, got {}", self.describe(), value.kind_name())),
        }
    }
}

/// A declared param of a node type.
#[derive(Clone, Debug, Serialize)]
pub struct ParamSpec {
    /// The name used in the file's `params`.
    pub name: &'static str,
    /// What it holds.
    #[serde(flatten)]
    pub kind: ParamKind,
    /// The value used when the file gives none; `None` makes the param required.
    pub default: Option<ParamValue>,
    /// One line for the editor and `switchyard nodes`.
    pub description: &'static str,
}

impl ParamSpec {
    /// A param with a default value.
    pub fn new(name: &'static str, kind: ParamKind, default: ParamValue, description: &'static str) -> Self {
        Self { name, kind, default: Some(default), description }
    }

    /// A param the file must set.
    pub fn required(name: &'static str, kind: ParamKind, description: &'static str) -> Self {
        Self { name, kind, default: None, description }
    }
}

/// A checked param value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// An integer (also seeds).
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text (also choices and paths).
    Text(Arc<str>),
}

impl ParamValue {
    /// The kind of value, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ParamValue::Int(_) => "an integer",
            ParamValue::Float(_) => "a number",
            ParamValue::Bool(_) => "a boolean",
            ParamValue::Text(_) => "text",
        }
    }

    /// Feeds the value into a cache-key hasher, tagged so `1` and `1.0` differ.
    pub fn hash_into(&self, h: &mut blake3::Hasher) {
        match self {
            ParamValue::Int(v) => h.update(b"i").update(&v.to_le_bytes()),
            ParamValue::Float(v) => h.update(b"f").update(&v.to_le_bytes()),
            ParamValue::Bool(v) => h.update(b"b").update(&[u8::from(*v)]),
            ParamValue::Text(s) => h.update(b"t").update(&(s.len() as u64).to_le_bytes()).update(s.as_bytes()),
        };
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Int(v) => (*v).into(),
            ParamValue::Float(v) => serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, Into::into),
            ParamValue::Bool(v) => (*v).into(),
            ParamValue::Text(s) => serde_json::Value::String(s.to_string()),
        }
    }
}

/// Names a JSON value's kind for messages.
pub fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "text",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

fn quote_list(items: &[&str]) -> String {
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}
