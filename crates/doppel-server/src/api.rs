//! The API's frame: the table of endpoints (router, role checks and OpenAPI from one
//! place), the caller of a request, and the extractors that turn bad input into clear errors.

use crate::audit::AuditEntry;
use crate::auth::{Role, TokenInfo};
use crate::error::ApiError;
use crate::live::Live;
use crate::redact;
use crate::scope::InScope;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use doppel_model::{Entity, Key, Twin, TwinView};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// The state every handler gets.
pub type AppState = Arc<Live>;

/// What a handler answers: a JSON value, or an error.
pub type Answer = Result<axum::Json<Value>, ApiError>;

/// Serialises a report into an answer.
pub fn answer(report: &impl serde::Serialize) -> Answer {
    serde_json::to_value(report).map(axum::Json).map_err(|e| ApiError::internal(format!("serialising: {e}")))
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Who is asking, with the twin as it was when they asked.
#[derive(Clone)]
pub struct Caller {
    /// Their token.
    pub token: TokenInfo,
    /// The keys they may see; `None`: everything.
    pub scope: Option<Arc<InScope>>,
    /// The twin this request reads.
    pub twin: Arc<Twin>,
}

impl Caller {
    /// Whether the caller may see the entity.
    pub fn sees(&self, key: &Key) -> bool {
        self.scope.as_ref().is_none_or(|s| s.contains(key))
    }

    /// The entity, if it exists and the caller may see it (404 otherwise, the same either way).
    pub fn entity(&self, text: &str, place: &str) -> Result<&Entity, ApiError> {
        let key: Key = text.parse().map_err(|e| ApiError::invalid(place, format!("'{text}' is not a key: {e}")))?;
        match self.twin.entity(&key) {
            Some(entity) if self.sees(&key) => Ok(entity),
            _ => Err(self.absent(place, text)),
        }
    }

    /// The 404 for an entity that is absent or out of scope: a scoped caller gets the same
    /// words either way, without the key (the redaction would otherwise tell them apart).
    pub fn absent(&self, place: &str, text: &str) -> ApiError {
        match self.scope {
            Some(_) => ApiError::not_found(format!("no entity this token can see at {place}")),
            None => ApiError::not_found(format!("no entity '{text}' in the twin")),
        }
    }

    /// Whether the caller has at least `role`.
    pub fn can(&self, role: Role) -> bool {
        self.token.role >= role
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Caller, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::unauthorized("a token is needed"))
    }
}

/// A JSON body read within the server's size limit; errors name line and column.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<JsonBody<T>, ApiError> {
        let limit = state.limits.max_body;
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| ApiError::too_large(limit))?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            let place = match e.path().to_string().as_str() {
                "." => format!("line {} column {}", inner.line(), inner.column()),
                path => format!("{path} (line {} column {})", inner.line(), inner.column()),
            };
            ApiError::invalid(place, format!("the body is not what this endpoint takes: {inner}"))
        })?;
        de.end().map_err(|e| ApiError::invalid(format!("line {} column {}", e.line(), e.column()), e.to_string()))?;
        Ok(JsonBody(value))
    }
}

/// Query parameters; an unknown or malformed one is a 400 naming it.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Query<T>, ApiError> {
        let text = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(text.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let place = match e.path().to_string().as_str() {
                "." => "query".to_string(),
                path => format!("query parameter {path}"),
            };
            ApiError::invalid(place, e.inner().to_string())
        })
    }
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// In the path.
    Path,
    /// In the query string.
    Query,
}

/// A parameter of an endpoint, for its documentation.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Where it goes.
    pub place: In,
    /// Whether it must be given.
    pub required: bool,
    /// What it is.
    pub about: &'static str,
}

/// Shorthand for a query parameter.
pub const fn query(name: &'static str, about: &'static str) -> Param {
    Param { name, place: In::Query, required: false, about }
}

/// Shorthand for a path parameter.
pub const fn path(name: &'static str, about: &'static str) -> Param {
    Param { name, place: In::Path, required: true, about }
}

/// A schema maker for the OpenAPI document.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`.
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A report whose shape is documented in prose (its Rust type has no schema).
pub fn report(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({"type": "object", "description": "a report, the same value `doppel --json` prints for the command"})
}

