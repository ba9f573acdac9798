//! Prediction on the command line: synthetic telemetry and what is predicted from it.

mod common;

use common::{Scratch, json, stderr};

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop")
}

#[test]
fn synthetic_telemetry_agrees_with_the_model_it_came_from() {
    let scratch = Scratch::new();
    let err = stderr(&scratch.doppel(&["observe", "--synthetic"]).failure());
    assert!(err.contains("no store") || err.contains("does not exist") || err.contains("doppel load"), "{err}");
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let stored = json(&scratch.doppel(&["observe", "--synthetic", "--days", "1", "--json"]).success());
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
