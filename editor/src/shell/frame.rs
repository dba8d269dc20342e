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
        egui::Panel::top("menu").show(ui, |ui| super::menus::bar(self, ui));
        egui::Panel::bottom("status").show(ui, |ui| super::status::bar(self, ui));
        egui::Panel::left("palette").default_size(220.0).show(ui, |ui| {
            if let Some(type_name) = crate::canvas::palette::panel(ui, &self.registry, &mut self.search) {
                let at = self.view_center();
                self.add_node(&type_name, at);
            }
        });
        egui::CentralPanel::default().show(ui, |ui| self.canvas(ui));
        super::windows::show(self, ui);
        self.request_check(ui.ctx());
    }

    fn canvas(&mut self, ui: &mut Ui) {
        let frame_to = (self.frame_all == 1).then(|| self.frame_transform(ui.available_rect_before_wrap())).flatten();
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
        };
        let style = SnarlStyle { collapsible: Some(false), ..SnarlStyle::new() };
        let widget = SnarlWidget::new().id(Id::new(CANVAS_ID)).style(style);
        let response = widget.show(&mut self.doc.snarl, &mut viewer, ui);
        let (edited, actions) = (viewer.edited.take(), std::mem::take(&mut viewer.actions));
        self.transform = viewer.transform;
        self.canvas_rect = response.rect;
        for action in actions {
            self.act(action);
        }
        if let Some(what) = edited {
            self.commit(&what);
        } else if ui.input(|i| i.pointer.any_released()) && self.moved() {
            self.commit("move");
        }
    }

    /// Whether any node sits elsewhere than the last recorded state says.
    fn moved(&self) -> bool {
        let saved = self.current.ui.as_ref().and_then(|u| u.get("nodes"));
        self.doc.snarl.nodes_pos_ids().any(|(_, pos, n)| {
            let at = saved.and_then(|s| s.get(&n.key)).and_then(|v| v.get("pos"));
            let xy = at.and_then(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)));
            xy != Some((f64::from(pos.x.round()), f64::from(pos.y.round())))
        })
    }
}
