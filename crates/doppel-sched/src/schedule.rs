//! One scheduling cycle: the filters in the default profile's order, then the scores
//! with their default weights and normalisation.
//!
//! Rules followed, from <https://kubernetes.io/docs/concepts/scheduling-eviction/>
//! (kube-scheduler, taint-and-toleration, assign-pod-node,
//! topology-spread-constraints, resource-bin-packing) and the v1.30 plugins.

use crate::bits::Bits;
use crate::fit::{FitClass, NO_FIT};
use crate::intern::{Interner, MISSING, Symbols, label, merge, subset};
use crate::{CORDONED, CarrierKind, Cluster, Domains, HARD_TAINTS, ITaint, KeyIndex, Map, NodeId, Req, SchedPod};
use doppel_model::spec::{AffinityTerm, TaintEffect, TolerationOperator};
use std::borrow::Cow;
use std::fmt;

mod fast;
#[cfg(test)]
mod plain;

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

    /// Calls `f` with each (selector, topology key) pair whose matching pods this
    /// pod's rules count.
    pub(crate) fn watched(&self, mut f: impl FnMut(&[(u32, u32)], u32)) {
        for c in self.hard.iter().chain(&self.soft) {
            f(&c.selector, c.key);
        }
        for t in self.anti.iter().chain(&self.pref_affinity).chain(&self.pref_anti) {
            f(&t.selector, t.key);
        }
        if let Some(selector) = self.affinity_selector().filter(|_| !self.affinity.is_empty()) {
            for t in &self.affinity {
                f(&selector, t.key);
            }
        }
    }
}

/// A key's domains, and a per-domain table of counts.
type IndexCounts<'a> = (&'a KeyIndex, Cow<'a, [i64]>);
/// The same, for a key that may be on no node.
type MaybeIndexCounts<'a> = (Option<&'a KeyIndex>, Cow<'a, [i64]>);

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
    index: Option<&'a KeyIndex>,
    counts: Cow<'a, [i64]>,
    min: i64,
    self_match: i64,
    max_skew: i64,
}

/// The incoming pod's required affinity ready for the filter.
struct RequiredAffinity<'a> {
    /// Per term: the domains of its key (if some node has it), matching pods per domain.
    terms: Vec<MaybeIndexCounts<'a>>,
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
    anti: Vec<IndexCounts<'a>>,
    /// Per existing pods' anti-affinity term matching the pod: domains, and the pods
    /// carrying it per domain (the pod may not join a domain that has one).
    existing: Vec<(&'a KeyIndex, &'a [i64])>,
}

/// A filter judging nodes by their domain of one key: `pass[d]` for domain `d`, and
/// the last slot for nodes without the key.
pub(crate) struct DomainFilter<'a> {
    index: &'a KeyIndex,
    pass: Vec<bool>,
}

/// The nodes that pass the filters, with what their scores need: the fit score, the
/// untolerated `PreferNoSchedule` taints and the inter-pod sum (with its bounds).
struct Feasible {
    node: Vec<u32>,
    fit: Vec<i32>,
    prefer: Vec<i32>,
    raw: Vec<i64>,
    max_prefer: i32,
    min_raw: i64,
    max_raw: i64,
}

impl Feasible {
    fn with_capacity(n: usize) -> Feasible {
        Feasible {
            node: Vec::with_capacity(n),
            fit: Vec::with_capacity(n),
            prefer: Vec::with_capacity(n),
            raw: Vec::with_capacity(n),
            max_prefer: 0,
            min_raw: i64::MAX,
            max_raw: i64::MIN,
        }
    }

    fn push(&mut self, node: u32, fit: i32, prefer: i32, raw: i64) {
        self.node.push(node);
        self.fit.push(fit);
        self.prefer.push(prefer);
        self.raw.push(raw);
        self.max_prefer = self.max_prefer.max(prefer);
        self.min_raw = self.min_raw.min(raw);
        self.max_raw = self.max_raw.max(raw);
    }
}

