//! Forks: a cheap overlay over a base view. What-ifs apply their ChangeSets to a fork;
//! the base never changes. Creating a fork copies nothing; it holds only what changed.

use crate::apply::Stage;
use crate::changeset::ChangeSet;
use crate::entity::Entity;
use crate::error::ApplyErrors;
use crate::key::Key;
use crate::relation::{RelKey, RelSpec};
use crate::view::{RelationRef, TwinView};

type Map<K, V> = hashbrown::HashMap<K, V, foldhash::fast::FixedState>;

/// A relation's identity by reference: looks up a [`RelKey`] without cloning two keys.
/// Hashes exactly as `RelKey`'s derived `Hash` does (from, kind, to, in that order).
#[derive(Hash)]
struct RelKeyRef<'a> {
    from: &'a Key,
    kind: crate::relation::RelKind,
    to: &'a Key,
}

impl hashbrown::Equivalent<RelKey> for RelKeyRef<'_> {
    fn equivalent(&self, key: &RelKey) -> bool {
        self.kind == key.kind && *self.from == key.from && *self.to == key.to
    }
}

fn by_ref<'a>(rel: &RelationRef<'a>) -> RelKeyRef<'a> {
    RelKeyRef { from: rel.from, kind: rel.kind(), to: rel.to }
}

/// An overlay over a base view.
pub struct Fork<'a, B: TwinView + ?Sized> {
    base: &'a B,
    entities: Map<Key, Option<Entity>>,
    relations: Map<RelKey, Option<RelSpec>>,
    /// Relations present here but not in the base, by source and by target.
    added_out: Map<Key, Vec<RelKey>>,
    added_in: Map<Key, Vec<RelKey>>,
    entity_delta: isize,
    relation_delta: isize,
}

impl<'a, B: TwinView + ?Sized> Fork<'a, B> {
    /// A fork of `base` with no changes.
    pub fn new(base: &'a B) -> Fork<'a, B> {
        Fork {
            base,
            entities: Map::default(),
            relations: Map::default(),
            added_out: Map::default(),
            added_in: Map::default(),
            entity_delta: 0,
            relation_delta: 0,
        }
    }

    /// The view this fork overlays.
    pub fn base(&self) -> &'a B {
        self.base
    }

    /// Whether the fork holds any change.
    pub fn is_pristine(&self) -> bool {
        self.entities.is_empty() && self.relations.is_empty()
    }

    /// Applies a ChangeSet to the fork atomically; returns the reverse ChangeSet.
    pub fn apply(&mut self, changes: &ChangeSet) -> Result<ChangeSet, ApplyErrors> {
        crate::apply::apply(self, changes)
    }

    /// The fork's changes as a ChangeSet against its base.
    pub fn to_changeset(&self) -> ChangeSet {
        crate::diff::diff(self.base, self)
    }

    fn relation_refs<'s>(&'s self, base: Vec<RelationRef<'s>>, added: Option<&'s Vec<RelKey>>) -> Vec<RelationRef<'s>> {
        let mut out: Vec<RelationRef<'s>> = Vec::with_capacity(base.len());
        for rel in base {
            if self.relations.is_empty() {
                out.push(rel);
                continue;
            }
            match self.relations.get(&by_ref(&rel)) {
                None => out.push(rel),
                Some(Some(spec)) => out.push(RelationRef { spec, ..rel }),
                Some(None) => {}
            }
        }
        for key in added.into_iter().flatten() {
            if let Some(Some(spec)) = self.relations.get(key) {
                out.push(RelationRef { from: &key.from, to: &key.to, spec });
            }
        }
        out
    }
}

impl<B: TwinView + ?Sized> Stage for Fork<'_, B> {
    fn stage_entity(&mut self, key: &Key, entity: Option<Entity>) {
        let in_base = self.base.entity(key).is_some();
        let before = match self.entities.get(key) {
            Some(overridden) => overridden.is_some(),
            None => in_base,
        };
        let after = entity.is_some();
        self.entity_delta += isize::from(after) - isize::from(before);
        if after || in_base {
            self.entities.insert(key.clone(), entity);
        } else {
            self.entities.remove(key);
        }
    }

    fn stage_relation(&mut self, key: &RelKey, spec: Option<RelSpec>) {
        let in_base = self.base.relation(key).is_some();
        let before = match self.relations.get(key) {
            Some(overridden) => overridden.is_some(),
            None => in_base,
        };
        let after = spec.is_some();
        self.relation_delta += isize::from(after) - isize::from(before);
        if !in_base {
            if after && !before {
                self.added_out.entry(key.from.clone()).or_default().push(key.clone());
                self.added_in.entry(key.to.clone()).or_default().push(key.clone());
            } else if !after && before {
                if let Some(list) = self.added_out.get_mut(&key.from) {
                    list.retain(|k| k != key);
                }
                if let Some(list) = self.added_in.get_mut(&key.to) {
                    list.retain(|k| k != key);
                }
            }
        }
        if in_base || after {
            self.relations.insert(key.clone(), spec);
        } else {
            self.relations.remove(key);
        }
    }
}

impl<B: TwinView + ?Sized> TwinView for Fork<'_, B> {
    fn entity(&self, key: &Key) -> Option<&Entity> {
        match self.entities.get(key) {
            Some(overridden) => overridden.as_ref(),
            None => self.base.entity(key),
        }
    }

    fn entities(&self) -> Box<dyn Iterator<Item = &Entity> + '_> {
        let base = self.base.entities().filter_map(move |e| match self.entities.get(&e.key) {
            None => Some(e),
            Some(overridden) => overridden.as_ref(),
        });
        let added = self.entities.iter().filter_map(move |(key, e)| match e {
            Some(e) if self.base.entity(key).is_none() => Some(e),
            _ => None,
        });
        Box::new(base.chain(added))
    }

    fn entity_count(&self) -> usize {
        (self.base.entity_count() as isize + self.entity_delta) as usize
    }

    fn relation(&self, key: &RelKey) -> Option<&RelSpec> {
        match self.relations.get(key) {
            Some(overridden) => overridden.as_ref(),
            None => self.base.relation(key),
        }
    }

    fn relations(&self) -> Box<dyn Iterator<Item = RelationRef<'_>> + '_> {
        let base = self.base.relations().filter_map(move |rel| {
            if self.relations.is_empty() {
                return Some(rel);
            }
            match self.relations.get(&by_ref(&rel)) {
                None => Some(rel),
                Some(Some(spec)) => Some(RelationRef { spec, ..rel }),
                Some(None) => None,
            }
        });
        let added = self.relations.iter().filter_map(move |(key, spec)| match spec {
            Some(spec) if self.base.relation(key).is_none() => Some(RelationRef { from: &key.from, to: &key.to, spec }),
            _ => None,
        });
        Box::new(base.chain(added))
    }

    fn relation_count(&self) -> usize {
        (self.base.relation_count() as isize + self.relation_delta) as usize
    }

    fn out_relations(&self, key: &Key) -> Vec<RelationRef<'_>> {
        self.relation_refs(self.base.out_relations(key), self.added_out.get(key))
    }

    fn in_relations(&self, key: &Key) -> Vec<RelationRef<'_>> {
        self.relation_refs(self.base.in_relations(key), self.added_in.get(key))
    }

    fn version(&self) -> u64 {
        self.base.version()
    }
}
