//! One scheduling cycle: the filters in the default profile's order, then the scores
//! with their default weights and normalisation.
//!
//! Rules followed, from <https://kubernetes.io/docs/concepts/scheduling-eviction/>
//! (kube-scheduler, taint-and-toleration, assign-pod-node,
//! topology-spread-constraints, resource-bin-packing) and the v1.30 plugins.

use crate::intern::{Interner, MISSING, Symbols, label, merge, subset};
use crate::{CarrierKind, Cluster, ITaint, KeyIndex, NodeId, NodeRec, Req, SchedPod};
use doppel_model::spec::{AffinityTerm, TaintEffect, TolerationOperator};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Why a pod fits no node, as the scheduler tells it: the number of nodes and, for
/// each reason, how many nodes it rejected (a node lacking both cpu and memory counts
/// under both, as in Kubernetes).
///
/// `Display` gives the scheduler's own message, such as
/// `0/9 nodes are available: 3 Insufficient cpu, 6 node(s) didn't match pod anti-affinity rules.`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unschedulable {
    /// The number of nodes in the cluster.
    pub nodes: u32,
    /// Each reason with its count, ordered as Kubernetes orders them (by the text
    /// "count reason").
    pub reasons: Vec<(String, u32)>,
}

impl Unschedulable {
    /// How many nodes gave this reason (0 if none did).
    pub fn count(&self, reason: &str) -> u32 {
        self.reasons.iter().find(|(r, _)| r == reason).map_or(0, |(_, n)| *n)
    }
}

impl fmt::Display for Unschedulable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        write!(f, "0/{} nodes are available:", self.nodes)?;
        for (i, (reason, count)) in self.reasons.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{count} {reason}")?;
        }
        f.write_str(".")
    }
}

impl std::error::Error for Unschedulable {}

/// A filter's reason for rejecting a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Unschedulable,
    Taint(u32, u32),
    NodeAffinity,
    TooManyPods,
    Cpu,
    Memory,
    Storage,
    SpreadLabel,
    Spread,
    Affinity,
    AntiAffinity,
    ExistingAnti,
}

impl Reason {
    fn text(self, syms: &Interner) -> String {
        match self {
            Reason::Unschedulable => "node(s) were unschedulable".into(),
            Reason::Taint(key, value) => {
                format!("node(s) had untolerated taint {{{}: {}}}", syms.name(key), syms.name(value))
            }
            Reason::NodeAffinity => "node(s) didn't match Pod's node affinity/selector".into(),
            Reason::TooManyPods => "Too many pods".into(),
            Reason::Cpu => "Insufficient cpu".into(),
            Reason::Memory => "Insufficient memory".into(),
            Reason::Storage => "Insufficient ephemeral-storage".into(),
            Reason::SpreadLabel => {
                "node(s) didn't match pod topology spread constraints (missing required label)".into()
            }
            Reason::Spread => "node(s) didn't match pod topology spread constraints".into(),
            Reason::Affinity => "node(s) didn't match pod affinity rules".into(),
            Reason::AntiAffinity => "node(s) didn't match pod anti-affinity rules".into(),
            Reason::ExistingAnti => "node(s) didn't satisfy existing pods anti-affinity rules".into(),
        }
    }
}

#[derive(Default)]
struct Tally(Vec<(Reason, u32)>);

impl Tally {
    fn add(&mut self, reason: Reason) {
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some(entry) => entry.1 += 1,
            None => self.0.push((reason, 1)),
        }
    }

    fn finish(self, nodes: usize, syms: &Interner) -> Unschedulable {
        let mut lines: Vec<(String, String, u32)> = self
            .0
            .into_iter()
            .map(|(reason, count)| {
                let text = reason.text(syms);
                (format!("{count} {text}"), text, count)
            })
            .collect();
        lines.sort();
        Unschedulable {
            nodes: u32::try_from(nodes).unwrap_or(u32::MAX),
            reasons: lines.into_iter().map(|(_, text, count)| (text, count)).collect(),
        }
    }
}

