//! The structure of failure: every component that can fail, and what each needs to stay
//! alive (all of its inputs, or at least k of them). On it, the single failures that take
//! each component down (its *killer set*), computed for every component at once, and the
//! spread of any set of failures.
//!
//! This is the graph part of the sweeps and of the availability estimate; the engine adds
//! time, capacity and load on top for the scenarios worth a closer look.

use crate::topology::{Ix, StationKind, Topology};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

mod levels;

/// What a component needs from its inputs to stay alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// Every input (a service needs its workload and its hard dependencies).
    All,
    /// At least this many inputs (a deployment needs one ready pod; a quorum needs two of three).
    AtLeast(u32),
}

/// What kind of thing a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A cloud region.
    Region,
    /// An availability zone.
    Zone,
    /// A Kubernetes node.
    Node,
    /// A pod.
    Pod,
    /// A deployment, statefulset or daemonset.
    Workload,
    /// An application service.
    Service,
    /// A database or cache instance.
    Datastore,
    /// A queue.
    Queue,
    /// A dependency outside the estate.
    External,
    /// A load balancer.
    LoadBalancer,
    /// A datastore's role once failover is counted: its primary or a promoted replica.
    Failover,
    /// The standby instance of a managed multi-zone datastore (not in the twin as an entity).
    Standby,
    /// One endpoint of a service with several: the service plus what that endpoint calls.
    Endpoint,
    /// A user-facing entry point (its service behind its load balancers).
    Entry,
}

impl Class {
    /// Whether components of this class are things that fail (not derived gates).
    pub fn failable(self) -> bool {
        !matches!(self, Class::Failover | Class::Standby | Class::Endpoint | Class::Entry)
    }
}

/// One node of the failure graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// Its name: the entity key, or a derived name for gates.
    pub name: String,
    /// What it is.
    pub class: Class,
    /// What it needs from its inputs.
    pub gate: Gate,
}

/// Components and what each needs, in dense indices. Inputs point from a component to
/// what it needs (dependency direction).
#[derive(Debug, Clone, Default)]
pub struct FailGraph {
    /// The components.
    comps: Vec<Component>,
    /// Per component, what the killer-set pass reads of it, packed in one word so that pass
    /// touches 4 bytes per component instead of a whole [`Component`]: [`FAILABLE`] if it
    /// can fail, [`PRIVATE`] if exactly one component needs it, and in the low bits 0 for a
    /// gate needing all its inputs, k + 1 for one needing at least k.
    need: Vec<u32>,
    /// Per component, the lowest-numbered component that needs it (`u32::MAX` if none).
    first_dependent: Vec<u32>,
    /// Where each component's inputs start in `inputs` (one more entry than components).
    input_start: Vec<u32>,
    /// Inputs of all components, back to back.
    inputs: Vec<u32>,
    /// Soft dependencies: (dependent, dependency); losing the dependency only degrades.
    pub soft: Vec<(u32, u32)>,
    /// Per topology station, the component callers depend on (after failover).
    pub station: Vec<u32>,
    /// Per topology station and endpoint, the component requests to that endpoint need.
    pub endpoint: Vec<Vec<u32>>,
    /// Per topology entry, its component.
    pub entry: Vec<u32>,
    /// Per topology pod, its component, or `u32::MAX` for a pod not running on a node.
    pub pod: Vec<u32>,
    /// Per component, the primary instance it fails over from (failover roles), else `u32::MAX`.
    primary: Vec<u32>,
    /// Which components carry which (used where the numbering is a dependency order).
    carried: Arc<Carried>,
}

/// Builds a graph component by component; inputs may name components added later.
#[derive(Debug, Default)]
pub struct Builder {
    comps: Vec<Component>,
    inputs: Vec<Vec<u32>>,
    soft: Vec<(u32, u32)>,
}

impl Builder {
    /// Adds a component and returns its index.
    pub fn add(&mut self, name: impl Into<String>, class: Class, gate: Gate) -> u32 {
        self.comps.push(Component { name: name.into(), class, gate });
        self.inputs.push(Vec::new());
        (self.comps.len() - 1) as u32
    }

    /// Says that `who` needs `what` (under its gate).
    pub fn needs(&mut self, who: u32, what: u32) {
        let list = &mut self.inputs[who as usize];
        if who != what && !list.contains(&what) {
            list.push(what);
        }
    }

    /// Says that `who` degrades without `what`.
    pub fn soft(&mut self, who: u32, what: u32) {
        if who != what {
            self.soft.push((who, what));
        }
    }

    /// The finished graph.
    pub fn finish(mut self) -> FailGraph {
        self.soft.sort_unstable();
        self.soft.dedup();
        let n = self.comps.len();
        let mut input_start = Vec::with_capacity(n + 1);
        let mut inputs = Vec::new();
        input_start.push(0);
        for mut list in self.inputs {
            list.sort_unstable();
            inputs.extend(list);
            input_start.push(inputs.len() as u32);
        }
        let need = self.comps.iter().map(packed_need).collect();
        FailGraph {
            comps: self.comps,
            need,
            first_dependent: Vec::new(),
            input_start,
            inputs,
            soft: self.soft,
            station: Vec::new(),
            endpoint: Vec::new(),
            entry: Vec::new(),
            pod: Vec::new(),
            primary: vec![u32::MAX; n],
            carried: Arc::default(),
        }
        .with_dependents()
    }
}

/// For every component, the failable components whose failure alone takes it down.
///
/// Stored as a forest: a component's set is its *base*'s set (for one that needs all its
/// inputs, the largest of theirs) plus its *own* members, which are not in the base's. A
/// set is so the disjoint union of the own members along its chain of bases, and most
/// components store a handful of members instead of a copy of what their inputs hold.
#[derive(Debug, Clone)]
pub struct KillerSets {
    /// Own members of every component, back to back (each list in no particular order).
    members: Vec<u32>,
    /// Per component, where its own members are, its base and its set's size, side by side
    /// so a walk along a chain touches one cache line per link.
    links: Vec<Link>,
    /// Components in the order their sets were computed (what is needed first); none
    /// when that is their numbering.
    order: Option<Vec<u32>>,
    /// Components down before anything fails (a workload with fewer ready pods than it needs).
    pub down_already: Vec<bool>,
    /// Components in a dependency cycle that holds an at-least gate (treated as needing all).
    pub approximated: Vec<u32>,
    /// Per component, which of the [`HUBS`] lowest-numbered components its set holds, a bit
    /// each (filled only where the numbering is a dependency order). There a graph from
    /// [`FailGraph::build`] puts the regions and zones, which are in most sets.
    hubs: Vec<u32>,
    /// How the unions went: components that took the union of two or more live inputs'
    /// sets, and how many of those had to mark their base's set.
    pub unions: Unions,
    /// How many components' sets a second thread computed (0 on one thread).
    pub helped: u32,
    /// Which components carry which, where the sets were computed in a dependency-ordered
    /// numbering; none otherwise (nothing is carried then).
    carried: Option<Arc<Carried>>,
}

/// How many components took the union of two or more live inputs' sets, and how many of
/// them marked their base's set (the rest settled every candidate by cheap tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Unions {
    /// Components that took a union of two or more live inputs.
    pub total: u32,
    /// Of those, the ones that marked their base's set.
    pub marked: u32,
}

impl std::ops::Add for Unions {
    type Output = Unions;

    fn add(self, other: Unions) -> Unions {
        Unions { total: self.total + other.total, marked: self.marked + other.marked }
    }
}

/// How many components [`KillerSets`] keeps a membership bit for in every set.
const HUBS: u32 = 32;

/// The bit of hub `x` in [`KillerSets::hubs`], or 0 if `x` is not a hub.
fn hub_bit(x: u32) -> u32 {
    if x < HUBS { 1 << x } else { 0 }
}

/// The lowest component a chain walk visits: in dependency order, [`HUBS`], since a link
/// numbered below it holds only hubs, which their bits settle; else 0 (every link).
fn hub_floor(in_order: bool) -> u32 {
    if in_order { HUBS } else { 0 }
}

