//! The behavioural model both solvers read: stations with servers, endpoints with a
//! service time and a call graph, and the load arriving from outside. Plain data in dense
//! indices; it knows nothing of the twin (the resilience crate builds it from a topology).

use crate::PerfError;
use crate::dist::ServiceDist;

/// Servers of a station nobody waits for (a datastore, queue or outside service without
/// replicas in the model); calibration leaves its utilisation alone.
pub const UNBOUNDED_SERVERS: u32 = 1_000_000;

/// Something that serves requests with a pool of servers (a service's replicas x
/// concurrency, a database's connections).
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// Name shown in reports (`service/cart`).
    pub name: String,
    /// Requests served at once; 0 when it is down (requests to it fail at once).
    pub servers: u32,
    /// Requests that may wait beyond those in service; further arrivals are dropped.
    pub queue_limit: Option<u32>,
}

/// One operation of a station: its own work, then its calls, step after step.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Name shown in reports (`service/cart GET /cart`).
    pub name: String,
    /// Index of the station that serves it.
    pub station: u32,
    /// Own service time (calls excluded), at this station's speed.
    pub dist: ServiceDist,
    /// What it calls after its own work, in order.
    pub steps: Vec<Step>,
    /// Objectives, for capacity answers.
    pub slo: Slo,
    /// Probability that a request it served fails there, after its own work and before
    /// its calls (a fault; 0 normally). The simulator honours it; the analytic solver
    /// does not (it answers for the healthy model).
    pub error_rate: f64,
}

/// Latency objectives of an endpoint, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Slo {
    /// Median target.
    pub p50_ms: Option<f64>,
    /// 99th-percentile target.
    pub p99_ms: Option<f64>,
}

/// A step of an endpoint's work after its own: one call (its copies one after another),
/// calls side by side (the step ends when the slowest does), or one call chosen at random.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// One call, its copies in sequence.
    Call(Call),
    /// Calls (and their copies) side by side; the step ends when all have answered.
    Parallel(Vec<Call>),
    /// At most one of the calls: each with its probability, none with the rest.
    Choice(Vec<(f64, Call)>),
}

/// A call to another endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Index of the endpoint called.
    pub to: u32,
    /// Calls per request: made `floor(times)` times, and once more with probability
    /// `times - floor(times)` (0.3 is "30% of requests", 3 is "three times").
    pub times: f64,
    /// Time the caller waits before giving up on one attempt.
    pub timeout_ms: Option<f64>,
    /// Attempts after a failure or timeout.
    pub retry: Retry,
    /// Fails calls fast after consecutive failures.
    pub breaker: Option<Breaker>,
    /// Whether the caller fails when this call does (else it carries on: a fallback).
    pub hard: bool,
    /// Time added to every attempt on the wire (both ways), in milliseconds.
    pub latency_ms: f64,
    /// Whether the caller waits for the answer (else it sends and moves on: a message).
    pub waits: bool,
}

impl Call {
    /// A plain call made `times` times per request: hard, no timeout, retries or breaker.
    pub fn to(to: u32, times: f64) -> Call {
        Call {
            to,
            times,
            timeout_ms: None,
            retry: Retry::default(),
            breaker: None,
            hard: true,
            latency_ms: 0.0,
            waits: true,
        }
    }

    /// Whether the simulator must track its attempts (a timeout, retries or a breaker).
    pub fn tracked(&self) -> bool {
        self.timeout_ms.is_some() || self.retry.max > 0 || self.breaker.is_some()
    }
}

/// Retries of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Retry {
    /// Attempts after the first.
    pub max: u32,
    /// Wait before each retry, in milliseconds.
    pub backoff_ms: f64,
}

/// A consecutive-failure circuit breaker on one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breaker {
    /// Consecutive failures that open it.
    pub failures: u32,
    /// How long it stays open (calls fail at once); then one call tries again.
    pub open_ms: f64,
}

/// Requests arriving from outside at an entry endpoint (a Poisson stream).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Index of the endpoint they arrive at.
    pub endpoint: u32,
    /// Mean rate, requests per second (at profile factor 1).
    pub rate_rps: f64,
    /// Hourly factors over a day (24), if the rate varies with the hour.
    pub daily: Option<[f64; 24]>,
    /// Daily factors over a week (7, Monday first), if it varies with the day.
    pub weekly: Option<[f64; 7]>,
}

