//! Runs that spend credits, end to end: the binary against the mock providers and a real
//! ledger file. Each run holds before every cloud call, posts the metered charge after,
//! voids what failed or fell back, refuses before starting when the quote does not fit, and
//! leaves a lost reply's hold open for reconciliation.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use switchyard_mock::{Fault, MockServer};

/// A Wednesday noon (UTC): no surge or off-peak window, so prices are the list prices.
pub(crate) const AT: &str = "2025-11-19T12:00:00Z";

pub(crate) struct Farm {
    rt: tokio::runtime::Runtime,
    pub(crate) mock: MockServer,
    pub(crate) dir: tempfile::TempDir,
    /// The ledger's PostgreSQL database, when it is not the SQLite file in `dir`.
    database: Option<switchyard_testkit::TestDatabase>,
}

impl Drop for Farm {
    fn drop(&mut self) {
        if let Some(db) = self.database.take() {
            self.rt.block_on(db.drop_now());
        }
    }
}

impl Farm {
    /// A mock, a settings file pointing every provider at it, and a ledger file granting the
    /// Pro plan (20,000 credits) to `studio`.
    pub(crate) fn new() -> Self {
        Self::with_ledger(false)
    }

    /// As [`Farm::new`], with the ledger in a PostgreSQL database of its own.
    pub(crate) fn on_postgres() -> Self {
        Self::with_ledger(true)
    }

    fn with_ledger(postgres: bool) -> Self {
        let rt = crate::support::runtime();
        let mock = rt.block_on(MockServer::start(0)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = String::new();
        for (name, _) in switchyard_mock::keys::ALL {
            settings += &format!(
                "[providers.{name}]\nbase_url = \"{}\"\npoll_interval_ms = 5\nrequest_timeout_ms = 1500\nbackoff_base_ms = 5\n",
                mock.base_url(name)
            );
        }
        std::fs::write(dir.path().join("switchyard.toml"), settings).unwrap();
        let database = postgres.then(|| rt.block_on(switchyard_testkit::TestDatabase::create()));
        let farm = Self { rt, mock, dir, database };
        assert_eq!(farm.credits(&["grant", "--plan", "pro"]).0, 0);
        farm
    }

    /// The ledger: the file in the farm's folder, or its PostgreSQL database's URL.
    pub(crate) fn ledger(&self) -> String {
        match &self.database {
            Some(db) => db.url.clone(),
            None => self.dir.path().join("ledger.db").display().to_string(),
        }
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        for info in switchyard_nodes::cloud::PROVIDERS {
            let key = switchyard_mock::keys::ALL.iter().find(|(n, _)| *n == info.name).unwrap().1;
            cmd.env(info.key_env, key);
        }
        cmd.current_dir(self.dir.path());
        // Paid results are kept in the user's cache folder: each farm has its own.
        cmd.env("XDG_CACHE_HOME", self.dir.path().join("cache"));
        cmd
    }

    pub(crate) fn credits(&self, args: &[&str]) -> (i32, Value) {
        let out = self
            .cmd()
            .args(["credits", "--ledger"])
            .arg(self.ledger())
            .args(["--account", "studio"])
            .args(args)
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), serde_json::from_slice(&out.stdout).unwrap_or_default())
    }

    pub(crate) fn available(&self) -> i64 {
        self.credits(&["balance", "--json"]).1["balance"]["available"].as_i64().unwrap()
    }

    /// The node holds (paid calls), newest first.
    pub(crate) fn holds(&self) -> Vec<Value> {
        self.all_holds().into_iter().filter(|h| h["kind"] == "call").collect()
    }

    /// Every hold, the runs' reservations included.
    pub(crate) fn all_holds(&self) -> Vec<Value> {
        self.credits(&["holds", "--all", "--json"]).1.as_array().cloned().unwrap_or_default()
    }

    /// Every hold of wallet `account` (a server tenant's is `TENANT/ACCOUNT`).
    pub(crate) fn holds_of(&self, account: &str) -> Vec<Value> {
        let out = self
            .cmd()
            .args(["credits", "--ledger", &self.ledger(), "--account", account, "holds", "--all", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }

    /// A server key for `tenant` with `role`, made by its operator in the data folder `data`
    /// with the ledger's database as the server's.
    pub(crate) fn server_key(&self, data: &Path, tenant: &str, role: &str) -> String {
        let out = self
            .cmd()
            .args(["serve", "--database", &self.ledger(), "--data"])
            .arg(data)
            .args(["--create-key", tenant, "--role", role])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Runs `workflow` billed to `studio`; the exit code, the JSON summary and stderr.
    pub(crate) fn run(&self, workflow: &Path, extra: &[&str]) -> (i32, Value, String) {
        let out = self
            .cmd()
            .args(["run", "--json", "--no-disk-cache", "--out", "out", "--account", "studio", "--at", AT, "--ledger"])
            .arg(self.ledger())
            .args(extra)
            .arg(workflow)
            .output()
            .unwrap();
        let summary = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (out.status.code().unwrap_or(-1), summary, String::from_utf8_lossy(&out.stderr).into())
    }
}

pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn node<'a>(summary: &'a Value, id: &str) -> &'a Value {
    let nodes = summary["runs"][0]["nodes"].as_array().unwrap();
    nodes.iter().find(|n| n["id"] == id).unwrap_or_else(|| panic!("no node {id}: {summary}"))
}

