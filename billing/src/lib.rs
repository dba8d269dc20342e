//! Credits in a run: a compiled graph placed by the user's policy ([`plan`]), and cloud
//! nodes wrapped so each call holds its most before it starts, posts the metered charge
//! after, and voids on failure, never paying twice ([`billed`]). The engine knows nothing of
//! this: the wrapper is an ordinary [`switchyard_engine::Node`].

pub mod billed;
pub mod charge;
pub mod plan;
pub mod record;
pub mod run_id;
pub mod spend;
pub mod verdict;

pub use billed::{Billing, RunBudget};
pub use plan::{GraphPlan, place_each, place_graph};
pub use record::{CreditsRecord, FellBack};
pub use run_id::RunId;
pub use spend::{Posting, Spend, SpendFuture};
pub use verdict::{Over, Verdict};
