//! Performance: latency at a load, the capacity plan, latency against load, simulation.

use crate::api::{Answer, AppState, Caller, JsonBody, Query, answer};
use crate::error::ApiError;
use crate::handlers::analysis::{diagnostics, start_job};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use doppel_perf::analytic::solve;
use doppel_resilience::Scenario;
use doppel_resilience::Topology;
use doppel_resilience::answers::{Plan, SetError, capacity_json, curves, perf_json, set_option};
use doppel_resilience::behaviour::{PerfModel, PerfOptions};
use doppel_resilience::scenario::{Load, Overrides};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Body of `POST /perf` and `POST /capacity`: the load and what-if settings.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerfAsk {
    /// Load factor (`2x`).
    pub load: Option<String>,
    /// Point of the day (`peak` by default).
    pub at: Option<String>,
    /// Replicas per service (`{"service/cart": 5}`).
    #[serde(default)]
    pub replicas: BTreeMap<String, u32>,
    /// Other settings as the CLI's `--set` takes them (`speed:cart=1.3`, `latency:external/payments=200`).
    #[serde(default)]
    pub set: Vec<String>,
    /// For `/capacity`: the target load factor (`3x`).
    pub target: Option<String>,
}

fn load_of(text: Option<&str>, at: Option<&str>, field: &str) -> Result<Load, ApiError> {
    let overrides = Overrides { load: text, at: Some(at.unwrap_or("peak")), ..Default::default() };
    Scenario::load_from_flags(&overrides)
        .map(|(load, _)| load)
        .map_err(|d| ApiError { place: Some(field.into()), ..diagnostics(&d) })
}

/// The performance model the request asks for, checked against the caller's scope.
fn model(caller: &Caller, ask: &PerfAsk) -> Result<(PerfModel, Load), ApiError> {
    let twin = caller.twin.as_ref();
    let load = load_of(ask.load.as_deref(), ask.at.as_deref(), "load")?;
    let topo = Topology::build(twin);
    let mut options = PerfOptions { load: load.factor, hour: load.hour(&topo), ..PerfOptions::default() };
    let settings = ask
        .replicas
        .iter()
        .map(|(k, n)| (format!("replicas.{k}"), format!("replicas:{k}={n}")))
        .chain(ask.set.iter().enumerate().map(|(i, s)| (format!("set[{i}]"), s.clone())));
    for (place, text) in settings {
        let target = text.split_once(':').and_then(|(_, r)| r.split_once('=')).map(|(t, _)| t.to_string());
        if let Some(target) = target
            && caller.scope.is_some()
        {
            let key = if target.contains('/') { target.clone() } else { format!("service/{target}") };
            caller.entity(&key, &place)?;
        }
        set_option(twin, &topo, &text, &mut options).map_err(|e| match e {
            SetError::Usage(m) | SetError::Invalid(m) => ApiError::invalid(place, m),
        })?;
    }
    Ok((PerfModel::build(&topo, &options), load))
}

/// `POST /perf`: latency per entry point and the bottleneck, by the queueing model.
pub async fn perf(caller: Caller, JsonBody(ask): JsonBody<PerfAsk>) -> Answer {
    tokio::task::spawn_blocking(move || {
        let (model, load) = model(&caller, &ask)?;
        let solution = solve(&model.network);
        answer(&perf_json(&model, &load, &solution, None))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// `POST /capacity`: the saturation point and the replicas each service needs at a target.
pub async fn capacity(caller: Caller, JsonBody(ask): JsonBody<PerfAsk>) -> Answer {
    tokio::task::spawn_blocking(move || {
        let (model, load) = model(&caller, &ask)?;
        let target = load_of(Some(ask.target.as_deref().unwrap_or("3x")), None, "target")?;
        let plan = Plan::new(&model, target.factor).map_err(|e| ApiError::unprocessable(e.to_string()))?;
        answer(&capacity_json(&model, &load, target.factor, &plan))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Query of `GET /curves`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurvesQuery {
    max: Option<f64>,
    steps: Option<usize>,
    at: Option<String>,
}

/// `GET /curves`: latency against load per entry point, up to `max` times the load.
pub async fn latency_curves(caller: Caller, Query(q): Query<CurvesQuery>) -> Answer {
    let max = q.max.unwrap_or(4.0);
    if !(max > 0.0 && max <= 1000.0) {
        return Err(ApiError::invalid("query parameter max", "expected a load factor above 0, at most 1000"));
    }
    tokio::task::spawn_blocking(move || {
        let ask = PerfAsk { at: q.at, ..PerfAsk::default() };
        let (model, load) = model(&caller, &ask)?;
        let curves = curves(&model, max, q.steps.unwrap_or(24)).map_err(|e| ApiError::unprocessable(e.to_string()))?;
        answer(&serde_json::json!({"load": load.text(), "max": max, "entries": curves}))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Body of `POST /jobs/simulate`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateJob {
    /// The load and settings.
    #[serde(flatten)]
    pub ask: PerfAsk,
    /// Seed (the same seed gives the same answer).
    pub seed: Option<u64>,
    /// Simulated seconds per replication (default 600).
    pub horizon_s: Option<f64>,
    /// Replications (default 5).
    pub replications: Option<u32>,
}

/// `POST /jobs/simulate`: the discrete-event simulation, with intervals.
pub async fn simulate(State(live): State<AppState>, caller: Caller, JsonBody(body): JsonBody<SimulateJob>) -> Response {
    let horizon_s = body.horizon_s.unwrap_or(600.0);
    let replications = body.replications.unwrap_or(5);
    if !(horizon_s > 0.0 && horizon_s <= 86_400.0) {
        return ApiError::invalid("horizon_s", "expected 1 to 86400 seconds").into_response();
    }
    if !(2..=100).contains(&replications) {
        return ApiError::invalid("replications", "expected 2 to 100").into_response();
    }
    let (model, load) = match model(&caller, &body.ask) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let config = doppel_perf::sim::SimConfig {
        seed: body.seed.unwrap_or(1),
        horizon_s,
        warmup_s: horizon_s / 10.0,
        replications,
        ..Default::default()
    };
    start_job(live, &caller, "simulate", move |progress| {
        progress(0, u64::from(replications), "simulating");
        let report = doppel_perf::sim::run(&model.network, &config)
            .map_err(|e| ApiError::unprocessable(format!("simulation: {e}")))?;
        let solution = solve(&model.network);
        Ok(perf_json(&model, &load, &solution, Some(&report)))
    })
}
