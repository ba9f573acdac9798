//! An entity: a key, labels and the typed attributes of its kind, with the checks that
//! need nothing but the entity itself.

use crate::key::Key;
use crate::relation::{RelSpec, Relation};
use crate::spec::*;
use crate::units::{IntOrPercent, Labels};
use serde::{Deserialize, Serialize};

/// A thing in the estate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Identity (`service/checkout`).
    pub key: Key,
    /// Labels.
    pub labels: Labels,
    /// Attributes; its variant always matches `key.kind()`.
    pub spec: Spec,
}

/// Something wrong with one field of an entity or relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// Dotted path of the field (`template.requests.cpu`), empty for the whole value.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl FieldProblem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> FieldProblem {
        FieldProblem { field: field.into(), message: message.into() }
    }
}

impl Entity {
    /// An entity with empty labels and the default spec of its kind.
    pub fn new(key: Key) -> Entity {
        let spec = Spec::default_for(key.kind());
        Entity { key, labels: Labels::default(), spec }
    }

    /// An entity with the given spec; the spec's kind must match the key's.
    pub fn with_spec(key: Key, spec: Spec) -> Entity {
        Entity { key, labels: Labels::default(), spec }
    }

    /// Sets the labels.
    pub fn labelled(mut self, labels: Labels) -> Entity {
        self.labels = labels;
        self
    }

