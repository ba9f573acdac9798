//! What an entity is, kind by kind: the typed attributes of each entity kind.
//!
//! References to other entities are relations, not fields, except where a field names
//! a peer inside a rule (a security group rule's source group); those are checked too.

use crate::key::Key;
use crate::kind::Kind;
use crate::units::Cidr;
use crate::units::{Bytes, Cores, IntOrPercent, Labels};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! spec_struct {
    ($(#[$doc:meta])* $name:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name { $( $(#[$fdoc])* pub $field: $ty, )* }
    };
}

macro_rules! spec_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident ),* $(,)? } default $default:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $( $(#[$vdoc])* $variant, )* }
        impl Default for $name {
            fn default() -> $name { $name::$default }
        }
    };
}

/// CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// 64-bit x86.
    #[default]
    X86_64,
    /// 64-bit ARM (Graviton, Ampere).
    Arm64,
}

spec_struct!(
    /// A provider: AWS, GCP, Azure, an on-premises data centre.
    ProviderSpec {
        /// Human-readable name.
        display_name: Option<String>,
    }
);

spec_struct!(
    /// An account, subscription or project.
    AccountSpec {
        /// The provider's own account identifier.
        account_id: Option<String>,
        /// What the account is for (production, staging).
        environment: Option<String>,
    }
);

spec_struct!(
    /// A region.
    RegionSpec {
        /// Human-readable name (US East, N. Virginia).
        display_name: Option<String>,
        /// Whether this region is a standby for failover rather than serving traffic.
        standby: bool,
        /// Time to move traffic to this standby region once its primary is lost.
        failover_s: Option<f64>,
    }
);

spec_struct!(
    /// An availability zone.
    ZoneSpec {
        /// The provider's zone identifier (use1-az1), which differs from the name per account.
        zone_id: Option<String>,
    }
);

/// Compute resources: CPU, memory, storage and pod slots. Zero means "not set".
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    /// CPU in cores.
    pub cpu: Cores,
    /// Memory in bytes.
    pub memory: Bytes,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: Bytes,
    /// Pod slots (nodes only).
    pub pods: u32,
}

impl Resources {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

impl Serialize for Resources {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let human = s.is_human_readable();
        let mut out = s.serialize_struct("Resources", 4)?;
        if !human || self.cpu.0 != 0.0 {
            out.serialize_field("cpu", &self.cpu)?;
        }
        if !human || self.memory.0 != 0 {
            out.serialize_field("memory", &self.memory)?;
        }
        if !human || self.ephemeral_storage.0 != 0 {
            out.serialize_field("ephemeral_storage", &self.ephemeral_storage)?;
        }
        if !human || self.pods != 0 {
            out.serialize_field("pods", &self.pods)?;
        }
        out.end()
    }
}

spec_struct!(
    /// A host or virtual machine.
    HostSpec {
        /// Instance type name (m6i.xlarge); its price is the `instance-type` entity of that name.
        instance_type: Option<String>,
        /// Virtual CPUs.
        vcpu: Option<u32>,
        /// Memory.
        memory: Option<Bytes>,
        /// CPU architecture.
        arch: Arch,
        /// Whether it is a spot or preemptible instance.
        spot: bool,
        /// Private IP address.
        private_ip: Option<std::net::IpAddr>,
        /// Public IP address, if it has one.
        public_ip: Option<std::net::IpAddr>,
        /// Operating system image.
        image: Option<String>,
    }
);

spec_struct!(
    /// A Kubernetes cluster.
    ClusterSpec {
        /// Kubernetes version (1.31).
        version: Option<String>,
        /// Distribution or managed service (eks, gke, aks, k3s).
        distribution: Option<String>,
        /// Whether the control plane is spread over several zones.
        multi_zone_control_plane: bool,
    }
);

spec_enum!(
    /// What a taint does to pods that do not tolerate it.
    TaintEffect { /// New pods are not scheduled.
    NoSchedule, /// The scheduler avoids the node.
    PreferNoSchedule, /// Running pods are evicted too.
    NoExecute } default NoSchedule
);

