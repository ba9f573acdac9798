//! `doppel drift`: where declared sources and observed ones disagree, from the records the
//! last sync kept of each source instance's pull, and the twin's estate-file entities.

use super::read_twin;
use crate::exit;
use crate::output::{DIM, Output};
use anyhow::Result;
use doppel_model::TwinView;
use doppel_sources::drift::{Finding, FindingKind, Named, compare};
use doppel_store::{At, Store};
use doppel_sync::SourcesFile;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Runs `doppel drift`.
pub fn run(store_path: &Path, config: Option<&Path>, fail_on_drift: bool, limit: usize, out: &Output) -> Result<()> {
    let (store, twin) = read_twin(store_path, At::Head, out)?;
    let (mut records, unreadable) = doppel_sync::records(&store)?;
    let mut never_synced = Vec::new();
    if let Some(config) = config {
        if !config.exists() {
            return Err(exit::not_found(format!("{}: no such file", config.display())));
        }
        let file = SourcesFile::read(config).map_err(|e| exit::invalid(e.to_string()))?;
        let mut chosen: Vec<Named> = Vec::new();
        for instance in &file.instances {
            match records.iter().position(|r| r.name == instance.name()) {
                Some(at) => {
                    let mut named = records.remove(at);
                    named.record.role = instance.role;
                    chosen.push(named);
                }
                None => never_synced.push(instance.name().to_string()),
            }
        }
        records = chosen;
    }
    let times: BTreeMap<String, i64> = store.source_records()?.into_iter().map(|r| (r.source, r.time_ms)).collect();
    let findings = compare(&records, &twin);
    let mut counts: BTreeMap<FindingKind, usize> = BTreeMap::new();
    for finding in &findings {
        *counts.entry(finding.kind).or_default() += 1;
    }
    if out.json {
        let sources: Vec<Value> = records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name, "system": r.record.system, "role": r.record.role,
                    "pulled_at": times.get(&r.name).map(|ms| crate::time::format_ms(*ms)),
                    "entities": r.record.view.entities.len(), "relations": r.record.view.relations.len(),
                })
            })
            .collect();
        out.print_json(&serde_json::json!({
            "version": twin.version(),
            "drift": !findings.is_empty(),
            "counts": FindingKind::ALL.iter().map(|k| (k.to_string(), counts.get(k).copied().unwrap_or(0))).collect::<BTreeMap<_, _>>(),
            "sources": sources,
            "never_synced": never_synced,
            "unreadable_records": unreadable,
            "findings": findings,
        }))?;
    } else {
        if records.is_empty() {
            out.line("no source has been synced into this store yet: nothing to compare");
            out.hint("run `doppel sync -c sources.yaml --once` first");
        }
        for name in &never_synced {
            out.hint(&format!("source `{name}` has not been synced yet: it is left out"));
        }
        for name in &unreadable {
            out.hint(&format!("the record of source `{name}` was written by another version: sync again"));
        }
        let declared: Vec<&str> = records
            .iter()
            .filter(|r| r.record.role == doppel_sources::drift::Role::Declared)
            .map(|r| r.name.as_str())
            .collect();
        let observed: Vec<&str> = records
            .iter()
            .filter(|r| r.record.role == doppel_sources::drift::Role::Observed)
            .map(|r| r.name.as_str())
            .collect();
        if !records.is_empty() {
            out.hint(&format!(
                "declared: {}; observed: {}; twin version {}",
                if declared.is_empty() { "(none)".into() } else { declared.join(", ") },
                if observed.is_empty() { "(none)".into() } else { observed.join(", ") },
                twin.version()
            ));
        }
        let mut table = out.table(&["finding", "count"]);
        for kind in FindingKind::ALL {
            table.add_row(vec![kind.title().to_string(), counts.get(&kind).copied().unwrap_or(0).to_string()]);
        }
        out.print_table(&table);
        for kind in FindingKind::ALL {
            let of_kind: Vec<&Finding> = findings.iter().filter(|f| f.kind == kind).collect();
            if of_kind.is_empty() {
                continue;
            }
            out.heading(&format!("{} ({})", kind.title(), of_kind.len()));
            let mut table = out.table(&["subject", "field", "declared (by)", "observed (by)"]);
            for finding in of_kind.iter().take(limit) {
                table.add_row(vec![
                    finding.subject.clone(),
                    finding.field.clone(),
                    side(finding.declared.as_ref(), finding.declared_by.as_deref()),
                    side(finding.observed.as_ref(), finding.observed_by.as_deref()),
                ]);
            }
            out.print_table(&table);
            if of_kind.len() > limit {
                anstream::println!("{DIM}... and {} more: raise --limit or use --json{DIM:#}", of_kind.len() - limit);
            }
        }
        if findings.is_empty() && !records.is_empty() {
            if observed.is_empty() || declared.is_empty() && twin.entity_count() == 0 {
                out.line("nothing to compare: drift needs a declared and an observed source (a cluster, traces)");
            } else {
                out.success("no drift: the declared and observed sources agree");
            }
        }
    }
    if fail_on_drift && !findings.is_empty() {
        return Err(exit::findings(format!(
            "{} drift finding{} (--fail-on-drift)",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

/// A value and who holds it, for a table cell: `3 (manifests)`, `- (prod)`.
fn side(value: Option<&Value>, by: Option<&str>) -> String {
    let text = match value {
        None => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let text =
        if text.chars().count() > 60 { format!("{}...", text.chars().take(57).collect::<String>()) } else { text };
    match by {
        Some(by) => format!("{text} ({by})"),
        None => text,
    }
}
