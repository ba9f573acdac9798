//! Entities' limits and the series that approach them.

use doppel_model::spec::Spec;
use doppel_model::{Key, TwinView};
use serde::Serialize;

/// Names of the usage series a limit bounds.
pub mod series {
    /// Bytes of storage in use (a datastore's disk).
    pub const DISK_USED: &str = "disk_used_bytes";
    /// Client connections open.
    pub const CONNECTIONS: &str = "connections";
    /// Memory in use: per pod on a workload, or on a node.
    pub const MEMORY_USED: &str = "memory_used_bytes";
    /// CPU in use, cores: per pod on a workload, or on a node.
    pub const CPU_USED: &str = "cpu_used_cores";
    /// Addresses taken in a subnet.
    pub const IPS_USED: &str = "ips_used";
    /// Messages waiting in a queue.
    pub const DEPTH: &str = "queue_depth";
}

/// What a limit bounds, for messages ("disk on orders-db is full").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// A datastore's provisioned storage.
    Disk,
    /// A datastore's largest number of connections.
    Connections,
    /// A container's memory limit (per pod) or a node's allocatable memory.
    Memory,
    /// A container's CPU limit (per pod) or a node's allocatable CPU.
    Cpu,
    /// A subnet's addresses.
    Addresses,
    /// A queue's largest backlog.
    QueueDepth,
}

impl Resource {
    /// How it reads in a sentence.
    pub fn noun(self) -> &'static str {
        match self {
            Resource::Disk => "disk",
            Resource::Connections => "connections",
            Resource::Memory => "memory",
            Resource::Cpu => "CPU",
            Resource::Addresses => "IP addresses",
            Resource::QueueDepth => "queue depth",
        }
    }

    /// What reaching it means.
    pub fn outcome(self) -> &'static str {
        match self {
            Resource::Disk => "full: writes fail",
            Resource::Connections => "out of connections: new clients are refused",
            Resource::Memory => "at its memory limit: pods are OOM-killed",
            Resource::Cpu => "at its CPU limit: requests are throttled",
            Resource::Addresses => "out of addresses: new pods and nodes cannot start",
            Resource::QueueDepth => "full: producers are refused",
        }
    }
}

/// One limit of one entity and the series that measures how close it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    /// The entity.
    pub entity: Key,
    /// The usage series' attribute on it.
    pub attribute: &'static str,
    /// What is limited.
    pub resource: Resource,
    /// The limit, in the series' unit.
    pub value: f64,
}

/// Every limit the twin knows, in key order: datastores' storage and connections,
/// workloads' per-pod memory and CPU limits, nodes' allocatable memory and CPU, subnets'
/// usable addresses (AWS keeps 5 per subnet) and queues' largest backlog. Unset (zero)
/// limits are left out.
pub fn limits(twin: &impl TwinView) -> Vec<Limit> {
    let mut out = Vec::new();
    let mut push = |entity: &Key, attribute, resource, value: f64| {
        if value > 0.0 {
            out.push(Limit { entity: entity.clone(), attribute, resource, value });
        }
    };
    for e in twin.entities() {
        let k = &e.key;
        match &e.spec {
            Spec::Datastore(d) => {
                push(k, series::DISK_USED, Resource::Disk, d.storage.map_or(0.0, |b| b.0 as f64));
                push(k, series::CONNECTIONS, Resource::Connections, d.max_connections.map_or(0.0, f64::from));
            }
            Spec::Deployment(d) => {
                push(k, series::MEMORY_USED, Resource::Memory, d.template.limits.memory.0 as f64);
                push(k, series::CPU_USED, Resource::Cpu, d.template.limits.cpu.0);
            }
            Spec::StatefulSet(d) => {
                push(k, series::MEMORY_USED, Resource::Memory, d.template.limits.memory.0 as f64);
                push(k, series::CPU_USED, Resource::Cpu, d.template.limits.cpu.0);
            }
            Spec::Node(n) => {
                push(k, series::MEMORY_USED, Resource::Memory, n.allocatable.memory.0 as f64);
                push(k, series::CPU_USED, Resource::Cpu, n.allocatable.cpu.0);
            }
            Spec::Subnet(s) => {
                let usable = s.cidr.as_ref().map_or(0.0, |c| {
                    let bits = u32::from(c.0.max_prefix_len() - c.0.prefix_len()).min(64);
                    (2f64.powi(bits as i32) - 5.0).max(0.0)
                });
                push(k, series::IPS_USED, Resource::Addresses, usable);
            }
            Spec::Queue(q) => push(k, series::DEPTH, Resource::QueueDepth, q.max_depth.map_or(0.0, |d| d as f64)),
            _ => {}
        }
    }
    out.sort_by(|a, b| a.entity.cmp(&b.entity).then(a.attribute.cmp(b.attribute)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shop_knows_its_disks_memory_and_addresses() {
        let twin = doppel_testkit::shop::shop();
        let all = limits(&twin);
        let find = |key: &str, attribute: &str| {
            all.iter().find(|l| l.entity.to_string() == key && l.attribute == attribute).map(|l| l.value)
        };
        assert_eq!(find("datastore/orders-db", series::DISK_USED), Some(500.0 * 1024f64.powi(3)));
        assert_eq!(find("datastore/orders-db", series::CONNECTIONS), Some(1000.0));
        assert_eq!(find("deployment/shop/frontend", series::MEMORY_USED), Some(1024f64.powi(3)));
        assert_eq!(find("deployment/shop/frontend", series::CPU_USED), Some(1.5));
        assert!(all.iter().any(|l| l.resource == Resource::Addresses && l.value > 0.0));
        assert!(all.iter().any(|l| l.entity.kind() == doppel_model::Kind::Node && l.resource == Resource::Memory));
        assert!(all.iter().all(|l| l.value > 0.0));
    }
}
