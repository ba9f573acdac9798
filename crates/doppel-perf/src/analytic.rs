//! The analytic solver: an open queueing network solved in one pass, for sweeps and for
//! every what-if that needs an answer at once.
//!
//! 1. Traffic: each endpoint's arrival rate is its outside load plus what its callers send
//!    (expected calls per request). Strongly connected groups of endpoints (call cycles) are
//!    solved as a linear system; a cycle a request never leaves is refused.
//! 2. Stations: M/M/c waiting by Erlang C, then for other service-time shapes the
//!    Allen-Cunneen approximation `Wq(M/G/c) = Wq(M/M/c) (1 + cs²) / 2` with Poisson
//!    arrivals (exact for one server: Pollaczek-Khinchine). Utilisation at or above 1 is an
//!    error naming the station.
//! 3. Latency: each endpoint's end-to-end time has a mean and variance built down the call
//!    tree: its station's wait (exponential when it waits), its own service, then its steps
//!    (copies add, choices mix, parallel calls take the slowest: the maximum of independent
//!    gamma-shaped branches, integrated numerically). Means are exact for Jackson networks;
//!    percentiles come from a gamma with the path's mean and variance, an approximation
//!    (exact for one exponential station). Timeouts, retries and queue limits are the
//!    simulator's: below saturation they rarely act.

use statrs::distribution::{ContinuousCDF, Gamma};

use crate::mmc::mmc;
use crate::network::{Call, Network, Step};
use crate::{LoadModel, PerfError, StationLoad, StationResult};

/// How one station fares.
#[derive(Debug, Clone, PartialEq)]
pub struct StationSolution {
    /// Requests per second arriving.
    pub arrival_rps: f64,
    /// Busy share of its servers.
    pub utilisation: f64,
    /// Mean service time over the requests it serves, ms.
    pub mean_service_ms: f64,
    /// Probability a request waits for a server.
    pub wait_probability: f64,
    /// Mean wait for a server, ms.
    pub mean_wait_ms: f64,
    /// Mean time at the station (wait and own service), ms.
    pub mean_response_ms: f64,
}

/// One endpoint's end-to-end time (calls included).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSolution {
    /// Requests per second arriving (from outside and from callers).
    pub arrival_rps: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Standard deviation, ms.
    pub sd_ms: f64,
}

/// Latency at an entry point (one load source).
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySolution {
    /// Index of the source.
    pub source: usize,
    /// Index of its endpoint.
    pub endpoint: usize,
    /// Requests per second from outside.
    pub rate_rps: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Median, ms (gamma approximation).
    pub p50_ms: f64,
    /// 90th percentile, ms (gamma approximation).
    pub p90_ms: f64,
    /// 99th percentile, ms (gamma approximation).
    pub p99_ms: f64,
    /// Share of its requests that succeed: below 1 only when a station it needs is down
    /// ([`solve_failing`]).
    pub ok_share: f64,
}

/// The whole answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Per station, in the network's order.
    pub stations: Vec<StationSolution>,
    /// Per endpoint.
    pub endpoints: Vec<EndpointSolution>,
    /// Per load source.
    pub entries: Vec<EntrySolution>,
    /// The busiest station with any load.
    pub bottleneck: Option<usize>,
}

impl Solution {
    /// Mean time in the network over all requests from outside (Little's law).
    pub fn mean_response_ms(&self) -> f64 {
        let rate: f64 = self.entries.iter().map(|e| e.rate_rps).sum();
        if rate == 0.0 { 0.0 } else { self.entries.iter().map(|e| e.rate_rps * e.mean_ms).sum::<f64>() / rate }
    }
}

/// Mean and variance of a time.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Moments {
    mean: f64,
    var: f64,
}

impl Moments {
    fn fixed(value: f64) -> Moments {
        Moments { mean: value, var: 0.0 }
    }

    fn plus(self, other: Moments) -> Moments {
        Moments { mean: self.mean + other.mean, var: self.var + other.var }
    }

    /// `floor(times)` independent copies in sequence, and one more with the fraction's probability.
    fn repeated(self, times: f64) -> Moments {
        let n = times.floor();
        let r = times - n;
        let m2 = self.var + self.mean * self.mean;
        Moments { mean: times * self.mean, var: (n * self.var + r * m2 - r * r * self.mean * self.mean).max(0.0) }
    }

    /// Mixture: each part with its probability, nothing (time 0) with the rest.
    fn mixture(parts: &[(f64, Moments)]) -> Moments {
        let mean: f64 = parts.iter().map(|(p, m)| p * m.mean).sum();
        let second: f64 = parts.iter().map(|(p, m)| p * (m.var + m.mean * m.mean)).sum();
        Moments { mean, var: (second - mean * mean).max(0.0) }
    }
}

/// A time fitted by its two moments: nothing, a point mass or a gamma.
enum Fitted {
    Zero,
    Point(f64),
    Gamma(Gamma),
}

