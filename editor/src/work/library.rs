//! The team library on the connected server: list, open, and save with the revision the
//! graph was opened at, so the server merges instead of overwriting; conflicts come back
//! named, to be settled node by node.

use std::collections::BTreeMap;

use switchyard_client::client::ClientError;
use switchyard_client::library::{
    Conflict, ConflictDetails, CreateWorkflow, PushRequest, RevisionView, Side, TemplateView, WorkflowSummary,
};
use switchyard_client::protocol::SubmitRequest;
use switchyard_engine::format::WorkflowFile;

use super::remote::Remote;

/// Where an open graph came from in the library: its workflow and the revision it was at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The workflow's id.
    pub id: String,
    /// Its library path.
    pub path: String,
    /// The revision the graph was opened or last saved at.
    pub base: String,
}

/// What the UI asks of the library.
#[derive(Debug)]
pub enum LibraryAsk {
    /// Every workflow of the library.
    List,
    /// A workflow at its head.
    Open {
        /// Its id.
        id: String,
    },
    /// A workflow's revisions, newest first.
    Log {
        /// Its id.
        id: String,
    },
    /// A workflow at one revision, to compare the graph with.
    Revision {
        /// Its id.
        id: String,
        /// The revision's hash.
        hash: String,
    },
    /// The team's templates, each with its preview's PNG where it has one.
    Templates,
    /// Runs a template on the server with values for its exposed params, to its end.
    RunTemplate {
        /// `team/name@version`.
        reference: String,
        /// `node.param=value` for the exposed params.
        set: Vec<String>,
    },
    /// Save `file` at `path`: a new workflow without `origin`, else a push from its base.
    Save {
        /// Where the graph came from.
        origin: Option<Origin>,
        /// The library path.
        path: String,
        /// What changed.
        message: String,
        /// The graph.
        file: Box<WorkflowFile>,
        /// Sides picked for the last save's conflicts.
        choices: BTreeMap<String, Side>,
    },
}

/// What came back.
#[derive(Debug)]
pub enum LibraryReply {
    /// The library's workflows.
    Listed(Result<Vec<WorkflowSummary>, String>),
    /// A workflow opened: where from, and its file.
    Opened(Result<(Origin, Box<WorkflowFile>), String>),
    /// A workflow's revisions.
    Log(Result<Vec<RevisionView>, String>),
    /// One revision's file.
    Revision(Result<(String, Box<WorkflowFile>), String>),
    /// The templates, with their previews' PNGs.
    Templates(Result<Vec<Listed>, String>),
    /// A template run ended: its final state and charge, or why it did not run.
    TemplateRan(Result<String, String>),
    /// Saved: where it now stands, the head's file, and whether it was merged.
    Saved(Result<(Origin, Box<WorkflowFile>, bool), SaveRefusal>),
}

/// A template as listed, with its preview's PNG where it has one.
pub type Listed = (TemplateView, Option<Vec<u8>>);

/// Why a save did not land.
#[derive(Debug)]
pub enum SaveRefusal {
    /// Both sides changed these: pick a side for each and save again.
    Conflicts(Vec<Conflict>),
    /// Anything else: why.
    Other(String),
}

fn file_of(value: serde_json::Value) -> Result<Box<WorkflowFile>, String> {
    serde_json::from_value(value)
        .map(Box::new)
        .map_err(|e| format!("the library sent a file this editor cannot read: {e}"))
}

/// Carries out `ask` on the server.
pub async fn serve(remote: &Remote, ask: LibraryAsk) -> LibraryReply {
    let client = remote.client();
    match ask {
        LibraryAsk::List => LibraryReply::Listed(client.library_all(None).await.map_err(|e| e.to_string())),
        LibraryAsk::Open { id } => LibraryReply::Opened(match client.library_workflow(&id, None).await {
            Ok(view) => file_of(view.workflow)
                .map(|f| (Origin { id: view.summary.id, path: view.summary.path, base: view.revision.hash }, f)),
            Err(e) => Err(e.to_string()),
        }),
        LibraryAsk::Log { id } => {
            LibraryReply::Log(client.library_log(&id, 100).await.map(|l| l.revisions).map_err(|e| e.to_string()))
        }
        LibraryAsk::Revision { id, hash } => {
            LibraryReply::Revision(match client.library_workflow(&id, Some(&hash)).await {
                Ok(view) => file_of(view.workflow).map(|f| (view.revision.hash, f)),
                Err(e) => Err(e.to_string()),
            })
        }
        LibraryAsk::Templates => LibraryReply::Templates(templates(remote).await.map_err(|e| e.to_string())),
        LibraryAsk::RunTemplate { reference, set } => {
            LibraryReply::TemplateRan(run_template(remote, reference, set).await)
        }
        LibraryAsk::Save { origin, path, message, file, choices } => {
            LibraryReply::Saved(save(remote, origin, path, message, *file, choices).await)
        }
    }
}

