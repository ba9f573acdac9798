//! The `estate` source: estate files (`docs/estate-format.md`) read as a source instance,
//! so a continuous sync keeps them loaded beside the other sources and drift can compare
//! what they declare (entities and relations, `calls` among them) with what is observed.
//! Unlike `doppel load`, what it adds carries the owner label, so it removes only its own.

use crate::{Error, Observation, Place, Result, Source};
use doppel_estate::SourceFile;
use serde::Deserialize;

/// The `estate` section of a sources file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EstateConfig {
    /// The source instance's name: what its entities are labelled with (`estate`).
    pub name: String,
    /// Whether the files are the whole of this instance: what it added before but they
    /// lack is removed.
    pub prune: bool,
}

impl Default for EstateConfig {
    fn default() -> EstateConfig {
        EstateConfig { name: "estate".into(), prune: false }
    }
}

impl EstateConfig {
    /// The source, reading these texts (already read from files).
    pub fn build(self, inputs: Vec<SourceFile>) -> EstateFiles {
        EstateFiles { config: self, inputs }
    }
}

/// Estate files as a source.
#[derive(Debug, Clone)]
pub struct EstateFiles {
    config: EstateConfig,
    inputs: Vec<SourceFile>,
}

impl Source for EstateFiles {
    fn system(&self) -> &'static str {
        "estate"
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    /// The files' entities and relations; the first problem in them is the error (with its
    /// file, line and column; `doppel validate` lists them all).
    fn pull(&mut self) -> Result<Observation> {
        let estate = doppel_estate::parse(&self.inputs).map_err(|diagnostics| {
            let total = diagnostics.len();
            let first = diagnostics.into_iter().next();
            let (place, message) = match first {
                Some(d) => {
                    let more = if total > 1 { format!(" (and {} more problems)", total - 1) } else { String::new() };
                    let field = if d.path.is_empty() { String::new() } else { format!("{}: ", d.path) };
                    (Place { file: d.file, line: d.line, col: d.col }, format!("{field}{}{more}", d.message))
                }
                None => (Place { file: String::new(), line: 0, col: 0 }, "the files were refused".into()),
            };
            Error::Object { source_name: self.config.name.clone(), object: "estate file".into(), place, message }
        })?;
        let n = self.inputs.len();
        Ok(Observation {
            entities: estate.entities,
            relations: estate.relations,
            complete: self.config.prune,
            input: format!("{n} estate file{}", if n == 1 { "" } else { "s" }),
            ..Observation::default()
        })
    }
}
