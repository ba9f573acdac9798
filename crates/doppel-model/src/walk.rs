//! Graph walks: what an entity depends on, and what depends on it, transitively.

use crate::key::Key;
use crate::relation::{DependencyDirection, RelKind};
use crate::view::TwinView;
use std::collections::HashSet;

/// Which way to walk the dependency graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the root needs (callees, the node a pod runs on, the zone a node is in).
    Dependencies,
    /// What needs the root (callers, pods on a node, everything in a zone).
    Dependents,
}

/// One entity reached by a walk, in depth-first order, ready to print as a tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WalkStep {
    /// The entity reached.
    pub key: Key,
    /// Distance from the root (the root is 0).
    pub depth: usize,
    /// The relation type followed to reach it (none for the root).
    pub via: Option<RelKind>,
    /// Whether it was already shown higher up; its own subtree is not repeated.
    pub repeated: bool,
}

/// The neighbours of `key` one dependency step away, with the relation followed, sorted.
pub fn neighbours(view: &(impl TwinView + ?Sized), key: &Key, direction: Direction) -> Vec<(Key, RelKind)> {
    let mut next = Vec::new();
    for rel in view.out_relations(key) {
        let follows = matches!(
            (rel.kind().dependency(), direction),
            (DependencyDirection::Forward, Direction::Dependencies)
                | (DependencyDirection::Reverse, Direction::Dependents)
        );
        if follows {
            next.push((rel.to.clone(), rel.kind()));
        }
    }
    for rel in view.in_relations(key) {
        let follows = matches!(
            (rel.kind().dependency(), direction),
            (DependencyDirection::Reverse, Direction::Dependencies)
                | (DependencyDirection::Forward, Direction::Dependents)
        );
        if follows {
            next.push((rel.from.clone(), rel.kind()));
        }
    }
    next.sort();
    next.dedup_by(|a, b| a.0 == b.0);
    next
}

/// Walks from `root` depth-first up to `max_depth` steps (unbounded when `None`).
/// Each entity's subtree appears once; later meetings are marked `repeated`.
pub fn walk(
    view: &(impl TwinView + ?Sized),
    root: &Key,
    direction: Direction,
    max_depth: Option<usize>,
) -> Vec<WalkStep> {
    let mut steps = vec![WalkStep { key: root.clone(), depth: 0, via: None, repeated: false }];
    let mut seen: HashSet<Key> = HashSet::from([root.clone()]);
    // Explicit stack of (key, depth) children lists, to survive deep graphs without recursion.
    let mut stack: Vec<std::vec::IntoIter<(Key, RelKind)>> = Vec::new();
    if max_depth != Some(0) {
        stack.push(neighbours(view, root, direction).into_iter());
    }
    while let Some(children) = stack.last_mut() {
        let Some((key, via)) = children.next() else {
            stack.pop();
            continue;
        };
        let depth = stack.len();
        let repeated = !seen.insert(key.clone());
        steps.push(WalkStep { key: key.clone(), depth, via: Some(via), repeated });
        if !repeated && max_depth.is_none_or(|max| depth < max) {
            stack.push(neighbours(view, &key, direction).into_iter());
        }
    }
    steps
}

/// The set of entities reachable from `root` (itself excluded), breadth-first.
pub fn reachable(
    view: &(impl TwinView + ?Sized),
    root: &Key,
    direction: Direction,
    max_depth: Option<usize>,
) -> Vec<Key> {
    let mut seen: HashSet<Key> = HashSet::from([root.clone()]);
    let mut frontier = vec![root.clone()];
    let mut out = Vec::new();
    let mut depth = 0;
    while !frontier.is_empty() && max_depth.is_none_or(|max| depth < max) {
        let mut next = Vec::new();
        for key in &frontier {
            for (neighbour, _) in neighbours(view, key, direction) {
                if seen.insert(neighbour.clone()) {
                    out.push(neighbour.clone());
                    next.push(neighbour);
                }
            }
        }
        frontier = next;
        depth += 1;
    }
    out
}
