//! Reports: plain data about a scenario's outcome, for the CLI, the API and the UI to render.

use crate::engine::{DEGRADED_AT, DOWN_AT, Phase, SATURATED_AT, weighted};
use crate::scenario::{Action, Scenario};
use crate::topology::{Ix, StationKind, Topology};
use doppel_model::Key;
use serde::Serialize;

/// Seconds as people read them: 40 s, 5.7 min, 1.5 h.
pub fn duration(t: f64) -> String {
    if t < 120.0 {
        format!("{} s", (t * 10.0).round() / 10.0)
    } else if t < 7200.0 {
        format!("{} min", (t / 6.0).round() / 10.0)
    } else {
        format!("{} h", (t / 360.0).round() / 10.0)
    }
}

/// How something fares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Working as before.
    Up,
    /// Working, with errors, latency or a lost soft dependency.
    Degraded,
    /// Half or more of its requests fail.
    Down,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
        })
    }
}

/// A stretch of time in one state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// Start, seconds after the scenario starts.
    pub from_s: f64,
    /// End.
    pub to_s: f64,
    /// State.
    pub state: State,
    /// Share of requests failing (the highest in the span).
    pub error_rate: f64,
    /// Mean latency (the highest in the span).
    pub latency_ms: f64,
    /// Why, outermost first: `service/checkout down <- service/shipping down <- ...`.
    pub cause: Vec<String>,
}

/// How one user-facing entry point fares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryReport {
    /// The service.
    pub service: Key,
    /// The endpoint.
    pub endpoint: String,
    /// Requests per second at the scenario's load.
    pub rate_rps: f64,
    /// Availability objective, in percent.
    pub slo_availability_pct: Option<f64>,
    /// State before the first fault.
    pub before: State,
    /// Worst state during the scenario.
    pub worst: State,
    /// States over time.
    pub timeline: Vec<Span>,
    /// Share of the 30-day error budget the scenario uses, in percent.
    pub error_budget_used_pct: Option<f64>,
    /// When it is back up for good, if it went down or degraded and came back.
    pub recovered_at_s: Option<f64>,
}

/// How one station (service, datastore, queue, external, workload) fares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationReport {
    /// The station.
    pub key: Key,
    /// What it is.
    pub kind: StationKind,
    /// Worst state.
    pub worst: State,
    /// Highest utilisation seen.
    pub peak_utilisation: f64,
    /// Ready and desired replicas at the worst moment, for workload-backed stations.
    pub replicas_at_worst: Option<(u32, u32)>,
    /// States over time.
    pub timeline: Vec<Span>,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When.
    pub t_s: f64,
    /// What.
    pub what: String,
}

/// A replacement pod the scheduler could not place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingPod {
    /// Its workload.
    pub workload: Key,
    /// Since when.
    pub since_s: f64,
    /// The scheduler's message.
    pub reason: String,
}

/// Capacity the pending pods ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Shortfall {
    /// Pods pending.
    pub pods: u32,
    /// Cores they request.
    pub cores: f64,
    /// Memory they request, in GiB.
    pub memory_gib: f64,
}

/// The outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Load it ran at.
    pub load: String,
    /// Faults, as written.
    pub faults: Vec<String>,
    /// Seconds followed.
    pub horizon_s: f64,
    /// Load model used for capacity.
    pub model: String,
    /// Entry points, most affected first.
    pub entries: Vec<EntryReport>,
    /// Stations that were not up throughout, most affected first.
    pub stations: Vec<StationReport>,
    /// What happened, in time order.
    pub events: Vec<Event>,
    /// Replacement pods left pending.
    pub pending: Vec<PendingPod>,
    /// What they ask for.
    pub shortfall: Shortfall,
    /// When every entry point is back up for good; none if some never recover within the horizon.
    pub recovered_at_s: Option<f64>,
    /// Whether every entry point stayed up.
    pub unaffected: bool,
    /// Assumptions and things noticed.
    pub notes: Vec<String>,
}

struct Look {
    state: State,
    error: f64,
    latency: f64,
    cause: Vec<String>,
}

fn state_of(success: f64, degraded: bool) -> State {
    let error = 1.0 - success;
    if error >= DOWN_AT {
        State::Down
    } else if error >= DEGRADED_AT || degraded {
        State::Degraded
    } else {
        State::Up
    }
}

fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p >= 10.0 || p == 0.0 { format!("{p:.0}%") } else { format!("{p:.1}%") }
}

