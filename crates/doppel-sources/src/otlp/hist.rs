//! A log-linear histogram of durations in microseconds: 32 buckets per power of two, so a
//! quantile read from it is within about 1.6% of the true value (the bucket's middle).
//! Memory grows with the largest value seen: about 2 KB up to a minute.

/// Bits of the value kept below its highest set bit.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

/// Counts of durations, in log-linear buckets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hist {
    counts: Vec<u64>,
    total: u64,
}

fn bucket(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let msb = 63 - us.leading_zeros();
    let shift = msb - SUB_BITS;
    ((u64::from(shift) + 1) * SUB + ((us >> shift) & (SUB - 1))) as usize
}

/// The range of values `[low, high)` a bucket holds.
fn range(index: usize) -> (f64, f64) {
    let index = index as u64;
    if index < SUB {
        return (index as f64, index as f64 + 1.0);
    }
    let shift = index / SUB - 1;
    let mantissa = SUB + index % SUB;
    let low = (mantissa << shift) as f64;
    (low, low + (1u64 << shift) as f64)
}

impl Hist {
    /// Counts one duration.
    pub(crate) fn add(&mut self, us: u64) {
        let index = bucket(us);
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += 1;
        self.total += 1;
    }

    /// The `q` quantile (0 to 1) in microseconds: the middle of the bucket holding the
    /// value of rank `ceil(q * total)`; `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = range(index);
                return Some(if index < SUB as usize { low } else { (low + high) / 2.0 });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values() {
        for us in [0u64, 1, 31, 32, 33, 63, 64, 100, 1_000, 65_535, 1 << 40, (1 << 62) + 12_345] {
            let (low, high) = range(bucket(us));
            assert!(low <= us as f64 && (us as f64) < high + 1.0, "{us} in [{low}, {high})");
        }
        let mut last = 0;
        for us in 0..100_000u64 {
            let b = bucket(us);
            assert!(b >= last, "buckets grow with the value");
            last = b;
        }
    }

    #[test]
    fn quantiles_are_within_two_percent() {
        let mut hist = Hist::default();
        for us in 1..=10_000u64 {
            hist.add(us * 10);
        }
        for (q, exact) in [(0.5, 50_000.0), (0.99, 99_000.0), (1.0, 100_000.0)] {
            let got = hist.quantile(q).expect("values were added");
            assert!((got - exact).abs() / exact < 0.02, "q{q}: {got} vs {exact}");
        }
        assert_eq!(Hist::default().quantile(0.5), None);
        assert_eq!(hist.total, 10_000);
    }
}
