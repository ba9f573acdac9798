//! Health of an entity from what the twin knows of it: node readiness, pod phase,
//! ready replicas of workloads, and for services the workloads that back them.

use doppel_model::spec::PodPhase;
use doppel_model::{Entity, Kind, RelKind, Spec, TwinView};

/// `up`, `degraded`, `down` or `unknown` (nothing reports on it).
pub fn health(twin: &(impl TwinView + ?Sized), entity: &Entity) -> &'static str {
    match own(entity) {
        Some(h) => h,
        None => match entity.key.kind() {
            Kind::Service => {
                let backing: Vec<&'static str> = twin
                    .in_relations(&entity.key)
                    .iter()
                    .filter(|r| r.kind() == RelKind::Backs)
                    .filter_map(|r| twin.entity(r.from).and_then(own))
                    .collect();
                worst(&backing)
            }
            _ => "unknown",
        },
    }
}

fn worst(states: &[&'static str]) -> &'static str {
    ["down", "degraded", "up"].into_iter().find(|s| states.contains(s)).unwrap_or("unknown")
}

fn replicas(desired: u32, ready: Option<u32>) -> Option<&'static str> {
    let ready = ready?;
    Some(if ready >= desired {
        "up"
    } else if ready == 0 {
        "down"
    } else {
        "degraded"
    })
}

fn own(entity: &Entity) -> Option<&'static str> {
    match &entity.spec {
        Spec::Node(n) => n.ready.map(|r| if r { "up" } else { "down" }),
        Spec::Pod(p) => Some(match p.phase {
            PodPhase::Running | PodPhase::Succeeded => "up",
            PodPhase::Pending => "degraded",
            PodPhase::Failed => "down",
            PodPhase::Unknown => "unknown",
        }),
        Spec::Deployment(d) => replicas(d.replicas, d.ready_replicas),
        Spec::StatefulSet(s) => replicas(s.replicas, s.ready_replicas),
        _ => None,
    }
}
