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
    /// This status with these headers verbatim and the provider's error body: hostile
    /// `Retry-After` values, or a redirect's `location`.
    Headers {
        /// The HTTP status.
        status: u16,
        /// Header names and values, sent as they are.
        headers: Vec<(&'static str, String)>,
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
    /// The request is carried out, then the reply is lost (the connection hangs): the
    /// client cannot tell this from a request that never arrived. Routes without their own
    /// handling treat it as [`Fault::Hang`].
    LoseReply,
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
    /// The body's bytes.
    pub raw: Vec<u8>,
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

    /// A multipart body's fields (empty if it is not multipart).
    pub fn form(&self) -> Vec<crate::form::Field> {
        crate::form::parse(self.header("content-type").unwrap_or(""), &self.raw).unwrap_or_default()
    }
}

/// A result file a task serves at `/files/{id}.{ext}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asset {
    /// A PNG of this size.
    Png(u32, u32),
    /// A JPEG of this size.
    Jpeg(u32, u32),
    /// The short MP4 clip.
    Mp4,
    /// A PNG of this size with a transparent background.
    Cutout(u32, u32),
}

impl Asset {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Asset::Png(..) | Asset::Cutout(..) => "png",
            Asset::Jpeg(..) => "jpg",
            Asset::Mp4 => "mp4",
        }
    }
}

/// An async task, or a sync result waiting to be downloaded.
#[derive(Clone, Debug)]
pub struct Task {
    /// Polls answered "still running" before it finishes.
    pub polls_left: u32,
    /// Polls so far.
    pub polls: u32,
    /// The result file.
    pub asset: Asset,
    /// The input image the result is made from (image-to-image, upscale, cutout), if any.
    pub source: Option<std::sync::Arc<Vec<u8>>>,
    /// Stays running forever.
    pub never_finish: bool,
    /// Finishes in a moderation failure.
    pub moderated: bool,
    /// Cancelled by the client.
    pub cancelled: bool,
    /// The client's own id for it, where the provider takes one.
    pub external_id: Option<String>,
}

