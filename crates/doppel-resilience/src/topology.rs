//! What the twin says about failure, in dense indices: where everything runs, what it
//! needs, how much traffic it carries. Built once per view; scenarios and sweeps read it.

use doppel_model::relation::{CallMode, Criticality, RelKind, RelSpec};
use doppel_model::spec::{PodPhase, PodTemplate, Scheduling, Slo};
use doppel_model::{Entity, Key, Kind, Labels, Spec, TwinView};
use doppel_sched::{Pdb, SchedNode, SchedPod};
use std::collections::HashMap;

/// Defaults used where the twin says nothing; each is named in reports that rely on it.
pub mod defaults {
    /// Seconds before a silent node is marked NotReady (kube-controller-manager
    /// `--node-monitor-grace-period`, 40 s up to Kubernetes 1.31).
    pub const NODE_MONITOR_GRACE_S: f64 = 40.0;
    /// Seconds pods tolerate a NotReady or unreachable node before eviction (the
    /// DefaultTolerationSeconds admission plugin).
    pub const TOLERATION_S: f64 = 300.0;
    /// Seconds from scheduling to a ready pod when the template says nothing.
    pub const STARTUP_S: f64 = 20.0;
    /// Seconds the cluster autoscaler takes to notice pending pods (its scan interval).
    pub const AUTOSCALER_SCAN_S: f64 = 10.0;
    /// Seconds a new node takes when its node group says nothing.
    pub const PROVISIONING_S: f64 = 180.0;
    /// Requests one replica works on at once when the service says nothing.
    pub const CONCURRENCY: u32 = 1;
    /// Mean service time in milliseconds when an endpoint says nothing.
    pub const SERVICE_TIME_MS: f64 = 10.0;
    /// Seconds a load balancer needs to stop sending to a dead target without a health check
    /// (the AWS ALB default: 30 s interval, 2 failures).
    pub const LB_DETECTION_S: f64 = 60.0;
}

/// A dense index into one of the topology's tables.
pub type Ix = usize;

/// A region.
#[derive(Debug, Clone)]
pub struct Region {
    /// Its key.
    pub key: Key,
    /// Whether it is a standby.
    pub standby: bool,
    /// Time to move traffic to it, if it is a standby.
    pub failover_s: Option<f64>,
}

/// An availability zone.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Its key.
    pub key: Key,
    /// The region it is in.
    pub region: Option<Ix>,
}

/// A Kubernetes node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its key.
    pub key: Key,
    /// Zone it is in.
    pub zone: Option<Ix>,
    /// Region it is in.
    pub region: Option<Ix>,
    /// Node group it belongs to.
    pub group: Option<Ix>,
    /// What the scheduler needs to know.
    pub sched: SchedNode,
    /// Speed of its cores against a reference core (its instance type's `speed_factor`).
    pub speed: f64,
    /// On-demand price of its instance type, if known.
    pub usd_per_hour: Option<f64>,
}

/// A node group the autoscaler may grow.
#[derive(Debug, Clone)]
pub struct NodeGroup {
    /// Its key.
    pub key: Key,
    /// Template of a new node.
    pub template: SchedNode,
    /// Most nodes.
    pub max_size: u32,
    /// Time to a ready node.
    pub provisioning_s: f64,
}

/// A workload: a deployment, statefulset or daemonset.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Its key.
    pub key: Key,
    /// Desired replicas (pods found, for daemonsets).
    pub replicas: u32,
    /// Pods that must be ready for it to work (a quorum); 1 otherwise.
    pub needed: u32,
    /// Template for replacement pods.
    pub template: SchedPod,
    /// Seconds from scheduling to ready.
    pub startup_s: f64,
    /// Its pods, in key order.
    pub pods: Vec<Ix>,
}

/// A pod.
#[derive(Debug, Clone)]
pub struct Pod {
    /// Its key.
    pub key: Key,
    /// Node it runs on (none when pending).
    pub node: Option<Ix>,
    /// Workload it belongs to.
    pub workload: Option<Ix>,
    /// Whether it is running and ready now.
    pub running: bool,
    /// What the scheduler needs to know.
    pub sched: SchedPod,
}

