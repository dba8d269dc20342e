//! How the canvas draws and edits nodes: headers with run state, typed pins, param widgets,
//! badges, previews and failures; wiring that refuses what the engine would refuse.

use std::collections::HashMap;

use egui::{Color32, Rect, RichText, Stroke, Ui};
use egui_snarl::ui::{AnyPins, PinInfo, SnarlViewer};
use egui_snarl::{InPin, InPinId, NodeId, OutPin, OutPinId, Snarl};
use switchyard_engine::format::NodeMode;
use switchyard_engine::{PortType, Registry};

use crate::canvas::look::{Look, NodeRun};
use crate::canvas::pins::{PinRects, Side};
use crate::canvas::widgets::param_widget;
use crate::document::model::{EdNode, spec_of, would_cycle};
use crate::document::reroute;

/// Something the viewer asks the app to do after the frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Add a node of this type at this canvas position.
    Add(String, egui::Pos2),
    /// Duplicate these nodes.
    Duplicate(Vec<NodeId>),
    /// Delete these nodes.
    Delete(Vec<NodeId>),
    /// Show this node's preview large.
    View(String),
    /// Pick a file for this node's param.
    PickFile(String, String),
    /// Give this node's param an input pin, so a wire drives it.
    DriveByWire(NodeId, String),
    /// Turn this node's wire-driven param back into a widget.
    BackToWidget(NodeId, String),
    /// Run, bypass or mute this node.
    SetMode(NodeId, NodeMode),
    /// Fold or unfold this node's preview.
    FoldPreview(String),
    /// Put the selected nodes in a new group.
    GroupSelected,
    /// Change group `0` (an index into the document's groups).
    EditGroup(usize, crate::canvas::groups::GroupEdit),
    /// Put a reroute point at `at` (canvas space), fed by `from` and feeding `to`.
    Reroute {
        /// Where.
        at: egui::Pos2,
        /// The output that feeds it.
        from: Option<OutPinId>,
        /// The inputs it feeds.
        to: Vec<InPinId>,
    },
}

/// A wire the viewer refused, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// The input it was dropped on.
    pub pin: InPinId,
    /// Why, in words.
    pub reason: String,
}

/// The canvas's view of one frame.
pub struct Viewer<'a> {
    /// Node types.
    pub registry: &'a Registry,
    /// Quotes, run states, diagnostics and previews.
    pub look: &'a Look,
    /// Model ids by capability, for provider pickers.
    pub providers: &'a HashMap<String, Vec<String>>,
    /// Set when something in the file changed: what changed, for undo coalescing.
    pub edited: Option<String>,
    /// The last refused wire.
    pub refusal: &'a mut Option<Refusal>,
    /// Requests for the app.
    pub actions: Vec<Action>,
    /// Where each node was drawn (canvas space), for frame-all and tests.
    pub rects: &'a mut HashMap<NodeId, Rect>,
    /// Where each pin was drawn.
    pub pins: &'a PinRects,
    /// Each node body's size as last drawn: a body that is off screen, or too small to read,
    /// only reserves its space (snarl lays out every node every frame).
    pub body_sizes: &'a mut HashMap<NodeId, egui::Vec2>,
    /// Whether the zoom is high enough to read widgets.
    pub detail: bool,
    /// When set, the view jumps to this transform (frame-all).
    pub frame_to: Option<egui::emath::TSTransform>,
    /// The canvas-to-screen transform this frame used.
    pub transform: egui::emath::TSTransform,
    /// The nodes selected (by a click, Ctrl+A, or snarl's shift-click and box).
    pub selection: &'a [NodeId],
    /// The pointer in canvas space, where it is over the canvas.
    pub pointer: Option<egui::Pos2>,
    /// The document's groups, drawn under the nodes.
    pub groups: &'a [crate::document::groups::Group],
}

/// A wire released this close to a compatible pin (canvas points) snaps to it.
pub const WIRE_SNAP_RADIUS: f32 = 28.0;

