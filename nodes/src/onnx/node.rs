//! `onnx.image` and `onnx.mask`: run a local ONNX model named by a manifest.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchyard_engine::{
    Image, Node, NodeContext, NodeError, NodeFuture, NodeSpec, Outputs, ParamKind, ParamProblem, ParamSpec, ParamValue,
    PathRoots, PortType, ResourceClass, Value, nearest, run_blocking,
};

use super::manifest::{self, Manifest, Task};
use super::output::Sink;
use super::runtime::{self, RuntimeConfig};
use super::sessions::{SessionCache, SharedSession, lock};
use super::tensor::{Rect, RgbTensor, pack, unpack_mask};
use super::tiles::{Blender, MIN_TILE, effective_overlap, is_allocation_failure, plan};

/// Where models live and how to find the runtime.
#[derive(Clone, Debug)]
pub struct OnnxSettings {
    /// The models folder: a `model` param names a manifest in it.
    pub models_dir: PathBuf,
    /// How to find the ONNX Runtime library.
    pub runtime: RuntimeConfig,
}

impl OnnxSettings {
    /// `SWITCHYARD_MODELS`; else `models/` in the current folder; else the `models/` of the
    /// checkout or install the executable sits in; else `./models` (which then reports as missing).
    pub fn from_env() -> Self {
        let models_dir = std::env::var_os("SWITCHYARD_MODELS").map(PathBuf::from).unwrap_or_else(default_models_dir);
        Self { models_dir, runtime: RuntimeConfig::default() }
    }

    /// The manifest a `model` param names: a bare name, or a `.toml` path inside the models folder.
    pub fn manifest_path(&self, model: &str) -> PathBuf {
        let p = Path::new(model);
        let file = if p.extension().is_some_and(|e| e == "toml") { p.to_path_buf() } else { p.with_extension("toml") };
        if file.is_absolute() { file } else { self.models_dir.join(file) }
    }
}

fn default_models_dir() -> PathBuf {
    let here = PathBuf::from("models");
    if here.is_dir() {
        return here;
    }
    let exe = std::env::current_exe().ok();
    let near_exe =
        exe.iter().flat_map(|e| e.ancestors().skip(1).take(4)).map(|d| d.join("models")).find(|d| d.is_dir());
    near_exe.unwrap_or(here)
}

/// State shared by every ONNX node of one registry.
pub struct OnnxShared {
    settings: OnnxSettings,
    sessions: SessionCache,
    /// Checked manifests, so a model's hash is computed again only when a file changes.
    manifests: std::sync::Mutex<std::collections::HashMap<PathBuf, (FileStamps, Manifest)>>,
}

/// Size and modification time of the manifest and of its model.
type FileStamps = (Option<(u64, std::time::SystemTime)>, Option<(u64, std::time::SystemTime)>);

fn file_stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

impl OnnxShared {
    /// Shared state for these settings.
    pub fn new(settings: OnnxSettings) -> Arc<Self> {
        Arc::new(Self { settings, sessions: SessionCache::default(), manifests: Default::default() })
    }

    fn manifest(&self, model: &str) -> Result<Manifest, NodeError> {
        let path = self.settings.manifest_path(model);
        if !path.is_file() {
            return Err(NodeError::Invalid(format!(
                "no model manifest {} (model {model:?}); models are found in {} (set `models` under [onnx] in switchyard.toml, or SWITCHYARD_MODELS)",
                path.display(),
                self.settings.models_dir.display()
            )));
        }
        let stamp = (file_stamp(&path), file_stamp(&path.with_extension("onnx")));
        if let Some((seen, m)) = lock(&self.manifests).get(&path)
            && *seen == stamp
        {
            return Ok(m.clone());
        }
        let m = manifest::load(&path).map_err(|e| NodeError::Invalid(e.to_string()))?;
        lock(&self.manifests).insert(path, (stamp, m.clone()));
        Ok(m)
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
        .param(ParamSpec::new(
            "tile",
            ParamKind::Int { min: 0, max: 8192 },
            ParamValue::Int(0),
            "Tile side in pixels; 0 uses the model's own (halved automatically if memory runs out)",
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
            let tile = u32::try_from(ctx.int("tile")?).unwrap_or(0);
            let value = infer(ctx, &session, &m, ctx.image("image")?, mask, tile)?;
            let port = if mask { "mask" } else { "image" };
            Ok(Outputs::new().with(port, value))
        })
    }