    /// Every problem found in the entity alone (values that cannot be, inconsistent fields).
    pub fn check(&self) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        if self.spec.kind() != self.key.kind() {
            problems.push(FieldProblem::new(
                "kind",
                format!("attributes are those of a {}, but the key says {}", self.spec.kind(), self.key.kind()),
            ));
            return problems;
        }
        check_numbers(&self.spec, &mut problems);
        match &self.spec {
            Spec::Deployment(d) => check_template(&d.template, &mut problems),
            Spec::ReplicaSet(r) => check_template(&r.template, &mut problems),
            Spec::StatefulSet(s) => {
                check_template(&s.template, &mut problems);
                if let Some(quorum) = s.quorum
                    && quorum > s.replicas
                {
                    problems.push(FieldProblem::new(
                        "quorum",
                        format!("a quorum of {quorum} cannot be met by {} replicas", s.replicas),
                    ));
                }
            }
            Spec::DaemonSet(d) => check_template(&d.template, &mut problems),
            Spec::Pod(p) => check_limits("", &p.requests, &p.limits, &mut problems),
            Spec::Hpa(h) => {
                if h.max_replicas == 0 {
                    problems.push(FieldProblem::new("max_replicas", "must be at least 1"));
                }
                if h.min_replicas > h.max_replicas {
                    problems.push(FieldProblem::new(
                        "min_replicas",
                        format!("{} is more than max_replicas {}", h.min_replicas, h.max_replicas),
                    ));
                }
                for (field, value) in [
                    ("target_cpu_utilization_pct", h.target_cpu_utilization_pct),
                    ("target_memory_utilization_pct", h.target_memory_utilization_pct),
                ] {
                    if value.is_some_and(|v| v <= 0.0) {
                        problems.push(FieldProblem::new(field, "must be above 0"));
                    }
                }
            }
            Spec::Pdb(p) => {
                if p.min_available.is_some() && p.max_unavailable.is_some() {
                    problems
                        .push(FieldProblem::new("max_unavailable", "set min_available or max_unavailable, not both"));
                }
                for (field, value) in [("min_available", p.min_available), ("max_unavailable", p.max_unavailable)] {
                    check_percent(field, value, &mut problems);
                }
            }
            Spec::Service(s) => {
                if let Some(slo) = &s.slo {
                    check_slo("slo", slo, &mut problems);
                }
                for (i, endpoint) in s.endpoints.iter().enumerate() {
                    let at = format!("endpoints.{i}");
                    if endpoint.name.is_empty() {
                        problems.push(FieldProblem::new(format!("{at}.name"), "an endpoint needs a name"));
                    }
                    if !endpoint.daily_profile.is_empty() && endpoint.daily_profile.len() != 24 {
                        problems.push(FieldProblem::new(
                            format!("{at}.daily_profile"),
                            format!("expected 24 hourly factors, found {}", endpoint.daily_profile.len()),
                        ));
                    }
                    if !endpoint.weekly_profile.is_empty() && endpoint.weekly_profile.len() != 7 {
                        problems.push(FieldProblem::new(
                            format!("{at}.weekly_profile"),
                            format!("expected 7 daily factors (Monday first), found {}", endpoint.weekly_profile.len()),
                        ));
                    }
                    if let Some(time) = &endpoint.service_time {
                        let mut previous = 0.0;
                        for (b, bin) in time.histogram.iter().enumerate() {
                            if bin.upper_ms <= previous || !bin.upper_ms.is_finite() {
                                problems.push(FieldProblem::new(
                                    format!("{at}.service_time.histogram.{b}.upper_ms"),
                                    format!("bin edges must increase from 0: {} follows {previous}", bin.upper_ms),
                                ));
                            }
                            previous = bin.upper_ms;
                        }
                        if !time.histogram.is_empty() && time.histogram.iter().map(|b| b.weight).sum::<f64>() <= 0.0 {
                            problems.push(FieldProblem::new(
                                format!("{at}.service_time.histogram"),
                                "some bin needs a weight above 0",
                            ));
                        }
                    }
                    if let Some(slo) = &endpoint.slo {
                        check_slo(&format!("{at}.slo"), slo, &mut problems);
                    }
                    if let Some(time) = &endpoint.service_time
                        && (time.mean_ms == 0.0 || time.mean_ms.is_nan())
                    {
                        problems.push(FieldProblem::new(
                            format!("{at}.service_time.mean_ms"),
                            "a request takes some time: use a value above 0",
                        ));
                    }
                }
                if s.concurrency == Some(0) {
                    problems.push(FieldProblem::new("concurrency", "a replica works on at least 1 request at once"));
                }
            }
            Spec::NodeGroup(g) if g.min_size > g.max_size => {
                problems.push(FieldProblem::new(
                    "min_size",
                    format!("{} is more than max_size {}", g.min_size, g.max_size),
                ));
            }
            Spec::Datastore(d) if d.engine.is_empty() => {
                problems.push(FieldProblem::new("engine", "name the engine (postgresql, mysql, redis, ...)"));
            }
            Spec::Queue(q) if q.engine.is_empty() => {
                problems.push(FieldProblem::new("engine", "name the engine (rabbitmq, kafka, sqs, ...)"));
            }
            Spec::External(e) if e.sla_pct.is_some_and(|p| p > 100.0) => {
                problems.push(FieldProblem::new("sla_pct", "a percentage cannot exceed 100"));
            }
            Spec::Subnet(s) if s.cidr.is_none() => {
                problems.push(FieldProblem::new("cidr", "a subnet needs its address block (cidr: 10.0.1.0/24)"));
            }
            Spec::SecurityGroup(g) => {
                for (direction, rules) in [("ingress", &g.ingress), ("egress", &g.egress)] {
                    for (i, rule) in rules.iter().enumerate() {
                        check_ports(&format!("{direction}.{i}.ports"), &rule.ports, &mut problems);
                    }
                }
            }
            Spec::NetworkAcl(a) => {
                for (i, rule) in a.rules.iter().enumerate() {
                    check_ports(&format!("rules.{i}.ports"), &rule.ports, &mut problems);
                }
            }
            Spec::InstanceType(t) => {
                if t.vcpu == 0 {
                    problems.push(FieldProblem::new("vcpu", "an instance type has at least 1 vCPU"));
                }
                if t.memory.0 == 0 {
                    problems.push(FieldProblem::new("memory", "an instance type has memory (memory: 16Gi)"));
                }
            }
            Spec::Node(n) => {
                if n.capacity.cpu.0 > 0.0 && n.allocatable.cpu.0 > n.capacity.cpu.0 {
                    problems.push(FieldProblem::new("allocatable.cpu", "allocatable CPU exceeds capacity"));
                }
                if n.capacity.memory.0 > 0 && n.allocatable.memory.0 > n.capacity.memory.0 {
                    problems.push(FieldProblem::new("allocatable.memory", "allocatable memory exceeds capacity"));
                }
            }
            _ => {}
        }
        problems
    }

    /// Keys this entity names inside its attributes (rule peers, bindings), which must exist.
    pub fn references(&self) -> Vec<(String, &Key)> {
        let mut refs = Vec::new();
        match &self.spec {
            Spec::Ingress(i) => {
                for (n, rule) in i.rules.iter().enumerate() {
                    if let Some(backend) = &rule.backend {
                        refs.push((format!("rules.{n}.backend"), backend));
                    }
                }
            }
            Spec::SecurityGroup(g) => {
                for (direction, rules) in [("ingress", &g.ingress), ("egress", &g.egress)] {
                    for (n, rule) in rules.iter().enumerate() {
                        for (m, group) in rule.groups.iter().enumerate() {
                            refs.push((format!("{direction}.{n}.groups.{m}"), group));
                        }
                    }
                }
            }
            Spec::ServiceAccount(s) => {
                if let Some(role) = &s.cloud_role {
                    refs.push(("cloud_role".to_string(), role));
                }
            }
            Spec::K8sRoleBinding(b) => {
                if let Some(role) = &b.role {
                    refs.push(("role".to_string(), role));
                }
                for (n, subject) in b.subjects.iter().enumerate() {
                    refs.push((format!("subjects.{n}"), subject));
                }
            }
            _ => {}
        }
        refs
    }
}

