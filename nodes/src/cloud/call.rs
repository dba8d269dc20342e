//! One provider call in progress: the client, the cancel token, the deadline and the progress
//! sink, with the steps every adapter shares (authed sends, bounded polling that cancels the
//! remote task when it stops, downloads, and errors in the provider's words).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use serde_json::Value;
use switchyard_engine::CallJournal;
use tokio_util::sync::CancellationToken;

use super::client::{ProviderClient, Reply, Resend};
use super::error::CloudError;

/// One poll's answer.
pub enum Polled<T> {
    /// Still running, with progress from 0 to 1 when the provider reports it.
    Pending(Option<f64>),
    /// Finished.
    Done(T),
}

/// A call's context, shared by the adapter's steps.
pub struct Call<'a> {
    /// The provider's client.
    pub client: &'a ProviderClient,
    /// Cancelled when the run is.
    pub cancel: &'a CancellationToken,
    /// When the whole call must be done.
    pub deadline: Instant,
    /// Progress from 0 to 1.
    pub progress: &'a (dyn Fn(f64) + Send + Sync),
    /// Set once the provider has answered a create or a read with success: from then on the
    /// work may have been done (and charged), so a failure is no longer a clean refusal.
    pub accepted: AtomicBool,
    /// Where the intent of each create is written before it goes out, when billed.
    pub journal: Option<&'a Arc<dyn CallJournal>>,
}

