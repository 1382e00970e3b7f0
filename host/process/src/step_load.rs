//! Loading the `steps` of a process into [`Step`]s, reporting every problem of every step
//! (nested ones too) with its line and field.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

use crate::decode::{decode, type_name};
use crate::diagnostic::Diagnostic;
use crate::pointer;
use crate::properties::is_valid_property_name;
use crate::spec::{
    HttpMethod, HttpSendSpec, LogSpec, ReturnSpec, RouteSpec, StepList, StopSpec, WriteFileSpec,
    STEP_TYPES,
};
use crate::step::{Action, Case, HttpSend, Log, Matcher, Return, Route, Step, WriteFile};
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
    let items = match value {
        Value::Null => return Vec::new(),
        Value::Array(items) => items,
        other => {
            diags.push(doc.diagnostic(
                at,
                format!("expected a list of steps, found {}", type_name(other)),
            ));
            return Vec::new();
        }
    };
    let mut steps = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_at = pointer::join(at, &i.to_string());
        if let Some(step) = load_step(doc, &item_at, item, diags) {
            steps.push(step);
        }
    }
    steps
}

fn known_types() -> String {
    STEP_TYPES.join(", ")
}

fn load_step(doc: &YamlDoc, at: &str, value: &Value, diags: &mut Vec<Diagnostic>) -> Option<Step> {
    let map = match value {
        Value::Object(map) if map.len() == 1 => map,
        Value::String(name) if STEP_TYPES.contains(&name.as_str()) => {
            diags.push(doc.diagnostic(
                at,
                format!("write `{name}:` followed by its settings (a step is a mapping with one key, the step type)"),
            ));
            return None;
        }
        other => {
            let found = match other {
                Value::Object(m) if m.is_empty() => "an empty mapping".to_string(),
                Value::Object(m) => format!("a mapping with {} keys", m.len()),
                v => type_name(v).to_string(),
            };
            diags.push(doc.diagnostic(
                at,
                format!(
                    "a step is a mapping with exactly one key, the step type (one of {}); found {found}",
                    known_types()
                ),
            ));
            return None;
        }
    };
    let (kind, settings) = map.iter().next()?;
    let settings_at = pointer::join(at, kind);
    let label = format!("{} {kind}", pointer::render_field(doc.value(), at));
    let before = diags.len();
    let action = match kind.as_str() {
        "set_properties" => load_set_properties(doc, &settings_at, settings, diags),
        "route" => load_route(doc, &settings_at, settings, diags),
        "write_file" => load_write_file(doc, &settings_at, settings, diags),
        "http_send" => load_http_send(doc, &settings_at, settings, diags),
        "log" => load_log(doc, &settings_at, settings, diags),
        "stop" => load_stop(doc, &settings_at, settings, diags),
        "return" => load_return(doc, &settings_at, settings, diags),
        other => {
            diags.push(doc.diagnostic(
                &settings_at,
                format!(
                    "unknown step type `{other}`; known step types: {}",
                    known_types()
                ),
            ));
            None
        }
    };
    // A step with a problem is left out, even when part of it could be built.
    if diags.len() > before {
        return None;
    }
    action.map(|action| Step { label, action })
}

