//! How a worker reaches the farm: straight to its PostgreSQL database, or through the
//! server's URL with a worker key (`switchyard worker --server URL`), for machines that may
//! not reach the database. Through the server, each call about a task names its lease; the
//! server takes the ledger steps of the task's paid calls for it, sends the task's frames by
//! content hash (a worker keeps what it fetched and never fetches a frame it has), and takes
//! the files the task wrote by hash (never sent twice).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchyard_billing::{Posting, Spend, SpendFuture};
use switchyard_client::client::{Client, ClientError};
use switchyard_farm::{
    ClaimRequest, CompleteRequest, Completion, Farm, FarmError, FarmRun, Known, Lease, Leases, LostRequest, Outcome,
    Output, PreviewRequest, RenewRequest, Renewed, SpendRequest, SpendStep, Spent, StoredPreview, TaskIds, TaskRef,
    TaskView, Worker, WorkerRef,
};
use switchyard_ledger::{HoldId, HoldRequest, LedgerError};

/// The largest frame a worker fetches, in bytes.
const INPUT_MAX_BYTES: u64 = 1 << 30;

/// Where a worker's farm is.
#[derive(Clone)]
pub enum Link {
    /// The farm's database (and its ledger).
    Database(Farm),
    /// The farm's server.
    Server(Arc<Remote>),
}

/// A farm reached through its server.
pub struct Remote {
    client: Client,
    url: String,
    /// Frames fetched, by hash: `HASH/FILE`.
    inputs: PathBuf,
    /// Each task's output folder while it runs.
    scratch: PathBuf,
}

impl Remote {
    /// The server at `url` with worker key `token`, keeping fetched frames and tasks'
    /// scratch folders under `dir`.
    pub fn new(url: &str, token: &str, dir: &Path) -> Self {
        Self {
            client: Client::new(url, token),
            url: url.to_string(),
            inputs: dir.join("farm-inputs"),
            scratch: dir.join("farm-scratch"),
        }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        task: Option<i64>,
    ) -> Result<T, FarmError> {
        self.client.post_json(&format!("/v1/farm/work/{path}"), body).await.map_err(|e| farm_error(e, task))
    }

