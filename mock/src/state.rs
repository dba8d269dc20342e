//! What the mock remembers: scripted faults, recorded requests, and async tasks.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// A fault a route answers with instead of its normal reply.
#[derive(Clone, Debug)]
pub enum Fault {
    /// This status with the provider's error body; `retry_after` sets `Retry-After`
    /// (seconds) and `retry_after_ms` sets `retry-after-ms`.
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u32>,
        /// `retry-after-ms`.
        retry_after_ms: Option<u32>,
    },
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// Reads the request, then never answers (the client's timeout must end it).
    Hang,
    /// 200 with a body that is not valid JSON.
    Malformed,
    /// The provider's content-moderation refusal.
    Moderated,
    /// An async task that stays pending forever.
    NeverFinish,
    /// A download cut short: the headers promise more bytes than are sent.
    Truncated,
}

impl Fault {
    /// A bare status fault.
    pub fn status(status: u16) -> Self {
        Fault::Status { status, retry_after: None, retry_after_ms: None }
    }
}

/// One request as the mock saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The route name, such as `openai.generate`.
    pub route: &'static str,
    /// Method and path with query.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy).
    pub body: String,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (Null if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// A BFL-style async task.
pub struct Task {
    pub polls_left: u32,
    pub width: u32,
    pub height: u32,
    pub never_finish: bool,
}

pub struct State {
    pub base_url: String,
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    requests: Mutex<Vec<Recorded>>,
    pub tasks: Mutex<HashMap<String, Task>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    pub fn new(base_url: String) -> Self {
        Self { base_url, faults: Mutex::default(), requests: Mutex::default(), tasks: Mutex::default() }
    }

    pub fn script(&self, route: &str, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.faults).entry(route.to_string()).or_default().extend(faults);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.requests).clone()
    }

    /// Records a request and takes the route's next fault, if any.
    pub fn arrive(
        &self,
        route: &'static str,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<Fault> {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = String::from_utf8_lossy(body).into_owned();
        let mut requests = lock(&self.requests);
        requests.push(Recorded { route, method: method.to_string(), path: path.to_string(), headers, body });
        drop(requests);
        lock(&self.faults).get_mut(route).and_then(VecDeque::pop_front)
    }

    pub fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}_{:06}", lock(&self.requests).len())
    }
}

/// A JSON reply with a status and extra headers.
pub fn json_reply(status: StatusCode, headers: &[(&str, String)], body: serde_json::Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (name.parse::<axum::http::HeaderName>(), value.parse()) {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}

/// The status fault as a reply in a provider's error shape.
pub fn status_fault(
    status: u16,
    retry_after: Option<u32>,
    retry_after_ms: Option<u32>,
    body: serde_json::Value,
) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = Vec::new();
    if let Some(s) = retry_after {
        headers.push(("retry-after", s.to_string()));
    }
    if let Some(ms) = retry_after_ms {
        headers.push(("retry-after-ms", ms.to_string()));
    }
    json_reply(code, &headers, body)
}

/// What a route does after the faults every JSON route answers the same way.
pub enum Next {
    /// Answer with this.
    Reply(Response),
    /// Go on, with the fault (if any) that is the route's own to answer.
    Continue(Option<Fault>),
}

/// Answers a status fault (with `error_body`), a hang or a malformed body, and waits out a
/// slow one; other faults go back to the route.
pub async fn shared_fault(fault: Option<Fault>, error_body: serde_json::Value) -> Next {
    match fault {
        Some(Fault::Status { status, retry_after, retry_after_ms }) => {
            Next::Reply(status_fault(status, retry_after, retry_after_ms, error_body))
        }
        Some(Fault::Hang) => Next::Reply(hang().await),
        Some(Fault::Malformed) => Next::Reply(malformed()),
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            Next::Continue(None)
        }
        other => Next::Continue(other),
    }
}

/// Waits forever (until the client gives up and the connection drops).
pub async fn hang() -> Response {
    std::future::pending::<()>().await;
    StatusCode::GATEWAY_TIMEOUT.into_response()
}

/// 200 with a body that is not JSON.
pub fn malformed() -> Response {
    (StatusCode::OK, [("content-type", "application/json")], "{\"data\": [{\"b64_json\": ").into_response()
}
