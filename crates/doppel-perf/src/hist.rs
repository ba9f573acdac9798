//! A high-dynamic-range latency histogram: log-linear buckets (128 per power of two, so
//! any recorded value is known within 0.4%) from 1 microsecond to about 9 hours, read
//! straight from the bits of an `f64`. Recording costs a shift and an increment, which
//! matters at tens of millions of events per second.

/// Sub-buckets per power of two: 2^7.
const SUB_BITS: u32 = 7;
/// The smallest value kept apart, in ms: 2^-10 ms (about 1 microsecond).
const LOW_EXP: i32 = -10;
/// Powers of two covered: up to 2^25 ms (about 9.3 hours).
const OCTAVES: usize = 35;
const LEN: usize = OCTAVES << SUB_BITS;
/// `bits >> (52 - SUB_BITS)` of the smallest value kept apart.
const BASE: u64 = (((LOW_EXP + 1023) as u64) << 52) >> (52 - SUB_BITS);

/// Counts of times in milliseconds; values below 2^-10 ms count in the first bucket and
/// above 2^25 ms in the last.
#[derive(Clone, PartialEq)]
pub struct LatencyHistogram {
    counts: Box<[u32; LEN]>,
    total: u64,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LatencyHistogram({} values, p50 {:.3} ms)", self.total, self.quantile(0.5))
    }
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        LatencyHistogram { counts: Box::new([0; LEN]), total: 0 }
    }

    /// Counts one time, in ms (negative or NaN counts as the smallest).
    #[inline]
    pub fn record(&mut self, ms: f64) {
        let i = ((ms.max(0.0).to_bits() >> (52 - SUB_BITS)).saturating_sub(BASE) as usize).min(LEN - 1);
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
    }

    /// Values counted.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds another histogram's counts.
    pub fn add(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
    }

    /// The middle of bucket `i`, in ms.
    fn middle(i: usize) -> f64 {
        let low = f64::from_bits((i as u64 + BASE) << (52 - SUB_BITS));
        let high = f64::from_bits((i as u64 + 1 + BASE) << (52 - SUB_BITS));
        (low + high) / 2.0
    }

    /// The value below which a share `q` (0 to 1) of the counts fall, in ms; NaN when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return f64::NAN;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return LatencyHistogram::middle(i);
            }
        }
        LatencyHistogram::middle(LEN - 1)
    }

    /// Mean from the buckets' middles, in ms; NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            return f64::NAN;
        }
        let sum: f64 = self.counts.iter().enumerate().map(|(i, &c)| f64::from(c) * LatencyHistogram::middle(i)).sum();
        sum / self.total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_of_a_uniform_run() {
        let mut h = LatencyHistogram::new();
        for i in 1..=10_000 {
            h.record(f64::from(i) / 10.0); // 0.1 .. 1000 ms
        }
        for (q, exact) in [(0.5, 500.0), (0.9, 900.0), (0.99, 990.0), (0.001, 1.0)] {
            let got = h.quantile(q);
            assert!((got / exact - 1.0).abs() < 0.005, "q{q}: {got} vs {exact}");
        }
        assert!((h.mean() / 500.05 - 1.0).abs() < 0.005);
        assert_eq!(h.len(), 10_000);
    }

    #[test]
    fn extremes_are_clamped_not_lost() {
        let mut h = LatencyHistogram::new();
        for v in [0.0, -5.0, f64::NAN, 1e-9, 1e12, f64::INFINITY] {
            h.record(v);
        }
        assert_eq!(h.len(), 6);
        assert!(h.quantile(0.0) < 0.002);
        assert!(h.quantile(1.0) > 3e7);
        assert!(LatencyHistogram::new().quantile(0.5).is_nan());
    }

    proptest! {
        #[test]
        fn any_value_lands_within_half_a_percent(v in 0.002f64..3.0e7) {
            let mut h = LatencyHistogram::new();
            h.record(v);
            prop_assert!((h.quantile(0.5) / v - 1.0).abs() < 0.004, "{} vs {}", h.quantile(0.5), v);
        }

        #[test]
        fn merging_adds_counts(a in proptest::collection::vec(0.01f64..1e5, 0..50), b in proptest::collection::vec(0.01f64..1e5, 0..50)) {
            let (mut x, mut y, mut all) = (LatencyHistogram::new(), LatencyHistogram::new(), LatencyHistogram::new());
            a.iter().for_each(|v| { x.record(*v); all.record(*v) });
            b.iter().for_each(|v| { y.record(*v); all.record(*v) });
            x.add(&y);
            prop_assert_eq!(x, all);
        }
    }
}
