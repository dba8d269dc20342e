//! Payments applied to wallets: each processor event exactly once (deduplicated by its id in
//! the same transaction as its credit movements), in typed form. Reading a processor's wire
//! format (Stripe's) is the `ops` crate's; here is what each event does to the money.

use serde::{Deserialize, Serialize};

use crate::grants::ensure_account;
use crate::plans::Plans;
use crate::standing::{Dunning, Raise, Standing, audit_in, raise_in, transition_in};
use crate::types::{Audit, Credits};
use crate::{Ledger, LedgerError, Tx, system};

/// A verified payment processor event, read into what it means for a wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// The processor's event id (`evt_…`): an event is applied once.
    pub id: String,
    /// The processor's event type, as sent.
    pub kind: String,
    /// What it does.
    pub action: PaymentAction,
}

/// What a payment event does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PaymentAction {
    /// A pack was bought: grant it once per payment.
    TopUp {
        /// The wallet it was bought for.
        wallet: String,
        /// The processor's customer, bound to the wallet for later invoices.
        customer: Option<String>,
        /// The pack's name in the plans file.
        pack: String,
        /// The payment (intent) id: the grant's key and what a refund names.
        payment: String,
        /// What was paid, in the currency's minor unit.
        paid_minor: i64,
        /// The currency.
        currency: String,
    },
    /// A plan's invoice was paid: the month's grant, and the wallet active again.
    PlanPaid {
        /// The customer.
        customer: String,
        /// The wallet, when the invoice names it.
        wallet: Option<String>,
        /// The plan, when the invoice names it (else the wallet's current plan).
        plan: Option<String>,
        /// Seats, for per-seat plans.
        seats: i64,
        /// The payment (intent) id, if any (a zero invoice has none).
        payment: Option<String>,
        /// The start of the period paid for (unix ms): the month granted.
        period_start_ms: i64,
        /// What was paid, in minor units.
        paid_minor: i64,
        /// The currency.
        currency: String,
    },
    /// A renewal failed: dunning starts (past due for the grace period).
    PaymentFailed {
        /// The customer.
        customer: String,
        /// The wallet, when the invoice names it.
        wallet: Option<String>,
        /// The invoice.
        invoice: String,
        /// Which attempt failed.
        attempt: i64,
    },
    /// A charge was refunded (in part or whole): claw back what is unspent, flag the rest.
    Refunded {
        /// The payment (intent) refunded.
        payment: String,
        /// The total refunded so far, in minor units (Stripe's `amount_refunded`).
        refunded_minor: i64,
    },
    /// A charge was disputed: the wallet's paid credit is frozen pending review.
    Disputed {
        /// The payment (intent) disputed.
        payment: String,
        /// The dispute's id.
        dispute: String,
        /// The dispute's reason.
        reason: String,
    },
    /// The subscription changed: a new plan (and tier) or status.
    PlanChanged {
        /// The customer.
        customer: String,
        /// The wallet, when the subscription names it.
        wallet: Option<String>,
        /// The subscription.
        subscription: String,
        /// The plan now, if named.
        plan: Option<String>,
        /// The processor's status word.
        status: String,
    },
    /// The subscription ended: no plan, tier 0; bought credit stays.
    PlanEnded {
        /// The customer.
        customer: String,
        /// The wallet, when the subscription names it.
        wallet: Option<String>,
        /// The subscription.
        subscription: String,
    },
    /// A charge succeeded: the payment method behind the payment, for velocity checks.
    Charged {
        /// The payment (intent).
        payment: String,
        /// The method: a card's fingerprint, else the payment method's id.
        method: String,
    },
    /// An event with nothing to do (recorded, so a replay is recognised).
    Ignored {
        /// Why.
        why: String,
    },
}

/// What applying an event did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOutcome {
    /// The event.
    pub event: String,
    /// The wallet it touched.
    pub wallet: Option<String>,
    /// Whether this event was applied before (this delivery changed nothing).
    pub replayed: bool,
    /// What it did, in words.
    pub effect: String,
    /// Credits granted.
    pub granted: Credits,
    /// Credits taken back.
    pub clawed_back: Credits,
    /// Credits already spent that a refund or dispute covered: flagged for review.
    pub flagged: Credits,
    /// The wallet's dunning state after it.
    pub standing: Option<Standing>,
    /// A review it raised.
    pub review: Option<String>,
    /// Set when the event could not be applied (and went to the review queue).
    pub refused: Option<String>,
}

