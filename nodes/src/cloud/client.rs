//! One HTTP client layer for every adapter: timeouts, bounded retries with backoff and
//! jitter that honour `Retry-After` and `retry-after-ms`, a per-provider concurrency and
//! rate limit, size-capped downloads, and the rule that a paid create is never re-sent
//! after an ambiguous failure.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, StatusCode};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::error::CloudError;
use super::guard::{Reach, Unreachable};
use super::secret::ApiKey;

/// How long a create already on the wire may finish after the run is cancelled: its reply
/// says whether the provider took the work (and names the task to cancel there). Below the
/// engine's cancel grace, so the node can still settle.
const CREATE_CANCEL_GRACE_MS: u64 = 3_000;

/// Time limits, retry budget and sizes, per provider (from the settings file).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// TCP and TLS connect limit.
    pub connect_timeout_ms: u64,
    /// One request, from send to the last body byte.
    pub request_timeout_ms: u64,
    /// The whole call: create, polls and download.
    pub overall_timeout_ms: u64,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubles each retry, with full jitter.
    pub backoff_base_ms: u64,
    /// Backoff ceiling (a longer `Retry-After` is still honoured, within the overall limit).
    pub backoff_max_ms: u64,
    /// Polls of an async task before giving up.
    pub max_polls: u32,
    /// Delay between polls.
    pub poll_interval_ms: u64,
    /// The largest result download.
    pub max_download_bytes: u64,
    /// Requests in flight to this provider.
    pub concurrency: usize,
    /// Requests per second to this provider (a token bucket with this burst).
    pub rate_per_s: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 10_000,
            request_timeout_ms: 180_000,
            overall_timeout_ms: 900_000,
            max_retries: 4,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            max_polls: 900,
            poll_interval_ms: 1_000,
            max_download_bytes: 64 << 20,
            concurrency: 8,
            rate_per_s: 10,
        }
    }
}

/// Whether a request may be sent again when it is unclear if the provider got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    /// Reads, polls and downloads: sending twice costs nothing.
    Safe,
    /// A create that may charge: re-sent only when the provider surely did not start it
    /// (no connection, or an explicit 408/429/500/503 refusal).
    OnlyIfRefused,
}

/// A provider's answer that is not a retryable failure.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body, at most `max_download_bytes`.
    pub body: Vec<u8>,
    /// The provider's request id, when it sends one.
    pub request_id: Option<String>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self, provider: &'static str) -> Result<serde_json::Value, CloudError> {
        serde_json::from_slice(&self.body).map_err(|e| CloudError::Malformed {
            provider,
            request_id: self.request_id.clone(),
            detail: format!("body is not JSON ({e})"),
        })
    }
}

/// A client for one provider.
pub struct ProviderClient {
    /// Provider name, for errors and logs.
    pub name: &'static str,
    /// Base URL (no trailing slash).
    pub base_url: String,
    key: Option<ApiKey>,
    /// Where the key should come from, for the error when it is missing.
    pub key_hint: String,
    /// Authenticated API calls: redirects are never followed, so a key never leaves the
    /// configured origin. Built on first use: building loads the system's root certificates,
    /// which a run that calls no provider should not pay for.
    http: std::sync::OnceLock<Result<reqwest::Client, String>>,
    /// Result downloads: no key, public addresses only (checked after DNS and on every hop).
    delivery: std::sync::OnceLock<Result<reqwest::Client, String>>,
    reach: Reach,
    /// Limits and retry budget.
    pub config: ClientConfig,
    /// Where error replies are counted (the registry's shared count).
    pub errors: Arc<super::stats::ProviderErrors>,
    slots: Arc<Semaphore>,
    rate: governor::DefaultDirectRateLimiter,
    request_id_header: &'static str,
    auth: Auth,
}

