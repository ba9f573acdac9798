//! The store contract, checked against every backend by one macro, plus SQLite specifics.

use doppel_model::{Change, ChangeSet, Provenance, Twin, TwinView, same_content};
use doppel_store::{At, Error, ErrorKind, Sample, SqliteStore, Store};
use doppel_testkit::{changeset, scripts};
use proptest::prelude::*;

/// Opens (or reopens) the store under test.
type Opener = Box<dyn Fn() -> Box<dyn Store>>;

/// A fresh store of the backend under test, and what keeps it alive (a temp dir).
trait Backend {
    type Guard;
    fn fresh() -> (Self::Guard, Opener);
}

struct Sqlite;
impl Backend for Sqlite {
    type Guard = tempfile::TempDir;
    fn fresh() -> (tempfile::TempDir, Opener) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twin.db");
        (dir, Box::new(move || Box::new(SqliteStore::open(&path).unwrap()) as Box<dyn Store>))
    }
}

fn commit(store: &mut dyn Store, changes: ChangeSet) -> Twin {
    let base = store.twin_at(At::Head, None).unwrap();
    store.commit(base, &changes).unwrap().1
}

fn add(kind: doppel_model::Kind, name: &str) -> Change {
    Change::AddEntity(doppel_testkit::entity(kind, name, 1))
}

macro_rules! store_suite {
    ($($module:ident: $backend:ident),*) => { $(
        mod $module {
            use super::*;

            #[test]
            fn an_empty_store_holds_the_empty_twin() {
                let (_guard, open) = <super::$backend as Backend>::fresh();
                let store = open();
                assert_eq!(store.head().unwrap(), 0);
                assert_eq!(store.twin_at(At::Head, None).unwrap().entity_count(), 0);
                assert!(store.history(10).unwrap().is_empty());
            }

            #[test]
            fn commits_survive_reopening_with_their_provenance() {
                let (_guard, open) = <super::$backend as Backend>::fresh();
                let mut store = open();
                let provenance = Provenance { source: "test".into(), author: "ada".into(), summary: "two zones".into() };
                let relation = doppel_model::Relation::new("zone/a".parse().unwrap(), doppel_model::RelKind::DependsOn, "zone/b".parse().unwrap());
                let changes = ChangeSet::of(vec![add(doppel_model::Kind::Zone, "a"), add(doppel_model::Kind::Zone, "b"), Change::AddRelation(relation)]).with_provenance(provenance);
                let twin = commit(store.as_mut(), changes.clone());
                drop(store);
                let store = open();
                assert_eq!(store.head().unwrap(), 1);
                assert!(same_content(&store.twin_at(At::Head, None).unwrap(), &twin));
                let log = store.history(10).unwrap();
                assert_eq!((log[0].author.as_str(), log[0].summary.as_str(), log[0].entities.added), ("ada", "two zones", 2));
                assert_eq!((log[0].entities.updated, log[0].relations.added, log[0].relations.updated), (0, 1, 0));
                assert_eq!(store.changeset(1).unwrap(), changes);
            }

            #[test]
            fn every_version_can_be_read_back() {
                let (_guard, open) = <super::$backend as Backend>::fresh();
                let mut store = open();
                let mut expected = vec![Twin::new()];
                for i in 0..5 {
                    expected.push(commit(store.as_mut(), ChangeSet::of(vec![add(doppel_model::Kind::Service, &format!("s{i}"))])));
                }
                for (version, twin) in expected.iter().enumerate() {
                    let read = store.twin_at(At::Version(version as u64), None).unwrap();
                    assert_eq!(read.version(), version as u64);
                    assert!(same_content(&read, twin), "version {version}");
                }
                let error = store.twin_at(At::Version(9), None).unwrap_err();
                assert_eq!(error.kind(), ErrorKind::NotFound);
            }

            #[test]
            fn a_stale_base_is_a_conflict_and_writes_nothing() {
                let (_guard, open) = <super::$backend as Backend>::fresh();
                let mut store = open();
                let stale = store.twin_at(At::Head, None).unwrap();
                commit(store.as_mut(), ChangeSet::of(vec![add(doppel_model::Kind::Zone, "a")]));
                let error = store.commit(stale, &ChangeSet::of(vec![add(doppel_model::Kind::Zone, "b")])).unwrap_err();
                assert!(matches!(error, Error::Conflict { expected: 0, head: 1 }), "{error}");
                assert!(error.is_retryable());
                assert_eq!(store.head().unwrap(), 1);
            }

            #[test]
            fn a_refused_changeset_leaves_the_store_unchanged() {
                let (_guard, open) = <super::$backend as Backend>::fresh();
                let mut store = open();
                let before = commit(store.as_mut(), ChangeSet::of(vec![add(doppel_model::Kind::Zone, "a")]));
                let base = store.twin_at(At::Head, None).unwrap();
                let error = store.commit(base, &ChangeSet::of(vec![add(doppel_model::Kind::Zone, "b"), add(doppel_model::Kind::Zone, "a")])).unwrap_err();
                assert_eq!(error.kind(), ErrorKind::InvalidInput);
                assert_eq!(store.head().unwrap(), 1);
                assert!(same_content(&store.twin_at(At::Head, None).unwrap(), &before));
            }

            #[test]
            fn samples_are_stored_per_series_and_replaced_at_the_same_time() {
                let (_guard, open) = <super::$backend as Backend>::fresh();
                let mut store = open();
                let key: doppel_model::Key = "service/cart".parse().unwrap();
                let sample = |ts_ms, value| Sample { entity: key.clone(), attribute: "request_rate_rps".into(), ts_ms, value };
                store.append_samples(&[sample(1000, 1.0), sample(2000, 2.0), sample(3000, 3.0)]).unwrap();
                store.append_samples(&[sample(2000, 20.0)]).unwrap();
                assert_eq!(store.samples(&key, "request_rate_rps", 1500, 3000).unwrap(), vec![(2000, 20.0), (3000, 3.0)]);
                let series = store.series().unwrap();
                assert_eq!((series.len(), series[0].samples, series[0].first_ms), (1, 3, 1000));
                assert!(store.append_samples(&[sample(4000, f64::NAN)]).is_err());
            }

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(24))]
                /// The store behaves like an in-memory twin, across reopenings.
                #[test]
                fn the_store_behaves_like_the_in_memory_twin(script in scripts(12, 5)) {
                    let (_guard, open) = <super::$backend as Backend>::fresh();
                    let mut store = open();
                    let mut model = Twin::new();
                    for (i, ops) in script.iter().enumerate() {
                        let changes = changeset(&model, ops);
                        let base = store.twin_at(At::Head, None).unwrap();
                        let stored = store.commit(base, &changes);
                        let applied = model.apply(&changes);
                        prop_assert_eq!(stored.is_ok(), applied.is_ok());
                        if i % 4 == 3 {
                            store = open();
                        }
                        let read = store.twin_at(At::Head, None).unwrap();
                        prop_assert!(same_content(&read, &model));
                        prop_assert_eq!(read.version(), model.version());
                    }
                }
            }
        }
    )* };
}

