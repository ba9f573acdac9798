//! `doppel sync` and `doppel drift` end to end: the real binary, real SQLite files, the
//! fixtures under `tests/fixtures/sync` and a scripted Kubernetes API.

mod common;

use common::{Scratch, json, scripted_cluster, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sync")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// The JSON lines `sync --json` prints: one per pull, then the summary.
fn events(assert: &assert_cmd::assert::Assert) -> Vec<Value> {
    stdout(assert).lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

fn pulls_of<'a>(events: &'a [Value], source: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == "pull" && e["source"] == source).collect()
}

/// When `source` last saw `key`, from `doppel show KEY --json`.
fn last_seen(scratch: &Scratch, key: &str, source: &str) -> i64 {
    let shown = json(&scratch.doppel(&["show", key, "--json"]).success());
    let seen = shown["seen"].as_array().expect("seen is listed");
    seen.iter().find(|s| s["source"] == source).and_then(|s| s["last_seen_ms"].as_i64()).expect("seen by the source")
}

#[test]
fn sync_once_commits_and_a_second_once_commits_nothing_but_refreshes_freshness() {
    let scratch = Scratch::new();
    let sources = format!(
        "interval: 30s\nsources:\n  - kubernetes: {{name: manifests, paths: ['{}'], prune: true}}\n  - terraform:\n      name: infra\n      files: ['{}']\n      interval: 5m\n",
        fixture("manifests"),
        fixture("tf/state.json")
    );
    scratch.file("sources.yaml", &sources);
    let first = scratch.doppel(&["sync", "-c", "sources.yaml", "--once", "--json"]).success();
    let first = events(&first);
    let manifests = pulls_of(&first, "manifests");
    let infra = pulls_of(&first, "infra");
    assert_eq!((manifests.len(), infra.len()), (1, 1), "{first:?}");
    assert_eq!(manifests[0]["outcome"], "committed");
    assert_eq!(manifests[0]["entities"]["added"], 4, "namespace, two deployments, a service: {first:?}");
    assert_eq!(infra[0]["outcome"], "committed");
    let summary = first.last().unwrap();
    assert_eq!((summary["commits"].as_u64(), summary["version"].as_u64()), (Some(2), Some(2)), "{summary}");
    let history = json(&scratch.doppel(&["history", "--json"]).success());
    let committed_by: Vec<&str> = history.as_array().unwrap().iter().map(|c| c["source"].as_str().unwrap()).collect();
    assert_eq!(committed_by.len(), 2);
    assert!(committed_by.contains(&"kubernetes") && committed_by.contains(&"terraform"), "{committed_by:?}");
    let before = last_seen(&scratch, "deployment/shop/cart", "manifests");
    let sg_before = last_seen(&scratch, "security-group/aws_security_group.web", "infra");

    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = scratch.doppel(&["sync", "-c", "sources.yaml", "--once", "--json"]).success();
    let second = events(&second);
    assert!(second.iter().filter(|e| e["event"] == "pull").all(|e| e["outcome"] == "unchanged"), "{second:?}");
    assert_eq!(second.last().unwrap()["commits"], 0);
    assert_eq!(json(&scratch.doppel(&["history", "--json"]).success()).as_array().unwrap().len(), 2, "no new version");
    let after = last_seen(&scratch, "deployment/shop/cart", "manifests");
    assert!(after > before, "freshness moved on without a commit: {before} -> {after}");
    assert!(last_seen(&scratch, "security-group/aws_security_group.web", "infra") > sg_before);

    let text = stdout(&scratch.doppel(&["show", "deployment/shop/cart"]).success());
    assert!(text.contains("last seen") && text.contains("by manifests"), "{text}");
    let text = stdout(&scratch.doppel(&["sync", "-c", "sources.yaml", "--once"]).success());
    assert!(text.contains("manifests") && text.contains("no change at version 2"), "{text}");
    assert!(text.contains("2 pulls: 0 commits, 0 failed; the twin is at version 2"), "{text}");
}

