//! A borrowed reader of the remote-write 1.0 wire format: it walks a decompressed
//! `WriteRequest` series by series, handing out label names and values as slices of the
//! body and samples as plain values, so a request costs no allocation per series or label
//! (decoding into the prost structs costs two `Vec`s and seven `Bytes` handles a series).
//! It accepts and refuses the same bodies as the prost decoder (a property test checks
//! it): unknown fields of any wire type are skipped, groups included; the last occurrence
//! of a scalar field wins.

/// Why a body is not a `WriteRequest`: what failed, and the byte offset where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError {
    /// Byte offset in the decompressed body.
    pub(crate) offset: usize,
    /// What was wrong there.
    pub(crate) what: &'static str,
    /// The message being read (`series 12, label 3`).
    pub(crate) path: String,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)?;
        if !self.path.is_empty() {
            write!(f, " (in {})", self.path)?;
        }
        Ok(())
    }
}

/// A failure before its path is known: the offset and what.
type Fail = (usize, &'static str);

/// Groups may nest this deep in skipped fields (prost's recursion limit).
const MAX_DEPTH: u32 = 100;

/// One field's value, by wire type.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
    Group,
}

/// A cursor over one message's bytes; offsets are kept relative to the whole body.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the body.
    base: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], base: usize) -> Cursor<'a> {
        Cursor { buf, pos: 0, base }
    }

    fn at(&self) -> usize {
        self.base + self.pos
    }

    fn varint(&mut self) -> Result<u64, Fail> {
        let start = self.at();
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err((start, "truncated varint"));
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err((start, "invalid varint (over 64 bits)"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err((start, "invalid varint (over 64 bits)"))
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Fail> {
        let start = self.at();
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len()).ok_or((start, what))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// The next field's number and value, `None` at the end of the message; a group is
    /// skipped whole. `Err` with the field number 0 for an end-group marker.
    fn field(&mut self, depth: u32) -> Result<Option<(u32, Value<'a>)>, Fail> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let start = self.at();
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err((start, "invalid field key"));
        }
        let number = (key >> 3) as u32;
        let wire = key & 7;
        if wire > 5 {
            return Err((start, "invalid wire type"));
        }
        if number == 0 {
            return Err((start, "invalid field number 0"));
        }
        let value = match wire {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.fixed::<8>()?)),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| (start, "length beyond the body"))?;
                let bytes = self.take(len, "length-delimited field beyond the end of its message");
                Value::Bytes(bytes.map_err(|(_, what)| (start, what))?)
            }
            3 => {
                self.skip_group(number, depth + 1, start)?;
                Value::Group
            }
            4 => return Err((start, "end of a group that was not started")),
            _ => {
                self.fixed::<4>()?;
                Value::Fixed32
            }
        };
        Ok(Some((number, value)))
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Fail> {
        let bytes = self.take(N, "truncated fixed-width field")?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn skip_group(&mut self, number: u32, depth: u32, start: usize) -> Result<(), Fail> {
        if depth > MAX_DEPTH {
            return Err((start, "groups nested too deep"));
        }
        loop {
            if self.pos == self.buf.len() {
                return Err((start, "group without its end"));
            }
            let (at, before) = (self.at(), self.pos);
            let key = self.varint()?;
            if key & 7 == 4 {
                if key > u64::from(u32::MAX) || (key >> 3) as u32 != number {
                    return Err((at, "end of a group that was not started"));
                }
                return Ok(());
            }
            // Not the end: read the field from its key again.
            self.pos = before;
            self.field(depth)?;
        }
    }
}

/// One series of a request, borrowed from the body.
#[derive(Debug, Default)]
pub(crate) struct SeriesRef<'a> {
    /// Label names and values, in the order sent.
    pub(crate) labels: Vec<(&'a [u8], &'a [u8])>,
    /// Sample values and timestamps (milliseconds).
    pub(crate) samples: Vec<(f64, i64)>,
}

