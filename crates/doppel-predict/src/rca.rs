//! Root cause: for a set of symptoms (anomalous entry points), candidates ranked by the
//! dependency graph, anomaly scores and model residuals per service and per call.
//!
//! Faults travel up the call graph: a slow service slows its callers, a failing one fails
//! its hard callers, and a caller's own telemetry then looks anomalous too. So a node is a
//! likely root when its own evidence is strong (its self-time or utilisation beyond what
//! the model expects, errors of its own) and is not explained by what it calls: a node
//! whose callees look healthy, on the paths from the symptoms, reached from as many of them
//! as possible. Ties go to the deeper node.

use std::collections::VecDeque;

use crate::PredictError;

/// A call graph: services (or endpoints) and who calls whom.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Node names, for reports.
    pub nodes: Vec<String>,
    /// Calls as `(caller, callee)` indices into `nodes`.
    pub calls: Vec<(usize, usize)>,
}

/// What was observed of each node and call. NaN anywhere is "no evidence".
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Per node: how anomalous its telemetry is against its own past, 0 to 1.
    pub anomaly: Vec<f64>,
    /// Per node: `ln(observed / expected)` of its self-time (its own wait and work, calls
    /// excluded) at the observed load, 0 inside the model's band.
    pub residual: Vec<f64>,
    /// Per call (in `Graph::calls` order): `ln(observed / expected)` of the call's latency
    /// as its caller sees it, 0 inside the model's band.
    pub edge_residual: Vec<f64>,
    /// Per node: share of its requests that fail (errors, drops, its callers' timeouts)
    /// beyond what the model expects, 0 to 1.
    pub errors: Vec<f64>,
    /// Per node: `ln(observed / expected)` of its utilisation at the observed load, 0
    /// inside the model's band.
    pub utilisation: Vec<f64>,
}

impl Evidence {
    /// No evidence at all (every value NaN) for `nodes` nodes and `calls` calls.
    pub fn new(nodes: usize, calls: usize) -> Evidence {
        Evidence {
            anomaly: vec![f64::NAN; nodes],
            residual: vec![f64::NAN; nodes],
            edge_residual: vec![f64::NAN; calls],
            errors: vec![f64::NAN; nodes],
            utilisation: vec![f64::NAN; nodes],
        }
    }
}

/// The kind of fault a candidate most looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Its own work got slower (self-time up about as much as its busy time).
    Latency,
    /// It fails requests itself.
    Errors,
    /// It lost servers: busy share up more than its self-time.
    Capacity,
    /// Anomalous, but no residual says how.
    Unknown,
}

/// One root-cause candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The node.
    pub node: usize,
    /// How likely it is the root, 0 to 1 (comparable within one ranking only).
    pub score: f64,
    /// What kind of fault it looks like.
    pub fault: Fault,
    /// Nodes from a symptom down to it (the symptom first, the node last).
    pub path: Vec<usize>,
    /// Share of the symptoms whose calls reach it.
    pub coverage: f64,
}

/// Evidence strengths below these are noise: a residual of `ln 1.1`, 0.5% errors.
const RESIDUAL_FLOOR: f64 = 0.095;
const RESIDUAL_SCALE: f64 = 0.3;
const ERROR_FLOOR: f64 = 0.005;
const ERROR_SCALE: f64 = 0.03;

/// 0 at or below `floor`, rising to 1 with `scale`; NaN counts as 0.
fn strength(x: f64, floor: f64, scale: f64) -> f64 {
    if x.is_nan() || x <= floor { 0.0 } else { 1.0 - (-(x - floor) / scale).exp() }
}

