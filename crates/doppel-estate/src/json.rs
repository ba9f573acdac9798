//! A streaming JSON reader producing the same positioned [`Node`]s as the YAML path, for
//! `.json` estate files: one pass, items of top-level arrays handed over one at a time,
//! exact line and column for every value, a depth limit, and errors instead of panics.
//!
//! (The YAML parser reads JSON too, but buffers a whole flow collection; estates written
//! by tools are large JSON files, so they get this path.)

use crate::tree::{Node, Streamed, SyntaxError, Value};

const MAX_DEPTH: usize = 200;

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    line: u32,
    col: u32,
}

type Parsed<T> = Result<T, SyntaxError>;

/// Parses a JSON text, streaming the items of the top-level object's arrays to `sink`.
pub(crate) fn parse(text: &str, stream_items: bool, sink: &mut dyn FnMut(Streamed)) -> Parsed<()> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader { bytes: text.as_bytes(), text, at: 0, line: 1, col: 1 };
    reader.skip_space();
    if reader.at == reader.bytes.len() {
        return Ok(());
    }
    let root = if stream_items && reader.peek() == Some(b'{') {
        let (line, col) = (reader.line, reader.col);
        Node { value: reader.object(1, Some(sink))?, line, col }
    } else {
        reader.value(0)?
    };
    reader.skip_space();
    if reader.at < reader.bytes.len() {
        return Err(reader.error("unexpected text after the JSON value"));
    }
    sink(Streamed::Document { doc: 0, node: root });
    Ok(())
}

