//! The Terraform source on the project's own fixtures: what a reader of the state would
//! list, what a plan changes, the compliance test, and no panic on any input.

use doppel_estate::SourceFile;
use doppel_model::spec::{Direction, GatewayType, LbScheme, Protocol, RuleAction};
use doppel_model::{Change, Key, Kind, RelKey, RelKind, Spec, Twin, TwinView};
use doppel_sources::compliance::{Case, check};
use doppel_sources::terraform::{Terraform, TerraformConfig};
use doppel_sources::{Source, WarningKind};
use proptest::prelude::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/terraform").join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

fn source_of(path: &str, text: String, prune: bool) -> Terraform {
    TerraformConfig { prune, ..TerraformConfig::default() }.build(vec![SourceFile { path: path.into(), text }])
}

fn source(name: &str, prune: bool) -> Terraform {
    source_of(name, text(name), prune)
}

/// The state fixture without the EKS module and the IAM user: a smaller listing.
fn smaller_state() -> String {
    let mut state: serde_json::Value = serde_json::from_str(&text("shop-state.json")).expect("JSON");
    let root = &mut state["values"]["root_module"];
    root["child_modules"].as_array_mut().expect("modules").retain(|m| m["address"] != "module.eks");
    root["resources"].as_array_mut().expect("resources").retain(|r| r["address"] != "aws_iam_user.alice");
    serde_json::to_string(&state).expect("JSON")
}

fn key(text: &str) -> Key {
    text.parse().expect("key")
}

fn has(twin: &Twin, from: &str, kind: RelKind, to: &str) -> bool {
    twin.relation(&RelKey { from: key(from), kind, to: key(to) }).is_some()
}

const SECRETS: &[&str] = &[
    "hunter2-in-user-data",
    "encrypted-windows-password-xyz",
    "S3cr3t-Passw0rd-never-stored",
    "tok-elasticache-auth-never-stored",
    "wJalrXUtnFEMI-access-secret-never-stored",
    "LS0tLS1CRUdJTi-cert-not-secret",
];

#[test]
fn the_terraform_source_complies() {
    let full = || source("shop-state.json", true);
    let smaller = || source_of("shop-state.json", smaller_state(), true);
    let bad: Vec<Box<dyn Fn() -> Terraform>> =
        ["bad/format-2.json", "bad/truncated.json", "bad/bad-cidr.json", "bad/resources-not-a-list.json"]
            .into_iter()
            .map(|name| Box::new(move || source(name, true)) as Box<dyn Fn() -> Terraform>)
            .collect();
    let twin =
        check(&Case { full: &full, smaller: &smaller, bad, secrets: SECRETS.iter().map(|s| s.to_string()).collect() });
    assert!(twin.contains(&key("cluster/module.eks.aws_eks_cluster.this")));
}

