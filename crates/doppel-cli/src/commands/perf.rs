//! `doppel perf`: latency percentiles per entry point and utilisation per service at a
//! load, from the analytic queueing model (and the simulator with `--sim`).
//! `doppel capacity`: the saturation point and the replicas needed at a target load.

use super::calibrate::error_pct;
use super::{at_of, read_twin};
use crate::args::{AtArgs, PerfArgs, PerfFailArgs, SimArgs};
use crate::exit;
use crate::output::{BAD, BOLD, DIM, GOOD, Output};
use anyhow::Result;
use doppel_model::TwinView;
use doppel_perf::PerfError;
use doppel_perf::analytic::{Solution, solve_failing};
use doppel_perf::capacity::first_breach;
use doppel_perf::sim::{Estimate, SimConfig, SimReport, run};
use doppel_resilience::Scenario;
use doppel_resilience::Topology;
use doppel_resilience::answers::{Plan, SetError, capacity_json, perf_json, set_option};
use doppel_resilience::behaviour::{PerfModel, PerfOptions};
use doppel_resilience::report::duration;
use doppel_resilience::scenario::{Load, Overrides};
use serde_json::json;
use std::path::Path;

/// Builds the model the flags ask for; returns it with the load's description.
fn model(twin: &impl TwinView, args: &PerfArgs, out: &Output) -> Result<(PerfModel, Load)> {
    let (topo, options, load) = options(twin, args, out)?;
    Ok((PerfModel::build(&topo, &options), load))
}

/// The topology and the options the flags ask for, with the load's description.
fn options(twin: &impl TwinView, args: &PerfArgs, out: &Output) -> Result<(Topology, PerfOptions, Load)> {
    let overrides = Overrides { load: args.load.as_deref(), at: args.at_point.as_deref(), ..Default::default() };
    let (load, _) = Scenario::load_from_flags(&overrides).map_err(|d| super::report_diagnostics(&d, &[], out))?;
    let topo = Topology::build(twin);
    let mut options = PerfOptions { load: load.factor, hour: load.hour(&topo), ..PerfOptions::default() };
    for change in &args.set {
        set_option(twin, &topo, change, &mut options).map_err(|e| match e {
            SetError::Usage(m) => exit::usage(m),
            SetError::Invalid(m) => exit::invalid(m),
        })?;
    }
    Ok((topo, options, load))
}

/// One instant of a failure, answered by the queueing model.
struct Moment {
    /// Seconds after the failure starts.
    t_s: f64,
    /// What happened from this instant until the next.
    events: Vec<String>,
    model: PerfModel,
    solution: Result<Solution, PerfError>,
}

impl Moment {
    /// Requests per second from outside that fail.
    fn failing_rps(&self) -> f64 {
        let rates = self.model.network.sources.iter().map(|s| s.rate_rps);
        match &self.solution {
            Ok(s) => s.entries.iter().zip(rates).map(|(e, r)| r * (1.0 - e.ok_share)).sum(),
            Err(_) => rates.sum(),
        }
    }

    /// How bad it is: overloaded first, then requests failing, then the largest p99 over
    /// its objective (or over the baseline's p99 without one).
    fn badness(&self, baseline: Option<&Solution>) -> (bool, f64, f64) {
        let worst_p99 = self.solution.as_ref().map_or(0.0, |s| {
            s.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.ok_share > 0.0)
                .map(|(i, e)| {
                    let slo = self.model.network.endpoints[e.endpoint].slo.p99_ms;
                    let base = slo.or(baseline.map(|b| b.entries[i].p99_ms)).filter(|b| *b > 0.0).unwrap_or(1.0);
                    e.p99_ms / base
                })
                .fold(0.0, f64::max)
        });
        (self.solution.is_err(), self.failing_rps(), worst_p99)
    }
}

/// A failure followed through the resilience engine, answered at each instant it changes.
struct Followed {
    /// The failure as asked (`--fail zone/us-east-1a`).
    text: String,
    moments: Vec<Moment>,
    /// The moment reported in full.
    chosen: usize,
    /// Whether it was chosen as the worst (else by `--after`).
    worst: bool,
}

