//! The farm's shared cache tier: a worker keeps its costly cache entries (paid calls,
//! inference) in the farm's artifact store, directly or through the server, so a task that
//! runs again on another machine (after a lost worker, say) reuses what was paid for
//! instead of paying again. Entries are read and written from the engine's blocking threads.

use std::sync::Arc;
use std::time::Duration;

use switchyard_engine::cache::{CacheKey, SHARED_MAX_BYTES, SharedStore};
use switchyard_farm::Artifacts;
use tokio::runtime::Handle;

use super::link::{Link, Remote};
use crate::run::SharedTier;

/// How long one shared-tier read or write may take before it counts as a miss.
const TIER_TIMEOUT: Duration = Duration::from_secs(10);

/// The shared tier for a worker on `link` (with its own artifact store, if any), when the
/// farm has one; `None` outside a runtime.
pub(crate) fn shared_tier(link: &Link, artifacts: Option<&Artifacts>) -> Option<SharedTier> {
    let rt = Handle::try_current().ok()?;
    let store: Arc<dyn SharedStore> = match (link, artifacts) {
        (Link::Server(remote), _) => Arc::new(ServerTier { remote: Arc::clone(remote), rt }),
        (Link::Database(_), Some(store)) => Arc::new(StoreTier { store: store.clone(), rt }),
        (Link::Database(_), None) => return None,
    };
    Some(SharedTier(store))
}

/// Runs `f` to its end from a blocking thread, or gives up after [`TIER_TIMEOUT`].
fn wait<T>(rt: &Handle, f: impl std::future::Future<Output = Option<T>>) -> Option<T> {
    rt.block_on(async { tokio::time::timeout(TIER_TIMEOUT, f).await.ok().flatten() })
}

struct ServerTier {
    remote: Arc<Remote>,
    rt: Handle,
}

impl SharedStore for ServerTier {
    fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        wait(&self.rt, self.remote.get_cache(&key.to_hex(), SHARED_MAX_BYTES as u64 + 4096))
    }

    fn put(&self, key: &CacheKey, bytes: Vec<u8>) {
        let _best_effort = wait(&self.rt, self.remote.put_cache(&key.to_hex(), bytes));
    }
}

struct StoreTier {
    store: Artifacts,
    rt: Handle,
}

impl SharedStore for StoreTier {
    fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        wait(&self.rt, async { self.store.get_cache(&key.to_hex()).await.ok().flatten() })
    }

    fn put(&self, key: &CacheKey, bytes: Vec<u8>) {
        let _best_effort = wait(&self.rt, async { self.store.put_cache(&key.to_hex(), bytes).await.ok() });
    }
}
