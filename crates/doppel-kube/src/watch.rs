//! One watcher task per stream (a kind, in one namespace or all): `kube::runtime::watcher`
//! lists, then watches from the list's resourceVersion, resumes a dropped watch from the
//! last resourceVersion seen and relists after `410 Gone`. Its events are mapped here, on
//! the runtime's thread, and fed to the mirror.

use crate::WatchedKind;
use crate::mirror::{Entry, Event, Failure, ObjectId};
use doppel_sources::Place;
use doppel_sources::kubernetes::map_json;
use futures_util::{Stream, StreamExt, TryStreamExt};
use kube::Client;
use kube::api::Api;
use kube::core::{ApiResource, DynamicObject, ObjectMeta, PartialObjectMeta};
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::{WatchStreamExt, watcher::Event as KubeEvent};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The mirror and the signal that it changed, shared by the watchers and the source.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    mirror: Mutex<crate::mirror::Mirror>,
    /// Notified on every event and failure.
    pub signal: Condvar,
}

impl Shared {
    /// The mirror, even if a watcher panicked while holding it (it never leaves it half-changed:
    /// each event is one insert, remove or swap).
    pub fn lock(&self) -> MutexGuard<'_, crate::mirror::Mirror> {
        self.mirror.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn event(&self, index: usize, event: Event) {
        self.lock().event(index, event);
        self.signal.notify_all();
    }

    fn fail(&self, index: usize, failure: Failure) {
        self.lock().fail(index, failure);
        self.signal.notify_all();
    }

    fn absent(&self, index: usize, message: String) {
        self.lock().absent(index, message);
        self.signal.notify_all();
    }
}

/// What a watcher needs besides the mirror.
#[derive(Clone)]
pub(crate) struct Watch {
    /// The stream's index in the mirror.
    pub index: usize,
    /// The kind.
    pub kind: WatchedKind,
    /// The namespace, or `None` for all.
    pub namespace: Option<String>,
    /// Only these namespaces' Namespace objects are kept (empty: all).
    pub only_namespaces: Vec<String>,
    /// The API server's URL, without a trailing slash, for places.
    pub url: String,
    /// The source instance, for messages.
    pub source_name: String,
    /// Delays between retries after a failure.
    pub retry: Retry,
}

/// Delays between retries after a failure: doubling from `min` up to `max`, back to `min`
/// once something is received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// The first delay.
    pub min: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry { min: Duration::from_millis(800), max: Duration::from_secs(30) }
    }
}

struct Doubling {
    retry: Retry,
    next: Duration,
}

impl Iterator for Doubling {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(self.retry.max);
        Some(delay)
    }
}

impl Backoff for Doubling {
    fn reset(&mut self) {
        self.next = self.retry.min;
    }
}

/// How a watcher run ended.
enum Ended {
    /// Start again with a fresh list.
    Relist,
    /// The kind is not served: stop.
    Absent,
}

/// Runs the watcher of one stream until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, client: Client, watch: Watch) {
    let resource = watch.kind.api_resource();
    loop {
        let ended = if watch.kind.metadata_only() {
            let api: Api<PartialObjectMeta<DynamicObject>> = scoped(client.clone(), &resource, &watch);
            let events = watcher(api, watcher::Config::default()).map_ok(|e| convert(e, metadata_value));
            drive(&shared, &watch, events).await
        } else {
            let api: Api<DynamicObject> = scoped(client.clone(), &resource, &watch);
            let events = watcher(api, watcher::Config::default()).map_ok(|e| convert(e, object_value));
            drive(&shared, &watch, events).await
        };
        match ended {
            Ended::Relist => continue,
            Ended::Absent => return,
        }
    }
}

fn scoped<K>(client: Client, resource: &ApiResource, watch: &Watch) -> Api<K>
where
    K: kube::Resource<DynamicType = ApiResource, Scope = kube::core::DynamicResourceScope>,
{
    match (&watch.namespace, watch.kind.namespaced()) {
        (Some(ns), true) => Api::namespaced_with(client, ns, resource),
        _ => Api::all_with(client, resource),
    }
}

/// An object as JSON, with its metadata.
struct Raw {
    metadata: ObjectMeta,
    value: serde_json::Value,
}

fn object_value(object: DynamicObject) -> Raw {
    let metadata = object.metadata.clone();
    let value = serde_json::to_value(&object).unwrap_or(serde_json::Value::Null);
    Raw { metadata, value }
}

/// A metadata-only object (a Secret) as the mapper takes it: name, namespace, labels and
/// owners; nothing else is there to read.
fn metadata_value(object: PartialObjectMeta<DynamicObject>) -> Raw {
    let meta = &object.metadata;
    let value = serde_json::json!({
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "labels": meta.labels,
            "ownerReferences": meta.owner_references.as_ref().map(|owners| owners
                .iter()
                .map(|o| serde_json::json!({"kind": o.kind, "name": o.name}))
                .collect::<Vec<_>>()),
        }
    });
    Raw { metadata: object.metadata, value }
}

