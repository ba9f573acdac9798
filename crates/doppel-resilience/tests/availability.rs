//! Availability estimates on the bundled estate, with the figures worked out by hand.

use doppel_resilience::Topology;
use doppel_resilience::availability::{
    AvailabilityOptions, AvailabilityReport, EntryAvailability, HOURS_PER_YEAR, Method, estimate,
};
use doppel_testkit::shop::{shop, shop_with};

const MINUTES_PER_YEAR: f64 = HOURS_PER_YEAR * 60.0;

fn estimated(twin: &doppel_model::Twin, samples: u64) -> AvailabilityReport {
    estimate(twin, &Topology::build(twin), &AvailabilityOptions { samples, seed: 7 }).unwrap()
}

fn entry<'r>(report: &'r AvailabilityReport, name: &str) -> &'r EntryAvailability {
    report.entries.iter().find(|e| e.entry == name).unwrap_or_else(|| panic!("no entry {name}"))
}

fn minutes(e: &EntryAvailability, component: &str) -> f64 {
    e.contributions.iter().find(|c| c.component == component).map_or(0.0, |c| c.minutes_per_year)
}

#[test]
fn checkout_misses_its_objective_because_of_the_payment_provider() {
    let report = estimated(&shop(), 2_000_000);
    let checkout = entry(&report, "service/frontend POST /cart/checkout");
    // The provider's SLA is 99.95%: down 0.05% of a year, 263 minutes; nothing in the estate
    // stands in for it.
    assert!((minutes(checkout, "external/payment-provider") - 0.0005 * MINUTES_PER_YEAR).abs() < 0.01);
    // The region: down 6 h in every 5 years, 72 minutes a year; no standby that can carry.
    let region = 6.0 / (5.0 * HOURS_PER_YEAR + 6.0) * MINUTES_PER_YEAR;
    assert!((minutes(checkout, "region/us-east-1") - region).abs() < 0.01);
    assert_eq!(checkout.contributions[0].component, "external/payment-provider");
    // Shipping and the broker have redundancy (pods, a quorum), so the answer is sampled.
    assert_eq!(checkout.method, Method::MonteCarlo);
    assert_eq!(checkout.slo_pct, Some(99.95));
    assert_eq!(checkout.meets_slo, Some(false));
    assert!(checkout.availability_pct < 99.9 && checkout.availability_pct > 99.7, "{}", checkout.availability_pct);
}

#[test]
fn the_series_formula_and_the_sampled_instants_agree_on_every_entry_point() {
    // Two independent computations: single failures summed over the killer sets, and random
    // instants spread through the failure graph (which also counts combinations). In this
    // estate combinations are rare (two zones at once: about 3e-8 of the time), so the
    // series answer must sit inside the sampled interval, widened by a minute a year.
    let report = estimated(&shop(), 20_000_000);
    for e in &report.entries {
        let (lo, hi) = e.interval_pct.expect("every shop entry point has redundancy on its path");
        let slack = 100.0 / MINUTES_PER_YEAR;
        assert!(
            e.series_pct >= lo - slack && e.series_pct <= hi + slack,
            "{}: series {} outside {lo}..{hi}",
            e.entry,
            e.series_pct
        );
    }
}

#[test]
fn labels_override_the_defaults_and_bad_labels_are_refused() {
    // A provider with a failover of its own, declared as failing once in ten years for an hour.
    let twin = shop_with(&[(
        "services.yaml",
        "    labels: {pci-scope: in-scope}\n    vendor: Stripe",
        "    labels: {pci-scope: in-scope, doppel.dev/mtbf-hours: \"87660\", doppel.dev/mttr-hours: \"1\"}\n    vendor: Stripe",
    )]);
    let report = estimated(&twin, 200_000);
    let checkout = entry(&report, "service/frontend POST /cart/checkout");
    let expected = 1.0 / (87_660.0 + 1.0) * MINUTES_PER_YEAR;
    assert!((minutes(checkout, "external/payment-provider") - expected).abs() < 0.01);
    assert_ne!(checkout.contributions[0].component, "external/payment-provider");

    let bad = shop_with(&[(
        "services.yaml",
        "    labels: {pci-scope: in-scope}\n    vendor: Stripe",
        "    labels: {pci-scope: in-scope, doppel.dev/mttr-hours: \"soon\"}\n    vendor: Stripe",
    )]);
    let errors = estimate(&bad, &Topology::build(&bad), &AvailabilityOptions::default()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "external/payment-provider: label doppel.dev/mttr-hours: `soon` is not a number of hours above 0"
    );
}

#[test]
fn the_same_seed_gives_the_same_estimate() {
    let twin = shop();
    assert_eq!(estimated(&twin, 500_000), estimated(&twin, 500_000));
}
