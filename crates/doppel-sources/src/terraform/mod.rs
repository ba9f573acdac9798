//! The `terraform` source: `terraform show -json` documents (a state, or a saved plan) mapped
//! onto the twin. AWS resources first; other types are counted as warnings, data sources
//! skipped, sensitive values dropped before mapping. A plan becomes the ChangeSet that takes
//! the twin to the planned state: creations added, updates updated, deletions removed,
//! replacements removed and added again.

mod aws;
mod document;

use crate::{Observation, Place, ReportedDrift, Result, Source, Warning, WarningKind};
use document::{Action, DocKind};
use doppel_estate::SourceFile;
use doppel_model::Key;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `terraform` section of a sources file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerraformConfig {
    /// The source instance's name: what its entities are labelled with (`terraform`).
    pub name: String,
    /// Whether the documents are the whole of this instance (a state is): what it owned
    /// before but they lack is removed.
    pub prune: bool,
}

impl Default for TerraformConfig {
    fn default() -> TerraformConfig {
        TerraformConfig { name: "terraform".into(), prune: true }
    }
}

impl TerraformConfig {
    /// The source, reading these texts (already read from files or standard input).
    pub fn build(self, inputs: Vec<SourceFile>) -> Terraform {
        Terraform { config: self, inputs, plan: None }
    }
}

/// What a plan does, resource by resource (addresses, sorted).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanSummary {
    /// Resources created.
    pub create: Vec<String>,
    /// Resources changed in place.
    pub update: Vec<String>,
    /// Resources destroyed.
    pub delete: Vec<String>,
    /// Resources destroyed and created again.
    pub replace: Vec<String>,
    /// Resources left as they are.
    pub no_op: usize,
}

/// The Terraform importer over a set of `terraform show -json` documents.
#[derive(Debug, Clone)]
pub struct Terraform {
    config: TerraformConfig,
    inputs: Vec<SourceFile>,
    plan: Option<PlanSummary>,
}

impl Terraform {
    /// What the plans among the inputs do, once pulled; `None` if no input was a plan.
    pub fn plan(&self) -> Option<&PlanSummary> {
        self.plan.as_ref()
    }
}

impl Source for Terraform {
    fn system(&self) -> &'static str {
        "terraform"
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn pull(&mut self) -> Result<Observation> {
        let mut warnings: Vec<Warning> = Vec::new();
        let mut mapper = aws::Mapper::default();
        let mut plan: Option<PlanSummary> = None;
        let mut removed: Vec<Key> = Vec::new();
        let mut drift: Vec<ReportedDrift> = Vec::new();
        let mut replaced: Vec<Key> = Vec::new();
        let (mut states, mut plans) = (0, 0);
        for file in &self.inputs {
            let ctx = aws::Ctx { source_name: &self.config.name, file: &file.path };
            let doc = document::read(file, &self.config.name, &mut warnings)?;
            let place = Place { file: file.path.clone(), line: 0, col: 0 };
            for resource in &doc.resources {
                if resource.data {
                    warnings.push(Warning {
                        kind: WarningKind::Skipped,
                        object: Some(resource.address.clone()),
                        place: Some(place.clone()),
                        subject: format!("data.{}", resource.rtype),
                        message: "a data source: read by Terraform, not managed; skipped".into(),
                    });
                } else if aws::known(&resource.rtype) {
                    mapper.add(resource, &ctx)?;
                } else {
                    warnings.push(Warning {
                        kind: WarningKind::UnknownKind,
                        object: Some(resource.address.clone()),
                        place: Some(place.clone()),
                        subject: resource.rtype.clone(),
                        message: format!("resource type `{}` is not mapped onto the model; skipped", resource.rtype),
                    });
                }
            }
            for drifted in &doc.drift {
                let key = aws::kind_of(&drifted.rtype).and_then(|kind| aws::key_of(kind, &drifted.address));
                drift.push(ReportedDrift {
                    key,
                    object: drifted.address.clone(),
                    field: drifted.field.clone(),
                    declared: drifted.before.clone(),
                    observed: drifted.after.clone(),
                    place: Some(Place { file: format!("{} ({})", file.path, drifted.path), line: 0, col: 0 }),
                });
            }
            match doc.kind {
                DocKind::State => states += 1,
                DocKind::Plan => {
                    plans += 1;
                    let summary = plan.get_or_insert_with(PlanSummary::default);
                    for change in doc.changes.iter().filter(|c| !c.data) {
                        let key = aws::kind_of(&change.rtype).and_then(|kind| aws::key_of(kind, &change.address));
                        match change.action {
                            Action::NoOp | Action::Read => summary.no_op += 1,
                            Action::Create => summary.create.push(change.address.clone()),
                            Action::Update => summary.update.push(change.address.clone()),
                            Action::Delete => {
                                summary.delete.push(change.address.clone());
                                removed.extend(key);
                            }
                            Action::Replace => {
                                summary.replace.push(change.address.clone());
                                replaced.extend(key);
                            }
                        }
                    }
                }
            }
        }
        if let Some(summary) = &mut plan {
            for list in [&mut summary.create, &mut summary.update, &mut summary.delete, &mut summary.replace] {
                list.sort();
            }
        }
        self.plan = plan;
        let (mapped, mapping_warnings) = mapper.finish();
        warnings.extend(mapping_warnings);
        let describe = |n: usize, what: &str| match n {
            0 => None,
            1 => Some(format!("1 {what}")),
            n => Some(format!("{n} {what}s")),
        };
        let input = [describe(states, "state"), describe(plans, "plan")].into_iter().flatten().collect::<Vec<_>>();
        let names: BTreeMap<&str, ()> = self.inputs.iter().map(|f| (f.path.as_str(), ())).collect();
        let names: Vec<&str> = names.into_keys().collect();
        Ok(Observation {
            entities: mapped.entities,
            relations: mapped.relations,
            samples: Vec::new(),
            warnings,
            complete: self.config.prune,
            input: format!("{} ({})", input.join(" and "), names.join(", ")),
            origins: mapped.origins,
            removed,
            replaced,
            drift,
        })
    }
}
