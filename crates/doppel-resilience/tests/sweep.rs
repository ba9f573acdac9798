//! Sweeps on the bundled estate: single points of failure, redundancy gaps, worst pairs,
//! and the graph's answer checked against the engine's for every single failure.

use doppel_perf::UtilisationLaw;
use doppel_resilience::Topology;
use doppel_resilience::failgraph::FailGraph;
use doppel_resilience::report::State;
use doppel_resilience::sweep::{GapKind, SweepOptions, SweepReport, run_single, sweep};
use doppel_testkit::shop::{shop, shop_with};

fn swept(twin: &doppel_model::Twin) -> SweepReport {
    sweep(twin, &Topology::build(twin), &SweepOptions::default(), &UtilisationLaw, &|_, _| {})
}

#[test]
fn the_shop_has_these_single_points_of_failure_and_no_others() {
    let report = swept(&shop());
    let spofs: Vec<(&str, usize)> = report.spofs.iter().map(|s| (s.component.as_str(), s.entries.len())).collect();
    // - region/us-east-1: everything runs there; the standby region holds only a database replica.
    // - the web ALB: the only way in for the nine storefront entry points (catalog's
    //   UpdateProduct is an internal entry point, not behind it).
    // - zone us-east-1a: both shipping replicas run there, and checkout asks shipping for a
    //   quote on every order (fan-out 1, hard).
    // - queue/order-events: checkout publishes every order and waits for the broker's confirm.
    // - the payment provider: checkout -> payment -> provider, hard, no fallback.
    // Not here: catalog-db and users-db (RDS Multi-AZ: a standby in another zone), orders-db
    // (its replica is promoted), cart-redis (a replica in another zone), the carrier API
    // (only one shipping request in eight calls it: it degrades checkout, does not cut it off).
    assert_eq!(
        spofs,
        vec![
            ("region/us-east-1", 10),
            ("load-balancer/shop-prod-web-alb", 9),
            ("zone/us-east-1a", 1),
            ("queue/order-events", 1),
            ("external/payment-provider", 1),
        ]
    );
    let zone = &report.spofs[2];
    assert_eq!(zone.entries, vec!["service/frontend POST /cart/checkout"]);
    // The chain names the redundancy that runs out: shipping needs one of its two pods, and the
    // zone takes both.
    assert_eq!(zone.why.first().map(String::as_str), Some("service/frontend POST /cart/checkout"));
    assert!(zone.why.contains(&"deployment/shop/shipping (needs 1 of 2, loses 2)".to_string()), "{:?}", zone.why);
    assert_eq!(zone.why.last().map(String::as_str), Some("zone/us-east-1a"));
}

#[test]
fn the_shop_has_these_redundancy_gaps() {
    let report = swept(&shop());
    let gaps: Vec<(GapKind, &str)> = report.gaps.iter().map(|g| (g.kind, g.subject.as_str())).collect();
    // Shipping is the one gap an entry point depends on, so it comes first. Then replicas
    // bunched in one zone, single replicas, and the standby region without any compute.
    assert_eq!(
        gaps,
        vec![
            (GapKind::OneZone, "deployment/shop/shipping"),
            (GapKind::OneZone, "deployment/kube-system/aws-load-balancer-controller"),
            (GapKind::OneZone, "deployment/shop/email"),
            (GapKind::OneReplica, "deployment/kube-system/cluster-autoscaler"),
            (GapKind::OneReplica, "deployment/kube-system/metrics-server"),
            (GapKind::OneReplica, "deployment/monitoring/grafana"),
            (GapKind::OneReplica, "deployment/monitoring/kube-state-metrics"),
            (GapKind::WeakStandby, "region/us-west-2"),
        ]
    );
    assert_eq!(report.gaps[0].entries, vec!["service/frontend POST /cart/checkout"]);
    assert!(report.gaps[0].detail.contains("zone/us-east-1a"), "{}", report.gaps[0].detail);
    // The primary's pods request 21.1 cores; the standby region has no nodes at all.
    assert!(report.gaps[7].detail.starts_with("its nodes offer 0.0 cores and 0.0 GiB against 21.1 cores"));
}

#[test]
fn a_budget_that_allows_no_eviction_is_a_gap() {
    // Checkout's budget tightened to "no pod may be unavailable": a node drain can never
    // evict any of its pods.
    let twin = shop_with(&[(
        "workloads.yaml",
        "    attached_to: deployment/shop/checkout\n    max_unavailable: {count: 1}",
        "    attached_to: deployment/shop/checkout\n    max_unavailable: {count: 0}",
    )]);
    let report = swept(&twin);
    let pdb = report.gaps.iter().find(|g| g.kind == GapKind::BlockingPdb).expect("a blocking budget");
    assert_eq!(pdb.subject, "pdb/shop/checkout");
    assert!(pdb.detail.contains("all 4 pods healthy"), "{}", pdb.detail);
    assert_eq!(report.gaps.iter().filter(|g| g.kind == GapKind::BlockingPdb).count(), 1);
}

#[test]
fn losing_two_zones_cuts_off_what_neither_alone_does() {
    let report = swept(&shop());
    // Zones a and b hold both CoreDNS pods: every entry point loses name resolution.
    let pair =
        report.pairs.iter().find(|p| p.a == "zone/us-east-1a" && p.b == "zone/us-east-1b").expect("zones a and b");
    assert_eq!(pair.entries_down.len(), 10);
    assert_eq!(pair.only_together.len(), 9, "checkout is already cut off by zone a alone");
    assert_eq!(report.pairs[0].a, "zone/us-east-1a");
}

