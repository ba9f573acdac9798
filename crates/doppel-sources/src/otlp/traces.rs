//! The accumulator: spans in, the service call graph of a window out.
//!
//! Each span is reduced to a few numbers (service, kind, parent, interval, error) and
//! delivered to its parent. A client span waits, in a bounded pending map keyed by trace
//! and span id, for the server span it caused; the two may come in any order and in
//! different requests. A client span whose server span never comes is a call to a peer
//! that sends no spans, named from its attributes (`peer.rs`). Pending entries live in two
//! generations swapped every `pending_age`, so an entry waits between one and two ages.

use super::hist::Hist;
use super::peer::{PeerAttrs, name_key};
use crate::{Observation, SeriesSample, Warning, WarningKind};
use doppel_model::relation::CallMode;
use doppel_model::spec::{DatastoreSpec, QueueSpec};
use doppel_model::{CallAttrs, Entity, Key, Kind, RelSpec, Relation, Spec};
use hashbrown::HashMap;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use smallvec::SmallVec;
use std::time::{Duration, Instant};

/// No node: a name over the limit.
const NONE: u32 = u32::MAX;
/// A client span whose attributes name no peer.
const UNNAMED: u32 = u32::MAX - 1;

// Span kinds as OTLP numbers them (0 unspecified and 1 internal are treated alike).
const SERVER: u8 = 2;
const CLIENT: u8 = 3;
const PRODUCER: u8 = 4;
const CONSUMER: u8 = 5;
/// `Status.code` of a failed span.
const STATUS_ERROR: i32 = 2;

/// How much the accumulator may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Spans waiting for their parent or their remote child, at most.
    pub max_pending: usize,
    /// How long a client span waits for the server span it caused before it counts as a
    /// call to an uninstrumented peer (it waits between this and twice this).
    pub pending_age: Duration,
    /// Distinct (caller, callee) edges in one window, at most.
    pub max_edges: usize,
    /// Distinct service and peer names held, at most.
    pub max_names: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_pending: 1_000_000, pending_age: Duration::from_secs(10), max_edges: 10_000, max_names: 100_000 }
    }
}

/// What one request gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Spans in the request.
    pub spans: usize,
    /// Spans refused (ids of the wrong length, impossible times): OTLP's `rejected_spans`.
    pub rejected: usize,
    /// Why the first refused span was refused.
    pub reason: Option<String>,
}

/// What happened in a window, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Export requests ingested.
    pub requests: u64,
    /// Spans ingested.
    pub spans: u64,
    /// Spans refused: ids of the wrong length, or a start after the end.
    pub rejected: u64,
    /// Client spans whose peer sent no span and whose attributes name none.
    pub unnamed_peers: u64,
    /// Pending spans let go before their age because the pending map was full.
    pub evicted: u64,
    /// Calls not counted because the window already had the most edges allowed.
    pub edges_dropped: u64,
    /// Spans or calls not counted because the most names allowed were held.
    pub names_dropped: u64,
    /// Resources without `service.name` (their spans count as `unknown_service`).
    pub no_service_name: u64,
}

/// One service, datastore, queue or external peer seen in a window.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSummary {
    /// Its key (`service/cart`, `datastore/redis`).
    pub key: Key,
    /// The engine named by `db.system` or `messaging.system`.
    pub engine: Option<String>,
    /// Whether the numbers below come from its own server spans (else from its callers'
    /// client spans).
    pub instrumented: bool,
    /// Requests it served (server and consumer spans), or calls made to it.
    pub requests: u64,
    /// Of those, failed ones.
    pub errors: u64,
    /// Mean latency, ms.
    pub latency_mean_ms: Option<f64>,
    /// Median latency, ms.
    pub latency_p50_ms: Option<f64>,
    /// 99th-percentile latency, ms.
    pub latency_p99_ms: Option<f64>,
    /// Mean own work per request served: the self-time of its server, consumer and
    /// internal spans over its server and consumer spans, ms.
    pub service_time_ms: Option<f64>,
}

