//! `switchyard library …`: the team library on a server and its local copy (in the user's
//! data folder, per server) for offline work; and `switchyard run TEAM/NAME@VERSION`, which
//! runs a pulled template with only the params it exposes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use switchyard_client::client::{Client, ClientError};
use switchyard_client::library::{ExposeRequest, PublishRequest, RestoreRequest, Side, TemplateState};
use switchyard_client::sync::{LocalLibrary, Report, SyncError};
use switchyard_session::settings::Config;

use super::Exit;
use super::args::{LibraryCommand, ServerArgs, WorkflowArgs};
use super::remote::{client, refused, runtime, server_url};

/// The local copy of `url`'s library: `$SWITCHYARD_LIBRARY`, else the data folder.
fn root(url: &str) -> PathBuf {
    let slug: String = url.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let base = std::env::var_os("SWITCHYARD_LIBRARY")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("switchyard").join("library")))
        .unwrap_or_else(|| PathBuf::from(".switchyard-library"));
    base.join(slug)
}

fn picks(raw: &[String]) -> Result<BTreeMap<String, Side>> {
    raw.iter()
        .map(|p| {
            let (key, side) =
                p.split_once('=').with_context(|| format!("--pick {p:?}: write KEY=ours or KEY=theirs"))?;
            let side = match side {
                "ours" => Side::Ours,
                "theirs" => Side::Theirs,
                other => bail!("--pick {p:?}: {other:?} is not ours or theirs"),
            };
            Ok((key.to_string(), side))
        })
        .collect()
}

fn show_report(what: &str, r: &Report, json: bool) -> Exit {
    if json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
    } else {
        for p in &r.updated {
            println!("{what}  {p}");
        }
        for p in &r.merged {
            println!("merged  {p}");
        }
        for (p, conflicts) in &r.conflicts {
            println!("conflict  {p}");
            for c in conflicts {
                let show = |v: &Option<serde_json::Value>| v.as_ref().map_or("(none)".into(), |v| v.to_string());
                println!("  {}: base {}, ours {}, theirs {}", c.key, show(&c.base), show(&c.ours), show(&c.theirs));
            }
        }
        if !r.conflicts.is_empty() {
            eprintln!("pick a side for each: switchyard library push PATH --pick KEY=ours (or theirs)");
        }
    }
    if r.conflicts.is_empty() { Exit::Ok } else { Exit::Failed }
}

