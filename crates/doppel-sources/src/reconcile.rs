//! From an observation and a twin to the one ChangeSet that brings the twin in line, with
//! provenance: what every source shares, so idempotence and deletions are the same for all.

use crate::{Batch, OWNER_LABEL, Observation, View, Warning, WarningKind, owned_by, owned_keys};
use doppel_model::{Change, ChangeSet, Entity, Key, Labels, Provenance, RelKey, Relation, TwinView};
use std::collections::{BTreeMap, BTreeSet};

/// Plans the ChangeSet that makes `twin` hold `observation` for the source instance `name`
/// of `system`: new entities and relations added, changed ones updated, and, when the
/// observation is complete, what the instance owns but no longer sees removed. Entities
/// of other owners are left alone (with a warning). Entities the observation lists as
/// removed go even from a partial listing; those listed as replaced are removed first and
/// added again with their relations. Changes come sorted by subject.
pub fn reconcile(observation: Observation, twin: &(impl TwinView + ?Sized), system: &str, name: &str) -> Batch {
    let Observation { entities, relations, samples, mut warnings, complete, input, origins, removed, replaced, drift } =
        observation;
    let mut view = View { entities: Vec::with_capacity(entities.len()), relations: relations.clone(), drift, complete };
    let owned_in_twin = |key: &Key| twin.entity(key).is_some_and(|e| owned_by(e, name));
    let replaced: BTreeSet<Key> = replaced.into_iter().filter(|k| owned_in_twin(k)).collect();
    let mut replacements: Vec<Change> = replaced.iter().map(|k| Change::RemoveEntity(k.clone())).collect();
    let mut adds = Vec::new();
    let mut updates = Vec::new();
    let mut seen: BTreeSet<Key> = BTreeSet::new();
    let mut skipped: BTreeSet<Key> = BTreeSet::new();
    for entity in entities {
        let entity = stamped(entity, name);
        if !seen.insert(entity.key.clone()) {
            continue;
        }
        view.entities.push(entity.clone());
        match twin.entity(&entity.key) {
            None => adds.push(Change::AddEntity(entity)),
            Some(_) if replaced.contains(&entity.key) => adds.push(Change::AddEntity(entity)),
            Some(old) if !owned_by(old, name) => {
                let owner =
                    old.labels.get(OWNER_LABEL).map(|o| format!("source `{o}`")).unwrap_or("estate files".into());
                warnings.push(Warning {
                    kind: WarningKind::NotOwned,
                    object: Some(entity.key.to_string()),
                    place: origins.get(&entity.key).cloned(),
                    subject: entity.key.kind().to_string(),
                    message: format!("already in the twin from {owner}; left as it is"),
                });
                skipped.insert(entity.key.clone());
            }
            Some(old) if *old != entity => updates.push(Change::UpdateEntity(entity)),
            Some(_) => {}
        }
    }
    let mut rel_adds = Vec::new();
    let mut rel_updates = Vec::new();
    let mut seen_relations: BTreeSet<RelKey> = BTreeSet::new();
    for relation in relations {
        if !seen_relations.insert(relation.key()) {
            continue;
        }
        let renewed = replaced.contains(&relation.from) || replaced.contains(&relation.to);
        match twin.relation(&relation.key()) {
            None => rel_adds.push(Change::AddRelation(relation)),
            Some(_) if renewed => rel_adds.push(Change::AddRelation(relation)),
            Some(old) if *old != relation.spec => rel_updates.push(Change::UpdateRelation(relation)),
            Some(_) => {}
        }
    }
    let mut rel_removals = Vec::new();
    let mut removals = Vec::new();
    for key in &removed {
        if owned_in_twin(key) && !seen.contains(key) && !complete {
            removals.push(Change::RemoveEntity(key.clone()));
        }
    }
    if complete {
        let owned: BTreeSet<Key> = owned_keys(twin, name).into_iter().collect();
        for key in &owned {
            if !seen.contains(key) {
                removals.push(Change::RemoveEntity(key.clone()));
                continue;
            }
            if replaced.contains(key) {
                continue;
            }
            for relation in twin.out_relations(key) {
                let to_kept =
                    owned.contains(relation.to) && seen.contains(relation.to) && !replaced.contains(relation.to);
                if to_kept && !seen_relations.contains(&relation.key()) {
                    rel_removals.push(Change::RemoveRelation(relation.key()));
                }
            }
        }
    }
    for group in
        [&mut replacements, &mut adds, &mut updates, &mut rel_adds, &mut rel_updates, &mut rel_removals, &mut removals]
    {
        group.sort_by_cached_key(Change::subject);
    }
    let mut changes = replacements;
    changes.extend(adds);
    changes.extend(updates);
    changes.extend(rel_adds);
    changes.extend(rel_updates);
    changes.extend(rel_removals);
    changes.extend(removals);
    let listing = if complete { "complete listing" } else { "partial listing" };
    let provenance = Provenance {
        source: system.to_string(),
        author: String::new(),
        summary: format!("{system} `{name}`: {input} ({listing})"),
    };
    let observed: Vec<Key> = seen.into_iter().filter(|k| !skipped.contains(k)).collect();
    let origins: BTreeMap<Key, crate::Place> = origins;
    view.entities.sort_by(|a, b| a.key.cmp(&b.key));
    view.relations.sort_by_key(Relation::key);
    view.relations.dedup_by_key(|r| r.key());
    Batch {
        view,
        changeset: ChangeSet::of(changes).with_provenance(provenance),
        samples,
        warnings,
        observed,
        observed_relations: seen_relations.into_iter().collect(),
        origins,
    }
}

/// The entity with the owner label set to `name`.
fn stamped(mut entity: Entity, name: &str) -> Entity {
    if entity.labels.get(OWNER_LABEL) != Some(name) {
        let pairs = entity.labels.iter().filter(|(k, _)| *k != OWNER_LABEL).chain([(OWNER_LABEL, name)]);
        entity.labels = Labels::from_pairs(pairs.collect::<Vec<_>>());
    }
    entity
}
