//! Stripe's event envelope and the objects of the events a credit product acts on, read
//! into the ledger's [`PaymentEvent`]. Only the fields used are declared; the rest of
//! Stripe's objects is ignored, so newer API versions with more fields still read. Where
//! API versions moved a field (an invoice's subscription and payment), both places are read.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use switchyard_ledger::{PaymentAction, PaymentEvent};

/// The largest event body read (Stripe's events are a few kilobytes).
pub const BODY_MAX: usize = 512 * 1024;

/// Why an event body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not a Stripe event, or a field of the wrong type.
    #[error("not a readable Stripe event: {0}")]
    Unreadable(String),
    /// A field the event needs is missing.
    #[error("{kind} {id}: {what} is missing; {help}")]
    Missing {
        /// The event type.
        kind: String,
        /// The event id.
        id: String,
        /// The field.
        what: String,
        /// How it is set.
        help: String,
    },
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: serde_json::Value,
}

type Metadata = BTreeMap<String, String>;

#[derive(Deserialize)]
struct CheckoutSession {
    id: String,
    client_reference_id: Option<String>,
    customer: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
    mode: Option<String>,
    payment_intent: Option<String>,
    payment_status: Option<String>,
    amount_total: Option<i64>,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct Invoice {
    id: String,
    customer: Option<String>,
    #[serde(default)]
    amount_paid: i64,
    currency: Option<String>,
    #[serde(default)]
    attempt_count: i64,
    payment_intent: Option<String>,
    charge: Option<String>,
    period_start: Option<i64>,
    #[serde(default)]
    metadata: Option<Metadata>,
    subscription_details: Option<SubscriptionDetails>,
    parent: Option<InvoiceParent>,
    lines: Option<List<InvoiceLine>>,
}

#[derive(Deserialize)]
struct InvoiceParent {
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Deserialize)]
struct SubscriptionDetails {
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct InvoiceLine {
    period: Option<Period>,
    price: Option<Price>,
    quantity: Option<i64>,
}

#[derive(Deserialize)]
struct Period {
    start: i64,
}

#[derive(Deserialize)]
struct Price {
    lookup_key: Option<String>,
}

#[derive(Deserialize)]
struct Charge {
    id: String,
    payment_intent: Option<String>,
    #[serde(default)]
    amount_refunded: i64,
    payment_method: Option<String>,
    payment_method_details: Option<MethodDetails>,
}

#[derive(Deserialize)]
struct MethodDetails {
    card: Option<Card>,
}

#[derive(Deserialize)]
struct Card {
    fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct Dispute {
    id: String,
    charge: Option<String>,
    payment_intent: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Subscription {
    id: String,
    customer: Option<String>,
    status: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
    items: Option<List<SubscriptionItem>>,
}

#[derive(Deserialize)]
struct SubscriptionItem {
    price: Option<Price>,
}

/// The metadata key naming a Switchyard wallet on Stripe objects.
pub const WALLET_KEY: &str = "switchyard_wallet";

/// Reads a (verified) event body into what it does. Events of other types read as
/// [`PaymentAction::Ignored`], so they are acknowledged and recorded once.
pub fn read_event(body: &[u8]) -> Result<PaymentEvent, EventError> {
    if body.len() > BODY_MAX {
        return Err(EventError::Unreadable(format!("the body is over {BODY_MAX} bytes")));
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| EventError::Unreadable(e.to_string()))?;
    let reader = Reader { kind: &envelope.kind, id: &envelope.id };
    let object = envelope.data.object;
    let action = match envelope.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => reader.checkout(object)?,
        "invoice.paid" => reader.invoice_paid(object)?,
        "invoice.payment_failed" => reader.invoice_failed(object)?,
        "charge.refunded" => reader.refunded(object)?,
        "charge.succeeded" => reader.charged(object)?,
        "charge.dispute.created" => reader.disputed(object)?,
        "customer.subscription.updated" => reader.subscription(object, false)?,
        "customer.subscription.deleted" => reader.subscription(object, true)?,
        other => PaymentAction::Ignored { why: format!("Switchyard does not act on {other}") },
    };
    Ok(PaymentEvent { id: envelope.id, kind: envelope.kind, action })
}

struct Reader<'a> {
    kind: &'a str,
    id: &'a str,
}

impl Reader<'_> {
    fn object<T: DeserializeOwned>(&self, object: serde_json::Value) -> Result<T, EventError> {
        serde_json::from_value(object)
            .map_err(|e| EventError::Unreadable(format!("{} {}: data.object: {e}", self.kind, self.id)))
    }

    fn missing(&self, what: &str, help: &str) -> EventError {
        EventError::Missing { kind: self.kind.into(), id: self.id.into(), what: what.into(), help: help.into() }
    }

