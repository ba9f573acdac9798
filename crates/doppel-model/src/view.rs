//! [`TwinView`]: what every analysis reads, implemented by the live [`Twin`](crate::Twin)
//! and by its [`Fork`](crate::Fork)s alike.

use crate::entity::Entity;
use crate::key::Key;
use crate::kind::Kind;
use crate::relation::{RelKey, RelKind, RelSpec, Relation};

/// A borrowed relation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelationRef<'a> {
    /// Source entity.
    pub from: &'a Key,
    /// Target entity.
    pub to: &'a Key,
    /// Type and attributes.
    pub spec: &'a RelSpec,
}

impl RelationRef<'_> {
    /// The relation type.
    pub fn kind(&self) -> RelKind {
        self.spec.kind()
    }

    /// The relation's identity.
    pub fn key(&self) -> RelKey {
        RelKey { from: self.from.clone(), kind: self.kind(), to: self.to.clone() }
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Relation {
        Relation { from: self.from.clone(), to: self.to.clone(), spec: self.spec.clone() }
    }
}

/// Read access to a twin, live or forked. Analyses take `&impl TwinView` (or `&dyn`).
pub trait TwinView {
    /// The entity with this key.
    fn entity(&self, key: &Key) -> Option<&Entity>;

    /// Every entity, in no particular order.
    fn entities(&self) -> Box<dyn Iterator<Item = &Entity> + '_>;

    /// The number of entities.
    fn entity_count(&self) -> usize;

    /// The attributes of a relation, if it exists.
    fn relation(&self, key: &RelKey) -> Option<&RelSpec>;

    /// Every relation, in no particular order.
    fn relations(&self) -> Box<dyn Iterator<Item = RelationRef<'_>> + '_>;

    /// The number of relations.
    fn relation_count(&self) -> usize;

    /// Relations whose source is `key`.
    fn out_relations(&self, key: &Key) -> Vec<RelationRef<'_>>;

    /// Relations whose target is `key`.
    fn in_relations(&self, key: &Key) -> Vec<RelationRef<'_>>;

    /// The version this view was derived from.
    fn version(&self) -> u64;

    /// Whether an entity exists.
    fn contains(&self, key: &Key) -> bool {
        self.entity(key).is_some()
    }

    /// Entities carrying label `key` with a value matching `value` (a glob), if this view
    /// keeps a label index; `None` means "no index: scan".
    fn entities_labelled(&self, key: &str, value: &str) -> Option<Vec<&Entity>> {
        let _ = (key, value);
        None
    }

    /// Entities of one kind.
    fn entities_of(&self, kind: Kind) -> Box<dyn Iterator<Item = &Entity> + '_> {
        Box::new(self.entities().filter(move |e| e.key.kind() == kind))
    }
}
