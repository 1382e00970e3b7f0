//! The `write_file` step: writes the document's payload to a file, atomically.

mod atomic;
mod names;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Flow, Loader, Run, StepType};
use crate::pointer;
use crate::template::Template;

/// Writes the payload to a file.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFileSpec {
    /// Folder to write into (a template, e.g. `data/inbox/${as2.from}`). A relative folder is
    /// resolved against the deployment folder; it is created if missing. Properties may add
    /// folders below it but never climb out with `..` or make it absolute.
    pub directory: String,
    /// Name of the file (a template, e.g. `${file_name}`). It is reduced to one safe file
    /// name: `/`, `\`, NUL and control characters become `_` and leading dots are dropped, so
    /// a property can never make the file land outside `directory`.
    pub file_name: String,
    /// What to do when a file of that name already exists.
    #[serde(default)]
    pub if_exists: IfExists,
}

/// Policy for an existing file of the same name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IfExists {
    /// Keep both: the new file gets `-1`, `-2`, ... before its extension.
    #[default]
    Unique,
    /// Replace the existing file (atomically: readers see the old or the new file, whole).
    Overwrite,
    /// Fail the document.
    Fail,
}

/// A loaded `write_file` step.
#[derive(Debug, Clone)]
pub(crate) struct WriteFile {
    /// As written (a template); a relative folder is resolved against the runner's deployment
    /// folder.
    directory: Template,
    /// The folder as written is absolute; a rendered folder must keep the same kind, so that a
    /// property cannot turn `${partner}/in` into `/etc/in`.
    absolute: bool,
    file_name: Template,
    if_exists: IfExists,
}

impl StepType for WriteFile {
    const DESCRIPTION: &'static str =
        "Write the document's payload to a file, atomically. Sets the property `file.path`.\n\
        A large payload is not read through this process: the file is a clone of the stored\n\
        payload where the file system allows, else a copy made by the kernel.";

    type Spec = WriteFileSpec;

    fn load(load: &mut Loader<'_>, at: &str, value: &Value) -> Option<Self> {
        let spec: WriteFileSpec = load.settings(at, value)?;
        if spec.directory.trim().is_empty() || spec.directory.contains('\0') {
            load.problem(
                &pointer::join(at, "directory"),
                "expected a folder path, found an empty one",
            );
        }
        let directory = load.template(&pointer::join(at, "directory"), &spec.directory)?;
        let file_name = load.template(&pointer::join(at, "file_name"), &spec.file_name)?;
        Some(WriteFile {
            absolute: spec.directory.starts_with('/'),
            directory,
            file_name,
            if_exists: spec.if_exists,
        })
    }

    async fn run<'s>(&'s self, run: &mut Run<'_>) -> Result<Flow<'s>, String> {
        let name = names::sanitize_file_name(&self.file_name.render(&run.properties)?)?;
        let rendered = self.directory.render(&run.properties)?;
        let dir = names::safe_directory(&rendered, self.absolute)?;
        let dir = run.runner.deployment_dir().join(dir);
        let path = atomic::write(dir, name, run.payload.clone(), self.if_exists).await?;
        run.properties.set("file.path", path.to_string_lossy());
        Ok(Flow::Next)
    }
}
