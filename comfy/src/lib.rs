//! ComfyUI workflows in and out. ComfyUI's API format (`api.rs`) and UI format (`ui.rs`)
//! translate into Switchyard workflows through a mapping kept as data (`mapping.toml`,
//! read by `mapping.rs`; `import.rs`), and Switchyard workflows go back out in the API
//! format (`export.rs`). Depends on the engine only (for the workflow format and node specs).

pub mod api;
pub mod export;
pub mod import;
pub mod mapping;
pub mod object_info;
pub mod ui;
pub mod ui_export;

pub use api::{ApiNode, ApiPrompt, api_of, link_of, parse_api};
pub use export::export_api;
pub use import::{ImportError, Imported, Problem, Unmapped, import_api, node_id};
pub use mapping::Mapping;
pub use object_info::{ObjectInfo, object_info};
pub use ui::{Flattened, flatten, is_ui};
pub use ui_export::ui_of;