impl Ledger {
    /// Applies `event` once: a second delivery of the same id returns the first outcome with
    /// `replayed` set. An event naming a customer or payment the ledger does not know yet is
    /// refused without being recorded, so the processor's retry applies it once the event
    /// that introduces them has come. Any other refusal is recorded with the event and put
    /// in the review queue.
    pub async fn apply_payment(
        &self,
        event: &PaymentEvent,
        plans: &Plans,
        dunning: Dunning,
    ) -> Result<PaymentOutcome, LedgerError> {
        if event.id.trim().is_empty() || event.id.len() > 255 {
            return Err(LedgerError::InvalidAmount("a payment event needs an id of 1 to 255 bytes".into()));
        }
        let mut attempt = 0;
        loop {
            match self.apply_once(event, plans, dunning).await {
                Err(e) if e.is_retryable() && attempt < crate::keys::RETRIES => {
                    attempt += 1;
                    crate::keys::pause(attempt).await;
                }
                outcome => return outcome,
            }
        }
    }

    async fn apply_once(
        &self,
        event: &PaymentEvent,
        plans: &Plans,
        dunning: Dunning,
    ) -> Result<PaymentOutcome, LedgerError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        // The event's row first: a concurrent delivery of the same id waits on it (PostgreSQL)
        // or on the write lock (SQLite), then finds it and replays.
        let fresh = sqlx::query(
            "INSERT INTO payment_events (id, type, outcome, received_at_ms) VALUES ($1, $2, '', $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.kind)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            let stored: String = sqlx::query_scalar("SELECT outcome FROM payment_events WHERE id = $1")
                .bind(&event.id)
                .fetch_one(&mut *tx)
                .await?;
            tx.rollback().await?;
            let mut outcome: PaymentOutcome = serde_json::from_str(&stored).unwrap_or_default();
            outcome.replayed = true;
            return Ok(outcome);
        }
        sqlx::query("SAVEPOINT payment").execute(&mut *tx).await?;
        let outcome = match self.apply_in(&mut tx, event, plans, dunning, now).await {
            Ok(outcome) => outcome,
            Err(e @ (LedgerError::UnknownCustomer(_) | LedgerError::UnknownPayment(_))) => {
                tx.rollback().await?;
                return Err(e);
            }
            Err(e) if e.is_final() => {
                sqlx::query("ROLLBACK TO SAVEPOINT payment").execute(&mut *tx).await?;
                self.unapplied_in(&mut tx, event, &e, now).await?
            }
            Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        };
        let stored = serde_json::to_string(&outcome).unwrap_or_default();
        sqlx::query("UPDATE payment_events SET wallet = $1, outcome = $2 WHERE id = $3")
            .bind(&outcome.wallet)
            .bind(&stored)
            .bind(&event.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// A refused event's outcome, with a review for a person when a wallet is known.
    async fn unapplied_in(
        &self,
        tx: &mut Tx,
        event: &PaymentEvent,
        e: &LedgerError,
        now: i64,
    ) -> Result<PaymentOutcome, LedgerError> {
        let wallet = match (event.action.wallet(), event_customer(&event.action)) {
            (Some(wallet), _) => Some(wallet.to_string()),
            (None, Some(customer)) => {
                sqlx::query_scalar("SELECT wallet FROM billing_accounts WHERE customer = $1")
                    .bind(customer)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            (None, None) => None,
        };
        let mut outcome = PaymentOutcome {
            event: event.id.clone(),
            wallet: wallet.clone(),
            effect: format!("not applied: {e}"),
            refused: Some(e.to_string()),
            ..PaymentOutcome::default()
        };
        if let Some(wallet) = &wallet {
            let detail = format!("{} {} was not applied: {e}", event.kind, event.id);
            let raise =
                Raise { wallet, rule: "payment_unapplied", detail: &detail, blocks: false, subject: Some(&event.id) };
            outcome.review = Some(raise_in(tx, &raise, now).await?);
        }
        Ok(outcome)
    }

    async fn apply_in(
        &self,
        tx: &mut Tx,
        event: &PaymentEvent,
        plans: &Plans,
        dunning: Dunning,
        now: i64,
    ) -> Result<PaymentOutcome, LedgerError> {
        let mut out = PaymentOutcome { event: event.id.clone(), ..PaymentOutcome::default() };
        let id = Some(event.id.as_str());
        match &event.action {
            PaymentAction::TopUp { wallet, customer, pack, payment, paid_minor, currency } => {
                let bought = plans
                    .packs
                    .get(pack)
                    .ok_or_else(|| LedgerError::InvalidAmount(format!("no pack {pack:?} in the plans file")))?;
                let (grant, key) = crate::subscriptions::pack_grant(wallet, pack, bought, payment)?;
                let (receipt, before) = self.grant_once_in(tx, &grant, &key).await?;
                if let Some(customer) = customer {
                    bind_customer(tx, wallet, customer, now).await?;
                }
                let paid = Paid {
                    payment,
                    wallet,
                    lot: &receipt.lot,
                    credits: receipt.amount.0,
                    paid_minor: *paid_minor,
                    currency,
                };
                record_payment(tx, &paid, now).await?;
                out.effect = if before {
                    format!("pack {pack} for payment {payment} was already granted")
                } else {
                    out.granted = receipt.amount;
                    format!("granted pack {pack}: {}", receipt.amount)
                };
                audit_in(tx, wallet, "topup", (None, None), &out.effect, id, now).await?;
                out.wallet = Some(wallet.clone());
            }
            PaymentAction::PlanPaid {
                customer,
                wallet,
                plan,
                seats,
                payment,
                period_start_ms,
                paid_minor,
                currency,
            } => {
                let wallet = wallet_of(tx, customer, wallet.as_deref(), now).await?;
                let name = match plan {
                    Some(plan) => plan.clone(),
                    None => current_plan(tx, &wallet).await?,
                };
                let terms = plans
                    .plans
                    .get(&name)
                    .ok_or_else(|| LedgerError::InvalidAmount(format!("no plan {name:?} in the plans file")))?;
                let (grant, key) =
                    crate::subscriptions::plan_grant(&wallet, &name, terms, *seats, None, *period_start_ms)?;
                let (receipt, before) = self.grant_once_in(tx, &grant, &key).await?;
                set_plan(tx, &wallet, Some((&name, terms.tier))).await?;
                if let Some(payment) = payment {
                    let paid = Paid {
                        payment,
                        wallet: &wallet,
                        lot: &receipt.lot,
                        credits: receipt.amount.0,
                        paid_minor: *paid_minor,
                        currency,
                    };
                    record_payment(tx, &paid, now).await?;
                }
                out.effect = if before {
                    format!("{} was already granted", grant.reason)
                } else {
                    out.granted = receipt.amount;
                    format!("granted {}: {}", grant.reason, receipt.amount)
                };
                audit_in(tx, &wallet, "plan_grant", (None, None), &out.effect, id, now).await?;
                transition_in(tx, &wallet, Standing::Active, None, "the invoice was paid", id, now).await?;
                out.standing = Some(Standing::Active);
                out.wallet = Some(wallet);
            }
            PaymentAction::PaymentFailed { customer, wallet, invoice, attempt } => {
                let wallet = wallet_of(tx, customer, wallet.as_deref(), now).await?;
                let state = crate::standing::standing_in(tx, &wallet, now).await?;
                let why = format!("invoice {invoice} payment attempt {attempt} failed");
                if state == Standing::Active {
                    let until = now.saturating_add(dunning.grace_ms);
                    transition_in(tx, &wallet, Standing::PastDue, Some(until), &why, id, now).await?;
                    out.standing = Some(Standing::PastDue);
                    out.effect = format!("{why}: past due, suspended unless paid within the grace period");
                } else {
                    audit_in(tx, &wallet, "dunning", (Some(state.name()), Some(state.name())), &why, id, now).await?;
                    out.standing = Some(state);
                    out.effect = format!("{why}: still {}", state.name());
                }
                out.wallet = Some(wallet);
            }
            PaymentAction::Refunded { payment, refunded_minor } => {
                let taken = claw_back_in(tx, payment, Some(*refunded_minor), Some(&event.id), now).await?;
                out.clawed_back = taken.clawed_back;
                out.flagged = taken.flagged;
                out.review = taken.review;
                out.effect = taken.effect;
                out.wallet = Some(taken.wallet);
            }
            PaymentAction::Disputed { payment, dispute, reason } => {
                let wallet = payment_wallet(tx, payment).await?;
                sqlx::query("UPDATE payments SET disputed = 1 WHERE payment = $1")
                    .bind(payment)
                    .execute(&mut **tx)
                    .await?;
                let frozen = freeze_in(tx, &wallet, now).await?;
                let detail =
                    format!("dispute {dispute} ({reason}) on payment {payment}: paid credit frozen ({frozen})");
                audit_in(tx, &wallet, "freeze", (None, None), &detail, id, now).await?;
                let raise =
                    Raise { wallet: &wallet, rule: "dispute", detail: &detail, blocks: false, subject: Some(payment) };
                out.review = Some(raise_in(tx, &raise, now).await?);
                out.effect = detail;
                out.wallet = Some(wallet);
            }
            PaymentAction::PlanChanged { customer, wallet, subscription, plan, status } => {
                let wallet = wallet_of(tx, customer, wallet.as_deref(), now).await?;
                sqlx::query("UPDATE billing_accounts SET subscription = $1 WHERE wallet = $2")
                    .bind(subscription)
                    .bind(&wallet)
                    .execute(&mut **tx)
                    .await?;
                let before = current_plan(tx, &wallet).await.ok();
                out.effect = match plan {
                    Some(name) => {
                        let terms = plans
                            .plans
                            .get(name)
                            .ok_or_else(|| LedgerError::InvalidAmount(format!("no plan {name:?} in the plans file")))?;
                        set_plan(tx, &wallet, Some((name, terms.tier))).await?;
                        format!(
                            "subscription {subscription} ({status}): plan {} -> {name}, tier {}",
                            before.as_deref().unwrap_or("none"),
                            terms.tier
                        )
                    }
                    None => format!("subscription {subscription} is {status}; plan unchanged"),
                };
                let states = (before.as_deref(), plan.as_deref());
                audit_in(tx, &wallet, "plan", states, &out.effect, id, now).await?;
                out.wallet = Some(wallet);
            }
            PaymentAction::PlanEnded { customer, wallet, subscription } => {
                let wallet = wallet_of(tx, customer, wallet.as_deref(), now).await?;
                let before = current_plan(tx, &wallet).await.ok();
                set_plan(tx, &wallet, None).await?;
                sqlx::query("UPDATE billing_accounts SET subscription = NULL WHERE wallet = $1")
                    .bind(&wallet)
                    .execute(&mut **tx)
                    .await?;
                out.effect = format!("subscription {subscription} ended: no plan, tier 0; bought credit stays");
                audit_in(tx, &wallet, "plan", (before.as_deref(), None), &out.effect, id, now).await?;
                out.wallet = Some(wallet);
            }
            PaymentAction::Charged { payment, method } => {
                sqlx::query(
                    "INSERT INTO payment_methods (payment, method, at_ms) VALUES ($1, $2, $3) ON CONFLICT (payment) DO NOTHING",
                )
                .bind(payment)
                .bind(method)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                out.wallet = sqlx::query_scalar("SELECT wallet FROM payments WHERE payment = $1")
                    .bind(payment)
                    .fetch_optional(&mut **tx)
                    .await?;
                out.effect = format!("payment {payment} was made with method {method}");
            }
            PaymentAction::Ignored { why } => out.effect = format!("ignored: {why}"),
        }
        Ok(out)
    }

    /// Binds a processor's customer to a wallet (creating the wallet), so its invoices find it.
    pub async fn bind_customer(&self, wallet: &str, customer: &str) -> Result<(), LedgerError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        bind_customer(&mut tx, wallet, customer, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl PaymentAction {
    /// The wallet the event names, if it names one directly.
    pub fn wallet(&self) -> Option<&str> {
        match self {
            PaymentAction::TopUp { wallet, .. } => Some(wallet),
            PaymentAction::PlanPaid { wallet, .. }
            | PaymentAction::PaymentFailed { wallet, .. }
            | PaymentAction::PlanChanged { wallet, .. }
            | PaymentAction::PlanEnded { wallet, .. } => wallet.as_deref(),
            _ => None,
        }
    }
}

/// The customer an event names, if any.
fn event_customer(action: &PaymentAction) -> Option<&str> {
    match action {
        PaymentAction::PlanPaid { customer, .. }
        | PaymentAction::PaymentFailed { customer, .. }
        | PaymentAction::PlanChanged { customer, .. }
        | PaymentAction::PlanEnded { customer, .. } => Some(customer),
        PaymentAction::TopUp { customer, .. } => customer.as_deref(),
        _ => None,
    }
}

async fn bind_customer(tx: &mut Tx, wallet: &str, customer: &str, now: i64) -> Result<(), LedgerError> {
    ensure_account(tx, wallet, "wallet", false, now).await?;
    crate::standing::standing_in(tx, wallet, now).await?;
    let bound: Option<String> = sqlx::query_scalar("SELECT wallet FROM billing_accounts WHERE customer = $1")
        .bind(customer)
        .fetch_optional(&mut **tx)
        .await?;
    match bound {
        Some(other) if other != wallet => {
            Err(LedgerError::InvalidAmount(format!("customer {customer} already pays for {other}, not {wallet}")))
        }
        Some(_) => Ok(()),
        None => {
            sqlx::query("UPDATE billing_accounts SET customer = $1 WHERE wallet = $2")
                .bind(customer)
                .bind(wallet)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
    }
}

/// The wallet an event is for: the one it names (bound to its customer), else the one its
/// customer is bound to.
async fn wallet_of(tx: &mut Tx, customer: &str, named: Option<&str>, now: i64) -> Result<String, LedgerError> {
    if let Some(wallet) = named {
        bind_customer(tx, wallet, customer, now).await?;
        return Ok(wallet.to_string());
    }
    sqlx::query_scalar("SELECT wallet FROM billing_accounts WHERE customer = $1")
        .bind(customer)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| LedgerError::UnknownCustomer(customer.to_string()))
}

async fn current_plan(tx: &mut Tx, wallet: &str) -> Result<String, LedgerError> {
    let plan: Option<Option<String>> =
        sqlx::query_scalar("SELECT plan FROM accounts WHERE id = $1").bind(wallet).fetch_optional(&mut **tx).await?;
    plan.flatten().ok_or_else(|| {
        LedgerError::InvalidAmount(format!("{wallet} has no plan and the invoice names none (metadata.plan)"))
    })
}

async fn set_plan(tx: &mut Tx, wallet: &str, plan: Option<(&str, i64)>) -> Result<(), LedgerError> {
    sqlx::query("UPDATE accounts SET plan = $1, tier = $2 WHERE id = $3")
        .bind(plan.map(|p| p.0))
        .bind(plan.map_or(0, |p| p.1))
        .bind(wallet)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A payment and the lot it bought.
struct Paid<'a> {
    payment: &'a str,
    wallet: &'a str,
    lot: &'a str,
    credits: i64,
    paid_minor: i64,
    currency: &'a str,
}

async fn record_payment(tx: &mut Tx, paid: &Paid<'_>, now: i64) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO payments (payment, wallet, lot, credits, paid_minor, currency, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (payment) DO NOTHING",
    )
    .bind(paid.payment)
    .bind(paid.wallet)
    .bind(paid.lot)
    .bind(paid.credits)
    .bind(paid.paid_minor.max(0))
    .bind(paid.currency)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn payment_wallet(tx: &mut Tx, payment: &str) -> Result<String, LedgerError> {
    sqlx::query_scalar("SELECT wallet FROM payments WHERE payment = $1")
        .bind(payment)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| LedgerError::UnknownPayment(payment.to_string()))
}

/// Freezes the wallet's paid lots (packs and plans, not promotions); returns what they hold.
async fn freeze_in(tx: &mut Tx, wallet: &str, _now: i64) -> Result<Credits, LedgerError> {
    sqlx::query("UPDATE accounts SET frozen = 1 WHERE owner = $1 AND kind = 'lot' AND source IN ('pack', 'plan')")
        .bind(wallet)
        .execute(&mut **tx)
        .await?;
    let held: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(posted_credits - posted_debits - pending_debits) AS BIGINT) FROM accounts \
         WHERE owner = $1 AND kind = 'lot' AND frozen = 1",
    )
    .bind(wallet)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Credits(held.unwrap_or(0)))
}

