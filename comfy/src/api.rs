//! ComfyUI's API format: `{"3": {"class_type": "ImageBlur", "inputs": {"sigma": 2.0,
//! "image": ["4", 0]}}}`, where a link is `[node_id, output_index]`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A prompt in the API format: nodes by id, in the file's order.
pub type ApiPrompt = IndexMap<String, ApiNode>;

/// One node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiNode {
    /// Its ComfyUI node type (or a Switchyard node type, which is taken as it is).
    pub class_type: String,
    /// Widget values and links, by input name.
    #[serde(default)]
    pub inputs: IndexMap<String, Value>,
    /// The title and other editor details.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// A link, `[node_id, output_index]`, as ComfyUI reads one (the id a string or a number).
pub fn link_of(v: &Value) -> Option<(String, usize)> {
    let [id, index] = v.as_array()?.as_slice() else { return None };
    let id = match id {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return None,
    };
    Some((id, usize::try_from(index.as_u64()?).ok()?))
}

/// Reads an API-format prompt; also takes `{"prompt": {...}}` as `/prompt` bodies hold it.
pub fn parse_api(text: &str) -> Result<ApiPrompt, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    api_of(value)
}

/// An API-format prompt from parsed JSON.
pub fn api_of(value: Value) -> Result<ApiPrompt, String> {
    let value = match value {
        Value::Object(mut m) if m.get("prompt").is_some_and(Value::is_object) && !m.contains_key("class_type") => {
            m.remove("prompt").unwrap_or_default()
        }
        v => v,
    };
    serde_json::from_value(value).map_err(|e| {
        format!("not a ComfyUI API-format prompt ({e}); each node is {{\"class_type\": …, \"inputs\": {{…}}}}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_an_id_and_an_output_index() {
        let cases = [
            (serde_json::json!(["4", 0]), Some(("4".to_string(), 0))),
            (serde_json::json!([4, 1]), Some(("4".to_string(), 1))),
            (serde_json::json!(["4", -1]), None),
            (serde_json::json!(["4"]), None),
            (serde_json::json!([1.5, 0]), None),
            (serde_json::json!("4"), None),
        ];
        for (v, want) in cases {
            assert_eq!(link_of(&v), want, "{v}");
        }
    }
}
