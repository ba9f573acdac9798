//! The `doppel` binary end to end: real files, a real SQLite store, real processes.

use doppel_testkit::tools::{Running, otel_python, prometheus_binary};
mod common;

use assert_cmd::Command;
use common::{Scratch, json, scripted_cluster, stderr, stdout};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop")
}

#[test]
fn the_demo_loads_the_bundled_estate_and_tours_it() {
    let scratch = Scratch::new();
    let run = Command::cargo_bin("doppel").unwrap().current_dir(scratch.dir.path()).arg("demo").assert().success();
    let text = stdout(&run);
    assert!(text.contains("loaded") && text.contains("entities"), "{text}");
    assert!(text.contains("service/frontend"), "entry points are listed: {text}");
    assert!(text.contains("blast radius"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour codes when piped");
    // The demo store is a normal store; running the demo again starts it afresh.
    let store = scratch.dir.path().join("doppel-demo.db");
    assert!(store.exists());
    Command::cargo_bin("doppel").unwrap().current_dir(scratch.dir.path()).arg("demo").assert().success();
    let history =
        Command::cargo_bin("doppel").unwrap().arg("--store").arg(&store).args(["history", "--json"]).assert().success();
    assert_eq!(json(&history).as_array().unwrap().len(), 1);
}

#[test]
fn the_demo_refuses_to_replace_a_file_that_is_not_a_store() {
    let scratch = Scratch::new();
    let precious = scratch.file("doppel-demo.db", "my notes, not a database");
    let run = Command::cargo_bin("doppel").unwrap().current_dir(scratch.dir.path()).arg("demo").assert().failure();
    assert!(stderr(&run).contains("not a Doppel store"), "{}", stderr(&run));
    assert_eq!(std::fs::read_to_string(precious).unwrap(), "my notes, not a database");
}

#[test]
fn load_show_deps_and_reload() {
    let scratch = Scratch::new();
    let load = scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    assert!(stdout(&load).contains("stored as version 1"), "{}", stdout(&load));
    let again = scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    assert!(stdout(&again).contains("nothing to change"), "{}", stdout(&again));

    let summary = json(&scratch.doppel(&["show", "--json"]).success());
    assert_eq!(summary["version"], 1);
    assert!(summary["by_kind"]["pod"].as_u64().unwrap() >= 30);

    let services = json(&scratch.doppel(&["show", "kind:service", "--json"]).success());
    assert!(services.as_array().unwrap().iter().any(|s| s["name"] == "checkout"));

    let checkout = json(&scratch.doppel(&["show", "service/checkout", "--json"]).success());
    assert!(checkout["out"].as_array().unwrap().iter().any(|r| r["type"] == "calls" && r["to"] == "service/payment"));

    let deps = stdout(&scratch.doppel(&["deps", "service/checkout", "--depth", "1"]).success());
    assert!(deps.contains("calls service/payment"), "{deps}");
    let blast = json(&scratch.doppel(&["dependents", "zone/us-east-1a", "--json"]).success());
    assert!(blast.as_array().unwrap().iter().any(|s| s["key"] == "service/checkout"));

    let missing = scratch.doppel(&["show", "service/chekout"]).code(4);
    assert!(stderr(&missing).contains("did you mean `service/checkout`"), "{}", stderr(&missing));
    let bad_selector = scratch.doppel(&["show", "servce/x*"]).code(3);
    assert!(stderr(&bad_selector).contains("did you mean `service`"), "{}", stderr(&bad_selector));
}

#[test]
fn every_version_and_time_can_be_read_and_compared() {
    let scratch = Scratch::new();
    let v1 = scratch.file("v1.yaml", "entities:\n  - {kind: service, name: a}\n  - {kind: service, name: b}\n");
    scratch.doppel(&["load", v1.to_str().unwrap()]).success();
    let v2 =
        scratch.file("v2.yaml", "entities:\n  - {kind: service, name: a, team: core}\n  - {kind: service, name: c}\n");
    scratch.doppel(&["load", "--prune", v2.to_str().unwrap(), "-m", "rename b to c"]).success();

    let at_1 = json(&scratch.doppel(&["show", "kind:service", "--json", "--version", "1"]).success());
    let names: Vec<_> = at_1.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["a", "b"]);
    let now = json(&scratch.doppel(&["show", "kind:service", "--json"]).success());
    assert_eq!(now.as_array().unwrap().len(), 2);
    assert_eq!(now[0]["team"], "core");

    let diff = json(&scratch.doppel(&["diff", "1", "head", "--json"]).success());
    assert_eq!(diff["summary"]["entities"]["service"]["added"], 1);
    assert_eq!(diff["summary"]["entities"]["service"]["updated"], 1);
    assert_eq!(diff["summary"]["entities"]["service"]["removed"], 1);

    let history = json(&scratch.doppel(&["history", "--json"]).success());
    assert_eq!(history[0]["summary"], "rename b to c");
    let far_future = scratch.doppel(&["show", "--json", "--at", "2999-01-01T00:00Z"]).success();
    assert_eq!(json(&far_future)["version"], 2);
    let before = scratch.doppel(&["show", "--at", "2001-01-01T00:00Z"]).code(4);
    assert!(stderr(&before).contains("history starts at"), "{}", stderr(&before));
    scratch.doppel(&["show", "--version", "7"]).code(4);
    scratch.doppel(&["show", "--at", "last tuesday"]).code(3);
}

#[test]
fn reading_a_missing_store_says_how_to_make_one() {
    let scratch = Scratch::new();
    let run = scratch.doppel(&["show"]).code(4);
    assert!(stderr(&run).contains("doppel load"), "{}", stderr(&run));
    assert!(!scratch.store().exists(), "reading must not create a store");
}

/// Loads a good estate, then checks that `bad` is refused with exit 3, the message
/// contains each of `expected`, and the store is exactly as it was.
fn refused_and_unchanged(files: &[(&str, &[u8])], expected: &[&str]) {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let before = scratch.fingerprint();
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = scratch.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        paths.push(path.to_str().unwrap().to_string());
    }
    let mut args = vec!["load".to_string()];
    args.extend(paths);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = scratch.doppel(&args).code(3);
    let message = stderr(&run);
    for text in expected {
        assert!(message.contains(text), "expected {text:?} in:\n{message}");
    }
    assert!(message.contains("nothing was stored"), "{message}");
    assert_eq!(scratch.fingerprint(), before, "the store changed");
}

