//! Prediction over what the store holds: series read onto their grid, every risk
//! ahead (limits crossed, the first SLO breach with its checked fix, model drift),
//! anomalies since a time and the root cause of a window. The CLI and the server share it.

use crate::limits::{Limit, limits};
use crate::slo;
use crate::units::{human, unit_of};
use doppel_model::Key;
use doppel_predict::forecast::forecast;
use doppel_predict::saturation::{Crossing, time_to_limit};
use doppel_predict::{PredictError, Series};
use doppel_store::Store;
use serde::Serialize;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

fn stored(e: doppel_store::Error) -> String {
    format!("the store: {e}")
}

/// Every risk ahead, and the series that could not be forecast (with why).
#[derive(Debug, Clone, Serialize)]
pub struct Risks {
    /// Soonest first.
    pub risks: Vec<Risk>,
    /// `ENTITY.ATTRIBUTE: why` for each series left out.
    pub not_forecast: Vec<String>,
}

/// Incidents in every series (or one entity's) since a time.
#[derive(Debug, Clone, Serialize)]
pub struct Incidents {
    /// The start of the look, ms since the epoch.
    pub since_ms: i64,
    /// Series looked at.
    pub series: usize,
    /// Newest first.
    pub incidents: Vec<crate::anomalies::Incident>,
}

/// Incidents of the last `since_ms` milliseconds before the newest sample.
pub fn incidents_since(store: &impl Store, entity: Option<&Key>, since_ms: i64) -> Result<Incidents, String> {
    use crate::anomalies::{THRESHOLD, incidents};
    let series = all_series(store, entity)?;
    let newest = series.iter().filter_map(|s| s.2.last().map(|p| p.0)).max().unwrap_or(0);
    let mut found = Vec::new();
    for (key, attribute, samples) in &series {
        found.extend(incidents(key, attribute, samples, step_of(samples), newest - since_ms, THRESHOLD));
    }
    found.sort_by(|a, b| b.from_ms.cmp(&a.from_ms).then(b.score.total_cmp(&a.score)));
    Ok(Incidents { since_ms: newest - since_ms, series: series.len(), incidents: found })
}

/// The series' samples on their own grid: the median gap between samples, at least a
/// second.
pub fn history(store: &impl Store, entity: &Key, attribute: &str) -> Result<Series, PredictError> {
    let samples = store
        .samples(entity, attribute, i64::MIN, i64::MAX)
        .map_err(|e| PredictError::Invalid(format!("cannot read {entity}.{attribute}: {e}")))?;
    Series::from_samples(&samples, step_of(&samples))
}

/// One series' forecast with what a chart of it shows: the recent history on the
/// forecast's step, the entity's limit and when the series reaches it.
#[derive(Debug, Clone)]
pub struct Ahead {
    /// The series as stored, on its own grid.
    pub past: Series,
    /// The forecast from the end of `past`.
    pub forecast: doppel_predict::forecast::Forecast,
    /// The recent history worth showing beside it (as long as the horizon twice over, a
    /// day to four weeks), on the forecast's step: (ms, value).
    pub shown: Vec<(i64, f64)>,
    /// The limit the twin sets on this series, if any.
    pub limit: Option<Limit>,
    /// When the series reaches the limit, looking at least 30 days ahead (none when the
    /// history is too short for a trend).
    pub crossing: Option<Crossing>,
}

impl Ahead {
    /// The forecast as (ms, mean, lower, upper) points.
    pub fn points(&self) -> Vec<(i64, f64, f64, f64)> {
        let f = &self.forecast;
        (0..f.len()).map(|i| (f.time_of(i), f.mean[i], f.lower[i], f.upper[i])).collect()
    }
}

