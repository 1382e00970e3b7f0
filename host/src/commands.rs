//! What each subcommand does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use berth_process::{
    connection_schema, load_deployment_partial, process_schema, ConnectionSchema, Diagnostic,
    StartSchema,
};

use crate::cli::{CertCommand, Command, DocumentsCommand, ListenersCommand};
use crate::plugins::{self, Registry};
use crate::settings::StoreSettings;
use crate::{deploy, settings};
use berth_store::{Query, Store, StoreError, StoreReader};

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { dir } => crate::run::run(&dir),
        Command::Validate { dir } => validate(&dir),
        Command::Schema { dir, connections } => schema(&dir, connections),
        Command::Plugins { dir } => list_plugins(&dir),
        Command::Cert(command) => cert(command),
        Command::Status { dir } => crate::control::run(&dir, crate::control::Action::Status),
        Command::Listeners { dir, command } => {
            let action = match command {
                None => crate::control::Action::List,
                Some(command) => {
                    let (action, target) = match command {
                        ListenersCommand::Pause(t) => ("pause", t),
                        ListenersCommand::Resume(t) => ("resume", t),
                        ListenersCommand::Restart(t) => ("restart", t),
                    };
                    crate::control::Action::Control {
                        action: action.to_string(),
                        name: if target.all { None } else { target.name },
                    }
                }
            };
            crate::control::run(&dir, action)
        }
        Command::Documents { dir, command } => documents(&dir, command),
    }
}

