//! The `set_properties` step: sets properties of the document from templates.

use std::collections::BTreeMap;

use serde_json::Value;

use super::load::property_name_problem;
use super::{Flow, Loader, Run, StepType};
use crate::template::Template;

/// A loaded `set_properties` step: each property name with its template.
#[derive(Debug, Clone)]
pub(crate) struct SetProperties(Vec<(String, Template)>);

impl StepType for SetProperties {
    const DESCRIPTION: &'static str =
        "Set dynamic properties of the document: each key is a property name (letters, digits,\n\
        `.`, `_`, `-`), each value a template such as `${as2.from}-${file_name}`.";

    type Spec = BTreeMap<String, String>;

    fn load(load: &mut Loader<'_>, at: &str, value: &Value) -> Option<Self> {
        let map: Self::Spec = load.settings(at, value)?;
        Some(SetProperties(load.template_map(at, map, property_name_problem)))
    }

    async fn run<'s>(&'s self, run: &mut Run<'_>) -> Result<Flow<'s>, String> {
        // Rendered against the properties as they were before this step, so that the result
        // does not depend on the (alphabetical) order of the names.
        let mut rendered = Vec::with_capacity(self.0.len());
        for (name, template) in &self.0 {
            rendered.push((name, template.render(&run.properties)?.into_owned()));
        }
        for (name, value) in rendered {
            run.properties.set(name.clone(), value);
        }
        Ok(Flow::Next)
    }
}
