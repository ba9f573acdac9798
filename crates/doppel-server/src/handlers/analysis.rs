//! Analyses: what-ifs at once; sweeps and Monte Carlo as jobs.

use crate::api::{Answer, AppState, Caller, JsonBody, answer, now_ms};
use crate::auth::Role;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use doppel_estate::Diagnostic;
use doppel_model::TwinView;
use doppel_perf::UtilisationLaw;
use doppel_resilience::scenario::Overrides;
use doppel_resilience::{Scenario, ScenarioFile, Topology};
use serde::Deserialize;

/// Diagnostics of a scenario as one 400 naming the first place.
pub fn diagnostics(list: &[Diagnostic]) -> ApiError {
    let place = list.first().map(|d| {
        let mut place = String::new();
        if d.line > 0 {
            place = format!("line {} column {}", d.line, d.col);
        }
        if !d.path.is_empty() {
            place = if place.is_empty() { d.path.clone() } else { format!("{} ({place})", d.path) };
        }
        place
    });
    let many = list.len() > 1;
    let message = list
        .iter()
        .map(|d| {
            let text = match &d.suggestion {
                Some(s) => format!("{} (did you mean {s}?)", d.message),
                None => d.message.clone(),
            };
            // With several problems, each says where it is.
            if many && d.line > 0 { format!("{} line {}: {text}", d.file, d.line) } else { text }
        })
        .collect::<Vec<_>>()
        .join("; ");
    match place {
        Some(p) if !p.is_empty() => ApiError::invalid(p, message),
        _ => ApiError::bad_request(message),
    }
}

/// Body of `POST /what-if`: the faults as flags would give them, or a scenario file's text.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIf {
    /// Entities that fail (`zone/us-east-1a`); each must be in the token's scope.
    #[serde(default)]
    pub fail: Vec<String>,
    /// Degradations (`external/payments:latency_ms=2000`).
    #[serde(default)]
    pub degrade: Vec<String>,
    /// Load factor (`2x`).
    pub load: Option<String>,
    /// Point of the day (`peak`, `average`, an hour).
    pub at: Option<String>,
    /// Seconds to follow.
    pub horizon_s: Option<f64>,
    /// A scenario file (YAML or JSON) instead of the fields above.
    pub scenario: Option<String>,
}

/// Refuses a scenario that fails anything outside the caller's scope (as if absent).
fn faults_in_scope(caller: &Caller, scenario: &Scenario) -> Result<(), ApiError> {
    for (i, fault) in scenario.faults.iter().enumerate() {
        if let Some(hidden) = fault.targets.iter().find(|k| !caller.sees(k)) {
            return Err(caller.absent(&format!("faults[{i}]"), &hidden.to_string()));
        }
    }
    Ok(())
}

/// For a scoped caller: every fault written as a key must name an entity it sees, and
/// the scenario's diagnostics lose their suggestions (they could name what it cannot see).
fn scoped_checks(caller: &Caller, body: &WhatIf) -> Result<(), ApiError> {
    if caller.scope.is_none() {
        return Ok(());
    }
    for (field, list) in [("fail", &body.fail), ("degrade", &body.degrade)] {
        for (i, text) in list.iter().enumerate() {
            let key = text.split(':').next().unwrap_or(text);
            if key.parse::<doppel_model::Key>().is_ok() {
                caller.entity(key, &format!("{field}[{i}]"))?;
            }
        }
    }
    Ok(())
}

/// `POST /what-if`: follow faults through every layer.
pub async fn what_if(caller: Caller, JsonBody(body): JsonBody<WhatIf>) -> Answer {
    scoped_checks(&caller, &body)?;
    if body.scenario.is_none() && body.fail.is_empty() && body.degrade.is_empty() {
        return Err(ApiError::invalid("fail", "say what fails: fail, degrade or scenario"));
    }
    tokio::task::spawn_blocking(move || {
        let twin = caller.twin.as_ref();
        let scoped = caller.scope.is_some();
        let diagnostics = |d: Vec<Diagnostic>| {
            let d: Vec<Diagnostic> =
                d.into_iter().map(|d| if scoped { Diagnostic { suggestion: None, ..d } } else { d }).collect();
            diagnostics(&d)
        };
        let overrides = Overrides {
            load: body.load.as_deref(),
            at: body.at.as_deref(),
            horizon_s: body.horizon_s,
            autoscaler: None,
        };
        let scenario = match &body.scenario {
            None => Scenario::from_flags(&body.fail, &body.degrade, &overrides, twin).map_err(diagnostics)?,
            Some(text) => {
                let (mut file, doc) = ScenarioFile::parse("scenario", text).map_err(diagnostics)?;
                file.apply(&overrides).map_err(diagnostics)?;
                Scenario::from_file(&file, "scenario", Some(&doc), twin).map_err(diagnostics)?
            }
        };
        faults_in_scope(&caller, &scenario)?;
        let topo = Topology::build(twin);
        let report = doppel_resilience::run(twin, &topo, &scenario, &UtilisationLaw);
        answer(&report)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Answers 202 with a job that runs `work` on a blocking thread; `work` reports progress
/// through the closure it is given (which answers false once the job is cancelled).
pub fn start_job(
    live: AppState,
    caller: &Caller,
    analysis: &str,
    work: impl FnOnce(&(dyn Fn(u64, u64, &str) -> bool + Sync)) -> Result<serde_json::Value, ApiError> + Send + 'static,
) -> Response {
    let job = live.jobs.start(analysis, &caller.token.id, now_ms());
    let id = job.id;
    let runner = live.clone();
    tokio::task::spawn_blocking(move || {
        let progress =
            |done: u64, total: u64, stage: &str| runner.jobs.progress(&runner.events, id, done, total, stage);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&progress)))
            .unwrap_or_else(|_| Err(ApiError::internal("the analysis failed unexpectedly")));
        runner.jobs.finish(&runner.events, id, result);
    });
    let mut response = (StatusCode::ACCEPTED, axum::Json(job)).into_response();
    if let Ok(location) = format!("/api/v1/jobs/{id}").parse() {
        response.headers_mut().insert(axum::http::header::LOCATION, location);
    }
    response
}

