//! `switchyard-editor`: opens the editor window. Glue only: flags, settings, the registry.

use std::path::PathBuf;
use std::time::Duration;
use switchyard_nodes::cloud::kept::KeptResults;

use anyhow::{Context, Result};
use clap::Parser;
use switchyard_editor::Launch;
use switchyard_editor::shell::window::Window;
use switchyard_editor::work::{ServerTarget, Wallet};
use switchyard_session::placement::PlacementOptions;
use switchyard_session::settings::Config;

/// Switchyard's node-graph editor.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// A workflow file to open.
    workflow: Option<PathBuf>,
    /// The settings file (as for `switchyard --config`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where runs write their files.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// The shared templates folder.
    #[arg(long, default_value = "workflows")]
    templates: PathBuf,
    /// The wallet runs spend from; without it, runs are unbilled (your own provider keys).
    #[arg(long)]
    account: Option<String>,
    /// The ledger: a SQLite file or a postgres:// URL (default: SWITCHYARD_LEDGER, else the
    /// user data folder).
    #[arg(long, value_name = "FILE|URL")]
    ledger: Option<switchyard_session::wallet::Location>,
    /// The team member spending from a pool wallet, within their monthly cap.
    #[arg(long, requires = "account")]
    member: Option<String>,
    /// With the cheapest policy: the graph must finish within this, such as 90s, 5m or 1h.
    #[arg(long, value_name = "DURATION")]
    deadline: Option<String>,
    /// A catalog file instead of the shipped one.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Accept a cheaper or greener route where it wins: economy or green (repeatable).
    #[arg(long = "route", value_name = "economy|green")]
    routes: Vec<String>,
    /// A licence you hold, for models that need one (repeatable).
    #[arg(long = "licence", value_name = "NAME")]
    licences: Vec<String>,
    /// Run on this Switchyard server (the API key comes from SWITCHYARD_TOKEN or the settings
    /// file's [server] token); the Server menu connects and disconnects later too.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The server account runs bill, with --server.
    #[arg(long, value_name = "NAME", requires = "server")]
    server_account: Option<String>,
    /// Repaint continuously for this many seconds, print frame CPU times, and close.
    #[arg(long, value_name = "SECONDS")]
    frame_stats: Option<u64>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,wgpu_hal=off,wgpu_core=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let config = Config::discover(args.config.as_deref()).context("reading the settings file")?;
    let wallet = match args.account {
        Some(account) => {
            let ledger = switchyard_session::wallet::ledger_location(args.ledger.as_ref())?;
            Some(Wallet { ledger, account, member: args.member })
        }
        None => None,
    };
    let placement = PlacementOptions {
        deadline: args.deadline,
        catalog: args.catalog,
        routes: args.routes,
        licences: args.licences,
        ..PlacementOptions::default()
    };
    let token = std::env::var("SWITCHYARD_TOKEN").ok().filter(|t| !t.is_empty()).or(config.server.token.clone());
    let server = args.server.clone().or(config.server.url.clone()).map(|url| {
        let target = ServerTarget { url, token: token.unwrap_or_default(), account: args.server_account.clone() };
        (target, args.server.is_some())
    });
    let launch = Launch {
        registry: switchyard_nodes::registry_keeping(&config, KeptResults::at_or_default(None)),
        catalog: switchyard_session::placement::load_catalog(&placement)?,
        onnx: config.onnx_settings(),
        open: args.workflow,
        out_dir: args.out,
        templates_dir: args.templates,
        wallet,
        recent_store: dirs::config_dir().map(|d| d.join("switchyard").join("editor-recent.json")),
        placement,
        inputs: config.input_roots(),
        server,
    };
    let stats = args.frame_stats.map(Duration::from_secs);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title("Switchyard").with_inner_size([1280.0, 800.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Switchyard",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let editor = switchyard_editor::start(launch, move || ctx.request_repaint())?;
            Ok(Box::new(Window::new(editor, stats)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the editor window failed: {e}"))
}
