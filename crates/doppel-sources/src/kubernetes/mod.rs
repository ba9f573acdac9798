//! The `kubernetes` source, manifest import: YAML or JSON streams of Kubernetes objects
//! (`kubectl get -o yaml`, Helm and kustomize output, hand-written manifests) mapped onto
//! the twin. The live cluster watch (crate `doppel-kube`) shares the object mapping through
//! [`map_json`] and [`observe`].

mod derive;
mod objects;
mod read;

pub use derive::service_names;
pub use objects::{looks_secret, model_kind};

use crate::{Observation, Place, Result, Source, Warning, WarningKind};
use doppel_estate::SourceFile;
use doppel_model::Key;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The `kubernetes` section of a sources file, for manifest import.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManifestConfig {
    /// The source instance's name: what its entities are labelled with (`kubernetes`).
    pub name: String,
    /// Namespace of namespaced objects that name none (`default`, as kubectl).
    pub namespace: String,
    /// Whether the input is the whole of this instance: what it owned before but the input
    /// lacks is removed.
    pub prune: bool,
    /// Whether a file that cannot be read (not YAML, a malformed object) is skipped with a
    /// warning instead of stopping the import; nothing is pruned when one was skipped.
    pub keep_going: bool,
}

impl Default for ManifestConfig {
    fn default() -> ManifestConfig {
        ManifestConfig { name: "kubernetes".into(), namespace: "default".into(), prune: false, keep_going: false }
    }
}

impl ManifestConfig {
    /// The source, reading these texts (already read from files or standard input).
    pub fn build(self, inputs: Vec<SourceFile>) -> Manifests {
        Manifests { config: self, inputs }
    }
}

/// The manifest importer: the `kubernetes` source over a set of texts.
#[derive(Debug, Clone)]
pub struct Manifests {
    config: ManifestConfig,
    inputs: Vec<SourceFile>,
}

impl Source for Manifests {
    fn system(&self) -> &'static str {
        "kubernetes"
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn pull(&mut self) -> Result<Observation> {
        let mut warnings: Vec<Warning> = Vec::new();
        let mut objects: BTreeMap<Key, objects::Object> = BTreeMap::new();
        let mut skipped = 0usize;
        for file in &self.inputs {
            // A file's objects and warnings are kept only once all of it was read.
            let (mut read, mut file_warnings): (Vec<objects::Object>, Vec<Warning>) = (Vec::new(), Vec::new());
            let mut reader = objects::Reader {
                source_name: &self.config.name,
                default_namespace: &self.config.namespace,
                warnings: &mut file_warnings,
            };
            let result = read::for_each_object(file, &self.config.name, &mut |node, place| {
                if let Some(object) = objects::read(&mut reader, node, place)? {
                    read.push(object);
                }
                Ok(())
            });
            if let Err(error) = result {
                if !self.config.keep_going {
                    return Err(error);
                }
                skipped += 1;
                warnings.push(Warning {
                    kind: WarningKind::Skipped,
                    object: None,
                    // The error's text names its place; a file-wide one gets the file.
                    place: error.place().is_none().then(|| Place { file: file.path.clone(), line: 0, col: 0 }),
                    subject: "unreadable file".into(),
                    message: format!("{error}; the whole file was skipped (--keep-going)"),
                });
                continue;
            }
            warnings.extend(file_warnings);
            for object in read {
                let key = object.entity.key.clone();
                let place = object.place.clone();
                if let Some(earlier) = objects.insert(key.clone(), object) {
                    warnings.push(Warning {
                        kind: WarningKind::Duplicate,
                        object: Some(format!("{} {}", earlier.api_kind, key.name())),
                        place: Some(place),
                        subject: earlier.api_kind.clone(),
                        message: format!("defined again; the one at {} is replaced", earlier.place),
                    });
                }
            }
        }
        if skipped > 0 && self.config.prune {
            warnings.push(Warning {
                kind: WarningKind::Skipped,
                object: None,
                place: None,
                subject: "prune".into(),
                message: format!(
                    "{skipped} file{} could not be read, so nothing is pruned: what they hold cannot be told from what was removed",
                    if skipped == 1 { "" } else { "s" }
                ),
            });
        }
        let derived = derive::derive(objects, &mut warnings);
        let n = self.inputs.len();
        Ok(Observation {
            entities: derived.entities,
            relations: derived.relations,
            samples: Vec::new(),
            warnings,
            complete: self.config.prune && skipped == 0,
            input: format!("{n} manifest file{}", if n == 1 { "" } else { "s" }),
            origins: derived.origins,
            ..Observation::default()
        })
    }
}

/// One Kubernetes object mapped on its own: its entity, what its relations are later derived
/// from, and the warnings its reading gave. Relations need the whole set: see [`observe`].
#[derive(Debug, Clone, PartialEq)]
pub struct MappedObject {
    object: Option<objects::Object>,
    warnings: Vec<Warning>,
}

impl MappedObject {
    /// The entity's key; `None` for a kind that is not mapped (a warning says so).
    pub fn key(&self) -> Option<&Key> {
        self.object.as_ref().map(|o| &o.entity.key)
    }

    /// What reading the object skipped (unknown fields, an unmapped kind).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

/// Maps one object given as JSON (as the Kubernetes API serves it) with the same mapping
/// as manifests. `place` says where it came from (its API address: JSON has no lines);
/// `source_name` names the source instance in messages; namespaced objects naming no
/// namespace go to `default`. A malformed object is an error naming the source, the
/// object and `place`.
pub fn map_json(value: &serde_json::Value, place: Place, source_name: &str) -> Result<MappedObject> {
    let node = read::node_from_json(value);
    let mut warnings = Vec::new();
    let mut reader = objects::Reader { source_name, default_namespace: "default", warnings: &mut warnings };
    let object = objects::read(&mut reader, &node, place)?;
    Ok(MappedObject { object, warnings })
}

/// The observation of a set of mapped objects: their entities, the relations derived across
/// them (selectors, owners, accounts, bindings, names in environment and arguments), their
/// warnings and those of the derivation. An object whose key came earlier replaces it (a
/// `duplicate` warning). `complete` says whether the set is the whole of the instance;
/// `input` says what was read, for the provenance summary.
pub fn observe<'a>(objects: impl IntoIterator<Item = &'a MappedObject>, complete: bool, input: String) -> Observation {
    let mut warnings: Vec<Warning> = Vec::new();
    let mut by_key: BTreeMap<Key, objects::Object> = BTreeMap::new();
    for mapped in objects {
        warnings.extend(mapped.warnings.iter().cloned());
        let Some(object) = &mapped.object else { continue };
        let key = object.entity.key.clone();
        if let Some(earlier) = by_key.insert(key.clone(), object.clone()) {
            warnings.push(Warning {
                kind: WarningKind::Duplicate,
                object: Some(format!("{} {}", earlier.api_kind, key.name())),
                place: Some(object.place.clone()),
                subject: earlier.api_kind.clone(),
                message: format!("defined again; the one at {} is replaced", earlier.place),
            });
        }
    }
    let derived = derive::derive(by_key, &mut warnings);
    Observation {
        entities: derived.entities,
        relations: derived.relations,
        warnings,
        complete,
        input,
        origins: derived.origins,
        ..Observation::default()
    }
}
