//! One Kubernetes object (a positioned YAML tree) to one typed entity of the model, plus
//! what relations are later derived from: selectors, references, environment.
//!
//! Fields are read where the model has a place for them; other known Kubernetes fields are
//! skipped quietly; fields Kubernetes does not define for the kind are warnings.

use crate::{Error, Place, Result, Warning, WarningKind};
use doppel_estate::tree::{Node, Value};
use doppel_model::spec::*;
use doppel_model::units::{parse_bytes, parse_cores};
use doppel_model::{Bytes, Cores, Entity, IntOrPercent, Key, Kind, Labels, Spec};

/// A Kubernetes object read: its entity and what relations are derived from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Object {
    /// `Deployment`, as written.
    pub api_kind: String,
    /// Namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// Where it starts.
    pub place: Place,
    /// The entity.
    pub entity: Entity,
    /// Labels its pods carry (workloads: the template's; pods: their own).
    pub pod_labels: Option<Labels>,
    /// A label selector of pods (services, PDBs, network policies), `Some(empty)` for all.
    pub selects: Option<Labels>,
    /// The service account its pods run as.
    pub service_account: Option<String>,
    /// Environment variables and arguments, as (what, value), kept only to find DNS names.
    pub addresses: Vec<(String, String)>,
    /// ConfigMaps and Secrets its pods read, as (kind, name, how).
    pub config_refs: Vec<(Kind, String, String)>,
    /// The object an HPA scales, as (kind, name).
    pub scale_target: Option<(String, String)>,
    /// Services an ingress sends to.
    pub backends: Vec<String>,
    /// A binding's role, as (kind, name).
    pub role_ref: Option<(String, String)>,
    /// A binding's subjects, as (kind, namespace, name).
    pub subjects: Vec<(String, Option<String>, String)>,
    /// Owners from `metadata.ownerReferences`, as (kind, name).
    pub owners: Vec<(String, String)>,
    /// The service an endpoint slice belongs to.
    pub slice_of: Option<String>,
    /// The node a pod is bound to.
    pub node_name: Option<String>,
}

/// How objects are read: who reads them, and where unnamespaced objects go.
pub(crate) struct Reader<'a> {
    /// The source instance, for messages.
    pub source_name: &'a str,
    /// Namespace of namespaced objects that name none.
    pub default_namespace: &'a str,
    /// Warnings found.
    pub warnings: &'a mut Vec<Warning>,
}

const METADATA_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "labels",
    "annotations",
    "generateName",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];
const POD_SPEC_FIELDS: &[&str] = &[
    "activeDeadlineSeconds",
    "affinity",
    "automountServiceAccountToken",
    "containers",
    "dnsConfig",
    "dnsPolicy",
    "enableServiceLinks",
    "ephemeralContainers",
    "hostAliases",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostUsers",
    "hostname",
    "imagePullSecrets",
    "initContainers",
    "nodeName",
    "nodeSelector",
    "os",
    "overhead",
    "preemptionPolicy",
    "priority",
    "priorityClassName",
    "readinessGates",
    "resourceClaims",
    "resources",
    "restartPolicy",
    "runtimeClassName",
    "schedulerName",
    "schedulingGates",
    "securityContext",
    "serviceAccount",
    "serviceAccountName",
    "setHostnameAsFQDN",
    "shareProcessNamespace",
    "subdomain",
    "terminationGracePeriodSeconds",
    "tolerations",
    "topologySpreadConstraints",
    "volumes",
];
const CONTAINER_FIELDS: &[&str] = &[
    "args",
    "command",
    "env",
    "envFrom",
    "image",
    "imagePullPolicy",
    "lifecycle",
    "livenessProbe",
    "name",
    "ports",
    "readinessProbe",
    "resizePolicy",
    "resources",
    "restartPolicy",
    "securityContext",
    "startupProbe",
    "stdin",
    "stdinOnce",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "tty",
    "volumeDevices",
    "volumeMounts",
    "workingDir",
];

/// The model kind an API kind (`Deployment`, `ClusterRole`) maps onto, if it is mapped.
pub fn model_kind(api_kind: &str) -> Option<Kind> {
    mapped(api_kind).map(|(kind, _, _)| kind)
}

