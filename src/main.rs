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
    quiet_wayland_probe();
    if !args.command.is_service() {
        end_quietly_on_a_closed_pipe();
    }
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

/// `switchyard nodes | head -2`: Rust ignores SIGPIPE, so a print to a closed pipe fails and
/// `println!` panics. Printing commands take the default action instead, and end quietly as
/// any Unix tool does. Services keep it ignored: a vanished client must not end a server.
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: called once at start-up, before any thread is spawned; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// With no `XDG_RUNTIME_DIR` there is no Wayland session to reach, yet Mesa's Vulkan and GL
/// drivers each ask libwayland, which prints "XDG_RUNTIME_DIR is invalid" once per driver
/// while `doctor` (or a local GPU probe) lists adapters. An absolute `WAYLAND_DISPLAY` that
/// names no socket gets the same answer (no Wayland) quietly.
fn quiet_wayland_probe() {
    let runtime_dir_ok = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_absolute());
    if !runtime_dir_ok && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        // SAFETY: called at start-up, before any thread is spawned.
        unsafe { std::env::set_var("WAYLAND_DISPLAY", "/nonexistent/switchyard-no-wayland") };
    }
}
