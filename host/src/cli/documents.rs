//! `berth documents`: list and show stored documents (beside a running berth, through a
//! read-only view), and retry failed ones (with the store to itself).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use berth_process::{load_deployment, Runner};
use berth_store::{Query, Store, StoreError, StoreOptions};

use super::args::DocumentsCommand;
use crate::deploy::deployment_dir;
use crate::intake::Intake;
use crate::settings;

pub fn run(dir: &Path, command: DocumentsCommand) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let settings = settings::load(&dir).map_err(|d| anyhow::anyhow!("{d}"))?;
    anyhow::ensure!(
        settings.store.enabled,
        "the message store is off in berth.yaml: no documents are kept"
    );
    // Listing and showing read beside a running berth; retrying writes, so it needs the
    // embedded store to itself (a PostgreSQL store takes writers side by side).
    let reader = || crate::store::open_reader(&dir, &settings.store);
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
            let (config, place) = crate::store::backend(&dir, &settings.store)?;
            let store = match Store::open_backend(&config, StoreOptions::default()) {
                Err(StoreError::Locked { .. }) => anyhow::bail!(
                    "berth is running on the message store {place}: stop it to retry documents \
                     from the command line"
                ),
                other => other?,
            };
            let deployment = load_deployment(&dir).map_err(|diagnostics| {
                let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("the deployment has problems:\n{}", lines.join("\n"))
            })?;
            runtime.block_on(async {
                // The same intake `berth run` uses, over the processes as deployed on disk.
                let intake = Intake::new(Runner::new(&dir), Some(store));
                let processes: Vec<_> = deployment.processes.into_iter().map(Arc::new).collect();
                intake.deploy(&processes);
                intake.retry(&ids, failed).await
            })?
        }
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
