//! `doppel load` and `doppel validate`: estate files in, one ChangeSet out.

use super::{author, read_files, report_diagnostics};
use crate::output::Output;
use anyhow::Result;
use doppel_model::{ChangeSet, ChangeSummary, Provenance, Twin, TwinView};
use doppel_store::{At, SqliteStore, Store};
use std::path::{Path, PathBuf};

/// Options of `doppel load`.
pub struct LoadOptions {
    /// Remove what the files do not mention.
    pub prune: bool,
    /// Store nothing.
    pub dry_run: bool,
    /// Who.
    pub author: Option<String>,
    /// Why.
    pub message: Option<String>,
}

/// Loads files into the store as one ChangeSet.
pub fn run(store_path: &Path, paths: &[PathBuf], options: &LoadOptions, out: &Output) -> Result<()> {
    let files = read_files(paths, out)?;
    let spinner = out.spinner("parsing estate files");
    let estate = doppel_estate::parse(&files);
    spinner.finish_and_clear();
    let estate = estate.map_err(|d| report_diagnostics(&d, &files, out))?;
    let mut store = SqliteStore::open(store_path)?;
    let twin = super::read_from(&store, At::Head, out)?;
    let mut plan = estate.plan(&twin, options.prune);
    let names: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let summary_line = options.message.clone().unwrap_or_else(|| format!("load {}", names.join(" ")));
    let changes = std::mem::take(&mut plan.changeset).with_provenance(Provenance {
        source: "estate-file".into(),
        author: author(options.author.as_deref()),
        summary: summary_line,
    });
    if changes.is_empty() {
        if out.json {
            return out.print_json(&serde_json::json!({"version": twin.version(), "changed": false}));
        }
        out.success(&format!(
            "nothing to change: {} already holds this estate (version {})",
            store.path(),
            twin.version()
        ));
        return Ok(());
    }
    if options.dry_run {
        let mut fork = twin.fork();
        fork.apply(&changes).map_err(|e| report_diagnostics(&plan.explain(&e, &files), &files, out))?;
        return print_summary(&changes.summary(), None, &twin, out);
    }
    let spinner = out.spinner(&format!("applying {} changes", changes.len()));
    let committed = store.commit(twin, &changes);
    spinner.finish_and_clear();
    let (commit, after) = match committed {
        Ok(done) => done,
        Err(doppel_store::Error::Refused(errors)) => {
            return Err(report_diagnostics(&plan.explain(&errors, &files), &files, out));
        }
        Err(other) => return Err(other.into()),
    };
    print_summary(&changes.summary(), Some(commit.version), &after, out)
}

fn print_summary(summary: &ChangeSummary, version: Option<u64>, twin: &Twin, out: &Output) -> Result<()> {
    if out.json {
        return out.print_json(&serde_json::json!({
            "version": version,
            "dry_run": version.is_none(),
            "entities": summary.entities,
            "relations": summary.relations,
        }));
    }
    // With --quiet, the one-line outcome below is enough.
    if !out.quiet {
        let mut table = out.table(&["kind", "added", "updated", "removed"]);
        for (kind, counts) in &summary.entities {
            table.add_row(vec![
                kind.to_string(),
                counts.added.to_string(),
                counts.updated.to_string(),
                counts.removed.to_string(),
            ]);
        }
        let r = summary.relations;
        table.add_row(vec![
            "(relations)".to_string(),
            r.added.to_string(),
            r.updated.to_string(),
            r.removed.to_string(),
        ]);
        out.print_table(&table);
    }
    match version {
        Some(v) => out.success(&format!("stored as version {v}: {summary}")),
        None => out.success(&format!(
            "valid; would change {summary} on top of version {} (dry run: nothing stored)",
            twin.version()
        )),
    }
    Ok(())
}

/// Checks files without storing anything: against the store's head if the store exists.
pub fn validate(store_path: &Path, paths: &[PathBuf], out: &Output) -> Result<()> {
    let files = read_files(paths, out)?;
    let estate = doppel_estate::parse(&files).map_err(|d| report_diagnostics(&d, &files, out))?;
    let base = if store_path.exists() { super::read_twin(store_path, At::Head, out)?.1 } else { Twin::new() };
    let (n_entities, n_relations) = (estate.entity_count(), estate.relation_count());
    let plan = estate.plan(&base, false);
    let mut fork = base.fork();
    fork.apply(&plan.changeset).map_err(|e| report_diagnostics(&plan.explain(&e, &files), &files, out))?;
    let against = if base.version() > 0 {
        format!(" against {} version {}", store_path.display(), base.version())
    } else {
        String::new()
    };
    if out.json {
        return out.print_json(&serde_json::json!({
            "valid": true,
            "entities": n_entities,
            "relations": n_relations,
            "files": files.len(),
            "would_change": ChangeSet::summary(&plan.changeset),
        }));
    }
    out.success(&format!(
        "{} entities and {} relations in {} file(s) are valid{against}",
        n_entities,
        n_relations,
        files.len()
    ));
    Ok(())
}
