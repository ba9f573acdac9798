//! Changing the twin: estate files as a ChangeSet, and applying a predicted fix.

use crate::api::{Answer, AppState, Caller, JsonBody, answer};
use crate::error::ApiError;
use crate::handlers::analysis::diagnostics;
use crate::handlers::predict::duration_ms;
use axum::extract::State;
use doppel_estate::SourceFile;
use doppel_model::{ChangeSet, Provenance, TwinView};
use serde::Deserialize;
use serde_json::json;

/// One estate file of a request.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Its name, for error messages (`services.yaml`).
    pub path: String,
    /// Its contents (YAML or JSON estate file).
    pub text: String,
}

/// Body of `POST /changesets`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Estate files, applied as one ChangeSet.
    pub files: Vec<File>,
    /// Remove what the files do not mention (never outside the token's scope).
    #[serde(default)]
    pub prune: bool,
    /// Check and summarise only; store nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Why, for the history.
    pub message: Option<String>,
}

/// Refuses a ChangeSet that touches anything the caller cannot see.
fn within_scope(caller: &Caller, changes: &ChangeSet) -> Result<(), ApiError> {
    if caller.scope.is_none() {
        return Ok(());
    }
    for (i, key) in crate::live::touched(changes).iter().enumerate() {
        if !caller.sees(key) {
            return Err(ApiError::forbidden(format!(
                "change {i} touches an entity outside this token's scope (new entities must fall inside it too)"
            )));
        }
    }
    Ok(())
}

/// `POST /changesets`: estate files applied to the live twin as one ChangeSet.
pub async fn changesets(State(live): State<AppState>, caller: Caller, JsonBody(body): JsonBody<Change>) -> Answer {
    if body.files.is_empty() {
        return Err(ApiError::invalid("files", "give at least one estate file"));
    }
    tokio::task::spawn_blocking(move || {
        let files: Vec<SourceFile> =
            body.files.into_iter().map(|f| SourceFile { path: f.path, text: f.text }).collect();
        let estate = doppel_estate::parse(&files).map_err(|d| diagnostics(&d))?;
        let twin = caller.twin.clone();
        let mut plan = estate.plan(twin.as_ref(), body.prune);
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let mut changes = std::mem::take(&mut plan.changeset).with_provenance(Provenance {
            source: "api".into(),
            author: caller.token.name.clone(),
            summary: body.message.clone().unwrap_or_else(|| format!("apply {}", names.join(" "))),
        });
        if body.prune && caller.scope.is_some() {
            // A scoped token's prune removes only what it can see.
            changes.changes.retain(|c| match c {
                doppel_model::Change::RemoveEntity(k) => caller.sees(k),
                doppel_model::Change::RemoveRelation(k) => caller.sees(&k.from) && caller.sees(&k.to),
                _ => true,
            });
        }
        within_scope(&caller, &changes)?;
        if changes.is_empty() {
            return answer(&json!({"version": twin.version(), "changed": false}));
        }
        let mut fork = twin.fork();
        fork.apply(&changes).map_err(|e| diagnostics(&plan.explain(&e, &files)))?;
        if body.dry_run {
            return answer(&json!({"version": twin.version(), "changed": false, "would_change": changes.summary()}));
        }
        let commit = live.commit(&changes)?;
        answer(&json!({"version": commit.version, "changed": true, "commit": commit}))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Body of `POST /remediations/apply`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyFix {
    /// How far ahead the predictions look (`14d` by default).
    pub horizon: Option<String>,
    /// Store nothing: show the fix and whether it was checked.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /remediations/apply`: the fix of the first predicted SLO breach, found and checked
/// on a fork again now, committed to the twin.
pub async fn apply_fix(State(live): State<AppState>, caller: Caller, JsonBody(body): JsonBody<ApplyFix>) -> Answer {
    let horizon_ms = duration_ms(body.horizon.as_deref().unwrap_or("14d"), "horizon")?;
    tokio::task::spawn_blocking(move || {
        let twin = caller.twin.clone();
        let found = live.with_store(|store| {
            doppel_foresight::stored::risks(store, twin.as_ref(), horizon_ms, 0.9, &|_, _| {})
                .map_err(ApiError::unprocessable)
        })?;
        let Some((risk, fix)) = found.risks.iter().find_map(|r| r.remedy.as_ref().map(|f| (r, f))) else {
            return Err(ApiError::not_found("no predicted SLO breach with a fix within the horizon"));
        };
        if !fix.checked {
            return Err(ApiError::conflict(format!(
                "the fix for '{}' does not make every objective hold on a fork; it is not applied",
                risk.what
            )));
        }
        let changes = fix.changes.clone().with_provenance(Provenance {
            source: "remediation".into(),
            author: caller.token.name.clone(),
            summary: format!("prevent: {}", risk.what),
        });
        within_scope(&caller, &changes)?;
        if body.dry_run {
            return answer(&json!({"risk": risk, "changed": false}));
        }
        let commit = live.commit(&changes)?;
        answer(&json!({"risk": risk, "changed": true, "commit": commit}))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}
