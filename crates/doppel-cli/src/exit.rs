//! Exit codes, one place. Scripts can rely on these:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | unexpected failure (a bug, a damaged store, an I/O error) |
//! | 2 | bad command line (unknown flag, missing argument) |
//! | 3 | invalid input: an estate file, selector or ChangeSet was refused; nothing was stored |
//! | 4 | not found: no store, no such entity, version or time |
//! | 5 | conflict: the store changed under us; retry |
//! | 6 | unavailable: the store is locked or written by a newer doppel, or a source of `sync --once`/`--rounds` failed |
//! | 7 | drift found (`drift --fail-on-drift`) |

use doppel_store::ErrorKind;

/// A failure that already explained itself (diagnostics printed) and carries its exit code.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// One-line summary printed last.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Invalid input (exit 3).
pub fn invalid(message: impl Into<String>) -> anyhow::Error {
    Failure { code: 3, message: message.into() }.into()
}

/// Bad command line (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure { code: 2, message: message.into() }.into()
}

/// Not found (exit 4).
pub fn not_found(message: impl Into<String>) -> anyhow::Error {
    Failure { code: 4, message: message.into() }.into()
}

/// Unavailable: a system could not be reached or read (exit 6).
pub fn unavailable(message: impl Into<String>) -> anyhow::Error {
    Failure { code: 6, message: message.into() }.into()
}

/// Drift was found and the user asked to fail on it (exit 7).
pub fn findings(message: impl Into<String>) -> anyhow::Error {
    Failure { code: 7, message: message.into() }.into()
}

/// The exit code for an error.
pub fn code_of(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.code;
        }
        if let Some(store) = cause.downcast_ref::<doppel_store::Error>() {
            return match store.kind() {
                ErrorKind::InvalidInput => 3,
                ErrorKind::NotFound => 4,
                ErrorKind::Conflict => 5,
                ErrorKind::Unavailable if matches!(store, doppel_store::Error::Missing { .. }) => 4,
                ErrorKind::Unavailable => 6,
                ErrorKind::Internal => 1,
            };
        }
        if cause.downcast_ref::<doppel_model::SelectorError>().is_some() {
            return 3;
        }
    }
    1
}
