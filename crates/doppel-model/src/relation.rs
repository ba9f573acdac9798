//! Relations between entities: their types, attributes, allowed endpoints, and what each
//! means for dependency walks.

use crate::key::Key;
use crate::kind::{Family, Kind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether a call waits for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallMode {
    /// The caller waits (RPC, HTTP).
    #[default]
    Sync,
    /// Fire and forget (a queue, an event).
    Async,
}

/// How much the caller needs the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    /// The caller fails without it.
    #[default]
    Hard,
    /// The caller degrades but works (it has a fallback).
    Soft,
}

/// Attributes of a `calls` relation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CallAttrs {
    /// Calls per second at the daily average.
    pub rate_rps: Option<f64>,
    /// Calls made per incoming request (1 when absent).
    pub fan_out: Option<f64>,
    /// Synchronous or asynchronous.
    pub mode: CallMode,
    /// Hard or soft dependency.
    pub criticality: Criticality,
    /// Time the caller waits before giving up.
    pub timeout_ms: Option<f64>,
    /// Retries after a failure or timeout.
    pub retries: u32,
    /// Wait before each retry.
    pub backoff_ms: Option<f64>,
    /// A circuit breaker on the call.
    pub breaker: Option<BreakerAttrs>,
    /// Made side by side with the caller's other parallel calls (its copies too), before
    /// its calls in sequence; the caller waits for the slowest.
    pub parallel: bool,
    /// Time on the wire added to each call (both ways).
    pub latency_ms: Option<f64>,
    /// Endpoint called (a name from the callee's endpoints).
    pub endpoint: Option<String>,
    /// The caller's endpoints that make this call (all of them when empty); `fan_out` still
    /// counts calls per request of the whole caller.
    pub from_endpoints: Vec<String>,
}

/// A consecutive-failure circuit breaker.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerAttrs {
    /// Consecutive failures that open it.
    pub failures: u32,
    /// How long it stays open before letting a call try again.
    pub open_ms: f64,
}

/// Attributes of a `depends_on` relation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DependsAttrs {
    /// Hard or soft dependency.
    pub criticality: Criticality,
    /// What the dependency is (dns, config, license server).
    pub reason: Option<String>,
}

/// Attributes of a `replicates_to` relation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReplicationAttrs {
    /// Synchronous or asynchronous replication.
    pub mode: CallMode,
    /// Typical replication lag.
    pub lag_ms: Option<f64>,
    /// Whether the target is promoted automatically when the source fails.
    pub auto_failover: bool,
}

/// Attributes of a relation type that has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoAttrs {}

/// How a relation type bears on dependency: who fails when the other does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyDirection {
    /// `from` depends on `to` (a pod runs on a node).
    Forward,
    /// `to` depends on `from` (a deployment is made of its pods).
    Reverse,
    /// Neither depends on the other (a policy granted to a role).
    None,
}

macro_rules! relation_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $attrs:ty, $direction:ident; )*) => {
        /// The type of a relation (`calls`, `runs_on`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[repr(u8)]
        pub enum RelKind {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl RelKind {
            /// Every relation type.
            pub const ALL: &'static [RelKind] = &[$(RelKind::$variant),*];

            /// The name used in files and selectors (`runs_on`).
            pub const fn name(self) -> &'static str {
                match self { $(RelKind::$variant => $name),* }
            }

            /// Parses a relation type name.
            pub fn from_name(name: &str) -> Option<RelKind> {
                match name { $($name => Some(RelKind::$variant),)* _ => None }
            }

            /// Who depends on whom along this relation type.
            pub const fn dependency(self) -> DependencyDirection {
                match self { $(RelKind::$variant => DependencyDirection::$direction),* }
            }
        }

        /// The attributes of a relation; the variant is its type.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum RelSpec {
            $( $(#[$doc])* $variant(Box<$attrs>), )*
        }

        impl RelSpec {
            /// The relation type.
            pub fn kind(&self) -> RelKind {
                match self { $(RelSpec::$variant(_) => RelKind::$variant),* }
            }

            /// The default attributes of a relation type.
            pub fn default_for(kind: RelKind) -> RelSpec {
                match kind { $(RelKind::$variant => RelSpec::$variant(Box::default())),* }
            }

            /// Deserialises the attributes of a relation type from their fields (a map).
            pub fn from_fields<'de, D: serde::Deserializer<'de>>(kind: RelKind, fields: D) -> Result<RelSpec, D::Error> {
                Ok(match kind { $(RelKind::$variant => RelSpec::$variant(Box::new(<$attrs>::deserialize(fields)?))),* })
            }

            /// Serialises the attributes (without the type tag) to JSON.
            pub fn to_fields(&self) -> serde_json::Value {
                let value = match self { $(RelSpec::$variant(attrs) => serde_json::to_value(attrs)),* };
                value.unwrap_or(serde_json::Value::Null)
            }

            /// The JSON Schema of a relation type's attributes.
            pub fn schema_for(kind: RelKind, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                match kind { $(RelKind::$variant => generator.subschema_for::<$attrs>()),* }
            }
        }
    };
}

