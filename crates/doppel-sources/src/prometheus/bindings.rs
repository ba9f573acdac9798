//! Bindings: which Prometheus series fill which entity attribute. Read from the
//! `prometheus` section of a sources file (YAML or JSON), every problem named with its
//! `file:line:col`; templates are parsed once here so pulls and remote-write only render.

use crate::{Error, Place, Result};
use doppel_estate::tree::{Node, parse_documents};
use doppel_model::{Key, Kind};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The `prometheus` section of a sources file, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionSpec {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    timeout_s: Option<f64>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    bindings: Vec<BindingSpec>,
}

/// One binding, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingSpec {
    series: String,
    #[serde(default)]
    entity: Option<String>,
    #[serde(default)]
    each: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    scale: Option<f64>,
}

/// A piece of a template: literal text or a `{{name}}` placeholder.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(String),
}

/// A text with `{{name}}` placeholders, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; `{{` must be closed by `}}` around a name of letters, digits, `_`, `.`, `-`.
    pub fn parse(text: &str) -> std::result::Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(format!("`{{{{` at offset {} is not closed by `}}}}`", text.len() - rest.len() + open));
            };
            let name = after[..close].trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
                return Err(format!(
                    "placeholder `{{{{{}}}}}`: expected a name of letters, digits, `_`, `.` or `-`",
                    &after[..close]
                ));
            }
            pieces.push(Piece::Var(name.to_string()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces })
    }

    /// The placeholder names, in order of appearance.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(name) => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Fills the placeholders from `value`; the first one it has no value for is the error.
    pub fn render<'v>(&self, value: impl Fn(&str) -> Option<&'v str>) -> std::result::Result<String, String> {
        let mut out = String::new();
        self.render_into(&mut out, value)?;
        Ok(out)
    }

    /// Like [`Template::render`], appending to `out` (cleared first).
    pub fn render_into<'v>(
        &self,
        out: &mut String,
        value: impl Fn(&str) -> Option<&'v str>,
    ) -> std::result::Result<(), String> {
        out.clear();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(name) => match value(name) {
                    Some(v) => out.push_str(v),
                    None => return Err(name.clone()),
                },
            }
        }
        Ok(())
    }

    /// Replaces the placeholders `value` knows, keeping the others.
    fn partial(&self, value: impl Fn(&str) -> Option<String>) -> Template {
        let mut pieces: Vec<Piece> = Vec::new();
        for piece in &self.pieces {
            let piece = match piece {
                Piece::Var(name) => value(name).map(Piece::Text).unwrap_or_else(|| piece.clone()),
                Piece::Text(_) => piece.clone(),
            };
            match (pieces.last_mut(), piece) {
                (Some(Piece::Text(last)), Piece::Text(text)) => last.push_str(&text),
                (_, piece) => pieces.push(piece),
            }
        }
        Template { pieces }
    }
}

/// One binding: a series (PromQL for pulls, a metric name and labels for remote-write)
/// mapped onto an attribute of entities.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// Its position in the file, from 0, for messages.
    pub index: usize,
    /// The attribute filled, unit in the name (`request_rate_rps`); an endpoint adds `:ENDPOINT`.
    pub series: String,
    /// The entity key, over the result's labels (`service/{{service}}`); `None` with `each`.
    pub entity: Option<Template>,
    /// Run the query once per entity of this kind, placeholders filled from the entity.
    pub each: Option<Kind>,
    /// The endpoint, over the result's labels (or the entity's endpoints with `each`).
    pub endpoint: Option<Template>,
    /// PromQL for pulls, with `vars` already filled.
    pub query: Option<Template>,
    /// Metric name for remote-write.
    pub metric: Option<String>,
    /// Labels a remote-written series must have, with these values.
    pub labels: Vec<(String, String)>,
    /// Multiplier applied to every value (`1000` for seconds to milliseconds).
    pub scale: f64,
    /// Where it was written.
    pub place: Place,
}

impl Binding {
    /// How messages name it: `binding 2 (request_rate_rps)`.
    pub fn describe(&self) -> String {
        format!("binding {} ({})", self.index + 1, self.series)
    }

    /// Whether a `{{endpoint}}` placeholder in the query makes `each` run per endpoint.
    pub fn per_endpoint(&self) -> bool {
        self.each.is_some() && self.query.as_ref().is_some_and(|q| q.vars().any(|v| v == "endpoint"))
    }
}

/// The bindings of one Prometheus source instance, with its connection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Bindings {
    /// The instance name, when the file gives one.
    pub name: Option<String>,
    /// The server's base URL, when the file gives one.
    pub url: Option<String>,
    /// Request timeout, when the file gives one.
    pub timeout_s: Option<f64>,
    /// The bindings, in file order.
    pub bindings: Vec<Binding>,
    /// The file they were read from.
    pub file: String,
}

/// Placeholders a query of an `each` binding may use besides the entity's labels.
const ENTITY_VARS: [&str; 4] = ["name", "key", "namespace", "endpoint"];