    /// The task `lease` names, or `None` when the lease is no longer held.
    async fn view(&self, lease: &TaskRef) -> Result<Option<(Lease, TaskView)>, FarmError> {
        #[derive(serde::Deserialize)]
        struct Reply {
            lease: Lease,
            view: TaskView,
        }
        match self.post::<_, Reply>("task", lease, Some(lease.task)).await {
            Ok(r) => Ok(Some((r.lease, r.view))),
            Err(FarmError::LeaseLost { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Frame `n` of the task, fetched unless a file with its hash is here: its path under
    /// the inputs folder, `HASH/FILE`, the same on every worker (so the frame's cache keys
    /// are too, and workers share paid results through the farm's cache tier).
    async fn input(&self, lease: &TaskRef, n: usize, item: &switchyard_farm::TaskItem) -> Result<String, FarmError> {
        let file = safe_file_name(&item.file);
        let relative = format!("{}/{file}", hash_dir(&item.hash)?);
        let path = self.inputs.join(&relative);
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() == item.bytes) {
            return Ok(relative);
        }
        let query = [("task", lease.task.to_string()), ("token", lease.token.clone()), ("item", n.to_string())];
        let bytes = self
            .client
            .get_bytes("/v1/farm/work/input", &query, INPUT_MAX_BYTES)
            .await
            .map_err(|e| farm_error(e, Some(lease.task)))?;
        if blake3::hash(&bytes).to_hex().as_str() != item.hash {
            return Err(FarmError::Refused(format!("frame {:?} came back with other bytes than its hash", item.name)));
        }
        let dir = path.parent().unwrap_or(&self.inputs);
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        // Written aside and renamed, so a half-written frame is never taken for a whole one.
        let part = dir.join(format!(".{file}.{}.part", std::process::id()));
        tokio::fs::write(&part, &bytes).await.map_err(io)?;
        tokio::fs::rename(&part, &path).await.map_err(io)?;
        Ok(relative)
    }

    /// The farm's shared cache entry `key`, if the server has it.
    pub(crate) async fn get_cache(&self, key: &str, max_bytes: u64) -> Option<Vec<u8>> {
        self.client.get_bytes(&format!("/v1/farm/work/cache/{key}"), &[], max_bytes).await.ok()
    }

    /// Keeps a cache entry on the server, for other workers; `None` when it was not kept.
    pub(crate) async fn put_cache(&self, key: &str, bytes: Vec<u8>) -> Option<()> {
        self.client.put_bytes(&format!("/v1/farm/work/cache/{key}"), bytes).await.ok()
    }

    /// Sends a file the task wrote, unless the server has its content already.
    async fn upload(&self, path: &Path) -> Result<(String, u64), FarmError> {
        let bytes = tokio::fs::read(path).await.map_err(io)?;
        let hash = blake3::hash(&bytes).to_hex().to_string();
        let len = bytes.len() as u64;
        let at = format!("/v1/farm/work/blobs/{hash}");
        if !self.client.exists(&at).await.map_err(|e| farm_error(e, None))? {
            self.client.put_bytes(&at, bytes).await.map_err(|e| farm_error(e, None))?;
        }
        Ok((hash, len))
    }
}

fn io(e: std::io::Error) -> FarmError {
    FarmError::Refused(format!("the worker's disk: {e}"))
}

/// A hash's folder name, or a refusal for something that is not a hash.
fn hash_dir(hash: &str) -> Result<&str, FarmError> {
    match hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(hash),
        false => Err(FarmError::Refused(format!("{hash:?} is not a content hash"))),
    }
}

/// A file name safe to create: its last path part, with odd characters replaced.
fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String =
        last.chars().take(100).map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    match clean.trim_start_matches('.') {
        "" => "frame".into(),
        rest => rest.to_string(),
    }
}

/// A server's refusal or silence as the farm's errors: a lost lease (409 `lease-lost`) as
/// such; the server or its database away as unreachable, to be waited out.
fn farm_error(e: ClientError, task: Option<i64>) -> FarmError {
    match e {
        ClientError::Unreachable { why, .. } => FarmError::Unreachable(why),
        ClientError::Refused { code, .. } if code == "lease-lost" => FarmError::LeaseLost { task: task.unwrap_or(0) },
        ClientError::Refused { status, message, .. } if status >= 500 => FarmError::Unreachable(message),
        ClientError::Refused { code, message, .. } => FarmError::Refused(format!("{message} ({code})")),
    }
}

fn ledger_error(e: ClientError) -> LedgerError {
    match e {
        ClientError::Unreachable { why, .. } => LedgerError::Unreachable(why),
        ClientError::Refused { status, message, .. } if status >= 500 => LedgerError::Unreachable(message),
        ClientError::Refused { code, message, .. } => LedgerError::Refused { code, message },
    }
}

/// A task run here, ready to execute: its run (with local paths) and its first item's index
/// in that run's file list.
pub(crate) struct Prepared {
    /// The run, its files and folders on this machine.
    pub run: FarmRun,
    /// Items `[from, to)` of `run.files` are this task's.
    pub from: usize,
    /// One past its last.
    pub to: usize,
}

impl Link {
    /// Adds or refreshes the worker.
    pub async fn register(&self, worker: &Worker) -> Result<(), FarmError> {
        match self {
            Link::Database(farm) => farm.register(worker).await,
            Link::Server(r) => r.post::<_, serde_json::Value>("register", worker, None).await.map(drop),
        }
    }

    /// The worker's heartbeat; `false` when the farm does not know it (it registers again).
    pub async fn heartbeat(&self, worker: &str) -> Result<bool, FarmError> {
        match self {
            Link::Database(farm) => farm.heartbeat(worker).await,
            Link::Server(r) => {
                let known: Known = r.post("heartbeat", &WorkerRef { worker: worker.into() }, None).await?;
                Ok(known.known)
            }
        }
    }

    /// Takes back dead workers' leases. Through a server, the server does it.
    pub async fn reap(&self) -> Result<u64, FarmError> {
        match self {
            Link::Database(farm) => farm.reap(super::worker::now_ms()).await,
            Link::Server(_) => Ok(0),
        }
    }

    /// Claims up to `n` tasks this worker can run.
    pub async fn claim(&self, worker: &Worker, n: u32, lease_ms: i64) -> Result<Vec<Lease>, FarmError> {
        match self {
            Link::Database(farm) => farm.claim(worker, n, lease_ms).await,
            Link::Server(r) => {
                let req = ClaimRequest { worker: worker.clone(), n, lease_ms };
                Ok(r.post::<_, Leases>("claim", &req, None).await?.leases)
            }
        }
    }

    /// Renews a lease; when it now runs out.
    pub async fn renew(&self, lease: &Lease, lease_ms: i64) -> Result<i64, FarmError> {
        match self {
            Link::Database(farm) => farm.renew(lease, lease_ms).await,
            Link::Server(r) => {
                let req = RenewRequest { lease: lease.into(), lease_ms };
                Ok(r.post::<_, Renewed>("renew", &req, Some(lease.task)).await?.expires_at_ms)
            }
        }
    }

    /// The lease `token` on `task`, while it is held.
    pub async fn lease(&self, task: i64, token: &str) -> Result<Option<Lease>, FarmError> {
        match self {
            Link::Database(farm) => farm.lease(task, token).await,
            Link::Server(r) => Ok(r.view(&TaskRef { task, token: token.into() }).await?.map(|(lease, _)| lease)),
        }
    }

