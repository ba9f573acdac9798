//! Sweeps: every single failure (N-1) ranked by what it costs the entry points, the worst
//! pairs (N-2), single points of failure and redundancy gaps. The graph part (what each
//! failure cuts off) comes from the killer sets of [`FailGraph`]; the failures worth a closer
//! look are then run through the engine, which adds time, rescheduling and capacity.

use crate::engine;
use crate::failgraph::{Class, FailGraph, Gate, KillerSets, Spread, grouped, two_threads};
use crate::report::{Report, State, duration};
use crate::scenario::{Action, Fault, Load, LoadPoint, Scenario};
use crate::topology::{Ix, StationKind, Topology};
use doppel_model::{Key, TwinView};
use doppel_perf::LoadModel;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// What to sweep and how closely.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Load the entry rates are taken at.
    pub load: Load,
    /// Components to fail one by one (entity keys); none means every failable component.
    pub only: Option<BTreeSet<Key>>,
    /// How many of the worst single failures to run through the engine (over time, with
    /// rescheduling and capacity), each zone and region added up to as many again; none: as
    /// many as [`verify_for`] the estate's size.
    pub verify: Option<usize>,
    /// How many of the worst single failures (and every zone) to combine in pairs.
    pub pair_pool: usize,
    /// Seconds each verified scenario follows.
    pub horizon_s: f64,
}

impl Default for SweepOptions {
    fn default() -> SweepOptions {
        SweepOptions {
            load: Load { point: LoadPoint::Peak, factor: 1.0 },
            only: None,
            verify: None,
            pair_pool: 12,
            horizon_s: crate::scenario::DEFAULT_HORIZON_S,
        }
    }
}

/// The most single failures the engine follows by default ([`verify_for`]).
pub const VERIFY_MOST: usize = 200;

/// Engine work the default closer look may spend, in entities times runs: an engine run
/// costs about 24 µs of one core per entity of the estate here, and the runs may be twice
/// the count followed (zones and regions), so a 100,000-entity estate gets 2 (about 5 s of
/// engine on two cores) and one of 1,000 entities or fewer [`VERIFY_MOST`].
const ENGINE_BUDGET: usize = 200_000;

/// How many of the worst single failures the engine follows by default on an estate of
/// `entities`: as many as [`ENGINE_BUDGET`] allows, at most [`VERIFY_MOST`], so a sweep of
/// a large estate stays quick (the ranking of the rest comes from the failure graph).
pub fn verify_for(entities: usize) -> usize {
    (ENGINE_BUDGET / entities.max(1)).min(VERIFY_MOST)
}

/// What the engine found when a single failure was run over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulated {
    /// Worst state of any entry point.
    pub worst: State,
    /// Entry points down at some time.
    pub entries_down: usize,
    /// Entry points degraded (not down) at some time.
    pub entries_degraded: usize,
    /// When every entry point is back up; none if some are not within the horizon.
    pub recovered_at_s: Option<f64>,
    /// Requests lost over the horizon, summed over entry points.
    pub lost_requests: f64,
    /// The most of any entry point's 30-day error budget used, in percent.
    pub worst_budget_pct: Option<f64>,
    /// Cause chain of the worst entry point at its worst.
    pub cause: Vec<String>,
}

/// One single failure and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Single {
    /// The failed component.
    pub component: String,
    /// What it is.
    pub class: Class,
    /// Entry points it cuts off (no redundancy left before any repair).
    pub entries_down: Vec<String>,
    /// Entry points that lose a soft dependency.
    pub entries_degraded: Vec<String>,
    /// Components it takes down, itself included.
    pub components_down: u32,
    /// Entry traffic cut off, requests per second at the sweep's load.
    pub rps_down: f64,
    /// Entry traffic degraded.
    pub rps_degraded: f64,
    /// Requests lost over the horizon: the engine's figure when simulated, else the
    /// traffic cut off for the whole horizon (no repair assumed).
    pub impact: f64,
    /// The engine's view, for the failures run through it.
    pub simulated: Option<Simulated>,
}

/// Two failures that together cut off more than either alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    /// First component.
    pub a: String,
    /// Second component.
    pub b: String,
    /// Entry points the pair cuts off.
    pub entries_down: Vec<String>,
    /// Entry points only the pair cuts off (neither failure alone does).
    pub only_together: Vec<String>,
    /// Entry traffic the pair cuts off.
    pub rps_down: f64,
}

