//! The cluster mirror: every watched object, mapped, by (kind, namespace, name), fed by the
//! watchers' events. A list (the first, or a relist after `410 Gone`) is buffered and
//! replaces its stream's objects only when complete, so a relist never shows half a kind,
//! and what was deleted while the watch was down disappears at that moment.

use crate::WatchedKind;
use doppel_sources::kubernetes::MappedObject;
use std::collections::BTreeMap;

/// An object's mapping, or why it could not be mapped (reported at the next pull).
pub(crate) type Entry = Result<MappedObject, doppel_sources::Error>;

/// An object's identity within its stream: (namespace, or empty for cluster-scoped; name).
pub(crate) type ObjectId = (String, String);

/// How far a stream has got.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Phase {
    /// No complete list yet.
    Listing,
    /// At least one list is complete; the objects are the cluster's as of the last event.
    Synced,
    /// The server does not serve the kind (404 on list): nothing is watched.
    Absent(String),
}

/// A failure of a stream's watcher, as last seen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// What happened, with the server's status when it gave one.
    pub message: String,
    /// The HTTP status, when the server answered.
    pub code: Option<u16>,
}

/// One watcher's part of the mirror: one kind, in one namespace or in all.
#[derive(Debug)]
pub(crate) struct Stream {
    /// The kind.
    pub kind: WatchedKind,
    /// The namespace watched, or `None` for all.
    pub namespace: Option<String>,
    /// Where the stream is.
    pub phase: Phase,
    /// The objects of the last complete list, with the watch events since.
    pub objects: BTreeMap<ObjectId, Entry>,
    /// A list being received.
    pending: Option<BTreeMap<ObjectId, Entry>>,
    /// The resourceVersion of the newest object seen.
    pub resource_version: Option<String>,
    /// Complete lists received (1 after the first; each relist adds one).
    pub lists: u32,
    /// The last failure, cleared by the next event received.
    pub failure: Option<Failure>,
}

impl Stream {
    /// A stream that has received nothing yet.
    pub fn new(kind: WatchedKind, namespace: Option<String>) -> Stream {
        Stream {
            kind,
            namespace,
            phase: Phase::Listing,
            objects: BTreeMap::new(),
            pending: None,
            resource_version: None,
            lists: 0,
            failure: None,
        }
    }
}

/// An event of a watcher, with its object already mapped.
#[derive(Debug)]
pub(crate) enum Event {
    /// A list begins.
    Init,
    /// An object of the list.
    InitApply(ObjectId, Option<String>, Entry),
    /// The list is complete.
    InitDone,
    /// An object was added or changed.
    Apply(ObjectId, Option<String>, Entry),
    /// An object was deleted.
    Delete(ObjectId, Option<String>),
}

/// Every stream, and a generation counted up whenever what a pull would see changes.
#[derive(Debug, Default)]
pub(crate) struct Mirror {
    /// The streams, by index.
    pub streams: Vec<Stream>,
    /// Counts changes of the objects (not of resourceVersions or failures).
    pub generation: u64,
}

impl Mirror {
    /// Applies one event to stream `index`; returns whether the objects changed.
    pub fn event(&mut self, index: usize, event: Event) -> bool {
        let Some(stream) = self.streams.get_mut(index) else { return false };
        stream.failure = None;
        let changed = match event {
            Event::Init => {
                stream.pending = Some(BTreeMap::new());
                false
            }
            Event::InitApply(id, version, entry) => {
                note_version(stream, version);
                stream.pending.get_or_insert_with(BTreeMap::new).insert(id, entry);
                false
            }
            Event::InitDone => {
                let listed = stream.pending.take().unwrap_or_default();
                stream.lists += 1;
                let first = stream.phase != Phase::Synced;
                stream.phase = Phase::Synced;
                let changed = listed != stream.objects;
                stream.objects = listed;
                changed || first
            }
            Event::Apply(id, version, entry) => {
                note_version(stream, version);
                match stream.objects.insert(id, entry.clone()) {
                    Some(old) => old != entry,
                    None => true,
                }
            }
            Event::Delete(id, version) => {
                note_version(stream, version);
                stream.objects.remove(&id).is_some()
            }
        };
        if changed {
            self.generation += 1;
        }
        changed
    }

