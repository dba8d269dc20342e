//! ComfyUI workflows for every front end: a file in either of ComfyUI's formats imported as
//! a Switchyard workflow, and a workflow exported in ComfyUI's API format, through the
//! shipped mapping (`switchyard-comfy`).

use switchyard_engine::Registry;
use switchyard_engine::format::WorkflowFile;

pub use switchyard_comfy::{
    ApiNode, ApiPrompt, ImportError, Imported, Mapping, ObjectInfo, Problem, Unmapped, api_of, node_id, ui_of,
};

/// The largest ComfyUI file read, in bytes.
pub const FILE_MAX_BYTES: usize = 64 << 20;

/// The shipped mapping, read once (it is data compiled in; a broken one fails its own test).
pub fn mapping() -> Result<&'static Mapping, ImportError> {
    static MAPPING: std::sync::OnceLock<Result<Mapping, String>> = std::sync::OnceLock::new();
    MAPPING.get_or_init(Mapping::builtin).as_ref().map_err(|e| ImportError::Format(e.clone()))
}

/// Imports ComfyUI JSON text named `name`, in the API format or the UI format (which is
/// flattened first: subgraphs expanded, reroutes followed, notes kept in the layout).
pub fn import_text(text: &str, name: &str, registry: &Registry) -> Result<Imported, ImportError> {
    if text.len() > FILE_MAX_BYTES {
        return Err(ImportError::Format(format!("the file is over {FILE_MAX_BYTES} bytes")));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ImportError::Format(format!("not JSON: {e}")))?;
    if !switchyard_comfy::is_ui(&value) {
        let prompt = switchyard_comfy::api_of(value).map_err(ImportError::Format)?;
        return import_prompt(&prompt, name, registry);
    }
    let mapping = mapping()?;
    let flat = switchyard_comfy::flatten(value, mapping).map_err(ImportError::Format)?;
    let mut imported = switchyard_comfy::import_api(&flat.prompt, mapping, registry, name)?;
    if !flat.notes.is_empty() {
        let notes = serde_json::to_value(&flat.notes).unwrap_or_default();
        imported.workflow.ui.get_or_insert_with(Default::default).insert("comfy_notes".into(), notes);
    }
    Ok(imported)
}

/// Imports an API-format prompt.
pub fn import_prompt(prompt: &ApiPrompt, name: &str, registry: &Registry) -> Result<Imported, ImportError> {
    switchyard_comfy::import_api(prompt, mapping()?, registry, name)
}

/// `workflow` in ComfyUI's API format.
pub fn export(workflow: &WorkflowFile, registry: &Registry) -> Result<ApiPrompt, String> {
    let mapping = mapping().map_err(|e| e.to_string())?;
    switchyard_comfy::export_api(workflow, mapping, registry)
}

/// Node type `class` as ComfyUI's `/object_info/{class}` describes it, if `registry` has it.
pub fn object_info_of(registry: &Registry, class: &str) -> Option<ObjectInfo> {
    registry.get(class).map(|n| switchyard_comfy::object_info(n.spec()))
}

/// Every node type `registry` runs, as ComfyUI's `/object_info` describes nodes, by type.
pub fn object_info(registry: &Registry) -> indexmap::IndexMap<String, ObjectInfo> {
    let mut specs: Vec<_> = registry.specs().collect();
    specs.sort_by_key(|s| s.type_name);
    specs.into_iter().map(|s| (s.type_name.to_string(), switchyard_comfy::object_info(s))).collect()
}