#[test]
fn a_typo_in_a_reference_is_located_and_corrected() {
    // A near miss of a real node of the bundled estate: its last character changed.
    let nodes = std::fs::read_to_string(examples().join("cluster.yaml")).unwrap();
    let real =
        nodes.lines().find_map(|l| l.trim().strip_prefix("name: ip-")).map(|n| format!("ip-{n}")).expect("a node");
    let typo = format!("{}X", &real[..real.len() - 1]);
    let text = format!("entities:\n  - kind: pod\n    name: shop/extra-1\n    runs_on: node/{typo}\n");
    refused_and_unchanged(
        &[("typo.yaml", text.as_bytes())],
        &["typo.yaml:4:14", &format!("did you mean `node/{real}`")],
    );
}

#[test]
fn malformed_yaml_is_refused() {
    refused_and_unchanged(
        &[("bad.yaml", b"entities:\n  - kind: zone\n   name: broken indentation\n")],
        &["bad.yaml:", "not valid YAML"],
    );
}

#[test]
fn a_truncated_file_is_refused() {
    let whole = std::fs::read(examples().join("services.yaml")).unwrap();
    // Cut inside a flow collection or mid-entity; either way it must be refused.
    let cut = whole.iter().position(|&b| b == b'{').map(|i| i + 3).unwrap_or(whole.len() / 2);
    refused_and_unchanged(&[("cut.yaml", &whole[..cut])], &["cut.yaml:"]);
}

#[test]
fn fifty_megabytes_of_garbage_are_refused_quickly() {
    // Random bytes (not text) and random printable text (not an estate).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let bytes: Vec<u8> = (0..50 << 20).map(|_| next() as u8).collect();
    refused_and_unchanged(&[("garbage.bin", &bytes)], &["garbage.bin", "not UTF-8"]);
    let alphabet = b" abcdefghij:-{}[]#&*!|>'\"%@`\n";
    let text: Vec<u8> = (0..50 << 20).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
    let started = std::time::Instant::now();
    refused_and_unchanged(&[("garbage.yaml", &text)], &["garbage.yaml:"]);
    assert!(started.elapsed().as_secs() < 120, "took {:?}", started.elapsed());
}

#[test]
fn a_duplicate_key_is_refused_with_both_places() {
    refused_and_unchanged(
        &[
            ("a.yaml", b"entities:\n  - {kind: service, name: extra}\n"),
            ("b.yaml", b"entities:\n  - {kind: service, name: extra}\n"),
        ],
        &["b.yaml:2:5", "service/extra is defined twice", "a.yaml:2:5"],
    );
    refused_and_unchanged(
        &[("dup.yaml", b"entities:\n  - kind: service\n    name: x\n    kind: zone\n")],
        &["dup.yaml:4:5", "duplicate key `kind`"],
    );
}

#[test]
fn a_relation_between_the_wrong_kinds_is_refused() {
    refused_and_unchanged(
        &[("wrong.yaml", b"relations:\n  - {type: runs_on, from: service/checkout, to: zone/us-east-1a}\n")],
        &["wrong.yaml:2:12", "cannot go from a service to a zone"],
    );
}

#[test]
fn validate_checks_without_storing() {
    let scratch = Scratch::new();
    let good = scratch.doppel(&["validate", examples().to_str().unwrap()]).success();
    assert!(stdout(&good).contains("are valid"), "{}", stdout(&good));
    assert!(!scratch.store().exists());
    let bad = scratch.file("bad.yaml", "entities:\n  - {kind: deploymnet, name: x}\n");
    let run = scratch.doppel(&["validate", bad.to_str().unwrap(), "--json"]).code(3);
    let report = json(&run);
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"][0]["suggestion"], "deployment");
}

#[test]
fn schema_and_gen_produce_loadable_output() {
    let scratch = Scratch::new();
    let schema = json(&scratch.doppel(&["schema"]).success());
    assert!(schema["$schema"].as_str().unwrap().contains("json-schema.org"));
    let a = scratch.doppel(&["gen", "--services", "40", "--seed", "9"]).success().get_output().stdout.clone();
    let b = scratch.doppel(&["gen", "--services", "40", "--seed", "9"]).success().get_output().stdout.clone();
    assert_eq!(a, b, "the same seed gives the same estate");
    let path = scratch.file("gen.yaml", std::str::from_utf8(&a).unwrap());
    scratch.doppel(&["gen", "--services", "40", "--seed", "9", "-o", "gen.json"]).success();
    scratch.doppel(&["load", path.to_str().unwrap()]).success();
    let from_json = scratch.doppel(&["load", scratch.dir.path().join("gen.json").to_str().unwrap()]).success();
    assert!(stdout(&from_json).contains("nothing to change"), "YAML and JSON give the same estate");
}

#[test]
fn a_process_killed_mid_write_loses_no_committed_version() {
    // The reference: the same load, not interrupted.
    let reference = Scratch::new();
    reference.doppel(&["gen", "--services", "1800", "--seed", "1", "-o", "big.yaml"]).success();
    let big = reference.dir.path().join("big.yaml");
    reference.doppel(&["load", examples().to_str().unwrap()]).success();
    let version_1 = reference.fingerprint();
    let started = std::time::Instant::now();
    reference.doppel(&["load", big.to_str().unwrap()]).success();
    let whole_ms = started.elapsed().as_millis() as f64;
    let version_2 = reference.fingerprint();
    assert_ne!(version_1.1, version_2.1);

    let binary = assert_cmd::cargo::cargo_bin("doppel");
    let mut outcomes = Vec::new();
    // Kill at growing fractions of an uninterrupted load: early kills land while parsing,
    // late ones inside the SQLite write (the last part of a load), the last after it.
    // The last is well after the load, even on a busy machine where a load runs slower.
    for fraction in [0.1, 0.6, 0.8, 0.88, 0.94, 0.98, 3.0] {
        let delay_ms = (whole_ms * fraction) as u64;
        let scratch = Scratch::new();
        scratch.doppel(&["load", examples().to_str().unwrap()]).success();
        let mut child = std::process::Command::new(&binary)
            .arg("--store")
            .arg(scratch.store())
            .args(["--quiet", "load"])
            .arg(&big)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no destructor, no rollback code runs.
        let finished = child.wait().unwrap().success();
        // Whatever happened, the store opens and holds version 1 or version 2, whole.
        let now = scratch.fingerprint();
        let head = json(&scratch.doppel(&["history", "--json"]).success())[0]["version"].as_u64().unwrap();
        match head {
            1 => assert_eq!(now.1, version_1.1, "killed after {delay_ms} ms: version 1 changed"),
            2 => assert_eq!(now.1, version_2.1, "killed after {delay_ms} ms: version 2 is not whole"),
            other => panic!("killed after {delay_ms} ms: head is version {other}"),
        }
        assert!(finished || head == 1 || head == 2);
        outcomes.push((delay_ms, head, finished));
    }
    eprintln!("load takes {whole_ms} ms; kills (delay ms, head, finished): {outcomes:?}");
    // The test means something only if some kills interrupted the load and one did not.
    assert!(outcomes.iter().any(|&(_, head, finished)| head == 1 && !finished), "{outcomes:?}");
    assert!(outcomes.iter().any(|&(_, head, _)| head == 2), "{outcomes:?}");
}

