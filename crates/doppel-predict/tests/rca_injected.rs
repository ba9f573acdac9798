//! Root-cause ranking on faults injected in doppel-perf's simulator: a smaller run of the
//! suite `bench/src/bin/rca-eval.rs` runs (see `support/injected.rs`).

#[path = "support/injected.rs"]
mod injected;

use injected::{Kind, Suite, Tally, case};

#[test]
fn injected_faults_are_ranked_first_most_of_the_time() {
    let suite = Suite { seed: 7, window_s: 40.0, replications: 2, rate_rps: (15.0, 40.0) };
    let mut all = Tally::default();
    let mut by_kind = [Tally::default(); 3];
    for i in 0..30 {
        let o = case(&suite, i).unwrap();
        all.add(&o);
        by_kind[Kind::ALL.iter().position(|k| *k == o.kind).unwrap_or(0)].add(&o);
    }
    let report = format!("{all:?} by kind {by_kind:?}");
    assert_eq!(all.cases, 30);
    assert!(all.share(all.top1) >= 0.7, "top-1 {:.2}: {report}", all.share(all.top1));
    assert!(all.share(all.top3) >= 0.85, "top-3 {:.2}: {report}", all.share(all.top3));
    // Every kind is found, not just the easy one.
    for t in &by_kind {
        assert!(t.share(t.top3) >= 0.6, "{report}");
    }
}

#[test]
fn a_network_without_a_fault_gives_no_strong_candidate() {
    // The same network in both windows: only noise differs, so nothing should stand out.
    let suite = Suite { seed: 11, window_s: 40.0, replications: 2, rate_rps: (15.0, 40.0) };
    let mut rng = injected::Rng::new(3);
    let net = injected::network(&mut rng, 30.0);
    let base = injected::window(&net, &suite, 1).unwrap();
    let again = injected::window(&net, &suite, 2).unwrap();
    let (graph, evidence, symptoms) = injected::evidence(&net, &base, &again, &suite);
    assert!(symptoms.is_empty(), "{symptoms:?}");
    let ranked = doppel_predict::rca::rank(&graph, &symptoms, &evidence).unwrap();
    assert!(ranked.iter().all(|c| c.score < 0.5), "{ranked:?}");
}
