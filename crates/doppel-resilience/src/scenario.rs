//! Scenarios: what fails or degrades, when, and at what load. Read from YAML files or the
//! CLI's short form, checked against the twin, every problem named with its place.

use doppel_estate::Diagnostic;
use doppel_estate::tree::{Node, parse_documents};
use doppel_model::{Key, Selector, TwinView};
use serde::{Deserialize, Serialize};

/// A scenario as written in a file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScenarioFile {
    /// A name for reports.
    pub name: Option<String>,
    /// The load it runs at.
    pub load: LoadSpec,
    /// How long after the first fault to follow it, in seconds.
    pub horizon_s: Option<f64>,
    /// Whether the cluster autoscaler adds nodes for pending pods.
    pub autoscaler: Option<bool>,
    /// Seed for anything random (Monte Carlo); the what-if itself is deterministic.
    pub seed: Option<u64>,
    /// What goes wrong.
    pub faults: Vec<FaultSpec>,
}

/// The load a scenario runs at.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadSpec {
    /// `average` (the daily average, default), `peak` (the busiest hour of the day) or an hour `0`..`23`.
    pub at: Option<serde_json::Value>,
    /// Multiplier on top (default 1).
    pub factor: Option<f64>,
}

/// One fault as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Selector of what fails outright.
    pub fail: Option<String>,
    /// Selector of what is degraded.
    pub degrade: Option<String>,
    /// Seconds after the start when it happens (default 0).
    pub at_s: Option<f64>,
    /// How long it lasts (default: to the end).
    pub for_s: Option<f64>,
    /// Latency added to every request (degrade).
    pub latency_ms: Option<f64>,
    /// Share of requests that fail, 0 to 1 (degrade).
    pub error_rate: Option<f64>,
    /// Share of capacity lost, 0 to 1 (degrade).
    pub capacity_loss: Option<f64>,
}

/// When in the day the load is taken.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadPoint {
    /// Rates as written (daily averages).
    Average,
    /// The hour with the most entry traffic.
    Peak,
    /// One hour of the day.
    Hour(u8),
}

/// The load of a checked scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Load {
    /// When in the day.
    pub point: LoadPoint,
    /// Multiplier.
    pub factor: f64,
}

impl Default for Load {
    fn default() -> Load {
        Load { point: LoadPoint::Average, factor: 1.0 }
    }
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It stops entirely.
    Fail,
    /// It keeps working, worse.
    Degrade {
        /// Added latency per request.
        latency_ms: f64,
        /// Share of requests failing.
        error_rate: f64,
        /// Share of capacity lost.
        capacity_loss: f64,
    },
}

/// A checked fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    /// The selector as written.
    pub selector: String,
    /// The entities it matched, sorted.
    pub targets: Vec<Key>,
    /// What happens to them.
    pub action: Action,
    /// When.
    pub at_s: f64,
    /// For how long, if not to the end.
    pub for_s: Option<f64>,
}

/// A checked scenario, ready to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Name for reports.
    pub name: String,
    /// Load.
    pub load: Load,
    /// Seconds followed.
    pub horizon_s: f64,
    /// Whether the autoscaler adds nodes.
    pub autoscaler: bool,
    /// Seed.
    pub seed: u64,
    /// Faults, in the order written.
    pub faults: Vec<Fault>,
}

/// Default horizon: an hour covers eviction (5 min), failovers and a node group's growth.
pub const DEFAULT_HORIZON_S: f64 = 3600.0;

/// Where a problem was found: a file and its parsed document, or a CLI flag.
enum Origin<'a> {
    File { name: &'a str, doc: Option<&'a Node> },
    Flag,
}

struct Problems<'a> {
    origin: Origin<'a>,
    list: Vec<Diagnostic>,
}

impl Problems<'_> {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        let (file, line, col) = match &self.origin {
            Origin::File { name, doc } => {
                let node = doc.map(|d| d.locate(path));
                (name.to_string(), node.map_or(1, |n| n.line), node.map_or(1, |n| n.col))
            }
            Origin::Flag => ("command line".to_string(), 0, 0),
        };
        self.list.push(Diagnostic {
            file,
            line,
            col,
            path: path.to_string(),
            message: message.into(),
            suggestion: None,
        });
    }
}

