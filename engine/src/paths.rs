//! Where relative paths in params point, and the rule that outputs never escape `--out`.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The most `{n}` counter values tried before giving up.
const COUNTER_MAX: u32 = 99_999;

/// The folders that relative paths resolve against, for one run.
#[derive(Clone, Debug)]
pub struct PathRoots {
    /// Input paths resolve here: the workflow file's folder.
    pub input_root: PathBuf,
    /// Output paths resolve here (`--out`); nothing is written outside it.
    pub output_root: PathBuf,
    /// The batch item name, substituted for `{item}` in output paths.
    pub item: Option<String>,
    /// The files this run has written, so no two writes of one run land on the same file.
    written: Arc<Mutex<HashSet<String>>>,
    /// Where inputs may be read from.
    pub inputs: InputRoots,
    /// The workflow this run runs, for saved images to carry (as ComfyUI's PNGs do).
    pub provenance: Option<Arc<Provenance>>,
}

/// The workflow a run ran: its file's text and the `--set` overrides applied to it (a batch
/// item's bind among them). Saved PNGs carry both, so the image opens back as its graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The workflow file's text (shared, never copied: a large workflow's text is tens of MB).
    pub workflow: Arc<String>,
    /// Overrides as typed: `node.param=value`.
    pub overrides: Vec<String>,
}

/// Which folders inputs may be read from. Permissive unless `confine` is set (a server
/// sets it); then an input must lie, after following symlinks, in the workflow's own
/// folder or one of `roots` (the settings file's `[inputs] roots`).
#[derive(Clone, Debug, Default)]
pub struct InputRoots {
    /// Whether inputs are confined at all.
    pub confine: bool,
    /// Folders allowed besides the workflow's own.
    pub roots: Vec<PathBuf>,
}

impl InputRoots {
    /// Why `path` (absolute, or relative to `base`, the workflow's folder) may not be read,
    /// if it may not: the message names the path and the setting.
    pub fn refusal(&self, base: &Path, path: &Path) -> Option<String> {
        if !self.confine {
            return None;
        }
        let full = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
        let real = real_path(&full);
        let allowed = std::iter::once(base).chain(self.roots.iter().map(PathBuf::as_path));
        if allowed.map(real_path).any(|root| real.starts_with(&root)) {
            return None;
        }
        let roots: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
        Some(format!(
            "input {} is outside the folders inputs may be read from: the workflow's folder {} and [inputs] roots = [{}] in switchyard.toml",
            full.display(),
            base.display(),
            roots.join(", ")
        ))
    }
}

/// `path` with symlinks followed as far as it exists, and `..` removed from the rest.
fn real_path(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let mut out = match path.parent() {
        Some(parent) if parent != path => real_path(parent),
        _ => PathBuf::new(),
    };
    match path.components().next_back() {
        Some(Component::ParentDir) => {
            out.pop();
        }
        Some(Component::Normal(name)) => out.push(name),
        Some(other) => out.push(other.as_os_str()),
        None => {}
    }
    out
}

/// An output path was refused or could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path would land outside the output folder.
    #[error("output path {path:?} escapes the output folder {root:?}: {why}; use a relative path inside it")]
    Escapes {
        /// The path as given.
        path: String,
        /// The output folder.
        root: PathBuf,
        /// How it escapes.
        why: &'static str,
    },
    /// The file system refused.
    #[error("{path:?}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Another node of this run already wrote this file.
    #[error(
        "output path {0:?} was already written by another node of this run; give each output its own path (or use {{n}} or {{item}})"
    )]
    WrittenTwice(PathBuf),
    /// Every counter value is taken.
    #[error("output path {0:?}: all {COUNTER_MAX} values of the {{n}} counter are taken")]
    CounterExhausted(String),
}

impl PathRoots {
    /// Roots for a run of a workflow in `input_root`, writing into `output_root`.
    pub fn new(input_root: impl Into<PathBuf>, output_root: impl Into<PathBuf>) -> Self {
        Self {
            input_root: input_root.into(),
            output_root: output_root.into(),
            item: None,
            written: Arc::default(),
            inputs: InputRoots::default(),
            provenance: None,
        }
    }