relation_kinds! {
    /// `from` runs on `to`: a pod on a node, a node on a host, a service on a deployment.
    RunsOn = "runs_on", NoAttrs, Forward;
    /// `from` is placed in `to`: a zone in a region, a node in a zone, a subnet in a network.
    LocatedIn = "located_in", NoAttrs, Forward;
    /// `from` is one of the members of `to`: a pod of a deployment, a node of a cluster, a user of a group.
    MemberOf = "member_of", NoAttrs, Reverse;
    /// `from` sends requests to `to`.
    Calls = "calls", CallAttrs, Forward;
    /// `from` needs `to` for a reason other than calls (DNS, configuration, licences).
    DependsOn = "depends_on", DependsAttrs, Forward;
    /// `from` makes `to` reachable: a load balancer or ingress exposing a service.
    Exposes = "exposes", NoAttrs, Forward;
    /// `from` forwards traffic to `to`.
    RoutesTo = "routes_to", NoAttrs, Forward;
    /// `from` is attached to `to`: a security group to a host, a policy to a role, an HPA to a deployment.
    AttachedTo = "attached_to", NoAttrs, None;
    /// `from` gives its permissions to `to`: a policy or role binding to a principal.
    Grants = "grants", NoAttrs, None;
    /// `from` may assume the role `to`.
    CanAssume = "can_assume", NoAttrs, None;
    /// `from` copies its data to `to`, which can take over.
    ReplicatesTo = "replicates_to", ReplicationAttrs, None;
    /// `from` provides `to`: a deployment backing a service, a Kubernetes Service backing a service.
    Backs = "backs", NoAttrs, Reverse;
}

impl fmt::Display for RelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

use Kind as K;

const WORKLOADS: &[Kind] = &[K::Deployment, K::StatefulSet, K::DaemonSet];
const APP_TARGETS: &[Kind] = &[K::Service, K::Datastore, K::Queue, K::External];
const PRINCIPALS: &[Kind] = &[K::User, K::Group, K::Role, K::ServiceAccount];

/// One allowed pairing of endpoint kinds for a relation type.
struct Endpoints {
    from: Side,
    to: Side,
}