/// Kinds a fault can target, for messages.
const FAILABLE: &str =
    "a region, zone, subnet, host, node, workload, pod, service, datastore, queue, external or load balancer";

fn failable(key: &Key) -> bool {
    use doppel_model::Kind as K;
    matches!(
        key.kind(),
        K::Region
            | K::Zone
            | K::Subnet
            | K::Network
            | K::Host
            | K::Node
            | K::Deployment
            | K::StatefulSet
            | K::DaemonSet
            | K::Pod
            | K::Service
            | K::Datastore
            | K::Queue
            | K::External
            | K::LoadBalancer
    )
}

fn degradable(key: &Key) -> bool {
    use doppel_model::Kind as K;
    matches!(key.kind(), K::Service | K::Datastore | K::Queue | K::External)
}

/// Settings given on the command line, which win over a scenario file's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    /// Load factor (`2x`, `0.5`).
    pub load: Option<&'a str>,
    /// Point of the day (`average`, `peak`, an hour).
    pub at: Option<&'a str>,
    /// Seconds to follow.
    pub horizon_s: Option<f64>,
    /// Whether the autoscaler may add nodes.
    pub autoscaler: Option<bool>,
}

impl ScenarioFile {
    /// Applies command-line overrides; a load factor that is not a number is refused
    /// (ranges are checked with the rest of the scenario).
    pub fn apply(&mut self, overrides: &Overrides<'_>) -> Result<(), Vec<Diagnostic>> {
        if let Some(load) = overrides.load {
            match load.trim().trim_end_matches(['x', 'X']).parse::<f64>() {
                Ok(factor) => self.load.factor = Some(factor),
                Err(_) => {
                    let mut problems = Problems { origin: Origin::Flag, list: Vec::new() };
                    problems
                        .add("--load", format!("`{load}` is not a load factor: expected a number such as 2x or 0.5"));
                    return Err(problems.list);
                }
            }
        }
        if let Some(at) = overrides.at {
            self.load.at = Some(match at.parse::<u64>() {
                Ok(h) => serde_json::Value::from(h),
                Err(_) => serde_json::Value::from(at),
            });
        }
        if overrides.horizon_s.is_some() {
            self.horizon_s = overrides.horizon_s;
        }
        if overrides.autoscaler.is_some() {
            self.autoscaler = overrides.autoscaler;
        }
        Ok(())
    }

    /// Reads a scenario file (YAML or JSON); problems name the file, line and field.
    pub fn parse(name: &str, text: &str) -> Result<(ScenarioFile, Node), Vec<Diagnostic>> {
        let fail = |line, col, path: &str, message: String| {
            vec![Diagnostic { file: name.to_string(), line, col, path: path.to_string(), message, suggestion: None }]
        };
        let docs = parse_documents(text).map_err(|e| fail(e.line, e.col, "", e.message.clone()))?;
        let mut docs = docs.into_iter();
        let Some(doc) = docs.next() else {
            return Err(fail(1, 1, "", "the file is empty: expected a scenario with `faults:`".into()));
        };
        if let Some(extra) = docs.next() {
            return Err(fail(extra.line, extra.col, "", "a scenario file holds one document".into()));
        }
        if doc.as_map().is_none() {
            return Err(fail(
                doc.line,
                doc.col,
                "",
                format!("expected a map with `faults:`, found {}", doc.value.describe()),
            ));
        }
        let json = doc.to_json();
        match serde_path_to_error::deserialize::<_, ScenarioFile>(&json) {
            Ok(file) => Ok((file, doc)),
            Err(err) => {
                let path = err.path().to_string().replace('[', ".").replace(']', "");
                let path = if path == "." { String::new() } else { path };
                let inner = err.into_inner().to_string();
                // Point at the misspelt key itself when the field is unknown.
                let node = match inner.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
                    Some(field) => {
                        let parent_path = path.rsplit_once('.').map_or("", |(p, _)| p);
                        let parent = doc.locate(parent_path);
                        let at = parent.key_of(field).unwrap_or(parent);
                        return Err(fail(at.line, at.col, parent_path, inner));
                    }
                    None => doc.locate(&path),
                };
                Err(fail(node.line, node.col, &path, inner))
            }
        }
    }
}

