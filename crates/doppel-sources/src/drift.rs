//! Drift: where what declared sources hold (estate files, manifests, Terraform) and what
//! observed sources hold (a cluster, traces, metrics) disagree. Pure: it compares the
//! [`View`]s each source instance's last pull saw (kept by the sync in the store) and the
//! twin's estate-file entities, and lists [`Finding`]s.
//!
//! What is compared, and what is left out so a report stays worth reading:
//! - **declared, not observed**: a declared entity that an observer with a complete listing
//!   covers (its kinds and namespaces, [`Coverage`]) does not hold. Traces never prove
//!   absence, so an incomplete observer covers nothing.
//! - **observed, not declared**: an observed entity no declared source holds, for kinds the
//!   declared side uses, in namespaces it uses; objects a cluster makes by itself (pods,
//!   replica sets, endpoint slices, nodes, namespaces, zones, regions, each namespace's
//!   `default` service account and `kube-root-ca.crt`) are never findings.
//! - **shadow dependency**: a `calls` relation an observer saw that no declared source
//!   holds, once the declared side declares calls at all.
//! - **replicas**: a workload's declared replicas against the ready replicas observed.
//! - **field differs**: any other field (and label) of an entity both sides hold.
//! - **changed outside**: what a declared source's own system reports as changed behind its
//!   back (Terraform's `resource_drift`).

use crate::{OWNER_LABEL, ReportedDrift, View};
use doppel_model::{Entity, Key, Kind, RelKey, RelKind, Relation, Spec, TwinView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Which side of drift a source instance is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// What people wrote down: estate files, manifests, Terraform.
    Declared,
    /// What is running: a cluster's API, traces, metrics.
    Observed,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Declared => "declared",
            Role::Observed => "observed",
        })
    }
}

/// What an observer's listing can vouch for: absence of a declared entity of these kinds
/// (in these namespaces) means it is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Kinds listed in full; empty: none (an incomplete listing).
    pub kinds: Vec<Kind>,
    /// Namespaces listed; empty: all.
    pub namespaces: Vec<String>,
}

impl Coverage {
    /// Whether the listing would hold `key` if it existed.
    pub fn covers(&self, key: &Key) -> bool {
        self.kinds.contains(&key.kind())
            && (self.namespaces.is_empty() || key.namespace().is_none_or(|ns| self.namespaces.iter().any(|n| n == ns)))
    }
}

/// What the sync keeps of a source instance's last successful pull, for drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The system (`kubernetes`, `terraform`).
    pub system: String,
    /// Its side.
    pub role: Role,
    /// What its listing vouches for.
    pub coverage: Coverage,
    /// What it saw.
    pub view: View,
}

/// One source instance's record, named, in the order of the sources file.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    /// The instance name.
    pub name: String,
    /// Its last pull.
    pub record: Record,
}

/// What kind of disagreement a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Declared, and absent from an observer that would list it.
    DeclaredNotObserved,
    /// Observed, and declared nowhere.
    ObservedNotDeclared,
    /// A call observed (in traces) that no declared source holds.
    ShadowDependency,
    /// Declared replicas against ready replicas.
    Replicas,
    /// A field with one value declared and another observed.
    FieldDiffers,
    /// Changed outside the declaring system (Terraform's `resource_drift`).
    ChangedOutside,
}

impl FindingKind {
    /// Every kind, in report order.
    pub const ALL: [FindingKind; 6] = [
        FindingKind::DeclaredNotObserved,
        FindingKind::ObservedNotDeclared,
        FindingKind::ShadowDependency,
        FindingKind::Replicas,
        FindingKind::FieldDiffers,
        FindingKind::ChangedOutside,
    ];

    /// A heading for reports.
    pub fn title(self) -> &'static str {
        match self {
            FindingKind::DeclaredNotObserved => "declared, not observed",
            FindingKind::ObservedNotDeclared => "observed, not declared",
            FindingKind::ShadowDependency => "shadow dependencies (calls observed, not declared)",
            FindingKind::Replicas => "replicas declared vs ready",
            FindingKind::FieldDiffers => "fields that differ",
            FindingKind::ChangedOutside => "changed outside the declaring system",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        f.write_str(&text)
    }
}

/// One disagreement between a declared and an observed source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// The entity key, or the relation (`service/a -[calls]-> service/b`), or the resource
    /// address when it maps onto no entity.
    pub subject: String,
    /// The field (`replicas`, `template.images[0]`); empty for a whole entity or relation.
    pub field: String,
    /// The declared value; `None` when nothing is declared.
    pub declared: Option<Value>,
    /// The source instance that declares it (`estate files` for the twin's estate entities).
    pub declared_by: Option<String>,
    /// The observed value; `None` when nothing is observed.
    pub observed: Option<Value>,
    /// The source instance that observed it (or would have).
    pub observed_by: Option<String>,
}

