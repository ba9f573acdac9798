//! A YAML (or JSON) document as a tree of values, each with the line and column it
//! starts at. Built from the parser's events with limits on depth and alias expansion,
//! so hostile input cannot exhaust memory or the stack.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// A value with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

/// A YAML value resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// Text.
    Str(String),
    /// A list.
    Seq(Vec<Node>),
    /// A map, in document order.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What kind of value this is, for messages ("a list", "a number").
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

impl Node {
    /// The entries of a map node.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The text of a string node.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar rendered as text (labels accept `version: 2` as "2").
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The value at a dotted path (`template.requests.cpu`, `endpoints.0.slo`), or the
    /// deepest node on the way when the path goes further than the document.
    pub fn locate(&self, path: &str) -> &Node {
        let mut node = self;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let next = match &node.value {
                Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(part)).map(|(_, v)| v),
                Value::Seq(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(next) => node = next,
                None => break,
            }
        }
        node
    }

    /// The key node of a map entry named `field`, for pointing at misspelt keys.
    pub fn key_of(&self, field: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(field)).map(|(k, _)| k)
    }

    /// Converts to JSON; non-finite floats have no JSON form and become null.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or_default(),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => serde_json::Value::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_else(|| "?".to_string()), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Why a document could not be read as YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
    /// What the parser expected.
    pub message: String,
}

/// Deepest nesting accepted; estate documents need far less.
const MAX_DEPTH: usize = 200;
/// Most nodes that alias expansion may create in one file (defeats "billion laughs").
const MAX_ALIAS_NODES: usize = 1_000_000;

enum Frame {
    Seq { anchor: usize, items: Vec<Node>, streamed: usize, line: u32, col: u32 },
    Map { anchor: usize, entries: Vec<(Node, Node)>, pending_key: Option<Node>, line: u32, col: u32 },
}

/// What [`parse_stream`] hands over, in document order.
#[derive(Debug)]
pub enum Streamed {
    /// An item of a list that is the value of a top-level key (`entities:`), as soon as it
    /// is complete. Its list in the [`Streamed::Document`] that follows stays empty.
    Item {
        /// Index of the document in the text, counting empty ones.
        doc: u32,
        /// The top-level key (`entities`, `relations`).
        section: String,
        /// Position in the list.
        index: usize,
        /// The item.
        node: Node,
    },
    /// A whole document, without the streamed items.
    Document {
        /// Index of the document in the text.
        doc: u32,
        /// The document.
        node: Node,
    },
}

/// Parses every document of a YAML or JSON text. Empty documents are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut documents = Vec::new();
    build(text, false, &mut |streamed| {
        if let Streamed::Document { node, .. } = streamed {
            documents.push(node);
        }
    })?;
    Ok(documents.into_iter().filter(|d| d.value != Value::Null).collect())
}

/// Parses a text, handing over the items of top-level lists one at a time, so that only
/// one item's tree is held at once however long the file is. `json` selects the strict
/// JSON reader (for `.json` files); otherwise the text is YAML (which includes JSON).
pub fn parse_stream(text: &str, json: bool, sink: &mut dyn FnMut(Streamed)) -> Result<(), SyntaxError> {
    if json { crate::json::parse(text, true, sink) } else { build(text, true, sink) }
}

