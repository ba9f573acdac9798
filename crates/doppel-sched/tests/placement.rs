//! Placement cases, each checking one rule of the Kubernetes default scheduler (v1.30)
//! against an outcome that could be false: the node chosen, or the exact message.
//!
//! Documentation cited (kubernetes.io/docs/...):
//! - RES:    concepts/configuration/manage-resources-containers/#how-pods-with-resource-requests-are-scheduled
//! - SEL:    concepts/scheduling-eviction/assign-pod-node/#nodeselector
//! - NAFF:   concepts/scheduling-eviction/assign-pod-node/#node-affinity
//! - IPA:    concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
//! - TAINT:  concepts/scheduling-eviction/taint-and-toleration/#concepts
//! - TSC:    concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition
//! - TSCX:   concepts/scheduling-eviction/topology-spread-constraints/#example-one-topologyspreadconstraint
//! - SCHED:  concepts/scheduling-eviction/kube-scheduler/#kube-scheduler-implementation
//! - PLUG:   reference/scheduling/config/#scheduling-plugins
//! - CORDON: concepts/architecture/nodes/#manual-node-administration
//! - PDB:    tasks/run-application/configure-pdb/#specifying-a-poddisruptionbudget
//! - PDBS:   concepts/workloads/pods/disruptions/#pod-disruption-budgets
//! - EVICT:  concepts/scheduling-eviction/api-eviction/#how-api-initiated-eviction-works
//! - CA:     github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md#how-does-scale-up-work
//! - CAX:    github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md#what-are-expanders
//!
//! Where the documentation does not give the wording or the arithmetic, the case cites
//! the kube-scheduler source file (github.com/kubernetes/kubernetes, release-1.30).

use doppel_model::spec::{
    AffinityTerm, Resources, Scheduling, Taint, TaintEffect, Toleration, TolerationOperator, TopologySpread,
};
use doppel_model::{Bytes, Cores, IntOrPercent, Labels};
use doppel_sched::{
    Cluster, HOSTNAME_LABEL, NodeGroup, NodeId, Pdb, SchedNode, SchedPod, ZONE_LABEL, autoscale, unreachable_taint,
};

const MI: u64 = 1 << 20;
const GI: u64 = 1 << 30;

fn node(name: &str, zone: &str, cpu: f64, mem_gi: u64) -> SchedNode {
    SchedNode {
        name: name.into(),
        labels: Labels::from_pairs([(HOSTNAME_LABEL, name), (ZONE_LABEL, zone)]),
        allocatable: Resources {
            cpu: Cores(cpu),
            memory: Bytes(mem_gi * GI),
            ephemeral_storage: Bytes(50 * GI),
            pods: 110,
        },
        ..SchedNode::default()
    }
}

/// Nodes `<zone><i>` of 4 cores and 8 GiB, `per_zone` in each of the zones given.
fn zones(names: &[&str], per_zone: usize) -> Vec<SchedNode> {
    let mut out = Vec::new();
    for zone in names {
        for i in 1..=per_zone {
            out.push(node(&format!("{zone}{i}"), zone, 4.0, 8));
        }
    }
    out
}

fn pod(name: &str, app: &str, milli: u32, mem_mi: u64) -> SchedPod {
    SchedPod {
        name: name.into(),
        namespace: "default".into(),
        labels: Labels::from_pairs([("app", app)]),
        requests: Resources {
            cpu: Cores(f64::from(milli) / 1000.0),
            memory: Bytes(mem_mi * MI),
            ..Resources::default()
        },
        scheduling: Scheduling::default(),
    }
}

fn app(name: &str) -> Labels {
    Labels::from_pairs([("app", name)])
}

fn term(target: &str, key: &str, required: bool) -> AffinityTerm {
    AffinityTerm { selector: app(target), topology_key: key.into(), required }
}

fn spread(target: &str, key: &str, max_skew: u32, hard: bool) -> TopologySpread {
    TopologySpread { max_skew, topology_key: key.into(), hard, selector: app(target) }
}

fn taint(key: &str, value: Option<&str>, effect: TaintEffect) -> Taint {
    Taint { key: key.into(), value: value.map(Into::into), effect }
}

fn toleration(
    key: Option<&str>,
    operator: TolerationOperator,
    value: Option<&str>,
    effect: Option<TaintEffect>,
) -> Toleration {
    Toleration { key: key.map(Into::into), operator, value: value.map(Into::into), effect }
}

/// Places a pod and names its node; panics with the scheduler's message otherwise.
fn place(cluster: &mut Cluster, pod: SchedPod) -> String {
    match cluster.place(pod) {
        Ok((_, node)) => cluster.node(node).name.clone(),
        Err((pod, why)) => panic!("{} did not fit: {why}", pod.name),
    }
}

/// The scheduler's message for a pod that fits nowhere; panics if it fits.
fn refusal(cluster: &Cluster, pod: &SchedPod) -> String {
    match cluster.schedule(pod) {
        Ok(node) => panic!("{} fits on {}", pod.name, cluster.node(node).name),
        Err(why) => why.to_string(),
    }
}

fn bind(cluster: &mut Cluster, pod: SchedPod, node: &str) -> doppel_sched::PodId {
    let id = cluster.node_id(node).expect("node exists");
    cluster.bind(pod, id)
}

// ---------------------------------------------------------------------------------
// Requests (NodeResourcesFit filter)
// ---------------------------------------------------------------------------------

/// RES: "the scheduler ensures that, for each resource type, the sum of the resource
/// requests of the scheduled containers is less than the capacity of the node" (cpu).
#[test]
fn cpu_request_larger_than_free_cpu_is_refused() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    place(&mut cluster, pod("big", "x", 3500, 128));
    assert_eq!(place(&mut cluster, pod("second", "x", 3500, 128)), "a2");
    assert_eq!(refusal(&cluster, &pod("third", "x", 1000, 128)), "0/2 nodes are available: 2 Insufficient cpu.");
}

/// RES, memory: requests are summed per node and compared with allocatable memory.
#[test]
fn memory_request_larger_than_free_memory_is_refused() {
    let cluster = Cluster::new(zones(&["a"], 3));
    assert_eq!(refusal(&cluster, &pod("fat", "x", 100, 9 * 1024)), "0/3 nodes are available: 3 Insufficient memory.");
}

/// RES, local ephemeral storage: "Insufficient ephemeral-storage" (fit.go reason text).
#[test]
fn ephemeral_storage_request_is_checked() {
    let cluster = Cluster::new(zones(&["a"], 1));
    let mut p = pod("scratch", "x", 100, 64);
    p.requests.ephemeral_storage = Bytes(60 * GI);
    assert_eq!(refusal(&cluster, &p), "0/1 nodes are available: 1 Insufficient ephemeral-storage.");
}

