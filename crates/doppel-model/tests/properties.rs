//! Property tests of the twin: undo, diff, forks and atomicity, on random ChangeSets.

use doppel_model::{Change, ChangeSet, Twin, TwinView, diff, same_content};
use doppel_testkit::{changeset, scripts};
use proptest::prelude::*;

/// Builds a twin by applying each script's ChangeSet in turn (refused ones are skipped).
fn build(scripts: &[Vec<doppel_testkit::Op>]) -> Twin {
    let mut twin = Twin::new();
    for ops in scripts {
        let changes = changeset(&twin, ops);
        let _ = twin.apply(&changes);
    }
    twin
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn apply_then_reverse_gives_the_same_twin(base in scripts(6, 6), next in prop::collection::vec(doppel_testkit::op(), 1..8)) {
        let twin = build(&base);
        let changes = changeset(&twin, &next);
        let mut changed = twin.clone();
        match changed.apply(&changes) {
            Ok(reverse) => {
                changed.apply(&reverse).expect("the reverse of an applied ChangeSet applies");
                prop_assert!(same_content(&twin, &changed));
            }
            // Refused: nothing may have changed.
            Err(_) => prop_assert!(same_content(&twin, &changed)),
        }
    }

    #[test]
    fn applying_diff_of_a_and_b_to_a_gives_b(a in scripts(5, 6), b in scripts(5, 6)) {
        let a = build(&a);
        let b = build(&b);
        let changes = diff(&a, &b);
        let mut result = a.clone();
        result.apply(&changes).expect("a diff applies to its base");
        prop_assert!(same_content(&result, &b));
    }

    #[test]
    fn a_fork_never_changes_its_base(base in scripts(5, 6), what_if in scripts(3, 6)) {
        let twin = build(&base);
        let before = twin.clone();
        let mut fork = twin.fork();
        for ops in &what_if {
            let changes = changeset(&fork, ops);
            let _ = fork.apply(&changes);
        }
        prop_assert!(same_content(&twin, &before));
        // And the fork matches a copy that had the same changes applied for real.
        let mut copy = twin.clone();
        copy.apply(&fork.to_changeset()).expect("a fork's changes apply to its base");
        prop_assert!(same_content(&copy, &fork));
    }

    #[test]
    fn a_fork_sees_what_a_real_apply_would(base in scripts(5, 6), next in prop::collection::vec(doppel_testkit::op(), 1..8)) {
        let twin = build(&base);
        let changes = changeset(&twin, &next);
        let mut copy = twin.clone();
        let real = copy.apply(&changes);
        let mut fork = twin.fork();
        let forked = fork.apply(&changes);
        prop_assert_eq!(real.is_ok(), forked.is_ok());
        prop_assert!(same_content(&copy, &fork));
        for entity in copy.entities() {
            let mut a: Vec<_> = copy.out_relations(&entity.key).iter().map(|r| r.key()).collect();
            let mut b: Vec<_> = fork.out_relations(&entity.key).iter().map(|r| r.key()).collect();
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
            let mut a: Vec<_> = copy.in_relations(&entity.key).iter().map(|r| r.key()).collect();
            let mut b: Vec<_> = fork.in_relations(&entity.key).iter().map(|r| r.key()).collect();
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
        }
    }
}

#[test]
fn a_refused_changeset_lists_every_problem_and_changes_nothing() {
    let mut twin = Twin::new();
    let a = doppel_testkit::entity(doppel_model::Kind::Service, "a", 0);
    twin.apply(&ChangeSet::of(vec![Change::AddEntity(a.clone())])).unwrap();
    let before = twin.clone();
    let bad = ChangeSet::of(vec![
        Change::AddEntity(doppel_testkit::entity(doppel_model::Kind::Zone, "z", 0)),
        Change::AddEntity(a.clone()),
        Change::RemoveEntity("service/b".parse().unwrap()),
    ]);
    let errors = twin.apply(&bad).unwrap_err();
    assert_eq!(errors.0.len(), 2, "{errors}");
    assert_eq!(errors.0[0].change, 1);
    assert_eq!(errors.0[1].change, 2);
    assert_eq!(errors.0[1].suggestion.as_deref(), Some("service/a"));
    assert!(same_content(&twin, &before));
    assert_eq!(twin.version(), 1);
}

#[test]
fn generated_twins_are_not_trivial() {
    // Guards the properties above: they mean little if every ChangeSet were refused.
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut entities, mut relations, mut applied, mut refused) = (0, 0, 0, 0);
    for _ in 0..50 {
        let script = scripts(6, 6).new_tree(&mut runner).unwrap().current();
        let mut twin = Twin::new();
        for ops in &script {
            match twin.apply(&changeset(&twin, ops)) {
                Ok(_) => applied += 1,
                Err(_) => refused += 1,
            }
        }
        entities += twin.entity_count();
        relations += twin.relation_count();
    }
    assert!(entities > 100, "{entities} entities over 50 twins");
    assert!(relations > 20, "{relations} relations over 50 twins");
    assert!(applied > 40 && refused > 10, "{applied} applied, {refused} refused");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// The twin answers label selectors from its index; a fork of it (no index) scans.
    /// After any history of applied and refused ChangeSets, both must agree.
    #[test]
    fn the_label_index_agrees_with_a_scan(script in scripts(8, 6)) {
        let twin = build(&script);
        let fork = twin.fork();
        for selector in ["label:variant=0", "label:variant=1", "label:variant=2", "label:variant=*", "label:variant=? kind:service"] {
            let selector = doppel_model::Selector::parse(selector).unwrap();
            let indexed: Vec<_> = selector.select(&twin).into_iter().map(|e| e.key.clone()).collect();
            let scanned: Vec<_> = selector.select(&fork).into_iter().map(|e| e.key.clone()).collect();
            prop_assert_eq!(indexed, scanned);
        }
    }
}
