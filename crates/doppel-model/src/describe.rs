//! One-line summaries of entities for tables.

use crate::{Entity, Spec};

/// What matters most about an entity, in a line.
pub fn summary(entity: &Entity) -> String {
    match &entity.spec {
        Spec::Node(n) => {
            let mut parts = vec![format!("{} cores, {} allocatable", n.allocatable.cpu, n.allocatable.memory)];
            if let Some(t) = &n.instance_type {
                parts.push(t.clone());
            }
            if !n.taints.is_empty() {
                parts.push(format!("{} taint(s)", n.taints.len()));
            }
            if n.unschedulable {
                parts.push("cordoned".into());
            }
            parts.join(", ")
        }
        Spec::Pod(p) => format!(
            "{}, requests {} cores / {}",
            format!("{:?}", p.phase).to_lowercase(),
            p.requests.cpu,
            p.requests.memory
        ),
        Spec::Deployment(d) => {
            format!("{} replicas × {} cores / {}", d.replicas, d.template.requests.cpu, d.template.requests.memory)
        }
        Spec::StatefulSet(s) => {
            let mut text =
                format!("{} replicas × {} cores / {}", s.replicas, s.template.requests.cpu, s.template.requests.memory);
            if let Some(size) = s.volume_size {
                text.push_str(&format!(", {size} volume each"));
            }
            text
        }
        Spec::DaemonSet(d) => {
            format!("one per node × {} cores / {}", d.template.requests.cpu, d.template.requests.memory)
        }
        Spec::Service(s) => {
            let entries = s.endpoints.iter().filter(|e| e.entry).count();
            let mut parts = vec![format!("{} endpoint(s)", s.endpoints.len())];
            if entries > 0 {
                let rate: f64 = s.endpoints.iter().filter(|e| e.entry).filter_map(|e| e.rate_rps).sum();
                parts.push(format!("{entries} entry point(s) at {rate} rps"));
            }
            let slo = s.slo.as_ref().or_else(|| s.endpoints.iter().find_map(|e| e.slo.as_ref()));
            if let Some(slo) = slo {
                let mut objective = String::from("SLO");
                if let Some(a) = slo.availability_pct {
                    objective.push_str(&format!(" {a}%"));
                }
                if let Some(p99) = slo.latency_p99_ms {
                    objective.push_str(&format!(" p99 {p99} ms"));
                }
                parts.push(objective);
            }
            if let Some(team) = &s.team {
                parts.push(format!("team {team}"));
            }
            parts.join(", ")
        }
        Spec::Datastore(d) => {
            let mut text = format!("{} {}", d.engine, format!("{:?}", d.role).to_lowercase());
            if let Some(storage) = d.storage {
                text.push_str(&format!(", {storage}"));
            }
            if d.managed {
                text.push_str(", managed");
            }
            text
        }
        Spec::Queue(q) => q.engine.clone(),
        Spec::External(e) => {
            let mut parts: Vec<String> = e.vendor.iter().cloned().collect();
            if let Some(sla) = e.sla_pct {
                parts.push(format!("SLA {sla}%"));
            }
            parts.join(", ")
        }
        Spec::Network(n) => n.cidr.map(|c| c.to_string()).unwrap_or_default(),
        Spec::Subnet(s) => {
            format!("{}{}", s.cidr.map(|c| c.to_string()).unwrap_or_default(), if s.public { ", public" } else { "" })
        }
        Spec::SecurityGroup(g) => format!("{} ingress, {} egress rule(s)", g.ingress.len(), g.egress.len()),
        Spec::NetworkAcl(a) => format!("{} rule(s)", a.rules.len()),
        Spec::RouteTable(r) => format!("{} route(s)", r.routes.len()),
        Spec::LoadBalancer(lb) => {
            let ports: Vec<String> = lb.listeners.iter().map(|l| format!("{}/{}", l.port, l.protocol)).collect();
            format!("{:?}, {}", lb.scheme, ports.join(" ")).to_lowercase()
        }
        Spec::Gateway(g) => format!("{:?} gateway", g.gateway_type).to_lowercase(),
        Spec::Hpa(h) => {
            let mut text = format!("{} to {} replicas", h.min_replicas, h.max_replicas);
            if let Some(cpu) = h.target_cpu_utilization_pct {
                text.push_str(&format!(" at {cpu}% CPU"));
            }
            text
        }
        Spec::Pdb(p) => match (p.min_available, p.max_unavailable) {
            (Some(min), _) => format!("min available {}", int_or_percent(min)),
            (_, Some(max)) => format!("max unavailable {}", int_or_percent(max)),
            _ => String::new(),
        },
        Spec::K8sService(s) => {
            let ports: Vec<String> = s.ports.iter().map(|p| p.port.to_string()).collect();
            format!("{:?} {}", s.service_type, ports.join(",")).to_lowercase()
        }
        Spec::Policy(p) => format!("{} statement(s)", p.statements.len()),
        Spec::K8sRole(r) => format!("{} rule(s){}", r.rules.len(), if r.cluster_wide { ", cluster-wide" } else { "" }),
        Spec::InstanceType(t) => format!("{} vCPU, {}, {:?}, ${}/h", t.vcpu, t.memory, t.arch, t.usd_per_hour)
            .replace("X86_64", "x86_64")
            .replace("Arm64", "arm64"),
        Spec::StorageClass(s) => format!("${}/GiB-month", s.usd_per_gib_month),
        Spec::TransferPrice(t) => format!("{:?}: ${}/GiB", t.scope, t.usd_per_gib),
        Spec::Host(h) => h.instance_type.clone().unwrap_or_default(),
        Spec::Cluster(c) => {
            [c.distribution.clone(), c.version.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ")
        }
        Spec::Region(r) if r.standby => "standby".into(),
        Spec::User(u) => {
            if u.mfa {
                "MFA on".into()
            } else {
                "no MFA".into()
            }
        }
        _ => String::new(),
    }
}

fn int_or_percent(value: crate::IntOrPercent) -> String {
    match value {
        crate::IntOrPercent::Count(n) => n.to_string(),
        crate::IntOrPercent::Percent(p) => format!("{p}%"),
    }
}

/// Labels as `k=v, k=v`, shortened for tables.
pub fn labels(entity: &Entity) -> String {
    let text = entity.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
    if text.chars().count() > 60 { format!("{}…", text.chars().take(59).collect::<String>()) } else { text }
}