#[test]
fn what_the_graph_cuts_off_the_engine_takes_down_for_every_single_failure() {
    // Two independent readings of the same twin: the killer sets (no time, no load) and the
    // engine (time, rescheduling, capacity). Whatever the graph says a failure cuts off must be
    // down in the engine as soon as it fails (repair comes later, so only t = 0 is compared).
    let twin = shop();
    let topo = Topology::build(&twin);
    let g = FailGraph::build(&topo);
    let k = g.killer_sets();
    let cuts = doppel_resilience::sweep::cuts(&g, &k);
    let options = SweepOptions::default();
    let mut checked = 0;
    for c in 0..g.len() {
        if !g.comps()[c].class.failable() || cuts.entries(c).is_empty() {
            continue;
        }
        let report = run_single(&twin, &topo, &options, &UtilisationLaw, &g.comps()[c].name);
        for &e in cuts.entries(c) {
            let entry = &topo.entries[e as usize];
            let st = &topo.stations[entry.station];
            let name = &st.endpoints[entry.endpoint].name;
            let seen = report.entries.iter().find(|r| r.service == st.key && &r.endpoint == name).unwrap();
            let at_start = seen.timeline.first().map(|s| s.state);
            assert_eq!(at_start, Some(State::Down), "{} should cut off {} {name}", g.comps()[c].name, st.key);
            checked += 1;
        }
    }
    // 5 infrastructure failures and 20 services and workloads cut something off.
    assert!(checked > 40, "only {checked} pairs compared");
}

#[test]
fn a_sweep_is_deterministic() {
    let twin = shop();
    assert_eq!(swept(&twin), swept(&twin));
}

#[test]
fn drills_say_whether_the_estate_recovers_and_how_fast() {
    use doppel_resilience::sweep::{Drill, drill};
    let twin = shop();
    let topo = Topology::build(&twin);
    let options = SweepOptions::default();
    // Losing us-east-1: the standby region has a database replica and no compute, so nothing
    // comes back within the hour, and the finding says why.
    let region = drill(&twin, &topo, Drill::RegionLoss, &options, &UtilisationLaw);
    assert!(!region.passed);
    assert_eq!(region.runs.len(), 1);
    assert_eq!(region.runs[0].simulated.entries_down, 10);
    assert!(region.findings[0].contains("0.0 cores"), "{:?}", region.findings);
    // Each primary datastore fails over: Redis to its replica in 30 s, orders-db's replica is
    // promoted in 90 s, the RDS Multi-AZ standbys take 60 s, OpenSearch 20 s.
    let stores = drill(&twin, &topo, Drill::DatastoreLoss, &options, &UtilisationLaw);
    assert!(stores.passed);
    let back: Vec<(&str, Option<f64>)> =
        stores.runs.iter().map(|r| (r.lost.as_str(), r.simulated.recovered_at_s)).collect();
    assert_eq!(
        back,
        vec![
            ("datastore/cart-redis", Some(30.0)),
            ("datastore/catalog-db", Some(60.0)),
            ("datastore/orders-db", Some(90.0)),
            ("datastore/search-opensearch", Some(20.0)),
            ("datastore/users-db", Some(60.0)),
        ]
    );
}

#[test]
fn of_two_equally_short_causes_why_names_the_first_by_name_whatever_the_numbering() {
    use doppel_resilience::failgraph::{Builder, Class, Gate};
    use doppel_resilience::sweep::why;
    // top needs two services that both need the database; "service/b" is numbered first.
    let mut b = Builder::default();
    let db = b.add("datastore/db", Class::Datastore, Gate::All);
    let sb = b.add("service/b", Class::Service, Gate::All);
    let sa = b.add("service/a", Class::Service, Gate::All);
    let top = b.add("service/top", Class::Service, Gate::All);
    for (who, what) in [(sb, db), (sa, db), (top, sb), (top, sa)] {
        b.needs(who, what);
    }
    let g = b.finish();
    let path = why(&g, &g.killer_sets(), top, db);
    assert_eq!(path, vec!["service/top", "service/a", "datastore/db"]);
}

#[test]
fn the_closer_look_is_sized_to_the_estate_unless_asked() {
    use doppel_resilience::sweep::{VERIFY_MOST, verify_for};
    // Small estates get every failure that matters followed; a 100,000-entity one two (and
    // as many zones or regions), so the default sweep takes seconds, not minutes.
    assert_eq!(verify_for(0), VERIFY_MOST);
    assert_eq!(verify_for(1_000), VERIFY_MOST);
    assert_eq!(verify_for(10_000), 20);
    assert_eq!(verify_for(100_000), 2);
    assert_eq!(verify_for(1_000_000), 0);
    // The bundled estate is small: the default follows as many as asking for 200 does, and
    // says nothing about a budget.
    let twin = shop();
    let topo = Topology::build(&twin);
    let by_default = swept(&twin);
    let asked = sweep(
        &twin,
        &topo,
        &SweepOptions { verify: Some(VERIFY_MOST), ..SweepOptions::default() },
        &UtilisationLaw,
        &|_, _| {},
    );
    assert_eq!(by_default.singles, asked.singles);
    assert!(by_default.notes.iter().all(|n| !n.contains("sized to an estate")), "{:?}", by_default.notes);
    // Asked for none, the engine follows none.
    let none =
        sweep(&twin, &topo, &SweepOptions { verify: Some(0), ..SweepOptions::default() }, &UtilisationLaw, &|_, _| {});
    assert!(none.singles.iter().all(|s| s.simulated.is_none()));
}
