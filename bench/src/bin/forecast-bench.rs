//! The forecasting benchmark: 10,000 generated series of four weeks at 5 minutes (daily and
//! weekly seasons, a trend, noise; seeded), each forecast 7 days ahead with the default
//! model (`doppel_predict::forecast::forecast`: hourly means, MSTL + AutoETS), in parallel
//! with rayon. Prints one JSON line: series, wall and CPU seconds (the process', from
//! `/proc/self/stat`), series per second, and the models used.
//!
//! `cargo run --release -p doppel-bench --bin forecast-bench -- [--series N] [--seed S] [--threads T]`

use std::collections::BTreeMap;
use std::time::Instant;

use doppel_predict::Series;
use doppel_predict::forecast::forecast;
use rayon::prelude::*;
use serde_json::json;

const FIVE_MIN: i64 = 300_000;
const POINTS: usize = 28 * 288;

fn main() {
    if let Err(err) = real_main() {
        eprintln!("forecast-bench: {err}");
        std::process::exit(2);
    }
}

fn real_main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut series, mut seed, mut threads) = (10_000usize, 1u64, 2usize);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let parsed: u64 = value.parse().map_err(|e| format!("{arg}: {e}"))?;
        match arg.as_str() {
            "--series" => series = parsed as usize,
            "--seed" => seed = parsed,
            "--threads" => threads = parsed as usize,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| e.to_string())?;
    let histories: Vec<Series> =
        (0..series).map(|i| generate(seed.wrapping_mul(1_000_003).wrapping_add(i as u64))).collect();
    let cpu0 = process_cpu_s();
    let start = Instant::now();
    let models: Vec<Result<String, String>> = pool.install(|| {
        histories
            .par_iter()
            .map(|h| {
                let f = forecast(h, 7 * 86_400_000, 0.9).map_err(|e| e.to_string())?;
                if f.mean.iter().chain(&f.lower).chain(&f.upper).any(|v| !v.is_finite()) {
                    return Err("a value that is not finite".to_string());
                }
                Ok(f.model)
            })
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = process_cpu_s().zip(cpu0).map(|(b, a)| b - a);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for m in models {
        *counts.entry(m.unwrap_or_else(|e| format!("error: {e}"))).or_default() += 1;
    }
    println!(
        "{}",
        json!({
            "series": series,
            "points_each": POINTS,
            "horizon": "7 days (168 hourly values)",
            "threads": threads,
            "wall_s": (wall * 1000.0).round() / 1000.0,
            "cpu_s": cpu.map(|c| (c * 100.0).round() / 100.0),
            "series_per_s": (series as f64 / wall).round(),
            "models": counts,
        })
    );
    Ok(())
}

/// One series: a level, daily and weekly shapes, growth and Gaussian noise, from `seed`.
fn generate(seed: u64) -> Series {
    let mut rng = SplitMix::new(seed);
    let level = 10.0 + 1000.0 * rng.uniform();
    let daily = 0.2 + 0.5 * rng.uniform();
    let weekend = 0.5 + 0.4 * rng.uniform();
    let growth = 0.1 * rng.uniform() / (7.0 * 288.0);
    let noise = 0.02 + 0.1 * rng.uniform();
    let phase = rng.uniform() * std::f64::consts::TAU;
    let values = (0..POINTS)
        .map(|i| {
            let t = i as f64;
            let day = t / 288.0;
            let weekly = if (day as usize) % 7 >= 5 { weekend } else { 1.0 };
            let shape = 1.0 + daily * (std::f64::consts::TAU * day + phase).sin();
            level * (1.0 + growth * t) * weekly * shape * (1.0 + noise * rng.normal())
        })
        .collect();
    Series::new(1_700_000_000_000 / FIVE_MIN * FIVE_MIN, FIVE_MIN, values).expect("generated values are finite")
}

/// rand_xoshiro's SplitMix64: a small seeded generator, enough for test data.
struct SplitMix(rand_xoshiro::SplitMix64);

impl SplitMix {
    fn new(seed: u64) -> SplitMix {
        use rand::SeedableRng;
        SplitMix(rand_xoshiro::SplitMix64::seed_from_u64(seed))
    }

    fn next(&mut self) -> u64 {
        rand::Rng::next_u64(&mut self.0)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// CPU seconds (user + system) of this process, all threads, from `/proc/self/stat` (at
/// 100 ticks a second, Linux's usual USER_HZ).
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
