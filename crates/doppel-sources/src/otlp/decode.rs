//! OTLP/HTTP bodies to export requests: protobuf or JSON, plain or gzip, within limits.
//! Nothing is allocated for a body before its size is known to be within them.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::io::Read;

/// How large a request may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// The body as sent (compressed or not), bytes.
    pub max_body_bytes: usize,
    /// The body once decompressed, bytes.
    pub max_decoded_bytes: usize,
}

impl Default for BodyLimits {
    fn default() -> BodyLimits {
        BodyLimits { max_body_bytes: 16 << 20, max_decoded_bytes: 64 << 20 }
    }
}

/// How a body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP/JSON: hex ids, 64-bit numbers as strings or numbers).
    Json,
}

/// How a body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Not compressed.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
}

/// Why a request was refused. Nothing of it was kept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OtlpError {
    /// The body (or its decompressed form) is over the limit.
    #[error("the {what} is {size} bytes or more; the limit is {limit} bytes")]
    TooLarge {
        /// `request body` or `decompressed body`.
        what: &'static str,
        /// Its size, or a lower bound when it was not read whole.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The content type is neither protobuf nor JSON.
    #[error("content type `{found}`; expected application/x-protobuf or application/json")]
    ContentType {
        /// What the request said.
        found: String,
    },
    /// The content encoding is not one understood.
    #[error("content encoding `{found}`; expected gzip or none")]
    Encoding {
        /// What the request said.
        found: String,
    },
    /// The body says gzip but is not.
    #[error("the body is not gzip-compressed data: {message}")]
    Gzip {
        /// The decompressor's reason.
        message: String,
    },
    /// The body is not a protobuf `ExportTraceServiceRequest`.
    #[error("the body is not a protobuf ExportTraceServiceRequest (malformed or truncated): {message}")]
    Protobuf {
        /// The decoder's reason.
        message: String,
    },
    /// The body is not an OTLP/JSON `ExportTraceServiceRequest`.
    #[error("the body is not an OTLP/JSON ExportTraceServiceRequest: line {line}, column {column}: {message}")]
    Json {
        /// Line of the problem, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// The parser's reason.
        message: String,
    },
}

impl OtlpError {
    /// The HTTP status that answers it: 413, 415 or 400.
    pub fn status(&self) -> u16 {
        match self {
            OtlpError::TooLarge { .. } => 413,
            OtlpError::ContentType { .. } | OtlpError::Encoding { .. } => 415,
            OtlpError::Gzip { .. } | OtlpError::Protobuf { .. } | OtlpError::Json { .. } => 400,
        }
    }
}

/// Reads a request's content type and encoding.
pub fn check_headers(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<(Format, Encoding), OtlpError> {
    let found = content_type.unwrap_or("");
    let media = found.split(';').next().unwrap_or("").trim();
    let format = if media.eq_ignore_ascii_case("application/x-protobuf") {
        Format::Protobuf
    } else if media.eq_ignore_ascii_case("application/json") {
        Format::Json
    } else {
        let found = if found.is_empty() { "(none)".to_string() } else { found.to_string() };
        return Err(OtlpError::ContentType { found });
    };
    let encoding = match content_encoding.map(str::trim) {
        None | Some("") => Encoding::Identity,
        Some(e) if e.eq_ignore_ascii_case("identity") => Encoding::Identity,
        Some(e) if e.eq_ignore_ascii_case("gzip") => Encoding::Gzip,
        Some(e) => return Err(OtlpError::Encoding { found: e.to_string() }),
    };
    Ok((format, encoding))
}

/// Decompresses (when gzip) and decodes a body within `limits`.
pub fn decode(
    body: &[u8],
    format: Format,
    encoding: Encoding,
    limits: BodyLimits,
) -> Result<ExportTraceServiceRequest, OtlpError> {
    if body.len() > limits.max_body_bytes {
        return Err(OtlpError::TooLarge {
            what: "request body",
            size: body.len() as u64,
            limit: limits.max_body_bytes as u64,
        });
    }
    let inflated;
    let raw = match encoding {
        Encoding::Identity => body,
        Encoding::Gzip => {
            let mut out = Vec::new();
            let cap = limits.max_decoded_bytes as u64;
            flate2::read::GzDecoder::new(body)
                .take(cap + 1)
                .read_to_end(&mut out)
                .map_err(|e| OtlpError::Gzip { message: e.to_string() })?;
            if out.len() as u64 > cap {
                return Err(OtlpError::TooLarge { what: "decompressed body", size: cap + 1, limit: cap });
            }
            inflated = out;
            &inflated
        }
    };
    match format {
        Format::Protobuf => {
            ExportTraceServiceRequest::decode(raw).map_err(|e| OtlpError::Protobuf { message: e.to_string() })
        }
        Format::Json => serde_json::from_slice(raw).map_err(|e| OtlpError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_choose_format_and_encoding() {
        assert_eq!(check_headers(Some("application/x-protobuf"), None), Ok((Format::Protobuf, Encoding::Identity)));
        assert_eq!(
            check_headers(Some("Application/JSON; charset=utf-8"), Some("gzip")),
            Ok((Format::Json, Encoding::Gzip))
        );
        assert_eq!(check_headers(Some("text/plain"), None).map_err(|e| e.status()), Err(415));
        assert_eq!(check_headers(None, None).map_err(|e| e.status()), Err(415));
        assert_eq!(check_headers(Some("application/json"), Some("br")).map_err(|e| e.status()), Err(415));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        use flate2::Compression;
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&vec![0u8; 8 << 20]).expect("writes to memory");
        let body = encoder.finish().expect("finishes");
        let limits = BodyLimits { max_body_bytes: 1 << 20, max_decoded_bytes: 1 << 20 };
        let error = decode(&body, Format::Protobuf, Encoding::Gzip, limits).expect_err("over the limit");
        assert_eq!(error.status(), 413, "{error}");
        let error = decode(b"not gzip", Format::Protobuf, Encoding::Gzip, limits).expect_err("not gzip");
        assert_eq!(error.status(), 400, "{error}");
    }
}
