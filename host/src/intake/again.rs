//! Stored documents that run again: those a crash or a kill left unfinished (at start), and
//! failed ones an operator retries (CLI or admin API). Both run through the live runner and the
//! deployed version of their process, and are recorded the way a received document is.

use berth_process::{Document, RunOutcome};
use berth_store::{Finish, Query, State, StoreError, StoredDocument, StoredPayload};

use super::{record, Intake};

impl Intake {
    /// Run again every stored document whose process had not finished (a crash, a kill): all
    /// of them on the embedded store; on a cluster's store, this node's own (the others' are
    /// theirs, or taken over by [`Intake::run_again`] when they die).
    pub async fn recover(&self) {
        let Some(store) = self.store() else { return };
        let unfinished = match store.unfinished().await {
            Ok(unfinished) => unfinished,
            Err(error) => {
                tracing::error!(%error, "cannot read unfinished documents");
                return;
            }
        };
        if unfinished.is_empty() {
            return;
        }
        tracing::info!(
            documents = unfinished.len(),
            "running documents left unfinished by the last stop"
        );
        self.run_again(unfinished).await;
    }

    /// Run stored unfinished documents again, one after the other: the recovery path, for
    /// those left by this node's last stop and those taken over from a dead node.
    pub async fn run_again(&self, unfinished: Vec<StoredDocument>) {
        for stored in unfinished {
            let id = stored.id.clone();
            let payload = match readable(&stored).await {
                Ok(payload) => payload,
                Err(error) => {
                    // Left `received`: the next start tries again.
                    tracing::error!(document = %id, %error, "cannot read a document to recover");
                    continue;
                }
            };
            match self.run_stored(stored, payload).await {
                Ok(RunOutcome::Completed { .. }) => {
                    tracing::info!(document = %id, "recovered document processed")
                }
                Ok(RunOutcome::Failed { .. }) => {}
                Err(error) => {
                    tracing::error!(document = %id, %error, "cannot recover a document")
                }
            }
        }
    }

    /// Run failed documents again: `ids`, or every failed one when `all_failed`. Returns a
    /// line per document and a count, as the CLI prints it.
    pub async fn retry(&self, ids: &[String], all_failed: bool) -> anyhow::Result<String> {
        let Some(store) = self.store() else {
            anyhow::bail!("the message store is off: no documents are kept");
        };
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
            if self.process(&stored.process).is_none() {
                out.push_str(&format!(
                    "{id}: process `{}` is not deployed; left failed\n",
                    stored.process
                ));
                failed += 1;
                continue;
            }
            // Read before the document changes state: one that cannot be read stays failed.
            let payload = readable(&stored).await?;
            store.mark_for_retry(&id).await?;
            match self.run_stored(stored, payload).await? {
                RunOutcome::Completed { .. } => {
                    out.push_str(&format!("{id}: processed\n"));
                    processed += 1;
                }
                RunOutcome::Failed { step, reason } => {
                    out.push_str(&format!("{id}: failed again: {step}: {reason}\n"));
                    failed += 1;
                }
            }
        }
        out.push_str(&format!("{processed} processed, {failed} failed\n"));
        Ok(out)
    }

    /// Run a stored document through the deployed version of its process and record how it
    /// ended (no answer is sent: its sender was answered when it arrived). A process that is no
    /// longer deployed fails the document, recorded, with that reason.
    async fn run_stored(
        &self,
        stored: StoredDocument,
        payload: StoredPayload,
    ) -> anyhow::Result<RunOutcome> {
        let Some(store) = self.store() else {
            anyhow::bail!("the message store is off");
        };
        let Some(process) = self.process(&stored.process) else {
            let error = format!("process `{}` is not deployed", stored.process);
            store
                .finish(
                    &stored.id,
                    Finish::Failed {
                        error: error.clone(),
                    },
                )
                .await?;
            anyhow::bail!(error);
        };
        let document = Document {
            id: stored.id,
            payload,
            properties: stored.properties.into_iter().collect(),
        };
        let id = document.id.clone();
        let outcome = self.run(&process, document).await;
        store.finish(&id, record::finish(&outcome)).await?;
        Ok(outcome)
    }
}

/// A stored document's payload, checked to be readable (opened, not read): a large one stays a
/// handle on its stored object, which the steps read as a stream.
async fn readable(stored: &StoredDocument) -> Result<StoredPayload, StoreError> {
    let payload = stored.payload.clone();
    if payload.in_memory().is_some() {
        return Ok(payload);
    }
    let opened = payload.clone();
    tokio::task::spawn_blocking(move || opened.open().map(drop))
        .await
        .map_err(|e| StoreError::io("opening a stored payload", std::io::Error::other(e)))??;
    Ok(payload)
}
