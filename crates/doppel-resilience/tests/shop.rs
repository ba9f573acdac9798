//! What-ifs on the bundled estate, with the expected outcome of each worked out by hand in
//! the comments. Load is the daily peak (20:00, twice the daily average).

use doppel_model::Twin;

use doppel_perf::UtilisationLaw;
use doppel_resilience::report::{EntryReport, Report, State};
use doppel_resilience::scenario::Overrides;
use doppel_resilience::{Scenario, ScenarioFile, Topology, run};
use doppel_testkit::shop::shop;

fn what_if(twin: &Twin, fail: &str) -> Report {
    let scenario =
        Scenario::from_flags(&[fail.to_string()], &[], &Overrides { at: Some("peak"), ..Default::default() }, twin)
            .unwrap();
    run(twin, &Topology::build(twin), &scenario, &UtilisationLaw)
}

fn entry<'r>(report: &'r Report, endpoint: &str) -> &'r EntryReport {
    report.entries.iter().find(|e| e.endpoint == endpoint).unwrap_or_else(|| panic!("no entry {endpoint}"))
}

/// The state of an entry point at time `t`.
fn state_at(entry: &EntryReport, t: f64) -> State {
    entry.timeline.iter().find(|s| s.from_s <= t && t < s.to_s).map(|s| s.state).unwrap()
}

fn cause_at(entry: &EntryReport, t: f64) -> Vec<String> {
    entry.timeline.iter().find(|s| s.from_s <= t && t < s.to_s).map(|s| s.cause.clone()).unwrap()
}

#[test]
fn zone_a_takes_checkout_down_until_shipping_is_rescheduled() {
    let twin = shop();
    let r = what_if(&twin, "zone/us-east-1a");
    let checkout = entry(&r, "POST /cart/checkout");
    // Both shipping replicas run on us-east-1a nodes (shipping has no topology spread), and
    // checkout calls shipping's GetQuote as a hard dependency: checkout is down from the
    // start. The shipping pods are evicted 40 s (NotReady) + 300 s (toleration) later and
    // their replacements fit in us-east-1b/c; ready 20 s (default start-up) after: 360 s.
    // orders-db (primary in us-east-1a) is down too, but its replica is promoted at 90 s,
    // sooner, so shipping is the cause that lasts.
    assert_eq!(checkout.before, State::Up);
    assert_eq!(state_at(checkout, 100.0), State::Down);
    assert_eq!(
        cause_at(checkout, 100.0),
        [
            "service/frontend POST /cart/checkout down (100% errors)",
            "service/checkout down (100% errors)",
            "service/shipping down (100% errors)",
            "0/2 deployment/shop/shipping pods ready, replacements ready at 6 min",
        ]
    );
    assert_eq!(checkout.recovered_at_s, Some(360.0));
    // 360 s of total failure against a 99.95% objective: 360 / (0.0005 x 30 days) = 27.8%.
    let budget = checkout.error_budget_used_pct.unwrap();
    assert!((budget - 360.0 / (0.0005 * 30.0 * 86400.0) * 100.0).abs() < 0.01, "{budget}");
    // Product pages: a third of the load balancer's zones is gone until its health checks
    // (15 s x 3) and the DNS TTL (60 s) move traffic: 33% errors until 105 s, then up.
    let product = entry(&r, "GET /product/{id}");
    assert_eq!(state_at(product, 50.0), State::Degraded);
    let lb_error = product.timeline.iter().find(|s| s.from_s == 40.0).unwrap().error_rate;
    assert!((lb_error - 1.0 / 3.0).abs() < 1e-3, "{lb_error}");
    assert_eq!(product.recovered_at_s, Some(105.0));
    // Replacements for pods with a hard zone spread cannot be placed: us-east-1a's nodes still
    // count as a domain holding none of their (terminating) pods, so any other zone would
    // exceed max_skew 1. Two frontend pods, one each of cart, checkout and payment.
    let mut pending: Vec<String> = r.pending.iter().map(|p| p.workload.to_string()).collect();
    pending.sort();
    assert_eq!(
        pending,
        [
            "deployment/shop/cart",
            "deployment/shop/checkout",
            "deployment/shop/frontend",
            "deployment/shop/frontend",
            "deployment/shop/payment"
        ]
    );
    assert!(r.pending.iter().all(|p| p.reason.starts_with("0/9 nodes are available")
        && p.reason.contains("didn't match pod topology spread constraints")
        && p.reason.contains("had untolerated taint {node.kubernetes.io/unreachable: }")));
    // 2 x 500m + 300m + 300m + 200m = 1.8 cores; 2 x 512Mi + 512Mi + 256Mi + 256Mi = 2 GiB.
    assert!((r.shortfall.cores - 1.8).abs() < 1e-9 && (r.shortfall.memory_gib - 2.0).abs() < 1e-9);
    // RabbitMQ keeps its quorum (2 of 3) and its lost pod is not replaced (a statefulset).
    assert!(r.notes.iter().any(|n| n.contains("pod/data/rabbitmq-0")));
    assert_eq!(r.recovered_at_s, Some(360.0));
}