impl Scenario {
    /// Checks a scenario file against a twin: selectors must match something that can fail,
    /// numbers must be in range, and faults must not contradict each other.
    pub fn from_file(
        file: &ScenarioFile,
        name: &str,
        doc: Option<&Node>,
        view: &(impl TwinView + ?Sized),
    ) -> Result<Scenario, Vec<Diagnostic>> {
        check(file, Origin::File { name, doc }, view)
    }

    /// Builds a scenario from the CLI's short form: `--fail SEL` and `--degrade SPEC` (repeated),
    /// with the overrides (`--load 2x`, `--at peak`, ...).
    pub fn from_flags(
        fails: &[String],
        degrades: &[String],
        overrides: &Overrides<'_>,
        view: &(impl TwinView + ?Sized),
    ) -> Result<Scenario, Vec<Diagnostic>> {
        let mut file = ScenarioFile::default();
        let mut problems = Problems { origin: Origin::Flag, list: Vec::new() };
        for f in fails {
            file.faults.push(FaultSpec { fail: Some(f.clone()), ..FaultSpec::default() });
        }
        for d in degrades {
            match parse_degrade(d) {
                Ok(fault) => file.faults.push(fault),
                Err(message) => problems.add("--degrade", message),
            }
        }
        if let Err(mut more) = file.apply(overrides) {
            problems.list.append(&mut more);
        }
        if !problems.list.is_empty() {
            return Err(problems.list);
        }
        check(&file, Origin::Flag, view)
    }

    /// The load and horizon the command line asks for, for analyses without faults (sweeps):
    /// the daily peak unless `--at` says otherwise.
    pub fn load_from_flags(overrides: &Overrides<'_>) -> Result<(Load, f64), Vec<Diagnostic>> {
        let mut file = ScenarioFile::default();
        let mut problems = Problems { origin: Origin::Flag, list: Vec::new() };
        let overrides = Overrides { at: overrides.at.or(Some("peak")), ..*overrides };
        if let Err(mut more) = file.apply(&overrides) {
            problems.list.append(&mut more);
            return Err(problems.list);
        }
        let settings = check_load(&file, &mut problems);
        if problems.list.is_empty() { Ok(settings) } else { Err(problems.list) }
    }

    /// A short description of the load ("peak (20:00) x2").
    pub fn load_text(&self) -> String {
        self.load.text()
    }
}

impl Load {
    /// A short description ("daily peak x2").
    pub fn text(&self) -> String {
        let point = match self.point {
            LoadPoint::Average => "daily average".to_string(),
            LoadPoint::Peak => "daily peak".to_string(),
            LoadPoint::Hour(h) => format!("{h:02}:00"),
        };
        if self.factor == 1.0 { point } else { format!("{point} x{}", self.factor) }
    }

    /// The hour of the day whose profile factors apply; none for the daily average.
    pub fn hour(&self, topo: &crate::Topology) -> Option<usize> {
        match self.point {
            LoadPoint::Average => None,
            LoadPoint::Hour(h) => Some(h as usize),
            LoadPoint::Peak => Some(crate::engine::peak_hour(topo)),
        }
    }
}

/// Parses `SELECTOR:latency_ms=200,error_rate=0.1,capacity_loss=0.5`.
fn parse_degrade(text: &str) -> Result<FaultSpec, String> {
    let Some((selector, settings)) = text.rsplit_once(':') else {
        return Err(format!(
            "`{text}`: expected SELECTOR:SETTING=VALUE,..., such as external/payment-provider:latency_ms=2000,error_rate=0.1"
        ));
    };
    let mut fault = FaultSpec { degrade: Some(selector.to_string()), ..FaultSpec::default() };
    for setting in settings.split(',').filter(|s| !s.is_empty()) {
        let Some((name, value)) = setting.split_once('=') else {
            return Err(format!("`{setting}`: expected SETTING=VALUE"));
        };
        let value: f64 =
            value.trim().trim_end_matches('%').parse().map_err(|_| format!("`{value}` is not a number"))?;
        let value = if setting.trim_end().ends_with('%') { value / 100.0 } else { value };
        match name.trim() {
            "latency_ms" => fault.latency_ms = Some(value),
            "error_rate" => fault.error_rate = Some(value),
            "capacity_loss" => fault.capacity_loss = Some(value),
            "at_s" => fault.at_s = Some(value),
            "for_s" => fault.for_s = Some(value),
            other => {
                return Err(format!(
                    "`{other}` is not a degrade setting: expected latency_ms, error_rate, capacity_loss, at_s or for_s"
                ));
            }
        }
    }
    Ok(fault)
}

