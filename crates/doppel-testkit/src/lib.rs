//! Test helpers shared by the crates' tests: a proptest strategy for scripts of changes,
//! the interpreter that turns a script into a ChangeSet against a given twin, and the
//! bundled shop estate as a twin ([`shop`]), and the outside programs tests run ([`tools`]).
//!
//! Scripts are generated blind and interpreted against the current state, so most
//! ChangeSets are valid but some are not (duplicates, missing endpoints, wrong kinds):
//! both kinds exercise apply.

use doppel_model::spec::{DeploymentSpec, NodeSpec, ServiceSpec};
use doppel_model::{
    CallAttrs, Change, ChangeSet, Cores, Entity, Key, Kind, Labels, RelKind, RelSpec, Relation, Spec, TwinView,
};
use proptest::prelude::*;

pub mod shop;
pub mod tools;

/// One step of a script; numbers pick among candidates modulo their count.
#[derive(Debug, Clone)]
pub enum Op {
    /// Add an entity of kind `kind` with name `name` (may already exist).
    Add {
        /// Picks the kind.
        kind: u8,
        /// Picks the name.
        name: u8,
        /// Varies the attributes.
        variant: u8,
    },
    /// Update the n-th existing entity.
    Update {
        /// Picks the entity.
        pick: u16,
        /// Varies the attributes.
        variant: u8,
    },
    /// Remove the n-th existing entity.
    Remove {
        /// Picks the entity.
        pick: u16,
    },
    /// Relate two existing entities (the type may not fit them).
    Relate {
        /// Picks the source.
        from: u16,
        /// Picks the target.
        to: u16,
        /// Picks the relation type.
        rel: u8,
        /// Varies the attributes.
        variant: u8,
    },
    /// Update the n-th existing relation.
    UpdateRelation {
        /// Picks the relation.
        pick: u16,
        /// Varies the attributes.
        variant: u8,
    },
    /// Remove the n-th existing relation.
    Unrelate {
        /// Picks the relation.
        pick: u16,
    },
}

const KINDS: [Kind; 6] = [Kind::Service, Kind::Zone, Kind::Node, Kind::Pod, Kind::Deployment, Kind::Datastore];
const RELS: [RelKind; 5] = [RelKind::Calls, RelKind::LocatedIn, RelKind::RunsOn, RelKind::MemberOf, RelKind::DependsOn];

/// A strategy for one op.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<u8>(), 0u8..6, any::<u8>()).prop_map(|(kind, name, variant)| Op::Add { kind, name, variant }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(pick, variant)| Op::Update { pick, variant }),
        1 => any::<u16>().prop_map(|pick| Op::Remove { pick }),
        3 => (any::<u16>(), any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(from, to, rel, variant)| Op::Relate { from, to, rel, variant }),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(pick, variant)| Op::UpdateRelation { pick, variant }),
        1 => any::<u16>().prop_map(|pick| Op::Unrelate { pick }),
    ]
}

/// A strategy for scripts: a list of ChangeSets, each a list of ops.
pub fn scripts(changesets: usize, ops: usize) -> impl Strategy<Value = Vec<Vec<Op>>> {
    prop::collection::vec(prop::collection::vec(op(), 1..=ops), 1..=changesets)
}

/// An entity of `kind` named `name`, its attributes varied by `variant`.
pub fn entity(kind: Kind, name: &str, variant: u8) -> Entity {
    let key = Key::new(kind, name).expect("test names are valid");
    let spec = match kind {
        Kind::Service => Spec::Service(Box::new(ServiceSpec { tier: Some(variant % 4), ..Default::default() })),
        Kind::Node => {
            let mut node = NodeSpec::default();
            node.allocatable.cpu = Cores(f64::from(variant % 16) + 1.0);
            Spec::Node(Box::new(node))
        }
        Kind::Deployment => {
            Spec::Deployment(Box::new(DeploymentSpec { replicas: u32::from(variant % 7), ..Default::default() }))
        }
        Kind::Datastore => Spec::Datastore(Box::new(doppel_model::spec::DatastoreSpec {
            engine: ["postgresql", "redis"][variant as usize % 2].to_string(),
            ..Default::default()
        })),
        other => Spec::default_for(other),
    };
    let labels = Labels::from_pairs([("variant", (variant % 3).to_string())]);
    Entity { key, labels, spec }
}

fn relation_spec(kind: RelKind, variant: u8) -> RelSpec {
    match kind {
        RelKind::Calls => RelSpec::Calls(Box::new(CallAttrs {
            rate_rps: Some(f64::from(variant)),
            retries: u32::from(variant % 3),
            ..Default::default()
        })),
        other => RelSpec::default_for(other),
    }
}

/// Interprets one ChangeSet's ops against `view`.
pub fn changeset(view: &(impl TwinView + ?Sized), ops: &[Op]) -> ChangeSet {
    let mut keys: Vec<Key> = view.entities().map(|e| e.key.clone()).collect();
    keys.sort();
    let mut rels: Vec<Relation> = view.relations().map(|r| r.to_owned()).collect();
    rels.sort_by_key(Relation::key);
    let pick = |n: u16, len: usize| (len > 0).then(|| n as usize % len);
    let mut changes = Vec::new();
    for op in ops {
        match *op {
            Op::Add { kind, name, variant } => {
                let kind = KINDS[kind as usize % KINDS.len()];
                let name = format!(
                    "{}{}",
                    ["a", "b", "c", "d", "e", "f"][name as usize % 6],
                    if kind == Kind::Pod { "/p" } else { "" }
                );
                changes.push(Change::AddEntity(entity(kind, &name, variant)));
            }
            Op::Update { pick: n, variant } => {
                if let Some(i) = pick(n, keys.len()) {
                    changes.push(Change::UpdateEntity(entity(keys[i].kind(), keys[i].name(), variant)));
                }
            }
            Op::Remove { pick: n } => {
                if let Some(i) = pick(n, keys.len()) {
                    changes.push(Change::RemoveEntity(keys[i].clone()));
                }
            }
            Op::Relate { from, to, rel, variant } => {
                if let (Some(f), Some(mut t)) = (pick(from, keys.len()), pick(to, keys.len())) {
                    if t == f {
                        t = (t + 1) % keys.len();
                    }
                    // Prefer a type that fits the two kinds; when none does, keep the misfit.
                    let kind = (0..RELS.len())
                        .map(|i| RELS[(rel as usize + i) % RELS.len()])
                        .find(|k| k.allows(keys[f].kind(), keys[t].kind()))
                        .unwrap_or(RELS[rel as usize % RELS.len()]);
                    changes.push(Change::AddRelation(Relation {
                        from: keys[f].clone(),
                        to: keys[t].clone(),
                        spec: relation_spec(kind, variant),
                    }));
                }
            }
            Op::UpdateRelation { pick: n, variant } => {
                if let Some(i) = pick(n, rels.len()) {
                    let rel = &rels[i];
                    changes.push(Change::UpdateRelation(Relation {
                        spec: relation_spec(rel.kind(), variant),
                        ..rel.clone()
                    }));
                }
            }
            Op::Unrelate { pick: n } => {
                if let Some(i) = pick(n, rels.len()) {
                    changes.push(Change::RemoveRelation(rels[i].key()));
                }
            }
        }
    }
    ChangeSet::of(changes)
}