spec_struct!(
    /// A node taint.
    Taint {
        /// Taint key.
        key: String,
        /// Taint value.
        value: Option<String>,
        /// Effect on pods that do not tolerate it.
        effect: TaintEffect,
    }
);

spec_struct!(
    /// A Kubernetes node.
    NodeSpec {
        /// Resources available to pods.
        allocatable: Resources,
        /// Total resources of the machine.
        capacity: Resources,
        /// Taints.
        taints: Vec<Taint>,
        /// Whether the node is cordoned.
        unschedulable: bool,
        /// Instance type name.
        instance_type: Option<String>,
        /// CPU architecture.
        arch: Arch,
        /// Node group or pool it belongs to.
        node_group: Option<String>,
        /// Whether the node is ready.
        ready: Option<bool>,
    }
);

spec_struct!(
    /// A Kubernetes namespace.
    NamespaceSpec {}
);

spec_enum!(
    /// How a toleration matches a taint.
    TolerationOperator { /// Key and value must match.
    Equal, /// Only the key must match.
    Exists } default Equal
);

spec_struct!(
    /// A pod's toleration of a taint.
    Toleration {
        /// Taint key; empty with `exists` tolerates everything.
        key: Option<String>,
        /// How to match.
        operator: TolerationOperator,
        /// Taint value to match.
        value: Option<String>,
        /// Effect to match; none matches all effects.
        effect: Option<TaintEffect>,
    }
);

spec_struct!(
    /// A pod (anti-)affinity term: pods matching `selector` within `topology_key`.
    AffinityTerm {
        /// Labels of the other pods.
        selector: Labels,
        /// Node label that defines the topology domain (kubernetes.io/hostname, topology.kubernetes.io/zone).
        topology_key: String,
        /// Whether it is required (true) or only preferred.
        required: bool,
    }
);

spec_struct!(
    /// A topology spread constraint.
    TopologySpread {
        /// Largest allowed difference in matching pods between domains.
        max_skew: u32,
        /// Node label that defines the domain.
        topology_key: String,
        /// Whether to refuse scheduling (true) or only prefer (false) when unsatisfiable.
        hard: bool,
        /// Labels of the pods counted.
        selector: Labels,
    }
);

spec_struct!(
    /// Where and how a pod may be scheduled.
    Scheduling {
        /// Node labels the pod requires.
        node_selector: Labels,
        /// Required node affinity, as label key to allowed values.
        node_affinity: std::collections::BTreeMap<String, Vec<String>>,
        /// Tolerations.
        tolerations: Vec<Toleration>,
        /// Pod affinity terms.
        pod_affinity: Vec<AffinityTerm>,
        /// Pod anti-affinity terms.
        pod_anti_affinity: Vec<AffinityTerm>,
        /// Topology spread constraints.
        topology_spread: Vec<TopologySpread>,
        /// Priority class name.
        priority_class: Option<String>,
    }
);

spec_struct!(
    /// The pods a workload creates.
    PodTemplate {
        /// Labels given to the pods.
        labels: Labels,
        /// Requested resources (sum over containers).
        requests: Resources,
        /// Resource limits (sum over containers).
        limits: Resources,
        /// Scheduling constraints.
        scheduling: Scheduling,
        /// Container images.
        images: Vec<String>,
        /// Container ports.
        ports: Vec<u16>,
        /// Time from scheduling to ready (image pull, start, readiness probe).
        startup_s: Option<f64>,
    }
);

spec_struct!(
    /// A Deployment: interchangeable replicas.
    DeploymentSpec {
        /// Desired replicas.
        replicas: u32,
        /// Replicas that were ready when the workload was last observed (a cluster's
        /// `status.readyReplicas`); absent when nothing reported it (a hand-written manifest).
        ready_replicas: Option<u32>,
        /// Label selector of its pods.
        selector: Labels,
        /// Pod template.
        template: PodTemplate,
        /// Largest number of pods above `replicas` during a rollout.
        max_surge: Option<IntOrPercent>,
        /// Largest number of unavailable pods during a rollout.
        max_unavailable: Option<IntOrPercent>,
    }
);

