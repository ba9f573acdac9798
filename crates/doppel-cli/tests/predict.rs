//! Prediction on the command line: synthetic telemetry and what is predicted from it.

mod common;

use common::{Scratch, json, stderr};

/// The synthetic telemetry's end, fixed so that the tests do not depend on the hour they
/// run at (the load follows the time of day).
const UNTIL: &str = "2026-11-24T20:00Z";

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop")
}

#[test]
fn synthetic_telemetry_agrees_with_the_model_it_came_from() {
    let scratch = Scratch::new();
    let err = stderr(&scratch.doppel(&["observe", "--synthetic"]).failure());
    assert!(err.contains("no store") || err.contains("does not exist") || err.contains("doppel load"), "{err}");
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let stored =
        json(&scratch.doppel(&["observe", "--synthetic", "--days", "1", "--until", UNTIL, "--json"]).success());
    // 288 samples a day for each series.
    let (samples, series) = (stored["samples"].as_u64().unwrap(), stored["series"].as_u64().unwrap());
    assert!(series > 100, "{stored}");
    assert_eq!(samples, series * 288, "{stored}");
    // Calibration by the utilisation law gives back the service times the model was
    // written with: the telemetry says what the model says.
    let cal = json(&scratch.doppel(&["calibrate", "--json"]).success());
    let calibrated = cal["calibrated"].as_array().unwrap();
    assert!(calibrated.len() > 20, "{cal}");
    for c in calibrated {
        let (before, after) = (c["before"]["mean_ms"].as_f64().unwrap(), c["after"]["mean_ms"].as_f64().unwrap());
        assert!((after / before - 1.0).abs() < 0.05, "{}: {before} -> {after}", c["endpoint"]);
    }
    let err = stderr(&scratch.doppel(&["observe", "--synthetic", "--days", "0"]).failure());
    assert!(err.contains("0"), "{err}");
}

