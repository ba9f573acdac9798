//! What a scoped token must not see, taken out of every answer and event.
//!
//! Analyses run on the whole twin (a zone failure hits services outside a namespace
//! too), so their answers can name anything. Before an answer reaches a scoped token:
//! objects that name an out-of-scope entity in an identifying field are dropped from
//! arrays and maps, map entries keyed by one are dropped, and any other string naming one
//! (`kind/name`) has it replaced by [`HIDDEN`].

use crate::scope::InScope;
use doppel_model::{Key, Twin, TwinView};
use serde_json::{Map, Value};

/// What an out-of-scope key is replaced with.
pub const HIDDEN: &str = "[outside scope]";

/// Fields whose value says which entity an object is about.
const IDENTIFYING: &[&str] = &[
    "key",
    "entity",
    "service",
    "subject",
    "station",
    "workload",
    "from",
    "to",
    "root",
    "target",
    "entry",
    "node",
    "pod",
    "member",
    "cause_key",
];

/// Takes out of `value` everything outside `scope`.
pub fn redact(value: Value, twin: &Twin, scope: &InScope) -> Value {
    let r = Redactor { twin, scope };
    match r.value(value) {
        Some(v) => v,
        None => Value::Null,
    }
}

struct Redactor<'a> {
    twin: &'a Twin,
    scope: &'a InScope,
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@')
}

impl Redactor<'_> {
    /// Whether `text` is exactly a key of an entity outside the scope.
    fn hidden_key(&self, text: &str) -> bool {
        match text.parse::<Key>() {
            Ok(key) => self.twin.contains(&key) && !self.scope.contains(&key),
            Err(_) => false,
        }
    }

    /// The length of the longest entity key at the start of `run`, if any.
    fn key_at(&self, run: &str) -> Option<(usize, bool)> {
        let mut end = run.len();
        loop {
            let candidate = &run[..end];
            if let Ok(key) = candidate.parse::<Key>()
                && self.twin.contains(&key)
            {
                return Some((end, !self.scope.contains(&key)));
            }
            end = candidate.rfind(['/', '.', ':', '@'])?;
            if !candidate[..end].contains('/') {
                return None;
            }
        }
    }

    /// Whether an identifying value names an out-of-scope entity at its start.
    fn names_hidden(&self, text: &str) -> bool {
        let run_end = text.find(|c: char| !name_char(c)).unwrap_or(text.len());
        matches!(self.key_at(&text[..run_end]), Some((_, true)))
    }

    /// `text` with every out-of-scope key replaced.
    fn string(&self, text: String) -> String {
        if !text.contains('/') {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(slash) = rest.find('/') {
            // The kind word before the slash.
            let start = rest[..slash]
                .rfind(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                .map(|i| i + rest[i..].chars().next().map_or(1, char::len_utf8))
                .unwrap_or(0);
            let run_end = rest[start..].find(|c: char| !name_char(c)).map_or(rest.len(), |i| start + i);
            match (start < slash).then(|| self.key_at(&rest[start..run_end])).flatten() {
                Some((len, hidden)) => {
                    out.push_str(&rest[..start]);
                    if hidden {
                        out.push_str(HIDDEN);
                    } else {
                        out.push_str(&rest[start..start + len]);
                    }
                    rest = &rest[start + len..];
                }
                None => {
                    out.push_str(&rest[..=slash]);
                    rest = &rest[slash + 1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Whether an object is about an out-of-scope entity.
    fn object_hidden(&self, map: &Map<String, Value>) -> bool {
        IDENTIFYING.iter().any(|field| matches!(map.get(*field), Some(Value::String(s)) if self.names_hidden(s)))
    }

    /// The value redacted; `None` when the whole value is about something out of scope.
    fn value(&self, value: Value) -> Option<Value> {
        match value {
            Value::String(s) => {
                if self.hidden_key(&s) {
                    return None;
                }
                Some(Value::String(self.string(s)))
            }
            Value::Array(items) => Some(Value::Array(items.into_iter().filter_map(|v| self.value(v)).collect())),
            Value::Object(map) => {
                if self.object_hidden(&map) {
                    return None;
                }
                let was_empty = map.is_empty();
                let mut kept = Map::with_capacity(map.len());
                for (k, v) in map {
                    if self.names_hidden(&k) {
                        continue;
                    }
                    // A field naming a hidden entity keeps its place, emptied.
                    let v = match v {
                        Value::String(s) if self.hidden_key(&s) => Value::String(HIDDEN.to_string()),
                        other => match self.value(other) {
                            Some(v) => v,
                            None => continue,
                        },
                    };
                    kept.insert(self.string(k), v);
                }
                // An object whose every field was about hidden things is itself hidden
                // (a change `{"AddEntity": {...}}` of an out-of-scope entity).
                if kept.is_empty() && !was_empty {
                    return None;
                }
                Some(Value::Object(kept))
            }
            other => Some(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Scopes;
    use serde_json::json;

    fn shop() -> Twin {
        doppel_testkit::shop::shop()
    }

    #[test]
    fn out_of_scope_keys_are_taken_out_everywhere() {
        let twin = shop();
        let scope = Scopes::default().resolve(&["service/cart".into(), "service/frontend".into()], &twin).unwrap();
        let answer = json!({
            "entries": [
                {"service": "service/frontend", "worst": "down", "cause": ["service/frontend down <- service/catalog down"]},
                {"service": "service/catalog", "worst": "down"},
            ],
            "by_key": {"service/cart": 1, "service/catalog": 2},
            "message": "zone/us-east-1a lost; service/cart degraded (service/checkout, then datastore/orders-db.)",
            "plain": "not/a-key and 50/50",
        });
        let out = redact(answer, &twin, &scope).to_string();
        for hidden in ["service/catalog", "zone/us-east-1a", "service/checkout", "datastore/orders-db"] {
            assert!(!out.contains(hidden), "{hidden} leaked: {out}");
        }
        for kept in ["service/frontend", "service/cart", "not/a-key and 50/50", "by_key"] {
            assert!(out.contains(kept), "{kept} lost: {out}");
        }
        assert_eq!(out.matches(HIDDEN).count(), 4, "{out}");
    }
}
