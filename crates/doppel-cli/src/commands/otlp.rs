//! `doppel receive`: Prometheus remote-write (in `prometheus.rs`) and OpenTelemetry traces
//! over OTLP/HTTP and OTLP/gRPC, whose call graph is committed every interval.

use super::duration;
use super::read_from;
use crate::exit;
use crate::output::Output;
use anyhow::{Context, Result};
use doppel_sources::Source;
use doppel_sources::otlp::{OtlpConfig, Receivers};
use doppel_store::{At, SqliteStore, Store};
use std::path::Path;

/// The traces half of `doppel receive`.
pub struct Args {
    /// OTLP/HTTP address.
    pub http: Option<String>,
    /// OTLP/gRPC address.
    pub grpc: Option<String>,
    /// Between commits.
    pub interval: String,
    /// How long client spans wait for their server span.
    pub pending_age: String,
    /// Commit rounds before stopping.
    pub max_rounds: Option<usize>,
    /// The source instance's name.
    pub name: String,
}

fn bind(flag: &str, address: &Option<String>) -> Result<Option<std::net::TcpListener>> {
    address
        .as_deref()
        .map(|a| std::net::TcpListener::bind(a).with_context(|| format!("--{flag}: cannot listen on {a}")))
        .transpose()
}

/// Runs `doppel receive`: remote-write, traces, or both (remote-write on a thread of its own).
pub fn receive(
    store_path: &Path,
    remote_write: Option<&str>,
    bindings: Option<&Path>,
    max_requests: Option<usize>,
    traces: &Args,
    out: &Output,
) -> Result<()> {
    if traces.http.is_none() && traces.grpc.is_none() {
        let (Some(address), Some(bindings)) = (remote_write, bindings) else {
            return Err(exit::usage(
                "nothing to receive: give --remote-write ADDR --bindings FILE, --otlp-http or --otlp-grpc",
            ));
        };
        return super::prometheus::receive(store_path, address, bindings, max_requests, out);
    }
    let remote = match (remote_write, bindings) {
        (Some(address), Some(bindings)) => {
            let (store_path, address, bindings, out) =
                (store_path.to_path_buf(), address.to_string(), bindings.to_path_buf(), out.clone());
            Some(std::thread::spawn(move || {
                super::prometheus::receive(&store_path, &address, &bindings, max_requests, &out)
            }))
        }
        _ => None,
    };
    receive_traces(store_path, traces, out)?;
    if let Some(remote) = remote {
        remote.join().map_err(|_| anyhow::anyhow!("the remote-write receiver panicked"))??;
    }
    Ok(())
}

fn receive_traces(store_path: &Path, args: &Args, out: &Output) -> Result<()> {
    let interval_s = duration("interval", &args.interval)?;
    if interval_s <= 0.0 {
        return Err(exit::usage("--interval: must be more than 0"));
    }
    let config = OtlpConfig {
        name: args.name.clone(),
        http: args.http.clone(),
        grpc: args.grpc.clone(),
        interval_s,
        pending_age_s: duration("pending-age", &args.pending_age)?,
        ..OtlpConfig::default()
    };
    let mut store = SqliteStore::open_existing(store_path)?;
    let mut twin = read_from(&store, At::Head, out)?;
    let (http, grpc) = (bind("otlp-http", &config.http)?, bind("otlp-grpc", &config.grpc)?);
    let limits = config.body_limits();
    let mut source = config.build();
    let receivers = Receivers::start(source.name(), source.traces(), limits, http, grpc)
        .context("cannot start the OTLP receivers")?;
    // The addresses first, each alone on its line, so scripts and tests can read them.
    if let Some(address) = receivers.http_addr() {
        println!("listening for OTLP/HTTP on http://{address}/v1/traces");
    }
    if let Some(address) = receivers.grpc_addr() {
        println!("listening for OTLP/gRPC on {address}");
    }
    let mut rounds = 0;
    while args.max_rounds.is_none_or(|max| rounds < max) {
        std::thread::sleep(std::time::Duration::from_secs_f64(interval_s));
        if receivers.has_stopped() {
            break;
        }
        rounds += 1;
        let batch = match source.changes(&twin) {
            Ok(batch) => batch,
            Err(error) => {
                // The twin stays as it was; the next round tries with new spans.
                eprintln!("round {rounds}: {error}; nothing was committed");
                continue;
            }
        };
        let version = if batch.changeset.is_empty() {
            None
        } else {
            let (commit, next) = store.commit(twin, &batch.changeset)?;
            twin = next;
            Some(commit.version)
        };
        let samples = doppel_sync::store_samples(&batch.samples);
        let stored = store.append_samples(&samples)?;
        let summary = batch.changeset.summary();
        let entities = summary.entity_totals();
        if out.json {
            let line = serde_json::json!({
                "round": rounds,
                "version": version,
                "input": batch.changeset.provenance.summary,
                "entities_added": entities.added,
                "entities_updated": entities.updated,
                "relations_added": summary.relations.added,
                "relations_updated": summary.relations.updated,
                "samples": stored,
                "warnings": batch.warnings,
            });
            println!("{line}");
        } else if !out.quiet {
            let what = match version {
                Some(v) => format!(
                    "committed version {v}: {} entities added, {} updated; {} calls added, {} updated",
                    entities.added, entities.updated, summary.relations.added, summary.relations.updated
                ),
                None => "nothing changed".to_string(),
            };
            println!("round {rounds}: {what}; {stored} samples stored ({})", batch.changeset.provenance.summary);
            for warning in batch.warnings.iter().filter(|w| w.kind != doppel_sources::WarningKind::NotOwned).take(5) {
                println!("  warning: {warning}");
            }
        }
    }
    receivers.stop().context("the OTLP receivers stopped")?;
    Ok(())
}
