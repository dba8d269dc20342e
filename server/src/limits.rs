//! Rate limits per API key and per tenant (token buckets, from governor). A request over
//! either gets 429 with `Retry-After`, before it costs the server any work.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Requests a second, with bursts of twice that; `None` turns the limit off.
pub(crate) struct Limits {
    per_key: Option<DefaultKeyedRateLimiter<String>>,
    per_tenant: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

fn limiter(per_s: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    let rate = NonZeroU32::new(per_s)?;
    let burst = NonZeroU32::new(per_s.saturating_mul(2)).unwrap_or(rate);
    Some(RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
}

impl Limits {
    /// `key_per_s` for each key; a tenant's keys together get four times that.
    pub(crate) fn new(key_per_s: u32) -> Self {
        Self {
            per_key: limiter(key_per_s),
            per_tenant: limiter(key_per_s.saturating_mul(4)),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` when the key or its tenant is over its rate.
    pub(crate) fn check(&self, key_id: &str, tenant: &str) -> Result<(), Duration> {
        for (limiter, id) in [(&self.per_key, key_id), (&self.per_tenant, tenant)] {
            if let Some(limiter) = limiter
                && let Err(not_until) = limiter.check_key(&id.to_string())
            {
                return Err(not_until.wait_time_from(self.clock.now()));
            }
        }
        Ok(())
    }

    /// Forgets idle keys, so the tables stay as small as the active set.
    pub(crate) fn prune(&self) {
        for limiter in [&self.per_key, &self.per_tenant].into_iter().flatten() {
            limiter.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_rate_waits_and_others_do_not() {
        let limits = Limits::new(2);
        let admitted = (0..10).filter(|_| limits.check("k1", "t1").is_ok()).count();
        assert_eq!(admitted, 4, "a burst of twice the rate");
        assert!(limits.check("k1", "t1").unwrap_err() > Duration::ZERO);
        assert!(limits.check("k2", "t1").is_ok(), "another key of the tenant has its own bucket");
        let off = Limits::new(0);
        assert!((0..1000).all(|_| off.check("k", "t").is_ok()));
    }
}
