//! The commands, one module each, and what they share: opening the store, reading the
//! twin at a version, reading estate files.

mod calibrate;
mod demo;
mod drift;
mod gen_cmd;
mod graph;
mod history;
mod import;
mod load;
mod observe;
mod otlp;
mod perf;
mod predict;
mod prometheus;
mod resilience;
mod serve;
mod show;
mod sweep;
mod sync;

use crate::args::{AtArgs, Cli, Command};
use crate::exit;
use crate::output::Output;
use anyhow::{Context, Result};
use doppel_estate::SourceFile;
use doppel_model::{Key, Twin, TwinView};
use doppel_store::{At, SqliteStore, Store};
use std::path::{Path, PathBuf};

/// Runs the command the user asked for.
pub fn run(cli: &Cli, out: &Output) -> Result<()> {
    match &cli.command {
        Command::Demo { demo_store, serve, no_serve, listen } => {
            use std::io::IsTerminal;
            let serving = *serve || (!*no_serve && !out.json && std::io::stdout().is_terminal());
            demo::run(demo_store, out)?;
            if serving {
                demo::serve(demo_store, *listen, out)?;
            }
            Ok(())
        }
        Command::Load { files, prune, dry_run, author, message } => {
            let options = load::LoadOptions {
                prune: *prune,
                dry_run: *dry_run,
                author: author.clone(),
                message: message.clone(),
            };
            load::run(&cli.store, files, &options, out)
        }
        Command::Import { from } => import::run(&cli.store, from, out),
        Command::Validate { files } => load::validate(&cli.store, files, out),
        Command::Show { selector, limit, at } => show::run(&cli.store, &selector.join(" "), *limit, at, out),
        Command::Deps { key, depth, at } => {
            graph::run(&cli.store, key, *depth, at, doppel_model::Direction::Dependencies, out)
        }
        Command::Dependents { key, depth, at } => {
            graph::run(&cli.store, key, *depth, at, doppel_model::Direction::Dependents, out)
        }
        Command::History { limit } => history::log(&cli.store, *limit, out),
        Command::Diff { from, to, limit } => history::diff(&cli.store, from, to, *limit, out),
        Command::WhatIf { args, version } => {
            resilience::what_if(&cli.store, args, &AtArgs { version: *version, at: None }, out)
        }
        Command::Spof { args, version } => sweep::spof(&cli.store, args, &AtArgs { version: *version, at: None }, out),
        Command::Availability { samples, seed, markdown, version } => sweep::availability(
            &cli.store,
            &doppel_resilience::availability::AvailabilityOptions { samples: *samples, seed: *seed },
            *markdown,
            &AtArgs { version: *version, at: None },
            out,
        ),
        Command::Perf { args, failure, sim, version } => {
            perf::perf(&cli.store, args, failure, sim, &AtArgs { version: *version, at: None }, out)
        }
        Command::Capacity { args, target, version } => {
            perf::capacity(&cli.store, args, target, &AtArgs { version: *version, at: None }, out)
        }
        Command::Receive {
            remote_write,
            bindings,
            max_requests,
            otlp_http,
            otlp_grpc,
            interval,
            pending_age,
            max_rounds,
            otlp_name,
        } => {
            let traces = otlp::Args {
                http: otlp_http.clone(),
                grpc: otlp_grpc.clone(),
                interval: interval.clone(),
                pending_age: pending_age.clone(),
                max_rounds: *max_rounds,
                name: otlp_name.clone(),
            };
            otlp::receive(&cli.store, remote_write.as_deref(), bindings.as_deref(), *max_requests, &traces, out)
        }
        Command::Observe { files, synthetic: false, .. } => observe::run(&cli.store, files, out),
        Command::Observe { synthetic: true, days, seed, growth, until, .. } => {
            observe::synthetic(&cli.store, *days, *seed, *growth, until.as_deref(), out)
        }
        Command::Forecast { series, horizon, level, svg } => {
            predict::forecast_cmd(&cli.store, series, horizon, *level, svg.as_deref(), out)
        }
        Command::Predict { horizon, level, recalibrate } => {
            predict::predict(&cli.store, horizon, *level, *recalibrate, out)
        }
        Command::Anomalies { since, entity } => predict::anomalies(&cli.store, since, entity.as_deref(), out),
        Command::Rca { at, window } => predict::rca(&cli.store, at.as_deref(), window, out),
        Command::Calibrate { window, apply } => calibrate::run(&cli.store, *window, *apply, out),
        Command::Sync { config, once, rounds, author: who } => {
            let rounds = if *once { Some(1) } else { *rounds };
            sync::run(&cli.store, config, rounds, &author(who.as_deref()), out)
        }
        Command::Drift { config, fail_on_drift, limit } => {
            drift::run(&cli.store, config.as_deref(), *fail_on_drift, *limit, out)
        }
        Command::Serve { listen, no_auth, tls_cert, tls_key, max_body, rate } => serve::run(
            &cli.store,
            &serve::ServeArgs {
                listen: listen.clone(),
                no_auth: *no_auth,
                tls: tls_cert.clone().zip(tls_key.clone()),
                max_body: *max_body,
                rate: *rate,
            },
            out,
        ),
        Command::Token { action } => serve::token(&cli.store, action, out),
        Command::Schema => out.print_json(&doppel_estate::schema::estate_schema()),
        Command::Gen { services, seed, output } => gen_cmd::run(*services, *seed, output.as_deref(), out),
    }
}