/// Body of `POST /jobs/spof`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpofJob {
    /// Load factor (`2x`).
    pub load: Option<String>,
    /// Point of the day (`peak` by default).
    pub at: Option<String>,
    /// Fail only what this selector matches (a scoped token: only within its scope).
    pub only: Option<String>,
    /// How many of the worst single failures to follow over time.
    pub verify: Option<usize>,
}

/// `POST /jobs/spof`: every single failure ranked, SPOFs, worst pairs.
pub async fn spof(State(live): State<AppState>, caller: Caller, JsonBody(body): JsonBody<SpofJob>) -> Response {
    let overrides = Overrides { load: body.load.as_deref(), at: body.at.as_deref(), ..Default::default() };
    let (load, horizon_s) = match Scenario::load_from_flags(&overrides) {
        Ok(v) => v,
        Err(d) => return diagnostics(&d).into_response(),
    };
    let twin = caller.twin.clone();
    let only = match (&body.only, &caller.scope) {
        (None, None) => None,
        (text, scope) => {
            let selected: Vec<doppel_model::Key> = match text {
                Some(text) => match doppel_model::Selector::parse(text) {
                    Ok(s) => s.select(twin.as_ref()).into_iter().map(|e| e.key.clone()).collect(),
                    Err(e) => return ApiError::invalid("only", format!("'{text}': {e}")).into_response(),
                },
                None => twin.entities().map(|e| e.key.clone()).collect(),
            };
            let keys: std::collections::BTreeSet<_> =
                selected.into_iter().filter(|k| scope.as_ref().is_none_or(|s| s.contains(k))).collect();
            if keys.is_empty() {
                return ApiError::invalid("only", "it selects nothing the token may see").into_response();
            }
            Some(keys)
        }
    };
    let options =
        doppel_resilience::sweep::SweepOptions { load, only, verify: body.verify, horizon_s, ..Default::default() };
    start_job(live, &caller, "spof", move |progress| {
        progress(0, 0, "finding what each failure cuts off");
        let topo = Topology::build(twin.as_ref());
        let report =
            doppel_resilience::sweep::sweep(twin.as_ref(), &topo, &options, &UtilisationLaw, &|done, total| {
                progress(done as u64, total as u64, "following the worst failures over time");
            });
        serde_json::to_value(&report).map_err(|e| ApiError::internal(e.to_string()))
    })
}

/// Body of `POST /jobs/availability`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityJob {
    /// Random instants to draw (default 1,000,000).
    pub samples: Option<u64>,
    /// Seed.
    pub seed: Option<u64>,
}

/// `POST /jobs/availability`: expected yearly availability of each entry point.
pub async fn availability(
    State(live): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<AvailabilityJob>,
) -> Response {
    let defaults = doppel_resilience::availability::AvailabilityOptions::default();
    let options = doppel_resilience::availability::AvailabilityOptions {
        samples: body.samples.unwrap_or(defaults.samples),
        seed: body.seed.unwrap_or(defaults.seed),
    };
    if options.samples == 0 || options.samples > 100_000_000 {
        return ApiError::invalid("samples", "expected 1 to 100,000,000").into_response();
    }
    let twin = caller.twin.clone();
    start_job(live, &caller, "availability", move |progress| {
        progress(0, 1, "drawing random instants");
        let topo = Topology::build(twin.as_ref());
        let report = doppel_resilience::availability::estimate(twin.as_ref(), &topo, &options).map_err(|errors| {
            ApiError::unprocessable(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        })?;
        serde_json::to_value(&report).map_err(|e| ApiError::internal(e.to_string()))
    })
}

/// `GET /jobs/{id}`.
pub async fn job(State(live): State<AppState>, caller: Caller, path: axum::extract::Path<String>) -> Answer {
    one_job(&caller, &path.0, |id, owner, admin| live.jobs.get(id, owner, admin))
}

/// `DELETE /jobs/{id}`.
pub async fn cancel_job(State(live): State<AppState>, caller: Caller, path: axum::extract::Path<String>) -> Answer {
    one_job(&caller, &path.0, |id, owner, admin| live.jobs.cancel(&live.events, id, owner, admin))
}

/// A job of the caller's (any, for admins) by the id in the path, through `find`.
fn one_job(caller: &Caller, id: &str, find: impl FnOnce(u64, &str, bool) -> Option<crate::jobs::Job>) -> Answer {
    let id: u64 = id.parse().map_err(|_| ApiError::invalid("path", format!("'{id}' is not a job id")))?;
    let job = find(id, &caller.token.id, caller.can(Role::Admin))
        .ok_or_else(|| ApiError::not_found(format!("no job {id} of yours")))?;
    answer(&job)
}
