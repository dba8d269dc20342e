//! A cloud node that spends through the ledger. Before each call it holds the candidate's
//! most (and the run's budget), after a success it posts the metered charge, after a
//! failure it voids, and after a lost reply it leaves the hold open as unknown for
//! reconciliation. A refusal before any charge moves the node to its next candidate on
//! another provider, when its placement allows: the old hold is voided first, so a node
//! never holds or pays twice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use switchyard_catalog::place::{Candidate, Placed};
use switchyard_catalog::quote::Call;
use switchyard_catalog::{Catalog, provider_of};
use switchyard_engine::{
    CallJournal, CallRecord, JournalFuture, Node, NodeContext, NodeError, NodeFuture, NodeSpec, Outputs,
    PROVIDER_PARAM, ParamProblem, ParamValue, PathRoots,
};
use switchyard_ledger::{Audit, Credits, HoldId, HoldRequest, Ledger};

use crate::spend::{Posting, Spend};

use crate::charge::{Charge, charge};
use crate::plan::param_text;
use crate::record::{CreditsRecord, FellBack};
use crate::run_id::RunId;

/// The least time a hold lives, however quick the call is expected to be.
const HOLD_MIN_MS: i64 = 600_000;

/// What a run spends from.
pub struct Billing {
    /// The ledger, or a server that takes its steps for this worker.
    pub ledger: Arc<dyn Spend>,
    /// Prices.
    pub catalog: Arc<Catalog>,
    /// The wallet.
    pub account: String,
    /// The team member spending from it, within their cap.
    pub member: Option<String>,
    /// This run's id, on every hold and transfer, and the start of all its keys.
    pub run_id: RunId,
    /// The run's budget.
    pub budget: RunBudget,
    /// The run's reservation, taken at admission; node holds draw from it.
    pub reservation: Option<HoldId>,
}

/// The least time a run's reservation lives: a killed run's reservation is released by
/// recovery after this long, so it must outlast any run still going.
const RUN_HOLD_MIN_MS: i64 = 30 * 60_000;

impl Billing {
    /// Admits a run: reserves its most (`most` credits, from the quote) on the wallet and
    /// the member's cap in one step, so runs started together are admitted only while they
    /// fit, and an admitted run never runs short. Refused with the ledger's reason
    /// (insufficient funds, the member's cap) before anything runs or is charged.
    #[allow(clippy::too_many_arguments)]
    pub async fn admit(
        ledger: Ledger,
        catalog: Arc<Catalog>,
        account: String,
        member: Option<String>,
        run_id: RunId,
        budget: Option<i64>,
        most: i64,
        makespan_s: f64,
    ) -> Result<Self, switchyard_ledger::LedgerError> {
        let reservation = match most {
            0 => None,
            most => {
                let timeout_ms = ((makespan_s * 3000.0) as i64).max(RUN_HOLD_MIN_MS);
                let run = run_id.to_string();
                Some(ledger.reserve_run(&account, member.as_deref(), Credits(most), timeout_ms, &run).await?)
            }
        };
        let ledger: Arc<dyn Spend> = Arc::new(ledger);
        Ok(Self { ledger, catalog, account, member, run_id, budget: RunBudget::new(budget), reservation })
    }

    /// Closes the run: releases what its nodes did not draw from the reservation (their
    /// unknown holds stay open on their own).
    pub async fn close(&self) -> Result<(), switchyard_ledger::LedgerError> {
        if let Some(r) = &self.reservation {
            self.ledger.release_run(r, &self.run_id.to_string()).await?;
        }
        Ok(())
    }
}

/// Writes a billed call's intent on its hold, so recovery after a crash marks the hold
/// unknown instead of voiding it.
struct HoldJournal {
    ledger: Arc<dyn Spend>,
    hold: HoldId,
}

