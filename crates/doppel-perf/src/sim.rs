//! The discrete-event simulator: requests flow through a [`Network`]'s call graph with
//! queues, server limits, timeouts, retries with backoff, circuit breakers, fan-out and
//! join, and load that follows the sources' daily and weekly profiles.
//!
//! A calendar (a tournament tree over event slots; the sources' next arrivals in a second
//! one) over an arena of request frames. A request's own work comes first, then its steps;
//! a call that is the last thing a frame does and needs no tracking is a tail call (the
//! callee answers the caller's caller), so Markov routing costs one frame however long the
//! walk. An endpoint whose steps are at most one such call or choice of them (each made at
//! most once) draws its next stop from an alias table in one go instead of stepping through
//! them. Runs are deterministic for a seed: replication `r` draws from a Xoshiro256++
//! generator seeded with it and jumped ahead `r` times 2^128 draws (streams that cannot
//! overlap), replications run on rayon and are merged in order. Every count starts again
//! when the warm-up ends (requests in flight then count when they finish). Every figure is the mean over replications with a
//! 95% Student-t interval.

use std::hint::select_unpredictable;

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::PerfError;
use crate::calendar::Calendar;
use crate::dist::Sampler;
use crate::hist::LatencyHistogram;
use crate::network::{Network, Step};

/// How to run a simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Simulated seconds measured in each replication, after the warm-up.
    pub horizon_s: f64,
    /// Simulated seconds run first and not counted.
    pub warmup_s: f64,
    /// Independent replications (at least 2 for confidence intervals).
    pub replications: u32,
    /// Hours since Monday 00:00 at the start, when the sources' profiles apply; `None`
    /// holds every source at its mean rate.
    pub start_hour: Option<f64>,
    /// Width of the buckets of utilisation over time, in seconds.
    pub bucket_s: f64,
    /// Requests in flight at which a run gives up (queues growing without end).
    pub max_in_flight: usize,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: 1,
            horizon_s: 600.0,
            warmup_s: 60.0,
            replications: 10,
            start_hour: None,
            bucket_s: 60.0,
            max_in_flight: 5_000_000,
        }
    }
}

/// A figure with its 95% confidence interval over replications.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Mean over replications.
    pub mean: f64,
    /// Half-width of the 95% interval; `None` with fewer than 2 replications or no data.
    pub half_width: Option<f64>,
}

impl Estimate {
    /// Whether the interval holds `value`.
    pub fn covers(&self, value: f64) -> bool {
        self.half_width.is_some_and(|h| (self.mean - value).abs() <= h)
    }

    fn of(values: &[f64]) -> Estimate {
        let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let n = values.len();
        if n == 0 {
            return Estimate { mean: 0.0, half_width: None };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Estimate { mean, half_width: None };
        }
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).map_or(1.96, |d| d.inverse_cdf(0.975));
        Estimate { mean, half_width: Some(t * (var / n as f64).sqrt()) }
    }
}

/// What one entry point (load source) saw.
#[derive(Debug, Clone)]
pub struct EntryStats {
    /// Index of the source.
    pub source: usize,
    /// Index of its endpoint.
    pub endpoint: usize,
    /// Requests answered successfully per second.
    pub throughput_rps: Estimate,
    /// Share of requests that failed (dropped, timed out, refused by a breaker or a
    /// station that is down, or a hard call that failed).
    pub error_rate: Estimate,
    /// Mean response time of successful requests, ms.
    pub mean_ms: Estimate,
    /// Median, ms.
    pub p50_ms: Estimate,
    /// 90th percentile, ms.
    pub p90_ms: Estimate,
    /// 99th percentile, ms.
    pub p99_ms: Estimate,
    /// Successful requests' response times over all replications.
    pub histogram: LatencyHistogram,
}

/// What one station saw.
#[derive(Debug, Clone)]
pub struct StationStats {
    /// Busy share of its servers.
    pub utilisation: Estimate,
    /// Requests served per second.
    pub throughput_rps: Estimate,
    /// Mean time at the station (wait and own service), ms.
    pub mean_response_ms: Estimate,
    /// 99th percentile of that, ms.
    pub p99_ms: Estimate,
    /// Requests dropped (queue full or no servers) per second.
    pub dropped_rps: Estimate,
    /// Attempts at its endpoints its callers gave up on per second.
    pub timeouts_rps: Estimate,
    /// Calls to it refused by an open breaker per second.
    pub rejected_rps: Estimate,
    /// Requests it answered with a failure per second: its own errors
    /// ([`Endpoint::error_rate`](crate::Endpoint::error_rate)), drops, and failed hard calls.
    pub errors_rps: Estimate,
    /// Busy share per bucket of `bucket_s`, averaged over replications.
    pub utilisation_over_time: Vec<f64>,
}

/// What one call (an edge of the call graph) saw, as its caller does: measured for calls
/// the simulator tracks (a timeout, retries or a breaker), zero for the others.
#[derive(Debug, Clone)]
pub struct CallStats {
    /// Index of the calling endpoint.
    pub caller: usize,
    /// Index of the endpoint called.
    pub callee: usize,
    /// Attempts per second (retries included).
    pub attempts_rps: Estimate,
    /// Mean time from sending an attempt to its answer, over answered attempts, ms.
    pub mean_ms: Estimate,
    /// Attempts that failed (an error answer, a timeout, an open breaker) per second.
    pub failed_rps: Estimate,
}

/// The whole answer.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// Replications run.
    pub replications: u32,
    /// Events handled, all replications together.
    pub events: u64,
    /// Mean response time of successful requests from outside, ms.
    pub mean_response_ms: Estimate,
    /// Per source.
    pub entries: Vec<EntryStats>,
    /// Per station.
    pub stations: Vec<StationStats>,
    /// Per call, in the order of [`Network::calls_of`] over the endpoints in order.
    pub calls: Vec<CallStats>,
}

/// Runs the replications of a simulation on rayon's pool.
pub fn run(net: &Network, config: &SimConfig) -> Result<SimReport, PerfError> {
    let model = Model::compile(net, config)?;
    let runs: Vec<Result<Run, PerfError>> =
        (0..config.replications.max(1)).into_par_iter().map(|r| model.replicate(u64::from(r))).collect();
    let runs = runs.into_iter().collect::<Result<Vec<Run>, PerfError>>()?;
    Ok(model.report(&runs))
}

/// Runs one replication on the calling thread and returns the events it handled and the
/// mean response time of successful requests (ms; NaN when none succeeded): the
/// benchmark's entry point.
pub fn run_once(net: &Network, config: &SimConfig, replication: u64) -> Result<(u64, f64), PerfError> {
    let model = Model::compile(net, config)?;
    let run = model.replicate(replication)?;
    Ok((run.events, run.mean_response_ms()))
}

// ---------------------------------------------------------------------------------------
// The compiled model.

const NONE: u32 = u32::MAX;
const ORPHAN: u32 = u32::MAX - 1;
const BRANCH: u32 = 1 << 31;

const DONE: u32 = 0;
const DELIVER: u32 = 1;
const TIMEOUT: u32 = 2;
const RETRY: u32 = 3;
/// The next service completion at a memoryless station (see [`StationState::memoryless`]).
const STATION: u32 = 4;
const KIND_SHIFT: u32 = 29;
const ID_MASK: u32 = (1 << KIND_SHIFT) - 1;

#[derive(Debug)]
struct CCall {
    to: u32,
    whole: u32,
    frac: f64,
    tracked: bool,
    hard: bool,
    timeout_ms: f64,
    retries: u32,
    backoff_ms: f64,
    breaker: Option<(u32, f64)>,
    latency_ms: f64,
    waits: bool,
}

#[derive(Debug)]
enum CStep {
    One(u32),
    Parallel(u32, u32),
    /// Calls `start..end` with cumulative probabilities in `cumulative`.
    Choice(u32, u32),
}

/// How an endpoint's service time is drawn: the common shapes by a plain tag (the
/// sampler's own tag is packed into its vectors' spare bits and costs more to read).
#[derive(Debug)]
enum Draw {
    Exponential(f64),
    Fixed(f64),
    Shaped(Box<Sampler>),
}

impl Draw {
    fn of(sampler: Sampler) -> Draw {
        match sampler {
            Sampler::Exponential { mean } => Draw::Exponential(mean),
            Sampler::Fixed { value } => Draw::Fixed(value),
            other => Draw::Shaped(Box::new(other)),
        }
    }
}

#[derive(Debug)]
struct CEndpoint {
    station: u32,
    draw: Draw,
    steps: std::ops::Range<usize>,
    /// Its first slot in `Model::routes` and their count, when what follows its own work
    /// is a route drawn at once (see [`route_of`]); no slots for the general path.
    route_start: u32,
    route_len: u32,
}

/// Where a routed request goes: an endpoint, `| SOFT` when its failure is not the
/// caller's, or `EXIT` (the request is answered).
const EXIT: u32 = u32::MAX;
const SOFT: u32 = 1 << 30;

/// One slot of an alias table: a uniform draw picks the slot, then `here` below
/// `threshold` (out of 2^32) and `alias` above.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Slot {
    threshold: u32,
    here: u32,
    alias: u32,
}

/// A slot of an alias table as the simulator reads it: each target with its endpoint's
/// station in the high half (0 for `EXIT`), so the next station needs no look-up.
#[derive(Debug, Clone, Copy)]
struct Route {
    here: u64,
    alias: u64,
    threshold: u32,
}

impl Route {
    fn of(slot: Slot, endpoints: &[crate::network::Endpoint]) -> Route {
        let with_station = |target: u32| {
            let station = if target == EXIT { 0 } else { endpoints[(target & !SOFT) as usize].station };
            u64::from(station) << 32 | u64::from(target)
        };
        Route { here: with_station(slot.here), alias: with_station(slot.alias), threshold: slot.threshold }
    }
}