impl Source {
    /// The rate at `hours` since Monday 00:00 (wrapping around the week).
    pub fn rate_at(&self, hours: f64) -> f64 {
        let hours = hours.rem_euclid(168.0);
        let daily = self.daily.map_or(1.0, |d| d[(hours % 24.0) as usize % 24]);
        let weekly = self.weekly.map_or(1.0, |w| w[(hours / 24.0) as usize % 7]);
        self.rate_rps * daily * weekly
    }

    /// The highest rate over the week.
    pub fn peak_rate(&self) -> f64 {
        let daily = self.daily.map_or(1.0, |d| d.iter().copied().fold(0.0, f64::max));
        let weekly = self.weekly.map_or(1.0, |w| w.iter().copied().fold(0.0, f64::max));
        self.rate_rps * daily * weekly
    }
}

/// A whole behavioural model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Network {
    /// Stations.
    pub stations: Vec<Station>,
    /// Endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Load from outside.
    pub sources: Vec<Source>,
}

impl Network {
    /// A Jackson network: station `i` has `servers[i]` servers with exponential service of
    /// mean `mean_ms[i]`, Poisson arrivals of `external_rps[i]` from outside, and after
    /// service a request moves to station `j` with probability `routing[i][j]` (and leaves
    /// with the rest). The textbook model the solvers are checked against.
    pub fn jackson(servers: &[u32], mean_ms: &[f64], external_rps: &[f64], routing: &[Vec<f64>]) -> Network {
        let n = servers.len();
        let mut net = Network::default();
        for i in 0..n {
            net.stations.push(Station { name: format!("station {i}"), servers: servers[i], queue_limit: None });
            let choices: Vec<(f64, Call)> = routing
                .get(i)
                .map(|row| {
                    row.iter()
                        .enumerate()
                        .filter(|(_, p)| **p != 0.0)
                        .map(|(j, &p)| (p, Call::to(j as u32, 1.0)))
                        .collect()
                })
                .unwrap_or_default();
            net.endpoints.push(Endpoint {
                name: format!("station {i}"),
                station: i as u32,
                dist: ServiceDist::Exponential { mean: mean_ms[i] },
                steps: if choices.is_empty() { Vec::new() } else { vec![Step::Choice(choices)] },
                slo: Slo::default(),
                error_rate: 0.0,
            });
            if external_rps[i] != 0.0 {
                net.sources.push(Source { endpoint: i as u32, rate_rps: external_rps[i], daily: None, weekly: None });
            }
        }
        net
    }

    /// Stations `s{i}` with `servers` each and one exponential endpoint `e{i}` of `mean` ms
    /// that calls nothing (tests add the calls and sources).
    #[cfg(test)]
    pub(crate) fn plain(stations: &[(u32, f64)]) -> Network {
        let mut net = Network::default();
        for (i, &(servers, mean)) in stations.iter().enumerate() {
            net.stations.push(Station { name: format!("s{i}"), servers, queue_limit: None });
            net.endpoints.push(Endpoint {
                name: format!("e{i}"),
                station: i as u32,
                dist: ServiceDist::Exponential { mean },
                steps: vec![],
                slo: Slo::default(),
                error_rate: 0.0,
            });
        }
        net
    }

    /// Every call an endpoint's steps make, with the probability-weighted count per request.
    pub fn calls_of(&self, endpoint: usize) -> impl Iterator<Item = (&Call, f64)> {
        self.endpoints[endpoint].steps.iter().flat_map(|step| -> Box<dyn Iterator<Item = (&Call, f64)>> {
            match step {
                Step::Call(c) => Box::new(std::iter::once((c, c.times))),
                Step::Parallel(cs) => Box::new(cs.iter().map(|c| (c, c.times))),
                Step::Choice(cs) => Box::new(cs.iter().map(|(p, c)| (c, p * c.times))),
            }
        })
    }