#[test]
fn zone_b_takes_the_cart_store_and_catalog_db_through_failover() {
    let twin = shop();
    let r = what_if(&twin, "zone/us-east-1b");
    // cart-redis's primary is in us-east-1b; its replica in us-east-1c is promoted after 30 s.
    // Until then every cart request fails (cart calls redis as a hard dependency).
    let cart = entry(&r, "POST /cart");
    assert_eq!(
        cause_at(cart, 10.0)[1..],
        [
            "service/cart down (100% errors)",
            "datastore/cart-redis down (100% errors)",
            "datastore/cart-redis lost with zone/us-east-1b; failing over, ready at 30 s",
        ]
    );
    // catalog-db is Multi-AZ: its standby takes over after 60 s; catalog's UpdateProduct
    // (its only entry point, which needs the database) is back then.
    let update = entry(&r, "UpdateProduct");
    assert_eq!(update.recovered_at_s, Some(60.0));
    assert!(
        r.events
            .iter()
            .any(|e| e.t_s == 30.0 && e.what.contains("cart-redis fails over to datastore/cart-redis-replica"))
    );
    // The orders-db replica lived in us-east-1b: it is lost, with nothing else affected by it.
    assert!(r.stations.iter().any(|s| s.key.to_string() == "datastore/orders-db-replica" && s.worst == State::Down));
    assert_eq!(r.recovered_at_s, Some(105.0));
}

#[test]
fn zone_c_takes_users_db_through_failover_and_email_quietly() {
    let twin = shop();
    let r = what_if(&twin, "zone/us-east-1c");
    // users-db (Multi-AZ, primary in us-east-1c) fails over in 60 s; login needs it.
    let login = entry(&r, "POST /login");
    assert_eq!(state_at(login, 30.0), State::Down);
    assert_eq!(
        cause_at(login, 30.0).last().unwrap(),
        "datastore/users-db lost with zone/us-east-1c; failing over, ready at 60 s"
    );
    // Both email replicas are in us-east-1c, but email is called asynchronously and softly:
    // no entry point goes down for it; it shows among the stations.
    let email = r.stations.iter().find(|s| s.key.to_string() == "service/email").unwrap();
    assert_eq!(email.worst, State::Down);
    assert!(r.entries.iter().all(|e| e.timeline.last().unwrap().state == State::Up));
}

#[test]
fn losing_the_orders_database_fails_over_to_its_replica() {
    let twin = shop();
    let r = what_if(&twin, "datastore/orders-db");
    // checkout writes orders (hard); the replica in us-east-1b is promoted after failover_s 90.
    let checkout = entry(&r, "POST /cart/checkout");
    assert_eq!(checkout.worst, State::Down);
    assert_eq!(checkout.recovered_at_s, Some(90.0));
    // Shipping quotes read orders-db 5% of the time: shipping fails 5%, and the cart page,
    // which asks shipping for a quote as a soft dependency, is degraded, not down.
    let cart_page = entry(&r, "GET /cart");
    assert_eq!(cart_page.worst, State::Degraded);
    // Nothing else is touched.
    assert_eq!(r.entries.iter().filter(|e| e.worst != State::Up).count(), 2);
}

#[test]
fn losing_the_cart_store_is_thirty_seconds_of_cart_errors() {
    let twin = shop();
    let r = what_if(&twin, "datastore/cart-redis");
    // cart -> cart-redis is hard; automatic failover to the replica takes failover_s = 30.
    for endpoint in ["GET /cart", "POST /cart", "POST /cart/checkout"] {
        let e = entry(&r, endpoint);
        assert_eq!(e.worst, State::Down, "{endpoint}");
        assert_eq!(e.recovered_at_s, Some(30.0), "{endpoint}");
    }
    assert_eq!(entry(&r, "GET /").worst, State::Up);
}

#[test]
fn losing_the_payment_provider_stops_checkout_and_nothing_else() {
    let twin = shop();
    let r = what_if(&twin, "external/payment-provider");
    // payment calls the provider (hard, 2 retries, nothing to retry against); checkout calls
    // payment (hard). An external has no failover: down to the end of the horizon.
    let checkout = entry(&r, "POST /cart/checkout");
    assert_eq!(checkout.worst, State::Down);
    assert_eq!(checkout.recovered_at_s, None);
    assert_eq!(
        cause_at(checkout, 0.0)[1..],
        [
            "service/checkout down (100% errors)",
            "service/payment down (100% errors)",
            "external/payment-provider down (100% errors)",
            "external/payment-provider failed",
        ]
    );
    assert!(r.entries.iter().filter(|e| e.endpoint != "POST /cart/checkout").all(|e| e.worst == State::Up));
    assert_eq!(r.recovered_at_s, None);
}