#[test]
fn a_reader_of_the_state_finds_its_network_compute_data_and_identities() {
    let mut twin = Twin::new();
    let batch = source("shop-state.json", true).changes(&twin).expect("the state imports");
    twin.apply(&batch.changeset).expect("applies");
    let names = |kind: Kind| {
        let mut names: Vec<String> = twin.entities_of(kind).map(|e| e.key.name().to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(Kind::Network), ["aws_vpc.main"]);
    assert_eq!(names(Kind::Subnet), ["aws_subnet.private_a", "aws_subnet.private_b", "aws_subnet.public_a"]);
    assert_eq!(names(Kind::Zone), ["eu-west-1a", "eu-west-1b"]);
    assert_eq!(names(Kind::Region), ["eu-west-1"]);
    assert_eq!(names(Kind::Host), ["aws_instance.bastion"]);
    assert_eq!(
        names(Kind::Datastore),
        [
            "aws_s3_bucket.assets",
            "module.db.aws_db_instance.this",
            "module.db.aws_elasticache_replication_group.sessions"
        ]
    );
    assert_eq!(names(Kind::User), ["aws_iam_user.alice"]);
    assert_eq!(names(Kind::Role), ["aws_iam_role.eks", "aws_iam_role.web"]);
    assert_eq!(
        names(Kind::Policy),
        [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            "aws_iam_policy.read_assets"
        ]
    );
    assert_eq!(
        names(Kind::SecurityGroup),
        ["aws_security_group.db", "aws_security_group.lb", "aws_security_group.web"]
    );
    assert!(names(Kind::Host).iter().all(|n| !n.contains("lambda")), "unknown types make no entity");

    // Subnets in their VPC and zone; public only where a route table goes to the internet gateway.
    assert!(has(&twin, "subnet/aws_subnet.private_b", RelKind::LocatedIn, "network/aws_vpc.main"));
    assert!(has(&twin, "subnet/aws_subnet.private_b", RelKind::LocatedIn, "zone/eu-west-1b"));
    assert!(has(&twin, "zone/eu-west-1b", RelKind::LocatedIn, "region/eu-west-1"));
    let subnet = |name: &str| match twin.entity(&key(&format!("subnet/{name}"))).map(|e| &e.spec) {
        Some(Spec::Subnet(s)) => (s.cidr.map(|c| c.0.to_string()), s.public),
        _ => panic!("a subnet"),
    };
    assert_eq!(subnet("aws_subnet.public_a"), (Some("10.20.0.0/24".into()), true));
    assert_eq!(subnet("aws_subnet.private_a"), (Some("10.20.10.0/24".into()), false));

    // Security group rules: inline, aws_security_group_rule, and the vpc_security_group rule resources.
    let group = |name: &str| match twin.entity(&key(&format!("security-group/{name}"))).map(|e| &e.spec) {
        Some(Spec::SecurityGroup(g)) => g.as_ref().clone(),
        _ => panic!("a security group"),
    };
    let lb = group("aws_security_group.lb");
    assert_eq!(lb.ingress.len(), 1);
    assert_eq!((lb.ingress[0].protocol, lb.ingress[0].ports.from), (Protocol::Tcp, Some(443)));
    assert_eq!(lb.ingress[0].cidrs.iter().map(|c| c.0.to_string()).collect::<Vec<_>>(), ["0.0.0.0/0"]);
    assert_eq!(lb.egress[0].protocol, Protocol::All);
    let web = group("aws_security_group.web");
    assert_eq!(web.ingress.len(), 1);
    assert_eq!(web.ingress[0].ports.from, Some(8080));
    assert_eq!(web.ingress[0].groups, [key("security-group/aws_security_group.lb")]);
    assert_eq!(web.egress[0].cidrs.iter().map(|c| c.0.to_string()).collect::<Vec<_>>(), ["10.20.0.0/16"]);
    let db = group("aws_security_group.db");
    assert_eq!(
        (db.ingress[0].ports.from, db.ingress[0].groups.clone()),
        (Some(5432), vec![key("security-group/aws_security_group.web")])
    );

    let Some(Spec::NetworkAcl(acl)) = twin.entity(&key("network-acl/aws_network_acl.private")).map(|e| &e.spec) else {
        panic!("an ACL")
    };
    let deny = acl.rules.iter().find(|r| r.number == 200 && r.direction == Direction::Ingress).expect("rule 200");
    assert_eq!(deny.action, RuleAction::Deny);
    assert!(has(&twin, "network-acl/aws_network_acl.private", RelKind::AttachedTo, "subnet/aws_subnet.private_b"));

    // Routes: the public table goes to the internet gateway, the private one through the NAT.
    assert!(has(&twin, "route-table/aws_route_table.public", RelKind::RoutesTo, "gateway/aws_internet_gateway.main"));
    assert!(has(&twin, "route-table/aws_route_table.private", RelKind::RoutesTo, "gateway/aws_nat_gateway.a"));
    assert!(has(&twin, "route-table/aws_route_table.private", RelKind::AttachedTo, "subnet/aws_subnet.private_a"));
    assert!(has(&twin, "gateway/aws_nat_gateway.a", RelKind::LocatedIn, "subnet/aws_subnet.public_a"));
    let Some(Spec::Gateway(nat)) = twin.entity(&key("gateway/aws_nat_gateway.a")).map(|e| &e.spec) else { panic!() };
    assert_eq!(nat.gateway_type, GatewayType::Nat);

    // Instances: where they run, what guards them, what they may assume.
    let Some(Spec::Host(bastion)) = twin.entity(&key("host/aws_instance.bastion")).map(|e| &e.spec) else { panic!() };
    assert_eq!(bastion.instance_type.as_deref(), Some("t3.micro"));
    assert_eq!(bastion.private_ip.map(|ip| ip.to_string()).as_deref(), Some("10.20.0.5"));
    assert!(has(&twin, "host/aws_instance.bastion", RelKind::LocatedIn, "subnet/aws_subnet.public_a"));
    assert!(has(&twin, "security-group/aws_security_group.web", RelKind::AttachedTo, "host/aws_instance.bastion"));
    assert!(has(&twin, "host/aws_instance.bastion", RelKind::CanAssume, "role/aws_iam_role.web"));

    // The load balancer chain: listener -> target group -> instance and autoscaling group.
    let Some(Spec::LoadBalancer(alb)) = twin.entity(&key("load-balancer/aws_lb.public")).map(|e| &e.spec) else {
        panic!()
    };
    assert_eq!(alb.scheme, LbScheme::InternetFacing);
    assert_eq!(alb.listeners.iter().map(|l| (l.port, l.protocol.as_str())).collect::<Vec<_>>(), [(443, "https")]);
    assert!(has(&twin, "load-balancer/aws_lb.public", RelKind::RoutesTo, "target-group/aws_lb_target_group.web"));
    assert!(has(&twin, "target-group/aws_lb_target_group.web", RelKind::RoutesTo, "host/aws_instance.bastion"));
    assert!(has(
        &twin,
        "target-group/aws_lb_target_group.web",
        RelKind::RoutesTo,
        "autoscaling-group/aws_autoscaling_group.web"
    ));
    assert!(has(&twin, "security-group/aws_security_group.lb", RelKind::AttachedTo, "load-balancer/aws_lb.public"));
    assert!(has(
        &twin,
        "autoscaling-group/aws_autoscaling_group.web",
        RelKind::DependsOn,
        "launch-template/aws_launch_template.web"
    ));
    assert!(has(
        &twin,
        "autoscaling-group/aws_autoscaling_group.web",
        RelKind::LocatedIn,
        "subnet/aws_subnet.private_b"
    ));
    let Some(Spec::AutoscalingGroup(asg)) =
        twin.entity(&key("autoscaling-group/aws_autoscaling_group.web")).map(|e| &e.spec)
    else {
        panic!()
    };
    assert_eq!((asg.min_size, asg.max_size, asg.desired), (2, 6, Some(3)));

    // Data: RDS in its subnet group's subnets, behind its security group; the cache too.
    let Some(Spec::Datastore(rds)) = twin.entity(&key("datastore/module.db.aws_db_instance.this")).map(|e| &e.spec)
    else {
        panic!()
    };
    assert_eq!((rds.engine.as_str(), rds.multi_zone, rds.storage.map(|b| b.0)), ("postgres", true, Some(100 << 30)));
    assert!(has(&twin, "datastore/module.db.aws_db_instance.this", RelKind::LocatedIn, "subnet/aws_subnet.private_a"));
    assert!(has(
        &twin,
        "security-group/aws_security_group.db",
        RelKind::AttachedTo,
        "datastore/module.db.aws_db_instance.this"
    ));
    assert!(has(
        &twin,
        "datastore/module.db.aws_elasticache_replication_group.sessions",
        RelKind::LocatedIn,
        "subnet/aws_subnet.private_b"
    ));

    // Kubernetes on EKS.
    assert!(has(
        &twin,
        "node-group/module.eks.aws_eks_node_group.default",
        RelKind::MemberOf,
        "cluster/module.eks.aws_eks_cluster.this"
    ));
    let Some(Spec::NodeGroup(pool)) =
        twin.entity(&key("node-group/module.eks.aws_eks_node_group.default")).map(|e| &e.spec)
    else {
        panic!()
    };
    assert_eq!((pool.instance_type.as_deref(), pool.min_size, pool.max_size), (Some("m6i.xlarge"), 2, 10));

    // IAM: attachments grant policies; memberships; statements parsed.
    assert!(has(&twin, "policy/aws_iam_policy.read_assets", RelKind::Grants, "role/aws_iam_role.web"));
    assert!(has(
        &twin,
        "policy/arn:aws:iam::aws:policy/AdministratorAccess",
        RelKind::Grants,
        "group/aws_iam_group.ops"
    ));
    assert!(has(&twin, "user/aws_iam_user.alice", RelKind::MemberOf, "group/aws_iam_group.ops"));
    let Some(Spec::Policy(read)) = twin.entity(&key("policy/aws_iam_policy.read_assets")).map(|e| &e.spec) else {
        panic!()
    };
    assert_eq!(read.statements[0].actions, ["s3:GetObject", "s3:ListBucket"]);
    let Some(Spec::Policy(admin)) =
        twin.entity(&key("policy/arn:aws:iam::aws:policy/AdministratorAccess")).map(|e| &e.spec)
    else {
        panic!()
    };
    assert!(admin.managed && !read.managed);

    let counts = batch.warning_counts();
    assert_eq!(counts.get(&(WarningKind::UnknownKind, "aws_lambda_function".to_string())), Some(&1));
    assert_eq!(counts.get(&(WarningKind::UnknownKind, "aws_iam_access_key".to_string())), Some(&1));
    assert_eq!(counts.get(&(WarningKind::Skipped, "data.aws_caller_identity".to_string())), Some(&1));
    assert_eq!(counts.values().sum::<usize>(), 3, "{counts:?}");

    let stored = serde_json::to_string(&doppel_model::export(&twin)).expect("serialises");
    for secret in SECRETS {
        assert!(!stored.contains(secret), "{secret} reached the twin");
    }
}

#[test]
fn a_plan_adds_updates_removes_and_replaces_against_the_twin() {
    let mut twin = Twin::new();
    let state = source("shop-state.json", true).changes(&twin).expect("state");
    twin.apply(&state.changeset).expect("applies");
    // Partial: deletions must come from the plan's actions, not from the listing.
    let mut plan_source = source("shop-plan.json", false);
    let batch = plan_source.changes(&twin).expect("plan");
    let summary = plan_source.plan().expect("a plan").clone();
    assert_eq!(summary.create, ["aws_instance.worker[0]", "aws_security_group.worker", "aws_subnet.private_c"]);
    assert_eq!(summary.delete, ["aws_s3_bucket.assets"]);
    assert_eq!(summary.replace, ["aws_nat_gateway.a"]);
    assert!(summary.update.contains(&"aws_instance.bastion".to_string()));

    let changes = &batch.changeset.changes;
    let position = |wanted: &dyn Fn(&Change) -> bool| changes.iter().position(wanted);
    let added = |k: &str| position(&|c| matches!(c, Change::AddEntity(e) if e.key == key(k)));
    let removed = |k: &str| position(&|c| matches!(c, Change::RemoveEntity(r) if *r == key(k)));
    let updated = |k: &str| position(&|c| matches!(c, Change::UpdateEntity(e) if e.key == key(k)));
    assert!(added("subnet/aws_subnet.private_c").is_some());
    assert!(added("zone/eu-west-1c").is_some());
    assert!(updated("host/aws_instance.bastion").is_some());
    assert!(removed("datastore/aws_s3_bucket.assets").is_some());
    let (gone, back) = (removed("gateway/aws_nat_gateway.a"), added("gateway/aws_nat_gateway.a"));
    assert!(gone.is_some() && back.is_some() && gone < back, "a replacement is a removal, then an addition");
    assert!(updated("network/aws_vpc.main").is_none(), "unchanged resources are not touched");

    twin.apply(&batch.changeset).expect("the plan applies");
    let Some(Spec::Host(bastion)) = twin.entity(&key("host/aws_instance.bastion")).map(|e| &e.spec) else { panic!() };
    assert_eq!(bastion.instance_type.as_deref(), Some("t3.small"));
    // Unknown after apply: the new NAT gateway's address is left unset.
    let Some(Spec::Gateway(nat)) = twin.entity(&key("gateway/aws_nat_gateway.a")).map(|e| &e.spec) else { panic!() };
    assert_eq!(nat.public_ip, None);
    assert!(has(&twin, "gateway/aws_nat_gateway.a", RelKind::LocatedIn, "subnet/aws_subnet.private_a"));
    assert!(has(&twin, "subnet/aws_subnet.private_c", RelKind::LocatedIn, "network/aws_vpc.main"));
    assert!(!twin.contains(&key("datastore/aws_s3_bucket.assets")));
    // Ids only known after apply: the configuration says which resource they will come from.
    assert!(has(&twin, "host/aws_instance.worker[0]", RelKind::LocatedIn, "subnet/aws_subnet.private_c"));
    assert!(has(&twin, "security-group/aws_security_group.worker", RelKind::AttachedTo, "host/aws_instance.worker[0]"));
    let stored = serde_json::to_string(&doppel_model::export(&twin)).expect("serialises");
    assert!(!stored.contains("tfref:"), "a reference placeholder was stored");
    // An instance whose subnet is outside the import: a warning with its file, and placed in its zone.
    let outside = batch.warnings.iter().find(|w| w.kind == WarningKind::Unresolved);
    assert!(outside.is_none(), "every reference of the plan resolves: {outside:?}");
    let partial = r#"{"format_version": "1.0", "values": {"root_module": {"resources": [{"address": "aws_instance.a",
        "type": "aws_instance", "mode": "managed", "values": {"subnet_id": "subnet-elsewhere", "availability_zone": "eu-west-1a"}}]}}}"#;
    let observation = source_of("partial.json", partial.to_string(), true).pull().expect("reads");
    let warning = observation.warnings.iter().find(|w| w.kind == WarningKind::Unresolved).expect("a warning");
    assert_eq!(warning.subject, "subnet");
    assert_eq!(warning.place.as_ref().map(|p| p.file.as_str()), Some("partial.json"));
    assert!(warning.message.contains("subnet-elsewhere"), "{warning}");
    assert!(
        observation.relations.iter().any(|r| r.to == key("zone/eu-west-1a")),
        "placed in its zone instead of the missing subnet"
    );
}