#[test]
fn forecasts_risks_anomalies_and_causes_on_synthetic_telemetry() {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    // No series yet: each command says how to get some.
    for args in [&["predict"][..], &["anomalies"], &["rca"], &["forecast", "datastore/orders-db.disk_used_bytes"]] {
        let err = stderr(&scratch.doppel(args).failure());
        assert!(err.contains("doppel observe"), "{args:?}: {err}");
    }
    scratch.doppel(&["observe", "--synthetic", "--days", "14", "--until", UNTIL]).success();

    // The disk fills in about 9 days (the telemetry's own schedule), with an interval.
    let f = json(&scratch.doppel(&["forecast", "datastore/orders-db.disk_used_bytes", "--json"]).success());
    let now = f["points"][0][0].as_i64().unwrap();
    let c = &f["crossing"];
    let days = |v: &serde_json::Value| (v.as_i64().unwrap() - now) as f64 / 86_400_000.0;
    assert!((8.0..10.5).contains(&days(&c["at_ms"])), "{c}");
    assert!(days(&c["earliest_ms"]) <= days(&c["at_ms"]), "{c}");
    assert_eq!(f["points"].as_array().unwrap().len(), 168, "hourly for a week");
    let p = &f["points"][0];
    assert!(p[2].as_f64() <= p[1].as_f64() && p[1].as_f64() <= p[3].as_f64(), "{p}");
    // An SVG chart when asked; a misspelt series names near ones.
    let svg = scratch.dir.path().join("disk.svg");
    scratch.doppel(&["forecast", "datastore/orders-db.disk_used_bytes", "--svg", svg.to_str().unwrap()]).success();
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<polygon"));
    let err = stderr(&scratch.doppel(&["forecast", "datastore/orders-db.disk_used"]).failure());
    assert!(err.contains("datastore/orders-db.disk_used_bytes"), "{err}");
    let err =
        stderr(&scratch.doppel(&["forecast", "datastore/orders-db.disk_used_bytes", "--horizon", "soon"]).failure());
    assert!(err.contains("--horizon"), "{err}");

    // Within a week: cart's memory leak; within two: the disk too, later.
    let week = json(&scratch.doppel(&["predict", "--json"]).success());
    let subjects: Vec<&str> =
        week["risks"].as_array().unwrap().iter().map(|r| r["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"deployment/shop/cart.memory_used_bytes"), "{week}");
    assert!(!subjects.contains(&"datastore/orders-db.disk_used_bytes"), "{week}");
    let fortnight = json(&scratch.doppel(&["predict", "--horizon", "14d", "--json"]).success());
    let risks = fortnight["risks"].as_array().unwrap();
    let order: Vec<&str> = risks.iter().map(|r| r["subject"].as_str().unwrap()).collect();
    let (cart, disk) =
        (order.iter().position(|s| s.contains("cart")), order.iter().position(|s| s.contains("orders-db")));
    assert!(cart.unwrap() < disk.unwrap(), "soonest first: {order:?}");

    // The incident three hours ago: search and what calls it.
    let found = json(&scratch.doppel(&["anomalies", "--since", "6h", "--json"]).success());
    let incidents = found["incidents"].as_array().unwrap();
    let search = incidents
        .iter()
        .find(|i| i["entity"] == "service/frontend" && i["attribute"] == "latency_mean_ms:GET /search")
        .unwrap_or_else(|| panic!("{found}"));
    assert!(incidents.iter().all(|i| i["entity"].as_str().unwrap().starts_with("service/")), "{found}");
    let at = search["from_ms"].as_i64().unwrap() + 20 * 60_000;
    let why = json(&scratch.doppel(&["rca", "--at", &at.to_string(), "--json"]).success());
    assert_eq!(why["answer"]["causes"][0]["entity"], "service/search", "{why}");
    assert!(why["answer"]["symptoms"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().contains("GET /search")));
    // Now, nothing is wrong.
    let calm = json(&scratch.doppel(&["rca", "--json"]).success());
    assert!(calm["answer"]["symptoms"].as_array().unwrap().is_empty(), "{calm}");
    assert!(!week["risks"].as_array().unwrap().iter().any(|r| r["kind"] == "drift"), "{week}");

    // Then cart's GetCart answers in three times what the model expects, for 45 minutes:
    // drift, confirmed.
    let mut csv = String::from("entity,attribute,time,value\n");
    for k in 1..=9 {
        csv.push_str(&format!("service/cart,latency_mean_ms:GetCart,{},9.6\n", now + k * 300_000));
        csv.push_str(&format!("service/cart,utilisation,{},0.05\n", now + k * 300_000));
    }
    let file = scratch.file("slow.csv", &csv);
    scratch.doppel(&["observe", file.to_str().unwrap()]).success();
    let risks = json(&scratch.doppel(&["predict", "--json"]).success());
    let drift =
        risks["risks"].as_array().unwrap().iter().find(|r| r["kind"] == "drift").unwrap_or_else(|| panic!("{risks}"));
    assert_eq!(drift["subject"], "service/cart GetCart", "{drift}");
    assert!(drift["what"].as_str().unwrap().contains("what the model expects"), "{drift}");
    assert!(drift["fix"].as_str().unwrap().starts_with("confirmed"), "{drift}");
    // Confirmed drift triggers recalibration when asked: a new version from `calibrate`.
    let before = json(&scratch.doppel(&["history", "--json"]).success());
    let err = stderr(&scratch.doppel(&["predict", "--recalibrate", "--json"]).failure());
    assert!(err.contains("without --json"), "{err}");
    let said = common::stdout(&scratch.doppel(&["predict", "--recalibrate"]).success());
    assert!(said.contains("recalibrating") && said.contains("Calibration"), "{said}");
    let after = json(&scratch.doppel(&["history", "--json"]).success());
    assert_eq!(after.as_array().unwrap().len(), before.as_array().unwrap().len() + 1, "{after}");
}

#[test]
fn a_growing_shop_breaks_an_objective_ahead_and_the_fix_is_checked() {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    // 60% more load a week: within a fortnight an objective breaks.
    scratch.doppel(&["observe", "--synthetic", "--days", "14", "--growth", "0.6", "--until", UNTIL]).success();
    let risks = json(&scratch.doppel(&["predict", "--horizon", "14d", "--json"]).success());
    let slo =
        risks["risks"].as_array().unwrap().iter().find(|r| r["kind"] == "slo").unwrap_or_else(|| panic!("{risks}"));
    // An objective broken, or a queue that cannot settle, at the forecast load.
    assert!(slo["what"].as_str().unwrap().contains("at the forecast load"), "{slo}");
    let fix = slo["fix"].as_str().unwrap();
    assert!(fix.contains("replicas") && fix.contains("checked on a fork: every objective holds"), "{fix}");
    // At today's growth of 5% a week, nothing breaks in a week.
    let calm = Scratch::new();
    calm.doppel(&["load", examples().to_str().unwrap()]).success();
    calm.doppel(&["observe", "--synthetic", "--days", "14", "--until", UNTIL]).success();
    let risks = json(&calm.doppel(&["predict", "--json"]).success());
    assert!(!risks["risks"].as_array().unwrap().iter().any(|r| r["kind"] == "slo"), "{risks}");
    let err = stderr(&calm.doppel(&["observe", "--synthetic", "--growth=-2"]).failure());
    assert!(err.contains("--growth"), "{err}");
}
