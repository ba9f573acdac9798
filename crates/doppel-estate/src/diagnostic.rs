//! Diagnostics: one problem in an estate file, with where it is and what was expected.

use serde::Serialize;
use std::fmt;

/// One problem found in an estate file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// File path as given.
    pub file: String,
    /// Line, from 1 (0 when the problem concerns the whole file).
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
    /// Field path in the document (`entities.3.template.requests.cpu`).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// The likely intended value, when one is close.
    pub suggestion: Option<String>,
}

impl Diagnostic {
    /// Renders the diagnostic with the offending line of `text` and a caret under the column.
    pub fn render_with_source(&self, text: Option<&str>) -> String {
        let mut out = self.to_string();
        if let Some(source_line) = text.and_then(|t| t.lines().nth(self.line.saturating_sub(1) as usize))
            && self.line > 0
            && source_line.len() <= 300
        {
            let number = self.line.to_string();
            out.push_str(&format!(
                "\n {number} | {source_line}\n {} | {}^",
                " ".repeat(number.len()),
                " ".repeat(self.col.saturating_sub(1) as usize)
            ));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}
