//! Model manifests: the TOML file beside each `.onnx` that says how to feed and read it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What a model does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Image in, image out at the same size (restoration, style, grading).
    ImageToImage,
    /// Image in, image out `factor` times larger.
    Upscale {
        /// The scale factor.
        factor: u32,
    },
    /// Image in, one-channel mask out (segmentation, matting).
    Mask,
    /// Any tensors; not usable by the image nodes.
    Tensor,
}

/// Tensor memory layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Batch, channels, height, width.
    Nchw,
    /// Batch, height, width, channels.
    Nhwc,
}

/// How pixel values map onto tensor values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRange {
    /// 0 to 1.
    Unit,
    /// -1 to 1.
    Signed,
    /// (v - mean) / std per channel, on 0..1 values.
    MeanStd {
        /// Per-channel mean.
        mean: [f32; 3],
        /// Per-channel standard deviation.
        std: [f32; 3],
    },
}

/// A checked manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// Model name.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// Licence of the weights.
    pub licence: String,
    /// What it does.
    pub task: Task,
    /// The `.onnx` file (same stem as the manifest).
    pub model_path: PathBuf,
    /// Input tensor name.
    pub input: String,
    /// Output tensor name.
    pub output: String,
    /// Tensor layout.
    pub layout: Layout,
    /// Channels in BGR order instead of RGB.
    pub bgr: bool,
    /// The model expects sRGB-encoded values (most trained models do) rather than linear.
    pub srgb: bool,
    /// Value mapping.
    pub range: ValueRange,
    /// Image sides must be multiples of this (1 for any size).
    pub multiple_of: u32,
    /// A fixed input size, for models without dynamic axes.
    pub fixed_size: Option<(u32, u32)>,
    /// Default tile side in pixels.
    pub tile: u32,
    /// Tile overlap in pixels.
    pub overlap: u32,
    /// Working memory per megapixel of input, in MiB.
    pub memory_mb_per_megapixel: f64,
    /// Work per megapixel of input, in GFLOP.
    pub gflops_per_megapixel: f64,
    /// The model file's SHA-256, lowercase hex.
    pub sha256: String,
}

