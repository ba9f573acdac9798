//! Streaming anomaly scores for one series: an online seasonal profile against a plain
//! level (whichever has predicted better so far), a robust scale, a robust z-score mapped
//! to 0..=1, CUSUM level shifts that re-base the baseline once confirmed, and change points
//! in the noise's scale. O(1) work per sample; memory is one season of steps.
//!
//! Nothing here divides by a zero scale or returns a NaN: non-finite input is a gap (not
//! learned from, scored 0), values beyond [`MAX_ABS`] are clamped to it.

use crate::series::MAX_ABS;

/// The most steps a season may have (a day at one second); longer ones are not modelled.
pub const MAX_PERIOD: usize = 86_400;

const DAY_MS: i64 = 86_400_000;
/// Mean absolute deviation to standard deviation for normal noise, sqrt(pi / 2).
const MAD_TO_SD: f64 = 1.253_314_137_315_500_3;
/// Z-scores are capped here so nothing downstream overflows.
const Z_CAP: f64 = 1e6;

/// How a [`Detector`] learns and scores.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// The season in steps; `None`: a day in steps when that is 2..=[`MAX_PERIOD`];
    /// `Some(0)` or `Some(1)`: no season. It is used only while it predicts better than
    /// the plain level.
    pub period: Option<usize>,
    /// Samples scored as [`AnomalyKind::Learning`] (score 0) before scoring starts.
    pub warmup: usize,
    /// The level's EWMA weight per sample.
    pub level_alpha: f64,
    /// The seasonal profile's weight per visit of its step.
    pub season_alpha: f64,
    /// The deseasonalised level's EWMA weight per sample (slow, so the level does not
    /// learn the season; confirmed level shifts re-base it at once).
    pub season_level_alpha: f64,
    /// The scale's (mean absolute deviation's) weight per sample.
    pub scale_alpha: f64,
    /// Residuals enter the scale winsorised at this many scales.
    pub scale_clip: f64,
    /// The z-score scored 0.5, from which a sample is a spike or a dip.
    pub alarm_z: f64,
    /// CUSUM slack, in scales.
    pub cusum_k: f64,
    /// CUSUM decision level, in scales (each sample adds at most `cusum_cap - cusum_k`).
    pub cusum_h: f64,
    /// A sample's z enters the CUSUM capped at this, so one spike is not a shift.
    pub cusum_cap: f64,
    /// The short-term scale over the long-term one that is a change point.
    pub change_ratio: f64,
    /// A gap longer than this many steps starts learning again.
    pub relearn_after: usize,
    /// Samples after an alarm (score 0.5 or more) whose scores are halved, so one event
    /// is one alarm rather than a run of them.
    pub holdoff: usize,
}

impl Default for DetectorConfig {
    fn default() -> DetectorConfig {
        DetectorConfig {
            period: None,
            warmup: 50,
            level_alpha: 0.05,
            season_alpha: 0.1,
            season_level_alpha: 0.01,
            scale_alpha: 0.01,
            scale_clip: 4.0,
            alarm_z: 5.0,
            cusum_k: 1.0,
            cusum_h: 12.0,
            cusum_cap: 5.0,
            change_ratio: 4.0,
            relearn_after: 10_000,
            holdoff: 0,
        }
    }
}

/// What a sample was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    /// Still learning (warm-up, or after a long gap): not scored.
    Learning,
    /// Within the band.
    Normal,
    /// Above the band.
    Spike,
    /// Below the band.
    Dip,
    /// A confirmed shift of the level; the baseline now follows it.
    LevelShift,
    /// The noise's scale changed; the scale now follows it.
    ChangePoint,
}

/// One sample's verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anomaly {
    /// How anomalous, 0..=1 (0.5 at the band's edge); never NaN.
    pub score: f64,
    /// What it was found to be.
    pub kind: AnomalyKind,
    /// The value expected here (before this sample was learned).
    pub expected: f64,
    /// The band of normal values, `expected` ± `alarm_z` scales.
    pub band: (f64, f64),
}