/// Kinds a cluster creates by itself: never "observed, not declared".
const RUNTIME_KINDS: [Kind; 7] =
    [Kind::Pod, Kind::ReplicaSet, Kind::EndpointSlice, Kind::Node, Kind::Namespace, Kind::Zone, Kind::Region];

/// Whether Kubernetes makes this object in every namespace by itself.
fn made_by_kubernetes(key: &Key) -> bool {
    let short = key.name().rsplit('/').next().unwrap_or_default();
    matches!((key.kind(), short), (Kind::ServiceAccount, "default") | (Kind::ConfigMap, "kube-root-ca.crt"))
        || (key.kind() == Kind::K8sService && key.name() == "default/kubernetes")
}

/// The name drift gives the twin's entities that no source owns (loaded by `doppel load`).
pub const ESTATE_FILES: &str = "estate files";

/// Compares the declared and observed records (in sources-file order: the first source
/// holding a key speaks for its side) and the twin's estate-file entities (declared), and
/// returns the findings sorted by kind, subject and field.
pub fn compare(records: &[Named], twin: &(impl TwinView + ?Sized)) -> Vec<Finding> {
    let mut declared: BTreeMap<&Key, (&str, &Entity)> = BTreeMap::new();
    let mut observed: BTreeMap<&Key, (&str, &Entity)> = BTreeMap::new();
    let mut declared_calls: BTreeMap<RelKey, &str> = BTreeMap::new();
    let mut observed_calls: BTreeMap<RelKey, (&str, &Relation)> = BTreeMap::new();
    for named in records {
        let side = match named.record.role {
            Role::Declared => &mut declared,
            Role::Observed => &mut observed,
        };
        for entity in &named.record.view.entities {
            side.entry(&entity.key).or_insert((named.name.as_str(), entity));
        }
        for relation in named.record.view.relations.iter().filter(|r| r.kind() == RelKind::Calls) {
            match named.record.role {
                Role::Declared => {
                    declared_calls.entry(relation.key()).or_insert(named.name.as_str());
                }
                Role::Observed => {
                    observed_calls.entry(relation.key()).or_insert((named.name.as_str(), relation));
                }
            }
        }
    }
    for entity in twin.entities().filter(|e| e.labels.get(OWNER_LABEL).is_none()) {
        declared.entry(&entity.key).or_insert((ESTATE_FILES, entity));
    }
    let mut findings = Vec::new();
    // Declared, not observed: where a complete observer would have listed it.
    for (key, (by, entity)) in &declared {
        if observed.contains_key(key) {
            continue;
        }
        let observer = records
            .iter()
            .find(|n| n.record.role == Role::Observed && n.record.view.complete && n.record.coverage.covers(key));
        if let Some(observer) = observer {
            findings.push(Finding {
                kind: FindingKind::DeclaredNotObserved,
                subject: key.to_string(),
                field: String::new(),
                declared: Some(summary(entity)),
                declared_by: Some(by.to_string()),
                observed: None,
                observed_by: Some(observer.name.clone()),
            });
        }
    }
    // Observed, not declared: in the declared side's kinds and namespaces.
    let declared_kinds: BTreeSet<Kind> = declared.keys().map(|k| k.kind()).collect();
    let declared_namespaces: BTreeSet<&str> = declared.keys().filter_map(|k| k.namespace()).collect();
    for (key, (by, entity)) in &observed {
        if declared.contains_key(key)
            || RUNTIME_KINDS.contains(&key.kind())
            || made_by_kubernetes(key)
            || !declared_kinds.contains(&key.kind())
            || key.namespace().is_some_and(|ns| !declared_namespaces.contains(ns))
        {
            continue;
        }
        findings.push(Finding {
            kind: FindingKind::ObservedNotDeclared,
            subject: key.to_string(),
            field: String::new(),
            declared: None,
            declared_by: None,
            observed: Some(summary(entity)),
            observed_by: Some(by.to_string()),
        });
    }
    // Shadow dependencies: calls observed that the declared side, which declares calls, lacks.
    if !declared_calls.is_empty() {
        for (key, (by, relation)) in &observed_calls {
            if declared_calls.contains_key(key) {
                continue;
            }
            let mut attributes = relation.spec.to_fields();
            if let Value::Object(map) = &mut attributes {
                map.retain(|_, v| !v.is_null());
            }
            findings.push(Finding {
                kind: FindingKind::ShadowDependency,
                subject: key.to_string(),
                field: String::new(),
                declared: None,
                declared_by: None,
                observed: Some(if attributes.is_null() { Value::Bool(true) } else { attributes }),
                observed_by: Some(by.to_string()),
            });
        }
    }
    // Both sides hold the entity: replicas, then every other field.
    for (key, (declared_by, declared_entity)) in &declared {
        let Some((observed_by, observed_entity)) = observed.get(key) else { continue };
        let finding = |kind, field: String, declared: Option<Value>, observed: Option<Value>| Finding {
            kind,
            subject: key.to_string(),
            field,
            declared,
            declared_by: Some(declared_by.to_string()),
            observed,
            observed_by: Some(observed_by.to_string()),
        };
        if let (Some(want), Some(ready)) = (replicas(&declared_entity.spec), ready(&observed_entity.spec))
            && want != ready
        {
            findings.push(finding(
                FindingKind::Replicas,
                "replicas".into(),
                Some(Value::from(want)),
                Some(Value::from(ready)),
            ));
        }
        let mut found = Vec::new();
        differences(&comparable(declared_entity), &comparable(observed_entity), String::new(), 0, &mut found);
        for (field, d, o) in found {
            // Replicas are compared against what is ready, above; a field the declared side
            // leaves unset is not a declaration.
            if field == "replicas" || field.starts_with("ready_replicas") || d.is_none() {
                continue;
            }
            findings.push(finding(FindingKind::FieldDiffers, field, d, o));
        }
    }
    // What the declaring systems themselves report as changed behind their back.
    for named in records.iter().filter(|n| n.record.role == Role::Declared) {
        for drifted in &named.record.view.drift {
            findings.push(outside(drifted, &named.name));
        }
    }
    findings.sort_by(|a, b| (a.kind, &a.subject, &a.field).cmp(&(b.kind, &b.subject, &b.field)));
    findings
}

