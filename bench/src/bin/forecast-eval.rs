//! Forecast accuracy on NAB series: for each CSV (`timestamp,value`, timestamps like
//! `2015-08-31 18:22:00`), the series on a regular grid (the step a divisor of a day at or
//! above the median sample interval), its detected periods and, where one of them is a
//! day, a rolling-origin backtest of one-day forecasts (3 folds) of the default seasonal
//! model against seasonal-naive. Prints a Markdown table and the aggregate.
//!
//! `cargo run --release -p doppel-bench --bin forecast-eval -- FILE.csv...`, or `-- --shop`
//! for the bundled estate's generated telemetry (four weeks at 5 minutes, seed 7: the
//! series `doppel demo` stores).

use doppel_predict::Series;
use doppel_predict::backtest::backtest;
use doppel_predict::forecast::Seasonal;
use doppel_predict::season::periods;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const FOLDS: usize = 3;

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("forecast-eval: give NAB CSV files");
        std::process::exit(2);
    }
    println!(
        "| series | step | periods (steps) | folds | MASE ours | MASE seasonal-naive | sMAPE ours % | sMAPE seasonal-naive % |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut scored: Vec<(f64, f64, f64, f64)> = Vec::new();
    let inputs: Vec<(String, Result<Series, String>)> = if paths == ["--shop"] {
        shop()
    } else {
        paths
            .iter()
            .map(|path| {
                let name = std::path::Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned());
                (name.unwrap_or_default(), read(path))
            })
            .collect()
    };
    for (name, series) in inputs {
        let series = match series {
            Ok(s) => s,
            Err(e) => {
                println!("| {name} | | error: {e} | | | | | |");
                continue;
            }
        };
        let found = periods(&series);
        let day = (DAY_MS / series.step_ms) as usize;
        let step = format!("{} min", series.step_ms / MINUTE_MS);
        if !found.contains(&day) {
            println!("| {name} | {step} | {found:?}: no daily cycle, skipped | | | | | |");
            continue;
        }
        match backtest(&Seasonal, &series, day, FOLDS) {
            Ok(a) => {
                println!(
                    "| {name} | {step} | {found:?} | {} | {:.3} | {:.3} | {:.2} | {:.2} |",
                    a.folds, a.mase, a.baseline_mase, a.smape, a.baseline_smape
                );
                scored.push((a.mase, a.baseline_mase, a.smape, a.baseline_smape));
            }
            Err(e) => println!("| {name} | {step} | {found:?} | error: {e} | | | | |"),
        }
    }
    if !scored.is_empty() {
        let n = scored.len() as f64;
        let mean = |f: fn(&(f64, f64, f64, f64)) -> f64| scored.iter().map(f).sum::<f64>() / n;
        let wins = scored.iter().filter(|s| s.0 < s.1).count();
        println!(
            "| **mean of {} series** | | | | {:.3} | {:.3} | {:.2} | {:.2} |",
            scored.len(),
            mean(|s| s.0),
            mean(|s| s.1),
            mean(|s| s.2),
            mean(|s| s.3)
        );
        println!("\nours better on MASE in {wins} of {} series", scored.len());
    }
}

/// The bundled estate's telemetry as `doppel demo` generates it, ending on 2026-11-23.
fn shop() -> Vec<(String, Result<Series, String>)> {
    use doppel_foresight::telemetry::{TelemetryConfig, generate};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop");
    let mut files: Vec<doppel_estate::SourceFile> = std::fs::read_dir(&dir)
        .expect("examples/shop")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| doppel_estate::SourceFile {
            path: p.display().to_string(),
            text: std::fs::read_to_string(&p).expect("an estate file"),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let estate = doppel_estate::parse(&files).expect("the bundled estate parses");
    let mut twin = doppel_model::Twin::new();
    let plan = estate.plan(&twin, false);
    twin.apply(&plan.changeset).expect("the bundled estate applies");
    let series = generate(&twin, &TelemetryConfig::shop(1_795_392_000_000)).expect("the shop's telemetry");
    series
        .into_iter()
        .map(|g| {
            (
                format!("{}.{}", g.entity, g.attribute),
                Series::from_samples(&g.samples, 5 * MINUTE_MS).map_err(|e| e.to_string()),
            )
        })
        .collect()
}

/// A NAB CSV as a series on a regular grid.
fn read(path: &str) -> Result<Series, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let (ts, value) = line.split_once(',').ok_or(format!("line {}: no comma", i + 1))?;
        let ms = parse_time(ts).ok_or(format!("line {}: bad timestamp {ts}", i + 1))?;
        let v: f64 = value.trim().parse().map_err(|e| format!("line {}: {e}", i + 1))?;
        samples.push((ms, v));
    }
    let mut times: Vec<i64> = samples.iter().map(|s| s.0).collect();
    times.sort_unstable();
    let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).filter(|&d| d > 0).collect();
    gaps.sort_unstable();
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(5 * MINUTE_MS);
    let step = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]
        .into_iter()
        .map(|m| m * MINUTE_MS)
        .find(|&s| s >= median)
        .unwrap_or(60 * MINUTE_MS);
    Series::from_samples(&samples, step).map_err(|e| e.to_string())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) as ms since the epoch.
fn parse_time(ts: &str) -> Option<i64> {
    let ts = ts.trim();
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days: i64 = (1970..year).map(|y| if leap(y) { 366 } else { 365 }).sum();
    let lengths = [31, if leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    days += lengths[..(month - 1) as usize].iter().sum::<i64>() + day - 1;
    Some(((days * 24 + hour) * 60 + minute) * MINUTE_MS + second * 1000)
}
