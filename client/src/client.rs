//! A typed client for the server's API, for the CLI (`switchyard submit`, `switchyard runs`)
//! and, next, the editor. Errors carry the server's code, message and help.

use std::time::Duration;

use futures::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::protocol::{
    AccountList, CancelReply, ErrorBody, EventMessage, MoveReply, MoveRequest, PriorityReply, PriorityRequest,
    QuoteReply, RunPage, RunView, SubmitRequest, WalletView,
};

/// How long one API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What a call to the server can end in.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request: its status, code, message and help.
    #[error("{message} ({code}, HTTP {status}){}", help.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's stable code.
        code: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: Option<String>,
        /// Specifics (a workflow's diagnostics, say).
        details: Option<serde_json::Value>,
    },
    /// The server could not be reached or answered nonsense.
    #[error("cannot talk to the server at {url}: {why}")]
    Unreachable {
        /// The server.
        url: String,
        /// Why.
        why: String,
    },
}

/// A server and the key to use with it.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// A client of the server at `base` (such as `http://127.0.0.1:8188`) with API key `token`.
    pub fn new(base: &str, token: &str) -> Self {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap_or_default();
        Self { http, base: base.trim_end_matches('/').to_string(), token: token.to_string() }
    }

    fn unreachable(&self, why: impl std::fmt::Display) -> ClientError {
        ClientError::Unreachable { url: self.base.clone(), why: why.to_string() }
    }

    /// The URL of `path` on the server.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = req.bearer_auth(&self.token).send().await.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| self.unreachable(format!("an unexpected reply: {e}")));
        }
        Err(refusal(status, &bytes))
    }

    /// Posts `body` as JSON to `path` (under the server's root) and reads the JSON reply:
    /// for protocols whose types live elsewhere (the farm's worker protocol).
    pub async fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    /// The bytes at `path` with `query`, at most `max_bytes` of them.
    pub async fn get_bytes(
        &self,
        path: &str,
        query: &[(&str, String)],
        max_bytes: u64,
    ) -> Result<Vec<u8>, ClientError> {
        let req = self.http.get(format!("{}{path}", self.base)).query(query).bearer_auth(&self.token);
        let mut resp = req.send().await.map_err(|e| self.unreachable(e))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            return Err(refusal(status, &resp.bytes().await.unwrap_or_default()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(e))? {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(self.unreachable(format!("{path} is over {max_bytes} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Whether `path` exists (`HEAD` answers 2xx; 404 is `false`).
    pub async fn exists(&self, path: &str) -> Result<bool, ClientError> {
        let req = self.http.head(format!("{}{path}", self.base)).bearer_auth(&self.token);
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            status => Err(refusal(status, &[])),
        }
    }

    /// Puts `bytes` at `path`.
    pub async fn put_bytes(&self, path: &str, bytes: Vec<u8>) -> Result<(), ClientError> {
        let req = self.http.put(format!("{}{path}", self.base)).body(bytes);
        let _: serde_json::Value = self.call(req).await?;
        Ok(())
    }

    /// Submits a run; `key` makes a retry of the same submission replay it.
    pub async fn submit(&self, request: &SubmitRequest, key: Option<&str>) -> Result<RunView, ClientError> {
        let mut req = self.http.post(format!("{}/v1/runs", self.base)).json(request);
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        self.call(req).await
    }

    /// Quotes a submission without running it.
    pub async fn quote(&self, request: &SubmitRequest) -> Result<QuoteReply, ClientError> {
        self.call(self.http.post(format!("{}/v1/quote", self.base)).json(request)).await
    }

    /// The key's tenant's accounts (a cheap check that the key works).
    pub async fn accounts(&self) -> Result<AccountList, ClientError> {
        self.call(self.http.get(format!("{}/v1/accounts", self.base))).await
    }

    /// One of the tenant's wallets.
    pub async fn wallet(&self, account: &str) -> Result<WalletView, ClientError> {
        self.call(self.http.get(format!("{}/v1/credits/{account}", self.base))).await
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<RunView, ClientError> {
        self.call(self.http.get(format!("{}/v1/runs/{id}", self.base))).await
    }

    /// A page of runs, newest first.
    pub async fn runs(&self, state: Option<&str>, limit: i64, cursor: Option<&str>) -> Result<RunPage, ClientError> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(state.map(|s| ("state", s.to_string())));
        query.extend(cursor.map(|c| ("cursor", c.to_string())));
        self.call(self.http.get(format!("{}/v1/runs", self.base)).query(&query)).await
    }

    /// Cancels a run; returns its state after.
    pub async fn cancel(&self, id: &str) -> Result<String, ClientError> {
        let reply: CancelReply = self.call(self.http.post(format!("{}/v1/runs/{id}/cancel", self.base))).await?;
        Ok(reply.state)
    }

    /// Sets a waiting run's priority; returns it.
    pub async fn set_priority(&self, id: &str, priority: i64) -> Result<i64, ClientError> {
        let url = format!("{}/v1/runs/{id}/priority", self.base);
        let reply: PriorityReply = self.call(self.http.post(url).json(&PriorityRequest { priority })).await?;
        Ok(reply.priority)
    }

    /// Moves a waiting run to the `front` or `back` of its account's line; returns the run it
    /// changed places with, if any.
    pub async fn move_run(&self, id: &str, to: &str) -> Result<Option<String>, ClientError> {
        let url = format!("{}/v1/runs/{id}/move", self.base);
        let reply: MoveReply = self.call(self.http.post(url).json(&MoveRequest { to: to.into() })).await?;
        Ok(reply.swapped_with)
    }

    /// Follows run `id`'s events, handing each to `on_event`, until it ends; returns the
    /// ended run. A dropped stream is reopened after the last event seen.
    pub async fn watch(&self, id: &str, on_event: impl FnMut(&EventMessage)) -> Result<RunView, ClientError> {
        self.watch_with(id, false, on_event).await
    }

    /// As [`Client::watch`], with previews of image outputs too when `previews` (live only:
    /// a reopened stream gets the next ones).
    pub async fn watch_with(
        &self,
        id: &str,
        previews: bool,
        mut on_event: impl FnMut(&EventMessage),
    ) -> Result<RunView, ClientError> {
        let mut after: Option<u64> = None;
        loop {
            let run = self.run(id).await?;
            if run.ended() {
                return Ok(run);
            }
            let query = format!("?run={id}&after={}&previews={previews}", after.unwrap_or(0));
            let url = format!("{}/v1/events{query}", self.base.replacen("http", "ws", 1));
            let mut request = url.into_client_request().map_err(|e| self.unreachable(e))?;
            let auth = format!("Bearer {}", self.token).parse().map_err(|_| self.unreachable("a malformed token"))?;
            request.headers_mut().insert("authorization", auth);
            let (mut stream, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| self.unreachable(e))?;
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(event) = serde_json::from_str::<EventMessage>(&text) else { continue };
                after = event.id.or(after);
                on_event(&event);
                let state = event.event.as_ref().and_then(|e| e.state.as_deref());
                if event.kind == "run" && matches!(state, Some("succeeded" | "failed" | "cancelled")) {
                    return self.run(id).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// A refusal from a status and an error body (or whatever came instead).
fn refusal(status: u16, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(ErrorBody { error }) => ClientError::Refused {
            status,
            code: error.code,
            message: error.message,
            help: error.help,
            details: error.details,
        },
        Err(_) => ClientError::Refused {
            status,
            code: "http".into(),
            message: String::from_utf8_lossy(bytes).chars().take(200).collect(),
            help: None,
            details: None,
        },
    }
}