#[test]
fn what_if_reports_in_tables_json_and_markdown_and_refuses_bad_scenarios() {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let report = json(&scratch.doppel(&["what-if", "--fail", "external/payment-provider", "--json"]).success());
    let checkout =
        report["entries"].as_array().unwrap().iter().find(|e| e["endpoint"] == "POST /cart/checkout").unwrap();
    assert_eq!(checkout["worst"], "down");
    let md =
        stdout(&scratch.doppel(&["what-if", "--fail", "datastore/cart-redis", "--at", "peak", "--markdown"]).success());
    assert!(md.starts_with("### What if: fail datastore/cart-redis"), "{md}");
    assert!(md.contains("| frontend POST /cart | up | down | 30 s |"), "{md}");
    // A selector that matches nothing is invalid input (3); no fault at all is a usage error (2).
    let nothing = scratch.doppel(&["what-if", "--fail", "zone/us-east-9z"]).code(3);
    assert!(stderr(&nothing).contains("matches nothing in the twin"), "{}", stderr(&nothing));
    scratch.doppel(&["what-if"]).code(2);
    let file = scratch.file("s.yaml", "faults:\n  - fail: zone/us-east-1a\n    when: 3\n");
    let bad = scratch.doppel(&["what-if", "-f", file.to_str().unwrap()]).code(3);
    assert!(stderr(&bad).contains("s.yaml:3:5: faults.0: unknown field `when`"), "{}", stderr(&bad));
}

#[test]
fn spof_availability_and_drills_report_and_refuse_bad_input() {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let sweep = json(&scratch.doppel(&["spof", "--json"]).success());
    let spofs: Vec<&str> =
        sweep["spofs"].as_array().unwrap().iter().map(|s| s["component"].as_str().unwrap()).collect();
    assert!(spofs.contains(&"zone/us-east-1a") && !spofs.contains(&"zone/us-east-1b"), "{spofs:?}");
    // Restricted to zones, the sweep fails only the three zones of us-east-1 and two of us-west-2.
    let zones = json(&scratch.doppel(&["spof", "--only", "kind:zone", "--json"]).success());
    assert_eq!(zones["swept"], 5);
    let md = stdout(&scratch.doppel(&["spof", "--markdown"]).success());
    assert!(md.starts_with("### Single failures"), "{md}");
    assert!(md.contains("- `zone/us-east-1a` cuts off service/frontend POST /cart/checkout"), "{md}");
    scratch.doppel(&["spof", "--only", "zone/nowhere"]).code(3);
    scratch.doppel(&["spof", "--load=-1"]).code(3);

    let avail = json(&scratch.doppel(&["availability", "--samples", "200000", "--json"]).success());
    let first = &avail["entries"][0];
    assert_eq!(first["entry"], "service/frontend POST /cart/checkout");
    assert_eq!(first["meets_slo"], false);
    scratch.doppel(&["availability", "--samples", "0"]).code(2);

    let drill = json(&scratch.doppel(&["what-if", "--drill", "region-loss", "--json"]).success());
    assert_eq!(drill["passed"], false);
    assert!(drill["findings"][0].as_str().unwrap().starts_with("region/us-west-2: its nodes offer 0.0 cores"));
    let zones = stdout(&scratch.doppel(&["what-if", "--drill", "zone-loss"]).success());
    assert!(zones.contains("the drill passes"), "{zones}");
    scratch.doppel(&["what-if", "--drill", "region-loss", "--fail", "zone/us-east-1a"]).code(2);
    // --quiet keeps a load to its one-line outcome.
    let quiet = stdout(&scratch.doppel(&["--quiet", "load", examples().to_str().unwrap()]).success());
    assert_eq!(quiet.lines().count(), 1, "{quiet}");
}

