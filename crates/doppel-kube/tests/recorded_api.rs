//! The live source against a recorded Kubernetes API: an axum server in the test answers
//! lists (with resourceVersions) and watch streams (newline-delimited JSON) from a script,
//! with a connection dropped mid-event, a `410 Gone` inside a stream and one as the answer
//! to a watch request, a kind the server lacks, and refusals.

use doppel_kube::{KubeConfig, KubeSource, Retry, WatchedKind};
use doppel_model::{Change, ChangeSet, Key, Kind, RelKey, RelKind, Spec, Twin, TwinView};
use doppel_sources::compliance::{Case, check};
use doppel_sources::{ErrorKind, Source, WarningKind};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod api {
    //! The recorded API server.

    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use futures_util::StreamExt;
    use serde_json::{Value, json};
    use std::collections::{BTreeMap, VecDeque};
    use std::sync::{Arc, Mutex};

    /// One request the server saw.
    #[derive(Debug, Clone)]
    pub struct Seen {
        /// The path.
        pub path: String,
        /// Whether it was a watch.
        pub watch: bool,
        /// Its `resourceVersion` parameter.
        pub resource_version: Option<String>,
        /// Its Accept header.
        pub accept: String,
    }

    /// The answer to a list.
    #[derive(Clone)]
    pub enum List {
        /// Objects at a resourceVersion.
        Items(&'static str, Vec<Value>),
        /// An HTTP status with a Kubernetes Status body.
        Status(u16),
    }

    /// A step of a watch stream.
    #[derive(Clone)]
    pub enum Step {
        /// One event line (`{"type": ..., "object": ...}`).
        Event(Value),
        /// Bytes as they are (half an event).
        Raw(&'static str),
        /// Wait until the test has opened this gate.
        Gate(u32),
        /// Break the connection (the body fails: no end of the chunked stream).
        Drop,
        /// Keep the stream open, sending nothing.
        Hold,
    }

    /// The answer to a watch request.
    #[derive(Clone)]
    pub enum Watch {
        /// A stream of steps.
        Stream(Vec<Step>),
        /// An HTTP status with a Kubernetes Status body.
        Status(u16),
    }

    /// What the server answers, per collection path, in order (the last answer repeats).
    #[derive(Default)]
    pub struct Script {
        pub lists: BTreeMap<String, VecDeque<List>>,
        pub watches: BTreeMap<String, VecDeque<Watch>>,
        /// Every path not in `lists` gets this status (an empty list at resourceVersion 1 if none).
        pub other_lists: Option<u16>,
    }

    impl Script {
        /// Adds the answers to the lists of a collection.
        pub fn list(&mut self, path: &str, answers: Vec<List>) -> &mut Self {
            self.lists.insert(path.to_string(), answers.into());
            self
        }

        /// Adds the answers to the watches of a collection.
        pub fn watch(&mut self, path: &str, answers: Vec<Watch>) -> &mut Self {
            self.watches.insert(path.to_string(), answers.into());
            self
        }
    }

    struct Inner {
        script: Mutex<Script>,
        seen: Mutex<Vec<Seen>>,
        gate: tokio::sync::watch::Sender<u32>,
    }

    /// A running recorded API.
    #[derive(Clone)]
    pub struct Server {
        inner: Arc<Inner>,
        /// `http://127.0.0.1:<port>`.
        pub url: String,
    }

    impl Server {
        /// Starts the server on its own thread and runtime; it runs until the test ends.
        pub fn start(script: Script) -> Server {
            let (gate, _) = tokio::sync::watch::channel(0);
            let inner = Arc::new(Inner { script: Mutex::new(script), seen: Mutex::new(Vec::new()), gate });
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.set_nonblocking(true).expect("non-blocking");
            let url = format!("http://{}", listener.local_addr().expect("an address"));
            let state = inner.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    let app = Router::new().fallback(answer).with_state(state);
                    axum::serve(listener, app).await.expect("serves");
                });
            });
            Server { inner, url }
        }

        /// Opens gate `n` (and those before it).
        pub fn open(&self, n: u32) {
            self.inner.gate.send_replace(n);
        }

        /// The requests seen so far.
        pub fn seen(&self) -> Vec<Seen> {
            self.inner.seen.lock().expect("the log").clone()
        }
    }

    fn status_body(code: u16) -> Response {
        let reason = match code {
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            410 => "Expired",
            _ => "InternalError",
        };
        let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": format!("recorded answer {code}")});
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, [("content-type", "application/json")], body.to_string()).into_response()
    }

    /// Only the metadata of each item, as the metadata API serves it.
    fn metadata_only(item: &Value) -> Value {
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": item["metadata"]})
    }

    fn next<T: Clone>(answers: Option<&mut VecDeque<T>>) -> Option<T> {
        let answers = answers?;
        if answers.len() > 1 { answers.pop_front() } else { answers.front().cloned() }
    }

    async fn answer(State(inner): State<Arc<Inner>>, uri: Uri, headers: HeaderMap) -> Response {
        let query: BTreeMap<String, String> = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
        let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let path = uri.path().to_string();
        inner.seen.lock().expect("the log").push(Seen {
            path: path.clone(),
            watch,
            resource_version: query.get("resourceVersion").cloned(),
            accept: accept.clone(),
        });
        let metadata = accept.contains("as=PartialObjectMetadata");
        if !watch {
            let mut script = inner.script.lock().expect("the script");
            let other = script.other_lists;
            let list = match next(script.lists.get_mut(&path)) {
                Some(list) => list,
                None => match other {
                    Some(code) => List::Status(code),
                    None => List::Items("1", Vec::new()),
                },
            };
            return match list {
                List::Status(code) => status_body(code),
                List::Items(version, items) => {
                    let items: Vec<Value> =
                        items.iter().map(|i| if metadata { metadata_only(i) } else { i.clone() }).collect();
                    let kind = if metadata { "PartialObjectMetadataList" } else { "List" };
                    let body = json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": version},
                        "items": items});
                    ([("content-type", "application/json")], body.to_string()).into_response()
                }
            };
        }
        let steps = {
            let mut script = inner.script.lock().expect("the script");
            match next(script.watches.get_mut(&path)) {
                Some(Watch::Status(code)) => return status_body(code),
                Some(Watch::Stream(steps)) => steps,
                None => vec![Step::Hold],
            }
        };
        let gate = inner.gate.subscribe();
        let stream = futures_util::stream::unfold((steps.into_iter(), gate), move |(mut steps, mut gate)| async move {
            loop {
                let step = steps.next()?;
                let item: Result<Bytes, std::io::Error> = match step {
                    Step::Event(mut event) => {
                        if metadata && event["type"] != "BOOKMARK" && event["type"] != "ERROR" {
                            event["object"] = metadata_only(&event["object"]);
                        }
                        Ok(Bytes::from(format!("{event}\n")))
                    }
                    Step::Raw(text) => Ok(Bytes::from(text)),
                    Step::Gate(n) => {
                        let _ = gate.wait_for(|open| *open >= n).await;
                        continue;
                    }
                    Step::Drop => {
                        // What was sent reaches the client first (hyper discards what is
                        // unflushed when a body fails), then the connection breaks.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "recorded drop"))
                    }
                    Step::Hold => {
                        std::future::pending::<()>().await;
                        continue;
                    }
                };
                return Some((item, (steps, gate)));
            }
        });
        ([("content-type", "application/json")], Body::from_stream(stream.boxed())).into_response()
    }
}