/// Inter-pod counts summed per domain of a key, with a last slot (zero) for nodes
/// without the key.
struct Table<'a> {
    index: &'a KeyIndex,
    sums: Vec<i64>,
}

/// Inter-pod counts on a key with one node per domain: per node, and the nodes where
/// they are not zero.
struct Fine<'a> {
    domain: &'a [u32],
    counts: Cow<'a, [u32]>,
    any: Cow<'a, Bits>,
    sign: i64,
}

/// What InterPodAffinity's score sums per node: the pods matching the pod's preferred
/// terms (anti-affinity negative), and the existing pods whose preferred terms (or
/// required affinity, with weight 1) the pod matches. Per-domain tables, one per key,
/// except for keys with one node per domain (the hostname), counted per node.
struct InterPodParts<'a> {
    tables: Vec<Table<'a>>,
    fine: Vec<Fine<'a>>,
}

impl InterPodParts<'_> {
    /// Whether no term counted any pod (every node then scores 0).
    fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.fine.is_empty()
    }

    /// Whether every table's key keeps its nodes per domain as sets.
    fn coarse(&self) -> bool {
        self.tables.iter().all(|t| t.index.is_coarse())
    }

    /// The inter-pod sum of node `i`.
    fn raw(&self, i: usize) -> i64 {
        let tables: i64 = self.tables.iter().map(|t| t.sums[(t.index.domain[i] as usize).min(t.index.len())]).sum();
        let fine: i64 =
            self.fine.iter().map(|f| if f.domain[i] == MISSING { 0 } else { f.sign * i64::from(f.counts[i]) }).sum();
        tables + fine
    }
}

impl<'a> InterPodParts<'a> {
    /// Adds `sign` times a per-domain table to the sums of its key.
    fn add_table(&mut self, index: &'a KeyIndex, sums: &[i64], sign: i64) {
        let at_key = match self.tables.iter().position(|t| std::ptr::eq(t.index, index)) {
            Some(found) => found,
            None => {
                self.tables.push(Table { index, sums: vec![0; index.len() + 1] });
                self.tables.len() - 1
            }
        };
        let table = &mut self.tables[at_key].sums;
        for (d, slot) in table.iter_mut().enumerate().take(index.len()) {
            *slot += sign * at(sums, d as u32);
        }
    }
}

impl<'a> DomainFilter<'a> {
    /// Adds the verdict `pass` per domain of a key (`missing` for nodes without it) to
    /// the filters, merged with the filter of the same key if there is one.
    fn add(filters: &mut Vec<DomainFilter<'a>>, index: &'a KeyIndex, missing: bool, pass: impl Fn(u32) -> bool) {
        let at = filters.iter().position(|f| std::ptr::eq(f.index, index));
        let at = at.unwrap_or_else(|| {
            filters.push(DomainFilter { index, pass: vec![true; index.len() + 1] });
            filters.len() - 1
        });
        for (d, slot) in filters[at].pass.iter_mut().enumerate() {
            *slot &= if d == index.len() { missing } else { pass(d as u32) };
        }
    }

    fn passes(&self, i: usize) -> bool {
        let d = (self.index.domain[i] as usize).min(self.pass.len() - 1);
        self.pass[d]
    }

    /// The nodes that pass: from the domains' node sets where the key has them.
    pub(crate) fn bits(&self) -> Bits {
        let n = self.index.domain.len();
        if !self.index.is_coarse() {
            return Bits::from_fn(n, |i| self.passes(i));
        }
        let mut out = Bits::zeros(n);
        for (members, &pass) in self.index.members.iter().zip(&self.pass) {
            if pass {
                out.or(members);
            }
        }
        if self.pass[self.index.len()] {
            let mut missing = Bits::ones(n);
            missing.and_not(&self.index.keyed);
            out.or(&missing);
        }
        out
    }
}

