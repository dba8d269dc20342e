//! Bypassed and muted nodes, resolved before validation. A bypassed node's outputs each pass
//! on its first wired input of the same type (as ComfyUI bypasses); a muted node is left out,
//! and so is what needs it. Neither runs, costs or appears in the graph.

use std::collections::BTreeSet;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::format::{InputRef, NodeMode, WorkflowFile};
use crate::registry::Registry;

/// The file with bypassed and muted nodes taken out and their wires resolved, or `None` when
/// every node runs. Nodes left without a required input are added to `broken`, each with a
/// diagnostic saying which node cut it off.
pub(crate) fn resolve(
    file: &WorkflowFile,
    registry: &Registry,
    diags: &mut Diagnostics,
    broken: &mut BTreeSet<String>,
) -> Option<WorkflowFile> {
    if file.nodes.values().all(|n| n.mode.is_always()) {
        return None;
    }
    let mut out = file.clone();
    out.nodes.retain(|_, n| n.mode.is_always());
    for (id, entry) in out.nodes.iter_mut() {
        let spec = registry.get(&entry.type_name).map(|n| n.spec());
        let mut cut = Vec::new();
        for (input, wires) in entry.inputs.iter_mut() {
            let (kept, lost) = pass_through(file, registry, wires.sources());
            let required = spec.and_then(|s| s.inputs.iter().find(|i| i.name == input)).is_some_and(|i| !i.optional);
            if kept.is_empty() && required {
                cut.push((input.clone(), lost.unwrap_or_default()));
            }
            *wires = match wires {
                InputRef::One(_) => kept.into_iter().next().map_or(InputRef::Many(Vec::new()), InputRef::One),
                InputRef::Many(_) => InputRef::Many(kept),
            };
        }
        entry.inputs.retain(|_, w| !w.sources().is_empty());
        for (input, (node, mode)) in cut {
            let what = if mode == NodeMode::Mute { "muted" } else { "bypassed with no input of that type" };
            diags.push(
                Diagnostic::node(
                    "input-cut-off",
                    id,
                    format!("input {input:?} comes from node {node:?}, which is {what}"),
                )
                .field(format!("inputs.{input}"))
                .help(format!("mute or bypass {id:?} too, or wire {input:?} to another node")),
            );
            broken.insert(id.clone());
        }
    }
    out.nodes.retain(|id, _| !broken.contains(id));
    Some(out)
}

/// The wires that reach a running node once bypassed nodes pass their inputs through, and
/// the first non-running node (with its mode) a dropped wire came from.
fn pass_through(
    file: &WorkflowFile,
    registry: &Registry,
    wires: &[String],
) -> (Vec<String>, Option<(String, NodeMode)>) {
    let (mut kept, mut lost) = (Vec::new(), None);
    for wire in wires {
        let mut current = wire.clone();
        // Each step moves one node upstream, so a file's node count bounds the walk.
        for _ in 0..=file.nodes.len() {
            let Some((node, port)) = current.rsplit_once('.') else { break };
            let Some(entry) = file.nodes.get(node) else { break };
            match entry.mode {
                NodeMode::Always => break,
                NodeMode::Mute => {
                    lost.get_or_insert((node.to_string(), NodeMode::Mute));
                    current.clear();
                    break;
                }
                NodeMode::Bypass => match bypass_source(registry, entry, port) {
                    Some(next) => current = next,
                    None => {
                        lost.get_or_insert((node.to_string(), NodeMode::Bypass));
                        current.clear();
                        break;
                    }
                },
            }
        }
        if !current.is_empty() {
            kept.push(current);
        }
    }
    (kept, lost)
}

/// The wire feeding a bypassed node's first declared input of `port`'s type.
fn bypass_source(registry: &Registry, entry: &crate::format::NodeEntry, port: &str) -> Option<String> {
    let spec = registry.get(&entry.type_name)?.spec();
    let ty = spec.outputs.iter().find(|o| o.name == port)?.ty;
    spec.inputs
        .iter()
        .filter(|i| i.ty == ty)
        .find_map(|i| entry.inputs.get(i.name).and_then(|w| w.sources().first().cloned()))
}