/// Forecasts `entity.attribute` `horizon_ms` ahead at `level`, with its limit in `twin`.
pub fn forecast_series(
    store: &impl Store,
    twin: &doppel_model::Twin,
    entity: &Key,
    attribute: &str,
    horizon_ms: i64,
    level: f64,
) -> Result<Ahead, PredictError> {
    let past = history(store, entity, attribute)?;
    let forecast = forecast(&past, horizon_ms, level)?;
    let limit = limits(twin).into_iter().find(|l| l.entity == *entity && l.attribute == attribute);
    let crossing = match &limit {
        // Too short a history for a trend still has its forecast, without a crossing.
        Some(l) => match time_to_limit(&past, l.value, horizon_ms.max(30 * DAY_MS), level) {
            Err(PredictError::NotEnoughData { .. }) => None,
            found => found?,
        },
        None => None,
    };
    let shown_from = past.end_ms() - (2 * horizon_ms).clamp(DAY_MS, 28 * DAY_MS);
    let on_step = past.resample(forecast.step_ms).unwrap_or_else(|_| past.clone());
    let shown = (0..on_step.len())
        .map(|i| (on_step.time_of(i), on_step.values[i]))
        .filter(|p| p.0 >= shown_from && p.1.is_finite())
        .collect();
    Ok(Ahead { past, forecast, shown, limit, crossing })
}

/// The highest value of a series' last hour (none if no value there is a number): what
/// is compared with a limit to tell that it is reached already.
pub fn last_hour_peak(h: &Series) -> Option<f64> {
    let recent = h.values.iter().rev().take((HOUR_MS / h.step_ms.max(1)).max(1) as usize);
    recent.filter(|v| v.is_finite()).copied().reduce(f64::max)
}

/// A time ahead, as people say it: `in 6.2 days`, `in 5 hours`.
pub fn ahead(from_ms: i64, at_ms: i64) -> String {
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
pub fn crossing_words(c: &Crossing, now_ms: i64, level: f64) -> String {
    let days = |ms: i64| (ms - now_ms) as f64 / DAY_MS as f64;
    let latest = c.latest_ms.map_or("later".to_string(), |l| format!("{:.1}", days(l)));
    format!(
        "{} ({:.0}% interval {:.1} to {latest} days)",
        ahead(now_ms, c.at_ms),
        level * 100.0,
        days(c.earliest_ms).max(0.0)
    )
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
    /// The fix as data, for an SLO breach: replicas, price, the ChangeSet and whether it
    /// was checked on a fork.
    pub remedy: Option<slo::Fix>,
}

/// Every risk within `horizon_ms`: limits the forecasts cross and the first SLO breach at
/// the forecast load, soonest first.
pub fn risks(
    store: &impl Store,
    twin: &doppel_model::Twin,
    horizon_ms: i64,
    level: f64,
    progress: &dyn Fn(u64, u64),
) -> Result<Risks, String> {
    let all = store.series().map_err(stored)?;
    let have =
        |entity: &Key, attribute: &str| all.iter().any(|s| s.entity == entity.to_string() && s.attribute == attribute);
    let bounded: Vec<Limit> = limits(twin).into_iter().filter(|l| have(&l.entity, l.attribute)).collect();
    let entries = slo::entries(twin);
    let total = (bounded.len() + entries.len()) as u64;
    let mut done = 0;
    let mut risks = Vec::new();
    let mut problems = Vec::new();
    for l in &bounded {
        done += 1;
        progress(done, total);
        let past = history(store, &l.entity, l.attribute);
        // Already at or over its limit (the last hour's peak): a risk now, not a crossing.
        if let Ok(h) = &past
            && let Some(peak) = last_hour_peak(h)
            && peak >= l.value
        {
            let unit = unit_of(l.attribute);
            risks.push(Risk {
                at_ms: h.end_ms(),
                interval_ms: None,
                kind: "saturation",
                subject: format!("{}.{}", l.entity, l.attribute),
                what: format!(
                    "{} on {} is at its limit ({}) already, at {} in the last hour: {}",
                    l.resource.noun(),
                    l.entity,
                    human(l.value, unit),
                    human(peak, unit),
                    l.resource.outcome()
                ),
                fix: None,
                remedy: None,
            });
            continue;
        }
        let crossing = past.and_then(|h| time_to_limit(&h, l.value, horizon_ms, level).map(|c| (h, c)));
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
                    remedy: None,
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
        done += 1;
        progress(done, total);
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
    let len = rates.iter().flatten().map(Vec::len).min().unwrap_or(0);
    for r in rates.iter_mut().flatten() {
        r.truncate(len);
    }
    if let Some(b) = slo::first_breach_ahead(twin, &rates)? {
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
            subject: b.subject.clone(),
            what: format!("{} at the forecast load ({:.2}x today's peak)", b.what, b.load_vs_peak),
            fix,
            remedy: b.fix.clone(),
        });
    }
    // Model drift now: the last 15 minutes against the model at their load, confirmed when
    // the two windows before diverged the same way.
    if let Some(newest) = all.iter().map(|s| s.last_ms).max() {
        let quarter = 15 * 60_000;
        let series = by_name(store)?;
        let drifted = |end: i64| -> Result<Vec<doppel_predict::drift::Divergence>, String> {
            let mean = window_mean(&series, end - quarter, end);
            let quiet = |_: &Key, _: &str| None;
            crate::rca::drift(twin, &crate::rca::Window { mean: &mean, anomaly: &quiet })
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
                remedy: None,
            });
        }
    }
    risks.sort_by_key(|r| r.at_ms);
    Ok(Risks { risks, not_forecast: problems })
}

