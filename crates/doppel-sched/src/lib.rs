//! Placement of pods on nodes as the Kubernetes default scheduler (v1.30) does it:
//! filters in the scheduler's order with its own reasons, scores with the default
//! weights, disruption budgets and a cluster-autoscaler-like scale-up. Pure and
//! deterministic: where Kubernetes breaks a tie between equally scored nodes at
//! random, this crate takes the node added first (the lowest [`NodeId`]).
//!
//! What is modelled, plugin by plugin (default profile, default weights):
//!
//! | plugin | filter | score (weight) |
//! | --- | --- | --- |
//! | NodeUnschedulable | cordoned nodes, unless the pod tolerates `node.kubernetes.io/unschedulable` | |
//! | TaintToleration | `NoSchedule` and `NoExecute` taints | untolerated `PreferNoSchedule` taints, fewer is better (3) |
//! | NodeAffinity | `node_selector`, required `node_affinity` (operator In) | |
//! | NodeResourcesFit | cpu, memory, ephemeral storage, pod slots | LeastAllocated over cpu and memory (1) |
//! | NodeResourcesBalancedAllocation | | (1) |
//! | PodTopologySpread | `DoNotSchedule` constraints (`hard`) | `ScheduleAnyway` constraints (2) |
//! | InterPodAffinity | required affinity and anti-affinity, both ways | preferred terms, both ways (2) |
//!
//! Left out: preemption (and its message), volumes, host ports, images, the system
//! default spreading constraints (they need the pod's owning workload), `minDomains`,
//! `matchLabelKeys`, namespace selectors of affinity terms, and the sampling of nodes
//! (`percentageOfNodesToScore`): every node is filtered and scored.
//!
//! "Every node is scored" is the outcome, not the method: fit scores are kept per
//! distinct request and updated as pods come and go, nodes are grouped by taint class
//! and by domain into sets (bit vectors), and the best node is sought from the highest
//! possible total down (`schedule/fast.rs`). The plain filter-then-score of every node
//! is kept as a test oracle (`schedule/plain.rs`) that every decision must match.

mod autoscale;
mod bits;
mod fit;
mod intern;
mod pdb;
mod schedule;

use bits::Bits;
use doppel_model::Labels;
use doppel_model::spec::{Resources, Scheduling, Taint, TaintEffect};
use fit::FitCache;
use intern::{Interner, MISSING, subset};
use std::collections::HashMap;
use std::fmt;

pub use autoscale::{NodeGroup, ScaleUp, autoscale};
pub use pdb::{Pdb, PdbStatus};
pub use schedule::Unschedulable;

/// Hash maps with a fixed fast hash: lookups by label ids and names on every
/// placement, and the same iteration order from run to run.
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// The node label holding the node's name, the usual per-node topology key.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// The node label holding the node's availability zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The taint the node lifecycle controller puts on a node it cannot reach.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// The taint the node lifecycle controller puts on a node that is not ready.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint that stands for a cordoned node; tolerating it lets a pod onto one.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// The `NoExecute` taint Kubernetes puts on a node that stopped answering.
pub fn unreachable_taint() -> Taint {
    Taint { key: UNREACHABLE_TAINT.to_owned(), value: None, effect: TaintEffect::NoExecute }
}

/// A node of a [`Cluster`]; ids follow the order nodes were added in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// A pod bound in a [`Cluster`]; ids follow the order pods were bound in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodId(pub u32);

/// A node as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchedNode {
    /// Node name.
    pub name: String,
    /// Node labels (zone, hostname, instance type, ...).
    pub labels: Labels,
    /// Resources available to pods. Zero cpu, memory or storage means none; zero pods
    /// means no limit on the number of pods.
    pub allocatable: Resources,
    /// Taints.
    pub taints: Vec<Taint>,
    /// Whether the node is cordoned.
    pub unschedulable: bool,
}

/// A pod as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchedPod {
    /// Pod name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Pod labels.
    pub labels: Labels,
    /// Requested resources (sum over containers); `pods` is ignored.
    pub requests: Resources,
    /// Where the pod may go.
    pub scheduling: Scheduling,
}

