//! `onnx.image` and `onnx.mask`: run a local ONNX model named by a manifest.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchyard_engine::{
    Image, Mask, Node, NodeContext, NodeError, NodeFuture, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue,
    PathRoots, PortType, ResourceClass, Value, run_blocking,
};

use super::manifest::{self, Manifest, Task};
use super::runtime::{self, RuntimeConfig};
use super::sessions::{SessionCache, SharedSession, lock};
use super::tensor::{Rect, pack, unpack_mask, unpack_rgb};

/// Where models live and how to find the runtime.
#[derive(Clone, Debug)]
pub struct OnnxSettings {
    /// The models folder: a `model` param names a manifest in it.
    pub models_dir: PathBuf,
    /// How to find the ONNX Runtime library.
    pub runtime: RuntimeConfig,
}

impl OnnxSettings {
    /// `SWITCHYARD_MODELS`, or `models/` in the current folder.
    pub fn from_env() -> Self {
        let models_dir = std::env::var_os("SWITCHYARD_MODELS").map_or_else(|| PathBuf::from("models"), PathBuf::from);
        Self { models_dir, runtime: RuntimeConfig::default() }
    }

    /// The manifest a `model` param names: a bare name, or a `.toml` path inside the models folder.
    pub fn manifest_path(&self, model: &str) -> PathBuf {
        let p = Path::new(model);
        let file = if p.extension().is_some_and(|e| e == "toml") { p.to_path_buf() } else { p.with_extension("toml") };
        if file.is_absolute() { file } else { self.models_dir.join(file) }
    }
}

/// State shared by every ONNX node of one registry.
pub struct OnnxShared {
    settings: OnnxSettings,
    sessions: SessionCache,
}

impl OnnxShared {
    /// Shared state for these settings.
    pub fn new(settings: OnnxSettings) -> Arc<Self> {
        Arc::new(Self { settings, sessions: SessionCache::default() })
    }

    fn manifest(&self, model: &str) -> Result<Manifest, NodeError> {
        let path = self.settings.manifest_path(model);
        if !path.is_file() {
            return Err(NodeError::Invalid(format!(
                "no model manifest {} (model {model:?}); models are found in {} (set SWITCHYARD_MODELS to change it)",
                path.display(),
                self.settings.models_dir.display()
            )));
        }
        manifest::load(&path).map_err(|e| NodeError::Invalid(e.to_string()))
    }

    fn session(&self, m: &Manifest) -> Result<SharedSession, NodeError> {
        let rt = runtime::load(&self.settings.runtime).map_err(|e| NodeError::Failed(e.to_string()))?;
        self.sessions.get(&rt, m).map(|(s, _)| s).map_err(NodeError::Failed)
    }
}

/// The two image nodes over ONNX models.
pub struct OnnxImageNode {
    spec: NodeSpec,
    shared: Arc<OnnxShared>,
    mask: bool,
}

impl OnnxImageNode {
    /// `onnx.image`: image-to-image and upscale models.
    pub fn image(shared: Arc<OnnxShared>) -> Self {
        let spec = base_spec("onnx.image", "Run a local ONNX image-to-image or upscale model (free, on this machine)")
            .output("image", PortType::Image, "The model's image");
        Self { spec, shared, mask: false }
    }

    /// `onnx.mask`: segmentation and matting models.
    pub fn mask(shared: Arc<OnnxShared>) -> Self {
        let spec =
            base_spec("onnx.mask", "Run a local ONNX mask model, such as background removal (free, on this machine)")
                .output("mask", PortType::Mask, "The model's mask, 0 to 1");
        Self { spec, shared, mask: true }
    }
}

fn base_spec(name: &'static str, description: &'static str) -> NodeSpec {
    NodeSpec::new(name, "onnx", description)
        .resource(ResourceClass::LocalAccelerator)
        .fingerprinted()
        .input("image", PortType::Image, "The image to process")
        .param(ParamSpec::required(
            "model",
            ParamKind::Text { multiline: false, max_len: 1024 },
            "A model manifest name in the models folder, such as \"upscale2x\"",
        ))
}