/// Whether a pass over a graph of `n` components is worth a second thread: the graph is
/// large enough that the second thread saves more than it costs to wake, and the process
/// may run on two cores or more (asked once, as that reads the cgroup's quota).
pub(crate) fn two_threads(n: usize) -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    n >= levels::TWO_THREADS_FROM
        && *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

/// The positions of the bits set in `mask`, lowest first.
fn bits(mut mask: u32) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let b = mask.trailing_zeros();
            mask &= mask - 1;
            b
        })
    })
}

/// `values` grouped by `keys` (each below `n`), the two read side by side: where each key's
/// values start (one more entry than keys), and the values back to back, each key's in the
/// order they came.
pub(crate) fn grouped(n: usize, keys: &[u32], values: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for &k in keys {
        start[k as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    // Placed from the back, each at the end of its key's slots, which leaves `start[k + 1]`
    // at key k's start once all are placed; shifting down one slot makes them the starts.
    let mut list = vec![0u32; values.len()];
    for (&k, &v) in keys.iter().zip(values).rev() {
        let end = &mut start[k as usize + 1];
        *end -= 1;
        list[*end as usize] = v;
    }
    start.rotate_left(1);
    start[n] = list.len() as u32;
    (start, list)
}

/// No base: the component's own members are its whole set.
const NO_BASE: u32 = u32::MAX;

/// The bit of [`Link::len`] that says the component is one of its own members (which is
/// then not listed: most components' only own member is themselves).
const ITSELF: u32 = 1 << 31;

/// The bit of [`Link::len`] that says the component is [`Carried`]: in any other set, it
/// is a member exactly where its carrier is, and is left out of the lists (and of the
/// chains of other components that pass through its link) for the carrier to stand for it.
const CARRIED_LINK: u32 = 1 << 30;

/// The low bits of [`Link::len`]: how many own members are listed.
const LISTED: u32 = CARRIED_LINK - 1;

/// Components whose membership another component's stands for, in a graph numbered in
/// dependency order: a failable component `p` (not a hub) that exactly one component `d`
/// needs, where `d` can fail and needs all its inputs. The failure of `p` spreads only
/// through `d`, which it takes down, so for every set but `p`'s own, `p` is a member
/// exactly when `d` is. Services carry their workloads so, which halves what the unions
/// of services' sets list and mark.
#[derive(Debug, Default)]
struct Carried {
    /// Per component, its carrier, or `u32::MAX`.
    by: Vec<u32>,
    /// Where each component's carried components start in `list` (one more than components).
    start: Vec<u32>,
    /// The components each carries, back to back.
    list: Vec<u32>,
}

impl Carried {
    /// What `d` carries directly.
    fn of(&self, d: u32) -> &[u32] {
        &self.list[self.start[d as usize] as usize..self.start[d as usize + 1] as usize]
    }
}

/// One component's place in the forest of killer sets.
#[derive(Debug, Clone, Copy)]
struct Link {
    /// Where its listed own members start in `members`.
    start: u32,
    /// How many own members are listed, plus [`ITSELF`] if the component is one too, plus
    /// [`CARRIED_LINK`] if it is carried.
    len: u32,
    /// Its base, or [`NO_BASE`].
    base: u32,
    /// How many members its chain lists, itself included: its set's size less what carried
    /// members add (a guide to which input's set is the largest).
    size: u32,
}

/// Read access to a forest of killer sets, complete or being computed: [`KillerSets`], and
/// the view of the levels done so far that the level pass (`levels`) reads.
trait Forest {
    /// The link of component `c`.
    fn link(&self, c: u32) -> Link;

    /// The base of component `c` (its link's, read alone).
    fn base(&self, c: u32) -> u32;

    /// The members link `l` lists.
    fn listed(&self, l: Link) -> &[u32];

    /// Which hubs `c`'s set holds, a bit each (kept where the numbering is a dependency order).
    fn hub_mask(&self, c: u32) -> u32;

    /// Whether `c` is down before anything fails.
    fn down(&self, c: u32) -> bool;

    /// The members of `c`'s set that its base's does not hold, but for `c` itself (see
    /// [`KillerSets::itself`]).
    fn own(&self, c: u32) -> &[u32] {
        self.listed(self.link(c))
    }

    /// Whether `c` is one of its own members and counts as one in the sets whose chains pass
    /// through its link: not when it is carried, as its carrier stands for it there.
    fn itself_below(&self, c: u32) -> bool {
        self.link(c).len & (ITSELF | CARRIED_LINK) == ITSELF
    }

    /// The members link `c` adds to the sets whose chains pass through it (`c` itself not
    /// when carried), then the listed ones.
    fn own_below(&self, c: u32) -> impl Iterator<Item = u32> {
        let l = self.link(c);
        (l.len & (ITSELF | CARRIED_LINK) == ITSELF).then_some(c).into_iter().chain(self.listed(l).iter().copied())
    }

    /// `c`, its base, its base's base, and so on.
    fn chain(&self, c: u32) -> impl Iterator<Item = u32> {
        std::iter::successors(Some(c), |&a| Some(self.base(a)).filter(|&b| b != NO_BASE))
    }

    /// The hubs some of the `live` inputs' sets hold and `base`'s does not (a union's own
    /// hub members; needs the hub bits kept).
    fn hubs_added(&self, live: &[u32], base: u32) -> impl Iterator<Item = u32> {
        bits(live.iter().fold(0, |m, &i| m | self.hub_mask(i)) & !self.hub_mask(base))
    }
}

impl Forest for KillerSets {
    fn link(&self, c: u32) -> Link {
        self.links[c as usize]
    }

    fn base(&self, c: u32) -> u32 {
        self.links[c as usize].base
    }

    fn listed(&self, l: Link) -> &[u32] {
        l.listed_in(&self.members)
    }

    fn hub_mask(&self, c: u32) -> u32 {
        self.hubs[c as usize]
    }

    fn down(&self, c: u32) -> bool {
        self.down_already[c as usize]
    }
}

impl Link {
    /// The members it lists, in `members` (the forest's list).
    fn listed_in(self, members: &[u32]) -> &[u32] {
        &members[self.start as usize..(self.start + (self.len & LISTED)) as usize]
    }

    /// The link of a set that is `base`'s (or [`NO_BASE`]) in `k`, plus `own` members listed
    /// from `start`, plus what `flags` ([`ITSELF`], [`CARRIED_LINK`]) say.
    fn new(start: u32, own: usize, flags: u32, base: u32, k: &impl Forest) -> Link {
        let below = if base == NO_BASE { 0 } else { k.link(base).size };
        let size = below + own as u32 + u32::from(flags & ITSELF != 0);
        Link { start, len: own as u32 | flags, base, size }
    }
}

impl KillerSets {
    /// Whether `c` is one of its own members (unlisted).
    fn itself(&self, c: u32) -> bool {
        self.links[c as usize].len & ITSELF != 0
    }

    /// The killer set of component `c`, sorted: every failable component whose failure
    /// alone takes `c` down (empty for a component down already).
    pub fn set(&self, c: u32) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.links[c as usize].size as usize);
        self.extend_with(c, &mut out);
        out.sort_unstable();
        out
    }

    /// Appends `c`'s set, unsorted: what its chain lists, then what those members carry.
    pub fn extend_with(&self, c: u32, out: &mut Vec<u32>) {
        let from = out.len();
        if self.itself(c) {
            out.push(c);
        }
        out.extend_from_slice(self.own(c));
        for a in self.chain(c).skip(1) {
            out.extend(self.own_below(a));
        }
        if let Some(carried) = &self.carried {
            let mut j = from;
            while j < out.len() {
                // Mostly none or one each: pushed one by one, not copied as a slice.
                for &p in carried.of(out[j]) {
                    out.push(p);
                }
                j += 1;
            }
        }
    }

    /// How many members the forest lists (a component in its own set is not listed): its
    /// size, against the pairs it answers for.
    pub fn listed(&self) -> usize {
        self.members.len()
    }

    /// Whether the failure of `x` alone takes `c` down.
    pub fn kills(&self, x: u32, c: u32) -> bool {
        if x == c {
            return self.itself(c) || self.own(c).contains(&x);
        }
        if let Some(&d) = self.carried.as_ref().map(|k| &k.by[x as usize]).filter(|&&d| d != u32::MAX) {
            return self.kills(d, c);
        }
        self.chain(c).any(|a| (a == x && self.itself_below(a)) || self.own(a).contains(&x))
    }

    /// Per component, how many components its failure alone takes down (itself included;
    /// components down already count for nothing): how many sets hold it. Without visiting
    /// every set: `x` is in the set of every component whose chain of bases passes through
    /// one that owns `x`, so each owner adds the number of live components at or above it
    /// in the forest of bases.
    pub fn taken_down(&self) -> Vec<u32> {
        let n = self.links.len();
        let mut above: Vec<u32> = self.down_already.iter().map(|&d| u32::from(!d)).collect();
        let mut down = vec![0u32; n];
        let Some(order) = &self.order else {
            // Numbered in dependency order: one pass from the top. A link's weight is final
            // when reached (whatever is based on it is numbered above it), and so is the
            // count of whatever its list holds (numbered below it).
            let by = self.carried.as_ref().map(|k| &k.by[..]);
            for c in (0..n).rev() {
                let l = self.links[c];
                let weight = above[c];
                if l.base != NO_BASE {
                    above[l.base as usize] += weight;
                }
                down[c] = if l.len & CARRIED_LINK != 0 {
                    // Carried: itself, and whatever its carrier (numbered above) takes down.
                    1 + by.map_or(0, |by| down[by[c] as usize])
                } else if l.len & ITSELF != 0 {
                    down[c] + weight
                } else {
                    down[c]
                };
                for &x in l.listed_in(&self.members) {
                    down[x as usize] += weight;
                }
            }
            return down;
        };
        for &c in order.iter().rev() {
            let b = self.links[c as usize].base;
            if b != NO_BASE {
                above[b as usize] += above[c as usize];
            }
        }
        for (c, l) in self.links.iter().enumerate() {
            let weight = above[c];
            if l.len & ITSELF != 0 {
                down[c] += weight;
            }
            for &x in l.listed_in(&self.members) {
                down[x as usize] += weight;
            }
        }
        down
    }

    /// Records what [`FailGraph::gate_set`] or [`FailGraph::one_input`] found for `c`, with
    /// `own` its own members (nothing is carried where this is used).
    fn record(&mut self, c: u32, outcome: Outcome, own: &[u32]) {
        match outcome {
            Outcome::Down => self.down_already[c as usize] = true,
            Outcome::Set { base, itself } => self.store(c, base, own, itself),
        }
    }

    /// Records `c`'s set as `base`'s plus `own` plus, if `itself`, `c` (none of it in
    /// `base`'s).
    fn store(&mut self, c: u32, base: u32, own: &[u32], itself: bool) {
        let start = self.members.len() as u32;
        self.members.extend_from_slice(own);
        self.links[c as usize] = Link::new(start, own.len(), if itself { ITSELF } else { 0 }, base, self);
    }
}

