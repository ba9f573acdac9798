//! Continuous sync (`doppel sync -c sources.yaml`): every source instance of a sources file
//! ([`config`]) pulled on its interval, a live cluster on its watch, each pull committed to
//! the store as one ChangeSet ([`run`]), with what drift and freshness need recorded beside
//! the log: when each entity was last seen and by whom, and what each instance saw.
//!
//! The first instance in the file to hold a key owns it; the others' views of it are not
//! written to the twin but kept in their records, where `doppel drift`
//! ([`doppel_sources::drift`]) compares them.

pub mod config;
pub mod run;

pub use config::{ConfigError, Instance, SourceSpec, SourcesFile};
pub use run::{Event, Options, Outcome, Pulled, RunError, Summary, run};

use doppel_sources::SeriesSample;
use doppel_sources::drift::{Named, Record};
use doppel_store::{Sample, Store};

/// A source's samples as the store keeps them.
pub fn store_samples(samples: &[SeriesSample]) -> Vec<Sample> {
    samples
        .iter()
        .map(|s| Sample {
            entity: s.entity.clone(),
            attribute: s.attribute.to_string(),
            ts_ms: s.ts_ms,
            value: s.value,
        })
        .collect()
}

/// Every source instance's last recorded pull, decoded, in sources-file order. A record
/// that cannot be decoded (written by another version) is skipped and named in the second
/// list.
pub fn records(store: &impl Store) -> Result<(Vec<Named>, Vec<String>), doppel_store::Error> {
    let mut named = Vec::new();
    let mut unreadable = Vec::new();
    for stored in store.source_records()? {
        match serde_json::from_slice::<Record>(&stored.record) {
            Ok(record) => named.push(Named { name: stored.source, record }),
            Err(_) => unreadable.push(stored.source),
        }
    }
    Ok((named, unreadable))
}
