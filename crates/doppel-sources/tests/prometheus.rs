//! The Prometheus source: remote-write decoding and binding, the pull's errors against a
//! small scripted HTTP server, and pulls and remote-write against a real Prometheus
//! (Debian's `prometheus`) scraping a real exporter, both started here.

use doppel_model::{Change, ChangeSet, Entity, Key, Twin};
use doppel_sources::prometheus::remote_write::{
    Label, Limits, Receiver, RemoteWriteError, Sample, TimeSeries, WriteRequest, check_headers, decode, encode,
};
use doppel_sources::prometheus::{Bindings, PrometheusConfig, Targets, Window};
use doppel_sources::{Error, ErrorKind, SeriesSample, Source, WarningKind};
use doppel_testkit::tools::{Running, prometheus_binary};
use proptest::prelude::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn key(text: &str) -> Key {
    text.parse().unwrap()
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
    }
}

const RW_BINDINGS: &str = r#"
prometheus:
  bindings:
    - series: request_rate_rps
      entity: "service/{{service}}"
      endpoint: "{{endpoint}}"
      metric: "service_endpoint:requests:rate1m"
      labels: {env: prod}
    - series: latency_p99_ms
      entity: "service/{{service}}"
      metric: "service:latency_seconds:p99"
      scale: 1000
"#;

fn receiver() -> Receiver {
    let bindings = Bindings::parse("rw.yaml", RW_BINDINGS, "prometheus").unwrap();
    Receiver::new(&bindings, Targets::keys([key("service/cart"), key("service/checkout")]), Limits::default())
}

#[test]
fn remote_write_requests_are_decoded_and_bound() {
    let request = WriteRequest {
        timeseries: vec![
            series(
                &[
                    ("__name__", "service_endpoint:requests:rate1m"),
                    ("env", "prod"),
                    ("service", "cart"),
                    ("endpoint", "GET /cart"),
                ],
                &[(1_000, 12.5), (2_000, 13.0)],
            ),
            // Wrong environment: bound by no binding.
            series(
                &[
                    ("__name__", "service_endpoint:requests:rate1m"),
                    ("env", "dev"),
                    ("service", "cart"),
                    ("endpoint", "GET /cart"),
                ],
                &[(1_000, 99.0)],
            ),
            series(
                &[("__name__", "service:latency_seconds:p99"), ("service", "checkout")],
                &[(1_000, 0.25), (2_000, f64::NAN)],
            ),
            // Bound, but no such entity: a warning.
            series(&[("__name__", "service:latency_seconds:p99"), ("service", "ghost")], &[(1_000, 0.5), (2_000, 0.5)]),
            // Bound, but without the label the entity template needs.
            series(&[("__name__", "service:latency_seconds:p99")], &[(1_000, 0.5)]),
            series(&[("__name__", "go_goroutines")], &[(1_000, 7.0)]),
        ],
    };
    let body = encode(&request);
    assert_eq!(encode(&decode(&body, Limits::default()).unwrap()), body, "decoding loses nothing");
    let got = receiver().ingest(&body).unwrap();
    assert_eq!(got.series_in, 6);
    assert_eq!(got.samples_in, 9);
    assert_eq!(got.unbound_series, 2);
    assert_eq!(got.not_numbers, 1);
    let mut samples = got.samples.clone();
    samples.sort_by(|a, b| (&a.entity, a.ts_ms).cmp(&(&b.entity, b.ts_ms)));
    assert_eq!(
        samples,
        vec![
            SeriesSample {
                entity: key("service/cart"),
                attribute: "request_rate_rps:GET /cart".into(),
                ts_ms: 1_000,
                value: 12.5
            },
            SeriesSample {
                entity: key("service/cart"),
                attribute: "request_rate_rps:GET /cart".into(),
                ts_ms: 2_000,
                value: 13.0
            },
            SeriesSample {
                entity: key("service/checkout"),
                attribute: "latency_p99_ms".into(),
                ts_ms: 1_000,
                value: 250.0
            },
        ]
    );
    assert_eq!(got.warnings.len(), 2, "{:?}", got.warnings);
    let ghost = got.warnings.iter().find(|w| w.subject == "service/ghost").expect("a warning for the ghost");
    assert_eq!(ghost.kind, WarningKind::Unresolved);
    assert!(ghost.message.contains("matches no entity") && ghost.message.contains("(2 samples)"), "{}", ghost.message);
    assert!(ghost.to_string().starts_with("rw.yaml:"), "{ghost}");
    assert!(got.warnings.iter().any(|w| w.subject == "no label `service`"));
}