/// RES / PLUG NodeResourcesFit: a node's pod slots (allocatable pods) are a resource;
/// the reason is "Too many pods".
#[test]
fn pod_slots_are_a_resource() {
    let mut n = node("tiny", "a", 4.0, 8);
    n.allocatable.pods = 2;
    let mut cluster = Cluster::new(vec![n]);
    place(&mut cluster, pod("p1", "x", 100, 64));
    place(&mut cluster, pod("p2", "x", 100, 64));
    assert_eq!(refusal(&cluster, &pod("p3", "x", 100, 64)), "0/1 nodes are available: 1 Too many pods.");
}

/// RES: every resource is checked, so one node can lack several; NodeResourcesFit
/// reports each (fit.go: "a node can contribute several" reasons to the histogram).
#[test]
fn a_node_short_of_cpu_and_memory_counts_under_both() {
    let cluster = Cluster::new(vec![node("only", "a", 1.0, 1)]);
    assert_eq!(
        refusal(&cluster, &pod("huge", "x", 2000, 2048)),
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
    );
}

/// RES: a pod that requests nothing passes the fit filter even on a full node (fit.go
/// returns before comparing resources when the pod requests none).
#[test]
fn a_pod_requesting_nothing_fits_a_full_node() {
    let mut cluster = Cluster::new(vec![node("full", "a", 1.0, 1)]);
    place(&mut cluster, pod("hog", "x", 1000, 1024));
    assert_eq!(place(&mut cluster, pod("free", "y", 0, 0)), "full");
}

/// RES: requests of pods bound to a node add up; removing a pod frees its share.
#[test]
fn removing_a_pod_frees_its_requests() {
    let mut cluster = Cluster::new(vec![node("one", "a", 2.0, 4)]);
    let (first, _) = cluster.place(pod("first", "x", 1500, 128)).expect("fits");
    assert_eq!(refusal(&cluster, &pod("second", "x", 1000, 128)), "0/1 nodes are available: 1 Insufficient cpu.");
    cluster.remove(first);
    assert_eq!(place(&mut cluster, pod("second", "x", 1000, 128)), "one");
    assert_eq!(cluster.requested(NodeId(0)).cpu, Cores(1.0));
}

/// RES with pod termination (concepts/workloads/pods/pod-lifecycle/#pod-termination):
/// a terminating pod still runs on its node, so its requests still count.
#[test]
fn a_terminating_pod_still_holds_its_requests() {
    let mut cluster = Cluster::new(vec![node("one", "a", 2.0, 4)]);
    let (first, _) = cluster.place(pod("first", "x", 1500, 128)).expect("fits");
    cluster.set_terminating(first);
    assert_eq!(refusal(&cluster, &pod("second", "x", 1000, 128)), "0/1 nodes are available: 1 Insufficient cpu.");
    assert_eq!(cluster.requested(NodeId(0)).pods, 1);
}

// ---------------------------------------------------------------------------------
// Node selector and node affinity
// ---------------------------------------------------------------------------------

/// SEL: "Kubernetes only schedules the Pod onto nodes that have each of the labels you
/// specify"; the reason is "node(s) didn't match Pod's node affinity/selector".
#[test]
fn node_selector_needs_every_label() {
    let mut nodes = zones(&["a"], 3);
    nodes[2].labels = Labels::from_pairs([(HOSTNAME_LABEL, "a3"), (ZONE_LABEL, "a"), ("disk", "ssd")]);
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("db", "db", 100, 64);
    p.scheduling.node_selector = Labels::from_pairs([("disk", "ssd")]);
    assert_eq!(place(&mut cluster, p.clone()), "a3");
    p.scheduling.node_selector = Labels::from_pairs([("disk", "ssd"), ("gpu", "yes")]);
    assert_eq!(refusal(&cluster, &p), "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.");
}

/// NAFF: requiredDuringScheduling with operator In: the node's value must be one of
/// the values listed.
#[test]
fn node_affinity_in_accepts_any_listed_value() {
    let mut cluster = Cluster::new(zones(&["a", "b", "c"], 1));
    let mut p = pod("p", "x", 100, 64);
    p.scheduling.node_affinity.insert(ZONE_LABEL.into(), vec!["c".into(), "b".into()]);
    assert_eq!(place(&mut cluster, p), "b1");
}

/// NAFF: all match expressions of a term must hold (here: zone and instance type).
#[test]
fn node_affinity_needs_every_key() {
    let mut nodes = zones(&["a", "b"], 1);
    nodes[1].labels = Labels::from_pairs([(HOSTNAME_LABEL, "b1"), (ZONE_LABEL, "b"), ("type", "m6i")]);
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("p", "x", 100, 64);
    p.scheduling.node_affinity.insert(ZONE_LABEL.into(), vec!["a".into(), "b".into()]);
    p.scheduling.node_affinity.insert("type".into(), vec!["m6i".into()]);
    assert_eq!(place(&mut cluster, p.clone()), "b1");
    p.scheduling.node_affinity.insert("type".into(), vec!["c7g".into()]);
    assert_eq!(refusal(&cluster, &p), "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.");
}

// ---------------------------------------------------------------------------------
// Taints and tolerations
// ---------------------------------------------------------------------------------

/// TAINT: a NoSchedule taint keeps pods without a matching toleration off the node;
/// the reason names the taint as {key: value} (taint_toleration.go).
#[test]
fn no_schedule_taint_repels_pods_without_toleration() {
    let mut nodes = zones(&["a"], 2);
    for n in &mut nodes {
        n.taints.push(taint("dedicated", Some("gpu"), TaintEffect::NoSchedule));
    }
    let cluster = Cluster::new(nodes);
    assert_eq!(
        refusal(&cluster, &pod("p", "x", 100, 64)),
        "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}."
    );
}

/// TAINT: with operator Equal the key, value and effect must all match.
#[test]
fn equal_toleration_needs_the_same_value() {
    let mut nodes = zones(&["a"], 1);
    nodes[0].taints.push(taint("dedicated", Some("gpu"), TaintEffect::NoSchedule));
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("p", "x", 100, 64);
    p.scheduling.tolerations.push(toleration(Some("dedicated"), TolerationOperator::Equal, Some("db"), None));
    assert_eq!(refusal(&cluster, &p), "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.");
    p.scheduling.tolerations[0].value = Some("gpu".into());
    assert_eq!(place(&mut cluster, p), "a1");
}

/// TAINT: with operator Exists no value is given and any value matches.
#[test]
fn exists_toleration_matches_any_value() {
    let mut nodes = zones(&["a"], 1);
    nodes[0].taints.push(taint("dedicated", Some("gpu"), TaintEffect::NoSchedule));
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("p", "x", 100, 64);
    p.scheduling.tolerations.push(toleration(Some("dedicated"), TolerationOperator::Exists, None, None));
    assert_eq!(place(&mut cluster, p), "a1");
}

