//! The twin: a typed graph of an estate's entities and relations, changed only by
//! [`ChangeSet`]s, read through [`TwinView`], forked cheaply for what-ifs.
//!
//! Architecture invariant: this crate does no I/O and knows nothing of sources, storage,
//! HTTP or UI. Every other crate may depend on it; it depends on no other crate of Doppel.

mod apply;
pub mod changeset;
pub mod describe;
pub mod diff;
pub mod entity;
pub mod error;
pub mod fork;
pub mod key;
pub mod kind;
mod numbers;
pub mod relation;
pub mod select;
pub mod spec;
pub mod suggest;
pub mod twin;
pub mod units;
pub mod view;
pub mod walk;

pub use changeset::{Change, ChangeSet, ChangeSummary, Counts, Provenance};
pub use diff::{diff, export, same_content};
pub use entity::{Entity, FieldProblem};
pub use error::{ApplyError, ApplyErrors, ProblemKind};
pub use fork::Fork;
pub use key::{Key, KeyError};
pub use kind::{Family, Kind};
pub use relation::{CallAttrs, Criticality, DependencyDirection, RelKey, RelKind, RelSpec, Relation};
pub use select::{Selector, SelectorError};
pub use spec::Spec;
pub use twin::Twin;
pub use units::{Bytes, Cores, IntOrPercent, Labels};
pub use view::{RelationRef, TwinView};
pub use walk::{Direction, WalkStep, walk};