/// One edge of the call graph in a window.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeSummary {
    /// The caller.
    pub from: Key,
    /// The callee.
    pub to: Key,
    /// Calls made.
    pub calls: u64,
    /// Of those, failed ones (the caller's span had status error).
    pub errors: u64,
    /// Mean latency seen by the caller, ms.
    pub latency_mean_ms: f64,
    /// Median latency seen by the caller, ms.
    pub latency_p50_ms: f64,
    /// 99th-percentile latency seen by the caller, ms.
    pub latency_p99_ms: f64,
    /// A message to or from a queue rather than a request the caller waits for.
    pub asynchronous: bool,
}

/// The call graph of one window: what [`Traces::drain`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallGraph {
    /// Start of the window, ns since the epoch, on the spans' clocks.
    pub from_ns: u64,
    /// End of the window: the latest span end seen.
    pub to_ns: u64,
    /// Services and peers, by key.
    pub nodes: Vec<NodeSummary>,
    /// Edges, by caller then callee.
    pub edges: Vec<EdgeSummary>,
    /// Counts.
    pub counts: Counts,
}

impl CallGraph {
    /// The window's length in seconds.
    pub fn window_s(&self) -> f64 {
        self.to_ns.saturating_sub(self.from_ns) as f64 / 1e9
    }

    /// `n` events over the window, per second; `None` for an empty window.
    pub fn rate_rps(&self, n: u64) -> Option<f64> {
        let window = self.window_s();
        (window > 0.0).then(|| n as f64 / window)
    }

    /// A node by key.
    pub fn node(&self, key: &str) -> Option<&NodeSummary> {
        self.nodes.iter().find(|n| n.key.to_string() == key)
    }

    /// An edge by its ends' keys.
    pub fn edge(&self, from: &str, to: &str) -> Option<&EdgeSummary> {
        self.edges.iter().find(|e| e.from.to_string() == from && e.to.to_string() == to)
    }

    /// The window as what the twin understands: entities for the nodes, `calls` relations
    /// with their rates (three significant digits), and series samples stamped at the
    /// window's end. Never a complete listing.
    pub fn observation(&self) -> Observation {
        let ts_ms = (self.to_ns / 1_000_000) as i64;
        let mut observation = Observation { complete: false, ..Observation::default() };
        for node in &self.nodes {
            let spec = match node.key.kind() {
                Kind::Datastore => Spec::Datastore(Box::new(DatastoreSpec {
                    engine: node.engine.clone().unwrap_or_default(),
                    ..DatastoreSpec::default()
                })),
                Kind::Queue => Spec::Queue(Box::new(QueueSpec {
                    engine: node.engine.clone().unwrap_or_default(),
                    ..QueueSpec::default()
                })),
                kind => Spec::default_for(kind),
            };
            observation.entities.push(Entity::with_spec(node.key.clone(), spec));
            let mut sample = |attribute: &str, value: Option<f64>| {
                if let Some(value) = value.filter(|v| v.is_finite()) {
                    observation.samples.push(SeriesSample {
                        entity: node.key.clone(),
                        attribute: attribute.into(),
                        ts_ms,
                        value,
                    });
                }
            };
            if node.requests > 0 {
                sample("request_rate_rps", self.rate_rps(node.requests));
                sample("error_rate", Some(node.errors as f64 / node.requests as f64));
            }
            sample("latency_mean_ms", node.latency_mean_ms);
            sample("latency_p50_ms", node.latency_p50_ms);
            sample("latency_p99_ms", node.latency_p99_ms);
            sample("service_time_ms", node.service_time_ms);
            sample("self_time_mean_ms", node.service_time_ms);
        }
        for edge in &self.edges {
            let attrs = CallAttrs {
                rate_rps: self.rate_rps(edge.calls).map(significant3),
                mode: if edge.asynchronous { CallMode::Async } else { CallMode::Sync },
                ..CallAttrs::default()
            };
            observation.relations.push(Relation {
                from: edge.from.clone(),
                to: edge.to.clone(),
                spec: RelSpec::Calls(Box::new(attrs)),
            });
            let mut sample = |series: &str, value: Option<f64>| {
                if let Some(value) = value.filter(|v| v.is_finite()) {
                    observation.samples.push(SeriesSample {
                        entity: edge.from.clone(),
                        attribute: format!("{series}:{}", edge.to).into(),
                        ts_ms,
                        value,
                    });
                }
            };
            sample("call_rate_rps", self.rate_rps(edge.calls));
            sample("call_error_rate", Some(edge.errors as f64 / edge.calls.max(1) as f64));
            sample("call_latency_p50_ms", Some(edge.latency_p50_ms));
            sample("call_latency_p99_ms", Some(edge.latency_p99_ms));
        }
        observation.warnings = self.warnings();
        observation.input =
            format!("{} spans in {} requests over {:.1} s", self.counts.spans, self.counts.requests, self.window_s());
        observation
    }

