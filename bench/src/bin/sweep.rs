//! The N-1 sweep at scale: generates an estate, applies it to a twin, and times the
//! topology, the failure graph, the graph part of the sweep (killer sets and cuts, median of
//! several runs) and the whole sweep without engine runs. Writes the failure graph and
//! Doppel's answer for the peer (`bench/peers/networkx_sweep.py`) to check against.
//!
//! `cargo run --release -p doppel-bench --bin sweep -- [--services N] [--runs R] [--out DIR]`
//! prints one JSON object.
//!
//! With `--paired` it instead prints that object (without the run times) as soon as the files
//! are written, then reads run counts from stdin, one per line: for each count R it times R
//! runs of the graph part and prints `{"runs_s": [...]}` on one line, until stdin closes.
//! `bench/paired_sweep.py` drives it so, in turns with the peer in one process.
//!
//! `DIR/failgraph.txt` has one line per component, tab-separated:
//! `index  name  class  k  inputs`, where `k` is 0 for a component that needs all of its
//! inputs and k for one that needs at least k of them, and `inputs` is a space-separated list
//! of the indices it needs (possibly empty). Lines starting with `#` are comments. Classes
//! `failover`, `standby`, `endpoint` and `entry` are derived gates, which do not fail on their
//! own; every other class is failable, and `entry` components are the entry points.
//!
//! `DIR/answer.txt` has, per failable component, `index  down` (how many components its
//! failure alone takes down, itself included), then `pairs P` (the sum of `down`: every
//! (failure, component down) pair) and `entry_pairs E` (every (failure, entry point cut off)
//! pair). Components down before anything fails count for nothing.
//!
//! With `SWEEP_REPORT=PATH` in the environment it also writes the sweep's report as JSON, to
//! compare two versions of the sweep on the same estate.

use doppel_bench::estate_changeset;
use doppel_model::{Twin, TwinView};
use doppel_perf::UtilisationLaw;
use doppel_resilience::Topology;
use doppel_resilience::failgraph::{FailGraph, Gate};
use doppel_resilience::sweep::{Cuts, SweepOptions, cuts, sweep};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// About 100,000 entities with seed 42 (the generator makes about 11.1 per service at this size).
const DEFAULT_SERVICES: usize = 9005;

fn main() {
    let mut services = DEFAULT_SERVICES;
    let mut runs = 21usize;
    let mut out = PathBuf::from("bench/out");
    let mut paired = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--services" => services = value().parse().expect("--services N"),
            "--runs" => runs = value().parse::<usize>().expect("--runs R").max(1),
            "--out" => out = PathBuf::from(value()),
            "--paired" => paired = true,
            other => panic!("unknown argument {other}; see the doc comment of bench/src/bin/sweep.rs"),
        }
    }
    std::fs::create_dir_all(&out).expect("output directory");

    let mut twin = Twin::new();
    twin.apply(&estate_changeset(services, 42)).expect("generated estates are valid");
    let entities = twin.entity_count();
    eprintln!("sweep: {services} services, {entities} entities");

    let t = Instant::now();
    let topo = Topology::build(&twin);
    let topology_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let g = FailGraph::build(&topo);
    let failgraph_s = t.elapsed().as_secs_f64();

    let options = SweepOptions { verify: Some(0), ..SweepOptions::default() };
    let t = Instant::now();
    let report = sweep(&twin, &topo, &options, &UtilisationLaw, &|_, _| {});
    let sweep_s = t.elapsed().as_secs_f64();
    if let Ok(path) = std::env::var("SWEEP_REPORT") {
        std::fs::write(path, serde_json::to_string_pretty(&report).expect("report as JSON")).expect("write the report");
    }

    let sets = g.killer_sets();
    let (pairs, entry_pairs) = write_answer(&g, &cuts(&g, &sets), &out.join("answer.txt"));
    write_graph(&g, &out.join("failgraph.txt"));
    let failable = g.comps().iter().filter(|c| c.class.failable()).count();
    let mut summary = serde_json::json!({
        "services": services,
        "entities": entities,
        "relations": twin.relation_count(),
        "components": g.len(),
        "edges": g.edges(),
        "failable": failable,
        "entries": g.entry.len(),
        "pairs": pairs,
        "listed_members": sets.listed(),
        "unions": sets.unions.total,
        "unions_marked": sets.unions.marked,
        "helped": sets.helped,
        "entry_pairs": entry_pairs,
        "topology_s": topology_s,
        "failgraph_s": failgraph_s,
        "sweep_s": sweep_s,
        "sweep_swept": report.swept,
        "sweep_singles": report.singles.len(),
        "sweep_spofs": report.spofs.len(),
        "sweep_gaps": report.gaps.len(),
    });
    drop(sets);

    if paired {
        println!("{summary}");
        for line in std::io::stdin().lines() {
            let line = line.expect("read a run count");
            let count: usize = line.trim().parse().unwrap_or_else(|_| panic!("expected a run count, got {line:?}"));
            let times: Vec<f64> = (0..count).map(|_| graph_part(&g).0).collect();
            println!("{}", serde_json::json!({ "runs_s": times }));
        }
        return;
    }

    // The graph part: killer sets, then what each failure cuts off. Median of `runs`.
    let (mut killer_runs, mut cuts_runs, mut graph_runs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (total, killer_s, cuts_s) = graph_part(&g);
        graph_runs.push(total);
        killer_runs.push(killer_s);
        cuts_runs.push(cuts_s);
    }
    summary["killer_sets_s"] = median(&killer_runs).into();
    summary["cuts_s"] = median(&cuts_runs).into();
    summary["graph_part_s"] = median(&graph_runs).into();
    summary["graph_part_runs_s"] = graph_runs.into();
    println!("{summary}");
}

