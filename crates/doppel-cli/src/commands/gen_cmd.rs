//! `doppel gen`: writes a synthetic estate.

use crate::output::Output;
use anyhow::{Context, Result};
use doppel_gen::{GenConfig, generate};
use std::io::Write;
use std::path::Path;

/// Generates an estate and writes it as YAML (or JSON for a .json file).
pub fn run(services: usize, seed: u64, output: Option<&Path>, out: &Output) -> Result<()> {
    if services == 0 {
        return Err(crate::exit::invalid("--services must be at least 1"));
    }
    let spinner = out.spinner(&format!("generating {services} services"));
    let generated = generate(GenConfig { services, seed });
    spinner.finish_and_clear();
    // JSON for a .json file, or on standard output with --json; YAML otherwise.
    let json = match output {
        Some(path) => path.extension().is_some_and(|e| e == "json"),
        None => out.json,
    };
    let bar = out.progress((generated.entities.len() + generated.relations.len()) as u64, "writing");
    let mut sink: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (n_entities, n_relations) = (generated.entities.len(), generated.relations.len());
    doppel_estate::emit::write_estate(&mut sink, &generated.entities, &generated.relations, json, &|n| bar.inc(n))?;
    sink.flush()?;
    bar.finish_and_clear();
    if let Some(path) = output {
        if out.json {
            return out.print_json(&serde_json::json!({
                "file": path.display().to_string(),
                "entities": n_entities,
                "relations": n_relations,
                "seed": seed,
            }));
        }
        if !out.quiet {
            out.success(&format!(
                "wrote {n_entities} entities and {n_relations} relations to {} (seed {seed})",
                path.display()
            ));
        }
        out.hint(&format!("load it with `doppel load {}`", path.display()));
    }
    Ok(())
}
