//! Quantities with their unit in the type: [`Bytes`], [`Cores`], [`Labels`], [`IntOrPercent`].
//!
//! In estate files these accept what people write (`16Gi`, `500m`, `25%`); they are stored
//! and serialised as plain numbers.

use compact_str::CompactString;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// A size in bytes. Accepts `17179869184`, `16Gi`, `512Mi`, `1G`, `100k` in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub u64);

/// A CPU amount in cores. Accepts `2`, `0.5`, `500m` in files.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Cores(pub f64);

/// Parses a Kubernetes-style byte quantity (`16Gi`, `1.5G`, `100`).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let factor: f64 = match suffix {
        "" => 1.0,
        "k" | "K" | "kB" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "P" | "PB" => 1e15,
        "Ki" | "KiB" => 1024.0,
        "Mi" | "MiB" => 1024.0 * 1024.0,
        "Gi" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "Ti" | "TiB" => 1024f64.powi(4),
        "Pi" | "PiB" => 1024f64.powi(5),
        _ => return None,
    };
    let value: f64 = number.trim().parse().ok()?;
    let bytes = value * factor;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then(|| bytes.round() as u64)
}

/// Parses a Kubernetes-style CPU quantity (`500m`, `2`, `0.25`).
pub fn parse_cores(text: &str) -> Option<f64> {
    let text = text.trim();
    let value = match text.strip_suffix('m') {
        Some(millis) => millis.trim().parse::<f64>().ok()? / 1000.0,
        None => text.parse::<f64>().ok()?,
    };
    (value.is_finite() && value >= 0.0).then_some(value)
}

impl Bytes {
    /// Gibibytes, for display.
    pub fn gib(self) -> f64 {
        self.0 as f64 / (1024.0 * 1024.0 * 1024.0)
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 4] = [("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];
        for (unit, size) in UNITS {
            if self.0 >= size {
                let value = self.0 as f64 / size as f64;
                return if value.fract() == 0.0 { write!(f, "{value}{unit}") } else { write!(f, "{value:.1}{unit}") };
            }
        }
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Cores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 1.0 && self.0 > 0.0 { write!(f, "{}m", (self.0 * 1000.0).round()) } else { write!(f, "{}", self.0) }
    }
}

impl Bytes {
    /// The size as an exact quantity people read (`16Gi`, `15200Mi`), if it is a whole
    /// number of KiB; otherwise `None`.
    pub fn exact_quantity(self) -> Option<String> {
        const UNITS: [(&str, u64); 5] =
            [("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];
        if self.0 == 0 {
            return None;
        }
        UNITS
            .iter()
            .find(|(_, size)| self.0.is_multiple_of(*size))
            .map(|(unit, size)| format!("{}{unit}", self.0 / size))
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // People read JSON and YAML: `16Gi` there; compact formats keep the number.
        match self.exact_quantity() {
            Some(quantity) if s.is_human_readable() => s.serialize_str(&quantity),
            _ => s.serialize_u64(self.0),
        }
    }
}

impl Serialize for Cores {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

struct QuantityVisitor {
    expecting: &'static str,
    parse: fn(&str) -> Option<f64>,
    integer: bool,
}

impl Visitor<'_> for QuantityVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        if v < 0 {
            return Err(E::invalid_value(de::Unexpected::Signed(v), &self));
        }
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        if !(v.is_finite() && v >= 0.0) || (self.integer && v.fract() != 0.0) {
            return Err(E::invalid_value(de::Unexpected::Float(v), &self));
        }
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        (self.parse)(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        if !d.is_human_readable() {
            return u64::deserialize(d).map(Bytes);
        }
        let visitor = QuantityVisitor {
            expecting: "a size in bytes: a whole number or a quantity such as 16Gi, 512Mi, 1G",
            parse: |t| parse_bytes(t).map(|b| b as f64),
            integer: true,
        };
        d.deserialize_any(visitor).map(|v| Bytes(v as u64))
    }
}

impl<'de> Deserialize<'de> for Cores {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cores, D::Error> {
        if !d.is_human_readable() {
            return f64::deserialize(d).map(Cores);
        }
        let visitor = QuantityVisitor {
            expecting: "a CPU amount in cores: a number such as 2 or 0.5, or millicores such as 500m",
            parse: parse_cores,
            integer: false,
        };
        d.deserialize_any(visitor).map(Cores)
    }
}

impl schemars::JsonSchema for Bytes {
    fn schema_name() -> Cow<'static, str> {
        "Bytes".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size in bytes: a whole number, or a quantity such as 16Gi, 512Mi, 1G",
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^[0-9.]+\\s*([kKMGTP]i?B?)?$"}
            ]
        })
    }
}

impl schemars::JsonSchema for Cores {
    fn schema_name() -> Cow<'static, str> {
        "Cores".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A CPU amount in cores: a number such as 2 or 0.5, or millicores such as 500m",
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": "^[0-9.]+m?$"}
            ]
        })
    }
}

/// A count or a percentage of a total, as in PodDisruptionBudgets (`2` or `50%`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntOrPercent {
    /// An absolute count.
    Count(u32),
    /// A percentage from 0 to 100.
    Percent(f64),
}

