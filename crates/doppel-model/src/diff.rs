//! The difference between two views of a twin, as the ChangeSet that turns one into the other.

use crate::changeset::{Change, ChangeSet};
use crate::relation::Relation;
use crate::view::TwinView;

/// The ChangeSet that, applied to `a`, gives `b`. Changes come in a stable order:
/// entity additions and updates, relation additions and updates, relation removals,
/// entity removals (which take their remaining relations with them).
pub fn diff(a: &(impl TwinView + ?Sized), b: &(impl TwinView + ?Sized)) -> ChangeSet {
    let mut added = Vec::new();
    let mut updated = Vec::new();
    for entity in b.entities() {
        match a.entity(&entity.key) {
            None => added.push(Change::AddEntity(entity.clone())),
            Some(old) if old != entity => updated.push(Change::UpdateEntity(entity.clone())),
            Some(_) => {}
        }
    }
    let mut removed: Vec<Change> =
        a.entities().filter(|e| !b.contains(&e.key)).map(|e| Change::RemoveEntity(e.key.clone())).collect();
    let mut rel_added = Vec::new();
    let mut rel_updated = Vec::new();
    for rel in b.relations() {
        match a.relation(&rel.key()) {
            None => rel_added.push(Change::AddRelation(rel.to_owned())),
            Some(old) if old != rel.spec => rel_updated.push(Change::UpdateRelation(rel.to_owned())),
            Some(_) => {}
        }
    }
    // Relations whose endpoints both survive are removed explicitly; the others go with their entity.
    let mut rel_removed: Vec<Change> = a
        .relations()
        .filter(|rel| b.contains(rel.from) && b.contains(rel.to) && b.relation(&rel.key()).is_none())
        .map(|rel| Change::RemoveRelation(rel.key()))
        .collect();
    let by_subject = |c: &Change| c.subject();
    added.sort_by_key(by_subject);
    updated.sort_by_key(by_subject);
    rel_added.sort_by_key(by_subject);
    rel_updated.sort_by_key(by_subject);
    rel_removed.sort_by_key(by_subject);
    removed.sort_by_key(by_subject);
    let mut changes = added;
    changes.extend(updated);
    changes.extend(rel_added);
    changes.extend(rel_updated);
    changes.extend(rel_removed);
    changes.extend(removed);
    ChangeSet::of(changes)
}

/// Whether two views hold the same entities and relations (versions aside).
pub fn same_content(a: &(impl TwinView + ?Sized), b: &(impl TwinView + ?Sized)) -> bool {
    a.entity_count() == b.entity_count() && a.relation_count() == b.relation_count() && diff(a, b).is_empty()
}

/// Every entity and relation of a view, sorted by key: a canonical form for comparisons and export.
pub fn export(view: &(impl TwinView + ?Sized)) -> (Vec<crate::Entity>, Vec<Relation>) {
    let mut entities: Vec<crate::Entity> = view.entities().cloned().collect();
    entities.sort_by(|x, y| x.key.cmp(&y.key));
    let mut relations: Vec<Relation> = view.relations().map(|r| r.to_owned()).collect();
    relations.sort_by_key(Relation::key);
    (entities, relations)
}