/// The template's three cloud nodes each hold their quote's most, post what they metered,
/// and name the vendor's id; the wallet loses exactly what the summary says was charged.
#[test]
fn a_billed_run_holds_then_posts_the_metered_charge() {
    let farm = Farm::new();
    let before = farm.available();
    let (code, summary, err) = farm.run(&root().join("workflows/cloud-shot.json"), &[]);
    assert_eq!(code, 0, "{err}");
    let credits = &summary["credits"];
    let charged = credits["charged"].as_i64().unwrap();
    assert_eq!(farm.available(), before - charged, "the wallet lost what the summary says");
    assert_eq!(credits["quoted"], serde_json::json!([74, 74]));
    assert!(charged > 0 && charged <= 74, "{credits}");
    assert!(credits["gco2eq"].as_f64().unwrap() > 0.0);
    for id in ["key", "clip", "cutout"] {
        let c = &node(&summary, id)["metering"]["credits"];
        assert!(c["charged"].as_i64().unwrap() <= c["held"].as_i64().unwrap(), "{id}: {c}");
    }
    let holds = farm.holds();
    assert_eq!(holds.len(), 3, "{holds:?}");
    for h in &holds {
        assert_eq!(h["state"], "posted", "{h}");
        assert!(h["run_id"].as_str().unwrap().parse::<switchyard_billing::RunId>().is_ok(), "a minted run id: {h}");
    }
    let history = farm.credits(&["history", "--json"]).1;
    let posts: Vec<&Value> = history.as_array().unwrap().iter().filter(|t| t["hold_id"].is_string()).collect();
    assert!(!posts.is_empty(), "{history}");
    for t in posts {
        assert!(t["run_id"].is_string() && t["node_id"].is_string(), "{t}");
        // Recraft's background removal returns no request or task id to record.
        assert!(t["vendor_id"].is_string() || t["provider"] == "recraft", "{t}");
    }
}

/// The same billed run with the ledger on PostgreSQL (`--ledger postgres://…`): holds,
/// posts and the wallet agree exactly as on the file.
#[test]
fn a_billed_run_on_a_postgres_ledger_holds_then_posts() {
    let farm = Farm::on_postgres();
    let before = farm.available();
    assert_eq!(before, 20_000, "the plan was granted on PostgreSQL");
    let (code, summary, err) = farm.run(&root().join("workflows/cloud-shot.json"), &[]);
    assert_eq!(code, 0, "{err}");
    let charged = summary["credits"]["charged"].as_i64().unwrap();
    assert!(charged > 0 && charged <= 74, "{summary}");
    assert_eq!(farm.available(), before - charged, "the wallet lost what the summary says");
    let holds = farm.all_holds();
    assert_eq!(holds.iter().filter(|h| h["kind"] == "call" && h["state"] == "posted").count(), 3, "{holds:?}");
    assert!(holds.iter().any(|h| h["kind"] == "run" && h["state"] == "released"), "{holds:?}");
    let (code, _, err) = farm.run(&root().join("workflows/cloud-shot.json"), &["--budget", "50"]);
    assert_eq!(code, 3, "refused before starting, as on a file: {err}");
}