    /// The same roots, with the workflow saved images carry.
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = Some(Arc::new(provenance));
        self
    }

    /// The same roots, reading inputs only where `inputs` allows.
    pub fn with_inputs(mut self, inputs: InputRoots) -> Self {
        self.inputs = inputs;
        self
    }

    /// Resolves a path to read. Absolute paths stay as they are.
    pub fn resolve_input(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() { p.to_path_buf() } else { self.input_root.join(p) }
    }

    /// Resolves a path to read and checks it is inside the allowed folders (for values
    /// that arrive by wire, which validation could not see).
    pub fn checked_input(&self, path: &str) -> Result<PathBuf, String> {
        match self.inputs.refusal(&self.input_root, Path::new(path)) {
            Some(why) => Err(why),
            None => Ok(self.resolve_input(path)),
        }
    }

    /// Creates (or truncates) the output file for `template`. `{item}` becomes the batch item;
    /// `{n}` becomes the first free four-digit counter, claimed atomically so nothing is overwritten.
    pub fn create_output(&self, template: &str) -> Result<(PathBuf, File), PathError> {
        let template = self.substitute_item(template);
        if !template.contains("{n}") {
            let path = self.resolve_output(&template)?;
            self.claim(&path)?;
            let file = File::create(&path).map_err(|source| PathError::Io { path: path.clone(), source })?;
            return Ok((path, file));
        }
        for n in 1..=COUNTER_MAX {
            let path = self.resolve_output(&template.replace("{n}", &format!("{n:04}")))?;
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((path, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(PathError::Io { path, source }),
            }
        }
        Err(PathError::CounterExhausted(template))
    }

    /// Claims `path` for this run; a second claim is refused. Compared without case, as the
    /// output folder may be on a case-insensitive disk.
    fn claim(&self, path: &Path) -> Result<(), PathError> {
        let key = path.to_string_lossy().to_lowercase();
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if written.insert(key) { Ok(()) } else { Err(PathError::WrittenTwice(path.to_path_buf())) }
    }

    fn substitute_item(&self, template: &str) -> String {
        match &self.item {
            Some(item) if template.contains("{item}") => template.replace("{item}", item),
            Some(item) => format!("{item}/{template}"),
            None => template.replace("{item}", "item"),
        }
    }

    /// Resolves an output path inside the output folder, creating its parent folders.
    /// Refuses `..` and absolute paths, and any symlink that leads outside.
    pub fn resolve_output(&self, path: &str) -> Result<PathBuf, PathError> {
        let escapes = |why| PathError::Escapes { path: path.to_string(), root: self.output_root.clone(), why };
        check_output_path(path).map_err(escapes)?;
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PathError::Io { path, source }
        };
        std::fs::create_dir_all(&self.output_root).map_err(io_err(&self.output_root))?;
        let root = self.output_root.canonicalize().map_err(io_err(&self.output_root))?;
        let target = root.join(path);
        let parent = target.parent().unwrap_or(&root).to_path_buf();
        // Check the deepest existing ancestor before creating anything, so no folder appears outside.
        let existing = deepest_existing(&parent);
        let existing_real = existing.canonicalize().map_err(io_err(&existing))?;
        if !existing_real.starts_with(&root) {
            return Err(escapes("a folder on the way is a symlink to elsewhere"));
        }
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let parent_real = parent.canonicalize().map_err(io_err(&parent))?;
        if !parent_real.starts_with(&root) {
            return Err(escapes("a folder on the way is a symlink to elsewhere"));
        }
        let name = target.file_name().ok_or_else(|| escapes("it names no file"))?;
        let final_path = parent_real.join(name);
        if std::fs::symlink_metadata(&final_path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(escapes("the file is a symlink"));
        }
        Ok(final_path)
    }
}

/// Opens an input file for reading. Only regular files: opening a FIFO waits for a writer,
/// and a device may never end, so either would hang a run outside its node's timeout. The
/// open itself does not block (`O_NONBLOCK`, which regular files ignore when read).
pub fn open_input_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a pipe, device or folder); inputs are read only from regular files",
        ));
    }
    Ok(file)
}

/// Reads a whole input file as text, regular files only (see [`open_input_file`]).
pub fn read_input_text(path: &Path, max_bytes: u64) -> io::Result<String> {
    use std::io::Read as _;
    let file = open_input_file(path)?;
    let len = file.metadata()?.len();
    if len > max_bytes {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("larger than the {max_bytes}-byte limit")));
    }
    // Sized up front: `take` hides the length, and growing by doubling copied a large file
    // several times and held two copies at once.
    let mut text = String::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    file.take(max_bytes).read_to_string(&mut text)?;
    Ok(text)
}

