//! Enforcement of [`EmulatorLimits`]: sliding windows per conversation, a token bucket per tenant.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::EmulatorLimits;

/// Which per-conversation windows a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Write,
    Read,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

/// Enforcement of [`EmulatorLimits`]: sliding windows per conversation, a token bucket per tenant.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: EmulatorLimits,
    windows: HashMap<(Class, String, String), VecDeque<Instant>>,
    tenants: HashMap<String, Bucket>,
}

impl RateLimiter {
    pub fn new(limits: EmulatorLimits) -> Self {
        Self {
            limits,
            windows: HashMap::new(),
            tenants: HashMap::new(),
        }
    }

    /// Admits a request (recording it) or says how long until it would be admitted.
    pub fn admit(
        &mut self,
        class: Class,
        tenant: &str,
        key: &str,
        now: Instant,
    ) -> Result<(), Duration> {
        let windows = match class {
            Class::Write => &self.limits.write,
            Class::Read => &self.limits.read,
        };
        let tolerance = self.limits.tolerance;
        let bucket_key = (class, tenant.to_owned(), key.to_owned());
        let mut wait = Duration::ZERO;
        if let Some(arrivals) = self.windows.get(&bucket_key) {
            for &(limit, period) in windows {
                let span = period.saturating_sub(tolerance);
                let counted: Vec<&Instant> = arrivals
                    .iter()
                    .rev()
                    .take_while(|a| now.saturating_duration_since(**a) < span)
                    .collect();
                if limit > 0 && counted.len() >= limit as usize {
                    let oldest = *counted[limit as usize - 1];
                    wait = wait.max((oldest + span).saturating_duration_since(now));
                }
            }
        }
        if let Some(rate) = self.limits.tenant_rate {
            let capacity = f64::from(self.limits.tenant_burst.unwrap_or(rate));
            let rate = f64::from(rate);
            let bucket = self.tenants.entry(tenant.to_owned()).or_insert(Bucket {
                tokens: capacity,
                refreshed: now,
            });
            let elapsed = now
                .saturating_duration_since(bucket.refreshed)
                .as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
            bucket.refreshed = now;
            if bucket.tokens < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - bucket.tokens) / rate));
            } else if wait.is_zero() {
                bucket.tokens -= 1.0;
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        let keep = windows.iter().map(|(l, _)| *l as usize).max().unwrap_or(0);
        if keep > 0 {
            let arrivals = self.windows.entry(bucket_key).or_default();
            arrivals.push_back(now);
            while arrivals.len() > keep {
                arrivals.pop_front();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_lenient_by_the_tolerance_at_the_boundary() {
        let mut limits = EmulatorLimits::teams().tenant_rate(None);
        limits.tolerance = Duration::from_millis(20);
        let mut limiter = RateLimiter::new(limits);
        let t0 = Instant::now();
        for _ in 0..7 {
            assert!(limiter.admit(Class::Write, "t", "c", t0).is_ok());
        }
        let wait = limiter.admit(Class::Write, "t", "c", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(980));
        assert!(
            limiter
                .admit(Class::Write, "t", "c", t0 + Duration::from_millis(980))
                .is_ok()
        );
        assert!(limiter.admit(Class::Read, "t", "c", t0).is_ok());
    }

    #[test]
    fn tenant_bucket_refills_at_the_rate() {
        let mut limiter = RateLimiter::new(EmulatorLimits::off().tenant_rate(Some(10)));
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(
                limiter
                    .admit(Class::Write, "t", &format!("c{i}"), t0)
                    .is_ok()
            );
        }
        assert!(limiter.admit(Class::Write, "t", "x", t0).is_err());
        assert!(limiter.admit(Class::Write, "u", "x", t0).is_ok());
        assert!(
            limiter
                .admit(Class::Write, "t", "x", t0 + Duration::from_millis(100))
                .is_ok()
        );
    }
}
