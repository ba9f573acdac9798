//! Errors of sources: each names the source, the object and the place, and says what was
//! expected.

use serde::Serialize;
use std::fmt;

/// Where in an input something is: a file position, or a field path when there is no file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct Place {
    /// File path as given (`-` for standard input).
    pub file: String,
    /// Line, from 1 (0 when unknown).
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 { f.write_str(&self.file) } else { write!(f, "{}:{}:{}", self.file, self.line, self.col) }
    }
}

/// The class of an error, for exit codes and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is malformed or refused by the twin.
    InvalidInput,
    /// The system or input cannot be reached or read.
    Unavailable,
}

/// Why a source could not produce a ChangeSet. Nothing was changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The input is not valid YAML or JSON.
    #[error("source `{source_name}`: {place}: not valid {format}: {message}")]
    Syntax {
        /// The source instance.
        source_name: String,
        /// The format expected (`YAML`, `JSON`).
        format: &'static str,
        /// Where the parser stopped.
        place: Place,
        /// What the parser expected.
        message: String,
    },
    /// An object is malformed: a required field is missing or has the wrong type.
    #[error("source `{source_name}`: {place}: {object}: {message}")]
    Object {
        /// The source instance.
        source_name: String,
        /// The object (`Deployment default/cart`, or `document 3` before its kind is known).
        object: String,
        /// Where.
        place: Place,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The twin refused the planned ChangeSet (a value the model does not accept).
    #[error("source `{source_name}`: {}{object}: {message}", place.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
    Refused {
        /// The source instance.
        source_name: String,
        /// The entity or relation refused.
        object: String,
        /// Where its object was written, when known.
        place: Option<Place>,
        /// The model's reasons.
        message: String,
    },
    /// A query to a remote system failed: no answer, an HTTP error, or an answer that is
    /// not what the API documents.
    #[error("source `{source_name}`: {url}: query `{query}`: {message}")]
    Query {
        /// The source instance.
        source_name: String,
        /// The URL asked.
        url: String,
        /// The query sent.
        query: String,
        /// What went wrong and what was expected.
        message: String,
        /// Whether asking again may succeed (no answer, a server error).
        retryable: bool,
    },
    /// The input could not be read.
    #[error("source `{source_name}`: cannot read {what}: {message}")]
    Unreadable {
        /// The source instance.
        source_name: String,
        /// What could not be read.
        what: String,
        /// Why.
        message: String,
    },
}

impl Error {
    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Unreadable { .. } => ErrorKind::Unavailable,
            Error::Query { retryable: true, .. } => ErrorKind::Unavailable,
            _ => ErrorKind::InvalidInput,
        }
    }

    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }

    /// The place the error points at, if it has one.
    pub fn place(&self) -> Option<&Place> {
        match self {
            Error::Syntax { place, .. } | Error::Object { place, .. } => Some(place),
            Error::Refused { place, .. } => place.as_ref(),
            Error::Unreadable { .. } | Error::Query { .. } => None,
        }
    }
}

/// A result with a source [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
