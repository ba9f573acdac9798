//! Decoding documents into entities and relations, collecting every problem with its place.

use crate::diagnostic::Diagnostic;
use crate::tree::{Node, Value};
use doppel_model::suggest::closest;
use doppel_model::{Entity, Key, KeyError, Kind, Labels, RelKind, RelSpec, Relation, Spec};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Which top-level list an item is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `entities:`
    Entities,
    /// `relations:`
    Relations,
}

impl Section {
    /// The top-level key.
    pub fn name(self) -> &'static str {
        match self {
            Section::Entities => "entities",
            Section::Relations => "relations",
        }
    }
}

/// Where an entity or relation was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Index of the file in the list given to [`crate::parse`].
    pub file: u32,
    /// Index of the YAML document in the file.
    pub doc: u32,
    /// The top-level list.
    pub section: Section,
    /// Position in that list.
    pub index: u32,
    /// For a relation written inside an entity: its type and, in a list, its position.
    pub shorthand: Option<(RelKind, Option<u32>)>,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl Origin {
    /// The item's path in its document (`entities.3`, `entities.3.calls.1`).
    pub fn path(&self) -> String {
        let mut path = format!("{}.{}", self.section.name(), self.index);
        if let Some((kind, position)) = self.shorthand {
            path.push('.');
            path.push_str(kind.name());
            if let Some(position) = position {
                path.push_str(&format!(".{position}"));
            }
        }
        path
    }

    /// The path inside the item (`calls.1` for a shorthand, empty otherwise).
    pub fn inner_path(&self) -> String {
        match self.shorthand {
            Some((kind, Some(position))) => format!("{}.{position}", kind.name()),
            Some((kind, None)) => kind.name().to_string(),
            None => String::new(),
        }
    }
}

pub(crate) struct Decoder<'a> {
    pub file_name: &'a str,
    pub file: u32,
    pub doc: u32,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

const COMMON_FIELDS: [&str; 3] = ["kind", "name", "labels"];

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// The generated schemas of every kind's attributes and every relation type's, read once:
/// their properties (and names), and the shared definitions they refer to.
struct Schemas {
    kinds: HashMap<Kind, JsonMap>,
    kind_fields: HashMap<Kind, Vec<String>>,
    relation_fields: HashMap<RelKind, Vec<String>>,
    definitions: JsonMap,
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut generator = schemars::SchemaGenerator::default();
        let kind_schemas: Vec<(Kind, schemars::Schema)> =
            Kind::ALL.iter().map(|&k| (k, Spec::schema_for(k, &mut generator))).collect();
        let relation_schemas: Vec<(RelKind, schemars::Schema)> =
            RelKind::ALL.iter().map(|&k| (k, RelSpec::schema_for(k, &mut generator))).collect();
        let definitions = generator.definitions().clone();
        let kinds: HashMap<Kind, JsonMap> =
            kind_schemas.iter().map(|(k, s)| (*k, properties_of(s.as_value(), &definitions))).collect();
        let kind_fields = kinds.iter().map(|(k, props)| (*k, props.keys().cloned().collect())).collect();
        let relation_fields = relation_schemas
            .iter()
            .map(|(k, s)| (*k, properties_of(s.as_value(), &definitions).keys().cloned().collect()))
            .collect();
        Schemas { kinds, kind_fields, relation_fields, definitions }
    })
}

/// Field names each kind's attributes accept, read from the generated JSON Schema.
pub fn spec_fields(kind: Kind) -> &'static [String] {
    schemas().kind_fields.get(&kind).map(Vec::as_slice).unwrap_or(&[])
}

/// Attribute names each relation type accepts.
pub fn relation_fields(kind: RelKind) -> &'static [String] {
    schemas().relation_fields.get(&kind).map(Vec::as_slice).unwrap_or(&[])
}

/// Resolves a `$ref` against the definitions.
pub(crate) fn resolve_in<'s>(schema: &'s serde_json::Value, definitions: &'s JsonMap) -> &'s serde_json::Value {
    match schema.get("$ref").and_then(|r| r.as_str()).and_then(|r| r.rsplit('/').next()) {
        Some(name) => definitions.get(name).unwrap_or(schema),
        None => schema,
    }
}