#[test]
fn a_failing_source_is_reported_and_the_others_still_commit() {
    let scratch = Scratch::new();
    // Port 1 on the loopback: nothing listens there.
    let bindings = scratch.file(
        "bindings.yaml",
        "prometheus:\n  bindings:\n    - series: request_rate_rps\n      entity: 'service/{{service}}'\n      query: 'sum by (service) (rate(x[5m]))'\n",
    );
    let sources = format!(
        "sources:\n  - terraform: {{name: infra, files: [missing-state.json]}}\n  - prometheus: {{name: metrics, bindings: '{}', url: 'http://127.0.0.1:1', timeout_s: 2}}\n  - kubernetes: {{name: manifests, paths: ['{}']}}\n",
        bindings.display(),
        fixture("manifests")
    );
    scratch.file("sources.yaml", &sources);
    let run = scratch.doppel(&["sync", "-c", "sources.yaml", "--once"]).failure().code(6);
    let (out, err) = (stdout(&run), stderr(&run));
    assert!(
        out.contains("infra") && out.contains("source `infra`: cannot read") && out.contains("missing-state.json"),
        "{out}"
    );
    assert!(out.contains("source `metrics`: http://127.0.0.1:1/api/v1/query"), "{out}");
    assert!(out.contains("the twin is as it was"), "{out}");
    assert!(out.contains("manifests") && out.contains("version 1"), "{out}");
    assert!(err.contains("2 of 3 pulls failed (infra, metrics)"), "{err}");
    scratch.doppel(&["show", "deployment/shop/cart"]).success();
    let history = json(&scratch.doppel(&["history", "--json"]).success());
    assert_eq!(history.as_array().unwrap().len(), 1, "only the manifests committed");
    // Failed sources recorded nothing: no record for drift, no freshness.
    let drift = json(&scratch.doppel(&["drift", "--json"]).success());
    let names: Vec<&str> = drift["sources"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["manifests"]);
}

#[test]
fn sources_file_errors_name_the_file_the_line_and_the_key() {
    let scratch = Scratch::new();
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "unknown-key.yaml",
            "sources:\n  - kubernetes:\n      paths: [k8s]\n      prnue: true\n",
            &["unknown-key.yaml:4:7", "sources[0].kubernetes.prnue", "unknown field `prnue`", "`prune`", "`interval`"],
        ),
        (
            "unknown-section.yaml",
            "sources:\n  - kubernetes: {paths: [k8s]}\n  - helm: {chart: x}\n",
            &["unknown-section.yaml:3:5", "unknown section `helm`", "`kubernetes_cluster`"],
        ),
        (
            "bad-interval.yaml",
            "interval: soon\nsources:\n  - estate: {paths: [e]}\n",
            &["bad-interval.yaml:1:11", "interval", "`soon`"],
        ),
        (
            "same-name.yaml",
            "sources:\n  - terraform: {files: [a.json]}\n  - terraform: {files: [b.json]}\n",
            &["same-name.yaml:3:16", "`terraform` is already used by the source at line 2"],
        ),
        ("top-level.yaml", "sources: []\ncolour: blue\n", &["top-level.yaml:2:1", "unknown key `colour`"]),
        (
            "cluster.yaml",
            "sources:\n  - kubernetes_cluster:\n      name: prod\n      namespace: [shop]\n",
            &["cluster.yaml:4:7", "sources[0].kubernetes_cluster.namespace", "`namespaces`"],
        ),
    ];
    for (name, text, expected) in cases {
        scratch.file(name, text);
        let run = scratch.doppel(&["sync", "-c", name, "--once"]).failure().code(3);
        let err = stderr(&run);
        for part in expected {
            assert!(err.contains(part), "{name}: `{part}` not in: {err}");
        }
    }
    let missing = scratch.doppel(&["sync", "-c", "no-such.yaml", "--once"]).failure().code(4);
    assert!(stderr(&missing).contains("no-such.yaml: no such file"), "{}", stderr(&missing));
}