/// One timed run of the graph part: (killer sets and cuts, killer sets, cuts), in seconds.
fn graph_part(g: &FailGraph) -> (f64, f64, f64) {
    let t = Instant::now();
    let k = g.killer_sets();
    let killer_s = t.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let c = cuts(g, &k);
    let cuts_s = t2.elapsed().as_secs_f64();
    let total = t.elapsed().as_secs_f64();
    drop((k, c));
    (total, killer_s, cuts_s)
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The class as the failure graph's serde name (`load_balancer`, `failover`, ...).
fn class_name(g: &FailGraph, c: usize) -> String {
    serde_json::to_value(g.comps()[c].class).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn write_graph(g: &FailGraph, path: &std::path::Path) {
    let mut text = String::with_capacity(g.len() * 64);
    text.push_str("# doppel failure graph: index<TAB>name<TAB>class<TAB>k (0 = needs all inputs)<TAB>inputs\n");
    for c in 0..g.len() {
        let k = match g.comps()[c].gate {
            Gate::All => 0,
            Gate::AtLeast(k) => k,
        };
        let _ = write!(text, "{c}\t{}\t{}\t{k}\t", g.comps()[c].name, class_name(g, c));
        for (j, i) in g.inputs(c as u32).iter().enumerate() {
            if j > 0 {
                text.push(' ');
            }
            let _ = write!(text, "{i}");
        }
        text.push('\n');
    }
    std::fs::write(path, text).expect("write the failure graph");
}

/// Writes the checksum and returns (pairs, entry pairs).
fn write_answer(g: &FailGraph, answer: &Cuts, path: &std::path::Path) -> (u64, u64) {
    let mut text = String::new();
    text.push_str("# per failable component: index<TAB>components its failure takes down\n");
    let (mut pairs, mut entry_pairs) = (0u64, 0u64);
    for c in (0..g.len()).filter(|&c| g.comps()[c].class.failable()) {
        let _ = writeln!(text, "{c}\t{}", answer.down[c]);
        pairs += u64::from(answer.down[c]);
        entry_pairs += answer.entries(c).len() as u64;
    }
    let _ = writeln!(text, "pairs\t{pairs}\nentry_pairs\t{entry_pairs}");
    std::fs::write(path, text).expect("write the answer");
    (pairs, entry_pairs)
}