impl Call<'_> {
    /// The provider's name.
    pub fn name(&self) -> &'static str {
        self.client.name
    }

    /// `path` on the provider's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.client.base_url)
    }

    /// Sends a create that may charge: authed, and re-sent only when surely refused. Its
    /// intent is written to the journal first (a create whose intent cannot be written is
    /// not sent), and the provider's request id after.
    pub async fn create(&self, build: impl Fn() -> RequestBuilder) -> Result<Reply, CloudError> {
        if let Some(journal) = self.journal {
            journal.sending().await.map_err(|why| CloudError::NotSent { provider: self.name(), why })?;
        }
        let reply = self.authed(Resend::OnlyIfRefused, self.cancel, self.deadline, build).await?;
        if let Some(id) = reply.request_id.as_deref() {
            self.identified(id).await;
        }
        Ok(reply)
    }

    /// Writes the provider's id for the call to the journal, as soon as it is known. A
    /// failure is logged: the intent is already durable, which is what recovery needs.
    pub async fn identified(&self, remote_id: &str) {
        let Some(journal) = self.journal else { return };
        if let Err(e) = journal.identified(remote_id).await {
            tracing::warn!(provider = self.name(), remote_id, error = %e, "cannot record the provider's id");
        }
    }

    /// Sends a read (a poll, a lookup): authed, and retried freely.
    pub async fn read(&self, build: impl Fn() -> RequestBuilder) -> Result<Reply, CloudError> {
        self.authed(Resend::Safe, self.cancel, self.deadline, build).await
    }

    async fn authed(
        &self,
        resend: Resend,
        cancel: &CancellationToken,
        deadline: Instant,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Reply, CloudError> {
        let (name, value) = self.client.auth_header()?;
        let reply = self.client.send(resend, cancel, deadline, || build().header(name, value.clone())).await?;
        if reply.status.is_success() {
            self.accepted.store(true, Ordering::Relaxed);
        }
        Ok(reply)
    }

    /// Whether the provider may have taken the work on.
    pub fn was_accepted(&self) -> bool {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Downloads a result URL (no key is sent), checking its size and media type prefix.
    pub async fn download(&self, url: &str, kind: &str) -> Result<(Vec<u8>, String), CloudError> {
        self.client.download(url, kind, self.cancel, self.deadline).await
    }

    /// A reply that breaks the provider's API promise.
    pub fn malformed(&self, request_id: Option<String>, detail: impl Into<String>) -> CloudError {
        CloudError::Malformed { provider: self.name(), request_id, detail: detail.into() }
    }

    /// A param this provider cannot honour.
    pub fn unsupported(&self, param: &'static str, why: impl Into<String>) -> CloudError {
        CloudError::Unsupported { provider: self.name(), param, why: why.into() }
    }

    /// A refusal: auth for 401/403, moderation when `moderated`, else an invalid request.
    pub fn refusal(&self, status: u16, request_id: Option<String>, message: &str, moderated: bool) -> CloudError {
        let (provider, message) = (self.name(), self.client.redact(message));
        if moderated {
            return CloudError::Moderated { provider, request_id, message };
        }
        match status {
            401 | 403 => CloudError::Auth { provider, request_id, message, hint: self.client.key_hint.clone() },
            _ => CloudError::Invalid { provider, request_id, message: format!("HTTP {status}: {message}") },
        }
    }

    /// A create's JSON reply, or the refusal its status says (a refusal's body need not be
    /// JSON: its message is then "no message").
    pub fn created_json(&self, reply: &Reply, request_id: Option<String>) -> Result<Value, CloudError> {
        let doc = reply.json(self.name());
        if !reply.status.is_success() {
            let message = error_message(&doc.unwrap_or_default());
            return Err(self.refusal(reply.status.as_u16(), request_id, &message, false));
        }
        doc
    }

    /// A poll's or lookup's reply, which must be JSON, or the refusal its status says.
    pub fn read_json(&self, reply: &Reply, request_id: Option<String>) -> Result<Value, CloudError> {
        let doc = reply.json(self.name())?;
        if !reply.status.is_success() {
            return Err(self.refusal(reply.status.as_u16(), request_id, &error_message(&doc), false));
        }
        Ok(doc)
    }

    /// A task the provider reports failed.
    pub fn failed(&self, task: &str, message: &str) -> CloudError {
        CloudError::JobFailed {
            provider: self.name(),
            request_id: Some(task.to_string()),
            message: self.client.redact(message),
        }
    }

    /// Polls with `step` until it is done: bounded by `max_polls` and the deadline, waiting
    /// `poll_interval_ms` at first and backing off to 8 times that. When polling stops
    /// without a result (cancelled or out of time), `cancel_task` asks the provider to stop
    /// the task, so it is not left running and billing.
    pub async fn poll<T, F: Future<Output = Result<Polled<T>, CloudError>>>(
        &self,
        task: &str,
        mut step: impl FnMut() -> F,
        cancel_task: Option<&(dyn Fn() -> RequestBuilder + Sync)>,
    ) -> Result<T, CloudError> {
        self.identified(task).await;
        let result = self.poll_loop(task, &mut step).await;
        if let (Err(CloudError::Cancelled | CloudError::TimedOut { .. }), Some(build)) = (&result, cancel_task) {
            self.cancel_remote(task, build).await;
        }
        result
    }

    async fn poll_loop<T, F: Future<Output = Result<Polled<T>, CloudError>>>(
        &self,
        task: &str,
        step: &mut impl FnMut() -> F,
    ) -> Result<T, CloudError> {
        let base = Duration::from_millis(self.client.config.poll_interval_ms);
        for n in 0..self.client.config.max_polls {
            let wait = base.mul_f64(1.25f64.powi(n.min(10) as i32)).min(base * 8);
            if Instant::now() + wait > self.deadline {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.cancel.cancelled() => return Err(CloudError::Cancelled),
            }
            match step().await? {
                Polled::Done(t) => return Ok(t),
                Polled::Pending(p) => (self.progress)(p.unwrap_or(0.0)),
            }
        }
        Err(CloudError::TimedOut {
            provider: self.name(),
            limit_ms: self.client.config.overall_timeout_ms,
            task: task.to_string(),
        })
    }

    /// Asks the provider to stop a task, on a fresh token with a short deadline (the run's
    /// token is already cancelled). Failures are logged: the task is already given up.
    async fn cancel_remote(&self, task: &str, build: &(dyn Fn() -> RequestBuilder + Sync)) {
        let fresh = CancellationToken::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        match self.authed(Resend::Safe, &fresh, deadline, build).await {
            Ok(r) if r.status.is_success() => tracing::info!(provider = self.name(), task, "remote task cancelled"),
            Ok(r) => tracing::warn!(provider = self.name(), task, status = %r.status, "cancel refused"),
            Err(e) => tracing::warn!(provider = self.name(), task, error = %e, "cancel failed"),
        }
    }
}

/// Sets `body[name]` when the portable param was given.
pub fn put<T: serde::Serialize>(body: &mut Value, name: &str, value: Option<T>) {
    if let Some(v) = value {
        body[name] = serde_json::json!(v);
    }
}

/// The message in the common error shapes: `{detail: "…"}`, `{detail: [{loc, msg}]}`,
/// `{detail: {message}}`, `{message}`, `{error: "…" | {message}}`, `{errors: […]}`.
pub fn error_message(doc: &Value) -> String {
    let field = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(items.iter().map(item_message).collect::<Vec<_>>().join("; ")),
        Value::Object(_) => v["message"].as_str().map(str::to_string),
        _ => None,
    };
    ["detail", "message", "error", "errors", "title"]
        .iter()
        .find_map(|k| field(&doc[k]))
        .unwrap_or_else(|| "no message".into())
}

fn item_message(item: &Value) -> String {
    let Some(msg) = item["msg"].as_str() else {
        return item.as_str().map_or_else(|| item.to_string(), str::to_string);
    };
    let loc = item["loc"].as_array().map_or(String::new(), |l| {
        l.iter().map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string)).collect::<Vec<_>>().join(".")
    });
    if loc.is_empty() { msg.to_string() } else { format!("{loc}: {msg}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_out_of_every_common_shape() {
        let cases = [
            (serde_json::json!({ "detail": "Not found" }), "Not found"),
            (serde_json::json!({ "detail": [{ "loc": ["body", "width"], "msg": "too big" }] }), "body.width: too big"),
            (serde_json::json!({ "detail": { "status": "x", "message": "bad voice" } }), "bad voice"),
            (serde_json::json!({ "errors": ["prompt: required"] }), "prompt: required"),
            (serde_json::json!({ "error": { "message": "nope" } }), "nope"),
            (serde_json::json!({}), "no message"),
        ];
        for (doc, want) in cases {
            assert_eq!(error_message(&doc), want);
        }
    }
}