    /// The window's counted problems as warnings, one per kind of problem.
    pub fn warnings(&self) -> Vec<Warning> {
        let c = &self.counts;
        let mut warnings = Vec::new();
        let mut warn = |kind: WarningKind, n: u64, subject: &str, message: String| {
            if n > 0 {
                warnings.push(Warning { kind, object: None, place: None, subject: subject.to_string(), message });
            }
        };
        warn(
            WarningKind::Unresolved,
            c.unnamed_peers,
            "peer",
            format!(
                "{} client spans called a peer that sent no spans and that no attribute names (peer.service, db.system, messaging.system, server.address, net.peer.name, url.full); not counted",
                c.unnamed_peers
            ),
        );
        warn(
            WarningKind::Skipped,
            c.rejected,
            "span",
            format!("{} spans refused: trace or span ids of the wrong length, or impossible times", c.rejected),
        );
        warn(
            WarningKind::Skipped,
            c.evicted,
            "pending",
            format!("{} spans stopped waiting for their parent or callee early: the pending map was full", c.evicted),
        );
        warn(
            WarningKind::Skipped,
            c.edges_dropped,
            "edge",
            format!("{} calls not counted: the window already had the most edges allowed", c.edges_dropped),
        );
        warn(
            WarningKind::Skipped,
            c.names_dropped,
            "name",
            format!("{} spans or calls not counted: the most service and peer names allowed are held", c.names_dropped),
        );
        warn(
            WarningKind::Unresolved,
            c.no_service_name,
            "service.name",
            format!(
                "{} resources had no service.name; their spans count as service/unknown_service",
                c.no_service_name
            ),
        );
        warnings
    }
}

/// A rate with three significant digits, so a steady rate gives the same value each window.
fn significant3(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(2 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

#[derive(Debug, Clone, Default)]
struct Stats {
    count: u64,
    errors: u64,
    sum_us: u64,
    hist: Hist,
}

impl Stats {
    fn add(&mut self, duration_us: u64, error: bool) {
        self.count += 1;
        self.errors += u64::from(error);
        self.sum_us = self.sum_us.saturating_add(duration_us);
        self.hist.add(duration_us);
    }

    fn mean_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_us as f64 / self.count as f64 / 1000.0)
    }

    fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.hist.quantile(q).map(|us| us / 1000.0)
    }
}

#[derive(Debug, Clone, Default)]
struct NodeStats {
    /// Its own server and consumer spans.
    served: Stats,
    /// Calls its callers' client spans made to it, when it sends no spans itself.
    called: Stats,
    /// Self-time of its server, consumer and internal spans, ns.
    self_ns: u64,
    /// Whether anything about it was seen in the window.
    seen: bool,
}

#[derive(Debug, Clone)]
struct Name {
    key: Key,
    engine: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct EdgeStats {
    stats: Stats,
    asynchronous: bool,
}

/// A span as its parent needs it.
#[derive(Debug, Clone, Copy)]
struct Child {
    service: u32,
    kind: u8,
    error: bool,
    start: u64,
    end: u64,
}

/// A client span waiting for the server span it caused.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    service: u32,
    peer: u32,
    duration_us: u64,
    error: bool,
    asynchronous: bool,
}