/// The outcomes (weight, target) of an endpoint whose steps are at most one call or one
/// choice of calls that are tail calls made at most once (waited for, untracked, no added
/// latency, `times` at most 1): such a request's next stop can be drawn in one go.
fn route_of(steps: &[Step]) -> Option<Vec<(f64, u32)>> {
    let target = |c: &crate::network::Call| {
        let plain = c.waits && !c.tracked() && c.latency_ms == 0.0 && c.times <= 1.0;
        plain.then_some((c.times, c.to | if c.hard { 0 } else { SOFT }))
    };
    let mut outcomes = match steps {
        [] => Vec::new(),
        [Step::Call(c)] => vec![target(c)?],
        [Step::Choice(cs)] => {
            cs.iter().map(|(p, c)| target(c).map(|(times, t)| (p * times, t))).collect::<Option<Vec<_>>>()?
        }
        _ => return None,
    };
    let called: f64 = outcomes.iter().map(|o| o.0).sum();
    outcomes.push(((1.0 - called).max(0.0), EXIT));
    outcomes.retain(|o| o.0 > 0.0);
    Some(outcomes)
}

/// An alias table drawing each target with its weight's share (to within 2^-32).
fn alias_table(outcomes: &[(f64, u32)]) -> Vec<Slot> {
    let n = outcomes.len();
    let total: f64 = outcomes.iter().map(|o| o.0).sum();
    let mut scaled: Vec<f64> = outcomes.iter().map(|o| o.0 * n as f64 / total).collect();
    let mut slots: Vec<Slot> = outcomes.iter().map(|o| Slot { threshold: u32::MAX, here: o.1, alias: o.1 }).collect();
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
    while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
        small.pop();
        slots[s].threshold = (scaled[s] * 4_294_967_296.0).round().min(f64::from(u32::MAX)) as u32;
        slots[s].alias = slots[l].here;
        scaled[l] -= 1.0 - scaled[s];
        if scaled[l] < 1.0 {
            large.pop();
            small.push(l);
        }
    }
    // Whatever is left holds (up to rounding) a whole slot: `alias` is `here`.
    slots
}

#[derive(Debug)]
struct CSource {
    endpoint: u32,
    /// Rate of candidate arrivals per ms (the peak when thinning).
    rate_per_ms: f64,
    /// Its inverse, the mean gap in ms: a product costs less than a quotient at every arrival.
    mean_gap_ms: f64,
    /// Whether candidates are thinned by the profile.
    thinned: bool,
}

struct Model<'n> {
    net: &'n Network,
    config: SimConfig,
    endpoints: Vec<CEndpoint>,
    /// Each endpoint's error rate, read only on the general path (an endpoint with one
    /// has no route).
    error_rates: Vec<f64>,
    /// Each call's calling endpoint.
    callers: Vec<u32>,
    steps: Vec<CStep>,
    calls: Vec<CCall>,
    cumulative: Vec<f64>,
    /// The endpoints' alias tables.
    routes: Vec<Route>,
    /// Per station, the mean service time of all its endpoints when they are all
    /// exponential with that one mean: such a station needs one calendar entry (see
    /// [`StationState::memoryless`]).
    memoryless: Vec<Option<f64>>,
    sources: Vec<CSource>,
    warmup_ms: f64,
    end_ms: f64,
    buckets: usize,
    /// Buckets per ms.
    per_bucket_ms: f64,
}

impl<'n> Model<'n> {
    fn compile(net: &'n Network, config: &SimConfig) -> Result<Model<'n>, PerfError> {
        Model::compile_with(net, config, true, true)
    }

    /// Compiles the model; `routes` off sends every endpoint down the general path, and
    /// `memoryless` off gives every station one calendar entry per busy server (tests
    /// compare them).
    fn compile_with(
        net: &'n Network,
        config: &SimConfig,
        routes: bool,
        memoryless: bool,
    ) -> Result<Model<'n>, PerfError> {
        net.check()?;
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !(positive(config.horizon_s) && config.warmup_s.is_finite() && config.warmup_s >= 0.0) {
            return Err(PerfError::Model(format!(
                "simulation horizon {} s and warm-up {} s: expected a horizon above 0 and a warm-up of at least 0",
                config.horizon_s, config.warmup_s
            )));
        }
        if !positive(config.bucket_s) {
            return Err(PerfError::Model(format!("utilisation bucket {} s: expected above 0", config.bucket_s)));
        }
        if config.start_hour.is_some_and(|h| !h.is_finite()) {
            return Err(PerfError::Model("simulation start hour: expected a finite number of hours".into()));
        }
        if net.endpoints.len() > ID_MASK as usize {
            return Err(PerfError::Model(format!(
                "{} endpoints: at most {ID_MASK} can be simulated",
                net.endpoints.len()
            )));
        }
        let mut m = Model {
            net,
            config: config.clone(),
            endpoints: Vec::new(),
            error_rates: net.endpoints.iter().map(|e| e.error_rate).collect(),
            callers: Vec::new(),
            steps: Vec::new(),
            calls: Vec::new(),
            cumulative: Vec::new(),
            routes: Vec::new(),
            memoryless: Vec::new(),
            sources: Vec::new(),
            warmup_ms: config.warmup_s * 1000.0,
            end_ms: (config.warmup_s + config.horizon_s) * 1000.0,
            buckets: (config.horizon_s / config.bucket_s).ceil().max(1.0) as usize,
            per_bucket_ms: 1.0 / (config.bucket_s * 1000.0),
        };
        for e in &net.endpoints {
            let first = m.steps.len();
            for step in &e.steps {
                let compiled = match step {
                    Step::Call(c) => CStep::One(m.call(c)),
                    Step::Parallel(cs) => {
                        let start = m.calls.len() as u32;
                        for c in cs {
                            m.call(c);
                        }
                        CStep::Parallel(start, m.calls.len() as u32)
                    }
                    Step::Choice(cs) => {
                        let start = m.calls.len() as u32;
                        let mut acc = 0.0;
                        for (p, c) in cs {
                            let i = m.call(c) as usize;
                            acc += p;
                            m.cumulative[i] = acc;
                        }
                        CStep::Choice(start, m.calls.len() as u32)
                    }
                };
                m.steps.push(compiled);
            }
            m.callers.resize(m.calls.len(), (m.endpoints.len()) as u32);
            let start = m.routes.len() as u32;
            // An endpoint that fails requests takes the general path, where failures are drawn.
            if let Some(outcomes) = route_of(&e.steps).filter(|_| routes && e.error_rate == 0.0) {
                m.routes.extend(alias_table(&outcomes).into_iter().map(|slot| Route::of(slot, &net.endpoints)));
            }
            m.endpoints.push(CEndpoint {
                station: e.station,
                draw: Draw::of(e.dist.sampler()),
                steps: first..m.steps.len(),
                route_start: start,
                route_len: m.routes.len() as u32 - start,
            });
        }
        m.memoryless = (0..net.stations.len())
            .map(|s| {
                let mut means = m.endpoints.iter().filter(|e| e.station as usize == s).map(|e| match e.draw {
                    Draw::Exponential(mean) => Some(mean),
                    _ => None,
                });
                let first = means.next().flatten()?;
                (memoryless && means.all(|mean| mean == Some(first))).then_some(first)
            })
            .collect();
        for s in &net.sources {
            let (rate, thinned) = match config.start_hour {
                Some(_) if s.daily.is_some() || s.weekly.is_some() => (s.peak_rate(), true),
                _ => (s.rate_rps, false),
            };
            m.sources.push(CSource {
                endpoint: s.endpoint,
                rate_per_ms: rate / 1000.0,
                mean_gap_ms: 1000.0 / rate,
                thinned,
            });
        }
        Ok(m)
    }

    /// Adds a call; choices keep `cumulative` aligned with `calls`.
    fn call(&mut self, c: &crate::network::Call) -> u32 {
        let whole = c.times.floor();
        self.calls.push(CCall {
            to: c.to,
            whole: whole.min(f64::from(u32::MAX)) as u32,
            frac: c.times - whole,
            tracked: c.tracked(),
            waits: c.waits,
            hard: c.hard,
            timeout_ms: c.timeout_ms.unwrap_or(f64::INFINITY),
            retries: c.retry.max,
            backoff_ms: c.retry.backoff_ms,
            breaker: c.breaker.map(|b| (b.failures, b.open_ms)),
            latency_ms: c.latency_ms,
        });
        if self.cumulative.len() < self.calls.len() {
            self.cumulative.resize(self.calls.len(), 0.0);
        }
        (self.calls.len() - 1) as u32
    }
}

// ---------------------------------------------------------------------------------------
// One replication.

#[derive(Debug, Clone, Copy)]
struct Frame {
    endpoint: u32,
    /// Parent frame, `BRANCH | branch`, `NONE` (a request from outside) or `ORPHAN`.
    link: u32,
    source: u32,
    /// The call of the current sequential step (for its copies).
    call: u32,
    origin: f64,
    arrived: f64,
    step: u32,
    repeat: u32,
    pending: u32,
    failed: bool,
    fails_up: bool,
}

#[derive(Debug, Clone, Copy)]
struct Branch {
    parent: u32,
    call: u32,
    attempt: u32,
    child: u32,
    /// When the live attempt times out: a timeout event at another time is stale.
    deadline: f64,
    /// When the live attempt was sent.
    sent: f64,
}

#[derive(Debug, Clone, Default)]
struct BreakerState {
    failures: u32,
    open_until: f64,
}

/// Requests waiting at a station, first come first served: (frame, endpoint) in a ring
/// whose size is a power of two, so its indices are masked rather than checked.
#[derive(Debug, Default)]
struct Fifo {
    ring: Vec<(u32, u32)>,
    head: usize,
    len: usize,
}

impl Fifo {
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn push_back(&mut self, item: (u32, u32)) {
        if self.len == self.ring.len() {
            self.grow();
        }
        let mask = self.ring.len() - 1;
        self.ring[..=mask][(self.head + self.len) & mask] = item;
        self.len += 1;
    }

    #[inline]
    fn pop_front(&mut self) -> Option<(u32, u32)> {
        if self.len == 0 {
            return None;
        }
        let mask = self.ring.len() - 1;
        let item = self.ring[..=mask][self.head & mask];
        self.head = (self.head + 1) & mask;
        self.len -= 1;
        Some(item)
    }

    /// An empty queue with room for `n` (a power of two, or 0) before it grows.
    fn with_room(n: usize) -> Fifo {
        Fifo { ring: vec![(0, 0); n], head: 0, len: 0 }
    }

