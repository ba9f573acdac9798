//! The placement as first written, kept for tests: every node filtered one by one,
//! every feasible node scored, nothing cached. The faster paths must agree with it on
//! every decision.

use super::{PodQuery, Unschedulable, at, pick, tabulate};
use crate::fit::{balanced_allocation, least_allocated};
use crate::intern::{MISSING, subset};
use crate::{Cluster, NodeId, PREFER_TAINTS};
use doppel_model::spec::TaintEffect;

impl Cluster {
    /// Filters every node, then scores the survivors; the best wins, ties to the first.
    pub(crate) fn decide_plainly(&self, q: &PodQuery) -> Result<NodeId, Unschedulable> {
        let n = self.nodes.len();
        if n == 0 {
            return Err(Unschedulable::default());
        }
        let node_rules = self.node_rule_verdicts(q);
        let node_rules = node_rules.as_deref();
        let (feasible, tally) = self.filter_all(q, node_rules);
        match feasible.len() {
            0 => Err(tally.finish(n, &self.syms)),
            1 => Ok(NodeId(feasible[0])),
            _ => Ok(NodeId(self.best_plainly(q, &feasible, node_rules))),
        }
    }

    fn best_plainly(&self, q: &PodQuery, feasible: &[u32], node_rules: Option<&[bool]>) -> u32 {
        let hot = |i: u32| &self.hot[i as usize];
        let mut total: Vec<i64> =
            feasible.iter().map(|&i| least_allocated(hot(i), &q.req) + balanced_allocation(hot(i), &q.req)).collect();
        // TaintToleration (weight 3), when some feasible node has a PreferNoSchedule taint.
        if feasible.iter().any(|&i| hot(i).flags & PREFER_TAINTS != 0) {
            let raw: Vec<i64> = feasible
                .iter()
                .map(|&i| {
                    let taints = &self.nodes[i as usize].taints;
                    taints.iter().filter(|t| t.effect == TaintEffect::PreferNoSchedule && !q.tolerates(t)).count()
                        as i64
                })
                .collect();
            let max = raw.iter().copied().max().unwrap_or(0);
            let scores = tabulate(&raw, 0, max, |r| if max == 0 { 100 } else { 100 - 100 * r / max });
            for (t, s) in total.iter_mut().zip(scores) {
                *t += 3 * s;
            }
        }
        if !q.soft.is_empty() {
            for (t, s) in total.iter_mut().zip(self.spread_scores(q, feasible, node_rules)) {
                *t += 2 * s;
            }
        }
        if let Some(scores) = self.inter_pod_scores_plainly(q, feasible) {
            for (t, s) in total.iter_mut().zip(scores) {
                *t += 2 * s;
            }
        }
        let best = (0..feasible.len()).max_by_key(|&j| (total[j], std::cmp::Reverse(j))).unwrap_or(0);
        feasible[best]
    }