    fn checkout(&self, object: serde_json::Value) -> Result<PaymentAction, EventError> {
        let session: CheckoutSession = self.object(object)?;
        if session.mode.as_deref() == Some("subscription") {
            // A subscription's credit comes with its invoice.paid; the checkout only binds.
            return Ok(PaymentAction::Ignored { why: "a subscription checkout; its invoice grants".into() });
        }
        if session.payment_status.as_deref() != Some("paid") {
            return Ok(PaymentAction::Ignored {
                why: format!(
                    "checkout {} is {}; an async_payment_succeeded event grants it",
                    session.id,
                    session.payment_status.as_deref().unwrap_or("unpaid")
                ),
            });
        }
        let meta = session.metadata.unwrap_or_default();
        let wallet = session.client_reference_id.or_else(|| meta.get(WALLET_KEY).cloned()).ok_or_else(|| {
            self.missing("client_reference_id", "create the checkout with the wallet as client_reference_id")
        })?;
        let pack = meta
            .get("pack")
            .cloned()
            .ok_or_else(|| self.missing("metadata.pack", "name the pack in the checkout's metadata"))?;
        let payment = session.payment_intent.unwrap_or(session.id);
        Ok(PaymentAction::TopUp {
            wallet,
            customer: session.customer,
            pack,
            payment,
            paid_minor: session.amount_total.unwrap_or(0),
            currency: session.currency.unwrap_or_default(),
        })
    }

    fn invoice(&self, object: serde_json::Value) -> Result<(Invoice, String, Metadata), EventError> {
        let invoice: Invoice = self.object(object)?;
        let customer =
            invoice.customer.clone().ok_or_else(|| self.missing("customer", "an invoice belongs to a customer"))?;
        let mut meta = invoice.metadata.clone().unwrap_or_default();
        let details = invoice
            .subscription_details
            .as_ref()
            .or_else(|| invoice.parent.as_ref().and_then(|p| p.subscription_details.as_ref()));
        if let Some(sub) = details.and_then(|d| d.metadata.as_ref()) {
            for (k, v) in sub {
                meta.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Ok((invoice, customer, meta))
    }

    fn invoice_paid(&self, object: serde_json::Value) -> Result<PaymentAction, EventError> {
        let (invoice, customer, meta) = self.invoice(object)?;
        let line = invoice.lines.as_ref().and_then(|l| l.data.first());
        let plan = meta.get("plan").cloned().or_else(|| line.and_then(|l| l.price.as_ref()?.lookup_key.clone()));
        let period_start = line.and_then(|l| l.period.as_ref()).map(|p| p.start).or(invoice.period_start);
        let period_start_s =
            period_start.ok_or_else(|| self.missing("lines.data[0].period.start", "a plan invoice covers a period"))?;
        Ok(PaymentAction::PlanPaid {
            customer,
            wallet: meta.get(WALLET_KEY).cloned(),
            plan,
            seats: line.and_then(|l| l.quantity).unwrap_or(1).max(1),
            payment: invoice.payment_intent.or(invoice.charge),
            period_start_ms: period_start_s.saturating_mul(1000),
            paid_minor: invoice.amount_paid,
            currency: invoice.currency.unwrap_or_default(),
        })
    }

    fn invoice_failed(&self, object: serde_json::Value) -> Result<PaymentAction, EventError> {
        let (invoice, customer, meta) = self.invoice(object)?;
        Ok(PaymentAction::PaymentFailed {
            customer,
            wallet: meta.get(WALLET_KEY).cloned(),
            invoice: invoice.id,
            attempt: invoice.attempt_count,
        })
    }

    fn refunded(&self, object: serde_json::Value) -> Result<PaymentAction, EventError> {
        let charge: Charge = self.object(object)?;
        Ok(PaymentAction::Refunded {
            payment: charge.payment_intent.unwrap_or(charge.id),
            refunded_minor: charge.amount_refunded,
        })
    }

    fn charged(&self, object: serde_json::Value) -> Result<PaymentAction, EventError> {
        let charge: Charge = self.object(object)?;
        let fingerprint = charge.payment_method_details.and_then(|d| d.card?.fingerprint);
        let method = fingerprint
            .map(|f| format!("card:{f}"))
            .or(charge.payment_method)
            .ok_or_else(|| self.missing("payment_method", "a charge names the payment method it was made with"))?;
        Ok(PaymentAction::Charged { payment: charge.payment_intent.unwrap_or(charge.id), method })
    }

    fn disputed(&self, object: serde_json::Value) -> Result<PaymentAction, EventError> {
        let dispute: Dispute = self.object(object)?;
        let payment = dispute
            .payment_intent
            .or(dispute.charge)
            .ok_or_else(|| self.missing("payment_intent", "a dispute names the payment disputed"))?;
        Ok(PaymentAction::Disputed { payment, dispute: dispute.id, reason: dispute.reason.unwrap_or_default() })
    }

    fn subscription(&self, object: serde_json::Value, ended: bool) -> Result<PaymentAction, EventError> {
        let sub: Subscription = self.object(object)?;
        let customer = sub.customer.ok_or_else(|| self.missing("customer", "a subscription belongs to a customer"))?;
        let meta = sub.metadata.unwrap_or_default();
        let wallet = meta.get(WALLET_KEY).cloned();
        if ended {
            return Ok(PaymentAction::PlanEnded { customer, wallet, subscription: sub.id });
        }
        let price = sub.items.as_ref().and_then(|i| i.data.first()).and_then(|i| i.price.as_ref());
        let plan = meta.get("plan").cloned().or_else(|| price.and_then(|p| p.lookup_key.clone()));
        Ok(PaymentAction::PlanChanged {
            customer,
            wallet,
            subscription: sub.id,
            plan,
            status: sub.status.unwrap_or_default(),
        })
    }
}
