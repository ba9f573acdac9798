//! Expected yearly availability of each entry point, from how often each component fails
//! and how long it stays down (MTBF/MTTR per class, documented defaults, overridable per
//! entity with labels), on the failure graph.
//!
//! Two answers: the series formula over the single failures that cut an entry point off
//! (exact where nothing on its path is redundant), and a seeded Monte Carlo over random
//! instants that counts every combination of failures, with a 95% confidence interval.
//! Both count the ways Kubernetes and failover shorten an outage: a Deployment's pods come
//! back on another node after eviction and start-up; a promoted replica serves after the
//! failover delay.

use crate::failgraph::{Class, FailGraph, Gate, KillerSets};
use crate::topology::{Topology, defaults};
use doppel_model::{Key, Kind, Spec, TwinView};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;

/// Hours in a year.
pub const HOURS_PER_YEAR: f64 = 8766.0;

/// Label that overrides a component's mean time between failures, in hours.
pub const MTBF_LABEL: &str = "doppel.dev/mtbf-hours";
/// Label that overrides a component's mean time to repair, in hours.
pub const MTTR_LABEL: &str = "doppel.dev/mttr-hours";

/// How often a component fails and how long it stays down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reliability {
    /// Mean time between failures, hours.
    pub mtbf_h: f64,
    /// Mean time to repair, hours.
    pub mttr_h: f64,
}

impl Reliability {
    /// Share of time down.
    pub fn unavailability(&self) -> f64 {
        self.mttr_h / (self.mtbf_h + self.mttr_h)
    }
}

/// Defaults per class, documented in `docs/resilience.md`; `None` means it does not fail on
/// its own (derived gates; workloads, whose failures are counted on their services).
pub fn class_default(class: Class) -> Option<Reliability> {
    let r = |mtbf_h, mttr_h| Some(Reliability { mtbf_h, mttr_h });
    match class {
        Class::Region => r(5.0 * HOURS_PER_YEAR, 6.0),
        Class::Zone => r(2.0 * HOURS_PER_YEAR, 3.0),
        Class::Node => r(HOURS_PER_YEAR, 1.0),
        // Crashes and OOM kills: the kubelet restarts the container within about a minute.
        Class::Pod => r(2160.0, 1.0 / 60.0),
        // A bad release or incident of the service as a whole, rolled back in half an hour.
        Class::Service => r(HOURS_PER_YEAR / 2.0, 0.5),
        Class::Datastore | Class::Standby => r(HOURS_PER_YEAR, 2.0),
        Class::Queue => r(HOURS_PER_YEAR, 1.0),
        Class::External => r(HOURS_PER_YEAR, 1.0),
        Class::LoadBalancer => r(5.0 * HOURS_PER_YEAR, 1.0),
        Class::Workload | Class::Failover | Class::Endpoint | Class::Entry => None,
    }
}

/// How the availability of an entry point was worked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The series formula: nothing on its path is redundant, so single failures are all.
    Analytic,
    /// Random instants: redundancy on its path, so combinations of failures count.
    MonteCarlo,
}

/// Where an entry point's expected downtime comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// The component.
    pub component: String,
    /// Expected minutes down per year it causes alone.
    pub minutes_per_year: f64,
}

/// The expected availability of one entry point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryAvailability {
    /// The entry point.
    pub entry: String,
    /// Its availability objective, percent.
    pub slo_pct: Option<f64>,
    /// Expected availability, percent (the method's answer).
    pub availability_pct: f64,
    /// 95% confidence interval, percent (Monte Carlo only).
    pub interval_pct: Option<(f64, f64)>,
    /// How it was worked out.
    pub method: Method,
    /// The series formula's answer (single failures only), percent.
    pub series_pct: f64,
    /// Expected minutes down per year.
    pub minutes_per_year: f64,
    /// Whether it meets its objective: none when there is none, or the interval straddles it.
    pub meets_slo: Option<bool>,
    /// What each single failure on its path costs it, largest first.
    pub contributions: Vec<Contribution>,
}

/// The availability estimate of every entry point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AvailabilityReport {
    /// Entry points, least available first.
    pub entries: Vec<EntryAvailability>,
    /// Random instants drawn.
    pub samples: u64,
    /// Seed.
    pub seed: u64,
    /// Reliability used per class, for the report.
    pub classes: Vec<(Class, Reliability)>,
    /// Components whose figures came from labels or an SLA.
    pub overridden: usize,
    /// Assumptions.
    pub notes: Vec<String>,
}

