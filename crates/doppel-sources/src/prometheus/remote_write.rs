//! Prometheus remote-write 1.0: a snappy-compressed protobuf `WriteRequest` decoded and
//! mapped through the bindings that name a `metric`. Bounded: the body and its decompressed
//! size are checked against limits before anything is allocated for them.

use super::wire::{SeriesRef, for_each_series};
use super::{Binding, Bindings, Targets, WarningTally, attribute};
use crate::{SeriesSample, Warning, WarningKind};
use doppel_model::Key;
use foldhash::HashMap;
use prost::Message;
use prost::bytes::Bytes;
use std::sync::{Arc, Mutex, MutexGuard};

/// The request: time series, each with its labels and samples. (Written here from the
/// remote-write 1.0 wire format; fields Doppel does not read are skipped by the decoder.)
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One series of a request.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Its labels, `__name__` (the metric) among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Its samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// A label: name and value, UTF-8 on the wire (checked where used).
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// The name.
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    /// The value.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

impl Label {
    /// A label from its name and value.
    pub fn new(name: &str, value: &str) -> Label {
        Label { name: Bytes::copy_from_slice(name.as_bytes()), value: Bytes::copy_from_slice(value.as_bytes()) }
    }
}

/// One sample.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// How much a request may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The compressed body, bytes.
    pub max_body_bytes: usize,
    /// The body once decompressed, bytes.
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_body_bytes: 16 << 20, max_decoded_bytes: 64 << 20 }
    }
}

/// Why a remote-write request was refused. Nothing of it was kept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteWriteError {
    /// The body (or its decompressed form) is over the limit.
    #[error("remote-write: the {what} is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// `request body` or `decompressed body`.
        what: &'static str,
        /// Its size, or a lower bound when it was not read whole.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The content type is not protobuf.
    #[error("remote-write: content type `{found}`; expected application/x-protobuf")]
    ContentType {
        /// What the request said.
        found: String,
    },
    /// The content encoding is not snappy.
    #[error("remote-write: content encoding `{found}`; expected snappy")]
    Encoding {
        /// What the request said.
        found: String,
    },
    /// The body is not valid snappy (block format).
    #[error("remote-write: the body is not snappy-compressed data: {message}")]
    Snappy {
        /// The decoder's reason.
        message: String,
    },
    /// The decompressed body is not a `WriteRequest`.
    #[error("remote-write: the body is not a protobuf WriteRequest (malformed or truncated): {message}")]
    Protobuf {
        /// The decoder's reason.
        message: String,
    },
}

impl RemoteWriteError {
    /// The HTTP status that answers it.
    pub fn status(&self) -> u16 {
        match self {
            RemoteWriteError::TooLarge { .. } => 413,
            RemoteWriteError::ContentType { .. } | RemoteWriteError::Encoding { .. } => 415,
            RemoteWriteError::Snappy { .. } | RemoteWriteError::Protobuf { .. } => 400,
        }
    }
}

/// Checks a request's headers: protobuf content, snappy encoding (when said).
pub fn check_headers(content_type: Option<&str>, content_encoding: Option<&str>) -> Result<(), RemoteWriteError> {
    let found = content_type.unwrap_or("");
    let media = found.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        let found = if found.is_empty() { "(none)".to_string() } else { found.to_string() };
        return Err(RemoteWriteError::ContentType { found });
    }
    if let Some(encoding) = content_encoding
        && !encoding.trim().eq_ignore_ascii_case("snappy")
    {
        return Err(RemoteWriteError::Encoding { found: encoding.to_string() });
    }
    Ok(())
}

/// Decompresses a request body within `limits`.
fn decompress(body: &[u8], limits: Limits) -> Result<Vec<u8>, RemoteWriteError> {
    if body.len() > limits.max_body_bytes {
        return Err(RemoteWriteError::TooLarge {
            what: "request body",
            size: body.len() as u64,
            limit: limits.max_body_bytes as u64,
        });
    }
    let size = snap::raw::decompress_len(body).map_err(|e| RemoteWriteError::Snappy { message: e.to_string() })?;
    if size > limits.max_decoded_bytes {
        return Err(RemoteWriteError::TooLarge {
            what: "decompressed body",
            size: size as u64,
            limit: limits.max_decoded_bytes as u64,
        });
    }
    snap::raw::Decoder::new().decompress_vec(body).map_err(|e| RemoteWriteError::Snappy { message: e.to_string() })
}

