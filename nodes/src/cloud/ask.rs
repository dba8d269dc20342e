//! Portable requests and results: what a capability node asks for, whoever serves it.

/// A text-to-image request in portable params.
#[derive(Clone, Debug)]
pub struct ImageAsk {
    /// The prompt.
    pub prompt: String,
    /// What to avoid; `None` when empty.
    pub negative_prompt: Option<String>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// A fixed seed, or `None` for the provider's choice.
    pub seed: Option<u64>,
    /// `low`, `medium`, `high`, or `None` for the provider's default.
    pub quality: Option<String>,
}

/// What a provider returned, with what it metered.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The encoded result (PNG, JPEG, ...).
    pub bytes: Vec<u8>,
    /// Metering and audit data.
    pub usage: Usage,
}

/// Metering and audit data of one provider call, kept for the ledger.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Usage {
    /// The provider's request id.
    pub request_id: Option<String>,
    /// The provider's task id (the vendor transaction id for async jobs).
    pub task_id: Option<String>,
    /// Metered dimensions as the provider reported them, such as `("output_tokens", 4160.0)`.
    pub metered: Vec<(&'static str, f64)>,
}
