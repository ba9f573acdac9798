//! Load models: how one service answers at a given load and capacity.
//!
//! The resilience cascade and the performance analyses ask the same question of every
//! service ("this many requests per second arrive at this many servers; what comes
//! out?") through [`LoadModel`]. [`UtilisationLaw`] is the simplest answer; queueing
//! models plug in behind the same trait.

use thiserror::Error;

pub mod analytic;
mod calendar;
pub mod calibrate;
pub mod capacity;
pub mod dist;
pub mod hist;
pub mod mmc;
pub mod network;
pub mod sim;

pub use dist::ServiceDist;
pub use network::{Breaker, Call, Endpoint, Network, Retry, Slo, Source, Station, Step};

/// The load on one service (a station) at one instant of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct StationLoad {
    /// Offered load, retries included, in requests per second.
    pub arrival_rps: f64,
    /// Requests worked on at once: ready replicas x concurrency per replica x speed factor.
    pub servers: f64,
    /// Mean service time of one request, in milliseconds.
    pub service_time_ms: f64,
    /// Coefficient of variation of the service time (1 for exponential, 0 for constant).
    pub service_time_cv: f64,
    /// Requests that may wait beyond those in service, if bounded.
    pub queue_limit: Option<u32>,
    /// How long callers wait before giving up, if they do.
    pub timeout_ms: Option<f64>,
}

/// How a station answers its load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StationResult {
    /// Offered work over servers; above 1 means overload.
    pub utilisation: f64,
    /// Mean response time of the requests served, in milliseconds.
    pub latency_ms: f64,
    /// 99th-percentile response time, when the model knows it.
    pub latency_p99_ms: Option<f64>,
    /// Share of arrivals dropped or timed out, from 0 to 1.
    pub loss: f64,
}

/// Why a load could not be evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PerfError {
    /// An input is negative, not finite, or otherwise impossible.
    #[error("{field} is {value}: {expected}")]
    InvalidInput {
        /// The field at fault.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What was expected instead.
        expected: &'static str,
    },
    /// A queue asked to settle with as much work arriving as its servers can do, or more.
    #[error("utilisation is {utilisation:.3}: a queue settles only below 1 (add servers or lower the load)")]
    Saturated {
        /// Offered work per server.
        utilisation: f64,
    },
    /// A station of a network would be busy all the time or more: no steady state.
    #[error("{station} would be {:.0}% busy ({arrival_rps:.1} rps on {servers} server{}): a queue settles only below 100% (add servers or lower the load)", utilisation * 100.0, if *servers == 1 { "" } else { "s" })]
    Overloaded {
        /// The station.
        station: String,
        /// Its index in the network.
        index: usize,
        /// Offered work per server.
        utilisation: f64,
        /// Requests per second arriving.
        arrival_rps: f64,
        /// Its servers.
        servers: u32,
    },
    /// A station with no servers (down, or scaled to 0) receives requests.
    #[error("{station} has no servers (it is down or scaled to 0 replicas) yet receives {arrival_rps:.1} rps")]
    Down {
        /// The station.
        station: String,
        /// Its index in the network.
        index: usize,
        /// Requests per second arriving.
        arrival_rps: f64,
    },
    /// The behavioural model is inconsistent (each problem named with its place).
    #[error("{0}")]
    Model(String),
}

/// A model of one service under load: the one interface resilience and performance share.
pub trait LoadModel: Sync {
    /// Short name shown in reports (`utilisation-law`, `mmc`).
    fn name(&self) -> &'static str;

    /// Evaluates one station at one load.
    fn station(&self, load: &StationLoad) -> Result<StationResult, PerfError>;
}

impl StationLoad {
    /// Checks every field is finite and in range; the first problem found is returned.
    pub fn check(&self) -> Result<(), PerfError> {
        let fields = [
            ("arrival_rps", self.arrival_rps),
            ("servers", self.servers),
            ("service_time_ms", self.service_time_ms),
            ("service_time_cv", self.service_time_cv),
        ];
        for (field, value) in fields {
            if !value.is_finite() || value < 0.0 {
                return Err(PerfError::InvalidInput { field, value, expected: "a finite number of at least 0" });
            }
        }
        if let Some(timeout) = self.timeout_ms
            && (!timeout.is_finite() || timeout <= 0.0)
        {
            return Err(PerfError::InvalidInput {
                field: "timeout_ms",
                value: timeout,
                expected: "a finite number above 0",
            });
        }
        Ok(())
    }

