//! Service-time distributions: their moments for the analytic solver and their samples
//! for the simulator. Times are in milliseconds.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::PerfError;

/// The shape of a service time, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceDist {
    /// Memoryless (coefficient of variation 1).
    Exponential {
        /// Mean.
        mean: f64,
    },
    /// Always the same time.
    Deterministic {
        /// The time.
        value: f64,
    },
    /// Lognormal with this mean and coefficient of variation (a long right tail).
    LogNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation over mean.
        cv: f64,
    },
    /// Gamma with this mean and coefficient of variation.
    Gamma {
        /// Mean.
        mean: f64,
        /// Standard deviation over mean.
        cv: f64,
    },
    /// A histogram: bin `i` covers `upper[i-1]..upper[i]` (the first starts at 0) and holds
    /// `weight[i]` of the requests, spread evenly inside the bin.
    Empirical {
        /// Upper edge of each bin, increasing.
        upper: Vec<f64>,
        /// Share of requests in each bin (any positive scale).
        weight: Vec<f64>,
    },
}

impl ServiceDist {
    /// The usual shape for a mean and coefficient of variation: deterministic at 0,
    /// exponential at 1, gamma otherwise.
    pub fn from_mean_cv(mean: f64, cv: f64) -> ServiceDist {
        if cv == 0.0 {
            ServiceDist::Deterministic { value: mean }
        } else if cv == 1.0 {
            ServiceDist::Exponential { mean }
        } else {
            ServiceDist::Gamma { mean, cv }
        }
    }

