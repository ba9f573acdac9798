//! The live twin: entities and relations held compactly, indexed by key, with adjacency
//! lists for graph walks.
//!
//! Entities and relations live in slot vectors addressed by `u32` ids; a hash table maps
//! keys to entity ids without storing the key twice. Each entity keeps the sorted ids of
//! the relations leaving and entering it.

use crate::apply::Stage;
use crate::changeset::ChangeSet;
use crate::entity::Entity;
use crate::error::ApplyErrors;
use crate::fork::Fork;
use crate::key::Key;
use crate::kind::Kind;
use crate::relation::{RelKey, RelSpec};
use crate::view::{RelationRef, TwinView};
use compact_str::CompactString;
use hashbrown::HashTable;
use std::hash::BuildHasher;

type Id = u32;

type FastMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::FixedState>;
type LabelIndex = FastMap<CompactString, FastMap<CompactString, Vec<Id>>>;

/// Relation ids of one side of an entity, sorted. Most entities have a few, held inline.
type Adjacency = smallvec::SmallVec<[Id; 4]>;

#[derive(Clone)]
struct Slot {
    entity: Entity,
    out: Adjacency,
    inc: Adjacency,
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
    /// The kind of each slot (`None` when free): scanning one kind reads a byte per entity.
    kinds: Vec<Option<Kind>>,
    free_slots: Vec<Id>,
    index: HashTable<Id>,
    /// Label key, then value, to the sorted ids of the entities carrying that pair.
    labels: LabelIndex,
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
            kinds: Vec::new(),
            free_slots: Vec::new(),
            index: HashTable::new(),
            labels: LabelIndex::default(),
            rels: Vec::new(),
            free_rels: Vec::new(),
            n_entities: 0,
            n_relations: 0,
        }
    }

    /// Applies a ChangeSet atomically: all of it, or nothing with every problem listed.
    /// Returns the reverse ChangeSet, which undoes it. The version goes up by one.
    pub fn apply(&mut self, changes: &ChangeSet) -> Result<ChangeSet, ApplyErrors> {
        let reverse = crate::apply::apply(self, changes)?;
        self.version += 1;
        Ok(reverse)
    }

    /// A cheap overlay over this twin for what-ifs; the twin itself never changes.
    pub fn fork(&self) -> Fork<'_, Twin> {
        Fork::new(self)
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

    fn upsert_entity(&mut self, entity: Entity) {
        if let Some(id) = self.id_of(&entity.key) {
            let slot = self.slots[id as usize].as_mut().expect("live entity id");
            if slot.entity.labels != entity.labels {
                let old = std::mem::take(&mut slot.entity.labels);
                unindex_labels(&mut self.labels, &old, id);
                index_labels(&mut self.labels, &entity.labels, id);
            }
            self.slots[id as usize].as_mut().expect("live entity id").entity = entity;
            return;
        }
        let hash = hash_key(&entity.key);
        let kind = entity.key.kind();
        let labels = entity.labels.clone();
        let slot = Slot { entity, out: Adjacency::new(), inc: Adjacency::new() };
        let id = match self.free_slots.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                self.kinds[id as usize] = Some(kind);
                id
            }
            None => {
                self.slots.push(Some(slot));
                self.kinds.push(Some(kind));
                Id::try_from(self.slots.len() - 1).expect("fewer than 4 billion entities")
            }
        };
        let slots = &self.slots;
        self.index.insert_unique(hash, id, |&other| {
            hash_key(&slots[other as usize].as_ref().expect("indexed slot is live").entity.key)
        });
        index_labels(&mut self.labels, &labels, id);
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
        if let Some(slot) = self.slots[id as usize].take() {
            unindex_labels(&mut self.labels, &slot.entity.labels, id);
        }
        self.kinds[id as usize] = None;
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

    /// The twin as a compact list: entities in slot order, and relations as positions in
    /// that list (what snapshots store; no keys to hash when reading back).
    pub fn export_indexed(&self) -> (Vec<&Entity>, Vec<(u32, u32, &RelSpec)>) {
        let mut position = vec![u32::MAX; self.slots.len()];
        let mut entities = Vec::with_capacity(self.n_entities);
        for (id, slot) in self.slots.iter().enumerate() {
            if let Some(slot) = slot {
                position[id] = entities.len() as u32;
                entities.push(&slot.entity);
            }
        }
        let relations = self
            .rels
            .iter()
            .flatten()
            .map(|rel| (position[rel.from as usize], position[rel.to as usize], &rel.spec))
            .collect();
        (entities, relations)
    }

    /// Rebuilds a twin from [`Twin::export_indexed`]'s form without validating it again.
    /// Fails if a position is out of range or a key repeats (the data is damaged).
    pub fn from_indexed(
        version: u64,
        entities: Vec<Entity>,
        relations: Vec<(u32, u32, RelSpec)>,
    ) -> Result<Twin, String> {
        let mut twin = Twin::new();
        twin.slots.reserve_exact(entities.len());
        twin.kinds.reserve_exact(entities.len());
        twin.index.reserve(entities.len(), |_| 0);
        for entity in entities {
            if twin.id_of(&entity.key).is_some() {
                return Err(format!("{} appears twice", entity.key));
            }
            twin.upsert_entity(entity);
        }
        twin.rels.reserve_exact(relations.len());
        let n = twin.slots.len() as u32;
        for (from, to, spec) in relations {
            if from >= n || to >= n {
                return Err(format!("a relation joins positions {from} and {to} of {n} entities"));
            }
            let id = twin.rels.len() as Id;
            twin.rels.push(Some(RelSlot { from, to, spec }));
            // Ids grow, so pushing keeps each adjacency list sorted.
            twin.slots[from as usize].as_mut().expect("fresh slots are live").out.push(id);
            twin.slots[to as usize].as_mut().expect("fresh slots are live").inc.push(id);
            twin.n_relations += 1;
        }
        twin.version = version;
        Ok(twin)
    }
}