#[test]
fn format_versions_are_checked() {
    let document = |version: &str| {
        format!(
            "{{\"format_version\": \"{version}\", \"terraform_version\": \"9.0.0\", \"values\": {{\"root_module\": {{}}}}}}"
        )
    };
    let newer = source_of("newer.json", document("1.9"), true).pull().expect("a newer minor is read");
    assert_eq!(newer.warnings.len(), 1);
    assert_eq!(newer.warnings[0].kind, WarningKind::Format);
    assert!(newer.warnings[0].message.contains("1.9"), "{}", newer.warnings[0]);
    let old = source_of("old.json", document("0.1"), true).pull().expect("0.1 is read");
    assert!(old.warnings.is_empty());
    let error = source_of("future.json", document("2.0"), true).pull().expect_err("a new major is refused");
    let message = error.to_string();
    assert!(message.contains("future.json:1:2"), "{message}");
    assert!(message.contains("`2.0`") && message.contains("1.x (up to 1.2)"), "{message}");
}

#[test]
fn errors_name_the_file_and_the_path_inside_it() {
    let error = source("bad/bad-cidr.json", true).pull().expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("source `terraform`"), "{message}");
    assert!(message.contains("bad/bad-cidr.json"), "{message}");
    assert!(message.contains("aws_subnet.broken"), "{message}");
    assert!(message.contains("values.root_module.resources[1].values.cidr_block"), "{message}");
    assert!(message.contains("expected an address block"), "{message}");
    let truncated = source("bad/truncated.json", true).pull().expect_err("refused");
    assert!(truncated.to_string().contains("truncated.json:29:"), "{truncated}");
}

