//! `doppel spof`: every single failure ranked by what it costs, the worst pairs, single
//! points of failure and redundancy gaps. `doppel availability`: expected yearly
//! availability of each entry point.

use super::{at_of, read_twin};
use crate::args::{AtArgs, SpofArgs};
use crate::exit;
use crate::output::{BAD, BOLD, DIM, GOOD, Output, WARN};
use anyhow::Result;
use doppel_model::{Selector, TwinView};
use doppel_perf::UtilisationLaw;
use doppel_resilience::availability::{AvailabilityOptions, AvailabilityReport, Method, estimate};
use doppel_resilience::report::{State, duration};
use doppel_resilience::scenario::Overrides;
use doppel_resilience::sweep::{Single, SweepOptions, SweepReport, sweep};
use doppel_resilience::{Scenario, Topology};
use std::path::Path;

/// Runs `doppel spof`.
pub fn spof(store: &Path, args: &SpofArgs, at: &AtArgs, out: &Output) -> Result<()> {
    let (_store, twin) = read_twin(store, at_of(at)?, out)?;
    let overrides = Overrides { load: args.load.as_deref(), at: args.at_point.as_deref(), ..Default::default() };
    let (load, horizon_s) =
        Scenario::load_from_flags(&overrides).map_err(|d| super::report_diagnostics(&d, &[], out))?;
    let only = match &args.only {
        None => None,
        Some(text) => {
            let selector = Selector::parse(text).map_err(|e| exit::usage(format!("--only `{text}`: {e}")))?;
            let keys: std::collections::BTreeSet<_> =
                selector.select(&twin).into_iter().map(|e| e.key.clone()).collect();
            if keys.is_empty() {
                return Err(exit::invalid(format!(
                    "--only `{text}` matches nothing in the twin: check it with `doppel show {text}`"
                )));
            }
            Some(keys)
        }
    };
    let options = SweepOptions { load, only, verify: args.verify, horizon_s, ..SweepOptions::default() };
    let spinner = out.spinner("finding what each failure cuts off");
    let topo = Topology::build(&twin);
    spinner.finish_and_clear();
    let bar = out.progress(0, "following the worst failures over time");
    let report = sweep(&twin, &topo, &options, &UtilisationLaw, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    if out.json {
        return out.print_json(&report);
    }
    if args.markdown {
        anstream::print!("{}", markdown(&report, args.top));
        return Ok(());
    }
    print(&report, args.top, out, twin.entity_count());
    Ok(())
}

fn state_text(state: State) -> String {
    match state {
        State::Up => "up".into(),
        State::Degraded => format!("{WARN}degraded{WARN:#}"),
        State::Down => format!("{BAD}down{BAD:#}"),
    }
}

/// Cells of one ranked failure: component, cuts off, degrades, worst, back up, lost, why.
fn single_row(s: &Single, entries: usize) -> [String; 7] {
    let count = |v: &[String], rps: f64| {
        if v.is_empty() { "-".to_string() } else { format!("{}/{entries} ({} rps)", v.len(), rps.round()) }
    };
    let (worst, back, why) = match &s.simulated {
        Some(m) => (
            m.worst.to_string(),
            match (m.worst, m.recovered_at_s) {
                (State::Up, _) => "-".into(),
                (_, Some(t)) => duration(t),
                (_, None) => "not within horizon".into(),
            },
            m.cause.iter().skip(1).cloned().collect::<Vec<_>>().join(" <- "),
        ),
        None => ("not simulated".into(), "-".into(), String::new()),
    };
    [
        s.component.clone(),
        count(&s.entries_down, s.rps_down),
        count(&s.entries_degraded, s.rps_degraded),
        worst,
        back,
        requests(s.impact),
        why,
    ]
}

fn short_list(v: &[String], n: usize) -> String {
    let mut text = v.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > n {
        text.push_str(&format!(" +{} more", v.len() - n));
    }
    text
}

fn requests(n: f64) -> String {
    if n <= 0.0 {
        "0".into()
    } else if n < 10_000.0 {
        format!("{n:.0}")
    } else if n < 10_000_000.0 {
        format!("{:.0}k", n / 1000.0)
    } else {
        format!("{:.1}M", n / 1e6)
    }
}

fn print(report: &SweepReport, top: usize, out: &Output, entities: usize) {
    anstream::println!(
        "{BOLD}Single failures{BOLD:#}  {DIM}{} components failed one at a time ({} entities), at {}; {} harmless{DIM:#}",
        report.swept,
        entities,
        report.load,
        report.harmless
    );
    let mut table = out.table(&[
        "component",
        "entry points cut off",
        "degraded",
        "worst over time",
        "back up",
        "requests lost",
        "why (at worst)",
    ]);
    for s in report.singles.iter().take(top) {
        let mut row = single_row(s, report.entries).to_vec();
        if let Some(m) = &s.simulated {
            row[3] = state_text(m.worst);
        }
        table.add_row(row);
    }
    out.print_table(&table);
    if report.singles.len() > top {
        out.hint(&format!(
            "{} more with some effect: --top {} shows them, --json has all",
            report.singles.len() - top,
            report.singles.len()
        ));
    }
    out.heading(&format!("Single points of failure: {}", report.spofs.len()));
    if report.spofs.is_empty() {
        out.success("no single infrastructure component or dependency cuts off an entry point");
    }
    for s in &report.spofs {
        anstream::println!("  {BAD}{}{BAD:#} cuts off {}", s.component, short_list(&s.entries, 4));
        anstream::println!("    {DIM}{}{DIM:#}", s.why.join(" <- "));
    }
    out.heading(&format!("Redundancy gaps: {}", report.gaps.len()));
    for g in &report.gaps {
        let needed = if g.entries.is_empty() {
            String::new()
        } else {
            format!("  {DIM}needed by {}{DIM:#}", short_list(&g.entries, 3))
        };
        anstream::println!("  {WARN}{}{WARN:#}: {}{needed}", g.subject, g.detail);
    }
    if !report.pairs.is_empty() {
        out.heading("Worst pairs (what only the two together cut off)");
        let mut table = out.table(&["first", "second", "only together", "all cut off"]);
        for p in report.pairs.iter().take(top.min(10)) {
            table.add_row(vec![
                p.a.clone(),
                p.b.clone(),
                short_list(&p.only_together, 3),
                format!("{} entry point(s)", p.entries_down.len()),
            ]);
        }
        out.print_table(&table);
    }
    for note in &report.notes {
        out.hint(&format!("note: {note}"));
    }
}

/// The sweep as Markdown, for a pull request comment.
pub fn markdown(report: &SweepReport, top: usize) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut md = format!(
        "### Single failures\n\n{} components failed one at a time at {}; {} harmless.\n\n| component | entry points cut off | degraded | worst over time | back up | requests lost | why (at worst) |\n|---|---|---|---|---|---|---|\n",
        report.swept, report.load, report.harmless
    );
    for s in report.singles.iter().take(top) {
        md.push_str(&format!("| {} |\n", single_row(s, report.entries).map(|c| esc(&c)).join(" | ")));
    }
    md.push_str(&format!("\n### Single points of failure: {}\n\n", report.spofs.len()));
    for s in &report.spofs {
        md.push_str(&format!(
            "- `{}` cuts off {}: {}\n",
            s.component,
            esc(&short_list(&s.entries, 4)),
            esc(&s.why.join(" <- "))
        ));
    }
    md.push_str(&format!("\n### Redundancy gaps: {}\n\n", report.gaps.len()));
    for g in &report.gaps {
        md.push_str(&format!("- `{}`: {}\n", g.subject, esc(&g.detail)));
    }
    for note in &report.notes {
        md.push_str(&format!("\n> {note}\n"));
    }
    md
}