/// A component whose failure alone cuts off an entry point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spof {
    /// The component.
    pub component: String,
    /// What it is.
    pub class: Class,
    /// Entry points it cuts off.
    pub entries: Vec<String>,
    /// Why nothing takes over, from the entry point down to the component.
    pub why: Vec<String>,
}

/// What kind of redundancy gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// Every replica of a workload in one zone.
    OneZone,
    /// Every replica of a workload on one node.
    OneNode,
    /// A workload with a single replica.
    OneReplica,
    /// A quorum that one zone or node can break.
    FragileQuorum,
    /// A datastore without a replica or standby in another zone.
    NoReplica,
    /// A standby region that cannot carry the primary's load.
    WeakStandby,
    /// A disruption budget that allows no eviction at all.
    BlockingPdb,
    /// A load balancer in one zone.
    OneZoneLb,
}

/// A redundancy gap, whether or not it cuts off an entry point today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    /// What kind.
    pub kind: GapKind,
    /// The entity concerned.
    pub subject: String,
    /// What was found.
    pub detail: String,
    /// Entry points that need the subject (hard), if any.
    pub entries: Vec<String>,
}

/// Everything a sweep found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    /// Load the sweep ran at.
    pub load: String,
    /// Components in the failure graph.
    pub components: usize,
    /// Entry points.
    pub entries: usize,
    /// Single failures swept.
    pub swept: usize,
    /// Single failures with an effect on some entry point, worst first.
    pub singles: Vec<Single>,
    /// Single failures that cut off no entry point and degrade none.
    pub harmless: usize,
    /// Worst pairs, most traffic cut off only together first.
    pub pairs: Vec<Pair>,
    /// Single points of failure (infrastructure and dependencies; services and workloads,
    /// which a bad release takes down whatever the redundancy, are counted apart).
    pub spofs: Vec<Spof>,
    /// Redundancy gaps.
    pub gaps: Vec<Gap>,
    /// Assumptions and things noticed.
    pub notes: Vec<String>,
}

/// Entry rates at a load, per topology entry.
pub fn entry_rates(topo: &Topology, load: &Load) -> Vec<f64> {
    let hour = load.hour(topo);
    topo.entries
        .iter()
        .map(|e| {
            let ep = &topo.stations[e.station].endpoints[e.endpoint];
            ep.base_rps * hour.and_then(|h| ep.profile.get(h).copied()).unwrap_or(1.0) * load.factor
        })
        .collect()
}

/// The graph part of an N-1 sweep: for every failable component, the entry points it cuts
/// off and the number of components it takes down. Pure graph work, no load or time.
#[derive(Debug, Clone)]
pub struct Cuts {
    /// Per component: components it takes down (itself included); 0 for derived gates.
    pub down: Vec<u32>,
    /// Where each component's entries start in `entry_list` (one more entry than components).
    entry_start: Vec<u32>,
    /// The entries each component cuts off, back to back.
    entry_list: Vec<u32>,
}

impl Cuts {
    /// Indices of the entries (topology order, ascending) that component `c` cuts off.
    pub fn entries(&self, c: usize) -> &[u32] {
        &self.entry_list[self.entry_start[c] as usize..self.entry_start[c + 1] as usize]
    }
}

/// Inverts killer sets into what each failure cuts off.
pub fn cuts(g: &FailGraph, k: &KillerSets) -> Cuts {
    // The counts and the entry lists read the sets only: on a large graph, the lists on a
    // thread of rayon's pool.
    let mut lists = (Vec::new(), Vec::new());
    let down = if two_threads(g.len()) {
        rayon::in_place_scope(|scope| {
            scope.spawn(|_| lists = entry_lists(g, k));
            k.taken_down()
        })
    } else {
        lists = entry_lists(g, k);
        k.taken_down()
    };
    let (entry_start, entry_list) = lists;
    Cuts { down, entry_start, entry_list }
}

/// Per component, the live entry points its failure cuts off, grouped: where each
/// component's start (one more entry than components), and the entry indices back to back,
/// ascending per component.
fn entry_lists(g: &FailGraph, k: &KillerSets) -> (Vec<u32>, Vec<u32>) {
    // Every (member of an entry's set, entry) pair once, entries in order.
    let mut members = Vec::new();
    let mut by_entry = Vec::new();
    for (e, &c) in g.entry.iter().enumerate().filter(|&(_, &c)| !k.down_already[c as usize]) {
        k.extend_with(c, &mut members);
        by_entry.resize(members.len(), e as u32);
    }
    grouped(g.len(), &members, &by_entry)
}