impl IntOrPercent {
    /// Resolves against a total; percentages round up, as Kubernetes does for minAvailable.
    pub fn resolve(self, total: u32) -> u32 {
        match self {
            IntOrPercent::Count(n) => n,
            IntOrPercent::Percent(p) => ((p / 100.0) * f64::from(total)).ceil() as u32,
        }
    }
}

/// Labels: string keys and values, kept sorted by key, stored compactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Labels(Box<[(CompactString, CompactString)]>);

impl Labels {
    /// Builds labels from pairs; a later duplicate key replaces an earlier one.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Labels {
        let mut items: Vec<(CompactString, CompactString)> = Vec::new();
        for (k, v) in pairs {
            let (k, v) = (CompactString::new(k.as_ref()), CompactString::new(v.as_ref()));
            match items.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => items.push((k, v)),
            }
        }
        items.sort();
        Labels(items.into_boxed_slice())
    }

    /// The value of a label.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|i| self.0[i].1.as_str())
    }

    /// Iterates over `(key, value)` pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether every pair of `selector` is present here (an empty selector matches all).
    pub fn matches(&self, selector: &Labels) -> bool {
        selector.iter().all(|(k, v)| self.get(k) == Some(v))
    }
}

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
        let map = std::collections::BTreeMap::<String, String>::deserialize(d)?;
        Ok(Labels::from_pairs(map))
    }
}

impl schemars::JsonSchema for Labels {
    fn schema_name() -> Cow<'static, str> {
        "Labels".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "String keys and values, as Kubernetes labels",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_quantities_parse() {
        assert_eq!(parse_bytes("16Gi"), Some(16 << 30));
        assert_eq!(parse_bytes("512Mi"), Some(512 << 20));
        assert_eq!(parse_bytes("1G"), Some(1_000_000_000));
        assert_eq!(parse_bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(parse_bytes("12"), Some(12));
        assert_eq!(parse_bytes("12 bananas"), None);
        assert_eq!(parse_bytes("-1Gi"), None);
    }

    #[test]
    fn sizes_print_as_exact_quantities_and_read_back() {
        for bytes in [16u64 << 30, 15200 << 20, 3 << 29, 1536, 1000, 0] {
            let text = serde_json::to_string(&Bytes(bytes)).unwrap();
            assert_eq!(serde_json::from_str::<Bytes>(&text).unwrap(), Bytes(bytes), "{text}");
        }
        assert_eq!(serde_json::to_string(&Bytes(16 << 30)).unwrap(), "\"16Gi\"");
        assert_eq!(serde_json::to_string(&Bytes(1000)).unwrap(), "1000");
    }

    #[test]
    fn core_quantities_parse() {
        assert_eq!(parse_cores("500m"), Some(0.5));
        assert_eq!(parse_cores("2"), Some(2.0));
        assert_eq!(parse_cores("x"), None);
        assert_eq!(parse_cores("-1"), None);
    }

    #[test]
    fn quantities_deserialise_from_json_numbers_and_strings() {
        let b: Bytes = serde_json::from_str("\"4Gi\"").unwrap();
        assert_eq!(b, Bytes(4 << 30));
        let b: Bytes = serde_json::from_str("1024").unwrap();
        assert_eq!(b, Bytes(1024));
        assert!(serde_json::from_str::<Bytes>("-5").is_err());
        assert!(serde_json::from_str::<Bytes>("1.5").is_err());
        let c: Cores = serde_json::from_str("\"250m\"").unwrap();
        assert_eq!(c, Cores(0.25));
    }

    #[test]
    fn labels_match_selectors() {
        let labels = Labels::from_pairs([("app", "cart"), ("tier", "backend")]);
        assert!(labels.matches(&Labels::from_pairs([("app", "cart")])));
        assert!(!labels.matches(&Labels::from_pairs([("app", "checkout")])));
        assert!(labels.matches(&Labels::default()));
        assert_eq!(labels.get("tier"), Some("backend"));
    }
}

/// An IPv4 or IPv6 address block (`10.0.0.0/16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cidr(pub ipnet::IpNet);

impl Cidr {
    /// Whether `other` lies wholly inside this block.
    pub fn contains(&self, other: &Cidr) -> bool {
        self.0.contains(&other.0)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Cidr {
    type Err = ipnet::AddrParseError;
    fn from_str(text: &str) -> Result<Cidr, Self::Err> {
        text.parse().map(Cidr)
    }
}

impl schemars::JsonSchema for Cidr {
    fn schema_name() -> Cow<'static, str> {
        "Cidr".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An address block in CIDR notation, such as 10.0.0.0/16",
        })
    }
}

/// Parses a duration: `90`, `90s`, `250ms`, `5m`, `1h`, `2d`, `1w` (seconds when no unit).
pub fn parse_duration(text: &str) -> std::result::Result<f64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("`{text}`: expected a duration such as 90s, 5m, 1h"))?;
    let factor = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => return Err(format!("`{text}`: unknown unit `{unit}`; expected ms, s, m, h, d or w")),
    };
    let seconds = number * factor;
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("`{text}`: expected a duration above 0"));
    }
    Ok(seconds)
}