/// Options of an estimate.
#[derive(Debug, Clone, Copy)]
pub struct AvailabilityOptions {
    /// Random instants to draw.
    pub samples: u64,
    /// Seed.
    pub seed: u64,
}

impl Default for AvailabilityOptions {
    fn default() -> AvailabilityOptions {
        AvailabilityOptions { samples: 20_000_000, seed: 1 }
    }
}

/// A problem with a label override.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: label {label}: {message}")]
pub struct OverrideError {
    /// The entity.
    pub key: Key,
    /// The label.
    pub label: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Per component: its reliability (none if it does not fail on its own), and how many were
/// overridden.
fn reliabilities(
    view: &(impl TwinView + ?Sized),
    g: &FailGraph,
) -> Result<(Vec<Option<Reliability>>, usize), Vec<OverrideError>> {
    let mut errors = Vec::new();
    let mut overridden = 0;
    let rel = g
        .comps()
        .iter()
        .map(|c| {
            let mut r = class_default(c.class)?;
            let Ok(key) = c.name.parse::<Key>() else { return Some(r) };
            let Some(entity) = view.entity(&key) else { return Some(r) };
            if let Spec::External(x) = &entity.spec
                && let Some(sla) = x.sla_pct
                && sla > 0.0
                && sla < 100.0
            {
                // Down (100 - sla)% of the time, in outages of the default length.
                let u = 1.0 - sla / 100.0;
                r.mtbf_h = r.mttr_h * (1.0 - u) / u;
                overridden += 1;
            }
            let mut any = false;
            for (label, slot) in [(MTBF_LABEL, &mut r.mtbf_h), (MTTR_LABEL, &mut r.mttr_h)] {
                let Some(text) = entity.labels.get(label) else { continue };
                match text.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() && v > 0.0 => {
                        *slot = v;
                        any = true;
                    }
                    _ => errors.push(OverrideError {
                        key: key.clone(),
                        label,
                        message: format!("`{text}` is not a number of hours above 0"),
                    }),
                }
            }
            overridden += usize::from(any);
            Some(r)
        })
        .collect();
    if errors.is_empty() { Ok((rel, overridden)) } else { Err(errors) }
}

/// Per component and input: seconds after which a failure of that input no longer reaches
/// it (a Deployment pod is replaced elsewhere; a replica has been promoted). Infinite when
/// the failure reaches it for as long as it lasts.
fn masks(topo: &Topology, g: &FailGraph) -> Vec<f64> {
    let mut mask = vec![f64::INFINITY; g.len()];
    for (pod, &c) in topo.pods.iter().zip(&g.pod) {
        let Some(w) = pod.workload else { continue };
        let wl = &topo.workloads[w];
        if wl.key.kind() != Kind::Deployment || c == u32::MAX {
            continue;
        }
        mask[c as usize] = defaults::NODE_MONITOR_GRACE_S + defaults::TOLERATION_S + wl.startup_s;
    }
    for (s, st) in topo.stations.iter().enumerate() {
        if let Some(f) = &st.failover
            && g.comps()[g.station[s] as usize].class == Class::Failover
        {
            mask[g.station[s] as usize] = f.after_s;
        }
    }
    mask
}

/// Delay after which input `i` of component `c` stops mattering (see [`masks`]): pods mask
/// their node, failover roles their primary.
fn edge_mask(g: &FailGraph, mask: &[f64], c: u32, i: u32) -> f64 {
    match g.comps()[c as usize].class {
        Class::Pod => mask[c as usize],
        Class::Failover if is_primary(g, c, i) => mask[c as usize],
        _ => f64::INFINITY,
    }
}

/// Whether `i` is the primary instance of failover role `c`.
fn is_primary(g: &FailGraph, c: u32, i: u32) -> bool {
    g.primary_of(c) == Some(i)
}

