//! `doppel demo`: the bundled example estate in a fresh store, and a tour of it.

use crate::output::{BOLD, DIM, Output};
use anyhow::{Context, Result};
use doppel_estate::SourceFile;
use doppel_model::describe;
use doppel_model::{Direction, Key, Kind, Provenance, RelKind, Selector, Spec, Twin, TwinView, walk};
use doppel_store::{SqliteStore, Store};
use std::path::Path;

/// How far ahead the demo's prediction looks.
const PREDICT_HORIZON: &str = "14d";
const PREDICT_HORIZON_MS: i64 = 14 * 24 * 3_600_000;

/// Runs the demo.
pub fn run(store_path: &Path, out: &Output) -> Result<()> {
    let files: Vec<SourceFile> = crate::bundled::FILES
        .iter()
        .map(|(path, text)| SourceFile { path: path.to_string(), text: text.to_string() })
        .collect();
    fresh_store(store_path)?;
    let spinner = out.spinner("loading the bundled estate");
    let estate = doppel_estate::parse(&files).map_err(|d| super::report_diagnostics(&d, &files, out))?;
    let mut store = SqliteStore::open(store_path)?;
    let mut plan = estate.plan(&Twin::new(), false);
    let changes = std::mem::take(&mut plan.changeset).with_provenance(Provenance {
        source: "bundled-example".into(),
        author: "doppel demo".into(),
        summary: "the bundled example estate: an online shop on AWS".into(),
    });
    let (commit, twin) = match store.commit(Twin::new(), &changes) {
        Ok(done) => done,
        Err(doppel_store::Error::Refused(errors)) => {
            return Err(super::report_diagnostics(&plan.explain(&errors, &files), &files, out));
        }
        Err(other) => return Err(other.into()),
    };
    spinner.set_message("generating four weeks of telemetry");
    let now = crate::time::now_ms();
    let (samples, series) = super::observe::store_synthetic(&mut store, &twin, 28, 7, 0.05, now)?;
    spinner.finish_and_clear();
    let store_arg = format!("--store {}", store_path.display());
    if out.json {
        return out.print_json(&serde_json::json!({
            "store": store_path.display().to_string(),
            "version": commit.version,
            "entities": twin.entity_count(),
            "relations": twin.relation_count(),
            "samples": samples,
            "series": series,
            "files": files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
        }));
    }
    anstream::println!(
        "{BOLD}Doppel demo{BOLD:#}: a digital twin of an online shop, stored in {}",
        store_path.display()
    );
    out.success(&format!(
        "loaded {} entities and {} relations from {} bundled files as version {}",
        twin.entity_count(),
        twin.relation_count(),
        files.len(),
        commit.version
    ));
    out.success(&format!(
        "generated four weeks of telemetry up to now: {samples} samples of {series} series (load with growth, a disk filling, a memory leak)"
    ));

    out.heading("1. What is in the estate");
    let mut counts: std::collections::BTreeMap<Kind, usize> = Default::default();
    for entity in twin.entities() {
        *counts.entry(entity.key.kind()).or_default() += 1;
    }
    let count = |k: Kind| counts.get(&k).copied().unwrap_or(0);
    let regions: Vec<String> = twin
        .entities_of(Kind::Region)
        .map(|r| {
            format!(
                "{}{}",
                r.key.name(),
                if matches!(&r.spec, Spec::Region(s) if s.standby) { " (standby)" } else { "" }
            )
        })
        .collect();
    out.line(&format!(
        "  {} regions ({}), {} zones; {} Kubernetes nodes running {} pods of {} workloads",
        count(Kind::Region),
        regions.join(", "),
        count(Kind::Zone),
        count(Kind::Node),
        count(Kind::Pod),
        count(Kind::Deployment) + count(Kind::StatefulSet) + count(Kind::DaemonSet)
    ));
    out.line(&format!(
        "  {} services, {} datastores, {} queues, {} external dependencies; {} subnets, {} security groups, {} network policies",
        count(Kind::Service),
        count(Kind::Datastore),
        count(Kind::Queue),
        count(Kind::External),
        count(Kind::Subnet),
        count(Kind::SecurityGroup),
        count(Kind::NetworkPolicy)
    ));

    out.heading("2. Entry points and their objectives");
    let mut table = out.table(&["service", "endpoint", "rate at daily mean", "daily peak", "SLO"]);
    for service in twin.entities_of(Kind::Service) {
        let Spec::Service(spec) = &service.spec else {
            continue;
        };
        for endpoint in spec.endpoints.iter().filter(|e| e.entry) {
            let rate = endpoint.rate_rps.unwrap_or(0.0);
            let peak = endpoint.daily_profile.iter().cloned().fold(f64::NAN, f64::max);
            let slo = endpoint.slo.as_ref().or(spec.slo.as_ref());
            let objective = slo
                .map(|s| {
                    let mut parts = Vec::new();
                    if let Some(a) = s.availability_pct {
                        parts.push(format!("{a}% available"));
                    }
                    if let Some(p) = s.latency_p99_ms {
                        parts.push(format!("p99 < {p} ms"));
                    }
                    parts.join(", ")
                })
                .unwrap_or_default();
            let peak_text =
                if peak.is_nan() { "-".to_string() } else { format!("{} rps", super::perf::rate(rate * peak)) };
            table.add_row(vec![
                service.key.to_string(),
                endpoint.name.clone(),
                format!("{} rps", super::perf::rate(rate)),
                peak_text,
                objective,
            ]);
        }
    }
    out.print_table(&table);

    out.heading("3. Nodes per zone");
    let mut table = out.table(&["zone", "nodes", "allocatable cpu", "allocatable memory", "pods placed"]);
    for zone in twin.entities_of(Kind::Zone).map(|z| z.key.clone()).collect::<std::collections::BTreeSet<Key>>() {
        let selector = Selector::parse(&format!("zone={} kind:node", zone.name()))?;
        let nodes = selector.select(&twin);
        if nodes.is_empty() {
            continue;
        }
        let (mut cpu, mut memory, mut pods) = (0.0, 0u64, 0usize);
        for node in &nodes {
            if let Spec::Node(n) = &node.spec {
                cpu += n.allocatable.cpu.0;
                memory += n.allocatable.memory.0;
            }
            pods += twin
                .in_relations(&node.key)
                .iter()
                .filter(|r| r.kind() == RelKind::RunsOn && r.from.kind() == Kind::Pod)
                .count();
        }
        table.add_row(vec![
            zone.to_string(),
            nodes.len().to_string(),
            format!("{cpu:.2} cores"),
            doppel_model::Bytes(memory).to_string(),
            pods.to_string(),
        ]);
    }
    out.print_table(&table);

    if let Some(checkout) = pick(&twin, &["service/checkout", "service/frontend"]) {
        out.heading(&format!("4. What {checkout} calls (its direct dependencies)"));
        let steps = walk(&twin, &checkout, Direction::Dependencies, Some(1));
        for step in steps.iter().skip(1) {
            let entity = twin.entity(&step.key).context("walked to an existing entity")?;
            anstream::println!(
                "  {DIM}{}{DIM:#} {}  {DIM}{}{DIM:#}",
                step.via.map(|v| v.to_string()).unwrap_or_default(),
                step.key,
                describe::summary(entity)
            );
        }
    }
    if let Some(zone) = twin.entities_of(Kind::Zone).map(|z| z.key.clone()).min() {
        out.heading(&format!("5. The blast radius of {zone}"));
        let located = Selector::parse(&format!("zone={}", zone.name()))?.select(&twin);
        let dependents = doppel_model::walk::reachable(&twin, &zone, Direction::Dependents, None);
        let services: Vec<String> =
            dependents.iter().filter(|k| k.kind() == Kind::Service).map(|k| k.name().to_string()).collect();
        out.line(&format!("  {} entities are located in {zone} (nodes, pods, subnets, ...)", located.len()));
        out.line(&format!(
            "  {} entities depend on it transitively, including {} services: {}",
            dependents.len(),
            services.len(),
            services.join(", ")
        ));
        out.heading(&format!("6. What if {zone} fails at the daily peak?"));
        let scenario = doppel_resilience::Scenario::from_flags(
            &[zone.to_string()],
            &[],
            &doppel_resilience::scenario::Overrides { at: Some("peak"), ..Default::default() },
            &twin,
        )
        .map_err(|d| anyhow::anyhow!("demo scenario: {d:?}"))?;
        let topo = doppel_resilience::Topology::build(&twin);
        let report = doppel_resilience::run(&twin, &topo, &scenario, &doppel_perf::UtilisationLaw);
        super::resilience::print_report(&report, out);
        out.heading("7. Single points of failure (every component failed in turn)");
        let options = doppel_resilience::sweep::SweepOptions { verify: Some(0), ..Default::default() };
        let sweep = doppel_resilience::sweep::sweep(&twin, &topo, &options, &doppel_perf::UtilisationLaw, &|_, _| {});
        for s in &sweep.spofs {
            anstream::println!(
                "  {BOLD}{}{BOLD:#} cuts off {} entry point(s)  {DIM}{}{DIM:#}",
                s.component,
                s.entries.len(),
                s.why.join(" <- ")
            );
        }
    }

    out.heading("8. Will the shop hold three times its daily peak?");
    capacity_question(&twin)?;

    out.heading(&format!("9. What will break in the next {PREDICT_HORIZON}?"));
    let risks = super::predict::risks(&store, &twin, PREDICT_HORIZON_MS, 0.9, out)?;
    super::predict::print_risks(&risks, PREDICT_HORIZON, out);
    if let Some(disk) = risks.iter().find(|r| r.kind == "saturation") {
        anstream::println!();
        super::predict::forecast_cmd(store_path, &disk.subject, PREDICT_HORIZON, 0.9, None, out)?;
    }

    if let Some(began) = super::predict::latest_slowdown(&store, &twin, now - 24 * 3_600_000)? {
        out.heading("10. Something was slow today: why?");
        let at = began + 20 * 60_000;
        let answer = super::predict::explain_at(&store, &twin, at, 15 * 60_000)?;
        super::predict::print_explanation(&answer, at, "15m", out);
    }

    out.heading("Try next");
    for (command, what) in [
        (format!("doppel {store_arg} show"), "a summary of the twin"),
        (format!("doppel {store_arg} show kind:service"), "every service with its SLOs"),
        (format!("doppel {store_arg} show service/checkout"), "one entity in detail, with its relations"),
        (format!("doppel {store_arg} deps service/frontend --depth 2"), "what the storefront depends on"),
        (format!("doppel {store_arg} dependents zone/us-east-1a"), "everything a zone outage would touch"),
        (format!("doppel {store_arg} what-if --fail datastore/orders-db --at peak"), "lose the orders database"),
        (
            format!("doppel {store_arg} what-if --fail zone/us-east-1a --load 2x --at peak"),
            "a zone outage at twice the peak",
        ),
        (format!("doppel {store_arg} spof"), "every single failure ranked, SPOFs, redundancy gaps, worst pairs"),
        (format!("doppel {store_arg} availability"), "expected yearly availability of each entry point vs its SLO"),
        (
            format!("doppel {store_arg} what-if --drill region-loss"),
            "a disaster-recovery drill: can the standby take over?",
        ),
        (
            format!("doppel {store_arg} perf --load 2x --sim"),
            "latency per entry point at twice the peak, simulated too",
        ),
        (format!("doppel {store_arg} perf --fail zone/us-east-1a"), "latency while a zone is lost, minute by minute"),
        (
            format!("doppel {store_arg} capacity --target 3x"),
            "the replicas each service needs for three times the peak",
        ),
        (
            format!("doppel {store_arg} predict --horizon 30d"),
            "every risk the forecasts show in a month, soonest first",
        ),
        (
            format!("doppel {store_arg} forecast 'service/frontend.request_rate_rps:GET /' --svg load.svg"),
            "a week of the storefront's load ahead, with its interval, as a chart",
        ),
        (format!("doppel {store_arg} anomalies --since 1d"), "what looked wrong in the last day, newest first"),
        (format!("doppel {store_arg} rca --at TIME"), "why entry points were slow at a time: causes ranked"),
        (format!("doppel {store_arg} show 'zone=us-east-1b kind:pod'"), "selectors combine"),
        (format!("doppel {store_arg} history"), "the change log"),
        ("doppel schema > estate.schema.json".to_string(), "editor completion for estate files"),
    ] {
        anstream::println!("  {BOLD}{command}{BOLD:#}\n    {DIM}{what}{DIM:#}");
    }
    Ok(())
}