#[test]
fn remote_write_refuses_what_is_too_large_mistyped_or_broken() {
    let small = Limits { max_body_bytes: 1_000, max_decoded_bytes: 4_000 };
    let bindings = Bindings::parse("rw.yaml", RW_BINDINGS, "prometheus").unwrap();
    let receiver = Receiver::new(&bindings, Targets::keys([key("service/cart")]), small);
    // A body over the limit is refused by its length, before decompression.
    let err = receiver.ingest(&vec![0u8; 1_001]).unwrap_err();
    assert_eq!(err, RemoteWriteError::TooLarge { what: "request body", size: 1_001, limit: 1_000 });
    assert_eq!(err.status(), 413);
    // A small body that would decompress past the limit (a snappy bomb) is refused by its header.
    let zeros = snap::raw::Encoder::new().compress_vec(&vec![0u8; 15_000]).unwrap();
    assert!(zeros.len() < 1_000);
    let err = receiver.ingest(&zeros).unwrap_err();
    assert!(matches!(err, RemoteWriteError::TooLarge { what: "decompressed body", size: 15_000, .. }), "{err}");
    // Content type and encoding.
    assert!(check_headers(Some("application/x-protobuf"), Some("snappy")).is_ok());
    assert!(check_headers(Some("application/x-protobuf;proto=prometheus.WriteRequest"), None).is_ok());
    let err = check_headers(Some("application/json"), Some("snappy")).unwrap_err();
    assert_eq!(err.status(), 415);
    assert!(err.to_string().contains("content type `application/json`; expected application/x-protobuf"), "{err}");
    assert!(check_headers(None, None).unwrap_err().to_string().contains("(none)"));
    assert!(
        check_headers(Some("application/x-protobuf"), Some("gzip"))
            .unwrap_err()
            .to_string()
            .contains("expected snappy")
    );
    // Not snappy at all.
    let err = receiver.ingest(b"\xff\xff\xff\xff\xff\xff").unwrap_err();
    assert!(matches!(err, RemoteWriteError::Snappy { .. }), "{err}");
    // Valid snappy around a protobuf cut short.
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "service:latency_seconds:p99"), ("service", "cart")], &[(1, 0.1)])],
    };
    let raw = prost::Message::encode_to_vec(&request);
    let cut = snap::raw::Encoder::new().compress_vec(&raw[..raw.len() - 3]).unwrap();
    let err = receiver.ingest(&cut).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("not a protobuf WriteRequest (malformed or truncated)"), "{err}");
    // A compressed stream cut short.
    let whole = encode(&request);
    assert!(receiver.ingest(&whole[..whole.len() - 2]).is_err());
}

proptest! {
    /// Arbitrary bytes, and cuts of a valid body: an answer or an error, never a panic.
    #[test]
    fn any_body_is_decoded_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2_000), cut in 0usize..200) {
        let receiver = receiver();
        let _ = receiver.ingest(&bytes);
        let raw_snappy = snap::raw::Encoder::new().compress_vec(&bytes).unwrap();
        let _ = receiver.ingest(&raw_snappy);
        let request = WriteRequest { timeseries: vec![series(&[("__name__", "service:latency_seconds:p99"), ("service", "cart")], &[(1, 0.1), (2, 0.2)])] };
        let body = encode(&request);
        let end = cut.min(body.len());
        if let Ok(got) = receiver.ingest(&body[..end]) {
            prop_assert!(got.samples.len() <= 2);
        }
    }
}

