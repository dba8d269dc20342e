//! The three-way merge of two edits of one base workflow, node by node and, within a node
//! both sides changed, param by param and wire by wire. Where both sides changed the same
//! thing differently it is a [`Conflict`], named by a key the user picks a side for
//! (`NODE.params.PARAM`, `NODE.inputs.INPUT`, `NODE.type`, `NODE.placement`, `NODE` when one
//! side removed a node the other changed, `name`, `description`). The layout never
//! conflicts: where both moved one node, ours is kept and the merge says so.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchyard_engine::format::{FileMap, NodeEntry, RunSettings, WorkflowFile};

use crate::diff::fields;

/// A side of a merge: ours (the local edit, or the push) or theirs (the server's head).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Ours,
    Theirs,
}

/// One thing both sides changed differently, with the three values (`None`: absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Conflict {
    /// What it is, as a resolution names it.
    pub key: String,
    /// The node it is on, if any.
    pub node: Option<String>,
    pub base: Option<Value>,
    pub ours: Option<Value>,
    pub theirs: Option<Value>,
}

/// A merge's result. Unresolved conflicts take our value in `file`, so a merge with
/// conflicts is never saved as is: the caller asks the user.
#[derive(Clone, Debug)]
pub struct Merged {
    pub file: WorkflowFile,
    /// Conflicts no choice resolved.
    pub conflicts: Vec<Conflict>,
    /// Layout entries (node positions, groups) both sides changed: ours was kept.
    pub layout_kept: Vec<String>,
}

impl Merged {
    /// Whether nothing is left for the user to pick.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// The agreed value of three versions, or `None` when both sides changed it differently.
fn pick3<T: PartialEq + Clone>(base: Option<&T>, ours: Option<&T>, theirs: Option<&T>) -> Option<Option<T>> {
    if ours == theirs || theirs == base {
        Some(ours.cloned())
    } else if ours == base {
        Some(theirs.cloned())
    } else {
        None
    }
}

struct Ctx<'a> {
    choices: &'a BTreeMap<String, Side>,
    conflicts: Vec<Conflict>,
}

impl Ctx<'_> {
    /// A conflicting value: the user's pick, else ours with the conflict recorded.
    fn resolve(
        &mut self,
        key: String,
        node: Option<&str>,
        base: Option<Value>,
        ours: Option<Value>,
        theirs: Option<Value>,
    ) -> Option<Value> {
        match self.choices.get(&key) {
            Some(Side::Ours) => ours,
            Some(Side::Theirs) => theirs,
            None => {
                let kept = ours.clone();
                self.conflicts.push(Conflict { key, node: node.map(str::to_string), base, ours, theirs });
                kept
            }
        }
    }

    fn value(
        &mut self,
        key: String,
        node: Option<&str>,
        b: Option<&Value>,
        o: Option<&Value>,
        t: Option<&Value>,
    ) -> Option<Value> {
        match pick3(b, o, t) {
            Some(v) => v,
            None => self.resolve(key, node, b.cloned(), o.cloned(), t.cloned()),
        }
    }

    /// Three versions of an object merged per key: ours' key order, then theirs' new keys.
    fn map(
        &mut self,
        prefix: &str,
        node: Option<&str>,
        b: &Map<String, Value>,
        o: &Map<String, Value>,
        t: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for key in o.keys().chain(t.keys().filter(|k| !o.contains_key(*k))) {
            if let Some(v) = self.value(format!("{prefix}{key}"), node, b.get(key), o.get(key), t.get(key)) {
                out.insert(key.clone(), v);
            }
        }
        out
    }

    fn node(
        &mut self,
        id: &str,
        b: Option<&NodeEntry>,
        o: Option<&NodeEntry>,
        t: Option<&NodeEntry>,
    ) -> Option<NodeEntry> {
        if let Some(agreed) = pick3(b, o, t) {
            return agreed;
        }
        let (Some(o), Some(t)) = (o, t) else {
            // One side removed the node the other changed.
            let json = |n: Option<&NodeEntry>| n.map(|n| Value::Object(fields(n)));
            let picked = self.resolve(id.to_string(), Some(id), json(b), json(o), json(t));
            return picked.and_then(|v| serde_json::from_value(v).ok());
        };
        let base = b.map(fields).unwrap_or_default();
        let (ours, theirs) = (fields(o), fields(t));
        let mut merged = Map::new();
        for key in ["type", "params", "inputs", "placement", "quality", "requires"] {
            let (bv, ov, tv) = (base.get(key), ours.get(key), theirs.get(key));
            let value = if key == "params" || key == "inputs" {
                let obj = |v: Option<&Value>| v.and_then(Value::as_object).cloned().unwrap_or_default();
                let m = self.map(&format!("{id}.{key}."), Some(id), &obj(bv), &obj(ov), &obj(tv));
                (!m.is_empty()).then_some(Value::Object(m))
            } else {
                self.value(format!("{id}.{key}"), Some(id), bv, ov, tv)
            };
            if let Some(v) = value {
                merged.insert(key.to_string(), v);
            }
        }
        Some(serde_json::from_value(Value::Object(merged)).unwrap_or_else(|_| o.clone()))
    }
}