/// Requests in integer units: milli-cores and bytes, with the non-zero defaults the
/// scheduler's LeastAllocated score uses for pods that request nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Req {
    pub(crate) cpu: i64,
    pub(crate) mem: i64,
    pub(crate) eph: i64,
    pub(crate) nz_cpu: i64,
    pub(crate) nz_mem: i64,
}

/// The CPU the scoring counts for a pod that requests none (100m).
const DEFAULT_MILLI_CPU: i64 = 100;
/// The memory the scoring counts for a pod that requests none (200 MiB).
const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// Cores as whole milli-cores, rounding up as Kubernetes quantities do.
pub(crate) fn milli_cpu(cores: f64) -> i64 {
    if !(cores.is_finite() && cores > 0.0) {
        return 0;
    }
    let milli = cores * 1000.0;
    let nearest = milli.round();
    // Float noise (0.1 * 1000 = 100.00000000000001) is not a fraction of a milli-core.
    let milli = if (milli - nearest).abs() < 1e-6 { nearest } else { milli.ceil() };
    milli as i64
}

fn bytes(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Req {
    pub(crate) fn of(resources: &Resources) -> Req {
        let cpu = milli_cpu(resources.cpu.0);
        let mem = bytes(resources.memory.0);
        Req {
            cpu,
            mem,
            eph: bytes(resources.ephemeral_storage.0),
            nz_cpu: if cpu == 0 { DEFAULT_MILLI_CPU } else { cpu },
            nz_mem: if mem == 0 { DEFAULT_MEMORY } else { mem },
        }
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.cpu == 0 && self.mem == 0 && self.eph == 0
    }
}

/// A taint with interned key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ITaint {
    pub(crate) key: u32,
    pub(crate) value: u32,
    pub(crate) effect: TaintEffect,
}

/// Node flag: cordoned.
pub(crate) const CORDONED: u8 = 1;
/// Node flag: some taint has the `NoSchedule` or `NoExecute` effect.
pub(crate) const HARD_TAINTS: u8 = 2;
/// Node flag: some taint has the `PreferNoSchedule` effect.
pub(crate) const PREFER_TAINTS: u8 = 4;

/// What the placement loop reads of every node, kept together and small.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hot {
    pub(crate) alloc_cpu: i64,
    pub(crate) alloc_mem: i64,
    pub(crate) alloc_eph: i64,
    pub(crate) req_cpu: i64,
    pub(crate) req_mem: i64,
    pub(crate) req_eph: i64,
    pub(crate) nz_cpu: i64,
    pub(crate) nz_mem: i64,
    /// 1 / allocatable cpu and memory (0 when there is none), for score estimates.
    pub(crate) inv_cpu: f64,
    pub(crate) inv_mem: f64,
    pub(crate) count: u32,
    pub(crate) max_pods: u32,
    pub(crate) flags: u8,
}

/// What the taint filter and score look at of a node: whether it is cordoned, and its
/// taints. Nodes share few of these, so a pod's tolerations are checked once per class.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TaintClass {
    pub(crate) cordoned: bool,
    pub(crate) taints: Vec<ITaint>,
}

/// The rest of a node.
#[derive(Debug, Clone)]
pub(crate) struct NodeRec {
    pub(crate) spec: SchedNode,
    pub(crate) labels: Vec<(u32, u32)>,
    pub(crate) taints: Vec<ITaint>,
    pub(crate) pods: Vec<PodId>,
}

impl NodeRec {
    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.spec.unschedulable {
            flags |= CORDONED;
        }
        for taint in &self.taints {
            flags |= if taint.effect == TaintEffect::PreferNoSchedule { PREFER_TAINTS } else { HARD_TAINTS };
        }
        flags
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PodState {
    Running,
    Terminating,
    Removed,
}

#[derive(Debug, Clone)]
pub(crate) struct PodRec {
    pub(crate) spec: SchedPod,
    pub(crate) ns: u32,
    pub(crate) labels: Vec<(u32, u32)>,
    pub(crate) req: Req,
    pub(crate) node: NodeId,
    pub(crate) state: PodState,
    pub(crate) carriers: Vec<u32>,
}

/// The most domains a key may have for its nodes to be kept as one set per domain.
const COARSE: usize = 64;

/// The domains of one node label key: per node, the index of its value (or MISSING),
/// and per domain, its number of nodes.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyIndex {
    pub(crate) domain: Vec<u32>,
    pub(crate) nodes_in: Vec<u32>,
    lookup: Map<u32, u32>,
    /// Per domain, its nodes, while the key has at most [`COARSE`] domains (then
    /// dropped for good).
    pub(crate) members: Vec<Bits>,
    /// The nodes that have the key.
    pub(crate) keyed: Bits,
    /// The number of domains holding more than one node.
    shared: u32,
}