/// What [`FailGraph::gate_set`] found for one component.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Down before anything fails.
    Down,
    /// Its set is this base's (or [`NO_BASE`]) plus the own members left in the scratch,
    /// plus the component itself if `itself`.
    Set {
        /// The base.
        base: u32,
        /// Whether the component is in its own set (it can fail).
        itself: bool,
    },
}

/// Working memory of [`FailGraph::killer_sets`]: two bytes of marks per component, so
/// the marks of a whole 100,000-component graph stay in the core's cache.
struct SetScratch {
    /// Per component, the last round it was found in the set at hand: as a member, or as
    /// a link of a chain walked (a link that is not a member is a derived gate, which is
    /// never a member of any set, so the two cannot be confused).
    seen: Vec<u16>,
    /// The current round.
    round: u16,
    /// Per component, how many inputs' sets hold it (valid where `seen` is current, in a
    /// count of k of n).
    count: Vec<u32>,
    /// Live inputs of the component at hand.
    live: Vec<u32>,
    /// The set being built.
    acc: Vec<u32>,
    /// Unions so far.
    unions: Unions,
}

impl SetScratch {
    fn new(n: usize) -> SetScratch {
        SetScratch {
            seen: vec![0; n],
            round: 0,
            count: vec![0; n],
            live: Vec::new(),
            acc: Vec::new(),
            unions: Unions::default(),
        }
    }

    /// Starts a round: nothing is seen in it yet.
    fn next_round(&mut self) -> u16 {
        if self.round == u16::MAX {
            self.seen.fill(0);
            self.round = 0;
        }
        self.round += 1;
        self.round
    }
}

/// The bit of [`FailGraph::need`] that says a component can fail.
const FAILABLE: u32 = 1 << 31;

/// The bit of [`FailGraph::need`] that says exactly one component needs this one.
const PRIVATE: u32 = 1 << 30;

/// The low bits of [`FailGraph::need`]: the gate.
const GATE: u32 = PRIVATE - 1;

/// A component's word in [`FailGraph::need`].
fn packed_need(c: &Component) -> u32 {
    let k = match c.gate {
        Gate::All => 0,
        Gate::AtLeast(k) => k.min(GATE - 1) + 1,
    };
    k | if c.class.failable() { FAILABLE } else { 0 }
}

impl FailGraph {
    /// The components, by index.
    pub fn comps(&self) -> &[Component] {
        &self.comps
    }

    /// Component indices by name.
    pub fn by_name(&self) -> HashMap<&str, u32> {
        self.comps.iter().enumerate().map(|(i, c)| (c.name.as_str(), i as u32)).collect()
    }

    /// What component `c` needs.
    pub fn inputs(&self, c: u32) -> &[u32] {
        &self.inputs[self.input_start[c as usize] as usize..self.input_start[c as usize + 1] as usize]
    }

    /// The primary instance failover role `c` fails over from, if `c` is one.
    pub fn primary_of(&self, c: u32) -> Option<u32> {
        self.primary.get(c as usize).copied().filter(|&p| p != u32::MAX)
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.comps.len()
    }

    /// Whether there are no components.
    pub fn is_empty(&self) -> bool {
        self.comps.is_empty()
    }

    /// Number of dependency edges.
    pub fn edges(&self) -> usize {
        self.inputs.len()
    }

