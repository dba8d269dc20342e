//! The ledger's values: amounts, who and why (the audit), and requests.

use serde::{Deserialize, Serialize};

/// An amount of credits. Whole credits: prices are rounded up to a credit when quoted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credits(pub i64);

impl std::fmt::Display for Credits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cr", self.0)
    }
}

/// Where a grant of credit came from. Spending takes the earliest expiry first, then
/// promotional before paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A free promotional grant.
    Promo,
    /// A plan's periodic allowance.
    Plan,
    /// A bought credit pack.
    Pack,
}

impl Source {
    /// The name stored in the ledger.
    pub fn name(self) -> &'static str {
        match self {
            Source::Promo => "promo",
            Source::Plan => "plan",
            Source::Pack => "pack",
        }
    }

    /// Spending order among lots that expire together: promotional first.
    pub fn priority(self) -> i64 {
        match self {
            Source::Promo => 0,
            Source::Plan | Source::Pack => 1,
        }
    }
}

/// Who spent, on what: recorded on every transfer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// The run.
    pub run_id: Option<String>,
    /// The node in the run.
    pub node_id: Option<String>,
    /// The provider paid.
    pub provider: Option<String>,
    /// The provider's request or task id.
    pub vendor_id: Option<String>,
}

/// Credits added to a wallet.
#[derive(Clone, Debug, Serialize)]
pub struct Grant {
    /// The wallet.
    pub wallet: String,
    /// How much.
    pub amount: Credits,
    /// Where it came from.
    pub source: Source,
    /// When it expires (unix ms), if ever.
    pub expires_at_ms: Option<i64>,
    /// Why, such as `plan:pro:2026-11` or `pack:500`.
    pub reason: String,
    /// At expiry, up to this much of what is left rolls into the next month (0: none).
    /// Left out of the request's fingerprint when 0, so keys from before it still replay.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rollover_cap: i64,
}

/// A request to reserve credits before a paid call.
#[derive(Clone, Debug, Serialize)]
pub struct HoldRequest {
    /// The wallet to reserve from.
    pub wallet: String,
    /// The most the call may cost.
    pub amount: Credits,
    /// How long the hold lives before it is voided, unless settled or marked unknown.
    pub timeout_ms: i64,
    /// Who and why.
    pub audit: Audit,
    /// The team member spending from a pool wallet, within their monthly cap. Left out of
    /// the request's fingerprint when absent, so keys from before it still replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The run reservation to draw from (see [`crate::Ledger::reserve_run`]); when it has too
    /// little left, or is closed, the hold takes from the wallet as any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// A wallet's credits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Credits in unexpired lots, before holds.
    pub posted: Credits,
    /// Credits reserved by pending holds.
    pub held: Credits,
    /// What can be held now (frozen credit excluded).
    pub available: Credits,
    /// Unreserved paid credit frozen by a dispute pending review.
    #[serde(default, skip_serializing_if = "is_zero_credits")]
    pub frozen: Credits,
}

/// One transfer, as `credits history` exports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransferRecord {
    /// Sequence number.
    pub id: i64,
    /// The account debited.
    pub debit: String,
    /// The account credited.
    pub credit: String,
    /// How much.
    pub amount: Credits,
    /// Why (a reason code).
    pub reason: String,
    /// The hold it settles, if any.
    pub hold_id: Option<String>,
    /// Who and why.
    #[serde(flatten)]
    pub audit: Audit,
    /// The idempotency key of the mutation.
    pub idempotency_key: Option<String>,
    /// When (unix ms).
    pub created_at_ms: i64,
}

fn is_zero_credits(n: &Credits) -> bool {
    n.0 == 0
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}
