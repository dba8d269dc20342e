//! Groups as the user handles them: made from the selection (Ctrl+G or the canvas menu),
//! dragged by the title bar with every node and group inside, resized by the corner, and
//! changed from the title bar's menu.

use egui::{Pos2, Rect, Ui, vec2};
use egui_snarl::NodeId;

use super::editor::Editor;
use crate::canvas::groups::GroupEdit;
use crate::document::groups::{Group, TITLE_HEIGHT, hit};

/// The smallest a group may be resized to.
const MIN_SIZE: egui::Vec2 = vec2(120.0, TITLE_HEIGHT + 40.0);

/// A group being dragged.
pub struct GroupDrag {
    index: usize,
    /// Resizing by the corner rather than moving by the title bar.
    resize: bool,
    /// The nodes that move with it, taken when the drag began.
    nodes: Vec<NodeId>,
    /// The groups inside it, which move too.
    inner: Vec<usize>,
    /// The pointer's last position, in canvas space.
    last: Pos2,
}

impl Editor {
    /// Puts the selected nodes in a new group around them.
    pub fn group_selection(&mut self) {
        let rects: Vec<Rect> = self.selection.iter().filter_map(|id| self.rects.get(id).copied()).collect();
        let Some(group) = Group::around("Group", &rects) else {
            self.status = "select the nodes to group first (click, Shift+click or Ctrl+A)".into();
            return;
        };
        self.doc.groups.push(group);
        self.commit("group");
        self.status =
            format!("grouped {} node(s); right-click the group's title to rename or recolour it", rects.len());
    }

    /// Applies a change picked from group `index`'s menu.
    pub fn edit_group(&mut self, index: usize, edit: GroupEdit) {
        let Some(group) = self.doc.groups.get_mut(index) else { return };
        let what = match edit {
            GroupEdit::Title(title) => {
                group.title = title;
                "group title"
            }
            GroupEdit::Color(color) => {
                group.color = color;
                "group colour"
            }
            GroupEdit::Fit => {
                let members = group.members(&self.rects);
                let rects: Vec<Rect> = members.iter().filter_map(|id| self.rects.get(id).copied()).collect();
                let Some(fitted) = Group::around(&group.title, &rects) else { return };
                group.rect = fitted.rect;
                "group fit"
            }
            GroupEdit::SelectNodes => {
                self.selection = group.members(&self.rects);
                self.status = format!("selected {} node(s) in {}", self.selection.len(), group.title);
                return;
            }
            GroupEdit::Remove => {
                let gone = self.doc.groups.remove(index);
                self.commit("ungroup");
                self.status = format!("removed group {} (its nodes stay)", gone.title);
                return;
            }
        };
        self.commit(what);
    }

    /// Starts, follows and ends a drag on a group's title bar or corner. A press on a node
    /// is the node's, never the group's.
    pub(super) fn drag_group(&mut self, ui: &Ui, area: Rect) {
        let (pressed, down, at) =
            ui.input(|i| (i.pointer.primary_pressed(), i.pointer.primary_down(), i.pointer.interact_pos()));
        let canvas = at.map(|p| self.transform.inverse() * p);
        if let Some(mut drag) = self.group_drag.take() {
            if let Some(c) = canvas {
                self.move_group(&drag, c - drag.last);
                drag.last = c;
            }
            if down {
                self.group_drag = Some(drag);
            } else {
                self.commit(if drag.resize { "group resize" } else { "group move" });
            }
            return;
        }
        let on_canvas = at.is_some_and(|p| super::frame::on_canvas(ui, area, p));
        let Some(c) = canvas.filter(|_| pressed && on_canvas) else { return };
        if self.rects.values().any(|r| r.contains(c)) {
            return;
        }
        let (index, resize) = match (hit(&self.doc.groups, c, true), hit(&self.doc.groups, c, false)) {
            (Some(i), _) => (i, true),
            (None, Some(i)) => (i, false),
            (None, None) => return,
        };
        let group = &self.doc.groups[index];
        let (nodes, inner) = match resize {
            true => (Vec::new(), Vec::new()),
            false => {
                let inner = (0..self.doc.groups.len()).filter(|&j| j != index && group.holds(&self.doc.groups[j]));
                (group.members(&self.rects), inner.collect())
            }
        };
        self.group_drag = Some(GroupDrag { index, resize, nodes, inner, last: c });
    }

    fn move_group(&mut self, drag: &GroupDrag, delta: egui::Vec2) {
        if delta == egui::Vec2::ZERO {
            return;
        }
        let Some(group) = self.doc.groups.get_mut(drag.index) else { return };
        if drag.resize {
            group.rect.max = (group.rect.max + delta).max(group.rect.min + MIN_SIZE);
            return;
        }
        group.rect = group.rect.translate(delta);
        for &j in &drag.inner {
            if let Some(g) = self.doc.groups.get_mut(j) {
                g.rect = g.rect.translate(delta);
            }
        }
        for &id in &drag.nodes {
            if let Some(info) = self.doc.snarl.get_node_info_mut(id) {
                info.pos += delta;
            }
            if let Some(r) = self.rects.get_mut(&id) {
                *r = r.translate(delta);
            }
        }
    }
}
