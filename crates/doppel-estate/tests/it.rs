//! Estate files end to end: parse, plan against a twin, apply, and the diagnostics users see.

use doppel_estate::{Diagnostic, SourceFile, parse};
use doppel_model::{Kind, Twin, TwinView};

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile { path: path.to_string(), text: text.to_string() }
}

/// Parses and applies files to an empty twin; returns the twin or every diagnostic.
fn load(files: &[SourceFile]) -> Result<Twin, Vec<Diagnostic>> {
    let estate = parse(files)?;
    let mut twin = Twin::new();
    let plan = estate.plan(&twin, false);
    twin.apply(&plan.changeset).map_err(|errors| plan.explain(&errors, files))?;
    Ok(twin)
}

fn errors(files: &[SourceFile]) -> Vec<Diagnostic> {
    match load(files) {
        Ok(_) => panic!("expected errors"),
        Err(diagnostics) => diagnostics,
    }
}

const SMALL: &str = "\
entities:
  - kind: region
    name: us-east-1
  - kind: zone
    name: us-east-1a
    located_in: region/us-east-1
  - kind: node
    name: n1
    located_in: zone/us-east-1a
    allocatable: {cpu: 3920m, memory: 14Gi, pods: 58}
  - kind: pod
    name: shop/cart-1
    runs_on: node/n1
    requests: {cpu: 250m, memory: 256Mi}
  - kind: service
    name: cart
  - kind: service
    name: checkout
    calls:
      - {to: service/cart, rate_rps: 40, timeout_ms: 300}
";

#[test]
fn a_valid_estate_loads_with_shorthand_relations() {
    let twin = load(&[file("a.yaml", SMALL)]).unwrap();
    assert_eq!(twin.entity_count(), 6);
    assert_eq!(twin.relation_count(), 4);
    let node = twin.entity(&"node/n1".parse().unwrap()).unwrap();
    let doppel_model::Spec::Node(spec) = &node.spec else { panic!("not a node") };
    assert_eq!(spec.allocatable.cpu.0, 3.92);
    assert_eq!(spec.allocatable.memory.0, 14 << 30);
    assert_eq!(twin.entities_of(Kind::Service).count(), 2);
}

#[test]
fn several_files_merge_and_relations_can_cross_files() {
    let a = file("a.yaml", "entities:\n  - {kind: service, name: a}\n");
    let b = file(
        "b.json",
        r#"{"entities": [{"kind": "service", "name": "b"}], "relations": [{"type": "calls", "from": "service/a", "to": "service/b"}]}"#,
    );
    let twin = load(&[a, b]).unwrap();
    assert_eq!(twin.entity_count(), 2);
    assert_eq!(twin.relation_count(), 1);
}

#[test]
fn a_typo_in_a_reference_names_file_line_column_and_the_right_key() {
    let text = SMALL.replace("runs_on: node/n1", "runs_on: node/n2");
    let diagnostics = errors(&[file("shop.yaml", &text)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let d = &diagnostics[0];
    assert_eq!((d.file.as_str(), d.line, d.col), ("shop.yaml", 13, 14), "{d}");
    assert_eq!(d.suggestion.as_deref(), Some("node/n1"));
    assert!(d.message.contains("node/n2"), "{d}");
}

#[test]
fn unknown_fields_kinds_and_relation_types_get_suggestions_all_at_once() {
    let text = "\
entities:
  - kind: deploymnet
    name: shop/cart
  - kind: deployment
    name: shop/web
    replcas: 3
relations:
  - {type: call, from: service/a, to: service/b}
";
    let diagnostics = errors(&[file("x.yaml", text)]);
    let suggestions: Vec<_> = diagnostics.iter().map(|d| (d.line, d.suggestion.clone())).collect();
    assert!(suggestions.contains(&(2, Some("deployment".into()))), "{diagnostics:?}");
    assert!(suggestions.contains(&(6, Some("replicas".into()))), "{diagnostics:?}");
    assert!(suggestions.contains(&(8, Some("calls".into()))), "{diagnostics:?}");
}

#[test]
fn nested_unknown_fields_and_bad_values_point_at_the_field() {
    let text = "\
entities:
  - kind: deployment
    name: shop/web
    template:
      requests: {cpu: 1, memroy: 1Gi}
  - kind: deployment
    name: shop/api
    replicas: -1
";
    let diagnostics = errors(&[file("x.yaml", text)]);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    let typo = diagnostics.iter().find(|d| d.line == 5).expect("points at line 5");
    assert_eq!(typo.suggestion.as_deref(), Some("memory"), "{typo}");
    let negative = diagnostics.iter().find(|d| d.line == 8).expect("points at line 8");
    assert!(negative.message.contains("-1"), "{negative}");
}

#[test]
fn malformed_and_truncated_yaml_is_a_syntax_error_with_a_place() {
    let diagnostics = errors(&[file("bad.yaml", "entities:\n  - kind: zone\n    name: [a, b\n")]);
    assert_eq!(diagnostics.len(), 1);
    assert!(diagnostics[0].message.starts_with("not valid YAML"), "{}", diagnostics[0]);
    assert!(diagnostics[0].line >= 3);
    // A file cut off inside a flow map, as a failed download or full disk leaves it.
    let truncated = &SMALL[..SMALL.find("rate_rps: 40").unwrap() + 12];
    let diagnostics = errors(&[file("t.yaml", truncated)]);
    assert_eq!(diagnostics.len(), 1);
    assert!(diagnostics[0].message.starts_with("not valid YAML"), "{}", diagnostics[0]);
}

#[test]
fn duplicate_keys_across_files_name_both_places() {
    let a = file("a.yaml", "entities:\n  - {kind: zone, name: z}\n");
    let b = file("b.yaml", "entities:\n  - kind: zone\n    name: z\n");
    let diagnostics = errors(&[a, b]);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].file, "b.yaml");
    assert!(diagnostics[0].message.contains("a.yaml:2:5"), "{}", diagnostics[0]);
}