impl CallJournal for HoldJournal {
    fn sending(&self) -> JournalFuture<'_> {
        Box::pin(async move { self.ledger.record_intent(&self.hold, None).await.map_err(|e| e.to_string()) })
    }

    fn identified<'a>(&'a self, remote_id: &'a str) -> JournalFuture<'a> {
        Box::pin(async move { self.ledger.record_intent(&self.hold, Some(remote_id)).await.map_err(|e| e.to_string()) })
    }
}

/// Credits a run may still commit; every hold takes from it and every settlement gives the
/// unused part back, so concurrent nodes can never overspend it together.
pub struct RunBudget {
    left: Mutex<Option<i64>>,
}

impl RunBudget {
    /// A budget of `limit` credits, or none.
    pub fn new(limit: Option<i64>) -> Self {
        Self { left: Mutex::new(limit) }
    }

    fn take(&self, amount: i64) -> Result<(), i64> {
        let mut left = self.left.lock().unwrap_or_else(|p| p.into_inner());
        match *left {
            Some(l) if l < amount => Err(l),
            Some(l) => {
                *left = Some(l - amount);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn give_back(&self, amount: i64) {
        let mut left = self.left.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = left.as_mut() {
            *l += amount;
        }
    }
}

/// A cloud node wrapped to spend through the ledger.
pub struct Billed {
    inner: Arc<dyn Node>,
    placed: Placed,
    capability: String,
    billing: Arc<Billing>,
    /// The batch item this node belongs to (empty for a single run), so keys stay distinct.
    scope: String,
}

impl Billed {
    /// Wraps `inner` (a capability node) placed as `placed`, in batch item `scope` (empty for
    /// a single run).
    pub fn new(inner: Arc<dyn Node>, placed: Placed, capability: &str, billing: Arc<Billing>, scope: &str) -> Self {
        Self { inner, placed, capability: capability.into(), billing, scope: scope.into() }
    }
}

/// An open hold that nothing has settled yet. If the node's future is dropped (the engine's
/// node timeout), the call may still be running at the provider, so the hold is marked
/// unknown rather than left to expire and be voided.
struct OpenHold {
    ledger: Arc<dyn Spend>,
    hold: Option<HoldId>,
}

impl OpenHold {
    fn settled(mut self) {
        self.hold = None;
    }
}

impl Drop for OpenHold {
    fn drop(&mut self) {
        let (Some(hold), Ok(rt)) = (self.hold.take(), tokio::runtime::Handle::try_current()) else { return };
        let ledger = Arc::clone(&self.ledger);
        tracing::warn!(hold = %hold.0, "a billed node stopped mid-call; its hold stays open as unknown");
        rt.spawn(async move {
            if let Err(e) = ledger.mark_unknown(&hold).await {
                tracing::error!(hold = %hold.0, error = %e, "cannot mark the hold unknown; start-up recovery will see it");
            }
        });
    }
}

/// A candidate that refused the call before any charge.
struct Refusal {
    placement: String,
    message: String,
}

impl Node for Billed {
    fn spec(&self) -> &NodeSpec {
        self.inner.spec()
    }

    fn check_param(&self, name: &str, value: &ParamValue) -> Result<(), ParamProblem> {
        self.inner.check_param(name, value)
    }

    fn fingerprint(
        &self,
        params: &[(&'static str, ParamValue)],
        paths: &PathRoots,
    ) -> Result<Option<blake3::Hash>, NodeError> {
        self.inner.fingerprint(params, paths)
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        let (inner, billing) = (Arc::clone(&self.inner), Arc::clone(&self.billing));
        let (placed, capability, scope) = (self.placed.clone(), self.capability.clone(), self.scope.clone());
        Box::pin(async move { spend(inner, &billing, &placed, &capability, &scope, ctx).await })
    }
}

async fn spend(
    inner: Arc<dyn Node>,
    billing: &Billing,
    placed: &Placed,
    capability: &str,
    scope: &str,
    ctx: NodeContext,
) -> Result<Outputs, NodeError> {
    let id = ctx.node_id().as_str();
    let node = if scope.is_empty() { id.to_string() } else { format!("{scope}/{id}") };
    let tries = if placed.fallbacks { placed.candidates.len() } else { 1 };
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut refused_providers: Vec<String> = Vec::new();
    for (n, cand) in placed.candidates.iter().take(tries).enumerate() {
        let provider = provider_of(&cand.id).to_string();
        if refused_providers.contains(&provider) {
            continue;
        }
        let run_ctx = ctx.with_param(PROVIDER_PARAM, ParamValue::Text(cand.id.as_str().into()));
        if cand.credits.1 == 0 {
            // Local work is free: nothing to hold.
            return inner.run(run_ctx).await;
        }
        let hold = take_hold(billing, &node, cand, n).await?;
        let open = OpenHold { ledger: Arc::clone(&billing.ledger), hold: Some(hold.clone()) };
        let journal = HoldJournal { ledger: Arc::clone(&billing.ledger), hold: hold.clone() };
        let run_ctx = run_ctx.with_journal(Arc::new(journal));
        let result = inner.run(run_ctx).await;
        match result {
            Ok(out) => {
                let call = call_of(&node, capability, &ctx, cand);
                let record_in = out.metering().and_then(CallRecord::of);
                let charged = settle(billing, &hold, cand, &call, record_in.as_ref(), megapixels(&out), &node).await?;
                open.settled();
                let record = record(record_in.as_ref(), placed, cand, &charged, &hold, &refusals);
                return Ok(out.with_metering(record));
            }
            Err(NodeError::AfterRemoteWork { message, metering }) => {
                // The provider did the work: it is paid for, and the node keeps the result.
                let call = call_of(&node, capability, &ctx, cand);
                let record_in = CallRecord::of(&metering);
                let charged = settle(billing, &hold, cand, &call, record_in.as_ref(), None, &node).await?;
                open.settled();
                let message = format!("{message}; charged {} cr for the provider's work", charged.credits);
                let record = record(record_in.as_ref(), placed, cand, &charged, &hold, &refusals);
                return Err(NodeError::AfterRemoteWork { message, metering: Box::new(record) });
            }
            Err(NodeError::Refused(message)) => {
                release(billing, &hold, cand, &node, "refused").await?;
                open.settled();
                tracing::warn!(node, placement = %cand.placement, %message, "refused before any charge; trying the next candidate");
                refusals.push(Refusal { placement: cand.placement.clone(), message });
                refused_providers.push(provider);
            }
            Err(NodeError::OutcomeUnknown(message)) => {
                // The credits stay held, and the budget stays spent, until reconciliation.
                billing.ledger.mark_unknown(&hold).await.map_err(ledger_error)?;
                open.settled();
                return Err(NodeError::OutcomeUnknown(format!("{message}; hold {} stays open", hold.0)));
            }
            Err(e) => {
                // The inner node says the provider never took the work (its errors after
                // acceptance are unknown outcomes), so nothing can be owed.
                release(billing, &hold, cand, &node, "failed").await?;
                open.settled();
                return Err(e);
            }
        }
    }
    let tried: Vec<String> = refusals.iter().map(|r| format!("{}: {}", r.placement, r.message)).collect();
    Err(NodeError::Failed(match refusals.as_slice() {
        [] => "no candidate to try; nothing was charged".into(),
        [only] => format!("{}; nothing was charged", only.message),
        _ => format!("every candidate refused before any charge ({}); nothing was charged", tried.join("; ")),
    }))
}

/// The idempotency key of a node's `n`th hold in a run: unique across machines, as the run
/// id is.
fn hold_key(run: &RunId, node: &str, n: usize) -> String {
    format!("{run}:{node}:hold:{n}")
}

fn ledger_error(e: switchyard_ledger::LedgerError) -> NodeError {
    NodeError::Failed(format!("ledger: {e}"))
}

async fn take_hold(billing: &Billing, node: &str, cand: &Candidate, n: usize) -> Result<HoldId, NodeError> {
    let amount = cand.credits.1;
    billing.budget.take(amount).map_err(|left| {
        NodeError::Failed(format!(
            "{} needs up to {amount} cr but the run's budget has {left} cr left; nothing was charged",
            cand.placement
        ))
    })?;
    let req = HoldRequest {
        wallet: billing.account.clone(),
        amount: Credits(amount),
        timeout_ms: ((cand.eta_s.1 * 3000.0) as i64).max(HOLD_MIN_MS),
        audit: Audit {
            run_id: Some(billing.run_id.to_string()),
            node_id: Some(node.into()),
            provider: Some(provider_of(&cand.id).into()),
            vendor_id: None,
        },
        member: billing.member.clone(),
        parent: billing.reservation.as_ref().map(|r| r.0.clone()),
    };
    let key = hold_key(&billing.run_id, node, n);
    match billing.ledger.hold(&req, &key).await {
        Ok(hold) => Ok(hold),
        Err(e) => {
            billing.budget.give_back(amount);
            let message = format!("{}: cannot hold credits: {e}; nothing was charged", cand.placement);
            Err(match e {
                // The ledger is away, not short: nothing went out, and a later try may pass.
                switchyard_ledger::LedgerError::Database(_) | switchyard_ledger::LedgerError::Unreachable(_) => {
                    NodeError::Unavailable(message)
                }
                _ => NodeError::Failed(message),
            })
        }
    }
}

async fn release(billing: &Billing, hold: &HoldId, cand: &Candidate, node: &str, why: &str) -> Result<(), NodeError> {
    let key = format!("{}:{node}:void:{}", billing.run_id, hold.0);
    billing.ledger.void(hold, &key).await.map_err(ledger_error)?;
    billing.budget.give_back(cand.credits.1);
    tracing::debug!(node, hold = %hold.0, why, "hold voided");
    Ok(())
}

fn call_of(node: &str, capability: &str, ctx: &NodeContext, cand: &Candidate) -> Call {
    let params: BTreeMap<String, String> =
        ctx.params().iter().map(|(name, value)| (name.to_string(), param_text(value))).collect();
    Call::new(node, capability, &cand.id, params)
}

async fn settle(
    billing: &Billing,
    hold: &HoldId,
    cand: &Candidate,
    call: &Call,
    record: Option<&CallRecord>,
    megapixels: Option<f64>,
    node: &str,
) -> Result<Charge, NodeError> {
    let reused = record.is_some_and(|r| r.reused);
    let charged = if reused { Charge::nothing() } else { charge(&billing.catalog, cand, call, record, megapixels) };
    let vendor = record.and_then(CallRecord::vendor_id);
    let key = format!("{}:{node}:post", billing.run_id);
    if charged.credits == 0 {
        billing.ledger.void(hold, &key).await.map_err(ledger_error)?;
    } else {
        let (credits, cost) = (Credits(charged.credits), Credits(charged.cost));
        let review = charged.review.as_deref();
        let posting = Posting { charge: credits, cost, vendor_id: vendor, review };
        billing.ledger.post(hold, posting, &key).await.map_err(ledger_error)?;
    }
    billing.budget.give_back(cand.credits.1 - charged.credits);
    Ok(charged)
}

/// The megapixels of the first image output, which an image's price is metered by.
fn megapixels(out: &Outputs) -> Option<f64> {
    out.values().find_map(|(_, v)| match v {
        switchyard_engine::Value::Image(img) => Some(f64::from(img.width()) * f64::from(img.height()) / 1_048_576.0),
        _ => None,
    })
}

/// The node's metering record: its call record with what it was quoted, held and charged.
fn record(
    call: Option<&CallRecord>,
    placed: &Placed,
    cand: &Candidate,
    charged: &Charge,
    hold: &HoldId,
    refusals: &[Refusal],
) -> Value {
    let fell_back_from =
        refusals.iter().map(|r| FellBack { placement: r.placement.clone(), refused: r.message.clone() }).collect();
    let credits = CreditsRecord {
        placement: cand.placement.clone(),
        quoted: placed.quote.credits,
        held: cand.credits.1,
        charged: charged.credits,
        cost: charged.cost,
        metered: charged.metered,
        hold: hold.0.clone(),
        gco2eq: cand.gco2eq,
        fell_back_from,
        review: charged.review.clone(),
    };
    credits.beside(call)
}

/// Wraps every placed node of `graph` so it spends through `billing`; `item` names the
/// batch item (empty for a single run).
pub fn wrap_graph(graph: &mut switchyard_engine::Graph, plan: &crate::GraphPlan, billing: &Arc<Billing>, item: &str) {
    for node in &mut graph.nodes {
        let (Some(placed), Some(cap)) = (plan.placed(&node.id), crate::plan::capability(node)) else { continue };
        node.node = Arc::new(Billed::new(Arc::clone(&node.node), placed.clone(), cap, Arc::clone(billing), item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: two runs that minted the same old-style id (`run-{ms}-{pid}`, the same
    /// millisecond and pid on two farm machines) shared their hold keys, so the second run's
    /// hold replayed the first's and its paid call went unbilled. Minted ids never collide.
    #[test]
    fn runs_on_two_machines_never_share_hold_keys() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = std::env::temp_dir().join(format!("switchyard-runid-{}", RunId::mint()));
            std::fs::create_dir_all(&dir).unwrap();
            let ledger = Ledger::open(&dir.join("l.db")).await.unwrap();
            let grant = switchyard_ledger::Grant {
                wallet: "farm".into(),
                amount: Credits(1_000),
                source: switchyard_ledger::Source::Pack,
                expires_at_ms: None,
                reason: "test".into(),
                rollover_cap: 0,
            };
            ledger.grant(&grant, "g").await.unwrap();
            let req = HoldRequest {
                wallet: "farm".into(),
                amount: Credits(10),
                timeout_ms: 60_000,
                audit: Audit::default(),
                member: None,
                parent: None,
            };
            // Both machines minted run-{ms}-{pid} in the same millisecond with the same pid.
            let old_style = format!("run-{}-{}:gen:hold:0", 1_764_860_000_000i64, 4242);
            let a = ledger.hold(&req, &old_style).await.unwrap();
            let b = ledger.hold(&req, &old_style).await.unwrap();
            assert_eq!(a, b, "the old ids collided: the second machine's hold was a replay");
            let (x, y) = (RunId::mint(), RunId::mint());
            let a = ledger.hold(&req, &hold_key(&x, "gen", 0)).await.unwrap();
            let b = ledger.hold(&req, &hold_key(&y, "gen", 0)).await.unwrap();
            assert_ne!(a, b, "minted run ids give every run its own holds");
            assert_eq!(ledger.balance("farm").await.unwrap().held, Credits(30));
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn a_run_budget_never_lets_concurrent_holds_pass_it() {
        let budget = Arc::new(RunBudget::new(Some(100)));
        let takers: Vec<_> = (0..16)
            .map(|_| {
                let b = Arc::clone(&budget);
                std::thread::spawn(move || b.take(30).is_ok())
            })
            .collect();
        let taken = takers.into_iter().map(|t| t.join()).filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(taken, 3, "three holds of 30 fit in 100");
        assert_eq!(budget.take(11), Err(10), "the refusal says what is left");
        budget.give_back(30);
        assert!(budget.take(40).is_ok(), "a settled hold gives back what it did not charge");
        assert!(RunBudget::new(None).take(i64::MAX).is_ok(), "no budget, no limit");
    }
}
