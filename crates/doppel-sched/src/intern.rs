//! Label keys, values, namespaces and taint parts as small integers, so that the
//! placement loop compares numbers, never strings.

use crate::Map;
use doppel_model::Labels;

/// A node that lacks a label, in per-node domain tables.
pub(crate) const MISSING: u32 = u32::MAX;

/// Strings seen by a cluster, each with a dense id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interner {
    ids: Map<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    /// The id of `text`, adding it if new.
    pub(crate) fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(text.into(), id);
        self.names.push(text.into());
        id
    }

    /// The id of `text`, if it was seen.
    pub(crate) fn get(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    /// The text of an id given by this interner ("" for any other).
    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }

    /// Labels as sorted `(key, value)` id pairs.
    pub(crate) fn labels(&mut self, labels: &Labels) -> Vec<(u32, u32)> {
        let mut pairs: Vec<(u32, u32)> = labels.iter().map(|(k, v)| (self.intern(k), self.intern(v))).collect();
        pairs.sort_unstable();
        pairs
    }
}

/// Where a pod's strings get their ids: the cluster's own interner when the pod is
/// being placed, or (for a read-only `schedule`) the interner plus temporary ids for
/// strings the cluster has never seen, which therefore match nothing in it.
pub(crate) enum Symbols<'a> {
    /// Adds new strings to the cluster.
    Interning(&'a mut Interner),
    /// Leaves the cluster untouched.
    Reading {
        /// The cluster's interner.
        known: &'a Interner,
        /// Strings new to the cluster, with ids past the interner's.
        extra: Map<Box<str>, u32>,
    },
}

impl Symbols<'_> {
    /// The id of `text`.
    pub(crate) fn id(&mut self, text: &str) -> u32 {
        match self {
            Symbols::Interning(interner) => interner.intern(text),
            Symbols::Reading { known, extra } => {
                if let Some(id) = known.get(text) {
                    return id;
                }
                let next = (known.names.len() + extra.len()) as u32;
                *extra.entry(text.into()).or_insert(next)
            }
        }
    }

    /// Labels (or a selector) as sorted `(key, value)` id pairs.
    pub(crate) fn labels(&mut self, labels: &Labels) -> Vec<(u32, u32)> {
        let mut pairs: Vec<(u32, u32)> = labels.iter().map(|(k, v)| (self.id(k), self.id(v))).collect();
        pairs.sort_unstable();
        pairs
    }
}

/// Whether every pair of `selector` is in `labels` (both sorted by key; an empty
/// selector matches everything, as `Labels::matches` does).
pub(crate) fn subset(selector: &[(u32, u32)], labels: &[(u32, u32)]) -> bool {
    let mut rest = labels;
    for &(key, value) in selector {
        loop {
            match rest.first() {
                None => return false,
                Some(&(k, v)) if k == key => {
                    if v != value {
                        return false;
                    }
                    rest = &rest[1..];
                    break;
                }
                Some(&(k, _)) if k < key => rest = &rest[1..],
                Some(_) => return false,
            }
        }
    }
    true
}

/// The value of `key` in sorted label pairs.
pub(crate) fn label(labels: &[(u32, u32)], key: u32) -> Option<u32> {
    labels.binary_search_by_key(&key, |&(k, _)| k).ok().map(|i| labels[i].1)
}

/// The union of two selectors, or `None` when they require different values of one
/// key (no pod can match both).
pub(crate) fn merge(a: &[(u32, u32)], b: &[(u32, u32)]) -> Option<Vec<(u32, u32)>> {
    let mut out: Vec<(u32, u32)> = a.to_vec();
    for &(key, value) in b {
        match label(&out, key) {
            Some(existing) if existing != value => return None,
            Some(_) => {}
            None => out.push((key, value)),
        }
        out.sort_unstable();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_and_merges() {
        assert!(subset(&[], &[(1, 2)]));
        assert!(subset(&[(1, 2)], &[(0, 5), (1, 2), (3, 3)]));
        assert!(!subset(&[(1, 3)], &[(0, 5), (1, 2)]));
        assert!(!subset(&[(2, 3)], &[(0, 5), (1, 2)]));
        assert!(!subset(&[(0, 5), (4, 1)], &[(0, 5), (1, 2)]));
        assert_eq!(merge(&[(1, 2)], &[(0, 1), (1, 2)]), Some(vec![(0, 1), (1, 2)]));
        assert_eq!(merge(&[(1, 2)], &[(1, 3)]), None);
    }

    #[test]
    fn reading_symbols_give_unknown_strings_fresh_ids() {
        let mut interner = Interner::default();
        let app = interner.intern("app");
        let mut symbols = Symbols::Reading { known: &interner, extra: Map::default() };
        assert_eq!(symbols.id("app"), app);
        let new = symbols.id("new");
        assert_ne!(new, app);
        assert_eq!(symbols.id("new"), new);
        assert_ne!(symbols.id("other"), new);
    }
}
