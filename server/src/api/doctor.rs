//! `/v1/doctor`: the server machine, for the tenant's admin: what local work it can do (CPU,
//! memory, graphics adapters, the ONNX Runtime, free disk), its storage backend and the
//! tenant's own queue (never another tenant's). The probe enumerates graphics adapters, so its answer is kept for a while.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;

use super::{ApiError, require};
use crate::App;
use crate::keys::{Caller, Permission};
use crate::protocol::DoctorReply;
use switchyard_engine::capability::LocalCapability;

/// How long a probe's answer is reused.
const PROBE_TTL: Duration = Duration::from_secs(30);

/// The latest probe of the machine, and when it was taken.
#[derive(Default)]
pub(crate) struct Probe(tokio::sync::Mutex<Option<(Instant, Arc<LocalCapability>)>>);

impl Probe {
    /// What this machine has, probed at most every `PROBE_TTL`.
    pub(crate) async fn capability(&self, app: &App) -> Option<Arc<LocalCapability>> {
        let mut kept = self.0.lock().await;
        if let Some((at, machine)) = kept.as_ref()
            && at.elapsed() < PROBE_TTL
        {
            return Some(Arc::clone(machine));
        }
        let (cache, runtime) = (app.data.join("cache"), app.onnx.runtime.clone());
        let probed = tokio::task::spawn_blocking(move || {
            let _ = std::fs::create_dir_all(&cache);
            switchyard_nodes::probe::probe(&cache, &runtime)
        })
        .await
        .ok()
        .map(Arc::new)?;
        *kept = Some((Instant::now(), Arc::clone(&probed)));
        Some(probed)
    }

    async fn machine(&self, app: &App) -> serde_json::Value {
        self.capability(app).await.and_then(|cap| serde_json::to_value(cap.as_ref()).ok()).unwrap_or_default()
    }
}

/// `GET /v1/doctor`.
pub(crate) async fn doctor(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<DoctorReply>, ApiError> {
    require(&caller, Permission::Admin)?;
    let machine = app.probe.machine(&app).await;
    let depths = app.store.tenant_depths(&caller.tenant).await?;
    let count = |state: &str| depths.iter().filter(|d| d.0 == state).map(|d| d.1).sum::<i64>();
    Ok(Json(DoctorReply {
        version: env!("CARGO_PKG_VERSION").to_string(),
        backend: app.store.backend_name().to_string(),
        workers: app.workers,
        queued: count("queued") + count("paused") + count("scheduled"),
        running: count("running"),
        ledger: match app.ledger().await {
            Ok(_) => "ok".into(),
            Err(e) => format!("unavailable: {e}"),
        },
        machine,
    }))
}
