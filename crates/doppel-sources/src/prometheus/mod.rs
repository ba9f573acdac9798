//! The `prometheus` source: series from a Prometheus-compatible server onto entity
//! attributes, through bindings (`bindings.rs`). Pulls run the bindings' PromQL through the
//! HTTP API (`api.rs`, instant or range queries); pushes arrive as remote-write requests
//! (`remote_write.rs`, with its HTTP endpoint in `http.rs`). Both only produce samples: the
//! source creates no entity, and a series whose entity is not in the twin is a warning.

mod api;
pub mod bindings;
pub mod http;
pub mod remote_write;
mod wire;

pub use bindings::{Binding, Bindings, Template};

use crate::{Batch, Error, Observation, Result, SeriesSample, Source, Warning, WarningKind};
use doppel_model::{Key, Kind, Spec, Twin, TwinView};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How a pull reads time: one instant, or a range at a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// An instant query (`/api/v1/query`) at this time (ms since the epoch; `None`: now).
    Instant {
        /// When; the server's now when absent.
        at_ms: Option<i64>,
    },
    /// A range query (`/api/v1/query_range`) over `range_s` seconds ending at `end_ms`.
    Range {
        /// Length of the range, seconds.
        range_s: f64,
        /// Resolution, seconds.
        step_s: f64,
        /// End, ms since the epoch; now when absent.
        end_ms: Option<i64>,
    },
}

/// The `prometheus` source's settings (flags override what the bindings file says).
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusConfig {
    /// The instance name (`prometheus`).
    pub name: String,
    /// The server's base URL (`http://127.0.0.1:9090`).
    pub url: String,
    /// Seconds to wait for each answer.
    pub timeout_s: f64,
    /// Instant or range.
    pub window: Window,
}

impl Default for PrometheusConfig {
    fn default() -> PrometheusConfig {
        PrometheusConfig {
            name: "prometheus".into(),
            url: String::new(),
            timeout_s: 10.0,
            window: Window::Instant { at_ms: None },
        }
    }
}

impl PrometheusConfig {
    /// The source, with its bindings.
    pub fn build(self, bindings: Bindings) -> Prometheus {
        Prometheus { config: self, bindings, targets: Targets::default(), queries: 0 }
    }
}

/// What a twin holds that bindings may name: every key, and the entities of the kinds
/// that `each` bindings run over, with what fills their placeholders.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    known: HashSet<Key>,
    of_kind: BTreeMap<Kind, Vec<Target>>,
}

/// One entity an `each` binding runs its query for.
#[derive(Debug, Clone)]
struct Target {
    key: Key,
    vars: HashMap<String, String>,
    endpoints: Vec<String>,
}

impl Targets {
    /// Reads what `bindings` need from a twin.
    pub fn of(twin: &(impl TwinView + ?Sized), bindings: &Bindings) -> Targets {
        let kinds: HashSet<Kind> = bindings.bindings.iter().filter_map(|b| b.each).collect();
        let mut targets = Targets::default();
        for entity in twin.entities() {
            targets.known.insert(entity.key.clone());
            if !kinds.contains(&entity.key.kind()) {
                continue;
            }
            let key = &entity.key;
            let mut vars: HashMap<String, String> = HashMap::new();
            vars.insert("name".into(), key.name().to_string());
            vars.insert(key.kind().prefix().into(), key.name().to_string());
            vars.insert("key".into(), key.to_string());
            vars.insert("namespace".into(), key.namespace().unwrap_or_default().to_string());
            for (label, value) in entity.labels.iter() {
                vars.insert(format!("label.{label}"), value.to_string());
            }
            let endpoints = match &entity.spec {
                Spec::Service(service) => service.endpoints.iter().map(|e| e.name.to_string()).collect(),
                _ => Vec::new(),
            };
            targets.of_kind.entry(key.kind()).or_default().push(Target { key: key.clone(), vars, endpoints });
        }
        for list in targets.of_kind.values_mut() {
            list.sort_by(|a, b| a.key.cmp(&b.key));
        }
        targets
    }

    /// Targets naming exactly these keys (no `each` expansion): for remote-write and tests.
    pub fn keys(keys: impl IntoIterator<Item = Key>) -> Targets {
        Targets { known: keys.into_iter().collect(), of_kind: BTreeMap::new() }
    }

    /// Whether the twin has this entity.
    pub fn contains(&self, key: &Key) -> bool {
        self.known.contains(key)
    }
}

/// Warnings of one pull or push, one per binding and subject, with how many samples each
/// concerned (so a flood of unmatched series makes a handful of warnings).
#[derive(Debug, Default)]
pub(crate) struct WarningTally {
    counts: BTreeMap<(usize, WarningKind, String), Tallied>,
}

