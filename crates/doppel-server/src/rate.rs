//! Requests per second per token: a token bucket each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets keyed by token id (or client address for requests without a valid token).
pub struct RateLimiter {
    per_s: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_s` requests a second on average, up to `burst` at once; `per_s` 0 means no limit.
    pub fn new(per_s: f64, burst: f64) -> RateLimiter {
        RateLimiter { per_s, burst: burst.max(1.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `who`'s bucket; `Err(seconds)` to wait when it is empty.
    pub fn take(&self, who: &str) -> Result<(), u64> {
        if self.per_s <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() * self.per_s < self.burst);
        }
        let (level, at) = buckets.entry(who.to_string()).or_insert((self.burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * self.per_s).min(self.burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / self.per_s).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let limiter = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(limiter.take("a").is_ok());
        }
        assert_eq!(limiter.take("a"), Err(1));
        assert!(limiter.take("b").is_ok(), "buckets are per caller");
        assert!(RateLimiter::new(0.0, 1.0).take("a").is_ok());
    }
}