store_suite!(sqlite: Sqlite);

#[test]
fn snapshots_and_log_replay_agree() {
    // 60 versions: a snapshot is written at version 50, later versions replay on top of it.
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
    let mut twins = vec![Twin::new()];
    for i in 0..60 {
        twins.push(commit(&mut store, ChangeSet::of(vec![add(doppel_model::Kind::Service, &format!("s{i}"))])));
    }
    for version in [0, 1, 49, 50, 51, 60] {
        let read = store.twin_at(At::Version(version), None).unwrap();
        assert!(same_content(&read, &twins[version as usize]), "version {version}");
    }
}

#[test]
fn versions_can_be_found_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
    for (i, time) in [1_000, 2_000, 3_000].into_iter().enumerate() {
        let base = store.twin_at(At::Head, None).unwrap();
        store.commit_at(base, &ChangeSet::of(vec![add(doppel_model::Kind::Zone, &format!("z{i}"))]), time).unwrap();
    }
    assert_eq!(store.twin_at(At::Time(2_500), None).unwrap().version(), 2);
    assert_eq!(store.twin_at(At::Time(3_000), None).unwrap().version(), 3);
    let error = store.twin_at(At::Time(500), None).unwrap_err();
    assert!(error.to_string().contains("history starts at"), "{error}");
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database, just some text that is long enough").unwrap();
    let error = SqliteStore::open(&garbage).err().expect("garbage is refused");
    assert!(matches!(error, Error::NotAStore { .. }), "{error}");
    assert_eq!(std::fs::read(&garbage).unwrap(), b"this is not a database, just some text that is long enough");

    let other = dir.path().join("other.db");
    rusqlite_like_other_app(&other);
    let error = SqliteStore::open(&other).err().expect("another app's database is refused");
    assert!(error.to_string().contains("another application"), "{error}");

    let missing = SqliteStore::open_existing(dir.path().join("missing.db")).err().expect("missing");
    assert!(error_mentions(&missing, "doppel load"));
}

fn error_mentions(error: &Error, text: &str) -> bool {
    error.to_string().contains(text)
}

/// Writes a SQLite database with a table of its own, as another program would.
fn rusqlite_like_other_app(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
}
