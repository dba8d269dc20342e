//! Switchyard's integration tests: one binary, a module per area.

mod cli;
mod cloud;
mod comfy;
mod credits;
mod executor;
mod farm;
mod farm_billed;
mod image_nodes;
mod inputs;
mod money;
mod onnx;
mod property;
mod run_fixtures;
mod serve;
mod spend;
mod streamed;
mod support;
mod validation;