    /// Of `tasks`, those `worker` no longer holds.
    pub async fn lost_leases(&self, worker: &str, tasks: &[i64]) -> Result<Vec<i64>, FarmError> {
        match self {
            Link::Database(farm) => farm.lost_leases(worker, tasks).await,
            Link::Server(r) => {
                let req = LostRequest { worker: worker.into(), tasks: tasks.to_vec() };
                Ok(r.post::<_, TaskIds>("lost", &req, None).await?.tasks)
            }
        }
    }

    /// Reports how a task ended, with the files it wrote.
    pub async fn complete_with(&self, lease: &Lease, outcome: &Outcome, outputs: &[Output]) -> Result<(), FarmError> {
        match self {
            Link::Database(farm) => farm.complete_with(lease, outcome, outputs).await,
            Link::Server(r) => {
                let req = CompleteRequest { lease: lease.into(), outcome: outcome.clone(), outputs: outputs.to_vec() };
                r.post::<_, serde_json::Value>("complete", &req, Some(lease.task)).await.map(drop)
            }
        }
    }

    /// Reports several ended tasks at once: on the database in one transaction; through a
    /// server one by one. Each answers for itself; an error for all means none was recorded.
    pub async fn complete_many(&self, ended: &[Completion]) -> Result<Vec<Result<(), FarmError>>, FarmError> {
        match self {
            Link::Database(farm) => farm.complete_many(ended).await,
            Link::Server(_) => {
                let mut results = Vec::with_capacity(ended.len());
                for c in ended {
                    match self.complete_with(&c.lease, &c.outcome, &c.outputs).await {
                        Err(e @ FarmError::Unreachable(_)) if results.is_empty() => return Err(e),
                        r => results.push(r),
                    }
                }
                Ok(results)
            }
        }
    }

    /// Stores a task's latest preview (dropped when previews come too fast).
    pub async fn put_preview(&self, lease: &Lease, preview: &StoredPreview) -> Result<(), FarmError> {
        use base64::Engine as _;
        match self {
            Link::Database(farm) => farm.put_preview(&lease.run_id, preview).await.map(drop),
            Link::Server(r) => {
                let req = PreviewRequest {
                    lease: lease.into(),
                    item: preview.item.clone(),
                    node: preview.node.clone(),
                    port: preview.port.clone(),
                    width: preview.width,
                    height: preview.height,
                    source_width: preview.source_width,
                    source_height: preview.source_height,
                    png_base64: base64::engine::general_purpose::STANDARD.encode(&preview.png),
                };
                r.post::<_, serde_json::Value>("preview", &req, Some(lease.task)).await.map(drop)
            }
        }
    }

    /// What the task's paid calls spend through: the ledger, or the server under the lease.
    pub fn spender(&self, lease: &Lease) -> Arc<dyn Spend> {
        match self {
            Link::Database(farm) => Arc::new(farm.ledger().clone()),
            Link::Server(r) => Arc::new(RemoteSpend { remote: Arc::clone(r), lease: lease.into() }),
        }
    }

    /// The task's run with its files on this machine: through a server, the frames are
    /// fetched (unless already here by hash) and outputs go to a scratch folder.
    pub(crate) async fn prepare(&self, lease: &Lease) -> Result<Prepared, Outcome> {
        let (from, to) = (lease.item_from.max(0) as usize, lease.item_to.max(0) as usize);
        let remote = match self {
            Link::Database(farm) => {
                return match farm.run(&lease.run_id).await {
                    Ok(Some(run)) => Ok(Prepared { run, from, to }),
                    Ok(None) => Err(Outcome::Failed(format!("run {} is not stored", lease.run_id))),
                    Err(e) => Err(Outcome::Interrupted(format!("cannot read the run: {e}"))),
                };
            }
            Link::Server(r) => r,
        };
        let at = TaskRef::from(lease);
        let view = match remote.view(&at).await {
            Ok(Some((_, view))) => view,
            Ok(None) => return Err(Outcome::Interrupted("the lease was lost".into())),
            Err(e) => return Err(Outcome::Interrupted(format!("cannot read the task from the server: {e}"))),
        };
        let mut files = Vec::with_capacity(view.items.len());
        for (n, item) in view.items.iter().enumerate() {
            match remote.input(&at, n, item).await {
                Ok(relative) => files.push(relative),
                Err(e @ FarmError::Refused(_)) => return Err(Outcome::Failed(format!("frame {:?}: {e}", item.name))),
                Err(e) => return Err(Outcome::Interrupted(format!("cannot fetch frame {:?}: {e}", item.name))),
            }
        }
        let out = remote.scratch.join(format!("{}-{}", lease.task, lease.attempt));
        if let Err(e) = tokio::fs::create_dir_all(&out).await {
            return Err(Outcome::Interrupted(format!("cannot make the task's scratch folder: {e}")));
        }
        let run = FarmRun {
            id: lease.run_id.clone(),
            workflow: view.workflow,
            input_root: remote.inputs.to_string_lossy().into_owned(),
            out_dir: out.to_string_lossy().into_owned(),
            bind: view.bind,
            files,
            overrides: view.overrides,
            billing: view.billing,
            tenant: None,
            names: view.items.into_iter().map(|i| i.name).collect(),
        };
        let n = run.files.len();
        Ok(Prepared { run, from: 0, to: n })
    }

