//! The one written form of a workflow file: stable and diff-friendly. The header fields one
//! per line, then one line per node and one per node position, in the file's order, each
//! a compact object (`{ "type": "image.blur", "params": { "sigma": 3.0 } }`). Changing one
//! node changes one line; saving an unchanged file changes nothing.

use serde_json::Value;

use super::WorkflowFile;

/// The file as text in its canonical form, ending in a newline.
pub fn to_canonical_text(file: &WorkflowFile) -> String {
    let mut out = String::from("{\n");
    let mut fields: Vec<String> = vec![
        format!("  \"format\": {}", inline(&Value::from(file.format.as_str()))),
        format!("  \"version\": {}", file.version),
    ];
    if !file.name.is_empty() {
        fields.push(format!("  \"name\": {}", inline(&Value::from(file.name.as_str()))));
    }
    if !file.description.is_empty() {
        fields.push(format!("  \"description\": {}", inline(&Value::from(file.description.as_str()))));
    }
    let nodes = file.nodes.iter().map(|(id, n)| (id.as_str(), serde_json::to_value(n).unwrap_or_default()));
    fields.push(format!("  \"nodes\": {}", block(nodes, "  ")));
    if let Some(run) = file.run.as_ref().filter(|r| !r.is_empty()) {
        fields.push(format!("  \"run\": {}", inline(&serde_json::to_value(run).unwrap_or_default())));
    }
    if let Some(ui) = &file.ui {
        let parts = ui.iter().map(|(k, v)| match (k.as_str(), v) {
            ("nodes", Value::Object(nodes)) => {
                format!("    \"nodes\": {}", block(nodes.iter().map(|(k, v)| (k.as_str(), v.clone())), "    "))
            }
            _ => format!("    {}: {}", inline(&Value::from(k.as_str())), inline(v)),
        });
        let parts: Vec<String> = parts.collect();
        fields.push(if parts.is_empty() {
            "  \"ui\": {}".into()
        } else {
            format!("  \"ui\": {{\n{}\n  }}", parts.join(",\n"))
        });
    }
    out.push_str(&fields.join(",\n"));
    out.push_str("\n}\n");
    out
}

/// An object with one entry per line, each value inline, indented under `indent`.
fn block<'a>(entries: impl Iterator<Item = (&'a str, Value)>, indent: &str) -> String {
    let lines: Vec<String> =
        entries.map(|(k, v)| format!("{indent}  {}: {}", inline(&Value::from(k)), inline(&v))).collect();
    if lines.is_empty() { "{}".into() } else { format!("{{\n{}\n{indent}}}", lines.join(",\n")) }
}

/// A value on one line, with a space after each colon and comma and inside braces.
fn inline(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => {
            let items: Vec<String> =
                m.iter().map(|(k, v)| format!("{}: {}", inline(&Value::from(k.as_str())), inline(v))).collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(inline).collect::<Vec<_>>().join(", ")),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse_workflow;

    const TEXT: &str = r#"{"format":"switchyard.workflow","version":1,"name":"n","nodes":{"a":{"type":"image.noise","params":{"width":64,"seed":7}},"b":{"type":"image.blur","params":{"sigma":3.0},"inputs":{"image":"a.image"},"mode":"bypass"}},"run":{"policy":"greenest"},"ui":{"nodes":{"a":{"pos":[0,0]},"b":{"pos":[340,0]}},"theme":"dark"}}"#;

    #[test]
    fn the_canonical_form_is_one_line_per_node_and_reads_back_the_same() {
        let file = parse_workflow(TEXT).file.unwrap();
        let text = to_canonical_text(&file);
        let want = r#"{
  "format": "switchyard.workflow",
  "version": 1,
  "name": "n",
  "nodes": {
    "a": { "type": "image.noise", "params": { "width": 64, "seed": 7 } },
    "b": { "type": "image.blur", "params": { "sigma": 3.0 }, "inputs": { "image": "a.image" }, "mode": "bypass" }
  },
  "run": { "policy": "greenest" },
  "ui": {
    "nodes": {
      "a": { "pos": [0, 0] },
      "b": { "pos": [340, 0] }
    },
    "theme": "dark"
  }
}
"#;
        assert_eq!(text, want);
        let again = parse_workflow(&text).file.unwrap();
        assert_eq!(again, file, "reads back to the same file");
        assert_eq!(to_canonical_text(&again), text, "stable: a second save changes nothing");
    }
}
