//! Placing and quoting a 10,000-node graph (a mix of every capability, chained in pairs)
//! from the shipped catalog under each policy: every node's candidates priced and ranked,
//! the graph-wide pass where the policy has one, the runner-up line, and the totals.
//! Half the nodes name their model; the rest are placed. Goal: under 30 ms.

use std::collections::BTreeMap;
use std::time::Instant;

use switchyard_catalog::Catalog;
use switchyard_catalog::place::{Need, Options, Prefs};
use switchyard_catalog::quote::Call;

/// The binary's allocator, so the figure is what `switchyard quote` sees.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NODES: usize = 10_000;
/// A Wednesday noon, UTC: no surge window.
const AT: i64 = 1_763_553_600;

fn graph() -> Vec<(Option<Need>, Vec<usize>)> {
    let picks = [
        ("text_to_image", "bfl:flux-2-pro", vec![("prompt", "a fox"), ("width", "1024"), ("height", "768")]),
        ("text_to_image", "openai:gpt-image-1", vec![("prompt", "a fox"), ("width", "1024"), ("height", "1024")]),
        ("upscale", "replicate:nightmareai/real-esrgan", vec![("scale", "4")]),
        ("image_to_video", "runway:gen4_turbo", vec![("duration_s", "5")]),
        ("text_to_speech", "elevenlabs:eleven_multilingual_v2", vec![("text", "a line of narration")]),
    ];
    (0..NODES)
        .map(|i| {
            let (cap, model, params) = &picks[i % picks.len()];
            let mut params: BTreeMap<String, String> =
                params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let set = params.keys().cloned().collect();
            params.insert("quality".into(), "auto".into());
            let model = if i % 2 == 0 { *model } else { "" };
            let need = Need {
                call: Call::new(&format!("n{i}"), cap, model, params),
                set,
                prefs: Prefs::default(),
                final_quality: false,
            };
            (Some(need), if i % 2 == 1 { vec![i - 1] } else { vec![] })
        })
        .collect()
}

fn main() {
    let catalog = Catalog::builtin();
    let nodes = graph();
    for policy in ["cheapest", "fastest", "greenest", "local-first"] {
        let opts = Options::new(policy.parse().expect("a policy"), AT);
        let mut best = f64::INFINITY;
        for _ in 0..10 {
            let started = Instant::now();
            let plan = catalog.plan(&nodes, &opts).expect("placed");
            assert!(plan.totals.credits.1 > 0);
            best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        }
        println!("place and quote a {NODES}-node graph, {policy}: {best:.1} ms best of 10 (goal: under 30 ms)");
    }
}
