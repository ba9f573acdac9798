//! Placement of pods on nodes as the Kubernetes default scheduler does it: filters in the
//! scheduler's order with its reasons, scores with the default weights, disruption budgets
//! and the cluster autoscaler. Pure and deterministic.
