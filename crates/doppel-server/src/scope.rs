//! Scopes: the part of the estate a token may see.
//!
//! A scope is a list of selectors; an entity is in scope when any of them selects it.
//! The keys in scope are worked out once per scope and twin version.

use crate::error::ApiError;
use doppel_model::{Key, Selector, Twin, TwinView};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The keys one scope selects in one version of the twin.
#[derive(Debug)]
pub struct InScope {
    version: u64,
    keys: HashSet<Key>,
}

impl InScope {
    /// Whether the entity is in scope.
    pub fn contains(&self, key: &Key) -> bool {
        self.keys.contains(key)
    }

    /// How many entities are in scope.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing is in scope.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Checks a scope's selectors, naming the first that does not parse.
pub fn check(scope: &[String]) -> Result<Vec<Selector>, ApiError> {
    scope
        .iter()
        .enumerate()
        .map(|(i, text)| {
            Selector::parse(text).map_err(|e| ApiError::invalid(format!("scope[{i}]"), format!("'{text}': {e}")))
        })
        .collect()
}

/// Works out the keys in scope, remembering the answer per scope for the latest version.
#[derive(Default)]
pub struct Scopes {
    cache: Mutex<HashMap<Vec<String>, Arc<InScope>>>,
}

impl Scopes {
    /// The keys `scope` selects in `twin`.
    pub fn resolve(&self, scope: &[String], twin: &Twin) -> Result<Arc<InScope>, ApiError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = cache.get(scope)
            && found.version == twin.version()
        {
            return Ok(found.clone());
        }
        let selectors = check(scope)?;
        let mut keys = HashSet::new();
        for selector in &selectors {
            keys.extend(selector.select(twin).into_iter().map(|e| e.key.clone()));
        }
        let resolved = Arc::new(InScope { version: twin.version(), keys });
        if cache.len() > 1_000 {
            cache.clear();
        }
        cache.insert(scope.to_vec(), resolved.clone());
        Ok(resolved)
    }
}