    /// Takes the front request's frame if there is one, without a branch on it: whether
    /// it did, and the frame (meaningless when it did not). The ring has room for one.
    #[inline(always)]
    fn take_front(&mut self) -> (bool, u32) {
        let mask = self.ring.len() - 1;
        let item = self.ring[..=mask][self.head & mask].0;
        let some = self.len > 0;
        self.head = (self.head + usize::from(some)) & mask;
        self.len -= usize::from(some);
        (some, item)
    }

    /// Twice the room (at least 4), the waiting requests moved to the front in order.
    #[cold]
    fn grow(&mut self) {
        let mut ring = Vec::with_capacity((2 * self.ring.len()).max(4));
        ring.extend((0..self.len).map(|i| self.ring[(self.head + i) % self.ring.len()]));
        ring.resize(ring.capacity(), (0, 0));
        (self.ring, self.head) = (ring, 0);
    }
}

/// A station's state and counters, together: one index reaches both.
struct StationState {
    servers: u32,
    busy: u32,
    limit: usize,
    /// Waiting requests: frame and endpoint.
    queue: Fifo,
    /// Service time started in the current utilisation bucket, not yet in `run.busy_ms`
    /// (at a memoryless station: busy time since the bucket began, up to `last`).
    busy_now: f64,
    /// Whether every service time here is exponential with mean `mean`. Then the station
    /// has one calendar entry, in `slot`: its next completion, `next` (time bits; `u64::MAX`
    /// when idle). By memorylessness, with `busy` requests in service the next completion
    /// comes after an exponential time of mean `mean / busy`, and it is equally likely to
    /// be any of them (`in_service`); a request starting service brings it forward to the
    /// sooner of it and its own exponential time. Exact for exponential times only; every
    /// other station has an entry per request in service.
    memoryless: bool,
    mean: f64,
    slot: u32,
    next: u64,
    /// Frames in service, `busy` of them (memoryless stations).
    in_service: Vec<u32>,
    /// `mean / busy` for each `busy` up to `servers`, infinity for 0 (memoryless
    /// stations): a product rather than a quotient on the way to the calendar.
    gaps: Vec<f64>,
    /// When `busy` last changed or `busy_now` was last brought up to date (memoryless).
    last: f64,
    run: StationRun,
}

/// Counters of one replication.
#[derive(Debug, Clone)]
struct Run {
    events: u64,
    entries: Vec<EntryRun>,
    stations: Vec<StationRun>,
    calls: Vec<CallRun>,
}

/// Counters of one tracked call.
#[derive(Debug, Clone, Copy, Default)]
struct CallRun {
    attempts: u64,
    answered: u64,
    sum_ms: f64,
    failed: u64,
}

impl Run {
    /// Mean response time of successful requests from outside, ms; NaN when none.
    fn mean_response_ms(&self) -> f64 {
        let (sum, n) = self.entries.iter().fold((0.0, 0u64), |(s, n), e| (s + e.sum_ms, n + e.ok()));
        if n == 0 { f64::NAN } else { sum / n as f64 }
    }
}

#[derive(Debug, Clone)]
struct EntryRun {
    failed: u64,
    sum_ms: f64,
    /// Successful requests' response times; its count is theirs.
    histogram: LatencyHistogram,
}

impl EntryRun {
    /// Successful requests.
    fn ok(&self) -> u64 {
        self.histogram.len()
    }
}

#[derive(Debug, Clone)]
struct StationRun {
    sum_ms: f64,
    /// Residence times of the requests served; its count is theirs.
    histogram: LatencyHistogram,
    busy_ms: Vec<f64>,
    dropped: u64,
    timeouts: u64,
    rejected: u64,
    errors: u64,
}

struct Sim<'m, 'n> {
    m: &'m Model<'n>,
    rng: Xoshiro256PlusPlus,
    now: f64,
    heap: Calendar,
    /// The sources' next arrivals, apart from the other events: few, and one is replaced
    /// at every arrival, so this costs less than a place in the larger calendar.
    arrivals: Calendar,
    frames: Vec<Frame>,
    free_frames: Vec<u32>,
    branches: Vec<Branch>,
    free_branches: Vec<u32>,
    breakers: Vec<BreakerState>,
    stations: Vec<StationState>,
    /// The memoryless stations, in order: the calendar's first slots are theirs, so an
    /// event in slot `i` below their count is the next completion at `by_slot[i]`.
    by_slot: Vec<u32>,
    scratch: Vec<u32>,
    /// The utilisation bucket of `now` (`None` in the warm-up), valid while
    /// `now < bucket_end`: the stations' `busy_now` go into it when it ends.
    bucket: Option<usize>,
    bucket_end: f64,
    run: Run,
}

impl Model<'_> {
    fn replicate(&self, replication: u64) -> Result<Run, PerfError> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.config.seed);
        rng.jump_ce(replication, 128);
        let net = self.net;
        let mut sim = Sim {
            m: self,
            rng,
            now: 0.0,
            // Grows to the most events ever pending; its depth is the log of that.
            heap: Calendar::with_capacity(self.memoryless.len().max(16)),
            arrivals: Calendar::with_capacity(self.sources.len()),
            frames: Vec::with_capacity(1024),
            free_frames: Vec::new(),
            branches: Vec::new(),
            free_branches: Vec::new(),
            breakers: vec![BreakerState::default(); self.calls.len()],
            stations: net
                .stations
                .iter()
                .zip(&self.memoryless)
                .map(|(s, memoryless)| StationState {
                    servers: s.servers,
                    busy: 0,
                    limit: s.queue_limit.map_or(usize::MAX, |l| l as usize),
                    queue: Fifo::with_room(if memoryless.is_some() { 4 } else { 0 }),
                    busy_now: 0.0,
                    memoryless: memoryless.is_some(),
                    mean: memoryless.unwrap_or(0.0),
                    slot: 0,
                    next: u64::MAX,
                    // A spare place: a completion reads the place after the last in service.
                    in_service: if memoryless.is_some() { vec![0; s.servers as usize + 1] } else { Vec::new() },
                    gaps: match memoryless {
                        Some(mean) => {
                            (0..=s.servers).map(|b| if b == 0 { f64::INFINITY } else { mean / f64::from(b) }).collect()
                        }
                        None => Vec::new(),
                    },
                    last: 0.0,
                    run: StationRun {
                        sum_ms: 0.0,
                        histogram: LatencyHistogram::new(),
                        busy_ms: vec![0.0; self.buckets],
                        dropped: 0,
                        timeouts: 0,
                        rejected: 0,
                        errors: 0,
                    },
                })
                .collect(),
            by_slot: Vec::new(),
            scratch: Vec::new(),
            bucket: None,
            bucket_end: self.warmup_ms,
            run: Run {
                events: 0,
                entries: (0..net.sources.len())
                    .map(|_| EntryRun { failed: 0, sum_ms: 0.0, histogram: LatencyHistogram::new() })
                    .collect(),
                stations: Vec::new(),
                calls: vec![CallRun::default(); self.calls.len()],
            },
        };
        for (i, st) in sim.stations.iter_mut().enumerate() {
            if st.memoryless {
                // A fresh calendar with room for them all hands out slots 0, 1, 2...
                st.slot = sim.heap.reserve(STATION << KIND_SHIFT | i as u32);
                assert_eq!(st.slot as usize, sim.by_slot.len(), "memoryless stations take the first slots");
                sim.by_slot.push(i as u32);
            }
        }
        for (i, s) in self.sources.iter().enumerate() {
            if s.rate_per_ms > 0.0 {
                let gap = sim.exp() * s.mean_gap_ms;
                sim.arrivals.push(gap.to_bits(), i as u32);
            }
        }
        sim.main_loop()?;
        if sim.bucket.is_none() {
            // The run ended in its warm-up: nothing counts.
            sim.forget_counts();
        }
        sim.close_bucket(self.end_ms);
        let mut run = sim.run;
        run.stations = sim.stations.into_iter().map(|s| s.run).collect();
        Ok(run)
    }
}

/// Starts serving request `f` at endpoint `ep` of station `st`, on a server already taken:
/// draws its service time and schedules its completion.
#[inline(always)]
fn serve(rng: &mut Xoshiro256PlusPlus, heap: &mut Calendar, st: &mut StationState, ep: &CEndpoint, now: f64, f: u32) {
    let d = match &ep.draw {
        Draw::Exponential(mean) => Distribution::<f64>::sample(&Exp1, rng) * mean,
        Draw::Fixed(value) => *value,
        Draw::Shaped(sampler) => sampler.sample(rng),
    };
    st.busy_now += d;
    heap.push((now + d).to_bits(), DONE << KIND_SHIFT | f);
}

/// What is left to do with a served request after [`onward`].
enum Onward {
    /// Nothing: it waits at its next station, or it was answered.
    Done,
    /// Its steps, on the general path.
    Drive,
    /// It is done and answers a caller inside.
    Finish,
    /// Its next station, this one, drops it.
    Drop(usize),
}

