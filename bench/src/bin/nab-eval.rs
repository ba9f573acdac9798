//! Runs `doppel_predict::Detector` over the Numenta Anomaly Benchmark corpus as streams
//! and scores it with `doppel_predict::nab` (standard, reward_low_FP and reward_low_FN
//! profiles): the normalised score, the threshold and the raw score per category.
//!
//! `cargo run --release -p doppel-bench --bin nab-eval -- [CORPUS_DIR] [key=value ...]`
//!
//! The corpus dir holds `data/<category>/<file>.csv` (`timestamp,value`) and
//! `labels/combined_windows.json`; by default `/work/shared/data/nab`. `key=value` pairs
//! override `DetectorConfig` fields (`alarm_z=4`), for tuning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use doppel_predict::nab::{CorpusFile, Profile, corpus_score};
use doppel_predict::{Detector, DetectorConfig};

/// Milliseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC).
fn parse_ts(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':').map(|p| p.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next().unwrap_or(Ok(0)).ok()?);
    let ms = if frac.is_empty() { 0 } else { format!("{frac:0<3}")[..3].parse::<i64>().ok()? };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms)
}

fn read_csv(path: &Path) -> Result<(Vec<i64>, Vec<f64>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (t, v) = line.split_once(',').ok_or_else(|| format!("{}:{}: no comma", path.display(), n + 1))?;
        ts.push(parse_ts(t).ok_or_else(|| format!("{}:{}: bad timestamp {t}", path.display(), n + 1))?);
        vs.push(v.trim().parse::<f64>().unwrap_or(f64::NAN));
    }
    Ok((ts, vs))
}

fn configure(args: &[String]) -> Result<DetectorConfig, String> {
    let mut c = DetectorConfig::default();
    for a in args {
        let (k, v) = a.split_once('=').ok_or_else(|| format!("not key=value: {a}"))?;
        let f: f64 = v.parse().map_err(|_| format!("not a number: {a}"))?;
        match k {
            "period" => c.period = Some(f as usize),
            "warmup" => c.warmup = f as usize,
            "level_alpha" => c.level_alpha = f,
            "season_alpha" => c.season_alpha = f,
            "season_level_alpha" => c.season_level_alpha = f,
            "scale_alpha" => c.scale_alpha = f,
            "scale_clip" => c.scale_clip = f,
            "alarm_z" => c.alarm_z = f,
            "cusum_k" => c.cusum_k = f,
            "cusum_h" => c.cusum_h = f,
            "cusum_cap" => c.cusum_cap = f,
            "change_ratio" => c.change_ratio = f,
            "holdoff" => c.holdoff = f as usize,
            _ => return Err(format!("unknown setting {k}")),
        }
    }
    Ok(c)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, settings) = match args.first() {
        Some(a) if !a.contains('=') => (PathBuf::from(a), &args[1..]),
        _ => (PathBuf::from("/work/shared/data/nab"), &args[..]),
    };
    let config = configure(settings)?;
    let labels_path = dir.join("labels/combined_windows.json");
    let labels: BTreeMap<String, Vec<Vec<String>>> = serde_json::from_str(
        &std::fs::read_to_string(&labels_path).map_err(|e| format!("{}: {e}", labels_path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", labels_path.display()))?;

    struct Run {
        name: String,
        ts: Vec<i64>,
        scores: Vec<f64>,
        windows: Vec<(i64, i64)>,
    }
    let mut runs = Vec::new();
    let (mut samples, mut spent) = (0usize, std::time::Duration::ZERO);
    for (name, windows) in &labels {
        let path = dir.join("data").join(name);
        if !path.exists() {
            continue;
        }
        let (ts, vs) = read_csv(&path)?;
        let windows = windows
            .iter()
            .map(|w| match (w.first().and_then(|s| parse_ts(s)), w.get(1).and_then(|s| parse_ts(s))) {
                (Some(a), Some(b)) => Ok((a, b)),
                _ => Err(format!("{name}: bad window {w:?}")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0).collect();
        gaps.sort_unstable();
        let step_ms = gaps.get(gaps.len() / 2).copied().unwrap_or(60_000);
        let mut detector = Detector::new(step_ms, config.clone());
        let start = Instant::now();
        let scores: Vec<f64> = ts.iter().zip(&vs).map(|(&t, &v)| detector.push(t, v).score).collect();
        spent += start.elapsed();
        samples += ts.len();
        runs.push(Run { name: name.clone(), ts, scores, windows });
    }
    if runs.is_empty() {
        return Err(format!("no labelled data files under {}", dir.display()));
    }
    let files: Vec<CorpusFile> = runs
        .iter()
        .map(|r| CorpusFile { name: &r.name, timestamps: &r.ts, scores: &r.scores, windows: &r.windows })
        .collect();
    let windows: usize = runs.iter().map(|r| r.windows.len()).sum();
    println!(
        "NAB corpus {}: {} files, {} windows, {} samples; detector {:.0} ns/sample",
        dir.display(),
        files.len(),
        windows,
        samples,
        spent.as_nanos() as f64 / samples as f64
    );
    println!("config: {config:?}");
    for (profile_name, profile) in [
        ("standard", Profile::STANDARD),
        ("reward_low_FP_rate", Profile::REWARD_LOW_FP),
        ("reward_low_FN_rate", Profile::REWARD_LOW_FN),
    ] {
        let c = corpus_score(&files, &profile);
        println!(
            "\n{profile_name}: score {:.2} (raw {:.3}, null {:.3}, perfect {:.3}), threshold {:.6}",
            c.normalized, c.raw, c.null, c.perfect, c.threshold
        );
        let mut by_cat: BTreeMap<&str, (f64, usize, usize, usize, usize)> = BTreeMap::new();
        for (f, s) in files.iter().zip(&c.files) {
            let cat = f.name.split('/').next().unwrap_or("");
            let e = by_cat.entry(cat).or_default();
            e.0 += s.score;
            e.1 += s.windows_found;
            e.2 += s.windows;
            e.3 += s.fp;
            e.4 += 1;
            if std::env::var_os("NAB_FILES").is_some() {
                println!(
                    "  {:<55} raw {:>8.3}  windows {}/{}  fp {}",
                    f.name, s.score, s.windows_found, s.windows, s.fp
                );
            }
        }
        println!("  {:<24} {:>5} {:>9} {:>13} {:>6}", "category", "files", "raw", "windows found", "FP");
        for (cat, (raw, found, total, fp, n)) in by_cat {
            println!("  {cat:<24} {n:>5} {raw:>9.3} {:>13} {fp:>6}", format!("{found}/{total}"));
        }
    }
    Ok(())
}
