//! One scheduling cycle: the filters in the default profile's order, then the scores
//! with their default weights and normalisation.
//!
//! Rules followed, from <https://kubernetes.io/docs/concepts/scheduling-eviction/>
//! (kube-scheduler, taint-and-toleration, assign-pod-node,
//! topology-spread-constraints, resource-bin-packing) and the v1.30 plugins.

use crate::intern::{Interner, MISSING, Symbols, label, merge, subset};
use crate::{CORDONED, CarrierKind, Cluster, Domains, HARD_TAINTS, Hot, ITaint, NodeId, PREFER_TAINTS, Req, SchedPod};
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

    /// The (selector, topology key) pairs whose matching pods this pod's rules count.
    pub(crate) fn watched(&self) -> Vec<(Vec<(u32, u32)>, u32)> {
        let spreads = self.hard.iter().chain(&self.soft).map(|c| (c.selector.clone(), c.key));
        let terms =
            self.anti.iter().chain(&self.pref_affinity).chain(&self.pref_anti).map(|t| (t.selector.clone(), t.key));
        let mut out: Vec<_> = spreads.chain(terms).collect();
        if let Some(selector) = self.affinity_selector().filter(|_| !self.affinity.is_empty()) {
            out.extend(self.affinity.iter().map(|t| (selector.clone(), t.key)));
        }
        out
    }
}

/// A key's domain of each node, and a per-domain table of counts.
type DomainCounts<'a> = (&'a [u32], Cow<'a, [i64]>);
/// The same, for a key that may be on no node.
type MaybeDomainCounts<'a> = (Option<&'a [u32]>, Cow<'a, [i64]>);

/// A slot of a per-domain table (missing slots are zero).
fn at(table: &[i64], d: u32) -> i64 {
    table.get(d as usize).copied().unwrap_or(0)
}

/// The live (or all) counts of a borrowed or computed domain table.
fn pick(domains: Cow<'_, Domains>, live: bool) -> (Cow<'_, [i64]>, i64) {
    match domains {
        Cow::Borrowed(d) if live => (Cow::Borrowed(d.live.as_slice()), d.live_total),
        Cow::Borrowed(d) => (Cow::Borrowed(d.all.as_slice()), d.all_total),
        Cow::Owned(d) if live => (Cow::Owned(d.live), d.live_total),
        Cow::Owned(d) => (Cow::Owned(d.all), d.all_total),
    }
}

/// A hard spread constraint ready for the filter: matching pods per domain, and the
/// smallest count over the eligible domains.
struct HardSpread<'a> {
    domain: Option<&'a [u32]>,
    counts: Cow<'a, [i64]>,
    min: i64,
    self_match: i64,
    max_skew: i64,
}

/// The incoming pod's required affinity ready for the filter.
struct RequiredAffinity<'a> {
    /// Per term: the domains of its key (if some node has it), matching pods per domain.
    terms: Vec<MaybeDomainCounts<'a>>,
    /// Whether any pod anywhere matched (the "first pod" exception needs none).
    any: bool,
    /// Whether the pod matches all its own terms.
    self_match: bool,
}

/// The inter-pod filter's state: the pod's required terms, and existing pods' required
/// anti-affinity terms that match it.
struct InterPod<'a> {
    affinity: Option<RequiredAffinity<'a>>,
    /// Per anti-affinity term that counted some pod: domains, matching pods per domain.
    anti: Vec<DomainCounts<'a>>,
    /// Per existing pods' anti-affinity term matching the pod: domains, and the pods
    /// carrying it per domain (the pod may not join a domain that has one).
    existing: Vec<(&'a [u32], &'a [i64])>,
}

