//! Calibration: service times estimated from what was observed, and the model's fidelity
//! measured against what was observed. Service demand comes from the utilisation law
//! (a station busy `U` of its `c` servers while serving `X_e` requests per second of each
//! endpoint works `U c = sum X_e S_e`), split between endpoints by their span self-times
//! where traces exist (else by the model's own ratios); the shape comes from the self-times'
//! p99 where it was measured (a lognormal through mean and p99), else stays as written.

use crate::PerfError;
use crate::analytic::{Solution, solve_failing};
use crate::dist::ServiceDist;
use crate::network::{Network, UNBOUNDED_SERVERS};

/// z of the 99th percentile of the standard normal.
const Z99: f64 = 2.326_347_874_040_841;

/// Telemetry over one window, in the network's indices; `None` where nothing was measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// Per station: busy share of its servers, 0 to 1.
    pub utilisation: Vec<Option<f64>>,
    /// Per endpoint: requests per second it served.
    pub rate_rps: Vec<Option<f64>>,
    /// Per endpoint: its own time in spans (calls excluded).
    pub self_time: Vec<Option<Timing>>,
    /// Per endpoint: its end-to-end latency as its callers saw it.
    pub latency: Vec<Option<Timing>>,
}

/// A measured time: mean and, where known, 99th percentile, ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Mean, ms.
    pub mean_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
}

/// How an endpoint's service time was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Utilisation law, split between endpoints by the model's own ratios.
    UtilisationLaw,
    /// Utilisation law, split between endpoints by their span self-times.
    UtilisationLawAndSpans,
    /// Span self-times alone (no utilisation measured).
    Spans,
}

impl Method {
    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::UtilisationLaw => "utilisation law",
            Method::UtilisationLawAndSpans => "utilisation law, split by spans",
            Method::Spans => "span self-times",
        }
    }
}

/// One endpoint's service time, before and after calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrated {
    /// Index of the endpoint.
    pub endpoint: usize,
    /// As the model had it.
    pub before: ServiceDist,
    /// As the telemetry says.
    pub after: ServiceDist,
    /// How.
    pub method: Method,
}

/// Service times for every endpoint the telemetry says something about, in endpoint
/// order. Endpoints of stations without utilisation or self-times are left out. Endpoint
/// rates not measured come from the call graph at the measured entry rates.
pub fn calibrate(net: &Network, observed: &Observed) -> Result<Vec<Calibrated>, PerfError> {
    net.check()?;
    check(net, observed)?;
    let rates = endpoint_rates(net, observed)?;
    let mut of_station: Vec<Vec<usize>> = vec![Vec::new(); net.stations.len()];
    for (e, endpoint) in net.endpoints.iter().enumerate() {
        of_station[endpoint.station as usize].push(e);
    }
    let mut out = Vec::new();
    for ((s, station), endpoints) in net.stations.iter().enumerate().zip(of_station) {
        let spans = |e: usize| observed.self_time.get(e).copied().flatten();
        let any_span = endpoints.iter().any(|&e| spans(e).is_some());
        // Each endpoint's time before scaling: its self-time, else the model's.
        let base: Vec<f64> =
            endpoints.iter().map(|&e| spans(e).map_or(net.endpoints[e].dist.mean(), |t| t.mean_ms)).collect();
        let work: f64 = endpoints.iter().zip(&base).map(|(&e, b)| rates[e] * b).sum();
        let busy = observed.utilisation.get(s).copied().flatten();
        let (scale, method) = match busy {
            Some(u) if work > 0.0 && station.servers > 0 && station.servers < UNBOUNDED_SERVERS => {
                let k = u * f64::from(station.servers) * 1000.0 / work;
                (k, if any_span { Method::UtilisationLawAndSpans } else { Method::UtilisationLaw })
            }
            _ if any_span => (1.0, Method::Spans),
            _ => continue,
        };
        for (&e, b) in endpoints.iter().zip(&base) {
            if method == Method::Spans && spans(e).is_none() {
                continue;
            }
            let before = net.endpoints[e].dist.clone();
            let mean = b * scale;
            let after = match spans(e).and_then(|t| t.p99_ms.map(|p| (t.mean_ms, p))) {
                Some((m, p99)) => lognormal_through(mean, p99 / m),
                None if before.mean() > 0.0 => before.scaled(before.mean() / mean.max(f64::MIN_POSITIVE)),
                None => ServiceDist::from_mean_cv(mean, 1.0),
            };
            out.push(Calibrated { endpoint: e, before, after, method });
        }
    }
    Ok(out)
}

