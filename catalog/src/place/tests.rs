use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::quote::Call;

/// Wednesday 2025-11-19, 12:00 UTC: no surge or off-peak window.
const WED_NOON: i64 = 1_763_553_600;

/// A need whose params are all set away from their defaults, plus `quality = "auto"` (the
/// default), as the binary passes it.
fn need(node: &str, capability: &str, params: &[(&str, &str)]) -> Need {
    let mut params: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let set = params.keys().cloned().collect();
    params.entry("quality".into()).or_insert("auto".into());
    Need { call: Call::new(node, capability, "", params), set, prefs: Prefs::default(), final_quality: false }
}

fn opts(policy: &str) -> Options {
    Options::new(policy.parse().unwrap(), WED_NOON)
}

fn place_one(n: Need, o: &Options) -> Result<Placed, PlaceError> {
    let plan = Catalog::builtin().plan(&[(Some(n), vec![])], o)?;
    Ok(plan.nodes.into_iter().next().flatten().unwrap())
}

fn image(prompt: &str) -> Need {
    need("gen", "text_to_image", &[("prompt", prompt), ("width", "1024"), ("height", "1024")])
}

#[test]
fn cheapest_takes_the_economy_route_and_names_the_runner_up() {
    let clip = need("clip", "image_to_video", &[("duration_s", "10")]);
    let standard = place_one(clip.clone(), &opts("cheapest")).unwrap();
    assert!(!standard.quote.placement.contains('/'), "economy is opt-in: {}", standard.quote.placement);
    let mut o = opts("cheapest");
    o.routes.insert(crate::Route::Economy);
    let p = place_one(clip, &o).unwrap();
    assert!(p.quote.credits.1 < standard.quote.credits.1);
    assert!(p.quote.placement.ends_with("/economy"), "{}", p.quote.placement);
    assert!(p.quote.why.starts_with("cheapest (price x0.82: economy route)"), "{}", p.quote.why);
    assert!(p.quote.why.contains("; runner-up "), "{}", p.quote.why);
    let next = &p.candidates[1];
    assert!(next.credits.1 >= p.quote.credits.1 && !next.id.starts_with(p.quote.placement.split(':').next().unwrap()));
}

#[test]
fn greenest_and_fastest_rank_by_their_own_measure() {
    let green = place_one(image("a fox"), &opts("greenest")).unwrap();
    let fast = place_one(image("a fox"), &opts("fastest")).unwrap();
    for c in &green.candidates[1..] {
        assert!(c.gco2eq >= green.quote.gco2eq, "{} beats {}", c.placement, green.quote.placement);
    }
    for c in &fast.candidates[1..] {
        assert!(c.eta_s.0 >= fast.quote.eta_s.0, "{} beats {}", c.placement, fast.quote.placement);
    }
    assert!(green.quote.why.starts_with("least gCO2eq"), "{}", green.quote.why);
}

#[test]
fn fastest_spreads_parallel_work_across_providers_when_slots_run_out() {
    let nodes: Vec<_> = (0..6).map(|i| (Some(image(&format!("shot {i}"))), vec![])).collect();
    let mut o = opts("fastest");
    o.provider_slots = 1;
    let plan = Catalog::builtin().plan(&nodes, &o).unwrap();
    let providers: BTreeSet<_> =
        plan.nodes.iter().flatten().map(|p| p.quote.placement.split(':').next().unwrap().to_string()).collect();
    assert!(providers.len() > 1, "all on one provider: {providers:?}");
    let one = place_one(image("x"), &o).unwrap();
    assert!(plan.totals.makespan_s < 6.0 * one.quote.eta_s.0, "{} s", plan.totals.makespan_s);
}