impl Bindings {
    /// Reads a bindings file: YAML (or JSON) whose top level is a `prometheus` section.
    pub fn parse(file: &str, text: &str, source_name: &str) -> Result<Bindings> {
        let fail = |node: &Node, message: String| Error::Object {
            source_name: source_name.to_string(),
            object: "prometheus bindings".to_string(),
            place: Place { file: file.to_string(), line: node.line, col: node.col },
            message,
        };
        let docs = parse_documents(text).map_err(|e| Error::Syntax {
            source_name: source_name.to_string(),
            format: "YAML",
            place: Place { file: file.to_string(), line: e.line, col: e.col },
            message: e.message.clone(),
        })?;
        let Some(doc) = docs.into_iter().find(|d| d.value != doppel_estate::tree::Value::Null) else {
            return Err(Error::Object {
                source_name: source_name.to_string(),
                object: "prometheus bindings".to_string(),
                place: Place { file: file.to_string(), line: 0, col: 0 },
                message: "the file is empty; expected a `prometheus:` section with `bindings:`".into(),
            });
        };
        let Some(entries) = doc.as_map() else {
            return Err(fail(&doc, format!("expected a map with a `prometheus` key, found {}", doc.value.describe())));
        };
        let mut section_node = None;
        for (key, value) in entries {
            match key.as_str() {
                Some("prometheus") => section_node = Some(value),
                _ => {
                    return Err(fail(
                        key,
                        format!(
                            "unknown top-level key `{}`; a bindings file holds one `prometheus` section",
                            key.scalar_text().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        let Some(section_node) = section_node else {
            return Err(fail(&doc, "no `prometheus` section; expected `prometheus: {bindings: [...]}`".into()));
        };
        let json = section_node.to_json();
        let spec: SectionSpec = serde_path_to_error::deserialize(json).map_err(|e| {
            let path = e.path().to_string().replace('[', ".").replace(']', "");
            let path = path.trim_start_matches('.');
            let node = section_node.locate(path);
            let field = if path.is_empty() { "prometheus".to_string() } else { format!("prometheus.{path}") };
            fail(node, format!("{field}: {}", e.inner()))
        })?;
        if let Some(timeout) = spec.timeout_s
            && !(timeout.is_finite() && timeout > 0.0)
        {
            return Err(fail(
                section_node.locate("timeout_s"),
                format!("timeout_s is {timeout}; expected seconds above 0"),
            ));
        }
        let mut bindings = Vec::with_capacity(spec.bindings.len());
        for (index, written) in spec.bindings.into_iter().enumerate() {
            let node = section_node.locate(&format!("bindings.{index}"));
            let at = |field: &str| section_node.locate(&format!("bindings.{index}.{field}"));
            let here = |field: &str, message: String| {
                fail(at(field), format!("prometheus.bindings[{index}].{field}: {message}"))
            };
            let series = written.series.trim().to_string();
            if series.is_empty()
                || !series.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || series.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(here(
                    "series",
                    format!(
                        "`{series}`: expected an attribute name of letters, digits and `_`, unit last (`request_rate_rps`)"
                    ),
                ));
            }
            let template = |field: &str, text: &str| Template::parse(text).map_err(|m| here(field, m));
            let each = match &written.each {
                None => None,
                Some(prefix) => Some(Kind::from_prefix(prefix).ok_or_else(|| {
                    here(
                        "each",
                        format!(
                            "`{prefix}` is not an entity kind; expected one such as `service`, `datastore`, `host`"
                        ),
                    )
                })?),
            };
            let entity = written.entity.as_deref().map(|t| template("entity", t)).transpose()?;
            if entity.is_none() && each.is_none() {
                return Err(here(
                    "entity",
                    "missing: give `entity` (a key over the series' labels, `service/{{service}}`) or `each` (a kind)"
                        .into(),
                ));
            }
            if entity.is_some() && each.is_some() {
                return Err(here("each", "give `entity` or `each`, not both".into()));
            }
            if let Some(entity) = &entity
                && entity.vars().next().is_none()
            {
                let text = written.entity.clone().unwrap_or_default();
                text.parse::<Key>().map_err(|e| here("entity", format!("`{text}`: {e}")))?;
            }
            let endpoint = written.endpoint.as_deref().map(|t| template("endpoint", t)).transpose()?;
            let query = match &written.query {
                None => None,
                Some(text) if text.trim().is_empty() => return Err(here("query", "is empty; expected PromQL".into())),
                Some(text) => {
                    let parsed = template("query", text)?;
                    let filled = parsed.partial(|name| spec.vars.get(name).cloned());
                    for var in filled.vars() {
                        let known =
                            each.is_some() && (ENTITY_VARS.contains(&var) || Some(var) == each.map(|k| k.prefix()));
                        if !known && !var.starts_with("label.") {
                            let offer = if each.is_some() {
                                "a `vars` entry, `name`, `key`, `namespace`, `endpoint`, the kind's prefix or `label.NAME`"
                            } else {
                                "a `vars` entry (or use `each` to fill it from entities)"
                            };
                            return Err(here(
                                "query",
                                format!("placeholder `{{{{{var}}}}}` has no value; expected {offer}"),
                            ));
                        }
                        if var.starts_with("label.") && each.is_none() {
                            return Err(here("query", format!("placeholder `{{{{{var}}}}}` needs `each`")));
                        }
                    }
                    Some(filled)
                }
            };
            if written.metric.is_some() && entity.is_none() {
                return Err(here(
                    "metric",
                    "remote-write bindings need `entity` (a key over the series' labels)".into(),
                ));
            }
            if let Some(metric) = &written.metric
                && metric.trim().is_empty()
            {
                return Err(here("metric", "is empty; expected a metric name".into()));
            }
            if query.is_none() && written.metric.is_none() {
                return Err(here(
                    "query",
                    "missing: give `query` (PromQL, for pulls) or `metric` (for remote-write), or both".into(),
                ));
            }
            let scale = written.scale.unwrap_or(1.0);
            if !scale.is_finite() {
                return Err(here("scale", format!("{scale}: expected a finite number")));
            }
            bindings.push(Binding {
                index,
                series,
                entity,
                each,
                endpoint,
                query,
                metric: written.metric,
                labels: written.labels.into_iter().collect(),
                scale,
                place: Place { file: file.to_string(), line: node.line, col: node.col },
            });
        }
        if bindings.is_empty() {
            return Err(fail(section_node, "`bindings` is empty; expected at least one binding".into()));
        }
        Ok(Bindings { name: spec.name, url: spec.url, timeout_s: spec.timeout_s, bindings, file: file.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_and_report_the_missing_name() {
        let t = Template::parse("service/{{ service }}:{{endpoint}}").unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), ["service", "endpoint"]);
        let got = t.render(|n| match n {
            "service" => Some("cart"),
            "endpoint" => Some("GET /"),
            _ => None,
        });
        assert_eq!(got.unwrap(), "service/cart:GET /");
        assert_eq!(t.render(|_| None).unwrap_err(), "service");
        assert!(Template::parse("a {{b").unwrap_err().contains("not closed"));
        assert!(Template::parse("a {{b c}}").unwrap_err().contains("expected a name"));
    }

    #[test]
    fn a_file_is_read_with_vars_filled() {
        let text = "prometheus:\n  vars: {ns: shop}\n  bindings:\n    - series: request_rate_rps\n      entity: service/{{service}}\n      query: sum by (service) (rate(x{namespace=\"{{ns}}\"}[1m]))\n      metric: svc:x:rate1m\n      labels: {job: shop}\n";
        let b = Bindings::parse("b.yaml", text, "prometheus").unwrap();
        assert_eq!(b.bindings.len(), 1);
        let q = b.bindings[0].query.as_ref().unwrap().render(|_| None).unwrap();
        assert_eq!(q, "sum by (service) (rate(x{namespace=\"shop\"}[1m]))");
        assert_eq!(b.bindings[0].labels, vec![("job".to_string(), "shop".to_string())]);
        assert_eq!(b.bindings[0].place.line, 4);
    }

    #[test]
    fn bad_files_name_the_place_and_what_was_expected() {
        let cases = [
            ("", "the file is empty"),
            ("other: 1\n", "b.yaml:1:1: prometheus bindings: unknown top-level key `other`"),
            (
                "prometheus:\n  bindings:\n    - series: x\n      entity: service/a\n      query: up\n      colour: red\n",
                "b.yaml:6:15: prometheus bindings: prometheus.bindings.0.colour: unknown field `colour`",
            ),
            (
                "prometheus:\n  bindings:\n    - series: 'bad name'\n      entity: service/a\n      query: up\n",
                "expected an attribute name",
            ),
            ("prometheus:\n  bindings:\n    - series: x\n      query: up\n", "missing: give `entity`"),
            (
                "prometheus:\n  bindings:\n    - series: x\n      each: servise\n      query: up\n",
                "`servise` is not an entity kind",
            ),
            (
                "prometheus:\n  bindings:\n    - series: x\n      entity: service/a\n      query: 'up{a=\"{{who}}\"}'\n",
                "placeholder `{{who}}` has no value",
            ),
            ("prometheus:\n  bindings:\n    - series: x\n      entity: nope/a\n      query: up\n", "`nope/a`"),
            ("prometheus:\n  bindings:\n    - series: x\n      entity: service/a\n", "missing: give `query`"),
            ("prometheus:\n  bindings: []\n", "`bindings` is empty"),
            ("prometheus:\n  timeout_s: 0\n  bindings: []\n", "b.yaml:2:14: prometheus bindings: timeout_s is 0"),
            ("prometheus: [\n", "b.yaml:"),
        ];
        for (text, expected) in cases {
            let err = Bindings::parse("b.yaml", text, "prometheus").unwrap_err().to_string();
            assert!(err.starts_with("source `prometheus`: "), "{text:?}: {err}");
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