/// Lifts a dispute's freeze from the wallet's lots.
pub(crate) async fn unfreeze_in(tx: &mut Tx, wallet: &str, now: i64) -> Result<(), LedgerError> {
    let done = sqlx::query("UPDATE accounts SET frozen = 0 WHERE owner = $1 AND kind = 'lot' AND frozen = 1")
        .bind(wallet)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() > 0 {
        audit_in(tx, wallet, "unfreeze", (None, None), "paid credit unfrozen", None, now).await?;
    }
    Ok(())
}

/// What a claw-back did.
pub(crate) struct Taken {
    wallet: String,
    clawed_back: Credits,
    flagged: Credits,
    review: Option<String>,
    effect: String,
}

/// Takes back the credit a refunded (or lost disputed) payment bought: the share refunded
/// (`refunded_minor` of what was paid, cumulative; all of it when `None`), less what earlier
/// refunds took. What the lot still has unreserved goes back to its source; what was
/// already spent (or is reserved by holds in flight) is flagged for review, never taken from
/// other lots.
pub(crate) async fn claw_back_in(
    tx: &mut Tx,
    payment: &str,
    refunded_minor: Option<i64>,
    event_id: Option<&str>,
    now: i64,
) -> Result<Taken, LedgerError> {
    let lock = if crate::on_postgres(tx) { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT wallet, lot, credits, paid_minor, refunded_minor, clawed_back, overspent FROM payments WHERE payment = $1{lock}"
    );
    let row: Option<(String, String, i64, i64, i64, i64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(payment).fetch_optional(&mut **tx).await?;
    let (wallet, lot, credits, paid, refunded_before, clawed, overspent) =
        row.ok_or_else(|| LedgerError::UnknownPayment(payment.to_string()))?;
    let refunded = refunded_minor.unwrap_or(paid).clamp(refunded_before, paid.max(refunded_before));
    // The credits the refunded share bought, rounded up: a refund never leaves a part-credit.
    let target = if paid <= 0 {
        credits
    } else {
        ((i128::from(credits) * i128::from(refunded) + i128::from(paid) - 1) / i128::from(paid)) as i64
    };
    let owed = (target - clawed - overspent).max(0);
    let lock = if crate::on_postgres(tx) { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT posted_credits - posted_debits - pending_debits FROM accounts WHERE id = $1{lock}");
    let free: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(&lot).fetch_one(&mut **tx).await?;
    let take = owed.min(free.max(0));
    let short = owed - take;
    if take > 0 {
        let source: String =
            sqlx::query_scalar("SELECT source FROM accounts WHERE id = $1").bind(&lot).fetch_one(&mut **tx).await?;
        let source = match source.as_str() {
            "plan" => crate::types::Source::Plan,
            _ => crate::types::Source::Pack,
        };
        let audit = Audit::default();
        let entry =
            crate::grants::Entry { reason: "clawback", hold_id: None, audit: &audit, key: event_id, now_ms: now };
        crate::grants::transfer(tx, &lot, &system::source(source), take, &entry).await?;
    }
    sqlx::query(
        "UPDATE payments SET refunded_minor = $1, clawed_back = clawed_back + $2, overspent = overspent + $3 WHERE payment = $4",
    )
    .bind(refunded)
    .bind(take)
    .bind(short)
    .bind(payment)
    .execute(&mut **tx)
    .await?;
    let mut effect = format!("payment {payment} refunded {refunded} of {paid} (minor units): {take} cr taken back");
    let mut review = None;
    if short > 0 {
        effect.push_str(&format!("; {short} cr were already spent or in flight: flagged"));
        let raise =
            Raise { wallet: &wallet, rule: "refund_overspent", detail: &effect, blocks: false, subject: Some(payment) };
        review = Some(raise_in(tx, &raise, now).await?);
    }
    audit_in(tx, &wallet, "clawback", (None, None), &effect, event_id, now).await?;
    Ok(Taken { wallet, clawed_back: Credits(take), flagged: Credits(short), review, effect })
}
