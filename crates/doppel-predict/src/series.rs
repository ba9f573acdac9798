//! A series on a regular grid: what every predictor here reads.

use crate::PredictError;

/// Values further from zero than this are refused: sums and squares of them must stay
/// finite in every predictor.
pub const MAX_ABS: f64 = 1e100;

/// The most points a grid may have (about 95 years at 5 minutes).
pub const MAX_POINTS: usize = 10_000_000;

/// Values at `start_ms`, `start_ms + step_ms`, ...; a NaN is a gap (nothing observed).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Time of the first value, ms since the epoch.
    pub start_ms: i64,
    /// Time between values, ms (above 0).
    pub step_ms: i64,
    /// The values; NaN where nothing was observed.
    pub values: Vec<f64>,
}

impl Series {
    /// A series from its parts, checked: a positive step and values that are finite and
    /// within [`MAX_ABS`], or NaN for gaps.
    pub fn new(start_ms: i64, step_ms: i64, values: Vec<f64>) -> Result<Series, PredictError> {
        if step_ms <= 0 {
            return Err(PredictError::Invalid(format!("the step must be above 0 ms, not {step_ms}")));
        }
        if let Some(i) = values.iter().position(|v| v.is_infinite() || v.abs() > MAX_ABS) {
            return Err(PredictError::Invalid(format!(
                "value {} at {} is out of range (at most {MAX_ABS:e} either side of 0)",
                values[i],
                start_ms.saturating_add(step_ms.saturating_mul(i as i64))
            )));
        }
        Ok(Series { start_ms, step_ms, values })
    }

    /// Samples `(ms, value)` in any order, as means over a grid of `step_ms` aligned to
    /// multiples of it; a step with no sample is a gap. Non-finite samples (Prometheus'
    /// stale markers) are gaps too; values beyond [`MAX_ABS`] are refused.
    pub fn from_samples(samples: &[(i64, f64)], step_ms: i64) -> Result<Series, PredictError> {
        if step_ms <= 0 {
            return Err(PredictError::Invalid(format!("the step must be above 0 ms, not {step_ms}")));
        }
        let finite = || samples.iter().filter(|s| s.1.is_finite());
        if let Some(&(ts, v)) = finite().find(|s| s.1.abs() > MAX_ABS) {
            return Err(PredictError::Invalid(format!(
                "value {v} at {ts} ms is out of range (at most {MAX_ABS:e} either side of 0)"
            )));
        }
        let (Some(first), Some(last)) = (finite().map(|s| s.0).min(), finite().map(|s| s.0).max()) else {
            return Err(PredictError::not_enough("a series", 1, 0));
        };
        let start_ms = first.div_euclid(step_ms) * step_ms;
        let points = (i128::from(last) - i128::from(start_ms)) / i128::from(step_ms) + 1;
        if points > MAX_POINTS as i128 {
            return Err(PredictError::Invalid(format!(
                "{points} steps of {step_ms} ms from {first} to {last} ms: at most {MAX_POINTS} (use a longer step)"
            )));
        }
        let mut sums = vec![0.0; points as usize];
        let mut counts = vec![0u32; points as usize];
        for &(ts, v) in finite() {
            let i = ((ts - start_ms) / step_ms) as usize;
            sums[i] += v;
            counts[i] += 1;
        }
        let values =
            sums.iter().zip(&counts).map(|(&s, &n)| if n == 0 { f64::NAN } else { s / f64::from(n) }).collect();
        Ok(Series { start_ms, step_ms, values })
    }

    /// Number of points, gaps included.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether it has no points.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Points that are not gaps.
    pub fn observed(&self) -> usize {
        self.values.iter().filter(|v| !v.is_nan()).count()
    }

    /// Time of point `i`, ms.
    pub fn time_of(&self, i: usize) -> i64 {
        self.start_ms.saturating_add(self.step_ms.saturating_mul(i as i64))
    }

    /// Time just after the last point (where a forecast starts), ms.
    pub fn end_ms(&self) -> i64 {
        self.time_of(self.values.len())
    }

