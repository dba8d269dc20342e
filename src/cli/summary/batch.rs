//! A batch's summary: one aligned line per item (item, status, time, outputs), failed items
//! last and marked, then the totals.

use switchyard_engine::{NodeStatus, RunReport, RunStatus};

use super::duration_text;

/// Writes one line per item, succeeded items first in batch order, then the rest, each
/// failure followed by the failing node and its error.
pub fn write(out: &mut impl std::fmt::Write, runs: &[RunReport]) {
    let (ok, bad): (Vec<&RunReport>, Vec<&RunReport>) = runs.iter().partition(|r| r.status == RunStatus::Succeeded);
    let item_w = runs.iter().map(|r| item_name(r).chars().count()).max().unwrap_or(4).max(4);
    let time_w = runs.iter().map(|r| duration_text(r.duration_ms).len()).max().unwrap_or(4).max(4);
    let _ = writeln!(out, "  {:<item_w$}  {:<9}  {:>time_w$}  outputs", "item", "status", "time");
    for r in ok.iter().chain(&bad) {
        let status = match r.status {
            RunStatus::Succeeded => "ok".to_string(),
            s => format!("{s:?}").to_uppercase(),
        };
        let mark = if r.status == RunStatus::Succeeded { ' ' } else { '!' };
        let outputs: Vec<String> = r.files().map(|f| f.display().to_string()).collect();
        let outputs = if outputs.is_empty() { "-".to_string() } else { outputs.join(", ") };
        let (item, time) = (item_name(r), duration_text(r.duration_ms));
        let _ = writeln!(out, "{mark} {item:<item_w$}  {status:<9}  {time:>time_w$}  {outputs}");
        for n in r.nodes.iter().filter(|n| n.status == NodeStatus::Failed) {
            let _ = writeln!(out, "      {}: {}", n.id.as_str(), n.error().unwrap_or("failed"));
        }
    }
    let node_ms: u64 = runs.iter().map(|r| r.duration_ms).sum();
    let _ = writeln!(
        out,
        "batch: {} items, {} succeeded, {} failed or cancelled; {} of item time",
        runs.len(),
        ok.len(),
        bad.len(),
        duration_text(node_ms)
    );
}

fn item_name(r: &RunReport) -> &str {
    r.item.as_deref().unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use switchyard_engine::{NodeDetail, NodeId, NodeReport};

    use super::*;

    fn report(item: &str, status: RunStatus, duration_ms: u64, file: Option<&str>) -> RunReport {
        let node_status = if status == RunStatus::Succeeded { NodeStatus::Executed } else { NodeStatus::Failed };
        let detail = NodeDetail {
            error: (node_status == NodeStatus::Failed).then(|| "cannot write".to_string()),
            files: file.into_iter().map(Into::into).collect(),
            ..NodeDetail::default()
        };
        let node =
            NodeReport::new(NodeId::new("save"), "save_image", node_status, Some(duration_ms)).with_detail(detail);
        RunReport {
            workflow: "wf".into(),
            item: Some(item.into()),
            status,
            duration_ms,
            nodes: vec![node],
            values: Default::default(),
        }
    }

    #[test]
    fn failed_items_come_last_marked_and_columns_line_up() {
        let runs = [
            report("frame-001", RunStatus::Failed, 950, None),
            report("frame-002", RunStatus::Succeeded, 9_500, Some("out/frame-002.png")),
            report("f3", RunStatus::Succeeded, 125_000, Some("out/f3.png")),
        ];
        let mut text = String::new();
        write(&mut text, &runs);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("  frame-002  ok") && lines[1].ends_with("9.5 s  out/frame-002.png"), "{text}");
        assert!(lines[2].starts_with("  f3         ok") && lines[2].contains("2 min 05 s  out/f3.png"), "{text}");
        assert!(lines[3].starts_with("! frame-001  FAILED"), "{text}");
        assert_eq!(lines[4], "      save: cannot write", "{text}");
        let at = |l: &str, s: &str| l.find(s);
        assert_eq!(at(lines[1], "out/"), at(lines[2], "out/"), "{text}");
        assert!(lines[5].starts_with("batch: 3 items, 2 succeeded, 1 failed"), "{text}");
    }
}
