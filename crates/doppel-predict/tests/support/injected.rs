//! The injected-fault suite for root-cause ranking, shared by the test in this folder and
//! `bench/src/bin/rca-eval.rs` (which includes this file by path).
//!
//! Each case: a seeded random call graph of 8 to 20 services (sequential, parallel and
//! chosen calls, fan-out, timeouts, some retries and soft calls) with 1 to 3 entry points,
//! simulated for a baseline window; then one random service gets one fault (its service
//! time x2 to x5, an error rate of 5% to 30%, or its servers cut by half or more) and a
//! second window is simulated. Telemetry comes from the two simulation reports (per
//! station: mean self-time, p99, utilisation, failures; per call: latency; per entry:
//! latency and error rate); the model's expectation from the healthy network (the
//! analytic queue at the observed load); anomaly scores from the baseline window against
//! the fault window; symptoms are the anomalous entry points. Then `rca::rank`.

#![allow(dead_code)]

use doppel_perf::analytic::{Queueing, solve};
use doppel_perf::sim::{SimConfig, SimReport, run};
use doppel_perf::{Call, Endpoint, LoadModel, Network, Retry, ServiceDist, Slo, Source, Station, StationLoad, Step};
use doppel_predict::drift::{Expected, diverges};
use doppel_predict::rca::{Evidence, Fault, Graph, rank};

/// A small deterministic generator (rand_xoshiro's SplitMix64).
pub struct Rng(rand_xoshiro::SplitMix64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        use rand::SeedableRng;
        Rng(rand_xoshiro::SplitMix64::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        rand::Rng::next_u64(&mut self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

/// The kinds of fault injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Service time multiplied by 2 to 5.
    Latency,
    /// An error rate of 5% to 30%.
    Errors,
    /// Servers cut by half or more, so utilisation goes high.
    Capacity,
}

impl Kind {
    /// All kinds, in the order cases cycle through them.
    pub const ALL: [Kind; 3] = [Kind::Latency, Kind::Errors, Kind::Capacity];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Latency => "latency",
            Kind::Errors => "errors",
            Kind::Capacity => "capacity",
        }
    }

    /// The fault `rca` should guess for it.
    pub fn fault(self) -> Fault {
        match self {
            Kind::Latency => Fault::Latency,
            Kind::Errors => Fault::Errors,
            Kind::Capacity => Fault::Capacity,
        }
    }
}

/// How cases are run.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    /// Seed of the first case (case `i` uses `seed + i`).
    pub seed: u64,
    /// Simulated seconds per window and replication.
    pub window_s: f64,
    /// Replications per window.
    pub replications: u32,
    /// Requests per second from outside, all entry points together (a range drawn from).
    pub rate_rps: (f64, f64),
}

/// What became of one case.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The fault's kind.
    pub kind: Kind,
    /// Its size: the latency factor, the error rate, or servers kept / servers.
    pub size: f64,
    /// Services in the network.
    pub services: usize,
    /// The service given the fault.
    pub injected: usize,
    /// Its place in the ranking (0 is first), if ranked at all.
    pub position: Option<usize>,
    /// The fault guessed for it, if ranked.
    pub guessed: Option<Fault>,
    /// Anomalous entry points found.
    pub symptoms: usize,
    /// The top candidate, if any.
    pub top: Option<usize>,
}

