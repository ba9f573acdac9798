//! Failure what-ifs through every layer of the twin: a scenario fails or degrades parts of
//! the estate; Kubernetes evicts and reschedules; surviving capacity carries the load or
//! does not; failures and retries cascade up the call graph to the entry points.
//!
//! Everything here reads a [`TwinView`](doppel_model::TwinView) and never changes it.

pub mod answers;
pub mod availability;
pub mod behaviour;
pub mod engine;
pub mod failgraph;
pub mod report;
pub mod scenario;
pub mod sweep;
pub mod topology;

pub use engine::run;
pub use report::{EntryReport, Report, State};
pub use scenario::{Scenario, ScenarioFile};
pub use topology::Topology;
