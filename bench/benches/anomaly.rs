//! The per-sample cost of streaming anomaly scoring: `doppel_predict::Detector` over a
//! long seeded series (5-minute steps, a daily season, noise, a few spikes and a level
//! shift), against a peer baseline in the same run: a plain EWMA z-score scorer (mean
//! and variance EWMAs, no season, no robust scale, no shifts).
//!
//! `cargo bench -p doppel-bench --bench anomaly`
//!
//! divan reports the time per 100,000 samples; divide by 100,000 for the cost per sample.

use doppel_predict::{Detector, DetectorConfig};

fn main() {
    divan::main();
}

const N: usize = 100_000;
const STEP: i64 = 300_000;

/// The seeded series: a daily sine, uniform noise from a xorshift, spikes every 5,000
/// samples and a shift of the level at the middle.
fn series() -> Vec<(i64, f64)> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..N)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let day = (i as f64 * std::f64::consts::TAU / 288.0).sin();
            let spike = if i % 5000 == 4999 { 25.0 } else { 0.0 };
            let shift = if i > N / 2 { 10.0 } else { 0.0 };
            (i as i64 * STEP, 100.0 + 20.0 * day + 3.0 * noise + spike + shift)
        })
        .collect()
}

/// The peer: z-score against EWMAs of the mean and the variance.
struct EwmaZ {
    mean: f64,
    var: f64,
    n: u64,
}

impl EwmaZ {
    fn push(&mut self, x: f64) -> f64 {
        let alpha = 0.02f64.max(1.0 / (self.n as f64 + 1.0));
        let d = x - self.mean;
        let z = if self.var > 0.0 { d.abs() / self.var.sqrt() } else { 0.0 };
        self.mean += alpha * d;
        self.var = (1.0 - alpha) * (self.var + alpha * d * d);
        self.n += 1;
        let u = (z / 5.0).powi(4);
        u / (1.0 + u)
    }
}

#[divan::bench(sample_count = 30)]
fn detector(bencher: divan::Bencher) {
    let data = series();
    bencher.bench_local(|| {
        let mut d = Detector::new(STEP, DetectorConfig::default());
        let mut sum = 0.0;
        for &(t, v) in divan::black_box(&data) {
            sum += d.push(t, v).score;
        }
        sum
    });
}

#[divan::bench(sample_count = 30)]
fn ewma_zscore_peer(bencher: divan::Bencher) {
    let data = series();
    bencher.bench_local(|| {
        let mut d = EwmaZ { mean: 0.0, var: 0.0, n: 0 };
        let mut sum = 0.0;
        for &(_, v) in divan::black_box(&data) {
            sum += d.push(v);
        }
        sum
    });
}
