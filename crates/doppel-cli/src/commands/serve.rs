//! `doppel serve` and `doppel token`: the twin over HTTP, and who may use it.

use crate::args::TokenAction;
use crate::exit;
use crate::output::{BOLD, DIM, Output};
use crate::time::{format_ms, now_ms};
use anyhow::Result;
use doppel_server::{ApiError, Config, Limits, Role, Tokens};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How `doppel serve` was asked to serve.
pub struct ServeArgs {
    /// Addresses.
    pub listen: Vec<SocketAddr>,
    /// No tokens (loopback only).
    pub no_auth: bool,
    /// Certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Largest body.
    pub max_body: usize,
    /// Requests a second per token.
    pub rate: f64,
}

fn server_error(e: ApiError) -> anyhow::Error {
    let text = e.to_string();
    match e.status {
        400 => exit::usage(text),
        404 => exit::not_found(text),
        503 => exit::unavailable(text),
        _ => anyhow::anyhow!(text),
    }
}

/// The lines a started server prints: the first two are read by scripts and tests.
pub fn print_started(started: &doppel_server::Started, no_auth: bool, out: &Output) {
    anstream::println!("listening {}", started.url);
    if let Some(token) = &started.admin_token {
        anstream::println!("admin token {token}");
    }
    let open = match &started.admin_token {
        Some(token) => format!("{}/#token={token}", started.url),
        None => format!("{}/", started.url),
    };
    out.line(&format!("{BOLD}Doppel is serving the twin{BOLD:#}: open {open}"));
    if started.admin_token.is_some() {
        out.hint("the admin token above is shown once: keep it, or make others with `doppel token create NAME --role viewer`");
    } else if no_auth {
        out.hint("no tokens needed (--no-auth): anyone on this machine is admin");
    } else {
        out.hint("sign in with a token from `doppel token create NAME --role viewer`");
    }
    for addr in &started.addrs {
        if !addr.ip().is_loopback() && !open.starts_with("https") {
            out.hint(&format!("{addr} is reachable from other machines without TLS: tokens cross the network in clear; give --tls-cert and --tls-key"));
        }
    }
    out.hint("API reference: /#/api; OpenAPI: /api/v1/openapi.json; Ctrl-C stops");
}

/// Runs `doppel serve` until Ctrl-C or SIGTERM.
pub fn run(store: &Path, args: &ServeArgs, out: &Output) -> Result<()> {
    if !store.exists() {
        return Err(exit::not_found(format!(
            "no store at {}: load an estate first (`doppel --store {} load examples/shop/`)",
            store.display(),
            store.display()
        )));
    }
    let config = Config {
        store: store.to_path_buf(),
        listen: args.listen.clone(),
        no_auth: args.no_auth,
        tls: args.tls.clone(),
        limits: Limits { max_body: args.max_body, rate_per_s: args.rate },
        poll: Duration::from_secs(1),
    };
    doppel_server::check(&config).map_err(server_error)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let no_auth = args.no_auth;
    runtime
        .block_on(doppel_server::serve(config, |started| print_started(started, no_auth, out), stop_signal()))
        .map_err(server_error)
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `doppel token`.
pub fn token(store: &Path, action: &TokenAction, out: &Output) -> Result<()> {
    if !store.exists() {
        return Err(exit::not_found(format!("no store at {}", store.display())));
    }
    doppel_store::SqliteStore::open_existing(store)?;
    let tokens = Tokens::open(store).map_err(server_error)?;
    match action {
        TokenAction::Create { name, role, scope, expires } => {
            let role = Role::parse(role)
                .ok_or_else(|| exit::usage(format!("--role '{role}': expected viewer, analyst, operator or admin")))?;
            doppel_server::scope::check(scope).map_err(server_error)?;
            let now = now_ms();
            let expires_ms = match expires {
                Some(text) => Some(now + (super::duration("--expires", text)? * 1000.0) as i64),
                None => None,
            };
            let (info, text) = tokens.create(name, role, scope, expires_ms, now).map_err(server_error)?;
            if out.json {
                return out.print_json(&serde_json::json!({"token": text, "info": info}));
            }
            anstream::println!("{text}");
            let scope = if info.scope.is_empty() { "the whole estate".to_string() } else { info.scope.join(" or ") };
            let until = info.expires_ms.map(|e| format!(", until {}", format_ms(e))).unwrap_or_default();
            out.hint(&format!("{} token '{}' (id {}) for {scope}{until}; shown once", info.role, info.name, info.id));
            Ok(())
        }
        TokenAction::List => {
            let list = tokens.list().map_err(server_error)?;
            if out.json {
                return out.print_json(&list);
            }
            if list.is_empty() {
                out.line("no tokens yet: `doppel serve` makes an admin token at its first start");
                return Ok(());
            }
            let mut table = out.table(&["id", "name", "role", "scope", "made", "expires", "state"]);
            let now = now_ms();
            for t in &list {
                let state = if t.revoked {
                    "revoked"
                } else if t.expires_ms.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                };
                table.add_row(vec![
                    t.id.clone(),
                    t.name.clone(),
                    t.role.to_string(),
                    if t.scope.is_empty() { "*".into() } else { t.scope.join(" | ") },
                    format_ms(t.created_ms),
                    t.expires_ms.map(format_ms).unwrap_or_else(|| "never".into()),
                    state.into(),
                ]);
            }
            out.print_table(&table);
            Ok(())
        }
        TokenAction::Revoke { id } => {
            if !tokens.revoke(id).map_err(server_error)? {
                return Err(exit::not_found(format!("no token '{id}': see `doppel token list`")));
            }
            out.line(&format!("{DIM}revoked{DIM:#} {id}"));
            Ok(())
        }
    }
}
