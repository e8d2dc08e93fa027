//! Per-client token buckets for the block API, so one client cannot starve the others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Most clients tracked; beyond it, full (idle) buckets are dropped first.
const MAX_CLIENTS: usize = 10_000;

/// Requests per second per client address, with a burst of twice that.
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `rate` requests per second per client; 0 disables the limit.
    pub(crate) fn new(rate: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate),
            burst: 2.0 * f64::from(rate),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client`; false when it has none left.
    pub(crate) fn allow(&self, client: IpAddr) -> bool {
        self.allow_at(client, Instant::now())
    }

    fn allow_at(&self, client: IpAddr, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.refilled(now, rate, burst).tokens < burst);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        *bucket = bucket.refilled(now, self.rate, self.burst);
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }
}

impl Bucket {
    fn refilled(self, now: Instant, rate: f64, burst: f64) -> Bucket {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        Bucket {
            tokens: (self.tokens + elapsed * rate).min(burst),
            at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_per_client() {
        let limiter = RateLimiter::new(10);
        let (a, b) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..20 {
            assert!(limiter.allow_at(a, t0));
        }
        assert!(!limiter.allow_at(a, t0), "burst spent");
        assert!(limiter.allow_at(b, t0), "another client has its own bucket");
        assert!(
            limiter.allow_at(a, t0 + Duration::from_millis(100)),
            "one token back after 0.1 s"
        );
        assert!(!limiter.allow_at(a, t0 + Duration::from_millis(100)));
        assert!(RateLimiter::new(0).allow(a), "0 disables the limit");
    }
}
