//! A mock of partner provider APIs on a loopback port: the same paths, auth headers, status
//! codes and body shapes as the real services, returning real decodable images. Faults are
//! scripted per route, and every request is recorded for assertions. It is a mock: nothing
//! is generated, nothing is charged, and no real service is contacted.

mod assets;
mod bfl;
mod elevenlabs;
mod fal;
pub mod form;
mod ideogram;
mod kling;
mod luma;
mod openai;
mod recraft;
mod replicate;
mod runway;
mod stability;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;

pub use form::Field;
use state::State;
pub use state::{Fault, Recorded};

/// The keys the mock accepts, one per provider; anything else is refused as the real
/// service would refuse it.
pub mod keys {
    /// OpenAI's `Authorization: Bearer` key.
    pub const OPENAI: &str = "mock-openai-key";
    /// Black Forest Labs' `x-key`.
    pub const BFL: &str = "mock-bfl-key";
    /// Stability's bearer key.
    pub const STABILITY: &str = "mock-stability-key";
    /// Replicate's bearer token.
    pub const REPLICATE: &str = "mock-replicate-token";
    /// fal's `Authorization: Key` value.
    pub const FAL: &str = "mock-fal-id:mock-fal-secret";
    /// Runway's bearer secret.
    pub const RUNWAY: &str = "mock-runway-secret";
    /// Luma's bearer key.
    pub const LUMA: &str = "mock-luma-key";
    /// Kling's `ACCESS_KEY:SECRET_KEY` pair; requests carry a JWT signed with it.
    pub const KLING: &str = "mock-kling-access:mock-kling-secret";
    /// Ideogram's `Api-Key`.
    pub const IDEOGRAM: &str = "mock-ideogram-key";
    /// Recraft's bearer token.
    pub const RECRAFT: &str = "mock-recraft-token";
    /// ElevenLabs' `xi-api-key`.
    pub const ELEVENLABS: &str = "mock-elevenlabs-key";

    /// The mock's key for each provider, by provider name.
    pub const ALL: &[(&str, &str)] = &[
        ("openai", OPENAI),
        ("stability", STABILITY),
        ("bfl", BFL),
        ("replicate", REPLICATE),
        ("fal", FAL),
        ("runway", RUNWAY),
        ("luma", LUMA),
        ("kling", KLING),
        ("ideogram", IDEOGRAM),
        ("recraft", RECRAFT),
        ("elevenlabs", ELEVENLABS),
    ];
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
        // Each provider lives under its own prefix, as their paths overlap (OpenAI and Recraft
        // both serve /v1/images/generations); base URLs carry the prefix.
        let app: Router<Arc<State>> = Router::new()
            .nest("/openai", openai::routes())
            .nest("/stability", stability::routes())
            .nest("/bfl", bfl::routes())
            .nest("/replicate", replicate::routes())
            .nest("/fal", fal::routes())
            .nest("/runway", runway::routes())
            .nest("/luma", luma::routes())
            .nest("/kling", kling::routes())
            .nest("/ideogram", ideogram::routes())
            .nest("/recraft", recraft::routes())
            .nest("/elevenlabs", elevenlabs::routes())
            .merge(assets::routes());
        let app = app.with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "mock provider server stopped");
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The server's root URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A provider's base URL on the mock, such as `http://127.0.0.1:41234/openai`.
    pub fn base_url(&self, provider: &str) -> String {
        format!("http://{}/{provider}", self.addr)
    }

    /// Queues faults for a route (such as `openai.generate`, `bfl.create`, `bfl.poll`,
    /// `runway.poll`, `files`; each module names its routes); each
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
