//! Forecasts with prediction intervals: the seasonal-naive baseline and the default
//! seasonal model (MSTL on the detected periods, AutoETS on the rest, via augurs).

use augurs::ets::AutoETS;
use augurs::mstl::stlrs::MstlParams;
use augurs::{Fit, Predict};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::line::Line;
use crate::series::{MAX_ABS, MAX_POINTS};
use crate::{PredictError, Series, season};

/// Fewest observed values any forecast needs.
pub const MIN_OBSERVED: usize = 3;

/// Longest horizon forecast at the series' own step; longer ones are made on hourly means.
pub const FINE_HORIZON_MS: i64 = 2 * 86_400_000;

const HOUR_MS: i64 = 3_600_000;

/// Values of the deseasonalised history AutoETS is fitted to, at most (the latest).
pub const ETS_WINDOW: usize = 336;

/// Values ahead of a series, with a prediction interval around each.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Time of the first forecast value, ms since the epoch (just after the history).
    pub start_ms: i64,
    /// Time between forecast values, ms.
    pub step_ms: i64,
    /// The expected values.
    pub mean: Vec<f64>,
    /// Lower ends of the intervals.
    pub lower: Vec<f64>,
    /// Upper ends of the intervals.
    pub upper: Vec<f64>,
    /// Probability each interval is meant to hold (0.9 for 90%).
    pub level: f64,
    /// The model that made it (`seasonal-naive`, `mstl+ets`, `ets`, `constant`, ...).
    pub model: String,
    /// The seasonal periods it used, in steps of `step_ms`, strongest first.
    pub periods: Vec<usize>,
}

impl Forecast {
    /// Number of forecast values.
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// Whether it has no values.
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// Time of forecast value `i`, ms.
    pub fn time_of(&self, i: usize) -> i64 {
        self.start_ms.saturating_add(self.step_ms.saturating_mul(i as i64))
    }
}

/// A forecasting model.
pub trait Forecaster: Send + Sync {
    /// Its short name.
    fn name(&self) -> &'static str;

    /// `horizon` values after `history`, at its step, with intervals at `level` (in 0..1).
    fn forecast(&self, history: &Series, horizon: usize, level: f64) -> Result<Forecast, PredictError>;
}

/// The baseline: the last cycle of the strongest detected period repeated (the last value
/// when there is none), with intervals from its own one-cycle-ahead errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeasonalNaive;

/// The default model: MSTL on the detected periods with AutoETS on the deseasonalised
/// rest (AutoETS alone when there is no period); the baseline when that fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seasonal;

/// A history checked and prepared for fitting: gaps filled, periods detected, values
/// scaled to about -1..1 so that no model meets huge numbers.
struct Prepared {
    start_ms: i64,
    step_ms: i64,
    /// Scaled, gap-free values.
    y: Vec<f64>,
    center: f64,
    scale: f64,
    periods: Vec<usize>,
    z: f64,
}

impl Prepared {
    fn new(history: &Series, horizon: usize, level: f64) -> Result<Prepared, PredictError> {
        check(history)?;
        if level.is_nan() || level <= 0.0 || level >= 1.0 {
            return Err(PredictError::Invalid(format!(
                "the interval level must be between 0 and 1 (0.9 for 90%), not {level}"
            )));
        }
        if horizon == 0 || horizon > MAX_POINTS {
            return Err(PredictError::Invalid(format!("the horizon must be 1 to {MAX_POINTS} steps, not {horizon}")));
        }
        let have = history.observed();
        if have < MIN_OBSERVED {
            return Err(PredictError::not_enough("a forecast", MIN_OBSERVED, have));
        }
        let periods = season::periods(history);
        let filled = history.filled(periods.first().copied());
        let n = filled.len() as f64;
        let center = filled.values.iter().map(|v| v / n).sum::<f64>();
        let scale = filled.values.iter().map(|v| (v - center).abs()).fold(0.0, f64::max);
        let scale = if scale > center.abs() * 1e-12 && scale.is_finite() { scale } else { 0.0 };
        // A constant series forecasts exactly its value.
        let center = if scale > 0.0 { center } else { filled.values[filled.len() - 1] };
        let y = if scale > 0.0 {
            filled.values.iter().map(|v| (v - center) / scale).collect()
        } else {
            vec![0.0; filled.len()]
        };
        Ok(Prepared { start_ms: history.end_ms(), step_ms: history.step_ms, y, center, scale, periods, z: z_of(level) })
    }

