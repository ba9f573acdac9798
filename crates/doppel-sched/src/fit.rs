//! The part of a node's score that depends only on the node's requests and the pod's:
//! NodeResourcesFit's filter and LeastAllocated score, and BalancedAllocation. Pods of
//! one workload request the same, so these are kept per distinct request and a node's
//! are computed again when its pods change.

use crate::bits::Bits;
use crate::{Hot, Req};
use std::borrow::Cow;

/// The fit score of a node the pod does not fit (too few pod slots or resources).
pub(crate) const NO_FIT: i32 = -1;

/// How many distinct requests are kept; the least recently used goes first.
const CLASSES: usize = 8;

/// `NodeResourcesFit` as a filter: pod slots, then cpu, memory and ephemeral storage
/// (only what the pod requests is checked; a pod requesting nothing fits a full node).
pub(crate) fn fits(node: &Hot, req: &Req) -> bool {
    if node.max_pods > 0 && node.count >= node.max_pods {
        return false;
    }
    req.is_zero()
        || !((req.cpu > 0 && req.cpu > node.alloc_cpu.saturating_sub(node.req_cpu))
            || (req.mem > 0 && req.mem > node.alloc_mem.saturating_sub(node.req_mem))
            || (req.eph > 0 && req.eph > node.alloc_eph.saturating_sub(node.req_eph)))
}

/// LeastAllocated plus BalancedAllocation (both of weight 1) where the pod fits, else
/// [`NO_FIT`].
pub(crate) fn fit_score(node: &Hot, req: &Req) -> i32 {
    if !fits(node, req) {
        return NO_FIT;
    }
    let score = least_allocated(node, req) + balanced_allocation(node, req);
    // Both are shares of non-negative requests in allocatable amounts.
    assert!((0..=i64::from(MAX_FIT)).contains(&score), "fit score {score} out of range");
    score as i32
}

/// `part * 100 / whole`, rounded down, for `0 <= part <= whole` and `whole > 0`;
/// `inverse` is about `1 / whole`. Estimated in floating point and corrected, which
/// is exact and cheaper than an integer division.
fn percent(part: i64, whole: i64, inverse: f64) -> i64 {
    const LIMIT: i64 = i64::MAX / 128;
    if part > LIMIT || whole > LIMIT {
        return (i128::from(part) * 100 / i128::from(whole)) as i64;
    }
    let scaled = part * 100;
    let mut q = (scaled as f64 * inverse) as i64;
    while q > 0 && q * whole > scaled {
        q -= 1;
    }
    while (q + 1) * whole <= scaled {
        q += 1;
    }
    q
}

/// NodeResourcesFit's LeastAllocated score: the free share of cpu and memory after
/// the pod, averaged (pods that request nothing count as 100m and 200 MiB).
pub(crate) fn least_allocated(node: &Hot, req: &Req) -> i64 {
    let mut score = 0;
    let mut weight = 0;
    let pairs = [
        (node.alloc_cpu, node.nz_cpu.saturating_add(req.nz_cpu), node.inv_cpu),
        (node.alloc_mem, node.nz_mem.saturating_add(req.nz_mem), node.inv_mem),
    ];
    for (alloc, requested, inverse) in pairs {
        if alloc <= 0 {
            continue;
        }
        weight += 1;
        if requested <= alloc {
            score += percent(alloc - requested, alloc, inverse);
        }
    }
    if weight == 2 { score / 2 } else { score }
}

/// NodeResourcesBalancedAllocation: 100 x (1 - the standard deviation of the cpu and
/// memory shares requested after the pod), in the scheduler's floating-point steps.
pub(crate) fn balanced_allocation(node: &Hot, req: &Req) -> i64 {
    let pairs = [
        (node.alloc_cpu, node.req_cpu.saturating_add(req.cpu)),
        (node.alloc_mem, node.req_mem.saturating_add(req.mem)),
    ];
    let mut fractions = [0.0f64; 2];
    let mut n = 0;
    for (alloc, requested) in pairs {
        if alloc <= 0 {
            continue;
        }
        fractions[n] = (requested as f64 / alloc as f64).min(1.0);
        n += 1;
    }
    let std = if n == 2 { (fractions[0] - fractions[1]).abs() / 2.0 } else { 0.0 };
    ((1.0 - std) * 100.0) as i64
}

