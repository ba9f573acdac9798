//! Root cause on the twin: the evidence of one window of telemetry (how anomalous each
//! service's series are, and how far each is from what the queueing model expects at the
//! observed load) ranked over the service call graph by `doppel_predict::rca`.

use doppel_model::{Key, TwinView};
use doppel_perf::analytic::solve;
use doppel_predict::drift::{Divergence, Expected, Metric, diverges, report};
use doppel_predict::rca::{Evidence, Fault, Graph, rank};
use doppel_resilience::behaviour::{PerfModel, PerfOptions, series};
use doppel_resilience::topology::Topology;
use serde::Serialize;

use crate::anomalies::THRESHOLD;

/// What one window of telemetry shows, as two lookups by entity and attribute.
pub struct Window<'a> {
    /// The series' mean over the window, where there is one.
    pub mean: &'a dyn Fn(&Key, &str) -> Option<f64>,
    /// The series' highest anomaly score in the window (0 to 1), where there is one.
    pub anomaly: &'a dyn Fn(&Key, &str) -> Option<f64>,
}

/// One ranked cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    /// The service (or datastore, queue) blamed.
    pub entity: Key,
    /// How likely, 0 to 1 (comparable within one answer).
    pub score: f64,
    /// What it looks like: `latency`, `errors`, `capacity`, `unknown`.
    pub fault: &'static str,
    /// From a symptom down to it.
    pub path: Vec<Key>,
    /// Its evidence in words.
    pub evidence: String,
}

/// The answer: the symptoms found and the causes, likeliest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Entry points whose latency is anomalous or beyond the model (`service/frontend GET /search`).
    pub symptoms: Vec<String>,
    /// Causes, likeliest first (at most 5).
    pub causes: Vec<Cause>,
}

/// `ln(observed / expected)` where it leaves the model's band of `band` either side, else 0.
fn beyond(observed: f64, expected: f64, band: f64) -> f64 {
    match Expected::around(expected, band).ok().and_then(|e| diverges(observed, &e)) {
        Some(_) if observed > 0.0 && expected > 0.0 => (observed / expected).ln(),
        _ => 0.0,
    }
}

/// The twin's model with each entry point at the rate `window` observed (the model's own
/// rate where none was), and what the queueing model expects there.
fn at_observed_load(
    topo: &Topology,
    window: &Window<'_>,
) -> Result<(PerfModel, doppel_perf::Network, doppel_perf::analytic::Solution), String> {
    let model = PerfModel::build(topo, &PerfOptions::default());
    let origins = model.endpoint_origins(topo);
    let mut net = model.network.clone();
    for source in &mut net.sources {
        let (key, name) = origins[source.endpoint as usize];
        if let Some(r) = (window.mean)(key, &series::of(series::REQUEST_RATE, name)) {
            source.rate_rps = r.max(0.0);
        }
    }
    let expected = solve(&net).map_err(|e| format!("the model cannot settle at the observed load: {e}"))?;
    Ok((model, net, expected))
}

