//! Rolling-origin backtests: how far a model's forecasts fall from what happened, against
//! the seasonal-naive baseline on the same folds.

use crate::forecast::{Forecaster, MIN_OBSERVED, SeasonalNaive, check};
use crate::{PredictError, Series, season};

/// Accuracy of a model over a backtest's folds (means over the folds), beside the
/// seasonal-naive baseline's on the same folds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Mean absolute scaled error of the model (below 1: better than the in-sample
    /// seasonal-naive one-cycle-ahead error).
    pub mase: f64,
    /// Symmetric mean absolute percentage error of the model, in percent (0 to 200).
    pub smape: f64,
    /// MASE of the seasonal-naive baseline.
    pub baseline_mase: f64,
    /// sMAPE of the seasonal-naive baseline, in percent.
    pub baseline_smape: f64,
    /// Folds that counted (those with something observed to compare with and a training
    /// part that varies).
    pub folds: usize,
}

/// Backtests `model` on `series`: `folds` forecasts of `horizon` steps from origins
/// `horizon` apart, the last ending at the series' end, each trained on everything before
/// its origin. MASE is scaled per fold by the mean absolute in-sample seasonal-naive error
/// of that training part, at the period `m` that [`season::periods`] finds strongest in the
/// first fold's training part (1, the naive forecast, when it finds none); sMAPE counts a
/// point where both forecast and truth are 0 as 0. Gaps in the truth are skipped.
pub fn backtest(
    model: &dyn Forecaster,
    series: &Series,
    horizon: usize,
    folds: usize,
) -> Result<Accuracy, PredictError> {
    check(series)?;
    if horizon == 0 || folds == 0 {
        return Err(PredictError::Invalid(format!(
            "a backtest needs a horizon and folds of at least 1, not {horizon} and {folds}"
        )));
    }
    let n = series.len();
    let tested = horizon.saturating_mul(folds);
    let need = tested.saturating_add(MIN_OBSERVED);
    if n < need {
        return Err(PredictError::not_enough(format!("a backtest of {folds} folds of {horizon} steps"), need, n));
    }
    let first_origin = n - tested;
    let train0 = slice(series, 0, first_origin);
    let m = season::periods(&train0).first().copied().unwrap_or(1);

    let (mut sums, mut used) = ([0.0; 4], 0usize);
    for k in 0..folds {
        let origin = first_origin + k * horizon;
        let train = slice(series, 0, origin);
        let actual = &series.values[origin..origin + horizon];
        let Some(scale) = naive_scale(&train.values, m).or_else(|| naive_scale(&train.values, 1)) else {
            continue;
        };
        if actual.iter().all(|v| v.is_nan()) {
            continue;
        }
        let ours = model.forecast(&train, horizon, 0.9)?;
        let base = SeasonalNaive.forecast(&train, horizon, 0.9)?;
        let (mase, smape) = errors(&ours.mean, actual, scale);
        let (base_mase, base_smape) = errors(&base.mean, actual, scale);
        used += 1;
        // Running means, so that many folds of huge errors cannot overflow.
        for (s, v) in sums.iter_mut().zip([mase, smape, base_mase, base_smape]) {
            *s += (v - *s) / used as f64;
        }
    }
    if used == 0 {
        return Err(PredictError::not_enough("a backtest (training values that vary and truth observed)", 1, 0));
    }
    Ok(Accuracy { mase: sums[0], smape: sums[1], baseline_mase: sums[2], baseline_smape: sums[3], folds: used })
}

fn slice(series: &Series, from: usize, to: usize) -> Series {
    Series { start_ms: series.time_of(from), step_ms: series.step_ms, values: series.values[from..to].to_vec() }
}

/// Mean absolute difference of values `m` apart where both were observed; `None` if there
/// are none or it is 0.
fn naive_scale(values: &[f64], m: usize) -> Option<f64> {
    let (mut sum, mut count) = (0.0, 0usize);
    for t in m..values.len() {
        let d = values[t] - values[t - m];
        if !d.is_nan() {
            sum += d.abs();
            count += 1;
        }
    }
    let scale = sum / count.max(1) as f64;
    (count > 0 && scale > 0.0 && scale.is_finite()).then_some(scale)
}

/// The largest scaled error one point counts for.
const MAX_SCALED: f64 = 1e300;