    /// Offered work in servers' worth: arrival rate times service time.
    pub fn offered_work(&self) -> f64 {
        self.arrival_rps * self.service_time_ms / 1000.0
    }
}

/// The utilisation law (U = X S / c) with shedding: requests are served at their service
/// time while utilisation is below 1; above it, the excess is lost and the requests served
/// wait up to the timeout. Queueing delay below saturation is ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct UtilisationLaw;

impl LoadModel for UtilisationLaw {
    fn name(&self) -> &'static str {
        "utilisation-law"
    }

    fn station(&self, load: &StationLoad) -> Result<StationResult, PerfError> {
        load.check()?;
        let work = load.offered_work();
        if load.arrival_rps == 0.0 {
            return Ok(StationResult {
                utilisation: 0.0,
                latency_ms: load.service_time_ms,
                latency_p99_ms: None,
                loss: 0.0,
            });
        }
        if load.servers == 0.0 {
            return Ok(StationResult {
                utilisation: f64::INFINITY,
                latency_ms: load.timeout_ms.unwrap_or(load.service_time_ms),
                latency_p99_ms: None,
                loss: 1.0,
            });
        }
        let rho = work / load.servers;
        if rho < 1.0 {
            return Ok(StationResult {
                utilisation: rho,
                latency_ms: load.service_time_ms,
                latency_p99_ms: None,
                loss: 0.0,
            });
        }
        Ok(StationResult {
            utilisation: rho,
            latency_ms: load.timeout_ms.unwrap_or(load.service_time_ms).max(load.service_time_ms),
            latency_p99_ms: None,
            loss: 1.0 - 1.0 / rho,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(arrival_rps: f64, servers: f64) -> StationLoad {
        StationLoad {
            arrival_rps,
            servers,
            service_time_ms: 100.0,
            service_time_cv: 1.0,
            queue_limit: None,
            timeout_ms: Some(500.0),
        }
    }

    #[test]
    fn below_saturation_nothing_is_lost() {
        // 8 rps x 0.1 s = 0.8 servers' worth of work on 2 servers: 40 % busy.
        let r = UtilisationLaw.station(&load(8.0, 2.0)).unwrap();
        assert!((r.utilisation - 0.4).abs() < 1e-12);
        assert_eq!(r.loss, 0.0);
        assert_eq!(r.latency_ms, 100.0);
    }

    #[test]
    fn overload_sheds_the_excess() {
        // 40 rps x 0.1 s = 4 servers' worth on 2: half is lost, the rest waits to the timeout.
        let r = UtilisationLaw.station(&load(40.0, 2.0)).unwrap();
        assert!((r.utilisation - 2.0).abs() < 1e-12);
        assert!((r.loss - 0.5).abs() < 1e-12);
        assert_eq!(r.latency_ms, 500.0);
    }

    #[test]
    fn no_servers_loses_everything_and_idle_loses_nothing() {
        assert_eq!(UtilisationLaw.station(&load(1.0, 0.0)).unwrap().loss, 1.0);
        assert_eq!(UtilisationLaw.station(&load(0.0, 0.0)).unwrap().loss, 0.0);
    }

    #[test]
    fn bad_input_is_refused_with_the_field_named() {
        let err = UtilisationLaw.station(&load(-1.0, 2.0)).unwrap_err();
        assert!(err.to_string().starts_with("arrival_rps is -1"), "{err}");
        let err = UtilisationLaw.station(&load(f64::NAN, 2.0)).unwrap_err();
        assert!(err.to_string().contains("arrival_rps"), "{err}");
        let mut l = load(1.0, 1.0);
        l.timeout_ms = Some(0.0);
        assert!(UtilisationLaw.station(&l).unwrap_err().to_string().contains("timeout_ms"));
    }
}
