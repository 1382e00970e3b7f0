//! Running a process's steps on one received document.

mod http_send;
mod write_file;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::process::ProcessDef;
use crate::properties::Properties;
use crate::spec::LogLevel;
use crate::step::{Action, Log, Return, Route, Step};

pub(crate) use write_file::sanitize_file_name;

/// A received document.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub id: String,
    pub payload: Bytes,
    pub properties: Properties,
}

/// The response a `return` step set, for a synchronous listener to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
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

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.inner
            .client
            .get_or_init(http_send::build_client)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Runs `process`'s steps on `doc`. Never panics; a failing step ends the run with
    /// [`RunOutcome::Failed`].
    pub async fn run(&self, process: &ProcessDef, doc: Document) -> RunOutcome {
        let Document {
            id,
            payload,
            mut properties,
        } = doc;
        // Lists of steps being run, innermost last; a route pushes the chosen list. Kept as
        // iterators so that a flat process never allocates here.
        let mut outer: Vec<std::slice::Iter<'_, Step>> = Vec::new();
        let mut current = process.steps.iter();
        loop {
            let Some(step) = current.next() else {
                match outer.pop() {
                    Some(it) => {
                        current = it;
                        continue;
                    }
                    None => break,
                }
            };
            let fail = |reason: String| RunOutcome::Failed {
                step: step.label.clone(),
                reason,
            };
            match &step.action {
                Action::SetProperties(list) => {
                    // Rendered against the properties as they were before this step, so that
                    // the result does not depend on the (alphabetical) order of the names.
                    let mut rendered = Vec::with_capacity(list.len());
                    for (name, template) in list {
                        match template.render(&properties) {
                            Ok(v) => rendered.push((name, v.into_owned())),
                            Err(e) => return fail(e),
                        }
                    }
                    for (name, value) in rendered {
                        properties.set(name.clone(), value);
                    }
                }
                Action::Route(route) => {
                    let chosen = choose(route, &properties);
                    if !chosen.is_empty() {
                        outer.push(std::mem::replace(&mut current, chosen.iter()));
                    }
                }
                Action::WriteFile(w) => {
                    let name = match w.file_name.render(&properties) {
                        Ok(raw) => match sanitize_file_name(&raw) {
                            Ok(name) => name,
                            Err(e) => return fail(e),
                        },
                        Err(e) => return fail(e),
                    };
                    let dir = match w.directory.render(&properties) {
                        Ok(rendered) => match write_file::safe_directory(&rendered, w.absolute) {
                            Ok(dir) => self.inner.deployment_dir.join(dir),
                            Err(e) => return fail(e),
                        },
                        Err(e) => return fail(e),
                    };
                    match write_file::write(dir, name, payload.clone(), w.if_exists).await {
                        Ok(path) => properties.set("file.path", path.to_string_lossy()),
                        Err(e) => return fail(e),
                    }
                }
                Action::HttpSend(h) => {
                    let client = match self.client() {
                        Ok(c) => c,
                        Err(e) => return fail(e),
                    };
                    match http_send::send(client, h, payload.clone(), &properties).await {
                        Ok(status) => properties.set("http_send.status", status.to_string()),
                        Err(e) => return fail(e),
                    }
                }
                Action::Log(log) => {
                    if let Err(e) = emit_log(log, &process.name, &id, &step.label, &properties) {
                        return fail(e);
                    }
                }
                Action::Stop => {
                    return RunOutcome::Completed {
                        returned: None,
                        properties,
                    }
                }
                Action::Return(r) => {
                    return match build_return(r, payload, &properties) {
                        Ok(returned) => RunOutcome::Completed {
                            returned: Some(returned),
                            properties,
                        },
                        Err(e) => fail(e),
                    }
                }
            }
        }
        RunOutcome::Completed {
            returned: None,
            properties,
        }
    }
}

/// The steps of the first matching case, else the default ones. A document without the
/// property matches no case.
fn choose<'a>(route: &'a Route, properties: &Properties) -> &'a [Step] {
    properties
        .get(&route.property)
        .and_then(|value| route.cases.iter().find(|c| c.matcher.matches(value)))
        .map_or(route.default.as_slice(), |c| c.steps.as_slice())
}

fn emit_log(
    log: &Log,
    process: &str,
    id: &str,
    step: &str,
    properties: &Properties,
) -> Result<(), String> {
    let message = log.message.render(properties)?;
    let message: &str = &message;
    match log.level {
        LogLevel::Debug => tracing::debug!(process, document_id = id, step, "{message}"),
        LogLevel::Info => tracing::info!(process, document_id = id, step, "{message}"),
        LogLevel::Warn => tracing::warn!(process, document_id = id, step, "{message}"),
        LogLevel::Error => tracing::error!(process, document_id = id, step, "{message}"),
    }
    Ok(())
}

/// The response of a `return` step. With no headers and no body template this allocates
/// nothing: the payload is handed over as is (this is the hot path of an echo-style process).
fn build_return(r: &Return, payload: Bytes, properties: &Properties) -> Result<Returned, String> {
    let mut headers = Vec::new();
    if !r.headers.is_empty() {
        headers.reserve_exact(r.headers.len());
        for (name, template) in &r.headers {
            let value = template.render(properties)?;
            if reqwest::header::HeaderValue::from_str(&value).is_err() {
                return Err(format!(
                    "header `{name}`: {value:?} is not a valid header value"
                ));
            }
            headers.push((name.clone(), value.into_owned()));
        }
    }
    let body = match &r.body {
        Some(template) => Bytes::from(template.render(properties)?.into_owned()),
        None => payload,
    };
    Ok(Returned {
        status: r.status,
        headers,
        body,
    })
}
