//! Reading the twin: summary, entities, walks, the map, history, series and forecasts.

use crate::api::{Answer, AppState, Caller, Query, answer};
use crate::error::ApiError;
use crate::health::health;
use axum::extract::{Path, State};
use doppel_model::{Direction, Key, Kind, RelKind, TwinView};
use doppel_store::{At, Store};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Query of `GET /twin`: nothing.
pub async fn twin(caller: Caller) -> Answer {
    let twin = &caller.twin;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut entities = 0;
    for e in twin.entities().filter(|e| caller.sees(&e.key)) {
        *by_kind.entry(e.key.kind().prefix()).or_default() += 1;
        entities += 1;
    }
    let relations = match &caller.scope {
        None => twin.relation_count(),
        Some(_) => twin.relations().filter(|r| caller.sees(r.from) && caller.sees(r.to)).count(),
    };
    Ok(axum::Json(json!({
        "version": twin.version(),
        "entities": entities,
        "relations": relations,
        "by_kind": by_kind,
        "scoped": caller.scope.is_some(),
        "role": caller.token.role,
    })))
}

/// Query of `GET /entities`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitiesQuery {
    select: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

/// `GET /entities`: entities a selector picks, by key, a page at a time.
pub async fn entities(State(live): State<AppState>, caller: Caller, Query(q): Query<EntitiesQuery>) -> Answer {
    let text = q.select.as_deref().unwrap_or("*");
    let selector = doppel_model::Selector::parse(text)
        .map_err(|e| ApiError::invalid("query parameter select", format!("'{text}': {e}")))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let twin = caller.twin.clone();
    let signals = live.signals();
    let mut picked: Vec<_> = selector.select(twin.as_ref()).into_iter().filter(|e| caller.sees(&e.key)).collect();
    picked.sort_by(|a, b| a.key.cmp(&b.key));
    let total = picked.len();
    let start = match &q.after {
        Some(after) => picked.partition_point(|e| e.key.to_string().as_str() <= after.as_str()),
        None => 0,
    };
    let page: Vec<Value> = picked[start..]
        .iter()
        .take(limit)
        .map(|e| {
            json!({
                "key": e.key,
                "kind": e.key.kind().prefix(),
                "name": e.key.name(),
                "labels": e.labels,
                "summary": doppel_model::describe::summary(e),
                "health": health(twin.as_ref(), e, &signals),
            })
        })
        .collect();
    let next = (start + page.len() < total).then(|| page.last().map(|v| v["key"].clone())).flatten();
    Ok(axum::Json(json!({ "total": total, "entities": page, "next": next })))
}

