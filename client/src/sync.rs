//! The library's local copy, for working offline and on several devices: each workflow's
//! working file (the one the user edits) and the revision it was last synced at (its base).
//! Pull brings the server's heads in, merging three-way where both sides changed; push sends
//! local changes with their base, so the server merges instead of overwriting.
//!
//! Layout under the root (the user's data folder, per server):
//! - `work/PATH.json`: working copies; a file there that the index lacks is new;
//! - `base/ID.json`: each workflow's base revision;
//! - `index.json`: workflow id -> its path and base hash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use switchyard_engine::format::WorkflowFile;
use switchyard_library::{Conflict, Side, merge, revision_hash};

use crate::client::{Client, ClientError};
use crate::library::{CreateWorkflow, PushRequest, TemplateView, WorkflowSummary};

/// The most working files (and folders) one sync reads.
const FILES_MAX: usize = 100_000;

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Server(Box<ClientError>),
    #[error("{path}: {why}")]
    Local { path: PathBuf, why: String },
}

impl From<ClientError> for SyncError {
    fn from(e: ClientError) -> Self {
        SyncError::Server(Box::new(e))
    }
}

fn local(path: &Path, why: impl std::fmt::Display) -> SyncError {
    SyncError::Local { path: path.to_path_buf(), why: why.to_string() }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Index {
    workflows: BTreeMap<String, Tracked>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Tracked {
    path: String,
    base: String,
}

/// Where a workflow stands against the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    UpToDate,
    /// Changed here; the server has not moved.
    Ahead,
    /// The server moved; unchanged here.
    Behind,
    /// Both changed: a pull merges them (or names the conflicts).
    Diverged,
    /// Only here: a push adds it.
    New,
    /// Gone from the server (deleted there).
    Gone,
    /// Its working file is gone here; a pull brings it back.
    Missing,
}

/// One workflow's state.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub path: String,
    pub id: Option<String>,
    pub state: SyncState,
}

/// What a pull or push did, per workflow path.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Brought in or sent as is.
    pub updated: Vec<String>,
    /// Merged with changes from the other side.
    pub merged: Vec<String>,
    /// Left alone: both sides changed the same things.
    pub conflicts: BTreeMap<String, Vec<Conflict>>,
}

/// The local copy of one server's library.
pub struct LocalLibrary {
    root: PathBuf,
    index: Index,
}

fn read_file(path: &Path) -> Result<WorkflowFile, SyncError> {
    let text = std::fs::read_to_string(path).map_err(|e| local(path, e))?;
    serde_json::from_str(&text).map_err(|e| local(path, format!("not a workflow file: {e}")))
}

fn write_file(path: &Path, file: &WorkflowFile) -> Result<(), SyncError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| local(dir, e))?;
    }
    let text = serde_json::to_string_pretty(file).map_err(|e| local(path, e))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").map_err(|e| local(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| local(path, e))
}

