//! Prediction on the twin: which entity limits a series approaches ([`limits`]), SLO
//! breaches at the forecast load with the fix checked on a fork ([`slo`]), and the bundled
//! estate's generated telemetry ([`telemetry`]). The algorithms live in
//! `doppel-predict`; this crate joins them to the twin and the performance model.

pub mod anomalies;
pub mod limits;
pub mod rca;
pub mod slo;
pub mod stored;
pub mod telemetry;
pub mod units;
