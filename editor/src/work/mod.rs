//! The background work: a tokio runtime on its own thread that validates, quotes and runs
//! graphs through the same engine and billing calls as the command line, reached only
//! through the typed messages of [`protocol`]. No egui here.

pub mod backend;
pub mod library;
pub mod protocol;
pub mod quote;
pub mod remote;
pub mod run;

pub use backend::Backend;
pub use protocol::{
    Badge, Check, CheckResult, Finished, GraphQuote, Outbox, Reply, Request, Settings, Wallet, run_status_text,
};
pub use remote::ServerTarget;
