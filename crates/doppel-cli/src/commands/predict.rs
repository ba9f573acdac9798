//! `doppel forecast` (one series ahead, with a chart) and `doppel predict` (every risk the
//! forecasts show, soonest first).

use super::{duration, read_twin};
use crate::chart::{Chart, human, unit_of};
use crate::exit;
use crate::output::{BOLD, Output, WARN};
use anyhow::Result;
use doppel_foresight::limits::Limit;
use doppel_foresight::stored::{Risk, crossing_words, incidents_since};
use doppel_model::Key;
use doppel_store::{At, SeriesInfo, SqliteStore, Store};
use serde::Serialize;
use std::path::Path;

const HOUR_MS: i64 = 3_600_000;

/// A stored series named `ENTITY.ATTRIBUTE`: the split at a dot that names one.
fn find_series<'s>(all: &'s [SeriesInfo], name: &str) -> Result<&'s SeriesInfo> {
    if let Some(info) = all.iter().find(|s| format!("{}.{}", s.entity, s.attribute) == name) {
        return Ok(info);
    }
    if all.is_empty() {
        return Err(exit::not_found(
            "the store holds no series: `doppel observe FILE.csv`, `doppel observe --synthetic`, `doppel import prometheus` or `doppel sync` store some",
        ));
    }
    // Near ones: the same entity, else the same attribute.
    let entity = name
        .rsplit_once('/')
        .map_or(name, |(head, tail)| &name[..head.len() + 1 + tail.find('.').unwrap_or(tail.len())]);
    let mut near: Vec<String> =
        all.iter().filter(|s| s.entity == entity).map(|s| format!("{}.{}", s.entity, s.attribute)).collect();
    if near.is_empty() {
        let attribute = name.rsplit_once('.').map_or("", |(_, a)| a);
        near =
            all.iter().filter(|s| s.attribute == attribute).map(|s| format!("{}.{}", s.entity, s.attribute)).collect();
    }
    near.truncate(12);
    let hint = if near.is_empty() { String::new() } else { format!("; near ones:\n  {}", near.join("\n  ")) };
    Err(exit::not_found(format!(
        "no stored series `{name}` (expected ENTITY.ATTRIBUTE, such as datastore/orders-db.disk_used_bytes){hint}"
    )))
}

/// One forecast, as JSON.
#[derive(Serialize)]
struct ForecastJson<'a> {
    series: String,
    model: &'a str,
    periods_hours: Vec<f64>,
    level: f64,
    step_ms: i64,
    points: Vec<(i64, f64, f64, f64)>,
    limit: Option<&'a Limit>,
    crossing: Option<&'a doppel_predict::saturation::Crossing>,
}

/// Runs `doppel forecast`.
pub fn forecast_cmd(
    store_path: &Path,
    name: &str,
    horizon: &str,
    level: f64,
    svg: Option<&Path>,
    out: &Output,
) -> Result<()> {
    let horizon_ms = (duration("horizon", horizon)? * 1000.0) as i64;
    if !(level > 0.0 && level < 1.0) {
        return Err(exit::usage(format!("--level: expected a share between 0 and 1 (0.9 for 90%), not {level}")));
    }
    let (store, twin) = read_twin(store_path, At::Head, out)?;
    let all = store.series()?;
    let info = find_series(&all, name)?;
    let entity: Key = info.entity.parse().map_err(|e| exit::invalid(format!("{}: {e}", info.entity)))?;
    let spinner = out.spinner("forecasting");
    let ahead = doppel_foresight::stored::forecast_series(&store, &twin, &entity, &info.attribute, horizon_ms, level)
        .map_err(|e| exit::invalid(format!("{name}: {e}")))?;
    let (past, f, limit, crossing) = (&ahead.past, &ahead.forecast, &ahead.limit, &ahead.crossing);
    spinner.finish_and_clear();
    let periods_hours: Vec<f64> = f.periods.iter().map(|&p| p as f64 * f.step_ms as f64 / HOUR_MS as f64).collect();
    if out.json {
        return out.print_json(&ForecastJson {
            series: name.to_string(),
            model: &f.model,
            periods_hours,
            level,
            step_ms: f.step_ms,
            points: ahead.points(),
            limit: limit.as_ref(),
            crossing: crossing.as_ref(),
        });
    }
    let unit = unit_of(&info.attribute);
    let chart = Chart {
        title: format!("{name}: {:.0}% forecast {horizon} ahead ({})", level * 100.0, f.model),
        history: ahead.shown.clone(),
        forecast: ahead.points(),
        limit: limit.as_ref().map(|l| (l.value, "limit".to_string())),
        unit: unit.to_string(),
    };
    if let Some(path) = svg {
        std::fs::write(path, chart.svg(900, 320))
            .map_err(|e| exit::invalid(format!("cannot write {}: {e}", path.display())))?;
    }
    anstream::print!("{}", chart.text(72, 14, true));
    let seasons: Vec<String> = periods_hours
        .iter()
        .map(|h| match *h {
            h if (h - 24.0).abs() < 0.01 => "daily".to_string(),
            h if (h - 168.0).abs() < 0.01 => "weekly".to_string(),
            h => format!("every {h:.1} h"),
        })
        .collect();
    out.line(&format!(
        "model {}; seasons: {}; {} values of history",
        f.model,
        if seasons.is_empty() { "none found".to_string() } else { seasons.join(", ") },
        past.observed()
    ));
    let last = f.len() - 1;
    out.line(&format!(
        "at {}: {} ({:.0}% interval {} to {})",
        crate::time::format_ms(f.time_of(last)),
        human(f.mean[last], unit),
        level * 100.0,
        human(f.lower[last], unit),
        human(f.upper[last], unit)
    ));
    if let (Some(l), Some(c)) = (limit, crossing) {
        anstream::println!(
            "{WARN}{} on {} reaches its limit ({}) {}{WARN:#}: {}",
            l.resource.noun(),
            l.entity,
            human(l.value, unit),
            crossing_words(c, past.end_ms(), level),
            l.resource.outcome()
        );
    } else if let Some(l) = limit {
        out.line(&format!(
            "{} stays under its limit ({}) for at least 30 days",
            l.resource.noun(),
            human(l.value, unit)
        ));
    }
    if let Some(path) = svg {
        out.success(&format!("chart written to {}", path.display()));
    }
    Ok(())
}