/// Components an entry point degrades without: what its soft dependencies (anywhere along
/// its hard closure) die with, less what already cuts it off.
fn degraders(g: &FailGraph, k: &KillerSets, entry: u32) -> Vec<u32> {
    let mut seen = vec![false; g.len()];
    let mut stack = vec![entry];
    seen[entry as usize] = true;
    let mut closure = Vec::new();
    while let Some(c) = stack.pop() {
        closure.push(c);
        for &i in g.inputs(c) {
            if !seen[i as usize] {
                seen[i as usize] = true;
                stack.push(i);
            }
        }
    }
    let mut out: BTreeSet<u32> = BTreeSet::new();
    for &(who, what) in &g.soft {
        if seen[who as usize] && !k.down_already[what as usize] {
            out.extend(k.set(what).iter().copied());
        }
    }
    let cut = k.set(entry);
    out.into_iter().filter(|x| cut.binary_search(x).is_err()).collect()
}

/// Runs a sweep on a view and its topology.
pub fn sweep(
    view: &(impl TwinView + Sync + ?Sized),
    topo: &Topology,
    options: &SweepOptions,
    model: &dyn LoadModel,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> SweepReport {
    let g = FailGraph::build(topo);
    let k = g.killer_sets();
    let cut = cuts(&g, &k);
    let rates = entry_rates(topo, &options.load);
    let entry_name = |e: u32| g.comps()[g.entry[e as usize] as usize].name.clone();
    let mut notes = Vec::new();
    if !k.approximated.is_empty() {
        notes.push(format!(
            "{} component(s) with redundancy sit in a dependency cycle; they were treated as needing every input",
            k.approximated.len()
        ));
    }
    for (e, &c) in g.entry.iter().enumerate() {
        if k.down_already[c as usize] {
            notes.push(format!("{} is down before anything fails", entry_name(e as u32)));
        }
    }
    let mut degraded_by: Vec<Vec<u32>> = vec![Vec::new(); g.len()];
    for (e, &c) in g.entry.iter().enumerate() {
        for x in degraders(&g, &k, c) {
            degraded_by[x as usize].push(e as u32);
        }
    }
    let only: Option<std::collections::HashSet<String>> =
        options.only.as_ref().map(|o| o.iter().map(|k| k.to_string()).collect());
    let wanted = |c: usize| -> bool {
        let comp = &g.comps()[c];
        comp.class.failable() && only.as_ref().is_none_or(|only| only.contains(&comp.name))
    };
    let candidates: Vec<usize> = (0..g.len()).filter(|&c| wanted(c) && !k.down_already[c]).collect();
    let mut singles: Vec<Single> = candidates
        .iter()
        .map(|&c| {
            let rps_down: f64 = cut.entries(c).iter().map(|&e| rates[e as usize]).sum();
            let rps_degraded: f64 = degraded_by[c].iter().map(|&e| rates[e as usize]).sum();
            Single {
                component: g.comps()[c].name.clone(),
                class: g.comps()[c].class,
                entries_down: cut.entries(c).iter().map(|&e| entry_name(e)).collect(),
                entries_degraded: degraded_by[c].iter().map(|&e| entry_name(e)).collect(),
                components_down: cut.down[c],
                rps_down,
                rps_degraded,
                impact: rps_down * options.horizon_s,
                simulated: None,
            }
        })
        .collect();
    let by_impact = |a: &Single, b: &Single| {
        b.impact
            .total_cmp(&a.impact)
            .then(b.rps_degraded.total_cmp(&a.rps_degraded))
            .then(b.components_down.cmp(&a.components_down))
            .then(a.component.cmp(&b.component))
    };
    singles.sort_by(by_impact);

    // The closer look: the worst structurally, and every failure domain (whose cost is
    // capacity and time, which the graph alone does not show).
    let verify = options.verify.unwrap_or_else(|| verify_for(view.entity_count()));
    let mut chosen: Vec<usize> = (0..singles.len().min(verify)).collect();
    for (i, s) in singles.iter().enumerate() {
        if matches!(s.class, Class::Zone | Class::Region) && !chosen.contains(&i) && chosen.len() < verify * 2 {
            chosen.push(i);
        }
    }
    if options.verify.is_none() && verify < VERIFY_MOST && chosen.len() < singles.len() {
        notes.push(format!(
            "the engine followed {} of the {} single failures over time (the worst {verify}, then zones and regions), a number sized to an estate of {} entities; the others are ranked by what the failure graph says they cut off (ask for more with --verify N)",
            chosen.len(),
            singles.len(),
            view.entity_count()
        ));
    }
    let simulated = simulate(view, topo, options, model, &singles, &chosen, progress);
    for (i, sim) in chosen.iter().zip(simulated) {
        singles[*i].impact = sim.lost_requests;
        singles[*i].simulated = Some(sim);
    }
    singles.sort_by(by_impact);
    let harmless = singles
        .iter()
        .filter(|s| {
            s.entries_down.is_empty()
                && s.entries_degraded.is_empty()
                && s.simulated.as_ref().is_none_or(|m| m.worst == State::Up)
        })
        .count();
    let swept = singles.len();
    singles.retain(|s| {
        !(s.entries_down.is_empty()
            && s.entries_degraded.is_empty()
            && s.simulated.as_ref().is_none_or(|m| m.worst == State::Up))
    });

    let index = g.by_name();
    let pairs = worst_pairs(&g, &k, &index, &cut, &rates, &singles, options.pair_pool);
    let spofs = spofs(&g, &k, &cut);
    let gaps = gaps(topo, &g, &k, &index);
    let hard_logical = candidates
        .iter()
        .filter(|&&c| matches!(g.comps()[c].class, Class::Service | Class::Workload) && !cut.entries(c).is_empty())
        .count();
    if hard_logical > 0 {
        notes.push(format!(
            "{hard_logical} service(s) and workload(s) cut off an entry point if they fail as a whole (a bad release); they are ranked above but not listed as single points of failure"
        ));
    }
    SweepReport {
        load: options.load.text(),
        components: g.len(),
        entries: g.entry.len(),
        swept,
        singles,
        harmless,
        pairs,
        spofs,
        gaps,
        notes,
    }
}

/// Runs the chosen single failures through the engine, on every core.
fn simulate(
    view: &(impl TwinView + Sync + ?Sized),
    topo: &Topology,
    options: &SweepOptions,
    model: &dyn LoadModel,
    singles: &[Single],
    chosen: &[usize],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Simulated> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(chosen.len().max(1));
    let mut out: Vec<Option<Simulated>> = vec![None; chosen.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let done = &done;
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for (j, &i) in chosen.iter().enumerate().skip(t).step_by(threads) {
                        let report = run_single(view, topo, options, model, &singles[i].component);
                        mine.push((j, summarise(&report)));
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        progress(n, chosen.len());
                    }
                    mine
                })
            })
            .collect();
        for h in handles {
            for (j, sim) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                out[j] = Some(sim);
            }
        }
    });
    // Every slot is filled: a thread that panicked has re-raised its panic above.
    out.into_iter().flatten().collect()
}

