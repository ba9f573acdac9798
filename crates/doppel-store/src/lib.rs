//! Where the twin lives: the log of ChangeSets (with time, source, author and summary),
//! snapshots that make reopening fast, and series samples bound to entity attributes.
//!
//! [`Store`] is the contract; [`SqliteStore`] is the embedded default, one file. A
//! PostgreSQL backend will implement the same trait over the same schema.

mod error;
mod sqlite;

pub use error::{Error, ErrorKind, Result};
pub use sqlite::SqliteStore;

use doppel_model::{ChangeSet, ChangeSummary, Key, Twin};
use serde::Serialize;

/// Which version of the twin to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The newest version.
    Head,
    /// A version number (0 is the empty twin).
    Version(u64),
    /// The newest version committed at or before this time (milliseconds since the epoch).
    Time(i64),
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Commit {
    /// Version the ChangeSet produced.
    pub version: u64,
    /// When it was committed, in milliseconds since the epoch.
    pub time_ms: i64,
    /// Source that produced it.
    pub source: String,
    /// Who is responsible.
    pub author: String,
    /// What it does, in a line.
    pub summary: String,
    /// Entities added, updated, removed.
    pub entities: doppel_model::Counts,
    /// Relations added, updated, removed.
    pub relations: doppel_model::Counts,
}

/// A sample of a series: an entity attribute's value at a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Entity the series belongs to.
    pub entity: Key,
    /// Attribute (`request_rate_rps`, `disk_used_bytes`).
    pub attribute: String,
    /// Time in milliseconds since the epoch.
    pub ts_ms: i64,
    /// Value, in the unit the attribute name says.
    pub value: f64,
}

/// A stored series and its extent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesInfo {
    /// Entity.
    pub entity: String,
    /// Attribute.
    pub attribute: String,
    /// Number of samples.
    pub samples: u64,
    /// First sample time.
    pub first_ms: i64,
    /// Last sample time.
    pub last_ms: i64,
}

/// Reports progress of long operations: (done, total).
pub type Progress<'a> = &'a dyn Fn(u64, u64);

/// A durable home for a twin's history and series.
pub trait Store {
    /// The newest version (0 when nothing was ever committed).
    fn head(&self) -> Result<u64>;

    /// Reads the twin at a version or time.
    fn twin_at(&self, at: At, progress: Option<Progress<'_>>) -> Result<Twin>;

    /// Applies a ChangeSet to `base` (the twin at the head, as read by the caller) and
    /// records it, atomically. If the store moved on since `base` was read, nothing is
    /// written and [`Error::Conflict`] is returned. Returns the commit and the new twin.
    fn commit(&mut self, base: Twin, changes: &ChangeSet) -> Result<(Commit, Twin)>;

    /// The log, newest first, at most `limit` entries.
    fn history(&self, limit: usize) -> Result<Vec<Commit>>;

    /// The ChangeSet that produced a version.
    fn changeset(&self, version: u64) -> Result<ChangeSet>;

    /// Stores samples (a sample at an existing time replaces the old value). Returns how many.
    fn append_samples(&mut self, samples: &[Sample]) -> Result<usize>;

    /// Samples of one series between two times (inclusive), oldest first.
    fn samples(&self, entity: &Key, attribute: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, f64)>>;

    /// Every stored series.
    fn series(&self) -> Result<Vec<SeriesInfo>>;
}

/// Summary counts of a ChangeSet, as a commit records them.
pub(crate) fn counts(summary: &ChangeSummary) -> (doppel_model::Counts, doppel_model::Counts) {
    (summary.entity_totals(), summary.relations)
}