/// Request `f` (its `frame`) has had its own work done: an endpoint with a route sends it
/// on (or out) here, with `draw` (uniform) picking the route; the others take the general
/// path. Answering and arriving are spelled out rather than left to `finish` and
/// `arrive_inline`: through them a completion costs 3.6% more instructions. The parts of
/// the simulation are borrowed apart, so a caller that holds the frame needs no second
/// look-up.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn onward<const N: usize>(
    m: &Model,
    now: f64,
    frame: &mut Frame,
    f: u32,
    draw: u32,
    stations: &mut [StationState],
    rng: &mut Xoshiro256PlusPlus,
    heap: &mut Calendar,
    entries: &mut [EntryRun],
    free_frames: &mut Vec<u32>,
) -> Onward {
    let ep = &m.endpoints[frame.endpoint as usize];
    if ep.route_len == 0 {
        let p = m.error_rates[frame.endpoint as usize];
        if p > 0.0 && rng.random::<f64>() < p {
            frame.failed = true;
        }
        return Onward::Drive;
    }
    // The high half of `draw * n` picks the slot, the low half is the uniform draw in it
    // (a route of one slot goes to its `here` whatever the draw).
    let x = u64::from(draw) * u64::from(ep.route_len);
    let slot = m.routes[ep.route_start as usize + (x >> 32) as usize];
    let next = select_unpredictable((x as u32) < slot.threshold, slot.here, slot.alias);
    let target = next as u32;
    if target == EXIT {
        if frame.link != NONE {
            return Onward::Finish;
        }
        // Answered (`failed` is never set on a routed request that was served).
        let r = &mut entries[frame.source as usize];
        let t = now - frame.origin;
        r.sum_ms += t;
        r.histogram.record(t);
        free_frames.push(f);
        return Onward::Done;
    }
    // A tail call: the same frame goes on to the endpoint drawn.
    let e = target & !SOFT;
    frame.endpoint = e;
    frame.fails_up &= target & SOFT == 0;
    frame.arrived = now;
    let s = (next >> 32) as usize;
    let st = &mut stations[s];
    if st.busy < st.servers {
        start::<N>(rng, heap, st, &m.endpoints, e, now, f);
    } else if st.servers == 0 || st.queue.len() >= st.limit {
        return Onward::Drop(s);
    } else {
        st.queue.push_back((f, e));
    }
    Onward::Done
}

/// Request `f` at endpoint `e` of station `st` takes a free server.
#[inline(always)]
fn start<const N: usize>(
    rng: &mut Xoshiro256PlusPlus,
    heap: &mut Calendar,
    st: &mut StationState,
    endpoints: &[CEndpoint],
    e: u32,
    now: f64,
    f: u32,
) {
    if st.memoryless {
        st.busy_now += f64::from(st.busy) * (now - st.last);
        st.last = now;
        st.in_service[st.busy as usize] = f;
        st.busy += 1;
        let own = now + Distribution::<f64>::sample(&Exp1, rng) * st.mean;
        st.next = st.next.min(own.to_bits());
        heap.set_slot::<N>(st.slot, st.next);
    } else {
        st.busy += 1;
        serve(rng, heap, st, &endpoints[e as usize], now, f);
    }
}

impl Sim<'_, '_> {
    #[inline]
    fn exp(&mut self) -> f64 {
        Exp1.sample(&mut self.rng)
    }

    /// Schedules an event of `kind` (not an arrival) for `id` at `at`.
    #[inline(always)]
    fn push(&mut self, at: f64, kind: u32, id: u32) {
        self.heap.push(at.to_bits(), kind << KIND_SHIFT | id);
    }

    /// Runs the events to the end, in [`Sim::run_events`] compiled for the calendar's
    /// size, again when it grows.
    fn main_loop(&mut self) -> Result<(), PerfError> {
        loop {
            let finished = match self.heap.node_count() {
                4 => self.run_events::<4>()?,
                8 => self.run_events::<8>()?,
                16 => self.run_events::<16>()?,
                32 => self.run_events::<32>()?,
                64 => self.run_events::<64>()?,
                128 => self.run_events::<128>()?,
                _ => self.run_events::<0>()?,
            };
            if finished {
                return Ok(());
            }
        }
    }

    /// Handles events until the end (true) or until the calendar is no longer of `N`
    /// nodes (false). The memoryless path's calendar updates, where nothing can have grown
    /// the calendar since the event began, replay the tree of `N` nodes directly
    /// (unrolled, no choice of size); `N` 0 chooses at every update.
    fn run_events<const N: usize>(&mut self) -> Result<bool, PerfError> {
        // Times compare as their bits; no time is past the end of an empty calendar.
        let end = self.m.end_ms.to_bits();
        loop {
            if N != 0 && self.heap.node_count() != N {
                return Ok(false);
            }
            // Neither calendar needs settling here: an arrival moves its source's entry on,
            // a memoryless station moves its own, and a taken event's slot is settled
            // below once its handler's pushes have had it.
            let (arrival, other) = (self.arrivals.peek(), self.heap.peek());
            if arrival < other {
                if arrival > end {
                    break;
                }
                let source = self.arrivals.top_id();
                self.set_now(f64::from_bits(arrival));
                self.arrival::<N>(source)?;
                continue;
            }
            if other > end {
                break;
            }
            let at = f64::from_bits(other);
            let slot = self.heap.top_slot() as usize;
            if slot < self.by_slot.len() {
                // A memoryless station's entry: it moves itself on.
                self.set_now(at);
                self.station_done::<N>(self.by_slot[slot]);
                continue;
            }
            let what = self.heap.take();
            self.set_now(at);
            if what >> KIND_SHIFT == DONE {
                // Most events: tested first, apart from the rarer kinds.
                self.done(what);
                self.heap.settle();
                continue;
            }
            let id = what & ID_MASK;
            match what >> KIND_SHIFT {
                DELIVER => {
                    let next = self.arrive(id);
                    self.drive(next);
                }
                TIMEOUT => {
                    // Live only if its attempt is still waiting and it is that attempt's
                    // deadline (an earlier attempt's, or a closed branch's, is stale; a
                    // later attempt's deadline is later, as timeouts are above 0).
                    let b = self.branches[id as usize];
                    if b.child != NONE && b.deadline == at {
                        self.frames[b.child as usize].link = ORPHAN;
                        let station = self.m.endpoints[self.m.calls[b.call as usize].to as usize].station;
                        self.stations[station as usize].run.timeouts += 1;
                        self.run.calls[b.call as usize].failed += 1;
                        self.branches[id as usize].child = NONE;
                        let next = self.branch_failed(id);
                        self.drive(next);
                    }
                }
                // RETRY.
                _ => {
                    let next = self.attempt(id);
                    self.drive(next);
                }
            }
            self.heap.settle();
        }
        Ok(true)
    }

    /// Moves the clock to the next event's time, closing a utilisation bucket that ended.
    #[inline(always)]
    fn set_now(&mut self, at: f64) {
        self.now = at;
        self.run.events += 1;
        if at >= self.bucket_end {
            self.next_bucket();
        }
    }

    fn arrival<const N: usize>(&mut self, source: u32) -> Result<(), PerfError> {
        let s = &self.m.sources[source as usize];
        let (endpoint, rate, thinned) = (s.endpoint, s.rate_per_ms, s.thinned);
        let gap = self.exp() * s.mean_gap_ms;
        self.arrivals.reschedule_top((self.now + gap).to_bits());
        if thinned {
            let hours = self.m.config.start_hour.unwrap_or(0.0) + self.now / 3_600_000.0;
            let keep = self.m.net.sources[source as usize].rate_at(hours) / 1000.0 / rate;
            if self.rng.random::<f64>() >= keep {
                return Ok(());
            }
        }
        let f = self.new_frame(Frame {
            endpoint,
            link: NONE,
            source,
            call: NONE,
            origin: self.now,
            arrived: self.now,
            step: 0,
            repeat: 0,
            pending: 0,
            failed: false,
            fails_up: true,
        });
        if self.frames.len() > self.m.config.max_in_flight {
            return Err(PerfError::Model(format!(
                "more than {} requests in flight after {:.0} simulated seconds: the load is more than the estate can serve and queues grow without end (add servers, lower the load, or set queue limits)",
                self.m.config.max_in_flight,
                self.now / 1000.0
            )));
        }
        let next = self.arrive_inline::<N>(f);
        self.drive(next);
        Ok(())
    }

    fn new_frame(&mut self, frame: Frame) -> u32 {
        if let Some(f) = self.free_frames.pop() {
            self.frames[f as usize] = frame;
            f
        } else {
            self.frames.push(frame);
            (self.frames.len() - 1) as u32
        }
    }

    /// A request reaches its station: served at once, queued, or dropped. Returns a frame
    /// that can move on (the caller of a dropped request).
    fn arrive(&mut self, f: u32) -> Option<u32> {
        self.arrive_inline::<0>(f)
    }

    /// [`Sim::arrive`], inlined in the hot paths.
    #[inline(always)]
    fn arrive_inline<const N: usize>(&mut self, f: u32) -> Option<u32> {
        let m = self.m;
        let frame = &mut self.frames[f as usize];
        frame.arrived = self.now;
        let e = frame.endpoint;
        let ep = &m.endpoints[e as usize];
        let s = ep.station as usize;
        let st = &mut self.stations[s];
        if st.busy < st.servers {
            start::<N>(&mut self.rng, &mut self.heap, st, &m.endpoints, e, self.now, f);
        } else if st.servers == 0 || st.queue.len() >= st.limit {
            return self.drop_request(f, s);
        } else {
            st.queue.push_back((f, e));
        }
        None
    }

    /// A request finds its station's queue full or no servers: it fails.
    #[cold]
    fn drop_request(&mut self, f: u32, s: usize) -> Option<u32> {
        self.stations[s].run.dropped += 1;
        self.frames[f as usize].failed = true;
        self.finish(f)
    }

    /// Closes the utilisation bucket that ended (the warm-up's is not counted) and finds
    /// the bucket of `now` and when it ends. At the end of the warm-up, every count starts
    /// again from zero.
    #[cold]
    fn next_bucket(&mut self) {
        self.close_bucket(self.bucket_end);
        if self.bucket.is_none() {
            self.forget_counts();
        }
        let m = self.m;
        let bucket = (((self.now - m.warmup_ms) * m.per_bucket_ms) as usize).min(m.buckets - 1);
        self.bucket = Some(bucket);
        self.bucket_end =
            if bucket + 1 == m.buckets { f64::INFINITY } else { m.warmup_ms + (bucket + 1) as f64 / m.per_bucket_ms };
    }

    /// Forgets everything counted so far (what happened in the warm-up): latencies,
    /// failures, drops, timeouts and rejections.
    fn forget_counts(&mut self) {
        for st in &mut self.stations {
            let r = &mut st.run;
            (r.sum_ms, r.histogram, r.dropped, r.timeouts, r.rejected, r.errors) =
                (0.0, LatencyHistogram::new(), 0, 0, 0, 0);
        }
        self.run.calls.fill(CallRun::default());
        for e in &mut self.run.entries {
            (e.failed, e.sum_ms, e.histogram) = (0, 0.0, LatencyHistogram::new());
        }
    }

