//! berth-process: loads and validates deployment files (processes and connections) with
//! diagnostics that name file, line and field; describes them as JSON Schema; and runs a
//! process's steps on a received document.

mod connection;
mod decode;
mod deployment;
mod diagnostic;
mod names;
mod payload_body;
mod pointer;
mod process;
mod properties;
mod run;
mod schema;
mod steps;
mod template;
mod yaml;
mod yaml_scalar;

#[cfg(test)]
mod yaml_tests;

pub use connection::{load_connection, ConnectionDef};
pub use deployment::{load_deployment, load_deployment_partial, Deployment};
pub use diagnostic::Diagnostic;
pub use payload_body::PayloadBody;
pub use process::{load_process, ProcessDef, StartDef};
pub use properties::{is_valid_property_name, Properties};
pub use run::{Document, Returned, RunOutcome, Runner};
pub use schema::{connection_schema, process_schema, ConnectionSchema, StartSchema};
pub use steps::http_send::{HttpMethod, HttpSendSpec};
pub use steps::log::{LogLevel, LogSpec};
pub use steps::r#return::ReturnSpec;
pub use steps::route::{CaseSpec, RouteSpec};
pub use steps::stop::StopSpec;
pub use steps::write_file::{IfExists, WriteFileSpec};
pub use steps::{Step, StepList, STEP_TYPES};
pub use template::Template;
pub use yaml::YamlDoc;
