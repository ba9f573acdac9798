//! The live twin: entities and relations held compactly, indexed by key, with adjacency
//! lists for graph walks.
//!
//! Entities and relations live in slot vectors addressed by `u32` ids; a hash table maps
//! keys to entity ids without storing the key twice. Each entity keeps the sorted ids of
//! the relations leaving and entering it.

use crate::changeset::ChangeSet;
use crate::entity::Entity;
use crate::error::ApplyErrors;
use crate::fork::{Fork, OverlayParts};
use crate::key::Key;
use crate::relation::{RelKey, RelSpec};
use crate::view::{RelationRef, TwinView};
use hashbrown::HashTable;
use std::hash::BuildHasher;

type Id = u32;

#[derive(Clone)]
struct Slot {
    entity: Entity,
    out: Vec<Id>,
    inc: Vec<Id>,
}

#[derive(Clone)]
struct RelSlot {
    from: Id,
    to: Id,
    spec: RelSpec,
}

/// A typed graph of an estate at one version. Changed only by [`Twin::apply`].
#[derive(Clone)]
pub struct Twin {
    version: u64,
    slots: Vec<Option<Slot>>,
    free_slots: Vec<Id>,
    index: HashTable<Id>,
    rels: Vec<Option<RelSlot>>,
    free_rels: Vec<Id>,
    n_entities: usize,
    n_relations: usize,
}

impl Default for Twin {
    fn default() -> Self {
        Twin::new()
    }
}

impl std::fmt::Debug for Twin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twin")
            .field("version", &self.version)
            .field("entities", &self.n_entities)
            .field("relations", &self.n_relations)
            .finish()
    }
}

fn hash_key(key: &Key) -> u64 {
    foldhash::fast::FixedState::with_seed(0x646f7070656c).hash_one(key)
}

impl Twin {
    /// An empty twin at version 0.
    pub fn new() -> Twin {
        Twin {
            version: 0,
            slots: Vec::new(),
            free_slots: Vec::new(),
            index: HashTable::new(),
            rels: Vec::new(),
            free_rels: Vec::new(),
            n_entities: 0,
            n_relations: 0,
        }
    }

    /// Reserves room for more entities and relations, to avoid regrowth when loading.
    pub fn reserve(&mut self, entities: usize, relations: usize) {
        self.slots.reserve(entities);
        let slots = &self.slots;
        self.index
            .reserve(entities, |&id| hash_key(&slots[id as usize].as_ref().expect("indexed slot is live").entity.key));
        self.rels.reserve(relations);
    }

    /// Applies a ChangeSet atomically: all of it, or nothing with every problem listed.
    /// Returns the reverse ChangeSet, which undoes it. The version goes up by one.
    pub fn apply(&mut self, changes: &ChangeSet) -> Result<ChangeSet, ApplyErrors> {
        let (parts, reverse) = {
            let mut fork = Fork::new(&*self);
            let reverse = fork.apply_unchecked_atomicity(changes)?;
            (fork.into_parts(), reverse)
        };
        self.merge(parts);
        self.version += 1;
        Ok(reverse)
    }

