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
        Value::Object(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, prune(v))).filter(|(_, v)| !is_empty(v)).collect())
        }
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

/// Writes a whole estate file (YAML, or JSON when `json`), streaming; `progress` is told
/// how many items were written since its last call.
pub fn write_estate(
    sink: &mut dyn std::io::Write,
    entities: &[Entity],
    relations: &[doppel_model::Relation],
    json: bool,
    progress: &dyn Fn(u64),
) -> std::io::Result<()> {
    let rel_value = |r: &doppel_model::Relation| relation(&RelationRef { from: &r.from, to: &r.to, spec: &r.spec });
    if json {
        sink.write_all(b"{\"entities\": [\n")?;
        write_json_list(sink, entities, entity, progress)?;
        sink.write_all(b"],\n\"relations\": [\n")?;
        write_json_list(sink, relations, rel_value, progress)?;
        sink.write_all(b"]}\n")?;
        return Ok(());
    }
    sink.write_all(b"# A Doppel estate file. See docs/estate-format.md.\nentities:\n")?;
    let mut text = String::new();
    for (i, e) in entities.iter().enumerate() {
        text.clear();
        yaml_item(&mut text, &entity(e), 2);
        sink.write_all(text.as_bytes())?;
        if i % 10_000 == 9_999 {
            progress(10_000);
        }
    }
    sink.write_all(b"relations:\n")?;
    for (i, r) in relations.iter().enumerate() {
        text.clear();
        yaml_flow_item(&mut text, &rel_value(r), 2);
        sink.write_all(text.as_bytes())?;
        if i % 10_000 == 9_999 {
            progress(10_000);
        }
    }
    Ok(())
}

/// A map's fields as YAML lines (block style, nested maps indented), as estate files
/// write them; for showing one entity to a person.
pub fn to_yaml_lines(fields: &Value, indent: usize) -> String {
    let mut out = String::new();
    if let Value::Object(map) = fields {
        let pad = " ".repeat(indent);
        for (key, value) in map {
            yaml_entry(&mut out, &pad, key, value, indent);
        }
    }
    out
}

/// Writes items as the lines of a JSON list (without its brackets).
fn write_json_list<T>(
    sink: &mut dyn std::io::Write,
    items: &[T],
    to_json: impl Fn(&T) -> Value,
    progress: &dyn Fn(u64),
) -> std::io::Result<()> {
    for (i, item) in items.iter().enumerate() {
        let separator = if i + 1 < items.len() { ",\n" } else { "\n" };
        write!(sink, "  {}{separator}", to_json(item))?;
        if i % 10_000 == 9_999 {
            progress(10_000);
        }
    }
    Ok(())
}

use std::fmt::Write as _;

/// A list item holding a map, in block style: `- key: value` lines.
fn yaml_item(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut first = true;
            for (k, v) in map {
                let lead = if first { format!("{pad}- ") } else { format!("{pad}  ") };
                first = false;
                yaml_entry(out, &lead, k, v, indent + 2);
            }
        }
        other => {
            let _ = writeln!(out, "{pad}- {}", yaml_flow(other));
        }
    }
}

/// A list item on one line, in flow style: `- {type: calls, from: a, to: b}`.
fn yaml_flow_item(out: &mut String, value: &Value, indent: usize) {
    let _ = writeln!(out, "{}- {}", " ".repeat(indent), yaml_flow(value));
}

fn yaml_entry(out: &mut String, lead: &str, key: &str, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() && map.values().any(|v| v.is_object() || v.is_array()) => {
            let _ = writeln!(out, "{lead}{}:", yaml_scalar(key));
            for (k, v) in map {
                yaml_entry(out, &format!("{pad}  "), k, v, indent + 2);
            }
        }
        Value::Array(items) if items.iter().any(|v| v.is_object()) => {
            let _ = writeln!(out, "{lead}{}:", yaml_scalar(key));
            for item in items {
                yaml_item(out, item, indent + 2);
            }
        }
        other => {
            let _ = writeln!(out, "{lead}{}: {}", yaml_scalar(key), yaml_flow(other));
        }
    }
}

fn yaml_flow(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let parts: Vec<String> = map.iter().map(|(k, v)| format!("{}: {}", yaml_scalar(k), yaml_flow(v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(yaml_flow).collect::<Vec<_>>().join(", ")),
        Value::String(s) => yaml_scalar(s),
        other => other.to_string(),
    }
}

/// A string as a plain YAML scalar when that reads back as the same string, else quoted.
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "_./@-".contains(c))
        && matches!(crate::tree::resolve_plain(text), crate::tree::Value::Str(_));
    if plain { text.to_string() } else { Value::String(text.to_string()).to_string() }
}
