//! The editor's state and its frame: replies from the backend, shortcuts, panels, the canvas,
//! and the edits they make, each recorded for undo and re-quoted.

use std::collections::HashMap;

use egui::{Id, Rect, Ui};
use egui_snarl::NodeId;
use egui_snarl::ui::{SnarlStyle, SnarlWidget, get_selected_nodes};
use switchyard_engine::Registry;
use switchyard_engine::format::WorkflowFile;

use crate::backend::{Backend, Check, Reply, Request};
use crate::convert::to_file;
use crate::files::Files;
use crate::history::History;
use crate::look::Look;
use crate::model::{Doc, spec_of};
use crate::pins::PinRects;
use crate::viewer::{Action, Refusal, Viewer};

/// The canvas widget's id, so selection can be read back.
pub const CANVAS_ID: &str = "switchyard-canvas";
/// A re-quote waits this long after the last edit, so typing or dragging a slider quotes once.
const QUOTE_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(150);
/// Below this zoom, node bodies are too small to read and only reserve their space.
const DETAIL_ZOOM: f32 = 0.5;
/// The policies the picker offers, as `--policy` takes them.
pub const POLICIES: &[&str] =
    &["cheapest", "fastest", "greenest", "brand:nvidia", "brand:google", "brand:amd", "local-first"];

/// The whole editor.
pub struct Editor {
    /// Node types.
    pub registry: Registry,
    /// The graph.
    pub doc: Doc,
    /// The graph as its file, as of the last edit.
    pub current: WorkflowFile,
    /// Bumped by every edit.
    pub rev: u64,
    /// Undo and redo.
    pub history: History,
    /// Quotes, problems, run states, previews.
    pub look: Look,
    /// The placement policy.
    pub policy: String,
    /// The budget field's text; empty for none.
    pub budget_text: String,
    /// The wallet's available credits, or why unknown.
    pub balance: Option<Result<i64, String>>,
    /// Whether a run is going.
    pub running: bool,
    /// The last message for the status bar.
    pub status: String,
    /// The palette's search text.
    pub search: String,
    /// The last refused wire.
    pub refusal: Option<Refusal>,
    /// Node rects as last drawn (canvas space).
    pub rects: HashMap<NodeId, Rect>,
    /// Pin rects as last drawn (canvas space).
    pub pins: PinRects,
    body_sizes: HashMap<NodeId, egui::Vec2>,
    /// Files: path, dialogs, recent list, templates.
    pub files: Files,
    /// The node whose preview is shown large.
    pub viewing: Option<String>,
    /// Model ids by capability, for the provider pickers.
    pub providers: HashMap<String, Vec<String>>,
    /// Frames until frame-all applies; a new graph is drawn a few times first, as nodes settle
    /// to their size.
    frame_all: u8,
    canvas_rect: Rect,
    transform: egui::emath::TSTransform,
    sent: Option<(u64, String)>,
    last_edit: Option<std::time::Instant>,
    backend: Backend,
}

impl Editor {
    /// An editor over `doc`, talking to `backend`.
    pub fn new(registry: Registry, backend: Backend, files: Files, providers: HashMap<String, Vec<String>>) -> Self {
        let doc = Doc::default();
        let current = to_file(&doc, &registry);
        backend.send(Request::Balance);
        Self {
            registry,
            doc,
            current,
            rev: 0,
            history: History::default(),
            look: Look::default(),
            policy: "cheapest".into(),
            budget_text: String::new(),
            balance: None,
            running: false,
            status: "ready".into(),
            search: String::new(),
            refusal: None,
            rects: HashMap::new(),
            pins: PinRects::default(),
            body_sizes: HashMap::new(),
            files,
            viewing: None,
            providers,
            frame_all: 4,
            canvas_rect: Rect::NOTHING,
            transform: egui::emath::TSTransform::IDENTITY,
            sent: None,
            last_edit: None,
            backend,
        }
    }

    /// Replaces the graph (a file was opened, or undo), keeping nothing of the old run.
    pub fn set_doc(&mut self, doc: Doc) {
        self.doc = doc;
        self.forget_layout();
        self.current = to_file(&self.doc, &self.registry);
        self.rev += 1;
        self.look.runs.clear();
        self.look.previews.clear();
        self.refusal = None;
        self.frame_all = 4;
    }

