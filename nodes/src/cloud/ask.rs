//! Portable requests and results: what a capability node asks for, whoever serves it.

use std::sync::Arc;

use super::error::CloudError;

/// What a cloud node makes. A provider serves some of these; the node's `provider` param
/// picks which one serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// A prompt to an image.
    TextToImage,
    /// An image and a prompt to an image.
    ImageToImage,
    /// An image to a larger image.
    Upscale,
    /// An image to the same image with a transparent background.
    RemoveBackground,
    /// An image and a prompt to a video file.
    ImageToVideo,
    /// Text to speech.
    TextToSpeech,
}

impl Capability {
    /// Every capability, in the order nodes are listed.
    pub const ALL: [Capability; 6] = [
        Capability::TextToImage,
        Capability::ImageToImage,
        Capability::Upscale,
        Capability::RemoveBackground,
        Capability::ImageToVideo,
        Capability::TextToSpeech,
    ];

    /// The name after `cloud.`, such as `text_to_image`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::TextToImage => "text_to_image",
            Capability::ImageToImage => "image_to_image",
            Capability::Upscale => "upscale",
            Capability::RemoveBackground => "remove_background",
            Capability::ImageToVideo => "image_to_video",
            Capability::TextToSpeech => "text_to_speech",
        }
    }
}

/// A request in portable params. Adapters map each field onto their own, and refuse with
/// [`CloudError::Unsupported`] a field they cannot honour rather than drop it.
#[derive(Clone, Debug)]
pub struct Ask {
    /// What is made.
    pub capability: Capability,
    /// The prompt, or the text to speak; empty where the capability takes none.
    pub prompt: String,
    /// What to avoid.
    pub negative_prompt: Option<String>,
    /// Output width in pixels (for image inputs, the input's width).
    pub width: u32,
    /// Output height in pixels (for image inputs, the input's height).
    pub height: u32,
    /// A fixed seed, or `None` for the provider's choice.
    pub seed: Option<u64>,
    /// Sampling steps, or `None` for the provider's default.
    pub steps: Option<u32>,
    /// `low`, `medium`, `high`, or `None` for the provider's default.
    pub quality: Option<String>,
    /// How far an image-to-image result may move from the input, 0 to 1.
    pub strength: Option<f64>,
    /// The upscale factor.
    pub scale: Option<u32>,
    /// Video length in seconds.
    pub duration_s: Option<u32>,
    /// A provider's voice id.
    pub voice: Option<String>,
    /// The input image as PNG bytes.
    pub image: Option<Arc<[u8]>>,
}

impl Ask {
    /// A request for `capability` with nothing set but the size.
    pub fn new(capability: Capability, prompt: impl Into<String>, width: u32, height: u32) -> Self {
        Self {
            capability,
            prompt: prompt.into(),
            negative_prompt: None,
            width,
            height,
            seed: None,
            steps: None,
            quality: None,
            strength: None,
            scale: None,
            duration_s: None,
            voice: None,
            image: None,
        }
    }

    /// The width:height ratio in lowest terms.
    pub fn ratio(&self) -> (u32, u32) {
        let g = gcd(self.width.max(1), self.height.max(1));
        (self.width.max(1) / g, self.height.max(1) / g)
    }

    /// The option in `options` (written `W{sep}H`) with exactly this ratio, or an error
    /// listing them: a ratio is never silently rounded to a near one.
    pub fn ratio_from<'o>(
        &self,
        provider: &'static str,
        options: &[&'o str],
        sep: char,
    ) -> Result<&'o str, CloudError> {
        let want = self.ratio();
        let parse = |o: &str| {
            let (w, h) = o.split_once(sep)?;
            let (w, h): (u32, u32) = (w.parse().ok()?, h.parse().ok()?);
            let g = gcd(w, h);
            Some((w / g, h / g))
        };
        options.iter().copied().find(|o| parse(o) == Some(want)).ok_or_else(|| CloudError::Unsupported {
            provider,
            param: "width/height",
            why: format!(
                "{}x{} is {}:{}; this provider takes the aspect ratios {}",
                self.width,
                self.height,
                want.0,
                want.1,
                options.join(", ")
            ),
        })
    }

    /// The input image, or an internal error (the node always sets one for image inputs).
    pub fn input_image(&self, provider: &'static str) -> Result<&Arc<[u8]>, CloudError> {
        self.image.as_ref().ok_or(CloudError::Unsupported {
            provider,
            param: "image",
            why: "this capability needs an input image".into(),
        })
    }

    /// The input image as a `data:image/png;base64,` URI.
    pub fn image_data_uri(&self, provider: &'static str) -> Result<String, CloudError> {
        use base64::Engine as _;
        let png = self.input_image(provider)?;
        Ok(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)))
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// What a provider returned, with what it metered.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The encoded result (PNG, JPEG, MP4, or raw PCM).
    pub bytes: Vec<u8>,
    /// Its media type, such as `image/png`, `video/mp4` or `audio/L16;rate=24000;channels=1`.
    pub media_type: String,
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

impl Usage {
    /// Usage with a request id and nothing metered yet.
    pub fn request(request_id: Option<String>) -> Self {
        Self { request_id, ..Self::default() }
    }

    /// Usage with a task id and nothing metered yet.
    pub fn task(task_id: &str) -> Self {
        Self { task_id: Some(task_id.to_string()), ..Self::default() }
    }

    /// The record kept in the run report for metering and reconciliation.
    pub fn to_record(&self, provider: &str, model: &str) -> switchyard_engine::CallRecord {
        switchyard_engine::CallRecord {
            provider: provider.to_string(),
            model: model.to_string(),
            request_id: self.request_id.clone(),
            task_id: self.task_id.clone(),
            metered: self.metered.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            reused: false,
        }
    }

    /// Adds a metered dimension, when the provider reported it.
    pub fn meter(&mut self, name: &'static str, value: Option<f64>) {
        if let Some(v) = value {
            self.metered.push((name, v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_match_exactly_or_list_the_options() {
        let ask = Ask::new(Capability::TextToImage, "x", 1920, 1080);
        assert_eq!(ask.ratio_from("p", &["1:1", "16:9"], ':').unwrap(), "16:9");
        assert_eq!(ask.ratio_from("p", &["1280:720"], ':').unwrap(), "1280:720");
        let odd = Ask::new(Capability::TextToImage, "x", 1000, 700);
        let err = odd.ratio_from("p", &["1:1", "16:9"], ':').unwrap_err().to_string();
        assert!(err.contains("10:7") && err.contains("1:1, 16:9"), "{err}");
    }
}
