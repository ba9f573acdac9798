//! The `kubernetes` source, manifest import: YAML or JSON streams of Kubernetes objects
//! (`kubectl get -o yaml`, Helm and kustomize output, hand-written manifests) mapped onto
//! the twin. A live cluster watch will share the object mapping.

mod derive;
mod objects;
mod read;

pub use derive::service_names;
pub use objects::looks_secret;

use crate::{Observation, Result, Source, Warning, WarningKind};
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
}

impl Default for ManifestConfig {
    fn default() -> ManifestConfig {
        ManifestConfig { name: "kubernetes".into(), namespace: "default".into(), prune: false }
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
        for file in &self.inputs {
            let mut reader = objects::Reader {
                source_name: &self.config.name,
                default_namespace: &self.config.namespace,
                warnings: &mut warnings,
            };
            let mut duplicates: Vec<Warning> = Vec::new();
            read::for_each_object(file, &self.config.name, &mut |node, place| {
                if let Some(object) = objects::read(&mut reader, node, place)? {
                    let key = object.entity.key.clone();
                    if let Some(earlier) = objects.insert(key.clone(), object) {
                        duplicates.push(Warning {
                            kind: WarningKind::Duplicate,
                            object: Some(format!("{} {}", earlier.api_kind, key.name())),
                            place: objects.get(&key).map(|o| o.place.clone()),
                            subject: earlier.api_kind.clone(),
                            message: format!("defined again; the one at {} is replaced", earlier.place),
                        });
                    }
                }
                Ok(())
            })?;
            warnings.extend(duplicates);
        }
        let derived = derive::derive(objects, &mut warnings);
        let n = self.inputs.len();
        Ok(Observation {
            entities: derived.entities,
            relations: derived.relations,
            samples: Vec::new(),
            warnings,
            complete: self.config.prune,
            input: format!("{n} manifest file{}", if n == 1 { "" } else { "s" }),
            origins: derived.origins,
            ..Observation::default()
        })
    }
}