/// Every risk within `horizon_ms`, soonest first, with a progress bar; series that
/// could not be forecast are listed as hints.
pub fn risks(
    store: &SqliteStore,
    twin: &doppel_model::Twin,
    horizon_ms: i64,
    level: f64,
    out: &Output,
) -> Result<Vec<Risk>> {
    let bar = out.progress(0, "forecasting");
    let found = doppel_foresight::stored::risks(store, twin, horizon_ms, level, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .map_err(exit::invalid)?;
    bar.finish_and_clear();
    for p in &found.not_forecast {
        out.hint(&format!("not forecast: {p}"));
    }
    Ok(found.risks)
}

/// The root-cause answer for the window ending at `at_ms`.
pub fn explain_at(
    store: &SqliteStore,
    twin: &doppel_model::Twin,
    at_ms: i64,
    window_ms: i64,
) -> Result<doppel_foresight::rca::Explanation> {
    doppel_foresight::stored::explain_at(store, twin, at_ms, window_ms).map_err(exit::invalid)
}

/// The newest incident on an entry point's latency since `since_ms`: when it began.
pub fn latest_slowdown(store: &SqliteStore, twin: &doppel_model::Twin, since_ms: i64) -> Result<Option<i64>> {
    doppel_foresight::stored::latest_slowdown(store, twin, since_ms).map_err(exit::invalid)
}

/// Runs `doppel predict`.
pub fn predict(store_path: &Path, horizon: &str, level: f64, recalibrate: bool, out: &Output) -> Result<()> {
    let horizon_ms = (duration("horizon", horizon)? * 1000.0) as i64;
    if !(level > 0.0 && level < 1.0) {
        return Err(exit::usage(format!("--level: expected a share between 0 and 1 (0.9 for 90%), not {level}")));
    }
    let (store, twin) = read_twin(store_path, At::Head, out)?;
    if store.series()?.is_empty() {
        return Err(exit::not_found(
            "the store holds no series to predict from: `doppel observe --synthetic`, `doppel import prometheus` or `doppel sync` store some",
        ));
    }
    let risks = risks(&store, &twin, horizon_ms, level, out)?;
    let confirmed =
        risks.iter().any(|r| r.kind == "drift" && r.fix.as_deref().is_some_and(|f| f.starts_with("confirmed")));
    if recalibrate && confirmed && out.json {
        return Err(exit::usage(
            "--recalibrate prints calibration's own report: run it without --json, or run `doppel calibrate --window 2700 --apply --json` after `doppel predict --json`",
        ));
    }
    if out.json {
        return out.print_json(&serde_json::json!({"horizon_ms": horizon_ms, "level": level, "risks": risks}));
    }
    print_risks(&risks, horizon, out);
    if recalibrate && confirmed {
        drop(store);
        anstream::println!();
        out.line("Model drift is confirmed: recalibrating from the last 45 minutes.");
        super::calibrate::run(store_path, 2700.0, true, out)?;
    }
    Ok(())
}

/// The risks as a table, soonest first.
pub fn print_risks(risks: &[Risk], horizon: &str, out: &Output) {
    if risks.is_empty() {
        out.success(&format!("nothing is predicted to break within {horizon}"));
        return;
    }
    let mut table = out.table(&["when", "risk", "prevent it"]);
    for r in risks {
        table.add_row(vec![crate::time::format_ms(r.at_ms), r.what.clone(), r.fix.clone().unwrap_or_default()]);
    }
    out.print_table(&table);
    anstream::println!("{BOLD}{}{BOLD:#} risk(s) within {horizon}, soonest first.", risks.len());
}

/// Runs `doppel anomalies`.
pub fn anomalies(store_path: &Path, since: &str, entity: Option<&str>, out: &Output) -> Result<()> {
    use doppel_foresight::anomalies::THRESHOLD;
    let since_ms = (duration("since", since)? * 1000.0) as i64;
    let (store, twin) = read_twin(store_path, At::Head, out)?;
    let entity = entity.map(|e| super::existing_key(&twin, e)).transpose()?;
    let spinner = out.spinner("scoring every series");
    let found = incidents_since(&store, entity.as_ref(), since_ms).map_err(exit::invalid)?;
    spinner.finish_and_clear();
    if found.series == 0 {
        return Err(exit::not_found("no stored series to look at: `doppel observe` or `doppel sync` store some"));
    }
    let (series, newest, found) = (found.series, found.since_ms + since_ms, found.incidents);
    if out.json {
        return out
            .print_json(&serde_json::json!({"since_ms": newest - since_ms, "series": series, "incidents": found}));
    }
    if found.is_empty() {
        out.success(&format!("nothing anomalous in {} series over the last {since}", series));
        return Ok(());
    }
    let mut table = out.table(&["from", "to", "series", "what", "value", "expected", "score"]);
    for i in &found {
        let unit = unit_of(&i.attribute);
        table.add_row(vec![
            crate::time::format_ms(i.from_ms),
            crate::time::format_ms(i.to_ms),
            format!("{}.{}", i.entity, i.attribute),
            i.kind.to_string(),
            human(i.value, unit),
            human(i.expected, unit),
            format!("{:.3}", i.score),
        ]);
    }
    out.print_table(&table);
    anstream::println!(
        "{BOLD}{}{BOLD:#} incident(s) in {} series over the last {since}, newest first (score at least {THRESHOLD}).",
        found.len(),
        series
    );
    Ok(())
}

/// Runs `doppel rca`.
pub fn rca(store_path: &Path, at: Option<&str>, window: &str, out: &Output) -> Result<()> {
    let window_ms = (duration("window", window)? * 1000.0) as i64;
    let (store, twin) = read_twin(store_path, At::Head, out)?;
    let newest = store.series()?.iter().map(|s| s.last_ms).max();
    let Some(newest) = newest else {
        return Err(exit::not_found("no stored series to explain from: `doppel observe` or `doppel sync` store some"));
    };
    let at_ms = match at {
        Some(text) => match text.trim().parse::<i64>() {
            Ok(ms) => ms,
            Err(_) => crate::time::parse_time(text)?,
        },
        None => newest,
    };
    let spinner = out.spinner("ranking causes");
    let answer = explain_at(&store, &twin, at_ms, window_ms)?;
    spinner.finish_and_clear();
    if out.json {
        return out.print_json(&serde_json::json!({"at_ms": at_ms, "window_ms": window_ms, "answer": answer}));
    }
    print_explanation(&answer, at_ms, window, out);
    Ok(())
}

/// The symptoms and the ranked causes.
pub fn print_explanation(answer: &doppel_foresight::rca::Explanation, at_ms: i64, window: &str, out: &Output) {
    let when = crate::time::format_ms(at_ms);
    if answer.symptoms.is_empty() {
        out.success(&format!("no entry point is slow or anomalous in the {window} up to {when}"));
        return;
    }
    anstream::println!("Symptoms in the {window} up to {when}: {}", answer.symptoms.join(", "));
    let mut table = out.table(&["rank", "cause", "looks like", "score", "evidence", "path"]);
    for (i, c) in answer.causes.iter().enumerate() {
        let path: Vec<String> = c.path.iter().map(ToString::to_string).collect();
        table.add_row(vec![
            (i + 1).to_string(),
            c.entity.to_string(),
            c.fault.to_string(),
            format!("{:.2}", c.score),
            c.evidence.clone(),
            path.join(" -> "),
        ]);
    }
    out.print_table(&table);
    if let Some(top) = answer.causes.first() {
        anstream::println!("{WARN}Most likely: {BOLD}{}{BOLD:#}{WARN} ({}).{WARN:#}", top.entity, top.fault);
    }
}