    /// The failure graph of a topology.
    pub fn build(topo: &Topology) -> FailGraph {
        let mut b = Builder::default();
        let region: Vec<u32> =
            topo.regions.iter().map(|r| b.add(r.key.to_string(), Class::Region, Gate::All)).collect();
        let zone: Vec<u32> = topo
            .zones
            .iter()
            .map(|z| {
                let c = b.add(z.key.to_string(), Class::Zone, Gate::All);
                if let Some(r) = z.region {
                    b.needs(c, region[r]);
                }
                c
            })
            .collect();
        let place = |b: &mut Builder, c: u32, zone_ix: Option<Ix>, region_ix: Option<Ix>| {
            if let Some(z) = zone_ix {
                b.needs(c, zone[z]);
            } else if let Some(r) = region_ix {
                b.needs(c, region[r]);
            }
        };
        let node: Vec<u32> = topo
            .nodes
            .iter()
            .map(|n| {
                let c = b.add(n.key.to_string(), Class::Node, Gate::All);
                place(&mut b, c, n.zone, n.region);
                c
            })
            .collect();
        let workload: Vec<u32> = topo
            .workloads
            .iter()
            .map(|w| b.add(w.key.to_string(), Class::Workload, Gate::AtLeast(w.needed.max(1))))
            .collect();
        let mut pods = Vec::with_capacity(topo.pods.len());
        for pod in &topo.pods {
            let (Some(n), true) = (pod.node, pod.running) else {
                pods.push(u32::MAX);
                continue;
            };
            let c = b.add(pod.key.to_string(), Class::Pod, Gate::All);
            b.needs(c, node[n]);
            if let Some(w) = pod.workload {
                b.needs(workload[w], c);
            }
            pods.push(c);
        }
        // Stations: the instance (failable), and for datastores that fail over, the role.
        let mut station = Vec::with_capacity(topo.stations.len());
        let mut instance = Vec::with_capacity(topo.stations.len());
        for st in &topo.stations {
            let class = match st.kind {
                StationKind::Service => Class::Service,
                StationKind::Datastore => Class::Datastore,
                StationKind::Queue => Class::Queue,
                StationKind::External => Class::External,
                StationKind::Workload => Class::Workload,
            };
            // A workload station stands for the workload itself (CoreDNS): no separate instance.
            let c = match (st.kind, st.workload) {
                (StationKind::Workload, Some(w)) => workload[w],
                _ => b.add(st.key.to_string(), class, Gate::All),
            };
            match (st.workload, st.kind) {
                (_, StationKind::Workload) => {}
                (Some(w), _) => b.needs(c, workload[w]),
                (None, _) => place(&mut b, c, st.zone, st.region),
            }
            instance.push(c);
            station.push(c);
        }
        let mut primaries = Vec::new();
        for (s, st) in topo.stations.iter().enumerate() {
            let Some(f) = &st.failover else { continue };
            let role = b.add(format!("{} (after failover)", st.key), Class::Failover, Gate::AtLeast(1));
            b.needs(role, instance[s]);
            primaries.push((role, instance[s]));
            match f.replica {
                Some(r) => b.needs(role, instance[r]),
                // A managed multi-zone standby: somewhere else in the region.
                None => {
                    let standby = b.add(format!("{} standby", st.key), Class::Standby, Gate::All);
                    place(&mut b, standby, None, st.region);
                    b.needs(role, standby);
                }
            }
            station[s] = role;
        }
        // Endpoints: a service whose endpoints call different things gets one component per
        // endpoint, so an entry point needs only what its own requests reach.
        let endpoint: Vec<Vec<u32>> = topo
            .stations
            .iter()
            .enumerate()
            .map(|(s, st)| {
                let differ = st.endpoints.len() > 1
                    && topo.calls.iter().any(|c| c.from == s && c.per_request.iter().any(|&r| r <= 0.0));
                if !differ {
                    return vec![station[s]; st.endpoints.len()];
                }
                st.endpoints
                    .iter()
                    .map(|ep| {
                        let c = b.add(format!("{} {}", st.key, ep.name), Class::Endpoint, Gate::All);
                        b.needs(c, station[s]);
                        c
                    })
                    .collect()
            })
            .collect();
        for call in &topo.calls {
            // A call spread over a target's endpoints needs the target itself; losing one of
            // its endpoints fails only a share of the calls, which degrades.
            let (hard_to, soft_to): (Vec<u32>, Vec<u32>) = match call.endpoint {
                Some(e) => (vec![endpoint[call.to][e]], Vec::new()),
                None if endpoint[call.to].iter().all(|&c| c == station[call.to]) => {
                    (vec![station[call.to]], Vec::new())
                }
                None => (vec![station[call.to]], endpoint[call.to].clone()),
            };
            for (e, &per) in call.per_request.iter().enumerate() {
                if per <= 0.0 {
                    continue;
                }
                let from = endpoint[call.from][e];
                // The shared station component of a one-endpoint service is its instance.
                let from = if from == station[call.from] { instance[call.from] } else { from };
                // Down here means failing every request. A hard call that not every request of
                // the endpoint makes fails only those requests when its target is lost: the
                // endpoint degrades (or, past half, goes down in the engine, where retries upstream
                // may still mask part of it); only the engine can weigh that.
                let cuts = call.hard && call.waits && per >= 1.0 - 1e-9;
                for &to in &hard_to {
                    if cuts {
                        b.needs(from, to);
                    } else {
                        b.soft(from, to);
                    }
                }
                for &to in &soft_to {
                    b.soft(from, to);
                }
            }
        }
        let lb: Vec<u32> = topo
            .lbs
            .iter()
            .map(|l| {
                let gate = if l.zones.is_empty() { Gate::All } else { Gate::AtLeast(1) };
                let c = b.add(l.key.to_string(), Class::LoadBalancer, gate);
                for &z in &l.zones {
                    b.needs(c, zone[z]);
                }
                c
            })
            .collect();
        let mut entry = Vec::with_capacity(topo.entries.len());
        for e in &topo.entries {
            let st = &topo.stations[e.station];
            let name = format!("{} {}", st.key, st.endpoints[e.endpoint].name);
            let c = b.add(name.trim_end(), Class::Entry, Gate::All);
            b.needs(c, endpoint[e.station][e.endpoint]);
            for &l in &e.lbs {
                b.needs(c, lb[l]);
            }
            entry.push(c);
        }
        let mut g = b.finish();
        g.station = station;
        g.endpoint = endpoint;
        g.entry = entry;
        g.pod = pods;
        for (role, instance) in primaries {
            g.primary[role as usize] = instance;
        }
        match g.acyclic_order() {
            Some(order) => {
                let order = g.by_levels(order);
                g.renumbered(&order)
            }
            None => g,
        }
    }

    /// The same graph with component `order[i]` renumbered `i`. Built in dependency order,
    /// a graph's passes read its arrays front to back and find what a component needs
    /// just behind it.
    fn renumbered(self, order: &[u32]) -> FailGraph {
        let n = self.len();
        let mut new = vec![0u32; n];
        for (i, &c) in order.iter().enumerate() {
            new[c as usize] = i as u32;
        }
        let map = |c: u32| new[c as usize];
        let mut input_start = Vec::with_capacity(n + 1);
        let mut inputs = Vec::with_capacity(self.inputs.len());
        input_start.push(0);
        for &c in order {
            let from = inputs.len();
            inputs.extend(self.inputs(c).iter().map(|&i| map(i)));
            inputs[from..].sort_unstable();
            input_start.push(inputs.len() as u32);
        }
        let mut soft: Vec<(u32, u32)> = self.soft.iter().map(|&(a, b)| (map(a), map(b))).collect();
        soft.sort_unstable();
        let map_some = |c: u32| if c == u32::MAX { c } else { map(c) };
        let primary = order.iter().map(|&c| map_some(self.primary[c as usize])).collect();
        let mut comps: Vec<Option<Component>> = self.comps.into_iter().map(Some).collect();
        FailGraph {
            comps: order.iter().filter_map(|&c| comps[c as usize].take()).collect(),
            need: order.iter().map(|&c| self.need[c as usize]).collect(),
            first_dependent: Vec::new(),
            input_start,
            inputs,
            soft,
            station: self.station.iter().map(|&c| map(c)).collect(),
            endpoint: self.endpoint.iter().map(|e| e.iter().map(|&c| map(c)).collect()).collect(),
            entry: self.entry.iter().map(|&c| map(c)).collect(),
            pod: self.pod.iter().map(|&c| map_some(c)).collect(),
            primary,
            carried: Arc::default(),
        }
        .with_dependents()
    }

    /// Fills in who needs each component: its first dependent, and [`PRIVATE`] where
    /// exactly one component needs it.
    fn with_dependents(mut self) -> FailGraph {
        let n = self.len();
        let mut first = vec![u32::MAX; n];
        let mut many = vec![false; n];
        for c in 0..n as u32 {
            for &i in self.inputs(c) {
                if first[i as usize] == u32::MAX {
                    first[i as usize] = c;
                } else {
                    many[i as usize] = true;
                }
            }
        }
        for (c, word) in self.need.iter_mut().enumerate() {
            let private = first[c] != u32::MAX && !many[c];
            *word = (*word & !PRIVATE) | if private { PRIVATE } else { 0 };
        }
        // Carried: failable, private, not a hub, and its one dependent can fail and needs all.
        let word = |c: u32| self.need[c as usize];
        let by: Vec<u32> = (0..n as u32)
            .map(|p| {
                let d = first[p as usize];
                let carried = p >= HUBS
                    && word(p) & (FAILABLE | PRIVATE) == FAILABLE | PRIVATE
                    && word(d) & FAILABLE != 0
                    && word(d) & GATE == 0;
                if carried { d } else { u32::MAX }
            })
            .collect();
        let (carriers, carried): (Vec<u32>, Vec<u32>) =
            by.iter().enumerate().filter(|&(_, &d)| d != u32::MAX).map(|(p, &d)| (d, p as u32)).unzip();
        let (start, list) = grouped(n, &carriers, &carried);
        self.carried = Arc::new(Carried { by, start, list });
        self.first_dependent = first;
        self
    }

