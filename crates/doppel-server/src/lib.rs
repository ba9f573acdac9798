//! `doppel serve`: the twin over HTTP.
//!
//! Entities, history, series and every analysis as JSON under `/api/v1`, with tokens
//! and roles (argon2-hashed, [`auth`]), scopes enforced on every answer and event
//! ([`scope`], [`redact`]), an audit log, body and rate limits, live updates by
//! server-sent events, long analyses as jobs, the OpenAPI document generated from the
//! endpoint table ([`endpoints`]), and the web UI embedded in the binary ([`ui`]).

pub mod api;
pub mod audit;
pub mod auth;
pub mod endpoints;
pub mod error;
pub mod handlers;
pub mod health;
pub mod jobs;
pub mod live;
pub mod rate;
pub mod redact;
pub mod scope;
pub mod ui;

pub use auth::{Role, TokenInfo, Tokens};
pub use error::ApiError;
pub use live::{Event, Limits, Live};

use axum::Router;
use axum::routing::get;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to serve.
#[derive(Debug, Clone)]
pub struct Config {
    /// The store's file (it must exist).
    pub store: PathBuf,
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Serve without tokens (everyone is admin); refused unless every address is loopback.
    pub no_auth: bool,
    /// Certificate chain and private key (PEM) for TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Body size and request rate limits.
    pub limits: Limits,
    /// How often to look for commits made by other processes.
    pub poll: Duration,
}

/// What a started server tells its user.
#[derive(Debug, Clone)]
pub struct Started {
    /// Where it listens (ports resolved).
    pub addrs: Vec<SocketAddr>,
    /// The base URL of the first address.
    pub url: String,
    /// An admin token made at this start, because the store had no usable token.
    pub admin_token: Option<String>,
}

/// Checks a configuration before anything is opened: safe defaults are enforced here.
pub fn check(config: &Config) -> Result<(), ApiError> {
    if config.listen.is_empty() {
        return Err(ApiError::invalid("--listen", "give at least one address"));
    }
    if config.no_auth
        && let Some(open) = config.listen.iter().find(|a| !a.ip().is_loopback())
    {
        return Err(ApiError::invalid(
            "--no-auth",
            format!(
                "refusing to serve without tokens on {open}, which is not a loopback address: anyone who can reach it would read and change the twin. Drop --no-auth (tokens are made with `doppel token create`) or listen on 127.0.0.1"
            ),
        ));
    }
    if config.limits.max_body < 1024 {
        return Err(ApiError::invalid("--max-body", "expected at least 1024 bytes"));
    }
    Ok(())
}

/// The whole application: the API, the OpenAPI document and the UI.
pub fn app(live: Arc<Live>) -> Router {
    let (api, doc) = api::router(endpoints::all(), live);
    let doc = Arc::new(doc);
    let ui = Router::new().route("/", get(ui::index)).route("/ui/{*path}", get(ui::asset)).route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json((*doc).clone()) }
        }),
    );
    api.merge(ui)
}