/// Candidates for the root cause of `symptoms`, best first: every node that the
/// symptoms' calls reach (the symptoms included) with any evidence. With no symptoms,
/// every node is a candidate. Refuses evidence of the wrong length, indices out of range,
/// and values outside their ranges (NaN is no evidence, never an error).
pub fn rank(graph: &Graph, symptoms: &[usize], evidence: &Evidence) -> Result<Vec<Candidate>, PredictError> {
    check(graph, symptoms, evidence)?;
    let n = graph.nodes.len();
    let mut callees: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    let mut callers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(from, to)) in graph.calls.iter().enumerate() {
        if from != to {
            callees[from].push((to, i));
            callers[to].push(from);
        }
    }

    // What each node shows by itself.
    let lat: Vec<f64> = evidence.residual.iter().map(|&r| strength(r, RESIDUAL_FLOOR, RESIDUAL_SCALE)).collect();
    let util: Vec<f64> = evidence.utilisation.iter().map(|&u| strength(u, RESIDUAL_FLOOR, RESIDUAL_SCALE)).collect();
    let err: Vec<f64> = evidence.errors.iter().map(|&e| strength(e, ERROR_FLOOR, ERROR_SCALE)).collect();
    let anomaly: Vec<f64> = evidence.anomaly.iter().map(|&a| if a.is_nan() { 0.0 } else { a }).collect();
    let edge: Vec<f64> = evidence.edge_residual.iter().map(|&r| strength(r, RESIDUAL_FLOOR, RESIDUAL_SCALE)).collect();

    // What its callees explain: errors by failing callees, its anomaly by anything wrong
    // below it (a callee's own evidence, its anomaly, or the call itself being slow).
    let mut own = vec![0.0; n];
    for v in 0..n {
        let below_err = callees[v].iter().map(|&(c, _)| err[c]).fold(0.0, f64::max);
        let below_any = callees[v]
            .iter()
            .map(|&(c, i)| lat[c].max(util[c]).max(err[c]).max(anomaly[c]).max(edge[i]))
            .fold(0.0, f64::max);
        let errors = err[v] * (1.0 - below_err);
        let unexplained = anomaly[v] * (1.0 - below_any);
        own[v] = lat[v].max(util[v]).max(errors).max(0.5 * unexplained);
    }

    // Which symptoms reach each node, and how deep (calls from the nearest symptom).
    let all: Vec<usize> = (0..n).collect();
    let starts: &[usize] = if symptoms.is_empty() { &all } else { symptoms };
    let mut reached = vec![0usize; n];
    let mut depth = vec![usize::MAX; n];
    let mut seen = vec![usize::MAX; n];
    let mut queue = VecDeque::new();
    for (k, &s) in starts.iter().enumerate() {
        if seen[s] == k {
            continue;
        }
        seen[s] = k;
        queue.push_back((s, 0usize));
        while let Some((v, d)) = queue.pop_front() {
            reached[v] += 1;
            if d < depth[v] {
                depth[v] = d;
            }
            for &(c, _) in &callees[v] {
                if seen[c] != k {
                    seen[c] = k;
                    queue.push_back((c, d + 1));
                }
            }
        }
    }
    // Parents from a breadth-first walk from all symptoms at once, for the shortest paths.
    let mut parent = vec![usize::MAX; n];
    let mut dist = vec![usize::MAX; n];
    queue.clear();
    for &s in starts {
        if dist[s] == usize::MAX {
            dist[s] = 0;
            queue.push_back((s, 0));
        }
    }
    while let Some((v, d)) = queue.pop_front() {
        for &(c, _) in &callees[v] {
            if dist[c] == usize::MAX {
                dist[c] = d + 1;
                parent[c] = v;
                queue.push_back((c, d + 1));
            }
        }
    }

    let total = starts.len().max(1) as f64;
    let mut out: Vec<Candidate> = (0..n)
        .filter(|&v| reached[v] > 0 && own[v] > 0.0)
        .map(|v| {
            let coverage = reached[v] as f64 / total;
            let score = own[v] * (0.25 + 0.75 * coverage);
            let mut path = vec![v];
            while parent[*path.last().unwrap_or(&v)] != usize::MAX {
                path.push(parent[*path.last().unwrap_or(&v)]);
            }
            path.reverse();
            let fault =
                guess(evidence, v, err[v] * (1.0 - callees[v].iter().map(|&(c, _)| err[c]).fold(0.0, f64::max)));
            Candidate { node: v, score, fault, path, coverage }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(depth[b.node].cmp(&depth[a.node])).then(a.node.cmp(&b.node)));
    // Near-ties (within 2%) go to the deeper node: a caller seldom shows as much as its callee.
    for i in 1..out.len() {
        let mut j = i;
        while j > 0 && out[j].score >= out[j - 1].score * 0.98 && depth[out[j].node] > depth[out[j - 1].node] {
            out.swap(j, j - 1);
            j -= 1;
        }
    }
    Ok(out)
}