/// A stored series: its entity, attribute and samples.
pub type Stored = (Key, String, Vec<(i64, f64)>);

/// Every stored series with its samples, those of `entity` only when given.
pub fn all_series(store: &impl Store, entity: Option<&Key>) -> Result<Vec<Stored>, String> {
    let mut out = Vec::new();
    for info in store.series().map_err(stored)? {
        let Ok(key) = info.entity.parse::<Key>() else { continue };
        if entity.is_some_and(|e| *e != key) {
            continue;
        }
        let samples = store.samples(&key, &info.attribute, i64::MIN, i64::MAX).map_err(stored)?;
        out.push((key, info.attribute, samples));
    }
    Ok(out)
}

/// The median gap between samples, at least a second.
pub fn step_of(samples: &[(i64, f64)]) -> i64 {
    let mut gaps: Vec<i64> = samples.windows(2).map(|w| w[1].0 - w[0].0).filter(|&g| g > 0).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied().unwrap_or(60_000).max(1000)
}

/// Stored series by (entity, attribute).
pub type ByName = std::collections::HashMap<(String, String), Vec<(i64, f64)>>;

/// Every stored series by (entity, attribute).
pub fn by_name(store: &impl Store) -> Result<ByName, String> {
    Ok(all_series(store, None)?.into_iter().map(|(k, a, s)| ((k.to_string(), a), s)).collect())
}

/// A series' mean over `[from, to]`, where it has samples there.
pub fn window_mean(series: &ByName, from: i64, to: i64) -> impl Fn(&Key, &str) -> Option<f64> + '_ {
    move |k: &Key, a: &str| {
        let s = series.get(&(k.to_string(), a.to_string()))?;
        let inside: Vec<f64> = s.iter().filter(|p| (from..=to).contains(&p.0)).map(|p| p.1).collect();
        (!inside.is_empty()).then(|| inside.iter().sum::<f64>() / inside.len() as f64)
    }
}

/// The root-cause answer for the window ending at `at_ms`.
pub fn explain_at(
    store: &impl Store,
    twin: &doppel_model::Twin,
    at_ms: i64,
    window_ms: i64,
) -> Result<crate::rca::Explanation, String> {
    use crate::anomalies::peak_score;
    let series = by_name(store)?;
    let from = at_ms - window_ms;
    let get = |k: &Key, a: &str| series.get(&(k.to_string(), a.to_string()));
    let mean = window_mean(&series, from, at_ms);
    let anomaly = |k: &Key, a: &str| get(k, a).map(|s| peak_score(s, step_of(s), from, at_ms));
    let window = crate::rca::Window { mean: &mean, anomaly: &anomaly };
    crate::rca::explain(twin, &window)
}

