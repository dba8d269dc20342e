//! The subcommands. Each reads its flags, calls the library crates, and returns an exit code.

pub mod args;
mod billing;
mod catalog;
mod comfy;
mod credits;
mod doctor;
mod farm;
mod farm_plan;
mod farm_submit;
mod history;
mod library;
mod load;
mod mock;
mod models;
mod placement;
mod preflight;
mod progress;
mod quote;
mod reconcile;
mod remote;
mod report;
mod run;
mod serve;
mod spend;
mod summary;
mod worker;

use anyhow::Result;

use args::{Cli, Command, ExportTo, ImportFrom};
use switchyard_nodes::cloud::kept::KeptResults;
use switchyard_session::settings::Config;

/// Process exit codes, as documented in the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    Failed = 1,
    Invalid = 2,
    OverBudget = 3,
    Cancelled = 130,
}

pub fn dispatch(cli: Cli) -> Result<Exit> {
    let config = match Config::discover(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    // Only runs make paid calls, so only they keep paid results; a quote looks them up.
    let kept = match &cli.command {
        Command::Run(args) => KeptResults::at_or_default(args.paid_results.clone()),
        Command::Quote(args) => KeptResults::at_or_default(args.paid_results.clone()),
        _ => KeptResults::none(),
    };
    let registry = switchyard_nodes::registry_keeping(&config, kept);
    let mut command = cli.command;
    if let Some(workflow) = command.workflow_args() {
        workflow.inputs = config.input_roots();
        if let Err(e) = library::local_template(workflow, &config) {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    }
    match command {
        Command::Run(args) => run::run(&registry, args, &config.onnx_settings()),
        Command::Validate(args) => load::validate(&registry, &args, &config),
        Command::Nodes { json } => catalog::print_nodes(&registry, json),
        Command::Doctor { json, cache_dir } => doctor::doctor(json, cache_dir, &config),
        Command::Fmt { files, check } => load::format_files(&files, check),
        Command::Models { json, verify } => models::list(&config.onnx_settings().models_dir, json, verify),
        Command::MockProviders { port } => mock::serve(port),
        Command::Credits(args) => credits::run(args),
        Command::Reconcile(args) => reconcile::run(args),
        Command::Billing(args) => billing::run(args),
        Command::Report { command: args::ReportCommand::Usage(args) } => report::usage(args),
        Command::Import { from: ImportFrom::Comfy { file, out } } => comfy::import(&registry, &file, out.as_deref()),
        Command::Export { to: ExportTo::Comfy { workflow, out } } => {
            comfy::export(&registry, &workflow, out.as_deref())
        }
        Command::Serve(args) => serve::serve(args, config),
        Command::Submit(args) => remote::submit(args, &config),
        Command::Runs { command, server } => remote::runs(command, server, &config),
        Command::Library { command, server } => library::library(command, server, &config),
        Command::Farm { command, database, json } => {
            farm::farm(command, database, json, &registry, &config.onnx_settings(), config.input_roots())
        }
        Command::Worker(args) => worker::worker(args, registry, &config),
        Command::WorkerTask(args) => worker::worker_task(args, registry, &config),
        Command::Quote(args) => quote::quote(&registry, &args, &config.onnx_settings()),
        Command::Schema { catalog } => {
            let schema = if catalog {
                switchyard_session::catalog::json_schema()
            } else {
                switchyard_engine::format::json_schema()
            };
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(Exit::Ok)
        }
    }
}
