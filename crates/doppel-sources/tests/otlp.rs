//! The OpenTelemetry traces source: the accumulator's joins, peers, self-times and bounds on
//! spans built here; recorded exports through the compliance test; the HTTP and gRPC
//! receivers against bad input (a streamed gigabyte among it); and the OpenTelemetry Python
//! SDK sending a known shop's spans over both transports to receivers started here.

use doppel_model::relation::CallMode;
use doppel_model::{CallAttrs, Change, ChangeSet, Entity, Key, RelKey, RelKind, RelSpec, Relation, Twin, TwinView};
use doppel_sources::otlp::{BodyLimits, CallGraph, Encoding, Format, Limits, OtlpConfig, Receivers, Traces, decode};
use doppel_sources::{Source, WarningKind, compliance};
use doppel_testkit::tools::otel_python;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;
use prost::Message;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BASE_NS: u64 = 1_795_168_800_000_000_000;
const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

fn key(text: &str) -> Key {
    text.parse().unwrap()
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(Value::StringValue(value.into())) }),
        ..KeyValue::default()
    }
}

/// A span of trace `trace`, `id` under `parent` (0: a root), from `start_ms` to `end_ms`.
fn span(trace: u128, id: u64, parent: u64, kind: i32, ms: (u64, u64), attrs: &[(&str, &str)], error: bool) -> Span {
    Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 { Vec::new() } else { parent.to_be_bytes().to_vec() },
        name: "op".into(),
        kind,
        start_time_unix_nano: BASE_NS + ms.0 * 1_000_000,
        end_time_unix_nano: BASE_NS + ms.1 * 1_000_000,
        attributes: attrs.iter().map(|(k, v)| kv(k, v)).collect(),
        status: error.then(|| Status { message: String::new(), code: 2 }),
        ..Span::default()
    }
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![kv("service.name", service)], ..Resource::default() }),
            scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
}

/// The edges as (caller, callee, calls), sorted as text.
fn edges(graph: &CallGraph) -> Vec<(String, String, u64)> {
    let mut edges: Vec<_> = graph.edges.iter().map(|e| (e.from.to_string(), e.to.to_string(), e.calls)).collect();
    edges.sort();
    edges
}

fn edge(from: &str, to: &str, calls: u64) -> (String, String, u64) {
    (from.to_string(), to.to_string(), calls)
}

#[test]
fn client_and_server_spans_join_across_requests_in_either_order() {
    let frontend = request(
        "frontend",
        vec![
            span(1, 10, 0, SERVER, (0, 100), &[], false),
            span(1, 11, 10, CLIENT, (10, 40), &[("server.address", "cart")], true),
        ],
    );
    let cart = request("cart", vec![span(1, 20, 11, SERVER, (12, 38), &[], true)]);
    for order in [[&frontend, &cart], [&cart, &frontend]] {
        let mut traces = Traces::default();
        for request in order {
            let got = traces.ingest(request);
            assert_eq!((got.spans, got.rejected), (request.resource_spans[0].scope_spans[0].spans.len(), 0));
        }
        assert_eq!(traces.pending(), 0, "the join leaves nothing waiting");
        traces.flush();
        let graph = traces.drain();
        assert_eq!(edges(&graph), vec![edge("service/frontend", "service/cart", 1)], "no external/cart: joined");
        let call = graph.edge("service/frontend", "service/cart").unwrap();
        assert_eq!((call.errors, call.asynchronous), (1, false));
        assert!((call.latency_p50_ms - 30.0).abs() < 0.6, "the caller's view: {}", call.latency_p50_ms);
        let cart = graph.node("service/cart").unwrap();
        assert_eq!((cart.requests, cart.errors, cart.instrumented), (1, 1, true));
        assert_eq!(cart.service_time_ms, Some(26.0));
        let frontend = graph.node("service/frontend").unwrap();
        assert_eq!(frontend.service_time_ms, Some(70.0), "100 ms less the 30 ms call");
        assert_eq!((graph.from_ns, graph.to_ns), (BASE_NS, BASE_NS + 100_000_000));
    }
}