/// A scripted HTTP server: answers every request with `answer` (or never, when `None`).
fn scripted(answer: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
                line.clear();
            }
            match answer {
                Some(text) => {
                    let _ = stream.write_all(text.as_bytes());
                }
                None => std::thread::sleep(Duration::from_secs(5)),
            }
        }
    });
    url
}

fn http(status: &str, content_type: &str, body: &str) -> &'static str {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Box::leak(text.into_boxed_str())
}

fn pull_from(url: &str, bindings: &str) -> Result<doppel_sources::Batch, Error> {
    let bindings = Bindings::parse("b.yaml", bindings, "prom").unwrap();
    let config = PrometheusConfig {
        name: "prom".into(),
        url: url.into(),
        timeout_s: 1.0,
        window: Window::Instant { at_ms: None },
    };
    let mut twin = Twin::new();
    twin.apply(&ChangeSet::of(vec![Change::AddEntity(Entity::new(key("service/cart")))])).unwrap();
    config.build(bindings).changes(&twin)
}

const ONE_BINDING: &str = "prometheus:\n  bindings:\n    - series: utilisation\n      entity: service/{{service}}\n      query: shop_utilisation\n";

#[test]
fn a_failing_server_gives_errors_naming_source_url_and_query() {
    let cases: Vec<(String, &str, ErrorKind)> = vec![
        (
            scripted(Some(http("500 Internal Server Error", "text/plain", "boom"))),
            "HTTP 500: expected a Prometheus API answer in JSON",
            ErrorKind::Unavailable,
        ),
        (
            scripted(Some(http("200 OK", "text/html", "<html>hello</html>"))),
            "HTTP 200, text/html: expected a Prometheus API answer in JSON",
            ErrorKind::InvalidInput,
        ),
        (
            scripted(Some(http(
                "400 Bad Request",
                "application/json",
                r#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#,
            ))),
            "status error (bad_data): parse error at char 3",
            ErrorKind::InvalidInput,
        ),
        (
            scripted(Some(http(
                "200 OK",
                "application/json",
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":"x"}]}}"#,
            ))),
            "expected a Prometheus API answer in JSON",
            ErrorKind::InvalidInput,
        ),
        (scripted(None), "no answer in time (timeout)", ErrorKind::Unavailable),
    ];
    for (url, expected, kind) in cases {
        let err = pull_from(&url, ONE_BINDING).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&format!("source `prom`: {url}/api/v1/query: query `shop_utilisation`: ")), "{text}");
        assert!(text.contains(expected), "{text}");
        assert_eq!(err.kind(), kind, "{text}");
    }
    // Nobody listening.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = pull_from(&format!("http://127.0.0.1:{port}"), ONE_BINDING).unwrap_err();
    assert!(err.to_string().contains("cannot"), "{err}");
    assert!(err.is_retryable());
    // A URL that is not http.
    let err = pull_from("ftp://x", ONE_BINDING).unwrap_err();
    assert!(err.to_string().contains("expected a URL starting with http://"), "{err}");
}

#[test]
fn a_canned_answer_is_bound_with_warnings_for_unknown_entities() {
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"service":"cart"},"value":[1700000000.5,"0.25"]},
        {"metric":{"service":"ghost"},"value":[1700000000.5,"0.75"]},
        {"metric":{"job":"x"},"value":[1700000000.5,"NaN"]}]}}"#;
    let url = scripted(Some(http("200 OK", "application/json", body)));
    let batch = pull_from(&url, ONE_BINDING).unwrap();
    assert!(batch.changeset.is_empty(), "a pull only brings samples");
    assert_eq!(
        batch.samples,
        vec![SeriesSample {
            entity: key("service/cart"),
            attribute: "utilisation".into(),
            ts_ms: 1_700_000_000_500,
            value: 0.25
        }]
    );
    let subjects: Vec<&str> = batch.warnings.iter().map(|w| w.subject.as_str()).collect();
    assert_eq!(subjects, ["no label `service`", "service/ghost"]);
}

