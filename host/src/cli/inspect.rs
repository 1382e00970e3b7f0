//! `berth validate`, `berth schema` and `berth plugins`: what a deployment and its plugins say
//! about themselves, without binding anything.

use std::path::Path;
use std::process::ExitCode;

use berth_process::{connection_schema, process_schema, ConnectionSchema, StartSchema};

use crate::deploy::certs::{due, unix_now, CertificateRecord};
use crate::deploy::{check, deployment_dir, load_registry, report};

pub fn validate(dir: &Path) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let registry = load_registry(&dir);
    match check(&dir, &registry) {
        Ok((settings, plan)) => {
            warn_expiring(&plan.certificates, settings.certificates.warn_days);
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

/// A warning (not a failure) for each certificate within the warning window of berth.yaml.
fn warn_expiring(certificates: &[CertificateRecord], warn_days: u32) {
    for (record, days) in due(certificates, unix_now(), warn_days) {
        let subject = record.details.as_ref().map_or("", |d| d.subject.as_str());
        let when = if days < 0 {
            format!(
                "EXPIRED {} day{} ago",
                -days,
                if days == -1 { "" } else { "s" }
            )
        } else {
            format!("expires in {days} day{}", if days == 1 { "" } else { "s" })
        };
        eprintln!(
            "warning: certificate {} ({subject}) of process `{}` ({}) {when}",
            record.file, record.process, record.role
        );
    }
}

pub fn schema(dir: &Path, connections: bool) -> anyhow::Result<ExitCode> {
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

pub fn list_plugins(dir: &Path) -> anyhow::Result<ExitCode> {
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
