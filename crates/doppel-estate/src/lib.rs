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
pub mod schema;
pub mod tree;

pub use decode::{Origin, relation_fields, spec_fields};
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
pub fn parse(files: &[SourceFile]) -> Result<Estate, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut entities: Vec<(Entity, Origin)> = Vec::new();
    let mut relations: Vec<(Relation, Origin)> = Vec::new();
    for (file_index, file) in files.iter().enumerate() {
        let documents = match tree::parse_documents(&file.text) {
            Ok(documents) => documents,
            Err(error) => {
                diagnostics.push(Diagnostic {
                    file: file.path.clone(),
                    line: error.line,
                    col: error.col,
                    path: String::new(),
                    message: format!("not valid YAML or JSON: {}", error.message),
                    suggestion: None,
                });
                continue;
            }
        };
        for (doc_index, document) in documents.iter().enumerate() {
            let mut decoder = decode::Decoder {
                file_name: &file.path,
                file: file_index as u32,
                doc: doc_index as u32,
                diagnostics: &mut diagnostics,
            };
            decoder.document(document, &mut entities, &mut relations);
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
                path: origin.path.clone(),
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
    /// The ChangeSet that makes `current` hold this estate: new entities and relations are
    /// added, changed ones updated, identical ones left alone. With `prune`, entities and
    /// relations absent from the estate are removed too (a full sync).
    pub fn plan(&self, current: &(impl TwinView + ?Sized), prune: bool) -> Plan {
        let mut changes = Vec::new();
        let mut origins = Vec::new();
        for (entity, origin) in self.entities.iter().zip(&self.entity_origins) {
            match current.entity(&entity.key) {
                None => changes.push(Change::AddEntity(entity.clone())),
                Some(old) if old != entity => changes.push(Change::UpdateEntity(entity.clone())),
                Some(_) => continue,
            }
            origins.push(Some(origin.clone()));
        }
        for (relation, origin) in self.relations.iter().zip(&self.relation_origins) {
            match current.relation(&relation.key()) {
                None => changes.push(Change::AddRelation(relation.clone())),
                Some(old) if *old != relation.spec => changes.push(Change::UpdateRelation(relation.clone())),
                Some(_) => continue,
            }
            origins.push(Some(origin.clone()));
        }
        if prune {
            let keys: std::collections::HashSet<&Key> = self.entities.iter().map(|e| &e.key).collect();
            let rels: std::collections::HashSet<RelKey> = self.relations.iter().map(Relation::key).collect();
            let mut removals: Vec<Change> = current
                .relations()
                .filter(|r| keys.contains(r.from) && keys.contains(r.to) && !rels.contains(&r.key()))
                .map(|r| Change::RemoveRelation(r.key()))
                .collect();
            let mut gone: Vec<Change> = current
                .entities()
                .filter(|e| !keys.contains(&e.key))
                .map(|e| Change::RemoveEntity(e.key.clone()))
                .collect();
            removals.sort_by_key(Change::subject);
            gone.sort_by_key(Change::subject);
            for change in removals.into_iter().chain(gone) {
                changes.push(change);
                origins.push(None);
            }
        }
        Plan { changeset: ChangeSet::of(changes), origins }
    }
}

impl Plan {
    /// Turns the errors of applying this plan into diagnostics pointing into the files.
    pub fn explain(&self, errors: &ApplyErrors, files: &[SourceFile]) -> Vec<Diagnostic> {
        let mut parsed: HashMap<u32, Vec<tree::Node>> = HashMap::new();
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
                let file = &files[origin.file as usize];
                let documents =
                    parsed.entry(origin.file).or_insert_with(|| tree::parse_documents(&file.text).unwrap_or_default());
                let (line, col) = match documents.get(origin.doc as usize) {
                    Some(doc) => {
                        let item = doc.locate(&origin.path);
                        let field = match error.field.as_str() {
                            // A shorthand's source is the entity itself; point at the entry.
                            "from" if origin.path.matches('.').count() > 1 => "",
                            "type" if origin.path.matches('.').count() > 1 => "",
                            other => other,
                        };
                        let node = item.locate(field);
                        (node.line, node.col)
                    }
                    None => (origin.line, origin.col),
                };
                let path = if error.field.is_empty() {
                    origin.path.clone()
                } else {
                    format!("{}.{}", origin.path, error.field)
                };
                Diagnostic {
                    file: file.path.clone(),
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
