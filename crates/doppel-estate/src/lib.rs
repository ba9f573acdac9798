//! Estate files: YAML and JSON descriptions of an estate that people write and sources
//! generate. [`parse`] reads several files into one [`Estate`]; [`Estate::plan`] turns it
//! into the ChangeSet that brings a twin in line with it; every problem, in the files or
//! found when the ChangeSet is checked, becomes a [`Diagnostic`] with file, line, column,
//! field path and, where one is close, a suggestion.
//!
//! The format is documented in `docs/estate-format.md`.

mod decode;
mod diagnostic;
pub mod emit;
mod json;
pub mod schema;
pub mod tree;

pub use decode::{Origin, Section, relation_fields, spec_fields};
pub use diagnostic::Diagnostic;

use doppel_model::{ApplyErrors, Change, ChangeSet, Entity, Key, RelKey, Relation, TwinView};
use std::collections::HashMap;

/// One input file: its path (for messages) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as the user gave it.
    pub path: String,
    /// Contents.
    pub text: String,
}

impl SourceFile {
    /// Whether the file is read as strict JSON (its name ends in `.json`) rather than YAML.
    pub fn is_json(&self) -> bool {
        self.path.to_ascii_lowercase().ends_with(".json")
    }
}

/// Entities and relations read from estate files, each with where it was written.
#[derive(Debug, Default)]
pub struct Estate {
    /// Entities, in file order.
    pub entities: Vec<Entity>,
    /// Relations, in file order.
    pub relations: Vec<Relation>,
    entity_origins: Vec<Origin>,
    relation_origins: Vec<Origin>,
}

/// Reads estate files into one estate. Returns every problem in every file, or the estate.
///
/// Files are read as a stream: each item of `entities:` and `relations:` is decoded as soon
/// as it is parsed and its tree dropped, so memory holds the estate, not the file's tree.
pub fn parse(files: &[SourceFile]) -> Result<Estate, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut entities: Vec<(Entity, Origin)> = Vec::new();
    let mut relations: Vec<(Relation, Origin)> = Vec::new();
    for (file_index, file) in files.iter().enumerate() {
        let mut decoder =
            decode::Decoder { file_name: &file.path, file: file_index as u32, doc: 0, diagnostics: &mut diagnostics };
        let result = tree::parse_stream(&file.text, file.is_json(), &mut |streamed| match streamed {
            tree::Streamed::Item { doc, section, index, node } => {
                decoder.doc = doc;
                decoder.item(&section, index, &node, &mut entities, &mut relations);
            }
            tree::Streamed::Document { doc, node } => {
                decoder.doc = doc;
                if node.value != tree::Value::Null {
                    decoder.document(&node);
                }
            }
        });
        if let Err(error) = result {
            diagnostics.push(Diagnostic {
                file: file.path.clone(),
                line: error.line,
                col: error.col,
                path: String::new(),
                message: if file.is_json() {
                    format!("not valid JSON: {}", error.message)
                } else {
                    format!("not valid YAML or JSON: {}", error.message)
                },
                suggestion: None,
            });
        }
    }
    // Keys must be unique across all files.
    report_repeats(
        entities.iter().map(|(e, o)| (e.key.clone(), o)),
        "is defined twice; it was first defined at",
        files,
        &mut diagnostics,
    );
    report_repeats(relations.iter().map(|(r, o)| (r.key(), o)), "is given twice; first at", files, &mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let (entities, entity_origins) = entities.into_iter().unzip();
    let (relations, relation_origins) = relations.into_iter().unzip();
    Ok(Estate { entities, relations, entity_origins, relation_origins })
}

/// Reports every item whose identity was already seen, naming where it was first given.
fn report_repeats<'a, K: std::hash::Hash + Eq + std::fmt::Display>(
    items: impl Iterator<Item = (K, &'a Origin)>,
    what: &str,
    files: &[SourceFile],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut first_seen: HashMap<K, &'a Origin> = HashMap::new();
    for (identity, origin) in items {
        let message = first_seen
            .get(&identity)
            .map(|first| format!("{identity} {what} {}:{}:{}", files[first.file as usize].path, first.line, first.col));
        match message {
            Some(message) => diagnostics.push(Diagnostic {
                file: files[origin.file as usize].path.clone(),
                line: origin.line,
                col: origin.col,
                path: origin.path(),
                message,
                suggestion: None,
            }),
            None => {
                first_seen.insert(identity, origin);
            }
        }
    }
}

/// The ChangeSet that brings a twin in line with an estate, and where each change came from.
#[derive(Debug)]
pub struct Plan {
    /// The changes.
    pub changeset: ChangeSet,
    origins: Vec<Option<Origin>>,
}

impl Estate {
    /// The number of entities.
    pub fn entity_count(&self) -> usize {
        self.entities.len()
    }

    /// The number of relations.
    pub fn relation_count(&self) -> usize {
        self.relations.len()
    }