spec_struct!(
    /// A StatefulSet: replicas with stable identity and storage.
    StatefulSetSpec {
        /// Desired replicas.
        replicas: u32,
        /// Replicas that were ready when the workload was last observed (a cluster's
        /// `status.readyReplicas`); absent when nothing reported it (a hand-written manifest).
        ready_replicas: Option<u32>,
        /// Label selector of its pods.
        selector: Labels,
        /// Pod template.
        template: PodTemplate,
        /// Persistent volume size per replica.
        volume_size: Option<Bytes>,
        /// Storage class of the volumes.
        storage_class: Option<String>,
        /// Replicas that must be up for the set to work (2 of 3 for a quorum).
        quorum: Option<u32>,
    }
);

spec_struct!(
    /// A DaemonSet: one pod per matching node.
    DaemonSetSpec {
        /// Label selector of its pods.
        selector: Labels,
        /// Pod template.
        template: PodTemplate,
    }
);

spec_enum!(
    /// The lifecycle phase of a pod.
    PodPhase { /// Accepted but not running.
    Pending, /// Bound to a node and running.
    Running, /// Finished successfully.
    Succeeded, /// Finished with a failure.
    Failed, /// State unknown.
    Unknown } default Running
);

spec_struct!(
    /// A pod. Scheduling constraints and images are those of its workload's template.
    PodSpec {
        /// Lifecycle phase.
        phase: PodPhase,
        /// Requested resources.
        requests: Resources,
        /// Resource limits.
        limits: Resources,
        /// Pod IP.
        ip: Option<std::net::IpAddr>,
        /// Container restarts so far.
        restarts: u32,
    }
);

spec_enum!(
    /// Kubernetes Service type.
    K8sServiceType { /// Cluster-internal virtual IP.
    ClusterIp, /// A port on every node.
    NodePort, /// An external load balancer.
    LoadBalancer, /// No virtual IP; DNS returns pod IPs.
    Headless, /// A DNS alias to an external name.
    ExternalName } default ClusterIp
);

spec_enum!(
    /// Transport protocol.
    Protocol { /// TCP.
    Tcp, /// UDP.
    Udp, /// SCTP.
    Sctp, /// ICMP.
    Icmp, /// Any protocol.
    All } default Tcp
);

spec_struct!(
    /// A port a service listens on.
    ServicePort {
        /// Port name.
        name: Option<String>,
        /// Port the service listens on.
        port: u16,
        /// Port on the pods.
        target_port: Option<u16>,
        /// Protocol.
        protocol: Protocol,
    }
);

spec_struct!(
    /// A Kubernetes Service.
    K8sServiceSpec {
        /// Service type.
        #[serde(rename = "type")]
        service_type: K8sServiceType,
        /// Label selector of the pods behind it.
        selector: Labels,
        /// Ports.
        ports: Vec<ServicePort>,
        /// Cluster IP.
        cluster_ip: Option<std::net::IpAddr>,
    }
);

spec_struct!(
    /// A routing rule of an ingress.
    IngressRule {
        /// Host name matched.
        host: Option<String>,
        /// Path prefix matched.
        path: String,
        /// Backend Kubernetes Service (key).
        backend: Option<Key>,
        /// Backend port.
        port: Option<u16>,
    }
);

spec_struct!(
    /// A Kubernetes Ingress.
    IngressSpec {
        /// Ingress class (nginx, alb).
        class: Option<String>,
        /// Routing rules.
        rules: Vec<IngressRule>,
        /// Whether TLS is terminated.
        tls: bool,
    }
);

spec_struct!(
    /// A PodDisruptionBudget.
    PdbSpec {
        /// Pods that must stay available.
        min_available: Option<IntOrPercent>,
        /// Pods that may be unavailable.
        max_unavailable: Option<IntOrPercent>,
        /// Label selector of the pods covered.
        selector: Labels,
    }
);

spec_struct!(
    /// A HorizontalPodAutoscaler.
    HpaSpec {
        /// Fewest replicas.
        min_replicas: u32,
        /// Most replicas.
        max_replicas: u32,
        /// Target average CPU utilisation, in percent of requests.
        target_cpu_utilization_pct: Option<f64>,
        /// Target average memory utilisation, in percent of requests.
        target_memory_utilization_pct: Option<f64>,
    }
);