/// `GET /entities/{key}`: one entity with its relations, series and freshness.
pub async fn entity(State(live): State<AppState>, caller: Caller, Path(key): Path<String>) -> Answer {
    let entity = caller.entity(&key, "path")?.clone();
    let twin = caller.twin.clone();
    let relation = |r: &doppel_model::RelationRef<'_>, other: &Key, dir: &str| json!({ "type": r.kind().name(), dir: other, "attrs": r.spec.to_fields() });
    let out: Vec<Value> =
        twin.out_relations(&entity.key).iter().filter(|r| caller.sees(r.to)).map(|r| relation(r, r.to, "to")).collect();
    let into: Vec<Value> = twin
        .in_relations(&entity.key)
        .iter()
        .filter(|r| caller.sees(r.from))
        .map(|r| relation(r, r.from, "from"))
        .collect();
    let k = entity.key.clone();
    let signals = live.signals();
    let (series, seen) = tokio::task::spawn_blocking(move || {
        let all = live.series()?;
        live.with_store(|store| {
            let name = k.to_string();
            let series: Vec<Value> = all
                .iter()
                .filter(|s| s.entity == name)
                .map(|s| json!({"attribute": s.attribute, "points": s.samples, "from_ms": s.first_ms, "to_ms": s.last_ms}))
                .collect();
            let seen: Vec<Value> = store
                .last_seen(&k)?
                .into_iter()
                .map(|s| json!({"source": s.source, "last_seen_ms": s.last_seen_ms}))
                .collect();
            Ok((series, seen))
        })
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    let mut fields = doppel_estate::emit::entity(&entity);
    let spec = fields.as_object_mut().map(|m| {
        m.remove("kind");
        m.remove("name");
        m.remove("labels");
        Value::Object(m.clone())
    });
    Ok(axum::Json(json!({
        "key": entity.key,
        "kind": entity.key.kind().prefix(),
        "name": entity.key.name(),
        "labels": entity.labels,
        "summary": doppel_model::describe::summary(&entity),
        "health": health(twin.as_ref(), &entity, &signals),
        "health_why": signals.get(&entity.key).map(|s| s.why.clone()).unwrap_or_default(),
        "spec": spec,
        "out": out,
        "in": into,
        "series": series,
        "seen": seen,
    })))
}

/// Query of `GET /graph`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphQuery {
    root: String,
    direction: Option<String>,
    depth: Option<usize>,
}

/// `GET /graph`: what an entity depends on, or what depends on it.
pub async fn graph(caller: Caller, Query(q): Query<GraphQuery>) -> Answer {
    let root = caller.entity(&q.root, "query parameter root")?.key.clone();
    let direction = match q.direction.as_deref().unwrap_or("deps") {
        "deps" | "dependencies" => Direction::Dependencies,
        "dependents" => Direction::Dependents,
        other => {
            return Err(ApiError::invalid(
                "query parameter direction",
                format!("'{other}': expected deps or dependents"),
            ));
        }
    };
    let steps = doppel_model::walk::walk(caller.twin.as_ref(), &root, direction, q.depth);
    answer(&steps)
}

/// Query of `GET /map`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapQuery {
    /// `placement` (default) or `services`.
    view: Option<String>,
}

/// The kinds the service view draws.
const SERVICE_KINDS: &[Kind] = &[Kind::Service, Kind::Datastore, Kind::Queue, Kind::External, Kind::LoadBalancer];