/// One endpoint: how it is routed, who may call it and how it is documented.
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path under `/api/v1`, in OpenAPI form (`/entities/{key}`).
    pub path: &'static str,
    /// The lowest role allowed; `None`: no token needed.
    pub min_role: Option<Role>,
    /// Group in the reference.
    pub tag: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Its parameters.
    pub params: Vec<Param>,
    /// The body it takes.
    pub body: Option<SchemaFn>,
    /// What it answers.
    pub answer: SchemaFn,
    /// Status of a successful answer.
    pub status: u16,
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

impl Endpoint {
    /// The path in axum's form (`{key}` becomes `{*key}` when it is the last segment and
    /// may hold slashes).
    pub fn route(&self) -> String {
        self.path.replace("{key}/{attribute}", "{*series}").replace("{key}", "{*key}")
    }
}

/// Builds the router of the API endpoints and the OpenAPI document describing them.
pub fn router(endpoints: Vec<Endpoint>, live: AppState) -> (Router, Value) {
    let doc = openapi(&endpoints);
    let mut api = Router::new();
    let mut public = Router::new();
    for endpoint in endpoints {
        let route = endpoint.route();
        match endpoint.min_role {
            None => public = public.route(&route, endpoint.handler),
            Some(role) => {
                let handler = endpoint
                    .handler
                    .route_layer(middleware::from_fn(move |req: Request, next: Next| require(role, req, next)));
                api = api.route(&route, handler)
            }
        }
    }
    let api = api.layer(middleware::from_fn_with_state(live.clone(), authenticate));
    let router = Router::new()
        .nest("/api/v1", api.merge(public))
        .layer(middleware::from_fn_with_state(live.clone(), audit))
        .with_state(live);
    (router, doc)
}

async fn require(role: Role, req: Request, next: Next) -> Response {
    match req.extensions().get::<Caller>() {
        Some(caller) if caller.can(role) => next.run(req).await,
        Some(caller) => ApiError::forbidden(format!(
            "this needs the {role} role; the token '{}' is a {}",
            caller.token.name, caller.token.role
        ))
        .into_response(),
        None => ApiError::unauthorized("a token is needed").into_response(),
    }
}

/// The token's text from `Authorization: Bearer`.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Who made an audited request, passed from `authenticate` to `audit`.
#[derive(Clone)]
struct Who(TokenInfo);

async fn authenticate(State(live): State<AppState>, mut req: Request, next: Next) -> Response {
    let who = bearer(&req).map(str::to_string);
    let verified = match (who, live.open) {
        (None, true) => Ok(TokenInfo {
            id: "-".into(),
            name: "anonymous (--no-auth)".into(),
            role: Role::Admin,
            scope: Vec::new(),
            created_ms: 0,
            expires_ms: None,
            revoked: false,
        }),
        (None, false) => Err(ApiError::unauthorized(
            "a token is needed: send 'Authorization: Bearer dpl_...' (make one with `doppel token create`)",
        )),
        (Some(token), _) => {
            let live = live.clone();
            match tokio::task::spawn_blocking(move || live.tokens.verify(&token, now_ms())).await {
                Ok(result) => result,
                Err(e) => Err(ApiError::internal(format!("verifying the token: {e}"))),
            }
        }
    };
    let token = match verified {
        Ok(token) => token,
        Err(e) => return e.into_response(),
    };
    if let Err(wait_s) = live.rate.take(&token.id) {
        let mut response = ApiError::too_many(wait_s).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait_s));
        response.extensions_mut().insert(Who(token));
        return response;
    }
    let twin = live.twin();
    let scope = if token.scope.is_empty() {
        None
    } else {
        let (live2, scope_text, twin2) = (live.clone(), token.scope.clone(), twin.clone());
        match tokio::task::spawn_blocking(move || live2.scopes.resolve(&scope_text, &twin2)).await {
            Ok(Ok(scope)) => Some(scope),
            Ok(Err(e)) => return e.into_response(),
            Err(e) => return ApiError::internal(format!("resolving the scope: {e}")).into_response(),
        }
    };
    let caller = Caller { token: token.clone(), scope: scope.clone(), twin: twin.clone() };
    req.extensions_mut().insert(caller);
    let mut response = next.run(req).await;
    if let Some(scope) = scope {
        response = redact_response(response, &twin, &scope, live.limits.max_body.max(64 << 20)).await;
    }
    response.extensions_mut().insert(Who(token));
    response
}

