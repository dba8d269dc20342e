//! A provider's result as engine values: images decoded (with the alpha as a mask for
//! background removal), videos written to a file in the output folder, speech as samples.

use std::io::Write;
use std::sync::Arc;

use switchyard_engine::{Audio, Image, Mask, NodeContext, NodeError, Outputs, Value};

use super::ask::Capability;
use crate::convert::{ImageLimits, from_dynamic, to_rgba8};

/// The engine values for a provider's result: its bytes under `media_type`.
pub async fn outputs(
    capability: Capability,
    ctx: &NodeContext,
    bytes: Vec<u8>,
    media_type: String,
) -> Result<Outputs, NodeError> {
    match capability {
        Capability::ImageToVideo => save_video(ctx, &bytes, &media_type),
        Capability::TextToSpeech => {
            let audio = blocking(move || decode_audio(&bytes, &media_type)).await?;
            Ok(Outputs::new().with("audio", Value::Audio(audio)))
        }
        Capability::RemoveBackground => {
            let (image, mask) = blocking(move || {
                let image = decode_image(&bytes)?;
                let mask = alpha_mask(&image)?;
                Ok((image, mask))
            })
            .await?;
            Ok(Outputs::new().with("image", Value::Image(image)).with("mask", Value::Mask(mask)))
        }
        _ => {
            let image = blocking(move || decode_image(&bytes)).await?;
            Ok(Outputs::new().with("image", Value::Image(image)))
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, NodeError> + Send + 'static,
) -> Result<T, NodeError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| NodeError::Internal(format!("decoding task: {e}")))?
}

/// Decodes a provider's image within the image limits.
pub fn decode_image(bytes: &[u8]) -> Result<Image, NodeError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| NodeError::Failed(format!("the provider's image cannot be read: {e}")))?;
    reader.limits(ImageLimits::default().decoder_limits());
    let img = reader.decode().map_err(|e| NodeError::Failed(format!("the provider's image cannot be decoded: {e}")))?;
    from_dynamic(img)
}

/// An input image as 8-bit sRGB PNG, the form every provider takes.
pub fn encode_png(image: &Image) -> Result<Vec<u8>, NodeError> {
    let mut out = std::io::Cursor::new(Vec::new());
    to_rgba8(image)
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| NodeError::Internal(format!("encoding the input image: {e}")))?;
    Ok(out.into_inner())
}

fn alpha_mask(image: &Image) -> Result<Mask, NodeError> {
    let alpha = image.pixels().chunks_exact(4).map(|p| p[3]).collect();
    Mask::new(image.width(), image.height(), alpha).map_err(|e| NodeError::Internal(e.to_string()))
}

fn save_video(ctx: &NodeContext, bytes: &[u8], media_type: &str) -> Result<Outputs, NodeError> {
    if !media_type.starts_with("video/") {
        return Err(NodeError::Failed(format!("the provider returned {media_type:?}, not a video")));
    }
    let (path, mut file) =
        ctx.paths().create_output(ctx.text("path")?).map_err(|e| NodeError::Invalid(e.to_string()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| NodeError::io(&path, e.to_string()))?;
    Ok(Outputs::new().with("path", Value::Text(Arc::from(path.display().to_string()))).with_file(path))
}

/// Raw PCM (`audio/L16;rate=R;channels=C`, little-endian as providers send it) or WAV.
pub fn decode_audio(bytes: &[u8], media_type: &str) -> Result<Audio, NodeError> {
    let bad = |why: String| NodeError::Failed(format!("the provider's audio cannot be decoded: {why}"));
    if media_type.contains("wav") {
        let reader = hound::WavReader::new(bytes).map_err(|e| bad(e.to_string()))?;
        let spec = reader.spec();
        let samples = reader
            .into_samples::<i16>()
            .map(|s| s.map(|v| f32::from(v) / 32768.0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        return Ok(Audio { samples: samples.into(), sample_rate_hz: spec.sample_rate, channels: spec.channels });
    }
    let field = |name: &str| {
        media_type.split(';').find_map(|p| p.trim().strip_prefix(name)?.strip_prefix('=')?.parse::<u32>().ok())
    };
    let (Some(rate), true) = (field("rate"), media_type.starts_with("audio/L16")) else {
        return Err(bad(format!("{media_type:?} is neither WAV nor 16-bit PCM")));
    };
    let channels = u16::try_from(field("channels").unwrap_or(1)).unwrap_or(1);
    if !bytes.len().is_multiple_of(2) {
        return Err(bad(format!("{} bytes is not whole 16-bit samples", bytes.len())));
    }
    let samples = bytes.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
    Ok(Audio { samples, sample_rate_hz: rate, channels })
}
