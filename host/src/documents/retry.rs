//! Running failed documents again, here and now, through the deployed version of their process.

use std::collections::HashMap;

use berth_process::{load_deployment, Document, RunOutcome, Runner};
use berth_store::{Finish, Query, State, Store};

/// Retry `ids` (or every failed document when `ids` is empty and `all_failed` is set).
pub async fn retry(
    store: &Store,
    deployment_dir: &std::path::Path,
    ids: &[String],
    all_failed: bool,
) -> anyhow::Result<String> {
    let deployment = load_deployment(deployment_dir).map_err(|diagnostics| {
        let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the deployment has problems:\n{}", lines.join("\n"))
    })?;
    let processes: HashMap<&str, _> = deployment
        .processes
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let ids: Vec<String> = if all_failed {
        let failed = store
            .query(&Query {
                state: Some(State::Failed),
                ..Query::default()
            })
            .await?;
        failed.into_iter().map(|d| d.id).collect()
    } else {
        ids.to_vec()
    };
    let runner = Runner::new(deployment_dir);
    let mut out = String::new();
    let (mut processed, mut failed) = (0, 0);
    for id in ids {
        let Some(stored) = store.get(&id).await? else {
            anyhow::bail!("no document `{id}` in the store");
        };
        if stored.state != State::Failed {
            out.push_str(&format!(
                "{id}: {} (only failed documents are retried)\n",
                stored.state.as_str()
            ));
            continue;
        }
        let Some(process) = processes.get(stored.process.as_str()) else {
            out.push_str(&format!(
                "{id}: process `{}` is not deployed; left failed\n",
                stored.process
            ));
            failed += 1;
            continue;
        };
        let payload = super::payload_bytes(&stored).await?;
        store.mark_for_retry(&id).await?;
        let document = Document {
            id: id.clone(),
            payload,
            properties: stored.properties.into_iter().collect(),
        };
        match runner.run(process, document).await {
            RunOutcome::Completed { .. } => {
                store.finish(&id, Finish::Processed).await?;
                out.push_str(&format!("{id}: processed\n"));
                processed += 1;
            }
            RunOutcome::Failed { step, reason } => {
                let error = format!("{step}: {reason}");
                store
                    .finish(
                        &id,
                        Finish::Failed {
                            error: error.clone(),
                        },
                    )
                    .await?;
                out.push_str(&format!("{id}: failed again: {error}\n"));
                failed += 1;
            }
        }
    }
    out.push_str(&format!("{processed} processed, {failed} failed\n"));
    Ok(out)
}
