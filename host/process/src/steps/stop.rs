//! The `stop` step: ends the processing of a document, successfully.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Flow, Loader, Run, StepType};

/// `stop` takes no settings.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopSpec {}

/// A loaded `stop` step.
#[derive(Debug, Clone)]
pub(crate) struct Stop;

impl StepType for Stop {
    const DESCRIPTION: &'static str =
        "End the processing of this document, successfully. Write `stop: {}` or just `stop:`.";

    type Spec = Option<StopSpec>;

    fn load(load: &mut Loader<'_>, at: &str, value: &Value) -> Option<Self> {
        if !value.is_null() {
            let _: StopSpec = load.settings(at, value)?;
        }
        Some(Stop)
    }

    async fn run<'s>(&'s self, _run: &mut Run<'_>) -> Result<Flow<'s>, String> {
        Ok(Flow::End(None))
    }
}
