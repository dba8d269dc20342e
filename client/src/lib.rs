//! The server's API as types (`protocol`), shared by the server and its clients, and a
//! client over HTTP and WebSocket (`client`). No server code: the CLI and the editor link
//! this, not the server.

pub mod client;
pub mod library;
mod library_calls;
pub mod protocol;
pub mod sync;