    /// Adds the stations' service time started in the current bucket (at memoryless
    /// stations, their busy time up to `until`, its end) to it.
    fn close_bucket(&mut self, until: f64) {
        for st in &mut self.stations {
            if st.memoryless {
                st.busy_now += f64::from(st.busy) * (until - st.last);
                st.last = until;
            }
            if let Some(b) = self.bucket {
                st.run.busy_ms[b] += st.busy_now;
            }
            st.busy_now = 0.0;
        }
    }

    /// A service completion at a station with an entry per request in service. The frame
    /// and the stations are borrowed once each; the request moves on in
    /// [`Sim::served`].
    #[inline(always)]
    fn done(&mut self, f: u32) {
        let m = self.m;
        let now = self.now;
        let frame = &self.frames[f as usize];
        let ep = &m.endpoints[frame.endpoint as usize];
        let st = &mut self.stations[ep.station as usize];
        let t = now - frame.arrived;
        st.run.sum_ms += t;
        st.run.histogram.record(t);
        if let Some((next, e)) = st.queue.pop_front() {
            serve(&mut self.rng, &mut self.heap, st, &m.endpoints[e as usize], now, next);
        } else {
            st.busy -= 1;
        }
        let draw = if ep.route_len > 1 { self.rng.next_u32() } else { 0 };
        self.served(f, draw);
    }

    /// The next completion at memoryless station `s`: one of the requests in service,
    /// picked uniformly, is done; the station's entry moves to its next completion.
    #[inline(always)]
    fn station_done<const N: usize>(&mut self, s: u32) {
        let now = self.now;
        let st = &mut self.stations[s as usize];
        // One word: its low half picks the request, its high half its route.
        let x = self.rng.next_u64();
        let k = (((x & 0xffff_ffff) * u64::from(st.busy)) >> 32) as usize;
        let f = st.in_service[k];
        let frame = &mut self.frames[f as usize];
        let t = now - frame.arrived;
        st.run.sum_ms += t;
        st.run.histogram.record(t);
        // Without a branch on whether a request waits (a coin toss for the predictor): the
        // first waiting takes the server, else the last in service moves to `k`; an idle
        // station's next completion is at infinity (`gaps[0]`), after every event.
        let (waiting, queued) = st.queue.take_front();
        st.busy_now += f64::from(st.busy) * (now - st.last);
        st.last = now;
        st.busy -= u32::from(!waiting);
        let moved = st.in_service[st.busy as usize];
        st.in_service[k] = select_unpredictable(waiting, queued, moved);
        let e: f64 = Distribution::<f64>::sample(&Exp1, &mut self.rng);
        st.next = (now + e * st.gaps[st.busy as usize]).to_bits();
        self.heap.set_slot::<N>(st.slot, st.next);
        let onward = onward::<N>(
            self.m,
            now,
            frame,
            f,
            (x >> 32) as u32,
            &mut self.stations,
            &mut self.rng,
            &mut self.heap,
            &mut self.run.entries,
            &mut self.free_frames,
        );
        self.carry_on(f, onward);
    }

    /// Request `f` has had its own work done: see [`onward`]; `draw` (uniform) picks its
    /// route.
    #[inline(always)]
    fn served(&mut self, f: u32, draw: u32) {
        // Dynamic sizes: the push of `done` before may have grown the calendar.
        let onward = onward::<0>(
            self.m,
            self.now,
            &mut self.frames[f as usize],
            f,
            draw,
            &mut self.stations,
            &mut self.rng,
            &mut self.heap,
            &mut self.run.entries,
            &mut self.free_frames,
        );
        self.carry_on(f, onward);
    }

    /// What [`onward`] left to do.
    #[inline(always)]
    fn carry_on(&mut self, f: u32, onward: Onward) {
        match onward {
            Onward::Done => {}
            Onward::Drive => self.drive(Some(f)),
            Onward::Finish => {
                let next = self.finish(f);
                self.drive(next);
            }
            Onward::Drop(s) => {
                let next = self.drop_request(f, s);
                self.drive(next);
            }
        }
    }

    /// Advances frames until none can move without an event.
    #[inline]
    fn drive(&mut self, mut next: Option<u32>) {
        while let Some(f) = next {
            next = self.advance(f);
        }
    }

    /// Moves a frame on after its own work or a finished step: issues its next calls, or
    /// finishes it. Returns a frame that can now move on (its parent), if any.
    fn advance(&mut self, f: u32) -> Option<u32> {
        let steps = self.m.endpoints[self.frames[f as usize].endpoint as usize].steps.clone();
        loop {
            let frame = &self.frames[f as usize];
            let (step, repeat) = (frame.step as usize, frame.repeat);
            if frame.failed || repeat == 0 && step == steps.len() {
                return self.finish(f);
            }
            let call = if repeat > 0 {
                frame.call
            } else {
                self.frames[f as usize].step += 1;
                let c = match self.m.steps[steps.start + step] {
                    CStep::One(c) => c,
                    CStep::Choice(start, end) => {
                        // The first call whose cumulative probability is above the draw:
                        // counted without a branch per call.
                        let u: f64 = self.rng.random();
                        let cumulative = &self.m.cumulative[start as usize..end as usize];
                        let below = cumulative.iter().map(|&p| u32::from(p <= u)).sum::<u32>();
                        if below == end - start {
                            continue;
                        }
                        start + below
                    }
                    CStep::Parallel(start, end) => match self.parallel(f, start, end) {
                        Some(ready) => return ready,
                        None => continue,
                    },
                };
                let copies = self.copies(c);
                if copies == 0 {
                    continue;
                }
                let frame = &mut self.frames[f as usize];
                frame.repeat = copies;
                frame.call = c;
                c
            };
            // One copy of a sequential call.
            let frame = &mut self.frames[f as usize];
            frame.repeat -= 1;
            let last = frame.repeat == 0 && frame.step as usize == steps.len();
            let cc = &self.m.calls[call as usize];
            if last && !cc.tracked && cc.latency_ms == 0.0 && cc.waits {
                // A tail call: the callee answers this frame's caller; same slot, so a
                // branch waiting on this frame now waits on the callee.
                frame.endpoint = cc.to;
                frame.call = NONE;
                frame.step = 0;
                frame.pending = 0;
                frame.failed = false;
                frame.fails_up = cc.hard && frame.fails_up;
                return self.arrive(f);
            }
            frame.pending = 1;
            return self.issue(call, f);
        }
    }

    /// Issues the copies of the calls `start..end` side by side from frame `f`. `None`
    /// when there are none (the frame moves on); else the frame that can move on at once.
    fn parallel(&mut self, f: u32, start: u32, end: u32) -> Option<Option<u32>> {
        // Every copy counted before any is sent, so the join completes only when all have
        // answered (some may fail at once).
        let mut copies = std::mem::take(&mut self.scratch);
        copies.clear();
        for c in start..end {
            let n = self.copies(c);
            copies.extend(std::iter::repeat_n(c, n as usize));
        }
        if copies.is_empty() {
            self.scratch = copies;
            return None;
        }
        self.frames[f as usize].pending = copies.len() as u32;
        let mut ready = None;
        for &c in &copies {
            if let Some(r) = self.issue(c, f) {
                ready = Some(r);
            }
        }
        self.scratch = copies;
        Some(ready)
    }

    /// Copies of a call this request makes.
    #[inline]
    fn copies(&mut self, c: u32) -> u32 {
        let cc = &self.m.calls[c as usize];
        let extra = cc.frac > 0.0 && self.rng.random::<f64>() < cc.frac;
        cc.whole + u32::from(extra)
    }

    /// Sends one call from frame `f`; returns a frame that can move on at once (when the
    /// call failed without waiting).
    fn issue(&mut self, c: u32, f: u32) -> Option<u32> {
        if !self.m.calls[c as usize].waits {
            // A message: sent, not waited for; what becomes of it is not the caller's.
            let child = self.child(c, f, ORPHAN);
            let _ = self.send(c, child);
            let parent = &mut self.frames[f as usize];
            parent.pending -= 1;
            return (parent.pending == 0).then_some(f);
        }
        if self.m.calls[c as usize].tracked {
            let b = if let Some(b) = self.free_branches.pop() {
                b
            } else {
                self.branches.push(Branch {
                    parent: 0,
                    call: 0,
                    attempt: 0,
                    child: NONE,
                    deadline: f64::NAN,
                    sent: f64::NAN,
                });
                (self.branches.len() - 1) as u32
            };
            self.branches[b as usize] =
                Branch { parent: f, call: c, attempt: 0, child: NONE, deadline: f64::NAN, sent: f64::NAN };
            self.attempt(b)
        } else {
            let child = self.child(c, f, f);
            self.send(c, child)
        }
    }

    fn child(&mut self, c: u32, f: u32, link: u32) -> u32 {
        let parent = self.frames[f as usize];
        let cc = &self.m.calls[c as usize];
        self.new_frame(Frame {
            endpoint: cc.to,
            link,
            source: parent.source,
            call: NONE,
            origin: parent.origin,
            arrived: self.now,
            step: 0,
            repeat: 0,
            pending: 0,
            failed: false,
            fails_up: cc.hard || cc.tracked,
        })
    }

    fn send(&mut self, c: u32, child: u32) -> Option<u32> {
        let latency = self.m.calls[c as usize].latency_ms;
        if latency > 0.0 {
            self.push(self.now + latency, DELIVER, child);
            None
        } else {
            self.arrive(child)
        }
    }

    /// One attempt of a tracked call (first or retry).
    fn attempt(&mut self, b: u32) -> Option<u32> {
        let branch = self.branches[b as usize];
        let cc = &self.m.calls[branch.call as usize];
        let counts = &mut self.run.calls[branch.call as usize];
        counts.attempts += 1;
        if cc.breaker.is_some() && self.now < self.breakers[branch.call as usize].open_until {
            counts.failed += 1;
            let s = self.m.endpoints[cc.to as usize].station as usize;
            self.stations[s].run.rejected += 1;
            return self.branch_failed(b);
        }
        let child = self.child(branch.call, branch.parent, BRANCH | b);
        self.branches[b as usize].child = child;
        self.branches[b as usize].sent = self.now;
        if cc.timeout_ms.is_finite() {
            let deadline = self.now + cc.timeout_ms;
            self.branches[b as usize].deadline = deadline;
            self.push(deadline, TIMEOUT, b);
        }
        self.send(branch.call, child)
    }