/// Builds a random network of 8 to 20 services: stations `0..entries` take the load.
pub fn network(rng: &mut Rng, total_rps: f64) -> Network {
    let n = 8 + rng.below(13);
    let entries = 1 + rng.below(3);
    let mut net = Network::default();
    for i in 0..n {
        net.stations.push(Station { name: format!("svc{i}"), servers: 1, queue_limit: None });
        let mean = rng.range(2.0, 40.0);
        let cv = [1.0, 0.5, 1.5][rng.below(3)];
        net.endpoints.push(Endpoint {
            name: format!("svc{i}"),
            station: i as u32,
            dist: ServiceDist::from_mean_cv(mean, cv),
            steps: Vec::new(),
            slo: Slo::default(),
            error_rate: 0.0,
        });
    }
    let mut called = vec![false; n];
    let call = |rng: &mut Rng, from: usize, called: &mut Vec<bool>| -> Call {
        // Callees lie deeper (no cycles), mostly near.
        let span = (n - from - 1).min(6);
        let to = from + 1 + rng.below(span);
        called[to] = true;
        let times = match rng.below(10) {
            0 | 1 => 2.0,
            2 => 0.5,
            _ => 1.0,
        };
        Call {
            timeout_ms: Some(3000.0),
            retry: Retry { max: u32::from(rng.unit() < 0.3), backoff_ms: 10.0 },
            hard: rng.unit() < 0.9,
            ..Call::to(to as u32, times)
        }
    };
    for i in 0..n - 1 {
        let steps = if i < entries { 1 + rng.below(3) } else { rng.below(3) };
        for _ in 0..steps {
            let step = match rng.below(4) {
                0 | 1 => Step::Call(call(rng, i, &mut called)),
                2 => {
                    let k = 2 + rng.below(2);
                    Step::Parallel((0..k).map(|_| call(rng, i, &mut called)).collect())
                }
                _ => {
                    let p = rng.range(0.3, 0.7);
                    Step::Choice(vec![(p, call(rng, i, &mut called)), (1.0 - p, call(rng, i, &mut called))])
                }
            };
            net.endpoints[i].steps.push(step);
        }
    }
    // Every service below the entries has a caller.
    for (j, was) in called.iter_mut().enumerate().skip(entries) {
        if !std::mem::replace(was, true) {
            let from = rng.below(j);
            net.endpoints[from].steps.push(Step::Call(Call { timeout_ms: Some(3000.0), ..Call::to(j as u32, 1.0) }));
        }
    }
    let weights: Vec<f64> = (0..entries).map(|_| rng.range(1.0, 4.0)).collect();
    let sum: f64 = weights.iter().sum();
    for (e, w) in weights.iter().enumerate() {
        net.sources.push(Source { endpoint: e as u32, rate_rps: total_rps * w / sum, daily: None, weekly: None });
    }
    // Servers for a utilisation of 25% to 70% (at least 2, so capacity can be halved).
    let arrivals = doppel_perf::analytic::endpoint_arrivals(&net).unwrap_or_else(|_| vec![0.0; n]);
    for (i, rate) in arrivals.iter().enumerate() {
        let work = rate * net.endpoints[i].dist.mean() / 1000.0;
        let target = rng.range(0.25, 0.7);
        let servers = (work / target).ceil().clamp(2.0, 64.0) as u32;
        net.stations[i].servers = servers;
        net.stations[i].queue_limit = Some(50 * servers);
    }
    net
}

/// Puts fault `kind` on station `s` of a copy of `net`; returns it and the fault's size.
pub fn inject(net: &Network, s: usize, kind: Kind, rng: &mut Rng) -> (Network, f64) {
    let mut faulty = net.clone();
    let size = match kind {
        Kind::Latency => {
            let k = rng.range(2.0, 5.0);
            faulty.endpoints[s].dist = net.endpoints[s].dist.scaled(1.0 / k);
            k
        }
        Kind::Errors => {
            let p = rng.range(0.05, 0.3);
            faulty.endpoints[s].error_rate = p;
            p
        }
        Kind::Capacity => {
            // Half the servers or fewer: enough to bring utilisation to 85% to 100%, if
            // half does not already.
            let c = net.stations[s].servers;
            let work = doppel_perf::analytic::offered(net).map_or(0.0, |o| o[s].work);
            let target = rng.range(0.85, 1.0);
            let keep = ((work / target).ceil() as u32).clamp(1, (c / 2).max(1));
            faulty.stations[s].servers = keep;
            f64::from(keep) / f64::from(c)
        }
    };
    (faulty, size)
}

/// The simulation of one window.
pub fn window(net: &Network, suite: &Suite, seed: u64) -> Result<SimReport, String> {
    let config = SimConfig {
        seed,
        horizon_s: suite.window_s,
        warmup_s: 20.0,
        replications: suite.replications,
        bucket_s: suite.window_s,
        ..SimConfig::default()
    };
    run(net, &config).map_err(|e| e.to_string())
}