/// Explains the state of endpoint `e` of station `s`: its worst contributor, followed down.
fn explain(topo: &Topology, phase: &Phase, s: Ix, e: Option<Ix>, depth: usize, out: &mut Vec<String>) {
    let st = &topo.stations[s];
    let (success, soft) = match e {
        Some(e) => (phase.success[s][e], !phase.soft[s][e].is_empty()),
        None => (
            weighted(&phase.success[s], &phase.arrivals[s], &st.endpoints),
            phase.soft[s].iter().any(|x| !x.is_empty()),
        ),
    };
    let overloaded = phase.utilisation[s] >= SATURATED_AT;
    let state = state_of(success, soft || overloaded);
    let name = match e {
        Some(e) if !st.endpoints[e].name.is_empty() && st.endpoints[e].entry => {
            format!("{} {}", st.key, st.endpoints[e].name)
        }
        _ => st.key.to_string(),
    };
    out.push(if state == State::Up {
        format!("{name} up")
    } else {
        format!("{name} {state} ({} errors)", pct(1.0 - success))
    });
    if state == State::Up || depth > 12 {
        return;
    }
    // The worst contributor: the station itself, or one of its hard calls.
    let own_fail = 1.0 - phase.own_ok[s];
    let endpoints: Vec<Ix> = match e {
        Some(e) => vec![e],
        None => (0..st.endpoints.len()).collect(),
    };
    let mut worst_call: Option<(f64, Ix)> = None;
    for (ci, c) in topo.calls.iter().enumerate() {
        if c.from != s || !(c.hard && c.waits) || !endpoints.iter().any(|&x| c.per_request[x] > 0.0) {
            continue;
        }
        let p = phase.target_success(topo, c.to, c.endpoint);
        let fail = if c.needs_up { if p > 0.0 { 0.0 } else { 1.0 } } else { 1.0 - p };
        if fail > DEGRADED_AT / 10.0 && worst_call.is_none_or(|(f, _)| fail > f) {
            worst_call = Some((fail, ci));
        }
    }
    match (worst_call, &phase.own[s]) {
        (Some((fail, ci)), own) if fail * 0.999 > own_fail || own.is_none() => {
            let c = &topo.calls[ci];
            explain(topo, phase, c.to, c.endpoint, depth + 1, out);
        }
        (_, Some(own)) => out.push(own.clone()),
        (None, None) if soft => {
            let ci = endpoints.iter().find_map(|&x| phase.soft[s][x].first().copied());
            if let Some(ci) = ci {
                let c = &topo.calls[ci];
                let p = phase.target_success(topo, c.to, c.endpoint);
                out.push(format!("soft dependency {} failing {} (fallback)", topo.stations[c.to].key, pct(1.0 - p)));
            }
        }
        _ => {}
    }
}

fn look_entry(topo: &Topology, phase: &Phase, i: Ix) -> Look {
    let entry = &topo.entries[i];
    let (s, e) = (entry.station, entry.endpoint);
    let mut success = phase.success[s][e];
    let mut cause = Vec::new();
    let lb = phase.lb[i].clone();
    if let Some((share, _)) = &lb {
        success *= 1.0 - share;
    }
    let soft = !phase.soft[s][e].is_empty() || phase.utilisation[s] >= SATURATED_AT;
    let latency = phase.latency[s][e];
    let slo_latency = topo.stations[s].endpoints[e].slo.as_ref().and_then(|x| x.latency_p99_ms);
    let slow = slo_latency.is_some_and(|l| latency > l);
    let state = state_of(success, soft || slow);
    if let Some((share, why)) = lb
        && share * 0.999 > 1.0 - phase.success[s][e]
    {
        cause.push(format!(
            "{} {} {state} ({} errors)",
            topo.stations[s].key,
            topo.stations[s].endpoints[e].name,
            pct(1.0 - success)
        ));
        cause.push(why);
    } else {
        explain(topo, phase, s, Some(e), 0, &mut cause);
        if let Some(first) = cause.first_mut() {
            *first = if state == State::Up {
                format!("{} {} up", topo.stations[s].key, topo.stations[s].endpoints[e].name)
            } else {
                format!(
                    "{} {} {state} ({} errors)",
                    topo.stations[s].key,
                    topo.stations[s].endpoints[e].name,
                    pct(1.0 - success)
                )
            };
        }
        if slow && cause.len() == 1 {
            cause.push(format!(
                "latency {latency:.0} ms over its p99 objective of {:.0} ms",
                slo_latency.unwrap_or_default()
            ));
        }
    }
    if state == State::Up {
        cause.clear();
    }
    Look { state, error: 1.0 - success, latency, cause }
}

fn look_station(topo: &Topology, phase: &Phase, s: Ix) -> Look {
    let st = &topo.stations[s];
    let success = weighted(&phase.success[s], &phase.arrivals[s], &st.endpoints);
    let latency = weighted(&phase.latency[s], &phase.arrivals[s], &st.endpoints);
    let mut cause = Vec::new();
    explain(topo, phase, s, None, 0, &mut cause);
    let soft = phase.soft[s].iter().any(|x| !x.is_empty()) || phase.utilisation[s] >= SATURATED_AT;
    let mut state = state_of(success, soft);
    // Fewer replicas than desired, or a failover under way, is worth showing even when requests succeed.
    if state == State::Up && phase.own[s].is_some() {
        state = State::Degraded;
        cause = vec![format!("{} degraded", st.key), phase.own[s].clone().unwrap_or_default()];
    }
    if state == State::Up {
        cause.clear();
    }
    Look { state, error: 1.0 - success, latency, cause }
}