/// An inter-pod affinity term with interned selector and topology key.
#[derive(Debug, Clone)]
pub(crate) struct Term {
    pub(crate) selector: Vec<(u32, u32)>,
    pub(crate) key: u32,
}

/// A topology spread constraint with interned selector and topology key.
#[derive(Debug, Clone)]
pub(crate) struct Spread {
    pub(crate) selector: Vec<(u32, u32)>,
    pub(crate) key: u32,
    pub(crate) max_skew: u32,
}

/// A toleration with interned key and value; no key tolerates every key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tol {
    key: Option<u32>,
    exists: bool,
    value: u32,
    effect: Option<TaintEffect>,
}

impl Tol {
    /// Whether this toleration tolerates the taint: the effect matches (or none is
    /// given), the key matches (or none is given), and the value equals the taint's
    /// for `Equal`.
    fn tolerates(&self, taint: &ITaint) -> bool {
        self.effect.is_none_or(|e| e == taint.effect)
            && self.key.is_none_or(|k| k == taint.key)
            && (self.exists || self.value == taint.value)
    }
}

/// A pod resolved against a cluster's symbols: what a scheduling cycle needs.
#[derive(Debug, Clone)]
pub(crate) struct PodQuery {
    pub(crate) ns: u32,
    pub(crate) labels: Vec<(u32, u32)>,
    pub(crate) req: Req,
    node_selector: Vec<(u32, u32)>,
    node_affinity: Vec<(u32, Vec<u32>)>,
    tolerations: Vec<Tol>,
    pub(crate) affinity: Vec<Term>,
    pub(crate) anti: Vec<Term>,
    pub(crate) pref_affinity: Vec<Term>,
    pub(crate) pref_anti: Vec<Term>,
    hard: Vec<Spread>,
    soft: Vec<Spread>,
}

fn resolve(pod: &SchedPod, syms: &mut Symbols<'_>) -> PodQuery {
    let rules = &pod.scheduling;
    let mut terms = |list: &[AffinityTerm], required: bool| -> Vec<Term> {
        list.iter()
            .filter(|t| t.required == required)
            .map(|t| Term { selector: syms.labels(&t.selector), key: syms.id(&t.topology_key) })
            .collect()
    };
    let affinity = terms(&rules.pod_affinity, true);
    let pref_affinity = terms(&rules.pod_affinity, false);
    let anti = terms(&rules.pod_anti_affinity, true);
    let pref_anti = terms(&rules.pod_anti_affinity, false);
    let mut hard = Vec::new();
    let mut soft = Vec::new();
    for c in &rules.topology_spread {
        let spread = Spread { selector: syms.labels(&c.selector), key: syms.id(&c.topology_key), max_skew: c.max_skew };
        if c.hard { hard.push(spread) } else { soft.push(spread) }
    }
    let tolerations = rules
        .tolerations
        .iter()
        .map(|t| Tol {
            key: t.key.as_deref().filter(|k| !k.is_empty()).map(|k| syms.id(k)),
            exists: t.operator == TolerationOperator::Exists,
            value: syms.id(t.value.as_deref().unwrap_or("")),
            effect: t.effect,
        })
        .collect();
    let node_affinity = rules
        .node_affinity
        .iter()
        .map(|(k, values)| (syms.id(k), values.iter().map(|v| syms.id(v)).collect()))
        .collect();
    PodQuery {
        ns: syms.id(&pod.namespace),
        labels: syms.labels(&pod.labels),
        req: Req::of(&pod.requests),
        node_selector: syms.labels(&rules.node_selector),
        node_affinity,
        tolerations,
        affinity,
        anti,
        pref_affinity,
        pref_anti,
        hard,
        soft,
    }
}

impl PodQuery {
    fn has_node_rules(&self) -> bool {
        !self.node_selector.is_empty() || !self.node_affinity.is_empty()
    }