/// Three versions of a layout object merged per key (ours' order, then theirs' new keys);
/// where both sides changed one entry differently, ours is kept and named in `kept`.
/// `nodes` (the positions) is merged per node the same way.
fn merge_layout(
    b: &Map<String, Value>,
    o: &Map<String, Value>,
    t: &Map<String, Value>,
    kept: &mut Vec<String>,
    nested: bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    for key in o.keys().chain(t.keys().filter(|k| !o.contains_key(*k))) {
        let (bv, ov, tv) = (b.get(key), o.get(key), t.get(key));
        let objects = [bv, ov, tv].iter().flatten().all(|v| v.is_object());
        let picked = if key == "nodes" && !nested && objects {
            let present =
                pick3(bv.map(|_| ()).as_ref(), ov.map(|_| ()).as_ref(), tv.map(|_| ()).as_ref()).unwrap_or(Some(()));
            let obj = |v: Option<&Value>| v.and_then(Value::as_object).cloned().unwrap_or_default();
            present.map(|()| Value::Object(merge_layout(&obj(bv), &obj(ov), &obj(tv), kept, true)))
        } else {
            pick3(bv, ov, tv).unwrap_or_else(|| {
                kept.push(if nested { format!("position of {key}") } else { format!("layout {key}") });
                ov.cloned()
            })
        };
        if let Some(v) = picked {
            out.insert(key.clone(), v);
        }
    }
    out
}

/// The layout of the merge (`None` where the sides agree there is none).
fn merge_ui(
    base: &WorkflowFile,
    ours: &WorkflowFile,
    theirs: &WorkflowFile,
    kept: &mut Vec<String>,
) -> Option<Map<String, Value>> {
    let has = |f: &WorkflowFile| f.ui.as_ref().map(|_| ());
    let present = pick3(has(base).as_ref(), has(ours).as_ref(), has(theirs).as_ref()).unwrap_or(Some(()));
    let ui = |f: &WorkflowFile| f.ui.clone().unwrap_or_default();
    present.map(|()| merge_layout(&ui(base), &ui(ours), &ui(theirs), kept, false))
}

/// The run settings, merged as one value: a change on one side wins, changes on both conflict.
fn merge_run(ctx: &mut Ctx, base: &WorkflowFile, ours: &WorkflowFile, theirs: &WorkflowFile) -> Option<RunSettings> {
    let value = |f: &WorkflowFile| f.run.as_ref().and_then(|r| serde_json::to_value(r).ok());
    let (b, o, t) = (value(base), value(ours), value(theirs));
    let merged = ctx.value("run".into(), None, b.as_ref(), o.as_ref(), t.as_ref())?;
    serde_json::from_value(merged).ok()
}

/// Merges `ours` and `theirs`, both edits of `base`; `choices` settle conflicts by key.
pub fn merge(
    base: &WorkflowFile,
    ours: &WorkflowFile,
    theirs: &WorkflowFile,
    choices: &BTreeMap<String, Side>,
) -> Merged {
    let mut ctx = Ctx { choices, conflicts: Vec::new() };
    let text = |s: &String| Value::String(s.clone());
    let scalar = |ctx: &mut Ctx, key: &str, b: &String, o: &String, t: &String| {
        let v = ctx.value(key.into(), None, Some(&text(b)), Some(&text(o)), Some(&text(t)));
        v.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    };
    let name = scalar(&mut ctx, "name", &base.name, &ours.name, &theirs.name);
    let description = scalar(&mut ctx, "description", &base.description, &ours.description, &theirs.description);
    let mut nodes = FileMap::default();
    let ids = ours.nodes.keys().chain(theirs.nodes.keys().filter(|k| !ours.nodes.contains_key(*k)));
    for id in ids {
        if let Some(n) = ctx.node(id, base.nodes.get(id), ours.nodes.get(id), theirs.nodes.get(id)) {
            nodes.insert(id.clone(), n);
        }
    }
    let run = merge_run(&mut ctx, base, ours, theirs);
    let mut layout_kept = Vec::new();
    let ui = merge_ui(base, ours, theirs, &mut layout_kept);
    let file = WorkflowFile { format: ours.format.clone(), version: ours.version, name, description, nodes, run, ui };
    Merged { file, conflicts: ctx.conflicts, layout_kept }
}
