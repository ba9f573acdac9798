//! The OTLP receivers: `POST /v1/traces` as an axum router (OTLP/HTTP, protobuf or JSON,
//! plain or gzip), the OTLP/gRPC `TraceService` for tonic, and [`Receivers`], a thread
//! serving either or both. Both feed one shared [`Traces`]; a refused request leaves it as
//! it was. A body whose declared length is over the limit is refused before it is read;
//! one without a declared length is read only up to the limit.

use super::decode::{BodyLimits, Format, OtlpError, check_headers, decode};
use super::traces::{Ingested, Traces};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::sync::{Arc, Mutex, MutexGuard};

/// The accumulator as the receivers share it.
pub type SharedTraces = Arc<Mutex<Traces>>;

fn lock(traces: &SharedTraces) -> MutexGuard<'_, Traces> {
    traces.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Clone)]
struct AppState {
    name: Arc<str>,
    traces: SharedTraces,
    limits: BodyLimits,
}

/// The router: `POST /v1/traces`, feeding `traces`; `name` is the source instance named in
/// error messages.
pub fn router(name: &str, traces: SharedTraces, limits: BodyLimits) -> Router {
    Router::new().route("/v1/traces", post(export)).with_state(AppState { name: name.into(), traces, limits })
}

fn refuse(name: &str, error: &OtlpError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, format!("source `{name}`: OTLP/HTTP POST /v1/traces: {error}; nothing was kept\n")).into_response()
}

fn partial_success(ingested: &Ingested) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: (ingested.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: ingested.rejected as i64,
            error_message: ingested.reason.clone().unwrap_or_default(),
        }),
    }
}

async fn export(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let (format, encoding) = match check_headers(text(header::CONTENT_TYPE), text(header::CONTENT_ENCODING)) {
        Ok(found) => found,
        Err(error) => return refuse(&state.name, &error),
    };
    let limit = state.limits.max_body_bytes;
    if let Some(length) = text(header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok())
        && length > limit as u64
    {
        return refuse(&state.name, &OtlpError::TooLarge { what: "request body", size: length, limit: limit as u64 });
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = OtlpError::TooLarge { what: "request body", size: limit as u64 + 1, limit: limit as u64 };
            return refuse(&state.name, &error);
        }
    };
    let request = match decode(&bytes, format, encoding, state.limits) {
        Ok(request) => request,
        Err(error) => return refuse(&state.name, &error),
    };
    drop(bytes);
    let ingested = lock(&state.traces).ingest(&request);
    let answer = partial_success(&ingested);
    match format {
        Format::Protobuf => {
            let content_type = HeaderValue::from_static("application/x-protobuf");
            (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], answer.encode_to_vec()).into_response()
        }
        Format::Json => {
            let content_type = HeaderValue::from_static("application/json");
            let body = serde_json::to_vec(&answer).unwrap_or_else(|_| b"{}".to_vec());
            (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
    }
}

/// The OTLP/gRPC trace service, feeding a shared [`Traces`].
#[derive(Clone)]
pub struct GrpcReceiver {
    traces: SharedTraces,
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let ingested = lock(&self.traces).ingest(&request);
        Ok(tonic::Response::new(partial_success(&ingested)))
    }
}

/// The gRPC service (`opentelemetry.proto.collector.trace.v1.TraceService`), accepting gzip,
/// refusing messages over `limits.max_body_bytes` (tonic answers OUT_OF_RANGE); a message tonic
/// cannot decode is answered with its status and never reaches `traces`.
pub fn grpc_service(traces: SharedTraces, limits: BodyLimits) -> TraceServiceServer<GrpcReceiver> {
    TraceServiceServer::new(GrpcReceiver { traces })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(limits.max_body_bytes)
}

/// How long open connections may take to finish once the receivers are told to stop.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The receivers running on a thread of their own (a single-threaded tokio runtime):
/// OTLP/HTTP, OTLP/gRPC or both, until [`Receivers::stop`].
pub struct Receivers {
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    http: Option<std::net::SocketAddr>,
    grpc: Option<std::net::SocketAddr>,
}

impl Receivers {
    /// Starts serving on the listeners given (already bound), feeding `traces`; `name` is
    /// the source instance named in error messages.
    pub fn start(
        name: &str,
        traces: SharedTraces,
        limits: BodyLimits,
        http: Option<std::net::TcpListener>,
        grpc: Option<std::net::TcpListener>,
    ) -> std::io::Result<Receivers> {
        let http_addr = http.as_ref().map(|l| l.local_addr()).transpose()?;
        let grpc_addr = grpc.as_ref().map(|l| l.local_addr()).transpose()?;
        for listener in http.iter().chain(grpc.iter()) {
            listener.set_nonblocking(true)?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let app = router(name, traces.clone(), limits);
        let service = grpc_service(traces, limits);
        let thread = std::thread::Builder::new().name("otlp-receivers".into()).spawn(move || {
            runtime.block_on(async move {
                let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
                    let _ = stopped.wait_for(|&stop| stop).await;
                };
                let (stopped_http, stopped_grpc) = (stopped.clone(), stopped.clone());
                let http = async move {
                    let Some(listener) = http else { return Ok(()) };
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    axum::serve(listener, app).with_graceful_shutdown(until_stopped(stopped_http)).await
                };
                let grpc = async move {
                    let Some(listener) = grpc else { return Ok(()) };
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    tonic::transport::Server::builder()
                        .add_service(service)
                        .serve_with_incoming_shutdown(
                            tonic::transport::server::TcpIncoming::from(listener),
                            until_stopped(stopped_grpc),
                        )
                        .await
                        .map_err(std::io::Error::other)
                };
                let serving = tokio::spawn(async move {
                    let (http, grpc) = tokio::join!(http, grpc);
                    http.and(grpc)
                });
                // Connections still open when told to stop get a grace period, then are cut.
                let abort = serving.abort_handle();
                tokio::spawn(async move {
                    until_stopped(stopped).await;
                    tokio::time::sleep(STOP_GRACE).await;
                    abort.abort();
                });
                match serving.await {
                    Ok(result) => result,
                    Err(error) if error.is_cancelled() => Ok(()),
                    Err(_) => Err(std::io::Error::other("the OTLP receivers panicked")),
                }
            })
        })?;
        Ok(Receivers { stop, thread: Some(thread), http: http_addr, grpc: grpc_addr })
    }

    /// Where OTLP/HTTP is served.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http
    }

    /// Where OTLP/gRPC is served.
    pub fn grpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.grpc
    }

    /// Whether the serving thread has ended (a listener failed).
    pub fn has_stopped(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops serving and waits for the thread; its error, if it failed.
    pub fn stop(mut self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(std::io::Error::other("the OTLP receiver thread panicked")),
            None => Ok(()),
        }
    }
}