    /// Whether a node's labels satisfy the pod's node selector and required node affinity.
    fn matches_node(&self, labels: &[(u32, u32)]) -> bool {
        subset(&self.node_selector, labels)
            && self.node_affinity.iter().all(|(key, values)| label(labels, *key).is_some_and(|v| values.contains(&v)))
    }

    fn tolerates(&self, taint: &ITaint) -> bool {
        self.tolerations.iter().any(|t| t.tolerates(taint))
    }

    /// The selector an existing pod must match to count for the required affinity:
    /// all terms at once, or `None` when they contradict each other.
    fn affinity_selector(&self) -> Option<Vec<(u32, u32)>> {
        self.affinity.iter().try_fold(Vec::new(), |acc, term| merge(&acc, &term.selector))
    }

    /// The selectors whose matching pods this pod's rules count.
    pub(crate) fn selectors(&self) -> Vec<Vec<(u32, u32)>> {
        let spreads = self.hard.iter().chain(&self.soft).map(|c| c.selector.clone());
        let terms = self.anti.iter().chain(&self.pref_affinity).chain(&self.pref_anti).map(|t| t.selector.clone());
        let affinity = if self.affinity.is_empty() { None } else { self.affinity_selector() };
        spreads.chain(terms).chain(affinity).collect()
    }
}

/// A hard spread constraint ready for the filter: per domain the matching pods, and
/// the smallest count over the eligible domains.
struct HardSpread<'a> {
    domain: Option<&'a [u32]>,
    counts: Vec<i64>,
    min: i64,
    self_match: i64,
    max_skew: i64,
}

/// The incoming pod's required affinity ready for the filter.
struct RequiredAffinity<'a> {
    /// Per term: the domains of its key (if some node has it), matching pods per domain.
    terms: Vec<(Option<&'a [u32]>, Vec<i64>)>,
    /// Whether any pod anywhere matched (the "first pod" exception needs none).
    any: bool,
    /// Whether the pod matches all its own terms.
    self_match: bool,
}

struct InterPod<'a> {
    affinity: Option<RequiredAffinity<'a>>,
    /// Per anti-affinity term whose key some node has: domains, matching pods per domain.
    anti: Vec<(&'a [u32], Vec<i64>)>,
    /// Per existing pods' anti-affinity term matching the pod: domains, and the domains
    /// the pod may not join.
    existing: Vec<(&'a [u32], Vec<bool>)>,
}

impl InterPod<'_> {
    fn check(&self, i: usize) -> Option<Reason> {
        if let Some(affinity) = &self.affinity {
            let mut pods_exist = true;
            for (domain, sums) in &affinity.terms {
                let Some(d) = domain.map(|domain| domain[i]).filter(|&d| d != MISSING) else {
                    return Some(Reason::Affinity);
                };
                if sums[d as usize] <= 0 {
                    pods_exist = false;
                }
            }
            if !pods_exist && (affinity.any || !affinity.self_match) {
                return Some(Reason::Affinity);
            }
        }
        for (domain, sums) in &self.anti {
            let d = domain[i];
            if d != MISSING && sums[d as usize] > 0 {
                return Some(Reason::AntiAffinity);
            }
        }
        for (domain, forbidden) in &self.existing {
            let d = domain[i];
            if d != MISSING && forbidden[d as usize] {
                return Some(Reason::ExistingAnti);
            }
        }
        None
    }
}

/// Sums per-node counts by domain; also says whether any counted pod had a domain.
fn domain_sums(key: &KeyIndex, counts: &[u32]) -> (Vec<i64>, bool) {
    let mut sums = vec![0i64; key.len()];
    let mut any = false;
    for (&d, &count) in key.domain.iter().zip(counts) {
        if count > 0 && d != MISSING {
            sums[d as usize] += i64::from(count);
            any = true;
        }
    }
    (sums, any)
}