/// What a node's mode looks like in its header, and the tint of its frame.
fn mode_look(mode: NodeMode) -> Option<(&'static str, Color32)> {
    match mode {
        NodeMode::Always => None,
        NodeMode::Bypass => Some(("bypassed", Color32::from_rgb(170, 110, 220))),
        NodeMode::Mute => Some(("muted", Color32::from_gray(110))),
    }
}

/// A port type's colour, shared by pins and wires.
pub fn port_color(ty: PortType) -> Color32 {
    match ty {
        PortType::Image => Color32::from_rgb(100, 160, 240),
        PortType::Mask => Color32::from_rgb(200, 200, 200),
        PortType::Text => Color32::from_rgb(240, 200, 90),
        PortType::Int | PortType::Float => Color32::from_rgb(120, 210, 140),
        PortType::Bool => Color32::from_rgb(230, 120, 120),
        PortType::VideoFrames => Color32::from_rgb(190, 120, 240),
        PortType::Audio => Color32::from_rgb(240, 140, 200),
        _ => Color32::GRAY,
    }
}

impl Viewer<'_> {
    /// The node's preview from the last run: foldable, and marked stale after an edit that
    /// changed it or anything upstream.
    fn preview(&mut self, ui: &mut Ui, key: &str) {
        let Some(shown) = self.look.preview(key) else { return };
        let stale = self.look.stale.contains(key);
        let open = self.look.preview_shown(key);
        ui.horizontal(|ui| {
            let arrow = if open { "▾ preview" } else { "▸ preview" };
            if ui.add(egui::Button::new(RichText::new(arrow).small()).frame(false)).clicked() {
                self.actions.push(Action::FoldPreview(key.to_string()));
            }
            if stale {
                let why = "the graph changed since this preview was made; run again to update it";
                ui.label(RichText::new("stale").small().color(Color32::from_rgb(230, 160, 60))).on_hover_text(why);
            }
        });
        if !open {
            return;
        }
        let size = shown.size_vec2() * (200.0 / shown.size_vec2().max_elem()).min(1.0);
        let tint = if stale { Color32::from_gray(120) } else { Color32::WHITE };
        let image = egui::Image::new((shown.id(), size))
            .tint(tint)
            .sense(egui::Sense::click())
            .alt_text(format!("preview of {key}"));
        if ui.add(image).on_hover_text("click to view").clicked() {
            self.actions.push(Action::View(key.to_string()));
        }
    }

    /// What a save node wrote in the last run, one elided line per file.
    fn files_written(&self, ui: &mut Ui, key: &str) {
        let Some(files) = self.look.files.get(key).filter(|f| !f.is_empty()) else { return };
        let stale = self.look.stale.contains(key);
        for f in files {
            let name = f.file_name().map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into_owned());
            let word = if stale { "wrote (stale)" } else { "wrote" };
            let text = crate::canvas::badges::elide(&format!("{word} {name}"), crate::canvas::badges::BADGE_CHARS_MAX);
            let label = egui::Label::new(RichText::new(text).small().weak()).wrap_mode(egui::TextWrapMode::Extend);
            ui.add(label).on_hover_text(f.display().to_string());
        }
    }

    fn refuse(&mut self, pin: InPinId, reason: String) {
        *self.refusal = Some(Refusal { pin, reason });
    }

    /// Why a wire from `from` into `to` cannot be, if it cannot. Through a reroute point, the
    /// type is the one the point carries, and every input it feeds must accept it.
    fn wire_problem(&self, from: &OutPin, to: &InPin, snarl: &Snarl<EdNode>) -> Option<String> {
        let (src, dst) = (&snarl[from.id.node], &snarl[to.id.node]);
        if from.id.node == to.id.node {
            return Some(format!("{} cannot feed itself", dst.key));
        }
        let known = |n: &EdNode| n.is_reroute() || spec_of(self.registry, n).is_some();
        if !known(src) || !known(dst) {
            return Some("unknown node type".into());
        }
        // A reroute point nothing feeds carries no type yet: anything may leave it.
        let carried = reroute::real_source(snarl, from.id).and_then(|real| {
            let n = &snarl[real.node];
            let out = spec_of(self.registry, n)?.outputs.get(real.output)?;
            Some((format!("{}.{}", n.key, out.name), out.ty))
        });
        let targets = match dst.is_reroute() {
            true => reroute::real_targets(snarl, to.id.node),
            false => vec![to.id],
        };
        for target in targets {
            let n = &snarl[target.node];
            let port = n.in_port(spec_of(self.registry, n)?, target.input)?;
            if let Some((name, ty)) = carried.as_ref().filter(|(_, ty)| !port.ty.accepts(*ty)) {
                return Some(format!("{name} is {ty}; {}.{} accepts {}", n.key, port.name, port.ty));
            }
            if target == to.id && port.max_sources > 1 && to.remotes.len() >= port.max_sources {
                return Some(format!("{}.{} takes at most {} wires", n.key, port.name, port.max_sources));
            }
        }
        would_cycle(snarl, from.id.node, to.id.node)
            .then(|| format!("{} already depends on {}; this wire would make a loop", src.key, dst.key))
    }

    /// A reroute point's pin, coloured by what it carries.
    fn reroute_pin(&self, snarl: &Snarl<EdNode>, carried: Option<OutPinId>) -> PinInfo {
        let ty = carried.and_then(|o| reroute::out_type(snarl, self.registry, o));
        PinInfo::circle().with_fill(ty.map_or(Color32::GRAY, port_color))
    }
}

