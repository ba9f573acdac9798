//! `doppel import prometheus` (one pull through the HTTP API, samples stored) and
//! `doppel receive --remote-write` (remote-write requests, samples stored as they come).

use super::duration;
use super::{read_from, read_text};
use crate::args::PrometheusArgs;
use crate::exit;
use crate::output::Output;
use anyhow::{Context, Result};
use doppel_sources::prometheus::http::{Sink, serve_blocking};
use doppel_sources::prometheus::remote_write::{Limits, Receiver};
use doppel_sources::prometheus::{Bindings, PrometheusConfig, Targets, Window};
use doppel_sources::{Source, Warning};
use doppel_store::{At, SqliteStore, Store};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn read_bindings(path: &Path, name: &str) -> Result<Bindings> {
    let text = read_text(path)?;
    Bindings::parse(&path.display().to_string(), &text, name).map_err(|e| exit::invalid(e.to_string()))
}

/// Runs `doppel import prometheus`.
pub fn import(store_path: &Path, args: &PrometheusArgs, dry_run: bool, out: &Output) -> Result<()> {
    let name = args.name.clone().unwrap_or_else(|| "prometheus".into());
    let bindings = read_bindings(&args.bindings, &name)?;
    let name = args.name.clone().or_else(|| bindings.name.clone()).unwrap_or(name);
    let Some(url) = args.url.clone().or_else(|| bindings.url.clone()) else {
        return Err(exit::usage(format!("no server: give --url or `url:` in {}", args.bindings.display())));
    };
    let timeout_s = match &args.timeout {
        Some(text) => duration("timeout", text)?,
        None => bindings.timeout_s.unwrap_or(10.0),
    };
    let window = match &args.range {
        None => Window::Instant { at_ms: None },
        Some(range) => {
            Window::Range { range_s: duration("range", range)?, step_s: duration("step", &args.step)?, end_ms: None }
        }
    };
    let mut store = SqliteStore::open(store_path)?;
    let twin = read_from(&store, At::Head, out)?;
    let config = PrometheusConfig { name, url, timeout_s, window };
    let mut source = config.build(bindings);
    let spinner = out.spinner("querying Prometheus");
    let pulled = source.changes(&twin);
    spinner.finish_and_clear();
    let batch = pulled.map_err(|e| match e.kind() {
        doppel_sources::ErrorKind::InvalidInput => exit::invalid(format!("{e}; nothing was stored")),
        doppel_sources::ErrorKind::Unavailable => anyhow::Error::new(e).context("nothing was stored"),
    })?;
    let stored = if dry_run { 0 } else { store.append_samples(&doppel_sync::store_samples(&batch.samples))? };
    let mut per_series: BTreeMap<(String, String), (usize, i64, f64)> = BTreeMap::new();
    for sample in &batch.samples {
        let entry =
            per_series.entry((sample.entity.to_string(), sample.attribute.to_string())).or_insert((0, i64::MIN, 0.0));
        entry.0 += 1;
        if sample.ts_ms >= entry.1 {
            (entry.1, entry.2) = (sample.ts_ms, sample.value);
        }
    }
    if out.json {
        let rows: Vec<_> = per_series
            .iter()
            .map(|((entity, attribute), (n, ts, value))| {
                serde_json::json!({"entity": entity, "attribute": attribute, "samples": n, "last_ms": ts, "last": value})
            })
            .collect();
        return out.print_json(&serde_json::json!({
            "queries": source.queries(),
            "samples": batch.samples.len(),
            "stored": stored,
            "dry_run": dry_run,
            "series": rows,
            "warnings": batch.warnings,
        }));
    }
    if !out.quiet {
        let mut table = out.table(&["entity", "series", "samples", "last value"]);
        for ((entity, attribute), (n, _, value)) in &per_series {
            table.add_row(vec![entity.clone(), attribute.clone(), n.to_string(), format!("{value}")]);
        }
        out.print_table(&table);
        print_warnings(&batch.warnings, out);
    }
    let what =
        format!("{} samples of {} series from {} queries", batch.samples.len(), per_series.len(), source.queries());
    if dry_run {
        out.success(&format!("would store {what} (dry run: nothing stored)"));
    } else {
        out.success(&format!("stored {what} in {}", store.path()));
    }
    Ok(())
}

fn print_warnings(warnings: &[Warning], out: &Output) {
    if warnings.is_empty() {
        return;
    }
    out.heading(&format!("Warnings ({})", warnings.len()));
    for warning in warnings.iter().take(30) {
        out.line(&format!("  {warning}"));
    }
    if warnings.len() > 30 {
        out.hint(&format!("  ... and {} more (--json lists them all)", warnings.len() - 30));
    }
}

/// Runs `doppel receive --remote-write ADDR`.
pub fn receive(
    store_path: &Path,
    address: &str,
    bindings_path: &Path,
    max_requests: Option<usize>,
    out: &Output,
) -> Result<()> {
    let bindings = read_bindings(bindings_path, "prometheus")?;
    let store = SqliteStore::open_existing(store_path)?;
    let twin = read_from(&store, At::Head, out)?;
    let targets = Targets::of(&twin, &bindings);
    let receiver = Receiver::new(&bindings, targets, Limits::default());
    if receiver.binding_count() == 0 {
        return Err(exit::invalid(format!(
            "{}: no binding names a `metric`; remote-write needs `metric:` (and `entity:`) bindings",
            bindings_path.display()
        )));
    }
    let listener = std::net::TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    // The address first, alone on its line, so scripts and tests can read it.
    println!("listening on http://{local}/api/v1/write");
    let store = Arc::new(Mutex::new(store));
    let (json, quiet) = (out.json, out.quiet);
    let sink: Sink = Arc::new(move |got| {
        let mut store = store.lock().map_err(|_| "the store lock is poisoned".to_string())?;
        let stored = store.append_samples(&doppel_sync::store_samples(&got.samples)).map_err(|e| e.to_string())?;
        if json {
            let line = serde_json::json!({"series": got.series_in, "samples": got.samples_in, "stored": stored,
                "unbound_series": got.unbound_series, "warnings": got.warnings});
            println!("{line}");
        } else if !quiet {
            println!(
                "{} series, {} samples: stored {stored}, {} series bound to nothing",
                got.series_in, got.samples_in, got.unbound_series
            );
            for warning in got.warnings.iter().take(5) {
                println!("  warning: {warning}");
            }
        }
        Ok(())
    });
    serve_blocking(listener, Arc::new(receiver), sink, max_requests).context("the remote-write server stopped")?;
    Ok(())
}
