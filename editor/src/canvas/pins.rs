//! Pins that remember where they were drawn, so wires can be aimed at them: by tests that
//! drag wires as a user does, and by anything that must find a pin on screen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use egui::{Painter, Rect, Style};
use egui_snarl::NodeId;
use egui_snarl::ui::{PinInfo, PinWireInfo, SnarlPin, SnarlStyle};

/// Which side of a node a pin is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// An input, on the left.
    In,
    /// An output, on the right.
    Out,
}

/// A pin: its node, side and index.
type PinAt = (NodeId, Side, usize);

/// Where each pin was last drawn, in canvas space.
#[derive(Clone, Debug, Default)]
pub struct PinRects(Arc<Mutex<HashMap<PinAt, Rect>>>);

impl PinRects {
    /// The rect of a pin, if it has been drawn.
    pub fn get(&self, node: NodeId, side: Side, index: usize) -> Option<Rect> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&(node, side, index)).copied()
    }

    /// Pins on `side` whose drawn centre is within `radius` of `at` (canvas space), nearest
    /// first.
    pub fn near(&self, at: egui::Pos2, side: Side, radius: f32) -> Vec<(NodeId, usize)> {
        let rects = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut found: Vec<(f32, NodeId, usize)> = rects
            .iter()
            .filter(|((_, s, _), _)| *s == side)
            .map(|((node, _, i), r)| (r.center().distance(at), *node, *i))
            .filter(|(d, _, _)| *d <= radius)
            .collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        found.into_iter().map(|(_, node, i)| (node, i)).collect()
    }

    /// A pin that records its rect here when drawn.
    pub fn pin(&self, info: PinInfo, node: NodeId, side: Side, index: usize) -> Pin {
        Pin { info, at: (node, side, index), rects: self.clone() }
    }
}

/// A pin that records where it is drawn.
pub struct Pin {
    info: PinInfo,
    at: PinAt,
    rects: PinRects,
}

impl SnarlPin for Pin {
    fn draw(self, snarl_style: &SnarlStyle, style: &Style, rect: Rect, painter: &Painter) -> PinWireInfo {
        self.rects.0.lock().unwrap_or_else(PoisonError::into_inner).insert(self.at, rect);
        self.info.draw(snarl_style, style, rect, painter)
    }
}