/// Checks an output path without touching the disk: relative, no `..` above its root, names a file.
pub fn check_output_path(path: &str) -> Result<(), &'static str> {
    let p = Path::new(path);
    if path.trim().is_empty() {
        return Err("it is empty");
    }
    let mut depth = 0usize;
    for component in p.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err("it is absolute"),
            Component::ParentDir if depth == 0 => return Err("it climbs above the folder with '..'"),
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    if depth == 0 || path.ends_with('/') {
        return Err("it names no file");
    }
    Ok(())
}

fn deepest_existing(path: &Path) -> PathBuf {
    let mut current = path;
    while !current.exists() {
        match current.parent() {
            Some(parent) => current = parent,
            None => break,
        }
    }
    current.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_checks() {
        assert!(check_output_path("a/b.png").is_ok());
        assert!(check_output_path("a/../b.png").is_ok());
        assert_eq!(check_output_path("../b.png"), Err("it climbs above the folder with '..'"));
        assert_eq!(check_output_path("a/../../b.png"), Err("it climbs above the folder with '..'"));
        assert_eq!(check_output_path("/etc/passwd"), Err("it is absolute"));
        assert_eq!(check_output_path(""), Err("it is empty"));
        assert_eq!(check_output_path("a/.."), Err("it names no file"));
    }

    #[test]
    fn symlinked_folder_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&elsewhere, out.join("link")).unwrap();
        let roots = PathRoots::new(tmp.path(), &out);
        #[cfg(unix)]
        assert!(matches!(roots.resolve_output("link/x.png"), Err(PathError::Escapes { .. })));
        assert!(roots.resolve_output("sub/x.png").unwrap().starts_with(out.canonicalize().unwrap()));
    }

    /// Regression (issue 13): two outputs of one run on the same file silently overwrote.
    #[test]
    fn one_run_never_writes_the_same_output_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let roots = PathRoots::new(tmp.path(), tmp.path());
        roots.create_output("a/shot.png").unwrap();
        let again = roots.create_output("a/SHOT.png").unwrap_err();
        assert!(matches!(again, PathError::WrittenTwice(_)), "{again}");
        let next_run = PathRoots::new(tmp.path(), tmp.path());
        next_run.create_output("a/shot.png").expect("a new run may replace an earlier run's file");
    }

    /// Regression (issue 13): a FIFO given as an input hung the run past its timeout.
    #[cfg(unix)]
    #[test]
    fn inputs_are_read_only_from_regular_files() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("frame.png");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string naming a path in our temporary folder.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = open_input_file(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(open_input_file(tmp.path()).is_err(), "a folder");
        std::fs::write(tmp.path().join("a.txt"), "hi").unwrap();
        assert_eq!(read_input_text(&tmp.path().join("a.txt"), 10).unwrap(), "hi");
        assert!(read_input_text(&tmp.path().join("a.txt"), 1).is_err());
    }

    /// Issue 13: inputs confined to the workflow's folder and the allowed roots, symlinks
    /// followed; permissive unless confined.
    #[test]
    fn confined_inputs_stay_in_the_allowed_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let (wf, plates, secret) = (tmp.path().join("wf"), tmp.path().join("plates"), tmp.path().join("secret"));
        for d in [&wf, &plates, &secret] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(secret.join("key.png"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(secret.join("key.png"), wf.join("link.png")).unwrap();
        let confined = InputRoots { confine: true, roots: vec![plates.clone()] };
        let cases = [
            ("frame.png", true),
            ("sub/../frame.png", true),
            ("../plates/a.png", true),
            ("../secret/key.png", false),
            ("/etc/passwd", false),
        ];
        for (path, ok) in cases {
            assert_eq!(confined.refusal(&wf, Path::new(path)).is_none(), ok, "{path}");
        }
        assert!(confined.refusal(&wf, &plates.join("x/y.png")).is_none());
        #[cfg(unix)]
        assert!(confined.refusal(&wf, Path::new("link.png")).is_some(), "a symlink out is refused");
        let why = confined.refusal(&wf, Path::new("/etc/passwd")).unwrap();
        assert!(why.contains("/etc/passwd") && why.contains("[inputs] roots"), "{why}");
        assert!(InputRoots::default().refusal(&wf, Path::new("/etc/passwd")).is_none(), "permissive by default");
    }

    #[test]
    fn counter_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let roots = PathRoots::new(tmp.path(), tmp.path());
        let (a, _) = roots.create_output("shot_{n}.png").unwrap();
        let (b, _) = roots.create_output("shot_{n}.png").unwrap();
        assert!(a.ends_with("shot_0001.png"));
        assert!(b.ends_with("shot_0002.png"));
    }
}