/// Every problem found in the relation's own attributes.
pub fn check_relation(relation: &Relation) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    check_numbers(&relation.spec, &mut problems);
    if let RelSpec::Calls(call) = &relation.spec {
        if call.fan_out.is_some_and(|f| f <= 0.0) {
            problems
                .push(FieldProblem::new("fan_out", "a call is made at least some of the time: use a value above 0"));
        }
        if call.timeout_ms.is_some_and(|t| t <= 0.0) {
            problems.push(FieldProblem::new("timeout_ms", "a timeout must be above 0 ms"));
        }
        if let Some(b) = &call.breaker {
            if b.failures == 0 {
                problems.push(FieldProblem::new("breaker.failures", "a breaker opens after at least 1 failure"));
            }
            if b.open_ms <= 0.0 || b.open_ms.is_nan() {
                problems.push(FieldProblem::new(
                    "breaker.open_ms",
                    "a breaker stays open for some time: use a value above 0",
                ));
            }
        }
    }
    if relation.from == relation.to {
        problems.push(FieldProblem::new("to", "a relation cannot join an entity to itself"));
    }
    problems
}

/// Every quantity in the model is zero or more; reports the fields that are negative.
fn check_numbers(value: &impl Serialize, problems: &mut Vec<FieldProblem>) {
    for (field, number) in crate::numbers::negative_fields(value) {
        problems.push(FieldProblem::new(field, format!("{number} is negative: expected 0 or more")));
    }
}

fn check_template(template: &PodTemplate, problems: &mut Vec<FieldProblem>) {
    check_limits("template.", &template.requests, &template.limits, problems);
}

fn check_limits(prefix: &str, requests: &Resources, limits: &Resources, problems: &mut Vec<FieldProblem>) {
    if limits.cpu.0 > 0.0 && requests.cpu.0 > limits.cpu.0 {
        problems.push(FieldProblem::new(
            format!("{prefix}requests.cpu"),
            format!("requests {} cores, more than its limit of {}", requests.cpu, limits.cpu),
        ));
    }
    if limits.memory.0 > 0 && requests.memory.0 > limits.memory.0 {
        problems.push(FieldProblem::new(
            format!("{prefix}requests.memory"),
            format!("requests {}, more than its limit of {}", requests.memory, limits.memory),
        ));
    }
}

fn check_percent(field: &str, value: Option<IntOrPercent>, problems: &mut Vec<FieldProblem>) {
    if let Some(IntOrPercent::Percent(p)) = value
        && !(0.0..=100.0).contains(&p)
    {
        problems.push(FieldProblem::new(field, format!("{p}% is not a percentage from 0 to 100")));
    }
}

fn check_slo(at: &str, slo: &Slo, problems: &mut Vec<FieldProblem>) {
    if let Some(a) = slo.availability_pct
        && !(a > 0.0 && a <= 100.0)
    {
        problems.push(FieldProblem::new(
            format!("{at}.availability_pct"),
            format!("{a} is not a percentage above 0 and at most 100"),
        ));
    }
    for (field, value) in [("latency_p50_ms", slo.latency_p50_ms), ("latency_p99_ms", slo.latency_p99_ms)] {
        if value.is_some_and(|v| v <= 0.0) {
            problems.push(FieldProblem::new(format!("{at}.{field}"), "a latency objective must be above 0 ms"));
        }
    }
    if let (Some(p50), Some(p99)) = (slo.latency_p50_ms, slo.latency_p99_ms)
        && p50 > p99
    {
        problems.push(FieldProblem::new(format!("{at}.latency_p50_ms"), format!("p50 {p50} ms is above p99 {p99} ms")));
    }
}

fn check_ports(at: &str, ports: &PortRange, problems: &mut Vec<FieldProblem>) {
    if let (Some(from), Some(to)) = (ports.from, ports.to)
        && from > to
    {
        problems.push(FieldProblem::new(format!("{at}.to"), format!("port range {from}-{to} ends before it starts")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DeploymentSpec, Endpoint, ServiceSpec};

    #[test]
    fn negative_quantities_are_reported_by_field() {
        let mut deployment = DeploymentSpec::default();
        deployment.template.limits.cpu = crate::Cores(-1.0);
        let entity = Entity::with_spec("deployment/shop/a".parse().unwrap(), Spec::Deployment(Box::new(deployment)));
        let problems = entity.check();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "template.limits.cpu");
        let service = ServiceSpec {
            endpoints: vec![Endpoint { name: "x".into(), rate_rps: Some(-3.0), ..Default::default() }],
            ..Default::default()
        };
        let entity = Entity::with_spec("service/a".parse().unwrap(), Spec::Service(Box::new(service)));
        assert_eq!(entity.check()[0].field, "endpoints.0.rate_rps");
    }
}