impl Node for OnnxImageNode {
    fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    fn run(&self, ctx: NodeContext) -> NodeFuture {
        let (shared, mask) = (Arc::clone(&self.shared), self.mask);
        run_blocking(ctx, move |ctx| {
            let m = shared.manifest(ctx.text("model")?)?;
            check_task(&m, mask)?;
            let session = shared.session(&m)?;
            ctx.check_cancelled()?;
            ctx.progress(0, 1);
            let value = infer(&session, &m, ctx.image("image")?, mask)?;
            ctx.progress(1, 1);
            let port = if mask { "mask" } else { "image" };
            Ok(Outputs::new().with(port, value))
        })
    }

    /// The manifest's content, so a new model version is never served from the cache.
    fn fingerprint(
        &self,
        params: &[(&'static str, ParamValue)],
        _: &PathRoots,
    ) -> Result<Option<blake3::Hash>, NodeError> {
        let Some((_, ParamValue::Text(model))) = params.iter().find(|(n, _)| *n == "model") else {
            return Err(NodeError::Internal("onnx node has no model param".into()));
        };
        let path = self.shared.settings.manifest_path(model);
        Ok(std::fs::read(&path).ok().map(|bytes| blake3::hash(&bytes)))
    }
}

fn check_task(m: &Manifest, mask: bool) -> Result<(), NodeError> {
    let fits = match m.task {
        Task::Mask => mask,
        Task::ImageToImage | Task::Upscale { .. } => !mask,
        Task::Tensor => false,
    };
    if fits {
        return Ok(());
    }
    let node = if matches!(m.task, Task::Mask) { "onnx.mask" } else { "onnx.image" };
    Err(NodeError::Invalid(format!("model {:?} is a {:?} model; use it with {node}", m.name, m.task)))
}

/// Runs the whole image through the model.
fn infer(session: &SharedSession, m: &Manifest, img: &Image, mask: bool) -> Result<Value, NodeError> {
    check_size(m, img)?;
    let (w, h) = (img.width(), img.height());
    let (shape, data) = pack(img.pixels(), w, Rect { x: 0, y: 0, w, h }, m);
    let failed = |e: ort::Error| NodeError::Failed(format!("model {:?}: {e}", m.name));
    let tensor = ort::value::Tensor::from_array((shape, data)).map_err(failed)?;
    let mut guard = lock(session);
    let outputs = guard.run(ort::inputs![m.input.as_str() => tensor]).map_err(failed)?;
    let out = outputs.get(&m.output).ok_or_else(|| {
        NodeError::Failed(format!(
            "model {:?} has no output {:?}; check tensors.output in its manifest",
            m.name, m.output
        ))
    })?;
    let (oshape, odata) = out.try_extract_tensor::<f32>().map_err(failed)?;
    if mask {
        let (mw, mh, values) = unpack_mask(oshape, odata, m)?;
        return Mask::new(mw, mh, values).map(Value::Mask).map_err(|e| NodeError::Internal(e.to_string()));
    }
    let (ow, oh, rgb) = unpack_rgb(oshape, odata, m)?;
    let alpha = crate::convert::resample(img, ow, oh, image::imageops::FilterType::Triangle)?;
    let px = rgb.iter().zip(alpha.pixels().chunks_exact(4)).flat_map(|(c, a)| [c[0], c[1], c[2], a[3]]).collect();
    Image::new(ow, oh, px).map(Value::Image).map_err(|e| NodeError::Internal(e.to_string()))
}

fn check_size(m: &Manifest, img: &Image) -> Result<(), NodeError> {
    let (w, h) = (img.width(), img.height());
    if let Some((fw, fh)) = m.fixed_size
        && (fw, fh) != (w, h)
    {
        return Err(NodeError::Invalid(format!(
            "model {:?} takes exactly {fw}x{fh} images, got {w}x{h}; resize first",
            m.name
        )));
    }
    if w % m.multiple_of != 0 || h % m.multiple_of != 0 {
        return Err(NodeError::Invalid(format!(
            "model {:?} needs sides that are multiples of {}, got {w}x{h}",
            m.name, m.multiple_of
        )));
    }
    Ok(())
}
