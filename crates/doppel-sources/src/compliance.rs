//! The compliance test every source passes (`docs/sources.md`): a function its tests call
//! with their own fixtures. It panics with a message naming the broken rule.

use crate::{OWNER_LABEL, Source};
use doppel_model::{Change, Entity, Key, Labels, Twin, TwinView};

/// A source's fixtures for the compliance test.
pub struct Case<'a, S: Source> {
    /// Builds the source on its full fixtures, as a complete listing ([`check`]) or a
    /// partial one ([`check_partial`]).
    pub full: &'a dyn Fn() -> S,
    /// Builds it on a smaller variant (some objects gone), listed the same way.
    pub smaller: &'a dyn Fn() -> S,
    /// Builds it on each bad fixture.
    pub bad: Vec<Box<dyn Fn() -> S + 'a>>,
    /// Strings from the fixtures' secrets that must appear nowhere in what the source returns.
    pub secrets: Vec<String>,
}

/// Runs every mechanical check of the spec; returns the twin the full fixtures gave.
pub fn check<S: Source>(case: &Case<'_, S>) -> Twin {
    run(case, true)
}

/// The same checks for a source whose listings are never complete (traces: what was not
/// seen may still exist): the smaller variant must remove nothing.
pub fn check_partial<S: Source>(case: &Case<'_, S>) -> Twin {
    run(case, false)
}

fn run<S: Source>(case: &Case<'_, S>, complete: bool) -> Twin {
    // Something another owner holds, which no listing of this source may touch.
    let mut twin = Twin::new();
    let foreign_key: Key = "namespace/compliance-foreign".parse().expect("a valid key");
    let foreign = Entity::new(foreign_key.clone()).labelled(Labels::from_pairs([(OWNER_LABEL, "someone-else")]));
    twin.apply(&doppel_model::ChangeSet::of(vec![Change::AddEntity(foreign.clone())]))
        .expect("the foreign entity applies");

    let mut source = (case.full)();
    let name = source.name().to_string();
    let batch = source.changes(&twin).unwrap_or_else(|e| panic!("the full fixtures were refused: {e}"));
    assert!(!batch.changeset.is_empty(), "the full fixtures gave an empty ChangeSet");
    assert_eq!(batch.changeset.provenance.source, source.system(), "provenance must name the system");
    assert!(batch.changeset.provenance.summary.contains(&name), "the provenance summary must name the instance");
    for change in &batch.changeset.changes {
        if let Change::AddEntity(e) | Change::UpdateEntity(e) = change {
            assert_eq!(e.labels.get(OWNER_LABEL), Some(name.as_str()), "{} lacks the owner label", e.key);
        }
    }
    let serialised = serde_json::to_string(&batch.changeset).expect("ChangeSets serialise");
    let warnings: Vec<String> = batch.warnings.iter().map(|w| w.to_string()).collect();
    for secret in &case.secrets {
        assert!(!serialised.contains(secret.as_str()), "secret `{secret}` found in the ChangeSet");
        assert!(!warnings.iter().any(|w| w.contains(secret.as_str())), "secret `{secret}` found in a warning");
    }
    twin.apply(&batch.changeset).unwrap_or_else(|e| panic!("the twin refused the ChangeSet: {e}"));
    let full_twin = twin.clone();

    let again = (case.full)().changes(&twin).unwrap_or_else(|e| panic!("the second import failed: {e}"));
    assert!(again.changeset.is_empty(), "importing the same input twice changed: {:?}", again.changeset.summary());

    let smaller = (case.smaller)().changes(&twin).unwrap_or_else(|e| panic!("the smaller fixtures were refused: {e}"));
    let kept: std::collections::BTreeSet<&Key> = smaller.observed.iter().collect();
    let owned = crate::owned_keys(&twin, &name);
    let lacking: Vec<&Key> = owned.iter().filter(|k| !kept.contains(k)).collect();
    assert!(!lacking.is_empty(), "the smaller fixtures must lack some object of the full ones");
    let expected_gone = if complete { lacking } else { Vec::new() };
    let removed: std::collections::BTreeSet<&Key> = smaller
        .changeset
        .changes
        .iter()
        .filter_map(|c| if let Change::RemoveEntity(k) = c { Some(k) } else { None })
        .collect();
    let rule = if complete {
        "a complete listing must remove exactly what disappeared"
    } else {
        "a partial listing must remove nothing"
    };
    assert_eq!(removed, expected_gone.into_iter().collect(), "{rule}");
    twin.apply(&smaller.changeset).unwrap_or_else(|e| panic!("the twin refused the smaller ChangeSet: {e}"));
    assert_eq!(twin.entity(&foreign_key), Some(&foreign), "an entity of another owner was changed");
    if complete {
        assert_eq!(
            crate::owned_keys(&twin, &name).len(),
            kept.len(),
            "the twin does not hold exactly the smaller listing"
        );
    } else {
        let now: std::collections::BTreeSet<Key> = crate::owned_keys(&twin, &name).into_iter().collect();
        assert!(owned.iter().all(|k| now.contains(k)), "a partial listing removed owned entities");
    }

    for (n, make) in case.bad.iter().enumerate() {
        // The twin is borrowed immutably: a failing source cannot have changed it.
        match make().changes(&twin) {
            Ok(_) => panic!("bad fixture {n} was accepted"),
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains(&format!("`{name}`")),
                    "bad fixture {n}: the error does not name the source: {message}"
                );
                assert!(error.place().is_some(), "bad fixture {n}: the error names no place: {message}");
            }
        }
    }
    full_twin
}