// ---------------------------------------------------------------- a real Prometheus

/// The test exporter (a counter rising by 10 a second, and gauges), shared with the CLI's tests.
fn exporter_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prometheus/exporter.py")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let ok = text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200");
    ok.then_some(text)
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what} not ready after {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_real_prometheus_is_pulled_and_remote_writes_to_the_receiver() {
    let binary = prometheus_binary();
    let dir = tempfile::tempdir().unwrap();

    let mut exporter =
        Command::new("python3").arg(exporter_script()).stdout(Stdio::piped()).spawn().expect("python3 runs");
    let mut first = String::new();
    BufReader::new(exporter.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let _exporter = Running(exporter);
    let exporter_port: u16 = first.trim().parse().expect("the exporter prints its port");

    // Our receiver, for Prometheus to remote-write to.
    let rw_bindings = Bindings::parse(
        "rw.yaml",
        "prometheus:\n  bindings:\n    - series: utilisation\n      entity: service/{{service}}\n      metric: shop_utilisation\n",
        "prometheus",
    )
    .unwrap();
    let receiver = Arc::new(Receiver::new(&rw_bindings, Targets::keys([key("service/cart")]), Limits::default()));
    let received: Arc<Mutex<Vec<SeriesSample>>> = Arc::default();
    let warned: Arc<Mutex<Vec<String>>> = Arc::default();
    let rw_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let rw_port = rw_listener.local_addr().unwrap().port();
    {
        let (received, warned) = (received.clone(), warned.clone());
        let sink: doppel_sources::prometheus::http::Sink = Arc::new(move |got| {
            received.lock().unwrap().extend(got.samples);
            warned.lock().unwrap().extend(got.warnings.iter().map(|w| w.subject.clone()));
            Ok(())
        });
        std::thread::spawn(move || doppel_sources::prometheus::http::serve_blocking(rw_listener, receiver, sink, None));
    }

    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: prometheus\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n\
         \x20 - job_name: shop\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n\
         remote_write:\n  - url: http://127.0.0.1:{rw_port}/api/v1/write\n    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let server = Command::new(&binary)
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let _server = Running(server);
    let url = format!("http://127.0.0.1:{port}");
    wait_for("prometheus", Duration::from_secs(60), || get(&format!("{url}/-/ready")).is_some());
    // Enough scrapes for a rate over 5 s.
    wait_for("the shop scrapes", Duration::from_secs(60), || {
        get(&format!(
            "{url}/api/v1/query?query=count_over_time(shop_utilisation%7Bservice%3D%22cart%22%7D%5B10s%5D)%3E%3D6"
        ))
        .is_some_and(|t| t.contains("\"result\":[{"))
    });

    let bindings = Bindings::parse(
        "bindings.yaml",
        r#"
prometheus:
  bindings:
    - series: request_rate_rps
      entity: "service/{{service}}"
      endpoint: "{{endpoint}}"
      query: 'sum by (service, endpoint) (rate(shop_requests_total[5s]))'
    - series: latency_p99_ms
      each: service
      query: 'shop_latency_seconds{service="{{service}}",quantile="0.99"}'
      scale: 1000
    - series: utilisation
      entity: "service/{{service}}"
      query: shop_utilisation
    - series: memory_used_bytes
      entity: host/monitoring
      query: 'process_resident_memory_bytes{job="prometheus"}'
"#,
        "prometheus",
    )
    .unwrap();
    let mut twin = Twin::new();
    twin.apply(&ChangeSet::of(vec![
        Change::AddEntity(Entity::new(key("service/cart"))),
        Change::AddEntity(Entity::new(key("host/monitoring"))),
    ]))
    .unwrap();

    // Instant.
    let config = PrometheusConfig { url: url.clone(), ..PrometheusConfig::default() };
    let mut source = config.build(bindings.clone());
    let batch = source.changes(&twin).unwrap();
    assert!(batch.changeset.is_empty());
    assert_eq!(source.queries(), 4, "three queries and one for the one service");
    let value = |attribute: &str, entity: &str| {
        batch.samples.iter().find(|s| *s.attribute == *attribute && s.entity == key(entity)).map(|s| s.value)
    };
    let rate = value("request_rate_rps:GET /cart", "service/cart").expect("a request rate");
    assert!((rate - 10.0).abs() < 1.5, "rate {rate}, expected about 10/s");
    assert_eq!(value("latency_p99_ms", "service/cart"), Some(125.0));
    assert_eq!(value("utilisation", "service/cart"), Some(0.4));
    let memory = value("memory_used_bytes", "host/monitoring").expect("Prometheus's own memory");
    assert!(memory > 1e6, "{memory}");
    assert_eq!(batch.samples.len(), 4, "{:?}", batch.samples);
    let ghost: Vec<_> = batch.warnings.iter().filter(|w| w.subject == "service/ghost").collect();
    assert_eq!(ghost.len(), 1, "{:?}", batch.warnings);

    // Range: several points a series, timestamps on the step.
    let config = PrometheusConfig {
        url: url.clone(),
        window: Window::Range { range_s: 4.0, step_s: 1.0, end_ms: None },
        ..PrometheusConfig::default()
    };
    let batch = config.build(bindings).changes(&twin).unwrap();
    let points: Vec<&SeriesSample> = batch.samples.iter().filter(|s| &*s.attribute == "utilisation").collect();
    assert!(points.len() >= 4, "{points:?}");
    assert!(points.iter().all(|s| s.value == 0.4 && s.entity == key("service/cart")));
    assert!(points.windows(2).all(|w| w[1].ts_ms - w[0].ts_ms == 1_000), "{points:?}");

    // A query Prometheus refuses.
    let bad = Bindings::parse(
        "bad.yaml",
        "prometheus:\n  bindings:\n    - series: x\n      entity: service/cart\n      query: 'sum(('\n",
        "prometheus",
    )
    .unwrap();
    let config = PrometheusConfig { url: url.clone(), ..PrometheusConfig::default() };
    let err = config.build(bad).changes(&twin).unwrap_err().to_string();
    assert!(err.contains("query `sum((`") && err.contains("status error (bad_data)"), "{err}");

    // Remote-write: Prometheus sends what it scraped to our receiver.
    wait_for("remote-written samples", Duration::from_secs(60), || {
        received.lock().unwrap().iter().any(|s| s.entity == key("service/cart") && s.value == 0.4)
    });
    assert!(received.lock().unwrap().iter().all(|s| &*s.attribute == "utilisation" && s.value == 0.4));
    wait_for("a warning for the ghost", Duration::from_secs(30), || {
        warned.lock().unwrap().iter().any(|w| w == "service/ghost")
    });
}

/// Sends one raw HTTP/1.1 request and returns the answer's status line and body.
fn post(port: u16, headers: &str, body: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = write!(stream, "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n");
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_http_endpoint_refuses_large_mistyped_and_broken_bodies_and_stores_good_ones() {
    let bindings = Bindings::parse("rw.yaml", RW_BINDINGS, "prometheus").unwrap();
    let limits = Limits { max_body_bytes: 1_000, max_decoded_bytes: 10_000 };
    let receiver = Arc::new(Receiver::new(&bindings, Targets::keys([key("service/cart")]), limits));
    let received: Arc<Mutex<Vec<SeriesSample>>> = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    {
        let received = received.clone();
        let sink: doppel_sources::prometheus::http::Sink = Arc::new(move |got| {
            received.lock().unwrap().extend(got.samples);
            Ok(())
        });
        std::thread::spawn(move || doppel_sources::prometheus::http::serve_blocking(listener, receiver, sink, None));
    }
    let proto = "Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n";
    // A declared gigabyte is refused before any of it is read.
    let started = Instant::now();
    let answer = post(port, &format!("{proto}Content-Length: 1073741824\r\n"), b"");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("the request body is 1073741824 bytes; the limit is 1000 bytes"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Undeclared (chunked) and too long: reading stops at the limit.
    let chunk = vec![b'a'; 600];
    let mut body = Vec::new();
    for _ in 0..3 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let answer = post(port, &format!("{proto}Transfer-Encoding: chunked\r\n"), &body);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Wrong content type.
    let answer = post(port, "Content-Type: application/json\r\nContent-Length: 2\r\n", b"{}");
    assert!(answer.starts_with("HTTP/1.1 415") && answer.contains("expected application/x-protobuf"), "{answer}");
    // Truncated protobuf.
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "service:latency_seconds:p99"), ("service", "cart")], &[(5, 0.2)])],
    };
    let raw = prost::Message::encode_to_vec(&request);
    let cut = snap::raw::Encoder::new().compress_vec(&raw[..raw.len() - 4]).unwrap();
    let answer = post(port, &format!("{proto}Content-Length: {}\r\n", cut.len()), &cut);
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("malformed or truncated"), "{answer}");
    assert!(received.lock().unwrap().is_empty(), "nothing refused is stored");
    // A good one.
    let good = encode(&request);
    let answer = post(port, &format!("{proto}Content-Length: {}\r\n", good.len()), &good);
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert_eq!(
        *received.lock().unwrap(),
        vec![SeriesSample { entity: key("service/cart"), attribute: "latency_p99_ms".into(), ts_ms: 5, value: 200.0 }]
    );
}

