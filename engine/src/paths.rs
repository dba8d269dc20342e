//! Where relative paths in params point, and the rule that outputs never escape `--out`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

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
    /// Every counter value is taken.
    #[error("output path {0:?}: all {COUNTER_MAX} values of the {{n}} counter are taken")]
    CounterExhausted(String),
}

impl PathRoots {
    /// Roots for a run of a workflow in `input_root`, writing into `output_root`.
    pub fn new(input_root: impl Into<PathBuf>, output_root: impl Into<PathBuf>) -> Self {
        Self { input_root: input_root.into(), output_root: output_root.into(), item: None }
    }

    /// Resolves a path to read. Absolute paths stay as they are.
    pub fn resolve_input(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() { p.to_path_buf() } else { self.input_root.join(p) }
    }

    /// Creates (or truncates) the output file for `template`. `{item}` becomes the batch item;
    /// `{n}` becomes the first free four-digit counter, claimed atomically so nothing is overwritten.
    pub fn create_output(&self, template: &str) -> Result<(PathBuf, File), PathError> {
        let template = self.substitute_item(template);
        if !template.contains("{n}") {
            let path = self.resolve_output(&template)?;
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