#[test]
fn a_relation_between_the_wrong_kinds_is_refused() {
    let text = "\
entities:
  - {kind: zone, name: z}
  - {kind: service, name: s}
relations:
  - {type: runs_on, from: zone/z, to: service/s}
";
    let diagnostics = errors(&[file("x.yaml", text)]);
    assert_eq!(diagnostics.len(), 1);
    assert!(diagnostics[0].message.contains("cannot go from a zone to a service"), "{}", diagnostics[0]);
    assert_eq!(diagnostics[0].line, 5);
}

#[test]
fn a_subnet_outside_its_network_is_refused() {
    let text = "\
entities:
  - {kind: network, name: vpc, cidr: 10.0.0.0/16}
  - {kind: subnet, name: a, cidr: 10.1.0.0/24, located_in: network/vpc}
";
    let diagnostics = errors(&[file("x.yaml", text)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("outside its network"), "{}", diagnostics[0]);
}

#[test]
fn kubernetes_manifests_get_a_helpful_message() {
    let diagnostics = errors(&[file("k.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")]);
    assert!(diagnostics[0].message.contains("Kubernetes manifest"), "{}", diagnostics[0]);
}

#[test]
fn emitted_entities_parse_back_to_the_same_twin() {
    let twin = load(&[file("a.yaml", SMALL)]).unwrap();
    let entities: Vec<_> = twin.entities().map(doppel_estate::emit::entity).collect();
    let relations: Vec<_> = twin.relations().map(|r| doppel_estate::emit::relation(&r)).collect();
    let text = serde_json::json!({"entities": entities, "relations": relations}).to_string();
    let again = load(&[file("out.json", &text)]).unwrap();
    assert!(doppel_model::same_content(&twin, &again));
}

#[test]
fn the_schema_lists_every_kind_and_relation_type() {
    let schema = doppel_estate::schema::estate_schema();
    let kinds = schema["properties"]["entities"]["items"]["oneOf"].as_array().unwrap();
    assert_eq!(kinds.len(), Kind::ALL.len());
    let deployment = kinds.iter().find(|k| k["title"] == "deployment").unwrap();
    assert!(deployment["properties"]["replicas"].is_object());
    assert!(deployment["properties"]["located_in"].is_object());
    assert!(deployment["properties"].get("runs_on").is_none(), "a deployment runs on nothing");
    let pod = kinds.iter().find(|k| k["title"] == "pod").unwrap();
    assert!(pod["properties"]["runs_on"].is_object());
    let relations = schema["properties"]["relations"]["items"]["oneOf"].as_array().unwrap();
    assert_eq!(relations.len(), doppel_model::RelKind::ALL.len());
}

#[test]
fn several_documents_in_one_file_stream_and_locate_errors() {
    let text = "\
entities:
  - {kind: zone, name: a}
---
entities:
  - {kind: zone, name: b}
  - kind: node
    name: n
    located_in: zone/c
relations:
  - {type: depends_on, from: zone/a, to: zone/b}
";
    let diagnostics = errors(&[file("multi.yaml", text)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!((diagnostics[0].line, diagnostics[0].col), (8, 17), "{}", diagnostics[0]);
    assert_eq!(diagnostics[0].path, "entities.1.located_in.to");
    let twin = load(&[file("multi.yaml", &text.replace("zone/c", "zone/b"))]).unwrap();
    assert_eq!((twin.entity_count(), twin.relation_count()), (3, 2));
}

#[test]
fn every_nested_unknown_field_of_one_entity_is_reported_at_once() {
    let text = "\
entities:
  - kind: deployment
    name: shop/web
    template:
      requests: {cpu: 1, memroy: 1Gi}
      limits: {cpu: 2}
      scheduling:
        tolerations: [{key: a, efect: no_schedule}]
    max_surge: {percent: 25}
    max_unavailable: {count: 1}
";
    let diagnostics = errors(&[file("x.yaml", text)]);
    let found: Vec<_> = diagnostics.iter().map(|d| (d.line, d.suggestion.clone())).collect();
    assert_eq!(found, vec![(5, Some("memory".into())), (8, Some("effect".into()))], "{diagnostics:?}");
    assert_eq!(diagnostics[1].path, "entities.0.template.scheduling.tolerations.0.efect");
}
