//! Selectors on a generated estate: the fast path (filter, then walk up from each
//! candidate) and the collecting path (walk down from the location) must agree.

use doppel_gen::{GenConfig, generate};
use doppel_model::{Change, ChangeSet, Key, Kind, Selector, Twin, TwinView};

fn twin() -> Twin {
    let generated = generate(GenConfig { services: 400, seed: 5 });
    let mut changes: Vec<Change> = generated.entities.into_iter().map(Change::AddEntity).collect();
    changes.extend(generated.relations.into_iter().map(Change::AddRelation));
    let mut twin = Twin::new();
    twin.apply(&ChangeSet::of(changes)).unwrap();
    twin
}

fn keys(twin: &Twin, selector: &str) -> Vec<Key> {
    Selector::parse(selector).unwrap().select(twin).into_iter().map(|e| e.key.clone()).collect()
}

#[test]
fn location_by_walking_up_agrees_with_walking_down() {
    let twin = twin();
    for zone in ["us-east-1a", "us-east-1b", "eu-west-1c"] {
        let everything = keys(&twin, &format!("zone={zone}"));
        assert!(everything.len() > 50, "{zone}: {}", everything.len());
        for kind in [Kind::Pod, Kind::Node, Kind::Subnet] {
            let fast = keys(&twin, &format!("zone={zone} kind:{kind}"));
            let slow: Vec<Key> = everything.iter().filter(|k| k.kind() == kind).cloned().collect();
            assert_eq!(fast, slow, "{zone} {kind}");
            assert!(!fast.is_empty(), "{zone} {kind}");
        }
    }
    // Pods of one deployment are spread over its region's three zones.
    let pods = keys(&twin, "kind:pod label:app=svc-000010");
    let in_a = keys(&twin, "zone=us-east-1a kind:pod label:app=svc-000010");
    assert!(!in_a.is_empty() && in_a.len() < pods.len(), "{} of {}", in_a.len(), pods.len());
    // Globs over the location's name: every pod is in some zone of a region.
    assert_eq!(keys(&twin, "region=* kind:pod"), keys(&twin, "kind:pod"));
}

#[test]
fn walk_terms_combine_with_filters() {
    let twin = twin();
    let deps = keys(&twin, "deps(service/svc-000001)");
    let pods_of_deps = keys(&twin, "deps(service/svc-000001) kind:pod");
    assert!(!pods_of_deps.is_empty());
    assert!(pods_of_deps.iter().all(|k| k.kind() == Kind::Pod && deps.contains(k)));
    let near = keys(&twin, "deps(service/svc-000001,1)");
    assert!(near.len() < deps.len());
    assert!(twin.contains(&"service/svc-000001".parse().unwrap()));
}