/// The `properties` of a (possibly referenced) object schema.
pub(crate) fn properties_of(schema: &serde_json::Value, definitions: &JsonMap) -> JsonMap {
    resolve_in(schema, definitions).get("properties").and_then(|p| p.as_object()).cloned().unwrap_or_default()
}

/// Whether a node could be an instance of a schema, judging by shape only.
fn shape_fits(node: &Node, schema: &serde_json::Value) -> bool {
    let declared = schema.get("type").and_then(|t| t.as_str());
    match &node.value {
        Value::Map(_) => declared == Some("object") || schema.get("properties").is_some(),
        Value::Seq(_) => declared == Some("array"),
        _ => false,
    }
}

impl Decoder<'_> {
    fn error(&mut self, node: &Node, path: &str, message: impl Into<String>, suggestion: Option<String>) {
        self.diagnostics.push(Diagnostic {
            file: self.file_name.to_string(),
            line: node.line,
            col: node.col,
            path: path.to_string(),
            message: message.into(),
            suggestion,
        });
    }

    fn origin(&self, node: &Node, section: Section, index: usize, shorthand: Option<(RelKind, Option<u32>)>) -> Origin {
        Origin {
            file: self.file,
            doc: self.doc,
            section,
            index: index as u32,
            shorthand,
            line: node.line,
            col: node.col,
        }
    }

    /// Decodes one item of a top-level list (items of unknown lists are left to
    /// [`Decoder::document`], which reports the unknown key).
    pub fn item(
        &mut self,
        section: &str,
        index: usize,
        node: &Node,
        entities: &mut Vec<(Entity, Origin)>,
        relations: &mut Vec<(Relation, Origin)>,
    ) {
        match section {
            "entities" => self.entity(node, index, entities, relations),
            "relations" => {
                let path = format!("relations.{index}");
                if let Some(relation) = self.relation(node, &path) {
                    relations.push((relation, self.origin(node, Section::Relations, index, None)));
                }
            }
            _ => {}
        }
    }

    /// Checks a document's top level (its lists' items come through [`Decoder::item`]).
    pub fn document(&mut self, doc: &Node) {
        let Some(map) = doc.as_map() else {
            self.error(
                doc,
                "",
                format!("expected a map with `entities:` and `relations:` lists, found {}", doc.value.describe()),
                None,
            );
            return;
        };
        if doc.key_of("apiVersion").is_some() && doc.key_of("kind").is_some() {
            self.error(
                doc,
                "",
                "this is a Kubernetes manifest, not an estate file: estate files hold `entities:` and `relations:` lists",
                None,
            );
            return;
        }
        for (key, value) in map {
            let field = key.scalar_text().unwrap_or_default();
            match field.as_str() {
                "entities" | "relations" => match &value.value {
                    Value::Seq(_) | Value::Null => {}
                    other => self.error(
                        value,
                        &field,
                        format!("expected a list of {field}, found {}", other.describe()),
                        None,
                    ),
                },
                _ => {
                    let suggestion = closest(&field, ["entities", "relations"]).map(str::to_string);
                    self.error(
                        key,
                        &field,
                        format!("unknown top-level field `{field}`: expected `entities` or `relations`"),
                        suggestion,
                    );
                }
            }
        }
    }

    fn key(&mut self, node: &Node, path: &str, what: &str) -> Option<Key> {
        let Some(text) = node.as_str() else {
            self.error(
                node,
                path,
                format!("expected {what} as KIND/NAME (such as service/checkout), found {}", node.value.describe()),
                None,
            );
            return None;
        };
        match text.parse::<Key>() {
            Ok(key) => Some(key),
            Err(error) => {
                let suggestion = match &error {
                    KeyError::UnknownKind { suggestion: Some(kind), .. } => {
                        text.split_once('/').map(|(_, name)| format!("{kind}/{name}"))
                    }
                    _ => None,
                };
                let message = match error {
                    KeyError::UnknownKind { prefix, .. } => {
                        format!("`{prefix}` is not a kind of entity")
                    }
                    other => other.to_string(),
                };
                self.error(node, path, message, suggestion);
                None
            }
        }
    }

    fn entity(
        &mut self,
        node: &Node,
        index: usize,
        entities: &mut Vec<(Entity, Origin)>,
        relations: &mut Vec<(Relation, Origin)>,
    ) {
        let path = &format!("entities.{index}");
        let Some(map) = node.as_map() else {
            self.error(
                node,
                path,
                format!("expected an entity (a map with kind, name and attributes), found {}", node.value.describe()),
                None,
            );
            return;
        };
        let kind_node = node.locate("kind");
        let kind = match (node.key_of("kind"), kind_node.as_str()) {
            (None, _) => {
                self.error(node, path, "an entity needs `kind:` (service, zone, pod, ...)", None);
                None
            }
            (Some(_), Some(text)) => match Kind::from_prefix(text) {
                Some(kind) => Some(kind),
                None => {
                    let suggestion = closest(text, Kind::ALL.iter().map(|k| k.prefix())).map(str::to_string);
                    self.error(
                        kind_node,
                        &format!("{path}.kind"),
                        format!("`{text}` is not a kind of entity"),
                        suggestion,
                    );
                    None
                }
            },
            (Some(_), None) => {
                self.error(
                    kind_node,
                    &format!("{path}.kind"),
                    format!("expected a kind name, found {}", kind_node.value.describe()),
                    None,
                );
                None
            }
        };
        let name_node = node.locate("name");
        let name = match (node.key_of("name"), name_node.scalar_text()) {
            (None, _) => {
                self.error(node, path, "an entity needs `name:`", None);
                None
            }
            (Some(_), Some(text)) if matches!(name_node.value, Value::Str(_) | Value::Int(_)) => Some(text),
            (Some(_), _) => {
                self.error(
                    name_node,
                    &format!("{path}.name"),
                    format!("expected a name, found {}", name_node.value.describe()),
                    None,
                );
                None
            }
        };
        let key = match (kind, name) {
            (Some(kind), Some(name)) => match Key::new(kind, &name) {
                Ok(key) => Some(key),
                Err(error) => {
                    self.error(name_node, &format!("{path}.name"), error.to_string(), None);
                    None
                }
            },
            _ => None,
        };
        let mut labels = Labels::default();
        let mut fields = serde_json::Map::new();
        let mut nested_unknown = false;
        let mut shorthands: Vec<(RelKind, &Node)> = Vec::new();
        for (field_node, value) in map {
            let field = field_node.scalar_text().unwrap_or_default();
            if COMMON_FIELDS.contains(&field.as_str()) {
                if field == "labels" {
                    labels = self.labels(value, &format!("{path}.labels"));
                }
                continue;
            }
            if let Some(rel_kind) = RelKind::from_name(&field) {
                shorthands.push((rel_kind, value));
                continue;
            }
            let Some(kind) = kind else { continue };
            if spec_fields(kind).contains(&field) {
                if let Some(schema) = schemas().kinds.get(&kind).and_then(|p| p.get(&field)) {
                    nested_unknown |= self.unknown_keys(value, schema, &format!("{path}.{field}"));
                }
                fields.insert(field, value.to_json());
            } else {
                let candidates = spec_fields(kind)
                    .iter()
                    .map(String::as_str)
                    .chain(RelKind::ALL.iter().map(|r| r.name()))
                    .chain(COMMON_FIELDS);
                let suggestion = closest(&field, candidates).map(str::to_string);
                self.error(
                    field_node,
                    &format!("{path}.{field}"),
                    format!("a {kind} has no field `{field}`"),
                    suggestion,
                );
            }
        }
        let (Some(kind), Some(key)) = (kind, key) else {
            return;
        };
        if nested_unknown {
            // Every unknown key was reported; serde would only repeat the first.
            return;
        }
        let fields = serde_json::Value::Object(fields);
        let mut track = serde_path_to_error::Track::new();
        let spec = match Spec::from_fields(kind, serde_path_to_error::Deserializer::new(&fields, &mut track)) {
            Ok(spec) => spec,
            Err(error) => {
                self.serde_error(node, path, &track.path().to_string(), error);
                return;
            }
        };
        for (rel_kind, value) in shorthands {
            let field_path = format!("{path}.{}", rel_kind.name());
            let items: Vec<(&Node, Option<u32>)> = match &value.value {
                Value::Seq(items) => items.iter().enumerate().map(|(i, item)| (item, Some(i as u32))).collect(),
                _ => vec![(value, None)],
            };
            for (item, position) in items {
                let item_path = match position {
                    Some(i) => format!("{field_path}.{i}"),
                    None => field_path.clone(),
                };
                let (to_node, attrs): (&Node, serde_json::Map<String, serde_json::Value>) = match &item.value {
                    Value::Map(entries) => {
                        let Some((_, to)) = entries.iter().find(|(k, _)| k.as_str() == Some("to")) else {
                            self.error(
                                item,
                                &item_path,
                                format!("a {rel_kind} entry needs `to:` naming the target entity"),
                                None,
                            );
                            continue;
                        };
                        let mut attrs = serde_json::Map::new();
                        for (k, v) in entries {
                            let name = k.scalar_text().unwrap_or_default();
                            if name != "to" {
                                attrs.insert(name, v.to_json());
                            }
                        }
                        (to, attrs)
                    }
                    _ => (item, serde_json::Map::new()),
                };
                let Some(to) = self.key(to_node, &item_path, "the target entity") else {
                    continue;
                };
                let Some(spec) = self.relation_attrs(rel_kind, attrs, item, &item_path) else {
                    continue;
                };
                let origin = self.origin(item, Section::Entities, index, Some((rel_kind, position)));
                relations.push((Relation { from: key.clone(), to, spec }, origin));
            }
        }
        entities.push((Entity { key, labels, spec }, self.origin(node, Section::Entities, index, None)));
    }

    /// Reports every key, at any depth under `node`, that its schema does not know, with
    /// the closest known key. Returns whether any was found.
    fn unknown_keys(&mut self, node: &Node, schema: &serde_json::Value, path: &str) -> bool {
        let definitions = &schemas().definitions;
        let mut schema = resolve_in(schema, definitions);
        // Option<T> and enums: descend only when exactly one alternative has this shape,
        // or one alternative's properties hold every key; otherwise leave it to serde.
        if let Some(alternatives) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(|a| a.as_array()) {
            let fitting: Vec<&serde_json::Value> =
                alternatives.iter().map(|a| resolve_in(a, definitions)).filter(|a| shape_fits(node, a)).collect();
            let holds_all =
                |a: &&serde_json::Value| match (&node.value, a.get("properties").and_then(|p| p.as_object())) {
                    (Value::Map(entries), Some(props)) => {
                        entries.iter().all(|(k, _)| k.as_str().is_some_and(|k| props.contains_key(k)))
                    }
                    _ => false,
                };
            schema = match fitting.as_slice() {
                [only] => only,
                many => match many.iter().find(|a| holds_all(a)) {
                    Some(best) => best,
                    None => return false,
                },
            };
        }
        let mut found = false;
        match &node.value {
            Value::Map(entries) => {
                let Some(props) = schema.get("properties").and_then(|p| p.as_object()) else { return false };
                let closed = schema.get("additionalProperties") == Some(&serde_json::Value::Bool(false));
                for (key, value) in entries {
                    let name = key.scalar_text().unwrap_or_default();
                    match props.get(&name) {
                        Some(sub) => found |= self.unknown_keys(value, sub, &format!("{path}.{name}")),
                        None if closed => {
                            let suggestion = closest(&name, props.keys().map(String::as_str)).map(str::to_string);
                            let accepted = props.keys().cloned().collect::<Vec<_>>().join(", ");
                            self.error(
                                key,
                                &format!("{path}.{name}"),
                                format!("no field `{name}` here: expected one of {accepted}"),
                                suggestion,
                            );
                            found = true;
                        }
                        None => {}
                    }
                }
            }
            Value::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        found |= self.unknown_keys(item, item_schema, &format!("{path}.{i}"));
                    }
                }
            }
            _ => {}
        }
        found
    }

    fn labels(&mut self, node: &Node, path: &str) -> Labels {
        match &node.value {
            Value::Map(entries) => {
                let mut pairs = Vec::new();
                for (k, v) in entries {
                    match (k.scalar_text(), v.scalar_text()) {
                        (Some(k), Some(v)) => pairs.push((k, v)),
                        (Some(k), None) => self.error(
                            v,
                            &format!("{path}.{k}"),
                            format!("a label value is text, found {}", v.value.describe()),
                            None,
                        ),
                        _ => {}
                    }
                }
                Labels::from_pairs(pairs)
            }
            Value::Null => Labels::default(),
            other => {
                self.error(
                    node,
                    path,
                    format!("expected labels as a map of strings, found {}", other.describe()),
                    None,
                );
                Labels::default()
            }
        }
    }

    fn relation_attrs(
        &mut self,
        kind: RelKind,
        attrs: serde_json::Map<String, serde_json::Value>,
        node: &Node,
        path: &str,
    ) -> Option<RelSpec> {
        let mut ok = true;
        for field in attrs.keys() {
            if !relation_fields(kind).iter().any(|f| f == field) {
                let suggestion = closest(field, relation_fields(kind).iter().map(String::as_str)).map(str::to_string);
                let at = node.key_of(field).unwrap_or(node);
                let accepted = if relation_fields(kind).is_empty() {
                    "it takes no attributes".to_string()
                } else {
                    format!("it takes {}", relation_fields(kind).join(", "))
                };
                self.error(
                    at,
                    &format!("{path}.{field}"),
                    format!("a {kind} relation has no attribute `{field}`: {accepted}"),
                    suggestion,
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let attrs = serde_json::Value::Object(attrs);
        let mut track = serde_path_to_error::Track::new();
        match RelSpec::from_fields(kind, serde_path_to_error::Deserializer::new(&attrs, &mut track)) {
            Ok(spec) => Some(spec),
            Err(error) => {
                self.serde_error(node, path, &track.path().to_string(), error);
                None
            }
        }
    }

    fn relation(&mut self, node: &Node, path: &str) -> Option<Relation> {
        let Some(map) = node.as_map() else {
            self.error(
                node,
                path,
                format!("expected a relation (a map with type, from and to), found {}", node.value.describe()),
                None,
            );
            return None;
        };
        let mut missing = false;
        for field in ["type", "from", "to"] {
            if node.key_of(field).is_none() {
                self.error(node, path, format!("a relation needs `{field}:`"), None);
                missing = true;
            }
        }
        if missing {
            return None;
        }
        let type_node = node.locate("type");
        let kind = match type_node.as_str().and_then(RelKind::from_name) {
            Some(kind) => Some(kind),
            None => {
                let text = type_node.scalar_text().unwrap_or_default();
                let suggestion = closest(&text, RelKind::ALL.iter().map(|r| r.name())).map(str::to_string);
                let names = RelKind::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ");
                self.error(
                    type_node,
                    &format!("{path}.type"),
                    format!("`{text}` is not a relation type: expected one of {names}"),
                    suggestion,
                );
                None
            }
        };
        let from = self.key(node.locate("from"), &format!("{path}.from"), "the source entity");
        let to = self.key(node.locate("to"), &format!("{path}.to"), "the target entity");
        let kind = kind?;
        let mut attrs = serde_json::Map::new();
        for (k, v) in map {
            let name = k.scalar_text().unwrap_or_default();
            if !["type", "from", "to"].contains(&name.as_str()) {
                attrs.insert(name, v.to_json());
            }
        }
        let spec = self.relation_attrs(kind, attrs, node, path)?;
        Some(Relation { from: from?, to: to?, spec })
    }

    fn serde_error(&mut self, node: &Node, path: &str, field: &str, error: serde_json::Error) {
        let field = if field == "." { String::new() } else { field.to_string() };
        let at = node.locate(&field);
        let message = error.to_string();
        // serde names unknown fields and the accepted ones between backticks.
        let (message, suggestion) = if let Some(rest) = message.strip_prefix("unknown field `") {
            let quoted: Vec<&str> = rest.split('`').step_by(2).collect();
            let unknown = quoted.first().copied().unwrap_or_default();
            let suggestion = closest(unknown, quoted.iter().skip(1).copied()).map(str::to_string);
            let accepted = quoted[1..].join(", ");
            let at = node.locate(&field).key_of(unknown).unwrap_or(at);
            let full = if field.is_empty() { format!("{path}.{unknown}") } else { format!("{path}.{field}.{unknown}") };
            self.error(at, &full, format!("no field `{unknown}` here: expected one of {accepted}"), suggestion);
            return;
        } else {
            (message, None)
        };
        let full = if field.is_empty() { path.to_string() } else { format!("{path}.{field}") };
        self.error(at, &full, message, suggestion);
    }
}
