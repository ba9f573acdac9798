//! The JSON Schema of estate files, generated from the model's types, for editor
//! completion and validation (`doppel schema`).

use doppel_model::{Kind, RelKind, RelSpec, Spec};
use serde_json::{Map, Value, json};

/// The JSON Schema (draft 2020-12) of an estate file.
pub fn estate_schema() -> Value {
    let mut generator = schemars::SchemaGenerator::default();
    let key = json!({"type": "string", "pattern": "^[a-z0-9-]+/\\S+$", "description": "An entity key: KIND/NAME, such as service/checkout"});
    let mut entity_variants = Vec::new();
    for &kind in Kind::ALL {
        let schema = Spec::schema_for(kind, &mut generator);
        let mut properties = properties_of(&schema, &generator);
        properties.insert("kind".into(), json!({"const": kind.prefix()}));
        properties.insert("name".into(), json!({"type": "string", "minLength": 1, "maxLength": 253}));
        properties.insert("labels".into(), json!({"type": "object", "additionalProperties": {"type": "string"}}));
        for &rel in RelKind::ALL {
            if !rel.allows_from(kind) {
                continue;
            }
            let attrs = RelSpec::schema_for(rel, &mut generator);
            let mut attr_props = properties_of(&attrs, &generator);
            attr_props.insert("to".into(), key.clone());
            let entry = json!({"anyOf": [key, {"type": "object", "properties": attr_props, "required": ["to"], "additionalProperties": false}]});
            properties.insert(rel.name().into(), json!({"description": rel_description(rel), "anyOf": [entry.clone(), {"type": "array", "items": entry}]}));
        }
        entity_variants.push(json!({
            "title": kind.prefix(),
            "type": "object",
            "properties": properties,
            "required": ["kind", "name"],
            "additionalProperties": false,
        }));
    }
    let mut relation_variants = Vec::new();
    for &rel in RelKind::ALL {
        let attrs = RelSpec::schema_for(rel, &mut generator);
        let mut properties = properties_of(&attrs, &generator);
        properties.insert("type".into(), json!({"const": rel.name()}));
        properties.insert("from".into(), key.clone());
        properties.insert("to".into(), key.clone());
        relation_variants.push(json!({
            "title": rel.name(),
            "description": rel_description(rel),
            "type": "object",
            "properties": properties,
            "required": ["type", "from", "to"],
            "additionalProperties": false,
        }));
    }
    let definitions: Map<String, Value> = generator.definitions().clone().into_iter().collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Doppel estate file",
        "description": "Entities and relations of an estate. See docs/estate-format.md.",
        "type": "object",
        "properties": {
            "entities": {"type": "array", "items": {"oneOf": entity_variants}},
            "relations": {"type": "array", "items": {"oneOf": relation_variants}},
        },
        "additionalProperties": false,
        "$defs": definitions,
    })
}

fn properties_of(schema: &schemars::Schema, generator: &schemars::SchemaGenerator) -> Map<String, Value> {
    crate::decode::properties_of(schema.as_value(), generator.definitions())
}

fn rel_description(rel: RelKind) -> String {
    format!("{} relation: {}", rel.name(), rel.describe_endpoints())
}
