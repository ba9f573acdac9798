//! Health of an entity from what the twin knows of it: node readiness, pod phase,
//! ready replicas of workloads (else their pods' phases), and for services the workloads
//! they run on.

use doppel_model::spec::PodPhase;
use doppel_model::{Entity, Kind, RelKind, Spec, TwinView};

/// `up`, `degraded`, `down` or `unknown` (nothing reports on it).
pub fn health(twin: &(impl TwinView + ?Sized), entity: &Entity) -> &'static str {
    match own(entity) {
        Some(h) => h,
        None => match entity.key.kind() {
            Kind::Service => {
                // The workloads it runs on (or that back it).
                let ins = twin.in_relations(&entity.key);
                let outs = twin.out_relations(&entity.key);
                let workloads = ins
                    .iter()
                    .filter(|r| r.kind() == RelKind::Backs)
                    .map(|r| r.from)
                    .chain(outs.iter().filter(|r| r.kind() == RelKind::RunsOn).map(|r| r.to));
                let backing: Vec<&'static str> = workloads
                    .filter_map(|k| twin.entity(k))
                    .map(|w| own(w).unwrap_or_else(|| of_pods(twin, w)))
                    .filter(|h| *h != "unknown")
                    .collect();
                worst(&backing)
            }
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet => of_pods(twin, entity),
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

/// A workload's health from its pods' phases: all up, up; none up, down; else degraded.
fn of_pods(twin: &(impl TwinView + ?Sized), workload: &Entity) -> &'static str {
    let pods: Vec<&'static str> = twin
        .in_relations(&workload.key)
        .iter()
        .filter(|r| r.kind() == RelKind::MemberOf && r.from.kind() == Kind::Pod)
        .filter_map(|r| twin.entity(r.from).and_then(own))
        .collect();
    if pods.is_empty() {
        "unknown"
    } else if pods.iter().all(|h| *h == "up") {
        "up"
    } else if pods.iter().all(|h| *h == "down") {
        "down"
    } else {
        "degraded"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_take_the_health_of_the_pods_behind_them() {
        let twin = doppel_testkit::shop::shop();
        let cart: doppel_model::Key = "service/cart".parse().unwrap();
        assert_eq!(health(&twin, twin.entity(&cart).unwrap()), "up");
        // One of cart's pods failed: cart is degraded, the others still up.
        let one_failed = doppel_testkit::shop::shop_with(&[(
            "pods.yaml",
            "member_of: deployment/shop/cart\n    phase: running",
            "member_of: deployment/shop/cart\n    phase: failed",
        )]);
        assert_eq!(health(&one_failed, one_failed.entity(&cart).unwrap()), "degraded");
        let frontend: doppel_model::Key = "service/frontend".parse().unwrap();
        assert_eq!(health(&one_failed, one_failed.entity(&frontend).unwrap()), "up");
    }
}