fn documents(dir: &Path, command: DocumentsCommand) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let settings = settings::load(&dir).map_err(|d| anyhow::anyhow!("{d}"))?;
    anyhow::ensure!(
        settings.store.enabled,
        "the message store is off in berth.yaml: no documents are kept"
    );
    let data_dir = dir.join(&settings.store.data_dir);
    // Listing and showing read beside a running berth; retrying writes, so it needs the store
    // to itself.
    let reader = || StoreReader::open(&data_dir).map_err(anyhow::Error::from);
    // The store is reached through futures (a server database would be); one thread runs them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let text = match command {
        DocumentsCommand::List {
            process,
            state,
            since,
            until,
            properties,
            limit,
        } => {
            let date = |text: Option<String>| {
                text.map(|t| crate::documents::parse_date(&t))
                    .transpose()
                    .map_err(anyhow::Error::msg)
            };
            let properties = properties
                .iter()
                .map(|p| {
                    p.split_once('=')
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .ok_or_else(|| anyhow::anyhow!("`{p}`: write a property as NAME=VALUE"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let query = Query {
                process,
                state: state
                    .as_deref()
                    .map(crate::documents::parse_state)
                    .transpose()?,
                from: date(since)?,
                to: date(until)?,
                properties,
                limit,
                offset: 0,
            };
            runtime.block_on(crate::documents::list(&reader()?, &query))?
        }
        DocumentsCommand::Show { id } => {
            runtime.block_on(crate::documents::show(&reader()?, &id))?
        }
        DocumentsCommand::Retry { ids, failed } => {
            anyhow::ensure!(failed || !ids.is_empty(), "name document ids, or --failed");
            let store = match Store::open(&data_dir) {
                Err(StoreError::Locked { .. }) => anyhow::bail!(
                    "berth is running on {}: stop it to retry documents from the command line",
                    data_dir.display()
                ),
                other => other?,
            };
            runtime.block_on(crate::documents::retry(&store, &dir, &ids, failed))?
        }
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn cert(command: CertCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertCommand::New {
            name,
            out,
            common_name,
            bits,
            days,
            pkcs12_password,
        } => {
            let request = crate::cert::NewCertificate {
                common_name: common_name.unwrap_or_else(|| name.clone()),
                name,
                out_dir: out,
                bits,
                days,
                pkcs12_password,
            };
            for file in crate::cert::new_certificate(&request)? {
                println!("wrote {}", file.display());
            }
        }
        CertCommand::Show { file, password } => {
            print!("{}", crate::cert::show(&file, password.as_deref())?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn deployment_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let absolute = dir
        .canonicalize()
        .with_context(|| format!("deployment folder {}", dir.display()))?;
    anyhow::ensure!(
        absolute.is_dir(),
        "{} is not a folder; give the deployment folder",
        dir.display()
    );
    Ok(absolute)
}

fn load_registry(dir: &Path) -> Registry {
    plugins::load_all(&plugins::plugin_dirs(dir))
}

/// Everything `run` and `validate` check, without binding: diagnostics on failure.
/// Everything `run` and `validate` check, without binding: diagnostics on failure. Loads the
/// plugins afresh, so that a redeploy picks up new and changed plugin files.
pub fn check_deployment(
    dir: &Path,
) -> Result<(settings::HostSettings, deploy::Plan), Vec<Diagnostic>> {
    check(dir, &load_registry(dir))
}

fn check(
    dir: &Path,
    registry: &Registry,
) -> Result<(settings::HostSettings, deploy::Plan), Vec<Diagnostic>> {
    let settings = settings::load(dir).map_err(|d| vec![d])?;
    let (deployment, diagnostics) = load_deployment_partial(dir);
    let plan = deploy::plan(deployment, registry, diagnostics)?;
    Ok((settings, plan))
}

pub fn report(dir: &Path, diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        eprintln!("error: {diagnostic}");
    }
    eprintln!(
        "berth: {} problem{} in deployment {}",
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" },
        dir.display()
    );
}

/// The deployment's message store, or `None` when berth.yaml turns it off.
pub fn open_store(dir: &Path, settings: &StoreSettings) -> anyhow::Result<Option<Store>> {
    if !settings.enabled {
        tracing::warn!(
            "the message store is off: answers do not promise that documents survive a crash"
        );
        return Ok(None);
    }
    let data_dir = dir.join(&settings.data_dir);
    let store = Store::open(&data_dir)
        .with_context(|| format!("cannot open the message store in {}", data_dir.display()))?;
    Ok(Some(store))
}

fn validate(dir: &Path) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let registry = load_registry(&dir);
    match check(&dir, &registry) {
        Ok((_, plan)) => {
            let processes: usize = plan.listeners.iter().map(|l| l.processes.len()).sum();
            println!(
                "ok: {processes} process{} on {} listener{} in {}",
                if processes == 1 { "" } else { "es" },
                plan.listeners.len(),
                if plan.listeners.len() == 1 { "" } else { "s" },
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            report(&dir, &diagnostics);
            Ok(ExitCode::FAILURE)
        }
    }
}

fn schema(dir: &Path, connections: bool) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let registry = load_registry(&dir);
    let kinds = registry.plugins.iter().flat_map(|p| p.kinds.iter());
    let schema = if connections {
        let conns: Vec<ConnectionSchema> = kinds
            .filter(|k| k.needs_connection)
            .map(|k| ConnectionSchema {
                connector: k.name.clone(),
                settings: k.connection_schema.clone(),
            })
            .collect();
        connection_schema(&conns)
    } else {
        let starts: Vec<StartSchema> = kinds
            .map(|k| StartSchema {
                connector: k.name.clone(),
                operation: k.operation_schema.clone(),
                needs_connection: k.needs_connection,
            })
            .collect();
        process_schema(&starts)
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}

fn list_plugins(dir: &Path) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let registry = load_registry(&dir);
    if registry.plugins.is_empty() {
        println!("no plugins loaded");
    }
    for plugin in &registry.plugins {
        println!(
            "{} {}  {}",
            plugin.name,
            plugin.version,
            plugin.file.display()
        );
        for kind in &plugin.kinds {
            println!("    connector {:<24} {}", kind.name, kind.description);
        }
    }
    for refused in &registry.refused {
        println!("refused {}: {}", refused.file.display(), refused.reason);
    }
    Ok(ExitCode::SUCCESS)
}