/// The highest fit score (LeastAllocated and BalancedAllocation at 100 each).
pub(crate) const MAX_FIT: i32 = 200;

/// Fit scores of every node for pods of one request, and the nodes by score.
#[derive(Debug, Clone)]
pub(crate) struct FitClass {
    req: Req,
    /// Per node, its fit score or [`NO_FIT`].
    pub(crate) scores: Vec<i32>,
    /// The nodes the pod fits.
    pub(crate) fits: Bits,
    /// Per fit score from 0 to [`MAX_FIT`], the nodes with that score as a row of
    /// `words` words, all rows in one array.
    by_score: Vec<u64>,
    words: usize,
    /// Per fit score, how many nodes have it.
    pub(crate) with_score: Vec<u32>,
    last_used: u64,
}

impl FitClass {
    fn new(hot: &[Hot], req: &Req, clock: u64) -> FitClass {
        let n = hot.len();
        let words = n.div_ceil(64);
        let rows = MAX_FIT as usize + 1;
        let mut class = FitClass {
            req: *req,
            scores: vec![NO_FIT; n],
            fits: Bits::zeros(n),
            by_score: vec![0; rows * words],
            words,
            with_score: vec![0; rows],
            last_used: clock,
        };
        for (i, node) in hot.iter().enumerate() {
            class.put(i, fit_score(node, req));
        }
        class
    }

    /// The nodes with fit score `score`, a bit per node.
    pub(crate) fn with(&self, score: i32) -> &[u64] {
        let start = score as usize * self.words;
        &self.by_score[start..start + self.words]
    }

    /// Gives node `i` its new score.
    fn put(&mut self, i: usize, score: i32) {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let old = self.scores[i];
        if old != NO_FIT {
            self.by_score[old as usize * self.words + word] &= !bit;
            self.with_score[old as usize] -= 1;
        }
        if score != NO_FIT {
            self.by_score[score as usize * self.words + word] |= bit;
            self.with_score[score as usize] += 1;
        }
        self.fits.set(i, score != NO_FIT);
        self.scores[i] = score;
    }

    /// Adds a node slot at the end, with no score yet.
    fn push(&mut self) {
        let n = self.scores.len();
        if (n + 1).div_ceil(64) > self.words {
            // Every row gets one more word.
            let rows = MAX_FIT as usize + 1;
            let mut wider = vec![0; rows * (self.words + 1)];
            for row in 0..rows {
                let old = &self.by_score[row * self.words..(row + 1) * self.words];
                wider[row * (self.words + 1)..row * (self.words + 1) + self.words].copy_from_slice(old);
            }
            self.by_score = wider;
            self.words += 1;
        }
        self.scores.push(NO_FIT);
        self.fits.push(false);
    }
}

/// Fit scores for the last few distinct requests placed, kept up to date.
#[derive(Debug, Clone, Default)]
pub(crate) struct FitCache {
    classes: Vec<FitClass>,
    clock: u64,
}

impl FitCache {
    /// Node `i`'s requests or pod count changed to those of `node`.
    pub(crate) fn update(&mut self, i: usize, node: &Hot) {
        for class in &mut self.classes {
            let score = fit_score(node, &class.req);
            class.put(i, score);
        }
    }

    /// A node was added after the others.
    pub(crate) fn push_node(&mut self, node: &Hot) {
        for class in &mut self.classes {
            class.push();
            let score = fit_score(node, &class.req);
            class.put(class.scores.len() - 1, score);
        }
    }

    /// The last node was removed.
    pub(crate) fn pop_node(&mut self) {
        for class in &mut self.classes {
            let last = class.scores.len() - 1;
            class.put(last, NO_FIT);
            class.scores.pop();
            class.fits.pop();
        }
    }

    /// The fit scores for `req` (kept for next time).
    pub(crate) fn class(&mut self, hot: &[Hot], req: &Req) -> &FitClass {
        self.clock += 1;
        let clock = self.clock;
        let found = match self.classes.iter().position(|c| c.req == *req) {
            Some(found) => found,
            None if self.classes.len() < CLASSES => {
                self.classes.push(FitClass::new(hot, req, clock));
                self.classes.len() - 1
            }
            None => {
                let oldest = (0..self.classes.len()).min_by_key(|&c| self.classes[c].last_used).unwrap_or(0);
                self.classes[oldest] = FitClass::new(hot, req, clock);
                oldest
            }
        };
        let class = &mut self.classes[found];
        class.last_used = clock;
        class
    }

