//! The M/M/c queue in steady state, exactly (Erlang C): Poisson arrivals, exponential
//! service, `c` servers, an unbounded queue. The analytic solver builds on it.

use crate::PerfError;

/// Steady state of an M/M/c queue. Times are in the unit the rates are per (rates per
/// second give seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmc {
    /// Offered work per server (arrival rate over servers times service rate), below 1.
    pub utilisation: f64,
    /// Probability that an arrival waits (Erlang C).
    pub wait_probability: f64,
    /// Mean time in the queue.
    pub mean_wait: f64,
    /// Mean time in the system: waiting plus service.
    pub mean_response: f64,
    /// Mean number in the system (Little's law).
    pub mean_in_system: f64,
}

/// The steady state of an M/M/c queue with `arrival` and `service` rates (per server) and
/// `servers` servers. Refuses rates that are negative or not finite, no servers, and a
/// queue that never settles (utilisation at or above 1), naming what is wrong.
pub fn mmc(arrival: f64, service: f64, servers: u32) -> Result<Mmc, PerfError> {
    if !arrival.is_finite() || arrival < 0.0 {
        return Err(PerfError::InvalidInput {
            field: "arrival rate",
            value: arrival,
            expected: "a finite number of at least 0",
        });
    }
    if !service.is_finite() || service <= 0.0 {
        return Err(PerfError::InvalidInput {
            field: "service rate",
            value: service,
            expected: "a finite number above 0",
        });
    }
    if servers == 0 {
        return Err(PerfError::InvalidInput { field: "servers", value: 0.0, expected: "at least 1" });
    }
    let offered = arrival / service;
    let c = f64::from(servers);
    let utilisation = offered / c;
    if utilisation >= 1.0 {
        return Err(PerfError::Saturated { utilisation });
    }
    // Erlang B by its recurrence (stable for any number of servers), then Erlang C from it.
    let blocked = (1..=servers).fold(1.0, |b, k| offered * b / (f64::from(k) + offered * b));
    let wait_probability = blocked / (1.0 - utilisation * (1.0 - blocked));
    let mean_wait = wait_probability / (c * service - arrival);
    let mean_response = mean_wait + 1.0 / service;
    Ok(Mmc { utilisation, wait_probability, mean_wait, mean_response, mean_in_system: arrival * mean_response })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn one_server_is_the_m_m_1_queue() {
        // M/M/1: P(wait) = rho, W = 1 / (mu - lambda), Wq = rho / (mu - lambda).
        for (lambda, mu) in [(1.0, 2.0), (0.9, 1.0), (3.0, 7.5), (0.0, 4.0)] {
            let q = mmc(lambda, mu, 1).unwrap();
            let rho = lambda / mu;
            assert!(close(q.wait_probability, rho), "{lambda} {mu}");
            assert!(close(q.mean_response, 1.0 / (mu - lambda)), "{lambda} {mu}");
            assert!(close(q.mean_wait, rho / (mu - lambda)), "{lambda} {mu}");
        }
    }

    #[test]
    fn erlang_c_matches_the_closed_form() {
        // Two servers, lambda = mu = 1: a = 1, rho = 1/2. P0 = 1 / (1 + a + a^2 / (2! (1 - rho)))
        // = 1/3, C = a^2 / (2! (1 - rho)) P0 = 1/3, Wq = C / (c mu - lambda) = 1/3, W = 4/3.
        let q = mmc(1.0, 1.0, 2).unwrap();
        assert!(close(q.wait_probability, 1.0 / 3.0));
        assert!(close(q.mean_wait, 1.0 / 3.0));
        assert!(close(q.mean_response, 4.0 / 3.0));
        assert!(close(q.mean_in_system, 4.0 / 3.0));
        // Against the textbook sum for c = 1..40 at several loads.
        for servers in 1..=40u32 {
            for rho in [0.1, 0.5, 0.8, 0.95, 0.999] {
                let (mu, c) = (2.0, f64::from(servers));
                let lambda = rho * c * mu;
                let a = lambda / mu;
                let mut term = 1.0;
                let mut sum = 1.0;
                for k in 1..servers {
                    term *= a / f64::from(k);
                    sum += term;
                }
                let last = term * a / c / (1.0 - rho);
                let expected = last / (sum + last);
                let q = mmc(lambda, mu, servers).unwrap();
                assert!((q.wait_probability - expected).abs() < 1e-9, "c={servers} rho={rho}");
            }
        }
    }

    #[test]
    fn a_queue_that_never_settles_or_bad_rates_are_refused() {
        assert_eq!(mmc(2.0, 1.0, 2), Err(PerfError::Saturated { utilisation: 1.0 }));
        assert!(matches!(mmc(-1.0, 1.0, 1), Err(PerfError::InvalidInput { field: "arrival rate", .. })));
        assert!(matches!(mmc(1.0, 0.0, 1), Err(PerfError::InvalidInput { field: "service rate", .. })));
        assert!(matches!(mmc(f64::NAN, 1.0, 1), Err(PerfError::InvalidInput { .. })));
        assert!(matches!(mmc(1.0, 1.0, 0), Err(PerfError::InvalidInput { field: "servers", .. })));
        // Many servers stay finite (no factorials overflow).
        let q = mmc(9_000.0, 1.0, 10_000).unwrap();
        assert!(q.wait_probability.is_finite() && q.wait_probability < 1e-3);
    }
}
