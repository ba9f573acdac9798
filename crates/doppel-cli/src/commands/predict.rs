//! `doppel forecast` (one series ahead, with a chart) and `doppel predict` (every risk the
//! forecasts show, soonest first).

use super::{duration, read_twin};
use crate::chart::{Chart, human, unit_of};
use crate::exit;
use crate::output::{BOLD, Output, WARN};
use anyhow::Result;
use doppel_foresight::limits::{Limit, limits};
use doppel_foresight::slo;
use doppel_model::Key;
use doppel_predict::forecast::{Forecast, forecast};
use doppel_predict::saturation::{Crossing, time_to_limit};
use doppel_predict::{PredictError, Series};
use doppel_store::{At, SeriesInfo, SqliteStore, Store};
use serde::Serialize;
use std::path::Path;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

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

/// The series' samples on their own grid: the median gap between samples, at least a
/// second.
fn history(store: &SqliteStore, entity: &Key, attribute: &str) -> Result<Series, PredictError> {
    let samples = store
        .samples(entity, attribute, i64::MIN, i64::MAX)
        .map_err(|e| PredictError::Invalid(format!("cannot read {entity}.{attribute}: {e}")))?;
    Series::from_samples(&samples, step_of(&samples))
}

/// A time ahead, as people say it: `in 6.2 days`, `in 5 hours`.
fn ahead(from_ms: i64, at_ms: i64) -> String {
    let hours = (at_ms - from_ms) as f64 / HOUR_MS as f64;
    if hours < 0.0 {
        "already".into()
    } else if hours < 48.0 {
        format!("in {hours:.0} hours")
    } else {
        format!("in {:.1} days", hours / 24.0)
    }
}

/// The crossing of a limit, in words: `in 9.1 days (90% interval 7.8 to 10.9 days)`.
fn crossing_words(c: &Crossing, now_ms: i64, level: f64) -> String {
    let days = |ms: i64| (ms - now_ms) as f64 / DAY_MS as f64;
    let latest = c.latest_ms.map_or("later".to_string(), |l| format!("{:.1}", days(l)));
    format!(
        "{} ({:.0}% interval {:.1} to {latest} days)",
        ahead(now_ms, c.at_ms),
        level * 100.0,
        days(c.earliest_ms).max(0.0)
    )
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
    crossing: Option<serde_json::Value>,
}

