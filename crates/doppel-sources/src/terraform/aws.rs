//! AWS resources onto the model: each mapped resource becomes one entity, with references
//! (ids, ARNs, names) resolved into relations once every resource is known. Rule, listener,
//! route and attachment resources are folded into the entity they belong to.

use super::document::{Resource, describe};
use crate::{Error, Place, Result, Warning, WarningKind};
use doppel_model::spec::*;
use doppel_model::units::Cidr;
use doppel_model::{Bytes, Entity, Key, Kind, RelKind, Relation, Spec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the mapping needs to know about where it is.
pub(crate) struct Ctx<'a> {
    /// The source instance.
    pub source_name: &'a str,
    /// The file read.
    pub file: &'a str,
}

/// A resource's attributes, with the path to them for messages.
#[derive(Clone)]
struct Obj<'a> {
    value: &'a Value,
    path: String,
    address: &'a str,
    ctx: &'a Ctx<'a>,
}

impl<'a> Obj<'a> {
    fn fail(&self, field: &str, expected: &str, found: &Value) -> Error {
        Error::Object {
            source_name: self.ctx.source_name.to_string(),
            object: self.address.to_string(),
            place: Place { file: self.ctx.file.to_string(), line: 0, col: 0 },
            message: format!("at `{}.{field}`: expected {expected}, found {}", self.path, describe(found)),
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.value.get(field).filter(|v| !v.is_null())
    }

    fn str(&self, field: &str) -> Result<Option<&'a str>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.fail(field, "a string", other)),
        }
    }

    fn string(&self, field: &str) -> Result<Option<String>> {
        Ok(self.str(field)?.map(str::to_string))
    }

    fn strs(&self, field: &str) -> Result<Vec<String>> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) if !s.is_empty() => out.push(s.clone()),
                        Value::String(_) | Value::Null => {}
                        other => return Err(self.fail(field, "a list of strings", other)),
                    }
                }
                out.sort();
                out.dedup();
                Ok(out)
            }
            Some(other) => Err(self.fail(field, "a list of strings", other)),
        }
    }

    fn number(&self, field: &str) -> Result<Option<f64>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(v @ Value::String(s)) => s.parse().map(Some).map_err(|_| self.fail(field, "a number", v)),
            Some(other) => Err(self.fail(field, "a number", other)),
        }
    }

    fn whole(&self, field: &str, max: u64) -> Result<Option<u64>> {
        match self.number(field)? {
            None => Ok(None),
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= max as f64 => Ok(Some(n as u64)),
            Some(_) => Err(self.fail(field, &format!("a whole number from 0 to {max}"), &self.value[field])),
        }
    }

    fn port(&self, field: &str) -> Result<Option<u16>> {
        Ok(self.whole(field, 65535)?.map(|n| n as u16))
    }

    fn count(&self, field: &str) -> Result<Option<u32>> {
        Ok(self.whole(field, u32::MAX as u64)?.map(|n| n as u32))
    }

    fn bool(&self, field: &str) -> Result<bool> {
        match self.get(field) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            Some(other) => Err(self.fail(field, "true or false", other)),
        }
    }

    fn cidr(&self, field: &str) -> Result<Option<Cidr>> {
        match self.str(field)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| self.fail(field, "an address block such as 10.0.0.0/16", &self.value[field])),
        }
    }

    fn cidrs(&self, field: &str) -> Result<Vec<Cidr>> {
        let mut out = Vec::new();
        for text in self.strs(field)? {
            out.push(text.parse().map_err(|_| {
                self.fail(field, "a list of address blocks such as 10.0.0.0/16", &Value::String(String::new()))
            })?);
        }
        Ok(out)
    }

    fn ip(&self, field: &str) -> Result<Option<std::net::IpAddr>> {
        match self.str(field)? {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| self.fail(field, "an IP address", &self.value[field])),
        }
    }

    /// Nested blocks (`ingress`, `listener`): a list of objects, or one object.
    fn blocks(&self, field: &str) -> Result<Vec<Obj<'a>>> {
        let items: Vec<&'a Value> = match self.get(field) {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
            Some(v @ Value::Object(_)) => vec![v],
            Some(other) => return Err(self.fail(field, "a list of blocks", other)),
        };
        let mut blocks = Vec::new();
        for (n, value) in items.into_iter().enumerate() {
            if !value.is_object() {
                return Err(self.fail(&format!("{field}[{n}]"), "a block (an object)", value));
            }
            blocks.push(Obj {
                value,
                path: format!("{}.{field}[{n}]", self.path),
                address: self.address,
                ctx: self.ctx,
            });
        }
        Ok(blocks)
    }
}

/// Where a reference points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// An id or ARN of another resource.
    Id(String),
    /// A name, in a namespace of names (`role`, `security-group`).
    Name(&'static str, String),
    /// A known key (zones).
    Key(Key),
    /// A policy by ARN: the import's, or one made for it (AWS managed policies).
    Policy(String),
}

/// A relation waiting for its ends to be resolved.
#[derive(Debug, Clone)]
struct Pending {
    /// Source end.
    from: Target,
    /// Relation type.
    kind: RelKind,
    /// Target end.
    to: Target,
    /// What the unresolved end is, for warnings (`subnet`).
    what: &'static str,
    /// The resource it comes from.
    address: String,
    /// Where `to` goes when it cannot be resolved (an instance's zone, for its subnet).
    fallback: Option<Target>,
}

/// Relations of one resource being mapped.
struct Links {
    key: Key,
    address: String,
    list: Vec<Pending>,
}

impl Links {
    /// `key -[kind]-> target`.
    fn out(&mut self, kind: RelKind, to: Target, what: &'static str) {
        let from = Target::Key(self.key.clone());
        self.list.push(Pending { from, kind, to, what, address: self.address.clone(), fallback: None });
    }

    /// `key -[kind]-> to`, or `key -[kind]-> fallback` when `to` is not in the import.
    fn out_or(&mut self, kind: RelKind, to: Target, what: &'static str, fallback: Option<Key>) {
        self.out(kind, to, what);
        if let Some(last) = self.list.last_mut() {
            last.fallback = fallback.map(Target::Key);
        }
    }

    /// `target -[kind]-> key`.
    fn inc(&mut self, kind: RelKind, from: Target, what: &'static str) {
        let to = Target::Key(self.key.clone());
        self.list.push(Pending { from, kind, to, what, address: self.address.clone(), fallback: None });
    }
}