impl<'a> SeriesRef<'a> {
    /// The value of the first label named `name`.
    pub(crate) fn label(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.labels.iter().find(|l| l.0 == name).map(|l| l.1)
    }
}

/// Walks the series of a decompressed `WriteRequest`, calling `each` with every series (the
/// same `SeriesRef`, refilled). The whole body is checked: an error anywhere stops the
/// walk, and the caller must then drop what `each` gathered.
pub(crate) fn for_each_series<'a>(body: &'a [u8], mut each: impl FnMut(&SeriesRef<'a>)) -> Result<(), WireError> {
    let mut request = Cursor::new(body, 0);
    let mut series = SeriesRef::default();
    let mut index = 0usize;
    loop {
        let field = request.field(0).map_err(|(offset, what)| WireError { offset, what, path: String::new() })?;
        let Some((number, value)) = field else { return Ok(()) };
        if number != 1 {
            continue;
        }
        let Value::Bytes(bytes) = value else {
            return Err(WireError {
                offset: request.at(),
                what: "series field of the wrong wire type",
                path: String::new(),
            });
        };
        let base = request.at() - bytes.len();
        read_series(bytes, base, &mut series).map_err(|(offset, what, part)| WireError {
            offset,
            what,
            path: format!("series {index}{part}"),
        })?;
        each(&series);
        index += 1;
    }
}

/// Reads one `TimeSeries` into `out` (cleared first). Errors carry which label or sample.
fn read_series<'a>(bytes: &'a [u8], base: usize, out: &mut SeriesRef<'a>) -> Result<(), (usize, &'static str, String)> {
    out.labels.clear();
    out.samples.clear();
    let mut cursor = Cursor::new(bytes, base);
    let plain = |(offset, what): Fail| (offset, what, String::new());
    while let Some((number, value)) = cursor.field(0).map_err(plain)? {
        if number != 1 && number != 2 {
            continue;
        }
        let Value::Bytes(inner) = value else {
            let what =
                if number == 1 { "label field of the wrong wire type" } else { "sample field of the wrong wire type" };
            return Err((cursor.at(), what, String::new()));
        };
        let at = cursor.at() - inner.len();
        if number == 1 {
            let label = read_label(inner, at).map_err(|(o, w)| (o, w, format!(", label {}", out.labels.len())))?;
            out.labels.push(label);
        } else {
            let sample = read_sample(inner, at).map_err(|(o, w)| (o, w, format!(", sample {}", out.samples.len())))?;
            out.samples.push(sample);
        }
    }
    Ok(())
}

fn read_label(bytes: &[u8], base: usize) -> Result<(&[u8], &[u8]), Fail> {
    let mut cursor = Cursor::new(bytes, base);
    let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
    while let Some((number, field)) = cursor.field(0)? {
        if number > 2 {
            continue;
        }
        let Value::Bytes(text) = field else {
            return Err((cursor.at(), "label name or value of the wrong wire type"));
        };
        if number == 1 {
            name = text;
        } else {
            value = text;
        }
    }
    Ok((name, value))
}

