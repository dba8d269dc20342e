//! Groups on the canvas: drawn under the nodes, with a menu on the title bar (rename,
//! recolour, fit, select, remove). Dragging is the shell's, as it moves nodes too.

use egui::{Align2, Color32, FontId, Painter, Rect, Shape, Stroke, Ui};

use crate::document::groups::{COLORS, Group, MAX_TITLE_CHARS};

/// A change to one group, asked for from its menu.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupEdit {
    /// A new title.
    Title(String),
    /// A new colour.
    Color(Color32),
    /// Shrink or grow to the nodes inside.
    Fit,
    /// Select the nodes inside.
    SelectNodes,
    /// Remove the group, leaving its nodes.
    Remove,
}

/// Draws the groups that meet `viewport`, in canvas space, under the nodes.
pub fn draw(painter: &Painter, viewport: &Rect, groups: &[Group]) {
    for g in groups.iter().filter(|g| g.rect.intersects(*viewport)) {
        painter.rect_filled(g.rect, 6.0, g.color.gamma_multiply(0.22));
        painter.rect_stroke(g.rect, 6.0, Stroke::new(1.5, g.color), egui::StrokeKind::Inside);
        let bar = g.title_bar();
        painter.rect_filled(bar, egui::CornerRadius { nw: 6, ne: 6, sw: 0, se: 0 }, g.color.gamma_multiply(0.8));
        painter.with_clip_rect(bar.shrink(4.0)).text(
            bar.left_center() + egui::vec2(10.0, 0.0),
            Align2::LEFT_CENTER,
            &g.title,
            FontId::proportional(17.0),
            Color32::WHITE,
        );
        let c = g.rect.max;
        let grip = vec![c - egui::vec2(14.0, 2.0), c - egui::vec2(2.0, 2.0), c - egui::vec2(2.0, 14.0)];
        painter.add(Shape::convex_polygon(grip, g.color, Stroke::NONE));
    }
}

/// The menu of group `g`; the change picked, if any.
pub fn menu(ui: &mut Ui, g: &Group) -> Option<GroupEdit> {
    let mut picked = None;
    ui.label("Group");
    let mut title = g.title.clone();
    let field = ui.add(egui::TextEdit::singleline(&mut title).hint_text("name").desired_width(180.0));
    field.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Group name"));
    // The name takes the keyboard when the menu opens, so a right click and typing renames
    // (a click inside a context menu would close it).
    let frame = ui.ctx().cumulative_frame_nr();
    let key = field.id.with("shown");
    let last: Option<u64> = ui.data(|d| d.get_temp(key));
    ui.data_mut(|d| d.insert_temp(key, frame));
    if last.is_none_or(|last| last + 1 < frame) {
        field.request_focus();
    }
    if field.changed() {
        picked = Some(GroupEdit::Title(title.chars().take(MAX_TITLE_CHARS).collect()));
    }
    ui.horizontal(|ui| {
        for (name, color) in COLORS {
            let (rect, r) = ui.allocate_exact_size(egui::vec2(18.0, 18.0), egui::Sense::click());
            ui.painter().rect_filled(rect, 3.0, color);
            if g.color == color {
                ui.painter().rect_stroke(rect, 3.0, Stroke::new(2.0, Color32::WHITE), egui::StrokeKind::Outside);
            }
            let r = r.on_hover_text(name);
            r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, true, format!("colour {name}")));
            if r.clicked() {
                picked = Some(GroupEdit::Color(color));
            }
        }
    });
    for (label, edit) in [
        ("Fit to nodes", GroupEdit::Fit),
        ("Select nodes", GroupEdit::SelectNodes),
        ("Remove group", GroupEdit::Remove),
    ] {
        if ui.button(label).clicked() {
            picked = Some(edit);
            ui.close();
        }
    }
    picked
}
