//! The OTLP traces ingest benchmark: protobuf `ExportTraceServiceRequest`s shaped like an
//! SDK's batches (one service's spans a request, 512 spans at most, HTTP semantic-convention
//! attributes) decoded and fed into the call graph by
//! `doppel_sources::otlp::{decode, Traces::ingest}` on this thread, the graph drained after
//! each round. A trace is a request through five spans of three services: the entry
//! service's SERVER span and its CLIENT call, the callee's SERVER span and its CLIENT call to
//! an uninstrumented datastore, and a CLIENT call from the entry service to an external API;
//! callees' spans come in other requests than their callers', so joins wait in the pending
//! map. Encoding happens before the clock starts. Prints one JSON line: spans, CPU seconds
//! (from `/proc/thread-self/schedstat`) and spans per CPU-second.
//!
//! `cargo run --release -p doppel-bench --bin otlp-bench -- [--traces N] [--services S] [--rounds M]`

use doppel_bench::thread_cpu_s;
use doppel_sources::otlp::{BodyLimits, Encoding, Format, Limits, Traces, decode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::json;

const BATCH: usize = 512;

fn main() {
    if let Err(err) = real_main() {
        eprintln!("otlp-bench: {err}");
        std::process::exit(2);
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(Value::StringValue(value.into())) }),
        ..KeyValue::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(Value::IntValue(value)) }), ..KeyValue::default() }
}

struct Ids {
    trace: u128,
    next: u64,
}