    /// Strongly connected components in dependency order (what is needed comes first).
    pub fn sccs(&self) -> Vec<Vec<u32>> {
        let (order, bounds) = self.scc_order();
        bounds.windows(2).map(|b| order[b[0] as usize..b[1] as usize].to_vec()).collect()
    }

    /// Strongly connected components in dependency order, flat: every component once, each
    /// component's members sorted and back to back, and where each starts (one more entry
    /// than components).
    fn scc_order(&self) -> (Vec<u32>, Vec<u32>) {
        match self.acyclic_order() {
            Some(order) => {
                let bounds = (0..=order.len() as u32).collect();
                (order, bounds)
            }
            None => self.tarjan(),
        }
    }

    /// Whether every component's inputs are numbered below it, so the numbering is a
    /// dependency order (as [`Self::build`] numbers them; see `renumbered`): one look at
    /// every input tells.
    fn numbered_in_order(&self) -> bool {
        (0..self.len()).all(|c| self.inputs(c as u32).last().is_none_or(|&i| i < c as u32))
    }

    /// Components in dependency order if there is no cycle (a depth-first postorder, cheaper
    /// than Tarjan's bookkeeping), or none at the first cycle found.
    fn acyclic_order(&self) -> Option<Vec<u32>> {
        if self.numbered_in_order() {
            return Some((0..self.len() as u32).collect());
        }
        const UNSEEN: u8 = 0;
        const ON_PATH: u8 = 1;
        let n = self.len();
        let mut state = vec![UNSEEN; n];
        let mut order = Vec::with_capacity(n);
        // (component, position in `inputs`).
        let mut work: Vec<(u32, u32)> = Vec::new();
        for root in 0..n as u32 {
            if state[root as usize] != UNSEEN {
                continue;
            }
            state[root as usize] = ON_PATH;
            work.push((root, self.input_start[root as usize]));
            while let Some(&mut (v, ref mut pos)) = work.last_mut() {
                if *pos < self.input_start[v as usize + 1] {
                    let w = self.inputs[*pos as usize];
                    *pos += 1;
                    match state[w as usize] {
                        UNSEEN => {
                            state[w as usize] = ON_PATH;
                            work.push((w, self.input_start[w as usize]));
                        }
                        ON_PATH => return None,
                        _ => {}
                    }
                    continue;
                }
                state[v as usize] = ON_PATH + 1;
                order.push(v);
                work.pop();
            }
        }
        Some(order)
    }

    /// `order`, a dependency order, regrouped by level: its first [`HUBS`] components as
    /// they are (regions and zones, in a graph from [`Self::build`]), then the rest by the
    /// length of their longest chain of inputs, stably. Each level then needs only the ones
    /// below it, which lets the killer sets of a level be computed on two threads.
    fn by_levels(&self, order: Vec<u32>) -> Vec<u32> {
        let hubs = order.len().min(HUBS as usize);
        let mut level = vec![0u32; self.len()];
        for &c in &order[hubs..] {
            level[c as usize] = 1 + self.inputs(c).iter().map(|&i| level[i as usize]).max().unwrap_or(0);
        }
        let mut out = order;
        out[hubs..].sort_by_key(|&c| level[c as usize]);
        out
    }

    /// [`Self::scc_order`] by iterative Tarjan, for graphs with cycles.
    fn tarjan(&self) -> (Vec<u32>, Vec<u32>) {
        let n = self.len();
        const UNSEEN: u32 = u32::MAX;
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut order: Vec<u32> = Vec::with_capacity(n);
        let mut bounds: Vec<u32> = Vec::with_capacity(n + 1);
        bounds.push(0);
        let mut next = 0u32;
        // (component, position in its inputs).
        let mut work: Vec<(u32, u32)> = Vec::new();
        for root in 0..n as u32 {
            if index[root as usize] != UNSEEN {
                continue;
            }
            index[root as usize] = next;
            low[root as usize] = next;
            next += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            work.push((root, self.input_start[root as usize]));
            while let Some(&mut (v, ref mut pos)) = work.last_mut() {
                let vi = v as usize;
                if *pos < self.input_start[vi + 1] {
                    let w = self.inputs[*pos as usize];
                    *pos += 1;
                    let wi = w as usize;
                    if index[wi] == UNSEEN {
                        index[wi] = next;
                        low[wi] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[wi] = true;
                        work.push((w, self.input_start[wi]));
                    } else if on_stack[wi] {
                        low[vi] = low[vi].min(index[wi]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent as usize] = low[parent as usize].min(low[vi]);
                }
                if low[vi] == index[vi] {
                    let from = order.len();
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        order.push(w);
                        if w == v {
                            break;
                        }
                    }
                    order[from..].sort_unstable();
                    bounds.push(order.len() as u32);
                }
            }
        }
        (order, bounds)
    }

    /// Every component's killer set, bottom-up over the dependency order: a component
    /// needing all its inputs dies with any of them (union); one needing k of n dies with
    /// whatever kills n-k+1 of them (for one of n, the intersection). Inside a dependency
    /// cycle every member needs every other, so members share one set.
    pub fn killer_sets(&self) -> KillerSets {
        self.killer_sets_on(if two_threads(self.len()) { 2 } else { 1 }, levels::SHARED_FROM)
    }

    /// [`Self::killer_sets`] on up to `threads` threads (1 or 2), sharing a level of the
    /// dependency order between them once it has `shared_from` components.
    pub(crate) fn killer_sets_on(&self, threads: usize, shared_from: usize) -> KillerSets {
        if let Some(k) = levels::killer_sets(self, threads, shared_from) {
            return k;
        }
        let mut k = self.empty_sets();
        let mut w = SetScratch::new(self.len());
        let (order, bounds) = self.scc_order();
        for b in bounds.windows(2) {
            let scc = &order[b[0] as usize..b[1] as usize];
            if let [c] = *scc {
                match self.one_input(c, &k) {
                    Some(made) => k.record(c, made, &[]),
                    None => {
                        let made = self.gate_set(c, &k, &mut w, false);
                        k.record(c, made, &w.acc);
                    }
                }
            } else {
                self.cycle_set(scc, &mut k, &mut w);
            }
        }
        k.order = Some(order);
        k.unions = w.unions;
        k
    }

    /// [`CARRIED_LINK`] if `c` is carried (which sets computed in a dependency-ordered
    /// numbering use), else 0.
    fn carried_flag(&self, c: u32) -> u32 {
        if self.carried.by[c as usize] != u32::MAX { CARRIED_LINK } else { 0 }
    }

    /// The set of `c` if it has exactly one input, the common case (a pod on its node, an
    /// entry point behind its service): its input's set as the base, and itself if it can
    /// fail, with no set algebra and no own members listed. None for any other component.
    fn one_input(&self, c: u32, k: &impl Forest) -> Option<Outcome> {
        let ci = c as usize;
        let from = self.input_start[ci] as usize;
        if self.input_start[ci + 1] as usize != from + 1 {
            return None;
        }
        let (i, word) = (self.inputs[from], self.need[ci]);
        // Down with its input, or needing at least two of its one input.
        Some(if k.down(i) || word & GATE > 2 {
            Outcome::Down
        } else {
            Outcome::Set { base: i, itself: word & FAILABLE != 0 }
        })
    }

    /// No sets yet.
    fn empty_sets(&self) -> KillerSets {
        let n = self.len();
        KillerSets {
            members: Vec::with_capacity(n * 4),
            links: vec![Link { start: 0, len: 0, base: NO_BASE, size: 0 }; n],
            order: None,
            down_already: vec![false; n],
            approximated: Vec::new(),
            hubs: Vec::new(),
            unions: Unions::default(),
            helped: 0,
            carried: None,
        }
    }

