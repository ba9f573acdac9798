//! The live Kubernetes source: a cluster's objects, listed and then watched with kube-rs,
//! mapped onto the twin by `doppel_sources::kubernetes` (the same mapping as manifests).
//!
//! [`KubeSource`] implements [`doppel_sources::Source`] with `system()` = `kubernetes`. It
//! owns a tokio runtime (one worker thread) on which one `kube::runtime::watcher` per kind
//! (and per namespace, when namespaces are configured) keeps a mirror of the cluster:
//! objects by (kind, namespace, name), already mapped. A list (the first, or a relist after
//! `410 Gone`) replaces its kind's objects only once complete; a dropped watch resumes from
//! the last resourceVersion seen. [`Source::pull`] blocks until every kind has been listed
//! once, then maps the mirror into one complete [`Observation`]; later pulls read the
//! mirror as it is (no request to the server).
//!
//! For a continuous loop: [`KubeSource::start`] starts the watchers, [`KubeSource::changed`]
//! and [`KubeSource::wait_for_change`] tell whether a pull would see something new, and
//! [`KubeSource::status`] tells each watcher's state (lists done, resourceVersion, last
//! failure). Nothing here may be called from inside an async task (it blocks its thread):
//! use `spawn_blocking`.
//!
//! Secrets are watched through the metadata API only, so their data never reaches this
//! process; ConfigMaps are read whole by the API but only their names and keys are kept.

mod kinds;
mod mirror;
mod watch;

pub use kinds::WatchedKind;
pub use watch::Retry;

use doppel_sources::kubernetes::{MappedObject, observe};
use doppel_sources::{Error, Observation, Result, Source, Warning, WarningKind};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `kubernetes_cluster` section of a sources file: which cluster to watch and how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubeConfig {
    /// The source instance's name: what its entities are labelled with (`kubernetes`).
    pub name: String,
    /// The kubeconfig file; default: `$KUBECONFIG`, then `~/.kube/config`, then the
    /// in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; default: its current context.
    pub context: Option<String>,
    /// The API server's URL, used as it is without a kubeconfig and without credentials
    /// (`kubectl proxy`, tests); overrides `kubeconfig` and `context`.
    pub url: Option<String>,
    /// Only these namespaces (their namespaced objects and Namespace objects); empty: all.
    /// Cluster-scoped kinds (nodes, cluster roles and bindings) are watched either way.
    pub namespaces: Vec<String>,
    /// Kinds not to watch (`[Secret, Node]`), for credentials that may not list them.
    pub exclude: Vec<WatchedKind>,
    /// How long a pull waits for every kind's first list, in seconds.
    pub timeout_s: u64,
}

impl Default for KubeConfig {
    fn default() -> KubeConfig {
        KubeConfig {
            name: "kubernetes".into(),
            kubeconfig: None,
            context: None,
            url: None,
            namespaces: Vec::new(),
            exclude: Vec::new(),
            timeout_s: 60,
        }
    }
}

impl KubeConfig {
    /// The source, with its cluster connection set up (the kubeconfig read) but nothing
    /// asked of the server yet. A kubeconfig that cannot be read or names no usable
    /// cluster is an error naming the source.
    pub fn build(self) -> Result<KubeSource> {
        let unreadable =
            |what: String, message: String| Error::Unreadable { source_name: self.name.clone(), what, message };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("doppel-kube")
            .enable_all()
            .build()
            .map_err(|e| unreadable("the cluster".into(), format!("cannot start the watchers' runtime: {e}")))?;
        let stopped = || unreadable("the kubeconfig".into(), "the watchers' runtime stopped".into());
        let cluster = match (&self.url, &self.kubeconfig) {
            (Some(url), _) => {
                let uri = url.parse::<http::Uri>().map_err(|e| {
                    unreadable(format!("the API server URL `{url}`"), format!("{e}; expected http(s)://host:port"))
                })?;
                kube::Config::new(uri)
            }
            (None, Some(path)) => {
                let what = format!("the kubeconfig {}", path.display());
                let file =
                    kube::config::Kubeconfig::read_from(path).map_err(|e| unreadable(what.clone(), chain(&e)))?;
                let options = self.options();
                on_runtime(&runtime, async move { kube::Config::from_custom_kubeconfig(file, &options).await })
                    .ok_or_else(stopped)?
                    .map_err(|e| unreadable(what, chain(&e)))?
            }
            (None, None) if self.context.is_some() => {
                let options = self.options();
                on_runtime(&runtime, async move { kube::Config::from_kubeconfig(&options).await })
                    .ok_or_else(stopped)?
                    .map_err(|e| unreadable("the kubeconfig".into(), chain(&e)))?
            }
            (None, None) => on_runtime(&runtime, kube::Config::infer())
                .ok_or_else(stopped)?
                .map_err(|e| unreadable("the kubeconfig or in-cluster configuration".into(), chain(&e)))?,
        };
        Ok(KubeSource::new(self, cluster, runtime))
    }

