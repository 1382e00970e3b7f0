//! A problem found in a deployment file, located by file, line, column and field.

use std::fmt;
use std::path::PathBuf;

/// One problem in a deployment file.
///
/// `line` and `column` are 1-based. `field` is a dotted path such as
/// `steps[2].write_file.directory`; it is empty when the problem concerns the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: String,
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic about a whole file (unreadable, wrong folder, ...), with no position.
    pub fn file_level(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: None,
            column: None,
            field: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            // A column without a line would be meaningless, so it is only shown after one.
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_everything() {
        let d = Diagnostic {
            file: "processes/orders.yaml".into(),
            line: Some(12),
            column: Some(5),
            field: "steps[2].write_file.directory".into(),
            message: "missing field `directory`".into(),
        };
        assert_eq!(
            d.to_string(),
            "processes/orders.yaml:12:5: steps[2].write_file.directory: missing field `directory`"
        );
    }

    #[test]
    fn display_omits_unknown_parts() {
        let d = Diagnostic::file_level("a.yaml", "cannot read");
        assert_eq!(d.to_string(), "a.yaml: cannot read");
        let d = Diagnostic {
            line: Some(3),
            column: None,
            ..Diagnostic::file_level("a.yaml", "bad")
        };
        assert_eq!(d.to_string(), "a.yaml:3: bad");
    }
}
