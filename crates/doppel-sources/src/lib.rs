//! Sources: adapters from the systems that know the truth (Kubernetes manifests,
//! Terraform, Prometheus and OpenTelemetry traces; a live cluster later) to ChangeSets.
//!
//! A [`Source`] reads its system and returns an [`Observation`]; [`reconcile`] turns that
//! into one ChangeSet against a twin, with provenance. A source never touches the twin or
//! the store: the caller commits the [`Batch`]. `docs/sources.md` is the contract and
//! [`compliance::check`] its test.

pub mod compliance;
pub mod drift;
mod error;
pub mod estate;
pub mod kubernetes;
pub mod otlp;
pub mod prometheus;
mod reconcile;
pub mod terraform;

pub use error::{Error, ErrorKind, Place, Result};
pub use reconcile::reconcile;

use doppel_model::{ChangeSet, Entity, Key, Relation, Twin, TwinView};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The label every entity a source produces carries; its value is the source instance's name.
pub const OWNER_LABEL: &str = "doppel.dev/source";

/// An adapter from an outside system to the twin.
pub trait Source {
    /// The system this source reads (`kubernetes`): the provenance of its ChangeSets.
    fn system(&self) -> &'static str;

    /// This instance's name: the value of [`OWNER_LABEL`] on what it produces.
    fn name(&self) -> &str;

    /// Reads the system and returns what it holds now.
    fn pull(&mut self) -> Result<Observation>;

    /// Pulls, then plans the ChangeSet that brings `twin` in line with the observation,
    /// checked against a fork of `twin` so a refusal names the object and its place.
    fn changes(&mut self, twin: &Twin) -> Result<Batch> {
        let observation = self.pull()?;
        plan_checked(observation, twin, self.system(), self.name())
    }
}

/// Reconciles an observation of the source instance `name` of `system` against `twin` and
/// checks the ChangeSet on a fork, so a refusal names the object and its place.
pub fn plan_checked(observation: Observation, twin: &Twin, system: &'static str, name: &str) -> Result<Batch> {
    let batch = reconcile(observation, twin, system, name);
    let mut fork = twin.fork();
    if let Err(errors) = fork.apply(&batch.changeset) {
        let first = &errors.0[0];
        let object = first.subject.split(" -[").next().unwrap_or(&first.subject).to_string();
        let place = first.subject.parse::<Key>().ok().and_then(|key| batch.origins.get(&key).cloned());
        return Err(Error::Refused {
            source_name: name.to_string(),
            object,
            place,
            message: errors.to_string().trim_end().to_string(),
        });
    }
    Ok(batch)
}

/// What a source saw in its system at one pull.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Entities, one per key.
    pub entities: Vec<Entity>,
    /// Relations between them (or to entities already in the twin).
    pub relations: Vec<Relation>,
    /// Series samples read.
    pub samples: Vec<SeriesSample>,
    /// What was skipped or could not be resolved.
    pub warnings: Vec<Warning>,
    /// Whether this is the whole of what the source owns: owned entities not in it are removed.
    pub complete: bool,
    /// What was read, in a few words (`3 files`), for the provenance summary.
    pub input: String,
    /// Where each entity was written, for messages.
    pub origins: BTreeMap<Key, Place>,
    /// Owned entities to remove even from a partial listing (a plan's deletions).
    pub removed: Vec<Key>,
    /// Owned entities to remove and add again, with their relations (a plan's replacements).
    pub replaced: Vec<Key>,
    /// Differences the system itself reports between what it declares and what is real
    /// (Terraform's `resource_drift`: resources changed outside Terraform).
    pub drift: Vec<ReportedDrift>,
}