    /// The same series with its gaps filled: from one `period` before (or after) where that
    /// was observed, else on a line between the neighbours either side; leading and
    /// trailing gaps take the nearest value. Unchanged when nothing was observed.
    pub fn filled(&self, period: Option<usize>) -> Series {
        let mut values = self.values.clone();
        if let Some(p) = period.filter(|&p| p > 0 && p < values.len()) {
            for i in 0..values.len() {
                if values[i].is_nan() {
                    if i >= p && !values[i - p].is_nan() {
                        values[i] = values[i - p];
                    } else if i + p < values.len() && !self.values[i + p].is_nan() {
                        values[i] = self.values[i + p];
                    }
                }
            }
        }
        let known: Vec<usize> = (0..values.len()).filter(|&i| !values[i].is_nan()).collect();
        if let (Some(&first), Some(&last)) = (known.first(), known.last()) {
            let (head, tail) = (values[first], values[last]);
            values[..first].fill(head);
            values[last + 1..].fill(tail);
            for pair in known.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                let (va, vb) = (values[a], values[b]);
                for (k, v) in values[a + 1..b].iter_mut().enumerate() {
                    let t = (k + 1) as f64 / (b - a) as f64;
                    *v = va + (vb - va) * t;
                }
            }
        }
        Series { start_ms: self.start_ms, step_ms: self.step_ms, values }
    }

    /// Means over a coarser grid of `step_ms` (a multiple of this step), aligned to
    /// multiples of it; a coarse step with nothing observed is a gap.
    pub fn resample(&self, step_ms: i64) -> Result<Series, PredictError> {
        if step_ms <= 0 || step_ms % self.step_ms != 0 {
            return Err(PredictError::Invalid(format!(
                "a series of {} ms steps resamples only to a multiple of them, not {step_ms} ms",
                self.step_ms
            )));
        }
        let samples: Vec<(i64, f64)> =
            self.values.iter().enumerate().filter(|(_, v)| !v.is_nan()).map(|(i, &v)| (self.time_of(i), v)).collect();
        if samples.is_empty() {
            let start_ms = self.start_ms.div_euclid(step_ms) * step_ms;
            let points = (self.end_ms() - start_ms + step_ms - 1) / step_ms;
            return Ok(Series { start_ms, step_ms, values: vec![f64::NAN; points.max(0) as usize] });
        }
        Series::from_samples(&samples, step_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn samples_are_averaged_onto_an_aligned_grid_with_gaps() {
        let s = Series::from_samples(&[(1_250, 4.0), (1_000, 2.0), (3_100, 7.0), (3_900, f64::NAN)], 1_000).unwrap();
        assert_eq!((s.start_ms, s.step_ms), (1_000, 1_000));
        assert_eq!(s.values[0], 3.0);
        assert!(s.values[1].is_nan());
        assert_eq!(s.values[2], 7.0);
        assert_eq!((s.len(), s.observed(), s.end_ms()), (3, 2, 4_000));
    }

    #[test]
    fn bad_input_is_refused_with_what_was_expected() {
        assert!(matches!(Series::from_samples(&[], 60_000), Err(PredictError::NotEnoughData { have: 0, .. })));
        assert!(matches!(Series::from_samples(&[(0, f64::NAN)], 60_000), Err(PredictError::NotEnoughData { .. })));
        let err = Series::from_samples(&[(0, 1e300)], 60_000).unwrap_err().to_string();
        assert!(err.contains("out of range"), "{err}");
        let err = Series::from_samples(&[(0, 1.0), (i64::MAX, 1.0)], 1).unwrap_err().to_string();
        assert!(err.contains("use a longer step"), "{err}");
        assert!(Series::from_samples(&[(0, 1.0)], 0).is_err());
        assert!(Series::new(0, 10, vec![1.0, f64::INFINITY]).is_err());
    }

    #[test]
    fn gaps_fill_from_the_season_then_on_a_line() {
        let nan = f64::NAN;
        let s = Series::new(0, 1, vec![1.0, 5.0, 1.0, nan, nan, 9.0, nan]).unwrap();
        assert_eq!(s.filled(None).values, vec![1.0, 5.0, 1.0, 3.0 + 2.0 / 3.0, 6.0 + 1.0 / 3.0, 9.0, 9.0]);
        assert_eq!(s.filled(Some(2)).values, vec![1.0, 5.0, 1.0, 5.0, 1.0, 9.0, 1.0]);
        let s = Series::new(0, 1, vec![nan, nan, 2.0, nan]).unwrap();
        assert_eq!(s.filled(Some(1)).values, vec![2.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn resampling_takes_means_of_what_was_observed() {
        let s = Series::new(0, 10, vec![1.0, 3.0, f64::NAN, f64::NAN, 5.0]).unwrap();
        let r = s.resample(20).unwrap();
        assert_eq!(r.values[0], 2.0);
        assert!(r.values[1].is_nan());
        assert_eq!(r.values[2], 5.0);
        assert!(s.resample(15).is_err());
    }

    proptest! {
        #[test]
        fn any_samples_give_a_series_or_an_error_never_a_panic(
            samples in proptest::collection::vec((-1_000_000i64..1_000_000, proptest::num::f64::ANY), 0..200),
            step in -5i64..100_000,
        ) {
            if let Ok(s) = Series::from_samples(&samples, step) {
                prop_assert!(s.values.iter().all(|v| v.is_nan() || v.abs() <= MAX_ABS));
                prop_assert!(s.observed() > 0);
                let f = s.filled(Some(7));
                prop_assert!(f.values.iter().all(|v| v.is_finite()));
            }
        }
    }
}