#[test]
fn perf_and_capacity_answer_load_questions_and_refuse_bad_changes() {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let one = json(&scratch.doppel(&["perf", "--json"]).success());
    assert_eq!(one["bottleneck"], "service/catalog");
    let entries = one["entries"].as_array().unwrap();
    let product = entries.iter().find(|e| e["endpoint"] == "service/frontend GET /product/{id}").unwrap();
    let (p50, p99) = (product["analytic"]["p50_ms"].as_f64().unwrap(), product["analytic"]["p99_ms"].as_f64().unwrap());
    assert!(p50 > 5.0 && p50 < p99 && p99 < 700.0, "{product}");
    // Three times the peak overloads the catalog; four more replicas carry it.
    let three = stdout(&scratch.doppel(&["perf", "--load", "3x"]).success());
    assert!(three.contains("cannot carry this load: service/catalog would be 150% busy"), "{three}");
    let scaled = json(
        &scratch
            .doppel(&[
                "perf",
                "--load",
                "3x",
                "--set",
                "replicas:catalog=8",
                "--set",
                "replicas:frontend=12",
                "--set",
                "replicas:recommendation=5",
                "--json",
            ])
            .success(),
    );
    assert!(scaled["error"].is_null(), "{scaled}");
    // Cores twice as fast as the reference halve the catalog's busy share.
    let faster = json(&scratch.doppel(&["perf", "--set", "speed:catalog=2", "--json"]).success());
    let busy = |v: &serde_json::Value| {
        v["stations"].as_array().unwrap().iter().find(|s| s["station"] == "service/catalog").unwrap()["analytic"]["utilisation"]
            .as_f64()
            .unwrap()
    };
    let reference = json(&scratch.doppel(&["perf", "--set", "speed:catalog=1", "--json"]).success());
    assert!((busy(&faster) - busy(&reference) / 2.0).abs() < 1e-9, "{} vs {}", busy(&faster), busy(&reference));
    assert!(busy(&faster) < busy(&one));
    // The simulator agrees with the queueing model at the daily peak within its noise.
    let sim = json(&scratch.doppel(&["perf", "--sim", "--horizon", "60", "--replications", "4", "--json"]).success());
    let sim_product = sim["entries"].as_array().unwrap().iter().find(|e| e["endpoint"] == product["endpoint"]).unwrap();
    let sim_mean = sim_product["simulated"]["mean_ms"]["mean"].as_f64().unwrap();
    let mean = sim_product["analytic"]["mean_ms"].as_f64().unwrap();
    assert!((sim_mean / mean - 1.0).abs() < 0.25, "simulated {sim_mean} vs analytic {mean}");

    let capacity = json(&scratch.doppel(&["capacity", "--target", "3x", "--json"]).success());
    let factor = capacity["saturation_factor"].as_f64().unwrap();
    assert!(factor > 1.0 && factor < 3.0, "{capacity}");
    let catalog = capacity["replicas"].as_array().unwrap().iter().find(|r| r["service"] == "service/catalog").unwrap();
    assert!(catalog["needed"].as_u64().unwrap() > catalog["now"].as_u64().unwrap(), "{capacity}");

    let err = stderr(&scratch.doppel(&["perf", "--set", "replicas:nothing=3"]).failure());
    assert!(err.contains("service/nothing is not a service"), "{err}");
    let err = stderr(&scratch.doppel(&["perf", "--set", "replicas:cart"]).failure());
    assert!(err.contains("expected replicas:SERVICE=N"), "{err}");
    let err = stderr(&scratch.doppel(&["perf", "--set", "instance:cart=z9.huge"]).failure());
    assert!(err.contains("no instance type `z9.huge`"), "{err}");
    scratch.doppel(&["perf", "--load=-2"]).code(3);
}

#[test]
fn perf_answers_under_a_failure_the_resilience_engine_follows() {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let entry = |v: &serde_json::Value, name: &str| {
        v["entries"].as_array().unwrap().iter().find(|e| e["endpoint"] == name).unwrap()["analytic"].clone()
    };
    let busy = |v: &serde_json::Value, name: &str| {
        v["stations"].as_array().unwrap().iter().find(|s| s["station"] == name).unwrap()["analytic"]["utilisation"]
            .as_f64()
            .unwrap()
    };
    let before = json(&scratch.doppel(&["perf", "--json"]).success());
    // Losing a zone: its replicas go; at the worst moment both shipping replicas are lost
    // (checkout fails) and the catalog runs on half its replicas, so it is busier.
    let zone = json(&scratch.doppel(&["perf", "--fail", "zone/us-east-1a", "--json"]).success());
    assert_eq!(zone["failure"]["worst"], true);
    assert_eq!(entry(&zone, "service/frontend POST /cart/checkout")["ok_share"], 0.0, "{zone}");
    assert_eq!(entry(&zone, "service/frontend GET /")["ok_share"], 1.0);
    assert!(busy(&zone, "service/catalog") > busy(&before, "service/catalog") * 1.5, "{zone}");
    let timeline = zone["failure"]["timeline"].as_array().unwrap();
    assert!(timeline.len() > 2 && timeline[0]["t_s"] == 0.0, "{zone}");
    // After the replacements are ready, nothing fails any more.
    let later = json(&scratch.doppel(&["perf", "--fail", "zone/us-east-1a", "--after", "3000", "--json"]).success());
    assert_eq!(later["failure"]["worst"], false);
    assert!(later["failure"]["reported_t_s"].as_f64().unwrap() > 300.0, "{later}");
    assert_eq!(entry(&later, "service/frontend POST /cart/checkout")["ok_share"], 1.0, "{later}");
    // A degradation adds its latency to every call into the service.
    let slow = json(&scratch.doppel(&["perf", "--degrade", "service/cart:latency_ms=300", "--json"]).success());
    let (slow_cart, cart) = (
        entry(&slow, "service/frontend GET /cart")["mean_ms"].as_f64().unwrap(),
        entry(&before, "service/frontend GET /cart")["mean_ms"].as_f64().unwrap(),
    );
    assert!(slow_cart > cart + 250.0, "{slow_cart} vs {cart}");
    let text = stdout(&scratch.doppel(&["perf", "--fail", "zone/us-east-1a"]).success());
    assert!(text.contains("Over time") && text.contains("(its worst moment)"), "{text}");
    assert!(text.contains("service/shipping") && text.contains("down"), "{text}");
    let err = stderr(&scratch.doppel(&["perf", "--after", "60"]).failure());
    assert!(err.contains("--after and --follow need a failure"), "{err}");
    scratch.doppel(&["perf", "--fail", "zone/nowhere"]).failure();
}

