//! Switchyard's engine: the workflow format, validation, the graph model, the executor,
//! events and the cache. It is the API boundary: it never imports a UI, HTTP or inference crate.
//!
//! ```
//! use switchyard_engine::{load_workflow, CompileOptions, Registry};
//!
//! let text = r#"{ "format": "switchyard.workflow", "version": 1, "nodes": {
//!     "a": { "type": "no.such.node" } } }"#;
//! let errors = load_workflow(text, &Registry::new(), &[], &CompileOptions::default()).err().unwrap();
//! assert_eq!(errors.0[0].code, "unknown-node-type");
//! ```
#![deny(missing_docs)]

pub mod batch;
pub mod cache;
pub mod capability;
mod compile;
mod context;
mod diagnostics;
mod events;
mod exec;
pub mod format;
mod graph;
mod ids;
pub mod metering;
mod modes;
mod node;
mod params;
mod paths;
mod registry;
mod types;
mod value;

pub use compile::{CompileOptions, compile, compile_streamed, compile_text, load_workflow};
pub use context::{CallJournal, JournalFuture, NodeContext, ParamList, panic_message, run_blocking};
pub use diagnostics::{Diagnostic, Diagnostics};
pub use events::{Event, EventKind, EventSink, Picture, Previewer};
pub use exec::{Executor, ExecutorConfig, NodeDetail, NodeReport, NodeStatus, RunOptions, RunReport, RunStatus};
pub use graph::{Graph, GraphNode, InputBinding, ParamBinding, Pruned, Source};
pub use ids::NodeId;
pub use metering::CallRecord;
pub use node::{
    CLOUD_PREFIX, InputSpec, Node, NodeError, NodeFuture, NodeSpec, OutputSpec, Outputs, ParamProblem, Record,
    ResourceClass,
};
pub use node::{PROVIDER_PARAM, cloud_capability};
pub use params::{ParamKind, ParamSpec, ParamValue, PathRole, json_kind};
pub use paths::{InputRoots, PathError, PathRoots, Provenance, check_output_path, open_input_file, read_input_text};
pub use registry::{DuplicateNodeType, Registry, nearest};
pub use types::PortType;
pub use value::{Audio, Image, Mask, PixelStore, Value, ValueError, VideoFrames};