    /// The killer set of one component whose inputs all have theirs: [`Outcome::Down`], or
    /// its base, with its own members left in `w.acc`. `in_order` says the graph is
    /// numbered in dependency order and `k.hubs` is kept, which [`Self::union_unmarked`]
    /// needs.
    fn gate_set(&self, c: u32, k: &impl Forest, w: &mut SetScratch, in_order: bool) -> Outcome {
        let ci = c as usize;
        // `at_least` is k + 1 for a gate needing k inputs, 0 for one needing all.
        let (at_least, own) = (self.need[ci] & GATE, self.need[ci] & FAILABLE != 0);
        let inputs = self.inputs(c);
        w.live.clear();
        w.live.extend(inputs.iter().copied().filter(|&i| !k.down(i)));
        let live = w.live.len();
        // Dies with whatever kills `need` of its live inputs.
        let need = match at_least {
            0 if live < inputs.len() => None,
            0 => Some(1),
            at_least => live.checked_sub(at_least as usize - 1).map(|spare| spare + 1),
        };
        let Some(need) = need else {
            return Outcome::Down;
        };
        w.acc.clear();
        if need == 1 && live > 0 {
            // The union: the largest input's set is the base, and the own members are what
            // the others' chains hold that the base's does not.
            let base = w.live.iter().copied().max_by_key(|&i| k.link(i).size).unwrap_or(w.live[0]);
            w.unions.total += u32::from(live > 1);
            if live > 1 && !(in_order && self.union_unmarked(base, k, w)) {
                w.unions.marked += 1;
                w.acc.clear();
                let round = w.next_round();
                let floor = hub_floor(in_order);
                let seen = &mut w.seen[..];
                for a in k.chain(base).take_while(|&a| a >= floor) {
                    // Marks the link, and the component itself if it is an own member.
                    seen[a as usize] = round;
                    for &x in k.own(a) {
                        seen[x as usize] = round;
                    }
                }
                for &i in w.live.iter().filter(|&&i| i != base) {
                    for a in k.chain(i) {
                        // Reached what is already in: so is the rest of the chain (a component's
                        // set is inside every set that holds it; sets hold failable ones only).
                        // Or reached a hub, whose set holds hubs only, settled by their bits.
                        if a < floor || seen[a as usize] == round {
                            break;
                        }
                        if k.itself_below(a) {
                            w.acc.push(a);
                        }
                        for &x in k.own(a) {
                            if x >= floor && seen[x as usize] != round {
                                seen[x as usize] = round;
                                w.acc.push(x);
                            }
                        }
                        seen[a as usize] = round;
                    }
                }
                if in_order {
                    w.acc.extend(k.hubs_added(&w.live, base));
                }
            }
            return Outcome::Set { base, itself: own };
        }
        if live > 1 {
            // Whatever is in `need` of the inputs' sets (1 of n: in all of them).
            let round = w.next_round();
            let floor = hub_floor(in_order);
            let (seen, count, acc) = (&mut w.seen[..], &mut w.count[..], &mut w.acc);
            let mut tally = |x: u32| {
                let xi = x as usize;
                if x < floor {
                    return;
                }
                if seen[xi] != round {
                    seen[xi] = round;
                    count[xi] = 0;
                    acc.push(x);
                }
                count[xi] += 1;
            };
            for &i in &w.live {
                // An input only this component needs is in no other input's set (another
                // input reaching it would reach this component: a cycle), so it is in one
                // set, short of the two or more needed here: skip it, as pods are skipped.
                if k.itself_below(i) && self.need[i as usize] & PRIVATE == 0 {
                    tally(i);
                }
                k.own(i).iter().for_each(|&x| tally(x));
                let below = k.base(i);
                if below != NO_BASE {
                    // In order, a link below the hubs holds hubs only: their bits count them.
                    k.chain(below).take_while(|&a| a >= floor).for_each(|a| k.own_below(a).for_each(&mut tally));
                }
            }
            acc.retain(|&x| count[x as usize] as usize >= need);
            if in_order {
                let masks = w.live.iter().map(|&i| k.hub_mask(i));
                let hubs = if need == live {
                    masks.fold(u32::MAX, |m, h| m & h)
                } else {
                    let any = masks.clone().fold(0, |m, h| m | h);
                    bits(any)
                        .filter(|&b| masks.clone().filter(|h| h & (1 << b) != 0).count() >= need)
                        .fold(0, |m, b| m | 1 << b)
                };
                w.acc.extend(bits(hubs));
            }
        }
        Outcome::Set { base: NO_BASE, itself: own }
    }

    /// A union's own members (into `w.acc`) found without marking its base's set, when every
    /// candidate can be placed in or out of that set by a cheap test: hubs by the sets' hub
    /// bits, and a component whose first dependent is numbered above the base is out of it
    /// (in dependency order the base cannot reach it). True if that settled every
    /// candidate; false, with `w.acc` to be cleared, at the first one it cannot settle.
    fn union_unmarked(&self, base: u32, k: &impl Forest, w: &mut SetScratch) -> bool {
        let round = w.next_round();
        // Some(true): in the base's set; Some(false): out of it; None: not known.
        let within = |x: u32| -> Option<bool> {
            if x == base {
                Some(true)
            } else if self.first_dependent[x as usize] > base {
                Some(false)
            } else {
                None
            }
        };
        let (seen, acc) = (&mut w.seen[..], &mut w.acc);
        for &i in w.live.iter().filter(|&&i| i != base) {
            for a in k.chain(i) {
                // A link already walked, or in the base's set: so is the rest of its chain.
                // A hub link's set holds hubs only, settled below by their bits.
                if a < HUBS || seen[a as usize] == round {
                    break;
                }
                match (within(a), k.itself_below(a)) {
                    (Some(true), _) => break,
                    (Some(false), true) => acc.push(a),
                    (None, true) => return false,
                    // A derived gate is in no set; its chain may still be.
                    (_, false) => {}
                }
                seen[a as usize] = round;
                for &x in k.own(a) {
                    if x >= HUBS && seen[x as usize] != round {
                        seen[x as usize] = round;
                        match within(x) {
                            Some(true) => {}
                            Some(false) => acc.push(x),
                            None => return false,
                        }
                    }
                }
            }
        }
        w.acc.extend(k.hubs_added(&w.live, base));
        true
    }

    /// The shared killer set of a dependency cycle: the union of what every member needs
    /// from outside, plus the members.
    fn cycle_set(&self, scc: &[u32], k: &mut KillerSets, w: &mut SetScratch) {
        w.acc.clear();
        let mut dead = false;
        for &c in scc {
            if matches!(self.comps[c as usize].gate, Gate::AtLeast(_)) {
                k.approximated.push(c);
            }
            for &i in self.inputs(c) {
                if scc.binary_search(&i).is_err() {
                    dead |= k.down_already[i as usize];
                    k.extend_with(i, &mut w.acc);
                }
            }
        }
        w.acc.extend(scc.iter().copied().filter(|&c| self.comps[c as usize].class.failable()));
        w.acc.sort_unstable();
        w.acc.dedup();
        k.store(scc[0], NO_BASE, &w.acc, false);
        for &c in scc {
            k.links[c as usize] = k.links[scc[0] as usize];
            k.down_already[c as usize] = dead;
        }
    }

    /// Everything down once `failed` fail (a greatest fixed point: what nothing failed
    /// takes down stays up, including mutual dependencies).
    pub fn spread(&self, failed: &[u32], scratch: &mut Spread) -> Vec<u32> {
        scratch.prepare(self);
        let mut queue: Vec<u32> = Vec::new();
        let mut dead_list = Vec::new();
        for &f in failed {
            if !scratch.dead[f as usize] {
                scratch.dead[f as usize] = true;
                queue.push(f);
            }
        }
        while let Some(c) = queue.pop() {
            dead_list.push(c);
            let (from, to) = (scratch.start[c as usize] as usize, scratch.start[c as usize + 1] as usize);
            for k in from..to {
                let d = scratch.dependents[k];
                let di = d as usize;
                if scratch.dead[di] {
                    continue;
                }
                if scratch.lost[di] == 0 {
                    scratch.touched.push(d);
                }
                scratch.lost[di] += 1;
                let inputs = self.inputs(d).len() as u32;
                let threshold = match self.comps[di].gate {
                    Gate::All => 1,
                    Gate::AtLeast(k) => (inputs + 1).saturating_sub(k).max(1),
                };
                if scratch.lost[di] >= threshold {
                    scratch.dead[di] = true;
                    queue.push(d);
                }
            }
        }
        for &c in &dead_list {
            scratch.dead[c as usize] = false;
        }
        for &c in &scratch.touched {
            scratch.lost[c as usize] = 0;
        }
        scratch.touched.clear();
        dead_list.sort_unstable();
        dead_list
    }
}