#[derive(Debug, Clone, Default)]
struct Pending {
    waiting: Option<Waiting>,
    children: SmallVec<[Child; 2]>,
}

/// (trace id, span id).
type SpanRef = (u128, u64);

/// A span of the request being ingested, reduced.
#[derive(Debug, Clone, Copy)]
struct Rec {
    trace: u128,
    span: u64,
    parent: u64,
    service: u32,
    kind: u8,
    error: bool,
    start: u64,
    end: u64,
    at: (u32, u32, u32),
}

/// Spans in, the call graph out: fed export requests by the receivers, drained by a pull.
#[derive(Debug)]
pub struct Traces {
    limits: Limits,
    names: Vec<Name>,
    index: [HashMap<Box<str>, u32>; 4],
    stats: Vec<NodeStats>,
    edges: HashMap<(u32, u32), EdgeStats>,
    young: HashMap<SpanRef, Pending>,
    old: HashMap<SpanRef, Pending>,
    rotated: Instant,
    first_start: u64,
    last_end: u64,
    window_from: Option<u64>,
    counts: Counts,
    recs: Vec<Rec>,
}

fn slot(kind: Kind) -> usize {
    match kind {
        Kind::Service => 0,
        Kind::Datastore => 1,
        Kind::Queue => 2,
        _ => 3,
    }
}

fn id_u128(bytes: &[u8]) -> Option<u128> {
    let array: [u8; 16] = bytes.try_into().ok()?;
    Some(u128::from_be_bytes(array))
}

fn id_u64(bytes: &[u8]) -> Option<u64> {
    let array: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_be_bytes(array))
}

fn is_remote(kind: u8) -> bool {
    kind == SERVER || kind == CONSUMER
}

