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

/// A pull of a `kubernetes` source pulled every second.
fn pull<'a>(
    source: &'a str,
    position: usize,
    time_ms: i64,
    seen: &'a [doppel_model::Key],
    gone: &'a [doppel_model::Key],
    record: &'a [u8],
) -> doppel_store::Pull<'a> {
    doppel_store::Pull { source, system: "kubernetes", position, time_ms, interval_ms: 1000, seen, gone, record }
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
                assert_eq!(store.samples_appended().unwrap(), 0);
                store.append_samples(&[sample(1000, 1.0), sample(2000, 2.0), sample(3000, 3.0)]).unwrap();
                store.append_samples(&[sample(2000, 20.0)]).unwrap();
                // Another connection sees the count move, as a server watching the store would.
                assert_eq!(open().samples_appended().unwrap(), 2);
                assert_eq!(store.samples(&key, "request_rate_rps", 1500, 3000).unwrap(), vec![(2000, 20.0), (3000, 3.0)]);
                let series = store.series().unwrap();
                assert_eq!((series.len(), series[0].samples, series[0].first_ms), (1, 3, 1000));
                assert!(store.append_samples(&[sample(4000, f64::NAN)]).is_err());
                assert_eq!(store.samples_appended().unwrap(), 2, "a refused batch is not counted");
            }

            #[test]
            fn pulls_record_freshness_and_the_last_record_of_each_source() {
                let (_guard, open) = <super::$backend as Backend>::fresh();
                let mut store = open();
                let key = |k: &str| k.parse::<doppel_model::Key>().unwrap();
                let (cart, web) = (key("deployment/shop/cart"), key("deployment/shop/web"));
                store.record_pull(&pull("manifests", 0, 10_000, &[cart.clone(), web.clone()], &[], b"one")).unwrap();
                store.record_pull(&pull("prod", 1, 12_000, std::slice::from_ref(&cart), &[], b"two")).unwrap();
                store.record_pull(&pull("manifests", 0, 11_000, std::slice::from_ref(&web), &[], b"three")).unwrap();
                drop(store);
                let mut store = open();
                let seen = store.last_seen(&cart).unwrap();
                let by: Vec<(&str, i64)> = seen.iter().map(|s| (s.source.as_str(), s.last_seen_ms)).collect();
                assert_eq!(by, vec![("prod", 12_000), ("manifests", 10_000)]);
                let records = store.source_records().unwrap();
                let listed: Vec<(&str, usize, &[u8])> = records.iter().map(|r| (r.source.as_str(), r.position, r.record.as_slice())).collect();
                assert_eq!(listed, vec![("manifests", 0, &b"three"[..]), ("prod", 1, &b"two"[..])]);
                // Stale: not seen within 3 intervals (3 s) of now by any source.
                let stale: Vec<String> = store.stale(14_500, 3).unwrap().iter().map(|s| s.key.to_string()).collect();
                assert_eq!(stale, vec!["deployment/shop/web"], "cart was seen at 12 s by prod");
                assert_eq!(store.stale(15_500, 3).unwrap().len(), 2);
                store.record_pull(&pull("prod", 1, 13_000, &[], std::slice::from_ref(&web), b"four")).unwrap();
                assert!(store.last_seen(&web).unwrap().is_empty(), "an entity gone from the twin is forgotten");
                assert_eq!(store.head().unwrap(), 0, "recording a pull writes no version");
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

#[test]
fn a_store_of_format_1_is_migrated_and_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let twin = commit(&mut store, ChangeSet::of(vec![add(doppel_model::Kind::Zone, "a")]));
    drop(store);
    // Make it what a format-1 doppel wrote: no freshness or source tables.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE freshness; DROP TABLE source_records; UPDATE meta SET value = '1' WHERE key = 'format';",
    )
    .unwrap();
    drop(conn);
    let mut store = SqliteStore::open(&path).unwrap();
    assert!(same_content(&store.twin_at(At::Head, None).unwrap(), &twin));
    let key: doppel_model::Key = "zone/a".parse().unwrap();
    let pull = doppel_store::Pull {
        source: "estate",
        system: "estate",
        position: 0,
        time_ms: 5,
        interval_ms: 1000,
        seen: std::slice::from_ref(&key),
        gone: &[],
        record: b"{}",
    };
    store.record_pull(&pull).unwrap();
    assert_eq!(store.last_seen(&key).unwrap()[0].source, "estate");
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let format: String = conn.query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| r.get(0)).unwrap();
    assert_eq!(format, "2");
}