#[test]
fn uninstrumented_peers_are_named_from_attributes_and_unnamed_ones_counted() {
    let spans = vec![
        span(2, 1, 0, SERVER, (0, 100), &[], false),
        span(2, 2, 1, CLIENT, (1, 2), &[("db.system", "postgresql"), ("db.name", "orders")], false),
        span(2, 3, 1, CLIENT, (2, 3), &[("db.system", "redis"), ("server.address", "redis-1")], false),
        span(2, 4, 1, CLIENT, (3, 4), &[("peer.service", "ledger"), ("server.address", "10.0.0.9")], false),
        span(2, 5, 1, CLIENT, (4, 5), &[("server.address", "api.pay.example")], true),
        span(2, 6, 1, CLIENT, (5, 6), &[("net.peer.name", "smtp.mail.example")], false),
        span(2, 7, 1, CLIENT, (6, 7), &[("url.full", "https://hooks.example:8443/x")], false),
        span(2, 8, 1, CLIENT, (7, 8), &[("http.request.method", "GET")], false),
        span(
            2,
            9,
            1,
            PRODUCER,
            (8, 9),
            &[("messaging.system", "kafka"), ("messaging.destination.name", "orders")],
            false,
        ),
    ];
    let mut traces = Traces::default();
    traces.ingest(&request("checkout", spans));
    traces.ingest(&request(
        "mailer",
        vec![span(
            3,
            1,
            0,
            CONSUMER,
            (20, 30),
            &[("messaging.system", "kafka"), ("messaging.destination.name", "orders")],
            false,
        )],
    ));
    assert_eq!(traces.pending(), 7, "client spans wait for the server spans they may have caused");
    traces.flush();
    let graph = traces.drain();
    let c = "service/checkout";
    assert_eq!(
        edges(&graph),
        vec![
            edge("queue/orders", "service/mailer", 1),
            edge(c, "datastore/postgresql-orders", 1),
            edge(c, "datastore/redis", 1),
            edge(c, "external/api.pay.example", 1),
            edge(c, "external/hooks.example", 1),
            edge(c, "external/smtp.mail.example", 1),
            edge(c, "queue/orders", 1),
            edge(c, "service/ledger", 1),
        ]
    );
    assert!(graph.edge(c, "queue/orders").unwrap().asynchronous);
    assert!(graph.nodes.iter().all(|n| !n.key.name().contains("unknown")));
    let pay = graph.node("external/api.pay.example").unwrap();
    assert_eq!((pay.instrumented, pay.requests, pay.errors), (false, 1, 1));
    assert_eq!(graph.node("datastore/redis").unwrap().engine.as_deref(), Some("redis"));
    assert_eq!(graph.counts.unnamed_peers, 1);
    let observation = graph.observation();
    let warning = observation.warnings.iter().find(|w| w.subject == "peer").expect("a warning for the unnamed peer");
    assert_eq!(warning.kind, WarningKind::Unresolved);
    assert!(warning.message.starts_with("1 client spans"), "{}", warning.message);
    assert!(!observation.complete, "traces never prove absence");
    // The model accepts it all.
    let batch = doppel_sources::reconcile(observation, &Twin::new(), "otlp", "otlp");
    let mut twin = Twin::new();
    twin.apply(&batch.changeset).unwrap();
    let rel = twin.relation(&RelKey { from: key(c), kind: RelKind::Calls, to: key("queue/orders") }).unwrap();
    let RelSpec::Calls(attrs) = rel else { panic!("a calls relation") };
    assert_eq!(attrs.mode, CallMode::Async);
}