/// `strength` of a change from `before` to `after` as a log ratio beyond `floor`, 0 to 1.
fn changed(before: f64, after: f64, floor: f64) -> f64 {
    if !(before > 0.0 && after > 0.0) {
        return 0.0;
    }
    let d = (after / before).ln().abs();
    if d <= floor { 0.0 } else { 1.0 - (-(d - floor) / 0.3).exp() }
}

/// Share of a station's requests that failed (its errors and drops, and its callers' timeouts).
fn failure_share(r: &SimReport, s: usize) -> f64 {
    let st = &r.stations[s];
    let served = st.throughput_rps.mean + st.dropped_rps.mean;
    if served > 0.0 { ((st.errors_rps.mean + st.timeouts_rps.mean) / served).min(1.0) } else { f64::NAN }
}

/// Per call of `net` (in `calls_of` order over endpoints): caller and callee stations.
fn calls(net: &Network) -> Vec<(usize, usize)> {
    (0..net.endpoints.len())
        .flat_map(|e| {
            net.calls_of(e)
                .map(|(c, _)| (net.endpoints[e].station as usize, net.endpoints[c.to as usize].station as usize))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The evidence and symptoms from the healthy model and the two windows.
pub fn evidence(model: &Network, base: &SimReport, fault: &SimReport, suite: &Suite) -> (Graph, Evidence, Vec<usize>) {
    let n = model.stations.len();
    let graph = Graph { nodes: model.stations.iter().map(|s| s.name.clone()).collect(), calls: calls(model) };
    let mut ev = Evidence::new(n, graph.calls.len());
    let analytic = solve(model).ok();
    let seconds = suite.window_s * f64::from(suite.replications);
    for s in 0..n {
        let (f, b) = (&fault.stations[s], &base.stations[s]);
        let ep = &model.endpoints[s];
        let (mean, scv) = (ep.dist.mean(), ep.dist.scv());
        let servers = f64::from(model.stations[s].servers);
        let arriving = f.throughput_rps.mean + f.dropped_rps.mean;
        // Sampling noise of a mean of `count` times of coefficient of variation about 1.
        let noise = |rate: f64| 2.0 / (rate * seconds).max(1.0).sqrt();
        let load = StationLoad {
            arrival_rps: arriving,
            servers,
            service_time_ms: mean,
            service_time_cv: scv.sqrt(),
            queue_limit: None,
            timeout_ms: None,
        };
        if let Ok(q) = Queueing.station(&load)
            && f.mean_response_ms.mean > 0.0
            && q.loss == 0.0
            && q.utilisation < 1.0
        {
            ev.residual[s] = log_beyond(f.mean_response_ms.mean, q.latency_ms, 0.1 + noise(arriving));
        }
        let expected_util = arriving * mean / 1000.0 / servers;
        if expected_util > 0.0 && f.utilisation.mean > 0.0 {
            ev.utilisation[s] = log_beyond(f.utilisation.mean, expected_util, 0.1 + noise(arriving));
        }
        let share = failure_share(fault, s);
        if share.is_finite() {
            ev.errors[s] = (share - 0.002).max(0.0);
        }
        // Anomaly: this window against the baseline one.
        let err_change = failure_share(fault, s) - failure_share(base, s);
        let err_score = if err_change > 0.005 { 1.0 - (-(err_change - 0.005) / 0.03).exp() } else { 0.0 };
        let floor = 0.1 + noise(arriving.min(b.throughput_rps.mean));
        ev.anomaly[s] = [
            changed(b.mean_response_ms.mean, f.mean_response_ms.mean, floor),
            changed(b.p99_ms.mean, f.p99_ms.mean, floor + 0.1),
            changed(b.utilisation.mean, f.utilisation.mean, floor),
            err_score,
        ]
        .into_iter()
        .fold(0.0, f64::max);
    }
    for (i, &(_, callee)) in graph.calls.iter().enumerate() {
        let (Some(c), Some(a)) = (fault.calls.get(i), analytic.as_ref()) else { continue };
        let expected = a.endpoints[callee].mean_ms;
        if c.mean_ms.mean > 0.0 && expected > 0.0 {
            ev.edge_residual[i] = log_beyond(c.mean_ms.mean, expected, 0.2);
        }
    }
    // Incoming calls slower than before add to a node's anomaly (a trace's view of it).
    for (i, &(_, callee)) in graph.calls.iter().enumerate() {
        if let (Some(f), Some(b)) = (fault.calls.get(i), base.calls.get(i)) {
            let a = changed(b.mean_ms.mean, f.mean_ms.mean, 0.2);
            ev.anomaly[callee] = ev.anomaly[callee].max(a);
        }
    }
    let symptoms = fault
        .entries
        .iter()
        .zip(&base.entries)
        .filter(|(f, b)| {
            let noise = 2.0 / (f.throughput_rps.mean * seconds).max(1.0).sqrt();
            let latency =
                changed(b.mean_ms.mean, f.mean_ms.mean, 0.05 + noise).max(changed(b.p99_ms.mean, f.p99_ms.mean, 0.15));
            let errors = f.error_rate.mean - b.error_rate.mean > 0.005;
            latency > 0.3 || errors
        })
        .map(|(f, _)| model.endpoints[f.endpoint].station as usize)
        .collect();
    (graph, ev, symptoms)
}

/// `ln(observed / expected)` when `observed` lies beyond the model's band of `band` (a
/// share of `expected`) either side, else 0 (drift's test).
fn log_beyond(observed: f64, expected: f64, band: f64) -> f64 {
    match Expected::around(expected, band).ok().and_then(|e| diverges(observed, &e)) {
        Some(_) if observed > 0.0 && expected > 0.0 => (observed / expected).ln(),
        _ => 0.0,
    }
}

/// Runs case `i` of the suite.
pub fn case(suite: &Suite, i: u64) -> Result<Outcome, String> {
    let mut rng = Rng::new(suite.seed.wrapping_add(i).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let total = rng.range(suite.rate_rps.0, suite.rate_rps.1);
    let net = network(&mut rng, total);
    let kind = Kind::ALL[(i % 3) as usize];
    let injected = rng.below(net.stations.len());
    let (faulty, size) = inject(&net, injected, kind, &mut rng);
    let base = window(&net, suite, suite.seed.wrapping_add(i) * 2 + 1)?;
    let fault = window(&faulty, suite, suite.seed.wrapping_add(i) * 2 + 2)?;
    let (graph, ev, symptoms) = evidence(&net, &base, &fault, suite);
    let ranked = rank(&graph, &symptoms, &ev).map_err(|e| e.to_string())?;
    let position = ranked.iter().position(|c| c.node == injected);
    Ok(Outcome {
        kind,
        size,
        services: net.stations.len(),
        injected,
        position,
        guessed: position.map(|p| ranked[p].fault),
        symptoms: symptoms.len(),
        top: ranked.first().map(|c| c.node),
    })
}

/// Tallies of outcomes: cases, found first, found in the first three, fault guessed right.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Cases.
    pub cases: usize,
    /// The injected service ranked first.
    pub top1: usize,
    /// Ranked in the first three.
    pub top3: usize,
    /// Ranked first with the right kind of fault.
    pub kind_right: usize,
    /// Cases with no anomalous entry point.
    pub no_symptom: usize,
}

impl Tally {
    /// Adds one outcome.
    pub fn add(&mut self, o: &Outcome) {
        self.cases += 1;
        self.top1 += usize::from(o.position == Some(0));
        self.top3 += usize::from(o.position.is_some_and(|p| p < 3));
        self.kind_right += usize::from(o.position == Some(0) && o.guessed == Some(o.kind.fault()));
        self.no_symptom += usize::from(o.symptoms == 0);
    }

    /// A share of the cases.
    pub fn share(&self, count: usize) -> f64 {
        if self.cases == 0 { 0.0 } else { count as f64 / self.cases as f64 }
    }
}
