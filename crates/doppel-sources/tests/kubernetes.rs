//! The Kubernetes manifest source on the project's own fixtures: what a reader of those
//! files would list, the compliance test, and no panic on any input.

use doppel_estate::SourceFile;
use doppel_model::{Key, Kind, RelKey, RelKind, RelSpec, Spec, Twin, TwinView};
use doppel_sources::compliance::{Case, check};
use doppel_sources::kubernetes::{ManifestConfig, Manifests, service_names};
use doppel_sources::{Source, WarningKind};
use proptest::prelude::*;
use std::path::PathBuf;

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubernetes").join(name)
}

fn read(paths: &[PathBuf]) -> Vec<SourceFile> {
    paths
        .iter()
        .map(|p| SourceFile { path: p.display().to_string(), text: std::fs::read_to_string(p).expect("fixture") })
        .collect()
}

fn shop_files(except: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir("shop"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| !except.iter().any(|x| p.ends_with(x)))
        .collect();
    files.sort();
    files
}

fn source(paths: &[PathBuf], prune: bool) -> Manifests {
    ManifestConfig { prune, ..ManifestConfig::default() }.build(read(paths))
}

fn key(text: &str) -> Key {
    text.parse().expect("key")
}

fn has(twin: &Twin, from: &str, kind: RelKind, to: &str) -> bool {
    twin.relation(&RelKey { from: key(from), kind, to: key(to) }).is_some()
}

const SECRETS: &[&str] = &["c3VwZXItc2VjcmV0LXZhbHVl", "plain-text-token-never-stored", "hunter2-not-stored"];

#[test]
fn the_kubernetes_source_complies() {
    let full = || source(&shop_files(&[]), true);
    let smaller = || source(&shop_files(&["30-policy.yaml"]), true);
    let bad: Vec<Box<dyn Fn() -> Manifests>> =
        ["wrong-type.yaml", "truncated.yaml", "no-kind.yaml", "hpa-min-above-max.yaml"]
            .into_iter()
            .map(|name| Box::new(move || source(&[fixture_dir("bad").join(name)], true)) as Box<dyn Fn() -> Manifests>)
            .collect();
    let twin =
        check(&Case { full: &full, smaller: &smaller, bad, secrets: SECRETS.iter().map(|s| s.to_string()).collect() });
    assert!(twin.contains(&key("network-policy/shop/basket-from-storefront")));
}