/// Decompresses and decodes a request body within `limits` into owned messages.
/// [`Receiver::ingest`] reads bodies without building these.
pub fn decode(body: &[u8], limits: Limits) -> Result<WriteRequest, RemoteWriteError> {
    let raw = decompress(body, limits)?;
    WriteRequest::decode(Bytes::from(raw)).map_err(|e| RemoteWriteError::Protobuf { message: e.to_string() })
}

/// Encodes a request as a remote-write body (protobuf, snappy): for tests and benchmarks.
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    let raw = request.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).unwrap_or_default()
}

/// What one request gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ingested {
    /// Samples bound to entities.
    pub samples: Vec<SeriesSample>,
    /// Series that a binding matched but whose entity is not in the twin, and the like.
    pub warnings: Vec<Warning>,
    /// Series in the request.
    pub series_in: usize,
    /// Samples in the request.
    pub samples_in: usize,
    /// Series no binding names (their metric or labels match none): ignored.
    pub unbound_series: usize,
    /// Samples that were NaN or infinite (staleness markers among them): not kept.
    pub not_numbers: usize,
}

/// What binding a request gathers: the result, warnings, and resolutions cached per
/// (binding, entity text, endpoint text) within the request.
struct Binder<'c> {
    out: Ingested,
    tally: WarningTally,
    cache: MutexGuard<'c, HashMap<Vec<u8>, Resolved>>,
    entity_text: String,
    endpoint_text: String,
    cache_key: Vec<u8>,
}

impl Binder<'_> {
    fn finish(mut self) -> Ingested {
        self.out.warnings = self.tally.finish();
        self.out
    }
}

/// The remote-write receiver: the bindings that name a metric, and the twin's keys.
#[derive(Debug, Clone)]
pub struct Receiver {
    bindings: Vec<Binding>,
    by_metric: HashMap<Vec<u8>, Vec<usize>>,
    targets: Targets,
    limits: Limits,
    cache: Arc<Mutex<HashMap<Vec<u8>, Resolved>>>,
}

/// A cached resolution of (binding, entity text, endpoint text).
type Resolved = Result<(Key, Arc<str>), (WarningKind, String, String)>;

/// Resolutions kept between requests: the receiver's targets never change, so neither do
/// they. Emptied when it holds this many, which bounds its memory.
const CACHE_LIMIT: usize = 1 << 16;

impl Receiver {
    /// A receiver for the bindings with a `metric`, matching entities of `targets`.
    pub fn new(bindings: &Bindings, targets: Targets, limits: Limits) -> Receiver {
        let bindings: Vec<Binding> = bindings.bindings.iter().filter(|b| b.metric.is_some()).cloned().collect();
        let mut by_metric: HashMap<Vec<u8>, Vec<usize>> = HashMap::default();
        for (i, binding) in bindings.iter().enumerate() {
            if let Some(metric) = &binding.metric {
                by_metric.entry(metric.as_bytes().to_vec()).or_default().push(i);
            }
        }
        Receiver { bindings, by_metric, targets, limits, cache: Arc::default() }
    }

    /// The limits it enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many bindings it applies.
    pub fn binding_count(&self) -> usize {
        self.bindings.len()
    }

    /// Decodes a body and binds its series, reading labels in place (no copy, no
    /// allocation per series). A malformed body anywhere gives an error and nothing else.
    pub fn ingest(&self, body: &[u8]) -> Result<Ingested, RemoteWriteError> {
        let raw = decompress(body, self.limits)?;
        let mut binder = self.binder();
        for_each_series(&raw, |series| self.bind_one(series, &mut binder))
            .map_err(|e| RemoteWriteError::Protobuf { message: e.to_string() })?;
        Ok(binder.finish())
    }