use api::{List, Script, Server, Step, Watch};

const DEPLOYMENTS: &str = "/apis/apps/v1/deployments";
const SECRET_VALUE: &str = "c2VjcmV0LWRhdGEtbmV2ZXItcmVhZA==";

fn deployment(name: &str, replicas: u32, version: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": version, "uid": format!("uid-{name}"),
            "labels": {"app": name}, "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": format!("shop/{name}:1"),
                    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]}}},
        "status": {"replicas": replicas, "readyReplicas": replicas}})
}

fn event(kind: &str, object: Value) -> Step {
    Step::Event(json!({"type": kind, "object": object}))
}

fn bookmark(version: &str) -> Step {
    Step::Event(json!({"type": "BOOKMARK", "object": {"kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"resourceVersion": version}}}))
}

fn gone() -> Step {
    Step::Event(json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "code": 410, "reason": "Expired", "message": "too old resource version: 13 (25)"}}))
}

/// The rest of a small cluster: a namespace, a zoned node, a pod on it, a service, a
/// configmap and a secret whose data must never be read.
fn cluster(script: &mut Script) {
    script
        .list("/api/v1/namespaces", vec![List::Items(
            "3",
            vec![json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "shop", "resourceVersion": "2"}})],
        )])
        .list("/api/v1/nodes", vec![List::Items(
            "3",
            vec![json!({"kind": "Node", "apiVersion": "v1",
                "metadata": {"name": "node-a", "resourceVersion": "3",
                    "labels": {"topology.kubernetes.io/zone": "eu-west-1a", "kubernetes.io/hostname": "node-a"}},
                "spec": {"taints": [{"key": "dedicated", "value": "shop", "effect": "NoSchedule"}]},
                "status": {"allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
                    "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}}})],
        )])
        .list("/api/v1/pods", vec![List::Items(
            "4",
            vec![json!({"kind": "Pod", "apiVersion": "v1",
                "metadata": {"name": "cart-7d9f-abcde", "namespace": "shop", "resourceVersion": "4",
                    "labels": {"app": "cart"}},
                "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "shop/cart:1",
                    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]},
                "status": {"phase": "Running", "podIP": "10.1.0.7"}})],
        )])
        .list("/api/v1/services", vec![List::Items(
            "4",
            vec![json!({"kind": "Service", "apiVersion": "v1",
                "metadata": {"name": "cart", "namespace": "shop", "resourceVersion": "4"},
                "spec": {"selector": {"app": "cart"}, "ports": [{"port": 80, "targetPort": 8080}],
                    "clusterIP": "10.0.0.10"}})],
        )])
        .list("/api/v1/configmaps", vec![List::Items(
            "4",
            vec![json!({"kind": "ConfigMap", "apiVersion": "v1",
                "metadata": {"name": "cart-settings", "namespace": "shop", "resourceVersion": "4"},
                "data": {"CACHE_SIZE": "64", "MODE": "fast"}})],
        )])
        .list("/api/v1/secrets", vec![List::Items(
            "4",
            vec![json!({"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
                "metadata": {"name": "cart-db", "namespace": "shop", "resourceVersion": "4"},
                "data": {"password": SECRET_VALUE}})],
        )])
        // A server without autoscaling/v2.
        .list("/apis/autoscaling/v2/horizontalpodautoscalers", vec![List::Status(404)]);
}

fn source(url: &str) -> KubeSource {
    KubeConfig { url: Some(url.to_string()), timeout_s: 20, ..KubeConfig::default() }
        .build()
        .expect("the source builds")
        .with_retry(Retry { min: Duration::from_millis(20), max: Duration::from_millis(200) })
}

/// Waits until the Deployment watcher's state passes `test`.
fn wait_until(source: &mut KubeSource, what: &str, test: impl Fn(&doppel_kube::KindStatus) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = source.status();
        let deployments = status.iter().find(|s| s.kind == WatchedKind::Deployment).expect("deployments watched");
        if test(deployments) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {deployments:?}");
        let _ = source.wait_for_change(Duration::from_millis(100));
    }
}

