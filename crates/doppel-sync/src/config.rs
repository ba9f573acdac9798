//! The sources file: which source instances a sync runs, in order (the first to hold a key
//! owns it), each with its own section and interval. Every problem names the file, the line
//! and the key.
//!
//! ```yaml
//! interval: 60s                 # default for every source
//! sources:
//!   - kubernetes:               # manifests
//!       name: manifests
//!       paths: [k8s/]
//!       prune: true
//!   - kubernetes_cluster: {name: prod, namespaces: [shop], interval: 5m}
//!   - terraform: {name: infra, files: [tf/state.json]}
//!   - prometheus: {name: metrics, bindings: prometheus/bindings.yaml, url: "http://127.0.0.1:9090"}
//! ```

use doppel_estate::tree::{Node, Value, parse_documents};
use doppel_kube::KubeConfig;
use doppel_sources::drift::Role;
use doppel_sources::estate::EstateConfig;
use doppel_sources::kubernetes::ManifestConfig;
use doppel_sources::otlp::OtlpConfig;
use doppel_sources::prometheus::{PrometheusConfig, Window, parse_duration};
use doppel_sources::terraform::TerraformConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The interval of a source whose section and the file's top level give none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// A problem in a sources file: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", if *line > 0 { format!(":{line}:{col}") } else { String::new() })]
pub struct ConfigError {
    /// The sources file.
    pub file: String,
    /// Line, from 1 (0: the whole file).
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
    /// The key concerned and what was expected.
    pub message: String,
}

/// One source instance and how to build it: one variant per kind of section.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// `estate`: estate files (declared).
    Estate {
        /// The source's settings.
        config: EstateConfig,
        /// Files and directories, relative to the sources file.
        paths: Vec<PathBuf>,
    },
    /// `kubernetes`: manifest files (declared).
    Manifests {
        /// The source's settings.
        config: ManifestConfig,
        /// Files and directories, relative to the sources file.
        paths: Vec<PathBuf>,
    },
    /// `kubernetes_cluster`: a live cluster, listed then watched (observed).
    Cluster(KubeConfig),
    /// `terraform`: `terraform show -json` documents (declared).
    Terraform {
        /// The source's settings.
        config: TerraformConfig,
        /// Documents, relative to the sources file.
        files: Vec<PathBuf>,
    },
    /// `prometheus`: series through the HTTP API (observed; samples only).
    Prometheus {
        /// The source's settings (`url` and `name` override the bindings file's).
        config: PrometheusConfig,
        /// The bindings file, relative to the sources file.
        bindings: PathBuf,
    },
    /// `otlp`: OpenTelemetry traces received on `http`/`grpc` (observed): each pull
    /// commits the call graph seen since the last.
    Otlp(OtlpConfig),
}

impl SourceSpec {
    /// The section's name in a sources file (`kubernetes_cluster`).
    pub fn section(&self) -> &'static str {
        match self {
            SourceSpec::Estate { .. } => "estate",
            SourceSpec::Manifests { .. } => "kubernetes",
            SourceSpec::Cluster(_) => "kubernetes_cluster",
            SourceSpec::Terraform { .. } => "terraform",
            SourceSpec::Prometheus { .. } => "prometheus",
            SourceSpec::Otlp(_) => "otlp",
        }
    }

    /// The side of drift a section is on unless its `role` says otherwise.
    pub fn default_role(&self) -> Role {
        match self {
            SourceSpec::Estate { .. } | SourceSpec::Manifests { .. } | SourceSpec::Terraform { .. } => Role::Declared,
            SourceSpec::Cluster(_) | SourceSpec::Prometheus { .. } | SourceSpec::Otlp(_) => Role::Observed,
        }
    }

    /// The instance's name.
    pub fn name(&self) -> &str {
        match self {
            SourceSpec::Estate { config, .. } => &config.name,
            SourceSpec::Manifests { config, .. } => &config.name,
            SourceSpec::Cluster(config) => &config.name,
            SourceSpec::Terraform { config, .. } => &config.name,
            SourceSpec::Prometheus { config, .. } => &config.name,
            SourceSpec::Otlp(config) => &config.name,
        }
    }
}

/// One source instance of a sources file.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// What to run.
    pub spec: SourceSpec,
    /// How often to pull (for a cluster: the longest time between pulls when nothing changes).
    pub interval: Duration,
    /// Declared or observed, for drift.
    pub role: Role,
    /// The line of its section.
    pub line: u32,
}

impl Instance {
    /// The instance's name.
    pub fn name(&self) -> &str {
        self.spec.name()
    }
}

