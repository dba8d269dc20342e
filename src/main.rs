//! `switchyard`: thin glue over the engine and node crates. Parses flags, builds the
//! registry and executor, and maps outcomes to exit codes.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: validating and running large graphs is allocation-bound; it halved compile time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // wgpu_hal logs each graphics backend that fails to start while probing (EGL without a
    // display, say) as an error; those are expected here, so they stay quiet unless asked for.
    let args = cli::args::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,wgpu_hal=off"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let code = match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            cli::Exit::Failed
        }
    };
    ExitCode::from(code as u8)
}
