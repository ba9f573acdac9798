//! The root-cause suite: faults injected into one random service of seeded random
//! networks in doppel-perf's simulator (latency x2 to x5, an error rate of 5% to 30%,
//! servers cut by half or more), telemetry from the simulation, ranked by
//! `doppel_predict::rca::rank`. Prints where the injected service landed: top-1 and top-3
//! shares, by kind of fault, and the cases missed; the cases are built as
//! `crates/doppel-predict/tests/support/injected.rs` describes.
//!
//! `cargo run --release -p doppel-bench --bin rca-eval -- [--cases N] [--seed S] [--window SECONDS] [--replications R] [--misses]`

#[path = "../../../crates/doppel-predict/tests/support/injected.rs"]
mod injected;

use injected::{Kind, Suite, Tally, case};

fn main() {
    if let Err(err) = real_main() {
        eprintln!("rca-eval: {err}");
        std::process::exit(2);
    }
}

fn real_main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut cases, mut misses) = (240u64, false);
    let mut suite = Suite { seed: 2024, window_s: 300.0, replications: 2, rate_rps: (15.0, 60.0) };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |v: String| v.parse::<f64>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--cases" => cases = number(value("--cases")?)? as u64,
            "--seed" => suite.seed = number(value("--seed")?)? as u64,
            "--window" => suite.window_s = number(value("--window")?)?,
            "--replications" => suite.replications = number(value("--replications")?)? as u32,
            "--misses" => misses = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let mut all = Tally::default();
    let mut by_kind = [Tally::default(); 3];
    let started = std::time::Instant::now();
    for i in 0..cases {
        let o = case(&suite, i).map_err(|e| format!("case {i}: {e}"))?;
        all.add(&o);
        let k = Kind::ALL.iter().position(|k| *k == o.kind).unwrap_or(0);
        by_kind[k].add(&o);
        if misses && o.position != Some(0) {
            println!(
                "miss: case {i} {} size {:.2} on svc{} of {} services: ranked {}, top svc{}, {} symptom(s), guessed {:?}",
                o.kind.name(),
                o.size,
                o.injected,
                o.services,
                o.position.map_or("not at all".to_string(), |p| format!("{}", p + 1)),
                o.top.map_or("-".to_string(), |t| t.to_string()),
                o.symptoms,
                o.guessed
            );
        }
    }
    let pct = |t: &Tally, n: usize| 100.0 * t.share(n);
    println!(
        "cases {} (seed {}, windows of {} s x {} replications) in {:.1} s",
        all.cases,
        suite.seed,
        suite.window_s,
        suite.replications,
        started.elapsed().as_secs_f64()
    );
    println!("| faults | cases | top-1 | top-3 | kind guessed (of top-1) | no symptom |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (k, t) in Kind::ALL.iter().zip(&by_kind) {
        println!(
            "| {} | {} | {:.1}% | {:.1}% | {:.1}% | {} |",
            k.name(),
            t.cases,
            pct(t, t.top1),
            pct(t, t.top3),
            if t.top1 == 0 { 0.0 } else { 100.0 * t.kind_right as f64 / t.top1 as f64 },
            t.no_symptom
        );
    }
    println!(
        "| all | {} | {:.1}% | {:.1}% | {:.1}% | {} |",
        all.cases,
        pct(&all, all.top1),
        pct(&all, all.top3),
        if all.top1 == 0 { 0.0 } else { 100.0 * all.kind_right as f64 / all.top1 as f64 },
        all.no_symptom
    );
    Ok(())
}