/// Opens the store, makes a first admin token if none works, binds every address and
/// serves until `shutdown` completes; `started` is called once listening.
pub async fn serve(
    config: Config,
    started: impl FnOnce(&Started),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    check(&config)?;
    let live = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Live::open(&config.store, config.limits.clone(), config.no_auth))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??
    };
    let live = Arc::new(live);
    let admin_token = if config.no_auth || !live.tokens.none_usable(api::now_ms())? {
        None
    } else {
        Some(live.tokens.create("admin (made at first start)", Role::Admin, &[], None, api::now_ms())?.1)
    };
    let tls = match &config.tls {
        None => None,
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
                ApiError::invalid("--tls-cert", format!("reading {} and {}: {e}", cert.display(), key.display()))
            })?)
        }
    };
    let mut listeners = Vec::new();
    for addr in &config.listen {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| ApiError::invalid("--listen", format!("cannot listen on {addr}: {e}")))?;
        listener.set_nonblocking(true).map_err(|e| ApiError::internal(e.to_string()))?;
        listeners.push(listener);
    }
    let addrs: Vec<SocketAddr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
    let scheme = if tls.is_some() { "https" } else { "http" };
    started(&Started { url: format!("{scheme}://{}", addrs[0]), addrs: addrs.clone(), admin_token });

    // Commits by other processes (`doppel sync`, `doppel load`) reach the server here.
    let watcher = live.clone();
    let poll = config.poll;
    tokio::spawn(async move {
        // The twin's version and the store's count of sample batches at the last look:
        // either moving means the forecasts may have moved.
        let mut looked_at: Option<(u64, u64)> = None;
        let mut told = std::collections::HashMap::new();
        let mut last_look = std::time::Instant::now();
        let mut gap = Duration::from_secs(30);
        loop {
            tokio::time::sleep(poll).await;
            // The store's head and its count of sample batches, in one trip to a blocking thread.
            let live = watcher.clone();
            let appended = tokio::task::spawn_blocking(move || {
                if let Err(e) = live.refresh() {
                    eprintln!("doppel serve: reading the store's new versions: {e}");
                }
                live.with_store(|store| Ok(doppel_store::Store::samples_appended(store)?))
                    .inspect_err(|e| eprintln!("doppel serve: reading the store's telemetry count: {e}"))
                    .ok()
            })
            .await
            .ok()
            .flatten()
            // Unreadable: as at the last look.
            .unwrap_or_else(|| looked_at.map_or(0, |(_, n)| n));
            // After the twin changes or telemetry arrives, the telemetry's health signals
            // are read and the predictions run again (at most every 30 s, or ten times as
            // long as they took), and each risk not seen before is told to listeners.
            let version = doppel_model::TwinView::version(watcher.twin().as_ref());
            let now = (version, appended);
            // Telemetry goes stale with time alone: the signals are read again at least
            // every minute.
            let stale = last_look.elapsed() >= gap.max(Duration::from_secs(60));
            let moved = looked_at != Some(now);
            if (moved || stale) && (looked_at.is_none() || last_look.elapsed() >= gap) {
                last_look = std::time::Instant::now();
                let live = watcher.clone();
                let first = looked_at.is_none();
                looked_at = Some(now);
                let found = tokio::task::spawn_blocking(move || {
                    if let Err(e) = live.refresh_signals(api::now_ms()) {
                        eprintln!("doppel serve: reading the telemetry's signals: {e}");
                    }
                    // Risks move only with the twin or the telemetry.
                    if moved { new_risks(&live) } else { Ok(Vec::new()) }
                })
                .await
                .ok()
                .and_then(Result::ok);
                // On a large estate the forecasts take a while: keep them under a tenth of a core.
                gap = Duration::from_secs(30).max(last_look.elapsed() * 10);
                for (id, at_ms, risk) in found.unwrap_or_default() {
                    if is_news(&mut told, id, at_ms) && !first {
                        let _ = watcher.events.send(Event::Risk { risk });
                    }
                }
            }
        }
    });

    let app = app(live).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners {
        let (app, handle) = (app.clone(), handle.clone());
        match &tls {
            Some(tls) => {
                let server = axum_server::from_tcp_rustls(listener, tls.clone())
                    .map_err(|e| ApiError::internal(e.to_string()))?
                    .handle(handle);
                servers.spawn(async move { server.serve(app).await });
            }
            None => {
                let server =
                    axum_server::from_tcp(listener).map_err(|e| ApiError::internal(e.to_string()))?.handle(handle);
                servers.spawn(async move { server.serve(app).await });
            }
        }
    }
    while let Some(done) = servers.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ApiError::internal(format!("serving: {e}"))),
            Err(e) => return Err(ApiError::internal(format!("serving: {e}"))),
        }
    }
    Ok(())
}

/// What tells one risk from another: its kind and subject.
type RiskId = (String, String);

/// How far a risk's time must move to be told again.
const MOVED_MS: i64 = 6 * 3_600_000;

/// Whether a risk is news: never told, or told for a time more than six hours away.
fn is_news(told: &mut std::collections::HashMap<RiskId, i64>, id: RiskId, at_ms: i64) -> bool {
    match told.get(&id) {
        Some(&before) if (at_ms - before).abs() <= MOVED_MS => false,
        _ => {
            told.insert(id, at_ms);
            true
        }
    }
}

/// The risks the predictions find now, each with what identifies it and its time.
fn new_risks(live: &Live) -> Result<Vec<(RiskId, i64, serde_json::Value)>, ApiError> {
    let twin = live.twin();
    let found = live.with_store(|store| {
        doppel_foresight::stored::risks(store, twin.as_ref(), 14 * 86_400_000, 0.9, &|_, _| {})
            .map_err(ApiError::unprocessable)
    })?;
    Ok(found
        .risks
        .into_iter()
        .filter_map(|r| {
            let id = (r.kind.to_string(), r.subject.clone());
            serde_json::to_value(&r).ok().map(|v| (id, r.at_ms, v))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_risk_is_told_again_only_when_it_moves_by_more_than_six_hours() {
        let mut told = std::collections::HashMap::new();
        let disk = || ("saturation".to_string(), "datastore/orders-db.disk_used_bytes".to_string());
        let hour = 3_600_000;
        assert!(is_news(&mut told, disk(), 100 * hour));
        // Jitter across any boundary is not news; six hours from the time told is not either.
        assert!(!is_news(&mut told, disk(), 100 * hour + 1));
        assert!(!is_news(&mut told, disk(), 106 * hour));
        assert!(!is_news(&mut told, disk(), 94 * hour));
        assert!(is_news(&mut told, disk(), 107 * hour));
        assert!(!is_news(&mut told, disk(), 102 * hour), "measured from the time last told");
        assert!(is_news(&mut told, ("slo".to_string(), "service/catalog".to_string()), 100 * hour));
    }
}
