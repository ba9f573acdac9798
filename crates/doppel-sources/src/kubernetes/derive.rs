//! Relations between the objects of one import: namespaces, selectors, owners, accounts,
//! bindings, and DNS names in environment values and arguments.

use super::objects::Object;
use crate::{Place, Warning, WarningKind};
use doppel_model::relation::DependsAttrs;
use doppel_model::{Entity, Key, Kind, RelKind, RelSpec, Relation, Spec};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Entities and relations of the objects read, with where each entity was written.
pub(crate) struct Derived {
    /// Entities, sorted by key.
    pub entities: Vec<Entity>,
    /// Relations.
    pub relations: Vec<Relation>,
    /// Where each entity was written.
    pub origins: BTreeMap<Key, Place>,
}

fn key(kind: Kind, namespace: Option<&str>, name: &str) -> Option<Key> {
    match namespace {
        Some(ns) => Key::new(kind, &format!("{ns}/{name}")).ok(),
        None => Key::new(kind, name).ok(),
    }
}

fn relation(from: &Key, kind: RelKind, to: &Key) -> Relation {
    Relation::new(from.clone(), kind, to.clone())
}

/// Derives every relation; `objects` are keyed by entity key (one per key).
pub(crate) fn derive(mut objects: BTreeMap<Key, Object>, warnings: &mut Vec<Warning>) -> Derived {
    let mut relations = Vec::new();
    let mut origins: BTreeMap<Key, Place> = objects.iter().map(|(k, o)| (k.clone(), o.place.clone())).collect();
    let unresolved = |warnings: &mut Vec<Warning>, object: &Object, subject: &str, message: String| {
        warnings.push(Warning {
            kind: WarningKind::Unresolved,
            object: Some(format!("{} {}", object.api_kind, object.entity.key.name())),
            place: Some(object.place.clone()),
            subject: subject.to_string(),
            message,
        });
    };
    // Namespaces named but not declared (and zones and regions of nodes) are created, so
    // everything has a place.
    let mut implied: BTreeMap<Key, Place> = BTreeMap::new();
    for object in objects.values() {
        if let Some(ns) = &object.namespace
            && let Some(ns_key) = key(Kind::Namespace, None, ns)
        {
            if !objects.contains_key(&ns_key) {
                implied.entry(ns_key.clone()).or_insert_with(|| object.place.clone());
            }
            relations.push(relation(&object.entity.key, RelKind::LocatedIn, &ns_key));
        }
    }
    // Nodes are in the zone (and the zone in the region) their well-known labels name.
    for object in objects.values().filter(|o| o.entity.key.kind() == Kind::Node) {
        let labels = &object.entity.labels;
        let label = |names: [&str; 2]| names.into_iter().find_map(|n| labels.get(n)).filter(|v| !v.is_empty());
        let zone = label(["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"]);
        let Some(zone) = zone.and_then(|z| key(Kind::Zone, None, z)) else { continue };
        implied.entry(zone.clone()).or_insert_with(|| object.place.clone());
        relations.push(relation(&object.entity.key, RelKind::LocatedIn, &zone));
        let region = label(["topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"]);
        if let Some(region) = region.and_then(|r| key(Kind::Region, None, r)) {
            implied.entry(region.clone()).or_insert_with(|| object.place.clone());
            relations.push(relation(&zone, RelKind::LocatedIn, &region));
        }
    }
    let exists = |k: &Key| objects.contains_key(k);
    // Objects whose pods are someone else's (a ReplicaSet of a Deployment in the import) do not
    // take part in selection: their owner does.
    let owned_elsewhere = |object: &Object| {
        object.owners.iter().any(|(kind, name)| {
            owner_kind(kind).and_then(|k| key(k, object.namespace.as_deref(), name)).is_some_and(|k| exists(&k))
        })
    };
    let pod_runners: Vec<&Object> =
        objects.values().filter(|o| o.pod_labels.is_some() && !owned_elsewhere(o)).collect();
    // Runners by namespace, and by namespace and label pair: a selector looks only at the
    // runners that have its rarest pair (selection over 100,000 objects was quadratic).
    let mut by_namespace: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    let mut by_label: HashMap<(Option<&str>, &str, &str), Vec<usize>> = HashMap::new();
    for (i, runner) in pod_runners.iter().enumerate() {
        let ns = runner.namespace.as_deref();
        by_namespace.entry(ns).or_default().push(i);
        for (k, v) in runner.pod_labels.iter().flat_map(|l| l.iter()) {
            by_label.entry((ns, k, v)).or_default().push(i);
        }
    }
    let mut selected: BTreeMap<Key, Vec<Key>> = BTreeMap::new();
    for object in objects.values() {
        let Some(selector) = &object.selects else { continue };
        let ns = object.namespace.as_deref();
        let candidates = match selector
            .iter()
            .map(|(k, v)| by_label.get(&(ns, k, v)).map_or(&[][..], Vec::as_slice))
            .min_by_key(|c| c.len())
        {
            Some(rarest) => rarest,
            None => by_namespace.get(&ns).map_or(&[][..], Vec::as_slice),
        };
        for &i in candidates {
            let runner = pod_runners[i];
            if runner.pod_labels.as_ref().is_some_and(|l| l.matches(selector)) {
                selected.entry(object.entity.key.clone()).or_default().push(runner.entity.key.clone());
            }
        }
    }
    // Which selecting objects pick each runner (a workload does not depend on its own services).
    let mut selecting: HashMap<&Key, BTreeSet<&Key>> = HashMap::new();
    for (service, targets) in &selected {
        for target in targets {
            selecting.entry(target).or_default().insert(service);
        }
    }
    for (from, targets) in &selected {
        let kind = match from.kind() {
            Kind::K8sService => RelKind::RoutesTo,
            _ => RelKind::AttachedTo,
        };
        for target in targets {
            relations.push(relation(from, kind, target));
        }
    }
    let services: BTreeSet<&Key> = objects.keys().filter(|k| k.kind() == Kind::K8sService).collect();
    let mut bindings: Vec<(Key, Option<Key>, Vec<Key>)> = Vec::new();
    for object in objects.values() {
        let me = &object.entity.key;
        let ns = object.namespace.as_deref();
        for (kind, name) in &object.owners {
            if let Some(owner) = owner_kind(kind).and_then(|k| key(k, ns, name)).filter(|k| exists(k))
                && RelKind::MemberOf.allows(me.kind(), owner.kind())
            {
                relations.push(relation(me, RelKind::MemberOf, &owner));
            }
        }
        if let Some(account) = &object.service_account {
            match key(Kind::ServiceAccount, ns, account).filter(|k| exists(k)) {
                Some(sa) if !owned_elsewhere(object) => relations.push(relation(&sa, RelKind::AttachedTo, me)),
                Some(_) => {}
                None if account != "default" => unresolved(
                    warnings,
                    object,
                    "ServiceAccount",
                    format!("runs as service account `{account}`, which is not in the import"),
                ),
                None => {}
            }
        }
        if let Some(node) = &object.node_name {
            match key(Kind::Node, None, node).filter(|k| exists(k)) {
                Some(node) => relations.push(relation(me, RelKind::RunsOn, &node)),
                None => unresolved(
                    warnings,
                    object,
                    "Node",
                    format!("is bound to node `{node}`, which is not in the import"),
                ),
            }
        }
        if let Some((kind, name)) = &object.scale_target {
            match owner_kind(kind).and_then(|k| key(k, ns, name)).filter(|k| exists(k)) {
                Some(target) => relations.push(relation(me, RelKind::AttachedTo, &target)),
                None => {
                    unresolved(warnings, object, kind, format!("scales {kind} `{name}`, which is not in the import"))
                }
            }
        }
        for backend in &object.backends {
            match key(Kind::K8sService, ns, backend).filter(|k| exists(k)) {
                Some(service) => relations.push(relation(me, RelKind::Exposes, &service)),
                None => unresolved(
                    warnings,
                    object,
                    "Service",
                    format!("sends to service `{backend}`, which is not in the import"),
                ),
            }
        }
        if let Some(service) = &object.slice_of
            && let Some(service) = key(Kind::K8sService, ns, service).filter(|k| exists(k))
        {
            relations.push(relation(me, RelKind::MemberOf, &service));
        }
        if me.kind() == Kind::K8sRoleBinding {
            let role = object.role_ref.as_ref().and_then(|(kind, name)| match kind.as_str() {
                "ClusterRole" => key(Kind::K8sRole, None, name),
                _ => key(Kind::K8sRole, ns, name),
            });
            let role = match (role.filter(|k| exists(k)), &object.role_ref) {
                (Some(role), _) => Some(role),
                (None, Some((kind, name))) => {
                    unresolved(warnings, object, kind, format!("grants {kind} `{name}`, which is not in the import"));
                    None
                }
                (None, None) => None,
            };
            let mut subjects = Vec::new();
            for (kind, subject_ns, name) in &object.subjects {
                let found = match kind.as_str() {
                    "ServiceAccount" => {
                        key(Kind::ServiceAccount, subject_ns.as_deref().or(ns), name).filter(|k| exists(k))
                    }
                    _ => None,
                };
                match found {
                    Some(sa) => {
                        relations.push(relation(me, RelKind::Grants, &sa));
                        subjects.push(sa);
                    }
                    None => {
                        unresolved(warnings, object, kind, format!("names {kind} `{name}`, which is not in the import"))
                    }
                }
            }
            subjects.sort();
            bindings.push((me.clone(), role, subjects));
        }
        if object.pod_labels.is_some() && !owned_elsewhere(object) {
            let mut reasons: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
            for (kind, name, how) in &object.config_refs {
                match key(*kind, ns, name).filter(|k| exists(k)) {
                    Some(target) => {
                        reasons.entry(target).or_default().insert(how.clone());
                    }
                    None => unresolved(
                        warnings,
                        object,
                        kind.prefix(),
                        format!("reads {kind} `{name}` ({how}), which is not in the import"),
                    ),
                }
            }
            let own_services = selecting.get(me);
            for (what, value) in &object.addresses {
                for target in service_names(value, what, ns.unwrap_or("default")) {
                    if let Some(target) = key(Kind::K8sService, Some(&target.1), &target.0)
                        && services.contains(&target)
                        && !own_services.is_some_and(|own| own.contains(&target))
                    {
                        reasons.entry(target).or_default().insert(what.clone());
                    }
                }
            }
            for (target, why) in reasons {
                let reason = why.into_iter().collect::<Vec<_>>().join("; ");
                let attrs = DependsAttrs { reason: Some(reason), ..DependsAttrs::default() };
                relations.push(Relation { from: me.clone(), to: target, spec: RelSpec::DependsOn(Box::new(attrs)) });
            }
        }
    }
    for (binding, role, subjects) in bindings {
        if let Some(object) = objects.get_mut(&binding)
            && let Spec::K8sRoleBinding(spec) = &mut object.entity.spec
        {
            spec.role = role;
            spec.subjects = subjects;
        }
    }
    let mut entities: Vec<Entity> = objects.into_values().map(|o| o.entity).collect();
    for (implied, place) in implied {
        entities.push(Entity::new(implied.clone()));
        origins.insert(implied, place);
    }
    entities.sort_by(|a, b| a.key.cmp(&b.key));
    relations.sort_by_key(Relation::key);
    relations.dedup_by_key(|r| r.key());
    Derived { entities, relations, origins }
}

