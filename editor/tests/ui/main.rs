//! The editor driven as a user drives it: by label, by keyboard and by dragging wires, in a
//! headless egui_kittest harness over the real backend (validation, quotes, runs). One test
//! binary, so the GUI stack links once.

mod daily;
mod editing;
mod files;
mod groups;
mod library;
mod reroute;
mod running;
mod server;
mod snapshots;
mod support;