/// Estimates the availability of every entry point.
pub fn estimate(
    view: &(impl TwinView + ?Sized),
    topo: &Topology,
    options: &AvailabilityOptions,
) -> Result<AvailabilityReport, Vec<OverrideError>> {
    let g = FailGraph::build(topo);
    let k = g.killer_sets();
    let (rel, overridden) = reliabilities(view, &g)?;
    let mask = masks(topo, &g);
    let down_counts = monte_carlo(&g, &rel, &mask, options);
    let node_killers = node_killers(&g, &k);
    let n = options.samples.max(1) as f64;
    let mut entries: Vec<EntryAvailability> = g
        .entry
        .iter()
        .enumerate()
        .map(|(e, &c)| {
            let contributions = series(&g, &k, &rel, &mask, &node_killers, c);
            let series_u = 1.0 - contributions.iter().map(|(_, u)| 1.0 - u).product::<f64>();
            let redundant = has_redundancy(&g, c);
            let slo = slo_of(topo, e);
            let (u, interval) = if redundant {
                let p = down_counts[e] as f64 / n;
                let (lo, hi) = wilson(down_counts[e], options.samples.max(1));
                (p, Some(((1.0 - hi) * 100.0, (1.0 - lo) * 100.0)))
            } else {
                (series_u, None)
            };
            let availability_pct = (1.0 - u) * 100.0;
            let meets_slo = slo.and_then(|target| match interval {
                Some((lo, hi)) if lo < target && hi >= target => None,
                _ => Some(availability_pct >= target),
            });
            let mut contributions: Vec<Contribution> = contributions
                .iter()
                .map(|(x, u)| Contribution {
                    component: g.comps()[*x as usize].name.clone(),
                    minutes_per_year: u * HOURS_PER_YEAR * 60.0,
                })
                .collect();
            contributions
                .sort_by(|a, b| b.minutes_per_year.total_cmp(&a.minutes_per_year).then(a.component.cmp(&b.component)));
            EntryAvailability {
                entry: g.comps()[c as usize].name.clone(),
                slo_pct: slo,
                availability_pct,
                interval_pct: interval,
                method: if redundant { Method::MonteCarlo } else { Method::Analytic },
                series_pct: (1.0 - series_u) * 100.0,
                minutes_per_year: u * HOURS_PER_YEAR * 60.0,
                meets_slo,
                contributions,
            }
        })
        .collect();
    entries.sort_by(|a, b| a.availability_pct.total_cmp(&b.availability_pct).then(a.entry.cmp(&b.entry)));
    let classes: Vec<(Class, Reliability)> = [
        Class::Region,
        Class::Zone,
        Class::Node,
        Class::Pod,
        Class::Service,
        Class::Datastore,
        Class::Queue,
        Class::External,
        Class::LoadBalancer,
    ]
    .into_iter()
    .filter_map(|c| class_default(c).map(|r| (c, r)))
    .collect();
    Ok(AvailabilityReport {
        entries,
        samples: options.samples,
        seed: options.seed,
        classes,
        overridden,
        notes: vec![
            "failures are independent, with exponential times to fail and to repair".into(),
            "a Deployment's pods come back elsewhere after eviction and start-up; `doppel what-if` checks there is room".into(),
        ],
    })
}

fn slo_of(topo: &Topology, e: usize) -> Option<f64> {
    let entry = &topo.entries[e];
    topo.stations[entry.station].endpoints[entry.endpoint].slo.as_ref().and_then(|s| s.availability_pct)
}

/// Whether anything the component needs (transitively) tolerates losing an input.
fn has_redundancy(g: &FailGraph, top: u32) -> bool {
    let mut seen = vec![false; g.len()];
    let mut stack = vec![top];
    while let Some(c) = stack.pop() {
        if std::mem::replace(&mut seen[c as usize], true) {
            continue;
        }
        let inputs = g.inputs(c);
        if let Gate::AtLeast(k) = g.comps()[c as usize].gate
            && inputs.len() as u32 > k
        {
            return true;
        }
        stack.extend_from_slice(inputs);
    }
    false
}

/// The failures that take every node down (sorted): after them no pod can be rescheduled.
fn node_killers(g: &FailGraph, k: &KillerSets) -> Vec<u32> {
    let mut nodes = (0..g.len() as u32).filter(|&n| g.comps()[n as usize].class == Class::Node);
    let Some(first) = nodes.next() else { return Vec::new() };
    let mut out = k.set(first);
    for n in nodes {
        let set = k.set(n);
        out.retain(|x| set.binary_search(x).is_ok());
    }
    out
}

