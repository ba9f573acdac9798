//! A `terraform show -json` document to its resources: state (`values`) or plan
//! (`planned_values`, `resource_changes`), modules walked recursively, format versions
//! checked, sensitive values removed before anything else looks at them.

use crate::{Error, Place, Result, Warning, WarningKind};
use doppel_estate::SourceFile;
use serde_json::{Map, Value};

/// Format versions understood, as (major, newest minor).
const UNDERSTOOD: &[(u64, u64)] = &[(0, 2), (1, 2)];

/// Attribute names whose values are never kept, whatever the document marks.
const SECRET_WORDS: &[&str] = &["password", "secret", "token", "private_key"];

/// Whether a document is a state or a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocKind {
    /// `terraform show -json` of a state.
    State,
    /// `terraform show -json` of a saved plan.
    Plan,
}

/// What a plan does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Action {
    /// Nothing.
    NoOp,
    /// A data source read.
    Read,
    /// Created.
    Create,
    /// Changed in place.
    Update,
    /// Destroyed (or forgotten).
    Delete,
    /// Destroyed and created again.
    Replace,
}

/// One resource of the document, its values stripped of sensitive ones.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// `module.db.aws_db_instance.this[0]`.
    pub address: String,
    /// Whether it is a data source.
    pub data: bool,
    /// `aws_db_instance`.
    pub rtype: String,
    /// Its attributes (an object), without sensitive values.
    pub values: Value,
    /// Where it is in the document (`values.root_module.resources[3]`).
    pub path: String,
}

/// One entry of a plan's `resource_changes`.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// The resource's address.
    pub address: String,
    /// Its type.
    pub rtype: String,
    /// Whether it is a data source.
    pub data: bool,
    /// What the plan does.
    pub action: Action,
}

/// One attribute of a resource that changed outside Terraform (a plan's `resource_drift`).
#[derive(Debug, Clone)]
pub(crate) struct Drifted {
    /// The resource's address.
    pub address: String,
    /// Its type.
    pub rtype: String,
    /// The attribute path (`ingress[0].cidr_blocks[0]`); empty when the whole resource is gone.
    pub field: String,
    /// What the state held (sensitive values removed).
    pub before: Option<Value>,
    /// What the refresh found.
    pub after: Option<Value>,
    /// Where in the document (`resource_drift[2]`).
    pub path: String,
}

/// A read document.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// State or plan.
    pub kind: DocKind,
    /// Resources of the state, or of the plan's planned values.
    pub resources: Vec<Resource>,
    /// The plan's changes (empty for a state).
    pub changes: Vec<Planned>,
    /// Attributes changed outside Terraform, from a plan's `resource_drift`.
    pub drift: Vec<Drifted>,
}

/// Reads one document.
pub(crate) fn read(file: &SourceFile, source_name: &str, warnings: &mut Vec<Warning>) -> Result<Document> {
    let root: Value = serde_json::from_str(&file.text).map_err(|e| Error::Syntax {
        source_name: source_name.to_string(),
        format: "JSON",
        place: Place { file: file.path.clone(), line: e.line() as u32, col: e.column() as u32 },
        message: e.to_string(),
    })?;
    let at = |path: &str, message: String| Error::Object {
        source_name: source_name.to_string(),
        object: "Terraform document".to_string(),
        place: Place { file: file.path.clone(), line: 0, col: 0 },
        message: if path.is_empty() { message } else { format!("at `{path}`: {message}") },
    };
    let Some(top) = root.as_object() else {
        return Err(at("", format!("expected the JSON object of `terraform show -json`, found {}", describe(&root))));
    };
    check_version(top, file, source_name, warnings)?;
    let plan = top.contains_key("planned_values") || top.contains_key("resource_changes");
    let mut changes = Vec::new();
    let mut after_sensitive: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    let mut unknown_fields: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    if let Some(list) = top.get("resource_changes").filter(|v| !v.is_null()) {
        let Some(list) = list.as_array() else {
            return Err(at("resource_changes", format!("expected a list, found {}", describe(list))));
        };
        for (n, item) in list.iter().enumerate() {
            let path = format!("resource_changes[{n}]");
            let (address, rtype, data) = identity(item, &path, &at)?;
            let change = item.get("change").and_then(Value::as_object);
            let Some(change) = change else {
                return Err(at(&path, format!("{address}: expected a `change` object")));
            };
            let action = action(change.get("actions"), &format!("{path}.change.actions"), &at)?;
            if let Some(mask) = change.get("after_sensitive") {
                after_sensitive.insert(address.clone(), mask.clone());
            }
            if let Some(Value::Object(unknown)) = change.get("after_unknown") {
                let fields: Vec<String> =
                    unknown.iter().filter(|(_, v)| **v == Value::Bool(true)).map(|(k, _)| k.clone()).collect();
                if !fields.is_empty() {
                    unknown_fields.insert(address.clone(), fields);
                }
            }
            changes.push(Planned { address, rtype, data, action });
        }
    }
    let (section, values) =
        if plan { ("planned_values", top.get("planned_values")) } else { ("values", top.get("values")) };
    let mut resources = Vec::new();
    if let Some(values) = values.filter(|v| !v.is_null()) {
        let Some(values) = values.as_object() else {
            return Err(at(section, format!("expected an object, found {}", describe(values))));
        };
        if let Some(module) = values.get("root_module").filter(|v| !v.is_null()) {
            walk(module, &format!("{section}.root_module"), 0, &at, &after_sensitive, &mut resources)?;
        }
    }
    if plan && !unknown_fields.is_empty() {
        let mut references = std::collections::HashMap::new();
        if let Some(module) = top.get("configuration").and_then(|c| c.get("root_module")) {
            config_references(module, "", 0, &mut references);
        }
        for resource in &mut resources {
            if let Some(fields) = unknown_fields.get(&resource.address) {
                link_unknown(resource, fields, &references);
            }
        }
    }
    let drift = resource_drift(top, &at)?;
    let kind = if plan { DocKind::Plan } else { DocKind::State };
    Ok(Document { kind, resources, changes, drift })
}