/// The kinds mapped, with their model kind, whether namespaced, and their known `spec` fields.
fn mapped(api_kind: &str) -> Option<(Kind, bool, &'static [&'static str])> {
    Some(match api_kind {
        "Namespace" => (Kind::Namespace, false, &["finalizers"]),
        "Node" => (
            Kind::Node,
            false,
            &["configSource", "externalID", "podCIDR", "podCIDRs", "providerID", "taints", "unschedulable"],
        ),
        "Deployment" => (
            Kind::Deployment,
            true,
            &[
                "minReadySeconds",
                "paused",
                "progressDeadlineSeconds",
                "replicas",
                "revisionHistoryLimit",
                "selector",
                "strategy",
                "template",
            ],
        ),
        "StatefulSet" => (
            Kind::StatefulSet,
            true,
            &[
                "minReadySeconds",
                "ordinals",
                "persistentVolumeClaimRetentionPolicy",
                "podManagementPolicy",
                "replicas",
                "revisionHistoryLimit",
                "selector",
                "serviceName",
                "template",
                "updateStrategy",
                "volumeClaimTemplates",
            ],
        ),
        "DaemonSet" => (
            Kind::DaemonSet,
            true,
            &["minReadySeconds", "revisionHistoryLimit", "selector", "template", "updateStrategy"],
        ),
        "ReplicaSet" => (Kind::ReplicaSet, true, &["minReadySeconds", "replicas", "selector", "template"]),
        "Pod" => (Kind::Pod, true, POD_SPEC_FIELDS),
        "Service" => (
            Kind::K8sService,
            true,
            &[
                "allocateLoadBalancerNodePorts",
                "clusterIP",
                "clusterIPs",
                "externalIPs",
                "externalName",
                "externalTrafficPolicy",
                "healthCheckNodePort",
                "internalTrafficPolicy",
                "ipFamilies",
                "ipFamilyPolicy",
                "loadBalancerClass",
                "loadBalancerIP",
                "loadBalancerSourceRanges",
                "ports",
                "publishNotReadyAddresses",
                "selector",
                "sessionAffinity",
                "sessionAffinityConfig",
                "trafficDistribution",
                "type",
            ],
        ),
        "EndpointSlice" => (Kind::EndpointSlice, true, &[]),
        "Ingress" => (Kind::Ingress, true, &["backend", "defaultBackend", "ingressClassName", "rules", "tls"]),
        "NetworkPolicy" => (Kind::NetworkPolicy, true, &["egress", "ingress", "podSelector", "policyTypes"]),
        "PodDisruptionBudget" => {
            (Kind::Pdb, true, &["maxUnavailable", "minAvailable", "selector", "unhealthyPodEvictionPolicy"])
        }
        "HorizontalPodAutoscaler" => (
            Kind::Hpa,
            true,
            &["behavior", "maxReplicas", "metrics", "minReplicas", "scaleTargetRef", "targetCPUUtilizationPercentage"],
        ),
        "ServiceAccount" => (Kind::ServiceAccount, true, &[]),
        "Role" => (Kind::K8sRole, true, &[]),
        "ClusterRole" => (Kind::K8sRole, false, &[]),
        "RoleBinding" => (Kind::K8sRoleBinding, true, &[]),
        "ClusterRoleBinding" => (Kind::K8sRoleBinding, false, &[]),
        "ConfigMap" => (Kind::ConfigMap, true, &[]),
        "Secret" => (Kind::Secret, true, &[]),
        _ => return None,
    })
}

/// Top-level fields Kubernetes defines besides apiVersion, kind, metadata, spec, status.
fn top_level_fields(api_kind: &str) -> &'static [&'static str] {
    match api_kind {
        "EndpointSlice" => &["addressType", "endpoints", "ports"],
        "ServiceAccount" => &["automountServiceAccountToken", "imagePullSecrets", "secrets"],
        "Role" | "ClusterRole" => &["rules", "aggregationRule"],
        "RoleBinding" | "ClusterRoleBinding" => &["roleRef", "subjects"],
        "ConfigMap" => &["data", "binaryData", "immutable"],
        "Secret" => &["data", "stringData", "type", "immutable"],
        _ => &[],
    }
}

/// One object being read: where it is and what to call it in messages.
struct At<'a, 'w> {
    reader: &'a mut Reader<'w>,
    object: String,
    file: &'a str,
}

impl At<'_, '_> {
    fn place(&self, node: &Node) -> Place {
        Place { file: self.file.to_string(), line: node.line, col: node.col }
    }

    fn error(&self, node: &Node, message: impl Into<String>) -> Error {
        Error::Object {
            source_name: self.reader.source_name.to_string(),
            object: self.object.clone(),
            place: self.place(node),
            message: message.into(),
        }
    }

    fn warn(&mut self, node: &Node, kind: WarningKind, subject: String, message: String) {
        let place = self.place(node);
        self.reader.warnings.push(Warning {
            kind,
            object: Some(self.object.clone()),
            place: Some(place),
            subject,
            message,
        });
    }

    /// Warns of each key of a map not in `known`; `path` names the map (`spec.template.spec`).
    fn check_fields(&mut self, node: &Node, path: &str, known: &[&str]) {
        let Some(entries) = node.as_map() else { return };
        for (key, _) in entries {
            let name = key.scalar_text().unwrap_or_default();
            if !known.contains(&name.as_str()) {
                let field = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                self.warn(key, WarningKind::UnknownField, field.clone(), format!("unknown field `{field}`: skipped"));
            }
        }
    }

