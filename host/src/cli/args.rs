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
    /// The listeners of a running berth: list them, or pause, resume or restart them.
    Listeners {
        /// The deployment folder of the running berth.
        #[arg(long, short = 'd', default_value = ".", global = true)]
        dir: PathBuf,
        #[command(subcommand)]
        command: Option<ListenersCommand>,
    },
    /// The running berth's version, uptime, listener counts and last deploy error.
    Status {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// The nodes sharing the running berth's store.
    Cluster {
        /// The deployment folder of the running berth.
        #[arg(long, short = 'd', default_value = ".", global = true)]
        dir: PathBuf,
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Find received documents, show one, or run failed ones again.
    Documents {
        /// The deployment folder.
        #[arg(long, short = 'd', default_value = ".", global = true)]
        dir: PathBuf,
        #[command(subcommand)]
        command: DocumentsCommand,
    },
    /// The message store itself: copy it between the embedded store and PostgreSQL.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Every certificate and key the deployment uses: which process uses it for what, subject,
    /// SHA-256 fingerprint and days left, soonest expiry first.
    Certs {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Make keys and certificates, and show what certificate files hold.
    #[command(subcommand)]
    Cert(CertCommand),
    /// List the loaded plugins and the files that were refused.
    Plugins {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum CertCommand {
    /// Create an RSA key and a self-signed certificate (PEM; PKCS#12 with --pkcs12-password).
    New {
        /// Base name of the files: NAME.key.pem, NAME.cert.pem, NAME.p12.
        name: String,
        /// Folder to write into.
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// Subject common name (default: NAME); an AS2 ID is customary.
        #[arg(long)]
        common_name: Option<String>,
        /// RSA key size, 2048 to 4096.
        #[arg(long, default_value_t = 2048)]
        bits: u32,
        /// Validity in days.
        #[arg(long, default_value_t = 730)]
        days: u32,
        /// Also write NAME.p12 protected by this password.
        #[arg(long)]
        pkcs12_password: Option<String>,
    },
    /// Print subject, issuer, serial, validity and fingerprints of each certificate in a file
    /// (PEM, DER, PKCS#12, PKCS#7).
    Show {
        file: PathBuf,
        /// Password of a PKCS#12 file.
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Copy every document (payloads, raw requests, answers, properties, history, states and
    /// duplicate keys) from the deployment's embedded store into PostgreSQL (--to), or from
    /// PostgreSQL into the deployment's embedded store (--from). berth must not run on either.
    Copy {
        /// The deployment folder (its berth.yaml names the embedded store's data_dir).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Copy the embedded store into this database: postgres://USER@HOST:PORT/DATABASE.
        #[arg(long, conflicts_with = "from", required_unless_present = "from")]
        to: Option<String>,
        /// Copy this database into the embedded store.
        #[arg(long)]
        from: Option<String>,
        /// A file holding the database password (default: berth.yaml's store.password_file).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Copy into a store that already holds documents (those with an id already there are
        /// skipped, so an interrupted copy can be run again); refused without it.
        #[arg(long)]
        append: bool,
    },
}

#[derive(Subcommand)]
pub enum DocumentsCommand {
    /// List documents, newest first.
    List {
        #[arg(long)]
        process: Option<String>,
        /// received, processed, failed or duplicate.
        #[arg(long)]
        state: Option<String>,
        /// Received at or after this date (UTC): 2026-11-23 or 2026-11-23T14:05:00Z.
        #[arg(long)]
        since: Option<String>,
        /// Received before this date (UTC).
        #[arg(long)]
        until: Option<String>,
        /// A property that must match exactly, e.g. `--property file_name=po-1001.edi`; repeat
        /// for several.
        #[arg(long = "property", value_name = "NAME=VALUE")]
        properties: Vec<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Properties, history and the answer sent for one document.
    Show { id: String },
    /// Write one document's evidence: its payload (the default), the raw request as received,
    /// or the answer sent (the MDN); to standard output unless `-o` names a file.
    Export {
        id: String,
        /// The payload the process received.
        #[arg(long, group = "part")]
        payload: bool,
        /// The request as received: request line, headers and body.
        #[arg(long, group = "part")]
        raw: bool,
        /// The answer sent: the MDN, or the HTTP answer's text.
        #[arg(long, group = "part")]
        answer: bool,
        /// Write to this file instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Run failed documents through their process again.
    Retry {
        /// Document ids.
        ids: Vec<String>,
        /// Every failed document.
        #[arg(long, conflicts_with = "ids")]
        failed: bool,
    },
}

#[derive(Subcommand)]
pub enum ListenersCommand {
    /// Answer new requests with 503 and Retry-After; requests in flight finish.
    Pause(Target),
    /// Serve again; only a paused listener can be resumed.
    Resume(Target),
    /// Reload the process from disk, reopen and rebind its listener; paused stays paused.
    Restart(Target),
}

#[derive(clap::Args)]
pub struct Target {
    /// The listener (process) name.
    #[arg(required_unless_present = "all")]
    pub name: Option<String>,
    /// Every listener.
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
}

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Each node: address, version, state, deployment fingerprint, last heartbeat, listeners.
    Status,
}