/// The engine's report for one component failing at t=0 for good.
pub fn run_single(
    view: &(impl TwinView + ?Sized),
    topo: &Topology,
    options: &SweepOptions,
    model: &dyn LoadModel,
    component: &str,
) -> Report {
    let targets: Vec<Key> = component.parse::<Key>().ok().into_iter().collect();
    let scenario = Scenario {
        name: format!("lose {component}"),
        load: options.load,
        horizon_s: options.horizon_s,
        autoscaler: true,
        seed: 0,
        faults: vec![Fault { selector: component.to_string(), targets, action: Action::Fail, at_s: 0.0, for_s: None }],
    };
    engine::run(view, topo, &scenario, model)
}

fn summarise(report: &Report) -> Simulated {
    let worst = report.entries.iter().map(|e| e.worst).max().unwrap_or(State::Up);
    let lost: f64 = report
        .entries
        .iter()
        .map(|e| e.timeline.iter().map(|s| (s.to_s - s.from_s) * s.error_rate).sum::<f64>() * e.rate_rps)
        .sum();
    let worst_entry = report.entries.first();
    let cause = worst_entry
        .and_then(|e| {
            e.timeline.iter().filter(|s| s.state == e.worst).max_by(|a, b| a.error_rate.total_cmp(&b.error_rate))
        })
        .map(|s| s.cause.clone())
        .unwrap_or_default();
    Simulated {
        worst,
        entries_down: report.entries.iter().filter(|e| e.worst == State::Down).count(),
        entries_degraded: report.entries.iter().filter(|e| e.worst == State::Degraded).count(),
        recovered_at_s: report.recovered_at_s,
        lost_requests: lost,
        worst_budget_pct: report.entries.iter().filter_map(|e| e.error_budget_used_pct).reduce(f64::max),
        cause,
    }
}

