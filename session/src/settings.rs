//! The settings file (`switchyard.toml`: provider keys by environment variable, retry and
//! rate limits, local inference, input roots), found and read the same way by every front end.

pub use switchyard_nodes::config::Config;