    /// A tracked call's attempt failed: retry, or give up and tell the parent.
    fn branch_failed(&mut self, b: u32) -> Option<u32> {
        let branch = self.branches[b as usize];
        let cc = &self.m.calls[branch.call as usize];
        if let Some((threshold, open_ms)) = cc.breaker {
            let state = &mut self.breakers[branch.call as usize];
            state.failures += 1;
            if state.failures >= threshold {
                state.open_until = self.now + open_ms;
                state.failures = 0;
            }
        }
        if branch.attempt < cc.retries {
            self.branches[b as usize].attempt += 1;
            self.branches[b as usize].child = NONE;
            if cc.backoff_ms > 0.0 {
                self.push(self.now + cc.backoff_ms, RETRY, b);
                return None;
            }
            return self.attempt(b);
        }
        if cc.hard {
            self.frames[branch.parent as usize].failed = true;
        }
        self.branch_over(b)
    }

    /// Closes a branch; its parent moves on when its step has no call left.
    fn branch_over(&mut self, b: u32) -> Option<u32> {
        let parent = self.branches[b as usize].parent;
        self.branches[b as usize].child = NONE;
        self.free_branches.push(b);
        let p = &mut self.frames[parent as usize];
        p.pending -= 1;
        (p.pending == 0).then_some(parent)
    }