spec_struct!(
    /// Peers a network policy rule allows.
    PolicyPeer {
        /// Pods with these labels (in the namespaces selected, or the policy's own).
        pod_selector: Option<Labels>,
        /// Namespaces with these labels.
        namespace_selector: Option<Labels>,
        /// An IP block.
        cidr: Option<Cidr>,
        /// Addresses excluded from the IP block.
        except: Vec<Cidr>,
    }
);

spec_struct!(
    /// A port in a network policy rule.
    PolicyPort {
        /// Port number (none means all ports).
        port: Option<u16>,
        /// End of a port range.
        end_port: Option<u16>,
        /// Protocol.
        protocol: Protocol,
    }
);

spec_struct!(
    /// One rule of a network policy.
    PolicyRule {
        /// Allowed peers (empty means all).
        peers: Vec<PolicyPeer>,
        /// Allowed ports (empty means all).
        ports: Vec<PolicyPort>,
    }
);

spec_struct!(
    /// A Kubernetes NetworkPolicy.
    NetworkPolicySpec {
        /// Pods the policy applies to (empty selects every pod of the namespace).
        pod_selector: Labels,
        /// Whether it restricts ingress.
        ingress_isolation: bool,
        /// Whether it restricts egress.
        egress_isolation: bool,
        /// Allowed ingress.
        ingress: Vec<PolicyRule>,
        /// Allowed egress.
        egress: Vec<PolicyRule>,
    }
);

spec_struct!(
    /// A Kubernetes service account.
    ServiceAccountSpec {
        /// Cloud role it is bound to (IRSA, workload identity).
        cloud_role: Option<Key>,
        /// Whether its token is mounted into pods automatically.
        automount_token: Option<bool>,
    }
);

spec_struct!(
    /// A rule of a Kubernetes role.
    K8sRule {
        /// API groups ("" is the core group).
        api_groups: Vec<String>,
        /// Resources (pods, secrets, *).
        resources: Vec<String>,
        /// Verbs (get, list, create, *).
        verbs: Vec<String>,
    }
);

spec_struct!(
    /// A Kubernetes Role or ClusterRole.
    K8sRoleSpec {
        /// Whether it is a ClusterRole.
        cluster_wide: bool,
        /// Permission rules.
        rules: Vec<K8sRule>,
    }
);

spec_struct!(
    /// A Kubernetes RoleBinding or ClusterRoleBinding.
    K8sRoleBindingSpec {
        /// Whether it is a ClusterRoleBinding.
        cluster_wide: bool,
        /// The role granted.
        role: Option<Key>,
        /// Who receives it.
        subjects: Vec<Key>,
    }
);

spec_struct!(
    /// A service level objective.
    Slo {
        /// Share of requests that must succeed, in percent (99.9).
        availability_pct: Option<f64>,
        /// Median latency target.
        latency_p50_ms: Option<f64>,
        /// 99th-percentile latency target.
        latency_p99_ms: Option<f64>,
    }
);

spec_struct!(
    /// An endpoint of a service (an operation or route).
    Endpoint {
        /// Endpoint name (GET /cart, PlaceOrder).
        name: String,
        /// Whether users reach it directly (an entry point).
        entry: bool,
        /// Mean request rate at the daily average.
        rate_rps: Option<f64>,
        /// Hourly load multipliers over a day, 24 values averaging about 1.
        daily_profile: Vec<f64>,
        /// Daily load multipliers over a week, Monday first, 7 values averaging about 1.
        weekly_profile: Vec<f64>,
        /// Objectives.
        slo: Option<Slo>,
        /// Time one request takes to serve, own work only (calls excluded).
        service_time: Option<ServiceTime>,
    }
);

spec_struct!(
    /// How long a service works on one request.
    ServiceTime {
        /// Mean.
        mean_ms: f64,
        /// Coefficient of variation (standard deviation over mean); 1 for exponential.
        cv: Option<f64>,
        /// Shape: exponential, deterministic, lognormal or gamma (gamma when a cv other than
        /// 0 or 1 is given, else the one the cv implies).
        dist: Option<ServiceTimeDist>,
        /// A measured histogram instead of a shape: bins with upper edges and weights.
        histogram: Vec<HistogramBin>,
    }
);

