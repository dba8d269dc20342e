//! Keyboard shortcuts: delete, duplicate, save, open, undo/redo, run, cancel, frame-all and
//! group (Ctrl+G).
//! Keys that type text are left alone while a text field has focus.

use egui::{Key, KeyboardShortcut, Modifiers, Ui};

use super::editor::Editor;
use super::file_actions;
use crate::canvas::viewer::Action;

const SAVE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
const SAVE_AS: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::S);
const OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const UNDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
const REDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z);
const REDO_Y: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
const DUPLICATE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::D);
const RUN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Enter);
const SELECT_ALL: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::A);
const COPY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::C);
const PASTE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::V);
const GROUP: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::G);

/// Handles this frame's shortcuts.
pub fn handle(ed: &mut Editor, ui: &mut Ui) {
    let ctx = ui.ctx().clone();
    let typing = ctx.egui_wants_keyboard_input();
    let pressed = |s: &KeyboardShortcut| ctx.input_mut(|i| i.consume_shortcut(s));
    // Longer combinations first: Ctrl+Shift+S would also match Ctrl+S.
    if pressed(&SAVE_AS) {
        ed.files.pick_save_as();
    } else if pressed(&SAVE) {
        file_actions::save(ed);
    }
    if pressed(&OPEN) {
        ed.files.pick_open();
    }
    if pressed(&REDO) || pressed(&REDO_Y) {
        ed.redo();
    } else if !typing && pressed(&UNDO) {
        ed.undo();
    }
    if pressed(&RUN) {
        ed.run();
    }
    if typing {
        return;
    }
    if pressed(&DUPLICATE) {
        let selected = ed.selected(&ctx);
        ed.act(Action::Duplicate(selected));
    }
    if pressed(&SELECT_ALL) {
        ed.select_all();
    }
    if pressed(&GROUP) {
        ed.selected(&ctx);
        ed.group_selection();
    }
    // The desktop integration turns Ctrl+C and Ctrl+V into copy and paste events (with the
    // system clipboard's text); the keys themselves come through elsewhere.
    let (copy_event, pasted) = ctx.input(|i| {
        let copy = i.events.iter().any(|e| matches!(e, egui::Event::Copy));
        let paste = i.events.iter().find_map(|e| if let egui::Event::Paste(t) = e { Some(t.clone()) } else { None });
        (copy, paste)
    });
    if pressed(&COPY) || copy_event {
        ed.copy(&ctx);
    }
    if let Some(text) = pasted {
        ed.paste(Some(&text));
    } else if pressed(&PASTE) {
        ed.paste(None);
    }
    let key = |k: Key| ctx.input_mut(|i| i.consume_key(Modifiers::NONE, k));
    if key(Key::Delete) || key(Key::Backspace) {
        let selected = ed.selected(&ctx);
        if !selected.is_empty() {
            ed.act(Action::Delete(selected));
        }
    }
    if key(Key::F) {
        ed.frame_all();
    }
    if key(Key::L) {
        ed.arrange();
    }
    if key(Key::P) {
        ed.look.previews_hidden = !ed.look.previews_hidden;
    }
    if key(Key::Escape) {
        ed.cancel();
    }
}