fn read_sample(bytes: &[u8], base: usize) -> Result<(f64, i64), Fail> {
    let mut cursor = Cursor::new(bytes, base);
    let (mut value, mut timestamp) = (0.0, 0i64);
    while let Some((number, field)) = cursor.field(0)? {
        match (number, field) {
            (1, Value::Fixed64(bits)) => value = f64::from_bits(bits),
            (2, Value::Varint(v)) => timestamp = v as i64,
            (1 | 2, _) => return Err((cursor.at(), "sample value or timestamp of the wrong wire type")),
            _ => {}
        }
    }
    Ok((value, timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prometheus::remote_write::{Label, Sample, TimeSeries, WriteRequest};
    use proptest::prelude::*;
    use prost::Message;

    /// A series as owned values: labels, and samples with the value's bits.
    type Owned = (Vec<(Vec<u8>, Vec<u8>)>, Vec<(u64, i64)>);

    /// What the reader gives, as owned values to compare with prost's.
    fn ours(body: &[u8]) -> Result<Vec<Owned>, WireError> {
        let mut all = Vec::new();
        for_each_series(body, |s| {
            let labels = s.labels.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
            let samples = s.samples.iter().map(|(v, t)| (v.to_bits(), *t)).collect();
            all.push((labels, samples));
        })?;
        Ok(all)
    }

    fn theirs(body: &[u8]) -> Option<Vec<Owned>> {
        let request = WriteRequest::decode(body).ok()?;
        Some(
            request
                .timeseries
                .iter()
                .map(|s| {
                    let labels = s.labels.iter().map(|l| (l.name.to_vec(), l.value.to_vec())).collect();
                    let samples = s.samples.iter().map(|x| (x.value.to_bits(), x.timestamp)).collect();
                    (labels, samples)
                })
                .collect(),
        )
    }

    fn request() -> impl Strategy<Value = WriteRequest> {
        let label = ("[a-z_]{0,6}", "[ -~]{0,8}").prop_map(|(n, v)| Label::new(&n, &v));
        let sample = (any::<f64>(), any::<i64>()).prop_map(|(value, timestamp)| Sample { value, timestamp });
        let series = (proptest::collection::vec(label, 0..5), proptest::collection::vec(sample, 0..4))
            .prop_map(|(labels, samples)| TimeSeries { labels, samples });
        proptest::collection::vec(series, 0..6).prop_map(|timeseries| WriteRequest { timeseries })
    }

    proptest! {
        /// Encoded by prost, read back the same.
        #[test]
        fn reads_what_prost_writes(request in request()) {
            let body = request.encode_to_vec();
            prop_assert_eq!(ours(&body).ok(), theirs(&body));
        }

        /// On any bytes, and on any prefix or one-byte change of a valid body: no panic, and
        /// the same verdict and content as prost's decoder.
        #[test]
        fn agrees_with_prost_on_damaged_bodies(request in request(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>(), noise in proptest::collection::vec(any::<u8>(), 0..64)) {
            let body = request.encode_to_vec();
            let truncated = &body[..cut.index(body.len() + 1)];
            prop_assert_eq!(ours(truncated).ok(), theirs(truncated));
            let mut changed = body.clone();
            if !changed.is_empty() {
                let at = flip.0.index(changed.len());
                changed[at] ^= flip.1;
            }
            prop_assert_eq!(ours(&changed).ok(), theirs(&changed));
            prop_assert_eq!(ours(&noise).ok(), theirs(&noise));
        }
    }

    #[test]
    fn errors_say_where() {
        let first = TimeSeries { labels: vec![Label::new("__name__", "up")], samples: vec![] };
        let mut body = WriteRequest { timeseries: vec![first] }.encode_to_vec();
        let at = body.len();
        // A second series whose first label says its name (at + 4) is 5 bytes in a 3-byte label.
        body.extend_from_slice(&[0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x05, b'a']);
        let err = ours(&body).unwrap_err();
        assert_eq!((err.path.as_str(), err.offset), ("series 1, label 0", at + 4), "{err}");
        assert!(err.to_string().contains("beyond the end of its message"), "{err}");
        // Cut short: the series' own length runs past the body.
        let err = ours(&body[..body.len() - 2]).unwrap_err();
        assert_eq!((err.path.as_str(), err.offset), ("", at), "{err}");
    }

    #[test]
    fn unknown_fields_and_groups_are_skipped() {
        // Field 9 as a group holding a varint, then field 1 (a series with one label).
        let mut body = vec![(9 << 3) | 3, (1 << 3), 0x05, (9 << 3) | 4];
        let series = TimeSeries { labels: vec![Label::new("a", "b")], samples: vec![] };
        WriteRequest { timeseries: vec![series] }.encode(&mut body).unwrap();
        assert_eq!(ours(&body).unwrap(), theirs(&body).unwrap());
        assert_eq!(ours(&body).unwrap()[0].0, vec![(b"a".to_vec(), b"b".to_vec())]);
    }
}