/// A difference a source's own system reports between its records and reality: one
/// attribute of one resource (Terraform's `resource_drift`, after a refresh).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedDrift {
    /// The entity the resource maps onto, when it maps onto one.
    pub key: Option<Key>,
    /// The resource as the system names it (`aws_security_group.web`).
    pub object: String,
    /// The attribute path inside it (`ingress[0].cidr_blocks[0]`); empty for the whole
    /// resource (deleted outside the system).
    pub field: String,
    /// The value the system's records hold (its state); `None` when absent there.
    pub declared: Option<serde_json::Value>,
    /// The value found in reality; `None` when absent there (deleted by hand).
    pub observed: Option<serde_json::Value>,
    /// Where the report was read.
    pub place: Option<Place>,
}

/// What one pull of a source instance saw, whether or not the twin took it (entities
/// another owner holds included): what drift compares and freshness counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// Entities as the source produced them (with its owner label), sorted by key.
    pub entities: Vec<Entity>,
    /// Relations as the source produced them, sorted.
    pub relations: Vec<Relation>,
    /// Differences the system itself reported.
    pub drift: Vec<ReportedDrift>,
    /// Whether the listing was the whole of the instance.
    pub complete: bool,
}

/// One sample of a series bound to an entity attribute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesSample {
    /// The entity.
    pub entity: Key,
    /// The attribute, with its unit in the name (`request_rate_rps`); shared by the
    /// samples of a series.
    pub attribute: std::sync::Arc<str>,
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// The value.
    pub value: f64,
}

/// What kind of thing a warning reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// An object of a kind the source does not map.
    UnknownKind,
    /// A field the source does not know for its kind.
    UnknownField,
    /// A reference to something not in the input (a role, a scale target).
    Unresolved,
    /// The same object twice; the later one is kept.
    Duplicate,
    /// An entity already in the twin that another source or an estate file owns.
    NotOwned,
    /// Something left out on purpose and counted (a Terraform data source).
    Skipped,
    /// An input format newer than the source knows; read as the newest it knows.
    Format,
}

/// Something a source skipped or could not resolve; never fatal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// What kind of problem.
    pub kind: WarningKind,
    /// The object concerned (`Deployment default/cart`), if one.
    pub object: Option<String>,
    /// Where.
    pub place: Option<Place>,
    /// The subject counted in summaries: the unknown kind, the unknown field path.
    pub subject: String,
    /// What happened, in a sentence.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(place) = &self.place {
            write!(f, "{place}: ")?;
        }
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A planned import: the ChangeSet to commit, samples to append, and warnings to show.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The changes, with provenance; empty when the twin already matches.
    pub changeset: ChangeSet,
    /// Samples for the store's series.
    pub samples: Vec<SeriesSample>,
    /// Warnings of the pull.
    pub warnings: Vec<Warning>,
    /// Every entity observed (whether changed or not), for summaries.
    pub observed: Vec<Key>,
    /// Every relation observed (whether changed or not), for summaries.
    pub observed_relations: Vec<doppel_model::RelKey>,
    /// Where each entity was written.
    pub origins: BTreeMap<Key, Place>,
    /// Everything the pull saw, as it saw it (kept for drift; not applied as it is).
    pub view: View,
}

impl Batch {
    /// Warnings counted by kind and subject (`unknown_kind`, `Certificate`): for summaries.
    pub fn warning_counts(&self) -> BTreeMap<(WarningKind, String), usize> {
        let mut counts = BTreeMap::new();
        for warning in &self.warnings {
            *counts.entry((warning.kind, warning.subject.clone())).or_insert(0) += 1;
        }
        counts
    }
}

/// Whether an entity in a twin is owned by the source instance `name`.
pub fn owned_by(entity: &Entity, name: &str) -> bool {
    entity.labels.get(OWNER_LABEL) == Some(name)
}

/// Entities of `twin` that the source instance `name` owns.
pub fn owned_keys(twin: &(impl TwinView + ?Sized), name: &str) -> Vec<Key> {
    let mut keys: Vec<Key> = match twin.entities_labelled(OWNER_LABEL, name) {
        Some(entities) => entities.into_iter().filter(|e| owned_by(e, name)).map(|e| e.key.clone()).collect(),
        None => twin.entities().filter(|e| owned_by(e, name)).map(|e| e.key.clone()).collect(),
    };
    keys.sort();
    keys
}
