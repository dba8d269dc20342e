//! Quoting a 10,000-node graph (a mix of every capability, chained in pairs) from the shipped
//! catalog: every node priced with its runner-up, then the totals. Goal: under 30 ms.

use std::collections::BTreeMap;
use std::time::Instant;

use switchyard_catalog::Catalog;
use switchyard_catalog::quote::{Call, totals};

const NODES: usize = 10_000;

fn main() {
    let catalog = Catalog::builtin();
    let picks = [
        ("text_to_image", "bfl:flux-2-pro", vec![("width", "1024"), ("height", "768")]),
        ("text_to_image", "openai:gpt-image-1", vec![("width", "1024"), ("height", "1024"), ("quality", "low")]),
        ("upscale", "replicate:nightmareai/real-esrgan", vec![("scale", "4")]),
        ("image_to_video", "runway:gen4_turbo", vec![("duration_s", "5")]),
        ("text_to_speech", "elevenlabs:eleven_multilingual_v2", vec![("text", "a line of narration")]),
    ];
    let calls: Vec<Call> = (0..NODES)
        .map(|i| {
            let (cap, model, params) = &picks[i % picks.len()];
            let params: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            Call::new(&format!("n{i}"), cap, model, params)
        })
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let started = Instant::now();
        let quotes: Vec<_> = calls.iter().map(|c| catalog.quote(c).expect("priced")).collect();
        let shape: Vec<_> =
            quotes.iter().enumerate().map(|(i, q)| (Some(q), if i % 2 == 1 { vec![i - 1] } else { vec![] })).collect();
        let t = totals(&shape);
        assert!(t.credits.1 > 0);
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "quote of a {NODES}-node graph (every node priced with its runner-up, plus totals): {best:.1} ms best of 10 (goal: under 30 ms)"
    );
}
