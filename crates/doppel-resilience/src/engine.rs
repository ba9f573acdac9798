//! Running a scenario: what the faults take down, what Kubernetes does about it over time,
//! and, at each instant that matters, how load and failure cascade through the call graph.

use crate::report::{Event, PendingPod, Report, Shortfall, duration};
use crate::scenario::{Action, Scenario};
use crate::topology::{Endpoint, Ix, Place, StationKind, Topology, defaults};
use doppel_model::relation::RelKind;
use doppel_model::spec::{Taint, TaintEffect};
use doppel_model::{Key, Kind, TwinView};
use doppel_perf::{LoadModel, StationLoad};
use doppel_sched::{Cluster, NodeId, PodId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Error share at or above which a station or entry point counts as down.
pub const DOWN_AT: f64 = 0.5;
/// Error share at or above which it counts as degraded.
pub const DEGRADED_AT: f64 = 0.001;
/// Utilisation at or above which a station counts as degraded: near saturation, waiting
/// grows without bound, which the utilisation law alone does not show.
pub const SATURATED_AT: f64 = 0.9;

/// One pod's life in the scenario: when it serves and when it leaves the endpoints.
#[derive(Debug, Clone)]
struct Life {
    ready_from: f64,
    ready_until: f64,
    endpoints_until: f64,
}

/// A degradation window: from, to, added latency, error share, capacity lost.
type Degradation = (f64, f64, f64, f64, f64);

/// Everything the faults and Kubernetes decide, before any load is applied.
#[derive(Debug, Default)]
struct Timeline {
    /// Lives of each workload's pods.
    lives: Vec<Vec<Life>>,
    /// Per station: intervals in which it is failed outright, with the fault's text.
    failed: Vec<Vec<(f64, f64, String)>>,
    /// Per station: degradations.
    degraded: Vec<Vec<Degradation>>,
    /// Per station: time its placement died (zone, host, region), permanent.
    placed_dead: Vec<Option<(f64, String)>>,
    /// Per load balancer: (time, share of its zones lost).
    lb_loss: Vec<Option<(f64, f64)>>,
    /// Per region: when it was lost, if it was.
    region_dead: Vec<Option<f64>>,
    /// Per workload: the scheduler's reason for pods left pending, and when.
    pending: Vec<PendingPod>,
    /// What happened, in time order.
    events: Vec<Event>,
    /// Instants at which something changes.
    instants: BTreeSet<u64>,
    /// Notes for the report.
    notes: Vec<String>,
    /// Capacity asked for by pending pods at the worst moment.
    shortfall: Shortfall,
}

fn ms(t: f64) -> u64 {
    (t * 1000.0).round() as u64
}

/// What placement failure kills: every entity whose `located_in`/`runs_on` parents of some
/// kind are all dead (a node in a dead zone; not a load balancer with subnets in other zones).
fn contained(view: &(impl TwinView + ?Sized), root: &Key) -> HashSet<Key> {
    let mut dead: HashSet<Key> = HashSet::from([root.clone()]);
    let mut queue = vec![root.clone()];
    while let Some(k) = queue.pop() {
        let mut children: Vec<Key> = view
            .in_relations(&k)
            .into_iter()
            .filter(|r| matches!(r.kind(), RelKind::LocatedIn | RelKind::RunsOn))
            .map(|r| r.from.clone())
            .collect();
        children.sort();
        for child in children {
            if dead.contains(&child) {
                continue;
            }
            let mut groups: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
            for r in view.out_relations(&child) {
                if matches!(r.kind(), RelKind::LocatedIn | RelKind::RunsOn) {
                    let g = groups.entry(r.to.kind()).or_default();
                    g.0 += 1;
                    g.1 += usize::from(dead.contains(r.to));
                }
            }
            if groups.values().any(|(all, gone)| all == gone) {
                dead.insert(child.clone());
                queue.push(child);
            }
        }
    }
    dead
}

impl Timeline {
    fn mark(&mut self, t: f64) {
        self.instants.insert(ms(t));
    }

    /// The instants at which something changes, in seconds, up to `horizon_s`.
    fn instants_until(&self, horizon_s: f64) -> Vec<f64> {
        let mut instants: Vec<f64> =
            self.instants.iter().map(|&m| m as f64 / 1000.0).filter(|&t| t <= horizon_s).collect();
        instants.dedup();
        instants
    }

    fn event(&mut self, t: f64, what: String) {
        self.mark(t);
        self.events.push(Event { t_s: t, what });
    }
}

/// Runs a checked scenario on a view and its topology with a load model.
pub fn run(view: &(impl TwinView + ?Sized), topo: &Topology, scenario: &Scenario, model: &dyn LoadModel) -> Report {
    let tl = timeline(view, topo, scenario);
    let loads = Loads::new(topo, scenario);
    let instants = tl.instants_until(scenario.horizon_s);
    let baseline = cascade(topo, &tl, &loads, model, -1.0);
    let phases: Vec<(f64, Phase)> = instants.iter().map(|&t| (t, cascade(topo, &tl, &loads, model, t))).collect();
    crate::report::build(topo, scenario, model.name(), &baseline, &phases, tl.events, tl.pending, tl.shortfall, {
        let mut notes = topo.notes.clone();
        notes.extend(tl.notes);
        notes
    })
}

/// A station's own condition at one instant of a scenario, before any load is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct StationCondition {
    /// Share of requests it can answer (0: down).
    pub ok_share: f64,
    /// What is wrong with it, if anything.
    pub why: Option<String>,
    /// Ready and desired replicas (replicated services only).
    pub replicas: Option<(u32, u32)>,
    /// Requests it can serve at once (infinite: not bounded by replicas).
    pub servers: f64,
    /// Latency added to every request by degradations, ms.
    pub added_latency_ms: f64,
}