impl Fitted {
    fn new(m: Moments) -> Fitted {
        if m.mean <= 0.0 {
            Fitted::Zero
        } else if m.var <= m.mean * m.mean * 1e-12 {
            Fitted::Point(m.mean)
        } else {
            Gamma::new(m.mean * m.mean / m.var, m.mean / m.var).map_or(Fitted::Point(m.mean), Fitted::Gamma)
        }
    }

    fn cdf(&self, t: f64) -> f64 {
        match self {
            Fitted::Zero => 1.0,
            Fitted::Point(at) => f64::from(u8::from(t >= *at)),
            Fitted::Gamma(g) => g.cdf(t),
        }
    }

    fn quantile(&self, p: f64) -> f64 {
        match self {
            Fitted::Zero => 0.0,
            Fitted::Point(at) => *at,
            Fitted::Gamma(g) => g.inverse_cdf(p),
        }
    }
}

/// The maximum of independent branches, each `(moments, copies)`: copies of one branch
/// are independent too.
fn maximum(branches: &[(Moments, f64)]) -> Moments {
    let live: Vec<(Moments, f64)> = branches.iter().copied().filter(|(m, n)| m.mean > 0.0 && *n > 0.0).collect();
    match live.as_slice() {
        [] => return Moments::default(),
        [(m, n)] if *n == 1.0 => return *m,
        _ => {}
    }
    let upper = live.iter().map(|(m, n)| m.mean + (8.0 + n.ln().max(0.0)) * m.var.sqrt() * 1.5).fold(0.0, f64::max)
        + live.iter().map(|(m, _)| m.mean).fold(0.0, f64::max);
    let cdfs: Vec<(Fitted, f64)> = live.iter().map(|(m, n)| (Fitted::new(*m), *n)).collect();
    // Simpson's rule on the survival function of the maximum.
    let steps = 4000;
    let h = upper / steps as f64;
    let (mut first, mut second) = (0.0, 0.0);
    for i in 0..=steps {
        let t = i as f64 * h;
        let survival = 1.0 - cdfs.iter().map(|(f, n)| f.cdf(t).powf(*n)).product::<f64>();
        let w = if i == 0 || i == steps {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        first += w * survival;
        second += w * 2.0 * t * survival;
    }
    let mean = first * h / 3.0;
    let m2 = second * h / 3.0;
    Moments { mean, var: (m2 - mean * mean).max(0.0) }
}

/// What arrives at one station: requests per second, and the first two moments of their
/// service times summed over them (ms and ms²), mixing its endpoints.
#[derive(Debug, Clone, Copy, Default)]
struct Arriving {
    rate: f64,
    work: f64,
    second: f64,
}

impl Arriving {
    /// Each station's arrivals, in one pass over the endpoints.
    fn per_station(net: &Network, arrivals: &[f64]) -> Vec<Arriving> {
        let mut out = vec![Arriving::default(); net.stations.len()];
        for (e, endpoint) in net.endpoints.iter().enumerate() {
            let mean = endpoint.dist.mean();
            let a = &mut out[endpoint.station as usize];
            a.rate += arrivals[e];
            a.work += arrivals[e] * mean;
            a.second += arrivals[e] * mean * mean * (1.0 + endpoint.dist.scv());
        }
        out
    }

    /// Offered work per server: may be 1 or more; infinite with work and no servers.
    fn utilisation(&self, servers: u32) -> f64 {
        if self.work == 0.0 {
            0.0
        } else if servers == 0 {
            f64::INFINITY
        } else {
            self.work / 1000.0 / f64::from(servers)
        }
    }
}

/// The wait for a server: 0 with probability 1 - C, else exponential with mean `Wq / C`.
fn wait_moments(mean_wait: f64, wait_probability: f64) -> Moments {
    let var = if wait_probability > 0.0 {
        (2.0 * mean_wait * mean_wait / wait_probability - mean_wait * mean_wait).max(0.0)
    } else {
        0.0
    };
    Moments { mean: mean_wait, var }
}

/// What the load asks of one station, without queueing: known even when it cannot settle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offered {
    /// Requests per second arriving.
    pub arrival_rps: f64,
    /// Work arriving, in servers' worth (rate times mean service time).
    pub work: f64,
    /// Work per server: 1 or more is overload; infinite with work and no servers.
    pub utilisation: f64,
}

/// Requests per second arriving at each endpoint, from outside and from callers, by the
/// traffic equations alone.
pub fn endpoint_arrivals(net: &Network) -> Result<Vec<f64>, PerfError> {
    net.check()?;
    traffic(net, &call_cycles(net))
}

/// Each station's arrivals and offered work, by the traffic equations alone.
pub fn offered(net: &Network) -> Result<Vec<Offered>, PerfError> {
    net.check()?;
    let arrivals = traffic(net, &call_cycles(net))?;
    Ok(Arriving::per_station(net, &arrivals)
        .iter()
        .zip(&net.stations)
        .map(|(a, station)| Offered {
            arrival_rps: a.rate,
            work: a.work / 1000.0,
            utilisation: a.utilisation(station.servers),
        })
        .collect())
}