/// Every source of the drift fixtures: declared manifests, estate and Terraform; the
/// running namespace and the traces as observers.
fn drift_sources() -> String {
    format!(
        "sources:\n  - kubernetes: {{name: manifests, paths: ['{}'], prune: true}}\n  - estate: {{name: architecture, paths: ['{}']}}\n  - kubernetes: {{name: running, paths: ['{}'], prune: true, role: observed}}\n  - estate: {{name: traces, paths: ['{}'], role: observed}}\n  - terraform: {{name: infra, files: ['{}']}}\n",
        fixture("manifests"),
        fixture("estate"),
        fixture("running"),
        fixture("traces"),
        fixture("tf/plan.json")
    )
}

fn findings_of<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == kind).collect()
}

#[test]
fn drift_finds_each_kind_of_disagreement_on_its_fixture() {
    let scratch = Scratch::new();
    scratch.file("sources.yaml", &drift_sources());
    scratch.doppel(&["sync", "-c", "sources.yaml", "--once"]).success();
    let report = json(&scratch.doppel(&["drift", "--json"]).success());
    assert_eq!(report["drift"], true);

    let missing = findings_of(&report, "declared_not_observed");
    assert_eq!(missing.len(), 1, "{report}");
    assert_eq!(missing[0]["subject"], "deployment/shop/web");
    assert_eq!(
        (&missing[0]["declared_by"], &missing[0]["observed_by"]),
        (&Value::from("manifests"), &Value::from("running"))
    );

    let extra = findings_of(&report, "observed_not_declared");
    let subjects: Vec<&str> = extra.iter().map(|f| f["subject"].as_str().unwrap()).collect();
    // The namespace's default service account is made by Kubernetes: not a finding.
    assert_eq!(subjects, vec!["deployment/shop/debug", "service/payments"], "{report}");

    let shadow = findings_of(&report, "shadow_dependency");
    assert_eq!(shadow.len(), 1, "{report}");
    assert_eq!(shadow[0]["subject"], "service/web -[calls]-> service/payments");
    assert_eq!(shadow[0]["observed_by"], "traces");

    let replicas = findings_of(&report, "replicas");
    assert_eq!(replicas.len(), 1, "{report}");
    let r = replicas[0];
    assert_eq!(
        (&r["subject"], &r["field"], &r["declared"], &r["observed"]),
        (&Value::from("deployment/shop/cart"), &Value::from("replicas"), &Value::from(3), &Value::from(2))
    );

    let fields = findings_of(&report, "field_differs");
    assert_eq!(fields.len(), 1, "{report}");
    let f = fields[0];
    assert_eq!(
        (&f["field"], &f["declared"], &f["observed"]),
        (&Value::from("template.images[0]"), &Value::from("shop/cart:1.4"), &Value::from("shop/cart:1.5"))
    );
    assert_eq!((&f["declared_by"], &f["observed_by"]), (&Value::from("manifests"), &Value::from("running")));

    let outside = findings_of(&report, "changed_outside");
    assert_eq!(outside.len(), 1, "{report}");
    let o = outside[0];
    assert_eq!(o["subject"], "security-group/aws_security_group.web");
    assert_eq!(
        (&o["field"], &o["declared"], &o["observed"]),
        (&Value::from("ingress[0].cidr_blocks[0]"), &Value::from("10.0.0.0/16"), &Value::from("0.0.0.0/0"))
    );
    assert_eq!((&o["declared_by"], &o["observed_by"]), (&Value::from("infra"), &Value::from("infra (refresh)")));

    for kind in [
        "declared_not_observed",
        "observed_not_declared",
        "shadow_dependency",
        "replicas",
        "field_differs",
        "changed_outside",
    ] {
        assert_eq!(report["counts"][kind], 1 + u64::from(kind == "observed_not_declared"), "{kind}");
    }

    let table = stdout(&scratch.doppel(&["drift"]).success());
    assert!(
        table.contains("replicas declared vs ready")
            && table.contains("3 (manifests)")
            && table.contains("2 (running)"),
        "{table}"
    );
    assert!(table.contains("0.0.0.0/0 (infra (refresh))"), "{table}");
    let failed = scratch.doppel(&["drift", "--fail-on-drift"]).failure().code(7);
    assert!(stderr(&failed).contains("7 drift findings"), "{}", stderr(&failed));
    // With a sources file, only its sources are compared: the manifests against the cluster.
    scratch.file(
        "two.yaml",
        &format!(
            "sources:\n  - kubernetes: {{name: manifests, paths: ['{}']}}\n  - kubernetes: {{name: running, paths: ['{}'], role: observed}}\n",
            fixture("manifests"),
            fixture("running")
        ),
    );
    let narrowed = json(&scratch.doppel(&["drift", "-c", "two.yaml", "--json"]).success());
    assert_eq!(findings_of(&narrowed, "shadow_dependency").len(), 0);
    assert_eq!(findings_of(&narrowed, "changed_outside").len(), 0);
    assert_eq!(findings_of(&narrowed, "replicas").len(), 1);
}

