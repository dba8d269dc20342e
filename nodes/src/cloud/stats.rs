//! Provider errors counted by provider and HTTP status, for a server's `/metrics`. One count
//! is shared by every client of a registry; whoever builds the registry may read it.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Error replies by (provider, status); the status is `transport` when no reply came.
#[derive(Debug, Default)]
pub struct ProviderErrors(Mutex<BTreeMap<(&'static str, String), u64>>);

impl ProviderErrors {
    /// Counts one error of `provider`.
    pub fn record(&self, provider: &'static str, status: &str) {
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry((provider, status.to_string())).or_default() += 1;
        }
    }

    /// Every count: `(provider, status, count)`, by provider and status.
    pub fn counts(&self) -> Vec<(&'static str, String, u64)> {
        self.0.lock().map(|c| c.iter().map(|((p, s), n)| (*p, s.clone(), *n)).collect()).unwrap_or_default()
    }
}
