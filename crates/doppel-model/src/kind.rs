//! Entity kinds: what an entity is, the key prefix people type, and its family.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The broad area an entity kind belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Providers, accounts, regions, zones.
    Cloud,
    /// Hosts and virtual machines.
    Compute,
    /// Kubernetes objects.
    Kubernetes,
    /// Application services, datastores, queues, external dependencies.
    Application,
    /// Networks, subnets, firewalls, load balancers, gateways.
    Network,
    /// Users, groups, roles, service accounts, policies.
    Identity,
    /// Prices of instance types, storage and data transfer.
    Price,
}

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident = $prefix:literal, $family:ident; )*) => {
        /// The kind of an entity. Its key prefix is what people type: `service/checkout`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        #[repr(u8)]
        pub enum Kind {
            $( $(#[$doc])* #[serde(rename = $prefix)] $variant, )*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The key prefix of this kind (`service`, `zone`, `k8s-service`).
            pub const fn prefix(self) -> &'static str {
                match self { $(Kind::$variant => $prefix),* }
            }

            /// The family this kind belongs to.
            pub const fn family(self) -> Family {
                match self { $(Kind::$variant => Family::$family),* }
            }

            /// Parses a key prefix (`zone`) into a kind.
            pub fn from_prefix(prefix: &str) -> Option<Kind> {
                match prefix { $($prefix => Some(Kind::$variant),)* _ => None }
            }
        }
    };
}

kinds! {
    /// A cloud or infrastructure provider (`provider/aws`).
    Provider = "provider", Cloud;
    /// An account, subscription or project at a provider.
    Account = "account", Cloud;
    /// A region (`region/us-east-1`).
    Region = "region", Cloud;
    /// An availability zone (`zone/us-east-1a`).
    Zone = "zone", Cloud;
    /// A host or virtual machine.
    Host = "host", Compute;
    /// A Kubernetes cluster.
    Cluster = "cluster", Kubernetes;
    /// A Kubernetes node.
    Node = "node", Kubernetes;
    /// A Kubernetes namespace.
    Namespace = "namespace", Kubernetes;
    /// A Kubernetes Deployment.
    Deployment = "deployment", Kubernetes;
    /// A Kubernetes StatefulSet.
    StatefulSet = "statefulset", Kubernetes;
    /// A Kubernetes DaemonSet.
    DaemonSet = "daemonset", Kubernetes;
    /// A Kubernetes Pod.
    Pod = "pod", Kubernetes;
    /// A Kubernetes Service (the load-balancing object, not an application service).
    K8sService = "k8s-service", Kubernetes;
    /// A Kubernetes Ingress.
    Ingress = "ingress", Kubernetes;
    /// A Kubernetes PodDisruptionBudget.
    Pdb = "pdb", Kubernetes;
    /// A Kubernetes HorizontalPodAutoscaler.
    Hpa = "hpa", Kubernetes;
    /// A Kubernetes NetworkPolicy.
    NetworkPolicy = "network-policy", Kubernetes;
    /// A Kubernetes service account.
    ServiceAccount = "service-account", Kubernetes;
    /// A Kubernetes Role or ClusterRole.
    K8sRole = "k8s-role", Kubernetes;
    /// A Kubernetes RoleBinding or ClusterRoleBinding.
    K8sRoleBinding = "k8s-role-binding", Kubernetes;
    /// An application service with endpoints and SLOs (`service/checkout`).
    Service = "service", Application;
    /// A database, cache or object store.
    Datastore = "datastore", Application;
    /// A message queue or stream.
    Queue = "queue", Application;
    /// A dependency outside the estate (a payment provider, an email API).
    External = "external", Application;
    /// A VPC or virtual network.
    Network = "network", Network;
    /// A subnet with a CIDR block.
    Subnet = "subnet", Network;
    /// A security group with ingress and egress rules.
    SecurityGroup = "security-group", Network;
    /// A stateless network ACL.
    NetworkAcl = "network-acl", Network;
    /// A route table.
    RouteTable = "route-table", Network;
    /// A load balancer.
    LoadBalancer = "load-balancer", Network;
    /// An internet or NAT gateway.
    Gateway = "gateway", Network;
    /// A human user.
    User = "user", Identity;
    /// A group of users.
    Group = "group", Identity;
    /// A cloud IAM role.
    Role = "role", Identity;
    /// A permission policy made of statements.
    Policy = "policy", Identity;
    /// An instance type with its price.
    InstanceType = "instance-type", Price;
    /// A storage class with its price.
    StorageClass = "storage-class", Price;
    /// A data transfer price.
    TransferPrice = "transfer-price", Price;
    /// A group of like nodes the cluster autoscaler grows and shrinks (an EKS node group, a GKE node pool).
    NodeGroup = "node-group", Kubernetes;
    /// A Kubernetes ReplicaSet (usually owned by a Deployment).
    ReplicaSet = "replicaset", Kubernetes;
    /// A Kubernetes EndpointSlice: the addresses behind a Kubernetes Service.
    EndpointSlice = "endpoint-slice", Kubernetes;
    /// A Kubernetes ConfigMap (its key names, never its values).
    ConfigMap = "configmap", Kubernetes;
    /// A Kubernetes Secret: its name and type only; its data is never read or stored.
    Secret = "secret", Kubernetes;
    /// What a new instance looks like: a launch template or configuration.
    LaunchTemplate = "launch-template", Compute;
    /// A group of like instances kept between a minimum and a maximum size.
    AutoscalingGroup = "autoscaling-group", Compute;
    /// A load balancer's target group: the hosts or groups a listener forwards to.
    TargetGroup = "target-group", Network;
}

impl Kind {
    /// Whether entities of this kind can contain others (`zone=us-east-1a` in a selector).
    pub const fn is_location(self) -> bool {
        matches!(
            self,
            Kind::Provider
                | Kind::Account
                | Kind::Region
                | Kind::Zone
                | Kind::Cluster
                | Kind::Namespace
                | Kind::Network
                | Kind::Subnet
                | Kind::Node
                | Kind::Host
        )
    }

    /// Whether this kind is a Kubernetes workload (deployment, statefulset, daemonset).
    pub const fn is_workload(self) -> bool {
        matches!(self, Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}