spec_enum!(
    /// The shape of a service time.
    ServiceTimeDist { /// Memoryless (cv 1).
    Exponential, /// Always the mean (cv 0).
    Deterministic, /// Long right tail.
    Lognormal, /// Gamma.
    Gamma } default Gamma
);

spec_struct!(
    /// One bin of a service-time histogram: from the previous bin's edge (or 0) to `upper_ms`.
    HistogramBin {
        /// Upper edge.
        upper_ms: f64,
        /// Share of requests in the bin (any positive scale).
        weight: f64,
    }
);

spec_struct!(
    /// An application service.
    ServiceSpec {
        /// Owning team.
        team: Option<String>,
        /// Implementation language.
        language: Option<String>,
        /// Endpoints.
        endpoints: Vec<Endpoint>,
        /// Service-wide objective.
        slo: Option<Slo>,
        /// How critical it is to the business (1 is highest).
        tier: Option<u8>,
        /// Requests one replica works on at once (worker threads, event-loop slots).
        concurrency: Option<u32>,
        /// Requests one replica lets wait beyond those it works on; more are refused.
        queue_limit: Option<u32>,
    }
);

spec_enum!(
    /// Role of a datastore instance in its replication group.
    DatastoreRole { /// Accepts writes.
    Primary, /// Read-only copy.
    Replica, /// Not replicated.
    Standalone } default Standalone
);

spec_struct!(
    /// A database, cache or object store.
    DatastoreSpec {
        /// Engine (postgresql, mysql, redis, s3).
        engine: String,
        /// Engine version.
        version: Option<String>,
        /// Replication role.
        role: DatastoreRole,
        /// Provisioned storage.
        storage: Option<Bytes>,
        /// Largest number of client connections.
        max_connections: Option<u32>,
        /// Whether a provider runs it (RDS, ElastiCache).
        managed: bool,
        /// Whether it spans several zones with automatic failover.
        multi_zone: bool,
        /// Time for a replica to be promoted when the primary fails.
        failover_s: Option<f64>,
    }
);

spec_struct!(
    /// A message queue or stream.
    QueueSpec {
        /// Engine (rabbitmq, kafka, sqs, nats).
        engine: String,
        /// Partitions or shards.
        partitions: Option<u32>,
        /// Largest backlog before producers are refused.
        max_depth: Option<u64>,
        /// How long messages are kept.
        retention_s: Option<f64>,
    }
);

spec_struct!(
    /// A dependency outside the estate.
    ExternalSpec {
        /// Who runs it.
        vendor: Option<String>,
        /// Address used to reach it.
        url: Option<String>,
        /// Availability the vendor commits to, in percent.
        sla_pct: Option<f64>,
        /// DNS TTL of its address.
        dns_ttl_s: Option<f64>,
    }
);

spec_struct!(
    /// A VPC or virtual network.
    NetworkSpec {
        /// Address block.
        cidr: Option<Cidr>,
        /// Additional address blocks.
        secondary_cidrs: Vec<Cidr>,
    }
);

spec_struct!(
    /// A subnet.
    SubnetSpec {
        /// Address block; must lie inside its network's.
        cidr: Option<Cidr>,
        /// Whether it routes to an internet gateway.
        public: bool,
    }
);

spec_struct!(
    /// A port or port range; no `from` means all ports.
    PortRange {
        /// First port.
        from: Option<u16>,
        /// Last port (same as `from` when absent).
        to: Option<u16>,
    }
);

spec_struct!(
    /// A rule of a security group.
    SecurityRule {
        /// Protocol.
        protocol: Protocol,
        /// Ports.
        ports: PortRange,
        /// Address blocks allowed.
        cidrs: Vec<Cidr>,
        /// Security groups allowed (by key).
        groups: Vec<Key>,
        /// What the rule is for.
        description: Option<String>,
    }
);