/// TAINT: a toleration with an effect only matches taints of that effect ("an empty
/// effect matches all effects").
#[test]
fn toleration_effect_must_match_the_taint() {
    let mut nodes = zones(&["a"], 1);
    nodes[0].taints.push(taint("maint", None, TaintEffect::NoExecute));
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("p", "x", 100, 64);
    p.scheduling.tolerations.push(toleration(
        Some("maint"),
        TolerationOperator::Exists,
        None,
        Some(TaintEffect::NoSchedule),
    ));
    assert_eq!(refusal(&cluster, &p), "0/1 nodes are available: 1 node(s) had untolerated taint {maint: }.");
    p.scheduling.tolerations[0].effect = None;
    assert_eq!(place(&mut cluster, p), "a1");
}

/// TAINT: "An empty key with operator Exists matches all keys, values and effects".
#[test]
fn empty_key_exists_tolerates_every_taint() {
    let mut nodes = zones(&["a"], 1);
    nodes[0].taints.push(taint("one", Some("1"), TaintEffect::NoSchedule));
    nodes[0].taints.push(unreachable_taint());
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("p", "x", 100, 64);
    p.scheduling.tolerations.push(toleration(None, TolerationOperator::Exists, None, None));
    assert_eq!(place(&mut cluster, p), "a1");
}

/// TAINT (NoExecute; taint-based evictions): a node that fails gets
/// node.kubernetes.io/unreachable:NoExecute, which also keeps new pods off it.
#[test]
fn unreachable_node_takes_no_new_pods() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    cluster.add_taint(NodeId(0), unreachable_taint());
    assert_eq!(place(&mut cluster, pod("p", "x", 100, 64)), "a2");
    cluster.add_taint(NodeId(1), unreachable_taint());
    assert_eq!(
        refusal(&cluster, &pod("q", "x", 100, 64)),
        "0/2 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/unreachable: }."
    );
}

/// TAINT: the filter reports the first untolerated NoSchedule/NoExecute taint of the
/// node, in the node's order; PreferNoSchedule taints never filter.
#[test]
fn the_first_untolerated_taint_is_the_reason() {
    let mut nodes = zones(&["a"], 1);
    nodes[0].taints.push(taint("soft", None, TaintEffect::PreferNoSchedule));
    nodes[0].taints.push(taint("first", Some("1"), TaintEffect::NoSchedule));
    nodes[0].taints.push(taint("second", Some("2"), TaintEffect::NoExecute));
    let cluster = Cluster::new(nodes);
    let mut p = pod("p", "x", 100, 64);
    assert_eq!(refusal(&cluster, &p), "0/1 nodes are available: 1 node(s) had untolerated taint {first: 1}.");
    p.scheduling.tolerations.push(toleration(Some("first"), TolerationOperator::Exists, None, None));
    assert_eq!(refusal(&cluster, &p), "0/1 nodes are available: 1 node(s) had untolerated taint {second: 2}.");
}

/// TAINT: PreferNoSchedule is "a preference or soft version of NoSchedule": the
/// scheduler avoids the node (TaintToleration score, weight 3) but uses it if needed.
#[test]
fn prefer_no_schedule_is_avoided_but_usable() {
    let mut nodes = zones(&["a"], 2);
    nodes[0].taints.push(taint("spot", None, TaintEffect::PreferNoSchedule));
    let mut cluster = Cluster::new(nodes);
    // a2 is busier, so only the taint score keeps the pod off the emptier a1.
    bind(&mut cluster, pod("busy", "y", 2000, 2048), "a2");
    assert_eq!(place(&mut cluster, pod("p", "x", 100, 64)), "a2");
    // Tolerated, the taint costs nothing and the emptier node wins.
    let mut tolerant = pod("t", "x", 100, 64);
    tolerant.scheduling.tolerations.push(toleration(Some("spot"), TolerationOperator::Exists, None, None));
    assert_eq!(place(&mut cluster, tolerant), "a1");
    // With a2 cordoned, the tainted node still takes pods.
    cluster.set_unschedulable(NodeId(1), true);
    assert_eq!(place(&mut cluster, pod("q", "x", 100, 64)), "a1");
}

/// CORDON: a cordoned node is "unschedulable"; the NodeUnschedulable plugin lets pods
/// that tolerate node.kubernetes.io/unschedulable:NoSchedule on it (PLUG).
#[test]
fn cordoned_node_is_skipped_unless_tolerated() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    cluster.set_unschedulable(NodeId(0), true);
    cluster.set_unschedulable(NodeId(1), true);
    let mut p = pod("p", "x", 100, 64);
    assert_eq!(refusal(&cluster, &p), "0/2 nodes are available: 2 node(s) were unschedulable.");
    p.scheduling.tolerations.push(toleration(
        Some("node.kubernetes.io/unschedulable"),
        TolerationOperator::Exists,
        None,
        Some(TaintEffect::NoSchedule),
    ));
    assert_eq!(place(&mut cluster, p), "a1");
}

// ---------------------------------------------------------------------------------
// Inter-pod affinity
// ---------------------------------------------------------------------------------

/// IPA: required pod affinity puts the pod in the same topology domain (here the
/// zone) as a pod matching the selector.
#[test]
fn required_affinity_joins_the_zone_of_its_target() {
    let mut cluster = Cluster::new(zones(&["a", "b", "c"], 2));
    bind(&mut cluster, pod("cache", "cache", 100, 64), "b2");
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.pod_affinity.push(term("cache", ZONE_LABEL, true));
    // Both b nodes qualify; b1 is emptier.
    assert_eq!(place(&mut cluster, p), "b1");
}

/// IPA: when no node in a matching domain can take the pod, the others are rejected
/// as "node(s) didn't match pod affinity rules" (interpodaffinity/filtering.go).
#[test]
fn required_affinity_without_room_is_refused() {
    let mut cluster = Cluster::new(zones(&["a"], 3));
    bind(&mut cluster, pod("db", "db", 3900, 64), "a1");
    let mut p = pod("sidecar", "sidecar", 500, 64);
    p.scheduling.pod_affinity.push(term("db", HOSTNAME_LABEL, true));
    assert_eq!(
        refusal(&cluster, &p),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match pod affinity rules."
    );
}

/// IPA (and interpodaffinity/filtering.go): the first pod of a group with affinity to
/// itself may go anywhere its own labels satisfy the term, when no pod matches yet.
#[test]
fn first_pod_with_affinity_to_itself_is_allowed() {
    let mut cluster = Cluster::new(zones(&["a", "b"], 1));
    let mut p = pod("first", "grid", 100, 64);
    p.scheduling.pod_affinity.push(term("grid", ZONE_LABEL, true));
    assert_eq!(place(&mut cluster, p.clone()), "a1");
    // From then on the group stays in that zone even though b1 is emptier.
    assert_eq!(place(&mut cluster, p), "a1");
}

