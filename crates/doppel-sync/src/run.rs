//! The loop: one thread per source instance pulls on its interval (a cluster on its watch),
//! planning its ChangeSet (`Source::changes`) against the newest twin; the calling thread
//! owns the store and commits each plan, one per source per pull, then records the pull
//! (freshness, samples, the instance's record for drift).
//!
//! A plan made against a twin that another source changed meanwhile is made again on the
//! new twin (the store refuses a stale base), so commits never interleave. A source that
//! fails is reported and tried again at its next interval; the twin stays as it was.

use crate::config::{Instance, SourceSpec, SourcesFile};
use doppel_estate::SourceFile;
use doppel_kube::{KubeSource, WatchedKind};
use doppel_model::{Change, Key, Kind, Twin, TwinView};
use doppel_sources::drift::{Coverage, Record, Role};
use doppel_sources::otlp::{Otlp, OtlpConfig, Receivers};
use doppel_sources::prometheus::Bindings;
use doppel_sources::{Batch, Error, OWNER_LABEL, Observation, Source};
use doppel_store::{Commit, Pull, Store};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a watched cluster waits after one pull before the next, so a burst of changes
/// (a rollout) gives one commit rather than one per object.
const WATCH_SETTLE: Duration = Duration::from_secs(1);
/// How often waiting threads look at the stop flag.
const TICK: Duration = Duration::from_millis(100);
/// How many times a plan is made again after the twin moved under it, per pull.
const REPLANS: u32 = 5;

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Pulls per source before it stops; `None`: until stopped.
    pub rounds: Option<u32>,
    /// Set to stop: the commit under way finishes, then the run returns.
    pub stop: Arc<AtomicBool>,
    /// Who commits (the provenance's author).
    pub author: String,
}

/// What one pull of one source came to.
#[derive(Debug)]
pub enum Outcome {
    /// A ChangeSet was committed.
    Committed(Commit),
    /// The twin already held what the source saw.
    Unchanged {
        /// The twin's version.
        version: u64,
    },
    /// The source failed; nothing was stored.
    Failed {
        /// Why (names the source, the object and the place).
        error: Error,
        /// When it is tried again; `None` when it has run its rounds.
        retry_in: Option<Duration>,
    },
}

/// One finished pull.
#[derive(Debug)]
pub struct Pulled {
    /// The source instance.
    pub source: String,
    /// Its section (`kubernetes_cluster`).
    pub section: &'static str,
    /// Its pull count, from 1.
    pub round: u32,
    /// What came of it.
    pub outcome: Outcome,
    /// Entities it saw.
    pub seen: usize,
    /// Relations it saw.
    pub relations: usize,
    /// Samples it stored.
    pub samples: usize,
    /// Warnings of the pull.
    pub warnings: usize,
    /// How long the pull and its commit took.
    pub took: Duration,
}

/// What a sync reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// The run starts with these sources, on the twin at this version.
    Started {
        /// The instances, in file order.
        instances: &'a [Instance],
        /// The twin's version.
        version: u64,
    },
    /// A pull finished.
    Pulled(&'a Pulled),
    /// A stop was asked for; the run ends now (no commit is under way).
    Stopping,
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Pulls finished (successful or not).
    pub pulls: u32,
    /// ChangeSets committed.
    pub commits: u32,
    /// Failed pulls.
    pub failures: u32,
    /// Sources that failed at least once, in file order.
    pub failed_sources: Vec<String>,
    /// The twin's version at the end.
    pub version: u64,
    /// Whether it was stopped before every source ran its rounds.
    pub stopped: bool,
}

/// Why a run could not go on: the store failed (a source's failure never ends a run).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store refused to read or write.
    #[error(transparent)]
    Store(#[from] doppel_store::Error),
    /// A record could not be encoded.
    #[error("cannot encode the record of source `{0}`: {1}")]
    Encode(String, String),
}

enum ToMain {
    Pulled { index: usize, base: u64, result: Box<Result<Batch, Error>>, started: Instant, reply: mpsc::Sender<Reply> },
    Finished,
}

enum Reply {
    Done,
    Again,
    Stop,
}