/// Ranks the causes of what `window` shows on the twin's model: entry points whose
/// latency is anomalous (or 50% beyond the model) are the symptoms; each station's
/// evidence is its series' anomaly, its self-time and busy share against the model at the
/// observed entry rates, and each call's latency against the model.
pub fn explain(twin: &impl TwinView, window: &Window<'_>) -> Result<Explanation, String> {
    let topo = Topology::build(twin);
    let (model, net, expected) = at_observed_load(&topo, window)?;
    let origins = model.endpoint_origins(&topo);
    let n = net.stations.len();
    let station_key = |s: usize| &topo.stations[model.station[s]].key;
    let observed_e2e = |e: usize| (window.mean)(origins[e].0, &series::of(series::LATENCY_MEAN, origins[e].1));
    let e2e = |e: usize| observed_e2e(e).unwrap_or(expected.endpoints[e].mean_ms);

    // The graph: stations, and their calls (one per caller and callee pair).
    let mut calls: Vec<(usize, usize)> = Vec::new();
    let mut edge_endpoint = Vec::new();
    for (e, ep) in net.endpoints.iter().enumerate() {
        for (call, _) in net.calls_of(e) {
            let pair = (ep.station as usize, net.endpoints[call.to as usize].station as usize);
            if pair.0 != pair.1 && !calls.contains(&pair) {
                calls.push(pair);
                edge_endpoint.push(call.to as usize);
            }
        }
    }
    let graph = Graph { nodes: (0..n).map(|s| station_key(s).to_string()).collect(), calls };
    let mut ev = Evidence::new(n, graph.calls.len());
    let mut words: Vec<Vec<String>> = vec![Vec::new(); n];
    for (s, said) in words.iter_mut().enumerate() {
        let key = station_key(s);
        let mut peak: Option<f64> = (window.anomaly)(key, series::UTILISATION);
        let (mut own, mut weight) = (0.0, 0.0);
        for e in (0..net.endpoints.len()).filter(|&e| net.endpoints[e].station as usize == s) {
            for attribute in [series::LATENCY_MEAN, series::LATENCY_P99] {
                if let Some(a) = (window.anomaly)(key, &series::of(attribute, origins[e].1)) {
                    peak = Some(peak.map_or(a, |p: f64| p.max(a)));
                }
            }
            // Self-time: the endpoint's time less its calls', observed against expected.
            let Some(observed) = observed_e2e(e) else { continue };
            let called: Vec<(usize, f64)> = net.calls_of(e).map(|(c, times)| (c.to as usize, times)).collect();
            let obs_self = observed - called.iter().map(|&(to, t)| t * e2e(to)).sum::<f64>();
            let exp_self = expected.endpoints[e].mean_ms
                - called.iter().map(|&(to, t)| t * expected.endpoints[to].mean_ms).sum::<f64>();
            if obs_self > 0.0 && exp_self > 0.0 {
                let w = expected.endpoints[e].arrival_rps.max(1e-9);
                own += w * beyond(obs_self, exp_self, 0.1);
                weight += w;
            }
        }
        ev.anomaly[s] = peak.unwrap_or(f64::NAN);
        if weight > 0.0 {
            ev.residual[s] = own / weight;
            if ev.residual[s] != 0.0 {
                said.push(format!("own time {:.1}x the model's", ev.residual[s].exp()));
            }
        }
        if let Some(u) = (window.mean)(key, series::UTILISATION)
            && expected.stations[s].utilisation > 0.0
            && u > 0.0
        {
            ev.utilisation[s] = beyond(u, expected.stations[s].utilisation, 0.1);
            if ev.utilisation[s] != 0.0 {
                said.push(format!(
                    "{:.0}% busy where the model expects {:.0}%",
                    u * 100.0,
                    expected.stations[s].utilisation * 100.0
                ));
            }
        }
        if peak.is_some_and(|p| p >= THRESHOLD) {
            said.push("anomalous against its own past".to_string());
        }
    }
    for (i, &callee) in edge_endpoint.iter().enumerate() {
        if let Some(observed) = observed_e2e(callee) {
            ev.edge_residual[i] = beyond(observed, expected.endpoints[callee].mean_ms, 0.2);
        }
    }
    // Symptoms: entry points whose latency is anomalous or well beyond the model.
    let mut symptoms = Vec::new();
    let mut named = Vec::new();
    for entry in &expected.entries {
        let e = entry.endpoint;
        let (key, name) = origins[e];
        let anomalous = [series::LATENCY_MEAN, series::LATENCY_P99]
            .iter()
            .any(|a| (window.anomaly)(key, &series::of(a, name)).is_some_and(|x| x >= THRESHOLD));
        let slow = observed_e2e(e).is_some_and(|o| o > 1.5 * expected.endpoints[e].mean_ms);
        if anomalous || slow {
            let s = net.endpoints[e].station as usize;
            if !symptoms.contains(&s) {
                symptoms.push(s);
            }
            named.push(format!("{key} {name}"));
        }
    }
    let ranked = rank(&graph, &symptoms, &ev).map_err(|e| e.to_string())?;
    let causes = ranked
        .into_iter()
        .filter(|c| c.score > 0.0)
        .take(5)
        .map(|c| Cause {
            entity: station_key(c.node).clone(),
            score: c.score,
            fault: match c.fault {
                Fault::Latency => "latency",
                Fault::Errors => "errors",
                Fault::Capacity => "capacity",
                Fault::Unknown => "unknown",
            },
            path: c.path.iter().map(|&s| station_key(s).clone()).collect(),
            evidence: words[c.node].join("; "),
        })
        .collect();
    Ok(Explanation { symptoms: named, causes })
}