    /// The child `field` of a map node, if present and not null.
    fn get<'n>(&self, node: &'n Node, field: &str) -> Option<&'n Node> {
        node.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(field))
            .map(|(_, v)| v)
            .filter(|v| v.value != Value::Null)
    }

    fn map<'n>(&self, node: &'n Node, field: &str) -> Result<Option<&'n Node>> {
        match self.get(node, field) {
            None => Ok(None),
            Some(value) if value.as_map().is_some() => Ok(Some(value)),
            Some(value) => {
                Err(self.error(value, format!("`{field}` should be a map, found {}", value.value.describe())))
            }
        }
    }

    fn list<'n>(&self, node: &'n Node, field: &str) -> Result<&'n [Node]> {
        match self.get(node, field) {
            None => Ok(&[]),
            Some(Node { value: Value::Seq(items), .. }) => Ok(items),
            Some(value) => {
                Err(self.error(value, format!("`{field}` should be a list, found {}", value.value.describe())))
            }
        }
    }

    fn text(&self, node: &Node, field: &str) -> Result<Option<String>> {
        match self.get(node, field) {
            None => Ok(None),
            Some(value) => match &value.value {
                Value::Str(s) => Ok(Some(s.clone())),
                Value::Int(_) | Value::Float(_) | Value::Bool(_) => Ok(value.scalar_text()),
                other => Err(self.error(value, format!("`{field}` should be text, found {}", other.describe()))),
            },
        }
    }

    fn count(&self, node: &Node, field: &str) -> Result<Option<u32>> {
        match self.get(node, field) {
            None => Ok(None),
            Some(Node { value: Value::Int(n), .. }) if (0..=i64::from(u32::MAX)).contains(n) => Ok(Some(*n as u32)),
            Some(value) => Err(self.error(
                value,
                format!(
                    "`{field}` should be a whole number from 0, found {}",
                    value.scalar_text().unwrap_or_else(|| value.value.describe().into())
                ),
            )),
        }
    }

    fn port(&self, node: &Node, field: &str) -> Result<Option<u16>> {
        match self.get(node, field) {
            None => Ok(None),
            Some(Node { value: Value::Int(n), .. }) if (0..=65535).contains(n) => Ok(Some(*n as u16)),
            // A named port (`http`) has no number to record.
            Some(Node { value: Value::Str(_), .. }) => Ok(None),
            Some(value) => Err(self.error(
                value,
                format!(
                    "`{field}` should be a port from 0 to 65535 or a port name, found {}",
                    value.scalar_text().unwrap_or_else(|| value.value.describe().into())
                ),
            )),
        }
    }

    fn flag(&self, node: &Node, field: &str) -> Result<Option<bool>> {
        match self.get(node, field) {
            None => Ok(None),
            Some(Node { value: Value::Bool(b), .. }) => Ok(Some(*b)),
            Some(value) => {
                Err(self.error(value, format!("`{field}` should be true or false, found {}", value.value.describe())))
            }
        }
    }

    fn strings(&self, node: &Node, field: &str) -> Result<Vec<String>> {
        self.list(node, field)?
            .iter()
            .map(|item| {
                item.scalar_text().ok_or_else(|| {
                    self.error(item, format!("`{field}` should hold text, found {}", item.value.describe()))
                })
            })
            .collect()
    }

    fn labels(&self, node: &Node, field: &str) -> Result<Labels> {
        let Some(map) = self.map(node, field)? else { return Ok(Labels::default()) };
        let mut pairs = Vec::new();
        for (key, value) in map.as_map().unwrap_or_default() {
            let key = key.scalar_text().ok_or_else(|| self.error(key, "a label key should be text"))?;
            let value = match &value.value {
                Value::Null => String::new(),
                _ => value.scalar_text().ok_or_else(|| self.error(value, format!("label `{key}` should be text")))?,
            };
            pairs.push((key, value));
        }
        Ok(Labels::from_pairs(pairs))
    }

    /// A label selector (`matchLabels`); `matchExpressions` are warned about, not applied.
    fn selector(&mut self, node: &Node, field: &str) -> Result<Option<Labels>> {
        let Some(selector) = self.map(node, field)? else { return Ok(None) };
        if let Some(expressions) = self.get(selector, "matchExpressions") {
            self.warn(
                expressions,
                WarningKind::UnknownField,
                format!("{field}.matchExpressions"),
                "matchExpressions are not applied yet: the selector is taken as its matchLabels".into(),
            );
        }
        Ok(Some(self.labels(selector, "matchLabels")?))
    }

    fn quantity_cores(&self, node: &Node, field: &str) -> Result<Cores> {
        match self.get(node, field) {
            None => Ok(Cores(0.0)),
            Some(value) => value.scalar_text().and_then(|t| parse_cores(&t)).map(Cores).ok_or_else(|| {
                self.error(
                    value,
                    format!(
                        "`{field}` should be a CPU quantity (500m, 2), found {}",
                        value.scalar_text().unwrap_or_default()
                    ),
                )
            }),
        }
    }

    fn quantity_bytes(&self, node: &Node, field: &str) -> Result<Bytes> {
        match self.get(node, field) {
            None => Ok(Bytes(0)),
            Some(value) => value.scalar_text().and_then(|t| parse_bytes(&t)).map(Bytes).ok_or_else(|| {
                self.error(
                    value,
                    format!(
                        "`{field}` should be a size (512Mi, 2Gi), found {}",
                        value.scalar_text().unwrap_or_default()
                    ),
                )
            }),
        }
    }

    fn resources(&self, node: Option<&Node>) -> Result<Resources> {
        let Some(node) = node else { return Ok(Resources::default()) };
        Ok(Resources {
            cpu: self.quantity_cores(node, "cpu")?,
            memory: self.quantity_bytes(node, "memory")?,
            ephemeral_storage: self.quantity_bytes(node, "ephemeral-storage")?,
            pods: self.get(node, "pods").and_then(Node::scalar_text).and_then(|t| t.parse().ok()).unwrap_or(0),
        })
    }

    fn int_or_percent(&self, node: &Node, field: &str) -> Result<Option<IntOrPercent>> {
        match self.get(node, field) {
            None => Ok(None),
            Some(Node { value: Value::Int(n), .. }) if (0..=i64::from(u32::MAX)).contains(n) => {
                Ok(Some(IntOrPercent::Count(*n as u32)))
            }
            Some(value) => {
                match value.as_str().and_then(|t| t.strip_suffix('%')).and_then(|p| p.trim().parse::<f64>().ok()) {
                    Some(p) if (0.0..=100.0).contains(&p) => Ok(Some(IntOrPercent::Percent(p))),
                    _ => Err(self.error(
                        value,
                        format!(
                            "`{field}` should be a count or a percentage (25%), found {}",
                            value.scalar_text().unwrap_or_else(|| value.value.describe().into())
                        ),
                    )),
                }
            }
        }
    }
}