fn outside(drifted: &ReportedDrift, name: &str) -> Finding {
    Finding {
        kind: FindingKind::ChangedOutside,
        subject: drifted.key.as_ref().map(Key::to_string).unwrap_or_else(|| drifted.object.clone()),
        field: drifted.field.clone(),
        declared: drifted.declared.clone(),
        declared_by: Some(name.to_string()),
        observed: drifted.observed.clone(),
        observed_by: Some(format!("{name} (refresh)")),
    }
}

/// Desired replicas of a workload.
fn replicas(spec: &Spec) -> Option<u32> {
    match spec {
        Spec::Deployment(d) => Some(d.replicas),
        Spec::StatefulSet(s) => Some(s.replicas),
        _ => None,
    }
}

/// Ready replicas of an observed workload, when the observer reported them.
fn ready(spec: &Spec) -> Option<u32> {
    match spec {
        Spec::Deployment(d) => d.ready_replicas,
        Spec::StatefulSet(s) => s.ready_replicas,
        _ => None,
    }
}

/// An entity as the estate format writes it, without its key and owner label.
fn comparable(entity: &Entity) -> Value {
    let mut value = doppel_estate::emit::entity(entity);
    if let Value::Object(map) = &mut value {
        map.shift_remove("kind");
        map.shift_remove("name");
        if let Some(Value::Object(labels)) = map.get_mut("labels") {
            labels.shift_remove(OWNER_LABEL);
            if labels.is_empty() {
                map.shift_remove("labels");
            }
        }
    }
    value
}

/// An entity in a few words for a report: its fields as the estate format writes them.
fn summary(entity: &Entity) -> Value {
    comparable(entity)
}

/// Differences listed per pair of values, at most.
const MAX_DIFFERENCES: usize = 64;
/// Nesting followed, at most.
const MAX_DEPTH: usize = 64;

/// The leaves where `before` and `after` differ, as (path, before, after), `None` for a
/// value absent or null: objects key by key, lists of the same length item by item,
/// anything else as a whole. At most 64.
#[allow(clippy::type_complexity)]
pub(crate) fn differences(
    before: &Value,
    after: &Value,
    path: String,
    depth: usize,
    out: &mut Vec<(String, Option<Value>, Option<Value>)>,
) {
    if before == after || out.len() >= MAX_DIFFERENCES {
        return;
    }
    let present = |v: &Value| Some(v.clone()).filter(|v| !v.is_null());
    match (before, after) {
        (Value::Object(b), Value::Object(a)) if depth < MAX_DEPTH => {
            let keys = b.keys().chain(a.keys().filter(|k| !b.contains_key(*k)));
            for key in keys {
                let inner = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                let (bv, av) = (b.get(key).unwrap_or(&Value::Null), a.get(key).unwrap_or(&Value::Null));
                differences(bv, av, inner, depth + 1, out);
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() && depth < MAX_DEPTH => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                differences(bv, av, format!("{path}[{i}]"), depth + 1, out);
            }
        }
        _ => out.push((path, present(before), present(after))),
    }
}
