//! The least-squares line through points, which several predictors fit.

/// A fitted line `y = y_mean + slope (t - t_mean)` and its sums of squares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Line {
    /// Points fitted.
    pub m: f64,
    /// Mean of the times.
    pub t_mean: f64,
    /// Mean of the values.
    pub y_mean: f64,
    /// Slope (0 when every time is the same).
    pub slope: f64,
    /// Sum of squared time deviations.
    pub sxx: f64,
    /// Sum of squared value deviations.
    pub syy: f64,
    /// Residual sum of squares.
    pub sse: f64,
}

impl Line {
    /// The least-squares line through `points` `(t, y)`.
    pub(crate) fn fit(points: &[(f64, f64)]) -> Line {
        let m = points.len() as f64;
        let (t_mean, y_mean) =
            if m > 0.0 { points.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0 / m, b + p.1 / m)) } else { (0.0, 0.0) };
        let sxx: f64 = points.iter().map(|p| (p.0 - t_mean).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - t_mean) * (p.1 - y_mean)).sum();
        let syy: f64 = points.iter().map(|p| (p.1 - y_mean).powi(2)).sum();
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let sse = points.iter().map(|p| (p.1 - y_mean - slope * (p.0 - t_mean)).powi(2)).sum();
        Line { m, t_mean, y_mean, slope, sxx, syy, sse }
    }

    /// The line's value at `t`.
    pub(crate) fn at(&self, t: f64) -> f64 {
        self.y_mean + self.slope * (t - self.t_mean)
    }

    /// The share of the values' variance the line explains, 0 to 1.
    pub(crate) fn r2(&self) -> f64 {
        if self.syy > 0.0 { (1.0 - self.sse / self.syy).clamp(0.0, 1.0) } else { 0.0 }
    }

    /// The slope's standard error (0 with fewer than 3 points).
    pub(crate) fn slope_se(&self) -> f64 {
        if self.m > 2.0 && self.sxx > 0.0 { (self.sse / (self.m - 2.0) / self.sxx).sqrt() } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_through_points_on_a_line_is_exact() {
        let l = Line::fit(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]);
        assert_eq!((l.slope, l.at(3.0), l.r2(), l.slope_se()), (2.0, 7.0, 1.0, 0.0));
        let noisy = Line::fit(&[(0.0, 1.0), (1.0, 2.0), (2.0, 1.0), (3.0, 2.0)]);
        assert!(noisy.r2() < 0.5 && noisy.slope_se() > 0.0);
        assert_eq!(Line::fit(&[(1.0, 4.0), (1.0, 6.0)]).slope, 0.0);
    }
}
