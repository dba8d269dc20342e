//! Money and input safety at the command line (issue 13): what a run may void, post or leave
//! unknown; admission that reserves what it admits; paid results never paid twice; hostile
//! provider replies; and ledger input refused before it can do harm. Each test is named
//! after the behaviour it holds.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_mock::{Fault, MockServer};

use crate::spend::{AT, Farm, node, root};

fn shot() -> std::path::PathBuf {
    root().join("workflows/cloud-shot.json")
}

fn holds_of(farm: &Farm, provider: &str) -> Vec<Value> {
    farm.holds().into_iter().filter(|h| h["provider"] == provider).collect()
}

/// Starts a billed run of `workflow` without waiting for it; each run keeps its paid
/// results apart, so every one of them pays.
fn spawn_run(farm: &Farm, workflow: &std::path::Path, account: &str) -> Child {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    farm.cmd()
        .args(["run", "--json", "--no-disk-cache", "--out", "out", "--account", account, "--at", AT, "--ledger"])
        .arg(farm.ledger())
        .arg("--paid-results")
        .arg(farm.dir.path().join(format!("paid-{n}")))
        .arg(workflow)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 20 s) until the mock has seen a request to `route`.
fn wait_for(mock: &MockServer, route: &str) {
    let start = Instant::now();
    while mock.requests_to(route).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "no request to {route}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// The Runway clip was made and paid for, then writing it was refused: the charge is
/// posted (the provider did the work), and the clip is kept, so the re-run after the fix
/// writes it without paying again.
#[test]
fn a_local_failure_after_a_paid_call_posts_the_charge_and_keeps_the_result() {
    let farm = Farm::new();
    std::fs::create_dir_all(farm.dir.path().join("out")).unwrap();
    std::fs::write(farm.dir.path().join("out/clips"), "a file where the clip's folder should be").unwrap();
    let set = ["--set", "clip.path=clips/clip.mp4"];
    let (code, summary, err) = farm.run(&shot(), &set);
    assert_eq!(code, 1, "{err}");
    let clip = node(&summary, "clip");
    assert_eq!(clip["status"], "failed");
    assert!(clip["error"].as_str().unwrap().contains("re-run after the fix reuses it"), "{clip}");
    let runway = holds_of(&farm, "runway");
    assert_eq!((runway.len(), &runway[0]["state"]), (1, &Value::from("posted")), "{runway:?}");
    let paid = runway[0]["posted"].as_i64().unwrap();
    assert!(paid > 0);
    assert_eq!(clip["metering"]["credits"]["charged"], paid, "the summary counts what was charged");
    std::fs::remove_file(farm.dir.path().join("out/clips")).unwrap();
    let before = farm.available();
    let (code, summary, err) = farm.run(&shot(), &set);
    assert_eq!(code, 0, "{err}");
    assert_eq!(farm.mock.requests_to("runway.create").len(), 1, "the kept clip was not paid for again");
    assert_eq!(summary["credits"]["charged"], 0, "{}", summary["credits"]);
    assert_eq!(farm.available(), before);
    let clip = std::fs::read(farm.dir.path().join("out/clips/clip.mp4")).unwrap();
    assert!(clip.len() > 100 && &clip[4..8] == b"ftyp", "a real MP4 was written from the kept bytes");
}

/// Re-running unchanged graphs (an image, a video and speech) calls no provider and
/// charges nothing, even with no output cache on disk.
#[test]
fn rerunning_an_unchanged_graph_never_pays_again() {
    let farm = Farm::new();
    let voice = root().join("workflows/cloud-voiceover.json");
    for wf in [shot(), voice.clone()] {
        let (code, _, err) = farm.run(&wf, &[]);
        assert_eq!(code, 0, "{err}");
    }
    let calls = farm.mock.requests().len();
    let before = farm.available();
    for wf in [shot(), voice] {
        let (code, summary, err) = farm.run(&wf, &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(summary["credits"]["charged"], 0, "{}", summary["credits"]);
    }
    assert_eq!(farm.mock.requests().len(), calls, "no provider was called again");
    assert_eq!(farm.available(), before);
    let out = farm.dir.path().join("out");
    for written in ["shot/clip_0002.mp4", "voice/line_0002.wav", "shot/cutout_0002.png"] {
        assert!(out.join(written).is_file(), "{written} was written from the kept result");
    }
    assert_eq!(
        std::fs::read(out.join("shot/clip_0001.mp4")).unwrap(),
        std::fs::read(out.join("shot/clip_0002.mp4")).unwrap()
    );
}

/// Six processes start the 74 cr shot together on a 300 cr wallet: exactly the four that fit
/// are admitted and all of them finish; the other two are refused up front (exit 3) having
/// sent and spent nothing.
#[test]
fn concurrent_runs_are_admitted_only_while_their_most_fits() {
    let farm = Farm::new();
    for payment in ["p1", "p2", "p3"] {
        let out = farm
            .cmd()
            .args(["credits", "--ledger"])
            .arg(farm.ledger())
            .args(["--account", "small", "topup", "--pack", "100", "--payment-id", payment])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let runs: Vec<Child> = (0..6).map(|_| spawn_run(&farm, &shot(), "small")).collect();
    let codes: Vec<(i32, String)> = runs
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
        })
        .collect();
    let admitted = codes.iter().filter(|(c, _)| *c == 0).count();
    let refused: Vec<&String> = codes.iter().filter(|(c, _)| *c == 3).map(|(_, e)| e).collect();
    assert_eq!((admitted, refused.len()), (4, 2), "{codes:?}");
    assert!(refused.iter().all(|e| e.contains("nothing was run or charged")), "{refused:?}");
    assert_eq!(farm.mock.requests_to("runway.create").len(), 4, "refused runs sent nothing");
    let small = farm
        .cmd()
        .args(["credits", "--ledger"])
        .arg(farm.ledger())
        .args(["--account", "small", "balance", "--json"])
        .output()
        .unwrap();
    let balance: Value = serde_json::from_slice(&small.stdout).unwrap();
    assert_eq!(balance["balance"]["held"], 0, "every reservation was released");
    assert_eq!(balance["balance"]["available"], 300 - 4 * 74);
}

/// SIGTERM while Runway's create is on the wire: the run stops as Ctrl-C stops it (exit
/// 130), and the hold is left unknown for reconciliation, never voided.
#[test]
fn sigterm_during_an_in_flight_create_leaves_the_hold_unknown() {
    let farm = Farm::new();
    farm.mock.script("runway.create", [Fault::Slow(Duration::from_secs(8))]);
    let child = spawn_run(&farm, &shot(), "studio");
    wait_for(&farm.mock, "runway.create");
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let runway = holds_of(&farm, "runway");
    assert_eq!(runway.len(), 1, "{runway:?}");
    assert_eq!(runway[0]["state"], "unknown", "{runway:?}");
    assert!(runway[0]["sent_at_ms"].is_i64(), "the intent was written before the create went out");
}

/// Ctrl-C just after Runway's create went out: the create's reply is awaited (briefly), the
/// provider's cancel endpoint is called for the task it names, and the hold is unknown.
#[test]
fn ctrl_c_after_a_create_cancels_the_task_at_the_provider_and_leaves_the_hold_unknown() {
    let farm = Farm::new();
    farm.mock.script("runway.create", [Fault::Slow(Duration::from_millis(800))]);
    let child = spawn_run(&farm, &shot(), "studio");
    wait_for(&farm.mock, "runway.create");
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(farm.mock.requests_to("runway.cancel").len(), 1, "the task was cancelled at Runway");
    let runway = holds_of(&farm, "runway");
    assert_eq!(runway[0]["state"], "unknown", "{runway:?}");
    assert!(runway[0]["vendor_id"].is_string(), "the task id was recorded: {runway:?}");
}

/// A 429 whose `Retry-After` is absurd (1e19 s, 1e20, inf; `retry-after-ms: 1e25`) once
/// panicked the client and left the hold unknown for ever. Now the wait is clamped to the
/// call's deadline and, as a 429 means the provider did not take the work, the hold is voided.
#[test]
fn hostile_retry_after_headers_fail_cleanly_and_void_the_hold() {
    for (name, value) in
        [("retry-after", "1e19"), ("retry-after", "1e20"), ("retry-after", "inf"), ("retry-after-ms", "1e25")]
    {
        let farm = Farm::new();
        let fault = Fault::Headers { status: 429, headers: vec![(name, value.to_string())] };
        farm.mock.script("bfl.create", std::iter::repeat_n(fault, 8));
        let (code, summary, err) = farm.run(&shot(), &[]);
        assert_eq!(code, 1, "{name}: {value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        let key = node(&summary, "key");
        assert_eq!(key["status"], "failed", "{key}");
        let bfl = holds_of(&farm, "bfl");
        assert!(bfl.iter().all(|h| h["state"] == "voided"), "{name}: {value}: {bfl:?}");
    }
}

/// A `307` on BFL's create pointing at another origin: the request is not followed, so the
/// key never reaches it; the node fails saying why, and as nothing was taken, nothing is owed.
#[test]
fn a_provider_key_never_follows_a_redirect_to_another_origin() {
    let farm = Farm::new();
    let rt = crate::support::runtime();
    let elsewhere = rt.block_on(MockServer::start(0)).unwrap();
    let location = format!("{}/v1/flux-2-pro", elsewhere.base_url("bfl"));
    farm.mock.script("bfl.create", [Fault::Headers { status: 307, headers: vec![("location", location)] }]);
    let (code, summary, err) = farm.run(&shot(), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(elsewhere.requests().is_empty(), "nothing reached the other origin");
    let message = node(&summary, "key")["error"].as_str().unwrap().to_string();
    assert!(message.contains("redirect") && message.contains("credentials are never sent"), "{message}");
    assert!(!message.contains(switchyard_mock::keys::BFL), "{message}");
    assert!(holds_of(&farm, "bfl").iter().all(|h| h["state"] == "voided"));
}

/// `credits resolve` settles an unknown hold on evidence, which the hold keeps.
#[test]
fn an_operator_resolves_an_unknown_hold_with_evidence() {
    let farm = Farm::new();
    farm.mock.script("runway.create", [Fault::LoseReply]);
    let (code, _, err) = farm.run(&shot(), &[]);
    assert_eq!(code, 1, "{err}");
    let hold = holds_of(&farm, "runway")[0]["id"].as_str().unwrap().to_string();
    let before = farm.available();
    let (code, _) = farm.credits(&["resolve", &hold, "--post", "50"]);
    assert_eq!(code, 2, "evidence is required");
    let (code, _) = farm.credits(&["resolve", &hold, "--post", "50", "--evidence", "Runway invoice 2025-11, line 3"]);
    assert_eq!(code, 0);
    let h = holds_of(&farm, "runway").remove(0);
    assert_eq!((&h["state"], &h["posted"]), (&Value::from("posted"), &Value::from(50)), "{h}");
    assert_eq!(h["evidence"], "Runway invoice 2025-11, line 3");
    assert_eq!(farm.available(), before + 63 - 50, "the unused part of the hold was released");
    let (code, _) = farm.credits(&["resolve", &hold, "--void", "--evidence", "again"]);
    assert_eq!(code, 2, "a settled hold cannot be resolved twice");
}

/// Bad wallet input exits 2 with nothing changed: a refused grant leaves its month's key
/// free, huge amounts are refused, a payment needs an id, a foreign SQLite file is left
/// untouched, and a team pool is spent only by a named member.
#[test]
fn bad_ledger_input_is_refused_with_exit_2_and_changes_nothing() {
    let farm = Farm::new();
    let credits = |account: &str, args: &[&str]| {
        let out = farm
            .cmd()
            .args(["credits", "--ledger"])
            .arg(farm.ledger())
            .args(["--account", account])
            .args(args)
            .output();
        let out = out.unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    assert_eq!(credits("corp", &["grant", "--plan", "enterprise", "--credits", "0"]).0, 2);
    assert_eq!(credits("corp", &["grant", "--plan", "enterprise", "--credits", "5000"]).0, 0, "the month is not burnt");
    assert_eq!(credits("big", &["grant", "--plan", "enterprise", "--credits", "9223372036854775807"]).0, 2);
    assert_eq!(credits("big", &["grant", "--plan", "team-seat", "--seats", "9223372036854775807"]).0, 2);
    assert_eq!(credits("big", &["topup", "--pack", "100", "--payment-id", ""]).0, 2);
    let total: Value = serde_json::from_str(&credits("corp", &["balance", "--json"]).1).unwrap();
    assert_eq!(total["balance"]["available"], 5000);
    assert_eq!(credits("big", &["balance"]).0, 2, "no wallet was made for the refused grants");
    let photos = farm.dir.path().join("photos.db");
    let sqlite = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table photos(id)'); c.commit()",
        ])
        .arg(&photos)
        .status();
    if sqlite.is_ok_and(|s| s.success()) {
        let before = std::fs::read(&photos).unwrap();
        let out = farm.cmd().args(["credits", "--ledger"]).arg(&photos).args(["balance"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a Switchyard ledger"));
        assert_eq!(std::fs::read(&photos).unwrap(), before, "the foreign file is untouched");
    }
    assert_eq!(farm.credits(&["member", "--name", "ana", "--cap", "500"]).0, 0);
    let (code, _, err) = farm.run(&shot(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--member"), "{err}");
    assert!(farm.mock.requests().is_empty(), "nothing was sent");
}

fn quoted<'a>(quote: &'a Value, id: &str) -> &'a Value {
    let nodes = quote["nodes"].as_array().unwrap();
    nodes.iter().find(|n| n["node"] == id).unwrap_or_else(|| panic!("no node {id}: {quote}"))
}

/// A re-run's quote: the key frame, whose exact request was paid for and kept, quotes 0 cr
/// marked cached and leaves the totals; the nodes fed by wires cannot tell before the run.
#[test]
fn a_quote_marks_nodes_whose_request_was_paid_for_before_as_cached_at_zero() {
    let farm = Farm::new();
    let quote = || {
        let out = farm.cmd().args(["quote", "--json", "--at", AT]).arg(shot()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let before = quote();
    assert_eq!(quoted(&before, "key").get("cached"), None, "nothing is kept before the first run");
    let key_price = quoted(&before, "key")["credits"][1].as_i64().unwrap();
    assert!(key_price > 0);
    let (code, _, err) = farm.run(&shot(), &[]);
    assert_eq!(code, 0, "{err}");
    let after = quote();
    let key = quoted(&after, "key");
    assert_eq!((key["cached"].as_bool(), &key["credits"]), (Some(true), &serde_json::json!([0, 0])), "{key}");
    assert_eq!(quoted(&after, "clip").get("cached"), None, "a node fed by a wire is quoted in full");
    assert_eq!(
        after["totals"]["credits"][1].as_i64().unwrap(),
        before["totals"]["credits"][1].as_i64().unwrap() - key_price,
        "the cached node leaves the totals"
    );
    let text = farm.cmd().args(["quote", "--at", AT]).arg(shot()).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("key: bfl:flux-2-pro") && text.contains("0 cr, cached (paid for before"), "{text}");
}
