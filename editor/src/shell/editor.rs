//! The editor's state: the document, the look of the last quote and run, and the edits,
//! each recorded for undo and re-quoted; replies from the background work land here. The
//! frame that draws it is `frame.rs`; the panels take this state, never the other way round.

use std::collections::HashMap;

use egui::{Id, Rect};
use egui_snarl::NodeId;
use egui_snarl::ui::get_selected_nodes;
use switchyard_engine::Registry;
use switchyard_engine::format::WorkflowFile;

use switchyard_billing::{Over, Verdict};

use super::files::Files;
use crate::canvas::look::{Look, NodeRun};
use crate::canvas::pins::PinRects;
use crate::canvas::viewer::{Action, Refusal};
use crate::document::convert::to_file;
use crate::document::history::History;
use crate::document::model::{Doc, spec_of};
use crate::work::{Backend, Check, Finished, GraphQuote, Reply, Request, ServerTarget, run_status_text};

/// The canvas widget's id, so selection can be read back.
pub const CANVAS_ID: &str = "switchyard-canvas";
/// A re-quote waits this long after the last edit, so typing or dragging a slider quotes once.
pub(super) const QUOTE_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(150);
/// Below this zoom, node bodies are too small to read and only reserve their space.
pub(super) const DETAIL_ZOOM: f32 = 0.5;
/// The policies the picker offers, as `--policy` takes them.
pub const POLICIES: &[&str] = &[
    "cheapest",
    "fastest",
    "greenest",
    "brand:nvidia",
    "brand:google",
    "brand:amd",
    "local-first",
    "local-first:fastest",
    "local-first:greenest",
];

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
    pub(super) body_sizes: HashMap<NodeId, egui::Vec2>,
    /// Files: path, dialogs, recent list, templates.
    pub files: Files,
    /// The node whose preview is shown large.
    pub viewing: Option<String>,
    /// Model ids by capability, for the provider pickers.
    pub providers: HashMap<String, Vec<String>>,
    /// Frames until frame-all applies; a new graph is drawn a few times first, as nodes settle
    /// to their size.
    pub(super) frame_all: u8,
    pub(super) canvas_rect: Rect,
    pub(super) transform: egui::emath::TSTransform,
    /// The server to connect to, as the Server window edits it.
    pub server: ServerTarget,
    /// Whether the Server window is open.
    pub server_window: bool,
    /// The server runs go to, when connected (`connected to URL`).
    pub connected: Option<String>,
    /// The Library window's state.
    pub library: super::library::LibraryPanel,
    /// The selected nodes: a plain click selects one, Shift or Ctrl+click adds, Ctrl+A takes
    /// all; snarl's own shift-click and box selection are followed as they change.
    pub selection: Vec<NodeId>,
    /// Snarl's selection as last seen, to follow its changes.
    pub(super) snarl_selection: Vec<NodeId>,
    /// Nodes copied with Ctrl+C, as a workflow file (also on the system clipboard as text).
    pub clipboard: Option<WorkflowFile>,
    /// The search box a double-click on the canvas opened, and where the node will go.
    pub quick_add: Option<super::quick_add::QuickAdd>,
    /// The group being dragged by its title bar or corner.
    pub(super) group_drag: Option<super::groups::GroupDrag>,
    sent: Option<(u64, String)>,
    last_edit: Option<std::time::Instant>,
    pub(super) backend: Backend,
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
            server: ServerTarget::default(),
            server_window: false,
            connected: None,
            library: super::library::LibraryPanel::default(),
            selection: Vec::new(),
            snarl_selection: Vec::new(),
            clipboard: None,
            quick_add: None,
            group_drag: None,
            sent: None,
            last_edit: None,
            backend,
        }
    }

    /// Quotes, runs and bills on `self.server` from now on, once it answers.
    pub fn connect(&mut self) {
        if self.backend.send(Request::Connect(self.server.clone())) {
            self.status = format!("connecting to {}…", self.server.url);
        }
    }

    /// Quotes, runs and bills here again.
    pub fn disconnect(&mut self) {
        self.backend.send(Request::Disconnect);
    }

    /// Replaces the graph (a file was opened, or undo), keeping nothing of the old run.
    pub fn set_doc(&mut self, doc: Doc) {
        self.policy = doc.run.policy.clone().unwrap_or_else(|| "cheapest".into());
        self.budget_text = doc.run.budget.map(|b| b.to_string()).unwrap_or_default();
        self.doc = doc;
        self.forget_layout();
        self.current = to_file(&self.doc, &self.registry);
        self.rev += 1;
        self.look.runs.clear();
        self.look.previews.clear();
        self.look.files.clear();
        self.look.stale.clear();
        self.look.ran = None;
        self.selection.clear();
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
        self.look.mark_stale(&self.current);
        self.status = super::status::edit_text(what);
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
            deadline: self.doc.run.deadline.clone(),
            routes: self.doc.run.routes.clone(),
        }
    }

    /// Carries out a viewer's or a menu's request.
    pub fn act(&mut self, action: Action) {
        match action {
            Action::Add(type_name, pos) => self.add_node(&type_name, pos),
            Action::Duplicate(ids) => {
                let made = self.doc.duplicate(&ids);
                if !made.is_empty() {
                    self.commit("duplicate");
                    self.status = format!("duplicated {} node(s)", made.len());
                }
            }
            Action::Delete(ids) => {
                let keys: Vec<String> =
                    ids.iter().filter_map(|id| self.doc.snarl.get_node(*id)).map(|n| n.key.clone()).collect();
                self.doc.remove(&ids);
                self.selection.retain(|id| !ids.contains(id));
                self.commit("delete");
                self.status = format!("deleted {}", keys.join(", "));
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
            Action::SetMode(node, mode) => {
                if let Some(n) = self.doc.snarl.get_node_mut(node) {
                    n.mode = mode;
                    self.commit("mode");
                }
            }
            Action::FoldPreview(key) => {
                if !self.look.folded.remove(&key) {
                    self.look.folded.insert(key);
                }
            }
            Action::GroupSelected => self.group_selection(),
            Action::EditGroup(index, edit) => self.edit_group(index, edit),
            Action::Reroute { at, from, to } => self.add_reroute(at, from, to),
        }
    }

    /// Adds a reroute point at `at`, fed by `from` and feeding `to` (a single input's old wire
    /// is replaced).
    pub fn add_reroute(&mut self, at: egui::Pos2, from: Option<egui_snarl::OutPinId>, to: Vec<egui_snarl::InPinId>) {
        let id = self.doc.add_reroute(crate::document::reroute::REROUTE, at);
        if let Some(from) = from {
            self.doc.snarl.connect(from, egui_snarl::InPinId { node: id, input: 0 });
        }
        for input in to {
            self.doc.snarl.drop_inputs(input);
            self.doc.snarl.connect(egui_snarl::OutPinId { node: id, output: 0 }, input);
        }
        self.commit("reroute");
        self.status = "added a reroute point; drag from its right side to carry the wire on".into();
    }

    /// Adds a node of `type_name` at `pos` (canvas space).
    pub fn add_node(&mut self, type_name: &str, pos: egui::Pos2) {
        let Some(spec) = self.registry.get(type_name).map(|n| n.spec().clone()) else {
            self.status = format!("unknown node type {type_name:?}");
            return;
        };
        let id = self.doc.add(&spec, pos);
        self.commit("add");
        self.status = format!("added {}", self.doc.snarl[id].key);
    }

    /// The nodes selected on the canvas.
    pub fn selected(&mut self, ctx: &egui::Context) -> Vec<NodeId> {
        self.follow_snarl_selection(ctx);
        self.selection.iter().copied().filter(|id| self.doc.snarl.get_node(*id).is_some()).collect()
    }

    /// Takes in what snarl's shift-click and box selection changed since last seen.
    pub(super) fn follow_snarl_selection(&mut self, ctx: &egui::Context) {
        let now = get_selected_nodes(Id::new(CANVAS_ID), ctx);
        for id in now.iter().filter(|id| !self.snarl_selection.contains(id)) {
            if !self.selection.contains(id) {
                self.selection.push(*id);
            }
        }
        let dropped: Vec<NodeId> = self.snarl_selection.iter().copied().filter(|id| !now.contains(id)).collect();
        self.selection.retain(|id| !dropped.contains(id));
        self.snarl_selection = now;
    }

    /// Selects every node (Ctrl+A).
    pub fn select_all(&mut self) {
        self.selection = self.doc.snarl.node_ids().map(|(id, _)| id).collect();
        self.status = format!("selected all {} node(s)", self.selection.len());
    }

    /// Copies the selected nodes (Ctrl+C): kept here and put on the system clipboard as text.
    pub fn copy(&mut self, ctx: &egui::Context) {
        let ids = self.selected(ctx);
        match crate::document::clipboard::copy(&self.doc, &self.registry, &ids) {
            Some(file) => {
                if let Ok(text) = serde_json::to_string_pretty(&file) {
                    ctx.copy_text(text);
                }
                self.status = format!("copied {} node(s)", file.nodes.len());
                self.clipboard = Some(file);
            }
            None => self.status = "nothing selected to copy (click a node, or Ctrl+A)".into(),
        }
    }

    /// Pastes copied nodes (Ctrl+V) beside where they were copied from: from the system
    /// clipboard's text when it holds nodes, else from this editor's last copy.
    pub fn paste(&mut self, text: Option<&str>) {
        use crate::document::clipboard::{PasteError, parse, paste};
        let file = match text.map(parse) {
            Some(Ok(file)) => file,
            Some(Err(e)) if self.clipboard.is_none() => {
                self.status = format!("not pasted: {e}");
                return;
            }
            _ => match self.clipboard.clone() {
                Some(file) => file,
                None => {
                    self.status = format!("not pasted: {}", PasteError::NotNodes);
                    return;
                }
            },
        };
        match paste(&mut self.doc, &self.registry, &file, egui::vec2(40.0, 40.0)) {
            Ok(made) => {
                self.commit("paste");
                self.status = format!("pasted {} node(s)", made.len());
                self.selection = made;
            }
            Err(e) => self.status = format!("not pasted: {e}"),
        }
    }

    /// Lays the graph out in columns by depth (View > Arrange, or L).
    pub fn arrange(&mut self) {
        self.doc.arrange(&self.rects);
        self.commit("arrange");
        self.frame_all = 2;
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
        match crate::document::convert::from_file(file, &self.registry) {
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
        if let Some(why) = self.run_blocker() {
            self.status = format!("not run: {why}");
            return;
        }
        self.look.runs.clear();
        self.look.files.clear();
        self.look.stale.clear();
        self.look.ran = Some(self.current.clone());
        if self.backend.send(Request::Run(self.check())) {
            self.running = true;
            self.status = if self.connected.is_some() { "running on the server…" } else { "running…" }.into();
        }
    }

    /// Asks the run to stop.
    pub fn cancel(&mut self) {
        if self.running && self.backend.send(Request::Cancel) {
            self.status = "cancelling…".into();
        }
    }

    pub(super) fn request_check(&mut self, ctx: &egui::Context) {
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

    pub(super) fn on_reply(&mut self, ctx: &egui::Context, reply: Reply) {
        match reply {
            Reply::Checked { rev, result } if rev == self.rev => {
                self.look.checked_rev = Some(rev);
                self.look.problems = result.problems;
                self.look.quote = result.quote;
            }
            Reply::Checked { .. } => {}
            Reply::Event(event) => self.look.apply(&event),
            Reply::Finished(done) => self.finished(ctx, *done),
            Reply::Refused(why) => {
                self.running = false;
                self.status = format!("not run: {why}");
            }
            Reply::Balance(b) => self.balance = Some(b),
            Reply::Connected(outcome) => {
                self.status = match &outcome {
                    Ok(what) => what.clone(),
                    Err(why) => format!("local runs: {why}"),
                };
                self.server_window &= outcome.is_err();
                self.connected = outcome.ok();
                self.requote();
                self.refresh_balance();
            }
            Reply::Library(reply) => super::library::on_reply(self, ctx, reply),
        }
    }

    /// Asks the backend for the wallet's balance.
    pub fn refresh_balance(&self) {
        self.backend.send(Request::Balance);
    }

    /// The canvas point at the middle of the view, nudged per node so new nodes do not stack.
    pub(super) fn view_center(&self) -> egui::Pos2 {
        let middle = if self.canvas_rect.is_positive() { self.canvas_rect.center() } else { egui::Pos2::ZERO };
        let nudge = (self.doc.snarl.nodes().count() % 6) as f32 * 24.0;
        let at = self.transform.inverse() * middle + egui::vec2(nudge - 120.0, nudge - 80.0);
        if at.is_finite() { at } else { egui::pos2(nudge, nudge) }
    }

    pub(super) fn frame_transform(&self, view: Rect) -> Option<egui::emath::TSTransform> {
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

    /// Why the graph cannot run now, if it cannot.
    pub fn run_blocker(&self) -> Option<String> {
        if self.running {
            return Some("a run is going".into());
        }
        if self.doc.snarl.nodes().next().is_none() {
            return Some("the graph is empty".into());
        }
        if self.look.checked_rev != Some(self.rev) {
            return Some("checking and quoting the latest edit".into());
        }
        if !self.look.problems.is_empty() {
            return Some(format!("{} problem(s) to fix first; they are marked on the nodes", self.look.problems.len()));
        }
        if let Some(Ok(GraphQuote { blocked: Some(why), .. })) = &self.look.quote {
            return Some(format!("not placed: {why}"));
        }
        self.over_budget()
    }

    /// The flag for a quote over the balance or the budget (the command line's verdict).
    pub fn over_budget(&self) -> Option<String> {
        let most = self.look.quote.as_ref()?.as_ref().ok()?.credits.1;
        let available = self.balance.as_ref().and_then(|b| b.as_ref().ok()).copied();
        Some(match Verdict::new(most, available, self.budget()).over()? {
            Over::Balance(a) => format!("over balance: up to {most} cr, {a} cr available"),
            Over::Budget(b) => format!("over budget: up to {most} cr against a budget of {b} cr"),
            Over::MemberCap { member, left } => format!("over {member}'s cap: up to {most} cr, {left} cr left"),
        })
    }

    /// A run ended: node states, previews as textures, and the status line.
    pub(super) fn finished(&mut self, ctx: &egui::Context, done: Finished) {
        self.running = false;
        for (key, status, error) in &done.nodes {
            if let (switchyard_engine::NodeStatus::Failed, Some(e)) = (status, error) {
                self.look.runs.insert(key.clone(), NodeRun::Failed(e.clone()));
            }
        }
        for (key, p) in done.previews {
            let image = egui::ColorImage::from_rgba_unmultiplied(p.size, &p.rgba);
            let texture = ctx.load_texture(format!("preview-{key}"), image, egui::TextureOptions::LINEAR);
            self.look.previews.insert(key, (texture, p.source_size));
        }
        let failed = done.nodes.iter().filter(|n| n.1 == switchyard_engine::NodeStatus::Failed).count();
        let charged = done.charged.map(|c| format!(", charged {c} cr")).unwrap_or_default();
        self.status = format!("{} in {} ms, {failed} failed{charged}", run_status_text(done.status), done.duration_ms);
        self.refresh_balance();
    }
}