/// Reusable working memory for [`FailGraph::spread`]: dependents of each component and
/// counters, reset after each use so repeated spreads cost only what they touch.
#[derive(Debug, Default)]
pub struct Spread {
    start: Vec<u32>,
    dependents: Vec<u32>,
    dead: Vec<bool>,
    lost: Vec<u32>,
    touched: Vec<u32>,
}

impl Spread {
    fn prepare(&mut self, g: &FailGraph) {
        if self.dead.len() == g.len() {
            return;
        }
        let n = g.len();
        let mut count = vec![0u32; n + 1];
        for &i in &g.inputs {
            count[i as usize + 1] += 1;
        }
        for i in 0..n {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut dependents = vec![0u32; g.inputs.len()];
        for c in 0..n as u32 {
            for &i in g.inputs(c) {
                dependents[fill[i as usize] as usize] = c;
                fill[i as usize] += 1;
            }
        }
        self.start = count;
        self.dependents = dependents;
        self.dead = vec![false; n];
        self.lost = vec![0; n];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// region <- zone a, zone b <- node a, node b <- pod a, pod b <- deployment (1 of 2) <- service;
    /// the service also needs a database in zone a.
    fn small() -> (FailGraph, [u32; 9]) {
        let mut b = Builder::default();
        let r = b.add("region/r", Class::Region, Gate::All);
        let za = b.add("zone/a", Class::Zone, Gate::All);
        let zb = b.add("zone/b", Class::Zone, Gate::All);
        let na = b.add("node/a", Class::Node, Gate::All);
        let nb = b.add("node/b", Class::Node, Gate::All);
        let pa = b.add("pod/a", Class::Pod, Gate::All);
        let pb = b.add("pod/b", Class::Pod, Gate::All);
        let w = b.add("deployment/w", Class::Workload, Gate::AtLeast(1));
        let s = b.add("service/s", Class::Service, Gate::All);
        let db = b.add("datastore/db", Class::Datastore, Gate::All);
        for (x, y) in [(za, r), (zb, r), (na, za), (nb, zb), (pa, na), (pb, nb), (w, pa), (w, pb), (s, w), (s, db)] {
            b.needs(x, y);
        }
        b.needs(db, za);
        (b.finish(), [r, za, zb, na, nb, pa, pb, w, s])
    }

    #[test]
    fn grouped_keeps_each_keys_values_in_order() {
        let (start, list) = grouped(4, &[2, 0, 2, 3, 0], &[10, 11, 12, 13, 14]);
        assert_eq!(start, vec![0, 2, 2, 4, 5]);
        assert_eq!(list, vec![11, 14, 10, 12, 13]);
    }

    #[test]
    fn rounds_wrap_without_stale_marks() {
        let mut w = SetScratch::new(3);
        w.round = u16::MAX - 1;
        w.seen = vec![1, u16::MAX - 1, 0];
        assert_eq!(w.next_round(), u16::MAX);
        // Past the last round every mark is cleared, so an old mark of 1 is not current.
        assert_eq!(w.next_round(), 1);
        assert_eq!(w.seen, vec![0, 0, 0]);
    }

    #[test]
    fn unions_among_hubs_are_settled_without_marking() {
        // Built with the database added after the service that needs it: not in order, so
        // the one union (the service: its workload and the database) marks its base's set.
        let (g, _) = small();
        assert!(!g.numbered_in_order());
        assert_eq!(g.killer_sets().unions, Unions { total: 1, marked: 1 });
        // Renumbered in dependency order, with fewer components than hubs: every candidate
        // is settled by hub bits.
        let order = g.acyclic_order().expect("no cycle");
        let ordered = g.renumbered(&order);
        assert!(ordered.numbered_in_order());
        assert_eq!(ordered.killer_sets().unions, Unions { total: 1, marked: 0 });
    }

    #[test]
    fn a_service_carries_its_workload_without_listing_it() {
        // Past the hubs: a workload only its service needs, a callee, and a caller of both.
        let mut b = Builder::default();
        let hubs: Vec<u32> = (0..HUBS).map(|i| b.add(format!("zone-{i}"), Class::Zone, Gate::All)).collect();
        let w = b.add("deployment/a", Class::Workload, Gate::All);
        b.needs(w, hubs[0]);
        let callee = b.add("service/b", Class::Service, Gate::All);
        b.needs(callee, hubs[1]);
        let s = b.add("service/a", Class::Service, Gate::All);
        b.needs(s, w);
        b.needs(s, callee);
        let caller = b.add("service/c", Class::Service, Gate::All);
        b.needs(caller, s);
        b.needs(caller, callee);
        let g = b.finish();
        assert!(g.numbered_in_order());
        let k = g.killer_sets();
        // The workload is in the service's set and its caller's, listed in neither.
        assert!(k.members.iter().all(|&x| x != w), "listed: {:?}", k.members);
        assert_eq!(k.set(s), vec![hubs[0], hubs[1], w, callee, s]);
        assert!(k.set(caller).contains(&w) && k.kills(w, caller) && k.kills(w, w));
        assert!(!k.kills(w, callee));
        // Its failure takes down itself, the service and the caller.
        assert_eq!(k.taken_down()[w as usize], 3);
    }

    #[test]
    fn killer_sets_follow_the_gates() {
        let (g, [r, za, _zb, na, _nb, pa, _pb, w, s]) = small();
        let k = g.killer_sets();
        // A pod dies with itself, its node, its zone, its region.
        assert_eq!(k.set(pa), &[r, za, na, pa]);
        // The deployment has a pod in each zone: only the region (and itself) kill it.
        assert_eq!(k.set(w), &[r, w]);
        // The service needs the deployment and the database in zone a: zone a kills it.
        let db = 9;
        assert_eq!(k.set(s), &[r, za, w, s, db]);
    }

    #[test]
    fn spread_agrees_with_killer_sets_on_the_small_graph() {
        let (g, _) = small();
        let k = g.killer_sets();
        let mut scratch = Spread::default();
        for x in 0..g.len() as u32 {
            let dead = g.spread(&[x], &mut scratch);
            let from_sets: Vec<u32> = (0..g.len() as u32).filter(|&c| k.set(c).contains(&x)).collect();
            assert_eq!(dead, from_sets, "failing {}", g.comps()[x as usize].name);
        }
    }

    #[test]
    fn a_quorum_dies_with_two_of_three() {
        let mut b = Builder::default();
        let p: Vec<u32> = (0..3).map(|i| b.add(format!("pod/p{i}"), Class::Pod, Gate::All)).collect();
        let n: Vec<u32> = (0..2).map(|i| b.add(format!("node/n{i}"), Class::Node, Gate::All)).collect();
        let q = b.add("statefulset/q", Class::Workload, Gate::AtLeast(2));
        // p0 and p1 share node n0; p2 runs on n1.
        b.needs(p[0], n[0]);
        b.needs(p[1], n[0]);
        b.needs(p[2], n[1]);
        for &x in &p {
            b.needs(q, x);
        }
        let g = b.finish();
        let k = g.killer_sets();
        // n0 takes two of three pods: the quorum is lost; n1 takes one: it holds.
        assert_eq!(k.set(q), &[n[0], q]);
        let mut scratch = Spread::default();
        assert!(g.spread(&[n[0]], &mut scratch).contains(&q));
        assert!(!g.spread(&[n[1]], &mut scratch).contains(&q));
        assert!(g.spread(&[p[0], p[2]], &mut scratch).contains(&q));
    }

    #[test]
    fn a_cycle_of_hard_calls_shares_one_set_and_spread_agrees() {
        let mut b = Builder::default();
        let a = b.add("service/a", Class::Service, Gate::All);
        let c = b.add("service/c", Class::Service, Gate::All);
        let d = b.add("datastore/d", Class::Datastore, Gate::All);
        b.needs(a, c);
        b.needs(c, a);
        b.needs(c, d);
        let g = b.finish();
        let k = g.killer_sets();
        assert_eq!(k.set(a), &[a, c, d]);
        assert_eq!(k.set(c), &[a, c, d]);
        let mut scratch = Spread::default();
        assert_eq!(g.spread(&[d], &mut scratch), vec![a, c, d]);
    }

    #[test]
    fn a_workload_short_of_its_quorum_is_down_already() {
        let mut b = Builder::default();
        let p = b.add("pod/p", Class::Pod, Gate::All);
        let q = b.add("statefulset/q", Class::Workload, Gate::AtLeast(2));
        let s = b.add("service/s", Class::Service, Gate::All);
        b.needs(q, p);
        b.needs(s, q);
        let k = b.finish().killer_sets();
        assert!(k.down_already[q as usize]);
        assert!(k.down_already[s as usize]);
        assert!(!k.down_already[p as usize]);
    }

    /// A graph of `pods` pods on 300 nodes over 4 zones, a workload per 4 pods (needing 1 to
    /// 4 of them), a service per workload needing it and up to three earlier services or
    /// datastores (one in 8 a datastore on a node), from a seeded generator.
    fn layered(pods: u32, seed: u64) -> FailGraph {
        let mut x = seed.max(1);
        let mut next = |below: u32| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % u64::from(below)) as u32
        };
        let mut b = Builder::default();
        let zones: Vec<u32> = (0..4).map(|z| b.add(format!("zone/{z}"), Class::Zone, Gate::All)).collect();
        let nodes: Vec<u32> = (0..300)
            .map(|n| {
                let c = b.add(format!("node/{n}"), Class::Node, Gate::All);
                b.needs(c, zones[n % 4]);
                c
            })
            .collect();
        let mut callees: Vec<u32> = Vec::new();
        for w in 0..pods / 4 {
            let workload = b.add(format!("workload/{w}"), Class::Workload, Gate::AtLeast(1 + next(4)));
            for p in 0..4 {
                let pod = b.add(format!("pod/{w}-{p}"), Class::Pod, Gate::All);
                b.needs(pod, nodes[next(300) as usize]);
                b.needs(workload, pod);
            }
            let (name, class) =
                if next(8) == 0 { ("datastore", Class::Datastore) } else { ("service", Class::Service) };
            let s = b.add(format!("{name}/{w}"), class, Gate::All);
            if class == Class::Datastore {
                b.needs(s, nodes[next(300) as usize]);
            } else {
                b.needs(s, workload);
                for _ in 0..next(4) {
                    if !callees.is_empty() {
                        b.needs(s, callees[next(callees.len() as u32) as usize]);
                    }
                }
            }
            callees.push(s);
        }
        let g = b.finish();
        let order = g.acyclic_order().expect("inputs come first");
        let order = g.by_levels(order);
        g.renumbered(&order)
    }

