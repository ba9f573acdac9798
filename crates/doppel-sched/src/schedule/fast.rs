//! The scoring of the feasible nodes without visiting each of them.
//!
//! A feasible node's total is its fit score (LeastAllocated plus BalancedAllocation,
//! kept per request) plus what its taint class, its inter-pod sum and its soft spread
//! score are worth once normalised. The normalisations need the extremes over every
//! feasible node, but those three only vary from node to node where a count is kept
//! per node (inter-pod terms on keys with one node per domain, soft spread on the
//! hostname) and is not zero there; elsewhere they are the same across a whole cell:
//! one taint score, one domain of each key involved (keys with few domains, kept as
//! node sets). So the extremes come from one node per cell plus the counted nodes. The
//! best node is then sought from the highest possible total down (a fit score plus
//! what the cell, or at most what a counted node of that taint score, can add),
//! stopping once nothing left can reach the best found.
//!
//! Pods whose terms are on other keys (many domains, shared by several nodes) go
//! through the pass over every node in `decide`.

use super::{DomainFilter, InterPodParts, PodQuery, at, pick};
use crate::bits::Bits;
use crate::fit::{FitClass, MAX_FIT};
use crate::{Cluster, KeyIndex};
use std::borrow::Cow;

/// How a soft spread constraint reads a node's count of matching pods.
enum SoftCount<'a> {
    /// Per node (for the hostname key).
    Node(Cow<'a, [u32]>),
    /// Per domain of a key with few domains.
    Domain(&'a KeyIndex, Cow<'a, [i64]>),
}

/// PodTopologySpread's score for soft constraints, as `spread_scores` computes it:
/// per constraint, the count read, its weight and the tolerance added.
pub(super) struct SoftParts<'a> {
    terms: Vec<(SoftCount<'a>, f64, f64)>,
    /// The nodes with every key of the constraints (the others score 0).
    scored: Bits,
    /// The nodes where some per-node count is not zero (or a superset).
    counted: Bits,
}

impl SoftParts<'_> {
    /// The raw score of node `i`, before normalisation; `None` if not scored.
    fn raw(&self, i: usize) -> Option<i64> {
        if !self.scored.get(i) {
            return None;
        }
        let mut raw = 0f64;
        for (count, weight, tolerance) in &self.terms {
            let count = match count {
                SoftCount::Node(live) => f64::from(live[i]),
                SoftCount::Domain(index, counts) => at(counts, index.domain[i]) as f64,
            };
            raw += count * weight + tolerance;
        }
        Some(raw.round() as i64)
    }
}

impl Cluster {
    /// Whether each soft spread constraint of the pod is on the hostname, on a key with
    /// few domains, or on a key no node has.
    pub(super) fn soft_coarse(&self, q: &PodQuery) -> bool {
        q.soft.iter().all(|c| c.key == self.hostname || self.key_index(c.key).is_none_or(|k| self.keys[k].is_coarse()))
    }