/// A quote over the budget exits 3 before anything runs: no request, no hold, no charge.
#[test]
fn a_run_over_its_budget_is_refused_before_it_starts() {
    let farm = Farm::new();
    let before = farm.available();
    let (code, _, err) = farm.run(&root().join("workflows/cloud-shot.json"), &["--budget", "50"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("does NOT fit: at most 74 cr against the budget of 50 cr"), "{err}");
    assert!(farm.mock.requests().is_empty(), "nothing was sent");
    assert_eq!((farm.available(), farm.holds().len()), (before, 0));
}

/// Runway refuses the key before taking the work: the hold is voided and the node moves to
/// its next candidate (Kling, from `placement.order`), which is charged once.
#[test]
fn a_refused_provider_falls_back_and_the_node_pays_once() {
    let farm = Farm::new();
    farm.mock.script("runway.create", [Fault::status(401)]);
    let before = farm.available();
    let (code, summary, err) = farm.run(&root().join("tests/fixtures/spend/unpinned-shot.json"), &[]);
    assert_eq!(code, 0, "{err}");
    let c = &node(&summary, "clip")["metering"]["credits"];
    assert!(c["placement"].as_str().unwrap().starts_with("kling:kling-v1-6@"), "{c}");
    assert!(c["fell_back_from"][0]["placement"].as_str().unwrap().starts_with("runway:"), "{c}");
    assert!(node(&summary, "key")["metering"]["credits"]["placement"].as_str().unwrap().starts_with("bfl:"));
    let states: Vec<(String, String)> = farm
        .holds()
        .iter()
        .map(|h| (h["provider"].as_str().unwrap().to_string(), h["state"].as_str().unwrap().to_string()))
        .collect();
    for want in [("runway", "voided"), ("kling", "posted"), ("bfl", "posted")] {
        assert!(states.contains(&(want.0.into(), want.1.into())), "{states:?}");
    }
    assert_eq!(states.len(), 3, "{states:?}");
    assert_eq!(farm.available(), before - summary["credits"]["charged"].as_i64().unwrap());
}

/// With fallbacks off, the refusal fails the node and nothing is charged for it.
#[test]
fn without_fallbacks_a_refusal_fails_the_node_and_charges_nothing_for_it() {
    let farm = Farm::new();
    farm.mock.script("runway.create", [Fault::status(401)]);
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/spend/unpinned-shot.json")).unwrap())
            .unwrap();
    doc["nodes"]["clip"]["placement"]["allow_fallbacks"] = Value::Bool(false);
    let file = farm.dir.path().join("no-fallback.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let (code, summary, err) = farm.run(&file, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(node(&summary, "clip")["status"], "failed");
    assert!(node(&summary, "clip")["error"].as_str().unwrap().contains("nothing was charged"), "{summary}");
    assert!(farm.mock.requests_to("kling.create").is_empty());
    let clip = summary["credits"]["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "clip").cloned().unwrap();
    assert_eq!(clip["charged"], 0);
}

/// A create whose reply is lost may have been accepted: its hold stays open as unknown, for
/// reconciliation, and is neither charged nor released.
#[test]
fn a_lost_reply_leaves_its_hold_open_as_unknown() {
    let farm = Farm::new();
    farm.mock.script("runway.create", [Fault::LoseReply]);
    let (code, summary, err) = farm.run(&root().join("workflows/cloud-shot.json"), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(node(&summary, "clip")["error"].as_str().unwrap().contains("stays open"), "{summary}");
    let unknown: Vec<Value> = farm.holds().into_iter().filter(|h| h["state"] == "unknown").collect();
    assert_eq!(unknown.len(), 1, "{:?}", farm.holds());
    assert_eq!(unknown[0]["provider"], "runway");
}

/// Batch items bill separately: four frames, four holds, each posted under its own item's
/// node id, never one item's hold replayed for another (regression: the keys once left the
/// item out).
#[test]
fn batch_items_hold_and_post_under_their_own_keys() {
    let farm = Farm::new();
    let frames = root().join("workflows/assets/frames/*.png");
    let batch = ["--batch", frames.to_str().unwrap(), "--bind", "load.path"];
    let (code, summary, err) = farm.run(&root().join("tests/fixtures/spend/batch-upscale.json"), &batch);
    assert_eq!(code, 0, "{err}");
    let holds = farm.holds();
    let nodes: std::collections::BTreeSet<&str> = holds.iter().map(|h| h["node_id"].as_str().unwrap()).collect();
    assert_eq!(nodes.len(), 4, "{holds:?}");
    assert!(nodes.contains("frame_0001/up"), "{nodes:?}");
    assert!(holds.iter().all(|h| h["state"] == "posted"), "{holds:?}");
    assert_eq!(summary["credits"]["charged"], 12, "four 4x upscales at 3 cr");
    assert_eq!(farm.mock.requests_to("stability.upscale").len(), 4);
}

/// A team member runs within their monthly cap: a run whose quote passes what is left of it
/// is refused before it starts, and a run that fits counts toward it.
#[test]
fn a_member_runs_within_their_monthly_cap() {
    let farm = Farm::new();
    assert_eq!(farm.credits(&["member", "--name", "alice", "--cap", "50"]).0, 0);
    let shot = root().join("workflows/cloud-shot.json");
    let (code, _, err) = farm.run(&shot, &["--member", "alice"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("against 50 cr left of alice's monthly cap"), "{err}");
    assert!(farm.mock.requests().is_empty());
    let quote = farm
        .cmd()
        .args(["quote", "--account", "studio", "--member", "alice", "--at", AT, "--ledger"])
        .arg(farm.ledger())
        .arg(&shot)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&quote.stdout);
    assert_eq!(quote.status.code(), Some(3), "{text}");
    assert!(text.contains("does NOT fit: at most 74 cr against 50 cr left of alice's monthly cap"), "{text}");
    assert_eq!(farm.credits(&["member", "--name", "alice", "--cap", "100"]).0, 0);
    let (code, summary, err) = farm.run(&shot, &["--member", "alice"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["credits"]["charged"], 74);
    let out = farm
        .cmd()
        .args(["credits", "--ledger"])
        .arg(farm.ledger())
        .args(["--account", "studio", "member", "--name", "alice"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cap 100 cr a month; 74 spent in ") && text.ends_with(", 0 held\n"), "{text}");
}

/// A billed run's nodes are recorded for analytics; `report usage` tables them by provider,
/// model, node type and day, and writes the three charts as PNG and SVG.
#[test]
fn report_usage_tables_a_billed_run_and_draws_its_charts() {
    let farm = Farm::new();
    let (code, summary, err) = farm.run(&root().join("workflows/cloud-shot.json"), &[]);
    assert_eq!(code, 0, "{err}");
    let charged = summary["credits"]["charged"].as_i64().unwrap();
    // Usage is dated by the ledger's clock (now), not by the pricing time `--at`.
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let month = utc_day(now_s)[..7].to_string();
    let month = month.as_str();
    let out = farm.dir.path().join("charts");
    let report = |extra: &[&str]| {
        farm.cmd()
            .args(["report", "usage", "--account", "studio", "--month", month, "--ledger"])
            .arg(farm.ledger())
            .args(extra)
            .output()
            .unwrap()
    };
    let json = report(&["--json"]);
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["total"]["credits"].as_i64(), Some(charged), "{json}");
    assert_eq!(json["total"]["calls"].as_i64(), Some(3), "{json}");
    assert_eq!(json["total"]["runs"].as_i64(), Some(1), "{json}");
    let providers: Vec<&str> =
        json["by_provider"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert!(providers.len() >= 2 && !providers.contains(&"local"), "{providers:?}");
    let text = report(&["--out", out.to_str().unwrap()]);
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let table = String::from_utf8_lossy(&text.stdout);
    assert!(table.contains(&format!("{charged} cr over 1 runs")) && table.contains("node type"), "{table}");
    for stem in ["credits-per-day", "members", "local-vs-cloud"] {
        let png = std::fs::read(out.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}");
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<text"), "{stem}");
    }
    let svg = std::fs::read_to_string(out.join("credits-per-day.svg")).unwrap();
    assert!(providers.iter().all(|p| svg.contains(p)), "the legend names each provider");
    let bad = report(&["--month", "2026-13"]);
    assert_eq!(bad.status.code(), Some(2));
    let ghost = farm
        .cmd()
        .args(["report", "usage", "--account", "ghost", "--month", month, "--ledger"])
        .arg(farm.ledger())
        .output()
        .unwrap();
    assert_eq!(ghost.status.code(), Some(2), "a misspelt account is an error");
}

/// The UTC day of a unix time, as `YYYY-MM-DD`.
fn utc_day(seconds: i64) -> String {
    switchyard_session::credits::day_name(seconds.div_euclid(86_400))
}
