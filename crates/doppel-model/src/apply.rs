//! Applying a ChangeSet: the one place changes are validated. Changes are staged in place
//! (on the twin or on a fork) while every problem is collected; if there is any, the
//! reverse of what was staged is replayed, so the target is exactly as before.

use crate::changeset::{Change, ChangeSet};
use crate::entity::{Entity, check_relation};
use crate::error::{ApplyError, ApplyErrors, ProblemKind};
use crate::key::Key;
use crate::kind::Kind;
use crate::relation::{RelKey, RelKind, RelSpec, Relation};
use crate::view::TwinView;
use std::collections::HashSet;

/// A view that can be changed one entity or relation at a time, without checks.
/// Only [`apply`] calls these, after or around its checks.
pub(crate) trait Stage: TwinView {
    /// Sets (`Some`) or removes (`None`) an entity. Removing assumes its relations are gone.
    fn stage_entity(&mut self, key: &Key, entity: Option<Entity>);
    /// Sets (`Some`) or removes (`None`) a relation whose endpoints exist.
    fn stage_relation(&mut self, key: &RelKey, spec: Option<RelSpec>);
}

/// Applies a ChangeSet to `target` atomically; returns the reverse ChangeSet.
pub(crate) fn apply<S: Stage + ?Sized>(target: &mut S, changes: &ChangeSet) -> Result<ChangeSet, ApplyErrors> {
    let mut errors = Vec::new();
    let mut reverse = Vec::with_capacity(changes.len());
    let mut added_here: HashSet<&Key> = HashSet::new();
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
                if target.entity(&entity.key).is_some() {
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
                added_here.insert(&entity.key);
                if !entity.references().is_empty() || entity.key.kind() == Kind::Subnet {
                    touched.push((index, entity.key.clone()));
                }
                reverse.push(Change::RemoveEntity(entity.key.clone()));
                target.stage_entity(&entity.key, Some(entity.clone()));
            }
            Change::UpdateEntity(entity) => {
                let Some(old) = target.entity(&entity.key).cloned() else {
                    let suggestion = suggest(target, &entity.key);
                    fail("", ProblemKind::NotFound, "does not exist, so it cannot be updated".into(), suggestion);
                    continue;
                };
                for p in entity.check() {
                    fail(&p.field, ProblemKind::Invalid, p.message, None);
                }
                touched.push((index, entity.key.clone()));
                reverse.push(Change::UpdateEntity(old));
                target.stage_entity(&entity.key, Some(entity.clone()));
            }
            Change::RemoveEntity(key) => {
                let Some(old) = target.entity(key).cloned() else {
                    let suggestion = suggest(target, key);
                    fail("", ProblemKind::NotFound, "does not exist, so it cannot be removed".into(), suggestion);
                    continue;
                };
                let mut attached: Vec<Relation> = target
                    .out_relations(key)
                    .iter()
                    .chain(target.in_relations(key).iter())
                    .map(|r| r.to_owned())
                    .collect();
                // A relation of an entity to itself is not allowed, so each appears once.
                attached.sort_by(|a, b| (&a.from, a.kind(), &a.to).cmp(&(&b.from, b.kind(), &b.to)));
                for relation in attached {
                    target.stage_relation(&relation.key(), None);
                    reverse.push(Change::AddRelation(relation));
                }
                reverse.push(Change::AddEntity(old));
                target.stage_entity(key, None);
            }
            Change::AddRelation(relation) => {
                let key = relation.key();
                let mut ok = check_endpoints(target, relation, &mut fail);
                if ok && target.relation(&key).is_some() {
                    fail("", ProblemKind::Duplicate, format!("a {} relation already joins these two", key.kind), None);
                    ok = false;
                }
                for p in check_relation(relation) {
                    fail(&p.field, ProblemKind::Invalid, p.message, None);
                    ok = false;
                }
                if ok {
                    if key.kind == RelKind::LocatedIn && key.from.kind() == Kind::Subnet {
                        touched.push((index, relation.from.clone()));
                    }
                    target.stage_relation(&key, Some(relation.spec.clone()));
                    reverse.push(Change::RemoveRelation(key));
                }
            }
            Change::UpdateRelation(relation) => {
                let key = relation.key();
                let Some(old) = target.relation(&key).cloned() else {
                    fail("", ProblemKind::NotFound, "no such relation, so it cannot be updated".into(), None);
                    continue;
                };
                for p in check_relation(relation) {
                    fail(&p.field, ProblemKind::Invalid, p.message, None);
                }
                target.stage_relation(&key, Some(relation.spec.clone()));
                reverse.push(Change::UpdateRelation(Relation { from: key.from, to: key.to, spec: old }));
            }
            Change::RemoveRelation(key) => {
                let Some(old) = target.relation(key).cloned() else {
                    fail("", ProblemKind::NotFound, "no such relation, so it cannot be removed".into(), None);
                    continue;
                };
                target.stage_relation(key, None);
                reverse.push(Change::AddRelation(Relation { from: key.from.clone(), to: key.to.clone(), spec: old }));
            }
        }
    }
    check_cross(target, changes, &touched, &mut errors);
    if !errors.is_empty() {
        undo(target, reverse);
        return Err(ApplyErrors(errors));
    }
    reverse.reverse();
    Ok(ChangeSet { changes: reverse, provenance: changes.provenance.clone() })
}