/// (MASE, sMAPE in percent) of `forecast` against `actual` (gaps skipped; at least one
/// value observed).
fn errors(forecast: &[f64], actual: &[f64], scale: f64) -> (f64, f64) {
    let (mut abs, mut pct, mut count) = (0.0, 0.0, 0usize);
    for (f, a) in forecast.iter().zip(actual) {
        if a.is_nan() {
            continue;
        }
        let e = (f - a).abs();
        let denominator = f.abs() + a.abs();
        let p = if denominator > 0.0 { (200.0 * e / denominator).min(200.0) } else { 0.0 };
        count += 1;
        // Running means; a truth far outside a training part that hardly varies counts
        // for at most MAX_SCALED, never infinity.
        abs += ((e / scale).min(MAX_SCALED) - abs) / count as f64;
        pct += (p - pct) / count as f64;
    }
    (abs, pct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::Seasonal;
    use crate::forecast::tests::load;
    use crate::series::MAX_ABS;
    use proptest::prelude::*;

    #[test]
    fn the_seasonal_model_beats_the_baseline_on_trended_seasonal_load() {
        let s = load(28, 10.0, 11);
        let a = backtest(&Seasonal, &s, 288, 3).unwrap();
        assert_eq!(a.folds, 3);
        assert!(a.mase < a.baseline_mase, "{a:?}");
        assert!(a.smape < a.baseline_smape, "{a:?}");
        assert!(a.smape > 0.0 && a.smape < 200.0);
    }

    #[test]
    fn the_baseline_scores_itself_the_same_and_a_perfect_cycle_scores_zero() {
        let values: Vec<f64> = (0..24 * 10).map(|i| [0.0, 1.0, 4.0, 2.0, 0.0, 3.0][i % 6]).collect();
        let s = Series::new(0, 3_600_000, values).unwrap();
        let a = backtest(&SeasonalNaive, &s, 12, 2).unwrap();
        assert_eq!((a.mase, a.smape, a.baseline_mase, a.baseline_smape), (0.0, 0.0, 0.0, 0.0));
        let s = load(10, 10.0, 12);
        let a = backtest(&SeasonalNaive, &s, 100, 2).unwrap();
        assert_eq!((a.mase, a.smape), (a.baseline_mase, a.baseline_smape));
        assert!(a.mase > 0.0);
    }

    #[test]
    fn smape_is_a_percentage_and_zero_over_zero_counts_as_zero() {
        let (mase, smape) = errors(&[0.0, 1.0, 0.0], &[0.0, 3.0, 2.0], 2.0);
        assert!((mase - 2.0 / 3.0).abs() < 1e-12, "{mase}");
        assert!((smape - (0.0 + 100.0 + 200.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn short_and_constant_series_say_not_enough_data() {
        let s = Series::new(0, 60_000, vec![1.0; 10]).unwrap();
        assert!(matches!(backtest(&Seasonal, &s, 5, 2), Err(PredictError::NotEnoughData { need: 13, have: 10, .. })));
        let s = Series::new(0, 60_000, vec![1.0; 40]).unwrap();
        assert!(matches!(backtest(&Seasonal, &s, 5, 2), Err(PredictError::NotEnoughData { .. })));
        assert!(matches!(backtest(&Seasonal, &s, 0, 2), Err(PredictError::Invalid(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
        #[test]
        fn any_series_backtests_finitely_or_says_why(
            values in proptest::collection::vec(prop_oneof![
                3 => -1e6..1e6f64, 1 => Just(f64::NAN), 1 => Just(0.0), 1 => -MAX_ABS..MAX_ABS,
            ], 0..200),
            horizon in 1usize..30,
            folds in 1usize..4,
        ) {
            let s = Series::new(0, 60_000, values).unwrap();
            match backtest(&Seasonal, &s, horizon, folds) {
                Ok(a) => {
                    prop_assert!([a.mase, a.smape, a.baseline_mase, a.baseline_smape].iter().all(|v| v.is_finite() && *v >= 0.0));
                    prop_assert!(a.smape <= 200.0 && a.baseline_smape <= 200.0);
                    prop_assert!(a.folds >= 1 && a.folds <= folds);
                }
                Err(PredictError::NotEnoughData { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
