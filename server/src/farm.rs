//! The farm's task events on the event stream: the server listens to the farm's
//! notifications and publishes each one to the run's tenant as a `task` event. The listener
//! reconnects after a lost connection; a run's tenant is looked up once and remembered (a
//! bounded map).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

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
            if !tenants.contains_key(&event.run) {
                if tenants.len() >= TENANTS_MAX {
                    tenants.clear();
                }
                let tenant = farm.run(&event.run).await.ok().flatten().and_then(|r| r.tenant);
                tenants.insert(event.run.clone(), tenant);
            }
            let Some(Some(tenant)) = tenants.get(&event.run) else { continue };
            let body = serde_json::json!({
                "state": event.state, "task": event.seq, "worker": event.worker, "message": event.error,
            });
            app.hub.publish(tenant, &event.run, "task", body);
        }
    }
}