/// A lognormal of this mean whose p99 is `ratio` times its mean (as measured), the
/// spread capped where no lognormal reaches that ratio.
fn lognormal_through(mean: f64, ratio: f64) -> ServiceDist {
    if ratio.is_nan() || ratio <= 1.0 || mean <= 0.0 {
        return ServiceDist::Deterministic { value: mean.max(0.0) };
    }
    // p99 / mean = exp(Z99 sigma - sigma^2 / 2): the smaller root.
    let disc = (Z99 * Z99 - 2.0 * ratio.ln()).max(0.0);
    let sigma = Z99 - disc.sqrt();
    ServiceDist::LogNormal { mean, cv: (sigma * sigma).exp_m1().sqrt() }
}

/// Requests per second at each endpoint: measured, else from the call graph at the
/// measured (else written) entry rates.
fn endpoint_rates(net: &Network, observed: &Observed) -> Result<Vec<f64>, PerfError> {
    let at_observed = at_observed_load(net, observed);
    let offered = crate::analytic::endpoint_arrivals(&at_observed)?;
    Ok((0..net.endpoints.len()).map(|e| observed.rate_rps.get(e).copied().flatten().unwrap_or(offered[e])).collect())
}

/// The network with each source at its endpoint's measured rate, where measured.
pub fn at_observed_load(net: &Network, observed: &Observed) -> Network {
    let mut net = net.clone();
    for source in &mut net.sources {
        if let Some(rate) = observed.rate_rps.get(source.endpoint as usize).copied().flatten() {
            source.rate_rps = rate;
        }
    }
    net
}

/// Refuses measurements that are not numbers in range, naming the first.
fn check(net: &Network, observed: &Observed) -> Result<(), PerfError> {
    let bad = |what: String, value: f64, expected: &str| {
        Err(PerfError::Model(format!("observed {what} is {value}; expected {expected}")))
    };
    for (s, u) in observed.utilisation.iter().enumerate() {
        if let Some(u) = *u
            && !(0.0..=1.0).contains(&u)
        {
            let name = net.stations.get(s).map_or("?", |x| x.name.as_str());
            return bad(format!("utilisation of {name}"), u, "a share from 0 to 1");
        }
    }
    let endpoint = |e: usize| net.endpoints.get(e).map_or("?", |x| x.name.as_str());
    for (e, r) in observed.rate_rps.iter().enumerate() {
        if let Some(r) = *r
            && !(r.is_finite() && r >= 0.0)
        {
            return bad(format!("request rate of {}", endpoint(e)), r, "a finite rate of at least 0");
        }
    }
    for (what, list) in [("self-time", &observed.self_time), ("latency", &observed.latency)] {
        for (e, t) in list.iter().enumerate() {
            let Some(t) = t else { continue };
            if !(t.mean_ms.is_finite() && t.mean_ms >= 0.0) {
                return bad(format!("mean {what} of {}", endpoint(e)), t.mean_ms, "a finite time of at least 0 ms");
            }
            if let Some(p) = t.p99_ms
                && !(p.is_finite() && p >= 0.0)
            {
                return bad(format!("p99 {what} of {}", endpoint(e)), p, "a finite time of at least 0 ms");
            }
        }
    }
    Ok(())
}

/// The model against the telemetry at one entry point.
#[derive(Debug, Clone, PartialEq)]
pub struct Fidelity {
    /// Index of the source.
    pub source: usize,
    /// Observed mean and p99, ms.
    pub observed_mean_ms: f64,
    /// Observed p99, ms, where measured.
    pub observed_p99_ms: Option<f64>,
    /// Predicted at the observed load, ms.
    pub predicted_mean_ms: f64,
    /// Predicted p99, ms.
    pub predicted_p99_ms: f64,
    /// Predicted over observed mean, minus 1.
    pub mean_error: f64,
    /// Predicted over observed p99, minus 1.
    pub p99_error: Option<f64>,
    /// Busy share of the busiest station the model has at that load.
    pub busiest_utilisation: f64,
}

/// Predicted against observed latency at each entry point with a measured latency, the
/// model solved at the measured entry rates.
pub fn fidelity(net: &Network, observed: &Observed) -> Result<Vec<Fidelity>, PerfError> {
    check(net, observed)?;
    let at = at_observed_load(net, observed);
    let solution: Solution = solve_failing(&at)?;
    let busiest = solution.stations.iter().map(|s| s.utilisation).fold(0.0, f64::max);
    Ok(solution
        .entries
        .iter()
        .filter_map(|entry| {
            let seen = observed.latency.get(entry.endpoint).copied().flatten()?;
            (seen.mean_ms > 0.0).then(|| Fidelity {
                source: entry.source,
                observed_mean_ms: seen.mean_ms,
                observed_p99_ms: seen.p99_ms,
                predicted_mean_ms: entry.mean_ms,
                predicted_p99_ms: entry.p99_ms,
                mean_error: entry.mean_ms / seen.mean_ms - 1.0,
                p99_error: seen.p99_ms.filter(|p| *p > 0.0).map(|p| entry.p99_ms / p - 1.0),
                busiest_utilisation: busiest,
            })
        })
        .collect())
}