spec_struct!(
    /// A security group.
    SecurityGroupSpec {
        /// Allowed inbound traffic.
        ingress: Vec<SecurityRule>,
        /// Allowed outbound traffic.
        egress: Vec<SecurityRule>,
    }
);

spec_enum!(
    /// Traffic direction.
    Direction { /// Inbound.
    Ingress, /// Outbound.
    Egress } default Ingress
);

spec_enum!(
    /// What a rule does with matching traffic.
    RuleAction { /// Let it through.
    Allow, /// Drop it.
    Deny } default Allow
);

spec_struct!(
    /// A numbered rule of a network ACL.
    AclRule {
        /// Rule number; lower numbers are evaluated first.
        number: u32,
        /// Direction.
        direction: Direction,
        /// Allow or deny.
        action: RuleAction,
        /// Protocol.
        protocol: Protocol,
        /// Ports.
        ports: PortRange,
        /// Address block.
        cidr: Option<Cidr>,
    }
);

spec_struct!(
    /// A stateless network ACL.
    NetworkAclSpec {
        /// Rules.
        rules: Vec<AclRule>,
    }
);

spec_struct!(
    /// A route.
    Route {
        /// Destination block.
        destination: Option<Cidr>,
        /// Where matching traffic goes (a gateway, a peering, `local`).
        target: String,
    }
);

spec_struct!(
    /// A route table.
    RouteTableSpec {
        /// Routes.
        routes: Vec<Route>,
    }
);

spec_enum!(
    /// Who can reach a load balancer.
    LbScheme { /// Reachable from the internet.
    InternetFacing, /// Reachable only inside the network.
    Internal } default Internal
);

spec_struct!(
    /// A listener of a load balancer.
    Listener {
        /// Port.
        port: u16,
        /// Protocol (http, https, tcp).
        protocol: String,
    }
);

spec_struct!(
    /// How a load balancer decides a target is healthy.
    HealthCheck {
        /// Path probed (HTTP checks).
        path: Option<String>,
        /// Seconds between probes.
        interval_s: f64,
        /// Failed probes before a target is taken out.
        unhealthy_threshold: u32,
        /// Good probes before a target is put back.
        healthy_threshold: u32,
    }
);

spec_struct!(
    /// A load balancer.
    LoadBalancerSpec {
        /// Internet-facing or internal.
        scheme: LbScheme,
        /// Layer (application, network, classic).
        #[serde(rename = "type")]
        lb_type: Option<String>,
        /// Listeners.
        listeners: Vec<Listener>,
        /// Health check.
        health_check: Option<HealthCheck>,
        /// DNS TTL of its address.
        dns_ttl_s: Option<f64>,
    }
);

spec_enum!(
    /// Kind of gateway.
    GatewayType { /// Internet gateway.
    Internet, /// NAT gateway.
    Nat, /// VPN or transit gateway.
    Transit } default Internet
);

spec_struct!(
    /// An internet, NAT or transit gateway.
    GatewaySpec {
        /// Kind of gateway.
        #[serde(rename = "type")]
        gateway_type: GatewayType,
        /// Public IP (NAT gateways).
        public_ip: Option<std::net::IpAddr>,
    }
);

spec_struct!(
    /// A human user.
    UserSpec {
        /// E-mail address.
        email: Option<String>,
        /// Whether multi-factor authentication is on.
        mfa: bool,
        /// Whether the user has long-lived access keys.
        access_keys: u32,
    }
);

spec_struct!(
    /// A group of users.
    GroupSpec {}
);

spec_struct!(
    /// A cloud IAM role.
    RoleSpec {
        /// The provider's identifier (an ARN).
        arn: Option<String>,
        /// Longest session when assumed.
        max_session_s: Option<f64>,
    }
);

spec_struct!(
    /// A condition of a policy statement (`StringEquals aws:SourceVpc vpc-1`).
    Condition {
        /// Operator (StringEquals, IpAddress, Bool).
        operator: String,
        /// Context key (aws:SourceVpc).
        key: String,
        /// Values, any of which satisfies the condition.
        values: Vec<String>,
    }
);

