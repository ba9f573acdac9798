//! Store errors, each with a kind that callers (CLI exit codes, HTTP statuses) map once.

use doppel_model::ApplyErrors;

/// The class of a store error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller asked for something malformed or impossible.
    InvalidInput,
    /// What was asked for does not exist.
    NotFound,
    /// Someone else changed the store first.
    Conflict,
    /// The store cannot be reached or opened now.
    Unavailable,
    /// A bug or corruption on our side.
    Internal,
}

/// An error from a store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not a Doppel store.
    #[error("{path} is not a Doppel store ({reason})")]
    NotAStore {
        /// File path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The store was written by a newer Doppel.
    #[error("{path} uses store format {found}; this doppel reads format {supported}: upgrade doppel")]
    NewerFormat {
        /// File path.
        path: String,
        /// Format found.
        found: i64,
        /// Format this build reads.
        supported: i64,
    },
    /// There is no store file where one was expected.
    #[error("no store at {path}: create one with `doppel load FILES` or `doppel demo`")]
    Missing {
        /// File path.
        path: String,
    },
    /// The requested version or time is outside the history.
    #[error("{0}")]
    NoSuchVersion(String),
    /// The store moved on since the caller read it.
    #[error(
        "the store is at version {head}, but this change was prepared against version {expected}; reload and retry"
    )]
    Conflict {
        /// Version the caller expected.
        expected: u64,
        /// Version found.
        head: u64,
    },
    /// The ChangeSet was refused by the model.
    #[error(transparent)]
    Refused(#[from] ApplyErrors),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Stored data could not be decoded.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl Error {
    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotAStore { .. } | Error::Refused(_) => ErrorKind::InvalidInput,
            Error::NewerFormat { .. } | Error::Missing { .. } => ErrorKind::Unavailable,
            Error::NoSuchVersion(_) => ErrorKind::NotFound,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Database(e) if is_busy(e) => ErrorKind::Unavailable,
            Error::Database(_) | Error::Corrupt(_) => ErrorKind::Internal,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Conflict | ErrorKind::Unavailable)
            && !matches!(self, Error::Missing { .. } | Error::NewerFormat { .. })
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Result with a store [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