/// The kind of fault node `v`'s own evidence points at; `errors` is its unexplained error strength.
fn guess(evidence: &Evidence, v: usize, errors: f64) -> Fault {
    let zero_nan = |x: f64| if x.is_nan() { 0.0 } else { x.max(0.0) };
    let (residual, util) = (zero_nan(evidence.residual[v]), zero_nan(evidence.utilisation[v]));
    let slow = strength(residual, RESIDUAL_FLOOR, RESIDUAL_SCALE).max(strength(util, RESIDUAL_FLOOR, RESIDUAL_SCALE));
    if errors > 0.0 && errors >= slow {
        Fault::Errors
    } else if slow == 0.0 {
        Fault::Unknown
    } else if util > residual * 1.25 {
        // Busy share up more than self-time: the same work on fewer servers.
        Fault::Capacity
    } else {
        Fault::Latency
    }
}

fn check(graph: &Graph, symptoms: &[usize], evidence: &Evidence) -> Result<(), PredictError> {
    let n = graph.nodes.len();
    let invalid = |m: String| Err(PredictError::Invalid(m));
    if let Some((i, &(a, b))) = graph.calls.iter().enumerate().find(|(_, (a, b))| *a >= n || *b >= n) {
        return invalid(format!("call {i} ({a} -> {b}) names a node beyond the {n} there are"));
    }
    if let Some(&s) = symptoms.iter().find(|&&s| s >= n) {
        return invalid(format!("symptom {s} names a node beyond the {n} there are"));
    }
    let per_node = [
        ("anomaly", &evidence.anomaly),
        ("residual", &evidence.residual),
        ("errors", &evidence.errors),
        ("utilisation", &evidence.utilisation),
    ];
    for (name, values) in per_node {
        if values.len() != n {
            return invalid(format!("{} {name} values for {n} nodes", values.len()));
        }
    }
    if evidence.edge_residual.len() != graph.calls.len() {
        return invalid(format!("{} edge residuals for {} calls", evidence.edge_residual.len(), graph.calls.len()));
    }
    let bounded = [("anomaly", &evidence.anomaly), ("errors", &evidence.errors)];
    for (name, values) in bounded {
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_nan() && !(0.0..=1.0).contains(*v)) {
            return invalid(format!("{name} of node {i} ({}) is {v}: expected 0 to 1", graph.nodes[i]));
        }
    }
    let logs = [
        ("residual", &evidence.residual),
        ("utilisation", &evidence.utilisation),
        ("edge residual", &evidence.edge_residual),
    ];
    for (name, values) in logs {
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| v.is_infinite()) {
            return invalid(format!("{name} {i} is {v}: expected a finite log ratio (or NaN for none)"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// front -> cart -> db, front -> search; cart -> cache.
    fn shop() -> Graph {
        Graph {
            nodes: ["front", "cart", "db", "search", "cache"].iter().map(|s| s.to_string()).collect(),
            calls: vec![(0, 1), (1, 2), (0, 3), (1, 4)],
        }
    }

    fn healthy(g: &Graph) -> Evidence {
        let n = g.nodes.len();
        Evidence {
            anomaly: vec![0.0; n],
            residual: vec![0.0; n],
            edge_residual: vec![0.0; g.calls.len()],
            errors: vec![0.0; n],
            utilisation: vec![0.0; n],
        }
    }

    #[test]
    fn a_slow_leaf_beats_its_slowed_callers() {
        let g = shop();
        let mut e = healthy(&g);
        // db self-time 3x; everyone above it looks anomalous, the calls into it slow.
        e.residual[2] = 3f64.ln();
        e.utilisation[2] = 3f64.ln();
        e.anomaly = vec![0.9, 0.95, 0.9, 0.0, 0.0];
        e.edge_residual[0] = 1.0;
        e.edge_residual[1] = 1.1;
        let r = rank(&g, &[0], &e).unwrap();
        assert_eq!(r[0].node, 2, "{r:?}");
        assert_eq!(r[0].fault, Fault::Latency);
        assert_eq!(r[0].path, vec![0, 1, 2]);
        assert!(r[0].score > 2.0 * r.get(1).map_or(0.0, |c| c.score), "{r:?}");
    }

    #[test]
    fn errors_are_blamed_on_the_deepest_failing_node() {
        let g = shop();
        let mut e = healthy(&g);
        // cache fails 20%; cart and front fail as much through hard calls.
        e.errors = vec![0.2, 0.2, 0.0, 0.0, 0.2];
        e.anomaly = vec![1.0, 1.0, 0.0, 0.0, 1.0];
        let r = rank(&g, &[0], &e).unwrap();
        assert_eq!((r[0].node, r[0].fault), (4, Fault::Errors), "{r:?}");
        assert_eq!(r[0].path, vec![0, 1, 4]);
    }

    #[test]
    fn lost_capacity_shows_as_busy_more_than_slow() {
        let g = shop();
        let mut e = healthy(&g);
        e.utilisation[3] = 2f64.ln();
        e.residual[3] = 0.3;
        e.anomaly[0] = 0.7;
        let r = rank(&g, &[0], &e).unwrap();
        assert_eq!((r[0].node, r[0].fault), (3, Fault::Capacity), "{r:?}");
    }

    #[test]
    fn only_what_the_symptoms_reach_is_a_candidate() {
        let g = shop();
        let mut e = healthy(&g);
        e.residual[3] = 1.0; // search is slow, but the symptom is cart's
        e.residual[2] = 0.5;
        let r = rank(&g, &[1], &e).unwrap();
        assert!(r.iter().all(|c| [1, 2, 4].contains(&c.node)), "{r:?}");
        assert_eq!(r[0].node, 2);
        // With no symptoms, everything is looked at.
        let r = rank(&g, &[], &e).unwrap();
        assert_eq!(r[0].node, 3);
    }

    #[test]
    fn a_node_reached_by_more_symptoms_wins() {
        // Two entries a and b; a calls x, b calls y, both call z. z and x are slowed as much.
        let g = Graph {
            nodes: ["a", "b", "x", "y", "z"].iter().map(|s| s.to_string()).collect(),
            calls: vec![(0, 2), (1, 3), (0, 4), (1, 4)],
        };
        let mut e = healthy(&g);
        e.residual[2] = 1.0;
        e.residual[4] = 1.0;
        let r = rank(&g, &[0, 1], &e).unwrap();
        assert_eq!(r[0].node, 4);
        assert_eq!(r[0].coverage, 1.0);
        assert_eq!(r[1].coverage, 0.5);
    }

    #[test]
    fn nan_is_no_evidence_and_healthy_is_no_candidate() {
        let g = shop();
        assert!(rank(&g, &[0], &Evidence::new(5, 4)).unwrap().is_empty());
        assert!(rank(&g, &[0], &healthy(&g)).unwrap().is_empty());
    }

    #[test]
    fn bad_input_is_refused() {
        let g = shop();
        let e = healthy(&g);
        let err = |g: &Graph, s: &[usize], e: &Evidence| rank(g, s, e).unwrap_err().to_string();
        assert!(err(&g, &[7], &e).contains("symptom 7"));
        let mut bad = g.clone();
        bad.calls.push((0, 9));
        assert!(err(&bad, &[0], &e).contains("call 4 (0 -> 9)"));
        let mut short = e.clone();
        short.anomaly.pop();
        assert!(err(&g, &[0], &short).contains("4 anomaly values for 5 nodes"));
        let mut edges = e.clone();
        edges.edge_residual.push(0.0);
        assert!(err(&g, &[0], &edges).contains("5 edge residuals for 4 calls"));
        let mut range = e.clone();
        range.anomaly[1] = 1.5;
        assert!(err(&g, &[0], &range).contains("anomaly of node 1 (cart) is 1.5"));
        let mut inf = e;
        inf.residual[0] = f64::INFINITY;
        assert!(err(&g, &[0], &inf).contains("residual 0 is inf"));
    }

    #[test]
    fn cycles_and_self_calls_do_not_hang() {
        let g = Graph { nodes: vec!["a".into(), "b".into()], calls: vec![(0, 1), (1, 0), (1, 1)] };
        let mut e = Evidence::new(2, 3);
        e.residual[1] = 1.0;
        let r = rank(&g, &[0], &e).unwrap();
        assert_eq!(r[0].node, 1);
        assert_eq!(r[0].path, vec![0, 1]);
    }
}
