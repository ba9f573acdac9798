//! Prediction: a series' forecast, every risk ahead, anomalies and root causes.

use crate::api::{Answer, AppState, Caller, Query, answer};
use crate::error::ApiError;
use crate::handlers::read::series_of;
use axum::extract::{Path, State};
use doppel_foresight::stored;
use serde::Deserialize;
use serde_json::json;

/// Reads a duration (`7d`, `12h`, `30m`, `90s`, `2w`) of at most 400 days into milliseconds.
pub fn duration_ms(text: &str, place: &str) -> Result<i64, ApiError> {
    let seconds = doppel_model::units::parse_duration(text).map_err(|e| ApiError::invalid(place, e))?;
    if seconds > 400.0 * 86_400.0 {
        return Err(ApiError::invalid(place, format!("'{text}': expected at most 400 days")));
    }
    Ok((seconds * 1000.0) as i64)
}

fn level_of(level: Option<f64>) -> Result<f64, ApiError> {
    let level = level.unwrap_or(0.9);
    if level > 0.0 && level < 1.0 {
        Ok(level)
    } else {
        Err(ApiError::invalid("query parameter level", "expected a share between 0 and 1 (0.9 for 90%)"))
    }
}

fn blocking_error(e: tokio::task::JoinError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// Query of `GET /forecast/...`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastQuery {
    horizon: Option<String>,
    level: Option<f64>,
}

/// `GET /forecast/{key}/{attribute}`: a series ahead with its interval, its recent
/// history on the forecast's step, and when it crosses the entity's limit.
pub async fn series_forecast(
    State(live): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    Query(q): Query<ForecastQuery>,
) -> Answer {
    let (key, attribute) = series_of(&caller, &path)?;
    let horizon_ms = duration_ms(q.horizon.as_deref().unwrap_or("7d"), "query parameter horizon")?;
    let level = level_of(q.level)?;
    let twin = caller.twin.clone();
    tokio::task::spawn_blocking(move || {
        let ahead = live.with_store(|store| {
            stored::forecast_series(store, twin.as_ref(), &key, &attribute, horizon_ms, level)
                .map_err(|e| ApiError::unprocessable(format!("{key}.{attribute}: {e}")))
        })?;
        let f = &ahead.forecast;
        answer(&json!({
            "entity": key,
            "attribute": attribute,
            "unit": doppel_foresight::units::unit_of(&attribute),
            "model": f.model,
            "level": level,
            "step_ms": f.step_ms,
            "history": ahead.shown,
            "forecast": ahead.points(),
            "limit": ahead.limit,
            "crossing": ahead.crossing,
        }))
    })
    .await
    .map_err(blocking_error)?
}

/// Query of `GET /predictions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionsQuery {
    horizon: Option<String>,
    level: Option<f64>,
}

/// `GET /predictions`: every risk ahead, soonest first: limits crossed, the first SLO
/// breach with its fix checked on a fork, model drift.
pub async fn predictions(State(live): State<AppState>, caller: Caller, Query(q): Query<PredictionsQuery>) -> Answer {
    let horizon_ms = duration_ms(q.horizon.as_deref().unwrap_or("14d"), "query parameter horizon")?;
    let level = level_of(q.level)?;
    let twin = caller.twin.clone();
    let found = tokio::task::spawn_blocking(move || {
        live.with_store(|store| {
            stored::risks(store, twin.as_ref(), horizon_ms, level, &|_, _| {}).map_err(ApiError::unprocessable)
        })
    })
    .await
    .map_err(blocking_error)??;
    answer(&json!({"horizon_ms": horizon_ms, "level": level, "risks": found.risks, "not_forecast": found.not_forecast}))
}

/// Query of `GET /anomalies`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomaliesQuery {
    since: Option<String>,
    entity: Option<String>,
}

/// `GET /anomalies`: incidents in the stored series since a time before the newest sample.
pub async fn anomalies(State(live): State<AppState>, caller: Caller, Query(q): Query<AnomaliesQuery>) -> Answer {
    let since_ms = duration_ms(q.since.as_deref().unwrap_or("1d"), "query parameter since")?;
    let entity = match &q.entity {
        Some(text) => Some(caller.entity(text, "query parameter entity")?.key.clone()),
        None => None,
    };
    let found = tokio::task::spawn_blocking(move || {
        live.with_store(|store| {
            stored::incidents_since(store, entity.as_ref(), since_ms).map_err(ApiError::unprocessable)
        })
    })
    .await
    .map_err(blocking_error)??;
    answer(&found)
}

/// Query of `GET /rca`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RcaQuery {
    at: Option<i64>,
    window: Option<String>,
}

/// `GET /rca`: why entry points were slow in the window ending at `at` (default: the
/// newest sample), causes ranked.
pub async fn rca(State(live): State<AppState>, caller: Caller, Query(q): Query<RcaQuery>) -> Answer {
    let window_ms = duration_ms(q.window.as_deref().unwrap_or("15m"), "query parameter window")?;
    let twin = caller.twin.clone();
    tokio::task::spawn_blocking(move || {
        live.with_store(|store| {
            let newest = store.series_newest()?;
            let at_ms = match (q.at, newest) {
                (Some(at), _) => at,
                (None, Some(n)) => n,
                (None, None) => {
                    return Err(ApiError::not_found(
                        "no stored series to explain from: `doppel observe` or `doppel sync` store some",
                    ));
                }
            };
            let explanation =
                stored::explain_at(store, twin.as_ref(), at_ms, window_ms).map_err(ApiError::unprocessable)?;
            answer(&json!({"at_ms": at_ms, "window_ms": window_ms, "answer": explanation}))
        })
    })
    .await
    .map_err(blocking_error)?
}

/// The newest sample time in the store, if any.
trait Newest {
    fn series_newest(&self) -> Result<Option<i64>, ApiError>;
}

impl<S: doppel_store::Store> Newest for S {
    fn series_newest(&self) -> Result<Option<i64>, ApiError> {
        Ok(self.series()?.iter().map(|s| s.last_ms).max())
    }
}
