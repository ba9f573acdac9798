//! PodDisruptionBudgets: how many pods may be evicted, and whether one may.
//!
//! Rules from <https://kubernetes.io/docs/concepts/workloads/pods/disruptions/> and
//! <https://kubernetes.io/docs/tasks/run-application/configure-pdb/> (the disruption
//! controller and the eviction API).

use crate::{Cluster, PodId, PodState};
use doppel_model::{IntOrPercent, Labels};

/// A PodDisruptionBudget.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pdb {
    /// Name.
    pub name: String,
    /// Namespace; it covers pods of this namespace only.
    pub namespace: String,
    /// Labels of the pods it covers.
    pub selector: Labels,
    /// Pods that must stay available.
    pub min_available: Option<IntOrPercent>,
    /// Pods that may be unavailable (takes precedence over `min_available`).
    pub max_unavailable: Option<IntOrPercent>,
}

/// The status the disruption controller would give a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PdbStatus {
    /// Pods expected (the scale of the workloads, or the matching pods for an integer
    /// `min_available`).
    pub expected_pods: u32,
    /// Healthy pods the budget wants.
    pub desired_healthy: u32,
    /// Matching pods that are not terminating.
    pub current_healthy: u32,
    /// Evictions allowed now.
    pub disruptions_allowed: u32,
}

impl Pdb {
    /// The status of this budget given its pods counted elsewhere: `matching` (pods it
    /// covers), `healthy` (those not terminating) and `expected_pods` (the sum of its
    /// workloads' replicas). The rules of [`Cluster::pdb_status`], without the pod scan.
    pub fn status(&self, matching: u32, healthy: u32, expected_pods: u32) -> PdbStatus {
        let (expected, desired) = match (self.max_unavailable, self.min_available) {
            (Some(max), _) => (expected_pods, expected_pods.saturating_sub(max.resolve(expected_pods))),
            (None, Some(IntOrPercent::Count(min))) => (matching, min),
            (None, Some(min)) => (expected_pods, min.resolve(expected_pods)),
            (None, None) => (0, 0),
        };
        let allowed = if expected == 0 { 0 } else { healthy.saturating_sub(desired) };
        PdbStatus {
            expected_pods: expected,
            desired_healthy: desired,
            current_healthy: healthy,
            disruptions_allowed: allowed,
        }
    }
}

impl Cluster {
    /// Pods of `pdb`'s namespace matching its selector: (all, not terminating).
    fn pdb_pods(&self, pdb: &Pdb) -> (u32, u32) {
        let Some(ns) = self.syms.get(&pdb.namespace) else { return (0, 0) };
        let mut all = 0;
        let mut healthy = 0;
        for pod in &self.pods {
            if pod.state == PodState::Removed || pod.ns != ns || !pod.spec.labels.matches(&pdb.selector) {
                continue;
            }
            all += 1;
            if pod.state == PodState::Running {
                healthy += 1;
            }
        }
        (all, healthy)
    }

    /// The status of a budget, given the number of pods its workloads want
    /// (`expected_pods`, the sum of their replicas). Percentages round up, as the
    /// disruption controller does for both fields. A budget with neither field set
    /// allows nothing.
    pub fn pdb_status(&self, pdb: &Pdb, expected_pods: u32) -> PdbStatus {
        let (matching, healthy) = self.pdb_pods(pdb);
        pdb.status(matching, healthy, expected_pods)
    }

    /// How many of a budget's pods may be evicted now: healthy (matching, not
    /// terminating) pods beyond those the budget needs.
    pub fn disruptions_allowed(&self, pdb: &Pdb, expected_pods: u32) -> u32 {
        self.pdb_status(pdb, expected_pods).disruptions_allowed
    }

    /// Whether the eviction API would evict this pod now, given the budgets and the
    /// number of pods each budget's workloads want. A terminating or removed pod is
    /// always evictable; a pod covered by two budgets never is (Kubernetes refuses);
    /// otherwise its budget must allow a disruption. The error names the budget.
    ///
    /// As the eviction API does, a budget with an empty selector covers no pod.
    pub fn can_evict(&self, pod: PodId, pdbs: &[Pdb], expected: impl Fn(&Pdb) -> u32) -> Result<(), String> {
        let Some(rec) = self.pods.get(pod.0 as usize) else { return Ok(()) };
        if rec.state != PodState::Running {
            return Ok(());
        }
        let covering: Vec<&Pdb> = pdbs
            .iter()
            .filter(|pdb| {
                pdb.namespace == rec.spec.namespace
                    && !pdb.selector.is_empty()
                    && rec.spec.labels.matches(&pdb.selector)
            })
            .collect();
        match covering.as_slice() {
            [] => Ok(()),
            [pdb] => {
                let status = self.pdb_status(pdb, expected(pdb));
                if status.disruptions_allowed > 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "Cannot evict pod as it would violate the pod's disruption budget. \
                         The disruption budget {} needs {} healthy pods and has {} currently",
                        pdb.name, status.desired_healthy, status.current_healthy
                    ))
                }
            }
            several => {
                let names: Vec<&str> = several.iter().map(|p| p.name.as_str()).collect();
                Err(format!(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not \
                     support. ({})",
                    names.join(", ")
                ))
            }
        }
    }
}
