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

/// One successful pull of a source instance, as the sync records it beside the log:
/// what it saw (freshness) and its record for drift, replaced at each pull.
#[derive(Debug, Clone, Copy)]
pub struct Pull<'a> {
    /// The source instance's name.
    pub source: &'a str,
    /// Its system (`kubernetes`).
    pub system: &'a str,
    /// Its place in the sources file, from 0 (who comes first owns a key).
    pub position: usize,
    /// When it was pulled, ms since the epoch.
    pub time_ms: i64,
    /// How often it is pulled, ms (what staleness is measured in).
    pub interval_ms: i64,
    /// Every entity it saw, owned or not.
    pub seen: &'a [Key],
    /// Entities that left the twin with this pull: their freshness is forgotten.
    pub gone: &'a [Key],
    /// The instance's record of the pull, as the caller encodes it (JSON).
    pub record: &'a [u8],
}

/// When a source instance last saw an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// The entity.
    pub key: Key,
    /// The source instance.
    pub source: String,
    /// When, ms since the epoch.
    pub last_seen_ms: i64,
}

/// A source instance's last recorded pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The instance's name.
    pub source: String,
    /// Its system.
    pub system: String,
    /// Its place in the sources file.
    pub position: usize,
    /// When it was pulled, ms since the epoch.
    pub time_ms: i64,
    /// Its interval, ms.
    pub interval_ms: i64,
    /// The record, as given to [`Store::record_pull`].
    pub record: Vec<u8>,
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

    /// How many batches of samples were ever stored: it moves whenever telemetry arrives,
    /// from any process, and is cheap to read (0 for a store that never had any).
    fn samples_appended(&self) -> Result<u64>;

    /// Samples of one series between two times (inclusive), oldest first.
    fn samples(&self, entity: &Key, attribute: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, f64)>>;

    /// Every stored series.
    fn series(&self) -> Result<Vec<SeriesInfo>>;

    /// Records a successful pull, atomically: each entity it saw is marked seen by the
    /// source at its time, the freshness of entities gone from the twin is forgotten, and
    /// the source's record replaces its previous one. Not part of the log: a pull that
    /// changes nothing still records.
    fn record_pull(&mut self, pull: &Pull<'_>) -> Result<()>;

    /// When each source instance last saw an entity, the most recent first.
    fn last_seen(&self, key: &Key) -> Result<Vec<Seen>>;

    /// Entities no source has seen for more than `intervals` of its own intervals before
    /// `now_ms`, each with its most recent sighting, by key.
    fn stale(&self, now_ms: i64, intervals: u32) -> Result<Vec<Seen>>;

    /// Every source instance's last recorded pull, in sources-file order.
    fn source_records(&self) -> Result<Vec<SourceRecord>>;
}

/// Summary counts of a ChangeSet, as a commit records them.
pub(crate) fn counts(summary: &ChangeSummary) -> (doppel_model::Counts, doppel_model::Counts) {
    (summary.entity_totals(), summary.relations)
}
