//! Model drift: what is observed against what the model expects at the observed load,
//! beyond the model's own uncertainty ("cart latency 3.1x what the model expects at this
//! load: something changed").

use crate::PredictError;

/// What the model expects of one figure, with its own band of uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    /// The model's value.
    pub value: f64,
    /// The lowest value still consistent with the model.
    pub low: f64,
    /// The highest value still consistent with the model.
    pub high: f64,
}

impl Expected {
    /// A band, checked: finite numbers with `low <= value <= high`.
    pub fn new(value: f64, low: f64, high: f64) -> Result<Expected, PredictError> {
        if !(value.is_finite() && low.is_finite() && high.is_finite()) || low > value || value > high {
            return Err(PredictError::Invalid(format!(
                "an expected value {value} in [{low}, {high}]: expected finite numbers with low <= value <= high"
            )));
        }
        Ok(Expected { value, low, high })
    }

    /// `value` with a band of `relative` of it either side (0.2: 20%).
    pub fn around(value: f64, relative: f64) -> Result<Expected, PredictError> {
        if !(relative.is_finite() && relative >= 0.0) {
            return Err(PredictError::Invalid(format!("a relative band of {relative}: expected at least 0")));
        }
        let half = value.abs() * relative;
        Expected::new(value, value - half, value + half)
    }
}

/// How far `observed` lies beyond the band, as a ratio: above it, `observed / high`;
/// below it, `-(low / observed)` (a negative ratio: so many times lower than the band
/// allows). `None` inside the band, or when either side is not a finite number or a
/// ratio cannot be told (a band edge at or below 0 on the side crossed: then the
/// distance is measured against the value, or `f64::INFINITY` when that is 0 too).
pub fn diverges(observed: f64, expected: &Expected) -> Option<f64> {
    let finite = [observed, expected.value, expected.low, expected.high].iter().all(|v| v.is_finite());
    if !finite || (expected.low..=expected.high).contains(&observed) {
        return None;
    }
    if observed > expected.high {
        let base = if expected.high > 0.0 { expected.high } else { expected.value.abs() };
        return Some(if base > 0.0 { observed / base } else { f64::INFINITY });
    }
    // Below the band.
    if observed > 0.0 { Some(-(expected.low / observed)) } else { Some(f64::NEG_INFINITY) }
}

/// The figure a divergence is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Mean or percentile latency.
    Latency,
    /// Busy share of servers.
    Utilisation,
    /// Share of requests that fail.
    ErrorRate,
    /// Requests per second.
    Throughput,
}

impl Metric {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Latency => "latency",
            Metric::Utilisation => "utilisation",
            Metric::ErrorRate => "error rate",
            Metric::Throughput => "throughput",
        }
    }
}

/// One figure of one subject beyond what the model expects.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// What it is about (`service/cart`).
    pub subject: String,
    /// The figure.
    pub metric: Metric,
    /// What was observed.
    pub observed: f64,
    /// What the model expected.
    pub expected: Expected,
    /// [`diverges`]' ratio: above 1 over the band, below -1 under it.
    pub ratio: f64,
}

impl Divergence {
    /// The divergence of `observed` from `expected`, if it lies beyond the band.
    pub fn check(subject: &str, metric: Metric, observed: f64, expected: &Expected) -> Option<Divergence> {
        diverges(observed, expected).map(|ratio| Divergence {
            subject: subject.to_string(),
            metric,
            observed,
            expected: *expected,
            ratio,
        })
    }

    /// How many times the model's value the observation is (above 1 higher, below 1 lower).
    pub fn factor(&self) -> f64 {
        if self.expected.value != 0.0 { self.observed / self.expected.value } else { f64::INFINITY }
    }

