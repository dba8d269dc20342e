//! Reading back the workflow a saved PNG carries, so an image opens as the graph that made
//! it (`switchyard run render.png`, the editor's open and drop), as ComfyUI's PNGs do.

use super::io_save::{OVERRIDES_CHUNK, WORKFLOW_CHUNK};

/// The most text a workflow chunk may inflate to.
const CHUNK_TEXT_MAX_BYTES: usize = 64 << 20;

/// The PNG signature.
pub const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A workflow found in an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Embedded {
    /// The workflow file's text.
    pub workflow: String,
    /// The overrides the run applied (`node.param=value`).
    pub overrides: Vec<String>,
}

/// The workflow in a PNG; an error says why there is none (not a PNG, no workflow chunk, an
/// unreadable one). Only the chunks before the pixels are read.
pub fn workflow_in_png<R: std::io::BufRead + std::io::Seek>(mut png: R) -> Result<Embedded, String> {
    let mut signature = [0u8; 8];
    let read = png.read_exact(&mut signature).and_then(|()| png.seek(std::io::SeekFrom::Start(0)));
    if read.is_err() || signature != PNG_SIGNATURE {
        return Err("not a PNG file".into());
    }
    let mut decoder = png::Decoder::new(png);
    decoder.set_ignore_text_chunk(false);
    let reader = decoder.read_info().map_err(|e| format!("cannot read the PNG: {e}"))?;
    let info = reader.info();
    let text = |key: &str| -> Result<Option<String>, String> {
        if let Some(c) = info.utf8_text.iter().find(|c| c.keyword == key) {
            let mut c = c.clone();
            c.decompress_text_with_limit(CHUNK_TEXT_MAX_BYTES).map_err(|e| format!("{key}: {e}"))?;
            return c.get_text().map(Some).map_err(|e| format!("{key}: {e}"));
        }
        Ok(info.uncompressed_latin1_text.iter().find(|c| c.keyword == key).map(|c| c.text.clone()))
    };
    let workflow = text(WORKFLOW_CHUNK)?
        .ok_or("the image carries no Switchyard workflow (only 8-bit PNGs saved by image.save do)")?;
    let overrides = match text(OVERRIDES_CHUNK)? {
        Some(list) => serde_json::from_str(&list).map_err(|e| format!("{OVERRIDES_CHUNK}: {e}"))?,
        None => Vec::new(),
    };
    Ok(Embedded { workflow, overrides })
}