/// The load and horizon of a scenario file, with their problems.
fn check_load(file: &ScenarioFile, p: &mut Problems<'_>) -> (Load, f64) {
    let flag = matches!(p.origin, Origin::Flag);
    let load_path = |field: &str| {
        if flag { format!("--{}", if field == "at" { "at" } else { "load" }) } else { format!("load.{field}") }
    };
    let factor = file.load.factor.unwrap_or(1.0);
    if !factor.is_finite() || factor <= 0.0 {
        p.add(
            &load_path("factor"),
            format!(
                "a load factor of {factor} is not possible: expected a number above 0, such as 2 for twice the load"
            ),
        );
    }
    let point = match &file.load.at {
        None => LoadPoint::Average,
        Some(serde_json::Value::String(s)) if s == "average" => LoadPoint::Average,
        Some(serde_json::Value::String(s)) if s == "peak" => LoadPoint::Peak,
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim_end_matches(":00").parse().ok())) {
            Some(h) if h < 24 => LoadPoint::Hour(h as u8),
            _ => {
                p.add(
                    &load_path("at"),
                    format!("`{v}` is not a point of the day: expected average, peak or an hour from 0 to 23"),
                );
                LoadPoint::Average
            }
        },
    };
    let horizon_s = file.horizon_s.unwrap_or(DEFAULT_HORIZON_S);
    if !horizon_s.is_finite() || horizon_s <= 0.0 {
        p.add("horizon_s", format!("{horizon_s} is not a horizon: expected seconds above 0"));
    }
    (Load { point, factor }, horizon_s)
}

