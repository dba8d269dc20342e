//! The team library's pure parts, shared by the server, the CLI and the editor:
//! - [`revision`]: a revision's content address (the hash of the canonical file) and
//!   whether it changed only the layout;
//! - [`diff`]: what changed between two workflows, node by node;
//! - [`merge`]: the three-way merge of two edits of one base, with conflicts named.
//!
//! Nothing here does I/O.

pub mod diff;
pub mod merge;
pub mod revision;

pub use diff::{Change, Diff, diff};
pub use merge::{Conflict, Merged, Side, merge};
pub use revision::{RevisionHash, canonical_json, content_hash, revision_hash};
