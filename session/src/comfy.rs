//! ComfyUI workflows for every front end: a file in either of ComfyUI's formats imported as
//! a Switchyard workflow, and a workflow exported in ComfyUI's API format, through the
//! shipped mapping (`switchyard-comfy`).

use switchyard_engine::Registry;
use switchyard_engine::format::WorkflowFile;

pub use switchyard_comfy::{ApiNode, ApiPrompt, ImportError, Imported, Mapping, Problem, Unmapped, node_id};

/// The largest ComfyUI file read, in bytes.
pub const FILE_MAX_BYTES: usize = 64 << 20;

/// The shipped mapping (it is data compiled in; a broken one fails its own test).
pub fn mapping() -> Result<Mapping, ImportError> {
    Mapping::builtin().map_err(ImportError::Format)
}

/// Imports ComfyUI JSON text (API format) named `name`.
pub fn import_text(text: &str, name: &str, registry: &Registry) -> Result<Imported, ImportError> {
    if text.len() > FILE_MAX_BYTES {
        return Err(ImportError::Format(format!("the file is over {FILE_MAX_BYTES} bytes")));
    }
    let prompt = switchyard_comfy::parse_api(text).map_err(ImportError::Format)?;
    import_prompt(&prompt, name, registry)
}

/// Imports an API-format prompt.
pub fn import_prompt(prompt: &ApiPrompt, name: &str, registry: &Registry) -> Result<Imported, ImportError> {
    switchyard_comfy::import_api(prompt, &mapping()?, registry, name)
}

/// `workflow` in ComfyUI's API format.
pub fn export(workflow: &WorkflowFile, registry: &Registry) -> Result<ApiPrompt, String> {
    let mapping = mapping().map_err(|e| e.to_string())?;
    switchyard_comfy::export_api(workflow, &mapping, registry)
}