/// Serves the demo's twin with its web UI, on `listen` or, when that port is taken, on
/// any free one; prints the URL with a one-time admin token.
pub fn serve(store_path: &Path, listen: std::net::SocketAddr, out: &Output) -> Result<()> {
    out.heading("The twin in your browser");
    let listen = match std::net::TcpListener::bind(listen) {
        Ok(free) => {
            drop(free);
            listen
        }
        Err(_) => std::net::SocketAddr::new(listen.ip(), 0),
    };
    let args =
        super::serve::ServeArgs { listen: vec![listen], no_auth: false, tls: None, max_body: 1 << 20, rate: 200.0 };
    super::serve::run(store_path, &args, out)
}

/// A rate with as many decimals as its size needs (120, 2.5, 0.04).
/// The capacity question of the tour: the saturation point and what to scale for 3x.
fn capacity_question(twin: &Twin) -> Result<()> {
    let topo = doppel_resilience::Topology::build(twin);
    let hour = doppel_resilience::engine::peak_hour(&topo);
    let options = doppel_resilience::behaviour::PerfOptions { hour: Some(hour), ..Default::default() };
    let model = doppel_resilience::behaviour::PerfModel::build(&topo, &options);
    let plan = doppel_resilience::answers::Plan::new(&model, 3.0).map_err(|e| crate::exit::invalid(e.to_string()))?;
    match &plan.saturation {
        Some(s) => anstream::println!(
            "  With today's replicas the latency objectives hold up to {BOLD}{:.2}x{BOLD:#} the peak; just above: {}.",
            s.factor,
            s.breaks
        ),
        None => anstream::println!("  With today's replicas the objectives hold beyond 1000x the peak."),
    }
    match &plan.needed {
        Ok(needed) => {
            let mut cost = 0.0;
            let mut changes = Vec::new();
            for (i, (sc, &k)) in plan.scalable.iter().zip(needed).enumerate().filter(|(_, (sc, k))| **k > sc.replicas) {
                cost += plan.added_cost(&model, i, k).unwrap_or(0.0);
                changes.push(format!("{} {} -> {k}", model.network.stations[sc.station].name, sc.replicas));
            }
            if changes.is_empty() {
                anstream::println!("  For 3x: today's replicas meet every objective.");
            } else {
                anstream::println!(
                    "  For 3x: scale {} replicas ({BOLD}+${cost:.2} per hour{BOLD:#} on demand).",
                    changes.join(", ")
                );
            }
        }
        Err(err) => anstream::println!("  For 3x: {err}"),
    }
    Ok(())
}

fn pick(twin: &Twin, keys: &[&str]) -> Option<Key> {
    keys.iter().filter_map(|k| k.parse::<Key>().ok()).find(|k| twin.contains(k))
}

/// Removes an earlier demo store (only if it is a Doppel store), so the demo starts fresh.
fn fresh_store(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    // Opening checks the file is a Doppel store; anything else is left alone.
    drop(SqliteStore::open_existing(path).with_context(|| {
        format!("{} exists and is not a Doppel store; choose another --demo-store", path.display())
    })?);
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if Path::new(&file).exists() {
            std::fs::remove_file(&file).with_context(|| format!("cannot remove the old demo store {file}"))?;
        }
    }
    Ok(())
}
