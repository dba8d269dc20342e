//! The ledger steps a billed node takes, as a trait: a node spends through the ledger itself
//! where it can reach the database, or through the farm's server (a remote worker's), which
//! takes each step for it under the task's lease.

use std::future::Future;
use std::pin::Pin;

use switchyard_ledger::{Credits, HoldId, HoldRequest, Ledger, LedgerError};

/// A ledger step's future.
pub type SpendFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// A charge to post on a hold.
#[derive(Clone, Copy, Debug)]
pub struct Posting<'a> {
    /// What the wallet pays.
    pub charge: Credits,
    /// What the provider bills us.
    pub cost: Credits,
    /// The provider's request or task id.
    pub vendor_id: Option<&'a str>,
    /// Why the charge needs a person's review, if it does.
    pub review: Option<&'a str>,
}

/// Holds, posts and voids: what a billed node needs of the ledger. Every step is idempotent
/// under its key, as the ledger's own are.
pub trait Spend: Send + Sync {
    /// Reserves a call's most.
    fn hold<'a>(&'a self, req: &'a HoldRequest, key: &'a str) -> SpendFuture<'a, HoldId>;
    /// Releases a hold whose call was never taken.
    fn void<'a>(&'a self, hold: &'a HoldId, key: &'a str) -> SpendFuture<'a, ()>;
    /// Posts a call's charge.
    fn post<'a>(&'a self, hold: &'a HoldId, posting: Posting<'a>, key: &'a str) -> SpendFuture<'a, ()>;
    /// Leaves a hold open for reconciliation: its call may have been taken.
    fn mark_unknown<'a>(&'a self, hold: &'a HoldId) -> SpendFuture<'a, ()>;
    /// Writes that the call is going out (and, once known, the provider's id for it).
    fn record_intent<'a>(&'a self, hold: &'a HoldId, vendor_id: Option<&'a str>) -> SpendFuture<'a, ()>;
    /// Releases what a run's reservation has left.
    fn release_run<'a>(&'a self, reservation: &'a HoldId, run: &'a str) -> SpendFuture<'a, ()>;
}

impl Spend for Ledger {
    fn hold<'a>(&'a self, req: &'a HoldRequest, key: &'a str) -> SpendFuture<'a, HoldId> {
        Box::pin(Ledger::hold(self, req, key))
    }

    fn void<'a>(&'a self, hold: &'a HoldId, key: &'a str) -> SpendFuture<'a, ()> {
        Box::pin(async move { Ledger::void(self, hold, key).await.map(drop) })
    }

    fn post<'a>(&'a self, hold: &'a HoldId, p: Posting<'a>, key: &'a str) -> SpendFuture<'a, ()> {
        Box::pin(async move { self.post_reviewed(hold, p.charge, p.cost, p.vendor_id, p.review, key).await.map(drop) })
    }

    fn mark_unknown<'a>(&'a self, hold: &'a HoldId) -> SpendFuture<'a, ()> {
        Box::pin(Ledger::mark_unknown(self, hold))
    }

    fn record_intent<'a>(&'a self, hold: &'a HoldId, vendor_id: Option<&'a str>) -> SpendFuture<'a, ()> {
        Box::pin(Ledger::record_intent(self, hold, vendor_id))
    }

    fn release_run<'a>(&'a self, reservation: &'a HoldId, run: &'a str) -> SpendFuture<'a, ()> {
        Box::pin(async move { Ledger::release_run(self, reservation, run).await.map(drop) })
    }
}
