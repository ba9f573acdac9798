//! The manifest import benchmark: a generated set of Kubernetes manifests (one multi-document
//! YAML file of `--objects` objects across 40 namespaces: per application a Deployment, a
//! Service, a ConfigMap, a ServiceAccount, a HorizontalPodAutoscaler and, for every other
//! one, a PodDisruptionBudget and a NetworkPolicy; containers name two other applications in
//! their environment) imported as `doppel import k8s` does: read, map, derive relations,
//! reconcile against an empty twin, check on a fork, apply. Prints one JSON line: objects,
//! CPU seconds of each phase (from `/proc/thread-self/schedstat`), objects per CPU-second,
//! and the peak resident memory.
//!
//! `cargo run --release -p doppel-bench --bin k8s-import-bench -- [--objects N] [--write PATH] [--read PATH]`
//! `--write` only writes the manifests (for the peer, `bench/peers/yaml_load.py`); `--read`
//! imports a file written before instead of generating one.

use doppel_bench::{peak_resident_bytes, thread_cpu_s};
use doppel_estate::SourceFile;
use doppel_model::{Twin, TwinView};
use doppel_sources::Source;
use doppel_sources::kubernetes::ManifestConfig;
use serde_json::json;
use std::fmt::Write as _;

/// Objects made per application, on average (five always, two every other one).
const PER_APP: usize = 6;

fn main() {
    if let Err(err) = real_main() {
        eprintln!("k8s-import-bench: {err}");
        std::process::exit(2);
    }
}

/// The manifests of `apps` applications, as one YAML stream.
fn manifests(apps: usize) -> String {
    let mut out = String::with_capacity(apps * 2_400);
    for i in 0..apps {
        let ns = format!("team-{}", i % 40);
        let app = format!("app-{i}");
        let (a, b) = (format!("app-{}", (i * 7 + 1) % apps), format!("app-{}", (i * 13 + 5) % apps));
        let _ = write!(
            out,
            "---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {ns}
  labels: {{app: {app}, tier: backend}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}, tier: backend}}
    spec:
      serviceAccountName: {app}
      containers:
        - name: server
          image: registry.example.com/{app}:1.{i}
          ports: [{{containerPort: 8080}}]
          env:
            - {{name: UPSTREAM_A, value: \"http://{a}.team-{na}.svc.cluster.local:8080\"}}
            - {{name: UPSTREAM_B, value: \"{b}.team-{nb}:8080\"}}
          envFrom: [{{configMapRef: {{name: {app}-config}}}}]
          resources:
            requests: {{cpu: 250m, memory: 256Mi}}
            limits: {{cpu: \"1\", memory: 512Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: {ns}
spec:
  selector: {{app: {app}}}
  ports: [{{port: 8080, targetPort: 8080}}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {app}-config
  namespace: {ns}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: \"a,b,c\"
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {app}
  namespace: {ns}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {app}
  namespace: {ns}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {app}}}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
",
            replicas = 2 + i % 3,
            na = ((i * 7 + 1) % apps) % 40,
            nb = ((i * 13 + 5) % apps) % 40,
        );
        if i % 2 == 0 {
            let _ = write!(
                out,
                "---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {app}
  namespace: {ns}
spec:
  minAvailable: 1
  selector:
    matchLabels: {{app: {app}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {app}
  namespace: {ns}
spec:
  podSelector:
    matchLabels: {{app: {app}}}
  policyTypes: [Ingress]
  ingress:
    - from: [{{podSelector: {{matchLabels: {{tier: backend}}}}}}]
      ports: [{{port: 8080, protocol: TCP}}]
"
            );
        }
    }
    out
}

fn real_main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut objects, mut write_to, mut read_from) = (100_000usize, None::<String>, None::<String>);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--objects" => objects = value.parse().map_err(|e| format!("--objects: {e}"))?,
            "--write" => write_to = Some(value),
            "--read" => read_from = Some(value),
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    let text = match &read_from {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        None => manifests(objects.div_ceil(PER_APP)),
    };
    if let Some(path) = write_to {
        std::fs::write(&path, &text).map_err(|e| format!("{path}: {e}"))?;
        return Ok(());
    }
    let documents = text.matches("\n---\n").count() + usize::from(text.starts_with("---\n"));
    let cpu = || thread_cpu_s().ok_or("no /proc/thread-self/schedstat".to_string());
    let start = cpu()?;
    let file = SourceFile { path: "manifests.yaml".into(), text };
    let mut source = ManifestConfig { prune: true, ..ManifestConfig::default() }.build(vec![file]);
    let twin = Twin::new();
    let batch = source.changes(&twin).map_err(|e| e.to_string())?;
    let planned = cpu()?;
    let mut twin = twin;
    twin.apply(&batch.changeset).map_err(|e| e.to_string())?;
    let applied = cpu()?;
    let entities = twin.entities().count();
    println!(
        "{}",
        json!({
            "documents": documents,
            "entities": entities,
            "relations": twin.relation_count(),
            "warnings": batch.warnings.len(),
            "pull_and_plan_cpu_s": planned - start,
            "apply_cpu_s": applied - planned,
            "cpu_s": applied - start,
            "objects_per_cpu_s": documents as f64 / (applied - start),
            "peak_rss_mib": peak_resident_bytes().map(|b| b >> 20),
        })
    );
    Ok(())
}