/// Reads one object. `Ok(None)` for kinds not mapped (a warning says so).
pub(crate) fn read(reader: &mut Reader<'_>, node: &Node, place: Place) -> Result<Option<Object>> {
    let file = place.file.clone();
    let mut at = At { reader, object: format!("object at line {}", node.line), file: &file };
    let api_kind = match at.get(node, "kind").and_then(Node::as_str) {
        Some(kind) => kind.to_string(),
        None => return Err(at.error(node, "expected `kind:` naming what the object is (Deployment, Service, ...)")),
    };
    at.object = api_kind.clone();
    let Some((kind, namespaced, spec_fields)) = mapped(&api_kind) else {
        // Not mapped (a CRD, a Job, a kustomization): counted, never fatal, whatever its shape.
        let name = at.get(node, "metadata").and_then(|m| m.locate("name").as_str().map(str::to_string));
        at.object = format!("{api_kind} {}", name.as_deref().unwrap_or("(unnamed)"));
        let api = at.get(node, "apiVersion").and_then(Node::scalar_text).unwrap_or_default();
        at.warn(
            node,
            WarningKind::UnknownKind,
            api_kind.clone(),
            format!("kind `{api_kind}` ({api}) is not mapped into the twin: skipped"),
        );
        return Ok(None);
    };
    let metadata =
        at.map(node, "metadata")?.ok_or_else(|| at.error(node, "expected `metadata:` with the object's name"))?;
    let name = match at.text(metadata, "name")? {
        Some(name) if !name.is_empty() => name,
        _ => return Err(at.error(metadata, "expected `metadata.name`")),
    };
    let namespace = if namespaced {
        Some(
            at.text(metadata, "namespace")?
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| at.reader.default_namespace.to_string()),
        )
    } else {
        None
    };
    let qualified = match &namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.clone(),
    };
    at.object = format!("{api_kind} {qualified}");
    let key = Key::new(kind, &qualified).map_err(|e| at.error(metadata, e.to_string()))?;
    let mut known_top = vec!["apiVersion", "kind", "metadata", "spec", "status"];
    known_top.extend_from_slice(top_level_fields(&api_kind));
    at.check_fields(node, "", &known_top);
    at.check_fields(metadata, "metadata", METADATA_FIELDS);
    let labels = at.labels(metadata, "labels")?;
    let spec = at.map(node, "spec")?;
    if let Some(spec) = spec {
        at.check_fields(spec, "spec", spec_fields);
    }
    let mut object = Object {
        api_kind: api_kind.clone(),
        namespace,
        place: place.clone(),
        entity: Entity::new(key),
        pod_labels: None,
        selects: None,
        service_account: None,
        addresses: Vec::new(),
        config_refs: Vec::new(),
        scale_target: None,
        backends: Vec::new(),
        role_ref: None,
        subjects: Vec::new(),
        owners: Vec::new(),
        slice_of: None,
        node_name: None,
    };
    for owner in at.list(metadata, "ownerReferences")? {
        if let (Some(kind), Some(name)) = (at.text(owner, "kind")?, at.text(owner, "name")?) {
            object.owners.push((kind, name));
        }
    }
    let empty = Node { value: Value::Map(Vec::new()), line: node.line, col: node.col };
    let spec_node = spec.unwrap_or(&empty);
    object.entity.spec = match api_kind.as_str() {
        "Namespace" => Spec::Namespace(Box::default()),
        "Node" => Spec::Node(Box::new(node_spec(&mut at, node, spec_node, &labels)?)),
        "Deployment" => {
            let template = template(&mut at, spec_node, &mut object)?;
            let strategy = at.map(spec_node, "strategy")?;
            let rolling = match strategy {
                Some(s) => at.map(s, "rollingUpdate")?,
                None => None,
            };
            Spec::Deployment(Box::new(DeploymentSpec {
                replicas: at.count(spec_node, "replicas")?.unwrap_or(1),
                ready_replicas: ready_replicas(&mut at, node)?,
                selector: at.selector(spec_node, "selector")?.unwrap_or_default(),
                template,
                max_surge: match rolling {
                    Some(r) => at.int_or_percent(r, "maxSurge")?,
                    None => None,
                },
                max_unavailable: match rolling {
                    Some(r) => at.int_or_percent(r, "maxUnavailable")?,
                    None => None,
                },
            }))
        }
        "StatefulSet" => {
            let template = template(&mut at, spec_node, &mut object)?;
            let claims = at.list(spec_node, "volumeClaimTemplates")?;
            let (mut volume_size, mut storage_class) = (None, None);
            if let Some(claim_spec) = claims.first().map(|c| at.map(c, "spec")).transpose()?.flatten() {
                storage_class = at.text(claim_spec, "storageClassName")?;
                if let Some(requests) =
                    at.map(claim_spec, "resources")?.map(|r| at.map(r, "requests")).transpose()?.flatten()
                {
                    volume_size =
                        at.get(requests, "storage").map(|_| at.quantity_bytes(requests, "storage")).transpose()?;
                }
            }
            Spec::StatefulSet(Box::new(StatefulSetSpec {
                replicas: at.count(spec_node, "replicas")?.unwrap_or(1),
                ready_replicas: ready_replicas(&mut at, node)?,
                selector: at.selector(spec_node, "selector")?.unwrap_or_default(),
                template,
                volume_size,
                storage_class,
                quorum: None,
            }))
        }
        "DaemonSet" => {
            let template = template(&mut at, spec_node, &mut object)?;
            Spec::DaemonSet(Box::new(DaemonSetSpec {
                selector: at.selector(spec_node, "selector")?.unwrap_or_default(),
                template,
            }))
        }
        "ReplicaSet" => {
            let template = template(&mut at, spec_node, &mut object)?;
            Spec::ReplicaSet(Box::new(ReplicaSetSpec {
                replicas: at.count(spec_node, "replicas")?.unwrap_or(1),
                selector: at.selector(spec_node, "selector")?.unwrap_or_default(),
                template,
            }))
        }
        "Pod" => {
            let pod = pod_spec(&mut at, spec_node, "spec", &mut object)?;
            object.pod_labels = Some(labels.clone());
            object.node_name = at.text(spec_node, "nodeName")?;
            let status = at.map(node, "status")?;
            let phase = match status.map(|s| at.text(s, "phase")).transpose()?.flatten().as_deref() {
                Some("Pending") => PodPhase::Pending,
                Some("Succeeded") => PodPhase::Succeeded,
                Some("Failed") => PodPhase::Failed,
                Some("Unknown") => PodPhase::Unknown,
                _ => PodPhase::Running,
            };
            let ip = status.map(|s| at.text(s, "podIP")).transpose()?.flatten().and_then(|ip| ip.parse().ok());
            Spec::Pod(Box::new(PodSpec { phase, requests: pod.requests, limits: pod.limits, ip, restarts: 0 }))
        }
        "Service" => Spec::K8sService(Box::new(service_spec(&mut at, spec_node, &mut object)?)),
        "EndpointSlice" => {
            object.slice_of = labels.get("kubernetes.io/service-name").map(str::to_string);
            let endpoints = at.list(node, "endpoints")?;
            let mut ready = 0;
            for endpoint in endpoints {
                let is_ready = match at.map(endpoint, "conditions")? {
                    Some(conditions) => at.flag(conditions, "ready")?.unwrap_or(true),
                    None => true,
                };
                ready += u32::from(is_ready);
            }
            let mut ports = Vec::new();
            for port in at.list(node, "ports")? {
                ports.extend(at.port(port, "port")?);
            }
            ports.sort_unstable();
            Spec::EndpointSlice(Box::new(EndpointSliceSpec {
                address_type: at.text(node, "addressType")?,
                endpoints: endpoints.len() as u32,
                ready,
                ports,
            }))
        }
        "Ingress" => Spec::Ingress(Box::new(ingress_spec(&mut at, spec_node, metadata, &mut object)?)),
        "NetworkPolicy" => Spec::NetworkPolicy(Box::new(network_policy_spec(&mut at, spec_node, &mut object)?)),
        "PodDisruptionBudget" => {
            let selector = at.selector(spec_node, "selector")?.unwrap_or_default();
            object.selects = Some(selector.clone());
            Spec::Pdb(Box::new(PdbSpec {
                min_available: at.int_or_percent(spec_node, "minAvailable")?,
                max_unavailable: at.int_or_percent(spec_node, "maxUnavailable")?,
                selector,
            }))
        }
        "HorizontalPodAutoscaler" => Spec::Hpa(Box::new(hpa_spec(&mut at, spec_node, &mut object)?)),
        "ServiceAccount" => Spec::ServiceAccount(Box::new(ServiceAccountSpec {
            cloud_role: None,
            automount_token: at.flag(node, "automountServiceAccountToken")?,
        })),
        "Role" | "ClusterRole" => {
            let mut rules = Vec::new();
            for rule in at.list(node, "rules")? {
                let mut verbs = at.strings(rule, "verbs")?;
                verbs.sort();
                rules.push(K8sRule {
                    api_groups: at.strings(rule, "apiGroups")?,
                    resources: at.strings(rule, "resources")?,
                    verbs,
                });
            }
            Spec::K8sRole(Box::new(K8sRoleSpec { cluster_wide: api_kind == "ClusterRole", rules }))
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            if let Some(role_ref) = at.map(node, "roleRef")? {
                object.role_ref = Some((
                    at.text(role_ref, "kind")?.unwrap_or_default(),
                    at.text(role_ref, "name")?.unwrap_or_default(),
                ));
            }
            for subject in at.list(node, "subjects")? {
                let kind = at.text(subject, "kind")?.unwrap_or_default();
                let name = at.text(subject, "name")?.ok_or_else(|| at.error(subject, "a subject needs a `name`"))?;
                object.subjects.push((kind, at.text(subject, "namespace")?, name));
            }
            // Role and subjects are filled in once the whole input is read.
            Spec::K8sRoleBinding(Box::new(K8sRoleBindingSpec {
                cluster_wide: api_kind == "ClusterRoleBinding",
                role: None,
                subjects: Vec::new(),
            }))
        }
        "ConfigMap" => {
            let mut keys = Vec::new();
            for field in ["data", "binaryData"] {
                if let Some(map) = at.map(node, field)? {
                    keys.extend(map.as_map().unwrap_or_default().iter().filter_map(|(k, _)| k.scalar_text()));
                }
            }
            keys.sort();
            keys.dedup();
            Spec::ConfigMap(Box::new(ConfigMapSpec { keys }))
        }
        // A Secret's `data` and `stringData` are never looked at: only its type is kept.
        "Secret" => Spec::Secret(Box::new(SecretSpec { secret_type: at.text(node, "type")? })),
        _ => Spec::default_for(kind),
    };
    object.entity.labels = labels;
    Ok(Some(object))
}

