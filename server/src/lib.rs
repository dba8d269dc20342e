//! `switchyard serve`: many people and machines submit runs to one service. Runs are queued
//! durably (SQLite under the data folder, or PostgreSQL), dispatched by plan tier, then
//! priority, then age, and executed through the session layer, billed to the submitting
//! tenant's own wallets. Every request carries an API key; every query is scoped to the
//! key's tenant, and another tenant's run is simply not found.
//!
//! The pieces: `store.rs` (the tables), `keys.rs` (API keys and roles), `api/` (the HTTP
//! routes under `/v1`), `queue.rs` (the dispatcher and the execution of one run).

mod alerts;
mod api;
pub use switchyard_client::{client, library, protocol};
mod estimate;
mod events;
mod farm;
mod keys;
mod lanes;
mod limits;
mod metrics;
mod outputs;
mod queue;
mod reconcile;
mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchyard_engine::{InputRoots, Registry};
use switchyard_nodes::cloud::kept::KeptResults;
use switchyard_nodes::onnx::OnnxSettings;
use switchyard_session::catalog::Catalog;
use switchyard_session::settings::Config;
use switchyard_session::wallet::Location;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use api::documented_routes;

/// The parsers of untrusted request parts (bodies, headers), for the fuzz targets.
pub mod untrusted {
    pub use crate::api::comfy::{PromptError, check_prompt, safe_path};
    pub use crate::api::{ApiError, bearer, check_farm_submit, check_push, check_submit, check_work_body, cookie};
    pub use crate::keys::split_token;
    pub use crate::outputs::{Wanted, byte_range};
}
pub use keys::{Caller, Permission, Role};

/// How the server is set up.
pub struct ServerOptions {
    /// Where it listens (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Its folder: the SQLite databases, uploads, outputs and the cache.
    pub data: PathBuf,
    /// A PostgreSQL URL for the queue and the ledger instead of SQLite files in `data`.
    pub database: Option<String>,
    /// How many runs execute at once.
    pub workers: usize,
    /// How long running nodes may go on after a shutdown begins, before their runs are
    /// stopped and re-queued.
    pub grace_ms: u64,
    /// Requests a second each API key may make (bursts of twice that; a tenant's keys
    /// together four times that); 0 turns rate limits off.
    pub rate_per_s: u32,
    /// Where to serve `/metrics` (an operator's address: it spans every tenant); off if `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// A provider catalog file instead of the shipped one.
    pub catalog: Option<PathBuf>,
    /// Be the render farm's front door (needs `database`): batch runs go to workers.
    pub farm: bool,
    /// The content-addressed store farm workers keep their files in.
    pub artifacts: Option<String>,
    /// ComfyUI's web frontend (its package's static folder), served at `/`.
    pub comfy_frontend: Option<PathBuf>,
    /// Workflows offered to ComfyUI's frontend as templates.
    pub comfy_templates: Option<PathBuf>,
    /// The settings file (provider keys, limits, local inference).
    pub settings: Config,
    /// Payments: the webhook's secrets and tolerance, and dunning's grace period.
    pub billing: BillingOptions,
}

/// How the server takes payments.
#[derive(Clone, Debug)]
pub struct BillingOptions {
    /// The Stripe webhook endpoint's secrets (`whsec_…`), several during a rotation; with
    /// none, every delivery is refused.
    pub stripe_secrets: WebhookSecrets,
    /// How far a signature's timestamp may be from now, in seconds.
    pub tolerance_s: i64,
    /// How long a wallet whose renewal failed keeps spending.
    pub dunning: switchyard_session::credits::Dunning,
    /// Fraud and velocity rules, weighed as each paid run starts and at each top-up.
    pub fraud: switchyard_session::credits::ops::fraud::Rules,
    /// How often usage alerts are evaluated and delivered.
    pub alerts_interval_ms: u64,
    /// Whether alert URLs may name private and loopback addresses (off: public only).
    pub alert_private_urls: bool,
    /// The usage inbox the nightly reconciliation reads (`INBOX/PROVIDER/FROM_TO.EXT`).
    pub usage_inbox: Option<PathBuf>,
    /// How often the inbox is read.
    pub reconcile_interval_s: u64,
}

impl Default for BillingOptions {
    fn default() -> Self {
        Self {
            stripe_secrets: WebhookSecrets::default(),
            tolerance_s: switchyard_session::credits::ops::stripe::TOLERANCE_S,
            dunning: Default::default(),
            fraud: Default::default(),
            alerts_interval_ms: 10_000,
            alert_private_urls: false,
            usage_inbox: None,
            reconcile_interval_s: 3_600,
        }
    }
}

/// Webhook secrets: never printed.
#[derive(Clone, Default)]
pub struct WebhookSecrets(pub Vec<String>);

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets({} redacted)", self.0.len())
    }
}

/// What can stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database failed.
    #[error("server database: {0}")]
    Database(#[from] sqlx::Error),
    /// Its schema could not be brought up to date.
    #[error("server database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file or socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A request or option that cannot be served.
    #[error("{0}")]
    Invalid(String),
}