/// Single failures that cut `top` off, each with the share of time it does so: its
/// unavailability, times the chance that an outage is still young enough to matter when
/// every way it reaches `top` is masked after a delay. `node_killers` are the failures
/// after which no pod can be rescheduled ([`node_killers`]).
fn series(
    g: &FailGraph,
    k: &KillerSets,
    rel: &[Option<Reliability>],
    mask: &[f64],
    node_killers: &[u32],
    top: u32,
) -> Vec<(u32, f64)> {
    let mut out = Vec::new();
    for x in k.set(top) {
        let Some(r) = rel[x as usize] else { continue };
        let ctx = Reach { kills_every_node: node_killers.binary_search(&x).is_ok() };
        let delay = reach_delay(g, k, mask, &ctx, top, x, &mut HashMap::new());
        let young = if delay.is_infinite() { 1.0 } else { 1.0 - (-delay / 3600.0 / r.mttr_h).exp() };
        out.push((x, r.unavailability() * young));
    }
    // Failovers on the way, reached through parts without redundancy: while a primary's
    // outage is younger than the promotion delay, nothing serves.
    let mut seen = vec![false; g.len()];
    let mut stack = vec![top];
    while let Some(c) = stack.pop() {
        if std::mem::replace(&mut seen[c as usize], true) {
            continue;
        }
        match (g.comps()[c as usize].class, g.comps()[c as usize].gate) {
            (Class::Failover, _) => {
                for &p in g.inputs(c).iter().filter(|&&p| is_primary(g, c, p)) {
                    let Some(r) = rel[p as usize] else { continue };
                    if k.kills(p, top) || out.iter().any(|(x, _)| *x == p) {
                        continue;
                    }
                    let young = 1.0 - (-mask[c as usize] / 3600.0 / r.mttr_h).exp();
                    out.push((p, r.unavailability() * young));
                }
            }
            (_, Gate::All) => stack.extend_from_slice(g.inputs(c)),
            (_, Gate::AtLeast(_)) => {}
        }
    }
    out
}

/// What a failure leaves standing that masks depend on.
struct Reach {
    /// Whether the failure takes every node down (no pod can be rescheduled).
    kills_every_node: bool,
}

/// The longest an outage of `x` keeps reaching `c`: over all the ways `x` kills `c`, the best
/// of (the shortest mask on the way).
fn reach_delay(
    g: &FailGraph,
    k: &KillerSets,
    mask: &[f64],
    ctx: &Reach,
    c: u32,
    x: u32,
    memo: &mut HashMap<u32, f64>,
) -> f64 {
    if c == x {
        return f64::INFINITY;
    }
    if let Some(&d) = memo.get(&c) {
        return d;
    }
    memo.insert(c, 0.0); // cycles reach nothing new
    let killed: Vec<u32> = g.inputs(c).iter().copied().filter(|&i| k.kills(x, i)).collect();
    let class = g.comps()[c as usize].class;
    // A mask holds only while there is somewhere to go: a surviving node for a pod, a
    // surviving replica for a failover role.
    let masked = |i: u32| match class {
        Class::Pod => !ctx.kills_every_node,
        Class::Failover => killed.len() < g.inputs(c).len() && is_primary(g, c, i),
        _ => false,
    };
    let mut values: Vec<f64> = killed
        .iter()
        .map(|&i| {
            let through = reach_delay(g, k, mask, ctx, i, x, memo);
            if masked(i) { edge_mask(g, mask, c, i).min(through) } else { through }
        })
        .collect();
    values.sort_by(|a, b| b.total_cmp(a));
    let d = match g.comps()[c as usize].gate {
        Gate::All => values.first().copied().unwrap_or(0.0),
        Gate::AtLeast(need) => {
            let lose = (g.inputs(c).len() as u32 + 1).saturating_sub(need).max(1) as usize;
            values.get(lose - 1).copied().unwrap_or(0.0)
        }
    };
    memo.insert(c, d);
    d
}

