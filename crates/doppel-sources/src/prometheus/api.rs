//! The Prometheus HTTP API client: instant and range queries, their answers read into
//! series of points. Every failure names the source, the URL and the query.

use super::{PrometheusConfig, Window};
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The largest answer read (bytes); a larger one is an error, not a partial read.
pub(crate) const MAX_ANSWER_BYTES: u64 = 256 << 20;

/// One result series: its labels and its points (ms since the epoch, value).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResultSeries {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorItem>),
    Matrix(Vec<MatrixItem>),
    Scalar(Point),
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct VectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: Point,
}

#[derive(Deserialize)]
struct MatrixItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    values: Vec<Point>,
}

/// `[seconds, "value"]`, as the API writes a point.
#[derive(Deserialize)]
struct Point(f64, String);

impl Point {
    fn read(&self) -> (i64, f64) {
        let value = match self.1.as_str() {
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            text => text.parse().unwrap_or(f64::NAN),
        };
        ((self.0 * 1000.0).round() as i64, value)
    }
}

/// A client for one server.
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
    source_name: String,
    window: Window,
}

impl Client {
    pub(crate) fn new(config: &PrometheusConfig) -> Result<Client> {
        let fail = |message: String| Error::Query {
            source_name: config.name.clone(),
            url: config.url.clone(),
            query: String::new(),
            message,
            retryable: false,
        };
        let base = config.url.trim_end_matches('/').to_string();
        if base.is_empty() {
            return Err(fail("no URL; expected --url or `url:` in the bindings file (http://HOST:9090)".into()));
        }
        if base.starts_with("https://") {
            return Err(fail(
                "https is not supported by this build; expected an http:// URL (a local proxy can add TLS)".into(),
            ));
        }
        if !base.starts_with("http://") {
            return Err(fail("expected a URL starting with http://".into()));
        }
        if !(config.timeout_s.is_finite() && config.timeout_s > 0.0) {
            return Err(fail(format!("timeout {}s: expected seconds above 0", config.timeout_s)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(config.timeout_s)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { agent, base, source_name: config.name.clone(), window: config.window })
    }

    /// Runs one query over the configured window.
    pub(crate) fn run(&self, query: &str) -> Result<Vec<ResultSeries>> {
        let now_s =
            || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let (path, params): (&str, Vec<(&str, String)>) = match self.window {
            Window::Instant { at_ms } => {
                let mut params = vec![("query", query.to_string())];
                if let Some(at_ms) = at_ms {
                    params.push(("time", format!("{:.3}", at_ms as f64 / 1000.0)));
                }
                ("/api/v1/query", params)
            }
            Window::Range { range_s, step_s, end_ms } => {
                let end = end_ms.map_or_else(now_s, |ms| ms as f64 / 1000.0);
                let params = vec![
                    ("query", query.to_string()),
                    ("start", format!("{:.3}", end - range_s)),
                    ("end", format!("{end:.3}")),
                    ("step", format!("{step_s}")),
                ];
                ("/api/v1/query_range", params)
            }
        };
        let url = format!("{}{path}", self.base);
        let fail = |message: String, retryable: bool| Error::Query {
            source_name: self.source_name.clone(),
            url: url.clone(),
            query: query.to_string(),
            message,
            retryable,
        };
        let mut request = self.agent.get(&url);
        for (name, value) in &params {
            request = request.query(*name, value);
        }
        let mut response = request.call().map_err(|e| match e {
            ureq::Error::Timeout(_) => {
                fail("no answer in time (timeout); is the server up and the query cheap enough?".into(), true)
            }
            ureq::Error::Io(io) => fail(format!("cannot reach the server: {io}"), true),
            ureq::Error::ConnectionFailed => fail("cannot connect to the server".into(), true),
            other => fail(format!("request failed: {other}"), true),
        })?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string().map_err(|e| match e {
            ureq::Error::Timeout(_) => fail("the answer did not arrive in time (timeout)".into(), true),
            ureq::Error::BodyExceedsLimit(limit) => {
                fail(format!("the answer is over {limit} bytes; narrow the query"), false)
            }
            other => fail(format!("cannot read the answer (HTTP {status}): {other}"), true),
        })?;
        let answer: Answer = match serde_json::from_str(&body) {
            Ok(answer) => answer,
            Err(e) => {
                let start: String = body.chars().take(80).collect();
                let what =
                    if status >= 400 { format!("HTTP {status}") } else { format!("HTTP {status}, {content_type}") };
                return Err(fail(
                    format!(
                        "{what}: expected a Prometheus API answer in JSON ({e}); the body starts `{}`",
                        start.trim()
                    ),
                    status >= 500,
                ));
            }
        };
        if answer.status == "error" {
            let kind = answer.error_type.unwrap_or_else(|| "unknown".into());
            let message = answer.error.unwrap_or_default();
            let retryable = status >= 500 || kind == "timeout" || kind == "unavailable";
            return Err(fail(
                format!("Prometheus answered HTTP {status} with status error ({kind}): {message}"),
                retryable,
            ));
        }
        if answer.status != "success" || status >= 300 {
            return Err(fail(
                format!("HTTP {status}, status `{}`: expected HTTP 200 and status success", answer.status),
                status >= 500,
            ));
        }
        let Some(data) = answer.data else {
            return Err(fail("the answer has no `data`; expected data.resultType and data.result".into(), false));
        };
        Ok(match data {
            Data::Vector(items) => items
                .into_iter()
                .map(|item| ResultSeries { labels: item.metric, points: vec![item.value.read()] })
                .collect(),
            Data::Matrix(items) => items
                .into_iter()
                .map(|item| ResultSeries { labels: item.metric, points: item.values.iter().map(Point::read).collect() })
                .collect(),
            Data::Scalar(point) => vec![ResultSeries { labels: BTreeMap::new(), points: vec![point.read()] }],
            Data::String(_) => {
                return Err(fail("the query gives a string; expected a number, a vector or a matrix".into(), false));
            }
        })
    }
}