/// Reads a plan's `resource_drift` (what `terraform plan -refresh-only` found changed
/// outside Terraform): per resource, the attributes whose state and real values differ,
/// with sensitive values removed from both sides first.
fn resource_drift(top: &Map<String, Value>, at: &dyn Fn(&str, String) -> Error) -> Result<Vec<Drifted>> {
    let Some(list) = top.get("resource_drift").filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let Some(list) = list.as_array() else {
        return Err(at("resource_drift", format!("expected a list, found {}", describe(list))));
    };
    let mut out = Vec::new();
    for (n, item) in list.iter().enumerate() {
        let path = format!("resource_drift[{n}]");
        let (address, rtype, data) = identity(item, &path, at)?;
        if data {
            continue;
        }
        let Some(change) = item.get("change").and_then(Value::as_object) else {
            return Err(at(&path, format!("{address}: expected a `change` object")));
        };
        let action = action(change.get("actions"), &format!("{path}.change.actions"), at)?;
        let side = |value: &str, mask: &str| -> Value {
            let mut value = change.get(value).cloned().unwrap_or(Value::Null);
            if let Some(mask) = change.get(mask) {
                strip_marked(&mut value, mask);
            }
            strip_secret_names(&mut value);
            value
        };
        let (before, after) = (side("before", "before_sensitive"), side("after", "after_sensitive"));
        let entry = |field: String, before: Option<Value>, after: Option<Value>| Drifted {
            address: address.clone(),
            rtype: rtype.clone(),
            field,
            before,
            after,
            path: path.clone(),
        };
        match action {
            Action::NoOp | Action::Read => {}
            Action::Delete => out.push(entry(String::new(), Some(before).filter(|v| !v.is_null()), None)),
            Action::Create => out.push(entry(String::new(), None, Some(after).filter(|v| !v.is_null()))),
            Action::Update | Action::Replace => {
                let mut found = Vec::new();
                crate::drift::differences(&before, &after, String::new(), 0, &mut found);
                out.extend(found.into_iter().map(|(field, b, a)| entry(field, b, a)));
            }
        }
    }
    Ok(out)
}

/// Checks `format_version`: an unknown major is an error, a newer minor a warning.
fn check_version(
    top: &Map<String, Value>,
    file: &SourceFile,
    source_name: &str,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let place = locate(&file.text, "\"format_version\"", &file.path);
    let understood =
        UNDERSTOOD.iter().map(|(major, minor)| format!("{major}.x (up to {major}.{minor})")).collect::<Vec<_>>();
    let understood = understood.join(", ");
    let refuse = |found: String| Error::Object {
        source_name: source_name.to_string(),
        object: "Terraform document".to_string(),
        place: place.clone(),
        message: format!("format_version {found} is not understood; this reader understands {understood}"),
    };
    let Some(version) = top.get("format_version") else {
        return Err(refuse("(missing: is this `terraform show -json` output?)".to_string()));
    };
    let Some(text) = version.as_str() else { return Err(refuse(format!("{} (not a string)", describe(version)))) };
    let mut parts = text.split('.');
    let major = parts.next().and_then(|p| p.parse::<u64>().ok());
    let minor = parts.next().map_or(Some(0), |p| p.parse::<u64>().ok());
    let (Some(major), Some(minor)) = (major, minor) else { return Err(refuse(format!("`{text}`"))) };
    let Some((_, newest)) = UNDERSTOOD.iter().find(|(m, _)| *m == major) else {
        return Err(refuse(format!("`{text}`")));
    };
    if minor > *newest {
        warnings.push(Warning {
            kind: WarningKind::Format,
            object: None,
            place: Some(place.clone()),
            subject: format!("format_version {text}"),
            message: format!("format_version {text} is newer than {major}.{newest}; read as {major}.{newest}"),
        });
    }
    Ok(())
}