    /// The fit scores for `req`, without keeping anything: from the cache where it
    /// holds `req`, else computed.
    pub(crate) fn peek(&self, hot: &[Hot], req: &Req) -> Cow<'_, FitClass> {
        match self.classes.iter().find(|c| c.req == *req) {
            Some(class) => Cow::Borrowed(class),
            None => Cow::Owned(FitClass::new(hot, req, 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot(cpu: i64, mem: i64) -> Hot {
        Hot {
            alloc_cpu: cpu,
            alloc_mem: mem,
            inv_cpu: 1.0 / cpu as f64,
            inv_mem: 1.0 / mem as f64,
            max_pods: 10,
            ..Hot::default()
        }
    }

    fn req(cpu: i64, mem: i64) -> Req {
        Req { cpu, mem, eph: 0, nz_cpu: cpu, nz_mem: mem }
    }

    /// The class holds these scores, and its sets agree with them.
    fn check(class: &FitClass, expected: &[i32], round: usize) {
        assert_eq!(class.scores, expected, "round {round}");
        for (i, &score) in expected.iter().enumerate() {
            assert_eq!(class.fits.get(i), score != NO_FIT, "round {round}");
            for s in 0..=MAX_FIT {
                let row = class.with(s);
                assert_eq!(row[i / 64] >> (i % 64) & 1 == 1, score == s, "round {round}");
            }
        }
        for s in 0..=MAX_FIT {
            let set: u32 = class.with(s).iter().map(|w| w.count_ones()).sum();
            assert_eq!(set, class.with_score[s as usize], "round {round}");
        }
    }

    #[test]
    fn cached_scores_follow_changed_nodes_and_many_requests() {
        // Enough nodes that some come and go across a word of the per-score sets.
        let kinds = [hot(4000, 8 << 30), hot(2000, 8 << 30), hot(1000, 1 << 30)];
        let mut nodes: Vec<Hot> = (0..62).map(|i| kinds[i % 3]).collect();
        let mut cache = FitCache::default();
        let fresh = |nodes: &[Hot], r: &Req| nodes.iter().map(|n| fit_score(n, r)).collect::<Vec<_>>();
        // More distinct requests than the cache keeps, revisited in turn.
        let reqs: Vec<Req> = (1..=CLASSES as i64 + 3).map(|k| req(250 * k, k << 28)).collect();
        for round in 0..60usize {
            let r = reqs[(round * 7) % reqs.len()];
            let expected = fresh(&nodes, &r);
            check(&cache.peek(&nodes, &r), &expected, round);
            check(cache.class(&nodes, &r), &expected, round);
            // A pod lands on one node; now and then a node comes or goes.
            let n = (round * 5) % nodes.len();
            nodes[n].req_cpu += r.cpu;
            nodes[n].req_mem += r.mem;
            nodes[n].nz_cpu += r.nz_cpu;
            nodes[n].nz_mem += r.nz_mem;
            nodes[n].count += 1;
            cache.update(n, &nodes[n]);
            if round % 9 == 4 || round % 9 == 5 {
                nodes.push(hot(8000, 16 << 30));
                cache.push_node(&nodes[nodes.len() - 1]);
            } else if round % 9 == 8 && nodes.len() > 1 {
                nodes.pop();
                cache.pop_node();
            }
        }
        assert!(cache.classes.len() <= CLASSES);
        assert!(cache.class(&nodes, &reqs[0]).scores.contains(&NO_FIT), "some node is full by now");
    }

    #[test]
    fn percent_is_integer_division() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let whole = (next() % (1 << (next() % 62))) as i64 + 1;
            let part = (next() as i64).rem_euclid(whole + 1);
            let expected = (i128::from(part) * 100 / i128::from(whole)) as i64;
            assert_eq!(percent(part, whole, 1.0 / whole as f64), expected, "{part}/{whole}");
        }
        for (part, whole) in [(0, 1), (1, 1), (2, 3), (i64::MAX, i64::MAX), (i64::MAX - 1, i64::MAX), (7, 700)] {
            assert_eq!(percent(part, whole, 1.0 / whole as f64), (i128::from(part) * 100 / i128::from(whole)) as i64);
        }
    }
}