fn convert<K>(event: KubeEvent<K>, raw: fn(K) -> Raw) -> KubeEvent<Raw> {
    match event {
        KubeEvent::Apply(o) => KubeEvent::Apply(raw(o)),
        KubeEvent::Delete(o) => KubeEvent::Delete(raw(o)),
        KubeEvent::Init => KubeEvent::Init,
        KubeEvent::InitApply(o) => KubeEvent::InitApply(raw(o)),
        KubeEvent::InitDone => KubeEvent::InitDone,
    }
}

async fn drive(
    shared: &Shared,
    watch: &Watch,
    events: impl Stream<Item = Result<KubeEvent<Raw>, watcher::Error>> + Send,
) -> Ended {
    let backoff = Doubling { retry: watch.retry, next: watch.retry.min };
    let mut events = std::pin::pin!(events.backoff(backoff));
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => {
                if let Some(event) = mirror_event(watch, event) {
                    shared.event(watch.index, event);
                }
            }
            Err(error) => {
                let failure = describe(&error);
                let initial_list = matches!(error, watcher::Error::InitialListFailed(_));
                let watch_start = matches!(error, watcher::Error::WatchStartFailed(_));
                match failure.code {
                    Some(404) if initial_list => {
                        shared.absent(watch.index, failure.message);
                        return Ended::Absent;
                    }
                    // The watcher would retry the same resourceVersion; a fresh list is what
                    // `410 Gone` asks for, however it comes.
                    Some(410) if watch_start => {
                        shared.fail(watch.index, failure);
                        return Ended::Relist;
                    }
                    _ => shared.fail(watch.index, failure),
                }
            }
        }
    }
    Ended::Relist
}

/// A watcher event as a mirror event: the object keyed and mapped. Namespace objects
/// outside the namespaces asked for are left out.
fn mirror_event(watch: &Watch, event: KubeEvent<Raw>) -> Option<Event> {
    let keep = |raw: &Raw| {
        watch.kind != WatchedKind::Namespace
            || watch.only_namespaces.is_empty()
            || raw.metadata.name.as_ref().is_some_and(|n| watch.only_namespaces.contains(n))
    };
    Some(match event {
        KubeEvent::Init => Event::Init,
        KubeEvent::InitDone => Event::InitDone,
        KubeEvent::InitApply(raw) if keep(&raw) => {
            let (id, version, entry) = mapped(watch, raw);
            Event::InitApply(id, version, entry)
        }
        KubeEvent::Apply(raw) if keep(&raw) => {
            let (id, version, entry) = mapped(watch, raw);
            Event::Apply(id, version, entry)
        }
        KubeEvent::Delete(raw) if keep(&raw) => {
            let (id, version) = identity(&raw.metadata);
            Event::Delete(id, version)
        }
        _ => return None,
    })
}

fn identity(metadata: &ObjectMeta) -> (ObjectId, Option<String>) {
    let id = (metadata.namespace.clone().unwrap_or_default(), metadata.name.clone().unwrap_or_default());
    (id, metadata.resource_version.clone())
}

fn mapped(watch: &Watch, mut raw: Raw) -> (ObjectId, Option<String>, Entry) {
    let (id, version) = identity(&raw.metadata);
    let resource = watch.kind.api_resource();
    if let serde_json::Value::Object(map) = &mut raw.value {
        // List items come without apiVersion and kind.
        map.insert("kind".into(), resource.kind.clone().into());
        map.insert("apiVersion".into(), resource.api_version.clone().into());
    }
    let collection = watch.kind.collection_path((!id.0.is_empty()).then_some(id.0.as_str()));
    let place = Place { file: format!("{}{collection}/{}", watch.url, id.1), line: 0, col: 0 };
    let entry = map_json(&raw.value, place, &watch.source_name);
    (id, version, entry)
}

/// A watcher error in words, with the server's status code when it answered.
pub(crate) fn describe(error: &watcher::Error) -> Failure {
    let client_error = match error {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            e
        }
        watcher::Error::WatchError(status) => {
            return Failure { message: status_text(status), code: Some(status.code) };
        }
        watcher::Error::NoResourceVersion => {
            return Failure { message: "the server gave no resourceVersion (it cannot be watched)".into(), code: None };
        }
    };
    match client_error {
        kube::Error::Api(status) => Failure { message: status_text(status), code: Some(status.code) },
        other => Failure { message: crate::chain(other), code: None },
    }
}

fn status_text(status: &kube::core::Status) -> String {
    let mut text = format!("HTTP {}", status.code);
    if !status.reason.is_empty() {
        text.push(' ');
        text.push_str(&status.reason);
    }
    if !status.message.is_empty() {
        text.push_str(": ");
        text.push_str(&status.message);
    }
    text
}