#[test]
fn drift_finds_nothing_when_the_sources_agree() {
    let scratch = Scratch::new();
    let sources = format!(
        "sources:\n  - kubernetes: {{name: manifests, paths: ['{}'], prune: true}}\n  - estate: {{name: architecture, paths: ['{}']}}\n  - kubernetes: {{name: cluster, paths: ['{}'], prune: true, role: observed}}\n  - terraform: {{name: infra, files: ['{}']}}\n",
        fixture("manifests"),
        fixture("estate"),
        fixture("agree"),
        fixture("tf/state.json")
    );
    scratch.file("sources.yaml", &sources);
    scratch.doppel(&["sync", "-c", "sources.yaml", "--once"]).success();
    let report = json(&scratch.doppel(&["drift", "--json", "--fail-on-drift"]).success());
    assert_eq!(report["drift"], false, "{report}");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["sources"].as_array().unwrap().len(), 4);
    let text = stdout(&scratch.doppel(&["drift"]).success());
    assert!(text.contains("no drift"), "{text}");
}

#[test]
fn the_example_sources_file_syncs_the_bundled_fixtures() {
    let scratch = Scratch::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sync/sources.yaml");
    let run = scratch.doppel(&["sync", "-c", example.to_str().unwrap(), "--once", "--json"]).success();
    let events = events(&run);
    let summary = events.last().unwrap();
    assert_eq!(summary["failures"], 0, "{events:?}");
    assert!(summary["commits"].as_u64().unwrap() >= 3, "{events:?}");
    scratch.doppel(&["drift"]).success();
}