impl InterPod<'_> {
    fn check(&self, i: usize) -> Option<Reason> {
        if let Some(affinity) = &self.affinity {
            let mut pods_exist = true;
            for (index, sums) in &affinity.terms {
                let Some(d) = index.map(|index| index.domain[i]).filter(|&d| d != MISSING) else {
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
        for (index, sums) in &self.anti {
            let d = index.domain[i];
            if d != MISSING && at(sums, d) > 0 {
                return Some(Reason::AntiAffinity);
            }
        }
        for (index, carriers) in &self.existing {
            let d = index.domain[i];
            if d != MISSING && at(carriers, d) > 0 {
                return Some(Reason::ExistingAnti);
            }
        }
        None
    }
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
        resolve(pod, &mut Symbols::Reading { known: &self.syms, extra: Map::default() })
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

    /// The same, with the nodes where some pod counted (or a superset of them).
    fn counts_where(&self, ns: u32, selector: &[(u32, u32)], live: bool) -> (Cow<'_, [u32]>, Cow<'_, Bits>) {
        match self.find_group(ns, selector) {
            Some(group) => (Cow::Borrowed(if live { &group.live } else { &group.all }), Cow::Borrowed(&group.any)),
            None => {
                let (l, a) = self.count_pods(ns, selector);
                let counts = if live { l } else { a };
                let any = Bits::from_fn(counts.len(), |i| counts[i] > 0);
                (Cow::Owned(counts), Cow::Owned(any))
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
                    return HardSpread { index: None, counts: Cow::Owned(Vec::new()), min: 0, self_match, max_skew };
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
                HardSpread { index: Some(index), counts, min, self_match, max_skew }
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
                        (Some(&self.keys[key]), sums)
                    }
                    (Some(key), None) => (Some(&self.keys[key]), Cow::Owned(Vec::new())),
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
                (total > 0).then_some((&self.keys[key], sums))
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
            .filter_map(|c| Some((&self.keys[c.key_index?], c.per_domain.as_slice())))
            .collect();
        InterPod { affinity, anti, existing }
    }

    /// Per node, whether it meets the pod's node selector and required node affinity;
    /// none when the pod has neither.
    pub(crate) fn node_rule_verdicts(&self, q: &PodQuery) -> Option<Vec<bool>> {
        q.has_node_rules().then(|| self.nodes.iter().map(|node| q.matches_node(&node.labels)).collect())
    }

    /// Filters every node, then scores the survivors; the best wins, ties to the first.
    /// `fit` holds every node's fit score for the pod's requests.
    ///
    /// Taints are judged once per taint class, and the topology spread and inter-pod
    /// filters once per domain. When every key the scores read has few domains or one
    /// node per domain (the usual zone and hostname), the filters combine node sets and
    /// the scoring visits few nodes (`fast.rs`); otherwise one pass over the nodes
    /// filters them with a few table lookups each and `best` scores the survivors. The
    /// reasons of a refusal are gathered only when no node is left.
    pub(crate) fn decide(&self, q: &PodQuery, fit: &FitClass) -> Result<NodeId, Unschedulable> {
        let n = self.nodes.len();
        if n == 0 {
            return Err(Unschedulable::default());
        }
        let node_rules = self.node_rule_verdicts(q);
        let node_rules = node_rules.as_deref();
        let taints = self.taint_verdicts(q);
        let Some(filters) = self.domain_filters(q, node_rules) else {
            return Err(self.refusal(q, node_rules));
        };
        let parts = self.inter_pod_parts(q);
        if parts.coarse() && self.soft_coarse(q) {
            let allowed = node_rules.map(|ok| Bits::from_fn(n, |i| ok[i]));
            let feasible = self.feasible_set(&taints, fit, allowed.as_ref(), &filters);
            return match (feasible.count(), feasible.first()) {
                (0, _) | (_, None) => Err(self.refusal(q, node_rules)),
                (1, Some(i)) => Ok(NodeId(i as u32)),
                _ => {
                    let soft = self.soft_parts(q, &feasible, allowed.as_ref());
                    Ok(NodeId(self.best_of_set(&feasible, fit, &taints, &parts, &soft)))
                }
            };
        }
        let mut found = Feasible::with_capacity(n);
        'nodes: for (i, (&class, &score)) in self.taint_class.iter().zip(&fit.scores).enumerate() {
            let prefer = taints[class as usize];
            if prefer < 0 || score == NO_FIT || node_rules.is_some_and(|ok| !ok[i]) {
                continue;
            }
            for filter in &filters {
                if !filter.passes(i) {
                    continue 'nodes;
                }
            }
            let raw = parts.raw(i);
            found.push(i as u32, score, prefer, raw);
        }
        match found.node.len() {
            0 => Err(self.refusal(q, node_rules)),
            1 => Ok(NodeId(found.node[0])),
            _ => Ok(NodeId(self.best(q, &found, node_rules, !parts.is_empty()))),
        }
    }

    /// Per taint class: -1 if the pod may not go there (cordoned, or an untolerated
    /// `NoSchedule` or `NoExecute` taint), else its untolerated `PreferNoSchedule` taints.
    fn taint_verdicts(&self, q: &PodQuery) -> Vec<i32> {
        let cordon = ITaint { key: self.unschedulable_key, value: self.empty, effect: TaintEffect::NoSchedule };
        let tolerates_cordon = q.tolerates(&cordon);
        self.taint_classes
            .iter()
            .map(|class| {
                let mut prefer = 0;
                if class.cordoned && !tolerates_cordon {
                    return -1;
                }
                for taint in &class.taints {
                    if q.tolerates(taint) {
                        continue;
                    }
                    if taint.effect != TaintEffect::PreferNoSchedule {
                        return -1;
                    }
                    prefer += 1;
                }
                prefer
            })
            .collect()
    }

    /// The hard topology spread constraints and inter-pod rules as per-domain verdicts,
    /// those of one key merged, and those passing every node left out; `None` when
    /// they reject every node.
    fn domain_filters(&self, q: &PodQuery, node_rules: Option<&[bool]>) -> Option<Vec<DomainFilter<'_>>> {
        let mut filters: Vec<DomainFilter<'_>> = Vec::new();
        for c in self.hard_spread(q, node_rules) {
            let index = c.index?;
            DomainFilter::add(&mut filters, index, false, |d| {
                at(&c.counts, d).max(0) + c.self_match - c.min <= c.max_skew
            });
        }
        let inter_pod = self.inter_pod(q);
        if let Some(affinity) = &inter_pod.affinity {
            let strict = affinity.any || !affinity.self_match;
            for (index, sums) in &affinity.terms {
                DomainFilter::add(&mut filters, (*index)?, false, |d| !strict || at(sums, d) > 0);
            }
        }
        for (index, sums) in &inter_pod.anti {
            DomainFilter::add(&mut filters, index, true, |d| at(sums, d) <= 0);
        }
        for (index, carriers) in &inter_pod.existing {
            DomainFilter::add(&mut filters, index, true, |d| at(carriers, d) <= 0);
        }
        filters.retain(|f| f.pass.contains(&false));
        Some(filters)
    }

    /// Every filter in the scheduler's order, counting each node's first reason (all
    /// its shortages for NodeResourcesFit): the nodes that pass, and the reasons.
    fn filter_all(&self, q: &PodQuery, node_rules: Option<&[bool]>) -> (Vec<u32>, Tally) {
        let hard = self.hard_spread(q, node_rules);
        let inter_pod = self.inter_pod(q);
        let cordon = ITaint { key: self.unschedulable_key, value: self.empty, effect: TaintEffect::NoSchedule };
        let tolerates_cordon = q.tolerates(&cordon);
        let req = q.req;
        let mut feasible = Vec::new();
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
                let Some(d) = c.index.map(|index| index.domain[i]).filter(|&d| d != MISSING) else {
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
            feasible.push(i as u32);
        }
        (feasible, tally)
    }

    /// Why no node takes the pod, as the scheduler words it.
    fn refusal(&self, q: &PodQuery, node_rules: Option<&[bool]>) -> Unschedulable {
        let (feasible, tally) = self.filter_all(q, node_rules);
        debug_assert!(feasible.is_empty(), "the filters disagree on {feasible:?}");
        tally.finish(self.nodes.len(), &self.syms)
    }

    /// The best of several feasible nodes: the highest weighted sum of the score
    /// plugins, ties to the first. `inter_pod` tells whether some preferred inter-pod
    /// term counted a pod (otherwise InterPodAffinity scores every node 0).
    fn best(&self, q: &PodQuery, found: &Feasible, node_rules: Option<&[bool]>, inter_pod: bool) -> u32 {
        // TaintToleration (weight 3): fewer untolerated PreferNoSchedule taints is better.
        // When no feasible node has one, every node scores the same: it changes nothing.
        let max = i64::from(found.max_prefer);
        let taint_scores: Vec<i64> =
            if max > 0 { (0..=max).map(|r| 3 * (100 - 100 * r / max)).collect() } else { vec![0] };
        // InterPodAffinity (weight 2): the raw sums normalised between the lowest and the
        // highest, from a table when the range is short.
        let (min, spread) = (found.min_raw, found.max_raw - found.min_raw);
        let normal = |r: i64| if spread > 0 { 2 * (100.0 * ((r - min) as f64 / spread as f64)) as i64 } else { 0 };
        let table: Vec<i64> = if inter_pod && (spread as usize) < found.node.len() {
            (min..=found.max_raw).map(normal).collect()
        } else {
            Vec::new()
        };
        let inter_pod_score = |r: i64| match table.get((r - min) as usize) {
            Some(&score) => score,
            None if inter_pod => normal(r),
            None => 0,
        };
        // PodTopologySpread (weight 2), for soft constraints.
        let spread_scores = if q.soft.is_empty() { Vec::new() } else { self.spread_scores(q, &found.node, node_rules) };
        let mut best = (i64::MIN, 0);
        for j in 0..found.node.len() {
            let total = i64::from(found.fit[j])
                + taint_scores[found.prefer[j] as usize]
                + inter_pod_score(found.raw[j])
                + spread_scores.get(j).map_or(0, |s| 2 * s);
            if total > best.0 {
                best = (total, found.node[j]);
            }
        }
        best.1
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

    /// The inter-pod terms of the pod and of existing pods that count some pod.
    fn inter_pod_parts(&self, q: &PodQuery) -> InterPodParts<'_> {
        let mut parts = InterPodParts { tables: Vec::new(), fine: Vec::new() };
        let own = q.pref_affinity.iter().map(|t| (t, 1)).chain(q.pref_anti.iter().map(|t| (t, -1)));
        for (term, sign) in own {
            let Some(key) = self.key_index(term.key) else { continue };
            let (sums, total) = pick(self.domains(q.ns, &term.selector, key), false);
            if total <= 0 {
                continue;
            }
            let index = &self.keys[key];
            if index.one_node_per_domain() {
                let (counts, any) = self.counts_where(q.ns, &term.selector, false);
                parts.fine.push(Fine { domain: &index.domain, counts, any, sign });
            } else {
                parts.add_table(index, &sums, sign);
            }
        }
        for c in &self.carriers {
            let Some(sign) = c.kind.score_sign() else { continue };
            if c.domain_total > 0
                && c.ns == q.ns
                && subset(&c.selector, &q.labels)
                && let Some(key) = c.key_index
            {
                let index = &self.keys[key];
                if index.one_node_per_domain() {
                    parts.fine.push(Fine {
                        domain: &index.domain,
                        counts: Cow::Borrowed(&c.per_node),
                        any: Cow::Borrowed(&c.any),
                        sign,
                    });
                } else {
                    parts.add_table(index, &c.per_domain, sign);
                }
            }
        }
        parts
    }
}