fn node_spec(at: &mut At<'_, '_>, node: &Node, spec: &Node, labels: &Labels) -> Result<NodeSpec> {
    let status = at.map(node, "status")?;
    let (allocatable, capacity) = match status {
        Some(s) => (at.resources(at.map(s, "allocatable")?)?, at.resources(at.map(s, "capacity")?)?),
        None => (Resources::default(), Resources::default()),
    };
    let mut taints = Vec::new();
    for taint in at.list(spec, "taints")? {
        let effect = match at.text(taint, "effect")?.as_deref() {
            Some("PreferNoSchedule") => TaintEffect::PreferNoSchedule,
            Some("NoExecute") => TaintEffect::NoExecute,
            _ => TaintEffect::NoSchedule,
        };
        taints.push(Taint { key: at.text(taint, "key")?.unwrap_or_default(), value: at.text(taint, "value")?, effect });
    }
    let arch = match labels.get("kubernetes.io/arch") {
        Some("arm64") => Arch::Arm64,
        _ => Arch::X86_64,
    };
    Ok(NodeSpec {
        allocatable,
        capacity,
        taints,
        unschedulable: at.flag(spec, "unschedulable")?.unwrap_or(false),
        instance_type: labels.get("node.kubernetes.io/instance-type").map(str::to_string),
        arch,
        node_group: None,
        ready: None,
    })
}

