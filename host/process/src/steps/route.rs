//! The `route` step: runs the steps of the first case that matches a property's value.

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Flow, Loader, Run, Step, StepList, StepType};
use crate::pointer;
use crate::properties::Properties;

/// Chooses steps by the value of one property.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Name of the property whose value decides the route. A document that does not have this
    /// property matches no case and takes `default`.
    pub property: String,
    /// Cases, tried in order; the steps of the first one that matches run.
    pub cases: Vec<CaseSpec>,
    /// Steps run when no case matches. Without it, such a document just goes on after the route.
    #[serde(default)]
    pub default: StepList,
}

/// One case of a route: exactly one of `equals` or `regex`, and the steps to run.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["equals"]}, {"required": ["regex"]}]))]
pub struct CaseSpec {
    /// Matches when the property's value is exactly this text. Quote numbers (`"850"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub equals: Option<String>,
    /// Matches when this regular expression (Rust `regex` syntax) finds a match anywhere in
    /// the property's value; use `^...$` to match the whole value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub regex: Option<String>,
    /// Steps run when this case matches.
    pub steps: StepList,
}

/// A loaded `route` step.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    property: String,
    cases: Vec<Case>,
    default: Vec<Step>,
}

#[derive(Debug, Clone)]
struct Case {
    matcher: Matcher,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Equals(String),
    Regex(Regex),
}

impl Matcher {
    fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Equals(expected) => expected == value,
            Matcher::Regex(re) => re.is_match(value),
        }
    }
}

impl StepType for Route {
    const DESCRIPTION: &'static str =
        "Run the steps of the first case that matches a property's value, then go on after the\n\
        route step.";

    type Spec = RouteSpec;

    fn load(load: &mut Loader<'_>, at: &str, value: &Value) -> Option<Self> {
        let spec: RouteSpec = load.settings(at, value)?;
        load.property_name(&pointer::join(at, "property"), &spec.property);
        let mut cases = Vec::with_capacity(spec.cases.len());
        for (i, case) in spec.cases.into_iter().enumerate() {
            let case_at = pointer::join(&pointer::join(at, "cases"), &i.to_string());
            let matcher = match (case.equals, case.regex) {
                (Some(text), None) => Some(Matcher::Equals(text)),
                (None, Some(re)) => match Regex::new(&re) {
                    Ok(re) => Some(Matcher::Regex(re)),
                    Err(e) => {
                        load.problem(
                            &pointer::join(&case_at, "regex"),
                            format!("bad regular expression: {e}"),
                        );
                        None
                    }
                },
                _ => {
                    load.problem(&case_at, "a case needs exactly one of `equals` or `regex`");
                    None
                }
            };
            let steps = load.nested(&pointer::join(&case_at, "steps"), case.steps);
            if let Some(matcher) = matcher {
                cases.push(Case { matcher, steps });
            }
        }
        let default = load.nested(&pointer::join(at, "default"), spec.default);
        Some(Route {
            property: spec.property,
            cases,
            default,
        })
    }

    async fn run<'s>(&'s self, run: &mut Run<'_>) -> Result<Flow<'s>, String> {
        Ok(Flow::Enter(self.choose(&run.properties)))
    }

    fn nested(&self) -> Vec<&[Step]> {
        self.cases
            .iter()
            .map(|c| c.steps.as_slice())
            .chain(std::iter::once(self.default.as_slice()))
            .collect()
    }
}

impl Route {
    /// The steps of the first matching case, else the default ones. A document without the
    /// property matches no case.
    fn choose(&self, properties: &Properties) -> &[Step] {
        properties
            .get(&self.property)
            .and_then(|value| self.cases.iter().find(|c| c.matcher.matches(value)))
            .map_or(self.default.as_slice(), |c| c.steps.as_slice())
    }
}
