//! The server's state: the live twin, the store, tokens, scopes, events, jobs, audit.

use crate::audit::Audit;
use crate::auth::Tokens;
use crate::error::ApiError;
use crate::jobs::Jobs;
use crate::rate::RateLimiter;
use crate::scope::Scopes;
use doppel_model::{Change, Key, Twin, TwinView};
use doppel_store::{At, SqliteStore, Store};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;

/// Something a live-update stream tells its listeners.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The twin changed: its new version and the entities touched.
    Twin {
        /// The new version.
        version: u64,
        /// Keys of entities changed (relations count for both ends).
        changed: Vec<Key>,
    },
    /// A job moved on.
    Job {
        /// The job.
        id: u64,
        /// The token that started it (only it, and admins, hear of it).
        #[serde(skip)]
        owner: String,
        /// `running`, `done`, `failed`, `cancelled`.
        state: &'static str,
        /// Steps done.
        done: u64,
        /// Steps in all (0 when unknown).
        total: u64,
        /// What it is doing.
        stage: String,
    },
    /// A risk the predictions found after the twin changed.
    Risk {
        /// The risk, as `/predictions` reports it.
        risk: serde_json::Value,
    },
}

impl Event {
    /// The name of the event in a server-sent-events stream.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Twin { .. } => "twin",
            Event::Job { .. } => "job",
            Event::Risk { .. } => "risk",
        }
    }
}

/// Limits a server enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Requests a second per token (0: no limit).
    pub rate_per_s: f64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_body: 1 << 20, rate_per_s: 200.0 }
    }
}

/// Everything a request handler reads.
pub struct Live {
    /// The store's file.
    pub store_path: PathBuf,
    twin: RwLock<Arc<Twin>>,
    pool: Mutex<Vec<SqliteStore>>,
    /// Tokens.
    pub tokens: Tokens,
    /// Keys in scope per scope.
    pub scopes: Scopes,
    /// Live updates.
    pub events: broadcast::Sender<Event>,
    /// Long analyses.
    pub jobs: Jobs,
    /// Who did what.
    pub audit: Audit,
    /// Requests per token.
    pub rate: RateLimiter,
    /// The limits.
    pub limits: Limits,
    /// Whether requests need no token (loopback only).
    pub open: bool,
    /// Serialises commits made through the server.
    committing: Mutex<()>,
    /// The store's series and their extents, read at most every few seconds.
    series: Mutex<Option<(std::time::Instant, Arc<Vec<doppel_store::SeriesInfo>>)>>,
    /// What current telemetry says of entities, as the watcher last read it.
    signals: RwLock<Arc<crate::health::Signals>>,
}

impl Live {
    /// Opens the store at `path` (it must exist) and reads its newest twin.
    pub fn open(path: &Path, limits: Limits, open: bool) -> Result<Live, ApiError> {
        let store = SqliteStore::open_existing(path)?;
        let twin = store.twin_at(At::Head, None)?;
        let (events, _) = broadcast::channel(1024);
        Ok(Live {
            store_path: path.to_path_buf(),
            twin: RwLock::new(Arc::new(twin)),
            pool: Mutex::new(vec![store]),
            tokens: Tokens::open(path)?,
            scopes: Scopes::default(),
            events,
            jobs: Jobs::default(),
            audit: Audit::open(path)?,
            rate: RateLimiter::new(limits.rate_per_s, 2.0 * limits.rate_per_s),
            limits,
            open,
            committing: Mutex::new(()),
            series: Mutex::new(None),
            signals: RwLock::new(Arc::default()),
        })
    }

    /// What current telemetry says of entities (empty until the watcher's first look).
    pub fn signals(&self) -> Arc<crate::health::Signals> {
        self.signals.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the telemetry signals at `now_ms` again. Call it on a blocking thread.
    pub fn refresh_signals(&self, now_ms: i64) -> Result<(), ApiError> {
        let twin = self.twin();
        let found = self.with_store(|store| {
            crate::health::signals(store, twin.as_ref(), now_ms).map_err(ApiError::unprocessable)
        })?;
        *self.signals.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(found);
        Ok(())
    }

    /// The twin as it is now.
    pub fn twin(&self) -> Arc<Twin> {
        self.twin.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs `f` with a store connection from the pool (call it on a blocking thread).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut SqliteStore) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let taken = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut store = match taken {
            Some(store) => store,
            None => SqliteStore::open_existing(&self.store_path)?,
        };
        let answer = f(&mut store);
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 8 {
            pool.push(store);
        }
        answer
    }

    /// Brings the twin up to the store's head (commits from this server or any other
    /// process) and tells listeners what changed. Call it on a blocking thread.
    pub fn refresh(&self) -> Result<(), ApiError> {
        let current = self.twin();
        let (twin, changed) = self.with_store(|store| {
            let head = store.head()?;
            if head == current.version() {
                return Ok((None, Vec::new()));
            }
            let mut changed = Vec::new();
            if head > current.version() && head - current.version() <= 1_000 {
                for v in current.version() + 1..=head {
                    changed.extend(touched(&store.changeset(v)?));
                }
            }
            changed.sort();
            changed.dedup();
            Ok((Some(store.twin_at(At::Version(head), None)?), changed))
        })?;
        if let Some(twin) = twin {
            let version = twin.version();
            *self.twin.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(twin);
            // Nobody listening is not an error.
            let _ = self.events.send(Event::Twin { version, changed });
        }
        Ok(())
    }

    /// The store's series (entity, attribute, extent), at most five seconds old: reading
    /// them counts every sample, too slow to do for each request.
    pub fn series(&self) -> Result<Arc<Vec<doppel_store::SeriesInfo>>, ApiError> {
        let mut cached = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, list)) = cached.as_ref()
            && at.elapsed() < std::time::Duration::from_secs(5)
        {
            return Ok(list.clone());
        }
        let list = Arc::new(self.with_store(|store| Ok(store.series()?))?);
        *cached = Some((std::time::Instant::now(), list.clone()));
        Ok(list)
    }

    /// Commits `changes` to the store on top of the newest twin, makes the result the
    /// live twin and tells listeners. Call it on a blocking thread.
    pub fn commit(&self, changes: &doppel_model::ChangeSet) -> Result<doppel_store::Commit, ApiError> {
        let _one_at_a_time = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh()?;
        let base = (*self.twin()).clone();
        let (commit, after) = self.with_store(|store| match store.commit(base, changes) {
            Ok(done) => Ok(done),
            Err(doppel_store::Error::Refused(errors)) => Err(ApiError::unprocessable(format!(
                "the twin refuses the changes: {}",
                errors.0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
            ))),
            Err(e) => Err(e.into()),
        })?;
        let mut changed = touched(changes);
        changed.sort();
        changed.dedup();
        *self.twin.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(after);
        let _ = self.events.send(Event::Twin { version: commit.version, changed });
        Ok(commit)
    }
}

/// The entities a ChangeSet touches (both ends of relations).
pub fn touched(changes: &doppel_model::ChangeSet) -> Vec<Key> {
    let mut keys = Vec::new();
    for change in &changes.changes {
        match change {
            Change::AddEntity(e) | Change::UpdateEntity(e) => keys.push(e.key.clone()),
            Change::RemoveEntity(k) => keys.push(k.clone()),
            Change::AddRelation(r) | Change::UpdateRelation(r) => keys.extend([r.from.clone(), r.to.clone()]),
            Change::RemoveRelation(k) => keys.extend([k.from.clone(), k.to.clone()]),
        }
    }
    keys
}
