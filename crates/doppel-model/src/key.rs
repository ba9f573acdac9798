//! Keys people can read and type: `service/checkout`, `zone/us-east-1a`, `pod/shop/cart-7d9f`.

use crate::kind::Kind;
use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The identity of an entity: its kind and a name unique within that kind.
///
/// Names of namespaced Kubernetes objects carry the namespace: `pod/shop/cart-7d9f`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    kind: Kind,
    name: CompactString,
}

/// Why a string is not a valid key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `/` separates the kind from the name.
    #[error("`{0}` is not a key: expected KIND/NAME, such as service/checkout")]
    NoSlash(String),
    /// The part before the first `/` is not a known kind.
    #[error("`{prefix}` is not a kind{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKind {
        /// What was written.
        prefix: String,
        /// The closest known kind, if one is close.
        suggestion: Option<String>,
    },
    /// The name is empty, too long, or holds whitespace or control characters.
    #[error(
        "`{0}` is not a valid name: names are 1 to 253 characters, without spaces or control characters, and do not start or end with `/`"
    )]
    BadName(String),
}

impl Key {
    /// Builds a key from a kind and a name, checking the name.
    pub fn new(kind: Kind, name: &str) -> Result<Key, KeyError> {
        if !valid_name(name) {
            return Err(KeyError::BadName(name.to_string()));
        }
        Ok(Key { kind, name: CompactString::new(name) })
    }

    /// The kind of the entity.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The name within the kind (`shop/cart-7d9f` for `pod/shop/cart-7d9f`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace part of a namespaced name (`shop` for `pod/shop/cart-7d9f`).
    pub fn namespace(&self) -> Option<&str> {
        self.name.split_once('/').map(|(ns, _)| ns)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl FromStr for Key {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Key, KeyError> {
        let Some((prefix, name)) = text.split_once('/') else {
            return Err(KeyError::NoSlash(text.to_string()));
        };
        let Some(kind) = Kind::from_prefix(prefix) else {
            let suggestion = crate::suggest::closest(prefix, Kind::ALL.iter().map(|k| k.prefix())).map(str::to_string);
            return Err(KeyError::UnknownKind { prefix: prefix.to_string(), suggestion });
        };
        Key::new(kind, name)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.prefix(), self.name)
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Key {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Key".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[a-z0-9-]+/[^\\s]+$",
            "description": "An entity key: KIND/NAME, such as service/checkout or pod/shop/cart-7d9f",
        })
    }
}