    fn options(&self) -> kube::config::KubeConfigOptions {
        kube::config::KubeConfigOptions { context: self.context.clone(), ..Default::default() }
    }
}

/// Runs `future` on `runtime` and waits for it, from any thread (even inside another
/// runtime); `None` if the runtime dropped it.
fn on_runtime<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (send, receive) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = send.send(future.await);
    });
    receive.recv().ok()
}

/// An error and its causes, in one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
}

/// The live Kubernetes source over one cluster (see the crate's documentation).
pub struct KubeSource {
    config: KubeConfig,
    cluster: kube::Config,
    url: String,
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<watch::Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    retry: Retry,
    pulled: Option<u64>,
}

/// One watcher's state, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct KindStatus {
    /// The kind.
    pub kind: WatchedKind,
    /// The namespace watched, or `None` for all.
    pub namespace: Option<String>,
    /// Whether a complete list has been received.
    pub synced: bool,
    /// Whether the server lacks the kind (404 on list).
    pub absent: bool,
    /// Objects held.
    pub objects: usize,
    /// Complete lists received: 1 after the first, one more per relist.
    pub lists: u32,
    /// The resourceVersion of the newest object seen.
    pub resource_version: Option<String>,
    /// The last failure since something was last received, in words.
    pub failure: Option<String>,
}

impl KubeSource {
    fn new(config: KubeConfig, cluster: kube::Config, runtime: tokio::runtime::Runtime) -> KubeSource {
        let url = cluster.cluster_url.to_string().trim_end_matches('/').to_string();
        KubeSource {
            config,
            cluster,
            url,
            runtime: Some(runtime),
            shared: Arc::new(watch::Shared::default()),
            tasks: Vec::new(),
            retry: Retry::default(),
            pulled: None,
        }
    }

    /// The API server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sets the delays between retries after a failure (before [`KubeSource::start`]).
    pub fn with_retry(mut self, retry: Retry) -> KubeSource {
        self.retry = retry;
        self
    }

    /// Starts the watchers, if not started yet: one per kind not excluded, per configured
    /// namespace for namespaced kinds. Returns at once; lists and watches go on in the
    /// background until the source is dropped.
    pub fn start(&mut self) -> Result<()> {
        if !self.tasks.is_empty() {
            return Ok(());
        }
        let Some(runtime) = &self.runtime else { return Ok(()) };
        let cluster = self.cluster.clone();
        let client = {
            let _entered = runtime.enter();
            kube::Client::try_from(cluster).map_err(|e| Error::Unreadable {
                source_name: self.config.name.clone(),
                what: format!("the cluster {}", self.url),
                message: chain(&e),
            })?
        };
        let mut streams = Vec::new();
        for kind in WatchedKind::ALL.into_iter().filter(|k| !self.config.exclude.contains(k)) {
            if kind.namespaced() && !self.config.namespaces.is_empty() {
                streams.extend(self.config.namespaces.iter().map(|ns| (kind, Some(ns.clone()))));
            } else {
                streams.push((kind, None));
            }
        }
        self.shared.lock().streams = streams.iter().map(|(kind, ns)| mirror::Stream::new(*kind, ns.clone())).collect();
        for (index, (kind, namespace)) in streams.into_iter().enumerate() {
            let watch = watch::Watch {
                index,
                kind,
                namespace,
                only_namespaces: self.config.namespaces.clone(),
                url: self.url.clone(),
                source_name: self.config.name.clone(),
                retry: self.retry,
            };
            self.tasks.push(runtime.spawn(watch::run(self.shared.clone(), client.clone(), watch)));
        }
        Ok(())
    }

