//! Tokens and the audit log (admin only).

use crate::api::{Answer, AppState, Caller, JsonBody, Query, answer, now_ms};
use crate::auth::Role;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// Body of `POST /tokens`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Selectors limiting what it sees (empty: everything).
    #[serde(default)]
    pub scope: Vec<String>,
    /// Seconds until it stops working (none: never).
    pub expires_in_s: Option<u64>,
}

/// `POST /tokens`: a new token; its text is in this answer only.
pub async fn create(State(live): State<AppState>, JsonBody(body): JsonBody<NewToken>) -> Response {
    let run = || -> Result<serde_json::Value, ApiError> {
        let name = body.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ApiError::invalid("name", "expected 1 to 100 characters"));
        }
        crate::scope::check(&body.scope)?;
        let now = now_ms();
        let expires = match body.expires_in_s {
            Some(0) => return Err(ApiError::invalid("expires_in_s", "expected at least 1 second")),
            Some(s) => Some(now.saturating_add(i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX))),
            None => None,
        };
        let (info, token) = live.tokens.create(name, body.role, &body.scope, expires, now)?;
        Ok(json!({"token": token, "info": info}))
    };
    match run() {
        Ok(value) => (StatusCode::CREATED, axum::Json(value)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /tokens`: every token, without secrets.
pub async fn list(State(live): State<AppState>) -> Answer {
    answer(&live.tokens.list()?)
}

/// `DELETE /tokens/{id}`: revoke a token.
pub async fn revoke(State(live): State<AppState>, caller: Caller, Path(id): Path<String>) -> Answer {
    if id == caller.token.id {
        return Err(ApiError::conflict("a token cannot revoke itself; use another admin token"));
    }
    if !live.tokens.revoke(&id)? {
        return Err(ApiError::not_found(format!("no token '{id}'")));
    }
    answer(&json!({"revoked": id}))
}

/// Query of `GET /audit`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<usize>,
}

/// `GET /audit`: the newest audit entries.
pub async fn audit(State(live): State<AppState>, Query(q): Query<AuditQuery>) -> Answer {
    answer(&live.audit.recent(q.limit.unwrap_or(100).clamp(1, 10_000))?)
}
