//! The window around the canvas: the editor's state, its frame, menus, shortcuts, the status
//! bar, dialogs and files, and the eframe app. The state depends on none of the panels; the
//! frame draws them all.

pub mod editor;
pub mod file_actions;
pub mod files;
mod frame;
mod groups;
pub mod library;
mod menus;
pub mod quick_add;
mod shortcuts;
pub mod status;
pub mod use_template;
pub mod window;
mod windows;
