//! The expected start of a new run: the runs that would go before it, times how long runs
//! take here, over the worker slots. The counts are a snapshot of the queue refreshed at most
//! once a second, so estimating never costs a scan of the queue per submission; the run
//! time is a moving average of the runs that ended here.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::ServerError;
use crate::store::Store;

/// How old a snapshot of the queue may be.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(1);
/// The run time assumed before any run has ended here.
const FIRST_GUESS_MS: u64 = 1_000;

struct Snapshot {
    taken: Option<Instant>,
    /// Queued runs by (tier, priority).
    queued: BTreeMap<(i64, i64), i64>,
    running: i64,
}

pub(crate) struct Estimator {
    snapshot: Mutex<Snapshot>,
    avg_run_ms: AtomicU64,
}

impl Default for Estimator {
    fn default() -> Self {
        Self {
            snapshot: Mutex::new(Snapshot { taken: None, queued: BTreeMap::new(), running: 0 }),
            avg_run_ms: AtomicU64::new(FIRST_GUESS_MS),
        }
    }
}

impl Estimator {
    /// Counts a run that took `ms` into the average (weight 1/5).
    pub(crate) fn run_took(&self, ms: u64) {
        let old = self.avg_run_ms.load(Ordering::Relaxed);
        self.avg_run_ms.store((old * 4 + ms) / 5, Ordering::Relaxed);
    }

    /// Counts a run just queued into the snapshot, so the next estimates within the second
    /// see it.
    pub(crate) async fn queued(&self, tier: i64, priority: i64) {
        *self.snapshot.lock().await.queued.entry((tier, priority)).or_default() += 1;
    }

    /// How long a new run at (`tier`, `priority`) would wait to start, in ms.
    pub(crate) async fn wait_ms(
        &self,
        store: &Store,
        tier: i64,
        priority: i64,
        workers: usize,
    ) -> Result<i64, ServerError> {
        let mut snapshot = self.snapshot.lock().await;
        if snapshot.taken.is_none_or(|t| t.elapsed() > SNAPSHOT_MAX_AGE) {
            let (queued, running) = store.waiting_by_level().await?;
            *snapshot = Snapshot { taken: Some(Instant::now()), queued, running };
        }
        let ahead: i64 = snapshot
            .queued
            .iter()
            .filter(|((t, p), _)| *t > tier || (*t == tier && *p >= priority))
            .map(|(_, n)| n)
            .sum();
        let workers = workers.max(1) as f64;
        let avg = self.avg_run_ms.load(Ordering::Relaxed) as f64;
        // Runs already running are, on average, half done.
        let busy = if snapshot.running as f64 >= workers { avg / 2.0 } else { 0.0 };
        Ok((ahead as f64 / workers * avg + busy).round() as i64)
    }
}