    /// Checks the parameters: finite, not negative, a histogram with increasing edges and
    /// some weight. `at` names the place for the message.
    pub fn check(&self, at: &str) -> Result<(), PerfError> {
        let bad = |what: &str, value: f64, expected: &str| {
            Err(PerfError::Model(format!("{at}: {what} is {value}; expected {expected}")))
        };
        let mean_ok = |m: f64| m.is_finite() && m >= 0.0;
        match self {
            ServiceDist::Exponential { mean } if !mean_ok(*mean) => {
                bad("mean", *mean, "a finite time of at least 0 ms")
            }
            ServiceDist::Deterministic { value } if !mean_ok(*value) => {
                bad("time", *value, "a finite time of at least 0 ms")
            }
            ServiceDist::LogNormal { mean, cv } | ServiceDist::Gamma { mean, cv } => {
                if !mean_ok(*mean) {
                    bad("mean", *mean, "a finite time of at least 0 ms")
                } else if !cv.is_finite() || *cv < 0.0 {
                    bad("cv", *cv, "a finite coefficient of variation of at least 0")
                } else {
                    Ok(())
                }
            }
            ServiceDist::Empirical { upper, weight } => {
                if upper.is_empty() || upper.len() != weight.len() {
                    return Err(PerfError::Model(format!(
                        "{at}: a histogram needs as many weights as bins and at least one bin ({} edges, {} weights)",
                        upper.len(),
                        weight.len()
                    )));
                }
                let mut previous = 0.0;
                for (i, &edge) in upper.iter().enumerate() {
                    if !edge.is_finite() || edge <= previous && !(i == 0 && edge == 0.0) {
                        return bad(&format!("bin {i}'s upper edge"), edge, "finite edges increasing from 0");
                    }
                    previous = edge;
                }
                if let Some((i, &w)) = weight.iter().enumerate().find(|(_, w)| !w.is_finite() || **w < 0.0) {
                    return bad(&format!("bin {i}'s weight"), w, "a finite weight of at least 0");
                }
                if weight.iter().sum::<f64>() <= 0.0 {
                    return Err(PerfError::Model(format!("{at}: a histogram needs some weight in some bin")));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Mean time.
    pub fn mean(&self) -> f64 {
        match self {
            ServiceDist::Exponential { mean }
            | ServiceDist::LogNormal { mean, .. }
            | ServiceDist::Gamma { mean, .. } => *mean,
            ServiceDist::Deterministic { value } => *value,
            ServiceDist::Empirical { .. } => self.histogram_moments().0,
        }
    }

    /// Squared coefficient of variation (variance over squared mean); 0 when the mean is 0.
    pub fn scv(&self) -> f64 {
        match self {
            ServiceDist::Exponential { .. } => 1.0,
            ServiceDist::Deterministic { .. } => 0.0,
            ServiceDist::LogNormal { cv, .. } | ServiceDist::Gamma { cv, .. } => cv * cv,
            ServiceDist::Empirical { .. } => {
                let (m1, m2) = self.histogram_moments();
                if m1 == 0.0 { 0.0 } else { (m2 - m1 * m1).max(0.0) / (m1 * m1) }
            }
        }
    }

    /// First and second moments of a histogram, uniform inside each bin.
    fn histogram_moments(&self) -> (f64, f64) {
        let ServiceDist::Empirical { upper, weight } = self else { return (0.0, 0.0) };
        let total: f64 = weight.iter().sum();
        let (mut m1, mut m2, mut lo) = (0.0, 0.0, 0.0);
        for (&hi, &w) in upper.iter().zip(weight) {
            let p = w / total;
            m1 += p * (lo + hi) / 2.0;
            m2 += p * (lo * lo + lo * hi + hi * hi) / 3.0;
            lo = hi;
        }
        (m1, m2)
    }

    /// The same shape sped up by `factor` (a faster core): every time divided by it.
    pub fn scaled(&self, factor: f64) -> ServiceDist {
        match self {
            ServiceDist::Exponential { mean } => ServiceDist::Exponential { mean: mean / factor },
            ServiceDist::Deterministic { value } => ServiceDist::Deterministic { value: value / factor },
            ServiceDist::LogNormal { mean, cv } => ServiceDist::LogNormal { mean: mean / factor, cv: *cv },
            ServiceDist::Gamma { mean, cv } => ServiceDist::Gamma { mean: mean / factor, cv: *cv },
            ServiceDist::Empirical { upper, weight } => {
                ServiceDist::Empirical { upper: upper.iter().map(|u| u / factor).collect(), weight: weight.clone() }
            }
        }
    }

    /// A sampler for the simulator (parameters worked out once).
    pub fn sampler(&self) -> Sampler {
        match self {
            ServiceDist::Exponential { mean } => Sampler::Exponential { mean: *mean },
            ServiceDist::Deterministic { value } => Sampler::Fixed { value: *value },
            ServiceDist::LogNormal { mean, cv } => {
                if *cv == 0.0 || *mean == 0.0 {
                    return Sampler::Fixed { value: *mean };
                }
                let sigma2 = (1.0 + cv * cv).ln();
                Sampler::LogNormal { mu: mean.ln() - sigma2 / 2.0, sigma: sigma2.sqrt() }
            }
            ServiceDist::Gamma { mean, cv } => {
                if *cv == 0.0 || *mean == 0.0 {
                    return Sampler::Fixed { value: *mean };
                }
                let shape = 1.0 / (cv * cv);
                match rand_distr::Gamma::new(shape, mean / shape) {
                    Ok(g) => Sampler::Gamma(g),
                    Err(_) => Sampler::Fixed { value: *mean },
                }
            }
            ServiceDist::Empirical { upper, weight } => {
                let total: f64 = weight.iter().sum();
                let mut acc = 0.0;
                let cumulative = weight
                    .iter()
                    .map(|w| {
                        acc += w / total;
                        acc
                    })
                    .collect();
                Sampler::Histogram { upper: upper.clone(), cumulative }
            }
        }
    }
}

/// Draws service times; built once per station by [`ServiceDist::sampler`].
#[derive(Debug, Clone)]
pub enum Sampler {
    /// Exponential with this mean.
    Exponential {
        /// Mean.
        mean: f64,
    },
    /// Constant.
    Fixed {
        /// The time.
        value: f64,
    },
    /// `exp(mu + sigma Z)`.
    LogNormal {
        /// Location of the log.
        mu: f64,
        /// Scale of the log.
        sigma: f64,
    },
    /// Gamma.
    Gamma(rand_distr::Gamma<f64>),
    /// Inverse of a piecewise-uniform distribution function.
    Histogram {
        /// Upper edges.
        upper: Vec<f64>,
        /// Cumulative shares, the last 1.
        cumulative: Vec<f64>,
    },
}

impl Sampler {
    /// One service time, in milliseconds. The one-line shapes are drawn inline at the
    /// caller; the others in a function of their own, so the simulator's hot path stays
    /// small.
    #[inline(always)]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Sampler::Exponential { mean } => {
                let e: f64 = Exp1.sample(rng);
                e * mean
            }
            Sampler::Fixed { value } => *value,
            _ => self.sample_shaped(rng),
        }
    }

    /// One time of the lognormal, gamma and histogram shapes.
    #[inline(never)]
    fn sample_shaped<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Sampler::Exponential { .. } | Sampler::Fixed { .. } => self.sample(rng),
            Sampler::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Sampler::Gamma(g) => g.sample(rng),
            Sampler::Histogram { upper, cumulative } => {
                let u: f64 = rng.random();
                let bin = cumulative.partition_point(|&c| c < u).min(upper.len() - 1);
                let lo = if bin == 0 { 0.0 } else { upper[bin - 1] };
                let below = if bin == 0 { 0.0 } else { cumulative[bin - 1] };
                let width = cumulative[bin] - below;
                let within = if width > 0.0 { ((u - below) / width).clamp(0.0, 1.0) } else { 0.5 };
                lo + within * (upper[bin] - lo)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn sample_moments(dist: &ServiceDist, n: usize) -> (f64, f64) {
        let sampler = dist.sampler();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let xs: Vec<f64> = (0..n).map(|_| sampler.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        (mean, var / (mean * mean))
    }

    #[test]
    fn samples_have_the_stated_mean_and_variability() {
        let dists = [
            ServiceDist::Exponential { mean: 20.0 },
            ServiceDist::Deterministic { value: 5.0 },
            ServiceDist::LogNormal { mean: 30.0, cv: 0.8 },
            ServiceDist::Gamma { mean: 10.0, cv: 0.5 },
            ServiceDist::Gamma { mean: 10.0, cv: 2.0 },
            ServiceDist::Empirical { upper: vec![10.0, 20.0, 100.0], weight: vec![5.0, 3.0, 2.0] },
        ];
        for dist in &dists {
            let (mean, scv) = sample_moments(dist, 400_000);
            assert!((mean / dist.mean() - 1.0).abs() < 0.01, "{dist:?}: sampled mean {mean} vs {}", dist.mean());
            assert!(
                (scv - dist.scv()).abs() < 0.05 * dist.scv().max(0.2),
                "{dist:?}: sampled scv {scv} vs {}",
                dist.scv()
            );
        }
    }

    #[test]
    fn histogram_moments_by_hand() {
        // Half in 0..10 (mean 5, E[x^2] 100/3), half in 10..20 (mean 15, E[x^2] 700/3).
        let d = ServiceDist::Empirical { upper: vec![10.0, 20.0], weight: vec![1.0, 1.0] };
        assert!((d.mean() - 10.0).abs() < 1e-12);
        let m2 = (100.0 / 3.0 + 700.0 / 3.0) / 2.0;
        assert!((d.scv() - (m2 - 100.0) / 100.0).abs() < 1e-12);
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = ServiceDist::Gamma { mean: 10.0, cv: -1.0 }.check("service/cart GET /cart").unwrap_err();
        assert!(err.to_string().contains("service/cart GET /cart: cv is -1"), "{err}");
        let err = ServiceDist::Empirical { upper: vec![10.0, 5.0], weight: vec![1.0, 1.0] }.check("x").unwrap_err();
        assert!(err.to_string().contains("bin 1's upper edge is 5"), "{err}");
        let err = ServiceDist::Empirical { upper: vec![10.0], weight: vec![0.0] }.check("x").unwrap_err();
        assert!(err.to_string().contains("some weight"), "{err}");
        assert!(ServiceDist::Exponential { mean: f64::NAN }.check("x").is_err());
        assert!(ServiceDist::from_mean_cv(3.0, 0.7).check("x").is_ok());
    }

    #[test]
    fn scaling_divides_every_time() {
        let d = ServiceDist::Empirical { upper: vec![10.0, 20.0], weight: vec![1.0, 3.0] }.scaled(2.0);
        assert!(
            (d.mean() - ServiceDist::Empirical { upper: vec![10.0, 20.0], weight: vec![1.0, 3.0] }.mean() / 2.0).abs()
                < 1e-12
        );
        assert_eq!(ServiceDist::Gamma { mean: 8.0, cv: 0.5 }.scaled(4.0), ServiceDist::Gamma { mean: 2.0, cv: 0.5 });
    }
}