/// IPA: the exception is only for a pod matching its own term; affinity to a pod that
/// does not exist leaves it pending.
#[test]
fn affinity_to_a_missing_pod_is_refused() {
    let cluster = Cluster::new(zones(&["a", "b"], 1));
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.pod_affinity.push(term("cache", ZONE_LABEL, true));
    assert_eq!(refusal(&cluster, &p), "0/2 nodes are available: 2 node(s) didn't match pod affinity rules.");
}

/// IPA anti-affinity with topologyKey kubernetes.io/hostname: at most one replica per
/// node; the rest are "node(s) didn't match pod anti-affinity rules".
#[test]
fn hostname_anti_affinity_puts_one_replica_per_node() {
    let mut cluster = Cluster::new(zones(&["a"], 3));
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.pod_anti_affinity.push(term("web", HOSTNAME_LABEL, true));
    bind(&mut cluster, pod("filler", "other", 1000, 64), "a1");
    assert_eq!(place(&mut cluster, p.clone()), "a2");
    assert_eq!(place(&mut cluster, p.clone()), "a3");
    assert_eq!(place(&mut cluster, p.clone()), "a1");
    assert_eq!(refusal(&cluster, &p), "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.");
}

/// IPA anti-affinity with topologyKey topology.kubernetes.io/zone: one replica per zone.
#[test]
fn zone_anti_affinity_puts_one_replica_per_zone() {
    let mut cluster = Cluster::new(zones(&["a", "b"], 2));
    let mut p = pod("db", "db", 100, 64);
    p.scheduling.pod_anti_affinity.push(term("db", ZONE_LABEL, true));
    assert_eq!(place(&mut cluster, p.clone()), "a1");
    assert_eq!(place(&mut cluster, p.clone()), "b1");
    assert_eq!(refusal(&cluster, &p), "0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules.");
}

/// IPA: anti-affinity is symmetric: an existing pod's required anti-affinity keeps a
/// matching new pod out of its domain ("node(s) didn't satisfy existing pods
/// anti-affinity rules").
#[test]
fn existing_pods_anti_affinity_repels_newcomers() {
    let mut cluster = Cluster::new(zones(&["a", "b"], 1));
    let mut loner = pod("loner", "loner", 100, 64);
    loner.scheduling.pod_anti_affinity.push(term("noisy", ZONE_LABEL, true));
    bind(&mut cluster, loner, "a1");
    assert_eq!(place(&mut cluster, pod("n1", "noisy", 100, 64)), "b1");
    cluster.add_taint(NodeId(1), taint("full", None, TaintEffect::NoSchedule));
    assert_eq!(
        refusal(&cluster, &pod("n2", "noisy", 100, 64)),
        "0/2 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules, \
         1 node(s) had untolerated taint {full: }."
    );
}

/// IPA: a term without namespaces applies to pods of the pod's own namespace only.
#[test]
fn anti_affinity_counts_only_the_pods_namespace() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    let mut other = pod("web", "web", 2000, 64);
    other.namespace = "staging".into();
    bind(&mut cluster, other, "a2");
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.pod_anti_affinity.push(term("web", HOSTNAME_LABEL, true));
    bind(&mut cluster, pod("busy", "x", 3000, 64), "a1");
    // a1 is busier, a2 holds a web pod of another namespace: a2 is still allowed.
    assert_eq!(place(&mut cluster, p), "a2");
}

// ---------------------------------------------------------------------------------
// Topology spread
// ---------------------------------------------------------------------------------

/// TSCX: with maxSkew 1 and DoNotSchedule the pod goes to a zone where
/// count + 1 - global minimum <= maxSkew, even when another node scores higher.
#[test]
fn hard_zone_spread_fills_zones_evenly() {
    let mut nodes = vec![node("a1", "a", 64.0, 256)];
    nodes.extend([node("b1", "b", 4.0, 8), node("c1", "c", 4.0, 8)]);
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("web", "web", 500, 512);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 1, true));
    let placed: Vec<String> = (0..4).map(|_| place(&mut cluster, p.clone())).collect();
    assert_eq!(placed, ["a1", "b1", "c1", "a1"]);
}

/// TSC: DoNotSchedule "instructs the scheduler not to schedule it" when the skew
/// would exceed maxSkew; the reason is "node(s) didn't match pod topology spread
/// constraints" (podtopologyspread/filtering.go).
#[test]
fn hard_spread_refuses_a_skew_beyond_max() {
    let mut cluster = Cluster::new(zones(&["a", "b"], 1));
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 1, true));
    place(&mut cluster, p.clone());
    cluster.add_taint(NodeId(1), taint("full", None, TaintEffect::NoSchedule));
    assert_eq!(
        refusal(&cluster, &p),
        "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, \
         1 node(s) had untolerated taint {full: }."
    );
}

/// TSC, node labels: "nodes without the topologyKey are bypassed"; for hard
/// constraints they are rejected with "(missing required label)".
#[test]
fn nodes_without_the_topology_label_are_rejected() {
    let mut nodes = zones(&["a"], 1);
    nodes.push(SchedNode {
        name: "bare".into(),
        labels: Labels::from_pairs([(HOSTNAME_LABEL, "bare")]),
        ..node("bare", "", 64.0, 64)
    });
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 1, true));
    assert_eq!(place(&mut cluster, p.clone()), "a1");
    cluster.set_unschedulable(NodeId(0), true);
    assert_eq!(
        refusal(&cluster, &p),
        "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), \
         1 node(s) were unschedulable."
    );
}

/// TSC: spreading counts pods that are not terminating (podtopologyspread/common.go
/// skips pods with a deletion timestamp), so an evicted pod frees its zone's share.
#[test]
fn terminating_pods_do_not_count_for_spread() {
    let mut cluster = Cluster::new(zones(&["a", "b"], 1));
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 1, true));
    let (first, _) = cluster.place(p.clone()).expect("fits");
    cluster.add_taint(NodeId(1), taint("full", None, TaintEffect::NoSchedule));
    assert!(cluster.schedule(&p).is_err());
    cluster.set_terminating(first);
    assert_eq!(place(&mut cluster, p), "a1");
}