spec_struct!(
    /// A policy statement.
    Statement {
        /// Allow or deny.
        effect: RuleAction,
        /// Actions (s3:GetObject, ec2:*).
        actions: Vec<String>,
        /// Resources (ARNs or patterns).
        resources: Vec<String>,
        /// Conditions, all of which must hold.
        conditions: Vec<Condition>,
    }
);

spec_struct!(
    /// A permission policy.
    PolicySpec {
        /// Statements.
        statements: Vec<Statement>,
        /// Whether the provider manages it.
        managed: bool,
    }
);

spec_struct!(
    /// An instance type and its price.
    InstanceTypeSpec {
        /// Virtual CPUs.
        vcpu: u32,
        /// Memory.
        memory: Bytes,
        /// CPU architecture.
        arch: Arch,
        /// On-demand price.
        usd_per_hour: f64,
        /// Typical spot price.
        spot_usd_per_hour: Option<f64>,
        /// Speed relative to a reference core (1.0).
        speed_factor: Option<f64>,
    }
);

spec_struct!(
    /// A storage class and its price.
    StorageClassSpec {
        /// Price per GiB and month.
        usd_per_gib_month: f64,
        /// Provisioned IOPS.
        iops: Option<u32>,
        /// Volume type (gp3, io2).
        volume_type: Option<String>,
    }
);

spec_enum!(
    /// Which traffic a transfer price applies to.
    TransferScope { /// Within a zone.
    IntraZone, /// Between zones of a region.
    InterZone, /// Between regions.
    InterRegion, /// Out to the internet.
    Internet } default InterZone
);

spec_struct!(
    /// A data transfer price.
    TransferPriceSpec {
        /// Which traffic it applies to.
        scope: TransferScope,
        /// Price per GiB.
        usd_per_gib: f64,
    }
);

spec_struct!(
    /// A group of like nodes the cluster autoscaler can grow: what a new node looks like and how many there may be.
    NodeGroupSpec {
        /// Instance type of its nodes.
        instance_type: Option<String>,
        /// Resources a new node offers to pods.
        allocatable: Resources,
        /// Labels a new node carries.
        node_labels: Labels,
        /// Taints a new node carries.
        taints: Vec<Taint>,
        /// Fewest nodes.
        min_size: u32,
        /// Most nodes.
        max_size: u32,
        /// Time from the decision to add a node to the node being ready.
        provisioning_s: Option<f64>,
    }
);

spec_struct!(
    /// A ReplicaSet: replicas of one pod template, usually one revision of a Deployment.
    ReplicaSetSpec {
        /// Desired replicas.
        replicas: u32,
        /// Label selector of its pods.
        selector: Labels,
        /// Pod template.
        template: PodTemplate,
    }
);

spec_struct!(
    /// An EndpointSlice: a share of the addresses behind a Kubernetes Service.
    EndpointSliceSpec {
        /// Address family (IPv4, IPv6, FQDN).
        address_type: Option<String>,
        /// Endpoints listed.
        endpoints: u32,
        /// Endpoints listed as ready.
        ready: u32,
        /// Ports served.
        ports: Vec<u16>,
    }
);

spec_struct!(
    /// A ConfigMap: the names of its keys (values are not kept).
    ConfigMapSpec {
        /// Key names, sorted.
        keys: Vec<String>,
    }
);

spec_struct!(
    /// A Secret: name and type only. Its data is never read or stored.
    SecretSpec {
        /// Secret type (Opaque, kubernetes.io/tls).
        #[serde(rename = "type")]
        secret_type: Option<String>,
    }
);

spec_struct!(
    /// A launch template or configuration: what the instances started from it look like.
    LaunchTemplateSpec {
        /// Instance type name.
        instance_type: Option<String>,
        /// Operating system image.
        image: Option<String>,
    }
);

spec_struct!(
    /// An autoscaling group: like instances kept between a minimum and a maximum.
    AutoscalingGroupSpec {
        /// Fewest instances.
        min_size: u32,
        /// Most instances.
        max_size: u32,
        /// Instances wanted now.
        desired: Option<u32>,
        /// How instance health is judged (EC2, ELB).
        health_check_type: Option<String>,
    }
);