impl Ids {
    fn span(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

#[allow(clippy::too_many_arguments)]
fn span(
    ids: &Ids,
    id: u64,
    parent: u64,
    name: &str,
    kind: i32,
    start: u64,
    end: u64,
    attributes: Vec<KeyValue>,
    error: bool,
) -> Span {
    Span {
        trace_id: ids.trace.to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 { Vec::new() } else { parent.to_be_bytes().to_vec() },
        flags: 0x301,
        name: name.into(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        status: error.then(|| Status { message: "Internal Server Error".into(), code: 2 }),
        ..Span::default()
    }
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    let resource = Resource {
        attributes: vec![
            text("service.name", service),
            text("service.version", "1.4.2"),
            text("telemetry.sdk.language", "python"),
            text("telemetry.sdk.name", "opentelemetry"),
            text("telemetry.sdk.version", "1.45.2"),
            text("host.name", &format!("{service}-7d9f8c6b5-x2x4q")),
        ],
        ..Resource::default()
    };
    let scope = InstrumentationScope {
        name: "opentelemetry.instrumentation.flask".into(),
        version: "0.56b0".into(),
        ..InstrumentationScope::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans { scope: Some(scope), spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
}

fn real_main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut traces_n, mut services, mut rounds) = (40_000usize, 20usize, 10usize);
    while let Some(arg) = args.next() {
        let value: usize =
            args.next().ok_or(format!("{arg} needs a value"))?.parse().map_err(|e| format!("{arg}: {e}"))?;
        match arg.as_str() {
            "--traces" => traces_n = value,
            "--services" => services = value.max(2),
            "--rounds" => rounds = value,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    // Spans per service, in the order an SDK would export them (children end first).
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); services];
    let t0: u64 = 1_795_168_800_000_000_000;
    for t in 0..traces_n {
        let mut ids =
            Ids { trace: 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736 ^ ((t as u128) << 64 | t as u128), next: 0 };
        let start = t0 + t as u64 * 1_000_000;
        let (entry, callee) = (t % services, (t * 7 + 1) % services);
        let callee = if callee == entry { (callee + 1) % services } else { callee };
        let callee_name = format!("svc-{callee}");
        let (root, call, served, db, pay) = (ids.span(), ids.span(), ids.span(), ids.span(), ids.span());
        let route = format!("/api/v1/items/{}", t % 13);
        let error = t % 50 == 0;
        by_service[callee].push(span(
            &ids,
            db,
            served,
            "SELECT shop.items",
            3,
            start + 9_000_000,
            start + 14_000_000,
            vec![
                text("db.system", "postgresql"),
                text("db.name", "shop"),
                text("db.statement", "SELECT id, name, price FROM items WHERE id = $1"),
                text("server.address", "pg-0.pg.shop.svc"),
                int("server.port", 5432),
            ],
            false,
        ));
        by_service[callee].push(span(
            &ids,
            served,
            call,
            &format!("GET {route}"),
            2,
            start + 6_000_000,
            start + 20_000_000,
            vec![
                text("http.request.method", "GET"),
                text("http.route", &route),
                text("url.path", &route),
                text("url.scheme", "http"),
                int("http.response.status_code", if error { 500 } else { 200 }),
                text("network.protocol.version", "1.1"),
                text("user_agent.original", "python-requests/2.32.3"),
            ],
            error,
        ));
        by_service[entry].push(span(
            &ids,
            call,
            root,
            &format!("GET {route}"),
            3,
            start + 5_000_000,
            start + 21_000_000,
            vec![
                text("http.request.method", "GET"),
                text("server.address", &callee_name),
                int("server.port", 8080),
                text("url.full", &format!("http://{callee_name}:8080{route}")),
                int("http.response.status_code", if error { 500 } else { 200 }),
            ],
            error,
        ));
        by_service[entry].push(span(
            &ids,
            pay,
            root,
            "POST",
            3,
            start + 22_000_000,
            start + 40_000_000,
            vec![
                text("http.request.method", "POST"),
                text("server.address", "api.payments.example"),
                int("server.port", 443),
                text("url.full", "https://api.payments.example/v1/charges"),
                int("http.response.status_code", 200),
            ],
            false,
        ));
        by_service[entry].push(span(
            &ids,
            root,
            0,
            "GET /checkout",
            2,
            start,
            start + 45_000_000,
            vec![
                text("http.request.method", "GET"),
                text("http.route", "/checkout"),
                text("url.path", "/checkout"),
                text("url.scheme", "https"),
                int("http.response.status_code", if error { 500 } else { 200 }),
                text("client.address", "10.0.3.17"),
                text("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
            ],
            error,
        ));
    }
    let mut per_service: Vec<Vec<Vec<u8>>> = Vec::new();
    for (s, spans) in by_service.into_iter().enumerate() {
        let name = format!("svc-{s}");
        let mut batches = Vec::new();
        let mut spans = spans.into_iter().peekable();
        while spans.peek().is_some() {
            let batch: Vec<Span> = spans.by_ref().take(BATCH).collect();
            batches.push(request(&name, batch).encode_to_vec());
        }
        per_service.push(batches);
    }
    // The services' batches in turns, as concurrent exporters' requests would arrive.
    let most = per_service.iter().map(Vec::len).max().unwrap_or(0);
    let bodies: Vec<Vec<u8>> =
        (0..most).flat_map(|i| per_service.iter().filter_map(move |b| b.get(i).cloned())).collect();
    let body_bytes: usize = bodies.iter().map(Vec::len).sum();
    let limits = BodyLimits { max_body_bytes: 64 << 20, max_decoded_bytes: 64 << 20 };
    let mut traces = Traces::new(Limits::default());
    let (mut spans_in, mut edges, mut calls) = (0u64, 0usize, 0u64);
    let before = thread_cpu_s().ok_or("no /proc/thread-self/schedstat")?;
    for _ in 0..rounds {
        for body in &bodies {
            let request = decode(body, Format::Protobuf, Encoding::Identity, limits).map_err(|e| e.to_string())?;
            spans_in += traces.ingest(&request).spans as u64;
        }
        traces.flush();
        let graph = traces.drain();
        edges = graph.edges.len();
        calls += graph.edges.iter().map(|e| e.calls).sum::<u64>();
    }
    let cpu_s = thread_cpu_s().ok_or("no /proc/thread-self/schedstat")? - before;
    println!(
        "{}",
        json!({
            "traces_per_round": traces_n,
            "services": services,
            "requests": bodies.len() * rounds,
            "mean_body_bytes": body_bytes / bodies.len().max(1),
            "spans": spans_in,
            "edges": edges,
            "calls": calls,
            "cpu_s": cpu_s,
            "spans_per_cpu_s": spans_in as f64 / cpu_s,
        })
    );
    Ok(())
}
