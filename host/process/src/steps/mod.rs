//! The built-in steps. Each step type lives in one file, `steps/<name>.rs`: the settings as
//! users write them (the serde and JSON Schema type whose doc comments `berth schema` shows),
//! how they are loaded and checked (with their diagnostics), and how the step runs. The list
//! below is the only place that names them all: the schema, the loader, the runner and the
//! tests read it through what [`steps!`](registry) generates.
//!
//! Adding a step: write `steps/<name>.rs` with a type that implements [`StepType`], then add
//! one line to the list.

#[macro_use]
mod registry;
mod load;

use std::borrow::Cow;
use std::future::Future;

use berth_store::StoredPayload;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::properties::Properties;
use crate::run::{Returned, Runner};

pub(crate) use load::{load_steps, Loader};

steps! {
    "set_properties" => set_properties::SetProperties,
    "route" => route::Route,
    "write_file" => write_file::WriteFile,
    "http_send" => http_send::HttpSend,
    "log" => log::Log,
    "stop" => stop::Stop,
    "return" => r#return::Return,
}

/// What a step type provides. The runner calls these through the enum that [`steps!`]
/// generates, so a step run is a plain `match`: no boxing and no allocation of its own.
pub(crate) trait StepType: Sized {
    /// What `berth schema` says about the step as a whole (its branch of the step schema).
    /// Its line breaks show in the schema, as those of a doc comment would.
    const DESCRIPTION: &'static str;

    /// The step's settings as users write them; its JSON Schema is the value of the step's key.
    type Spec: JsonSchema;

    /// Decodes and checks the settings found at `at`, reporting every problem to `load`.
    /// Returns what the runner needs, or `None` when the step cannot be built; a step that
    /// reported any problem is left out even when this returns `Some`.
    fn load(load: &mut Loader<'_>, at: &str, value: &Value) -> Option<Self>;

    /// Runs the step on the document in `run`. An `Err` fails the document with that reason.
    fn run<'s>(
        &'s self,
        run: &mut Run<'_>,
    ) -> impl Future<Output = Result<Flow<'s>, String>> + Send;

    /// The step lists nested in this step, in the order they are written.
    fn nested(&self) -> Vec<&[Step]> {
        Vec::new()
    }
}

/// One loaded step: templates parsed, regexes compiled, header names checked, all when the
/// process is loaded.
#[derive(Debug, Clone)]
pub struct Step {
    /// Where the step is, for failures and logs: `steps[2] write_file`.
    pub(crate) label: String,
    pub(crate) action: Action,
}

impl Step {
    /// Where the step is written, e.g. `steps[1].route.cases[0].steps[0] write_file`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The step type, e.g. `write_file`.
    pub fn kind(&self) -> &'static str {
        self.action.kind()
    }

    /// The steps nested in this one (the cases' then the default's, for a route).
    pub fn nested(&self) -> impl Iterator<Item = &Step> {
        self.action.nested().into_iter().flatten()
    }
}

/// One document being run, as the steps see it.
pub(crate) struct Run<'r> {
    pub(crate) runner: &'r Runner,
    /// Name of the process.
    pub(crate) process: &'r str,
    pub(crate) document_id: &'r str,
    /// Label of the step being run.
    pub(crate) step: &'r str,
    /// Owned so that a step ending the run (`return`) can hand it over without a copy. Steps
    /// that only route or set properties never touch it.
    pub(crate) payload: StoredPayload,
    pub(crate) properties: Properties,
}

/// Where the run goes after a step.
pub(crate) enum Flow<'s> {
    /// On to the next step.
    Next,
    /// Into these steps, then on after this one.
    Enter(&'s [Step]),
    /// End the run successfully, with the response a synchronous listener sends, if any.
    End(Option<Returned>),
}

/// A list of steps nested in another step. It is decoded as raw values so that the loader can
/// report every problem in every nested step, while its schema is that of a list of steps.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct StepList(pub Vec<Value>);

impl JsonSchema for StepList {
    fn schema_name() -> Cow<'static, str> {
        "StepList".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Vec<StepSpec>>()
    }
}