    /// Waits until every kind has been listed once, a kind failed before its first list
    /// (an error naming the source, the kind and the server's answer), or `timeout` passed
    /// (an error naming the kinds still waited for). Starts the watchers if needed.
    pub fn wait_synced(&mut self, timeout: Duration) -> Result<()> {
        self.start()?;
        let deadline = Instant::now() + timeout;
        let mut mirror = self.shared.lock();
        loop {
            let mut waiting = None;
            for stream in &mirror.streams {
                if stream.phase != mirror::Phase::Listing {
                    continue;
                }
                if let Some(failure) = &stream.failure {
                    return Err(self.query_error(stream, failure.message.clone(), failure.code));
                }
                waiting = waiting.or(Some(stream));
            }
            let Some(stream) = waiting else { return Ok(()) };
            let now = Instant::now();
            if now >= deadline {
                let message = format!("no complete list within {} s", timeout.as_secs_f64());
                return Err(self.query_error(stream, message, None));
            }
            mirror = self.shared.signal.wait_timeout(mirror, deadline - now).map(|(m, _)| m).unwrap_or_else(|p| {
                let (m, _) = p.into_inner();
                m
            });
        }
    }

    fn query_error(&self, stream: &mirror::Stream, message: String, code: Option<u16>) -> Error {
        let resource = stream.kind.api_resource();
        let scope = match &stream.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None if stream.kind.namespaced() => "in all namespaces".into(),
            None => "cluster-wide".into(),
        };
        Error::Query {
            source_name: self.config.name.clone(),
            url: self.url.clone(),
            query: format!("list {} ({}) {scope}", stream.kind, resource.api_version),
            message,
            retryable: !matches!(code, Some(400 | 401 | 403 | 422)),
        }
    }

    /// Whether what a pull would see changed since the last pull (true before the first).
    pub fn changed(&self) -> bool {
        self.pulled != Some(self.shared.lock().generation)
    }

    /// Waits until what a pull would see differs from the last pull, or `timeout` passes;
    /// returns whether it changed. Starts the watchers if needed.
    pub fn wait_for_change(&mut self, timeout: Duration) -> Result<bool> {
        self.start()?;
        let deadline = Instant::now() + timeout;
        let mut mirror = self.shared.lock();
        loop {
            if self.pulled != Some(mirror.generation) {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            mirror = self.shared.signal.wait_timeout(mirror, deadline - now).map(|(m, _)| m).unwrap_or_else(|p| {
                let (m, _) = p.into_inner();
                m
            });
        }
    }

    /// Each watcher's state.
    pub fn status(&self) -> Vec<KindStatus> {
        self.shared
            .lock()
            .streams
            .iter()
            .map(|s| KindStatus {
                kind: s.kind,
                namespace: s.namespace.clone(),
                synced: s.phase == mirror::Phase::Synced,
                absent: matches!(s.phase, mirror::Phase::Absent(_)),
                objects: s.objects.len(),
                lists: s.lists,
                resource_version: s.resource_version.clone(),
                failure: s.failure.as_ref().map(|f| f.message.clone()),
            })
            .collect()
    }

    /// Stops the watchers. A later pull or [`KubeSource::start`] starts them again, each
    /// with a fresh list.
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for KubeSource {
    fn drop(&mut self) {
        self.stop();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Source for KubeSource {
    fn system(&self) -> &'static str {
        "kubernetes"
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    /// The cluster as the mirror holds it, as one complete listing; the first pull starts
    /// the watchers and waits (up to `timeout_s`) for every kind's first list.
    fn pull(&mut self) -> Result<Observation> {
        self.wait_synced(Duration::from_secs(self.config.timeout_s))?;
        let mirror = self.shared.lock();
        let mut warnings = Vec::new();
        let mut objects: Vec<&MappedObject> = Vec::new();
        let mut kinds = 0;
        for stream in &mirror.streams {
            match &stream.phase {
                mirror::Phase::Absent(message) => warnings.push(Warning {
                    kind: WarningKind::Skipped,
                    object: None,
                    place: None,
                    subject: stream.kind.name().to_string(),
                    message: format!(
                        "the server does not serve {} ({}): not watched ({message})",
                        stream.kind,
                        stream.kind.api_resource().api_version
                    ),
                }),
                _ => kinds += 1,
            }
            if let Some(failure) = &stream.failure
                && stream.phase == mirror::Phase::Synced
            {
                warnings.push(Warning {
                    kind: WarningKind::Unresolved,
                    object: None,
                    place: None,
                    subject: stream.kind.name().to_string(),
                    message: format!(
                        "the watch of {} is interrupted ({}); the objects are as last seen and it retries",
                        stream.kind, failure.message
                    ),
                });
            }
            for entry in stream.objects.values() {
                match entry {
                    Ok(object) => objects.push(object),
                    Err(error) => return Err(error.clone()),
                }
            }
        }
        let input = format!("cluster {}: {} objects of {kinds} kinds", self.url, objects.len());
        let mut observation = observe(objects, true, input);
        warnings.append(&mut observation.warnings);
        observation.warnings = warnings;
        self.pulled = Some(mirror.generation);
        Ok(observation)
    }
}
