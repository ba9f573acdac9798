//! Time to a limit: when a series is expected to reach a value (a full disk, the last
//! connection), with an interval.
//!
//! Limits are usually days or weeks away, further than the seasonal forecast looks and
//! further than its damped trends hold, so this has its own model: a straight line through
//! the means of whole days (whole hours when the history spans under three days, whole
//! steps under three hours) over the last [`TREND_BLOCKS`] of them, with the series' daily
//! profile (its mean shape around the line, when [`crate::season::periods`] finds that
//! cycle) added back. The interval is the line's prediction interval (Student's t on the
//! block means' scatter around it), which widens with distance. The horizon is examined at
//! the series' step, or coarser when that would exceed [`MAX_EXAMINED`] points.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::forecast::check;
use crate::line::Line;
use crate::series::MAX_ABS;
use crate::{PredictError, Series, season};

/// Blocks (days, hours or steps) the trend line is fitted to, at most: the latest ones.
pub const TREND_BLOCKS: usize = 28;

/// Points of the horizon examined at most.
pub const MAX_EXAMINED: usize = 200_000;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// When a series reaches a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Crossing {
    /// When the expected value first reaches the limit, ms since the epoch.
    pub at_ms: i64,
    /// When the pessimistic end of the interval first reaches it.
    pub earliest_ms: i64,
    /// When the optimistic end first reaches it; `None` if it does not within what was
    /// examined.
    pub latest_ms: Option<i64>,
}

/// When `history` is expected to reach `limit` within `within_ms` after its end, with an
/// interval at `level` (0.9 for 90%); `None` if the expected value does not reach it. The
/// limit is approached from the side the series is on now: a ceiling when above the
/// current level, a floor when below.
pub fn time_to_limit(
    history: &Series,
    limit: f64,
    within_ms: i64,
    level: f64,
) -> Result<Option<Crossing>, PredictError> {
    check(history)?;
    if !limit.is_finite() || limit.abs() > MAX_ABS {
        return Err(PredictError::Invalid(format!("the limit must be a number within {MAX_ABS:e} of 0, not {limit}")));
    }
    if within_ms <= 0 {
        return Err(PredictError::Invalid(format!("the time to look ahead must be above 0 ms, not {within_ms}")));
    }
    if level.is_nan() || level <= 0.0 || level >= 1.0 {
        return Err(PredictError::Invalid(format!(
            "the interval level must be between 0 and 1 (0.9 for 90%), not {level}"
        )));
    }
    let step = history.step_ms;
    let span = i128::from(step) * history.len() as i128;
    let block_ms = [DAY_MS, HOUR_MS].into_iter().find(|&b| b % step == 0 && span >= 3 * i128::from(b)).unwrap_or(step);
    let k = (block_ms / step) as usize;

    // Block means of whole blocks counted back from the end; blocks less than half
    // observed are left out.
    let n = history.len();
    let mut points: Vec<(f64, f64)> = Vec::new();
    for j in 0..(n / k).min(TREND_BLOCKS) {
        let (a, b) = (n - (j + 1) * k, n - j * k);
        let observed: Vec<f64> = history.values[a..b].iter().copied().filter(|v| !v.is_nan()).collect();
        if 2 * observed.len() >= k && !observed.is_empty() {
            let mean = observed.iter().map(|v| v / observed.len() as f64).sum::<f64>();
            // Time in steps from the end, the block's middle.
            let t = (a + b) as f64 / 2.0 - 0.5 - n as f64;
            points.push((t, mean));
        }
    }
    if points.len() < 3 {
        return Err(PredictError::not_enough("time to a limit (whole blocks of a day, hour or step)", 3, points.len()));
    }

    // A trend that changed (a leak since a deploy) is followed from where it changed.
    points.truncate(latest_regime(&points));
    let blocks = points.len();

    // The line, centred and scaled so that huge values stay finite.
    let m = points.len() as f64;
    let center = points.iter().map(|p| p.1 / m).sum::<f64>();
    let scale = points
        .iter()
        .map(|p| (p.1 - center).abs())
        .fold(0.0, f64::max)
        .max(center.abs() * 1e-12)
        .max(f64::MIN_POSITIVE);
    let scaled: Vec<(f64, f64)> = points.iter().map(|&(t, v)| (t, (v - center) / scale)).collect();
    let fit = Line::fit(&scaled);
    let line = |t: f64| fit.at(t);
    let s = (fit.sse / (m - 2.0)).sqrt();
    let quantile = StudentsT::new(0.0, 1.0, m - 2.0).map(|d| d.inverse_cdf(0.5 + level / 2.0)).unwrap_or(0.0);
    let half_width =
        |t: f64| quantile * s * (1.0 + 1.0 / m + (t - fit.t_mean).powi(2) / fit.sxx.max(f64::MIN_POSITIVE)).sqrt();

    // The daily profile around the line, by phase of the block (when the cycle is there).
    let profile = if k > 1 && season::periods(history).contains(&k) {
        let mut sums = vec![0.0; k];
        let mut counts = vec![0usize; k];
        let first = n - (n / k).min(blocks) * k;
        for i in first..n {
            let v = history.values[i];
            if !v.is_nan() {
                let t = i as f64 - n as f64;
                sums[(i - first) % k] += (v - center) / scale - line(t);
                counts[(i - first) % k] += 1;
            }
        }
        sums.iter().zip(&counts).map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 }).collect()
    } else {
        vec![0.0; k]
    };
    let target = (limit - center) / scale;
    // The profile's phase 0 is the first step after the history.
    let now = line(0.0) + profile[0];
    let ceiling = target >= now;
    let reached = |v: f64| if ceiling { v >= target } else { v <= target };

    let horizon_steps = (within_ms - 1) / step + 1;
    let stride = (horizon_steps / MAX_EXAMINED as i64 + 1).max(1);
    let (mut at, mut earliest, mut latest) = (None, None, None);
    let mut i: i64 = 0;
    while i < horizon_steps {
        let t = i as f64;
        let mean = line(t) + profile[(i as usize) % k];
        let w = half_width(t);
        let (pessimistic, optimistic) = if ceiling { (mean + w, mean - w) } else { (mean - w, mean + w) };
        let when = history.end_ms().saturating_add(step.saturating_mul(i));
        if earliest.is_none() && reached(pessimistic) {
            earliest = Some(when);
        }
        if at.is_none() && reached(mean) {
            at = Some(when);
        }
        if latest.is_none() && reached(optimistic) {
            latest = Some(when);
            break;
        }
        i += stride;
    }
    Ok(at.map(|at_ms| Crossing {
        at_ms,
        earliest_ms: earliest.unwrap_or(at_ms).min(at_ms),
        latest_ms: latest.map(|l| l.max(at_ms)),
    }))
}