impl InterPod<'_> {
    fn check(&self, i: usize) -> Option<Reason> {
        if let Some(affinity) = &self.affinity {
            let mut pods_exist = true;
            for (domain, sums) in &affinity.terms {
                let Some(d) = domain.map(|domain| domain[i]).filter(|&d| d != MISSING) else {
                    return Some(Reason::Affinity);
                };
                if at(sums, d) <= 0 {
                    pods_exist = false;
                }
            }
            if !pods_exist && (affinity.any || !affinity.self_match) {
                return Some(Reason::Affinity);
            }
        }
        for (domain, sums) in &self.anti {
            let d = domain[i];
            if d != MISSING && at(sums, d) > 0 {
                return Some(Reason::AntiAffinity);
            }
        }
        for (domain, carriers) in &self.existing {
            let d = domain[i];
            if d != MISSING && at(carriers, d) > 0 {
                return Some(Reason::ExistingAnti);
            }
        }
        None
    }
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
fn least_allocated(node: &Hot, req: &Req) -> i64 {
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
fn balanced_allocation(node: &Hot, req: &Req) -> i64 {
    balanced(node, req, false)
}

/// An estimate of `balanced_allocation` from reciprocals (no division), plus one: at
/// least the exact value, as the estimate's error is far below one point.
fn balanced_allocation_bound(node: &Hot, req: &Req) -> i64 {
    balanced(node, req, true) + 1
}

fn balanced(node: &Hot, req: &Req, estimate: bool) -> i64 {
    let pairs = [
        (node.alloc_cpu, node.req_cpu.saturating_add(req.cpu), node.inv_cpu),
        (node.alloc_mem, node.req_mem.saturating_add(req.mem), node.inv_mem),
    ];
    let mut fractions = [0.0f64; 2];
    let mut n = 0;
    for (alloc, requested, inverse) in pairs {
        if alloc <= 0 {
            continue;
        }
        let share = if estimate { requested as f64 * inverse } else { requested as f64 / alloc as f64 };
        fractions[n] = share.min(1.0);
        n += 1;
    }
    let std = if n == 2 { (fractions[0] - fractions[1]).abs() / 2.0 } else { 0.0 };
    ((1.0 - std) * 100.0) as i64
}

/// The index of the highest `partial + BalancedAllocation` (the first of equals),
/// computing BalancedAllocation exactly only where its bound could still win.
fn best_of(partial: &[i64], nodes: &[&Hot], req: &Req) -> usize {
    let bound: Vec<i64> = partial.iter().zip(nodes).map(|(p, node)| p + balanced_allocation_bound(node, req)).collect();
    let exact = |j: usize| partial[j] + balanced_allocation(nodes[j], req);
    let mut best = (0..partial.len()).max_by_key(|&j| (bound[j], std::cmp::Reverse(j))).unwrap_or(0);
    let mut best_total = exact(best);
    for (j, &limit) in bound.iter().enumerate() {
        if j == best || limit < best_total || (limit == best_total && j > best) {
            continue;
        }
        let total = exact(j);
        if total > best_total || (total == best_total && j < best) {
            best = j;
            best_total = total;
        }
    }
    best
}

/// `f(v)` for values from `min` to `max`, from a table when the range is short next
/// to the number of values (each entry computed once); values outside the range are
/// computed directly.
fn tabulate(values: &[i64], min: i64, max: i64, f: impl Fn(i64) -> i64) -> Vec<i64> {
    let range = max.saturating_sub(min);
    if range >= 0 && (range as usize) < values.len() {
        let table: Vec<i64> = (min..=max).map(&f).collect();
        let lookup = |v: i64| v.checked_sub(min).and_then(|i| usize::try_from(i).ok()).and_then(|i| table.get(i));
        values.iter().map(|&v| lookup(v).copied().unwrap_or_else(|| f(v))).collect()
    } else {
        values.iter().map(|&v| f(v)).collect()
    }
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

    /// Pods of `ns` matching `selector` per domain of a key: kept up to date for the
    /// groups and keys pods were placed with, computed otherwise.
    fn domains(&self, ns: u32, selector: &[(u32, u32)], key: usize) -> Cow<'_, Domains> {
        match self.find_group(ns, selector) {
            Some(group) => match group.by_key.iter().find(|d| d.key == key) {
                Some(domains) => Cow::Borrowed(domains),
                None => Cow::Owned(self.domains_of(key, &group.live, &group.all)),
            },
            None => {
                let (live, all) = self.count_pods(ns, selector);
                Cow::Owned(self.domains_of(key, &live, &all))
            }
        }
    }

    fn hard_spread(&self, q: &PodQuery, node_rules: Option<&[bool]>) -> Vec<HardSpread<'_>> {
        if q.hard.is_empty() {
            return Vec::new();
        }
        let keys: Vec<Option<usize>> = q.hard.iter().map(|c| self.key_index(c.key)).collect();
        // Domains come from the nodes the pod's node selector and affinity allow
        // (nodeAffinityPolicy Honor), tainted or not (nodeTaintsPolicy Ignore), that
        // have every key of the pod's hard constraints. With no node rules and one
        // key, that is every node with the key, whose counts are kept up to date.
        let fast = node_rules.is_none() && keys.iter().all(|k| *k == keys[0]);
        let eligible: Vec<bool> = if fast {
            Vec::new()
        } else {
            (0..self.nodes.len())
                .map(|i| {
                    node_rules.is_none_or(|ok| ok[i])
                        && keys.iter().all(|k| k.is_some_and(|k| self.keys[k].domain[i] != MISSING))
                })
                .collect()
        };
        q.hard
            .iter()
            .zip(&keys)
            .map(|(c, key)| {
                let self_match = i64::from(subset(&c.selector, &q.labels));
                let max_skew = i64::from(c.max_skew);
                let Some(key) = *key else {
                    return HardSpread { domain: None, counts: Cow::Owned(Vec::new()), min: 0, self_match, max_skew };
                };
                let index = &self.keys[key];
                let (counts, min) = if fast {
                    let (counts, _) = pick(self.domains(q.ns, &c.selector, key), true);
                    let present = (0..index.len() as u32).filter(|&d| index.nodes_in[d as usize] > 0);
                    let min = present.map(|d| at(&counts, d)).min();
                    (counts, min)
                } else {
                    let live = self.counts(q.ns, &c.selector, true);
                    let mut counts = vec![-1i64; index.len()];
                    for (i, &d) in index.domain.iter().enumerate() {
                        if eligible[i] {
                            let slot = &mut counts[d as usize];
                            *slot = (*slot).max(0) + i64::from(live[i]);
                        }
                    }
                    let min = counts.iter().copied().filter(|&c| c >= 0).min();
                    (Cow::Owned(counts), min)
                };
                let min = min.unwrap_or(i64::from(i32::MAX));
                HardSpread { domain: Some(&index.domain), counts, min, self_match, max_skew }
            })
            .collect()
    }

    fn inter_pod(&self, q: &PodQuery) -> InterPod<'_> {
        let affinity = (!q.affinity.is_empty()).then(|| {
            let selector = q.affinity_selector();
            let mut any = false;
            let terms = q
                .affinity
                .iter()
                .map(|term| match (self.key_index(term.key), &selector) {
                    (Some(key), Some(selector)) => {
                        let (sums, total) = pick(self.domains(q.ns, selector, key), false);
                        any |= total > 0;
                        (Some(self.keys[key].domain.as_slice()), sums)
                    }
                    (Some(key), None) => (Some(self.keys[key].domain.as_slice()), Cow::Owned(Vec::new())),
                    (None, _) => (None, Cow::Owned(Vec::new())),
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
                let (sums, total) = pick(self.domains(q.ns, &term.selector, key), false);
                (total > 0).then_some((self.keys[key].domain.as_slice(), sums))
            })
            .collect();
        let existing = self
            .carriers
            .iter()
            .filter(|c| {
                c.kind == CarrierKind::RequiredAnti
                    && c.domain_total > 0
                    && c.ns == q.ns
                    && subset(&c.selector, &q.labels)
            })
            .filter_map(|c| Some((self.keys[c.key_index?].domain.as_slice(), c.per_domain.as_slice())))
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
        let node_rules = node_rules.as_deref();
        let hard = self.hard_spread(q, node_rules);
        let inter_pod = self.inter_pod(q);
        let cordon = ITaint { key: self.unschedulable_key, value: self.empty, effect: TaintEffect::NoSchedule };
        let tolerates_cordon = q.tolerates(&cordon);
        let req = q.req;

        let mut feasible: Vec<u32> = Vec::with_capacity(n);
        let mut prefer_taints = false;
        let mut tally = Tally::default();
        'nodes: for (i, node) in self.hot.iter().enumerate() {
            // NodeUnschedulable
            if node.flags & CORDONED != 0 && !tolerates_cordon {
                tally.add(Reason::Unschedulable);
                continue;
            }
            // TaintToleration: the first untolerated NoSchedule or NoExecute taint.
            if node.flags & HARD_TAINTS != 0
                && let Some(taint) =
                    self.nodes[i].taints.iter().find(|t| t.effect != TaintEffect::PreferNoSchedule && !q.tolerates(t))
            {
                tally.add(Reason::Taint(taint.key, taint.value));
                continue;
            }
            // NodeAffinity
            if node_rules.is_some_and(|ok| !ok[i]) {
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
                if at(&c.counts, d).max(0) + c.self_match - c.min > c.max_skew {
                    tally.add(Reason::Spread);
                    continue 'nodes;
                }
            }
            // InterPodAffinity
            if let Some(reason) = inter_pod.check(i) {
                tally.add(reason);
                continue;
            }
            prefer_taints |= node.flags & PREFER_TAINTS != 0;
            feasible.push(i as u32);
        }

        match feasible.len() {
            0 => Err(tally.finish(n, &self.syms)),
            1 => Ok(NodeId(feasible[0])),
            _ => Ok(NodeId(self.best(q, &feasible, node_rules, prefer_taints))),
        }
    }

    /// The best feasible node: the weighted sum of the score plugins, ties to the
    /// first. BalancedAllocation is computed exactly only for nodes whose bound can
    /// still win; the others cannot change the outcome.
    fn best(&self, q: &PodQuery, feasible: &[u32], node_rules: Option<&[bool]>, prefer_taints: bool) -> u32 {
        let partial = self.partial_scores(q, feasible, node_rules, prefer_taints);
        let hot: Vec<&Hot> = feasible.iter().map(|&i| &self.hot[i as usize]).collect();
        feasible[best_of(&partial, &hot, &q.req)]
    }

    /// Every weighted score but BalancedAllocation, per feasible node.
    fn partial_scores(
        &self,
        q: &PodQuery,
        feasible: &[u32],
        node_rules: Option<&[bool]>,
        prefer_taints: bool,
    ) -> Vec<i64> {
        let mut partial: Vec<i64> = feasible.iter().map(|&i| least_allocated(&self.hot[i as usize], &q.req)).collect();
        // TaintToleration (weight 3): fewer untolerated PreferNoSchedule taints is better.
        if prefer_taints {
            let raw: Vec<i64> = feasible
                .iter()
                .map(|&i| {
                    if self.hot[i as usize].flags & PREFER_TAINTS == 0 {
                        return 0;
                    }
                    let taints = &self.nodes[i as usize].taints;
                    let untolerated =
                        taints.iter().filter(|t| t.effect == TaintEffect::PreferNoSchedule && !q.tolerates(t)).count();
                    untolerated as i64
                })
                .collect();
            let max = raw.iter().copied().max().unwrap_or(0);
            let scores = tabulate(&raw, 0, max, |r| if max == 0 { 100 } else { 100 - 100 * r / max });
            for (t, s) in partial.iter_mut().zip(scores) {
                *t += 3 * s;
            }
        }
        if !q.soft.is_empty() {
            for (t, s) in partial.iter_mut().zip(self.spread_scores(q, feasible, node_rules)) {
                *t += 2 * s;
            }
        }
        if let Some(scores) = self.inter_pod_scores(q, feasible) {
            for (t, s) in partial.iter_mut().zip(scores) {
                *t += 2 * s;
            }
        }
        partial
    }

    /// PodTopologySpread's score for soft constraints, normalised so that the node
    /// whose domains hold the fewest matching pods gets 100.
    fn spread_scores(&self, q: &PodQuery, feasible: &[u32], node_rules: Option<&[bool]>) -> Vec<i64> {
        let keys: Vec<Option<usize>> = q.soft.iter().map(|c| self.key_index(c.key)).collect();
        let has_all = |i: usize| keys.iter().all(|k| k.is_some_and(|k| self.keys[k].domain[i] != MISSING));
        // Feasible nodes lacking a key are not scored (they get 0).
        let scored: Vec<bool> = feasible.iter().map(|&i| has_all(i as usize)).collect();
        let kept = scored.iter().filter(|&&s| s).count();
        // Counts come from nodes the pod's node rules allow that have every key; with
        // no node rules and one key, every node with the key: the kept counts.
        let fast = node_rules.is_none() && keys.iter().all(|k| *k == keys[0]);
        let mut raw = vec![0f64; feasible.len()];
        for (c, key) in q.soft.iter().zip(&keys) {
            let Some(key) = *key else { continue };
            let index = &self.keys[key];
            let tolerance = f64::from(c.max_skew) - 1.0;
            if c.key == self.hostname {
                let live = self.counts(q.ns, &c.selector, true);
                let weight = ((kept + 2) as f64).ln();
                for (j, &i) in feasible.iter().enumerate() {
                    if scored[j] {
                        raw[j] += f64::from(live[i as usize]) * weight + tolerance;
                    }
                }
                continue;
            }
            let mut present = vec![false; index.len()];
            let mut size = 0usize;
            for (j, &i) in feasible.iter().enumerate() {
                let d = index.domain[i as usize];
                if scored[j] && !present[d as usize] {
                    present[d as usize] = true;
                    size += 1;
                }
            }
            let counts: Cow<'_, [i64]> = if fast {
                pick(self.domains(q.ns, &c.selector, key), true).0
            } else {
                let live = self.counts(q.ns, &c.selector, true);
                let mut counts = vec![0i64; index.len()];
                for (i, &d) in index.domain.iter().enumerate() {
                    if d != MISSING && present[d as usize] && node_rules.is_none_or(|ok| ok[i]) && has_all(i) {
                        counts[d as usize] += i64::from(live[i]);
                    }
                }
                Cow::Owned(counts)
            };
            let weight = ((size + 2) as f64).ln();
            for (j, &i) in feasible.iter().enumerate() {
                if scored[j] {
                    raw[j] += at(&counts, index.domain[i as usize]) as f64 * weight + tolerance;
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
        let normal = tabulate(&raw, min.min(max), max, |r| if max == 0 { 100 } else { 100 * (max + min - r) / max });
        normal.into_iter().zip(&scored).map(|(s, &scored)| if scored { s } else { 0 }).collect()
    }

    /// InterPodAffinity's score: preferred terms of the pod and of existing pods (and
    /// existing pods' required affinity, with weight 1), normalised between the lowest
    /// and highest node; `None` when no term counted any pod (all nodes score 0).
    fn inter_pod_scores(&self, q: &PodQuery, feasible: &[u32]) -> Option<Vec<i64>> {
        let mut parts: Vec<(DomainCounts<'_>, i64)> = Vec::new();
        let own = q.pref_affinity.iter().map(|t| (t, 1)).chain(q.pref_anti.iter().map(|t| (t, -1)));
        for (term, sign) in own {
            let Some(key) = self.key_index(term.key) else { continue };
            let (sums, total) = pick(self.domains(q.ns, &term.selector, key), false);
            if total > 0 {
                parts.push(((&self.keys[key].domain, sums), sign));
            }
        }
        for c in &self.carriers {
            let sign = match c.kind {
                CarrierKind::RequiredAffinity | CarrierKind::PreferredAffinity => 1,
                CarrierKind::PreferredAnti => -1,
                CarrierKind::RequiredAnti => continue,
            };
            if c.domain_total > 0
                && c.ns == q.ns
                && subset(&c.selector, &q.labels)
                && let Some(key) = c.key_index
            {
                parts.push(((&self.keys[key].domain, Cow::Borrowed(c.per_domain.as_slice())), sign));
            }
        }
        if parts.is_empty() {
            return None;
        }
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&i| {
                parts
                    .iter()
                    .map(|((domain, sums), sign)| {
                        let d = domain[i as usize];
                        if d == MISSING { 0 } else { sign * at(sums, d) }
                    })
                    .sum()
            })
            .collect();
        let min = raw.iter().copied().min().unwrap_or(0);
        let max = raw.iter().copied().max().unwrap_or(0);
        let spread = max - min;
        Some(tabulate(
            &raw,
            min,
            max,
            |r| if spread > 0 { (100.0 * ((r - min) as f64 / spread as f64)) as i64 } else { 0 },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    fn node(next: &mut impl FnMut() -> u64) -> Hot {
        let alloc_cpu = [0, 1000, 2000, 4000, 3999, 16000][(next() % 6) as usize];
        let alloc_mem = [0i64, 1 << 30, 4 << 30, 3_000_000_000, 64 << 30][(next() % 5) as usize];
        Hot {
            alloc_cpu,
            alloc_mem,
            req_cpu: (next() % 5000) as i64,
            req_mem: (next() % (8 << 30)) as i64,
            nz_cpu: (next() % 5000) as i64,
            nz_mem: (next() % (8 << 30)) as i64,
            inv_cpu: if alloc_cpu > 0 { 1.0 / alloc_cpu as f64 } else { 0.0 },
            inv_mem: if alloc_mem > 0 { 1.0 / alloc_mem as f64 } else { 0.0 },
            ..Hot::default()
        }
    }

    #[test]
    fn pruned_best_is_the_exhaustive_best() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        for _ in 0..3_000 {
            let count = 1 + (next() % 12) as usize;
            let nodes: Vec<Hot> = (0..count).map(|_| node(&mut next)).collect();
            let refs: Vec<&Hot> = nodes.iter().collect();
            let req = Req::of(&doppel_model::spec::Resources {
                cpu: doppel_model::Cores((next() % 3000) as f64 / 1000.0),
                memory: doppel_model::Bytes(next() % (2 << 30)),
                ..Default::default()
            });
            let partial: Vec<i64> = nodes.iter().map(|n| least_allocated(n, &req) + (next() % 3) as i64).collect();
            for (n, p) in nodes.iter().zip(&partial) {
                assert!(balanced_allocation_bound(n, &req) >= balanced_allocation(n, &req), "{n:?} {p}");
            }
            let totals: Vec<i64> = nodes.iter().zip(&partial).map(|(n, p)| p + balanced_allocation(n, &req)).collect();
            let expected = (0..count).max_by_key(|&j| (totals[j], std::cmp::Reverse(j))).expect("some node");
            assert_eq!(best_of(&partial, &refs, &req), expected, "{totals:?}");
        }
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