#[test]
fn telemetry_calibrates_service_times_and_measures_the_model() {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let csv = scratch.dir.path().join("telemetry.csv");
    std::fs::write(
        &csv,
        "entity,attribute,time,value\n\
         service/catalog,utilisation,2026-11-20T10:00Z,0.55\n\
         service/catalog,utilisation,2026-11-20T10:05Z,0.65\n\
         service/catalog,request_rate_rps:ListProducts,2026-11-20T10:00Z,100\n\
         service/catalog,request_rate_rps:GetProduct,2026-11-20T10:00Z,400\n\
         service/catalog,request_rate_rps:UpdateProduct,2026-11-20T10:00Z,0\n\
         service/frontend,request_rate_rps:GET /product/{id},2026-11-20T10:00Z,280\n\
         service/frontend,latency_mean_ms:GET /product/{id},2026-11-20T10:00Z,60\n\
         service/frontend,latency_p99_ms:GET /product/{id},2026-11-20T10:00Z,300\n",
    )
    .unwrap();
    // Nothing observed yet: calibration says so.
    let err = stderr(&scratch.doppel(&["calibrate"]).failure());
    assert!(err.contains("no telemetry to calibrate from"), "{err}");
    let stored = json(&scratch.doppel(&["observe", csv.to_str().unwrap(), "--json"]).success());
    assert_eq!(stored["samples"], 8);

    let cal = json(&scratch.doppel(&["calibrate", "--json"]).success());
    // The utilisation law: 60% of 4 servers busy is 2,400 ms of work per second.
    let work = catalog_work_ms_per_s(&cal);
    assert!((work - 2400.0).abs() < 1e-6, "{work}: {cal}");
    assert_eq!(cal["version"], serde_json::Value::Null, "nothing is applied without --apply");
    let fid = &cal["fidelity_before"][0];
    assert_eq!(fid["entry"], "service/frontend GET /product/{id}");
    assert!((fid["observed_mean_ms"].as_f64().unwrap() - 60.0).abs() < 1e-9);
    // perf shows the model's error beside its predictions.
    let perf = stdout(&scratch.doppel(&["perf"]).success());
    assert!(perf.contains("MODEL ERROR") || perf.contains("model error"), "{perf}");
    let perf = json(&scratch.doppel(&["perf", "--json"]).success());
    let error = perf["fidelity"]["entries"][0]["mean_error"].as_f64().unwrap();
    assert!((error - fid["mean_error"].as_f64().unwrap()).abs() < 1e-9, "{perf}");

    // --apply commits the calibrated times as one ChangeSet from the `calibrate` source.
    let applied = json(&scratch.doppel(&["calibrate", "--apply", "--json"]).success());
    assert!(applied["version"].as_u64().unwrap() > 1, "{applied}");
    let history = stdout(&scratch.doppel(&["history"]).success());
    assert!(history.contains("calibrate"), "{history}");
    let again = json(&scratch.doppel(&["calibrate", "--json"]).success());
    for c in again["calibrated"].as_array().unwrap() {
        let (b, a) = (c["before"]["mean_ms"].as_f64().unwrap(), c["after"]["mean_ms"].as_f64().unwrap());
        assert!((a / b - 1.0).abs() < 1e-3, "calibrated twice: {c}");
    }

    // Bad telemetry is refused with its place, and nothing is stored.
    let wide = json(&scratch.doppel(&["calibrate", "--window", "1e12", "--json"]).success());
    let bad = scratch.dir.path().join("bad.csv");
    std::fs::write(&bad, "entity,attribute,time,value\nservice/catalog,utilisation,now,1\n").unwrap();
    let err = stderr(&scratch.doppel(&["observe", bad.to_str().unwrap()]).failure());
    assert!(err.contains("bad.csv:2: time:"), "{err}");
    std::fs::write(&bad, "entity,attribute,time,value\nservice/nothing,utilisation,1,1\n").unwrap();
    let err = stderr(&scratch.doppel(&["observe", bad.to_str().unwrap()]).failure());
    assert!(err.contains("service/nothing is not in the twin"), "{err}");
    std::fs::write(
        &bad,
        "entity,attribute,time,value\nservice/catalog,utilisation,1,0.1\nservice/catalog,utilisation,2,1.5\n",
    )
    .unwrap();
    let err = stderr(&scratch.doppel(&["observe", bad.to_str().unwrap()]).failure());
    assert!(err.contains("bad.csv:3: utilisation is 1.5; expected a share from 0 to 1"), "{err}");
    let after = json(&scratch.doppel(&["calibrate", "--window", "1e12", "--json"]).success());
    assert_eq!(after, wide, "the refused file stored nothing");
}

/// The catalog's calibrated work per second at 100 ListProducts and 400 GetProduct a
/// second, from `doppel calibrate --json`.
fn catalog_work_ms_per_s(cal: &serde_json::Value) -> f64 {
    let after = |name: &str| {
        cal["calibrated"].as_array().unwrap().iter().find(|c| c["endpoint"] == name).unwrap()["after"]["mean_ms"]
            .as_f64()
            .unwrap()
    };
    100.0 * after("service/catalog ListProducts") + 400.0 * after("service/catalog GetProduct")
}

fn sources_fixtures(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../doppel-sources/tests/fixtures").join(path)
}

