//! Billing operations around the ledger: what a billing team runs.
//!
//! - [`stripe`]: Stripe-format webhooks, their signatures checked in constant time and
//!   their events read into the ledger's typed [`switchyard_ledger::PaymentEvent`].

pub mod stripe;
