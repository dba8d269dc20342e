//! The editor in an eframe window, optionally timing its frames (`--frame-stats SECONDS`):
//! the window repaints continuously for that long, then prints the CPU time eframe reports per
//! frame (the UI pass plus rendering, without vsync waits) and closes.

use std::time::{Duration, Instant};

use crate::Editor;

/// Frames timed at most, so a long run cannot grow without bound.
const MAX_SAMPLES: usize = 100_000;

/// The window's app.
pub struct Window {
    editor: Editor,
    stats: Option<(Instant, Vec<f32>)>,
}

impl Window {
    /// The editor, with frame timing for `frame_stats` when given.
    pub fn new(editor: Editor, frame_stats: Option<Duration>) -> Self {
        Self { editor, stats: frame_stats.map(|d| (Instant::now() + d, Vec::new())) }
    }
}

impl eframe::App for Window {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.editor.ui(ui);
        let Some((until, samples)) = &mut self.stats else { return };
        if let Some(cpu) = frame.info().cpu_usage.filter(|_| samples.len() < MAX_SAMPLES) {
            samples.push(cpu * 1000.0);
        }
        if Instant::now() < *until {
            ui.ctx().request_repaint();
            return;
        }
        samples.sort_by(f32::total_cmp);
        let at = |q: f32| samples.get(((samples.len().max(1) - 1) as f32 * q).round() as usize).copied().unwrap_or(0.0);
        let nodes = self.editor.current.nodes.len();
        println!(
            "frame CPU time, {nodes} nodes, {} frames: median {:.2} ms, p95 {:.2} ms",
            samples.len(),
            at(0.5),
            at(0.95)
        );
        self.stats = None;
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
    }
}