    /// Binds a decoded request's series onto entities.
    pub fn bind(&self, request: &WriteRequest) -> Ingested {
        let mut binder = self.binder();
        let mut view = SeriesRef::default();
        for series in &request.timeseries {
            view.labels.clear();
            view.labels.extend(series.labels.iter().map(|l| (l.name.as_ref(), l.value.as_ref())));
            view.samples.clear();
            view.samples.extend(series.samples.iter().map(|s| (s.value, s.timestamp)));
            self.bind_one(&view, &mut binder);
        }
        binder.finish()
    }

    /// A binder for one request, holding the cache (other requests wait for it).
    fn binder(&self) -> Binder<'_> {
        // A panic elsewhere while it was held leaves only complete entries in it.
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        Binder {
            out: Ingested::default(),
            tally: WarningTally::default(),
            cache,
            entity_text: String::new(),
            endpoint_text: String::new(),
            cache_key: Vec::new(),
        }
    }

    /// Binds one series: each binding of its metric whose labels it has.
    fn bind_one(&self, series: &SeriesRef<'_>, b: &mut Binder) {
        let out = &mut b.out;
        out.series_in += 1;
        out.samples_in += series.samples.len();
        let label = |name: &str| series.label(name.as_bytes()).and_then(|v| std::str::from_utf8(v).ok());
        let Some(list) = series.label(b"__name__").and_then(|m| self.by_metric.get(m)) else {
            out.unbound_series += 1;
            return;
        };
        let mut bound = false;
        for &index in list {
            let binding = &self.bindings[index];
            if !binding.labels.iter().all(|(name, value)| label(name) == Some(value.as_str())) {
                continue;
            }
            bound = true;
            let n = series.samples.len();
            let Some(template) = &binding.entity else { continue };
            if let Err(missing) = template.render_into(&mut b.entity_text, label) {
                b.tally.add(binding, WarningKind::Unresolved, format!("no label `{missing}`"), n, || {
                    format!("a series has no label `{missing}` for the entity template; skipped")
                });
                continue;
            }
            b.endpoint_text.clear();
            if let Some(template) = &binding.endpoint
                && let Err(missing) = template.render_into(&mut b.endpoint_text, label)
            {
                let entity_text = &b.entity_text;
                b.tally.add(binding, WarningKind::Unresolved, format!("no label `{missing}`"), n, || {
                    format!("a series of {entity_text} has no label `{missing}` for the endpoint template; skipped")
                });
                continue;
            }
            b.cache_key.clear();
            for part in [&index.to_le_bytes()[..], b"\0", b.entity_text.as_bytes(), b"\0", b.endpoint_text.as_bytes()] {
                b.cache_key.extend_from_slice(part);
            }
            let resolved = match b.cache.get(&b.cache_key) {
                Some(resolved) => resolved,
                None => {
                    let resolved = self.resolve(&b.entity_text, &b.endpoint_text, binding);
                    b.cache.entry(b.cache_key.clone()).or_insert(resolved)
                }
            };
            match resolved {
                Ok((key, attribute)) => {
                    for &(value, ts_ms) in &series.samples {
                        let value = value * binding.scale;
                        if !value.is_finite() {
                            b.out.not_numbers += 1;
                            continue;
                        }
                        b.out.samples.push(SeriesSample {
                            entity: key.clone(),
                            attribute: attribute.clone(),
                            ts_ms,
                            value,
                        });
                    }
                }
                Err((kind, subject, message)) => {
                    b.tally.add(binding, *kind, subject.clone(), n, || message.clone());
                }
            }
        }
        if !bound {
            b.out.unbound_series += 1;
        }
    }

    fn resolve(&self, entity_text: &str, endpoint_text: &str, binding: &Binding) -> Resolved {
        let key: Key = entity_text.parse().map_err(|e| {
            (
                WarningKind::Unresolved,
                entity_text.to_string(),
                format!("`{entity_text}` is not an entity key ({e}); skipped"),
            )
        })?;
        if !self.targets.contains(&key) {
            return Err((
                WarningKind::Unresolved,
                key.to_string(),
                format!("{key} matches no entity in the twin; skipped"),
            ));
        }
        let endpoint = binding.endpoint.as_ref().map(|_| endpoint_text);
        Ok((key, attribute(&binding.series, endpoint).into()))
    }
}