/// Pairs among the worst single failures and the zones: what they cut off together.
fn worst_pairs(
    g: &FailGraph,
    k: &KillerSets,
    index: &HashMap<&str, u32>,
    cut: &Cuts,
    rates: &[f64],
    singles: &[Single],
    pool: usize,
) -> Vec<Pair> {
    let mut members: Vec<u32> =
        singles.iter().take(pool).filter_map(|s| index.get(s.component.as_str()).copied()).collect();
    for (c, comp) in g.comps().iter().enumerate() {
        if comp.class == Class::Zone && !k.down_already[c] && !members.contains(&(c as u32)) {
            members.push(c as u32);
        }
    }
    let entry_of: HashMap<u32, u32> = g.entry.iter().enumerate().map(|(e, &c)| (c, e as u32)).collect();
    let mut scratch = Spread::default();
    let mut pairs = Vec::new();
    for (i, &a) in members.iter().enumerate() {
        for &b in &members[i + 1..] {
            let dead = g.spread(&[a, b], &mut scratch);
            let mut down: Vec<u32> = dead.iter().filter_map(|c| entry_of.get(c).copied()).collect();
            down.sort_unstable();
            let alone: BTreeSet<u32> = cut.entries(a as usize).iter().chain(cut.entries(b as usize)).copied().collect();
            let together: Vec<u32> = down.iter().copied().filter(|e| !alone.contains(e)).collect();
            if together.is_empty() {
                continue;
            }
            let name = |e: &u32| g.comps()[g.entry[*e as usize] as usize].name.clone();
            pairs.push(Pair {
                a: g.comps()[a as usize].name.clone(),
                b: g.comps()[b as usize].name.clone(),
                entries_down: down.iter().map(name).collect(),
                only_together: together.iter().map(name).collect(),
                rps_down: down.iter().map(|&e| rates[e as usize]).sum(),
            });
        }
    }
    let extra = |p: &Pair| p.only_together.len();
    pairs.sort_by(|x, y| {
        y.rps_down.total_cmp(&x.rps_down).then(extra(y).cmp(&extra(x))).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b))
    });
    pairs.truncate(20);
    pairs
}

