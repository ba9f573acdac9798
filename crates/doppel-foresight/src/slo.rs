//! SLO breaches ahead: the forecast load of each entry point, hour by hour, through the
//! queueing model; at the first hour an objective breaks, the replicas that prevent it,
//! found by the capacity search and checked on a fork of the twin.

use std::collections::HashMap;

use doppel_model::spec::Spec;
use doppel_model::{Change, ChangeSet, Key, TwinView};
use doppel_perf::PerfError;
use doppel_perf::analytic::solve;
use doppel_perf::capacity::{Scalable, first_breach, replicas_needed};
use doppel_resilience::behaviour::{PerfModel, PerfOptions, series};
use doppel_resilience::topology::Topology;
use serde::Serialize;

/// An entry point and the series of its request rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntrySeries {
    /// The station's key (`service/frontend`).
    pub entity: Key,
    /// The endpoint's name.
    pub endpoint: String,
    /// The attribute of its request-rate series (`request_rate_rps:GET /`).
    pub attribute: String,
    /// Its rate in the model at the daily peak, rps: "today's peak".
    pub peak_rps: f64,
}

/// The entry points of the twin's performance model, in the model's source order.
pub fn entries(twin: &impl TwinView) -> Vec<EntrySeries> {
    let topo = Topology::build(twin);
    let model = PerfModel::build(&topo, &PerfOptions::default());
    let origins = model.endpoint_origins(&topo);
    topo.entries
        .iter()
        .zip(&model.network.sources)
        .map(|(entry, source)| {
            let (key, name) = origins[source.endpoint as usize];
            let profile = &topo.stations[entry.station].endpoints[entry.endpoint].profile;
            let peak = profile.iter().copied().fold(f64::NAN, f64::max);
            EntrySeries {
                entity: key.clone(),
                endpoint: name.to_string(),
                attribute: series::of(series::REQUEST_RATE, name),
                peak_rps: source.rate_rps * if peak.is_finite() { peak } else { 1.0 },
            }
        })
        .collect()
}

/// The first objective broken at the forecast load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    /// When, ms since the epoch (the start of the forecast step).
    pub at_ms: i64,
    /// What breaks, in words (`GET /api/suggest: p99 262 ms over its 250 ms objective`).
    pub what: String,
    /// What it is about, without figures, so it stays the same as the forecast moves: the
    /// entry point whose objective breaks, or the station that would be overloaded.
    pub subject: String,
    /// The entry points' total forecast rate then, over their total at today's peak.
    pub load_vs_peak: f64,
    /// The replicas that prevent it, if the search found them.
    pub fix: Option<Fix>,
}

/// Replicas to add so that the objectives hold at the breach's load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    /// Workload, replicas now, replicas needed.
    pub replicas: Vec<(Key, u32, u32)>,
    /// The added on-demand price per hour, where prices are known.
    pub usd_per_hour: Option<f64>,
    /// The remediation: the workloads' replicas set, as a ChangeSet.
    pub changes: ChangeSet,
    /// Whether the twin with `changes` applied (on a fork) meets every objective at the
    /// breach's load.
    pub checked: bool,
}

/// Walks the forecast `rates` (per entry point in [`entries`] order: `(ms, rps)` on one
/// grid, oldest first; `None` keeps the model's rate at that hour of the day) and returns
/// the first step at which the queueing model breaks an objective (or cannot settle),
/// with the fix. `None` when every objective holds throughout.
pub fn first_breach_ahead(twin: &impl TwinView, rates: &[Option<Vec<(i64, f64)>>]) -> Result<Option<Breach>, String> {
    let topo = Topology::build(twin);
    let model = PerfModel::build(&topo, &PerfOptions::default());
    let net = &model.network;
    if rates.len() != net.sources.len() {
        return Err(format!("{} forecasts for {} entry points", rates.len(), net.sources.len()));
    }
    let Some(grid) = rates.iter().flatten().next().map(|r| r.iter().map(|p| p.0).collect::<Vec<_>>()) else {
        return Ok(None);
    };
    if rates.iter().flatten().any(|r| r.len() != grid.len() || r.iter().zip(&grid).any(|(p, &t)| p.0 != t)) {
        return Err("the entry points' forecasts are not on one grid".into());
    }
    let peak: f64 = entries(twin).iter().map(|e| e.peak_rps).sum();
    let mut at = net.clone();
    for (i, &ts) in grid.iter().enumerate() {
        let hour = ((ts / 3_600_000).rem_euclid(24)) as usize;
        for (s, source) in at.sources.iter_mut().enumerate() {
            source.rate_rps = match &rates[s] {
                Some(r) => r[i].1.max(0.0),
                None => {
                    let entry = &topo.entries[s];
                    let profile = &topo.stations[entry.station].endpoints[entry.endpoint].profile;
                    net.sources[s].rate_rps * profile.get(hour).copied().unwrap_or(1.0)
                }
            };
        }
        let found = match solve(&at) {
            Ok(solution) => first_breach(&at, &solution).map(|what| {
                let subject = what.split(':').next().unwrap_or_default().to_string();
                (subject, what)
            }),
            Err(err) => {
                let subject = match &err {
                    PerfError::Overloaded { station, .. } | PerfError::Down { station, .. } => station.clone(),
                    _ => "the queueing model".to_string(),
                };
                Some((subject, err.to_string()))
            }
        };
        if let Some((subject, what)) = found {
            let total: f64 = at.sources.iter().map(|s| s.rate_rps).sum();
            let fix = fix(twin, &topo, &model, &at);
            let load_vs_peak = if peak > 0.0 { total / peak } else { 0.0 };
            return Ok(Some(Breach { at_ms: ts, what, subject, load_vs_peak, fix }));
        }
    }
    Ok(None)
}

