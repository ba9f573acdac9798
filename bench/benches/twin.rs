//! Repeated measurements: fork + apply a 10-change scenario, and selector queries, at
//! several estate sizes (to show the fork's cost does not grow with the estate).
//!
//! `cargo bench -p doppel-bench --bench twin`

use doppel_bench::{node_failure, scenario, twin_of};
use doppel_model::{Selector, Twin};
use std::sync::OnceLock;

fn main() {
    for size in SIZES {
        let (_, cascade) = node_failure(twin(size));
        eprintln!("estate of {size}: failing a node removes it and {cascade} relations");
    }
    divan::main();
}

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

fn twin(size: usize) -> &'static Twin {
    static TWINS: OnceLock<Vec<(usize, Twin)>> = OnceLock::new();
    let twins = TWINS.get_or_init(|| SIZES.iter().map(|&n| (n, twin_of(n))).collect());
    &twins.iter().find(|(n, _)| *n == size).expect("built for every size").1
}

#[divan::bench(args = SIZES, sample_count = 200)]
fn fork_and_apply_10_changes(bencher: divan::Bencher, size: usize) {
    let twin = twin(size);
    let changes = scenario(twin);
    bencher.bench(|| {
        let mut fork = twin.fork();
        fork.apply(divan::black_box(&changes)).expect("the scenario applies");
        fork
    });
}

#[divan::bench(args = SIZES, sample_count = 200)]
fn fork_and_fail_a_node(bencher: divan::Bencher, size: usize) {
    let twin = twin(size);
    let (changes, _) = node_failure(twin);
    bencher.bench(|| {
        let mut fork = twin.fork();
        fork.apply(divan::black_box(&changes)).expect("the failure applies");
        fork
    });
}

#[divan::bench(args = SIZES, sample_count = 20)]
fn select_pods_in_a_zone_by_label(bencher: divan::Bencher, size: usize) {
    let twin = twin(size);
    let selector = Selector::parse("zone=us-east-1a kind:pod label:app=svc-00001*").expect("selector");
    bencher.bench(|| selector.select(divan::black_box(twin)).len());
}

#[divan::bench(args = SIZES, sample_count = 20)]
fn select_services_by_glob(bencher: divan::Bencher, size: usize) {
    let twin = twin(size);
    let selector = Selector::parse("service/svc-0001*").expect("selector");
    bencher.bench(|| selector.select(divan::black_box(twin)).len());
}
