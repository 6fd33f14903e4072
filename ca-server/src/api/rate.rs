//! Per-manufacturer rate limits on enrollment: a token bucket per
//! manufacturer code, counted in certificates requested, so that one
//! production line (or a stolen credential) cannot starve the others. A
//! refusal is 429 with Retry-After, before any work is done.

use robotid_verifier::rule::Rule;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::problem::Problem;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by manufacturer. Cheap to clone: clones share the buckets.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

impl RateLimiter {
    /// `per_second` certificates per second per manufacturer, up to `burst`
    /// at once.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes `cost` certificates from `who`'s bucket, or says how long to
    /// wait. A request larger than the burst needs a full bucket.
    pub fn take(&self, who: &str, cost: usize) -> Result<(), Duration> {
        let cost = f64::from(u32::try_from(cost).unwrap_or(u32::MAX)).min(self.burst);
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(who.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (cost - bucket.tokens) / self.per_second,
            ))
        }
    }

    /// [`RateLimiter::take`], as a 429 problem with Retry-After.
    pub fn check(&self, who: &str, cost: usize) -> Result<(), Problem> {
        self.take(who, cost).map_err(|wait| {
            let secs = wait.as_secs().saturating_add(1);
            metrics::counter!("robotid_rate_limited_total").increment(1);
            Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                Rule::RateEnrollment,
                format!(
                    "manufacturer {who} is over its enrollment rate of {} certificates per second (burst {}); retry in {secs} s",
                    self.per_second, self.burst
                ),
            )
            .retry_after(secs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_the_rate_and_caps_at_the_burst() {
        let limiter = RateLimiter::new(10, 3);
        for _ in 0..3 {
            assert!(limiter.take("UBX", 1).is_ok());
        }
        let wait = limiter.take("UBX", 1).err();
        assert!(wait.is_some_and(|w| w <= Duration::from_millis(100)));
        // Other manufacturers have their own buckets.
        assert!(limiter.take("ACME", 3).is_ok());
        // A request bigger than the burst passes on a full bucket only.
        assert!(limiter.take("BIG", 1_000).is_ok());
        assert!(limiter.take("BIG", 1).is_err());
        std::thread::sleep(Duration::from_millis(120));
        assert!(limiter.take("UBX", 1).is_ok());
    }
}
