//! The `log` step: writes a log event carrying the process name and document id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{debug, error, info, warn};

use super::{Flow, Loader, Run, StepType};
use crate::pointer;
use crate::template::Template;

/// Writes a log event.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// The message (a template).
    pub message: String,
    /// Severity of the event.
    #[serde(default)]
    pub level: LogLevel,
}

/// Severity of a `log` event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

/// The target of the events, as when the runner wrote them itself: users filter on it
/// (`BERTH_LOG=berth_process::run=debug`) and see it in every line.
const TARGET: &str = "berth_process::run";

/// A loaded `log` step.
#[derive(Debug, Clone)]
pub(crate) struct Log {
    message: Template,
    level: LogLevel,
}

impl StepType for Log {
    const DESCRIPTION: &'static str =
        "Write a log event carrying the process name and document id.";

    type Spec = LogSpec;

    fn load(load: &mut Loader<'_>, at: &str, value: &Value) -> Option<Self> {
        let spec: LogSpec = load.settings(at, value)?;
        let message = load.template(&pointer::join(at, "message"), &spec.message)?;
        Some(Log {
            message,
            level: spec.level,
        })
    }

    async fn run<'s>(&'s self, run: &mut Run<'_>) -> Result<Flow<'s>, String> {
        let message = self.message.render(&run.properties)?;
        let message: &str = &message;
        let (process, document_id, step) = (run.process, run.document_id, run.step);
        match self.level {
            LogLevel::Debug => debug!(target: TARGET, process, document_id, step, "{message}"),
            LogLevel::Info => info!(target: TARGET, process, document_id, step, "{message}"),
            LogLevel::Warn => warn!(target: TARGET, process, document_id, step, "{message}"),
            LogLevel::Error => error!(target: TARGET, process, document_id, step, "{message}"),
        }
        Ok(Flow::Next)
    }
}