/// After the grace period, how long stopped runs get to record that they are re-queued.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// WebSocket event streams open at once, at most.
const EVENT_CLIENTS_MAX: usize = 2_048;

/// What every handler and the dispatcher share.
pub(crate) struct App {
    store: store::Store,
    submitter: store::Submitter,
    outputs: Box<dyn outputs::OutputStore>,
    limits: limits::Limits,
    metrics: metrics::Metrics,
    hub: events::Hub,
    /// Event streams open at once, at most.
    event_clients: Arc<tokio::sync::Semaphore>,
    /// The expected start of new runs.
    estimator: estimate::Estimator,
    /// The ledger, opened on first use.
    opened_ledger: tokio::sync::OnceCell<switchyard_session::credits::Ledger>,
    registry: Registry,
    catalog: Arc<Catalog>,
    /// The catalog's data as `/v1/catalog` publishes it.
    catalog_json: serde_json::Value,
    onnx: OnnxSettings,
    ledger: Location,
    data: PathBuf,
    workers: usize,
    wake: tokio::sync::Notify,
    /// The latest probe of the machine, for `/v1/doctor`.
    probe: api::Probe,
    /// Providers' error replies, counted by the registry's clients.
    provider_errors: Arc<switchyard_nodes::cloud::stats::ProviderErrors>,
    /// Economy-lane runs executing now.
    economy_running: std::sync::atomic::AtomicUsize,
    /// The cancel of each run executing here, by run id.
    running: std::sync::Mutex<std::collections::HashMap<String, CancellationToken>>,
    /// The render farm, when this server is its front door.
    farm: Option<switchyard_session::farm::Farm>,
    /// Where farm workers keep the files they write.
    artifacts: Option<switchyard_session::farm::Artifacts>,
    /// ComfyUI's web frontend, if served.
    comfy_frontend: Option<PathBuf>,
    /// Workflows offered to ComfyUI's frontend as templates.
    comfy_templates: Option<PathBuf>,
    /// ComfyUI's price badges of the cloud node types.
    comfy_prices: api::comfy::Prices,
    /// Payments.
    billing: BillingOptions,
}

impl App {
    /// A tenant's uploads: the only folder its workflows may read from.
    fn uploads(&self, tenant: &str) -> PathBuf {
        self.data.join("inputs").join(tenant)
    }

    /// The input-root policy of a tenant's workflows: confined to its uploads.
    fn inputs(&self, tenant: &str) -> InputRoots {
        InputRoots { confine: true, roots: vec![self.uploads(tenant)] }
    }

    /// The ledger, made if new, opened on first use and kept (reads, verdicts and wallet
    /// administration go through it; runs open their own, with recovery, through the
    /// session layer).
    async fn ledger(&self) -> Result<&switchyard_session::credits::Ledger, switchyard_session::SessionError> {
        self.opened_ledger
            .get_or_try_init(|| async {
                let (ledger, _) = switchyard_session::credits::open_admin(&self.ledger).await?;
                Ok(ledger)
            })
            .await
    }
}

/// A bound server, not yet serving.
pub struct Server {
    app: Arc<App>,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    grace: Duration,
}

fn ledger_location(data: &Path, database: Option<&str>) -> Location {
    match database {
        Some(url) => Location::Postgres(url.to_string()),
        None => Location::File(data.join("ledger.db")),
    }
}