/// How many of the latest block means (`points`, newest first) belong to the current
/// trend: all of them, unless two lines split at some block fit far better than one (an F
/// statistic above 20 on 2 and m - 4 degrees of freedom), then those after the best split.
/// At least 4 blocks stay.
fn latest_regime(points: &[(f64, f64)]) -> usize {
    let m = points.len();
    if m < 8 {
        return m;
    }
    // Centred and scaled, so the sums of squares stay finite for huge values.
    let center = points.iter().map(|p| p.1 / m as f64).sum::<f64>();
    let scale = points.iter().map(|p| (p.1 - center).abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let scaled: Vec<(f64, f64)> = points.iter().map(|&(t, v)| (t, (v - center) / scale)).collect();
    let one = Line::fit(&scaled).sse;
    let best = (4..=m - 3)
        .map(|r| (r, Line::fit(&scaled[..r]).sse + Line::fit(&scaled[r..]).sse))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match best {
        Some((r, two)) if two > 0.0 && (one - two) / 2.0 / (two / (m - 4) as f64) > 20.0 => r,
        Some((r, two)) if two <= 0.0 && one > 0.0 => r,
        _ => m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::season::tests::Noise;
    use proptest::prelude::*;

    const FIVE_MIN: i64 = 300_000;
    const DAY: f64 = 86_400_000.0;

    /// A disk at `now` GB growing `per_day` GB a day, with a daily wiggle and noise, over
    /// `days` days at 5 minutes.
    fn disk(now: f64, per_day: f64, wiggle: f64, noise: f64, days: usize, seed: u64) -> Series {
        let mut rng = Noise::new(seed);
        let n = days * 288;
        let values = (0..n)
            .map(|i| {
                let age_days = (i as f64 - n as f64) / 288.0;
                now + per_day * age_days + wiggle * (std::f64::consts::TAU * age_days).sin() + noise * rng.next()
            })
            .collect();
        Series::new(1_700_006_400_000, FIVE_MIN, values).unwrap()
    }

    #[test]
    fn a_slow_leak_with_a_daily_wiggle_is_full_in_about_ten_days() {
        let s = disk(490.0, 1.0, 0.4, 0.2, 28, 1);
        let c = time_to_limit(&s, 500.0, 60 * 86_400_000, 0.9).unwrap().expect("it fills");
        let days = (c.at_ms - s.end_ms()) as f64 / DAY;
        assert!((days - 10.0).abs() <= 1.0, "full in {days} days");
        let latest = c.latest_ms.expect("the interval closes within 60 days");
        assert!(c.earliest_ms <= c.at_ms && c.at_ms <= latest, "{c:?}");
        assert!(latest > c.earliest_ms, "{c:?}");
    }

    #[test]
    fn a_leak_that_began_six_days_ago_is_followed_from_its_start() {
        // Flat at 40% for 22 days, then 7 points a day since a deploy six days ago.
        let n = 28 * 288;
        let mut rng = Noise::new(5);
        let values = (0..n)
            .map(|i| {
                let since = (i as f64 - (n - 6 * 288) as f64) / 288.0;
                40.0 + 7.0 * since.max(0.0) + 0.5 * rng.next()
            })
            .collect();
        let s = Series::new(1_700_006_400_000, FIVE_MIN, values).unwrap();
        // At 82 now, the 100 limit is 18 / 7 = 2.6 days away; one line over the month would
        // say about twice that.
        let c = time_to_limit(&s, 100.0, 30 * 86_400_000, 0.9).unwrap().expect("it fills");
        let days = (c.at_ms - s.end_ms()) as f64 / DAY;
        assert!((days - 2.6).abs() < 0.4, "full in {days} days");
        // A steady trend keeps all its blocks.
        let steady: Vec<(f64, f64)> = (0..28).map(|i| (-(i as f64), 100.0 - i as f64 + 0.1 * (i % 3) as f64)).collect();
        assert_eq!(latest_regime(&steady), 28);
    }

    #[test]
    fn noisier_growth_gives_a_wider_interval() {
        let calm = disk(490.0, 1.0, 0.4, 0.2, 28, 2);
        let rough = disk(490.0, 1.0, 0.4, 30.0, 28, 2);
        let width = |s: &Series| {
            let c = time_to_limit(s, 500.0, 60 * 86_400_000, 0.9).unwrap().unwrap();
            c.latest_ms.unwrap_or(s.end_ms() + 60 * 86_400_000) - c.earliest_ms
        };
        assert!(width(&rough) > width(&calm));
    }

    #[test]
    fn a_falling_series_reaches_a_floor_and_a_flat_one_never_does() {
        let s = disk(100.0, -5.0, 0.0, 0.5, 10, 3);
        let c = time_to_limit(&s, 50.0, 30 * 86_400_000, 0.9).unwrap().unwrap();
        let days = (c.at_ms - s.end_ms()) as f64 / DAY;
        assert!((days - 10.0).abs() <= 1.0, "{days}");
        let flat = disk(100.0, 0.0, 2.0, 0.5, 10, 4);
        assert_eq!(time_to_limit(&flat, 150.0, 30 * 86_400_000, 0.9).unwrap(), None);
        assert_eq!(time_to_limit(&s, 50.0, 86_400_000, 0.9).unwrap(), None, "not within a day");
    }

    #[test]
    fn short_history_uses_hours_and_too_little_says_so() {
        let values: Vec<f64> = (0..12 * 60).map(|i| 10.0 + i as f64 / 60.0).collect();
        let s = Series::new(0, 60_000, values).unwrap();
        let c = time_to_limit(&s, 34.0, 86_400_000, 0.9).unwrap().unwrap();
        let hours = (c.at_ms - s.end_ms()) as f64 / 3_600_000.0;
        assert!((hours - 12.0).abs() < 0.1, "{hours}");
        let s = Series::new(0, 60_000, vec![1.0, 2.0]).unwrap();
        assert!(matches!(time_to_limit(&s, 5.0, 1_000_000, 0.9), Err(PredictError::NotEnoughData { .. })));
        assert!(matches!(time_to_limit(&s, f64::NAN, 1_000_000, 0.9), Err(PredictError::Invalid(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn any_series_gives_a_crossing_nothing_or_a_reason(
            values in proptest::collection::vec(prop_oneof![
                3 => -1e6..1e6f64, 1 => Just(f64::NAN), 1 => -MAX_ABS..MAX_ABS, 1 => Just(7.0),
            ], 0..300),
            step in prop_oneof![Just(60_000i64), Just(300_000), 1i64..10_000],
            limit in prop_oneof![-MAX_ABS..MAX_ABS, -1e6..1e6f64],
            within in 1i64..100_000_000_000,
        ) {
            let s = Series::new(1_000, step, values).unwrap();
            match time_to_limit(&s, limit, within, 0.9) {
                Ok(Some(c)) => {
                    prop_assert!(c.earliest_ms <= c.at_ms && c.at_ms >= s.end_ms());
                    prop_assert!(c.latest_ms.is_none_or(|l| l >= c.at_ms));
                }
                Ok(None) | Err(PredictError::NotEnoughData { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