/// Duration in ns less the part of it the children's intervals cover.
fn self_time_ns(start: u64, end: u64, children: &[Child]) -> u64 {
    let mut intervals: SmallVec<[(u64, u64); 8]> =
        children.iter().map(|c| (c.start.max(start), c.end.min(end))).filter(|(s, e)| s < e).collect();
    intervals.sort_unstable();
    let mut covered = 0;
    let mut current: Option<(u64, u64)> = None;
    for (s, e) in intervals {
        match current {
            Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                covered += ce - cs;
                current = Some((s, e));
            }
            None => current = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = current {
        covered += ce - cs;
    }
    (end - start).saturating_sub(covered)
}

impl Default for Traces {
    fn default() -> Traces {
        Traces::new(Limits::default())
    }
}

impl Traces {
    /// An empty accumulator.
    pub fn new(limits: Limits) -> Traces {
        Traces {
            limits,
            names: Vec::new(),
            index: Default::default(),
            stats: Vec::new(),
            edges: HashMap::new(),
            young: HashMap::new(),
            old: HashMap::new(),
            rotated: Instant::now(),
            first_start: u64::MAX,
            last_end: 0,
            window_from: None,
            counts: Counts::default(),
            recs: Vec::new(),
        }
    }

    /// The limits it keeps to.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Spans waiting for their parent or their remote child.
    pub fn pending(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Adds a request's spans, now.
    pub fn ingest(&mut self, request: &ExportTraceServiceRequest) -> Ingested {
        self.ingest_at(request, Instant::now())
    }

    /// Adds a request's spans at `now` (the clock of the pending map).
    pub fn ingest_at(&mut self, request: &ExportTraceServiceRequest, now: Instant) -> Ingested {
        self.rotate_due(now);
        self.counts.requests += 1;
        let mut out = Ingested::default();
        let mut recs = std::mem::take(&mut self.recs);
        recs.clear();
        for (r, resource_spans) in request.resource_spans.iter().enumerate() {
            let service = self.service_of(resource_spans.resource.as_ref().map(|r| r.attributes.as_slice()));
            for (s, scope) in resource_spans.scope_spans.iter().enumerate() {
                for (i, span) in scope.spans.iter().enumerate() {
                    out.spans += 1;
                    match reduce(span) {
                        Ok((trace, id, parent)) => recs.push(Rec {
                            trace,
                            span: id,
                            parent,
                            service,
                            kind: span.kind.clamp(0, 5) as u8,
                            error: span.status.as_ref().is_some_and(|s| s.code == STATUS_ERROR),
                            start: span.start_time_unix_nano,
                            end: span.end_time_unix_nano,
                            at: (r as u32, s as u32, i as u32),
                        }),
                        Err(reason) => {
                            out.rejected += 1;
                            if out.reason.is_none() {
                                out.reason = Some(format!(
                                    "resourceSpans[{r}].scopeSpans[{s}].spans[{i}]: {reason}; span refused"
                                ));
                            }
                        }
                    }
                }
            }
        }
        self.counts.spans += out.spans as u64;
        self.counts.rejected += out.rejected as u64;
        // First every span goes to its parent, so a parent in the same request finds all
        // of its children there.
        for rec in &recs {
            self.first_start = self.first_start.min(rec.start);
            self.last_end = self.last_end.max(rec.end);
            if rec.parent != 0 {
                let child =
                    Child { service: rec.service, kind: rec.kind, error: rec.error, start: rec.start, end: rec.end };
                self.deliver((rec.trace, rec.parent), child);
            }
        }
        for rec in &recs {
            let span =
                &request.resource_spans[rec.at.0 as usize].scope_spans[rec.at.1 as usize].spans[rec.at.2 as usize];
            self.finish(rec, span);
        }
        self.recs = recs;
        out
    }

    fn service_of(&mut self, attributes: Option<&[opentelemetry_proto::tonic::common::v1::KeyValue]>) -> u32 {
        let name = attributes.unwrap_or_default().iter().find(|kv| kv.key == "service.name").and_then(|kv| {
            match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) if !s.is_empty() => Some(s.as_str()),
                _ => None,
            }
        });
        let name = match name {
            Some(name) => name,
            None => {
                self.counts.no_service_name += 1;
                "unknown_service"
            }
        };
        if let Some(&id) = self.index[0].get(name) {
            return id;
        }
        match name_key(Kind::Service, name) {
            Some(key) => self.intern_new(name, key, None),
            None => self.intern_key(Key::new(Kind::Service, "unknown_service").expect("a valid constant name"), None),
        }
    }

    fn intern_key(&mut self, key: Key, engine: Option<String>) -> u32 {
        if let Some(&id) = self.index[slot(key.kind())].get(key.name()) {
            return id;
        }
        let name = key.name().to_string();
        self.intern_new(&name, key, engine)
    }

    /// Adds a name under `lookup` (the raw text for services, else the key's name).
    fn intern_new(&mut self, lookup: &str, key: Key, engine: Option<String>) -> u32 {
        if self.names.len() >= self.limits.max_names.min(UNNAMED as usize) {
            return NONE;
        }
        let id = self.names.len() as u32;
        self.index[slot(key.kind())].insert(lookup.into(), id);
        if lookup != key.name() {
            self.index[slot(key.kind())].entry(key.name().into()).or_insert(id);
        }
        self.names.push(Name { key, engine });
        self.stats.push(NodeStats::default());
        id
    }

    fn stats(&mut self, id: u32) -> Option<&mut NodeStats> {
        let stats = self.stats.get_mut(id as usize)?;
        stats.seen = true;
        Some(stats)
    }

    fn entry(&mut self, at: SpanRef) -> Option<&mut Pending> {
        if self.young.contains_key(&at) { self.young.get_mut(&at) } else { self.old.get_mut(&at) }
    }

    fn take(&mut self, at: SpanRef) -> Option<Pending> {
        if self.young.is_empty() && self.old.is_empty() {
            return None;
        }
        self.young.remove(&at).or_else(|| self.old.remove(&at))
    }

    fn insert(&mut self, at: SpanRef, pending: Pending) {
        if self.young.len() + self.old.len() >= self.limits.max_pending {
            self.counts.evicted += self.old.len() as u64;
            self.rotate();
            if self.young.len() + self.old.len() >= self.limits.max_pending {
                self.counts.evicted += self.old.len() as u64;
                self.rotate();
            }
        }
        if self.limits.max_pending == 0 {
            if let Some(waiting) = pending.waiting {
                self.expire(waiting);
            }
            return;
        }
        self.young.insert(at, pending);
    }

    /// A span reaches its parent: joins a waiting client span with the server span it
    /// caused, or waits in the parent's entry for the parent.
    fn deliver(&mut self, parent: SpanRef, child: Child) {
        if let Some(entry) = self.entry(parent) {
            if let Some(waiting) = entry.waiting
                && is_remote(child.kind)
                && child.service != waiting.service
            {
                self.take(parent);
                self.edge(waiting.service, child.service, waiting.duration_us, waiting.error, waiting.asynchronous);
                return;
            }
            entry.children.push(child);
            return;
        }
        let mut children = SmallVec::new();
        children.push(child);
        self.insert(parent, Pending { waiting: None, children });
    }

    /// A span of the request, once every span of it reached its parent.
    fn finish(&mut self, rec: &Rec, span: &Span) {
        let pending = self.take((rec.trace, rec.span));
        if rec.service == NONE {
            self.counts.names_dropped += 1;
            return;
        }
        let children: &[Child] = pending.as_ref().map_or(&[], |p| p.children.as_slice());
        let duration_us = (rec.end - rec.start) / 1000;
        match rec.kind {
            CLIENT | PRODUCER => {
                let asynchronous = rec.kind == PRODUCER;
                if asynchronous {
                    let attrs = PeerAttrs::read(&span.attributes);
                    if let Some(queue) = attrs.queue() {
                        let queue = self.intern_key(queue.key, queue.engine);
                        self.call_peer(rec.service, queue, duration_us, rec.error, true);
                        return;
                    }
                }
                if let Some(child) = children.iter().find(|c| is_remote(c.kind) && c.service != rec.service) {
                    let callee = child.service;
                    self.edge(rec.service, callee, duration_us, rec.error, asynchronous);
                    return;
                }
                let peer = match PeerAttrs::read(&span.attributes).peer() {
                    Some(peer) => self.intern_key(peer.key, peer.engine),
                    None => UNNAMED,
                };
                let waiting = Waiting { service: rec.service, peer, duration_us, error: rec.error, asynchronous };
                self.insert((rec.trace, rec.span), Pending { waiting: Some(waiting), children: SmallVec::new() });
            }
            kind => {
                let own = self_time_ns(rec.start, rec.end, children);
                let remote: SmallVec<[Child; 2]> =
                    children.iter().filter(|c| is_remote(c.kind) && c.service != rec.service).copied().collect();
                let Some(stats) = self.stats(rec.service) else { return };
                stats.self_ns = stats.self_ns.saturating_add(own);
                if is_remote(kind) {
                    stats.served.add(duration_us, rec.error);
                }
                if kind == CONSUMER
                    && let Some(queue) = PeerAttrs::read(&span.attributes).queue()
                {
                    match self.intern_key(queue.key, queue.engine) {
                        NONE => self.counts.names_dropped += 1,
                        queue => self.edge(queue, rec.service, duration_us, rec.error, true),
                    }
                }
                for child in remote {
                    self.edge(rec.service, child.service, (child.end - child.start) / 1000, child.error, false);
                }
            }
        }
    }

    /// A call to a peer that sends no spans: the edge, and the peer's numbers.
    fn call_peer(&mut self, from: u32, peer: u32, duration_us: u64, error: bool, asynchronous: bool) {
        if peer == NONE {
            self.counts.names_dropped += 1;
            return;
        }
        self.edge(from, peer, duration_us, error, asynchronous);
        if let Some(stats) = self.stats(peer) {
            stats.called.add(duration_us, error);
        }
    }

    fn expire(&mut self, waiting: Waiting) {
        match waiting.peer {
            UNNAMED => self.counts.unnamed_peers += 1,
            peer => self.call_peer(waiting.service, peer, waiting.duration_us, waiting.error, waiting.asynchronous),
        }
    }

    fn edge(&mut self, from: u32, to: u32, duration_us: u64, error: bool, asynchronous: bool) {
        if from == to {
            return;
        }
        if from as usize >= self.names.len() || to as usize >= self.names.len() {
            // A name over the limit: counted where the span was read.
            return;
        }
        let count = self.edges.len();
        let edge = match self.edges.get_mut(&(from, to)) {
            Some(edge) => edge,
            None if count >= self.limits.max_edges => {
                self.counts.edges_dropped += 1;
                return;
            }
            None => self.edges.entry((from, to)).or_default(),
        };
        edge.stats.add(duration_us, error);
        edge.asynchronous |= asynchronous;
        self.stats[from as usize].seen = true;
        self.stats[to as usize].seen = true;
    }

    /// Lets the older generation of pending spans go (its waiting client spans become
    /// calls to their named peers) and makes the younger one the older.
    fn rotate(&mut self) {
        let mut expired = std::mem::take(&mut self.old);
        for (_, pending) in expired.drain() {
            if let Some(waiting) = pending.waiting {
                self.expire(waiting);
            }
        }
        self.old = std::mem::replace(&mut self.young, expired);
    }

    fn rotate_due(&mut self, now: Instant) {
        let age = self.limits.pending_age;
        for _ in 0..2 {
            if now.saturating_duration_since(self.rotated) < age {
                return;
            }
            self.rotate();
            self.rotated += age;
        }
        if now.saturating_duration_since(self.rotated) >= age {
            self.rotated = now;
        }
    }

    /// Lets every pending span go now: at the end of a recording, or before shutting down.
    pub fn flush(&mut self) {
        self.rotate();
        self.rotate();
    }

    /// The call graph since the last drain (pending spans past their age first let go),
    /// and a new window begun.
    pub fn drain(&mut self) -> CallGraph {
        self.drain_at(Instant::now())
    }

    /// [`Traces::drain`] at `now` (the clock of the pending map).
    pub fn drain_at(&mut self, now: Instant) -> CallGraph {
        self.rotate_due(now);
        let to_ns = self.last_end;
        let from_ns = match self.window_from {
            Some(from) => from.min(to_ns),
            None if self.first_start == u64::MAX => to_ns,
            None => self.first_start,
        };
        let mut graph = CallGraph { from_ns, to_ns, counts: std::mem::take(&mut self.counts), ..CallGraph::default() };
        for (id, stats) in self.stats.iter().enumerate() {
            if !stats.seen {
                continue;
            }
            let name = &self.names[id];
            let instrumented = stats.served.count > 0 || (stats.called.count == 0 && stats.self_ns > 0);
            let numbers = if stats.served.count > 0 || stats.called.count == 0 { &stats.served } else { &stats.called };
            graph.nodes.push(NodeSummary {
                key: name.key.clone(),
                engine: name.engine.clone(),
                instrumented,
                requests: numbers.count,
                errors: numbers.errors,
                latency_mean_ms: numbers.mean_ms(),
                latency_p50_ms: numbers.quantile_ms(0.5),
                latency_p99_ms: numbers.quantile_ms(0.99),
                service_time_ms: (stats.served.count > 0)
                    .then(|| stats.self_ns as f64 / stats.served.count as f64 / 1e6),
            });
        }
        graph.nodes.sort_by(|a, b| a.key.cmp(&b.key));
        for (&(from, to), edge) in &self.edges {
            graph.edges.push(EdgeSummary {
                from: self.names[from as usize].key.clone(),
                to: self.names[to as usize].key.clone(),
                calls: edge.stats.count,
                errors: edge.stats.errors,
                latency_mean_ms: edge.stats.mean_ms().unwrap_or_default(),
                latency_p50_ms: edge.stats.quantile_ms(0.5).unwrap_or_default(),
                latency_p99_ms: edge.stats.quantile_ms(0.99).unwrap_or_default(),
                asynchronous: edge.asynchronous,
            });
        }
        graph.edges.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        self.edges.clear();
        if self.first_start != u64::MAX {
            self.window_from = Some(to_ns);
        }
        self.first_start = u64::MAX;
        self.compact();
        graph
    }

    /// Keeps only the names pending spans still refer to, renumbered, with fresh numbers.
    fn compact(&mut self) {
        let mut remap = vec![NONE; self.names.len()];
        let mut mark = |id: u32| {
            if let Some(slot) = remap.get_mut(id as usize) {
                *slot = 0;
            }
        };
        for pending in self.young.values().chain(self.old.values()) {
            if let Some(w) = pending.waiting {
                mark(w.service);
                mark(w.peer);
            }
            for child in &pending.children {
                mark(child.service);
            }
        }
        let mut names = Vec::new();
        for (id, slot) in remap.iter_mut().enumerate() {
            if *slot == 0 {
                *slot = names.len() as u32;
                names.push(self.names[id].clone());
            }
        }
        let map = |id: u32| remap.get(id as usize).copied().unwrap_or(id);
        for pending in self.young.values_mut().chain(self.old.values_mut()) {
            if let Some(w) = pending.waiting.as_mut() {
                w.service = map(w.service);
                w.peer = map(w.peer);
            }
            for child in pending.children.iter_mut() {
                child.service = map(child.service);
            }
        }
        for index in &mut self.index {
            index.retain(|_, id| {
                *id = map(*id);
                *id != NONE
            });
        }
        self.stats = vec![NodeStats::default(); names.len()];
        self.names = names;
    }
}

