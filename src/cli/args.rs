//! Command-line flags, parsed by clap, before any validation.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use switchyard_session::wallet::Location;

/// Where `scripts/setup` puts ComfyUI's frontend.
pub const DEFAULT_COMFY_FRONTEND: &str = "third_party/comfy-frontend/comfyui_frontend_package/static";

/// Switchyard: run node-graph workflows for AI generation, locally or headless on a farm.
///
/// Exit codes: 0 ok, 1 run failed, 2 invalid input, 3 over the balance or budget, 130
/// cancelled.
#[derive(Parser, Debug)]
#[command(name = "switchyard", version, about, long_about = None)]
pub struct Cli {
    /// Settings file (default: $SWITCHYARD_CONFIG, ./switchyard.toml, then the user's
    /// switchyard/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a workflow, once or over a batch of inputs.
    Run(RunArgs),
    /// Check a workflow without running it; lists every problem found.
    Validate(ValidateArgs),
    /// List every node type with its ports and params.
    Nodes {
        /// Print the catalog as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the workflow file format (or, with --catalog, of the provider
    /// catalog).
    Schema {
        /// The provider catalog's schema instead.
        #[arg(long)]
        catalog: bool,
    },
    /// Serve the mock partner providers on a loopback port, for offline demos and tests.
    /// A mock: it speaks the providers' wire formats, generates nothing and charges nothing.
    MockProviders {
        /// The port (0 picks a free one).
        #[arg(long, default_value_t = 8790)]
        port: u16,
    },
    /// Price a workflow before running it: each cloud node's credits, ETA and gCO2eq, and the
    /// totals against the wallet and budget.
    Quote(QuoteArgs),
    /// The credit wallet: balance, top-ups, plan grants, holds and the audit trail.
    Credits(CreditsArgs),
    /// Billing operations on a ledger: statements, the review queue, the billing audit
    /// trail, dunning, and customers bound to wallets.
    Billing(BillingArgs),
    /// Reports on what the credits bought.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Reconcile a provider's usage export against the ledger's charges, settle unknown
    /// holds from it, and store the report (exit 1 when the variance is flagged).
    Reconcile(ReconcileArgs),
    /// Rewrite workflow files in the one canonical form the editor saves (a node per line), or
    /// with --check, list those not in it (exit 1).
    Fmt {
        /// The workflow files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; exit 1 if any file is not in canonical form.
        #[arg(long)]
        check: bool,
    },
    /// List the local ONNX models: name, task, licence, size and manifest, and any manifest
    /// that does not check out.
    Models {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also hash every model file against its manifest (reads each file in full).
        #[arg(long)]
        verify: bool,
    },
    /// Report this machine's CPU, memory, graphics adapters, ONNX Runtime and cache disk.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The cache folder whose free space to report.
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Import a workflow from another tool: `import comfy FILE` reads a ComfyUI workflow (API
    /// or UI format) and writes a Switchyard workflow.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Export a workflow for another tool: `export comfy WF` writes ComfyUI's API format.
    Export {
        #[command(subcommand)]
        to: ExportTo,
    },
    /// Serve a persistent, authenticated run queue over HTTP (`/v1`), for a team or a farm.
    Serve(ServeArgs),
    /// Submit a workflow to a Switchyard server, and with --wait follow it to the end.
    Submit(SubmitArgs),
    /// The team library on a Switchyard server, and its local copy for offline work: list,
    /// status, pull, push, log, diff, restore, publish, templates.
    Library {
        #[command(subcommand)]
        command: LibraryCommand,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A Switchyard server's runs: list, show, watch or cancel them.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Run a render-farm worker: register, claim tasks from the farm's database, run them,
    /// and report them, until SIGTERM or Ctrl-C (then it finishes what it holds).
    Worker(WorkerArgs),
    /// One task of a worker started with --isolate, run in a process of its own (the worker
    /// starts it; not for people).
    #[command(hide = true)]
    WorkerTask(WorkerTaskArgs),
    /// The render farm's queue on PostgreSQL: workers, tasks, leases and blocklists.
    Farm {
        #[command(subcommand)]
        command: FarmCommand,
        /// The farm's PostgreSQL database (default: $SWITCHYARD_FARM_DATABASE).
        #[arg(long, global = true, value_name = "URL")]
        database: Option<String>,
        /// Print JSON instead of lines for people.
        #[arg(long, global = true)]
        json: bool,
    },
}

/// `switchyard worker`.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// The farm's PostgreSQL database (default: $SWITCHYARD_FARM_DATABASE).
    #[arg(long, value_name = "URL", conflicts_with = "server")]
    pub database: Option<String>,
    /// Join through the farm's server instead, for a machine that may not reach the
    /// database: its URL, with a worker key in $SWITCHYARD_TOKEN (made on the server with
    /// `serve --create-key farm --role worker`). Frames come from the server by hash, and
    /// what tasks write goes back to it.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// This worker's id in the farm (default: HOST-PID).
    #[arg(long)]
    pub id: Option<String>,
    /// Tasks run at once.
    #[arg(long, default_value_t = 1)]
    pub slots: i32,
    /// A tag for tasks' requirements, such as licensed-nuke (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// How long a lease lasts unless renewed (renewed every third of it).
    #[arg(long, default_value_t = 30_000)]
    pub lease_ms: i64,
    /// The disk cache (share it between workers on one machine).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Run each task in a process of its own: a crash takes only that task, and a task
    /// killed for want of memory is retried on a machine with more, where one exists.
    #[arg(long)]
    pub isolate: bool,
    /// The memory this worker offers tasks, in GB, instead of the machine's (to keep some
    /// for other work).
    #[arg(long, value_name = "GB")]
    pub memory_gb: Option<f64>,
    /// Keep the files tasks write in this content-addressed store, for the server to serve:
    /// a folder, or s3://BUCKET/PREFIX (AWS_ENDPOINT, AWS_REGION and the AWS_* keys).
    #[arg(long, value_name = "ADDRESS")]
    pub artifacts: Option<String>,
}

/// `switchyard worker-task` (started by an isolating worker).
#[derive(Args, Debug, Clone)]
pub struct WorkerTaskArgs {
    /// The farm's PostgreSQL database.
    #[arg(long, value_name = "URL", required_unless_present = "server")]
    pub database: Option<String>,
    /// Or the farm's server (the worker key in $SWITCHYARD_TOKEN).
    #[arg(long, value_name = "URL", conflicts_with = "database")]
    pub server: Option<String>,
    /// The task.
    #[arg(long)]
    pub task: i64,
    /// Its lease's token.
    #[arg(long)]
    pub token: String,
    /// The disk cache.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// The artifact store.
    #[arg(long)]
    pub artifacts: Option<String>,
}

/// `switchyard farm …`.
#[derive(clap::Subcommand, Debug)]
pub enum FarmCommand {
    /// Workers (what they offer, state, last heartbeat), tasks by run and state, leases held
    /// and the blocklist.
    Status,
    /// Let a worker finish what it holds and give it nothing new (it rejoins by registering).
    Drain {
        /// The worker's id.
        worker: String,
    },
    /// Clear a run's blocklist (for one worker, or all), so blocked workers get its tasks again.
    Unblock {
        /// The run.
        run: String,
        /// Only this worker.
        #[arg(long)]
        worker: Option<String>,
    },
    /// Queue a batch run on the farm: the workflow over every file the glob matches, in tasks
    /// of --chunk frames. Inputs and --out must be on storage every worker sees.
    Submit {
        /// The workflow file.
        workflow: PathBuf,
        /// A glob of input files (one batch item each).
        #[arg(long)]
        batch: String,
        /// `node.param` that takes each file's path.
        #[arg(long)]
        bind: String,
        /// The shared output folder.
        #[arg(long)]
        out: PathBuf,
        /// Frames a task.
        #[arg(long, default_value_t = 10)]
        chunk: u32,
        /// Attempts a task gets before it fails for good.
        #[arg(long, default_value_t = 3)]
        max_attempts: u32,
        /// Higher runs' tasks first.
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        priority: i64,
        /// Override a param: node.param=value (repeatable).
        #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
        set: Vec<String>,
        /// The wallet (in the farm's ledger) that pays for the run's paid calls.
        #[arg(long)]
        account: Option<String>,
        /// The team member spending from it, within their cap.
        #[arg(long, requires = "account")]
        member: Option<String>,
        /// The most, in credits, the whole run may commit.
        #[arg(long, requires = "account")]
        budget: Option<i64>,
        /// Where the paid nodes run: cheapest, fastest, greenest, brand:NAME or local-first[:POLICY].
        #[arg(long, default_value = "cheapest")]
        policy: String,
        /// Price as of this time (RFC 3339 in UTC or unix seconds); default now. Every worker
        /// prices as of the same time.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Cancel a farm run: its waiting tasks never start, its running ones stop within a
    /// second, and no paid call of it starts from now.
    Cancel {
        /// The run.
        run: String,
    },
    /// Pause a farm run: nothing of it starts, and its running tasks stop within a second
    /// and wait (their attempts not counted) until `farm resume`.
    Pause {
        /// The run.
        run: String,
    },
    /// Resume a paused farm run.
    Resume {
        /// The run.
        run: String,
    },
    /// Set the priority of a farm run's tasks that have not started (higher first).
    Priority {
        /// The run.
        run: String,
        /// The new priority.
        #[arg(allow_hyphen_values = true)]
        priority: i64,
    },
    /// Follow a farm run as workers take and finish its tasks, until every task has ended
    /// (exit 0 when all are done, 1 when any failed, 130 when cancelled).
    Watch {
        /// The run.
        run: String,
    },
    /// A farm run's tasks: state, attempts, the worker holding each, and errors.
    Tasks {
        /// The run.
        run: String,
    },
    /// Show how a stored run was split into tasks (its frames, states and most per task),
    /// or, with --items, how a batch of that many frames would be split by --chunk.
    Plan {
        /// A stored run.
        #[arg(required_unless_present = "items", conflicts_with = "items")]
        run: Option<String>,
        /// How many batch items (frames).
        #[arg(long)]
        items: Option<u32>,
        /// Frames a task.
        #[arg(long, default_value_t = 10)]
        chunk: u32,
    },
}

/// Which server, and the key (from `SWITCHYARD_TOKEN`, else the settings file's `[server]`).
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The server's URL (default: $SWITCHYARD_SERVER, else the settings file's [server] url,
    /// else http://127.0.0.1:8188).
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Print JSON instead of lines for people.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `switchyard submit`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The workflow file, or a template of the team's library: TEAM/NAME@VERSION (or @latest).
    pub workflow: PathBuf,
    /// Override a param: node.param=value (repeatable).
    #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
    pub set: Vec<String>,
    /// The placement policy.
    #[arg(long)]
    pub policy: Option<String>,
    /// Your account on the server to bill; unbilled without it.
    #[arg(long)]
    pub account: Option<String>,
    /// The most the run may spend, in credits.
    #[arg(long)]
    pub budget: Option<i64>,
    /// The team member spending, within their cap.
    #[arg(long)]
    pub member: Option<String>,
    /// Higher runs first within your plan tier, from -100 to 100.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub priority: i64,
    /// The longest the run should wait to start; past it, --on-wait says what happens.
    #[arg(long = "max-wait", value_name = "SECONDS")]
    pub max_wait_s: Option<i64>,
    /// Over --max-wait: cancel (refuse, the default), wait anyway, switch to the economy
    /// route, or to a cheaper placement.
    #[arg(long, value_name = "cancel|wait|economy|cheaper")]
    pub on_wait: Option<String>,
    /// Wait for the catalog's off-peak window and be priced at its discount.
    #[arg(long)]
    pub off_peak: bool,
    /// Accept a route where it wins: economy (cheaper and slower: the run waits in the
    /// economy lane) or green (repeatable).
    #[arg(long = "route", value_name = "economy|green")]
    pub routes: Vec<String>,
    /// Makes a retried submission replay the first instead of queuing a second run.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Follow the run to its end, then exit with its outcome.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `switchyard library …`.
#[derive(clap::Subcommand, Debug)]
pub enum LibraryCommand {
    /// The library's workflows (or one folder's).
    List {
        #[arg(long)]
        folder: Option<String>,
    },
    /// Where each local copy stands: up to date, ahead, behind, diverged, new, gone or missing.
    Status,
    /// Bring the server's workflows and templates into the local copy, merging local edits.
    Pull {
        #[arg(long)]
        folder: Option<String>,
    },
    /// Send local edits (each with the revision it was made from, so the server merges) and
    /// new local workflows.
    Push {
        /// Only this library path.
        path: Option<String>,
        /// What the change is.
        #[arg(short, long, default_value = "")]
        message: String,
        /// Settle a conflict: KEY=ours or KEY=theirs (repeatable; KEY as the conflict names it).
        #[arg(long = "pick", value_name = "KEY=ours|theirs")]
        picks: Vec<String>,
    },
    /// A workflow's revisions, newest first.
    Log {
        path: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// What changed between two revisions (B: the head); with none, the local edits.
    Diff { path: String, from: Option<String>, to: Option<String> },
    /// Make an old revision the head again (a new revision; nothing is lost).
    Restore { path: String, revision: String },
    /// Release a workflow's head (or --revision) as a template's next version.
    Publish {
        path: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        revision: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// A param its users may set: NODE.PARAM or NODE.PARAM=LABEL (repeatable).
        #[arg(long = "expose", value_name = "NODE.PARAM[=LABEL]")]
        expose: Vec<String>,
        /// A PNG preview.
        #[arg(long)]
        preview: Option<PathBuf>,
        /// Release as a draft (runs only when pinned).
        #[arg(long)]
        draft: bool,
    },
    /// The team's templates.
    Templates,
}

/// `switchyard runs …`.
#[derive(clap::Subcommand, Debug)]
pub enum RunsCommand {
    /// Your runs, newest first.
    List {
        /// Only runs in this state: queued, paused, scheduled, running, succeeded, failed,
        /// cancelled.
        #[arg(long)]
        state: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// One run.
    Show {
        /// The run's id.
        id: String,
    },
    /// Follow a run to its end, then exit with its outcome.
    Watch {
        /// The run's id.
        id: String,
    },
    /// Cancel a run.
    Cancel {
        /// The run's id.
        id: String,
    },
    /// Change a waiting run's priority (from -100 to 100; higher first within your tier).
    Priority {
        /// The run's id.
        id: String,
        /// The new priority.
        #[arg(allow_hyphen_values = true)]
        priority: i64,
    },
    /// Move a waiting run to the front or back of its account's own line.
    Move {
        /// The run's id.
        id: String,
        /// front or back.
        #[arg(long, value_name = "front|back")]
        to: String,
    },
}

/// `switchyard serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen (port 0 picks a free one, printed on start).
    #[arg(long, default_value = "127.0.0.1:8188")]
    pub listen: std::net::SocketAddr,
    /// The server's folder: its databases, uploads, outputs and cache.
    #[arg(long, default_value = "switchyard-data")]
    pub data: PathBuf,
    /// A postgres:// URL for the queue and the ledger instead of SQLite files in --data.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// How many runs execute at once.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// On SIGTERM, how long running runs may go on before they are stopped and re-queued.
    #[arg(long, default_value_t = 30_000)]
    pub grace_ms: u64,
    /// Requests a second per API key (bursts of twice that; a tenant's keys together four
    /// times that); 0 turns rate limits off.
    #[arg(long, default_value_t = 50)]
    pub rate_limit: u32,
    /// Serve /metrics (Prometheus text) on this address, for the operator's network.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// A provider catalog (prices, routes, surge and off-peak windows) instead of the
    /// shipped one.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Be the render farm's front door: batch runs go to `switchyard worker`s through the
    /// PostgreSQL database (--database), with their events on /v1/events. The data folder
    /// must be on storage every worker sees.
    #[arg(long, requires = "database")]
    pub farm: bool,
    /// With --farm: the content-addressed store the workers keep their files in (as their
    /// --artifacts), which farm runs' files are served from.
    #[arg(long, value_name = "ADDRESS", requires = "farm")]
    pub artifacts: Option<String>,
    /// Serve ComfyUI's web frontend at `/` from DIR (the static folder of PyPI's
    /// comfyui-frontend-package; `scripts/setup` fetches it into third_party/). Browsers sign
    /// in with an API key at `/login`.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = DEFAULT_COMFY_FRONTEND)]
    pub comfy_frontend: Option<PathBuf>,
    /// Offer the workflows in DIR to ComfyUI's frontend as templates, translated on the fly.
    #[arg(long, value_name = "DIR")]
    pub comfy_templates: Option<PathBuf>,
    /// Stripe webhook secrets (whsec_…), one per line (two during a rotation), for
    /// POST /v1/billing/stripe/webhook; SWITCHYARD_STRIPE_WEBHOOK_SECRET (comma-separated)
    /// works too. Never on the command line, where `ps` would show it.
    #[arg(long, value_name = "FILE")]
    pub stripe_webhook_secrets: Option<PathBuf>,
    /// How far a webhook signature's timestamp may be from now.
    #[arg(long, default_value_t = 300)]
    pub webhook_tolerance_s: i64,
    /// Fraud and velocity limits (TOML: new_account_days, new_account_daily_cap,
    /// baseline_days, spike_factor, spike_min_credits, concurrent_holds,
    /// duplicate_prompts_per_hour, near_duplicate_bits, topups_per_hour,
    /// topups_per_customer_per_day); the rest keep their defaults.
    #[arg(long, value_name = "FILE")]
    pub fraud_rules: Option<PathBuf>,
    /// Reconcile the providers' usage exports dropped in DIR/PROVIDER/FROM_TO.EXT (days,
    /// such as replicate/2026-11-01_2026-12-01.json), as a nightly job.
    #[arg(long, value_name = "DIR")]
    pub usage_inbox: Option<PathBuf>,
    /// How often the usage inbox is read.
    #[arg(long, default_value_t = 3_600)]
    pub reconcile_interval_s: u64,
    /// How often usage alerts are evaluated and their deliveries sent.
    #[arg(long, default_value_t = 10_000)]
    pub alerts_interval_ms: u64,
    /// Let tenants' alert URLs name private and loopback addresses (a closed network).
    #[arg(long)]
    pub alert_webhooks_private: bool,
    /// How long an account whose renewal failed keeps spending before it is suspended.
    #[arg(long, default_value_t = 3.0)]
    pub dunning_grace_days: f64,
    /// Create TENANT (if new) and an API key for it, print the key once, and exit.
    #[arg(long, value_name = "TENANT")]
    pub create_key: Option<String>,
    /// The new key's role: viewer, runner, editor, publisher, billing or admin (a tenant's);
    /// worker or operator (the platform's: farm workers, billing operations).
    #[arg(long, default_value = "admin", requires = "create_key")]
    pub role: String,
}

impl CreditsCommand {
    /// Whether the command only reads one wallet: it refuses a wallet (or a ledger file) that
    /// does not exist instead of creating either.
    pub fn reads_one_wallet(&self) -> bool {
        match self {
            CreditsCommand::Balance { .. } | CreditsCommand::Holds { .. } => true,
            CreditsCommand::History { all, .. } => !all,
            CreditsCommand::Member { cap, .. } => cap.is_none(),
            _ => false,
        }
    }
}

impl Command {
    /// The workflow flags of a command that reads a workflow.
    pub fn workflow_args(&mut self) -> Option<&mut WorkflowArgs> {
        match self {
            Command::Run(a) => Some(&mut a.workflow),
            Command::Validate(a) => Some(&mut a.workflow),
            Command::Quote(a) => Some(&mut a.workflow),
            _ => None,
        }
    }

    /// Long-running services, which keep SIGPIPE ignored (see `main`).
    pub fn is_service(&self) -> bool {
        matches!(self, Command::Serve(_) | Command::Worker(_) | Command::WorkerTask(_) | Command::MockProviders { .. })
    }
}

/// Flags shared by `run` and `validate`.
#[derive(Args, Debug)]
pub struct WorkflowArgs {
    /// The workflow file (JSON); for `run`, also a pulled template: TEAM/NAME@VERSION.
    pub workflow: PathBuf,
    /// Override a param: node.param=value (repeatable).
    #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
    pub overrides: Vec<String>,
    /// The most nodes a graph may have.
    #[arg(long, default_value_t = 50_000)]
    pub max_nodes: usize,
    /// Where inputs may be read from (the settings file's `[inputs]`).
    #[arg(skip)]
    pub inputs: switchyard_engine::InputRoots,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub workflow: WorkflowArgs,
    /// Print problems as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also check what a run needs beyond a valid file: a placement for every node under the
    /// policy, the provider keys that placement uses, the local models, and a writable --out.
    #[arg(long)]
    pub preflight: bool,
    #[command(flatten)]
    pub placement: PlacementArgs,
    /// The output folder a run would write to (checked by --preflight).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub workflow: WorkflowArgs,
    #[command(flatten)]
    pub placement: PlacementArgs,
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Folder that output paths resolve against; nothing is written outside it.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Run once per file matching this glob (relative to the current folder).
    #[arg(long, value_name = "GLOB", requires = "bind")]
    pub batch: Option<String>,
    /// The param each batch file is bound to, as node.param.
    #[arg(long, value_name = "NODE.PARAM", requires = "batch")]
    pub bind: Option<String>,
    /// Batch items run at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print events as NDJSON on stdout instead of progress bars.
    #[arg(long)]
    pub events_json: bool,
    /// Stop launching nodes after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Run only this node and what it needs (repeatable). By default a run keeps only the
    /// nodes that lead to an output (a save); the rest are pruned and reported.
    #[arg(long, value_name = "NODE")]
    pub only: Vec<String>,
    /// Run every node, even those that lead to no output.
    #[arg(long, conflicts_with = "only")]
    pub all_nodes: bool,
    /// Cache folder; defaults to the user's cache folder.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Keep no cache on disk. Paid results are still kept (see --paid-results): a re-run
    /// never pays twice for the same request.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_disk_cache: bool,
    /// Where paid cloud results are kept by content; defaults to switchyard/paid in the
    /// user's cache folder.
    #[arg(long, value_name = "DIR")]
    pub paid_results: Option<PathBuf>,
    /// Size cap of the disk cache, in MiB.
    #[arg(long, default_value_t = 2048)]
    pub cache_max_mb: u64,
    /// Byte budget of the in-memory cache, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory_cache_mb: usize,
    /// CPU nodes at once (default: the core count).
    #[arg(long)]
    pub cpu_limit: Option<usize>,
    /// Local-accelerator nodes at once.
    #[arg(long, default_value_t = 1)]
    pub accelerator_limit: usize,
    /// Cloud calls at once.
    #[arg(long, default_value_t = 8)]
    pub cloud_limit: usize,
    /// The longest one node may run, in milliseconds.
    #[arg(long, default_value_t = 600_000)]
    pub node_timeout_ms: u64,
}

/// `switchyard credits`.
#[derive(Args, Debug)]
pub struct CreditsArgs {
    /// The ledger: a SQLite file, or a postgres:// URL for a shared one (default:
    /// $SWITCHYARD_LEDGER, else switchyard/ledger.db in the user's data folder).
    #[arg(long, global = true, value_name = "FILE|URL")]
    pub ledger: Option<Location>,
    /// The wallet.
    #[arg(long, global = true, default_value = "default")]
    pub account: String,
    /// A plans-and-packs file instead of the shipped one.
    #[arg(long, global = true, value_name = "FILE")]
    pub plans: Option<PathBuf>,
    #[command(subcommand)]
    pub command: CreditsCommand,
}

/// `switchyard billing`.
#[derive(Args, Debug)]
pub struct BillingArgs {
    /// The ledger: a SQLite file or a postgres:// URL.
    #[arg(long, global = true, value_name = "FILE|URL")]
    pub ledger: Option<Location>,
    #[command(subcommand)]
    pub command: BillingCommand,
}

/// A billing operation.
#[derive(Subcommand, Debug)]
pub enum BillingCommand {
    /// A wallet's monthly statement: CSV and JSON, and HTML with --html.
    Statement {
        /// The wallet.
        #[arg(long)]
        account: String,
        /// The month (YYYY-MM).
        #[arg(long)]
        month: String,
        /// Where to write the files.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Also a printable HTML page.
        #[arg(long)]
        html: bool,
    },
    /// The review queue (fraud hits, disputes, refunds of spent credit).
    Reviews {
        /// Only wallets under this prefix (a tenant's `acme/`).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Decided ones too.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide a review: clear (lift the pause) or uphold.
    Review {
        /// `clear` or `uphold`.
        decision: String,
        /// The review.
        id: String,
        /// Why (kept with the decision).
        #[arg(long)]
        note: String,
        /// Who decides.
        #[arg(long, default_value = "operator")]
        by: String,
    },
    /// The billing audit trail: payments, dunning, freezes, reviews.
    Audit {
        /// Only wallets under this prefix.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Usage alerts' deliveries (the outbox) of an endpoint: what was sent, retried or failed.
    Alerts {
        /// The endpoint's prefix (a tenant's `acme/`).
        #[arg(long)]
        prefix: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Suspend the wallets whose grace period after a failed renewal has ended.
    Sweep,
    /// Bind a payment processor's customer to a wallet, so its invoices find it.
    Bind {
        /// The wallet.
        #[arg(long)]
        account: String,
        /// The customer (`cus_…`).
        #[arg(long)]
        customer: String,
    },
}

/// What to report.
#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// A month's usage: a table by provider, model, node type, member and day, and charts
    /// (PNG and SVG) of credits per day, members against their caps, and local savings.
    Usage(UsageArgs),
}

/// `switchyard report usage`.
#[derive(Args, Debug)]
pub struct UsageArgs {
    /// The ledger: a SQLite file or a postgres:// URL.
    #[arg(long, value_name = "FILE|URL")]
    pub ledger: Option<Location>,
    /// The wallet, or every wallet under a prefix ending in `/` (a tenant's `acme/`).
    #[arg(long, default_value = "default")]
    pub account: String,
    /// The month (YYYY-MM; default: this one).
    #[arg(long)]
    pub month: Option<String>,
    /// Where to write the charts.
    #[arg(long, default_value = "usage-report")]
    pub out: PathBuf,
    /// Print the report as JSON (and write no charts).
    #[arg(long)]
    pub json: bool,
}

/// `switchyard reconcile`.
#[derive(Args, Debug)]
pub struct ReconcileArgs {
    /// The ledger: a SQLite file or a postgres:// URL (default: $SWITCHYARD_LEDGER, else
    /// the user's ledger).
    #[arg(long, value_name = "FILE|URL")]
    pub ledger: Option<Location>,
    /// The provider, as the ledger names it (openai, replicate, elevenlabs, fal…).
    #[arg(long, required_unless_present_any = ["list", "show"])]
    pub provider: Option<String>,
    /// The provider's usage export (repeat for several pages).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["list", "show"])]
    pub usage: Vec<PathBuf>,
    /// The export's format: openai, replicate, elevenlabs, bfl-credits (two balances: at
    /// --from, then at --to) or csv (default: the provider's).
    #[arg(long)]
    pub format: Option<String>,
    /// The first day the export covers (YYYY-MM-DD, UTC; default: 30 days before --to).
    #[arg(long, value_name = "DAY")]
    pub from: Option<String>,
    /// The day after the last it covers (YYYY-MM-DD, UTC; default: today).
    #[arg(long, value_name = "DAY")]
    pub to: Option<String>,
    /// Flag a total variance above this percent.
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// Report only: settle no unknown hold and store no report.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Replicate's hardware price per second.
    #[arg(long, default_value_t = 0.0014)]
    pub replicate_usd_per_s: f64,
    /// ElevenLabs' price per 1,000 characters (multilingual; Flash and Turbo are half).
    #[arg(long, default_value_t = 0.10)]
    pub elevenlabs_usd_per_1k: f64,
    /// A catalog file for the credit conversion instead of the shipped one.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// List the stored reports.
    #[arg(long)]
    pub list: bool,
    /// Show a stored report.
    #[arg(long, value_name = "ID")]
    pub show: Option<String>,
}

/// What to do with the wallet.
#[derive(Subcommand, Debug)]
pub enum CreditsCommand {
    /// Credits in unexpired lots, held, and available.
    Balance {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a credit pack (it never expires).
    Topup {
        /// The pack: 100, 500 or 1000 (see the plans file).
        #[arg(long)]
        pack: String,
        /// The payment's id, so a retried top-up is never added twice.
        #[arg(long)]
        payment_id: String,
    },
    /// Grant a plan's credits for this calendar month (once per month; a repeat is a no-op).
    Grant {
        /// The plan: solo-lite, pro, pro-plus, team-seat, team-pool, enterprise.
        #[arg(long)]
        plan: String,
        /// Seats, for per-seat plans.
        #[arg(long, default_value_t = 1)]
        seats: i64,
        /// Monthly credits, for a custom plan (enterprise).
        #[arg(long)]
        credits: Option<i64>,
    },
    /// A team member's monthly cap in a pool wallet: set it with --cap, or show it and this
    /// month's use.
    Member {
        /// The member.
        #[arg(long)]
        name: String,
        /// Credits a month.
        #[arg(long)]
        cap: Option<i64>,
    },
    /// Every transfer, oldest first, with run, node, provider and vendor ids: a table in
    /// local time, or JSON or CSV.
    History {
        /// Print CSV (times in unix ms).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Print JSON (times in unix ms).
        #[arg(long)]
        json: bool,
        /// Every wallet's, not only --account's.
        #[arg(long)]
        all: bool,
    },
    /// Holds, newest first.
    Holds {
        /// Settled ones too.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Settle an unknown hold by hand, once the provider's own records say whether it
    /// charged: post what it charged, or void it. The evidence is kept on the hold.
    Resolve {
        /// The hold's id (from `credits holds`).
        hold: String,
        /// The provider charged: post this many credits to the wallet.
        #[arg(long, value_name = "CREDITS", conflicts_with = "void", required_unless_present = "void")]
        post: Option<i64>,
        /// Of the posted credits, what is owed to the provider (default: all of them).
        #[arg(long, value_name = "CREDITS", requires = "post")]
        cost: Option<i64>,
        /// The provider did not charge: release the hold.
        #[arg(long)]
        void: bool,
        /// What shows it: an invoice line, a dashboard record, a support ticket.
        #[arg(long)]
        evidence: String,
    },
}

/// `switchyard quote`.
#[derive(Args, Debug)]
pub struct QuoteArgs {
    #[command(flatten)]
    pub workflow: WorkflowArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub placement: PlacementArgs,
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Where `run` keeps paid results (its --paid-results): a node whose request was paid
    /// for before quotes 0 cr, marked cached.
    #[arg(long, value_name = "DIR")]
    pub paid_results: Option<PathBuf>,
}

/// How cloud-capable nodes are placed (`quote` and `run`).
#[derive(Args, Debug, Clone)]
pub struct PlacementArgs {
    /// fastest, cheapest, greenest, brand:nvidia|google|amd, or local-first[:POLICY] (drafts
    /// here, finals to the cloud under POLICY, cheapest by default). Default: the workflow's
    /// `run.policy`, else cheapest.
    #[arg(long)]
    pub policy: Option<String>,
    /// With cheapest: the graph must finish within this, such as 90s, 5m or 1h.
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<String>,
    /// Price as of this time (RFC 3339 in UTC, such as 2026-11-18T12:00:00Z, or unix
    /// seconds), for surge and off-peak windows; default now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// A catalog file instead of the shipped one.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Accept a cheaper or greener route where it wins under the policy (repeatable):
    /// economy (18% off, up to 4x the ETA) or green (the model's lowest-carbon region, 12%
    /// more; greenest accepts it anyway).
    #[arg(long = "route", value_name = "economy|green")]
    pub routes: Vec<String>,
    /// A licence you hold, for models that need one (repeatable).
    #[arg(long = "licence", value_name = "NAME")]
    pub licences: Vec<String>,
}

impl PlacementArgs {
    /// The policy in force.
    pub fn policy(&self) -> &str {
        self.policy.as_deref().unwrap_or("cheapest")
    }

    /// Takes the workflow's run settings where no flag was given: flags win.
    pub fn default_from(&mut self, run: &switchyard_engine::format::RunSettings) {
        if self.policy.is_none() {
            self.policy.clone_from(&run.policy);
        }
        if self.deadline.is_none() {
            self.deadline.clone_from(&run.deadline);
        }
        if self.routes.is_empty() {
            self.routes.clone_from(&run.routes);
        }
    }
}

impl WalletArgs {
    /// Takes the workflow's budget where `--budget` was not given.
    pub fn default_from(&mut self, run: &switchyard_engine::format::RunSettings) {
        if self.budget.is_none() {
            self.budget = run.budget;
        }
    }

    /// The session layer's wallet options for `account`.
    pub fn options(&self, account: &str) -> switchyard_session::wallet::WalletOptions {
        switchyard_session::wallet::WalletOptions {
            account: account.to_string(),
            ledger: self.ledger.clone(),
            budget: self.budget,
            member: self.member.clone(),
            rules: None,
        }
    }
}

/// The wallet a run spends from.
#[derive(Args, Debug, Clone)]
pub struct WalletArgs {
    /// The wallet: quotes are checked against it, and runs hold and charge it.
    #[arg(long)]
    pub account: Option<String>,
    /// The ledger: a SQLite file or a postgres:// URL (as for `credits`).
    #[arg(long, value_name = "FILE|URL")]
    pub ledger: Option<Location>,
    /// The most this run may spend, in credits.
    #[arg(long)]
    pub budget: Option<i64>,
    /// The team member spending from a pool wallet, within their monthly cap.
    #[arg(long, requires = "account")]
    pub member: Option<String>,
}

/// `switchyard import …`.
#[derive(Subcommand, Debug)]
pub enum ImportFrom {
    /// A ComfyUI workflow file.
    Comfy {
        /// The ComfyUI file.
        file: PathBuf,
        /// Where to write the Switchyard workflow (default: standard output).
        #[arg(short, long, value_name = "OUT.json")]
        out: Option<PathBuf>,
    },
}

/// `switchyard export …`.
#[derive(Subcommand, Debug)]
pub enum ExportTo {
    /// ComfyUI's API format.
    Comfy {
        /// The Switchyard workflow.
        workflow: PathBuf,
        /// Where to write it (default: standard output).
        #[arg(short, long, value_name = "OUT.json")]
        out: Option<PathBuf>,
    },
}
