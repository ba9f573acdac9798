//! Health of an entity from what the twin knows of it (node readiness, pod phase, ready
//! replicas of workloads, else their pods' phases, and for services the workloads they run
//! on) and from its current telemetry (reporting, anomalous now, at a limit).

use doppel_foresight::anomalies::{THRESHOLD, incidents};
use doppel_foresight::limits::limits;
use doppel_foresight::stored::{all_series, last_hour_peak, step_of};
use doppel_foresight::units::{human, unit_of};
use doppel_model::spec::PodPhase;
use doppel_model::{Entity, Key, Kind, RelKind, Spec, TwinView};
use doppel_predict::Series;
use doppel_store::Store;
use std::collections::HashMap;

/// How recent an incident must be to make an entity degraded now. The detector's scores
/// fall as it learns a shifted level, so a shift's incident ends soon after it starts:
/// an hour keeps a shift that is still there in view.
const RECENT_MS: i64 = 60 * 60_000;

/// How old a series' last sample may be (at least; else three of its steps) for the
/// series to be current.
const CURRENT_MS: i64 = 15 * 60_000;

/// What an entity's current telemetry says of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signal {
    /// `up` (reporting, nothing wrong) or `degraded`.
    pub state: &'static str,
    /// Why it is degraded, one line per reason (empty when up).
    pub why: Vec<String>,
}

/// The telemetry signals of every entity whose series are current, by key.
pub type Signals = HashMap<Key, Signal>;

/// Reads the signals at `now_ms` from the store: an entity with a series whose last
/// sample is at most three of its steps (at least 15 minutes) before `now_ms` is
/// reporting; it is degraded while one of those series was anomalous within the last
/// hour or its last hour's peak is at or past the limit the twin sets on it. Stale series
/// say nothing.
pub fn signals(store: &impl Store, twin: &impl TwinView, now_ms: i64) -> Result<Signals, String> {
    let limits: HashMap<(Key, &str), (f64, doppel_foresight::limits::Resource)> =
        limits(twin).into_iter().map(|l| ((l.entity, l.attribute), (l.value, l.resource))).collect();
    let mut out = Signals::new();
    for (key, attribute, samples) in all_series(store, None)? {
        let Some(&(last_ms, _)) = samples.last() else { continue };
        let step = step_of(&samples);
        if last_ms > now_ms || now_ms - last_ms > (3 * step).max(CURRENT_MS) || twin.entity(&key).is_none() {
            continue;
        }
        let signal = out.entry(key.clone()).or_insert_with(|| Signal { state: "up", why: Vec::new() });
        let unit = unit_of(&attribute);
        for i in incidents(&key, &attribute, &samples, step, now_ms - RECENT_MS, THRESHOLD) {
            signal.state = "degraded";
            signal.why.push(format!(
                "{attribute}: {} {} min ago ({} where {} was expected)",
                i.kind,
                (now_ms - i.from_ms).max(0) / 60_000,
                human(i.value, unit),
                human(i.expected, unit)
            ));
        }
        // Reached as the predictions' risks see it: by the last hour's peak.
        if let Some((value, resource)) = limits.get(&(key.clone(), attribute.as_str()))
            && let Some(peak) = Series::from_samples(&samples, step).ok().as_ref().and_then(last_hour_peak)
            && peak >= *value
        {
            signal.state = "degraded";
            signal.why.push(format!(
                "{} at its limit ({} of {}): {}",
                resource.noun(),
                human(peak, unit),
                human(*value, unit),
                resource.outcome()
            ));
        }
    }
    Ok(out)
}

/// `up`, `degraded`, `down` or `unknown` (nothing reports on it), from the twin and the
/// entity's telemetry signal: the worse of the two.
pub fn health(twin: &(impl TwinView + ?Sized), entity: &Entity, signals: &Signals) -> &'static str {
    let from_twin = of_twin(twin, entity);
    match signals.get(&entity.key) {
        Some(signal) => worst(&[from_twin, signal.state]),
        None => from_twin,
    }
}

fn of_twin(twin: &(impl TwinView + ?Sized), entity: &Entity) -> &'static str {
    match own(entity) {
        Some(h) => h,
        None => match entity.key.kind() {
            Kind::Service => {
                // The workloads it runs on (or that back it).
                let ins = twin.in_relations(&entity.key);
                let outs = twin.out_relations(&entity.key);
                let workloads = ins
                    .iter()
                    .filter(|r| r.kind() == RelKind::Backs)
                    .map(|r| r.from)
                    .chain(outs.iter().filter(|r| r.kind() == RelKind::RunsOn).map(|r| r.to));
                let backing: Vec<&'static str> = workloads
                    .filter_map(|k| twin.entity(k))
                    .map(|w| own(w).unwrap_or_else(|| of_pods(twin, w)))
                    .filter(|h| *h != "unknown")
                    .collect();
                worst(&backing)
            }
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet => of_pods(twin, entity),
            _ => "unknown",
        },
    }
}

