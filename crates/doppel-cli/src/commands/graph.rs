//! `doppel deps` and `doppel dependents`: dependency trees.

use super::{at_of, existing_key, read_twin};
use crate::args::AtArgs;
use crate::output::{BOLD, DIM, Output};
use anyhow::Result;
use doppel_model::describe;
use doppel_model::{Direction, TwinView, walk};
use std::path::Path;

/// Prints the tree of what `key` depends on, or of what depends on it.
pub fn run(
    store: &Path,
    key: &str,
    depth: Option<usize>,
    at: &AtArgs,
    direction: Direction,
    out: &Output,
) -> Result<()> {
    let (_store, twin) = read_twin(store, at_of(at)?, out)?;
    let root = existing_key(&twin, key)?;
    let steps = walk(&twin, &root, direction, depth);
    if out.json {
        return out.print_json(&steps);
    }
    // Tree drawing: for each step, whether a later sibling follows at each depth.
    let mut last_at_depth: Vec<bool> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let is_last = !steps[i + 1..].iter().take_while(|s| s.depth >= step.depth).any(|s| s.depth == step.depth);
        if step.depth == 0 {
            let entity = twin.entity(&step.key).expect("walks visit existing entities");
            anstream::println!("{BOLD}{}{BOLD:#}  {DIM}{}{DIM:#}", step.key, describe::summary(entity));
            continue;
        }
        last_at_depth.truncate(step.depth - 1);
        let mut prefix = String::new();
        for &last in &last_at_depth {
            prefix.push_str(if last { "   " } else { "│  " });
        }
        prefix.push_str(if is_last { "└─ " } else { "├─ " });
        last_at_depth.push(is_last);
        let via = step.via.map(|v| v.to_string()).unwrap_or_default();
        let note = if step.repeated { format!(" {DIM}(see above){DIM:#}") } else { String::new() };
        anstream::println!("{prefix}{DIM}{via}{DIM:#} {}{note}", step.key);
    }
    let distinct = steps.iter().filter(|s| !s.repeated).count() - 1;
    let what = match direction {
        Direction::Dependencies => format!("{root} depends on {distinct} entities"),
        Direction::Dependents => format!("{distinct} entities depend on {root}"),
    };
    let limit = depth.map(|d| format!(" within {d} step(s)")).unwrap_or_default();
    out.hint(&format!("{what}{limit}"));
    Ok(())
}
