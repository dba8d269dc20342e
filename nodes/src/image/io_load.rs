//! `image.load`: decode an image file, within limits against decompression bombs.

use std::io::Read;
use std::path::Path;

use switchyard_engine::{
    Node, NodeContext, NodeError, NodeFuture, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PathRole, PathRoots,
    PortType, Value, run_blocking,
};

use crate::convert::{ImageLimits, from_dynamic};

pub struct ImageLoad {
    spec: NodeSpec,
    limits: ImageLimits,
}

impl ImageLoad {
    pub fn new() -> Self {
        let spec = NodeSpec::new("image.load", "image/io", "Load a PNG, JPEG, WebP, TIFF, BMP or EXR file")
            .fingerprinted()
            .output("image", PortType::Image, "The decoded image, in linear light")
            .param(ParamSpec::required(
                "path",
                ParamKind::Path { role: PathRole::Input },
                "The file, relative to the workflow's folder",
            ));
        Self { spec, limits: ImageLimits::default() }
    }
}

impl Node for ImageLoad {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        let limits = self.limits;
        run_blocking(ctx, move |ctx| {
            let path = ctx.paths().checked_input(ctx.text("path")?).map_err(NodeError::Invalid)?;
            let img = decode(&path, limits)?;
            Ok(Outputs::new().with("image", Value::Image(img)))
        })
    }

    /// The file's content hash, so an edited file is never served from the cache.
    fn fingerprint(
        &self,
        params: &[(&'static str, ParamValue)],
        paths: &PathRoots,
    ) -> Result<Option<blake3::Hash>, NodeError> {
        let Some((_, ParamValue::Text(p))) = params.iter().find(|(n, _)| *n == "path") else {
            return Err(NodeError::Internal("image.load has no path".into()));
        };
        let path = paths.checked_input(p).map_err(NodeError::Invalid)?;
        let file = open_checked(&path, self.limits)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(file.take(self.limits.max_file_bytes)).map_err(|e| NodeError::io(&path, e))?;
        Ok(Some(hasher.finalize()))
    }
}

fn open_checked(path: &Path, limits: ImageLimits) -> Result<std::fs::File, NodeError> {
    let file = switchyard_engine::open_input_file(path).map_err(|e| {
        NodeError::io(path, format!("{e}; check the path (relative paths start at the workflow's folder)"))
    })?;
    let len = file.metadata().map_err(|e| NodeError::io(path, e))?.len();
    if len > limits.max_file_bytes {
        return Err(NodeError::io(path, format!("the file is {len} bytes; the limit is {}", limits.max_file_bytes)));
    }
    Ok(file)
}

/// Decodes with the `image` crate's limits set, then converts to linear light.
pub fn decode(path: &Path, limits: ImageLimits) -> Result<switchyard_engine::Image, NodeError> {
    let file = open_checked(path, limits)?;
    let mut reader = image::ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| NodeError::io(path, e))?;
    reader.limits(limits.decoder_limits());
    let img = reader.decode().map_err(|e| NodeError::io(path, format!("cannot decode: {e}")))?;
    from_dynamic(img)
}