/// Solves the network at the rates its sources state.
pub fn solve(net: &Network) -> Result<Solution, PerfError> {
    net.check()?;
    let n = net.endpoints.len();
    let groups = call_cycles(net);
    let arrivals = traffic(net, &groups)?;

    // Stations: merged service time of their endpoints, then the queue.
    let mut stations = Vec::with_capacity(net.stations.len());
    let mut waits = Vec::with_capacity(net.stations.len());
    for (s, (station, a)) in net.stations.iter().zip(Arriving::per_station(net, &arrivals)).enumerate() {
        let (rate, work) = (a.rate, a.work);
        let mean_service = if rate > 0.0 { work / rate } else { 0.0 };
        let scv = if work > 0.0 { (a.second * rate / (work * work) - 1.0).max(0.0) } else { 0.0 };
        let overloaded = |utilisation: f64| PerfError::Overloaded {
            station: station.name.clone(),
            index: s,
            utilisation,
            arrival_rps: rate,
            servers: station.servers,
        };
        let (utilisation, wait_probability, mean_wait) = if rate == 0.0 || work == 0.0 {
            (0.0, 0.0, 0.0)
        } else if station.servers == 0 {
            return Err(PerfError::Down { station: station.name.clone(), index: s, arrival_rps: rate });
        } else {
            let q = mmc(rate, 1000.0 / mean_service, station.servers).map_err(|err| match err {
                PerfError::Saturated { utilisation } => overloaded(utilisation),
                other => other,
            })?;
            (q.utilisation, q.wait_probability, q.mean_wait * 1000.0 * (1.0 + scv) / 2.0)
        };
        waits.push(wait_moments(mean_wait, wait_probability));
        stations.push(StationSolution {
            arrival_rps: rate,
            utilisation,
            mean_service_ms: mean_service,
            wait_probability,
            mean_wait_ms: mean_wait,
            mean_response_ms: mean_wait + mean_service,
        });
    }

    // Latency, callees first: a group of endpoints calling each other is iterated to its fixed point.
    let own: Vec<Moments> = net
        .endpoints
        .iter()
        .map(|e| {
            let mean = e.dist.mean();
            waits[e.station as usize].plus(Moments { mean, var: e.dist.scv() * mean * mean })
        })
        .collect();
    let mut time = vec![Moments::default(); n];
    for group in &groups {
        let single = group.len() == 1 && !net.calls_of(group[0]).any(|(c, _)| c.to as usize == group[0]);
        let rounds = if single { 1 } else { 1_000_000 };
        let mut settled = false;
        for _ in 0..rounds {
            let mut change: f64 = 0.0;
            for &e in group {
                let next = own[e].plus(steps_time(net, e, &time));
                change = change.max((next.mean - time[e].mean).abs() / next.mean.max(1e-300));
                time[e] = next;
            }
            if change < 1e-13 {
                settled = true;
                break;
            }
        }
        if !settled && !single || group.iter().any(|&e| !time[e].mean.is_finite() || !time[e].var.is_finite()) {
            return Err(PerfError::Model(format!(
                "the latency of {} does not settle (a call cycle that requests hardly ever leave)",
                names(net, group)
            )));
        }
    }

    let endpoints = (0..n)
        .map(|e| EndpointSolution { arrival_rps: arrivals[e], mean_ms: time[e].mean, sd_ms: time[e].var.sqrt() })
        .collect();
    let entries = net
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let m = time[s.endpoint as usize];
            let q = |p: f64| quantile(m, p);
            EntrySolution {
                source: i,
                endpoint: s.endpoint as usize,
                rate_rps: s.rate_rps,
                mean_ms: m.mean,
                p50_ms: q(0.5),
                p90_ms: q(0.9),
                p99_ms: q(0.99),
                ok_share: 1.0,
            }
        })
        .collect();
    let bottleneck = stations
        .iter()
        .enumerate()
        .filter(|(_, s)| s.arrival_rps > 0.0)
        .max_by(|a, b| a.1.utilisation.total_cmp(&b.1.utilisation))
        .map(|(i, _)| i);
    Ok(Solution { stations, endpoints, entries, bottleneck })
}