    /// One line: "service/cart latency 3.1x what the model expects at this load (120 ms
    /// vs 39 ms, band 30 to 50 ms)"; the unit is left to the caller (`unit` may be "").
    pub fn message(&self, unit: &str) -> String {
        let f = self.factor();
        let how = if f >= 1.0 {
            format!("{}x what the model expects", short(f))
        } else if f > 0.0 {
            format!("{}x lower than the model expects", short(1.0 / f))
        } else {
            "far below what the model expects".to_string()
        };
        let e = &self.expected;
        format!(
            "{} {} {how} at this load ({}{unit} vs {}{unit}, band {} to {}{unit}): something changed",
            self.subject,
            self.metric.name(),
            short(self.observed),
            short(e.value),
            short(e.low),
            short(e.high)
        )
    }
}

/// A number with two significant decimals at most, for messages.
fn short(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let s = if v.abs() >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") };
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// The divergences of several figures, furthest first (by how many times beyond the band).
pub fn report(checks: &[(&str, Metric, f64, Expected)]) -> Vec<Divergence> {
    let mut out: Vec<Divergence> = checks
        .iter()
        .filter_map(|(subject, metric, observed, e)| Divergence::check(subject, *metric, *observed, e))
        .collect();
    out.sort_by(|a, b| b.ratio.abs().total_cmp(&a.ratio.abs()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_the_band_is_no_divergence() {
        let e = Expected::new(40.0, 30.0, 50.0).unwrap();
        for v in [30.0, 40.0, 50.0] {
            assert_eq!(diverges(v, &e), None, "{v}");
        }
        assert_eq!(diverges(f64::NAN, &e), None);
    }

    #[test]
    fn beyond_the_band_is_a_ratio_to_its_edge() {
        let e = Expected::new(40.0, 30.0, 50.0).unwrap();
        assert_eq!(diverges(150.0, &e), Some(3.0));
        assert_eq!(diverges(15.0, &e), Some(-2.0));
        assert_eq!(diverges(0.0, &e), Some(f64::NEG_INFINITY));
        // A band from 0: above it, measured against the value when the edge is 0.
        let zero = Expected::new(0.0, 0.0, 0.0).unwrap();
        assert_eq!(diverges(0.1, &zero), Some(f64::INFINITY));
        let errors = Expected::new(0.01, 0.0, 0.02).unwrap();
        assert_eq!(diverges(0.1, &errors), Some(5.0));
    }

    #[test]
    fn bad_bands_are_refused() {
        assert!(Expected::new(1.0, 2.0, 3.0).is_err());
        assert!(Expected::new(f64::NAN, 0.0, 3.0).is_err());
        assert!(Expected::around(1.0, -0.1).is_err());
        let e = Expected::around(100.0, 0.2).unwrap();
        assert_eq!((e.low, e.high), (80.0, 120.0));
    }

    #[test]
    fn messages_say_how_many_times_and_the_band() {
        let e = Expected::new(39.0, 30.0, 50.0).unwrap();
        let d = Divergence::check("service/cart", Metric::Latency, 120.0, &e).unwrap();
        assert_eq!(d.ratio, 2.4);
        let m = d.message(" ms");
        assert!(m.starts_with("service/cart latency 3.08x what the model expects at this load"), "{m}");
        assert!(m.contains("(120 ms vs 39 ms, band 30 to 50 ms)"), "{m}");
        let d = Divergence::check("service/cart", Metric::Throughput, 10.0, &e).unwrap();
        assert!(d.message("").contains("3.9x lower than"), "{}", d.message(""));
    }

    #[test]
    fn reports_put_the_furthest_first() {
        let band = Expected::new(10.0, 8.0, 12.0).unwrap();
        let r = report(&[
            ("a", Metric::Latency, 11.0, band),
            ("b", Metric::Latency, 24.0, band),
            ("c", Metric::ErrorRate, 2.0, band),
            ("d", Metric::Utilisation, 13.2, band),
        ]);
        let order: Vec<&str> = r.iter().map(|d| d.subject.as_str()).collect();
        assert_eq!(order, ["c", "b", "d"]);
    }
}
