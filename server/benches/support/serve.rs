//! A server in the bench's own process, on a free loopback port, with rate limits off.

use std::net::SocketAddr;
use std::path::Path;

use switchyard_server::{Server, ServerOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running server: its URL, and how to stop it.
pub struct Serving {
    pub url: String,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), switchyard_server::ServerError>>,
}

/// Starts a server over `data` (and `database`) with `workers` worker slots.
pub async fn start(data: &Path, database: Option<String>, workers: usize) -> Serving {
    let opts = ServerOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data: data.to_path_buf(),
        database,
        workers,
        grace_ms: 0,
        rate_per_s: 0,
        metrics_listen: None,
        catalog: None,
        farm: false,
        artifacts: None,
        comfy_frontend: None,
        comfy_templates: None,
        billing: Default::default(),
        settings: Default::default(),
    };
    let server = Server::bind(opts).await.expect("the server binds");
    let url = format!("http://{}", server.local_addr().expect("an address"));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.run(shutdown.clone()));
    Serving { url, shutdown, task }
}

impl Serving {
    /// Stops it and waits for it to end.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