#[test]
fn local_first_keeps_drafts_here_and_sends_finals_to_the_cloud() {
    let mut o = opts("local-first");
    o.local.insert("local:upscale2x".into(), Ok(0.4));
    let draft = need("up", "upscale", &[("scale", "2")]);
    let p = place_one(draft.clone(), &o).unwrap();
    assert_eq!((p.quote.placement.as_str(), p.quote.credits), ("local:upscale2x", (0, 0)));
    assert!(p.quote.why.starts_with("a draft, run here for free"), "{}", p.quote.why);
    let mut fin = draft.clone();
    fin.final_quality = true;
    let p = place_one(fin, &o).unwrap();
    assert!(p.quote.placement.starts_with("replicate:"), "only Replicate upscales 2x: {}", p.quote.placement);
    assert!(p.quote.why.starts_with("a final, sent to the cloud (cheapest)"), "{}", p.quote.why);
    o.local.insert("local:upscale2x".into(), Err("the ONNX Runtime did not load".into()));
    let p = place_one(draft, &o).unwrap();
    assert!(!p.quote.placement.starts_with("local"), "{}", p.quote.placement);
}

#[test]
fn overrides_pin_order_and_exclude() {
    let o = opts("cheapest");
    let mut n = image("a fox");
    n.prefs.pin = Some("bfl:flux-2-pro".into());
    let p = place_one(n, &o).unwrap();
    assert!(p.quote.placement.starts_with("bfl:flux-2-pro@bfl-eu"), "{}", p.quote.placement);
    assert!(p.quote.why.starts_with("pinned in the workflow") && p.quote.why.contains("runner-up"), "{}", p.quote.why);
    let mut n = image("a fox");
    n.prefs.order = vec!["ideogram".into(), "openai".into()];
    assert!(place_one(n, &o).unwrap().quote.placement.starts_with("ideogram:v3"));
    let mut n = image("a fox");
    n.prefs.only = vec!["openai".into(), "bfl:flux-2-pro".into()];
    n.prefs.ignore = vec!["bfl".into()];
    assert!(place_one(n, &o).unwrap().quote.placement.starts_with("openai:gpt-image-1"));
}

#[test]
fn no_placement_names_the_constraint_that_excluded_each_candidate() {
    let mut n = need("gen", "text_to_image", &[("prompt", "a fox"), ("negative_prompt", "blur")]);
    n.prefs.only = vec!["bfl".into(), "openai".into(), "luma".into()];
    let err = place_one(n, &opts("cheapest")).unwrap_err().to_string();
    assert!(err.starts_with("gen: no placement for text_to_image:"), "{err}");
    assert!(err.contains("\n  bfl:flux-2-pro: takes no negative_prompt; leave it at its default"), "{err}");
    assert!(err.contains("\n  stability:core: not in placement.only"), "{err}");
    assert!(err.contains("\n  openai:gpt-image-1: takes no negative_prompt"), "{err}");
    let mut n = image("a fox");
    n.prefs.only = vec!["openai".into()];
    n.prefs.max_credits = Some(1);
    let err = place_one(n, &opts("cheapest")).unwrap_err().to_string();
    assert!(err.contains("openai:gpt-image-1: costs up to 42 cr, over placement.max_credits 1"), "{err}");
    let kling = need("clip", "image_to_video", &[("duration_s", "7")]);
    let mut kling = kling;
    kling.prefs.pin = Some("kling:kling-v1-6".into());
    let err = place_one(kling, &opts("cheapest")).unwrap_err().to_string();
    assert!(err.contains("kling:kling-v1-6: takes duration_s 5 or 10 only, not 7"), "{err}");
}