/// One tallied warning: samples concerned, message, the binding's place and name.
type Tallied = (usize, String, crate::Place, String);

impl WarningTally {
    /// Counts `samples` samples under one warning.
    pub(crate) fn add(
        &mut self,
        binding: &Binding,
        kind: WarningKind,
        subject: String,
        samples: usize,
        message: impl FnOnce() -> String,
    ) {
        let entry = self
            .counts
            .entry((binding.index, kind, subject))
            .or_insert_with(|| (0, message(), binding.place.clone(), binding.describe()));
        entry.0 += samples;
    }

    /// The warnings, in binding order.
    pub(crate) fn finish(self) -> Vec<Warning> {
        self.counts
            .into_iter()
            .map(|((_, kind, subject), (n, message, place, object))| Warning {
                kind,
                object: Some(object),
                place: Some(place),
                subject,
                message: format!("{message} ({n} sample{})", if n == 1 { "" } else { "s" }),
            })
            .collect()
    }
}

/// A series' attribute: the binding's series, with `:ENDPOINT` when it has one.
pub(crate) fn attribute(series: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(endpoint) if !endpoint.is_empty() => format!("{series}:{endpoint}"),
        _ => series.to_string(),
    }
}

/// Maps one result series of a binding onto its entity: the key (rendered from `labels`
/// unless `fixed`), checked against the twin. `None` (and a warning) when it names none.
pub(crate) fn resolve<'l>(
    binding: &Binding,
    fixed: Option<&Key>,
    label: impl Fn(&str) -> Option<&'l str> + Copy,
    targets: &Targets,
    samples: usize,
    tally: &mut WarningTally,
) -> Option<(Key, String)> {
    let key = match fixed {
        Some(key) => key.clone(),
        None => {
            let template = binding.entity.as_ref()?;
            let text = match template.render(label) {
                Ok(text) => text,
                Err(missing) => {
                    tally.add(binding, WarningKind::Unresolved, format!("no label `{missing}`"), samples, || {
                        format!("a series has no label `{missing}` for the entity template; skipped")
                    });
                    return None;
                }
            };
            match text.parse::<Key>() {
                Ok(key) => key,
                Err(e) => {
                    tally.add(binding, WarningKind::Unresolved, text.clone(), samples, || {
                        format!("`{text}` is not an entity key ({e}); skipped")
                    });
                    return None;
                }
            }
        }
    };
    if !targets.contains(&key) {
        tally.add(binding, WarningKind::Unresolved, key.to_string(), samples, || {
            format!("{key} matches no entity in the twin; skipped")
        });
        return None;
    }
    let endpoint = match &binding.endpoint {
        None => None,
        Some(template) => match template.render(label) {
            Ok(endpoint) => Some(endpoint),
            Err(missing) => {
                tally.add(binding, WarningKind::Unresolved, format!("no label `{missing}`"), samples, || {
                    format!("a series of {key} has no label `{missing}` for the endpoint template; skipped")
                });
                return None;
            }
        },
    };
    Some((key, attribute(&binding.series, endpoint.as_deref())))
}

/// The Prometheus pull source.
#[derive(Debug, Clone)]
pub struct Prometheus {
    config: PrometheusConfig,
    bindings: Bindings,
    targets: Targets,
    queries: usize,
}

impl Prometheus {
    /// Sets what the twin holds (done by [`Source::changes`]; a bare `pull` matches nothing).
    pub fn set_targets(&mut self, targets: Targets) {
        self.targets = targets;
    }

    /// How many queries the last pull sent.
    pub fn queries(&self) -> usize {
        self.queries
    }
}

