//! Running a process's steps on one received document.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use berth_store::StoredPayload;
use bytes::Bytes;

use crate::process::ProcessDef;
use crate::properties::Properties;
use crate::steps::{self, Run};

/// A received document.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub id: String,
    /// In memory when small; otherwise a handle on the stored object, which steps read as a
    /// stream (or link, for `write_file`) and never load whole.
    pub payload: StoredPayload,
    pub properties: Properties,
}

/// The response a `return` step set, for a synchronous listener to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body, unless `body_is_payload`.
    pub body: Bytes,
    /// The body is the document's payload, which is too large to hold in memory: `body` is
    /// empty, and the caller sends the payload from the store as a stream (see
    /// [`crate::PayloadBody`]).
    pub body_is_payload: bool,
}

/// What became of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// All steps ran, or a `stop`/`return` ended processing early.
    Completed {
        returned: Option<Returned>,
        properties: Properties,
    },
    /// A step failed; `step` says which (`steps[2] write_file`).
    Failed { step: String, reason: String },
}

/// Runs processes. Cheap to clone; clones share one HTTP client.
#[derive(Debug, Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    deployment_dir: PathBuf,
    /// Built on first use: processes without `http_send` never pay for TLS set-up.
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl Runner {
    /// `deployment_dir` is where relative `write_file` folders are resolved.
    pub fn new(deployment_dir: &Path) -> Self {
        // Made absolute now so that a later change of working directory moves nothing.
        let deployment_dir =
            std::path::absolute(deployment_dir).unwrap_or_else(|_| deployment_dir.to_path_buf());
        Runner {
            inner: Arc::new(Inner {
                deployment_dir,
                client: OnceLock::new(),
            }),
        }
    }

    pub fn deployment_dir(&self) -> &Path {
        &self.inner.deployment_dir
    }

    /// The HTTP client the steps of every process share.
    pub(crate) fn http_client(&self) -> Result<&reqwest::Client, String> {
        self.inner
            .client
            .get_or_init(steps::http_send::build_client)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Runs `process`'s steps on `doc`. Never panics; a failing step ends the run with
    /// [`RunOutcome::Failed`].
    pub async fn run(&self, process: &ProcessDef, doc: Document) -> RunOutcome {
        let Document {
            id,
            payload,
            properties,
        } = doc;
        let mut run = Run {
            runner: self,
            process: &process.name,
            document_id: &id,
            step: "",
            payload,
            properties,
        };
        let returned = match steps::run_steps(&process.steps, &mut run).await {
            Ok(returned) => returned,
            Err((step, reason)) => {
                return RunOutcome::Failed {
                    step: step.label.clone(),
                    reason,
                }
            }
        };
        RunOutcome::Completed {
            returned,
            properties: run.properties,
        }
    }
}