impl KeyIndex {
    /// The domain of `value`, added if new.
    fn domain_of(&mut self, value: u32) -> u32 {
        if let Some(&d) = self.lookup.get(&value) {
            return d;
        }
        let d = self.nodes_in.len() as u32;
        if self.is_coarse() && self.members.len() < COARSE {
            self.members.push(Bits::zeros(self.domain.len()));
        } else {
            self.members.clear();
        }
        self.nodes_in.push(0);
        self.lookup.insert(value, d);
        d
    }

    /// Puts node `n` (the last so far) in domain `d`.
    fn join(&mut self, n: usize, d: u32) {
        self.domain[n] = d;
        self.keyed.set(n, true);
        self.nodes_in[d as usize] += 1;
        if self.nodes_in[d as usize] == 2 {
            self.shared += 1;
        }
        if let Some(bits) = self.members.get_mut(d as usize) {
            bits.set(n, true);
        }
    }

    /// Drops the last node.
    fn pop(&mut self) {
        if let Some(d) = self.domain.pop().filter(|&d| d != MISSING) {
            self.nodes_in[d as usize] -= 1;
            if self.nodes_in[d as usize] == 1 {
                self.shared -= 1;
            }
        }
        for bits in &mut self.members {
            bits.pop();
        }
        self.keyed.pop();
    }

    /// The number of distinct values.
    pub(crate) fn len(&self) -> usize {
        self.nodes_in.len()
    }

    /// Whether the nodes of each domain are kept as a set.
    pub(crate) fn is_coarse(&self) -> bool {
        self.members.len() == self.len()
    }

    /// Whether no two nodes share a domain (as with the hostname label).
    pub(crate) fn one_node_per_domain(&self) -> bool {
        self.shared == 0
    }
}

/// Adds `delta` to slot `d` of a per-domain table, growing it as domains appear.
fn bump(table: &mut Vec<i64>, d: u32, delta: i64) {
    let d = d as usize;
    if table.len() <= d {
        table.resize(d + 1, 0);
    }
    table[d] += delta;
}

/// Matching pods summed per domain of one key (tables may be shorter than the key's
/// domains: missing slots are zero).
#[derive(Debug, Clone, Default)]
pub(crate) struct Domains {
    pub(crate) key: usize,
    pub(crate) live: Vec<i64>,
    pub(crate) all: Vec<i64>,
    pub(crate) live_total: i64,
    pub(crate) all_total: i64,
}

/// Pods of one namespace matching one selector, counted per node (`live` leaves out
/// terminating pods, for topology spread; `all` counts them, for inter-pod affinity)
/// and per domain of the keys the pods' rules use.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) selector: Vec<(u32, u32)>,
    pub(crate) live: Vec<u32>,
    pub(crate) all: Vec<u32>,
    /// The nodes where `all` is not zero.
    pub(crate) any: Bits,
    pub(crate) by_key: Vec<Domains>,
}

/// Which inter-pod term bound pods carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CarrierKind {
    RequiredAffinity,
    RequiredAnti,
    PreferredAffinity,
    PreferredAnti,
}

impl CarrierKind {
    /// How a bound pod's term counts in the InterPodAffinity score of an incoming pod it
    /// matches: +1 for affinity (required terms score as preferred with weight 1), -1 for
    /// preferred anti-affinity; required anti-affinity does not score.
    pub(crate) fn score_sign(self) -> Option<i64> {
        match self {
            CarrierKind::RequiredAffinity | CarrierKind::PreferredAffinity => Some(1),
            CarrierKind::PreferredAnti => Some(-1),
            CarrierKind::RequiredAnti => None,
        }
    }
}