/// Applies a pull's ChangeSet, counting adds, updates and removes of Deployments by name.
fn step(source: &mut KubeSource, twin: &mut Twin, tally: &mut BTreeMap<String, [u32; 3]>) -> ChangeSet {
    let batch = source.changes(twin).expect("the pull is accepted");
    for change in &batch.changeset.changes {
        let (key, slot) = match change {
            Change::AddEntity(e) => (&e.key, 0),
            Change::UpdateEntity(e) => (&e.key, 1),
            Change::RemoveEntity(k) => (k, 2),
            _ => continue,
        };
        if key.kind() == Kind::Deployment {
            tally.entry(key.name().trim_start_matches("shop/").to_string()).or_default()[slot] += 1;
        }
    }
    twin.apply(&batch.changeset).expect("the twin takes the ChangeSet");
    batch.changeset
}

fn replicas(twin: &Twin) -> BTreeMap<String, u32> {
    twin.entities_of(Kind::Deployment)
        .map(|e| match &e.spec {
            Spec::Deployment(d) => (e.key.name().trim_start_matches("shop/").to_string(), d.replicas),
            other => panic!("a deployment with {other:?}"),
        })
        .collect()
}

#[test]
fn a_watch_through_drops_and_410s_loses_and_duplicates_nothing() {
    let mut script = Script::default();
    cluster(&mut script);
    script.list(
        DEPLOYMENTS,
        vec![
            List::Items(
                "10",
                vec![deployment("cart", 1, "5"), deployment("checkout", 1, "6"), deployment("search", 1, "7")],
            ),
            // After the 410 in the stream: payments changed and reviews was deleted while the
            // watch was down; shipping was added.
            List::Items(
                "30",
                vec![
                    deployment("cart", 3, "12"),
                    deployment("payments", 2, "25"),
                    deployment("search", 1, "7"),
                    deployment("shipping", 1, "28"),
                ],
            ),
            // After the HTTP 410 on the next watch: ads was added.
            List::Items(
                "40",
                vec![
                    deployment("ads", 1, "35"),
                    deployment("cart", 3, "12"),
                    deployment("payments", 2, "25"),
                    deployment("search", 1, "7"),
                    deployment("shipping", 1, "28"),
                ],
            ),
        ],
    );
    script.watch(
        DEPLOYMENTS,
        vec![
            // From the first list: an add, a change, a bookmark, then the connection breaks in the
            // middle of an event.
            Watch::Stream(vec![
                Step::Gate(1),
                event("ADDED", deployment("payments", 1, "11")),
                event("MODIFIED", deployment("cart", 3, "12")),
                bookmark("13"),
                Step::Raw("{\"type\":\"DELETED\",\"object\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deploym"),
                Step::Drop,
            ]),
            // Resumed from the bookmark: the delete that happened while disconnected, an add,
            // then 410 Gone inside the stream.
            Watch::Stream(vec![
                event("DELETED", deployment("checkout", 1, "14")),
                event("ADDED", deployment("reviews", 1, "15")),
                Step::Gate(2),
                gone(),
                Step::Hold,
            ]),
            // After the relist: 410 as the HTTP answer to the watch request.
            Watch::Status(410),
            // After the second relist: a change, then quiet.
            Watch::Stream(vec![event("MODIFIED", deployment("search", 2, "41")), Step::Hold]),
        ],
    );
    let server = Server::start(script);
    let mut source = source(&server.url);
    let mut twin = Twin::new();
    let mut tally: BTreeMap<String, [u32; 3]> = BTreeMap::new();

    // 1. The first list.
    let first = step(&mut source, &mut twin, &mut tally);
    assert_eq!(replicas(&twin), BTreeMap::from([("cart".into(), 1), ("checkout".into(), 1), ("search".into(), 1)]));
    assert!(first.provenance.summary.contains("complete listing"), "{}", first.provenance.summary);
    let key = |text: &str| text.parse::<Key>().expect("a key");
    let rel = |from: &str, kind, to: &str| twin.relation(&RelKey { from: key(from), kind, to: key(to) }).is_some();
    assert!(rel("pod/shop/cart-7d9f-abcde", RelKind::RunsOn, "node/node-a"), "the pod's placement");
    assert!(rel("node/node-a", RelKind::LocatedIn, "zone/eu-west-1a"), "the node's zone");
    assert!(rel("k8s-service/shop/cart", RelKind::RoutesTo, "deployment/shop/cart"), "the service's selector");
    match &twin.entity(&key("configmap/shop/cart-settings")).expect("the configmap").spec {
        Spec::ConfigMap(c) => assert_eq!(c.keys, ["CACHE_SIZE", "MODE"]),
        other => panic!("{other:?}"),
    }
    match &twin.entity(&key("node/node-a")).expect("the node").spec {
        Spec::Node(n) => {
            assert_eq!(n.allocatable.pods, 110);
            assert_eq!(n.taints.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(twin.contains(&key("secret/shop/cart-db")), "the secret, by name");
    assert!(!source.changed(), "nothing new since the pull");

    // 2. The watch: an add and a change, a drop mid-event, a resume with the delete.
    server.open(1);
    wait_until(&mut source, "the resumed watch's events", |s| s.resource_version.as_deref() == Some("15"));
    assert!(source.changed());
    step(&mut source, &mut twin, &mut tally);
    assert_eq!(
        replicas(&twin),
        BTreeMap::from([("cart".into(), 3), ("payments".into(), 1), ("reviews".into(), 1), ("search".into(), 1)])
    );

    // 3. 410 Gone in the stream, a relist, 410 on the next watch request, a relist, a change.
    server.open(2);
    wait_until(&mut source, "two relists and the last change", |s| {
        s.lists == 3 && s.resource_version.as_deref() == Some("41")
    });
    step(&mut source, &mut twin, &mut tally);
    let last = BTreeMap::from([
        ("ads".into(), 1),
        ("cart".into(), 3),
        ("payments".into(), 2),
        ("search".into(), 2),
        ("shipping".into(), 1),
    ]);
    assert_eq!(replicas(&twin), last, "the twin holds exactly the script's final state");
    let again = source.changes(&twin).expect("a quiet pull");
    assert!(again.changeset.is_empty(), "nothing seen twice: {:?}", again.changeset.summary());

    // Every change once: [added, updated, removed] per deployment over the three pulls.
    let expected: BTreeMap<String, [u32; 3]> = [
        ("ads", [1, 0, 0]),
        ("cart", [1, 1, 0]),
        ("checkout", [1, 0, 1]),
        ("payments", [1, 1, 0]),
        ("reviews", [1, 0, 1]),
        ("search", [1, 1, 0]),
        ("shipping", [1, 0, 0]),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c))
    .collect();
    assert_eq!(tally, expected);

    // The server saw: a list, a watch from it, a watch resumed from the bookmark, a relist
    // after the 410 event, a watch from it refused with 410, a relist, a watch from it.
    let deployments: Vec<(bool, Option<String>)> = server
        .seen()
        .into_iter()
        .filter(|s| s.path == DEPLOYMENTS)
        .map(|s| (s.watch, if s.watch { s.resource_version } else { None }))
        .collect();
    let watch = |rv: &str| (true, Some(rv.to_string()));
    assert_eq!(
        deployments,
        [(false, None), watch("10"), watch("13"), (false, None), watch("30"), (false, None), watch("40")]
    );
    let status = source.status();
    let absent: Vec<WatchedKind> = status.iter().filter(|s| s.absent).map(|s| s.kind).collect();
    assert_eq!(absent, [WatchedKind::HorizontalPodAutoscaler]);
}

#[test]
fn secrets_are_asked_for_metadata_only_and_their_data_is_nowhere() {
    let mut script = Script::default();
    cluster(&mut script);
    script.watch(
        "/api/v1/secrets",
        vec![Watch::Stream(vec![
            event(
                "ADDED",
                json!({"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
            "metadata": {"name": "payments-db", "namespace": "shop", "resourceVersion": "8"},
            "data": {"token": SECRET_VALUE}}),
            ),
            Step::Hold,
        ])],
    );
    let server = Server::start(script);
    let mut source = source(&server.url);
    let twin = Twin::new();
    let batch = source.changes(&twin).expect("the pull is accepted");
    assert!(batch.warnings.iter().any(|w| w.kind == WarningKind::Skipped && w.subject == "HorizontalPodAutoscaler"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !source.status().iter().any(|s| s.kind == WatchedKind::Secret && s.objects == 2) {
        assert!(Instant::now() < deadline, "the secret's watch event never came");
        let _ = source.wait_for_change(Duration::from_millis(100));
    }
    let batch = source.changes(&twin).expect("the pull is accepted");
    let stored = serde_json::to_string(&batch.changeset).expect("serialises");
    assert!(stored.contains("secret/shop/payments-db"), "the secret from the watch, by name");
    assert!(!stored.contains(SECRET_VALUE), "a secret's data reached the ChangeSet");
    assert!(!stored.contains("last-applied-configuration"), "an annotation reached the ChangeSet");
    let secrets: Vec<_> = server.seen().into_iter().filter(|s| s.path == "/api/v1/secrets").collect();
    assert!(secrets.len() >= 2, "a list and a watch: {secrets:?}");
    for seen in secrets {
        assert!(seen.accept.contains("as=PartialObjectMetadata"), "a secret request asked for data: {seen:?}");
    }
}

#[test]
fn the_live_source_complies() {
    fn serve(deployments: Vec<Value>) -> KubeSource {
        let mut script = Script::default();
        cluster(&mut script);
        script.list(DEPLOYMENTS, vec![List::Items("10", deployments)]);
        let server = Server::start(script);
        source(&server.url)
    }
    let full = || serve(vec![deployment("cart", 1, "5"), deployment("search", 2, "6")]);
    let smaller = || serve(vec![deployment("cart", 1, "5")]);
    let mut broken = deployment("broken", 1, "7");
    broken["spec"]["replicas"] = json!("three");
    let bad: Vec<Box<dyn Fn() -> KubeSource>> = vec![Box::new(move || serve(vec![broken.clone()]))];
    let twin = check(&Case { full: &full, smaller: &smaller, bad, secrets: vec![SECRET_VALUE.to_string()] });
    assert!(twin.contains(&"deployment/shop/search".parse().expect("a key")));
}

#[test]
fn a_malformed_object_is_an_error_naming_its_address() {
    let mut script = Script::default();
    let mut broken = deployment("broken", 1, "7");
    broken["spec"]["replicas"] = json!(-2);
    script.list(DEPLOYMENTS, vec![List::Items("10", vec![broken])]);
    let server = Server::start(script);
    let error = source(&server.url).pull().expect_err("refused");
    let message = error.to_string();
    let address = format!("{}/apis/apps/v1/namespaces/shop/deployments/broken", server.url);
    assert!(message.starts_with(&format!("source `kubernetes`: {address}: Deployment shop/broken: ")), "{message}");
    assert!(message.contains("`replicas` should be a whole number from 0, found -2"), "{message}");
}

#[test]
fn refusals_and_an_unreachable_server_name_the_source_and_the_kind() {
    // Credentials refused everywhere.
    let server = Server::start(Script { other_lists: Some(401), ..Script::default() });
    let error = source(&server.url).pull().expect_err("refused");
    let message = error.to_string();
    assert!(message.starts_with("source `kubernetes`: "), "{message}");
    let kinds = WatchedKind::ALL.map(|k| format!("query `list {k} ("));
    assert!(kinds.iter().any(|k| message.contains(k.as_str())), "no kind named: {message}");
    assert!(message.contains("HTTP 401 Unauthorized"), "{message}");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "a refusal is not retried as if the server were down");

    // One kind forbidden.
    let mut script = Script::default();
    script.list("/api/v1/secrets", vec![List::Status(403)]);
    let server = Server::start(script);
    let message = source(&server.url).pull().expect_err("refused").to_string();
    assert!(message.contains("query `list Secret (v1) in all namespaces`"), "{message}");
    assert!(message.contains("HTTP 403 Forbidden"), "{message}");

    // Excluding the forbidden kind makes the pull succeed.
    let config =
        KubeConfig { url: Some(server.url.clone()), exclude: vec![WatchedKind::Secret], ..KubeConfig::default() };
    let observation = config.build().expect("builds").pull().expect("the other kinds list");
    assert!(observation.complete);

    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address").port();
    let error = source(&format!("http://127.0.0.1:{port}")).pull().expect_err("unreachable");
    let message = error.to_string();
    assert!(message.starts_with("source `kubernetes`: http://127.0.0.1:"), "{message}");
    assert!(message.contains("query `list "), "{message}");
    assert!(error.is_retryable(), "an unreachable server is worth retrying: {message}");
    // The same over TLS (the ring provider is built in: no panic for want of one).
    let error = source(&format!("https://127.0.0.1:{port}")).pull().expect_err("unreachable");
    assert!(error.to_string().starts_with("source `kubernetes`: https://127.0.0.1:"), "{error}");
    assert!(error.is_retryable(), "{error}");
}

#[test]
fn namespaces_limit_what_is_watched() {
    let mut script = Script::default();
    cluster(&mut script);
    script
        .list(
            "/api/v1/namespaces",
            vec![List::Items(
                "3",
                vec![
                    json!({"kind": "Namespace", "metadata": {"name": "shop", "resourceVersion": "2"}}),
                    json!({"kind": "Namespace", "metadata": {"name": "kube-system", "resourceVersion": "2"}}),
                ],
            )],
        )
        .list("/apis/apps/v1/namespaces/shop/deployments", vec![List::Items("10", vec![deployment("cart", 1, "5")])]);
    let server = Server::start(script);
    let config = KubeConfig { url: Some(server.url.clone()), namespaces: vec!["shop".into()], ..KubeConfig::default() };
    let observation = config.build().expect("builds").pull().expect("lists");
    let keys: Vec<String> = observation
        .entities
        .iter()
        .filter(|e| matches!(e.key.kind(), Kind::Namespace | Kind::Deployment))
        .map(|e| e.key.to_string())
        .collect();
    assert_eq!(keys, ["namespace/shop", "deployment/shop/cart"]);
    let paths: std::collections::BTreeSet<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert!(paths.contains("/apis/apps/v1/namespaces/shop/deployments"), "{paths:?}");
    assert!(!paths.contains(DEPLOYMENTS), "all namespaces were listed: {paths:?}");
    assert!(paths.contains("/api/v1/nodes"), "cluster-scoped kinds are watched: {paths:?}");
}

#[test]
fn the_config_section_refuses_unknown_keys_and_kinds() {
    let error = serde_json::from_value::<KubeConfig>(json!({"name": "prod", "colour": "blue"})).expect_err("refused");
    assert!(error.to_string().contains("unknown field `colour`"), "{error}");
    let error = serde_json::from_value::<KubeConfig>(json!({"exclude": ["Secrets"]})).expect_err("refused");
    assert!(error.to_string().contains("unknown variant `Secrets`"), "{error}");
    let config: KubeConfig =
        serde_json::from_value(json!({"name": "prod", "context": "prod-eu", "exclude": ["Secret"]})).expect("reads");
    assert_eq!(config.exclude, [WatchedKind::Secret]);
    assert_eq!(config.timeout_s, 60);
    let missing = KubeConfig { kubeconfig: Some("/nonexistent/kubeconfig".into()), ..KubeConfig::default() };
    let error = missing.build().err().expect("no such file");
    let message = error.to_string();
    assert!(
        message.starts_with("source `kubernetes`: cannot read the kubeconfig /nonexistent/kubeconfig"),
        "{message}"
    );
}
