//! Wallet administration for front ends (top-ups, plan grants, member caps, holds, unknown
//! outcomes, the audit trail): the ledger opened the way every front end opens it, and the
//! ledger's types a front end names. Front ends reach the ledger only through here.

pub use switchyard_ledger::StoredReport;
pub use switchyard_ledger::plans::Plans;
pub use switchyard_ledger::plans::{day_name, days_from_civil};
pub use switchyard_ledger::{
    AlertEndpoint, Audit, Balance, BillingAudit, Credits, Decision, Delivery, Dim, Dunning, Grant, GrantReceipt,
    HoldId, HoldRecord, Ledger, LedgerError, Location, MemberUse, PaymentAction, PaymentEvent, PaymentOutcome, Raise,
    Recovery, Resolution, Review, Source, Standing, TransferRecord, UsageRecord, UsageTotals, to_csv,
};
/// Billing operations: Stripe webhooks, usage exports and reconciliation.
pub use switchyard_ops as ops;

/// Opens (creating if needed) the ledger at `location` for administration, after
/// start-up recovery (expired holds voided or marked unknown) and expiry of lapsed grants,
/// so what it shows is current. Returns what recovery found, for the operator.
pub async fn open_admin(location: &Location) -> Result<(Ledger, Recovery), LedgerError> {
    let ledger = Ledger::connect(location).await?;
    let recovered = ledger.recover().await?;
    ledger.expire_grants().await?;
    Ok((ledger, recovered))
}
