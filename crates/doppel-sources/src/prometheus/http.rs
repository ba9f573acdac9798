//! The remote-write HTTP endpoint (`POST /api/v1/write`) as an axum router, for
//! `doppel receive` now and `doppel serve` later, and a blocking server around it.
//! The body is refused before it is read when its declared length is over the limit, and
//! reading stops at the limit when no length is declared. At most [`READING`] bodies are
//! read and decoded at once (the others wait, unread), so a flood of requests holds at most
//! that many bodies in memory.

use super::remote_write::{Ingested, Receiver, RemoteWriteError, check_headers};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use std::sync::Arc;

/// Where bound samples go (the store, in `doppel receive`); its error is answered with 500.
pub type Sink = Arc<dyn Fn(Ingested) -> Result<(), String> + Send + Sync>;

/// Requests whose bodies are read and decoded at once.
pub const READING: usize = 4;

#[derive(Clone)]
struct AppState {
    receiver: Arc<Receiver>,
    sink: Sink,
    reading: Arc<tokio::sync::Semaphore>,
}

/// The router: `POST /api/v1/write`.
pub fn router(receiver: Arc<Receiver>, sink: Sink) -> Router {
    let reading = Arc::new(tokio::sync::Semaphore::new(READING));
    Router::new().route("/api/v1/write", post(write)).with_state(AppState { receiver, sink, reading })
}

fn refuse(error: &RemoteWriteError) -> (StatusCode, String) {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, format!("{error}\n"))
}

async fn write(State(state): State<AppState>, headers: HeaderMap, body: Body) -> (StatusCode, String) {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(error) = check_headers(text(header::CONTENT_TYPE), text(header::CONTENT_ENCODING)) {
        return refuse(&error);
    }
    let limit = state.receiver.limits().max_body_bytes;
    if let Some(length) = text(header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok())
        && length > limit as u64
    {
        return refuse(&RemoteWriteError::TooLarge { what: "request body", size: length, limit: limit as u64 });
    }
    // Never closed, so acquiring cannot fail; held until the samples are stored.
    let Ok(_permit) = state.reading.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "remote-write: the receiver is shutting down\n".to_string());
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error =
                RemoteWriteError::TooLarge { what: "request body", size: limit as u64 + 1, limit: limit as u64 };
            return refuse(&error);
        }
    };
    let ingested = match state.receiver.ingest(&bytes) {
        Ok(ingested) => ingested,
        Err(error) => return refuse(&error),
    };
    match (state.sink)(ingested) {
        Ok(()) => (StatusCode::NO_CONTENT, String::new()),
        Err(message) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("remote-write: cannot store the samples: {message}\n"))
        }
    }
}

/// Serves the router on `listener` until `max_requests` writes were answered (forever when
/// `None`), on a single-threaded runtime of its own.
pub fn serve_blocking(
    listener: std::net::TcpListener,
    receiver: Arc<Receiver>,
    sink: Sink,
    max_requests: Option<usize>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    runtime.block_on(async move {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let done = Arc::new(tokio::sync::Notify::new());
        let counted: Sink = match max_requests {
            None => sink,
            Some(max) => {
                let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let done = done.clone();
                Arc::new(move |ingested| {
                    let result = sink(ingested);
                    if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= max {
                        done.notify_one();
                    }
                    result
                })
            }
        };
        let app = router(receiver, counted);
        axum::serve(listener, app).with_graceful_shutdown(async move { done.notified().await }).await
    })
}
