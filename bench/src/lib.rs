//! Shared helpers of the benchmarks: building twins of a given size from the generator,
//! the 10-change scenario, and reading the process's resident memory.

use doppel_gen::{GenConfig, generate};
use doppel_model::{Change, ChangeSet, Key, Kind, RelKind, RelSpec, Relation, Spec, Twin, TwinView};

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

/// A what-if of exactly 10 changes against a generated twin: scale five deployments,
/// relabel a service, add a cache service and a call to it, retune one call's retries and
/// drop another call. Every change touches existing entities, so lookups go to the base.
pub fn scenario(twin: &Twin) -> ChangeSet {
    let mut changes = Vec::with_capacity(10);
    for deployment in twin.entities_of(Kind::Deployment).take(5) {
        let mut deployment = deployment.clone();
        if let Spec::Deployment(spec) = &mut deployment.spec {
            spec.replicas += 2;
        }
        changes.push(Change::UpdateEntity(deployment));
    }
    let mut services = twin.entities_of(Kind::Service);
    let caller = services.next().expect("services exist").key.clone();
    let mut relabelled = services.next().expect("two services").clone();
    relabelled.labels = doppel_model::Labels::from_pairs([("what-if", "yes")]);
    changes.push(Change::UpdateEntity(relabelled));
    let cache: Key = "service/what-if-cache".parse().expect("valid key");
    changes.push(Change::AddEntity(doppel_model::Entity::new(cache.clone())));
    changes.push(Change::AddRelation(Relation::new(caller, RelKind::Calls, cache)));
    let mut calls = twin.relations().filter(|r| r.kind() == RelKind::Calls);
    let mut retuned = calls.next().expect("calls exist").to_owned();
    if let RelSpec::Calls(attrs) = &mut retuned.spec {
        attrs.retries += 1;
    }
    changes.push(Change::UpdateRelation(retuned));
    changes.push(Change::RemoveRelation(calls.next().expect("two calls").key()));
    assert_eq!(changes.len(), 10);
    ChangeSet::of(changes)
}

/// Failing one node: removing it and, with it, every relation that touches it (its pods'
/// placements, its zone, subnet and cluster). Returns the ChangeSet and how many relations go.
pub fn node_failure(twin: &Twin) -> (ChangeSet, usize) {
    let node = twin.entities_of(Kind::Node).next().expect("nodes exist").key.clone();
    let cascade = twin.out_relations(&node).len() + twin.in_relations(&node).len();
    (ChangeSet::of(vec![Change::RemoveEntity(node)]), cascade)
}

/// Resident memory of this process in bytes (Linux `/proc/self/status` VmRSS).
pub fn resident_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// The most resident memory this process has had, in bytes (`/proc/self/status` VmHWM).
pub fn peak_resident_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time this thread has run, in seconds (Linux `/proc/thread-self/schedstat`), so that
/// time the machine gave to others does not count.
pub fn thread_cpu_s() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}
