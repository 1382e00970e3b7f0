//! What each subcommand does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use berth_process::{
    connection_schema, load_deployment_partial, process_schema, ConnectionSchema, Diagnostic,
    StartSchema,
};

use crate::cli::{CertCommand, Command};
use crate::plugins::{self, Registry};
use crate::{deploy, server, settings};

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { dir } => run_deployment(&dir),
        Command::Validate { dir } => validate(&dir),
        Command::Schema { dir, connections } => schema(&dir, connections),
        Command::Plugins { dir } => list_plugins(&dir),
        Command::Cert(command) => cert(command),
    }
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

fn deployment_dir(dir: &Path) -> anyhow::Result<PathBuf> {
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
fn check(
    dir: &Path,
    registry: &Registry,
) -> Result<(settings::HostSettings, deploy::Plan), Vec<Diagnostic>> {
    let settings = settings::load(dir).map_err(|d| vec![d])?;
    let (deployment, diagnostics) = load_deployment_partial(dir);
    let plan = deploy::plan(deployment, registry, diagnostics)?;
    Ok((settings, plan))
}

fn report(dir: &Path, diagnostics: &[Diagnostic]) {
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

fn run_deployment(dir: &Path) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let registry = load_registry(&dir);
    let (settings, plan) = match check(&dir, &registry) {
        Ok(checked) => checked,
        Err(diagnostics) => {
            report(&dir, &diagnostics);
            return Ok(ExitCode::FAILURE);
        }
    };
    tracing::info!(
        deployment = %dir.display(),
        plugins = registry.plugins.len(),
        listeners = plan.listeners.len(),
        "starting"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("berth")
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(server::serve(plan, settings))?;
    Ok(ExitCode::SUCCESS)
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