/// Infrastructure components and dependencies whose failure alone cuts off an entry point.
fn spofs(g: &FailGraph, k: &KillerSets, cut: &Cuts) -> Vec<Spof> {
    let mut out: Vec<Spof> = (0..g.len())
        .filter(|&c| {
            let class = g.comps()[c].class;
            class.failable() && !matches!(class, Class::Service | Class::Workload) && !cut.entries(c).is_empty()
        })
        .map(|c| {
            let first = g.entry[cut.entries(c)[0] as usize];
            Spof {
                component: g.comps()[c].name.clone(),
                class: g.comps()[c].class,
                entries: cut.entries(c).iter().map(|&e| g.comps()[g.entry[e as usize] as usize].name.clone()).collect(),
                why: why(g, k, first, c as u32),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.entries.len().cmp(&a.entries.len()).then(a.class.cmp(&b.class)).then(a.component.cmp(&b.component))
    });
    out
}

/// The shortest path by which `x` takes `top` down, from `top` to `x`; redundancy gates
/// on the way say how many of their inputs `x` takes. Of paths equally short, the first by
/// the names along it, so the path does not depend on how the graph is numbered.
pub fn why(g: &FailGraph, k: &KillerSets, top: u32, x: u32) -> Vec<String> {
    let killed_by_x = |c: u32| k.kills(x, c);
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([top]);
    parent.insert(top, top);
    let mut inputs = Vec::new();
    while let Some(c) = queue.pop_front() {
        if c == x {
            break;
        }
        inputs.clear();
        inputs.extend_from_slice(g.inputs(c));
        inputs.sort_by(|&a, &b| g.comps()[a as usize].name.cmp(&g.comps()[b as usize].name));
        for &i in &inputs {
            if killed_by_x(i) && !parent.contains_key(&i) {
                parent.insert(i, c);
                queue.push_back(i);
            }
        }
    }
    if !parent.contains_key(&x) {
        return vec![g.comps()[top as usize].name.clone()];
    }
    let mut path = vec![x];
    while let Some(&p) = parent.get(path.last().unwrap_or(&top)) {
        if p == *path.last().unwrap_or(&top) {
            break;
        }
        path.push(p);
    }
    path.reverse();
    path.dedup_by(|a, b| g.comps()[*a as usize].name == g.comps()[*b as usize].name);
    path.iter()
        .map(|&c| {
            let comp = &g.comps()[c as usize];
            match comp.gate {
                Gate::AtLeast(need) if c != x => {
                    let inputs = g.inputs(c);
                    let lost = inputs.iter().filter(|&&i| killed_by_x(i)).count();
                    format!("{} (needs {need} of {}, loses {lost})", comp.name, inputs.len())
                }
                _ => comp.name.clone(),
            }
        })
        .collect()
}

/// Redundancy gaps found in the topology, with the entry points that need each subject.
fn gaps(topo: &Topology, g: &FailGraph, k: &KillerSets, index: &HashMap<&str, u32>) -> Vec<Gap> {
    // Entry points that need a component: those whose killer sets hold it.
    let entry_sets: Vec<Vec<u32>> = g.entry.iter().map(|&e| k.set(e)).collect();
    let needs = |name: &str| -> Vec<String> {
        let Some(&c) = index.get(name) else { return Vec::new() };
        g.entry
            .iter()
            .zip(&entry_sets)
            .filter(|(_, set)| set.binary_search(&c).is_ok())
            .map(|(&e, _)| g.comps()[e as usize].name.clone())
            .collect()
    };
    let mut out = Vec::new();
    for w in &topo.workloads {
        if w.key.kind() == doppel_model::Kind::DaemonSet {
            continue;
        }
        let running: Vec<Ix> = w.pods.iter().copied().filter(|&p| topo.pods[p].running).collect();
        let name = w.key.to_string();
        let nodes: BTreeSet<Ix> = running.iter().filter_map(|&p| topo.pods[p].node).collect();
        let zones: BTreeSet<Ix> = nodes.iter().filter_map(|&n| topo.nodes[n].zone).collect();
        let mut push =
            |kind, detail: String| out.push(Gap { kind, subject: name.clone(), detail, entries: needs(&name) });
        if running.len() == 1 && w.replicas <= 1 {
            push(
                GapKind::OneReplica,
                "one replica: any pod or node failure takes it down until it is rescheduled".into(),
            );
        } else if running.len() >= 2 && nodes.len() == 1 {
            let node = &topo.nodes[*nodes.iter().next().unwrap_or(&0)].key;
            push(GapKind::OneNode, format!("all {} ready replicas on {node}", running.len()));
        } else if running.len() >= 2 && zones.len() == 1 {
            let zone = &topo.zones[*zones.iter().next().unwrap_or(&0)].key;
            push(GapKind::OneZone, format!("all {} ready replicas in {zone}", running.len()));
        }
        if w.needed > 1 {
            let Some(&c) = index.get(name.as_str()) else { continue };
            let breakers: Vec<String> = k
                .set(c)
                .iter()
                .filter(|&&x| matches!(g.comps()[x as usize].class, Class::Zone | Class::Node))
                .map(|&x| g.comps()[x as usize].name.clone())
                .collect();
            if !breakers.is_empty() {
                push(
                    GapKind::FragileQuorum,
                    format!(
                        "needs {} of {} ready; losing {} alone breaks the quorum",
                        w.needed,
                        running.len(),
                        breakers.join(" or ")
                    ),
                );
            }
        }
    }
    let replicas: BTreeSet<Ix> =
        topo.stations.iter().filter_map(|s| s.failover.as_ref().and_then(|f| f.replica)).collect();
    for (s, st) in topo.stations.iter().enumerate() {
        if st.kind != StationKind::Datastore || st.replica || replicas.contains(&s) || st.workload.is_some() {
            continue;
        }
        let name = st.key.to_string();
        let detail = match &st.failover {
            None => Some("no replica or standby: losing its zone or instance loses it".to_string()),
            Some(f) => f.replica.and_then(|r| {
                let same = topo.stations[r].zone.is_some() && topo.stations[r].zone == st.zone;
                same.then(|| format!("its replica {} is in the same zone", topo.stations[r].key))
            }),
        };
        if let Some(detail) = detail {
            out.push(Gap { kind: GapKind::NoReplica, entries: needs(&name), subject: name, detail });
        }
    }
    for l in &topo.lbs {
        if l.zones.len() == 1 {
            let name = l.key.to_string();
            out.push(Gap {
                kind: GapKind::OneZoneLb,
                detail: format!("its subnets are all in {}", topo.zones[l.zones[0]].key),
                entries: needs(&name),
                subject: name,
            });
        }
    }
    out.extend(blocking_pdbs(topo));
    out.extend(weak_standby(topo));
    out.sort_by(|a, b| b.entries.len().cmp(&a.entries.len()).then(a.kind.cmp(&b.kind)).then(a.subject.cmp(&b.subject)));
    out
}

/// Disruption budgets that allow no voluntary eviction with every pod healthy: a node
/// drain (an upgrade) waits on them for ever.
fn blocking_pdbs(topo: &Topology) -> Vec<Gap> {
    let running: Vec<Ix> = (0..topo.pods.len()).filter(|&p| topo.pods[p].running).collect();
    let pods = BySelector::new(
        running.iter().map(|&p| (p, topo.pods[p].sched.namespace.as_str(), &topo.pods[p].sched.labels)),
    );
    let workloads = BySelector::new(
        topo.workloads.iter().enumerate().map(|(w, wl)| (w, wl.template.namespace.as_str(), &wl.template.labels)),
    );
    let mut out = Vec::new();
    for pdb in &topo.pdbs {
        let covered = |ns: &str, labels: &doppel_model::Labels| ns == pdb.namespace && labels.matches(&pdb.selector);
        // Running pods it covers; those bound to a node are what the disruption controller counts.
        let (mut healthy, mut bound) = (0u32, 0u32);
        for &p in pods.candidates(&pdb.namespace, &pdb.selector) {
            let pod = &topo.pods[p];
            if covered(&pod.sched.namespace, &pod.sched.labels) {
                healthy += 1;
                bound += u32::from(pod.node.is_some());
            }
        }
        if healthy == 0 {
            continue;
        }
        let expected: u32 = workloads
            .candidates(&pdb.namespace, &pdb.selector)
            .iter()
            .map(|&w| &topo.workloads[w])
            .filter(|w| covered(&w.template.namespace, &w.template.labels))
            .map(|w| w.replicas)
            .sum();
        if pdb.status(bound, bound, expected.max(healthy)).disruptions_allowed == 0 {
            out.push(Gap {
                kind: GapKind::BlockingPdb,
                subject: format!("pdb/{}", pdb.name),
                detail: format!(
                    "allows no eviction with all {healthy} pods healthy: draining their nodes waits for ever"
                ),
                entries: Vec::new(),
            });
        }
    }
    out
}

/// Items (pods, workload templates) indexed by namespace and by each (namespace, label),
/// so a selector's candidates come without a scan of every item.
struct BySelector<'a> {
    by_namespace: std::collections::HashMap<&'a str, Vec<Ix>>,
    by_label: std::collections::HashMap<(&'a str, &'a str, &'a str), Vec<Ix>>,
}

impl<'a> BySelector<'a> {
    fn new(items: impl Iterator<Item = (Ix, &'a str, &'a doppel_model::Labels)>) -> BySelector<'a> {
        let mut index = BySelector { by_namespace: Default::default(), by_label: Default::default() };
        for (i, ns, labels) in items {
            index.by_namespace.entry(ns).or_default().push(i);
            for (k, v) in labels.iter() {
                index.by_label.entry((ns, k, v)).or_default().push(i);
            }
        }
        index
    }

    /// Every item of `namespace` that has the selector's first label (all of the namespace
    /// for an empty selector); a superset of the matches, to check with `Labels::matches`.
    fn candidates(&self, namespace: &'a str, selector: &'a doppel_model::Labels) -> &[Ix] {
        let found = match selector.iter().next() {
            None => self.by_namespace.get(namespace),
            Some((k, v)) => self.by_label.get(&(namespace, k, v)),
        };
        found.map_or(&[], Vec::as_slice)
    }
}