/// The line and column of the first `needle` in `text` (line 0 when absent).
fn locate(text: &str, needle: &str, file: &str) -> Place {
    let Some(offset) = text.find(needle) else { return Place { file: file.to_string(), line: 0, col: 0 } };
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let col = (offset - before.rfind('\n').map_or(0, |n| n + 1)) as u32 + 1;
    Place { file: file.to_string(), line, col }
}

/// Modules nest; deeper than this is refused rather than followed.
const MAX_MODULE_DEPTH: usize = 100;

fn walk(
    module: &Value,
    path: &str,
    depth: usize,
    at: &dyn Fn(&str, String) -> Error,
    after_sensitive: &std::collections::HashMap<String, Value>,
    out: &mut Vec<Resource>,
) -> Result<()> {
    if depth > MAX_MODULE_DEPTH {
        return Err(at(path, format!("modules nested deeper than {MAX_MODULE_DEPTH}")));
    }
    let Some(module) = module.as_object() else {
        return Err(at(path, format!("expected a module object, found {}", describe(module))));
    };
    if let Some(list) = module.get("resources").filter(|v| !v.is_null()) {
        let Some(list) = list.as_array() else {
            return Err(at(&format!("{path}.resources"), format!("expected a list, found {}", describe(list))));
        };
        for (n, item) in list.iter().enumerate() {
            let item_path = format!("{path}.resources[{n}]");
            let (mut address, rtype, data) = identity(item, &item_path, at)?;
            // Terraform 0.12 wrote child module resources' addresses without their module.
            if let Some(module_address) = module.get("address").and_then(Value::as_str)
                && !address.starts_with(&format!("{module_address}."))
            {
                address = format!("{module_address}.{address}");
            }
            let mut values = match item.get("values") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(v @ Value::Object(_)) => v.clone(),
                Some(other) => {
                    return Err(at(
                        &format!("{item_path}.values"),
                        format!("{address}: expected an object of attributes, found {}", describe(other)),
                    ));
                }
            };
            if let Some(mask) = item.get("sensitive_values") {
                strip_marked(&mut values, mask);
            }
            if let Some(mask) = after_sensitive.get(&address) {
                strip_marked(&mut values, mask);
            }
            strip_secret_names(&mut values);
            out.push(Resource { address, data, rtype, values, path: item_path });
        }
    }
    if let Some(children) = module.get("child_modules").filter(|v| !v.is_null()) {
        let Some(children) = children.as_array() else {
            let child_path = format!("{path}.child_modules");
            return Err(at(&child_path, format!("expected a list, found {}", describe(children))));
        };
        for (n, child) in children.iter().enumerate() {
            walk(child, &format!("{path}.child_modules[{n}]"), depth + 1, at, after_sensitive, out)?;
        }
    }
    Ok(())
}

/// A resource's address, type and whether it is a data source.
fn identity(item: &Value, path: &str, at: &dyn Fn(&str, String) -> Error) -> Result<(String, String, bool)> {
    let Some(object) = item.as_object() else {
        return Err(at(path, format!("expected a resource object, found {}", describe(item))));
    };
    let text = |field: &str| match object.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => {
            Err(at(&format!("{path}.{field}"), format!("expected a non-empty string, found {}", describe(other))))
        }
        None => Err(at(path, format!("expected a `{field}` (string)"))),
    };
    let address = text("address")?;
    let rtype = text("type")?;
    let data = match object.get("mode") {
        None | Some(Value::Null) => address.starts_with("data.") || address.contains(".data."),
        Some(Value::String(mode)) if mode == "managed" => false,
        Some(Value::String(mode)) if mode == "data" => true,
        Some(other) => {
            return Err(at(
                &format!("{path}.mode"),
                format!("expected `managed` or `data`, found {}", describe(other)),
            ));
        }
    };
    Ok((address, rtype, data))
}