/// The pod template of a workload; records its pods' labels, account and environment.
/// A workload's ready replicas from its `status` (a cluster's answer, or `kubectl get -o
/// yaml`): `readyReplicas`, which the API leaves out when it is 0; `None` without a status.
fn ready_replicas(at: &mut At<'_, '_>, object: &Node) -> Result<Option<u32>> {
    match at.map(object, "status")? {
        Some(status) => Ok(Some(at.count(status, "readyReplicas")?.unwrap_or(0))),
        None => Ok(None),
    }
}

fn template(at: &mut At<'_, '_>, spec: &Node, object: &mut Object) -> Result<PodTemplate> {
    let Some(template) = at.map(spec, "template")? else {
        return Err(at.error(spec, "expected `spec.template`, the pods this workload runs"));
    };
    at.check_fields(template, "spec.template", &["metadata", "spec"]);
    let labels = match at.map(template, "metadata")? {
        Some(metadata) => at.labels(metadata, "labels")?,
        None => Labels::default(),
    };
    let pod_spec_node = at.map(template, "spec")?.ok_or_else(|| at.error(template, "expected `spec.template.spec`"))?;
    let mut pod = pod_spec(at, pod_spec_node, "spec.template.spec", object)?;
    object.pod_labels = Some(labels.clone());
    pod.labels = labels;
    Ok(pod)
}