/// An inter-pod affinity term of bound pods (declared in namespace `ns`), with the
/// number of bound pods carrying it per node and per domain of its key.
#[derive(Debug, Clone)]
pub(crate) struct Carrier {
    pub(crate) kind: CarrierKind,
    pub(crate) ns: u32,
    pub(crate) selector: Vec<(u32, u32)>,
    pub(crate) key: u32,
    pub(crate) key_index: Option<usize>,
    pub(crate) per_node: Vec<u32>,
    /// The nodes where `per_node` is not zero.
    pub(crate) any: Bits,
    pub(crate) per_domain: Vec<i64>,
    pub(crate) domain_total: i64,
    pub(crate) total: u32,
}

/// Ids by label selector (looked up by slice, without building a key).
type BySelector = Map<Vec<(u32, u32)>, u32>;

/// Nodes and the pods bound to them, with the indexes placement needs.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) syms: Interner,
    pub(crate) hot: Vec<Hot>,
    pub(crate) nodes: Vec<NodeRec>,
    names: Map<String, NodeId>,
    pub(crate) keys: Vec<KeyIndex>,
    key_of: Map<u32, usize>,
    pub(crate) pods: Vec<PodRec>,
    pub(crate) groups: Vec<Group>,
    /// Per namespace, its groups by selector.
    group_of: Map<u32, BySelector>,
    ns_groups: Map<u32, Vec<u32>>,
    pub(crate) carriers: Vec<Carrier>,
    /// Per kind, namespace and topology key, the carriers by selector.
    carrier_of: Map<(CarrierKind, u32, u32), BySelector>,
    /// Per node, its taint class.
    pub(crate) taint_class: Vec<u32>,
    pub(crate) taint_classes: Vec<TaintClass>,
    /// Per taint class, its nodes.
    pub(crate) taint_members: Vec<Bits>,
    taint_class_of: Map<TaintClass, u32>,
    pub(crate) fit: FitCache,
    pub(crate) hostname: u32,
    pub(crate) empty: u32,
    pub(crate) unschedulable_key: u32,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("nodes", &self.nodes.len())
            .field("pods", &self.pods.iter().filter(|p| p.state != PodState::Removed).count())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster of these nodes, in this order (the order breaks ties between equally
    /// scored nodes, so callers pass nodes sorted by name).
    pub fn new(nodes: Vec<SchedNode>) -> Cluster {
        let mut syms = Interner::default();
        let hostname = syms.intern(HOSTNAME_LABEL);
        let empty = syms.intern("");
        let unschedulable_key = syms.intern(UNSCHEDULABLE_TAINT);
        let mut cluster = Cluster {
            syms,
            hot: Vec::with_capacity(nodes.len()),
            nodes: Vec::with_capacity(nodes.len()),
            names: Map::default(),
            keys: Vec::new(),
            key_of: Map::default(),
            pods: Vec::new(),
            groups: Vec::new(),
            group_of: Map::default(),
            ns_groups: Map::default(),
            carriers: Vec::new(),
            carrier_of: Map::default(),
            taint_class: Vec::with_capacity(nodes.len()),
            taint_classes: Vec::new(),
            taint_members: Vec::new(),
            taint_class_of: Map::default(),
            fit: FitCache::default(),
            hostname,
            empty,
            unschedulable_key,
        };
        for node in nodes {
            cluster.add_node(node);
        }
        cluster
    }

    /// Adds a node after the others.
    pub fn add_node(&mut self, node: SchedNode) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let labels = self.syms.labels(&node.labels);
        for key in &mut self.keys {
            key.domain.push(MISSING);
            key.keyed.push(false);
            for bits in &mut key.members {
                bits.push(false);
            }
        }
        for &(key, value) in &labels {
            let index = match self.key_of.get(&key) {
                Some(&index) => index,
                None => {
                    let index = self.keys.len();
                    let n = id.0 as usize + 1;
                    self.keys.push(KeyIndex { domain: vec![MISSING; n], keyed: Bits::zeros(n), ..KeyIndex::default() });
                    self.key_of.insert(key, index);
                    for carrier in self.carriers.iter_mut().filter(|c| c.key == key) {
                        carrier.key_index = Some(index);
                    }
                    index
                }
            };
            let keys = &mut self.keys[index];
            let domain = keys.domain_of(value);
            keys.join(id.0 as usize, domain);
        }
        for group in &mut self.groups {
            group.live.push(0);
            group.all.push(0);
            group.any.push(false);
        }
        for carrier in &mut self.carriers {
            carrier.per_node.push(0);
            carrier.any.push(false);
        }
        let taints = node.taints.iter().map(|t| self.intern_taint(t)).collect::<Vec<_>>();
        let alloc = Req::of(&node.allocatable);
        self.names.entry(node.name.clone()).or_insert(id);
        let rec = NodeRec { taints, labels, pods: Vec::new(), spec: node };
        self.hot.push(Hot {
            alloc_cpu: alloc.cpu,
            alloc_mem: alloc.mem,
            alloc_eph: alloc.eph,
            inv_cpu: if alloc.cpu > 0 { 1.0 / alloc.cpu as f64 } else { 0.0 },
            inv_mem: if alloc.mem > 0 { 1.0 / alloc.mem as f64 } else { 0.0 },
            max_pods: rec.spec.allocatable.pods,
            flags: rec.flags(),
            ..Hot::default()
        });
        self.nodes.push(rec);
        self.taint_class.push(u32::MAX);
        for bits in &mut self.taint_members {
            bits.push(false);
        }
        self.classify_taints(id.0 as usize);
        self.fit.push_node(&self.hot[id.0 as usize]);
        id
    }

    /// Puts a node in the taint class of its cordon and taints.
    fn classify_taints(&mut self, n: usize) {
        let rec = &self.nodes[n];
        self.hot[n].flags = rec.flags();
        let class = TaintClass { cordoned: rec.spec.unschedulable, taints: rec.taints.clone() };
        let next = self.taint_classes.len() as u32;
        let id = *self.taint_class_of.entry(class).or_insert(next);
        if id == next {
            self.taint_classes.push(TaintClass { cordoned: rec.spec.unschedulable, taints: rec.taints.clone() });
            self.taint_members.push(Bits::zeros(self.nodes.len()));
        }
        if let Some(old) = self.taint_members.get_mut(self.taint_class[n] as usize) {
            old.set(n, false);
        }
        self.taint_members[id as usize].set(n, true);
        self.taint_class[n] = id;
    }

    /// Removes the last node, which must hold no pods (used by the autoscaler's trials).
    pub(crate) fn pop_empty_node(&mut self) {
        let Some(last) = self.nodes.last() else { return };
        if !last.pods.is_empty() {
            return;
        }
        let id = NodeId(self.nodes.len() as u32 - 1);
        let node = self.nodes.pop().expect("checked above");
        self.hot.pop();
        self.taint_class.pop();
        for bits in &mut self.taint_members {
            bits.pop();
        }
        self.fit.pop_node();
        if self.names.get(&node.spec.name) == Some(&id) {
            self.names.remove(&node.spec.name);
        }
        for key in &mut self.keys {
            key.pop();
        }
        for group in &mut self.groups {
            group.live.pop();
            group.all.pop();
            group.any.pop();
        }
        for carrier in &mut self.carriers {
            carrier.per_node.pop();
            carrier.any.pop();
        }
    }

    fn intern_taint(&mut self, taint: &Taint) -> ITaint {
        ITaint {
            key: self.syms.intern(&taint.key),
            value: self.syms.intern(taint.value.as_deref().unwrap_or("")),
            effect: taint.effect,
        }
    }

    /// A node. Panics if `id` is not a node of this cluster.
    pub fn node(&self, id: NodeId) -> &SchedNode {
        &self.nodes[id.0 as usize].spec
    }

    /// The number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// All node ids, in order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    /// The node of this name (the first, if several share it).
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.names.get(name).copied()
    }

    /// Adds a taint to a node (a failed node gets `node.kubernetes.io/unreachable`).
    /// Pods already there stay: evicting them is the caller's decision.
    pub fn add_taint(&mut self, node: NodeId, taint: Taint) {
        let interned = self.intern_taint(&taint);
        let rec = &mut self.nodes[node.0 as usize];
        rec.taints.push(interned);
        rec.spec.taints.push(taint);
        self.classify_taints(node.0 as usize);
    }

    /// Removes every taint of this key from a node.
    pub fn remove_taint(&mut self, node: NodeId, key: &str) {
        let rec = &mut self.nodes[node.0 as usize];
        if let Some(id) = self.syms.get(key) {
            rec.taints.retain(|t| t.key != id);
        }
        rec.spec.taints.retain(|t| t.key != key);
        self.classify_taints(node.0 as usize);
    }

    /// Cordons (true) or uncordons (false) a node.
    pub fn set_unschedulable(&mut self, node: NodeId, unschedulable: bool) {
        let rec = &mut self.nodes[node.0 as usize];
        rec.spec.unschedulable = unschedulable;
        self.classify_taints(node.0 as usize);
    }

    /// Binds an existing pod to a node without any check (the pod is already there).
    /// Panics if `node` is not a node of this cluster.
    pub fn bind(&mut self, pod: SchedPod, node: NodeId) -> PodId {
        let query = self.query_interning(&pod);
        self.watch(&query);
        self.bind_query(pod, &query, node)
    }

    pub(crate) fn bind_query(&mut self, pod: SchedPod, query: &schedule::PodQuery, node: NodeId) -> PodId {
        let id = PodId(self.pods.len() as u32);
        let n = node.0 as usize;
        let hot = &mut self.hot[n];
        let req = query.req;
        hot.req_cpu = hot.req_cpu.saturating_add(req.cpu);
        hot.req_mem = hot.req_mem.saturating_add(req.mem);
        hot.req_eph = hot.req_eph.saturating_add(req.eph);
        hot.nz_cpu = hot.nz_cpu.saturating_add(req.nz_cpu);
        hot.nz_mem = hot.nz_mem.saturating_add(req.nz_mem);
        hot.count += 1;
        self.fit.update(n, hot);
        self.nodes[n].pods.push(id);
        self.count_in_groups(query.ns, &query.labels, n, 1, 1);
        // The pod's own terms become carriers that later pods are checked against (the
        // groups its rules count are kept from now on: the caller watched them).
        let mut carriers = Vec::new();
        let terms = [
            (CarrierKind::RequiredAffinity, &query.affinity),
            (CarrierKind::RequiredAnti, &query.anti),
            (CarrierKind::PreferredAffinity, &query.pref_affinity),
            (CarrierKind::PreferredAnti, &query.pref_anti),
        ];
        for (kind, terms) in terms {
            for term in terms {
                let c = self.carrier(kind, query.ns, &term.selector, term.key);
                self.count_in_carrier(c, n, 1);
                carriers.push(c);
            }
        }
        self.pods.push(PodRec {
            spec: pod,
            ns: query.ns,
            labels: query.labels.clone(),
            req,
            node,
            state: PodState::Running,
            carriers,
        });
        id
    }

    /// Adds `live` and `all` to the counts of every group a pod on node `n` matches.
    fn count_in_groups(&mut self, ns: u32, labels: &[(u32, u32)], n: usize, live: i64, all: i64) {
        let Some(groups) = self.ns_groups.get(&ns) else { return };
        for &g in groups {
            let group = &mut self.groups[g as usize];
            if !subset(&group.selector, labels) {
                continue;
            }
            group.live[n] = (i64::from(group.live[n]) + live) as u32;
            group.all[n] = (i64::from(group.all[n]) + all) as u32;
            group.any.set(n, group.all[n] > 0);
            for domains in &mut group.by_key {
                let d = self.keys[domains.key].domain[n];
                if d != MISSING {
                    bump(&mut domains.live, d, live);
                    bump(&mut domains.all, d, all);
                    domains.live_total += live;
                    domains.all_total += all;
                }
            }
        }
    }

    fn count_in_carrier(&mut self, c: u32, n: usize, delta: i64) {
        let carrier = &mut self.carriers[c as usize];
        carrier.per_node[n] = (i64::from(carrier.per_node[n]) + delta) as u32;
        carrier.any.set(n, carrier.per_node[n] > 0);
        carrier.total = (i64::from(carrier.total) + delta) as u32;
        if let Some(key) = carrier.key_index {
            let d = self.keys[key].domain[n];
            if d != MISSING {
                bump(&mut carrier.per_domain, d, delta);
                carrier.domain_total += delta;
            }
        }
    }

    /// Keeps counts for every group and key a pod's rules look at.
    pub(crate) fn watch(&mut self, query: &schedule::PodQuery) {
        query.watched(|selector, key| {
            let g = self.group(query.ns, selector);
            let Some(&key) = self.key_of.get(&key) else { return };
            let group = &self.groups[g as usize];
            if group.by_key.iter().any(|d| d.key == key) {
                return;
            }
            let domains = self.domains_of(key, &group.live, &group.all);
            self.groups[g as usize].by_key.push(domains);
        });
    }

    /// Per-node counts summed per domain of a key.
    pub(crate) fn domains_of(&self, key: usize, live: &[u32], all: &[u32]) -> Domains {
        let index = &self.keys[key];
        let mut out = Domains { key, live: vec![0; index.len()], all: vec![0; index.len()], ..Domains::default() };
        for (i, &d) in index.domain.iter().enumerate() {
            if d != MISSING {
                out.live[d as usize] += i64::from(live[i]);
                out.all[d as usize] += i64::from(all[i]);
                out.live_total += i64::from(live[i]);
                out.all_total += i64::from(all[i]);
            }
        }
        out
    }

    fn carrier(&mut self, kind: CarrierKind, ns: u32, selector: &[(u32, u32)], key: u32) -> u32 {
        if let Some(&c) = self.carrier_of.get(&(kind, ns, key)).and_then(|by| by.get(selector)) {
            return c;
        }
        let c = self.carriers.len() as u32;
        self.carriers.push(Carrier {
            kind,
            ns,
            selector: selector.to_vec(),
            key,
            key_index: self.key_of.get(&key).copied(),
            per_node: vec![0; self.nodes.len()],
            any: Bits::zeros(self.nodes.len()),
            per_domain: Vec::new(),
            domain_total: 0,
            total: 0,
        });
        self.carrier_of.entry((kind, ns, key)).or_default().insert(selector.to_vec(), c);
        c
    }

    /// The group of pods of `ns` matching `selector`, counted from now on.
    fn group(&mut self, ns: u32, selector: &[(u32, u32)]) -> u32 {
        if let Some(g) = self.find_group_id(ns, selector) {
            return g;
        }
        let (live, all) = self.count_pods(ns, selector);
        let g = self.groups.len() as u32;
        let any = Bits::from_fn(all.len(), |i| all[i] > 0);
        self.groups.push(Group { selector: selector.to_vec(), live, all, any, by_key: Vec::new() });
        self.group_of.entry(ns).or_default().insert(selector.to_vec(), g);
        self.ns_groups.entry(ns).or_default().push(g);
        g
    }

    /// Pods of `ns` matching `selector` per node: (not terminating, all).
    pub(crate) fn count_pods(&self, ns: u32, selector: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
        let mut live = vec![0; self.nodes.len()];
        let mut all = vec![0; self.nodes.len()];
        for pod in &self.pods {
            if pod.state == PodState::Removed || pod.ns != ns || !subset(selector, &pod.labels) {
                continue;
            }
            all[pod.node.0 as usize] += 1;
            if pod.state == PodState::Running {
                live[pod.node.0 as usize] += 1;
            }
        }
        (live, all)
    }

    /// The registered group of pods of `ns` matching `selector`, if any.
    pub(crate) fn find_group(&self, ns: u32, selector: &[(u32, u32)]) -> Option<&Group> {
        self.find_group_id(ns, selector).map(|g| &self.groups[g as usize])
    }

    fn find_group_id(&self, ns: u32, selector: &[(u32, u32)]) -> Option<u32> {
        self.group_of.get(&ns).and_then(|by| by.get(selector)).copied()
    }

    /// The index of a label key's domain table, if some node has that label.
    pub(crate) fn key_index(&self, key: u32) -> Option<usize> {
        self.key_of.get(&key).copied()
    }

    /// Marks a pod as terminating (evicted): it keeps its node and resources, but
    /// topology spreading no longer counts it, as in Kubernetes.
    pub fn set_terminating(&mut self, pod: PodId) {
        let Some(rec) = self.pods.get(pod.0 as usize) else { return };
        if rec.state != PodState::Running {
            return;
        }
        let (ns, labels, n) = (rec.ns, rec.labels.clone(), rec.node.0 as usize);
        self.count_in_groups(ns, &labels, n, -1, 0);
        self.pods[pod.0 as usize].state = PodState::Terminating;
    }

    /// Removes a pod: it is gone and its node's resources are free.
    pub fn remove(&mut self, pod: PodId) {
        let Some(rec) = self.pods.get(pod.0 as usize) else { return };
        if rec.state == PodState::Removed {
            return;
        }
        let n = rec.node.0 as usize;
        let live = if rec.state == PodState::Running { -1 } else { 0 };
        let (ns, labels, carriers, req) = (rec.ns, rec.labels.clone(), rec.carriers.clone(), rec.req);
        self.count_in_groups(ns, &labels, n, live, -1);
        for c in carriers {
            self.count_in_carrier(c, n, -1);
        }
        let hot = &mut self.hot[n];
        hot.req_cpu = hot.req_cpu.saturating_sub(req.cpu);
        hot.req_mem = hot.req_mem.saturating_sub(req.mem);
        hot.req_eph = hot.req_eph.saturating_sub(req.eph);
        hot.nz_cpu = hot.nz_cpu.saturating_sub(req.nz_cpu);
        hot.nz_mem = hot.nz_mem.saturating_sub(req.nz_mem);
        hot.count = hot.count.saturating_sub(1);
        self.fit.update(n, hot);
        self.nodes[n].pods.retain(|&p| p != pod);
        self.pods[pod.0 as usize].state = PodState::Removed;
    }

    /// A pod (removed pods stay readable). Panics if `id` is not a pod of this cluster.
    pub fn pod(&self, id: PodId) -> &SchedPod {
        &self.pods[id.0 as usize].spec
    }

    /// The node a pod is (or was last) bound to. Panics if `pod` is not of this cluster.
    pub fn node_of(&self, pod: PodId) -> NodeId {
        self.pods[pod.0 as usize].node
    }

    /// Whether a pod is terminating.
    pub fn is_terminating(&self, pod: PodId) -> bool {
        self.pods.get(pod.0 as usize).is_some_and(|p| p.state == PodState::Terminating)
    }

    /// Whether a pod was removed.
    pub fn is_removed(&self, pod: PodId) -> bool {
        self.pods.get(pod.0 as usize).is_none_or(|p| p.state == PodState::Removed)
    }

    /// The pods bound to a node (terminating ones included), in the order they were bound.
    pub fn pods_on(&self, node: NodeId) -> impl Iterator<Item = PodId> + '_ {
        self.nodes.get(node.0 as usize).into_iter().flat_map(|n| n.pods.iter().copied())
    }

    /// All pods not removed, in the order they were bound.
    pub fn pod_ids(&self) -> impl Iterator<Item = PodId> + '_ {
        self.pods.iter().enumerate().filter(|(_, p)| p.state != PodState::Removed).map(|(i, _)| PodId(i as u32))
    }

    /// The sum of the requests of the pods bound to a node (terminating ones included);
    /// `pods` is their number.
    pub fn requested(&self, node: NodeId) -> Resources {
        let Some(hot) = self.hot.get(node.0 as usize) else { return Resources::default() };
        Resources {
            cpu: doppel_model::Cores(hot.req_cpu as f64 / 1000.0),
            memory: doppel_model::Bytes(hot.req_mem.max(0) as u64),
            ephemeral_storage: doppel_model::Bytes(hot.req_eph.max(0) as u64),
            pods: hot.count,
        }
    }

    /// Where the scheduler would put this pod now: filters, then scores. Binds nothing.
    pub fn schedule(&self, pod: &SchedPod) -> Result<NodeId, Unschedulable> {
        let query = self.query_reading(pod);
        let fit = self.fit.peek(&self.hot, &query.req);
        self.decide(&query, &fit)
    }

    /// Schedules a pod and binds it where it goes; gives the pod back if it fits nowhere.
    // The pod comes back by value so the caller can keep it pending; boxing it would
    // cost an allocation on every refusal for no gain.
    #[allow(clippy::result_large_err)]
    pub fn place(&mut self, pod: SchedPod) -> Result<(PodId, NodeId), (SchedPod, Unschedulable)> {
        let query = self.query_interning(&pod);
        self.watch(&query);
        let mut cache = std::mem::take(&mut self.fit);
        let decision = self.decide(&query, cache.class(&self.hot, &query.req));
        self.fit = cache;
        match decision {
            Ok(node) => Ok((self.bind_query(pod, &query, node), node)),
            Err(reason) => Err((pod, reason)),
        }
    }
}
