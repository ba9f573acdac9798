//! The parser never panics: on arbitrary text, on arbitrary bytes decoded lossily, and on
//! valid estates with random damage (cut short, a byte changed, lines swapped). Every
//! outcome is an estate or located diagnostics.

use doppel_estate::{SourceFile, parse};
use doppel_model::Twin;
use proptest::prelude::*;

const VALID: &str = "\
entities:
  - kind: zone
    name: z
  - kind: node
    name: n1
    located_in: zone/z
    allocatable: {cpu: 4, memory: 16Gi, pods: 58}
    taints: [{key: dedicated, value: db, effect: no_schedule}]
  - kind: deployment
    name: shop/cart
    replicas: 3
    template:
      requests: {cpu: 250m, memory: 256Mi}
      scheduling:
        topology_spread: [{max_skew: 1, topology_key: topology.kubernetes.io/zone, hard: true}]
  - kind: pod
    name: shop/cart-1
    runs_on: node/n1
    member_of: deployment/shop/cart
  - kind: service
    name: cart
    endpoints:
      - {name: GetCart, entry: true, rate_rps: 40, slo: {latency_p99_ms: 200}}
    runs_on: deployment/shop/cart
relations:
  - {type: depends_on, from: service/cart, to: zone/z, criticality: soft}
";

/// Parses (as YAML and as JSON) and, if that succeeds, applies; checks that every
/// diagnostic has a place.
fn check(text: &str) {
    check_as("f.yaml", text);
    check_as("f.json", text);
}

fn check_as(name: &str, text: &str) {
    let files = [SourceFile { path: name.into(), text: text.to_string() }];
    match parse(&files) {
        Ok(estate) => {
            let mut twin = Twin::new();
            let plan = estate.plan(&twin, false);
            if let Err(errors) = twin.apply(&plan.changeset) {
                for d in plan.explain(&errors, &files) {
                    assert_eq!(d.file, name);
                }
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            for d in diagnostics {
                assert_eq!(d.file, name);
                assert!(!d.message.is_empty());
            }
        }
    }
}

#[test]
fn the_valid_sample_is_valid() {
    let files = [SourceFile { path: "f.yaml".into(), text: VALID.into() }];
    let estate = parse(&files).unwrap();
    let mut twin = Twin::new();
    twin.apply(&estate.plan(&twin, false).changeset).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn yaml_like_soup_never_panics(parts in prop::collection::vec(prop::sample::select(vec![
        "entities:", "relations:", "\n", "  ", "- ", "kind: ", "name: ", "pod", "zone", "node/n1", "{", "}", "[", "]",
        ", ", ": ", "&a ", "*a", "!!str ", "'", "\"", "#", "|", ">", "---\n", "-1", "1e999", ".nan", "~", "runs_on: ",
        "replicas: ", "calls: ", "to: ", "? ", "@", "\t",
    ]), 0..80)) {
        check(&parts.concat());
    }

    #[test]
    fn json_soup_never_panics(parts in prop::collection::vec(prop::sample::select(vec![
        "{", "}", "[", "]", ",", ":", "\"entities\"", "\"relations\"", "\"kind\"", "\"name\"", "\"zone\"",
        "\"a\"", "1", "-0.5e3", "true", "null", " ", "\n", "\"\\u00e9\"", "\"\\ud800\"", "\"\\x\"", "\"", "01", "-",
    ]), 0..60)) {
        check(&parts.concat());
    }

    #[test]
    fn damaged_valid_estates_never_panic(cut in 0..VALID.len(), at in 0..VALID.len(), byte in any::<u8>(), swap in 0..20usize) {
        check(&VALID[..VALID.floor_char_boundary(cut)]);
        let mut bytes = VALID.as_bytes().to_vec();
        bytes[at] = byte;
        check(&String::from_utf8_lossy(&bytes));
        let mut lines: Vec<&str> = VALID.lines().collect();
        let i = swap % lines.len();
        let j = (i + 1) % lines.len();
        lines.swap(i, j);
        check(&lines.join("\n"));
    }
}
