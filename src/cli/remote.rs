//! `switchyard submit` and `switchyard runs`: the server's client, with the same exit codes
//! as a local run (0 succeeded, 1 failed, 2 refused, 3 over budget, 130 cancelled).

use anyhow::{Context, Result};
use switchyard_client::client::{Client, ClientError};
use switchyard_client::protocol::{EventMessage, Problem, RunView, SubmitRequest};
use switchyard_session::settings::Config;

use super::Exit;
use super::args::{RunsCommand, ServerArgs, SubmitArgs};

/// The server and its key: flags, then the environment, then the settings file.
pub(super) fn client(args: &ServerArgs, config: &Config) -> Result<Client> {
    let url = server_url(args.server.as_deref(), config);
    let token = std::env::var("SWITCHYARD_TOKEN")
        .ok()
        .or_else(|| config.server.token.clone())
        .context("no API key: set SWITCHYARD_TOKEN, or token in the settings file's [server] section")?;
    Ok(Client::new(&url, &token))
}

/// The server's URL: the flag, then `SWITCHYARD_SERVER`, then the settings file.
pub(super) fn server_url(flag: Option<&str>, config: &Config) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("SWITCHYARD_SERVER").ok())
        .or_else(|| config.server.url.clone())
        .unwrap_or_else(|| "http://127.0.0.1:8188".into())
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// The exit code for a refusal, after saying why.
pub(super) fn refused(e: &ClientError) -> Exit {
    eprintln!("error: {e}");
    if let ClientError::Refused { details: Some(details), .. } = e
        && let Ok(problems) = serde_json::from_value::<Vec<Problem>>(details.clone())
    {
        for p in problems {
            let at = p.node.map(|n| format!("{n}: ")).unwrap_or_default();
            let help = p.help.map(|h| format!(" ({h})")).unwrap_or_default();
            eprintln!("  {at}{} [{}]{help}", p.message, p.code);
        }
    }
    match e {
        ClientError::Refused { status: 402, .. } => Exit::OverBudget,
        ClientError::Refused { status: 400..=499, .. } => Exit::Invalid,
        _ => Exit::Failed,
    }
}

fn exit_of(run: &RunView) -> Exit {
    match run.state.as_str() {
        "succeeded" => Exit::Ok,
        "cancelled" => Exit::Cancelled,
        _ => Exit::Failed,
    }
}

fn print_run(run: &RunView, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(run).unwrap_or_default());
        return;
    }
    let money = run.charged().map_or_else(
        || format!("quoted {}-{} cr", run.quote.min, run.quote.max),
        |c| format!("quoted {}-{} cr, charged {c} cr", run.quote.min, run.quote.max),
    );
    println!("{}  {:<10} attempts {}  {money}", run.id, run.state, run.attempts);
    if let Some(e) = &run.error {
        println!("  error: {e}");
    }
}

/// One line per node event that people care about.
fn show_event(event: &EventMessage) {
    let Some(body) = &event.event else { return };
    match (event.kind.as_str(), body.what.as_deref()) {
        ("run", _) => eprintln!("run {}", body.state.as_deref().unwrap_or("?")),
        ("node", Some(what @ ("started" | "finished" | "cached" | "skipped" | "cancelled"))) => {
            eprintln!("  {:<20} {what}", body.node.as_deref().unwrap_or("?"));
        }
        ("node", Some("failed")) => eprintln!(
            "  {:<20} failed: {}",
            body.node.as_deref().unwrap_or("?"),
            body.message.as_deref().unwrap_or_default()
        ),
        ("missed" | "lagged", _) => eprintln!("(some events were missed; the run's state is still exact)"),
        _ => {}
    }
}

/// A positional argument that is no file but reads `team/name@version`: a template.
fn template_ref(path: &std::path::Path) -> Option<String> {
    let text = path.to_string_lossy();
    let looks = text.contains('@') && text.matches('/').count() == 1;
    (!path.exists() && looks).then(|| text.into_owned())
}

pub fn submit(args: SubmitArgs, config: &Config) -> Result<Exit> {
    let template = template_ref(&args.workflow);
    let workflow: serde_json::Value = match &template {
        Some(_) => serde_json::Value::Null,
        None => {
            let text = std::fs::read_to_string(&args.workflow)
                .with_context(|| format!("cannot read {}", args.workflow.display()))?;
            match serde_json::from_str(&text) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("error: {} is not JSON: {e}", args.workflow.display());
                    return Ok(Exit::Invalid);
                }
            }
        }
    };
    let request = SubmitRequest {
        workflow,
        template,
        set: args.set.clone(),
        policy: args.policy.clone(),
        budget: args.budget,
        account: args.account.clone(),
        member: args.member.clone(),
        priority: args.priority,
        max_wait_s: args.max_wait_s,
        on_wait: args.on_wait.clone(),
        when: args.off_peak.then(|| "off-peak".into()),
        routes: args.routes.clone(),
    };
    let client = client(&args.server, config)?;
    runtime()?.block_on(async {
        let run = match client.submit(&request, args.idempotency_key.as_deref()).await {
            Ok(run) => run,
            Err(e) => return Ok(refused(&e)),
        };
        if !args.wait {
            print_run(&run, args.server.json);
            return Ok(Exit::Ok);
        }
        eprintln!("queued {} (quoted {}-{} cr)", run.id, run.quote.min, run.quote.max);
        watch(&client, &run.id, args.server.json).await
    })
}

async fn watch(client: &Client, id: &str, json: bool) -> Result<Exit> {
    match client
        .watch(id, |e| {
            if !json {
                show_event(e)
            }
        })
        .await
    {
        Ok(run) => {
            print_run(&run, json);
            Ok(exit_of(&run))
        }
        Err(e) => Ok(refused(&e)),
    }
}

pub fn runs(command: RunsCommand, server: ServerArgs, config: &Config) -> Result<Exit> {
    let client = client(&server, config)?;
    runtime()?.block_on(async {
        let outcome = match command {
            RunsCommand::List { state, limit } => {
                client.runs(state.as_deref(), limit.clamp(1, 200), None).await.map(|page| {
                    if server.json {
                        println!("{}", serde_json::to_string_pretty(&page).unwrap_or_default());
                    } else {
                        page.runs.iter().for_each(|r| print_run(r, false));
                    }
                    Exit::Ok
                })
            }
            RunsCommand::Show { id } => client.run(&id).await.map(|run| {
                print_run(&run, server.json);
                Exit::Ok
            }),
            RunsCommand::Watch { id } => return watch(&client, &id, server.json).await,
            RunsCommand::Cancel { id } => client.cancel(&id).await.map(|state| {
                println!("{id}  {state}");
                Exit::Ok
            }),
            RunsCommand::Priority { id, priority } => client.set_priority(&id, priority).await.map(|p| {
                println!("{id}  priority {p}");
                Exit::Ok
            }),
            RunsCommand::Move { id, to } => client.move_run(&id, &to).await.map(|other| {
                match other {
                    Some(other) => println!("{id}  moved to the {to} (changed places with {other})"),
                    None => println!("{id}  already at the {to}"),
                }
                Exit::Ok
            }),
        };
        Ok(outcome.unwrap_or_else(|e| refused(&e)))
    })
}