fn points(f: &Forecast) -> Vec<(i64, f64, f64, f64)> {
    (0..f.len()).map(|i| (f.time_of(i), f.mean[i], f.lower[i], f.upper[i])).collect()
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
    let past = history(&store, &entity, &info.attribute).map_err(|e| exit::invalid(format!("{name}: {e}")))?;
    let f = forecast(&past, horizon_ms, level).map_err(|e| exit::invalid(format!("{name}: {e}")))?;
    let limit = limits(&twin).into_iter().find(|l| l.entity == entity && l.attribute == info.attribute);
    let crossing = match &limit {
        Some(l) => time_to_limit(&past, l.value, horizon_ms.max(30 * DAY_MS), level)
            .map_err(|e| exit::invalid(format!("{name}: {e}")))?,
        None => None,
    };
    spinner.finish_and_clear();
    let periods_hours: Vec<f64> = f.periods.iter().map(|&p| p as f64 * f.step_ms as f64 / HOUR_MS as f64).collect();
    if out.json {
        return out.print_json(&ForecastJson {
            series: name.to_string(),
            model: &f.model,
            periods_hours,
            level,
            step_ms: f.step_ms,
            points: points(&f),
            limit: limit.as_ref(),
            crossing: crossing
                .as_ref()
                .map(|c| serde_json::json!({"at_ms": c.at_ms, "earliest_ms": c.earliest_ms, "latest_ms": c.latest_ms})),
        });
    }
    let unit = unit_of(&info.attribute);
    // As much history as the horizon, twice over, at most four weeks: the recent shape.
    let shown_from = past.end_ms() - (2 * horizon_ms).clamp(DAY_MS, 28 * DAY_MS);
    let shown = past.resample(f.step_ms).unwrap_or_else(|_| past.clone());
    let chart = Chart {
        title: format!("{name}: {:.0}% forecast {horizon} ahead ({})", level * 100.0, f.model),
        history: (0..shown.len())
            .map(|i| (shown.time_of(i), shown.values[i]))
            .filter(|p| p.0 >= shown_from && p.1.is_finite())
            .collect(),
        forecast: points(&f),
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
    if let (Some(l), Some(c)) = (&limit, &crossing) {
        anstream::println!(
            "{WARN}{} on {} reaches its limit ({}) {}{WARN:#}: {}",
            l.resource.noun(),
            l.entity,
            human(l.value, unit),
            crossing_words(c, past.end_ms(), level),
            l.resource.outcome()
        );
    } else if let Some(l) = &limit {
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

/// One predicted risk.
#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    /// When it bites, ms since the epoch.
    pub at_ms: i64,
    /// Earliest and latest plausible times, where known.
    pub interval_ms: Option<(i64, Option<i64>)>,
    /// What it is: `saturation`, `slo`.
    pub kind: &'static str,
    /// What it concerns.
    pub subject: String,
    /// In words.
    pub what: String,
    /// What prevents it, where known.
    pub fix: Option<String>,
}

/// Every risk within `horizon_ms`: limits the forecasts cross and the first SLO breach at
/// the forecast load, soonest first.
pub fn risks(
    store: &SqliteStore,
    twin: &doppel_model::Twin,
    horizon_ms: i64,
    level: f64,
    out: &Output,
) -> Result<Vec<Risk>> {
    let all = store.series()?;
    let have =
        |entity: &Key, attribute: &str| all.iter().any(|s| s.entity == entity.to_string() && s.attribute == attribute);
    let bounded: Vec<Limit> = limits(twin).into_iter().filter(|l| have(&l.entity, l.attribute)).collect();
    let entries = slo::entries(twin);
    let bar = out.progress((bounded.len() + entries.len()) as u64, "forecasting");
    let mut risks = Vec::new();
    let mut problems = Vec::new();
    for l in &bounded {
        bar.inc(1);
        let crossing = history(store, &l.entity, l.attribute)
            .and_then(|h| time_to_limit(&h, l.value, horizon_ms, level).map(|c| (h, c)));
        match crossing {
            Ok((h, Some(c))) if c.at_ms <= h.end_ms() + horizon_ms => {
                let unit = unit_of(l.attribute);
                risks.push(Risk {
                    at_ms: c.at_ms,
                    interval_ms: Some((c.earliest_ms, c.latest_ms)),
                    kind: "saturation",
                    subject: format!("{}.{}", l.entity, l.attribute),
                    what: format!(
                        "{} on {} reaches its limit ({}) {}: {}",
                        l.resource.noun(),
                        l.entity,
                        human(l.value, unit),
                        crossing_words(&c, h.end_ms(), level),
                        l.resource.outcome()
                    ),
                    fix: None,
                });
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("{}.{}: {e}", l.entity, l.attribute)),
        }
    }
    // The entry points' load, hourly over the horizon.
    let mut rates = Vec::with_capacity(entries.len());
    let mut start = None;
    for e in &entries {
        bar.inc(1);
        if !have(&e.entity, &e.attribute) {
            rates.push(None);
            continue;
        }
        match history(store, &e.entity, &e.attribute).and_then(|h| {
            let hourly = h.resample(h.step_ms * ((HOUR_MS + h.step_ms - 1) / h.step_ms))?;
            forecast(&hourly, horizon_ms, level)
        }) {
            Ok(f) => {
                let first = *start.get_or_insert(f.start_ms);
                // Onto the first forecast's grid, by the nearest earlier value.
                let grid: Vec<(i64, f64)> = (0..f.len())
                    .map(|i| {
                        let t = first + i as i64 * f.step_ms;
                        let j = ((t - f.start_ms).div_euclid(f.step_ms)).clamp(0, f.len() as i64 - 1) as usize;
                        (t, f.mean[j])
                    })
                    .collect();
                rates.push(Some(grid));
            }
            Err(err) => {
                problems.push(format!("{}.{}: {err}", e.entity, e.attribute));
                rates.push(None);
            }
        }
    }
    bar.finish_and_clear();
    let len = rates.iter().flatten().map(Vec::len).min().unwrap_or(0);
    for r in rates.iter_mut().flatten() {
        r.truncate(len);
    }
    if let Some(b) = slo::first_breach_ahead(twin, &rates).map_err(exit::invalid)? {
        let fix = b.fix.as_ref().map(|f| {
            let what: Vec<String> =
                f.replicas.iter().map(|(k, now, need)| format!("{k} {now} -> {need} replicas")).collect();
            let cost = f.usd_per_hour.map_or(String::new(), |c| format!(" (+${c:.2} per hour)"));
            let checked = if f.checked { "checked on a fork: every objective holds" } else { "not enough on its own" };
            format!("{}{cost}; {checked}", what.join(", "))
        });
        risks.push(Risk {
            at_ms: b.at_ms,
            interval_ms: None,
            kind: "slo",
            subject: b.what.split(':').next().unwrap_or_default().to_string(),
            what: format!("{} at the forecast load ({:.2}x today's peak)", b.what, b.load_vs_peak),
            fix,
        });
    }
    // Model drift now: the last 15 minutes against the model at their load, confirmed when
    // the two windows before diverged the same way.
    if let Some(newest) = all.iter().map(|s| s.last_ms).max() {
        let quarter = 15 * 60_000;
        let series = by_name(store)?;
        let drifted = |end: i64| -> Result<Vec<doppel_predict::drift::Divergence>> {
            let mean = window_mean(&series, end - quarter, end);
            let quiet = |_: &Key, _: &str| None;
            doppel_foresight::rca::drift(twin, &doppel_foresight::rca::Window { mean: &mean, anomaly: &quiet })
                .map_err(exit::invalid)
        };
        let now = drifted(newest)?;
        let before = [drifted(newest - quarter)?, drifted(newest - 2 * quarter)?];
        for d in now {
            let same = |list: &[doppel_predict::drift::Divergence]| {
                list.iter()
                    .any(|b| b.subject == d.subject && b.metric == d.metric && (b.ratio > 0.0) == (d.ratio > 0.0))
            };
            let confirmed = before.iter().all(|b| same(b));
            let unit = if d.metric == doppel_predict::drift::Metric::Latency { " ms" } else { "" };
            risks.push(Risk {
                at_ms: newest,
                interval_ms: None,
                kind: "drift",
                subject: d.subject.clone(),
                what: d.message(unit),
                fix: Some(if confirmed {
                    "confirmed over 45 minutes: recalibrate (`doppel calibrate --window 2700 --apply`) or find what changed".into()
                } else {
                    "not yet confirmed (seen in the last 15 minutes only)".into()
                }),
            });
        }
    }
    for p in problems {
        out.hint(&format!("not forecast: {p}"));
    }
    risks.sort_by_key(|r| r.at_ms);
    Ok(risks)
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

/// A stored series: its entity, attribute and samples.
type Stored = (Key, String, Vec<(i64, f64)>);

/// Every stored series with its samples, those of `entity` only when given.
fn all_series(store: &SqliteStore, entity: Option<&Key>) -> Result<Vec<Stored>> {
    let mut out = Vec::new();
    for info in store.series()? {
        let Ok(key) = info.entity.parse::<Key>() else { continue };
        if entity.is_some_and(|e| *e != key) {
            continue;
        }
        let samples = store.samples(&key, &info.attribute, i64::MIN, i64::MAX)?;
        out.push((key, info.attribute, samples));
    }
    Ok(out)
}

/// The median gap between samples, at least a second.
fn step_of(samples: &[(i64, f64)]) -> i64 {
    let mut gaps: Vec<i64> = samples.windows(2).map(|w| w[1].0 - w[0].0).filter(|&g| g > 0).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied().unwrap_or(60_000).max(1000)
}

/// Runs `doppel anomalies`.
pub fn anomalies(store_path: &Path, since: &str, entity: Option<&str>, out: &Output) -> Result<()> {
    use doppel_foresight::anomalies::{THRESHOLD, incidents};
    let since_ms = (duration("since", since)? * 1000.0) as i64;
    let (store, twin) = read_twin(store_path, At::Head, out)?;
    let entity = entity.map(|e| super::existing_key(&twin, e)).transpose()?;
    let series = all_series(&store, entity.as_ref())?;
    if series.is_empty() {
        return Err(exit::not_found("no stored series to look at: `doppel observe` or `doppel sync` store some"));
    }
    let newest = series.iter().filter_map(|s| s.2.last().map(|p| p.0)).max().unwrap_or(0);
    let bar = out.progress(series.len() as u64, "scoring");
    let mut found = Vec::new();
    for (key, attribute, samples) in &series {
        bar.inc(1);
        found.extend(incidents(key, attribute, samples, step_of(samples), newest - since_ms, THRESHOLD));
    }
    bar.finish_and_clear();
    found.sort_by(|a, b| b.from_ms.cmp(&a.from_ms).then(b.score.total_cmp(&a.score)));
    if out.json {
        return out.print_json(
            &serde_json::json!({"since_ms": newest - since_ms, "series": series.len(), "incidents": found}),
        );
    }
    if found.is_empty() {
        out.success(&format!("nothing anomalous in {} series over the last {since}", series.len()));
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
        series.len()
    );
    Ok(())
}

/// Stored series by (entity, attribute).
type ByName = std::collections::HashMap<(String, String), Vec<(i64, f64)>>;

/// Every stored series by (entity, attribute).
fn by_name(store: &SqliteStore) -> Result<ByName> {
    Ok(all_series(store, None)?.into_iter().map(|(k, a, s)| ((k.to_string(), a), s)).collect())
}

/// A series' mean over `[from, to]`, where it has samples there.
fn window_mean(series: &ByName, from: i64, to: i64) -> impl Fn(&Key, &str) -> Option<f64> + '_ {
    move |k: &Key, a: &str| {
        let s = series.get(&(k.to_string(), a.to_string()))?;
        let inside: Vec<f64> = s.iter().filter(|p| (from..=to).contains(&p.0)).map(|p| p.1).collect();
        (!inside.is_empty()).then(|| inside.iter().sum::<f64>() / inside.len() as f64)
    }
}

/// The root-cause answer for the window ending at `at_ms`.
pub fn explain_at(
    store: &SqliteStore,
    twin: &doppel_model::Twin,
    at_ms: i64,
    window_ms: i64,
) -> Result<doppel_foresight::rca::Explanation> {
    use doppel_foresight::anomalies::peak_score;
    let series = by_name(store)?;
    let from = at_ms - window_ms;
    let get = |k: &Key, a: &str| series.get(&(k.to_string(), a.to_string()));
    let mean = window_mean(&series, from, at_ms);
    let anomaly = |k: &Key, a: &str| get(k, a).map(|s| peak_score(s, step_of(s), from, at_ms));
    let window = doppel_foresight::rca::Window { mean: &mean, anomaly: &anomaly };
    doppel_foresight::rca::explain(twin, &window).map_err(exit::invalid)
}

/// The newest incident on an entry point's latency since `since_ms`: when it began.
pub fn latest_slowdown(store: &SqliteStore, twin: &doppel_model::Twin, since_ms: i64) -> Result<Option<i64>> {
    use doppel_foresight::anomalies::{THRESHOLD, incidents};
    let mut newest = None;
    for entry in slo::entries(twin) {
        let attribute = doppel_resilience::behaviour::series::of(
            doppel_resilience::behaviour::series::LATENCY_MEAN,
            &entry.endpoint,
        );
        let samples = store.samples(&entry.entity, &attribute, i64::MIN, i64::MAX)?;
        for i in incidents(&entry.entity, &attribute, &samples, step_of(&samples), since_ms, THRESHOLD) {
            newest = newest.max(Some(i.from_ms));
        }
    }
    Ok(newest)
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