/// Turns `--version`/`--at` into a store position.
pub fn at_of(at: &AtArgs) -> Result<At> {
    Ok(match (&at.version, &at.at) {
        (Some(v), _) => At::Version(*v),
        (None, Some(time)) => At::Time(crate::time::parse_time(time)?),
        (None, None) => At::Head,
    })
}

/// Opens an existing store and reads the twin at a position, with a progress bar.
pub fn read_twin(path: &Path, at: At, out: &Output) -> Result<(SqliteStore, Twin)> {
    let store = SqliteStore::open_existing(path)?;
    let twin = read_from(&store, at, out)?;
    Ok((store, twin))
}

/// Reads the twin from an open store, with a progress bar.
pub fn read_from(store: &SqliteStore, at: At, out: &Output) -> Result<Twin> {
    let bar = out.progress(1, "reading the twin");
    let report = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let twin = store.twin_at(at, Some(&report))?;
    bar.finish_and_clear();
    Ok(twin)
}

/// Parses a key typed by the user and checks that it exists, suggesting a near one.
pub fn existing_key(view: &impl TwinView, text: &str) -> Result<Key> {
    let key: Key = text.parse().map_err(|e: doppel_model::KeyError| exit::invalid(e.to_string()))?;
    if view.entity(&key).is_none() {
        let names: Vec<&str> = view.entities_of(key.kind()).map(|e| e.key.name()).collect();
        let hint = doppel_model::suggest::closest(key.name(), names.iter().copied())
            .map(|n| format!(" (did you mean `{}/{n}`?)", key.kind()))
            .unwrap_or_default();
        return Err(exit::not_found(format!("{key} does not exist at version {}{hint}", view.version())));
    }
    Ok(key)
}

/// A duration flag's value in seconds (`90s`, `5m`, `7d`, `2w`), or a usage error naming it.
pub fn duration(flag: &str, text: &str) -> Result<f64> {
    doppel_sources::prometheus::parse_duration(text).map_err(|e| exit::usage(format!("--{flag}: {e}")))
}

/// Reads a text file; a missing file is "not found", anything else "cannot read".
pub fn read_text(path: &Path) -> Result<String> {
    let shown = path.display().to_string();
    std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            exit::not_found(format!("{shown}: no such file"))
        } else {
            exit::invalid(format!("cannot read {shown}: {e}"))
        }
    })
}

/// Reads estate files; directories contribute their .yaml, .yml and .json files, sorted.
pub fn read_files(paths: &[PathBuf], out: &Output) -> Result<Vec<SourceFile>> {
    let mut listed: Vec<PathBuf> = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(exit::invalid(format!("{} holds no .yaml, .yml or .json file", path.display())));
            }
            listed.extend(inside);
        } else {
            listed.push(path.clone());
        }
    }
    let bar = out.progress(listed.len() as u64, "reading files");
    let mut files = Vec::with_capacity(listed.len());
    for path in listed {
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                exit::not_found(format!("{shown}: no such file"))
            } else {
                anyhow::Error::new(e).context(format!("cannot read {shown}"))
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
            exit::invalid(format!(
                "{shown}:{line}: not UTF-8 text (invalid byte at offset {offset}); estate files are YAML or JSON; nothing was stored"
            ))
        })?;
        files.push(SourceFile { path: shown, text });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(files)
}

/// Prints diagnostics with their source lines, and returns the invalid-input failure.
pub fn report_diagnostics(
    diagnostics: &[doppel_estate::Diagnostic],
    files: &[SourceFile],
    out: &Output,
) -> anyhow::Error {
    if out.json {
        let _ = out.print_json(&serde_json::json!({"valid": false, "problems": diagnostics}));
    } else {
        const SHOWN: usize = 50;
        for diagnostic in diagnostics.iter().take(SHOWN) {
            let text = files.iter().find(|f| f.path == diagnostic.file).map(|f| f.text.as_str());
            out.problem(&diagnostic.render_with_source(text));
        }
        if diagnostics.len() > SHOWN {
            out.problem(&format!("... and {} more", diagnostics.len() - SHOWN));
        }
    }
    let n = diagnostics.len();
    exit::invalid(format!("{n} problem{} found; nothing was stored", if n == 1 { "" } else { "s" }))
}

/// The name of the person running the command.
pub fn author(given: Option<&str>) -> String {
    given
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