fn action(actions: Option<&Value>, path: &str, at: &dyn Fn(&str, String) -> Error) -> Result<Action> {
    let expected = "expected a list of actions: [\"no-op\"], [\"create\"], [\"read\"], [\"update\"], [\"delete\"], [\"forget\"] or a replacement ([\"delete\", \"create\"], [\"create\", \"delete\"])";
    let Some(Value::Array(list)) = actions else { return Err(at(path, expected.to_string())) };
    let words: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    Ok(match words.as_slice() {
        ["no-op"] => Action::NoOp,
        ["read"] => Action::Read,
        ["create"] => Action::Create,
        ["update"] => Action::Update,
        ["delete"] | ["forget"] => Action::Delete,
        ["delete", "create"] | ["create", "delete"] => Action::Replace,
        _ => return Err(at(path, format!("{expected}, found {}", Value::Array(list.clone())))),
    })
}

/// The prefix of values standing for "the id of the resource at this configuration address",
/// put where a plan only knows the id after apply.
pub(crate) const REFERENCE: &str = "tfref:";

/// Reference fields of the configuration, as (resource configuration address, field) to the
/// resource addresses its expression refers to (`aws_vpc.main`).
type References = std::collections::HashMap<(String, String), Vec<String>>;

fn config_references(module: &Value, prefix: &str, depth: usize, out: &mut References) {
    if depth > MAX_MODULE_DEPTH {
        return;
    }
    for resource in module.get("resources").and_then(Value::as_array).into_iter().flatten() {
        let Some(address) = resource.get("address").and_then(Value::as_str) else { continue };
        let Some(Value::Object(expressions)) = resource.get("expressions") else { continue };
        for (field, expression) in expressions {
            let refs: Vec<String> = expression
                .get("references")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|r| r.split('.').count() == 2 && r.contains('_'))
                .filter(|r| {
                    !["var.", "local.", "data.", "module.", "each.", "count.", "path.", "self."]
                        .iter()
                        .any(|p| r.starts_with(p))
                })
                .map(|r| format!("{prefix}{}", strip_indexes(r)))
                .collect();
            if !refs.is_empty() {
                out.insert((format!("{prefix}{address}"), field.clone()), refs);
            }
        }
    }
    if let Some(Value::Object(calls)) = module.get("module_calls") {
        for (name, call) in calls {
            if let Some(inner) = call.get("module") {
                config_references(inner, &format!("{prefix}module.{name}."), depth + 1, out);
            }
        }
    }
}

/// `module.a[0].aws_instance.x["k"]` to `module.a.aws_instance.x`: its configuration address.
pub(crate) fn strip_indexes(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0usize;
    let mut quoted = false;
    for c in address.chars() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Puts a reference to the resource a plan's unknown id or ARN will come from, where the
/// configuration says which (`vpc_id = aws_vpc.main.id`).
fn link_unknown(resource: &mut Resource, fields: &[String], references: &References) {
    let config_address = strip_indexes(&resource.address);
    let Value::Object(values) = &mut resource.values else { return };
    for field in fields {
        let is_reference = ["_id", "_ids", "_arn", "_arns"].iter().any(|suffix| field.ends_with(suffix))
            || ["security_groups", "subnets", "vpc_zone_identifier"].contains(&field.as_str());
        if !is_reference || values.get(field).is_some_and(|v| !v.is_null()) {
            continue;
        }
        let Some(refs) = references.get(&(config_address.clone(), field.clone())) else { continue };
        let linked: Vec<Value> = refs.iter().map(|r| Value::String(format!("{REFERENCE}{r}"))).collect();
        let plural = field.ends_with('s') || field == "vpc_zone_identifier";
        let value = if plural { Value::Array(linked) } else { linked.into_iter().next().unwrap_or(Value::Null) };
        values.insert(field.clone(), value);
    }
}

/// Removes every value `mask` marks `true` (the shape of `sensitive_values`, `after_sensitive`).
fn strip_marked(values: &mut Value, mask: &Value) {
    match (values, mask) {
        (Value::Object(map), Value::Object(marks)) => {
            for (key, mark) in marks {
                if mark == &Value::Bool(true) {
                    map.remove(key);
                } else if let Some(inner) = map.get_mut(key) {
                    strip_marked(inner, mark);
                }
            }
        }
        (Value::Array(items), Value::Array(marks)) => {
            for (item, mark) in items.iter_mut().zip(marks) {
                if mark == &Value::Bool(true) {
                    *item = Value::Null;
                } else {
                    strip_marked(item, mark);
                }
            }
        }
        _ => {}
    }
}

/// Removes, at any depth, attributes whose name says they hold a credential.
fn strip_secret_names(values: &mut Value) {
    match values {
        Value::Object(map) => {
            map.retain(|key, _| {
                let lower = key.to_ascii_lowercase();
                !SECRET_WORDS.iter().any(|word| lower.contains(word))
            });
            map.values_mut().for_each(strip_secret_names);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_secret_names),
        _ => {}
    }
}

/// A few words on what a JSON value is, never the value of a string (it may be a secret).
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}
