//! The behavioural model of a topology for the performance solvers: each station's
//! servers (ready replicas x concurrency), its endpoints' service times at the speed of the
//! nodes it runs on, the call graph with fan-out, timeouts, retries and breakers, and the
//! load at the entry points at a chosen hour and load factor.

use std::collections::HashMap;

use doppel_model::Key;
use doppel_model::spec::ServiceTimeDist;
use doppel_perf::network::UNBOUNDED_SERVERS;
use doppel_perf::{Breaker, Call, Endpoint, Network, Retry, ServiceDist, Slo, Source, Station, Step};

use crate::engine::StationCondition;
use crate::topology::{StationKind, Topology};

/// What a performance question changes before the model is built.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfOptions {
    /// Every entry point's rate times this.
    pub load: f64,
    /// Hour of the day whose profile factors apply (see `Load::hour`); `None` for the
    /// daily average.
    pub hour: Option<usize>,
    /// Replicas per service instead of its running pods.
    pub replicas: HashMap<Key, u32>,
    /// Core speed per service instead of its nodes' (a different instance type).
    pub speed: HashMap<Key, f64>,
    /// Time added to every call into a station, ms.
    pub added_latency: HashMap<Key, f64>,
    /// Each topology station's condition under a failure (same order), from the
    /// resilience engine: ready replicas, lost capacity, down, added latency.
    pub condition: Option<Vec<StationCondition>>,
}

impl Default for PerfOptions {
    fn default() -> PerfOptions {
        PerfOptions {
            load: 1.0,
            hour: None,
            replicas: HashMap::new(),
            speed: HashMap::new(),
            added_latency: HashMap::new(),
            condition: None,
        }
    }
}

/// A network built from a topology, with the way back to the topology.
#[derive(Debug, Clone)]
pub struct PerfModel {
    /// The model the solvers read.
    pub network: Network,
    /// Topology station of each network station (same order).
    pub station: Vec<usize>,
    /// Replicas behind each station (`None`: not a replicated service).
    pub replicas: Vec<Option<u32>>,
    /// Concurrency per replica of each station.
    pub concurrency: Vec<u32>,
    /// Price of one replica per hour (its share of its node's price), where known.
    pub usd_per_replica_hour: Vec<Option<f64>>,
    /// Core speed of each station (service times written at 1.0 are divided by it).
    pub speed: Vec<f64>,
    /// Assumptions made while building (defaults taken, parts left out).
    pub notes: Vec<String>,
}

