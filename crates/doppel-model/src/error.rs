//! Why a ChangeSet was refused: every problem, each tied to the change that caused it.

use std::fmt;

/// The class of an apply error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// An entity or relation is added twice, or its key already exists.
    Duplicate,
    /// A change or a relation names an entity or relation that does not exist.
    NotFound,
    /// A relation joins kinds its type does not allow.
    WrongEndpoints,
    /// A value is impossible or inconsistent.
    Invalid,
}

/// One problem with one change of a ChangeSet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApplyError {
    /// Index of the change in the ChangeSet.
    pub change: usize,
    /// The entity or relation concerned.
    pub subject: String,
    /// Field path inside the change (`to`, `template.requests.cpu`), empty for the whole.
    pub field: String,
    /// Class of problem.
    pub kind: ProblemKind,
    /// What is wrong and what was expected.
    pub message: String,
    /// The likely intended key or name, when one is close.
    pub suggestion: Option<String>,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.subject)?;
        if !self.field.is_empty() {
            write!(f, " ({})", self.field)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

/// Every problem that made a ChangeSet be refused; nothing of it was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ApplyErrors(pub Vec<ApplyError>);

impl fmt::Display for ApplyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "the change set was refused ({n} problem{}); nothing was applied:", if n == 1 { "" } else { "s" })?;
        for error in &self.0 {
            writeln!(f, "  change {}: {error}", error.change + 1)?;
        }
        Ok(())
    }
}