    /// The soft spread constraints' score terms over the feasible nodes (`allowed`: the
    /// nodes the pod's node rules allow, if it has some); see `spread_scores`.
    pub(super) fn soft_parts(&self, q: &PodQuery, feasible: &Bits, allowed: Option<&Bits>) -> SoftParts<'_> {
        let n = self.nodes.len();
        if q.soft.is_empty() {
            return SoftParts { terms: Vec::new(), scored: Bits::zeros(n), counted: Bits::zeros(n) };
        }
        let keys: Vec<Option<usize>> = q.soft.iter().map(|c| self.key_index(c.key)).collect();
        let mut scored = Bits::ones(n);
        for key in &keys {
            match key {
                Some(k) => scored.and(&self.keys[*k].keyed),
                None => scored = Bits::zeros(n),
            }
        }
        let mut kept_set = scored.clone();
        kept_set.and(feasible);
        let kept = kept_set.count();
        // Counts come from every node with the key when there are no node rules and one
        // key, else from the nodes the rules allow that have every key.
        let fast = allowed.is_none() && keys.iter().all(|k| *k == keys[0]);
        let mut eligible = scored.clone();
        if let Some(allowed) = allowed {
            eligible.and(allowed);
        }
        let mut soft = SoftParts { terms: Vec::new(), scored, counted: Bits::zeros(n) };
        for (c, key) in q.soft.iter().zip(&keys) {
            let Some(key) = *key else { continue };
            let tolerance = f64::from(c.max_skew) - 1.0;
            if c.key == self.hostname {
                let (live, any) = self.counts_where(q.ns, &c.selector, true);
                soft.counted.or(&any);
                soft.terms.push((SoftCount::Node(live), ((kept + 2) as f64).ln(), tolerance));
                continue;
            }
            let index = &self.keys[key];
            let present: Vec<bool> = index.members.iter().map(|members| kept_set.intersects(members)).collect();
            let size = present.iter().filter(|&&p| p).count();
            let counts: Cow<'_, [i64]> = if fast {
                pick(self.domains(q.ns, &c.selector, key), true).0
            } else {
                let (live, any) = self.counts_where(q.ns, &c.selector, true);
                let mut counts = vec![0i64; index.len()];
                for i in eligible.iter_common_words(any.words()) {
                    let d = index.domain[i] as usize;
                    if present[d] {
                        counts[d] += i64::from(live[i]);
                    }
                }
                Cow::Owned(counts)
            };
            soft.terms.push((SoftCount::Domain(index, counts), ((size + 2) as f64).ln(), tolerance));
        }
        soft
    }

    /// The feasible nodes as a set: taint classes the pod may use, nodes it fits, the
    /// nodes its node rules allow, then each domain filter.
    pub(super) fn feasible_set(
        &self,
        taints: &[i32],
        fit: &FitClass,
        allowed: Option<&Bits>,
        filters: &[DomainFilter<'_>],
    ) -> Bits {
        let n = self.nodes.len();
        let mut feasible = Bits::zeros(n);
        for (members, &verdict) in self.taint_members.iter().zip(taints) {
            if verdict >= 0 {
                feasible.or(members);
            }
        }
        feasible.and(&fit.fits);
        if let Some(allowed) = allowed {
            feasible.and(allowed);
        }
        for filter in filters {
            if feasible.is_empty() {
                break;
            }
            feasible.and(&filter.bits());
        }
        feasible
    }

    /// The best of the (several) feasible nodes, as `best` would find it.
    pub(super) fn best_of_set(
        &self,
        feasible: &Bits,
        fit: &FitClass,
        taints: &[i32],
        parts: &InterPodParts<'_>,
        soft: &SoftParts<'_>,
    ) -> u32 {
        let prefer = |i: usize| taints[self.taint_class[i] as usize];
        let mut counted = soft.counted.clone();
        for fine in &parts.fine {
            counted.or(&fine.any);
        }
        counted.and(feasible);
        let mut plain = feasible.clone();
        plain.and_not(&counted);
        let by_prefer = self.by_prefer(taints);
        let cells = self.cells(&plain, &by_prefer, parts, soft);
        // The extremes of the untolerated PreferNoSchedule taints, of the inter-pod sums
        // and of the soft spread scores over the feasible nodes: one node per cell, and
        // every counted node.
        let mut max_prefer = cells.iter().filter_map(Bits::first).map(prefer).max().unwrap_or(0);
        for (p, members) in &by_prefer {
            if *p > max_prefer && members.intersects(&counted) {
                max_prefer = *p;
            }
        }
        let (mut min_raw, mut max_raw) = if parts.is_empty() { (0, 0) } else { (i64::MAX, i64::MIN) };
        let (mut min_soft, mut max_soft, mut any_soft) = (i64::MAX, 0, false);
        if !parts.is_empty() || !soft.terms.is_empty() {
            for i in cells.iter().filter_map(Bits::first).chain(counted.iter()) {
                let raw = parts.raw(i);
                min_raw = min_raw.min(raw);
                max_raw = max_raw.max(raw);
                if let Some(raw) = soft.raw(i) {
                    min_soft = min_soft.min(raw);
                    max_soft = max_soft.max(raw);
                    any_soft = true;
                }
            }
        }
        // The scores, as `best` gives them.
        let max = i64::from(max_prefer);
        let taint_scores: Vec<i64> =
            if max > 0 { (0..=max).map(|r| 3 * (100 - 100 * r / max)).collect() } else { vec![0; 1] };
        let spread = max_raw - min_raw;
        let inter_pod = !parts.is_empty() && spread > 0;
        let normal = |raw: i64| 2 * (100.0 * ((raw - min_raw) as f64 / spread as f64)) as i64;
        let table: Vec<i64> =
            if inter_pod && spread < 4096 { (min_raw..=max_raw).map(normal).collect() } else { Vec::new() };
        let soft_score = |raw: Option<i64>| match raw {
            Some(_) if max_soft == 0 => 2 * 100,
            Some(raw) => 2 * (100 * (max_soft + min_soft - raw) / max_soft),
            None => 0,
        };
        let extra = |i: usize| {
            let taint = taint_scores.get(prefer(i) as usize).copied().unwrap_or(0);
            let raw = parts.raw(i);
            let inter_pod = match table.get((raw - min_raw) as usize) {
                Some(&score) => score,
                None if inter_pod => normal(raw),
                None => 0,
            };
            taint + inter_pod + soft_score(soft.raw(i))
        };
        // Cells score alike but for the fit; counted nodes of one taint score get at most
        // the best inter-pod and soft spread scores.
        let best_rest = if inter_pod { 2 * 100 } else { 0 } + if any_soft { 2 * 100 } else { 0 };
        let mut groups: Vec<Group> = cells
            .into_iter()
            .map(|bits| {
                let extra = extra(bits.first().unwrap_or(0));
                Group { bits, extra, exact: true, next: MAX_FIT }
            })
            .collect();
        for (p, members) in &by_prefer {
            let mut bits = members.clone();
            bits.and(&counted);
            if !bits.is_empty() {
                let taint = taint_scores.get(*p as usize).copied().unwrap_or(0);
                groups.push(Group { bits, extra: taint + best_rest, exact: false, next: MAX_FIT });
            }
        }
        // From the highest possible total down; a lower one can no longer win.
        let mut best: Option<(i64, usize)> = None;
        loop {
            for group in &mut groups {
                while group.next >= 0 && fit.with_score[group.next as usize] == 0 {
                    group.next -= 1;
                }
            }
            let Some(group) = groups.iter_mut().filter(|g| g.next >= 0).max_by_key(|g| i64::from(g.next) + g.extra)
            else {
                break;
            };
            let f = group.next;
            let top = i64::from(f) + group.extra;
            if best.is_some_and(|(total, _)| top < total) {
                break;
            }
            for i in group.bits.iter_common_words(fit.with(f)) {
                if best.is_some_and(|(total, at)| top < total || (top == total && i > at)) {
                    break;
                }
                let total = if group.exact { top } else { i64::from(f) + extra(i) };
                if best.is_none_or(|(best, at)| total > best || (total == best && i < at)) {
                    best = Some((total, i));
                }
            }
            group.next -= 1;
        }
        best.map_or(0, |(_, i)| i as u32)
    }

    /// The nodes the pod may use, split by their untolerated `PreferNoSchedule` taints.
    fn by_prefer(&self, taints: &[i32]) -> Vec<(i32, Bits)> {
        let mut out: Vec<(i32, Bits)> = Vec::new();
        for (members, &verdict) in self.taint_members.iter().zip(taints) {
            if verdict < 0 {
                continue;
            }
            match out.iter_mut().find(|(v, _)| *v == verdict) {
                Some((_, bits)) => bits.or(members),
                None => out.push((verdict, members.clone())),
            }
        }
        out
    }

    /// The nodes of `plain` split by their untolerated `PreferNoSchedule` taints (as
    /// `by_prefer` splits the nodes), their
    /// domain of each key of the inter-pod tables and of the soft spread constraints,
    /// and whether the soft spread scores them: within a cell, every node scores the
    /// same but for its fit.
    fn cells(
        &self,
        plain: &Bits,
        by_prefer: &[(i32, Bits)],
        parts: &InterPodParts<'_>,
        soft: &SoftParts<'_>,
    ) -> Vec<Bits> {
        let mut cells: Vec<Bits> = by_prefer
            .iter()
            .map(|(_, members)| {
                let mut cell = members.clone();
                cell.and(plain);
                cell
            })
            .filter(|cell| !cell.is_empty())
            .collect();
        let split = |cells: Vec<Bits>, sets: &[Bits]| {
            let mut out = Vec::new();
            for cell in cells {
                let mut rest = cell.clone();
                for set in sets {
                    if rest.is_empty() {
                        break;
                    }
                    let mut part = cell.clone();
                    part.and(set);
                    if !part.is_empty() {
                        rest.and_not(set);
                        out.push(part);
                    }
                }
                if !rest.is_empty() {
                    out.push(rest);
                }
            }
            out
        };
        let mut keys: Vec<&KeyIndex> = parts.tables.iter().map(|t| t.index).collect();
        for (count, _, _) in &soft.terms {
            if let SoftCount::Domain(index, _) = count
                && !keys.iter().any(|k| std::ptr::eq(*k, *index))
            {
                keys.push(index);
            }
        }
        for index in keys {
            cells = split(cells, &index.members);
        }
        if !soft.terms.is_empty() {
            cells = split(cells, std::slice::from_ref(&soft.scored));
        }
        cells
    }
}

/// Feasible nodes whose taint, inter-pod and soft spread scores add at most `extra`
/// (exactly that when `exact`), and the next fit score to look at among them.
struct Group {
    bits: Bits,
    extra: i64,
    exact: bool,
    next: i32,
}
