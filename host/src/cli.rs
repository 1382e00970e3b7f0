//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Receive documents from trading partners and run processes on them"
)]
pub struct Cli {
    /// Log lines as human-readable text or as JSON objects.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve a deployment until SIGINT or SIGTERM.
    Run {
        /// The deployment folder (berth.yaml, connections/, processes/, plugins/).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Check every connection and process file of a deployment without binding ports.
    Validate {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Print the JSON Schema of process files (or connection files), with every loaded
    /// connector's settings, for a YAML language server.
    Schema {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Print the schema of connection files instead.
        #[arg(long)]
        connections: bool,
    },
    /// List the loaded plugins and the files that were refused.
    Plugins {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}
