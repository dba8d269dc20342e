//! Named, coloured groups: a titled frame on the canvas whose nodes move with it. A group is
//! a rectangle, as in ComfyUI; a node belongs to it while the node's centre lies inside. They
//! live in the file's `ui.groups` (`title`, `color` as `#rrggbb`, `bounding` as
//! `[x, y, width, height]`, ComfyUI's names), so the engine never sees them.

use std::collections::HashMap;

use egui::{Color32, Pos2, Rect, pos2, vec2};
use egui_snarl::NodeId;
use serde_json::{Value, json};

/// The height of a group's title bar, in canvas points.
pub const TITLE_HEIGHT: f32 = 30.0;
/// The margin a new group leaves around its nodes.
const MARGIN: f32 = 16.0;
/// The most groups a file may hold; more are dropped on opening (with the rest of the file kept).
pub const MAX_GROUPS: usize = 256;
/// The most characters a title keeps.
pub const MAX_TITLE_CHARS: usize = 80;

/// The colours a group may take, with their names for the menu.
pub const COLORS: [(&str, Color32); 6] = [
    ("blue", Color32::from_rgb(0x3f, 0x78, 0x9e)),
    ("green", Color32::from_rgb(0x4a, 0x8a, 0x4e)),
    ("yellow", Color32::from_rgb(0xb5, 0x8b, 0x2a)),
    ("red", Color32::from_rgb(0xa1, 0x30, 0x9b)),
    ("purple", Color32::from_rgb(0x6d, 0x4a, 0x9e)),
    ("grey", Color32::from_rgb(0x55, 0x55, 0x55)),
];

/// One group.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Its title.
    pub title: String,
    /// Its colour.
    pub color: Color32,
    /// Where it lies, title bar included (canvas space).
    pub rect: Rect,
}

impl Group {
    /// A group around `rects`, or `None` for no rects.
    pub fn around(title: &str, rects: &[Rect]) -> Option<Self> {
        let bounds = rects.iter().copied().reduce(|a, b| a.union(b))?;
        let rect =
            Rect::from_min_max(bounds.min - vec2(MARGIN, MARGIN + TITLE_HEIGHT), bounds.max + vec2(MARGIN, MARGIN));
        Some(Self { title: title.to_string(), color: COLORS[0].1, rect })
    }

    /// The title bar, where a drag moves the group.
    pub fn title_bar(&self) -> Rect {
        Rect::from_min_size(self.rect.min, vec2(self.rect.width(), TITLE_HEIGHT))
    }

    /// The corner where a drag resizes the group.
    pub fn corner(&self) -> Rect {
        Rect::from_center_size(self.rect.max - vec2(6.0, 6.0), vec2(20.0, 20.0))
    }

    /// The nodes inside: those whose centre lies within the group.
    pub fn members(&self, rects: &HashMap<NodeId, Rect>) -> Vec<NodeId> {
        let mut inside: Vec<NodeId> =
            rects.iter().filter(|(_, r)| self.rect.contains(r.center())).map(|(id, _)| *id).collect();
        inside.sort_by_key(|id| id.0);
        inside
    }

    /// Whether `other` lies wholly inside this group (a nested group moves with it; the
    /// caller leaves the group itself out).
    pub fn holds(&self, other: &Group) -> bool {
        self.rect.contains_rect(other.rect)
    }
}

/// The group whose title bar (or, with `corner`, resize corner) is at `at`; the last drawn
/// (topmost) wins.
pub fn hit(groups: &[Group], at: Pos2, corner: bool) -> Option<usize> {
    groups.iter().rposition(|g| if corner { g.corner().contains(at) } else { g.title_bar().contains(at) })
}

/// A colour as `#rrggbb`.
pub fn color_hex(c: Color32) -> String {
    format!("#{:02x}{:02x}{:02x}", c.r(), c.g(), c.b())
}

fn parse_hex(text: &str) -> Option<Color32> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some(Color32::from_rgb(byte(0)?, byte(2)?, byte(4)?))
}

/// The groups in a file's `ui.groups`. An entry that is not a group (no finite bounding box
/// with a positive size) is skipped rather than refusing the file: it is only decoration.
pub fn from_ui(value: Option<Value>) -> Vec<Group> {
    let Some(Value::Array(items)) = value else { return Vec::new() };
    items.iter().filter_map(one).take(MAX_GROUPS).collect()
}

fn one(v: &Value) -> Option<Group> {
    let b = v.get("bounding")?.as_array()?;
    let n = |i: usize| b.get(i)?.as_f64().filter(|x| x.is_finite()).map(|x| x as f32);
    let (x, y, w, h) = (n(0)?, n(1)?, n(2)?, n(3)?);
    if w <= 0.0 || h <= 0.0 {
        return None;
    }
    let title: String =
        v.get("title").and_then(Value::as_str).unwrap_or("Group").chars().take(MAX_TITLE_CHARS).collect();
    let color = v.get("color").and_then(Value::as_str).and_then(parse_hex).unwrap_or(COLORS[0].1);
    Some(Group { title, color, rect: Rect::from_min_size(pos2(x, y), vec2(w, h)) })
}

/// The groups as the file's `ui.groups` holds them.
pub fn to_ui(groups: &[Group]) -> Value {
    let round = |x: f32| x.round() as i64;
    Value::Array(
        groups
            .iter()
            .map(|g| {
                let r = g.rect;
                json!({
                    "title": g.title,
                    "color": color_hex(g.color),
                    "bounding": [round(r.min.x), round(r.min.y), round(r.width()), round(r.height())],
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_round_trip_through_the_file_and_bad_entries_are_skipped() {
        let ui = json!([
            {"title": "Look", "color": "#4a8a4e", "bounding": [10, -20, 300, 200]},
            {"title": "no box"},
            {"title": "flat", "bounding": [0, 0, 0, 10]},
            {"bounding": [0, 0, 5, 5], "color": "teal"},
        ]);
        let groups = from_ui(Some(ui));
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].title, "Look");
        assert_eq!(groups[0].color, COLORS[1].1);
        assert_eq!(groups[1].title, "Group", "an untitled group gets a plain title");
        assert_eq!(groups[1].color, COLORS[0].1, "an unknown colour falls back to the first");
        let back = to_ui(&groups[..1]);
        assert_eq!(back, json!([{"title": "Look", "color": "#4a8a4e", "bounding": [10, -20, 300, 200]}]));
    }

    #[test]
    fn a_node_belongs_while_its_centre_is_inside() {
        let g =
            Group { title: "g".into(), color: COLORS[0].1, rect: Rect::from_min_size(Pos2::ZERO, vec2(100.0, 100.0)) };
        let mut rects = HashMap::new();
        rects.insert(NodeId(0), Rect::from_min_size(pos2(10.0, 40.0), vec2(40.0, 40.0)));
        rects.insert(NodeId(1), Rect::from_min_size(pos2(80.0, 40.0), vec2(60.0, 40.0)));
        assert_eq!(g.members(&rects), vec![NodeId(0)]);
        assert_eq!(hit(std::slice::from_ref(&g), pos2(50.0, 10.0), false), Some(0));
        assert_eq!(hit(&[g], pos2(50.0, 50.0), false), None, "only the title bar drags");
    }
}