impl Server {
    /// Opens the store (re-queuing runs a killed server left running), loads the catalog
    /// and binds the listener.
    pub async fn bind(opts: ServerOptions) -> Result<Self, ServerError> {
        let data = std::path::absolute(&opts.data)?;
        std::fs::create_dir_all(data.join("inputs"))?;
        let store = store::Store::open(&data, opts.database.as_deref()).await?;
        let requeued = store.recover().await?;
        if requeued > 0 {
            tracing::warn!(requeued, "runs left running by a stopped server are queued again");
        }
        let placement =
            switchyard_session::placement::PlacementOptions { catalog: opts.catalog.clone(), ..Default::default() };
        let catalog =
            switchyard_session::placement::load_catalog(&placement).map_err(|e| ServerError::Invalid(e.to_string()))?;
        let catalog_json = match &opts.catalog {
            Some(file) => switchyard_session::catalog::json_of(&std::fs::read_to_string(file)?),
            None => switchyard_session::catalog::builtin_json(),
        };
        let provider_errors = Arc::new(switchyard_nodes::cloud::stats::ProviderErrors::default());
        let kept = KeptResults::at(data.join("paid"));
        let registry = switchyard_nodes::registry_counting(&opts.settings, kept, Arc::clone(&provider_errors));
        let farm = match (opts.farm, opts.database.as_deref()) {
            (false, _) => None,
            (true, Some(url)) => Some(
                switchyard_session::farm::Farm::connect(url, 4)
                    .await
                    .map_err(|e| ServerError::Invalid(format!("the farm's database: {e}")))?,
            ),
            (true, None) => return Err(ServerError::Invalid("a farm front door needs --database postgres://…".into())),
        };
        // A farm's front door always keeps a store: what workers that join through it write
        // comes back here (in the data folder, unless --artifacts names a shared one).
        let artifacts = match (&opts.artifacts, &farm) {
            (Some(address), _) => Some(
                switchyard_session::farm::Artifacts::open(address)
                    .map_err(|e| ServerError::Invalid(format!("--artifacts: {e}")))?,
            ),
            (None, Some(_)) => Some(
                switchyard_session::farm::Artifacts::open(&data.join("farm").join("artifacts").to_string_lossy())
                    .map_err(|e| ServerError::Invalid(format!("the farm's artifact store: {e}")))?,
            ),
            (None, None) => None,
        };
        let app = Arc::new(App {
            submitter: store::Submitter::start(store.clone()),
            outputs: Box::new(outputs::DirStore::new(data.join("outputs"))?),
            limits: limits::Limits::new(opts.rate_per_s),
            metrics: metrics::Metrics::default(),
            hub: events::Hub::default(),
            event_clients: Arc::new(tokio::sync::Semaphore::new(EVENT_CLIENTS_MAX)),
            opened_ledger: tokio::sync::OnceCell::new(),
            estimator: estimate::Estimator::default(),
            store,
            registry,
            catalog: Arc::new(catalog),
            catalog_json,
            onnx: opts.settings.onnx_settings(),
            ledger: ledger_location(&data, opts.database.as_deref()),
            data,
            workers: opts.workers.max(1),
            wake: tokio::sync::Notify::new(),
            economy_running: Default::default(),
            provider_errors,
            probe: Default::default(),
            running: Default::default(),
            farm,
            artifacts,
            comfy_frontend: opts.comfy_frontend.clone(),
            comfy_templates: opts.comfy_templates.clone(),
            comfy_prices: Default::default(),
            billing: opts.billing.clone(),
        });
        let listener = TcpListener::bind(opts.listen).await?;
        let metrics = match opts.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        Ok(Self { app, listener, metrics, grace: Duration::from_millis(opts.grace_ms) })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        Ok(self.listener.local_addr()?)
    }

    /// Where it serves `/metrics`, if it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown`: then it stops taking requests and work, lets running runs go
    /// on for the grace period, stops them, and puts them back in the queue.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServerError> {
        let work = CancellationToken::new();
        let dispatcher = tokio::spawn(queue::dispatch(Arc::clone(&self.app), shutdown.clone(), work.clone()));
        tokio::spawn(sweep_dunning(Arc::clone(&self.app), shutdown.clone()));
        tokio::spawn(alerts::run(Arc::clone(&self.app), shutdown.clone()));
        if let Some(inbox) = self.app.billing.usage_inbox.clone() {
            let every = Duration::from_secs(self.app.billing.reconcile_interval_s.max(1));
            tokio::spawn(reconcile::nightly(Arc::clone(&self.app), inbox, every, shutdown.clone()));
        }
        if self.app.farm.is_some() {
            tokio::spawn(farm::relay(Arc::clone(&self.app), shutdown.clone()));
            tokio::spawn(farm::reap(Arc::clone(&self.app), shutdown.clone()));
        }
        if let Some(listener) = self.metrics {
            let router = api::metrics_router(Arc::clone(&self.app));
            let stop = shutdown.clone();
            tokio::spawn(async move {
                axum::serve(listener, router).with_graceful_shutdown(async move { stop.cancelled().await }).await
            });
        }
        let router = api::router(Arc::clone(&self.app));
        let stop = shutdown.clone();
        // Small replies and request bodies go out at once: without TCP_NODELAY a body sent
        // after its headers waits on the peer's delayed ACK (40 ms a request).
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(listener, router).with_graceful_shutdown(async move { stop.cancelled().await }).await?;
        let grace = tokio::time::sleep(self.grace);
        tokio::select! {
            _ = grace => work.cancel(),
            _ = self.app.idle() => {}
        }
        // Stopped runs record that they go back to the queue; a node that ignores its cancel
        // is not waited for long (start-up re-queues what is still marked running).
        let _ = tokio::time::timeout(STOP_WAIT, self.app.idle()).await;
        let _ = dispatcher.await;
        Ok(())
    }
}

/// Once a minute, suspends the wallets whose grace period after a failed renewal ended.
async fn sweep_dunning(app: Arc<App>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        if let Ok(ledger) = app.ledger().await {
            match ledger.sweep_dunning().await {
                Ok(suspended) if !suspended.is_empty() => tracing::warn!(?suspended, "suspended for unpaid renewals"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "dunning sweep failed"),
            }
        }
    }
}

impl App {
    /// Resolves once no run is executing here.
    async fn idle(&self) {
        loop {
            let busy = self.running.lock().map(|r| !r.is_empty()).unwrap_or(false);
            if !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Creates `tenant` (if new) and an API key for it with `role`, in the server's store;
/// returns the token, shown once.
pub async fn create_key(data: &Path, database: Option<&str>, tenant: &str, role: Role) -> Result<String, ServerError> {
    std::fs::create_dir_all(data)?;
    let store = store::Store::open(data, database).await?;
    Ok(keys::create(&store, tenant, role, None, None).await?.1)
}
