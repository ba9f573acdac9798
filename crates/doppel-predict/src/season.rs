//! Seasonal period detection: which cycles (a day, a week, others if strong) a series has.
//!
//! Each candidate period is judged by its seasonal strength: the share of variance, after
//! a centred moving average of one period has taken the trend away, that the mean profile
//! of each phase explains, adjusted for the parameters the profile spends (so noise scores
//! about 0 however few cycles there are). The strongest candidate above the threshold is
//! taken, its profile removed, and the rest judged again on what is left, so a week is
//! found only where it adds something to a day.

use crate::Series;

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// Seasonal strength a day or a week needs to count.
const CALENDAR_STRENGTH: f64 = 0.2;
/// Seasonal strength any other period needs to count.
const OTHER_STRENGTH: f64 = 0.4;
/// Autocorrelation a lag needs to be tried as another period.
const OTHER_ACF: f64 = 0.5;
/// Shortest period looked at, in steps.
const MIN_PERIOD: usize = 4;
/// Other periods tried at most.
const MAX_OTHERS: usize = 3;
/// Longest series scanned for other periods (longer ones are scanned in their last part).
const MAX_SCAN: usize = 4_096;

/// The periods of `series`, in its steps, strongest first: a day and a week when the step
/// divides them, and other periods if strong; each needs three cycles of data. Gaps are
/// filled first; an empty, constant or non-finite series has none.
pub fn periods(series: &Series) -> Vec<usize> {
    if series.step_ms <= 0 || series.values.iter().any(|v| v.is_infinite()) || series.observed() < 2 * MIN_PERIOD {
        return Vec::new();
    }
    let mut x = series.filled(None).values;
    let n = x.len();
    let center = x.iter().sum::<f64>() / n as f64;
    let scale = x.iter().map(|v| (v - center).abs()).fold(0.0, f64::max);
    if scale.is_nan() || scale <= 0.0 || !scale.is_finite() {
        return Vec::new();
    }
    for v in &mut x {
        *v = (*v - center) / scale;
    }

    let mut candidates: Vec<(usize, f64)> = Vec::new();
    for span in [DAY_MS, WEEK_MS] {
        if span % series.step_ms == 0 {
            let p = (span / series.step_ms) as usize;
            if p >= MIN_PERIOD && 3 * p <= n {
                candidates.push((p, CALENDAR_STRENGTH));
            }
        }
    }
    for p in acf_peaks(&x) {
        let near = candidates.iter().any(|&(c, _)| p.abs_diff(c) * 20 <= c);
        if !near {
            candidates.push((p, OTHER_STRENGTH));
        }
    }

    let mut found = Vec::new();
    while !candidates.is_empty() {
        // A period judged on what its significant divisors leave: a week always explains
        // the day inside it, so it counts only for what it adds.
        let judged: Vec<(usize, Vec<f64>, f64)> = candidates
            .iter()
            .enumerate()
            .map(|(i, &(p, need))| {
                let mut y = x.clone();
                for &(d, need_d) in &candidates {
                    if d < p && p % d == 0 && strength(&x, d) > need_d {
                        let profile = profile(&y, d);
                        subtract(&mut y, &profile);
                    }
                }
                let margin = strength(&y, p) - need;
                (i, y, margin)
            })
            .collect();
        let Some((i, y, margin)) = judged.into_iter().max_by(|a, b| a.2.total_cmp(&b.2)) else { break };
        if margin.is_nan() || margin <= 0.0 {
            break;
        }
        let (p, _) = candidates.swap_remove(i);
        let profile = profile(&y, p);
        subtract(&mut x, &profile);
        found.push(p);
        // A multiple or divisor of a found period close to it in length adds nothing new.
        candidates.retain(|&(c, _)| !((c % p == 0 && c / p < 2) || (p % c == 0 && p / c < 2)));
    }
    found
}