#[test]
fn losing_the_region_is_total_and_the_standby_cannot_help() {
    let twin = shop();
    let r = what_if(&twin, "region/us-east-1");
    // Everything of the shop runs in us-east-1; us-west-2 holds only a database replica.
    assert!(r.entries.iter().all(|e| e.worst == State::Down && e.recovered_at_s.is_none()));
    assert!(
        r.notes.iter().any(|n| n.contains("standby region region/us-west-2") && n.contains("cannot carry the load"))
    );
    // No autoscaler node appears: there is no surviving zone to grow into.
    assert!(!r.events.iter().any(|e| e.what.contains("autoscaler")));
}

#[test]
fn the_same_scenario_gives_the_same_report() {
    let twin = shop();
    let a = serde_json::to_string(&what_if(&twin, "zone/us-east-1a")).unwrap();
    let b = serde_json::to_string(&what_if(&twin, "zone/us-east-1a")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn more_load_overloads_what_a_zone_loss_left_thin() {
    let twin = shop();
    let scenario = Scenario::from_flags(
        &["zone/us-east-1a".into()],
        &[],
        &Overrides { load: Some("2x"), at: Some("peak"), ..Default::default() },
        &twin,
    )
    .unwrap();
    let r = run(&twin, &Topology::build(&twin), &scenario, &UtilisationLaw);
    // At twice the peak, catalog's two surviving replicas get 2 x 97% of their capacity:
    // about half its requests are shed while the replacements are pending.
    let catalog = r.stations.iter().find(|s| s.key.to_string() == "service/catalog").unwrap();
    assert!(catalog.peak_utilisation > 1.5, "{}", catalog.peak_utilisation);
    assert_eq!(entry(&r, "GET /").worst, State::Down);
}

fn scenario_errors(text: &str) -> Vec<String> {
    let twin = shop();
    match ScenarioFile::parse("s.yaml", text) {
        Err(d) => d.iter().map(|d| d.to_string()).collect(),
        Ok((file, doc)) => match Scenario::from_file(&file, "s.yaml", Some(&doc), &twin) {
            Err(d) => d.iter().map(|d| d.to_string()).collect(),
            Ok(_) => Vec::new(),
        },
    }
}

#[test]
fn bad_scenarios_get_clear_errors() {
    let unknown = scenario_errors("faults:\n  - fail: zone/us-east-1a\n    at_sec: 5\n");
    assert_eq!(unknown.len(), 1);
    assert!(unknown[0].starts_with("s.yaml:3:5: faults.0: unknown field `at_sec`"), "{unknown:?}");
    let nothing = scenario_errors("faults:\n  - fail: zone/us-east-9z\n");
    assert!(nothing[0].contains("`zone/us-east-9z` matches nothing in the twin"), "{nothing:?}");
    assert!(nothing[0].starts_with("s.yaml:2:11"), "{nothing:?}");
    let negative = scenario_errors("load: {factor: -1}\nfaults:\n  - fail: zone/us-east-1a\n");
    assert!(negative[0].contains("a load factor of -1 is not possible"), "{negative:?}");
    let both = scenario_errors("faults:\n  - fail: service/cart\n  - degrade: service/cart\n    latency_ms: 100\n");
    assert!(both[0].contains("service/cart is both failed (fault 0) and degraded (fault 1)"), "{both:?}");
    let idle = scenario_errors("faults:\n  - degrade: service/cart\n");
    assert!(idle[0].contains("changes nothing"), "{idle:?}");
    let share = scenario_errors("faults:\n  - degrade: service/cart\n    error_rate: 10\n");
    assert!(share[0].contains("10 is not a share"), "{share:?}");
    let user = scenario_errors("faults:\n  - fail: user/maria.gonzalez\n");
    assert!(user[0].contains("cannot fail"), "{user:?}");
    assert!(scenario_errors("faults: []\n")[0].contains("nothing fails"));
    assert!(
        scenario_errors("load: {at: 25}\nfaults:\n  - fail: zone/us-east-1a\n")[0].contains("not a point of the day")
    );
    assert!(scenario_errors("- a\n- b\n")[0].contains("expected a map"));
    assert!(scenario_errors("faults:\n  - fail: zone/us-east-1a\n").is_empty());
}