/// Model drift: where a window's telemetry leaves what the model expects at the observed
/// entry rates, beyond the model's own band (25% on latency, the fidelity the performance
/// model aims for near saturation; 15% on busy share), furthest first.
pub fn drift(twin: &impl TwinView, window: &Window<'_>) -> Result<Vec<Divergence>, String> {
    let topo = Topology::build(twin);
    let (model, _, expected) = at_observed_load(&topo, window)?;
    let origins = model.endpoint_origins(&topo);
    let mut checks = Vec::new();
    let mut subjects = Vec::new();
    for (e, (key, name)) in origins.iter().enumerate() {
        let exp = expected.endpoints[e].mean_ms;
        if let (Some(observed), Ok(band)) =
            ((window.mean)(key, &series::of(series::LATENCY_MEAN, name)), Expected::around(exp, 0.25))
            && exp > 0.0
        {
            subjects.push(format!("{key} {name}"));
            checks.push((subjects.len() - 1, Metric::Latency, observed, band));
        }
    }
    for (s, st) in expected.stations.iter().enumerate() {
        let key = &topo.stations[model.station[s]].key;
        if let (Some(observed), Ok(band)) =
            ((window.mean)(key, series::UTILISATION), Expected::around(st.utilisation, 0.15))
            && st.utilisation > 0.0
        {
            subjects.push(key.to_string());
            checks.push((subjects.len() - 1, Metric::Utilisation, observed, band));
        }
    }
    let named: Vec<(&str, Metric, f64, Expected)> =
        checks.iter().map(|&(i, m, o, b)| (subjects[i].as_str(), m, o, b)).collect();
    Ok(report(&named))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{TelemetryConfig, generate};
    use std::collections::HashMap;

    #[test]
    fn the_demo_incident_is_blamed_on_search() {
        let twin = doppel_testkit::shop::shop();
        let end = 1_795_392_000_000;
        let config = TelemetryConfig { days: 2, ..TelemetryConfig::shop(end) };
        let all = generate(&twin, &config).unwrap();
        let by: HashMap<(String, String), Vec<(i64, f64)>> =
            all.into_iter().map(|g| ((g.entity.to_string(), g.attribute), g.samples)).collect();
        let window = |from: i64, to: i64| {
            let by = &by;
            move |k: &Key, a: &str| {
                let s = by.get(&(k.to_string(), a.to_string()))?;
                let inside: Vec<f64> = s.iter().filter(|p| (from..=to).contains(&p.0)).map(|p| p.1).collect();
                (!inside.is_empty()).then(|| inside.iter().sum::<f64>() / inside.len() as f64)
            }
        };
        let during = end - 3 * 3_600_000 + 10 * 60_000;
        let mean = window(during, during + 20 * 60_000);
        let anomaly = |k: &Key, a: &str| {
            let s = by.get(&(k.to_string(), a.to_string()))?;
            Some(crate::anomalies::peak_score(s, 300_000, during, during + 20 * 60_000))
        };
        let answer = explain(&twin, &Window { mean: &mean, anomaly: &anomaly }).unwrap();
        assert!(answer.symptoms.iter().any(|s| s.contains("GET /search")), "{answer:?}");
        assert_eq!(answer.causes[0].entity.to_string(), "service/search", "{answer:?}");
        assert!(answer.causes[0].evidence.contains("own time"), "{answer:?}");
        // The model drifts there too: search's own endpoints, several times the model.
        let drifted = drift(&twin, &Window { mean: &mean, anomaly: &anomaly }).unwrap();
        assert!(drifted[0].subject.starts_with("service/search"), "{drifted:?}");
        assert!(drifted[0].factor() > 2.0, "{drifted:?}");
        assert!(drifted[0].message("ms").contains("what the model expects"), "{drifted:?}");
        // An hour before, nothing is wrong: no symptom.
        let calm = window(during - 2 * 3_600_000, during - 3_600_000 - 40 * 60_000);
        let quiet = |_: &Key, _: &str| Some(0.0);
        let answer = explain(&twin, &Window { mean: &calm, anomaly: &quiet }).unwrap();
        assert!(answer.symptoms.is_empty(), "{answer:?}");
        assert_eq!(drift(&twin, &Window { mean: &calm, anomaly: &quiet }).unwrap(), vec![]);
    }
}