#[test]
fn client_spans_wait_their_age_for_the_server_span_then_name_their_peer() {
    let limits = Limits { pending_age: Duration::from_secs(10), ..Limits::default() };
    let mut traces = Traces::new(limits);
    let t0 = Instant::now();
    let client =
        |trace: u128| request("web", vec![span(trace, 1, 0, CLIENT, (0, 10), &[("server.address", "api")], false)]);
    traces.ingest_at(&client(7), t0);
    traces.ingest_at(&client(8), t0);
    let early = traces.drain_at(t0 + Duration::from_secs(5));
    assert!(early.edges.is_empty(), "still waiting: {:?}", edges(&early));
    // The server span of trace 7 comes late, in another window: still joined.
    traces.ingest_at(&request("api", vec![span(7, 2, 1, SERVER, (1, 9), &[], false)]), t0 + Duration::from_secs(9));
    let joined = traces.drain_at(t0 + Duration::from_secs(12));
    assert_eq!(edges(&joined), vec![edge("service/web", "service/api", 1)]);
    assert_eq!(traces.pending(), 1);
    let expired = traces.drain_at(t0 + Duration::from_secs(21));
    assert_eq!(edges(&expired), vec![edge("service/web", "external/api", 1)]);
    assert_eq!(traces.pending(), 0);
}

#[test]
fn pending_spans_edges_and_names_are_bounded_and_drops_counted() {
    let limits = Limits { max_pending: 10, max_edges: 3, max_names: 8, pending_age: Duration::from_secs(3600) };
    let mut traces = Traces::new(limits);
    for trace in 1..=100u128 {
        let host = format!("h{}", trace % 5);
        traces.ingest(&request("web", vec![span(trace, 1, 0, CLIENT, (0, 1), &[("server.address", &host)], false)]));
        assert!(traces.pending() <= 10, "pending {} over the limit", traces.pending());
    }
    let graph = traces.drain();
    assert!(graph.counts.evicted >= 80, "evicted {}", graph.counts.evicted);
    assert_eq!(graph.edges.len(), 3, "{:?}", edges(&graph));
    assert!(graph.counts.edges_dropped > 0);
    let warnings = graph.observation().warnings;
    for subject in ["pending", "edge"] {
        assert!(warnings.iter().any(|w| w.subject == subject), "no `{subject}` warning: {warnings:?}");
    }
    // Names: services beyond the limit are counted, not kept.
    let mut traces = Traces::new(limits);
    for n in 0..20u128 {
        traces.ingest(&request(&format!("svc-{n}"), vec![span(n + 1, 1, 0, SERVER, (0, 1), &[], false)]));
    }
    let graph = traces.drain();
    assert_eq!(graph.nodes.len(), 8);
    assert_eq!(graph.counts.names_dropped, 12);
}

#[test]
fn spans_with_bad_ids_or_times_are_refused_and_counted() {
    let mut bad_trace = span(1, 1, 0, SERVER, (0, 1), &[], false);
    bad_trace.trace_id = vec![1, 2, 3];
    let mut backwards = span(1, 2, 0, SERVER, (5, 1), &[], false);
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
    let mut bad_parent = span(1, 3, 0, SERVER, (0, 1), &[], false);
    bad_parent.parent_span_id = vec![9; 3];
    let good = span(1, 4, 0, SERVER, (0, 1), &[], false);
    let mut traces = Traces::default();
    let got = traces.ingest(&request("web", vec![bad_trace, backwards, bad_parent, good]));
    assert_eq!((got.spans, got.rejected), (4, 3));
    let reason = got.reason.unwrap();
    assert!(reason.contains("spans[0]") && reason.contains("traceId has 3 bytes"), "{reason}");
    let graph = traces.drain();
    assert_eq!(graph.node("service/web").unwrap().requests, 1);
    assert_eq!(graph.counts.rejected, 3);
}

