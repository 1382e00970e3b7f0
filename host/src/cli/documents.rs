//! `berth documents`: list, show and export stored documents (beside a running berth, through a
//! read-only view), and retry failed ones (with the store to itself).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use berth_process::{load_deployment, Runner};
use berth_store::{Query, Store, StoreError, StoreOptions, StoredPayload};

use super::args::DocumentsCommand;
use crate::deploy::deployment_dir;
use crate::documents::evidence::{evidence, Part};
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
                older_than: None,
                limit,
                offset: 0,
            };
            runtime.block_on(crate::documents::list(&reader()?, &query))?
        }
        DocumentsCommand::Show { id } => {
            runtime.block_on(crate::documents::show(&reader()?, &id))?
        }
        DocumentsCommand::Export {
            id,
            raw,
            answer,
            output,
            ..
        } => {
            let part = match (raw, answer) {
                (true, _) => Part::Raw,
                (_, true) => Part::Answer,
                _ => Part::Payload,
            };
            let reader = reader()?;
            let (document, raw) = runtime.block_on(async {
                let document = reader.get(&id).await?;
                let raw = match part {
                    Part::Raw => reader.raw(&id).await?,
                    _ => None,
                };
                Ok::<_, StoreError>((document, raw))
            })?;
            let document = document.ok_or_else(|| anyhow::anyhow!("no document {id}"))?;
            let file = evidence(document, raw, part).map_err(anyhow::Error::msg)?;
            export(file.content, output.as_deref())?;
            return Ok(ExitCode::SUCCESS);
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

/// Copy the content to `output` or standard output as it is read: a payload larger than memory
/// passes through a small buffer. A file is written beside its final name and renamed once
/// complete, so that a failed export never leaves a truncated file under that name.
fn export(content: StoredPayload, output: Option<&Path>) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let mut reader = content.open()?;
    match output {
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            std::io::copy(&mut reader, &mut out).context("writing to standard output")?;
            out.flush()?;
        }
        Some(file) => {
            let partial = file.with_extension(match file.extension() {
                Some(ext) => format!("{}.partial", ext.to_string_lossy()),
                None => "partial".to_string(),
            });
            let mut out = std::fs::File::create(&partial)
                .with_context(|| format!("cannot create {}", partial.display()))?;
            std::io::copy(&mut reader, &mut out)
                .with_context(|| format!("writing {}", partial.display()))?;
            out.sync_all()?;
            std::fs::rename(&partial, file)
                .with_context(|| format!("cannot rename to {}", file.display()))?;
        }
    }
    Ok(())
}
