//! Selectors: which entities a question is about.
//!
//! A selector is terms separated by spaces; an entity must match every term.
//!
//! | term | matches |
//! |---|---|
//! | `service/checkout` | that entity |
//! | `pod/shop/cart-*`, `*/cart*` | keys matching the glob (`*`, `?`) |
//! | `kind:pod` | every entity of a kind |
//! | `zone=us-east-1a` (any location kind: provider, account, region, zone, cluster, namespace, network, subnet, node, host) | everything located there, transitively (a pod on a node in the zone) |
//! | `label:app=cart`, `label:app`, `label:app!=cart`, or `app=cart` when `app` is not a kind | labels |
//! | `deps(service/checkout)`, `deps(service/checkout,2)` | what it depends on, transitively or to a depth |
//! | `dependents(zone/us-east-1a)` | what depends on it |
//! | `*` | everything |

use crate::entity::Entity;
use crate::key::Key;
use crate::kind::Kind;
use crate::relation::RelKind;
use crate::view::TwinView;
use crate::walk::{Direction, reachable};
use std::collections::HashSet;
use std::fmt;

/// One term of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Every entity.
    All,
    /// Keys matching a glob; `kind` is `None` when the kind part is `*`.
    KeyGlob {
        /// Kind, if fixed.
        kind: Option<Kind>,
        /// Glob over the name.
        name: String,
    },
    /// Entities of a kind.
    Kind(Kind),
    /// Entities located, transitively, in entities of `kind` whose name matches `name`.
    Location {
        /// Location kind.
        kind: Kind,
        /// Glob over the location's name.
        name: String,
    },
    /// A label test.
    Label {
        /// Label key.
        key: String,
        /// `None`: the label exists.
        value: Option<String>,
        /// Whether the value must differ.
        negated: bool,
    },
    /// A walk from a root.
    Walk {
        /// Root entity.
        root: Key,
        /// Dependencies or dependents.
        direction: Direction,
        /// Depth limit.
        depth: Option<usize>,
    },
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Terms; all must match.
    pub terms: Vec<Term>,
}

/// Why a selector could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad selector term `{term}`: {message}")]
pub struct SelectorError {
    /// The offending term.
    pub term: String,
    /// What was expected.
    pub message: String,
}

fn bad(term: &str, message: impl Into<String>) -> SelectorError {
    SelectorError { term: term.to_string(), message: message.into() }
}

fn parse_kind(term: &str, prefix: &str) -> Result<Kind, SelectorError> {
    Kind::from_prefix(prefix).ok_or_else(|| {
        let hint = crate::suggest::closest(prefix, Kind::ALL.iter().map(|k| k.prefix()))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        bad(term, format!("`{prefix}` is not a kind{hint}"))
    })
}

impl Selector {
    /// Parses a selector.
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let mut terms = Vec::new();
        for term in split_terms(text) {
            terms.push(parse_term(&term)?);
        }
        if terms.is_empty() {
            return Err(bad(text, "empty selector: try `*`, `kind:service` or `zone=us-east-1a`"));
        }
        Ok(Selector { terms })
    }

    /// The matching entities, sorted by key.
    ///
    /// Cheap terms (kind, key glob, label) filter first; location terms then walk up from
    /// each remaining candidate (a pod to its node to its zone: a few hops), unless no
    /// cheap term narrows the scan, in which case the location's contents are collected
    /// by one walk down from it.
    pub fn select<'v>(&self, view: &'v (impl TwinView + ?Sized)) -> Vec<&'v Entity> {
        let walk_sets: Vec<Option<HashSet<Key>>> = self
            .terms
            .iter()
            .map(|term| match term {
                Term::Walk { root, direction, depth } => {
                    Some(reachable(view, root, *direction, *depth).into_iter().collect())
                }
                _ => None,
            })
            .collect();
        let exact: Option<Vec<&'v Entity>> = self.terms.iter().find_map(|term| match term {
            Term::KeyGlob { kind: Some(kind), name } if !has_wildcard(name) => {
                Some(Key::new(*kind, name).ok().and_then(|key| view.entity(&key)).into_iter().collect())
            }
            _ => None,
        });
        let narrowing =
            self.terms.iter().any(|t| matches!(t, Term::Kind(_) | Term::KeyGlob { .. } | Term::Label { .. }));
        // The location term whose contents were collected up front needs no check per entity.
        let mut collected_location: Option<usize> = None;
        let candidates: Vec<&'v Entity> = if let Some(list) = exact {
            list
        } else if let Some(set) = walk_sets.iter().flatten().next() {
            set.iter().filter_map(|k| view.entity(k)).collect()
        } else if let (false, Some((index, Term::Location { kind, name }))) =
            (narrowing, self.terms.iter().enumerate().find(|(_, t)| matches!(t, Term::Location { .. })))
        {
            collected_location = Some(index);
            located_in(view, *kind, name).iter().filter_map(|k| view.entity(k)).collect()
        } else if let Some(list) = self.terms.iter().find_map(|t| match t {
            Term::Label { key, value: Some(value), negated: false } => view.entities_labelled(key, value),
            _ => None,
        }) {
            list
        } else if let Some(kind) = self.terms.iter().find_map(|t| match t {
            Term::Kind(kind) | Term::KeyGlob { kind: Some(kind), .. } => Some(*kind),
            _ => None,
        }) {
            view.entities_of(kind).collect()
        } else {
            view.entities().collect()
        };
        let mut out: Vec<&'v Entity> = candidates
            .into_iter()
            .filter(|entity| self.terms.iter().all(|term| matches_simple(term, entity)))
            .filter(|entity| {
                self.terms.iter().zip(&walk_sets).enumerate().all(|(index, (term, walk_set))| match term {
                    Term::Location { .. } if collected_location == Some(index) => true,
                    Term::Location { kind, name } => is_located_in(view, &entity.key, *kind, name),
                    Term::Walk { .. } => walk_set.as_ref().is_some_and(|set| set.contains(&entity.key)),
                    _ => true,
                })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} term(s)", self.terms.len())
    }
}