/// The model kind of an owner or scale target kind.
fn owner_kind(kind: &str) -> Option<Kind> {
    Some(match kind {
        "Deployment" => Kind::Deployment,
        "StatefulSet" => Kind::StatefulSet,
        "DaemonSet" => Kind::DaemonSet,
        "ReplicaSet" => Kind::ReplicaSet,
        _ => return None,
    })
}

/// Names in a variable's name that say its value is an address.
const ADDRESS_WORDS: &[&str] =
    &["ADDR", "HOST", "URL", "URI", "ENDPOINT", "SERVICE", "SERVER", "DSN", "BROKER", "PEER", "UPSTREAM", "TARGET"];

/// The (service, namespace) pairs a value may name by DNS: `cart:7070`, `http://cart/x`,
/// `cart.shop`, `cart.shop.svc.cluster.local:80`, `mongodb://user:pw@cart-db:27017`. A bare
/// word (`cart`) counts only as the whole value of a variable whose name says it is an address.
pub fn service_names(value: &str, what: &str, namespace: &str) -> Vec<(String, String)> {
    let is_env = what.starts_with("env ");
    let address_name = is_env && {
        let name = what.split_whitespace().nth(1).unwrap_or("").to_ascii_uppercase();
        ADDRESS_WORDS.iter().any(|w| name.contains(w))
    };
    let tokens: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '=' | '(' | ')' | '[' | ']'))
        .filter(|t| !t.is_empty())
        .collect();
    let whole = tokens.len() == 1;
    let mut found = Vec::new();
    for token in tokens {
        let (rest, scheme) = match token.split_once("://") {
            Some((_, rest)) => (rest, true),
            None => (token, false),
        };
        let authority = rest.split('/').next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let numeric_port = port.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if port.is_some() && !numeric_port {
            continue;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            continue;
        }
        let parts: Vec<&str> = host.split('.').collect();
        match parts.as_slice() {
            [service] if scheme || numeric_port || (whole && address_name) => {
                found.push((service.to_string(), namespace.to_string()));
            }
            [service, ns] => found.push((service.to_string(), ns.to_string())),
            [service, ns, "svc", ..] => found.push((service.to_string(), ns.to_string())),
            _ => {}
        }
    }
    found
}