/// A read sources file.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcesFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The source instances, in file order.
    pub instances: Vec<Instance>,
}

/// Keys the sync reads from every section besides the source's own settings.
const SYNC_KEYS: [&str; 2] = ["interval", "role"];

impl SourcesFile {
    /// Reads a sources file from disk.
    pub fn read(path: &Path) -> Result<SourcesFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            col: 0,
            message: format!("cannot read the sources file: {e}"),
        })?;
        SourcesFile::parse(path, &text)
    }

    /// Reads a sources file's text; `path` names it in messages and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<SourcesFile, ConfigError> {
        let file = path.display().to_string();
        let at =
            |node: &Node, message: String| ConfigError { file: file.clone(), line: node.line, col: node.col, message };
        let docs = parse_documents(text).map_err(|e| ConfigError {
            file: file.clone(),
            line: e.line,
            col: e.col,
            message: format!("not valid YAML: {}", e.message),
        })?;
        let Some(doc) = docs.into_iter().find(|d| d.value != Value::Null) else {
            return Err(ConfigError {
                file,
                line: 0,
                col: 0,
                message:
                    "the file is empty; expected `sources:`, a list of sections such as `- kubernetes: {paths: [k8s/]}`"
                        .into(),
            });
        };
        let Some(entries) = doc.as_map() else {
            return Err(at(
                &doc,
                format!("expected a map with `sources:` (and `interval:`), found {}", doc.value.describe()),
            ));
        };
        let mut default_interval = DEFAULT_INTERVAL;
        let mut list = None;
        for (key, value) in entries {
            match key.as_str() {
                Some("interval") => default_interval = interval(value, "interval").map_err(|m| at(value, m))?,
                Some("sources") => list = Some(value),
                _ => {
                    let name = key.scalar_text().unwrap_or_default();
                    return Err(at(key, format!("unknown key `{name}`; expected `interval` or `sources`")));
                }
            }
        }
        let Some(list) = list else {
            return Err(at(
                &doc,
                "no `sources:`; expected a list of sections such as `- terraform: {files: [state.json]}`".into(),
            ));
        };
        let Value::Seq(items) = &list.value else {
            return Err(at(list, format!("`sources` should be a list of sections, found {}", list.value.describe())));
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut instances: Vec<Instance> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let place = format!("sources[{index}]");
            let section = match item.as_map() {
                Some([(key, value)]) => (key, value),
                _ => {
                    return Err(at(
                        item,
                        format!("{place}: expected one section such as `kubernetes: {{...}}`, one of {SECTIONS}"),
                    ));
                }
            };
            let instance = read_section(section.0, section.1, &place, default_interval, &base, &at)?;
            if let Some(earlier) = instances.iter().find(|i| i.name() == instance.name()) {
                return Err(at(
                    section.1,
                    format!(
                        "{place}: the name `{}` is already used by the source at line {}; give each source its own `name`",
                        instance.name(),
                        earlier.line
                    ),
                ));
            }
            instances.push(instance);
        }
        if instances.is_empty() {
            return Err(at(list, "`sources` is empty; list at least one section".into()));
        }
        Ok(SourcesFile { path: path.to_path_buf(), instances })
    }
}

/// The section names a sources file knows.
const SECTIONS: &str = "`estate`, `kubernetes`, `kubernetes_cluster`, `terraform`, `prometheus`, `otlp`";

/// The `prometheus` section as written (the source's own config is not serde).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrometheusSection {
    name: Option<String>,
    bindings: PathBuf,
    url: Option<String>,
    timeout_s: Option<f64>,
    range: Option<String>,
    #[serde(default = "default_step")]
    step: String,
}

fn default_step() -> String {
    "60s".into()
}