/// What a station is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    /// An application service.
    Service,
    /// A database or cache.
    Datastore,
    /// A queue.
    Queue,
    /// A dependency outside the estate.
    External,
    /// A workload something depends on directly (CoreDNS).
    Workload,
}

/// How a datastore survives losing its primary.
#[derive(Debug, Clone, PartialEq)]
pub struct Failover {
    /// Seconds until the standby or replica serves.
    pub after_s: f64,
    /// Replica promoted automatically; none for a managed multi-zone standby.
    pub replica: Option<Ix>,
}

/// An endpoint of a station.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its name.
    pub name: String,
    /// Daily-average rate as written.
    pub base_rps: f64,
    /// Rate users send directly, when it is an entry point.
    pub entry: bool,
    /// Hourly factors (24), empty when flat.
    pub profile: Vec<f64>,
    /// Daily factors over a week (7, Monday first), empty when flat.
    pub weekly: Vec<f64>,
    /// Mean own service time.
    pub service_time_ms: f64,
    /// Its coefficient of variation.
    pub service_time_cv: f64,
    /// The shape given, if any.
    pub service_dist: Option<doppel_model::spec::ServiceTimeDist>,
    /// A measured histogram (upper edge ms, weight), if given.
    pub service_histogram: Vec<(f64, f64)>,
    /// Whether the service time was written (else a default was assumed).
    pub service_time_given: bool,
    /// Objectives (its own, else its service's).
    pub slo: Option<Slo>,
}

impl Endpoint {
    /// The one endpoint of a station that declares none (a datastore, a queue).
    fn unnamed() -> Endpoint {
        Endpoint {
            name: String::new(),
            base_rps: 0.0,
            entry: false,
            profile: Vec::new(),
            weekly: Vec::new(),
            service_time_ms: 0.0,
            service_time_cv: 0.0,
            service_dist: None,
            service_histogram: Vec::new(),
            service_time_given: false,
            slo: None,
        }
    }
}

/// Something that answers requests: a service, datastore, queue, external or workload.
#[derive(Debug, Clone)]
pub struct Station {
    /// Its key.
    pub key: Key,
    /// What it is.
    pub kind: StationKind,
    /// The workload its replicas come from.
    pub workload: Option<Ix>,
    /// Zone it is placed in, for placed datastores.
    pub zone: Option<Ix>,
    /// Region it is placed in.
    pub region: Option<Ix>,
    /// Requests one replica works on at once.
    pub concurrency: u32,
    /// Requests one replica lets wait, if bounded.
    pub queue_limit: Option<u32>,
    /// Endpoints (one unnamed endpoint for stations without any).
    pub endpoints: Vec<Endpoint>,
    /// How it survives losing its primary (datastores).
    pub failover: Option<Failover>,
    /// The shortest timeout of its callers: how long a request may wait before it is lost.
    pub caller_timeout_ms: Option<f64>,
    /// Whether it is a datastore replica (serves reads, or stands by).
    pub replica: bool,
}

/// A call from one station to another.
#[derive(Debug, Clone)]
pub struct Call {
    /// Caller.
    pub from: Ix,
    /// Callee.
    pub to: Ix,
    /// Callee endpoint (index), or none for "spread over its endpoints".
    pub endpoint: Option<Ix>,
    /// Calls per request, for each caller endpoint (0 where that endpoint does not call).
    pub per_request: Vec<f64>,
    /// Retries after a failure.
    pub retries: u32,
    /// Time the caller waits.
    pub timeout_ms: Option<f64>,
    /// Wait before each retry, ms.
    pub backoff_ms: f64,
    /// Circuit breaker: consecutive failures that open it, and for how long (ms).
    pub breaker: Option<(u32, f64)>,
    /// Made side by side with the caller's other parallel calls.
    pub parallel: bool,
    /// Time added on the wire, ms.
    pub latency_ms: f64,
    /// Whether the caller fails when the callee does.
    pub hard: bool,
    /// Whether the caller waits for the answer (a publish to a queue counts as waiting).
    pub waits: bool,
    /// A `depends_on`: the caller needs the target to answer at all, not every request to succeed
    /// (DNS clients retry another server, configuration is cached).
    pub needs_up: bool,
}

