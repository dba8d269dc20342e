//! A mock of partner provider APIs on a loopback port: the same paths, auth headers, status
//! codes and body shapes as the real services, returning real decodable images. Faults are
//! scripted per route, and every request is recorded for assertions. It is a mock: nothing
//! is generated, nothing is charged, and no real service is contacted.

mod assets;
mod bfl;
mod openai;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;

use state::State;
pub use state::{Fault, Recorded};

/// The keys the mock accepts, one per provider; anything else is refused as the real
/// service would refuse it.
pub mod keys {
    /// OpenAI's `Authorization: Bearer` key.
    pub const OPENAI: &str = "mock-openai-key";
    /// Black Forest Labs' `x-key`.
    pub const BFL: &str = "mock-bfl-key";
}

/// A running mock server. Dropping it stops it.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Starts on `127.0.0.1:port` (0 picks a free port). Call inside a tokio runtime.
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(format!("http://{addr}")));
        let app: Router<Arc<State>> =
            Router::new().merge(openai::routes()).merge(bfl::routes()).merge(assets::routes());
        let app = app.with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "mock provider server stopped");
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues faults for a route (`openai.generate`, `bfl.create`, `bfl.poll`, `files`); each
    /// request to it takes the next one, and once they are used up the route behaves.
    pub fn script(&self, route: &str, faults: impl IntoIterator<Item = Fault>) {
        self.state.script(route, faults);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests()
    }

    /// The requests to one route.
    pub fn requests_to(&self, route: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.route == route).collect()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
