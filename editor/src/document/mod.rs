//! The workflow as the canvas holds it: nodes exactly as the file has them, the one
//! conversion between the file and the canvas, and undo history. No drawing, no background
//! work.

pub mod clipboard;
pub mod convert;
pub mod groups;
pub mod history;
pub mod layout;
pub mod model;
pub mod reroute;