/// A streaming detector for one series on a grid of `step_ms`.
#[derive(Debug, Clone)]
pub struct Detector {
    step_ms: i64,
    config: DetectorConfig,
    /// Season length in steps (1: none).
    period: usize,
    /// Seasonal offsets per step of the season; NaN until visited.
    season: Vec<f64>,
    /// The deseasonalised level and its mean absolute residual.
    level_s: f64,
    err_s: f64,
    /// The plain level and its mean absolute residual.
    level_n: f64,
    err_n: f64,
    /// A short-term mean absolute residual (change points).
    err_fast: f64,
    count: u64,
    last_step: Option<i64>,
    cusum_pos: f64,
    cusum_neg: f64,
    run_sum: f64,
    run_len: u32,
    since_change: u32,
    /// Samples of hold-off left.
    quiet: usize,
}

impl Detector {
    /// A detector for samples every `step_ms` (a step of 0 or less is taken as 1 ms).
    pub fn new(step_ms: i64, config: DetectorConfig) -> Detector {
        let step_ms = step_ms.max(1);
        let period = match config.period {
            Some(p) => p,
            None => usize::try_from(DAY_MS / step_ms).unwrap_or(0),
        };
        let period = if (2..=MAX_PERIOD).contains(&period) { period } else { 1 };
        let season = if period > 1 { vec![f64::NAN; period] } else { Vec::new() };
        Detector {
            step_ms,
            config,
            period,
            season,
            level_s: 0.0,
            err_s: 0.0,
            level_n: 0.0,
            err_n: 0.0,
            err_fast: 0.0,
            count: 0,
            last_step: None,
            cusum_pos: 0.0,
            cusum_neg: 0.0,
            run_sum: 0.0,
            run_len: 0,
            since_change: 0,
            quiet: 0,
        }
    }

    /// The season in use, in steps (1: none).
    pub fn period(&self) -> usize {
        self.period
    }

    /// Whether the seasonal profile currently predicts better than the plain level.
    pub fn seasonal(&self) -> bool {
        self.period > 1 && self.count >= (self.period + self.config.warmup) as u64 && self.err_s < self.err_n
    }

    fn reset(&mut self) {
        *self = Detector::new(self.step_ms, self.config.clone());
    }