/// How a provider wants its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer KEY`.
    Bearer,
    /// The key as this header's value, such as `x-key`.
    Header(&'static str),
    /// `Authorization: PREFIX KEY`, such as fal's `Key`.
    Prefixed(&'static str),
    /// `Authorization: Bearer JWT`, an HS256 token signed per request from an
    /// `ACCESS_KEY:SECRET_KEY` pair (Kling).
    Jwt,
}

impl ProviderClient {
    /// A client; `request_id_header` names the header that carries the provider's request id.
    pub fn new(
        name: &'static str,
        base_url: &str,
        key: Option<ApiKey>,
        key_hint: String,
        config: ClientConfig,
        request_id_header: &'static str,
        auth: Auth,
    ) -> Result<Self, String> {
        let reach = Reach::for_base(base_url);
        let rate = NonZeroU32::new(config.rate_per_s.max(1)).unwrap_or(NonZeroU32::MIN);
        Ok(Self {
            name,
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
            key_hint,
            http: std::sync::OnceLock::new(),
            delivery: std::sync::OnceLock::new(),
            reach,
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            rate: governor::RateLimiter::direct(governor::Quota::per_second(rate)),
            config,
            request_id_header,
            auth,
            errors: Default::default(),
        })
    }

    /// The key, or an auth error saying where to set it. Checked before any request.
    pub fn key(&self) -> Result<&ApiKey, CloudError> {
        self.key.as_ref().ok_or_else(|| CloudError::Auth {
            provider: self.name,
            request_id: None,
            message: "no API key is set".into(),
            hint: self.key_hint.clone(),
        })
    }

    /// The header that carries the key, as this provider wants it; marked sensitive so
    /// reqwest never prints it.
    pub fn auth_header(&self) -> Result<(&'static str, HeaderValue), CloudError> {
        let key = self.key()?.expose();
        let (name, value) = match self.auth {
            Auth::Bearer => ("authorization", format!("Bearer {key}")),
            Auth::Header(name) => (name, key.to_string()),
            Auth::Prefixed(prefix) => ("authorization", format!("{prefix} {key}")),
            Auth::Jwt => {
                let token = super::jwt::kling_token(key, std::time::SystemTime::now())
                    .ok_or_else(|| self.auth_error("the key is not ACCESS_KEY:SECRET_KEY"))?;
                ("authorization", format!("Bearer {token}"))
            }
        };
        let mut value =
            HeaderValue::from_str(&value).map_err(|_| self.auth_error("the key holds characters a header cannot"))?;
        value.set_sensitive(true);
        Ok((name, value))
    }

    fn auth_error(&self, message: &str) -> CloudError {
        CloudError::Auth { provider: self.name, request_id: None, message: message.into(), hint: self.key_hint.clone() }
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(self.config.connect_timeout_ms))
            .timeout(Duration::from_millis(self.config.request_timeout_ms))
            .pool_max_idle_per_host(self.config.concurrency)
    }

    fn built<'a>(
        &'a self,
        client: &'a std::sync::OnceLock<Result<reqwest::Client, String>>,
        delivery: bool,
    ) -> Result<&'a reqwest::Client, CloudError> {
        let client = client.get_or_init(|| {
            let builder = match delivery {
                true => self.builder().redirect(self.reach.redirect_policy()).dns_resolver(self.reach.resolver()),
                false => self.builder().redirect(reqwest::redirect::Policy::none()),
            };
            builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))
        });
        client.as_ref().map_err(|why| CloudError::NotSent { provider: self.name, why: why.clone() })
    }

    /// The HTTP client for API calls, for building requests (built on first use).
    pub fn http(&self) -> Result<&reqwest::Client, CloudError> {
        self.built(&self.http, false)
    }

    /// Text with the key scrubbed out.
    pub fn redact(&self, text: &str) -> String {
        self.key.as_ref().map_or_else(|| text.to_string(), |k| k.redact(text))
    }

    /// Sends `build()`'s request within the limits, retrying what `resend` allows, and
    /// returns the first reply that is not a retryable failure.
    pub async fn send(
        &self,
        resend: Resend,
        cancel: &CancellationToken,
        deadline: Instant,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Reply, CloudError> {
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _slot = tokio::select! {
                    slot = self.slots.acquire() => slot.map_err(|_| CloudError::Cancelled)?,
                    () = cancel.cancelled() => return Err(CloudError::Cancelled),
                };
                tokio::select! {
                    () = self.rate.until_ready() => {}
                    () = cancel.cancelled() => return Err(CloudError::Cancelled),
                }
                self.attempt_until_cancelled(resend, cancel, &build).await?
            };
            let (failure, wait_hint) = match outcome {
                Attempt::Done(reply) if reply.status.is_redirection() => return Err(self.redirected(&reply)),
                Attempt::Done(reply) => return Ok(reply),
                Attempt::Fatal(e) => return Err(e),
                Attempt::Retryable { status, headers, message } => {
                    let refused = matches!(status.as_u16(), 408 | 429 | 500 | 503);
                    if resend == Resend::OnlyIfRefused && !refused {
                        return Err(self.unknown(format!("HTTP {status} ({message})")));
                    }
                    (format!("HTTP {status}: {message}"), retry_after(&headers))
                }
                Attempt::Transport { sent, message } => {
                    if resend == Resend::OnlyIfRefused && sent {
                        return Err(self.unknown(format!("a transport failure after sending ({message})")));
                    }
                    (message, None)
                }
            };
            attempt += 1;
            let exhausted = || CloudError::Exhausted { provider: self.name, attempts: attempt, last: failure.clone() };
            if attempt > self.config.max_retries {
                return Err(exhausted());
            }
            // A server's wait hint is clamped to the time left: past the deadline it is
            // answered at once, never added to an instant (which can overflow).
            let left = deadline.saturating_duration_since(Instant::now());
            let delay = wait_hint.unwrap_or_else(|| self.backoff(attempt));
            if delay >= left {
                return Err(exhausted());
            }
            tracing::debug!(provider = self.name, attempt, delay_ms = delay.as_millis() as u64, %failure, "retrying");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => return Err(CloudError::Cancelled),
            }
        }
    }

    /// One attempt, raced against cancellation. A read is dropped at once. A create already
    /// on the wire may have been taken, so it gets [`CREATE_CANCEL_GRACE_MS`] to answer;
    /// past that its outcome is unknown, never a clean cancel.
    async fn attempt_until_cancelled(
        &self,
        resend: Resend,
        cancel: &CancellationToken,
        build: &impl Fn() -> RequestBuilder,
    ) -> Result<Attempt, CloudError> {
        let attempt = self.attempt(build);
        tokio::pin!(attempt);
        tokio::select! {
            r = &mut attempt => return Ok(r),
            () = cancel.cancelled() => {}
        }
        if resend == Resend::Safe {
            return Err(CloudError::Cancelled);
        }
        match tokio::time::timeout(Duration::from_millis(CREATE_CANCEL_GRACE_MS), attempt).await {
            Ok(r) => Ok(r),
            Err(_) => Err(self.unknown("the run was cancelled while the create was in flight".into())),
        }
    }

    fn redirected(&self, reply: &Reply) -> CloudError {
        let location = reply.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("nowhere");
        CloudError::Redirected { provider: self.name, status: reply.status.as_u16(), location: self.redact(location) }
    }

    fn unknown(&self, what: String) -> CloudError {
        tracing::warn!(provider = self.name, %what, "create outcome unknown; not re-sent");
        CloudError::OutcomeUnknown { provider: self.name, what }
    }

    /// Exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.config.backoff_base_ms.saturating_mul(1 << attempt.min(20)).min(self.config.backoff_max_ms);
        Duration::from_millis(rand::random_range(0..=cap))
    }

    async fn attempt(&self, build: &impl Fn() -> RequestBuilder) -> Attempt {
        let resp = match build().send().await {
            Ok(r) => r,
            Err(e) => {
                if let Some(why) = unreachable(&e) {
                    return Attempt::Fatal(CloudError::Unreachable { provider: self.name, why });
                }
                let message = self.redact(&format!("{e}{}", source_text(&e)));
                self.errors.record(self.name, "transport");
                return Attempt::Transport { sent: !e.is_connect(), message };
            }
        };
        let (status, headers) = (resp.status(), resp.headers().clone());
        if status.is_client_error() || status.is_server_error() {
            self.errors.record(self.name, status.as_str());
        }
        let request_id = headers.get(self.request_id_header).and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = match read_capped(resp, self.config.max_download_bytes).await {
            Ok(b) => b,
            Err(message) => return Attempt::Transport { sent: true, message: self.redact(&message) },
        };
        if matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504) {
            let message = self.redact(&String::from_utf8_lossy(&body[..body.len().min(300)]));
            return Attempt::Retryable { status, headers, message };
        }
        Attempt::Done(Reply { status, headers, body, request_id })
    }

    /// Downloads a result URL (no auth: delivery URLs are signed), checking its size and
    /// that its content type starts with `kind` (such as `image/`).
    pub async fn download(
        &self,
        url: &str,
        kind: &str,
        cancel: &CancellationToken,
        deadline: Instant,
    ) -> Result<(Vec<u8>, String), CloudError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| CloudError::Malformed {
            provider: self.name,
            request_id: None,
            detail: format!("the result URL {:?} is not a URL ({e})", self.redact(url)),
        })?;
        if let Some(why) = self.reach.refuse(&parsed) {
            return Err(CloudError::Unreachable { provider: self.name, why });
        }
        let delivery = self.built(&self.delivery, true)?;
        let reply = self.send(Resend::Safe, cancel, deadline, || delivery.get(parsed.clone())).await?;
        let malformed = |detail: String| CloudError::Malformed { provider: self.name, request_id: None, detail };
        if !reply.status.is_success() {
            return Err(malformed(format!("downloading the result gave HTTP {}", reply.status)));
        }
        let ctype = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        if !ctype.starts_with(kind) {
            return Err(malformed(format!("the result is {ctype:?}, not {kind}*")));
        }
        Ok((reply.body, ctype))
    }
}

