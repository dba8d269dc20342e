//! `switchyard worker`: a render-farm worker on this machine (glue: flags, the machine's
//! probe, signals; the loop is `session::farm::work`).

use std::sync::Arc;

use anyhow::{Context, Result};
use switchyard_engine::capability::DeviceType;
use switchyard_session::farm::{Artifacts, Farm, Isolation, Link, Remote, Worker, WorkerOptions, run_child, work};
use switchyard_session::run::ExecOptions;
use switchyard_session::settings::Config;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::args::{WorkerArgs, WorkerTaskArgs};

/// GPU brands by PCI vendor id.
const BRANDS: [(u32, &str); 4] = [(0x10de, "nvidia"), (0x1002, "amd"), (0x8086, "intel"), (0x106b, "apple")];

pub fn worker(args: WorkerArgs, registry: switchyard_engine::Registry, config: &Config) -> Result<Exit> {
    let url = match &args.server {
        Some(server) => server.clone(),
        None => match super::farm::database_url(args.database.clone()) {
            Some(url) => url,
            None => return Ok(Exit::Invalid),
        },
    };
    let cache_dir = args.cache_dir.clone().or_else(|| dirs::cache_dir().map(|d| d.join("switchyard")));
    let onnx = config.onnx_settings();
    let probe =
        switchyard_nodes::probe::probe(cache_dir.as_deref().unwrap_or(std::path::Path::new(".")), &onnx.runtime);
    let mut gpu_brands: Vec<String> = probe
        .adapters
        .iter()
        .filter(|a| matches!(a.device_type, DeviceType::DiscreteGpu | DeviceType::IntegratedGpu))
        .filter_map(|a| BRANDS.iter().find(|(v, _)| *v == a.vendor).map(|(_, b)| b.to_string()))
        .collect();
    gpu_brands.dedup();
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let worker = Worker {
        id: args.id.clone().unwrap_or_else(|| format!("{host}-{}", std::process::id())),
        host,
        slots: args.slots.max(1),
        memory_gb: args.memory_gb.unwrap_or(probe.memory_total_bytes as f64 / f64::from(1u32 << 30)),
        gpu_brands,
        onnx_providers: probe.onnx.as_ref().map(|o| o.providers.clone()).unwrap_or_default(),
        tags: args.tags.clone(),
    };
    let opts = WorkerOptions {
        worker,
        lease_ms: args.lease_ms.max(100),
        idle_poll_ms: 200,
        exec: ExecOptions::service(cache_dir),
        inputs: config.input_roots(),
        catalog: Arc::new(switchyard_session::catalog::Catalog::builtin()),
        onnx,
        isolate: match args.isolate {
            true => {
                Some(Isolation { exe: std::env::current_exe()?, farm: url.clone(), artifacts: args.artifacts.clone() })
            }
            false => None,
        },
        artifacts: args.artifacts.as_deref().map(Artifacts::open).transpose()?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let farm = connect(args.server.is_some(), &url, opts.exec.cache.dir.as_deref(), 4).await?;
        let stop = CancellationToken::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            on_signal.cancel();
        });
        // Scripts and tests read the id from this line.
        println!("worker {} ({} slots)", opts.worker.id, opts.worker.slots);
        let stats = work(&farm, Arc::new(registry), &opts, stop).await?;
        eprintln!(
            "worker {}: {} done, {} failed, {} leases lost",
            opts.worker.id,
            stats.done.load(std::sync::atomic::Ordering::Relaxed),
            stats.failed.load(std::sync::atomic::Ordering::Relaxed),
            stats.lost.load(std::sync::atomic::Ordering::Relaxed)
        );
        Ok(Exit::Ok)
    })
}

/// `switchyard worker-task`: runs one leased task and prints how it ended (one JSON line)
/// for the isolating worker that started it, which keeps the lease and reports.
pub fn worker_task(args: WorkerTaskArgs, registry: switchyard_engine::Registry, config: &Config) -> Result<Exit> {
    let opts = WorkerOptions {
        worker: Worker { id: "task".into(), ..Worker::default() },
        lease_ms: 30_000,
        idle_poll_ms: 200,
        exec: ExecOptions::service(args.cache_dir.clone()),
        inputs: config.input_roots(),
        catalog: Arc::new(switchyard_session::catalog::Catalog::builtin()),
        onnx: config.onnx_settings(),
        isolate: None,
        artifacts: args.artifacts.as_deref().map(Artifacts::open).transpose()?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let (remote, url) = match (&args.server, &args.database) {
            (Some(server), _) => (true, server.clone()),
            (None, Some(database)) => (false, database.clone()),
            (None, None) => anyhow::bail!("worker-task needs --database or --server"),
        };
        let farm = connect(remote, &url, args.cache_dir.as_deref(), 2).await?;
        let outcome = run_child(&farm, &registry, &opts, args.task, &args.token).await?;
        println!("{}", serde_json::to_string(&outcome)?);
        Ok(Exit::Ok)
    })
}

/// The farm at `url`: its server (with the worker key from `SWITCHYARD_TOKEN`, keeping
/// fetched frames under the cache folder), or its database.
async fn connect(remote: bool, url: &str, cache_dir: Option<&std::path::Path>, connections: u32) -> Result<Link> {
    if !remote {
        let farm = Farm::connect(url, connections).await.context("cannot open the farm's database")?;
        return Ok(Link::Database(farm));
    }
    let token = std::env::var("SWITCHYARD_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .context("no worker key: set SWITCHYARD_TOKEN to a key made with `serve --create-key farm --role worker`")?;
    let dir = cache_dir.map_or_else(|| std::env::temp_dir().join("switchyard"), std::path::Path::to_path_buf);
    Ok(Link::Server(Arc::new(Remote::new(url, &token, &dir))))
}
