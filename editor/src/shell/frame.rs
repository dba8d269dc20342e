//! One frame of the editor: replies from the background work, shortcuts, the panels around
//! the canvas, and the canvas itself, whose edits and requests go back to the state.

use egui::{Id, Ui};
use egui_snarl::ui::{SnarlStyle, SnarlWidget};

use super::editor::{CANVAS_ID, DETAIL_ZOOM, Editor};
use crate::canvas::viewer::Viewer;

impl Editor {
    /// One frame of the whole editor.
    pub fn ui(&mut self, ui: &mut Ui) {
        while let Some(reply) = self.backend.poll() {
            self.on_reply(ui.ctx(), reply);
        }
        super::shortcuts::handle(self, ui);
        // A workflow file, or a PNG that carries one, dropped on the window opens.
        let dropped = ui.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        let dropped = dropped.filter(|p| !p.as_os_str().is_empty());
        if let Some(path) = dropped {
            super::file_actions::request(self, super::files::Pending::Open(path));
        }
        egui::Panel::top("menu").show(ui, |ui| super::menus::bar(self, ui));
        egui::Panel::bottom("status").show(ui, |ui| super::status::bar(self, ui));
        egui::Panel::left("palette").default_size(220.0).show(ui, |ui| {
            if let Some(type_name) = crate::canvas::palette::panel(ui, &self.registry, &mut self.search) {
                let at = self.doc.free_spot(self.view_center(), &self.rects);
                self.add_node(&type_name, at);
            }
        });
        egui::CentralPanel::default().show(ui, |ui| self.canvas(ui));
        super::windows::show(self, ui);
        self.request_check(ui.ctx());
    }

    fn canvas(&mut self, ui: &mut Ui) {
        // Snarl's response rect is unbounded; the panel's is the canvas on screen.
        let area = ui.available_rect_before_wrap();
        let frame_to = (self.frame_all == 1).then(|| self.frame_transform(ui.available_rect_before_wrap())).flatten();
        // While a group is dragged, the view holds still (snarl would pan with the drag).
        let frame_to = frame_to.or_else(|| self.group_drag.as_ref().map(|_| self.transform));
        if self.frame_all > 0 {
            self.frame_all -= 1;
            ui.ctx().request_repaint();
        }
        let mut viewer = Viewer {
            registry: &self.registry,
            look: &self.look,
            providers: &self.providers,
            edited: None,
            refusal: &mut self.refusal,
            actions: Vec::new(),
            rects: &mut self.rects,
            pins: &self.pins,
            body_sizes: &mut self.body_sizes,
            detail: self.transform.scaling >= DETAIL_ZOOM,
            frame_to,
            transform: self.transform,
            selection: &self.selection,
            pointer: ui.input(|i| i.pointer.hover_pos()).map(|p| self.transform.inverse() * p),
            groups: &self.doc.groups,
        };
        // A double-click on empty canvas opens the node search, so snarl does not recentre on it.
        let style = SnarlStyle { collapsible: Some(false), centering: Some(false), ..SnarlStyle::new() };
        let widget = SnarlWidget::new().id(Id::new(CANVAS_ID)).style(style);
        widget.show(&mut self.doc.snarl, &mut viewer, ui);
        let (edited, actions) = (viewer.edited.take(), std::mem::take(&mut viewer.actions));
        self.transform = viewer.transform;
        self.canvas_rect = area;
        for action in actions {
            self.act(action);
        }
        self.follow_snarl_selection(ui.ctx());
        self.drag_group(ui, area);
        self.pointer_on_canvas(ui, area);
        if let Some(what) = edited {
            self.commit(&what);
        } else if ui.input(|i| i.pointer.any_released()) && self.moved() {
            self.commit("move");
        }
    }

    /// A plain click on a node selects it (Shift or Ctrl adds it), a click on empty canvas
    /// clears the selection, and a double-click there opens the node search.
    fn pointer_on_canvas(&mut self, ui: &Ui, area: egui::Rect) {
        let (clicked, double, at, modifiers) = ui.input(|i| {
            let p = &i.pointer;
            (p.primary_clicked(), p.button_double_clicked(egui::PointerButton::Primary), p.interact_pos(), i.modifiers)
        });
        let Some(screen) = at.filter(|p| on_canvas(ui, area, *p)) else { return };
        if !clicked || self.quick_add.is_some() {
            return;
        }
        let canvas = self.transform.inverse() * screen;
        let hit = self.rects.iter().find(|(_, r)| r.contains(canvas)).map(|(id, _)| *id);
        match (hit, double) {
            (None, true) => {
                self.quick_add = Some(super::quick_add::QuickAdd { screen, canvas, text: String::new() });
            }
            (None, false) => self.selection.clear(),
            (Some(id), _) if modifiers.shift || modifiers.command => {
                if !self.selection.contains(&id) {
                    self.selection.push(id);
                }
            }
            (Some(id), _) => self.selection = vec![id],
        }
    }

    /// Whether any node or reroute point sits elsewhere than the last recorded state says.
    fn moved(&self) -> bool {
        let ui = self.current.ui.as_ref();
        let (nodes, points) = (ui.and_then(|u| u.get("nodes")), ui.and_then(|u| u.get("reroutes")));
        self.doc.snarl.nodes_pos_ids().any(|(_, pos, n)| {
            let saved = if n.is_reroute() { points } else { nodes };
            let at = saved.and_then(|s| s.get(&n.key)).and_then(|v| v.get("pos"));
            let xy = at.and_then(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)));
            xy != Some((f64::from(pos.x.round()), f64::from(pos.y.round())))
        })
    }
}

/// Whether `p` (screen space) is on the canvas itself, not on a window or menu over it.
pub(super) fn on_canvas(ui: &Ui, area: egui::Rect, p: egui::Pos2) -> bool {
    area.contains(p) && ui.ctx().layer_id_at(p) == Some(ui.layer_id())
}