#[test]
fn each_bindings_query_once_per_entity_and_endpoint() {
    let estate = doppel_estate::parse(&[doppel_estate::SourceFile {
        path: "e.yaml".into(),
        text: "entities:\n  - kind: service\n    name: cart\n    labels: {team: web}\n    endpoints:\n      - name: GET /cart\n      - name: POST /cart\n  - kind: service\n    name: ads\n".into(),
    }])
    .unwrap();
    let mut twin = Twin::new();
    twin.apply(&estate.plan(&twin, false).changeset).unwrap();
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[10,"0.5"]}]}}"#;
    let url = scripted(Some(http("200 OK", "application/json", body)));
    let bindings = Bindings::parse(
        "b.yaml",
        "prometheus:\n  bindings:\n    - series: latency_p99_ms\n      each: service\n      scale: 1000\n      query: 'p99{service=\"{{service}}\",endpoint=\"{{endpoint}}\",team=\"{{label.team}}\"}'\n",
        "prom",
    )
    .unwrap();
    let config = PrometheusConfig { name: "prom".into(), url, timeout_s: 2.0, window: Window::Instant { at_ms: None } };
    let mut source = config.build(bindings);
    let batch = source.changes(&twin).unwrap();
    // cart's two endpoints; ads has no endpoints (and no team label) so it is not queried.
    assert_eq!(source.queries(), 2);
    let got: Vec<(String, String, f64)> =
        batch.samples.iter().map(|s| (s.entity.to_string(), s.attribute.to_string(), s.value)).collect();
    assert_eq!(
        got,
        [
            ("service/cart".to_string(), "latency_p99_ms:GET /cart".to_string(), 500.0),
            ("service/cart".to_string(), "latency_p99_ms:POST /cart".to_string(), 500.0)
        ]
    );
}

#[test]
fn the_example_bindings_file_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/prometheus/bindings.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let bindings = Bindings::parse("bindings.yaml", &text, "prometheus").unwrap();
    assert_eq!(bindings.url.as_deref(), Some("http://127.0.0.1:9090"));
    assert_eq!(bindings.bindings.len(), 7);
    assert!(bindings.bindings.iter().all(|b| b.query.as_ref().is_some_and(|q| q.vars().all(|v| v != "namespace"))));
}