    #[test]
    fn two_threads_find_the_sets_one_thread_finds_on_a_large_graph() {
        let g = layered(24_000, 7);
        let one = g.killer_sets_on(1, usize::MAX);
        assert_eq!(one.helped, 0);
        // The second thread may start too late to take part; a few tries make sure it does.
        let mut helped = 0;
        for _ in 0..20 {
            let two = g.killer_sets_on(2, 64);
            assert_eq!(one.down_already, two.down_already);
            assert_eq!(one.taken_down(), two.taken_down());
            assert_eq!(one.unions, two.unions);
            assert_eq!(one.listed(), two.listed());
            for c in 0..g.len() as u32 {
                assert_eq!(one.set(c), two.set(c), "{}", g.comps()[c as usize].name);
            }
            helped = two.helped;
            if helped > 0 {
                break;
            }
        }
        assert!(helped > 0, "the second thread never took part");
        let (down, mut scratch) = (one.taken_down(), Spread::default());
        for x in (0..g.len() as u32).step_by(97).filter(|&x| g.comps()[x as usize].class.failable()) {
            assert_eq!(down[x as usize] as usize, g.spread(&[x], &mut scratch).len(), "{}", g.comps()[x as usize].name);
        }
        // The graph exercises what it should: unions that mark, and some that need not.
        assert!(one.unions.marked > 0 && one.unions.marked < one.unions.total, "{:?}", one.unions);
    }

    use proptest::prelude::*;

    /// A random graph: each component needs some earlier ones (all of them, or at least k),
    /// plus a few later ones between all-gates, which make cycles.
    fn graph() -> impl Strategy<Value = FailGraph> {
        // Up to 100 components, so sets hold components past the 32 hubs too.
        (2usize..100).prop_flat_map(|n| {
            let comps =
                proptest::collection::vec((any::<bool>(), 1u32..4, proptest::collection::vec(any::<u32>(), 0..4)), n);
            let back = proptest::collection::vec((any::<u32>(), any::<u32>()), 0..4);
            (comps, back).prop_map(move |(comps, back)| {
                let mut b = Builder::default();
                let mut all_gate = Vec::new();
                for (i, (at_least, k, picks)) in comps.iter().enumerate() {
                    let mut inputs: Vec<u32> =
                        if i == 0 { Vec::new() } else { picks.iter().map(|p| p % i as u32).collect() };
                    inputs.sort_unstable();
                    inputs.dedup();
                    let gate = if *at_least && !inputs.is_empty() {
                        Gate::AtLeast((*k).min(inputs.len() as u32))
                    } else {
                        Gate::All
                    };
                    let class = if i % 5 == 4 { Class::Entry } else { Class::Service };
                    let c = b.add(format!("c{i}"), class, gate);
                    for x in inputs {
                        b.needs(c, x);
                    }
                    all_gate.push(gate == Gate::All);
                }
                for (x, y) in back {
                    let (x, y) = ((x as usize) % n, (y as usize) % n);
                    if all_gate[x] && all_gate[y] && x < y {
                        b.needs(x as u32, y as u32);
                    }
                }
                b.finish()
            })
        })
    }

    proptest! {
        /// The killer sets say exactly what spreading each single failure takes down.
        #[test]
        fn killer_sets_agree_with_spreading_every_single_failure(g in graph()) {
            let k = g.killer_sets();
            prop_assume!(k.approximated.is_empty());
            prop_assume!(k.down_already.iter().all(|d| !d));
            let mut scratch = Spread::default();
            let down = k.taken_down();
            for x in (0..g.len() as u32).filter(|&x| g.comps()[x as usize].class.failable()) {
                let dead: Vec<u32> = g.spread(&[x], &mut scratch);
                let from_sets: Vec<u32> = (0..g.len() as u32).filter(|&c| k.set(c).contains(&x)).collect();
                let killed: Vec<u32> = (0..g.len() as u32).filter(|&c| k.kills(x, c)).collect();
                prop_assert_eq!(down[x as usize] as usize, dead.len(), "counting c{}", x);
                prop_assert_eq!(&killed, &from_sets, "kills c{}", x);
                prop_assert_eq!(dead, from_sets, "failing c{}", x);
            }
        }

        /// On two threads sharing every level, the sets are the ones found on one thread.
        #[test]
        fn two_threads_find_the_sets_one_thread_finds(g in graph()) {
            let one = g.killer_sets_on(1, usize::MAX);
            let two = g.killer_sets_on(2, 1);
            prop_assert_eq!(&one.down_already, &two.down_already);
            prop_assert_eq!(one.taken_down(), two.taken_down());
            for c in 0..g.len() as u32 {
                prop_assert_eq!(one.set(c), two.set(c), "c{}", c);
            }
        }

        /// Renumbered in dependency order (as `build` does), a graph has the same sets
        /// under the new numbers, and its numbering is found to be an order.
        #[test]
        fn renumbering_keeps_the_sets(g in graph()) {
            let Some(order) = g.acyclic_order() else { return Ok(()) };
            let k = g.killer_sets();
            let r = g.clone().renumbered(&order);
            prop_assert!(r.numbered_in_order());
            let kr = r.killer_sets();
            for (new, &old) in order.iter().enumerate() {
                let mut mapped: Vec<u32> = k.set(old).iter().map(|&x| order.iter().position(|&o| o == x).unwrap() as u32).collect();
                mapped.sort_unstable();
                prop_assert_eq!(&mapped, &kr.set(new as u32), "c{}", old);
                prop_assert_eq!(&g.comps()[old as usize].name, &r.comps()[new].name);
            }
        }
    }
}