    /// A forecast from scaled mean and bounds, back on the original scale; `None` if any
    /// value is not finite or beyond what a series may hold.
    fn unscale(&self, mean: &[f64], lower: &[f64], upper: &[f64], level: f64, model: &str) -> Option<Forecast> {
        let back = |v: &f64| self.center + v * self.scale;
        let mean: Vec<f64> = mean.iter().map(back).collect();
        let mut lower: Vec<f64> = lower.iter().map(back).collect();
        let mut upper: Vec<f64> = upper.iter().map(back).collect();
        let ok = |v: &f64| v.is_finite();
        if !(mean.iter().all(ok) && lower.iter().all(ok) && upper.iter().all(ok)) {
            return None;
        }
        for i in 0..mean.len() {
            lower[i] = lower[i].min(mean[i]);
            upper[i] = upper[i].max(mean[i]);
        }
        Some(Forecast {
            start_ms: self.start_ms,
            step_ms: self.step_ms,
            mean,
            lower,
            upper,
            level,
            model: model.to_string(),
            periods: self.periods.clone(),
        })
    }

    fn constant(&self, horizon: usize, level: f64) -> Forecast {
        let v = vec![self.center; horizon];
        Forecast {
            start_ms: self.start_ms,
            step_ms: self.step_ms,
            mean: v.clone(),
            lower: v.clone(),
            upper: v,
            level,
            model: "constant".to_string(),
            periods: Vec::new(),
        }
    }

    /// The seasonal-naive forecast on the scaled values.
    fn naive(&self, horizon: usize, level: f64) -> Option<Forecast> {
        let n = self.y.len();
        let m = self.periods.first().copied().filter(|&p| n >= 2 * p).unwrap_or(1);
        let errors: Vec<f64> = (m..n).map(|t| self.y[t] - self.y[t - m]).collect();
        let sigma = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len().max(1) as f64).sqrt();
        let mut mean = Vec::with_capacity(horizon);
        let mut lower = Vec::with_capacity(horizon);
        let mut upper = Vec::with_capacity(horizon);
        for h in 0..horizon {
            let v = self.y[n - m + h % m];
            let width = self.z * sigma * ((h / m + 1) as f64).sqrt();
            mean.push(v);
            lower.push(v - width);
            upper.push(v + width);
        }
        let mut f = self.unscale(&mean, &lower, &upper, level, "seasonal-naive")?;
        f.periods = if m > 1 { vec![m] } else { Vec::new() };
        Some(f)
    }

    /// MSTL + AutoETS (or AutoETS alone) on the scaled values: the series decomposed
    /// into the detected seasons, AutoETS fitted to the last [`ETS_WINDOW`] values of the
    /// rest, each season's last cycle added back. The interval adds to the ETS interval the
    /// seasons' own cycle-to-cycle change (how wrong repeating the last cycle was in
    /// sample).
    fn seasonal(&self, horizon: usize, level: f64) -> Option<Forecast> {
        let n = self.y.len();
        let periods: Vec<usize> = self.periods.iter().copied().filter(|&p| n >= 2 * p).collect();
        let (rest, seasons) = if periods.is_empty() {
            (self.y.clone(), Vec::new())
        } else {
            let fit = MstlParams::new().fit(&self.y, &periods).ok()?;
            let rest = fit.trend().iter().zip(fit.remainder()).map(|(t, r)| t + r).collect();
            (rest, fit.seasonal().to_vec())
        };
        let window = &rest[rest.len().saturating_sub(ETS_WINDOW)..];
        // A steady trend (growth) is carried on as a line: AutoETS on a short window damps
        // it or leaves it out, and a forecast weeks ahead must not.
        let block = periods.iter().copied().min().unwrap_or(1).max(1);
        let (slope, slope_se) = trend(window, block);
        let steady = slope_se > 0.0 && (slope / slope_se).abs() > 4.0;
        let detrended: Vec<f64>;
        let window = if steady {
            let last = window.len() as f64 - 1.0;
            detrended = window.iter().enumerate().map(|(i, v)| v - slope * (i as f64 - last)).collect();
            &detrended[..]
        } else {
            window
        };
        let forecast = AutoETS::non_seasonal().fit(window).ok()?.predict(horizon, level).ok()?;
        let intervals = forecast.intervals?;
        if forecast.point.len() != horizon || intervals.lower.len() != horizon || intervals.upper.len() != horizon {
            return None;
        }
        let mut mean = forecast.point;
        let (mut lower, mut upper) = (intervals.lower, intervals.upper);
        if steady {
            for h in 0..horizon {
                let ahead = (h + 1) as f64;
                let (add, spread) = (slope * ahead, self.z * slope_se * ahead);
                mean[h] += add;
                lower[h] += add - spread;
                upper[h] += add + spread;
            }
        }
        let mut drift = 0.0;
        for (&p, season) in periods.iter().zip(&seasons) {
            let last = &season[season.len() - p..];
            for h in 0..horizon {
                mean[h] += last[h % p];
                lower[h] += last[h % p];
                upper[h] += last[h % p];
            }
            let changes = season.len() - p;
            drift +=
                (p..season.len()).map(|t| (season[t] - season[t - p]).powi(2)).sum::<f64>() / changes.max(1) as f64;
        }
        if drift > 0.0 {
            for h in 0..horizon {
                let below = mean[h] - lower[h];
                let above = upper[h] - mean[h];
                let extra = self.z * self.z * drift;
                lower[h] = mean[h] - (below * below + extra).sqrt();
                upper[h] = mean[h] + (above * above + extra).sqrt();
            }
        }
        // The decomposition soaks part of the noise into the seasons, which narrows the
        // ETS interval; the noise is at least what repeating the last cycle shows (half the
        // variance of a value's change from one cycle to the next, for a steady season).
        // The longest period (a week holds the day), and the changes' median, so that the
        // trend and rare jumps do not count as noise.
        if let Some(&p) = periods.iter().max() {
            let mut changes: Vec<f64> = (p..n).map(|t| (self.y[t] - self.y[t - p]).abs()).collect();
            changes.sort_by(f64::total_cmp);
            let sigma = 1.4826 * changes[changes.len() / 2] / std::f64::consts::SQRT_2;
            let floor = self.z * sigma;
            for h in 0..horizon {
                lower[h] = lower[h].min(mean[h] - floor);
                upper[h] = upper[h].max(mean[h] + floor);
            }
        }
        let model = if periods.is_empty() { "ets" } else { "mstl+ets" };
        let mut f = self.unscale(&mean, &lower, &upper, level, model)?;
        f.periods = periods;
        Some(f)
    }
}

