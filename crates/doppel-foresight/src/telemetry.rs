//! Plausible telemetry for an estate, generated from a seed: what `doppel demo` gives the
//! bundled shop so its predictions have history to work on.
//!
//! Load at each entry point follows its daily profile, a weekly shape and steady growth,
//! with a little drift and measurement noise. Utilisation, request rates and latencies
//! come from the queueing model at that load (`doppel_perf::analytic`), so the telemetry
//! agrees with what the twin predicts. On top: one datastore's disk filling, a memory leak
//! in one workload since its last deploy, and connections and memory that follow load.

use std::collections::BTreeMap;

use doppel_model::spec::Spec;
use doppel_model::{Key, TwinView};
use doppel_perf::analytic::solve;
use doppel_resilience::behaviour::{PerfModel, PerfOptions, series as perf_series};
use doppel_resilience::topology::Topology;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::limits::{self, Resource};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// Time of the last sample (rounded down to the step), ms since the epoch: "now".
    pub end_ms: i64,
    /// Days of history.
    pub days: u32,
    /// Time between samples, ms.
    pub step_ms: i64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Load growth per week (0.05: 5% a week, compounding); today's load is the model's.
    pub growth_per_week: f64,
    /// Daily factors over the week (Monday first) where the model has none.
    pub weekly: [f64; 7],
    /// The datastore whose disk fills, and the days it has left at `end_ms`.
    pub filling_disk: Option<(Key, f64)>,
    /// The workload that leaks memory: the days since the leaking deploy and the share of
    /// its memory limit it leaks per day.
    pub leak: Option<(Key, f64, f64)>,
    /// A slowdown: the service, when it started (hours before `end_ms`), how long it
    /// lasted (hours) and how many times slower its work was.
    pub incident: Option<(Key, f64, f64, f64)>,
}

impl TelemetryConfig {
    /// Four weeks at 5 minutes up to `end_ms`: 5% growth a week, `orders-db`'s disk full
    /// in 9 days, `cart` leaking 7% of its memory limit a day since a deploy 6 days ago, and
    /// `search` four times slower for 45 minutes from 3 hours ago.
    pub fn shop(end_ms: i64) -> TelemetryConfig {
        TelemetryConfig {
            end_ms,
            days: 28,
            step_ms: 5 * MINUTE_MS,
            seed: 7,
            growth_per_week: 0.05,
            weekly: [1.0, 1.01, 1.02, 1.03, 1.08, 0.86, 0.8],
            filling_disk: Some(("datastore/orders-db".parse().expect("a key"), 9.0)),
            leak: Some(("deployment/shop/cart".parse().expect("a key"), 6.0, 0.07)),
            incident: Some(("service/search".parse().expect("a key"), 3.0, 0.75, 4.0)),
        }
    }
}

/// Generated series as samples to store, series after series.
pub fn samples_of(series: &[Generated]) -> Vec<doppel_store::Sample> {
    series
        .iter()
        .flat_map(|g| {
            g.samples.iter().map(|&(ts_ms, value)| doppel_store::Sample {
                entity: g.entity.clone(),
                attribute: g.attribute.clone(),
                ts_ms,
                value,
            })
        })
        .collect()
}

/// One generated series.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Entity it belongs to.
    pub entity: Key,
    /// Attribute (`request_rate_rps:GET /cart`, `disk_used_bytes`).
    pub attribute: String,
    /// Samples `(ms, value)`, oldest first.
    pub samples: Vec<(i64, f64)>,
}

/// Hours since Monday 00:00 UTC of a time (1970-01-01 was a Thursday).
fn hours_of_week(ts_ms: i64) -> f64 {
    ((ts_ms as f64 / HOUR_MS as f64) + 72.0).rem_euclid(168.0)
}

/// An hourly profile read between the hours' middles, so load moves smoothly.
fn smooth(profile: &[f64], hour_of_day: f64) -> f64 {
    if profile.len() != 24 {
        return 1.0;
    }
    let x = (hour_of_day - 0.5).rem_euclid(24.0);
    let (i, t) = (x.floor() as usize % 24, x.fract());
    profile[i] * (1.0 - t) + profile[(i + 1) % 24] * t
}