/// TSC, nodeTaintsPolicy (default Ignore: "node taints are ignored, all nodes are
/// included"): a failed zone whose nodes are tainted unreachable still counts as a
/// domain with zero pods once its pods are evicted, so hard spreading refuses to put
/// the replacements in the other zones.
#[test]
fn a_failed_zone_still_counts_and_blocks_hard_spread() {
    let mut cluster = Cluster::new(zones(&["a", "b", "c"], 2));
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 1, true));
    let placed: Vec<_> = (0..6).map(|_| cluster.place(p.clone()).expect("fits")).collect();
    for zone_c in [4, 5] {
        cluster.add_taint(NodeId(zone_c), unreachable_taint());
    }
    for (pod, node) in placed {
        if node.0 >= 4 {
            cluster.set_terminating(pod);
        }
    }
    assert_eq!(
        refusal(&cluster, &p),
        "0/6 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, \
         4 node(s) didn't match pod topology spread constraints."
    );
}

/// TSC, nodeAffinityPolicy (default Honor: "only nodes matching nodeAffinity/
/// nodeSelector are included in the calculations"): a zone the pod may not use is
/// not a domain, so its zero count does not block.
#[test]
fn zones_outside_the_pods_node_affinity_are_not_domains() {
    let mut cluster = Cluster::new(zones(&["a", "b", "c"], 1));
    bind(&mut cluster, pod("w1", "web", 100, 64), "a1");
    bind(&mut cluster, pod("w2", "web", 100, 64), "b1");
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 1, true));
    assert_eq!(place(&mut cluster, p.clone()), "c1");
    // Restricted to zones a and b (1 pod each), the pod may go to either.
    let mut restricted = p;
    restricted.scheduling.node_affinity.insert(ZONE_LABEL.into(), vec!["a".into(), "b".into()]);
    assert_eq!(place(&mut cluster, restricted), "a1");
}

/// TSC: ScheduleAnyway "tells the scheduler to still schedule it while prioritizing
/// nodes that minimize the skew" (PodTopologySpread score, weight 2).
#[test]
fn soft_spread_prefers_the_emptier_zone_but_never_blocks() {
    let mut nodes = vec![node("a1", "a", 64.0, 256)];
    nodes.extend([node("b1", "b", 4.0, 8), node("c1", "c", 4.0, 8)]);
    let mut cluster = Cluster::new(nodes);
    let mut p = pod("web", "web", 500, 512);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 1, false));
    assert_eq!(place(&mut cluster, p.clone()), "a1");
    assert_eq!(place(&mut cluster, p.clone()), "b1");
    cluster.set_unschedulable(NodeId(1), true);
    cluster.set_unschedulable(NodeId(2), true);
    assert_eq!(place(&mut cluster, p), "a1");
}

/// TSC: "maxSkew ... must be greater than zero"; given 0 anyway, a self-matching pod
/// fits nowhere (skew 1 > 0) and nothing panics.
#[test]
fn max_skew_zero_refuses_without_panicking() {
    let cluster = Cluster::new(zones(&["a", "b", "c"], 1));
    let mut p = pod("web", "web", 100, 64);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 0, true));
    assert_eq!(
        refusal(&cluster, &p),
        "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints."
    );
}

/// TSC: the pod itself counts only if the selector matches it (filtering.go
/// selfMatchNum): a pod outside the selector may join the fullest zone.
#[test]
fn a_pod_outside_the_selector_adds_no_skew() {
    let mut cluster = Cluster::new(zones(&["a", "b"], 1));
    bind(&mut cluster, pod("w1", "web", 100, 64), "a1");
    bind(&mut cluster, pod("busy", "x", 3000, 64), "b1");
    let mut p = pod("probe", "probe", 100, 64);
    p.scheduling.topology_spread.push(spread("web", ZONE_LABEL, 1, true));
    assert_eq!(place(&mut cluster, p), "a1");
}

// ---------------------------------------------------------------------------------
// Scores
// ---------------------------------------------------------------------------------

/// SCHED / PLUG NodeResourcesFit (LeastAllocated, the default scoring strategy):
/// the node with the larger free share of cpu and memory wins.
#[test]
fn least_allocated_picks_the_emptier_node() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    bind(&mut cluster, pod("busy", "x", 2000, 1024), "a1");
    assert_eq!(place(&mut cluster, pod("p", "y", 100, 64)), "a2");
}

/// PLUG NodeResourcesBalancedAllocation: favours nodes whose cpu and memory shares
/// would be even. Here a1 frees more (LeastAllocated 65 against 62) but is lopsided
/// (balance 84 against 100), so a2 wins.
#[test]
fn balanced_allocation_breaks_a_close_least_allocated_race() {
    let mut cluster = Cluster::new(vec![node("a1", "a", 4.0, 4), node("a2", "a", 4.0, 4)]);
    bind(&mut cluster, pod("cpu-heavy", "x", 1500, 256), "a1");
    bind(&mut cluster, pod("even", "x", 1000, 1024), "a2");
    assert_eq!(place(&mut cluster, pod("p", "y", 500, 512)), "a2");
}

/// IPA, preferred anti-affinity (InterPodAffinity score, weight 2) outweighs the
/// resource scores: the replica avoids the node holding its sibling although that
/// node is emptier.
#[test]
fn preferred_anti_affinity_spreads_replicas() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    bind(&mut cluster, pod("web-0", "web", 100, 128), "a1");
    bind(&mut cluster, pod("other", "x", 1000, 1024), "a2");
    let mut p = pod("web-1", "web", 100, 128);
    p.scheduling.pod_anti_affinity.push(term("web", HOSTNAME_LABEL, false));
    assert_eq!(place(&mut cluster, p.clone()), "a2");
    // Without the preference the emptier node wins.
    assert_eq!(place(&mut cluster, pod("web-2", "web", 100, 128)), "a1");
}

/// IPA, preferred affinity: the pod is drawn to the node of the pod it prefers, even
/// when that node is busier.
#[test]
fn preferred_affinity_attracts() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    bind(&mut cluster, pod("cache", "cache", 1000, 1024), "a2");
    let mut p = pod("web", "web", 100, 128);
    p.scheduling.pod_affinity.push(term("cache", HOSTNAME_LABEL, false));
    assert_eq!(place(&mut cluster, p), "a2");
}

/// IPA is symmetric for scoring too (interpodaffinity/scoring.go processExistingPod):
/// an existing pod's preferred anti-affinity pushes matching newcomers away.
#[test]
fn existing_pods_preferred_anti_affinity_pushes_newcomers_away() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    let mut shy = pod("shy", "shy", 100, 128);
    shy.scheduling.pod_anti_affinity.push(term("web", HOSTNAME_LABEL, false));
    bind(&mut cluster, shy, "a1");
    bind(&mut cluster, pod("other", "x", 1000, 1024), "a2");
    assert_eq!(place(&mut cluster, pod("web", "web", 100, 128)), "a2");
}

/// SCHED: "the kube-scheduler assigns the Pod to the Node with the highest ranking.
/// If there is more than one node with equal scores, kube-scheduler selects one of
/// these at random" — here, deterministically, the first node.
#[test]
fn ties_go_to_the_first_node() {
    let mut cluster = Cluster::new(zones(&["c", "b", "a"], 1));
    assert_eq!(place(&mut cluster, pod("p", "x", 100, 64)), "c1");
    assert_eq!(cluster.schedule(&pod("q", "y", 0, 0)).map(|n| cluster.node(n).name.clone()), Ok("b1".to_string()));
}