/// Something folded into another entity once all are known.
#[derive(Debug, Clone)]
enum Fold {
    /// A security group rule.
    SgRule { group: Target, ingress: bool, rule: SecurityRule, peers: Vec<Target> },
    /// A listener: its port and protocol on a load balancer, and where it forwards.
    Listener { lb: Target, listener: Listener, forwards: Vec<String> },
    /// A listener rule forwarding to target groups.
    ListenerRule { listener: String, forwards: Vec<String> },
    /// A route in a route table.
    Route { table: Target, route: Route, via: Vec<String> },
    /// A network ACL rule.
    AclRule { acl: Target, rule: AclRule },
}

/// Everything mapped from one or more documents.
#[derive(Default)]
pub(crate) struct Mapper {
    entities: BTreeMap<Key, Entity>,
    origins: BTreeMap<Key, Place>,
    pending: Vec<Pending>,
    folds: Vec<(Fold, String, Place)>,
    ids: HashMap<String, Key>,
    names: HashMap<(&'static str, String), Key>,
    /// Listener ARN to its load balancer reference.
    listeners: HashMap<String, Target>,
    /// Subnet groups (db, cache) by name, to their subnet ids.
    subnet_groups: HashMap<String, Vec<String>>,
    /// Instance profiles by name, to their role name.
    profiles: HashMap<String, String>,
    /// Where each resource was read, by address, for warnings.
    places: HashMap<String, Place>,
    /// References that could not be resolved.
    pub warnings: Vec<Warning>,
}

/// The key of a resource of `kind`: its address, spaces made underscores.
pub(crate) fn key_of(kind: Kind, address: &str) -> Option<Key> {
    let name: String = address.chars().map(|c| if c.is_whitespace() || c.is_control() { '_' } else { c }).collect();
    Key::new(kind, &name).ok()
}

/// The kind a resource type maps onto, or `None` if not mapped (folded types are `None` too).
pub(crate) fn kind_of(rtype: &str) -> Option<Kind> {
    Some(match rtype {
        "aws_vpc" | "aws_default_vpc" => Kind::Network,
        "aws_subnet" | "aws_default_subnet" => Kind::Subnet,
        "aws_route_table" | "aws_default_route_table" => Kind::RouteTable,
        "aws_internet_gateway" | "aws_egress_only_internet_gateway" | "aws_nat_gateway" => Kind::Gateway,
        "aws_security_group" | "aws_default_security_group" => Kind::SecurityGroup,
        "aws_network_acl" | "aws_default_network_acl" => Kind::NetworkAcl,
        "aws_instance" => Kind::Host,
        "aws_launch_template" | "aws_launch_configuration" => Kind::LaunchTemplate,
        "aws_autoscaling_group" => Kind::AutoscalingGroup,
        "aws_lb" | "aws_alb" | "aws_elb" => Kind::LoadBalancer,
        "aws_lb_target_group" | "aws_alb_target_group" => Kind::TargetGroup,
        "aws_db_instance" | "aws_rds_cluster" | "aws_rds_cluster_instance" => Kind::Datastore,
        "aws_elasticache_cluster" | "aws_elasticache_replication_group" | "aws_s3_bucket" => Kind::Datastore,
        "aws_eks_cluster" => Kind::Cluster,
        "aws_eks_node_group" => Kind::NodeGroup,
        "aws_iam_user" => Kind::User,
        "aws_iam_group" => Kind::Group,
        "aws_iam_role" => Kind::Role,
        "aws_iam_policy" | "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => Kind::Policy,
        _ => return None,
    })
}

/// Types that become no entity of their own but are folded into others or used to resolve them.
const FOLDED: &[&str] = &[
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
    "aws_lb_listener",
    "aws_alb_listener",
    "aws_lb_listener_rule",
    "aws_alb_listener_rule",
    "aws_lb_target_group_attachment",
    "aws_alb_target_group_attachment",
    "aws_autoscaling_attachment",
    "aws_route",
    "aws_route_table_association",
    "aws_main_route_table_association",
    "aws_network_acl_rule",
    "aws_network_acl_association",
    "aws_db_subnet_group",
    "aws_elasticache_subnet_group",
    "aws_iam_role_policy_attachment",
    "aws_iam_user_policy_attachment",
    "aws_iam_group_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_user_group_membership",
    "aws_iam_group_membership",
    "aws_iam_instance_profile",
];

/// Whether the mapper understands a resource type (as an entity or folded into one).
pub(crate) fn known(rtype: &str) -> bool {
    kind_of(rtype).is_some() || FOLDED.contains(&rtype)
}

impl Mapper {
    /// Maps one managed resource.
    pub(crate) fn add(&mut self, resource: &Resource, ctx: &Ctx<'_>) -> Result<()> {
        let place = Place { file: ctx.file.to_string(), line: 0, col: 0 };
        let o =
            Obj { value: &resource.values, path: format!("{}.values", resource.path), address: &resource.address, ctx };
        let rtype = resource.rtype.as_str();
        self.places.insert(resource.address.clone(), place.clone());
        let Some(kind) = kind_of(rtype) else {
            return self.fold(rtype, o, place);
        };
        let Some(key) = key_of(kind, &resource.address) else {
            return Err(o.fail("address", "an address usable as a name (1 to 253 characters)", &Value::Null));
        };
        for field in ["id", "arn"] {
            if let Some(id) = o.str(field)? {
                self.ids.insert(id.to_string(), key.clone());
            }
        }
        let reference = format!("{}{}", super::document::REFERENCE, super::document::strip_indexes(&resource.address));
        self.ids.insert(reference, key.clone());
        let mut l = Links { key: key.clone(), address: resource.address.clone(), list: Vec::new() };
        let spec = match rtype {
            "aws_vpc" | "aws_default_vpc" => {
                Spec::Network(Box::new(NetworkSpec { cidr: o.cidr("cidr_block")?, secondary_cidrs: Vec::new() }))
            }
            "aws_subnet" | "aws_default_subnet" => {
                if let Some(vpc) = o.string("vpc_id")? {
                    l.out(RelKind::LocatedIn, Target::Id(vpc), "network");
                }
                if let Some(zone) = zone_key(o.str("availability_zone")?) {
                    l.out(RelKind::LocatedIn, Target::Key(zone), "zone");
                }
                let public = o.bool("map_public_ip_on_launch")?;
                Spec::Subnet(Box::new(SubnetSpec { cidr: o.cidr("cidr_block")?, public }))
            }
            "aws_route_table" | "aws_default_route_table" => {
                if let Some(vpc) = o.string("vpc_id")? {
                    l.out(RelKind::LocatedIn, Target::Id(vpc), "network");
                }
                let mut routes = Vec::new();
                for block in o.blocks("route")? {
                    let (route, via) = route(&block)?;
                    for gateway in via {
                        l.out(RelKind::RoutesTo, Target::Id(gateway), "gateway");
                    }
                    routes.push(route);
                }
                routes.sort_by(|a, b| {
                    (a.destination.map(|c| c.0), &a.target).cmp(&(b.destination.map(|c| c.0), &b.target))
                });
                Spec::RouteTable(Box::new(RouteTableSpec { routes }))
            }
            "aws_internet_gateway" | "aws_egress_only_internet_gateway" => {
                if let Some(vpc) = o.string("vpc_id")? {
                    l.out(RelKind::AttachedTo, Target::Id(vpc), "network");
                }
                Spec::Gateway(Box::new(GatewaySpec { gateway_type: GatewayType::Internet, public_ip: None }))
            }
            "aws_nat_gateway" => {
                if let Some(subnet) = o.string("subnet_id")? {
                    l.out(RelKind::LocatedIn, Target::Id(subnet), "subnet");
                }
                Spec::Gateway(Box::new(GatewaySpec { gateway_type: GatewayType::Nat, public_ip: o.ip("public_ip")? }))
            }
            "aws_security_group" | "aws_default_security_group" => {
                if let Some(vpc) = o.string("vpc_id")? {
                    l.out(RelKind::LocatedIn, Target::Id(vpc), "network");
                }
                if let Some(name) = o.string("name")? {
                    self.names.insert(("security-group", name), key.clone());
                }
                // Inline rules are folded in with the separate rule resources, once peers resolve.
                for (ingress, field) in [(true, "ingress"), (false, "egress")] {
                    for block in o.blocks(field)? {
                        let (mut rule, peers) = sg_rule(&block, "protocol", "security_groups")?;
                        if block.bool("self")? {
                            rule.groups.push(key.clone());
                        }
                        // Peers resolve later; the rule keeps ids until then.
                        let folded = Fold::SgRule { group: Target::Key(key.clone()), ingress, rule, peers };
                        self.folds.push((folded, resource.address.clone(), place.clone()));
                    }
                }
                Spec::SecurityGroup(Box::default())
            }
            "aws_network_acl" | "aws_default_network_acl" => {
                if let Some(vpc) = o.string("vpc_id")? {
                    l.out(RelKind::LocatedIn, Target::Id(vpc), "network");
                }
                for subnet in o.strs("subnet_ids")? {
                    l.out(RelKind::AttachedTo, Target::Id(subnet), "subnet");
                }
                let mut rules = Vec::new();
                for (direction, field) in [(Direction::Ingress, "ingress"), (Direction::Egress, "egress")] {
                    for block in o.blocks(field)? {
                        rules.push(acl_rule(&block, direction, "rule_no")?);
                    }
                }
                rules.sort_by_key(|r| (r.direction == Direction::Egress, r.number));
                Spec::NetworkAcl(Box::new(NetworkAclSpec { rules }))
            }
            "aws_instance" => {
                let zone = zone_key(o.str("availability_zone")?);
                match o.string("subnet_id")? {
                    Some(subnet) => l.out_or(RelKind::LocatedIn, Target::Id(subnet), "subnet", zone),
                    None => {
                        if let Some(zone) = zone_key(o.str("availability_zone")?) {
                            l.out(RelKind::LocatedIn, Target::Key(zone), "zone");
                        }
                    }
                }
                for group in o.strs("vpc_security_group_ids")? {
                    l.inc(RelKind::AttachedTo, Target::Id(group), "security group");
                }
                if let Some(profile) = o.string("iam_instance_profile")? {
                    l.out(RelKind::CanAssume, Target::Name("instance-profile", profile), "instance profile");
                }
                Spec::Host(Box::new(HostSpec {
                    instance_type: o.string("instance_type")?,
                    private_ip: o.ip("private_ip")?,
                    public_ip: o.ip("public_ip")?,
                    image: o.string("ami")?,
                    spot: o.get("spot_price").is_some() || o.get("instance_market_options").is_some_and(non_empty),
                    ..HostSpec::default()
                }))
            }
            "aws_launch_template" | "aws_launch_configuration" => {
                if let Some(name) = o.string("name")? {
                    self.names.insert(("launch-template", name), key.clone());
                }
                let groups = [o.strs("vpc_security_group_ids")?, o.strs("security_groups")?].concat();
                for group in groups {
                    l.inc(RelKind::AttachedTo, Target::Id(group), "security group");
                }
                let image = o.string("image_id")?;
                Spec::LaunchTemplate(Box::new(LaunchTemplateSpec { instance_type: o.string("instance_type")?, image }))
            }
            "aws_autoscaling_group" => {
                for block in o.blocks("launch_template")? {
                    let target = match (block.string("id")?, block.string("name")?) {
                        (Some(id), _) => Target::Id(id),
                        (None, Some(name)) => Target::Name("launch-template", name),
                        (None, None) => continue,
                    };
                    l.out(RelKind::DependsOn, target, "launch template");
                }
                if let Some(name) = o.string("launch_configuration")? {
                    l.out(RelKind::DependsOn, Target::Name("launch-template", name), "launch configuration");
                }
                for subnet in o.strs("vpc_zone_identifier")? {
                    l.out(RelKind::LocatedIn, Target::Id(subnet), "subnet");
                }
                for group in o.strs("target_group_arns")? {
                    l.inc(RelKind::RoutesTo, Target::Id(group), "target group");
                }
                Spec::AutoscalingGroup(Box::new(AutoscalingGroupSpec {
                    min_size: o.count("min_size")?.unwrap_or(0),
                    max_size: o.count("max_size")?.unwrap_or(0),
                    desired: o.count("desired_capacity")?,
                    health_check_type: o.string("health_check_type")?,
                }))
            }
            "aws_lb" | "aws_alb" | "aws_elb" => {
                let subnets = [o.strs("subnets")?, o.strs("subnet_ids")?].concat();
                for subnet in subnets {
                    l.out(RelKind::LocatedIn, Target::Id(subnet), "subnet");
                }
                for block in o.blocks("subnet_mapping")? {
                    if let Some(subnet) = block.string("subnet_id")? {
                        l.out(RelKind::LocatedIn, Target::Id(subnet), "subnet");
                    }
                }
                for group in o.strs("security_groups")? {
                    l.inc(RelKind::AttachedTo, Target::Id(group), "security group");
                }
                let mut listeners = Vec::new();
                for block in o.blocks("listener")? {
                    let port = block.port("lb_port")?.unwrap_or(0);
                    let protocol = block.string("lb_protocol")?.unwrap_or_default().to_ascii_lowercase();
                    listeners.push(Listener { port, protocol });
                }
                for instance in o.strs("instances")? {
                    l.out(RelKind::RoutesTo, Target::Id(instance), "instance");
                }
                let health_check = o.blocks("health_check")?.first().map(health).transpose()?;
                let lb_type = match rtype {
                    "aws_elb" => Some("classic".to_string()),
                    _ => Some(o.string("load_balancer_type")?.unwrap_or_else(|| "application".to_string())),
                };
                let scheme = if o.bool("internal")? { LbScheme::Internal } else { LbScheme::InternetFacing };
                Spec::LoadBalancer(Box::new(LoadBalancerSpec {
                    scheme,
                    lb_type,
                    listeners,
                    health_check,
                    dns_ttl_s: None,
                }))
            }
            "aws_lb_target_group" | "aws_alb_target_group" => {
                if let Some(vpc) = o.string("vpc_id")? {
                    l.out(RelKind::LocatedIn, Target::Id(vpc), "network");
                }
                let health_check = o.blocks("health_check")?.first().map(health).transpose()?;
                Spec::TargetGroup(Box::new(TargetGroupSpec {
                    port: o.port("port")?,
                    protocol: o.string("protocol")?,
                    target_type: o.string("target_type")?,
                    health_check,
                }))
            }
            "aws_db_instance" | "aws_rds_cluster" | "aws_rds_cluster_instance" => {
                let own_name = if rtype == "aws_rds_cluster" { "cluster_identifier" } else { "identifier" };
                if let Some(name) = o.string(own_name)? {
                    self.names.insert(("rds", name), key.clone());
                }
                if rtype != "aws_rds_cluster"
                    && let Some(cluster) = o.string("cluster_identifier")?
                {
                    l.out(RelKind::MemberOf, Target::Name("rds", cluster), "RDS cluster");
                }
                let zone = zone_key(o.str("availability_zone")?).filter(|_| !o.bool("multi_az").unwrap_or(false));
                if let Some(group) = o.string("db_subnet_group_name")? {
                    l.out_or(RelKind::LocatedIn, Target::Name("subnet-group", group), "DB subnet group", zone);
                } else if let Some(zone) = zone {
                    l.out(RelKind::LocatedIn, Target::Key(zone), "zone");
                }
                for group in o.strs("vpc_security_group_ids")? {
                    l.inc(RelKind::AttachedTo, Target::Id(group), "security group");
                }
                let source = o.string("replicate_source_db")?;
                if let Some(primary) = &source {
                    l.inc(RelKind::ReplicatesTo, Target::Name("rds", primary.clone()), "RDS primary");
                }
                let storage = o.whole("allocated_storage", 1 << 20)?.map(|gib| Bytes(gib * 1024 * 1024 * 1024));
                Spec::Datastore(Box::new(DatastoreSpec {
                    engine: o.string("engine")?.unwrap_or_else(|| "unknown".into()),
                    version: o.string("engine_version")?,
                    role: if source.is_some() { DatastoreRole::Replica } else { DatastoreRole::Standalone },
                    storage,
                    managed: true,
                    multi_zone: o.bool("multi_az")? || o.strs("availability_zones")?.len() > 1,
                    ..DatastoreSpec::default()
                }))
            }
            "aws_elasticache_cluster" | "aws_elasticache_replication_group" => {
                if let Some(group) = o.string("subnet_group_name")? {
                    l.out(RelKind::LocatedIn, Target::Name("subnet-group", group), "cache subnet group");
                }
                for group in o.strs("security_group_ids")? {
                    l.inc(RelKind::AttachedTo, Target::Id(group), "security group");
                }
                Spec::Datastore(Box::new(DatastoreSpec {
                    engine: o.string("engine")?.unwrap_or_else(|| "redis".into()),
                    version: o.string("engine_version")?,
                    managed: true,
                    multi_zone: o.bool("multi_az_enabled")? || o.bool("automatic_failover_enabled")?,
                    ..DatastoreSpec::default()
                }))
            }
            "aws_s3_bucket" => Spec::Datastore(Box::new(DatastoreSpec {
                engine: "s3".into(),
                managed: true,
                multi_zone: true,
                ..DatastoreSpec::default()
            })),
            "aws_eks_cluster" => {
                if let Some(name) = o.string("name")? {
                    self.names.insert(("eks", name), key.clone());
                }
                for block in o.blocks("vpc_config")? {
                    for subnet in block.strs("subnet_ids")? {
                        l.out(RelKind::LocatedIn, Target::Id(subnet), "subnet");
                    }
                    let groups = [block.strs("security_group_ids")?, block.strs("cluster_security_group_id")?].concat();
                    for group in groups {
                        l.inc(RelKind::AttachedTo, Target::Id(group), "security group");
                    }
                }
                if let Some(role) = o.string("role_arn")? {
                    l.out(RelKind::CanAssume, Target::Id(role), "role");
                }
                Spec::Cluster(Box::new(ClusterSpec {
                    version: o.string("version")?,
                    distribution: Some("eks".into()),
                    multi_zone_control_plane: true,
                }))
            }
            "aws_eks_node_group" => {
                if let Some(cluster) = o.string("cluster_name")? {
                    l.out(RelKind::MemberOf, Target::Name("eks", cluster), "EKS cluster");
                }
                for subnet in o.strs("subnet_ids")? {
                    l.out(RelKind::LocatedIn, Target::Id(subnet), "subnet");
                }
                if let Some(role) = o.string("node_role_arn")? {
                    l.out(RelKind::CanAssume, Target::Id(role), "role");
                }
                let (mut min_size, mut max_size) = (0, 0);
                for block in o.blocks("scaling_config")? {
                    min_size = block.count("min_size")?.unwrap_or(0);
                    max_size = block.count("max_size")?.unwrap_or(0);
                }
                let mut taints = Vec::new();
                for block in o.blocks("taint")? {
                    let effect = match block.str("effect")? {
                        Some("NO_EXECUTE") => TaintEffect::NoExecute,
                        Some("PREFER_NO_SCHEDULE") => TaintEffect::PreferNoSchedule,
                        _ => TaintEffect::NoSchedule,
                    };
                    taints.push(Taint {
                        key: block.string("key")?.unwrap_or_default(),
                        value: block.string("value")?,
                        effect,
                    });
                }
                let mut labels = Vec::new();
                if let Some(Value::Object(map)) = o.get("labels") {
                    for (k, v) in map {
                        if let Some(v) = v.as_str() {
                            labels.push((k.clone(), v.to_string()));
                        }
                    }
                }
                Spec::NodeGroup(Box::new(NodeGroupSpec {
                    instance_type: o.strs("instance_types")?.into_iter().next(),
                    node_labels: doppel_model::Labels::from_pairs(labels),
                    taints,
                    min_size,
                    max_size,
                    ..NodeGroupSpec::default()
                }))
            }
            "aws_iam_user" => {
                if let Some(name) = o.string("name")? {
                    self.names.insert(("user", name), key.clone());
                }
                Spec::User(Box::default())
            }
            "aws_iam_group" => {
                if let Some(name) = o.string("name")? {
                    self.names.insert(("group", name), key.clone());
                }
                Spec::Group(Box::new(GroupSpec {}))
            }
            "aws_iam_role" => {
                if let Some(name) = o.string("name")? {
                    self.names.insert(("role", name), key.clone());
                }
                let max_session_s = o.number("max_session_duration")?;
                Spec::Role(Box::new(RoleSpec { arn: o.string("arn")?, max_session_s }))
            }
            "aws_iam_policy" | "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => {
                let principal = match rtype {
                    "aws_iam_role_policy" => Some(("role", "role")),
                    "aws_iam_user_policy" => Some(("user", "user")),
                    "aws_iam_group_policy" => Some(("group", "group")),
                    _ => None,
                };
                if let Some((field, space)) = principal
                    && let Some(name) = o.string(field)?
                {
                    l.out(RelKind::Grants, Target::Name(space, name), space);
                }
                let statements = match o.str("policy")? {
                    Some(text) => {
                        statements(text).ok_or_else(|| o.fail("policy", "a JSON policy document", &Value::Null))?
                    }
                    None => Vec::new(),
                };
                Spec::Policy(Box::new(PolicySpec { statements, managed: false }))
            }
            _ => return Ok(()),
        };
        if rtype == "aws_autoscaling_group"
            && let Some(name) = o.string("name")?
        {
            self.names.insert(("asg", name), key.clone());
        }
        self.pending.extend(l.list);
        self.origins.insert(key.clone(), place);
        self.entities.insert(key.clone(), Entity::with_spec(key, spec));
        Ok(())
    }

