//! Performance answers the CLI and the server share: what-if settings read from text,
//! the latency report, the capacity plan, and latency against load.

use crate::Topology;
use crate::behaviour::{PerfModel, PerfOptions};
use crate::scenario::Load;
use doppel_model::{Key, Kind, Spec, TwinView};
use doppel_perf::PerfError;
use doppel_perf::analytic::{Solution, solve};
use doppel_perf::capacity::{Saturation, Scalable, replicas_needed, saturation, scaled};
use doppel_perf::sim::{Estimate, SimReport};
use serde::Serialize;
use serde_json::json;

/// Why a what-if setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// It is not written as expected.
    Usage(String),
    /// It names something the twin does not have.
    Invalid(String),
}

impl std::fmt::Display for SetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetError::Usage(m) | SetError::Invalid(m) => f.write_str(m),
        }
    }
}

/// Reads one what-if setting, `KIND:TARGET=VALUE` (`replicas:cart=5`), into `options`.
pub fn set_option(
    twin: &(impl TwinView + ?Sized),
    topo: &Topology,
    text: &str,
    options: &mut PerfOptions,
) -> Result<(), SetError> {
    let usage = || {
        SetError::Usage(format!(
            "--set `{text}`: expected replicas:SERVICE=N, speed:SERVICE=FACTOR, instance:SERVICE=TYPE or latency:TARGET=MS"
        ))
    };
    let (what, rest) = text.split_once(':').ok_or_else(usage)?;
    let (target, value) = rest.split_once('=').ok_or_else(usage)?;
    let key: Key = if target.contains('/') { target.parse() } else { Key::new(Kind::Service, target) }
        .map_err(|e| SetError::Usage(format!("--set `{text}`: {e}")))?;
    if !topo.stations.iter().any(|s| s.key == key) {
        return Err(SetError::Invalid(format!(
            "--set `{text}`: {key} is not a service, datastore, queue or outside service of the twin (see `doppel show kind:service`)"
        )));
    }
    let number = |v: &str| -> Result<f64, SetError> {
        v.trim()
            .trim_end_matches("ms")
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| SetError::Usage(format!("--set `{text}`: `{v}` is not a number of at least 0")))
    };
    match what {
        "replicas" => {
            let n = number(value)?;
            if n.fract() != 0.0 || n > f64::from(u32::MAX) {
                return Err(SetError::Usage(format!("--set `{text}`: replicas are a whole number")));
            }
            options.replicas.insert(key, n as u32);
        }
        "speed" => {
            let f = number(value)?;
            if f == 0.0 {
                return Err(SetError::Usage(format!(
                    "--set `{text}`: a speed factor is above 0 (1.0 is the reference core)"
                )));
            }
            options.speed.insert(key, f);
        }
        "instance" => {
            let it =
                Key::new(Kind::InstanceType, value).map_err(|e| SetError::Usage(format!("--set `{text}`: {e}")))?;
            let Some(Spec::InstanceType(spec)) = twin.entity(&it).map(|e| &e.spec) else {
                return Err(SetError::Invalid(format!(
                    "--set `{text}`: no instance type `{value}` in the twin (see `doppel show kind:instance-type`)"
                )));
            };
            options.speed.insert(key, spec.speed_factor.unwrap_or(1.0));
        }
        "latency" => {
            options.added_latency.insert(key, number(value)?);
        }
        _ => return Err(usage()),
    }
    Ok(())
}

/// The latency answer as JSON: per entry point (analytic and simulated) and per station.
pub fn perf_json(
    model: &PerfModel,
    load: &Load,
    solution: &Result<Solution, doppel_perf::PerfError>,
    sim: Option<&SimReport>,
) -> serde_json::Value {
    let net = &model.network;
    let est = |e: &Estimate| json!({"mean": e.mean, "half_width_95": e.half_width});
    let entries: Vec<_> = net
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let endpoint = &net.endpoints[s.endpoint as usize];
            let analytic = solution.as_ref().ok().map(|x| {
                let e = &x.entries[i];
                json!({"mean_ms": e.mean_ms, "p50_ms": e.p50_ms, "p90_ms": e.p90_ms, "p99_ms": e.p99_ms,
                       "ok_share": e.ok_share})
            });
            let simulated = sim.map(|r| {
                let e = &r.entries[i];
                json!({"mean_ms": est(&e.mean_ms), "p50_ms": est(&e.p50_ms), "p99_ms": est(&e.p99_ms),
                       "error_rate": est(&e.error_rate), "throughput_rps": est(&e.throughput_rps)})
            });
            json!({"endpoint": endpoint.name, "rate_rps": s.rate_rps, "slo_p99_ms": endpoint.slo.p99_ms,
                   "analytic": analytic, "simulated": simulated})
        })
        .collect();
    let stations: Vec<_> = net
        .stations
        .iter()
        .enumerate()
        .map(|(s, st)| {
            let analytic = solution.as_ref().ok().map(|x| {
                let a = &x.stations[s];
                json!({"arrival_rps": a.arrival_rps, "utilisation": a.utilisation, "mean_wait_ms": a.mean_wait_ms})
            });
            json!({"station": st.name, "replicas": model.replicas[s], "servers": st.servers, "analytic": analytic,
                   "simulated": sim.map(|r| json!({"utilisation": est(&r.stations[s].utilisation),
                                                   "dropped_rps": est(&r.stations[s].dropped_rps)}))})
        })
        .collect();
    json!({
        "load": load.text(),
        "error": solution.as_ref().err().map(|e| e.to_string()),
        "bottleneck": solution.as_ref().ok().and_then(|s| s.bottleneck).map(|b| net.stations[b].name.clone()),
        "entries": entries,
        "stations": stations,
        "notes": model.notes,
    })
}