/// Runs `doppel availability`.
pub fn availability(
    store: &Path,
    options: &AvailabilityOptions,
    markdown_out: bool,
    at: &AtArgs,
    out: &Output,
) -> Result<()> {
    if options.samples == 0 {
        return Err(exit::usage("--samples must be at least 1"));
    }
    let (_store, twin) = read_twin(store, at_of(at)?, out)?;
    let spinner = out.spinner("drawing random instants");
    let topo = Topology::build(&twin);
    let report = estimate(&twin, &topo, options)
        .map_err(|errors| exit::invalid(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")))?;
    spinner.finish_and_clear();
    if out.json {
        return out.print_json(&report);
    }
    if markdown_out {
        anstream::print!("{}", availability_markdown(&report));
        return Ok(());
    }
    anstream::println!(
        "{BOLD}Expected availability per year{BOLD:#}  {DIM}{} random instants, seed {}; MTBF/MTTR per class (docs/resilience.md), {} overridden{DIM:#}",
        report.samples,
        report.seed,
        report.overridden
    );
    let mut table = out.table(&[
        "entry point",
        "expected",
        "95% interval",
        "objective",
        "down per year",
        "method",
        "most downtime from",
    ]);
    for e in &report.entries {
        let verdict = match e.meets_slo {
            Some(true) => format!("{GOOD}meets{GOOD:#}"),
            Some(false) => format!("{BAD}misses{BAD:#}"),
            None if e.slo_pct.is_some() => format!("{WARN}too close to call{WARN:#}"),
            None => "-".into(),
        };
        table.add_row(vec![
            e.entry.clone(),
            pct(e.availability_pct),
            e.interval_pct.map_or("exact".into(), |(lo, hi)| format!("{} - {}", pct(lo), pct(hi))),
            e.slo_pct.map_or("-".into(), |s| format!("{} {verdict}", pct(s))),
            minutes(e.minutes_per_year),
            match e.method {
                Method::Analytic => "series".into(),
                Method::MonteCarlo => "Monte Carlo".into(),
            },
            e.contributions
                .iter()
                .take(2)
                .map(|c| format!("{} {}", c.component, minutes(c.minutes_per_year)))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    out.print_table(&table);
    let missing = report.entries.iter().filter(|e| e.meets_slo == Some(false)).count();
    for note in &report.notes {
        out.hint(&format!("assumed: {note}"));
    }
    if missing > 0 {
        out.line(&format!("{BAD}{missing} entry point(s) expected to miss their objective{BAD:#}"));
    } else {
        out.success("every entry point with an objective is expected to meet it");
    }
    Ok(())
}

fn pct(p: f64) -> String {
    format!("{p:.3}%")
}

fn minutes(m: f64) -> String {
    if m < 120.0 { format!("{m:.1} min") } else { format!("{:.1} h", m / 60.0) }
}

/// The availability estimate as Markdown.
pub fn availability_markdown(report: &AvailabilityReport) -> String {
    let mut md = format!(
        "### Expected availability per year\n\n{} random instants, seed {}.\n\n| entry point | expected | 95% interval | objective | meets | down per year | most downtime from |\n|---|---|---|---|---|---|---|\n",
        report.samples, report.seed
    );
    for e in &report.entries {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            e.entry.replace('|', "\\|"),
            pct(e.availability_pct),
            e.interval_pct.map_or("exact".into(), |(lo, hi)| format!("{} - {}", pct(lo), pct(hi))),
            e.slo_pct.map_or("-".into(), pct),
            match e.meets_slo {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "-",
            },
            minutes(e.minutes_per_year),
            e.contributions
                .iter()
                .take(3)
                .map(|c| format!("`{}` {}", c.component, minutes(c.minutes_per_year)))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    md
}
