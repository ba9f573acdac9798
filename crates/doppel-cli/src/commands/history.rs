//! `doppel history` and `doppel diff`.

use crate::output::Output;
use crate::time::format_ms;
use anyhow::Result;
use doppel_model::{Change, TwinView, diff as twin_diff};
use doppel_store::{At, SqliteStore, Store};
use std::path::Path;

/// Prints the change log.
pub fn log(store: &Path, limit: usize, out: &Output) -> Result<()> {
    let store = SqliteStore::open_existing(store)?;
    let commits = store.history(limit)?;
    if out.json {
        return out.print_json(&commits);
    }
    if commits.is_empty() {
        out.line("no history yet: load an estate with `doppel load FILES`");
        return Ok(());
    }
    let mut table = out.table(&["version", "time", "source", "author", "entities +~-", "relations +~-", "summary"]);
    for c in &commits {
        table.add_row(vec![
            c.version.to_string(),
            format_ms(c.time_ms),
            c.source.clone(),
            c.author.clone(),
            format!("+{} ~{} -{}", c.entities.added, c.entities.updated, c.entities.removed),
            format!("+{} ~{} -{}", c.relations.added, c.relations.updated, c.relations.removed),
            c.summary.clone(),
        ]);
    }
    out.print_table(&table);
    out.hint("read an old version with `doppel show --version N`, compare with `doppel diff N head`");
    Ok(())
}

fn position(text: &str) -> Result<At> {
    if text.eq_ignore_ascii_case("head") {
        return Ok(At::Head);
    }
    if let Ok(version) = text.parse::<u64>() {
        return Ok(At::Version(version));
    }
    Ok(At::Time(crate::time::parse_time(text)?))
}

/// Prints what changed between two positions.
pub fn diff(store_path: &Path, from: &str, to: &str, limit: usize, out: &Output) -> Result<()> {
    let (from_at, to_at) = (position(from)?, position(to)?);
    let store = SqliteStore::open_existing(store_path)?;
    let a = super::read_from(&store, from_at, out)?;
    let b = super::read_from(&store, to_at, out)?;
    let changes = twin_diff(&a, &b);
    if out.json {
        return out.print_json(&serde_json::json!({
            "from": a.version(),
            "to": b.version(),
            "summary": changes.summary(),
            "changes": changes.changes,
        }));
    }
    if changes.is_empty() {
        out.line(&format!("no difference between version {} and version {}", a.version(), b.version()));
        return Ok(());
    }
    let mut table = out.table(&["change", "subject"]);
    for change in changes.changes.iter().take(limit) {
        let op = match change {
            Change::AddEntity(_) | Change::AddRelation(_) => "+ add",
            Change::UpdateEntity(_) | Change::UpdateRelation(_) => "~ update",
            Change::RemoveEntity(_) | Change::RemoveRelation(_) => "- remove",
        };
        table.add_row(vec![op.to_string(), change.subject()]);
    }
    out.print_table(&table);
    let more = if changes.len() > limit {
        format!(" ({} not listed; use --limit or --json)", changes.len() - limit)
    } else {
        String::new()
    };
    out.line(&format!("version {} -> {}: {}{more}", a.version(), b.version(), changes.summary()));
    Ok(())
}
