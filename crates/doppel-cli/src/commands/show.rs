//! `doppel show`: a summary of the twin, entities matching a selector, or one in detail.

use super::{at_of, read_twin};
use crate::args::AtArgs;
use crate::output::{BOLD, DIM, Output};
use anyhow::Result;
use doppel_model::describe;
use doppel_model::{Entity, Family, Kind, Selector, Twin, TwinView};
use doppel_store::{SqliteStore, Store};
use std::collections::BTreeMap;
use std::path::Path;

/// Runs `doppel show`.
pub fn run(store: &Path, selector: &str, limit: usize, at: &AtArgs, out: &Output) -> Result<()> {
    let (store, twin) = read_twin(store, at_of(at)?, out)?;
    if selector.trim().is_empty() {
        return summary(&store, &twin, out);
    }
    let parsed = Selector::parse(selector)?;
    // A single exact key shows that entity in detail.
    if let [doppel_model::select::Term::KeyGlob { kind: Some(_), name }] = parsed.terms.as_slice()
        && !name.contains(['*', '?'])
    {
        let key = super::existing_key(&twin, selector.trim())?;
        let seen = store.last_seen(&key)?;
        return detail(&twin, twin.entity(&key).expect("checked to exist"), &seen, out);
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

/// An entity is stale when no source saw it for more than this many of its intervals.
const STALE_INTERVALS: u32 = 3;

fn summary(store: &SqliteStore, twin: &Twin, out: &Output) -> Result<()> {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for entity in twin.entities() {
        *counts.entry(entity.key.kind()).or_default() += 1;
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let stale: Vec<doppel_store::Seen> =
        store.stale(now, STALE_INTERVALS)?.into_iter().filter(|s| twin.entity(&s.key).is_some()).collect();
    if out.json {
        return out.print_json(&serde_json::json!({
            "version": twin.version(),
            "entities": twin.entity_count(),
            "relations": twin.relation_count(),
            "by_kind": counts,
            "stale": stale.len(),
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
    if !stale.is_empty() {
        let examples: Vec<String> = stale.iter().take(3).map(|s| s.key.to_string()).collect();
        out.line(&format!(
            "{} stale: not seen by any source for more than {STALE_INTERVALS} of its intervals ({}{})",
            stale.len(),
            examples.join(", "),
            if stale.len() > 3 { ", ..." } else { "" }
        ));
    }
    out.hint("list some: `doppel show kind:service`, `doppel show zone=us-east-1a`; one in detail: `doppel show service/checkout`");
    Ok(())
}

/// `2 min ago`, `5 s ago`, `3 h ago`, `4 days ago`.
fn ago(ms: i64, now_ms: i64) -> String {
    let s = (now_ms - ms).max(0) / 1000;
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
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

fn detail(twin: &Twin, entity: &Entity, seen: &[doppel_store::Seen], out: &Output) -> Result<()> {
    let outgoing = twin.out_relations(&entity.key);
    let incoming = twin.in_relations(&entity.key);
    if out.json {
        let seen: Vec<_> = seen
            .iter()
            .map(|s| serde_json::json!({"source": s.source, "last_seen": crate::time::format_ms(s.last_seen_ms), "last_seen_ms": s.last_seen_ms}))
            .collect();
        return out.print_json(&serde_json::json!({
            "entity": doppel_estate::emit::entity(entity),
            "out": outgoing.iter().map(doppel_estate::emit::relation).collect::<Vec<_>>(),
            "in": incoming.iter().map(doppel_estate::emit::relation).collect::<Vec<_>>(),
            "seen": seen,
        }));
    }
    anstream::println!("{BOLD}{}{BOLD:#}  {DIM}{}{DIM:#}", entity.key, describe::summary(entity));
    let now = jiff::Timestamp::now().as_millisecond();
    // Entities loaded or imported without `doppel sync` have no freshness to show.
    if let Some((newest, others)) = seen.split_first() {
        {
            let others: Vec<String> =
                others.iter().map(|s| format!("{} {}", s.source, ago(s.last_seen_ms, now))).collect();
            let also = if others.is_empty() { String::new() } else { format!("; also {}", others.join(", ")) };
            anstream::println!(
                "{DIM}last seen {} by {} ({}){also}{DIM:#}",
                ago(newest.last_seen_ms, now),
                newest.source,
                crate::time::format_ms(newest.last_seen_ms)
            );
        }
    }
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