/// A manifest is wrong; names the file and the field.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}: {field}: {message}", file.display())]
pub struct ManifestError {
    /// The manifest (or model) file.
    pub file: PathBuf,
    /// The field, such as `tensors.layout`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    #[serde(default)]
    description: String,
    licence: String,
    task: String,
    #[serde(default)]
    scale: Option<u32>,
    sha256: String,
    tensors: RawTensors,
    size: RawSize,
    tiling: RawTiling,
    cost: RawCost,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTensors {
    input: String,
    output: String,
    layout: String,
    color_order: String,
    color_space: String,
    range: String,
    #[serde(default)]
    mean: Option<[f32; 3]>,
    #[serde(default)]
    std: Option<[f32; 3]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSize {
    dynamic: bool,
    #[serde(default)]
    multiple_of: Option<u32>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiling {
    tile: u32,
    overlap: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCost {
    memory_mb_per_megapixel: f64,
    gflops_per_megapixel: f64,
}

/// The largest manifest read: a manifest is a few lines of TOML.
const MANIFEST_MAX_BYTES: u64 = 1 << 20;

/// Reads a model file: a regular file only (never a FIFO or device).
pub fn read_model(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    switchyard_engine::open_input_file(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads and checks a manifest, and checks the model file's hash against it.
pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
    let err =
        |field: &str, message: String| ManifestError { file: path.to_path_buf(), field: field.to_string(), message };
    let text = switchyard_engine::read_input_text(path, MANIFEST_MAX_BYTES)
        .map_err(|e| err("(file)", format!("cannot read it: {e}")))?;
    let manifest = parse(path, &text)?;
    verify_hash(&manifest)?;
    Ok(manifest)
}

/// The most manifests one models folder lists.
pub const MANIFESTS_MAX: usize = 1_000;

/// Every manifest (`*.toml`) in `dir`, by file name: each checked, and its model's hash
/// verified when `verify` (which reads every model file). A bad manifest is listed with its
/// error; an unreadable folder is an error.
pub fn manifests_in(dir: &Path, verify: bool) -> std::io::Result<Vec<Result<Manifest, ManifestError>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .take(MANIFESTS_MAX)
        .collect();
    paths.sort();
    let read = |path: &PathBuf| {
        if verify {
            return load(path);
        }
        let text = switchyard_engine::read_input_text(path, MANIFEST_MAX_BYTES).map_err(|e| ManifestError {
            file: path.clone(),
            field: "(file)".into(),
            message: format!("cannot read it: {e}"),
        })?;
        parse(path, &text)
    };
    Ok(paths.iter().map(read).collect())
}

/// Parses and checks a manifest's text, without touching the model file.
pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
    let raw: Raw = toml::from_str(text).map_err(|e| ManifestError {
        file: path.to_path_buf(),
        field: "(syntax)".into(),
        message: syntax_message(text, &e),
    })?;
    check(path, raw)
}

/// "line L, column C: what", from the TOML error's span.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else { return e.message().to_string() };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}: {}", e.message())
}

fn check(path: &Path, raw: Raw) -> Result<Manifest, ManifestError> {
    let err =
        |field: &str, message: String| ManifestError { file: path.to_path_buf(), field: field.to_string(), message };
    let task = match (raw.task.as_str(), raw.scale) {
        ("image-to-image", None | Some(1)) => Task::ImageToImage,
        ("upscale", Some(factor @ 2..=8)) => Task::Upscale { factor },
        ("upscale", other) => {
            return Err(err("scale", format!("an upscale model needs scale = 2 to 8, got {other:?}")));
        }
        ("mask", None | Some(1)) => Task::Mask,
        ("tensor", _) => Task::Tensor,
        (t, _) => {
            return Err(err(
                "task",
                format!("{t:?} is not one of \"image-to-image\", \"upscale\", \"mask\", \"tensor\""),
            ));
        }
    };
    let t = &raw.tensors;
    let layout = match t.layout.as_str() {
        "NCHW" => Layout::Nchw,
        "NHWC" => Layout::Nhwc,
        other => return Err(err("tensors.layout", format!("{other:?} is not \"NCHW\" or \"NHWC\""))),
    };
    let bgr = match t.color_order.as_str() {
        "RGB" => false,
        "BGR" => true,
        other => return Err(err("tensors.color_order", format!("{other:?} is not \"RGB\" or \"BGR\""))),
    };
    let srgb = match t.color_space.as_str() {
        "srgb" => true,
        "linear" => false,
        other => return Err(err("tensors.color_space", format!("{other:?} is not \"srgb\" or \"linear\""))),
    };
    let range = match (t.range.as_str(), t.mean, t.std) {
        ("0..1", _, _) => ValueRange::Unit,
        ("-1..1", _, _) => ValueRange::Signed,
        ("mean_std", Some(mean), Some(std)) if std.iter().all(|s| *s > 0.0) => ValueRange::MeanStd { mean, std },
        ("mean_std", _, _) => {
            return Err(err(
                "tensors.std",
                "range \"mean_std\" needs mean = [r, g, b] and std = [r, g, b] with every std above 0".into(),
            ));
        }
        (other, _, _) => {
            return Err(err("tensors.range", format!("{other:?} is not \"0..1\", \"-1..1\" or \"mean_std\"")));
        }
    };
    let fixed_size = match (raw.size.dynamic, raw.size.width, raw.size.height) {
        (true, _, _) => None,
        (false, Some(w), Some(h)) if w > 0 && h > 0 => Some((w, h)),
        (false, _, _) => return Err(err("size", "a model without dynamic axes needs width and height".into())),
    };
    let multiple_of = raw.size.multiple_of.unwrap_or(1);
    if multiple_of == 0 {
        return Err(err("size.multiple_of", "must be at least 1".into()));
    }
    if raw.tiling.tile < 16 || raw.tiling.overlap * 2 >= raw.tiling.tile {
        return Err(err(
            "tiling",
            format!(
                "tile {} with overlap {}: tiles must be at least 16 px and more than twice the overlap",
                raw.tiling.tile, raw.tiling.overlap
            ),
        ));
    }
    let sha256 = raw.sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err("sha256", "must be 64 hex digits (run sha256sum on the .onnx file)".into()));
    }
    Ok(Manifest {
        name: raw.name,
        description: raw.description,
        licence: raw.licence,
        task,
        model_path: path.with_extension("onnx"),
        input: raw.tensors.input,
        output: raw.tensors.output,
        layout,
        bgr,
        srgb,
        range,
        multiple_of,
        fixed_size,
        tile: raw.tiling.tile,
        overlap: raw.tiling.overlap,
        memory_mb_per_megapixel: raw.cost.memory_mb_per_megapixel,
        gflops_per_megapixel: raw.cost.gflops_per_megapixel,
        sha256,
    })
}

fn verify_hash(m: &Manifest) -> Result<(), ManifestError> {
    let err = |message: String| ManifestError { file: m.model_path.clone(), field: "sha256".into(), message };
    let bytes = read_model(&m.model_path)
        .map_err(|e| err(format!("cannot read the model: {e}; put the .onnx file beside its manifest")))?;
    let actual = format!("{:x}", Sha256::digest(&bytes));
    if actual != m.sha256 {
        return Err(err(format!(
            "the file's hash is {actual}, the manifest says {}; the model changed or the manifest is stale",
            m.sha256
        )));
    }
    Ok(())
}