impl PerfModel {
    /// Builds the model of a topology as it stands, changed by `options`.
    pub fn build(topo: &Topology, options: &PerfOptions) -> PerfModel {
        let mut notes = Vec::new();
        let mut instant = Vec::new();
        let mut net = Network::default();
        let n = topo.stations.len();
        let mut model = PerfModel {
            network: Network::default(),
            station: Vec::with_capacity(n),
            replicas: Vec::with_capacity(n),
            concurrency: Vec::with_capacity(n),
            usd_per_replica_hour: Vec::with_capacity(n),
            speed: Vec::with_capacity(n),
            notes: Vec::new(),
        };
        // Endpoint index of each (station, endpoint).
        let mut first_endpoint = Vec::with_capacity(topo.stations.len());
        for (s, st) in topo.stations.iter().enumerate() {
            first_endpoint.push(net.endpoints.len());
            let (replicas, speed, price) = match st.workload {
                Some(w) if st.kind != StationKind::Workload => {
                    let pods: Vec<usize> =
                        topo.workloads[w].pods.iter().copied().filter(|&p| topo.pods[p].running).collect();
                    let nodes: Vec<usize> = pods.iter().filter_map(|&p| topo.pods[p].node).collect();
                    let speed = if nodes.is_empty() {
                        1.0
                    } else {
                        nodes.iter().map(|&n| topo.nodes[n].speed).sum::<f64>() / nodes.len() as f64
                    };
                    let price = replica_price(topo, w, &nodes);
                    (Some(options.replicas.get(&st.key).copied().unwrap_or(pods.len() as u32)), speed, price)
                }
                _ => (None, 1.0, None),
            };
            let condition = options.condition.as_ref().and_then(|c| c.get(s));
            // Under a failure: the replicas still ready, unless the question sets them.
            let replicas = match (replicas, condition.and_then(|c| c.replicas)) {
                (Some(r), Some((ready, _))) if !options.replicas.contains_key(&st.key) => Some(ready.min(r)),
                (r, _) => r,
            };
            let speed = options.speed.get(&st.key).copied().unwrap_or(speed);
            let mut servers = match replicas {
                Some(r) => r.saturating_mul(st.concurrency),
                None => UNBOUNDED_SERVERS,
            };
            if let Some(c) = condition {
                if c.ok_share <= 0.0 {
                    servers = 0;
                    notes.push(format!("{} is down: {}", st.key, c.why.as_deref().unwrap_or("failed")));
                } else {
                    if c.servers.is_finite() && replicas.is_some() && !options.replicas.contains_key(&st.key) {
                        // Capacity lost to a degradation: fewer servers, at least one.
                        servers = servers.min((c.servers.round() as u32).max(1));
                    }
                    if c.ok_share < 1.0 {
                        notes.push(format!(
                            "{:.0}% of requests to {} fail ({}); the model serves them all",
                            (1.0 - c.ok_share) * 100.0,
                            st.key,
                            c.why.as_deref().unwrap_or("degraded")
                        ));
                    }
                }
            }
            let queue_limit = st.queue_limit.zip(replicas).map(|(l, r)| l.saturating_mul(r));
            net.stations.push(Station { name: st.key.to_string(), servers, queue_limit });
            model.station.push(s);
            model.replicas.push(replicas);
            model.concurrency.push(st.concurrency);
            model.usd_per_replica_hour.push(price);
            model.speed.push(speed);
            let mut defaulted = false;
            for ep in &st.endpoints {
                let name = if ep.name.is_empty() { st.key.to_string() } else { format!("{} {}", st.key, ep.name) };
                defaulted |= st.kind == StationKind::Service && !ep.service_time_given;
                let dist = if ep.service_histogram.is_empty() {
                    let (mean, cv) = (ep.service_time_ms, ep.service_time_cv);
                    match ep.service_dist {
                        Some(ServiceTimeDist::Exponential) => ServiceDist::Exponential { mean },
                        Some(ServiceTimeDist::Deterministic) => ServiceDist::Deterministic { value: mean },
                        Some(ServiceTimeDist::Lognormal) => ServiceDist::LogNormal { mean, cv },
                        Some(ServiceTimeDist::Gamma) => ServiceDist::Gamma { mean, cv },
                        None => ServiceDist::from_mean_cv(mean, cv),
                    }
                } else {
                    let (upper, weight) = ep.service_histogram.iter().copied().unzip();
                    ServiceDist::Empirical { upper, weight }
                };
                let slo = ep
                    .slo
                    .as_ref()
                    .map_or(Slo::default(), |slo| Slo { p50_ms: slo.latency_p50_ms, p99_ms: slo.latency_p99_ms });
                net.endpoints.push(Endpoint {
                    name,
                    station: s as u32,
                    dist: if speed == 1.0 { dist } else { dist.scaled(speed) },
                    steps: Vec::new(),
                    slo,
                    error_rate: 0.0,
                });
            }
            if defaulted {
                notes.push(format!(
                    "{}: an endpoint has no service time; assumed {} ms",
                    st.key,
                    crate::topology::defaults::SERVICE_TIME_MS
                ));
            }
            if matches!(st.kind, StationKind::Datastore | StationKind::Queue | StationKind::External)
                && st.endpoints.iter().all(|e| e.service_time_ms == 0.0)
                && topo.calls.iter().any(|c| c.to == s && !c.needs_up)
            {
                instant.push(st.key.to_string());
            }
        }

        if !instant.is_empty() {
            notes.push(format!(
                "{} datastore(s), queue(s) and outside service(s) have no service time and are taken as answering at once: {}",
                instant.len(),
                instant.join(", ")
            ));
        }

        // Calls: per caller endpoint, parallel calls first as one step, then the rest in order.
        let mut parallel: Vec<Vec<Call>> = vec![Vec::new(); net.endpoints.len()];
        let mut sequence: Vec<Vec<Step>> = vec![Vec::new(); net.endpoints.len()];
        let mut skipped_depends = 0;
        for call in &topo.calls {
            if call.needs_up {
                skipped_depends += 1;
                continue;
            }
            let callee = &topo.stations[call.to];
            let degraded = options.condition.as_ref().and_then(|c| c.get(call.to)).map_or(0.0, |c| c.added_latency_ms);
            let latency = call.latency_ms + options.added_latency.get(&callee.key).copied().unwrap_or(0.0) + degraded;
            let make = |to: usize, times: f64| Call {
                to: to as u32,
                times,
                timeout_ms: call.timeout_ms,
                retry: Retry { max: call.retries, backoff_ms: call.backoff_ms },
                breaker: call.breaker.map(|(failures, open_ms)| Breaker { failures, open_ms }),
                hard: call.hard,
                latency_ms: latency,
                waits: call.waits,
            };
            // The endpoints it reaches, with their shares.
            let targets: Vec<(usize, f64)> = match call.endpoint {
                Some(e) => vec![(first_endpoint[call.to] + e, 1.0)],
                None => {
                    let total: f64 = callee.endpoints.iter().map(|e| e.base_rps).sum();
                    let n = callee.endpoints.len() as f64;
                    callee
                        .endpoints
                        .iter()
                        .enumerate()
                        .map(|(i, e)| {
                            (first_endpoint[call.to] + i, if total > 0.0 { e.base_rps / total } else { 1.0 / n })
                        })
                        .filter(|(_, share)| *share > 0.0)
                        .collect()
                }
            };
            for (e, &times) in call.per_request.iter().enumerate() {
                if times <= 0.0 {
                    continue;
                }
                let from = first_endpoint[call.from] + e;
                if call.parallel {
                    parallel[from].extend(targets.iter().map(|&(to, share)| make(to, times * share)));
                } else if let [(to, _)] = targets.as_slice() {
                    sequence[from].push(Step::Call(make(*to, times)));
                } else {
                    sequence[from]
                        .push(Step::Choice(targets.iter().map(|&(to, share)| (share, make(to, times))).collect()));
                }
            }
        }
        if skipped_depends > 0 {
            notes.push(format!(
                "{skipped_depends} depends_on relation(s) (DNS, configuration) carry no per-request load and are left out"
            ));
        }
        for (e, endpoint) in net.endpoints.iter_mut().enumerate() {
            if !parallel[e].is_empty() {
                endpoint.steps.push(Step::Parallel(std::mem::take(&mut parallel[e])));
            }
            endpoint.steps.append(&mut sequence[e]);
        }

        // The rate at the chosen hour; the network holds it flat (the simulator's profiles are
        // for runs that span hours, which `PerfOptions` does not ask for).
        for entry in &topo.entries {
            let ep = &topo.stations[entry.station].endpoints[entry.endpoint];
            let hourly = options.hour.and_then(|h| ep.profile.get(h % 24)).copied().unwrap_or(1.0);
            net.sources.push(Source {
                endpoint: (first_endpoint[entry.station] + entry.endpoint) as u32,
                rate_rps: ep.base_rps * hourly * options.load,
                daily: None,
                weekly: None,
            });
        }
        model.network = net;
        model.notes = notes;
        model
    }
}