impl LocalLibrary {
    /// The local copy at `root` (made on first use).
    pub fn open(root: &Path) -> Result<Self, SyncError> {
        let index_path = root.join("index.json");
        let index = match std::fs::read_to_string(&index_path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| local(&index_path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index::default(),
            Err(e) => return Err(local(&index_path, e)),
        };
        Ok(Self { root: root.to_path_buf(), index })
    }

    fn save(&self) -> Result<(), SyncError> {
        std::fs::create_dir_all(&self.root).map_err(|e| local(&self.root, e))?;
        let path = self.root.join("index.json");
        let text = serde_json::to_string_pretty(&self.index).map_err(|e| local(&path, e))?;
        std::fs::write(&path, text).map_err(|e| local(&path, e))
    }

    /// The working file of library path `path`.
    pub fn work_path(&self, path: &str) -> PathBuf {
        self.root.join("work").join(format!("{path}.json"))
    }

    fn base_path(&self, id: &str) -> PathBuf {
        self.root.join("base").join(format!("{id}.json"))
    }

    /// The id of the tracked workflow at `path`.
    pub fn id_of(&self, path: &str) -> Option<&str> {
        self.index.workflows.iter().find(|(_, t)| t.path == path).map(|(id, _)| id.as_str())
    }

    /// The working file and base of a tracked workflow (`None`: its working file is gone).
    fn sides(&self, id: &str, t: &Tracked) -> Result<Option<(WorkflowFile, WorkflowFile)>, SyncError> {
        let work = self.work_path(&t.path);
        if !work.exists() {
            return Ok(None);
        }
        Ok(Some((read_file(&work)?, read_file(&self.base_path(id))?)))
    }

    fn changed_here(&self, id: &str, t: &Tracked) -> Result<bool, SyncError> {
        Ok(self.sides(id, t)?.is_some_and(|(work, _)| revision_hash(&work).as_str() != t.base))
    }

    /// Library paths of working files the index does not track.
    fn untracked(&self) -> Result<Vec<String>, SyncError> {
        let dir = self.root.join("work");
        let mut out = Vec::new();
        let mut todo = vec![dir.clone()];
        let mut visited = 0;
        while let Some(d) = todo.pop() {
            visited += 1;
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                // Links are not followed (a loop would never end), and folders are bounded.
                let Ok(kind) = e.file_type() else { continue };
                if kind.is_dir() {
                    if visited + todo.len() < FILES_MAX {
                        todo.push(p);
                    }
                } else if kind.is_file() && p.extension().is_some_and(|x| x == "json") && out.len() < FILES_MAX {
                    let rel = p.strip_prefix(&dir).unwrap_or(&p).with_extension("");
                    let path = rel.to_string_lossy().replace('\\', "/");
                    if self.id_of(&path).is_none() {
                        out.push(path);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Each workflow's state against the server's `heads`.
    pub fn status(&self, heads: &[WorkflowSummary]) -> Result<Vec<Entry>, SyncError> {
        let mut out = Vec::new();
        for (id, t) in &self.index.workflows {
            let head = heads.iter().find(|h| &h.id == id);
            let here = self.changed_here(id, t)?;
            let state = match (head, here) {
                (None, _) => SyncState::Gone,
                (Some(_), _) if !self.work_path(&t.path).exists() => SyncState::Missing,
                (Some(h), false) if h.head == t.base => SyncState::UpToDate,
                (Some(_), false) => SyncState::Behind,
                (Some(h), true) if h.head == t.base => SyncState::Ahead,
                (Some(_), true) => SyncState::Diverged,
            };
            out.push(Entry { path: t.path.clone(), id: Some(id.clone()), state });
        }
        for path in self.untracked()? {
            let state = if heads.iter().any(|h| h.path == path) { SyncState::Diverged } else { SyncState::New };
            out.push(Entry { path, id: None, state });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn track(&mut self, id: &str, path: &str, base: &WorkflowFile) -> Result<(), SyncError> {
        write_file(&self.base_path(id), base)?;
        self.index
            .workflows
            .insert(id.to_string(), Tracked { path: path.to_string(), base: revision_hash(base).to_string() });
        Ok(())
    }

    /// Brings the server's heads (of `folder`, or all) in: new ones written, unchanged local
    /// copies moved to the head, local changes merged three-way with the head; a conflict
    /// leaves that working file as it was and is reported.
    pub async fn pull(&mut self, client: &Client, folder: Option<&str>) -> Result<Report, SyncError> {
        let mut report = Report::default();
        for w in client.library_all(folder).await? {
            let tracked = self.index.workflows.get(&w.id).cloned();
            let in_place = |t: &Tracked| t.base == w.head && t.path == w.path && self.work_path(&t.path).exists();
            if tracked.as_ref().is_some_and(in_place) {
                continue;
            }
            let head: WorkflowFile = serde_json::from_value(client.library_workflow(&w.id, None).await?.workflow)
                .map_err(|e| local(&self.work_path(&w.path), e))?;
            let work = self.work_path(&w.path);
            let sides = match &tracked {
                Some(t) => self.sides(&w.id, t)?,
                None if work.exists() => Some((read_file(&work)?, head.clone())),
                None => None,
            };
            match sides {
                Some((mine, base))
                    if revision_hash(&mine) != revision_hash(&base) && revision_hash(&mine) != revision_hash(&head) =>
                {
                    let m = merge(&base, &mine, &head, &BTreeMap::new());
                    if !m.is_clean() {
                        report.conflicts.insert(w.path.clone(), m.conflicts);
                        continue;
                    }
                    write_file(&work, &m.file)?;
                    report.merged.push(w.path.clone());
                }
                _ => {
                    write_file(&work, &head)?;
                    report.updated.push(w.path.clone());
                }
            }
            if let Some(t) = tracked.filter(|t| t.path != w.path) {
                let _ = std::fs::remove_file(self.work_path(&t.path));
            }
            self.track(&w.id, &w.path, &head)?;
            self.save()?;
        }
        Ok(report)
    }

    /// Sends local changes: each changed working file is pushed with its base (the server
    /// merges, or names conflicts that `choices[path]` may settle); each new one is added.
    pub async fn push(
        &mut self,
        client: &Client,
        message: &str,
        choices: &BTreeMap<String, BTreeMap<String, Side>>,
    ) -> Result<Report, SyncError> {
        let mut report = Report::default();
        let tracked: Vec<(String, Tracked)> =
            self.index.workflows.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (id, t) in tracked {
            let Some((mine, _)) = self.sides(&id, &t)? else { continue };
            if revision_hash(&mine).as_str() == t.base {
                continue;
            }
            let req = PushRequest {
                base: t.base.clone(),
                workflow: serde_json::to_value(&mine).map_err(|e| local(&self.work_path(&t.path), e))?,
                message: message.to_string(),
                choices: choices.get(&t.path).cloned().unwrap_or_default(),
            };
            match client.library_push(&id, &req).await {
                Ok(reply) => {
                    let head: WorkflowFile = serde_json::from_value(client.library_workflow(&id, None).await?.workflow)
                        .map_err(|e| local(&self.work_path(&t.path), e))?;
                    write_file(&self.work_path(&t.path), &head)?;
                    self.track(&id, &t.path, &head)?;
                    self.save()?;
                    if reply.merged { report.merged.push(t.path.clone()) } else { report.updated.push(t.path.clone()) }
                }
                Err(ClientError::Refused { status: 409, code, details: Some(details), .. })
                    if code == "merge-conflict" =>
                {
                    let conflicts = serde_json::from_value::<crate::library::ConflictDetails>(details)
                        .map(|d| d.conflicts)
                        .unwrap_or_default();
                    report.conflicts.insert(t.path.clone(), conflicts);
                }
                Err(e) => return Err(e.into()),
            }
        }
        for path in self.untracked()? {
            let work = self.work_path(&path);
            let file = read_file(&work)?;
            let req = CreateWorkflow {
                path: path.clone(),
                workflow: serde_json::to_value(&file).map_err(|e| local(&work, e))?,
                message: message.to_string(),
            };
            let made = client.library_create(&req).await?;
            self.track(&made.summary.id, &path, &file)?;
            self.save()?;
            report.updated.push(path);
        }
        Ok(report)
    }

    /// A tracked workflow's base and working file (`None`: the working file is gone).
    pub fn base_and_work(&self, id: &str) -> Result<Option<(WorkflowFile, WorkflowFile)>, SyncError> {
        let Some(t) = self.index.workflows.get(id) else { return Ok(None) };
        Ok(self.sides(id, t)?.map(|(work, base)| (base, work)))
    }

    fn template_path(&self, reference: &str) -> PathBuf {
        self.root.join("templates").join(format!("{}.json", reference.replace('/', "__")))
    }

    /// Keeps each template version (with its exact revision's workflow) for running offline;
    /// returns how many were new.
    pub async fn pull_templates(&self, client: &Client) -> Result<usize, SyncError> {
        let mut new = 0;
        for t in client.library_templates().await?.templates {
            let path = self.template_path(&t.reference);
            let known: Option<KeptTemplate> =
                std::fs::read_to_string(&path).ok().and_then(|s| serde_json::from_str(&s).ok());
            if known.as_ref().is_some_and(|k| k.template.state == t.state) {
                continue;
            }
            let workflow = match known {
                Some(k) => k.workflow,
                None => {
                    new += 1;
                    client.library_workflow(&t.workflow, Some(&t.revision)).await?.workflow
                }
            };
            let kept = KeptTemplate { template: t, workflow };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| local(dir, e))?;
            }
            std::fs::write(&path, serde_json::to_string_pretty(&kept).map_err(|e| local(&path, e))?)
                .map_err(|e| local(&path, e))?;
        }
        Ok(new)
    }

    /// A pulled template: `team/name@3`, or `team/name@latest` (the newest published).
    pub fn template(&self, reference: &str) -> Result<Option<KeptTemplate>, SyncError> {
        let Some((stem, version)) = reference.rsplit_once('@') else { return Ok(None) };
        if version != "latest" {
            let path = self.template_path(reference);
            return match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(serde_json::from_str(&text).map_err(|e| local(&path, e))?)),
                Err(_) => Ok(None),
            };
        }
        let dir = self.root.join("templates");
        let prefix = format!("{}@", stem.replace('/', "__"));
        let mut best: Option<KeptTemplate> = None;
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(&prefix) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
            let Ok(k) = serde_json::from_str::<KeptTemplate>(&text) else { continue };
            let published = k.template.state == crate::library::TemplateState::Published;
            if published && best.as_ref().is_none_or(|b| b.template.version < k.template.version) {
                best = Some(k);
            }
        }
        Ok(best)
    }
}

/// A template version kept for running offline: its release and its revision's workflow.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeptTemplate {
    pub template: TemplateView,
    pub workflow: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_link_loop_in_the_local_copy_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let work = root.path().join("work/shots");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("sky.json"), "{}").unwrap();
        std::os::unix::fs::symlink(root.path().join("work"), work.join("again")).unwrap();
        let local = LocalLibrary::open(root.path()).unwrap();
        assert_eq!(local.untracked().unwrap(), ["shots/sky"], "the file once, the loop not followed");
    }
}
