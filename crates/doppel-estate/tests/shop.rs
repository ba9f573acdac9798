//! The bundled example estate is the demo's default and the fixture later analyses are
//! tested on: it must load, and its numbers must hang together.

use doppel_model::spec::PodPhase;
use doppel_model::{Kind, RelKind, Spec, TwinView};
use doppel_testkit::shop::shop;
use std::collections::HashMap;

#[test]
fn the_shop_has_the_shape_the_brief_asks_for() {
    let twin = shop();
    let count = |kind| twin.entities_of(kind).count();
    assert!(count(Kind::Service) >= 12, "a dozen or more services");
    assert!(count(Kind::Node) >= 6, "a cluster of 6 or more nodes");
    assert_eq!(count(Kind::Region), 2, "a region and a standby region");
    let standby = twin.entities_of(Kind::Region).filter(|r| matches!(&r.spec, Spec::Region(s) if s.standby)).count();
    assert_eq!(standby, 1);
    for name in
        ["frontend", "checkout", "cart", "payment", "shipping", "currency", "catalog", "recommendation", "ads", "email"]
    {
        assert!(twin.contains(&format!("service/{name}").parse().unwrap()), "service/{name}");
    }
    for kind in [
        Kind::Queue,
        Kind::External,
        Kind::NetworkPolicy,
        Kind::SecurityGroup,
        Kind::Role,
        Kind::ServiceAccount,
        Kind::InstanceType,
    ] {
        assert!(count(kind) > 0, "{kind}");
    }
    assert!(twin.relations().any(|r| r.kind() == RelKind::ReplicatesTo), "a database with a replica");
}

#[test]
fn nodes_spread_over_three_zones_and_hold_their_pods() {
    let twin = shop();
    let mut zones_of_nodes: HashMap<String, usize> = HashMap::new();
    for node in twin.entities_of(Kind::Node) {
        let Spec::Node(spec) = &node.spec else { unreachable!() };
        let zone = twin
            .out_relations(&node.key)
            .into_iter()
            .find(|r| r.kind() == RelKind::LocatedIn && r.to.kind() == Kind::Zone)
            .unwrap_or_else(|| panic!("{} is in no zone", node.key));
        *zones_of_nodes.entry(zone.to.name().to_string()).or_default() += 1;
        let (mut cpu, mut memory, mut pods) = (0.0, 0u64, 0u32);
        for rel in twin.in_relations(&node.key).into_iter().filter(|r| r.kind() == RelKind::RunsOn) {
            let Spec::Pod(pod) = &twin.entity(rel.from).unwrap().spec else { continue };
            cpu += pod.requests.cpu.0;
            memory += pod.requests.memory.0;
            pods += 1;
        }
        assert!(
            cpu <= spec.allocatable.cpu.0 + 1e-9,
            "{}: {cpu} cores requested of {}",
            node.key,
            spec.allocatable.cpu
        );
        assert!(memory <= spec.allocatable.memory.0, "{}: memory over allocatable", node.key);
        assert!(pods <= spec.allocatable.pods, "{}: {pods} pods", node.key);
    }
    assert_eq!(zones_of_nodes.len(), 3, "{zones_of_nodes:?}");
}

#[test]
fn every_workload_has_its_pods_and_every_pod_a_node() {
    let twin = shop();
    for pod in twin.entities_of(Kind::Pod) {
        let Spec::Pod(spec) = &pod.spec else { unreachable!() };
        let on_node = twin.out_relations(&pod.key).iter().any(|r| r.kind() == RelKind::RunsOn);
        assert!(on_node || spec.phase == PodPhase::Pending, "{} runs nowhere", pod.key);
    }
    for deployment in twin.entities_of(Kind::Deployment) {
        let Spec::Deployment(spec) = &deployment.spec else { unreachable!() };
        let pods = twin.in_relations(&deployment.key).iter().filter(|r| r.kind() == RelKind::MemberOf).count();
        assert_eq!(pods as u32, spec.replicas, "{}", deployment.key);
    }
}

#[test]
fn entry_points_have_objectives_and_daily_profiles() {
    let twin = shop();
    let mut entries = 0;
    for service in twin.entities_of(Kind::Service) {
        let Spec::Service(spec) = &service.spec else { unreachable!() };
        assert!(
            twin.out_relations(&service.key).iter().any(|r| r.kind() == RelKind::RunsOn),
            "{} runs nowhere",
            service.key
        );
        for endpoint in spec.endpoints.iter().filter(|e| e.entry) {
            entries += 1;
            assert!(endpoint.rate_rps.is_some_and(|r| r > 0.0), "{} {}", service.key, endpoint.name);
            assert_eq!(endpoint.daily_profile.len(), 24);
            let mean = endpoint.daily_profile.iter().sum::<f64>() / 24.0;
            assert!((0.9..=1.1).contains(&mean), "{} {}: profile mean {mean}", service.key, endpoint.name);
            assert!(endpoint.slo.is_some() || spec.slo.is_some(), "{} {} has no SLO", service.key, endpoint.name);
        }
    }
    assert!(entries >= 3);
}