fn spans(looks: Vec<(f64, Look)>, horizon_s: f64) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let n = looks.len();
    let times: Vec<f64> = looks.iter().map(|(t, _)| *t).collect();
    for (i, (t, look)) in looks.into_iter().enumerate() {
        let to = if i + 1 < n { times[i + 1] } else { horizon_s };
        if to <= t && i + 1 < n {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.state == look.state && last.cause == look.cause => {
                last.to_s = to.max(last.to_s);
                last.error_rate = last.error_rate.max(look.error);
                last.latency_ms = last.latency_ms.max(look.latency);
            }
            _ => out.push(Span {
                from_s: t,
                to_s: to.max(t),
                state: look.state,
                error_rate: look.error,
                latency_ms: look.latency,
                cause: look.cause,
            }),
        }
    }
    out
}

fn recovered(timeline: &[Span]) -> Option<f64> {
    let last = timeline.last()?;
    (last.state == State::Up && timeline.iter().any(|s| s.state != State::Up)).then_some(last.from_s)
}

/// Assembles the report from the phases the engine solved.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    topo: &Topology,
    scenario: &Scenario,
    model: &str,
    baseline: &Phase,
    phases: &[(f64, Phase)],
    events: Vec<Event>,
    pending: Vec<PendingPod>,
    shortfall: Shortfall,
    notes: Vec<String>,
) -> Report {
    let mut entries: Vec<EntryReport> = (0..topo.entries.len())
        .map(|i| {
            let entry = &topo.entries[i];
            let ep = &topo.stations[entry.station].endpoints[entry.endpoint];
            let before = look_entry(topo, baseline, i).state;
            let timeline =
                spans(phases.iter().map(|(t, p)| (*t, look_entry(topo, p, i))).collect(), scenario.horizon_s);
            let worst = timeline.iter().map(|s| s.state).max().unwrap_or(State::Up);
            let slo = ep.slo.as_ref().and_then(|s| s.availability_pct);
            let error_budget_used_pct = slo.filter(|a| *a < 100.0).map(|a| {
                let budget_s = (1.0 - a / 100.0) * 30.0 * 86_400.0;
                let failed_s: f64 = timeline.iter().map(|s| (s.to_s - s.from_s) * s.error_rate).sum();
                failed_s / budget_s * 100.0
            });
            EntryReport {
                service: topo.stations[entry.station].key.clone(),
                endpoint: ep.name.clone(),
                rate_rps: baseline.arrivals[entry.station][entry.endpoint],
                slo_availability_pct: slo,
                before,
                worst,
                recovered_at_s: recovered(&timeline),
                timeline,
                error_budget_used_pct,
            }
        })
        .collect();
    entries.sort_by(|a, b| {
        b.worst
            .cmp(&a.worst)
            .then(b.error_budget_used_pct.unwrap_or(0.0).total_cmp(&a.error_budget_used_pct.unwrap_or(0.0)))
            .then(b.rate_rps.total_cmp(&a.rate_rps))
    });
    let mut stations: Vec<StationReport> = (0..topo.stations.len())
        .filter_map(|s| {
            let looks: Vec<(f64, Look)> = phases.iter().map(|(t, p)| (*t, look_station(topo, p, s))).collect();
            let worst_at = looks
                .iter()
                .enumerate()
                .max_by_key(|(i, (_, l))| (l.state, std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
                .unwrap_or(0);
            let timeline = spans(looks, scenario.horizon_s);
            let worst = timeline.iter().map(|s| s.state).max().unwrap_or(State::Up);
            if worst == State::Up {
                return None;
            }
            Some(StationReport {
                key: topo.stations[s].key.clone(),
                kind: topo.stations[s].kind,
                worst,
                peak_utilisation: phases.iter().map(|(_, p)| p.utilisation[s]).fold(0.0, f64::max),
                replicas_at_worst: phases.get(worst_at).and_then(|(_, p)| p.replicas[s]),
                timeline,
            })
        })
        .collect();
    stations.sort_by(|a, b| b.worst.cmp(&a.worst).then(a.key.cmp(&b.key)));
    let unaffected = entries.iter().all(|e| e.worst == State::Up);
    let recovered_at_s = if unaffected {
        Some(0.0)
    } else if entries.iter().all(|e| e.timeline.last().is_some_and(|s| s.state == State::Up)) {
        entries.iter().filter_map(|e| e.recovered_at_s).fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
    } else {
        None
    };
    Report {
        scenario: scenario.name.clone(),
        load: scenario.load_text(),
        faults: scenario
            .faults
            .iter()
            .map(|f| {
                let what = match f.action {
                    Action::Fail => format!("fail {}", f.selector),
                    Action::Degrade { .. } => format!("degrade {}", f.selector),
                };
                let when = if f.at_s > 0.0 { format!(" at {}", duration(f.at_s)) } else { String::new() };
                let dur = f.for_s.map(|d| format!(" for {}", duration(d))).unwrap_or_default();
                format!("{what}{when}{dur}")
            })
            .collect(),
        horizon_s: scenario.horizon_s,
        model: model.to_string(),
        entries,
        stations,
        events,
        pending,
        shortfall,
        recovered_at_s,
        unaffected,
        notes,
    }
}