/// Reads a pod spec into a template (requests and limits summed over containers).
fn pod_spec(at: &mut At<'_, '_>, spec: &Node, path: &str, object: &mut Object) -> Result<PodTemplate> {
    at.check_fields(spec, path, POD_SPEC_FIELDS);
    let mut template = PodTemplate::default();
    let containers = at.list(spec, "containers")?;
    if containers.is_empty() {
        return Err(at.error(spec, format!("expected `{path}.containers` with at least one container")));
    }
    for (n, container) in containers.iter().enumerate() {
        at.check_fields(container, &format!("{path}.containers.{n}"), CONTAINER_FIELDS);
        let cname = at.text(container, "name")?.unwrap_or_else(|| format!("#{n}"));
        if let Some(image) = at.text(container, "image")? {
            template.images.push(image);
        }
        for port in at.list(container, "ports")? {
            template.ports.extend(at.port(port, "containerPort")?);
        }
        if let Some(resources) = at.map(container, "resources")? {
            let requests = at.resources(at.map(resources, "requests")?)?;
            let limits = at.resources(at.map(resources, "limits")?)?;
            add(&mut template.requests, &requests);
            add(&mut template.limits, &limits);
        }
        for var in at.list(container, "env")? {
            let Some(name) = at.text(var, "name")? else { continue };
            if let Some(from) = at.map(var, "valueFrom")? {
                for (field, kind) in [("configMapKeyRef", Kind::ConfigMap), ("secretKeyRef", Kind::Secret)] {
                    if let Some(target) = at.map(from, field)?.map(|r| at.text(r, "name")).transpose()?.flatten() {
                        object.config_refs.push((kind, target, format!("env {name} of container {cname}")));
                    }
                }
            } else if !looks_secret(&name)
                && let Some(value) = at.text(var, "value")?
            {
                object.addresses.push((format!("env {name} of container {cname}"), value));
            }
        }
        for source in at.list(container, "envFrom")? {
            for (field, kind) in [("configMapRef", Kind::ConfigMap), ("secretRef", Kind::Secret)] {
                if let Some(target) = at.map(source, field)?.map(|r| at.text(r, "name")).transpose()?.flatten() {
                    object.config_refs.push((kind, target, format!("envFrom of container {cname}")));
                }
            }
        }
        for field in ["command", "args"] {
            for arg in at.strings(container, field)? {
                object.addresses.push((format!("{field} of container {cname}"), arg));
            }
        }
    }
    for volume in at.list(spec, "volumes")? {
        let vname = at.text(volume, "name")?.unwrap_or_default();
        if let Some(target) = at.map(volume, "configMap")?.map(|c| at.text(c, "name")).transpose()?.flatten() {
            object.config_refs.push((Kind::ConfigMap, target, format!("volume {vname}")));
        }
        if let Some(target) = at.map(volume, "secret")?.map(|c| at.text(c, "secretName")).transpose()?.flatten() {
            object.config_refs.push((Kind::Secret, target, format!("volume {vname}")));
        }
    }
    object.service_account = at.text(spec, "serviceAccountName")?.or(at.text(spec, "serviceAccount")?);
    template.scheduling.node_selector = at.labels(spec, "nodeSelector")?;
    template.scheduling.priority_class = at.text(spec, "priorityClassName")?;
    for toleration in at.list(spec, "tolerations")? {
        let operator = match at.text(toleration, "operator")?.as_deref() {
            Some("Exists") => TolerationOperator::Exists,
            _ => TolerationOperator::Equal,
        };
        let effect = match at.text(toleration, "effect")?.as_deref() {
            Some("NoSchedule") => Some(TaintEffect::NoSchedule),
            Some("PreferNoSchedule") => Some(TaintEffect::PreferNoSchedule),
            Some("NoExecute") => Some(TaintEffect::NoExecute),
            _ => None,
        };
        template.scheduling.tolerations.push(Toleration {
            key: at.text(toleration, "key")?,
            operator,
            value: at.text(toleration, "value")?,
            effect,
        });
    }
    template.ports.sort_unstable();
    template.ports.dedup();
    Ok(template)
}

fn add(total: &mut Resources, more: &Resources) {
    total.cpu = Cores(total.cpu.0 + more.cpu.0);
    total.memory = Bytes(total.memory.0.saturating_add(more.memory.0));
    total.ephemeral_storage = Bytes(total.ephemeral_storage.0.saturating_add(more.ephemeral_storage.0));
}

/// Whether an environment variable's name says it holds a credential: its value is not read.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASSWORD", "PASSWD", "PWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "PRIVATE", "AUTH", "CERT"]
        .iter()
        .any(|word| upper.contains(word))
}

fn service_spec(at: &mut At<'_, '_>, spec: &Node, object: &mut Object) -> Result<K8sServiceSpec> {
    let cluster_ip_text = at.text(spec, "clusterIP")?;
    let service_type = match at.text(spec, "type")?.as_deref() {
        Some("NodePort") => K8sServiceType::NodePort,
        Some("LoadBalancer") => K8sServiceType::LoadBalancer,
        Some("ExternalName") => K8sServiceType::ExternalName,
        _ if cluster_ip_text.as_deref() == Some("None") => K8sServiceType::Headless,
        _ => K8sServiceType::ClusterIp,
    };
    let selector = at.labels(spec, "selector")?;
    if !selector.is_empty() {
        object.selects = Some(selector.clone());
    }
    let mut ports = Vec::new();
    for port in at.list(spec, "ports")? {
        let number = at.port(port, "port")?.ok_or_else(|| at.error(port, "a service port needs a `port` number"))?;
        ports.push(ServicePort {
            name: at.text(port, "name")?,
            port: number,
            target_port: at.port(port, "targetPort")?,
            protocol: protocol(at.text(port, "protocol")?.as_deref()),
        });
    }
    Ok(K8sServiceSpec { service_type, selector, ports, cluster_ip: cluster_ip_text.and_then(|ip| ip.parse().ok()) })
}