#[test]
fn bad_preferences_and_policies_are_named() {
    let mut n = image("a fox");
    n.prefs.ignore = vec!["bfll".into()];
    let err = place_one(n, &opts("cheapest")).unwrap_err().to_string();
    assert!(err.starts_with("gen: placement.ignore: \"bfll\" names no provider"), "{err}");
    let mut n = need("gen", "text_to_image", &[("prompt", "x")]);
    n.call.model = "openai:gpt-image-1".into();
    n.prefs.pin = Some("bfl:flux-2-pro".into());
    let err = place_one(n, &opts("cheapest")).unwrap_err().to_string();
    assert!(err.contains("pins bfl:flux-2-pro but the provider param says openai:gpt-image-1"), "{err}");
    let err = "brand:intel".parse::<Policy>().unwrap_err();
    assert!(err.contains("is not a policy; use one of fastest, cheapest"), "{err}");
    assert_eq!("local-first:greenest".parse::<Policy>().unwrap().to_string(), "local-first:greenest");
}

#[test]
fn brand_reasons_name_the_brand_as_people_write_it() {
    let plan = place_one(image("a fox"), &opts("brand:google")).unwrap();
    assert!(!plan.quote.why.contains("googletpu"), "{}", plan.quote.why);
    assert!(plan.quote.why.contains("Google TPU"), "{}", plan.quote.why);
}

#[test]
fn surge_windows_raise_the_price_and_say_so() {
    let mut n = image("a fox");
    n.prefs.pin = Some("openai:gpt-image-1".into());
    let calm = place_one(n.clone(), &opts("cheapest")).unwrap();
    let mut peak = opts("cheapest");
    peak.at_unix_s = WED_NOON + 5 * 3600;
    let surged = place_one(n, &peak).unwrap();
    assert!(surged.quote.why.contains("us-peak"), "{}", surged.quote.why);
    let ratio = surged.quote.credits.1 as f64 / calm.quote.credits.1 as f64;
    assert!((1.3..=1.7).contains(&ratio), "{:?} against {:?}", surged.quote.credits, calm.quote.credits);
}

#[test]
fn a_deadline_buys_speed_only_where_the_graph_needs_it() {
    let chain: Vec<_> =
        (0..3).map(|i| (Some(image(&format!("f{i}"))), if i == 0 { vec![] } else { vec![i - 1] })).collect();
    let catalog = Catalog::builtin();
    let mut economy = opts("cheapest");
    economy.routes.insert(crate::Route::Economy);
    let cheap = catalog.plan(&chain, &economy).unwrap();
    let fast = catalog.plan(&chain, &opts("fastest")).unwrap();
    let mut o = opts("cheapest");
    o.routes.insert(crate::Route::Economy);
    let deadline = (cheap.totals.makespan_s + fast.totals.makespan_s) / 2.0;
    o.deadline_s = Some(deadline);
    let timed = catalog.plan(&chain, &o).unwrap();
    assert!(timed.totals.makespan_s <= deadline, "{} s over {deadline} s", timed.totals.makespan_s);
    assert!(timed.totals.credits.1 >= cheap.totals.credits.1 && timed.totals.credits.1 <= fast.totals.credits.1);
    assert!(timed.totals.credits.1 < fast.totals.credits.1, "the slack went unspent: {:?}", timed.totals);
    o.deadline_s = Some(1.0);
    let err = catalog.plan(&chain, &o).unwrap_err().to_string();
    assert!(err.starts_with("no placement finishes within the deadline of 1 s"), "{err}");
}

#[test]
fn the_green_route_runs_in_the_greenest_listed_region_at_a_premium() {
    let text = crate::BUILTIN.replacen("regions = [\"bfl-eu\"]", "regions = [\"openai-us\", \"bfl-eu\"]", 1);
    let catalog = Catalog::parse(&text, crate::CARBON_CSV).unwrap();
    let mut n = image("a fox");
    n.prefs.pin = Some("bfl:flux-2-pro".into());
    let plan = catalog.plan(&[(Some(n), vec![])], &opts("greenest")).unwrap();
    let p = plan.nodes[0].as_ref().unwrap();
    assert_eq!(p.quote.placement, "bfl:flux-2-pro@bfl-eu/green");
    assert!(p.quote.why.contains("x1.12: green route"), "{}", p.quote.why);
}