    /// Scores the sample `value` at `ts_ms`, then learns from it.
    pub fn push(&mut self, ts_ms: i64, value: f64) -> Anomaly {
        let step = ts_ms.div_euclid(self.step_ms);
        if !value.is_finite() {
            // A gap: nothing learned, nothing scored.
            let expected = self.expected_at(step);
            return Anomaly { score: 0.0, kind: AnomalyKind::Learning, expected, band: (expected, expected) };
        }
        let x = value.clamp(-MAX_ABS, MAX_ABS);
        if self.last_step.is_some_and(|last| step.saturating_sub(last) > self.config.relearn_after as i64) {
            self.reset();
        }
        self.last_step = Some(step);
        let phase = step.rem_euclid(self.period as i64) as usize;

        if self.count == 0 {
            self.level_s = x;
            self.level_n = x;
        }
        let seasonal = self.seasonal();
        let offset = self.offset(phase);
        let (expected, err) = if seasonal { (self.level_s + offset, self.err_s) } else { (self.level_n, self.err_n) };
        let residual = x - expected;
        let scale = self.scale_of(err, expected);
        let z = (residual / scale).clamp(-Z_CAP, Z_CAP);
        let learning = self.count < self.config.warmup as u64;
        let half = self.config.alarm_z * scale;
        let band = (expected - half, expected + half);

        let mut score = if learning { 0.0 } else { self.score_of(z.abs()) };
        let mut kind = if learning {
            AnomalyKind::Learning
        } else if z >= self.config.alarm_z {
            AnomalyKind::Spike
        } else if z <= -self.config.alarm_z {
            AnomalyKind::Dip
        } else {
            AnomalyKind::Normal
        };

        // Learn: both models, then the scales (winsorised once scoring has started).
        let resid_s = x - (self.level_s + offset);
        let resid_n = x - self.level_n;
        // Each model's levels learn the value winsorised at its own scale, so one spike
        // does not move tomorrow's expectation (level shifts re-base them below).
        let winsorised = |around: f64, r: f64, e: f64| {
            let reach = self.config.scale_clip * self.scale_of(e, around);
            if learning { around + r } else { around + r.clamp(-reach, reach) }
        };
        // (The first season is taken as seen: it defines the profile.)
        let x_s =
            if self.count < self.period as u64 { x } else { winsorised(self.level_s + offset, resid_s, self.err_s) };
        let x_n = winsorised(self.level_n, resid_n, self.err_n);
        let clip = |e: f64, r: f64, s: &Detector| {
            if learning { r.abs() } else { r.abs().min(s.config.scale_clip * s.scale_of(e, expected) / MAD_TO_SD) }
        };
        let a = self.config.scale_alpha.max(if learning { 1.0 / (self.count as f64 + 1.0) } else { 0.0 });
        self.err_s += a * (clip(self.err_s, resid_s, self) - self.err_s);
        self.err_n += a * (clip(self.err_n, resid_n, self) - self.err_n);
        self.err_fast += 0.1 * (residual.abs() - self.err_fast);
        self.learn_levels(x_n, x_s, phase);

        // Level shifts: CUSUM on capped z, the run's mean residual re-bases the levels.
        if !learning {
            let zc = z.clamp(-self.config.cusum_cap, self.config.cusum_cap);
            let was_pos = self.cusum_pos > 0.0;
            let was_neg = self.cusum_neg > 0.0;
            self.cusum_pos = (self.cusum_pos + zc - self.config.cusum_k).max(0.0);
            self.cusum_neg = (self.cusum_neg - zc - self.config.cusum_k).max(0.0);
            let same_run = (residual > 0.0 && was_pos) || (residual < 0.0 && was_neg);
            if !same_run {
                self.run_sum = 0.0;
                self.run_len = 0;
            }
            self.run_sum += residual;
            self.run_len += 1;
            if self.cusum_pos > self.config.cusum_h || self.cusum_neg > self.config.cusum_h {
                let shift = self.run_sum / f64::from(self.run_len);
                self.level_s += shift;
                self.level_n += shift;
                self.cusum_pos = 0.0;
                self.cusum_neg = 0.0;
                self.run_sum = 0.0;
                self.run_len = 0;
                score = score.max(self.score_of((shift / scale).abs().min(Z_CAP)));
                kind = AnomalyKind::LevelShift;
            }
            // Change points: the short-term scale leaves the long-term one.
            self.since_change = self.since_change.saturating_add(1);
            let long = if seasonal { self.err_s } else { self.err_n };
            if self.since_change > 10 && self.err_fast > self.config.change_ratio * long.max(f64::MIN_POSITIVE) {
                let ratio = (self.err_fast / self.scale_of(long, expected) * MAD_TO_SD).min(Z_CAP);
                self.err_s = self.err_s.max(self.err_fast);
                self.err_n = self.err_n.max(self.err_fast);
                self.since_change = 0;
                if kind == AnomalyKind::Normal {
                    kind = AnomalyKind::ChangePoint;
                    score = score.max(self.score_of(ratio));
                }
            }
        }
        self.count += 1;
        if self.quiet > 0 {
            self.quiet -= 1;
            score *= 0.5;
        } else if score >= 0.5 {
            self.quiet = self.config.holdoff;
        }
        Anomaly { score: clean(score), kind, expected: clean(expected), band: (clean(band.0), clean(band.1)) }
    }

    /// The scale (a standard deviation) from a mean absolute deviation, never 0.
    fn scale_of(&self, err: f64, around: f64) -> f64 {
        (err * MAD_TO_SD).max(1e-9 * around.abs()).max(1e-300)
    }

    /// |z| to 0..=1: 0.5 at `alarm_z`, about 0.06 at half of it.
    fn score_of(&self, z: f64) -> f64 {
        let u = (z / self.config.alarm_z.max(f64::MIN_POSITIVE)).powi(4);
        if u.is_finite() { u / (1.0 + u) } else { 1.0 }
    }

