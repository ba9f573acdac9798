//! `doppel show`: a summary of the twin, entities matching a selector, or one in detail.

use super::{at_of, read_twin};
use crate::args::AtArgs;
use crate::describe;
use crate::output::{BOLD, DIM, Output};
use anyhow::Result;
use doppel_model::{Entity, Family, Kind, Selector, Twin, TwinView};
use std::collections::BTreeMap;
use std::path::Path;

/// Runs `doppel show`.
pub fn run(store: &Path, selector: &str, limit: usize, at: &AtArgs, out: &Output) -> Result<()> {
    let (_store, twin) = read_twin(store, at_of(at)?, out)?;
    if selector.trim().is_empty() {
        return summary(&twin, out);
    }
    let parsed = Selector::parse(selector)?;
    // A single exact key shows that entity in detail.
    if let [doppel_model::select::Term::KeyGlob { kind: Some(_), name }] = parsed.terms.as_slice()
        && !name.contains(['*', '?'])
    {
        let key = super::existing_key(&twin, selector.trim())?;
        return detail(&twin, twin.entity(&key).expect("checked to exist"), out);
    }
    let matches = parsed.select(&twin);
    if out.json {
        let items: Vec<_> = matches.iter().take(limit).map(|e| doppel_estate::emit::entity(e)).collect();
        return out.print_json(&items);
    }
    if matches.is_empty() {
        out.line(&format!("no entity matches `{selector}` at version {}", twin.version()));
        out.hint("selectors: KIND/NAME (globs: service/*), kind:pod, zone=us-east-1a, label:app=cart, deps(service/checkout), dependents(zone/us-east-1a)");
        return Ok(());
    }
    let mut table = out.table(&["key", "summary", "labels"]);
    for entity in matches.iter().take(limit) {
        table.add_row(vec![entity.key.to_string(), describe::summary(entity), describe::labels(entity)]);
    }
    out.print_table(&table);
    let shown = matches.len().min(limit);
    let more = if matches.len() > limit {
        format!(", {} not shown: raise --limit or use --json", matches.len() - limit)
    } else {
        String::new()
    };
    out.hint(&format!("{shown} of {} entities at version {}{more}", matches.len(), twin.version()));
    Ok(())
}

fn summary(twin: &Twin, out: &Output) -> Result<()> {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for entity in twin.entities() {
        *counts.entry(entity.key.kind()).or_default() += 1;
    }
    if out.json {
        return out.print_json(&serde_json::json!({
            "version": twin.version(),
            "entities": twin.entity_count(),
            "relations": twin.relation_count(),
            "by_kind": counts,
        }));
    }
    if twin.entity_count() == 0 {
        out.line(&format!("the twin is empty (version {})", twin.version()));
        out.hint("load an estate with `doppel load FILES`, or try `doppel demo`");
        return Ok(());
    }
    let mut by_family: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (kind, n) in &counts {
        by_family.entry(family_name(kind.family()).to_string()).or_default().push(format!("{n} {kind}"));
    }
    let mut table = out.table(&["area", "entities"]);
    for (family, kinds) in by_family {
        table.add_row(vec![family, kinds.join(", ")]);
    }
    out.print_table(&table);
    out.line(&format!(
        "{} entities, {} relations, version {}",
        twin.entity_count(),
        twin.relation_count(),
        twin.version()
    ));
    out.hint("list some: `doppel show kind:service`, `doppel show zone=us-east-1a`; one in detail: `doppel show service/checkout`");
    Ok(())
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Cloud => "cloud",
        Family::Compute => "compute",
        Family::Kubernetes => "kubernetes",
        Family::Application => "application",
        Family::Network => "network",
        Family::Identity => "identity",
        Family::Price => "prices",
    }
}

fn detail(twin: &Twin, entity: &Entity, out: &Output) -> Result<()> {
    let outgoing = twin.out_relations(&entity.key);
    let incoming = twin.in_relations(&entity.key);
    if out.json {
        return out.print_json(&serde_json::json!({
            "entity": doppel_estate::emit::entity(entity),
            "out": outgoing.iter().map(doppel_estate::emit::relation).collect::<Vec<_>>(),
            "in": incoming.iter().map(doppel_estate::emit::relation).collect::<Vec<_>>(),
        }));
    }
    anstream::println!("{BOLD}{}{BOLD:#}  {DIM}{}{DIM:#}", entity.key, describe::summary(entity));
    let mut fields = doppel_estate::emit::entity(entity);
    if let Some(map) = fields.as_object_mut() {
        map.shift_remove("kind");
        map.shift_remove("name");
    }
    anstream::print!("{}", doppel_estate::emit::to_yaml_lines(&fields, 2));
    if !outgoing.is_empty() {
        out.heading("relations");
        let mut table = out.table(&["type", "to", "attributes"]);
        for rel in &outgoing {
            table.add_row(vec![rel.kind().to_string(), rel.to.to_string(), compact(&rel.spec.to_fields())]);
        }
        out.print_table(&table);
    }
    if !incoming.is_empty() {
        out.heading("referenced by");
        let mut table = out.table(&["from", "type"]);
        for rel in incoming.iter().take(100) {
            table.add_row(vec![rel.from.to_string(), rel.kind().to_string()]);
        }
        out.print_table(&table);
        if incoming.len() > 100 {
            out.hint(&format!("... and {} more; use --json for all", incoming.len() - 100));
        }
    }
    Ok(())
}

/// JSON without nulls and quotes around simple strings, on one line.
fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
                .map(|(k, v)| format!("{k}: {}", compact(v)))
                .collect();
            if parts.is_empty() { String::new() } else { format!("{{{}}}", parts.join(", ")) }
        }
        serde_json::Value::Array(items) => format!("[{}]", items.iter().map(compact).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}