/// Lags where the autocorrelation of `x` (linearly detrended) has a strong local peak,
/// strongest first, at most [`MAX_OTHERS`].
fn acf_peaks(x: &[f64]) -> Vec<usize> {
    let x = &x[x.len().saturating_sub(MAX_SCAN)..];
    let n = x.len();
    let max_lag = n / 3;
    if max_lag <= MIN_PERIOD + 1 {
        return Vec::new();
    }
    let y = detrend_linear(x);
    let var: f64 = y.iter().map(|v| v * v).sum();
    if var.is_nan() || var <= 0.0 {
        return Vec::new();
    }
    let acf: Vec<f64> =
        (0..=max_lag + 1).map(|k| y[..n - k].iter().zip(&y[k..]).map(|(a, b)| a * b).sum::<f64>() / var).collect();
    let mut peaks: Vec<(usize, f64)> = (MIN_PERIOD..=max_lag)
        .filter(|&k| acf[k] >= OTHER_ACF && acf[k] >= acf[k - 1] && acf[k] > acf[k + 1])
        .map(|k| (k, acf[k]))
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    peaks.truncate(MAX_OTHERS);
    peaks.into_iter().map(|(k, _)| k).collect()
}

fn detrend_linear(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let tm = (n - 1.0) / 2.0;
    let ym = x.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let t = i as f64 - tm;
        sxy += t * (v - ym);
        sxx += t * t;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    x.iter().enumerate().map(|(i, v)| v - ym - slope * (i as f64 - tm)).collect()
}

/// Centred moving average of `period` values (2 x `period` for an even one), defined from
/// `period / 2` to `len - period / 2`; `None` outside.
fn moving_average(x: &[f64], period: usize) -> Vec<Option<f64>> {
    let n = x.len();
    let half = period / 2;
    let mut out = vec![None; n];
    if n < period + 1 {
        return out;
    }
    let mut prefix = vec![0.0; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + x[i];
    }
    let window = |a: usize, b: usize| (prefix[b] - prefix[a]) / (b - a) as f64;
    for (i, slot) in out.iter_mut().enumerate().take(n - half).skip(half) {
        *slot = Some(if period % 2 == 1 {
            window(i - half, i + half + 1)
        } else if i + half < n {
            (window(i - half, i + half) + window(i - half + 1, i + half + 1)) / 2.0
        } else {
            continue;
        });
    }
    out
}

/// Seasonal strength of `period` in `x`: adjusted share of the detrended variance that the
/// mean profile per phase explains (1 a pure cycle, about 0 or below for noise).
fn strength(x: &[f64], period: usize) -> f64 {
    let ma = moving_average(x, period);
    let detrended: Vec<(usize, f64)> = ma.iter().enumerate().filter_map(|(i, m)| m.map(|m| (i, x[i] - m))).collect();
    let n = detrended.len();
    if n <= period + 1 {
        return f64::NEG_INFINITY;
    }
    let mut sums = vec![0.0; period];
    let mut counts = vec![0usize; period];
    for &(i, d) in &detrended {
        sums[i % period] += d;
        counts[i % period] += 1;
    }
    let mean = detrended.iter().map(|d| d.1).sum::<f64>() / n as f64;
    let total: f64 = detrended.iter().map(|d| (d.1 - mean).powi(2)).sum();
    if total.is_nan() || total <= 1e-24 {
        return f64::NEG_INFINITY;
    }
    let residual: f64 = detrended
        .iter()
        .map(|&(i, d)| {
            let phase = i % period;
            (d - sums[phase] / counts[phase].max(1) as f64).powi(2)
        })
        .sum();
    let r2 = 1.0 - residual / total;
    1.0 - (1.0 - r2) * (n - 1) as f64 / (n - period) as f64
}

/// The mean profile per phase of `period` in `x` around its moving average, centred on 0.
fn profile(x: &[f64], period: usize) -> Vec<f64> {
    let ma = moving_average(x, period);
    let mut sums = vec![0.0; period];
    let mut counts = vec![0usize; period];
    for (i, m) in ma.iter().enumerate() {
        if let Some(m) = m {
            sums[i % period] += x[i] - m;
            counts[i % period] += 1;
        }
    }
    let profile: Vec<f64> = sums.iter().zip(&counts).map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 }).collect();
    let level = profile.iter().sum::<f64>() / period as f64;
    profile.into_iter().map(|v| v - level).collect()
}