/// SCHED: filtering first, scoring second: a node that fails a filter never wins on
/// score (the empty node is tainted).
#[test]
fn a_filtered_node_never_wins_on_score() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    bind(&mut cluster, pod("busy", "x", 3000, 4096), "a2");
    cluster.add_taint(NodeId(0), taint("gpu", None, TaintEffect::NoSchedule));
    assert_eq!(place(&mut cluster, pod("p", "y", 100, 64)), "a2");
}

// ---------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------

/// The message of the scheduler's FitError (pkg/scheduler/framework/types.go):
/// "0/N nodes are available: " then "count reason" entries sorted as strings.
#[test]
fn the_message_lists_reasons_sorted_as_strings() {
    let mut nodes = zones(&["a", "b", "c"], 3);
    let mut cluster = {
        for n in &mut nodes[5..9] {
            n.taints.push(unreachable_taint());
        }
        Cluster::new(nodes)
    };
    let mut web = pod("web", "web", 100, 64);
    web.scheduling.pod_anti_affinity.push(term("web", HOSTNAME_LABEL, true));
    bind(&mut cluster, web.clone(), "a1");
    bind(&mut cluster, web.clone(), "a2");
    for n in ["a3", "b1", "b2"] {
        bind(&mut cluster, pod("hog", "hog", 4000, 64), n);
    }
    assert_eq!(
        refusal(&cluster, &web),
        "0/9 nodes are available: 2 node(s) didn't match pod anti-affinity rules, 3 Insufficient cpu, \
         4 node(s) had untolerated taint {node.kubernetes.io/unreachable: }."
    );
}

/// types.go sorts the "count reason" strings, so "10 ..." comes before "2 ...".
#[test]
fn counts_sort_as_text_not_numbers() {
    let mut nodes = zones(&["a"], 12);
    for n in &mut nodes[10..] {
        n.unschedulable = true;
    }
    let cluster = Cluster::new(nodes);
    let why = cluster.schedule(&pod("p", "x", 8000, 64)).expect_err("too big");
    assert_eq!(why.to_string(), "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable.");
    assert_eq!(why.nodes, 12);
    assert_eq!(why.count("Insufficient cpu"), 10);
}

/// schedule_one.go: with no nodes at all the scheduler says "no nodes available to
/// schedule pods".
#[test]
fn an_empty_cluster_has_its_own_message() {
    let cluster = Cluster::new(Vec::new());
    assert_eq!(refusal(&cluster, &pod("p", "x", 100, 64)), "no nodes available to schedule pods");
}

/// SCHED: scheduling only decides; binding is a separate step.
#[test]
fn schedule_binds_nothing_but_place_does() {
    let mut cluster = Cluster::new(zones(&["a"], 2));
    let p = pod("p", "x", 1000, 64);
    assert_eq!(cluster.schedule(&p), Ok(NodeId(0)));
    assert_eq!(cluster.schedule(&p), Ok(NodeId(0)));
    let (id, node) = cluster.place(p).expect("fits");
    assert_eq!((cluster.node_of(id), cluster.pods_on(node).count()), (NodeId(0), 1));
    assert_eq!(cluster.schedule(&pod("q", "x", 1000, 64)), Ok(NodeId(1)));
}

// ---------------------------------------------------------------------------------
// PodDisruptionBudgets
// ---------------------------------------------------------------------------------

fn web_cluster(replicas: usize) -> (Cluster, Vec<doppel_sched::PodId>) {
    let mut cluster = Cluster::new(zones(&["a", "b"], 2));
    let pods =
        (0..replicas).map(|i| cluster.place(pod(&format!("web-{i}"), "web", 100, 64)).expect("fits").0).collect();
    (cluster, pods)
}

fn pdb(min: Option<IntOrPercent>, max: Option<IntOrPercent>) -> Pdb {
    Pdb {
        name: "web-pdb".into(),
        namespace: "default".into(),
        selector: app("web"),
        min_available: min,
        max_unavailable: max,
    }
}

/// PDB: minAvailable as a count: healthy pods beyond it may be disrupted; an evicted
/// (terminating) pod is no longer healthy (PDBS).
#[test]
fn min_available_count_allows_the_surplus() {
    let (mut cluster, pods) = web_cluster(4);
    let budget = pdb(Some(IntOrPercent::Count(3)), None);
    assert_eq!(cluster.disruptions_allowed(&budget, 4), 1);
    assert_eq!(cluster.can_evict(pods[0], std::slice::from_ref(&budget), |_| 4), Ok(()));
    cluster.set_terminating(pods[0]);
    assert_eq!(cluster.disruptions_allowed(&budget, 4), 0);
}

/// PDB: a percentage of minAvailable is of the expected pods and rounds up
/// (50% of 5 is 3).
#[test]
fn min_available_percent_rounds_up() {
    let (cluster, _) = web_cluster(4);
    let budget = pdb(Some(IntOrPercent::Percent(50.0)), None);
    assert_eq!(cluster.disruptions_allowed(&budget, 5), 1);
    assert_eq!(cluster.pdb_status(&budget, 5).desired_healthy, 3);
}

/// PDB: maxUnavailable as a count and as a percentage (rounded up: 30% of 4 is 2).
#[test]
fn max_unavailable_count_and_percent() {
    let (cluster, _) = web_cluster(4);
    assert_eq!(cluster.disruptions_allowed(&pdb(None, Some(IntOrPercent::Count(1))), 4), 1);
    assert_eq!(cluster.disruptions_allowed(&pdb(None, Some(IntOrPercent::Percent(30.0))), 4), 2);
    // With one replica already missing, the budget is spent.
    assert_eq!(cluster.disruptions_allowed(&pdb(None, Some(IntOrPercent::Count(1))), 5), 0);
}

/// PDB: "A maxUnavailable of 0% or 0 ... is permitted but can block nodes from being
/// drained"; EVICT: the API answers 429 and names the budget.
#[test]
fn a_budget_of_zero_blocks_every_eviction() {
    let (cluster, pods) = web_cluster(3);
    let budgets = [pdb(None, Some(IntOrPercent::Count(0)))];
    for &p in &pods {
        assert_eq!(
            cluster.can_evict(p, &budgets, |_| 3),
            Err("Cannot evict pod as it would violate the pod's disruption budget. \
                 The disruption budget web-pdb needs 3 healthy pods and has 3 currently"
                .to_string())
        );
    }
}