/// Every station's own condition (in the topology's order) from `t_s` until the next instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Seconds after the scenario starts.
    pub t_s: f64,
    /// Per topology station.
    pub stations: Vec<StationCondition>,
}

/// What a scenario does to each station over time, before load: the instants at which
/// something changes (the first is 0), and the events in time order.
pub fn conditions(
    view: &(impl TwinView + ?Sized),
    topo: &Topology,
    scenario: &Scenario,
) -> (Vec<Condition>, Vec<Event>) {
    let tl = timeline(view, topo, scenario);
    let instants = tl.instants_until(scenario.horizon_s);
    let conditions = instants
        .into_iter()
        .map(|t| {
            let own = own_state(topo, &tl, t);
            let stations = (0..topo.stations.len())
                .map(|s| StationCondition {
                    ok_share: own.own_ok[s],
                    why: own.own[s].clone(),
                    replicas: own.replicas[s],
                    servers: own.servers[s],
                    added_latency_ms: own.extra_latency[s],
                })
                .collect();
            Condition { t_s: t, stations }
        })
        .collect();
    (conditions, tl.events)
}

/// What the faults and Kubernetes decide, with events in time order.
fn timeline(view: &(impl TwinView + ?Sized), topo: &Topology, scenario: &Scenario) -> Timeline {
    let mut tl = Timeline {
        lives: vec![Vec::new(); topo.workloads.len()],
        failed: vec![Vec::new(); topo.stations.len()],
        degraded: vec![Vec::new(); topo.stations.len()],
        placed_dead: vec![None; topo.stations.len()],
        lb_loss: vec![None; topo.lbs.len()],
        region_dead: vec![None; topo.regions.len()],
        ..Timeline::default()
    };
    tl.mark(0.0);
    tl.mark(scenario.horizon_s);
    let (node_dead, pod_dead, crashed) = expand_faults(view, topo, scenario, &mut tl);
    kubernetes(topo, scenario, &node_dead, &pod_dead, &crashed, &mut tl);
    for (s, st) in topo.stations.iter().enumerate() {
        if let (Some((t, _)), Some(f)) = (&tl.placed_dead[s], &st.failover) {
            let t = *t + f.after_s;
            let possible = match f.replica {
                Some(r) => tl.placed_dead[r].is_none(),
                None => st.region.is_none_or(|r| !region_lost(&tl, r, t)),
            };
            if t < scenario.horizon_s && possible {
                let who =
                    f.replica.map_or("its standby in another zone".to_string(), |r| topo.stations[r].key.to_string());
                tl.event(t, format!("{} fails over to {who}", st.key));
            }
        }
    }
    for (l, lb) in topo.lbs.iter().enumerate() {
        if let Some((t, share)) = tl.lb_loss[l]
            && share < 1.0
        {
            let t = t + lb.detection_s + lb.dns_ttl_s;
            tl.event(t, format!("{} stops sending to its lost zones (health checks, then DNS TTL)", lb.key));
        }
    }
    tl.events.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    tl
}