/// Whether a series' growth is a straight line (a leak, a disk filling) rather than
/// compounding: over the means of whole blocks of `block` steps, a line fits the values
/// clearly (R² above 0.9) and better than it fits their logarithms.
fn grows_in_a_line(history: &Series, logs: &Series, block: usize) -> bool {
    let r2 = |s: &Series| {
        let values = s.filled(None).values;
        let block = block.max(1);
        let blocks = values.len() / block;
        if blocks < 4 {
            return 0.0;
        }
        let start = values.len() - blocks * block;
        let points: Vec<(f64, f64)> = (0..blocks)
            .map(|b| (b as f64, values[start + b * block..start + (b + 1) * block].iter().sum::<f64>() / block as f64))
            .collect();
        Line::fit(&points).r2()
    };
    let line = r2(history);
    line > 0.9 && line > r2(logs)
}

/// The slope per step of a least-squares line through the means of whole blocks of
/// `block` steps (counted back from the end), and its standard error; `(0, 0)` with fewer
/// than 4 blocks.
fn trend(values: &[f64], block: usize) -> (f64, f64) {
    let blocks = values.len() / block;
    if blocks < 4 {
        return (0.0, 0.0);
    }
    let start = values.len() - blocks * block;
    let points: Vec<(f64, f64)> = (0..blocks)
        .map(|b| {
            let chunk = &values[start + b * block..start + (b + 1) * block];
            let t = (start + b * block) as f64 + (block as f64 - 1.0) / 2.0;
            (t, chunk.iter().sum::<f64>() / block as f64)
        })
        .collect();
    let line = Line::fit(&points);
    let (slope, se) = (line.slope, line.slope_se());
    if slope.is_finite() && se.is_finite() { (slope, se) } else { (0.0, 0.0) }
}

/// The two-sided normal quantile for `level`.
fn z_of(level: f64) -> f64 {
    let normal = Normal::standard();
    normal.inverse_cdf(0.5 + level / 2.0)
}

