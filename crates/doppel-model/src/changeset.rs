//! ChangeSets: the only way a twin changes.

use crate::entity::Entity;
use crate::key::Key;
use crate::kind::Kind;
use crate::relation::{RelKey, Relation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One change to a twin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// Adds an entity whose key is new.
    AddEntity(Entity),
    /// Replaces an existing entity (labels and attributes) with this one.
    UpdateEntity(Entity),
    /// Removes an entity and every relation that touches it.
    RemoveEntity(Key),
    /// Adds a relation between existing entities.
    AddRelation(Relation),
    /// Replaces the attributes of an existing relation.
    UpdateRelation(Relation),
    /// Removes a relation.
    RemoveRelation(RelKey),
}

impl Change {
    /// The key of the entity changed, or the source of the relation changed.
    pub fn subject(&self) -> String {
        match self {
            Change::AddEntity(e) | Change::UpdateEntity(e) => e.key.to_string(),
            Change::RemoveEntity(k) => k.to_string(),
            Change::AddRelation(r) | Change::UpdateRelation(r) => r.key().to_string(),
            Change::RemoveRelation(k) => k.to_string(),
        }
    }
}

/// Where a ChangeSet comes from: which source, who, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// The source or tool that produced it (`estate-file`, `kubernetes`, `scenario`).
    pub source: String,
    /// The person or system account responsible.
    pub author: String,
    /// One line saying what it does.
    pub summary: String,
}

/// A set of changes applied all together or not at all.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChangeSet {
    /// The changes, applied in order.
    pub changes: Vec<Change>,
    /// Where it comes from.
    pub provenance: Provenance,
}

impl ChangeSet {
    /// An empty ChangeSet.
    pub fn new() -> ChangeSet {
        ChangeSet::default()
    }

    /// A ChangeSet of these changes.
    pub fn of(changes: Vec<Change>) -> ChangeSet {
        ChangeSet { changes, provenance: Provenance::default() }
    }

    /// Sets the provenance.
    pub fn with_provenance(mut self, provenance: Provenance) -> ChangeSet {
        self.provenance = provenance;
        self
    }

    /// Appends a change.
    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The number of changes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Counts of added, updated and removed entities per kind, and of relations.
    pub fn summary(&self) -> ChangeSummary {
        let mut summary = ChangeSummary::default();
        for change in &self.changes {
            match change {
                Change::AddEntity(e) => summary.entities.entry(e.key.kind()).or_default().added += 1,
                Change::UpdateEntity(e) => summary.entities.entry(e.key.kind()).or_default().updated += 1,
                Change::RemoveEntity(k) => summary.entities.entry(k.kind()).or_default().removed += 1,
                Change::AddRelation(_) => summary.relations.added += 1,
                Change::UpdateRelation(_) => summary.relations.updated += 1,
                Change::RemoveRelation(_) => summary.relations.removed += 1,
            }
        }
        summary
    }
}

/// How many things a ChangeSet adds, updates and removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Added.
    pub added: usize,
    /// Updated.
    pub updated: usize,
    /// Removed.
    pub removed: usize,
}

impl Counts {
    /// Total changes counted.
    pub fn total(&self) -> usize {
        self.added + self.updated + self.removed
    }
}

/// Counts of a ChangeSet's changes, per entity kind and for relations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChangeSummary {
    /// Entity changes per kind.
    pub entities: BTreeMap<Kind, Counts>,
    /// Relation changes.
    pub relations: Counts,
}

impl ChangeSummary {
    /// All entity changes added up.
    pub fn entity_totals(&self) -> Counts {
        self.entities.values().fold(Counts::default(), |acc, c| Counts {
            added: acc.added + c.added,
            updated: acc.updated + c.updated,
            removed: acc.removed + c.removed,
        })
    }
}

impl fmt::Display for ChangeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.entity_totals();
        let r = self.relations;
        write!(
            f,
            "entities +{} ~{} -{}, relations +{} ~{} -{}",
            e.added, e.updated, e.removed, r.added, r.updated, r.removed
        )
    }
}
