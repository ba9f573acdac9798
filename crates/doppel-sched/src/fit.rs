//! The part of a node's score that depends only on the node's requests and the pod's:
//! NodeResourcesFit's filter and LeastAllocated score, and BalancedAllocation. Pods of
//! one workload request the same, so these are kept per distinct request and only the
//! nodes whose pods changed since are computed again.

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
    /// Per fit score from 0 to [`MAX_FIT`], the nodes with that score, and how many.
    pub(crate) by_score: Vec<Bits>,
    pub(crate) with_score: Vec<u32>,
    /// Nodes whose scores are out of date, each once.
    stale: Vec<u32>,
    is_stale: Vec<bool>,
    last_used: u64,
}

impl FitClass {
    fn new(hot: &[Hot], req: &Req, clock: u64) -> FitClass {
        let n = hot.len();
        let mut class = FitClass {
            req: *req,
            scores: vec![NO_FIT; n],
            fits: Bits::zeros(n),
            by_score: vec![Bits::zeros(n); MAX_FIT as usize + 1],
            with_score: vec![0; MAX_FIT as usize + 1],
            stale: Vec::new(),
            is_stale: vec![false; n],
            last_used: clock,
        };
        for (i, node) in hot.iter().enumerate() {
            class.put(i, fit_score(node, req));
        }
        class
    }

    /// Gives node `i` its new score.
    fn put(&mut self, i: usize, score: i32) {
        let old = self.scores[i];
        if old != NO_FIT {
            self.by_score[old as usize].set(i, false);
            self.with_score[old as usize] -= 1;
        }
        if score != NO_FIT {
            self.by_score[score as usize].set(i, true);
            self.with_score[score as usize] += 1;
        }
        self.fits.set(i, score != NO_FIT);
        self.scores[i] = score;
    }

    fn refresh(&mut self, hot: &[Hot]) {
        while let Some(i) = self.stale.pop() {
            let i = i as usize;
            self.put(i, fit_score(&hot[i], &self.req));
            self.is_stale[i] = false;
        }
    }

    fn mark(&mut self, i: usize) {
        if !self.is_stale[i] {
            self.is_stale[i] = true;
            self.stale.push(i as u32);
        }
    }
}

/// Fit scores for the last few distinct requests placed.
#[derive(Debug, Clone, Default)]
pub(crate) struct FitCache {
    classes: Vec<FitClass>,
    clock: u64,
}

impl FitCache {
    /// A node's requests or pod count changed: its scores are out of date.
    pub(crate) fn touch(&mut self, node: usize) {
        for class in &mut self.classes {
            class.mark(node);
        }
    }

    /// A node was added after the others.
    pub(crate) fn push_node(&mut self) {
        for class in &mut self.classes {
            let i = class.scores.len();
            class.scores.push(NO_FIT);
            class.fits.push(false);
            for bits in &mut class.by_score {
                bits.push(false);
            }
            class.is_stale.push(false);
            class.mark(i);
        }
    }

    /// The last node was removed.
    pub(crate) fn pop_node(&mut self) {
        for class in &mut self.classes {
            let last = class.scores.len() - 1;
            class.put(last, NO_FIT);
            class.scores.pop();
            class.fits.pop();
            for bits in &mut class.by_score {
                bits.pop();
            }
            class.is_stale.pop();
            class.stale.retain(|&i| (i as usize) < last);
        }
    }

    /// The fit scores for `req`, brought up to date (and kept for next time).
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
        class.refresh(hot);
        class
    }

    /// The fit scores for `req`, without keeping anything: from the cache where it
    /// holds `req` and is up to date, else computed.
    pub(crate) fn peek(&self, hot: &[Hot], req: &Req) -> Cow<'_, FitClass> {
        match self.classes.iter().find(|c| c.req == *req) {
            Some(class) if class.stale.is_empty() => Cow::Borrowed(class),
            Some(class) => {
                let mut class = class.clone();
                class.refresh(hot);
                Cow::Owned(class)
            }
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
            for (s, bits) in class.by_score.iter().enumerate() {
                assert_eq!(bits.get(i), score == s as i32, "round {round}");
            }
        }
        for (s, bits) in class.by_score.iter().enumerate() {
            assert_eq!(bits.count(), class.with_score[s] as usize, "round {round}");
        }
    }

    #[test]
    fn cached_scores_follow_changed_nodes_and_many_requests() {
        let mut nodes = vec![hot(4000, 8 << 30), hot(2000, 8 << 30), hot(1000, 1 << 30)];
        let mut cache = FitCache::default();
        let fresh = |nodes: &[Hot], r: &Req| nodes.iter().map(|n| fit_score(n, r)).collect::<Vec<_>>();
        // More distinct requests than the cache keeps, revisited in turn.
        let reqs: Vec<Req> = (1..=CLASSES as i64 + 3).map(|k| req(250 * k, k << 28)).collect();
        for round in 0..40usize {
            let r = reqs[(round * 7) % reqs.len()];
            let expected = fresh(&nodes, &r);
            check(&cache.peek(&nodes, &r), &expected, round);
            check(cache.class(&nodes, &r), &expected, round);
            // A pod lands on one node; now and then a node comes or goes.
            let n = round % nodes.len();
            nodes[n].req_cpu += r.cpu;
            nodes[n].req_mem += r.mem;
            nodes[n].nz_cpu += r.nz_cpu;
            nodes[n].nz_mem += r.nz_mem;
            nodes[n].count += 1;
            cache.touch(n);
            if round % 9 == 4 {
                nodes.push(hot(8000, 16 << 30));
                cache.push_node();
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