/// Adds `sign` x the pods counted per node, summed by domain of `key`; says whether
/// any pod counted.
fn add_sums<'a>(
    key: Option<&'a KeyIndex>,
    counts: &[u32],
    sign: i64,
    sums: &mut Vec<(&'a KeyIndex, Vec<i64>)>,
) -> bool {
    let Some(key) = key else { return false };
    let (domain, any) = domain_sums(key, counts);
    if any {
        sums.push((key, domain.into_iter().map(|s| s * sign).collect()));
    }
    any
}

/// `part * 100 / whole` without overflow.
fn percent(part: i64, whole: i64) -> i64 {
    if whole < i64::MAX / 100 && part < i64::MAX / 100 {
        part * 100 / whole
    } else {
        (i128::from(part) * 100 / i128::from(whole)) as i64
    }
}

/// NodeResourcesFit's LeastAllocated score: the free share of cpu and memory after
/// the pod, averaged (pods that request nothing count as 100m and 200 MiB).
fn least_allocated(node: &NodeRec, req: &Req) -> i64 {
    let mut score = 0;
    let mut weight = 0;
    let pairs = [
        (node.alloc_cpu, node.nz_cpu.saturating_add(req.nz_cpu)),
        (node.alloc_mem, node.nz_mem.saturating_add(req.nz_mem)),
    ];
    for (alloc, requested) in pairs {
        if alloc <= 0 {
            continue;
        }
        weight += 1;
        if requested <= alloc {
            score += percent(alloc - requested, alloc);
        }
    }
    if weight == 0 { 0 } else { score / weight }
}