/// Standby regions whose nodes cannot hold what the primary's entry workloads request.
fn weak_standby(topo: &Topology) -> Vec<Gap> {
    let mut out = Vec::new();
    for (r, region) in topo.regions.iter().enumerate() {
        if !region.standby {
            continue;
        }
        let (mut cores, mut mem) = (0.0, 0u64);
        for n in topo.nodes.iter().filter(|n| n.region == Some(r)) {
            cores += n.sched.allocatable.cpu.0;
            mem += n.sched.allocatable.memory.0;
        }
        let (mut need_cores, mut need_mem) = (0.0, 0u64);
        for p in topo.pods.iter().filter(|p| p.running) {
            let in_primary = p.node.and_then(|n| topo.nodes[n].region).is_some_and(|pr| !topo.regions[pr].standby);
            if in_primary {
                need_cores += p.sched.requests.cpu.0;
                need_mem += p.sched.requests.memory.0;
            }
        }
        if cores < need_cores || mem < need_mem {
            let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
            out.push(Gap {
                kind: GapKind::WeakStandby,
                subject: region.key.to_string(),
                detail: format!(
                    "its nodes offer {cores:.1} cores and {:.1} GiB against {need_cores:.1} cores and {:.1} GiB the primary's pods request{}",
                    gib(mem),
                    gib(need_mem),
                    region.failover_s.map_or(String::new(), |f| format!("; failover would take {}", duration(f)))
                ),
                entries: Vec::new(),
            });
        }
    }
    out
}