fn sync_failed(e: SyncError) -> Exit {
    match e {
        SyncError::Server(e) => refused(&e),
        SyncError::Local { .. } => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

pub fn library(command: LibraryCommand, server: ServerArgs, config: &Config) -> Result<Exit> {
    let url = server_url(server.server.as_deref(), config);
    let mut local = LocalLibrary::open(&root(&url)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = client(&server, config)?;
    runtime()?.block_on(async { run(command, &client, &mut local, server.json).await })
}

async fn id_of(client: &Client, local: &LocalLibrary, path: &str) -> Result<String, ClientError> {
    if let Some(id) = local.id_of(path) {
        return Ok(id.to_string());
    }
    let all = client.library_all(None).await?;
    all.into_iter().find(|w| w.path == path).map(|w| w.id).ok_or_else(|| ClientError::Refused {
        status: 404,
        code: "not-found".into(),
        message: format!("no workflow {path} in the library"),
        help: Some("`switchyard library list` shows them".into()),
        details: None,
    })
}

async fn run(command: LibraryCommand, client: &Client, local: &mut LocalLibrary, json: bool) -> Result<Exit> {
    let outcome: Result<Exit, ClientError> = match command {
        LibraryCommand::List { folder } => client.library_all(folder.as_deref()).await.map(|all| {
            if json {
                pretty(&all);
            }
            for w in all.iter().filter(|_| !json) {
                println!("{:<48} {}  {} revisions", w.path, &w.head[..12], w.revisions);
            }
            Exit::Ok
        }),
        LibraryCommand::Status => match client.library_all(None).await {
            Ok(heads) => {
                let entries = match local.status(&heads) {
                    Ok(e) => e,
                    Err(e) => return Ok(sync_failed(e)),
                };
                if json {
                    pretty(&entries);
                }
                for e in entries.iter().filter(|_| !json) {
                    println!(
                        "{:<12} {}",
                        serde_json::to_value(e.state).unwrap_or_default().as_str().unwrap_or("?"),
                        e.path
                    );
                }
                Ok(Exit::Ok)
            }
            Err(e) => Err(e),
        },
        LibraryCommand::Pull { folder } => {
            let report = match local.pull(client, folder.as_deref()).await {
                Ok(r) => r,
                Err(e) => return Ok(sync_failed(e)),
            };
            if let Err(e) = local.pull_templates(client).await {
                return Ok(sync_failed(e));
            }
            Ok(show_report("pulled", &report, json))
        }
        LibraryCommand::Push { path, message, picks: raw } => {
            let picks = picks(&raw)?;
            let mut choices = BTreeMap::new();
            if !picks.is_empty() {
                match &path {
                    Some(p) => {
                        choices.insert(p.clone(), picks);
                    }
                    None => bail!("--pick needs the PATH of the workflow it settles"),
                }
            }
            match local.push(client, &message, &choices).await {
                Ok(r) => Ok(show_report("pushed", &r, json)),
                Err(e) => return Ok(sync_failed(e)),
            }
        }
        LibraryCommand::Log { path, limit } => match id_of(client, local, &path).await {
            Ok(id) => client.library_log(&id, limit.clamp(1, 1000)).await.map(|log| {
                if json {
                    pretty(&log);
                }
                for r in log.revisions.iter().filter(|_| !json) {
                    let layout = if r.layout_only { "  (layout)" } else { "" };
                    println!("{}  {}  {}  {}{layout}", &r.hash[..12], r.created_at_ms, r.author, r.message);
                }
                Exit::Ok
            }),
            Err(e) => Err(e),
        },
        LibraryCommand::Diff { path, from, to } => match (from, id_of(client, local, &path).await) {
            (_, Err(e)) => Err(e),
            (Some(from), Ok(id)) => client.library_diff(&id, &from, to.as_deref()).await.map(|d| {
                if json {
                    pretty(&d)
                } else {
                    print!("{}", d.diff)
                }
                Exit::Ok
            }),
            (None, Ok(_)) => return local_diff(local, &path, json),
        },
        LibraryCommand::Restore { path, revision } => match id_of(client, local, &path).await {
            Ok(id) => client.library_restore(&id, &RestoreRequest { revision, message: None }).await.map(|r| {
                println!("restored  {path}  now at {}", &r.revision.hash[..12]);
                Exit::Ok
            }),
            Err(e) => Err(e),
        },
        LibraryCommand::Publish { path, name, revision, description, expose, preview, draft } => {
            let id = match id_of(client, local, &path).await {
                Ok(id) => id,
                Err(e) => return Ok(refused(&e)),
            };
            let preview_png_base64 = match preview {
                Some(p) => {
                    use base64::Engine as _;
                    let bytes = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
                    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
                None => None,
            };
            let exposed = expose
                .iter()
                .map(|e| {
                    let (key, label) = e.split_once('=').map_or((e.as_str(), None), |(k, l)| (k, Some(l.to_string())));
                    ExposeRequest { key: key.to_string(), label, min: None, max: None }
                })
                .collect();
            let state = draft.then_some(TemplateState::Draft);
            let req = PublishRequest { name, workflow: id, revision, description, preview_png_base64, exposed, state };
            client.library_publish(&req).await.map(|t| {
                if json {
                    pretty(&t)
                } else {
                    println!("released  {}  ({})", t.reference, &t.revision[..12])
                }
                Exit::Ok
            })
        }
        LibraryCommand::Templates => client.library_templates().await.map(|list| {
            if json {
                pretty(&list);
            }
            for t in list.templates.iter().filter(|_| !json) {
                let keys: Vec<&str> = t.exposed.iter().map(|e| e.key.as_str()).collect();
                let state = serde_json::to_value(t.state).unwrap_or_default();
                println!(
                    "{:<32} {:<10} {}  sets {}",
                    t.reference,
                    state.as_str().unwrap_or("?"),
                    &t.revision[..12],
                    keys.join(", ")
                );
            }
            Exit::Ok
        }),
    };
    Ok(outcome.unwrap_or_else(|e| refused(&e)))
}

/// The local edits of a pulled workflow: its base against its working file.
fn local_diff(local: &LocalLibrary, path: &str, json: bool) -> Result<Exit> {
    let Some(id) = local.id_of(path) else {
        eprintln!("error: {path} is not pulled here; `switchyard library pull` first, or name two revisions");
        return Ok(Exit::Invalid);
    };
    let (base, work) = match local.base_and_work(id) {
        Ok(Some(pair)) => pair,
        Ok(None) => {
            eprintln!("error: {path}'s working file is gone");
            return Ok(Exit::Failed);
        }
        Err(e) => return Ok(sync_failed(e)),
    };
    let d = switchyard_library::diff(&base, &work);
    if json {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    } else {
        print!("{d}");
    }
    Ok(Exit::Ok)
}

/// `switchyard run TEAM/NAME@VERSION`: a pulled template's workflow, its `--set`s checked
/// against what it exposes. A path that exists is a file, whatever it looks like.
pub fn local_template(args: &mut WorkflowArgs, config: &Config) -> Result<()> {
    let text = args.workflow.to_string_lossy().into_owned();
    if args.workflow.exists() || !text.contains('@') || text.matches('/').count() != 1 {
        return Ok(());
    }
    let local = LocalLibrary::open(&root(&server_url(None, config))).map_err(|e| anyhow::anyhow!("{e}"))?;
    let kept = local.template(&text).map_err(|e| anyhow::anyhow!("{e}"))?.with_context(|| {
        format!("no file {text}, and no pulled template of that name; `switchyard library pull` fetches templates")
    })?;
    for raw in &args.overrides {
        let key = raw.split_once('=').map_or(raw.as_str(), |(k, _)| k);
        if !kept.template.exposed.iter().any(|e| e.key == key) {
            let keys: Vec<&str> = kept.template.exposed.iter().map(|e| e.key.as_str()).collect();
            bail!("{} does not let runs set {key}; it exposes {}", kept.template.reference, keys.join(", "));
        }
    }
    missing_models(&kept.template, config)?;
    if kept.template.state == TemplateState::Deprecated {
        eprintln!("warning: {} is deprecated", kept.template.reference);
    }
    let dir = std::env::temp_dir().join("switchyard-templates");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}-{}.json", kept.template.name, kept.template.version));
    std::fs::write(&path, serde_json::to_string_pretty(&kept.workflow)?)?;
    eprintln!("running {} (revision {})", kept.template.reference, &kept.template.revision[..12]);
    args.workflow = path;
    Ok(())
}

/// A template's local models that this machine lacks, or has in another version (the
/// model file's SHA-256 differs from the publisher's): said before anything runs.
fn missing_models(t: &switchyard_client::library::TemplateView, config: &Config) -> Result<()> {
    let onnx = config.onnx_settings();
    let mut problems = Vec::new();
    for need in &t.needs.models {
        let path = onnx.manifest_path(&need.model);
        match switchyard_nodes::onnx::manifest::load(&path) {
            Err(_) => problems.push(format!(
                "model {} (node {}) is not in {}",
                need.model,
                need.node,
                onnx.models_dir.display()
            )),
            Ok(m) => {
                if let Some(want) = need.manifest_hash.as_ref().filter(|w| **w != m.sha256) {
                    problems.push(format!(
                        "model {} here is {}, the template was released with {}",
                        need.model,
                        &m.sha256[..12],
                        &want[..12.min(want.len())]
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{} needs what this machine lacks: {}", t.reference, problems.join("; "))
}

fn pretty<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}
