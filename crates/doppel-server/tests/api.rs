//! The API against a real server on a real SQLite store of the bundled shop: every
//! endpoint under every role, scopes that must not leak (answers, errors and live
//! updates), bad tokens, bad bodies, limits and the audit log.

use doppel_model::{Twin, TwinView};
use doppel_server::{Config, Limits, Role, Tokens};
use doppel_store::{SqliteStore, Store};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// A server on an ephemeral port, stopped on drop.
struct Server {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    store: PathBuf,
    _dir: tempfile::TempDir,
    tokens: BTreeMap<&'static str, String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The end of the fixture's telemetry: 2026-11-24T20:00Z.
const UNTIL_MS: i64 = 1_795_550_400_000;

/// The scope of the `scoped` token: what holds personal or card data.
const SCOPE: &[&str] = &["label:data-classification", "label:pci-scope"];

fn start(limits: Limits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("twin.db");
    let shop = doppel_testkit::shop::shop();
    let mut store = SqliteStore::open(&store_path).unwrap();
    store.commit(Twin::new(), &doppel_model::diff(&Twin::new(), &shop)).unwrap();
    // Two weeks of the shop's telemetry, growing 60% a week: an objective breaks ahead.
    let telemetry = doppel_foresight::telemetry::TelemetryConfig {
        days: 14,
        growth_per_week: 0.6,
        ..doppel_foresight::telemetry::TelemetryConfig::shop(UNTIL_MS)
    };
    let samples =
        doppel_foresight::telemetry::samples_of(&doppel_foresight::telemetry::generate(&shop, &telemetry).unwrap());
    store.append_samples(&samples).unwrap();
    drop(store);
    let tokens = Tokens::open(&store_path).unwrap();
    let mut made = BTreeMap::new();
    for role in Role::ALL {
        made.insert(role.name(), tokens.create(role.name(), role, &[], None, 0).unwrap().1);
    }
    let scope: Vec<String> = SCOPE.iter().map(|s| s.to_string()).collect();
    made.insert("scoped", tokens.create("scoped", Role::Analyst, &scope, None, 0).unwrap().1);
    made.insert("expired", tokens.create("old", Role::Admin, &[], Some(1_000), 0).unwrap().1);
    let config = Config {
        store: store_path.clone(),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        no_auth: false,
        tls: None,
        limits,
        poll: Duration::from_millis(100),
    };
    let (url_tx, url_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let result = runtime.block_on(doppel_server::serve(
            config,
            |started| url_tx.send(started.url.clone()).unwrap(),
            async move {
                let _ = stop_rx.await;
            },
        ));
        result.unwrap();
    });
    let url = url_rx.recv_timeout(Duration::from_secs(60)).expect("the server starts");
    Server { url, stop: Some(stop_tx), thread: Some(thread), store: store_path, _dir: dir, tokens: made }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// Status and body of a request.
fn call(server: &Server, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let url = format!("{}/api/v1{path}", server.url);
    let agent = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let response = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        ("DELETE", _) => {
            let mut r = agent.delete(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        (_, body) => {
            let mut r = agent.post(&url).content_type("application/json");
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send(body.unwrap_or("{}"))
        }
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    (status, text)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A request each endpoint takes, made fresh (jobs and tokens are made as needed).
fn sample(server: &Server, method: &str, path: &str, role: Role) -> (String, Option<String>) {
    let admin = server.tokens["admin"].as_str();
    let owner = if role >= Role::Analyst { server.tokens[role.name()].as_str() } else { admin };
    let path = match path {
        "/entities/{key}" => "/entities/service/cart".to_string(),
        "/history/{version}" => "/history/1".to_string(),
        "/series/{key}/{attribute}" => "/series/datastore/orders-db/disk_used_bytes".to_string(),
        "/forecast/{key}/{attribute}" => "/forecast/datastore/orders-db/disk_used_bytes?horizon=3d".to_string(),
        "/anomalies" => "/anomalies?since=6h".to_string(),
        "/predictions" => "/predictions?horizon=7d".to_string(),
        "/graph" => "/graph?root=service/checkout".to_string(),
        "/diff" => "/diff?from=0&to=head".to_string(),
        "/jobs/{id}" => {
            let (_, body) = call(server, "POST", "/jobs/availability", Some(owner), Some(r#"{"samples": 1000}"#));
            format!("/jobs/{}", json(&body)["id"])
        }
        "/tokens/{id}" => {
            let (_, body) =
                call(server, "POST", "/tokens", Some(admin), Some(r#"{"name": "doomed", "role": "viewer"}"#));
            format!("/tokens/{}", json(&body)["info"]["id"].as_str().unwrap())
        }
        other => other.to_string(),
    };
    let body = match (method, path.as_str()) {
        ("POST", "/what-if") => Some(r#"{"fail": ["service/payment"], "at": "peak"}"#.to_string()),
        ("POST", "/jobs/spof") => Some(r#"{"only": "kind:datastore", "verify": 1}"#.to_string()),
        ("POST", "/jobs/availability") => Some(r#"{"samples": 1000}"#.to_string()),
        ("POST", "/perf") => Some(r#"{"load": "2x", "replicas": {"service/cart": 4}}"#.to_string()),
        ("POST", "/capacity") => Some(r#"{"target": "2x"}"#.to_string()),
        ("POST", "/jobs/simulate") => Some(r#"{"horizon_s": 30, "replications": 2}"#.to_string()),
        ("POST", "/changesets") => Some(
            r#"{"files": [{"path": "new.yaml", "text": "entities:\n  - kind: external\n    name: new-api\n"}], "dry_run": true}"#
                .to_string(),
        ),
        ("POST", "/remediations/apply") => Some(r#"{"horizon": "14d", "dry_run": true}"#.to_string()),
        ("POST", "/tokens") => Some(r#"{"name": "made", "role": "viewer", "expires_in_s": 60}"#.to_string()),
        ("POST", _) => Some("{}".to_string()),
        _ => None,
    };
    (path, body)
}

#[test]
fn every_endpoint_answers_each_role_as_its_table_says() {
    let server = start(Limits { rate_per_s: 0.0, ..Limits::default() });
    let mut checked = 0;
    for endpoint in doppel_server::endpoints::all() {
        if endpoint.path == "/events" {
            continue; // a stream: checked by the live-update test
        }
        let method = endpoint.method.as_str();
        let min = endpoint.min_role.expect("every API endpoint needs a role");
        for role in Role::ALL {
            let (path, body) = sample(&server, method, endpoint.path, role);
            let (status, text) = call(&server, method, &path, Some(&server.tokens[role.name()]), body.as_deref());
            if role < min {
                assert_eq!(status, 403, "{method} {path} as {role}: {text}");
                let error = json(&text);
                assert!(error["error"]["message"].as_str().unwrap().contains(min.name()), "{text}");
            } else {
                assert_eq!(status, endpoint.status, "{method} {path} as {role}: {text}");
                json(&text);
            }
            checked += 1;
        }
        let (path, body) = sample(&server, method, endpoint.path, Role::Admin);
        for token in [None, Some("dpl_0123456789ab_00"), Some(server.tokens["expired"].as_str())] {
            let (status, text) = call(&server, method, &path, token, body.as_deref());
            assert_eq!(status, 401, "{method} {path} with {token:?}: {text}");
        }
    }
    assert!(checked >= 4 * 18, "{checked}");
    let (_, text) = call(&server, "GET", "/twin", Some(&server.tokens["expired"]), None);
    assert!(text.contains("expired"), "{text}");
}

#[test]
fn the_openapi_document_lists_every_endpoint_with_its_role() {
    let server = start(Limits::default());
    let (status, text) = call(&server, "GET", "/openapi.json", None, None);
    assert_eq!(status, 200);
    let doc = json(&text);
    assert_eq!(doc["openapi"], "3.1.0");
    for endpoint in doppel_server::endpoints::all() {
        let op = &doc["paths"][format!("/api/v1{}", endpoint.path)][endpoint.method.as_str().to_lowercase()];
        assert_eq!(op["x-min-role"], endpoint.min_role.unwrap().name(), "{} {}", endpoint.method, endpoint.path);
        assert!(op["responses"][endpoint.status.to_string()].is_object(), "{} {}", endpoint.method, endpoint.path);
    }
    let what_if = &doc["paths"]["/api/v1/what-if"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(what_if.to_string().contains("WhatIf"), "{what_if}");
    assert!(doc["components"]["schemas"]["WhatIf"]["properties"]["fail"].is_object());
}

/// Keys of entities outside the scoped token's scope.
fn hidden(server: &Server) -> (Vec<String>, Vec<String>) {
    let store = SqliteStore::open_existing(&server.store).unwrap();
    let twin = store.twin_at(doppel_store::At::Head, None).unwrap();
    let mut visible = Vec::new();
    let mut hidden = Vec::new();
    for e in twin.entities() {
        let shown = SCOPE
            .iter()
            .any(|s| doppel_model::Selector::parse(s).unwrap().select(&twin).iter().any(|x| x.key == e.key));
        if shown { visible.push(e.key.to_string()) } else { hidden.push(e.key.to_string()) }
    }
    (visible, hidden)
}

fn assert_no_leak(what: &str, text: &str, hidden: &[String]) {
    for key in hidden {
        // A key followed by a character that could continue it is another key.
        let leaked = text.match_indices(key.as_str()).any(|(i, _)| {
            !text[i + key.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '/')
        });
        assert!(!leaked, "{what} shows {key}: {}", &text[..text.len().min(2000)]);
    }
}

#[test]
fn a_scoped_token_sees_nothing_outside_its_scope() {
    let server = start(Limits { rate_per_s: 0.0, ..Limits::default() });
    let (visible, hidden) = hidden(&server);
    assert_eq!(visible.len(), 4, "{visible:?}");
    assert!(hidden.len() > 300);
    let scoped = server.tokens["scoped"].as_str();
    let token = Some(scoped);
    let reads = [
        "/twin",
        "/entities?select=*&limit=10000",
        "/entities?select=kind:service",
        "/entities/service/payment",
        "/graph?root=service/checkout",
        "/graph?root=service/checkout&direction=dependents",
        "/map",
        "/map?view=services",
        "/history",
        "/history/1",
        "/diff?from=0&to=head",
    ];
    for path in reads {
        let (status, text) = call(&server, "GET", path, token, None);
        assert_eq!(status, 200, "{path}: {text}");
        assert_no_leak(path, &text, &hidden);
    }
    let (_, text) = call(&server, "GET", "/entities?select=*&limit=10000", token, None);
    assert_eq!(json(&text)["total"], 4, "{text}");
    for key in &visible {
        assert!(text.contains(key.as_str()), "{key} missing: {text}");
    }
    // What-ifs on what it sees run on the whole estate, and answer only about its scope.
    for body in [
        r#"{"fail": ["service/payment"], "at": "peak"}"#,
        r#"{"fail": ["service/checkout"], "load": "3x"}"#,
        r#"{"scenario": "name: pay\nfaults:\n  - fail: service/payment\n"}"#,
    ] {
        let (status, text) = call(&server, "POST", "/what-if", token, Some(body));
        assert_eq!(status, 200, "{body}: {text}");
        assert_no_leak(body, &text, &hidden);
        assert!(text.contains("service/payment") || text.contains("service/checkout"), "{text}");
    }
    // Performance answers cover the whole estate's model, and show only the scope.
    for (path, body) in
        [("/perf", r#"{"load": "2x", "replicas": {"service/payment": 5}}"#), ("/capacity", r#"{"target": "3x"}"#)]
    {
        let (status, text) = call(&server, "POST", path, token, Some(body));
        assert_eq!(status, 200, "{path}: {text}");
        assert_no_leak(path, &text, &hidden);
    }
    let (status, text) = call(&server, "GET", "/curves?max=3&steps=6", token, None);
    assert_eq!(status, 200, "{text}");
    assert_no_leak("curves", &text, &hidden);
    let (status, text) = call(&server, "POST", "/perf", token, Some(r#"{"replicas": {"service/cart": 5}}"#));
    assert_eq!(status, 404, "replicas of what it cannot see: {text}");
    // What lies outside is absent, in the same words as what does not exist.
    let (s1, outside) = call(&server, "GET", "/entities/service/cart", token, None);
    let (s2, missing) = call(&server, "GET", "/entities/service/no-such-thing", token, None);
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(json(&outside)["error"]["message"], json(&missing)["error"]["message"]);
    let (s1, outside) = call(&server, "POST", "/what-if", token, Some(r#"{"fail": ["zone/us-east-1a"]}"#));
    let (s2, missing) = call(&server, "POST", "/what-if", token, Some(r#"{"fail": ["zone/us-east-9z"]}"#));
    assert_eq!((s1, s2), (404, 404), "{outside} {missing}");
    assert_eq!(json(&outside)["error"]["message"], json(&missing)["error"]["message"]);
    let (status, text) = call(&server, "POST", "/what-if", token, Some(r#"{"fail": ["kind:zone"]}"#));
    assert_eq!(status, 404, "a selector reaching outside is refused: {text}");
    assert_no_leak("selector", &text, &hidden);
    let (status, text) = call(&server, "GET", "/series/datastore/orders-db/disk_used_bytes", token, None);
    assert_eq!(status, 404, "{text}");
    // Predictions cover the whole estate; a scoped token sees the risks in its scope only.
    for path in ["/predictions?horizon=7d", "/anomalies?since=1d", "/rca", "/curves"] {
        let (status, text) = call(&server, "GET", path, token, None);
        assert_eq!(status, 200, "{path}: {text}");
        assert_no_leak(path, &text, &hidden);
    }
    assert_no_leak("series", &text, &hidden);
    // Jobs: the sweep fails only what the token sees, and its report names nothing else.
    let (status, text) = call(&server, "POST", "/jobs/spof", token, Some(r#"{"verify": 1}"#));
    assert_eq!(status, 202, "{text}");
    let report = wait_job(&server, scoped, json(&text)["id"].as_u64().unwrap());
    assert_no_leak("spof", &report.to_string(), &hidden);
    let (status, text) = call(&server, "POST", "/jobs/availability", token, Some(r#"{"samples": 2000}"#));
    assert_eq!(status, 202, "{text}");
    let report = wait_job(&server, scoped, json(&text)["id"].as_u64().unwrap());
    assert_no_leak("availability", &report.to_string(), &hidden);
}

fn wait_job(server: &Server, token: &str, id: u64) -> serde_json::Value {
    for _ in 0..600 {
        let (status, text) = call(server, "GET", &format!("/jobs/{id}"), Some(token), None);
        assert_eq!(status, 200, "{text}");
        let job = json(&text);
        match job["state"].as_str().unwrap() {
            "running" => std::thread::sleep(Duration::from_millis(200)),
            "done" => return job,
            other => panic!("job {id} {other}: {text}"),
        }
    }
    panic!("job {id} did not finish in two minutes");
}

/// Reads server-sent events into a channel of (event, data).
fn listen(server: &Server, token: &str) -> mpsc::Receiver<(String, String)> {
    let (tx, rx) = mpsc::channel();
    let url = format!("{}/api/v1/events", server.url);
    let auth = format!("Bearer {token}");
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let Ok(response) = agent.get(&url).header("Authorization", &auth).call() else { return };
        let reader = std::io::BufReader::new(response.into_body().into_reader());
        let mut event = String::new();
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data:")
                && tx.send((event.clone(), data.trim().to_string())).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// The data of the next event named `name` within `within`, others skipped.
fn next_event(rx: &mpsc::Receiver<(String, String)>, name: &str, within: Duration) -> Option<String> {
    let end = std::time::Instant::now() + within;
    while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok((event, data)) if event == name => return Some(data),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Commits an edit of one entity's labels, as another process would.
fn touch(server: &Server, keys: &[&str]) {
    let mut store = SqliteStore::open_existing(&server.store).unwrap();
    let twin = store.twin_at(doppel_store::At::Head, None).unwrap();
    let mut changes = doppel_model::ChangeSet::new();
    for key in keys {
        let mut entity = twin.entity(&key.parse().unwrap()).unwrap().clone();
        let version = twin.version().to_string();
        let pairs: Vec<(String, String)> = entity
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("touched".to_string(), version)])
            .collect();
        entity.labels = doppel_model::Labels::from_pairs(pairs);
        changes.changes.push(doppel_model::Change::UpdateEntity(entity));
    }
    store.commit(twin, &changes).unwrap();
}

#[test]
fn live_updates_reach_each_token_within_its_scope() {
    let server = start(Limits { rate_per_s: 0.0, ..Limits::default() });
    let (_, hidden) = hidden(&server);
    let all = listen(&server, &server.tokens["viewer"]);
    let scoped = listen(&server, &server.tokens["scoped"]);
    std::thread::sleep(Duration::from_millis(500));
    touch(&server, &["service/frontend", "zone/us-east-1a"]);
    let seen = next_event(&all, "twin", Duration::from_secs(20)).expect("the viewer hears of the change");
    assert!(seen.contains("service/frontend") && seen.contains("zone/us-east-1a"), "{seen}");
    assert_eq!(next_event(&scoped, "twin", Duration::from_secs(2)), None, "the scoped token hears nothing of it");
    touch(&server, &["service/payment", "service/cart"]);
    let seen = next_event(&scoped, "twin", Duration::from_secs(20)).expect("the scoped token hears of its own");
    assert!(seen.contains("service/payment"), "{seen}");
    assert_no_leak("event", &seen, &hidden);
    // The twin read by the API moved on too.
    let (_, text) = call(&server, "GET", "/twin", Some(&server.tokens["viewer"]), None);
    assert_eq!(json(&text)["version"], 3, "{text}");
}

#[test]
fn bad_bodies_and_queries_get_clear_errors() {
    let server = start(Limits { max_body: 4096, rate_per_s: 0.0 });
    let token = Some(server.tokens["analyst"].as_str());
    let big = format!(r#"{{"fail": ["{}"]}}"#, "x".repeat(10_000));
    let (status, text) = call(&server, "POST", "/what-if", token, Some(&big));
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("4096"), "{text}");
    let (status, text) = call(&server, "POST", "/what-if", token, Some("{\"fail\": [\"zone/us-east-1a\",\n oops}"));
    assert_eq!(status, 400, "{text}");
    assert!(json(&text)["error"]["where"].as_str().unwrap().contains("line 2"), "{text}");
    let (status, text) = call(&server, "POST", "/what-if", token, Some(r#"{"fial": ["zone/us-east-1a"]}"#));
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("fial"), "{text}");
    let (status, text) = call(&server, "POST", "/what-if", token, Some(r#"{"fail": ["zone/us-east-1q"]}"#));
    assert!(status == 400 || status == 404, "{text}");
    assert!(text.contains("us-east-1q"), "an unscoped token is told what it typed: {text}");
    let (status, text) =
        call(&server, "POST", "/what-if", token, Some(r#"{"fail": ["zone/us-east-1a"], "load": "lots"}"#));
    assert_eq!(status, 400, "{text}");
    let (status, text) = call(&server, "GET", "/entities?limit=many", token, None);
    assert_eq!(status, 400, "{text}");
    assert!(json(&text)["error"]["where"].as_str().unwrap().contains("limit"), "{text}");
    let (status, text) = call(&server, "GET", "/entities?select=kind:nonsense", token, None);
    assert_eq!(status, 400, "{text}");
    let (status, text) = call(&server, "GET", "/entities?bogus=1", token, None);
    assert_eq!(status, 400, "{text}");
    let (status, text) = call(&server, "GET", "/diff?from=99", token, None);
    assert_eq!(status, 400, "{text}");
    let (status, text) = call(&server, "GET", "/jobs/12345", token, None);
    assert_eq!(status, 404, "{text}");
    let (status, _) = call(&server, "POST", "/what-if", token, Some("\u{0}\u{1}garbage"));
    assert_eq!(status, 400);
}

#[test]
fn requests_beyond_the_rate_are_refused_and_refusals_are_audited() {
    let server = start(Limits { rate_per_s: 5.0, ..Limits::default() });
    let token = Some(server.tokens["viewer"].as_str());
    let statuses: Vec<u16> = (0..30).map(|_| call(&server, "GET", "/twin", token, None).0).collect();
    assert!(statuses.iter().take(5).all(|&s| s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let (status, _) =
        call(&server, "POST", "/what-if", Some(&server.tokens["analyst"]), Some(r#"{"fail": ["service/payment"]}"#));
    assert_eq!(status, 200);
    let (status, _) = call(&server, "GET", "/audit", Some(&server.tokens["operator"]), None);
    assert_eq!(status, 403);
    std::thread::sleep(Duration::from_millis(500));
    let (status, text) = call(&server, "GET", "/audit", Some(&server.tokens["admin"]), None);
    assert_eq!(status, 200, "{text}");
    let log = json(&text);
    let entries = log.as_array().unwrap();
    let has = |name: &str, path: &str, status: u64| {
        entries
            .iter()
            .any(|e| e["name"] == name && e["path"].as_str().unwrap().starts_with(path) && e["status"] == status)
    };
    assert!(has("viewer", "/api/v1/twin", 429), "{text}");
    assert!(has("analyst", "/api/v1/what-if", 200), "{text}");
    assert!(has("operator", "/api/v1/audit", 403), "{text}");
}

#[test]
fn serving_without_tokens_is_refused_off_loopback() {
    let config = |addr: &str, no_auth: bool| Config {
        store: PathBuf::from("x.db"),
        listen: vec![addr.parse().unwrap()],
        no_auth,
        tls: None,
        limits: Limits::default(),
        poll: Duration::from_secs(1),
    };
    let refused = doppel_server::check(&config("0.0.0.0:7878", true)).unwrap_err();
    assert!(refused.message.contains("not a loopback"), "{refused}");
    assert!(doppel_server::check(&config("127.0.0.1:7878", true)).is_ok());
    assert!(doppel_server::check(&config("[::1]:7878", true)).is_ok());
    assert!(doppel_server::check(&config("0.0.0.0:7878", false)).is_ok());
}

#[test]
fn an_operator_applies_the_checked_fix_and_estate_files() {
    let server = start(Limits { rate_per_s: 0.0, ..Limits::default() });
    let operator = Some(server.tokens["operator"].as_str());
    let (status, text) = call(&server, "POST", "/remediations/apply", operator, Some(r#"{"horizon": "14d"}"#));
    assert_eq!(status, 200, "{text}");
    let applied = json(&text);
    assert_eq!(applied["changed"], true, "{text}");
    assert_eq!(applied["commit"]["version"], 2, "{text}");
    assert_eq!(applied["risk"]["kind"], "slo", "{text}");
    let (_, text) = call(&server, "GET", "/history", operator, None);
    let history = json(&text);
    assert_eq!(history[0]["source"], "remediation", "{text}");
    assert_eq!(history[0]["author"], "operator", "{text}");
    // The fix's replicas are in the twin now.
    let (workload, _, needed) = {
        let r = &applied["risk"]["remedy"]["replicas"][0];
        (r[0].as_str().unwrap().to_string(), r[1].as_u64().unwrap(), r[2].as_u64().unwrap())
    };
    let (_, text) = call(&server, "GET", &format!("/entities/{workload}"), operator, None);
    assert_eq!(json(&text)["spec"]["replicas"], needed, "{text}");
    let body = r#"{"files": [{"path": "new.yaml", "text": "entities:\n  - kind: external\n    name: new-api\n"}]}"#;
    let (status, text) = call(&server, "POST", "/changesets", operator, Some(body));
    assert_eq!(status, 200, "{text}");
    assert_eq!(json(&text)["version"], 3, "{text}");
    assert_eq!(call(&server, "GET", "/entities/external/new-api", operator, None).0, 200);
    let bad = r#"{"files": [{"path": "bad.yaml", "text": "entities:\n  - kind: external\n    nmae: x\n"}]}"#;
    let (status, text) = call(&server, "POST", "/changesets", operator, Some(bad));
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("nmae") && text.contains("bad.yaml line 3"), "{text}");
    let (_, text) = call(&server, "GET", "/twin", operator, None);
    assert_eq!(json(&text)["version"], 3, "a refused change changes nothing: {text}");
}

#[test]
fn a_new_risk_after_a_change_is_told_live() {
    let server = start(Limits { rate_per_s: 0.0, ..Limits::default() });
    let events = listen(&server, &server.tokens["viewer"]);
    // The predictions' first look sets what is already known; give it time.
    std::thread::sleep(Duration::from_secs(3));
    // The orders database's disk shrinks to 300 GiB: it is full already (about 420 GiB are used).
    let mut store = SqliteStore::open_existing(&server.store).unwrap();
    let twin = store.twin_at(doppel_store::At::Head, None).unwrap();
    let key: doppel_model::Key = "datastore/orders-db".parse().unwrap();
    let mut entity = twin.entity(&key).unwrap().clone();
    let doppel_model::Spec::Datastore(d) = &mut entity.spec else { panic!("{key} is a datastore") };
    d.storage = Some(doppel_model::Bytes(300 << 30));
    let mut changes = doppel_model::ChangeSet::new();
    changes.changes.push(doppel_model::Change::UpdateEntity(entity));
    store.commit(twin, &changes).unwrap();
    let risk = next_event(&events, "risk", Duration::from_secs(60)).expect("a risk event within a minute");
    assert!(risk.contains("datastore/orders-db") && risk.contains("300 GiB") && risk.contains("already"), "{risk}");
}

#[test]
fn a_new_risk_from_telemetry_alone_is_told_live() {
    let server = start(Limits { rate_per_s: 0.0, ..Limits::default() });
    let events = listen(&server, &server.tokens["viewer"]);
    std::thread::sleep(Duration::from_secs(3));
    // An hour of new samples, as `doppel observe` or a sync would store them: the orders
    // database's disk fills to 4 TiB, past its size. The twin itself does not change.
    let mut store = SqliteStore::open_existing(&server.store).unwrap();
    let version = store.head().unwrap();
    let key: doppel_model::Key = "datastore/orders-db".parse().unwrap();
    let samples: Vec<doppel_store::Sample> = (1..=12)
        .map(|i| doppel_store::Sample {
            entity: key.clone(),
            attribute: "disk_used_bytes".into(),
            ts_ms: UNTIL_MS + i * 300_000,
            value: (4u64 << 40) as f64,
        })
        .collect();
    store.append_samples(&samples).unwrap();
    let risk = next_event(&events, "risk", Duration::from_secs(90)).expect("a risk event within 90 s");
    assert!(risk.contains("datastore/orders-db") && risk.contains("already"), "{risk}");
    assert_eq!(store.head().unwrap(), version, "no commit made it");
}