    /// The ChangeSet that makes `current` hold this estate: new entities and relations are
    /// added, changed ones updated, identical ones left alone. With `prune`, entities and
    /// relations absent from the estate are removed too (a full sync). Consumes the estate:
    /// its entities move into the ChangeSet.
    pub fn plan(self, current: &(impl TwinView + ?Sized), prune: bool) -> Plan {
        let mut changes = Vec::new();
        let mut origins = Vec::new();
        let removals = if prune { removals(&self, current) } else { Vec::new() };
        for (entity, origin) in self.entities.into_iter().zip(self.entity_origins) {
            match current.entity(&entity.key) {
                None => changes.push(Change::AddEntity(entity)),
                Some(old) if *old != entity => changes.push(Change::UpdateEntity(entity)),
                Some(_) => continue,
            }
            origins.push(Some(origin));
        }
        for (relation, origin) in self.relations.into_iter().zip(self.relation_origins) {
            match current.relation(&relation.key()) {
                None => changes.push(Change::AddRelation(relation)),
                Some(old) if *old != relation.spec => changes.push(Change::UpdateRelation(relation)),
                Some(_) => continue,
            }
            origins.push(Some(origin));
        }
        for change in removals {
            changes.push(change);
            origins.push(None);
        }
        Plan { changeset: ChangeSet::of(changes), origins }
    }
}

/// What a full sync removes: relations between kept entities that the estate lacks, then
/// entities the estate lacks (their other relations go with them).
fn removals(estate: &Estate, current: &(impl TwinView + ?Sized)) -> Vec<Change> {
    let keys: std::collections::HashSet<&Key> = estate.entities.iter().map(|e| &e.key).collect();
    let rels: std::collections::HashSet<RelKey> = estate.relations.iter().map(Relation::key).collect();
    let mut relations: Vec<Change> = current
        .relations()
        .filter(|r| keys.contains(r.from) && keys.contains(r.to) && !rels.contains(&r.key()))
        .map(|r| Change::RemoveRelation(r.key()))
        .collect();
    let mut entities: Vec<Change> =
        current.entities().filter(|e| !keys.contains(&e.key)).map(|e| Change::RemoveEntity(e.key.clone())).collect();
    relations.sort_by_key(Change::subject);
    entities.sort_by_key(Change::subject);
    relations.extend(entities);
    relations
}

impl Plan {
    /// Turns the errors of applying this plan into diagnostics pointing into the files.
    /// Only the items concerned are looked up again, reading each file as a stream.
    pub fn explain(&self, errors: &ApplyErrors, files: &[SourceFile]) -> Vec<Diagnostic> {
        let wanted: Vec<&Origin> =
            errors.0.iter().filter_map(|e| self.origins.get(e.change).and_then(Option::as_ref)).collect();
        let items = find_items(&wanted, files);
        errors
            .0
            .iter()
            .map(|error| {
                let Some(Some(origin)) = self.origins.get(error.change) else {
                    return Diagnostic {
                        file: "(store)".into(),
                        line: 0,
                        col: 0,
                        path: error.field.clone(),
                        message: format!("{}: {}", error.subject, error.message),
                        suggestion: error.suggestion.clone(),
                    };
                };
                let (line, col) = match items.get(&(origin.file, origin.doc, origin.section, origin.index)) {
                    Some(item) => {
                        let entry = item.locate(&origin.inner_path());
                        let field = match error.field.as_str() {
                            // A shorthand's source is the entity itself; point at the entry.
                            "from" | "type" if origin.shorthand.is_some() => "",
                            other => other,
                        };
                        let node = entry.locate(field);
                        (node.line, node.col)
                    }
                    None => (origin.line, origin.col),
                };
                let path =
                    if error.field.is_empty() { origin.path() } else { format!("{}.{}", origin.path(), error.field) };
                Diagnostic {
                    file: files[origin.file as usize].path.clone(),
                    line,
                    col,
                    path,
                    message: format!("{}: {}", error.subject, error.message),
                    suggestion: error.suggestion.clone(),
                }
            })
            .collect()
    }
}

/// The items named by `origins`, read again from their files.
fn find_items(origins: &[&Origin], files: &[SourceFile]) -> HashMap<(u32, u32, Section, u32), tree::Node> {
    let wanted: std::collections::HashSet<(u32, u32, Section, u32)> =
        origins.iter().map(|o| (o.file, o.doc, o.section, o.index)).collect();
    let mut found = HashMap::new();
    for file in wanted.iter().map(|w| w.0).collect::<std::collections::BTreeSet<u32>>() {
        let source = &files[file as usize];
        let _ = tree::parse_stream(&source.text, source.is_json(), &mut |streamed| {
            if let tree::Streamed::Item { doc, section, index, node } = streamed {
                let section = match section.as_str() {
                    "entities" => Section::Entities,
                    "relations" => Section::Relations,
                    _ => return,
                };
                let key = (file, doc, section, index as u32);
                if wanted.contains(&key) {
                    found.insert(key, node);
                }
            }
        });
    }
    found
}