async fn save(
    remote: &Remote,
    origin: Option<Origin>,
    path: String,
    message: String,
    file: WorkflowFile,
    choices: BTreeMap<String, Side>,
) -> Result<(Origin, Box<WorkflowFile>, bool), SaveRefusal> {
    let client = remote.client();
    let other = |e: ClientError| SaveRefusal::Other(e.to_string());
    let workflow = serde_json::to_value(&file).map_err(|e| SaveRefusal::Other(e.to_string()))?;
    let Some(origin) = origin else {
        let made = client.library_create(&CreateWorkflow { path, workflow, message }).await.map_err(other)?;
        let origin = Origin { id: made.summary.id, path: made.summary.path, base: made.revision.hash };
        return Ok((origin, Box::new(file), false));
    };
    let req = PushRequest { base: origin.base.clone(), workflow, message, choices };
    match client.library_push(&origin.id, &req).await {
        Ok(reply) => {
            let head = client.library_workflow(&origin.id, None).await.map_err(other)?;
            let file = file_of(head.workflow).map_err(SaveRefusal::Other)?;
            let origin = Origin { id: origin.id, path: reply.summary.path, base: reply.revision.hash };
            Ok((origin, file, reply.merged))
        }
        Err(ClientError::Refused { status: 409, code, details: Some(details), .. }) if code == "merge-conflict" => {
            let details: ConflictDetails =
                serde_json::from_value(details).map_err(|e| SaveRefusal::Other(e.to_string()))?;
            Err(SaveRefusal::Conflicts(details.conflicts))
        }
        Err(e) => Err(other(e)),
    }
}

/// The reply to `ask` when no server is connected.
pub fn not_connected(ask: LibraryAsk) -> LibraryReply {
    let why = "connect to a server first (Server > Connect…)".to_string();
    match ask {
        LibraryAsk::List => LibraryReply::Listed(Err(why)),
        LibraryAsk::Open { .. } => LibraryReply::Opened(Err(why)),
        LibraryAsk::Log { .. } => LibraryReply::Log(Err(why)),
        LibraryAsk::Templates => LibraryReply::Templates(Err(why)),
        LibraryAsk::RunTemplate { .. } => LibraryReply::TemplateRan(Err(why)),
        LibraryAsk::Revision { .. } => LibraryReply::Revision(Err(why)),
        LibraryAsk::Save { .. } => LibraryReply::Saved(Err(SaveRefusal::Other(why))),
    }
}

/// The largest template preview fetched.
const PREVIEW_MAX_BYTES: u64 = 2 * 1024 * 1024;

async fn templates(remote: &Remote) -> Result<Vec<Listed>, ClientError> {
    let client = remote.client();
    let mut out = Vec::new();
    for t in client.library_templates().await?.templates {
        let png = match t.has_preview {
            true => {
                let path = format!("/v1/library/templates/{}/{}/preview", t.name, t.version);
                client.get_bytes(&path, &[], PREVIEW_MAX_BYTES).await.ok()
            }
            false => None,
        };
        out.push((t, png));
    }
    Ok(out)
}

async fn run_template(remote: &Remote, reference: String, set: Vec<String>) -> Result<String, String> {
    let client = remote.client();
    let req = SubmitRequest {
        template: Some(reference.clone()),
        set,
        account: remote.account().clone(),
        ..SubmitRequest::default()
    };
    let run = client.submit(&req, None).await.map_err(|e| e.to_string())?;
    let ended = client.watch(&run.id, |_| {}).await.map_err(|e| e.to_string())?;
    let charged = ended.charged().map(|c| format!(", charged {c} cr")).unwrap_or_default();
    Ok(format!("{reference} {}{charged} (run {})", ended.state, ended.id))
}