#[test]
fn declared_call_attributes_stay_and_only_the_rate_is_taken_from_traces() {
    let declared = CallAttrs { timeout_ms: Some(500.0), retries: 2, ..CallAttrs::default() };
    let mut twin = Twin::new();
    twin.apply(&ChangeSet::of(vec![
        Change::AddEntity(Entity::new(key("service/frontend"))),
        Change::AddEntity(Entity::new(key("service/cart"))),
        Change::AddRelation(Relation {
            from: key("service/frontend"),
            to: key("service/cart"),
            spec: RelSpec::Calls(Box::new(declared.clone())),
        }),
    ]))
    .unwrap();
    let mut source = OtlpConfig::default().build();
    {
        let traces = source.traces();
        let mut traces = traces.lock().unwrap();
        for i in 0..11u64 {
            let trace = 100 + u128::from(i);
            traces.ingest(&request(
                "frontend",
                vec![
                    span(trace, 1, 0, SERVER, (i * 100, i * 100 + 50), &[], false),
                    span(trace, 2, 1, CLIENT, (i * 100 + 5, i * 100 + 25), &[], false),
                ],
            ));
            traces.ingest(&request("cart", vec![span(trace, 3, 2, SERVER, (i * 100 + 6, i * 100 + 24), &[], false)]));
        }
    }
    let batch = source.changes(&twin).unwrap();
    let updated: Vec<&Relation> = batch
        .changeset
        .changes
        .iter()
        .filter_map(|c| if let Change::UpdateRelation(r) = c { Some(r) } else { None })
        .collect();
    assert_eq!(updated.len(), 1, "{:?}", batch.changeset.changes);
    // 11 calls over 1.05 s.
    let expected = CallAttrs { rate_rps: Some(10.5), ..declared };
    assert_eq!(updated[0].spec, RelSpec::Calls(Box::new(expected)));
    assert!(
        batch.changeset.changes.iter().all(|c| matches!(c, Change::UpdateRelation(_))),
        "estate entities are left alone"
    );
    assert_eq!(batch.warnings.iter().filter(|w| w.kind == WarningKind::NotOwned).count(), 2);
    let samples: Vec<(&str, &str)> = batch.samples.iter().map(|s| (s.entity.name(), &*s.attribute)).collect();
    for wanted in [
        ("cart", "request_rate_rps"),
        ("cart", "error_rate"),
        ("cart", "latency_p50_ms"),
        ("cart", "latency_p99_ms"),
        ("cart", "service_time_ms"),
        ("frontend", "call_rate_rps:service/cart"),
        ("frontend", "call_latency_p99_ms:service/cart"),
    ] {
        assert!(samples.contains(&wanted), "no sample {wanted:?} in {samples:?}");
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp").join(name)
}

fn replay(files: Vec<PathBuf>) -> doppel_sources::otlp::Otlp {
    OtlpConfig { files, ..OtlpConfig::default() }.build()
}

#[test]
fn recorded_exports_pass_the_compliance_test() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.pb");
    let whole = request("web", vec![span(5, 1, 0, SERVER, (0, 10), &[("http.route", "/")], false)]).encode_to_vec();
    std::fs::write(&truncated, &whole[..whole.len() - 3]).unwrap();
    let good_pb = dir.path().join("good.pb");
    std::fs::write(&good_pb, &whole).unwrap();
    let full = || replay(vec![fixture("shop.jsonl"), good_pb.clone()]);
    let smaller = || replay(vec![fixture("shop-frontend-only.jsonl")]);
    let case = compliance::Case {
        full: &full,
        smaller: &smaller,
        bad: vec![
            Box::new(|| replay(vec![fixture("bad-syntax.jsonl")])),
            Box::new(|| replay(vec![fixture("shop.jsonl"), fixture("bad-kind.jsonl")])),
            Box::new(|| replay(vec![truncated.clone()])),
        ],
        secrets: vec!["hunter2".into()],
    };
    let twin = compliance::check_partial(&case);
    for (from, to) in [
        ("service/frontend", "service/cart"),
        ("service/frontend", "external/api.payments.example"),
        ("service/cart", "datastore/postgresql-orders"),
    ] {
        let rel = RelKey { from: key(from), kind: RelKind::Calls, to: key(to) };
        assert!(twin.relation(&rel).is_some(), "no {rel}");
    }
    assert!(twin.entity(&key("service/web")).is_some(), "the protobuf recording was read");
    assert_eq!(
        twin.entity(&key("datastore/postgresql-orders")).map(|e| &e.spec),
        Some(&doppel_model::Spec::Datastore(Box::new(doppel_model::spec::DatastoreSpec {
            engine: "postgresql".into(),
            ..Default::default()
        })))
    );
    // The errors name the file and the line.
    let error = replay(vec![fixture("bad-syntax.jsonl")]).changes(&Twin::new()).unwrap_err().to_string();
    assert!(error.starts_with("source `otlp`: ") && error.contains("bad-syntax.jsonl:2:"), "{error}");
    let error = replay(vec![truncated.clone()]).changes(&Twin::new()).unwrap_err().to_string();
    assert!(error.contains("truncated.pb") && error.contains("malformed or truncated"), "{error}");
    // A failed replay keeps nothing, even of the good file before the bad one.
    let mut source = replay(vec![fixture("shop.jsonl"), fixture("bad-kind.jsonl")]);
    assert!(source.pull().is_err());
    assert_eq!(source.traces().lock().unwrap().drain().counts.spans, 0);
}

