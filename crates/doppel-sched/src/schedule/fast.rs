//! The scoring of the feasible nodes without visiting each of them, for pods whose
//! scores come from their fit, their taints and inter-pod terms (no soft spread).
//!
//! Such a node's total is its fit score (LeastAllocated plus BalancedAllocation, kept
//! per request) plus what its taint class and its inter-pod sum are worth once
//! normalised. Both normalisations need the extremes over every feasible node, but a
//! node's taint class and its inter-pod sum only vary from node to node where a term
//! counted pods on that very node (keys with one node per domain, such as the
//! hostname); elsewhere they are the same across a whole taint class and domain. So
//! the extremes come from one node per such cell plus the nodes with pods counted.
//! The best node is then sought from the highest possible total down (fit score plus
//! what the cell or the counted node's taint class can add), stopping once none left
//! can catch up.

use super::{DomainFilter, InterPodParts};
use crate::Cluster;
use crate::bits::Bits;
use crate::fit::{FitClass, MAX_FIT};

impl Cluster {
    /// The feasible nodes as a set: taint classes the pod may use, nodes it fits, its
    /// node rules, then each domain filter.
    pub(super) fn feasible_set(
        &self,
        taints: &[i32],
        fit: &FitClass,
        node_rules: Option<&[bool]>,
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
        if let Some(ok) = node_rules {
            feasible.and(&Bits::from_fn(n, |i| ok[i]));
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
    ) -> u32 {
        let prefer = |i: usize| taints[self.taint_class[i] as usize];
        let mut counted = Bits::zeros(feasible.len());
        for fine in &parts.fine {
            counted.or(&fine.any);
        }
        counted.and(feasible);
        let mut plain = feasible.clone();
        plain.and_not(&counted);
        let cells = self.cells(plain, taints, parts);
        // The extremes of the untolerated PreferNoSchedule taints and of the inter-pod
        // sums over the feasible nodes: one node per cell, and every counted node.
        let (mut max_prefer, mut min_raw, mut max_raw) = (0, i64::MAX, i64::MIN);
        for i in cells.iter().filter_map(Bits::first).chain(counted.iter()) {
            max_prefer = max_prefer.max(prefer(i));
            let raw = parts.raw(i);
            min_raw = min_raw.min(raw);
            max_raw = max_raw.max(raw);
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
        let extra = |prefer: i32, raw: i64| {
            let taint = taint_scores.get(prefer as usize).copied().unwrap_or(0);
            let inter_pod = match table.get((raw - min_raw) as usize) {
                Some(&score) => score,
                None if inter_pod => normal(raw),
                None => 0,
            };
            taint + inter_pod
        };
        // Cells score alike but for the fit; counted nodes of one taint score get at most
        // the best inter-pod score.
        let mut groups: Vec<Group> = cells
            .into_iter()
            .map(|bits| {
                let i = bits.first().unwrap_or(0);
                let extra = extra(prefer(i), parts.raw(i));
                Group { bits, extra, exact: true, next: MAX_FIT }
            })
            .collect();
        for (p, bits) in self.by_prefer(counted, taints) {
            groups.push(Group { bits, extra: extra(p, max_raw), exact: false, next: MAX_FIT });
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
                let total = if group.exact { top } else { i64::from(f) + extra(prefer(i), parts.raw(i)) };
                if best.is_none_or(|(best, at)| total > best || (total == best && i < at)) {
                    best = Some((total, i));
                }
            }
            group.next -= 1;
        }
        best.map_or(0, |(_, i)| i as u32)
    }

    /// The nodes of `set` split by their untolerated `PreferNoSchedule` taints.
    fn by_prefer(&self, set: Bits, taints: &[i32]) -> Vec<(i32, Bits)> {
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
        for (_, bits) in &mut out {
            bits.and(&set);
        }
        out.retain(|(_, bits)| !bits.is_empty());
        out
    }

    /// The nodes of `plain` split by their untolerated `PreferNoSchedule` taints and
    /// their domain of each key of the coarse inter-pod sums: within a cell, every node
    /// has the same of both.
    fn cells(&self, plain: Bits, taints: &[i32], parts: &InterPodParts<'_>) -> Vec<Bits> {
        let mut cells: Vec<Bits> = self.by_prefer(plain, taints).into_iter().map(|(_, bits)| bits).collect();
        for coarse in &parts.tables {
            let mut split = Vec::new();
            for cell in cells {
                let mut rest = cell.clone();
                for members in &coarse.index.members {
                    if rest.is_empty() {
                        break;
                    }
                    let mut part = cell.clone();
                    part.and(members);
                    if !part.is_empty() {
                        rest.and_not(members);
                        split.push(part);
                    }
                }
                if !rest.is_empty() {
                    split.push(rest);
                }
            }
            cells = split;
        }
        cells
    }
}

/// Feasible nodes whose taint and inter-pod scores add at most `extra` (exactly that
/// when `exact`), and the next fit score to look at among them.
struct Group {
    bits: Bits,
    extra: i64,
    exact: bool,
    next: i32,
}