/// One replica's share of the price of the nodes it runs on: its CPU request over their
/// CPU, times their hourly price (the mean over its pods' nodes).
fn replica_price(topo: &Topology, w: usize, nodes: &[usize]) -> Option<f64> {
    let cpu = topo.workloads[w].template.requests.cpu.0;
    let shares: Vec<f64> = nodes
        .iter()
        .filter_map(|&n| {
            let node = &topo.nodes[n];
            let total = node.sched.allocatable.cpu.0;
            node.usd_per_hour.filter(|_| total > 0.0).map(|price| price * cpu / total)
        })
        .collect();
    (!shares.is_empty() && cpu > 0.0).then(|| shares.iter().sum::<f64>() / shares.len() as f64)
}

/// Names of the series calibration reads, on a service (or datastore, queue, outside
/// service) entity. Endpoint series end in `:ENDPOINT` (`request_rate_rps:GET /cart`),
/// except for an endpoint without a name.
pub mod series {
    /// Busy share of the service's servers (replicas x concurrency), 0 to 1.
    pub const UTILISATION: &str = "utilisation";
    /// Requests per second an endpoint served.
    pub const REQUEST_RATE: &str = "request_rate_rps";
    /// Mean end-to-end latency of an endpoint, ms.
    pub const LATENCY_MEAN: &str = "latency_mean_ms";
    /// 99th-percentile end-to-end latency, ms.
    pub const LATENCY_P99: &str = "latency_p99_ms";
    /// Mean span self-time (own work, calls excluded), ms.
    pub const SELF_TIME_MEAN: &str = "self_time_mean_ms";
    /// 99th-percentile span self-time, ms.
    pub const SELF_TIME_P99: &str = "self_time_p99_ms";

    /// The attribute of a series of one endpoint.
    pub fn of(series: &str, endpoint: &str) -> String {
        if endpoint.is_empty() { series.to_string() } else { format!("{series}:{endpoint}") }
    }
}

impl PerfModel {
    /// The topology station key and endpoint name behind each network endpoint.
    pub fn endpoint_origins<'t>(&self, topo: &'t Topology) -> Vec<(&'t Key, &'t str)> {
        self.station
            .iter()
            .flat_map(|&s| topo.stations[s].endpoints.iter().map(move |e| (&topo.stations[s].key, e.name.as_str())))
            .collect()
    }

    /// The telemetry of a window in this model's indices: `value(entity, attribute)` is
    /// the series' value over the window, where there is one.
    pub fn observed(
        &self,
        topo: &Topology,
        value: impl Fn(&Key, &str) -> Option<f64>,
    ) -> doppel_perf::calibrate::Observed {
        use doppel_perf::calibrate::{Observed, Timing};
        let origins = self.endpoint_origins(topo);
        let timing = |key: &Key, name: &str, mean: &str, p99: &str| {
            value(key, &series::of(mean, name))
                .map(|mean_ms| Timing { mean_ms, p99_ms: value(key, &series::of(p99, name)) })
        };
        Observed {
            utilisation: self.station.iter().map(|&s| value(&topo.stations[s].key, series::UTILISATION)).collect(),
            rate_rps: origins.iter().map(|(k, n)| value(k, &series::of(series::REQUEST_RATE, n))).collect(),
            self_time: origins
                .iter()
                .map(|(k, n)| timing(k, n, series::SELF_TIME_MEAN, series::SELF_TIME_P99))
                .collect(),
            latency: origins.iter().map(|(k, n)| timing(k, n, series::LATENCY_MEAN, series::LATENCY_P99)).collect(),
        }
    }
}