spec_struct!(
    /// A target group: where a load balancer's listeners forward, and how targets are checked.
    TargetGroupSpec {
        /// Port the targets receive traffic on.
        port: Option<u16>,
        /// Protocol (HTTP, HTTPS, TCP).
        protocol: Option<String>,
        /// What the targets are (instance, ip, lambda, alb).
        target_type: Option<String>,
        /// Health check.
        health_check: Option<HealthCheck>,
    }
);

macro_rules! specs {
    ($( $variant:ident($ty:ident) ),* $(,)?) => {
        /// The typed attributes of an entity; the variant matches the kind of its key.
        ///
        /// Serialised externally tagged by variant name, which suits the change log and
        /// snapshots; estate files use the flat `kind:` form of `doppel-estate` instead.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum Spec {
            $( #[doc = concat!("Attributes of a `", stringify!($variant), "`.")] $variant(Box<$ty>), )*
        }

        impl Spec {
            /// The kind this spec belongs to.
            pub fn kind(&self) -> Kind {
                match self { $(Spec::$variant(_) => Kind::$variant),* }
            }

            /// The default (empty) spec of a kind.
            pub fn default_for(kind: Kind) -> Spec {
                match kind { $(Kind::$variant => Spec::$variant(Box::default())),* }
            }

            /// Deserialises the spec of `kind` from its fields (a map), as found in estate files.
            pub fn from_fields<'de, D: serde::Deserializer<'de>>(kind: Kind, fields: D) -> Result<Spec, D::Error> {
                Ok(match kind { $(Kind::$variant => Spec::$variant(Box::new(<$ty>::deserialize(fields)?))),* })
            }

            /// Serialises the fields of the spec (without the kind tag) to JSON.
            pub fn to_fields(&self) -> serde_json::Value {
                let value = match self { $(Spec::$variant(spec) => serde_json::to_value(spec)),* };
                value.unwrap_or(serde_json::Value::Null)
            }

            /// The JSON Schema of the fields of a kind's spec.
            pub fn schema_for(kind: Kind, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                match kind { $(Kind::$variant => generator.subschema_for::<$ty>()),* }
            }
        }
    };
}

specs! {
    Provider(ProviderSpec),
    Account(AccountSpec),
    Region(RegionSpec),
    Zone(ZoneSpec),
    Host(HostSpec),
    Cluster(ClusterSpec),
    Node(NodeSpec),
    Namespace(NamespaceSpec),
    Deployment(DeploymentSpec),
    StatefulSet(StatefulSetSpec),
    DaemonSet(DaemonSetSpec),
    Pod(PodSpec),
    K8sService(K8sServiceSpec),
    Ingress(IngressSpec),
    Pdb(PdbSpec),
    Hpa(HpaSpec),
    NetworkPolicy(NetworkPolicySpec),
    ServiceAccount(ServiceAccountSpec),
    K8sRole(K8sRoleSpec),
    K8sRoleBinding(K8sRoleBindingSpec),
    Service(ServiceSpec),
    Datastore(DatastoreSpec),
    Queue(QueueSpec),
    External(ExternalSpec),
    Network(NetworkSpec),
    Subnet(SubnetSpec),
    SecurityGroup(SecurityGroupSpec),
    NetworkAcl(NetworkAclSpec),
    RouteTable(RouteTableSpec),
    LoadBalancer(LoadBalancerSpec),
    Gateway(GatewaySpec),
    User(UserSpec),
    Group(GroupSpec),
    Role(RoleSpec),
    Policy(PolicySpec),
    InstanceType(InstanceTypeSpec),
    StorageClass(StorageClassSpec),
    TransferPrice(TransferPriceSpec),
    NodeGroup(NodeGroupSpec),
    ReplicaSet(ReplicaSetSpec),
    EndpointSlice(EndpointSliceSpec),
    ConfigMap(ConfigMapSpec),
    Secret(SecretSpec),
    LaunchTemplate(LaunchTemplateSpec),
    AutoscalingGroup(AutoscalingGroupSpec),
    TargetGroup(TargetGroupSpec),
}