/// Sends one raw HTTP/1.1 request and returns the answer's status line, headers and body.
fn post(addr: std::net::SocketAddr, headers: &str, body: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = write!(stream, "POST /v1/traces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n");
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_http_receiver_refuses_bad_bodies_keeps_nothing_of_them_and_takes_good_ones() {
    let limits = BodyLimits { max_body_bytes: 64 << 10, max_decoded_bytes: 256 << 10 };
    let traces = Arc::new(Mutex::new(Traces::default()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let receivers = Receivers::start("otlp", traces.clone(), limits, Some(listener), None).unwrap();
    let addr = receivers.http_addr().unwrap();
    let proto = "Content-Type: application/x-protobuf\r\n";

    // A declared gigabyte: refused before any of it is read.
    let started = Instant::now();
    let answer = post(addr, &format!("{proto}Content-Length: 1073741824\r\n"), b"");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("source `otlp`: OTLP/HTTP POST /v1/traces: the request body is 1073741824 bytes"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A streamed gigabyte without a declared length: refused at the limit, memory bounded.
    let before_kb = peak_rss_kb();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "POST /v1/traces HTTP/1.1\r\nHost: x\r\n{proto}Transfer-Encoding: chunked\r\n\r\n").unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = vec![0x0a_u8; 1 << 20];
        let mut sent: u64 = 0;
        while sent < 1 << 30 {
            let ok = write!(writer, "{:x}\r\n", chunk.len()).is_ok()
                && writer.write_all(&chunk).is_ok()
                && writer.write_all(b"\r\n").is_ok();
            if !ok {
                break;
            }
            sent += chunk.len() as u64;
        }
        if sent >= 1 << 30 {
            let _ = writer.write_all(b"0\r\n\r\n");
        }
        sent
    });
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let sent = sender.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(sent < 1 << 30, "the receiver read the whole gigabyte ({sent} bytes sent)");
    let grown_kb = peak_rss_kb().saturating_sub(before_kb);
    assert!(grown_kb < 64 << 10, "peak memory grew by {grown_kb} kB while a gigabyte was refused");

    // Wrong content type and encoding.
    let answer = post(addr, "Content-Type: text/plain\r\nContent-Length: 2\r\n", b"hi");
    assert!(
        answer.starts_with("HTTP/1.1 415") && answer.contains("expected application/x-protobuf or application/json"),
        "{answer}"
    );
    let answer = post(addr, &format!("{proto}Content-Encoding: br\r\nContent-Length: 2\r\n"), b"hi");
    assert!(answer.starts_with("HTTP/1.1 415") && answer.contains("expected gzip or none"), "{answer}");
    // Malformed and truncated protobuf, malformed JSON, broken gzip.
    let good = request("web", vec![span(9, 1, 0, SERVER, (0, 10), &[("http.route", "/")], false)]).encode_to_vec();
    for body in [&b"\xff\xff\xff\xff\xff"[..], &good[..good.len() - 3]] {
        let answer = post(addr, &format!("{proto}Content-Length: {}\r\n", body.len()), body);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("source `otlp`") && answer.contains("malformed or truncated"), "{answer}");
    }
    let answer = post(addr, "Content-Type: application/json\r\nContent-Length: 17\r\n", b"{\"resourceSpans\":");
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("OTLP/JSON") && answer.contains("line 1"),
        "{answer}"
    );
    let answer = post(addr, &format!("{proto}Content-Encoding: gzip\r\nContent-Length: 4\r\n"), b"nope");
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("not gzip"), "{answer}");
    {
        let mut traces = traces.lock().unwrap();
        let graph = traces.drain();
        assert_eq!((graph.counts.requests, graph.counts.spans), (0, 0), "a refused request reached the accumulator");
        assert!(graph.nodes.is_empty());
    }

    // Good ones: protobuf, JSON (a recorded line), protobuf under gzip.
    let answer = post(addr, &format!("{proto}Content-Length: {}\r\n", good.len()), &good);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("application/x-protobuf"), "{answer}");
    let json = std::fs::read_to_string(fixture("shop.jsonl")).unwrap();
    let line = json.lines().next().unwrap();
    let answer =
        post(addr, &format!("Content-Type: application/json\r\nContent-Length: {}\r\n", line.len()), line.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("application/json"), "{answer}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&request("gz", vec![span(10, 1, 0, SERVER, (0, 10), &[], false)]).encode_to_vec()).unwrap();
    let gz = gz.finish().unwrap();
    let answer = post(addr, &format!("{proto}Content-Encoding: gzip\r\nContent-Length: {}\r\n", gz.len()), &gz);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A request with a refused span is answered with a partial success.
    let mut odd = span(11, 1, 0, SERVER, (0, 1), &[], false);
    odd.span_id = vec![1];
    let partial = request("web", vec![odd]).encode_to_vec();
    let answer = post(addr, &format!("{proto}Content-Length: {}\r\n", partial.len()), &partial);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("spanId has 1 bytes"), "{answer}");
    let graph = traces.lock().unwrap().drain();
    assert_eq!(graph.counts.requests, 4);
    for node in ["service/web", "service/frontend", "service/gz"] {
        assert!(graph.node(node).is_some(), "no {node}: {:?}", graph.nodes);
    }
    receivers.stop().unwrap();
}

