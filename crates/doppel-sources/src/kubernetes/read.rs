//! Kubernetes YAML and JSON streams to objects, one at a time: `---` separated documents
//! (Helm and kustomize output, comments and empty documents included) and the items of
//! `List` objects, streamed so a long list is never held whole.

use crate::{Error, Place, Result};
use doppel_estate::SourceFile;
use doppel_estate::tree::{Node, Streamed, Value, parse_stream};

/// Hands every object of a file to `sink`, in document order (a List's items before the
/// List's other fields). Stops at the first error, from the parser or from `sink`.
pub(crate) fn for_each_object(
    file: &SourceFile,
    source_name: &str,
    sink: &mut dyn FnMut(&Node, Place) -> Result<()>,
) -> Result<()> {
    let mut failure: Option<Error> = None;
    // Items of top-level lists other than `items` (a role's `rules`), put back in their document.
    let mut pending: Vec<(String, Node)> = Vec::new();
    let place_of = |node: &Node| Place { file: file.path.clone(), line: node.line, col: node.col };
    let parsed = parse_stream(&file.text, file.is_json(), &mut |streamed| {
        if failure.is_some() {
            return;
        }
        match streamed {
            Streamed::Item { section, node, .. } if section == "items" => {
                if let Err(error) = sink(&node, place_of(&node)) {
                    failure = Some(error);
                }
            }
            Streamed::Item { section, node, .. } => pending.push((section, node)),
            Streamed::Document { doc, mut node } => {
                restore(&mut node, std::mem::take(&mut pending));
                if node.value == Value::Null {
                    return;
                }
                if node.as_map().is_none() {
                    failure = Some(Error::Object {
                        source_name: source_name.to_string(),
                        object: format!("document {}", doc + 1),
                        place: place_of(&node),
                        message: format!(
                            "expected a Kubernetes object (a map with apiVersion, kind and metadata), found {}",
                            node.value.describe()
                        ),
                    });
                    return;
                }
                if is_list(&node) {
                    return;
                }
                if let Err(error) = sink(&node, place_of(&node)) {
                    failure = Some(error);
                }
            }
        }
    });
    if let Err(syntax) = parsed {
        return Err(Error::Syntax {
            source_name: source_name.to_string(),
            format: if file.is_json() { "JSON" } else { "YAML" },
            place: Place { file: file.path.clone(), line: syntax.line, col: syntax.col },
            message: syntax.message,
        });
    }
    failure.map_or(Ok(()), Err)
}

/// Whether a document is a list of objects (`kind: List`, `kind: DeploymentList`), whose
/// items were handed over already.
fn is_list(node: &Node) -> bool {
    let kind = node.key_of("kind").and(node.locate("kind").as_str());
    kind.is_some_and(|k| k.ends_with("List")) && node.key_of("items").is_some()
}

/// Puts streamed list items back under their top-level key.
fn restore(node: &mut Node, items: Vec<(String, Node)>) {
    if items.is_empty() {
        return;
    }
    let Value::Map(entries) = &mut node.value else { return };
    for (section, item) in items {
        if let Some((_, value)) = entries.iter_mut().find(|(k, _)| k.as_str() == Some(section.as_str()))
            && let Value::Seq(list) = &mut value.value
        {
            list.push(item);
        }
    }
}

/// A JSON value (an object as the Kubernetes API serves it) as a tree the object reader
/// takes. JSON carries no positions: every node is at line 0, so places name only the
/// object's address. Whole numbers beyond `i64` become floats.
pub(crate) fn node_from_json(value: &serde_json::Value) -> Node {
    let value = match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::Seq(items.iter().map(node_from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (Node { value: Value::Str(k.clone()), line: 0, col: 0 }, node_from_json(v)))
                .collect(),
        ),
    };
    Node { value, line: 0, col: 0 }
}
