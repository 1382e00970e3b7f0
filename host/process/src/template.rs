//! `${property}` templates, parsed when a process is loaded so that syntax errors are load
//! diagnostics and rendering does no parsing.

use std::borrow::Cow;

use crate::properties::{is_valid_property_name, Properties};

/// A parsed template: literal text and property references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Property {
        name: String,
        /// Text used when the property is not set (`${name:-default}`).
        default: Option<String>,
    },
}

impl Template {
    /// Parses `${name}`, `${name:-default}` and the escape `$${` (a literal `${`). A `$` not
    /// followed by `{` is literal text. The error names the character where the problem starts.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            let after = &rest[i..];
            if let Some(after_escape) = after.strip_prefix("$${") {
                literal.push_str("${");
                rest = after_escape;
                offset += i + 3;
            } else if let Some(body_and_rest) = after.strip_prefix("${") {
                let column = text[..offset + i].chars().count() + 1;
                let Some(end) = body_and_rest.find('}') else {
                    return Err(format!("`${{` at character {column} is not closed by `}}`"));
                };
                let body = &body_and_rest[..end];
                let (name, default) = match body.split_once(":-") {
                    Some((n, d)) => (n, Some(d.to_string())),
                    None => (body, None),
                };
                if !is_valid_property_name(name) {
                    return Err(format!(
                        "`${{{body}}}` at character {column}: a property name is letters, digits, `.`, `_` or `-` (use `${{name:-default}}` for a default)"
                    ));
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Property {
                    name: name.to_string(),
                    default,
                });
                rest = &body_and_rest[end + 1..];
                offset += i + 2 + end + 1;
            } else {
                literal.push('$');
                rest = &after[1..];
                offset += i + 1;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Renders with `properties`. A reference to a property that is not set and has no default
    /// is an error naming it: an empty file name or URL segment would hide the mistake.
    pub fn render<'a>(&'a self, properties: &Properties) -> Result<Cow<'a, str>, String> {
        match self.parts.as_slice() {
            [] => return Ok(Cow::Borrowed("")),
            [Part::Literal(text)] => return Ok(Cow::Borrowed(text)),
            _ => {}
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Property { name, default } => match (properties.get(name), default) {
                    (Some(value), _) => out.push_str(value),
                    (None, Some(default)) => out.push_str(default),
                    (None, None) => return Err(format!("property `{name}` is not set")),
                },
            }
        }
        Ok(Cow::Owned(out))
    }

    /// The names of the properties the template refers to.
    pub fn property_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Property { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props() -> Properties {
        [("file_name", "a.edi"), ("as2.from", "ACME"), ("empty", "")]
            .into_iter()
            .collect()
    }

    fn render(text: &str) -> Result<String, String> {
        Template::parse(text)?
            .render(&props())
            .map(|c| c.into_owned())
    }

    #[test]
    fn renders() {
        assert_eq!(render("plain").unwrap(), "plain");
        assert_eq!(render("").unwrap(), "");
        assert_eq!(render("${file_name}").unwrap(), "a.edi");
        assert_eq!(
            render("in/${as2.from}/${file_name}.x").unwrap(),
            "in/ACME/a.edi.x"
        );
        assert_eq!(render("${missing:-dflt}").unwrap(), "dflt");
        assert_eq!(render("${missing:-}").unwrap(), "");
        assert_eq!(render("${empty:-x}").unwrap(), "");
        assert_eq!(render("$${file_name}").unwrap(), "${file_name}");
        assert_eq!(render("cost $5 $").unwrap(), "cost $5 $");
        assert_eq!(render("$$${file_name}").unwrap(), "$${file_name}");
    }

    #[test]
    fn missing_property_is_an_error() {
        assert_eq!(
            render("x-${nope}").unwrap_err(),
            "property `nope` is not set"
        );
    }

    #[test]
    fn literal_render_borrows() {
        let t = Template::parse("fixed").unwrap();
        assert!(matches!(
            t.render(&Properties::new()).unwrap(),
            Cow::Borrowed("fixed")
        ));
    }

    #[test]
    fn syntax_errors() {
        assert!(Template::parse("a ${oops")
            .unwrap_err()
            .contains("character 3"));
        assert!(Template::parse("${}").is_err());
        assert!(Template::parse("${a b}").is_err());
        assert!(Template::parse("${a:b}").is_err());
        let names: Vec<_> = Template::parse("${a}${b:-c}")
            .unwrap()
            .property_names()
            .map(String::from)
            .collect();
        assert_eq!(names, vec!["a", "b"]);
    }
}