/// A disaster-recovery drill: a preset set of scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[allow(clippy::enum_variant_names)] // the names are what users type: region-loss, zone-loss
pub enum Drill {
    /// Lose each active region: can the standby take over, and how long does it take?
    RegionLoss,
    /// Lose each zone of the active regions, one at a time.
    ZoneLoss,
    /// Lose each primary datastore: does its replica or standby take over, and how fast?
    DatastoreLoss,
}

/// One scenario of a drill and how it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillRun {
    /// What was lost.
    pub lost: String,
    /// The engine's outcome.
    pub simulated: Simulated,
    /// Whether every entry point was back up within the horizon.
    pub passed: bool,
    /// One line on the outcome.
    pub verdict: String,
}

/// The outcome of a drill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillReport {
    /// Which drill.
    pub drill: Drill,
    /// Load it ran at.
    pub load: String,
    /// Seconds each scenario followed.
    pub horizon_s: f64,
    /// Each scenario.
    pub runs: Vec<DrillRun>,
    /// Whether every scenario passed.
    pub passed: bool,
    /// What stands in the way, when something does (a standby that cannot carry).
    pub findings: Vec<String>,
}

/// Runs a drill: each preset scenario through the engine.
pub fn drill(
    view: &(impl TwinView + ?Sized),
    topo: &Topology,
    which: Drill,
    options: &SweepOptions,
    model: &dyn LoadModel,
) -> DrillReport {
    let active_region = |r: Option<Ix>| r.is_some_and(|r| !topo.regions[r].standby);
    let lost: Vec<String> = match which {
        Drill::RegionLoss => topo.regions.iter().filter(|r| !r.standby).map(|r| r.key.to_string()).collect(),
        Drill::ZoneLoss => topo.zones.iter().filter(|z| active_region(z.region)).map(|z| z.key.to_string()).collect(),
        Drill::DatastoreLoss => topo
            .stations
            .iter()
            .filter(|s| s.kind == StationKind::Datastore && !s.replica && s.workload.is_none())
            .map(|s| s.key.to_string())
            .collect(),
    };
    let mut findings = Vec::new();
    if which == Drill::RegionLoss {
        findings.extend(weak_standby(topo).into_iter().map(|g| format!("{}: {}", g.subject, g.detail)));
        if !topo.regions.iter().any(|r| r.standby) {
            findings.push("no standby region: losing the region loses everything in it".into());
        }
    }
    let runs: Vec<DrillRun> = lost
        .into_iter()
        .map(|what| {
            let report = run_single(view, topo, options, model, &what);
            let simulated = summarise(&report);
            let passed = simulated.worst == State::Up || simulated.recovered_at_s.is_some();
            let verdict = match (simulated.worst, simulated.recovered_at_s) {
                (State::Up, _) => "every entry point stays up".to_string(),
                (_, Some(t)) => format!("every entry point back up after {}", duration(t)),
                (_, None) => format!(
                    "{} entry point(s) still down after {}: {}",
                    simulated.entries_down,
                    duration(options.horizon_s),
                    simulated.cause.last().cloned().unwrap_or_default()
                ),
            };
            DrillRun { lost: what, simulated, passed, verdict }
        })
        .collect();
    DrillReport {
        drill: which,
        load: options.load.text(),
        horizon_s: options.horizon_s,
        passed: runs.iter().all(|r| r.passed),
        runs,
        findings,
    }
}