/// The estate's telemetry as `config` describes, in series order (entity, attribute).
/// Errors name what the configuration asks for that the twin lacks.
pub fn generate(twin: &impl TwinView, config: &TelemetryConfig) -> Result<Vec<Generated>, String> {
    if config.step_ms <= 0 || config.days == 0 {
        return Err(format!("telemetry needs a step above 0 and at least a day, not {config:?}"));
    }
    let topo = Topology::build(twin);
    let model = PerfModel::build(&topo, &PerfOptions::default());
    let end_ms = config.end_ms.div_euclid(config.step_ms) * config.step_ms;
    let points = (i64::from(config.days) * DAY_MS / config.step_ms) as usize;
    let times: Vec<i64> = (0..points).map(|i| end_ms - (points - 1 - i) as i64 * config.step_ms).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
    let unit = Normal::new(0.0, 1.0).expect("a unit normal");
    let mut out: BTreeMap<(Key, String), Vec<(i64, f64)>> = BTreeMap::new();
    let mut put = |entity: &Key, attribute: String, ts: i64, value: f64| {
        out.entry((entity.clone(), attribute)).or_default().push((ts, value));
    };

    // Each entry point's profile, from its endpoint in the topology.
    let profiles: Vec<(&[f64], &[f64])> = topo
        .entries
        .iter()
        .map(|e| {
            let ep = &topo.stations[e.station].endpoints[e.endpoint];
            (ep.profile.as_slice(), ep.weekly.as_slice())
        })
        .collect();
    let base: Vec<f64> = model.network.sources.iter().map(|s| s.rate_rps).collect();
    let origins = model.endpoint_origins(&topo);
    let seconds = config.step_ms as f64 / 1000.0;
    // Demand wanders a little around its shape: a slow random walk, per entry point.
    let mut wander = vec![0.0f64; base.len()];
    let mut load_factor = Vec::with_capacity(points);
    let mut net = model.network.clone();
    // The incident's model: the slow service's work at a fraction of its speed.
    let slow = config.incident.as_ref().map(|(key, ago_h, hours, factor)| {
        let speed = topo
            .stations
            .iter()
            .position(|st| &st.key == key)
            .and_then(|s| model.station.iter().position(|&t| t == s))
            .map_or(1.0, |n| model.speed[n]);
        let options = PerfOptions { speed: [(key.clone(), speed / factor)].into(), ..PerfOptions::default() };
        let start = end_ms - (ago_h * HOUR_MS as f64) as i64;
        (PerfModel::build(&topo, &options).network, start, start + (hours * HOUR_MS as f64) as i64)
    });
    for &ts in &times {
        let how = hours_of_week(ts);
        let weeks_ago = (end_ms - ts) as f64 / (7 * DAY_MS) as f64;
        let growth = (1.0 + config.growth_per_week).powf(-weeks_ago);
        let mut total = (0.0, 0.0);
        for (i, src) in net.sources.iter_mut().enumerate() {
            let (daily, weekly) = profiles[i];
            let day = (how / 24.0) as usize % 7;
            let week = weekly.get(day).copied().unwrap_or(config.weekly[day]);
            wander[i] = 0.98 * wander[i] + 0.004 * unit.sample(&mut rng);
            src.rate_rps = base[i] * smooth(daily, how % 24.0) * week * growth * (1.0 + wander[i]);
            total = (total.0 + src.rate_rps, total.1 + base[i]);
        }
        load_factor.push(if total.1 > 0.0 { total.0 / total.1 } else { 1.0 });
        let solved = match &slow {
            Some((network, from, to)) if (*from..*to).contains(&ts) => {
                let mut during = network.clone();
                for (d, n) in during.sources.iter_mut().zip(&net.sources) {
                    d.rate_rps = n.rate_rps;
                }
                solve(&during)
            }
            _ => solve(&net),
        };
        let Ok(solution) = solved else { continue };
        for (s, st) in solution.stations.iter().enumerate() {
            if model.replicas[s].is_some() {
                let key = &topo.stations[model.station[s]].key;
                let noisy = st.utilisation * (1.0 + 0.03 * unit.sample(&mut rng));
                put(key, perf_series::UTILISATION.to_string(), ts, noisy.clamp(0.0, 1.0));
            }
        }
        for (e, ep) in solution.endpoints.iter().enumerate() {
            if ep.arrival_rps <= 0.0 {
                continue;
            }
            let (key, name) = origins[e];
            // Counted over the step: Poisson noise on the count.
            let counted = ep.arrival_rps + (ep.arrival_rps / seconds).sqrt() * unit.sample(&mut rng);
            put(key, perf_series::of(perf_series::REQUEST_RATE, name), ts, counted.max(0.0));
            let mean = ep.mean_ms * (0.05 * unit.sample(&mut rng)).exp();
            put(key, perf_series::of(perf_series::LATENCY_MEAN, name), ts, mean);
        }
        for entry in &solution.entries {
            let (key, name) = origins[entry.endpoint];
            let p99 = entry.p99_ms * (0.08 * unit.sample(&mut rng)).exp();
            put(key, perf_series::of(perf_series::LATENCY_P99, name), ts, p99);
        }
    }

    // Limits: disks, connections and memory, driven by the load.
    let mean_load = load_factor.iter().sum::<f64>() / points as f64;
    for limit in limits::limits(twin) {
        let key = &limit.entity;
        let fill = |rng: &mut Xoshiro256PlusPlus, days_left: f64, rate_share_per_day: f64| -> Vec<f64> {
            // Writes follow load: each step adds its share of the day's growth.
            let per_day = limit.value * rate_share_per_day;
            let end = limit.value - days_left * per_day;
            let step_days = config.step_ms as f64 / DAY_MS as f64;
            let adds: Vec<f64> = load_factor.iter().map(|f| per_day * step_days * f / mean_load).collect();
            let mut used = end - adds.iter().sum::<f64>();
            adds.iter()
                .map(|a| {
                    used += a;
                    used + limit.value * 0.0005 * unit.sample(rng)
                })
                .collect()
        };
        let values: Vec<f64> = match (limit.resource, &key.kind()) {
            (Resource::Disk, _) => match &config.filling_disk {
                Some((k, days_left)) if k == key => fill(&mut rng, *days_left, 0.012),
                _ => fill(&mut rng, 200.0 + (key.to_string().len() * 37 % 400) as f64, 0.0008),
            },
            (Resource::Connections, _) => load_factor
                .iter()
                .map(|f| (limit.value * (0.12 + 0.22 * f) * (1.0 + 0.04 * unit.sample(&mut rng))).round().max(0.0))
                .collect(),
            (Resource::Memory, doppel_model::Kind::Deployment | doppel_model::Kind::StatefulSet) => {
                let leak = config.leak.as_ref().filter(|(k, ..)| k == key);
                times
                    .iter()
                    .zip(&load_factor)
                    .map(|(&ts, f)| {
                        let mut share = 0.38 + 0.06 * f + 0.01 * unit.sample(&mut rng);
                        if let Some((_, days_since, per_day)) = leak {
                            let since = (ts - (end_ms - (days_since * DAY_MS as f64) as i64)) as f64 / DAY_MS as f64;
                            if since >= 0.0 {
                                share += per_day * since;
                            }
                        }
                        limit.value * share.clamp(0.0, 1.0)
                    })
                    .collect()
            }
            _ => continue,
        };
        for (&ts, v) in times.iter().zip(values) {
            put(key, limit.attribute.to_string(), ts, v.max(0.0));
        }
    }

    // Checks the configuration named entities that exist.
    if let Some((key, ..)) = &config.incident
        && !matches!(twin.entity(key).map(|e| &e.spec), Some(Spec::Service(_)))
    {
        return Err(format!("{key} is not a service of the twin"));
    }
    for key in config.filling_disk.iter().map(|d| &d.0).chain(config.leak.iter().map(|l| &l.0)) {
        match twin.entity(key).map(|e| &e.spec) {
            Some(Spec::Datastore(_) | Spec::Deployment(_) | Spec::StatefulSet(_)) => {}
            Some(_) => return Err(format!("{key} is neither a datastore nor a workload")),
            None => return Err(format!("{key} is not in the twin")),
        }
    }
    Ok(out.into_iter().map(|((entity, attribute), samples)| Generated { entity, attribute, samples }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week() -> (doppel_model::Twin, TelemetryConfig, Vec<Generated>) {
        let twin = doppel_testkit::shop::shop();
        // A Monday midnight UTC: 2026-11-23.
        let end = 1_795_392_000_000;
        let config = TelemetryConfig { days: 7, step_ms: 15 * MINUTE_MS, ..TelemetryConfig::shop(end) };
        let series = generate(&twin, &config).expect("the shop's telemetry");
        (twin, config, series)
    }

    fn find<'g>(all: &'g [Generated], key: &str, attribute: &str) -> &'g [(i64, f64)] {
        &all.iter().find(|g| g.entity.to_string() == key && g.attribute == attribute).expect(attribute).samples
    }

    #[test]
    fn load_follows_the_day_and_grows() {
        let (_, config, all) = week();
        let rate = find(&all, "service/frontend", "request_rate_rps:GET /");
        assert_eq!(rate.len(), 7 * 96);
        assert_eq!(rate.last().unwrap().0, config.end_ms);
        assert!(rate.iter().all(|s| s.1.is_finite() && s.1 >= 0.0));
        // The model's daily average is 110 x the profile's mean; the night is far quieter
        // than the afternoon.
        let at = |hour: i64| rate.iter().filter(|s| (s.0 / HOUR_MS).rem_euclid(24) == hour).map(|s| s.1).sum::<f64>();
        assert!(at(3) * 2.5 < at(14), "night {} afternoon {}", at(3), at(14));
        let util = find(&all, "service/catalog", perf_series::UTILISATION);
        let peak = util.iter().map(|s| s.1).fold(0.0, f64::max);
        assert!((0.35..0.7).contains(&peak), "catalog's busiest {peak}");
    }

    #[test]
    fn the_disk_fills_on_schedule_and_the_leak_starts_at_the_deploy() {
        let (twin, config, all) = week();
        let limit = 500.0 * 1024f64.powi(3);
        let disk = find(&all, "datastore/orders-db", limits::series::DISK_USED);
        let (first, last) = (disk[0].1, disk.last().unwrap().1);
        let per_day = (last - first) / 7.0;
        let days_left = (limit - last) / per_day;
        assert!((8.0..10.0).contains(&days_left), "{days_left} days left");
        let mem = find(&all, "deployment/shop/cart", limits::series::MEMORY_USED);
        let deploy = config.end_ms - 6 * DAY_MS;
        let before: Vec<f64> = mem.iter().filter(|s| s.0 < deploy).map(|s| s.1).collect();
        let after = mem.last().unwrap().1;
        assert!(before.iter().all(|&v| v < 0.5 * 1024f64.powi(3) * 2.0));
        assert!(after > before.iter().copied().fold(0.0, f64::max) * 1.5, "leak to {after}");
        let other = find(&all, "deployment/shop/frontend", limits::series::MEMORY_USED);
        assert!(other.last().unwrap().1 < 0.5 * 1024f64.powi(3), "frontend stays flat");
        let bad = TelemetryConfig { leak: Some(("service/cart".parse().unwrap(), 1.0, 0.1)), ..config };
        assert!(generate(&twin, &bad).unwrap_err().contains("neither a datastore nor a workload"));
    }

    #[test]
    fn the_incident_slows_search_and_what_calls_it() {
        let (_, config, all) = week();
        let incident = config.end_ms - 3 * HOUR_MS;
        let at = |key: &str, attribute: &str, ts: i64| {
            find(&all, key, attribute).iter().find(|s| s.0 >= ts).map(|s| s.1).expect("a sample")
        };
        for (key, attribute) in
            [("service/search", "latency_mean_ms:Search"), ("service/frontend", "latency_mean_ms:GET /search")]
        {
            let (before, during) =
                (at(key, attribute, incident - 2 * HOUR_MS), at(key, attribute, incident + 15 * MINUTE_MS));
            assert!(during > 1.8 * before, "{key} {attribute}: {before} -> {during}");
        }
        let util = |ts| at("service/search", perf_series::UTILISATION, ts);
        assert!(util(incident + 15 * MINUTE_MS) > 2.5 * util(incident - HOUR_MS));
        // Over after 45 minutes.
        let after = at("service/search", "latency_mean_ms:Search", incident + HOUR_MS);
        assert!(after < 1.3 * at("service/search", "latency_mean_ms:Search", incident - 2 * HOUR_MS));
    }

    #[test]
    fn a_seed_decides_everything() {
        let (twin, config, a) = week();
        assert_eq!(generate(&twin, &config).unwrap(), a);
        let b = generate(&twin, &TelemetryConfig { seed: 8, ..config }).unwrap();
        assert_ne!(a, b);
    }
}
