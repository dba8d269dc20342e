//! Runs from the editor: node states, previews, cancel, and the budget flag.

use egui_kittest::kittest::Queryable;
use switchyard_editor::canvas::look::NodeRun;

use crate::support::{fixture, opened, settle};

#[test]
fn a_small_local_run_ends_with_every_node_done_and_a_preview() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("small-local.json"));
    h.get_by_label("▶ Run").click();
    settle(&mut h, |ed| ed.status.starts_with("run "));
    let ed = h.state();
    for key in ["noise", "soft", "save"] {
        assert!(matches!(ed.look.run_of(key), Some(NodeRun::Done(_))), "{key}: {:?}", ed.look.run_of(key));
    }
    assert_eq!(ed.look.previews.get("soft").map(|p| p.1), Some([96, 64]));
    assert!(out.path().join("soft.png").is_file(), "the save node wrote under the output folder");
    assert!(ed.status.starts_with("run finished"), "{}", ed.status);
    h.get_by_label("preview of soft");
}

#[test]
fn cancel_stops_a_run_and_marks_what_never_ran() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &fixture("slow-local.json"));
    h.get_by_label("▶ Run").click();
    settle(&mut h, |ed| matches!(ed.look.run_of("noise"), Some(NodeRun::Running(_))));
    h.get_by_label("■ Cancel").click();
    settle(&mut h, |ed| ed.status.starts_with("run "));
    let ed = h.state();
    assert!(ed.status.starts_with("run cancelled"), "{}", ed.status);
    assert_eq!(ed.look.run_of("save"), Some(&NodeRun::Cancelled));
    assert!(!out.path().join("slow.png").exists(), "nothing after the cancel ran");
}

#[test]
fn a_quote_over_the_budget_is_flagged_and_the_run_does_not_start() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &crate::support::workflows().join("cloud-draft.json"));
    let most = h.state().look.quote.clone().unwrap().unwrap().credits.1;
    assert!(most > 1, "the pinned OpenAI image costs credits");
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "budget").focus();
    h.step();
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "budget").type_text("1");
    h.run_steps(3);
    let flag = format!("⚠ over budget: up to {most} cr against a budget of 1 cr");
    h.get_by_label(&flag);
    h.get_by_label("▶ Run").click();
    h.run_steps(3);
    assert!(!h.state().running && h.state().look.runs.is_empty(), "nothing ran");
}

#[test]
fn the_balance_shows_and_a_quote_over_it_is_flagged_before_the_run() {
    let out = tempfile::tempdir().unwrap();
    let ledger_path = out.path().join("ledger.db");
    let grant = switchyard_ledger::Grant {
        wallet: "studio".into(),
        amount: switchyard_ledger::Credits(1),
        source: switchyard_ledger::Source::Promo,
        expires_at_ms: None,
        reason: "promo:1".into(),
        rollover_cap: 0,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let ledger = switchyard_ledger::Ledger::open(&ledger_path).await.unwrap();
        ledger.grant(&grant, "test-grant").await.unwrap();
    });
    let mut launch = crate::support::launch(out.path());
    launch.wallet = Some(switchyard_editor::work::Wallet {
        ledger: switchyard_ledger::Location::File(ledger_path),
        account: "studio".into(),
        member: None,
    });
    let editor = switchyard_editor::start(launch, || {}).unwrap();
    let mut h = egui_kittest::Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, ed: &mut switchyard_editor::Editor| ed.ui(ui), editor);
    switchyard_editor::shell::file_actions::open(
        h.state_mut(),
        &crate::support::workflows().join("cloud-draft.json"),
        false,
    );
    settle(&mut h, |ed| ed.balance.is_some() && ed.look.checked_rev == Some(ed.rev));
    let most = h.state().look.quote.clone().unwrap().unwrap().credits.1;
    h.get_by_label("balance: 1 cr");
    h.get_by_label(&format!("⚠ over balance: up to {most} cr, 1 cr available"));
    h.get_by_label("▶ Run").click();
    h.run_steps(3);
    assert!(!h.state().running, "the run does not start");
}

#[test]
fn a_new_policy_requotes_every_badge_as_the_quote_api_does() {
    let out = tempfile::tempdir().unwrap();
    let mut h = opened(out.path(), &crate::support::workflows().join("hybrid-upscale.json"));
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "policy").click();
    h.run_steps(2);
    h.get_by_label("fastest").click();
    h.run_steps(2);
    settle(&mut h, |ed| ed.policy == "fastest" && ed.look.checked_rev == Some(ed.rev) && ed.look.quote.is_some());
    let shown = h.state().look.quote.clone().unwrap().unwrap();
    let expected = crate::support::quote_of(&h.state().current, "fastest");
    assert_eq!(shown, expected, "the badges are the quote API's answer for the new policy");
    let cheapest = crate::support::quote_of(&h.state().current, "cheapest");
    assert_ne!(shown.nodes["final"], cheapest.nodes["final"], "fastest and cheapest place the final differently");
}
