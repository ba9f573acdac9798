//! `doppel import k8s` and `doppel import terraform` (`doppel import prometheus` is in
//! `prometheus.rs`): manifests, a live cluster's full list (`--cluster`) or Terraform
//! documents in, one ChangeSet with provenance out.

use super::author;
use crate::args::ImportFrom;
use crate::exit;
use crate::output::Output;
use anyhow::{Context, Result};
use doppel_estate::SourceFile;
use doppel_kube::KubeConfig;
use doppel_model::{Kind, RelKind, TwinView};
use doppel_sources::kubernetes::ManifestConfig;
use doppel_sources::terraform::{PlanSummary, TerraformConfig};
use doppel_sources::{Batch, Source};
use doppel_store::{At, SqliteStore, Store};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Runs an import.
pub fn run(store_path: &Path, from: &ImportFrom, out: &Output) -> Result<()> {
    match from {
        ImportFrom::K8s { cluster: true, kubeconfig, context, name, commit, .. } => {
            let config = KubeConfig {
                name: name.clone(),
                kubeconfig: kubeconfig.clone(),
                context: context.clone(),
                ..KubeConfig::default()
            };
            let mut source = config.build().map_err(source_error)?;
            let view = View { what: "the cluster", dependencies: true, plan: None };
            import(&mut source, store_path, commit.dry_run, commit.author.as_deref(), view, out)
        }
        ImportFrom::K8s { paths, namespace, name, prune, keep_going, commit, .. } => {
            let inputs = read_inputs(paths)?;
            let (name, namespace) = (name.clone(), namespace.clone());
            let config = ManifestConfig { name, namespace, prune: *prune, keep_going: *keep_going };
            let mut source = config.build(inputs);
            let view = View { what: "manifests", dependencies: true, plan: None };
            import(&mut source, store_path, commit.dry_run, commit.author.as_deref(), view, out)
        }
        ImportFrom::Prometheus { args, dry_run } => super::prometheus::import(store_path, args, *dry_run, out),
        ImportFrom::Terraform { paths, name, partial, commit } => {
            let inputs = read_inputs(paths)?;
            let config = TerraformConfig { name: name.clone(), prune: !*partial };
            let mut source = config.build(inputs);
            let view = View { what: "Terraform documents", dependencies: false, plan: None };
            let plan = |s: &doppel_sources::terraform::Terraform| s.plan().cloned();
            import_with(&mut source, store_path, commit.dry_run, commit.author.as_deref(), view, out, plan)
        }
    }
}

/// A source's error as the CLI reports it: bad input exits as such, an unreachable system
/// as a failure.
fn source_error(e: doppel_sources::Error) -> anyhow::Error {
    match e.kind() {
        doppel_sources::ErrorKind::InvalidInput => exit::invalid(format!("{e}; nothing was stored")),
        doppel_sources::ErrorKind::Unavailable => anyhow::Error::new(e),
    }
}

/// How an import's report looks.
struct View {
    /// What is read, for the spinner.
    what: &'static str,
    /// Whether to list the dependencies found in env and args (manifests).
    dependencies: bool,
    /// What a plan does, when the input was one.
    plan: Option<PlanSummary>,
}

fn import<S: Source>(
    source: &mut S,
    store_path: &Path,
    dry_run: bool,
    who: Option<&str>,
    view: View,
    out: &Output,
) -> Result<()> {
    import_with(source, store_path, dry_run, who, view, out, |_| None)
}

fn import_with<S: Source>(
    source: &mut S,
    store_path: &Path,
    dry_run: bool,
    who: Option<&str>,
    mut view: View,
    out: &Output,
    plan: impl Fn(&S) -> Option<PlanSummary>,
) -> Result<()> {
    let mut store = SqliteStore::open(store_path)?;
    let twin = super::read_from(&store, At::Head, out)?;
    let spinner = out.spinner(&format!("reading {}", view.what));
    let planned = source.changes(&twin);
    spinner.finish_and_clear();
    let mut batch = planned.map_err(source_error)?;
    batch.changeset.provenance.author = author(who);
    view.plan = plan(source);
    let version = if batch.changeset.is_empty() || dry_run {
        None
    } else {
        let (commit, _) = store.commit(twin.clone(), &batch.changeset)?;
        Some(commit.version)
    };
    report(&batch, &view, version, dry_run, twin.version(), store.path(), out)
}

/// Reads files, directories (recursively: .yaml, .yml, .json) and `-` (standard input).
fn read_inputs(paths: &[PathBuf]) -> Result<Vec<SourceFile>> {
    let mut listed = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            listed.push(path.clone());
        } else if path.is_dir() {
            let before = listed.len();
            walk(path, &mut listed)?;
            if listed.len() == before {
                return Err(exit::invalid(format!("{} holds no .yaml, .yml or .json file", path.display())));
            }
        } else if path.exists() {
            listed.push(path.clone());
        } else {
            return Err(exit::not_found(format!("{}: no such file", path.display())));
        }
    }
    let mut files = Vec::with_capacity(listed.len());
    for path in listed {
        let (shown, bytes) = if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).context("cannot read standard input")?;
            ("-".to_string(), bytes)
        } else {
            let shown = path.display().to_string();
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {shown}"))?;
            (shown, bytes)
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            exit::invalid(format!("{shown}: not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
        })?;
        files.push(SourceFile { path: shown, text });
    }
    Ok(files)
}