#[test]
fn a_reader_of_the_shop_finds_its_workloads_services_and_policies() {
    let mut twin = Twin::new();
    let batch = source(&shop_files(&[]), false).changes(&twin).expect("the shop imports");
    twin.apply(&batch.changeset).expect("applies");
    let names = |kind: Kind| {
        let mut names: Vec<String> = twin.entities_of(kind).map(|e| e.key.name().to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(Kind::Deployment), ["shop/basket", "shop/prices", "shop/storefront"]);
    assert_eq!(names(Kind::StatefulSet), ["shop/basket-cache"]);
    assert_eq!(names(Kind::K8sService), ["shop/basket", "shop/basket-cache", "shop/prices", "shop/storefront"]);
    assert_eq!(names(Kind::NetworkPolicy), ["shop/basket-from-storefront"]);
    assert_eq!(names(Kind::Hpa), ["shop/storefront"]);
    assert_eq!(names(Kind::Pdb), ["shop/storefront"]);
    assert_eq!(names(Kind::Namespace), ["shop"]);
    assert_eq!(names(Kind::Secret), ["shop/basket-credentials"]);
    assert_eq!(names(Kind::ConfigMap), ["shop/storefront-config"]);
    assert_eq!(names(Kind::K8sRoleBinding), ["shop/storefront-reads-config"]);

    let storefront = twin.entity(&key("deployment/shop/storefront")).expect("storefront");
    let Spec::Deployment(spec) = &storefront.spec else { panic!("a deployment") };
    assert_eq!(spec.replicas, 3);
    assert_eq!(spec.template.requests.cpu.0, 0.25);
    assert_eq!(spec.template.requests.memory.0, 256 * 1024 * 1024);
    assert_eq!(spec.template.ports, [8080]);
    let Some(Spec::StatefulSet(cache)) = twin.entity(&key("statefulset/shop/basket-cache")).map(|e| &e.spec) else {
        panic!("a statefulset")
    };
    assert_eq!(cache.volume_size.map(|b| b.0), Some(10 * 1024 * 1024 * 1024));
    let Some(Spec::Hpa(hpa)) = twin.entity(&key("hpa/shop/storefront")).map(|e| &e.spec) else { panic!("an hpa") };
    assert_eq!((hpa.min_replicas, hpa.max_replicas, hpa.target_cpu_utilization_pct), (3, 12, Some(70.0)));
    let Some(Spec::ConfigMap(config)) = twin.entity(&key("configmap/shop/storefront-config")).map(|e| &e.spec) else {
        panic!("a configmap")
    };
    assert_eq!(config.keys, ["CURRENCY", "THEME"]);

    for (service, workload) in [
        ("shop/storefront", "deployment/shop/storefront"),
        ("shop/basket", "deployment/shop/basket"),
        ("shop/basket-cache", "statefulset/shop/basket-cache"),
        ("shop/prices", "deployment/shop/prices"),
    ] {
        assert!(
            has(&twin, &format!("k8s-service/{service}"), RelKind::RoutesTo, workload),
            "{service} routes to {workload}"
        );
    }
    let routes = twin.relations().filter(|r| r.kind() == RelKind::RoutesTo).count();
    assert_eq!(routes, 4, "each service selects exactly its own workload");

    let depends: Vec<(String, String)> = twin
        .relations()
        .filter(|r| r.kind() == RelKind::DependsOn && r.to.kind() == Kind::K8sService)
        .map(|r| (r.from.to_string(), r.to.to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        depends,
        [
            ("deployment/shop/basket".to_string(), "k8s-service/shop/basket-cache".to_string()),
            ("deployment/shop/storefront".to_string(), "k8s-service/shop/basket".to_string()),
            ("deployment/shop/storefront".to_string(), "k8s-service/shop/prices".to_string()),
        ]
    );
    let reason = twin.relation(&RelKey {
        from: key("deployment/shop/storefront"),
        kind: RelKind::DependsOn,
        to: key("k8s-service/shop/basket"),
    });
    let Some(RelSpec::DependsOn(attrs)) = reason else { panic!("a depends_on") };
    assert_eq!(attrs.reason.as_deref(), Some("env BASKET_ADDR of container web"));

    assert!(has(&twin, "deployment/shop/storefront", RelKind::DependsOn, "configmap/shop/storefront-config"));
    assert!(has(&twin, "deployment/shop/basket", RelKind::DependsOn, "secret/shop/basket-credentials"));
    assert!(has(&twin, "hpa/shop/storefront", RelKind::AttachedTo, "deployment/shop/storefront"));
    assert!(has(&twin, "pdb/shop/storefront", RelKind::AttachedTo, "deployment/shop/storefront"));
    assert!(has(&twin, "network-policy/shop/basket-from-storefront", RelKind::AttachedTo, "deployment/shop/basket"));
    assert!(!has(
        &twin,
        "network-policy/shop/basket-from-storefront",
        RelKind::AttachedTo,
        "deployment/shop/storefront"
    ));
    assert!(has(&twin, "service-account/shop/storefront", RelKind::AttachedTo, "deployment/shop/storefront"));
    assert!(has(
        &twin,
        "k8s-role-binding/shop/storefront-reads-config",
        RelKind::Grants,
        "service-account/shop/storefront"
    ));
    assert!(has(&twin, "ingress/shop/public", RelKind::Exposes, "k8s-service/shop/storefront"));
    assert!(has(&twin, "deployment/shop/prices", RelKind::LocatedIn, "namespace/shop"));

    let counts = batch.warning_counts();
    assert_eq!(counts.get(&(WarningKind::UnknownKind, "Certificate".to_string())), Some(&1));
    assert_eq!(
        counts.get(&(WarningKind::UnknownField, "spec.template.spec.containers.0.sparkles".to_string())),
        Some(&1)
    );
    assert_eq!(counts.get(&(WarningKind::Unresolved, "User".to_string())), Some(&1));
    let sparkles = batch.warnings.iter().find(|w| w.subject.ends_with("sparkles")).expect("the unknown field");
    let place = sparkles.place.as_ref().expect("a place");
    assert!(place.file.ends_with("10-storefront.yaml") && place.line == 38, "found at {place}");

    let stored = serde_json::to_string(&doppel_model::export(&twin)).expect("serialises");
    for secret in SECRETS {
        assert!(!stored.contains(secret), "{secret} reached the twin");
    }
}

#[test]
fn objects_without_a_namespace_go_to_the_configured_one() {
    let file = SourceFile {
        path: "inline.yaml".into(),
        text: "kind: ConfigMap\napiVersion: v1\nmetadata: {name: settings}\n".into(),
    };
    let config = ManifestConfig { namespace: "staging".into(), ..ManifestConfig::default() };
    let observation = config.build(vec![file]).pull().expect("reads");
    let mut keys: Vec<String> = observation.entities.iter().map(|e| e.key.to_string()).collect();
    keys.sort();
    assert_eq!(keys, ["configmap/staging/settings", "namespace/staging"]);
}

#[test]
fn errors_name_the_source_the_object_and_the_place() {
    let error = source(&[fixture_dir("bad").join("wrong-type.yaml")], false).pull().expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("source `kubernetes`"), "{message}");
    assert!(message.contains("wrong-type.yaml:5:"), "{message}");
    assert!(message.contains("Deployment default/broken"), "{message}");
    assert!(message.contains("`replicas` should be a whole number"), "{message}");
    let truncated = source(&[fixture_dir("bad").join("truncated.yaml")], false).pull().expect_err("refused");
    assert!(truncated.to_string().contains("truncated.yaml:"), "{truncated}");
}

#[test]
fn dns_names_are_found_in_values() {
    let names = |value: &str, what: &str| service_names(value, what, "shop");
    let pair = |s: &str, n: &str| (s.to_string(), n.to_string());
    assert_eq!(names("cartservice:7070", "env CART_ADDR"), [pair("cartservice", "shop")]);
    assert_eq!(names("http://catalogue", "env X"), [pair("catalogue", "shop")]);
    assert_eq!(names("mongodb://u:p@user-db:27017/db", "env X"), [pair("user-db", "shop")]);
    assert_eq!(names("zipkin.jaeger.svc.cluster.local", "env ZIPKIN"), [pair("zipkin", "jaeger")]);
    assert_eq!(names("redis", "env CACHE_HOST"), [pair("redis", "shop")]);
    assert!(names("redis", "env MODE").is_empty(), "a bare word in a variable not named as an address");
    assert!(names("-Xms64m -Dfoo=file:/dev/urandom", "env JAVA_OPTS").is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics_and_errors_are_located(text in "\\PC{0,300}") {
        let file = SourceFile { path: "fuzz.yaml".into(), text };
        if let Err(error) = ManifestConfig::default().build(vec![file]).pull() {
            prop_assert!(error.place().is_some(), "no place: {}", error);
            prop_assert!(error.to_string().contains("fuzz.yaml"), "no file: {}", error);
        }
    }

    #[test]
    fn truncated_manifests_never_panic(cut in 0usize..4000, which in 0usize..4) {
        let path = &shop_files(&[])[which];
        let text = std::fs::read_to_string(path).expect("fixture");
        let mut end = cut.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let file = SourceFile { path: "cut.yaml".into(), text: text[..end].to_string() };
        match ManifestConfig::default().build(vec![file]).changes(&Twin::new()) {
            Ok(batch) => prop_assert!(batch.observed.iter().all(|k| !k.name().is_empty())),
            Err(error) => prop_assert!(error.to_string().contains("source `kubernetes`"), "{}", error),
        }
    }
}

#[test]
fn objects_given_as_json_map_as_their_manifests_do() {
    let files = shop_files(&[]);
    let from_files = source(&files, true).pull().expect("the shop reads");
    let mut mapped = Vec::new();
    for file in read(&files) {
        for (n, document) in doppel_estate::tree::parse_documents(&file.text).expect("parses").iter().enumerate() {
            let value = document.to_json();
            let items = match value.get("items").and_then(|i| i.as_array()) {
                Some(items) => items.clone(),
                None if value.is_object() => vec![value],
                None => continue,
            };
            for item in items {
                let place = doppel_sources::Place { file: format!("{}#{n}", file.path), line: 0, col: 0 };
                mapped.push(doppel_sources::kubernetes::map_json(&item, place, "kubernetes").expect("maps"));
            }
        }
    }
    let from_json = doppel_sources::kubernetes::observe(&mapped, true, "objects".into());
    assert_eq!(from_json.entities, from_files.entities);
    assert_eq!(from_json.relations, from_files.relations);
    let kinds =
        |o: &doppel_sources::Observation| o.warnings.iter().map(|w| (w.kind, w.subject.clone())).collect::<Vec<_>>();
    assert_eq!(kinds(&from_json), kinds(&from_files));
    let bad = serde_json::json!({"kind": "Deployment", "metadata": {"name": "cart", "namespace": "shop"},
        "spec": {"replicas": "three", "template": {"spec": {"containers": [{"name": "c"}]}}}});
    let place = doppel_sources::Place {
        file: "https://cluster/apis/apps/v1/namespaces/shop/deployments/cart".into(),
        line: 0,
        col: 0,
    };
    let error = doppel_sources::kubernetes::map_json(&bad, place, "live").expect_err("refused");
    let message = error.to_string();
    assert!(
        message.starts_with(
            "source `live`: https://cluster/apis/apps/v1/namespaces/shop/deployments/cart: Deployment shop/cart:"
        ),
        "{message}"
    );
    assert!(message.contains("`replicas` should be a whole number"), "{message}");
}

#[test]
fn nodes_are_located_in_the_zone_and_region_their_labels_name() {
    let file = SourceFile {
        path: "nodes.yaml".into(),
        text: "kind: Node\napiVersion: v1\nmetadata:\n  name: n1\n  labels: {topology.kubernetes.io/zone: eu-west-1a, topology.kubernetes.io/region: eu-west-1}\n---\nkind: Node\napiVersion: v1\nmetadata:\n  name: n2\n  labels: {failure-domain.beta.kubernetes.io/zone: eu-west-1b}\n---\nkind: Node\napiVersion: v1\nmetadata: {name: n3}\n".into(),
    };
    let observation = ManifestConfig::default().build(vec![file]).pull().expect("reads");
    let mut twin = Twin::new();
    let batch = doppel_sources::reconcile(observation, &twin, "kubernetes", "kubernetes");
    twin.apply(&batch.changeset).expect("applies");
    assert!(has(&twin, "node/n1", RelKind::LocatedIn, "zone/eu-west-1a"));
    assert!(has(&twin, "zone/eu-west-1a", RelKind::LocatedIn, "region/eu-west-1"));
    assert!(has(&twin, "node/n2", RelKind::LocatedIn, "zone/eu-west-1b"));
    assert_eq!(twin.entities_of(Kind::Zone).count(), 2);
    assert_eq!(twin.entities_of(Kind::Region).count(), 1);
    assert!(twin.out_relations(&key("node/n3")).is_empty());
}

/// With `keep_going`, an unreadable file is skipped with a warning naming it and the other
/// files are imported; with `prune` too, nothing is removed, as the skipped file's objects
/// cannot be told from removed ones. Without it, the import stops.
#[test]
fn keep_going_skips_an_unreadable_file_and_then_prunes_nothing() {
    let mut files = shop_files(&[]);
    files.push(fixture_dir("bad").join("truncated.yaml"));
    let config = |keep_going| ManifestConfig { prune: true, keep_going, ..ManifestConfig::default() };
    assert!(config(false).build(read(&files)).pull().is_err());

    let mut twin = Twin::new();
    let all = source(&shop_files(&[]), true).changes(&twin).expect("the shop imports");
    twin.apply(&all.changeset).expect("valid");
    // The policy file is gone and a broken file came instead: nothing is removed.
    let mut files = shop_files(&["30-policy.yaml"]);
    files.push(fixture_dir("bad").join("truncated.yaml"));
    let batch = config(true).build(read(&files)).changes(&twin).expect("kept going");
    assert_eq!(batch.changeset.summary().entity_totals().removed, 0);
    let skipped: Vec<_> = batch.warnings.iter().filter(|w| w.kind == WarningKind::Skipped).collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[0].message.contains("truncated.yaml") && skipped[0].message.contains("skipped"), "{skipped:?}");
    assert!(skipped[1].message.contains("nothing is pruned"), "{skipped:?}");
    // Without the broken file, the same listing prunes the policies.
    let batch = source(&shop_files(&["30-policy.yaml"]), true).changes(&twin).expect("imports");
    assert!(batch.changeset.summary().entity_totals().removed > 0);
}
