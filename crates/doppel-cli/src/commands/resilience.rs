//! `doppel what-if`: follow a failure through every layer and show what users see.

use super::{at_of, read_twin};
use crate::args::{AtArgs, DrillArg, WhatIfArgs};
use crate::exit;
use crate::output::{BAD, BOLD, DIM, GOOD, Output, WARN};
use anyhow::Result;
use doppel_estate::SourceFile;
use doppel_model::TwinView;
use doppel_perf::UtilisationLaw;
use doppel_resilience::report::{Span, State, duration};
use doppel_resilience::scenario::Overrides;
use doppel_resilience::sweep::{Drill, SweepOptions};
use doppel_resilience::{Report, Scenario, ScenarioFile, Topology};
use std::path::Path;

/// Reads the scenario from the file or the flags, checked against the twin.
pub fn scenario(args: &WhatIfArgs, view: &impl TwinView, out: &Output) -> Result<Scenario> {
    let overrides = Overrides {
        load: args.load.as_deref(),
        at: args.at_point.as_deref(),
        horizon_s: args.horizon_s,
        autoscaler: args.no_autoscaler.then_some(false),
    };
    let Some(path) = &args.file else {
        if !args.faults.any() {
            return Err(exit::usage(
                "say what fails: --fail zone/us-east-1a, --degrade 'external/x:latency_ms=2000', -f scenario.yaml or --drill region-loss",
            ));
        }
        return Scenario::from_flags(&args.faults.fail, &args.faults.degrade, &overrides, view)
            .map_err(|d| super::report_diagnostics(&d, &[], out));
    };
    let shown = path.display().to_string();
    let text = super::read_text(path)?;
    let files = [SourceFile { path: shown.clone(), text }];
    let (mut file, doc) =
        ScenarioFile::parse(&shown, &files[0].text).map_err(|d| super::report_diagnostics(&d, &files, out))?;
    file.apply(&overrides).map_err(|d| super::report_diagnostics(&d, &files, out))?;
    Scenario::from_file(&file, &shown, Some(&doc), view).map_err(|d| super::report_diagnostics(&d, &files, out))
}

/// Runs `doppel what-if`.
pub fn what_if(store: &Path, args: &WhatIfArgs, at: &AtArgs, out: &Output) -> Result<()> {
    let (_store, twin) = read_twin(store, at_of(at)?, out)?;
    if let Some(which) = args.drill {
        return drill(&twin, args, which, out);
    }
    let scenario = scenario(args, &twin, out)?;
    let spinner = out.spinner("following the failure through the twin");
    let topo = Topology::build(&twin);
    let report = doppel_resilience::run(&twin, &topo, &scenario, &UtilisationLaw);
    spinner.finish_and_clear();
    if out.json {
        return out.print_json(&report);
    }
    if args.markdown {
        anstream::print!("{}", markdown(&report));
        return Ok(());
    }
    print_report(&report, out);
    Ok(())
}

fn state_text(state: State) -> String {
    match state {
        State::Up => format!("{GOOD}up{GOOD:#}"),
        State::Degraded => format!("{WARN}degraded{WARN:#}"),
        State::Down => format!("{BAD}down{BAD:#}"),
    }
}

fn worst_span(timeline: &[Span]) -> Option<&Span> {
    timeline.iter().max_by(|a, b| {
        a.state.cmp(&b.state).then(a.error_rate.total_cmp(&b.error_rate)).then(b.from_s.total_cmp(&a.from_s))
    })
}

fn recovery_text(worst: State, recovered: Option<f64>) -> String {
    match (worst, recovered) {
        (State::Up, _) => "-".into(),
        (_, Some(t)) => duration(t),
        (_, None) => "not within horizon".into(),
    }
}

