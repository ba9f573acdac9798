//! Request handlers, one module per family of endpoints.

pub mod admin;
pub mod analysis;
pub mod events;
pub mod perf;
pub mod read;
