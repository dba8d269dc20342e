//! Where nodes go: a layered auto-arrange by topological depth (as graph editors lay out
//! DAGs), and a free spot for a new node that covers no other.

use std::collections::HashMap;

use egui::{Pos2, Rect, Vec2, pos2, vec2};
use egui_snarl::NodeId;

use crate::document::model::Doc;

/// The size assumed for a node not drawn yet.
pub const NODE_SIZE_GUESS: Vec2 = vec2(260.0, 180.0);
/// Space between columns and between nodes in a column.
const GAP: Vec2 = vec2(70.0, 30.0);
/// Rings of candidate spots tried around the wanted one.
const FREE_SPOT_RINGS: i32 = 12;

impl Doc {
    /// Each node's depth: the longest path to it from a node with no inputs.
    fn depths(&self) -> HashMap<NodeId, usize> {
        let mut depth: HashMap<NodeId, usize> = self.snarl.node_ids().map(|(id, _)| (id, 0)).collect();
        let wires: Vec<(NodeId, NodeId)> = self.snarl.wires().map(|(o, i)| (o.node, i.node)).collect();
        // Longest paths by relaxation: at most one pass per node in a DAG.
        for _ in 0..depth.len() {
            let mut changed = false;
            for (from, to) in &wires {
                let want = depth.get(from).copied().unwrap_or(0) + 1;
                if let Some(d) = depth.get_mut(to).filter(|d| **d < want) {
                    *d = want;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        depth
    }

    /// Lays the graph out in columns by depth, left to right, each column ordered by where
    /// its inputs sit (fewer crossings), using each node's drawn size where known.
    pub fn arrange(&mut self, sizes: &HashMap<NodeId, Rect>) {
        let depth = self.depths();
        let columns = depth.values().copied().max().map_or(0, |d| d + 1);
        let size = |id: &NodeId| sizes.get(id).map_or(NODE_SIZE_GUESS, Rect::size);
        let mut placed: HashMap<NodeId, Pos2> = HashMap::new();
        let mut x = 0.0;
        for col in 0..columns {
            let mut members: Vec<NodeId> = depth.iter().filter(|(_, d)| **d == col).map(|(id, _)| *id).collect();
            let upstream_y = |id: &NodeId| {
                let ys: Vec<f32> = self
                    .snarl
                    .wires()
                    .filter(|(_, i)| i.node == *id)
                    .filter_map(|(o, _)| placed.get(&o.node).map(|p| p.y))
                    .collect();
                if ys.is_empty() { f32::MAX } else { ys.iter().sum::<f32>() / ys.len() as f32 }
            };
            let seq = |id: &NodeId| self.snarl.get_node(*id).map_or(0, |n| n.seq);
            members.sort_by(|a, b| upstream_y(a).total_cmp(&upstream_y(b)).then(seq(a).cmp(&seq(b))));
            let mut y = 0.0;
            let mut width: f32 = 0.0;
            for id in members {
                placed.insert(id, pos2(x, y));
                y += size(&id).y + GAP.y;
                width = width.max(size(&id).x);
            }
            x += width + GAP.x;
        }
        for (id, pos) in placed {
            if let Some(info) = self.snarl.get_node_info_mut(id) {
                info.pos = pos;
            }
        }
    }

    /// The spot nearest `want` where a new node covers no drawn node, searched outward.
    pub fn free_spot(&self, want: Pos2, sizes: &HashMap<NodeId, Rect>) -> Pos2 {
        let taken: Vec<Rect> = self
            .snarl
            .nodes_pos_ids()
            .map(|(id, pos, _)| Rect::from_min_size(pos, sizes.get(&id).map_or(NODE_SIZE_GUESS, Rect::size)))
            .map(|r| r.expand(12.0))
            .collect();
        let free = |at: Pos2| !taken.iter().any(|r| r.intersects(Rect::from_min_size(at, NODE_SIZE_GUESS)));
        let step = vec2(NODE_SIZE_GUESS.x / 2.0, NODE_SIZE_GUESS.y / 2.0);
        for ring in 0..FREE_SPOT_RINGS {
            let mut cells: Vec<(i32, i32)> = (-ring..=ring)
                .flat_map(|dx| (-ring..=ring).map(move |dy| (dx, dy)))
                .filter(|(dx, dy)| dx.abs().max(dy.abs()) == ring)
                .collect();
            cells.sort_by_key(|(dx, dy)| dx * dx + dy * dy);
            for (dx, dy) in cells {
                let at = want + vec2(dx as f32 * step.x, dy as f32 * step.y);
                if free(at) {
                    return at;
                }
            }
        }
        want
    }
}