    fn inter_pod_scores_plainly(&self, q: &PodQuery, feasible: &[u32]) -> Option<Vec<i64>> {
        let mut parts = Vec::new();
        let own = q.pref_affinity.iter().map(|t| (t, 1)).chain(q.pref_anti.iter().map(|t| (t, -1)));
        for (term, sign) in own {
            let Some(key) = self.key_index(term.key) else { continue };
            let (sums, total) = pick(self.domains(q.ns, &term.selector, key), false);
            if total > 0 {
                parts.push((&self.keys[key].domain, sums.into_owned(), sign));
            }
        }
        for c in &self.carriers {
            let Some(sign) = c.kind.score_sign() else { continue };
            if c.domain_total > 0
                && c.ns == q.ns
                && subset(&c.selector, &q.labels)
                && let Some(key) = c.key_index
            {
                parts.push((&self.keys[key].domain, c.per_domain.clone(), sign));
            }
        }
        if parts.is_empty() {
            return None;
        }
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&i| {
                let part = |(domain, sums, sign): &(&Vec<u32>, Vec<i64>, i64)| {
                    let d = domain[i as usize];
                    if d == MISSING { 0 } else { sign * at(sums, d) }
                };
                parts.iter().map(part).sum()
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

#[cfg(test)]
mod tests {
    use crate::{
        Cluster, HOSTNAME_LABEL, NodeId, PodId, SchedNode, SchedPod, UNREACHABLE_TAINT, ZONE_LABEL, unreachable_taint,
    };
    use doppel_model::spec::{
        AffinityTerm, Resources, Scheduling, Taint, TaintEffect, Toleration, TolerationOperator, TopologySpread,
    };
    use doppel_model::{Bytes, Cores, Labels};

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len() as u64) as usize]
        }
    }

    const GI: u64 = 1 << 30;
    const KEYS: [&str; 4] = [HOSTNAME_LABEL, ZONE_LABEL, "pool", "rack"];

    /// A node with a zone (usually), a pool (half the time), a rack shared by three
    /// nodes (many racks: no set per domain is kept for them), a hostname (now and then
    /// none, or one another node has too), taints of every effect, and assorted sizes.
    fn node(r: &mut Rng, i: usize, zones: u64) -> SchedNode {
        let name = format!("n{i:04}");
        let mut labels = vec![("rack".to_string(), format!("r{}", i / 3))];
        match r.below(100) {
            0..3 => labels.push((HOSTNAME_LABEL.to_string(), format!("n{:04}", i / 2))),
            3..6 => {}
            _ => labels.push((HOSTNAME_LABEL.to_string(), name.clone())),
        }
        if !r.chance(5) {
            labels.push((ZONE_LABEL.to_string(), format!("z{}", r.below(zones))));
        }
        if r.chance(50) {
            labels.push(("pool".to_string(), format!("p{}", r.below(3))));
        }
        let mut taints = Vec::new();
        if r.chance(8) {
            let value = Some(r.pick(&["a", "b"]).to_string());
            taints.push(Taint { key: "dedicated".into(), value, effect: TaintEffect::NoSchedule });
        }
        if r.chance(15) {
            taints.push(Taint { key: "spot".into(), value: None, effect: TaintEffect::PreferNoSchedule });
        }
        if r.chance(6) {
            taints.push(Taint { key: "old".into(), value: Some("x".into()), effect: TaintEffect::PreferNoSchedule });
        }
        SchedNode {
            name,
            labels: Labels::from_pairs(labels),
            allocatable: Resources {
                cpu: Cores([0.0, 2.0, 4.0, 16.0, 3.5][r.below(5) as usize]),
                memory: Bytes([0, 4 * GI, 16 * GI, 64 * GI, 3_000_000_000][r.below(5) as usize]),
                ephemeral_storage: Bytes(if r.chance(85) { 100 * GI } else { 0 }),
                pods: [0, 4, 20, 110][r.below(4) as usize],
            },
            taints,
            unschedulable: r.chance(3),
        }
    }

    /// A pod of one of a few apps with any mix of the rules the scheduler knows.
    fn pod(r: &mut Rng, i: usize, apps: u64) -> SchedPod {
        let app = format!("a{}", r.below(apps));
        let other = format!("a{}", r.below(apps));
        let selector = |r: &mut Rng| Labels::from_pairs([("app", if r.chance(60) { &app } else { &other })]);
        let key = |r: &mut Rng| r.pick(&[KEYS[0], KEYS[0], KEYS[1], KEYS[1], KEYS[2], KEYS[3], "nowhere"]).to_string();
        let mut rules = Scheduling::default();
        if r.chance(12) {
            rules.node_selector = Labels::from_pairs([("pool", format!("p{}", r.below(3)))]);
        }
        if r.chance(6) {
            rules.node_affinity.insert(ZONE_LABEL.into(), vec!["z0".into(), "z1".into()]);
        }
        let tolerations = [
            Toleration { key: Some("dedicated".into()), operator: TolerationOperator::Exists, ..Default::default() },
            Toleration {
                key: Some("spot".into()),
                operator: TolerationOperator::Exists,
                effect: Some(TaintEffect::PreferNoSchedule),
                ..Default::default()
            },
            Toleration {
                key: Some(UNREACHABLE_TAINT.into()),
                operator: TolerationOperator::Exists,
                ..Default::default()
            },
            Toleration { key: None, operator: TolerationOperator::Exists, ..Default::default() },
        ];
        for (toleration, chance) in tolerations.into_iter().zip([15, 20, 5, 2]) {
            if r.chance(chance) {
                rules.tolerations.push(toleration);
            }
        }
        for _ in 0..r.below(3) {
            let max_skew = r.below(3) as u32 + u32::from(r.chance(90));
            let spread = TopologySpread { max_skew, topology_key: key(r), hard: r.chance(50), selector: selector(r) };
            rules.topology_spread.push(spread);
        }
        for _ in 0..r.below(4) {
            let term = AffinityTerm { selector: selector(r), topology_key: key(r), required: r.chance(25) };
            if r.chance(40) { rules.pod_affinity.push(term) } else { rules.pod_anti_affinity.push(term) }
        }
        let nothing = r.chance(8);
        let mut labels = vec![("app".to_string(), app.clone())];
        if r.chance(30) {
            labels.push(("tier".into(), "web".into()));
        }
        SchedPod {
            name: format!("p{i}"),
            namespace: if r.chance(20) { "other" } else { "default" }.into(),
            labels: Labels::from_pairs(labels),
            requests: Resources {
                cpu: Cores(if nothing { 0.0 } else { [0.1, 0.25, 0.5, 1.0, 0.333][r.below(5) as usize] }),
                memory: Bytes(if nothing { 0 } else { [1 << 27, 1 << 28, GI, 3 * GI][r.below(4) as usize] }),
                ephemeral_storage: Bytes(if r.chance(10) { GI } else { 0 }),
                pods: 0,
            },
            scheduling: rules,
        }
    }

    /// The plain decision for `pod` on the cluster as it is.
    fn plainly(cluster: &Cluster, pod: &SchedPod) -> Result<NodeId, String> {
        cluster.decide_plainly(&cluster.query_reading(pod)).map_err(|why| why.to_string())
    }

    /// Random clusters and random operations; every placement and every read-only
    /// decision must be the plain one.
    #[test]
    fn every_decision_is_the_plain_one() {
        let mut decisions = [0usize; 2];
        for case in 0..200u64 {
            let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ (case + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let size = [1, 2, 5, 12, 40, 90, 200][r.below(7) as usize];
            let (zones, apps) = (1 + r.below(4), 1 + r.below(5));
            let mut cluster = Cluster::new((0..size).map(|i| node(&mut r, i, zones)).collect());
            let mut bound: Vec<PodId> = Vec::new();
            for step in 0..40 + 2 * size {
                let n = NodeId(r.below(cluster.node_count() as u64) as u32);
                match r.below(100) {
                    0..70 => {
                        let pod = pod(&mut r, step, apps);
                        let expected = plainly(&cluster, &pod);
                        let got = cluster.place(pod).map(|(id, node)| (bound.push(id), node).1);
                        assert_eq!(got.map_err(|(_, why)| why.to_string()), expected, "case {case} step {step}");
                        decisions[usize::from(expected.is_ok())] += 1;
                    }
                    70..78 => {
                        let pod = pod(&mut r, step, apps);
                        let got = cluster.schedule(&pod).map_err(|why| why.to_string());
                        assert_eq!(got, plainly(&cluster, &pod), "case {case} step {step}");
                    }
                    78..84 if !bound.is_empty() => cluster.set_terminating(bound[r.below(bound.len() as u64) as usize]),
                    84..90 if !bound.is_empty() => {
                        let k = r.below(bound.len() as u64) as usize;
                        cluster.remove(bound.swap_remove(k));
                    }
                    90..93 => cluster.add_taint(n, unreachable_taint()),
                    93..95 => cluster.remove_taint(n, UNREACHABLE_TAINT),
                    95..97 => cluster.set_unschedulable(n, r.chance(50)),
                    97 => {
                        let count = cluster.node_count();
                        cluster.add_node(node(&mut r, count, zones));
                    }
                    _ => {
                        let pod = pod(&mut r, step, apps);
                        bound.push(cluster.bind(pod, n));
                    }
                }
            }
        }
        // Both outcomes came up often, so the comparison meant something.
        assert!(decisions.iter().all(|&d| d > 2000), "{decisions:?}");
    }
}
