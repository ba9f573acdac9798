//! The Kubernetes kinds the live source watches: their API group, version and scope.

use k8s_openapi::api;
use kube::core::ApiResource;
use serde::{Deserialize, Serialize};

/// A kind of Kubernetes object the live source lists and watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WatchedKind {
    /// `v1` Namespace.
    Namespace,
    /// `v1` Node: allocatable, capacity, labels (zone, region), taints.
    Node,
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `v1` Pod: node, phase, requests.
    Pod,
    /// `v1` Service.
    Service,
    /// `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice,
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
    /// `policy/v1` PodDisruptionBudget.
    PodDisruptionBudget,
    /// `autoscaling/v2` HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// `v1` ServiceAccount.
    ServiceAccount,
    /// `rbac.authorization.k8s.io/v1` Role.
    Role,
    /// `rbac.authorization.k8s.io/v1` ClusterRole.
    ClusterRole,
    /// `rbac.authorization.k8s.io/v1` RoleBinding.
    RoleBinding,
    /// `rbac.authorization.k8s.io/v1` ClusterRoleBinding.
    ClusterRoleBinding,
    /// `v1` ConfigMap: names and keys only.
    ConfigMap,
    /// `v1` Secret: watched through the metadata API only, so its data is never read.
    Secret,
}

impl WatchedKind {
    /// Every kind, in the order they are watched.
    pub const ALL: [WatchedKind; 20] = [
        WatchedKind::Namespace,
        WatchedKind::Node,
        WatchedKind::Deployment,
        WatchedKind::StatefulSet,
        WatchedKind::DaemonSet,
        WatchedKind::ReplicaSet,
        WatchedKind::Pod,
        WatchedKind::Service,
        WatchedKind::EndpointSlice,
        WatchedKind::Ingress,
        WatchedKind::NetworkPolicy,
        WatchedKind::PodDisruptionBudget,
        WatchedKind::HorizontalPodAutoscaler,
        WatchedKind::ServiceAccount,
        WatchedKind::Role,
        WatchedKind::ClusterRole,
        WatchedKind::RoleBinding,
        WatchedKind::ClusterRoleBinding,
        WatchedKind::ConfigMap,
        WatchedKind::Secret,
    ];

    /// The API's name of the kind (`Deployment`).
    pub fn name(self) -> &'static str {
        match self {
            WatchedKind::Namespace => "Namespace",
            WatchedKind::Node => "Node",
            WatchedKind::Deployment => "Deployment",
            WatchedKind::StatefulSet => "StatefulSet",
            WatchedKind::DaemonSet => "DaemonSet",
            WatchedKind::ReplicaSet => "ReplicaSet",
            WatchedKind::Pod => "Pod",
            WatchedKind::Service => "Service",
            WatchedKind::EndpointSlice => "EndpointSlice",
            WatchedKind::Ingress => "Ingress",
            WatchedKind::NetworkPolicy => "NetworkPolicy",
            WatchedKind::PodDisruptionBudget => "PodDisruptionBudget",
            WatchedKind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            WatchedKind::ServiceAccount => "ServiceAccount",
            WatchedKind::Role => "Role",
            WatchedKind::ClusterRole => "ClusterRole",
            WatchedKind::RoleBinding => "RoleBinding",
            WatchedKind::ClusterRoleBinding => "ClusterRoleBinding",
            WatchedKind::ConfigMap => "ConfigMap",
            WatchedKind::Secret => "Secret",
        }
    }

    /// Group, version, kind and plural, as the API serves them.
    pub fn api_resource(self) -> ApiResource {
        match self {
            WatchedKind::Namespace => ApiResource::erase::<api::core::v1::Namespace>(&()),
            WatchedKind::Node => ApiResource::erase::<api::core::v1::Node>(&()),
            WatchedKind::Deployment => ApiResource::erase::<api::apps::v1::Deployment>(&()),
            WatchedKind::StatefulSet => ApiResource::erase::<api::apps::v1::StatefulSet>(&()),
            WatchedKind::DaemonSet => ApiResource::erase::<api::apps::v1::DaemonSet>(&()),
            WatchedKind::ReplicaSet => ApiResource::erase::<api::apps::v1::ReplicaSet>(&()),
            WatchedKind::Pod => ApiResource::erase::<api::core::v1::Pod>(&()),
            WatchedKind::Service => ApiResource::erase::<api::core::v1::Service>(&()),
            WatchedKind::EndpointSlice => ApiResource::erase::<api::discovery::v1::EndpointSlice>(&()),
            WatchedKind::Ingress => ApiResource::erase::<api::networking::v1::Ingress>(&()),
            WatchedKind::NetworkPolicy => ApiResource::erase::<api::networking::v1::NetworkPolicy>(&()),
            WatchedKind::PodDisruptionBudget => ApiResource::erase::<api::policy::v1::PodDisruptionBudget>(&()),
            WatchedKind::HorizontalPodAutoscaler => {
                ApiResource::erase::<api::autoscaling::v2::HorizontalPodAutoscaler>(&())
            }
            WatchedKind::ServiceAccount => ApiResource::erase::<api::core::v1::ServiceAccount>(&()),
            WatchedKind::Role => ApiResource::erase::<api::rbac::v1::Role>(&()),
            WatchedKind::ClusterRole => ApiResource::erase::<api::rbac::v1::ClusterRole>(&()),
            WatchedKind::RoleBinding => ApiResource::erase::<api::rbac::v1::RoleBinding>(&()),
            WatchedKind::ClusterRoleBinding => ApiResource::erase::<api::rbac::v1::ClusterRoleBinding>(&()),
            WatchedKind::ConfigMap => ApiResource::erase::<api::core::v1::ConfigMap>(&()),
            WatchedKind::Secret => ApiResource::erase::<api::core::v1::Secret>(&()),
        }
    }

    /// Whether objects of the kind live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(
            self,
            WatchedKind::Namespace | WatchedKind::Node | WatchedKind::ClusterRole | WatchedKind::ClusterRoleBinding
        )
    }

    /// Whether only the objects' metadata is asked for (Secrets: their data is never read).
    pub fn metadata_only(self) -> bool {
        self == WatchedKind::Secret
    }

    /// The path of the kind's collection under the API server's URL
    /// (`/apis/apps/v1/namespaces/shop/deployments`, `/api/v1/nodes`).
    pub fn collection_path(self, namespace: Option<&str>) -> String {
        let resource = self.api_resource();
        let group = if resource.group.is_empty() {
            format!("/api/{}", resource.version)
        } else {
            format!("/apis/{}/{}", resource.group, resource.version)
        };
        match namespace.filter(|_| self.namespaced()) {
            Some(ns) => format!("{group}/namespaces/{ns}/{}", resource.plural),
            None => format!("{group}/{}", resource.plural),
        }
    }
}

impl std::fmt::Display for WatchedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_their_api_groups_and_paths() {
        assert_eq!(WatchedKind::Deployment.collection_path(Some("shop")), "/apis/apps/v1/namespaces/shop/deployments");
        assert_eq!(WatchedKind::Node.collection_path(Some("shop")), "/api/v1/nodes");
        assert_eq!(WatchedKind::Pod.collection_path(None), "/api/v1/pods");
        assert_eq!(
            WatchedKind::HorizontalPodAutoscaler.collection_path(None),
            "/apis/autoscaling/v2/horizontalpodautoscalers"
        );
        for kind in WatchedKind::ALL {
            assert_eq!(kind.api_resource().kind, kind.name());
        }
        let names: std::collections::BTreeSet<&str> = WatchedKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), WatchedKind::ALL.len());
    }
}