/// Takes a periodic `profile` out of `x`.
fn subtract(x: &mut [f64], profile: &[f64]) {
    for (i, v) in x.iter_mut().enumerate() {
        *v -= profile[i % profile.len()];
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIVE_MIN: i64 = 300_000;

    /// A small deterministic generator for noise (xorshift), uniform in -1..1.
    pub(crate) struct Noise(u64);
    impl Noise {
        pub(crate) fn new(seed: u64) -> Noise {
            Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub(crate) fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    fn synthetic(step_ms: i64, n: usize, daily: f64, weekly: f64, trend: f64, noise: f64, seed: u64) -> Series {
        let day = (DAY_MS / step_ms) as f64;
        let mut rng = Noise::new(seed);
        let tau = std::f64::consts::TAU;
        let values = (0..n)
            .map(|i| {
                let t = i as f64;
                let weekday = ((t / day) as usize) % 7;
                100.0
                    + trend * t
                    + daily * (tau * t / day).sin()
                    + weekly * if weekday >= 5 { -1.0 } else { 0.4 }
                    + noise * rng.next()
            })
            .collect();
        Series::new(0, step_ms, values).unwrap()
    }

    #[test]
    fn a_daily_cycle_is_found_through_noise_trend_and_gaps() {
        let mut s = synthetic(FIVE_MIN, 288 * 10, 10.0, 0.0, 0.01, 8.0, 1);
        for i in (0..s.len()).filter(|i| i % 37 < 6) {
            s.values[i] = f64::NAN;
        }
        assert_eq!(periods(&s), vec![288]);
    }

    #[test]
    fn daily_and_weekly_are_both_found_strongest_first() {
        let s = synthetic(3_600_000, 24 * 28, 10.0, 6.0, 0.02, 3.0, 2);
        assert_eq!(periods(&s), vec![24, 168]);
        let s = synthetic(3_600_000, 24 * 28, 3.0, 12.0, 0.0, 1.0, 3);
        assert_eq!(periods(&s), vec![168, 24]);
    }

    #[test]
    fn noise_and_trend_alone_have_no_period() {
        let s = synthetic(FIVE_MIN, 288 * 7, 0.0, 0.0, 0.05, 5.0, 4);
        assert_eq!(periods(&s), Vec::<usize>::new());
        let s = synthetic(3_600_000, 24 * 28, 0.0, 0.0, 0.0, 5.0, 5);
        assert_eq!(periods(&s), Vec::<usize>::new());
    }

    #[test]
    fn another_strong_period_is_found_when_the_step_has_no_calendar() {
        let mut rng = Noise::new(6);
        let values = (0..600).map(|i| (i % 13) as f64 + rng.next()).collect();
        let s = Series::new(0, 7_000, values).unwrap();
        assert_eq!(periods(&s), vec![13]);
    }

    #[test]
    fn a_week_needs_three_weeks_of_data() {
        let s = synthetic(3_600_000, 24 * 14, 10.0, 6.0, 0.0, 1.0, 7);
        assert_eq!(periods(&s), vec![24]);
    }

    #[test]
    fn degenerate_series_have_no_period() {
        assert!(periods(&Series::new(0, 1, vec![]).unwrap()).is_empty());
        assert!(periods(&Series::new(0, 1, vec![5.0; 1000]).unwrap()).is_empty());
        assert!(periods(&Series::new(0, 1, vec![f64::NAN; 1000]).unwrap()).is_empty());
        assert!(periods(&Series { start_ms: 0, step_ms: 0, values: vec![1.0; 10] }).is_empty());
    }

    proptest! {
        #[test]
        fn periods_are_within_the_data(values in proptest::collection::vec(
            prop_oneof![Just(f64::NAN), -crate::series::MAX_ABS..crate::series::MAX_ABS, 0.0..10.0], 0..400)) {
            let s = Series::new(0, 3_600_000, values).unwrap();
            for p in periods(&s) {
                prop_assert!(p >= MIN_PERIOD && 3 * p <= s.len());
            }
        }
    }
}