/// Runs the sources of `file` against `store`, starting from `twin` (its head), until each
/// ran its rounds or `options.stop` is set. Events go to `on_event` on the calling thread.
pub fn run<S: Store>(
    file: &SourcesFile,
    store: &mut S,
    twin: Twin,
    options: &Options,
    on_event: &mut dyn FnMut(&Event<'_>),
) -> Result<Summary, RunError> {
    let head = Arc::new(Mutex::new(Arc::new(twin)));
    let version = |head: &Mutex<Arc<Twin>>| lock(head).version();
    on_event(&Event::Started { instances: &file.instances, version: version(&head) });
    let (send, receive) = mpsc::channel::<ToMain>();
    for (index, instance) in file.instances.iter().enumerate() {
        let worker = Worker {
            index,
            puller: Puller { instance: instance.clone(), cluster: None, traces: None, drained: None },
            head: head.clone(),
            send: send.clone(),
            stop: options.stop.clone(),
            rounds: options.rounds,
        };
        let name = format!("sync-{}", instance.name());
        std::thread::Builder::new()
            .name(name)
            .spawn(move || worker.run())
            .map_err(|e| RunError::Store(doppel_store::Error::Corrupt(format!("cannot start a thread: {e}"))))?;
    }
    drop(send);
    let mut summary = Summary::default();
    let mut rounds = vec![0u32; file.instances.len()];
    let mut active = file.instances.len();
    while active > 0 {
        if options.stop.load(Ordering::SeqCst) {
            summary.stopped = true;
            on_event(&Event::Stopping);
            break;
        }
        let message = match receive.recv_timeout(TICK) {
            Ok(message) => message,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let (index, base, result, started, reply) = match message {
            ToMain::Finished => {
                active -= 1;
                continue;
            }
            ToMain::Pulled { index, base, result, started, reply } => (index, base, result, started, reply),
        };
        if options.stop.load(Ordering::SeqCst) {
            let _ = reply.send(Reply::Stop);
            continue;
        }
        let instance = &file.instances[index];
        let mut batch = match *result {
            Ok(batch) => batch,
            Err(error) => {
                rounds[index] += 1;
                let more = options.rounds.is_none_or(|n| rounds[index] < n);
                let pulled = Pulled {
                    source: instance.name().to_string(),
                    section: instance.spec.section(),
                    round: rounds[index],
                    outcome: Outcome::Failed { error, retry_in: more.then_some(instance.interval) },
                    seen: 0,
                    relations: 0,
                    samples: 0,
                    warnings: 0,
                    took: started.elapsed(),
                };
                summary.pulls += 1;
                summary.failures += 1;
                if !summary.failed_sources.iter().any(|s| s == instance.name()) {
                    summary.failed_sources.push(instance.name().to_string());
                }
                on_event(&Event::Pulled(&pulled));
                let _ = reply.send(Reply::Done);
                continue;
            }
        };
        batch.changeset.provenance.author = options.author.clone();
        let mut current = lock(&head);
        if current.version() != base && !batch.changeset.is_empty() {
            drop(current);
            let _ = reply.send(Reply::Again);
            continue;
        }
        take_over(&mut batch, &current, index, &file.instances);
        let outcome = if batch.changeset.is_empty() {
            Outcome::Unchanged { version: current.version() }
        } else {
            let base_twin = Arc::unwrap_or_clone(std::mem::replace(&mut *current, Arc::new(Twin::new())));
            match store.commit(base_twin, &batch.changeset) {
                Ok((commit, after)) => {
                    *current = Arc::new(after);
                    Outcome::Committed(commit)
                }
                Err(error) => {
                    // The base was consumed: read the head again, whatever happened.
                    *current = Arc::new(store.twin_at(doppel_store::At::Head, None)?);
                    match error {
                        doppel_store::Error::Conflict { .. } => {
                            drop(current);
                            let _ = reply.send(Reply::Again);
                            continue;
                        }
                        doppel_store::Error::Refused(errors) => Outcome::Failed {
                            error: Error::Refused {
                                source_name: instance.name().to_string(),
                                object: errors.0.first().map(|e| e.subject.clone()).unwrap_or_default(),
                                place: None,
                                message: errors.to_string().trim_end().to_string(),
                            },
                            retry_in: Some(instance.interval),
                        },
                        other => return Err(other.into()),
                    }
                }
            }
        };
        drop(current);
        rounds[index] += 1;
        let samples = if matches!(outcome, Outcome::Failed { .. }) {
            0
        } else {
            record(store, instance, index, &batch, &outcome)?
        };
        let pulled = Pulled {
            source: instance.name().to_string(),
            section: instance.spec.section(),
            round: rounds[index],
            seen: batch.view.entities.len(),
            relations: batch.view.relations.len(),
            samples,
            warnings: batch.warnings.len(),
            took: started.elapsed(),
            outcome,
        };
        summary.pulls += 1;
        match &pulled.outcome {
            Outcome::Committed(_) => summary.commits += 1,
            Outcome::Failed { .. } => {
                summary.failures += 1;
                if !summary.failed_sources.iter().any(|s| s == instance.name()) {
                    summary.failed_sources.push(instance.name().to_string());
                }
            }
            Outcome::Unchanged { .. } => {}
        }
        on_event(&Event::Pulled(&pulled));
        let _ = reply.send(Reply::Done);
    }
    if !summary.stopped && options.stop.load(Ordering::SeqCst) {
        // Every worker saw the stop before this thread did.
        summary.stopped = true;
        on_event(&Event::Stopping);
    }
    summary.failed_sources.sort_by_key(|name| file.instances.iter().position(|i| i.name() == name));
    summary.version = version(&head);
    Ok(summary)
}

/// Lets the source at `index` take over the entities it saw that a source listed after it
/// in the file holds (that one committed first): the first listed owns a key. Entities of
/// estate files (no owner) and of instances not in the file stay as they are.
fn take_over(batch: &mut Batch, twin: &Twin, index: usize, instances: &[Instance]) {
    let later: Vec<&str> = instances[index + 1..].iter().map(Instance::name).collect();
    for entity in &batch.view.entities {
        let owner = twin.entity(&entity.key).and_then(|old| old.labels.get(OWNER_LABEL));
        if owner.is_some_and(|owner| later.contains(&owner)) {
            batch.changeset.changes.push(Change::UpdateEntity(entity.clone()));
        }
    }
}

/// Stores what a successful pull leaves besides its commit: samples, freshness, the record.
fn record<S: Store>(
    store: &mut S,
    instance: &Instance,
    index: usize,
    batch: &Batch,
    outcome: &Outcome,
) -> Result<usize, RunError> {
    let samples = crate::store_samples(&batch.samples);
    let stored = if samples.is_empty() { 0 } else { store.append_samples(&samples)? };
    let time_ms = match outcome {
        Outcome::Committed(commit) => commit.time_ms,
        _ => jiff::Timestamp::now().as_millisecond(),
    };
    let seen: Vec<Key> = batch.view.entities.iter().map(|e| e.key.clone()).collect();
    let gone: Vec<Key> = match outcome {
        Outcome::Committed(_) => batch
            .changeset
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::RemoveEntity(key) if !seen.contains(key) => Some(key.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let record = Record {
        system: batch.changeset.provenance.source.clone(),
        role: instance.role,
        coverage: coverage(instance),
        view: batch.view.clone(),
    };
    let body = serde_json::to_vec(&record).map_err(|e| RunError::Encode(instance.name().into(), e.to_string()))?;
    let system = record.system.as_str();
    store.record_pull(&Pull {
        source: instance.name(),
        system,
        position: index,
        time_ms,
        interval_ms: instance.interval.as_millis().min(i64::MAX as u128) as i64,
        seen: &seen,
        gone: &gone,
        record: &body,
    })?;
    Ok(stored)
}

/// What an instance's complete listing vouches for, for drift.
pub fn coverage(instance: &Instance) -> Coverage {
    match (&instance.spec, instance.role) {
        (SourceSpec::Cluster(config), _) => Coverage {
            kinds: WatchedKind::ALL
                .iter()
                .filter(|k| !config.exclude.contains(k))
                .filter_map(|k| doppel_sources::kubernetes::model_kind(k.name()))
                .collect(),
            namespaces: config.namespaces.clone(),
        },
        (_, Role::Declared) | (SourceSpec::Prometheus { .. }, _) => Coverage::default(),
        (SourceSpec::Manifests { .. }, Role::Observed) => Coverage {
            kinds: Kind::ALL.iter().copied().filter(|k| k.family() == doppel_model::Family::Kubernetes).collect(),
            namespaces: Vec::new(),
        },
        (_, Role::Observed) => Coverage { kinds: Kind::ALL.to_vec(), namespaces: Vec::new() },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One source instance's thread.
struct Worker {
    index: usize,
    puller: Puller,
    head: Arc<Mutex<Arc<Twin>>>,
    send: mpsc::Sender<ToMain>,
    stop: Arc<AtomicBool>,
    rounds: Option<u32>,
}

impl Worker {
    fn run(mut self) {
        let interval = self.puller.instance.interval;
        let mut done = 0u32;
        let mut last: Option<Instant> = None;
        while self.rounds.is_none_or(|n| done < n) && !self.stopped() {
            if let Some(last) = last
                && !self.wait(last, interval)
            {
                break;
            }
            let started = Instant::now();
            last = Some(started);
            if !self.pull(started) {
                break;
            }
            done += 1;
        }
        let _ = self.send.send(ToMain::Finished);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Waits until the next pull is due: `interval` after the last, or, for a watched
    /// cluster, a change seen at least [`WATCH_SETTLE`] after it. False when stopped.
    fn wait(&mut self, last: Instant, interval: Duration) -> bool {
        loop {
            if self.stopped() {
                return false;
            }
            let since = last.elapsed();
            if since >= interval {
                return true;
            }
            let step = (interval - since).min(TICK);
            if since >= WATCH_SETTLE && self.puller.watching() {
                if self.puller.wait_for_change(step) {
                    return true;
                }
            } else {
                std::thread::sleep(step);
            }
        }
    }

    /// One pull, planned again while the twin moves under it. False when the run ended.
    fn pull(&mut self, started: Instant) -> bool {
        for attempt in 0..=REPLANS {
            let twin = lock(&self.head).clone();
            let base = twin.version();
            let result = Box::new(self.puller.changes(&twin, attempt > 0));
            drop(twin);
            let (reply, answer) = mpsc::channel();
            let message = ToMain::Pulled { index: self.index, base, result, started, reply };
            if self.send.send(message).is_err() {
                return false;
            }
            match answer.recv() {
                Ok(Reply::Done) => return true,
                Ok(Reply::Again) => continue,
                Ok(Reply::Stop) | Err(_) => return false,
            }
        }
        true
    }
}

/// Builds and pulls one source instance. File sources read their files at every pull (so
/// edits are picked up); the cluster source is built once and keeps its watches.
struct Puller {
    instance: Instance,
    cluster: Option<KubeSource>,
    /// The traces source and its receivers, started at the first pull and kept.
    traces: Option<(Otlp, Receivers)>,
    /// What the traces source's last pull drained, planned again if the twin moved.
    drained: Option<Observation>,
}

impl Puller {
    fn name(&self) -> String {
        self.instance.name().to_string()
    }

    /// Whether a change can wake the source before its interval (a watched cluster).
    fn watching(&self) -> bool {
        self.cluster.is_some()
    }

    fn wait_for_change(&mut self, timeout: Duration) -> bool {
        match &mut self.cluster {
            Some(cluster) => cluster.wait_for_change(timeout).unwrap_or(false),
            None => {
                std::thread::sleep(timeout);
                false
            }
        }
    }

    /// Plans a pull against `twin`; `again` when the previous plan of this pull met a twin
    /// that had moved (a push source then plans what it drained, not an empty drain).
    fn changes(&mut self, twin: &Twin, again: bool) -> Result<Batch, Error> {
        let name = self.name();
        match &self.instance.spec {
            SourceSpec::Estate { config, paths } => config.clone().build(read_inputs(&name, paths)?).changes(twin),
            SourceSpec::Manifests { config, paths } => config.clone().build(read_inputs(&name, paths)?).changes(twin),
            SourceSpec::Terraform { config, files } => config.clone().build(read_inputs(&name, files)?).changes(twin),
            SourceSpec::Prometheus { config, bindings } => {
                let text = read_file(&name, bindings)?;
                let parsed = Bindings::parse(&bindings.display().to_string(), &text, &name)?;
                let mut config = config.clone();
                if config.url.is_empty() {
                    config.url = parsed.url.clone().ok_or_else(|| Error::Unreadable {
                        source_name: name.clone(),
                        what: "the Prometheus URL".into(),
                        message: format!("give `url` in its section or in {}", bindings.display()),
                    })?;
                }
                config.build(parsed).changes(twin)
            }
            SourceSpec::Cluster(config) => {
                let cluster = match self.cluster.take() {
                    Some(cluster) => cluster,
                    None => config.clone().build()?,
                };
                self.cluster.insert(cluster).changes(twin)
            }
            SourceSpec::Otlp(config) => {
                let (source, _) = match self.traces.take() {
                    Some(running) => self.traces.insert(running),
                    None => self.traces.insert(start_traces(&name, config)?),
                };
                let observation = match self.drained.take() {
                    Some(drained) if again => drained,
                    _ => source.pull()?,
                };
                self.drained = Some(observation.clone());
                source.plan(observation, twin)
            }
        }
    }
}

/// The traces source with its receivers listening (the addresses are printed on stderr, so
/// a port 0 can be found).
fn start_traces(name: &str, config: &OtlpConfig) -> Result<(Otlp, Receivers), Error> {
    let unreadable =
        |what: String, e: std::io::Error| Error::Unreadable { source_name: name.into(), what, message: e.to_string() };
    let bind = |address: &Option<String>| {
        address
            .as_deref()
            .map(|a| std::net::TcpListener::bind(a).map_err(|e| unreadable(format!("the address {a}"), e)))
            .transpose()
    };
    let (http, grpc) = (bind(&config.http)?, bind(&config.grpc)?);
    let limits = config.body_limits();
    let source = config.clone().build();
    let receivers = Receivers::start(name, source.traces(), limits, http, grpc)
        .map_err(|e| unreadable("the OTLP receivers".into(), e))?;
    if let Some(address) = receivers.http_addr() {
        eprintln!("{name}: listening for OTLP/HTTP on http://{address}/v1/traces");
    }
    if let Some(address) = receivers.grpc_addr() {
        eprintln!("{name}: listening for OTLP/gRPC on {address}");
    }
    Ok((source, receivers))
}

fn read_file(source: &str, path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Unreadable {
        source_name: source.into(),
        what: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Reads files and directories (recursively: `.yaml`, `.yml`, `.json`), sorted.
fn read_inputs(source: &str, paths: &[PathBuf]) -> Result<Vec<SourceFile>, Error> {
    let mut listed = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = listed.len();
            walk(source, path, &mut listed)?;
            if listed.len() == before {
                return Err(Error::Unreadable {
                    source_name: source.into(),
                    what: path.display().to_string(),
                    message: "the directory holds no .yaml, .yml or .json file".into(),
                });
            }
        } else {
            listed.push(path.clone());
        }
    }
    listed
        .into_iter()
        .map(|path| Ok(SourceFile { path: path.display().to_string(), text: read_file(source, &path)? }))
        .collect()
}

fn walk(source: &str, dir: &Path, listed: &mut Vec<PathBuf>) -> Result<(), Error> {
    let unreadable = |e: std::io::Error| Error::Unreadable {
        source_name: source.into(),
        what: dir.display().to_string(),
        message: e.to_string(),
    };
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(unreadable)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(source, &entry, listed)?;
        } else if matches!(entry.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            listed.push(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_model::{ChangeSet, Entity, Labels};

    fn instance(name: &str) -> Instance {
        let config = doppel_sources::estate::EstateConfig { name: name.into(), prune: false };
        Instance {
            spec: SourceSpec::Estate { config, paths: Vec::new() },
            interval: Duration::from_secs(1),
            role: Role::Declared,
            line: 1,
        }
    }

    fn owned(key: &str, owner: &str) -> Entity {
        Entity::new(key.parse().unwrap()).labelled(Labels::from_pairs([(OWNER_LABEL, owner)]))
    }

    #[test]
    fn the_first_listed_source_takes_over_what_a_later_one_committed_first() {
        let instances = [instance("first"), instance("second")];
        let mut twin = Twin::new();
        let mut setup = vec![Change::AddEntity(owned("service/a", "second"))];
        setup.push(Change::AddEntity(Entity::new("service/b".parse().unwrap())));
        twin.apply(&ChangeSet::of(setup)).unwrap();
        let seen = vec![owned("service/a", "first"), owned("service/b", "first")];
        let mut batch =
            Batch { view: doppel_sources::View { entities: seen, ..Default::default() }, ..Default::default() };
        take_over(&mut batch, &twin, 0, &instances);
        assert_eq!(
            batch.changeset.changes,
            vec![Change::UpdateEntity(owned("service/a", "first"))],
            "estate files keep b"
        );
        let mut later = Batch { view: batch.view.clone(), ..Default::default() };
        take_over(&mut later, &twin, 1, &instances);
        assert!(later.changeset.changes.is_empty(), "a later source never takes over");
    }
}