/// Redacts a JSON answer for a scoped caller; other answers (event streams redact their
/// events themselves) pass through.
async fn redact_response(response: Response, twin: &Twin, scope: &InScope, limit: usize) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError::internal("an answer too large to check against the scope").into_response();
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return ApiError::internal("an answer that is not JSON").into_response();
    };
    let redacted = redact::redact(value, twin, scope);
    let bytes = serde_json::to_vec(&redacted).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// Records in the audit log what changes things, runs analyses or was refused.
async fn audit(State(live): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let client =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "-".into());
    let response = next.run(req).await;
    let status = response.status();
    let refused = matches!(
        status,
        StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::TOO_MANY_REQUESTS
    );
    let acted = method != Method::GET || path.starts_with("/api/v1/jobs") || path.starts_with("/api/v1/tokens");
    if path.starts_with("/api/") && (refused || acted) {
        let who = response.extensions().get::<Who>().map(|w| w.0.clone());
        live.audit.record(AuditEntry {
            seq: 0,
            time_ms: now_ms(),
            token: who.as_ref().map_or("-".into(), |w| w.id.clone()),
            name: who.as_ref().map_or("-".into(), |w| w.name.clone()),
            role: who.as_ref().map_or("-".into(), |w| w.role.name().into()),
            method: method.to_string(),
            path,
            status: status.as_u16(),
            client,
        });
    }
    response
}

/// The OpenAPI 3.1 document of the endpoints.
fn openapi(endpoints: &[Endpoint]) -> Value {
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    let error = generator.subschema_for::<crate::error::ApiError>();
    let mut paths = serde_json::Map::new();
    for e in endpoints {
        let mut op = serde_json::Map::new();
        op.insert("summary".into(), json!(e.summary));
        op.insert("tags".into(), json!([e.tag]));
        op.insert(
            "operationId".into(),
            json!(format!("{}{}", e.method.as_str().to_lowercase(), e.path.replace(['/', '{', '}'], "_"))),
        );
        op.insert("x-min-role".into(), json!(e.min_role.map(Role::name)));
        let params: Vec<Value> = e
            .params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": if p.place == In::Path { "path" } else { "query" },
                    "required": p.required,
                    "description": p.about,
                    "schema": {"type": "string"},
                })
            })
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(body) = e.body {
            let schema = body(&mut generator);
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let answer = (e.answer)(&mut generator);
        let mut responses = serde_json::Map::new();
        responses.insert(
            e.status.to_string(),
            json!({"description": "success", "content": {"application/json": {"schema": answer}}}),
        );
        let errors: &[(&str, &str)] = &[
            ("400", "bad input, with where"),
            ("401", "no valid token"),
            ("403", "role too low"),
            ("404", "absent or outside the token's scope"),
            ("413", "body too large"),
            ("429", "too many requests"),
        ];
        for (status, about) in errors {
            if e.min_role.is_none() && matches!(*status, "401" | "403" | "429") {
                continue;
            }
            responses.insert(
                (*status).into(),
                json!({"description": about, "content": {"application/json": {"schema": {"type": "object", "properties": {"error": error}}}}}),
            );
        }
        op.insert("responses".into(), Value::Object(responses));
        if e.min_role.is_some() {
            op.insert("security".into(), json!([{"bearer": []}]));
        }
        let entry = paths.entry(format!("/api/v1{}", e.path)).or_insert_with(|| json!({}));
        entry[e.method.as_str().to_lowercase()] = Value::Object(op);
    }
    let definitions = generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Doppel",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The live twin of an estate: entities, history, what-ifs and predictions. Every analysis answers the same value `doppel --json` prints. Roles: viewer < analyst < operator < admin (x-min-role on each operation).",
        },
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a token made by `doppel token create` (dpl_...)"}},
        },
    })
}