/// EVICT: 500 "when there are multiple PodDisruptionBudgets that refer to the same
/// Pod"; a pod no budget covers is always evictable (200).
#[test]
fn two_budgets_on_one_pod_refuse_and_none_allows() {
    let (mut cluster, pods) = web_cluster(2);
    let mut second = pdb(Some(IntOrPercent::Count(0)), None);
    second.name = "web-pdb-2".into();
    let budgets = [pdb(Some(IntOrPercent::Count(0)), None), second];
    assert_eq!(
        cluster.can_evict(pods[0], &budgets, |_| 2),
        Err("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support. \
             (web-pdb, web-pdb-2)"
            .to_string())
    );
    let (lone, _) = cluster.place(pod("batch", "batch", 100, 64)).expect("fits");
    assert_eq!(cluster.can_evict(lone, &budgets, |_| 2), Ok(()));
}

// ---------------------------------------------------------------------------------
// Cluster autoscaler
// ---------------------------------------------------------------------------------

fn group(name: &str, cpu: f64, mem_gi: u64, max_size: u32, current: u32) -> NodeGroup {
    let mut template = node("template", "a", cpu, mem_gi);
    template.labels = Labels::from_pairs([(ZONE_LABEL, "a"), ("group", name)]);
    NodeGroup { name: name.into(), template, max_size, current, provisioning_s: 90.0 }
}

/// CA: scale-up adds a node "from a node group whose template" fits the pending pod,
/// named here <group>-new-<n> and labelled with its hostname.
#[test]
fn autoscaler_adds_a_node_of_the_group_that_fits() {
    let mut cluster = Cluster::new(vec![node("a1", "a", 2.0, 4)]);
    let mut groups = [group("small", 1.0, 2, 10, 0), group("large", 8.0, 16, 10, 0)];
    let result = autoscale(&mut cluster, &mut groups, vec![pod("job", "job", 3000, 1024)]);
    assert_eq!(result.added.len(), 1);
    let (g, node) = result.added[0];
    assert_eq!((g, cluster.node(node).name.as_str()), (1, "large-new-1"));
    assert_eq!(cluster.node(node).labels.get(HOSTNAME_LABEL), Some("large-new-1"));
    assert_eq!(result.placed, vec![(result.placed[0].0, node)]);
    assert_eq!((groups[0].current, groups[1].current), (0, 1));
}

/// CAX, least-waste: "selects the node group that will have the least idle CPU (if
/// tied, unused memory) after scale-up" — the medium group, although listed second.
#[test]
fn autoscaler_least_waste_picks_the_snuggest_group() {
    let mut cluster = Cluster::new(vec![node("a1", "a", 1.0, 1)]);
    let mut groups = [group("xl", 16.0, 64, 5, 0), group("m", 4.0, 8, 5, 0)];
    let pending = (0..2).map(|i| pod(&format!("w{i}"), "w", 1500, 3072)).collect();
    let result = autoscale(&mut cluster, &mut groups, pending);
    let names: Vec<&str> = result.added.iter().map(|&(_, n)| cluster.node(n).name.as_str()).collect();
    assert_eq!(names, ["m-new-1"]);
    assert_eq!(result.placed.len(), 2);
}

/// CA: a node group never grows past its maximum size; pods left over stay pending
/// with the scheduler's reason.
#[test]
fn autoscaler_respects_max_size() {
    let mut cluster = Cluster::new(vec![node("a1", "a", 1.0, 1)]);
    let mut groups = [group("m", 4.0, 8, 2, 1)];
    let pending = (0..3).map(|i| pod(&format!("w{i}"), "w", 3000, 1024)).collect();
    let result = autoscale(&mut cluster, &mut groups, pending);
    assert_eq!(result.added.len(), 1);
    assert_eq!(groups[0].current, 2);
    assert_eq!(result.placed.len(), 1);
    let reasons: Vec<String> = result.pending.iter().map(|(_, why)| why.to_string()).collect();
    assert_eq!(reasons, vec!["0/2 nodes are available: 2 Insufficient cpu."; 2]);
}

/// CA: "pods that cannot be scheduled on a node of any group" trigger no scale-up.
#[test]
fn autoscaler_adds_nothing_for_a_pod_no_template_fits() {
    let mut cluster = Cluster::new(vec![node("a1", "a", 2.0, 4)]);
    let mut groups = [group("m", 4.0, 8, 10, 0)];
    let result = autoscale(&mut cluster, &mut groups, vec![pod("giant", "g", 64_000, 1024)]);
    assert!(result.added.is_empty());
    assert_eq!(cluster.node_count(), 1);
    assert_eq!(result.pending.len(), 1);
    assert_eq!(result.pending[0].1.to_string(), "0/1 nodes are available: 1 Insufficient cpu.");
}

/// CA: pods that fit existing nodes are placed there; no node is added for them.
#[test]
fn autoscaler_uses_existing_room_first() {
    let mut cluster = Cluster::new(vec![node("a1", "a", 4.0, 8)]);
    let mut groups = [group("m", 4.0, 8, 10, 0)];
    let pending = (0..3).map(|i| pod(&format!("w{i}"), "w", 1000, 1024)).collect();
    let result = autoscale(&mut cluster, &mut groups, pending);
    assert!(result.added.is_empty());
    assert_eq!(result.placed.iter().filter(|(_, n)| *n == NodeId(0)).count(), 3);
}

// ---------------------------------------------------------------------------------
// Property: the filters agree with a plain reading of the rules
// ---------------------------------------------------------------------------------

mod oracle {
    use super::*;
    use proptest::prelude::*;