enum Attempt {
    Done(Reply),
    /// A failure no retry can mend (a refused address).
    Fatal(CloudError),
    Retryable {
        status: StatusCode,
        headers: HeaderMap,
        message: String,
    },
    Transport {
        sent: bool,
        message: String,
    },
}

/// Reads a body, refusing one larger than `max` bytes.
async fn read_capped(mut resp: reqwest::Response, max: u64) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(format!("the reply is larger than the {max}-byte limit"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading the reply failed: {e}"))? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(format!("the reply is larger than the {max}-byte limit"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `retry-after-ms`, else `Retry-After` in seconds. Values that are not finite, negative or
/// beyond a `Duration` are ignored (the backoff applies); huge ones are clamped by the caller.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    parse_retry_after(get("retry-after-ms"), get("retry-after"))
}

/// A server's wait hint from the values of `retry-after-ms` and `Retry-After` (seconds).
pub fn parse_retry_after(ms: Option<&str>, seconds: Option<&str>) -> Option<Duration> {
    let number = |v: Option<&str>| v.and_then(|v| v.trim().parse::<f64>().ok());
    let seconds = number(ms).map(|ms| ms / 1000.0).or_else(|| number(seconds))?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// The refused address behind a transport error, if that is what it was.
fn unreachable(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(u) = s.downcast_ref::<Unreachable>() {
            return Some(u.0.clone());
        }
        source = s.source();
    }
    None
}

/// The causes below a reqwest error's own words, which alone say little ("error sending
/// request").
fn source_text(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A loopback server answering every request with `reply`, counting connections.
    async fn serve(reply: String) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let _ = sock.write_all(reply.as_bytes()).await;
                });
            }
        });
        (format!("127.0.0.1:{}", addr.port()), hits)
    }

    fn client(base_url: &str) -> ProviderClient {
        let config = ClientConfig { max_retries: 0, ..ClientConfig::default() };
        let key = Some(ApiKey::new("sk-test-secret"));
        ProviderClient::new("p", base_url, key, "hint".into(), config, "x-request-id", Auth::Header("x-key")).unwrap()
    }

    async fn fetch(c: &ProviderClient, url: &str) -> Result<(Vec<u8>, String), CloudError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        c.download(url, "image/", &CancellationToken::new(), deadline).await
    }

    /// Regression (issue 13): result URLs and their redirects reached loopback, private and
    /// metadata addresses. Only the provider's own loopback origin (the mock) may be reached.
    #[tokio::test]
    async fn downloads_reach_only_public_addresses_or_the_providers_own_loopback_origin() {
        let png = "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 3\r\n\r\nabc".to_string();
        let (inside, inside_hits) = serve(png.clone()).await;
        let (own, _) = serve(png).await;
        let to = |target: &str| format!("HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\n\r\n");
        let (hop_ip, _) = serve(to(&format!("http://{inside}/x.png"))).await;
        let port = inside.rsplit(':').next().unwrap().to_string();
        let (hop_name, _) = serve(to(&format!("http://localhost:{port}/x.png"))).await;
        let provider = client(&format!("http://{own}/v1"));
        assert_eq!(fetch(&provider, &format!("http://{own}/files/a.png")).await.unwrap().0, b"abc");
        for url in [
            format!("http://{inside}/x.png"),
            format!("http://localhost:{port}/x.png"),
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "http://[::1]/x.png".to_string(),
        ] {
            let err = fetch(&provider, &url).await.unwrap_err();
            assert!(matches!(err, CloudError::Unreachable { .. }), "{url}: {err}");
        }
        for hop in [hop_ip, hop_name] {
            let own_hop = client(&format!("http://{hop}"));
            let err = fetch(&own_hop, &format!("http://{hop}/r")).await.unwrap_err();
            assert!(matches!(err, CloudError::Unreachable { .. }), "{hop}: {err}");
        }
        assert_eq!(inside_hits.load(Ordering::SeqCst), 0, "no connection reached the inside server");
        let public = client("https://api.provider.example");
        let err = fetch(&public, &format!("http://{own}/files/a.png")).await.unwrap_err();
        assert!(matches!(err, CloudError::Unreachable { .. }), "a public provider's URL to loopback: {err}");
    }

    /// Regression (issue 13): a 307 on an authenticated call re-sent the key to the target.
    #[tokio::test]
    async fn authenticated_calls_follow_no_redirect() {
        let (target, target_hits) = serve("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".into()).await;
        let redirect =
            format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{target}/steal\r\ncontent-length: 0\r\n\r\n");
        let (api, _) = serve(redirect).await;
        let c = client(&format!("http://{api}"));
        let (name, value) = c.auth_header().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let url = format!("http://{api}/v1/create");
        let http = c.http().unwrap();
        let err = c
            .send(Resend::OnlyIfRefused, &CancellationToken::new(), deadline, || {
                http.post(&url).header(name, value.clone()).body("{}")
            })
            .await
            .unwrap_err();
        assert!(matches!(err, CloudError::Redirected { status: 307, .. }), "{err}");
        assert_eq!(target_hits.load(Ordering::SeqCst), 0, "the redirect target saw nothing");
    }

    /// Regression (issue 13): `Retry-After: 1e19` and friends panicked converting to a
    /// duration or adding it to an instant.
    #[test]
    fn hostile_retry_after_headers_never_panic() {
        let cases = [
            ("retry-after", "1e19", Some(Duration::from_secs(10_000_000_000_000_000_000))),
            ("retry-after", "1e20", None),
            ("retry-after", "inf", None),
            ("retry-after", "NaN", None),
            ("retry-after", "-5", None),
            ("retry-after", "2", Some(Duration::from_secs(2))),
            ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("retry-after-ms", "1e25", None),
            ("retry-after-ms", "1500", Some(Duration::from_millis(1500))),
        ];
        for (name, value, want) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(value));
            assert_eq!(retry_after(&headers), want, "{name}: {value}");
        }
    }
}