/// The ids of a span, checked: a 16-byte trace id that is not all zeros, an 8-byte span id,
/// an 8-byte parent id or none (0), and an end not before the start.
fn reduce(span: &Span) -> Result<(u128, u64, u64), String> {
    let trace = id_u128(&span.trace_id)
        .filter(|&t| t != 0)
        .ok_or_else(|| format!("traceId has {} bytes; expected 16, not all zero", span.trace_id.len()))?;
    let id = id_u64(&span.span_id)
        .filter(|&s| s != 0)
        .ok_or_else(|| format!("spanId has {} bytes; expected 8, not all zero", span.span_id.len()))?;
    let parent = if span.parent_span_id.is_empty() {
        0
    } else {
        id_u64(&span.parent_span_id)
            .ok_or_else(|| format!("parentSpanId has {} bytes; expected 8 or none", span.parent_span_id.len()))?
    };
    if span.start_time_unix_nano == 0 || span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(format!(
            "times {}..{} ns: expected a start after the epoch and an end not before it",
            span.start_time_unix_nano, span.end_time_unix_nano
        ));
    }
    Ok((trace, id, parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(start: u64, end: u64) -> Child {
        Child { service: 0, kind: CLIENT, error: false, start, end }
    }

    #[test]
    fn self_time_is_duration_less_the_union_of_children() {
        assert_eq!(self_time_ns(0, 100, &[]), 100);
        assert_eq!(self_time_ns(0, 100, &[child(10, 40), child(50, 70)]), 50);
        assert_eq!(self_time_ns(0, 100, &[child(10, 40), child(30, 60), child(55, 58)]), 50);
        assert_eq!(self_time_ns(10, 100, &[child(0, 20), child(90, 200)]), 70);
        assert_eq!(self_time_ns(0, 100, &[child(0, 100), child(20, 30)]), 0);
        assert_eq!(self_time_ns(0, 100, &[child(200, 300)]), 100);
    }

    #[test]
    fn rates_keep_three_significant_digits() {
        assert_eq!(significant3(20.0417), 20.0);
        assert_eq!(significant3(0.012345), 0.0123);
        assert_eq!(significant3(12345.0), 12300.0);
        assert_eq!(significant3(0.0), 0.0);
    }
}