impl Source for Prometheus {
    fn system(&self) -> &'static str {
        "prometheus"
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn pull(&mut self) -> Result<Observation> {
        let client = api::Client::new(&self.config)?;
        let mut tally = WarningTally::default();
        let mut samples: Vec<SeriesSample> = Vec::new();
        let mut queries = 0;
        let empty = Vec::new();
        for binding in &self.bindings.bindings {
            let Some(query) = &binding.query else { continue };
            match binding.each {
                None => {
                    let text = query.render(|_| None).map_err(|missing| Error::Object {
                        source_name: self.config.name.clone(),
                        object: binding.describe(),
                        place: binding.place.clone(),
                        message: format!("placeholder `{{{{{missing}}}}}` has no value"),
                    })?;
                    let series = client.run(&text)?;
                    queries += 1;
                    for one in series {
                        let label = |name: &str| one.labels.get(name).map(String::as_str);
                        let Some((key, attribute)) =
                            resolve(binding, None, label, &self.targets, one.points.len(), &mut tally)
                        else {
                            continue;
                        };
                        push_points(&mut samples, &mut tally, binding, &key, &attribute, &one.points);
                    }
                }
                Some(kind) => {
                    for target in self.targets.of_kind.get(&kind).unwrap_or(&empty) {
                        let endpoints: Vec<Option<&str>> = if binding.per_endpoint() {
                            target.endpoints.iter().map(|e| Some(e.as_str())).collect()
                        } else {
                            vec![None]
                        };
                        for endpoint in endpoints {
                            let text = query
                                .render(|name| match (name, endpoint) {
                                    ("endpoint", Some(endpoint)) => Some(endpoint),
                                    _ => target.vars.get(name).map(String::as_str),
                                })
                                .unwrap_or_default();
                            if text.is_empty() {
                                tally.add(binding, WarningKind::Unresolved, target.key.to_string(), 0, || {
                                    format!("{} lacks a label the query names; not queried", target.key)
                                });
                                continue;
                            }
                            let series = client.run(&text)?;
                            queries += 1;
                            if series.len() > 1 && binding.endpoint.is_none() {
                                let n = series.len();
                                tally.add(binding, WarningKind::Duplicate, target.key.to_string(), n - 1, || {
                                    format!("the query for {} gave {n} series; the first is kept", target.key)
                                });
                            }
                            let take = if binding.endpoint.is_none() { 1 } else { series.len() };
                            for one in series.iter().take(take) {
                                let label = |name: &str| one.labels.get(name).map(String::as_str);
                                let resolved = match endpoint {
                                    Some(endpoint) => {
                                        Some((target.key.clone(), attribute(&binding.series, Some(endpoint))))
                                    }
                                    None => resolve(
                                        binding,
                                        Some(&target.key),
                                        label,
                                        &self.targets,
                                        one.points.len(),
                                        &mut tally,
                                    ),
                                };
                                let Some((key, attribute)) = resolved else { continue };
                                push_points(&mut samples, &mut tally, binding, &key, &attribute, &one.points);
                            }
                        }
                    }
                }
            }
        }
        self.queries = queries;
        samples.sort_by(|a, b| (&a.entity, &a.attribute, a.ts_ms).cmp(&(&b.entity, &b.attribute, b.ts_ms)));
        samples.dedup_by(|a, b| a.entity == b.entity && a.attribute == b.attribute && a.ts_ms == b.ts_ms);
        let window = match self.config.window {
            Window::Instant { .. } => "instant".to_string(),
            Window::Range { range_s, step_s, .. } => format!("range {range_s}s step {step_s}s"),
        };
        Ok(Observation {
            samples,
            warnings: tally.finish(),
            complete: false,
            input: format!("{queries} queries ({window}) to {}", self.config.url),
            ..Observation::default()
        })
    }

    fn changes(&mut self, twin: &Twin) -> Result<Batch> {
        self.targets = Targets::of(twin, &self.bindings);
        let observation = self.pull()?;
        Ok(crate::reconcile(observation, twin, self.system(), &self.config.name))
    }
}

/// Appends a result series' points, scaled; non-finite values are counted, not kept.
fn push_points(
    samples: &mut Vec<SeriesSample>,
    tally: &mut WarningTally,
    binding: &Binding,
    key: &Key,
    attribute: &str,
    points: &[(i64, f64)],
) {
    for &(ts_ms, value) in points {
        let value = value * binding.scale;
        if !value.is_finite() {
            tally.add(binding, WarningKind::Skipped, format!("{key} {attribute}: not a number"), 1, || {
                format!("{key} {attribute}: NaN or infinite values are not stored")
            });
            continue;
        }
        samples.push(SeriesSample { entity: key.clone(), attribute: attribute.into(), ts_ms, value });
    }
}

/// A duration in seconds (`90`, `250ms`, `5m`, `1h`, `7d`, `2w`).
pub use doppel_model::units::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_units() {
        assert_eq!(parse_duration("90").unwrap(), 90.0);
        assert_eq!(parse_duration("250ms").unwrap(), 0.25);
        assert_eq!(parse_duration("5m").unwrap(), 300.0);
        assert_eq!(parse_duration("1h").unwrap(), 3600.0);
        assert_eq!(parse_duration("1w").unwrap(), 604_800.0);
        assert!(parse_duration("1y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("0s").unwrap_err().contains("above 0"));
        assert!(parse_duration("soon").unwrap_err().contains("expected a duration"));
    }
}