    /// Records a failure of stream `index`.
    pub fn fail(&mut self, index: usize, failure: Failure) {
        if let Some(stream) = self.streams.get_mut(index) {
            stream.failure = Some(failure);
        }
    }

    /// Marks stream `index` as a kind the server lacks; its objects are dropped.
    pub fn absent(&mut self, index: usize, message: String) {
        if let Some(stream) = self.streams.get_mut(index) {
            stream.phase = Phase::Absent(message);
            stream.pending = None;
            if !std::mem::take(&mut stream.objects).is_empty() {
                self.generation += 1;
            }
        }
    }
}

fn note_version(stream: &mut Stream, version: Option<String>) {
    if let Some(version) = version.filter(|v| !v.is_empty()) {
        stream.resource_version = Some(version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_sources::Place;
    use doppel_sources::kubernetes::map_json;

    fn entry(name: &str, data: &str) -> Entry {
        let value = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": name, "namespace": "shop"},
            "data": {data: "x"}});
        map_json(&value, Place { file: name.into(), line: 0, col: 0 }, "test")
    }

    fn id(name: &str) -> ObjectId {
        ("shop".into(), name.into())
    }

    fn names(mirror: &Mirror) -> Vec<String> {
        mirror.streams[0].objects.keys().map(|(_, n)| n.clone()).collect()
    }

    #[test]
    fn a_relist_replaces_the_kind_only_when_complete() {
        let mut mirror = Mirror { streams: vec![Stream::new(WatchedKind::ConfigMap, None)], generation: 0 };
        assert!(!mirror.event(0, Event::Init));
        assert!(!mirror.event(0, Event::InitApply(id("a"), Some("1".into()), entry("a", "k"))));
        assert!(!mirror.event(0, Event::InitApply(id("b"), Some("2".into()), entry("b", "k"))));
        assert!(names(&mirror).is_empty(), "a list shows only once done");
        assert!(mirror.event(0, Event::InitDone));
        assert_eq!(names(&mirror), ["a", "b"]);
        assert_eq!(mirror.generation, 1);
        assert!(mirror.event(0, Event::Apply(id("c"), Some("3".into()), entry("c", "k"))));
        assert!(!mirror.event(0, Event::Apply(id("c"), Some("4".into()), entry("c", "k"))), "the same object again");
        assert!(mirror.event(0, Event::Delete(id("a"), Some("5".into()))));
        assert!(!mirror.event(0, Event::Delete(id("a"), Some("6".into()))), "a delete seen twice");
        assert_eq!(mirror.generation, 3);
        // A relist that lacks b (deleted while disconnected) and changes c.
        mirror.event(0, Event::Init);
        mirror.event(0, Event::InitApply(id("c"), Some("9".into()), entry("c", "other")));
        assert_eq!(names(&mirror), ["b", "c"], "the old objects stay until the relist is done");
        assert!(mirror.event(0, Event::InitDone));
        assert_eq!(names(&mirror), ["c"]);
        assert_eq!(mirror.streams[0].lists, 2);
        assert_eq!(mirror.streams[0].resource_version.as_deref(), Some("9"));
        // A relist identical to what is held changes nothing.
        mirror.event(0, Event::Init);
        mirror.event(0, Event::InitApply(id("c"), Some("10".into()), entry("c", "other")));
        assert!(!mirror.event(0, Event::InitDone));
        assert_eq!(mirror.generation, 4);
    }

    #[test]
    fn an_absent_kind_drops_its_objects() {
        let mut mirror = Mirror { streams: vec![Stream::new(WatchedKind::ConfigMap, None)], generation: 0 };
        mirror.event(0, Event::Apply(id("a"), None, entry("a", "k")));
        mirror.fail(0, Failure { message: "gone".into(), code: Some(404) });
        assert!(mirror.streams[0].failure.is_some());
        mirror.absent(0, "not served".into());
        assert!(names(&mirror).is_empty());
        assert_eq!(mirror.streams[0].phase, Phase::Absent("not served".into()));
        assert_eq!(mirror.generation, 2);
    }
}
