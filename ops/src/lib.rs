//! Billing operations around the ledger: what a billing team runs.
//!
//! - [`stripe`]: Stripe-format webhooks, their signatures checked in constant time and
//!   their events read into the ledger's typed [`switchyard_ledger::PaymentEvent`].
//! - [`reconcile`]: providers' usage exports matched against the ledger's charges, streamed
//!   with bounded memory, unknown holds settled from the same evidence.
//! - [`fraud`]: velocity and fraud rules at admission and top-up, raising reviews.
//! - [`charts`] and [`usage`]: usage analytics, their tables and their charts.
//! - [`statement`]: a wallet's monthly statement.
//! - [`alerts`]: usage alerts evaluated over the ledger, delivered from an outbox.

pub mod alerts;
pub mod charts;
pub mod fraud;
pub mod reconcile;
pub mod statement;
pub mod stripe;
pub mod usage;