#[test]
fn the_grpc_receiver_takes_requests_and_refuses_oversized_ones() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let limits = BodyLimits { max_body_bytes: 4 << 10, max_decoded_bytes: 16 << 10 };
    let traces = Arc::new(Mutex::new(Traces::default()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let receivers = Receivers::start("otlp", traces.clone(), limits, None, Some(listener)).unwrap();
    let addr = receivers.grpc_addr().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build().unwrap();
    let (small, large) = runtime.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://{addr}")).await.unwrap();
        let small = client.export(request("web", vec![span(1, 1, 0, SERVER, (0, 5), &[], false)])).await;
        let padding = "x".repeat(8 << 10);
        let large =
            client.export(request("big", vec![span(2, 1, 0, SERVER, (0, 5), &[("padding", &padding)], false)])).await;
        (small, large)
    });
    drop(runtime);
    let small = small.unwrap().into_inner();
    assert_eq!(small.partial_success, None);
    let status = large.unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status}");
    assert!(status.message().contains("too large"), "{status}");
    let graph = traces.lock().unwrap().drain();
    assert_eq!(graph.counts.requests, 1, "the oversized request never reached the accumulator");
    assert!(graph.node("service/web").is_some() && graph.node("service/big").is_none());
    receivers.stop().unwrap();
}

