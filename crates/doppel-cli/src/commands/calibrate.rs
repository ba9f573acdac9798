//! `doppel calibrate`: service times from the telemetry in the store, with the model's
//! fidelity before and after, proposed as a ChangeSet (applied with `--apply`). Also the
//! fidelity `doppel perf` shows beside its predictions.

use super::{author, read_from};
use crate::exit;
use crate::output::{BOLD, DIM, GOOD, Output};
use anyhow::Result;
use doppel_model::spec::{HistogramBin, ServiceTime, ServiceTimeDist};
use doppel_model::{Change, ChangeSet, Key, Provenance, Spec, Twin, TwinView};
use doppel_perf::calibrate::{Calibrated, Fidelity, Observed, apply, calibrate, fidelity};
use doppel_perf::dist::ServiceDist;
use doppel_resilience::Topology;
use doppel_resilience::behaviour::{PerfModel, PerfOptions, series};
use doppel_store::{At, SqliteStore, Store};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The telemetry window calibration reads: each series' mean over it.
pub(super) struct Window {
    /// Start and end, ms since the epoch.
    pub from_ms: i64,
    pub to_ms: i64,
    values: HashMap<(Key, String), f64>,
}

impl Window {
    /// The last `seconds` of the calibration series in the store, if it has any.
    pub(super) fn last(store: &SqliteStore, seconds: f64) -> Result<Option<Window>> {
        let known = [
            series::UTILISATION,
            series::REQUEST_RATE,
            series::LATENCY_MEAN,
            series::LATENCY_P99,
            series::SELF_TIME_MEAN,
            series::SELF_TIME_P99,
        ];
        let wanted: Vec<_> = store
            .series()?
            .into_iter()
            .filter(|s| known.iter().any(|k| s.attribute == *k || s.attribute.starts_with(&format!("{k}:"))))
            .collect();
        let Some(to_ms) = wanted.iter().map(|s| s.last_ms).max() else { return Ok(None) };
        let from_ms = to_ms - (seconds * 1000.0) as i64;
        let mut values = HashMap::new();
        for s in wanted {
            let Ok(key) = s.entity.parse::<Key>() else { continue };
            let samples = store.samples(&key, &s.attribute, from_ms, to_ms)?;
            if !samples.is_empty() {
                let mean = samples.iter().map(|(_, v)| v).sum::<f64>() / samples.len() as f64;
                values.insert((key, s.attribute), mean);
            }
        }
        Ok(Some(Window { from_ms, to_ms, values }))
    }

    /// The model's view of the window.
    pub(super) fn observed(&self, model: &PerfModel, topo: &Topology) -> Observed {
        model.observed(topo, |key, attribute| self.values.get(&(key.clone(), attribute.to_string())).copied())
    }

    /// Its span, for messages.
    pub(super) fn text(&self) -> String {
        let time = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms)
                .map_or(ms.to_string(), |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        };
        format!("{} to {}", time(self.from_ms), time(self.to_ms))
    }
}

/// Fidelity of a model against the last window of telemetry, where the store has one.
pub(super) fn fidelity_now(
    store: &SqliteStore,
    model: &PerfModel,
    topo: &Topology,
) -> Result<Option<(Window, Vec<Fidelity>)>> {
    let Some(window) = Window::last(store, 3600.0)? else { return Ok(None) };
    let observed = window.observed(model, topo);
    match fidelity(&model.network, &observed) {
        Ok(f) if !f.is_empty() => Ok(Some((window, f))),
        _ => Ok(None),
    }
}

/// A signed percentage.
pub(super) fn error_pct(e: f64) -> String {
    format!("{:+.0}%", e * 100.0)
}