fn split_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms
}

fn parse_term(term: &str) -> Result<Term, SelectorError> {
    if term == "*" {
        return Ok(Term::All);
    }
    for (prefix, direction) in [("deps(", Direction::Dependencies), ("dependents(", Direction::Dependents)] {
        if let Some(inner) = term.strip_prefix(prefix) {
            let inner = inner.strip_suffix(')').ok_or_else(|| bad(term, "missing `)`"))?;
            let (root, depth) = match inner.split_once(',') {
                Some((root, depth)) => {
                    let depth: usize =
                        depth.trim().parse().map_err(|_| bad(term, "the depth after `,` must be a whole number"))?;
                    (root.trim(), Some(depth))
                }
                None => (inner.trim(), None),
            };
            let root: Key = root.parse().map_err(|e: crate::key::KeyError| bad(term, e.to_string()))?;
            return Ok(Term::Walk { root, direction, depth });
        }
    }
    if let Some(kind) = term.strip_prefix("kind:") {
        return Ok(Term::Kind(parse_kind(term, kind)?));
    }
    if let Some(label) = term.strip_prefix("label:") {
        return Ok(parse_label(label));
    }
    if let Some((left, right)) = term.split_once("!=") {
        return Ok(Term::Label { key: left.to_string(), value: Some(right.to_string()), negated: true });
    }
    if let Some((left, right)) = term.split_once('=') {
        if let Some(kind) = Kind::from_prefix(left)
            && kind.is_location()
        {
            if right.is_empty() {
                return Err(bad(term, format!("name the {kind} after `=`")));
            }
            return Ok(Term::Location { kind, name: right.to_string() });
        }
        if let Some(kind) = Kind::from_prefix(left) {
            return Err(bad(term, format!("a {kind} is not a location; use `{kind}/NAME` or `deps({kind}/NAME)`")));
        }
        return Ok(Term::Label { key: left.to_string(), value: Some(right.to_string()), negated: false });
    }
    if let Some((prefix, name)) = term.split_once('/') {
        let kind = if prefix == "*" { None } else { Some(parse_kind(term, prefix)?) };
        if name.is_empty() {
            return Err(bad(term, "a name or glob must follow `/`"));
        }
        return Ok(Term::KeyGlob { kind, name: name.to_string() });
    }
    if let Some(kind) = Kind::from_prefix(term) {
        return Ok(Term::Kind(kind));
    }
    Err(bad(
        term,
        "expected KIND/NAME (globs allowed), kind:KIND, zone=NAME, label:KEY=VALUE, deps(KEY) or dependents(KEY)",
    ))
}

fn parse_label(label: &str) -> Term {
    if let Some((key, value)) = label.split_once("!=") {
        return Term::Label { key: key.to_string(), value: Some(value.to_string()), negated: true };
    }
    match label.split_once('=') {
        Some((key, value)) => Term::Label { key: key.to_string(), value: Some(value.to_string()), negated: false },
        None => Term::Label { key: label.to_string(), value: None, negated: false },
    }
}

fn matches_simple(term: &Term, entity: &Entity) -> bool {
    match term {
        Term::All => true,
        Term::Kind(kind) => entity.key.kind() == *kind,
        Term::KeyGlob { kind, name } => {
            kind.is_none_or(|k| entity.key.kind() == k) && glob_match(name, entity.key.name())
        }
        Term::Label { key, value, negated } => match (entity.labels.get(key), value) {
            (None, _) => *negated,
            (Some(_), None) => true,
            (Some(actual), Some(wanted)) => glob_match(wanted, actual) != *negated,
        },
        Term::Location { .. } | Term::Walk { .. } => true,
    }
}

fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Whether `text` matches a glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if !has_wildcard(pattern) {
        return pattern == text;
    }
    if pattern.is_ascii() && text.is_ascii() {
        return glob_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?');
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_units(&p, &t, '*', '?')
}

/// Wildcard matching over any units (bytes for ASCII, chars otherwise), with backtracking
/// to the last `*` only, so it runs in time proportional to pattern times text at worst.
fn glob_units<U: PartialEq + Copy>(p: &[U], t: &[U], star: U, one: U) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] != star && (p[pi] == one || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == star)
}

/// Relation types along which something is inside something else.
fn places(rel: &crate::view::RelationRef<'_>) -> bool {
    match rel.kind() {
        RelKind::LocatedIn | RelKind::RunsOn => true,
        RelKind::MemberOf => matches!(rel.from.kind(), Kind::Node | Kind::Host),
        _ => false,
    }
}

/// Longest chain of placements followed upwards (pod, node, subnet, network, region, ...).
const MAX_PLACEMENT_DEPTH: usize = 8;

/// Whether `key` lies, transitively, in an entity of `kind` whose name matches `name`.
fn is_located_in(view: &(impl TwinView + ?Sized), key: &Key, kind: Kind, name: &str) -> bool {
    if kind == Kind::Namespace && key.namespace().is_some_and(|ns| glob_match(name, ns)) {
        return true;
    }
    let mut frontier = vec![key.clone()];
    let mut seen: Vec<Key> = Vec::new();
    for _ in 0..MAX_PLACEMENT_DEPTH {
        let mut next = Vec::new();
        for current in &frontier {
            for rel in view.out_relations(current) {
                if !places(&rel) {
                    continue;
                }
                if rel.to.kind() == kind && glob_match(name, rel.to.name()) {
                    return true;
                }
                if !seen.contains(rel.to) {
                    seen.push(rel.to.clone());
                    next.push(rel.to.clone());
                }
            }
        }
        if next.is_empty() {
            return false;
        }
        frontier = next;
    }
    false
}

/// Everything located, transitively, in the entities of `kind` named by `name` (a glob).
fn located_in(view: &(impl TwinView + ?Sized), kind: Kind, name: &str) -> HashSet<Key> {
    let roots: Vec<Key> = match Key::new(kind, name) {
        Ok(key) if !has_wildcard(name) => view.entity(&key).map(|e| vec![e.key.clone()]).unwrap_or_default(),
        _ => view.entities_of(kind).filter(|e| glob_match(name, e.key.name())).map(|e| e.key.clone()).collect(),
    };
    let mut seen: HashSet<Key> = roots.iter().cloned().collect();
    let mut frontier = roots.clone();
    if kind == Kind::Namespace {
        for entity in view.entities() {
            if entity.key.namespace().is_some_and(|ns| roots.iter().any(|r| r.name() == ns))
                && seen.insert(entity.key.clone())
            {
                frontier.push(entity.key.clone());
            }
        }
    }
    while let Some(key) = frontier.pop() {
        for rel in view.in_relations(&key) {
            if places(&rel) && seen.insert(rel.from.clone()) {
                frontier.push(rel.from.clone());
            }
        }
    }
    for root in &roots {
        seen.remove(root);
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match() {
        assert!(glob_match("cart-*", "cart-7d9f"));
        assert!(glob_match("*cart*", "shop/cart-7d9f"));
        assert!(glob_match("c?rt", "cart"));
        assert!(!glob_match("cart-*", "checkout"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "ac"));
    }

    /// The obvious recursive definition, to check the fast matcher against.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && reference(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && reference(rest, &t[1..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_its_definition(pattern in "[ab*?é]{0,8}", text in "[abé*]{0,10}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(glob_match(&pattern, &text), reference(&p, &t));
        }
    }

    #[test]
    fn terms_parse() {
        assert_eq!(parse_term("kind:pod").unwrap(), Term::Kind(Kind::Pod));
        assert_eq!(
            parse_term("zone=us-east-1a").unwrap(),
            Term::Location { kind: Kind::Zone, name: "us-east-1a".into() }
        );
        assert_eq!(
            parse_term("app=cart").unwrap(),
            Term::Label { key: "app".into(), value: Some("cart".into()), negated: false }
        );
        assert!(matches!(parse_term("deps(service/checkout,2)").unwrap(), Term::Walk { depth: Some(2), .. }));
        let error = parse_term("servce/checkout").unwrap_err();
        assert!(error.message.contains("did you mean `service`"), "{error}");
        assert!(parse_term("service=checkout").is_err());
        assert!(Selector::parse("   ").is_err());
    }
}
