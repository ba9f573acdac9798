//! Prometheus remote-write 1.0: a snappy-compressed protobuf `WriteRequest` decoded and
//! mapped through the bindings that name a `metric`. Bounded: the body and its decompressed
//! size are checked against limits before anything is allocated for them.

use super::{Binding, Bindings, Targets, WarningTally, attribute};
use crate::{SeriesSample, Warning, WarningKind};
use doppel_model::Key;
use prost::Message;
use prost::bytes::Bytes;
use std::collections::HashMap;
use std::fmt::Write as _;

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

/// Decompresses and decodes a request body within `limits`.
pub fn decode(body: &[u8], limits: Limits) -> Result<WriteRequest, RemoteWriteError> {
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
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| RemoteWriteError::Snappy { message: e.to_string() })?;
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

/// The remote-write receiver: the bindings that name a metric, and the twin's keys.
#[derive(Debug, Clone)]
pub struct Receiver {
    bindings: Vec<Binding>,
    by_metric: HashMap<Vec<u8>, Vec<usize>>,
    targets: Targets,
    limits: Limits,
}

/// A cached resolution of (binding, entity text, endpoint text).
type Resolved = Result<(Key, String), (WarningKind, String, String)>;

impl Receiver {
    /// A receiver for the bindings with a `metric`, matching entities of `targets`.
    pub fn new(bindings: &Bindings, targets: Targets, limits: Limits) -> Receiver {
        let bindings: Vec<Binding> = bindings.bindings.iter().filter(|b| b.metric.is_some()).cloned().collect();
        let mut by_metric: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, binding) in bindings.iter().enumerate() {
            if let Some(metric) = &binding.metric {
                by_metric.entry(metric.as_bytes().to_vec()).or_default().push(i);
            }
        }
        Receiver { bindings, by_metric, targets, limits }
    }

    /// The limits it enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many bindings it applies.
    pub fn binding_count(&self) -> usize {
        self.bindings.len()
    }

    /// Decodes a body and binds its series.
    pub fn ingest(&self, body: &[u8]) -> Result<Ingested, RemoteWriteError> {
        let request = decode(body, self.limits)?;
        Ok(self.bind(&request))
    }

    /// Binds a decoded request's series onto entities.
    pub fn bind(&self, request: &WriteRequest) -> Ingested {
        let mut out = Ingested { series_in: request.timeseries.len(), ..Ingested::default() };
        let mut tally = WarningTally::default();
        let mut cache: HashMap<String, Resolved> = HashMap::new();
        let (mut entity_text, mut endpoint_text, mut cache_key) = (String::new(), String::new(), String::new());
        for series in &request.timeseries {
            out.samples_in += series.samples.len();
            let label = |name: &str| {
                series
                    .labels
                    .iter()
                    .find(|l| l.name.as_ref() == name.as_bytes())
                    .and_then(|l| std::str::from_utf8(&l.value).ok())
            };
            let metric = series.labels.iter().find(|l| l.name.as_ref() == b"__name__").map(|l| l.value.as_ref());
            let Some(list) = metric.and_then(|m| self.by_metric.get(m)) else {
                out.unbound_series += 1;
                continue;
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
                if let Err(missing) = template.render_into(&mut entity_text, label) {
                    tally.add(binding, WarningKind::Unresolved, format!("no label `{missing}`"), n, || {
                        format!("a series has no label `{missing}` for the entity template; skipped")
                    });
                    continue;
                }
                endpoint_text.clear();
                if let Some(template) = &binding.endpoint
                    && let Err(missing) = template.render_into(&mut endpoint_text, label)
                {
                    tally.add(binding, WarningKind::Unresolved, format!("no label `{missing}`"), n, || {
                        format!("a series of {entity_text} has no label `{missing}` for the endpoint template; skipped")
                    });
                    continue;
                }
                cache_key.clear();
                let _ = write!(cache_key, "{index}\u{0}{entity_text}\u{0}{endpoint_text}");
                let resolved = match cache.get(cache_key.as_str()) {
                    Some(resolved) => resolved,
                    None => {
                        let resolved = self.resolve(&entity_text, &endpoint_text, binding);
                        cache.entry(cache_key.clone()).or_insert(resolved)
                    }
                };
                match resolved {
                    Ok((key, attribute)) => {
                        for sample in &series.samples {
                            let value = sample.value * binding.scale;
                            if !value.is_finite() {
                                out.not_numbers += 1;
                                continue;
                            }
                            out.samples.push(SeriesSample {
                                entity: key.clone(),
                                attribute: attribute.clone(),
                                ts_ms: sample.timestamp,
                                value,
                            });
                        }
                    }
                    Err((kind, subject, message)) => {
                        tally.add(binding, *kind, subject.clone(), n, || message.clone());
                    }
                }
            }
            if !bound {
                out.unbound_series += 1;
            }
        }
        out.warnings = tally.finish();
        out
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
        Ok((key, attribute(&binding.series, endpoint)))
    }
}
