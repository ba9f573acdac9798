//! A cluster-autoscaler-like scale-up: nodes from a group's template for pods that fit
//! no existing node.
//!
//! Rules from the cluster autoscaler's FAQ
//! (<https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md>,
//! "How does scale-up work?" and "What are Expanders?").

use crate::{Cluster, HOSTNAME_LABEL, NodeId, PodId, SchedNode, SchedPod, Unschedulable};
use doppel_model::Labels;

/// A group of identical nodes the autoscaler may grow (an auto scaling group, a node pool).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeGroup {
    /// Group name; new nodes are named `<name>-new-<n>`.
    pub name: String,
    /// What a new node looks like (its name and hostname label are replaced).
    pub template: SchedNode,
    /// The most nodes the group may have.
    pub max_size: u32,
    /// Nodes the group has now.
    pub current: u32,
    /// Seconds from asking for a node to its being ready (for the caller's timeline;
    /// placement here does not wait).
    pub provisioning_s: f64,
}

/// What a scale-up did.
#[derive(Debug, Clone, Default)]
pub struct ScaleUp {
    /// Nodes added, with the index of their group in the slice given.
    pub added: Vec<(usize, NodeId)>,
    /// Pods placed, on old or new nodes.
    pub placed: Vec<(PodId, NodeId)>,
    /// Pods still pending, with the scheduler's reason on the grown cluster.
    pub pending: Vec<(SchedPod, Unschedulable)>,
}

/// The outcome of growing one group for the pods that wait.
struct Growth {
    added: Vec<NodeId>,
    placed: Vec<(PodId, NodeId)>,
    left: Vec<SchedPod>,
    /// Least-waste score (wasted share of cpu plus that of memory on the new nodes);
    /// `None` when no pod went to a new node.
    waste: Option<f64>,
}

/// Places `pending` pods, adding nodes where none fits, as the cluster autoscaler would:
///
/// 1. Pods that fit an existing node are placed there.
/// 2. For the rest, each group below its `max_size` is tried on a copy of the cluster:
///    pods are placed in order; one that fits nowhere gets a new template node if the
///    group may grow, and the node is dropped again if even it cannot take the pod.
/// 3. The **least-waste** expander picks the group: the smallest unused share of cpu
///    plus unused share of memory over the nodes it would add. Ties go to the group
///    earlier in `groups` (the cluster autoscaler would pick at random among them).
/// 4. That group is grown for real, the same way, and its `current` counts the nodes.
///    Steps 2 to 4 repeat while pods wait and some group helps.
///
/// New nodes are named `<group>-new-<n>` with the smallest `n` from 1 not already a
/// node's name, and labelled `kubernetes.io/hostname` with that name. They are usable
/// at once; `provisioning_s` is for the caller's timeline.
pub fn autoscale(cluster: &mut Cluster, groups: &mut [NodeGroup], pending: Vec<SchedPod>) -> ScaleUp {
    let mut out = ScaleUp::default();
    let mut waiting = Vec::new();
    for pod in pending {
        match cluster.place(pod) {
            Ok(placed) => out.placed.push(placed),
            Err((pod, _)) => waiting.push(pod),
        }
    }
    while !waiting.is_empty() {
        let mut best: Option<(f64, usize)> = None;
        for (g, group) in groups.iter().enumerate() {
            if group.current >= group.max_size {
                continue;
            }
            let mut trial = cluster.clone();
            let mut trial_group = group.clone();
            let Some(waste) = grow(&mut trial, &mut trial_group, &waiting).waste else { continue };
            if best.is_none_or(|(least, _)| waste < least) {
                best = Some((waste, g));
            }
        }
        let Some((_, g)) = best else { break };
        let growth = grow(cluster, &mut groups[g], &waiting);
        let progress = !growth.placed.is_empty();
        out.added.extend(growth.added.into_iter().map(|node| (g, node)));
        out.placed.extend(growth.placed);
        waiting = growth.left;
        if !progress {
            break;
        }
    }
    for pod in waiting {
        match cluster.place(pod) {
            Ok(placed) => out.placed.push(placed),
            Err(pending) => out.pending.push(pending),
        }
    }
    out
}

/// Places `pods` in order, adding a template node of `group` for each pod that fits
/// nowhere while the group may grow.
fn grow(cluster: &mut Cluster, group: &mut NodeGroup, pods: &[SchedPod]) -> Growth {
    let mut added = Vec::new();
    let mut placed = Vec::new();
    let mut left = Vec::new();
    for pod in pods {
        if let Ok(done) = cluster.place(pod.clone()) {
            placed.push(done);
            continue;
        }
        if group.current >= group.max_size {
            left.push(pod.clone());
            continue;
        }
        let name = new_node_name(cluster, &group.name);
        let node = cluster.add_node(template_node(&group.template, &name));
        match cluster.place(pod.clone()) {
            Ok(done) => {
                group.current += 1;
                added.push(node);
                placed.push(done);
            }
            Err(_) => {
                cluster.pop_empty_node();
                left.push(pod.clone());
            }
        }
    }
    let waste = least_waste(cluster, &added);
    Growth { added, placed, left, waste }
}

/// The wasted share of cpu plus that of memory over new nodes, from the requests of
/// the pods on them.
fn least_waste(cluster: &Cluster, added: &[NodeId]) -> Option<f64> {
    let (mut cpu, mut mem, mut used_cpu, mut used_mem) = (0i64, 0i64, 0i64, 0i64);
    let mut pods = 0;
    for &node in added {
        let hot = &cluster.hot[node.0 as usize];
        cpu = cpu.saturating_add(hot.alloc_cpu);
        mem = mem.saturating_add(hot.alloc_mem);
        used_cpu = used_cpu.saturating_add(hot.req_cpu);
        used_mem = used_mem.saturating_add(hot.req_mem);
        pods += hot.count as usize;
    }
    if pods == 0 {
        return None;
    }
    let share = |total: i64, used: i64| if total > 0 { (total - used) as f64 / total as f64 } else { 0.0 };
    Some(share(cpu, used_cpu) + share(mem, used_mem))
}

fn new_node_name(cluster: &Cluster, group: &str) -> String {
    (1u64..)
        .map(|n| format!("{group}-new-{n}"))
        .find(|name| cluster.node_id(name).is_none())
        .expect("some name is free")
}

fn template_node(template: &SchedNode, name: &str) -> SchedNode {
    let labels = template.labels.iter().chain([(HOSTNAME_LABEL, name)]);
    SchedNode { name: name.to_owned(), labels: Labels::from_pairs(labels), ..template.clone() }
}