    /// Drops what was measured of the old graph's nodes (canvas ids are reused).
    fn forget_layout(&mut self) {
        self.rects.clear();
        self.body_sizes.clear();
    }

    /// Records an edit: the state before it goes to undo, and the graph is re-quoted.
    pub fn commit(&mut self, what: &str) {
        let before = std::mem::replace(&mut self.current, to_file(&self.doc, &self.registry));
        self.history.record(before, Some(what));
        self.rev += 1;
        self.last_edit = Some(std::time::Instant::now());
    }

    /// Whether the graph differs from its file on disk.
    pub fn dirty(&self) -> bool {
        self.files.saved_rev != Some(self.rev)
    }

    /// The budget, if the field holds one.
    pub fn budget(&self) -> Option<i64> {
        self.budget_text.trim().parse().ok()
    }

    /// The check request for the graph as it stands.
    pub fn check(&self) -> Check {
        Check {
            rev: self.rev,
            file: self.current.clone(),
            input_root: self.files.input_root(),
            policy: self.policy.clone(),
            budget: self.budget(),
        }
    }

    /// One frame of the whole editor.
    pub fn ui(&mut self, ui: &mut Ui) {
        while let Some(reply) = self.backend.poll() {
            self.on_reply(ui.ctx(), reply);
        }
        crate::shortcuts::handle(self, ui);
        egui::Panel::top("menu").show(ui, |ui| crate::menus::bar(self, ui));
        egui::Panel::bottom("status").show(ui, |ui| crate::status::bar(self, ui));
        egui::Panel::left("palette").default_size(220.0).show(ui, |ui| {
            if let Some(type_name) = crate::palette::panel(ui, &self.registry, &mut self.search) {
                let at = self.view_center();
                self.add_node(&type_name, at);
            }
        });
        egui::CentralPanel::default().show(ui, |ui| self.canvas(ui));
        crate::windows::show(self, ui);
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

    /// Carries out a viewer's or a menu's request.
    pub fn act(&mut self, action: Action) {
        match action {
            Action::Add(type_name, pos) => self.add_node(&type_name, pos),
            Action::Duplicate(ids) => {
                if !self.doc.duplicate(&ids).is_empty() {
                    self.commit("duplicate");
                }
            }
            Action::Delete(ids) => {
                self.doc.remove(&ids);
                self.commit("delete");
            }
            Action::View(key) => self.viewing = Some(key),
            Action::PickFile(key, param) => self.files.pick_param(key, param),
            Action::DriveByWire(node, param) => {
                self.doc.drive_by_wire(node, &param);
                self.commit("wire param");
            }
            Action::BackToWidget(node, param) => {
                let declared =
                    self.doc.snarl.get_node(node).and_then(|n| spec_of(&self.registry, n)).map(|s| s.inputs.len());
                self.doc.back_to_widget(node, &param, declared.unwrap_or(0));
                self.commit("wire param");
            }
        }
    }

    /// Adds a node of `type_name` at `pos` (canvas space).
    pub fn add_node(&mut self, type_name: &str, pos: egui::Pos2) {
        let Some(spec) = self.registry.get(type_name).map(|n| n.spec().clone()) else {
            self.status = format!("unknown node type {type_name:?}");
            return;
        };
        let id = self.doc.add(&spec, pos);
        self.status = format!("added {}", self.doc.snarl[id].key);
        self.commit("add");
    }

    /// The nodes selected on the canvas.
    pub fn selected(&self, ctx: &egui::Context) -> Vec<NodeId> {
        get_selected_nodes(Id::new(CANVAS_ID), ctx)
    }

    /// Steps back one edit.
    pub fn undo(&mut self) {
        if let Some(back) = self.history.undo(self.current.clone()) {
            self.restore(&back, "undone");
        }
    }

    /// Steps forward one edit.
    pub fn redo(&mut self) {
        if let Some(forward) = self.history.redo(self.current.clone()) {
            self.restore(&forward, "redone");
        }
    }

    fn restore(&mut self, file: &WorkflowFile, word: &str) {
        match crate::convert::from_file(file, &self.registry) {
            Ok(doc) => {
                self.doc = doc;
                self.forget_layout();
                self.current = file.clone();
                self.rev += 1;
                self.status = word.into();
            }
            Err(e) => self.status = format!("cannot restore: {e}"),
        }
    }

    /// The canvas-to-screen transform of the last frame.
    pub fn transform(&self) -> egui::emath::TSTransform {
        self.transform
    }

    /// Asks for the frame-all view next frame.
    pub fn frame_all(&mut self) {
        self.frame_all = 1;
    }

    /// Starts a run of the graph as it stands, unless a flag forbids it.
    pub fn run(&mut self) {
        if let Some(why) = crate::status::run_blocker(self) {
            self.status = format!("not run: {why}");
            return;
        }
        self.look.runs.clear();
        if self.backend.send(Request::Run(self.check())) {
            self.running = true;
            self.status = "running…".into();
        }
    }

    /// Asks the run to stop.
    pub fn cancel(&mut self) {
        if self.running && self.backend.send(Request::Cancel) {
            self.status = "cancelling…".into();
        }
    }

    fn request_check(&mut self, ctx: &egui::Context) {
        let quiet = self.last_edit.map_or(QUOTE_DEBOUNCE, |t| t.elapsed());
        if quiet < QUOTE_DEBOUNCE {
            ctx.request_repaint_after(QUOTE_DEBOUNCE - quiet);
            return;
        }
        let want = (self.rev, self.policy.clone());
        if self.sent.as_ref() != Some(&want) && self.backend.send(Request::Check(self.check())) {
            self.sent = Some(want);
        }
    }

    /// Forces a fresh quote (the policy or budget changed).
    pub fn requote(&mut self) {
        self.sent = None;
    }

    fn on_reply(&mut self, ctx: &egui::Context, reply: Reply) {
        match reply {
            Reply::Checked { rev, result } if rev == self.rev => {
                self.look.checked_rev = Some(rev);
                match result {
                    Ok(quote) => {
                        self.look.problems.clear();
                        self.look.quote = Some(quote);
                    }
                    Err(problems) => {
                        self.look.problems = problems;
                        self.look.quote = None;
                    }
                }
            }
            Reply::Checked { .. } => {}
            Reply::Event(event) => self.look.apply(&event),
            Reply::Finished(done) => crate::status::finished(self, ctx, *done),
            Reply::Refused(why) => {
                self.running = false;
                self.status = format!("not run: {why}");
            }
            Reply::Balance(b) => self.balance = Some(b),
        }
    }

    /// Asks the backend for the wallet's balance.
    pub fn refresh_balance(&self) {
        self.backend.send(Request::Balance);
    }

    /// The canvas point at the middle of the view, nudged per node so new nodes do not stack.
    fn view_center(&self) -> egui::Pos2 {
        let middle = if self.canvas_rect.is_positive() { self.canvas_rect.center() } else { egui::Pos2::ZERO };
        let nudge = (self.doc.snarl.nodes().count() % 6) as f32 * 24.0;
        let at = self.transform.inverse() * middle + egui::vec2(nudge - 120.0, nudge - 80.0);
        if at.is_finite() { at } else { egui::pos2(nudge, nudge) }
    }

    fn frame_transform(&self, view: Rect) -> Option<egui::emath::TSTransform> {
        let mut bounds = Rect::NOTHING;
        for (id, pos, _) in self.doc.snarl.nodes_pos_ids() {
            let drawn = self.rects.get(&id).copied();
            bounds = bounds.union(drawn.unwrap_or_else(|| Rect::from_min_size(pos, egui::vec2(240.0, 160.0))));
        }
        if !bounds.is_positive() || !view.is_positive() {
            return None;
        }
        let bounds = bounds.expand(30.0);
        let scale = (view.width() / bounds.width()).min(view.height() / bounds.height()).clamp(0.2, 1.0);
        let translation = view.center().to_vec2() - bounds.center().to_vec2() * scale;
        Some(egui::emath::TSTransform::new(translation, scale))
    }
}