/// Follows `--fail`/`--degrade` through the engine and answers each instant; `baseline`
/// is the answer without the failure.
fn follow(
    twin: &impl TwinView,
    (topo, options): (&Topology, &PerfOptions),
    baseline: Option<&Solution>,
    args: &PerfArgs,
    failure: &PerfFailArgs,
    out: &Output,
) -> Result<Followed> {
    let overrides = Overrides {
        load: args.load.as_deref(),
        at: Some(args.at_point.as_deref().unwrap_or("peak")),
        horizon_s: failure.follow_s,
        ..Default::default()
    };
    let scenario = Scenario::from_flags(&failure.faults.fail, &failure.faults.degrade, &overrides, twin)
        .map_err(|d| super::report_diagnostics(&d, &[], out))?;
    let spinner = out.spinner("following the failure through the twin");
    let (conditions, events) = doppel_resilience::engine::conditions(twin, topo, &scenario);
    let moments: Vec<Moment> = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let until = conditions.get(i + 1).map_or(f64::INFINITY, |n| n.t_s);
            let options = PerfOptions { condition: Some(c.stations.clone()), ..options.clone() };
            let model = PerfModel::build(topo, &options);
            let solution = solve_failing(&model.network);
            let events = events.iter().filter(|e| e.t_s >= c.t_s && e.t_s < until).map(|e| e.what.clone()).collect();
            Moment { t_s: c.t_s, events, model, solution }
        })
        .collect();
    spinner.finish_and_clear();
    let (chosen, worst) = match failure.after {
        Some(after) => (moments.iter().rposition(|m| m.t_s <= after).unwrap_or(0), false),
        None => {
            let badness: Vec<_> = moments.iter().map(|m| m.badness(baseline)).collect();
            let worst = (0..moments.len())
                .max_by(|&a, &b| {
                    let (x, y) = (badness[a], badness[b]);
                    x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)).then(x.2.total_cmp(&y.2)).then(b.cmp(&a))
                })
                .unwrap_or(0);
            (worst, true)
        }
    };
    let mut text: Vec<String> = failure.faults.fail.iter().map(|f| format!("--fail {f}")).collect();
    text.extend(failure.faults.degrade.iter().map(|d| format!("--degrade {d}")));
    Ok(Followed { text: text.join(" "), moments, chosen, worst })
}