/// The replicas the capacity search finds for the load of `at`, as a ChangeSet on the
/// workloads, checked by building the model again on a fork with it applied.
fn fix(twin: &impl TwinView, topo: &Topology, model: &PerfModel, at: &doppel_perf::Network) -> Option<Fix> {
    let scalable: Vec<Scalable> = (0..at.stations.len())
        .filter_map(|s| {
            model.replicas[s].map(|r| Scalable { station: s, per_replica: model.concurrency[s], replicas: r })
        })
        .collect();
    let needed = replicas_needed(at, &scalable, 10_000).ok()?;
    let mut replicas = Vec::new();
    let mut changes = ChangeSet::new();
    let mut overrides = HashMap::new();
    let mut cost = Some(0.0);
    for (sc, &k) in scalable.iter().zip(&needed).filter(|(sc, k)| **k > sc.replicas) {
        let station = &topo.stations[model.station[sc.station]];
        let workload = &topo.workloads[station.workload?].key;
        let mut entity = twin.entity(workload)?.clone();
        match &mut entity.spec {
            Spec::Deployment(d) => d.replicas = k,
            Spec::StatefulSet(d) => d.replicas = k,
            _ => return None,
        }
        changes.push(Change::UpdateEntity(entity));
        overrides.insert(station.key.clone(), k);
        replicas.push((workload.clone(), sc.replicas, k));
        cost = cost.zip(model.usd_per_replica_hour[sc.station]).map(|(c, p)| c + p * f64::from(k - sc.replicas));
    }
    if replicas.is_empty() {
        return None;
    }
    // The check: the remediation applies to the twin (on a fork), and the model of the
    // fork, with those replicas running, meets every objective at this load.
    let mut fork = doppel_model::Fork::new(twin);
    let checked = fork.apply(&changes).is_ok() && {
        let topo = Topology::build(&fork);
        let mut net = PerfModel::build(&topo, &PerfOptions { replicas: overrides, ..PerfOptions::default() }).network;
        for (source, load) in net.sources.iter_mut().zip(&at.sources) {
            source.rate_rps = load.rate_rps;
        }
        solve(&net).is_ok_and(|s| first_breach(&net, &s).is_none())
    };
    Some(Fix { replicas, usd_per_hour: cost, changes, checked })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    /// Each entry point's rate growing from its peak by `per_hour` of it each hour.
    fn growing(twin: &impl TwinView, hours: i64, per_hour: f64) -> Vec<Option<Vec<(i64, f64)>>> {
        entries(twin)
            .iter()
            .map(|e| Some((0..hours).map(|h| (h * HOUR, e.peak_rps * (1.0 + per_hour * h as f64))).collect()))
            .collect()
    }

    #[test]
    fn growth_breaks_an_objective_and_the_fix_holds_on_a_fork() {
        let twin = doppel_testkit::shop::shop();
        let entries = entries(&twin);
        assert!(entries.iter().any(|e| e.attribute == "request_rate_rps:GET /api/suggest"));
        // At today's peak everything holds (see `doppel perf`).
        assert_eq!(first_breach_ahead(&twin, &growing(&twin, 1, 0.0)).unwrap(), None);
        // Growing 5% of the peak an hour: the objectives hold for a while, then break.
        let breach = first_breach_ahead(&twin, &growing(&twin, 100, 0.05)).unwrap().expect("a breach");
        assert!(breach.at_ms > 2 * HOUR, "{breach:?}");
        let hours = breach.at_ms / HOUR;
        assert!((breach.load_vs_peak - (1.0 + 0.05 * hours as f64)).abs() < 1e-6, "{breach:?}");
        let fix = breach.fix.expect("a fix");
        assert!(fix.checked, "{fix:?}");
        assert!(fix.replicas.iter().all(|(_, now, need)| need > now));
        assert_eq!(fix.changes.len(), fix.replicas.len());
        // The hour before, nothing broke: the breach is the first.
        let before = growing(&twin, hours, 0.05);
        assert_eq!(first_breach_ahead(&twin, &before).unwrap(), None);
    }

    #[test]
    fn a_breach_names_its_subject_without_figures() {
        let twin = doppel_testkit::shop::shop();
        let slow = first_breach_ahead(&twin, &growing(&twin, 100, 0.05)).unwrap().expect("a breach");
        assert!(slow.what.starts_with(&format!("{}: p", slow.subject)), "{slow:?}");
        // Three times the peak in the second hour: the catalog cannot keep up at all.
        let overloaded = first_breach_ahead(&twin, &growing(&twin, 2, 2.0)).unwrap().expect("a breach");
        assert!(overloaded.what.contains("would be"), "{overloaded:?}");
        assert_eq!(overloaded.subject, "service/catalog", "{overloaded:?}");
    }

    #[test]
    fn forecasts_must_match_the_entry_points() {
        let twin = doppel_testkit::shop::shop();
        assert!(first_breach_ahead(&twin, &[]).unwrap_err().contains("entry points"));
        let mut rates = growing(&twin, 3, 0.0);
        rates[0].as_mut().unwrap().pop();
        assert!(first_breach_ahead(&twin, &rates).unwrap_err().contains("one grid"));
        let none = vec![None; rates.len()];
        assert_eq!(first_breach_ahead(&twin, &none).unwrap(), None);
    }
}