fn worst(states: &[&'static str]) -> &'static str {
    ["down", "degraded", "up"].into_iter().find(|s| states.contains(s)).unwrap_or("unknown")
}

fn replicas(desired: u32, ready: Option<u32>) -> Option<&'static str> {
    let ready = ready?;
    Some(if ready >= desired {
        "up"
    } else if ready == 0 {
        "down"
    } else {
        "degraded"
    })
}

fn own(entity: &Entity) -> Option<&'static str> {
    match &entity.spec {
        Spec::Node(n) => n.ready.map(|r| if r { "up" } else { "down" }),
        Spec::Pod(p) => Some(match p.phase {
            PodPhase::Running | PodPhase::Succeeded => "up",
            PodPhase::Pending => "degraded",
            PodPhase::Failed => "down",
            PodPhase::Unknown => "unknown",
        }),
        Spec::Deployment(d) => replicas(d.replicas, d.ready_replicas),
        Spec::StatefulSet(s) => replicas(s.replicas, s.ready_replicas),
        _ => None,
    }
}

/// A workload's health from its pods' phases: all up, up; none up, down; else degraded.
fn of_pods(twin: &(impl TwinView + ?Sized), workload: &Entity) -> &'static str {
    let pods: Vec<&'static str> = twin
        .in_relations(&workload.key)
        .iter()
        .filter(|r| r.kind() == RelKind::MemberOf && r.from.kind() == Kind::Pod)
        .filter_map(|r| twin.entity(r.from).and_then(own))
        .collect();
    if pods.is_empty() {
        "unknown"
    } else if pods.iter().all(|h| *h == "up") {
        "up"
    } else if pods.iter().all(|h| *h == "down") {
        "down"
    } else {
        "degraded"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_telemetry_says_up_anomalous_or_full_and_stale_telemetry_nothing() {
        let twin = doppel_testkit::shop::shop();
        let end = 1_795_550_400_000;
        // A week of the shop's telemetry; search four times slower since 15 minutes ago.
        let config = doppel_foresight::telemetry::TelemetryConfig {
            days: 7,
            incident: Some(("service/search".parse().unwrap(), 0.25, 1.0, 4.0)),
            ..doppel_foresight::telemetry::TelemetryConfig::shop(end)
        };
        let generated = doppel_foresight::telemetry::generate(&twin, &config).unwrap();
        let mut samples = doppel_foresight::telemetry::samples_of(&generated);
        // The orders database's disk (500 GiB) is full at the last sample.
        let db: Key = "datastore/orders-db".parse().unwrap();
        let last = samples.iter().filter(|s| s.entity == db && s.attribute == "disk_used_bytes").map(|s| s.ts_ms).max();
        samples.push(doppel_store::Sample {
            entity: db.clone(),
            attribute: "disk_used_bytes".into(),
            ts_ms: last.unwrap(),
            value: (500u64 << 30) as f64,
        });
        let dir = tempfile::tempdir().unwrap();
        let mut store = doppel_store::SqliteStore::open(dir.path().join("twin.db")).unwrap();
        store.append_samples(&samples).unwrap();

        let now = signals(&store, &twin, end + 60_000).unwrap();
        let of = |key: &str| now.get(&key.parse::<Key>().unwrap()).cloned();
        let search = of("service/search").expect("search reports");
        assert_eq!(search.state, "degraded", "{search:?}");
        assert!(search.why.iter().any(|w| w.contains("latency")), "{search:?}");
        let db_signal = of("datastore/orders-db").expect("the database reports");
        assert_eq!(db_signal.state, "degraded");
        assert!(db_signal.why.iter().any(|w| w.contains("at its limit (500 GiB of 500 GiB)")), "{db_signal:?}");
        let cart = of("service/cart").expect("cart reports");
        assert_eq!((cart.state, cart.why.len()), ("up", 0), "{cart:?}");
        // Telemetry makes an entity the twin knows nothing of up, and worsens what it knows.
        let search_entity = twin.entity(&"service/search".parse().unwrap()).unwrap();
        assert_eq!(health(&twin, search_entity, &Signals::new()), "up");
        assert_eq!(health(&twin, search_entity, &now), "degraded");
        assert_eq!(health(&twin, twin.entity(&db).unwrap(), &Signals::new()), "unknown");
        assert_eq!(health(&twin, twin.entity(&db).unwrap(), &now), "degraded");
        // A day later nothing has reported since: telemetry says nothing.
        assert!(signals(&store, &twin, end + 86_400_000).unwrap().is_empty());
    }

    #[test]
    fn services_take_the_health_of_the_pods_behind_them() {
        let twin = doppel_testkit::shop::shop();
        let cart: doppel_model::Key = "service/cart".parse().unwrap();
        let none = Signals::new();
        assert_eq!(health(&twin, twin.entity(&cart).unwrap(), &none), "up");
        // One of cart's pods failed: cart is degraded, the others still up.
        let one_failed = doppel_testkit::shop::shop_with(&[(
            "pods.yaml",
            "member_of: deployment/shop/cart\n    phase: running",
            "member_of: deployment/shop/cart\n    phase: failed",
        )]);
        assert_eq!(health(&one_failed, one_failed.entity(&cart).unwrap(), &none), "degraded");
        let frontend: doppel_model::Key = "service/frontend".parse().unwrap();
        assert_eq!(health(&one_failed, one_failed.entity(&frontend).unwrap(), &none), "up");
    }
}