#[test]
fn import_terraform_commits_a_state_then_a_plan_and_refuses_bad_documents() {
    let scratch = Scratch::new();
    let state = sources_fixtures("terraform/shop-state.json");
    let plan = sources_fixtures("terraform/shop-plan.json");
    let state = state.to_str().unwrap();

    let dry = scratch.doppel(&["import", "terraform", "--dry-run", state]).success();
    assert!(stdout(&dry).contains("dry run: nothing stored"), "{}", stdout(&dry));
    let first = json(&scratch.doppel(&["import", "terraform", state, "--json"]).success());
    assert_eq!(first["version"], 1, "the dry run stored nothing, so this is version 1");
    assert_eq!(first["imported"]["subnet"], 3);
    assert_eq!(first["imported"]["security-group"], 3);
    assert_eq!(first["relations_by_type"]["grants"], 3);
    let warnings = first["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w["subject"] == "aws_lambda_function" && w["count"] == 1), "{warnings:?}");
    assert!(warnings.iter().any(|w| w["kind"] == "skipped" && w["subject"] == "data.aws_caller_identity"));

    let again = scratch.doppel(&["import", "terraform", state]).success();
    assert!(stdout(&again).contains("nothing to change"), "{}", stdout(&again));
    let history = json(&scratch.doppel(&["history", "--json"]).success());
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert!(history[0]["summary"].as_str().unwrap().contains("terraform"), "{history}");

    let sg = json(&scratch.doppel(&["show", "security-group/aws_security_group.web", "--json"]).success());
    assert!(sg.to_string().contains("8080"), "{sg}");

    let planned = scratch.doppel(&["import", "terraform", plan.to_str().unwrap()]).success();
    let text = stdout(&planned);
    assert!(text.contains("Plan: 3 to create, 2 to update, 1 to delete, 1 to replace"), "{text}");
    assert!(text.contains("-/+ aws_nat_gateway.a"), "{text}");
    assert!(text.contains("stored as version 2"), "{text}");
    scratch.doppel(&["show", "datastore/aws_s3_bucket.assets"]).code(4);
    scratch.doppel(&["show", "subnet/aws_subnet.private_c"]).success();

    let before = scratch.fingerprint();
    for (bad, expected) in [
        ("bad/format-2.json", "format_version `2.0` is not understood"),
        ("bad/truncated.json", "truncated.json:29:"),
        ("bad/bad-cidr.json", "resources[1].values.cidr_block"),
    ] {
        let path = sources_fixtures(&format!("terraform/{bad}"));
        let refused = scratch.doppel(&["import", "terraform", path.to_str().unwrap()]).code(3);
        assert!(stderr(&refused).contains(expected), "{bad}: {}", stderr(&refused));
        assert!(stderr(&refused).contains("nothing was stored"), "{}", stderr(&refused));
    }
    assert_eq!(scratch.fingerprint(), before, "a refused import changed the store");
}

#[test]
fn import_terraform_reads_standard_input() {
    let scratch = Scratch::new();
    let text = std::fs::read_to_string(sources_fixtures("terraform/shop-state.json")).unwrap();
    let run = Command::cargo_bin("doppel")
        .unwrap()
        .arg("--store")
        .arg(scratch.store())
        .args(["import", "terraform", "-", "--json"])
        .write_stdin(text)
        .assert()
        .success();
    assert_eq!(json(&run)["imported"]["host"], 1);
}

#[test]
fn import_k8s_commits_manifests_once_and_refuses_bad_ones() {
    let scratch = Scratch::new();
    let shop = sources_fixtures("kubernetes/shop");
    let shop = shop.to_str().unwrap();
    let first = json(&scratch.doppel(&["import", "k8s", shop, "--json"]).success());
    assert_eq!(first["version"], 1);
    assert_eq!(first["imported"]["deployment"], 3);
    let dependencies = first["dependencies"].as_array().unwrap();
    assert!(
        dependencies.iter().any(|d| d == "deployment/shop/storefront -> k8s-service/shop/basket"),
        "{dependencies:?}"
    );
    assert!(first["warnings"].as_array().unwrap().iter().any(|w| w["subject"] == "Certificate"));
    let again = scratch.doppel(&["import", "k8s", shop]).success();
    assert!(stdout(&again).contains("nothing to change"), "{}", stdout(&again));
    let history = json(&scratch.doppel(&["history", "--json"]).success());
    assert_eq!(history.as_array().unwrap().len(), 1);
    scratch.doppel(&["show", "deployment/shop/storefront"]).success();

    let before = scratch.fingerprint();
    let bad = sources_fixtures("kubernetes/bad/wrong-type.yaml");
    let refused = scratch.doppel(&["import", "k8s", bad.to_str().unwrap()]).code(3);
    assert!(stderr(&refused).contains("wrong-type.yaml:5:"), "{}", stderr(&refused));
    assert_eq!(scratch.fingerprint(), before);
}

/// A scripted Prometheus HTTP API: answers each query (a bare metric name) with its vector.
fn scripted_prometheus(answers: &'static [(&'static str, &'static str)]) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
                line.clear();
            }
            let query = first.split("query=").nth(1).and_then(|q| q.split([' ', '&']).next()).unwrap_or("");
            let (status, body) = match answers.iter().find(|(q, _)| *q == query) {
                Some((_, result)) => {
                    ("200 OK", format!(r#"{{"status":"success","data":{{"resultType":"vector","result":{result}}}}}"#))
                }
                None => ("500 Internal Server Error", "down".to_string()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn a_prometheus_import_stores_samples_that_calibration_reads() {
    let scratch = Scratch::new();
    scratch.doppel(&["load", examples().to_str().unwrap()]).success();
    let at = "1795168800";
    let url = scripted_prometheus(Box::leak(Box::new([
        ("shop_utilisation", Box::leak(format!(r#"[{{"metric":{{"service":"catalog"}},"value":[{at},"0.6"]}},{{"metric":{{"service":"ghost"}},"value":[{at},"0.9"]}}]"#).into_boxed_str()) as &str),
        ("shop_rate", Box::leak(format!(r#"[{{"metric":{{"service":"catalog","endpoint":"ListProducts"}},"value":[{at},"100"]}},{{"metric":{{"service":"catalog","endpoint":"GetProduct"}},"value":[{at},"400"]}},{{"metric":{{"service":"catalog","endpoint":"UpdateProduct"}},"value":[{at},"0"]}},{{"metric":{{"service":"frontend","endpoint":"GET /product/{{id}}"}},"value":[{at},"280"]}}]"#).into_boxed_str())),
        ("shop_latency_mean_seconds", Box::leak(format!(r#"[{{"metric":{{"service":"frontend","endpoint":"GET /product/{{id}}"}},"value":[{at},"0.06"]}}]"#).into_boxed_str())),
    ])));
    let bindings = scratch.dir.path().join("bindings.yaml");
    std::fs::write(
        &bindings,
        format!(
            "prometheus:\n  url: {url}\n  bindings:\n\
             \x20   - {{series: utilisation, entity: 'service/{{{{service}}}}', query: shop_utilisation}}\n\
             \x20   - {{series: request_rate_rps, entity: 'service/{{{{service}}}}', endpoint: '{{{{endpoint}}}}', query: shop_rate}}\n\
             \x20   - {{series: latency_mean_ms, entity: 'service/{{{{service}}}}', endpoint: '{{{{endpoint}}}}', query: shop_latency_mean_seconds, scale: 1000}}\n"
        ),
    )
    .unwrap();
    let b = bindings.to_str().unwrap();
    // A dry run stores nothing.
    let dry = json(&scratch.doppel(&["import", "prometheus", "--bindings", b, "--dry-run", "--json"]).success());
    assert_eq!((dry["samples"].as_u64(), dry["stored"].as_u64()), (Some(6), Some(0)), "{dry}");
    scratch.doppel(&["calibrate"]).failure();
    let text = stdout(&scratch.doppel(&["import", "prometheus", "--bindings", b]).success());
    assert!(text.contains("request_rate_rps:GetProduct") && text.contains("service/catalog"), "{text}");
    assert!(text.contains("service/ghost matches no entity in the twin"), "{text}");
    assert!(text.contains("stored 6 samples of 6 series from 3 queries"), "{text}");
    // Calibration reads them: 60% of the catalog's 4 servers is 2,400 ms of work a second.
    let cal = json(&scratch.doppel(&["calibrate", "--json"]).success());
    let work = catalog_work_ms_per_s(&cal);
    assert!((work - 2400.0).abs() < 1e-6, "{work}: {cal}");
    assert!((cal["fidelity_before"][0]["observed_mean_ms"].as_f64().unwrap() - 60.0).abs() < 1e-9, "{cal}");
    // A server error names the source, URL and query, and stores nothing.
    std::fs::write(
        &bindings,
        "prometheus:\n  bindings:\n    - {series: utilisation, entity: 'service/{{service}}', query: nothing_here}\n",
    )
    .unwrap();
    let err = stderr(&scratch.doppel(&["import", "prometheus", "--bindings", b, "--url", &url]).failure());
    assert!(
        err.contains(&format!("{url}/api/v1/query: query `nothing_here`: HTTP 500"))
            && err.contains("nothing was stored"),
        "{err}"
    );
    let err = stderr(&scratch.doppel(&["import", "prometheus", "--bindings", b]).failure());
    assert!(err.contains("no server: give --url"), "{err}");
}

#[test]
fn import_k8s_cluster_lists_a_live_cluster_and_prunes_what_it_lost() {
    let deployment = |name: &str| {
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"shop","resourceVersion":"5"}},"spec":{{"replicas":2,"selector":{{"matchLabels":{{"app":"{name}"}}}},"template":{{"metadata":{{"labels":{{"app":"{name}"}}}},"spec":{{"containers":[{{"name":"main","image":"shop/{name}:1"}}]}}}}}}}}"#
        )
    };
    let lists = std::sync::Arc::new(std::sync::Mutex::new(vec![
        ("/apis/apps/v1/deployments", format!("{},{}", deployment("cart"), deployment("search"))),
        ("/api/v1/namespaces", r#"{"metadata":{"name":"shop","resourceVersion":"3"}}"#.to_string()),
    ]));
    let url = scripted_cluster(lists.clone());
    let scratch = Scratch::new();
    let kubeconfig = scratch.file(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: recorded, cluster: {{server: '{url}'}}}}]\n\
             users: [{{name: nobody, user: {{}}}}]\n\
             contexts: [{{name: recorded, context: {{cluster: recorded, user: nobody}}}}]\ncurrent-context: recorded\n"
        ),
    );
    let kubeconfig = kubeconfig.to_str().unwrap();
    let dry = json(
        &scratch.doppel(&["import", "k8s", "--cluster", "--kubeconfig", kubeconfig, "--dry-run", "--json"]).success(),
    );
    assert_eq!(dry["version"], serde_json::Value::Null);
    assert_eq!(dry["imported"]["deployment"], 2);
    let first = json(&scratch.doppel(&["import", "k8s", "--cluster", "--kubeconfig", kubeconfig, "--json"]).success());
    assert_eq!(first["version"], 1);
    assert_eq!(first["imported"]["deployment"], 2);
    assert_eq!(first["imported"]["namespace"], 1);
    scratch.doppel(&["show", "deployment/shop/search"]).success();

    lists.lock().unwrap()[0].1 = deployment("cart");
    let second = json(&scratch.doppel(&["import", "k8s", "--cluster", "--kubeconfig", kubeconfig, "--json"]).success());
    assert_eq!(second["version"], 2);
    assert_eq!(second["changes"]["entities"]["deployment"]["removed"], 1, "{second}");
    scratch.doppel(&["show", "deployment/shop/search"]).failure();
    scratch.doppel(&["show", "deployment/shop/cart"]).success();

    let refused = scratch.doppel(&["import", "k8s", "--cluster", "--kubeconfig", "no-such-kubeconfig"]).failure();
    assert!(
        stderr(&refused).contains("source `kubernetes`: cannot read the kubeconfig no-such-kubeconfig"),
        "{}",
        stderr(&refused)
    );
    let usage = scratch.doppel(&["import", "k8s", "--kubeconfig", kubeconfig]).failure();
    assert!(stderr(&usage).contains("--cluster"), "{}", stderr(&usage));
}

#[test]
fn receive_commits_the_call_graph_the_opentelemetry_python_sdk_sends() {
    use doppel_model::{RelKey, RelKind, RelSpec, TwinView};
    use doppel_store::Store;
    use std::io::BufRead;
    let python = otel_python();
    let scratch = Scratch::new();
    // The estate declares the frontend and its call to cart, with a timeout traces cannot know.
    let estate = scratch.file(
        "estate.yaml",
        "entities:\n  - kind: service\n    name: frontend\n  - kind: service\n    name: cart\nrelations:\n  - from: service/frontend\n    type: calls\n    to: service/cart\n    timeout_ms: 800\n",
    );
    scratch.doppel(&["load", estate.to_str().unwrap()]).success();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("doppel"))
        .arg("--store")
        .arg(scratch.store())
        .args(["receive", "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0"])
        .args(["--interval", "15s", "--pending-age", "1s", "--max-rounds", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let http = lines.next().unwrap().unwrap();
    let grpc = lines.next().unwrap().unwrap();
    let http = http.strip_prefix("listening for OTLP/HTTP on ").expect(&http).to_string();
    let grpc = grpc.strip_prefix("listening for OTLP/gRPC on ").expect(&grpc).to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../doppel-sources/tests/fixtures/otlp/send_spans.py");
    let sent = std::process::Command::new(python)
        .arg(script)
        .args(["--http", &http, "--grpc", &grpc, "--requests", "200", "--rate", "20"])
        .output()
        .unwrap();
    assert!(sent.status.success(), "send_spans.py: {}", String::from_utf8_lossy(&sent.stderr));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("doppel receive did not stop after its one round");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(status.success(), "{rest:?}");
    assert!(rest[0].starts_with("round 1: committed version 2: "), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("warning: 4 client spans called a peer")), "{rest:?}");

    let store = doppel_store::SqliteStore::open_existing(scratch.store()).unwrap();
    let twin = store.twin_at(doppel_store::At::Head, None).unwrap();
    let rate = |from: &str, to: &str| {
        let key = RelKey { from: from.parse().unwrap(), kind: RelKind::Calls, to: to.parse().unwrap() };
        match twin.relation(&key) {
            Some(RelSpec::Calls(attrs)) => (attrs.rate_rps.unwrap(), attrs.timeout_ms),
            other => panic!("no {key}: {other:?}"),
        }
    };
    for (from, to, want) in [
        ("service/frontend", "service/cart", 20.0),
        ("service/cart", "datastore/redis", 40.0),
        ("service/frontend", "external/api.payments.example", 10.0),
        ("service/cart", "queue/cart-events", 5.0),
    ] {
        let (got, _) = rate(from, to);
        assert!((got - want).abs() <= 0.05 * want, "{from} -> {to}: {got} rps, sent {want}");
    }
    assert_eq!(rate("service/frontend", "service/cart").1, Some(800.0), "the declared timeout stays");
    let frontend = twin.entity(&"service/frontend".parse().unwrap()).unwrap();
    assert_eq!(frontend.labels.get("doppel.dev/source"), None, "the estate's frontend is not taken over");
    let redis = twin.entity(&"datastore/redis".parse().unwrap()).unwrap();
    assert_eq!(redis.labels.get("doppel.dev/source"), Some("otlp"));
    let samples = store.samples(&"service/cart".parse().unwrap(), "service_time_ms", i64::MIN, i64::MAX).unwrap();
    assert_eq!(samples.len(), 1);
    assert!((samples[0].1 - 15.5).abs() <= 0.05 * 15.5, "cart service time {:?}", samples);
}

/// The bar of live sync: a real Prometheus (scraping a real exporter, with a recording rule)
/// remote-writes and the OpenTelemetry Python SDK sends spans to one running `doppel
/// receive`; the stored rates and the twin's call graph match what was sent within 5%.
#[test]
fn a_real_prometheus_and_the_opentelemetry_sdk_feed_one_running_doppel() {
    use doppel_model::{RelKey, RelKind, RelSpec, TwinView};
    use doppel_store::Store;
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let python = otel_python();
    let prometheus = prometheus_binary();
    let scratch = Scratch::new();
    let estate = scratch
        .file("estate.yaml", "entities:\n  - kind: service\n    name: frontend\n  - kind: service\n    name: cart\n");
    scratch.doppel(&["load", estate.to_str().unwrap()]).success();
    let bindings = scratch.file(
        "bindings.yaml",
        "prometheus:\n  bindings:\n    - series: request_rate_rps\n      entity: service/{{service}}\n      metric: 'shop:requests:rate5s'\n    - series: utilisation\n      entity: service/{{service}}\n      metric: shop_utilisation\n",
    );

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../doppel-sources/tests/fixtures");
    let mut exporter = Command::new("python3")
        .arg(fixtures.join("prometheus/exporter.py"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut port = String::new();
    std::io::BufReader::new(exporter.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let _exporter = Running(exporter);

    let mut doppel = Command::new(assert_cmd::cargo::cargo_bin("doppel"))
        .arg("--store")
        .arg(scratch.store())
        .args(["receive", "--remote-write", "127.0.0.1:0", "--bindings", bindings.to_str().unwrap()])
        .args(["--otlp-http", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0"])
        .args(["--interval", "20s", "--pending-age", "1s", "--max-rounds", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let stdout = doppel.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut doppel = Running(doppel);
    let (mut remote, mut http, mut grpc) = (None, None, None);
    let mut seen = Vec::new();
    while remote.is_none() || http.is_none() || grpc.is_none() {
        let line =
            lines_rx.recv_timeout(std::time::Duration::from_secs(30)).expect("doppel receive prints its addresses");
        if let Some(a) = line.strip_prefix("listening on ") {
            remote = Some(a.to_string());
        } else if let Some(a) = line.strip_prefix("listening for OTLP/HTTP on ") {
            http = Some(a.to_string());
        } else if let Some(a) = line.strip_prefix("listening for OTLP/gRPC on ") {
            grpc = Some(a.to_string());
        }
        seen.push(line);
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: shop\n    interval: 1s\n    rules:\n      - record: 'shop:requests:rate5s'\n        expr: sum by (service) (rate(shop_requests_total[5s]))\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{rules}]\n\
             scrape_configs:\n  - job_name: shop\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n\
             remote_write:\n  - url: {remote}\n    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}\n",
            rules = dir.path().join("rules.yml").display(),
            port = port.trim(),
            remote = remote.unwrap(),
        ),
    )
    .unwrap();
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = Command::new(&prometheus)
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let _server = Running(server);

    let script = fixtures.join("otlp/send_spans.py");
    let sent = Command::new(python)
        .arg(script)
        .args([
            "--http",
            http.as_deref().unwrap(),
            "--grpc",
            grpc.as_deref().unwrap(),
            "--requests",
            "200",
            "--rate",
            "20",
        ])
        .output()
        .unwrap();
    assert!(sent.status.success(), "send_spans.py: {}", String::from_utf8_lossy(&sent.stderr));

    // The traces' round commits once; remote-write stores as requests come.
    let store_path = scratch.store().to_path_buf();
    let rates = || {
        let store = doppel_store::SqliteStore::open_existing(&store_path).unwrap();
        store.samples(&"service/cart".parse().unwrap(), "request_rate_rps", i64::MIN, i64::MAX).unwrap()
    };
    let started = std::time::Instant::now();
    // Rates from the first 10 s of the rule's life are over a window not yet full.
    let steady = |rates: &[(i64, f64)]| -> Vec<(i64, f64)> {
        rates.iter().filter(|r| r.0 >= rates[0].0 + 10_000).copied().collect()
    };
    while !seen.iter().any(|l| l.starts_with("round 1:")) || steady(&rates()).len() < 3 {
        assert!(started.elapsed() < std::time::Duration::from_secs(90), "no commit round or rates: {seen:?}");
        if let Ok(line) = lines_rx.recv_timeout(std::time::Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    let _ = doppel.0.kill();

    let store = doppel_store::SqliteStore::open_existing(scratch.store()).unwrap();
    let twin = store.twin_at(doppel_store::At::Head, None).unwrap();
    let rate = |from: &str, to: &str| {
        let key = RelKey { from: from.parse().unwrap(), kind: RelKind::Calls, to: to.parse().unwrap() };
        match twin.relation(&key) {
            Some(RelSpec::Calls(attrs)) => attrs.rate_rps.unwrap(),
            other => panic!("no {key}: {other:?} ({seen:?})"),
        }
    };
    for (from, to, want) in [
        ("service/frontend", "service/cart", 20.0),
        ("service/cart", "datastore/redis", 40.0),
        ("service/frontend", "external/api.payments.example", 10.0),
    ] {
        let got = rate(from, to);
        assert!((got - want).abs() <= 0.05 * want, "{from} -> {to}: {got} rps, sent {want}");
    }
    // The exporter's counter rises by 10 a second.
    let rates = rates();
    for (ts, value) in steady(&rates) {
        assert!((value - 10.0).abs() <= 0.5, "cart's request rate at {ts}: {value}, sent 10 ({rates:?})");
    }
    let utilisation = store.samples(&"service/cart".parse().unwrap(), "utilisation", i64::MIN, i64::MAX).unwrap();
    assert!(!utilisation.is_empty() && utilisation.iter().all(|s| s.1 == 0.4), "{utilisation:?}");
}
