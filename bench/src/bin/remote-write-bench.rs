//! The remote-write ingest benchmark: snappy-compressed protobuf `WriteRequest`s shaped like
//! Prometheus's (seven labels a series, one sample a series by default, half the series of
//! metrics no binding names) decoded and bound onto entities by
//! `doppel_sources::prometheus::remote_write::Receiver::ingest`, on this thread. Encoding
//! happens before the clock starts. The baseline, timed in alternate rounds, decodes the same
//! bodies into prost-generated messages (`remote_write::decode`) and binds those. Prints one
//! JSON line: samples in, samples bound, CPU seconds (from `/proc/thread-self/schedstat`),
//! samples per CPU-second, the baseline's, and the ratio.
//!
//! `cargo run --release -p doppel-bench --bin remote-write-bench -- [--series N] [--per-series K] [--requests R] [--rounds M]`

use doppel_bench::thread_cpu_s;
use doppel_model::Key;
use doppel_sources::prometheus::remote_write::{
    Label, Limits, Receiver, Sample, TimeSeries, WriteRequest, decode, encode,
};
use doppel_sources::prometheus::{Bindings, Targets};
use serde_json::json;

const BINDINGS: &str = r#"
prometheus:
  bindings:
    - series: request_rate_rps
      entity: "service/{{service}}"
      endpoint: "{{endpoint}}"
      metric: "service_endpoint:requests:rate1m"
    - series: latency_p99_ms
      entity: "service/{{service}}"
      endpoint: "{{endpoint}}"
      metric: "service_endpoint:latency_seconds:p99"
      scale: 1000
    - series: utilisation
      entity: "service/{{service}}"
      metric: "service:cpu:utilisation"
"#;

const SERVICES: usize = 500;

fn main() {
    if let Err(err) = real_main() {
        eprintln!("remote-write-bench: {err}");
        std::process::exit(2);
    }
}

fn real_main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut per_request, mut per_series, mut requests, mut rounds) = (2_000usize, 1usize, 50usize, 20usize);
    while let Some(arg) = args.next() {
        let value: usize =
            args.next().ok_or(format!("{arg} needs a value"))?.parse().map_err(|e| format!("{arg}: {e}"))?;
        match arg.as_str() {
            "--series" => per_request = value,
            "--per-series" => per_series = value,
            "--requests" => requests = value,
            "--rounds" => rounds = value,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    let bindings = Bindings::parse("bench.yaml", BINDINGS, "prometheus").map_err(|e| e.to_string())?;
    let keys = (0..SERVICES).map(|i| format!("service/svc-{i}").parse::<Key>().map_err(|e| e.to_string()));
    let targets = Targets::keys(keys.collect::<Result<Vec<_>, _>>()?);
    let receiver = Receiver::new(&bindings, targets, Limits { max_body_bytes: 64 << 20, max_decoded_bytes: 256 << 20 });
    let metrics = [
        "service_endpoint:requests:rate1m",
        "service_endpoint:latency_seconds:p99",
        "service:cpu:utilisation",
        "go_gc_duration_seconds",
        "process_resident_memory_bytes",
        "http_server_requests_seconds_bucket",
    ];
    let mut bodies = Vec::with_capacity(requests);
    for r in 0..requests {
        let timeseries = (0..per_request)
            .map(|i| {
                let n = r * per_request + i;
                let service = format!("svc-{}", n % (SERVICES + 20));
                TimeSeries {
                    labels: vec![
                        Label::new("__name__", metrics[n % metrics.len()]),
                        Label::new("endpoint", &format!("GET /api/v{}", n % 7)),
                        Label::new("instance", &format!("10.0.{}.{}:8080", n % 200, n % 250)),
                        Label::new("job", "kubernetes-pods"),
                        Label::new("namespace", "shop"),
                        Label::new("pod", &format!("{service}-7d9f8c6b5-{:05}", n % 99_991)),
                        Label::new("service", &service),
                    ],
                    samples: (0..per_series)
                        .map(|k| Sample {
                            value: (n + k) as f64 * 0.5,
                            timestamp: 1_795_168_800_000 + (r * 15_000 + k * 1_000) as i64,
                        })
                        .collect(),
                }
            })
            .collect();
        bodies.push(encode(&WriteRequest { timeseries }));
    }
    let body_bytes: usize = bodies.iter().map(Vec::len).sum();
    // Rounds alternate between the receiver's own path and the baseline (prost-decoded
    // messages, then the same binding), so both meet the machine's load over the same time.
    let (mut samples_in, mut bound, mut cpu_s, mut baseline_cpu_s) = (0usize, 0usize, 0.0, 0.0);
    let mut baseline_bound = 0usize;
    for _ in 0..rounds {
        let before = thread_cpu_s().ok_or("no /proc/thread-self/schedstat")?;
        for body in &bodies {
            let got = receiver.ingest(body).map_err(|e| e.to_string())?;
            samples_in += got.samples_in;
            bound += got.samples.len();
        }
        let middle = thread_cpu_s().ok_or("no /proc/thread-self/schedstat")?;
        for body in &bodies {
            let request = decode(body, receiver.limits()).map_err(|e| e.to_string())?;
            baseline_bound += receiver.bind(&request).samples.len();
        }
        let after = thread_cpu_s().ok_or("no /proc/thread-self/schedstat")?;
        cpu_s += middle - before;
        baseline_cpu_s += after - middle;
    }
    if baseline_bound != bound {
        return Err(format!("the baseline bound {baseline_bound} samples, the receiver {bound}"));
    }
    println!(
        "{}",
        json!({
            "series_per_request": per_request,
            "samples_per_series": per_series,
            "requests": requests * rounds,
            "mean_body_bytes": body_bytes / requests.max(1),
            "samples_in": samples_in,
            "samples_bound": bound,
            "cpu_s": cpu_s,
            "samples_per_cpu_s": samples_in as f64 / cpu_s,
            "bound_per_cpu_s": bound as f64 / cpu_s,
            "prost_samples_per_cpu_s": samples_in as f64 / baseline_cpu_s,
            "vs_prost": baseline_cpu_s / cpu_s,
        })
    );
    Ok(())
}