/// Decodes settings, pushing the diagnostic on failure.
fn settings<T: serde::de::DeserializeOwned>(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    match decode(doc, at, value) {
        Ok(v) => Some(v),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

fn template(doc: &YamlDoc, at: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Template> {
    match Template::parse(text) {
        Ok(t) => Some(t),
        Err(e) => {
            diags.push(doc.diagnostic(at, format!("bad template: {e}")));
            None
        }
    }
}

fn property_name(doc: &YamlDoc, at: &str, name: &str, diags: &mut Vec<Diagnostic>) {
    if !is_valid_property_name(name) {
        diags.push(doc.diagnostic(
            at,
            format!("`{name}` is not a property name: use letters, digits, `.`, `_` or `-`"),
        ));
    }
}

/// Templates of a `name: template` mapping; `check_name` validates each name.
fn template_map(
    doc: &YamlDoc,
    at: &str,
    map: BTreeMap<String, String>,
    diags: &mut Vec<Diagnostic>,
    check_name: impl Fn(&str) -> Option<String>,
) -> Vec<(String, Template)> {
    let mut out = Vec::with_capacity(map.len());
    for (name, text) in map {
        let entry_at = pointer::join(at, &name);
        if let Some(problem) = check_name(&name) {
            diags.push(doc.diagnostic(&entry_at, problem));
        }
        if let Some(t) = template(doc, &entry_at, &text, diags) {
            out.push((name, t));
        }
    }
    out
}

fn header_name_problem(name: &str) -> Option<String> {
    reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .err()
        .map(|_| format!("`{name}` is not a valid HTTP header name"))
}

fn load_set_properties(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<Action> {
    let map: BTreeMap<String, String> = settings(doc, at, value, diags)?;
    let props = template_map(doc, at, map, diags, |name| {
        (!is_valid_property_name(name)).then(|| {
            format!("`{name}` is not a property name: use letters, digits, `.`, `_` or `-`")
        })
    });
    Some(Action::SetProperties(props))
}

fn load_route(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<Action> {
    let spec: RouteSpec = settings(doc, at, value, diags)?;
    property_name(doc, &pointer::join(at, "property"), &spec.property, diags);
    let mut cases = Vec::with_capacity(spec.cases.len());
    for (i, case) in spec.cases.into_iter().enumerate() {
        let case_at = pointer::join(&pointer::join(at, "cases"), &i.to_string());
        let matcher = match (case.equals, case.regex) {
            (Some(text), None) => Some(Matcher::Equals(text)),
            (None, Some(re)) => match Regex::new(&re) {
                Ok(re) => Some(Matcher::Regex(re)),
                Err(e) => {
                    diags.push(doc.diagnostic(
                        &pointer::join(&case_at, "regex"),
                        format!("bad regular expression: {e}"),
                    ));
                    None
                }
            },
            _ => {
                diags.push(
                    doc.diagnostic(&case_at, "a case needs exactly one of `equals` or `regex`"),
                );
                None
            }
        };
        let steps = nested(doc, &pointer::join(&case_at, "steps"), case.steps, diags);
        if let Some(matcher) = matcher {
            cases.push(Case { matcher, steps });
        }
    }
    let default = nested(doc, &pointer::join(at, "default"), spec.default, diags);
    Some(Action::Route(Route {
        property: spec.property,
        cases,
        default,
    }))
}

fn nested(doc: &YamlDoc, at: &str, list: StepList, diags: &mut Vec<Diagnostic>) -> Vec<Step> {
    load_steps(doc, at, &Value::Array(list.0), diags)
}

fn load_write_file(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<Action> {
    let spec: WriteFileSpec = settings(doc, at, value, diags)?;
    if spec.directory.trim().is_empty() || spec.directory.contains('\0') {
        diags.push(doc.diagnostic(
            &pointer::join(at, "directory"),
            "expected a folder path, found an empty one",
        ));
    }
    let directory = template(doc, &pointer::join(at, "directory"), &spec.directory, diags)?;
    let file_name = template(doc, &pointer::join(at, "file_name"), &spec.file_name, diags)?;
    Some(Action::WriteFile(WriteFile {
        absolute: spec.directory.starts_with('/'),
        directory,
        file_name,
        if_exists: spec.if_exists,
    }))
}

fn load_http_send(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<Action> {
    let spec: HttpSendSpec = settings(doc, at, value, diags)?;
    let url_at = pointer::join(at, "url");
    let url = template(doc, &url_at, &spec.url, diags);
    // A URL without properties can be checked now rather than on the first document.
    if let Some(t) = &url {
        if t.property_names().next().is_none() {
            match reqwest::Url::parse(&spec.url) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                Ok(u) => diags.push(doc.diagnostic(
                    &url_at,
                    format!(
                        "expected an http:// or https:// URL, found scheme `{}`",
                        u.scheme()
                    ),
                )),
                Err(e) => diags.push(doc.diagnostic(&url_at, format!("bad URL: {e}"))),
            }
        }
    }
    if spec.timeout_seconds == 0 {
        diags.push(doc.diagnostic(
            &pointer::join(at, "timeout_seconds"),
            "expected at least 1 second",
        ));
    }
    let headers = template_map(
        doc,
        &pointer::join(at, "headers"),
        spec.headers,
        diags,
        header_name_problem,
    );
    let headers = headers
        .into_iter()
        .filter_map(|(n, t)| {
            reqwest::header::HeaderName::from_bytes(n.as_bytes())
                .ok()
                .map(|n| (n, t))
        })
        .collect();
    Some(Action::HttpSend(HttpSend {
        url: url?,
        method: match spec.method {
            HttpMethod::POST => reqwest::Method::POST,
            HttpMethod::PUT => reqwest::Method::PUT,
        },
        headers,
        timeout: Duration::from_secs(spec.timeout_seconds),
    }))
}

fn load_log(doc: &YamlDoc, at: &str, value: &Value, diags: &mut Vec<Diagnostic>) -> Option<Action> {
    let spec: LogSpec = settings(doc, at, value, diags)?;
    let message = template(doc, &pointer::join(at, "message"), &spec.message, diags)?;
    Some(Action::Log(Log {
        message,
        level: spec.level,
    }))
}

fn load_stop(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<Action> {
    if !value.is_null() {
        let _: StopSpec = settings(doc, at, value, diags)?;
    }
    Some(Action::Stop)
}

fn load_return(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<Action> {
    // `return:` with nothing after it means "200 with the payload", like `return: {}`.
    let spec: ReturnSpec = if value.is_null() {
        settings(doc, at, &Value::Object(Default::default()), diags)?
    } else {
        settings(doc, at, value, diags)?
    };
    if !(100..=599).contains(&spec.status) {
        diags.push(doc.diagnostic(
            &pointer::join(at, "status"),
            format!(
                "expected an HTTP status from 100 to 599, found {}",
                spec.status
            ),
        ));
    }
    let headers = template_map(
        doc,
        &pointer::join(at, "headers"),
        spec.headers,
        diags,
        header_name_problem,
    );
    let body = match &spec.body {
        Some(text) => Some(template(doc, &pointer::join(at, "body"), text, diags)?),
        None => None,
    };
    Some(Action::Return(Return {
        status: spec.status,
        headers,
        body,
    }))
}
