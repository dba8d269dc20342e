//! The farm's task events and workers' previews on the event stream: the server listens to
//! the farm's notifications and publishes each to the run's tenant, as a `task` event or a
//! live `preview`. The listener
//! reconnects after a lost connection; a run's tenant is looked up once and remembered (a
//! bounded map).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchyard_session::farm::{FarmEvent, StoredPreview};
use tokio_util::sync::CancellationToken;

use crate::events::Detail;

use crate::App;

/// Runs whose tenant is remembered, at most.
const TENANTS_MAX: usize = 10_000;

/// Relays task events until `shutdown`.
pub(crate) async fn relay(app: Arc<App>, shutdown: CancellationToken) {
    let Some(farm) = app.farm.clone() else { return };
    let mut tenants: HashMap<String, Option<String>> = HashMap::new();
    while !shutdown.is_cancelled() {
        let mut watch = match farm.watch().await {
            Ok(watch) => watch,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to the farm's events; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.cancelled() => return,
                }
            }
        };
        loop {
            let event = tokio::select! {
                event = watch.next() => event,
                _ = shutdown.cancelled() => return,
            };
            let event = match event {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "the farm's event connection failed; reconnecting");
                    break;
                }
            };
            let run = match &event {
                FarmEvent::Task(t) => t.run.clone(),
                FarmEvent::Preview(p) => p.run.clone(),
            };
            if !tenants.contains_key(&run) {
                if tenants.len() >= TENANTS_MAX {
                    tenants.clear();
                }
                let tenant = farm.run(&run).await.ok().flatten().and_then(|r| r.tenant);
                tenants.insert(run.clone(), tenant);
            }
            let Some(Some(tenant)) = tenants.get(&run) else { continue };
            match event {
                FarmEvent::Task(t) => {
                    let body = serde_json::json!({
                        "state": t.state, "task": t.seq, "worker": t.worker, "message": t.error,
                    });
                    app.hub.publish(tenant, &run, "task", body);
                }
                FarmEvent::Preview(note) => {
                    if let Ok(Some(preview)) = farm.preview(&note).await {
                        app.hub.publish_preview(tenant, &run, preview_event(&preview), Detail::Opaque);
                    }
                }
            }
        }
    }
}

/// Takes back dead workers' leases once a second, as every worker on the database does: a
/// farm whose workers all join through this server has no one else to do it. (The farm
/// elects one reaper at a time, so this costs nothing when others reap too.)
pub(crate) async fn reap(app: Arc<App>, shutdown: CancellationToken) {
    let Some(farm) = app.farm.clone() else { return };
    while !shutdown.is_cancelled() {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        if let Err(e) = farm.reap(now).await {
            tracing::warn!(error = %e, "cannot take back expired farm leases; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// A worker's preview as `/v1/events` sends previews (the shape a local run's have).
fn preview_event(p: &StoredPreview) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::json!({
        "item": p.item,
        "node": p.node,
        "event": "preview",
        "port": p.port,
        "width": p.width,
        "height": p.height,
        "source_width": p.source_width,
        "source_height": p.source_height,
        "media_type": "image/png",
        "data": base64::engine::general_purpose::STANDARD.encode(&p.png),
    })
}