/// Solves the network with its down stations (no servers) failing every request at once
/// instead of refusing them: their calls are not made, and each entry point carries the
/// share of its requests that succeed (hard calls fail their caller, after retries; soft
/// calls and messages do not). Latencies count failed requests, answered early.
pub fn solve_failing(net: &Network) -> Result<Solution, PerfError> {
    let down: Vec<bool> = net.stations.iter().map(|s| s.servers == 0).collect();
    if !down.contains(&true) {
        return solve(net);
    }
    let mut cut = net.clone();
    for (station, _) in cut.stations.iter_mut().zip(&down).filter(|(_, d)| **d) {
        // Never used: no work reaches it.
        station.servers = 1;
    }
    for endpoint in cut.endpoints.iter_mut().filter(|e| down[e.station as usize]) {
        endpoint.dist = crate::dist::ServiceDist::Deterministic { value: 0.0 };
        endpoint.steps.clear();
    }
    let mut solution = solve(&cut)?;
    let ok = ok_shares(net, &down);
    for entry in &mut solution.entries {
        entry.ok_share = ok[entry.endpoint];
    }
    for (station, _) in solution.stations.iter_mut().zip(&down).filter(|(_, d)| **d) {
        station.utilisation = 0.0;
    }
    Ok(solution)
}

/// Share of each endpoint's requests that succeed when the `down` stations fail every
/// request: iterated from all-succeed to its fixed point (it only falls).
fn ok_shares(net: &Network, down: &[bool]) -> Vec<f64> {
    let call_ok = |c: &Call, ok: &[f64]| {
        if !c.hard || !c.waits {
            return 1.0;
        }
        let p = 1.0 - (1.0 - ok[c.to as usize]).powi(c.retry.max.saturating_add(1).min(i32::MAX as u32) as i32);
        let n = c.times.floor();
        let r = c.times - n;
        p.powf(n) * (1.0 - r + r * p)
    };
    let mut ok = vec![1.0; net.endpoints.len()];
    for _ in 0..10_000 {
        let mut change: f64 = 0.0;
        for (e, endpoint) in net.endpoints.iter().enumerate() {
            let value = if down[endpoint.station as usize] {
                0.0
            } else {
                endpoint
                    .steps
                    .iter()
                    .map(|step| match step {
                        Step::Call(c) => call_ok(c, &ok),
                        Step::Parallel(calls) => calls.iter().map(|c| call_ok(c, &ok)).product(),
                        Step::Choice(choices) => {
                            let chosen: f64 = choices.iter().map(|(p, _)| p).sum();
                            choices.iter().map(|(p, c)| p * call_ok(c, &ok)).sum::<f64>() + (1.0 - chosen).max(0.0)
                        }
                    })
                    .product()
            };
            change = change.max((value - ok[e]).abs());
            ok[e] = value;
        }
        if change < 1e-12 {
            break;
        }
    }
    ok
}

/// A percentile of a time fitted by a gamma (a point mass when it does not vary).
fn quantile(m: Moments, p: f64) -> f64 {
    Fitted::new(m).quantile(p)
}

/// Time spent in an endpoint's steps, from its callees' current times.
fn steps_time(net: &Network, e: usize, time: &[Moments]) -> Moments {
    let call_time = |c: &Call| {
        if c.waits { time[c.to as usize].plus(Moments::fixed(c.latency_ms)) } else { Moments::default() }
    };
    let mut total = Moments::default();
    for step in &net.endpoints[e].steps {
        let t = match step {
            Step::Call(c) => call_time(c).repeated(c.times),
            Step::Choice(choices) => {
                let parts: Vec<(f64, Moments)> =
                    choices.iter().map(|(p, c)| (*p, call_time(c).repeated(c.times))).collect();
                Moments::mixture(&parts)
            }
            Step::Parallel(calls) => {
                let branches: Vec<(Moments, f64)> = calls
                    .iter()
                    .map(|c| {
                        let n = c.times.floor();
                        let r = c.times - n;
                        let t = call_time(c);
                        if r == 0.0 {
                            (t, n)
                        } else {
                            let fewer = maximum(&[(t, n)]);
                            let more = maximum(&[(t, n + 1.0)]);
                            (Moments::mixture(&[(1.0 - r, fewer), (r, more)]), 1.0)
                        }
                    })
                    .collect();
                maximum(&branches)
            }
        };
        total = total.plus(t);
    }
    total
}

/// Endpoints named for a message (the first few of a group).
fn names(net: &Network, group: &[usize]) -> String {
    let mut names: Vec<&str> = group.iter().map(|&e| net.endpoints[e].name.as_str()).collect();
    names.sort_unstable();
    let more = names.len().saturating_sub(4);
    names.truncate(4);
    let mut out = names.join(", ");
    if more > 0 {
        out.push_str(&format!(" and {more} more"));
    }
    out
}

/// Strongly connected groups of the call graph, callees before callers (Tarjan, iterative).
fn call_cycles(net: &Network) -> Vec<Vec<usize>> {
    let n = net.endpoints.len();
    let out: Vec<Vec<usize>> = (0..n)
        .map(|e| {
            let mut to: Vec<usize> = net.calls_of(e).filter(|(_, w)| *w > 0.0).map(|(c, _)| c.to as usize).collect();
            to.sort_unstable();
            to.dedup();
            to
        })
        .collect();
    const UNSEEN: usize = usize::MAX;
    let (mut index, mut low, mut on_stack) = (vec![UNSEEN; n], vec![0; n], vec![false; n]);
    let (mut stack, mut groups, mut next) = (Vec::new(), Vec::new(), 0);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if let Some(&w) = out[v].get(*i) {
                *i += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut group = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    group.push(w);
                    if w == v {
                        break;
                    }
                }
                group.sort_unstable();
                groups.push(group);
            }
        }
    }
    groups
}