/// A load balancer in front of services.
#[derive(Debug, Clone)]
pub struct LoadBalancer {
    /// Its key.
    pub key: Key,
    /// Zones its subnets are in.
    pub zones: Vec<Ix>,
    /// Stations it exposes.
    pub exposes: Vec<Ix>,
    /// Seconds to take a dead target or zone out.
    pub detection_s: f64,
    /// DNS TTL of its address.
    pub dns_ttl_s: f64,
}

/// A user-facing entry point: an entry endpoint of a station.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Station.
    pub station: Ix,
    /// Endpoint index.
    pub endpoint: Ix,
    /// Load balancers in front of it.
    pub lbs: Vec<Ix>,
}

/// The whole picture.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// Regions.
    pub regions: Vec<Region>,
    /// Zones.
    pub zones: Vec<Zone>,
    /// Nodes, by key.
    pub nodes: Vec<Node>,
    /// Node groups.
    pub groups: Vec<NodeGroup>,
    /// Workloads.
    pub workloads: Vec<Workload>,
    /// Pods.
    pub pods: Vec<Pod>,
    /// Disruption budgets.
    pub pdbs: Vec<Pdb>,
    /// Stations.
    pub stations: Vec<Station>,
    /// Calls between stations.
    pub calls: Vec<Call>,
    /// Load balancers.
    pub lbs: Vec<LoadBalancer>,
    /// Entry points.
    pub entries: Vec<Entry>,
    /// Where each key is.
    pub index: HashMap<Key, Place>,
    /// Things noticed while building (unknown endpoint names, assumed defaults).
    pub notes: Vec<String>,
}

/// Where a key sits in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A region.
    Region(Ix),
    /// A zone.
    Zone(Ix),
    /// A node.
    Node(Ix),
    /// A workload.
    Workload(Ix),
    /// A pod.
    Pod(Ix),
    /// A station.
    Station(Ix),
    /// A load balancer.
    Lb(Ix),
}

