//! Prediction on series: forecasts with intervals, time to a limit, streaming anomaly
//! scores, the Numenta Anomaly Benchmark's scoring, model drift and root-cause ranking.
//!
//! Everything here works on plain numbers ([`Series`], graphs of indices); the glue that
//! reads the twin, the store and the performance model lives in `doppel-foresight`.

use thiserror::Error;

pub mod anomaly;
pub mod drift;
pub mod nab;
pub mod rca;
pub mod series;

// Forecasting (issue 6): periods, models, backtests, time to a limit.
pub mod backtest;
pub mod forecast;
mod line;
pub mod saturation;
pub mod season;

pub use anomaly::{Anomaly, AnomalyKind, Detector, DetectorConfig};
pub use series::Series;

/// Why a prediction could not be made.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PredictError {
    /// Too little usable data for what was asked (never a NaN instead).
    #[error("not enough data for {what}: {have} usable values, at least {need} needed")]
    NotEnoughData {
        /// What was asked (`a forecast`, `period detection`).
        what: String,
        /// Values needed.
        need: usize,
        /// Usable values there were.
        have: usize,
    },
    /// Input outside what is accepted, with what and where.
    #[error("{0}")]
    Invalid(String),
}

/// The broad class of a [`PredictError`], for exit codes and HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was wrong.
    InvalidInput,
    /// The input was right but too short or too empty.
    NotEnoughData,
}

impl PredictError {
    /// Its class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PredictError::NotEnoughData { .. } => ErrorKind::NotEnoughData,
            PredictError::Invalid(_) => ErrorKind::InvalidInput,
        }
    }

    /// A `NotEnoughData` error.
    pub fn not_enough(what: impl Into<String>, need: usize, have: usize) -> PredictError {
        PredictError::NotEnoughData { what: what.into(), need, have }
    }
}
