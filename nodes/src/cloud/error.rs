//! What can go wrong calling a provider, in words that say who, what and what next.

use switchyard_engine::NodeError;

/// A failed provider call. Every variant names the provider; those the provider answered
/// carry its request id, for support tickets and reconciliation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// The key is missing, wrong or lacks access. Not retried.
    #[error("{provider}: authentication failed{}: {message}; check the API key ({hint})", rid(request_id))]
    Auth {
        /// Provider.
        provider: &'static str,
        /// The provider's request id.
        request_id: Option<String>,
        /// The provider's message.
        message: String,
        /// Where the key comes from.
        hint: String,
    },
    /// The provider refused the params. Not retried.
    #[error("{provider}: invalid request{}: {message}", rid(request_id))]
    Invalid {
        /// Provider.
        provider: &'static str,
        /// The provider's request id.
        request_id: Option<String>,
        /// The provider's message.
        message: String,
    },
    /// A param this provider cannot honour; caught before any request.
    #[error("{provider} cannot honour {param}: {why}")]
    Unsupported {
        /// Provider.
        provider: &'static str,
        /// The portable param.
        param: &'static str,
        /// Why, and what to do instead.
        why: String,
    },
    /// Content moderation refused the prompt or the result. Not retried.
    #[error("{provider}: refused by content moderation{}: {message}", rid(request_id))]
    Moderated {
        /// Provider.
        provider: &'static str,
        /// The provider's request id.
        request_id: Option<String>,
        /// The provider's message.
        message: String,
    },
    /// Retryable failures continued past the retry budget.
    #[error("{provider}: gave up after {attempts} attempts; last: {last}")]
    Exhausted {
        /// Provider.
        provider: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A create request may or may not have reached the provider; it was not sent again, so
    /// it can never be paid for twice. Its outcome is for reconciliation.
    #[error(
        "{provider}: outcome unknown after {what}; not re-sent, to avoid paying twice (recorded for reconciliation)"
    )]
    OutcomeUnknown {
        /// Provider.
        provider: &'static str,
        /// What happened.
        what: String,
    },
    /// The provider's reply was not what its API promises.
    #[error("{provider}: unexpected reply{}: {detail}", rid(request_id))]
    Malformed {
        /// Provider.
        provider: &'static str,
        /// The provider's request id.
        request_id: Option<String>,
        /// What was wrong.
        detail: String,
    },
    /// The provider reported the job failed.
    #[error("{provider}: the job failed{}: {message}", rid(request_id))]
    JobFailed {
        /// Provider.
        provider: &'static str,
        /// The provider's task or request id.
        request_id: Option<String>,
        /// The provider's message.
        message: String,
    },
    /// The overall time limit passed.
    #[error(
        "{provider}: no result within {limit_ms} ms (task {task}); raise the node's timeout or the provider's overall_timeout_ms"
    )]
    TimedOut {
        /// Provider.
        provider: &'static str,
        /// The limit.
        limit_ms: u64,
        /// The task id, if one was created.
        task: String,
    },
    /// The provider answered with a redirect. API calls never follow one, so a key never
    /// reaches another origin (or even another path) it was not configured for.
    #[error(
        "{provider}: HTTP {status} redirect to {location} refused: credentials are never sent on a redirect; set the provider's base_url to the address it redirects to if you trust it"
    )]
    Redirected {
        /// Provider.
        provider: &'static str,
        /// The redirect status.
        status: u16,
        /// Where it pointed.
        location: String,
    },
    /// A result URL (or a redirect from one) points at an address downloads may not reach.
    #[error(
        "{provider}: result download refused: {why}; downloads go only to public addresses (or the provider's own loopback base URL)"
    )]
    Unreachable {
        /// Provider.
        provider: &'static str,
        /// What was refused.
        why: String,
    },
    /// The call's intent could not be written, so it was not sent (nothing was charged).
    #[error("{provider}: not sent, as its intent could not be recorded ({why}); nothing was charged")]
    NotSent {
        /// Provider.
        provider: &'static str,
        /// Why.
        why: String,
    },
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
}

fn rid(id: &Option<String>) -> String {
    id.as_ref().map_or_else(String::new, |id| format!(" (request {id})"))
}

impl From<CloudError> for NodeError {
    fn from(e: CloudError) -> Self {
        match e {
            CloudError::Cancelled => NodeError::Cancelled,
            CloudError::Unsupported { .. } => NodeError::Invalid(e.to_string()),
            CloudError::NotSent { .. } => NodeError::Failed(e.to_string()),
            other => NodeError::Failed(other.to_string()),
        }
    }
}