    /// The model must have a valid manifest that suits this node, before anything runs.
    fn check_param(&self, name: &str, value: &ParamValue) -> Result<(), ParamProblem> {
        let (ParamValue::Text(model), "model") = (value, name) else { return Ok(()) };
        let problem = |e: NodeError| {
            let dir = &self.shared.settings.models_dir;
            let names = model_names(dir);
            let help = match nearest(model, names.iter().map(String::as_str)) {
                Some(n) if n != &**model => format!("did you mean {n:?}?"),
                _ if names.is_empty() => format!("{} holds no model manifests", dir.display()),
                _ => format!("models in {}: {}", dir.display(), names.join(", ")),
            };
            ParamProblem { message: e.to_string(), help }
        };
        let m = self.shared.manifest(model).map_err(problem)?;
        check_task(&m, self.mask).map_err(problem)
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
        Ok(crate::onnx::manifest::read_model(&path).ok().map(|bytes| blake3::hash(&bytes)))
    }
}

/// The manifest names in a models folder, sorted.
fn model_names(dir: &Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten().take(10_000);
    let mut names: Vec<String> = entries
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
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
    let (task, fix) = match m.task {
        Task::Mask => ("mask", "use it with onnx.mask"),
        Task::ImageToImage => ("image-to-image", "use it with onnx.image"),
        Task::Upscale { .. } => ("upscale", "use it with onnx.image"),
        Task::Tensor => ("tensor", "no image node runs it; set its manifest's task if it takes an image"),
    };
    Err(NodeError::Invalid(format!("model {:?} has task {task:?}; {fix}", m.name)))
}

/// Runs the image through the model in tiles, halving the tile side when memory runs out.
fn infer(
    ctx: &NodeContext,
    session: &SharedSession,
    m: &Manifest,
    img: &Image,
    mask: bool,
    tile: u32,
) -> Result<Value, NodeError> {
    check_size(m, img)?;
    let mut tile = match (m.fixed_size, tile) {
        (Some(_), _) => img.width().max(img.height()),
        (None, 0) => m.tile,
        (None, t) => t.max(MIN_TILE),
    };
    loop {
        match infer_tiled(ctx, session, m, img, mask, tile) {
            Err(NodeError::Failed(msg))
                if is_allocation_failure(&msg) && tile / 2 >= MIN_TILE && m.fixed_size.is_none() =>
            {
                tracing::warn!(model = %m.name, tile, "out of memory on a tile; halving the tile side");
                tile /= 2;
            }
            other => return other,
        }
    }
}

fn infer_tiled(
    ctx: &NodeContext,
    session: &SharedSession,
    m: &Manifest,
    img: &Image,
    mask: bool,
    tile: u32,
) -> Result<Value, NodeError> {
    let scale = match m.task {
        Task::Upscale { factor } => factor,
        _ => 1,
    };
    let overlap = effective_overlap(tile, m.overlap);
    let tiles = plan(img.width(), img.height(), tile, overlap);
    let mut sink = Sink::new(img, img.width() * scale, img.height() * scale, mask)?;
    if let [only] = tiles.as_slice() {
        // One tile: nothing to blend; the output goes straight into the final image.
        ctx.check_cancelled()?;
        with_output(session, m, img, only.src, |shape, data| {
            if mask {
                let (_, _, values) = unpack_mask(shape, data, m)?;
                return sink.write_rows(0, &values);
            }
            let t = RgbTensor::new(shape, data, m)?;
            sink.fill_rows(0, t.size.1 as usize, |y, row| t.read_row(y, row))
        })?;
        ctx.progress(1, 1);
        return sink.finish();
    }
    let channels = if mask { 1 } else { 3 };
    let mut blender = Blender::new(img.width(), img.height(), scale, channels, overlap, &tiles);
    let mut emit = |first_row: usize, rows: &[f32]| sink.write_rows(first_row, rows);
    for (i, t) in tiles.iter().enumerate() {
        ctx.check_cancelled()?;
        ctx.progress(i as u64, tiles.len() as u64);
        let values = run_region(session, m, img, t.src, mask)?;
        blender.flush(Some((t.src.y * scale) as usize), &mut emit)?;
        blender.add(t, &values)?;
    }
    blender.flush(None, &mut emit)?;
    ctx.progress(tiles.len() as u64, tiles.len() as u64);
    sink.finish()
}

/// One region through the model: interleaved RGB triples, or mask values.
fn run_region(
    session: &SharedSession,
    m: &Manifest,
    img: &Image,
    region: Rect,
    mask: bool,
) -> Result<Vec<f32>, NodeError> {
    with_output(session, m, img, region, |shape, data| {
        if mask {
            unpack_mask(shape, data, m).map(|(_, _, v)| v)
        } else {
            RgbTensor::new(shape, data, m).map(|t| t.to_rgb())
        }
    })
}

/// Runs one region and hands the output tensor (shape, values) to `read` while it is alive.
fn with_output<T>(
    session: &SharedSession,
    m: &Manifest,
    img: &Image,
    region: Rect,
    read: impl FnOnce(&[i64], &[f32]) -> Result<T, NodeError>,
) -> Result<T, NodeError> {
    let (shape, data) = pack(img, region, m);
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
    read(oshape, odata)
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