fn index_labels(index: &mut LabelIndex, labels: &crate::Labels, id: Id) {
    for (key, value) in labels.iter() {
        let values = match index.get_mut(key) {
            Some(values) => values,
            None => index.entry(CompactString::new(key)).or_default(),
        };
        let ids = match values.get_mut(value) {
            Some(ids) => ids,
            None => values.entry(CompactString::new(value)).or_default(),
        };
        match ids.last() {
            Some(&last) if last > id => {
                let at = ids.partition_point(|&x| x < id);
                ids.insert(at, id);
            }
            _ => ids.push(id),
        }
    }
}

fn unindex_labels(index: &mut LabelIndex, labels: &crate::Labels, id: Id) {
    for (key, value) in labels.iter() {
        let Some(values) = index.get_mut(key) else { continue };
        if let Some(ids) = values.get_mut(value) {
            if let Ok(at) = ids.binary_search(&id) {
                ids.remove(at);
            }
            if ids.is_empty() {
                values.remove(value);
            }
        }
        if values.is_empty() {
            index.remove(key);
        }
    }
}

fn insert_sorted(list: &mut Adjacency, id: Id) {
    match list.last() {
        Some(&last) if last > id => {
            let at = list.partition_point(|&x| x < id);
            list.insert(at, id);
        }
        _ => list.push(id),
    }
}

fn remove_sorted(list: &mut Adjacency, id: Id) {
    if let Ok(at) = list.binary_search(&id) {
        list.remove(at);
    }
    if list.is_empty() && list.spilled() {
        *list = Adjacency::new();
    }
}

impl Stage for Twin {
    fn stage_entity(&mut self, key: &Key, entity: Option<Entity>) {
        match entity {
            Some(entity) => self.upsert_entity(entity),
            None => self.remove_entity(key),
        }
    }

    fn stage_relation(&mut self, key: &RelKey, spec: Option<RelSpec>) {
        match (self.find_rel(key), spec) {
            (Some(id), Some(spec)) => self.rels[id as usize].as_mut().expect("live relation id").spec = spec,
            (None, Some(spec)) => self.insert_rel(key, spec),
            (Some(id), None) => self.remove_rel(id),
            (None, None) => {}
        }
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

    fn entities_labelled(&self, key: &str, value: &str) -> Option<Vec<&Entity>> {
        let Some(values) = self.labels.get(key) else { return Some(Vec::new()) };
        let mut ids: Vec<Id> = if value.contains(['*', '?']) {
            values
                .iter()
                .filter(|(v, _)| crate::select::glob_match(value, v))
                .flat_map(|(_, ids)| ids.iter().copied())
                .collect()
        } else {
            values.get(value).cloned().unwrap_or_default()
        };
        ids.sort_unstable();
        Some(ids.into_iter().map(|id| &self.slot(id).entity).collect())
    }

    fn entities_of(&self, kind: Kind) -> Box<dyn Iterator<Item = &Entity> + '_> {
        Box::new(
            self.kinds
                .iter()
                .enumerate()
                .filter(move |(_, k)| **k == Some(kind))
                .map(|(id, _)| &self.slot(id as Id).entity),
        )
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