fn within(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 0.05 * want.abs(), "{what}: {got}, expected {want} within 5%");
}

#[test]
fn the_python_sdk_over_http_and_grpc_gives_the_call_graph_it_sent() {
    let python = otel_python();
    let config = OtlpConfig { pending_age_s: 2.0, ..OtlpConfig::default() };
    let limits = config.body_limits();
    let mut source = config.build();
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let grpc = TcpListener::bind("127.0.0.1:0").unwrap();
    let receivers = Receivers::start("otlp", source.traces(), limits, Some(http), Some(grpc)).unwrap();
    let (http, grpc) = (receivers.http_addr().unwrap(), receivers.grpc_addr().unwrap());
    let (requests, rate) = (200u64, 20.0);
    let output = std::process::Command::new(python)
        .arg(fixture("send_spans.py"))
        .args(["--http", &format!("http://{http}/v1/traces"), "--grpc", &grpc.to_string()])
        .args(["--requests", &requests.to_string(), "--rate", &rate.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "send_spans.py failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let sent: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    // Client spans to peers that send nothing wait out their age (2 to 4 s) first.
    std::thread::sleep(Duration::from_millis(4_500));
    let graph = source.drain().unwrap();
    receivers.stop().unwrap();
    assert_eq!(graph.counts.spans, sent["spans"].as_u64().unwrap(), "every span sent arrived");
    assert_eq!(graph.counts.rejected, 0);
    assert!(graph.counts.requests >= 4, "small batches: {} export requests", graph.counts.requests);
    let n = requests as f64;
    assert_eq!(
        edges(&graph),
        vec![
            edge("service/cart", "datastore/redis", 2 * requests),
            edge("service/cart", "queue/cart-events", requests / 4),
            edge("service/frontend", "external/api.payments.example", requests / 2),
            edge("service/frontend", "service/cart", requests),
        ],
        "the call graph (no external/cart: the gRPC client spans joined the HTTP server spans)"
    );
    assert_eq!(graph.counts.unnamed_peers, requests / 50);
    // Window: first start to last end, (requests - 1) / rate + 0.1 s.
    within(graph.window_s(), (n - 1.0) / rate + 0.1, "window");
    let rate_of = |from: &str, to: &str| graph.rate_rps(graph.edge(from, to).unwrap().calls).unwrap();
    within(rate_of("service/frontend", "service/cart"), rate, "frontend -> cart rate");
    within(rate_of("service/cart", "datastore/redis"), 2.0 * rate, "cart -> redis rate");
    within(rate_of("service/frontend", "external/api.payments.example"), rate / 2.0, "frontend -> payments rate");
    within(rate_of("service/cart", "queue/cart-events"), rate / 4.0, "cart -> cart-events rate");
    let call = graph.edge("service/frontend", "service/cart").unwrap();
    within(call.errors as f64 / call.calls as f64, 8.0 / n, "frontend -> cart error rate");
    within(call.latency_p50_ms, 30.0, "frontend -> cart p50");
    within(call.latency_p99_ms, 30.0, "frontend -> cart p99");
    let pay = graph.edge("service/frontend", "external/api.payments.example").unwrap();
    within(pay.errors as f64 / pay.calls as f64, 0.1, "payments error rate");
    within(pay.latency_p50_ms, 20.0, "payments p50");
    within(graph.edge("service/cart", "datastore/redis").unwrap().latency_p99_ms, 5.0, "redis p99");
    let frontend = graph.node("service/frontend").unwrap();
    within(graph.rate_rps(frontend.requests).unwrap(), rate, "frontend request rate");
    within(frontend.errors as f64 / frontend.requests as f64, 0.1, "frontend error rate");
    within(frontend.latency_p50_ms.unwrap(), 100.0, "frontend p50");
    // Self-time: 100 ms less cart (30), payments (20, every other request) and the unnamed
    // call (2, one in 50).
    within(frontend.service_time_ms.unwrap(), 100.0 - 30.0 - 10.0 - 0.04, "frontend service time");
    let cart = graph.node("service/cart").unwrap();
    within(cart.errors as f64 / cart.requests as f64, 8.0 / n, "cart error rate");
    within(cart.latency_p50_ms.unwrap(), 26.0, "cart p50");
    // 26 ms less two 5 ms redis calls and, one in four, a 2 ms send.
    within(cart.service_time_ms.unwrap(), 26.0 - 10.0 - 0.5, "cart service time");
    let redis = graph.node("datastore/redis").unwrap();
    assert_eq!((redis.instrumented, redis.engine.as_deref()), (false, Some("redis")));

    // Into a twin: the relations carry the rates, the samples the rest.
    let observation = graph.observation();
    let samples = observation.samples.clone();
    let batch = doppel_sources::reconcile(observation, &Twin::new(), "otlp", "otlp");
    let mut twin = Twin::new();
    twin.apply(&batch.changeset).unwrap();
    let rel = RelKey { from: key("service/frontend"), kind: RelKind::Calls, to: key("service/cart") };
    let Some(RelSpec::Calls(attrs)) = twin.relation(&rel) else { panic!("no {rel}") };
    within(attrs.rate_rps.unwrap(), rate, "frontend -> cart rate_rps in the twin");
    let value = |entity: &str, attribute: &str| {
        samples.iter().find(|s| s.entity == key(entity) && *s.attribute == *attribute).map(|s| s.value)
    };
    within(value("service/cart", "service_time_ms").unwrap(), 15.5, "cart service_time_ms sample");
    within(value("service/frontend", "error_rate").unwrap(), 0.1, "frontend error_rate sample");
    within(value("service/frontend", "request_rate_rps").unwrap(), rate, "frontend request_rate_rps sample");
    within(value("service/frontend", "call_error_rate:external/api.payments.example").unwrap(), 0.1, "payments");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let limits = BodyLimits::default();
        for format in [Format::Protobuf, Format::Json] {
            for encoding in [Encoding::Identity, Encoding::Gzip] {
                if let Ok(request) = decode(&bytes, format, encoding, limits) {
                    let mut traces = Traces::default();
                    traces.ingest(&request);
                    traces.flush();
                    let _ = traces.drain().observation();
                }
            }
        }
    }

    #[test]
    fn truncated_and_altered_requests_never_panic(
        cut in 0usize..4096,
        flips in proptest::collection::vec((0usize..4096, any::<u8>()), 0..4),
        kinds in proptest::collection::vec(0i32..8, 6),
    ) {
        let spans: Vec<Span> = kinds.iter().enumerate().map(|(i, &kind)| {
            span(1, i as u64 + 1, i as u64, kind, (i as u64, 10 + i as u64), &[("server.address", "x"), ("db.system", "redis")], i % 2 == 0)
        }).collect();
        let mut body = request("svc", spans).encode_to_vec();
        for (at, byte) in flips {
            if !body.is_empty() {
                let at = at % body.len();
                body[at] = byte;
            }
        }
        body.truncate(cut.min(body.len()));
        if let Ok(request) = decode(&body, Format::Protobuf, Encoding::Identity, BodyLimits::default()) {
            let mut traces = Traces::new(Limits { max_pending: 3, max_edges: 2, max_names: 3, ..Limits::default() });
            traces.ingest(&request);
            traces.ingest(&request);
            let _ = traces.drain().observation();
            traces.flush();
            let _ = traces.drain().observation();
        }
    }
}
