//! `--set node.param=value`: how a team template is parameterised from the command line.

use serde_json::Value;

use super::{NodeEntry, WorkflowFile};
use crate::diagnostics::Diagnostic;
use crate::params::ParamKind;
use crate::registry::{Registry, nearest};

/// One parsed `node.param=value` override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// The node id.
    pub node: String,
    /// The param name.
    pub param: String,
    /// The value as typed.
    pub raw: String,
}

/// Parses `node.param=value`.
pub fn parse_override(text: &str) -> Result<Override, Diagnostic> {
    let bad = || {
        Diagnostic::file("bad-override", format!("--set {text:?} is not of the form node.param=value"))
            .help("for example --set noise.seed=42")
    };
    let (target, raw) = text.split_once('=').ok_or_else(bad)?;
    let (node, param) = target.split_once('.').ok_or_else(bad)?;
    if node.is_empty() || param.is_empty() {
        return Err(bad());
    }
    Ok(Override { node: node.to_string(), param: param.to_string(), raw: raw.to_string() })
}

/// Sets the override's param in the file, typed by the node's declared param kind.
/// Range and type checks happen in validation, like any param in the file.
pub fn apply_override(file: &mut WorkflowFile, o: &Override, registry: &Registry) -> Result<(), Diagnostic> {
    let Some(entry) = file.nodes.get_mut(&o.node) else {
        let hint = nearest(&o.node, file.nodes.keys().map(String::as_str)).map(|n| format!("did you mean {n:?}?"));
        return Err(Diagnostic::node(
            "unknown-node",
            &o.node,
            format!("--set names node {:?}, which the workflow lacks", o.node),
        )
        .field(format!("params.{}", o.param))
        .maybe_help(hint));
    };
    set_param(entry, o, registry);
    Ok(())
}

/// Sets the override's param in one node's entry, typed as [`apply_override`] types it.
pub(crate) fn set_param(entry: &mut NodeEntry, o: &Override, registry: &Registry) {
    let kind = registry.get(&entry.type_name).and_then(|n| n.spec().param_spec(&o.param)).map(|p| &p.kind);
    entry.params.insert(o.param.clone(), typed_value(&o.raw, kind));
}

/// Text params take the raw text as is; other kinds parse it as JSON, falling back to text
/// so validation can report the mismatch against the param's kind.
fn typed_value(raw: &str, kind: Option<&ParamKind>) -> Value {
    let is_text = matches!(kind, Some(ParamKind::Text { .. } | ParamKind::Choice { .. } | ParamKind::Path { .. }));
    if is_text {
        return Value::String(raw.to_string());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}