/// The network with calibrated service times in place.
pub fn apply(net: &Network, calibrated: &[Calibrated]) -> Network {
    let mut net = net.clone();
    for c in calibrated {
        net.endpoints[c.endpoint].dist = c.after.clone();
    }
    net
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytic::{endpoint_arrivals, solve};
    use crate::network::{Call, Endpoint, Slo, Source, Station, Step};
    use crate::sim::{SimConfig, run};
    use rand::SeedableRng;

    /// Front (2 servers) calls back's read (80%) or write (20%); back has 3 servers.
    fn shop(front: ServiceDist, read: ServiceDist, write: ServiceDist, rate: f64) -> Network {
        let station = |name: &str, servers| Station { name: name.into(), servers, queue_limit: None };
        let endpoint = |name: &str, station, dist, steps| Endpoint {
            name: name.into(),
            station,
            dist,
            steps,
            slo: Slo::default(),
            error_rate: 0.0,
        };
        Network {
            stations: vec![station("front", 2), station("back", 3)],
            endpoints: vec![
                endpoint("front", 0, front, vec![Step::Choice(vec![(0.8, Call::to(1, 1.0)), (0.2, Call::to(2, 1.0))])]),
                endpoint("read", 1, read, vec![]),
                endpoint("write", 1, write, vec![]),
            ],
            sources: vec![Source { endpoint: 0, rate_rps: rate, daily: None, weekly: None }],
        }
    }

    /// The estate as it really is: lognormal front, gamma back, write three times read.
    fn truth(rate: f64) -> Network {
        shop(
            ServiceDist::LogNormal { mean: 20.0, cv: 1.5 },
            ServiceDist::Gamma { mean: 30.0, cv: 0.6 },
            ServiceDist::Gamma { mean: 90.0, cv: 0.6 },
            rate,
        )
    }

    /// The estate as written: wrong means, wrong ratio, exponential everywhere.
    fn written(rate: f64) -> Network {
        let exp = |mean| ServiceDist::Exponential { mean };
        shop(exp(10.0), exp(60.0), exp(60.0), rate)
    }

    /// Back's busy share at `rate`: 0.8 x 30 + 0.2 x 90 = 42 ms per request on 3 servers.
    fn rate_for(back_busy: f64) -> f64 {
        back_busy * 3.0 / 0.042
    }

    /// What telemetry would show of the truth at `rate`: the simulator's utilisation and
    /// latency, request counts, and self-time mean and p99 from sampled spans.
    fn observe(rate: f64, seed: u64, spans: bool) -> Observed {
        let net = truth(rate);
        let report = simulate(&net, seed);
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let timing = |dist: &ServiceDist, rng: &mut rand_xoshiro::Xoshiro256PlusPlus| {
            let sampler = dist.sampler();
            let mut xs: Vec<f64> = (0..40_000).map(|_| sampler.sample(rng)).collect();
            xs.sort_by(f64::total_cmp);
            Timing { mean_ms: xs.iter().sum::<f64>() / xs.len() as f64, p99_ms: Some(xs[xs.len() * 99 / 100]) }
        };
        let entry = &report.entries[0];
        let mut latency = vec![None; 3];
        latency[0] = Some(Timing { mean_ms: entry.mean_ms.mean, p99_ms: Some(entry.p99_ms.mean) });
        Observed {
            utilisation: report.stations.iter().map(|s| Some(s.utilisation.mean)).collect(),
            rate_rps: endpoint_arrivals(&net).unwrap().into_iter().map(Some).collect(),
            self_time: if spans {
                net.endpoints.iter().map(|e| Some(timing(&e.dist, &mut rng))).collect()
            } else {
                vec![None; 3]
            },
            latency,
        }
    }

    /// Near saturation waits are long and correlated: the truth is measured over more
    /// requests there, so that its own noise stays well inside the goal.
    fn simulate(net: &Network, seed: u64) -> crate::sim::SimReport {
        let rate = net.sources[0].rate_rps;
        let requests = if rate > rate_for(0.8) { 200_000.0 } else { 40_000.0 };
        let config = SimConfig {
            seed,
            horizon_s: requests / rate,
            warmup_s: 500.0 / rate,
            replications: 8,
            ..SimConfig::default()
        };
        run(net, &config).unwrap()
    }

    #[test]
    fn the_utilisation_law_finds_the_service_demand() {
        let observed = observe(rate_for(0.5), 1, false);
        let calibrated = calibrate(&written(rate_for(0.5)), &observed).unwrap();
        assert_eq!(calibrated.len(), 3);
        assert!(calibrated.iter().all(|c| c.method == Method::UtilisationLaw));
        // Front: all its demand is one endpoint's, so the law finds its mean.
        let front = calibrated[0].after.mean();
        assert!((front / 20.0 - 1.0).abs() < 0.05, "front {front}");
        // Back: the total demand is right, the split is the written one (equal).
        let demand = 0.8 * calibrated[1].after.mean() + 0.2 * calibrated[2].after.mean();
        assert!((demand / 42.0 - 1.0).abs() < 0.05, "back demand {demand}");
        assert!((calibrated[1].after.mean() - calibrated[2].after.mean()).abs() < 1e-9);
        // The shape stays as written without spans.
        assert!(matches!(calibrated[0].after, ServiceDist::Exponential { .. }));
    }

    #[test]
    fn spans_split_the_demand_and_give_the_shape() {
        let observed = observe(rate_for(0.5), 2, true);
        let calibrated = calibrate(&written(rate_for(0.5)), &observed).unwrap();
        assert!(calibrated.iter().all(|c| c.method == Method::UtilisationLawAndSpans));
        for (c, (mean, cv)) in calibrated.iter().zip([(20.0, 1.5), (30.0, 0.6), (90.0, 0.6)]) {
            let (m, v) = (c.after.mean(), c.after.scv().sqrt());
            assert!((m / mean - 1.0).abs() < 0.06, "{c:?}: mean {m} vs {mean}");
            // A lognormal through mean and p99 recovers the spread to within a fifth.
            assert!((v / cv - 1.0).abs() < 0.2, "{c:?}: cv {v} vs {cv}");
        }
    }

    /// The bar: calibrated at half load, the model predicts the truth's mean within 10%
    /// below 70% busy and 25% near saturation, and its p99 within 20%.
    #[test]
    fn calibrated_predictions_meet_the_fidelity_goal() {
        let observed = observe(rate_for(0.5), 3, true);
        let calibrated = apply(&written(1.0), &calibrate(&written(rate_for(0.5)), &observed).unwrap());
        let mut before = Vec::new();
        for (busy, mean_goal, p99_goal) in [(0.3, 0.10, 0.20), (0.5, 0.10, 0.20), (0.68, 0.10, 0.20), (0.9, 0.25, 0.20)]
        {
            let rate = rate_for(busy);
            let seen = observe(rate, 10 + (busy * 100.0) as u64, false);
            let fid = fidelity(&calibrated, &seen).unwrap();
            assert_eq!(fid.len(), 1);
            let f = &fid[0];
            assert!((f.busiest_utilisation - busy).abs() < 0.03, "{f:?}");
            assert!(f.mean_error.abs() < mean_goal, "at {busy}: mean {f:?}");
            assert!(f.p99_error.unwrap().abs() < p99_goal, "at {busy}: p99 {f:?}");
            eprintln!("busy {busy}: mean {:+.1}%, p99 {:+.1}%", f.mean_error * 100.0, f.p99_error.unwrap() * 100.0);
            before.push((mean_goal, fidelity(&written(1.0), &seen).map_or(f64::INFINITY, |f| f[0].mean_error.abs())));
        }
        // The written model misses the goal everywhere: calibration is what brings it in.
        assert!(before.iter().all(|(goal, error)| error > goal), "{before:?}");
        assert!(solve(&calibrated).is_ok());
    }

    #[test]
    fn bad_measurements_are_refused_by_name() {
        let net = written(10.0);
        let mut observed = Observed { utilisation: vec![Some(1.5), None], ..Observed::default() };
        let err = calibrate(&net, &observed).unwrap_err().to_string();
        assert!(err.contains("utilisation of front") && err.contains("1.5"), "{err}");
        observed.utilisation = vec![];
        observed.self_time = vec![None, Some(Timing { mean_ms: f64::NAN, p99_ms: None })];
        let err = fidelity(&net, &observed).unwrap_err().to_string();
        assert!(err.contains("mean self-time of read"), "{err}");
        // Nothing measured: nothing calibrated, and no fidelity to report.
        assert!(calibrate(&net, &Observed::default()).unwrap().is_empty());
        assert!(fidelity(&net, &Observed::default()).unwrap().is_empty());
    }

    #[test]
    fn a_lognormal_goes_through_the_measured_p99() {
        for cv in [0.2, 0.6, 1.0, 1.5, 2.5] {
            let sigma2 = (1.0_f64 + cv * cv).ln();
            let ratio = (Z99 * sigma2.sqrt() - sigma2 / 2.0).exp();
            let ServiceDist::LogNormal { mean, cv: got } = lognormal_through(10.0, ratio) else { panic!() };
            assert_eq!(mean, 10.0);
            assert!((got - cv).abs() < 1e-9, "{got} vs {cv}");
        }
        assert_eq!(lognormal_through(10.0, 1.0), ServiceDist::Deterministic { value: 10.0 });
    }
}