/// Runs `doppel calibrate`.
pub fn run(store_path: &Path, window_s: f64, apply_it: bool, out: &Output) -> Result<()> {
    if !(window_s.is_finite() && window_s > 0.0) {
        return Err(exit::usage(format!("--window {window_s}: expected a number of seconds above 0")));
    }
    let mut store = SqliteStore::open_existing(store_path)?;
    let twin = read_from(&store, At::Head, out)?;
    let topo = Topology::build(&twin);
    let model = PerfModel::build(&topo, &PerfOptions::default());
    let Some(window) = Window::last(&store, window_s)? else {
        return Err(exit::invalid(format!(
            "no telemetry to calibrate from: the store has no {} or {} series (load some with `doppel observe FILE.csv`; docs/performance.md lists the series)",
            series::UTILISATION,
            series::SELF_TIME_MEAN
        )));
    };
    let observed = window.observed(&model, &topo);
    let calibrated = calibrate(&model.network, &observed).map_err(|e| exit::invalid(format!("calibration: {e}")))?;
    let net_after = apply(&model.network, &calibrated);
    // A model that cannot settle at the observed load is a finding, not a failure.
    let (before, before_err) = split(fidelity(&model.network, &observed));
    let (after, after_err) = split(fidelity(&net_after, &observed));
    let changes = changeset(&twin, &model, &topo, &calibrated, &window);
    let version = if apply_it && !changes.is_empty() {
        let (commit, _) = store.commit(twin.clone(), &changes)?;
        Some(commit.version)
    } else {
        None
    };
    let origins = model.endpoint_origins(&topo);
    if out.json {
        let rows: Vec<_> = calibrated
            .iter()
            .map(|c| {
                json!({"endpoint": model.network.endpoints[c.endpoint].name, "method": c.method.name(),
                       "before": dist_json(&c.before), "after": dist_json(&c.after)})
            })
            .collect();
        let fid = |f: &[Fidelity]| -> Vec<serde_json::Value> {
            f.iter()
                .map(|x| {
                    let e = model.network.sources[x.source].endpoint as usize;
                    json!({"entry": model.network.endpoints[e].name, "observed_mean_ms": x.observed_mean_ms,
                           "observed_p99_ms": x.observed_p99_ms, "predicted_mean_ms": x.predicted_mean_ms,
                           "predicted_p99_ms": x.predicted_p99_ms, "mean_error": x.mean_error, "p99_error": x.p99_error,
                           "busiest_utilisation": x.busiest_utilisation})
                })
                .collect()
        };
        return out.print_json(&json!({"window": {"from_ms": window.from_ms, "to_ms": window.to_ms},
            "calibrated": rows, "fidelity_before": fid(&before), "fidelity_after": fid(&after),
            "fidelity_before_error": before_err, "fidelity_after_error": after_err,
            "changes": changes.len(), "version": version}));
    }
    anstream::println!("{BOLD}Calibration{BOLD:#} from telemetry of {}", window.text());
    if calibrated.is_empty() {
        anstream::println!("Nothing to calibrate: no service has utilisation or span self-times in the window.");
    } else {
        let mut table = out.table(&["endpoint", "method", "written", "calibrated"]);
        for c in &calibrated {
            let speed = speed_of(&model, c);
            let (service, name) = origins[c.endpoint];
            table.add_row(vec![
                format!("{service} {name}"),
                c.method.name().to_string(),
                dist_text(&c.before.scaled(1.0 / speed)),
                dist_text(&c.after.scaled(1.0 / speed)),
            ]);
        }
        out.print_table(&table);
    }
    for (which, err) in [("written", &before_err), ("calibrated", &after_err)] {
        if let Some(err) = err {
            anstream::println!("The {which} model cannot settle at the observed load: {err}");
        }
    }
    if !after.is_empty() && before.len() == after.len() {
        anstream::println!(
            "{BOLD}Fidelity{BOLD:#} at the observed load  {DIM}(predicted against observed latency){DIM:#}"
        );
        let mut table =
            out.table(&["entry point", "observed mean", "observed p99", "written model", "calibrated model"]);
        for (b, a) in before.iter().zip(&after) {
            let e = model.network.sources[a.source].endpoint as usize;
            let pair =
                |f: &Fidelity| format!("{} / {}", error_pct(f.mean_error), f.p99_error.map_or("-".into(), error_pct));
            table.add_row(vec![
                model.network.endpoints[e].name.clone(),
                format!("{:.1} ms", a.observed_mean_ms),
                a.observed_p99_ms.map_or("-".into(), |p| format!("{p:.0} ms")),
                pair(b),
                pair(a),
            ]);
        }
        out.print_table(&table);
        anstream::println!(
            "{DIM}Errors are mean / p99, predicted over observed. Goal: mean within 10% below 70% busy (25% near saturation), p99 within 20%.{DIM:#}"
        );
    }
    match version {
        Some(v) => out.success(&format!("applied: version {v} holds the calibrated service times")),
        None if changes.is_empty() => {}
        None => anstream::println!(
            "{GOOD}Proposed{GOOD:#}: {} service(s) to update; `doppel calibrate --apply` commits them as one ChangeSet.",
            changes.len()
        ),
    }
    Ok(())
}