fn build(text: &str, stream_items: bool, sink: &mut dyn FnMut(Streamed)) -> Result<(), SyntaxError> {
    let mut doc_index: u32 = 0;
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut alias_budget = MAX_ALIAS_NODES;
    let mut root: Option<Node> = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line() as u32,
            col: e.marker().col() as u32 + 1,
            message: e.info().to_string(),
        })?;
        let (line, col) = (span.start.line() as u32, span.start.col() as u32 + 1);
        let finished: Option<(Node, usize)> = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let explicit_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == ScalarStyle::Plain && !explicit_str {
                    resolve_plain(&text)
                } else {
                    Value::Str(text.into_owned())
                };
                Some((Node { value, line, col }, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError { line, col, message: format!("nested deeper than {MAX_DEPTH} levels") });
                }
                stack.push(Frame::Seq { anchor, items: Vec::new(), streamed: 0, line, col });
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError { line, col, message: format!("nested deeper than {MAX_DEPTH} levels") });
                }
                stack.push(Frame::Map { anchor, entries: Vec::new(), pending_key: None, line, col });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { anchor, items, line, col, .. }) => {
                    Some((Node { value: Value::Seq(items), line, col }, anchor))
                }
                _ => {
                    return Err(SyntaxError { line, col, message: "unbalanced sequence end".into() });
                }
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { anchor, entries, line, col, .. }) => {
                    Some((Node { value: Value::Map(entries), line, col }, anchor))
                }
                _ => {
                    return Err(SyntaxError { line, col, message: "unbalanced mapping end".into() });
                }
            },
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(SyntaxError { line, col, message: "alias to an unknown anchor".into() });
                };
                let size = count_nodes(target);
                if size > alias_budget {
                    return Err(SyntaxError {
                        line,
                        col,
                        message: format!("aliases expand to more than {MAX_ALIAS_NODES} values; refusing to expand"),
                    });
                }
                alias_budget -= size;
                let mut copy = target.clone();
                copy.line = line;
                copy.col = col;
                Some((copy, 0))
            }
            Event::DocumentStart(_) => {
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                if let Some(node) = root.take() {
                    sink(Streamed::Document { doc: doc_index, node });
                }
                doc_index += 1;
                None
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
        };
        if let Some((node, anchor)) = finished {
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            // An item of a top-level list is handed over at once instead of kept.
            if stream_items
                && let [Frame::Map { pending_key: Some(key), .. }, Frame::Seq { streamed, .. }] = stack.as_mut_slice()
            {
                let section = key.scalar_text().unwrap_or_default();
                sink(Streamed::Item { doc: doc_index, section, index: *streamed, node });
                *streamed += 1;
                continue;
            }
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { entries, pending_key, .. }) => match pending_key.take() {
                    None => {
                        if !matches!(
                            node.value,
                            Value::Str(_) | Value::Int(_) | Value::Bool(_) | Value::Float(_) | Value::Null
                        ) {
                            return Err(SyntaxError {
                                line: node.line,
                                col: node.col,
                                message: format!("a map key must be a plain value, not {}", node.value.describe()),
                            });
                        }
                        let name = node.scalar_text().unwrap_or_default();
                        if let Some((first, _)) =
                            entries.iter().find(|(k, _)| k.scalar_text().as_deref() == Some(name.as_str()))
                        {
                            return Err(SyntaxError {
                                line: node.line,
                                col: node.col,
                                message: format!("duplicate key `{name}` (first given at line {})", first.line),
                            });
                        }
                        *pending_key = Some(node);
                    }
                    Some(key) => entries.push((key, node)),
                },
            }
        }
    }
    if let Some(node) = root.take() {
        sink(Streamed::Document { doc: doc_index, node });
    }
    Ok(())
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
pub(crate) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(v) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(v);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(v) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(v);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = text.parse::<i64>() {
            return Value::Int(v);
        }
        if let Ok(v) = text.parse::<f64>() {
            return Value::Float(v);
        }
    }
    let looks_numeric = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit())
        && !digits.starts_with(['e', 'E']);
    if looks_numeric && let Ok(v) = text.parse::<f64>() {
        return Value::Float(v);
    }
    Value::Str(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        parse_documents(text).unwrap().remove(0)
    }

    #[test]
    fn scalars_resolve_with_the_core_schema() {
        let doc = one("a: 1\nb: 1.5\nc: true\nd: ~\ne: hello\nf: '2'\ng: 1.29.0\nh: 1e3\n");
        let get = |k: &str| doc.locate(k).value.clone();
        assert_eq!(get("a"), Value::Int(1));
        assert_eq!(get("b"), Value::Float(1.5));
        assert_eq!(get("c"), Value::Bool(true));
        assert_eq!(get("d"), Value::Null);
        assert_eq!(get("e"), Value::Str("hello".into()));
        assert_eq!(get("f"), Value::Str("2".into()));
        assert_eq!(get("g"), Value::Str("1.29.0".into()));
        assert_eq!(get("h"), Value::Float(1000.0));
    }

    #[test]
    fn positions_are_one_based() {
        let doc = one("entities:\n  - kind: zone\n    name: a\n");
        let name = doc.locate("entities.0.name");
        assert_eq!((name.line, name.col), (3, 11));
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_lines() {
        let error = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.message.contains("first given at line 1"), "{}", error.message);
    }

    #[test]
    fn json_parses_too() {
        let doc = one(r#"{"entities": [{"kind": "zone", "name": "a"}]}"#);
        assert_eq!(doc.locate("entities.0.kind").as_str(), Some("zone"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut previous = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h'] {
            text.push_str(&format!("{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"));
            previous = name;
        }
        let error = parse_documents(&text).unwrap_err();
        assert!(error.message.contains("refusing to expand"), "{}", error.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(5000);
        assert!(parse_documents(&text).is_err());
    }

    #[test]
    fn several_documents() {
        let docs = parse_documents("a: 1\n---\nb: 2\n---\n").unwrap();
        assert_eq!(docs.len(), 2);
    }
}