#[test]
fn the_shared_terraform_examples_import_where_present() {
    // Not copied into the repository: read only where the shared data sits beside it.
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/terraform");
    let Ok(entries) = std::fs::read_dir(&shared) else { return };
    for entry in entries.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "json")) {
        let path = entry.path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let batch = source_of(&path.display().to_string(), text, true).changes(&Twin::new());
        let batch = batch.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(batch.observed.iter().any(|k| k.kind() == Kind::Host), "{}: no instance", path.display());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics_and_errors_are_located(text in "\\PC{0,300}") {
        if let Err(error) = source_of("fuzz.json", text, true).pull() {
            prop_assert!(error.place().is_some(), "no place: {}", error);
            prop_assert!(error.to_string().contains("fuzz.json"), "no file: {}", error);
        }
    }

    #[test]
    fn arbitrary_json_values_never_panic(value in json_value()) {
        let document = serde_json::json!({"format_version": "1.0", "values": {"root_module": {"resources": [
            {"address": "aws_security_group.x", "type": "aws_security_group", "mode": "managed", "values": value.clone()},
            {"address": "aws_instance.x", "type": "aws_instance", "mode": "managed", "values": value},
        ]}}});
        if let Err(error) = source_of("values.json", document.to_string(), true).changes(&Twin::new()) {
            prop_assert!(error.to_string().contains("values.json"), "{}", error);
            prop_assert!(error.to_string().contains("values.root_module.resources["), "no path: {}", error);
        }
    }

    #[test]
    fn truncated_documents_never_panic(cut in 0usize..90_000, which in 0usize..2) {
        let text = text(["shop-state.json", "shop-plan.json"][which]);
        let mut end = cut.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        match source_of("cut.json", text[..end].to_string(), true).changes(&Twin::new()) {
            Ok(batch) => prop_assert!(batch.observed.iter().all(|k| !k.name().is_empty())),
            Err(error) => {
                prop_assert!(error.to_string().contains("source `terraform`"), "{}", error);
                prop_assert!(error.to_string().contains("cut.json"), "{}", error);
            }
        }
    }
}

/// Arbitrary JSON values, attribute maps with the names the mapper reads among them.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let names = prop::sample::select(vec![
        "id",
        "vpc_id",
        "subnet_id",
        "cidr_block",
        "cidr_blocks",
        "ingress",
        "egress",
        "from_port",
        "to_port",
        "protocol",
        "private_ip",
        "vpc_security_group_ids",
        "security_groups",
        "self",
        "instance_type",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "[a-z0-9./-]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(names.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}