/// Arrival rate per endpoint, callers before callees.
fn traffic(net: &Network, groups: &[Vec<usize>]) -> Result<Vec<f64>, PerfError> {
    let n = net.endpoints.len();
    let mut inflow = vec![0.0; n];
    for s in &net.sources {
        inflow[s.endpoint as usize] += s.rate_rps;
    }
    let mut rate = vec![0.0; n];
    let mut member = vec![usize::MAX; n];
    for group in groups.iter().rev() {
        for (k, &e) in group.iter().enumerate() {
            member[e] = k;
        }
        let k = group.len();
        // calls[i][j]: calls per request from the group's i-th endpoint to its j-th.
        let mut calls = vec![0.0; k * k];
        for (i, &e) in group.iter().enumerate() {
            for (c, w) in net.calls_of(e) {
                let to = c.to as usize;
                if member[to] < k && group.get(member[to]) == Some(&to) {
                    calls[i * k + member[to]] += w;
                }
            }
        }
        let b: Vec<f64> = group.iter().map(|&e| inflow[e]).collect();
        let cycle_error = || {
            PerfError::Model(format!(
                "{} call each other in a loop with no way out: a request makes on average one call or more back into the loop, so it never finishes (lower a probability or count in the loop)",
                names(net, group)
            ))
        };
        let solved = if k == 1 {
            if calls[0] >= 1.0 {
                return Err(cycle_error());
            }
            vec![b[0] / (1.0 - calls[0])]
        } else {
            // (I - C) x = 1 has a solution x >= 1 exactly when requests leave the loop.
            let mut a = vec![0.0; k * k];
            for i in 0..k {
                for j in 0..k {
                    a[i * k + j] = f64::from(u8::from(i == j)) - calls[i * k + j];
                }
            }
            let leaves = solve_dense(a.clone(), k, vec![1.0; k]);
            if leaves.is_none_or(|x| x.iter().any(|v| !v.is_finite() || *v < 1.0 - 1e-9)) {
                return Err(cycle_error());
            }
            let mut at = vec![0.0; k * k];
            for i in 0..k {
                for j in 0..k {
                    at[i * k + j] = a[j * k + i];
                }
            }
            solve_dense(at, k, b).ok_or_else(cycle_error)?
        };
        for (i, &e) in group.iter().enumerate() {
            rate[e] = solved[i];
        }
        for &e in group {
            for (c, w) in net.calls_of(e) {
                let to = c.to as usize;
                if !(member[to] < k && group.get(member[to]) == Some(&to)) {
                    inflow[to] += rate[e] * w;
                }
            }
        }
    }
    Ok(rate)
}