fn read_section(
    key: &Node,
    value: &Node,
    place: &str,
    default_interval: Duration,
    base: &Path,
    at: &dyn Fn(&Node, String) -> ConfigError,
) -> Result<Instance, ConfigError> {
    let Some(section) = key.as_str() else {
        return Err(at(key, format!("{place}: expected a section name, one of {SECTIONS}")));
    };
    let empty = Node { value: Value::Map(Vec::new()), line: value.line, col: value.col };
    let body = if value.value == Value::Null { &empty } else { value };
    let Some(entries) = body.as_map() else {
        return Err(at(
            body,
            format!("{place}.{section}: expected a map of settings, found {}", body.value.describe()),
        ));
    };
    let here = format!("{place}.{section}");
    let mut interval_value = default_interval;
    let mut role = None;
    let mut rest = serde_json::Map::new();
    for (k, v) in entries {
        let name = k.scalar_text().unwrap_or_default();
        match name.as_str() {
            "interval" => interval_value = interval(v, &format!("{here}.interval")).map_err(|m| at(v, m))?,
            "role" => {
                role = Some(match v.as_str() {
                    Some("declared") => Role::Declared,
                    Some("observed") => Role::Observed,
                    _ => return Err(at(v, format!("{here}.role: expected `declared` or `observed`"))),
                })
            }
            _ => {
                rest.insert(name, v.to_json());
            }
        }
    }
    let rest = serde_json::Value::Object(rest);
    let paths = |field: &str, rest: &mut serde_json::Value| -> Result<Vec<PathBuf>, ConfigError> {
        let Some(found) = rest.as_object_mut().and_then(|m| m.remove(field)) else {
            return Err(at(body, format!("{here}: `{field}` is missing; expected a list of files or directories")));
        };
        let node = body.locate(field);
        let list: Vec<PathBuf> = match found {
            serde_json::Value::String(one) => vec![PathBuf::from(one)],
            serde_json::Value::Array(items) if !items.is_empty() => items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::String(s) => Ok(PathBuf::from(s)),
                    other => Err(at(node, format!("{here}.{field}: expected file names, found {other}"))),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(at(node, format!("{here}.{field}: expected a non-empty list of files, found {other}")));
            }
        };
        Ok(list.into_iter().map(|p| if p.is_absolute() { p } else { base.join(p) }).collect())
    };
    let mut rest = rest;
    let spec = match section {
        "estate" => {
            let paths = paths("paths", &mut rest)?;
            SourceSpec::Estate { config: settings(rest, body, &here, &["paths"], at)?, paths }
        }
        "kubernetes" => {
            let paths = paths("paths", &mut rest)?;
            SourceSpec::Manifests { config: settings(rest, body, &here, &["paths"], at)?, paths }
        }
        "otlp" => {
            let mut config: OtlpConfig = settings(rest, body, &here, &[], at)?;
            if config.http.is_none() && config.grpc.is_none() {
                return Err(at(body, format!("{here}: give `http` or `grpc` (an address such as 127.0.0.1:4318)")));
            }
            config.files = config.files.into_iter().map(|p| if p.is_absolute() { p } else { base.join(p) }).collect();
            SourceSpec::Otlp(config)
        }
        "kubernetes_cluster" => {
            let mut config: KubeConfig = settings(rest, body, &here, &[], at)?;
            if let Some(file) = &config.kubeconfig
                && file.is_relative()
            {
                config.kubeconfig = Some(base.join(file));
            }
            SourceSpec::Cluster(config)
        }
        "terraform" => {
            let files = paths("files", &mut rest)?;
            SourceSpec::Terraform { config: settings(rest, body, &here, &["files"], at)?, files }
        }
        "prometheus" => {
            let written: PrometheusSection = settings(rest, body, &here, &[], at)?;
            let seconds = |field: &str, text: &str| {
                parse_duration(text).map_err(|m| at(body.locate(field), format!("{here}.{field}: {m}")))
            };
            let window = match &written.range {
                None => Window::Instant { at_ms: None },
                Some(range) => Window::Range {
                    range_s: seconds("range", range)?,
                    step_s: seconds("step", &written.step)?,
                    end_ms: None,
                },
            };
            if let Some(timeout) = written.timeout_s
                && !(timeout.is_finite() && timeout > 0.0)
            {
                return Err(at(body.locate("timeout_s"), format!("{here}.timeout_s: expected seconds above 0")));
            }
            let defaults = PrometheusConfig::default();
            let bindings =
                if written.bindings.is_absolute() { written.bindings.clone() } else { base.join(&written.bindings) };
            let config = PrometheusConfig {
                name: written.name.unwrap_or(defaults.name),
                url: written.url.unwrap_or_default(),
                timeout_s: written.timeout_s.unwrap_or(defaults.timeout_s),
                window,
            };
            SourceSpec::Prometheus { config, bindings }
        }
        other => {
            return Err(at(key, format!("{place}: unknown section `{other}`; expected one of {SECTIONS}")));
        }
    };
    let role = role.unwrap_or_else(|| spec.default_role());
    Ok(Instance { spec, interval: interval_value, role, line: key.line })
}

