//! Forks: a cheap overlay over a base view. What-ifs apply their ChangeSets to a fork;
//! the base never changes. The same overlay stages every ChangeSet applied to the live
//! twin, so validation is written once.

use crate::changeset::{Change, ChangeSet};
use crate::entity::{Entity, check_relation};
use crate::error::{ApplyError, ApplyErrors, ProblemKind};
use crate::key::Key;
use crate::kind::Kind;
use crate::relation::{RelKey, RelKind, RelSpec, Relation};
use crate::view::{RelationRef, TwinView};
use std::collections::{HashMap, HashSet};

/// Changes an overlay holds, ready to be merged into its base.
#[derive(Debug, Default)]
pub struct OverlayParts {
    /// Entity overrides: `None` removes.
    pub entities: Vec<(Key, Option<Entity>)>,
    /// Relation overrides: `None` removes.
    pub relations: Vec<(RelKey, Option<RelSpec>)>,
}

/// An overlay over a base view. Creating one copies nothing; it holds only what changed.
pub struct Fork<'a, B: TwinView + ?Sized> {
    base: &'a B,
    entities: HashMap<Key, Option<Entity>>,
    relations: HashMap<RelKey, Option<RelSpec>>,
    /// Relations present here but not in the base, by source and by target.
    added_out: HashMap<Key, Vec<RelKey>>,
    added_in: HashMap<Key, Vec<RelKey>>,
    entity_delta: isize,
    relation_delta: isize,
    applied: u64,
}