    /// Learns `x_n` into the plain level and `x_s` into the seasonal level and profile.
    fn learn_levels(&mut self, x_n: f64, x_s: f64, phase: usize) {
        let x = x_s;
        let n = self.count as f64 + 1.0;
        // The first season: the levels are running means, offsets taken as seen.
        let first_season = self.count < self.period as u64;
        let a = if first_season || (self.count as usize) < self.config.warmup {
            (1.0 / n).max(self.config.level_alpha)
        } else {
            self.config.level_alpha
        };
        self.level_n += a * (x_n - self.level_n);
        if self.season.is_empty() {
            self.level_s = self.level_n;
        } else if first_season {
            // Raw values until the season is complete, then offsets from its mean.
            self.season[phase] = x;
            if self.count + 1 == self.period as u64 {
                let seen = self.season.iter().filter(|o| o.is_finite());
                let (sum, k) = seen.fold((0.0, 0.0), |(s, k), o| (s + o / self.period as f64, k + 1.0));
                self.level_s = sum * self.period as f64 / k;
                let level = self.level_s;
                self.season.iter_mut().filter(|o| o.is_finite()).for_each(|o| *o -= level);
            }
        } else if self.season[phase].is_finite() {
            let o = self.season[phase];
            self.level_s += self.config.season_level_alpha * (x - o - self.level_s);
            // The mean of the seasons seen while there are few, an EWMA after.
            let seasons = (self.count / self.period as u64) as f64 + 1.0;
            let a = self.config.season_alpha.max(1.0 / seasons);
            self.season[phase] = o + a * (x - self.level_s - o);
        } else {
            self.season[phase] = x - self.level_s;
        }
    }

    /// The seasonal offset of a phase once the first season is complete, else 0.
    fn offset(&self, phase: usize) -> f64 {
        if self.count < self.period as u64 {
            return 0.0;
        }
        self.season.get(phase).copied().filter(|o| o.is_finite()).unwrap_or(0.0)
    }

    fn expected_at(&self, step: i64) -> f64 {
        let phase = step.rem_euclid(self.period as i64) as usize;
        let offset = self.offset(phase);
        clean(if self.seasonal() { self.level_s + offset } else { self.level_n })
    }
}

