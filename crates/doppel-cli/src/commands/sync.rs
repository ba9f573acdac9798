//! `doppel sync -c sources.yaml`: every source of a sources file on its interval (a cluster
//! on its watch), one commit per source per pull, a line per pull; Ctrl-C stops after the
//! current commit.

use super::read_from;
use crate::exit;
use crate::output::{BAD, DIM, GOOD, Output};
use anyhow::Result;
use doppel_sources::drift::Role;
use doppel_store::SqliteStore;
use doppel_sync::{Event, Options, Outcome, Pulled, SourceSpec, SourcesFile};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `doppel sync`.
pub fn run(store_path: &Path, config: &Path, rounds: Option<u32>, author: &str, out: &Output) -> Result<()> {
    if !config.exists() {
        return Err(exit::not_found(format!("{}: no such file", config.display())));
    }
    let file = SourcesFile::read(config).map_err(|e| exit::invalid(e.to_string()))?;
    let mut store = SqliteStore::open(store_path)?;
    let twin = read_from(&store, doppel_store::At::Head, out)?;
    let stop = Arc::new(AtomicBool::new(false));
    on_interrupt(stop.clone());
    let options = Options { rounds, stop, author: author.to_string() };
    let store_name = store.path().to_string();
    let mut on_event = |event: &Event<'_>| print_event(event, &file, &store_name, rounds, out);
    let summary = doppel_sync::run(&file, &mut store, twin, &options, &mut on_event)?;
    if out.json {
        let line = serde_json::json!({
            "event": "summary",
            "pulls": summary.pulls,
            "commits": summary.commits,
            "failures": summary.failures,
            "failed_sources": summary.failed_sources,
            "version": summary.version,
            "stopped": summary.stopped,
        });
        anstream::println!("{line}");
    } else {
        let failed = if summary.failed_sources.is_empty() {
            String::new()
        } else {
            format!(" ({})", summary.failed_sources.join(", "))
        };
        out.line(&format!(
            "{} pull{}: {} commit{}, {} failed{failed}; the twin is at version {}{}",
            summary.pulls,
            plural(summary.pulls),
            summary.commits,
            plural(summary.commits),
            summary.failures,
            summary.version,
            if summary.stopped { " (stopped)" } else { "" }
        ));
    }
    if rounds.is_some() && summary.failures > 0 {
        let message = format!(
            "{} of {} pulls failed ({}); what the other sources saw was stored",
            summary.failures,
            summary.pulls,
            summary.failed_sources.join(", ")
        );
        return Err(exit::unavailable(message));
    }
    Ok(())
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Sets `stop` on the first Ctrl-C (or SIGTERM); a second Ctrl-C quits at once.
fn on_interrupt(stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        runtime.block_on(async move {
            #[cfg(unix)]
            {
                let stop = stop.clone();
                if let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    tokio::spawn(async move {
                        if terminate.recv().await.is_some() {
                            stop.store(true, Ordering::SeqCst);
                        }
                    });
                }
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
                anstream::eprintln!("stopping after the current commit (Ctrl-C again to quit at once)");
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    });
    // Without the handler, Ctrl-C still ends the process, between SQLite transactions or
    // inside one (rolled back on the next open).
    drop(spawned);
}

fn print_event(event: &Event<'_>, file: &SourcesFile, store: &str, rounds: Option<u32>, out: &Output) {
    match event {
        Event::Started { instances, version } => {
            if out.json || out.quiet {
                return;
            }
            let how = match rounds {
                Some(1) => "once".to_string(),
                Some(n) => format!("{n} times"),
                None => "until stopped (Ctrl-C stops after the current commit)".to_string(),
            };
            out.line(&format!(
                "syncing {} source{} of {} into {store} (version {version}), {how}",
                instances.len(),
                if instances.len() == 1 { "" } else { "s" },
                file.path.display()
            ));
            for instance in instances.iter() {
                let every = seconds(instance.interval);
                let when = match &instance.spec {
                    SourceSpec::Cluster(_) => format!("on its watch, at least every {every}"),
                    _ => format!("every {every}"),
                };
                let role = match instance.role {
                    Role::Declared => "declared",
                    Role::Observed => "observed",
                };
                out.hint(&format!("  {:<16} {:<19} {role:<9} {when}", instance.name(), instance.spec.section()));
            }
        }
        Event::Pulled(pulled) => print_pulled(pulled, out),
        Event::Stopping => {
            if !out.json {
                out.hint("stopped: no commit is under way");
            }
        }
    }
}

fn print_pulled(pulled: &Pulled, out: &Output) {
    let at = jiff::Timestamp::now().strftime("%H:%M:%SZ").to_string();
    let took = format!("{:.2} s", pulled.took.as_secs_f64());
    if out.json {
        let mut line = serde_json::json!({
            "event": "pull",
            "source": pulled.source,
            "section": pulled.section,
            "round": pulled.round,
            "seen": pulled.seen,
            "relations": pulled.relations,
            "samples": pulled.samples,
            "warnings": pulled.warnings,
            "seconds": pulled.took.as_secs_f64(),
        });
        let extra = match &pulled.outcome {
            Outcome::Committed(commit) => serde_json::json!({
                "outcome": "committed", "version": commit.version,
                "entities": commit.entities, "relations_changed": commit.relations,
            }),
            Outcome::Unchanged { version } => serde_json::json!({"outcome": "unchanged", "version": version}),
            Outcome::Failed { error, retry_in } => serde_json::json!({
                "outcome": "failed", "error": error.to_string(),
                "retry_in_s": retry_in.map(|d| d.as_secs_f64()),
            }),
        };
        if let (Some(line), serde_json::Value::Object(extra)) = (line.as_object_mut(), extra) {
            line.extend(extra);
        }
        anstream::println!("{line}");
        return;
    }
    let seen = format!("{} entities, {} relations seen", pulled.seen, pulled.relations);
    let samples = if pulled.samples > 0 { format!(", {} samples", pulled.samples) } else { String::new() };
    let warnings = if pulled.warnings > 0 { format!(", {} warnings", pulled.warnings) } else { String::new() };
    match &pulled.outcome {
        Outcome::Committed(commit) => {
            let (e, r) = (commit.entities, commit.relations);
            anstream::println!(
                "{at} {:<16} {GOOD}version {}{GOOD:#}: entities +{} ~{} -{}, relations +{} ~{} -{} {DIM}({seen}{samples}{warnings}; {took}){DIM:#}",
                pulled.source,
                commit.version,
                e.added,
                e.updated,
                e.removed,
                r.added,
                r.updated,
                r.removed
            );
        }
        Outcome::Unchanged { version } => {
            if !out.quiet {
                anstream::println!(
                    "{at} {:<16} no change at version {version} {DIM}({seen}{samples}{warnings}; {took}){DIM:#}",
                    pulled.source
                );
            }
        }
        Outcome::Failed { error, retry_in } => {
            let retry = match retry_in {
                Some(after) => format!("; the twin is as it was; trying again in {}", seconds(*after)),
                None => "; the twin is as it was".to_string(),
            };
            anstream::println!("{at} {:<16} {BAD}failed{BAD:#}: {error}{retry}", pulled.source);
        }
    }
}

fn seconds(duration: std::time::Duration) -> String {
    let s = duration.as_secs_f64();
    if s >= 3600.0 && s % 3600.0 == 0.0 {
        format!("{} h", s / 3600.0)
    } else if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{} min", s / 60.0)
    } else {
        format!("{s} s")
    }
}
