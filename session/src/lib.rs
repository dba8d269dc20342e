//! The run pipeline every front end shares (the command line and the editor today; the
//! server and farm workers next): loading and validation (the input-root policy and batches
//! included), placement options from plain option structs, the wallet
//! and its room, and admission, which mints the run id and reserves the run's most; and the run's typed account (per-node placement, charge, status,
//! fallbacks, carbon). Errors
//! are typed outcomes with a stable [`Code`], which the command line maps to exit codes and a
//! server will map to HTTP statuses.
//!
//! ```
//! use switchyard_session::placement::{PlacementOptions, parse_duration};
//! let opts = PlacementOptions { policy: "cheapest".into(), deadline: Some("5m".into()), ..Default::default() };
//! assert_eq!(parse_duration(opts.deadline.as_deref().unwrap()), Ok(300.0));
//! ```
#![deny(missing_docs)]

pub mod account;
pub mod catalog;
pub mod comfy;
pub mod credits;
pub mod error;
pub mod farm;
pub mod load;
pub mod placement;
pub mod plan;
pub mod preflight;
pub mod run;
pub mod settings;
pub mod wallet;

pub use error::{Code, SessionError};
