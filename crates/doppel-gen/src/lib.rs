//! Synthetic estates of realistic shape: heavy-tailed call graphs (a few services called
//! by many), heavy-tailed replica counts, pods packed onto nodes over three zones per
//! region, networks, identities and prices. Deterministic for a given seed.
//!
//! About 11.4 entities per service: `--services 87719` gives 968,683 entities.

use doppel_model::spec::*;
use doppel_model::{
    Bytes, CallAttrs, Cores, Criticality, Entity, IntOrPercent, Key, Kind, Labels, RelKind, RelSpec, Relation, Spec,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenConfig {
    /// Number of application services.
    pub services: usize,
    /// Random seed; the same seed gives the same estate.
    pub seed: u64,
}

/// A generated estate.
#[derive(Debug, Default)]
pub struct Generated {
    /// Entities.
    pub entities: Vec<Entity>,
    /// Relations.
    pub relations: Vec<Relation>,
}

fn key(kind: Kind, name: &str) -> Key {
    Key::new(kind, name).expect("generated names are valid")
}

struct Builder {
    rng: ChaCha8Rng,
    out: Generated,
}

impl Builder {
    fn entity(&mut self, kind: Kind, name: &str, labels: Labels, spec: Spec) -> Key {
        let k = key(kind, name);
        self.out.entities.push(Entity { key: k.clone(), labels, spec });
        k
    }

    fn relate(&mut self, from: &Key, kind: RelKind, to: &Key) {
        self.out.relations.push(Relation::new(from.clone(), kind, to.clone()));
    }

    /// A Pareto-distributed whole number at least `min`, capped at `max`.
    fn pareto(&mut self, min: f64, alpha: f64, max: f64) -> f64 {
        let u: f64 = self.rng.random_range(1e-9..1.0);
        (min / u.powf(1.0 / alpha)).min(max)
    }
}

const INSTANCE_TYPES: [(&str, u32, u64, Arch, f64); 5] = [
    ("m6i.xlarge", 4, 16, Arch::X86_64, 0.192),
    ("m6i.2xlarge", 8, 32, Arch::X86_64, 0.384),
    ("m6g.2xlarge", 8, 32, Arch::Arm64, 0.308),
    ("c6i.4xlarge", 16, 32, Arch::X86_64, 0.68),
    ("r6i.2xlarge", 8, 64, Arch::X86_64, 0.504),
];

const GIB: u64 = 1 << 30;

/// Generates an estate.
pub fn generate(config: GenConfig) -> Generated {
    let mut b = Builder { rng: ChaCha8Rng::seed_from_u64(config.seed), out: Generated::default() };
    let n = config.services.max(1);

    // Cloud, prices.
    let provider = b.entity(Kind::Provider, "aws", Labels::default(), Spec::default_for(Kind::Provider));
    let account = b.entity(Kind::Account, "prod", Labels::default(), Spec::default_for(Kind::Account));
    b.relate(&account, RelKind::LocatedIn, &provider);
    for (name, vcpu, mem, arch, price) in INSTANCE_TYPES {
        let spec = InstanceTypeSpec {
            vcpu,
            memory: Bytes(mem * GIB),
            arch,
            usd_per_hour: price,
            spot_usd_per_hour: Some((price * 0.35 * 10_000.0).round() / 10_000.0),
            speed_factor: Some(if arch == Arch::Arm64 { 0.95 } else { 1.0 }),
        };
        b.entity(Kind::InstanceType, name, Labels::default(), Spec::InstanceType(Box::new(spec)));
    }
    let regions = if n >= 50 { vec!["us-east-1", "eu-west-1"] } else { vec!["us-east-1"] };
    let mut zones: Vec<(Key, usize)> = Vec::new();
    let mut networks = Vec::new();
    for (r, region_name) in regions.iter().enumerate() {
        let region = b.entity(Kind::Region, region_name, Labels::default(), Spec::default_for(Kind::Region));
        b.relate(&region, RelKind::LocatedIn, &account);
        let network_spec = NetworkSpec {
            cidr: Some(format!("10.{}.0.0/16", r * 16).parse().expect("valid")),
            secondary_cidrs: Vec::new(),
        };
        let network = b.entity(
            Kind::Network,
            &format!("{region_name}-vpc"),
            Labels::default(),
            Spec::Network(Box::new(network_spec)),
        );
        b.relate(&network, RelKind::LocatedIn, &region);
        networks.push(network.clone());
        for z in ['a', 'b', 'c'] {
            let zone =
                b.entity(Kind::Zone, &format!("{region_name}{z}"), Labels::default(), Spec::default_for(Kind::Zone));
            b.relate(&zone, RelKind::LocatedIn, &region);
            zones.push((zone, r));
        }
    }
    // Subnets: one private /20 per zone.
    let mut subnets = Vec::new();
    for (i, (zone, r)) in zones.clone().iter().enumerate() {
        let cidr = format!("10.{}.{}.0/20", r * 16, (i % 3) * 16).parse().expect("valid");
        let subnet = b.entity(
            Kind::Subnet,
            &format!("{}-private", zone.name()),
            Labels::default(),
            Spec::Subnet(Box::new(SubnetSpec { cidr: Some(cidr), public: false })),
        );
        b.relate(&subnet, RelKind::LocatedIn, &networks[*r]);
        b.relate(&subnet, RelKind::LocatedIn, zone);
        subnets.push(subnet);
    }

    // Services and their call graph: preferential attachment on in-degree, so a few
    // shared services (auth, config, databases' front services) are called by many.
    let mut in_degree = vec![1.0f64; n];
    let mut total_weight = n as f64;
    let mut service_keys = Vec::with_capacity(n);
    let teams = (n / 20).max(1);
    for i in 0..n {
        let team = i % teams;
        let entry = i < (n / 50).max(1);
        let mut spec = ServiceSpec {
            team: Some(format!("team-{team}")),
            tier: Some(if entry { 1 } else { 2 + (i % 3) as u8 }),
            ..Default::default()
        };
        if entry {
            let rate = b.pareto(20.0, 1.2, 5000.0);
            spec.endpoints.push(Endpoint {
                name: "GET /".into(),
                entry: true,
                rate_rps: Some(rate.round()),
                daily_profile: DAILY_PROFILE.to_vec(),
                slo: Some(Slo { availability_pct: Some(99.9), latency_p50_ms: None, latency_p99_ms: Some(500.0) }),
                service_time: Some(ServiceTime { mean_ms: 5.0, ..Default::default() }),
                ..Default::default()
            });
        }
        let k = b.entity(
            Kind::Service,
            &format!("svc-{i:06}"),
            Labels::from_pairs([("team", format!("team-{team}"))]),
            Spec::Service(Box::new(spec)),
        );
        service_keys.push(k);
    }
    // Each service calls a few earlier-numbered ones (a DAG), more often the popular ones.
    let mut calls: Vec<(usize, usize)> = Vec::new();
    for i in 1..n {
        let fan_out = (b.pareto(1.0, 1.6, 12.0) as usize).min(i);
        let mut chosen: Vec<usize> = Vec::new();
        for _ in 0..fan_out * 3 {
            if chosen.len() == fan_out {
                break;
            }
            // Sample proportional to in-degree among 0..i by rejection on a random window.
            let candidate = b.rng.random_range(0..i);
            let accept = in_degree[candidate] / (1.0 + in_degree[candidate]);
            if b.rng.random_range(0.0..1.0) < accept.max(0.3) && !chosen.contains(&candidate) {
                chosen.push(candidate);
            }
        }
        for &target in &chosen {
            in_degree[target] += 1.0;
            total_weight += 1.0;
            calls.push((i, target));
        }
    }
    let _ = total_weight;
    for (from, to) in calls {
        let soft = b.rng.random_range(0..10) == 0;
        let attrs = CallAttrs {
            rate_rps: Some(b.pareto(1.0, 1.3, 2000.0).round()),
            timeout_ms: Some([100.0, 300.0, 1000.0][from % 3]),
            retries: (from % 3) as u32,
            criticality: if soft { Criticality::Soft } else { Criticality::Hard },
            ..Default::default()
        };
        b.out.relations.push(Relation {
            from: service_keys[n - 1 - from].clone(),
            to: service_keys[n - 1 - to].clone(),
            spec: RelSpec::Calls(Box::new(attrs)),
        });
    }

    // Kubernetes: one cluster per region, namespaces per team, workloads and pods.
    let mut clusters = Vec::new();
    let region_keys: Vec<Key> = regions.iter().map(|r| key(Kind::Region, r)).collect();
    for (r, region_name) in regions.iter().enumerate() {
        let cluster = b.entity(
            Kind::Cluster,
            &format!("{region_name}-prod"),
            Labels::default(),
            Spec::Cluster(Box::new(ClusterSpec {
                version: Some("1.31".into()),
                distribution: Some("eks".into()),
                multi_zone_control_plane: true,
            })),
        );
        b.relate(&cluster, RelKind::LocatedIn, &region_keys[r]);
        clusters.push(cluster);
    }
    let mut node_pool: Vec<Vec<(Key, f64)>> = vec![Vec::new(); zones.len()];
    let mut node_count = 0usize;
    let pods_total_estimate = n * 6;
    let nodes_wanted = (pods_total_estimate / 25).max(6);
    for i in 0..nodes_wanted {
        let z = i % zones.len();
        let (zone, r) = zones[z].clone();
        let (itype, vcpu, mem, arch, _) = INSTANCE_TYPES[i % 3];
        let node_spec = NodeSpec {
            allocatable: Resources {
                cpu: Cores(f64::from(vcpu) - 0.08),
                memory: Bytes(mem * GIB * 92 / 100),
                ephemeral_storage: Bytes(0),
                pods: 58,
            },
            capacity: Resources {
                cpu: Cores(f64::from(vcpu)),
                memory: Bytes(mem * GIB),
                ephemeral_storage: Bytes(0),
                pods: 58,
            },
            instance_type: Some(itype.into()),
            arch,
            ..Default::default()
        };
        let name = format!("ip-10-{}-{}-{}", r * 16, i / 250 % 250, i % 250);
        let labels = Labels::from_pairs([("topology.kubernetes.io/zone", zone.name())]);
        let node = b.entity(Kind::Node, &name, labels, Spec::Node(Box::new(node_spec)));
        b.relate(&node, RelKind::LocatedIn, &zone);
        b.relate(&node, RelKind::MemberOf, &clusters[r]);
        b.relate(&node, RelKind::LocatedIn, &subnets[z]);
        node_pool[z].push((node, f64::from(vcpu) - 0.08));
        node_count += 1;
    }
    let _ = node_count;
    let mut namespaces = Vec::new();
    for t in 0..teams {
        let ns = b.entity(Kind::Namespace, &format!("team-{t}"), Labels::default(), Spec::default_for(Kind::Namespace));
        b.relate(&ns, RelKind::LocatedIn, &clusters[t % clusters.len()]);
        namespaces.push(ns);
    }
    let mut cursor = vec![0usize; zones.len()];
    for i in 0..n {
        let team = i % teams;
        let region = team % clusters.len();
        let ns = format!("team-{team}");
        let app = format!("svc-{i:06}");
        let replicas = b.pareto(2.0, 1.8, 50.0) as u32;
        let cpu = [0.1, 0.25, 0.5, 1.0][i % 4];
        let mem = [256u64, 512, 1024, 2048][(i / 4) % 4] << 20;
        let template = PodTemplate {
            labels: Labels::from_pairs([("app", app.as_str())]),
            requests: Resources { cpu: Cores(cpu), memory: Bytes(mem), ..Default::default() },
            limits: Resources { cpu: Cores(cpu * 2.0), memory: Bytes(mem), ..Default::default() },
            ..Default::default()
        };
        let deploy_spec = DeploymentSpec {
            replicas,
            selector: Labels::from_pairs([("app", app.as_str())]),
            template,
            ..Default::default()
        };
        let deployment = b.entity(
            Kind::Deployment,
            &format!("{ns}/{app}"),
            Labels::from_pairs([("app", app.as_str())]),
            Spec::Deployment(Box::new(deploy_spec)),
        );
        b.relate(&deployment, RelKind::LocatedIn, &namespaces[team]);
        b.relate(&service_keys[i], RelKind::RunsOn, &deployment);
        let ksvc = b.entity(
            Kind::K8sService,
            &format!("{ns}/{app}"),
            Labels::default(),
            Spec::K8sService(Box::new(K8sServiceSpec {
                selector: Labels::from_pairs([("app", app.as_str())]),
                ports: vec![ServicePort { port: 80, target_port: Some(8080), ..Default::default() }],
                ..Default::default()
            })),
        );
        b.relate(&deployment, RelKind::Backs, &ksvc);
        b.relate(&ksvc, RelKind::Backs, &service_keys[i]);
        let sa = b.entity(
            Kind::ServiceAccount,
            &format!("{ns}/{app}"),
            Labels::default(),
            Spec::default_for(Kind::ServiceAccount),
        );
        b.relate(&sa, RelKind::AttachedTo, &deployment);
        if replicas >= 3 {
            let pdb = b.entity(
                Kind::Pdb,
                &format!("{ns}/{app}"),
                Labels::default(),
                Spec::Pdb(Box::new(PdbSpec {
                    min_available: Some(IntOrPercent::Percent(50.0)),
                    selector: Labels::from_pairs([("app", app.as_str())]),
                    ..Default::default()
                })),
            );
            b.relate(&pdb, RelKind::AttachedTo, &deployment);
        }
        let hash = format!("{:08x}", b.rng.random::<u32>());
        for p in 0..replicas {
            // Spread replicas over the region's zones, round-robin over each zone's nodes.
            let z = region * 3 + (p as usize % 3);
            let pool = &node_pool[z];
            let (node, _) = pool[cursor[z] % pool.len()].clone();
            cursor[z] += 1;
            let pod_spec = PodSpec {
                requests: Resources { cpu: Cores(cpu), memory: Bytes(mem), ..Default::default() },
                limits: Resources { cpu: Cores(cpu * 2.0), memory: Bytes(mem), ..Default::default() },
                ..Default::default()
            };
            let pod = b.entity(
                Kind::Pod,
                &format!("{ns}/{app}-{}-{p}", &hash[..5]),
                Labels::from_pairs([("app", app.as_str())]),
                Spec::Pod(Box::new(pod_spec)),
            );
            b.relate(&pod, RelKind::RunsOn, &node);
            b.relate(&pod, RelKind::MemberOf, &deployment);
        }
        // Some services own a database (half of them replicated) or a queue.
        if i % 7 == 3 {
            let db_spec = DatastoreSpec {
                engine: "postgresql".into(),
                role: DatastoreRole::Primary,
                storage: Some(Bytes(b.pareto(20.0, 1.2, 4000.0) as u64 * GIB)),
                max_connections: Some(500),
                managed: true,
                ..Default::default()
            };
            let db =
                b.entity(Kind::Datastore, &format!("{app}-db"), Labels::default(), Spec::Datastore(Box::new(db_spec)));
            b.relate(&db, RelKind::LocatedIn, &zones[region * 3].0.clone());
            let attrs = CallAttrs { rate_rps: Some(50.0), timeout_ms: Some(1000.0), ..Default::default() };
            b.out.relations.push(Relation {
                from: service_keys[i].clone(),
                to: db.clone(),
                spec: RelSpec::Calls(Box::new(attrs)),
            });
            if i % 2 == 1 {
                let replica_spec = DatastoreSpec {
                    engine: "postgresql".into(),
                    role: DatastoreRole::Replica,
                    managed: true,
                    ..Default::default()
                };
                let replica = b.entity(
                    Kind::Datastore,
                    &format!("{app}-db-replica"),
                    Labels::default(),
                    Spec::Datastore(Box::new(replica_spec)),
                );
                b.relate(&replica, RelKind::LocatedIn, &zones[region * 3 + 1].0.clone());
                b.relate(&db, RelKind::ReplicatesTo, &replica);
            }
        }
        if i % 20 == 5 {
            let queue = b.entity(
                Kind::Queue,
                &format!("{app}-events"),
                Labels::default(),
                Spec::Queue(Box::new(QueueSpec { engine: "sqs".into(), ..Default::default() })),
            );
            b.out.relations.push(Relation {
                from: service_keys[i].clone(),
                to: queue,
                spec: RelSpec::Calls(Box::new(CallAttrs {
                    mode: doppel_model::relation::CallMode::Async,
                    ..Default::default()
                })),
            });
        }
        // A cloud role per service with a policy.
        let role = b.entity(Kind::Role, &format!("{app}-role"), Labels::default(), Spec::default_for(Kind::Role));
        let policy_spec = PolicySpec {
            statements: vec![Statement {
                effect: RuleAction::Allow,
                actions: vec!["s3:GetObject".into()],
                resources: vec![format!("arn:aws:s3:::{app}/*")],
                conditions: Vec::new(),
            }],
            managed: false,
        };
        let policy =
            b.entity(Kind::Policy, &format!("{app}-policy"), Labels::default(), Spec::Policy(Box::new(policy_spec)));
        b.relate(&policy, RelKind::AttachedTo, &role);
        b.relate(&sa, RelKind::CanAssume, &role);
    }
    // People: a user per ten services, in team groups.
    for t in 0..teams {
        let group = b.entity(Kind::Group, &format!("team-{t}"), Labels::default(), Spec::default_for(Kind::Group));
        for u in 0..2 {
            let user = b.entity(
                Kind::User,
                &format!("user-{t}-{u}"),
                Labels::default(),
                Spec::User(Box::new(UserSpec { mfa: u == 0, ..Default::default() })),
            );
            b.relate(&user, RelKind::MemberOf, &group);
        }
    }
    b.out
}

/// Hourly load factors of a typical consumer service (low at night, evening peak).
pub const DAILY_PROFILE: [f64; 24] = [
    0.45, 0.35, 0.3, 0.28, 0.3, 0.4, 0.6, 0.85, 1.05, 1.15, 1.2, 1.25, 1.3, 1.25, 1.2, 1.2, 1.25, 1.35, 1.5, 1.65, 1.7,
    1.5, 1.1, 0.7,
];

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_model::{Change, ChangeSet, Twin, TwinView};

    fn load(generated: Generated) -> Twin {
        let mut changes: Vec<Change> = generated.entities.into_iter().map(Change::AddEntity).collect();
        changes.extend(generated.relations.into_iter().map(Change::AddRelation));
        let mut twin = Twin::new();
        twin.apply(&ChangeSet::of(changes)).expect("a generated estate is valid");
        twin
    }

    #[test]
    fn generated_estates_are_valid_and_deterministic() {
        let a = load(generate(GenConfig { services: 300, seed: 7 }));
        let b = load(generate(GenConfig { services: 300, seed: 7 }));
        let c = load(generate(GenConfig { services: 300, seed: 8 }));
        assert!(doppel_model::same_content(&a, &b));
        assert!(!doppel_model::same_content(&a, &c));
        let per_service = a.entity_count() as f64 / 300.0;
        assert!((8.0..20.0).contains(&per_service), "{per_service} entities per service");
    }

    #[test]
    fn the_call_graph_is_heavy_tailed() {
        let twin = load(generate(GenConfig { services: 2000, seed: 1 }));
        let mut callers: Vec<usize> = twin
            .entities_of(Kind::Service)
            .map(|s| twin.in_relations(&s.key).iter().filter(|r| r.kind() == RelKind::Calls).count())
            .collect();
        callers.sort_unstable();
        let median = callers[callers.len() / 2];
        let max = *callers.last().unwrap();
        assert!(max >= 10 * median.max(1), "max {max} callers vs median {median}");
    }
}