/// One row per entry point: endpoint, before, worst, recovery, budget, cause at worst.
fn entry_rows(report: &Report) -> Vec<[String; 6]> {
    report
        .entries
        .iter()
        .map(|e| {
            let why = worst_span(&e.timeline)
                .map(|s| s.cause.iter().skip(1).cloned().collect::<Vec<_>>().join(" <- "))
                .unwrap_or_default();
            [
                format!("{} {}", e.service.name(), e.endpoint),
                e.before.to_string(),
                e.worst.to_string(),
                recovery_text(e.worst, e.recovered_at_s),
                e.error_budget_used_pct.map(|p| format!("{p:.1}%")).unwrap_or_else(|| "-".into()),
                why,
            ]
        })
        .collect()
}

/// Prints a what-if report as tables.
pub fn print_report(report: &Report, out: &Output) {
    anstream::println!(
        "{BOLD}What if{BOLD:#}: {}  {DIM}at {}, followed for {}, capacity by the {}{DIM:#}",
        report.faults.join("; "),
        report.load,
        duration(report.horizon_s),
        report.model
    );
    let mut table = out.table(&["entry point", "before", "worst", "back up", "error budget", "why (at worst)"]);
    for (row, entry) in entry_rows(report).into_iter().zip(&report.entries) {
        let [name, _, _, back, budget, why] = row;
        table.add_row(vec![name, state_text(entry.before), state_text(entry.worst), back, budget, why]);
    }
    out.print_table(&table);
    let affected: Vec<_> = report.stations.iter().collect();
    if !affected.is_empty() {
        out.heading("Services and dependencies not up throughout");
        let mut table = out.table(&["station", "worst", "replicas", "peak busy", "timeline"]);
        for s in affected {
            let timeline = s
                .timeline
                .iter()
                .map(|span| format!("{} {}", duration(span.from_s), span.state))
                .collect::<Vec<_>>()
                .join(", ");
            table.add_row(vec![
                s.key.to_string(),
                state_text(s.worst),
                s.replicas_at_worst.map(|(r, d)| format!("{r}/{d}")).unwrap_or_else(|| "-".into()),
                if s.peak_utilisation > 0.0 { format!("{:.0}%", s.peak_utilisation * 100.0) } else { "-".into() },
                timeline,
            ]);
        }
        out.print_table(&table);
    }
    out.heading("What happens");
    for e in &report.events {
        anstream::println!("  {DIM}{:>8}{DIM:#}  {}", duration(e.t_s), e.what);
    }
    if !report.pending.is_empty() {
        out.heading(&format!(
            "Pending pods: {} ({:.2} cores, {:.2} GiB short)",
            report.shortfall.pods, report.shortfall.cores, report.shortfall.memory_gib
        ));
        for p in &report.pending {
            anstream::println!("  {} since {}: {}", p.workload, duration(p.since_s), p.reason);
        }
    }
    for note in &report.notes {
        out.hint(&format!("note: {note}"));
    }
    match (report.unaffected, report.recovered_at_s) {
        (true, _) => out.success("every entry point stays up"),
        (false, Some(t)) => out.line(&format!("every entry point is back up after {}", duration(t))),
        (false, None) => {
            out.line(&format!("{BAD}some entry points are not back up within {}{BAD:#}", duration(report.horizon_s)))
        }
    }
}

/// The report as Markdown, for a pull request comment.
pub fn markdown(report: &Report) -> String {
    let mut md = format!(
        "### What if: {}\n\nAt {}, followed for {}; capacity by the {}.\n\n",
        report.faults.join("; "),
        report.load,
        duration(report.horizon_s),
        report.model
    );
    md.push_str(
        "| entry point | before | worst | back up | error budget | why (at worst) |\n|---|---|---|---|---|---|\n",
    );
    for row in entry_rows(report) {
        md.push_str(&format!("| {} |\n", row.map(|c| c.replace('|', "\\|")).join(" | ")));
    }
    if !report.events.is_empty() {
        md.push_str("\n| time | what happens |\n|---|---|\n");
        for e in &report.events {
            md.push_str(&format!("| {} | {} |\n", duration(e.t_s), e.what.replace('|', "\\|")));
        }
    }
    if !report.pending.is_empty() {
        md.push_str(&format!(
            "\n**Pending pods: {}** ({:.2} cores, {:.2} GiB short)\n\n",
            report.shortfall.pods, report.shortfall.cores, report.shortfall.memory_gib
        ));
        for p in &report.pending {
            md.push_str(&format!("- `{}` since {}: {}\n", p.workload, duration(p.since_s), p.reason));
        }
    }
    for note in &report.notes {
        md.push_str(&format!("\n> {note}\n"));
    }
    md
}