    /// Keeps a file the task wrote by its content: in the artifact store (when the worker
    /// has one), or on the server. `None`: it is not kept (a worker on shared storage).
    pub(crate) async fn keep(
        &self,
        store: Option<&switchyard_farm::Artifacts>,
        path: &Path,
    ) -> Result<Option<(String, u64)>, String> {
        match (self, store) {
            (Link::Server(r), _) => r.upload(path).await.map(Some).map_err(|e| e.to_string()),
            (Link::Database(_), Some(store)) => store.put_file(path).await.map(Some).map_err(|e| e.to_string()),
            (Link::Database(_), None) => Ok(None),
        }
    }

    /// Drops what a task left on this machine (a remote worker's scratch folder).
    pub(crate) async fn finish(&self, run: &FarmRun) {
        if let Link::Server(r) = self
            && Path::new(&run.out_dir).starts_with(&r.scratch)
        {
            let _ = tokio::fs::remove_dir_all(&run.out_dir).await;
        }
    }
}

/// A task's ledger steps taken by the server, under the task's lease.
struct RemoteSpend {
    remote: Arc<Remote>,
    lease: TaskRef,
}

impl RemoteSpend {
    async fn step(&self, step: SpendStep) -> Result<Spent, LedgerError> {
        let req = SpendRequest { lease: self.lease.clone(), step };
        self.remote.client.post_json("/v1/farm/work/spend", &req).await.map_err(ledger_error)
    }

    async fn done(&self, step: SpendStep) -> Result<(), LedgerError> {
        self.step(step).await.map(drop)
    }
}

impl Spend for RemoteSpend {
    fn hold<'a>(&'a self, req: &'a HoldRequest, key: &'a str) -> SpendFuture<'a, HoldId> {
        Box::pin(async move {
            let step = SpendStep::Hold {
                amount: req.amount.0,
                timeout_ms: req.timeout_ms,
                run_id: req.audit.run_id.clone().unwrap_or_default(),
                node: req.audit.node_id.clone().unwrap_or_default(),
                provider: req.audit.provider.clone().unwrap_or_default(),
                key: key.to_string(),
            };
            let spent = self.step(step).await?;
            let hold = spent.hold.ok_or_else(|| LedgerError::Unreachable("the server named no hold".into()))?;
            Ok(HoldId(hold))
        })
    }

    fn void<'a>(&'a self, hold: &'a HoldId, key: &'a str) -> SpendFuture<'a, ()> {
        Box::pin(self.done(SpendStep::Void { hold: hold.0.clone(), key: key.into() }))
    }

    fn post<'a>(&'a self, hold: &'a HoldId, p: Posting<'a>, key: &'a str) -> SpendFuture<'a, ()> {
        Box::pin(self.done(SpendStep::Post {
            hold: hold.0.clone(),
            charge: p.charge.0,
            cost: p.cost.0,
            vendor_id: p.vendor_id.map(str::to_string),
            review: p.review.map(str::to_string),
            key: key.into(),
        }))
    }

    fn mark_unknown<'a>(&'a self, hold: &'a HoldId) -> SpendFuture<'a, ()> {
        Box::pin(self.done(SpendStep::Unknown { hold: hold.0.clone() }))
    }

    fn record_intent<'a>(&'a self, hold: &'a HoldId, vendor_id: Option<&'a str>) -> SpendFuture<'a, ()> {
        Box::pin(self.done(SpendStep::Intent { hold: hold.0.clone(), vendor_id: vendor_id.map(str::to_string) }))
    }

    /// A task's reservation is closed by the server when the task is reported.
    fn release_run<'a>(&'a self, _reservation: &'a HoldId, _run: &'a str) -> SpendFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_file_names_stay_inside_the_cache() {
        let cases = [
            ("f001.png", "f001.png"),
            ("../../etc/passwd", "passwd"),
            ("a/b\\c.png", "c.png"),
            ("..", "frame"),
            (".hidden.png", "hidden.png"),
            ("sp ace€.png", "sp_ace_.png"),
            ("", "frame"),
        ];
        for (given, want) in cases {
            assert_eq!(safe_file_name(given), want, "{given:?}");
        }
        assert!(hash_dir("../x").is_err());
        assert!(hash_dir(&"a".repeat(64)).is_ok());
    }
}