    /// A cheap overlay over this twin for what-ifs; the twin itself never changes.
    pub fn fork(&self) -> Fork<'_, Twin> {
        Fork::new(self)
    }

    /// Sets the version number (used when a store rebuilds a twin from a snapshot).
    pub fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    fn id_of(&self, key: &Key) -> Option<Id> {
        let hash = hash_key(key);
        self.index.find(hash, |&id| self.slots[id as usize].as_ref().is_some_and(|s| &s.entity.key == key)).copied()
    }

    fn slot(&self, id: Id) -> &Slot {
        self.slots[id as usize].as_ref().expect("live entity id")
    }

    fn rel_ref(&self, id: Id) -> RelationRef<'_> {
        let rel = self.rels[id as usize].as_ref().expect("live relation id");
        RelationRef { from: &self.slot(rel.from).entity.key, to: &self.slot(rel.to).entity.key, spec: &rel.spec }
    }

    fn find_rel(&self, key: &RelKey) -> Option<Id> {
        let from = self.id_of(&key.from)?;
        let to = self.id_of(&key.to)?;
        let slot = self.slot(from);
        slot.out.iter().copied().find(|&r| {
            let rel = self.rels[r as usize].as_ref().expect("live relation id");
            rel.to == to && rel.spec.kind() == key.kind
        })
    }

    /// Merges an overlay's changes into the twin. The overlay was validated against it.
    pub(crate) fn merge(&mut self, parts: OverlayParts) {
        let OverlayParts { entities, relations } = parts;
        // Relations first: removals, so removed entities have no relations left.
        let mut additions = Vec::new();
        for (key, spec) in relations {
            match spec {
                None => {
                    if let Some(id) = self.find_rel(&key) {
                        self.remove_rel(id);
                    }
                }
                Some(spec) => additions.push((key, spec)),
            }
        }
        for (key, entity) in entities {
            match entity {
                None => self.remove_entity(&key),
                Some(entity) => self.upsert_entity(entity),
            }
        }
        for (key, spec) in additions {
            match self.find_rel(&key) {
                Some(id) => self.rels[id as usize].as_mut().expect("live relation id").spec = spec,
                None => self.insert_rel(&key, spec),
            }
        }
    }

    fn upsert_entity(&mut self, entity: Entity) {
        if let Some(id) = self.id_of(&entity.key) {
            self.slots[id as usize].as_mut().expect("live entity id").entity = entity;
            return;
        }
        let hash = hash_key(&entity.key);
        let slot = Slot { entity, out: Vec::new(), inc: Vec::new() };
        let id = match self.free_slots.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                Id::try_from(self.slots.len() - 1).expect("fewer than 4 billion entities")
            }
        };
        let slots = &self.slots;
        self.index.insert_unique(hash, id, |&other| {
            hash_key(&slots[other as usize].as_ref().expect("indexed slot is live").entity.key)
        });
        self.n_entities += 1;
    }

    fn remove_entity(&mut self, key: &Key) {
        let Some(id) = self.id_of(key) else { return };
        let slot = self.slot(id);
        let mut touching: Vec<Id> = slot.out.iter().chain(slot.inc.iter()).copied().collect();
        touching.sort_unstable();
        touching.dedup();
        for rel in touching {
            self.remove_rel(rel);
        }
        let hash = hash_key(key);
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        self.slots[id as usize] = None;
        self.free_slots.push(id);
        self.n_entities -= 1;
    }

    fn insert_rel(&mut self, key: &RelKey, spec: RelSpec) {
        let from = self.id_of(&key.from).expect("validated: relation source exists");
        let to = self.id_of(&key.to).expect("validated: relation target exists");
        let rel = RelSlot { from, to, spec };
        let id = match self.free_rels.pop() {
            Some(id) => {
                self.rels[id as usize] = Some(rel);
                id
            }
            None => {
                self.rels.push(Some(rel));
                Id::try_from(self.rels.len() - 1).expect("fewer than 4 billion relations")
            }
        };
        insert_sorted(&mut self.slots[from as usize].as_mut().expect("live entity id").out, id);
        insert_sorted(&mut self.slots[to as usize].as_mut().expect("live entity id").inc, id);
        self.n_relations += 1;
    }

    fn remove_rel(&mut self, id: Id) {
        let Some(rel) = self.rels[id as usize].take() else {
            return;
        };
        remove_sorted(&mut self.slots[rel.from as usize].as_mut().expect("live entity id").out, id);
        remove_sorted(&mut self.slots[rel.to as usize].as_mut().expect("live entity id").inc, id);
        self.free_rels.push(id);
        self.n_relations -= 1;
    }

    /// Builds a twin from entities and relations already known to be valid (a snapshot),
    /// skipping validation. Relations whose endpoints are missing are dropped and counted.
    pub fn from_trusted_parts(version: u64, entities: Vec<Entity>, relations: Vec<crate::Relation>) -> (Twin, usize) {
        let mut twin = Twin::new();
        twin.slots.reserve_exact(entities.len());
        twin.rels.reserve_exact(relations.len());
        for entity in entities {
            twin.upsert_entity(entity);
        }
        let mut dropped = 0;
        for relation in relations {
            let key = relation.key();
            if twin.id_of(&key.from).is_some() && twin.id_of(&key.to).is_some() && twin.find_rel(&key).is_none() {
                twin.insert_rel(&key, relation.spec);
            } else {
                dropped += 1;
            }
        }
        twin.version = version;
        (twin, dropped)
    }
}

fn insert_sorted(list: &mut Vec<Id>, id: Id) {
    match list.last() {
        Some(&last) if last > id => {
            let at = list.partition_point(|&x| x < id);
            list.insert(at, id);
        }
        _ => list.push(id),
    }
}

fn remove_sorted(list: &mut Vec<Id>, id: Id) {
    if let Ok(at) = list.binary_search(&id) {
        list.remove(at);
    }
    if list.is_empty() {
        *list = Vec::new();
    }
}

impl TwinView for Twin {
    fn entity(&self, key: &Key) -> Option<&Entity> {
        self.id_of(key).map(|id| &self.slot(id).entity)
    }

    fn entities(&self) -> Box<dyn Iterator<Item = &Entity> + '_> {
        Box::new(self.slots.iter().filter_map(|s| s.as_ref().map(|s| &s.entity)))
    }

    fn entity_count(&self) -> usize {
        self.n_entities
    }

    fn relation(&self, key: &RelKey) -> Option<&RelSpec> {
        self.find_rel(key).map(|id| &self.rels[id as usize].as_ref().expect("live relation id").spec)
    }

    fn relations(&self) -> Box<dyn Iterator<Item = RelationRef<'_>> + '_> {
        Box::new(self.rels.iter().enumerate().filter(|(_, r)| r.is_some()).map(|(id, _)| self.rel_ref(id as Id)))
    }

    fn relation_count(&self) -> usize {
        self.n_relations
    }

    fn out_relations(&self, key: &Key) -> Vec<RelationRef<'_>> {
        match self.id_of(key) {
            Some(id) => self.slot(id).out.iter().map(|&r| self.rel_ref(r)).collect(),
            None => Vec::new(),
        }
    }

    fn in_relations(&self, key: &Key) -> Vec<RelationRef<'_>> {
        match self.id_of(key) {
            Some(id) => self.slot(id).inc.iter().map(|&r| self.rel_ref(r)).collect(),
            None => Vec::new(),
        }
    }

    fn version(&self) -> u64 {
        self.version
    }
}