    /// A frame is done (answered or failed): records a request from outside, tells the
    /// caller, frees the frame. Returns the caller when it can move on.
    fn finish(&mut self, f: u32) -> Option<u32> {
        let frame = self.frames[f as usize];
        self.free_frames.push(f);
        if frame.failed {
            let s = self.m.endpoints[frame.endpoint as usize].station;
            self.stations[s as usize].run.errors += 1;
        }
        // A failure its caller tolerates (a soft call answered by a tail call) is an answer.
        let ok = !frame.failed || !frame.fails_up;
        match frame.link {
            NONE => {
                let r = &mut self.run.entries[frame.source as usize];
                if ok {
                    let t = self.now - frame.origin;
                    r.sum_ms += t;
                    r.histogram.record(t);
                } else {
                    r.failed += 1;
                }
                None
            }
            ORPHAN => None,
            link if link & BRANCH != 0 => {
                let b = link & !BRANCH;
                let branch = self.branches[b as usize];
                let counts = &mut self.run.calls[branch.call as usize];
                if ok {
                    counts.answered += 1;
                    counts.sum_ms += self.now - branch.sent;
                } else {
                    counts.failed += 1;
                }
                if ok {
                    if let Some(state) = self.breakers.get_mut(self.branches[b as usize].call as usize) {
                        state.failures = 0;
                    }
                    self.branch_over(b)
                } else {
                    self.branches[b as usize].child = NONE;
                    self.branch_failed(b)
                }
            }
            parent => {
                let p = &mut self.frames[parent as usize];
                if !ok {
                    p.failed = true;
                }
                p.pending -= 1;
                (p.pending == 0).then_some(parent)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Merging replications.

impl Model<'_> {
    fn report(&self, runs: &[Run]) -> SimReport {
        let seconds = self.config.horizon_s;
        let per_run = |f: &dyn Fn(&Run) -> f64| Estimate::of(&runs.iter().map(f).collect::<Vec<f64>>());
        let entries = (0..self.net.sources.len())
            .map(|i| {
                let mut all = LatencyHistogram::new();
                for r in runs {
                    all.add(&r.entries[i].histogram);
                }
                let mean = |r: &Run| {
                    let e = &r.entries[i];
                    if e.ok() == 0 { f64::NAN } else { e.sum_ms / e.ok() as f64 }
                };
                EntryStats {
                    source: i,
                    endpoint: self.net.sources[i].endpoint as usize,
                    throughput_rps: per_run(&|r| r.entries[i].ok() as f64 / seconds),
                    error_rate: per_run(&|r| {
                        let e = &r.entries[i];
                        let n = e.ok() + e.failed;
                        if n == 0 { f64::NAN } else { e.failed as f64 / n as f64 }
                    }),
                    mean_ms: per_run(&mean),
                    p50_ms: per_run(&|r| r.entries[i].histogram.quantile(0.5)),
                    p90_ms: per_run(&|r| r.entries[i].histogram.quantile(0.9)),
                    p99_ms: per_run(&|r| r.entries[i].histogram.quantile(0.99)),
                    histogram: all,
                }
            })
            .collect();
        let stations = self
            .net
            .stations
            .iter()
            .enumerate()
            .map(|(s, station)| {
                let capacity_ms = f64::from(station.servers) * self.config.bucket_s * 1000.0;
                let over_time = (0..self.buckets)
                    .map(|b| {
                        let busy: f64 = runs.iter().map(|r| r.stations[s].busy_ms[b]).sum::<f64>() / runs.len() as f64;
                        if capacity_ms > 0.0 { busy / capacity_ms } else { 0.0 }
                    })
                    .collect();
                let total_capacity = f64::from(station.servers) * seconds * 1000.0;
                StationStats {
                    utilisation: per_run(&|r| {
                        if total_capacity > 0.0 {
                            r.stations[s].busy_ms.iter().sum::<f64>() / total_capacity
                        } else {
                            0.0
                        }
                    }),
                    throughput_rps: per_run(&|r| r.stations[s].histogram.len() as f64 / seconds),
                    mean_response_ms: per_run(&|r| {
                        let st = &r.stations[s];
                        if st.histogram.is_empty() { f64::NAN } else { st.sum_ms / st.histogram.len() as f64 }
                    }),
                    p99_ms: per_run(&|r| r.stations[s].histogram.quantile(0.99)),
                    dropped_rps: per_run(&|r| r.stations[s].dropped as f64 / seconds),
                    timeouts_rps: per_run(&|r| r.stations[s].timeouts as f64 / seconds),
                    rejected_rps: per_run(&|r| r.stations[s].rejected as f64 / seconds),
                    errors_rps: per_run(&|r| r.stations[s].errors as f64 / seconds),
                    utilisation_over_time: over_time,
                }
            })
            .collect();
        let calls = (0..self.calls.len())
            .map(|c| CallStats {
                caller: self.callers[c] as usize,
                callee: self.calls[c].to as usize,
                attempts_rps: per_run(&|r| r.calls[c].attempts as f64 / seconds),
                mean_ms: per_run(&|r| {
                    let k = &r.calls[c];
                    if k.answered == 0 { f64::NAN } else { k.sum_ms / k.answered as f64 }
                }),
                failed_rps: per_run(&|r| r.calls[c].failed as f64 / seconds),
            })
            .collect();
        SimReport {
            replications: runs.len() as u32,
            events: runs.iter().map(|r| r.events).sum(),
            mean_response_ms: per_run(&Run::mean_response_ms),
            entries,
            stations,
            calls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytic::solve;
    use crate::dist::ServiceDist;
    use crate::network::{Breaker, Call, Retry, Source};

    /// Runs `net` long enough for about `requests` requests from outside in all.
    fn simulate(net: &Network, requests: f64, seed: u64) -> SimReport {
        let rate: f64 = net.sources.iter().map(|s| s.rate_rps).sum();
        let replications = 20;
        let config = SimConfig {
            seed,
            horizon_s: requests / rate / f64::from(replications),
            warmup_s: 200.0 / rate,
            replications,
            ..SimConfig::default()
        };
        run(net, &config).unwrap()
    }

    /// The simulated mean response time is within 2% of the exact one and its 95% interval
    /// covers it.
    fn agrees(report: &SimReport, exact: f64) {
        let m = report.mean_response_ms;
        let error = (m.mean - exact).abs() / exact;
        assert!(error < 0.02, "simulated {m:?} vs exact {exact}: {:.2}% off", error * 100.0);
        assert!(m.covers(exact), "interval {m:?} misses the exact {exact}");
    }

    #[test]
    fn mm1() {
        // 6/s at 100 ms: 1 / (10 - 6) s = 250 ms.
        let net = Network::jackson(&[1], &[100.0], &[6.0], &[vec![0.0]]);
        let r = simulate(&net, 600_000.0, 1);
        agrees(&r, 250.0);
        assert!((r.stations[0].utilisation.mean - 0.6).abs() < 0.01, "{:?}", r.stations[0].utilisation);
        // 5000 s in buckets of 60 s: 83 full ones and a third of one.
        let over_time = &r.stations[0].utilisation_over_time;
        let full = &over_time[..over_time.len() - 1];
        assert_eq!(over_time.len(), 84);
        let mean = full.iter().sum::<f64>() / full.len() as f64;
        assert!((mean - 0.6).abs() < 0.01 && full.iter().all(|u| (u - 0.6).abs() < 0.1), "{over_time:?}");
    }

    /// Counts start again when the warm-up ends: as long a warm-up as the horizon would
    /// double every count if it were kept, and a run that ends in its warm-up counts
    /// nothing.
    #[test]
    fn the_warm_up_is_forgotten() {
        let net = Network::jackson(&[1], &[100.0], &[6.0], &[vec![0.0]]);
        let config = SimConfig { horizon_s: 2000.0, warmup_s: 2000.0, replications: 4, ..SimConfig::default() };
        let r = run(&net, &config).unwrap();
        let (entry, station) = (&r.entries[0], &r.stations[0]);
        assert!(entry.throughput_rps.covers(6.0), "{:?}", entry.throughput_rps);
        assert!(station.throughput_rps.covers(6.0), "{:?}", station.throughput_rps);
        let served = entry.histogram.len() as f64;
        assert!((served / (4.0 * 2000.0 * 6.0) - 1.0).abs() < 0.05, "{served} answers in 4 x 2000 s at 6/s");
    }

    #[test]
    fn mmc_erlang_c() {
        let net = Network::jackson(&[3], &[100.0], &[21.0], &[vec![0.0]]);
        let exact = crate::mmc::mmc(21.0, 10.0, 3).unwrap().mean_response * 1000.0;
        agrees(&simulate(&net, 600_000.0, 2), exact);
    }

    #[test]
    fn md1_pollaczek_khinchine() {
        // Deterministic 100 ms at 6/s: Wq = 0.6 x 100 / (2 x 0.4) = 75 ms.
        let mut net = Network::jackson(&[1], &[100.0], &[6.0], &[vec![0.0]]);
        net.endpoints[0].dist = ServiceDist::Deterministic { value: 100.0 };
        agrees(&simulate(&net, 400_000.0, 3), 175.0);
    }

    #[test]
    fn tandem_line() {
        let routing = vec![vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0], vec![0.0, 0.0, 0.0]];
        let net = Network::jackson(&[1, 2, 1], &[50.0, 150.0, 80.0], &[8.0, 0.0, 0.0], &routing);
        // 1/(20-8) + M/M/2 at a = 1.2 + 1/(12.5-8): Erlang C by hand for the middle one.
        let middle = crate::mmc::mmc(8.0, 1000.0 / 150.0, 2).unwrap().mean_response * 1000.0;
        let exact = 1000.0 / 12.0 + middle + 1000.0 / 4.5;
        agrees(&simulate(&net, 500_000.0, 4), exact);
    }

    #[test]
    fn jackson_network_with_feedback() {
        let net = Network::jackson(
            &[1, 2, 1],
            &[40.0, 120.0, 50.0],
            &[4.0, 2.0, 0.0],
            &[vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0], vec![0.3, 0.2, 0.0]],
        );
        let exact = solve(&net).unwrap().mean_response_ms();
        let r = simulate(&net, 600_000.0, 5);
        agrees(&r, exact);
        // Each station's throughput is its visit rate (12/s at the third).
        assert!(r.stations[2].throughput_rps.covers(12.0), "{:?}", r.stations[2].throughput_rps);
    }

    #[test]
    fn queues_keep_their_order_as_they_grow() {
        let mut q = Fifo::default();
        let mut reference = std::collections::VecDeque::new();
        for i in 0..200u32 {
            q.push_back((i, i + 1));
            reference.push_back((i, i + 1));
            if i % 3 == 0 {
                assert_eq!(q.pop_front(), reference.pop_front());
            }
            assert_eq!(q.len(), reference.len());
        }
        while let Some(item) = reference.pop_front() {
            assert_eq!(q.pop_front(), Some(item));
        }
        assert_eq!(q.pop_front(), None);
    }

    #[test]
    fn alias_tables_draw_each_target_with_its_share() {
        let cases: [&[(f64, u32)]; 4] = [
            &[(1.0, EXIT)],
            &[(0.3, 0), (0.2, 1), (0.5, EXIT)],
            &[(0.05, 3), (0.9, 2), (0.05, 7)],
            &[(0.1, 0), (0.1, 1), (0.1, 2), (0.1, 3), (0.1, 4), (0.1, 5), (0.4, EXIT)],
        ];
        for outcomes in cases {
            let slots = alias_table(outcomes);
            assert_eq!(slots.len(), outcomes.len());
            let share = |t: u32| {
                let whole = 4_294_967_296.0;
                let p: f64 = slots
                    .iter()
                    .map(|s| {
                        let here = f64::from(s.threshold) / whole;
                        f64::from(u8::from(s.here == t)) * here + f64::from(u8::from(s.alias == t)) * (1.0 - here)
                    })
                    .sum();
                p / slots.len() as f64
            };
            for &(w, t) in outcomes {
                assert!((share(t) - w).abs() < 1e-9, "{outcomes:?}: {t} drawn {} vs {w}", share(t));
            }
        }
    }

    #[test]
    fn only_plain_tail_calls_are_routed() {
        let routed = |step: Step| route_of(&[step]);
        assert_eq!(route_of(&[]), Some(vec![(1.0, EXIT)]));
        assert_eq!(routed(Step::Call(Call::to(2, 1.0))), Some(vec![(1.0, 2)]));
        assert_eq!(
            routed(Step::Call(Call { hard: false, ..Call::to(2, 0.25) })),
            Some(vec![(0.25, 2 | SOFT), (0.75, EXIT)])
        );
        assert_eq!(
            routed(Step::Choice(vec![(0.5, Call::to(1, 1.0)), (0.5, Call::to(2, 0.5))])),
            Some(vec![(0.5, 1), (0.25, 2), (0.25, EXIT)])
        );
        for call in [
            Call::to(1, 2.0),
            Call { waits: false, ..Call::to(1, 1.0) },
            Call { latency_ms: 1.0, ..Call::to(1, 1.0) },
            Call { timeout_ms: Some(10.0), ..Call::to(1, 1.0) },
            Call { retry: Retry { max: 1, backoff_ms: 0.0 }, ..Call::to(1, 1.0) },
        ] {
            assert_eq!(routed(Step::Call(call.clone())), None, "{call:?}");
        }
        assert_eq!(routed(Step::Parallel(vec![Call::to(1, 1.0)])), None);
        assert_eq!(route_of(&[Step::Call(Call::to(1, 1.0)), Step::Call(Call::to(2, 1.0))]), None);
    }

    #[test]
    fn routes_and_the_general_path_agree() {
        // Feedback, a call made by 40% of requests and a soft one: the same answer whether
        // the next stop is drawn from the routes or stepped through by the general path.
        let mut net = Network::jackson(
            &[1, 2, 1],
            &[40.0, 120.0, 50.0],
            &[4.0, 2.0, 0.0],
            &[vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0], vec![0.3, 0.2, 0.0]],
        );
        net.endpoints[1].steps = vec![Step::Call(Call { hard: false, ..Call::to(2, 0.4) })];
        let exact = solve(&net).unwrap().mean_response_ms();
        let config = SimConfig { horizon_s: 20_000.0, warmup_s: 100.0, replications: 10, ..SimConfig::default() };
        for routes in [true, false] {
            let model = Model::compile_with(&net, &config, routes, true).unwrap();
            assert_eq!(model.endpoints.iter().all(|e| e.route_len > 0), routes);
            let runs: Vec<Run> = (0..10).map(|r| model.replicate(r).unwrap()).collect();
            let r = model.report(&runs);
            // Within 1% (about seven standard errors here): stepping wrongly or drawing from
            // a wrong table moves these by more.
            let m = r.mean_response_ms.mean;
            assert!((m / exact - 1.0).abs() < 0.01, "routes {routes}: simulated {m} vs exact {exact}");
            let (visits, seen) = (solve(&net).unwrap().stations[2].arrival_rps, r.stations[2].throughput_rps.mean);
            assert!((seen / visits - 1.0).abs() < 0.01, "routes {routes}: {seen}/s at the third vs {visits}/s");
        }
    }

    #[test]
    fn memoryless_stations_and_an_entry_per_server_agree() {
        // Exponential stations of 1, 3 and 2 servers with feedback, and a fourth whose two
        // endpoints have different means (so it keeps an entry per server either way): the
        // same means, throughputs and utilisations whether the exponential stations have
        // one calendar entry or one per busy server.
        let mut net = Network::jackson(
            &[1, 3, 2, 1],
            &[40.0, 200.0, 120.0, 30.0],
            &[4.0, 2.0, 0.0, 3.0],
            &[vec![0.0, 1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0, 0.0], vec![0.3, 0.2, 0.0, 0.0], vec![0.0; 4]],
        );
        let mut other = net.endpoints[3].clone();
        other.dist = ServiceDist::Exponential { mean: 60.0 };
        net.endpoints.push(other);
        net.sources.push(Source { endpoint: 4, rate_rps: 2.0, daily: None, weekly: None });
        let analytic = solve(&net).unwrap();
        let config = SimConfig { horizon_s: 20_000.0, warmup_s: 100.0, replications: 10, ..SimConfig::default() };
        let mut seen = Vec::new();
        for memoryless in [true, false] {
            let model = Model::compile_with(&net, &config, true, memoryless).unwrap();
            let expected = [memoryless, memoryless, memoryless, false];
            assert_eq!(model.memoryless.iter().map(Option::is_some).collect::<Vec<_>>(), expected);
            let runs: Vec<Run> = (0..10).map(|r| model.replicate(r).unwrap()).collect();
            let r = model.report(&runs);
            for (s, st) in r.stations.iter().enumerate() {
                let exact = &analytic.stations[s];
                // The first three are exact (Jackson); the fourth's two means are not M/M/1.
                if s < 3 {
                    let m = st.mean_response_ms;
                    assert!(
                        m.covers(exact.mean_response_ms),
                        "memoryless {memoryless}, station {s}: {m:?} vs {}",
                        exact.mean_response_ms
                    );
                }
                assert!(
                    (st.throughput_rps.mean / exact.arrival_rps - 1.0).abs() < 0.01,
                    "memoryless {memoryless}, station {s}"
                );
                assert!(
                    (st.utilisation.mean - exact.utilisation).abs() < 0.01,
                    "memoryless {memoryless}, station {s}: {:?} vs {}",
                    st.utilisation,
                    exact.utilisation
                );
                let full = &st.utilisation_over_time[..st.utilisation_over_time.len() - 1];
                assert!(full.iter().all(|u| (u - exact.utilisation).abs() < 0.1), "{full:?}");
            }
            seen.push(r.mean_response_ms);
        }
        let (a, b) = (seen[0], seen[1]);
        let apart = (a.mean - b.mean).abs();
        assert!(apart <= a.half_width.unwrap_or(0.0) + b.half_width.unwrap_or(0.0), "{a:?} vs {b:?}");
    }

    #[test]
    fn a_seed_decides_everything() {
        let net = Network::jackson(&[1, 1], &[50.0, 60.0], &[5.0, 0.0], &[vec![0.0, 0.5], vec![0.2, 0.0]]);
        let config = SimConfig { horizon_s: 200.0, replications: 3, ..SimConfig::default() };
        let a = run(&net, &config).unwrap();
        let b = run(&net, &config).unwrap();
        assert_eq!(a.events, b.events);
        assert_eq!(a.mean_response_ms, b.mean_response_ms);
        let c = run(&net, &SimConfig { seed: 2, ..config }).unwrap();
        assert_ne!(a.mean_response_ms, c.mean_response_ms);
    }

    #[test]
    fn a_full_queue_drops_as_mm1k_says() {
        // M/M/1/K with K = 1 + 3 places, rho = 0.8: P(full) = (1 - rho) rho^K / (1 - rho^(K+1)).
        let mut net = Network::jackson(&[1], &[100.0], &[8.0], &[vec![0.0]]);
        net.stations[0].queue_limit = Some(3);
        let rho: f64 = 0.8;
        let loss = (1.0 - rho) * rho.powi(4) / (1.0 - rho.powi(5));
        let r = simulate(&net, 400_000.0, 6);
        let e = &r.entries[0].error_rate;
        assert!((e.mean - loss).abs() < 0.02 * loss && e.covers(loss), "{e:?} vs {loss}");
    }

    fn front_and_back(back_servers: u32, back_mean: f64, call: Call) -> Network {
        let mut net = Network::plain(&[(100, 5.0), (back_servers, back_mean)]);
        net.endpoints[0].steps = vec![Step::Call(call)];
        net.sources.push(Source { endpoint: 0, rate_rps: 10.0, daily: None, weekly: None });
        net
    }

    fn short() -> SimConfig {
        SimConfig { horizon_s: 2000.0, warmup_s: 20.0, replications: 4, ..SimConfig::default() }
    }

    #[test]
    fn timeouts_bound_the_wait_and_fail_requests() {
        // The back end takes 100 ms on average on plenty of servers; callers give up at 50 ms:
        // an attempt times out with probability e^-0.5.
        let call = Call { timeout_ms: Some(50.0), ..Call::to(1, 1.0) };
        let r = run(&front_and_back(1000, 100.0, call), &short()).unwrap();
        let expected = (-0.5f64).exp();
        let e = r.entries[0].error_rate.mean;
        assert!((e - expected).abs() < 0.02, "error rate {e} vs {expected}");
        assert!(r.stations[1].timeouts_rps.mean > 5.0, "{:?}", r.stations[1].timeouts_rps);
        // Two retries: fails only when all three attempts time out.
        let call = Call { timeout_ms: Some(50.0), retry: Retry { max: 2, backoff_ms: 10.0 }, ..Call::to(1, 1.0) };
        let r = run(&front_and_back(1000, 100.0, call), &short()).unwrap();
        let e = r.entries[0].error_rate.mean;
        assert!((e - expected.powi(3)).abs() < 0.02, "error rate {e} vs {}", expected.powi(3));
        // The back end sees the retries: 10/s x (1 + p + p^2).
        let sent = 10.0 * (1.0 + expected + expected * expected);
        assert!((r.stations[1].throughput_rps.mean - sent).abs() < 0.03 * sent, "{:?}", r.stations[1].throughput_rps);
    }

    #[test]
    fn a_breaker_fails_fast_and_a_soft_call_is_survived() {
        // The back end is down: calls fail at once; a breaker opening after 5 failures for a
        // second refuses almost all of them itself.
        let call = Call { breaker: Some(Breaker { failures: 5, open_ms: 1000.0 }), ..Call::to(1, 1.0) };
        let r = run(&front_and_back(0, 10.0, call.clone()), &short()).unwrap();
        assert_eq!(r.entries[0].error_rate.mean, 1.0);
        let (rejected, dropped) = (r.stations[1].rejected_rps.mean, r.stations[1].dropped_rps.mean);
        assert!(rejected > 8.0 * dropped, "rejected {rejected}/s, dropped {dropped}/s");
        // The same call made soft: every request is answered.
        let r = run(&front_and_back(0, 10.0, Call { hard: false, ..call }), &short()).unwrap();
        assert_eq!(r.entries[0].error_rate.mean, 0.0);
        // A soft tail call (untracked) too.
        let r = run(&front_and_back(0, 10.0, Call { hard: false, ..Call::to(1, 1.0) }), &short()).unwrap();
        assert_eq!(r.entries[0].error_rate.mean, 0.0);
        assert!(r.entries[0].throughput_rps.covers(10.0) || (r.entries[0].throughput_rps.mean - 10.0).abs() < 0.3);
    }

    #[test]
    fn parallel_calls_join_on_the_slowest() {
        let mut net = front_and_back(1000, 100.0, Call::to(1, 1.0));
        net.endpoints[0].dist = ServiceDist::Deterministic { value: 0.0 };
        net.endpoints[0].steps = vec![Step::Parallel(vec![Call::to(1, 2.0)])];
        let r = run(&net, &short()).unwrap();
        let m = r.mean_response_ms.mean;
        assert!((m - 150.0).abs() < 3.0, "{m}");
        // Added latency on the wire.
        net.endpoints[0].steps = vec![Step::Call(Call { latency_ms: 20.0, ..Call::to(1, 1.0) })];
        let m = run(&net, &short()).unwrap().mean_response_ms.mean;
        assert!((m - 120.0).abs() < 3.0, "{m}");
    }

    #[test]
    fn messages_load_the_receiver_but_nobody_waits_for_them() {
        // The back end takes 100 ms at 10/s on 2 servers (50% busy); sent as a message it
        // adds nothing to the front's 5 ms.
        let net = front_and_back(2, 100.0, Call { waits: false, ..Call::to(1, 1.0) });
        let r = run(&net, &short()).unwrap();
        assert!((r.mean_response_ms.mean - 5.0).abs() < 0.3, "{:?}", r.mean_response_ms);
        assert!((r.stations[1].utilisation.mean - 0.5).abs() < 0.03, "{:?}", r.stations[1].utilisation);
        let analytic = solve(&net).unwrap();
        assert!(
            (analytic.entries[0].mean_ms - 5.0).abs() < 1e-9 && (analytic.stations[1].utilisation - 0.5).abs() < 1e-9
        );
    }

    #[test]
    fn load_follows_the_profile() {
        let mut net = Network::jackson(&[100], &[10.0], &[10.0], &[vec![0.0]]);
        let mut daily = [1.0; 24];
        daily[12] = 3.0;
        net.sources[0].daily = Some(daily);
        let config = |hour| SimConfig { start_hour: Some(hour), horizon_s: 1800.0, warmup_s: 0.0, ..short() };
        let noon = run(&net, &config(12.0)).unwrap().entries[0].throughput_rps;
        let night = run(&net, &config(2.0)).unwrap().entries[0].throughput_rps;
        assert!(noon.covers(30.0) && night.covers(10.0), "{noon:?} {night:?}");
    }

    #[test]
    fn an_endpoint_error_rate_fails_its_requests_before_their_calls() {
        // The front fails 20% of its requests after its own work: the back end sees only
        // the rest, and the front's failures are counted at its station.
        let mut net = front_and_back(1000, 10.0, Call::to(1, 1.0));
        net.endpoints[0].error_rate = 0.2;
        let model = Model::compile(&net, &short()).unwrap();
        assert_eq!(model.endpoints[0].route_len, 0, "an endpoint that fails takes the general path");
        let r = run(&net, &short()).unwrap();
        let e = r.entries[0].error_rate.mean;
        assert!((e - 0.2).abs() < 0.01, "error rate {e}");
        assert!((r.stations[1].throughput_rps.mean - 8.0).abs() < 0.2, "{:?}", r.stations[1].throughput_rps);
        assert!((r.stations[0].errors_rps.mean - 2.0).abs() < 0.15, "{:?}", r.stations[0].errors_rps);
        assert_eq!(r.stations[1].errors_rps.mean, 0.0);
        // The back end failing instead: a hard caller fails with it, a soft one does not.
        for (hard, errors) in [(true, 0.3), (false, 0.0)] {
            let mut net = front_and_back(1000, 10.0, Call { hard, ..Call::to(1, 1.0) });
            net.endpoints[1].error_rate = 0.3;
            let r = run(&net, &short()).unwrap();
            let e = r.entries[0].error_rate.mean;
            assert!((e - errors).abs() < 0.015, "hard {hard}: error rate {e} vs {errors}");
            assert!((r.stations[1].errors_rps.mean - 3.0).abs() < 0.2, "{:?}", r.stations[1].errors_rps);
        }
        let mut bad = net.clone();
        bad.endpoints[1].error_rate = 1.5;
        assert!(run(&bad, &short()).unwrap_err().to_string().contains("error rate is 1.5"));
    }

    #[test]
    fn tracked_calls_report_their_latency_and_failures() {
        // Back end: 100 ms on plenty of servers; a 50 ms timeout fails e^-0.5 of attempts,
        // and the answered ones took the mean of an exponential below 50 ms.
        let call = Call { timeout_ms: Some(50.0), ..Call::to(1, 1.0) };
        let mut net = front_and_back(1000, 100.0, call);
        net.endpoints[1].steps.clear();
        let r = run(&net, &short()).unwrap();
        assert_eq!(r.calls.len(), 1);
        let c = &r.calls[0];
        assert_eq!((c.caller, c.callee), (0, 1));
        assert!((c.attempts_rps.mean - 10.0).abs() < 0.3, "{:?}", c.attempts_rps);
        let p = (-0.5f64).exp();
        assert!((c.failed_rps.mean / 10.0 - p).abs() < 0.02, "{:?}", c.failed_rps);
        // E[T | T < 50] for an exponential of mean 100: 100 - 50 p / (1 - p).
        let below = 100.0 - 50.0 * p / (1.0 - p);
        assert!((c.mean_ms.mean - below).abs() < 1.0, "{:?} vs {below}", c.mean_ms);
        // An untracked call is not measured.
        let r = run(&front_and_back(1000, 100.0, Call::to(1, 1.0)), &short()).unwrap();
        assert_eq!(r.calls[0].attempts_rps.mean, 0.0);
    }

    #[test]
    fn endless_queues_are_stopped_with_a_message() {
        let net = Network::jackson(&[1], &[100.0], &[50.0], &[vec![0.0]]);
        let config = SimConfig { horizon_s: 100_000.0, max_in_flight: 10_000, replications: 1, ..SimConfig::default() };
        let err = run(&net, &config).unwrap_err().to_string();
        assert!(err.contains("more than 10000 requests in flight"), "{err}");
    }
}
