//! Shared helpers of the benchmarks: building twins of a given size from the generator,
//! the 10-change scenario, and reading the process's resident memory.

use doppel_gen::{GenConfig, generate};
use doppel_model::{Change, ChangeSet, Key, Kind, Twin, TwinView};

/// Services needed for about `entities` entities (the generator makes ~11.4 per service).
pub fn services_for(entities: usize) -> usize {
    (entities * 10 / 114).max(1)
}

/// The generated estate as one ChangeSet.
pub fn estate_changeset(services: usize, seed: u64) -> ChangeSet {
    let generated = generate(GenConfig { services, seed });
    let mut changes: Vec<Change> = generated.entities.into_iter().map(Change::AddEntity).collect();
    changes.extend(generated.relations.into_iter().map(Change::AddRelation));
    ChangeSet::of(changes)
}

/// A twin of about `entities` entities.
pub fn twin_of(entities: usize) -> Twin {
    let mut twin = Twin::new();
    twin.apply(&estate_changeset(services_for(entities), 42)).expect("generated estates are valid");
    twin
}

/// A what-if of 10 changes against a generated twin: scale five deployments, fail two
/// nodes (remove them with their pods' placements), add a service with two calls, and
/// relabel a service. Touches existing entities, so it exercises lookups in the base.
pub fn scenario(twin: &Twin) -> ChangeSet {
    let mut changes = Vec::with_capacity(10);
    let deployments: Vec<_> = twin.entities_of(Kind::Deployment).take(5).cloned().collect();
    for mut deployment in deployments {
        if let doppel_model::Spec::Deployment(spec) = &mut deployment.spec {
            spec.replicas += 2;
        }
        changes.push(Change::UpdateEntity(deployment));
    }
    for node in twin.entities_of(Kind::Node).take(2) {
        changes.push(Change::RemoveEntity(node.key.clone()));
    }
    let new_service: Key = "service/what-if-cache".parse().expect("valid key");
    changes.push(Change::AddEntity(doppel_model::Entity::new(new_service.clone())));
    let callee = twin.entities_of(Kind::Service).next().expect("services exist").key.clone();
    changes.push(Change::AddRelation(doppel_model::Relation::new(new_service, doppel_model::RelKind::Calls, callee)));
    if let Some(service) = twin.entities_of(Kind::Service).nth(1) {
        let mut service = service.clone();
        service.labels = doppel_model::Labels::from_pairs([("what-if", "yes")]);
        changes.push(Change::UpdateEntity(service));
    }
    ChangeSet::of(changes)
}

/// Resident memory of this process in bytes (Linux `/proc/self/status` VmRSS).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
