//! `switchyard credits` end to end on a real ledger file: plan grants happen once a month,
//! top-ups once per payment id, bad input exits 2 without touching the ledger, and the audit
//! trail exports as CSV.

use std::process::Command;

fn credits(ledger: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["credits", "--ledger"])
        .arg(ledger)
        .args(["--account", "studio"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn grants_and_top_ups_are_idempotent_and_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger.db");
    let (code, _, err) = credits(&db, &["balance"]);
    assert_eq!(code, 2, "an unknown wallet is a refusal: {err}");
    assert!(err.contains("no wallet \"studio\""), "{err}");
    for _ in 0..2 {
        assert_eq!(credits(&db, &["grant", "--plan", "pro"]).0, 0);
        assert_eq!(credits(&db, &["topup", "--pack", "500", "--payment-id", "pay_1"]).0, 0);
    }
    let (code, _, err) = credits(&db, &["topup", "--pack", "50", "--payment-id", "pay_2"]);
    assert_eq!(code, 2);
    assert!(err.contains("no pack \"50\"; packs: 100, 1000, 500"), "{err}");
    let (code, out, _) = credits(&db, &["balance", "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["balance"]["available"], 20_500, "one plan grant and one pack, despite the repeats");
    assert_eq!((doc["plan"].as_str(), doc["tier"].as_i64()), (Some("pro"), Some(2)));
    let (_, csv, _) = credits(&db, &["history", "--csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,created_at_ms,debit,credit,amount,reason"));
    assert!(lines[2].ends_with(",pack:500,,,,,,topup:pay_1"), "{}", lines[2]);
}

/// `switchyard quote` prices the templates from the shipped catalog: local nodes cost 0, cloud
/// nodes their published price with the margin, and a run over the budget exits 3.
#[test]
fn quotes_price_the_templates_and_refuse_over_budget() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let quote = |template: &str, extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["quote", "--json", "--at", "2025-11-19T12:00:00Z"])
            .arg(root.join(format!("workflows/{template}.json")))
            .args(extra)
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (out.status.code().unwrap_or(-1), doc)
    };
    // Expected: (template, policy, total credits [min, max], cloud-capable placements). The
    // hybrid template's draft and final upscales are placed by each policy.
    let local = "local:upscale2x";
    let cases: [(&str, &str, [i64; 2], &[&str]); 9] = [
        ("lookdev-draft", "cheapest", [0, 0], &[]),
        ("cloud-draft", "cheapest", [3, 3], &["openai:gpt-image-1@openai-us"]),
        (
            "cloud-shot",
            "cheapest",
            [74, 74],
            &["bfl:flux-2-pro@bfl-eu", "runway:gen4_turbo@runway-us", "recraft:remove-background@recraft-eu"],
        ),
        ("cloud-voiceover", "cheapest", [1, 1], &["elevenlabs:eleven_multilingual_v2@elevenlabs-us"]),
        ("hybrid-upscale", "cheapest", [3, 3], &[local, "stability:fast@stability-us"]),
        ("hybrid-upscale", "fastest", [3, 3], &[local, "stability:fast@stability-us"]),
        ("hybrid-upscale", "greenest", [1, 4], &[local, "replicate:nightmareai/real-esrgan@replicate-us"]),
        ("hybrid-upscale", "local-first:greenest", [1, 4], &[local, "replicate:nightmareai/real-esrgan@replicate-us"]),
        ("hybrid-upscale", "brand:amd", [3, 3], &[local, "stability:fast@stability-us"]),
    ];
    for (template, policy, credits, placements) in cases {
        let (code, doc) = quote(template, &["--policy", policy]);
        assert_eq!(code, 0, "{template} {policy}: {doc}");
        assert_eq!(doc["totals"]["credits"], serde_json::json!(credits), "{template} {policy}");
        let cloud: Vec<&str> = doc["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["placement"].as_str())
            .filter(|p| *p != "local")
            .collect();
        assert_eq!(cloud, placements, "{template} {policy}");
    }
    let (code, doc) = quote("cloud-shot", &["--budget", "50"]);
    assert_eq!((code, &doc["fits"]), (3, &serde_json::json!(false)));
    let (code, doc) = quote("hybrid-upscale", &["--policy", "local-first", "--set", "final.scale=2"]);
    assert_eq!(code, 0);
    let fin = doc["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "final").unwrap();
    assert!(fin["why"].as_str().unwrap().starts_with("a final, sent to the cloud"), "{doc}");
    let (code, _) = quote("hybrid-upscale", &["--policy", "cheapest", "--deadline", "1s"]);
    assert_eq!(code, 2, "a deadline no placement meets is refused");
}

/// `switchyard COMMAND --ledger LEDGER ARGS…`: its exit code, stdout and stderr.
fn on_ledger(command: &str, ledger: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg(command)
        .arg("--ledger")
        .arg(ledger)
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn reconcile(ledger: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    on_ledger("reconcile", ledger, args)
}

#[test]
fn reconcile_flags_a_variance_stores_the_report_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let export = dir.path().join("fal.csv");
    std::fs::write(&export, "date,amount_usd\n2026-11-03,2.50\n").unwrap();
    let window = ["--from", "2026-11-01", "--to", "2026-12-01"];
    let usage = ["--provider", "fal", "--usage", export.to_str().unwrap()];
    let (code, out, err) = reconcile(&ledger, &[&usage[..], &window[..], &["--dry-run"]].concat());
    assert_eq!(code, 1, "a bill the ledger never charged is flagged: {out}{err}");
    assert!(out.contains("FLAGGED") && out.contains("matched by UTC day") && out.contains("dry run"), "{out}");
    let (code, out, _) = reconcile(&ledger, &[&usage[..], &window[..]].concat());
    assert_eq!(code, 1);
    let id = out.split("stored as ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_string();
    let (code, list, _) = reconcile(&ledger, &["--list"]);
    assert_eq!(code, 0);
    assert!(list.contains(&id) && list.contains("fal"), "{list}");
    let (code, shown, _) = reconcile(&ledger, &["--show", &id]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!((report["vendor_only"].as_i64(), report["flagged"].as_bool()), (Some(1), Some(true)), "{report}");
    let cases: [(&[&str], &str); 4] = [
        (&["--from", "2026-13-01"], "not a day"),
        (&["--from", "2026-12-01", "--to", "2026-11-01"], "--from must be before --to"),
        (&["--format", "xml"], "no usage format"),
        (&["--threshold=-1"], "percent from 0 to 100"),
    ];
    for (extra, says) in cases {
        let (code, _, err) = reconcile(&ledger, &[&usage[..], extra].concat());
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
    assert_eq!(reconcile(&ledger, &["--show", "rec_none"]).0, 2);
}

fn billing(ledger: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    on_ledger("billing", ledger, args)
}

#[test]
fn billing_writes_statements_and_decides_reviews_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    assert_eq!(credits(&ledger, &["grant", "--plan", "pro"]).0, 0);
    let month = switchyard_session::credits::day_name(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 / 86_400,
    )[..7]
        .to_string();
    let out = dir.path().join("statements");
    let (code, text, err) = billing(
        &ledger,
        &["statement", "--account", "studio", "--month", &month, "--out", out.to_str().unwrap(), "--html"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("granted 20000") && text.contains("closing 20000 cr"), "{text}");
    for ext in ["csv", "json", "html"] {
        assert!(out.join(format!("statement-studio-{month}.{ext}")).is_file(), "{ext}");
    }
    assert_eq!(billing(&ledger, &["bind", "--account", "studio", "--customer", "cus_1"]).0, 0);
    let (code, _, err) = billing(&ledger, &["bind", "--account", "other", "--customer", "cus_1"]);
    assert_eq!(code, 2, "one customer pays for one wallet: {err}");
    assert!(billing(&ledger, &["reviews"]).1.contains("no reviews"));
    let (code, _, err) = billing(&ledger, &["review", "clear", "rev_none", "--note", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no review"), "{err}");
    assert_eq!(billing(&ledger, &["review", "maybe", "rev_none", "--note", "x"]).0, 2);
    assert!(billing(&ledger, &["sweep"]).1.contains("0 wallet(s) suspended"));
    assert!(billing(&ledger, &["alerts", "--prefix", "acme/"]).1.contains("no alerts"));
    let (code, _, err) = billing(&ledger, &["statement", "--account", "nobody", "--month", &month]);
    assert_eq!(code, 2, "{err}");
}

/// `credits history` reads as a table by default; a misspelt wallet is refused with the
/// nearest name, a read of a ledger that does not exist never creates it, and a repeated
/// monthly grant or top-up says it was already granted.
#[test]
fn history_is_a_table_and_misspelt_wallets_are_refused_without_creating_a_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger.db");
    let (code, out, err) = credits(&db, &["history"]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("no ledger at"), "{err}");
    assert!(!db.exists(), "a read never creates the ledger");
    let (_, first, _) = credits(&db, &["grant", "--plan", "pro"]);
    let (_, again, _) = credits(&db, &["grant", "--plan", "pro"]);
    assert!(first.contains("20000 cr from plan pro for 20"), "{first}");
    assert!(again.contains("plan pro already granted for 20"), "{again}");
    let (_, again, _) = {
        credits(&db, &["topup", "--pack", "500", "--payment-id", "pay_1"]);
        credits(&db, &["topup", "--pack", "500", "--payment-id", "pay_1"])
    };
    assert!(again.contains("pack 500 for payment pay_1 was already granted"), "{again}");
    let (code, table, _) = credits(&db, &["history"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("when") && lines[0].contains("credits  from"), "{table}");
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[1].contains("  20000  source:plan") && lines[2].contains("    500  source:pack"), "{table}");
    let (_, json, _) = credits(&db, &["history", "--json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap().as_array().unwrap().len(), 2);
    for read in [&["history"][..], &["balance"], &["holds"], &["member", "--name", "ana"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["credits", "--ledger"])
            .arg(&db)
            .args(["--account", "stuido"])
            .args(read)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{read:?}: {err}");
        assert!(err.contains("no wallet \"stuido\" in this ledger; did you mean \"studio\"?"), "{read:?}: {err}");
    }
}