/// One side of an allowed pairing.
enum Side {
    Kinds(&'static [Kind]),
    AnyExcept(&'static [Family]),
}

impl Side {
    fn allows(&self, kind: Kind) -> bool {
        match self {
            Side::Kinds(kinds) => kinds.contains(&kind),
            Side::AnyExcept(families) => !families.contains(&kind.family()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Side::Kinds(kinds) => kinds.iter().map(|k| k.prefix()).collect::<Vec<_>>().join(", "),
            Side::AnyExcept([]) => "any kind".to_string(),
            Side::AnyExcept(_) => "any kind but prices".to_string(),
        }
    }
}

const NOT_PRICES: Side = Side::AnyExcept(&[Family::Price]);

fn allowed(kind: RelKind) -> &'static [Endpoints] {
    use Side::Kinds;
    match kind {
        RelKind::RunsOn => &[
            Endpoints { from: Kinds(&[K::Pod]), to: Kinds(&[K::Node]) },
            Endpoints { from: Kinds(&[K::Node, K::Host]), to: Kinds(&[K::Host]) },
            Endpoints {
                from: Kinds(&[K::Service, K::Datastore, K::Queue]),
                to: Kinds(&[K::Deployment, K::StatefulSet, K::DaemonSet, K::Host, K::Cluster]),
            },
        ],
        RelKind::LocatedIn => &[Endpoints {
            from: NOT_PRICES,
            to: Kinds(&[K::Provider, K::Account, K::Region, K::Zone, K::Cluster, K::Namespace, K::Network, K::Subnet]),
        }],
        RelKind::MemberOf => &[
            Endpoints { from: Kinds(&[K::Pod]), to: Kinds(WORKLOADS) },
            Endpoints { from: Kinds(&[K::Pod]), to: Kinds(&[K::ReplicaSet]) },
            Endpoints { from: Kinds(&[K::ReplicaSet]), to: Kinds(&[K::Deployment]) },
            Endpoints { from: Kinds(&[K::EndpointSlice]), to: Kinds(&[K::K8sService]) },
            Endpoints {
                from: Kinds(&[K::Node, K::Host]),
                to: Kinds(&[K::Cluster, K::LoadBalancer, K::NodeGroup, K::AutoscalingGroup]),
            },
            Endpoints { from: Kinds(&[K::NodeGroup]), to: Kinds(&[K::Cluster]) },
            Endpoints { from: Kinds(&[K::User, K::Role, K::ServiceAccount]), to: Kinds(&[K::Group]) },
            Endpoints { from: Kinds(&[K::Datastore]), to: Kinds(&[K::Datastore]) },
        ],
        RelKind::Calls => &[Endpoints { from: Kinds(&[K::Service, K::External, K::Queue]), to: Kinds(APP_TARGETS) }],
        RelKind::DependsOn => &[Endpoints { from: NOT_PRICES, to: NOT_PRICES }],
        RelKind::Exposes => &[Endpoints {
            from: Kinds(&[K::LoadBalancer, K::Ingress, K::Gateway, K::K8sService]),
            to: Kinds(&[K::Service, K::K8sService, K::LoadBalancer, K::Ingress, K::Datastore, K::Queue]),
        }],
        RelKind::RoutesTo => &[Endpoints {
            from: Kinds(&[K::LoadBalancer, K::Ingress, K::K8sService, K::RouteTable, K::Gateway, K::TargetGroup]),
            to: Kinds(&[
                K::K8sService,
                K::Service,
                K::Pod,
                K::Host,
                K::Node,
                K::Gateway,
                K::LoadBalancer,
                K::Deployment,
                K::StatefulSet,
                K::DaemonSet,
                K::ReplicaSet,
                K::Network,
                K::TargetGroup,
                K::AutoscalingGroup,
            ]),
        }],
        RelKind::AttachedTo => &[Endpoints {
            from: Kinds(&[
                K::Policy,
                K::SecurityGroup,
                K::NetworkAcl,
                K::RouteTable,
                K::Hpa,
                K::Pdb,
                K::Gateway,
                K::ServiceAccount,
                K::NetworkPolicy,
                K::LoadBalancer,
            ]),
            to: NOT_PRICES,
        }],
        RelKind::Grants => {
            &[Endpoints { from: Kinds(&[K::Policy, K::Role, K::K8sRole, K::K8sRoleBinding]), to: Kinds(PRINCIPALS) }]
        }
        RelKind::CanAssume => &[Endpoints {
            from: Kinds(&[
                K::User,
                K::Group,
                K::Role,
                K::ServiceAccount,
                K::Service,
                K::Pod,
                K::Host,
                K::LaunchTemplate,
                K::Cluster,
                K::NodeGroup,
            ]),
            to: Kinds(&[K::Role]),
        }],
        RelKind::ReplicatesTo => {
            &[Endpoints { from: Kinds(&[K::Datastore, K::Queue]), to: Kinds(&[K::Datastore, K::Queue]) }]
        }
        RelKind::Backs => &[
            Endpoints {
                from: Kinds(&[K::Deployment, K::StatefulSet, K::DaemonSet, K::Pod, K::Host]),
                to: Kinds(&[K::Service, K::K8sService, K::Datastore, K::Queue, K::LoadBalancer]),
            },
            Endpoints { from: Kinds(&[K::K8sService]), to: Kinds(&[K::Service, K::Datastore, K::Queue]) },
            Endpoints { from: Kinds(&[K::External]), to: Kinds(&[K::Service]) },
        ],
    }
}

impl RelKind {
    /// Whether a relation of this type may go from a `from` entity to a `to` entity.
    pub fn allows(self, from: Kind, to: Kind) -> bool {
        allowed(self).iter().any(|e| e.from.allows(from) && e.to.allows(to))
    }

    /// Whether an entity of kind `from` may be the source of a relation of this type.
    pub fn allows_from(self, from: Kind) -> bool {
        allowed(self).iter().any(|e| e.from.allows(from))
    }

    /// A sentence saying which endpoints this type accepts, for error messages.
    pub fn describe_endpoints(self) -> String {
        allowed(self)
            .iter()
            .map(|e| format!("{} -> {}", e.from.describe(), e.to.describe()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The identity of a relation: at most one relation of a type joins two entities.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RelKey {
    /// Source entity.
    pub from: Key,
    /// Relation type.
    pub kind: RelKind,
    /// Target entity.
    pub to: Key,
}

impl fmt::Display for RelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -[{}]-> {}", self.from, self.kind, self.to)
    }
}

/// A relation with its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    /// Source entity.
    pub from: Key,
    /// Target entity.
    pub to: Key,
    /// Type and attributes.
    pub spec: RelSpec,
}

impl Relation {
    /// A relation with default attributes.
    pub fn new(from: Key, kind: RelKind, to: Key) -> Relation {
        Relation { from, to, spec: RelSpec::default_for(kind) }
    }

    /// The relation type.
    pub fn kind(&self) -> RelKind {
        self.spec.kind()
    }

    /// The identity of the relation.
    pub fn key(&self) -> RelKey {
        RelKey { from: self.from.clone(), kind: self.kind(), to: self.to.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert!(RelKind::RunsOn.allows(Kind::Pod, Kind::Node));
        assert!(!RelKind::RunsOn.allows(Kind::Node, Kind::Pod));
        assert!(RelKind::Calls.allows(Kind::Service, Kind::Datastore));
        assert!(!RelKind::Calls.allows(Kind::Zone, Kind::Service));
        assert!(RelKind::LocatedIn.allows(Kind::Node, Kind::Zone));
        assert!(!RelKind::LocatedIn.allows(Kind::InstanceType, Kind::Zone));
        assert!(RelKind::RunsOn.describe_endpoints().contains("pod -> node"));
    }

    #[test]
    fn names_round_trip() {
        for kind in RelKind::ALL {
            assert_eq!(RelKind::from_name(kind.name()), Some(*kind));
        }
    }
}