/// Node death times, direct pod deaths, and pods that crash without replacement.
fn expand_faults(
    view: &(impl TwinView + ?Sized),
    topo: &Topology,
    scenario: &Scenario,
    tl: &mut Timeline,
) -> (Vec<Option<f64>>, Vec<Option<f64>>, Vec<bool>) {
    let mut node_dead: Vec<Option<f64>> = vec![None; topo.nodes.len()];
    let mut pod_dead: Vec<Option<f64>> = vec![None; topo.pods.len()];
    let mut crashed = vec![false; topo.pods.len()];
    let earliest = |slot: &mut Option<f64>, t: f64| {
        if slot.is_none_or(|old| t < old) {
            *slot = Some(t);
        }
    };
    for fault in &scenario.faults {
        let t = fault.at_s;
        let end = fault.for_s.map_or(f64::INFINITY, |d| t + d);
        if end.is_finite() {
            tl.mark(end);
        }
        match fault.action {
            Action::Degrade { latency_ms, error_rate, capacity_loss } => {
                for key in &fault.targets {
                    if let Some(Place::Station(s)) = topo.index.get(key) {
                        tl.degraded[*s].push((t, end, latency_ms, error_rate, capacity_loss));
                    }
                }
                tl.event(t, format!("{} degraded", fault.selector));
                if end.is_finite() {
                    tl.event(end, format!("{} recovers", fault.selector));
                }
            }
            Action::Fail => {
                let mut summary: BTreeMap<&'static str, usize> = BTreeMap::new();
                for key in &fault.targets {
                    match topo.index.get(key) {
                        Some(Place::Station(s)) => {
                            // A permanent failure is a lost instance: failover applies.
                            if end.is_finite() {
                                tl.failed[*s].push((t, end, format!("{key} failed")));
                            } else if tl.placed_dead[*s].is_none() {
                                tl.placed_dead[*s] = Some((t, format!("{key} failed")));
                            }
                            *summary.entry("stations").or_default() += 1;
                            continue;
                        }
                        Some(Place::Pod(p)) => {
                            earliest(&mut pod_dead[*p], t);
                            *summary.entry("pods").or_default() += 1;
                            continue;
                        }
                        Some(Place::Workload(w)) => {
                            for &p in &topo.workloads[*w].pods {
                                earliest(&mut pod_dead[p], t);
                                crashed[p] = true;
                            }
                        }
                        _ => {}
                    }
                    let dead = contained(view, key);
                    let mut dead_sorted: Vec<&Key> = dead.iter().collect();
                    dead_sorted.sort();
                    for k in dead_sorted {
                        match topo.index.get(k) {
                            Some(Place::Node(n)) => {
                                earliest(&mut node_dead[*n], t);
                                *summary.entry("nodes").or_default() += 1;
                            }
                            Some(Place::Station(s)) if tl.placed_dead[*s].is_none() => {
                                tl.placed_dead[*s] = Some((t, format!("{} lost with {key}", topo.stations[*s].key)));
                                *summary.entry("stations").or_default() += 1;
                            }
                            _ => {}
                        }
                    }
                    for (r, region) in topo.regions.iter().enumerate() {
                        if dead.contains(&region.key) && tl.region_dead[r].is_none_or(|old| t < old) {
                            tl.region_dead[r] = Some(t);
                        }
                    }
                    for (l, lb) in topo.lbs.iter().enumerate() {
                        if dead.contains(&lb.key) {
                            tl.lb_loss[l] = Some((t, 1.0));
                            continue;
                        }
                        let lost = lb.zones.iter().filter(|&&z| dead.contains(&topo.zones[z].key)).count();
                        if lost > 0 && !lb.zones.is_empty() {
                            let share = lost as f64 / lb.zones.len() as f64;
                            if tl.lb_loss[l].is_none_or(|(_, s)| s < share) {
                                tl.lb_loss[l] = Some((t, share));
                            }
                        }
                    }
                    if matches!(key.kind(), Kind::Region)
                        && let Some(standby) = topo.regions.iter().find(|r| r.standby && &r.key != key)
                    {
                        let carried: Vec<&Key> = topo
                            .entries
                            .iter()
                            .map(|e| &topo.stations[e.station])
                            .filter(|st| st.workload.is_some() || st.region.is_some())
                            .map(|st| &st.key)
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect();
                        let in_standby = topo
                            .stations
                            .iter()
                            .filter(|s| s.region.is_some_and(|r| topo.regions[r].key == standby.key))
                            .count();
                        tl.notes.push(format!(
                            "standby region {} (failover in {}) holds {in_standby} station(s) and no replicas of {}: it cannot carry the load",
                            standby.key,
                            standby.failover_s.map_or("an unknown time".to_string(), duration),
                            carried.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
                let what: Vec<String> = summary
                    .iter()
                    .map(|(k, v)| format!("{v} {}", if *v == 1 { k.trim_end_matches('s') } else { k }))
                    .collect();
                tl.event(
                    t,
                    if what.is_empty() {
                        format!("{} fails", fault.selector)
                    } else {
                        format!("{} fails: {}", fault.selector, what.join(", "))
                    },
                );
            }
        }
    }
    (node_dead, pod_dead, crashed)
}

/// Evictions, replacement pods placed by the scheduler, the autoscaler: pod lives over time.
fn kubernetes(
    topo: &Topology,
    scenario: &Scenario,
    node_dead: &[Option<f64>],
    pod_dead: &[Option<f64>],
    crashed: &[bool],
    tl: &mut Timeline,
) {
    let mut cluster = Cluster::new(topo.nodes.iter().map(|n| n.sched.clone()).collect());
    let mut bound: Vec<Option<PodId>> = vec![None; topo.pods.len()];
    for (p, pod) in topo.pods.iter().enumerate() {
        if let (Some(n), true) = (pod.node, pod.running) {
            bound[p] = Some(cluster.bind(pod.sched.clone(), NodeId(n as u32)));
        }
    }
    // Death time of each pod and when it leaves the endpoints.
    let mut death: Vec<Option<(f64, f64)>> = vec![None; topo.pods.len()];
    for (p, pod) in topo.pods.iter().enumerate() {
        let by_node = pod.node.and_then(|n| node_dead[n]).map(|t| (t, t + defaults::NODE_MONITOR_GRACE_S));
        let direct = pod_dead[p].map(|t| (t, t));
        death[p] = match (by_node, direct) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
    }
    // Events in time order: NotReady taints, then evictions (node deaths) or immediate replacement (pod deaths).
    #[derive(Debug)]
    enum Ev {
        NotReady(usize),
        Evict(usize),
        Replace(usize),
    }
    let mut evs: Vec<(f64, u8, usize, Ev)> = Vec::new();
    for (n, t) in node_dead.iter().enumerate() {
        if let Some(t) = t {
            evs.push((t + defaults::NODE_MONITOR_GRACE_S, 0, n, Ev::NotReady(n)));
            evs.push((t + defaults::NODE_MONITOR_GRACE_S + defaults::TOLERATION_S, 1, n, Ev::Evict(n)));
        }
    }
    for (p, t) in pod_dead.iter().enumerate() {
        if let Some(t) = t
            && !crashed[p]
            && topo.pods[p].node.is_none_or(|n| node_dead[n].is_none_or(|d| d > *t))
        {
            evs.push((*t, 2, p, Ev::Replace(p)));
        }
    }
    evs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut groups: Vec<doppel_sched::NodeGroup> = topo
        .groups
        .iter()
        .map(|g| {
            let current =
                topo.nodes.iter().filter(|n| n.group.is_some_and(|x| topo.groups[x].key == g.key)).count() as u32;
            doppel_sched::NodeGroup {
                name: g.key.name().to_string(),
                template: g.template.clone(),
                max_size: g.max_size,
                current,
                provisioning_s: g.provisioning_s,
            }
        })
        .collect();
    let mut replacements = 0usize;
    let mut evicted_batch: Vec<(f64, Vec<usize>)> = Vec::new();
    for (t, _, _, ev) in evs {
        if t > scenario.horizon_s {
            break;
        }
        match ev {
            Ev::NotReady(n) => {
                cluster.add_taint(NodeId(n as u32), unreachable(TaintEffect::NoSchedule));
                cluster.add_taint(NodeId(n as u32), unreachable(TaintEffect::NoExecute));
                tl.event(t, format!("{} NotReady: its pods leave the endpoints", topo.nodes[n].key));
            }
            Ev::Evict(n) => {
                let mut batch = Vec::new();
                for (p, pod) in topo.pods.iter().enumerate() {
                    if pod.node == Some(n) && pod.running && !crashed[p] {
                        batch.push(p);
                    }
                }
                match evicted_batch.last_mut() {
                    Some((bt, b)) if *bt == t => b.extend(batch),
                    _ => evicted_batch.push((t, batch)),
                }
            }
            Ev::Replace(p) => evicted_batch.push((t, vec![p])),
        }
    }
    for (t, batch) in evicted_batch {
        let mut pending: Vec<(usize, doppel_sched::SchedPod)> = Vec::new();
        let mut placed = 0;
        let mut kept = Vec::new();
        for p in batch {
            if let Some(id) = bound[p] {
                cluster.set_terminating(id);
            }
            let Some(w) = topo.pods[p].workload else { continue };
            let wl = &topo.workloads[w];
            match wl.key.kind() {
                Kind::Deployment => {}
                Kind::StatefulSet if pod_dead[p].is_some() => {}
                Kind::StatefulSet => {
                    kept.push(topo.pods[p].key.to_string());
                    continue;
                }
                _ => continue,
            }
            replacements += 1;
            let mut pod = wl.template.clone();
            pod.name = format!("{}-replacement-{replacements}", wl.key.name());
            match cluster.place(pod) {
                Ok(_) => {
                    placed += 1;
                    let ready = t + wl.startup_s;
                    tl.lives[w].push(Life {
                        ready_from: ready,
                        ready_until: f64::INFINITY,
                        endpoints_until: f64::INFINITY,
                    });
                    tl.mark(ready);
                }
                Err((pod, _)) => pending.push((w, pod)),
            }
        }
        if !kept.is_empty() {
            tl.notes.push(format!(
                "statefulset pods on unreachable nodes are not replaced until the node object is deleted (Kubernetes keeps at most one pod per identity): {}",
                kept.join(", ")
            ));
        }
        tl.event(
            t,
            format!(
                "pods evicted; {placed} replacement(s) placed{}",
                if pending.is_empty() { String::new() } else { format!(", {} pending", pending.len()) }
            ),
        );
        // Pending pods: the scheduler's reason now, then the autoscaler.
        let mut still: Vec<(usize, doppel_sched::SchedPod, String)> = Vec::new();
        for (w, pod) in pending {
            let reason = match cluster.schedule(&pod) {
                Ok(_) => String::from("placed late"),
                Err(u) => u.to_string(),
            };
            still.push((w, pod, reason));
        }
        if scenario.autoscaler && !still.is_empty() && !groups.is_empty() {
            let decide = t + defaults::AUTOSCALER_SCAN_S;
            // New nodes land in the surviving zone with fewest nodes of their group.
            for (g, group) in groups.iter_mut().enumerate() {
                let zone = best_zone(topo, g, node_dead);
                if zone.is_none() {
                    // No surviving zone to grow into.
                    group.max_size = group.current;
                }
                if let Some(zone) = zone {
                    let mut labels: Vec<(String, String)> =
                        group.template.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    labels.retain(|(k, _)| k != "topology.kubernetes.io/zone");
                    labels.push(("topology.kubernetes.io/zone".into(), topo.zones[zone].key.name().to_string()));
                    group.template.labels = doppel_model::Labels::from_pairs(labels);
                }
            }
            let pods: Vec<doppel_sched::SchedPod> = still.iter().map(|(_, p, _)| p.clone()).collect();
            let owners: HashMap<String, usize> = still.iter().map(|(w, p, _)| (p.name.clone(), *w)).collect();
            let up = doppel_sched::autoscale(&mut cluster, &mut groups, pods);
            let mut added_at: HashMap<u32, f64> = HashMap::new();
            for (g, node) in &up.added {
                let ready = decide + groups[*g].provisioning_s;
                added_at.insert(node.0, ready);
                tl.event(
                    ready,
                    format!("autoscaler: node {} of group {} ready", cluster.node(*node).name, groups[*g].name),
                );
            }
            for (pod, node) in &up.placed {
                let name = &cluster.pod(*pod).name;
                let Some(&w) = owners.get(name) else { continue };
                let ready = added_at.get(&node.0).copied().unwrap_or(decide) + topo.workloads[w].startup_s;
                tl.lives[w].push(Life {
                    ready_from: ready,
                    ready_until: f64::INFINITY,
                    endpoints_until: f64::INFINITY,
                });
                tl.mark(ready);
            }
            still = up
                .pending
                .into_iter()
                .filter_map(|(pod, u)| owners.get(&pod.name).map(|&w| (w, pod, u.to_string())))
                .collect();
        }
        for (w, pod, reason) in still {
            tl.shortfall.pods += 1;
            tl.shortfall.cores += pod.requests.cpu.0;
            tl.shortfall.memory_gib += pod.requests.memory.gib();
            tl.pending.push(PendingPod { workload: topo.workloads[w].key.clone(), since_s: t, reason });
        }
    }
    // Lives of the original pods.
    for (p, pod) in topo.pods.iter().enumerate() {
        let Some(w) = pod.workload else { continue };
        if !pod.running {
            continue;
        }
        let (until, endpoints_until) = death[p].unwrap_or((f64::INFINITY, f64::INFINITY));
        tl.lives[w].push(Life { ready_from: f64::NEG_INFINITY, ready_until: until, endpoints_until });
        if until.is_finite() {
            tl.mark(until);
            tl.mark(endpoints_until);
        }
    }
}

fn unreachable(effect: TaintEffect) -> Taint {
    Taint { key: "node.kubernetes.io/unreachable".into(), value: None, effect }
}

/// The surviving zone with the fewest nodes of group `g`, where the autoscaler adds a node.
fn best_zone(topo: &Topology, g: usize, node_dead: &[Option<f64>]) -> Option<Ix> {
    let mut count: BTreeMap<Ix, usize> = BTreeMap::new();
    for (n, node) in topo.nodes.iter().enumerate() {
        if node.group == Some(g)
            && let Some(z) = node.zone
        {
            let e = count.entry(z).or_default();
            if node_dead[n].is_none() {
                *e += 1;
            }
        }
    }
    let dead_zones: HashSet<Ix> = topo
        .nodes
        .iter()
        .enumerate()
        .filter(|(n, node)| node.group == Some(g) && node_dead[*n].is_some())
        .filter_map(|(_, node)| node.zone)
        .filter(|z| {
            topo.nodes.iter().enumerate().filter(|(_, x)| x.zone == Some(*z)).all(|(i, _)| node_dead[i].is_some())
        })
        .collect();
    count.into_iter().filter(|(z, _)| !dead_zones.contains(z)).min_by_key(|(z, c)| (*c, *z)).map(|(z, _)| z)
}

/// Entry and background arrival rates at the scenario's load.
struct Loads {
    /// Per station, per endpoint: rate arriving from outside the call graph.
    outside: Vec<Vec<f64>>,
}

impl Loads {
    fn new(topo: &Topology, scenario: &Scenario) -> Loads {
        let hour = scenario.load.hour(topo);
        let called: HashSet<(Ix, Option<Ix>)> = topo.calls.iter().map(|c| (c.to, c.endpoint)).collect();
        let outside = topo
            .stations
            .iter()
            .enumerate()
            .map(|(s, st)| {
                st.endpoints
                    .iter()
                    .enumerate()
                    .map(|(e, ep)| {
                        let reached = called.contains(&(s, Some(e))) || called.contains(&(s, None));
                        if !ep.entry && reached {
                            return 0.0;
                        }
                        let factor = hour.and_then(|h| ep.profile.get(h).copied()).unwrap_or(1.0);
                        ep.base_rps * factor * scenario.load.factor
                    })
                    .collect()
            })
            .collect();
        Loads { outside }
    }
}

/// The hour of the day with the most entry traffic.
pub fn peak_hour(topo: &Topology) -> usize {
    (0..24)
        .map(|h| {
            let total: f64 = topo
                .entries
                .iter()
                .map(|e| {
                    let ep = &topo.stations[e.station].endpoints[e.endpoint];
                    ep.base_rps * ep.profile.get(h).copied().unwrap_or(1.0)
                })
                .sum();
            (h, total)
        })
        .fold((0, f64::MIN), |best, x| if x.1 > best.1 { x } else { best })
        .0
}

/// The state of every station and entry point at one instant.
#[derive(Debug, Clone)]
pub(crate) struct Phase {
    /// Per station, per endpoint: share of requests that succeed.
    pub success: Vec<Vec<f64>>,
    /// Per station, per endpoint: mean latency.
    pub latency: Vec<Vec<f64>>,
    /// Per station, per endpoint: arrivals.
    pub arrivals: Vec<Vec<f64>>,
    /// Per station: utilisation.
    pub utilisation: Vec<f64>,
    /// Per station: what is wrong with it itself, if anything.
    pub own: Vec<Option<String>>,
    /// Per station: its own success share.
    pub own_ok: Vec<f64>,
    /// Per station, per endpoint: soft dependencies currently failing.
    pub soft: Vec<Vec<Vec<Ix>>>,
    /// Per entry: share lost at the load balancer, with the reason.
    pub lb: Vec<Option<(f64, String)>>,
    /// Per station: ready and desired replicas.
    pub replicas: Vec<Option<(u32, u32)>>,
}

impl Phase {
    /// Success of a call's target (the named endpoint, else the rate-weighted mean).
    pub fn target_success(&self, topo: &Topology, to: Ix, endpoint: Option<Ix>) -> f64 {
        match endpoint {
            Some(e) => self.success[to][e],
            None => weighted(&self.success[to], &self.arrivals[to], &topo.stations[to].endpoints),
        }
    }

    /// Latency of a call's target.
    pub fn target_latency(&self, topo: &Topology, to: Ix, endpoint: Option<Ix>) -> f64 {
        match endpoint {
            Some(e) => self.latency[to][e],
            None => weighted(&self.latency[to], &self.arrivals[to], &topo.stations[to].endpoints),
        }
    }
}

/// Mean of per-endpoint `values` weighted by `weights` (arrivals), else by the endpoints'
/// written rates, else plain.
pub(crate) fn weighted(values: &[f64], weights: &[f64], endpoints: &[Endpoint]) -> f64 {
    let total: f64 = weights.iter().sum();
    if total > 0.0 {
        return values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total;
    }
    let base: f64 = endpoints.iter().map(|e| e.base_rps).sum();
    if base > 0.0 {
        return values.iter().zip(endpoints).map(|(v, e)| v * e.base_rps).sum::<f64>() / base;
    }
    if values.is_empty() { 1.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// Expected attempts of a call with `retries` when each attempt succeeds with `p`.
fn attempts(p: f64, retries: u32) -> f64 {
    let fail = (1.0 - p).clamp(0.0, 1.0);
    (0..=retries).map(|i| fail.powi(i as i32)).sum()
}

/// Probability that the calls one request makes (`n` on average) all succeed, each with retries.
fn calls_succeed(p: f64, retries: u32, n: f64) -> f64 {
    let q = 1.0 - (1.0 - p).clamp(0.0, 1.0).powi(retries as i32 + 1);
    if n <= 1.0 { 1.0 - n * (1.0 - q) } else { q.powf(n) }
}

/// Each station's own condition at `t`, before load: per station, the share of requests it
/// can answer, what is wrong with it, its servers, added latency, ready and desired replicas.
struct Own {
    own_ok: Vec<f64>,
    own: Vec<Option<String>>,
    servers: Vec<f64>,
    extra_latency: Vec<f64>,
    replicas: Vec<Option<(u32, u32)>>,
}

fn own_state(topo: &Topology, tl: &Timeline, t: f64) -> Own {
    let n = topo.stations.len();
    let mut own_ok = vec![1.0; n];
    let mut own: Vec<Option<String>> = vec![None; n];
    let mut servers = vec![f64::INFINITY; n];
    let mut extra_latency = vec![0.0; n];
    let mut replicas: Vec<Option<(u32, u32)>> = vec![None; n];
    for (s, st) in topo.stations.iter().enumerate() {
        if let Some(w) = st.workload {
            let wl = &topo.workloads[w];
            let ready = tl.lives[w].iter().filter(|l| l.ready_from <= t && t < l.ready_until).count() as u32;
            let listed = tl.lives[w].iter().filter(|l| l.ready_from <= t && t < l.endpoints_until).count() as u32;
            replicas[s] = Some((ready, wl.replicas));
            if ready < wl.needed {
                own_ok[s] = 0.0;
                own[s] = Some(if wl.needed > 1 {
                    format!("quorum lost: {ready}/{} {} pods ready, {} needed", wl.replicas, wl.key, wl.needed)
                } else {
                    pods_text(topo, tl, w, ready, t)
                });
            } else if listed > ready && st.kind != StationKind::Workload {
                own_ok[s] = f64::from(ready) / f64::from(listed);
                own[s] = Some(format!(
                    "{}/{} endpoints of {} are dead pods still listed (removed when their node is marked NotReady)",
                    listed - ready,
                    listed,
                    wl.key
                ));
            } else if ready < wl.replicas {
                own[s] = Some(pods_text(topo, tl, w, ready, t));
            }
            servers[s] = if st.kind == StationKind::Workload {
                f64::INFINITY
            } else {
                f64::from(ready) * f64::from(st.concurrency)
            };
        }
        if let Some((dead_at, why)) = &tl.placed_dead[s]
            && t >= *dead_at
        {
            let recovered = st.failover.as_ref().and_then(|f| {
                let ready_at = dead_at + f.after_s;
                let replica_ok = f
                    .replica
                    .is_none_or(|r| tl.placed_dead[r].as_ref().is_none_or(|(d, _)| *d > t) && !failed_at(tl, r, t));
                let standby_ok = f.replica.is_some() || st.region.is_none_or(|r| !region_lost(tl, r, t));
                (replica_ok && standby_ok).then_some(ready_at)
            });
            match recovered {
                Some(ready_at) if t >= ready_at => {
                    let who = st
                        .failover
                        .as_ref()
                        .and_then(|f| f.replica)
                        .map_or("its standby".into(), |r| topo.stations[r].key.to_string());
                    own[s] = Some(format!("{why}; served by {who} since {}", duration(ready_at)));
                }
                Some(ready_at) => {
                    own_ok[s] = 0.0;
                    own[s] = Some(format!("{why}; failing over, ready at {}", duration(ready_at)));
                }
                None => {
                    own_ok[s] = 0.0;
                    own[s] = Some(match &st.failover {
                        Some(_) => format!("{why}; its failover target is lost too"),
                        None if st.kind == StationKind::Datastore => {
                            format!("{why}; no replica is promoted automatically")
                        }
                        None => why.clone(),
                    });
                }
            }
        }
        for (from, to, why) in &tl.failed[s] {
            if *from <= t && t < *to {
                own_ok[s] = 0.0;
                own[s] = Some(why.clone());
            }
        }
        for &(from, to, latency, error, capacity) in &tl.degraded[s] {
            if from <= t && t < to {
                own_ok[s] *= 1.0 - error;
                servers[s] *= 1.0 - capacity;
                extra_latency[s] += latency;
                let mut what = Vec::new();
                if latency > 0.0 {
                    what.push(format!("+{latency} ms"));
                }
                if error > 0.0 {
                    what.push(format!("{}% errors", error * 100.0));
                }
                if capacity > 0.0 {
                    what.push(format!("{}% capacity lost", capacity * 100.0));
                }
                own[s].get_or_insert_with(|| format!("degraded: {}", what.join(", ")));
            }
        }
    }
    Own { own_ok, own, servers, extra_latency, replicas }
}

/// Solves load and failure through the call graph at instant `t` (`t < 0`: before any fault).
fn cascade(topo: &Topology, tl: &Timeline, loads: &Loads, model: &dyn LoadModel, t: f64) -> Phase {
    let n = topo.stations.len();
    let Own { own_ok, mut own, servers, extra_latency, replicas } = own_state(topo, tl, t);
    // Fixed point of load and success through the call graph.
    let mut success: Vec<Vec<f64>> = topo.stations.iter().map(|st| vec![1.0; st.endpoints.len()]).collect();
    let mut latency: Vec<Vec<f64>> =
        topo.stations.iter().map(|st| st.endpoints.iter().map(|e| e.service_time_ms).collect()).collect();
    let mut arrivals = loads.outside.clone();
    let mut utilisation = vec![0.0; n];
    let mut soft: Vec<Vec<Vec<Ix>>> = topo.stations.iter().map(|st| vec![Vec::new(); st.endpoints.len()]).collect();
    let mut overload: Vec<Option<String>> = vec![None; n];
    let snapshot = |success: &Vec<Vec<f64>>, latency: &Vec<Vec<f64>>, arrivals: &Vec<Vec<f64>>| Phase {
        success: success.clone(),
        latency: latency.clone(),
        arrivals: arrivals.clone(),
        utilisation: Vec::new(),
        own: Vec::new(),
        own_ok: Vec::new(),
        soft: Vec::new(),
        lb: Vec::new(),
        replicas: Vec::new(),
    };
    for _round in 0..200 {
        let prev = snapshot(&success, &latency, &arrivals);
        // Loads.
        let mut next = loads.outside.clone();
        for c in &topo.calls {
            let p = prev.target_success(topo, c.to, c.endpoint);
            let tries = attempts(p, c.retries);
            let demand: f64 = prev.arrivals[c.from].iter().zip(&c.per_request).map(|(a, k)| a * k).sum::<f64>() * tries;
            if demand == 0.0 {
                continue;
            }
            match c.endpoint {
                Some(e) => next[c.to][e] += demand,
                None => {
                    let endpoints = &topo.stations[c.to].endpoints;
                    let total: f64 = endpoints.iter().map(|e| e.base_rps).sum();
                    let k = endpoints.len() as f64;
                    for (slot, ep) in next[c.to].iter_mut().zip(endpoints) {
                        *slot += if total > 0.0 { demand * ep.base_rps / total } else { demand / k };
                    }
                }
            }
        }
        // Each station under its load.
        let mut own_latency = vec![0.0; n];
        for (s, st) in topo.stations.iter().enumerate() {
            let rate: f64 = next[s].iter().sum();
            let work: f64 = next[s].iter().zip(&st.endpoints).map(|(a, e)| a * e.service_time_ms).sum();
            let mean_st = if rate > 0.0 { work / rate } else { 0.0 };
            overload[s] = None;
            utilisation[s] = 0.0;
            own_latency[s] = mean_st;
            if servers[s].is_finite() && servers[s] > 0.0 && rate > 0.0 && mean_st > 0.0 {
                let cv = next[s].iter().zip(&st.endpoints).map(|(a, e)| a * e.service_time_cv).sum::<f64>() / rate;
                // Attempts that hit dead endpoints or injected errors fail fast and cost no work.
                let load = StationLoad {
                    arrival_rps: rate * own_ok[s],
                    servers: servers[s],
                    service_time_ms: mean_st,
                    service_time_cv: cv,
                    queue_limit: None,
                    timeout_ms: st.caller_timeout_ms,
                };
                if let Ok(r) = model.station(&load) {
                    utilisation[s] = r.utilisation;
                    own_latency[s] = r.latency_ms;
                    if r.loss > 0.0 {
                        overload[s] = Some(format!(
                            "overloaded: {:.0}% busy on {} servers, {:.0}% of requests shed",
                            r.utilisation * 100.0,
                            servers[s],
                            r.loss * 100.0
                        ));
                    } else if r.utilisation >= SATURATED_AT {
                        overload[s] = Some(format!(
                            "{:.0}% busy on {} servers: near saturation",
                            r.utilisation * 100.0,
                            servers[s]
                        ));
                    }
                    let lost = r.loss;
                    // Success is recomputed below from own_ok and this loss.
                    utilisation[s] = r.utilisation;
                    success[s].iter_mut().for_each(|x| *x = 1.0 - lost);
                } else {
                    success[s].iter_mut().for_each(|x| *x = 1.0);
                }
            } else {
                success[s].iter_mut().for_each(|x| *x = 1.0);
            }
        }
        // Success and latency of each endpoint: own, times its hard calls.
        let mut new_success = success.clone();
        let mut new_latency = latency.clone();
        for (s, st) in topo.stations.iter().enumerate() {
            for e in 0..st.endpoints.len() {
                let shed = success[s][e];
                let service_time = if utilisation[s] >= 1.0 { own_latency[s] } else { st.endpoints[e].service_time_ms };
                new_success[s][e] = own_ok[s] * shed;
                new_latency[s][e] = service_time + extra_latency[s];
                soft[s][e].clear();
            }
        }
        for (ci, c) in topo.calls.iter().enumerate() {
            let p = prev.target_success(topo, c.to, c.endpoint);
            let lat = prev.target_latency(topo, c.to, c.endpoint);
            let timed_out = c.timeout_ms.is_some_and(|to| lat > to && c.waits);
            let p_eff = if timed_out {
                0.0
            } else if c.needs_up {
                if p > 0.0 { 1.0 } else { 0.0 }
            } else {
                p
            };
            let tries = attempts(p_eff, c.retries);
            for e in 0..c.per_request.len() {
                let k = c.per_request[e];
                if k == 0.0 {
                    continue;
                }
                if c.hard && c.waits {
                    new_success[c.from][e] *= calls_succeed(p_eff, c.retries, k);
                } else if p_eff < 1.0 - DEGRADED_AT {
                    soft[c.from][e].push(ci);
                }
                if c.waits && !c.needs_up {
                    let wait = c.timeout_ms.map_or(lat, |to| lat.min(to));
                    new_latency[c.from][e] += k * tries * wait;
                }
            }
        }
        let delta = new_success
            .iter()
            .flatten()
            .zip(prev.success.iter().flatten())
            .chain(next.iter().flatten().zip(prev.arrivals.iter().flatten()))
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0, f64::max);
        success = new_success;
        latency = new_latency;
        arrivals = next;
        if delta < 1e-12 {
            break;
        }
    }
    for s in 0..n {
        if let Some(o) = overload[s].take() {
            own[s] = Some(match own[s].take() {
                Some(already) => format!("{already}; {o}"),
                None => o,
            });
        }
    }
    let lb = topo
        .entries
        .iter()
        .map(|entry| {
            entry.lbs.iter().find_map(|&l| {
                let (at, share) = tl.lb_loss[l]?;
                let lbt = &topo.lbs[l];
                if t < at {
                    return None;
                }
                if share >= 1.0 {
                    return Some((1.0, format!("{} lost", lbt.key)));
                }
                let healed = at + lbt.detection_s + lbt.dns_ttl_s;
                (t < healed).then(|| {
                    (
                        share,
                        format!(
                            "{:.0}% of {} is in lost zones until health checks and DNS TTL move traffic ({})",
                            share * 100.0,
                            lbt.key,
                            duration(healed)
                        ),
                    )
                })
            })
        })
        .collect();
    Phase { success, latency, arrivals, utilisation, own, own_ok, soft, lb, replicas }
}

fn failed_at(tl: &Timeline, s: Ix, t: f64) -> bool {
    tl.failed[s].iter().any(|(from, to, _)| *from <= t && t < *to)
}

fn region_lost(tl: &Timeline, region: Ix, t: f64) -> bool {
    tl.region_dead[region].is_some_and(|d| d <= t)
}

fn pods_text(topo: &Topology, tl: &Timeline, w: Ix, ready: u32, t: f64) -> String {
    let wl = &topo.workloads[w];
    let pending: Vec<&PendingPod> = tl.pending.iter().filter(|p| p.workload == wl.key && p.since_s <= t).collect();
    let starting = tl.lives[w]
        .iter()
        .filter(|l| l.ready_from > t && l.ready_from.is_finite())
        .map(|l| l.ready_from)
        .fold(f64::INFINITY, f64::min);
    let mut text = format!("{ready}/{} {} pods ready", wl.replicas, wl.key);
    if let Some(p) = pending.first() {
        text.push_str(&format!(", {} pending: {}", pending.len(), p.reason));
    } else if starting.is_finite() {
        text.push_str(&format!(", replacements ready at {}", duration(starting)));
    }
    text
}
