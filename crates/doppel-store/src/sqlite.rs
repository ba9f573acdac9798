//! The embedded store: one SQLite file in WAL mode with full synchronisation, so a
//! committed ChangeSet survives a killed process or a power cut, and a half-written one
//! is rolled back on the next open.
//!
//! Layout: `changesets` (one row per version) with their changes in `changeset_chunks`
//! (JSON, robust to model additions); `snapshots` of whole twins in `snapshot_chunks`
//! (postcard, fast; rebuilt from the log if their format changes); `series` and
//! `samples` for observed values. Chunking keeps rows small for million-entity estates.

use crate::error::{Error, Result};
use crate::{At, Commit, Progress, Pull, Sample, Seen, SeriesInfo, SourceRecord, Store};
use doppel_model::{ChangeSet, Counts, Entity, Key, Provenance, RelSpec, Twin, TwinView};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;

/// Marks a SQLite file as a Doppel store (`PRAGMA application_id`), "DOPP".
const APPLICATION_ID: i64 = 0x444F_5050;
/// Version of the table layout: 1 the log, snapshots and series; 2 adds `freshness` and
/// `source_records` (a store of format 1 is migrated when opened).
const FORMAT: i64 = 2;
/// Version of the snapshot encoding; snapshots of another format are ignored.
const SNAPSHOT_FORMAT: i64 = 4;
/// Changes per log chunk.
const CHANGES_PER_CHUNK: usize = 10_000;
/// Entities or relations per snapshot chunk.
const ITEMS_PER_CHUNK: usize = 50_000;
/// A snapshot is written once this many changes accumulated since the last one...
const SNAPSHOT_AFTER_CHANGES: i64 = 20_000;
/// ...or this many versions.
const SNAPSHOT_AFTER_VERSIONS: u64 = 50;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changesets (
    version INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    summary TEXT NOT NULL,
    n_changes INTEGER NOT NULL,
    entities_added INTEGER NOT NULL, entities_updated INTEGER NOT NULL, entities_removed INTEGER NOT NULL,
    relations_added INTEGER NOT NULL, relations_updated INTEGER NOT NULL, relations_removed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changesets_time ON changesets (time_ms);
CREATE TABLE IF NOT EXISTS changeset_chunks (
    version INTEGER NOT NULL, chunk INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (version, chunk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    version INTEGER PRIMARY KEY, format INTEGER NOT NULL,
    n_entities INTEGER NOT NULL, n_relations INTEGER NOT NULL, created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_chunks (
    version INTEGER NOT NULL, chunk INTEGER NOT NULL, part TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (version, chunk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, entity TEXT NOT NULL, attribute TEXT NOT NULL, UNIQUE (entity, attribute)
);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL, ts_ms INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (series, ts_ms)
) WITHOUT ROWID;
";

/// Format 2: when each entity was last seen by each source instance, and each instance's
/// last pull as it saw it (for drift).
const SCHEMA_2: &str = "
CREATE TABLE IF NOT EXISTS freshness (
    key TEXT NOT NULL, source TEXT NOT NULL, last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (key, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS freshness_source ON freshness (source, last_seen_ms);
CREATE TABLE IF NOT EXISTS source_records (
    source TEXT PRIMARY KEY, system TEXT NOT NULL, position INTEGER NOT NULL,
    time_ms INTEGER NOT NULL, interval_ms INTEGER NOT NULL, body BLOB NOT NULL
);
";

/// A store in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: String,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl SqliteStore {
    /// Opens the store at `path`, creating it if the file does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        Self::open_with(path.as_ref(), true)
    }

    /// Opens an existing store; a missing file is [`Error::Missing`].
    pub fn open_existing(path: impl AsRef<Path>) -> Result<SqliteStore> {
        Self::open_with(path.as_ref(), false)
    }

    fn open_with(path: &Path, create: bool) -> Result<SqliteStore> {
        let shown = path.display().to_string();
        if !create && !path.exists() {
            return Err(Error::Missing { path: shown });
        }
        let not_a_store = |reason: String| Error::NotAStore { path: shown.clone(), reason };
        let conn = Connection::open(path).map_err(|e| not_a_store(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let app_id: i64 =
            conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(|e| not_a_store(e.to_string()))?;
        let n_tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if app_id != APPLICATION_ID && (app_id != 0 || n_tables > 0) {
            return Err(not_a_store("it is a SQLite database of another application".into()));
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        if n_tables == 0 {
            conn.execute_batch(SCHEMA)?;
            conn.execute_batch(SCHEMA_2)?;
            conn.pragma_update(None, "application_id", APPLICATION_ID)?;
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('format', ?1)",
                params![FORMAT.to_string()],
            )?;
        }
        let format: i64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| not_a_store("its format marker is missing".into()))?;
        if format > FORMAT {
            return Err(Error::NewerFormat { path: shown, found: format, supported: FORMAT });
        }
        if format < 2 {
            // Format 1 to 2: new tables only; what was stored is untouched.
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(SCHEMA_2)?;
            tx.execute("UPDATE meta SET value = ?1 WHERE key = 'format'", params![FORMAT.to_string()])?;
            tx.commit()?;
        }
        Ok(SqliteStore { conn, path: shown })
    }

    /// The file path.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn resolve(&self, at: At) -> Result<u64> {
        let head = self.head()?;
        match at {
            At::Head => Ok(head),
            At::Version(v) if v <= head => Ok(v),
            At::Version(v) => Err(Error::NoSuchVersion(format!("version {v} does not exist: the newest is {head}"))),
            At::Time(ms) => {
                let version: Option<i64> =
                    self.conn
                        .query_row("SELECT max(version) FROM changesets WHERE time_ms <= ?1", [ms], |r| r.get(0))?;
                match version {
                    Some(v) => Ok(v as u64),
                    None if head == 0 => Err(Error::NoSuchVersion("the store is empty".into())),
                    None => {
                        let first: i64 =
                            self.conn.query_row("SELECT min(time_ms) FROM changesets", [], |r| r.get(0))?;
                        Err(Error::NoSuchVersion(format!(
                            "nothing was committed at or before that time; the history starts at {}",
                            format_ms(first)
                        )))
                    }
                }
            }
        }
    }

    fn load_snapshot(&self, version: u64) -> Result<Twin> {
        let (n_entities, n_relations): (i64, i64) = self.conn.query_row(
            "SELECT n_entities, n_relations FROM snapshots WHERE version = ?1",
            [version as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let corrupt = |e: String| Error::Corrupt(format!("snapshot {version}: {e}"));
        let mut entities: Vec<Entity> = Vec::with_capacity(n_entities.max(0) as usize);
        let mut relations: Vec<(u32, u32, RelSpec)> = Vec::with_capacity(n_relations.max(0) as usize);
        let mut statement =
            self.conn.prepare("SELECT part, body FROM snapshot_chunks WHERE version = ?1 ORDER BY chunk")?;
        let mut rows = statement.query([version as i64])?;
        // Decoding is most of the work: decode a batch of chunks on all cores, keep their
        // order, and append; only one batch of encoded and decoded chunks is held at a time.
        let batch_size = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) * 2;
        loop {
            let mut batch: Vec<(String, Vec<u8>)> = Vec::with_capacity(batch_size);
            while batch.len() < batch_size {
                match rows.next()? {
                    Some(row) => batch.push((row.get(0)?, row.get(1)?)),
                    None => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            let decoded = decode_parallel(&batch, |(part, body)| match part.as_str() {
                "entities" => postcard::from_bytes::<Vec<Entity>>(body).map(Part::Entities).map_err(|e| e.to_string()),
                "relations" => postcard::from_bytes::<Vec<(u32, u32, RelSpec)>>(body)
                    .map(Part::Relations)
                    .map_err(|e| e.to_string()),
                other => Err(format!("unknown part {other}")),
            });
            drop(batch);
            for part in decoded {
                match part.map_err(corrupt)? {
                    Part::Entities(list) => entities.extend(list),
                    Part::Relations(list) => relations.extend(list),
                }
            }
        }
        Twin::from_indexed(version, entities, relations).map_err(corrupt)
    }

    fn write_snapshot(tx: &rusqlite::Transaction<'_>, twin: &Twin) -> Result<()> {
        let version = twin.version() as i64;
        let mut chunk = 0i64;
        let mut insert =
            tx.prepare("INSERT INTO snapshot_chunks (version, chunk, part, body) VALUES (?1, ?2, ?3, ?4)")?;
        let (entities, relations) = twin.export_indexed();
        for part in entities.chunks(ITEMS_PER_CHUNK) {
            let body = postcard::to_stdvec(part).map_err(|e| Error::Corrupt(e.to_string()))?;
            insert.execute(params![version, chunk, "entities", body])?;
            chunk += 1;
        }
        for part in relations.chunks(ITEMS_PER_CHUNK * 2) {
            let body = postcard::to_stdvec(part).map_err(|e| Error::Corrupt(e.to_string()))?;
            insert.execute(params![version, chunk, "relations", body])?;
            chunk += 1;
        }
        tx.execute(
            "INSERT OR REPLACE INTO snapshots (version, format, n_entities, n_relations, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![version, SNAPSHOT_FORMAT, twin.entity_count() as i64, twin.relation_count() as i64, now_ms()],
        )?;
        Ok(())
    }

    fn commit_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Commit> {
        Ok(Commit {
            version: row.get::<_, i64>(0)? as u64,
            time_ms: row.get(1)?,
            source: row.get(2)?,
            author: row.get(3)?,
            summary: row.get(4)?,
            entities: Counts { added: count(row, 6)?, updated: count(row, 7)?, removed: count(row, 8)? },
            relations: Counts { added: count(row, 9)?, updated: count(row, 10)?, removed: count(row, 11)? },
        })
    }

    /// Commits a ChangeSet with a given time (tests and imports of old history use this).
    pub fn commit_at(&mut self, base: Twin, changes: &ChangeSet, time_ms: i64) -> Result<(Commit, Twin)> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let head: i64 = tx.query_row("SELECT coalesce(max(version), 0) FROM changesets", [], |r| r.get(0))?;
        if head as u64 != base.version() {
            return Err(Error::Conflict { expected: base.version(), head: head as u64 });
        }
        let mut twin = base;
        twin.apply(changes)?;
        let version = twin.version() as i64;
        let summary = changes.summary();
        let (entities, relations) = crate::counts(&summary);
        let Provenance { source, author, summary: text } = &changes.provenance;
        let text = if text.is_empty() { summary.to_string() } else { text.clone() };
        tx.execute(
            "INSERT INTO changesets VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                version,
                time_ms,
                source,
                author,
                text,
                changes.len() as i64,
                entities.added as i64,
                entities.updated as i64,
                entities.removed as i64,
                relations.added as i64,
                relations.updated as i64,
                relations.removed as i64
            ],
        )?;
        {
            let mut insert = tx.prepare("INSERT INTO changeset_chunks (version, chunk, body) VALUES (?1, ?2, ?3)")?;
            for (i, chunk) in changes.changes.chunks(CHANGES_PER_CHUNK).enumerate() {
                let body = serde_json::to_vec(chunk).map_err(|e| Error::Corrupt(e.to_string()))?;
                insert.execute(params![version, i as i64, body])?;
            }
        }
        let last_snapshot: i64 = tx.query_row(
            "SELECT coalesce(max(version), 0) FROM snapshots WHERE format = ?1",
            [SNAPSHOT_FORMAT],
            |r| r.get(0),
        )?;
        let pending: i64 = tx.query_row(
            "SELECT coalesce(sum(n_changes), 0) FROM changesets WHERE version > ?1",
            [last_snapshot],
            |r| r.get(0),
        )?;
        if pending >= SNAPSHOT_AFTER_CHANGES || (version - last_snapshot) as u64 >= SNAPSHOT_AFTER_VERSIONS {
            Self::write_snapshot(&tx, &twin)?;
        }
        let commit = tx.query_row("SELECT version, time_ms, source, author, summary, n_changes, entities_added, entities_updated, entities_removed, relations_added, relations_updated, relations_removed FROM changesets WHERE version = ?1", [version], Self::commit_row)?;
        tx.commit()?;
        Ok((commit, twin))
    }

    /// Writes a snapshot of the head now, so the next open is fast.
    pub fn snapshot(&mut self) -> Result<()> {
        let twin = self.twin_at(At::Head, None)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx
            .query_row(
                "SELECT 1 FROM snapshots WHERE version = ?1 AND format = ?2",
                params![twin.version() as i64, SNAPSHOT_FORMAT],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !exists {
            Self::write_snapshot(&tx, &twin)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Checks the database file's own integrity (`PRAGMA quick_check`).
    pub fn check_integrity(&self) -> Result<()> {
        let result: String = self.conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if result == "ok" { Ok(()) } else { Err(Error::Corrupt(result)) }
    }
}

/// A decoded snapshot chunk.
enum Part {
    Entities(Vec<Entity>),
    Relations(Vec<(u32, u32, RelSpec)>),
}

/// Maps `decode` over `items` on all cores, keeping the order of the results.
fn decode_parallel<T: Sync, R: Send>(items: &[T], decode: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(decode).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            items.chunks(per_thread).map(|part| scope.spawn(|| part.iter().map(&decode).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("decoding does not panic")).collect()
    })
}

fn count(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<usize> {
    Ok(row.get::<_, i64>(column)? as usize)
}

/// Formats milliseconds since the epoch as an RFC 3339 time in UTC.
pub fn format_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_else(|_| ms.to_string())
}

impl Store for SqliteStore {
    fn head(&self) -> Result<u64> {
        let head: i64 = self.conn.query_row("SELECT coalesce(max(version), 0) FROM changesets", [], |r| r.get(0))?;
        Ok(head as u64)
    }

    fn twin_at(&self, at: At, progress: Option<Progress<'_>>) -> Result<Twin> {
        let target = self.resolve(at)?;
        let snapshot: Option<i64> = self.conn.query_row(
            "SELECT max(version) FROM snapshots WHERE version <= ?1 AND format = ?2",
            params![target as i64, SNAPSHOT_FORMAT],
            |r| r.get(0),
        )?;
        let start = snapshot.unwrap_or(0) as u64;
        let total = target - start + 1;
        if let Some(report) = progress {
            report(0, total);
        }
        let mut twin = if start > 0 { self.load_snapshot(start)? } else { Twin::new() };
        if let Some(report) = progress {
            report(1, total);
        }
        for version in start + 1..=target {
            let changes = self.changeset(version)?;
            twin.apply(&changes).map_err(|e| Error::Corrupt(format!("replaying version {version}: {e}")))?;
            if twin.version() != version {
                return Err(Error::Corrupt(format!("replaying version {version} gave version {}", twin.version())));
            }
            if let Some(report) = progress {
                report(version - start + 1, total);
            }
        }
        Ok(twin)
    }

    fn commit(&mut self, base: Twin, changes: &ChangeSet) -> Result<(Commit, Twin)> {
        self.commit_at(base, changes, now_ms())
    }

    fn history(&self, limit: usize) -> Result<Vec<Commit>> {
        let mut statement = self.conn.prepare("SELECT version, time_ms, source, author, summary, n_changes, entities_added, entities_updated, entities_removed, relations_added, relations_updated, relations_removed FROM changesets ORDER BY version DESC LIMIT ?1")?;
        let rows = statement.query_map([limit as i64], Self::commit_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn changeset(&self, version: u64) -> Result<ChangeSet> {
        let (source, author, summary): (String, String, String) = self
            .conn
            .query_row("SELECT source, author, summary FROM changesets WHERE version = ?1", [version as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .ok_or_else(|| Error::NoSuchVersion(format!("version {version} does not exist")))?;
        let mut statement = self.conn.prepare("SELECT body FROM changeset_chunks WHERE version = ?1 ORDER BY chunk")?;
        let mut rows = statement.query([version as i64])?;
        let mut changes = Vec::new();
        while let Some(row) = rows.next()? {
            let body = row.get_ref(0)?.as_blob().map_err(|e| Error::Corrupt(e.to_string()))?;
            let chunk: Vec<doppel_model::Change> =
                serde_json::from_slice(body).map_err(|e| Error::Corrupt(format!("version {version}: {e}")))?;
            changes.extend(chunk);
        }
        Ok(ChangeSet { changes, provenance: Provenance { source, author, summary } })
    }

    fn append_samples(&mut self, samples: &[Sample]) -> Result<usize> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut find = tx.prepare_cached("SELECT id FROM series WHERE entity = ?1 AND attribute = ?2")?;
            let mut create = tx.prepare_cached("INSERT INTO series (entity, attribute) VALUES (?1, ?2)")?;
            let mut insert =
                tx.prepare_cached("INSERT OR REPLACE INTO samples (series, ts_ms, value) VALUES (?1, ?2, ?3)")?;
            let mut last: Option<(String, String, i64)> = None;
            for sample in samples {
                if !sample.value.is_finite() {
                    return Err(Error::Corrupt(format!(
                        "sample of {}.{} at {} is not a finite number",
                        sample.entity, sample.attribute, sample.ts_ms
                    )));
                }
                let entity = sample.entity.to_string();
                let id = match &last {
                    Some((e, a, id)) if *e == entity && *a == sample.attribute => *id,
                    _ => {
                        let id = match find.query_row(params![entity, sample.attribute], |r| r.get(0)).optional()? {
                            Some(id) => id,
                            None => {
                                create.execute(params![entity, sample.attribute])?;
                                tx.last_insert_rowid()
                            }
                        };
                        last = Some((entity, sample.attribute.clone(), id));
                        id
                    }
                };
                insert.execute(params![id, sample.ts_ms, sample.value])?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('samples_appended', '1')
             ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            [],
        )?;
        tx.commit()?;
        Ok(samples.len())
    }

    fn samples_appended(&self) -> Result<u64> {
        let value: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'samples_appended'", [], |r| r.get(0))
            .optional()?;
        match value {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| Error::Corrupt(format!("meta samples_appended is not a count: {v:?}"))),
        }
    }

    fn samples(&self, entity: &Key, attribute: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, f64)>> {
        let mut statement = self.conn.prepare(
            "SELECT s.ts_ms, s.value FROM samples s JOIN series r ON r.id = s.series
             WHERE r.entity = ?1 AND r.attribute = ?2 AND s.ts_ms BETWEEN ?3 AND ?4 ORDER BY s.ts_ms",
        )?;
        let rows = statement
            .query_map(params![entity.to_string(), attribute, from_ms, to_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn record_pull(&mut self, pull: &Pull<'_>) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut seen = tx.prepare_cached(
                "INSERT INTO freshness (key, source, last_seen_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key, source) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
            )?;
            for key in pull.seen {
                seen.execute(params![key.to_string(), pull.source, pull.time_ms])?;
            }
            let mut gone = tx.prepare_cached("DELETE FROM freshness WHERE key = ?1")?;
            for key in pull.gone {
                gone.execute(params![key.to_string()])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO source_records (source, system, position, time_ms, interval_ms, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![pull.source, pull.system, pull.position as i64, pull.time_ms, pull.interval_ms, pull.record],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn last_seen(&self, key: &Key) -> Result<Vec<Seen>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT source, last_seen_ms FROM freshness WHERE key = ?1 ORDER BY last_seen_ms DESC, source",
        )?;
        let rows = statement.query_map([key.to_string()], |r| {
            Ok(Seen { key: key.clone(), source: r.get(0)?, last_seen_ms: r.get(1)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn stale(&self, now_ms: i64, intervals: u32) -> Result<Vec<Seen>> {
        // An entity is stale when every source that saw it last did so more than
        // `intervals` of that source's intervals ago; its newest sighting is reported.
        let mut statement = self.conn.prepare(
            "SELECT f.key, f.source, max(f.last_seen_ms) FROM freshness f JOIN source_records r ON r.source = f.source
             GROUP BY f.key
             HAVING max(CASE WHEN f.last_seen_ms >= ?1 - ?2 * r.interval_ms THEN 1 ELSE 0 END) = 0
             ORDER BY f.key",
        )?;
        let mut stale = Vec::new();
        let mut rows = statement.query(params![now_ms, i64::from(intervals)])?;
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            let key = text.parse::<Key>().map_err(|e| Error::Corrupt(format!("freshness key `{text}`: {e}")))?;
            stale.push(Seen { key, source: row.get(1)?, last_seen_ms: row.get(2)? });
        }
        Ok(stale)
    }

    fn source_records(&self) -> Result<Vec<SourceRecord>> {
        let mut statement = self.conn.prepare(
            "SELECT source, system, position, time_ms, interval_ms, body FROM source_records ORDER BY position, source",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(SourceRecord {
                source: r.get(0)?,
                system: r.get(1)?,
                position: r.get::<_, i64>(2)? as usize,
                time_ms: r.get(3)?,
                interval_ms: r.get(4)?,
                record: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn series(&self) -> Result<Vec<SeriesInfo>> {
        let mut statement = self.conn.prepare(
            "SELECT r.entity, r.attribute, count(*), min(s.ts_ms), max(s.ts_ms) FROM series r JOIN samples s ON s.series = r.id
             GROUP BY r.id ORDER BY r.entity, r.attribute",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(SeriesInfo {
                entity: r.get(0)?,
                attribute: r.get(1)?,
                samples: r.get::<_, i64>(2)? as u64,
                first_ms: r.get(3)?,
                last_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
