//! Writing entities and relations in the estate-file form, for `--json` output and for
//! generated estates. What this writes, [`crate::parse`] reads back unchanged.

use doppel_model::{Entity, RelationRef};
use serde_json::{Map, Value};

/// An entity as an estate-file entry: `kind`, `name`, `labels`, then its attributes.
pub fn entity(entity: &Entity) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), Value::String(entity.key.kind().prefix().into()));
    out.insert("name".into(), Value::String(entity.key.name().into()));
    if !entity.labels.is_empty() {
        out.insert("labels".into(), serde_json::to_value(&entity.labels).unwrap_or_default());
    }
    if let Value::Object(fields) = prune(entity.spec.to_fields()) {
        out.extend(fields);
    }
    Value::Object(out)
}

/// A relation as an estate-file entry: `type`, `from`, `to`, then its attributes.
pub fn relation(relation: &RelationRef<'_>) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), Value::String(relation.kind().name().into()));
    out.insert("from".into(), Value::String(relation.from.to_string()));
    out.insert("to".into(), Value::String(relation.to.to_string()));
    if let Value::Object(fields) = prune(relation.spec.to_fields()) {
        out.extend(fields);
    }
    Value::Object(out)
}

/// Drops nulls, empty lists and empty maps, which are the defaults of every field.
fn prune(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, prune(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(prune).collect()),
        other => other,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}