/// Where a task stands after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Still running; this many polls so far (counting this one).
    Running(u32),
    /// Finished with a result.
    Done,
    /// Finished in a moderation failure.
    Moderated,
    /// Cancelled.
    Cancelled,
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
        let (raw, body) = (body.to_vec(), String::from_utf8_lossy(body).into_owned());
        let mut requests = lock(&self.requests);
        requests.push(Recorded { route, method: method.to_string(), path: path.to_string(), headers, body, raw });
        drop(requests);
        lock(&self.faults).get_mut(route).and_then(VecDeque::pop_front)
    }

    pub fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}_{:06}", lock(&self.requests).len())
    }

    /// Starts a task that finishes after `polls` polls; `fault` may make it never finish or
    /// end in moderation.
    pub fn new_task(&self, prefix: &str, asset: Asset, polls: u32, fault: &Option<Fault>) -> String {
        let id = self.next_id(prefix);
        let task = Task {
            polls_left: polls,
            polls: 0,
            asset,
            source: None,
            never_finish: matches!(fault, Some(Fault::NeverFinish)),
            moderated: matches!(fault, Some(Fault::Moderated)),
            cancelled: false,
            external_id: None,
        };
        lock(&self.tasks).insert(id.clone(), task);
        id
    }

    /// Sets a task's client-chosen id.
    pub fn set_external_id(&self, id: &str, external: &str) {
        if let Some(t) = lock(&self.tasks).get_mut(id) {
            t.external_id = Some(external.to_string());
        }
    }

    /// The task id with this client-chosen id.
    pub fn find_external(&self, external: &str) -> Option<String> {
        lock(&self.tasks).iter().find(|(_, t)| t.external_id.as_deref() == Some(external)).map(|(id, _)| id.clone())
    }

    /// Polls a task once.
    pub fn poll_task(&self, id: &str) -> Option<(Stage, Task)> {
        let mut tasks = lock(&self.tasks);
        let task = tasks.get_mut(id)?;
        task.polls += 1;
        let stage = if task.cancelled {
            Stage::Cancelled
        } else if task.never_finish || task.polls_left > 0 {
            task.polls_left = task.polls_left.saturating_sub(1);
            Stage::Running(task.polls)
        } else if task.moderated {
            Stage::Moderated
        } else {
            Stage::Done
        };
        Some((stage, task.clone()))
    }

    /// Cancels a task; false when there is none.
    pub fn cancel_task(&self, id: &str) -> bool {
        lock(&self.tasks).get_mut(id).map(|t| t.cancelled = true).is_some()
    }

    /// A task's result URL.
    pub fn file_url(&self, id: &str) -> String {
        let ext = lock(&self.tasks).get(id).map_or("png", |t| t.asset.ext());
        format!("{}/files/{id}.{ext}", self.base_url)
    }

    /// A task's asset.
    pub fn asset(&self, id: &str) -> Option<Asset> {
        lock(&self.tasks).get(id).map(|t| t.asset)
    }

    /// Makes task `id`'s result from `input` (an uploaded image), so it looks like its input.
    pub fn keep_source(&self, id: &str, input: &[u8]) {
        if let Some(t) = lock(&self.tasks).get_mut(id) {
            t.source = Some(std::sync::Arc::new(input.to_vec()));
        }
    }

    /// The input image task `id`'s result is made from.
    pub fn source(&self, id: &str) -> Option<std::sync::Arc<Vec<u8>>> {
        lock(&self.tasks).get(id).and_then(|t| t.source.clone())
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
        Some(Fault::Headers { status, headers }) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Next::Reply(json_reply(code, &headers.iter().map(|(n, v)| (*n, v.clone())).collect::<Vec<_>>(), error_body))
        }
        Some(Fault::Hang | Fault::LoseReply) => Next::Reply(hang().await),
        Some(Fault::Malformed) => Next::Reply(malformed()),
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            Next::Continue(None)
        }
        other => Next::Continue(other),
    }
}

/// Checks auth (answering `unauthorised` when it fails), then answers the shared faults.
pub async fn gate(
    fault: Option<Fault>,
    authorised: bool,
    unauthorised: impl FnOnce() -> Response,
    server_error: serde_json::Value,
) -> Result<Option<Fault>, Response> {
    if !authorised {
        return Err(unauthorised());
    }
    match shared_fault(fault, server_error).await {
        Next::Reply(r) => Err(r),
        Next::Continue(f) => Ok(f),
    }
}

/// The bytes of a `data:image/...;base64,` URI.
pub fn data_uri_bytes(uri: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let b64 = uri.strip_prefix("data:")?.split_once(";base64,")?.1;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// The size of a PNG or JPEG, read from its header.
pub fn image_size(bytes: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().ok()?.into_dimensions().ok()
}

/// A size with the long side 1024 for a `W:H` ratio.
pub fn size_for_ratio(ratio: &str, sep: char) -> Option<(u32, u32)> {
    let (w, h) = ratio.split_once(sep)?;
    let (w, h): (u32, u32) = (w.parse().ok()?, h.parse().ok()?);
    let long = w.max(h).max(1);
    Some(((1024 * w / long).max(1), (1024 * h / long).max(1)))
}

/// Whether `name` holds exactly `value`.
pub fn header_is(headers: &HeaderMap, name: &str, value: &str) -> bool {
    headers.get(name).and_then(|v| v.to_str().ok()) == Some(value)
}

/// Whether the bearer token is `key`.
pub fn bearer_is(headers: &HeaderMap, key: &str) -> bool {
    header_is(headers, "authorization", &format!("Bearer {key}"))
}

/// The JSON body, or `None`.
pub fn json_body(body: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(body).ok()
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