/// A finite number (NaN to 0, infinities to ±[`MAX_ABS`] times two).
fn clean(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v.clamp(-2.0 * MAX_ABS, 2.0 * MAX_ABS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: i64 = 300_000; // 5 minutes: 288 steps a day

    fn noise(i: u64) -> f64 {
        // A small deterministic noise in -0.5..0.5.
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
        (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    fn daily(i: u64) -> f64 {
        100.0 + 30.0 * (i as f64 * std::f64::consts::TAU / 288.0).sin() + 2.0 * noise(i)
    }

    #[test]
    fn a_daily_series_is_normal_and_a_spike_on_it_is_found() {
        let mut d = Detector::new(STEP, DetectorConfig::default());
        assert_eq!(d.period(), 288);
        let mut worst = 0.0f64;
        for i in 0..288 * 4 {
            let a = d.push(i as i64 * STEP, daily(i));
            if i > 288 * 2 {
                worst = worst.max(a.score);
                assert!(a.band.0 <= a.expected && a.expected <= a.band.1);
            }
        }
        assert!(d.seasonal(), "the daily profile predicts better than a flat level");
        assert!(worst < 0.5, "no false alarm on the clean daily series: {worst}");
        let i = 288 * 4;
        let a = d.push(i as i64 * STEP, daily(i) + 40.0);
        assert_eq!(a.kind, AnomalyKind::Spike);
        assert!(a.score > 0.9, "{a:?}");
        let a = d.push((i + 1) as i64 * STEP, daily(i + 1) - 40.0);
        assert_eq!(a.kind, AnomalyKind::Dip);
        // The spike did not move the baseline: the next normal sample is normal.
        let a = d.push((i + 2) as i64 * STEP, daily(i + 2));
        assert!(a.score < 0.5, "{a:?}");
    }

    #[test]
    fn a_level_shift_is_confirmed_and_the_baseline_follows() {
        let mut d = Detector::new(60_000, DetectorConfig { period: Some(0), ..DetectorConfig::default() });
        for i in 0..500u64 {
            d.push(i as i64 * 60_000, 10.0 + noise(i));
        }
        let mut kinds = Vec::new();
        for i in 500..560u64 {
            kinds.push(d.push(i as i64 * 60_000, 14.0 + noise(i)).kind);
        }
        let at = kinds.iter().position(|k| *k == AnomalyKind::LevelShift).expect("a level shift");
        assert!(at < 5, "confirmed within a few samples: {kinds:?}");
        // After the shift the new level is normal.
        assert!(kinds[at + 5..].iter().all(|k| *k == AnomalyKind::Normal), "{kinds:?}");
        let a = d.push(560 * 60_000, 14.0);
        assert!((a.expected - 14.0).abs() < 0.5, "{a:?}");
    }

    #[test]
    fn a_constant_series_scores_zero_and_a_change_on_it_scores_high() {
        let mut d = Detector::new(1000, DetectorConfig::default());
        for i in 0..200 {
            let a = d.push(i * 1000, 7.0);
            assert_eq!(a.score, 0.0);
            assert_eq!(a.expected, 7.0);
        }
        let a = d.push(200_000, 7.5);
        assert!(a.score > 0.99, "{a:?}");
        assert!(a.score <= 1.0);
    }

    #[test]
    fn gaps_keep_the_season_and_long_gaps_start_learning_again() {
        let mut d = Detector::new(STEP, DetectorConfig::default());
        for i in 0..288 * 3 {
            d.push(i as i64 * STEP, daily(i));
        }
        // Skip 100 steps: the phase comes from the timestamp, the season still fits.
        let i = 288 * 3 + 100;
        let a = d.push(i as i64 * STEP, daily(i));
        assert!(a.score < 0.5, "{a:?}");
        assert!((a.expected - daily(i)).abs() < 5.0, "{a:?}");
        // A gap of more than relearn_after steps: learning again.
        let a = d.push((i + 20_000) as i64 * STEP, 5.0);
        assert_eq!(a.kind, AnomalyKind::Learning);
    }

    #[test]
    fn wild_and_missing_values_never_give_nan() {
        let mut d = Detector::new(STEP, DetectorConfig::default());
        let values = [f64::NAN, 1e100, -1e100, f64::INFINITY, 0.0, f64::NEG_INFINITY, 1e300, -1e-300, 5.0];
        for i in 0..2000u64 {
            let a = d.push(i as i64 * STEP, values[i as usize % values.len()]);
            assert!(a.score.is_finite() && (0.0..=1.0).contains(&a.score), "{a:?}");
            assert!(a.expected.is_finite() && a.band.0.is_finite() && a.band.1.is_finite(), "{a:?}");
        }
        let a = d.push(0, f64::NAN);
        assert_eq!(a.score, 0.0);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = f64> {
            prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(0.0),
                Just(1e100),
                Just(-1e100),
                Just(f64::MAX),
                -1e100..1e100f64,
                -10.0..10.0f64,
            ]
        }

        proptest! {
            #[test]
            fn any_stream_gives_finite_scores_in_0_1(
                step_ms in -5i64..10_000_000,
                period in prop_oneof![Just(None), (0usize..50).prop_map(Some)],
                samples in prop::collection::vec((0i64..200, value()), 0..400),
                constant in prop::option::of(-1e100..1e100f64),
            ) {
                let mut d = Detector::new(step_ms, DetectorConfig { period, warmup: 5, holdoff: 3, ..DetectorConfig::default() });
                let mut t = 0i64;
                for (skip, v) in samples {
                    // Gaps of up to 200 steps, and the odd step back in time.
                    t = t.saturating_add(skip.saturating_sub(5).saturating_mul(step_ms.max(1)));
                    let v = constant.unwrap_or(v);
                    let a = d.push(t, v);
                    prop_assert!(a.score.is_finite() && (0.0..=1.0).contains(&a.score), "{:?}", a);
                    prop_assert!(a.expected.is_finite() && a.band.0.is_finite() && a.band.1.is_finite(), "{:?}", a);
                    prop_assert!(a.band.0 <= a.band.1, "{:?}", a);
                    if constant.is_some() {
                        prop_assert!(a.score == 0.0, "a constant series never alarms: {:?}", a);
                    }
                }
            }
        }
    }
}