fn ms(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn with_interval(e: &Estimate) -> String {
    match e.half_width {
        Some(h) if e.mean.is_finite() => format!("{} ±{}", ms(e.mean), ms(h)),
        _ => ms(e.mean),
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() { format!("{:.0}%", v * 100.0) } else { "no servers".into() }
}

/// A share as a percentage, with a decimal when it is close to all or nothing.
fn share(v: f64) -> String {
    if v == 0.0 || v == 1.0 || (0.01..=0.99).contains(&v) {
        format!("{:.0}%", v * 100.0)
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

/// The failure's course: each instant, what happened, what fails and the slowest entry.
fn print_followed(f: &Followed, out: &Output) {
    anstream::println!(
        "{BOLD}Over time{BOLD:#} with {}  {DIM}(the resilience engine decides what is left){DIM:#}",
        f.text
    );
    let mut table = out.table(&["after", "what happens", "failing", "slowest p99 (objective)", "busiest"]);
    let mut previous = None;
    for (i, m) in f.moments.iter().enumerate() {
        let mark = if i == f.chosen { " <" } else { "" };
        let (slowest, busiest) = match &m.solution {
            Ok(s) => {
                let slowest = s
                    .entries
                    .iter()
                    .filter(|e| e.ok_share > 0.0)
                    .max_by(|a, b| {
                        let ratio = |e: &doppel_perf::analytic::EntrySolution| {
                            e.p99_ms / m.model.network.endpoints[e.endpoint].slo.p99_ms.unwrap_or(f64::INFINITY)
                        };
                        ratio(a).total_cmp(&ratio(b)).then(a.p99_ms.total_cmp(&b.p99_ms))
                    })
                    .map_or("-".into(), |e| {
                        let endpoint = &m.model.network.endpoints[e.endpoint];
                        let slo = endpoint.slo.p99_ms.map_or(String::new(), |t| format!(" ({})", ms(t)));
                        format!("{} {}{slo}", endpoint.name, ms(e.p99_ms))
                    });
                let busiest = s.bottleneck.map_or("-".into(), |b| {
                    format!("{} {}", m.model.network.stations[b].name, pct(s.stations[b].utilisation))
                });
                (slowest, busiest)
            }
            Err(err) => (format!("cannot settle: {err}"), "-".into()),
        };
        let total: f64 = m.model.network.sources.iter().map(|s| s.rate_rps).sum();
        let failing = if total > 0.0 { share(m.failing_rps() / total) } else { "-".into() };
        // An instant where nothing is told and nothing shown changes is left out.
        let shown = (failing.clone(), slowest.clone(), busiest.clone());
        if m.events.is_empty() && i != f.chosen && previous.as_ref() == Some(&shown) {
            continue;
        }
        previous = Some(shown);
        let what = match m.events.as_slice() {
            [] => "-".to_string(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
        };
        table.add_row(vec![format!("{}{mark}", duration(m.t_s)), what, failing, slowest, busiest]);
    }
    out.print_table(&table);
}

fn failure_json(f: &Followed) -> serde_json::Value {
    let moments: Vec<_> = f
        .moments
        .iter()
        .map(|m| {
            json!({"t_s": m.t_s, "events": m.events, "failing_rps": m.failing_rps(),
                   "error": m.solution.as_ref().err().map(|e| e.to_string()),
                   "entries": m.solution.as_ref().ok().map(|s| s.entries.iter().map(|e| json!({
                       "endpoint": m.model.network.endpoints[e.endpoint].name, "ok_share": e.ok_share,
                       "p50_ms": e.p50_ms, "p99_ms": e.p99_ms})).collect::<Vec<_>>())})
        })
        .collect();
    json!({"failure": f.text, "reported_t_s": f.moments[f.chosen].t_s, "worst": f.worst, "timeline": moments})
}

/// A rate in requests per second, with as many decimals as a small one needs.
pub(super) fn rate(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else if v >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Runs the simulator with a progress spinner.
fn simulate(model: &PerfModel, args: &SimArgs, out: &Output) -> Result<SimReport> {
    let config = SimConfig {
        seed: args.seed,
        horizon_s: args.horizon,
        warmup_s: args.horizon / 10.0,
        replications: args.replications,
        ..SimConfig::default()
    };
    let spinner = out.spinner(&format!("simulating {} replications of {} s", config.replications, config.horizon_s));
    let report = run(&model.network, &config).map_err(|e| exit::invalid(format!("simulation: {e}")))?;
    spinner.finish_and_clear();
    Ok(report)
}

/// Runs `doppel perf`.
pub fn perf(
    store: &Path,
    args: &PerfArgs,
    failure: &PerfFailArgs,
    sim_args: &SimArgs,
    at: &AtArgs,
    out: &Output,
) -> Result<()> {
    let failing = failure.faults.any();
    if !failing && (failure.after.is_some() || failure.follow_s.is_some()) {
        return Err(exit::usage("--after and --follow need a failure: --fail SELECTOR or --degrade SPEC"));
    }
    let (store, twin) = read_twin(store, at_of(at)?, out)?;
    let (topo, options, load) = options(&twin, args, out)?;
    let model = PerfModel::build(&topo, &options);
    // How well the model as written matches the last hour of telemetry, where there is any.
    let fit = super::calibrate::fidelity_now(&store, &PerfModel::build(&topo, &PerfOptions::default()), &topo)?;
    let solution = solve_failing(&model.network);
    let followed = if failing {
        Some(follow(&twin, (&topo, &options), solution.as_ref().ok(), args, failure, out)?)
    } else {
        None
    };
    let (model, solution) = match &followed {
        Some(f) => {
            let m = &f.moments[f.chosen];
            (m.model.clone(), m.solution.clone())
        }
        None => (model, solution),
    };
    let sim = if sim_args.sim { Some(simulate(&model, sim_args, out)?) } else { None };
    if out.json {
        let mut value = perf_json(&model, &load, &solution, sim.as_ref());
        if let Some(f) = &followed {
            value["failure"] = failure_json(f);
        }
        if let Some((window, fit)) = &fit {
            value["fidelity"] = json!({"from_ms": window.from_ms, "to_ms": window.to_ms,
                "entries": fit.iter().map(|f| json!({"entry": model.network.endpoints[model.network.sources[f.source].endpoint as usize].name,
                    "mean_error": f.mean_error, "p99_error": f.p99_error})).collect::<Vec<_>>()});
        }
        return out.print_json(&value);
    }
    let net = &model.network;
    let changes = if args.set.is_empty() { String::new() } else { format!(", {}", args.set.join(", ")) };
    if let Some(f) = &followed {
        print_followed(f, out);
    }
    let during = followed.as_ref().map_or(String::new(), |f| {
        let m = &f.moments[f.chosen];
        format!(
            " with {}, {} after it starts{}",
            f.text,
            duration(m.t_s),
            if f.worst { " (its worst moment)" } else { "" }
        )
    });
    anstream::println!(
        "{BOLD}Performance{BOLD:#} at {}{changes}{during}  {DIM}(queueing model: M/M/c waits, Allen-Cunneen for other service times){DIM:#}",
        load.text()
    );
    let solution = match solution {
        Ok(s) => Some(s),
        Err(err) => {
            anstream::println!("{BAD}The estate cannot carry this load{BAD:#}: {err}");
            None
        }
    };
    let some_fail = solution.as_ref().is_some_and(|s| s.entries.iter().any(|e| e.ok_share < 1.0));
    let mut headers = vec!["entry point", "rps"];
    if some_fail {
        headers.push("ok");
    }
    headers.extend(["p50 ms", "p99 ms", "objective p99"]);
    if fit.is_some() {
        headers.push("model error");
    }
    if sim.is_some() {
        headers.extend(["sim p50 ms", "sim p99 ms", "sim errors"]);
    }
    let mut table = out.table(&headers);
    for (i, source) in net.sources.iter().enumerate() {
        let endpoint = &net.endpoints[source.endpoint as usize];
        let mut row = vec![endpoint.name.clone(), rate(source.rate_rps)];
        let mut objective = endpoint.slo.p99_ms.map_or("-".into(), ms);
        match &solution {
            Some(s) if s.entries[i].ok_share == 0.0 => {
                row.extend(["0%".into(), "-".into(), "-".into()]);
                objective.push_str(" missed");
            }
            Some(s) => {
                let e = &s.entries[i];
                if some_fail {
                    row.push(share(e.ok_share));
                }
                row.push(ms(e.p50_ms));
                row.push(ms(e.p99_ms));
                if let Some(t) = endpoint.slo.p99_ms {
                    objective.push_str(if e.p99_ms > t { " missed" } else { " met" });
                }
            }
            None => row.extend(["-".into(), "-".into()]),
        }
        row.push(objective);
        if let Some((_, fit)) = &fit {
            row.push(fit.iter().find(|f| f.source == i).map_or("-".into(), |f| {
                format!("{} / {}", error_pct(f.mean_error), f.p99_error.map_or("-".into(), error_pct))
            }));
        }
        if let Some(r) = &sim {
            let e = &r.entries[i];
            row.push(with_interval(&e.p50_ms));
            row.push(with_interval(&e.p99_ms));
            row.push(format!("{:.2}%", e.error_rate.mean * 100.0));
        }
        table.add_row(row);
    }
    out.print_table(&table);

    let mut headers = vec!["station", "servers", "rps", "busy", "wait ms"];
    if sim.is_some() {
        headers.extend(["sim busy", "sim dropped/s", "sim timeouts/s"]);
    }
    let mut table = out.table(&headers);
    // Rates and busy shares even when the queues cannot settle.
    let nothing = doppel_perf::analytic::Offered { arrival_rps: 0.0, work: 0.0, utilisation: 0.0 };
    let offered = doppel_perf::analytic::offered(net).unwrap_or_else(|_| vec![nothing; net.stations.len()]);
    let mut order: Vec<usize> =
        (0..net.stations.len()).filter(|&s| model.replicas[s].is_some() || offered[s].arrival_rps > 0.0).collect();
    order.sort_by(|a, b| offered[*b].utilisation.total_cmp(&offered[*a].utilisation).then(a.cmp(b)));
    for s in order {
        let station = &net.stations[s];
        let servers = match model.replicas[s] {
            Some(r) => format!("{r} x {}", model.concurrency[s]),
            None => "unbounded".into(),
        };
        let mut row = vec![station.name.clone(), servers];
        row.push(rate(offered[s].arrival_rps));
        row.push(if station.servers == 0 {
            "down".into()
        } else if model.replicas[s].is_some() {
            pct(offered[s].utilisation)
        } else {
            "-".into()
        });
        row.push(solution.as_ref().map_or("-".into(), |x| ms(x.stations[s].mean_wait_ms)));
        if let Some(r) = &sim {
            let st = &r.stations[s];
            row.push(if model.replicas[s].is_some() { pct(st.utilisation.mean) } else { "-".into() });
            row.push(format!("{:.2}", st.dropped_rps.mean));
            row.push(format!("{:.2}", st.timeouts_rps.mean));
        }
        table.add_row(row);
    }
    out.print_table(&table);
    if let Some(s) = &solution
        && let Some(b) = s.bottleneck
    {
        anstream::println!(
            "Bottleneck: {BOLD}{}{BOLD:#}, {} busy. {}",
            net.stations[b].name,
            pct(s.stations[b].utilisation),
            match first_breach(net, s) {
                Some(why) => format!("{BAD}Objective broken{BAD:#}: {why}."),
                None => format!("{GOOD}Every latency objective holds.{GOOD:#}"),
            }
        );
    }
    if let Some(r) = &sim {
        anstream::println!(
            "{DIM}Simulated: {} replications of {} s after a {} s warm-up, {} events; ± is the 95% interval.{DIM:#}",
            r.replications,
            sim_args.horizon,
            sim_args.horizon / 10.0,
            r.events
        );
    }
    if let Some((window, _)) = &fit {
        anstream::println!(
            "{DIM}Model error: the model as written against the telemetry of {} at its load (mean / p99; `doppel calibrate` to improve it).{DIM:#}",
            window.text()
        );
    }
    for note in &model.notes {
        anstream::println!("{DIM}note: {note}{DIM:#}");
    }
    Ok(())
}

/// Runs `doppel capacity`.
pub fn capacity(store: &Path, args: &PerfArgs, target: &str, at: &AtArgs, out: &Output) -> Result<()> {
    let (_store, twin) = read_twin(store, at_of(at)?, out)?;
    let (model, load) = model(&twin, args, out)?;
    let target_overrides = Overrides { load: Some(target), ..Default::default() };
    let (target_load, _) =
        Scenario::load_from_flags(&target_overrides).map_err(|d| super::report_diagnostics(&d, &[], out))?;
    let factor = target_load.factor;
    let net = &model.network;
    let spinner = out.spinner("searching the saturation point and the replicas needed");
    let plan = Plan::new(&model, factor).map_err(|e| exit::invalid(e.to_string()))?;
    spinner.finish_and_clear();
    if out.json {
        return out.print_json(&capacity_json(&model, &load, factor, &plan));
    }
    anstream::println!(
        "{BOLD}Capacity{BOLD:#} from {}  {DIM}(queueing model; objectives: each entry point's latency SLOs){DIM:#}",
        load.text()
    );
    match &plan.saturation {
        Some(s) if s.factor == 0.0 => anstream::println!("{BAD}Broken at any load{BAD:#}: {}", s.breaks),
        Some(s) => anstream::println!(
            "Saturation point: {BOLD}{:.2}x{BOLD:#} this load. Just above it: {}",
            s.factor,
            s.breaks
        ),
        None => anstream::println!("Saturation point: above 1000x this load."),
    }
    match &plan.needed {
        Err(err) => anstream::println!("At {factor}x: {BAD}no replica counts meet every objective{BAD:#}: {err}"),
        Ok(replicas) => {
            let needed_header = format!("needed at {factor}x");
            let mut table = out.table(&["service", "replicas now", &needed_header, "busy at target", "added $/hour"]);
            let mut added_cost = 0.0;
            for (i, (sc, &k)) in plan.scalable.iter().zip(replicas).enumerate() {
                let busy = plan.at_target.as_ref().map(|s| s.stations[sc.station].utilisation);
                // Unchanged services are listed only when busy.
                if k == sc.replicas && busy.is_some_and(|u| u < 0.5) {
                    continue;
                }
                let cost = plan.added_cost(&model, i, k);
                added_cost += cost.unwrap_or(0.0);
                let needed_text = if k > sc.replicas { format!("{k} (+{})", k - sc.replicas) } else { k.to_string() };
                table.add_row(vec![
                    net.stations[sc.station].name.clone(),
                    sc.replicas.to_string(),
                    needed_text,
                    busy.map_or("-".into(), pct),
                    cost.map_or("-".into(), |c| format!("{c:.3}")),
                ]);
            }
            if !table.is_empty() {
                out.print_table(&table);
            }
            let changed = plan.scalable.iter().zip(replicas).filter(|(sc, k)| **k > sc.replicas).count();
            if changed == 0 {
                anstream::println!("{GOOD}At {factor}x every objective holds with today's replicas.{GOOD:#}");
            } else {
                anstream::println!(
                    "At {factor}x: scale {changed} service(s), adding about ${added_cost:.2} per hour at on-demand prices."
                );
            }
        }
    }
    for note in &model.notes {
        anstream::println!("{DIM}note: {note}{DIM:#}");
    }
    Ok(())
}