/// NodeResourcesBalancedAllocation: 100 x (1 - the standard deviation of the cpu and
/// memory shares requested after the pod).
fn balanced_allocation(node: &NodeRec, req: &Req) -> i64 {
    let mut fractions = [0.0f64; 2];
    let mut n = 0;
    let pairs = [
        (node.alloc_cpu, node.req_cpu.saturating_add(req.cpu)),
        (node.alloc_mem, node.req_mem.saturating_add(req.mem)),
    ];
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

impl Cluster {
    pub(crate) fn query_interning(&mut self, pod: &SchedPod) -> PodQuery {
        resolve(pod, &mut Symbols::Interning(&mut self.syms))
    }

    pub(crate) fn query_reading(&self, pod: &SchedPod) -> PodQuery {
        resolve(pod, &mut Symbols::Reading { known: &self.syms, extra: HashMap::new() })
    }

    /// Pods of `ns` matching `selector` per node, terminating ones included or not.
    fn counts(&self, ns: u32, selector: &[(u32, u32)], live: bool) -> Cow<'_, [u32]> {
        match self.find_group(ns, selector) {
            Some(group) => Cow::Borrowed(if live { &group.live } else { &group.all }),
            None => {
                let (l, a) = self.count_pods(ns, selector);
                Cow::Owned(if live { l } else { a })
            }
        }
    }

    fn hard_spread(&self, q: &PodQuery, selected: &dyn Fn(usize) -> bool) -> Vec<HardSpread<'_>> {
        if q.hard.is_empty() {
            return Vec::new();
        }
        let keys: Vec<Option<&KeyIndex>> = q.hard.iter().map(|c| self.key_index(c.key)).collect();
        // Domains come from the nodes the pod's node selector and affinity allow
        // (nodeAffinityPolicy Honor), tainted or not (nodeTaintsPolicy Ignore), that
        // have every key of the pod's hard constraints.
        let eligible: Vec<bool> = (0..self.nodes.len())
            .map(|i| selected(i) && keys.iter().all(|k| k.is_some_and(|k| k.domain[i] != MISSING)))
            .collect();
        q.hard
            .iter()
            .zip(&keys)
            .map(|(c, key)| {
                let self_match = i64::from(subset(&c.selector, &q.labels));
                let max_skew = i64::from(c.max_skew);
                let Some(key) = key else {
                    return HardSpread { domain: None, counts: Vec::new(), min: 0, self_match, max_skew };
                };
                let live = self.counts(q.ns, &c.selector, true);
                let mut counts = vec![-1i64; key.len()];
                for (i, &d) in key.domain.iter().enumerate() {
                    if eligible[i] {
                        let slot = &mut counts[d as usize];
                        *slot = (*slot).max(0) + i64::from(live[i]);
                    }
                }
                let min = counts.iter().copied().filter(|&c| c >= 0).min().unwrap_or(i64::from(i32::MAX));
                HardSpread { domain: Some(&key.domain), counts, min, self_match, max_skew }
            })
            .collect()
    }

    fn inter_pod(&self, q: &PodQuery) -> InterPod<'_> {
        let affinity = (!q.affinity.is_empty()).then(|| {
            let all = q.affinity_selector().map(|selector| self.counts(q.ns, &selector, false));
            let mut any = false;
            let terms = q
                .affinity
                .iter()
                .map(|term| match (self.key_index(term.key), &all) {
                    (Some(key), Some(all)) => {
                        let (sums, some) = domain_sums(key, all);
                        any |= some;
                        (Some(key.domain.as_slice()), sums)
                    }
                    (Some(key), None) => (Some(key.domain.as_slice()), vec![0; key.len()]),
                    (None, _) => (None, Vec::new()),
                })
                .collect();
            let self_match = q.affinity.iter().all(|t| subset(&t.selector, &q.labels));
            RequiredAffinity { terms, any, self_match }
        });
        let anti = q
            .anti
            .iter()
            .filter_map(|term| {
                let key = self.key_index(term.key)?;
                let (sums, any) = domain_sums(key, &self.counts(q.ns, &term.selector, false));
                any.then_some((key.domain.as_slice(), sums))
            })
            .collect();
        let existing = self
            .carriers
            .iter()
            .filter(|c| {
                c.kind == CarrierKind::RequiredAnti && c.total > 0 && c.ns == q.ns && subset(&c.selector, &q.labels)
            })
            .filter_map(|c| {
                let key = self.key_index(c.key)?;
                let mut forbidden = vec![false; key.len()];
                for (&d, &count) in key.domain.iter().zip(&c.per_node) {
                    if count > 0 && d != MISSING {
                        forbidden[d as usize] = true;
                    }
                }
                Some((key.domain.as_slice(), forbidden))
            })
            .collect();
        InterPod { affinity, anti, existing }
    }

    /// Filters every node, then scores the survivors; the best wins, ties to the first.
    pub(crate) fn decide(&self, q: &PodQuery) -> Result<NodeId, Unschedulable> {
        let n = self.nodes.len();
        if n == 0 {
            return Err(Unschedulable::default());
        }
        let node_rules: Option<Vec<bool>> =
            q.has_node_rules().then(|| self.nodes.iter().map(|node| q.matches_node(&node.labels)).collect());
        let selected = |i: usize| node_rules.as_ref().is_none_or(|ok| ok[i]);
        let hard = self.hard_spread(q, &selected);
        let inter_pod = self.inter_pod(q);
        let cordon = ITaint { key: self.unschedulable_key, value: self.empty, effect: TaintEffect::NoSchedule };
        let tolerates_cordon = q.tolerates(&cordon);
        let req = q.req;

        let mut feasible: Vec<u32> = Vec::with_capacity(n);
        let mut tally = Tally::default();
        'nodes: for (i, node) in self.nodes.iter().enumerate() {
            // NodeUnschedulable
            if node.spec.unschedulable && !tolerates_cordon {
                tally.add(Reason::Unschedulable);
                continue;
            }
            // TaintToleration: the first untolerated NoSchedule or NoExecute taint.
            if let Some(taint) =
                node.taints.iter().find(|t| t.effect != TaintEffect::PreferNoSchedule && !q.tolerates(t))
            {
                tally.add(Reason::Taint(taint.key, taint.value));
                continue;
            }
            // NodeAffinity
            if !selected(i) {
                tally.add(Reason::NodeAffinity);
                continue;
            }
            // NodeResourcesFit: every shortage of the node is a reason.
            let mut fits = true;
            if node.max_pods > 0 && node.count >= node.max_pods {
                tally.add(Reason::TooManyPods);
                fits = false;
            }
            if !req.is_zero() {
                if req.cpu > 0 && req.cpu > node.alloc_cpu.saturating_sub(node.req_cpu) {
                    tally.add(Reason::Cpu);
                    fits = false;
                }
                if req.mem > 0 && req.mem > node.alloc_mem.saturating_sub(node.req_mem) {
                    tally.add(Reason::Memory);
                    fits = false;
                }
                if req.eph > 0 && req.eph > node.alloc_eph.saturating_sub(node.req_eph) {
                    tally.add(Reason::Storage);
                    fits = false;
                }
            }
            if !fits {
                continue;
            }
            // PodTopologySpread
            for c in &hard {
                let Some(d) = c.domain.map(|domain| domain[i]).filter(|&d| d != MISSING) else {
                    tally.add(Reason::SpreadLabel);
                    continue 'nodes;
                };
                let matching = c.counts[d as usize].max(0);
                if matching + c.self_match - c.min > c.max_skew {
                    tally.add(Reason::Spread);
                    continue 'nodes;
                }
            }
            // InterPodAffinity
            if let Some(reason) = inter_pod.check(i) {
                tally.add(reason);
                continue;
            }
            feasible.push(i as u32);
        }

        match feasible.len() {
            0 => Err(tally.finish(n, &self.syms)),
            1 => Ok(NodeId(feasible[0])),
            _ => {
                let scores = self.score(q, &feasible, &selected);
                let mut best = 0;
                for (j, &score) in scores.iter().enumerate() {
                    if score > scores[best] {
                        best = j;
                    }
                }
                Ok(NodeId(feasible[best]))
            }
        }
    }

    /// The weighted sum of the score plugins for each feasible node.
    fn score(&self, q: &PodQuery, feasible: &[u32], selected: &dyn Fn(usize) -> bool) -> Vec<i64> {
        let mut total: Vec<i64> = feasible
            .iter()
            .map(|&i| {
                let node = &self.nodes[i as usize];
                least_allocated(node, &q.req) + balanced_allocation(node, &q.req)
            })
            .collect();
        // TaintToleration (weight 3): fewer untolerated PreferNoSchedule taints is better.
        if feasible.iter().any(|&i| self.nodes[i as usize].prefer_taints) {
            let raw: Vec<i64> = feasible
                .iter()
                .map(|&i| {
                    let node = &self.nodes[i as usize];
                    let untolerated = node
                        .taints
                        .iter()
                        .filter(|t| t.effect == TaintEffect::PreferNoSchedule && !q.tolerates(t))
                        .count();
                    untolerated as i64
                })
                .collect();
            let max = raw.iter().copied().max().unwrap_or(0);
            for (t, r) in total.iter_mut().zip(&raw) {
                *t += 3 * if max == 0 { 100 } else { 100 - 100 * r / max };
            }
        }
        if !q.soft.is_empty() {
            for (t, s) in total.iter_mut().zip(self.spread_scores(q, feasible, selected)) {
                *t += 2 * s;
            }
        }
        if let Some(scores) = self.inter_pod_scores(q, feasible) {
            for (t, s) in total.iter_mut().zip(scores) {
                *t += 2 * s;
            }
        }
        total
    }

    /// PodTopologySpread's score for soft constraints, normalised so that the node
    /// whose domains hold the fewest matching pods gets 100.
    fn spread_scores(&self, q: &PodQuery, feasible: &[u32], selected: &dyn Fn(usize) -> bool) -> Vec<i64> {
        let n = self.nodes.len();
        let keys: Vec<Option<&KeyIndex>> = q.soft.iter().map(|c| self.key_index(c.key)).collect();
        let has_all: Vec<bool> =
            (0..n).map(|i| keys.iter().all(|k| k.is_some_and(|k| k.domain[i] != MISSING))).collect();
        // Feasible nodes lacking a key are not scored (they get 0).
        let scored: Vec<bool> = feasible.iter().map(|&i| has_all[i as usize]).collect();
        let kept = scored.iter().filter(|&&s| s).count();
        let mut raw = vec![0f64; feasible.len()];
        for (c, key) in q.soft.iter().zip(&keys) {
            let Some(key) = key else { continue };
            let live = self.counts(q.ns, &c.selector, true);
            let tolerance = f64::from(c.max_skew) - 1.0;
            if c.key == self.hostname {
                let weight = ((kept + 2) as f64).ln();
                for (j, &i) in feasible.iter().enumerate() {
                    if scored[j] {
                        raw[j] += f64::from(live[i as usize]) * weight + tolerance;
                    }
                }
                continue;
            }
            let mut present = vec![false; key.len()];
            let mut size = 0usize;
            for (j, &i) in feasible.iter().enumerate() {
                let d = key.domain[i as usize];
                if scored[j] && !present[d as usize] {
                    present[d as usize] = true;
                    size += 1;
                }
            }
            let mut counts = vec![0i64; key.len()];
            for i in 0..n {
                let d = key.domain[i];
                if has_all[i] && present[d as usize] && selected(i) {
                    counts[d as usize] += i64::from(live[i]);
                }
            }
            let weight = ((size + 2) as f64).ln();
            for (j, &i) in feasible.iter().enumerate() {
                if scored[j] {
                    raw[j] += counts[key.domain[i as usize] as usize] as f64 * weight + tolerance;
                }
            }
        }
        let raw: Vec<i64> = raw.iter().map(|r| r.round() as i64).collect();
        let mut min = i64::MAX;
        let mut max = 0i64;
        for (j, &r) in raw.iter().enumerate() {
            if scored[j] {
                min = min.min(r);
                max = max.max(r);
            }
        }
        raw.iter()
            .enumerate()
            .map(|(j, &r)| {
                if !scored[j] {
                    0
                } else if max == 0 {
                    100
                } else {
                    100 * (max + min - r) / max
                }
            })
            .collect()
    }

    /// InterPodAffinity's score: preferred terms of the pod and of existing pods (and
    /// existing pods' required affinity, with weight 1), normalised between the lowest
    /// and highest node; `None` when no term counted any pod (all nodes score 0).
    fn inter_pod_scores(&self, q: &PodQuery, feasible: &[u32]) -> Option<Vec<i64>> {
        let mut sums: Vec<(&KeyIndex, Vec<i64>)> = Vec::new();
        let mut any = false;
        for term in &q.pref_affinity {
            any |= add_sums(self.key_index(term.key), &self.counts(q.ns, &term.selector, false), 1, &mut sums);
        }
        for term in &q.pref_anti {
            any |= add_sums(self.key_index(term.key), &self.counts(q.ns, &term.selector, false), -1, &mut sums);
        }
        for c in &self.carriers {
            let sign = match c.kind {
                CarrierKind::RequiredAffinity | CarrierKind::PreferredAffinity => 1,
                CarrierKind::PreferredAnti => -1,
                CarrierKind::RequiredAnti => continue,
            };
            if c.total > 0 && c.ns == q.ns && subset(&c.selector, &q.labels) {
                any |= add_sums(self.key_index(c.key), &c.per_node, sign, &mut sums);
            }
        }
        if !any {
            return None;
        }
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&i| {
                sums.iter()
                    .map(|(key, per_domain)| {
                        let d = key.domain[i as usize];
                        if d == MISSING { 0 } else { per_domain[d as usize] }
                    })
                    .sum()
            })
            .collect();
        let min = raw.iter().copied().min().unwrap_or(0);
        let max = raw.iter().copied().max().unwrap_or(0);
        let spread = max - min;
        Some(
            raw.iter()
                .map(|&r| if spread > 0 { (100.0 * ((r - min) as f64 / spread as f64)) as i64 } else { 0 })
                .collect(),
        )
    }
}
