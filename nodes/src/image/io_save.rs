//! `image.save`: encode to a file inside the output folder.

use std::io::{BufWriter, Write};

use image::{ImageEncoder, ImageFormat};
use switchyard_engine::{
    Image, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PathRole, PortType,
};

use crate::convert::{row_rgba8, to_rgba8, to_rgba16, to_rgba32f};
use crate::kit::CpuNode;

const FORMATS: &[&str] = &["auto", "png", "png16", "jpeg", "webp", "tiff", "bmp", "exr"];

pub fn node() -> CpuNode {
    let spec = NodeSpec::new(
        "image.save",
        "image/io",
        "Write an image; {n} in the name counts up without overwriting, {item} names the batch item",
    )
    .with_side_effects()
    .input("image", PortType::Image, "The image to write")
    .param(ParamSpec::new(
        "path",
        ParamKind::Path { role: PathRole::Output },
        ParamValue::Text("image_{n}.png".into()),
        "File name inside --out",
    ))
    .param(ParamSpec::new(
        "format",
        ParamKind::Choice { options: FORMATS },
        ParamValue::Text("auto".into()),
        "File format; auto follows the extension",
    ))
    .param(ParamSpec::new("quality", ParamKind::Int { min: 1, max: 100 }, ParamValue::Int(90), "JPEG quality"))
    .param(ParamSpec::new(
        "compression",
        ParamKind::Choice { options: &["fast", "balanced", "high"] },
        ParamValue::Text("fast".into()),
        "8-bit PNG deflate effort: fast is several times quicker on large frames, files a little larger",
    ));
    CpuNode::new(spec, run)
}

fn run(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let img = ctx.image("image")?;
    let template = ctx.text("path")?;
    let format = pick_format(ctx.text("format")?, template)?;
    let quality = u8::try_from(ctx.int("quality")?).unwrap_or(90);
    let (path, file) = ctx.paths().create_output(template).map_err(|e| NodeError::Invalid(e.to_string()))?;
    let mut w = BufWriter::new(file);
    let fail = |e: &dyn std::fmt::Display| NodeError::io(&path, format!("cannot encode: {e}"));
    match format {
        Format::Png16 => to_rgba16(img).write_to(&mut w, ImageFormat::Png).map_err(|e| fail(&e))?,
        Format::Exr => to_rgba32f(img).write_to(&mut w, ImageFormat::OpenExr).map_err(|e| fail(&e))?,
        Format::Jpeg => {
            let rgb = image::DynamicImage::ImageRgba8(to_rgba8(img)).into_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut w, quality)
                .write_image(rgb.as_raw(), rgb.width(), rgb.height(), image::ExtendedColorType::Rgb8)
                .map_err(|e| fail(&e))?;
        }
        Format::Eight(ImageFormat::Png) => {
            let compression = match ctx.text("compression")? {
                "high" => png::Compression::High,
                "balanced" => png::Compression::Balanced,
                _ => png::Compression::Fast,
            };
            let provenance = ctx.paths().provenance.as_deref();
            write_png8(img, compression, provenance, &mut w).map_err(|e| fail(&e))?;
        }
        Format::Eight(f) => to_rgba8(img).write_to(&mut w, f).map_err(|e| fail(&e))?,
    }
    w.flush().map_err(|e| NodeError::io(&path, e))?;
    Ok(Outputs::new().with_file(path))
}

/// The text chunk keys a saved PNG carries its workflow under (UTF-8 `iTXt`).
pub const WORKFLOW_CHUNK: &str = "switchyard.workflow";
/// The chunk holding the run's overrides, a JSON list of `node.param=value`.
pub const OVERRIDES_CHUNK: &str = "switchyard.overrides";

/// 8-bit PNG a row at a time, so even a 16K image needs no whole-image byte buffer. With a
/// provenance, the workflow and its overrides go in text chunks before the pixels.
pub(crate) fn write_png8(
    img: &Image,
    compression: png::Compression,
    provenance: Option<&switchyard_engine::Provenance>,
    w: &mut impl Write,
) -> Result<(), png::EncodingError> {
    let mut enc = png::Encoder::new(w, img.width(), img.height());
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(compression);
    if let Some(p) = provenance {
        enc.add_itxt_chunk(WORKFLOW_CHUNK.into(), p.workflow.to_string())?;
        if !p.overrides.is_empty() {
            let list = serde_json::to_string(&p.overrides).unwrap_or_default();
            enc.add_itxt_chunk(OVERRIDES_CHUNK.into(), list)?;
        }
    }
    let mut writer = enc.write_header()?;
    let mut stream = writer.stream_writer()?;
    let (mut row, mut scratch) = (Vec::new(), Vec::new());
    for y in 0..img.height() {
        row_rgba8(img, y, &mut row, &mut scratch);
        stream.write_all(&row)?;
    }
    stream.finish()?;
    writer.finish()
}

enum Format {
    Eight(ImageFormat),
    Png16,
    Jpeg,
    Exr,
}

fn pick_format(choice: &str, path: &str) -> Result<Format, NodeError> {
    let name = if choice == "auto" {
        let ext = std::path::Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "png" => "png",
            "jpg" | "jpeg" => "jpeg",
            "webp" => "webp",
            "tif" | "tiff" => "tiff",
            "bmp" => "bmp",
            "exr" => "exr",
            other => {
                return Err(NodeError::Invalid(format!(
                    "cannot tell the format from the extension {other:?} of {path:?}; use .png, .jpg, .webp, .tiff, .bmp or .exr, or set \"format\""
                )));
            }
        }
    } else {
        choice
    };
    Ok(match name {
        "png16" => Format::Png16,
        "jpeg" => Format::Jpeg,
        "exr" => Format::Exr,
        "webp" => Format::Eight(ImageFormat::WebP),
        "tiff" => Format::Eight(ImageFormat::Tiff),
        "bmp" => Format::Eight(ImageFormat::Bmp),
        _ => Format::Eight(ImageFormat::Png),
    })
}