impl SnarlViewer<EdNode> for Viewer<'_> {
    fn title(&mut self, node: &EdNode) -> String {
        node.key.clone()
    }

    fn show_header(&mut self, node: NodeId, _: &[InPin], _: &[OutPin], ui: &mut Ui, snarl: &mut Snarl<EdNode>) {
        let n = &snarl[node];
        if n.is_reroute() {
            ui.add(egui::Label::new(RichText::new("reroute").small().weak()).selectable(false));
            return;
        }
        let run = self.look.run_of(&n.key);
        // The header row is laid out left to right already; a nested row would take its width
        // before the node has one.
        // Labels in the header are not selectable: a drag on the title moves the node.
        ui.add(egui::Label::new(RichText::new(&n.key).strong()).selectable(false));
        ui.add(egui::Label::new(RichText::new(&n.type_name).small().weak()).selectable(false));
        if let Some((word, color)) = mode_look(n.mode) {
            ui.add(egui::Label::new(RichText::new(word).small().color(color)).selectable(false));
        }
        if let Some(run) = run {
            ui.add(egui::Label::new(RichText::new(run.word()).small().color(run.color())).selectable(false));
        }
    }

    fn inputs(&mut self, node: &EdNode) -> usize {
        match node.is_reroute() {
            true => 1,
            false => spec_of(self.registry, node).map_or(0, |s| node.in_count(s)),
        }
    }

    fn outputs(&mut self, node: &EdNode) -> usize {
        match node.is_reroute() {
            true => 1,
            false => spec_of(self.registry, node).map_or(0, |s| s.outputs.len()),
        }
    }

    fn show_input(
        &mut self,
        pin: &InPin,
        ui: &mut Ui,
        snarl: &mut Snarl<EdNode>,
    ) -> impl egui_snarl::ui::SnarlPin + 'static {
        let n = &snarl[pin.id.node];
        let record = |info| self.pins.pin(info, pin.id.node, Side::In, pin.id.input);
        if n.is_reroute() {
            return record(self.reroute_pin(snarl, pin.remotes.first().copied()));
        }
        let Some(port) = spec_of(self.registry, n).and_then(|s| n.in_port(s, pin.id.input)) else {
            return record(PinInfo::circle());
        };
        let text =
            if port.max_sources > 1 { format!("{} [{}]", port.name, pin.remotes.len()) } else { port.name.into() };
        ui.label(text).on_hover_text(format!("accepts {}", port.ty));
        if let Some(r) = self.refusal.as_ref().filter(|r| r.pin == pin.id) {
            ui.label(RichText::new("✖ wire refused").color(Color32::LIGHT_RED)).on_hover_text(&r.reason);
        }
        record(PinInfo::circle().with_fill(port_color(port.ty)))
    }

    fn show_output(
        &mut self,
        pin: &OutPin,
        ui: &mut Ui,
        snarl: &mut Snarl<EdNode>,
    ) -> impl egui_snarl::ui::SnarlPin + 'static {
        let n = &snarl[pin.id.node];
        let record = |info| self.pins.pin(info, pin.id.node, Side::Out, pin.id.output);
        if n.is_reroute() {
            return record(self.reroute_pin(snarl, Some(pin.id)));
        }
        let Some(out) = spec_of(self.registry, n).and_then(|s| s.outputs.get(pin.id.output)) else {
            return record(PinInfo::circle());
        };
        ui.label(out.name).on_hover_text(format!("{}: {}", out.ty, out.description));
        record(PinInfo::circle().with_fill(port_color(out.ty)))
    }

    fn has_body(&mut self, node: &EdNode) -> bool {
        !node.is_reroute()
    }

    fn show_body(&mut self, node: NodeId, _: &[InPin], _: &[OutPin], ui: &mut Ui, snarl: &mut Snarl<EdNode>) {
        // A node's first frame has no size yet (its body rect is NaN wide); it is drawn from
        // the next frame on.
        if !ui.max_rect().is_finite() || !ui.available_width().is_finite() {
            ui.ctx().request_repaint();
            return;
        }
        let seen = self.rects.get(&node).is_none_or(|r| ui.clip_rect().intersects(*r));
        if let Some(size) = self.body_sizes.get(&node).filter(|_| !seen || !self.detail) {
            ui.allocate_space(*size);
            return;
        }
        let registry = self.registry;
        let n = &mut snarl[node];
        let Some(spec) = spec_of(registry, n) else { return };
        let key = n.key.clone();
        ui.vertical(|ui| {
            ui.set_max_width(250.0);
            ui.spacing_mut().slider_width = 70.0;
            ui.spacing_mut().combo_width = 100.0;
            for p in &spec.params {
                if n.param_wires.iter().any(|w| w == p.name) {
                    continue;
                }
                let problem = self.look.field_problem(&key, p.name);
                let capability = switchyard_engine::cloud_capability(spec.type_name);
                let choices = capability
                    .filter(|_| p.name == switchyard_engine::PROVIDER_PARAM)
                    .and_then(|c| self.providers.get(c));
                let out = param_widget(ui, &key, p, &mut n.params, choices, problem);
                if out.changed {
                    self.edited = Some(format!("{key}.{}", p.name));
                }
                if out.pick_file {
                    self.actions.push(Action::PickFile(key.clone(), p.name.to_string()));
                }
            }
            crate::canvas::badges::show(ui, self.look, &key, spec);
            self.preview(ui, &key);
            self.files_written(ui, &key);
            if let Some(NodeRun::Failed(msg)) = self.look.run_of(&key) {
                ui.label(RichText::new(format!("failed: {msg}")).color(Color32::LIGHT_RED));
            }
            for problem in self.look.node_problems(&key) {
                ui.label(RichText::new(problem).color(Color32::LIGHT_RED));
            }
            if let Some((mark, lines)) = self.look.diff.get(&key) {
                let word = format!("{mark:?} since the revision").to_lowercase();
                let text = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n");
                ui.label(RichText::new(word).small().color(Look::mark_color(*mark))).on_hover_text(text);
            }
        });
        self.body_sizes.insert(node, ui.min_rect().size());
    }

    fn node_frame(
        &mut self,
        default: egui::Frame,
        node: NodeId,
        _: &[InPin],
        _: &[OutPin],
        snarl: &Snarl<EdNode>,
    ) -> egui::Frame {
        let key = &snarl[node].key;
        let default = match mode_look(snarl[node].mode) {
            Some((_, tint)) => default.fill(default.fill.lerp_to_gamma(tint, 0.25)),
            None => default,
        };
        if self.selection.contains(&node) {
            return default.stroke(Stroke::new(2.5, Color32::from_rgb(255, 210, 80)));
        }
        let marked = self.look.diff.get(key).map(|(m, _)| Look::mark_color(*m));
        let stroke = match (self.look.run_of(key), marked) {
            (Some(run), _) => Stroke::new(2.0, run.color()),
            (None, Some(color)) => Stroke::new(3.0, color),
            (None, None) if self.look.has_problems(key) => Stroke::new(2.0, Color32::LIGHT_RED),
            (None, None) => default.stroke,
        };
        default.stroke(stroke)
    }

    fn final_node_rect(&mut self, node: NodeId, rect: Rect, _: &mut Ui, _: &mut Snarl<EdNode>) {
        self.rects.insert(node, rect);
    }

    fn connect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<EdNode>) {
        if let Some(reason) = self.wire_problem(from, to, snarl) {
            return self.refuse(to.id, reason);
        }
        let single = {
            let n = &snarl[to.id.node];
            spec_of(self.registry, n).and_then(|s| n.in_port(s, to.id.input)).is_none_or(|p| p.max_sources <= 1)
        };
        if single {
            snarl.drop_inputs(to.id);
        }
        snarl.connect(from.id, to.id);
        *self.refusal = None;
        self.edited = Some("wire".into());
    }

    fn disconnect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<EdNode>) {
        snarl.disconnect(from.id, to.id);
        self.edited = Some("wire".into());
    }

    fn drop_inputs(&mut self, pin: &InPin, snarl: &mut Snarl<EdNode>) {
        snarl.drop_inputs(pin.id);
        self.edited = Some("wire".into());
    }

    fn drop_outputs(&mut self, pin: &OutPin, snarl: &mut Snarl<EdNode>) {
        snarl.drop_outputs(pin.id);
        self.edited = Some("wire".into());
    }

    /// A wire released near a pin it may connect to (not on it) snaps to the nearest such pin.
    fn has_dropped_wire_menu(&mut self, src: AnyPins, snarl: &mut Snarl<EdNode>) -> bool {
        let Some(at) = self.pointer else { return false };
        let pairs: Vec<(OutPinId, InPinId)> = match src {
            AnyPins::Out(outs) => self
                .pins
                .near(at, Side::In, WIRE_SNAP_RADIUS)
                .into_iter()
                .flat_map(|(node, input)| outs.iter().map(move |o| (*o, InPinId { node, input })))
                .collect(),
            AnyPins::In(ins) => self
                .pins
                .near(at, Side::Out, WIRE_SNAP_RADIUS)
                .into_iter()
                .flat_map(|(node, output)| ins.iter().map(move |i| (OutPinId { node, output }, *i)))
                .collect(),
        };
        let fits = pairs.into_iter().find(|(o, i)| {
            let (from, to) = (snarl.out_pin(*o), snarl.in_pin(*i));
            self.wire_problem(&from, &to, snarl).is_none()
        });
        if let Some((o, i)) = fits {
            let (from, to) = (snarl.out_pin(o), snarl.in_pin(i));
            self.connect(&from, &to, snarl);
            return false;
        }
        true
    }

    /// A wire released on empty canvas offers a reroute point there, wired to it.
    fn show_dropped_wire_menu(&mut self, pos: egui::Pos2, ui: &mut Ui, src: AnyPins, _: &mut Snarl<EdNode>) {
        if ui.button("Reroute here").clicked() {
            let (from, to) = match src {
                AnyPins::Out(outs) => (outs.first().copied(), Vec::new()),
                AnyPins::In(ins) => (None, ins.to_vec()),
            };
            self.actions.push(Action::Reroute { at: pos, from, to });
            ui.close();
        }
    }

    fn has_graph_menu(&mut self, _: egui::Pos2, _: &mut Snarl<EdNode>) -> bool {
        true
    }

    fn show_graph_menu(&mut self, pos: egui::Pos2, ui: &mut Ui, _: &mut Snarl<EdNode>) {
        if let Some(i) = crate::document::groups::hit(self.groups, pos, false) {
            if let Some(edit) = crate::canvas::groups::menu(ui, &self.groups[i]) {
                self.actions.push(Action::EditGroup(i, edit));
            }
            return;
        }
        if !self.selection.is_empty() && ui.button("Group selected nodes (Ctrl+G)").clicked() {
            self.actions.push(Action::GroupSelected);
            ui.close();
        }
        if ui.button("Add reroute point").clicked() {
            self.actions.push(Action::Reroute { at: pos, from: None, to: Vec::new() });
            ui.close();
        }
        ui.label("Add node");
        if let Some(type_name) = crate::canvas::palette::menu(ui, self.registry) {
            self.actions.push(Action::Add(type_name, pos));
            ui.close();
        }
    }

    fn has_node_menu(&mut self, _: &EdNode) -> bool {
        true
    }

    fn show_node_menu(&mut self, node: NodeId, _: &[InPin], _: &[OutPin], ui: &mut Ui, snarl: &mut Snarl<EdNode>) {
        let n = &snarl[node];
        if n.is_reroute() {
            if ui.button("Delete (keeps the wire)").clicked() {
                self.actions.push(Action::Delete(vec![node]));
                ui.close();
            }
            return;
        }
        if let Some(spec) = spec_of(self.registry, n) {
            ui.menu_button("Drive by a wire", |ui| {
                for p in spec.params.iter().filter(|p| !n.param_wires.iter().any(|w| w == p.name)) {
                    if ui.button(p.name).on_hover_text(p.description).clicked() {
                        self.actions.push(Action::DriveByWire(node, p.name.to_string()));
                        ui.close();
                    }
                }
            });
            for wired in &n.param_wires {
                if ui.button(format!("Back to a widget: {wired}")).clicked() {
                    self.actions.push(Action::BackToWidget(node, wired.clone()));
                    ui.close();
                }
            }
        }
        let mode = snarl[node].mode;
        for (want, label) in [(NodeMode::Always, "Run"), (NodeMode::Bypass, "Bypass"), (NodeMode::Mute, "Mute")] {
            if ui.add_enabled(mode != want, egui::Button::new(label)).clicked() {
                self.actions.push(Action::SetMode(node, want));
                ui.close();
            }
        }
        ui.separator();
        if ui.button("Duplicate").clicked() {
            self.actions.push(Action::Duplicate(vec![node]));
            ui.close();
        }
        if ui.button("Delete").clicked() {
            self.actions.push(Action::Delete(vec![node]));
            ui.close();
        }
    }

    fn draw_background(
        &mut self,
        background: Option<&egui_snarl::ui::BackgroundPattern>,
        viewport: &Rect,
        snarl_style: &egui_snarl::ui::SnarlStyle,
        style: &egui::Style,
        painter: &egui::Painter,
        _: &Snarl<EdNode>,
    ) {
        if let Some(background) = background {
            background.draw(viewport, snarl_style, style, painter);
        }
        crate::canvas::groups::draw(painter, viewport, self.groups);
    }

    fn current_transform(&mut self, to_global: &mut egui::emath::TSTransform, _: &mut Snarl<EdNode>) {
        if let Some(target) = self.frame_to.take() {
            *to_global = target;
        }
        self.transform = *to_global;
    }
}