impl<'a, B: TwinView + ?Sized> Fork<'a, B> {
    /// A fork of `base` with no changes.
    pub fn new(base: &'a B) -> Fork<'a, B> {
        Fork {
            base,
            entities: HashMap::new(),
            relations: HashMap::new(),
            added_out: HashMap::new(),
            added_in: HashMap::new(),
            entity_delta: 0,
            relation_delta: 0,
            applied: 0,
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
        let (parts, reverse) = {
            let mut staging = Fork::new(&*self);
            let reverse = staging.apply_unchecked_atomicity(changes)?;
            (staging.into_parts(), reverse)
        };
        for (key, entity) in parts.entities {
            self.set_entity(key, entity);
        }
        for (key, spec) in parts.relations {
            self.set_relation(key, spec);
        }
        self.applied += 1;
        Ok(reverse)
    }

    /// The changes this fork holds, as an overlay to merge.
    pub fn into_parts(self) -> OverlayParts {
        OverlayParts { entities: self.entities.into_iter().collect(), relations: self.relations.into_iter().collect() }
    }

    /// The fork's changes as a ChangeSet against its base.
    pub fn to_changeset(&self) -> ChangeSet {
        crate::diff::diff(self.base, self)
    }

    fn set_entity(&mut self, key: Key, entity: Option<Entity>) {
        let before = self.entity(&key).is_some();
        let after = entity.is_some();
        self.entity_delta += isize::from(after) - isize::from(before);
        if self.base.entity(&key).is_some() || after {
            self.entities.insert(key, entity);
        } else {
            self.entities.remove(&key);
        }
    }

    fn set_relation(&mut self, key: RelKey, spec: Option<RelSpec>) {
        let before = self.relation(&key).is_some();
        let after = spec.is_some();
        self.relation_delta += isize::from(after) - isize::from(before);
        let in_base = self.base.relation(&key).is_some();
        if !in_base {
            if after && !before {
                self.added_out.entry(key.from.clone()).or_default().push(key.clone());
                self.added_in.entry(key.to.clone()).or_default().push(key.clone());
            } else if !after && before {
                if let Some(list) = self.added_out.get_mut(&key.from) {
                    list.retain(|k| k != &key);
                }
                if let Some(list) = self.added_in.get_mut(&key.to) {
                    list.retain(|k| k != &key);
                }
            }
        }
        if in_base || after {
            self.relations.insert(key, spec);
        } else {
            self.relations.remove(&key);
        }
    }

    fn relation_refs<'s>(&'s self, base: Vec<RelationRef<'s>>, added: Option<&'s Vec<RelKey>>) -> Vec<RelationRef<'s>> {
        let mut out: Vec<RelationRef<'s>> = Vec::with_capacity(base.len());
        for rel in base {
            if self.relations.is_empty() {
                out.push(rel);
                continue;
            }
            match self.relations.get(&rel.key()) {
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

    /// Applies changes to this overlay directly, validating each; on error the overlay is
    /// left half-changed, so callers stage into a throw-away fork (see [`Fork::apply`]).
    pub(crate) fn apply_unchecked_atomicity(&mut self, changes: &ChangeSet) -> Result<ChangeSet, ApplyErrors> {
        let mut errors = Vec::new();
        let mut reverse = Vec::with_capacity(changes.len());
        let mut added_here: HashSet<Key> = HashSet::new();
        let mut touched: Vec<(usize, Key)> = Vec::new();
        for (index, change) in changes.changes.iter().enumerate() {
            let mut fail = |field: &str, kind: ProblemKind, message: String, suggestion: Option<String>| {
                errors.push(ApplyError {
                    change: index,
                    subject: change.subject(),
                    field: field.to_string(),
                    kind,
                    message,
                    suggestion,
                });
            };
            match change {
                Change::AddEntity(entity) => {
                    if self.entity(&entity.key).is_some() {
                        let message = if added_here.contains(&entity.key) {
                            "is added twice in this change set".to_string()
                        } else {
                            "already exists: update it instead of adding it".to_string()
                        };
                        fail("", ProblemKind::Duplicate, message, None);
                        continue;
                    }
                    for p in entity.check() {
                        fail(&p.field, ProblemKind::Invalid, p.message, None);
                    }
                    added_here.insert(entity.key.clone());
                    touched.push((index, entity.key.clone()));
                    reverse.push(Change::RemoveEntity(entity.key.clone()));
                    self.set_entity(entity.key.clone(), Some(entity.clone()));
                }
                Change::UpdateEntity(entity) => {
                    let Some(old) = self.entity(&entity.key).cloned() else {
                        let suggestion = self.suggest(&entity.key);
                        fail("", ProblemKind::NotFound, "does not exist, so it cannot be updated".into(), suggestion);
                        continue;
                    };
                    for p in entity.check() {
                        fail(&p.field, ProblemKind::Invalid, p.message, None);
                    }
                    touched.push((index, entity.key.clone()));
                    reverse.push(Change::UpdateEntity(old));
                    self.set_entity(entity.key.clone(), Some(entity.clone()));
                }
                Change::RemoveEntity(key) => {
                    let Some(old) = self.entity(key).cloned() else {
                        let suggestion = self.suggest(key);
                        fail("", ProblemKind::NotFound, "does not exist, so it cannot be removed".into(), suggestion);
                        continue;
                    };
                    let mut attached: Vec<Relation> = self
                        .out_relations(key)
                        .iter()
                        .chain(self.in_relations(key).iter())
                        .map(|r| r.to_owned())
                        .collect();
                    attached.sort_by_key(Relation::key);
                    attached.dedup_by_key(|r| r.key());
                    for relation in attached {
                        self.set_relation(relation.key(), None);
                        reverse.push(Change::AddRelation(relation));
                    }
                    // Neighbours lose a relation; their own checks (subnet in network) may change.
                    reverse.push(Change::AddEntity(old));
                    self.set_entity(key.clone(), None);
                }
                Change::AddRelation(relation) => {
                    let key = relation.key();
                    let mut ok = self.check_endpoints(relation, &mut fail);
                    if ok && self.relation(&key).is_some() {
                        fail(
                            "",
                            ProblemKind::Duplicate,
                            format!("a {} relation already joins these two", key.kind),
                            None,
                        );
                        ok = false;
                    }
                    for p in check_relation(relation) {
                        fail(&p.field, ProblemKind::Invalid, p.message, None);
                        ok = false;
                    }
                    if ok {
                        touched.push((index, relation.from.clone()));
                        reverse.push(Change::RemoveRelation(key.clone()));
                        self.set_relation(key, Some(relation.spec.clone()));
                    }
                }
                Change::UpdateRelation(relation) => {
                    let key = relation.key();
                    let Some(old) = self.relation(&key).cloned() else {
                        fail("", ProblemKind::NotFound, "no such relation, so it cannot be updated".into(), None);
                        continue;
                    };
                    for p in check_relation(relation) {
                        fail(&p.field, ProblemKind::Invalid, p.message, None);
                    }
                    reverse.push(Change::UpdateRelation(Relation {
                        from: key.from.clone(),
                        to: key.to.clone(),
                        spec: old,
                    }));
                    self.set_relation(key, Some(relation.spec.clone()));
                }
                Change::RemoveRelation(key) => {
                    let Some(old) = self.relation(key).cloned() else {
                        fail("", ProblemKind::NotFound, "no such relation, so it cannot be removed".into(), None);
                        continue;
                    };
                    reverse.push(Change::AddRelation(Relation {
                        from: key.from.clone(),
                        to: key.to.clone(),
                        spec: old,
                    }));
                    self.set_relation(key.clone(), None);
                }
            }
        }
        self.check_cross(changes, &touched, &mut errors);
        if !errors.is_empty() {
            return Err(ApplyErrors(errors));
        }
        reverse.reverse();
        Ok(ChangeSet { changes: reverse, provenance: changes.provenance.clone() })
    }

    fn check_endpoints(
        &self,
        relation: &Relation,
        fail: &mut impl FnMut(&str, ProblemKind, String, Option<String>),
    ) -> bool {
        let mut ok = true;
        for (field, key) in [("from", &relation.from), ("to", &relation.to)] {
            if self.entity(key).is_none() {
                fail(field, ProblemKind::NotFound, format!("`{key}` does not exist"), self.suggest(key));
                ok = false;
            }
        }
        let kind = relation.kind();
        if !kind.allows(relation.from.kind(), relation.to.kind()) {
            fail(
                "type",
                ProblemKind::WrongEndpoints,
                format!(
                    "a {kind} relation cannot go from a {} to a {}; it joins {}",
                    relation.from.kind(),
                    relation.to.kind(),
                    kind.describe_endpoints()
                ),
                None,
            );
            ok = false;
        }
        ok
    }

    /// Checks that need several entities: references named in attributes, and subnets
    /// inside their networks.
    fn check_cross(&self, changes: &ChangeSet, touched: &[(usize, Key)], errors: &mut Vec<ApplyError>) {
        let mut seen: HashSet<&Key> = HashSet::new();
        let mut subnets: Vec<(usize, Key)> = Vec::new();
        for (index, key) in touched {
            // Each entity is checked once, charged to the first change that touched it.
            if !seen.insert(key) {
                continue;
            }
            let Some(entity) = self.entity(key) else {
                continue;
            };
            let subject = changes.changes[*index].subject();
            for (field, reference) in entity.references() {
                if self.entity(reference).is_none() {
                    errors.push(ApplyError {
                        change: *index,
                        subject: subject.clone(),
                        field,
                        kind: ProblemKind::NotFound,
                        message: format!("`{reference}` does not exist"),
                        suggestion: self.suggest(reference),
                    });
                }
            }
            if key.kind() == Kind::Subnet {
                subnets.push((*index, key.clone()));
            }
            if key.kind() == Kind::Network {
                for rel in self.in_relations(key) {
                    if rel.kind() == RelKind::LocatedIn && rel.from.kind() == Kind::Subnet {
                        subnets.push((*index, rel.from.clone()));
                    }
                }
            }
        }
        let mut checked: HashSet<Key> = HashSet::new();
        for (index, subnet) in subnets {
            if checked.insert(subnet.clone()) {
                self.check_subnet(index, &changes.changes[index].subject(), &subnet, errors);
            }
        }
    }

    fn check_subnet(&self, index: usize, subject: &str, subnet: &Key, errors: &mut Vec<ApplyError>) {
        let Some(Entity { spec: crate::Spec::Subnet(spec), .. }) = self.entity(subnet) else {
            return;
        };
        let Some(cidr) = spec.cidr else { return };
        for rel in self.out_relations(subnet) {
            if rel.kind() != RelKind::LocatedIn || rel.to.kind() != Kind::Network {
                continue;
            }
            let Some(Entity { spec: crate::Spec::Network(network), .. }) = self.entity(rel.to) else {
                continue;
            };
            let blocks: Vec<_> = network.cidr.iter().chain(network.secondary_cidrs.iter()).collect();
            if !blocks.is_empty() && !blocks.iter().any(|block| block.contains(&cidr)) {
                let listed = blocks.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ");
                errors.push(ApplyError {
                    change: index,
                    subject: subject.to_string(),
                    field: "cidr".into(),
                    kind: ProblemKind::Invalid,
                    message: format!("subnet {subnet} has {cidr}, outside its network {} ({listed})", rel.to),
                    suggestion: None,
                });
            }
        }
    }

    fn suggest(&self, key: &Key) -> Option<String> {
        let names: Vec<&str> = self.entities_of(key.kind()).map(|e| e.key.name()).collect();
        crate::suggest::closest(key.name(), names.iter().copied()).map(|name| format!("{}/{name}", key.kind()))
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
            match self.relations.get(&rel.key()) {
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