fn check(
    file: &ScenarioFile,
    origin: Origin<'_>,
    view: &(impl TwinView + ?Sized),
) -> Result<Scenario, Vec<Diagnostic>> {
    let mut p = Problems { origin, list: Vec::new() };
    let flag = matches!(p.origin, Origin::Flag);
    let (load, horizon_s) = check_load(file, &mut p);
    if file.faults.is_empty() {
        p.add(if flag { "--fail" } else { "faults" }, "nothing fails: give at least one fault (fail: zone/us-east-1a)");
    }
    let mut faults: Vec<Fault> = Vec::new();
    for (i, spec) in file.faults.iter().enumerate() {
        let at = |field: &str| {
            if flag {
                format!("--{}", if spec.fail.is_some() { "fail" } else { "degrade" })
            } else {
                format!("faults.{i}.{field}")
            }
        };
        let (selector, action_word) = match (&spec.fail, &spec.degrade) {
            (Some(s), None) => (s.clone(), "fail"),
            (None, Some(s)) => (s.clone(), "degrade"),
            (Some(_), Some(_)) => {
                p.add(
                    &at("degrade"),
                    "a fault either fails or degrades its target, not both: split it into two faults",
                );
                continue;
            }
            (None, None) => {
                p.add(&at(""), "say what goes wrong: `fail: SELECTOR` or `degrade: SELECTOR`");
                continue;
            }
        };
        let action = if action_word == "fail" {
            for (field, value) in [
                ("latency_ms", spec.latency_ms),
                ("error_rate", spec.error_rate),
                ("capacity_loss", spec.capacity_loss),
            ] {
                if value.is_some() {
                    p.add(
                        &at(field),
                        format!(
                            "{field} describes a degradation, but this fault fails its target outright: use `degrade:`"
                        ),
                    );
                }
            }
            Action::Fail
        } else {
            let latency_ms = spec.latency_ms.unwrap_or(0.0);
            let error_rate = spec.error_rate.unwrap_or(0.0);
            let capacity_loss = spec.capacity_loss.unwrap_or(0.0);
            if !latency_ms.is_finite() || latency_ms < 0.0 {
                p.add(
                    &at("latency_ms"),
                    format!("{latency_ms} is not an added latency: expected milliseconds, 0 or more"),
                );
            }
            for (field, value) in [("error_rate", error_rate), ("capacity_loss", capacity_loss)] {
                if !(0.0..=1.0).contains(&value) {
                    p.add(&at(field), format!("{value} is not a share: expected a number from 0 to 1 (0.1 for 10%)"));
                }
            }
            if latency_ms == 0.0 && error_rate == 0.0 && capacity_loss == 0.0 {
                p.add(
                    &at("degrade"),
                    "a degradation needs latency_ms, error_rate or capacity_loss; as written it changes nothing",
                );
            }
            Action::Degrade { latency_ms, error_rate, capacity_loss }
        };
        let at_s = spec.at_s.unwrap_or(0.0);
        if !at_s.is_finite() || at_s < 0.0 {
            p.add(&at("at_s"), format!("{at_s} is not a time: expected seconds from the start, 0 or more"));
        } else if at_s >= horizon_s {
            p.add(&at("at_s"), format!("at {at_s} s the scenario is already over (horizon_s is {horizon_s})"));
        }
        if let Some(for_s) = spec.for_s
            && (!for_s.is_finite() || for_s <= 0.0)
        {
            p.add(&at("for_s"), format!("{for_s} is not a duration: expected seconds above 0"));
        }
        let field = if spec.fail.is_some() { "fail" } else { "degrade" };
        let targets = match Selector::parse(&selector) {
            Err(err) => {
                p.add(&at(field), err.to_string());
                continue;
            }
            Ok(sel) => {
                let mut keys: Vec<Key> = sel.select(view).into_iter().map(|e| e.key.clone()).collect();
                keys.sort();
                keys
            }
        };
        if targets.is_empty() {
            p.add(
                &at(field),
                format!("`{selector}` matches nothing in the twin: check the key with `doppel show {selector}`"),
            );
            continue;
        }
        let fits: fn(&Key) -> bool = if matches!(action, Action::Fail) { failable } else { degradable };
        let unfit: Vec<&Key> = targets.iter().filter(|k| !fits(k)).collect();
        if unfit.len() == targets.len() {
            let what =
                if matches!(action, Action::Fail) { FAILABLE } else { "a service, datastore, queue or external" };
            p.add(
                &at(field),
                format!(
                    "`{selector}` matches {} ({}), which cannot {action_word}: expected {what}",
                    targets.len(),
                    unfit[0]
                ),
            );
            continue;
        }
        if spec.for_s.is_some() && matches!(action, Action::Fail) && targets.iter().any(|k| !degradable(k) && fits(k)) {
            p.add(
                &at("for_s"),
                "a failure that ends is modelled for services, datastores, queues and externals; a lost zone, node or pod stays lost until the horizon",
            );
        }
        let targets: Vec<Key> = targets.into_iter().filter(fits).collect();
        // Contradiction: the same target failed and degraded over overlapping times.
        let end = spec.for_s.map_or(f64::INFINITY, |d| at_s + d);
        for (j, other) in faults.iter().enumerate() {
            let other_end = other.for_s.map_or(f64::INFINITY, |d| other.at_s + d);
            let overlap = at_s < other_end && other.at_s < end;
            if overlap
                && std::mem::discriminant(&other.action) != std::mem::discriminant(&action)
                && let Some(k) = targets.iter().find(|k| other.targets.contains(k))
            {
                p.add(
                    &at(field),
                    format!("{k} is both failed (fault {}) and degraded (fault {}) at the same time: a failed target cannot also be degraded", if matches!(action, Action::Fail) { i } else { j }, if matches!(action, Action::Fail) { j } else { i }),
                );
            }
        }
        faults.push(Fault { selector, targets, action, at_s, for_s: spec.for_s });
    }
    if !p.list.is_empty() {
        return Err(p.list);
    }
    let name = file.name.clone().unwrap_or_else(|| {
        faults
            .iter()
            .map(|f| format!("{} {}", if matches!(f.action, Action::Fail) { "fail" } else { "degrade" }, f.selector))
            .collect::<Vec<_>>()
            .join(", ")
    });
    Ok(Scenario {
        name,
        load,
        horizon_s,
        autoscaler: file.autoscaler.unwrap_or(true),
        seed: file.seed.unwrap_or(1),
        faults,
    })
}
