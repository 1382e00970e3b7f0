//! `berth`: run, check and describe a deployment of processes that receive documents from
//! trading partners.

mod admin;
mod cert;
mod cli;
mod commands;
mod control;
mod deploy;
mod documents;
mod ids;
mod metrics;
mod outbound;
mod plugin_log;
mod plugins;
mod retention;
mod run;
mod runtime;
mod server;
mod settings;
mod topology;

use std::process::ExitCode;

// Serving a request allocates many small strings (properties, headers); mimalloc serves them
// measurably faster than glibc's allocator under load. Plugins keep their own allocator:
// everything that crosses the ABI carries the functions to free it with (abi_stable).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.log_format);
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("berth: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: cli::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Text => builder.init(),
        cli::LogFormat::Json => builder.json().init(),
    }
}