/// Gaussian elimination with partial pivoting; `None` when the matrix is singular.
fn solve_dense(mut a: Vec<f64>, n: usize, mut b: Vec<f64>) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x * n + col].abs().total_cmp(&a[y * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-12 {
            return None;
        }
        if pivot != col {
            for j in 0..n {
                a.swap(pivot * n + j, col * n + j);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            if f != 0.0 {
                for j in col..n {
                    a[row * n + j] -= f * a[col * n + j];
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|j| a[row * n + j] * x[j]).sum();
        x[row] = (b[row] - s) / a[row * n + row];
    }
    Some(x)
}

/// The queueing answer for one station (M/M/c, Allen-Cunneen for other shapes), as the
/// resilience cascade asks it; overload is shed as by the utilisation law.
#[derive(Debug, Clone, Copy, Default)]
pub struct Queueing;

impl LoadModel for Queueing {
    fn name(&self) -> &'static str {
        "queueing"
    }

    fn station(&self, load: &StationLoad) -> Result<StationResult, PerfError> {
        load.check()?;
        let servers = load.servers.floor() as u32;
        let saturated = || crate::UtilisationLaw.station(load);
        if load.arrival_rps == 0.0 || load.service_time_ms == 0.0 || servers == 0 {
            return saturated();
        }
        match mmc(load.arrival_rps, 1000.0 / load.service_time_ms, servers) {
            Ok(q) => {
                let scv = load.service_time_cv * load.service_time_cv;
                let wait = q.mean_wait * 1000.0 * (1.0 + scv) / 2.0;
                let service =
                    Moments { mean: load.service_time_ms, var: scv * load.service_time_ms * load.service_time_ms };
                let m = wait_moments(wait, q.wait_probability).plus(service);
                let (latency, loss) = match load.timeout_ms {
                    Some(t) if m.mean > t => (t, 1.0 - t / m.mean),
                    _ => (m.mean, 0.0),
                };
                Ok(StationResult {
                    utilisation: q.utilisation,
                    latency_ms: latency,
                    latency_p99_ms: Some(quantile(m, 0.99)),
                    loss,
                })
            }
            Err(PerfError::Saturated { .. }) => saturated(),
            Err(other) => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::ServiceDist;
    use crate::network::Source;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-12)
    }

    #[test]
    fn mm1_is_exact() {
        // lambda 8/s, mean 100 ms: rho 0.8, response 1/(mu - lambda) = 500 ms.
        let net = Network::jackson(&[1], &[100.0], &[8.0], &[vec![0.0]]);
        let s = solve(&net).unwrap();
        assert!(close(s.stations[0].utilisation, 0.8, 1e-12));
        assert!(close(s.entries[0].mean_ms, 500.0, 1e-12));
        // The sojourn of M/M/1 is exponential: its median is ln 2 / (mu - lambda).
        assert!(close(s.entries[0].p50_ms, 500.0 * 2f64.ln(), 1e-9), "{}", s.entries[0].p50_ms);
        assert!(close(s.entries[0].p99_ms, 500.0 * 100f64.ln(), 1e-9), "{}", s.entries[0].p99_ms);
    }

    #[test]
    fn down_stations_fail_their_hard_callers_and_spare_the_soft_ones() {
        // Front (10 ms) calls a (20 ms, hard, 2 retries), then b (30 ms) with probability 0.3.
        let mut net = Network::plain(&[(4, 10.0), (4, 20.0), (4, 30.0)]);
        let mut to_a = Call::to(1, 1.0);
        to_a.retry.max = 2;
        net.endpoints[0].steps = vec![Step::Call(to_a), Step::Choice(vec![(0.3, Call::to(2, 1.0))])];
        net.sources.push(Source { endpoint: 0, rate_rps: 10.0, daily: None, weekly: None });
        let all = solve_failing(&net).unwrap();
        assert_eq!(all, solve(&net).unwrap(), "nothing down: the same as solve");
        assert_eq!(all.entries[0].ok_share, 1.0);

        net.stations[2].servers = 0;
        assert!(matches!(solve(&net), Err(PerfError::Down { index: 2, .. })));
        let b_down = solve_failing(&net).unwrap();
        // 30% of requests reach b and fail (retries do not help a down station).
        assert!(close(b_down.entries[0].ok_share, 0.7, 1e-12), "{:?}", b_down.entries[0]);
        // b answers at once: the time is front and a only (each nearly unloaded).
        let front_and_a = all.endpoints[0].mean_ms - 0.3 * all.endpoints[2].mean_ms;
        assert!(close(b_down.entries[0].mean_ms, front_and_a, 1e-9), "{:?}", b_down.entries[0]);
        assert_eq!(b_down.stations[2].utilisation, 0.0);
        assert!(close(b_down.stations[2].arrival_rps, 3.0, 1e-12), "calls still arrive at b");

        // A soft call to b is survived.
        if let Step::Choice(choices) = &mut net.endpoints[0].steps[1] {
            choices[0].1.hard = false;
        }
        assert_eq!(solve_failing(&net).unwrap().entries[0].ok_share, 1.0);

        // a down: every request fails.
        net.stations[1].servers = 0;
        assert_eq!(solve_failing(&net).unwrap().entries[0].ok_share, 0.0);
    }

    #[test]
    fn mmc_matches_erlang_c() {
        // Two servers, lambda 15/s, mean 100 ms: a = 1.5, rho 0.75, C = 9/14, Wq = C/(c mu - lambda) = 9/70 s.
        let net = Network::jackson(&[2], &[100.0], &[15.0], &[vec![0.0]]);
        let s = solve(&net).unwrap();
        assert!(close(s.stations[0].wait_probability, 9.0 / 14.0, 1e-12));
        assert!(close(s.entries[0].mean_ms, 9000.0 / 70.0 + 100.0, 1e-12));
    }

    #[test]
    fn md1_is_pollaczek_khinchine() {
        // Deterministic 100 ms at 8/s: Wq = rho S / (2 (1 - rho)) = 200 ms.
        let mut net = Network::jackson(&[1], &[100.0], &[8.0], &[vec![0.0]]);
        net.endpoints[0].dist = ServiceDist::Deterministic { value: 100.0 };
        let s = solve(&net).unwrap();
        assert!(close(s.stations[0].mean_wait_ms, 200.0, 1e-12), "{}", s.stations[0].mean_wait_ms);
        assert!(close(s.entries[0].mean_ms, 300.0, 1e-12));
    }

    #[test]
    fn tandem_adds_the_stations() {
        // 5/s through 100 ms then 150 ms (one server each): 1/(10-5) + 1/(6.67-5) = 200 + 600 ms.
        let net = Network::jackson(&[1, 1], &[100.0, 150.0], &[5.0, 0.0], &[vec![0.0, 1.0], vec![0.0, 0.0]]);
        let s = solve(&net).unwrap();
        assert!(close(s.entries[0].mean_ms, 800.0, 1e-12), "{}", s.entries[0].mean_ms);
    }

    /// Three stations with feedback: 1 -> 2 -> 3, 3 back to 1 with 0.3 and to 2 with 0.2.
    pub(crate) fn jackson3() -> Network {
        Network::jackson(
            &[1, 2, 1],
            &[40.0, 120.0, 50.0],
            &[4.0, 2.0, 0.0],
            &[vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0], vec![0.3, 0.2, 0.0]],
        )
    }

    /// The textbook answer: visit rates from the traffic equations, each station M/M/c,
    /// Little's law over the whole network.
    pub(crate) fn jackson3_exact() -> f64 {
        // lambda1 = 4 + 0.3 l3, lambda2 = 2 + l1 + 0.2 l3, lambda3 = l2 => l3 = (6 + 0.3 l3 ... )
        let l3 = 6.0 / (1.0 - 0.5);
        let (l1, l2) = (4.0 + 0.3 * l3, 2.0 + 4.0 + 0.3 * l3 + 0.2 * l3);
        assert!(close(l2, l3, 1e-12));
        let w = |l: f64, s_ms: f64, c: u32| crate::mmc::mmc(l, 1000.0 / s_ms, c).unwrap().mean_response * 1000.0;
        (l1 * w(l1, 40.0, 1) + l2 * w(l2, 120.0, 2) + l3 * w(l3, 50.0, 1)) / 6.0
    }

    #[test]
    fn jackson_with_feedback_is_exact() {
        let s = solve(&jackson3()).unwrap();
        assert!(close(s.endpoints[2].arrival_rps, 12.0, 1e-12), "{:?}", s.endpoints);
        assert!(
            close(s.mean_response_ms(), jackson3_exact(), 1e-10),
            "{} vs {}",
            s.mean_response_ms(),
            jackson3_exact()
        );
        assert_eq!(s.bottleneck, Some(1)); // 12/s x 120 ms on two servers: 72%
    }

    #[test]
    fn a_cycle_without_exit_is_refused_by_name() {
        let net = Network::jackson(&[1, 1], &[10.0, 10.0], &[1.0, 0.0], &[vec![0.0, 1.0], vec![1.0, 0.0]]);
        let err = solve(&net).unwrap_err().to_string();
        assert!(err.contains("station 0, station 1 call each other in a loop with no way out"), "{err}");
        let net = Network::jackson(&[1], &[10.0], &[1.0], &[vec![1.0]]);
        assert!(solve(&net).unwrap_err().to_string().contains("no way out"));
    }

    #[test]
    fn overload_names_the_station_and_never_gives_nan() {
        let net = Network::jackson(&[1, 1], &[10.0, 300.0], &[5.0, 0.0], &[vec![0.0, 0.7], vec![0.0, 0.0]]);
        let err = solve(&net).unwrap_err().to_string();
        assert!(err.starts_with("station 1 would be 105% busy (3.5 rps on 1 server)"), "{err}");
        let mut net = Network::jackson(&[1], &[10.0], &[5.0], &[vec![0.0]]);
        net.stations[0].servers = 0;
        assert!(
            solve(&net)
                .unwrap_err()
                .to_string()
                .contains("station 0 has no servers (it is down or scaled to 0 replicas) yet receives 5.0 rps")
        );
        net.sources[0].rate_rps = f64::NAN;
        assert!(solve(&net).unwrap_err().to_string().contains("arrival rate is NaN"));
    }

    #[test]
    fn offered_work_is_known_beyond_saturation() {
        let net = Network::jackson(&[1, 2], &[10.0, 300.0], &[5.0, 0.0], &[vec![0.0, 0.7], vec![0.0, 0.0]]);
        let o = offered(&net).unwrap();
        assert!(close(o[0].utilisation, 0.05, 1e-12) && close(o[1].arrival_rps, 3.5, 1e-12), "{o:?}");
        assert!(close(o[1].utilisation, 0.525, 1e-12) && close(o[1].work, 1.05, 1e-12), "{o:?}");
        let net = scaled_rates(&net, 4.0);
        assert!(close(offered(&net).unwrap()[1].utilisation, 2.1, 1e-12));
    }

    fn scaled_rates(net: &Network, f: f64) -> Network {
        crate::capacity::scaled(net, f)
    }

    #[test]
    fn parallel_calls_take_the_slowest() {
        // An idle front (no wait) calling two exponential 100 ms backends side by side at a
        // trickle: E[max of two exponentials] = 150 ms.
        let mut net = Network::plain(&[(1000, 0.0), (1000, 100.0), (1000, 100.0)]);
        net.endpoints[0].steps = vec![Step::Parallel(vec![Call::to(1, 1.0), Call::to(2, 1.0)])];
        net.sources.push(Source { endpoint: 0, rate_rps: 0.001, daily: None, weekly: None });
        let s = solve(&net).unwrap();
        assert!(close(s.entries[0].mean_ms, 150.0, 1e-3), "{}", s.entries[0].mean_ms);
        // Three copies of one: 100 (1 + 1/2 + 1/3).
        net.endpoints[0].steps = vec![Step::Parallel(vec![Call::to(1, 3.0)])];
        let s = solve(&net).unwrap();
        assert!(close(s.entries[0].mean_ms, 100.0 * (1.0 + 0.5 + 1.0 / 3.0), 1e-3), "{}", s.entries[0].mean_ms);
        // In sequence instead: 300 ms.
        net.endpoints[0].steps = vec![Step::Call(Call::to(1, 3.0))];
        assert!(close(solve(&net).unwrap().entries[0].mean_ms, 300.0, 1e-6));
    }

    #[test]
    fn queueing_model_agrees_with_mmc_and_sheds_overload() {
        let load = StationLoad {
            arrival_rps: 8.0,
            servers: 1.0,
            service_time_ms: 100.0,
            service_time_cv: 1.0,
            queue_limit: None,
            timeout_ms: None,
        };
        let r = Queueing.station(&load).unwrap();
        assert!(close(r.latency_ms, 500.0, 1e-12));
        let r = Queueing.station(&StationLoad { arrival_rps: 20.0, timeout_ms: Some(1000.0), ..load }).unwrap();
        assert!(close(r.loss, 0.5, 1e-12), "{r:?}");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::dist::ServiceDist;
    use proptest::prelude::*;

    /// Any network of up to 6 stations with arbitrary (even bad) numbers.
    fn networks() -> impl Strategy<Value = Network> {
        let number = prop_oneof![4 => 0.0f64..500.0, 1 => Just(-1.0), 1 => Just(f64::NAN), 1 => Just(f64::INFINITY), 1 => Just(0.0)];
        (1usize..6).prop_flat_map(move |n| {
            (
                proptest::collection::vec(0u32..4, n),
                proptest::collection::vec(number.clone(), n),
                proptest::collection::vec(number.clone(), n),
                proptest::collection::vec(proptest::collection::vec(0.0f64..0.7, n), n),
                proptest::collection::vec(0u8..4, n),
            )
                .prop_map(|(servers, means, rates, mut routing, shapes)| {
                    // Rows add up to at most 0.7: requests leave.
                    let n = routing.len() as f64;
                    routing.iter_mut().flatten().for_each(|p| *p /= n);
                    let mut net = Network::jackson(&servers, &means, &rates, &routing);
                    for (e, shape) in net.endpoints.iter_mut().zip(shapes) {
                        let mean = e.dist.mean();
                        e.dist = match shape {
                            0 => e.dist.clone(),
                            1 => ServiceDist::Deterministic { value: mean },
                            2 => ServiceDist::Gamma { mean, cv: 2.0 },
                            _ => ServiceDist::LogNormal { mean, cv: 0.5 },
                        };
                    }
                    net
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        /// Either a clear error or finite figures: never a NaN, never a panic.
        #[test]
        fn never_a_nan(net in networks()) {
            let answer = solve(&net);
            if net.check().is_ok() && net.stations.iter().all(|s| s.servers > 0) && net.sources.iter().all(|s| s.rate_rps < 1e-3) {
                // A trickle of load on stations that all have servers always settles.
                prop_assert!(answer.is_ok(), "{answer:?}");
            }
            match answer {
                Err(err) => prop_assert!(!err.to_string().is_empty()),
                Ok(s) => {
                    for e in &s.entries {
                        for v in [e.mean_ms, e.p50_ms, e.p90_ms, e.p99_ms] {
                            prop_assert!(v.is_finite() && v >= 0.0, "{e:?}");
                        }
                        prop_assert!(e.p50_ms <= e.p99_ms + 1e-9);
                    }
                    for st in &s.stations {
                        prop_assert!(st.utilisation.is_finite() && st.utilisation < 1.0, "{st:?}");
                        prop_assert!(st.mean_wait_ms.is_finite());
                    }
                }
            }
        }

        /// Down stations fail their requests instead of stopping the solver: never a NaN,
        /// success shares between 0 and 1, and never a `Down` error.
        #[test]
        fn down_stations_fail_without_a_nan(net in networks()) {
            match solve_failing(&net) {
                Err(PerfError::Down { .. }) => prop_assert!(false, "a down station was refused"),
                Err(err) => prop_assert!(!err.to_string().is_empty()),
                Ok(s) => {
                    for e in &s.entries {
                        prop_assert!((0.0..=1.0).contains(&e.ok_share), "{e:?}");
                        let down = net.stations[net.endpoints[e.endpoint].station as usize].servers == 0;
                        prop_assert!(!down || e.ok_share == 0.0, "{e:?}");
                        for v in [e.mean_ms, e.p50_ms, e.p99_ms] {
                            prop_assert!(v.is_finite() && v >= 0.0, "{e:?}");
                        }
                    }
                }
            }
        }
    }
}