/// `GET /map`: every entity the caller sees with its placement parent and health, and
/// the edges between them that the map draws.
pub async fn map(State(live): State<AppState>, caller: Caller, Query(q): Query<MapQuery>) -> Answer {
    let services_only = match q.view.as_deref().unwrap_or("placement") {
        "placement" => false,
        "services" => true,
        other => {
            return Err(ApiError::invalid(
                "query parameter view",
                format!("'{other}': expected placement or services"),
            ));
        }
    };
    let twin = caller.twin.clone();
    let signals = live.signals();
    let caller2 = caller.clone();
    tokio::task::spawn_blocking(move || {
        let caller = caller2;
        let mut nodes = Vec::with_capacity(twin.entity_count());
        for e in twin.entities() {
            if !caller.sees(&e.key) || (services_only && !SERVICE_KINDS.contains(&e.key.kind())) {
                continue;
            }
            let out = twin.out_relations(&e.key);
            let parent = out
                .iter()
                .find(|r| r.kind() == RelKind::RunsOn && r.to.kind() == Kind::Node)
                .or_else(|| out.iter().find(|r| r.kind() == RelKind::LocatedIn))
                .map(|r| r.to.clone())
                .filter(|p| caller.sees(p));
            nodes.push(json!({
                "key": e.key,
                "kind": e.key.kind().prefix(),
                "name": e.key.name(),
                "parent": parent,
                "health": health(twin.as_ref(), e, &signals),
                "labels": e.labels,
            }));
        }
        let drawn = [
            RelKind::Calls,
            RelKind::DependsOn,
            RelKind::RoutesTo,
            RelKind::Exposes,
            RelKind::Backs,
            RelKind::ReplicatesTo,
        ];
        let edges: Vec<Value> = twin
            .relations()
            .filter(|r| drawn.contains(&r.kind()) && caller.sees(r.from) && caller.sees(r.to))
            .filter(|r| {
                !services_only || (SERVICE_KINDS.contains(&r.from.kind()) && SERVICE_KINDS.contains(&r.to.kind()))
            })
            .map(|r| {
                let rate = r.spec.to_fields().get("rate_rps").cloned().unwrap_or(Value::Null);
                json!({"from": r.from, "to": r.to, "type": r.kind().name(), "rate_rps": rate})
            })
            .collect();
        Ok(axum::Json(json!({ "version": twin.version(), "nodes": nodes, "edges": edges })))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Query of `GET /history`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    limit: Option<usize>,
}

/// `GET /history`: the change log, newest first.
pub async fn history(State(live): State<AppState>, Query(q): Query<HistoryQuery>) -> Answer {
    let limit = q.limit.unwrap_or(50).clamp(1, 10_000);
    let commits = tokio::task::spawn_blocking(move || live.with_store(|s| Ok(s.history(limit)?)))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    answer(&commits)
}

/// `GET /history/{version}`: the ChangeSet that made a version.
pub async fn changeset(State(live): State<AppState>, caller: Caller, Path(version): Path<String>) -> Answer {
    let v: u64 =
        version.parse().map_err(|_| ApiError::invalid("path", format!("'{version}' is not a version number")))?;
    if v == 0 || v > caller.twin.version() {
        return Err(ApiError::not_found(format!("no version {v}; the twin is at version {}", caller.twin.version())));
    }
    let changes = tokio::task::spawn_blocking(move || live.with_store(|s| Ok(s.changeset(v)?)))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    answer(
        &json!({"version": v, "summary": changes.summary(), "changes": changes.changes, "provenance": changes.provenance}),
    )
}

/// Query of `GET /diff`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    from: String,
    to: Option<String>,
}

fn version_of(text: &str, place: &str, head: u64) -> Result<u64, ApiError> {
    match text {
        "head" => Ok(head),
        _ => match text.parse::<u64>() {
            Ok(v) if v <= head => Ok(v),
            Ok(v) => Err(ApiError::invalid(place, format!("version {v} does not exist yet; the twin is at {head}"))),
            Err(_) => Err(ApiError::invalid(place, format!("'{text}': expected a version number or head"))),
        },
    }
}

/// `GET /diff`: what changed between two versions.
pub async fn diff(State(live): State<AppState>, caller: Caller, Query(q): Query<DiffQuery>) -> Answer {
    let head = caller.twin.version();
    let from = version_of(&q.from, "query parameter from", head)?;
    let to = version_of(q.to.as_deref().unwrap_or("head"), "query parameter to", head)?;
    tokio::task::spawn_blocking(move || {
        live.with_store(|s| {
            let a = s.twin_at(At::Version(from), None)?;
            let b = s.twin_at(At::Version(to), None)?;
            let changes = doppel_model::diff(&a, &b);
            Ok(json!({"from": from, "to": to, "summary": changes.summary(), "changes": changes.changes}))
        })
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map(axum::Json)
}

/// Splits `kind/name/attribute` into an entity the caller sees and an attribute: the
/// longest prefix that is an entity's key.
pub fn series_of(caller: &Caller, path: &str) -> Result<(Key, String), ApiError> {
    let mut cut = path.len();
    while let Some(slash) = path[..cut].rfind('/') {
        if let Ok(key) = path[..slash].parse::<Key>()
            && caller.twin.contains(&key)
        {
            if !caller.sees(&key) {
                break;
            }
            return Ok((key, path[slash + 1..].to_string()));
        }
        cut = slash;
    }
    Err(ApiError::not_found(format!("no entity in the twin starts '{path}' (expected KIND/NAME/ATTRIBUTE)")))
}

/// Query of `GET /series/...`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    from: Option<i64>,
    to: Option<i64>,
}

/// `GET /series/{key}/{attribute}`: stored samples of one series.
pub async fn series(
    State(live): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    Query(q): Query<SeriesQuery>,
) -> Answer {
    let (key, attribute) = series_of(&caller, &path)?;
    let (from, to) = (q.from.unwrap_or(i64::MIN), q.to.unwrap_or(i64::MAX));
    if from > to {
        return Err(ApiError::invalid("query parameter from", "from is after to"));
    }
    let (k, a) = (key.clone(), attribute.clone());
    let points = tokio::task::spawn_blocking(move || live.with_store(|s| Ok(s.samples(&k, &a, from, to)?)))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    if points.is_empty() && q.from.is_none() && q.to.is_none() {
        return Err(ApiError::not_found(format!("no series {key}.{attribute} in the store")));
    }
    answer(&json!({"entity": key, "attribute": attribute, "points": points}))
}