fn walk(dir: &Path, listed: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, listed)?;
        } else if matches!(entry.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            listed.push(entry);
        }
    }
    Ok(())
}

fn report(
    batch: &Batch,
    view: &View,
    version: Option<u64>,
    dry_run: bool,
    base: u64,
    store: &str,
    out: &Output,
) -> Result<()> {
    let mut per_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    for key in &batch.observed {
        *per_kind.entry(key.kind()).or_default() += 1;
    }
    let summary = batch.changeset.summary();
    let edges: Vec<String> = batch
        .observed_relations
        .iter()
        .filter(|r| view.dependencies && r.kind == RelKind::DependsOn && r.to.kind() == Kind::K8sService)
        .map(|r| format!("{} -> {}", r.from, r.to))
        .collect();
    let warnings = batch.warning_counts();
    let mut per_relation: BTreeMap<RelKind, usize> = BTreeMap::new();
    for relation in &batch.observed_relations {
        *per_relation.entry(relation.kind).or_default() += 1;
    }
    if out.json {
        let warning_rows: Vec<_> = warnings
            .iter()
            .map(|((kind, subject), n)| serde_json::json!({"kind": kind, "subject": subject, "count": n}))
            .collect();
        return out.print_json(&serde_json::json!({
            "version": version,
            "dry_run": dry_run,
            "changed": !batch.changeset.is_empty(),
            "imported": per_kind.iter().map(|(k, n)| (k.to_string(), *n)).collect::<BTreeMap<_, _>>(),
            "relations": batch.observed_relations.len(),
            "relations_by_type": per_relation.iter().map(|(k, n)| (k.to_string(), *n)).collect::<BTreeMap<_, _>>(),
            "plan": view.plan,
            "changes": {"entities": summary.entities, "relations": summary.relations},
            "dependencies": edges,
            "warnings": warning_rows,
        }));
    }
    if !out.quiet {
        let mut table = out.table(&["kind", "imported", "added", "updated", "removed"]);
        let mut kinds: Vec<Kind> = per_kind.keys().copied().collect();
        kinds.extend(summary.entities.keys().filter(|k| !per_kind.contains_key(k)));
        kinds.sort();
        for kind in kinds {
            let counts = summary.entities.get(&kind).copied().unwrap_or_default();
            table.add_row(vec![
                kind.to_string(),
                per_kind.get(&kind).copied().unwrap_or(0).to_string(),
                counts.added.to_string(),
                counts.updated.to_string(),
                counts.removed.to_string(),
            ]);
        }
        let r = summary.relations;
        table.add_row(vec![
            "(relations)".into(),
            batch.observed_relations.len().to_string(),
            r.added.to_string(),
            r.updated.to_string(),
            r.removed.to_string(),
        ]);
        out.print_table(&table);
        if view.dependencies {
            out.heading(&format!("Dependencies found in env and args ({})", edges.len()));
            for edge in &edges {
                out.line(&format!("  {edge}"));
            }
        } else if !per_relation.is_empty() {
            out.heading(&format!("Relations ({})", batch.observed_relations.len()));
            for (kind, n) in &per_relation {
                out.line(&format!("  {kind}: {n}"));
            }
        }
        if let Some(plan) = &view.plan {
            out.heading(&format!(
                "Plan: {} to create, {} to update, {} to delete, {} to replace, {} unchanged",
                plan.create.len(),
                plan.update.len(),
                plan.delete.len(),
                plan.replace.len(),
                plan.no_op
            ));
            for (sign, list) in [("+", &plan.create), ("~", &plan.update), ("-", &plan.delete), ("-/+", &plan.replace)]
            {
                for address in list {
                    out.line(&format!("  {sign} {address}"));
                }
            }
        }
        if !warnings.is_empty() {
            out.heading(&format!("Warnings ({})", batch.warnings.len()));
            for ((kind, subject), n) in &warnings {
                let what = match kind {
                    doppel_sources::WarningKind::UnknownKind => "unknown kind",
                    doppel_sources::WarningKind::UnknownField => "unknown field",
                    doppel_sources::WarningKind::Unresolved => "not in the import",
                    doppel_sources::WarningKind::Duplicate => "defined twice",
                    doppel_sources::WarningKind::NotOwned => "held by another owner",
                    doppel_sources::WarningKind::Skipped => "skipped",
                    doppel_sources::WarningKind::Format => "newer format",
                };
                out.line(&format!("  {what}: {subject} x{n}"));
            }
            out.hint("(--json lists every warning's kind and count; the first of each is below)");
            let mut shown = std::collections::BTreeSet::new();
            for warning in &batch.warnings {
                if shown.insert((warning.kind, warning.subject.clone())) && shown.len() <= 20 {
                    out.hint(&format!("  {warning}"));
                }
            }
        }
    }
    match version {
        Some(v) => out.success(&format!("stored as version {v}: {summary}")),
        None if batch.changeset.is_empty() => {
            out.success(&format!("nothing to change: {store} already holds this import (version {base})"))
        }
        None => out.success(&format!("would change {summary} on top of version {base} (dry run: nothing stored)")),
    }
    Ok(())
}
