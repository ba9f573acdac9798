//! Placements per second of `doppel-sched`: pods with requests, a hard zone spread
//! (maxSkew 1) and a preferred hostname anti-affinity, placed one by one into clusters
//! of 100 and 1,000 nodes over three zones, some nodes tainted.
//!
//! `cargo bench -p doppel-bench --bench sched`
//!
//! divan reports each benchmark's time per iteration and, from its item counter, the
//! placements per second (`place_pods`: ten pods per node, into an empty cluster;
//! `schedule_one`: one decision on a cluster already holding ten pods per node).

use divan::counter::ItemsCount;
use doppel_model::spec::{AffinityTerm, Resources, Scheduling, Taint, TaintEffect, TopologySpread};
use doppel_model::{Bytes, Cores, Labels};
use doppel_sched::{Cluster, HOSTNAME_LABEL, SchedNode, SchedPod, ZONE_LABEL};

fn main() {
    for nodes in SIZES {
        let mut cluster = cluster(nodes);
        let pods = workload(PODS_PER_NODE * nodes);
        let started = std::time::Instant::now();
        let pending = pods.into_iter().filter(|p| cluster.place(p.clone()).is_err()).count();
        let seconds = started.elapsed().as_secs_f64();
        let placed = PODS_PER_NODE * nodes - pending;
        eprintln!(
            "{nodes} nodes: placed {placed} pods ({pending} pending) in {:.3} s: {:.0} placements/s",
            seconds,
            (PODS_PER_NODE * nodes) as f64 / seconds
        );
    }
    divan::main();
}

const SIZES: [usize; 2] = [100, 1_000];
const PODS_PER_NODE: usize = 10;
const SERVICES: usize = 40;
const GI: u64 = 1 << 30;
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// Nodes of 16 cores and 64 GiB, round-robin over three zones; one in 25 is dedicated
/// (NoSchedule) and one in 10 is spot (PreferNoSchedule).
fn cluster(nodes: usize) -> Cluster {
    let nodes = (0..nodes)
        .map(|i| {
            let name = format!("node-{i:05}");
            let mut taints = Vec::new();
            if i % 25 == 7 {
                taints.push(Taint {
                    key: "dedicated".into(),
                    value: Some("batch".into()),
                    effect: TaintEffect::NoSchedule,
                });
            }
            if i % 10 == 3 {
                taints.push(Taint { key: "spot".into(), value: None, effect: TaintEffect::PreferNoSchedule });
            }
            SchedNode {
                labels: Labels::from_pairs([
                    (HOSTNAME_LABEL, name.as_str()),
                    (ZONE_LABEL, ZONES[i % 3]),
                    ("node.kubernetes.io/instance-type", "m6i.4xlarge"),
                ]),
                name,
                allocatable: Resources {
                    cpu: Cores(16.0),
                    memory: Bytes(64 * GI),
                    ephemeral_storage: Bytes(100 * GI),
                    pods: 110,
                },
                taints,
                unschedulable: false,
            }
        })
        .collect();
    Cluster::new(nodes)
}

/// Replicas of forty services, interleaved as a rollout of many deployments would
/// arrive: requests from 250m/256Mi to 1 core/2Gi.
fn workload(pods: usize) -> Vec<SchedPod> {
    (0..pods)
        .map(|i| {
            let service = format!("svc-{:02}", i % SERVICES);
            let size = (i % SERVICES % 4) as f64 + 1.0;
            let selector = Labels::from_pairs([("app", service.as_str())]);
            SchedPod {
                name: format!("{service}-{i}"),
                namespace: if i % 2 == 0 { "shop".into() } else { "search".into() },
                labels: Labels::from_pairs([("app", service.as_str()), ("tier", "backend")]),
                requests: Resources {
                    cpu: Cores(0.25 * size),
                    memory: Bytes((size as u64) * 256 * (1 << 20) * 2 - 256 * (1 << 20)),
                    ..Resources::default()
                },
                scheduling: Scheduling {
                    topology_spread: vec![TopologySpread {
                        max_skew: 1,
                        topology_key: ZONE_LABEL.into(),
                        hard: true,
                        selector: selector.clone(),
                    }],
                    pod_anti_affinity: vec![AffinityTerm {
                        selector,
                        topology_key: HOSTNAME_LABEL.into(),
                        required: false,
                    }],
                    ..Scheduling::default()
                },
            }
        })
        .collect()
}

/// Ten pods per node, placed one by one into an empty cluster.
#[divan::bench(args = SIZES, sample_count = 10, sample_size = 1)]
fn place_pods(bencher: divan::Bencher, nodes: usize) {
    let base = cluster(nodes);
    let pods = workload(PODS_PER_NODE * nodes);
    bencher.counter(ItemsCount::new(pods.len())).with_inputs(|| (base.clone(), pods.clone())).bench_local_values(
        |(mut cluster, pods)| {
            for pod in pods {
                let _ = divan::black_box(cluster.place(pod));
            }
            cluster
        },
    );
}

/// One scheduling decision (filter and score, no binding) on a cluster already holding
/// ten pods per node.
#[divan::bench(args = SIZES, sample_count = 100)]
fn schedule_one(bencher: divan::Bencher, nodes: usize) {
    let mut cluster = cluster(nodes);
    for pod in workload(PODS_PER_NODE * nodes) {
        let _ = cluster.place(pod);
    }
    let pod = workload(1).remove(0);
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| cluster.schedule(divan::black_box(&pod)));
}

/// One decision for a pod with requests only (no spread, no affinity), on a cluster
/// already holding ten pods per node: the cost of the filters and scores every pod pays.
#[divan::bench(args = SIZES, sample_count = 100)]
fn schedule_plain(bencher: divan::Bencher, nodes: usize) {
    let mut cluster = cluster(nodes);
    for pod in workload(PODS_PER_NODE * nodes) {
        let _ = cluster.place(pod);
    }
    let mut pod = workload(1).remove(0);
    pod.scheduling = Scheduling::default();
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| cluster.schedule(divan::black_box(&pod)));
}