/// Refuses a series no model can read: a step not above 0, or values that are infinite or
/// beyond [`MAX_ABS`] (built around [`Series::new`]'s checks).
pub(crate) fn check(series: &Series) -> Result<(), PredictError> {
    if series.step_ms <= 0 {
        return Err(PredictError::Invalid(format!("the step must be above 0 ms, not {}", series.step_ms)));
    }
    if let Some(i) = series.values.iter().position(|v| v.is_infinite() || v.abs() > MAX_ABS) {
        return Err(PredictError::Invalid(format!(
            "value {} at {} ms is out of range (at most {MAX_ABS:e} either side of 0)",
            series.values[i],
            series.time_of(i)
        )));
    }
    Ok(())
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> &'static str {
        "seasonal-naive"
    }

    fn forecast(&self, history: &Series, horizon: usize, level: f64) -> Result<Forecast, PredictError> {
        let p = Prepared::new(history, horizon, level)?;
        if p.scale == 0.0 {
            return Ok(p.constant(horizon, level));
        }
        p.naive(horizon, level)
            .ok_or_else(|| PredictError::Invalid("the seasonal-naive forecast left the range of numbers".into()))
    }
}

impl Forecaster for Seasonal {
    fn name(&self) -> &'static str {
        "seasonal"
    }

    fn forecast(&self, history: &Series, horizon: usize, level: f64) -> Result<Forecast, PredictError> {
        // A series above zero throughout (load, bytes) grows and swings in proportion to
        // its level: fitted on its logarithm, growth compounds and the daily swing scales.
        // (Checked first: the additive preparation is only made when this does not serve.)
        if history.observed() >= MIN_OBSERVED && history.values.iter().all(|v| v.is_nan() || *v > 0.0) {
            let logs = Series {
                start_ms: history.start_ms,
                step_ms: history.step_ms,
                values: history.values.iter().map(|v| v.ln()).collect(),
            };
            if let Ok(lp) = Prepared::new(&logs, horizon, level)
                && lp.scale > 0.0
                && !grows_in_a_line(history, &logs, lp.periods.iter().copied().min().unwrap_or(24))
                && let Some(mut f) = lp.seasonal(horizon, level)
            {
                for v in f.mean.iter_mut().chain(&mut f.lower).chain(&mut f.upper) {
                    *v = v.exp().min(MAX_ABS);
                }
                if f.mean.iter().chain(&f.lower).chain(&f.upper).all(|v| v.is_finite()) {
                    f.model.push_str(" (log)");
                    return Ok(f);
                }
            }
        }
        let p = Prepared::new(history, horizon, level)?;
        if p.scale == 0.0 {
            return Ok(p.constant(horizon, level));
        }
        if let Some(f) = p.seasonal(horizon, level) {
            return Ok(f);
        }
        let mut f = p
            .naive(horizon, level)
            .ok_or_else(|| PredictError::Invalid("the forecast left the range of numbers".into()))?;
        f.model = "seasonal-naive (the seasonal model failed)".to_string();
        Ok(f)
    }
}

/// The step a forecast `horizon_ms` ahead of `history` is made at: the series' own up to
/// [`FINE_HORIZON_MS`], else hourly (or the first multiple of the step at or above an hour).
pub fn step_for(history: &Series, horizon_ms: i64) -> i64 {
    let step = history.step_ms.max(1);
    if horizon_ms <= FINE_HORIZON_MS || step >= HOUR_MS { step } else { step * ((HOUR_MS + step - 1) / step) }
}

