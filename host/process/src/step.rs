//! Steps as the runner executes them: templates parsed, regexes compiled, header names checked,
//! all when the process is loaded.

use std::time::Duration;

use regex::Regex;

use crate::spec::{IfExists, LogLevel};
use crate::template::Template;

/// One loaded step.
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
        match &self.action {
            Action::SetProperties(_) => "set_properties",
            Action::Route(_) => "route",
            Action::WriteFile(_) => "write_file",
            Action::HttpSend(_) => "http_send",
            Action::Log(_) => "log",
            Action::Stop => "stop",
            Action::Return(_) => "return",
        }
    }

    /// The steps nested in this one (the cases' then the default's, for a route).
    pub fn nested(&self) -> impl Iterator<Item = &Step> {
        let lists: Vec<&[Step]> = match &self.action {
            Action::Route(route) => route
                .cases
                .iter()
                .map(|c| c.steps.as_slice())
                .chain(std::iter::once(route.default.as_slice()))
                .collect(),
            _ => Vec::new(),
        };
        lists.into_iter().flatten()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Action {
    SetProperties(Vec<(String, Template)>),
    Route(Route),
    WriteFile(WriteFile),
    HttpSend(HttpSend),
    Log(Log),
    Stop,
    Return(Return),
}

#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) property: String,
    pub(crate) cases: Vec<Case>,
    pub(crate) default: Vec<Step>,
}

#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) matcher: Matcher,
    pub(crate) steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Equals(String),
    Regex(Regex),
}

impl Matcher {
    pub(crate) fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Equals(expected) => expected == value,
            Matcher::Regex(re) => re.is_match(value),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct WriteFile {
    /// As written (a template); a relative folder is resolved against the runner's deployment
    /// folder.
    pub(crate) directory: Template,
    /// The folder as written is absolute; a rendered folder must keep the same kind, so that a
    /// property cannot turn `${partner}/in` into `/etc/in`.
    pub(crate) absolute: bool,
    pub(crate) file_name: Template,
    pub(crate) if_exists: IfExists,
}

#[derive(Debug, Clone)]
pub(crate) struct HttpSend {
    pub(crate) url: Template,
    pub(crate) method: reqwest::Method,
    pub(crate) headers: Vec<(reqwest::header::HeaderName, Template)>,
    pub(crate) timeout: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct Log {
    pub(crate) message: Template,
    pub(crate) level: LogLevel,
}

#[derive(Debug, Clone)]
pub(crate) struct Return {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Template)>,
    pub(crate) body: Option<Template>,
}