/// Replays staged changes' reverses, newest first, without checks.
fn undo<S: Stage + ?Sized>(target: &mut S, reverse: Vec<Change>) {
    for change in reverse.into_iter().rev() {
        match change {
            Change::AddEntity(entity) | Change::UpdateEntity(entity) => {
                let key = entity.key.clone();
                target.stage_entity(&key, Some(entity));
            }
            Change::RemoveEntity(key) => target.stage_entity(&key, None),
            Change::AddRelation(relation) | Change::UpdateRelation(relation) => {
                target.stage_relation(&relation.key(), Some(relation.spec));
            }
            Change::RemoveRelation(key) => target.stage_relation(&key, None),
        }
    }
}

fn check_endpoints<S: TwinView + ?Sized>(
    target: &S,
    relation: &Relation,
    fail: &mut impl FnMut(&str, ProblemKind, String, Option<String>),
) -> bool {
    let mut ok = true;
    for (field, key) in [("from", &relation.from), ("to", &relation.to)] {
        if target.entity(key).is_none() {
            fail(field, ProblemKind::NotFound, format!("`{key}` does not exist"), suggest(target, key));
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

/// Checks that need several entities: references named in attributes, and subnets inside
/// their networks. Each entity is checked once, charged to the first change touching it.
fn check_cross<S: TwinView + ?Sized>(
    target: &S,
    changes: &ChangeSet,
    touched: &[(usize, Key)],
    errors: &mut Vec<ApplyError>,
) {
    let mut seen: HashSet<&Key> = HashSet::new();
    let mut subnets: Vec<(usize, Key)> = Vec::new();
    for (index, key) in touched {
        if !seen.insert(key) {
            continue;
        }
        let Some(entity) = target.entity(key) else { continue };
        for (field, reference) in entity.references() {
            if target.entity(reference).is_none() {
                errors.push(ApplyError {
                    change: *index,
                    subject: changes.changes[*index].subject(),
                    field,
                    kind: ProblemKind::NotFound,
                    message: format!("`{reference}` does not exist"),
                    suggestion: suggest(target, reference),
                });
            }
        }
        if key.kind() == Kind::Subnet {
            subnets.push((*index, key.clone()));
        }
        if key.kind() == Kind::Network {
            for rel in target.in_relations(key) {
                if rel.kind() == RelKind::LocatedIn && rel.from.kind() == Kind::Subnet {
                    subnets.push((*index, rel.from.clone()));
                }
            }
        }
    }
    let mut checked: HashSet<Key> = HashSet::new();
    for (index, subnet) in subnets {
        if checked.insert(subnet.clone()) {
            check_subnet(target, index, changes, &subnet, errors);
        }
    }
}

fn check_subnet<S: TwinView + ?Sized>(
    target: &S,
    index: usize,
    changes: &ChangeSet,
    subnet: &Key,
    errors: &mut Vec<ApplyError>,
) {
    let Some(Entity { spec: crate::Spec::Subnet(spec), .. }) = target.entity(subnet) else { return };
    let Some(cidr) = spec.cidr else { return };
    for rel in target.out_relations(subnet) {
        if rel.kind() != RelKind::LocatedIn || rel.to.kind() != Kind::Network {
            continue;
        }
        let Some(Entity { spec: crate::Spec::Network(network), .. }) = target.entity(rel.to) else { continue };
        let blocks: Vec<_> = network.cidr.iter().chain(network.secondary_cidrs.iter()).collect();
        if !blocks.is_empty() && !blocks.iter().any(|block| block.contains(&cidr)) {
            let listed = blocks.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ");
            errors.push(ApplyError {
                change: index,
                subject: changes.changes[index].subject(),
                field: "cidr".into(),
                kind: ProblemKind::Invalid,
                message: format!("subnet {subnet} has {cidr}, outside its network {} ({listed})", rel.to),
                suggestion: None,
            });
        }
    }
}

/// The existing key of the same kind whose name is closest to `key`'s.
pub(crate) fn suggest<S: TwinView + ?Sized>(target: &S, key: &Key) -> Option<String> {
    let names: Vec<&str> = target.entities_of(key.kind()).map(|e| e.key.name()).collect();
    crate::suggest::closest(key.name(), names.iter().copied()).map(|name| format!("{}/{name}", key.kind()))
}