/// The capacity answer for a model: how far its load can grow, and the replicas each
/// service needs at a target factor.
pub struct Plan {
    /// The saturation point (`None`: beyond 1000x).
    pub saturation: Option<Saturation>,
    /// The services whose replicas may change.
    pub scalable: Vec<Scalable>,
    /// Replicas per scalable service at the target, or why none will do.
    pub needed: Result<Vec<u32>, PerfError>,
    /// The queueing answer at the target with those replicas.
    pub at_target: Option<Solution>,
}

impl Plan {
    /// Searches both answers.
    pub fn new(model: &PerfModel, factor: f64) -> Result<Plan, PerfError> {
        let net = &model.network;
        let saturation = saturation(net, 1000.0)?;
        let scalable: Vec<Scalable> = (0..net.stations.len())
            .filter_map(|s| {
                model.replicas[s].map(|r| Scalable { station: s, per_replica: model.concurrency[s], replicas: r })
            })
            .collect();
        let target = scaled(net, factor);
        let needed = replicas_needed(&target, &scalable, 10_000);
        let at_target = needed.as_ref().ok().and_then(|r| {
            let mut n = target.clone();
            for (sc, &k) in scalable.iter().zip(r) {
                n.stations[sc.station].servers = k * sc.per_replica;
            }
            solve(&n).ok()
        });
        Ok(Plan { saturation, scalable, needed, at_target })
    }

    /// The on-demand price per hour of going from today's replicas to `k` of scalable `i`.
    pub fn added_cost(&self, model: &PerfModel, i: usize, k: u32) -> Option<f64> {
        let sc = &self.scalable[i];
        model.usd_per_replica_hour[sc.station].map(|p| p * (f64::from(k) - f64::from(sc.replicas)))
    }
}

/// The capacity answer as JSON: the saturation point and the replicas needed at `factor`.
pub fn capacity_json(model: &PerfModel, load: &Load, factor: f64, plan: &Plan) -> serde_json::Value {
    let net = &model.network;
    json!({
        "load": load.text(),
        "saturation_factor": plan.saturation.as_ref().map(|s| s.factor),
        "breaks_first": plan.saturation.as_ref().map(|s| s.breaks.clone()),
        "target_factor": factor,
        "error": plan.needed.as_ref().err().map(|e| e.to_string()),
        "replicas": plan.needed.as_ref().ok().map(|r| plan.scalable.iter().zip(r).enumerate().map(|(i, (sc, &k))| json!({
            "service": net.stations[sc.station].name, "now": sc.replicas, "needed": k,
            "usd_per_hour_added": plan.added_cost(model, i, k),
        })).collect::<Vec<_>>()),
    })
}

/// Latency against load for one entry point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// The entry point (`service/frontend GET /`).
    pub entry: String,
    /// Its p99 objective, if it has one.
    pub slo_ms: Option<f64>,
    /// `[load factor, p50 ms, p99 ms]` for each factor the queues settle at.
    pub points: Vec<[f64; 3]>,
    /// The largest factor at which every objective holds (the whole estate's), if below `max`.
    pub saturation: Option<f64>,
}

/// Latency of every entry point at `steps` load factors up to `max`, by the queueing model.
pub fn curves(model: &PerfModel, max: f64, steps: usize) -> Result<Vec<Curve>, PerfError> {
    let net = &model.network;
    let saturation = saturation(net, max)?.map(|s| s.factor);
    let mut curves: Vec<Curve> = net
        .sources
        .iter()
        .map(|s| {
            let endpoint = &net.endpoints[s.endpoint as usize];
            Curve { entry: endpoint.name.clone(), slo_ms: endpoint.slo.p99_ms, points: Vec::new(), saturation }
        })
        .collect();
    let steps = steps.clamp(2, 200);
    for i in 1..=steps {
        let factor = max * i as f64 / steps as f64;
        // Past saturation the queues do not settle: the curves stop there.
        let Ok(solution) = solve(&scaled(net, factor)) else { break };
        for (curve, e) in curves.iter_mut().zip(&solution.entries) {
            curve.points.push([factor, e.p50_ms, e.p99_ms]);
        }
    }
    Ok(curves)
}