fn protocol(text: Option<&str>) -> Protocol {
    match text {
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

fn ingress_spec(at: &mut At<'_, '_>, spec: &Node, metadata: &Node, object: &mut Object) -> Result<IngressSpec> {
    let class = match at.text(spec, "ingressClassName")? {
        Some(class) => Some(class),
        None => match at.map(metadata, "annotations")? {
            Some(annotations) => at.text(annotations, "kubernetes.io/ingress.class")?,
            None => None,
        },
    };
    let mut rules = Vec::new();
    let default_backend = at.map(spec, "defaultBackend")?.or(at.map(spec, "backend")?);
    if let Some(backend) = default_backend {
        let (service, port) = backend_of(at, backend)?;
        object.backends.extend(service.clone());
        rules.push(IngressRule { host: None, path: "/".into(), backend: None, port });
    }
    for rule in at.list(spec, "rules")? {
        let host = at.text(rule, "host")?;
        let Some(http) = at.map(rule, "http")? else { continue };
        for path in at.list(http, "paths")? {
            let backend =
                at.map(path, "backend")?.ok_or_else(|| at.error(path, "an ingress path needs a `backend`"))?;
            let (service, port) = backend_of(at, backend)?;
            object.backends.extend(service);
            rules.push(IngressRule {
                host: host.clone(),
                path: at.text(path, "path")?.unwrap_or_else(|| "/".into()),
                backend: None,
                port,
            });
        }
    }
    Ok(IngressSpec { class, rules, tls: !at.list(spec, "tls")?.is_empty() })
}

/// A backend's service name and port: `service: {name, port: {number}}` (v1) or `serviceName`, `servicePort`.
fn backend_of(at: &mut At<'_, '_>, backend: &Node) -> Result<(Option<String>, Option<u16>)> {
    if let Some(service) = at.map(backend, "service")? {
        let port = match at.map(service, "port")? {
            Some(port) => at.port(port, "number")?,
            None => None,
        };
        return Ok((at.text(service, "name")?, port));
    }
    Ok((at.text(backend, "serviceName")?, at.port(backend, "servicePort")?))
}

fn network_policy_spec(at: &mut At<'_, '_>, spec: &Node, object: &mut Object) -> Result<NetworkPolicySpec> {
    let pod_selector = at.selector(spec, "podSelector")?.unwrap_or_default();
    object.selects = Some(pod_selector.clone());
    let types = at.strings(spec, "policyTypes")?;
    let has_egress = at.get(spec, "egress").is_some();
    let (ingress_isolation, egress_isolation) = if types.is_empty() {
        (true, has_egress)
    } else {
        (types.iter().any(|t| t == "Ingress"), types.iter().any(|t| t == "Egress"))
    };
    let mut rules = [Vec::new(), Vec::new()];
    for (slot, (field, peers_field)) in [("ingress", "from"), ("egress", "to")].into_iter().enumerate() {
        for rule in at.list(spec, field)? {
            let mut peers = Vec::new();
            for peer in at.list(rule, peers_field)? {
                let (mut cidr, mut except) = (None, Vec::new());
                if let Some(block) = at.map(peer, "ipBlock")? {
                    let text = at.text(block, "cidr")?.unwrap_or_default();
                    cidr = Some(text.parse().map_err(|_| {
                        at.error(block, format!("`cidr` should be an address block (10.0.0.0/8), found {text}"))
                    })?);
                    for item in at.strings(block, "except")? {
                        except.push(item.parse().map_err(|_| {
                            at.error(block, format!("`except` should hold address blocks, found {item}"))
                        })?);
                    }
                }
                peers.push(PolicyPeer {
                    pod_selector: at.selector(peer, "podSelector")?,
                    namespace_selector: at.selector(peer, "namespaceSelector")?,
                    cidr,
                    except,
                });
            }
            let mut ports = Vec::new();
            for port in at.list(rule, "ports")? {
                ports.push(PolicyPort {
                    port: at.port(port, "port")?,
                    end_port: at.port(port, "endPort")?,
                    protocol: protocol(at.text(port, "protocol")?.as_deref()),
                });
            }
            rules[slot].push(PolicyRule { peers, ports });
        }
    }
    let [ingress, egress] = rules;
    Ok(NetworkPolicySpec { pod_selector, ingress_isolation, egress_isolation, ingress, egress })
}

fn hpa_spec(at: &mut At<'_, '_>, spec: &Node, object: &mut Object) -> Result<HpaSpec> {
    if let Some(target) = at.map(spec, "scaleTargetRef")? {
        object.scale_target =
            Some((at.text(target, "kind")?.unwrap_or_default(), at.text(target, "name")?.unwrap_or_default()));
    }
    let max_replicas = at.count(spec, "maxReplicas")?.ok_or_else(|| at.error(spec, "expected `spec.maxReplicas`"))?;
    let min_replicas = at.count(spec, "minReplicas")?.unwrap_or(1);
    if max_replicas == 0 || min_replicas > max_replicas {
        return Err(at.error(
            spec,
            format!(
                "minReplicas {min_replicas} and maxReplicas {max_replicas}: expected 1 <= minReplicas <= maxReplicas"
            ),
        ));
    }
    let mut cpu = at.count(spec, "targetCPUUtilizationPercentage")?.map(f64::from);
    let mut memory = None;
    for metric in at.list(spec, "metrics")? {
        let Some(resource) = at.map(metric, "resource")? else { continue };
        let name = at.text(resource, "name")?;
        // autoscaling/v2: target.averageUtilization; v2beta1: targetAverageUtilization.
        let utilisation = match at.map(resource, "target")? {
            Some(target) => at.count(target, "averageUtilization")?,
            None => at.count(resource, "targetAverageUtilization")?,
        };
        match name.as_deref() {
            Some("cpu") => cpu = cpu.or(utilisation.map(f64::from)),
            Some("memory") => memory = memory.or(utilisation.map(f64::from)),
            _ => {}
        }
    }
    Ok(HpaSpec {
        min_replicas,
        max_replicas,
        target_cpu_utilization_pct: cpu.filter(|v| *v > 0.0),
        target_memory_utilization_pct: memory.filter(|v| *v > 0.0),
    })
}
