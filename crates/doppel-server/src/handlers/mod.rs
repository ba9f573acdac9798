//! Request handlers, one module per family of endpoints.

pub mod admin;
pub mod analysis;
pub mod change;
pub mod events;
pub mod perf;
pub mod predict;
pub mod read;