    /// Checks every index, number and distribution; all problems found, each naming its place.
    pub fn check(&self) -> Result<(), PerfError> {
        let mut problems = Vec::new();
        let finite_nonneg = |v: f64| v.is_finite() && v >= 0.0;
        for (i, e) in self.endpoints.iter().enumerate() {
            if e.station as usize >= self.stations.len() {
                problems.push(format!(
                    "endpoint {i} ({}) is served by station {}, which does not exist",
                    e.name, e.station
                ));
            }
            if let Err(err) = e.dist.check(&format!("{} service time", e.name)) {
                problems.push(err.to_string());
            }
            if !(0.0..=1.0).contains(&e.error_rate) {
                problems.push(format!("{}: error rate is {}; expected a share from 0 to 1", e.name, e.error_rate));
            }
            for step in &e.steps {
                if let Step::Choice(choices) = step {
                    let total: f64 = choices.iter().map(|(p, _)| p).sum();
                    if choices.iter().any(|(p, _)| !finite_nonneg(*p)) || total > 1.0 + 1e-9 {
                        problems.push(format!(
                            "{}: choice probabilities must be at least 0 and add up to at most 1 (they add up to {total})",
                            e.name
                        ));
                    }
                }
            }
            for (call, _) in self.calls_of(i) {
                let Some(callee) = self.endpoints.get(call.to as usize) else {
                    problems.push(format!("{} calls endpoint {}, which does not exist", e.name, call.to));
                    continue;
                };
                let at = format!("{} -> {}", e.name, callee.name);
                if !finite_nonneg(call.times) {
                    problems.push(format!(
                        "{at}: calls per request is {}; expected a finite number of at least 0",
                        call.times
                    ));
                }
                if call.timeout_ms.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
                    problems.push(format!("{at}: timeout is {:?} ms; expected a finite time above 0", call.timeout_ms));
                }
                if !finite_nonneg(call.retry.backoff_ms) {
                    problems.push(format!("{at}: retry backoff is {} ms; expected at least 0", call.retry.backoff_ms));
                }
                if !finite_nonneg(call.latency_ms) {
                    problems.push(format!("{at}: added latency is {} ms; expected at least 0", call.latency_ms));
                }
                if let Some(b) = call.breaker
                    && (b.failures == 0 || !(b.open_ms.is_finite() && b.open_ms > 0.0))
                {
                    problems.push(format!("{at}: a breaker opens after at least 1 failure, for a time above 0 ms"));
                }
            }
        }
        for s in &self.sources {
            let name = self.endpoints.get(s.endpoint as usize).map_or("?", |e| e.name.as_str());
            if s.endpoint as usize >= self.endpoints.len() {
                problems.push(format!("a load source arrives at endpoint {}, which does not exist", s.endpoint));
            }
            let factors = s.daily.iter().flatten().chain(s.weekly.iter().flatten());
            if !finite_nonneg(s.rate_rps) || factors.clone().any(|f| !finite_nonneg(*f)) {
                problems.push(format!(
                    "{name}: arrival rate is {} rps (profile {:?} {:?}); expected finite rates and factors of at least 0",
                    s.rate_rps, s.daily, s.weekly
                ));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(PerfError::Model(problems.join("; "))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jackson_builds_one_endpoint_per_station_with_its_routing() {
        let net = Network::jackson(&[1, 2], &[10.0, 20.0], &[5.0, 0.0], &[vec![0.0, 0.6], vec![0.1, 0.0]]);
        assert_eq!(net.stations[1].servers, 2);
        assert_eq!(net.sources.len(), 1);
        let calls: Vec<(u32, f64)> = net.calls_of(0).map(|(c, w)| (c.to, w)).collect();
        assert_eq!(calls, vec![(1, 0.6)]);
        net.check().unwrap();
    }

    #[test]
    fn profiles_pick_the_hour_and_day() {
        let mut daily = [1.0; 24];
        daily[13] = 2.0;
        let mut weekly = [1.0; 7];
        weekly[4] = 3.0; // Friday
        let s = Source { endpoint: 0, rate_rps: 10.0, daily: Some(daily), weekly: Some(weekly) };
        assert_eq!(s.rate_at(13.5), 20.0);
        assert_eq!(s.rate_at(4.0 * 24.0 + 13.0), 60.0);
        assert_eq!(s.rate_at(168.0 + 1.0), 10.0);
        assert_eq!(s.peak_rate(), 60.0);
    }

    #[test]
    fn every_problem_is_named() {
        let mut net = Network::jackson(&[1], &[10.0], &[5.0], &[vec![0.7]]);
        net.sources[0].rate_rps = -3.0;
        net.endpoints[0].error_rate = f64::NAN;
        net.endpoints[0].steps.push(Step::Call(Call { timeout_ms: Some(0.0), ..Call::to(4, 1.0) }));
        net.endpoints[0].steps.push(Step::Choice(vec![(0.8, Call::to(0, 1.0)), (0.5, Call::to(0, 1.0))]));
        let err = net.check().unwrap_err().to_string();
        assert!(err.contains("arrival rate is -3 rps"), "{err}");
        assert!(err.contains("calls endpoint 4, which does not exist"), "{err}");
        assert!(err.contains("add up to 1.3"), "{err}");
        assert!(err.contains("station 0: error rate is NaN"), "{err}");
    }
}
