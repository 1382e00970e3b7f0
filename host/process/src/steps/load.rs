//! Loading the `steps` of a process into [`Step`]s, reporting every problem of every step
//! (nested ones too) with its line and field; and the checks that several step types share.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Action, Step, StepList, STEP_TYPES};
use crate::decode::{decode, type_name};
use crate::diagnostic::Diagnostic;
use crate::pointer;
use crate::properties::is_valid_property_name;
use crate::template::Template;
use crate::yaml::YamlDoc;

/// Loads the list of steps at `at` (its value is `value`). Problems go to `diags`; the steps
/// that loaded are returned so that callers can go on checking, but a caller must not run a
/// process for which any diagnostic was produced.
pub(crate) fn load_steps(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Step> {
    Loader { doc, diags }.list(at, value)
}

/// What a step's loading reports to: the file being loaded and its problems so far.
pub(crate) struct Loader<'d> {
    doc: &'d YamlDoc,
    diags: &'d mut Vec<Diagnostic>,
}

impl Loader<'_> {
    /// Reports a problem at `at`.
    pub(crate) fn problem(&mut self, at: &str, message: impl Into<String>) {
        self.diags.push(self.doc.diagnostic(at, message));
    }

    /// Decodes settings, reporting the problem (at the innermost field) on failure.
    pub(crate) fn settings<T: DeserializeOwned>(&mut self, at: &str, value: &Value) -> Option<T> {
        match decode(self.doc, at, value) {
            Ok(v) => Some(v),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    pub(crate) fn template(&mut self, at: &str, text: &str) -> Option<Template> {
        match Template::parse(text) {
            Ok(t) => Some(t),
            Err(e) => {
                self.problem(at, format!("bad template: {e}"));
                None
            }
        }
    }

    pub(crate) fn property_name(&mut self, at: &str, name: &str) {
        if let Some(problem) = property_name_problem(name) {
            self.problem(at, problem);
        }
    }

    /// Templates of a `name: template` mapping; `check_name` validates each name.
    pub(crate) fn template_map(
        &mut self,
        at: &str,
        map: BTreeMap<String, String>,
        check_name: impl Fn(&str) -> Option<String>,
    ) -> Vec<(String, Template)> {
        let mut out = Vec::with_capacity(map.len());
        for (name, text) in map {
            let entry_at = pointer::join(at, &name);
            if let Some(problem) = check_name(&name) {
                self.problem(&entry_at, problem);
            }
            if let Some(t) = self.template(&entry_at, &text) {
                out.push((name, t));
            }
        }
        out
    }

    /// Templates of a `header-name: template` mapping, each name checked as an HTTP header.
    pub(crate) fn header_map(
        &mut self,
        at: &str,
        map: BTreeMap<String, String>,
    ) -> Vec<(String, Template)> {
        self.template_map(at, map, |name| {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .err()
                .map(|_| format!("`{name}` is not a valid HTTP header name"))
        })
    }

    /// The steps of a list nested in a step (a route's case, for example).
    pub(crate) fn nested(&mut self, at: &str, list: StepList) -> Vec<Step> {
        self.list(at, &Value::Array(list.0))
    }

    fn list(&mut self, at: &str, value: &Value) -> Vec<Step> {
        let items = match value {
            Value::Null => return Vec::new(),
            Value::Array(items) => items,
            other => {
                self.problem(
                    at,
                    format!("expected a list of steps, found {}", type_name(other)),
                );
                return Vec::new();
            }
        };
        let mut steps = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_at = pointer::join(at, &i.to_string());
            if let Some(step) = self.step(&item_at, item) {
                steps.push(step);
            }
        }
        steps
    }

    fn step(&mut self, at: &str, value: &Value) -> Option<Step> {
        let map = match value {
            Value::Object(map) if map.len() == 1 => map,
            Value::String(name) if STEP_TYPES.contains(&name.as_str()) => {
                self.problem(
                    at,
                    format!("write `{name}:` followed by its settings (a step is a mapping with one key, the step type)"),
                );
                return None;
            }
            other => {
                let found = match other {
                    Value::Object(m) if m.is_empty() => "an empty mapping".to_string(),
                    Value::Object(m) => format!("a mapping with {} keys", m.len()),
                    v => type_name(v).to_string(),
                };
                self.problem(
                    at,
                    format!(
                        "a step is a mapping with exactly one key, the step type (one of {}); found {found}",
                        known_types()
                    ),
                );
                return None;
            }
        };
        let (kind, settings) = map.iter().next()?;
        let settings_at = pointer::join(at, kind);
        let label = format!("{} {kind}", pointer::render_field(self.doc.value(), at));
        let before = self.diags.len();
        let action = match Action::load(kind, self, &settings_at, settings) {
            Some(action) => action,
            None => {
                self.problem(
                    &settings_at,
                    format!(
                        "unknown step type `{kind}`; known step types: {}",
                        known_types()
                    ),
                );
                None
            }
        };
        // A step with a problem is left out, even when part of it could be built.
        if self.diags.len() > before {
            return None;
        }
        action.map(|action| Step { label, action })
    }
}

fn known_types() -> String {
    STEP_TYPES.join(", ")
}

/// Why `name` cannot be a property name, if it cannot.
pub(crate) fn property_name_problem(name: &str) -> Option<String> {
    (!is_valid_property_name(name))
        .then(|| format!("`{name}` is not a property name: use letters, digits, `.`, `_` or `-`"))
}