/// Wilson score interval (95%) for `down` of `n`.
fn wilson(down: u64, n: u64) -> (f64, f64) {
    let (n, p) = (n as f64, down as f64 / n as f64);
    let z = 1.959_964;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Per entry, the number of sampled instants at which it is down. Components down at an
/// instant are drawn by geometric skips over (instant, component) pairs of equal
/// unavailability, so instants with everything up cost nothing.
fn monte_carlo(g: &FailGraph, rel: &[Option<Reliability>], mask: &[f64], options: &AvailabilityOptions) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    // Group components by unavailability (bit-exact), in index order for determinism.
    let mut groups: Vec<(u64, Vec<u32>)> = Vec::new();
    for (c, r) in rel.iter().enumerate() {
        let Some(r) = r else { continue };
        let u = r.unavailability();
        if u <= 0.0 {
            continue;
        }
        match groups.iter_mut().find(|(bits, _)| *bits == u.to_bits()) {
            Some((_, list)) => list.push(c as u32),
            None => groups.push((u.to_bits(), vec![c as u32])),
        }
    }
    let mut downs: Vec<(u64, u32)> = Vec::new();
    for (bits, comps) in &groups {
        let p = f64::from_bits(*bits).min(1.0 - 1e-12);
        let m = comps.len() as u64;
        let total = options.samples.saturating_mul(m);
        let log_q = (1.0 - p).ln();
        let mut pos: u64 = 0;
        loop {
            let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            let skip = (u.ln() / log_q).floor();
            if !skip.is_finite() || skip >= (total - pos) as f64 {
                break;
            }
            pos += skip as u64;
            downs.push((pos / m, comps[(pos % m) as usize]));
            pos += 1;
            if pos >= total {
                break;
            }
        }
    }
    downs.sort_unstable();
    let rank = topo_rank(g);
    let entry_of: HashMap<u32, usize> = g.entry.iter().enumerate().map(|(e, &c)| (c, e)).collect();
    let dependents = dependents(g);
    let mut counts = vec![0u64; g.entry.len()];
    let total_nodes = g.comps().iter().filter(|c| c.class == Class::Node).count();
    let mut state: Vec<Option<f64>> = vec![None; g.len()]; // broken, with age in seconds
    let mut i = 0;
    while i < downs.len() {
        let sample = downs[i].0;
        let mut failed: Vec<(u32, f64)> = Vec::new();
        while i < downs.len() && downs[i].0 == sample {
            let c = downs[i].1;
            let mttr_s = rel[c as usize].map_or(0.0, |r| r.mttr_h * 3600.0);
            let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            failed.push((c, -u.ln() * mttr_s));
            i += 1;
        }
        for e in evaluate(g, mask, &rank, &dependents, &failed, &mut state, total_nodes) {
            if let Some(&entry) = entry_of.get(&e) {
                counts[entry] += 1;
            }
        }
    }
    counts
}

fn topo_rank(g: &FailGraph) -> Vec<u32> {
    let mut rank = vec![0u32; g.len()];
    for (r, scc) in g.sccs().iter().enumerate() {
        for &c in scc {
            rank[c as usize] = r as u32;
        }
    }
    rank
}

fn dependents(g: &FailGraph) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); g.len()];
    for c in 0..g.len() as u32 {
        for &i in g.inputs(c) {
            out[i as usize].push(c);
        }
    }
    out
}