impl Reader<'_> {
    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError { line: self.line, col: self.col, message: message.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Moves past one byte, keeping line and column (in characters) current.
    fn bump(&mut self) {
        if let Some(&b) = self.bytes.get(self.at) {
            self.at += 1;
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                self.col += 1;
            }
        }
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Parsed<()> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.bump();
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", self.found())))
        }
    }

    fn found(&self) -> String {
        match self.text[self.at..].chars().next() {
            None => "the end of the file".to_string(),
            Some(c) => format!("`{c}`"),
        }
    }

    fn value(&mut self, depth: usize) -> Parsed<Node> {
        self.skip_space();
        let (line, col) = (self.line, self.col);
        let value = match self.peek() {
            Some(b'{') => self.object(depth + 1, None)?,
            Some(b'[') => self.array(depth + 1)?,
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.error(format!("expected a JSON value, found {}", self.found()))),
        };
        Ok(Node { value, line, col })
    }

    fn literal(&mut self, word: &str, value: Value) -> Parsed<Value> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            for _ in 0..word.len() {
                self.bump();
            }
            Ok(value)
        } else {
            Err(self.error(format!("expected a JSON value, found {}", self.found())))
        }
    }

    fn number(&mut self) -> Parsed<Value> {
        let start = self.at;
        let mut integral = true;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        let digits = |r: &mut Self| {
            let from = r.at;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.bump();
            }
            r.at > from
        };
        // JSON allows no leading zero: `0` stands alone before `.`, `e` or the end.
        if self.peek() == Some(b'0') {
            self.bump();
        } else if !digits(self) {
            return Err(self.error("expected digits in a number"));
        }
        if self.peek() == Some(b'.') {
            integral = false;
            self.bump();
            if !digits(self) {
                return Err(self.error("expected digits after the decimal point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integral = false;
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            if !digits(self) {
                return Err(self.error("expected digits in the exponent"));
            }
        }
        let text = &self.text[start..self.at];
        if integral && let Ok(v) = text.parse::<i64>() {
            return Ok(Value::Int(v));
        }
        text.parse::<f64>().map(Value::Float).map_err(|_| self.error(format!("`{text}` is not a number")))
    }

    fn string(&mut self) -> Parsed<String> {
        self.bump(); // the opening quote
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.bump();
            }
            out.push_str(&self.text[start..self.at]);
            match self.peek() {
                Some(b'"') => {
                    self.bump();
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.bump();
                    let escaped = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.bump();
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => {
                            return Err(
                                self.error(format!("`\\{}` is not a JSON escape", self.found().trim_matches('`')))
                            );
                        }
                    };
                    self.bump();
                    out.push(escaped);
                }
                Some(_) => return Err(self.error("a control character must be escaped inside a JSON string")),
                None => return Err(self.error("the file ends inside a string")),
            }
        }
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let digits =
            self.text.get(self.at..self.at + 4).ok_or_else(|| self.error("expected 4 hex digits after \\u"))?;
        let value = u32::from_str_radix(digits, 16).map_err(|_| self.error("expected 4 hex digits after \\u"))?;
        for _ in 0..4 {
            self.bump();
        }
        Ok(value)
    }

    fn unicode_escape(&mut self) -> Parsed<char> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.bytes[self.at..].starts_with(b"\\u") {
                return Err(self.error("a high surrogate must be followed by a low one"));
            }
            self.bump();
            self.bump();
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("a high surrogate must be followed by a low one"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("not a Unicode scalar value"))
    }

    fn array(&mut self, depth: usize) -> Parsed<Value> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.bump();
        let mut items = Vec::new();
        self.each_element(|r| {
            items.push(r.value(depth)?);
            Ok(())
        })?;
        Ok(Value::Seq(items))
    }

    /// Calls `element` for each element of an array whose `[` was consumed.
    fn each_element(&mut self, mut element: impl FnMut(&mut Self) -> Parsed<()>) -> Parsed<()> {
        self.skip_space();
        if self.peek() == Some(b']') {
            self.bump();
            return Ok(());
        }
        loop {
            element(self)?;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b']') => {
                    self.bump();
                    return Ok(());
                }
                _ => return Err(self.error(format!("expected `,` or `]` in a list, found {}", self.found()))),
            }
        }
    }

    /// Reads one `"key": value` pair's key, refusing keys already in `entries`.
    fn key(&mut self, entries: &[(Node, Node)]) -> Parsed<Node> {
        self.skip_space();
        let (line, col) = (self.line, self.col);
        if self.peek() != Some(b'"') {
            return Err(self.error(format!("expected a quoted key, found {}", self.found())));
        }
        let name = self.string()?;
        if let Some((first, _)) = entries.iter().find(|(k, _)| k.as_str() == Some(name.as_str())) {
            return Err(SyntaxError {
                line,
                col,
                message: format!("duplicate key `{name}` (first given at line {})", first.line),
            });
        }
        self.expect(b':', "`:` after a key")?;
        Ok(Node { value: Value::Str(name), line, col })
    }

    /// An object whose `{` is next. With `stream`, the items of arrays directly under its
    /// keys go to the sink one at a time (the top level of an estate file).
    fn object(&mut self, depth: usize, mut stream: Option<&mut dyn FnMut(Streamed)>) -> Parsed<Value> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.bump();
        let mut entries: Vec<(Node, Node)> = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.bump();
            return Ok(Value::Map(entries));
        }
        loop {
            let key = self.key(&entries)?;
            self.skip_space();
            let value = match stream.as_mut() {
                Some(sink) if self.peek() == Some(b'[') => {
                    let (line, col) = (self.line, self.col);
                    self.bump();
                    let section = key.scalar_text().unwrap_or_default();
                    let mut index = 0;
                    self.each_element(|r| {
                        let node = r.value(depth + 1)?;
                        sink(Streamed::Item { doc: 0, section: section.clone(), index, node });
                        index += 1;
                        Ok(())
                    })?;
                    Node { value: Value::Seq(Vec::new()), line, col }
                }
                _ => self.value(depth)?,
            };
            entries.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    return Ok(Value::Map(entries));
                }
                _ => return Err(self.error(format!("expected `,` or `}}` in an object, found {}", self.found()))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> Result<Node, SyntaxError> {
        let mut root = None;
        parse(text, false, &mut |s| {
            if let Streamed::Document { node, .. } = s {
                root = Some(node);
            }
        })?;
        Ok(root.unwrap_or(Node { value: Value::Null, line: 0, col: 0 }))
    }

    #[test]
    fn values_and_positions() {
        let doc = whole("{\n  \"a\": [1, -2.5e1, true, null],\n  \"é\": \"x\\u00e9\\ud83d\\ude00\\n\"\n}").unwrap();
        assert_eq!(doc.locate("a.1").value, Value::Float(-25.0));
        assert_eq!(doc.locate("a.0").value, Value::Int(1));
        assert_eq!((doc.locate("a.2").line, doc.locate("a.2").col), (2, 20));
        assert_eq!(doc.locate("é").as_str(), Some("xé😀\n"));
        assert_eq!((doc.locate("é").line, doc.locate("é").col), (3, 8));
    }

    #[test]
    fn errors_say_where_and_what() {
        for (text, line, col, needle) in [
            ("{\"a\": 1,}", 1, 9, "quoted key"),
            ("{\"a\": 1 \"b\": 2}", 1, 9, "`,` or `}`"),
            ("[1, 2", 1, 6, "`,` or `]`"),
            ("{\"a\": \"x", 1, 9, "ends inside a string"),
            ("{\"a\": 01}", 1, 8, "`,` or `}`"),
            ("{\"a\": 1, \"a\": 2}", 1, 10, "duplicate key `a`"),
            ("{\"a\": tru}", 1, 7, "JSON value"),
            ("{} x", 1, 4, "after the JSON value"),
        ] {
            let error = whole(text).unwrap_err();
            assert_eq!((error.line, error.col), (line, col), "{text}: {}", error.message);
            assert!(error.message.contains(needle), "{text}: {}", error.message);
        }
        assert!(whole(&"[".repeat(1000)).unwrap_err().message.contains("nested deeper"));
    }

    #[test]
    fn top_level_arrays_stream_their_items() {
        let mut items = Vec::new();
        let mut document = None;
        parse("{\"entities\": [{\"k\": 1}, {\"k\": 2}], \"x\": 3}", true, &mut |s| match s {
            Streamed::Item { section, index, node, .. } => items.push((section, index, node.locate("k").value.clone())),
            Streamed::Document { node, .. } => document = Some(node),
        })
        .unwrap();
        assert_eq!(items, vec![("entities".into(), 0, Value::Int(1)), ("entities".into(), 1, Value::Int(2))]);
        let document = document.unwrap();
        assert_eq!(document.locate("entities").value, Value::Seq(Vec::new()));
        assert_eq!(document.locate("x").value, Value::Int(3));
    }
}