#[test]
fn sync_with_a_live_cluster_commits_its_listing_and_drift_compares_it_with_the_manifests() {
    let deployment = |name: &str, image: &str, replicas: u32, ready: u32| {
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"shop","labels":{{"app":"{name}"}},"resourceVersion":"5"}},"spec":{{"replicas":{replicas},"selector":{{"matchLabels":{{"app":"{name}"}}}},"template":{{"metadata":{{"labels":{{"app":"{name}"}}}},"spec":{{"containers":[{{"name":"{name}","image":"{image}","ports":[{{"containerPort":7070}}]}}]}}}}}},"status":{{"replicas":{replicas},"readyReplicas":{ready}}}}}"#
        )
    };
    let url = scripted_cluster(std::sync::Arc::new(std::sync::Mutex::new(vec![
        ("/apis/apps/v1/namespaces/shop/deployments", deployment("cart", "shop/cart:1.4", 3, 2)),
        ("/api/v1/namespaces", r#"{"metadata":{"name":"shop","resourceVersion":"3"}}"#.to_string()),
    ])));
    let scratch = Scratch::new();
    scratch.file(
        "sources.yaml",
        &format!(
            "sources:\n  - kubernetes: {{name: manifests, paths: ['{}']}}\n  - kubernetes_cluster:\n      name: prod\n      url: '{url}'\n      namespaces: [shop]\n      exclude: [Secret]\n      timeout_s: 30\n      interval: 10m\n",
            fixture("manifests")
        ),
    );
    let run = scratch.doppel(&["sync", "-c", "sources.yaml", "--once", "--json"]).success();
    let events = events(&run);
    let prod = pulls_of(&events, "prod");
    assert_eq!(prod.len(), 1, "{events:?}");
    assert_eq!(prod[0]["section"], "kubernetes_cluster");
    assert!(prod[0]["seen"].as_u64().unwrap() >= 2, "the namespace and the deployment: {events:?}");
    assert_eq!(events.last().unwrap()["failures"], 0);
    // The cluster saw cart, which the manifests (listed first) own: freshness names both.
    let shown = json(&scratch.doppel(&["show", "deployment/shop/cart", "--json"]).success());
    let by: Vec<&str> = shown["seen"].as_array().unwrap().iter().map(|s| s["source"].as_str().unwrap()).collect();
    assert!(by.contains(&"prod") && by.contains(&"manifests"), "{shown}");
    assert_eq!(shown["entity"]["labels"]["doppel.dev/source"], "manifests", "the first listed owns it");
    let report = json(&scratch.doppel(&["drift", "--json"]).success());
    let replicas = findings_of(&report, "replicas");
    assert_eq!(replicas.len(), 1, "{report}");
    assert_eq!(
        (&replicas[0]["declared"], &replicas[0]["observed"], &replicas[0]["observed_by"]),
        (&Value::from(3), &Value::from(2), &Value::from("prod"))
    );
    let missing = findings_of(&report, "declared_not_observed");
    let subjects: Vec<&str> = missing.iter().map(|f| f["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"deployment/shop/web"), "the cluster covers deployments in shop: {report}");
    assert_eq!(findings_of(&report, "field_differs").len(), 0, "same image: {report}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_running_sync_after_its_commits() {
    use std::io::{BufRead, BufReader};
    let scratch = Scratch::new();
    scratch.file(
        "sources.yaml",
        &format!("interval: 1h\nsources:\n  - kubernetes: {{name: manifests, paths: ['{}']}}\n", fixture("manifests")),
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("doppel"))
        .current_dir(scratch.dir.path())
        .args(["--store", "twin.db", "sync", "-c", "sources.yaml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("manifests") && line.contains("version 1") {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.contains("until stopped")), "{seen:?}");
    let interrupted = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the sync did not stop on Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{status:?} {rest:?}");
    assert!(rest.iter().any(|l| l.contains("1 commit") && l.contains("(stopped)")), "{rest:?}");
    let history = json(&scratch.doppel(&["history", "--json"]).success());
    assert_eq!(history.as_array().unwrap().len(), 1);
}

/// The traces source in a sources file: its receivers start, its recorded exports are
/// replayed, and the call graph it commits shows the calls the estate does not declare as
/// shadow dependencies (whether or not the estate's commit made it plan again).
#[test]
fn traces_in_a_sync_show_calls_the_estate_lacks_as_shadow_dependencies() {
    let scratch = Scratch::new();
    scratch.file(
        "estate.yaml",
        "entities:\n  - kind: service\n    name: frontend\n  - kind: service\n    name: cart\nrelations:\n  - from: service/frontend\n    type: calls\n    to: service/cart\n",
    );
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("../doppel-sources/tests/fixtures/otlp/shop.jsonl");
    scratch.file(
        "sources.yaml",
        &format!(
            "sources:\n  - estate: {{name: architecture, paths: [estate.yaml]}}\n  - otlp: {{name: traces, http: '127.0.0.1:0', files: ['{}']}}\n",
            recorded.display()
        ),
    );
    let synced = scratch.doppel(&["sync", "-c", "sources.yaml", "--once", "--json"]).success();
    let events = events(&synced);
    assert_eq!(pulls_of(&events, "traces")[0]["outcome"], "committed", "{events:?}");
    assert!(stderr(&synced).contains("traces: listening for OTLP/HTTP on http://127.0.0.1:"), "{}", stderr(&synced));
    let report = json(&scratch.doppel(&["drift", "--json"]).success());
    let mut shadow: Vec<&str> =
        findings_of(&report, "shadow_dependency").iter().map(|f| f["subject"].as_str().unwrap()).collect();
    shadow.sort();
    assert_eq!(
        shadow,
        vec![
            "service/cart -[calls]-> datastore/postgresql-orders",
            "service/frontend -[calls]-> external/api.payments.example"
        ],
        "{report}"
    );
    assert!(findings_of(&report, "shadow_dependency").iter().all(|f| f["observed_by"] == "traces"));
}