    /// Whether `pod` may go on node `n` by the hard rules, read directly from the
    /// cluster's public state (no indexes): taints, node selector, resources and pod
    /// slots, hard zone/hostname spread, and both sides of required anti-affinity.
    pub fn allowed(cluster: &Cluster, pod: &SchedPod, n: NodeId) -> bool {
        let node = cluster.node(n);
        let tolerated = |t: &Taint| {
            pod.scheduling.tolerations.iter().any(|tol| {
                tol.effect.is_none_or(|e| e == t.effect)
                    && tol.key.as_deref().is_none_or(|k| k.is_empty() || k == t.key)
                    && (tol.operator == TolerationOperator::Exists
                        || tol.value.as_deref().unwrap_or("") == t.value.as_deref().unwrap_or(""))
            })
        };
        if node.unschedulable
            || node.taints.iter().any(|t| t.effect != TaintEffect::PreferNoSchedule && !tolerated(t))
            || !node.labels.matches(&pod.scheduling.node_selector)
        {
            return false;
        }
        let on = |m: NodeId| cluster.pods_on(m).map(|p| cluster.pod(p)).collect::<Vec<_>>();
        let here = on(n);
        let milli = |c: Cores| (c.0 * 1000.0).round() as i64;
        let used_cpu: i64 = here.iter().map(|p| milli(p.requests.cpu)).sum();
        let used_mem: u64 = here.iter().map(|p| p.requests.memory.0).sum();
        let alloc = node.allocatable;
        if alloc.pods > 0 && here.len() as u32 >= alloc.pods {
            return false;
        }
        let wants_any = milli(pod.requests.cpu) > 0 || pod.requests.memory.0 > 0;
        if wants_any
            && ((milli(pod.requests.cpu) > 0 && milli(pod.requests.cpu) > milli(alloc.cpu) - used_cpu)
                || (pod.requests.memory.0 > 0 && pod.requests.memory.0 + used_mem > alloc.memory.0))
        {
            return false;
        }
        let ids: Vec<NodeId> = cluster.node_ids().collect();
        for c in pod.scheduling.topology_spread.iter().filter(|c| c.hard) {
            let Some(mine) = node.labels.get(&c.topology_key) else { return false };
            let mut counts: std::collections::BTreeMap<&str, i64> = Default::default();
            for &m in &ids {
                let other = cluster.node(m);
                if !other.labels.matches(&pod.scheduling.node_selector) {
                    continue;
                }
                let Some(domain) = other.labels.get(&c.topology_key) else { continue };
                let matching =
                    on(m).iter().filter(|p| p.namespace == pod.namespace && p.labels.matches(&c.selector)).count()
                        as i64;
                *counts.entry(domain).or_default() += matching;
            }
            let min = counts.values().copied().min().unwrap_or(0);
            let this = counts.get(mine).copied().unwrap_or(0);
            if this + i64::from(pod.labels.matches(&c.selector)) - min > i64::from(c.max_skew) {
                return false;
            }
        }
        for &m in &ids {
            let other = cluster.node(m);
            for existing in on(m) {
                let same_domain = |key: &str| node.labels.get(key).is_some_and(|v| other.labels.get(key) == Some(v));
                let mine = pod.scheduling.pod_anti_affinity.iter().filter(|t| t.required).any(|t| {
                    existing.namespace == pod.namespace
                        && existing.labels.matches(&t.selector)
                        && same_domain(&t.topology_key)
                });
                let theirs = existing.scheduling.pod_anti_affinity.iter().filter(|t| t.required).any(|t| {
                    existing.namespace == pod.namespace
                        && pod.labels.matches(&t.selector)
                        && same_domain(&t.topology_key)
                });
                if mine || theirs {
                    return false;
                }
            }
        }
        true
    }

    fn arb_node(i: usize) -> impl Strategy<Value = SchedNode> {
        (0..4usize, 0..9u32, 0..9u64, 0..5u32, 0..5usize, any::<bool>()).prop_map(
            move |(zone, cpu, mem, pods, taint, cordoned)| {
                let name = format!("n{i}");
                let mut labels = vec![(HOSTNAME_LABEL.to_string(), name.clone())];
                if zone < 3 {
                    labels.push((ZONE_LABEL.to_string(), ["a", "b", "c"][zone].to_string()));
                }
                let taints = match taint {
                    0 => vec![taint_of("t", Some("v"), TaintEffect::NoSchedule)],
                    1 => vec![taint_of("t", None, TaintEffect::NoExecute)],
                    2 => vec![taint_of("t", Some("v"), TaintEffect::PreferNoSchedule)],
                    _ => Vec::new(),
                };
                SchedNode {
                    name,
                    labels: Labels::from_pairs(labels),
                    allocatable: Resources {
                        cpu: Cores(f64::from(cpu)),
                        memory: Bytes(mem * GI),
                        pods,
                        ..Resources::default()
                    },
                    taints,
                    unschedulable: cordoned && cpu % 3 == 0,
                }
            },
        )
    }

    fn taint_of(key: &str, value: Option<&str>, effect: TaintEffect) -> Taint {
        taint(key, value, effect)
    }

    fn arb_pod() -> impl Strategy<Value = SchedPod> {
        (0..2usize, 0..3000u32, 0..3000u64, 0..4usize, 0..4usize, 0..5usize, 0..4usize, any::<bool>()).prop_map(
            |(app_i, milli, mem, tol, sel, spread_kind, anti, other_ns)| {
                let name = ["x", "y"][app_i];
                let mut p = pod(name, name, milli, mem);
                if other_ns {
                    p.namespace = "other".into();
                }
                match tol {
                    0 => p.scheduling.tolerations.push(toleration(Some("t"), TolerationOperator::Exists, None, None)),
                    1 => p.scheduling.tolerations.push(toleration(
                        Some("t"),
                        TolerationOperator::Equal,
                        Some("v"),
                        Some(TaintEffect::NoSchedule),
                    )),
                    _ => {}
                }
                if sel == 0 {
                    p.scheduling.node_selector = Labels::from_pairs([(ZONE_LABEL, "a")]);
                }
                match spread_kind {
                    0 => p.scheduling.topology_spread.push(spread(name, ZONE_LABEL, 1, true)),
                    1 => p.scheduling.topology_spread.push(spread("x", HOSTNAME_LABEL, 0, true)),
                    2 => p.scheduling.topology_spread.push(spread(name, ZONE_LABEL, 2, false)),
                    _ => {}
                }
                match anti {
                    0 => p.scheduling.pod_anti_affinity.push(term(name, HOSTNAME_LABEL, true)),
                    1 => p.scheduling.pod_anti_affinity.push(term("x", ZONE_LABEL, true)),
                    2 => p.scheduling.pod_anti_affinity.push(term("y", HOSTNAME_LABEL, false)),
                    _ => {}
                }
                p
            },
        )
    }

    fn arb_case() -> impl Strategy<Value = (Vec<SchedNode>, Vec<SchedPod>)> {
        (1..7usize).prop_flat_map(|n| {
            let nodes: Vec<_> = (0..n).map(arb_node).collect();
            (nodes, proptest::collection::vec(arb_pod(), 1..16))
        })
    }

    proptest! {
        /// Every placed pod satisfies every hard rule on the state it was placed into,
        /// and a refused pod had no node satisfying them; nothing panics.
        #[test]
        fn placement_agrees_with_the_rules((nodes, pods) in arb_case()) {
            let mut cluster = Cluster::new(nodes);
            for pod in pods {
                let allowed: Vec<bool> = cluster.node_ids().map(|n| allowed(&cluster, &pod, n)).collect();
                match cluster.place(pod) {
                    Ok((_, node)) => prop_assert!(allowed[node.0 as usize], "placed on a forbidden node"),
                    Err((_, why)) => {
                        prop_assert!(!allowed.contains(&true), "refused ({why}) but {allowed:?}");
                        let counted: u32 = why.reasons.iter().map(|(_, c)| c).sum();
                        prop_assert!(counted >= why.nodes, "{why}");
                    }
                }
            }
        }
    }
}
