//! The command line: parse it, set up logging, and hand each subcommand to its module.

mod args;
mod cert;
mod certs;
mod cluster;
mod control;
mod documents;
mod inspect;
mod store_copy;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command, LogFormat, StoreCommand};
use args::{ClusterCommand, ListenersCommand};

/// `berth`'s whole command line: what `main` runs.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("berth: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Run one subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { dir } => crate::run::run(&dir),
        Command::Validate { dir } => inspect::validate(&dir),
        Command::Schema { dir, connections } => inspect::schema(&dir, connections),
        Command::Plugins { dir } => inspect::list_plugins(&dir),
        Command::Cert(command) => cert::run(command),
        Command::Certs { dir } => certs::run(&dir),
        Command::Status { dir } => control::run(&dir, control::Action::Status),
        Command::Listeners { dir, command } => {
            let action = match command {
                None => control::Action::List,
                Some(command) => {
                    let (action, target) = match command {
                        ListenersCommand::Pause(t) => ("pause", t),
                        ListenersCommand::Resume(t) => ("resume", t),
                        ListenersCommand::Restart(t) => ("restart", t),
                    };
                    control::Action::Control {
                        action: action.to_string(),
                        name: if target.all { None } else { target.name },
                    }
                }
            };
            control::run(&dir, action)
        }
        Command::Cluster {
            dir,
            command: ClusterCommand::Status,
        } => cluster::status(&dir),
        Command::Documents { dir, command } => documents::run(&dir, command),
        Command::Store(StoreCommand::Copy {
            dir,
            to,
            from,
            password_file,
            append,
        }) => {
            let direction = match (to, from) {
                (Some(url), _) => store_copy::Direction::ToPostgres(url),
                (None, Some(url)) => store_copy::Direction::FromPostgres(url),
                (None, None) => anyhow::bail!("say where to copy: --to URL or --from URL"),
            };
            store_copy::run(&dir, direction, password_file.as_deref(), append)
        }
    }
}

/// Rows of cells as lines, each column as wide as its widest cell, two spaces between columns
/// and none at a line's end: the tables of `berth certs`.
pub(crate) fn aligned<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