/// Fidelity rows, or none and why.
fn split(result: Result<Vec<Fidelity>, doppel_perf::PerfError>) -> (Vec<Fidelity>, Option<String>) {
    match result {
        Ok(rows) => (rows, None),
        Err(err) => (Vec::new(), Some(err.to_string())),
    }
}

/// Core speed of the station serving a calibrated endpoint.
fn speed_of(model: &PerfModel, c: &Calibrated) -> f64 {
    model.speed[model.network.endpoints[c.endpoint].station as usize]
}

/// The calibrated service times written back on the services, at the reference speed.
fn changeset(twin: &Twin, model: &PerfModel, topo: &Topology, calibrated: &[Calibrated], window: &Window) -> ChangeSet {
    let origins = model.endpoint_origins(topo);
    let mut by_service: BTreeMap<&Key, Vec<(&str, ServiceTime)>> = BTreeMap::new();
    for c in calibrated {
        let speed = speed_of(model, c);
        let (key, name) = origins[c.endpoint];
        by_service.entry(key).or_default().push((name, service_time(&c.after.scaled(1.0 / speed))));
    }
    let mut changes = ChangeSet::new();
    for (key, times) in by_service {
        let Some(entity) = twin.entity(key) else { continue };
        let mut entity = entity.clone();
        let Spec::Service(spec) = &mut entity.spec else { continue };
        let mut changed = false;
        for (name, time) in times {
            if let Some(endpoint) = spec.endpoints.iter_mut().find(|e| e.name == name)
                && endpoint.service_time.as_ref() != Some(&time)
            {
                endpoint.service_time = Some(time);
                changed = true;
            }
        }
        if changed {
            changes.push(Change::UpdateEntity(entity));
        }
    }
    changes.with_provenance(Provenance {
        source: "calibrate".into(),
        author: author(None),
        summary: format!("service times calibrated from telemetry of {}", window.text()),
    })
}

/// A service time as the model's spec writes it.
fn service_time(dist: &ServiceDist) -> ServiceTime {
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let shape = |mean: f64, cv: Option<f64>, dist| ServiceTime {
        mean_ms: round(mean),
        cv: cv.map(round),
        dist: Some(dist),
        histogram: Vec::new(),
    };
    match dist {
        ServiceDist::Exponential { mean } => shape(*mean, None, ServiceTimeDist::Exponential),
        ServiceDist::Deterministic { value } => shape(*value, None, ServiceTimeDist::Deterministic),
        ServiceDist::LogNormal { mean, cv } => shape(*mean, Some(*cv), ServiceTimeDist::Lognormal),
        ServiceDist::Gamma { mean, cv } => shape(*mean, Some(*cv), ServiceTimeDist::Gamma),
        ServiceDist::Empirical { upper, weight } => ServiceTime {
            mean_ms: round(dist.mean()),
            cv: None,
            dist: None,
            histogram: upper
                .iter()
                .zip(weight)
                .map(|(u, w)| HistogramBin { upper_ms: round(*u), weight: *w })
                .collect(),
        },
    }
}

fn dist_text(dist: &ServiceDist) -> String {
    let cv = dist.scv().sqrt();
    let shape = match dist {
        ServiceDist::Exponential { .. } => "exponential",
        ServiceDist::Deterministic { .. } => "fixed",
        ServiceDist::LogNormal { .. } => "lognormal",
        ServiceDist::Gamma { .. } => "gamma",
        ServiceDist::Empirical { .. } => "histogram",
    };
    format!("{:.1} ms {shape} cv {cv:.2}", dist.mean())
}

fn dist_json(dist: &ServiceDist) -> serde_json::Value {
    json!({"mean_ms": dist.mean(), "cv": dist.scv().sqrt(), "text": dist_text(dist)})
}