/// Components broken at an instant where `failed` are down with the given ages, in
/// dependency order; returns them, and leaves `state` all clear.
fn evaluate(
    g: &FailGraph,
    mask: &[f64],
    rank: &[u32],
    dependents: &[Vec<u32>],
    failed: &[(u32, f64)],
    state: &mut [Option<f64>],
    total_nodes: usize,
) -> Vec<u32> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let own: HashMap<u32, f64> = failed.iter().copied().collect();
    let mut heap: BinaryHeap<Reverse<(u32, u32)>> =
        failed.iter().map(|&(c, _)| Reverse((rank[c as usize], c))).collect();
    let mut queued: std::collections::HashSet<u32> = failed.iter().map(|&(c, _)| c).collect();
    let mut broken = Vec::new();
    let mut nodes_down = 0usize;
    while let Some(Reverse((_, c))) = heap.pop() {
        let inputs = g.inputs(c);
        let from_inputs = if g.comps()[c as usize].class == Class::Failover {
            // Down while the primary's outage is younger than the promotion delay, or when
            // the replica (or standby) is down too.
            let primary = inputs.iter().copied().find(|&i| is_primary(g, c, i));
            let others: Vec<Option<f64>> =
                inputs.iter().filter(|&&i| Some(i) != primary).map(|&i| state[i as usize]).collect();
            match primary.and_then(|p| state[p as usize]) {
                Some(a) if a < mask[c as usize] => Some(a),
                Some(a) if others.iter().all(Option::is_some) => {
                    Some(others.iter().flatten().copied().fold(a, f64::min))
                }
                _ => None,
            }
        } else {
            // Ages of inputs whose failure still reaches c.
            let somewhere_to_go = nodes_down < total_nodes;
            let ages: Vec<f64> = inputs
                .iter()
                .filter_map(|&i| {
                    let limit = if somewhere_to_go { edge_mask(g, mask, c, i) } else { f64::INFINITY };
                    state[i as usize].filter(|&age| age < limit)
                })
                .collect();
            match g.comps()[c as usize].gate {
                Gate::All => ages.iter().copied().reduce(f64::max),
                Gate::AtLeast(need) => (ages.len() as u32 + need > inputs.len() as u32)
                    .then(|| ages.iter().copied().fold(f64::INFINITY, f64::min)),
            }
        };
        let now = match (own.get(&c), from_inputs) {
            (Some(&a), Some(b)) => Some(a.max(b)),
            (Some(&a), None) => Some(a),
            (None, b) => b,
        };
        if let Some(age) = now {
            nodes_down += usize::from(g.comps()[c as usize].class == Class::Node);
            state[c as usize] = Some(age);
            broken.push(c);
            for &d in &dependents[c as usize] {
                if queued.insert(d) {
                    heap.push(Reverse((rank[d as usize], d)));
                }
            }
        }
    }
    for &c in &broken {
        state[c as usize] = None;
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failgraph::Builder;

    #[test]
    fn a_chain_without_redundancy_is_the_product_of_its_parts_and_sampling_agrees() {
        // region <- zone <- node <- pod (a StatefulSet's: no rescheduling) <- service <- entry.
        let mut b = Builder::default();
        let region = b.add("region/r", Class::Region, Gate::All);
        let zone = b.add("zone/z", Class::Zone, Gate::All);
        let node = b.add("node/n", Class::Node, Gate::All);
        let pod = b.add("pod/p", Class::Pod, Gate::All);
        let service = b.add("service/s", Class::Service, Gate::All);
        let entry = b.add("service/s GET /", Class::Entry, Gate::All);
        for (x, y) in [(zone, region), (node, zone), (pod, node), (service, pod), (entry, service)] {
            b.needs(x, y);
        }
        let mut g = b.finish();
        g.entry = vec![entry];
        let k = g.killer_sets();
        let rel: Vec<Option<Reliability>> = g.comps().iter().map(|c| class_default(c.class)).collect();
        let mask = vec![f64::INFINITY; g.len()];
        assert!(!has_redundancy(&g, entry));
        let parts = series(&g, &k, &rel, &mask, &node_killers(&g, &k), entry);
        assert_eq!(parts.len(), 5);
        let expected: f64 = 1.0 - rel.iter().flatten().map(|r| 1.0 - r.unavailability()).product::<f64>();
        let got = 1.0 - parts.iter().map(|(_, u)| 1.0 - u).product::<f64>();
        assert!((got - expected).abs() < 1e-15, "{got} vs {expected}");
        let samples = 4_000_000;
        let down = monte_carlo(&g, &rel, &mask, &AvailabilityOptions { samples, seed: 3 })[0];
        let (lo, hi) = wilson(down, samples);
        assert!(lo <= expected && expected <= hi, "{expected} outside {lo}..{hi}");
    }

    #[test]
    fn a_rescheduled_pod_is_down_only_while_its_node_outage_is_young() {
        // A Deployment pod on a node: the node's hour-long outage reaches the service only for
        // the 6 minutes until the pod runs elsewhere.
        let mut b = Builder::default();
        let other = b.add("node/other", Class::Node, Gate::All);
        let node = b.add("node/n", Class::Node, Gate::All);
        let pod = b.add("pod/p", Class::Pod, Gate::All);
        let service = b.add("service/s", Class::Service, Gate::All);
        b.needs(pod, node);
        b.needs(service, pod);
        let mut g = b.finish();
        g.entry = vec![service];
        let _ = other; // a second node: the pod has somewhere to go
        let k = g.killer_sets();
        let rel: Vec<Option<Reliability>> = g.comps().iter().map(|c| class_default(c.class)).collect();
        let mut mask = vec![f64::INFINITY; g.len()];
        mask[pod as usize] = 360.0;
        let parts = series(&g, &k, &rel, &mask, &node_killers(&g, &k), service);
        let node_part = parts.iter().find(|(x, _)| *x == node).map(|(_, u)| *u).unwrap_or_default();
        let node_u = rel[node as usize].map(|r| r.unavailability()).unwrap_or_default();
        let expected = node_u * (1.0 - (-360.0_f64 / 3600.0).exp());
        assert!((node_part - expected).abs() < 1e-15);
        assert!(node_part < node_u / 9.0);
    }
}
