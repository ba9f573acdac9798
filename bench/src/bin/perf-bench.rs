//! The simulator's benchmark: the open Jackson network of `bench/jackson10.json` (the same
//! model SimPy and ciw run in `bench/peers/`), simulated for `arrivals / total rate` seconds
//! in one replication on this thread. Prints one JSON line: events handled (arrivals from
//! outside and service completions), CPU seconds of the simulation alone (from
//! `/proc/thread-self/schedstat`), events per CPU-second and the mean response time.
//!
//! `cargo run --release -p doppel-bench --bin perf-bench -- [MODEL.json] [--arrivals N] [--runs R]`
//! With `--runs R` it simulates R times (seeds differ) and reports the fastest and the median,
//! and every run's rate in run order (`rates`).

use doppel_bench::thread_cpu_s;
use doppel_perf::Network;
use doppel_perf::sim::{SimConfig, run_once};
use serde_json::{Value, json};

fn main() {
    if let Err(err) = real_main() {
        eprintln!("perf-bench: {err}");
        std::process::exit(2);
    }
}

fn real_main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut path, mut arrivals, mut runs) = ("bench/jackson10.json".to_string(), None, 1usize);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--arrivals" => arrivals = Some(value("--arrivals")?.parse::<f64>().map_err(|e| e.to_string())?),
            "--runs" => runs = value("--runs")?.parse().map_err(|e: std::num::ParseIntError| e.to_string())?,
            other if !other.starts_with('-') => path = other.to_string(),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let model: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let (net, rate) = jackson(&model).ok_or(format!("{path}: not a Jackson network model"))?;
    let arrivals = arrivals.unwrap_or(model["arrivals"].as_f64().unwrap_or(1e6));
    let seed = model["seed"].as_u64().unwrap_or(42);
    let mut samples = Vec::new();
    for r in 0..runs.max(1) {
        let config = SimConfig {
            seed: seed + r as u64,
            horizon_s: arrivals / rate,
            warmup_s: 0.0,
            replications: 1,
            ..SimConfig::default()
        };
        let before = thread_cpu_s().ok_or("no /proc/thread-self/schedstat")?;
        let (events, mean_ms) = run_once(&net, &config, 0).map_err(|e| e.to_string())?;
        let cpu = thread_cpu_s().ok_or("no /proc/thread-self/schedstat")? - before;
        samples.push((events as f64 / cpu, events, cpu, mean_ms));
    }
    let rates: Vec<f64> = samples.iter().map(|s| s.0).collect();
    samples.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (best, events, cpu, mean_ms) = samples[0];
    let median = samples[samples.len() / 2].0;
    let line = json!({
        "tool": "doppel",
        "version": env!("CARGO_PKG_VERSION"),
        "events": events,
        "cpu_s": cpu,
        "events_per_cpu_s": best,
        "median_events_per_cpu_s": median,
        "runs": samples.len(),
        "rates": rates,
        "mean_response_s": mean_ms / 1000.0,
        "arrivals": arrivals,
        "sim_time_s": arrivals / rate,
    });
    println!("{line}");
    Ok(())
}

/// The model of `bench/jackson10.json` in milliseconds, and its total outside rate per second.
fn jackson(model: &Value) -> Option<(Network, f64)> {
    let stations = model["stations"].as_array()?;
    let servers: Vec<u32> = stations.iter().map(|s| s["servers"].as_u64().map(|c| c as u32)).collect::<Option<_>>()?;
    let mean_ms: Vec<f64> =
        stations.iter().map(|s| s["service_mean"].as_f64().map(|m| m * 1000.0)).collect::<Option<_>>()?;
    let external: Vec<f64> = model["external_rate"].as_array()?.iter().map(Value::as_f64).collect::<Option<_>>()?;
    let routing: Vec<Vec<f64>> = model["routing"]
        .as_array()?
        .iter()
        .map(|row| row.as_array().and_then(|r| r.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>()))
        .collect::<Option<_>>()?;
    let rate = external.iter().sum();
    Some((Network::jackson(&servers, &mean_ms, &external, &routing), rate))
}