/// The default model's forecast `horizon_ms` ahead of `history`, at the step
/// [`step_for`] picks, with intervals at `level` (0.9 for 90%).
pub fn forecast(history: &Series, horizon_ms: i64, level: f64) -> Result<Forecast, PredictError> {
    check(history)?;
    if horizon_ms <= 0 {
        return Err(PredictError::Invalid(format!("the horizon must be above 0 ms, not {horizon_ms}")));
    }
    let step = step_for(history, horizon_ms);
    let coarse;
    let series = if step == history.step_ms {
        history
    } else {
        coarse = history.resample(step)?;
        if coarse.observed() >= MIN_OBSERVED { &coarse } else { history }
    };
    let horizon = (horizon_ms - 1) / series.step_ms + 1;
    let horizon = usize::try_from(horizon).unwrap_or(usize::MAX);
    let mut f = Seasonal.forecast(series, horizon, level)?;
    // A series never below zero (a rate, bytes, a count) is not forecast below it.
    if history.values.iter().all(|v| v.is_nan() || *v >= 0.0) {
        for v in f.mean.iter_mut().chain(&mut f.lower).chain(&mut f.upper) {
            *v = v.max(0.0);
        }
    }
    Ok(f)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::season::tests::Noise;
    use proptest::prelude::*;

    const FIVE_MIN: i64 = 300_000;

    /// Four weeks at 5 minutes of daily and weekly load with growth and noise.
    pub(crate) fn load(days: usize, noise: f64, seed: u64) -> Series {
        let mut rng = Noise::new(seed);
        let day = 288.0;
        let tau = std::f64::consts::TAU;
        let values = (0..days * 288)
            .map(|i| {
                let t = i as f64;
                let weekday = ((t / day) as usize) % 7;
                let weekly = if weekday >= 5 { 0.7 } else { 1.0 };
                (100.0 + 0.002 * t) * weekly * (1.0 + 0.5 * (tau * t / day).sin()) + noise * rng.next()
            })
            .collect();
        Series::new(1_700_000_000_000 / FIVE_MIN * FIVE_MIN, FIVE_MIN, values).unwrap()
    }

    fn all_finite(f: &Forecast) -> bool {
        f.mean.iter().chain(&f.lower).chain(&f.upper).all(|v| v.is_finite())
    }

    #[test]
    fn seasonal_naive_repeats_the_last_cycle_with_widening_intervals() {
        let s = load(7, 5.0, 1);
        let f = SeasonalNaive.forecast(&s, 600, 0.9).unwrap();
        assert_eq!(f.periods, vec![288]);
        assert_eq!(f.mean[0], s.values[s.len() - 288]);
        assert_eq!(f.mean[300], s.values[s.len() - 288 + 12]);
        let w0 = f.upper[0] - f.lower[0];
        let w2 = f.upper[580] - f.lower[580];
        assert!(w0 > 0.0 && (w2 / w0 - 3f64.sqrt()).abs() < 1e-9, "{w0} {w2}");
        assert_eq!(f.start_ms, s.end_ms());
    }

    #[test]
    fn the_seasonal_model_follows_the_cycle_and_its_intervals_hold_the_truth() {
        let full = load(22, 8.0, 2);
        let cut = 21 * 288;
        let history = Series::new(full.start_ms, full.step_ms, full.values[..cut].to_vec()).unwrap();
        let f = Seasonal.forecast(&history, 288, 0.9).unwrap();
        assert_eq!(f.model, "mstl+ets (log)", "a load above zero is fitted on its logarithm");
        assert!(f.periods.contains(&288), "{:?}", f.periods);
        let actual = &full.values[cut..];
        let mae = f.mean.iter().zip(actual).map(|(a, b)| (a - b).abs()).sum::<f64>() / 288.0;
        let naive = SeasonalNaive.forecast(&history, 288, 0.9).unwrap();
        let naive_mae = naive.mean.iter().zip(actual).map(|(a, b)| (a - b).abs()).sum::<f64>() / 288.0;
        assert!(mae < naive_mae, "seasonal {mae} vs naive {naive_mae}");
        let inside = (0..288).filter(|&i| f.lower[i] <= actual[i] && actual[i] <= f.upper[i]).count();
        // A 90% interval holds about 90% of what came (the noise floor keeps the
        // decomposition from narrowing it).
        assert!((0.82 * 288.0..=0.97 * 288.0).contains(&(inside as f64)), "{inside} of 288 inside the 90% interval");
    }

    #[test]
    fn a_leak_in_a_straight_line_is_not_compounded() {
        // 40% of a limit, then 7 points a day, with a small daily swing: additive.
        let values: Vec<f64> = (0..28 * 288)
            .map(|i| 40.0 + 7.0 * i as f64 / 288.0 + ((i % 288) as f64 / 288.0 * std::f64::consts::TAU).sin())
            .collect();
        let s = Series::new(0, FIVE_MIN, values).unwrap();
        let f = forecast(&s, 14 * 86_400_000, 0.9).unwrap();
        assert!(!f.model.contains("log"), "{}", f.model);
        // Two weeks on, about 98 more points: a line, not a compounding curve.
        let last = f.mean[f.len() - 1];
        assert!((last - (40.0 + 7.0 * 42.0)).abs() < 15.0, "{last}");
    }

    #[test]
    fn long_horizons_are_forecast_on_hourly_means() {
        let s = load(28, 5.0, 3);
        let f = forecast(&s, 7 * 86_400_000, 0.9).unwrap();
        assert_eq!((f.step_ms, f.len()), (HOUR_MS, 168));
        assert!(f.start_ms >= s.end_ms() && f.start_ms - s.end_ms() < HOUR_MS);
        assert!(f.periods.contains(&24) && f.periods.contains(&168), "{:?}", f.periods);
        assert!(all_finite(&f));
        let f = forecast(&s, 86_400_000, 0.9).unwrap();
        assert_eq!((f.step_ms, f.len()), (FIVE_MIN, 288));
    }

    #[test]
    fn constant_short_and_bad_input_give_flat_forecasts_or_clear_errors() {
        let s = Series::new(0, 60_000, vec![7.0; 50]).unwrap();
        let f = forecast(&s, 3_600_000, 0.9).unwrap();
        assert!(f.mean.iter().chain(&f.lower).chain(&f.upper).all(|&v| v == 7.0));
        let s = Series::new(0, 60_000, vec![1.0, f64::NAN, f64::NAN]).unwrap();
        assert!(matches!(forecast(&s, 60_000, 0.9), Err(PredictError::NotEnoughData { need: 3, have: 1, .. })));
        let s = Series::new(0, 60_000, vec![]).unwrap();
        assert!(matches!(Seasonal.forecast(&s, 5, 0.9), Err(PredictError::NotEnoughData { have: 0, .. })));
        let s = Series::new(0, 60_000, vec![1.0, 2.0, 4.0]).unwrap();
        assert!(matches!(Seasonal.forecast(&s, 5, 1.5), Err(PredictError::Invalid(_))));
        assert!(matches!(Seasonal.forecast(&s, 0, 0.9), Err(PredictError::Invalid(_))));
        assert!(matches!(forecast(&s, -1, 0.9), Err(PredictError::Invalid(_))));
        let f = Seasonal.forecast(&s, 5, 0.9).unwrap();
        assert!(all_finite(&f) && f.len() == 5);
        let bad = Series { start_ms: 0, step_ms: 60_000, values: vec![1.0, f64::INFINITY, 2.0, 3.0] };
        assert!(matches!(Seasonal.forecast(&bad, 5, 0.9), Err(PredictError::Invalid(_))));
    }

    #[test]
    fn huge_values_forecast_finitely() {
        let mut rng = Noise::new(9);
        let values = (0..500).map(|i| MAX_ABS * (0.5 + 0.4 * ((i % 24) as f64 / 24.0) + 0.05 * rng.next())).collect();
        let s = Series::new(0, HOUR_MS, values).unwrap();
        for model in [&Seasonal as &dyn Forecaster, &SeasonalNaive] {
            let f = model.forecast(&s, 48, 0.95).unwrap();
            assert!(all_finite(&f), "{}", model.name());
            assert!(f.mean.iter().all(|v| *v > 0.3 * MAX_ABS && *v < MAX_ABS * 1.2), "{:?}", &f.mean[..4]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn any_series_forecasts_finitely_or_says_why(
            values in proptest::collection::vec(prop_oneof![
                3 => -1e6..1e6f64,
                1 => Just(f64::NAN),
                1 => Just(0.0),
                1 => -MAX_ABS..MAX_ABS,
                1 => Just(MAX_ABS),
            ], 0..300),
            step in prop_oneof![Just(60_000i64), Just(300_000), Just(3_600_000), 1i64..10_000],
            constant in proptest::option::of(-MAX_ABS..MAX_ABS),
            horizon in 1usize..400,
            level in prop_oneof![Just(0.9), 0.01..0.999f64],
        ) {
            let values = match constant { Some(c) => values.iter().map(|v| if v.is_nan() { *v } else { c }).collect(), None => values };
            let s = Series::new(0, step, values).unwrap();
            for model in [&Seasonal as &dyn Forecaster, &SeasonalNaive] {
                match model.forecast(&s, horizon, level) {
                    Ok(f) => {
                        prop_assert!(all_finite(&f));
                        prop_assert_eq!(f.len(), horizon);
                        prop_assert!((0..horizon).all(|i| f.lower[i] <= f.mean[i] && f.mean[i] <= f.upper[i]));
                    }
                    Err(PredictError::NotEnoughData { have, .. }) => prop_assert!(have < MIN_OBSERVED),
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            }
            let horizon_ms = horizon as i64 * step * 50;
            match forecast(&s, horizon_ms, level) {
                Ok(f) => prop_assert!(all_finite(&f)),
                Err(PredictError::NotEnoughData { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
