//! Stripe-format webhooks: the `Stripe-Signature` check ([`verify`]) and the events a credit
//! product acts on, read into typed payment events ([`read_event`]).
//!
//! How a Stripe object names what it is for (set when the checkout or subscription is
//! made): a checkout's `client_reference_id` (or `metadata.switchyard_wallet`) is the
//! wallet and `metadata.pack` the pack; a subscription's `metadata.switchyard_wallet` and
//! `metadata.plan` (or its price's `lookup_key`) name the wallet and plan, and reach its
//! invoices through `subscription_details.metadata` (or `parent.subscription_details` in
//! newer API versions). Otherwise the customer's binding to a wallet is used.

mod event;
mod signature;

pub use event::{EventError, read_event};
pub use signature::{SignatureError, TOLERANCE_S, sign, verify};