    /// Folds a resource that has no entity of its own into the ones it belongs to.
    fn fold(&mut self, rtype: &str, o: Obj<'_>, place: Place) -> Result<()> {
        let address = o.address.to_string();
        match rtype {
            "aws_security_group_rule" => {
                let Some(group) = o.string("security_group_id")? else { return Ok(()) };
                let ingress = o.str("type")? != Some("egress");
                let (mut rule, mut peers) = sg_rule(&o, "protocol", "source_security_group_id")?;
                if o.bool("self")? {
                    peers.push(Target::Id(group.clone()));
                }
                rule.cidrs.extend(o.cidrs("ipv6_cidr_blocks")?);
                self.folds.push((Fold::SgRule { group: Target::Id(group), ingress, rule, peers }, address, place));
            }
            "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => {
                let Some(group) = o.string("security_group_id")? else { return Ok(()) };
                let ingress = rtype.ends_with("ingress_rule");
                let (rule, peers) = sg_rule(&o, "ip_protocol", "referenced_security_group_id")?;
                self.folds.push((Fold::SgRule { group: Target::Id(group), ingress, rule, peers }, address, place));
            }
            "aws_lb_listener" | "aws_alb_listener" => {
                let Some(lb) = o.string("load_balancer_arn")? else { return Ok(()) };
                if let Some(arn) = o.string("arn")? {
                    self.listeners.insert(arn, Target::Id(lb.clone()));
                }
                let listener = Listener {
                    port: o.port("port")?.unwrap_or(0),
                    protocol: o.string("protocol")?.unwrap_or_default().to_ascii_lowercase(),
                };
                let forwards = forwards(&o)?;
                self.folds.push((Fold::Listener { lb: Target::Id(lb), listener, forwards }, address, place));
            }
            "aws_lb_listener_rule" | "aws_alb_listener_rule" => {
                let Some(listener) = o.string("listener_arn")? else { return Ok(()) };
                let forwards = forwards(&o)?;
                self.folds.push((Fold::ListenerRule { listener, forwards }, address, place));
            }
            "aws_lb_target_group_attachment" | "aws_alb_target_group_attachment" => {
                if let (Some(group), Some(target)) = (o.string("target_group_arn")?, o.string("target_id")?) {
                    self.pair(Target::Id(group), RelKind::RoutesTo, Target::Id(target), "target", &address);
                }
            }
            "aws_autoscaling_attachment" => {
                let Some(asg) = o.string("autoscaling_group_name")? else { return Ok(()) };
                let from = [o.strs("lb_target_group_arn")?, o.strs("alb_target_group_arn")?, o.strs("elb")?].concat();
                for group in from {
                    self.pair(
                        Target::Id(group),
                        RelKind::RoutesTo,
                        Target::Name("asg", asg.clone()),
                        "autoscaling group",
                        &address,
                    );
                }
            }
            "aws_route" => {
                let Some(table) = o.string("route_table_id")? else { return Ok(()) };
                let (route, via) = route(&o)?;
                self.folds.push((Fold::Route { table: Target::Id(table), route, via }, address, place));
            }
            "aws_route_table_association" => {
                if let Some(table) = o.string("route_table_id")? {
                    for field in ["subnet_id", "gateway_id"] {
                        if let Some(to) = o.string(field)? {
                            self.pair(
                                Target::Id(table.clone()),
                                RelKind::AttachedTo,
                                Target::Id(to),
                                "subnet",
                                &address,
                            );
                        }
                    }
                }
            }
            "aws_main_route_table_association" => {
                if let (Some(table), Some(vpc)) = (o.string("route_table_id")?, o.string("vpc_id")?) {
                    self.pair(Target::Id(table), RelKind::AttachedTo, Target::Id(vpc), "network", &address);
                }
            }
            "aws_network_acl_rule" => {
                let Some(acl) = o.string("network_acl_id")? else { return Ok(()) };
                let direction = if o.bool("egress")? { Direction::Egress } else { Direction::Ingress };
                let rule = acl_rule(&o, direction, "rule_number")?;
                self.folds.push((Fold::AclRule { acl: Target::Id(acl), rule }, address, place));
            }
            "aws_network_acl_association" => {
                if let (Some(acl), Some(subnet)) = (o.string("network_acl_id")?, o.string("subnet_id")?) {
                    self.pair(Target::Id(acl), RelKind::AttachedTo, Target::Id(subnet), "subnet", &address);
                }
            }
            "aws_db_subnet_group" | "aws_elasticache_subnet_group" => {
                if let Some(name) = o.string("name")? {
                    self.subnet_groups.insert(name, o.strs("subnet_ids")?);
                }
            }
            "aws_iam_instance_profile" => {
                if let (Some(name), Some(role)) = (o.string("name")?, o.string("role")?) {
                    self.profiles.insert(name, role);
                }
            }
            "aws_iam_role_policy_attachment" | "aws_iam_user_policy_attachment" | "aws_iam_group_policy_attachment" => {
                let Some(policy) = o.string("policy_arn")? else { return Ok(()) };
                let (field, space) = match rtype {
                    "aws_iam_role_policy_attachment" => ("role", "role"),
                    "aws_iam_user_policy_attachment" => ("user", "user"),
                    _ => ("group", "group"),
                };
                if let Some(name) = o.string(field)? {
                    self.pair(policy_target(&policy), RelKind::Grants, Target::Name(space, name), space, &address);
                }
            }
            "aws_iam_policy_attachment" => {
                let Some(policy) = o.string("policy_arn")? else { return Ok(()) };
                for (field, space) in [("roles", "role"), ("users", "user"), ("groups", "group")] {
                    for name in o.strs(field)? {
                        self.pair(policy_target(&policy), RelKind::Grants, Target::Name(space, name), space, &address);
                    }
                }
            }
            "aws_iam_user_group_membership" => {
                if let Some(user) = o.string("user")? {
                    for group in o.strs("groups")? {
                        self.pair(
                            Target::Name("user", user.clone()),
                            RelKind::MemberOf,
                            Target::Name("group", group),
                            "group",
                            &address,
                        );
                    }
                }
            }
            "aws_iam_group_membership" => {
                if let Some(group) = o.string("group")? {
                    for user in o.strs("users")? {
                        self.pair(
                            Target::Name("user", user),
                            RelKind::MemberOf,
                            Target::Name("group", group.clone()),
                            "user",
                            &address,
                        );
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// What the mapping gives: entities, relations, where each entity came from.
pub(crate) struct Mapped {
    /// Entities, sorted by key.
    pub entities: Vec<Entity>,
    /// Relations, sorted.
    pub relations: Vec<Relation>,
    /// Where each entity was read.
    pub origins: BTreeMap<Key, Place>,
}

impl Mapper {
    fn pair(&mut self, from: Target, kind: RelKind, to: Target, what: &'static str, address: &str) {
        self.pending.push(Pending { from, kind, to, what, address: address.to_string(), fallback: None });
    }

    fn unresolved(&mut self, address: &str, what: &str, target: &Target) {
        let shown = match target {
            Target::Id(id) if id.starts_with(super::document::REFERENCE) => {
                format!("of `{}` (known after apply)", &id[super::document::REFERENCE.len()..])
            }
            Target::Id(id) | Target::Policy(id) => format!("`{id}`"),
            Target::Name(_, name) => format!("named `{name}`"),
            Target::Key(key) => format!("`{key}`"),
        };
        self.warnings.push(Warning {
            kind: WarningKind::Unresolved,
            object: Some(address.to_string()),
            place: self.places.get(address).cloned(),
            subject: what.to_string(),
            message: format!("refers to the {what} {shown}, which is not in the import"),
        });
    }

    /// The keys a target stands for (a subnet group stands for its subnets).
    fn resolve(&mut self, target: &Target) -> Vec<Key> {
        match target {
            Target::Key(key) => {
                if key.kind() == Kind::Zone && !self.entities.contains_key(key) {
                    self.entities.insert(key.clone(), Entity::new(key.clone()));
                    if let Some(region) = region_of(key.name()) {
                        self.entities.entry(region.clone()).or_insert_with(|| Entity::new(region.clone()));
                        let from = Target::Key(key.clone());
                        self.pair(from, RelKind::LocatedIn, Target::Key(region), "region", key.name());
                    }
                }
                vec![key.clone()]
            }
            Target::Id(id) => self.ids.get(id).cloned().into_iter().collect(),
            Target::Policy(arn) => {
                if let Some(key) = self.ids.get(arn) {
                    return vec![key.clone()];
                }
                let Ok(key) = Key::new(Kind::Policy, arn) else { return Vec::new() };
                let managed = arn.contains(":aws:policy/");
                let spec = Spec::Policy(Box::new(PolicySpec { statements: Vec::new(), managed }));
                self.entities.entry(key.clone()).or_insert_with(|| Entity::with_spec(key.clone(), spec));
                vec![key]
            }
            Target::Name("subnet-group", name) => {
                let subnets = self.subnet_groups.get(name).cloned().unwrap_or_default();
                subnets.iter().filter_map(|id| self.ids.get(id).cloned()).collect()
            }
            Target::Name("instance-profile", name) => match self.profiles.get(name).cloned() {
                Some(role) => self.names.get(&("role", role)).cloned().into_iter().collect(),
                None => Vec::new(),
            },
            Target::Name(space, name) => self.names.get(&(*space, name.clone())).cloned().into_iter().collect(),
        }
    }

    /// Resolves every reference and fold; returns what the documents hold.
    pub(crate) fn finish(mut self) -> (Mapped, Vec<Warning>) {
        let folds = std::mem::take(&mut self.folds);
        let mut rules: BTreeMap<Key, (Vec<SecurityRule>, Vec<SecurityRule>)> = BTreeMap::new();
        for (fold, address, _place) in folds {
            match fold {
                Fold::SgRule { group, ingress, mut rule, peers } => {
                    let Some(group_key) = self.resolve(&group).into_iter().find(|k| k.kind() == Kind::SecurityGroup)
                    else {
                        self.unresolved(&address, "security group", &group);
                        continue;
                    };
                    for peer in peers {
                        match self.resolve(&peer).into_iter().find(|k| k.kind() == Kind::SecurityGroup) {
                            Some(key) => rule.groups.push(key),
                            None => self.unresolved(&address, "peer security group", &peer),
                        }
                    }
                    rule.groups.sort();
                    rule.groups.dedup();
                    let entry = rules.entry(group_key).or_default();
                    if ingress { entry.0.push(rule) } else { entry.1.push(rule) }
                }
                Fold::Listener { lb, listener, forwards } => {
                    let Some(lb_key) = self.resolve(&lb).into_iter().find(|k| k.kind() == Kind::LoadBalancer) else {
                        self.unresolved(&address, "load balancer", &lb);
                        continue;
                    };
                    if let Some(Spec::LoadBalancer(spec)) = self.entities.get_mut(&lb_key).map(|e| &mut e.spec) {
                        spec.listeners.push(listener);
                    }
                    for group in forwards {
                        self.pair(
                            Target::Key(lb_key.clone()),
                            RelKind::RoutesTo,
                            Target::Id(group),
                            "target group",
                            &address,
                        );
                    }
                }
                Fold::ListenerRule { listener, forwards } => {
                    let Some(lb) = self.listeners.get(&listener).cloned() else {
                        self.unresolved(&address, "listener", &Target::Id(listener));
                        continue;
                    };
                    for group in forwards {
                        self.pair(lb.clone(), RelKind::RoutesTo, Target::Id(group), "target group", &address);
                    }
                }
                Fold::Route { table, route, via } => {
                    let Some(table_key) = self.resolve(&table).into_iter().find(|k| k.kind() == Kind::RouteTable)
                    else {
                        self.unresolved(&address, "route table", &table);
                        continue;
                    };
                    if let Some(Spec::RouteTable(spec)) = self.entities.get_mut(&table_key).map(|e| &mut e.spec) {
                        spec.routes.push(route);
                    }
                    for gateway in via {
                        self.pair(
                            Target::Key(table_key.clone()),
                            RelKind::RoutesTo,
                            Target::Id(gateway),
                            "gateway",
                            &address,
                        );
                    }
                }
                Fold::AclRule { acl, rule } => {
                    let Some(acl_key) = self.resolve(&acl).into_iter().find(|k| k.kind() == Kind::NetworkAcl) else {
                        self.unresolved(&address, "network ACL", &acl);
                        continue;
                    };
                    if let Some(Spec::NetworkAcl(spec)) = self.entities.get_mut(&acl_key).map(|e| &mut e.spec) {
                        spec.rules.push(rule);
                    }
                }
            }
        }
        for (key, (ingress, egress)) in rules {
            if let Some(Spec::SecurityGroup(spec)) = self.entities.get_mut(&key).map(|e| &mut e.spec) {
                spec.ingress.extend(ingress);
                spec.egress.extend(egress);
            }
        }
        let mut relations: BTreeMap<(Key, RelKind, Key), Relation> = BTreeMap::new();
        let mut index = 0;
        while index < self.pending.len() {
            let pending = self.pending[index].clone();
            index += 1;
            let froms = self.resolve(&pending.from);
            let mut tos = self.resolve(&pending.to);
            if froms.is_empty() {
                self.unresolved(&pending.address, pending.what, &pending.from);
                continue;
            }
            if tos.is_empty() {
                self.unresolved(&pending.address, pending.what, &pending.to);
                match &pending.fallback {
                    Some(fallback) => tos = self.resolve(fallback),
                    None => continue,
                }
            }
            for from in &froms {
                for to in &tos {
                    if from == to || !pending.kind.allows(from.kind(), to.kind()) {
                        continue;
                    }
                    relations
                        .entry((from.clone(), pending.kind, to.clone()))
                        .or_insert_with(|| Relation::new(from.clone(), pending.kind, to.clone()));
                }
            }
        }
        // A subnet is public when a route table attached to it routes to an internet gateway.
        let internet: BTreeSet<&Key> = self
            .entities
            .values()
            .filter(|e| matches!(&e.spec, Spec::Gateway(g) if g.gateway_type == GatewayType::Internet))
            .map(|e| &e.key)
            .collect();
        let public_tables: BTreeSet<Key> = relations
            .keys()
            .filter(|(from, kind, to)| {
                *kind == RelKind::RoutesTo && from.kind() == Kind::RouteTable && internet.contains(to)
            })
            .map(|(from, _, _)| from.clone())
            .collect();
        let public_subnets: Vec<Key> = relations
            .keys()
            .filter(|(from, kind, to)| {
                *kind == RelKind::AttachedTo && public_tables.contains(from) && to.kind() == Kind::Subnet
            })
            .map(|(_, _, to)| to.clone())
            .collect();
        for subnet in public_subnets {
            if let Some(Spec::Subnet(spec)) = self.entities.get_mut(&subnet).map(|e| &mut e.spec) {
                spec.public = true;
            }
        }
        for entity in self.entities.values_mut() {
            match &mut entity.spec {
                Spec::SecurityGroup(spec) => {
                    spec.ingress.sort_by_cached_key(rule_order);
                    spec.egress.sort_by_cached_key(rule_order);
                    spec.ingress.dedup();
                    spec.egress.dedup();
                }
                Spec::LoadBalancer(spec) => {
                    spec.listeners.sort_by(|a, b| (a.port, &a.protocol).cmp(&(b.port, &b.protocol)));
                    spec.listeners.dedup();
                }
                Spec::RouteTable(spec) => {
                    spec.routes.sort_by_cached_key(|r| (r.destination.map(|c| c.0.to_string()), r.target.clone()));
                    spec.routes.dedup();
                }
                Spec::NetworkAcl(spec) => {
                    spec.rules.sort_by_key(|r| (r.direction == Direction::Egress, r.number));
                    spec.rules.dedup();
                }
                _ => {}
            }
        }
        let mapped = Mapped {
            entities: self.entities.into_values().collect(),
            relations: relations.into_values().collect(),
            origins: self.origins,
        };
        (mapped, self.warnings)
    }
}

fn rule_order(rule: &SecurityRule) -> String {
    serde_json::to_string(rule).unwrap_or_default()
}

/// `zone/us-east-1a` from an availability zone name.
fn zone_key(zone: Option<&str>) -> Option<Key> {
    zone.and_then(|z| Key::new(Kind::Zone, z).ok())
}

/// `region/us-east-1` from the zone name `us-east-1a`.
fn region_of(zone: &str) -> Option<Key> {
    let region = zone.trim_end_matches(|c: char| c.is_ascii_lowercase());
    if region.len() < zone.len() && region.ends_with(|c: char| c.is_ascii_digit()) {
        Key::new(Kind::Region, region).ok()
    } else {
        None
    }
}

fn policy_target(arn: &str) -> Target {
    Target::Policy(arn.to_string())
}

fn non_empty(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

fn protocol(text: Option<&str>) -> Protocol {
    match text.map(str::to_ascii_lowercase).as_deref() {
        Some("-1" | "all") | None => Protocol::All,
        Some("tcp" | "6") => Protocol::Tcp,
        Some("udp" | "17") => Protocol::Udp,
        Some("icmp" | "1" | "icmpv6" | "58") => Protocol::Icmp,
        Some("sctp" | "132") => Protocol::Sctp,
        Some(_) => Protocol::All,
    }
}

/// A security group rule (inline block or separate resource) and its peer groups, unresolved.
fn sg_rule(o: &Obj<'_>, protocol_field: &str, peers_field: &str) -> Result<(SecurityRule, Vec<Target>)> {
    let protocol = protocol(o.str(protocol_field)?);
    let ports = if protocol == Protocol::All || protocol == Protocol::Icmp {
        PortRange::default()
    } else {
        let from = o.port("from_port")?;
        let to = o.port("to_port")?;
        match (from, to) {
            (Some(0), Some(0) | Some(65535)) | (None, None) => PortRange::default(),
            (from, to) => PortRange { from, to: if to == from { None } else { to } },
        }
    };
    let mut cidrs = [o.cidrs("cidr_blocks")?, o.cidrs("ipv6_cidr_blocks")?].concat();
    cidrs.extend(o.cidr("cidr_ipv4")?);
    cidrs.extend(o.cidr("cidr_ipv6")?);
    cidrs.sort_by_key(|c| c.0);
    cidrs.dedup();
    let peers = o.strs(peers_field)?.into_iter().map(Target::Id).collect();
    let rule = SecurityRule { protocol, ports, cidrs, groups: Vec::new(), description: o.string("description")? };
    Ok((rule, peers))
}

fn acl_rule(o: &Obj<'_>, direction: Direction, number_field: &str) -> Result<AclRule> {
    let protocol = protocol(o.str("protocol")?);
    let from = o.port("from_port")?;
    let to = o.port("to_port")?;
    let ports = match (from, to) {
        (Some(0), Some(0)) | (None, None) => PortRange::default(),
        (from, to) => PortRange { from, to: if to == from { None } else { to } },
    };
    let action = match o.str(if o.get("rule_action").is_some() { "rule_action" } else { "action" })? {
        Some(a) if a.eq_ignore_ascii_case("deny") => RuleAction::Deny,
        _ => RuleAction::Allow,
    };
    let number = o.count(number_field)?.unwrap_or(0);
    Ok(AclRule { number, direction, action, protocol, ports, cidr: o.cidr("cidr_block")? })
}

/// A route block and the gateways it goes through (ids).
fn route(o: &Obj<'_>) -> Result<(Route, Vec<String>)> {
    let destination = match o.cidr("cidr_block")? {
        Some(c) => Some(c),
        None => match o.cidr("destination_cidr_block")? {
            Some(c) => Some(c),
            None => o.cidr("ipv6_cidr_block")?,
        },
    };
    let mut via = Vec::new();
    let mut target = String::new();
    for field in [
        "gateway_id",
        "nat_gateway_id",
        "egress_only_gateway_id",
        "transit_gateway_id",
        "vpc_peering_connection_id",
        "network_interface_id",
        "vpc_endpoint_id",
        "instance_id",
    ] {
        if let Some(id) = o.string(field)? {
            if target.is_empty() && !id.starts_with(super::document::REFERENCE) {
                target = id.clone();
            }
            if field.contains("gateway") && id != "local" {
                via.push(id);
            }
        }
    }
    Ok((Route { destination, target }, via))
}

fn health(o: &Obj<'_>) -> Result<HealthCheck> {
    let path = match o.string("path")? {
        Some(path) => Some(path),
        None => o.string("target")?,
    };
    Ok(HealthCheck {
        path,
        interval_s: o.number("interval")?.unwrap_or(30.0),
        unhealthy_threshold: o.count("unhealthy_threshold")?.unwrap_or(0),
        healthy_threshold: o.count("healthy_threshold")?.unwrap_or(0),
    })
}

/// Target group ARNs a listener or listener rule forwards to.
fn forwards(o: &Obj<'_>) -> Result<Vec<String>> {
    let mut groups = Vec::new();
    let mut all = o.blocks("default_action")?;
    all.extend(o.blocks("action")?);
    for action in all {
        groups.extend(action.string("target_group_arn")?);
        for forward in action.blocks("forward")? {
            for group in forward.blocks("target_group")? {
                groups.extend(group.string("arn")?);
            }
        }
    }
    groups.sort();
    groups.dedup();
    Ok(groups)
}

/// Policy statements from a JSON policy document; `None` if it is not one.
fn statements(text: &str) -> Option<Vec<Statement>> {
    let document: Value = serde_json::from_str(text).ok()?;
    let list = match document.get("Statement")? {
        Value::Array(items) => items.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => return None,
    };
    let strings = |value: Option<&Value>| -> Vec<String> {
        let mut out: Vec<String> = match value {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        out.sort();
        out
    };
    let mut statements = Vec::new();
    for item in &list {
        let effect = match item.get("Effect").and_then(Value::as_str) {
            Some("Deny") => RuleAction::Deny,
            _ => RuleAction::Allow,
        };
        let mut conditions = Vec::new();
        if let Some(Value::Object(operators)) = item.get("Condition") {
            for (operator, keys) in operators {
                if let Value::Object(keys) = keys {
                    for (key, values) in keys {
                        conditions.push(Condition {
                            operator: operator.clone(),
                            key: key.clone(),
                            values: strings(Some(values)),
                        });
                    }
                }
            }
        }
        statements.push(Statement {
            effect,
            actions: strings(item.get("Action")),
            resources: strings(item.get("Resource")),
            conditions,
        });
    }
    Some(statements)
}