/// The newest incident on an entry point's latency since `since_ms`: when it began.
pub fn latest_slowdown(store: &impl Store, twin: &doppel_model::Twin, since_ms: i64) -> Result<Option<i64>, String> {
    use crate::anomalies::{THRESHOLD, incidents};
    let mut newest = None;
    for entry in slo::entries(twin) {
        let attribute = doppel_resilience::behaviour::series::of(
            doppel_resilience::behaviour::series::LATENCY_MEAN,
            &entry.endpoint,
        );
        let samples = store.samples(&entry.entity, &attribute, i64::MIN, i64::MAX).map_err(stored)?;
        for i in incidents(&entry.entity, &attribute, &samples, step_of(&samples), since_ms, THRESHOLD) {
            newest = newest.max(Some(i.from_ms));
        }
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_store::{Sample, SqliteStore};

    const GIB: f64 = (1u64 << 30) as f64;

    /// A store of the shop holding `samples` of the orders database's used disk.
    fn store_with(dir: &std::path::Path, samples: &[(i64, f64)]) -> (SqliteStore, doppel_model::Twin) {
        let shop = doppel_testkit::shop::shop();
        let mut store = SqliteStore::open(dir.join("twin.db")).unwrap();
        let (_, twin) =
            store.commit(doppel_model::Twin::new(), &doppel_model::diff(&doppel_model::Twin::new(), &shop)).unwrap();
        let entity: Key = "datastore/orders-db".parse().unwrap();
        let samples: Vec<Sample> = samples
            .iter()
            .map(|&(ts_ms, value)| Sample { entity: entity.clone(), attribute: "disk_used_bytes".into(), ts_ms, value })
            .collect();
        store.append_samples(&samples).unwrap();
        (store, twin)
    }

    #[test]
    fn a_growing_disk_has_its_forecast_limit_and_crossing() {
        let dir = tempfile::tempdir().unwrap();
        // Ten days hourly, 300 GiB growing 10 GiB a day: the 500 GiB disk fills ten days on.
        let samples: Vec<(i64, f64)> =
            (0..240).map(|h| (h * HOUR_MS, 300.0 * GIB + 10.0 * GIB * h as f64 / 24.0)).collect();
        let (store, twin) = store_with(dir.path(), &samples);
        let key: Key = "datastore/orders-db".parse().unwrap();
        let ahead = forecast_series(&store, &twin, &key, "disk_used_bytes", 2 * DAY_MS, 0.9).unwrap();
        assert_eq!(ahead.forecast.step_ms, HOUR_MS);
        assert_eq!(ahead.points().len(), ahead.forecast.len());
        // History shown: twice the horizon back, on the forecast's step; the crossing is looked
        // for 30 days ahead whatever the horizon.
        assert_eq!(ahead.shown.first().unwrap().0, ahead.past.end_ms() - 4 * DAY_MS);
        assert_eq!(ahead.limit.as_ref().map(|l| l.value), Some(500.0 * GIB));
        let at_days = (ahead.crossing.expect("it fills").at_ms - 239 * HOUR_MS) as f64 / DAY_MS as f64;
        assert!((at_days - 10.0).abs() < 0.5, "{at_days} days");
    }

    #[test]
    fn a_history_too_gappy_for_a_trend_still_has_its_forecast() {
        let dir = tempfile::tempdir().unwrap();
        // Twenty hours, five days of nothing, twenty hours: too few whole days for a trend.
        let samples: Vec<(i64, f64)> =
            (0..20).chain(125..145).map(|h| (h * HOUR_MS, 400.0 * GIB + GIB * (h % 7) as f64)).collect();
        let (store, twin) = store_with(dir.path(), &samples);
        let key: Key = "datastore/orders-db".parse().unwrap();
        let ahead = forecast_series(&store, &twin, &key, "disk_used_bytes", DAY_MS, 0.9).unwrap();
        assert!(ahead.limit.is_some() && ahead.crossing.is_none());
        assert!(!ahead.points().is_empty());
    }
}
