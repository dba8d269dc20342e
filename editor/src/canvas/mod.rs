//! The drawing surface: the node-graph canvas (egui-snarl's viewer), its pins, param
//! widgets, badges, previews and the palette. It draws the document and what the last quote
//! and run said, and reports edits as actions.

pub mod badges;
pub mod groups;
pub mod look;
pub mod palette;
pub mod pins;
pub mod viewer;
mod widgets;