/// Runs a disaster-recovery drill and prints one row per scenario.
fn drill(twin: &doppel_model::Twin, args: &WhatIfArgs, which: DrillArg, out: &Output) -> Result<()> {
    let overrides = Overrides {
        load: args.load.as_deref(),
        at: args.at_point.as_deref(),
        horizon_s: args.horizon_s,
        autoscaler: args.no_autoscaler.then_some(false),
    };
    let (load, horizon_s) =
        Scenario::load_from_flags(&overrides).map_err(|d| super::report_diagnostics(&d, &[], out))?;
    let which = match which {
        DrillArg::RegionLoss => Drill::RegionLoss,
        DrillArg::ZoneLoss => Drill::ZoneLoss,
        DrillArg::DatastoreLoss => Drill::DatastoreLoss,
    };
    let options = SweepOptions { load, horizon_s, ..SweepOptions::default() };
    let spinner = out.spinner("running the drill");
    let topo = Topology::build(twin);
    let report = doppel_resilience::sweep::drill(twin, &topo, which, &options, &UtilisationLaw);
    spinner.finish_and_clear();
    if out.json {
        return out.print_json(&report);
    }
    let title = match which {
        Drill::RegionLoss => "lose a region",
        Drill::ZoneLoss => "lose a zone",
        Drill::DatastoreLoss => "lose a primary datastore",
    };
    if args.markdown {
        let mut md = format!(
            "### Drill: {title}\n\nAt {}, followed for {}.\n\n| lost | worst | entry points down | back up | error budget | verdict |\n|---|---|---|---|---|---|\n",
            report.load,
            duration(report.horizon_s)
        );
        for r in &report.runs {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.lost,
                r.simulated.worst,
                r.simulated.entries_down,
                recovery_text(r.simulated.worst, r.simulated.recovered_at_s),
                r.simulated.worst_budget_pct.map_or("-".into(), |p| format!("{p:.1}%")),
                r.verdict.replace('|', "\\|")
            ));
        }
        for f in &report.findings {
            md.push_str(&format!("\n> {f}\n"));
        }
        anstream::print!("{md}");
        return Ok(());
    }
    anstream::println!(
        "{BOLD}Drill: {title}{BOLD:#}  {DIM}at {}, each followed for {}{DIM:#}",
        report.load,
        duration(report.horizon_s)
    );
    let mut table = out.table(&["lost", "worst", "entry points down", "back up", "error budget", "verdict"]);
    for r in &report.runs {
        table.add_row(vec![
            r.lost.clone(),
            state_text(r.simulated.worst),
            r.simulated.entries_down.to_string(),
            recovery_text(r.simulated.worst, r.simulated.recovered_at_s),
            r.simulated.worst_budget_pct.map_or("-".into(), |p| format!("{p:.1}%")),
            if r.passed { format!("{GOOD}{}{GOOD:#}", r.verdict) } else { format!("{BAD}{}{BAD:#}", r.verdict) },
        ]);
    }
    out.print_table(&table);
    for f in &report.findings {
        out.line(&format!("{WARN}finding{WARN:#}: {f}"));
    }
    if report.passed {
        out.success("the drill passes: every entry point comes back within the horizon");
    } else {
        out.line(&format!(
            "{BAD}the drill fails{BAD:#}: some entry points do not come back within {}",
            duration(report.horizon_s)
        ));
    }
    Ok(())
}