/// Decodes a section's own settings, naming the key and its line on error.
fn settings<T: DeserializeOwned>(
    rest: serde_json::Value,
    body: &Node,
    here: &str,
    taken: &[&str],
    at: &dyn Fn(&Node, String) -> ConfigError,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(rest).map_err(|e| {
        let path = e.path().to_string().replace('[', ".").replace(']', "");
        let path = path.trim_start_matches('.').trim_end_matches('?').to_string();
        let message = e.inner().to_string();
        // An unknown key: point at it, and list the sync's own keys too.
        let unknown = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()).map(str::to_string);
        match unknown {
            Some(field) => {
                let node = body.key_of(&field).unwrap_or(body);
                let mut also: Vec<String> = SYNC_KEYS.iter().chain(taken).map(|k| format!("`{k}`")).collect();
                also.sort();
                at(node, format!("{here}.{field}: {message}, or {}", also.join(", ")))
            }
            None => {
                let node = body.locate(&path);
                let field = if path.is_empty() { here.to_string() } else { format!("{here}.{path}") };
                at(node, format!("{field}: {message}"))
            }
        }
    })
}

/// Reads an interval: `30s`, `5m`, `1h`, `500ms`, or a number of seconds.
fn interval(node: &Node, field: &str) -> Result<Duration, String> {
    let text = node.scalar_text().ok_or_else(|| format!("{field}: expected a duration such as 30s, 5m, 1h"))?;
    let seconds = parse_duration(&text).map_err(|m| format!("{field}: {m}"))?;
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{field}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SourcesFile, ConfigError> {
        SourcesFile::parse(Path::new("conf/sources.yaml"), text)
    }

    #[test]
    fn sections_are_read_in_order_with_their_intervals_roles_and_paths() {
        let file = parse(
            "interval: 2m\nsources:\n  - kubernetes: {name: k8s, paths: [manifests], prune: true}\n  - kubernetes_cluster: {name: prod, namespaces: [shop], interval: 30s, kubeconfig: kube.yaml}\n  - terraform: {files: /abs/state.json, role: observed}\n  - prometheus: {bindings: b.yaml, range: 1h, step: 30s}\n",
        )
        .unwrap();
        let names: Vec<&str> = file.instances.iter().map(Instance::name).collect();
        assert_eq!(names, vec!["k8s", "prod", "terraform", "prometheus"]);
        assert_eq!(file.instances[0].interval, Duration::from_secs(120));
        assert_eq!(file.instances[1].interval, Duration::from_secs(30));
        assert_eq!(file.instances[0].role, Role::Declared);
        assert_eq!(file.instances[1].role, Role::Observed);
        assert_eq!(file.instances[2].role, Role::Observed, "role overrides the section's default");
        match &file.instances[0].spec {
            SourceSpec::Manifests { config, paths } => {
                assert!(config.prune);
                assert_eq!(paths, &vec![PathBuf::from("conf/manifests")]);
            }
            other => panic!("{other:?}"),
        }
        match &file.instances[1].spec {
            SourceSpec::Cluster(config) => {
                assert_eq!(config.namespaces, vec!["shop".to_string()]);
                assert_eq!(config.kubeconfig, Some(PathBuf::from("conf/kube.yaml")));
            }
            other => panic!("{other:?}"),
        }
        match &file.instances[2].spec {
            SourceSpec::Terraform { files, .. } => assert_eq!(files, &vec![PathBuf::from("/abs/state.json")]),
            other => panic!("{other:?}"),
        }
        match &file.instances[3].spec {
            SourceSpec::Prometheus { config, bindings } => {
                assert_eq!(bindings, &PathBuf::from("conf/b.yaml"));
                assert_eq!(config.window, Window::Range { range_s: 3600.0, step_s: 30.0, end_ms: None });
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn problems_name_the_line_and_the_key() {
        let error = parse("sources:\n  - terraform: {}\n").unwrap_err();
        assert_eq!((error.line, error.col), (2, 16));
        assert!(error.message.contains("`files` is missing"), "{error}");
        let error = parse("sources:\n  - kubernetes: {paths: [a], interval: -3s}\n").unwrap_err();
        assert!(error.to_string().starts_with("conf/sources.yaml:2:"), "{error}");
        assert!(error.message.contains("sources[0].kubernetes.interval"), "{error}");
        let error = parse("sources:\n  - prometheus: {bindings: b.yaml, role: watcher}\n").unwrap_err();
        assert!(error.message.contains("expected `declared` or `observed`"), "{error}");
        let error = parse("sources:\n  - kubernetes: {paths: [a]}\n    terraform: {files: [b]}\n").unwrap_err();
        assert!(error.message.contains("expected one section"), "{error}");
        let error = parse("").unwrap_err();
        assert!(error.message.contains("the file is empty"), "{error}");
        let error = parse("sources:\n  - kubernetes: {paths: [a], prune: maybe}\n").unwrap_err();
        assert!(error.message.contains("sources[0].kubernetes.prune") && error.line == 2, "{error}");
    }
}