fn sorted_of(view: &(impl TwinView + ?Sized), kind: Kind) -> Vec<&Entity> {
    let mut out: Vec<&Entity> = view.entities_of(kind).collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn targets(view: &(impl TwinView + ?Sized), key: &Key, kind: RelKind) -> Vec<Key> {
    let mut out: Vec<Key> =
        view.out_relations(key).into_iter().filter(|r| r.kind() == kind).map(|r| r.to.clone()).collect();
    out.sort();
    out
}

fn sched_pod(key: &Key, labels: &Labels, template: &PodTemplate) -> SchedPod {
    SchedPod {
        name: key.name().to_string(),
        namespace: key.namespace().unwrap_or_default().to_string(),
        labels: if template.labels.is_empty() { labels.clone() } else { template.labels.clone() },
        requests: template.requests,
        scheduling: template.scheduling.clone(),
    }
}

impl Topology {
    /// Builds the topology of a view (the live twin or a fork).
    pub fn build(view: &(impl TwinView + ?Sized)) -> Topology {
        let mut t = Topology::default();
        t.places(view);
        t.kubernetes(view);
        t.stations(view);
        t.calls_and_entries(view);
        t
    }

    /// The region and zone an entity is placed in, following `located_in` and `runs_on` upwards.
    fn locate(&self, view: &(impl TwinView + ?Sized), key: &Key) -> (Option<Ix>, Option<Ix>) {
        let mut zone = None;
        let mut region = None;
        let mut frontier = vec![key.clone()];
        let mut seen = std::collections::HashSet::new();
        while let Some(k) = frontier.pop() {
            if !seen.insert(k.clone()) || seen.len() > 64 {
                continue;
            }
            match self.index.get(&k) {
                Some(Place::Zone(z)) if zone.is_none() => {
                    zone = Some(*z);
                    region = region.or(self.zones[*z].region);
                }
                Some(Place::Region(r)) if region.is_none() => region = Some(*r),
                _ => {}
            }
            for rel in [RelKind::LocatedIn, RelKind::RunsOn] {
                frontier.extend(targets(view, &k, rel));
            }
        }
        (region, zone)
    }

    fn places(&mut self, view: &(impl TwinView + ?Sized)) {
        for e in sorted_of(view, Kind::Region) {
            let Spec::Region(spec) = &e.spec else { continue };
            self.index.insert(e.key.clone(), Place::Region(self.regions.len()));
            self.regions.push(Region { key: e.key.clone(), standby: spec.standby, failover_s: spec.failover_s });
        }
        for e in sorted_of(view, Kind::Zone) {
            let region = targets(view, &e.key, RelKind::LocatedIn).iter().find_map(|k| match self.index.get(k) {
                Some(Place::Region(r)) => Some(*r),
                _ => None,
            });
            self.index.insert(e.key.clone(), Place::Zone(self.zones.len()));
            self.zones.push(Zone { key: e.key.clone(), region });
        }
    }

    fn kubernetes(&mut self, view: &(impl TwinView + ?Sized)) {
        for e in sorted_of(view, Kind::NodeGroup) {
            let Spec::NodeGroup(spec) = &e.spec else { continue };
            let template = SchedNode {
                name: e.key.name().to_string(),
                labels: spec.node_labels.clone(),
                allocatable: spec.allocatable,
                taints: spec.taints.clone(),
                unschedulable: false,
            };
            self.groups.push(NodeGroup {
                key: e.key.clone(),
                template,
                max_size: spec.max_size,
                provisioning_s: spec.provisioning_s.unwrap_or(defaults::PROVISIONING_S),
            });
        }
        for e in sorted_of(view, Kind::Node) {
            let Spec::Node(spec) = &e.spec else { continue };
            let (region, zone) = self.locate(view, &e.key);
            let group = spec.node_group.as_deref().and_then(|g| self.groups.iter().position(|x| x.key.name() == g));
            self.index.insert(e.key.clone(), Place::Node(self.nodes.len()));
            let sched = SchedNode {
                name: e.key.name().to_string(),
                labels: e.labels.clone(),
                allocatable: spec.allocatable,
                taints: spec.taints.clone(),
                unschedulable: spec.unschedulable,
            };
            let instance = spec
                .instance_type
                .as_deref()
                .and_then(|t| Key::new(Kind::InstanceType, t).ok())
                .and_then(|k| view.entity(&k))
                .and_then(|e| match &e.spec {
                    Spec::InstanceType(t) => Some(t),
                    _ => None,
                });
            let speed = instance.and_then(|t| t.speed_factor).filter(|f| *f > 0.0).unwrap_or(1.0);
            let usd_per_hour = instance.map(|t| t.usd_per_hour);
            self.nodes.push(Node { key: e.key.clone(), zone, region, group, sched, speed, usd_per_hour });
        }
        for kind in [Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet] {
            for e in sorted_of(view, kind) {
                let (replicas, needed, template) = match &e.spec {
                    Spec::Deployment(d) => (d.replicas, 1, &d.template),
                    Spec::StatefulSet(s) => (s.replicas, s.quorum.unwrap_or(1).max(1), &s.template),
                    Spec::DaemonSet(d) => (0, 1, &d.template),
                    _ => continue,
                };
                self.index.insert(e.key.clone(), Place::Workload(self.workloads.len()));
                self.workloads.push(Workload {
                    key: e.key.clone(),
                    replicas,
                    needed,
                    template: sched_pod(&e.key, &e.labels, template),
                    startup_s: template.startup_s.unwrap_or(defaults::STARTUP_S),
                    pods: Vec::new(),
                });
            }
        }
        for e in sorted_of(view, Kind::Pod) {
            let Spec::Pod(spec) = &e.spec else { continue };
            let node = targets(view, &e.key, RelKind::RunsOn).iter().find_map(|k| match self.index.get(k) {
                Some(Place::Node(n)) => Some(*n),
                _ => None,
            });
            let workload = targets(view, &e.key, RelKind::MemberOf).iter().find_map(|k| match self.index.get(k) {
                Some(Place::Workload(w)) => Some(*w),
                _ => None,
            });
            // A pod carries its workload's scheduling constraints; its own requests win.
            let scheduling: Scheduling =
                workload.map(|w| self.workloads[w].template.scheduling.clone()).unwrap_or_default();
            let ix = self.pods.len();
            self.index.insert(e.key.clone(), Place::Pod(ix));
            if let Some(w) = workload {
                self.workloads[w].pods.push(ix);
            }
            self.pods.push(Pod {
                key: e.key.clone(),
                node,
                workload,
                running: spec.phase == PodPhase::Running && node.is_some(),
                sched: SchedPod {
                    name: e.key.name().to_string(),
                    namespace: e.key.namespace().unwrap_or_default().to_string(),
                    labels: e.labels.clone(),
                    requests: spec.requests,
                    scheduling,
                },
            });
        }
        for w in &mut self.workloads {
            if w.key.kind() == Kind::DaemonSet {
                w.replicas = w.pods.len() as u32;
            }
        }
        for e in sorted_of(view, Kind::Pdb) {
            let Spec::Pdb(spec) = &e.spec else { continue };
            self.pdbs.push(Pdb {
                name: e.key.name().to_string(),
                namespace: e.key.namespace().unwrap_or_default().to_string(),
                selector: spec.selector.clone(),
                min_available: spec.min_available,
                max_unavailable: spec.max_unavailable,
            });
        }
    }

    fn workload_of(&self, view: &(impl TwinView + ?Sized), key: &Key) -> Option<Ix> {
        targets(view, key, RelKind::RunsOn).iter().find_map(|k| match self.index.get(k) {
            Some(Place::Workload(w)) => Some(*w),
            _ => None,
        })
    }

    fn stations(&mut self, view: &(impl TwinView + ?Sized)) {
        for kind in [Kind::Service, Kind::Datastore, Kind::Queue, Kind::External] {
            for e in sorted_of(view, kind) {
                let (region, zone) = self.locate(view, &e.key);
                let workload = self.workload_of(view, &e.key);
                let mut station = Station {
                    key: e.key.clone(),
                    kind: StationKind::Service,
                    workload,
                    zone,
                    region,
                    concurrency: defaults::CONCURRENCY,
                    queue_limit: None,
                    endpoints: vec![Endpoint::unnamed()],
                    failover: None,
                    caller_timeout_ms: None,
                    replica: false,
                };
                match &e.spec {
                    Spec::Service(s) => {
                        station.concurrency = s.concurrency.unwrap_or(defaults::CONCURRENCY);
                        station.queue_limit = s.queue_limit;
                        if s.concurrency.is_none() && workload.is_some() {
                            self.notes.push(format!(
                                "{}: no concurrency given; assumed {} request(s) at once per replica",
                                e.key,
                                defaults::CONCURRENCY
                            ));
                        }
                        if !s.endpoints.is_empty() {
                            station.endpoints = s
                                .endpoints
                                .iter()
                                .map(|ep| Endpoint {
                                    name: ep.name.clone(),
                                    base_rps: ep.rate_rps.unwrap_or(0.0),
                                    entry: ep.entry,
                                    profile: ep.daily_profile.clone(),
                                    weekly: ep.weekly_profile.clone(),
                                    service_dist: ep.service_time.as_ref().and_then(|t| t.dist),
                                    service_histogram: ep
                                        .service_time
                                        .as_ref()
                                        .map(|t| t.histogram.iter().map(|b| (b.upper_ms, b.weight)).collect())
                                        .unwrap_or_default(),
                                    service_time_given: ep.service_time.is_some(),
                                    service_time_ms: ep
                                        .service_time
                                        .as_ref()
                                        .map(|t| t.mean_ms)
                                        .unwrap_or(defaults::SERVICE_TIME_MS),
                                    service_time_cv: ep.service_time.as_ref().and_then(|t| t.cv).unwrap_or(1.0),
                                    slo: ep.slo.clone().or_else(|| s.slo.clone()),
                                })
                                .collect();
                        } else {
                            station.endpoints[0].slo = s.slo.clone();
                        }
                    }
                    Spec::Datastore(d) => {
                        station.kind = StationKind::Datastore;
                        station.replica = d.role == doppel_model::spec::DatastoreRole::Replica;
                        if d.multi_zone {
                            station.failover = Some(Failover { after_s: d.failover_s.unwrap_or(60.0), replica: None });
                        }
                    }
                    Spec::Queue(_) => station.kind = StationKind::Queue,
                    Spec::External(_) => station.kind = StationKind::External,
                    _ => continue,
                }
                self.index.insert(e.key.clone(), Place::Station(self.stations.len()));
                self.stations.push(station);
            }
        }
        // Promotion of replicas: the first automatic target of each primary.
        for s in 0..self.stations.len() {
            let key = self.stations[s].key.clone();
            for rel in view.out_relations(&key) {
                let RelSpec::ReplicatesTo(attrs) = rel.spec else { continue };
                if !attrs.auto_failover || self.stations[s].failover.as_ref().is_some_and(|f| f.replica.is_some()) {
                    continue;
                }
                let Some(Place::Station(r)) = self.index.get(rel.to).copied() else { continue };
                let after_s = match view.entity(&key).map(|e| &e.spec) {
                    Some(Spec::Datastore(d)) => d.failover_s.unwrap_or(60.0),
                    _ => 60.0,
                };
                // A replica takes over the primary's role; a multi-zone standby is then moot.
                self.stations[s].failover = Some(Failover { after_s, replica: Some(r) });
            }
        }
    }

    /// The station for a dependency target that is a workload (CoreDNS), created on demand.
    fn workload_station(&mut self, w: Ix) -> Ix {
        let key = self.workloads[w].key.clone();
        if let Some(s) = self.stations.iter().position(|s| s.kind == StationKind::Workload && s.workload == Some(w)) {
            return s;
        }
        let ix = self.stations.len();
        self.stations.push(Station {
            key: key.clone(),
            kind: StationKind::Workload,
            workload: Some(w),
            zone: None,
            region: None,
            concurrency: u32::MAX,
            queue_limit: None,
            endpoints: vec![Endpoint::unnamed()],
            failover: None,
            caller_timeout_ms: None,
            replica: false,
        });
        ix
    }

    fn calls_and_entries(&mut self, view: &(impl TwinView + ?Sized)) {
        for from in 0..self.stations.len() {
            let key = self.stations[from].key.clone();
            let mut out: Vec<_> =
                view.out_relations(&key).into_iter().map(|r| (r.to.clone(), r.spec.clone())).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            for (to_key, spec) in out {
                match spec {
                    RelSpec::Calls(attrs) => {
                        let Some(Place::Station(to)) = self.index.get(&to_key).copied() else { continue };
                        let endpoint = match &attrs.endpoint {
                            Some(name) => {
                                let found = self.stations[to].endpoints.iter().position(|e| &e.name == name);
                                if found.is_none() {
                                    self.notes.push(format!(
                                        "{key} calls endpoint `{name}` of {to_key}, which has no such endpoint"
                                    ));
                                }
                                found
                            }
                            None => None,
                        };
                        let per_request =
                            self.per_request(from, &key, &attrs.from_endpoints, attrs.fan_out.unwrap_or(1.0));
                        let waits = attrs.mode == CallMode::Sync || self.stations[to].kind == StationKind::Queue;
                        self.calls.push(Call {
                            from,
                            to,
                            endpoint,
                            per_request,
                            retries: attrs.retries,
                            timeout_ms: attrs.timeout_ms,
                            backoff_ms: attrs.backoff_ms.unwrap_or(0.0),
                            breaker: attrs.breaker.as_ref().map(|b| (b.failures, b.open_ms)),
                            parallel: attrs.parallel,
                            latency_ms: attrs.latency_ms.unwrap_or(0.0),
                            hard: attrs.criticality == Criticality::Hard,
                            waits: waits && self.stations[from].kind != StationKind::Queue,
                            needs_up: false,
                        });
                    }
                    RelSpec::DependsOn(attrs) => {
                        let to = match self.index.get(&to_key).copied() {
                            Some(Place::Station(s)) => s,
                            Some(Place::Workload(w)) => self.workload_station(w),
                            _ => continue,
                        };
                        let n = self.stations[from].endpoints.len();
                        self.calls.push(Call {
                            from,
                            to,
                            endpoint: None,
                            per_request: vec![1.0; n],
                            retries: 0,
                            timeout_ms: None,
                            backoff_ms: 0.0,
                            breaker: None,
                            parallel: false,
                            latency_ms: 0.0,
                            hard: attrs.criticality == Criticality::Hard,
                            waits: true,
                            needs_up: true,
                        });
                    }
                    _ => {}
                }
            }
        }
        for e in sorted_of(view, Kind::LoadBalancer) {
            let Spec::LoadBalancer(spec) = &e.spec else { continue };
            let mut zones: Vec<Ix> = Vec::new();
            for subnet in targets(view, &e.key, RelKind::LocatedIn) {
                if let (_, Some(z)) = self.locate(view, &subnet) {
                    zones.push(z);
                }
            }
            zones.sort_unstable();
            zones.dedup();
            let exposes: Vec<Ix> = targets(view, &e.key, RelKind::Exposes)
                .iter()
                .filter_map(|k| match self.index.get(k) {
                    Some(Place::Station(s)) => Some(*s),
                    _ => None,
                })
                .collect();
            let detection_s = spec
                .health_check
                .as_ref()
                .map(|h| h.interval_s * f64::from(h.unhealthy_threshold.max(1)))
                .unwrap_or(defaults::LB_DETECTION_S);
            self.index.insert(e.key.clone(), Place::Lb(self.lbs.len()));
            self.lbs.push(LoadBalancer {
                key: e.key.clone(),
                zones,
                exposes,
                detection_s,
                dns_ttl_s: spec.dns_ttl_s.unwrap_or(0.0),
            });
        }
        for c in &self.calls {
            if let Some(t) = c.timeout_ms {
                let slot = &mut self.stations[c.to].caller_timeout_ms;
                *slot = Some(slot.map_or(t, |old| old.min(t)));
            }
        }
        for s in 0..self.stations.len() {
            for (i, ep) in self.stations[s].endpoints.iter().enumerate() {
                if ep.entry {
                    let lbs = (0..self.lbs.len()).filter(|&l| self.lbs[l].exposes.contains(&s)).collect();
                    self.entries.push(Entry { station: s, endpoint: i, lbs });
                }
            }
        }
    }

    /// Calls per request of each caller endpoint, from a fan-out per request of the whole caller.
    fn per_request(&mut self, from: Ix, key: &Key, names: &[String], fan_out: f64) -> Vec<f64> {
        let endpoints = &self.stations[from].endpoints;
        let total: f64 = endpoints.iter().map(|e| e.base_rps).sum();
        let chosen: Vec<bool> = if names.is_empty() {
            vec![true; endpoints.len()]
        } else {
            for name in names {
                if !endpoints.iter().any(|e| &e.name == name) {
                    self.notes.push(format!("{key}: from_endpoints names `{name}`, which is not one of its endpoints"));
                }
            }
            endpoints.iter().map(|e| names.contains(&e.name)).collect()
        };
        let endpoints = &self.stations[from].endpoints;
        let share: f64 = endpoints.iter().zip(&chosen).filter(|(_, c)| **c).map(|(e, _)| e.base_rps).sum();
        let per = if share > 0.0 && total > 0.0 { fan_out * total / share } else { fan_out };
        chosen.iter().map(|&c| if c { per } else { 0.0 }).collect()
    }
}
